"""FTRL-Proximal (McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches"): follow
the regularized leader, with per-coordinate learning rates and L1 that sets weights to exactly 0."""

from __future__ import annotations

from ..backend import get_array_module
from ..gpu.elementwise import COMPUTE_TYPE, ElementwiseKernel
from .base import Optimizer, check_nonnegative, check_nonpositive

__all__ = ["Ftrl"]

_kernel = ElementwiseKernel(
    "T grad, T lr, T power, T l1, T l2, T shrinkage, T wd",
    "T param, T accumulator, T linear",
    COMPUTE_TYPE + """
    F g = grad + wd * param;
    F w = param;
    F n_old = accumulator;
    F n_new = n_old + g * g;
    F p_new = pow(n_new, (F)power);
    F sigma = (p_new - pow(n_old, (F)power)) / (F)lr;
    F z = (F)linear + g + 2 * (F)shrinkage * w - sigma * w;
    F quadratic = p_new / (F)lr + 2 * (F)l2;
    F clipped = min(max(z, -(F)l1), (F)l1);
    linear = z;
    accumulator = n_new;
    param = (clipped - z) / quadratic;
    """,
    "gpunet_ftrl",
)


class Ftrl(Optimizer):
    """FTRL-Proximal with Keras 3's arguments, defaults and rule. With ``p = -learning_rate_power``
    and the accumulator ``n`` starting at ``initial_accumulator_value``, the linear term ``z`` at 0::

        g = grad + weight_decay * theta                     (L2, as every gpunet optimizer but AdamW)
        n_new = n + g**2
        z = z + g + 2 * l2_shrinkage * theta - (n_new**p - n**p) / lr * theta
        theta = (clip(z, -l1, l1) - z) / (n_new**p / lr + 2 * (l2 + beta / (2 lr)))
        n = n_new

    so ``theta`` is 0 wherever ``|z| <= l1``. ``l1``, ``l2`` are the ``l1_regularization_strength``
    and ``l2_regularization_strength`` (the paper's lambda_1, lambda_2); the shrinkage term is an L2
    penalty on the weights' magnitude added to the gradient of ``z`` only (the accumulator takes
    the plain gradient). The default ``learning_rate_power=-0.5`` is the paper's
    ``sqrt(n) / lr`` per-coordinate rate; 0 is a fixed rate.

    Args:
        learning_rate: the paper's alpha (a number or a schedule; never 0). Defaults to 0.001.
        learning_rate_power: <= 0. Defaults to -0.5.
        initial_accumulator_value: >= 0. Defaults to 0.1.
        l1_regularization_strength: >= 0. Defaults to 0.
        l2_regularization_strength: >= 0. Defaults to 0.
        l2_shrinkage_regularization_strength: >= 0. Defaults to 0.
        beta: the paper's beta, >= 0. Defaults to 0.
        weight_decay: L2 added to the gradient. Defaults to 0.

    Example::

        model.compile(optimizer=gpunet.optimizers.Ftrl(learning_rate=0.1, l1_regularization_strength=1e-3), loss="mse")
    """

    slot_names = ("accumulator", "linear")

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        self.learning_rate_power = check_nonpositive(learning_rate_power, "learning_rate_power")
        self.initial_accumulator_value = check_nonnegative(initial_accumulator_value, "initial_accumulator_value")
        self.l1_regularization_strength = check_nonnegative(l1_regularization_strength, "l1_regularization_strength")
        self.l2_regularization_strength = check_nonnegative(l2_regularization_strength, "l2_regularization_strength")
        self.l2_shrinkage_regularization_strength = check_nonnegative(
            l2_shrinkage_regularization_strength, "l2_shrinkage_regularization_strength")
        self.beta = check_nonnegative(beta, "beta")

    def _init_slots(self, slots, param):
        slots["accumulator"][...] = self.initial_accumulator_value

    def apply_gradients(self, grads_and_vars) -> None:
        """As every optimizer's, but refused (before anything changes) at a learning rate of 0:
        FTRL divides by it."""
        if self.learning_rate <= 0:
            raise ValueError(f"Ftrl divides by the learning rate: it must be > 0, got {self.learning_rate!r}")
        super().apply_gradients(grads_and_vars)

    def _l2(self, lr) -> float:
        return self.l2_regularization_strength + self.beta / (2 * lr)

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        power, l1 = -self.learning_rate_power, self.l1_regularization_strength
        l2 = self._l2(lr)
        g = self._coupled_decay(param, grad, slots)
        n, z, tmp = slots["accumulator"], slots["linear"], slots["scratch"]
        tmp2 = self._scratch2(slots, param)
        xp.multiply(g, g, out=tmp)
        tmp += n  # the new accumulator
        xp.power(n, power, out=n)
        xp.power(tmp, power, out=tmp2)
        xp.subtract(tmp2, n, out=n)
        n /= lr
        n *= param  # sigma * theta
        z -= n
        z += g
        if self.l2_shrinkage_regularization_strength:
            xp.multiply(param, 2 * self.l2_shrinkage_regularization_strength, out=n)
            z += n
        n[...] = tmp
        tmp2 /= lr
        tmp2 += 2 * l2  # the quadratic term
        xp.clip(z, -l1, l1, out=tmp)
        tmp -= z
        xp.divide(tmp, tmp2, out=param)

    def _update_gpu(self, param, grad, slots, lr):
        _kernel(grad, lr, -self.learning_rate_power, self.l1_regularization_strength, self._l2(lr),
                self.l2_shrinkage_regularization_strength, self.weight_decay, param, slots["accumulator"], slots["linear"])

    def _config(self):
        return {"learning_rate_power": self.learning_rate_power, "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength, "beta": self.beta}
