"""BackupAndRestore: resume an interrupted fit where its last backup stopped, exactly."""

from __future__ import annotations

import contextlib
import json
import os
import warnings

from ..backend.random import get_seed
from .base import EpochEndCallback, check_folder

__all__ = ["BackupAndRestore", "run_configuration"]

LATEST = "latest.h5"
PREVIOUS = "previous.h5"
_SHOWN = 6  # differences named in the error; the others are counted


def _without_names(tree):
    """``tree`` without its ``name`` entries: automatic names (``dense_3``) differ between two
    builds of the same model in one process, and say nothing about what is trained."""
    if isinstance(tree, dict):
        return {key: _without_names(value) for key, value in tree.items() if key != "name"}
    if isinstance(tree, list):
        return [_without_names(value) for value in tree]
    return tree


def run_configuration(model) -> dict:
    """What a backup must match to be resumed, as JSON values: the ``architecture`` (the model's
    config without layer names: layers, their arguments, dtype policies, ``trainable``), the
    ``optimizer`` (class and configuration as compiled), the ``loss`` and the ``metrics`` (see
    ``model.compiled_configuration()``), and the ``seed`` last given to
    ``gpunet.utils.set_random_seed`` (None if none was). Fit's own arguments (batch size, data,
    callbacks) are not part of it."""
    compiled = model.compiled_configuration()
    return {"architecture": _without_names(json.loads(model.to_json())),
            "optimizer": _without_names(compiled["optimizer"]), "loss": compiled["loss"],
            "metrics": compiled["metrics"], "seed": get_seed()}


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _differences(saved, current, where: str) -> list:
    """What differs between two configurations, one line per difference (``where``: the path)."""
    if isinstance(saved, dict) and isinstance(current, dict):
        if "class_name" in saved and "class_name" in current:  # a serialized object: named by its class
            if saved["class_name"] != current["class_name"]:
                return [f"{where}: {saved['class_name']} in the backup, {current['class_name']} now"]
            where = f"{where} {saved['class_name']}"
            saved, current = saved.get("config") or {}, current.get("config") or {}
            if not isinstance(saved, dict) or not isinstance(current, dict):
                return _differences(saved, current, where)
        lines = []
        for key in sorted(set(saved) | set(current)):
            inner = f"{where} {key}".strip()
            if key not in saved or key not in current:
                lines.append(f"{inner}: {_short(saved.get(key))} in the backup, {_short(current.get(key))} now")
            else:
                lines += _differences(saved[key], current[key], inner)
        return lines
    if isinstance(saved, list) and isinstance(current, list):
        if len(saved) != len(current):
            return [f"{where}: {len(saved)} entries in the backup, {len(current)} now"]
        return [line for i, (a, b) in enumerate(zip(saved, current)) for line in _differences(a, b, f"{where}[{i}]")]
    return [] if saved == current else [f"{where}: {_short(saved)} in the backup, {_short(current)} now"]


def _saved_entry(state: dict):
    """BackupAndRestore's own state in a backup's fit state (the entry that lists weight names)."""
    fit = state.get("fit") or {}
    return next((s for s in (fit.get("callbacks") or {}).values()
                 if isinstance(s, dict) and isinstance(s.get("weight_names"), list)), None)


def _rename_weights(state: dict, model) -> None:
    """Key the state by this model's weight names. A model built again in the same process (a
    notebook cell run twice) has new automatic names (``dense_3/kernel`` for ``dense/kernel``);
    the backup lists the names it was written with, in order, so the optimizer's slots and fit's
    best weights are matched to the same weights under their new names."""
    fit = state.get("fit") or {}
    saved = (_saved_entry(state) or {}).get("weight_names")
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
            do not share it with another run or another callback. A folder a checkpoint could
            not be saved in (read-only, also for root) is refused when training begins.
        save_freq: ``"epoch"`` (the only value accepted). Keras also takes a number of batches;
            gpunet resumes exactly only from the end of an epoch, so it refuses one.
        double_checkpoint: also keep the backup before the last one (``previous.h5``), used
            when the last one cannot be read.
        delete_checkpoint: remove the backup when fit ends normally (all epochs done, or stopped
            by a callback such as EarlyStopping). The backup of an interrupted fit always stays.
            Only this callback's files are removed, and then the folder if it is left empty.

    A backup is resumed only by the run that wrote it: the same :func:`run_configuration`
    (architecture, optimizer and its configuration as compiled, loss, metrics, and the seed given
    to ``gpunet.utils.set_random_seed``), and ``epochs`` at least the backup's epoch. Otherwise
    fit raises a ValueError before anything changes, naming what differs, and the backup stays;
    remove the folder to start a new run. (Keras 3 compares nothing but what loading the
    weights checks, their shapes: it resumes any backup of weights that fit, and deletes the
    folder when that fit ends.) A backup is deleted only
    by a fit that ran to its last epoch (or was stopped by a callback), never by one that was
    refused or interrupted. A backup that cannot be read gives way to the one before it (with
    ``double_checkpoint``); otherwise the error says which file to remove.

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
        self._configuration = None  # this fit's run_configuration, as JSON text (set when fit starts)
        self._before_resume = None  # the model's weights and state before a backup was loaded (undo_resume)

    @property
    def latest_path(self) -> str:
        return os.path.join(self.backup_dir, LATEST)

    @property
    def previous_path(self) -> str:
        return os.path.join(self.backup_dir, PREVIOUS)

    # -- restoring ------------------------------------------------------------------------------
    def resume_epoch(self, initial_epoch: int) -> int:
        """Load the backup (if there is one) into the model; the epoch fit starts at.

        The backup is resumed only by a fit of the same run: the same :func:`run_configuration`
        (architecture, optimizer as compiled, loss, metrics, seed) and ``epochs`` at least the
        backup's epoch. Otherwise a ValueError says what differs, and the backup is kept. A
        backup that cannot be read gives way to the one before it (``double_checkpoint``), or
        raises an error that says which file to remove (or which argument to pass)."""
        self._configuration = json.dumps(run_configuration(self.model), sort_keys=True)
        self._next_epoch = initial_epoch
        self._before_resume = None
        candidates = [self.latest_path] + ([self.previous_path] if self.double_checkpoint else [])
        candidates = [path for path in candidates if os.path.isfile(path)]
        for i, path in enumerate(candidates):
            try:
                state, epoch, saved = self._read(path)
                refusal = self._refusal(path, state, epoch, saved)
                if refusal is None:
                    self._load(path, state)
            except (OSError, ValueError, TypeError) as exc:  # a damaged file: the previous backup, if there is one
                if i + 1 == len(candidates):
                    raise self._damaged(exc, candidates) from exc
                warnings.warn(f"BackupAndRestore: {exc}; restoring the previous backup {candidates[i + 1]}",
                              stacklevel=3)
                continue
            if refusal is not None:
                raise refusal  # not a damaged file: the previous backup is of the same run
            self._next_epoch = epoch
            return epoch
        return initial_epoch

    def _read(self, path: str):
        """The backup's state, its epoch and the run configuration it was written with (or None)."""
        state = self.model.read_training_state(path)
        fit = state.get("fit")
        epoch = fit.get("epoch") if isinstance(fit, dict) else None
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0 or not fit.get("epoch_complete", True):
            raise ValueError(f"BackupAndRestore: {path} holds no fit state at the end of an epoch; it was not written "
                             f"by BackupAndRestore")
        saved = (_saved_entry(state) or {}).get("configuration")
        if saved is not None:
            try:
                saved = json.loads(saved)
            except (TypeError, ValueError):
                raise ValueError(f"BackupAndRestore: {path} records its run's configuration as unreadable text") from None
        return state, epoch, saved

    def _refusal(self, path: str, state: dict, epoch: int, saved):
        """The ValueError that refuses to resume the backup in this fit (or None): another run's
        configuration, or fewer epochs than the backup reached."""
        model = self.model
        if saved is None:  # written before backups recorded their run: only the optimizer's class is known
            written = (state.get("optimizer") or {}).get("class_name")
            current = type(model.optimizer).__name__
            differences = [] if written in (None, current) else [f"optimizer: {written} in the backup, {current} now"]
        else:
            differences = _differences(saved, json.loads(self._configuration), "")
        start_over = f"remove {self.backup_dir} (or give BackupAndRestore another backup_dir) to start a new run"
        if differences:
            listed = "; ".join(differences[:_SHOWN])
            if len(differences) > _SHOWN:
                listed += f"; and {len(differences) - _SHOWN} more"
            return ValueError(
                f"BackupAndRestore: the backup {path} was written by a run with other settings ({listed}); resuming "
                "it would carry on that run's weights and training state under these settings. To resume it, run fit "
                f"with that run's model, compile arguments and seed; or {start_over}. The backup is kept")
        epochs = self.params.get("epochs")
        if isinstance(epochs, int) and epoch > epochs:
            return ValueError(
                f"BackupAndRestore: the backup {path} was written at the end of epoch {epoch}, but this fit asks for "
                f"epochs={epochs} (the index of the last epoch, as in Keras): pass epochs >= {epoch} to finish that "
                f"run, or {start_over}. The backup is kept")
        return None

    def _load(self, path: str, state: dict) -> None:
        """The backup's weights and training state into the model: all of it, or nothing."""
        model = self.model
        _rename_weights(state, model)
        before = model.get_weights(), model.get_state()
        try:
            model.load_weights(path)  # every shape checked before any weight is set
            model.set_state(state)  # the optimizer now (checked before it changes); the fit's state for this fit
        except BaseException:
            model.set_weights(before[0])
            raise
        self._before_resume = before

    def undo_resume(self) -> None:
        if self._before_resume is not None:
            weights, state = self._before_resume
            self._before_resume = None
            self.model.set_weights(weights)
            self.model.set_state(state)

    def _damaged(self, exc: Exception, tried: list) -> Exception:
        """``exc`` (the last backup that could not be read) with the way to recover."""
        previous = self.previous_path
        if previous not in tried and os.path.isfile(previous):
            recover = (f"{self.backup_dir} also holds the backup before it: pass double_checkpoint=True to resume from "
                       f"{previous}, or remove {self.latest_path} and {previous} to start the run over")
        else:
            recover = (f"remove {' and '.join(tried)} to start the run over from the weights the model holds (the "
                       "interrupted run's progress is lost), or give BackupAndRestore another backup_dir")
        message = f"BackupAndRestore cannot resume: {exc}. To recover: {recover}"
        kind = next(kind for kind in (OSError, ValueError, TypeError) if isinstance(exc, kind))
        return kind(message)

    # -- backing up -----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        where = f"BackupAndRestore cannot write its backup in backup_dir {self.backup_dir!r}"
        check_folder(self.model, self.backup_dir, where)  # before creating it: as root, creating it would succeed
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
        state = {"weight_names": [p.name for p in self.model.weights]}
        if self._configuration is not None:
            state["configuration"] = self._configuration  # the run's, compared when the backup is resumed
        return state

    def get_config(self) -> dict:
        return {"backup_dir": self.backup_dir, "save_freq": self.save_freq,
                "double_checkpoint": self.double_checkpoint, "delete_checkpoint": self.delete_checkpoint}
