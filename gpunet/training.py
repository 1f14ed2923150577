"""The training loop: the course's TRAIN procedure behind Keras's ``fit``, ``evaluate``, ``predict``.

The course's pseudo-code, and where each line lives below::

    bestdev = -inf
    for epoch = 1..E:                         fit: for epoch in range(initial_epoch, epochs)
        shuffle T                             order = host_generator().permutation(n)
        for (x, y) in T:                      for xb, yb in batches.iterate(order)
            loss = L(f(x; theta), y)          Step.train: forward, loss
            theta = theta - lr * grad(loss)   Step.train: backward, optimizer.apply_gradients
        devacc = EVALUATE(f, D)               Step.evaluate(dev)    (K times per epoch if asked)
        if devacc > bestdev: keep theta       BestWeights.update
    return best theta                         BestWeights.restore   (restore_best=True)
"""

from __future__ import annotations

import copy
import math
import numbers
import sys
import time
import warnings

import numpy

from . import backend
from . import activations
from . import losses as losses_module
from .autograd import Tape, Tensor, no_grad
from .callbacks.base import Callback, CallbackList, LazyLogs
from .callbacks.history import History
from .callbacks.progbar import ProgbarLogger, format_logs
from .data import Batches, check_batch_size, check_features, check_targets
from .layers import Activation, Dense, Dropout, Flatten
from .metrics import BinaryAccuracy, CategoricalAccuracy, Mean, SparseCategoricalAccuracy

__all__ = ["fit", "evaluate", "predict", "NonFiniteLossWarning"]

_ACCURACIES = (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy)


class NonFiniteLossWarning(UserWarning):
    """The training loss became NaN or infinite (learning rate too large, or bad data)."""


# ----------------------------------------------------------------------------------------------
# argument checking
# ----------------------------------------------------------------------------------------------
def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _resolve_verbose(verbose) -> int:
    if verbose == "auto":
        stream = sys.stdout
        return 1 if getattr(stream, "isatty", lambda: False)() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def _check_compiled(model, what: str) -> None:
    if not model.compiled:
        raise RuntimeError(f"the model must be compiled before {what}(): call model.compile(optimizer, loss, metrics)")


def _check_validation_freq(freq):
    if isinstance(freq, (list, tuple, set)):
        epochs = {_check_int(e, "validation_freq entries", 1) for e in freq}
        return lambda epoch: epoch + 1 in epochs
    freq = _check_int(freq, "validation_freq", 1)
    return lambda epoch: (epoch + 1) % freq == 0


def _prepare(model, x, y, x_name="x", y_name="y"):
    """Check (x, y) against the model (building it from x's shape if needed); host arrays."""
    x = check_features(x, x_name, None)
    if not model.built:
        model._build_from_data(x.shape)
    x = check_features(x, x_name, model.input_shape[1:])
    y = check_targets(y, model.loss, model.output_shape, x.shape[0], y_name, x_name)
    return x, y


def _unpack_validation(validation_data):
    if not isinstance(validation_data, (tuple, list)):
        raise TypeError(f"validation_data must be a tuple (x_dev, y_dev), got {type(validation_data).__name__}")
    if len(validation_data) == 3:
        raise ValueError("validation_data with sample weights (x, y, w) is not supported: pass (x_dev, y_dev)")
    if len(validation_data) != 2:
        raise ValueError(f"validation_data must be a tuple (x_dev, y_dev), got {len(validation_data)} items")
    return validation_data


def _to_device(array, floating: bool):
    if floating:
        return backend.to_device(array, dtype=backend.floatx())
    return backend.to_device(array)


# ----------------------------------------------------------------------------------------------
# one step, one evaluation
# ----------------------------------------------------------------------------------------------
_STATIC_LAYERS = (Dense, Activation, Dropout, Flatten)
_STATIC_LOSSES = (losses_module.SparseCategoricalCrossentropy, losses_module.CategoricalCrossentropy,
                  losses_module.BinaryCrossentropy, losses_module.MeanSquaredError)


def _static_graph(model) -> bool:
    """True when every step of ``model`` builds the same graph: gpunet's own layers with
    built-in activations, and a built-in loss. Such a model's step is recorded once and replayed."""
    for layer in model.layers:
        if type(layer) not in _STATIC_LAYERS:
            return False
        if isinstance(layer, (Dense, Activation)):
            try:
                activations.serialize(layer.activation)
            except ValueError:
                return False
    return type(model.loss) in _STATIC_LOSSES


class Step:
    """The model's training step and its evaluation pass, with their running metrics.

    A model made of gpunet's own layers has the same graph at every step: its first step is
    recorded into a :class:`~gpunet.autograd.Tape`, and every later step replays the same ops
    without rebuilding the graph (bit-for-bit the numbers of eager autograd, at a fraction of
    the per-step overhead). Any other model runs eagerly.
    """

    def __init__(self, model, replay: bool = True):
        self.model = model
        self.params = model.trainable_weights
        self.loss = model.loss
        self.fused = model.output_is_fused()
        self.logits = self.fused or model.loss.from_logits
        self.optimizer = model.optimizer
        self.train_loss = Mean(name="loss")
        self.train_metrics = [_fresh(m) for m in model.metrics]
        self.dev_loss = Mean(name="loss")
        self.dev_metrics = [_fresh(m) for m in model.metrics]
        self.replay = replay and _static_graph(model)
        self.tape = None
        self._one = None

    def _forward(self, x: Tensor, y: Tensor):
        out = self.model.forward(x, training=True, logits=self.fused)
        return out, self.loss.compute(out, y, self.logits)

    def _gradients(self, xb, yb):
        """Forward and backward; returns (model output, loss, gradients) as arrays."""
        if self.tape is not None:
            out, loss = self.tape.forward(xb, yb)
            if self._one is None or self._one.dtype != loss.dtype:
                self._one = backend.get_array_module(loss).ones_like(loss)
            return out, loss, self.tape.backward(self._one)
        inputs = (Tensor._result(xb, None), Tensor._result(yb, None))
        for p in self.params:
            p.grad = None
        if self.replay:
            self.replay = False  # record once
            self.tape, (out, loss) = Tape.record(self._forward, inputs, self.params)
            if self.tape is not None:
                return out.data, loss.data, self.tape.backward(backend.get_array_module(loss.data).ones_like(loss.data))
        else:
            out, loss = self._forward(*inputs)
        loss.backward()
        return out.data, loss.data, [p.grad for p in self.params]

    def train(self, xb, yb) -> None:
        """One minibatch update: forward, loss, backward, in-place optimizer step."""
        out, loss, grads = self._gradients(xb, yb)
        params = self.params
        for p, g in zip(params, grads):
            p.grad = g
        self.optimizer.apply_gradients(zip(grads, params))
        self.train_loss.update_value(loss, xb.shape[0])
        for metric in self.train_metrics:
            metric.update(out, yb, self.logits)

    def reset_train(self) -> None:
        self.train_loss.reset()
        for m in self.train_metrics:
            m.reset()

    def train_logs(self) -> dict:
        logs = {"loss": self.train_loss.result()}
        logs.update((m.name, m.result()) for m in self.train_metrics)
        return logs

    def running(self) -> LazyLogs:
        """Batch logs computed only when a callback reads them."""
        producers = {"loss": self.train_loss.result}
        producers.update((m.name, m.result) for m in self.train_metrics)
        return LazyLogs(producers)

    @no_grad()
    def evaluate(self, batches: Batches, callbacks: CallbackList | None = None) -> dict:
        """Mean loss and metrics over ``batches``; dropout off, no graph."""
        self.dev_loss.reset()
        for m in self.dev_metrics:
            m.reset()
        for i, (xb, yb) in enumerate(batches.iterate()):
            if callbacks is not None:
                callbacks.call_batch("on_test_batch_begin", i, None)
            out = self.model.forward(Tensor._result(xb, None), training=False, logits=self.fused)
            loss = self.loss.compute(out, Tensor._result(yb, None), self.logits)
            self.dev_loss.update_value(loss.data, xb.shape[0])
            for m in self.dev_metrics:
                m.update(out.data, yb, self.logits)
            if callbacks is not None:
                callbacks.call_batch("on_test_batch_end", i, None)
        logs = {"loss": self.dev_loss.result()}
        logs.update((m.name, m.result()) for m in self.dev_metrics)
        return logs


def _fresh(metric):
    clone = copy.copy(metric)
    clone.reset()
    return clone


class BestWeights:
    """The course's ``if devacc > bestdev: keep theta``: copies of the parameters at the best
    dev score, kept in preallocated device buffers."""

    def __init__(self, params, monitor: str, mode: str):
        self.params = params
        self.monitor = monitor
        self.mode = mode
        self.value = -math.inf if mode == "max" else math.inf
        self.epoch = None
        self._copies = None

    def improved(self, value: float) -> bool:
        if value is None or math.isnan(value):
            return False
        return value > self.value if self.mode == "max" else value < self.value

    def update(self, epoch, logs: dict) -> bool:
        value = logs.get(self.monitor)
        if not self.improved(value):
            return False
        self.value, self.epoch = value, epoch
        if self._copies is None:
            self._copies = [backend.get_array_module(p.data).empty_like(p.data) for p in self.params]
        for buffer, p in zip(self._copies, self.params):
            buffer[...] = p.data
        return True

    def restore(self) -> bool:
        if self._copies is None:
            return False
        for buffer, p in zip(self._copies, self.params):
            p.data[...] = buffer
        return True


def dev_monitor(model) -> tuple[str, str]:
    """What fit's best-on-dev tracking watches: dev accuracy when there is one, else dev loss."""
    for metric in model.metrics:
        if isinstance(metric, _ACCURACIES):
            return f"val_{metric.name}", "max"
    return "val_loss", "min"


def _report_steps(steps: int, evaluations: int) -> list:
    """``evaluations`` evenly spaced step counts in [1, steps], the last one ``steps``."""
    return sorted({max(1, round(steps * (i + 1) / evaluations)) for i in range(evaluations)})


# ----------------------------------------------------------------------------------------------
# fit
# ----------------------------------------------------------------------------------------------
def fit(model, x, y, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, initial_epoch=0, validation_freq=1, validations_per_epoch=1,
        restore_best=True, validation_batch_size=None, best_checkpoint=None) -> History:
    """Train ``model`` on (x, y) with the course's loop; returns a :class:`History`.

    Keras 3 semantics: ``epochs`` is the index of the last epoch (training runs from
    ``initial_epoch`` to ``epochs``); ``validation_split`` takes the last samples, before
    shuffling; ``validation_data=(x_dev, y_dev)`` takes precedence over it; every epoch reshuffles
    (sampling without replacement) from gpunet's seeded generator when ``shuffle`` is True.

    From the course: with dev data, ``validations_per_epoch=K`` evaluates on dev K times per epoch
    at evenly spaced steps, each evaluation being a report (a History entry and an
    ``on_epoch_end`` call); the parameters with the best dev score (``val_accuracy`` when an
    accuracy metric is compiled, else ``val_loss``) are kept and, with ``restore_best=True``,
    restored when fit ends. ``best_checkpoint="best.h5"`` also writes the model there (atomically)
    each time the dev score improves. Dev evaluation uses batches of ``validation_batch_size``
    (default ``max(batch_size, 512)``; the batch size changes nothing but speed there).

    A model loaded from a checkpoint written at the end of epoch k (``ModelCheckpoint``) resumes
    exactly with ``initial_epoch=k``: shuffling and dropout streams, optimizer state, the best dev
    score and weights so far, and the callbacks' counters are restored from the file.

    Every argument is checked before the first update: a fit that raises for bad input leaves the
    weights and the optimizer untouched.
    """
    _check_compiled(model, "fit")
    batch_size = check_batch_size(batch_size)
    epochs = _check_int(epochs, "epochs", 0)
    initial_epoch = _check_int(initial_epoch, "initial_epoch", 0)
    evaluations = _check_int(validations_per_epoch, "validations_per_epoch", 1)
    validates = _check_validation_freq(validation_freq)
    verbose = _resolve_verbose(verbose)
    if not isinstance(shuffle, bool):
        raise ValueError(f"shuffle must be True or False, got {shuffle!r}")
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
    validation_batch_size = check_batch_size(validation_batch_size, "validation_batch_size", max(batch_size, 512))
    if callbacks is None:
        callbacks = []
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError("callbacks must be a list of gpunet.callbacks.Callback objects")
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be gpunet.callbacks.Callback objects, got {type(cb).__name__}")
    if best_checkpoint is not None:
        from .saving.hdf5 import check_path_for_writing  # noqa: PLC0415

        best_checkpoint = check_path_for_writing(best_checkpoint)

    x, y = _prepare(model, x, y)
    x_dev = y_dev = None
    if validation_data is not None:
        x_dev, y_dev = _prepare(model, *_unpack_validation(validation_data), "validation_data x", "validation_data y")
    elif validation_split:
        split_at = int(math.ceil(x.shape[0] * (1 - validation_split)))
        if split_at >= x.shape[0] or split_at == 0:
            raise ValueError(f"validation_split={validation_split} leaves no samples for training or for validation out of {x.shape[0]}")
        x, x_dev, y, y_dev = x[:split_at], x[split_at:], y[:split_at], y[split_at:]
    has_dev = x_dev is not None
    if best_checkpoint is not None and not has_dev:
        raise ValueError("best_checkpoint needs dev data: pass validation_data or validation_split")

    floating_targets = model.loss.target_kind != "labels"
    train = Batches(_to_device(x, True), _to_device(y, floating_targets), batch_size)
    dev = Batches(_to_device(x_dev, True), _to_device(y_dev, floating_targets), validation_batch_size) if has_dev else None

    step = Step(model)
    history = History()
    steps = len(train)
    user_callbacks = list(callbacks)
    log_keys = ["loss", *(m.name for m in model.metrics)]
    log_keys += [f"val_{k}" for k in log_keys] if has_dev else []
    log_keys += ["learning_rate", "epoch_time"]
    for cb in user_callbacks:
        log_keys += [k for k in cb.log_keys_added(model) if k not in log_keys]
    params = {"epochs": epochs, "steps": steps, "batch_size": batch_size, "verbose": verbose,
              "validations_per_epoch": evaluations, "do_validation": has_dev, "log_keys": log_keys}
    callback_list = CallbackList(
        ([ProgbarLogger(verbose)] if verbose else []) + user_callbacks + [history], model=model, params=params
    )
    monitor, mode = dev_monitor(model)
    best = BestWeights(step.params, monitor, mode)
    optimizer = model.optimizer
    position = {"epoch": initial_epoch, "complete": True}
    resumed_callbacks = _resume(model, initial_epoch, best)
    model._fit_state = lambda: _fit_state(position, best, user_callbacks)
    model.stop_training = False
    wants_batch_end = bool(callback_list.wants["on_train_batch_end"])
    warned = False
    logs: dict = {}

    try:
        with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
            callback_list.on_train_begin()
            _restore_callbacks(user_callbacks, resumed_callbacks)
            for epoch in range(initial_epoch, epochs):
                optimizer.epoch = epoch
                position.update(epoch=epoch, complete=False)
                callback_list.on_epoch_begin(epoch)
                step.reset_train()
                start = time.perf_counter()
                validate_now = has_dev and validates(epoch)
                report_at = _report_steps(steps, evaluations if validate_now else 1)
                order = backend.host_generator().permutation(train.samples) if shuffle else None
                if order is not None and backend.name() != "numpy":
                    order = backend.to_device(order)
                for i, (xb, yb) in enumerate(train.iterate(order)):
                    callback_list.call_batch("on_train_batch_begin", i, None)
                    step.train(xb, yb)
                    if wants_batch_end:
                        callback_list.call_batch("on_train_batch_end", i, step.running())
                    if i + 1 != report_at[0] and not model.stop_training:
                        continue
                    report_at.pop(0)
                    position["complete"] = i + 1 == steps
                    logs = step.train_logs()
                    if validate_now:
                        callback_list.on_test_begin()
                        dev_logs = step.evaluate(dev, callback_list)
                        callback_list.on_test_end(dev_logs)
                        logs.update((f"val_{k}", v) for k, v in dev_logs.items())
                        improved = best.update(epoch, logs)
                    logs["learning_rate"] = optimizer.learning_rate
                    logs["epoch_time"] = time.perf_counter() - start
                    if not warned and not math.isfinite(logs["loss"]):
                        warned = True
                        warnings.warn(
                            f"the training loss is {logs['loss']} at epoch {epoch + 1}: the learning rate may be "
                            "too large, or the data hold extreme values (TerminateOnNaN stops training here)",
                            NonFiniteLossWarning,
                            stacklevel=3,
                        )
                    callback_list.on_epoch_end(epoch, logs)
                    if validate_now and improved and best_checkpoint is not None and math.isfinite(logs["loss"]):
                        model.save(best_checkpoint)  # after the callbacks, so the file holds their new state
                    if model.stop_training:
                        break
                if model.stop_training:
                    break
            if restore_best and has_dev:
                best.restore()
            callback_list.on_train_end(logs)
    finally:
        model._fit_state = None
    history.best = {"monitor": monitor, "value": best.value, "epoch": best.epoch} if best.epoch is not None else None
    model.history = history
    return history


def _fit_state(position, best: BestWeights, callbacks) -> dict:
    """What a checkpoint written now needs for fit to resume exactly (see ``saving``)."""
    complete = position["complete"]
    state = {
        "epoch": position["epoch"] + 1 if complete else position["epoch"],
        "epoch_complete": complete,
        "rng": backend.get_rng_state(),
        "best": {"monitor": best.monitor, "value": best.value, "epoch": best.epoch},
        "callbacks": [{"class_name": type(cb).__name__, "state": cb.get_state()} for cb in callbacks],
    }
    if best.epoch is not None:
        state["best_weights"] = {p.name: backend.to_host(c) for p, c in zip(best.params, best._copies)}
    return state


def _resume(model, initial_epoch: int, best: BestWeights):
    """Take back the state a checkpoint stored, when fit continues where it stopped; returns the
    callbacks' saved states (restored after ``on_train_begin``, which resets them)."""
    state = getattr(model, "_resume_state", None)
    if not state:
        return []
    model._resume_state = None
    if state.get("epoch") != initial_epoch or not state.get("epoch_complete", True):
        warnings.warn(
            f"this model was saved during epoch index {state.get('epoch')} "
            f"({'at its end' if state.get('epoch_complete', True) else 'mid-epoch'}); fit(initial_epoch={initial_epoch}) "
            "starts fresh streams instead of resuming exactly",
            stacklevel=3,
        )
        return []
    backend.set_rng_state(state["rng"])
    saved_best = state.get("best") or {}
    if saved_best.get("monitor") == best.monitor and saved_best.get("epoch") is not None:
        weights = state.get("best_weights") or {}
        if all(p.name in weights and weights[p.name].shape == p.shape for p in best.params):
            best.value, best.epoch = float(saved_best["value"]), saved_best["epoch"]
            best._copies = [backend.to_device(weights[p.name].astype(p.dtype, copy=False)) for p in best.params]
    return list(state.get("callbacks") or [])


def _restore_callbacks(callbacks, saved) -> None:
    """Give each callback the state saved for the callback of the same class (in order)."""
    saved = list(saved)
    for cb in callbacks:
        for i, entry in enumerate(saved):
            if entry.get("class_name") == type(cb).__name__:
                cb.set_state(entry.get("state") or {})
                del saved[i]
                break


# ----------------------------------------------------------------------------------------------
# evaluate, predict
# ----------------------------------------------------------------------------------------------
def evaluate(model, x, y, batch_size=None, verbose="auto", return_dict=False, callbacks=None):
    """Loss and metrics of ``model`` on (x, y), dropout off and no graph built.

    Returns ``[loss, *metrics]`` (the loss alone when there is no metric), or a dict with
    ``return_dict=True``, as Keras does.
    """
    _check_compiled(model, "evaluate")
    batch_size = check_batch_size(batch_size)
    verbose = _resolve_verbose(verbose)
    x, y = _prepare(model, x, y)
    floating_targets = model.loss.target_kind != "labels"
    batches = Batches(_to_device(x, True), _to_device(y, floating_targets), batch_size)
    callback_list = CallbackList(callbacks or [], model=model, params={"steps": len(batches), "verbose": verbose})
    callback_list.on_test_begin()
    with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
        logs = Step(model).evaluate(batches, callback_list)
    callback_list.on_test_end(logs)
    if verbose:
        sys.stdout.write(f"{len(batches)}/{len(batches)} - {format_logs(logs)}\n")
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


@no_grad()
def predict(model, x, batch_size=None):
    """The model's outputs (softmax probabilities for a softmax model) as a host NumPy array."""
    batch_size = check_batch_size(batch_size)
    x = check_features(x, "x", None)
    if not model.built:
        model._build_from_data(x.shape)
    x = check_features(x, "x", model.input_shape[1:])
    batches = Batches(_to_device(x, True), None, batch_size)
    outputs = [model.forward(Tensor._result(xb, None), training=False).data for xb, _ in batches.iterate()]
    xp = backend.get_array_module(outputs[0])
    return backend.to_host(xp.concatenate(outputs, axis=0))
