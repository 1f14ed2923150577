"""Adafactor (Shazeer and Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory
Cost"): Adam-like steps without a first moment, the second moment of a matrix kept as the
mean over its rows and the mean over its columns."""

from __future__ import annotations

import math

from ..backend import get_array_module
from .base import Optimizer, check_nonnegative, check_nonpositive, check_positive

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor with Keras 3's arguments, defaults and rule. At step ``t`` (1 at the first)::

        g = grad + weight_decay * theta          (L2, as every gpunet optimizer but AdamW)
        rho_t = min(lr, 1 / sqrt(t)) ;  alpha_t = max(epsilon_2, RMS(theta)) * rho_t
        beta_t = 1 - t ** beta_2_decay ;  G = g**2 + epsilon_1
        weights of rank >= 2 (the last two axes factored):
            r = beta_t r + (1 - beta_t) mean(G, axis=-1)     (one number per row)
            c = beta_t c + (1 - beta_t) mean(G, axis=-2)     (one number per column)
            v = r / mean(r) (outer) c
        weights of rank 0 or 1:  v = beta_t v + (1 - beta_t) G
        u = g / sqrt(v) ;  theta = theta - alpha_t * u / max(1, RMS(u) / clip_threshold)

    ``RMS(x)`` is the root of the mean of ``x**2`` over the whole array. The step is relative to
    the weight's own scale (``alpha_t``), never below ``epsilon_2`` times ``rho_t``.

    ``relative_step`` is kept for Keras's configs; in Keras 3 (and so here) the step size is
    ``min(lr, 1 / sqrt(t))`` whether it is on or off (the paper's relative step would be
    ``min(1e-2, 1 / sqrt(t))`` with no learning rate). Like Keras, ``v`` is kept at the weight's
    size too (it is recomputed from ``r`` and ``c`` at every step); for a weight of rank 0 or 1,
    ``r`` and ``c`` are unused numbers, as in Keras's list of variables.

    Args:
        learning_rate: the largest step size (a number or a schedule). Defaults to 0.001.
        beta_2_decay: <= 0, how fast ``beta_t`` approaches 1. Defaults to -0.8.
        epsilon_1: added to the squared gradients. Defaults to 1e-30.
        epsilon_2: the smallest weight scale ``alpha_t`` takes. Defaults to 1e-3.
        clip_threshold: the largest RMS of the update ``u`` (> 0). Defaults to 1.0.
        relative_step: kept as Keras keeps it (see above). Defaults to True.
        weight_decay: L2 added to the gradient. Defaults to 0.

    Example::

        model.compile(optimizer=gpunet.optimizers.Adafactor(learning_rate=1e-2), loss="mse")
    """

    slot_names = ("r", "c", "v")

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0,
                 relative_step=True, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        self.beta_2_decay = check_nonpositive(beta_2_decay, "beta_2_decay")
        self.epsilon_1 = check_nonnegative(epsilon_1, "epsilon_1")
        self.epsilon_2 = check_nonnegative(epsilon_2, "epsilon_2")
        self.clip_threshold = check_positive(clip_threshold, "clip_threshold")
        self.relative_step = bool(relative_step)

    def slot_shape(self, slot, shape):
        """``r``: the weight's shape without its last axis; ``c``: without its second last; both
        ``()`` for a weight of rank 0 or 1; ``v``: the weight's."""
        shape = tuple(shape)
        if slot == "v":
            return shape
        if len(shape) < 2:
            return ()
        return shape[:-1] if slot == "r" else shape[:-2] + shape[-1:]

    @staticmethod
    def _rms(x, buffer):
        """The root mean square of ``x`` as a 0-d array on its device (``buffer`` takes ``x**2``)."""
        xp = get_array_module(x)
        xp.multiply(x, x, out=buffer)
        return xp.sqrt(buffer.mean())

    def _update_numpy(self, param, grad, slots, lr):
        xp = get_array_module(param)
        t = slots["step"]
        g = self._coupled_decay(param, grad, slots)
        tmp = slots["scratch"]
        alpha = xp.maximum(param.dtype.type(self.epsilon_2), self._rms(param, tmp)) * param.dtype.type(min(lr, 1 / math.sqrt(t)))
        beta = 1 - t**self.beta_2_decay
        xp.multiply(g, g, out=tmp)
        tmp += self.epsilon_1  # G
        v = slots["v"]
        if param.ndim >= 2:
            r, c = slots["r"], slots["c"]
            r *= beta
            r += (1 - beta) * tmp.mean(axis=-1)
            c *= beta
            c += (1 - beta) * tmp.mean(axis=-2)
            xp.multiply((r / r.mean(axis=-1, keepdims=True))[..., None], c[..., None, :], out=v)
        else:
            v *= beta
            tmp *= 1 - beta
            v += tmp
        xp.sqrt(v, out=tmp)
        xp.divide(g, tmp, out=tmp)  # u
        scale = xp.maximum(param.dtype.type(1), self._rms(tmp, self._scratch2(slots, param)) / param.dtype.type(self.clip_threshold))
        tmp *= alpha / scale
        param -= tmp

    def _config(self):
        return {"beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1, "epsilon_2": self.epsilon_2,
                "clip_threshold": self.clip_threshold, "relative_step": self.relative_step}
