"""LambdaCallback: a callback made of plain functions, without writing a class."""

from __future__ import annotations

from .base import Callback

__all__ = ["LambdaCallback"]

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)


class LambdaCallback(Callback):
    """Call the given functions at the matching hooks, with the hooks' positional arguments:
    ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``,
    ``on_train_end(logs)``, ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)``;
    any other hook of :class:`Callback` (``on_test_end=...``) by keyword. Hooks left out do
    nothing (and batch hooks left out cost nothing per step).

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin,
        on_train_batch_end: functions, or None.
        **hooks: other hooks by name, e.g. ``on_test_end=lambda logs: ...``.

    Example::

        log = open("loss.jsonl", "w")
        json_log = gpunet.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: log.write(json.dumps({"epoch": epoch, "loss": logs["loss"]}) + "\\n"),
            on_train_end=lambda logs: log.close())
        model.fit(x, y, epochs=5, callbacks=[json_log])
    """

    loadable = False  # it holds Python functions, which no file can carry

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **hooks):
        super().__init__()
        unknown = sorted(set(hooks) - set(HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hook(s) {', '.join(unknown)}; the hooks are {', '.join(HOOKS)}")
        hooks.update(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name, function in hooks.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(f"LambdaCallback: {name} must be a function, got {type(function).__name__}")
            setattr(self, name, function)  # an instance attribute: fit sees which hooks are given
