"""ProgbarLogger: what fit prints (a live bar on a terminal, or one line per epoch)."""

from __future__ import annotations

import math
import sys
import time

from .base import Callback

__all__ = ["ProgbarLogger", "format_logs"]


def format_logs(logs) -> str:
    """``loss: 0.3012 - accuracy: 0.8931 - ... - learning_rate: 0.001``."""
    parts = []
    for key, value in logs.items():
        if key == "epoch_time":
            continue
        if key == "learning_rate":
            parts.append(f"{key}: {value:.4g}")
        elif isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            parts.append(f"{key}: {value}")
        else:
            parts.append(f"{key}: {value:.4f}")
    return " - ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ProgbarLogger(Callback):
    """Prints fit's progress.

    ``verbose=1``: a live bar (steps, elapsed time, ETA, running loss and metrics) redrawn at most
    every ``refresh_interval`` seconds — reading the running values is the only time it waits for
    the GPU — and, at each report, the full line with the dev values, learning rate and time.
    ``verbose=2``: one line per report. fit picks 1 on a terminal and 2 otherwise
    (``verbose="auto"``).
    """

    loadable = False  # fit's own

    main_process_only = True  # prints or writes files: rank 0 only in a data-parallel fit

    def __init__(self, verbose: int = 1, stream=None, refresh_interval: float = 0.25, bar_width: int = 30):
        super().__init__()
        if verbose not in (1, 2):
            raise ValueError(f"verbose must be 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self._stream = stream
        self.refresh_interval = refresh_interval
        self.bar_width = bar_width

    @property
    def stream(self):
        return self._stream or sys.stdout

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self._last_draw = time.perf_counter()
        self._done = 0
        self._reports = 0
        if self.verbose == 1:
            self._write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}\n")

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose != 1:
            return
        self._done = done = batch + 1
        now = time.perf_counter()
        steps = self.params.get("steps") or 0
        if now - self._last_draw < self.refresh_interval and done < steps:
            return
        self._last_draw = now
        elapsed = now - self._epoch_start
        eta = elapsed / done * (steps - done) if steps else 0.0
        values = format_logs(logs or {})
        line = f"\r{self._bar(done, steps)} - {_duration(elapsed)} - ETA {_duration(eta)}" + (f" - {values}" if values else "")
        self._write(line + "\x1b[K")  # clear what a longer previous line left

    def _bar(self, done: int, steps: int) -> str:
        width = len(str(steps))
        if not steps:
            return f"{done}"
        filled = int(self.bar_width * done / steps)
        arrow = ">" if filled < self.bar_width else ""
        return f"{done:>{width}}/{steps} [" + "=" * filled + arrow + "." * (self.bar_width - filled - len(arrow)) + "]"

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = logs.get("epoch_time", time.perf_counter() - self._epoch_start)
        text = format_logs(logs)
        self._reports += 1
        evaluations = self.params.get("validations_per_epoch", 1)
        if evaluations > 1 and self.params.get("do_validation"):
            text = f"dev {self._reports}/{evaluations} - {text}"
        if self.verbose == 1:
            steps = self.params.get("steps") or 0
            self._write(f"\r{self._bar(self._done or steps, steps)} - {_duration(elapsed)} - {text}\x1b[K\n")
        else:
            self._write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')} - {_duration(elapsed)} - {text}\n")
