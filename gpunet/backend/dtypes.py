"""The default floating-point dtype of new tensors and weights, and casts that must stay finite."""

from __future__ import annotations

import numpy

__all__ = ["floatx", "float_dtype", "set_floatx", "cast_finite", "is_text"]

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


def is_text(a) -> bool:
    """Whether ``a`` is a host array of strings: NumPy ``str`` or ``bytes``, or an object array
    holding only ``str``/``bytes`` (what Keras's ``"string"`` inputs are here). Such arrays stay
    on the host, since a GPU holds no strings; the text preprocessing layers turn them into numbers."""
    kind = getattr(getattr(a, "dtype", None), "kind", None)
    if kind in ("U", "S"):
        return isinstance(a, numpy.ndarray)
    return kind == "O" and isinstance(a, numpy.ndarray) and all(isinstance(v, (str, bytes)) for v in a.flat)


def set_floatx(value) -> None:
    """Set the default floating-point dtype (``"float32"`` or ``"float64"``)."""
    global _floatx
    _floatx = float_dtype(value)


def cast_finite(values, dtype, what: str):
    """Host array ``values`` cast to ``dtype``; a ValueError naming ``what`` when the result holds
    NaN or infinity. The check is made after the cast: a float64 1e300 is finite, but becomes
    infinite in float32."""
    with numpy.errstate(over="ignore", invalid="ignore"):
        cast = values.astype(dtype, copy=False)
    if not numpy.all(numpy.isfinite(cast)):
        if numpy.all(numpy.isfinite(values)):
            raise ValueError(f"{what} holds values beyond the range of {cast.dtype.name} (largest "
                             f"{float(numpy.finfo(cast.dtype).max):g}), which would become infinite in it")
        raise ValueError(f"{what} contains NaN or infinity")
    return cast


_epsilon = 1e-7


def epsilon() -> float:
    """Keras's fuzz factor (``keras.config.epsilon()``, 1e-7 unless set): the small number user
    code adds to a denominator or under a square root."""
    return _epsilon


def set_epsilon(value) -> None:
    """Set :func:`epsilon` (a positive number)."""
    global _epsilon
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"set_epsilon: value must be a positive number, got {value!r}")
    _epsilon = float(value)
