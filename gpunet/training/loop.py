"""The epoch loop: the course's TRAIN procedure behind Keras's ``fit``.

The course's pseudo-code, and where each line lives::

    bestdev = -inf
    for epoch = 1..E:                         FitLoop.run: for epoch in range(initial_epoch, epochs)
        shuffle T                             order = train.shuffled_order()   (data.py)
        for (x, y) in T:                      for xb, yb in train.iterate(order)
            loss = L(f(x; theta), y)          TrainStep.gradients: forward, loss, backward  (step.py)
            theta = theta - lr * grad(loss)   TrainStep.apply: optimizer.apply_gradients
        devacc = EVALUATE(f, D)               Evaluation.run(dev)   (K times per epoch if asked; evaluation.py)
        if devacc > bestdev: keep theta       BestWeights.update                               (evaluation.py)
    return best theta                         BestWeights.restore   (restore_best: on unless gpunet.config says)

Every argument is checked when the loop is built, before anything changes; ``run`` then trains.
What a checkpoint needs to resume the loop exactly is its :class:`~gpunet.training.state.FitState`.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Mapping

import numpy

from .. import config
from ..callbacks.base import LazyLogs
from ..callbacks.callback_list import CallbackList
from ..callbacks.history import History
from ..callbacks.progbar import ProgbarLogger
from ..data import check_batch_size, describe, input_kind
from ..data.pydataset import dataset_length
from ..interrupts import handle_interrupts
from ..saving import check_save_path
from ..data.structure import batch_count, pack_x_y_sample_weight, slice_nest
from .arguments import (check_bool, check_callbacks, check_compiled, check_data, check_int, check_steps,
                        check_stream_arguments, device_batches, needs_targets, resolve_verbose, stream_batches,
                        unpack_validation, validation_schedule)
from .compiled import flatten_logs
from .evaluation import BestWeights, dev_monitor
from .state import FitState
from .strategy import get_strategy

__all__ = ["FitLoop", "NonFiniteLossWarning", "report_steps"]


class NonFiniteLossWarning(UserWarning):
    """The training loss became NaN or infinite (learning rate too large, or bad data)."""


def report_steps(steps: int, evaluations: int) -> list:
    """``evaluations`` evenly spaced step counts in [1, steps], the last one ``steps``."""
    return sorted({max(1, round(steps * (i + 1) / evaluations)) for i in range(evaluations)})


class FitLoop:
    """One call of ``fit``: its checked arguments, its data on the device, and its state.

    Keras 3 semantics: ``epochs`` is the index of the last epoch (training runs from
    ``initial_epoch`` to ``epochs``); ``validation_split`` takes the last samples, before
    shuffling; ``validation_data=(x_dev, y_dev)`` takes precedence over it; every epoch reshuffles
    (sampling without replacement) from gpunet's seeded generator when ``shuffle`` is True.

    ``x`` may also be a generator, an iterable or a PyDataset yielding ``(x, y)`` batches (and
    ``validation_data`` likewise): an epoch is ``steps_per_epoch`` batches, or a whole pass when
    it is None; a PyDataset's batch order is shuffled, a generator's is its own.
    """

    def __init__(self, model, x, y, batch_size=None, sample_weight=None, class_weight=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
                 validation_data=None, shuffle=True, initial_epoch=0, validation_freq=1, validations_per_epoch=1,
                 restore_best=None, validation_batch_size=None, best_checkpoint=None, steps_per_epoch=None,
                 validation_steps=None):
        check_compiled(model, "fit")
        self.model = model
        self.strategy = strategy = get_strategy()  # one process, or this rank of a data-parallel job
        streaming = input_kind(x) != "array"
        dev_streaming = validation_data is not None and input_kind(validation_data) != "array"
        steps_per_epoch = check_steps(steps_per_epoch, "steps_per_epoch", x)
        validation_steps = check_steps(validation_steps, "validation_steps", validation_data, "validation_data")
        if streaming or dev_streaming:
            self._check_streams(x, y, batch_size, validation_data, validation_split, validation_batch_size)
        batch_size = check_batch_size(batch_size)
        self.epochs = check_int(epochs, "epochs", 0)
        self.initial_epoch = check_int(initial_epoch, "initial_epoch", 0)
        self.evaluations = check_int(validations_per_epoch, "validations_per_epoch", 1)
        self.validates = validation_schedule(validation_freq)
        self.verbose = resolve_verbose(verbose) if strategy.is_main else 0  # only the main process prints
        self.shuffle = check_bool(shuffle, "shuffle")
        self.restore_best = config.restore_best() if restore_best is None else check_bool(restore_best, "restore_best")
        if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
        validation_batch_size = check_batch_size(validation_batch_size, "validation_batch_size", max(batch_size, 512))
        self.user_callbacks = check_callbacks(callbacks)
        self.best_checkpoint = None if best_checkpoint is None else \
            check_save_path(best_checkpoint) if strategy.is_main else best_checkpoint  # rank 0 writes it
        if self.best_checkpoint is not None and validation_data is None and not validation_split:
            raise ValueError("best_checkpoint needs dev data: pass validation_data or validation_split")
        if streaming:
            self._check_stream_epochs(x, steps_per_epoch)
            self.train = stream_batches(model, x, "x", steps_per_epoch, shuffle=self.shuffle,
                                        continuing=steps_per_epoch is not None)
        else:
            x, y, sample_weight = check_data(model, x, y, sample_weight, targets=needs_targets(model) or y is not None,
                                             class_weight=class_weight)
        if streaming and (sample_weight is not None or class_weight is not None):
            raise ValueError(f"sample_weight and class_weight apply to arrays; x is {describe(x)}: yield "
                             "(x, y, sample_weight) batches instead")
        dev = None
        if validation_data is not None and not dev_streaming:
            x_dev, y_dev, w_dev = unpack_validation(validation_data)
            dev = check_data(model, x_dev, y_dev, w_dev, ("validation_data x", "validation_data y",
                                                           "validation_data sample_weight"),
                             targets=needs_targets(model) or y_dev is not None)
        elif validation_split and validation_data is None:
            samples = batch_count(x)
            split_at = int(math.ceil(samples * (1 - validation_split)))
            if split_at >= samples or split_at == 0:
                raise ValueError(f"validation_split={validation_split} leaves no samples for training or for validation out of {samples}")
            dev = slice_nest((x, y, sample_weight), split_at, samples)
            x, y, sample_weight = slice_nest((x, y, sample_weight), 0, split_at)
        selects = self.restore_best or self.best_checkpoint is not None  # fit itself picks weights by the dev score
        if selects and dev is not None and batch_count(dev[0]) < 100:
            warnings.warn(f"the dev set of {batch_count(dev[0])} sample(s) is too small to select a model reliably (fewer than "
                          "100): ties on the dev score are broken by dev loss, but prefer a larger dev set", stacklevel=3)

        if not streaming:
            self.train = device_batches(model, x, y, batch_size, sample_weight)
        self.streams = [self.train] if streaming else []  # told the epoch, for their messages
        self.train = strategy.shard(self.train)
        self.steps = self.train.steps  # None: until the data end
        if self.steps is not None:
            self.evaluations = min(self.evaluations, self.steps)  # at most one dev evaluation per step
        self.dev = None
        if dev_streaming:
            self._check_dev_generator(validation_data, validation_steps)
            self.dev = stream_batches(model, validation_data, "validation_data", validation_steps)
            self.streams.append(self.dev)
        elif dev is not None:
            self.dev = device_batches(model, dev[0], dev[1], validation_batch_size, dev[2])
        if self.dev is not None:
            self.dev = strategy.shard(self.dev, evaluation=True)
        self.has_dev = self.dev is not None
        self.history = History()
        train_keys = model.compiled_outputs.log_names() if model.compiled_outputs.built else ["loss"]
        log_keys = list(train_keys)
        log_keys += [f"val_{k}" for k in log_keys] if self.has_dev else []
        log_keys += ["learning_rate", "epoch_time"]
        for cb in self.user_callbacks:
            log_keys += [k for k in cb.log_keys_added(model) if k not in log_keys]
        params = {"epochs": self.epochs, "steps": self.steps, "batch_size": None if streaming else batch_size,
                  "verbose": self.verbose,
                  "validations_per_epoch": self.evaluations, "do_validation": self.has_dev, "log_keys": log_keys,
                  "batch_log_keys": list(train_keys)}
        self.callbacks = CallbackList(
            ([ProgbarLogger(self.verbose)] if self.verbose else []) + self.user_callbacks + [self.history],
            model=model, main_process=strategy.is_main, **params,
        )
        self.monitor, mode = dev_monitor(model)
        self.best = BestWeights(model.weights, self.monitor, mode)
        self.state = FitState(self.best, self.user_callbacks)
        self.held = None  # which report's weights the model holds after a restore

    # -- what a generator, an iterable or a PyDataset cannot do ----------------------------------
    @staticmethod
    def _check_streams(x, y, batch_size, validation_data, validation_split, validation_batch_size):
        """What a stream carries itself (targets, batch size) must not be given beside it."""
        if input_kind(x) != "array":
            check_stream_arguments(x, y, batch_size)
            if validation_split and validation_data is None:
                raise ValueError(f"validation_split needs arrays (it takes their last samples), but x is {describe(x)}: "
                                 "pass validation_data instead")
        if validation_data is not None and input_kind(validation_data) != "array" and validation_batch_size is not None:
            raise ValueError(f"validation_batch_size must be None when validation_data is "
                             f"{describe(validation_data)}: its batches have their own size")

    def _check_stream_epochs(self, x, steps_per_epoch) -> None:
        """Refuse, before reading anything, the epochs and evaluations the data cannot feed."""
        kind = input_kind(x)
        epochs = self.epochs - self.initial_epoch
        if kind == "iterator" and steps_per_epoch is None and epochs > 1:
            raise ValueError(
                f"x is a generator, which can be read only once: with steps_per_epoch=None its first epoch runs until "
                f"it is exhausted, so epochs {self.initial_epoch + 2}..{self.epochs} would have no data. Pass "
                "steps_per_epoch (with a generator that loops over its data), a re-iterable object, or a "
                "gpunet.utils.PyDataset")
        steps = steps_per_epoch if steps_per_epoch is not None else dataset_length(x) if kind == "pydataset" else None
        if steps is None and self.evaluations > 1:
            raise ValueError(f"validations_per_epoch={self.evaluations} needs epochs of a known length, but x is "
                             f"{describe(x)} without steps_per_epoch: pass steps_per_epoch, or a gpunet.utils.PyDataset")

    def _check_dev_generator(self, dev, validation_steps) -> None:
        """A generator without validation_steps is exhausted by its first evaluation: refuse more."""
        if input_kind(dev) != "iterator" or validation_steps is not None:
            return
        evaluations = sum(bool(self.validates(e)) for e in range(self.initial_epoch, self.epochs)) * self.evaluations
        if evaluations > 1:
            raise ValueError(
                f"validation_data is a generator, which can be read only once, but fit would evaluate on it "
                f"{evaluations} times: pass validation_steps (with a generator that loops over its data), a "
                "re-iterable object, or a gpunet.utils.PyDataset")

    # -- pieces of the loop ---------------------------------------------------------------------
    def _train_step(self):
        """``(step(x, y), logs(), reset(), report_logs())``: the model's own ``train_step`` when it
        overrides it (Keras 3), else the (possibly wrapped) :class:`~gpunet.training.step.TrainStep`.
        ``logs()`` are the running values for batch callbacks; ``report_logs()`` those of a report
        (a plain dict; over several processes, their combined values)."""
        model = self.model
        if model.overrides_train_step():
            last = {}

            def step(xb, yb, wb):
                nonlocal last
                last = model.train_step(pack_x_y_sample_weight(xb, yb, wb))
                if not isinstance(last, Mapping):
                    raise TypeError(f"train_step must return a dict of logs, got {type(last).__name__}")
                last = flatten_logs(last)

            def logs():  # lazy: a value is read (a device sync) only when a callback or a report reads it
                return last if isinstance(last, LazyLogs) else LazyLogs({key: (lambda v=value: v) for key, value in last.items()})

            return step, logs, model.reset_metrics, lambda: {key: float(value) for key, value in logs().items()}
        announce = (lambda text: print(text, flush=True)) if self.verbose else None
        step = model.make_train_step(announce=announce)
        return step, step.logs, step.reset, step.report_logs

    def restored(self, record: dict) -> None:
        """Called by the model when weights of an earlier report are put back (by fit or a callback)."""
        self.held = record

    def _warn_non_finite(self, logs, epoch) -> bool:
        loss = logs.get("loss")  # a model's own train_step may log other names (a GAN's d_loss, g_loss)
        if loss is not None and not math.isfinite(loss):
            warnings.warn(
                f"the training loss is {logs['loss']} at epoch {epoch + 1}: the learning rate may be "
                "too large, or the data hold extreme values (TerminateOnNaN stops training here)",
                NonFiniteLossWarning,
                stacklevel=4,
            )
            return True
        return False

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> History:
        with self.strategy.guard():  # several processes: a failure in one ends them all
            return self._run()

    def _run(self) -> History:
        model, callbacks, state, strategy = self.model, self.callbacks, self.state, self.strategy
        optimizer = model.optimizer
        try:
            for cb in callbacks:  # a backup of an interrupted fit (BackupAndRestore) says where to start
                self.initial_epoch = cb.resume_epoch(self.initial_epoch)
        except BaseException:
            self._refused_before_training(None)
            self._close_data()
            raise
        resume = model.take_resume_state()
        self.initial_epoch, resume = strategy.start(self, self.initial_epoch, resume)
        restore_callbacks = state.resume(resume, self.initial_epoch)
        step, running, reset_running, report_logs = self._train_step()
        model.stop_training = False
        wants_batch_end = bool(callbacks.wants["on_train_batch_end"])
        agree_per_batch = strategy.agrees_per_batch(self.user_callbacks)
        warned = False
        began = updated = False
        logs: dict = {}

        def report(epoch, complete, validate_now, start):
            """A report: the running training values, a dev evaluation, best-on-dev, on_epoch_end."""
            nonlocal logs, warned
            state.complete = complete
            logs = report_logs()
            improved = False
            if validate_now:
                callbacks.on_test_begin()
                dev_logs = model.make_evaluation(reduce=strategy.reduce_metrics).run(self.dev, callbacks)
                callbacks.on_test_end(dev_logs)
                logs.update((f"val_{k}", v) for k, v in dev_logs.items())
                improved = self.best.update(epoch, logs, model.report_is_sound(logs))
            logs["learning_rate"] = optimizer.learning_rate
            logs["epoch_time"] = time.perf_counter() - start
            if not warned:
                warned = self._warn_non_finite(logs, epoch)
            callbacks.on_epoch_end(epoch, logs)
            model.stop_training = strategy.any(model.stop_training)
            if improved and self.best_checkpoint is not None and strategy.is_main:
                model.save(self.best_checkpoint)  # after the callbacks, so the file holds their new state

        if resume and not getattr(self.train, "resumes_exactly", True):
            warnings.warn("x is a generator (or a stream read across epochs), which cannot be rewound: the resumed fit "
                          "takes the batches that come next, not those an uninterrupted fit would have seen",
                          stacklevel=3)
        model.attach_fit(self)
        try:
            with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"), handle_interrupts(), \
                    model.host_parallelism():
                callbacks.on_train_begin()
                began = True
                if restore_callbacks is not None:
                    restore_callbacks()
                for epoch in range(self.initial_epoch, self.epochs):
                    optimizer.epoch = epoch
                    for stream in self.streams:
                        stream.epoch = epoch
                    state.epoch, state.complete = epoch, False
                    callbacks.on_epoch_begin(epoch)
                    reset_running()
                    start = time.perf_counter()
                    validate_now = self.has_dev and self.validates(epoch)
                    # steps unknown (a stream without steps_per_epoch): one report, when the data end
                    report_at = report_steps(self.steps, self.evaluations if validate_now else 1) if self.steps else [0]
                    order = self.train.shuffled_order() if self.shuffle else None
                    i = -1
                    for i, (xb, yb, wb) in enumerate(self.train.iterate(order)):
                        callbacks.call_batch("on_train_batch_begin", i, None)
                        step(xb, yb, wb)
                        updated = True
                        if wants_batch_end:
                            callbacks.call_batch("on_train_batch_end", i, running())
                        if agree_per_batch:
                            model.stop_training = strategy.any(model.stop_training)
                        if i + 1 != report_at[0] and not model.stop_training:
                            continue
                        report_at.pop(0)
                        report(epoch, i + 1 == self.steps, validate_now, start)
                        if model.stop_training:
                            break
                    if report_at and not model.stop_training:  # the data ended before the epoch's last report
                        self._end_of_data(epoch, i + 1)
                        if i >= 0:
                            report(epoch, self.steps is None, validate_now, start)
                    if model.stop_training:
                        break
                self._finish(logs)
        except KeyboardInterrupt:
            if began:  # Ctrl-C: keep what the run earned and close its files, as its end would have, then stop
                self._finish(logs, interrupted=True)
            if not updated:
                self._refused_before_training(resume)
            raise
        except BaseException:
            if not updated:  # refused before training (a callback's check): the resumption is still to come
                self._refused_before_training(resume)
            raise
        finally:
            model.detach_fit(self)
            self._close_data()
            if began:
                self._conclude()
        return self.history

    def _close_data(self) -> None:
        self.train.close()
        if self.dev is not None:
            self.dev.close()

    def _refused_before_training(self, resume) -> None:
        """A fit that stops before its first update changes nothing: a checkpoint's resumption is
        handed back for the corrected call, and a backup loaded into the model is taken out again
        (``undo_resume``: a callback refused to start after BackupAndRestore had loaded it)."""
        self.model.hand_back_resume_state(resume)
        for cb in self.callbacks:
            cb.undo_resume()

    def _end_of_data(self, epoch, taken: int) -> None:
        """x ended before the epoch's planned steps: warn, as Keras does, and stop training."""
        if self.steps is None:
            return
        warnings.warn(f"x ran out of data after {taken} of the {self.steps} steps of epoch {epoch + 1}: training "
                      "stops here. A generator must yield steps_per_epoch * epochs batches (loop over the data)",
                      stacklevel=4)
        self.model.stop_training = True

    def _finish(self, logs, interrupted: bool = False) -> None:
        """The end of training: fit's best-on-dev weights put back, then ``on_train_end``. After a
        Ctrl-C, an error in a callback's ``on_train_end`` is reported and the interrupt goes on."""
        model = self.model
        if self.restore_best and self.has_dev:
            if self.best.epoch is not None:
                model.restore_weights(self.best.copies(), **self.best.record(), by="fit")
            elif self.history.epoch:
                warnings.warn("fit: no dev report had finite losses and weights, so there are no best weights to "
                              "restore; the model keeps its last weights", stacklevel=4)
        if not interrupted:
            self.callbacks.on_train_end(logs)
            return
        try:
            self.callbacks.on_train_end(logs)
        except Exception as exc:  # noqa: BLE001 - the interrupt must win
            warnings.warn(f"fit was interrupted, and then on_train_end failed: {type(exc).__name__}: {exc}", stacklevel=4)

    def _conclude(self) -> None:
        """history.best: the report whose weights the model holds (when fit or a callback put
        them back), else fit's best dev report. With ``verbose``, one line says which weights the
        model holds (and ``evaluate`` will score): the restored epoch's, or, when fit does not
        restore, the last epoch's, naming the best one."""
        if self.held is not None:
            self.history.best = {**self.held, "restored": True}
            if self.verbose:
                held = self.held
                value = f"best {held['monitor']} {held['value']:.4f}" if held.get("value") is not None else "no improvement seen"
                print(f"Restored the weights of epoch {held['epoch'] + 1} ({value}, chosen by {held['by']})", flush=True)
        else:
            record = self.best.record()
            self.history.best = None if record is None else {**record, "restored": False}
            if self.verbose and not self.restore_best and record is not None and self.history.epoch:
                print(f"Kept the weights of the last epoch, {self.history.epoch[-1] + 1} (restore_best is off): the best "
                      f"{record['monitor']}, {record['value']:.4f}, was at epoch {record['epoch'] + 1}", flush=True)
        self.model.history = self.history
