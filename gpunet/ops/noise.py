"""Noise operations: dropout."""

from __future__ import annotations

from .. import backend
from ..gpu import kernels
from ..autograd import Function, Tensor, as_tensor
from ..dtype_policies import is_float

__all__ = ["dropout"]


class Dropout(Function):
    """Mask from uniform noise ``u`` drawn on the data's device: kept where ``u >= rate``,
    scaled by ``1 / (1 - rate)``; forward and mask in one fused kernel on the GPU."""

    def __init__(self, rate):
        self.rate = rate

    def forward(self, x):
        y, self.mask = kernels.dropout_apply(x, backend.noise_generator(), self.rate, 1.0 / (1.0 - self.rate))
        return y

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
    if not is_float(x.dtype):
        raise TypeError(f"dropout needs floating-point input, got dtype {x.dtype}")
    return Dropout(float(rate))(x)
