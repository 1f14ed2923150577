"""TensorBoard: the logs of fit as TensorBoard event files (scalars, weight histograms, the model)."""

from __future__ import annotations

import contextlib

import itertools
import numbers
import os
import time

import numpy

from .. import backend
from .base import EpochEndCallback, check_folder

__all__ = ["TensorBoard"]

_INSTALL = 'pip install "gpunet[tensorboard]"'
_FILES = itertools.count()  # numbers event files apart: their names hold the time only to the second
_BINS = 30  # histogram buckets, as TensorFlow's summaries use


def _tensorboardx():
    """tensorboardX's event file writer, summary builders and protocol buffers, or an ImportError
    that says what to install."""
    try:
        from tensorboardX import summary  # noqa: PLC0415 - an optional extra
        from tensorboardX.event_file_writer import EventsWriter  # noqa: PLC0415
        from tensorboardX.proto import event_pb2, summary_pb2, tensor_pb2  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(f"gpunet.callbacks.TensorBoard writes event files with the tensorboardX package, which is not "
                          f"installed: {_INSTALL} (or pip install tensorboardX)") from exc
    return summary, EventsWriter, event_pb2, summary_pb2, tensor_pb2


class _EventFile:
    """One event file in ``folder``, written synchronously: what ``flush`` returns from is in
    the file (tensorboardX's SummaryWriter hands events to a thread, and its flush does not
    wait for that thread, so an interrupted fit could lose its last epochs)."""

    def __init__(self, folder: str):
        self.summary, events_writer, self.event_pb2, self.summary_pb2, self.tensor_pb2 = _tensorboardx()
        os.makedirs(folder, exist_ok=True)
        self._file = events_writer(os.path.join(folder, "events"), f".{os.getpid()}.{next(_FILES)}.gpunet")

    def write(self, summary, step: int) -> None:
        self._file.write_event(self.event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.write(self.summary.scalar(tag, value), step)

    def histogram(self, tag: str, values, step: int) -> None:
        self.write(self.summary.histogram(tag, values, bins=_BINS), step)

    def model_graph(self, model_json: str) -> None:
        """The model's Keras JSON as the string tensor ``keras`` that TensorBoard's Graphs tab
        draws as a conceptual graph (what Keras writes for its models)."""
        summary_pb2 = self.summary_pb2
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="graph_keras_model", content=b"1"))
        tensor = self.tensor_pb2.TensorProto(dtype="DT_STRING", string_val=[model_json.encode("utf-8")])
        self.write(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="keras", metadata=metadata, tensor=tensor)]), 0)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _number(value):
    """A loggable float, or None for values that are not numbers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:
            value = float(value)  # 0-d arrays, one-element tensors
        except (TypeError, ValueError):
            return None
    return float(value)


class TensorBoard(EpochEndCallback):
    """Write fit's logs for TensorBoard (``tensorboard --logdir logs``), with Keras's names.

    At the end of every epoch each logged value ``name`` is written as the scalar
    ``epoch_<name>`` at step ``epoch`` (0-based): training values (``epoch_loss``,
    ``epoch_accuracy``, ``epoch_learning_rate``, ``epoch_epoch_time``...) under
    ``log_dir/train``, dev values under ``log_dir/validation`` without their ``val_`` prefix
    (``val_loss`` is ``epoch_loss`` there), so TensorBoard draws train and dev on one chart. Each
    dev evaluation is also written as ``evaluation_<name>_vs_iterations`` at the optimizer's step
    count, as Keras does; with ``fit(validations_per_epoch=K)`` that is the chart that shows all
    K evaluations of an epoch (the ``epoch_*`` scalars take the epoch's last report).

    Args:
        log_dir: the folder of the event files (``train/`` and ``validation/`` under it).
        histogram_freq: every this many epochs (from the first, 0-based ``epoch % freq == 0``),
            a histogram of each weight, tagged ``<layer>/<weight>/histogram``; 0 for none.
        write_graph: write the model's architecture (its Keras JSON), which TensorBoard's
            Graphs tab draws.
        write_steps_per_second: also log ``steps_per_second`` (per epoch, and per batch when
            ``update_freq`` asks for batch values).
        update_freq: ``"epoch"``; or ``"batch"`` (= 1) or a number N: also write the running
            training values as ``batch_<name>`` every N batches, at the global batch count.
        write_images, profile_batch, embeddings_freq, embeddings_metadata: Keras's; gpunet has no
            weight images, profiler or embedding layers, so only their defaults (False, 0, 0,
            None) are accepted.

    The event files are written by the ``tensorboardX`` package: ``pip install "gpunet[tensorboard]"``.
    A resumed fit (a checkpoint, or ``BackupAndRestore``) adds new event files to the same folders;
    its batch count continues where the checkpoint stopped.

    Example::

        model.fit(x, y, epochs=10, validation_data=(x_dev, y_dev),
                  callbacks=[gpunet.callbacks.TensorBoard("logs/run1", histogram_freq=1)])
    """

    main_process_only = True  # prints or writes files: rank 0 only in a data-parallel fit

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise TypeError(f"log_dir must be a folder path (str or os.PathLike), got {log_dir!r}")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, numbers.Integral) or histogram_freq < 0:
            raise ValueError(f"histogram_freq must be an integer >= 0 (0: no histograms), got {histogram_freq!r}")
        for name, value in (("write_graph", write_graph), ("write_steps_per_second", write_steps_per_second)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, numbers.Integral)
                                       or update_freq < 1):
            raise ValueError(f"update_freq must be 'epoch', 'batch' or a positive number of batches, got {update_freq!r}")
        unsupported = {"write_images": (write_images, False), "profile_batch": (profile_batch, 0),
                       "embeddings_freq": (embeddings_freq, 0), "embeddings_metadata": (embeddings_metadata, None)}
        for name, (value, default) in unsupported.items():
            if not (value is default or (value == default and type(value) is type(default))):
                raise ValueError(f"TensorBoard: {name}={value!r} is not supported by gpunet (no weight images, profiler "
                                 f"or embedding layers); leave it at its default {default!r}")
        _tensorboardx()  # the missing package is reported now, not when training begins
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = write_graph
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq if update_freq == "epoch" else int(update_freq)
        self._writers: dict = {}
        self._training = False
        self._global_batch = 0
        self._pending = None  # an epoch's report not yet written (an earlier one of validations_per_epoch)
        self._epoch_start = self._batch_start = 0.0

    # -- writers --------------------------------------------------------------------------------
    def _check_folder(self, name: str) -> None:
        """A folder a checkpoint could not be saved in is refused before anything is created."""
        check_folder(self.model, os.path.join(self.log_dir, name),
                     f"TensorBoard cannot write its event files under log_dir {self.log_dir!r}")

    def _writer(self, name: str):
        if name not in self._writers:
            self._check_folder(name)
            self._writers[name] = _EventFile(os.path.join(self.log_dir, name))
        return self._writers[name]

    def _close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def __del__(self):
        with contextlib.suppress(Exception):  # a fit that raised left its files open: close them at last
            self._close()

    def _scalars(self, writer_name: str, values: dict, step: int) -> None:
        writer = None
        for name, value in values.items():
            value = _number(value)
            if value is not None:
                writer = writer or self._writer(writer_name)
                writer.scalar(name, value, step)

    # -- fit's hooks ----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._close()  # files a fit that raised left open (its on_train_end never ran)
        for name in ("train", "validation"):  # a folder that cannot be written is refused before training
            self._check_folder(name)
        self._training = True
        self._global_batch = 0
        self._pending = None
        if self.write_graph:
            self._writer("train").model_graph(self.model.to_json())

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._write_pending(histograms=True)
        self._epoch_start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if self.write_steps_per_second and self.update_freq != "epoch":
            self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        self._global_batch += 1
        if self.update_freq == "epoch" or self._global_batch % self.update_freq:
            return
        values = {f"batch_{name}": logs[name] for name in (logs or {})}
        if self.write_steps_per_second:
            values["batch_steps_per_second"] = 1.0 / max(time.perf_counter() - self._batch_start, 1e-9)
        self._scalars("train", values, self._global_batch)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and logs:
            self._scalars("validation", {f"evaluation_{k}_vs_iterations": v for k, v in logs.items()}, optimizer.iterations)
        if getattr(self.model, "_fit", None) is None:  # model.evaluate(callbacks=[...]) outside a running fit
            self._training = False
            self._close()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.write_steps_per_second:
            logs["steps_per_second"] = self._batches_done / max(time.perf_counter() - self._epoch_start, 1e-9)
        self._pending = (epoch, logs)
        if self.ends_epoch() or self.model.stop_training:
            self._write_pending(histograms=True)

    def on_train_end(self, logs=None):
        self._write_pending(histograms=False)  # the weights may have been restored since that report
        self._training = False
        self._close()

    def _write_pending(self, histograms: bool) -> None:
        if self._pending is None:
            return
        epoch, logs = self._pending
        self._pending = None
        self._scalars("train", {f"epoch_{k}": v for k, v in logs.items() if not k.startswith("val_")}, epoch)
        self._scalars("validation", {f"epoch_{k[4:]}": v for k, v in logs.items() if k.startswith("val_")}, epoch)
        if histograms and self.histogram_freq and epoch % self.histogram_freq == 0:
            writer = self._writer("train")
            for weight in self.model.weights:
                values = backend.to_host(weight.data)
                values = values[numpy.isfinite(values)]  # a diverged weight: its finite part
                if values.size:
                    writer.histogram(f"{weight.name}/histogram", values, epoch)
        for writer in self._writers.values():
            writer.flush()

    # -- state and configuration ----------------------------------------------------------------
    def get_state(self) -> dict:
        return {"global_batch": self._global_batch}

    def set_state(self, state: dict) -> None:
        self._global_batch = int(state.get("global_batch", 0))

    def get_config(self) -> dict:
        return {"log_dir": self.log_dir, "histogram_freq": self.histogram_freq, "write_graph": self.write_graph,
                "write_steps_per_second": self.write_steps_per_second,
                "update_freq": self.update_freq}
