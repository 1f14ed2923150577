"""Trainer: ``compile``, ``fit``, ``evaluate``, ``predict`` — the training half of a model.

As in Keras 3, a model class inherits :class:`Trainer` and provides the structure it trains:
``layers``, ``forward(x, training, logits)``, ``weights`` / ``trainable_weights`` /
``non_trainable_weights``, ``set_weights``, ``output_is_fused()``, ``built`` /
``build_from_data(shape)``, ``input_shape`` / ``output_shape`` and ``save``.
"""

from __future__ import annotations

import inspect
import json
import math
import sys
from collections.abc import Mapping

import numpy

from .. import backend, tree
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..autograd import Tensor, no_grad
from ..callbacks.callback_list import CallbackList
from ..callbacks.progbar import format_logs
from ..data.structure import batch_count, pack_x_y_sample_weight, unpack_x_y_sample_weight
from ..metrics import Mean
from .arguments import (batch_to_device, check_bool, check_callbacks, check_compiled, check_data, evaluation_batches,
                        needs_targets, output_names, prediction_batches, resolve_verbose)
from .compiled import CompiledOutputs, CompileMetrics, flatten_logs
from .evaluation import Evaluation, StepEvaluation, tensors
from .loop import FitLoop
from .graphs import GraphedStep, graphs_possible
from .step import TrainStep, wrap_train_step
from .strategy import get_strategy

__all__ = ["Trainer"]

# compile arguments of Keras that gpunet takes, with the values it can honour
_COMPILE_NEUTRAL = {"steps_per_execution": (1,), "jit_compile": ("auto", False, None)}


class Trainer:
    """The training API of a model (see the module docstring)."""

    def _init_trainer(self) -> None:
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.compiled_outputs = None
        self._loss_tracker = None
        self._compile_metrics = None
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
        """Choose the optimizer, the loss and the metrics, by name or object (Keras 3's arguments).

        For a model with several outputs, ``loss``, ``loss_weights``, ``metrics`` and
        ``weighted_metrics`` may be lists (one entry per output, in ``model.output_names`` order)
        or dicts keyed by output name (see :mod:`gpunet.training.compiled`); the loss is the
        weighted sum of the outputs' losses. ``weighted_metrics`` are given the sample weights.
        ``loss=None`` leaves the loss to the model (``add_loss``, or its own ``train_step``).

        ``metrics=["accuracy"]`` picks the accuracy that fits the loss (sparse labels, one-hot or
        binary). A softmax (sigmoid) output followed by a cross-entropy loss is computed as one
        stable log-softmax (log-sigmoid) from the logits. ``run_eagerly=True`` builds the graph
        anew at every step instead of recording one step and replaying it (for debugging; the
        numbers are the same). Keras's ``jit_compile`` and ``steps_per_execution`` are accepted
        only with values gpunet honours (their defaults). With ``auto_scale_loss=True`` (the
        default) a model with layers under the ``"mixed_float16"`` policy gets its optimizer
        wrapped in a :class:`~gpunet.optimizers.LossScaleOptimizer`, as in Keras (see
        :mod:`gpunet.mixed_precision`).
        """
        given = {"steps_per_execution": steps_per_execution, "jit_compile": jit_compile}
        for key, value in given.items():
            if not any(value is ok or (value == ok and type(value) is type(ok)) for ok in _COMPILE_NEUTRAL[key]):
                raise ValueError(f"compile: {key}={value!r} is not supported by gpunet (accepted: "
                                 f"{', '.join(repr(v) for v in _COMPILE_NEUTRAL[key])})")
        check_bool(run_eagerly, "compile: run_eagerly")
        check_bool(auto_scale_loss, "compile: auto_scale_loss")
        optimizer = optimizers_module.get(optimizer)
        if auto_scale_loss and not isinstance(optimizer, optimizers_module.LossScaleOptimizer) and any(
                layer.dtype_policy.name == "mixed_float16" for layer in getattr(self, "layers", ())):
            optimizer = optimizers_module.LossScaleOptimizer(optimizer)
        for name, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (str, list, tuple, dict, metrics_module.Metric)) \
                    and not callable(value):
                raise TypeError(f"{name} must be a list of names or Metric objects, got {type(value).__name__}")
        previous = self.__dict__.get("compiled_outputs")
        if metrics is None and weighted_metrics is None and previous is not None:  # Keras keeps the last ones
            metrics, weighted_metrics = previous.metrics_argument, previous.weighted_metrics_argument
        metrics = [metrics] if isinstance(metrics, (str, metrics_module.Metric)) else metrics
        weighted_metrics = [weighted_metrics] if isinstance(weighted_metrics, (str, metrics_module.Metric)) \
            else weighted_metrics
        compiled = CompiledOutputs(loss, loss_weights, metrics, weighted_metrics)
        names = self._known_output_names()
        if names is not None:
            compiled.build(names)  # refuse now what does not fit the outputs
        optimizer.bind(self)
        self.optimizer, self.compiled_outputs = optimizer, compiled
        self.loss = loss if compiled.single_loss is None else compiled.single_loss
        self._loss_tracker = Mean(name="loss")
        self._compile_metrics = CompileMetrics(self)
        self._compiled_optimizer = _as_json(optimizers_module.serialize, optimizer)  # as compiled, before any fit
        self.run_eagerly = run_eagerly
        self._default_step = None
        self.compiled = True

    def _known_output_names(self):
        """The output names when they are known before any data (a built graph), else None."""
        names = getattr(self, "output_names", None)  # every model kind answers it (empty until known)
        return list(names) if names else None

    @property
    def loss(self):
        """The compiled loss (one Loss object, or the list or dict compile was given). Assigning
        a loss object to a compiled one-loss model replaces the loss of every output (fit picks
        it up at its next step)."""
        return self.__dict__.get("_compiled_loss")

    @loss.setter
    def loss(self, value) -> None:
        self.__dict__["_compiled_loss"] = value
        compiled = self.__dict__.get("compiled_outputs")
        if compiled is not None and value is not None and not isinstance(value, (list, tuple, dict)):
            compiled.replace_loss(losses_module.get(value))

    @property
    def metrics(self) -> list:
        """Keras 3's ``model.metrics``: the loss tracker and the compiled metrics (a
        :class:`CompileMetrics` whose ``result()`` is a dict), then the ``Metric`` objects the
        model holds as attributes. A subclass may override it to list its own trackers; fit
        resets them at every epoch."""
        if not self.compiled:
            return [m for m in vars(self).values() if isinstance(m, metrics_module.Metric)]
        found = [self._loss_tracker]
        if self.compiled_outputs.built and self.compiled_outputs.metric_list():
            found.append(self._compile_metrics)
        own = [m for key, m in vars(self).items() if isinstance(m, metrics_module.Metric)
               and key not in ("_loss_tracker", "_compile_metrics")]
        return found + own

    @property
    def metrics_names(self) -> list:
        return [m.name for m in self.metrics]

    @property
    def compiled_metrics(self) -> list:
        """The compiled metrics (one object per output and metric), in log order."""
        return self.compiled_outputs.metric_list() if self.compiled and self.compiled_outputs.built else []

    def compiled_configuration(self) -> dict:
        """What the model was compiled with, as JSON values: ``optimizer`` (its class and
        configuration as they were at ``compile``: a learning rate a callback lowers during fit
        does not change it), ``loss`` and ``metrics`` (their classes and configurations).
        ``BackupAndRestore`` resumes a backup only under the same configuration."""
        check_compiled(self, "compiled_configuration")
        loss = self.loss if isinstance(self.loss, losses_module.Loss) else \
            tree.map_structure(lambda item: None if item is None else losses_module.get(item), self.loss)
        return {"optimizer": self._compiled_optimizer,
                "loss": tree.map_structure(lambda item: None if item is None else _as_json(losses_module.serialize, item), loss),
                "metrics": [_as_json(metrics_module.serialize, m) for m in self.compiled_metrics]}

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

    def overrides(self, method: str) -> bool:
        """Whether this model's class defines its own ``method`` (``train_step``, ``compute_loss``...)."""
        return getattr(type(self), method) is not getattr(Trainer, method)

    def call_compute_loss(self, x, y, y_pred, sample_weight, training: bool):
        """``self.compute_loss(...)``, with ``training`` only for an override that takes it (Keras
        3's ``compute_loss`` gained it; older overrides take ``allow_empty`` instead)."""
        parameters = inspect.signature(self.compute_loss).parameters
        extra = {"training": training} if "training" in parameters or any(
            p.kind is p.VAR_KEYWORD for p in parameters.values()) else {}
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, **extra)
        return loss if isinstance(loss, Tensor) else Tensor(loss)

    def overrides_train_step(self) -> bool:
        """Whether this model's class defines its own ``train_step`` (then fit calls it)."""
        return type(self).train_step is not Trainer.train_step

    def train_step(self, data) -> dict:
        """One training update on a batch ``data`` = ``(x, y)`` or ``(x, y, sample_weight)`` of
        device arrays (or nests of them); returns the logs.

        Override it to customise training, as in Keras 3: fit then calls it once per batch and
        logs what it returns (numbers, 0-d arrays or one-element Tensors; a dict value, such as
        ``compile_metrics``'s result, is spread into the logs). :meth:`compute_loss`,
        :meth:`compute_metrics`, ``self.optimizer.apply`` and ``self.metrics`` are the pieces it
        usually needs.
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        if self._default_step is None:
            self._default_step = self.make_train_step()
        self._default_step(x, y, sample_weight)
        return self._default_step.logs()

    def test_step(self, data) -> dict:
        """The loss and metrics of one batch, dropout off (Keras 3's; override to customise
        ``evaluate`` and fit's dev evaluation): updates ``self.metrics`` and returns their results."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with no_grad():
            y_pred = self(x, training=False)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._loss_tracker.update_state(loss.data if isinstance(loss, Tensor) else loss,
                                        sample_weight=batch_count(x))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """The model's outputs on one batch (Keras 3's; override to customise ``predict``)."""
        x, _, _ = unpack_x_y_sample_weight(data)
        with no_grad():
            return self(x, training=False)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True) -> Tensor:
        """The compiled loss of ``y_pred`` against ``y`` (the weighted sum over the outputs),
        plus the model's own losses (``self.losses``: regularization and ``add_loss`` terms),
        as a Tensor to call ``backward()`` on (Keras 3's arguments)."""
        check_compiled(self, "compute_loss")
        compiled = self.compiled_outputs
        if not compiled.built:
            compiled.build(output_names(self))
        total = None
        if compiled.wants_targets() and any(e.loss is not None for e in compiled.entries):
            outputs = [o if isinstance(o, Tensor) else Tensor(o) for o in tree.flatten(y_pred)]
            targets = [t if t is None or isinstance(t, Tensor) else Tensor(backend.to_device(numpy.asarray(backend.to_host(t))))
                       for t in compiled.align(y, "y")]
            weights = compiled.align(sample_weight, "sample_weight", True)
            weights = [w if w is None or isinstance(w, Tensor) else Tensor(w) for w in weights]
            logits = [e.loss is not None and e.loss.from_logits for e in compiled.entries]
            total = compiled.total(compiled.losses(outputs, targets, weights, logits))
        for penalty in self.losses:
            total = penalty if total is None else total + penalty
        if total is None:
            total = Tensor(backend.array_module().zeros((), dtype=backend.floatx()))
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Add a batch to the compiled metrics (``y_pred`` as the model outputs it); returns
        :meth:`get_metrics_result` (Keras 3's)."""
        del x
        compiled = self.compiled_outputs
        if compiled.built and compiled.metric_list():
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        """``{name: value}`` of ``self.metrics``, a metric's dict result spread into the dict."""
        return flatten_logs({m.name: m.result() for m in self.metrics})

    def reset_metrics(self) -> None:
        """Reset the compiled metrics (fit does it at the start of every epoch)."""
        for metric in self.metrics:
            metric.reset_state()
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

        ``x``, ``y`` and ``sample_weight`` may be nests (lists, tuples, dicts) matching the
        model's inputs and outputs, as in Keras; ``sample_weight`` weighs each sample's loss (and
        the ``weighted_metrics``), ``class_weight`` ({class: weight}, one output) each class's.

        Every argument is checked before the first update: a fit that raises for bad input
        leaves the weights, the optimizer and a pending resumption untouched.
        """
        loop = FitLoop(self, x, y, batch_size=batch_size, sample_weight=sample_weight, class_weight=class_weight, epochs=epochs, verbose=verbose, callbacks=callbacks,
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
        ``sample_weight`` weighs each sample (as in fit).
        """
        check_compiled(self, "evaluate")
        strategy = get_strategy()
        verbose = resolve_verbose(verbose) if strategy.is_main else 0  # only the main process prints
        callbacks = check_callbacks(callbacks)
        batches = evaluation_batches(self, x, y, batch_size, steps, sample_weight)
        callback_list = CallbackList(callbacks, model=self, steps=batches.steps, verbose=verbose)
        callback_list.on_test_begin()
        # several processes: each evaluates its slice of every batch, and the sums are reduced
        batches = strategy.shard(batches, evaluation=True)
        evaluation = self.make_evaluation(reduce=strategy.reduce_metrics if strategy.world_size > 1 else None)
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

    def make_evaluation(self, reduce=None):
        """What evaluates this model on batches: gpunet's :class:`Evaluation`, or the model's own
        ``test_step`` when its class overrides it (Keras 3)."""
        if type(self).test_step is not Trainer.test_step:
            return StepEvaluation(self, reduce)
        return Evaluation(self, reduce)

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
        ``verbose`` takes Keras's values; gpunet's predict prints nothing.

        Under data parallelism (``gpunet.distributed``) every rank must call it: each predicts its
        slice of every batch, and every rank returns the whole result, in order (the callbacks see
        this rank's slices)."""
        strategy = get_strategy()
        verbose = resolve_verbose(verbose) if strategy.is_main else 0
        callbacks = check_callbacks(callbacks)
        batches = prediction_batches(self, x, batch_size, steps)
        callback_list = CallbackList(callbacks, model=self, steps=batches.steps, verbose=verbose)
        outputs = []  # per batch: this process's part (None for an empty slice)
        own_step = type(self).predict_step is not Trainer.predict_step
        try:
            with self.host_parallelism():
                callback_list.call("on_predict_begin", None)
                for i, (xb, _, _) in enumerate(strategy.shard(batches).iterate()):
                    if not batch_count(xb):  # more processes than samples in this batch: nothing here
                        outputs.append(None)
                        continue
                    callback_list.call_batch("on_predict_batch_begin", i, None)
                    out = self.predict_step((xb,)) if own_step else self.forward(tensors(xb), training=False)
                    outputs.append(tree.map_structure(_array_of, out))
                    callback_list.call_batch("on_predict_batch_end", i, {"outputs": outputs[-1]})
                callback_list.call("on_predict_end", None)
        finally:
            batches.close()
        outputs = [out for out in strategy.gather_batches(outputs) if out is not None]
        return tree.map_structure(_concatenate, *outputs)

    # -- one batch at a time ------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer update on exactly the batch ``(x, y)``, as Keras 3 does it.

        The update is fit's: the model's ``train_step`` (by default the recorded and replayed
        :class:`~gpunet.training.TrainStep`, so a loop of ``train_on_batch`` calls costs what fit's
        steps cost). Returns this batch's loss (computed before the update, regularization
        included) and metrics: the loss alone when no metric is compiled, else ``[loss, *metrics]``,
        or a dict with ``return_dict=True``; the compiled metrics are reset at every call, as in
        Keras. ``x``, ``y`` and ``sample_weight`` may be nests, as in fit; ``class_weight``
        weighs each class (one output).
        """
        check_compiled(self, "train_on_batch")
        check_bool(return_dict, "train_on_batch: return_dict")
        targets = needs_targets(self)
        if y is None and targets:
            raise ValueError("train_on_batch needs the batch's targets y")
        x, y, weights = check_data(self, x, y, sample_weight, targets=targets or y is not None,
                                   class_weight=class_weight)
        data = pack_x_y_sample_weight(*batch_to_device(self, x, y, weights))
        self.reset_metrics()
        with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"), self.host_parallelism():
            logs = self.train_step(data)
            if not isinstance(logs, Mapping):
                raise TypeError(f"train_step must return a dict of logs, got {type(logs).__name__}")
            logs = {key: _log_value(value) for key, value in flatten_logs(logs).items()}
        return _batch_result(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on exactly the batch ``(x, y)``, dropout off (``evaluate`` on one
        batch); returned as :meth:`train_on_batch` returns them."""
        check_compiled(self, "test_on_batch")
        check_bool(return_dict, "test_on_batch: return_dict")
        if y is None and needs_targets(self):
            raise ValueError("test_on_batch needs the batch's targets y")
        x, y, sample_weight = check_data(self, x, y, sample_weight, targets=needs_targets(self) or y is not None)
        return self.evaluate(x, y, batch_size=batch_count(x), verbose=0, sample_weight=sample_weight,
                             return_dict=return_dict)

    def predict_on_batch(self, x):
        """The model's outputs on exactly the batch ``x``, as host NumPy arrays (in the
        structure of the outputs)."""
        x, _, _ = check_data(self, x, targets=False)
        return self.predict(x, batch_size=batch_count(x), verbose=0)

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


def _array_of(value):
    """A prediction as a device array (a Tensor's data)."""
    return value.data if isinstance(value, Tensor) else value


def _concatenate(*batches):
    """The batches of one output, joined, as a host NumPy array."""
    xp = backend.get_array_module(batches[0])
    return backend.to_host(xp.concatenate(batches, axis=0))


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
