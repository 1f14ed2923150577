"""Evaluation on dev data, and best-on-dev model selection (the course's ``EVALUATE(f, D)`` and
``if devacc > bestdev: keep theta``)."""

from __future__ import annotations

import math

from .. import backend, ops
from ..autograd import Tensor, no_grad
from ..metrics import ACCURACIES, Mean
from ..dtype_policies import float_output
from .step import fresh_metrics

__all__ = ["Evaluation", "BestWeights", "dev_monitor"]


class Evaluation:
    """Mean loss and metrics of a compiled model over batches (arrays, or a stream's ``steps``
    batches): dropout off, no graph. ``reduce(metrics) -> metrics`` combines the sums of several
    processes, each of which evaluated its part of the data (see
    :meth:`~gpunet.training.strategy.Strategy.reduce_metrics`)."""

    def __init__(self, model, reduce=None):
        self.model = model
        self.reduce = reduce
        self.loss = Mean(name="loss")
        self.metrics = fresh_metrics(model.metrics)
        self.steps = 0  # batches the last run read

    @no_grad()
    def run(self, batches, callbacks=None) -> dict:
        model = self.model
        fused = model.output_is_fused()
        logits = fused or model.loss.from_logits
        self.loss.reset()
        for m in self.metrics:
            m.reset()
        self.steps = 0
        for i, (xb, yb) in enumerate(batches.iterate()):
            self.steps = i + 1
            if callbacks is not None:
                callbacks.call_batch("on_test_batch_begin", i, None)
            out = model.forward(Tensor._result(xb, None), training=False, logits=fused)
            loss = model.loss.compute(ops.cast(out, float_output(out.dtype)), Tensor._result(yb, None), logits)
            for penalty in model.losses:  # regularization is part of the reported loss, as in Keras
                loss = loss + penalty
            self.loss.update_value(loss.data, xb.shape[0])
            for m in self.metrics:
                m.update(out.data, yb, logits)
            if callbacks is not None:
                callbacks.call_batch("on_test_batch_end", i, None)
        loss, *metrics = [self.loss, *self.metrics] if self.reduce is None else self.reduce([self.loss, *self.metrics])
        logs = {"loss": loss.result()}
        logs.update((m.name, m.result()) for m in metrics)
        return logs


def dev_monitor(model) -> tuple[str, str]:
    """What fit's best-on-dev tracking watches: dev accuracy when there is one, else dev loss."""
    for metric in model.metrics:
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
