"""Tensor construction, dtypes, operators and conversions."""

import numpy as np
import pytest

from gpunet import Parameter, Tensor, backend, ops


def test_python_floats_become_float32_arrays_keep_their_dtype():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(3.5).dtype == np.float32
    assert Tensor(np.zeros(2)).dtype == np.float64
    assert Tensor(np.zeros(2, np.float32)).dtype == np.float32
    assert Tensor([1, 2]).dtype.kind == "i"
    assert Tensor(np.float64(2.0)).dtype == np.float64


def test_python_scalars_do_not_upcast(xp):
    x = Tensor(backend.to_device(np.ones(3, np.float32)), requires_grad=True)
    for y in (x + 1.5, 2 * x, x / 3, 1 - x, x**2, 2.0 / x):
        assert y.dtype == np.float32


def test_operators_match_functional_api(xp):
    rng = np.random.default_rng(0)
    a_h, b_h = rng.standard_normal((3, 4)), rng.uniform(1, 2, (3, 4))
    a, b = Tensor(backend.to_device(a_h)), Tensor(backend.to_device(b_h))
    np.testing.assert_allclose((a + b).numpy(), a_h + b_h)
    np.testing.assert_allclose((a - b).numpy(), a_h - b_h)
    np.testing.assert_allclose((a * b).numpy(), a_h * b_h)
    np.testing.assert_allclose((a / b).numpy(), a_h / b_h)
    np.testing.assert_allclose((-a).numpy(), -a_h)
    np.testing.assert_allclose((b**2).numpy(), b_h**2)
    np.testing.assert_allclose((2.0**a).numpy(), 2.0**a_h)
    np.testing.assert_allclose((a @ b.T).numpy(), a_h @ b_h.T)
    np.testing.assert_allclose(a[1:, 2].numpy(), a_h[1:, 2])
    np.testing.assert_allclose(a.sum(axis=1, keepdims=True).numpy(), a_h.sum(1, keepdims=True))
    np.testing.assert_allclose(a.mean(0).numpy(), a_h.mean(0))
    np.testing.assert_allclose(a.reshape(2, 6).numpy(), a_h.reshape(2, 6))
    np.testing.assert_allclose(a.transpose(1, 0).numpy(), a_h.T)


def test_numpy_array_on_the_left_defers_to_tensor():
    x = Tensor(np.ones(3), requires_grad=True)
    y = np.array([1.0, 2.0, 3.0]) * x
    assert isinstance(y, Tensor) and y.requires_grad
    z = np.ones((2, 3)) @ x
    assert isinstance(z, Tensor)


def test_parameter_is_named_and_trainable():
    p = Parameter(np.zeros((2, 2), np.float32), name="dense/kernel")
    assert p.requires_grad and p.name == "dense/kernel"
    assert "dense/kernel" in repr(p)
    with pytest.raises(TypeError, match="floating-point"):
        Parameter(np.zeros(2, int))


def test_numpy_item_detach_repr():
    t = Tensor(np.array([[1.5]]), requires_grad=True)
    assert t.item() == 1.5
    assert isinstance(t.numpy(), np.ndarray)
    d = (t * 2.0).detach()
    assert not d.requires_grad and d.creator is None
    assert "requires_grad=True" in repr(t)
    with pytest.raises(ValueError, match="one element"):
        Tensor(np.ones(2)).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor(np.ones(2)))


def test_integer_labels_index_tensors(xp):
    x = Tensor(backend.to_device(np.arange(12.0).reshape(4, 3)), requires_grad=True)
    idx = Tensor(backend.to_device(np.array([3, 0])))
    y = x[idx]
    np.testing.assert_allclose(y.numpy(), [[9, 10, 11], [0, 1, 2]])
    ops.sum(y).backward()
    np.testing.assert_allclose(backend.to_host(x.grad).sum(1), [3, 0, 0, 3])
