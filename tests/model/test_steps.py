"""Keras 3's overridable steps on any model: test_step drives evaluate and fit's dev evaluation,
predict_step drives predict, compute_loss forms the loss (compiled loss, weights, model losses)."""

import numpy as np
import pytest

import gpunet
from gpunet import backend
from gpunet.layers import Dense, Input


def data(n=48):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], dtype=np.float32)).astype(np.float32)
    return x, y


class Halving(gpunet.Sequential):
    """test_step reports half the loss; predict_step negates the outputs."""

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss * 0.5)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def predict_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return -self(x, training=False)


def model(cls=gpunet.Sequential):
    gpunet.utils.set_random_seed(1)
    m = cls([Input((4,)), Dense(3, activation="tanh"), Dense(1)])
    m.compile(optimizer=gpunet.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return m


def test_an_overridden_test_step_drives_evaluate_and_dev_evaluation():
    x, y = data()
    plain, halving = model(), model(Halving)
    expected = plain.evaluate(x, y, batch_size=48, return_dict=True, verbose=0)
    got = halving.evaluate(x, y, batch_size=48, return_dict=True, verbose=0)
    assert got["loss"] == pytest.approx(expected["loss"] / 2, rel=1e-6)
    assert got["mae"] == pytest.approx(expected["mae"], rel=1e-6)
    history = halving.fit(x, y, epochs=1, batch_size=16, validation_data=(x, y), verbose=0, restore_best=False)
    after = halving.evaluate(x, y, batch_size=48, return_dict=True, verbose=0)  # test_step's halved loss
    plain.set_weights(halving.get_weights())
    full = plain.evaluate(x, y, batch_size=48, return_dict=True, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(after["loss"], rel=1e-5)
    assert after["loss"] == pytest.approx(full["loss"] / 2, rel=1e-5)


def test_an_overridden_predict_step_drives_predict():
    x, _ = data()
    plain, negating = model(), model(Halving)
    np.testing.assert_allclose(negating.predict(x, batch_size=10, verbose=0), -plain.predict(x, batch_size=10, verbose=0))


def test_compute_loss_is_the_weighted_compiled_loss_plus_the_model_losses():
    x, y = data(8)
    m = gpunet.Sequential([Input((4,)), Dense(1, kernel_regularizer=gpunet.regularizers.L2(0.1))])
    m.compile(optimizer="sgd", loss="mse")
    y_pred = m(x)
    weights = np.linspace(0, 1, 8).astype(np.float32)
    pred = backend.to_host(y_pred.data).astype(np.float64)
    kernel = m.get_weights()[0].astype(np.float64)
    expected = float((weights * ((pred - y) ** 2).mean(axis=1)).mean()) + 0.1 * float((kernel ** 2).sum())
    loss = m.compute_loss(x, y, y_pred, sample_weight=weights)
    assert float(backend.to_host(loss.data)) == pytest.approx(expected, rel=1e-5)


def test_unpack_and_pack_are_in_utils_as_in_keras():
    assert gpunet.utils.unpack_x_y_sample_weight((1, 2)) == (1, 2, None)
    assert gpunet.utils.pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
