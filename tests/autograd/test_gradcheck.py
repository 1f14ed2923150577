"""gradcheck itself: it passes correct gradients and names the input and element of wrong ones."""

import numpy as np
import pytest

from gpunet import Tensor, gradcheck, ops
from gpunet.autograd import Function


class WrongSquare(Function):
    """x**2 with a deliberately wrong gradient in one element."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        g = 2 * self.x * gy
        g.reshape(-1)[4] += 0.5
        return (g,)


def test_gradcheck_passes_correct_gradients():
    assert gradcheck(lambda a, b: ops.tanh(a @ b), [np.random.default_rng(0).standard_normal((2, 3)), np.random.default_rng(1).standard_normal((3, 2))])


def test_gradcheck_names_input_and_worst_element():
    x = np.random.default_rng(0).standard_normal((2, 3))
    with pytest.raises(AssertionError, match=r"input 1 of shape \(2, 3\) at element \(1, 1\)"):
        gradcheck(lambda c, a: c * WrongSquare()(a), [Tensor(np.ones((2, 3))), x])


def test_gradcheck_runs_in_float64_and_leaves_inputs_alone():
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    before = x.copy()
    seen = []

    def fn(t):
        seen.append(t.dtype)
        return ops.sigmoid(t)

    assert gradcheck(fn, [x])
    assert set(seen) == {np.dtype(np.float64)}
    np.testing.assert_array_equal(x, before)


def test_gradcheck_holds_constants_fixed():
    labels = np.array([0, 2])
    assert gradcheck(ops.cross_entropy, [np.random.default_rng(0).standard_normal((2, 3)), labels])


def test_gradcheck_argument_errors():
    with pytest.raises(TypeError, match="fn must be callable"):
        gradcheck(3, [np.ones(2)])
    with pytest.raises(TypeError, match="inputs must be a list"):
        gradcheck(ops.exp, np.ones(2))
    with pytest.raises(ValueError, match="eps must be positive"):
        gradcheck(ops.exp, [np.ones(2)], eps=0)
    with pytest.raises(ValueError, match="at least one floating-point input"):
        gradcheck(lambda a: a, [np.array([1, 2])])
