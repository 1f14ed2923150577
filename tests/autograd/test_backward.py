"""The backward pass: ordering, accumulation, broadcasting, freeing the graph, no_grad."""

import gc
import weakref

import numpy as np
import pytest

import gpunet
from gpunet import Parameter, Tensor, backend, no_grad, ops
from gpunet.autograd import Function


def test_chain_of_10000_ops_needs_no_recursion(xp):
    x = Tensor(backend.to_device(np.array([1.0])), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(backend.to_host(x.grad), [1.0001**10_000], rtol=1e-9)


def test_diamond_graph_sums_both_paths(xp):
    # f = (x*x) + exp(x) uses x on two paths and a shared intermediate
    x = Tensor(backend.to_device(np.array([0.5, -1.0, 2.0])), requires_grad=True)
    a = x * x
    f = (a + a * 3.0 + ops.exp(x)).sum()
    f.backward()
    x_h = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(backend.to_host(x.grad), 8 * x_h + np.exp(x_h))


def test_gradients_accumulate_across_backward_calls(xp):
    x = Tensor(backend.to_device(np.array([1.0, 2.0])), requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(backend.to_host(x.grad), [3 + 2, 3 + 4])


def test_broadcast_gradient_is_summed_to_input_shape(xp):
    a = Tensor(backend.to_device(np.ones((4, 3))), requires_grad=True)
    b = Tensor(backend.to_device(np.ones((3,))), requires_grad=True)
    c = Tensor(backend.to_device(np.ones((4, 1))), requires_grad=True)
    ((a + b) * c).sum().backward()
    assert b.grad.shape == (3,) and c.grad.shape == (4, 1)
    np.testing.assert_allclose(backend.to_host(b.grad), [4, 4, 4])
    np.testing.assert_allclose(backend.to_host(c.grad), [[6], [6], [6], [6]])


def test_graph_is_freed_after_backward():
    x = Tensor(np.ones(3), requires_grad=True)
    h = ops.sigmoid(x)
    fn = h.creator
    loss = (h * 2.0).sum()
    loss.backward()
    assert fn.inputs is None and not hasattr(fn, "y"), "saved inputs and outputs must be released"
    with pytest.raises(RuntimeError, match="already freed"):
        loss.backward()


def test_intermediates_are_collected_after_backward():
    x = Tensor(np.ones((100, 100)), requires_grad=True)
    h = ops.tanh(x)
    ref = weakref.ref(h)
    loss = h.sum()
    del h
    gc.collect()
    assert ref() is not None  # kept alive by the graph
    loss.backward()
    gc.collect()
    assert ref() is None  # the graph no longer holds it


def test_retain_graph_allows_second_backward():
    x = Tensor(np.array([2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(backend.to_host(x.grad), [8.0])


def test_no_grad_records_nothing(xp):
    w = Parameter(backend.to_device(np.ones(3)), name="w")
    with no_grad():
        y = w * 2.0
    assert not y.requires_grad and y.creator is None
    assert gpunet.autograd.is_grad_enabled()

    @no_grad()
    def f(t):
        return t * 3.0

    assert not f(w).requires_grad
    with no_grad():
        with gpunet.enable_grad():
            assert (w * 1.0).requires_grad


def test_backward_errors():
    x = Tensor(np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        x.sum().backward()
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="one element"):
        (w * 2.0).backward()
    with pytest.raises(ValueError, match="grad must have the tensor's shape"):
        (w * 2.0).backward(np.ones(4))


def test_leaf_backward_and_explicit_grad(xp):
    w = Tensor(backend.to_device(np.ones(3)), requires_grad=True)
    y = w * 2.0
    y.backward(backend.to_device(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_allclose(backend.to_host(w.grad), [2.0, 4.0, 6.0])


def test_only_inputs_that_require_grad_get_one(xp):
    a = Tensor(backend.to_device(np.ones((2, 3))), requires_grad=True)
    b = Tensor(backend.to_device(np.ones((3, 2))))
    (a @ b).sum().backward()
    assert a.grad is not None and b.grad is None


def test_custom_function_worked_example():
    """The example of docs/autograd.md: a new op in a few lines."""

    class Cube(Function):
        def forward(self, x):
            self.x = x
            return x**3

        def backward(self, gy):
            return (3 * self.x**2 * gy,)

    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    Cube()(x).sum().backward()
    np.testing.assert_allclose(backend.to_host(x.grad), [3.0, 12.0])
    assert gpunet.gradcheck(lambda t: Cube()(t), [np.array([0.3, -1.2])])
