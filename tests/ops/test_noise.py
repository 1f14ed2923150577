"""Dropout: inverted scaling, mask from the seeded noise generator, same mask in backward."""

import numpy as np
import pytest

from gpunet import Tensor, backend, gradcheck, ops
from gpunet.utils import set_random_seed


def test_dropout_identity_outside_training(xp):
    x = Tensor(backend.to_device(np.ones((4, 5))), requires_grad=True)
    assert ops.dropout(x, 0.5, training=False) is x
    assert ops.dropout(x, 0.0, training=True) is x


def test_dropout_matches_reference_mask(xp):
    x_host = np.random.default_rng(0).standard_normal((50, 40))
    set_random_seed(7)
    y = ops.dropout(Tensor(backend.to_device(x_host)), 0.3, training=True).numpy()
    # reference: the same generator stream, drawn independently of the op
    set_random_seed(7)
    u = backend.to_host(backend.noise_generator().random((50, 40), dtype=np.float64))
    expected = np.where(u >= 0.3, x_host / 0.7, 0.0)
    np.testing.assert_allclose(y, expected, rtol=1e-12)


def test_dropout_statistics(xp):
    x = Tensor(backend.to_device(np.ones((400, 500), np.float32)))
    y = ops.dropout(x, 0.2, training=True).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.8) < 0.005
    np.testing.assert_allclose(y[kept], 1 / 0.8, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.01  # expectation preserved
    assert y.dtype == np.float32


def test_dropout_backward_uses_the_forward_mask(xp):
    x = Tensor(backend.to_device(np.random.default_rng(1).standard_normal((30, 20))), requires_grad=True)
    y = ops.dropout(x, 0.5, training=True)
    w = np.random.default_rng(2).standard_normal((30, 20))
    y.backward(backend.to_device(w))
    mask = (y.numpy() != 0) / 0.5
    np.testing.assert_allclose(backend.to_host(x.grad), w * mask)


def test_dropout_gradcheck_with_fixed_mask(xp):
    def fn(x):
        set_random_seed(3)  # the same mask at every evaluation
        return ops.dropout(x, 0.4, training=True)

    assert gradcheck(fn, [np.random.default_rng(4).standard_normal((6, 5))])


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.5", None, True])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        ops.dropout(Tensor(np.ones(3)), rate)


def test_dropout_same_seed_same_mask(xp):
    x = Tensor(backend.to_device(np.ones((10, 10))))
    set_random_seed(11)
    a = ops.dropout(x, 0.5).numpy()
    set_random_seed(11)
    b = ops.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, ops.dropout(x, 0.5).numpy())
