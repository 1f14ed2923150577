"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): the sign of an
interpolated momentum as the step."""

from __future__ import annotations

from ..backend import get_array_module
from ..gpu.elementwise import COMPUTE_TYPE, ElementwiseKernel
from .base import Optimizer, _is_number, check_rate

__all__ = ["Lion"]

_kernel = ElementwiseKernel(
    "T grad, T lr, T b1, T b2, T wd",
    "T param, T m",
    COMPUTE_TYPE + """
    F g = grad + wd * param;
    F c = b1 * m + (1 - b1) * g;
    F s = (F)((c > (F)0) - (c < (F)0));
    param = param - lr * s;
    m = b2 * m + (1 - b2) * g;
    """,
    "gpunet_lion",
)


class Lion(Optimizer):
    """Lion, with Keras 3's arguments, defaults and rule::

        g = grad + weight_decay * theta          (L2, as every gpunet optimizer but AdamW)
        c = beta_1 m + (1 - beta_1) g
        theta = theta - lr * sign(c)
        m = beta_2 m + (1 - beta_2) g

    Every entry moves by exactly ``lr`` (or not at all where ``c`` is 0), so Lion wants a
    learning rate 3 to 10 times smaller than Adam's. ``beta_1`` must be in (0, 1] (at 0 Lion is
    sign SGD), ``beta_2`` in [0, 1). The paper's decoupled weight decay is not this
    ``weight_decay``: see docs/optimizers.md.

    Args:
        learning_rate: the step of every entry (a number or a schedule). Defaults to 0.001.
        beta_1: the weight of the momentum in the step's direction. Defaults to 0.9.
        beta_2: the decay of the momentum itself. Defaults to 0.99.
        weight_decay: L2 added to the gradient. Defaults to 0.

    Example::

        model.compile(optimizer=gpunet.optimizers.Lion(learning_rate=1e-4), loss="mse")
    """

    slot_names = ("m",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        if not _is_number(beta_1) or not 0 < beta_1 <= 1:
            raise ValueError(f"beta_1 must be a number in (0, 1] (at 0 Lion is sign SGD), got {beta_1!r}")
        self.beta_1 = float(beta_1)
        self.beta_2 = check_rate(beta_2, "beta_2")

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        one = param.dtype.type(1)  # 1 - beta in the weight's dtype, as Keras computes it
        b1, b2 = param.dtype.type(self.beta_1), param.dtype.type(self.beta_2)
        g = self._coupled_decay(param, grad, slots)
        m, tmp = slots["m"], slots["scratch"]
        tmp2 = self._scratch2(slots, param)
        xp.multiply(m, b1, out=tmp)
        xp.multiply(g, one - b1, out=tmp2)
        tmp += tmp2
        xp.sign(tmp, out=tmp)
        tmp *= lr
        param -= tmp
        m *= b2
        xp.multiply(g, one - b2, out=tmp2)
        m += tmp2

    def _update_gpu(self, param, grad, slots, lr):
        _kernel(grad, lr, self.beta_1, self.beta_2, self.weight_decay, param, slots["m"])

    def _config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2}
