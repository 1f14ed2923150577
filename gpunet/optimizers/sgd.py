"""Stochastic gradient descent with momentum (Polyak), dampening and Nesterov momentum."""

from __future__ import annotations

from ..backend import get_array_module
from ..gpu.elementwise import COMPUTE_TYPE, ElementwiseKernel
from .base import Optimizer, check_nonnegative

__all__ = ["SGD"]

# the learning rate is read from device memory (``raw T lr``, one element), so that a captured
# CUDA graph of the step follows schedules and plateau decay (see Optimizer.learning_rate_buffer)
_plain_kernel = ElementwiseKernel(
    "T grad, raw T lr, T wd", "T param", "param = param - lr[0] * (grad + wd * param);", "gpunet_sgd"
)
_momentum_kernel = ElementwiseKernel(
    "T grad, raw T lr, T mu, T damp, T wd, int32 first, int32 nesterov",
    "T param, T buf",
    COMPUTE_TYPE + """
    F g = grad + wd * param;
    buf = first ? g : mu * buf + (1 - damp) * g;
    g = nesterov ? g + mu * buf : (F)buf;
    param = param - lr[0] * g;
    """,
    "gpunet_sgd_momentum",
)


class SGD(Optimizer):
    """SGD with momentum, as PyTorch documents it (Keras 3's defaults and arguments, and PyTorch's
    ``dampening`` after them)::

        g = grad + weight_decay * theta
        if momentum:  b = g at the first step, else b = momentum * b + (1 - dampening) * g
                      g = g + momentum * b if nesterov else b
        theta = theta - lr * g

    With ``dampening=0`` (the default) this is Keras's rule while the learning rate is constant:
    Keras keeps ``-lr * b`` as its momentum, so a change of rate reaches the steps through the
    momentum more slowly there.
    """

    graph_safe = True  # its GPU kernels read the rate from the device; the rest are constants of the graph's key

    keras_implicit = {"dampening": 0.0}

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, dampening=0.0, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        self.momentum = check_nonnegative(momentum, "momentum")
        self.dampening = check_nonnegative(dampening, "dampening")
        if self.dampening > 1:
            raise ValueError(f"dampening must be in [0, 1], got {dampening!r}")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening == 0")
        self.slot_names = ("momentum",) if self.momentum else ()

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        g = self._coupled_decay(param, grad, slots) if self.weight_decay else grad
        tmp = slots["scratch"]
        mu = self.momentum
        if mu:
            buf = slots["momentum"]
            if slots["step"] == 1:
                buf[...] = g
            else:
                buf *= mu
                if self.dampening:
                    xp.multiply(g, 1 - self.dampening, out=tmp)
                    buf += tmp
                else:
                    buf += g
            if self.nesterov:
                xp.multiply(buf, mu, out=tmp)
                tmp += g
                g = tmp
            else:
                g = buf
        xp.multiply(g, lr, out=tmp)
        param -= tmp

    def _update_gpu(self, param, grad, slots, lr):
        rate = self.learning_rate_buffer(param, lr)
        if self.momentum:
            _momentum_kernel(
                grad, rate, self.momentum, self.dampening, self.weight_decay,
                int(slots["step"] == 1), int(self.nesterov), param, slots["momentum"],
            )
        else:
            _plain_kernel(grad, rate, self.weight_decay, param)

    def graph_key(self) -> tuple:
        """The first momentum step is a constant of the kernel (``first``): a graph captured
        before every slot has taken it would replay it."""
        return (*super().graph_key(), all(s["step"] >= 1 for s in self._slots.values()))

    def _config(self):
        return {"momentum": self.momentum, "dampening": self.dampening, "nesterov": self.nesterov}
