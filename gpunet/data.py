"""Input checking and batch iteration over device-resident arrays.

fit checks and converts its data once, moves it to the backend's device once, and then takes
batches on the device: contiguous views when the order is sequential, a gather into one reused
buffer per batch shape when the epoch is shuffled.
"""

from __future__ import annotations

import numbers

import numpy

from . import backend
from .autograd import Tensor

__all__ = ["check_features", "check_targets", "Batches"]


def _as_array(a, name: str):
    if a is None:
        raise ValueError(f"{name} is required")
    if isinstance(a, Tensor):
        a = a.data
    if backend.get_array_module(a) is not numpy:
        return a
    try:
        arr = numpy.asarray(a)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}: {exc}") from None
    return arr


def _all_finite(arr) -> bool:
    """Whether a float array holds no NaN or infinity once cast to the compute dtype (a float64
    1e39 becomes float32 infinity): its min and max, cast, are finite (two passes, no temporary
    the size of the data)."""
    xp = backend.get_array_module(arr)
    with numpy.errstate(over="ignore"):
        extremes = xp.stack([arr.min(), arr.max()]).astype(backend.floatx())
    return bool(xp.isfinite(extremes).all())


def _count_non_finite(arr) -> int:
    """How many values are NaN or infinite once cast to the compute dtype (on the error path only)."""
    xp = backend.get_array_module(arr)
    with numpy.errstate(over="ignore"):
        return int((~xp.isfinite(arr.astype(backend.floatx()))).sum())


def check_features(x, name: str = "x", feature_shape=None):
    """``x`` as an array of shape (samples, features...) with finite numbers, or a clear error."""
    arr = _as_array(x, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(f"{name} must have shape (samples, features...), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if arr.dtype.kind == "f" and not _all_finite(arr):
        raise ValueError(f"{name} contains {_count_non_finite(arr)} NaN or infinite value(s)"
                         f"{' (after conversion to ' + str(backend.floatx()) + ')' if arr.dtype != backend.floatx() else ''}")
    if feature_shape is not None and tuple(arr.shape[1:]) != tuple(feature_shape):
        raise ValueError(
            f"{name} has samples of shape {tuple(arr.shape[1:])}, but the model expects inputs of shape {tuple(feature_shape)}"
        )
    return arr


def check_targets(y, loss, output_shape, samples: int, name: str = "y", x_name: str = "x"):
    """``y`` in the form the loss needs, checked against the model's output.

    Integer labels (sparse cross-entropy) become an int array of shape (N,) in [0, classes);
    other targets become floats of the output's shape.
    """
    arr = _as_array(y, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{name} must have one entry per sample, got a scalar")
    if arr.shape[0] != samples:
        raise ValueError(f"{x_name} and {name} must have the same number of samples, got {samples} and {arr.shape[0]}")
    xp = backend.get_array_module(arr)
    outputs = output_shape[1:]
    if loss.target_kind == "labels":
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr.reshape(-1)
        if arr.ndim != 1:
            raise ValueError(
                f"{name} must hold one integer class label per sample, shape ({samples},), got shape {arr.shape}; "
                "for one-hot targets use loss='categorical_crossentropy'"
            )
        if arr.dtype.kind == "f":
            if not bool(xp.isfinite(arr).all()) or not bool((arr == xp.round(arr)).all()):
                raise ValueError(f"{name} must hold integer class labels, got non-integer values")
        if arr.dtype.kind == "b":
            raise TypeError(f"{name} must hold integer class labels, got booleans")
        classes = outputs[-1] if outputs else None
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or (classes is not None and high >= classes):
            raise ValueError(
                f"{name} holds class labels from {low} to {high}, but the model has {classes} outputs: labels must lie in [0, {classes})"
            )
        return arr.astype(numpy.int64, copy=False)
    if arr.dtype.kind == "f" and not _all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinite values")
    if tuple(arr.shape[1:]) != tuple(outputs):
        if outputs == (1,) and arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        else:
            raise ValueError(f"{name} has targets of shape {tuple(arr.shape[1:])}, but the model's outputs have shape {tuple(outputs)}")
    if loss.name in ("binary_crossentropy", "categorical_crossentropy"):
        if bool((arr < 0).any()) or bool((arr > 1).any()):
            raise ValueError(f"{name} must hold probabilities in [0, 1] for {loss.name}")
    return arr


def check_batch_size(batch_size, name: str = "batch_size", default: int = 32) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"{name} must be a positive integer, got {batch_size!r}")
    return int(batch_size)


class Batches:
    """Batches of (x, y) arrays that already live on the backend's device.

    ``iterate(order)`` yields ``(x_batch, y_batch)``: views for ``order=None``, else gathers
    ``x[order[i:i + batch_size]]`` into a buffer reused from batch to batch (the batch is
    consumed, forward and backward, before the next one is taken).
    """

    def __init__(self, x, y, batch_size: int):
        self.x, self.y = x, y
        self.samples = int(x.shape[0])
        self.batch_size = min(batch_size, self.samples)  # buffers are sized by the data, never beyond
        self._buffers = None
        xp = backend.get_array_module(x)
        self._take = {"mode": "clip"} if xp is numpy else {}  # NumPy buffers take() otherwise

    def __len__(self) -> int:
        return -(-self.samples // self.batch_size)

    def iterate(self, order=None):
        x, y, size = self.x, self.y, self.batch_size
        if order is None:
            for start in range(0, self.samples, size):
                yield x[start:start + size], (None if y is None else y[start:start + size])
            return
        xp = backend.get_array_module(x)
        if self._buffers is None:
            self._buffers = (
                xp.empty((size, *x.shape[1:]), dtype=x.dtype),
                None if y is None else xp.empty((size, *y.shape[1:]), dtype=y.dtype),
            )
        x_buf, y_buf = self._buffers
        for start in range(0, self.samples, size):
            index = order[start:start + size]
            n = index.shape[0]
            xb = x_buf[:n]
            xp.take(x, index, axis=0, out=xb, **self._take)
            yb = None
            if y is not None:
                yb = y_buf[:n]
                xp.take(y, index, axis=0, out=yb, **self._take)
            yield xb, yb
