"""Activation functions: sigmoid, tanh, relu, softmax, log_softmax, and the rest of Keras 3's
(leaky_relu, elu, selu, gelu, silu, softplus, mish, sparsemax, ...)."""

from __future__ import annotations

from ..gpu import kernels
from ..autograd import Function, Tensor, as_tensor, sum_to_shape
from ..backend import get_array_module
from .shaping import autocast

__all__ = [
    "sigmoid", "tanh", "relu", "softmax", "log_softmax", "general_relu", "leaky_relu", "relu6", "elu", "selu", "celu",
    "gelu", "silu", "softplus", "log_sigmoid", "softsign", "hard_sigmoid", "hard_silu", "mish", "hard_tanh",
    "tanh_shrink", "hard_shrink", "soft_shrink", "sparse_plus", "sparse_sigmoid", "squareplus", "threshold", "prelu",
    "sparsemax",
]


def sigmoid_forward(x):
    """``1 / (1 + exp(-x))``: exact wherever the result is a normal number, no overflow warning
    (one fused kernel on the GPU; see :mod:`gpunet.kernels`)."""
    return kernels.sigmoid(x)


class Sigmoid(Function):
    def forward(self, x):
        self.y = sigmoid_forward(x)
        return self.y

    def backward(self, gy):
        return (kernels.sigmoid_grad(gy, self.y),)


class Tanh(Function):
    def forward(self, x):
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, gy):
        return (kernels.tanh_grad(gy, self.y),)


class ReLU(Function):
    """``max(x, 0)``; the derivative at 0 is taken as 0 (as PyTorch and Keras)."""

    def forward(self, x):
        self.y = get_array_module(x).maximum(x, 0)
        return self.y

    def backward(self, gy):
        return (kernels.relu_grad(gy, self.y),)


def softmax_terms(x, axis=-1):
    """``(x - max, exp(x - max), sum(exp(x - max)))`` along ``axis``: the max-shifted pieces that
    softmax, log-softmax and the cross-entropies share; nothing overflows for finite input."""
    xp = get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    e = xp.exp(shifted)
    return shifted, e, e.sum(axis=axis, keepdims=True)


def log_softmax_forward(x, axis=-1):
    """``x - max - log(sum(exp(x - max)))`` along ``axis``: finite for any finite input."""
    shifted, _, total = softmax_terms(x, axis)
    shifted -= get_array_module(x).log(total)
    return shifted


def softmax_forward(x, axis=-1):
    _, e, total = softmax_terms(x, axis)
    e /= total
    return e


class Softmax(Function):
    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        self.y = softmax_forward(x, self.axis)
        return self.y

    def backward(self, gy):
        y = self.y
        return (y * (gy - (gy * y).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        self.y = log_softmax_forward(x, self.axis)
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        return (gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True),)


def sigmoid(x) -> Tensor:
    """Logistic function ``1 / (1 + exp(-x))``; derivative ``y (1 - y)``."""
    return Sigmoid()(x)


def tanh(x) -> Tensor:
    """Hyperbolic tangent; derivative ``1 - y**2``."""
    return Tanh()(x)


def relu(x) -> Tensor:
    """Rectified linear unit ``max(x, 0)``."""
    return ReLU()(x)


def softmax(x, axis=-1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed on ``x - max(x)``."""
    return Softmax(axis)(x)


def log_softmax(x, axis=-1) -> Tensor:
    """``log(softmax(x))`` computed stably as ``x - max - log(sum(exp(x - max)))``."""
    return LogSoftmax(axis)(x)


# ---------------------------------------------------------------------------------------------
# the other activations of Keras 3 (keras.activations), each an elementwise pair: value, slope
# ---------------------------------------------------------------------------------------------
class Pointwise(Function):
    """An elementwise activation ``y = value(x)`` whose derivative ``slope(x, y)`` backward
    multiplies into the incoming gradient. A subclass writes the two (with ``xp``, the array
    module, first) and names in ``keeps`` what backward reads: ``"x"``, ``"y"`` or both."""

    keeps = ("x",)

    def forward(self, x):
        y = self.value(get_array_module(x), x)
        self.x = x if "x" in self.keeps else None
        self.y = y if "y" in self.keeps else None
        return y

    def backward(self, gy):
        slope = self.slope(get_array_module(gy), self.x, self.y)
        slope *= gy  # slope is a fresh array of the gradient's shape and dtype
        return (slope,)

    def value(self, xp, x):  # pragma: no cover - interface
        raise NotImplementedError

    def slope(self, xp, x, y):  # pragma: no cover - interface
        raise NotImplementedError


def _mask(condition, dtype, on=1.0, off=0.0):
    """``on`` where ``condition``, else ``off``, as a new array of ``dtype``."""
    xp = get_array_module(condition)
    if off == 0.0:
        out = condition.astype(dtype)
        if on != 1.0:
            out *= on
        return out
    return xp.where(condition, xp.asarray(on, dtype=dtype), xp.asarray(off, dtype=dtype))


class GeneralReLU(Pointwise):
    """Keras's ``relu(x, negative_slope, max_value, threshold)``: ``x`` above ``threshold``
    (clipped to ``[0, max_value]`` when ``max_value`` is given), ``negative_slope * (x - threshold)``
    below it."""

    def __init__(self, negative_slope=0.0, max_value=None, threshold=0.0):
        self.negative_slope, self.max_value, self.threshold = negative_slope, max_value, threshold

    def value(self, xp, x):
        upper = xp.where(x > self.threshold, x, 0.0)
        if self.max_value is not None:
            xp.clip(upper, 0.0, self.max_value, out=upper)
        if self.negative_slope:
            lower = xp.subtract(self.threshold, x)
            xp.maximum(lower, 0.0, out=lower)
            lower *= self.negative_slope
            upper -= lower
        return upper

    def slope(self, xp, x, y):
        passes = x > self.threshold
        if self.max_value is not None:
            passes &= (x >= 0) & (x <= self.max_value)
        out = passes.astype(x.dtype)
        if self.negative_slope:
            out += _mask(x < self.threshold, x.dtype, self.negative_slope)
        return out


class LeakyReLU(Pointwise):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below."""

    def __init__(self, negative_slope=0.2):
        self.negative_slope = negative_slope

    def value(self, xp, x):
        return xp.where(x >= 0, x, x * self.negative_slope)

    def slope(self, xp, x, y):
        return _mask(x >= 0, x.dtype, 1.0, self.negative_slope)


class ReLU6(Pointwise):
    def value(self, xp, x):
        return xp.clip(x, 0.0, 6.0)

    def slope(self, xp, x, y):
        return ((x > 0) & (x < 6)).astype(x.dtype)


class ELU(Pointwise):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise (times ``scale``: SELU)."""

    keeps = ("x", "y")

    def __init__(self, alpha=1.0, scale=1.0):
        self.alpha, self.scale = alpha, scale

    def value(self, xp, x):
        negative = xp.minimum(x, 0.0)  # exp of the negative part only: no overflow
        xp.expm1(negative, out=negative)
        negative *= self.alpha
        y = xp.where(x > 0, x, negative)
        if self.scale != 1.0:
            y *= self.scale
        return y

    def slope(self, xp, x, y):
        # below 0: scale * alpha * exp(x) = y + scale * alpha
        return xp.where(x > 0, xp.asarray(self.scale, dtype=x.dtype), y + self.scale * self.alpha)


# SELU's constants (Klambauer et al. 2017), as Keras and JAX use them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class CELU(Pointwise):
    """``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)``."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def value(self, xp, x):
        negative = xp.minimum(x, 0.0)
        negative /= self.alpha
        xp.expm1(negative, out=negative)
        negative *= self.alpha
        negative += xp.maximum(x, 0.0)
        return negative

    def slope(self, xp, x, y):
        negative = xp.minimum(x, 0.0)
        negative /= self.alpha
        return xp.exp(negative, out=negative)


_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2 / pi)
_SQRT_HALF = 0.7071067811865476  # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)


class GELU(Pointwise):
    """``x * Phi(x)``, ``Phi`` the standard normal CDF ``(1 + erf(x / sqrt 2)) / 2``; with
    ``approximate``, Hendrycks and Gimpel's ``Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``."""

    def __init__(self, approximate=False):
        self.approximate = bool(approximate)

    def _cdf_and_inner(self, xp, x):
        if self.approximate:
            inner = x * x
            inner *= 0.044715
            inner += 1.0
            inner *= x
            inner *= _SQRT_2_OVER_PI
            cdf = xp.tanh(inner)
        else:
            inner = None
            cdf = kernels.erf(x * _SQRT_HALF)
        cdf += 1.0
        cdf *= 0.5
        return cdf, inner

    def value(self, xp, x):
        cdf, _ = self._cdf_and_inner(xp, x)
        cdf *= x
        return cdf

    def slope(self, xp, x, y):
        cdf, _ = self._cdf_and_inner(xp, x)
        if self.approximate:  # Phi + x * (1 - t^2) / 2 * sqrt(2/pi) * (1 + 3 * 0.044715 x^2), t = 2 Phi - 1
            t = cdf * 2.0
            t -= 1.0
            dt = t * t
            xp.subtract(1.0, dt, out=dt)
            inner_slope = x * x
            inner_slope *= 3 * 0.044715
            inner_slope += 1.0
            inner_slope *= _SQRT_2_OVER_PI * 0.5
            dt *= inner_slope
            dt *= x
            cdf += dt
            return cdf
        density = x * x  # Phi + x * phi(x), phi the standard normal density
        density *= -0.5
        xp.exp(density, out=density)
        density *= _INV_SQRT_2PI
        density *= x
        cdf += density
        return cdf


class SiLU(Pointwise):
    """``x * sigmoid(x)`` (swish); derivative ``s (1 + x (1 - s))``."""

    def value(self, xp, x):
        y = sigmoid_forward(x)
        y *= x
        return y

    def slope(self, xp, x, y):
        s = sigmoid_forward(x)
        out = xp.subtract(1.0, s)
        out *= x
        out += 1.0
        out *= s
        return out


def _softplus(xp, x):
    """``log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``: no overflow."""
    out = xp.abs(x)
    xp.negative(out, out=out)
    xp.exp(out, out=out)
    xp.log1p(out, out=out)
    out += xp.maximum(x, 0.0)
    return out


class Softplus(Pointwise):
    def value(self, xp, x):
        return _softplus(xp, x)

    def slope(self, xp, x, y):
        return sigmoid_forward(x)


class LogSigmoid(Pointwise):
    """``log(sigmoid(x)) = -softplus(-x)``; derivative ``sigmoid(-x)``."""

    def value(self, xp, x):
        out = _softplus(xp, -x)
        xp.negative(out, out=out)
        return out

    def slope(self, xp, x, y):
        return sigmoid_forward(-x)


class Softsign(Pointwise):
    """``x / (1 + |x|)``; derivative ``1 / (1 + |x|)^2``."""

    def value(self, xp, x):
        d = xp.abs(x)
        d += 1.0
        return xp.divide(x, d, out=d)

    def slope(self, xp, x, y):
        d = xp.abs(x)
        d += 1.0
        d *= d
        return xp.reciprocal(d, out=d)


class HardSigmoid(Pointwise):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, ``x / 6 + 1/2`` between."""

    def value(self, xp, x):
        out = x + 3.0
        xp.clip(out, 0.0, 6.0, out=out)
        out /= 6.0
        return out

    def slope(self, xp, x, y):
        return _mask((x > -3) & (x < 3), x.dtype, 1.0 / 6.0)


class HardSiLU(Pointwise):
    """``x * hard_sigmoid(x)`` (hard swish)."""

    def value(self, xp, x):
        out = HardSigmoid.value(self, xp, x)
        out *= x
        return out

    def slope(self, xp, x, y):
        out = HardSigmoid.value(self, xp, x)
        out += HardSigmoid.slope(self, xp, x, y) * x
        return out


class Mish(Pointwise):
    """``x * tanh(softplus(x))``; derivative ``tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x)``."""

    def value(self, xp, x):
        out = xp.tanh(_softplus(xp, x))
        out *= x
        return out

    def slope(self, xp, x, y):
        t = xp.tanh(_softplus(xp, x))
        out = t * t
        xp.subtract(1.0, out, out=out)
        out *= x
        out *= sigmoid_forward(x)
        out += t
        return out


class HardTanh(Pointwise):
    def value(self, xp, x):
        return xp.clip(x, -1.0, 1.0)

    def slope(self, xp, x, y):
        return ((x >= -1) & (x <= 1)).astype(x.dtype)


class TanhShrink(Pointwise):
    """``x - tanh(x)``; derivative ``tanh(x)^2``."""

    def value(self, xp, x):
        return x - xp.tanh(x)

    def slope(self, xp, x, y):
        t = xp.tanh(x)
        t *= t
        return t


class Shrink(Pointwise):
    """``hard_shrink`` (``soft=False``): ``x`` where ``|x| > threshold``, else 0;
    ``soft_shrink``: ``x - threshold * sign(x)`` there, else 0."""

    def __init__(self, threshold=0.5, soft=False):
        self.threshold, self.soft = threshold, soft

    def value(self, xp, x):
        kept = xp.abs(x) > self.threshold
        if not self.soft:
            return xp.where(kept, x, 0.0)
        shifted = xp.sign(x)
        shifted *= -self.threshold
        shifted += x
        return xp.where(kept, shifted, 0.0)

    def slope(self, xp, x, y):
        return (xp.abs(x) > self.threshold).astype(x.dtype)


class SparsePlus(Pointwise):
    """0 for ``x <= -1``, ``(x + 1)^2 / 4`` for ``-1 < x < 1``, ``x`` for ``x >= 1``."""

    def value(self, xp, x):
        middle = x + 1.0
        middle *= middle
        middle *= 0.25
        return xp.where(x <= -1, 0.0, xp.where(x >= 1, x, middle))

    def slope(self, xp, x, y):
        middle = x + 1.0
        middle *= 0.5
        return xp.where(x <= -1, 0.0, xp.where(x >= 1, 1.0, middle)).astype(x.dtype, copy=False)


class SparseSigmoid(Pointwise):
    """``clip(x + 1, 0, 2) / 2``."""

    def value(self, xp, x):
        out = x + 1.0
        xp.clip(out, 0.0, 2.0, out=out)
        out *= 0.5
        return out

    def slope(self, xp, x, y):
        return _mask((x > -1) & (x < 1), x.dtype, 0.5)


class Squareplus(Pointwise):
    """``(x + sqrt(x^2 + b)) / 2``; derivative ``(1 + x / sqrt(x^2 + b)) / 2``."""

    def __init__(self, b=4.0):
        self.b = b

    def _root(self, xp, x):
        root = x * x
        root += self.b
        return xp.sqrt(root, out=root)

    def value(self, xp, x):
        out = self._root(xp, x)
        out += x
        out *= 0.5
        return out

    def slope(self, xp, x, y):
        out = self._root(xp, x)
        xp.divide(x, out, out=out)
        out += 1.0
        out *= 0.5
        return out


class Threshold(Pointwise):
    """``x`` where ``x > threshold``, ``default_value`` elsewhere."""

    def __init__(self, threshold, default_value):
        self.threshold, self.default_value = threshold, default_value

    def value(self, xp, x):
        return xp.where(x > self.threshold, x, xp.asarray(self.default_value, dtype=x.dtype))

    def slope(self, xp, x, y):
        return (x > self.threshold).astype(x.dtype)


class PReLU(Function):
    """``max(x, 0) - alpha * max(-x, 0)`` with a learned ``alpha`` broadcast against ``x``
    (Keras's PReLU); the derivative at ``x = 0`` is taken as 0, as for relu. Inputs: x, alpha."""

    def forward(self, x, alpha):
        xp = get_array_module(x)
        self.x = x
        self.alpha = alpha if self.needs_input_grad[0] else None
        self.alpha_shape = alpha.shape
        negative = xp.minimum(x, 0.0)
        negative *= alpha
        negative += xp.maximum(x, 0.0)
        return negative

    def backward(self, gy):
        xp = get_array_module(gy)
        x = self.x
        gx = galpha = None
        if self.needs_input_grad[0]:
            gx = (x < 0) * self.alpha
            gx += x > 0
            gx *= gy
        if self.needs_input_grad[1]:
            galpha = xp.minimum(x, 0.0)
            galpha *= gy
            galpha = sum_to_shape(galpha, self.alpha_shape)
        return gx, galpha


class Sparsemax(Function):
    """Martins and Astudillo's sparsemax along ``axis``: the Euclidean projection of ``x`` onto
    the probability simplex, ``max(x - tau, 0)`` with ``tau`` chosen so that the result sums
    to 1. On the support ``S`` (the entries above 0) the Jacobian is ``I - 1 1^T / |S|``."""

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        axis = self.axis
        ordered = -xp.sort(-x, axis=axis)  # descending
        cumulative = xp.cumsum(ordered, axis=axis)
        shape = [1] * x.ndim
        shape[axis] = -1
        ranks = xp.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
        support = ordered - (cumulative - 1) / ranks > 0  # z_(k) > (z_(1) + ... + z_(k) - 1) / k: a prefix
        size = support.sum(axis=axis, keepdims=True).astype(x.dtype)
        tau = xp.where(support, ordered, 0.0).sum(axis=axis, keepdims=True)  # z_(1) + ... + z_(|S|)
        tau -= 1
        tau /= size
        y = x - tau
        xp.maximum(y, 0.0, out=y)
        self.y = y
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        support = (self.y > 0).astype(gy.dtype)
        masked = gy * support
        mean = masked.sum(axis=self.axis, keepdims=True) / xp.maximum(support.sum(axis=self.axis, keepdims=True), 1.0)
        masked -= support * mean
        return (masked,)


def general_relu(x, negative_slope=0.0, max_value=None, threshold=0.0) -> Tensor:
    """Keras's ``relu`` with its options: ``x`` above ``threshold`` (clipped to
    ``[0, max_value]`` when given), ``negative_slope * (x - threshold)`` below; the defaults
    give :func:`relu`."""
    if not negative_slope and max_value is None and not threshold:
        return relu(x)
    return GeneralReLU(negative_slope, max_value, threshold)(x)


def leaky_relu(x, negative_slope=0.2) -> Tensor:
    """``x`` for ``x >= 0``, ``negative_slope * x`` below."""
    return LeakyReLU(negative_slope)(x)


def relu6(x) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return ReLU6()(x)


def elu(x, alpha=1.0) -> Tensor:
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise (Clevert et al. 2016)."""
    return ELU(alpha)(x)


def selu(x) -> Tensor:
    """``scale * elu(x, alpha)`` with SELU's constants (Klambauer et al. 2017)."""
    return ELU(SELU_ALPHA, SELU_SCALE)(x)


def celu(x, alpha=1.0) -> Tensor:
    """``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)`` (Barron 2017)."""
    return CELU(alpha)(x)


def gelu(x, approximate=False) -> Tensor:
    """``x * Phi(x)``, ``Phi`` the standard normal CDF; ``approximate`` uses the tanh form."""
    return GELU(approximate)(x)


def silu(x) -> Tensor:
    """``x * sigmoid(x)`` (also called swish)."""
    return SiLU()(x)


def softplus(x) -> Tensor:
    """``log(1 + exp(x))``, computed without overflow."""
    return Softplus()(x)


def log_sigmoid(x) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return LogSigmoid()(x)


def softsign(x) -> Tensor:
    """``x / (1 + |x|)``."""
    return Softsign()(x)


def hard_sigmoid(x) -> Tensor:
    """``relu6(x + 3) / 6``."""
    return HardSigmoid()(x)


def hard_silu(x) -> Tensor:
    """``x * hard_sigmoid(x)`` (also called hard swish)."""
    return HardSiLU()(x)


def mish(x) -> Tensor:
    """``x * tanh(softplus(x))`` (Misra 2019)."""
    return Mish()(x)


def hard_tanh(x) -> Tensor:
    """``clip(x, -1, 1)``."""
    return HardTanh()(x)


def tanh_shrink(x) -> Tensor:
    """``x - tanh(x)``."""
    return TanhShrink()(x)


def hard_shrink(x, threshold=0.5) -> Tensor:
    """``x`` where ``|x| > threshold``, else 0."""
    return Shrink(threshold, soft=False)(x)


def soft_shrink(x, threshold=0.5) -> Tensor:
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""
    return Shrink(threshold, soft=True)(x)


def sparse_plus(x) -> Tensor:
    """0 for ``x <= -1``, ``(x + 1)^2 / 4`` between, ``x`` for ``x >= 1``."""
    return SparsePlus()(x)


def sparse_sigmoid(x) -> Tensor:
    """``clip(x + 1, 0, 2) / 2``."""
    return SparseSigmoid()(x)


def squareplus(x, b=4) -> Tensor:
    """``(x + sqrt(x^2 + b)) / 2`` (Barron 2021)."""
    return Squareplus(b)(x)


def threshold(x, threshold, default_value) -> Tensor:  # noqa: A002 - Keras's argument name
    """``x`` where ``x > threshold``, else ``default_value``."""
    return Threshold(threshold, default_value)(x)


def prelu(x, alpha) -> Tensor:
    """``max(x, 0) - alpha * max(-x, 0)``, ``alpha`` (a weight) broadcast against ``x`` (and cast
    to ``x``'s dtype under mixed precision)."""
    x, alpha = as_tensor(x), as_tensor(alpha)
    (alpha,) = autocast(x, alpha)
    return PReLU()(x, alpha)


def sparsemax(x, axis=-1) -> Tensor:
    """The projection of ``x`` onto the probability simplex along ``axis`` (Martins and
    Astudillo 2016): like softmax, but most entries exactly 0."""
    return Sparsemax(axis)(x)
