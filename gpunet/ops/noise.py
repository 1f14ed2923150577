"""Noise operations: dropout."""

from __future__ import annotations

from .. import backend
from ..autograd import Function, Tensor, as_tensor

__all__ = ["dropout", "dropout_mask"]


def dropout_mask(shape, rate: float, dtype):
    """Inverted-dropout mask: each entry is ``1 / (1 - rate)`` with probability ``1 - rate``, else 0.

    Drawn from the backend's noise generator, on the backend's device.
    """
    keep = backend.noise_generator().random(shape, dtype=dtype) >= rate
    return keep * dtype.type(1.0 / (1.0 - rate))


class Dropout(Function):
    def __init__(self, rate):
        self.rate = rate

    def forward(self, x):
        self.mask = dropout_mask(x.shape, self.rate, x.dtype)
        return x * self.mask

    def backward(self, gy):
        return (gy * self.mask,)


def dropout(x, rate: float, training: bool = True) -> Tensor:
    """Inverted dropout (Srivastava et al. 2014): zero each element with probability ``rate`` and
    scale the kept ones by ``1 / (1 - rate)``, so the expected value is unchanged; the identity
    when ``training`` is False or ``rate`` is 0. Backward multiplies by the same mask.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"rate must be a number in [0, 1), got {rate!r}")
    x = as_tensor(x)
    if not training or rate == 0:
        return x
    if x.dtype.kind != "f":
        raise TypeError(f"dropout needs floating-point input, got dtype {x.dtype}")
    return Dropout(float(rate))(x)
