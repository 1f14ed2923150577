"""Masking, RepeatVector and TimeDistributed: values against float64 NumPy formulas, gradients by
finite differences, masks, configs and bad arguments; against the real Keras 3, files both ways
and one SGD step (TimeDistributed around Dense, Conv2D and BatchNormalization)."""

import numpy as np
import pytest

import gpunet
from gpunet import Tensor, backend
from gpunet import layers as L
from keras_parity import assert_layer_matches_keras, import_keras


def host(t):
    return backend.to_host(t.data if isinstance(t, Tensor) else t)


def padded(rng, shape=(4, 5, 3)):
    x = rng.standard_normal(shape).astype("float32")
    x[0, 3:] = 0.0
    x[2, :2] = 0.0
    x[1, 1, 0] = 0.0  # one zero feature alone: the step stays
    return x


# -- values, gradients, masks (gpunet alone) -------------------------------------------------------
def test_masking_zeroes_and_masks_the_steps_whose_features_all_equal_mask_value(xp, rng):
    x = padded(rng)
    x[3, 4] = 0.5
    for value in (0.0, 0.5):
        layer = L.Masking(mask_value=value)
        out = layer(xp.asarray(x))
        kept = (x != value).any(axis=-1)
        np.testing.assert_array_equal(host(out), np.where(kept[..., None], x, 0.0))
        np.testing.assert_array_equal(host(out._keras_mask), kept)
    assert host(L.Masking()(xp.asarray(x))._keras_mask).sum() == 20 - 4  # steps (0,3), (0,4), (2,0), (2,1)


def test_repeat_vector_values_and_gradient(xp, rng):
    x = rng.standard_normal((3, 4))
    out = L.RepeatVector(5, dtype="float64")(xp.asarray(x))
    np.testing.assert_array_equal(host(out), np.repeat(x[:, None, :], 5, axis=1))
    assert gpunet.gradcheck(lambda a: L.RepeatVector(3, dtype="float64")(a), [x])


def test_time_distributed_dense_is_the_dense_of_every_step(xp, rng):
    x = rng.standard_normal((2, 4, 3))
    layer = L.TimeDistributed(L.Dense(5, activation="tanh", dtype="float64"), dtype="float64")
    out = layer(xp.asarray(x))
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(host(out), np.tanh(x @ kernel + bias), rtol=1e-12)
    assert [w.name for w in layer.weights] == [layer.layer.kernel.name, layer.layer.bias.name]
    assert layer.compute_output_shape((None, 4, 3)) == (None, 4, 5)
    assert gpunet.gradcheck(lambda a, k: gpunet.ops.tanh(gpunet.ops.matmul(a, k)), [x, kernel])  # the reference's own
    assert gpunet.gradcheck(lambda a: layer(a), [x])


def test_time_distributed_conv2d_is_the_convolution_of_every_frame(rng):
    x = rng.standard_normal((2, 3, 6, 6, 2)).astype("float32")
    inner = L.Conv2D(4, 3, padding="same")
    layer = L.TimeDistributed(inner)
    out = host(layer(x))
    for step in range(3):
        np.testing.assert_allclose(out[:, step], host(inner(x[:, step])), rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape((None, 3, 6, 6, 2)) == (None, 3, 6, 6, 4)


def test_time_distributed_hands_the_mask_on():
    x = np.ones((2, 3, 4), "float32")
    x[1, 2] = 0
    out = L.TimeDistributed(L.Dense(2))(L.Masking()(x))
    np.testing.assert_array_equal(host(out._keras_mask), [[True, True, True], [True, True, False]])
    assert getattr(L.RepeatVector(2)(L.GlobalAveragePooling1D()(L.Masking()(x))), "_keras_mask", None) is None


def test_configs_round_trip_and_bad_arguments():
    for layer in (L.Masking(mask_value=-1.0), L.RepeatVector(4), L.TimeDistributed(L.Dense(3, activation="relu"))):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
        assert gpunet.layers.deserialize(gpunet.layers.serialize(layer)).get_config() == config
    with pytest.raises(ValueError, match="layer"):
        L.TimeDistributed("dense")
    with pytest.raises(ValueError, match="3 dimensions"):
        L.TimeDistributed(L.Dense(2))(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="n must"):
        L.RepeatVector(0)
    with pytest.raises(TypeError, match="n must"):
        L.RepeatVector(2.0)
    with pytest.raises(ValueError, match="batch, features"):
        L.RepeatVector(2)(np.ones((2, 3, 4), "float32"))
    with pytest.raises(TypeError, match="mask_value"):
        L.Masking(mask_value="zero")


# -- against Keras 3 ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    return import_keras()


def test_masking_time_distributed_dense_and_masked_pooling_match_keras(keras, rng, tmp_path):
    x, y = padded(rng), rng.standard_normal((4, 2)).astype("float32")

    def build():
        return gpunet.Sequential([gpunet.Input((5, 3)), L.Masking(), L.TimeDistributed(L.Dense(4, activation="tanh")),
                                  L.GlobalAveragePooling1D(), L.Dense(2)])

    _, theirs = assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path)
    mask = keras.layers.Masking().compute_mask(x)
    np.testing.assert_array_equal(host(L.Masking().compute_mask(Tensor(x))), np.asarray(mask))
    unmasked = gpunet.Sequential([gpunet.Input((5, 3)), L.TimeDistributed(L.Dense(4, activation="tanh")),
                                  L.GlobalAveragePooling1D(), L.Dense(2)])
    unmasked.set_weights(theirs.get_weights())
    assert np.abs(unmasked.predict(x, verbose=0) - np.asarray(theirs.predict(x, verbose=0))).max() > 1e-3


def test_a_functional_masking_model_matches_keras_files_and_a_step(keras, rng, tmp_path):
    """Keras's functional files record the mask's ops (NotEqual, Any) as nodes and pass the mask
    to TimeDistributed and the pooling as a keyword: gpunet replays them."""
    x, y = padded(rng), rng.standard_normal((4, 2)).astype("float32")

    def build():
        steps = gpunet.Input((5, 3))
        hidden = L.TimeDistributed(L.Dense(4, activation="tanh"))(L.Masking()(steps))
        return gpunet.Model(steps, L.Dense(2)(L.GlobalAveragePooling1D()(hidden)))

    assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path)


def test_repeat_vector_and_time_distributed_dense_match_keras(keras, rng, tmp_path):
    x, y = rng.standard_normal((4, 3)).astype("float32"), rng.standard_normal((4, 6, 2)).astype("float32")

    def build():
        return gpunet.Sequential([gpunet.Input((3,)), L.Dense(4, activation="relu"), L.RepeatVector(6),
                                  L.TimeDistributed(L.Dense(2))])

    assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path)


def test_time_distributed_conv2d_matches_keras(keras, rng, tmp_path):
    x, y = rng.standard_normal((2, 3, 6, 6, 2)).astype("float32"), rng.integers(0, 2, 2)

    def build():
        frames = gpunet.Input((3, 6, 6, 2))
        features = L.TimeDistributed(L.Conv2D(3, 3, activation="relu"))(frames)
        pooled = L.TimeDistributed(L.GlobalAveragePooling2D())(features)
        return gpunet.Model(frames, L.Dense(2, activation="softmax")(L.Flatten()(pooled)))

    assert_layer_matches_keras(keras, build, x, y, "sparse_categorical_crossentropy", tmp_path)


def test_time_distributed_batch_normalization_trains_step_by_step_as_keras(keras, rng, tmp_path):
    x, y = rng.standard_normal((6, 4, 3)).astype("float32") * 2 + 1, rng.standard_normal((6, 1)).astype("float32")

    def build():
        return gpunet.Sequential([gpunet.Input((4, 3)), L.TimeDistributed(L.BatchNormalization()), L.Flatten(),
                                  L.Dense(1)])

    ours, _ = assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path, formats=(".keras",))
    assert len(ours.layers[0].weights) == 4  # gamma, beta, moving mean, moving variance
