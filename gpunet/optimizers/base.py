"""The Optimizer base class: state keyed by parameter path, in-place updates, learning rates.

Every optimizer updates each parameter in place, with the update rule PyTorch documents. On the
CPU the rule is a handful of in-place NumPy operations on preallocated buffers (no allocation per
step); on the GPU it is one fused CuPy elementwise kernel per parameter, written beside its
NumPy twin and tested against it.
"""

from __future__ import annotations

import math
import numbers

import numpy

from .. import backend
from ..autograd import Tensor

__all__ = ["Optimizer", "check_rate", "check_beta", "check_nonnegative"]


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_nonnegative(value, name: str) -> float:
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_rate(value, name: str) -> float:
    """A coefficient in [0, 1)."""
    if not _is_number(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


check_beta = check_rate


# Keras optimizer settings and the value that means "off"; anything else is refused on loading.
_KERAS_NEUTRAL = {
    "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": None,
    "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
    "is_legacy_optimizer": False, "jit_compile": None,
}
_KERAS_IGNORED = {"ema_momentum", "jit_compile"}  # meaningless while the options above are off


class Optimizer:
    """Base class of optimizers.

    Subclasses set ``slot_names`` (the per-parameter state arrays, created as zeros) and
    implement ``_update_numpy(param, grad, slots, lr)``, and ``_update_gpu`` with the same
    arguments when a fused kernel exists. ``slots["step"]`` is the parameter's step count
    (1 at its first update), as in PyTorch.
    """

    slot_names: tuple = ()  # per-parameter arrays, zero at the start unless _init_slots says otherwise
    scalar_slots: tuple = ()  # per-parameter numbers kept in the state (e.g. Nadam's momentum product)

    def __init__(self, learning_rate, weight_decay=0.0, name: str | None = None):
        self.name = name or type(self).__name__.lower()
        self.learning_rate = learning_rate
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.iterations = 0  # number of apply_gradients calls
        self.epoch = 0  # set by fit; read by per-epoch schedules
        self._slots: dict[str, dict] = {}
        self._pending_state: dict | None = None

    # -- learning rate ----------------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (a schedule is evaluated at the current count)."""
        lr = self._learning_rate
        if isinstance(lr, float):
            return lr
        return float(lr(self.epoch if getattr(lr, "per", "step") == "epoch" else self.iterations))

    @learning_rate.setter
    def learning_rate(self, value):
        from ..schedules import LearningRateSchedule  # noqa: PLC0415 - schedules sit beside optimizers

        if isinstance(value, LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(value, (Tensor, numpy.ndarray)) and value.size == 1:
            value = float(value.item())
        self._learning_rate = check_nonnegative(value, "learning_rate")

    @property
    def schedule(self):
        """The learning-rate schedule, or None for a constant rate."""
        return None if isinstance(self._learning_rate, float) else self._learning_rate

    # -- the step -------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars) -> None:
        """Update each parameter in place from its gradient: ``apply_gradients(zip(grads, params))``.

        Pairs whose gradient is None are skipped. Parameters are identified by their name (their
        path in the model, such as ``"dense_1/kernel"``), which keys the optimizer's state.
        """
        lr = self.learning_rate
        self.iterations += 1
        all_slots = self._slots
        for grad, param in grads_and_vars:
            if grad is None:
                continue
            if isinstance(grad, Tensor):
                grad = grad.data
            data = param.data
            slots = all_slots.get(param.name)
            if slots is None:
                slots = self._create_slots(param)
            if grad.shape != data.shape:
                raise ValueError(f"gradient of shape {grad.shape} does not match parameter {param.name!r} of shape {data.shape}")
            slots["step"] += 1
            if type(data) is numpy.ndarray:
                self._update_numpy(data, grad, slots, lr)
            else:
                self._update_gpu(data, grad, slots, lr)

    def _create_slots(self, param) -> dict:
        name = param.name
        if not isinstance(name, str) or not name:
            raise ValueError("every parameter given to an optimizer needs a unique name (its path, e.g. 'dense/kernel')")
        xp = backend.get_array_module(param.data)
        slots = {"step": 0}
        for slot in self.slot_names:
            slots[slot] = xp.zeros_like(param.data)
        self._init_slots(slots, param)
        pending = (self._pending_state or {}).pop(name, None)
        if pending is not None:
            slots["step"] = int(pending["step"])
            for slot in self.scalar_slots:
                slots[slot] = float(pending[slot])
            for slot in self.slot_names:
                value = pending[slot]
                if value.shape != param.data.shape:
                    raise ValueError(
                        f"optimizer state {slot!r} for {name!r} has shape {value.shape}, the parameter has {param.data.shape}"
                    )
                slots[slot][...] = backend.to_device(value)
        slots["scratch"] = xp.empty_like(param.data)
        self._slots[name] = slots
        return slots

    def _init_slots(self, slots: dict, param) -> None:
        """Hook for slots that do not start at zero."""

    def _update_numpy(self, param, grad, slots, lr):  # pragma: no cover - interface
        """The update as in-place array operations (any ``xp``): the fused kernel's twin."""
        raise NotImplementedError

    def _update_gpu(self, param, grad, slots, lr):
        """The update as one fused CuPy kernel; defaults to the array-operation twin."""
        self._update_numpy(param, grad, slots, lr)

    def _coupled_decay(self, param, grad, slots, weight_decay=None):
        """``grad + weight_decay * param`` (L2 added to the gradient), in a scratch buffer.

        The caller's gradient array is never modified.
        """
        weight_decay = self.weight_decay if weight_decay is None else weight_decay
        if not weight_decay:
            return grad
        buf = slots.get("decayed")
        if buf is None:
            buf = slots["decayed"] = backend.get_array_module(param).empty_like(param)
        backend.get_array_module(param).multiply(param, weight_decay, out=buf)
        buf += grad
        return buf

    # -- state for checkpoints ------------------------------------------------------------------
    def get_state(self) -> dict:
        """Everything needed to resume: counters, learning rate, and each parameter's slots
        (host NumPy arrays), keyed by parameter path."""
        slots = {}
        for path, s in self._slots.items():
            slots[path] = {
                "step": s["step"],
                **{k: float(s[k]) for k in self.scalar_slots},
                **{k: backend.to_host(s[k]).copy() for k in self.slot_names},  # a snapshot, not a view
            }
        for path, s in (self._pending_state or {}).items():
            slots.setdefault(path, s)
        return {
            "class_name": type(self).__name__,
            "iterations": self.iterations,
            "epoch": self.epoch,
            "learning_rate": self.learning_rate,
            "slots": slots,
        }

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`get_state` returned. Slots are matched to parameters by path when
        each parameter is next updated (and checked against its shape then)."""
        if not isinstance(state, dict) or "slots" not in state:
            raise ValueError("state must be a dict produced by Optimizer.get_state()")
        if state.get("class_name", type(self).__name__) != type(self).__name__:
            raise ValueError(f"state belongs to a {state['class_name']} optimizer, not {type(self).__name__}")
        pending = {}
        for path, s in state["slots"].items():
            missing = [k for k in ("step", *self.scalar_slots, *self.slot_names) if k not in s]
            if missing:
                raise ValueError(f"optimizer state for {path!r} lacks {missing}")
            pending[path] = {
                "step": int(s["step"]),
                **{k: float(s[k]) for k in self.scalar_slots},
                **{k: numpy.array(s[k], copy=True) for k in self.slot_names},
            }
        self._slots.clear()
        self._pending_state = pending
        self.iterations = int(state.get("iterations", 0))
        self.epoch = int(state.get("epoch", 0))
        if self.schedule is None and "learning_rate" in state:
            self.learning_rate = float(state["learning_rate"])

    def get_config(self) -> dict:
        """Constructor arguments (JSON-compatible)."""
        lr = self._learning_rate
        if not isinstance(lr, float):
            from ..schedules import serialize  # noqa: PLC0415

            lr = serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay, **self._config()}

    def _config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild from :meth:`get_config`'s output, or from a Keras optimizer config: Keras's
        options that are off (``clipnorm=None``, ``use_ema=False``...) are dropped, ones gpunet
        does not implement are refused by name."""
        import inspect  # noqa: PLC0415

        accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
        kwargs, refused = {}, []
        for key, value in dict(config).items():
            if key in accepted:
                kwargs[key] = value
            elif key in _KERAS_NEUTRAL:
                if value is not None and value != _KERAS_NEUTRAL[key] and key not in _KERAS_IGNORED:
                    refused.append(f"{key}={value!r}")
            else:
                refused.append(key)
        if refused:
            raise ValueError(f"{cls.__name__}: unsupported optimizer setting(s) {', '.join(refused)}")
        if kwargs.get("weight_decay", 0) is None:
            kwargs["weight_decay"] = 0.0
        lr = kwargs.get("learning_rate")
        if isinstance(lr, dict):
            from ..schedules import deserialize  # noqa: PLC0415

            kwargs["learning_rate"] = deserialize(lr)
        return cls(**kwargs)

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate:g})"
