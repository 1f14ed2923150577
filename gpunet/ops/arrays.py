"""Keras's NumPy-style ops that make, reshape, join, split and index arrays.

Most of them only move, copy or drop elements of their inputs (and sometimes fill a constant).
One Function, :class:`Rearrange`, differentiates all of these: backward runs the same
rearrangement on the *numbers* of the input elements (1, 2, ... across all inputs; 0 where the op
fills a constant), which tells for each output element where it came from, and adds the output
gradient back to those sources with one ``bincount``. An op is then just its forward.
"""

from __future__ import annotations

import builtins
import numbers

import numpy

from .. import backend
from ..autograd import Function, Tensor
from ..backend import get_array_module
from . import primitives
from .gather import gather
from .promotion import compute, constant, convert, promote, standardize_dtype
from .shaping import Reshape, Transpose


class Rearrange(Function):
    """``y = fn(*inputs, *keys)`` for an ``fn`` that only moves, copies or drops elements of the
    inputs, or fills constants (see the module docstring). The last ``keys`` arrays say where
    elements go (indices, masks): they are inputs too, so that a recorded graph reads each step's,
    and get no gradient. ``index_fn`` replaces ``fn`` on the element numbers where ``fn`` would fill
    a value other than 0 (a padding constant)."""

    def __init__(self, fn, index_fn=None, keys=0):
        self.fn, self.index_fn, self.keys = fn, index_fn or fn, keys

    def forward(self, *arrays):
        moved = len(arrays) - self.keys
        self.shapes = [a.shape for a in arrays[:moved]]
        if True in self.needs_input_grad:
            self.key_arrays = arrays[moved:]
        return self.fn(*arrays)

    def backward(self, gy):
        xp = get_array_module(gy)
        numbers_, start = [], 1
        for shape in self.shapes:
            size = int(numpy.prod(shape, dtype=numpy.int64))
            numbers_.append(xp.arange(start, start + size, dtype=numpy.int64).reshape(shape))
            start += size
        source = xp.broadcast_to(self.index_fn(*numbers_, *self.key_arrays), gy.shape)
        total = xp.bincount(source.reshape(-1), weights=gy.reshape(-1), minlength=start)[1:].astype(gy.dtype)
        grads, offset = [], 0
        for shape, needed in zip(self.shapes, self.needs_input_grad):
            size = int(numpy.prod(shape, dtype=numpy.int64))
            grads.append(total[offset:offset + size].reshape(shape) if needed else None)
            offset += size
        return (*grads, *(None,) * self.keys)


def rearrange(fn, *values, index_fn=None, keys=()) -> Tensor:
    """``fn`` over the arrays of ``values`` (promoted to one dtype) and of ``keys`` (as they are)."""
    tensors = promote(*values) if len(values) > 1 else (convert(values[0]),)
    return Rearrange(fn, index_fn, len(keys))(*tensors, *[convert(k) for k in keys])


def _xp(*tensors):
    return get_array_module(*[t.data for t in tensors])


def _axis(axis, ndim, name="axis"):
    """``axis`` (an int, or a tuple of ints) checked against ``ndim`` and made non-negative."""
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        return tuple(_axis(a, ndim, name) for a in axis)
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{name} must be an int or a tuple of ints, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} {axis} is out of range for a tensor with {ndim} dimensions")
    return int(axis) % ndim


def _shape(shape, name="shape"):
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    if isinstance(shape, Tensor):
        shape = backend.to_host(shape.data).tolist()
    try:
        return tuple(int(n) for n in shape)
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of ints, got {shape!r}") from None


# -- creation --------------------------------------------------------------------------------------
def _new(fn, dtype):
    """A fresh array of the selected backend, made by ``fn(xp, dtype)``."""
    return constant(fn(backend.array_module(), dtype))


def _float_or(dtype):
    return standardize_dtype(dtype) or backend.floatx()


def zeros(shape, dtype=None) -> Tensor:
    """A tensor of zeros (``keras.ops.zeros``), float32 by default."""
    return _new(lambda xp, d: xp.zeros(_shape(shape), d), _float_or(dtype))


def ones(shape, dtype=None) -> Tensor:
    """A tensor of ones (``keras.ops.ones``), float32 by default."""
    return _new(lambda xp, d: xp.ones(_shape(shape), d), _float_or(dtype))


def empty(shape, dtype=None) -> Tensor:
    """A tensor of the given shape whose values are unspecified (zeros here; ``keras.ops.empty``)."""
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None) -> Tensor:
    """A tensor filled with ``fill_value``, float32 unless ``dtype`` is given (``keras.ops.full``)."""
    value = convert(fill_value)
    dtype = _float_or(dtype)
    return constant(get_array_module(value.data).broadcast_to(value.data, _shape(shape)).astype(dtype))


def _like(x, dtype, fill):
    t = convert(x)
    dtype = standardize_dtype(dtype) or t.dtype
    return constant(fill(get_array_module(t.data), t.data, dtype))


def zeros_like(x, dtype=None) -> Tensor:
    """Zeros of ``x``'s shape and dtype (``keras.ops.zeros_like``)."""
    return _like(x, dtype, lambda xp, a, d: xp.zeros(a.shape, d))


def ones_like(x, dtype=None) -> Tensor:
    """Ones of ``x``'s shape and dtype (``keras.ops.ones_like``)."""
    return _like(x, dtype, lambda xp, a, d: xp.ones(a.shape, d))


def empty_like(x, dtype=None) -> Tensor:
    """A tensor of ``x``'s shape and dtype, values unspecified (zeros here; ``keras.ops.empty_like``)."""
    return zeros_like(x, dtype)


def full_like(x, fill_value, dtype=None) -> Tensor:
    """``fill_value`` in ``x``'s shape and dtype (``keras.ops.full_like``)."""
    value = convert(fill_value).data
    return _like(x, dtype, lambda xp, a, d: xp.full(a.shape, backend.on_device_of(value, a), dtype=d))


def array(x, dtype=None) -> Tensor:
    """``x`` as a tensor (``keras.ops.array``): Python ints become int32, floats float32."""
    return convert(x, dtype)


def copy(x) -> Tensor:
    """A copy of ``x`` (``keras.ops.copy``), differentiable."""
    return rearrange(lambda a: a.copy(), x)


def arange(start, stop=None, step=None, dtype=None) -> Tensor:
    """Evenly spaced values in ``[start, stop)`` (``keras.ops.arange``): int32 for integer
    arguments, float32 when one is a float."""
    values = [v for v in (start, stop, step) if v is not None]
    if dtype is None:
        dtype = "float32" if any(isinstance(v, float) or getattr(v, "dtype", numpy.dtype(int)).kind == "f" for v in values) \
            else "int32"
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    return constant(backend.array_module().arange(start, stop, step, dtype=standardize_dtype(dtype)))


def eye(N, M=None, k=0, dtype=None) -> Tensor:  # noqa: N803 - Keras's argument names
    """A 2-D tensor with ones on the ``k``-th diagonal (``keras.ops.eye``)."""
    return _new(lambda xp, d: xp.eye(N, M, k, dtype=d), _float_or(dtype))


def identity(n, dtype=None) -> Tensor:
    """The ``n`` x ``n`` identity matrix (``keras.ops.identity``)."""
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None) -> Tensor:  # noqa: N803 - Keras's argument names
    """Ones at and below the ``k``-th diagonal (``keras.ops.tri``)."""
    return _new(lambda xp, d: xp.tri(N, M, k, dtype=d), _float_or(dtype))


def _spaced(kind, start, stop, num, endpoint, dtype, axis, **extra):
    start, stop = convert(start), convert(stop)
    xp = _xp(start, stop)
    fn = getattr(xp, kind)
    result = fn(start.data.astype(numpy.float64), stop.data.astype(numpy.float64), num, endpoint=endpoint, axis=axis, **extra)
    return result, _float_or(dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (``keras.ops.linspace``); with
    ``retstep`` also the spacing."""
    values, dtype = _spaced("linspace", start, stop, num, endpoint, dtype, axis, retstep=retstep)
    if retstep:
        return constant(values[0].astype(dtype)), constant(get_array_module(values[0]).asarray(values[1]).astype(dtype))
    return constant(values.astype(dtype))


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0) -> Tensor:
    """``base ** linspace(start, stop)`` (``keras.ops.logspace``)."""
    values, dtype = _spaced("logspace", start, stop, num, endpoint, dtype, axis, base=base)
    return constant(values.astype(dtype))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0) -> Tensor:
    """Values spaced evenly on a log scale from ``start`` to ``stop``, both non-zero and of one sign
    (``keras.ops.geomspace``): ``sign * 10 ** linspace(log10 |start|, log10 |stop|)`` with the
    ends exactly ``start`` and ``stop`` (CuPy has no ``geomspace`` of its own)."""
    first, last = (convert(v).data.astype(numpy.float64) for v in (start, stop))
    xp = get_array_module(first, last)
    if bool((first == 0).any()) or bool((last == 0).any()):
        raise ValueError("geomspace: start and stop must be non-zero")
    sign = xp.expand_dims(xp.sign(first + 0 * last), axis)
    values = sign * xp.logspace(xp.log10(xp.abs(first)), xp.log10(xp.abs(last)), num, endpoint=endpoint,
                                          axis=axis)
    along = xp.moveaxis(values, axis, 0)  # a view: the ends are written into values
    if num > 0:
        along[0] = first
    if num > 1 and endpoint:
        along[-1] = last
    return constant(values.astype(_float_or(dtype)))


def _window(kind):
    def window(x) -> Tensor:
        return constant(getattr(backend.array_module(), kind)(int(x)).astype(backend.floatx()))

    window.__name__ = window.__qualname__ = {"bartlett": "bartlett", "blackman": "blackman", "hamming": "hamming",
                                             "hanning": "hanning"}[kind]
    window.__doc__ = f"The {kind.title()} window of ``x`` points (``keras.ops.{kind}``), float32."
    return window


bartlett = _window("bartlett")
blackman = _window("blackman")
hamming = _window("hamming")
hanning = _window("hanning")


def kaiser(x, beta) -> Tensor:
    """The Kaiser window of ``x`` points and shape ``beta`` (``keras.ops.kaiser``), float32."""
    return constant(backend.array_module().kaiser(int(x), float(beta)).astype(backend.floatx()))


def meshgrid(*x, indexing="xy") -> list:
    """Coordinate grids from 1-D tensors (``keras.ops.meshgrid``), differentiable. With ``"xy"``
    indexing the first two grid axes are swapped (Cartesian), with ``"ij"`` they are not."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    vectors = [ravel(v) for v in x]
    axes = list(range(len(vectors)))
    if indexing == "xy" and len(vectors) > 1:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(vectors)
    for vector, axis in zip(vectors, axes):
        shape[axis] = vector.shape[0]
    grids = []
    for vector, axis in zip(vectors, axes):
        view = [1] * len(vectors)
        view[axis] = vector.shape[0]
        grids.append(broadcast_to(reshape(vector, view), shape))
    return grids


# -- shaping ---------------------------------------------------------------------------------------
def reshape(x, newshape) -> Tensor:
    """``x`` with a new shape, one dimension may be -1 (``keras.ops.reshape``)."""
    t = convert(x)
    shape = _shape(newshape, "newshape")
    return Reshape(shape)(t)


def transpose(x, axes=None) -> Tensor:
    """``x`` with its axes permuted, reversed when ``axes`` is None (``keras.ops.transpose``)."""
    t = convert(x)
    axes = None if axes is None else tuple(_axis(tuple(axes), t.ndim, "axes"))
    return Transpose(axes)(t)


def ravel(x) -> Tensor:
    """``x`` flattened to 1-D (``keras.ops.ravel``)."""
    return reshape(x, (-1,))


def expand_dims(x, axis) -> Tensor:
    """``x`` with new axes of length 1 at ``axis`` (an int or a tuple; ``keras.ops.expand_dims``)."""
    t = convert(x)
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    new_ndim = t.ndim + len(axes)
    axes = _as_list(_axis(tuple(axes), new_ndim))
    if len(set(axes)) != len(axes):
        raise ValueError(f"expand_dims: axis repeats an axis: {axis!r}")
    kept = iter(t.shape)
    return reshape(t, tuple(1 if i in axes else next(kept) for i in range(new_ndim)))


def squeeze(x, axis=None) -> Tensor:
    """``x`` without its axes of length 1 (only ``axis``, when given; ``keras.ops.squeeze``)."""
    t = convert(x)
    axes = _axis(axis, t.ndim)
    axes = tuple(i for i, n in enumerate(t.shape) if n == 1) if axes is None else (
        (axes,) if isinstance(axes, int) else axes)
    for a in axes:
        if t.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has length {t.shape[a]}, not 1 (x of shape {t.shape})")
    return reshape(t, tuple(n for i, n in enumerate(t.shape) if i not in axes))


def moveaxis(x, source, destination) -> Tensor:
    """``x`` with axes ``source`` moved to ``destination`` (``keras.ops.moveaxis``)."""
    t = convert(x)
    sources = _as_list(_axis(source, t.ndim, "source"))
    destinations = _as_list(_axis(destination, t.ndim, "destination"))
    if len(sources) != len(destinations):
        raise ValueError(f"moveaxis: source and destination must have as many axes, got {source!r} and {destination!r}")
    order = [a for a in range(t.ndim) if a not in sources]
    for dest, src in sorted(zip(destinations, sources)):
        order.insert(dest, src)
    return transpose(t, order)


def _as_list(value):
    return list(value) if isinstance(value, tuple) else [value]


def swapaxes(x, axis1, axis2) -> Tensor:
    """``x`` with two axes exchanged (``keras.ops.swapaxes``)."""
    t = convert(x)
    order = list(range(t.ndim))
    a, b = _axis(axis1, t.ndim, "axis1"), _axis(axis2, t.ndim, "axis2")
    order[a], order[b] = order[b], order[a]
    return transpose(t, order)


def broadcast_to(x, shape) -> Tensor:
    """``x`` broadcast to ``shape`` (``keras.ops.broadcast_to``); the gradient is summed back."""
    shape = _shape(shape)
    return rearrange(lambda a: get_array_module(a).broadcast_to(a, shape).copy(), x)


def flip(x, axis=None) -> Tensor:
    """``x`` with the order of elements reversed along ``axis`` (all axes when None; ``keras.ops.flip``)."""
    return rearrange(lambda a: get_array_module(a).flip(a, axis), x)


def fliplr(x) -> Tensor:
    """``x`` reversed along axis 1 (``keras.ops.fliplr``)."""
    return flip(x, 1)


def flipud(x) -> Tensor:
    """``x`` reversed along axis 0 (``keras.ops.flipud``)."""
    return flip(x, 0)


def rot90(array, k=1, axes=(0, 1)) -> Tensor:  # noqa: A002 - Keras's argument name
    """``array`` rotated by 90 degrees ``k`` times in the plane of ``axes`` (``keras.ops.rot90``)."""
    return rearrange(lambda a: get_array_module(a).rot90(a, k, tuple(axes)), array)


def roll(x, shift, axis=None) -> Tensor:
    """``x`` with elements shifted cyclically by ``shift`` along ``axis`` (``keras.ops.roll``)."""
    return rearrange(lambda a: get_array_module(a).roll(a, shift, axis), x)


def tile(x, repeats) -> Tensor:
    """``x`` repeated ``repeats`` times along each axis (``keras.ops.tile``)."""
    reps = _shape(repeats, "repeats")
    return rearrange(lambda a: get_array_module(a).tile(a, reps), x)


def repeat(x, repeats, axis=None) -> Tensor:
    """Each element of ``x`` repeated ``repeats`` times along ``axis`` (flattened when None; ``keras.ops.repeat``)."""
    if isinstance(repeats, Tensor):
        repeats = backend.to_host(repeats.data)
    counts = numpy.asarray(repeats).tolist()
    return rearrange(lambda a: get_array_module(a).repeat(a, get_array_module(a).asarray(counts) if isinstance(counts, list)
                                                           else counts, axis), x)


def pad(x, pad_width, mode="constant", constant_values=None) -> Tensor:
    """``x`` padded by ``pad_width`` (NumPy's forms: one int, one pair, or one pair per axis) in
    ``mode`` (``"constant"``, ``"edge"``, ``"reflect"``, ``"symmetric"``, ``"wrap"``, ...;
    ``keras.ops.pad``). ``constant_values`` only goes with ``mode="constant"``."""
    if mode != "constant" and constant_values is not None:
        raise ValueError(f"pad: constant_values can only be given with mode='constant', got mode={mode!r}")
    width = backend.to_host(pad_width.data).tolist() if isinstance(pad_width, Tensor) else pad_width
    if mode == "constant":
        value = 0 if constant_values is None else constant_values
        return rearrange(lambda a: get_array_module(a).pad(a, width, mode="constant", constant_values=value), x,
                         index_fn=lambda a: get_array_module(a).pad(a, width, mode="constant"))
    return rearrange(lambda a: get_array_module(a).pad(a, width, mode=mode), x)


# -- joining and splitting ---------------------------------------------------------------------------
def _sequence(xs, name):
    if isinstance(xs, Tensor) or not isinstance(xs, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple of tensors, got {type(xs).__name__}")
    if not xs:
        raise ValueError(f"{name} must not be empty")
    return list(xs)


def concatenate(xs, axis=0) -> Tensor:
    """The tensors ``xs`` joined along ``axis`` (flattened first when None; ``keras.ops.concatenate``)."""
    xs = _sequence(xs, "xs")
    return rearrange(lambda *arrays: get_array_module(*arrays).concatenate(arrays, axis=axis), *xs)


def stack(x, axis=0) -> Tensor:
    """The tensors ``x`` joined along a new ``axis`` (``keras.ops.stack``; Keras's dtype promotion)."""
    xs = _sequence(x, "x")
    tensors = promote(*xs) if len(xs) > 1 else (convert(xs[0]),)
    if builtins.len({t.shape for t in tensors}) > 1:
        raise ValueError(f"stack: x must hold tensors of one shape, got {[t.shape for t in tensors]}")
    return primitives.stack(tensors, _axis(axis, tensors[0].ndim + 1))


def _joiner(kind):
    def join(xs) -> Tensor:
        items = _sequence(xs, "xs")
        return rearrange(lambda *arrays: getattr(get_array_module(*arrays), kind)(arrays), *items)

    join.__name__ = join.__qualname__ = kind
    join.__doc__ = f"The tensors ``xs`` joined as NumPy's ``{kind}`` joins them (``keras.ops.{kind}``)."
    return join


hstack = _joiner("hstack")
vstack = _joiner("vstack")
dstack = _joiner("dstack")


def append(x1, x2, axis=None) -> Tensor:
    """``x2`` appended to ``x1`` along ``axis`` (both flattened when None; ``keras.ops.append``)."""
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)])
    return concatenate([x1, x2], axis=axis)


def _pieces(t, indices_or_sections, axis, even):
    """The slices ``split`` cuts ``t`` into along ``axis``."""
    length = t.shape[axis]
    if isinstance(indices_or_sections, numbers.Integral):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"indices_or_sections must be positive, got {sections}")
        if even and length % sections:
            raise ValueError(f"split: axis {axis} of length {length} does not divide into {sections} equal sections")
        small, extra = divmod(length, sections)
        bounds = numpy.cumsum([0] + [small + 1] * extra + [small] * (sections - extra)).tolist()
    else:
        cuts = [builtins.min(builtins.max(int(c) + (length if c < 0 else 0), 0), length) for c in indices_or_sections]
        bounds = [0] + cuts + [length]
    return [(slice(None),) * axis + (slice(start, builtins.max(start, stop)),) for start, stop in zip(bounds, bounds[1:])]


def split(x, indices_or_sections, axis=0) -> list:
    """``x`` cut into equal sections, or at the given indices, along ``axis`` (``keras.ops.split``)."""
    t = convert(x)
    axis = _axis(axis, t.ndim)
    return [get_item(t, index) for index in _pieces(t, indices_or_sections, axis, even=True)]


def array_split(x, indices_or_sections, axis=0) -> list:
    """``x`` cut into ``indices_or_sections`` nearly equal sections along ``axis`` (``keras.ops.array_split``)."""
    t = convert(x)
    axis = _axis(axis, t.ndim)
    return [get_item(t, index) for index in _pieces(t, indices_or_sections, axis, even=False)]


def hsplit(x, indices_or_sections) -> list:
    """``x`` split along axis 1 (axis 0 for a 1-D tensor; ``keras.ops.hsplit``)."""
    t = convert(x)
    return split(t, indices_or_sections, axis=1 if t.ndim > 1 else 0)


def vsplit(x, indices_or_sections) -> list:
    """``x`` split along axis 0 (``keras.ops.vsplit``)."""
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections) -> list:
    """``x`` split along axis 2 (``keras.ops.dsplit``)."""
    return split(x, indices_or_sections, axis=2)


# -- indexing ------------------------------------------------------------------------------------------
def get_item(x, key) -> Tensor:
    """``x[key]`` for any NumPy index (``keras.ops.get_item``); repeated indices add their gradients.
    A list ``key`` is one index per axis, as a tuple (Keras's rule, which configs rely on: JSON
    keeps ``x[:, 1:]``'s key as a list)."""
    if isinstance(key, list):
        key = tuple(key)
    parts = key if isinstance(key, tuple) else (key,)
    arrays = [p for p in parts if isinstance(p, Tensor) or isinstance(p, numpy.ndarray) or backend.is_device_array(p)]
    if not arrays:
        return rearrange(lambda a: a[key], x)
    slots = [any(p is a for a in arrays) for p in parts]

    def read(a, *index_arrays):
        given = iter(index_arrays)
        index = tuple(next(given) if slot else p for p, slot in zip(parts, slots))
        return a[index if isinstance(key, tuple) else index[0]]

    return rearrange(read, x, keys=[convert(p) for p in arrays])


def _indices(indices):
    t = convert(indices)
    if t.dtype.kind not in "iu":
        raise TypeError(f"indices must hold integers, got dtype {t.dtype}")
    return t


def take(x, indices, axis=None) -> Tensor:
    """The elements of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` when None; ``keras.ops.take``)."""
    index = _indices(indices)
    if axis is None:
        return rearrange(lambda a, i: get_array_module(a).take(a, i, axis=axis), x, keys=[index])
    table = convert(x)
    return gather(table, index, _axis(axis, table.ndim))  # a scatter-add backward (an embedding's lookup)


def take_along_axis(x, indices, axis=None) -> Tensor:
    """``x`` gathered at ``indices`` matched element by element along ``axis`` (``keras.ops.take_along_axis``)."""
    index = _indices(indices)

    def gather(a, i):
        xp = get_array_module(a)
        if axis is None:
            return xp.take_along_axis(a.reshape(-1), i.reshape(-1), 0)
        shape = list(numpy.broadcast_shapes(tuple(n if k != axis % a.ndim else 1 for k, n in enumerate(a.shape)),
                                            tuple(n if k != axis % a.ndim else 1 for k, n in enumerate(i.shape))))
        a_shape, i_shape = list(shape), list(shape)
        a_shape[axis % a.ndim], i_shape[axis % a.ndim] = a.shape[axis], i.shape[axis]
        return xp.take_along_axis(xp.broadcast_to(a, a_shape), xp.broadcast_to(i, i_shape), axis)

    return rearrange(gather, x, keys=[index])


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2``, with broadcasting (``keras.ops.where``); with
    only ``condition``, the indices where it holds (as :func:`nonzero`)."""
    if (x1 is None) != (x2 is None):
        raise ValueError("where: give both x1 and x2, or neither")
    if x1 is None:
        return nonzero(condition)
    return rearrange(lambda a, b, mask: get_array_module(a).where(mask, a, b), x1, x2, keys=[condition])


def select(condlist, choicelist, default=0) -> Tensor:
    """For each element, the entry of the first choice whose condition holds, else ``default``
    (``keras.ops.select``)."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: condlist and choicelist must have the same length, got {len(condlist)} and "
                         f"{len(choicelist)}")
    count = len(condlist)

    def choose(*arrays):
        xp = get_array_module(*arrays)
        values, masks = arrays[:-count], arrays[-count:]
        *choices, fallback = values
        shape = numpy.broadcast_shapes(*(a.shape for a in arrays))
        return xp.select([xp.broadcast_to(m.astype(bool), shape) for m in masks],
                         [xp.broadcast_to(c, shape) for c in choices], xp.broadcast_to(fallback, shape))

    return rearrange(choose, *choicelist, default, keys=list(condlist))


def nonzero(x) -> tuple:
    """The indices of the non-zero elements of ``x``, one int32 tensor per axis (``keras.ops.nonzero``)."""
    t = convert(x)
    found = compute(lambda a: get_array_module(a).stack(get_array_module(a).nonzero(a)).astype(numpy.int32)
                    .reshape(a.ndim, -1), t)
    return tuple(get_item(found, i) for i in range(t.ndim))


def diag(x, k=0) -> Tensor:
    """The ``k``-th diagonal of a matrix, or the matrix with a vector on it (``keras.ops.diag``)."""
    t = convert(x)
    if t.ndim not in (1, 2):
        raise ValueError(f"diag: x must be 1-D or 2-D, got shape {t.shape}")
    return rearrange(lambda a: get_array_module(a).diag(a, k), t)


def diagflat(x, k=0) -> Tensor:
    """A matrix with the flattened ``x`` on its ``k``-th diagonal (``keras.ops.diagflat``)."""
    return rearrange(lambda a: get_array_module(a).diagflat(a, k), x)


def diagonal(x, offset=0, axis1=0, axis2=1) -> Tensor:
    """The ``offset``-th diagonals of the planes ``(axis1, axis2)`` of ``x``, on a new last axis (``keras.ops.diagonal``)."""
    return rearrange(lambda a: get_array_module(a).diagonal(a, offset, axis1, axis2).copy(), x)


def tril(x, k=0) -> Tensor:
    """``x`` with the entries above its ``k``-th diagonal set to 0 (the last two axes; ``keras.ops.tril``)."""
    return rearrange(lambda a: get_array_module(a).tril(a, k), x)


def triu(x, k=0) -> Tensor:
    """``x`` with the entries below its ``k``-th diagonal set to 0 (the last two axes; ``keras.ops.triu``)."""
    return rearrange(lambda a: get_array_module(a).triu(a, k), x)


def _sorted_order(t, axis) -> Tensor:
    """The int32 order that sorts ``t`` along ``axis`` (stable; NaN last)."""
    return compute(lambda a: get_array_module(a).argsort(a, axis=axis, kind="stable").astype(numpy.int32), t)


def sort(x, axis=-1) -> Tensor:
    """``x`` sorted along ``axis`` (flattened when None; ``keras.ops.sort``); the gradient goes back
    to each value's position."""
    t = convert(x)
    if axis is None:
        t, axis = ravel(t), -1
    return rearrange(lambda a, order: get_array_module(a).take_along_axis(a, order, axis), t,
                     keys=[_sorted_order(t, axis)])


def argsort(x, axis=-1) -> Tensor:
    """The int32 indices that sort ``x`` along ``axis`` (``keras.ops.argsort``)."""
    t = convert(x)
    if axis is None:
        t, axis = ravel(t), -1
    return _sorted_order(t, axis)


def argpartition(x, kth, axis=-1) -> Tensor:
    """Int32 indices that put the ``kth`` element in its sorted place along ``axis``, smaller ones
    before it and larger ones after (``keras.ops.argpartition``)."""
    return compute(lambda a: get_array_module(a).argpartition(a, kth, axis=axis).astype(numpy.int32), x)


def searchsorted(sorted_sequence, values, side="left") -> Tensor:
    """Int32 indices where ``values`` would be inserted to keep the 1-D ``sorted_sequence`` sorted
    (``keras.ops.searchsorted``)."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    a, v = promote(sorted_sequence, values)
    if a.ndim != 1:
        raise ValueError(f"searchsorted: sorted_sequence must be 1-D, got shape {a.shape}")
    return compute(lambda s, v: get_array_module(s).searchsorted(s, v, side=side).astype(numpy.int32), a, v)


def digitize(x, bins) -> Tensor:
    """The int32 index of the bin each element of ``x`` falls in (``keras.ops.digitize``)."""
    return compute(lambda a, b: get_array_module(a).digitize(a, b).astype(numpy.int32), *promote(x, bins))


def isin(x1, x2, assume_unique=False, invert=False) -> Tensor:
    """Whether each element of ``x1`` is among those of ``x2`` (``keras.ops.isin``), a boolean tensor."""
    return compute(lambda a, b: get_array_module(a).isin(a, b, assume_unique=assume_unique, invert=invert),
                   *promote(x1, x2))


def unravel_index(indices, shape) -> tuple:
    """The coordinates in ``shape`` of the flat ``indices``, one tensor per axis (``keras.ops.unravel_index``)."""
    dims = _shape(shape)
    found = compute(lambda a: get_array_module(a).stack(get_array_module(a).unravel_index(a, dims)).astype(a.dtype),
                    indices)
    return tuple(get_item(found, i) for i in range(len(dims)))


def bincount(x, weights=None, minlength=0, sparse=False) -> Tensor:
    """How many times each non-negative int appears in ``x`` (weighted by ``weights``; ``keras.ops.bincount``).
    A 2-D ``x`` is counted row by row."""
    if sparse:
        raise ValueError("bincount: sparse=True is not supported by gpunet (it has no sparse tensors)")
    t = convert(x)
    if t.dtype.kind not in "iu":
        raise TypeError(f"bincount: x must hold integers, got dtype {t.dtype}")
    xp = get_array_module(t.data)
    w = None if weights is None else convert(weights)
    length = builtins.max(int(minlength), int(t.data.max()) + 1 if t.size else 0)
    dtype = numpy.dtype("int32") if w is None else w.dtype
    rows = t.data.reshape(-1, t.shape[-1]) if t.ndim > 1 else t.data[None]
    weight_rows = None if w is None else (w.data.reshape(rows.shape))
    counts = xp.stack([xp.bincount(row, None if weight_rows is None else weight_rows[i], length)
                       for i, row in enumerate(rows)])
    counts = counts.astype(dtype)
    return constant(counts if t.ndim > 1 else counts[0])


def histogram(x, bins=10, range=None) -> tuple:  # noqa: A002 - Keras's argument name
    """The counts of ``x`` in ``bins`` equal bins over ``range`` (the data's range when None), and
    the bin edges, both in ``x``'s float dtype (``keras.ops.histogram``)."""
    t = convert(x)
    dtype = t.dtype if t.dtype.kind == "f" else backend.floatx()

    def part(k):
        return lambda a: get_array_module(a).histogram(a, bins=bins, range=range)[k].astype(dtype)

    return compute(part(0), t), compute(part(1), t)


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None, size=None,  # noqa: A002
           fill_value=None):
    """The distinct values of ``x`` (sorted), with the indices, inverse and counts when asked
    (``keras.ops.unique``). ``size`` pads (with ``fill_value``, the smallest value by default) or
    cuts the result to a fixed length."""
    if not sorted:
        raise ValueError("unique: sorted=False is not supported by gpunet (its values are always sorted)")
    t = convert(x)
    xp = get_array_module(t.data)
    found = xp.unique(t.data, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    values, first, inverse, counts = found
    if size is not None:
        fill = values.min() if fill_value is None and values.size else (0 if fill_value is None else fill_value)
        values = _fixed_length(xp, values, size, fill)
        first = _fixed_length(xp, first, size, 0)
        counts = _fixed_length(xp, counts, size, 0)
    results = [constant(values)]
    for wanted, part in ((return_index, first), (return_inverse, inverse), (return_counts, counts)):
        if wanted:
            results.append(constant(part.astype(numpy.int32)))
    return results[0] if len(results) == 1 else tuple(results)


def _fixed_length(xp, values, size, fill):
    if values.shape[0] >= size:
        return values[:size]
    extra = xp.full((size - values.shape[0],) + values.shape[1:], fill, dtype=values.dtype)
    return xp.concatenate([values, extra])


def ndim(x) -> int:
    """The number of dimensions of ``x`` (``keras.ops.ndim``)."""
    return convert(x).ndim


def size(x) -> int:
    """The number of elements of ``x`` (``keras.ops.size``)."""
    return convert(x).size


def view(x, dtype=None) -> Tensor:
    """``x``'s bytes read as ``dtype`` (``keras.ops.view``); no gradient."""
    t = convert(x)
    if dtype is None:
        return t
    dtype = standardize_dtype(dtype)
    return compute(lambda a: a.view(dtype), t)


__all__ = [
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "array", "copy", "arange",
    "eye", "identity", "tri", "linspace", "logspace", "geomspace", "bartlett", "blackman", "hamming", "hanning",
    "kaiser", "meshgrid", "reshape", "transpose", "ravel", "expand_dims", "squeeze", "moveaxis", "swapaxes",
    "broadcast_to", "flip", "fliplr", "flipud", "rot90", "roll", "tile", "repeat", "pad", "concatenate", "stack",
    "hstack", "vstack", "dstack", "append", "split", "array_split", "hsplit", "vsplit", "dsplit", "get_item", "take",
    "take_along_axis", "where", "select", "nonzero", "diag", "diagflat", "diagonal", "tril", "triu", "sort", "argsort",
    "argpartition", "searchsorted", "digitize", "isin", "unravel_index", "bincount", "histogram", "unique", "ndim",
    "size", "view",
]
