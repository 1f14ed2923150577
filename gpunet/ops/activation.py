"""Activation functions: sigmoid, tanh, relu, softmax, log_softmax."""

from __future__ import annotations

from ..gpu import kernels
from ..autograd import Function, Tensor
from ..backend import get_array_module

__all__ = ["sigmoid", "tanh", "relu", "softmax", "log_softmax"]


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
