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
        body += ["grad_avg = rho * grad_avg + (1 - rho) * g;",
                 "F avg = sqrt(square_avg - grad_avg * grad_avg + eps_in) + eps_out;"]
    else:
        body += ["F avg = sqrt(square_avg + eps_in) + eps_out;"]
    if momentum:
        body += ["momentum_buffer = mu * momentum_buffer + g / avg;", "param = param - lr * momentum_buffer;"]
    else:
        body += ["param = param - lr * g / avg;"]
    name = "gpunet_rmsprop" + ("_centered" if centered else "") + ("_momentum" if momentum else "")
    return ElementwiseKernel("T grad, T lr, T rho, T eps_in, T eps_out, T wd, T mu", ", ".join(outputs), "\n".join(body), name)


_KERNELS = {(c, m): _kernel_for(c, m) for c in (False, True) for m in (False, True)}


class RMSprop(Optimizer):
    """RMSprop, with Keras 3's defaults and rule (PyTorch's ``alpha`` is Keras's ``rho``)::

        g = grad + weight_decay * theta
        v = rho v + (1 - rho) g**2
        centered:  a = rho a + (1 - rho) g ;  s = v - a**2          else s = v
        d = sqrt(s + epsilon)       (epsilon_inside_sqrt=True, Keras's rule)
        d = sqrt(s) + epsilon       (epsilon_inside_sqrt=False, PyTorch's rule)
        momentum:  b = momentum b + g / d ;  theta = theta - lr b   else theta = theta - lr g / d

    Where the epsilon sits matters here: with Keras's ``epsilon=1e-7``, a weight whose squared
    gradients average below about 1e-7 takes much smaller steps under Keras's rule than under
    PyTorch's. PyTorch's RMSprop is ``RMSprop(learning_rate=0.01, rho=0.99, epsilon=1e-8,
    epsilon_inside_sqrt=False)``. (Keras keeps ``lr * b`` as its momentum; with a constant
    learning rate the two are the same rule.)
    """

    keras_implicit = {"epsilon_inside_sqrt": True}

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None,
                 epsilon_inside_sqrt=True, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        self.rho = check_rate(rho, "rho")
        self.epsilon = check_nonnegative(epsilon, "epsilon")
        self.momentum = check_nonnegative(momentum, "momentum")
        self.centered = bool(centered)
        self.epsilon_inside_sqrt = bool(epsilon_inside_sqrt)
        self.slot_names = ("square_avg",) + (("grad_avg",) if self.centered else ()) + (("momentum_buffer",) if self.momentum else ())

    def _epsilons(self):
        """(epsilon added under the square root, epsilon added to it)."""
        return (self.epsilon, 0.0) if self.epsilon_inside_sqrt else (0.0, self.epsilon)

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        rho = self.rho
        eps_in, eps_out = self._epsilons()
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
            if eps_in:
                tmp += eps_in
            xp.sqrt(tmp, out=tmp)
        elif eps_in:
            xp.add(v, eps_in, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(v, out=tmp)
        if eps_out:
            tmp += eps_out
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
        kernel(grad, lr, self.rho, *self._epsilons(), self.weight_decay, self.momentum, param, *arrays)

    def _config(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered,
                "epsilon_inside_sqrt": self.epsilon_inside_sqrt}
