"""fit's, evaluate's and predict's arguments, checked before anything changes."""

from __future__ import annotations

import numbers
import sys

import numpy

from .. import backend
from ..callbacks.base import Callback
from ..data import (Batches, DiskBatches, StreamBatches, check_batch_size, check_features, check_targets, describe,
                    input_kind, on_disk)
from ..data.pydataset import dataset_length

__all__ = ["check_int", "check_bool", "resolve_verbose", "check_compiled", "validation_schedule", "check_callbacks",
           "prepare", "unpack_validation", "to_device", "device_batches", "check_steps", "stream_batches",
           "unpack_batch", "evaluation_batches", "prediction_batches", "check_stream_arguments"]


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
        raise RuntimeError(f"the model must be compiled before {what}(): call model.compile(optimizer=..., loss=..., metrics=[...])")


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
    x = check_features(x, x_name, model.input_shape[1:], values=False)
    y = check_targets(y, model.loss, model.output_shape, x.shape[0], y_name, x_name)
    return x, y


def unpack_validation(validation_data):
    if not isinstance(validation_data, (tuple, list)):
        raise TypeError(f"validation_data must be a tuple (x_dev, y_dev), got {type(validation_data).__name__}")
    if len(validation_data) == 3:
        if validation_data[2] is None:  # Keras's (x, y, sample_weight) without weights
            return validation_data[:2]
        raise ValueError("validation_data with sample weights (x, y, w) is not supported: pass (x_dev, y_dev)")
    if len(validation_data) != 2:
        raise ValueError(f"validation_data must be a tuple (x_dev, y_dev), got {len(validation_data)} items")
    return validation_data


def to_device(array, floating: bool):
    """Move checked host data to the backend's device once per fit (features as the float dtype)."""
    if floating:
        return backend.to_device(array, dtype=backend.floatx())
    return backend.to_device(array)


def device_batches(model, x, y, batch_size: int):
    """Checked (x, y) as batches: features as the float dtype, targets as the loss needs them
    (integer labels as integers). In-memory data moves to the device once; memory-mapped data
    stays on disk and moves batch by batch."""
    labels = y is not None and model is not None and model.loss.target_kind == "labels"
    if on_disk(x) or on_disk(y):
        return DiskBatches(x, y, batch_size, (backend.floatx(), numpy.int64 if labels else backend.floatx()))
    return Batches(to_device(x, True), None if y is None else to_device(y, not labels), batch_size)


def check_steps(steps, name: str, data, data_name: str = "x"):
    """A number of steps (or None) that the data can honour: steps count the batches of a
    generator, an iterable or a PyDataset; arrays are read whole, in ceil(samples / batch_size)
    steps."""
    if steps is None:
        return None
    steps = check_int(steps, name, 1)
    if data is None:
        raise ValueError(f"{name}={steps} is given, but there is no {data_name}")
    kind = input_kind(data)
    if kind == "array":
        raise ValueError(f"{name} applies to generators, iterables and PyDataset; {data_name} is an array, which is "
                         f"read whole in ceil(samples / batch_size) steps: leave {name}=None")
    if kind == "pydataset":
        count = dataset_length(data)
        if count is not None and steps > count:
            raise ValueError(f"{name}={steps} exceeds the {count} batches of {data_name} ({type(data).__name__})")
    return steps


def unpack_batch(raw, name: str, targets: bool):
    """A batch a stream yielded as ``(x, y)`` (``targets``) or ``(x, y-or-None)``."""
    if isinstance(raw, list):
        raw = tuple(raw)
    if not isinstance(raw, tuple):
        if targets:
            raise ValueError(f"{name} must yield (x, y) batches, got {type(raw).__name__}")
        return raw, None
    if len(raw) == 3:
        raise ValueError(f"{name} yielded (x, y, sample_weight): sample weights are not supported, yield (x, y)")
    if len(raw) == 1 and not targets:
        return raw[0], None
    if len(raw) != 2:
        raise ValueError(f"{name} must yield (x, y) batches, got a tuple of {len(raw)} items")
    return raw


def stream_batches(model, data, name: str, steps=None, shuffle: bool = False, continuing: bool = False,
                   targets: bool = True) -> StreamBatches:
    """Batches from a generator, an iterable or a PyDataset: the first batch is read now to build
    and check the model (so that bad input fails before training); every batch is then checked
    and moved to the device as it arrives."""
    stream = StreamBatches(data, name, None, steps=steps, shuffle=shuffle, continuing=continuing)
    x, y = unpack_batch(stream.peek(), name, targets)
    try:
        if targets:
            prepare(model, x, y, f"{name} batch 0 x", f"{name} batch 0 y")
        else:
            x = check_features(x, f"{name} batch 0", None)
            if not model.built:
                model.build_from_data(x.shape)
    except (ValueError, TypeError) as exc:
        if type(exc) not in (ValueError, TypeError):
            raise
        where = "PyDataset item 0" if stream.kind == "pydataset" else "its first batch"
        raise type(exc)(f"{exc} ({where}, read to check the data before training)").with_traceback(exc.__traceback__) from None
    floating = targets and model.loss.target_kind != "labels"
    feature_shape = model.input_shape[1:]

    def convert(raw, i):
        xb, yb = unpack_batch(raw, name, targets)
        xb = check_features(xb, f"{name} batch {i} x", feature_shape)
        if targets:
            yb = check_targets(yb, model.loss, model.output_shape, xb.shape[0], f"{name} batch {i} y", f"{name} batch {i} x")
            yb = to_device(yb, floating)
        return to_device(xb, True), yb

    stream.convert = convert
    return stream


def evaluation_batches(model, x, y, batch_size, steps):
    """evaluate's data as batches: arrays (in memory or on disk), or ``steps`` batches of a stream."""
    steps = check_steps(steps, "steps", x)
    if input_kind(x) == "array":
        batch_size = check_batch_size(batch_size)
        x, y = prepare(model, x, y)
        return device_batches(model, x, y, batch_size)
    check_stream_arguments(x, y, batch_size)
    return stream_batches(model, x, "x", steps)


def prediction_batches(model, x, batch_size, steps):
    """predict's inputs as batches: arrays (in memory or on disk), or ``steps`` batches of a stream."""
    steps = check_steps(steps, "steps", x)
    if input_kind(x) == "array":
        batch_size = check_batch_size(batch_size)
        x = check_features(x, "x", None)
        if not model.built:
            model.build_from_data(x.shape)
        x = check_features(x, "x", model.input_shape[1:], values=False)
        return device_batches(model, x, None, batch_size)
    check_stream_arguments(x, None, batch_size)
    return stream_batches(model, x, "x", steps, targets=False)


def check_stream_arguments(x, y, batch_size) -> None:
    """A generator, an iterable or a PyDataset carries its targets and its batch size."""
    if y is not None:
        raise ValueError(f"y must be None when x is {describe(x)}: x yields the (x, y) batches")
    if batch_size is not None:
        raise ValueError(f"batch_size must be None when x is {describe(x)}: its batches have their own size")
