"""Keras's NumPy-style products: matmul, dot, einsum, tensordot, inner, outer, vdot, kron, cross,
correlate, vander, corrcoef, and the log-determinant ``slogdet``.

``einsum`` is one Function whose backward is an einsum too (the gradient of an operand contracts
the output gradient with the other operands); ``tensordot`` and ``dot`` are transposes and reshapes
around one matrix product; the others are compositions of differentiable ops.
"""

from __future__ import annotations

import string

import numpy

from ..autograd import Function, Tensor
from ..backend import get_array_module
from . import math as base
from .arrays import _axis, broadcast_to, diagonal, flip, get_item, moveaxis, pad, ravel, reshape, stack, take, transpose
from .contraction import contract
from .elementwise import divide, multiply, power, sqrt, subtract
from .promotion import compute, constant, convert, promote, to_float
from .reductions import mean, sum


def matmul(x1, x2) -> Tensor:
    """The matrix product ``x1 @ x2`` with NumPy's rules for 1-D operands and batch axes (``keras.ops.matmul``)."""
    a, b = promote(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: x1 and x2 need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if a.dtype.kind == "f":
        return base.MatMul()(a, b)
    return compute(lambda p, q: get_array_module(p).matmul(p, q), a, b)


def _product_of(shape):
    return int(numpy.prod(shape, dtype=numpy.int64))


def tensordot(x1, x2, axes=2) -> Tensor:
    """The sum of products over ``axes`` (an int: the last ``axes`` of ``x1`` with the first of
    ``x2``; or two lists of axes; ``keras.ops.tensordot``)."""
    a, b = promote(x1, x2)
    if isinstance(axes, int):
        if axes < 0 or axes > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={axes} does not fit shapes {a.shape} and {b.shape}")
        a_axes, b_axes = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        first, second = axes
        a_axes = [_axis(i, a.ndim, "axes") for i in ([first] if isinstance(first, int) else first)]
        b_axes = [_axis(i, b.ndim, "axes") for i in ([second] if isinstance(second, int) else second)]
    if [a.shape[i] for i in a_axes] != [b.shape[i] for i in b_axes]:
        raise ValueError(f"tensordot: the axes {a_axes} of x1 {a.shape} and {b_axes} of x2 {b.shape} differ in length")
    free_a = [i for i in range(a.ndim) if i not in a_axes]
    free_b = [i for i in range(b.ndim) if i not in b_axes]
    shared = _product_of([a.shape[i] for i in a_axes])
    left = reshape(transpose(a, free_a + a_axes), (_product_of([a.shape[i] for i in free_a]), shared))
    right = reshape(transpose(b, b_axes + free_b), (shared, _product_of([b.shape[i] for i in free_b])))
    return reshape(matmul(left, right), [a.shape[i] for i in free_a] + [b.shape[i] for i in free_b])


def dot(x1, x2) -> Tensor:
    """NumPy's ``dot`` (``keras.ops.dot``): a product with a scalar, the inner product of vectors,
    else the sum over the last axis of ``x1`` and the second-to-last of ``x2`` (the last when 1-D)."""
    a, b = promote(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 2 if b.ndim > 1 else 0]))


def inner(x1, x2) -> Tensor:
    """The sum of products over the last axes of ``x1`` and ``x2`` (``keras.ops.inner``)."""
    a, b = promote(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def outer(x1, x2) -> Tensor:
    """Every product of an element of ``x1`` with one of ``x2``, flattened first (``keras.ops.outer``)."""
    a, b = promote(x1, x2)
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def vdot(x1, x2) -> Tensor:
    """The dot product of the flattened ``x1`` and ``x2`` (``keras.ops.vdot``)."""
    return dot(ravel(x1), ravel(x2))


def kron(x1, x2) -> Tensor:
    """The Kronecker product: blocks of ``x2`` scaled by each element of ``x1`` (``keras.ops.kron``)."""
    a, b = promote(x1, x2)
    rank = max(a.ndim, b.ndim)
    a_shape = (1,) * (rank - a.ndim) + a.shape
    b_shape = (1,) * (rank - b.ndim) + b.shape
    spread_a = reshape(a, [n for size in a_shape for n in (size, 1)])
    spread_b = reshape(b, [n for size in b_shape for n in (1, size)])
    return reshape(multiply(spread_a, spread_b), [p * q for p, q in zip(a_shape, b_shape)])


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None) -> Tensor:
    """The cross product of 2- or 3-vectors along ``axisa`` of ``x1`` and ``axisb`` of ``x2``,
    written along ``axisc`` (``axis`` sets all three; ``keras.ops.cross``)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = promote(x1, x2)
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    for name, t in (("x1", a), ("x2", b)):
        if t.shape[-1] not in (2, 3):
            raise ValueError(f"cross: {name} must hold 2- or 3-vectors along its axis, got length {t.shape[-1]}")

    def components(t):
        parts = [get_item(t, (Ellipsis, i)) for i in range(t.shape[-1])]
        return parts if len(parts) == 3 else parts + [None]

    a0, a1, a2 = components(a)
    b0, b1, b2 = components(b)
    z = subtract(multiply(a0, b1), multiply(a1, b0))
    if a2 is None and b2 is None:
        return z

    def term(p, q):
        return 0 if p is None or q is None else multiply(p, q)

    x = subtract(term(a1, b2), term(a2, b1))
    y = subtract(term(a2, b0), term(a0, b2))
    x, y, z = promote(x, y, z)
    shape = numpy.broadcast_shapes(x.shape, y.shape, z.shape)
    result = stack([_broadcast(t, shape) for t in (x, y, z)], axis=-1)
    return moveaxis(result, -1, axisc)


def _broadcast(t, shape):
    return t if t.shape == tuple(shape) else broadcast_to(t, shape)


def correlate(x1, x2, mode="valid") -> Tensor:
    """The cross-correlation ``c[k] = sum_n x1[n + k] * x2[n]`` of two 1-D tensors (``mode``
    ``"valid"``, ``"same"`` or ``"full"``, as NumPy's; ``keras.ops.correlate``)."""
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"correlate: mode must be 'valid', 'same' or 'full', got {mode!r}")
    a, v = promote(x1, x2)
    if a.dtype.kind != "f":
        a, v = promote(a, v, dtype="float32")
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"correlate: x1 and x2 must be 1-D, got shapes {a.shape} and {v.shape}")
    if v.shape[0] > a.shape[0]:
        return flip(correlate(v, a, mode), 0)
    n, m = a.shape[0], v.shape[0]
    left, right = {"valid": (0, 0), "same": (m // 2, m - 1 - m // 2), "full": (m - 1, m - 1)}[mode]
    padded = pad(a, [(left, right)])
    count = n + left + right - m + 1
    xp = get_array_module(a.data)
    windows = take(padded, xp.arange(count)[:, None] + xp.arange(m)[None, :])
    return matmul(windows, v)


def vander(x, N=None, increasing=False) -> Tensor:  # noqa: N803 - Keras's argument name
    """The Vandermonde matrix of the 1-D ``x``: columns ``x ** (N - 1), ..., x ** 0`` (ascending
    when ``increasing``; ``keras.ops.vander``)."""
    t = convert(x)
    if t.ndim != 1:
        raise ValueError(f"vander: x must be 1-D, got shape {t.shape}")
    columns = t.shape[0] if N is None else int(N)
    powers = numpy.arange(columns) if increasing else numpy.arange(columns - 1, -1, -1)
    exponents = constant(get_array_module(t.data).asarray(powers.astype(t.dtype if t.dtype.kind != "b" else "int32")))
    return power(reshape(t, (-1, 1)), exponents)


def corrcoef(x) -> Tensor:
    """The Pearson correlation coefficients between the rows of ``x`` (``keras.ops.corrcoef``)."""
    t = to_float(x)
    rows = reshape(t, (1, -1)) if t.ndim == 1 else t
    centered = subtract(rows, mean(rows, axis=1, keepdims=True))
    covariance = matmul(centered, transpose(centered))
    scale = sqrt(sum(multiply(centered, centered), axis=1))
    result = divide(covariance, multiply(reshape(scale, (-1, 1)), reshape(scale, (1, -1))))
    return reshape(result, ()) if t.ndim == 1 else result


class LogAbsDet(Function):
    """``log |det x|`` of (a batch of) square matrices; backward ``gy * inv(x)^T``."""

    def forward(self, x):
        xp = get_array_module(x)
        _, logabsdet = xp.linalg.slogdet(x)
        if self.needs_input_grad[0]:
            self.x = x
        return logabsdet

    def backward(self, gy):
        xp = get_array_module(gy)
        return (gy[..., None, None] * xp.swapaxes(xp.linalg.inv(self.x), -1, -2),)


def slogdet(x) -> tuple:
    """The sign and the log of the absolute value of the determinant of square matrices
    (``keras.ops.slogdet``); the log is differentiable."""
    t = to_float(x)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"slogdet: x must be (a batch of) square matrices, got shape {t.shape}")
    sign = compute(lambda a: get_array_module(a).linalg.slogdet(a)[0].astype(a.dtype), t)
    return sign, LogAbsDet()(t)


# -- einsum -------------------------------------------------------------------------------------------
def _parse_einsum(subscripts, shapes):
    """``subscripts`` with every ``...`` replaced by letters, and the output written out:
    ``(input labels per operand, output labels)``."""
    spec = subscripts.replace(" ", "")
    inputs_part, arrow, output_part = spec.partition("->")
    inputs = inputs_part.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"einsum: {subscripts!r} names {len(inputs)} operands, {len(shapes)} given")
    free = [c for c in string.ascii_letters if c not in spec]
    widths = []
    for labels, shape in zip(inputs, shapes):
        explicit = len(labels.replace("...", ""))
        width = len(shape) - explicit if "..." in labels else 0
        if width < 0 or ("..." not in labels and explicit != len(shape)):
            raise ValueError(f"einsum: subscripts {labels!r} do not fit an operand of shape {shape}")
        widths.append(width)
    broadcast = max(widths, default=0)
    ellipsis = "".join(free[:broadcast])
    inputs = [labels.replace("...", ellipsis[broadcast - width:]) for labels, width in zip(inputs, widths)]
    if arrow:
        output = output_part.replace("...", ellipsis)
    else:
        counts = {}
        for labels in inputs:
            for c in labels:
                counts[c] = counts.get(c, 0) + 1
        output = ellipsis + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ellipsis))
    return inputs, output


class Einsum(Function):
    """``numpy.einsum`` over explicit labels, each at most once per operand. The gradient of operand
    ``k`` is the einsum of the output gradient with the other operands, written in operand ``k``'s
    labels (a label only operand ``k`` has is broadcast back by a vector of ones). With two operands,
    forward and backward are each one matrix product (:func:`gpunet.ops.contraction.contract`)."""

    def __init__(self, inputs, output):
        self.inputs_labels, self.output = inputs, output

    def forward(self, *arrays):
        xp = get_array_module(*arrays)
        if True in self.needs_input_grad:
            self.arrays = arrays
        if len(arrays) == 2:
            return contract(xp, arrays[0], self.inputs_labels[0], arrays[1], self.inputs_labels[1], self.output)
        return xp.einsum(",".join(self.inputs_labels) + "->" + self.output, *arrays)

    def backward(self, gy):
        xp = get_array_module(gy)
        grads = []
        for k, needed in enumerate(self.needs_input_grad):
            if not needed:
                grads.append(None)
                continue
            target = self.inputs_labels[k]
            if len(self.arrays) == 2:
                other = self.arrays[1 - k]
                grads.append(contract(xp, gy, self.output, other, self.inputs_labels[1 - k], target,
                                      dict(zip(target, self.arrays[k].shape))))
                continue
            labels = [self.output] + [s for j, s in enumerate(self.inputs_labels) if j != k]
            operands = [gy] + [a for j, a in enumerate(self.arrays) if j != k]
            present = set("".join(labels))
            for position, c in enumerate(target):
                if c not in present:
                    labels.append(c)
                    operands.append(xp.ones(self.arrays[k].shape[position], gy.dtype))
            grads.append(xp.einsum(",".join(labels) + "->" + target, *operands))
        return tuple(grads)


def einsum(subscripts, *operands, **kwargs) -> Tensor:
    """Einstein summation over ``operands`` as ``subscripts`` says (``"ij,jk->ik"``, ``...`` for
    broadcast axes; ``keras.ops.einsum``). Keyword arguments (NumPy's ``optimize``) are accepted and
    have no effect."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string, got {type(subscripts).__name__}")
    tensors = list(promote(*operands))
    inputs, output = _parse_einsum(subscripts, [t.shape for t in tensors])
    for k, labels in enumerate(inputs):
        tensors[k], inputs[k] = _distinct_labels(tensors[k], labels)
    return Einsum(inputs, output)(*tensors)


def _distinct_labels(t, labels):
    """An operand whose labels repeat (``"ii"``) replaced by its diagonal, which has each label once
    (``diagonal`` is differentiable, so the gradient reaches the diagonal's elements)."""
    while len(set(labels)) != len(labels):
        label = next(c for c in labels if labels.count(c) > 1)
        first = labels.index(label)
        second = labels.index(label, first + 1)
        t = diagonal(t, 0, first, second)  # the diagonal becomes the last axis
        labels = "".join(c for i, c in enumerate(labels) if i not in (first, second)) + label
    return t, labels


__all__ = ["matmul", "tensordot", "dot", "inner", "outer", "vdot", "kron", "cross", "correlate", "vander", "corrcoef",
           "slogdet", "einsum"]
