"""Keras 3's core ops: the names of ``keras.ops`` outside its numpy, nn, image and linalg
namespaces (cast, slice, scatter, control flow, top_k, logsumexp, segment reductions, FFTs,
custom_gradient, ...), exported by ``gpunet.ops`` as Keras exports them.

Results are :class:`gpunet.Tensor`; the ops that Keras differentiates are differentiable here
(slices and scatters, top_k's values, logsumexp, erf/erfinv/rsqrt, segment reductions, the FFTs,
cdist, logdet). Control flow (``cond``, ``while_loop``, ``scan``, ...) runs eagerly in Python, so
gradients flow through whatever the loop computed. Not offered: ``stft``/``istft``,
``view_as_complex``/``view_as_real`` (gpunet's tensors are real) and ``rearrange``.
"""

from __future__ import annotations

import builtins
import numbers

import numpy

from .. import backend
from ..autograd import Function, Tensor, enable_grad, no_grad, sum_to_shape
from ..backend import get_array_module
from . import primitives as P
from .linalg import slogdet
from .math import add, log, sub, sum as _sum, exp
from .shaping import _scatter_add as _add_at, cast as _cast, getitem, reshape

__all__ = [
    "cast", "convert_to_tensor", "convert_to_numpy", "stop_gradient", "shape", "dtype", "is_tensor", "saturate_cast",
    "slice", "slice_update", "scatter", "scatter_update", "cond", "switch", "while_loop", "fori_loop", "scan", "map",
    "associative_scan", "vectorized_map", "unstack", "top_k", "in_top_k", "logsumexp", "erf", "erfc", "erfinv",
    "rsqrt", "segment_sum", "segment_max", "segment_min", "segment_prod", "extract_sequences", "fft", "fft2", "ifft2",
    "rfft", "irfft", "custom_gradient", "cdist", "logdet",
]

erf, erfc, erfinv, rsqrt = P.erf, P.erfc, P.erfinv, P.rsqrt


def stop_gradient(variable):
    """``variable``'s values, cut from the graph: no gradient flows back through the result."""
    return P.stop_gradient(variable)


# ----------------------------------------------------------------------------------------------
# tensors, dtypes, shapes
# ----------------------------------------------------------------------------------------------
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` (array, scalar, nested list, Tensor) as a Tensor; Python ints become int32 and
    Python floats float32, as Keras's do."""
    if sparse:
        raise ValueError("convert_to_tensor: sparse=True is not supported by gpunet (dense tensors only)")
    if ragged:
        raise ValueError("convert_to_tensor: ragged=True is not supported by gpunet")
    native = not isinstance(x, Tensor) and not isinstance(x, (numpy.ndarray, numpy.generic)) \
        and not backend.is_device_array(x)
    t = P.tensor(x)
    if native and dtype is None and t.dtype == numpy.int64:
        dtype = "int32"
    return t if dtype is None else cast(t, dtype)


def cast(x, dtype):
    """``x`` in ``dtype`` (differentiable between floating dtypes)."""
    return _cast(P.tensor(x), _dtype_of(dtype))


def _dtype_of(dtype):
    try:
        return numpy.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must name a NumPy dtype, got {dtype!r}") from None


def convert_to_numpy(x):
    """``x`` as a host NumPy array."""
    return backend.to_host(P.data(x))


def shape(x):
    """``x``'s shape as a tuple of ints."""
    return tuple(P.data(x).shape) if not hasattr(x, "shape") else tuple(x.shape)


def dtype(x):
    """The name of ``x``'s dtype (``"float32"``)."""
    return numpy.dtype(P.data(x).dtype).name


def is_tensor(x):
    """Whether ``x`` is a tensor of this backend: a gpunet Tensor or a backend array."""
    return isinstance(x, Tensor) or backend.is_device_array(x) or isinstance(x, numpy.ndarray)


def saturate_cast(x, dtype):
    """``x`` clipped to the range of ``dtype``, then cast to it (no wrap-around on overflow)."""
    target = _dtype_of(dtype)
    x = P.tensor(x)
    if target.kind == "f" and x.dtype.kind == "f":
        info = numpy.finfo(target)
        return cast(P.clip(x, float(info.min), float(info.max)), target)
    if target.kind not in "iu" or x.dtype.kind not in "iuf":
        return cast(x, target)
    xp = get_array_module(x.data)
    info = numpy.iinfo(target)
    low, high = int(info.min), int(info.max)
    if x.dtype.kind == "f":  # the top may round up past the range in x's dtype: it is set apart
        clipped = xp.clip(x.data, low, high)
        over = clipped >= high
        out = xp.where(over, 0, clipped).astype(target)
        return Tensor._result(xp.where(over, high, out).astype(target), None)
    source = numpy.iinfo(x.dtype)
    clipped = xp.clip(x.data, builtins.max(low, int(source.min)), builtins.min(high, int(source.max)))
    return Tensor._result(clipped.astype(target), None)


# ----------------------------------------------------------------------------------------------
# slices and scatters
# ----------------------------------------------------------------------------------------------
def _start_index(inputs, start_indices, sizes):
    starts = [int(s) for s in backend.to_host(P.data(start_indices)).reshape(-1)] \
        if not isinstance(start_indices, (tuple, list)) else [int(P.data(s)) for s in start_indices]
    if len(starts) != inputs.ndim:
        raise ValueError(f"start_indices must have one entry per dim of inputs ({inputs.ndim}), got {starts}")
    return tuple(builtins.slice(s, s + n) for s, n in zip(starts, sizes))


def slice(inputs, start_indices, shape):  # noqa: A001 - Keras's name
    """The block of ``inputs`` of size ``shape`` starting at ``start_indices``."""
    inputs = P.tensor(inputs)
    return getitem(inputs, _start_index(inputs, start_indices, shape))


class SliceUpdate(Function):
    """``inputs`` with the block at ``index`` replaced by ``updates``."""

    def __init__(self, index):
        self.index = index

    def forward(self, inputs, updates):
        out = inputs.copy()
        out[self.index] = updates
        return out

    def backward(self, gy):
        g_inputs = gy.copy()
        g_inputs[self.index] = 0
        return g_inputs, gy[self.index]


def slice_update(inputs, start_indices, updates):
    """``inputs`` with ``updates`` written at ``start_indices`` (differentiable in both)."""
    inputs = P.tensor(inputs)
    updates = cast(P.tensor(updates, like=inputs), inputs.dtype)
    return SliceUpdate(_start_index(inputs, start_indices, updates.shape))(inputs, updates)


class _Scatter(Function):
    """``inputs`` with ``updates`` written (``reduction`` None) or added ("add") at the index
    tuple ``index``; with None, a repeated index keeps its last update, as NumPy does."""

    def __init__(self, index, reduction):
        self.index, self.reduction = index, reduction

    def forward(self, inputs, updates):
        out = inputs.copy()
        if self.reduction == "add":
            _scatter_add(out, self.index, updates)
        else:
            out[self.index] = updates
        return out

    def backward(self, gy):
        g_updates = gy[self.index]
        if self.reduction == "add":
            return gy, g_updates
        g_inputs = gy.copy()
        g_inputs[self.index] = 0
        return g_inputs, g_updates


def _scatter_add(target, index, values):
    """``target[index] += values``, repeated indices adding up (the helper getitem's backward uses)."""
    _add_at(get_array_module(target), target, index, values)


def _index_tuple(indices):
    """Keras's ``indices`` (..., k), each row an index into the first ``k`` dims, as a NumPy index."""
    idx = P.data(indices)
    if idx.ndim < 1:
        raise ValueError(f"indices must have at least 1 dim (..., k), got shape {tuple(idx.shape)}")
    return tuple(idx[..., i] for i in range(idx.shape[-1]))


def scatter(indices, values, shape):
    """A zero tensor of ``shape`` with ``values`` added at ``indices`` (rows of indices)."""
    values = P.tensor(values)
    xp = get_array_module(values.data)
    zeros = Tensor._result(xp.zeros(tuple(shape), dtype=values.dtype), None)
    return _Scatter(_index_tuple(indices), "add")(zeros, values)


def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs`` with ``updates`` at ``indices``: replaced (``reduction=None``) or added ("add")."""
    if reduction not in (None, "add"):
        raise ValueError(f"scatter_update: reduction must be None or 'add' in gpunet, got {reduction!r}")
    inputs = P.tensor(inputs)
    updates = cast(P.tensor(updates, like=inputs), inputs.dtype)
    return _Scatter(_index_tuple(indices), reduction)(inputs, updates)


# ----------------------------------------------------------------------------------------------
# control flow (eager: Python runs the branches and loops; gradients follow what ran)
# ----------------------------------------------------------------------------------------------
def _truth(pred) -> bool:
    return bool(backend.to_host(P.data(pred)))


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()``."""
    return true_fn() if _truth(pred) else false_fn()


def switch(index, branches, *operands):
    """``branches[index](*operands)``, ``index`` clamped to the valid range."""
    if not branches:
        raise ValueError("switch: branches must not be empty")
    i = int(backend.to_host(P.data(index)))
    return branches[builtins.min(builtins.max(i, 0), len(branches) - 1)](*operands)


def while_loop(cond, body, loop_vars, maximum_iterations=None):  # noqa: A002 - Keras's name
    """Repeat ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (at most
    ``maximum_iterations`` times); a single loop variable may be given bare."""
    packed = isinstance(loop_vars, (tuple, list))
    state = tuple(loop_vars) if packed else (loop_vars,)
    steps = 0
    while (maximum_iterations is None or steps < maximum_iterations) and _truth(cond(*state)):
        state = body(*state)
        state = tuple(state) if isinstance(state, (tuple, list)) else (state,)
        steps += 1
    return (type(loop_vars)(state) if packed else state[0])


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``."""
    value = init_val
    for i in range(int(P.data(lower)), int(P.data(upper))):
        value = body_fun(i, value)
    return value


def _rows(xs):
    return [getitem(xs, i) for i in range(xs.shape[0])]


def _stacked(results):
    if isinstance(results[0], (tuple, list)):
        return type(results[0])(_stacked([r[i] for r in results]) for i in range(len(results[0])))
    return P.stack([P.tensor(r) for r in results], 0)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the rows of ``xs`` (or ``length`` times with x None):
    returns the last carry and the ys stacked."""
    if xs is None and length is None:
        raise ValueError("scan: give xs or length")
    if isinstance(unroll, bool) or not isinstance(unroll, (int, numpy.integer)) and unroll is not True:
        raise ValueError(f"scan: unroll must be an int or a bool, got {unroll!r}")
    items = [None] * int(length) if xs is None else _rows(P.tensor(xs))
    if reverse:
        items = items[::-1]
    carry, ys = init, []
    for x in items:
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    return carry, (_stacked(ys) if ys and ys[0] is not None else None)


def map(f, xs):  # noqa: A001 - Keras's name
    """``f`` applied to each row of ``xs`` (a tensor, or a tuple/list of tensors), stacked."""
    if isinstance(xs, (tuple, list)):
        rows = list(zip(*[_rows(P.tensor(x)) for x in xs]))
        return _stacked([f(type(xs)(row)) for row in rows])
    return _stacked([f(x) for x in _rows(P.tensor(xs))])


def vectorized_map(function, elements):
    """:func:`map` (run one row at a time)."""
    return map(function, elements)


def associative_scan(f, elems, reverse=False, axis=0):
    """The inclusive prefix combination ``r[i] = f(r[i - 1], e[i])`` along ``axis`` (``f``
    associative; run in order, so any ``f`` gives the sequential result)."""
    leaves = list(elems) if isinstance(elems, (tuple, list)) else [elems]
    leaves = [P.tensor(leaf) for leaf in leaves]
    axis = axis % leaves[0].ndim
    n = leaves[0].shape[axis]

    def at(leaf, i):
        index = [builtins.slice(None)] * leaf.ndim
        index[axis] = builtins.slice(i, i + 1)
        return getitem(leaf, tuple(index))

    order = range(n - 1, -1, -1) if reverse else range(n)
    packed = isinstance(elems, (tuple, list))
    results, running = [], None
    for i in order:
        item = [at(leaf, i) for leaf in leaves]
        item = type(elems)(item) if packed else item[0]
        running = item if running is None else (f(item, running) if reverse else f(running, item))
        results.append(running)
    if reverse:
        results = results[::-1]
    if packed:
        return type(elems)(P.concat([r[j] for r in results], axis) for j in range(len(leaves)))
    return P.concat(results, axis)


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis``, as a list."""
    x = P.tensor(x)
    axis = axis % x.ndim
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"unstack: num={num} does not match the size {x.shape[axis]} of axis {axis}")
    index = [builtins.slice(None)] * x.ndim
    parts = []
    for i in range(x.shape[axis]):
        index[axis] = i
        parts.append(getitem(x, tuple(index)))
    return parts


# ----------------------------------------------------------------------------------------------
# selections and reductions
# ----------------------------------------------------------------------------------------------
def top_k(x, k, sorted=True):  # noqa: A002 - Keras's name
    """``(values, indices)`` of the ``k`` largest entries along the last axis (indices int32;
    ties keep the lower index first); the values are differentiable. ``sorted=False`` leaves the
    order free: gpunet returns them sorted either way, as Keras on JAX does."""
    x = P.tensor(x)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= x.shape[-1]:
        raise ValueError(f"top_k: k must be an int in [1, {x.shape[-1]}], got {k!r}")
    xp = get_array_module(x.data)
    order = xp.argsort(-x.data, axis=-1, kind="stable")[..., :k]
    return P.take_along_axis(x, order, -1), Tensor._result(order.astype(numpy.int32), None)


def in_top_k(targets, predictions, k):
    """Whether each target class is among the ``k`` largest predictions of its row (ties with
    the k-th value count as in)."""
    predictions = P.data(predictions)
    targets = P.data(targets).astype(numpy.int64)
    xp = get_array_module(predictions)
    target_values = xp.take_along_axis(predictions, targets[:, None], axis=-1)
    above = (predictions > target_values).sum(axis=-1)
    return Tensor._result((above < k) & xp.isfinite(target_values[:, 0]), None)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, shifted by the maximum so that nothing overflows."""
    x = P.float_tensor(x)
    xp = get_array_module(x.data)
    axes = None if axis is None else tuple(a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis))
    peak = x.data.max(axis=axes, keepdims=True)
    peak = xp.where(xp.isfinite(peak), peak, 0)
    shift = Tensor._result(peak, None)
    out = add(log(_sum(exp(sub(x, shift)), axes, keepdims=True)), shift)
    if not keepdims:
        out = reshape(out, tuple(n for i, n in enumerate(x.shape) if axes is not None and i not in axes))
    return out


class SegmentReduce(Function):
    """Rows of ``data`` combined per segment id (sum, max, min or prod); empty segments give 0
    for a sum, 1 for a product, -inf/inf for a float max/min (the dtype's extremes for integers)."""

    def __init__(self, ids, count, mode):
        self.ids, self.count, self.mode = ids, count, mode

    def forward(self, data):
        xp = get_array_module(data)
        shape = (self.count,) + data.shape[1:]
        keep = (self.ids >= 0) & (self.ids < self.count)
        ids, rows = self.ids[keep], data[keep]
        if self.mode == "sum":
            out = xp.zeros(shape, data.dtype)
            _scatter_add(out, ids, rows)
        elif self.mode == "prod":
            out = xp.ones(shape, data.dtype)
            xp.multiply.at(out, ids, rows)
        else:
            if data.dtype.kind == "f":
                empty = -numpy.inf if self.mode == "max" else numpy.inf
            else:
                info = numpy.iinfo(data.dtype)
                empty = info.min if self.mode == "max" else info.max
            out = xp.full(shape, empty, data.dtype)
            (xp.maximum if self.mode == "max" else xp.minimum).at(out, ids, rows)
        self.keep, self.data, self.out = keep, data, out
        return out

    def backward(self, gy):
        xp = get_array_module(gy)
        ids = xp.where(self.keep, self.ids, 0)
        spread = gy[ids] * self.keep.reshape((-1,) + (1,) * (gy.ndim - 1))
        if self.mode == "sum":
            return (spread,)
        if self.mode == "prod":
            return (spread * self.out[ids] / self.data,)
        hit = (self.data == self.out[ids]).astype(gy.dtype)
        ties = xp.zeros(self.out.shape, gy.dtype)
        _scatter_add(ties, ids, hit * self.keep.reshape(spread.shape[:1] + (1,) * (gy.ndim - 1)))
        return (spread * hit / xp.maximum(ties[ids], 1),)


def _segment(mode, data, segment_ids, num_segments):
    data = P.tensor(data)
    ids = P.data(segment_ids).astype(numpy.int64)
    if ids.ndim != 1 or ids.shape[0] != data.shape[0]:
        raise ValueError(f"segment_ids must be 1-D with one id per row of data ({data.shape[0]}), got shape "
                         f"{tuple(ids.shape)}")
    count = int(backend.to_host(ids.max())) + 1 if num_segments is None else int(num_segments)
    return SegmentReduce(ids, count, mode)(data)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Sum of the rows of ``data`` per segment id."""
    return _segment("sum", data, segment_ids, num_segments)


def segment_max(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Maximum of the rows of ``data`` per segment id (the gradient is shared between ties)."""
    return _segment("max", data, segment_ids, num_segments)


def segment_min(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Minimum of the rows of ``data`` per segment id."""
    return _segment("min", data, segment_ids, num_segments)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Product of the rows of ``data`` per segment id (its gradient divides by the entry: no
    zero entries)."""
    return _segment("prod", data, segment_ids, num_segments)


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``sequence_length`` along the last axis every ``sequence_stride`` entries:
    shape (..., frames, sequence_length)."""
    x = P.tensor(x)
    n = x.shape[-1]
    if sequence_length > n:
        raise ValueError(f"extract_sequences: sequence_length {sequence_length} exceeds the last dim {n}")
    frames = (n - sequence_length) // sequence_stride + 1
    xp = get_array_module(x.data)
    index = xp.arange(frames)[:, None] * sequence_stride + xp.arange(sequence_length)[None, :]
    return getitem(x, (Ellipsis, index))


# ----------------------------------------------------------------------------------------------
# Fourier transforms: complex values as (real, imaginary) pairs, as Keras passes them
# ----------------------------------------------------------------------------------------------
class _FFT(Function):
    """A complex FFT of (real, imaginary) over the last ``rank`` axes (``inverse``: the inverse
    transform). Linear, so backward is the adjoint: ``n * ifft`` of the gradient for the forward
    transform, ``fft / n`` for the inverse."""

    def __init__(self, rank, inverse):
        self.axes = tuple(range(-rank, 0))
        self.inverse = inverse

    def _transform(self, xp, z, inverse):
        return (xp.fft.ifftn if inverse else xp.fft.fftn)(z, axes=self.axes)

    def forward(self, real, imag):
        xp = get_array_module(real)
        self.dtype = real.dtype
        z = self._transform(xp, real + 1j * imag, self.inverse)
        return xp.stack([z.real, z.imag]).astype(real.dtype)

    def backward(self, gy):
        xp = get_array_module(gy)
        size = int(numpy.prod([gy.shape[a] for a in self.axes]))
        g = self._transform(xp, gy[0] + 1j * gy[1], not self.inverse)
        g = g * size if not self.inverse else g / size
        return g.real.astype(self.dtype), g.imag.astype(self.dtype)


def _complex_pair(x, name):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"{name}: x must be a (real, imaginary) pair of tensors")
    real = P.float_tensor(x[0])
    imag = cast(P.tensor(x[1], like=real), real.dtype)
    if tuple(real.shape) != tuple(imag.shape):
        raise ValueError(f"{name}: the real and imaginary parts must have one shape, got {tuple(real.shape)} and "
                         f"{tuple(imag.shape)}")
    return real, imag


def _pair_result(stacked):
    return getitem(stacked, 0), getitem(stacked, 1)


def fft(x):
    """The FFT over the last axis of the complex ``x = (real, imaginary)``: a pair back."""
    return _pair_result(_FFT(1, False)(*_complex_pair(x, "fft")))


def fft2(x):
    """The 2-D FFT over the last two axes of ``x = (real, imaginary)``."""
    return _pair_result(_FFT(2, False)(*_complex_pair(x, "fft2")))


def ifft2(x):
    """The inverse 2-D FFT over the last two axes of ``x = (real, imaginary)``."""
    return _pair_result(_FFT(2, True)(*_complex_pair(x, "ifft2")))


def _fft_length(x, fft_length, default):
    n = default if fft_length is None else int(fft_length)
    if n < 1:
        raise ValueError(f"fft_length must be positive, got {fft_length!r}")
    return n


def _fit_last(x, n):
    """``x`` cut or zero-padded to ``n`` entries along the last axis."""
    if x.shape[-1] >= n:
        return getitem(x, (Ellipsis, builtins.slice(0, n)))
    return P.constant_pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])


def rfft(x, fft_length=None):
    """The FFT of the real ``x`` over its last axis, the ``n // 2 + 1`` non-negative frequencies."""
    x = P.float_tensor(x)
    n = _fft_length(x, fft_length, x.shape[-1])
    real = _fit_last(x, n)
    zeros = Tensor._result(get_array_module(real.data).zeros(real.shape, real.dtype), None)
    re, im = _pair_result(_FFT(1, False)(real, zeros))
    keep = (Ellipsis, builtins.slice(0, n // 2 + 1))
    return getitem(re, keep), getitem(im, keep)


def irfft(x, fft_length=None):
    """The real inverse of :func:`rfft`: ``n`` real samples (``2 * (m - 1)`` by default) from
    the ``m`` non-negative frequencies of ``x = (real, imaginary)``."""
    real, imag = _complex_pair(x, "irfft")
    n = _fft_length(real, fft_length, 2 * (real.shape[-1] - 1))
    half = n // 2 + 1
    real, imag = _fit_last(real, half), _fit_last(imag, half)
    mirror = (Ellipsis, builtins.slice(n - half, 0, -1))  # the negative frequencies: conjugates, reversed
    full_real = P.concat([real, getitem(real, mirror)], -1)
    full_imag = P.concat([imag, -getitem(imag, mirror)], -1)
    out, _ = _pair_result(_FFT(1, True)(full_real, full_imag))
    return out


# ----------------------------------------------------------------------------------------------
# custom gradients and distances
# ----------------------------------------------------------------------------------------------
class _Custom(Function):
    def __init__(self, f):
        self.f = f

    def forward(self, *arrays):
        with no_grad():
            out, self.grad_fn = self.f(*[Tensor._result(a, None) for a in arrays])
        return P.data(out)

    def backward(self, gy):
        with enable_grad():
            grads = self.grad_fn(Tensor._result(gy, None))
        grads = grads if isinstance(grads, (tuple, list)) else (grads,)
        return tuple(None if g is None else sum_to_shape(P.data(g), a.shape) for g, a in zip(grads, self.inputs))


def custom_gradient(f):
    """A decorator: ``f(*args)`` returns ``(y, grad_fn)`` and backward takes
    ``grad_fn(upstream)`` (one gradient per argument) instead of differentiating ``f``."""

    def wrapped(*args):
        return _Custom(f)(*[P.tensor(a) for a in args])

    wrapped.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapped.__doc__ = f.__doc__
    return wrapped


def cdist(x, y):
    """Euclidean distances between the rows of ``x`` (..., m, d) and of ``y`` (..., n, d)."""
    x, y = P.float_tensor(x), P.float_tensor(y)
    difference = sub(reshape(x, x.shape[:-1] + (1, x.shape[-1])), reshape(y, y.shape[:-2] + (1,) + y.shape[-2:]))
    return P.sqrt(_sum(P.square(difference), -1))


def logdet(x):
    """``log(det(x))`` of (batches of) positive-definite matrices (differentiable)."""
    return slogdet(x)

