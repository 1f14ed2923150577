"""ReduceLROnPlateau: the course's step-size rule, decay when dev accuracy stops improving."""

from __future__ import annotations

import numbers
import sys

from .monitor import MonitorCallback

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for ``patience``
    consecutive evaluations.

    Counting follows Keras: with ``patience=2`` the rate drops at the end of the second epoch
    without improvement. After a drop, ``cooldown`` evaluations are not counted; the rate never
    goes below ``min_lr``. With ``validations_per_epoch=K`` in fit, each dev evaluation counts.
    ``min_delta_mode="rel"`` compares relative to the best value (PyTorch's ``threshold_mode``).
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, *, min_delta_mode="abs"):
        super().__init__(monitor, mode, min_delta, min_delta_mode)
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 <= factor < 1:
            raise ValueError(f"factor must be a number in [0, 1), got {factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if isinstance(min_lr, bool) or not isinstance(min_lr, numbers.Real) or min_lr < 0:
            raise ValueError(f"min_lr must be a number >= 0, got {min_lr!r}")
        self.factor = float(factor)
        self.patience = int(patience)
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.verbose = verbose
        self.reset()

    def reset(self) -> None:
        self.best = self.initial_best()
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.reset()  # as Keras; a resumed fit gets its saved counters back after this
        if self.model.optimizer.schedule is not None:
            raise ValueError("ReduceLROnPlateau cannot change a learning rate that follows a schedule; use a constant rate")

    def on_epoch_end(self, epoch, logs=None):
        current = self.current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best) and self.model.report_is_sound(logs):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                optimizer = self.model.optimizer
                old = optimizer.learning_rate
                if old > self.min_lr:
                    optimizer.learning_rate = max(old * self.factor, self.min_lr)
                    if self.verbose:
                        sys.stdout.write(
                            f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate from {old:.4g} to {optimizer.learning_rate:.4g}.\n"
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def get_state(self):
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def set_state(self, state):
        self.best = float(state["best"])
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])
