"""The convolutional, pooling, normalization and reshaping layers against the real Keras 3, both ways.

For each architecture: gpunet builds and trains a model and saves it (``.h5``); Keras loads it and
predicts the same to 1e-5; Keras then changes every weight, trains a step (BatchNormalization's
moving statistics move too) and saves; gpunet loads Keras's file and predicts what Keras predicts.
Keras's JAX backend on the CPU; skipped where Keras is not installed.
"""

import os

os.environ["KERAS_BACKEND"] = "jax"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("jax", reason="the Keras compatibility tests run Keras 3 on JAX: pip install -e '.[keras]'")
keras = pytest.importorskip("keras", minversion="3.0", reason="Keras 3 is a test extra: pip install -e '.[keras]'")

import gpunet  # noqa: E402
from gpunet import layers as L  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
ATOL = 1e-5

ARCHITECTURES = {
    "conv2d-valid-maxpool": ((9, 8, 3), lambda: [
        L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(3, activation="softmax")]),
    "conv2d-same-strides-avgpool": ((9, 7, 2), lambda: [
        L.Conv2D(5, (3, 2), strides=2, padding="same", activation="tanh"), L.AveragePooling2D(2, padding="same"),
        L.GlobalMaxPooling2D(), L.Dense(3, activation="softmax")]),
    "conv2d-dilation-global-average": ((10, 9, 2), lambda: [
        L.Conv2D(4, 3, dilation_rate=2, use_bias=False, activation="sigmoid"), L.GlobalAveragePooling2D(keepdims=True),
        L.Flatten(), L.Dense(2)]),
    "conv2d-overlapping-pools": ((11, 11, 1), lambda: [
        L.Conv2D(3, 2), L.Activation("relu"), L.MaxPooling2D(3, strides=2, padding="same"),
        L.AveragePooling2D((2, 3), strides=(1, 2)), L.Flatten(), L.Dense(2, activation="sigmoid")]),
    "conv1d": ((12, 3), lambda: [
        L.Conv1D(4, 3, padding="causal", activation="relu"), L.MaxPooling1D(2), L.Conv1D(3, 2, strides=2, padding="same"),
        L.AveragePooling1D(2, padding="same"), L.GlobalMaxPooling1D(), L.Dense(3, activation="softmax")]),
    "conv1d-dilated-global-average": ((12, 2), lambda: [
        L.Conv1D(3, 3, dilation_rate=2, activation="tanh"), L.GlobalAveragePooling1D(), L.Dense(2)]),
    "batch-normalization": ((8, 8, 2), lambda: [
        L.Conv2D(4, 3, use_bias=False), L.BatchNormalization(), L.Activation("relu"), L.Flatten(),
        L.Dense(6), L.BatchNormalization(momentum=0.9, epsilon=1e-2), L.Dense(3, activation="softmax")]),
    "batch-normalization-no-center-scale": ((6,), lambda: [
        L.Dense(5), L.BatchNormalization(center=False), L.Dense(4), L.BatchNormalization(scale=False), L.Dense(2)]),
    # (not axis=[1, 2, 3]: Keras 3.15's own .h5 reader drops an axis list of several entries)
    "layer-normalization": ((6, 5, 2), lambda: [
        L.Conv2D(3, 2), L.LayerNormalization(), L.Flatten(), L.Dense(4),
        L.LayerNormalization(axis=[1], epsilon=1e-2), L.Dense(3, activation="softmax")]),
    "reshape-and-padding": ((24,), lambda: [
        L.Reshape((4, 6, 1)), L.ZeroPadding2D(((1, 0), (2, 1))), L.Conv2D(2, 3), L.Reshape((-1, 2)),
        L.ZeroPadding1D((2, 1)), L.Conv1D(2, 2), L.Flatten(), L.Dense(3, activation="softmax")]),
    "channels-first": ((2, 7, 6), lambda: [
        L.Conv2D(3, 3, data_format="channels_first", activation="relu"),
        L.MaxPooling2D(2, data_format="channels_first"), L.ZeroPadding2D(1, data_format="channels_first"),
        L.GlobalAveragePooling2D(data_format="channels_first"), L.Dense(2)]),
    "channels-first-flatten": ((2, 6, 5), lambda: [
        L.Conv2D(3, 2, data_format="channels_first"), L.Flatten(data_format="channels_first"), L.Dense(2)]),
    "regularizers": ((6,), lambda: [
        # (biases start at 0.05: at exactly 0 the L1 gradient is 0 in gpunet, TensorFlow and PyTorch, 1 in JAX)
        L.Dense(5, activation="relu", kernel_regularizer=gpunet.regularizers.L2(0.01), bias_regularizer="l1", bias_initializer=0.05,
                activity_regularizer=gpunet.regularizers.L1L2(l1=0.001, l2=0.002)),
        L.Dense(3, activation="softmax", kernel_regularizer=gpunet.regularizers.L1(0.003))]),
}


def build(arch, seed=0):
    gpunet.utils.set_random_seed(seed)
    shape, make = ARCHITECTURES[arch]
    return gpunet.Sequential([L.Input(shape), *make()])


def data(model, n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *model.input_shape[1:])).astype(np.float32)
    outputs = model.output_shape[-1]
    if model.layers[-1].get_config().get("activation") == "softmax":
        return x, rng.integers(0, outputs, n), "sparse_categorical_crossentropy"
    return x, rng.uniform(0.1, 0.9, (n, outputs)).astype(np.float32), "mse"


def keras_predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_gpunet_to_keras_and_back(arch, tmp_path):
    model = build(arch)
    x, y, loss = data(model)
    model.compile(optimizer=gpunet.optimizers.Adam(0.01), loss=loss)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)  # moves every weight, BatchNormalization's statistics too
    model.save(tmp_path / "g.h5")
    ours = model.predict(x)

    theirs = keras.models.load_model(tmp_path / "g.h5", compile=False)
    assert [type(layer).__name__ for layer in theirs.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_allclose(keras_predict(theirs, x), ours, rtol=0, atol=ATOL, err_msg="Keras loading gpunet's file")
    other = keras.models.clone_model(theirs)
    other.load_weights(tmp_path / "g.h5")  # Keras's load_weights on gpunet's full file
    np.testing.assert_allclose(keras_predict(other, x), ours, rtol=0, atol=ATOL)

    rng = np.random.default_rng(1)
    theirs.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) if "variance" not in v.path
                        else w * rng.uniform(0.5, 2.0, w.shape).astype(w.dtype)
                        for v, w in zip(theirs.weights, theirs.get_weights())])
    theirs.compile(optimizer="sgd", loss=loss)
    theirs.fit(x, y, epochs=1, batch_size=8, verbose=0)  # Keras's BatchNormalization updates its moving statistics
    theirs.save(tmp_path / "k.h5")
    back = gpunet.load_model(tmp_path / "k.h5", compile=False)
    np.testing.assert_allclose(back.predict(x), keras_predict(theirs, x), rtol=0, atol=ATOL, err_msg="gpunet loading Keras's file")
    assert not np.allclose(back.predict(x), ours, atol=ATOL)  # Keras's weights, not ours
    model.load_weights(tmp_path / "k.h5")
    np.testing.assert_allclose(model.predict(x), keras_predict(theirs, x), rtol=0, atol=ATOL)


def keras_twin(model, folder):
    """The same model, weights included, in Keras (through gpunet's .h5 file)."""
    model.save(folder / "twin.h5")
    return keras.models.load_model(folder / "twin.h5", compile=False)


@pytest.mark.parametrize("arch", ["batch-normalization", "batch-normalization-no-center-scale"])
def test_batch_normalization_trains_as_keras(arch, tmp_path):
    """One training step of Keras and of gpunet from the same weights: the same moving statistics
    (Keras's update rule) and the same weights after the step."""
    model = build(arch)
    x, y, loss = data(model, n=16)
    theirs = keras_twin(model, tmp_path)
    model.compile(optimizer=gpunet.optimizers.SGD(0.1), loss=loss)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for ours, keras_weight in zip(model.weights, theirs.weights):
        np.testing.assert_allclose(ours.numpy(), np.asarray(keras_weight), rtol=1e-4, atol=1e-5, err_msg=ours.name)


def test_regularization_enters_the_loss_as_in_keras(tmp_path):
    """Weight and activity regularization (divided by the batch size) in the reported loss, in
    evaluate and in a training step, as Keras computes them."""
    model = build("regularizers")
    x, y, loss = data(model)
    theirs = keras_twin(model, tmp_path)
    model.compile(optimizer=gpunet.optimizers.SGD(0.1), loss=loss)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    unregularized = gpunet.Sequential([L.Input((6,)), L.Dense(5, activation="relu"), L.Dense(3, activation="softmax")])
    unregularized.set_weights(model.get_weights())
    unregularized.compile(optimizer="sgd", loss=loss)
    evaluated = model.evaluate(x, y, batch_size=24, verbose=0)
    assert evaluated > unregularized.evaluate(x, y, batch_size=24, verbose=0) + 1e-3  # the penalties are in it
    np.testing.assert_allclose(evaluated, theirs.evaluate(x, y, batch_size=24, verbose=0), rtol=1e-5)
    ours = model.fit(x, y, epochs=1, batch_size=24, shuffle=False, verbose=0).history["loss"][0]
    keras_loss = theirs.fit(x, y, epochs=1, batch_size=24, shuffle=False, verbose=0).history["loss"][0]
    np.testing.assert_allclose(ours, keras_loss, rtol=1e-5)
    for got, want in zip(model.get_weights(), theirs.get_weights()):  # the penalties' gradients too
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
