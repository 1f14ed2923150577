"""No Keras argument is dropped silently.

For every gpunet class or function with a Keras twin of the same name in the mirrored module
(``gpunet.layers.Dense`` and ``keras.layers.Dense``, ...), and for the model's methods, each
parameter of Keras's signature must be

- in gpunet's signature, with the same default (or, for a class, a default that configures the
  object the same way: ``strides=1`` for ``(1, 1)``), at the same position when Keras's takes it
  positionally; or
- taken by gpunet's ``**kwargs``: Keras's default accepted, and another value either honoured
  (the object's config or attribute holds it) or refused with a ValueError or TypeError that
  names the argument.

The cases come from the installed Keras's signatures and gpunet's list of Keras names, so a name
gpunet adds is checked without a change here. ``KNOWN`` lists what is still to fix, as
``"keras.module.Name(argument)"`` patterns (``*`` matches anything): a case fails when it finds a
problem no pattern covers, and ``test_every_known_problem_still_happens`` when a pattern covers
none (remove it then).
"""

from __future__ import annotations

import fnmatch
import inspect
import os

import numpy as np
import pytest

import gpunet
from gpunet import keras_api

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras 3 defaults to TensorFlow, which is not a test extra
try:
    import jax  # noqa: F401
    import keras
except ImportError:  # the test extra is absent: every case is skipped
    keras = None

EMPTY = inspect.Parameter.empty
METHODS = ["__init__", "compile", "fit", "evaluate", "predict", "train_on_batch", "test_on_batch", "predict_on_batch",
           "save", "save_weights", "load_weights", "summary", "get_weights", "set_weights", "to_json", "get_config",
           "from_config", "get_layer", "add", "pop", "count_params", "build", "compute_loss", "reset_metrics"]
# Keras modules whose functions take tensors of Keras's backend: compared by signature only
NO_CALLS = {"keras.ops"}

# what is still to fix: "keras.module.Name(argument)" pattern -> why
KNOWN = {
    "keras.optimizers.*(name)": "the optimizers' Keras arguments after their own are missing: name sits elsewhere",
    "keras.Optimizer(clip*)": "the base class takes name before the clipping arguments",
    "keras.Optimizer(global_clipnorm)": "the base class takes name before the clipping arguments",
    "keras.Optimizer(name)": "the base class takes name before the clipping arguments",
    "keras.Optimizer(use_ema)": "the base class takes name before the clipping arguments (so every later one moves)",
    "keras.Optimizer(ema_*)": "the base class takes name before the clipping arguments (so every later one moves)",
    "keras.Optimizer(loss_scale_factor)": "the base class takes name before the clipping arguments (so every later one moves)",
    "keras.Optimizer(gradient_accumulation_steps)": "the base class takes name before the clipping arguments "
                                                    "(so every later one moves)",
    "keras.optimizers.deserialize(custom_objects)": "not yet",
    "keras.optimizers.schedules.*(name)": "not yet: schedules take no name",
    "keras.optimizers.schedules.CosineDecay(warmup_*)": "not yet: CosineDecay's linear warmup",
    "keras.optimizers.schedules.serialize(learning_rate_schedule)": "the argument is called schedule",
    "keras.optimizers.schedules.deserialize(custom_objects)": "not yet",
}


def keras_object(path):
    obj = keras
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def cases():
    """``(case id, Keras object, gpunet object)``: each pair once, in the stored list's order."""
    if keras is None:
        return []
    found, seen = [], set()
    for entry in keras_api.coverage():
        if entry.gpunet is None:
            continue
        for name in entry.supported:
            kind = keras_api.keras_names(entry.keras)[name]
            if kind not in ("class", "function"):
                continue
            ours = getattr(keras_api.mirror(entry.keras), name)
            theirs = keras_object(f"{entry.keras}.{name}")
            if (id(theirs), id(ours)) in seen:
                continue
            seen.add((id(theirs), id(ours)))
            found.append((f"{entry.keras}.{name}", theirs, ours))
    for method in METHODS:
        found.append((f"keras.Sequential.{method}", getattr(keras.Sequential, method), getattr(gpunet.Sequential, method)))
    return found


# -- values to call with ---------------------------------------------------------------------------
class NonDefault:
    """A value no argument defaults to: gpunet must honour or refuse it, naming the argument."""

    def __repr__(self):
        return "<a value that is not Keras's default>"


class Fresh:
    """A required value made anew for each call (an object that one construction takes over)."""

    def __init__(self, make):
        self.make = make


# values for Keras's required arguments, by name
REQUIRED = {
    "inner_optimizer": Fresh(lambda: gpunet.optimizers.SGD()), "learning_rate": 0.01,
    "units": 2, "filters": 2, "kernel_size": 3, "pool_size": 2, "rate": 0.5, "activation": "relu", "target_shape": (2,),
    "filename": "log.csv", "backup_dir": "backup", "schedule": lambda epoch, lr: lr, "initial_learning_rate": 0.1,
    "decay_steps": 10, "decay_rate": 0.5, "boundaries": [10], "values": [0.1, 0.01], "value": 1.0, "l1": 0.01,
    "l2": 0.01, "layers": None, "name": "x", "fn": None,
    "num_classes": 3, "target_class_ids": [0, 2], "recall": 0.5, "precision": 0.5, "specificity": 0.5,
    "sensitivity": 0.5, "initializer": 1.0, "axes": 1, "function": Fresh(lambda: (lambda x: x)),
    "input_dim": 5, "output_dim": 3, "n": 2, "layer": Fresh(lambda: gpunet.layers.Dense(2)),
    "height": 4, "width": 4, "factor": 0.1, "height_factor": 0.1, "width_factor": 0.1, "scale": 0.5, "num_bins": 3,
    "equation": "ab,bc->ac", "output_shape": 3, "num_heads": 2, "key_dim": 2, "stddev": 0.1,
    "cell": Fresh(lambda: gpunet.layers.SimpleRNNCell(2)), "cells": Fresh(lambda: [gpunet.layers.SimpleRNNCell(2)]),
}
# non-default values where the default's type does not suggest one
NON_DEFAULT = {
    "name": "another_name", "dtype": "float64", "padding": "same", "data_format": "channels_first", "mode": "min",
    "monitor": "loss", "save_freq": 3, "reduction": "sum", "strides": 2, "dilation_rate": 2, "update_freq": "batch",
    "kernel_initializer": "zeros", "bias_initializer": "ones", "beta_initializer": "ones", "gamma_initializer": "zeros",
    "moving_mean_initializer": "ones", "moving_variance_initializer": "zeros", "zipped": False, "path": "elsewhere.npz",
}


def required_value(name, tmp_path):
    if name in ("filepath", "filename", "backup_dir", "log_dir"):
        return str(tmp_path / {"filepath": "model.keras"}.get(name, REQUIRED.get(name, name)))
    if name not in REQUIRED:
        pytest.fail(f"no value for the required argument {name!r}: add one to REQUIRED")
    return REQUIRED[name]


def non_default(parameter):
    default = parameter.default
    if parameter.name in NON_DEFAULT and NON_DEFAULT[parameter.name] != default:
        return NON_DEFAULT[parameter.name]
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):
        return default / 2 if default else 0.5
    return NonDefault()


def same(a, b) -> bool:
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - arrays and odd objects
        return a is b


def settings(obj) -> dict:
    """What configures an object: its get_config(), else its attributes; without its name, which
    differs between two objects made alike (``dense``, ``dense_1``)."""
    get_config = getattr(obj, "get_config", None)
    found = None
    if get_config is not None:
        try:
            found = dict(get_config())
        except Exception:  # noqa: BLE001 - a base class whose get_config needs a subclass
            pass
    found = dict(vars(obj)) if found is None else found
    found.pop("name", None)
    return found


class Call:
    """Builds gpunet's object (a class) or calls gpunet's function with Keras's required arguments."""

    def __init__(self, theirs, ours, keras_signature, tmp_path):
        self.ours = ours
        self.required = {p.name: required_value(p.name, tmp_path) for p in keras_signature.parameters.values()
                         if p.default is EMPTY and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

    def __call__(self, **arguments):
        required = {name: value.make() if isinstance(value, Fresh) else value for name, value in self.required.items()}
        return self.ours(**{**required, **arguments})


def refused(error, name) -> bool:
    return isinstance(error, (ValueError, TypeError)) and name in str(error)


def problems(case, theirs, ours, tmp_path) -> dict:
    """``{argument: what is wrong}`` for one case."""
    keras_signature, signature = inspect.signature(theirs), inspect.signature(ours)
    if case.startswith("keras.Sequential."):  # methods: drop self
        keras_signature = keras_signature.replace(parameters=list(keras_signature.parameters.values())[1:])
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    ours_by_name = signature.parameters
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in ours_by_name.values())
    is_class = isinstance(ours, type)
    callable_ = is_class and not any(case.startswith(m + ".") for m in NO_CALLS)
    call = Call(theirs, ours, keras_signature, tmp_path) if callable_ else None
    found = {}

    positional = [p.name for p in keras_signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    our_positional = [p.name for p in ours_by_name.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for index, name in enumerate(positional):
        if name in our_positional and our_positional.index(name) != index:
            found[name] = f"position {our_positional.index(name)} in gpunet, {index} in Keras"

    for p in keras_signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in found:
            continue
        q = ours_by_name.get(p.name)
        if q is not None and q.kind is not q.POSITIONAL_ONLY:
            if p.default is EMPTY or same(p.default, q.default):
                continue
            if q.default is EMPTY:
                found[p.name] = f"required in gpunet, Keras's default is {p.default!r}"
                continue
            if call is None:
                found[p.name] = f"default {q.default!r} in gpunet, {p.default!r} in Keras"
                continue
            try:
                equivalent = settings(call()) == settings(call(**{p.name: p.default}))
            except Exception as error:  # noqa: BLE001
                found[p.name] = f"Keras's default {p.default!r} refused: {type(error).__name__}: {error}"
                continue
            if not equivalent:
                found[p.name] = f"default {q.default!r} in gpunet, {p.default!r} in Keras, which configure differently"
            continue
        if not takes_kwargs:
            found[p.name] = "missing" if p.default is EMPTY else f"missing (Keras's default: {p.default!r})"
            continue
        if p.default is EMPTY:
            found[p.name] = "a required argument of Keras, missing in gpunet"
            continue
        if call is None:
            found[p.name] = "taken by **kwargs, which cannot be checked here"
            continue
        try:
            call(**{p.name: p.default})
        except Exception as error:  # noqa: BLE001
            found[p.name] = f"Keras's default {p.default!r} refused: {type(error).__name__}: {error}"
            continue
        value = non_default(p)
        try:
            obj = call(**{p.name: value})
        except Exception as error:  # noqa: BLE001
            if not refused(error, p.name):
                found[p.name] = f"{p.name}={value!r} raised {type(error).__name__} not naming it: {error}"
            continue
        honoured = getattr(obj, "name", None) == value if p.name == "name" else settings(obj) != settings(call())
        if not honoured:
            found[p.name] = f"{p.name}={value!r} is accepted and neither honoured nor refused (silently dropped)"
    return found


def known(case, argument):
    return any(fnmatch.fnmatchcase(f"{case}({argument})", pattern) for pattern in KNOWN)


@pytest.mark.skipif(keras is None, reason="compares with Keras 3 on JAX (the test extra)")
@pytest.mark.parametrize("case,theirs,ours", cases(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_keras_argument_is_taken_or_refused_by_name(case, theirs, ours, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    new = {name: what for name, what in problems(case, theirs, ours, tmp_path).items() if not known(case, name)}
    assert not new, f"{case}: " + "; ".join(f"{name}: {what}" for name, what in new.items())


@pytest.mark.skipif(keras is None, reason="compares with Keras 3 on JAX (the test extra)")
def test_every_known_problem_still_happens(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = [f"{case}({name})" for case, theirs, ours in cases() for name in problems(case, theirs, ours, tmp_path)]
    stale = [pattern for pattern in KNOWN if not fnmatch.filter(found, pattern)]
    assert not stale, f"fixed: remove from KNOWN {stale}"


# -- the check itself: each kind of problem is found --------------------------------------------------
class _Keras:
    def __init__(self, units, strides=(1, 1), flag=False, level=3, mode="same", extra=None, name=None):
        pass


class _Dropping:  # takes units and strides, drops the rest silently
    def __init__(self, units, strides=1, **kwargs):
        self.units, self.strides = units, strides if isinstance(strides, tuple) else (strides, strides)

    def get_config(self):
        return {"units": self.units, "strides": self.strides}


class _Careful(_Dropping):  # refuses by name whatever it does not implement
    def __init__(self, units, strides=1, flag=False, level=3, mode="same", extra=None, **kwargs):
        for name, value, default in (("flag", flag, False), ("level", level, 3), ("mode", mode, "same"), ("extra", extra, None)):
            keras_api.check_default("_Careful", name, value, default)
        super().__init__(units, strides)
        self.name = kwargs.pop("name", None) or "careful"


class _Reordered:
    def __init__(self, units, flag=False, strides=(1, 1), level=3, mode="same", extra=None, name=None):
        pass


def test_the_check_finds_each_kind_of_problem(tmp_path):
    dropped = problems("case", _Keras, _Dropping, tmp_path)
    assert set(dropped) == {"flag", "level", "mode", "extra", "name"}
    assert all("silently dropped" in what for what in dropped.values())
    assert problems("case", _Keras, _Careful, tmp_path) == {}  # strides=1 configures as (1, 1) does
    assert set(problems("case", _Keras, _Reordered, tmp_path)) == {"flag", "strides"}
    assert problems("case", _Keras, lambda units: None, tmp_path).keys() == {"strides", "flag", "level", "mode", "extra",
                                                                           "name"}
    assert known("keras.Optimizer(use_ema)", "x") is False and known("keras.Optimizer", "use_ema")


def test_keras_defaults_are_recognised_in_any_numeric_form_and_other_values_refused():
    for value, default in ((np.float32(0.5), 0.5), (np.int64(3), 3), (3.0, 3), ([0, 1], [0, 1]), ((1, 1), (1, 1)), (None, None)):
        keras_api.check_default("Owner", "arg", value, default)  # Keras's default, as a script may spell it
    for value, default in ((np.float32(0.25), 0.5), ([0, 2], [0, 1]), ((1, 1), [1, 1]), (True, 1), (0, None), ("a", None)):
        with pytest.raises(ValueError, match="arg is not supported by gpunet"):
            keras_api.check_default("Owner", "arg", value, default)
