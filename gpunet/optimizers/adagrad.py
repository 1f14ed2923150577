"""Adagrad (Duchi et al. 2011): per-parameter step sizes from the sum of squared gradients."""

from __future__ import annotations

from ..backend import get_array_module
from ..gpu.elementwise import COMPUTE_TYPE, ElementwiseKernel
from .base import Optimizer, check_nonnegative

__all__ = ["Adagrad"]

_kernel = ElementwiseKernel(
    "T grad, T clr, T wd, T eps",
    "T param, T acc",
    COMPUTE_TYPE + """
    F g = grad + wd * param;
    acc = acc + g * g;
    param = param - clr * g / (sqrt(acc) + eps);
    """,
    "gpunet_adagrad",
)


class Adagrad(Optimizer):
    """Adagrad as PyTorch documents it, with Keras 3's defaults and arguments (and PyTorch's
    ``lr_decay`` after them)::

        lr_t = lr / (1 + (t - 1) * lr_decay)
        g = grad + weight_decay * theta
        sum = sum + g ** 2                       (sum starts at initial_accumulator_value)
        theta = theta - lr_t * g / (sqrt(sum) + epsilon)

    Keras divides by ``sqrt(sum + epsilon)``; with its ``initial_accumulator_value=0.1`` the two
    differ by less than 1e-6 of a step. PyTorch's Adagrad is ``Adagrad(learning_rate=0.01,
    initial_accumulator_value=0.0, epsilon=1e-10)``.
    """

    keras_implicit = {"lr_decay": 0.0}

    slot_names = ("sum",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None, lr_decay=0.0, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        self.lr_decay = check_nonnegative(lr_decay, "lr_decay")
        self.initial_accumulator_value = check_nonnegative(initial_accumulator_value, "initial_accumulator_value")
        self.epsilon = check_nonnegative(epsilon, "epsilon")

    def _init_slots(self, slots, param):
        slots["sum"][...] = self.initial_accumulator_value

    def _step_size(self, slots, lr):
        return lr / (1 + (slots["step"] - 1) * self.lr_decay)

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        g = self._coupled_decay(param, grad, slots)
        total, tmp = slots["sum"], slots["scratch"]
        xp.multiply(g, g, out=tmp)
        total += tmp
        xp.sqrt(total, out=tmp)
        tmp += self.epsilon
        xp.divide(g, tmp, out=tmp)
        tmp *= self._step_size(slots, lr)
        param -= tmp

    def _update_gpu(self, param, grad, slots, lr):
        _kernel(grad, self._step_size(slots, lr), self.weight_decay, self.epsilon, param, slots["sum"])

    def _config(self):
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon, "lr_decay": self.lr_decay}
