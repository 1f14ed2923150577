"""CallbackList: calls each hook of fit's loop on every callback, in order (Keras's class)."""

from __future__ import annotations

from .base import Callback, _overrides
from .history import History
from .progbar import ProgbarLogger

__all__ = ["CallbackList"]

_BATCH_HOOKS = (
    "on_train_batch_begin", "on_train_batch_end",
    "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)


class CallbackList:
    """Calls each hook on every callback, in order, with the same logs.

    Keras's arguments: ``add_history`` / ``add_progbar`` add a :class:`History` / a
    :class:`ProgbarLogger` (verbose from ``params``) when none is given; the keyword arguments
    ``**params`` (``epochs=``, ``steps=``, ``verbose=``...) are handed to every callback's
    ``set_params``. Batch-level hooks are only called when some callback overrides them, so a
    plain fit pays nothing per step for them. With ``main_process=False`` (a data-parallel
    process other than rank 0) the callbacks that declare ``main_process_only`` are left out.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, *, main_process: bool = True,
                 **params):
        callbacks = [] if callbacks is None else list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be gpunet.callbacks.Callback objects, got {type(cb).__name__}")
        if add_history or add_progbar:
            verbose = params.get("verbose", 1)
            if add_progbar and verbose != 0 and not any(isinstance(cb, ProgbarLogger) for cb in callbacks):
                callbacks.insert(0, ProgbarLogger(verbose if verbose in (1, 2) else 1))
            if add_history and not any(isinstance(cb, History) for cb in callbacks):
                callbacks.append(History())
        # callbacks that save the model (``runs_last``) act after the others, so that what they
        # save includes the others' reaction to the same epoch (a reduced learning rate...)
        self.callbacks = sorted(callbacks, key=lambda cb: bool(getattr(cb, "runs_last", False)))
        for cb in self.callbacks:
            if model is not None:
                cb.set_model(model)
            if params:
                cb.set_params(params)
        if not main_process:
            self.callbacks = [cb for cb in self.callbacks if not cb.main_process_only]
        self.wants = {hook: [cb for cb in self.callbacks if _overrides(cb, hook)] for hook in _BATCH_HOOKS}

    def __iter__(self):
        return iter(self.callbacks)

    def call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def call_batch(self, hook: str, batch: int, logs) -> None:
        for cb in self.wants[hook]:
            getattr(cb, hook)(batch, logs)

    def on_train_begin(self, logs=None):
        self.call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self.call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self.call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.call("on_epoch_end", epoch, logs)

    def on_test_begin(self, logs=None):
        self.call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self.call("on_test_end", logs)
