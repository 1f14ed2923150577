"""Learning-rate schedules: pass one as ``learning_rate=`` to any optimizer.

A schedule maps a count ``t`` to a learning rate. ``t`` counts optimizer steps (``per="step"``,
the default: 0 at the first update) or epochs (``per="epoch"``: 0 during the first epoch of fit).

The course's four step-size rules, plus cosine decay:

* :class:`StepDecay`            ``lr0 * factor ** floor(t / step_size)``
* :class:`ExponentialDecay`     ``lr0 * exp(-alpha * t)``  (or Keras's ``lr0 * decay_rate ** (t / decay_steps)``)
* :class:`InverseTimeDecay`     ``lr0 / (1 + alpha * t)``  (or Keras's ``lr0 / (1 + decay_rate * t / decay_steps)``)
* :class:`PiecewiseConstantDecay`  ``values[i]`` while ``boundaries[i-1] < t <= boundaries[i]``
* :class:`CosineDecay`          ``lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * min(t, decay_steps) / decay_steps)) + alpha)``

Decay on a dev-set plateau is the callback :class:`gpunet.callbacks.ReduceLROnPlateau`.
"""

from __future__ import annotations

import math
import numbers

from .lookup import Configurable, Lookup, Registered, snake_case

__all__ = [
    "LearningRateSchedule",
    "StepDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstantDecay",
    "CosineDecay",
    "serialize",
    "deserialize",
]


def _number(value, name, minimum=0.0, strict=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum or (strict and value == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class LearningRateSchedule(Configurable, Registered):
    """Base class: ``schedule(t) -> learning rate``; ``per`` is ``"step"`` or ``"epoch"``."""

    registry_kind = "learning-rate schedule"  # gpunet's own schedules join the registry as they are defined

    def __init__(self, per: str = "step"):
        if per not in ("step", "epoch"):
            raise ValueError(f"per must be 'step' or 'epoch', got {per!r}")
        self.per = per

    def __call__(self, t) -> float:
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or t < 0:
            raise ValueError(f"the step or epoch count must be a number >= 0, got {t!r}")
        return self.rate(float(t))

    def rate(self, t: float) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"per": self.per}


class StepDecay(LearningRateSchedule):
    """Multiply the rate by ``factor`` every ``step_size`` counts: ``lr0 * factor ** floor(t / step_size)``."""

    def __init__(self, initial_learning_rate, factor, step_size, per="step"):
        super().__init__(per)
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.factor = _number(factor, "factor")
        if self.factor > 1:
            raise ValueError(f"factor must be in [0, 1], got {factor!r}")
        self.step_size = _count(step_size, "step_size")

    def rate(self, t):
        return self.initial_learning_rate * self.factor ** math.floor(t / self.step_size)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "factor": self.factor, "step_size": self.step_size, **super().get_config()}


class _DecayWithRate(LearningRateSchedule):
    """Shared arguments: the course's ``alpha``, or Keras's ``decay_steps`` and ``decay_rate``."""

    def __init__(self, initial_learning_rate, decay_steps=None, decay_rate=None, staircase=False, alpha=None, per="step"):
        super().__init__(per)
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        if (alpha is None) == (decay_steps is None and decay_rate is None):
            raise ValueError("give either alpha (the course's form) or decay_steps and decay_rate (Keras's form)")
        if alpha is not None:
            self.alpha = _number(alpha, "alpha")
            self.decay_steps = self.decay_rate = None
        else:
            if decay_steps is None or decay_rate is None:
                raise ValueError("Keras's form needs both decay_steps and decay_rate")
            self.alpha = None
            self.decay_steps = _count(decay_steps, "decay_steps")
            self.decay_rate = _number(decay_rate, "decay_rate")
        self.staircase = bool(staircase)

    def _progress(self, t):
        p = t / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "alpha": self.alpha,
            **super().get_config(),
        }


class ExponentialDecay(_DecayWithRate):
    """``lr0 * exp(-alpha * t)``; with Keras's arguments, ``lr0 * decay_rate ** (t / decay_steps)``
    (the exponent floored when ``staircase``)."""

    def rate(self, t):
        if self.alpha is not None:
            return self.initial_learning_rate * math.exp(-self.alpha * t)
        return self.initial_learning_rate * self.decay_rate ** self._progress(t)


class InverseTimeDecay(_DecayWithRate):
    """``lr0 / (1 + alpha * t)``; with Keras's arguments, ``lr0 / (1 + decay_rate * t / decay_steps)``."""

    def rate(self, t):
        if self.alpha is not None:
            return self.initial_learning_rate / (1 + self.alpha * t)
        return self.initial_learning_rate / (1 + self.decay_rate * self._progress(t))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``t <= boundaries[0]``, ``values[1]`` while ``t <= boundaries[1]``, ...,
    ``values[-1]`` after the last boundary (Keras's convention)."""

    def __init__(self, boundaries, values, per="step"):
        super().__init__(per)
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise TypeError("boundaries and values must be lists")
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"values must have one more entry than boundaries, got {len(values)} values for {len(boundaries)} boundaries")
        self.boundaries = [_number(b, "boundaries") for b in boundaries]
        if any(b2 <= b1 for b1, b2 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"boundaries must increase strictly, got {list(boundaries)}")
        self.values = [_number(v, "values") for v in values]

    def rate(self, t):
        for boundary, value in zip(self.boundaries, self.values):
            if t <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, **super().get_config()}


class CosineDecay(LearningRateSchedule):
    """Cosine annealing from ``lr0`` to ``alpha * lr0`` over ``decay_steps``, then constant."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, per="step"):
        super().__init__(per)
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _count(decay_steps, "decay_steps")
        self.alpha = _number(alpha, "alpha")
        if self.alpha > 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")

    def rate(self, t):
        cosine = 0.5 * (1 + math.cos(math.pi * min(t, self.decay_steps) / self.decay_steps))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps, "alpha": self.alpha, **super().get_config()}


# gpunet's schedules join the registry as they are defined (LearningRateSchedule.__init_subclass__)
_LOOKUP = Lookup(LearningRateSchedule.registry_kind, LearningRateSchedule, short_name=snake_case)


def serialize(schedule: LearningRateSchedule) -> dict:
    return _LOOKUP.serialize(schedule)


def deserialize(config: dict) -> LearningRateSchedule:
    """Rebuild a schedule from :func:`serialize`'s output: gpunet's own classes, or registered ones."""
    return _LOOKUP.deserialize(config, lambda cls, kwargs: {k: v for k, v in kwargs.items() if k != "name"})  # Keras names its schedules

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
