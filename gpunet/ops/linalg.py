"""``gpunet.ops.linalg``: Keras 3's ``keras.ops.linalg`` over (batches of) matrices.

Differentiable (closed-form gradients): ``cholesky``, ``cholesky_inverse``, ``det``, ``eigh``,
``inv``, ``norm`` (vector norms and the Frobenius and 1/inf matrix norms), ``solve``,
``solve_triangular`` and the ``logdet`` of :mod:`gpunet.ops.core`. Values only (results carry
no gradient): ``eig`` (complex results), ``lu_factor``, ``lstsq``, ``matrix_rank``, ``pinv``,
``qr``, ``svd`` and the nuclear and 2-norms of matrices. Not offered: ``jvp`` (gpunet's
autograd is reverse mode only).

CuPy has no ``eig``: it is computed on the host (``backend.to_host``) and the result moved back.
"""

from __future__ import annotations

import numpy

from .. import backend
from ..autograd import Function, Tensor, sum_to_shape
from ..backend import get_array_module
from . import primitives as P
from .convolution import max as _max
from .math import matmul, mul, sum as _sum
from .shaping import cast, getitem, reshape, transpose

__all__ = ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "lstsq", "lu_factor", "matrix_rank", "norm",
           "pinv", "qr", "solve", "solve_triangular", "svd"]


def _mT(a):
    return a.swapaxes(-1, -2)


def _square(x, name):
    x = P.float_tensor(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name}: x must be a (batch of) square matrices, got shape {tuple(x.shape)}")
    return x


def _swap(x):
    return transpose(x, (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2))


def _values(value):
    """A result that carries no gradient."""
    return Tensor._result(value, None)


# ----------------------------------------------------------------------------------------------
# differentiable
# ----------------------------------------------------------------------------------------------
class Inv(Function):
    """``A^-1``; backward ``-A^-T g A^-T``."""

    def forward(self, a):
        self.y = get_array_module(a).linalg.inv(a)
        return self.y

    def backward(self, gy):
        yt = _mT(self.y)
        return (-(yt @ gy @ yt),)


def inv(x):
    """The inverse of (each of) the square matrices ``x``."""
    return Inv()(_square(x, "inv"))


class Det(Function):
    """``det(A)``; backward ``g det(A) A^-T``."""

    def forward(self, a):
        xp = get_array_module(a)
        self.a, self.y = a, xp.linalg.det(a)
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        return ((gy * self.y)[..., None, None] * _mT(xp.linalg.inv(self.a)),)


def det(x):
    """The determinant of (each of) the square matrices ``x``."""
    return Det()(_square(x, "det"))


class LogDet(Function):
    """``log(det(A))`` (NaN where the determinant is negative); backward ``g A^-T``."""

    def forward(self, a):
        xp = get_array_module(a)
        sign, logabs = xp.linalg.slogdet(a)
        self.a = a
        return xp.where(sign > 0, logabs, xp.where(sign == 0, -xp.inf, xp.nan)).astype(a.dtype)

    def backward(self, gy):
        xp = get_array_module(gy)
        return (gy[..., None, None] * _mT(xp.linalg.inv(self.a)),)


def slogdet(x):
    """``log(det(x))`` (the core op ``logdet``), differentiable."""
    return LogDet()(_square(x, "logdet"))


class Solve(Function):
    """``X = A^-1 B``; backward ``gB = A^-T g``, ``gA = -gB X^T``."""

    def __init__(self, vector):
        self.vector = vector  # b was a vector (..., n): solved as a column

    def forward(self, a, b):
        xp = get_array_module(a)
        column = b[..., None] if self.vector else b
        x = xp.linalg.solve(a, column)
        self.a, self.x = a, x
        return x[..., 0] if self.vector else x

    def backward(self, gy):
        xp = get_array_module(gy)
        g = gy[..., None] if self.vector else gy
        gb = xp.linalg.solve(_mT(self.a), g)
        na, nb = self.needs_input_grad
        ga = sum_to_shape(-(gb @ _mT(self.x)), self.a.shape) if na else None
        return ga, ((gb[..., 0] if self.vector else gb) if nb else None)


def solve(a, b):
    """``x`` with ``a @ x = b`` (``b`` a matrix (..., n, k) or a vector (n,))."""
    a = _square(a, "solve")
    b = P.float_tensor(b)
    vector = b.ndim == a.ndim - 1
    if b.shape[-2 if not vector else -1] != a.shape[-1]:
        raise ValueError(f"solve: b of shape {tuple(b.shape)} does not match a of shape {tuple(a.shape)}")
    return Solve(vector)(a, cast(b, a.dtype))


def solve_triangular(a, b, lower=False):
    """``x`` with ``a @ x = b`` for a triangular ``a`` (its other triangle ignored)."""
    a = _square(a, "solve_triangular")
    xp = get_array_module(a.data)
    n = a.shape[-1]
    mask = (xp.tril if lower else xp.triu)(xp.ones((n, n), dtype=a.dtype))
    return solve(mul(a, mask), b)


def _phi(xp, m):
    """The lower triangle of ``m`` with its diagonal halved."""
    out = xp.tril(m)
    diagonal = xp.diagonal(out, axis1=-2, axis2=-1)
    out[..., range(m.shape[-1]), range(m.shape[-1])] = diagonal * 0.5
    return out


class Cholesky(Function):
    """Lower factor ``L`` with ``L L^T = A``; backward (Murray 2016) ``S = L^-T Phi(L^T g) L^-1``,
    ``gA = (S + S^T) / 2``."""

    def forward(self, a):
        xp = get_array_module(a)
        self.L = xp.linalg.cholesky(a)
        return self.L

    def backward(self, gy):
        xp = get_array_module(gy)
        linv = xp.linalg.inv(self.L)
        s = _mT(linv) @ _phi(xp, _mT(self.L) @ gy) @ linv
        return ((s + _mT(s)) * 0.5,)


def cholesky(x, upper=False):
    """The Cholesky factor of the symmetric positive-definite ``x``: lower ``L`` (``L L^T = x``),
    or upper ``U = L^T`` with ``upper=True``."""
    factor = Cholesky()(_square(x, "cholesky"))
    return _swap(factor) if upper else factor


def cholesky_inverse(x, upper=False):
    """``inv(L L^T)`` (or ``inv(U^T U)``) from a Cholesky factor ``x``."""
    factor = _square(x, "cholesky_inverse")
    product = matmul(_swap(factor), factor) if upper else matmul(factor, _swap(factor))
    return inv(product)


class Eigh(Function):
    """Eigenvalues ``w`` (ascending) and eigenvectors ``V`` of a symmetric matrix, returned as one
    (..., n + 1, n) array (``V`` on top, ``w`` the last row). Backward:
    ``gA = V (diag(gw) + F o (V^T gV)) V^T``, ``F_ij = 1 / (w_j - w_i)`` off the diagonal,
    symmetrized."""

    def forward(self, a):
        xp = get_array_module(a)
        w, v = xp.linalg.eigh(a)
        self.w, self.v = w, v
        return xp.concatenate([v, w[..., None, :]], axis=-2)

    def backward(self, gy):
        xp = get_array_module(gy)
        n = self.w.shape[-1]
        gv, gw = gy[..., :n, :], gy[..., n, :]
        gap = self.w[..., None, :] - self.w[..., :, None]
        off = ~xp.eye(n, dtype=bool)
        f = xp.where(off, 1.0 / xp.where(off, gap, 1.0), 0.0)
        inner = f * (_mT(self.v) @ gv)
        inner[..., range(n), range(n)] += gw
        g = self.v @ inner @ _mT(self.v)
        return ((g + _mT(g)) * 0.5,)


def eigh(x):
    """``(eigenvalues, eigenvectors)`` of the symmetric ``x`` (ascending eigenvalues; vectors as
    columns), differentiable (distinct eigenvalues)."""
    packed = Eigh()(_square(x, "eigh"))
    n = packed.shape[-1]
    return getitem(packed, (Ellipsis, n, slice(None))), getitem(packed, (Ellipsis, slice(0, n), slice(None)))


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - Keras's name
    """Vector norms (one ``axis``, or every entry of ``x`` when ``axis`` and ``ord`` are None) and
    matrix norms (two axes, or a 2-D ``x`` with ``ord`` given), as ``numpy.linalg.norm``."""
    x = P.float_tensor(x)
    if axis is None:
        if ord is None or x.ndim == 1:
            return _vector_norm(_flat(x), ord, 0, keepdims, x)
        if x.ndim != 2:
            raise ValueError(f"norm: give axis for ord={ord!r} on a {x.ndim}-D x")
        axis = (0, 1)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % x.ndim for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError(f"norm: axis must be an int or two distinct ints, got {axis!r}")
    return _matrix_norm(x, ord, axes, keepdims)


def _flat(x):
    return reshape(x, (-1,))


def _vector_norm(x, ord, axis, keepdims, original=None):  # noqa: A002
    magnitude = P.abs(x)
    if ord is None or ord == 2:
        out = P.sqrt(_sum(P.square(x), axis, keepdims=True))
    elif ord == numpy.inf:
        out = _max(magnitude, axis, True)
    elif ord == -numpy.inf:
        out = -_max(-magnitude, axis, True)
    elif ord == 0:
        out = _values((x.data != 0).sum(axis=axis, keepdims=True).astype(x.dtype))
    elif isinstance(ord, (int, float)) and not isinstance(ord, bool):
        out = _sum(magnitude ** float(ord), axis, keepdims=True) ** (1.0 / float(ord)) if ord != 1 \
            else _sum(magnitude, axis, keepdims=True)
    else:
        raise ValueError(f"norm: invalid ord {ord!r} for a vector norm")
    if original is not None:  # every entry of x: the result has x's dims (all 1) or none
        return reshape(out, (1,) * original.ndim if keepdims else ())
    return out if keepdims else _drop(out, (axis,))


def _drop(t, axes):
    return reshape(t, tuple(n for i, n in enumerate(t.shape) if i not in axes))


def _matrix_norm(x, ord, axes, keepdims):  # noqa: A002
    rows, cols = axes
    if ord in (None, "fro"):
        out = P.sqrt(_sum(P.square(x), axes, keepdims=True))
    elif ord in (1, -1, numpy.inf, -numpy.inf):
        summed, other = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = _sum(P.abs(x), summed, keepdims=True)
        out = _max(sums, other, True) if ord > 0 else -_max(-sums, other, True)
    elif ord in (2, -2, "nuc"):
        xp = get_array_module(x.data)
        moved = xp.moveaxis(x.data, axes, (-2, -1))
        s = xp.linalg.svd(moved, compute_uv=False)
        value = s.sum(-1) if ord == "nuc" else (s.max(-1) if ord == 2 else s.min(-1))
        out = _values(xp.expand_dims(xp.expand_dims(value, rows), cols) if rows < cols
                      else xp.expand_dims(xp.expand_dims(value, cols), rows))
    else:
        raise ValueError(f"norm: invalid ord {ord!r} for a matrix norm")
    return out if keepdims else _drop(out, axes)


# ----------------------------------------------------------------------------------------------
# values only
# ----------------------------------------------------------------------------------------------
def eig(x):
    """``(eigenvalues, eigenvectors)`` of a general square ``x``, complex (computed on the host;
    no gradient)."""
    a = backend.to_host(_square(x, "eig").data)
    w, v = numpy.linalg.eig(a)
    dtype = numpy.complex64 if a.dtype == numpy.float32 else numpy.complex128
    return _values(backend.to_device(w.astype(dtype))), _values(backend.to_device(v.astype(dtype)))


def lu_factor(x):
    """``(lu, pivots)``: the LU factorization with partial pivoting of (each) square ``x``, ``lu``
    holding ``L`` (unit diagonal, below) and ``U``; row ``i`` was swapped with row ``pivots[i]``
    (int32, 0-based), as SciPy's ``lu_factor``."""
    a = _square(x, "lu_factor").data
    xp = get_array_module(a)
    lu = a.copy()
    n = lu.shape[-1]
    batch = lu.reshape(-1, n, n)
    pivots = xp.zeros((batch.shape[0], n), dtype=numpy.int32)
    rows = xp.arange(batch.shape[0])
    for k in range(n):
        p = k + xp.argmax(xp.abs(batch[:, k:, k]), axis=1)
        pivots[:, k] = p
        top, chosen = batch[rows, k].copy(), batch[rows, p].copy()
        batch[rows, k], batch[rows, p] = chosen, top
        pivot = batch[:, k, k:k + 1]
        safe = xp.where(pivot == 0, 1, pivot)
        batch[:, k + 1:, k] /= safe
        batch[:, k + 1:, k + 1:] -= batch[:, k + 1:, k:k + 1] * batch[:, k:k + 1, k + 1:]
    return _values(batch.reshape(lu.shape)), _values(pivots.reshape(lu.shape[:-1]))


def lstsq(a, b, rcond=None):
    """The least-squares solution ``x`` of ``a @ x = b`` (``a`` (m, n); ``b`` (m,) or (m, k))."""
    a, b = P.float_tensor(a), P.float_tensor(b)
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ValueError(f"lstsq: a must be (m, n) and b (m,) or (m, k), got {tuple(a.shape)} and {tuple(b.shape)}")
    xp = get_array_module(a.data)
    solution = xp.linalg.lstsq(a.data, b.data.astype(a.dtype), rcond=rcond)[0]
    return _values(solution.astype(a.dtype))


def matrix_rank(x, tol=None):
    """The rank of (each of) the matrices ``x``: singular values above ``tol`` (by default
    ``max(s) * max(m, n) * eps``)."""
    x = P.float_tensor(x)
    xp = get_array_module(x.data)
    s = xp.linalg.svd(x.data, compute_uv=False)
    if tol is None:
        tol = s.max(axis=-1, keepdims=True) * max(x.shape[-2:]) * numpy.finfo(x.dtype).eps
    return _values((s > tol).sum(axis=-1).astype(numpy.int32))


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse of (each of) the matrices ``x``; singular values below
    ``rcond * max(s)`` (1e-15 by default) count as zero."""
    x = P.float_tensor(x)
    xp = get_array_module(x.data)
    return _values(xp.linalg.pinv(x.data, 1e-15 if rcond is None else rcond).astype(x.dtype))


def qr(x, mode="reduced"):
    """``(q, r)`` with ``x = q @ r``, ``q`` orthonormal columns: mode "reduced" or "complete"."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: mode must be 'reduced' or 'complete', got {mode!r}")
    x = P.float_tensor(x)
    xp = get_array_module(x.data)
    q, r = xp.linalg.qr(x.data, mode=mode)
    return _values(q), _values(r)


def svd(x, full_matrices=True, compute_uv=True):
    """``(u, s, vh)`` with ``x = u @ diag(s) @ vh`` (only ``s`` when ``compute_uv`` is False)."""
    x = P.float_tensor(x)
    xp = get_array_module(x.data)
    if not compute_uv:
        return _values(xp.linalg.svd(x.data, compute_uv=False))
    u, s, vh = xp.linalg.svd(x.data, full_matrices=full_matrices)
    return _values(u), _values(s), _values(vh)


from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
