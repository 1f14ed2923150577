"""Bad arguments to ops give clear errors naming what was wrong."""

import numpy as np
import pytest

from gpunet import Tensor, ops


def test_cross_entropy_label_out_of_range():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\).*from -1 to 2"):
        ops.cross_entropy(Tensor(np.zeros((3, 3))), np.array([0, 2, -1]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        ops.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 3]))


def test_cross_entropy_shapes():
    with pytest.raises(ValueError, match="logits must have shape"):
        ops.cross_entropy(Tensor(np.zeros(3)), np.array([0]))
    with pytest.raises(ValueError, match="integer labels must have shape"):
        ops.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="probability targets"):
        ops.cross_entropy(Tensor(np.zeros((2, 3))), np.zeros((2, 4)))
    with pytest.raises(TypeError, match="logits must be floating-point"):
        ops.cross_entropy(Tensor(np.zeros((2, 3), dtype=int)), np.array([0, 1]))


def test_mse_shape_mismatch_is_not_broadcast():
    with pytest.raises(ValueError, match="target must have the predictions' shape"):
        ops.mse(Tensor(np.zeros((4, 1))), np.zeros((1, 4)))
    # (N,) targets for (N, 1) predictions are accepted, as in Keras
    np.testing.assert_allclose(ops.mse(Tensor(np.zeros((4, 1))), np.ones(4)).item(), 1.0)


def test_matmul_and_linear_shape_errors():
    with pytest.raises(ValueError):
        ops.matmul(Tensor(np.zeros((2, 3))), Tensor(np.zeros((4, 2))))
    with pytest.raises(ValueError, match="does not match kernel"):
        ops.linear(Tensor(np.zeros((2, 3))), Tensor(np.zeros((4, 2))))


def test_sum_axis_out_of_range():
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        ops.sum(Tensor(np.zeros((2, 3))), axis=2)


def test_tensor_rejects_non_numeric():
    with pytest.raises(TypeError, match="numeric"):
        Tensor(np.array([{}, 1], dtype=object))
    strings = Tensor(np.array(["a", "b"]))  # text for the lookup layers: held on the host, never differentiated
    assert strings.dtype.kind == "U" and isinstance(strings.data, np.ndarray)
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        Tensor(np.array(["a"]), requires_grad=True)
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        Tensor(np.array([1, 2]), requires_grad=True)
