"""Dynamic loss scaling for float16 training (Micikevicius et al., "Mixed Precision Training", 2018),
with Keras 3's ``LossScaleOptimizer`` arguments and rule."""

from __future__ import annotations

import math
import numbers
import warnings

from .. import backend
from ..autograd import Tensor
from .base import Optimizer, unscaled
from .registry import deserialize, deserialize_from_keras, get, serialize, serialize_for_keras

__all__ = ["LossScaleOptimizer"]


def _number(value, name: str) -> float:
    """A number of a saved state (a Python number or a 0-d array)."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not number and getattr(value, "shape", None) != ():
        raise ValueError(f"LossScaleOptimizer state: {name} must be a number, got {value!r}")
    return float(value)


def _listed(steps: list, count: int) -> str:
    """``1, 2, 3`` or, for many, the first ones, the last ones and how many in all."""
    if count <= len(steps):
        return ", ".join(map(str, steps))
    return f"{', '.join(map(str, steps[:8]))}, ..., {', '.join(map(str, steps[8:]))} ({count} steps)"


class LossScaleOptimizer(Optimizer):
    """Wraps ``inner_optimizer``: the backward pass starts from the loss scale ``S`` instead of 1
    (so float16 gradients stay above underflow), and each update

    - divides the gradients by ``S``;
    - if any is NaN or infinite (the scaled gradients overflowed float16): skips the update, halves
      ``S`` and restarts the count of good steps;
    - else applies the inner optimizer's update, and doubles ``S`` after ``dynamic_growth_steps``
      good steps in a row.

    Unlike Keras, ``S`` never falls below :attr:`floor`, 1.0 (or ``initial_scale`` if that is
    smaller): below 1 the scale no longer protects small gradients, it pushes them under float16's
    range, and after a run of overflows Keras's scale can reach 1e-25, from which the float16
    layers never learn again. At the floor an overflowing step is still skipped, and a warning
    names the overflowing steps (a step being a call of :meth:`apply_gradients`, applied or
    skipped). A saved scale below the floor is restored at the floor, with a warning.

    ``compile`` wraps the optimizer in one under the ``"mixed_float16"`` policy, as Keras does.
    The learning rate, the iteration count (which counts applied updates only) and the slots are
    the inner optimizer's; :attr:`dynamic_scale`, the good-step count and the count of skipped
    steps are saved in checkpoints.
    """

    def __init__(self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"LossScaleOptimizer got unexpected argument(s): {', '.join(sorted(kwargs))}")
        inner = get(inner_optimizer)
        if isinstance(inner, LossScaleOptimizer):
            raise ValueError("inner_optimizer must not be a LossScaleOptimizer itself")
        if getattr(inner, "loss_scale_factor", None) is not None:
            raise ValueError(f"inner_optimizer has loss_scale_factor={inner.loss_scale_factor!r}: a LossScaleOptimizer scales "
                             "the loss itself; give the inner optimizer loss_scale_factor=None")
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, numbers.Real) \
                or not math.isfinite(initial_scale) or initial_scale <= 0:
            raise ValueError(f"initial_scale must be a finite number > 0, got {initial_scale!r}")
        if isinstance(dynamic_growth_steps, bool) or not isinstance(dynamic_growth_steps, numbers.Integral) \
                or dynamic_growth_steps < 1:
            raise ValueError(f"dynamic_growth_steps must be a positive integer, got {dynamic_growth_steps!r}")
        self.inner_optimizer = inner
        self.name = name or "loss_scale_optimizer"
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.dynamic_scale = self.initial_scale
        self.step_counter = 0  # good steps since the scale last changed
        self.skipped_steps = 0  # steps whose gradients overflowed, all told
        self._overflows: list = []  # the first and last steps that overflowed since the scale last grew
        self._overflow_count = 0  # and how many did
        self._warned = False  # whether the overflows at the floor were reported since the scale last grew

    @property
    def floor(self) -> float:
        """The lowest loss scale: 1.0, or ``initial_scale`` when that is smaller."""
        return min(1.0, self.initial_scale)

    # -- everything else is the inner optimizer's --------------------------------------------------
    def _inner_property(name, doc):  # noqa: N805 - builds the properties below
        def get(self):
            return getattr(self.inner_optimizer, name)

        def set_(self, value):
            setattr(self.inner_optimizer, name, value)

        return property(get, set_, doc=doc)

    learning_rate = _inner_property("learning_rate", "The inner optimizer's learning rate.")
    iterations = _inner_property("iterations", "The inner optimizer's count of applied updates.")
    epoch = _inner_property("epoch", "The epoch (read by per-epoch schedules).")
    clipnorm = _inner_property("clipnorm", "The inner optimizer's clipnorm.")
    clipvalue = _inner_property("clipvalue", "The inner optimizer's clipvalue.")
    global_clipnorm = _inner_property("global_clipnorm", "The inner optimizer's global_clipnorm.")
    gradient_transforms = _inner_property("gradient_transforms", "The inner optimizer's gradient transforms.")
    _slots = _inner_property("_slots", "The inner optimizer's per-parameter state.")
    built = _inner_property("built", "Whether the inner optimizer is built (see Optimizer.build).")
    _built_variables = _inner_property("_built_variables", "The variables the inner optimizer is built with.")
    del _inner_property

    @property
    def schedule(self):
        return self.inner_optimizer.schedule

    @property
    def variables(self) -> list:
        return self.inner_optimizer.variables

    def build(self, variables) -> None:
        self.inner_optimizer.build(variables)

    def slot_problem(self):
        return self.inner_optimizer.slot_problem()

    @property
    def weight_decay(self):
        return self.inner_optimizer.weight_decay

    def bind(self, model) -> None:
        self.inner_optimizer.bind(model)

    def add_gradient_transform(self, transform) -> None:
        self.inner_optimizer.add_gradient_transform(transform)

    # -- scaling ----------------------------------------------------------------------------------
    def scale_loss(self, loss):
        """``loss * dynamic_scale`` (Keras's method, for hand-written training loops)."""
        return loss * self.dynamic_scale

    def backward_seed(self, loss):
        """The gradient the backward pass starts from: the scale, in ``loss``'s dtype and device."""
        return backend.get_array_module(loss).full_like(loss, self.dynamic_scale)

    def apply_gradients(self, grads_and_vars) -> None:
        """Unscale, then update or skip (see the class docstring)."""
        pairs = [(g.data if isinstance(g, Tensor) else g, p) for g, p in grads_and_vars if g is not None]
        grads = unscaled([g for g, _ in pairs], self.dynamic_scale)
        if backend.all_finite(grads):  # one reduction and one host sync for all of them
            self.inner_optimizer.apply_gradients(zip(grads, [p for _, p in pairs]))
            self.step_counter += 1
            if self.step_counter >= self.dynamic_growth_steps:
                self.dynamic_scale *= 2.0
                self.step_counter = 0
                self._overflows, self._overflow_count, self._warned = [], 0, False
            return
        self.skipped_steps += 1
        self.step_counter = 0
        self._overflows.append(self.iterations + self.skipped_steps)
        self._overflow_count += 1
        if len(self._overflows) > 10:  # the first 8 and the last 2 are named
            del self._overflows[8]
        if self.dynamic_scale > self.floor:
            self.dynamic_scale = max(self.dynamic_scale / 2.0, self.floor)
            return
        if not self._warned:  # an overflow at the floor: once until the scale grows again
            self._warned = True
            steps = _listed(self._overflows, self._overflow_count)
            warnings.warn(
                f"LossScaleOptimizer: the gradients overflowed at steps {steps}, and the loss scale has come down "
                f"to its floor {self.floor} (gpunet stops halving it there; below 1 small float16 "
                "gradients underflow to zero and the layers stop learning). Overflowing steps are skipped: the "
                "computation overflows float16 even unscaled. Lower the learning rate, check the inputs for huge "
                "values, or give the overflowing layers dtype='float32'", stacklevel=2)

    # -- state and configuration ------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"class_name": type(self).__name__, "config": self.get_config(), "inner": self.inner_optimizer.get_state(),
                "dynamic_scale": self.dynamic_scale, "step_counter": self.step_counter,
                "skipped_steps": self.skipped_steps, "iterations": self.iterations, "slots": {}}

    def set_state(self, state: dict) -> None:
        """Restore :meth:`get_state`'s output, checked first: a finite scale > 0 (one below the
        floor, as a run without a floor may have saved, comes back at the floor with a warning)
        and counts >= 0."""
        if not isinstance(state, dict) or state.get("class_name") != type(self).__name__ or "inner" not in state:
            raise ValueError("state must be a dict produced by LossScaleOptimizer.get_state()")
        scale = _number(state.get("dynamic_scale"), "dynamic_scale")
        if not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"LossScaleOptimizer state: dynamic_scale must be a finite number > 0, got {scale!r}")
        counts = {key: _number(state.get(key, 0), key) for key in ("step_counter", "skipped_steps")}
        for key, value in counts.items():
            if value != int(value) or value < 0:
                raise ValueError(f"LossScaleOptimizer state: {key} must be an integer >= 0, got {value!r}")
        self.inner_optimizer.set_state(state["inner"])
        if scale < self.floor:
            warnings.warn(f"LossScaleOptimizer: the saved loss scale {scale:g} is below the floor {self.floor} (saved "
                          f"by a run whose scale halved without one); training goes on from {self.floor}", stacklevel=2)
            scale = self.floor
        self.dynamic_scale = scale
        self.step_counter, self.skipped_steps = int(counts["step_counter"]), int(counts["skipped_steps"])
        self._overflows, self._overflow_count, self._warned = [], 0, False

    def get_config(self) -> dict:
        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    def keras_config(self) -> dict:
        inner = {"module": "keras.optimizers", **serialize_for_keras(self.inner_optimizer), "registered_name": None}
        return {"name": self.name, "inner_optimizer": inner,
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        inner = config.pop("inner_optimizer", None)
        if not isinstance(inner, dict):
            raise ValueError("a LossScaleOptimizer config needs its inner_optimizer as a dict")
        return cls(deserialize(inner), **config)

    @classmethod
    def from_keras_config(cls, config: dict):
        config = {k: v for k, v in dict(config).items() if k in ("name", "inner_optimizer", "initial_scale", "dynamic_growth_steps")}
        inner = config.pop("inner_optimizer", None)
        if not isinstance(inner, dict):
            raise ValueError("a LossScaleOptimizer config needs its inner_optimizer as a dict")
        return cls(deserialize_from_keras(inner), **config)

    def __repr__(self):
        return f"LossScaleOptimizer({self.inner_optimizer!r}, dynamic_scale={self.dynamic_scale:g})"
