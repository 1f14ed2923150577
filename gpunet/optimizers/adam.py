"""The Adam family: Adam / AMSGrad, AdamW, Adamax, Nadam, RAdam, sharing one moment core.

All keep the first moment ``m = beta_1 m + (1 - beta_1) g`` and (except Adamax) the second
moment ``v = beta_2 v + (1 - beta_2) g**2``, with bias corrections ``bc1 = 1 - beta_1**t`` and
``bc2 = 1 - beta_2**t``; they differ in the last line, the step. The rules are PyTorch's, the
defaults and arguments Keras 3's (``epsilon=1e-7``; PyTorch's is 1e-8). Keras adds epsilon to
``sqrt(v)`` before the bias correction, PyTorch (and gpunet) after it: the steps differ only where
``sqrt(v / bc2)`` is within a few epsilons of zero, in the first steps.
"""

from __future__ import annotations

import math

from ..backend import get_array_module
from ..gpu.elementwise import COMPUTE_TYPE, ElementwiseKernel
from .base import Optimizer, check_beta, check_nonnegative

__all__ = ["Adam", "AdamW", "Adamax", "Nadam", "RAdam"]

_MOMENTS = COMPUTE_TYPE + """
    F g = grad + wd * param;
    param = param * decay;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
"""
_MOMENT_PARAMS = "T grad, T wd, T decay, T b1, T b2, T eps"

_adam_kernel = ElementwiseKernel(
    _MOMENT_PARAMS + ", T inv_sqrt_bc2, T step_size",
    "T param, T m, T v",
    _MOMENTS + "param = param - step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps);",
    "gpunet_adam",
)
_amsgrad_kernel = ElementwiseKernel(
    _MOMENT_PARAMS + ", T inv_sqrt_bc2, T step_size",
    "T param, T m, T v, T v_max",
    _MOMENTS + "v_max = max(v_max, v); param = param - step_size * m / (sqrt(v_max) * inv_sqrt_bc2 + eps);",
    "gpunet_amsgrad",
)
_nadam_kernel = ElementwiseKernel(
    _MOMENT_PARAMS + ", T inv_sqrt_bc2, T c_grad, T c_m",
    "T param, T m, T v",
    _MOMENTS + "param = param - (c_grad * g + c_m * m) / (sqrt(v) * inv_sqrt_bc2 + eps);",
    "gpunet_nadam",
)
_radam_kernel = ElementwiseKernel(
    _MOMENT_PARAMS + ", T rect_step, T plain_step, int32 rectified",
    "T param, T m, T v",
    _MOMENTS + "F step = rectified ? rect_step * m / (sqrt(v) + eps) : plain_step * m; param = param - step;",
    "gpunet_radam",
)
_adamax_kernel = ElementwiseKernel(
    "T grad, T wd, T b1, T b2, T eps, T step_size",
    "T param, T m, T u",
    COMPUTE_TYPE + """
    F g = grad + wd * param;
    m = b1 * m + (1 - b1) * g;
    u = max(b2 * u, fabs(g) + eps);
    param = param - step_size * m / u;
    """,
    "gpunet_adamax",
)


class _AdamCore(Optimizer):
    """Shared arguments and the moment updates of the Adam family."""

    slot_names = ("m", "v")

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, weight_decay, name, **kwargs):
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        self.beta_1 = check_beta(beta_1, "beta_1")
        self.beta_2 = check_beta(beta_2, "beta_2")
        self.epsilon = check_nonnegative(epsilon, "epsilon")

    def _corrections(self, slots):
        t = slots["step"]
        return 1 - self.beta_1**t, 1 - self.beta_2**t

    def _decay_terms(self, lr):
        """(coupled weight decay added to g, factor theta is multiplied by first)."""
        if self.decoupled:
            return 0.0, 1 - lr * self.weight_decay
        return self.weight_decay, 1.0

    def _moments(self, param, grad, slots, lr):
        """Apply weight decay and update m, v in place; return the gradient used (maybe decayed)."""
        xp = get_array_module(param)
        coupled, decay = self._decay_terms(lr)
        g = self._coupled_decay(param, grad, slots, coupled)
        if decay != 1.0:
            param *= decay
        m, tmp = slots["m"], slots["scratch"]
        m *= self.beta_1
        xp.multiply(g, 1 - self.beta_1, out=tmp)
        m += tmp
        if "v" in slots:
            v = slots["v"]
            v *= self.beta_2
            xp.multiply(g, g, out=tmp)
            tmp *= 1 - self.beta_2
            v += tmp
        return g

    def _moment_args(self, grad, lr):
        coupled, decay = self._decay_terms(lr)
        return (grad, coupled, decay, self.beta_1, self.beta_2, self.epsilon)

    def _config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adam(_AdamCore):
    """Adam (Kingma and Ba 2015) as PyTorch documents it, with AMSGrad (Reddi et al. 2018)::

        g = grad + weight_decay * theta          (L2, coupled)
        m = beta_1 m + (1 - beta_1) g ;  v = beta_2 v + (1 - beta_2) g**2
        v_hat = max(v_hat, v) if amsgrad else v
        theta = theta - lr / bc1 * m / (sqrt(v_hat) / sqrt(bc2) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, name, **kwargs)
        self.amsgrad = bool(amsgrad)
        if self.amsgrad:
            self.slot_names = ("m", "v", "v_max")

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        self._moments(param, grad, slots, lr)
        bc1, bc2 = self._corrections(slots)
        v, tmp = slots["v"], slots["scratch"]
        if self.amsgrad:
            xp.maximum(slots["v_max"], v, out=slots["v_max"])
            v = slots["v_max"]
        xp.sqrt(v, out=tmp)
        tmp *= 1 / math.sqrt(bc2)
        tmp += self.epsilon
        xp.divide(slots["m"], tmp, out=tmp)
        tmp *= lr / bc1
        param -= tmp

    def _update_gpu(self, param, grad, slots, lr):
        bc1, bc2 = self._corrections(slots)
        args = (*self._moment_args(grad, lr), 1 / math.sqrt(bc2), lr / bc1, param, slots["m"], slots["v"])
        if self.amsgrad:
            _amsgrad_kernel(*args, slots["v_max"])
        else:
            _adam_kernel(*args)

    def _config(self):
        return {**super()._config(), "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter 2019), Keras 3's defaults
    (``weight_decay=0.004``; PyTorch's is 0.01)::

        theta = theta * (1 - lr * weight_decay)   then the Adam step (without L2 in g)
    """

    decoupled = True

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name=None,
                 **kwargs):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay,
                         name=name, **kwargs)


class Adamax(_AdamCore):
    """Adamax (Kingma and Ba 2015, section 7.1) as PyTorch documents it::

        g = grad + weight_decay * theta
        m = beta_1 m + (1 - beta_1) g ;  u = max(beta_2 u, |g| + epsilon)
        theta = theta - lr / bc1 * m / u

    Keras keeps ``u = max(beta_2 u, |g|)`` and divides by ``u + epsilon``: the same step up to
    about epsilon / |g|. PyTorch's defaults: ``learning_rate=0.002, epsilon=1e-8``.
    """

    slot_names = ("m", "u")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, name, **kwargs)

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        g = self._moments(param, grad, slots, lr)
        u, tmp = slots["u"], slots["scratch"]
        u *= self.beta_2
        xp.abs(g, out=tmp)
        tmp += self.epsilon
        xp.maximum(u, tmp, out=u)
        xp.divide(slots["m"], u, out=tmp)
        tmp *= lr / self._corrections(slots)[0]
        param -= tmp

    def _update_gpu(self, param, grad, slots, lr):
        step_size = lr / self._corrections(slots)[0]
        _adamax_kernel(grad, self.weight_decay, self.beta_1, self.beta_2, self.epsilon, step_size, param, slots["m"], slots["u"])


class Nadam(_AdamCore):
    """Nadam (Dozat 2016) as PyTorch documents it::

        mu_t = beta_1 (1 - 0.5 * 0.96 ** (t * momentum_decay)) ;  prod_t = mu_1 ... mu_t
        g = grad + weight_decay * theta ;  m, v as Adam
        theta = theta - lr (1 - mu_t) / (1 - prod_t) * g / d - lr mu_{t+1} / (1 - prod_t mu_{t+1}) * m / d
        with d = sqrt(v / bc2) + epsilon

    The default ``momentum_decay=1.0`` is Keras 3's schedule ``mu_t = beta_1 (1 - 0.5 * 0.96 ** t)``,
    with which this is Keras's rule, epsilon included. PyTorch's NAdam is ``Nadam(learning_rate=0.002,
    epsilon=1e-8, momentum_decay=0.004)``.
    """

    keras_implicit = {"momentum_decay": 1.0}  # Keras's fixed schedule: mu_t = beta_1 (1 - 0.5 * 0.96 ** t)

    scalar_slots = ("mu_product",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, momentum_decay=1.0, name=None,
                 **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, name, **kwargs)
        self.momentum_decay = check_nonnegative(momentum_decay, "momentum_decay")

    def _init_slots(self, slots, param):
        slots["mu_product"] = 1.0

    def _coefficients(self, slots, lr):
        t = slots["step"]
        mu = self.beta_1 * (1 - 0.5 * 0.96 ** (t * self.momentum_decay))
        mu_next = self.beta_1 * (1 - 0.5 * 0.96 ** ((t + 1) * self.momentum_decay))
        slots["mu_product"] *= mu
        product = slots["mu_product"]
        return lr * (1 - mu) / (1 - product), lr * mu_next / (1 - product * mu_next)

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        g = self._moments(param, grad, slots, lr)
        c_grad, c_m = self._coefficients(slots, lr)
        bc2 = self._corrections(slots)[1]
        tmp = slots["scratch"]
        denom = self._scratch2(slots, param)
        xp.sqrt(slots["v"], out=denom)
        denom *= 1 / math.sqrt(bc2)
        denom += self.epsilon
        xp.multiply(g, c_grad, out=tmp)
        xp.divide(tmp, denom, out=tmp)
        param -= tmp
        xp.multiply(slots["m"], c_m, out=tmp)
        xp.divide(tmp, denom, out=tmp)
        param -= tmp

    def _update_gpu(self, param, grad, slots, lr):
        c_grad, c_m = self._coefficients(slots, lr)
        bc2 = self._corrections(slots)[1]
        _nadam_kernel(*self._moment_args(grad, lr), 1 / math.sqrt(bc2), c_grad, c_m, param, slots["m"], slots["v"])

    def _config(self):
        return {**super()._config(), "momentum_decay": self.momentum_decay}


class RAdam(_AdamCore):
    """Rectified Adam (Liu et al. 2019) as PyTorch documents it::

        g = grad + weight_decay * theta ;  m, v as Adam
        rho_inf = 2 / (1 - beta_2) - 1 ;  rho_t = rho_inf - 2 t beta_2**t / bc2
        if rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                       theta = theta - lr * m / bc1 * r * sqrt(bc2) / (sqrt(v) + epsilon)
        else:          theta = theta - lr * m / bc1

    Keras has no RAdam: the defaults are PyTorch's but for ``epsilon=1e-7``, the Adam family's
    default here (and TensorFlow Addons' ``RectifiedAdam``'s); PyTorch's is 1e-8.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, name, **kwargs)

    def _rectification(self, slots, lr):
        """(rectified?, step size for the rectified rule, step size for the plain rule)."""
        t = slots["step"]
        bc1, bc2 = self._corrections(slots)
        rho_inf = 2 / (1 - self.beta_2) - 1
        rho_t = rho_inf - 2 * t * self.beta_2**t / bc2
        if rho_t > 5:
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            return True, lr * r * math.sqrt(bc2) / bc1, lr / bc1
        return False, 0.0, lr / bc1

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        self._moments(param, grad, slots, lr)
        rectified, rect_step, plain_step = self._rectification(slots, lr)
        tmp = slots["scratch"]
        if rectified:
            xp.sqrt(slots["v"], out=tmp)
            tmp += self.epsilon
            xp.divide(slots["m"], tmp, out=tmp)
            tmp *= rect_step
        else:
            xp.multiply(slots["m"], plain_step, out=tmp)
        param -= tmp

    def _update_gpu(self, param, grad, slots, lr):
        rectified, rect_step, plain_step = self._rectification(slots, lr)
        _radam_kernel(*self._moment_args(grad, lr), rect_step, plain_step, int(rectified), param, slots["m"], slots["v"])
