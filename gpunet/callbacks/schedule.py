"""LearningRateScheduler: set the learning rate at the start of each epoch from a function."""

from __future__ import annotations

import inspect
import math
import numbers
import sys

from .base import Callback

__all__ = ["LearningRateScheduler"]


def _takes_two(fn) -> bool:
    try:
        params = [
            p for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        return True
    return len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


class LearningRateScheduler(Callback):
    """``schedule(epoch, lr) -> new lr`` (or ``schedule(epoch)``), called at each epoch's start
    with the 0-based epoch index.

    As in Keras, ``on_epoch_end`` logs the optimizer's rate as it is then: after a
    ``ReduceLROnPlateau`` placed before this callback lowered it, the lowered rate."""

    loadable = False  # it holds a Python function, which no file can carry

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be callable as schedule(epoch, lr) or schedule(epoch), got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = verbose
        self._two = _takes_two(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if optimizer.schedule is not None:
            raise ValueError("LearningRateScheduler cannot drive an optimizer whose learning rate is already a schedule")
        lr = self.schedule(epoch, optimizer.learning_rate) if self._two else self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr < 0:
            raise ValueError(f"the schedule must return a finite number >= 0, got {lr!r} at epoch {epoch + 1}")
        optimizer.learning_rate = float(lr)
        if self.verbose:
            sys.stdout.write(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr:.4g}.\n")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate
