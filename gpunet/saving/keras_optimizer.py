"""An optimizer's state as Keras 3 lists its variables, and back.

Keras 3 stores an optimizer as one flat list of variables (``optimizer/vars/0``, ``1``, ... in a
``.weights.h5`` file): ``iteration``, then ``learning_rate`` (absent when the rate is a schedule),
then the per-weight variables, in the order its ``build`` creates them. A ``build`` creates them
in blocks; inside a block they are interleaved per weight, the weights taken in the order of
``model.trainable_variables``. Adam, for instance, lists ``m(w0) v(w0) m(w1) v(w1) ...`` and then,
with ``amsgrad``, ``v_hat(w0) v_hat(w1) ...``.

gpunet exports the same state as a tree (``optimizer.get_state()``: a step count and named slot
arrays per weight path). This module only translates between the two forms; each optimizer still
owns its state. The table below names, for each of gpunet's optimizers that Keras also has, the
Keras blocks as gpunet slot names. Two slots have another scale in Keras, because Keras folds
the learning rate into them: SGD's momentum (Keras keeps ``-lr * b``) and RMSprop's momentum
(``lr * b``); they are converted with the current learning rate, which is exact while the rate
is constant. gpunet counts steps per weight, Keras once: every weight is given Keras's count.
"""

from __future__ import annotations

import numpy

__all__ = ["keras_optimizer_variables", "optimizer_state_from_keras", "base_variable_count"]

# gpunet class -> Keras's blocks of per-weight variables (gpunet slot names), in Keras's order
_BLOCKS = {
    "SGD": (("momentum",),),
    "Adam": (("m", "v"), ("v_max",)),
    "AdamW": (("m", "v"), ("v_max",)),
    "Adamax": (("m", "u"),),
    "Nadam": (("m", "v"),),
    "RMSprop": (("square_avg",), ("momentum_buffer",), ("grad_avg",)),
    "Adagrad": (("sum",),),
    "Adadelta": (("square_avg", "acc_delta"),),
    "Lion": (("m",),),
    "Ftrl": (("accumulator", "linear"),),
    "Adafactor": (("r", "c", "v"),),  # r and c of a weight of rank < 2: unused numbers (Keras: int 0)
}
# slots Keras keeps multiplied by the learning rate: keras value = factor * lr * gpunet value
_LR_SCALED = {("SGD", "momentum"): -1.0, ("RMSprop", "momentum_buffer"): 1.0}
# per-weight numbers Keras keeps once, after the per-weight variables (Nadam's momentum product)
_SCALARS = {"Nadam": ("mu_product",)}
_SCALAR_START = {"mu_product": 1.0}


def _kind(optimizer) -> str | None:
    """The optimizer's class name when it is one of gpunet's own (not a user subclass)."""
    cls = type(optimizer)
    return cls.__name__ if cls.__module__.startswith("gpunet.optimizers") and cls.__name__ in _BLOCKS else None


def _blocks(optimizer) -> list:
    """Keras's blocks for this optimizer, as slot names (only the slots it has)."""
    slots = tuple(optimizer.slot_names)
    kind = _kind(optimizer)
    if kind is None:  # no Keras twin: gpunet's slots, interleaved, in gpunet's order
        return [slots] if slots else []
    blocks = [tuple(s for s in block if s in slots) for block in _BLOCKS[kind]]
    return [block for block in blocks if block]


def _scalars(optimizer) -> tuple:
    kind = _kind(optimizer)
    return _SCALARS.get(kind, ()) if kind else tuple(optimizer.scalar_slots)


def _scale(optimizer, slot: str, learning_rate: float) -> float:
    factor = _LR_SCALED.get((_kind(optimizer), slot))
    return 1.0 if factor is None else factor * learning_rate


# slots that start at the value of a config entry rather than at 0
_START_FROM_CONFIG = {("Adagrad", "sum"): "initial_accumulator_value", ("Ftrl", "accumulator"): "initial_accumulator_value"}


def _start_value(optimizer, slot: str) -> float:
    """A slot's value before the first step (what a fresh Keras optimizer holds too)."""
    key = _START_FROM_CONFIG.get((_kind(optimizer), slot))
    return 0.0 if key is None else float(optimizer.get_config().get(key, 0.0))


def _slot_shape(optimizer, slot: str, param) -> tuple:
    return tuple(optimizer.slot_shape(slot, tuple(param.shape)))


def base_variable_count(optimizer) -> int:
    """``iteration``, and ``learning_rate`` unless the rate is a schedule."""
    return 1 if optimizer.schedule is not None else 2


def keras_optimizer_variables(optimizer, params) -> list:
    """The optimizer's state as Keras's list of variables (host NumPy arrays), for the trainable
    weights ``params`` in the model's order. Slots not created yet are written at their start
    value, as a freshly built Keras optimizer holds them. A LossScaleOptimizer writes Keras's four
    (``iteration``, ``learning_rate``, ``step_counter``, ``dynamic_scale``), then its inner
    optimizer's."""
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        own = [numpy.array(0, dtype=numpy.int64), numpy.array(0.0, dtype=numpy.float32),
               numpy.array(optimizer.step_counter, dtype=numpy.int64), numpy.array(optimizer.dynamic_scale, dtype=numpy.float32)]
        return own + keras_optimizer_variables(inner, params)
    state = optimizer.get_state()
    learning_rate = float(state["learning_rate"])
    slots = state["slots"]
    variables = [numpy.array(int(state["iterations"]), dtype=numpy.int64)]
    if base_variable_count(optimizer) == 2:
        variables.append(numpy.array(learning_rate, dtype=numpy.float32))
    for block in _blocks(optimizer):
        for param in params:
            saved = slots.get(param.name)
            for slot in block:
                if saved is not None and slot in saved:
                    value = numpy.asarray(saved[slot])
                else:
                    value = numpy.full(_slot_shape(optimizer, slot, param), _start_value(optimizer, slot), dtype=param.dtype)
                variables.append(value * numpy.asarray(_scale(optimizer, slot, learning_rate), dtype=value.dtype))
    for slot in _scalars(optimizer):  # one number for all weights: they all took the same steps
        saved = next((s for s in slots.values() if slot in s), None)
        value = _SCALAR_START.get(slot, 0.0) if saved is None else float(saved[slot])
        dtype = params[0].dtype if params else numpy.float32
        variables.append(numpy.array(value, dtype=dtype))
    return variables


def optimizer_state_from_keras(optimizer, params, arrays, where: str) -> dict:
    """The state tree ``optimizer.set_state`` takes, from Keras's list of variables.

    ``arrays`` must match this optimizer's layout for the trainable weights ``params`` (a list
    of only ``iteration`` and ``learning_rate`` is a Keras optimizer that never took a step);
    any other count or shape raises ``ValueError`` naming ``where``.
    """
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:  # a LossScaleOptimizer: its four variables, then its inner optimizer's (if built)
        if len(arrays) < 4 or any(numpy.shape(a) != () for a in arrays[:4]):
            raise ValueError(f"{where}: a LossScaleOptimizer's first four variables must be numbers")
        scale, counter = float(arrays[3]), int(arrays[2])
        if not numpy.isfinite(scale) or scale <= 0 or counter < 0:
            raise ValueError(f"{where}: the loss scale {scale} or its step counter {counter} is invalid")
        state = optimizer.get_state()
        state.update(dynamic_scale=scale, step_counter=counter)
        if len(arrays) > 4:
            state["inner"] = optimizer_state_from_keras(inner, params, arrays[4:], where)
        return state
    base = base_variable_count(optimizer)
    blocks = _blocks(optimizer)
    scalars = _scalars(optimizer)
    expected = base + sum(len(block) for block in blocks) * len(params) + len(scalars)
    if len(arrays) not in (base, expected):
        raise ValueError(
            f"{where}: the file holds {len(arrays)} optimizer variables, but this model's {type(optimizer).__name__} "
            f"optimizer has {expected} in Keras's layout (was the file saved with another optimizer?)"
        )
    for i in range(base):
        if numpy.shape(arrays[i]) != ():
            raise ValueError(f"{where}: optimizer variable {i} must be a number, got shape {numpy.shape(arrays[i])}")
    iterations = int(arrays[0])
    if iterations < 0:
        raise ValueError(f"{where}: the optimizer's iteration count is negative ({iterations})")
    state = {"class_name": type(optimizer).__name__, "iterations": iterations, "epoch": optimizer.epoch, "slots": {}}
    learning_rate = optimizer.learning_rate
    if base == 2:
        learning_rate = float(arrays[1])
        if not numpy.isfinite(learning_rate) or learning_rate < 0:
            raise ValueError(f"{where}: the optimizer's learning rate is {learning_rate}")
        state["learning_rate"] = learning_rate
    if len(arrays) == base:
        return state
    slots = {param.name: {"step": iterations} for param in params}
    index = base
    for block in blocks:
        for param in params:
            for slot in block:
                value = numpy.asarray(arrays[index])
                shape = _slot_shape(optimizer, slot, param)
                if value.shape != shape:
                    raise ValueError(f"{where}: optimizer variable {index} ({slot} of {param.name!r}) has shape "
                                     f"{value.shape}, where a weight of shape {tuple(param.shape)} takes {shape}")
                scale = _scale(optimizer, slot, learning_rate)
                slots[param.name][slot] = value / scale if scale else numpy.zeros_like(value)
                index += 1
    for slot in scalars:
        value = numpy.asarray(arrays[index])
        if value.shape != ():
            raise ValueError(f"{where}: optimizer variable {index} ({slot}) must be a number, got shape {value.shape}")
        for entry in slots.values():
            entry[slot] = float(value)
        index += 1
    state["slots"] = slots
    return state
