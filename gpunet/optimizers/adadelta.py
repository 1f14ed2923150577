"""Adadelta (Zeiler 2012): step sizes from running averages of squared gradients and updates."""

from __future__ import annotations

from ..backend import get_array_module
from ..gpu.elementwise import COMPUTE_TYPE, ElementwiseKernel
from .base import Optimizer, check_nonnegative, check_rate

__all__ = ["Adadelta"]

_kernel = ElementwiseKernel(
    "T grad, T lr, T rho, T eps, T wd",
    "T param, T square_avg, T acc_delta",
    COMPUTE_TYPE + """
    F g = grad + wd * param;
    square_avg = rho * square_avg + (1 - rho) * g * g;
    F delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g;
    acc_delta = rho * acc_delta + (1 - rho) * delta * delta;
    param = param - lr * delta;
    """,
    "gpunet_adadelta",
)


class Adadelta(Optimizer):
    """Adadelta, one rule in PyTorch and Keras 3 (Keras 3's defaults; PyTorch's are
    ``learning_rate=1.0, rho=0.9, epsilon=1e-6``)::

        g = grad + weight_decay * theta
        v = rho * v + (1 - rho) * g ** 2
        delta = sqrt(u + epsilon) / sqrt(v + epsilon) * g
        u = rho * u + (1 - rho) * delta ** 2
        theta = theta - lr * delta
    """

    slot_names = ("square_avg", "acc_delta")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        self.rho = check_rate(rho, "rho")
        self.epsilon = check_nonnegative(epsilon, "epsilon")

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        rho, eps = self.rho, self.epsilon
        g = self._coupled_decay(param, grad, slots)
        v, u, tmp = slots["square_avg"], slots["acc_delta"], slots["scratch"]
        tmp2 = self._scratch2(slots, param)
        v *= rho
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        v += tmp
        xp.add(u, eps, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.add(v, eps, out=tmp2)
        xp.sqrt(tmp2, out=tmp2)
        tmp /= tmp2
        tmp *= g  # tmp = delta
        u *= rho
        xp.multiply(tmp, tmp, out=tmp2)
        tmp2 *= 1 - rho
        u += tmp2
        tmp *= lr
        param -= tmp

    def _update_gpu(self, param, grad, slots, lr):
        _kernel(grad, lr, self.rho, self.epsilon, self.weight_decay, param, slots["square_avg"], slots["acc_delta"])

    def _config(self):
        return {"rho": self.rho, "epsilon": self.epsilon}
