"""DataParallel: the strategy a fit follows when several ranks train one model.

Every rank holds the whole model and trains on its slice of each global batch; the gradients
are averaged over the ranks before every update, so every rank makes the same update, the one a
single process would make on the whole batch. Around that, what keeps the ranks in step:

* at the start of fit, the ranks check that they agree (model, weight shapes, optimizer, loss,
  metrics, fit's arguments, the callbacks that run on every rank), then rank 0 hands every other
  rank its weights, its optimizer's state, its shuffling generator and the state of a resumed fit;
* the loss and metrics of a report, and the dev evaluation (each rank evaluates its slice), are
  sums over the ranks: every rank sees the same logs and takes the same decisions;
* ``stop_training`` set on any rank stops all of them;
* only rank 0 runs the callbacks that print or write files (``main_process_only``);
* a failure in one rank ends every rank (:mod:`~gpunet.distributed.faults`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json

from .. import backend
from ..callbacks.base import _overrides
from ..training.strategy import Strategy
from .buckets import DEFAULT_BUCKET_BYTES
from .faults import RankMismatchError, abort_on_failure
from .metrics import reduce_metrics
from .sharding import ShardedBatches
from .step import DataParallelStep

__all__ = ["DataParallel"]

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end")
_STARTING = "the start of fit (checking that the ranks agree, then taking rank 0's starting point)"


def _digest(value) -> str:
    text = json.dumps(value, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _config(obj):
    try:
        return {"class": type(obj).__name__, "config": obj.get_config()}
    except (AttributeError, NotImplementedError, TypeError):
        return {"class": type(obj).__name__}


def _all_layers(model):
    """The model's layers, those inside nested models included."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


class DataParallel(Strategy):
    """Data-parallel training over ``communicator``'s ranks (see the module docstring)."""

    def __init__(self, communicator, bucket_bytes: int = DEFAULT_BUCKET_BYTES, overlap: bool = True):
        self.communicator = communicator
        self.rank = communicator.rank
        self.world_size = communicator.size
        self.bucket_bytes = bucket_bytes
        self.overlap = bool(overlap)
        self.last_step = None  # the last step wrapped, for the benchmarks' timings
        self._loop = None  # the fit under way, for where()
        self._phase = None  # what the strategy's own collectives are doing, for where()

    # -- the train step -------------------------------------------------------------------------
    def wrap(self, step):
        """The train-step wrapper (registered with ``add_train_step_wrapper``)."""
        self.last_step = DataParallelStep(step, self)
        return self.last_step

    # -- the loop's hooks ---------------------------------------------------------------------
    def shard(self, batches, evaluation: bool = False):
        return ShardedBatches(batches, self.rank, self.world_size, skip_empty=evaluation)

    def reduce_metrics(self, metrics) -> list:
        with self._doing("a report, summing the loss and metrics over the ranks"):
            return reduce_metrics(self.communicator, metrics)

    def gather_batches(self, parts: list) -> list:
        """Every rank's per-batch results (one object all-gather), interleaved batch by batch in
        rank order: the slices of each batch are contiguous and in rank order (``sharding.py``)."""
        every = self.communicator.allgather_object(parts)
        if any(len(theirs) != len(parts) for theirs in every):
            raise RankMismatchError("the ranks predicted different numbers of batches: "
                                    + ", ".join(f"rank {r}: {len(theirs)}" for r, theirs in enumerate(every)))
        return [theirs[i] for i in range(len(parts)) for theirs in every]

    def any(self, flag: bool) -> bool:
        with self._doing("agreeing on stop_training"):
            return bool(self.communicator.allreduce_values([1.0 if flag else 0.0])[0] > 0)

    def agrees_per_batch(self, callbacks) -> bool:
        return any(_overrides(cb, hook) for cb in callbacks if not cb.main_process_only for hook in _BATCH_HOOKS)

    @contextlib.contextmanager
    def guard(self):
        try:
            with abort_on_failure(self.communicator):
                yield
        except KeyboardInterrupt:  # the step's all-reduces under way will never be waited for
            watchdog = getattr(self.communicator, "watchdog", None)
            if watchdog is not None:
                watchdog.forget()
            raise
        finally:
            self._loop = self._phase = None

    # -- where this rank stands (the collective watchdog's message) ---------------------------
    @contextlib.contextmanager
    def _doing(self, phase: str):
        self._phase = phase
        try:
            yield
        finally:
            self._phase = None

    def where(self) -> str:
        """This rank's place: in fit, the epoch and step (and what the strategy is doing), else
        "outside fit". Read by the watchdog's thread, only when a collective is late."""
        loop, phase = self._loop, self._phase
        if loop is None:
            return "outside fit"
        if phase is _STARTING:
            return phase
        train = loop.train
        steps = f" of {loop.steps}" if loop.steps else ""
        text = f"epoch {loop.state.epoch + 1}, step {getattr(train, 'position', '?')}{steps}"
        if loop.dev is not None and getattr(loop.dev, "active", False):
            text += f", dev evaluation batch {loop.dev.position}"
        return text if phase is None else f"{text}, {phase}"

    def average_non_trainable(self, model) -> None:
        """Average the state that training updates without gradients (BatchNormalization's moving
        statistics, which each rank updates from its own slice) over the ranks: the weights a
        trainable layer created non-trainable. A frozen layer's weights do not change, and are
        left as they are (an average of equal values may still move their last bit)."""
        with self._doing("a report, averaging the moving statistics over the ranks"):
            for weight in [w for layer in model.layers if layer.trainable for w in layer._non_trainable_variables]:
                if weight.data.dtype.kind == "f":
                    self.communicator.allreduce(weight.data)
                    weight.data /= self.world_size

    def start(self, loop, initial_epoch: int, resume):
        self._loop = loop
        with self._doing(_STARTING):
            return self._start(loop, initial_epoch, resume)

    def _start(self, loop, initial_epoch: int, resume):
        model = loop.model
        if model.overrides_train_step():
            raise RankMismatchError(
                f"{type(model).__name__} overrides train_step: a data-parallel fit averages the gradients inside "
                "gpunet's own train step, so a custom train_step would train each rank on its own; call "
                "super().train_step(data) or train in one process")
        batch_size = getattr(getattr(loop.train, "batches", None), "batch_size", None)
        if batch_size is not None and batch_size < self.world_size:
            raise RankMismatchError(f"batch_size={batch_size} is the global batch, split over {self.world_size} "
                                    f"ranks: it must be at least {self.world_size}")
        self._check_synchronized_slices(model, loop, batch_size)
        self.check_agreement(self.describe(loop))
        comm = self.communicator
        optimizer = model.optimizer
        shared = None
        if self.rank == 0:
            shared = {"initial_epoch": initial_epoch, "resume": resume, "optimizer": optimizer.get_state(),
                      "host_rng": backend.get_rng_state()["host"]}
        shared = comm.broadcast_object(shared, root=0)
        if self.rank != 0:
            optimizer.set_state(shared["optimizer"])
            backend.set_rng_state({"host": shared["host_rng"]})
        for weight in model.weights:
            comm.broadcast(weight.data, root=0)
        return shared["initial_epoch"], shared["resume"]

    def _check_synchronized_slices(self, model, loop, batch_size) -> None:
        """Synchronized batch normalization all-reduces inside every rank's forward and backward
        pass, so every rank must take every step with samples of its own: a last batch smaller
        than the number of ranks (which leaves some rank without a sample) is refused, on every
        rank alike (the numbers are the same everywhere)."""
        if not any(getattr(layer, "synchronized", False) and layer.trainable for layer in _all_layers(model)):
            return
        samples = getattr(getattr(loop.train, "batches", None), "samples", None)
        if samples is None or batch_size is None:
            raise RankMismatchError("BatchNormalization(synchronized=True) under several ranks needs in-memory "
                                    "arrays (the size of every batch known before training)")
        last = samples % batch_size
        if 0 < last < self.world_size:
            raise RankMismatchError(
                f"BatchNormalization(synchronized=True): the last batch of {samples} samples in batches of "
                f"{batch_size} holds {last}, fewer than the {self.world_size} ranks, which would leave a rank "
                "without a sample in a step whose statistics every rank must share; choose a batch_size or a "
                "number of samples that leaves a last batch of 0 or at least as many samples as ranks")

    # -- do the ranks agree? ------------------------------------------------------------------
    def describe(self, loop) -> dict:
        """Digests of what every rank must have alike, by part."""
        model = loop.model
        train = loop.train
        dev = loop.dev
        samples = getattr(getattr(train, "batches", None), "samples", None)
        parts = {
            "model configuration": model.get_config(),
            "weight shapes": [(w.name, tuple(w.shape), str(w.data.dtype)) for w in model.weights],
            "optimizer": _config(model.optimizer),
            "loss and metrics": [_config(model.loss), *[_config(m) for m in model.compiled_metrics]],
            "fit arguments": {"epochs": loop.epochs, "shuffle": loop.shuffle,
                              "validations_per_epoch": loop.evaluations, "has_dev": loop.has_dev,
                              "batch_size": getattr(getattr(train, "batches", None), "batch_size", None)},
            # arrays: their sizes (the steps follow from them and the batch size); streams: their steps
            "data length": {"samples": samples, "steps": loop.steps if samples is None else None,
                            "dev_samples": getattr(getattr(dev, "batches", None), "samples", None)},
            "callbacks": [type(cb).__name__ for cb in loop.user_callbacks if not cb.main_process_only],
            "backend": [backend.name(), str(backend.floatx())],
        }
        return {key: _digest(value) for key, value in parts.items()}

    def check_agreement(self, digests: dict) -> None:
        """Raise :class:`RankMismatchError` on every rank when any rank's digests differ from
        rank 0's, naming the parts and the ranks."""
        every = self.communicator.allgather_object(digests)
        differences = []
        for rank, theirs in enumerate(every[1:], 1):
            parts = [key for key in every[0] if theirs.get(key) != every[0][key]]
            if parts:
                differences.append(f"rank {rank} differs from rank 0 in: {', '.join(parts)}")
        if differences:
            raise RankMismatchError(
                "the ranks of this data-parallel fit were not started alike (" + "; ".join(differences) + "). Every rank "
                "must build the same model, compile it with the same optimizer, loss and metrics, and call fit with "
                "the same data and arguments")
