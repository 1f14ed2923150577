"""Layers called several times in one step, against Keras 3 with the same weights and batches.

A layer that loops over time steps calling the same sub-layers at every step (keras.io's
functional-API guide's ``CustomRNN``), and an embedding network with BatchNormalization shared by
two inputs (the siamese example's towers): the gradients of every call add up, and a shared
BatchNormalization's moving statistics take both calls' batches in call order, as in Keras.
"""

import numpy as np
import pytest

import gpunet
from tests.keras_parity import import_keras


def loop_model(lib):
    class LoopLayer(lib.layers.Layer):
        def __init__(self, units=8, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.projection_1 = lib.layers.Dense(units, activation="tanh")
            self.projection_2 = lib.layers.Dense(units, activation="tanh")
            self.classifier = lib.layers.Dense(1)

        def call(self, inputs):
            outputs, state = [], lib.ops.zeros((inputs.shape[0], self.units))
            for t in range(inputs.shape[1]):
                state = self.projection_1(inputs[:, t, :]) + self.projection_2(state)
                outputs.append(state)
            return self.classifier(lib.ops.stack(outputs, axis=1))

    inputs = lib.Input(batch_shape=(8, 5, 3))
    return lib.Model(inputs, LoopLayer()(lib.layers.Conv1D(4, 2)(inputs)))


def siamese_model(lib):
    image = lib.Input((6, 6, 1))
    x = lib.layers.BatchNormalization()(image)
    x = lib.layers.Conv2D(3, 3, activation="tanh")(x)
    x = lib.layers.AveragePooling2D(2)(x)
    x = lib.layers.Flatten()(x)
    x = lib.layers.BatchNormalization()(x)
    embedding = lib.Model(image, lib.layers.Dense(4, activation="tanh")(x))
    first, second = lib.Input((6, 6, 1)), lib.Input((6, 6, 1))
    distance = lib.layers.Lambda(lambda pair: lib.ops.sqrt(lib.ops.maximum(
        lib.ops.sum(lib.ops.square(pair[0] - pair[1]), axis=1, keepdims=True), 1e-7)))([embedding(first), embedding(second)])
    output = lib.layers.Dense(1, activation="sigmoid")(lib.layers.BatchNormalization()(distance))
    return lib.Model([first, second], output)


def data(kind, rng):
    if kind == "loop":
        x = rng.normal(size=(32, 5, 3)).astype("float32")
        return x, np.tanh(x[:, 1:, :1].cumsum(axis=1)).astype("float32")
    pairs = [rng.normal(size=(32, 6, 6, 1)).astype("float32") for _ in range(2)]
    return pairs, rng.integers(0, 2, 32).astype("float32")


@pytest.mark.parametrize("kind", ["loop", "siamese"])
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_shared_calls_train_as_in_keras(kind, optimizer):
    keras = import_keras()
    make = loop_model if kind == "loop" else siamese_model
    ours, theirs = make(gpunet), make(keras)
    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 0.4, np.shape(w)).astype("float32") if "variance" not in v.path
               else rng.uniform(0.5, 2.0, np.shape(w)).astype("float32") for v, w in zip(theirs.weights, theirs.get_weights())]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x, y = data(kind, rng)
    for model, lib in ((ours, gpunet), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.get(optimizer), loss="mse")
    kwargs = dict(batch_size=8, epochs=3, shuffle=False, verbose=0)
    got = ours.fit(x, y, restore_best=False, **kwargs).history["loss"]
    want = theirs.fit(x, y, **kwargs).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-4)
    for variable, a, b in zip(theirs.weights, ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-3, atol=1e-4, err_msg=variable.path)
