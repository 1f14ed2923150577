"""TerminateOnNaN: stop as soon as the training loss is NaN or infinite."""

from __future__ import annotations

import math

from .base import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose running loss is not finite.

    The batch still ends its epoch report (so the History shows the value), but fit's
    best-on-dev weights are restored and checkpoints are not overwritten with the broken model
    (ModelCheckpoint never saves when the loss is not finite). With ``raise_error=True`` a
    ``RuntimeError`` is raised instead, after the same restore. Reading the loss every batch
    waits for the GPU every batch: keep this callback for runs that may diverge.
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = bool(raise_error)
        self.stopped = None  # (epoch, batch, loss) where training stopped

    def on_train_begin(self, logs=None):
        self.stopped = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss) and self.stopped is None:
            self.stopped = (self._epoch, batch, loss)
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped is not None and self.raise_error:
            epoch, batch, loss = self.stopped
            raise RuntimeError(
                f"training stopped: the loss became {loss} at epoch {epoch + 1}, batch {batch} "
                "(the best-on-dev weights were restored first)"
            )
