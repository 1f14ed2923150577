"""History: the record of every report of fit, returned by ``model.fit``."""

from __future__ import annotations

from .base import Callback

__all__ = ["History"]


class History(Callback):
    """``history.history[key]`` lists the value of ``key`` at each report (each epoch, or each dev
    evaluation with ``validations_per_epoch`` > 1); ``history.epoch`` lists the epochs (0-based)."""

    loadable = False  # fit's own

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
