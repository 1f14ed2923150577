"""Layers: lazy build, weights, names, configs, values against NumPy, argument errors."""

import numpy as np
import pytest

from gpunet import Tensor, backend, layers, ops
from gpunet.layers import Activation, Dense, Dropout, Flatten, Input, InputLayer
from gpunet.utils import clear_session


def test_dense_builds_lazily_with_kernel_in_out(xp):
    d = Dense(4, activation="tanh")
    assert not d.built and d.weights == []
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    y = d(backend.to_device(x))
    assert d.built and d.kernel.shape == (5, 4) and d.bias.shape == (4,)
    assert [w.name for w in d.weights] == [f"{d.name}/kernel", f"{d.name}/bias"]
    expected = np.tanh(x.astype(np.float64) @ backend.to_host(d.kernel.data) + backend.to_host(d.bias.data))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert d.count_params() == 5 * 4 + 4


def test_dense_without_bias_and_initializers():
    d = Dense(3, use_bias=False, kernel_initializer="zeros")
    d(np.ones((2, 4), np.float32))
    assert d.bias is None and len(d.weights) == 1
    np.testing.assert_array_equal(d.kernel.numpy(), np.zeros((4, 3)))
    d2 = Dense(3, bias_initializer=0.01)
    d2(np.ones((1, 2), np.float32))
    np.testing.assert_allclose(d2.bias.numpy(), 0.01)


def test_auto_names_are_unique_like_keras():
    clear_session()
    names = [Dense(1).name, Dense(1).name, Dropout(0.1).name, Dense(1).name, Activation("relu").name]
    assert names == ["dense", "dense_1", "dropout", "dense_2", "activation"]


def test_activations_by_name_and_callable():
    x = Tensor(np.array([[-1.0, 0.5, 2.0]]))
    np.testing.assert_allclose(Activation("relu")(x).numpy(), [[0, 0.5, 2.0]])
    np.testing.assert_allclose(Activation("linear")(x).numpy(), x.numpy())
    np.testing.assert_allclose(Activation("softmax")(x).numpy().sum(), 1.0)
    np.testing.assert_allclose(Activation(ops.sigmoid)(x).numpy(), 1 / (1 + np.exp(-x.numpy())))


def test_dropout_only_in_training():
    d = Dropout(0.5)
    x = Tensor(np.ones((20, 20)))
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())
    y = d(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1


def test_flatten_and_input():
    f = Flatten()
    assert f(np.zeros((2, 3, 4))).shape == (2, 12)
    assert f.compute_output_shape((None, 3, 4)) == (None, 12)
    inp = Input((28, 28))
    assert inp.shape == (None, 28, 28) and inp.dtype == "float32"  # a symbolic tensor, as Keras 3's Input
    assert isinstance(inp._keras_history[0], InputLayer) and inp._keras_history[0].batch_shape == (None, 28, 28)


def test_config_round_trip():
    for layer in (Dense(7, activation="relu", use_bias=False, kernel_initializer="he_uniform"), Dropout(0.3), Activation("tanh"), Flatten()):
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config
    assert Dense(2, activation="softmax").get_config()["activation"] == "softmax"


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: Dense(0), ValueError, "units must be a positive integer"),
        (lambda: Dense(2.5), ValueError, "units must be a positive integer"),
        (lambda: Dense(3, activation="swishy"), ValueError, r"unknown activation 'swishy'.*'relu'"),
        (lambda: Dense(3, activation=5), TypeError, "activation must be"),
        (lambda: Dropout(1.0), ValueError, r"Dropout rate must be a number in \[0, 1\)"),
        (lambda: Dropout(-0.1), ValueError, "Dropout rate"),
        (lambda: Dropout(0.5, seed=3), ValueError, "set_random_seed"),
        (lambda: Dense(3, kernel_initializer="nope"), ValueError, "unknown initializer"),
        (lambda: Dense(3, name="a/b"), ValueError, "name must be"),
        (lambda: Dense(3, foo=1), TypeError, "unexpected keyword argument"),
        (lambda: Dense(3, kernel_constraint="max_nrm"), ValueError, "unknown constraint 'max_nrm'"),
        (lambda: Dense(3, lora_rank=4), ValueError, "lora_rank is not supported"),
        (lambda: Dense(3, kernel_regularizer="l3"), ValueError, "l3"),
        (lambda: Input((0,)), ValueError, "positive integers"),
    ],
)
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_dense_rejects_wrong_feature_count():
    d = Dense(2)
    d(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="expects inputs with 3 features"):
        d(np.ones((1, 4), np.float32))


def test_layers_module_exports():
    assert {"Dense", "Dropout", "Flatten", "Activation", "Input", "InputLayer", "Layer"} <= set(layers.__all__)
