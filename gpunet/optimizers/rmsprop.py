"""RMSprop (Hinton's lecture 6e), with momentum and the centered variant (Graves 2013)."""

from __future__ import annotations

from ..backend import get_array_module
from ..gpu.elementwise import COMPUTE_TYPE, ElementwiseKernel
from .base import Optimizer, check_nonnegative, check_rate

__all__ = ["RMSprop"]


def _kernel_for(centered: bool, momentum: bool) -> ElementwiseKernel:
    outputs = ["T param", "T square_avg"] + (["T grad_avg"] if centered else []) + (["T momentum_buffer"] if momentum else [])
    body = [COMPUTE_TYPE + "F g = grad + wd * param;", "square_avg = rho * square_avg + (1 - rho) * g * g;"]
    if centered:
        body += ["grad_avg = rho * grad_avg + (1 - rho) * g;", "F avg = sqrt(square_avg - grad_avg * grad_avg) + eps;"]
    else:
        body += ["F avg = sqrt(square_avg) + eps;"]
    if momentum:
        body += ["momentum_buffer = mu * momentum_buffer + g / avg;", "param = param - lr * momentum_buffer;"]
    else:
        body += ["param = param - lr * g / avg;"]
    name = "gpunet_rmsprop" + ("_centered" if centered else "") + ("_momentum" if momentum else "")
    return ElementwiseKernel("T grad, T lr, T rho, T eps, T wd, T mu", ", ".join(outputs), "\n".join(body), name)


_KERNELS = {(c, m): _kernel_for(c, m) for c in (False, True) for m in (False, True)}


class RMSprop(Optimizer):
    """RMSprop as PyTorch documents it (PyTorch's ``alpha`` is Keras's ``rho``)::

        g = grad + weight_decay * theta
        v = rho v + (1 - rho) g**2
        centered:  a = rho a + (1 - rho) g ;  d = sqrt(v - a**2) + epsilon   else d = sqrt(v) + epsilon
        momentum:  b = momentum b + g / d ;  theta = theta - lr b             else theta = theta - lr g / d
    """

    def __init__(self, learning_rate=0.01, rho=0.99, epsilon=1e-8, momentum=0.0, centered=False, weight_decay=0.0, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        self.rho = check_rate(rho, "rho")
        self.epsilon = check_nonnegative(epsilon, "epsilon")
        self.momentum = check_nonnegative(momentum, "momentum")
        self.centered = bool(centered)
        self.slot_names = ("square_avg",) + (("grad_avg",) if self.centered else ()) + (("momentum_buffer",) if self.momentum else ())

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        rho = self.rho
        g = self._coupled_decay(param, grad, slots)
        v, tmp = slots["square_avg"], slots["scratch"]
        v *= rho
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        v += tmp
        if self.centered:
            a = slots["grad_avg"]
            a *= rho
            xp.multiply(g, 1 - rho, out=tmp)
            a += tmp
            xp.multiply(a, a, out=tmp)
            xp.subtract(v, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(v, out=tmp)
        tmp += self.epsilon
        xp.divide(g, tmp, out=tmp)
        if self.momentum:
            b = slots["momentum_buffer"]
            b *= self.momentum
            b += tmp
            xp.multiply(b, lr, out=tmp)
        else:
            tmp *= lr
        param -= tmp

    def _update_gpu(self, param, grad, slots, lr):
        kernel = _KERNELS[(self.centered, bool(self.momentum))]
        arrays = [slots[k] for k in self.slot_names]
        kernel(grad, lr, self.rho, self.epsilon, self.weight_decay, self.momentum, param, *arrays)

    def _config(self):
        return {"rho": self.rho, "epsilon": self.epsilon, "momentum": self.momentum, "centered": self.centered}
