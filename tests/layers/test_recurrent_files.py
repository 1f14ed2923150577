"""Recurrent layers in model files, both ways with Keras 3, and one SGD step from Keras's weights."""

import numpy as np
import pytest
from keras_parity import assert_layer_matches_keras, import_keras

import gpunet
from gpunet import layers

T, F = 5, 3


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((6, T, F)).astype("float32"), rng.standard_normal((6, 2)).astype("float32")


@pytest.mark.parametrize("make", [
    lambda: layers.LSTM(4),
    lambda: layers.GRU(4, go_backwards=True),
    pytest.param(lambda: layers.GRU(4, reset_after=False), marks=pytest.mark.slow),
    pytest.param(lambda: layers.SimpleRNN(4), marks=pytest.mark.slow),
    lambda: layers.Bidirectional(layers.LSTM(3)),
], ids=["lstm", "gru", "gru_before", "simple_rnn", "bidirectional"])
def test_sequential_files_and_step_match_keras(keras, tmp_path, make):
    x, y = _data()

    def build():
        return gpunet.Sequential([gpunet.Input((T, F)), make(), layers.Dense(2)])

    assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path)


def test_functional_with_states_and_stacked_layers_match_keras(keras, tmp_path):
    x, y = _data(1)

    def build():
        inputs = gpunet.Input((T, F))
        sequence, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(inputs)
        last = layers.GRU(3)(sequence, initial_state=[layers.Dense(3)(h)])
        joined = layers.Concatenate()([last, c])
        return gpunet.Model(inputs, layers.Dense(2)(joined))

    assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path)


@pytest.mark.parametrize("make", [lambda: layers.RNN(layers.LSTMCell(4), go_backwards=True),
                                  pytest.param(lambda: layers.RNN([layers.GRUCell(3), layers.SimpleRNNCell(4)]),
                                               marks=pytest.mark.slow)],
                         ids=["rnn_cell", "stacked_cells"])
def test_rnn_of_cells_files_and_step_match_keras(keras, tmp_path, make):
    x, y = _data(2)

    def build():
        return gpunet.Sequential([gpunet.Input((T, F)), make(), layers.Dense(2)])

    assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path)
