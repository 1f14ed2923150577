"""Categorical cross-entropy on outputs with a time axis (batch, steps, classes), as sequence
models (a decoder's softmax at every step) train: Keras's values, the fused softmax included."""

import os

import numpy as np
import pytest

import gpunet
from gpunet import backend, gradcheck, losses

RNG = np.random.default_rng(3)
LOGITS = RNG.normal(size=(4, 6, 5)).astype(np.float32)
TARGETS = np.eye(5, dtype=np.float32)[RNG.integers(0, 5, size=(4, 6))]


def reference(probabilities, targets):
    """float64: the mean over every (sample, step) of -sum_c t_c log p_c."""
    return float(np.mean(-(targets * np.log(probabilities.astype(np.float64))).sum(axis=-1)))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("from_logits", [False, True])
def test_loss_averages_every_position(from_logits):
    output = LOGITS if from_logits else softmax(LOGITS)
    value = losses.CategoricalCrossentropy(from_logits=from_logits)(TARGETS, output)
    assert float(backend.to_host(value.data)) == pytest.approx(reference(softmax(LOGITS), TARGETS), rel=1e-5)
    per_position = losses.CategoricalCrossentropy(reduction="none")(TARGETS, softmax(LOGITS))
    assert per_position.shape == (4, 6)


def test_logits_gradient_by_finite_differences():
    loss = losses.CategoricalCrossentropy(from_logits=True)
    targets = gpunet.Tensor(TARGETS.astype(np.float64))
    gradcheck(lambda z: loss(targets, z), [gpunet.Tensor(LOGITS.astype(np.float64), requires_grad=True)])


def test_fit_and_evaluate_of_a_softmax_over_steps():
    """The softmax folded into the loss (fused) must act over the classes at each step."""
    gpunet.utils.set_random_seed(0)
    inputs = gpunet.Input((6, 5))
    model = gpunet.Model(inputs, gpunet.layers.Dense(5, activation="softmax")(inputs))
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    probabilities = backend.to_host(model.predict(TARGETS, verbose=0))
    assert model.evaluate(TARGETS, TARGETS, verbose=0) == pytest.approx(reference(probabilities, TARGETS), rel=1e-5)


def test_same_as_keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("jax", reason="the Keras comparison runs Keras 3 on JAX")
    keras = pytest.importorskip("keras", minversion="3.0")
    for from_logits in (False, True):
        output = LOGITS if from_logits else softmax(LOGITS)
        expected = float(keras.losses.CategoricalCrossentropy(from_logits=from_logits)(TARGETS, output))
        ours = losses.CategoricalCrossentropy(from_logits=from_logits)(TARGETS, output)
        assert float(backend.to_host(ours.data)) == pytest.approx(expected, rel=1e-5)
