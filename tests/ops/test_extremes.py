"""Extreme inputs: finite values and gradients, no overflow warnings (RuntimeWarning is an error here)."""

import numpy as np
import pytest

from gpunet import Tensor, backend, ops


def _t(a, xp, requires_grad=True):
    return Tensor(backend.to_device(np.asarray(a, dtype=np.float64)), requires_grad=requires_grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_logits_of_plus_minus_1000(xp, dtype):
    z = Tensor(backend.to_device(np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]], dtype)), requires_grad=True)
    y = backend.to_device(np.array([1, 2]))
    loss = ops.cross_entropy(z, y)
    loss.backward()
    # sample 0 puts the true class 2000 below the max: loss 2000; sample 1 is right: loss 0
    np.testing.assert_allclose(loss.item(), 1000.0, rtol=1e-6)
    g = z.grad.get() if hasattr(z.grad, "get") else z.grad
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, np.array([[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]]), atol=1e-6)


def test_cross_entropy_probability_targets_extreme(xp):
    z = _t([[1000.0, -1000.0]], xp)
    t = backend.to_device(np.array([[0.25, 0.75]]))
    loss = ops.cross_entropy(z, t)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 0.75 * 2000.0)
    assert np.all(np.isfinite(backend.to_host(z.grad)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_large_inputs(xp, dtype):
    x = Tensor(backend.to_device(np.array([-1e4, -1000.0, -50.0, 0.0, 50.0, 1000.0, 1e4], dtype)), requires_grad=True)
    y = ops.sigmoid(x)
    y.sum().backward()
    host = y.numpy()
    assert np.all(np.isfinite(host)) and np.all(host >= 0) and np.all(host <= 1)
    assert host[3] == 0.5 and host[-1] == 1.0
    assert 0.0 <= host[0] <= np.finfo(dtype).tiny  # below exp's range: at most the smallest normal number
    # full relative precision where the true value is a normal number
    np.testing.assert_allclose(host[2], 1 / (1 + np.exp(np.float64(50.0))), rtol=1e-6)
    assert np.all(np.isfinite(backend.to_host(x.grad)))


def test_softmax_and_log_softmax_large_inputs(xp):
    x = _t([[1000.0, 0.0, -1000.0]], xp)
    np.testing.assert_allclose(ops.softmax(x).numpy(), [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(ops.log_softmax(x).numpy(), [[0.0, -1000.0, -2000.0]])
    ops.log_softmax(x).sum().backward()
    assert np.all(np.isfinite(backend.to_host(x.grad)))


def test_binary_cross_entropy_saturated(xp):
    z = _t([-1000.0, 1000.0, 0.0], xp)
    t = backend.to_device(np.array([1.0, 0.0, 1.0]))
    loss = ops.binary_cross_entropy(z, t, from_logits=True)
    loss.backward()
    np.testing.assert_allclose(loss.item(), (1000 + 1000 + np.log(2)) / 3)
    np.testing.assert_allclose(backend.to_host(z.grad), np.array([-1.0, 1.0, -0.5]) / 3)

    p = _t([0.0, 1.0, 1.0, 0.0], xp)
    t = backend.to_device(np.array([1.0, 0.0, 1.0, 0.0]))
    loss = ops.binary_cross_entropy(p, t)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 200 / 4)  # two logs clamped at -100, two exact zeros
    assert np.all(np.isfinite(backend.to_host(p.grad)))


def test_tanh_and_relu_large_inputs(xp):
    x = _t([-1e4, 1e4], xp)
    np.testing.assert_array_equal(ops.tanh(x).numpy(), [-1.0, 1.0])
    np.testing.assert_array_equal(ops.relu(x).numpy(), [0.0, 1e4])
