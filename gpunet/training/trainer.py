"""Trainer: ``compile``, ``fit``, ``evaluate``, ``predict`` — the training half of a model.

As in Keras 3, a model class inherits :class:`Trainer` and provides the structure it trains:
``layers``, ``forward(x, training, logits)``, ``weights`` / ``trainable_weights`` /
``non_trainable_weights``, ``set_weights``, ``output_is_fused()``, ``built`` /
``build_from_data(shape)``, ``input_shape`` / ``output_shape`` and ``save``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping

import numpy

from .. import backend
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..autograd import Tensor, no_grad
from ..callbacks.callback_list import CallbackList
from ..callbacks.progbar import format_logs
from ..data import check_features
from .arguments import (check_bool, check_callbacks, check_compiled, evaluation_batches, prediction_batches, prepare,
                        resolve_verbose, to_device)
from .evaluation import Evaluation
from .loop import FitLoop
from .graphs import GraphedStep, graphs_possible
from .step import TrainStep, wrap_train_step

__all__ = ["Trainer"]

# compile arguments of Keras that gpunet takes, with the values it can honour
_COMPILE_NEUTRAL = {"steps_per_execution": (1,), "jit_compile": ("auto", False, None), "loss_weights": (None,),
                    "weighted_metrics": (None,)}


class Trainer:
    """The training API of a model (see the module docstring)."""

    def _init_trainer(self) -> None:
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.metrics: list = []
        self.run_eagerly = False
        self.history = None
        self.stop_training = False
        self._fit = None  # the running FitLoop
        self._resume = None  # a checkpoint's fit state, for the next fit that continues it
        self._default_step = None
        self._compiled_optimizer = None  # the optimizer's configuration at compile

    # -- compile --------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True) -> None:
        """Choose the optimizer, the loss and the metrics, by name or object.

        ``metrics=["accuracy"]`` picks the accuracy that fits the loss (sparse labels, one-hot or
        binary). A softmax (sigmoid) output followed by a cross-entropy loss is computed as one
        stable log-softmax (log-sigmoid) from the logits. ``run_eagerly=True`` builds the graph
        anew at every step instead of recording one step and replaying it (for debugging; the
        numbers are the same). Keras's ``jit_compile``, ``steps_per_execution``, ``loss_weights``
        and ``weighted_metrics`` are accepted only with values gpunet honours (their defaults);
        With ``auto_scale_loss=True`` (the default) a model with layers under the ``"mixed_float16"``
        policy gets its optimizer wrapped in a :class:`~gpunet.optimizers.LossScaleOptimizer`, as
        in Keras (see :mod:`gpunet.mixed_precision`).
        """
        given = {"loss_weights": loss_weights, "weighted_metrics": weighted_metrics,
                 "steps_per_execution": steps_per_execution, "jit_compile": jit_compile}
        for key, value in given.items():
            if not any(value is ok or (value == ok and type(value) is type(ok)) for ok in _COMPILE_NEUTRAL[key]):
                raise ValueError(f"compile: {key}={value!r} is not supported by gpunet (accepted: "
                                 f"{', '.join(repr(v) for v in _COMPILE_NEUTRAL[key])})")
        check_bool(run_eagerly, "compile: run_eagerly")
        check_bool(auto_scale_loss, "compile: auto_scale_loss")
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='sparse_categorical_crossentropy'")
        optimizer = optimizers_module.get(optimizer)
        if auto_scale_loss and not isinstance(optimizer, optimizers_module.LossScaleOptimizer) and any(
                layer.dtype_policy.name == "mixed_float16" for layer in getattr(self, "layers", ())):
            optimizer = optimizers_module.LossScaleOptimizer(optimizer)
        loss = losses_module.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        if not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics must be a list of names or Metric objects, got {type(metrics).__name__}")
        metric_objects = [metrics_module.get(m, loss) for m in metrics]
        names = [m.name for m in metric_objects]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"metric names must be unique and differ from 'loss', got {names}")
        optimizer.bind(self)
        self.optimizer, self.loss, self.metrics = optimizer, loss, metric_objects
        self._metric_identifiers = list(metrics)
        self._compiled_optimizer = _as_json(optimizers_module.serialize, optimizer)  # as compiled, before any fit
        self.run_eagerly = run_eagerly
        self._default_step = None
        self.compiled = True

    def compiled_configuration(self) -> dict:
        """What the model was compiled with, as JSON values: ``optimizer`` (its class and
        configuration as they were at ``compile``: a learning rate a callback lowers during fit
        does not change it), ``loss`` and ``metrics`` (their classes and configurations).
        ``BackupAndRestore`` resumes a backup only under the same configuration."""
        check_compiled(self, "compiled_configuration")
        return {"optimizer": self._compiled_optimizer, "loss": _as_json(losses_module.serialize, self.loss),
                "metrics": [_as_json(metrics_module.serialize, m) for m in self.metrics]}

    # -- the train step -------------------------------------------------------------------------
    def make_train_step(self, announce=None):
        """The step fit calls per batch: a :class:`~gpunet.training.TrainStep` of this model,
        wrapped by the registered train-step wrappers. ``announce(text)`` is told once why the
        step runs eagerly, when it must."""
        check_compiled(self, "make_train_step")
        step = TrainStep(self, run_eagerly=self.run_eagerly, announce=announce)
        if graphs_possible():
            step = GraphedStep(step, announce=announce)
        return wrap_train_step(step)

    def overrides_train_step(self) -> bool:
        """Whether this model's class defines its own ``train_step`` (then fit calls it)."""
        return type(self).train_step is not Trainer.train_step

    def train_step(self, data) -> dict:
        """One training update on a batch ``data = (x, y)`` of device arrays; returns the logs.

        Override it to customise training, as in Keras 3: fit then calls it once per batch and
        logs what it returns (numbers, 0-d arrays or one-element Tensors). :meth:`compute_loss`
        and ``self.optimizer.apply_gradients`` are the pieces it usually needs.
        """
        x, y = data
        if self._default_step is None:
            self._default_step = self.make_train_step()
        self._default_step(x, y)
        return self._default_step.logs()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True) -> Tensor:
        """The compiled loss of ``y_pred`` against ``y`` (Keras 3's arguments), as a Tensor to
        call ``backward()`` on."""
        check_compiled(self, "compute_loss")
        return self.loss(y, y_pred, sample_weight=sample_weight)

    def reset_metrics(self) -> None:
        """Reset the compiled metrics (fit does it at the start of every epoch)."""
        for metric in self.metrics:
            metric.reset()
        if self._default_step is not None:
            self._default_step.reset()

    # -- fit, evaluate, predict -----------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1, *,
            validations_per_epoch=1, restore_best=None, best_checkpoint=None):
        """Train with the course's loop; returns a :class:`~gpunet.callbacks.History`.

        Keras 3's arguments, in Keras's order, and semantics (see
        :class:`~gpunet.training.loop.FitLoop`), plus, from the course, three keyword-only ones:
        with dev data, ``validations_per_epoch=K`` evaluates on dev K times per epoch at evenly
        spaced steps, each evaluation being a report (a History entry and an ``on_epoch_end``
        call); the weights with the best dev score (``val_accuracy`` when an accuracy metric is
        compiled, else ``val_loss``) are kept and, with ``restore_best``, restored when fit ends
        (Keras keeps the last epoch's). ``restore_best=None`` (the default) follows the process-wide
        setting, :func:`gpunet.config.set_restore_best` or ``GPUNET_RESTORE_BEST``, on unless
        turned off: ``GPUNET_RESTORE_BEST=0`` gives an unmodified Keras script Keras's behaviour.
        ``best_checkpoint="best.h5"`` also writes the model there (atomically) each time the dev
        score improves. Dev evaluation uses batches of ``validation_batch_size`` (default
        ``max(batch_size, 512)``).

        After fit, ``history.best`` names the report whose weights the model holds when they were
        put back (by fit, or a callback such as ``EarlyStopping(restore_best_weights=True)``),
        with ``"restored": True``; otherwise fit's best dev report, with ``"restored": False``.
        With ``verbose``, fit's last line says which weights the model holds: the restored
        epoch's, or the last epoch's (naming the best epoch) when it does not restore.

        A model loaded from a checkpoint written at the end of epoch k (``ModelCheckpoint``)
        resumes exactly with ``initial_epoch=k``: shuffling and dropout streams, optimizer state,
        the best dev score and weights so far, and the callbacks' counters come from the file.

        ``x`` may be an array, a memory-mapped array (read from disk batch by batch), a generator
        or iterable yielding ``(x, y)`` batches, or a :class:`~gpunet.utils.PyDataset`;
        ``validation_data`` likewise. ``steps_per_epoch`` / ``validation_steps`` count the batches
        taken from a generator, an iterable or a PyDataset (None: until it ends, as in Keras 3).

        Every argument is checked before the first update: a fit that raises for bad input
        leaves the weights, the optimizer and a pending resumption untouched. Keras's
        ``class_weight`` and ``sample_weight`` are taken at their default, None (what Keras
        scripts pass); gpunet does not weight samples, and refuses any other value by name.
        """
        _refuse_weighting("fit", class_weight=class_weight, sample_weight=sample_weight)
        loop = FitLoop(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                       validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                       initial_epoch=initial_epoch, validation_freq=validation_freq,
                       validations_per_epoch=validations_per_epoch, restore_best=restore_best,
                       validation_batch_size=validation_batch_size, best_checkpoint=best_checkpoint,
                       steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
        return loop.run()

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None, callbacks=None,
                 return_dict=False):
        """Loss and metrics on (x, y), dropout off and no graph built (Keras 3's arguments, in its order).

        Returns ``[loss, *metrics]`` (the loss alone when there is no metric), or a dict with
        ``return_dict=True``, as Keras does. ``x`` may be a memory-mapped array, or a generator,
        an iterable or a PyDataset of ``(x, y)`` batches, read for ``steps`` batches (None: to its end).
        ``sample_weight`` must be None: gpunet does not weight samples.
        """
        check_compiled(self, "evaluate")
        _refuse_weighting("evaluate", sample_weight=sample_weight)
        verbose = resolve_verbose(verbose)
        callbacks = check_callbacks(callbacks)
        batches = evaluation_batches(self, x, y, batch_size, steps)
        callback_list = CallbackList(callbacks, model=self, steps=batches.steps, verbose=verbose)
        callback_list.on_test_begin()
        evaluation = Evaluation(self)
        try:
            with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"), self.host_parallelism():
                logs = evaluation.run(batches, callback_list)
        finally:
            batches.close()
        callback_list.on_test_end(logs)
        if verbose:
            sys.stdout.write(f"{evaluation.steps}/{evaluation.steps} - {format_logs(logs)}\n")
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def host_parallelism(self) -> backend.host_parallelism:
        """The context fit, evaluate and predict run in: gpunet's host threads in charge (the
        BLAS on one thread) when a layer ``uses_host_threads``, else the BLAS's own threads."""
        layers = getattr(self, "layers", ())
        return backend.host_parallelism(any(getattr(layer, "uses_host_threads", False) for layer in layers))

    @no_grad()
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs (softmax probabilities for a softmax model) as a host NumPy array.

        ``x`` may be a memory-mapped array, or a generator, an iterable or a PyDataset yielding
        ``x`` (or ``(x, y)``) batches, read for ``steps`` batches (None: to its end). Callbacks get
        Keras's ``on_predict_*`` hooks (``on_predict_batch_end(batch, {"outputs": ...})``).
        ``verbose`` takes Keras's values; gpunet's predict prints nothing."""
        verbose = resolve_verbose(verbose)
        callbacks = check_callbacks(callbacks)
        batches = prediction_batches(self, x, batch_size, steps)
        callback_list = CallbackList(callbacks, model=self, steps=batches.steps, verbose=verbose)
        outputs = []
        try:
            with self.host_parallelism():
                callback_list.call("on_predict_begin", None)
                for i, (xb, _) in enumerate(batches.iterate()):
                    callback_list.call_batch("on_predict_batch_begin", i, None)
                    outputs.append(self.forward(Tensor._result(xb, None), training=False).data)
                    callback_list.call_batch("on_predict_batch_end", i, {"outputs": outputs[-1]})
                callback_list.call("on_predict_end", None)
        finally:
            batches.close()
        xp = backend.get_array_module(outputs[0])
        return backend.to_host(xp.concatenate(outputs, axis=0))

    # -- one batch at a time ------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer update on exactly the batch ``(x, y)``, as Keras 3 does it.

        The update is fit's: the model's ``train_step`` (by default the recorded and replayed
        :class:`~gpunet.training.TrainStep`, so a loop of ``train_on_batch`` calls costs what fit's
        steps cost). Returns this batch's loss (computed before the update, regularization
        included) and metrics: the loss alone when no metric is compiled, else ``[loss, *metrics]``,
        or a dict with ``return_dict=True``; the compiled metrics are reset at every call, as in
        Keras. ``sample_weight`` and ``class_weight`` are not supported and must be None.
        """
        check_compiled(self, "train_on_batch")
        _refuse_weighting("train_on_batch", sample_weight=sample_weight, class_weight=class_weight)
        check_bool(return_dict, "train_on_batch: return_dict")
        if y is None:
            raise ValueError("train_on_batch needs the batch's targets y")
        x, y = prepare(self, x, y)
        data = (to_device(x, True), to_device(y, self.loss.target_kind != "labels"))
        self.reset_metrics()
        with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"), self.host_parallelism():
            logs = self.train_step(data)
            if not isinstance(logs, Mapping):
                raise TypeError(f"train_step must return a dict of logs, got {type(logs).__name__}")
            logs = {key: _log_value(value) for key, value in logs.items()}
        return _batch_result(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on exactly the batch ``(x, y)``, dropout off (``evaluate`` on one
        batch); returned as :meth:`train_on_batch` returns them."""
        check_compiled(self, "test_on_batch")
        _refuse_weighting("test_on_batch", sample_weight=sample_weight)
        check_bool(return_dict, "test_on_batch: return_dict")
        if y is None:
            raise ValueError("test_on_batch needs the batch's targets y")
        x = check_features(x, "x", None)
        return self.evaluate(x, y, batch_size=max(len(x), 1), verbose=0, return_dict=return_dict)

    def predict_on_batch(self, x):
        """The model's outputs on exactly the batch ``x``, as a host NumPy array."""
        x = check_features(x, "x", None)
        return self.predict(x, batch_size=max(len(x), 1), verbose=0)

    # -- which weights the model holds ----------------------------------------------------------
    def weights_finite(self) -> bool:
        """Whether every weight is finite (no NaN, no infinity)."""
        return backend.all_finite([p.data for p in self.weights])

    def report_is_sound(self, logs) -> bool:
        """Whether a report may count as an improvement, be restored or be written: its losses
        (``loss``, ``val_loss``) are finite and so are the model's weights and its optimizer's
        slots. (A model whose weights went NaN predicts one class everywhere: its accuracy can look
        fine while it is lost; an infinite Adam moment ruins every weight at the next update.)"""
        for key in ("loss", "val_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                return False
        optimizer = getattr(self, "optimizer", None)
        return self.weights_finite() and (optimizer is None or optimizer.slot_problem() is None)

    def restore_weights(self, weights, epoch: int, monitor: str | None = None, value: float | None = None,
                        by: str = "user") -> None:
        """Put back the weights of an earlier report (epoch ``epoch``, 0-based) and, during fit,
        record it so that ``history.best`` and the printed summary name the weights held."""
        self.set_weights(weights)
        if self._fit is not None:
            self._fit.restored({"monitor": monitor, "value": value, "epoch": epoch, "by": by})

    def attach_fit(self, loop) -> None:
        self._fit = loop

    def detach_fit(self, loop) -> None:
        if self._fit is loop:
            self._fit = None

    def take_resume_state(self):
        """The fit state a checkpoint handed over (once), for the fit that continues it."""
        state, self._resume = self._resume, None
        return state

    def hand_back_resume_state(self, state) -> None:
        """Undo :meth:`take_resume_state` for a fit that stopped before training."""
        if self._resume is None:
            self._resume = state

    # -- state for checkpoints ------------------------------------------------------------------
    def get_state(self) -> dict:
        """The training state beyond the weights: ``{"optimizer": ..., "fit": ...}`` (the fit part
        while fit runs, or as a checkpoint handed it over and no fit has taken it yet)."""
        state = {}
        if self.compiled:
            state["optimizer"] = self.optimizer.get_state()
        fit = self._fit.state.get_state() if self._fit is not None else self._resume
        if fit:
            state["fit"] = fit
        return state

    def set_state(self, state: dict) -> None:
        """Take back :meth:`get_state`'s tree: the optimizer's now, the fit's for the next fit."""
        if not isinstance(state, dict):
            raise ValueError(f"state must be a dict produced by get_state(), got {type(state).__name__}")
        if state.get("optimizer") is not None:
            check_compiled(self, "set_state")
            self.optimizer.set_state(state["optimizer"])
        self._resume = state.get("fit") or None


def _as_json(serialize, obj):
    """``serialize(obj)`` as plain JSON values, for comparing configurations: a value JSON cannot
    hold becomes its type's name, and an object that cannot serialize itself is named by its
    class (a user class without ``get_config``)."""
    try:
        entry = serialize(obj)
    except Exception:  # noqa: BLE001 - a user's get_config may raise anything
        entry = {"class_name": type(obj).__name__}
    return json.loads(json.dumps(entry, sort_keys=True, default=lambda value: f"<{type(value).__name__}>"))


def _refuse_weighting(method: str, **arguments) -> None:
    """Keras's per-sample and per-class weights, which gpunet does not implement: None only."""
    for name, value in arguments.items():
        if value is not None:
            raise ValueError(f"{method}: {name} is not supported by gpunet; pass {name}=None (every sample counts the same)")


def _log_value(value):
    """A log entry as Keras returns it: a Python float for a scalar, else a host array."""
    value = numpy.asarray(backend.to_host(value))
    return float(value.reshape(())) if value.size == 1 else value


def _batch_result(logs: dict, return_dict: bool):
    """Keras's return value: the dict, or ``[loss, *metrics]`` (the loss alone without metrics)."""
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values
