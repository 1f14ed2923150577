"""ModelCheckpoint: save the model (or its weights) during training, atomically."""

from __future__ import annotations

import numbers
import os
import sys
import warnings

from .monitor import MonitorCallback

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(MonitorCallback):
    """Save to ``filepath`` at the end of every epoch (or every ``save_freq`` batches).

    ``filepath`` may hold ``{epoch}`` (1-based, like Keras) and any logged value, e.g.
    ``"ck-{epoch:02d}-{val_accuracy:.3f}.h5"``. With ``save_best_only=True`` a file is written only
    when ``monitor`` improves (the course's dev-based model selection); a ``monitor`` that fit
    never logs is refused when training begins, with the available keys (Keras silently saves
    every epoch instead). Full saves (``save_weights_only=False``) include the optimizer and the
    training state, so ``load_model(path).fit(..., initial_epoch=k)`` resumes exactly.

    Every write goes to a temporary file in the same folder and replaces the target atomically:
    a process killed at any moment leaves the previous checkpoint loadable. Only sound reports are
    written: a model whose losses (training or dev) or weights are NaN or infinite is never saved,
    so a good file is never overwritten by a diverged model. ``save_best_only`` with a batch
    ``save_freq`` needs a monitor the batch logs hold (``loss`` or a training metric); a dev value
    (``val_*``) is only known at reports, so that combination is refused when training begins.
    """

    main_process_only = True  # prints or writes files: rank 0 only in a data-parallel fit

    runs_last = True  # save after the other callbacks have handled the epoch

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode)
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"filepath must be a path, got {type(filepath).__name__}")
        self.filepath = os.fspath(filepath)
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, numbers.Integral) or save_freq < 1):
            raise ValueError(f"save_freq must be 'epoch' or a positive number of batches, got {save_freq!r}")
        if initial_value_threshold is not None and (isinstance(initial_value_threshold, bool) or not isinstance(initial_value_threshold, numbers.Real)):
            raise ValueError(f"initial_value_threshold must be a number or None, got {initial_value_threshold!r}")
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = save_freq
        self.verbose = verbose
        self.best = self.initial_best() if initial_value_threshold is None else float(initial_value_threshold)
        self.last_saved = None
        self._batches = 0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        if self.save_best_only:
            self.check_monitor_available()
            batch_keys = self.params.get("batch_log_keys")
            if self.save_freq != "epoch" and batch_keys is not None and self.monitor not in batch_keys:
                raise ValueError(
                    f"ModelCheckpoint(save_best_only=True, save_freq={self.save_freq}) monitors {self.monitor!r}, which "
                    f"batches never log (they log {', '.join(batch_keys)}): use save_freq='epoch' for dev values"
                )
        self.model.check_save_path(self.filepath, template="{" in os.path.basename(self.filepath), weights=self.save_weights_only)
        self._batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, dict(logs or {}))

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._save(self._epoch, {"batch": batch, **dict(logs or {})})

    def _path(self, epoch, logs) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as exc:
            raise ValueError(
                f"ModelCheckpoint filepath {self.filepath!r} names {exc.args[0]!r}, which is not logged; "
                f"available keys: epoch, {', '.join(logs)}"
            ) from None

    def _save(self, epoch, logs) -> None:
        if not self.model.report_is_sound(logs):
            warnings.warn(f"ModelCheckpoint: not saving at epoch {epoch + 1}: the losses or the weights are not finite "
                          f"(loss {logs.get('loss')}, val_loss {logs.get('val_loss')})", stacklevel=2)
            return
        if self.save_best_only:
            current = self.current(logs)
            if current is None or not self.is_improvement(current, self.best):
                return
            previous, self.best = self.best, current
            note = f"{self.monitor} improved from {previous:.5f} to {current:.5f}"
        else:
            note = "saving model"
        path = self._path(epoch, logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self.last_saved = path
        if self.verbose:
            sys.stdout.write(f"Epoch {epoch + 1}: {note}, saved to {path}\n")

    def get_state(self):
        return {"best": self.best}

    def set_state(self, state):
        self.best = float(state["best"])
