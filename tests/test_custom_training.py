"""The custom training step of Keras 3's PyTorch guide, in gpunet: ``zero_grad``, ``backward``,
``[v.value.grad for v in weights]``, ``optimizer.apply`` under ``gpunet.no_grad()``.

Its weights after N steps are checked against a float64 NumPy reference of the same network, loss
and SGD-momentum / Adam updates (the updates written from docs/optimizers.md's rules, not from
gpunet's code), and against what ``fit`` gives on the same batches without shuffling, both with
gpunet's built-in step and with the guide's ``train_step`` overridden.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import gpunet
from gpunet import backend, optimizers
from gpunet.autograd import is_grad_enabled
from gpunet.layers import Dense, Input

BATCH, SAMPLES, EPOCHS, LR = 8, 32, 2, 0.05


def data():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((SAMPLES, 4))
    y = np.stack([np.sin(x[:, 0]) + x[:, 1], x[:, 2] * x[:, 3]], axis=1)
    # float64 arrays of float32 values: fit hands the batches over as float32 (Keras's floatx)
    return x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)


def build(cls=gpunet.Sequential, seed=1):
    gpunet.utils.set_random_seed(seed)
    return cls([Input((4,)), Dense(5, activation="tanh", dtype="float64"), Dense(2, dtype="float64")])


def make_optimizer(kind):
    return (optimizers.SGD(learning_rate=LR, momentum=0.9) if kind == "sgd"
            else optimizers.Adam(learning_rate=LR, beta_1=0.9, beta_2=0.999, epsilon=1e-7))


# -- the float64 NumPy reference -----------------------------------------------------------------------
def reference_grads(weights, x, y):
    """Loss and gradients of mean((tanh(x W1 + b1) W2 + b2 - y)^2), by hand."""
    w1, b1, w2, b2 = weights
    h = np.tanh(x @ w1 + b1)
    pred = h @ w2 + b2
    loss = np.mean((pred - y) ** 2)
    d_pred = 2 * (pred - y) / pred.size
    d_z = (d_pred @ w2.T) * (1 - h**2)
    return loss, pred, [x.T @ d_z, d_z.sum(0), h.T @ d_pred, d_pred.sum(0)]


def reference_run(weights, kind, steps):
    """The weights after ``steps`` (batches in order), the losses and predictions of each step."""
    weights = [w.astype(np.float64).copy() for w in weights]
    state = [{"b": np.zeros_like(w), "m": np.zeros_like(w), "v": np.zeros_like(w)} for w in weights]
    losses, preds = [], []
    for t, (xb, yb) in enumerate(steps, 1):
        loss, pred, grads = reference_grads(weights, xb, yb)
        losses.append(loss)
        preds.append(pred)
        for w, g, s in zip(weights, grads, state):
            if kind == "sgd":  # b <- g at the first step, then b <- mu b + g; w <- w - lr b
                s["b"] = g.copy() if t == 1 else 0.9 * s["b"] + g
                w -= LR * s["b"]
            else:  # Adam, epsilon outside the root of the bias-corrected v
                s["m"] = 0.9 * s["m"] + 0.1 * g
                s["v"] = 0.999 * s["v"] + 0.001 * g * g
                w -= LR * (s["m"] / (1 - 0.9**t)) / (np.sqrt(s["v"] / (1 - 0.999**t)) + 1e-7)
    return weights, losses, preds


def batches(epochs=EPOCHS):
    x, y = data()
    return [(x[i:i + BATCH], y[i:i + BATCH]) for _ in range(epochs) for i in range(0, SAMPLES, BATCH)]


# -- the guide's step ------------------------------------------------------------------------------------
class GuideModel(gpunet.Sequential):
    """Keras 3's PyTorch-guide ``train_step``, written with gpunet's names (``model.metrics`` is
    Keras's: the loss tracker named "loss", then the compiled metrics)."""

    grad_enabled_in_update = None

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with gpunet.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
            self.grad_enabled_in_update = is_grad_enabled()
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def hand_loop(model, optimizer, steps):
    """The guide's step, written out as a loop (no fit)."""
    for xb, yb in steps:
        model.zero_grad()
        pred = model(xb, training=True)
        loss = gpunet.losses.MeanSquaredError()(yb, pred)
        loss.backward()
        gradients = [v.value.grad for v in model.trainable_weights]
        with gpunet.no_grad():
            optimizer.apply(gradients, model.trainable_weights)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_the_hand_written_loop_matches_a_float64_reference(kind, xp):
    model = build()
    start = model.get_weights()
    optimizer = make_optimizer(kind)
    hand_loop(model, optimizer, batches())
    expected, _, _ = reference_run(start, kind, batches())
    assert optimizer.iterations == len(batches())
    for ours, theirs in zip(model.get_weights(), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    moved = max(np.abs(a - b).max() for a, b in zip(model.get_weights(), start))
    assert moved > 1e-2  # the reference is not trivially the start


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("cls", [gpunet.Sequential, GuideModel], ids=["built-in step", "guide's train_step"])
def test_fit_on_the_same_batches_gives_the_same_weights(kind, cls, xp):
    x, y = data()
    loop_model = build()
    hand_loop(loop_model, make_optimizer(kind), batches())
    fitted = build(cls)
    np.testing.assert_array_equal(fitted.get_weights()[0], build().get_weights()[0])  # the same start
    fitted.compile(optimizer=make_optimizer(kind), loss="mse")
    fitted.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    for ours, theirs in zip(fitted.get_weights(), loop_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_the_guides_metrics_are_updated_under_no_grad(xp):
    x, y = data()
    model = build(GuideModel)
    start = model.get_weights()
    model.compile(optimizer=make_optimizer("sgd"), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    assert model.grad_enabled_in_update is False and is_grad_enabled()
    _, losses, preds = reference_run(start, "sgd", batches())
    per_epoch = SAMPLES // BATCH
    for epoch in range(EPOCHS):
        steps = slice(epoch * per_epoch, (epoch + 1) * per_epoch)
        targets = np.concatenate([yb for _, yb in batches()[steps]])
        mae = np.mean(np.abs(np.concatenate(preds[steps]) - targets))
        np.testing.assert_allclose(history.history["loss"][epoch], np.mean(losses[steps]), rtol=1e-10)
        np.testing.assert_allclose(history.history["mae"][epoch], mae, rtol=1e-10)


def test_zero_grad_clears_every_gradient(xp):
    model = build()
    x, y = batches()[0]
    for _ in range(2):
        gpunet.losses.MeanSquaredError()(y, model(x, training=True)).backward()
    twice = [backend.to_host(v.value.grad).copy() for v in model.weights]
    _, _, once = reference_grads(model.get_weights(), x, y)
    for g2, g1 in zip(twice, once):  # backward adds into .grad: without zero_grad, two steps' worth
        np.testing.assert_allclose(g2, 2 * g1, rtol=1e-10)
    model.zero_grad()
    assert all(v.grad is None for v in model.weights)


def test_the_lower_level_update_with_assign_sub(xp):
    """The guide's step without an optimizer: ``v.assign_sub(lr * v.value.grad)`` under no_grad."""
    model = build()
    start = model.get_weights()
    for xb, yb in batches(1):
        model.zero_grad()
        gpunet.losses.MeanSquaredError()(yb, model(xb, training=True)).backward()
        with gpunet.no_grad():
            for v in model.trainable_weights:
                v.assign_sub(LR * v.value.grad)
    expected = start
    for xb, yb in batches(1):
        _, _, grads = reference_grads(expected, xb, yb)
        expected = [w - LR * g for w, g in zip(expected, grads)]
    for ours, theirs in zip(model.get_weights(), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_no_grad_as_a_decorator_with_and_without_parentheses():
    @gpunet.no_grad
    def bare():
        return is_grad_enabled()

    @gpunet.no_grad()
    def called():
        return is_grad_enabled()

    assert bare() is False and called() is False and is_grad_enabled() is True
    assert bare.__name__ == "bare"
    with pytest.raises(TypeError, match="no_grad"):
        gpunet.no_grad(3)


def test_the_docs_page_runs(tmp_path, monkeypatch):
    """docs/custom_training.md's code blocks, run in order as one script: the page cannot drift."""
    page = os.path.join(os.path.dirname(__file__), "..", "docs", "custom_training.md")
    with open(page, encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "custom_training_examples"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/custom_training.md, block {number}", "exec"), namespace)  # noqa: S102
    assert namespace["optimizer"].iterations == 24
