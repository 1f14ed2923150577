"""Evaluation on dev data, and best-on-dev model selection (the course's ``EVALUATE(f, D)`` and
``if devacc > bestdev: keep theta``)."""

from __future__ import annotations

import math

from .. import backend, tree
from ..autograd import Tensor, no_grad
from ..data.structure import batch_count, pack_x_y_sample_weight
from ..metrics import ACCURACIES
from .arguments import output_activations
from .compiled import flatten_logs

__all__ = ["Evaluation", "StepEvaluation", "BestWeights", "dev_monitor", "tensors"]


class Evaluation:
    """Mean loss and metrics of a compiled model over batches (arrays, or a stream's ``steps``
    batches): dropout off, no graph. ``reduce(metrics) -> metrics`` combines the sums of several
    processes, each of which evaluated its part of the data (see
    :meth:`~gpunet.training.strategy.Strategy.reduce_metrics`)."""

    def __init__(self, model, reduce=None):
        self.model = model
        self.reduce = reduce
        self.compiled = model.compiled_outputs
        self.trackers = self.compiled.trackers()
        self.loss, self.metrics = self.trackers[0], self.trackers[1:]
        self.steps = 0  # batches the last run read

    @no_grad()
    def run(self, batches, callbacks=None) -> dict:
        model, compiled = self.model, self.compiled
        fused, logits = compiled.logits_flags(output_activations(model))
        fuse = fused if compiled.several else fused[0]
        for m in self.trackers:
            m.reset()
        self.steps = 0
        own_loss = model.overrides("compute_loss")
        if own_loss:
            fuse, logits = (False if not compiled.several else [False] * len(logits)), \
                [e.loss is not None and e.loss.from_logits for e in compiled.entries]
        for i, (xb, yb, wb) in enumerate(batches.iterate()):
            self.steps = i + 1
            if callbacks is not None:
                callbacks.call_batch("on_test_batch_begin", i, None)
            y_pred = model.forward(tensors(xb), training=False, logits=fuse)
            outputs = tree.flatten(y_pred)
            targets = compiled.align(yb, "y")
            weights = compiled.align(wb, "sample_weight", True)
            if own_loss:
                values = [None] * len(outputs)
                loss = model.call_compute_loss(xb, yb, y_pred, wb, training=False)
            else:
                values = compiled.losses(outputs, targets, weights, logits)
                loss = compiled.total(values)
                for penalty in model.losses:  # regularization is part of the reported loss, as in Keras
                    loss = penalty if loss is None else loss + penalty
            if loss is None:
                loss = Tensor(backend.array_module().zeros((), dtype=backend.floatx()))
            compiled.update_losses(self.trackers, loss.data, [None if v is None else v.data for v in values],
                                   batch_count(xb))
            compiled.update_metrics(self.trackers, outputs, targets, weights, logits)
            if callbacks is not None:
                callbacks.call_batch("on_test_batch_end", i, None)
        trackers = self.trackers if self.reduce is None else self.reduce(self.trackers)
        return {m.name: _plain(m.result()) for m in trackers}


def tensors(x):
    """A batch's inputs as Tensors, in their structure."""
    return tree.map_structure(lambda a: None if a is None else Tensor._result(a, None), x)


def dev_monitor(model) -> tuple[str, str]:
    """What fit's best-on-dev tracking watches: dev accuracy when there is one, else dev loss."""
    for metric in model.compiled_metrics:
        if isinstance(metric, ACCURACIES):
            return f"val_{metric.name}", "max"
    return "val_loss", "min"


class BestWeights:
    """Copies of the weights at the best dev score so far, in preallocated device buffers.

    ``update(epoch, logs, sound)`` keeps a copy when the monitored value improves on a sound report
    (finite losses and weights); ``copies()`` gives them back. A tie on the monitored value is
    broken by the dev loss (lower wins), so that a small dev set whose accuracy saturates still
    selects the better model. Its state (``get_state``/``set_state``) is the best value, its epoch
    and the copies, so that a checkpoint resumes the selection where it stopped.
    """

    def __init__(self, weights, monitor: str, mode: str):
        self.weights = list(weights)
        self.monitor = monitor
        self.mode = mode
        self.value = -math.inf if mode == "max" else math.inf
        self.loss = math.inf  # the dev loss of the best report, to break ties
        self.epoch = None
        self._copies = None

    def improved(self, value, loss=None) -> bool:
        if value is None or math.isnan(value):
            return False
        if value == self.value and self.monitor != "val_loss":
            return loss is not None and loss < self.loss
        return value > self.value if self.mode == "max" else value < self.value

    def update(self, epoch, logs: dict, sound: bool = True) -> bool:
        value, loss = logs.get(self.monitor), logs.get("val_loss")
        if not sound or not self.improved(value, loss):
            return False
        self.value, self.epoch = value, epoch
        self.loss = math.inf if loss is None else loss
        if self._copies is None:
            self._copies = [backend.get_array_module(p.data).empty_like(p.data) for p in self.weights]
        for buffer, p in zip(self._copies, self.weights):
            buffer[...] = p.data
        return True

    def copies(self) -> list | None:
        """The kept weights as host arrays (None before any improvement)."""
        return None if self._copies is None else [backend.to_host(c).copy() for c in self._copies]

    def record(self) -> dict | None:
        """``{"monitor", "value", "epoch"}`` of the best report, or None."""
        return None if self.epoch is None else {"monitor": self.monitor, "value": self.value, "epoch": self.epoch}

    def get_state(self) -> dict:
        state = {"monitor": self.monitor, "value": self.value, "epoch": self.epoch, "loss": self.loss}
        if self._copies is not None:
            state["weights"] = {p.name: backend.to_host(c).copy() for p, c in zip(self.weights, self._copies)}
        return state

    def set_state(self, state: dict) -> None:
        """Take back a saved selection if it watched the same value and holds every weight with
        the right shape; otherwise keep starting afresh."""
        weights = state.get("weights") or {}
        if state.get("monitor") != self.monitor or state.get("epoch") is None:
            return
        if not all(p.name in weights and tuple(weights[p.name].shape) == tuple(p.shape) for p in self.weights):
            return
        self.value, self.epoch = float(state["value"]), int(state["epoch"])
        self.loss = float(state.get("loss", math.inf))
        self._copies = [backend.on_device_of(weights[p.name].astype(p.dtype, copy=False), p.data) for p in self.weights]


class StepEvaluation:
    """Evaluation by the model's own ``test_step`` (Keras 3): ``model.metrics`` reset, then
    ``test_step((x, y, sample_weight))`` on every batch; the logs are what the last call returned."""

    def __init__(self, model, reduce=None):
        self.model = model
        self.reduce = reduce  # several processes: each reports its own part (test_step's metrics are the model's)
        self.steps = 0

    @no_grad()
    def run(self, batches, callbacks=None) -> dict:
        model = self.model
        for metric in model.metrics:
            metric.reset_state()
        logs, self.steps = {}, 0
        for i, batch in enumerate(batches.iterate()):
            self.steps = i + 1
            if callbacks is not None:
                callbacks.call_batch("on_test_batch_begin", i, None)
            logs = model.test_step(pack_x_y_sample_weight(*batch))
            if callbacks is not None:
                callbacks.call_batch("on_test_batch_end", i, None)
        return {key: _number(value) for key, value in flatten_logs(logs).items()}


def _plain(value):
    """A metric's result as logs hold it: a Tensor (a Keras-style metric's) as a float."""
    return _number(value) if isinstance(value, Tensor) else value


def _number(value):
    """A log value as a Python float (a Tensor's or an array's one element)."""
    value = value.data if isinstance(value, Tensor) else value
    return float(backend.to_host(value).reshape(())) if hasattr(value, "shape") else float(value)
