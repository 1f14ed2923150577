"""What every metric module uses: arrays aligned as Keras aligns them, and argument checks."""

from __future__ import annotations

import math
import numbers

import numpy

from ..autograd import Tensor
from ..backend import get_array_module, on_device_of

EPSILON = 1e-7  # Keras's backend epsilon
NEG_INF = -1e10  # Keras's score for the outputs top_k leaves out


def as_array(x):
    """A NumPy or CuPy array from an array, a Tensor, a list or a number."""
    if isinstance(x, Tensor):
        return x.data
    if hasattr(x, "__cuda_array_interface__") or isinstance(x, numpy.ndarray):
        return x
    return numpy.asarray(x)


def pair(y_true, y_pred, floats: bool = False):
    y_pred = as_array(y_pred)
    if floats:
        y_pred = float_array(y_pred)
    y_true = on_device_of(as_array(y_true), y_pred)
    if floats and y_true.dtype != y_pred.dtype:
        y_true = y_true.astype(y_pred.dtype)
    return y_true, y_pred


def float_array(x):
    return x if x.dtype.kind == "f" else x.astype(numpy.float32)


def weights_like(sample_weight, like):
    weight = on_device_of(as_array(sample_weight), like)
    if weight.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight must hold numbers, got dtype {weight.dtype}")
    return weight


def same_rank(a, b):
    """Keras's ``squeeze_or_expand_to_same_rank`` for arrays."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        return (a, b[..., None]) if b.ndim == 1 else (a[..., 0], b)
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        return (a[..., None], b) if a.ndim == 1 else (a, b[..., 0])
    return a, b


def broadcast(array, shape, name: str):
    try:
        return get_array_module(array).broadcast_to(array, shape)
    except ValueError:
        raise ValueError(f"{name} of shape {array.shape} does not fit the predictions of shape {shape}") from None


def class_ids(x):
    """Class ids as int64: floats truncated toward zero, as Keras's cast to int does."""
    xp = get_array_module(x)
    return (xp.trunc(x) if x.dtype.kind == "f" else x).astype(numpy.int64)


def dense_targets(target, output):
    """Targets of the output's shape: integer labels of shape (N,) become one-hot rows."""
    if target.shape == output.shape:
        return target
    if target.ndim == output.ndim - 1 and target.dtype.kind in "iu" and output.shape[-1] > 1:
        return target[..., None] == get_array_module(output).arange(output.shape[-1])
    if target.size == output.size:
        return target.reshape(output.shape)
    raise ValueError(f"y_true must have the outputs' shape {output.shape} (or hold integer labels), got {target.shape}")


def divide_no_nan(a, b):
    a, b = numpy.asarray(a, dtype=numpy.float64), numpy.asarray(b, dtype=numpy.float64)
    return numpy.divide(a, b, out=numpy.zeros(numpy.broadcast(a, b).shape), where=b != 0)


def logit_above(logits, threshold: float):
    """``sigmoid(logits) > threshold`` without computing the sigmoid."""
    if threshold <= 0:
        return logits > -math.inf
    if threshold >= 1:
        return logits != logits  # never (and NaN stays negative)
    return logits > math.log(threshold / (1 - threshold))


def stable_argsort(a):
    """``argsort`` along the last axis with ties in index order (CuPy's sort is always stable and
    takes no ``kind``; NumPy's default is not stable)."""
    xp = get_array_module(a)
    return xp.argsort(a, axis=-1, kind="stable") if xp is numpy else xp.argsort(a, axis=-1)


def check_integer(value, name: str, minimum: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_threshold(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_dtype(dtype, integers: bool = False):
    """A dtype name (None stays None: float32 in Keras's configs)."""
    if dtype is None:
        return None
    if integers and dtype == "int":
        return "int32"
    try:
        kind = numpy.dtype(getattr(dtype, "name", dtype))
    except TypeError:
        kind = None
    if kind is None or kind.kind not in ("fiu" if integers else "f"):
        raise ValueError(f"dtype must be None or a {'numeric' if integers else 'floating-point'} dtype name, "
                         f"got {dtype!r} (Metric(dtype=None, name=None) as in Keras)")
    return kind.name
