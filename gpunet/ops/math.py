"""Arithmetic, reductions, matrix products and the fused ``linear`` op."""

from __future__ import annotations

from .. import backend
from ..gpu import kernels
from ..autograd import Function, Tensor, sum_to_shape
from ..backend import constant_vector, get_array_module, matmul as product
from .shaping import autocast

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "maximum",
    "matmul", "linear", "sum", "mean",
]


class Add(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, gy):
        sa, sb = self.shapes
        na, nb = self.needs_input_grad
        return (sum_to_shape(gy, sa) if na else None, sum_to_shape(gy, sb) if nb else None)


class Sub(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, gy):
        sa, sb = self.shapes
        na, nb = self.needs_input_grad
        return (sum_to_shape(gy, sa) if na else None, sum_to_shape(-gy, sb) if nb else None)


class Mul(Function):
    def forward(self, a, b):
        na, nb = self.needs_input_grad
        self.a = a if nb else None
        self.b = b if na else None
        self.shapes = (a.shape, b.shape)
        return a * b

    def backward(self, gy):
        na, nb = self.needs_input_grad
        sa, sb = self.shapes
        return (sum_to_shape(gy * self.b, sa) if na else None, sum_to_shape(gy * self.a, sb) if nb else None)


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        na, nb = self.needs_input_grad
        a, b = self.a, self.b
        ga = sum_to_shape(gy / b, a.shape) if na else None
        gb = sum_to_shape(-gy * a / (b * b), b.shape) if nb else None
        return ga, gb


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return (-gy,)


class Pow(Function):
    """``x ** p`` for a tensor or constant exponent ``p``."""

    def forward(self, x, p):
        y = x**p
        self.x, self.p = x, p
        self.y = y if self.needs_input_grad[1] else None
        return y

    def backward(self, gy):
        nx, np_ = self.needs_input_grad
        x, p = self.x, self.p
        gx = sum_to_shape(gy * p * x ** (p - 1), x.shape) if nx else None
        gp = None
        if np_:
            xp = get_array_module(x)
            gp = sum_to_shape(gy * self.y * xp.log(x), p.shape)
        return gx, gp


class Exp(Function):
    def forward(self, x):
        self.y = get_array_module(x).exp(x)
        return self.y

    def backward(self, gy):
        return (gy * self.y,)


class Log(Function):
    def forward(self, x):
        self.x = x
        return get_array_module(x).log(x)

    def backward(self, gy):
        return (gy / self.x,)


class Maximum(Function):
    """Elementwise maximum; at ties the gradient is split evenly between the two inputs (as PyTorch)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return get_array_module(a).maximum(a, b)

    def backward(self, gy):
        na, nb = self.needs_input_grad
        a, b = self.a, self.b
        share = (a > b) + 0.5 * (a == b)
        share = share.astype(gy.dtype, copy=False)
        ga = sum_to_shape(gy * share, a.shape) if na else None
        gb = sum_to_shape(gy * (1 - share), b.shape) if nb else None
        return ga, gb


class MatMul(Function):
    """Matrix product with NumPy's ``matmul`` semantics (1-D operands, broadcast batch dims)."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs operands with at least 1 dimension, got shapes {a.shape} and {b.shape}")
        na, nb = self.needs_input_grad
        self.a = a if nb else None
        self.b = b if na else None
        self.shapes = (a.shape, b.shape)
        return product(a, b)

    def backward(self, gy):
        na, nb = self.needs_input_grad
        sa, sb = self.shapes
        xp = get_array_module(gy)
        # promote 1-D operands to matrices so one formula covers every case
        if len(sa) == 1 and len(sb) == 1:
            gy2 = gy.reshape(1, 1)
        elif len(sa) == 1:
            gy2 = xp.expand_dims(gy, -2)
        elif len(sb) == 1:
            gy2 = xp.expand_dims(gy, -1)
        else:
            gy2 = gy
        ga = gb = None
        if na:
            b = self.b.reshape(sb[0], 1) if len(sb) == 1 else self.b
            ga = product(gy2, xp.swapaxes(b, -1, -2))
            if len(sa) == 1:
                ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
            ga = sum_to_shape(ga, sa)
        if nb:
            a = self.a.reshape(1, sa[0]) if len(sa) == 1 else self.a
            gb = product(xp.swapaxes(a, -1, -2), gy2)
            if len(sb) == 1:
                gb = gb.reshape(gb.shape[:-1])
            gb = sum_to_shape(gb, sb)
        return ga, gb


def _activate_in_place(name, y):
    """Apply a fusable activation to the fresh array ``y``, in place where the backend allows."""
    xp = get_array_module(y)
    if name == "relu":
        return xp.maximum(y, 0, out=y)
    if name == "tanh":
        return xp.tanh(y, out=y)
    return kernels.sigmoid(y, out=y)


_ACTIVATION_GRADS = {"relu": kernels.relu_grad, "sigmoid": kernels.sigmoid_grad, "tanh": kernels.tanh_grad}
FUSABLE_ACTIVATIONS = tuple(_ACTIVATION_GRADS)


class Linear(Function):
    """``y = activation(x @ kernel + bias)`` over the last axis of ``x``: the Dense layer in one op.

    The activation (``None``, ``"relu"``, ``"sigmoid"`` or ``"tanh"``) is applied in place on the
    product, so a Dense layer costs one op and one array. Backward: ``g = gy * activation'``, then
    ``gx = g @ kernel.T``, ``g_kernel = x.T @ g``, ``g_bias = g.sum(0)``, each computed only when
    wanted (the network's input needs no gradient, which saves one product per step).
    """

    def __init__(self, activation=None):
        if activation is not None and activation not in _ACTIVATION_GRADS:
            raise ValueError(f"linear: activation must be None or one of {list(_ACTIVATION_GRADS)}, got {activation!r}")
        self.activation = activation

    def forward(self, x, kernel, bias=None):
        if x.ndim < 1 or kernel.ndim != 2 or x.shape[-1] != kernel.shape[0]:
            raise ValueError(f"linear: x of shape {x.shape} does not match kernel of shape {kernel.shape}")
        needs = self.needs_input_grad
        self.x = x if needs[1] else None
        self.kernel = kernel if needs[0] else None
        y = product(x, kernel, split=x.ndim == 2)
        if bias is not None:
            y += bias
        if self.activation is not None:
            y = self.y = _activate_in_place(self.activation, y)
        return y

    def backward(self, gy):
        if self.activation is not None:
            gy = _ACTIVATION_GRADS[self.activation](gy, self.y)
        needs = self.needs_input_grad
        gx = gk = gb = None
        if needs[0]:
            gx = product(gy, self.kernel.T, split=gy.ndim == 2)
        if needs[1] or (len(needs) > 2 and needs[2]):
            gy2 = gy.reshape(-1, gy.shape[-1]) if gy.ndim != 2 else gy
            if needs[1]:
                x2 = self.x.reshape(-1, self.x.shape[-1]) if self.x.ndim != 2 else self.x
                gk = product(x2.T, gy2, split=True)
            if len(needs) > 2 and needs[2]:
                gb = _column_sums(gy2)
        return (gx, gk, gb) if len(needs) > 2 else (gx, gk)


def _column_sums(g2):
    """``g2.sum(axis=0)`` as one matrix-vector product (BLAS: 4x faster on tall matrices than a
    reduction), with a vector of ones made once per batch size (see backend.constant_vector)."""
    return product(constant_vector("ones", g2.shape[0], g2.dtype, g2), g2)


class BiasActivation(Function):
    """``activation(x + bias)`` over the last axis, the activation (None, relu, sigmoid, tanh)
    applied in place: the second half of ``linear``, for a convolution whose product was taken
    before its max pooling (bias and monotone activations commute with a maximum)."""

    def __init__(self, activation=None):
        if activation is not None and activation not in _ACTIVATION_GRADS:
            raise ValueError(f"bias_activation: activation must be None or one of {list(_ACTIVATION_GRADS)}, got {activation!r}")
        self.activation = activation

    def forward(self, x, bias=None):
        xp = get_array_module(x)
        y = xp.empty_like(x)
        activation = self.activation

        def compute(chunk):  # split over the batch on a multi-core CPU
            out = y[chunk]
            if bias is not None:
                xp.add(x[chunk], bias, out=out)
            else:
                out[...] = x[chunk]
            if activation is not None:
                result = _activate_in_place(activation, out)
                if result is not out:  # the GPU's sigmoid writes a new array
                    out[...] = result

        backend.parallel(compute, backend.batch_chunks(x.shape[0], x))
        if activation is not None:
            self.y = y
        return y

    def backward(self, gy):
        if self.activation is not None:
            grad, y, g = _ACTIVATION_GRADS[self.activation], self.y, get_array_module(gy).empty_like(gy)

            def compute(chunk):
                grad(gy[chunk], y[chunk], out=g[chunk])

            backend.parallel(compute, backend.batch_chunks(gy.shape[0], gy))
            gy = g
        needs = self.needs_input_grad
        gb = None
        if len(needs) > 1 and needs[1]:
            gb = _column_sums(gy.reshape(-1, gy.shape[-1]))
        return (gy if needs[0] else None, gb) if len(needs) > 1 else (gy,)


def _normalize_axis(axis, ndim):
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim)
    return tuple(out)


class Sum(Function):
    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        self.axis = _normalize_axis(self.axis, x.ndim)
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        return (_expand_to(gy, self.shape, self.axis, self.keepdims),)


class Mean(Function):
    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        self.axis = _normalize_axis(self.axis, x.ndim)
        count = x.size if self.axis is None else _prod(x.shape[a] for a in self.axis)
        self.count = count
        return x.mean(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        return (_expand_to(gy / self.count, self.shape, self.axis, self.keepdims),)


def _prod(values):
    result = 1
    for v in values:
        result *= v
    return result


def _expand_to(gy, shape, axis, keepdims):
    """Broadcast a reduction's gradient back over the reduced axes (a fresh, writable array)."""
    xp = get_array_module(gy)
    if not keepdims and axis is not None:
        gy = gy.reshape([1 if i in axis else n for i, n in enumerate(shape)])
    out = xp.empty(shape, dtype=gy.dtype)
    out[...] = gy
    return out


# ----------------------------------------------------------------------------------------------
# functional API
# ----------------------------------------------------------------------------------------------
def add(a, b) -> Tensor:
    """``a + b`` with broadcasting."""
    return Add()(a, b)


def sub(a, b) -> Tensor:
    """``a - b`` with broadcasting."""
    return Sub()(a, b)


def mul(a, b) -> Tensor:
    """``a * b`` with broadcasting."""
    return Mul()(a, b)


def div(a, b) -> Tensor:
    """``a / b`` with broadcasting."""
    return Div()(a, b)


def neg(x) -> Tensor:
    """``-x``."""
    return Neg()(x)


def pow(x, p) -> Tensor:  # noqa: A001 - the operation's name
    """``x ** p``; ``p`` may be a constant or a tensor."""
    return Pow()(x, p)


def exp(x) -> Tensor:
    """Elementwise ``e ** x``."""
    return Exp()(x)


def log(x) -> Tensor:
    """Elementwise natural logarithm."""
    return Log()(x)


def maximum(a, b) -> Tensor:
    """Elementwise maximum with broadcasting (``relu(x) == maximum(x, 0)`` away from 0)."""
    return Maximum()(a, b)


def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b`` (NumPy ``matmul`` semantics)."""
    return MatMul()(a, b)


def bias_activation(x, bias=None, activation=None) -> Tensor:
    """``activation(x + bias)`` over the last axis of ``x`` in one op (see :class:`BiasActivation`)."""
    if bias is None:
        return BiasActivation(activation)(x)
    (bias,) = autocast(x, bias)
    return BiasActivation(activation)(x, bias)


def linear(x, kernel, bias=None, activation=None) -> Tensor:
    """``activation(x @ kernel + bias)``: kernel of shape (in, out), bias of shape (out,) or None,
    activation None, ``"relu"``, ``"sigmoid"`` or ``"tanh"`` (fused into the same op). Under mixed
    precision (``x`` float16 or bfloat16) the weights are cast to ``x``'s dtype as they are used."""
    kernel, bias = autocast(x, kernel, bias)
    if bias is None:
        return Linear(activation)(x, kernel)
    return Linear(activation)(x, kernel, bias)


def sum(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes when None)."""
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims=False) -> Tensor:
    """Mean over ``axis`` (all axes when None)."""
    return Mean(axis, keepdims)(x)
