"""Sequential: structure, forward, weights, compile, config, summary."""

import json

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, losses, optimizers
from gpunet.layers import Activation, Dense, Dropout, Input
from gpunet.utils import clear_session


def mlp():
    return Sequential([Input((4,)), Dense(8, activation="relu"), Dropout(0.5), Dense(3, activation="softmax")])


def test_builds_from_input_layer_and_layers_exclude_it():
    m = mlp()
    assert m.built and len(m.layers) == 3
    assert m.input_shape == (None, 4) and m.output_shape == (None, 3)
    assert m.count_params() == 4 * 8 + 8 + 8 * 3 + 3


def test_builds_from_input_shape_kwarg_or_first_data():
    m = Sequential([Dense(5, input_shape=(3,)), Dense(2)])
    assert m.built and m.input_shape == (None, 3)
    lazy = Sequential([Dense(5), Dense(2)])
    assert not lazy.built
    out = lazy(np.zeros((7, 6), np.float32))
    assert out.shape == (7, 2) and lazy.input_shape == (None, 6)


def test_add_pop_and_names():
    clear_session()
    m = Sequential(name="net")
    m.add(Input((2,)))
    m.add(Dense(3))
    m.add(Dense(1))
    assert [l.name for l in m.layers] == ["dense", "dense_1"]
    popped = m.pop()
    assert popped.name == "dense_1" and len(m.layers) == 1
    with pytest.raises(ValueError, match="unique names"):
        m.add(Dense(2, name="dense"))
    with pytest.raises(ValueError, match="Input layer can only be the first"):
        m.add(Input((2,)))
    with pytest.raises(TypeError, match="expects a gpunet layer"):
        m.add("dense")
    with pytest.raises(ValueError, match="no layer to remove"):
        Sequential().pop()


def test_call_runs_dropout_only_when_training():
    m = mlp()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    a, b = m(x).numpy(), m(x).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a.sum(1), 1, rtol=1e-6)
    assert not np.allclose(m(x, training=True).numpy(), a)


def test_get_and_set_weights_keras_order():
    m = mlp()
    w = m.get_weights()
    assert [a.shape for a in w] == [(4, 8), (8,), (8, 3), (3,)]
    assert all(isinstance(a, np.ndarray) for a in w)
    new = [np.full_like(a, i) for i, a in enumerate(w)]
    m.set_weights(new)
    for got, want in zip(m.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    w[0][...] = 99  # get_weights returns copies
    assert m.get_weights()[0][0, 0] == 0
    with pytest.raises(ValueError, match="expected 4 arrays, got 3"):
        m.set_weights(new[:3])
    with pytest.raises(ValueError, match=r"has shape \(8, 4\), expected \(4, 8\)"):
        m.set_weights([new[0].T, *new[1:]])
    with pytest.raises(ValueError, match="NaN"):
        m.set_weights([np.full((4, 8), np.nan), *new[1:]])
    np.testing.assert_array_equal(m.get_weights()[0], new[0])  # failed calls changed nothing


def test_compile_by_name_and_object():
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert isinstance(m.optimizer, optimizers.SGD) and isinstance(m.loss, losses.SparseCategoricalCrossentropy)
    assert m.output_is_fused()
    m.compile(optimizer=optimizers.Adam(1e-3), loss=losses.CategoricalCrossentropy(), metrics=["accuracy"])
    assert type(m.compiled_metrics[0]).__name__ == "CategoricalAccuracy"
    m.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    assert not m.output_is_fused()


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(optimizer="sgdd", loss="mse"), ValueError, r"unknown optimizer 'sgdd'.*'adam'"),
        (dict(optimizer="sgd", loss="hinge_loss"), ValueError, r"unknown loss 'hinge_loss'.*'mse'"),
        (dict(optimizer="sgd", loss="mse", metrics=["f1"]), ValueError, r"unknown metric 'f1'"),
        (dict(optimizer="sgd", loss="mse", metrics=["accuracy"]), ValueError, "needs a classification loss"),
        (dict(optimizer="sgd", loss="mse", loss_weights="heavy"), TypeError, "loss weight"),
        (dict(optimizer=3, loss="mse"), TypeError, "optimizer must be"),
        (dict(optimizer="sgd", loss="mse", metrics="mae", weighted_metrics=["mae"]), ValueError, "'mae' is used twice"),
    ],
)
def test_compile_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        mlp().compile(**kwargs)


def test_to_json_uses_keras_names():
    m = mlp()
    config = json.loads(m.to_json())
    assert config["class_name"] == "Sequential"
    classes = [layer["class_name"] for layer in config["config"]["layers"]]
    assert classes == ["InputLayer", "Dense", "Dropout", "Dense"]
    assert config["config"]["layers"][0]["config"]["batch_shape"] == [None, 4]
    dense = config["config"]["layers"][1]["config"]
    assert dense["units"] == 8 and dense["activation"] == "relu" and dense["use_bias"] is True


def test_summary_table():
    clear_session()
    lines = []
    m = Sequential([Input((784,)), Dense(30, activation="sigmoid"), Dense(10, activation="softmax")], name="small")
    m.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "small"' in text
    assert "dense (Dense)" in text and "(None, 30)" in text and "23,550" in text
    assert "dense_1 (Dense)" in text and "(None, 10)" in text and "310" in text
    assert "Total params: 23,860" in text and "Trainable params: 23,860" in text and "Non-trainable params: 0" in text


def test_summary_of_unbuilt_model():
    lines = []
    Sequential([Dense(3)]).summary(print_fn=lines.append)
    assert any("?" in line and "unbuilt" in line for line in lines)


def test_softmax_and_cross_entropy_fused_is_finite_for_huge_logits():
    m = Sequential([Input((2,)), Dense(2, activation="softmax")])
    m.set_weights([np.array([[1e4, -1e4], [0.0, 0.0]], np.float32), np.zeros(2, np.float32)])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss = m.evaluate(np.array([[1.0, 0.0]], np.float32), np.array([1]), verbose=0)
    np.testing.assert_allclose(loss, 2e4, rtol=1e-6)  # exact -log softmax, not inf
    assert np.isfinite(loss)


def test_activation_layer_softmax_is_fused_too():
    m = Sequential([Input((3,)), Dense(2), Activation("softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert m.output_is_fused()


def test_package_exports():
    assert gpunet.Sequential is Sequential


def test_a_model_is_a_layer_of_another():
    inner = Sequential([Input((3,)), Dense(2)])
    outer = Sequential([Input((3,)), inner, Dense(1)])
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    kernel, bias = inner.layers[0].kernel.numpy(), inner.layers[0].bias.numpy()
    k2, b2 = outer.layers[1].kernel.numpy(), outer.layers[1].bias.numpy()
    np.testing.assert_allclose(outer(x).numpy(), (x @ kernel + bias) @ k2 + b2, rtol=1e-5)
    assert outer.output_shape == (None, 1) and len(outer.weights) == 4
    with pytest.raises(ValueError, match="added to itself"):
        outer.add(outer)
