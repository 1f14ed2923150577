"""Convolutional, pooling, normalization and reshaping layers: shapes, Keras's parameter counts,
data formats, training behaviour, bad arguments. (The ops' values and gradients are checked in
tests/ops; the layers against the real Keras in tests/saving/test_keras_layers.py.)"""

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, backend
from gpunet import layers as L
from gpunet.autograd import Tape
from gpunet.utils import set_random_seed

SIMPLE_CONVNET = lambda: [L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),  # noqa: E731
                          L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dropout(0.5),
                          L.Dense(10, activation="softmax")]


def test_the_simple_convnet_has_keras_shapes_and_parameter_counts():
    """Keras's summary of its "simple MNIST convnet" example: 320, 18,496, 16,010 = 34,826 parameters."""
    model = Sequential(SIMPLE_CONVNET())
    shapes, counts = [], []
    shape = model.input_shape
    for layer in model.layers:
        shape = layer.compute_output_shape(shape)
        shapes.append(shape)
        counts.append(layer.count_params())
    assert shapes == [(None, 26, 26, 32), (None, 13, 13, 32), (None, 11, 11, 64), (None, 5, 5, 64), (None, 1600),
                      (None, 1600), (None, 10)]
    assert counts == [320, 0, 18496, 0, 0, 0, 16010] and model.count_params() == 34826
    assert [w.shape for w in model.weights[:2]] == [(3, 3, 1, 32), (32,)]  # Keras's kernel layout
    lines = []
    model.summary(print_fn=lines.append)
    assert any("(None, 11, 11, 64)" in line and "18,496" in line for line in lines)


CASES = [
    ((10, 9, 3), lambda: L.Conv2D(4, (3, 2), strides=(2, 1), padding="same")),
    ((10, 9, 3), lambda: L.Conv2D(4, 3, dilation_rate=2)),
    ((3, 10, 9), lambda: L.Conv2D(4, 3, data_format="channels_first", padding="same")),
    ((12, 3), lambda: L.Conv1D(5, 4, padding="causal")),
    ((12, 3), lambda: L.Conv1D(5, 4, strides=3)),
    ((9, 7, 2), lambda: L.MaxPooling2D(3, strides=2, padding="same")),
    ((9, 7, 2), lambda: L.AveragePooling2D((2, 3))),
    ((11, 2), lambda: L.MaxPooling1D(2, padding="same")),
    ((11, 2), lambda: L.AveragePooling1D(3, strides=1)),
    ((9, 7, 2), lambda: L.GlobalAveragePooling2D(keepdims=True)),
    ((2, 9, 7), lambda: L.GlobalMaxPooling2D(data_format="channels_first")),
    ((11, 2), lambda: L.GlobalMaxPooling1D()),
    ((9, 7, 2), lambda: L.ZeroPadding2D(((1, 2), (0, 3)))),
    ((11, 2), lambda: L.ZeroPadding1D((2, 0))),
    ((24,), lambda: L.Reshape((2, -1, 3))),
    ((9, 7, 2), lambda: L.BatchNormalization()),
    ((9, 7, 2), lambda: L.LayerNormalization(axis=[1, 2])),
]


@pytest.mark.parametrize("shape,make", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_compute_output_shape_is_the_shape_computed(shape, make, xp):
    layer = make()
    x = backend.to_device(np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32))
    y = layer(x, training=True)
    assert (None, *y.shape[1:]) == layer.compute_output_shape((None, *shape))
    assert y.shape[0] == 2


def test_channels_first_computes_what_channels_last_computes():
    x = np.random.default_rng(1).standard_normal((2, 8, 7, 3)).astype(np.float32)
    set_random_seed(0)
    last = Sequential([L.Input((8, 7, 3)), L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
                       L.ZeroPadding2D(1), L.AveragePooling2D(2, padding="same"), L.Flatten()])
    first = Sequential([L.Input((3, 8, 7)), L.Conv2D(4, 3, padding="same", activation="relu", data_format="channels_first"),
                        L.MaxPooling2D(2, data_format="channels_first"), L.ZeroPadding2D(1, data_format="channels_first"),
                        L.AveragePooling2D(2, padding="same", data_format="channels_first"),
                        L.Flatten(data_format="channels_first")])
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(first.predict(x.transpose(0, 3, 1, 2)), last.predict(x), rtol=1e-5, atol=1e-6)


def test_batch_normalization_uses_batch_statistics_in_training_and_moving_ones_after():
    set_random_seed(0)
    x = (np.random.default_rng(2).standard_normal((64, 5)) * 3 + 7).astype(np.float32)
    y = np.random.default_rng(3).integers(0, 2, 64)
    model = Sequential([L.Input((5,)), L.BatchNormalization(momentum=0.5), L.Dense(2, activation="softmax")])
    model.compile(optimizer=gpunet.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0)  # three steps on the same batch
    bn = model.layers[0]
    mean, var = x.astype(np.float64).mean(0), x.astype(np.float64).var(0)
    expected_mean = mean * (1 - 0.5 ** 3)  # from 0: m <- 0.5 m + 0.5 mean, three times
    expected_var = 0.5 ** 3 + var * (1 - 0.5 ** 3)  # from 1
    np.testing.assert_allclose(bn.moving_mean.numpy(), expected_mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), expected_var, rtol=1e-5)
    # inference normalises with the moving statistics, not the batch's
    normalized = (x - expected_mean) / np.sqrt(expected_var + 1e-3)
    kernel, bias = model.layers[1].get_weights()
    logits = normalized @ kernel + bias
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x), probabilities, rtol=1e-4, atol=1e-6)
    assert "batch_normalization/moving_mean" not in model.optimizer.get_state()["slots"]


def test_a_frozen_batch_normalization_runs_in_inference_mode():
    set_random_seed(0)
    x = np.random.default_rng(2).standard_normal((32, 4)).astype(np.float32) + 5
    y = np.random.default_rng(3).integers(0, 2, 32)
    model = Sequential([L.Input((4,)), L.BatchNormalization(), L.Dense(2, activation="softmax")])
    model.layers[0].trainable = False
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(model.layers[0].moving_mean.numpy(), np.zeros(4))  # as Keras: frozen = inference


def test_a_recorded_convnet_step_replays_bitwise_like_eager():
    """Conv, pooling, batch normalization (its moving statistics updated at each replay), dropout:
    the same weights and statistics after training with the tape and with run_eagerly=True."""
    x = np.random.default_rng(4).random((40, 10, 10, 1), dtype=np.float32)
    y = np.random.default_rng(5).integers(0, 3, 40)
    results = []
    for eager in (True, False):
        set_random_seed(6)
        model = Sequential([L.Input((10, 10, 1)), L.Conv2D(4, 3, use_bias=False), L.BatchNormalization(),
                            L.Activation("relu"), L.MaxPooling2D(2), L.Conv2D(3, 2, padding="same", activation="tanh"),
                            L.GlobalAveragePooling2D(), L.Dropout(0.3), L.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=eager)
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        results.append(model.get_weights())
    for got, want in zip(*results):
        np.testing.assert_array_equal(got, want)


def test_the_tape_records_each_convolution_op_once():
    model = Sequential(SIMPLE_CONVNET())
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    recordings = []
    original = Tape.record.__func__
    Tape.record = classmethod(lambda cls, *a, **k: recordings.append(1) or original(cls, *a, **k))
    try:
        model.fit(np.zeros((16, 28, 28, 1), np.float32), np.zeros(16, np.int64), batch_size=8, verbose=0)
    finally:
        Tape.record = classmethod(original)
    assert recordings == [1]


@pytest.mark.parametrize("make,shape,error,text", [
    (lambda: L.Conv2D(4, 3), (None, 28, 28), ValueError, "rank 4"),
    (lambda: L.Conv2D(4, 7), (None, 5, 5, 1), ValueError, "kernel"),
    (lambda: L.Conv2D(4, 0), None, ValueError, "kernel_size"),
    (lambda: L.Conv2D(4, 3, strides=0), None, ValueError, "strides"),
    (lambda: L.Conv2D(4, 3, strides=-1), None, ValueError, "strides"),
    (lambda: L.Conv2D(4, 3, strides=2, dilation_rate=2), None, ValueError, "dilation_rate"),
    (lambda: L.Conv2D(4, 3, padding="causal"), None, ValueError, "padding"),
    (lambda: L.Conv2D(4, 3, data_format="channels_middle"), None, ValueError, "data_format"),
    (lambda: L.Conv2D(0, 3), None, ValueError, "filters"),
    (lambda: L.Conv2D(4, 3, groups=3), None, ValueError, "groups"),
    (lambda: L.Conv2D(4, 3, groups=2), (None, 8, 8, 3), ValueError, "groups"),
    (lambda: L.Conv1D(4, 3), (None, 8, 8, 2), ValueError, "rank 3"),
    (lambda: L.MaxPooling2D(4), (None, 3, 3, 1), ValueError, "pool_size"),
    (lambda: L.MaxPooling2D(2, padding="full"), None, ValueError, "padding"),
    (lambda: L.AveragePooling1D(0), None, ValueError, "pool_size"),
    (lambda: L.GlobalAveragePooling2D(data_format="NHWC"), None, ValueError, "data_format"),
    (lambda: L.BatchNormalization(momentum=1.5), None, ValueError, "momentum"),
    (lambda: L.BatchNormalization(axis=0), (None, 4), ValueError, "axis"),
    (lambda: L.BatchNormalization(renorm=True), None, ValueError, "renorm"),
    (lambda: L.LayerNormalization(axis="last"), None, ValueError, "axis"),
    (lambda: L.Reshape((5, 5)), (None, 24), ValueError, "cannot reshape"),
    (lambda: L.Reshape((-1, -1)), None, ValueError, "target_shape"),
    (lambda: L.ZeroPadding2D(-1), None, ValueError, "padding"),
    (lambda: L.Flatten(data_format="channels_middle"), None, ValueError, "data_format"),
])
def test_bad_arguments_are_refused_clearly(make, shape, error, text):
    with pytest.raises(error, match=text):
        layer = make()
        layer.ensure_built(shape)
