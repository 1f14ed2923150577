"""Loss objects (Keras call order, fused and unfused paths agree) and metrics against NumPy."""

import numpy as np
import pytest

from gpunet import Tensor, backend, losses, metrics, ops


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


Z = np.random.default_rng(0).standard_normal((6, 4))
LABELS = np.array([0, 3, 1, 1, 2, 0])


def test_sparse_cross_entropy_keras_order_and_reference():
    expected = -np.mean(np.log(_softmax(Z)[np.arange(6), LABELS]))
    got = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, Tensor(Z))
    np.testing.assert_allclose(got.item(), expected, rtol=1e-12)
    got = losses.get("sparse_categorical_crossentropy")(LABELS, Tensor(_softmax(Z)))
    np.testing.assert_allclose(got.item(), expected, rtol=1e-12)


@pytest.mark.parametrize("loss", [losses.SparseCategoricalCrossentropy(), losses.CategoricalCrossentropy()])
def test_fused_logits_path_equals_probability_path_with_gradients(loss):
    target = LABELS if isinstance(loss, losses.SparseCategoricalCrossentropy) else np.eye(4)[LABELS]
    z1, z2 = Tensor(Z.copy(), requires_grad=True), Tensor(Z.copy(), requires_grad=True)
    fused = loss.compute(z1, Tensor(target), logits=True)
    unfused = loss.compute(ops.softmax(z2), Tensor(target), logits=False)
    np.testing.assert_allclose(fused.item(), unfused.item(), rtol=1e-10)
    fused.backward()
    unfused.backward()
    np.testing.assert_allclose(backend.to_host(z1.grad), backend.to_host(z2.grad), rtol=1e-8, atol=1e-12)


def test_binary_cross_entropy_fused_equals_unfused():
    z = np.random.default_rng(1).standard_normal((5, 1))
    t = np.array([[1.0], [0.0], [1.0], [1.0], [0.0]])
    loss = losses.BinaryCrossentropy()
    a = loss.compute(Tensor(z), Tensor(t), logits=True).item()
    b = loss.compute(ops.sigmoid(Tensor(z)), Tensor(t), logits=False).item()
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(a, -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)), rtol=1e-10)
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_mean_squared_error():
    p, t = np.arange(6.0).reshape(3, 2), np.ones((3, 2))
    np.testing.assert_allclose(losses.get("mse")(t, Tensor(p)).item(), np.mean((p - t) ** 2))


def test_probability_path_clips_zero_probabilities():
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    value = losses.SparseCategoricalCrossentropy()(np.array([1, 0]), Tensor(probs)).item()
    np.testing.assert_allclose(value, (-np.log(1e-7) - np.log(0.5)) / 2, rtol=1e-6)


def test_loss_argument_checks():
    with pytest.raises(ValueError, match=r"y_true must lie in \[0, 4\)"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 4, 1, 1, 2, 0]), Tensor(_softmax(Z)))
    with pytest.raises(ValueError, match="one class label per sample"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 1]), Tensor(Z))
    with pytest.raises(ValueError, match="outputs' shape"):
        losses.CategoricalCrossentropy()(np.eye(3), Tensor(Z))
    with pytest.raises(TypeError, match="from_logits must be True or False"):
        losses.BinaryCrossentropy(from_logits="yes")


def test_loss_lookup():
    assert isinstance(losses.get("categorical_crossentropy"), losses.CategoricalCrossentropy)
    assert losses.get({"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}}).from_logits
    with pytest.raises(ValueError, match=r"unknown loss 'hinge_loss'; valid names are \["):
        losses.get("hinge_loss")
    config = losses.serialize(losses.BinaryCrossentropy(from_logits=True))
    assert losses.get(config).from_logits


def test_accuracy_metrics_against_numpy():
    probs = _softmax(Z)
    m = metrics.get("accuracy", losses.SparseCategoricalCrossentropy())
    m.update(probs[:3], LABELS[:3], logits=False)
    m.update(Z[3:], LABELS[3:], logits=True)
    assert m.result() == np.mean(probs.argmax(1) == LABELS)
    c = metrics.get("accuracy", losses.CategoricalCrossentropy())
    c.update(Z, np.eye(4)[LABELS], logits=True)
    assert c.result() == np.mean(Z.argmax(1) == LABELS)
    b = metrics.get("acc", losses.BinaryCrossentropy())
    z = np.array([[-1.0], [2.0], [0.5], [-0.1]])
    t = np.array([[0.0], [1.0], [0.0], [1.0]])
    b.update(z, t, logits=True)
    b.update(1 / (1 + np.exp(-z)), t, logits=False)
    assert b.result() == 0.5 and b.name == "acc"


def test_regression_metrics_and_reset():
    m = metrics.get("mae", None)
    m.update(np.array([[1.0], [3.0]]), np.array([2.0, 2.0]), logits=False)
    assert m.result() == 1.0
    m.reset()
    assert m.result() == 0.0  # Keras's value before any update
    s = metrics.get("mse", None)
    s.update(np.array([[1.0], [4.0]]), np.array([[0.0], [2.0]]), logits=False)
    assert s.result() == 2.5


def test_metric_lookup_errors():
    with pytest.raises(ValueError, match="unknown metric 'f2_score'"):
        metrics.get("f2_score", losses.MeanSquaredError())
    with pytest.raises(TypeError):
        metrics.get(3, None)
