"""One registry for gpunet's classes and a user's: a layer in a new module of gpunet is found by its
class name with no table edited, a registered user class round-trips as before, and nothing else
is built from a file."""

import importlib.util
import json
import re
import sys
import textwrap

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import (
    backend,
    callbacks,
    constraints,
    initializers,
    layers,
    lookup,
    optimizers,
    regularizers,
    schedules,
)
from gpunet.layers import Dense, Input, Layer
from gpunet.saving import get_registered_name, register_serializable

_SCALE = '''
import gpunet


class {name}(gpunet.layers.Layer):
    """x * factor: a layer with no weights, from a module no table lists."""

    {module_line}
    supports_recording = True

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x, training=False):
        return x * self.factor

    def get_config(self):
        return {{**super().get_config(), "factor": self.factor}}
'''


def _forget(cls):
    """Take ``cls`` out of the registry again, so that no other test sees it."""
    key = lookup._NAMES.pop(cls, None)
    lookup._REGISTERED.pop(key, None)
    for classes in lookup._BUILTIN.values():
        if classes.get(cls.__name__) is cls:
            del classes[cls.__name__]


def _import_new_module(tmp_path, name, module_line):
    """Write a module defining layer class ``name`` into a fresh folder and import it from there."""
    path = tmp_path / f"fresh_{name.lower()}.py"
    path.write_text(textwrap.dedent(_SCALE.format(name=name, module_line=module_line)))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[path.stem]
    return getattr(module, name)


@pytest.fixture
def gpunet_layer(tmp_path):
    """A layer class in a brand-new module that lives under gpunet's package (its ``__module__``)."""
    cls = _import_new_module(tmp_path, "Triple", '__module__ = "gpunet.layers.fresh"')
    yield cls
    _forget(cls)


@pytest.fixture
def outside_layer(tmp_path):
    cls = _import_new_module(tmp_path, "Quadruple", "")
    yield cls
    _forget(cls)


def _layer_entries(path):
    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["model_config"])["config"]["layers"]


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_layer_in_a_new_gpunet_module_loads_by_its_class_name(tmp_path, gpunet_layer, suffix):
    layer = gpunet_layer(factor=3.0, name="triple")
    assert layers.serialize(layer) == {"class_name": "Triple", "config": layer.get_config()}  # no registered_name
    assert get_registered_name(gpunet_layer) == "Triple"
    rebuilt = layers.deserialize({"class_name": "Triple", "config": {"factor": 3.0, "name": "t"}})
    assert type(rebuilt) is gpunet_layer and rebuilt.factor == 3.0

    model = gpunet.Sequential([Input((3,)), layer, Dense(2)])
    x = np.arange(6, dtype="float32").reshape(2, 3)
    path = tmp_path / f"m{suffix}"
    model.save(path)
    loaded = gpunet.load_model(path)
    assert type(loaded.layers[0]) is gpunet_layer and loaded.layers[0].factor == 3.0
    np.testing.assert_array_equal(backend.to_host(loaded.predict(x, verbose=0)), backend.to_host(model.predict(x, verbose=0)))
    with pytest.raises(ValueError, match=r"valid names are \[[^]]*'Triple'"):
        layers.deserialize({"class_name": "NoSuchLayer", "config": {}})


def test_a_layer_outside_gpunet_is_refused_until_registered(tmp_path, outside_layer):
    with pytest.raises(ValueError, match="unknown layer 'Quadruple'.*register_serializable"):
        layers.deserialize({"class_name": "Quadruple", "config": {}})
    register_serializable(package="fresh")(outside_layer)
    model = gpunet.Sequential([Input((3,)), outside_layer(factor=4.0, name="quad"), Dense(2)])
    model.save(tmp_path / "q.h5")
    entry = _layer_entries(tmp_path / "q.h5")[1]
    assert (entry["class_name"], entry["registered_name"]) == ("Quadruple", "fresh>Quadruple")
    assert type(gpunet.load_model(tmp_path / "q.h5").layers[0]) is outside_layer


def test_a_second_gpunet_layer_of_the_same_name_is_refused_where_it_is_defined():
    """Files name gpunet's classes by class name alone: a clash would silently pick one of the two."""
    with pytest.raises(TypeError, match="gpunet has two layer classes named 'Dense'"):
        class Dense(Layer):  # the clash is the point
            __module__ = "gpunet.layers.other"
    assert layers.deserialize({"class_name": "Dense", "config": {"units": 2}}).__class__ is gpunet.layers.Dense


@register_serializable(package="tests_registry")
class Offset(Layer):
    """x + amount."""

    supports_recording = True

    def __init__(self, amount=0.5, **kwargs):
        super().__init__(**kwargs)
        self.amount = amount

    def call(self, x, training=False):
        return x + self.amount

    def get_config(self):
        return {**super().get_config(), "amount": self.amount}


def test_a_registered_user_class_round_trips_under_its_registered_name(tmp_path):
    model = gpunet.Sequential([Input((3,)), Offset(1.5, name="offset"), Dense(2, name="dense")])
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "m.h5")
    entries = _layer_entries(tmp_path / "m.h5")
    assert entries[1] == {"class_name": "Offset", "registered_name": "tests_registry>Offset",
                          "config": Offset(1.5, name="offset").get_config()}
    assert all("registered_name" not in entry for i, entry in enumerate(entries) if i != 1)  # gpunet's: class names
    with h5py.File(tmp_path / "m.h5", "r") as f:
        optimizer = json.loads(f.attrs["training_config"])["optimizer_config"]
    assert optimizer["class_name"] == "Adam" and "registered_name" not in optimizer
    loaded = gpunet.load_model(tmp_path / "m.h5")
    assert type(loaded.layers[0]) is Offset and loaded.layers[0].amount == 1.5
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_array_equal(backend.to_host(loaded.predict(x, verbose=0)), backend.to_host(model.predict(x, verbose=0)))


class NeverRegistered(Layer):
    def call(self, x, training=False):
        return x


@pytest.mark.parametrize("name", ["NeverRegistered", "Lambda", "_Conv", "Model", "Layer"])
def test_a_class_never_registered_is_refused_by_name(name):
    """Outside gpunet, a private base, Lambda (its config is code) and the kinds' base classes."""
    with pytest.raises(ValueError) as info:
        layers.deserialize({"class_name": name, "config": {}})
    assert str(info.value).startswith(f"unknown layer {name!r}; valid names are [")
    assert str(info.value).endswith(
        "or a class registered with @gpunet.saving.register_serializable() (nothing from a file is imported or evaluated)")


def _listed(message):
    return set(re.findall(r"'([^']+)'", message.split("valid names are", 1)[1].split("]")[0]))


def test_the_error_lists_name_every_builtin():
    exported = {name for name in layers.__all__
                if isinstance(getattr(layers, name), type) and issubclass(getattr(layers, name), Layer)}
    with pytest.raises(ValueError) as info:
        layers.deserialize({"class_name": "Nope", "config": {}})
    assert _listed(str(info.value)) == exported - {"Layer", "Lambda"}

    classes = {name for name in optimizers.__all__ if isinstance(getattr(optimizers, name), type)}
    with pytest.raises(ValueError) as info:
        optimizers.get("nope")
    assert _listed(str(info.value)) == {name.lower() for name in classes - {"Optimizer", "LossScaleOptimizer"}}
    assert optimizers.get("ADAM").__class__ is optimizers.Adam  # short names ignore case, as before

    with pytest.raises(ValueError) as info:
        gpunet.models.model_from_config({"class_name": "Nope", "config": {}})
    assert _listed(str(info.value)) == {"Sequential", "Functional"}

    exported = {name for name in callbacks.__all__ if isinstance(getattr(callbacks, name), type)}
    with pytest.raises(ValueError) as info:
        callbacks.deserialize({"class_name": "Nope", "config": {}})
    # fit's own (History, the progress bar) and those holding Python functions stay out
    assert _listed(str(info.value)) == exported - {
        "Callback", "CallbackList", "History", "ProgbarLogger", "LambdaCallback", "LearningRateScheduler"}

    with pytest.raises(ValueError) as info:
        schedules.deserialize({"class_name": "Nope", "config": {}})
    assert _listed(str(info.value)) == {
        "step_decay", "exponential_decay", "inverse_time_decay", "piecewise_constant_decay", "cosine_decay"}
    assert type(schedules.deserialize({"class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1,
                                                                                "decay_steps": 10}})) is schedules.CosineDecay


@pytest.mark.parametrize("module, names", [
    (initializers, {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
                    "variance_scaling", "random_normal", "random_uniform", "truncated_normal", "orthogonal", "identity",
                    "zeros", "ones", "constant", "normal", "uniform", "zero", "one", "identityinitializer",
                    "orthogonalinitializer"}),
    (constraints, {"max_norm", "min_max_norm", "non_neg", "unit_norm", "constraint"}),
    (regularizers, {"l1", "l2", "l1l2", "l1_l2", "orthogonal_regularizer", "regularizer"}),
])
def test_keras_short_names_of_weight_options_stay_listed(module, names):
    """Keras's names (its functions' and aliases), the base class's included, and each builds its class."""
    with pytest.raises(ValueError) as info:
        module.deserialize({"class_name": "Nope", "config": {}})
    assert _listed(str(info.value)) == names
    for name in names - {"constraint", "regularizer", "identity", "identityinitializer", "orthogonal",
                         "orthogonalinitializer", "constant"}:
        assert isinstance(module.get(name), (initializers.Initializer, constraints.Constraint, regularizers.Regularizer))
    with pytest.raises(ValueError, match=r"unknown \w+ '_Norms'|unknown \w+ 'RandomInitializer'|unknown \w+ 'Nope'"):
        module.deserialize({"class_name": {initializers: "RandomInitializer", constraints: "_Norms"}.get(module, "Nope"),
                            "config": {}})


def test_a_new_gpunet_callback_is_found_by_name_and_one_marked_unloadable_is_not():
    class Count(callbacks.Callback):
        __module__ = "gpunet.callbacks.fresh"

        def get_config(self):
            return {}

    class Holder(callbacks.Callback):
        __module__ = "gpunet.callbacks.fresh"
        loadable = False

    try:
        assert type(callbacks.deserialize({"class_name": "Count", "config": {}})) is Count
        assert callbacks.serialize(Count()) == {"class_name": "Count", "config": {}}
        with pytest.raises(ValueError, match="unknown callback 'Holder'"):
            callbacks.deserialize({"class_name": "Holder", "config": {}})
    finally:
        _forget(Count)
    with pytest.raises(ValueError, match="unknown callback 'Count'"):  # the lookup keeps no copy of the registry
        callbacks.deserialize({"class_name": "Count", "config": {}})


def test_a_new_gpunet_optimizer_gets_a_short_name_and_a_wrapper_none():
    class Plain(optimizers.SGD):
        __module__ = "gpunet.optimizers.fresh"

    class Wrapper(optimizers.SGD):
        __module__ = "gpunet.optimizers.fresh"

        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

    try:
        assert type(optimizers.get("plain")) is Plain
        assert type(optimizers.deserialize({"class_name": "Wrapper", "config": {"inner": 1}})) is Wrapper
        with pytest.raises(ValueError, match="unknown optimizer 'wrapper'"):
            optimizers.get("wrapper")
    finally:
        _forget(Plain)
        _forget(Wrapper)
