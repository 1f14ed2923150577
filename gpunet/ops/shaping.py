"""Shape operations: reshape, transpose, indexing."""

from __future__ import annotations

import numpy

from ..autograd import Function, Tensor
from ..backend import get_array_module

__all__ = ["reshape", "transpose", "getitem", "pick", "cast", "autocast"]


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return (gy.reshape(self.in_shape),)


class Transpose(Function):
    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return (gy.transpose(),)
        return (gy.transpose(numpy.argsort(self.axes).tolist()),)


class GetItem(Function):
    """``x[index]`` for any NumPy index; backward scatters (adding where an index repeats)."""

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        _scatter_add(xp, gx, self.index, gy)
        return (gx,)


class Pick(Function):
    """``x[i, labels[i]]`` for every row ``i``: each sample's entry for its class."""

    def forward(self, x, labels):
        xp = get_array_module(x)
        self.index = (xp.arange(x.shape[0]), labels)
        self.shape = x.shape
        return x[self.index]

    def backward(self, gy):
        gx = get_array_module(gy).zeros(self.shape, dtype=gy.dtype)
        gx[self.index] = gy  # one entry per row: no index repeats
        return gx, None


def _scatter_add(xp, target, index, values):
    if hasattr(xp.add, "at"):
        xp.add.at(target, index, values)
    else:  # older CuPy
        import cupyx  # noqa: PLC0415

        cupyx.scatter_add(target, index, values)


def _unwrap_index(index):
    """Tensors inside an index are replaced by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def reshape(x, *shape) -> Tensor:
    """``x`` with a new shape (one dimension may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape(shape)(x)


def transpose(x, axes=None) -> Tensor:
    """Permute the axes (reverse them when ``axes`` is None)."""
    return Transpose(None if axes is None else tuple(axes))(x)


def getitem(x, index) -> Tensor:
    """``x[index]``: basic and advanced NumPy indexing."""
    return GetItem(_unwrap_index(index))(x)


def pick(x, labels) -> Tensor:
    """``x[i, labels[i]]`` for each row ``i`` of a (batch, classes) tensor (integer labels)."""
    return Pick()(x, labels)


class Cast(Function):
    """``x`` in another dtype; the gradient comes back in ``x``'s dtype."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return (gy.astype(self.in_dtype),)


def cast(x, dtype) -> Tensor:
    """``x`` cast to ``dtype`` (differentiable); ``x`` itself when it has that dtype already."""
    dtype = numpy.dtype(dtype)
    if x.dtype == dtype:
        return x
    return Cast(dtype)(x)


def autocast(x, *weights) -> tuple:
    """``weights`` cast to ``x``'s dtype when ``x`` is low precision (float16, bfloat16) and they
    are not: mixed precision's weights stay float32 and are cast as they are used. ``None`` entries
    stay None. A no-op (no new op) in every other case."""
    dtype = x.dtype
    if dtype.name not in ("float16", "bfloat16"):
        return weights
    return tuple(w if w is None or w.dtype == dtype else Cast(dtype)(w) for w in weights)
