"""Keras's NumPy-style reductions, scans and order statistics: sums, products, extremes, moments,
cumulative sums and products, quantiles, and their NaN-ignoring twins.

Sums and means reuse :mod:`gpunet.ops.math`'s Functions; extremes (ties share the gradient, as
in JAX), products and cumulative products (exact with zeros) have their own; moments,
quantiles and the ``nan*`` variants are compositions of differentiable ops. Keras's result dtypes:
sums of bool and small ints are int32 (uint32 for small unsigned ints), means, variances and
quantiles of integers are float32, argmax and counts are int32.
"""

from __future__ import annotations

import numpy

from ..autograd import Function, Tensor
from ..backend import get_array_module
from . import math as base
from .arrays import _axis, broadcast_to, get_item, moveaxis, reshape, sort, take_along_axis, where
from .elementwise import divide, isnan, maximum, minimum, multiply, sqrt, square, subtract
from .promotion import compute, convert, promote, to_float


def _axes(axis, ndim):
    """``axis`` as a tuple of non-negative axes (every axis when None)."""
    normalized = _axis(axis, ndim)
    if normalized is None:
        return tuple(range(ndim))
    return normalized if isinstance(normalized, tuple) else (normalized,)


def _sum_dtype(dtype):
    if dtype.kind == "b" or (dtype.kind == "i" and dtype.itemsize < 4):
        return numpy.dtype("int32")
    if dtype.kind == "u" and dtype.itemsize < 4:
        return numpy.dtype("uint32")
    return dtype


def sum(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001 - Keras's name
    """The sum over ``axis`` (all axes when None; ``keras.ops.sum``)."""
    if isinstance(x, Tensor) and x.dtype.kind == "f":
        return base.Sum(axis, keepdims)(x)
    t = convert(x)
    t = convert(t, _sum_dtype(t.dtype))
    if t.dtype.kind == "f":
        return base.Sum(axis, keepdims)(t)
    axes = _axis(axis, t.ndim)
    return compute(lambda a: a.sum(axis=axes, keepdims=keepdims, dtype=a.dtype), t)


def mean(x, axis=None, keepdims=False) -> Tensor:
    """The mean over ``axis`` (all axes when None; ``keras.ops.mean``); integers give float32."""
    return base.Mean(axis, keepdims)(to_float(x))


class Extreme(Function):
    """The maximum (or minimum) over ``axes``; the gradient is shared evenly by the elements equal
    to it, as Keras's backends share it (the pooling layers' ``Max`` gives it to the first one)."""

    def __init__(self, axes, keepdims, largest):
        self.axes, self.keepdims, self.largest = axes, keepdims, largest

    def forward(self, x):
        y = (x.max if self.largest else x.min)(axis=self.axes, keepdims=True)
        if self.needs_input_grad[0]:
            self.x, self.y = x, y
        return y if self.keepdims else y.reshape([n for i, n in enumerate(y.shape) if i not in self.axes])

    def backward(self, gy):
        hits = self.x == self.y
        share = hits / hits.sum(axis=self.axes, keepdims=True)
        return (share.astype(gy.dtype) * gy.reshape(self.y.shape),)


def _extreme(x, axis, keepdims, initial, largest):
    t = convert(x)
    axes = _axes(axis, t.ndim)
    if t.dtype.kind == "f":
        result = Extreme(axes, keepdims, largest)(t)
    else:
        result = compute(lambda a: (a.max if largest else a.min)(axis=axes, keepdims=keepdims), t)
    if initial is not None:
        result = (maximum if largest else minimum)(result, initial)
    return result


def max(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001 - Keras's name
    """The maximum over ``axis``, at least ``initial`` when given (``keras.ops.max``); elements tied
    for the maximum share its gradient evenly."""
    return _extreme(x, axis, keepdims, initial, largest=True)


def min(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001 - Keras's name
    """The minimum over ``axis``, at most ``initial`` when given (``keras.ops.min``); ties share its gradient."""
    return _extreme(x, axis, keepdims, initial, largest=False)


def amax(x, axis=None, keepdims=False) -> Tensor:
    """The maximum over ``axis`` (``keras.ops.amax``)."""
    return max(x, axis, keepdims)


def amin(x, axis=None, keepdims=False) -> Tensor:
    """The minimum over ``axis`` (``keras.ops.amin``)."""
    return min(x, axis, keepdims)


def ptp(x, axis=None, keepdims=False) -> Tensor:
    """The range (maximum minus minimum) over ``axis`` (``keras.ops.ptp``)."""
    return subtract(max(x, axis, keepdims), min(x, axis, keepdims))


class Prod(Function):
    """The product over the reduced axes. Backward: each element's gradient is the product of the
    others, taken as the product of those before it times those after it (exclusive cumulative
    products), so zeros need no division."""

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        if self.needs_input_grad[0]:
            self.x = x
        return x.prod(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        xp = get_array_module(gy)
        x, axes = self.x, self.axes
        kept = [i for i in range(x.ndim) if i not in axes]
        order = kept + list(axes)
        flat = x.transpose(order).reshape([x.shape[i] for i in kept] + [-1])
        ones = xp.ones(flat.shape[:-1] + (1,), flat.dtype)
        before = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat[..., 1:], -1)], axis=-1), axis=-1), -1)
        g = before * after * gy.reshape(flat.shape[:-1] + (1,))
        inverse = numpy.argsort(order).tolist()
        return (g.reshape([x.shape[i] for i in order]).transpose(inverse),)


def prod(x, axis=None, keepdims=False, dtype=None) -> Tensor:
    """The product over ``axis`` (all axes when None; ``keras.ops.prod``), in ``dtype`` when given."""
    t = convert(x, dtype)
    t = convert(t, _sum_dtype(t.dtype))
    axes = _axes(axis, t.ndim)
    if t.dtype.kind == "f":
        return Prod(axes, keepdims)(t)
    return compute(lambda a: a.prod(axis=axes, keepdims=keepdims, dtype=a.dtype), t)


def _reversed_cumsum(xp, a, axis):
    """``sum_{k >= i} a_k`` along ``axis``."""
    return xp.flip(xp.cumsum(xp.flip(a, axis), axis=axis), axis)


class Cumulative(Function):
    """``cumsum`` or ``cumprod`` along one axis. Backward of the sum: the reversed cumulative sum of
    the gradient. Of the product, ``g_i = sum_{k >= i} gy_k * prod_{j <= k, j != i} x_j``: before a
    row's first zero ``z`` that is ``sum_{k >= i} gy_k y_k / x_i``; after it 0; at it
    ``sum_{k >= z} gy_k u_k`` with ``u`` the cumulative product of the row with ``x_z`` set to 1."""

    def __init__(self, axis, product):
        self.axis, self.product = axis, product

    def forward(self, x):
        xp = get_array_module(x)
        y = (xp.cumprod if self.product else xp.cumsum)(x, axis=self.axis)
        if self.product and self.needs_input_grad[0]:
            self.x, self.y = x, y
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        if not self.product:
            return (_reversed_cumsum(xp, gy, self.axis),)
        x, gy, y = (xp.moveaxis(a, self.axis, -1) for a in (self.x, gy, self.y))
        zero = x == 0
        position = xp.arange(x.shape[-1])
        first = xp.where(zero.any(-1, keepdims=True), zero.argmax(-1)[..., None], x.shape[-1])
        before = _reversed_cumsum(xp, gy * y, -1) / xp.where(zero, 1, x)
        u = xp.cumprod(xp.where(position == first, 1, x), axis=-1)
        at_zero = (gy * u * (position >= first)).sum(-1, keepdims=True)
        g = xp.where(position < first, before, xp.where(position == first, at_zero, 0))
        return (xp.moveaxis(g, -1, self.axis),)


def _cumulative(x, axis, dtype, product):
    t = convert(x, dtype)
    t = convert(t, _sum_dtype(t.dtype))
    if axis is None:
        t, axis = reshape(t, (-1,)), 0
    axis = _axis(axis, t.ndim)
    if t.dtype.kind == "f":
        return Cumulative(axis, product)(t)
    return compute(lambda a: (a.cumprod if product else a.cumsum)(axis=axis, dtype=a.dtype), t)


def cumsum(x, axis=None, dtype=None) -> Tensor:
    """The cumulative sum along ``axis`` (of the flattened ``x`` when None; ``keras.ops.cumsum``)."""
    return _cumulative(x, axis, dtype, product=False)


def cumprod(x, axis=None, dtype=None) -> Tensor:
    """The cumulative product along ``axis`` (``keras.ops.cumprod``); exact gradients with zeros too."""
    return _cumulative(x, axis, dtype, product=True)


def var(x, axis=None, keepdims=False) -> Tensor:
    """The (population) variance over ``axis`` (``keras.ops.var``)."""
    t = to_float(x)
    centered = subtract(t, mean(t, axis, keepdims=True))
    return mean(square(centered), axis, keepdims)


def std(x, axis=None, keepdims=False) -> Tensor:
    """The (population) standard deviation over ``axis`` (``keras.ops.std``)."""
    return sqrt(var(x, axis, keepdims))


def average(x, axis=None, weights=None) -> Tensor:
    """The mean over ``axis`` weighted by ``weights`` (of ``x``'s shape, or 1-D along ``axis``;
    ``keras.ops.average``)."""
    if weights is None:
        return mean(x, axis)
    t, w = promote(to_float(x), weights)
    if w.ndim == 1 and t.ndim > 1:
        if axis is None:
            raise ValueError("average: 1-D weights need an axis")
        shape = [1] * t.ndim
        shape[_axis(axis, t.ndim)] = w.shape[0]
        w = reshape(w, shape)
    return divide(sum(multiply(t, w), axis), sum(broadcast_to(w, t.shape), axis))


def _arg(x, axis, keepdims, largest):
    t = convert(x)
    axis = _axis(axis, t.ndim)
    shape = (1,) * t.ndim if keepdims else ()

    def find(a):
        fn = a.argmax if largest else a.argmin
        if axis is None:
            return fn().reshape(shape).astype(numpy.int32)
        return fn(axis=axis, keepdims=keepdims).astype(numpy.int32)

    return compute(find, t)


def argmax(x, axis=None, keepdims=False) -> Tensor:
    """The int32 index of the first maximum along ``axis`` (of the flattened ``x`` when None; ``keras.ops.argmax``)."""
    return _arg(x, axis, keepdims, largest=True)


def argmin(x, axis=None, keepdims=False) -> Tensor:
    """The int32 index of the first minimum along ``axis`` (``keras.ops.argmin``)."""
    return _arg(x, axis, keepdims, largest=False)


def _logical(x, axis, keepdims, every):
    t = convert(x)
    axes = _axis(axis, t.ndim)
    return compute(lambda a: (a.all if every else a.any)(axis=axes, keepdims=keepdims), t)


def all(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001 - Keras's name
    """Whether every element along ``axis`` is non-zero (``keras.ops.all``)."""
    return _logical(x, axis, keepdims, every=True)


def any(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001 - Keras's name
    """Whether some element along ``axis`` is non-zero (``keras.ops.any``)."""
    return _logical(x, axis, keepdims, every=False)


def count_nonzero(x, axis=None) -> Tensor:
    """The int32 number of non-zero elements along ``axis`` (``keras.ops.count_nonzero``)."""
    t = convert(x)
    axes = _axis(axis, t.ndim)
    return compute(lambda a: (a != 0).sum(axis=axes).astype(numpy.int32), t)


def trace(x, offset=0, axis1=0, axis2=1) -> Tensor:
    """The sum of the ``offset``-th diagonal of the planes ``(axis1, axis2)`` (``keras.ops.trace``)."""
    from .arrays import diagonal  # noqa: PLC0415

    return sum(diagonal(x, offset, axis1, axis2), -1)


# -- order statistics ----------------------------------------------------------------------------------
_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _positions(method, ignore_nan):
    """``positions(a, q) -> (low, high, fraction, empty)`` for rows ``a`` (values on the last axis)
    and quantiles ``q``: the sorted positions to read, the weight of the higher one, and where a
    row has no value; shaped ``q.shape + a.shape[:-1] + (1,)``."""

    def positions(a, q):
        xp = get_array_module(a)
        n = (~xp.isnan(a)).sum(-1, keepdims=True) if ignore_nan else xp.full(a.shape[:-1] + (1,), a.shape[-1])
        position = q.reshape(q.shape + (1,) * a.ndim) * (xp.maximum(n, 1) - 1)
        low, high = xp.floor(position), xp.ceil(position)
        if method == "lower":
            high = low
        elif method == "higher":
            low = high
        elif method == "nearest":
            low = high = xp.round(position)  # halves to even, as NumPy
        fraction = xp.where(high > low, 0.5, 0.0) if method == "midpoint" else position - low
        shape = position.shape
        return (low.astype(numpy.int64), xp.broadcast_to(high, shape).astype(numpy.int64),
                xp.broadcast_to(fraction, shape).astype(a.dtype), xp.broadcast_to(n == 0, shape))

    return positions


def _quantile(x, q, axis, method, keepdims, ignore_nan):
    """The ``q``-quantiles of ``x`` over ``axis``: sort (NaN last), then read the sorted values at
    ``q * (n - 1)`` interpolated as ``method`` says, where ``n`` counts the values (the non-NaN
    ones when ``ignore_nan``). The gradient reaches the one or two values read."""
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}")
    t = to_float(x)
    qs = convert(q, t.dtype)
    axes = _axes(axis, t.ndim)
    kept = [i for i in range(t.ndim) if i not in axes]
    flat = reshape(moveaxis(t, axes, list(range(t.ndim - len(axes), t.ndim))) if axes else t,
                   [t.shape[i] for i in kept] + [-1])
    positions = _positions(method, ignore_nan)
    low, high, fraction, empty = (compute(lambda a, p, k=k: positions(a, p)[k], flat, qs) for k in range(4))
    expanded = reshape(sort(flat, -1), (1,) * qs.ndim + flat.shape)
    read_low = take_along_axis(expanded, low, -1)
    result = read_low + (take_along_axis(expanded, high, -1) - read_low) * fraction
    if ignore_nan:
        result = where(empty, numpy.nan, result)
    result = reshape(result, result.shape[:-1])
    if keepdims:
        result = reshape(result, qs.shape + tuple(1 if i in axes else s for i, s in enumerate(t.shape)))
    return result


def quantile(x, q, axis=None, method="linear", keepdims=False) -> Tensor:
    """The ``q``-th quantiles (``q`` in [0, 1]) over ``axis`` (``keras.ops.quantile``)."""
    return _quantile(x, q, axis, method, keepdims, ignore_nan=False)


def percentile(x, q, axis=None, method="linear", keepdims=False) -> Tensor:
    """The ``q``-th percentiles (``q`` in [0, 100]) over ``axis`` (``keras.ops.percentile``)."""
    return _quantile(x, divide(q, 100.0), axis, method, keepdims, ignore_nan=False)


def median(x, axis=None, keepdims=False) -> Tensor:
    """The median over ``axis`` (``keras.ops.median``)."""
    return _quantile(x, 0.5, axis, "linear", keepdims, ignore_nan=False)


def nanquantile(x, q, axis=None, method="linear", keepdims=False) -> Tensor:
    """:func:`quantile` of the non-NaN values (``keras.ops.nanquantile``)."""
    return _quantile(x, q, axis, method, keepdims, ignore_nan=True)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False) -> Tensor:
    """:func:`percentile` of the non-NaN values (``keras.ops.nanpercentile``)."""
    return _quantile(x, divide(q, 100.0), axis, method, keepdims, ignore_nan=True)


def nanmedian(x, axis=None, keepdims=False) -> Tensor:
    """:func:`median` of the non-NaN values (``keras.ops.nanmedian``)."""
    return _quantile(x, 0.5, axis, "linear", keepdims, ignore_nan=True)


# -- NaN-ignoring reductions -------------------------------------------------------------------------
def _without_nan(x, fill):
    """``x`` with its NaNs replaced by ``fill`` (the reduction's neutral element)."""
    t = convert(x)
    if t.dtype.kind != "f":
        return t
    return where(isnan(t), float(fill), t)


def nansum(x, axis=None, keepdims=False) -> Tensor:
    """:func:`sum` treating NaN as 0 (``keras.ops.nansum``)."""
    return sum(_without_nan(x, 0), axis, keepdims)


def nanprod(x, axis=None, keepdims=False) -> Tensor:
    """:func:`prod` treating NaN as 1 (``keras.ops.nanprod``)."""
    return prod(_without_nan(x, 1), axis, keepdims)


def nancumsum(x, axis=None, dtype=None) -> Tensor:
    """:func:`cumsum` treating NaN as 0 (``keras.ops.nancumsum``)."""
    return cumsum(_without_nan(x, 0), axis, dtype)


def nancumprod(x, axis=None, dtype=None) -> Tensor:
    """:func:`cumprod` treating NaN as 1 (``keras.ops.nancumprod``)."""
    return cumprod(_without_nan(x, 1), axis, dtype)


def _count(x, axis, keepdims):
    t = to_float(x)
    axes = _axis(axis, t.ndim)
    return compute(lambda a: (~get_array_module(a).isnan(a)).sum(axis=axes, keepdims=keepdims).astype(a.dtype), t)


def nanmean(x, axis=None, keepdims=False) -> Tensor:
    """The mean of the non-NaN values over ``axis`` (NaN where there are none; ``keras.ops.nanmean``)."""
    t = to_float(x)
    return divide(sum(_without_nan(t, 0), axis, keepdims), _count(t, axis, keepdims))


def nanvar(x, axis=None, keepdims=False) -> Tensor:
    """The variance of the non-NaN values over ``axis`` (``keras.ops.nanvar``)."""
    t = to_float(x)
    centered = subtract(t, nanmean(t, axis, keepdims=True))
    return nanmean(square(centered), axis, keepdims)


def nanstd(x, axis=None, keepdims=False) -> Tensor:
    """The standard deviation of the non-NaN values over ``axis`` (``keras.ops.nanstd``)."""
    return sqrt(nanvar(x, axis, keepdims))


def _nan_extreme(x, axis, keepdims, largest):
    t = convert(x)
    if t.dtype.kind != "f":
        return (max if largest else min)(t, axis, keepdims)
    result = (max if largest else min)(_without_nan(t, -numpy.inf if largest else numpy.inf), axis, keepdims)
    all_nan = all(isnan(t), axis, keepdims)
    return where(all_nan, numpy.nan, result)


def nanmax(x, axis=None, keepdims=False) -> Tensor:
    """The maximum of the non-NaN values over ``axis`` (``keras.ops.nanmax``)."""
    return _nan_extreme(x, axis, keepdims, largest=True)


def nanmin(x, axis=None, keepdims=False) -> Tensor:
    """The minimum of the non-NaN values over ``axis`` (``keras.ops.nanmin``)."""
    return _nan_extreme(x, axis, keepdims, largest=False)


def nanargmax(x, axis=None, keepdims=False) -> Tensor:
    """The int32 index of the largest non-NaN value along ``axis`` (``keras.ops.nanargmax``)."""
    return argmax(_without_nan(x, -numpy.inf), axis, keepdims)


def nanargmin(x, axis=None, keepdims=False) -> Tensor:
    """The int32 index of the smallest non-NaN value along ``axis`` (``keras.ops.nanargmin``)."""
    return argmin(_without_nan(x, numpy.inf), axis, keepdims)


def diff(a, n=1, axis=-1) -> Tensor:
    """The ``n``-th differences along ``axis``: ``a[i + 1] - a[i]`` repeated ``n`` times (``keras.ops.diff``)."""
    t = convert(a)
    if t.dtype.kind == "b":
        raise TypeError("diff: a must be numeric, not boolean")
    axis = _axis(axis, t.ndim)
    before = (slice(None),) * axis
    for _ in range(n):
        t = subtract(get_item(t, before + (slice(1, None),)), get_item(t, before + (slice(None, -1),)))
    return t


def trapezoid(y, x=None, dx=1.0, axis=-1) -> Tensor:
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, at sample points ``x`` or
    spacing ``dx`` (``keras.ops.trapezoid``)."""
    values = to_float(y)
    axis = _axis(axis, values.ndim)
    before = (slice(None),) * axis
    heads = get_item(values, before + (slice(1, None),))
    tails = get_item(values, before + (slice(None, -1),))
    if x is None:
        widths = dx
    else:
        points = convert(x, values.dtype)
        along = axis if points.ndim == values.ndim else 0
        widths = diff(points, axis=along)
        if points.ndim == 1 and values.ndim > 1:
            shape = [1] * values.ndim
            shape[axis] = widths.shape[0]
            widths = reshape(widths, shape)
    return sum(multiply(multiply(widths, heads + tails), 0.5), axis)


__all__ = [
    "sum", "mean", "max", "min", "amax", "amin", "ptp", "prod", "cumsum", "cumprod", "var", "std", "average", "argmax",
    "argmin", "all", "any", "count_nonzero", "trace", "quantile", "percentile", "median", "nanquantile",
    "nanpercentile", "nanmedian", "nansum", "nanprod", "nancumsum", "nancumprod", "nanmean", "nanvar", "nanstd",
    "nanmax", "nanmin", "nanargmax", "nanargmin", "diff", "trapezoid",
]
