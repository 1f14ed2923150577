"""Keras's gradient clipping (clipnorm, global_clipnorm, clipvalue) and gradient transforms,
against values computed by hand."""

import numpy as np
import pytest

import gpunet
from gpunet import Parameter, backend, optimizers
from helpers import blobs


def _step(optimizer, grads, prefix="p"):
    """One SGD(lr=1) step from zero parameters: the new parameters are minus the used gradients."""
    params = [Parameter(np.zeros(len(g)), name=f"{prefix}{i}") for i, g in enumerate(grads)]
    arrays = [np.array(g, dtype=np.float64) for g in grads]
    copies = [a.copy() for a in arrays]
    optimizer.apply_gradients(zip(arrays, params))
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)  # the caller's gradients are never modified
    return [-backend.to_host(p.data) for p in params]


def test_clipnorm_scales_each_gradient_to_the_norm():
    # |[3, 4]| = 5 > 1: scaled by 1/5; |[0.3, 0.4]| = 0.5 <= 1: unchanged
    used = _step(optimizers.SGD(1.0, clipnorm=1.0), [[3.0, 4.0], [0.3, 0.4]])
    np.testing.assert_allclose(used[0], [0.6, 0.8], rtol=1e-15)
    np.testing.assert_allclose(used[1], [0.3, 0.4], rtol=1e-15)


def test_global_clipnorm_scales_all_gradients_together():
    # joint norm sqrt(9 + 16 + 144) = 13 > 2: every gradient scaled by 2/13
    used = _step(optimizers.SGD(1.0, global_clipnorm=2.0), [[3.0, 4.0], [0.0, 12.0]])
    np.testing.assert_allclose(used[0], [6 / 13, 8 / 13], rtol=1e-15)
    np.testing.assert_allclose(used[1], [0.0, 24 / 13], rtol=1e-15)
    used = _step(optimizers.SGD(1.0, global_clipnorm=20.0), [[3.0, 4.0], [0.0, 12.0]])
    np.testing.assert_allclose(used[1], [0.0, 12.0], rtol=1e-15)  # within bounds: unchanged


def test_clipvalue_clips_each_entry():
    used = _step(optimizers.SGD(1.0, clipvalue=0.5), [[-2.0, 0.1, 0.7]])
    np.testing.assert_array_equal(used[0], [-0.5, 0.1, 0.5])


def test_clipping_runs_before_the_update_rule():
    # Adam's first step is lr * g / (|g| + eps) per entry: clipping [3, 4] to [0.6, 0.8] changes
    # nothing there, but momentum SGD's second step sees the clipped buffer: b2 = 0.9 * g1 + g2
    opt = optimizers.SGD(0.1, momentum=0.9, clipnorm=1.0)
    p = Parameter(np.zeros(2), name="w")
    opt.apply_gradients([(np.array([3.0, 4.0]), p)])  # b1 = [0.6, 0.8]; p = -0.1 b1
    opt.apply_gradients([(np.array([0.0, 0.5]), p)])  # within bounds; b2 = [0.54, 0.72 + 0.5]
    np.testing.assert_allclose(backend.to_host(p.data), [-0.06 - 0.054, -0.08 - 0.122], rtol=1e-14)


def test_gradient_transforms_run_in_order_before_clipping():
    seen = []

    def double(grads, params):
        seen.append([p.name for p in params])
        return [g * 2 for g in grads]

    opt = optimizers.SGD(1.0, clipvalue=3.0)
    opt.add_gradient_transform(double)
    used = _step(opt, [[1.0, 2.0, -5.0]])
    np.testing.assert_array_equal(used[0], [2.0, 3.0, -3.0])  # doubled to [2, 4, -10], then clipped to 3
    assert seen == [["p0"]]
    with pytest.raises(TypeError, match="callable"):
        opt.add_gradient_transform(3)
    opt.add_gradient_transform(lambda grads, params: grads[:0])
    with pytest.raises(ValueError, match="returned 0 gradients for 1 parameters"):
        _step(opt, [[1.0]], prefix="q")


@pytest.mark.parametrize("kwargs,text", [
    ({"clipnorm": 1.0, "clipvalue": 1.0}, "only one of"),
    ({"clipnorm": 0.0}, "clipnorm"),
    ({"global_clipnorm": -1.0}, "global_clipnorm"),
    ({"clipvalue": float("nan")}, "clipvalue"),
    ({"clipnorm": True}, "clipnorm"),
])
def test_bad_clipping_arguments(kwargs, text):
    with pytest.raises(ValueError, match=text):
        optimizers.Adam(**kwargs)


def test_clipping_survives_config_and_keras_configs():
    opt = optimizers.RMSprop(0.01, global_clipnorm=1.5)
    config = optimizers.serialize(opt)
    assert config["config"]["global_clipnorm"] == 1.5 and config["config"]["clipnorm"] is None
    again = optimizers.deserialize(config)
    assert type(again) is optimizers.RMSprop and again.global_clipnorm == 1.5
    sgd = optimizers.deserialize(optimizers.serialize(optimizers.SGD(1.0, global_clipnorm=1.5)))
    np.testing.assert_allclose(_step(sgd, [[30.0, 40.0]])[0], [0.9, 1.2], rtol=1e-15)  # norm 50 scaled to 1.5
    keras_style = {"class_name": "SGD", "config": {"learning_rate": 1.0, "clipnorm": 1.0, "use_ema": False}}
    np.testing.assert_allclose(_step(optimizers.deserialize(keras_style), [[3.0, 4.0]])[0], [0.6, 0.8])


def test_clipping_set_after_construction_applies_and_is_saved():
    opt = optimizers.SGD(1.0)
    opt.clipnorm = 1.0
    np.testing.assert_allclose(_step(opt, [[3.0, 4.0]])[0], [0.6, 0.8], rtol=1e-15)
    assert optimizers.serialize(opt)["config"]["clipnorm"] == 1.0
    with pytest.raises(ValueError, match="only one of"):
        opt.clipvalue = 0.5
    opt.clipnorm = None
    np.testing.assert_allclose(_step(opt, [[3.0, 4.0]], prefix="q")[0], [3.0, 4.0])


def test_a_non_finite_global_norm_makes_the_step_nan_not_zero():
    """Keras's rule: an infinite gradient (or squares that overflow) must not turn into a silent
    zero step; every gradient becomes NaN, which fit reports."""
    used = _step(optimizers.SGD(1.0, global_clipnorm=1.0), [[np.inf, 1.0], [2.0, 3.0]])
    assert np.isnan(used[0]).all() and np.isnan(used[1]).all()
    with np.errstate(over="ignore"):
        params = [Parameter(np.zeros(2, np.float32), name="big")]
        optimizers.SGD(1.0, global_clipnorm=1.0).apply_gradients([(np.array([1e20, 1e20], np.float32), params[0])])
    assert np.isnan(params[0].data).all()


def test_clipvalue_bounds_every_update_in_fit():
    x, y = blobs(n=64, features=6)
    model = gpunet.Sequential([gpunet.layers.Input((6,)), gpunet.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(100.0, clipvalue=1e-3), loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)  # one step: |change| = 100 * |clipped g| <= 0.1
    change = np.concatenate([np.abs(a - b).ravel() for a, b in zip(model.get_weights(), before)])
    assert change.max() <= 0.1 * (1 + 1e-6) and np.isclose(change.max(), 0.1, rtol=1e-6)
