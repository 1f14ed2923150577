"""User classes round-trip through model files by their registered name; nothing else is built."""

import json

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, losses, metrics, ops
from gpunet.callbacks import Callback
from gpunet.layers import Dense, Input, Layer
from gpunet.saving import get_registered_name, register_serializable
from gpunet.saving.training_config import callbacks_from_config
from gpunet.utils import set_random_seed


@register_serializable(package="tests")
class Shift(Layer):
    """x + offset, with the offset a trainable weight and ``amount`` its initial value."""

    supports_recording = True

    def __init__(self, amount=0.5, **kwargs):
        super().__init__(**kwargs)
        self.amount = amount

    def build(self, input_shape):
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer=self.amount, name="offset")

    def call(self, x, training=False):
        return x + self.offset

    def get_config(self):
        return {**super().get_config(), "amount": self.amount}


@register_serializable(package="tests")
class HalfMSE(losses.Loss):
    """Half the mean squared error."""

    supports_recording = True
    name = "half_mse"

    def __init__(self, name=None):
        super().__init__(name)

    def compute(self, output, target, logits):
        diff = output - ops.reshape(target, (-1, *output.shape[1:]))
        return (diff * diff).mean() * 0.5

    def get_config(self):
        return {"name": self.name}


@register_serializable(package="tests")
class MaxError(metrics.Metric):
    """The largest absolute error seen."""

    name = "max_error"

    def reset(self):
        self.total, self.count = 0.0, 1

    def update(self, output, target, logits):
        self.total = max(float(self.total), float(abs(output - target.reshape(output.shape)).max()))


@register_serializable(package="tests")
class Remember(Callback):
    def __init__(self, label="x"):
        super().__init__()
        self.label = label

    def get_config(self):
        return {"label": self.label}


def regression():
    m = Sequential([Input((4,)), Shift(amount=0.25, name="shift"), Dense(2, name="out")])
    m.compile(optimizer="sgd", loss=HalfMSE(), metrics=[MaxError()])
    return m


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((32, 4)).astype(np.float32), rng.standard_normal((32, 2)).astype(np.float32)


def test_registered_names_are_keras_style():
    assert get_registered_name(Shift) == "tests>Shift"
    assert get_registered_name(Dense) == "Dense"


def test_a_model_of_user_classes_round_trips(tmp_path):
    set_random_seed(0)
    x, y = data()
    model = regression()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        entry = json.loads(f.attrs["model_config"])["config"]["layers"][1]
        training = json.loads(f.attrs["training_config"])
    assert entry["class_name"] == "Shift" and entry["registered_name"] == "tests>Shift"
    assert training["loss"]["registered_name"] == "tests>HalfMSE"
    assert training["metrics"][0]["registered_name"] == "tests>MaxError"
    loaded = gpunet.load_model(tmp_path / "m.h5")
    assert isinstance(loaded.layers[0], Shift) and loaded.layers[0].amount == 0.25
    assert isinstance(loaded.loss, HalfMSE) and isinstance(loaded.compiled_metrics[0], MaxError)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)
    diff = model.predict(x).astype(np.float64) - y
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0)[0], 0.5 * np.mean(diff * diff), rtol=1e-5)


class Unregistered(Layer):
    supports_recording = True

    def call(self, x, training=False):
        return x


def test_an_unregistered_class_is_refused_by_name_and_custom_objects_admit_it(tmp_path):
    model = Sequential([Input((4,)), Unregistered(name="plain"), Dense(2)])
    model.save(tmp_path / "u.h5")
    with pytest.raises(ValueError, match="unknown layer 'Unregistered'.*register_serializable"):
        gpunet.load_model(tmp_path / "u.h5")
    loaded = gpunet.load_model(tmp_path / "u.h5", custom_objects={"Unregistered": Unregistered})
    assert isinstance(loaded.layers[0], Unregistered)
    with pytest.raises(ValueError, match="unknown layer"):
        gpunet.load_model(tmp_path / "u.h5")  # the scope ended with the call


@pytest.mark.parametrize("registered_name", ["builtins>eval", "os>system", "tests>HalfMSE"])
def test_a_file_cannot_name_anything_but_a_registered_layer(tmp_path, registered_name):
    """A registered *loss* is no layer either: the kind must match."""
    model = Sequential([Input((4,)), Shift(name="shift"), Dense(2)])
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1].update(class_name=registered_name.split(">")[1], registered_name=registered_name)
        f.attrs["model_config"] = np.bytes_(json.dumps(config).encode())
    with pytest.raises(ValueError, match="unknown layer"):
        gpunet.load_model(tmp_path / "m.h5")


def test_registered_callbacks_are_found_in_model_files():
    entries = [{"class_name": "Remember", "registered_name": "tests>Remember", "config": {"label": "y"}},
               {"class_name": "EarlyStopping", "config": {"patience": 3}}]
    built = callbacks_from_config(entries)
    assert isinstance(built[0], Remember) and built[0].label == "y" and built[1].patience == 3
    with pytest.raises(ValueError, match="unknown callback 'Forget'"):
        callbacks_from_config([{"class_name": "Forget", "config": {}}])


def test_register_needs_get_config_and_a_package():
    with pytest.raises(ValueError, match="get_config"):
        register_serializable()(type("NoConfig", (), {}))
    with pytest.raises(ValueError, match="package"):
        register_serializable(package="a>b")


@register_serializable(package="tests")
class Counting(gpunet.Sequential):
    """A model class of the user's (a custom train_step), registered."""

    def train_step(self, data):
        self.steps = getattr(self, "steps", 0) + 1
        return super().train_step(data)


def test_a_registered_model_class_round_trips(tmp_path):
    x, y = data()
    model = Counting([Input((4,)), Dense(2)], name="counting")
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.h5")
    assert json.loads(model.to_json())["registered_name"] == "tests>Counting"
    loaded = gpunet.load_model(tmp_path / "m.h5")
    assert type(loaded) is Counting and loaded.name == "counting"
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert loaded.steps == 4  # its own train_step runs
    assert type(gpunet.model_from_json(model.to_json())) is Counting
