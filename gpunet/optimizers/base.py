"""The Optimizer base class: state keyed by parameter path, in-place updates, learning rates.

Every optimizer updates each parameter in place, with Keras 3's arguments and defaults and the
update rule PyTorch documents (Keras's where PyTorch has none, or where Keras's differs by more
than where epsilon sits: see docs/optimizers.md). On the CPU the rule is a handful of in-place
NumPy operations on preallocated buffers (no allocation per step); on the GPU it is one fused
CuPy elementwise kernel per parameter where the rule is elementwise, written beside its NumPy twin
and tested against it, else the array operations themselves.
"""

from __future__ import annotations

import math
import numbers
import warnings
import weakref

import numpy

from .. import backend, constraints, schedules
from ..backend.dtypes import cast_finite
from ..lookup import Registered, get_registered_name
from .transforms import clipping_from_arguments

__all__ = ["Optimizer", "check_rate", "check_beta", "check_nonnegative", "check_nonpositive", "check_positive"]


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_nonnegative(value, name: str) -> float:
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_nonpositive(value, name: str) -> float:
    if not _is_number(value) or not math.isfinite(value) or value > 0:
        raise ValueError(f"{name} must be a finite number <= 0, got {value!r}")
    return float(value)


def check_positive(value, name: str) -> float:
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_rate(value, name: str) -> float:
    """A coefficient in [0, 1)."""
    if not _is_number(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


check_beta = check_rate


_CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")
# Keras's base optimizer arguments that gpunet does not implement, with the value that means "off"
# (every constructor takes them: the "off" value is accepted, any other refused by name)
_KERAS_OFF = {"use_ema": False, "ema_overwrite_frequency": None, "gradient_accumulation_steps": None}
# settings older Keras versions wrote in configs, and the value that means "off" (refused otherwise)
_KERAS_LEGACY = {"is_legacy_optimizer": False, "jit_compile": None}
_KERAS_IGNORED = {"jit_compile"}  # a compiler hint: any value trains the same


def _refuse_unsupported(**settings) -> None:
    """A ValueError naming the first of Keras's settings that is not "off" (see ``_KERAS_OFF``)."""
    for key, value in settings.items():
        off = not value if key in ("use_ema", "gradient_accumulation_steps") else value is None
        if not off:
            raise ValueError(f"gpunet does not support {key}={value!r} yet (leave it at {_KERAS_OFF[key]!r})")


def unscaled(grads, factor) -> list:
    """The gradients divided by a loss scale ``factor``, as new arrays (the caller's are untouched)."""
    inverse = 1.0 / factor
    return [g * g.dtype.type(inverse) for g in grads]


class Optimizer(Registered):
    """Base class of optimizers.

    Subclasses set ``slot_names`` (the per-parameter state arrays, created as zeros) and
    implement ``_update_numpy(param, grad, slots, lr)``, and ``_update_gpu`` with the same
    arguments when a fused kernel exists. ``slots["step"]`` is the parameter's step count
    (1 at its first update), as in PyTorch.

    Every optimizer takes Keras's gradient clipping arguments (at most one of them):
    ``clipnorm`` (each gradient's L2 norm at most this), ``global_clipnorm`` (all gradients'
    joint L2 norm at most this) and ``clipvalue`` (each entry in ``[-clipvalue, clipvalue]``).
    Further transforms of the gradients, run before the clipping, go in
    :attr:`gradient_transforms` (see :meth:`add_gradient_transform`).

    Keras's other base arguments are taken too: ``name``; ``loss_scale_factor`` (a constant loss
    scale: ``fit`` starts the backward pass from it instead of 1, and :meth:`apply_gradients`
    divides the gradients by it first; :meth:`scale_loss` for hand-written loops); and, at their
    "off" values only, ``use_ema=False`` (``ema_momentum`` is then kept for the config alone),
    ``ema_overwrite_frequency=None`` and ``gradient_accumulation_steps=None``: any other value
    raises a ValueError naming the argument.
    """

    slot_names: tuple = ()  # per-parameter arrays, zero at the start unless _init_slots says otherwise
    scalar_slots: tuple = ()  # per-parameter numbers kept in the state (e.g. Nadam's momentum product)
    decoupled = False  # weight decay applied to theta directly (AdamW), rather than L2 added to the gradient
    # arguments Keras's class of the same name lacks, with the value that is Keras's behaviour
    keras_implicit: dict = {}
    # whether the GPU update passes its kernels nothing that changes from step to step but the
    # learning rate, so a captured CUDA graph may replay it (see gpunet.training.graphs)
    graph_safe = False
    built = False  # whether build() has fixed the variables that apply() takes without being told them
    _built_variables: tuple = ()
    registry_kind = "optimizer"  # gpunet's own optimizers join the registry as they are defined

    def __init__(self, learning_rate, weight_decay=None, name: str | None = None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s): {', '.join(sorted(kwargs))}")
        self.name = name or type(self).__name__.lower()
        self.learning_rate = learning_rate
        # None (the default, as in Keras) is no decay; a value is L2 added to the gradient (decoupled in AdamW)
        self.weight_decay = 0.0 if weight_decay is None else check_nonnegative(weight_decay, "weight_decay")
        _refuse_unsupported(use_ema=use_ema, ema_overwrite_frequency=ema_overwrite_frequency,
                            gradient_accumulation_steps=gradient_accumulation_steps)
        if ema_momentum is not None and (not _is_number(ema_momentum) or not 0 <= ema_momentum <= 1):
            raise ValueError(f"ema_momentum must be a number in [0, 1], got {ema_momentum!r}")
        self.ema_momentum = ema_momentum  # kept for the config: it has no effect while use_ema is off
        if loss_scale_factor is not None:
            loss_scale_factor = check_positive(loss_scale_factor, "loss_scale_factor")
        self.loss_scale_factor = loss_scale_factor
        self._seed = None  # (factor, the backward pass's seed array) while a factor is set
        self._clip = {}
        self._set_clipping(clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.gradient_transforms: list = []
        self._owner = None  # a weak reference to the model this optimizer trains (see bind)
        self.iterations = 0  # number of apply_gradients calls
        self.epoch = 0  # set by fit; read by per-epoch schedules
        self._slots: dict[str, dict] = {}
        self._pending_state: dict | None = None
        self._lr_buffers: dict = {}  # dtype -> the learning rate on the device (learning_rate_buffer)
        self._staged_lr = None  # the rate those buffers hold

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
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
            return
        if not isinstance(value, numbers.Real) and getattr(value, "size", None) == 1:  # a one-element array or Tensor, on any device
            value = float(backend.to_host(value).reshape(()))
        self._learning_rate = check_nonnegative(value, "learning_rate")

    @property
    def schedule(self):
        """The learning-rate schedule, or None for a constant rate."""
        return None if isinstance(self._learning_rate, float) else self._learning_rate

    # -- clipping -------------------------------------------------------------------------------
    def _set_clipping(self, **changes) -> None:
        arguments = {**dict.fromkeys(_CLIPPING), **self._clip, **changes}
        self._clipping = clipping_from_arguments(**arguments)  # checks them; at most one may be set
        self._clip = arguments

    def _clip_property(name):  # noqa: N805 - builds the three properties below
        def get(self):
            return self._clip[name]

        def set_(self, value):
            self._set_clipping(**{name: value})

        return property(get, set_, doc=f"Keras's ``{name}`` (settable; None turns it off).")

    clipnorm = _clip_property("clipnorm")
    clipvalue = _clip_property("clipvalue")
    global_clipnorm = _clip_property("global_clipnorm")
    del _clip_property

    # -- the model it trains --------------------------------------------------------------------
    def bind(self, model) -> None:
        """Take ``model`` as the one this optimizer trains (``compile`` calls it). Refused when
        another model is compiled with it (and still uses it), or when it holds state (slots, step
        counts) from another model: state is keyed by weight names, and two models' weights must
        never share it. Keras 3 accepts the second ``compile`` and fails (or, on JAX, mixes the
        two models' state) only at that model's first step; gpunet refuses at ``compile``."""
        owner = self._owner() if self._owner is not None else None
        if owner is model:
            return
        compiled = getattr(owner, "optimizer", None)  # the owner's optimizer now, maybe a wrapper of this one
        in_use = owner is not None and (compiled is self or getattr(compiled, "inner_optimizer", None) is self)
        has_state = bool(self._slots or self._pending_state or self.iterations)
        if in_use or (self._owner is not None and has_state):
            other = f" ({owner.name!r})" if owner is not None and hasattr(owner, "name") else ""
            held = "is compiled into" if in_use else "already holds the state of"
            raise ValueError(
                f"this {type(self).__name__} optimizer {held} another model{other}: give each model its own optimizer "
                "(e.g. compile(optimizer='adam'), or a new gpunet.optimizers object)"
            )
        self._owner = weakref.ref(model)

    # -- the step -------------------------------------------------------------------------------
    def add_gradient_transform(self, transform) -> None:
        """Append ``transform(grads, params) -> grads`` to the transforms run before every update
        (before Keras's clipping): a list of arrays in, a list of new arrays out."""
        if not callable(transform):
            raise TypeError(f"a gradient transform must be callable as transform(grads, params), got {type(transform).__name__}")
        self.gradient_transforms.append(transform)

    def _transform(self, grads, params) -> list:
        for transform in self.gradient_transforms:
            grads = list(transform(grads, params))
            if len(grads) != len(params):
                raise ValueError(f"a gradient transform returned {len(grads)} gradients for {len(params)} parameters")
        if self._clipping is not None:
            grads = self._clipping(grads, params)
        return grads

    def apply_gradients(self, grads_and_vars) -> None:
        """Update each parameter in place from its gradient: ``apply_gradients(zip(grads, params))``.

        Pairs whose gradient is None are skipped; a gradient on another device than its parameter
        (a NumPy array for a weight on the GPU) is copied over. Parameters are identified by their name (their
        path in the model, such as ``"dense_1/kernel"``), which keys the optimizer's state. Every
        gradient's shape is checked before any parameter changes. After the updates, each updated
        weight's ``constraint`` (``kernel_constraint=...`` of its layer) projects it in place, as in Keras.
        """
        all_slots = self._slots
        pairs = []
        missing = False
        for grad, param in grads_and_vars:
            if grad is None:
                continue
            if type(grad) is not type(param.data):  # a Tensor, or an array from the other device: copied over
                grad = backend.on_device_of(grad, param.data)
            if grad.shape != param.data.shape:
                raise ValueError(f"gradient of shape {grad.shape} does not match parameter {param.name!r} of shape {param.data.shape}")
            slots = all_slots.get(param.name)
            if slots is None:
                missing = True
            elif slots["param"] is not param:
                raise ValueError(f"this optimizer's state for {param.name!r} belongs to another weight of that name "
                                 "(another model's?): give each model its own optimizer")
            pairs.append((grad, param, slots))
        if missing:  # first updates: state is created once every pair is checked
            pairs = [(g, p, self._create_slots(p) if slots is None else slots) for g, p, slots in pairs]
        if self.loss_scale_factor is not None:  # new arrays: the caller's gradients are never modified
            grads = unscaled([g for g, _, _ in pairs], self.loss_scale_factor)
            pairs = [(g, p, slots) for g, (_, p, slots) in zip(grads, pairs)]
        if self._clipping is not None or self.gradient_transforms:
            grads = self._transform([g for g, _, _ in pairs], [p for _, p, _ in pairs])
            pairs = [(g, p, slots) for g, (_, p, slots) in zip(grads, pairs)]
        lr = self.learning_rate
        if self._lr_buffers and lr != self._staged_lr and not backend.capturing():
            self.stage_learning_rate(lr)
        self.iterations += 1
        for grad, param, slots in pairs:
            data = param.data
            slots["step"] += 1
            # Fused's rule (gpunet.gpu.fused), written out: this runs once per weight per step
            (self._update_numpy if isinstance(data, numpy.ndarray) else self._update_gpu)(data, grad, slots, lr)
        for _, param, _ in pairs:  # then each updated weight's constraint, in place, as Keras's optimizer does
            constraint = getattr(param, "constraint", None)
            if constraint is not None:
                constraints.project(constraint, param.data)

    # -- Keras 3's build / apply ------------------------------------------------------------------
    def build(self, variables) -> None:
        """Create the state (slots) of ``variables`` now, as Keras 3's ``build``: afterwards
        :meth:`apply` takes gradients alone, in this order, and refuses other variables. Fit does
        not need it (state is created at a weight's first update); a hand-written loop may."""
        variables = list(variables)
        for variable in variables:
            if not hasattr(variable, "data") or not isinstance(getattr(variable, "name", None), str):
                raise TypeError(f"build: variables must be gpunet Variables, got {type(variable).__name__}")
            slots = self._slots.get(variable.name)
            if slots is None:
                self._create_slots(variable)
            elif slots["param"] is not variable:
                raise ValueError(f"build: this optimizer's state for {variable.name!r} belongs to another weight of "
                                 "that name (another model's?): give each model its own optimizer")
        self._built_variables = tuple(variables)
        self.built = True

    @property
    def variables(self) -> list:
        """The optimizer's state arrays as non-trainable Variables that share their memory (so an
        ``assign`` to one changes the state), per weight in the order of their creation, then per
        slot; named ``"<optimizer>/<weight path with _>_<slot>"``. Unlike Keras's list, it holds
        no iteration count and no learning rate: those are the numbers :attr:`iterations` and
        :attr:`learning_rate`."""
        from ..autograd import Variable  # noqa: PLC0415

        return [Variable.sharing(slots[slot], name=f"{self.name}/{path.replace('/', '_')}_{slot}")
                for path, slots in self._slots.items() for slot in self.slot_names]

    def apply(self, grads, trainable_variables=None) -> None:
        """Update ``trainable_variables`` from ``grads`` (two lists in the same order), as Keras 3's
        ``apply``; the PyTorch-guide train step calls it with ``[v.value.grad for v in weights]``.

        Without ``trainable_variables`` the gradients belong to the variables of :meth:`build`;
        with them, the first call builds the optimizer on them, and a later call refuses any
        variable it was not built with (a ValueError, as Keras). A None gradient leaves its
        variable alone, with a warning naming it; all None is a ValueError. An empty ``grads`` does
        nothing.
        """
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("apply: given gradients without trainable_variables, the optimizer must be built "
                                 "first: call optimizer.build(trainable_variables), or pass them")
            variables = list(self._built_variables)
        else:
            variables = list(trainable_variables)
            if not self.built:
                self.build(variables)
            else:
                known = {id(v) for v in self._built_variables}
                unknown = [getattr(v, "name", v) for v in variables if id(v) not in known]
                if unknown:
                    raise ValueError(f"apply: variables {unknown} are not among those this optimizer was built with; "
                                     "a new set of variables needs a new optimizer")
        if len(grads) != len(variables):
            raise ValueError(f"apply: {len(grads)} gradients for {len(variables)} trainable_variables (they pair one to one)")
        missing = [v.name for g, v in zip(grads, variables) if g is None]
        if len(missing) == len(variables):
            raise ValueError("apply: no gradient was given for any variable (every one is None)")
        if missing:
            warnings.warn(f"apply: no gradient for the variables {missing}: they are left unchanged (is each "
                          "one used in the loss?)", stacklevel=2)
        self.apply_gradients(zip(grads, variables))

    # -- a constant loss scale (Keras's loss_scale_factor) ----------------------------------------
    def backward_seed(self, loss):
        """The gradient ``fit``'s backward pass starts from: the ``loss_scale_factor``, in the loss's
        dtype and on its device (made once, then reused); None without one (it starts from 1)."""
        factor = self.loss_scale_factor
        if factor is None:
            return None
        seed = self._seed
        if seed is None or seed[0] != factor or type(seed[1]) is not type(loss) or seed[1].dtype != loss.dtype \
                or seed[1].shape != loss.shape:
            seed = self._seed = (factor, backend.get_array_module(loss).full_like(loss, factor))
        return seed[1]

    def scale_loss(self, loss):
        """``loss * loss_scale_factor`` (``loss`` itself without one), as Keras's method: for a
        hand-written train step, whose gradients :meth:`apply_gradients` then divides back."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # -- the learning rate in device memory (for CUDA graphs) ------------------------------------
    def learning_rate_buffer(self, like, lr):
        """The learning rate as a one-element array on ``like``'s device, in its dtype: the GPU
        kernels of :attr:`graph_safe` optimizers read it there, so that a captured CUDA graph of
        the train step replays with the rate of each step (schedules, plateau decay) rather than
        the one of its capture. :meth:`apply_gradients` writes it before each eager update, and
        the graph code before each replay (:meth:`stage_learning_rate`); never during a capture,
        which would record the rate as a constant. A buffer made here starts at ``lr``, the rate
        of the update being applied (the step counter has already moved on to the next one)."""
        buf = self._lr_buffers.get(like.dtype)
        if buf is None:
            if backend.capturing():
                raise RuntimeError("the learning rate's device buffer must exist before a CUDA graph captures the step")
            xp = backend.get_array_module(like)
            buf = self._lr_buffers[like.dtype] = xp.full(1, lr, like.dtype)
            self._staged_lr = lr
        return buf

    def stage_learning_rate(self, lr=None) -> None:
        """Write the learning rate of the next step (or ``lr``) into its device buffers (a kernel
        launch per dtype, made only when the rate changed since the last write)."""
        lr = self.learning_rate if lr is None else lr
        if lr == self._staged_lr:
            return
        for buf in self._lr_buffers.values():
            buf.fill(lr)
        self._staged_lr = lr

    def graph_key(self) -> tuple:
        """What a captured CUDA graph of the update takes as constants: the configuration without
        the learning rate (read from the device at each replay) and the gradient transforms."""
        config = {k: v for k, v in self.get_config().items() if k != "learning_rate"}
        return repr(config), len(self.gradient_transforms)

    def _create_slots(self, param) -> dict:
        name = param.name
        if not isinstance(name, str) or not name:
            raise ValueError("every parameter given to an optimizer needs a unique name (its path, e.g. 'dense/kernel')")
        xp = backend.get_array_module(param.data)
        slots = {"step": 0, "param": param}
        for slot in self.slot_names:
            shape = self.slot_shape(slot, param.shape)
            slots[slot] = xp.zeros_like(param.data) if shape == param.shape else xp.zeros(shape, dtype=param.dtype)
        self._init_slots(slots, param)
        pending = (self._pending_state or {}).get(name)
        if pending is not None:
            pending = self._checked_slots(name, pending, param)  # against the weight (set_state may not have known it)
            del self._pending_state[name]
            slots["step"] = pending["step"]
            for slot in self.scalar_slots:
                slots[slot] = pending[slot]
            for slot in self.slot_names:
                slots[slot][...] = backend.on_device_of(pending[slot], param.data)
        slots["scratch"] = xp.empty_like(param.data)
        self._slots[name] = slots
        return slots

    def _init_slots(self, slots: dict, param) -> None:
        """Hook for slots that do not start at zero."""

    def slot_shape(self, slot: str, shape: tuple) -> tuple:
        """The shape of the slot array ``slot`` for a weight of shape ``shape``: the weight's own,
        unless the optimizer keeps a smaller summary (Adafactor's factored moments)."""
        return tuple(shape)

    def _checked_slots(self, path, saved, param=None) -> dict:
        """One weight's saved state as host values, checked: a step count >= 0, finite scalars, and
        arrays of numbers that stay finite in the weight's dtype (its shape too, given ``param``);
        a ValueError or TypeError names the slot and the weight."""
        if not isinstance(saved, dict):
            raise ValueError(f"optimizer state for weight {path!r} must be a dict of slots, got {type(saved).__name__}")
        missing = [k for k in ("step", *self.scalar_slots, *self.slot_names) if k not in saved]
        if missing:
            raise ValueError(f"optimizer state for weight {path!r} lacks {missing}")
        step = saved["step"]
        if isinstance(step, numpy.ndarray) and step.shape == ():
            step = step.item()
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"optimizer state 'step' for weight {path!r} must be an integer >= 0, got {step!r}")
        checked = {"step": int(step)}
        for slot in self.scalar_slots:
            value = saved[slot]
            if not _is_number(value) and not (isinstance(value, numpy.ndarray) and value.shape == ()):
                raise TypeError(f"optimizer state {slot!r} for weight {path!r} must be a number, got {value!r}")
            if not math.isfinite(float(value)):
                raise ValueError(f"optimizer state {slot!r} for weight {path!r} is {float(value)}, not a finite number")
            checked[slot] = float(value)
        for slot in self.slot_names:
            what = f"optimizer state {slot!r} for weight {path!r}"
            value = numpy.asarray(backend.to_host(saved[slot]))
            if value.dtype.kind not in "fiu":
                raise TypeError(f"{what} must hold numbers, got dtype {value.dtype}")
            if param is not None and value.shape != self.slot_shape(slot, param.shape):
                raise ValueError(f"{what} has shape {value.shape}, but a weight of shape {tuple(param.shape)} "
                                 f"takes {self.slot_shape(slot, param.shape)}")
            dtype = param.dtype if param is not None else value.dtype if value.dtype.kind == "f" else backend.floatx()
            checked[slot] = numpy.array(cast_finite(value, dtype, what), copy=True)  # a copy: never the caller's array
        return checked

    def _update_numpy(self, param, grad, slots, lr):  # pragma: no cover - interface
        """The update as in-place array operations (any ``xp``): the fused kernel's twin."""
        raise NotImplementedError

    def _update_gpu(self, param, grad, slots, lr):
        """The update as one fused CuPy kernel; defaults to the array-operation twin."""
        self._update_numpy(param, grad, slots, lr)

    @staticmethod
    def _scratch2(slots, param):
        """A second scratch array of the weight's shape (made at the first call, kept in ``slots``)."""
        buf = slots.get("scratch2")
        if buf is None:
            buf = slots["scratch2"] = backend.get_array_module(param).empty_like(param)
        return buf

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
    def slot_problem(self):
        """``None`` when every slot array holds finite values (one reduction on the device), else the
        first slot that does not, as ``(weight name, slot name)``: such a state would turn every
        weight to NaN at the next update, so it is never saved and never counted as a good one."""
        arrays = [s[k] for s in self._slots.values() for k in self.slot_names]
        if not arrays or backend.all_finite(arrays):
            return None
        return next((path, k) for path, s in self._slots.items() for k in self.slot_names
                    if not backend.all_finite([s[k]]))

    def get_state(self) -> dict:
        """Everything needed to resume: the configuration, counters, learning rate, and each
        parameter's slots (host NumPy arrays), keyed by parameter path."""
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
            "registered_name": get_registered_name(type(self)),
            "config": self.get_config(),
            "iterations": self.iterations,
            "epoch": self.epoch,
            "learning_rate": self.learning_rate,
            "slots": slots,
        }

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`get_state` returned. Every slot is checked before anything changes:
        numbers, finite once cast to its weight's dtype (a NaN moment would turn the weight NaN at
        the first step), and of its weight's shape when the weight is known (this optimizer is
        compiled into a model that has it); else the shape is checked when the weight is first
        updated. Slots are matched to parameters by path."""
        if not isinstance(state, dict) or "slots" not in state:
            raise ValueError("state must be a dict produced by Optimizer.get_state()")
        if state.get("class_name", type(self).__name__) != type(self).__name__:
            raise ValueError(f"state belongs to a {state['class_name']} optimizer, not {type(self).__name__}")
        if not isinstance(state["slots"], dict):
            raise ValueError(f"optimizer state: slots must be a dict keyed by weight path, got {type(state['slots']).__name__}")
        owner = self._owner() if self._owner is not None else None
        weights = {p.name: p for p in getattr(owner, "weights", ())}
        pending = {path: self._checked_slots(path, s, weights.get(path)) for path, s in state["slots"].items()}
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
            lr = schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                **{key: getattr(self, key) for key in _CLIPPING},
                "use_ema": False, "ema_momentum": self.ema_momentum, "ema_overwrite_frequency": None,
                "loss_scale_factor": self.loss_scale_factor, "gradient_accumulation_steps": None, **self._config()}

    def _config(self) -> dict:
        return {}

    def keras_config(self) -> dict:
        """:meth:`get_config` as Keras's class of the same name reads it: arguments Keras lacks are
        left out where their value is Keras's behaviour, and kept (so that Keras refuses to compile,
        rather than train differently) where it is not. L2 weight decay is written as
        ``l2_weight_decay``: Keras's ``weight_decay`` is decoupled, another rule."""
        config = self.get_config()
        for key, value in self.keras_implicit.items():
            if config.get(key) == value:
                del config[key]
        if not self.decoupled and config.get("weight_decay"):
            config["l2_weight_decay"] = config.pop("weight_decay")
        return config

    @classmethod
    def from_keras_config(cls, config: dict):
        """Rebuild from a config Keras wrote (with Keras's meaning): ``weight_decay`` is decoupled
        in Keras, so it is refused for any optimizer whose gpunet rule is L2; arguments Keras lacks
        take the value that is Keras's behaviour."""
        config = dict(config)
        if config.get("weight_decay") and not cls.decoupled:
            raise ValueError(
                f"{cls.__name__}: Keras's weight_decay={config['weight_decay']!r} is decoupled weight decay, but gpunet's "
                f"{cls.__name__} adds weight_decay as L2 to the gradient; use AdamW, or set weight_decay=None in Keras"
            )
        for key, value in cls.keras_implicit.items():
            config.setdefault(key, value)
        return cls.from_config(config)

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild from :meth:`get_config`'s output, or from a Keras optimizer config: Keras's
        options gpunet does not implement are refused by name unless they are off
        (``use_ema=False``...), and so are unknown keys."""
        import inspect  # noqa: PLC0415

        accepted = {name for c in (cls, Optimizer) for name in inspect.signature(c.__init__).parameters} - {"self", "kwargs"}
        kwargs, refused = {}, []
        for key, value in dict(config).items():
            if key in accepted:
                kwargs[key] = value
            elif key == "l2_weight_decay" and not cls.decoupled:
                continue
            elif key in _KERAS_LEGACY:
                if value is not None and value != _KERAS_LEGACY[key] and key not in _KERAS_IGNORED:
                    refused.append(f"{key}={value!r}")
            else:
                refused.append(key)
        if refused:
            raise ValueError(f"{cls.__name__}: unsupported optimizer setting(s) {', '.join(refused)}")
        if kwargs.get("weight_decay", 0) is None:
            kwargs["weight_decay"] = 0.0
        if "l2_weight_decay" in config and not cls.decoupled:  # written by keras_config
            kwargs["weight_decay"] = config["l2_weight_decay"]
        lr = kwargs.get("learning_rate")
        if isinstance(lr, dict):
            kwargs["learning_rate"] = schedules.deserialize(lr)
        return cls(**kwargs)

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate:g})"
