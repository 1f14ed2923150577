"""fit's, evaluate's and predict's arguments, checked before anything changes."""

from __future__ import annotations

import numbers
import sys

from .. import backend
from ..callbacks.base import Callback
from ..data import Batches, check_features, check_targets

__all__ = ["check_int", "check_bool", "resolve_verbose", "check_compiled", "validation_schedule", "check_callbacks",
           "prepare", "unpack_validation", "to_device", "device_batches"]


def check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def resolve_verbose(verbose) -> int:
    if verbose == "auto":
        stream = sys.stdout
        return 1 if getattr(stream, "isatty", lambda: False)() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def check_compiled(model, what: str) -> None:
    if not model.compiled:
        raise RuntimeError(f"the model must be compiled before {what}(): call model.compile(optimizer, loss, metrics)")


def validation_schedule(freq):
    """``validation_freq`` (every N epochs, or a list of 1-based epochs) as ``epoch index -> bool``."""
    if isinstance(freq, (list, tuple, set)):
        epochs = {check_int(e, "validation_freq entries", 1) for e in freq}
        return lambda epoch: epoch + 1 in epochs
    freq = check_int(freq, "validation_freq", 1)
    return lambda epoch: (epoch + 1) % freq == 0


def check_callbacks(callbacks) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError("callbacks must be a list of gpunet.callbacks.Callback objects")
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be gpunet.callbacks.Callback objects, got {type(cb).__name__}")
    return list(callbacks)


def prepare(model, x, y, x_name="x", y_name="y"):
    """Check (x, y) against the model (building it from x's shape if needed); host arrays."""
    x = check_features(x, x_name, None)
    if not model.built:
        model.build_from_data(x.shape)
    model.loss.check_output(model.output_activation())
    x = check_features(x, x_name, model.input_shape[1:])
    y = check_targets(y, model.loss, model.output_shape, x.shape[0], y_name, x_name)
    return x, y


def unpack_validation(validation_data):
    if not isinstance(validation_data, (tuple, list)):
        raise TypeError(f"validation_data must be a tuple (x_dev, y_dev), got {type(validation_data).__name__}")
    if len(validation_data) == 3:
        raise ValueError("validation_data with sample weights (x, y, w) is not supported: pass (x_dev, y_dev)")
    if len(validation_data) != 2:
        raise ValueError(f"validation_data must be a tuple (x_dev, y_dev), got {len(validation_data)} items")
    return validation_data


def to_device(array, floating: bool):
    """Move checked host data to the backend's device once per fit (features as the float dtype)."""
    if floating:
        return backend.to_device(array, dtype=backend.floatx())
    return backend.to_device(array)


def device_batches(model, x, y, batch_size: int) -> Batches:
    """Checked (x, y) moved to the device once, as batches: features as the float dtype, targets
    as the loss needs them (integer labels stay integers)."""
    return Batches(to_device(x, True), to_device(y, model.loss.target_kind != "labels"), batch_size)
