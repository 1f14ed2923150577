"""What the monitoring callbacks share: which log value to watch and when it improved."""

from __future__ import annotations

import math
import numbers

from .base import Callback

__all__ = ["MonitorCallback"]


class MonitorCallback(Callback):
    """Base of callbacks that watch one value of the logs (ModelCheckpoint, ReduceLROnPlateau,
    EarlyStopping).

    ``mode`` is ``"min"``, ``"max"`` or ``"auto"``: as in Keras 3, ``auto`` takes the direction of
    the compiled metric the key names (up for accuracy, precision, recall, AUC; down for errors),
    min for losses, and, for a key no metric names, max when it contains "acc", else min.
    A value improves on ``best`` when it beats it by more than ``min_delta``: by an absolute
    amount (``min_delta_mode="abs"``, Keras's rule) or relative to ``best`` (``"rel"``, PyTorch's
    ``threshold_mode="rel"``). NaN never improves.

    A monitored key that fit will never log is refused when training begins, with the keys that
    are available, rather than silently ignored.

    A report counts as an improvement only when it is *sound*: its losses (``loss``,
    ``val_loss``) and the model's weights are finite (``model.report_is_sound(logs)``). A model
    whose weights went NaN predicts one class everywhere, and its accuracy may look better than
    before; it is never "best".
    """

    loadable = False  # a base class, not a callback of its own

    def __init__(self, monitor: str, mode: str = "auto", min_delta: float = 0.0, min_delta_mode: str = "abs"):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be the name of a logged value such as 'val_loss', got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) or not math.isfinite(min_delta):
            raise ValueError(f"min_delta must be a finite number, got {min_delta!r}")
        if min_delta_mode not in ("abs", "rel"):
            raise ValueError(f"min_delta_mode must be 'abs' or 'rel', got {min_delta_mode!r}")
        self.monitor = monitor
        self.auto_mode = mode == "auto"
        self.mode = self._guess_mode() if self.auto_mode else mode
        self.min_delta = abs(float(min_delta))
        self.min_delta_mode = min_delta_mode

    def _guess_mode(self) -> str:
        """The direction for ``mode="auto"``: the named metric's, when the model is known."""
        name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
        if name.endswith("loss"):
            return "min"
        model = getattr(self, "model", None)
        for metric in getattr(model, "compiled_metrics", None) or getattr(model, "metrics", None) or []:
            if getattr(metric, "name", None) == name and getattr(metric, "direction", None) in ("up", "down"):
                return "max" if metric.direction == "up" else "min"
        return "max" if ("acc" in name or name.startswith("fmeasure")) else "min"

    def initial_best(self) -> float:
        return -math.inf if self.mode == "max" else math.inf

    def is_improvement(self, current, best) -> bool:
        if current is None or math.isnan(current):
            return False
        if best is None:
            return True
        if self.min_delta_mode == "rel" and math.isfinite(best):
            margin = abs(best) * self.min_delta
        else:
            margin = self.min_delta if math.isfinite(best) else 0.0
        return current > best + margin if self.mode == "max" else current < best - margin

    def check_monitor_available(self) -> None:
        """Raise ValueError when fit's logs will never hold the monitored key; settle ``mode="auto"``
        from the compiled metrics."""
        if self.auto_mode and self._guess_mode() != self.mode:
            untouched = getattr(self, "best", None) == self.initial_best()
            self.mode = self._guess_mode()
            if untouched:  # a best still at the old direction's starting value
                self.best = self.initial_best()
        available = self.params.get("log_keys")
        if available is not None and self.monitor not in available:
            raise ValueError(
                f"{type(self).__name__} monitors {self.monitor!r}, which this fit never logs; "
                f"available keys: {', '.join(available)}"
            )

    def on_train_begin(self, logs=None):
        self.check_monitor_available()

    def current(self, logs):
        value = (logs or {}).get(self.monitor)
        return None if value is None else float(value)
