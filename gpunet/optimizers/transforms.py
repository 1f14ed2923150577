"""Gradient transforms: functions of ``(grads, params) -> grads`` that run before the update.

An optimizer applies, in order, the transforms in its ``gradient_transforms`` list, then the
clipping asked for with Keras's arguments (``clipnorm``, ``global_clipnorm``, ``clipvalue``), and
only then its update rule (weight decay included). Each transform returns new arrays: the caller's
gradients are never modified.
"""

from __future__ import annotations

import math
import numbers

import numpy

from ..backend import get_array_module

__all__ = ["ClipByValue", "ClipByNorm", "ClipByGlobalNorm", "clipping_from_arguments"]


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0 or None, got {value!r}")
    return float(value)


class ClipByValue:
    """Keras's ``clipvalue``: every gradient entry clipped to ``[-value, value]``."""

    def __init__(self, value):
        self.value = _positive(value, "clipvalue")

    def __call__(self, grads, params):
        return [get_array_module(g).clip(g, -self.value, self.value) for g in grads]


def _norm(g):
    xp = get_array_module(g)
    return xp.sqrt(xp.vdot(g.ravel(), g.ravel()))


class ClipByNorm:
    """Keras's ``clipnorm``: each gradient scaled by ``norm / max(||g||, norm)``, so that its L2
    norm is at most ``norm`` (a gradient already within bounds is unchanged)."""

    def __init__(self, norm):
        self.norm = _positive(norm, "clipnorm")

    def __call__(self, grads, params):
        out = []
        for g in grads:
            xp = get_array_module(g)
            out.append(g * (self.norm / xp.maximum(_norm(g), self.norm)))
        return out


class ClipByGlobalNorm:
    """Keras's ``global_clipnorm``: every gradient scaled by ``norm / max(G, norm)`` where ``G`` is
    the L2 norm of all gradients together, so that their joint norm is at most ``norm``. A
    non-finite ``G`` (an infinite gradient, or squares that overflow) makes every gradient NaN, as
    Keras does, so that the step shows as NaN rather than silently becoming zero."""

    def __init__(self, norm):
        self.norm = _positive(norm, "global_clipnorm")

    def __call__(self, grads, params):
        if not grads:
            return grads
        xp = get_array_module(grads[0])
        with numpy.errstate(over="ignore", invalid="ignore"):
            total = xp.sqrt(sum(xp.vdot(g.ravel(), g.ravel()) for g in grads))
            scale = self.norm / xp.maximum(total, self.norm) + (total - total)  # + NaN when total is not finite
            return [g * scale.astype(g.dtype, copy=False) for g in grads]


def clipping_from_arguments(clipnorm, clipvalue, global_clipnorm):
    """The transform for Keras's clipping arguments (at most one may be set, as in Keras), or None."""
    given = {k: v for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)) if v is not None}
    if len(given) > 1:
        raise ValueError(f"only one of clipnorm, clipvalue and global_clipnorm can be set, got {given}")
    if clipnorm is not None:
        return ClipByNorm(clipnorm)
    if global_clipnorm is not None:
        return ClipByGlobalNorm(global_clipnorm)
    if clipvalue is not None:
        return ClipByValue(clipvalue)
    return None
