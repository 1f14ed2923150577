"""How the NumPy-style ops turn their arguments into tensors and pick a result dtype, as Keras 3 does.

Keras converts a Python ``int`` to int32, a ``float`` to the default float dtype (float32) and a
``bool`` to bool; NumPy/CuPy arrays keep their dtype. When two values meet, a Python number is
*weak*: it takes the other operand's dtype (``int32_tensor + 1`` stays int32, ``float16 + 1.0``
stays float16) unless it needs a wider kind (``int32_tensor + 1.5`` is float32). Between arrays
an integer meets a float as that float (``int64 + float32`` is float32, where NumPy says float64),
bool yields to anything, and two integers or two floats widen as NumPy widens them.
"""

from __future__ import annotations

import numbers

import numpy

from .. import backend
from ..autograd import Function, Tensor, no_grad
from ..autograd.tensor import as_tensor
from .shaping import Cast, cast
from .primitives import stack

__all__ = ["is_weak", "convert", "result_type", "promote", "to_float", "standardize_dtype", "constant", "compute"]


def is_weak(value) -> bool:
    """A Python number (not an array, not a NumPy scalar): it adapts to the other operand's dtype."""
    return isinstance(value, (bool, int, float)) and not isinstance(value, numpy.generic)


def _python_dtype(value) -> numpy.dtype:
    if isinstance(value, bool):
        return numpy.dtype(bool)
    if isinstance(value, numbers.Integral):
        return numpy.dtype("int32")
    return backend.floatx()


def standardize_dtype(dtype):
    """``dtype`` as a NumPy dtype, or None; a clear ValueError for what is not a numeric dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype in ("int", "float"):  # Keras's spelling of the default dtypes
        return numpy.dtype("int32") if dtype == "int" else backend.floatx()
    try:
        result = numpy.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be a numeric dtype such as 'float32' or 'int32', got {dtype!r}") from None
    if result.kind not in "fiub":
        raise ValueError(f"dtype must be numeric (float, int, uint or bool), got {dtype!r}")
    return result


def convert(x, dtype=None) -> Tensor:
    """``x`` as a Tensor (Keras's ``convert_to_tensor``): Tensors stay themselves (cast
    differentiably when ``dtype`` differs), Python numbers and lists take Keras's default dtypes."""
    dtype = standardize_dtype(dtype)
    if isinstance(x, Tensor):
        t = x
    elif is_weak(x):
        t = Tensor(numpy.asarray(x, dtype=_python_dtype(x)))
    elif isinstance(x, (list, tuple)):
        if any(isinstance(item, Tensor) for item in _leaves(x)):
            t = stack([convert(item) for item in x])  # a list of tensors is stacked, differentiably
        else:
            host = numpy.asarray(x)
            if host.dtype.kind == "i":
                host = host.astype("int32")
            elif host.dtype == numpy.float64:
                host = host.astype(backend.floatx())
            t = Tensor(host)
    else:
        t = Tensor(x)
    if dtype is not None and t.dtype != dtype:
        if t.requires_grad and dtype.kind == "f":
            t = cast(t, dtype)
        else:
            with no_grad():
                t = Cast(dtype)(t)
    return t


def _leaves(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _leaves(item)
        else:
            yield item


def _join(a: numpy.dtype, b: numpy.dtype) -> numpy.dtype:
    if a == b:
        return a
    if a.kind == "b":
        return b
    if b.kind == "b":
        return a
    if (a.kind == "f") != (b.kind == "f"):
        return a if a.kind == "f" else b
    return numpy.promote_types(a, b)


def _dtype_of(value) -> numpy.dtype:
    if isinstance(value, Tensor):
        return value.dtype
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        return numpy.dtype(dtype)
    return convert(value).dtype


def result_type(*values) -> numpy.dtype:
    """The dtype Keras gives an op over ``values`` (see the module docstring)."""
    strong = [_dtype_of(v) for v in values if not is_weak(v)]
    weak = [v for v in values if is_weak(v)]
    if not strong:
        return max((_python_dtype(v) for v in weak), key=lambda d: "bif".index(d.kind))
    dtype = strong[0]
    for other in strong[1:]:
        dtype = _join(dtype, other)
    if any(isinstance(v, float) for v in weak) and dtype.kind != "f":
        return backend.floatx()
    if any(not isinstance(v, bool) for v in weak) and dtype.kind == "b":
        return numpy.dtype("int32")
    return dtype


def promote(*values, dtype=None) -> tuple:
    """``values`` as Tensors of one dtype: ``dtype`` when given, else their :func:`result_type`."""
    first = values[0]
    if dtype is None and isinstance(first, Tensor) and first.dtype.kind == "f" and all(
            (isinstance(v, Tensor) and v.dtype == first.dtype) or type(v) in (float, int) for v in values):
        return tuple(as_tensor(v, like=first) for v in values)  # the common case, made cheap: numbers take its dtype
    dtype = result_type(*values) if dtype is None else standardize_dtype(dtype)
    return tuple(convert(v, dtype) for v in values)


def to_float(x) -> Tensor:
    """``x`` as a Tensor of a floating dtype: integers and bools become the default float dtype."""
    t = convert(x)
    return t if t.dtype.kind == "f" else convert(t, backend.floatx())


def constant(array) -> Tensor:
    """A new backend array that depends on no input (``zeros``, ``arange``) as a Tensor outside the graph."""
    return Tensor._result(array, None)


class Compute(Function):
    """An op without a gradient (comparisons, ``argmax``, counts): ``fn`` over the input arrays.
    A Function all the same, so that a recorded graph (:class:`gpunet.autograd.Tape`) replays it
    on each step's arrays instead of keeping the first step's result."""

    def __init__(self, fn):
        self.fn = fn

    def forward(self, *arrays):
        self.count = len(arrays)
        return self.fn(*arrays)

    def backward(self, gy):
        return (None,) * self.count


def compute(fn, *values) -> Tensor:
    """``fn`` over the arrays of ``values`` (converted as Keras converts them): a Tensor without a graph."""
    tensors = [convert(v) for v in values]
    with no_grad():
        return Compute(fn)(*tensors)
