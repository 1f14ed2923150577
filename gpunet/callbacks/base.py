"""Callback: small objects hooked to the training loop (the list that calls them: callback_list.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..lookup import Registered

__all__ = ["Callback", "EpochEndCallback", "LazyLogs", "callback_keys", "check_folder"]



class Callback(Registered):
    """Base class with Keras's hooks; override the ones you need.

    ``self.model`` is the model being trained, ``self.params`` a dict with ``epochs``, ``steps``,
    ``batch_size``, ``verbose`` and ``validations_per_epoch``.

    fit calls ``on_epoch_end(epoch, logs)`` once per report: once per epoch by default, and after
    every dev evaluation when ``validations_per_epoch=K`` > 1 (K times per epoch, with the same
    ``epoch``), so that monitors such as ReduceLROnPlateau count each evaluation, as the course does.
    ``logs`` holds the training loss and metrics (means since the start of the epoch), the dev
    ``val_*`` values, ``learning_rate`` and ``epoch_time`` (seconds since the epoch began).

    Callbacks are called in list order, except those with ``runs_last = True``
    (ModelCheckpoint), which come after all others.

    Callbacks with state worth resuming (a wait counter, a best value) return it from
    ``get_state()`` as a JSON-compatible dict and take it back in ``set_state()``.

    ``main_process_only = True`` declares a callback whose only effects are outside training
    (printing, writing files: ProgbarLogger, ModelCheckpoint, CSVLogger, TensorBoard,
    BackupAndRestore). In a data-parallel fit only the main process (rank 0) runs those; every
    other callback runs in every process, on the same logs, so that the decisions that steer
    training (EarlyStopping, ReduceLROnPlateau...) are taken alike everywhere.
    """

    registry_kind = "callback"  # gpunet's own callbacks join the registry (loadable = False: not in files)

    main_process_only = False

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)  # Keras's older names, still called as Keras calls them

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...

    def log_keys_added(self, model) -> list:
        """Keys this callback adds to the epoch logs (so monitors may watch them)."""
        return []

    def resume_epoch(self, initial_epoch: int) -> int:
        """The epoch fit starts at. fit asks each callback once, before ``on_train_begin``; a
        callback that keeps a backup of an interrupted fit (BackupAndRestore) loads it into the
        model and answers the epoch the backup stopped at. Others answer ``initial_epoch``."""
        return initial_epoch

    def undo_resume(self) -> None:
        """Put the model back as it was before :meth:`resume_epoch` loaded a backup into it: fit
        calls it when it stops before its first update (a callback refused to start), so that a
        refused fit changes nothing."""

    def get_state(self) -> dict:
        """State to store in a checkpoint (empty for stateless callbacks)."""
        return {}

    def set_state(self, state: dict) -> None:
        """Take back what :meth:`get_state` returned."""

    def get_config(self) -> dict:
        """The constructor arguments, for a user callback named in a model file (register the
        class with ``gpunet.saving.register_serializable``)."""
        raise NotImplementedError(f"{type(self).__name__} does not define get_config()")

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class EpochEndCallback(Callback):
    """A callback that acts once per epoch, on the report that ends it.

    With ``fit(validations_per_epoch=K)`` fit reports K times per epoch; :meth:`ends_epoch` tells
    the last one (all the epoch's batches done) from the others by counting the batches.
    Subclasses that override ``on_epoch_begin`` or ``on_train_batch_end`` call ``super()``.
    """

    loadable = False  # a base class, not a callback of its own

    def __init__(self):
        super().__init__()
        self._batches_done = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._batches_done = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches_done += 1

    def ends_epoch(self) -> bool:
        """Whether the report being made comes after every batch of its epoch."""
        steps = self.params.get("steps")
        return steps is None or self._batches_done >= steps


def callback_keys(callbacks) -> list:
    """Names that tell callbacks apart in a checkpoint: the class name, numbered from the second
    of a class on (``["ModelCheckpoint", "ModelCheckpoint_1", "EarlyStopping"]``)."""
    seen: dict = {}
    keys = []
    for cb in callbacks:
        name = cb if isinstance(cb, str) else type(cb).__name__
        count = seen.get(name, 0)
        seen[name] = count + 1
        keys.append(name if count == 0 else f"{name}_{count}")
    return keys


def check_folder(model, folder: str, what: str) -> None:
    """Refuse, before anything is created, a folder a checkpoint could not be saved in, with the
    checkpoints' own check (``model.check_save_path``: a read-only folder is refused for root
    too) and error class; ``what`` says who writes there. The nearest folder on the path that
    exists is checked, since the missing ones would be created in it."""
    existing = folder
    while not os.path.lexists(existing) and os.path.dirname(existing) not in ("", existing):
        existing = os.path.dirname(existing)
    if not os.path.lexists(existing):
        existing = os.curdir
    try:
        model.check_save_path(os.path.join(existing, "file"), template=True)
    except OSError as exc:
        message = f"{what}: {exc.strerror or exc}"
        raise type(exc)(exc.errno, message) if exc.errno is not None else type(exc)(message) from None


def _overrides(callback, hook: str) -> bool:
    """Whether ``callback`` does something at ``hook``: its class overrides it, or it was given as
    an attribute (LambdaCallback); for the train batch hooks, Keras's older names count too."""
    def own(name):
        return name in getattr(callback, "__dict__", {}) or getattr(type(callback), name, None) is not getattr(Callback, name)
    legacy = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}.get(hook)
    return own(hook) or (legacy is not None and own(legacy))


class LazyLogs(Mapping):
    """Batch logs whose values are computed when read, so that reading them (and syncing with the
    GPU) happens only for callbacks that look."""

    def __init__(self, producers: dict):
        self._producers = producers

    def __getitem__(self, key):
        return float(self._producers[key]())

    def __iter__(self):
        return iter(self._producers)

    def __len__(self):
        return len(self._producers)

    def __repr__(self):
        return repr(dict(self))
