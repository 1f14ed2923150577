"""Weights as Keras has them: trainable and non-trainable, frozen layers, their order in files."""

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, backend
from gpunet.layers import Dense, Input, Layer
from gpunet.utils import set_random_seed


class Counter(Layer):
    """A layer with a non-trainable weight created BEFORE its trainable one: it counts the
    samples it saw in training (plain array code, so it does not declare the recording contract)."""

    def build(self, input_shape):
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, x, training=False):
        if training:
            self.seen.data[...] += x.shape[0]
        return x * self.scale


def model():
    return Sequential([Input((3,)), Counter(name="counter"), Dense(2, activation="softmax", name="out")])


def test_trainable_and_non_trainable_weights_as_keras_lists_them():
    m = model()
    counter, out = m.layers
    assert [w.name for w in counter.weights] == ["counter/scale", "counter/seen"]  # created trainable first (Keras 3)
    assert [w.name for w in counter.trainable_weights] == ["counter/scale"]
    assert [w.name for w in counter.non_trainable_weights] == ["counter/seen"]
    assert counter.seen.trainable is False and counter.seen.requires_grad is False
    assert [w.name for w in m.weights] == ["counter/scale", "counter/seen", "out/kernel", "out/bias"]
    assert [w.name for w in m.trainable_weights] == ["counter/scale", "out/kernel", "out/bias"]
    assert [w.name for w in m.non_trainable_weights] == ["counter/seen"]


def test_freezing_a_layer_or_the_model():
    m = model()
    counter, out = m.layers
    out.trainable = False
    assert out.trainable_weights == [] and [w.name for w in out.non_trainable_weights] == ["out/kernel", "out/bias"]
    assert not out.kernel.requires_grad
    assert [w.name for w in m.trainable_weights] == ["counter/scale"]
    out.trainable = True
    assert out.kernel.requires_grad and counter.seen.requires_grad is False  # never trainable
    m.trainable = False
    assert m.trainable_weights == [] and not counter.trainable and not out.trainable
    assert len(m.non_trainable_weights) == 4
    m.trainable = True
    assert counter.trainable and out.trainable and len(m.trainable_weights) == 3
    assert "Non-trainable params: 1" in "\n".join(_summary(m))


def _summary(m):
    lines = []
    m.summary(print_fn=lines.append)
    return lines


def test_fit_updates_trainable_weights_only_and_saves_every_weight(tmp_path):
    set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((30, 3)).astype(np.float32)
    y = np.arange(30) % 2
    m = model()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert float(m.layers[0].seen.numpy()) == 60  # two epochs of 30 samples, counted in training only
    m.predict(x)
    assert float(m.layers[0].seen.numpy()) == 60
    assert "counter/seen" not in m.optimizer.get_state()["slots"]
    path = tmp_path / "m.h5"
    m.save_weights(path)
    with h5py.File(path, "r") as f:  # Keras's legacy order in .h5: trainable weights first
        names = [n.decode() for n in f["counter"].attrs["weight_names"]]
        assert names == [f"{m.name}/counter/scale", f"{m.name}/counter/seen"]
        assert f["counter"][names[1]][()] == 60
    other = model()
    other.load_weights(path)
    for got, want in zip(other.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_a_frozen_layer_is_written_in_keras_legacy_order(tmp_path):
    """A frozen layer's trainable_weights are empty, so Keras's order is its weights' order."""
    m = model()
    m.layers[0].trainable = False
    m.save_weights(tmp_path / "f.h5")
    with h5py.File(tmp_path / "f.h5", "r") as f:
        names = [n.decode() for n in f["counter"].attrs["weight_names"]]
    assert names == [f"{m.name}/counter/scale", f"{m.name}/counter/seen"]


@pytest.mark.parametrize("kwargs,error,text", [
    ({"shape": (None, 2)}, ValueError, "fully known"),
    ({"shape": (2,), "constraint": "max_nrm"}, ValueError, "unknown constraint 'max_nrm'"),
    ({"shape": (2,), "regularizer": "l5"}, ValueError, "l5"),
    ({"shape": (2,), "name": "a/b"}, ValueError, "name"),
    ({"shape": (2,), "aggregation": "sum"}, TypeError, "aggregation"),
    ({"shape": (2,), "dtype": "int32"}, ValueError, "dtype"),
])
def test_add_weight_refuses_what_it_cannot_do(kwargs, error, text):
    layer = Layer(name="plain")
    with pytest.raises(error, match=text):
        layer.add_weight(**kwargs)
    assert layer.weights == []


def test_add_weight_keras_arguments():
    layer = Layer(name="plain")
    w = layer.add_weight(shape=(2, 3), initializer="ones", dtype="float64", name="w")
    assert w.name == "plain/w" and w.dtype == np.float64 and np.all(backend.to_host(w.data) == 1)
    with pytest.raises(ValueError, match="already has a weight named 'w'"):
        layer.add_weight(shape=(1,), name="w")
    v = layer.add_weight(shape=(4,))  # Keras's default initializer: glorot_uniform
    limit = np.sqrt(6 / (4 + 4))
    assert np.all(np.abs(v.numpy()) <= limit) and np.any(v.numpy() != 0)
    assert gpunet.Parameter(np.zeros(2), trainable=False).trainable is False


def test_a_user_layer_as_keras_writes_it_call_without_training_and_no_output_shape():
    """Keras passes ``training`` only to a call() that declares it, and traces a layer to learn its
    output shape: a user's layer with neither works inside a Sequential."""
    import gpunet  # noqa: PLC0415

    class Project(gpunet.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="w")

        def call(self, inputs):
            return gpunet.ops.matmul(inputs, self.w)

    model = gpunet.Sequential([gpunet.layers.Input((5,)), Project(3), gpunet.layers.Dense(2, kernel_initializer="ones")])
    assert model.output_shape == (None, 2)
    assert model.layers[0].compute_output_shape((None, 5)) == (None, 3)
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    np.testing.assert_allclose(model.predict(x), np.full((2, 2), 1.0) * (x.sum(1, keepdims=True) * 3))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((2, 2), np.float32), verbose=0)  # trains through the user's call
