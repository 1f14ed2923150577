"""The few differentiable building blocks that ``gpunet.ops.nn``, ``image``, ``linalg`` and the
core ops compose: an elementwise function given by its value and slope, ``where``, ``concat``,
``stack``, constant padding and clipping.

Each is one :class:`~gpunet.autograd.Function` written once against ``xp``; the Keras-named
functions of the namespaces are built from them and from the ops of :mod:`gpunet.ops.math`.
"""

from __future__ import annotations

import math

import numpy

from .. import backend
from ..autograd import Function, Tensor, as_tensor, sum_to_shape
from ..backend import get_array_module
from ..gpu import kernels
from .activation import Pointwise
from .shaping import cast, getitem, reshape

__all__ = ["tensor", "unary", "sqrt", "square", "abs", "rsqrt", "erf", "erfc", "erfinv", "tanh_of", "sin", "cos",
           "where", "concat", "stack", "constant_pad", "clip", "float_tensor", "stop_gradient", "data",
           "take_along_axis"]


def tensor(x, like=None) -> Tensor:
    """``x`` as a Tensor on the selected backend (NumPy/CuPy arrays, Python scalars, Tensors)."""
    if isinstance(x, Tensor):
        return x
    if backend.is_device_array(x) or isinstance(x, numpy.ndarray):
        return Tensor._result(backend.to_device(x) if isinstance(x, numpy.ndarray) else x, None)
    return as_tensor(x, like=like)


def float_tensor(x, like=None) -> Tensor:
    """``x`` as a floating-point Tensor: integers and bools become the default float dtype."""
    t = tensor(x, like)
    if t.dtype.kind != "f":
        return cast(t, backend.floatx())
    return t


def data(x):
    """The backend array behind ``x`` (a Tensor, array or scalar), never recorded."""
    return tensor(x).data


class _Unary(Pointwise):
    """An elementwise function ``value(xp, x)`` with derivative ``slope(xp, x, y)``."""

    def __init__(self, value, slope, keeps):
        self.value, self.slope, self.keeps = value, slope, keeps


def unary(value, slope, keeps=("x",)):
    """A differentiable elementwise op from its value and its derivative (each ``(xp, ...)``):
    ``value(xp, x)``, ``slope(xp, x, y)``; ``keeps`` names what backward reads."""

    def op(x):
        return _Unary(value, slope, keeps)(float_tensor(x))

    return op


sqrt = unary(lambda xp, x: xp.sqrt(x), lambda xp, x, y: 0.5 / y, keeps=("y",))
square = unary(lambda xp, x: x * x, lambda xp, x, y: 2 * x)
abs = unary(lambda xp, x: xp.abs(x), lambda xp, x, y: xp.sign(x))  # noqa: A001 - the operation's name
rsqrt = unary(lambda xp, x: 1 / xp.sqrt(x), lambda xp, x, y: -0.5 * y * y * y, keeps=("y",))
erf = unary(lambda xp, x: kernels.erf(x), lambda xp, x, y: (2 / math.sqrt(math.pi)) * xp.exp(-x * x))
erfc = unary(lambda xp, x: 1 - kernels.erf(x), lambda xp, x, y: (-2 / math.sqrt(math.pi)) * xp.exp(-x * x))
tanh_of = unary(lambda xp, x: xp.tanh(x), lambda xp, x, y: 1 - y * y, keeps=("y",))
sin = unary(lambda xp, x: xp.sin(x), lambda xp, x, y: xp.cos(x))
cos = unary(lambda xp, x: xp.cos(x), lambda xp, x, y: -xp.sin(x))


def _erfinv_value(xp, x):
    """The inverse error function: Giles's single-precision approximation refined by two Newton
    steps on ``erf(y) = x`` (full float64 accuracy); +-inf at +-1, NaN outside [-1, 1]."""
    w = -xp.log((1.0 - x) * (1.0 + x))
    small = w < 5.0
    ws = w - 2.5
    wl = xp.sqrt(xp.where(small, 5.0, w)) - 3.0
    ps = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
          -0.00417768164, 0.246640727, 1.50140941)
    pl = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
          0.00943887047, 1.00167406, 2.83297682)
    a, b = xp.full_like(x, ps[0]), xp.full_like(x, pl[0])
    for cs, cl in zip(ps[1:], pl[1:]):
        a = a * ws + cs
        b = b * wl + cl
    y = xp.where(small, a, b) * x
    finite = xp.abs(x) < 1
    y = xp.where(finite, y, 0.0)
    for _ in range(2):
        y = y - (kernels.erf(y) - x) / ((2 / math.sqrt(math.pi)) * xp.exp(-y * y))
    y = xp.where(finite, y, xp.where(xp.abs(x) == 1, xp.sign(x) * xp.inf, xp.nan))
    return y.astype(x.dtype, copy=False)


erfinv = unary(_erfinv_value, lambda xp, x, y: (math.sqrt(math.pi) / 2) * xp.exp(y * y), keeps=("y",))


class Where(Function):
    """``a`` where ``condition`` holds, else ``b`` (broadcast); each gradient goes to the side taken."""

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return get_array_module(a).where(self.condition, a, b)

    def backward(self, gy):
        xp = get_array_module(gy)
        zero = xp.zeros((), dtype=gy.dtype)
        na, nb = self.needs_input_grad
        ga = sum_to_shape(xp.where(self.condition, gy, zero), self.shapes[0]) if na else None
        gb = sum_to_shape(xp.where(self.condition, zero, gy), self.shapes[1]) if nb else None
        return ga, gb


def where(condition, a, b) -> Tensor:
    """Differentiable ``xp.where(condition, a, b)`` (``condition`` is not differentiated)."""
    a = tensor(a)
    b = tensor(b, like=a)
    a = tensor(a, like=b)
    dtype = numpy.result_type(a.dtype, b.dtype)
    if a.dtype != dtype or b.dtype != dtype:
        a, b = cast(a, dtype), cast(b, dtype)
    return Where(data(condition).astype(bool))(a, b)


class Concat(Function):
    """Arrays joined along an existing axis; backward splits the gradient back."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        self.sizes = [a.shape[self.axis] for a in arrays]
        return get_array_module(*arrays).concatenate(arrays, axis=self.axis)

    def backward(self, gy):
        xp = get_array_module(gy)
        cuts = numpy.cumsum(self.sizes)[:-1].tolist()
        return tuple(xp.split(gy, cuts, axis=self.axis))


def concat(tensors, axis=0) -> Tensor:
    """Differentiable concatenation of ``tensors`` along ``axis`` (one dtype: the promoted one)."""
    tensors = [tensor(t) for t in tensors]
    dtype = numpy.result_type(*[t.dtype for t in tensors])
    tensors = [cast(t, dtype) for t in tensors]
    return Concat(axis % tensors[0].ndim)(*tensors)


class Stack(Function):
    """Equally shaped arrays joined along a new axis; backward takes each one's slice back."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        self.count = len(arrays)
        return get_array_module(*arrays).stack(arrays, axis=self.axis)

    def backward(self, gy):
        before = (slice(None),) * self.axis
        return tuple(gy[before + (i,)] for i in range(self.count))


def stack(tensors, axis=0) -> Tensor:
    """Differentiable stacking of equally shaped ``tensors`` along a new ``axis`` (one dtype: the
    promoted one; callers with other promotion rules cast first)."""
    tensors = [tensor(t) for t in tensors]
    dtype = numpy.result_type(*[t.dtype for t in tensors])
    tensors = [t if t.dtype == dtype else cast(t, dtype) for t in tensors]
    return Stack(axis % (tensors[0].ndim + 1))(*tensors)


class ConstantPad(Function):
    """``x`` padded with ``value`` by ``pads`` ((before, after) per axis); backward crops."""

    def __init__(self, pads, value=0):
        self.pads, self.value = pads, value

    def forward(self, x):
        self.index = tuple(slice(b, b + n) for (b, _), n in zip(self.pads, x.shape))
        return get_array_module(x).pad(x, self.pads, constant_values=self.value)

    def backward(self, gy):
        return (gy[self.index],)


def constant_pad(x, pads, value=0) -> Tensor:
    """``x`` padded with the constant ``value``: ``pads`` one (before, after) pair per axis."""
    return ConstantPad(tuple((int(b), int(a)) for b, a in pads), value)(tensor(x))


class Clip(Function):
    """``x`` clipped to ``[low, high]``; the gradient passes where ``x`` is inside."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        xp = get_array_module(x)
        low = -xp.inf if self.low is None else self.low
        high = xp.inf if self.high is None else self.high
        self.inside = (x >= low) & (x <= high)
        return xp.clip(x, low, high).astype(x.dtype, copy=False)

    def backward(self, gy):
        return (gy * self.inside,)


def clip(x, low=None, high=None) -> Tensor:
    """Differentiable clipping of ``x`` to ``[low, high]`` (None: unbounded)."""
    return Clip(low, high)(tensor(x))


def stop_gradient(x) -> Tensor:
    """``x``'s values, cut from the graph: no gradient flows back through the result."""
    return Tensor._result(data(x), None)


def take_along_axis(x, indices, axis=-1) -> Tensor:
    """``xp.take_along_axis(x, indices, axis)``, differentiable (repeated indices add up)."""
    x = tensor(x)
    indices = data(indices)
    xp = get_array_module(indices)
    axis = axis % x.ndim
    grids = [xp.arange(n).reshape([-1 if i == d else 1 for i in range(x.ndim)]) for d, n in enumerate(indices.shape)]
    grids[axis] = indices
    return getitem(x, tuple(grids))
