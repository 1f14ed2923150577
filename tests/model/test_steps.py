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


class Doubled(gpunet.Sequential):
    """Keras 3's hook: the default train step and evaluation form the loss with compute_loss."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
        return super().compute_loss(x, y, y_pred, sample_weight) * 2.0


def test_an_overridden_compute_loss_is_the_loss_fit_and_evaluate_use():
    x, y = data()
    doubled = model(Doubled)
    plain = gpunet.Sequential([Input((4,)), Dense(3, activation="tanh"), Dense(1)])
    plain.set_weights(doubled.get_weights())
    plain.compile(optimizer=gpunet.optimizers.SGD(0.1), loss="mse", metrics=["mae"])  # twice the rate: the same steps
    d = doubled.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    p = plain.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    for got, want in zip(doubled.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(d["loss"], 2 * np.array(p["loss"]), rtol=1e-5)
    np.testing.assert_allclose(d["mae"], p["mae"], rtol=1e-5)
    assert doubled.evaluate(x, y, verbose=0)[0] == pytest.approx(2 * plain.evaluate(x, y, verbose=0)[0], rel=1e-5)


class CountAbove(gpunet.metrics.Metric):
    """A metric written the Keras way: state from add_variable, update_state with ops and assign_add."""

    def __init__(self, threshold=0.0, name="count_above", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = threshold
        self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
        self.seen = self.add_variable(shape=(), initializer="zeros", name="seen")

    def update_state(self, y_true, y_pred, sample_weight=None):
        above = gpunet.ops.cast(gpunet.ops.greater(y_pred, self.threshold), "float32")
        self.hits.assign_add(gpunet.ops.sum(above))
        self.seen.assign_add(float(np.prod(y_pred.shape)))

    def result(self):
        return self.hits / gpunet.ops.maximum(self.seen, 1.0)


def test_a_keras_style_metric_subclass_is_logged_by_fit_and_evaluate():
    x, y = data()
    m = model()
    m.compile(optimizer="sgd", loss="mse", metrics=[CountAbove(0.5)])
    history = m.fit(x, y, epochs=1, batch_size=48, shuffle=False, verbose=0)
    logged = m.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)["count_above"]
    predictions = m.predict(x, verbose=0)
    assert logged == pytest.approx(float((predictions > 0.5).mean()), rel=1e-6)
    assert 0.0 <= history.history["count_above"][0] <= 1.0
    metric = CountAbove()
    metric.update_state(y, np.array([[1.0], [0.0]]))
    assert float(metric.result()) == 0.5
    metric.reset_state()
    assert float(metric.result()) == 0.0 and [v.name for v in metric.variables] == ["hits", "seen"]
