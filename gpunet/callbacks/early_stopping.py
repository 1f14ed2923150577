"""EarlyStopping: stop when the monitored value has stopped improving."""

from __future__ import annotations

import numbers
import sys
import warnings

from .monitor import MonitorCallback

__all__ = ["EarlyStopping"]


class EarlyStopping(MonitorCallback):
    """Stop training after ``patience`` evaluations without improvement (Keras 3's rule).

    ``baseline``: training stops unless the monitored value beats it within ``patience``
    evaluations. ``restore_best_weights``: put back the weights of the best evaluation when
    training ends (this happens after fit's own best-on-dev restore, so it wins, and
    ``history.best`` then names this callback's best evaluation).
    ``start_from_epoch``: epochs before this one are not monitored (a warm-up). Only sound
    reports (finite losses and weights) improve or are kept for restoring; when none was, nothing
    is restored and a warning says so.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0, *, min_delta_mode="abs"):
        super().__init__(monitor, mode, min_delta, min_delta_mode)
        for name, value in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if baseline is not None and (isinstance(baseline, bool) or not isinstance(baseline, numbers.Real)):
            raise ValueError(f"baseline must be a number or None, got {baseline!r}")
        self.patience = int(patience)
        self.baseline = None if baseline is None else float(baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.verbose = verbose
        self.reset()

    def reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = None
        self.best = self.initial_best()
        self.best_epoch = None
        self.best_weights = None
        self._weights_epoch = None
        self._monitored = False

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.reset()  # as Keras: each fit starts afresh (a resumed fit gets its saved state back after this)

    def on_epoch_end(self, epoch, logs=None):
        current = self.current(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        self._monitored = True
        sound = self.model.report_is_sound(logs)
        if self.restore_best_weights and self.best_weights is None and sound:
            self.best_weights, self._weights_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if sound and self.is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights, self._weights_epoch = self.model.get_weights(), epoch
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch is not None and self.verbose:
            sys.stdout.write(f"Epoch {self.stopped_epoch + 1}: early stopping\n")
        if self.restore_best_weights and self.best_weights is not None:
            value = self.best if self.best_epoch is not None else None  # None: nothing ever improved
            self.model.restore_weights(self.best_weights, epoch=self._weights_epoch, monitor=self.monitor, value=value,
                                       by="EarlyStopping")
        elif self.restore_best_weights and self.best_epoch is None and self._monitored:
            warnings.warn("EarlyStopping: no report had finite losses and weights, so there are no best weights to "
                          "restore; the model keeps its last weights", stacklevel=2)

    def get_state(self):
        return {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch}

    def set_state(self, state):
        self.best = float(state["best"])
        self.wait = int(state["wait"])
        self.best_epoch = state.get("best_epoch")
