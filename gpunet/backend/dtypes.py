"""The default floating-point dtype of new tensors and weights."""

from __future__ import annotations

import numpy

__all__ = ["floatx", "float_dtype", "set_floatx"]

_floatx = numpy.dtype("float32")

def floatx():
    """The default floating-point dtype of new tensors and weights (``float32`` unless changed)."""
    return _floatx


def float_dtype(dtype) -> numpy.dtype:
    """``dtype`` as a NumPy dtype, which must be float32 or float64 (ValueError otherwise)."""
    try:
        dt = numpy.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (numpy.dtype("float32"), numpy.dtype("float64")):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


def set_floatx(dtype) -> None:
    """Set the default floating-point dtype (``"float32"`` or ``"float64"``)."""
    global _floatx
    _floatx = float_dtype(dtype)
