"""Embedding against the real Keras 3 (on JAX): files both ways and one SGD step, masks as Keras
propagates them, one epoch of fit on integer ids, and the config Keras writes."""

import numpy as np
import pytest

import gpunet
from gpunet import layers as L
from keras_parity import assert_layer_matches_keras, import_keras


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def ids(rng, n=8, steps=6, vocabulary=20):
    x = rng.integers(1, vocabulary, (n, steps)).astype("int32")
    x[np.arange(steps) >= rng.integers(1, steps + 1, n)[:, None]] = 0  # padding at the end
    return x


def model(lib, mask_zero=True, steps=6, middle=()):
    return lib.Sequential([lib.Input((steps,), dtype="int32"), lib.layers.Embedding(20, 4, mask_zero=mask_zero),
                           *middle, lib.layers.GlobalAveragePooling1D(), lib.layers.Dense(3, activation="softmax")])


@pytest.mark.parametrize("mask_zero", [True, False])
def test_embedding_pooling_dense_matches_keras_files_and_a_step(keras, rng, tmp_path, mask_zero):
    x, y = ids(rng), rng.integers(0, 3, 8)
    assert_layer_matches_keras(keras, lambda: model(gpunet, mask_zero), x, y, "sparse_categorical_crossentropy", tmp_path)


def test_a_functional_model_on_int32_ids_matches_keras_files_and_a_step(keras, rng, tmp_path):
    x, y = ids(rng), rng.standard_normal((8, 2)).astype("float32")

    def build():
        tokens = gpunet.Input((6,), dtype="int32", name="tokens")
        vectors = L.Embedding(20, 4, mask_zero=True)(tokens)
        return gpunet.Model(tokens, L.Dense(2)(L.GlobalAveragePooling1D()(vectors)))

    ours, _ = assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path)  # Keras's file has a NotEqual node
    assert ours.flat_input_dtypes() == ["int32"]


def test_the_mask_passes_through_dense_to_the_pooling_as_in_keras(keras, rng):
    x = ids(rng)
    theirs = model(keras, middle=[keras.layers.Dense(5, activation="tanh")])
    ours = model(gpunet, middle=[gpunet.layers.Dense(5, activation="tanh")])
    ours.set_weights(theirs.get_weights())
    expected = np.asarray(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    unmasked = model(gpunet, mask_zero=False, middle=[gpunet.layers.Dense(5, activation="tanh")])
    unmasked.set_weights(theirs.get_weights())
    assert np.abs(unmasked.predict(x, verbose=0) - expected).max() > 1e-3  # the mask changed the mean
    embedding = keras.layers.Embedding(20, 4, mask_zero=True)
    np.testing.assert_array_equal(gpunet.backend.to_host(L.Embedding(20, 4, mask_zero=True).compute_mask(
        gpunet.Tensor(x)).data), np.asarray(embedding.compute_mask(x)))


def test_one_epoch_of_fit_on_integer_ids_lands_where_keras_does(keras, rng):
    x, y = ids(rng, n=40, steps=7), rng.integers(0, 3, 40)
    theirs, ours = model(keras, steps=7), model(gpunet, steps=7)
    ours.set_weights(theirs.get_weights())
    for m, lib in ((theirs, keras), (ours, gpunet)):
        m.compile(optimizer=lib.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    h_theirs = theirs.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    h_ours = ours.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=1e-5)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.abs(ours.get_weights()[0] - model(keras, steps=7).get_weights()[0]).max() > 1e-3


def test_the_config_has_keras_keys_and_keras_reads_it(keras):
    ours = L.Embedding(20, 4, mask_zero=True, embeddings_regularizer="l2", name="emb").get_config()
    theirs = keras.layers.Embedding(20, 4, mask_zero=True, embeddings_regularizer="l2", name="emb").get_config()
    assert sorted(ours) == sorted(theirs)
    for key in ("input_dim", "output_dim", "mask_zero", "embeddings_constraint", "quantization_config"):
        assert ours[key] == theirs[key], key
    for key in ("embeddings_initializer", "embeddings_regularizer"):  # Keras adds module and registered_name
        assert {k: ours[key][k] for k in ("class_name", "config")} == {k: theirs[key][k] for k in ("class_name", "config")}
    assert keras.layers.Embedding.from_config(ours).get_config()["mask_zero"] is True


def test_a_sequential_without_input_builds_from_the_ids_as_keras(keras, rng):
    x = ids(rng)
    theirs = keras.Sequential([keras.layers.Embedding(20, 4), keras.layers.Flatten(), keras.layers.Dense(2)])
    ours = gpunet.Sequential([L.Embedding(20, 4), L.Flatten(), L.Dense(2)])
    expected = np.asarray(theirs.predict(x, verbose=0))
    got = ours.predict(x, verbose=0)  # built from the data's shape
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert got.shape == expected.shape and ours.input_shape == (None, 6)
