"""BackupAndRestore: resume an interrupted fit where its last backup stopped, exactly."""

from __future__ import annotations

import contextlib
import os
import warnings

from .base import EpochEndCallback

__all__ = ["BackupAndRestore"]

LATEST = "latest.h5"
PREVIOUS = "previous.h5"


def _rename_weights(state: dict, model) -> None:
    """Key the state by this model's weight names. A model built again in the same process (a
    notebook cell run twice) has new automatic names (``dense_3/kernel`` for ``dense/kernel``);
    the backup lists the names it was written with, in order, so the optimizer's slots and fit's
    best weights are matched to the same weights under their new names."""
    fit = state.get("fit") or {}
    saved = next((s["weight_names"] for s in (fit.get("callbacks") or {}).values()
                  if isinstance(s, dict) and isinstance(s.get("weight_names"), list)), None)
    current = [p.name for p in model.weights]
    if saved is None or len(saved) != len(current) or saved == current:
        return
    rename = dict(zip(saved, current))
    optimizer, best = state.get("optimizer"), fit.get("best")
    for holder, key in ((optimizer, "slots"), (best, "weights")):
        if isinstance(holder, dict) and isinstance(holder.get(key), dict):
            holder[key] = {rename.get(name, name): value for name, value in holder[key].items()}


class BackupAndRestore(EpochEndCallback):
    """Back up the whole training state at the end of every epoch, so that a fit interrupted by
    an exception, a Ctrl-C or a killed process resumes where the last backup stopped.

    The next ``fit`` given a ``BackupAndRestore`` on the same ``backup_dir`` finds the backup,
    loads it into the model and starts at the epoch after the one backed up, with no
    ``initial_epoch`` to pass (the backup's epoch wins over ``initial_epoch``, as in Keras). The
    backup is a full gpunet checkpoint (``backup_dir/latest.h5``): weights, optimizer state,
    random streams, fit's best dev weights and the other callbacks' counters, so on the CPU the
    resumed fit ends with weights bitwise equal to a run that was never interrupted (on the GPU
    the dropout stream is CuPy's and is not stored). Like ``History``, the resumed fit's history
    holds only the epochs it ran.

    Args:
        backup_dir: the folder for the backup, created if missing. It belongs to this callback:
            do not share it with another run or another callback.
        save_freq: ``"epoch"`` (the only value accepted). Keras also takes a number of batches;
            gpunet resumes exactly only from the end of an epoch, so it refuses one.
        double_checkpoint: also keep the backup before the last one (``previous.h5``), used
            when the last one cannot be read.
        delete_checkpoint: remove the backup when fit ends normally (all epochs done, or stopped
            by a callback such as EarlyStopping). The backup of an interrupted fit always stays.
            Only this callback's files are removed, and then the folder if it is left empty.

    Each backup is written to a temporary file and moved over the previous one atomically, so a
    process killed at any moment, even during a write, leaves a loadable backup. A report whose
    losses or weights are not finite is not backed up (the previous backup stays). With
    ``fit(validations_per_epoch=K)`` the backup is written at the epoch's last report. An
    interruption during the first epoch leaves nothing to resume: the next fit starts over from
    the weights the model holds.

    Example::

        backup = gpunet.callbacks.BackupAndRestore("run-backup")
        model.fit(x, y, epochs=20, callbacks=[backup])   # killed during epoch 8
        model.fit(x, y, epochs=20, callbacks=[backup])   # in a new process: runs epochs 8 to 20
    """

    main_process_only = True  # prints or writes files: rank 0 only in a data-parallel fit

    runs_last = True  # back up after the other callbacks have handled the epoch

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)):
            raise TypeError(f"backup_dir must be a folder path (str or os.PathLike), got {type(backup_dir).__name__}")
        backup_dir = os.fspath(backup_dir)
        if not backup_dir:
            raise ValueError("backup_dir must be a folder path, got an empty string")
        if save_freq != "epoch":
            raise ValueError(
                f"BackupAndRestore: save_freq must be 'epoch', got {save_freq!r}; gpunet resumes a fit exactly only "
                "from the end of an epoch (the shuffling order and running metrics of an epoch in progress are not stored)"
            )
        for name, value in (("double_checkpoint", double_checkpoint), ("delete_checkpoint", delete_checkpoint)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        self.backup_dir = backup_dir
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._next_epoch = 0  # the epoch a fit resumed from the newest backup would start at

    @property
    def latest_path(self) -> str:
        return os.path.join(self.backup_dir, LATEST)

    @property
    def previous_path(self) -> str:
        return os.path.join(self.backup_dir, PREVIOUS)

    # -- restoring ------------------------------------------------------------------------------
    def resume_epoch(self, initial_epoch: int) -> int:
        """Load the backup (if there is one) into the model; the epoch fit starts at."""
        self._next_epoch = initial_epoch
        candidates = [self.latest_path] + ([self.previous_path] if self.double_checkpoint else [])
        candidates = [path for path in candidates if os.path.isfile(path)]
        for i, path in enumerate(candidates):
            try:
                self._next_epoch = self._restore(path)
            except OSError as exc:  # a damaged file: the previous backup, if there is one
                if i + 1 == len(candidates):
                    raise
                warnings.warn(f"BackupAndRestore: {exc}; restoring the previous backup {candidates[i + 1]}",
                              stacklevel=3)
                continue
            return self._next_epoch
        return initial_epoch

    def _restore(self, path: str) -> int:
        state = self.model.read_training_state(path)
        fit = state.get("fit")
        epoch = fit.get("epoch") if isinstance(fit, dict) else None
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0 or not fit.get("epoch_complete", True):
            raise ValueError(f"BackupAndRestore: {path} holds no fit state at the end of an epoch; it was not written "
                             f"by BackupAndRestore (remove it, or choose another backup_dir)")
        model = self.model
        saved = (state.get("optimizer") or {}).get("class_name")
        if saved is not None and saved != type(model.optimizer).__name__:
            raise ValueError(f"BackupAndRestore: the backup {path} was written by a fit with a {saved} optimizer, this "
                             f"model's is {type(model.optimizer).__name__}; restore it with the same model and compile, "
                             f"or remove {self.backup_dir} to start over")
        _rename_weights(state, model)
        model.load_weights(path)  # every shape checked before any weight is set
        model.set_state(state)  # the optimizer now; the fit's state for this fit to take back
        return epoch

    # -- backing up -----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        self.model.check_save_path(self.latest_path)

    def on_epoch_end(self, epoch, logs=None):
        if not self.ends_epoch():
            return
        self._next_epoch = epoch + 1
        if not self.model.report_is_sound(logs):
            warnings.warn(f"BackupAndRestore: no backup of epoch {epoch + 1}: its losses or weights are not finite; "
                          "the previous backup stays", stacklevel=2)
            return
        if self.double_checkpoint and os.path.isfile(self.latest_path):
            os.replace(self.latest_path, self.previous_path)  # atomic; until the new one is written the
            # previous backup is the one restored
        self.model.save(self.latest_path)

    def on_train_end(self, logs=None):
        finished = self.model.stop_training or self._next_epoch >= self.params.get("epochs", 0)
        if finished and self.delete_checkpoint:
            self._delete()

    def _delete(self) -> None:
        for path in (self.latest_path, self.previous_path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        with contextlib.suppress(OSError):
            for name in os.listdir(self.backup_dir):  # what a writer killed mid-save left behind
                if name.startswith((f".{LATEST}.", f".{PREVIOUS}.")):  # the atomic writer's temporary files
                    os.remove(os.path.join(self.backup_dir, name))
            os.rmdir(self.backup_dir)  # only when nothing else is in it

    def get_state(self) -> dict:
        return {"weight_names": [p.name for p in self.model.weights]}

    def get_config(self) -> dict:
        return {"backup_dir": self.backup_dir, "save_freq": self.save_freq,
                "double_checkpoint": self.double_checkpoint, "delete_checkpoint": self.delete_checkpoint}
