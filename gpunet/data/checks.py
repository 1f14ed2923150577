"""Checks of in-memory and on-disk data: numbers, shapes, finite values, labels in range."""

from __future__ import annotations

import numbers

import numpy

from .. import backend
from ..autograd import Tensor

__all__ = ["check_features", "check_targets", "check_batch_size", "on_disk"]

_CHUNK_BYTES = 1 << 25  # how much of an on-disk array a check reads at a time


def on_disk(a) -> bool:
    """Whether ``a`` is a memory-mapped array, read batch by batch rather than loaded."""
    return isinstance(a, numpy.memmap)


def _chunks(arr):
    """``arr`` whole when it is in memory; in slices of about 32 MB when it is on disk."""
    if not on_disk(arr) or arr.nbytes <= _CHUNK_BYTES:
        yield arr
        return
    rows = max(1, _CHUNK_BYTES // max(1, arr.nbytes // max(1, arr.shape[0])))
    for start in range(0, arr.shape[0], rows):
        yield numpy.asarray(arr[start:start + rows])


def _extremes(arr, ignored=None):
    """(min, max) of a non-empty array, read chunk by chunk when it is on disk; values equal to
    ``ignored`` (a loss's ``ignore_class``) do not count ((0, 0) when nothing else is left)."""
    chunks = _chunks(arr) if ignored is None else (part[part != ignored] for part in _chunks(arr))
    parts = [(part.min(), part.max()) for part in chunks if part.size]
    if not parts:
        return 0, 0
    if len(parts) == 1:
        return parts[0]
    lows, highs = numpy.array(parts).T  # NaN propagates, as in one min/max over the whole array
    return lows.min(), highs.max()


def _as_array(a, name: str):
    if a is None:
        raise ValueError(f"{name} is required")
    if isinstance(a, Tensor):
        a = a.data
    if on_disk(a) or backend.get_array_module(a) is not numpy:
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
    if on_disk(arr):
        with numpy.errstate(over="ignore"):
            return bool(numpy.isfinite(numpy.array(_extremes(arr)).astype(backend.floatx())).all())
    xp = backend.get_array_module(arr)
    with numpy.errstate(over="ignore"):
        extremes = xp.stack([arr.min(), arr.max()]).astype(backend.floatx())
    return bool(xp.isfinite(extremes).all())


def _count_non_finite(arr) -> int:
    """How many values are NaN or infinite once cast to the compute dtype (on the error path only)."""
    xp = backend.get_array_module(arr)
    with numpy.errstate(over="ignore"):
        return sum(int((~xp.isfinite(part.astype(backend.floatx()))).sum()) for part in _chunks(arr))


def check_features(x, name: str = "x", feature_shape=None, values: bool = True, text: bool = False):
    """``x`` as an array of shape (samples, features...) with finite numbers, or a clear error
    (``values=False``: the shapes only, for data whose values were checked already). With
    ``text``, an array of strings (shape (samples,) or more) is accepted too, for a model whose
    input takes strings (``Input(..., dtype="string")``)."""
    arr = _as_array(x, name)
    if backend.is_text(arr):
        if not text:
            raise TypeError(f"{name} must hold numbers, got strings (dtype {arr.dtype}): for text, give the model an "
                            "Input(..., dtype='string') followed by a text preprocessing layer (TextVectorization, "
                            "StringLookup)")
        if arr.ndim < 1 or arr.shape[0] == 0:
            raise ValueError(f"{name} must hold one string (or row of strings) per sample, got shape {arr.shape}")
        if feature_shape is not None and arr.ndim > 1 and tuple(arr.shape[1:]) != tuple(feature_shape):
            raise ValueError(f"{name} has samples of shape {tuple(arr.shape[1:])}, but the model expects inputs of "
                             f"shape {tuple(feature_shape)}")
        return arr
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(f"{name} must have shape (samples, features...), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if values and arr.dtype.kind == "f" and not _all_finite(arr):
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
    outputs = None if output_shape is None else tuple(output_shape[1:])  # None: not known before the first call
    if loss.target_kind == "labels":
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr.reshape(-1)
        if arr.ndim != 1:
            raise ValueError(
                f"{name} must hold one integer class label per sample, shape ({samples},), got shape {arr.shape}; "
                "for one-hot targets use loss='categorical_crossentropy'"
            )
        if arr.dtype.kind == "f":
            if not all(bool(xp.isfinite(part).all()) and bool((part == xp.round(part)).all()) for part in _chunks(arr)):
                raise ValueError(f"{name} must hold integer class labels, got non-integer values")
        if arr.dtype.kind == "b":
            raise TypeError(f"{name} must hold integer class labels, got booleans")
        classes = outputs[-1] if outputs else None
        low, high = (int(v) for v in _extremes(arr, getattr(loss, "ignore_class", None)))
        if low < 0 or (classes is not None and high >= classes):
            raise ValueError(
                f"{name} holds class labels from {low} to {high}, but the model has {classes} outputs: labels must lie in [0, {classes})"
            )
        if on_disk(arr):
            return arr  # converted batch by batch
        return arr.astype(numpy.int64, copy=False)
    if arr.dtype.kind == "f" and not _all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinite values")
    if outputs is not None and None not in outputs and tuple(arr.shape[1:]) != outputs:
        if outputs == (1,) and arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        else:
            raise ValueError(f"{name} has targets of shape {tuple(arr.shape[1:])}, but the model's outputs have shape {tuple(outputs)}")
    if loss.name in ("binary_crossentropy", "categorical_crossentropy"):
        low, high = _extremes(arr)
        if low < 0 or high > 1:
            raise ValueError(f"{name} must hold probabilities in [0, 1] for {loss.name}")
    return arr


def check_batch_size(batch_size, name: str = "batch_size", default: int = 32) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"{name} must be a positive integer, got {batch_size!r}")
    return int(batch_size)
