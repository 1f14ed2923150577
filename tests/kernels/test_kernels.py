"""Every fused GPU kernel against its NumPy twin (the twin runs on CuPy arrays too).

These need a CUDA device and are skipped elsewhere; the twins themselves are what the CPU runs,
so the rest of the suite tests them on every machine.
"""

import numpy as np
import pytest

from gpunet import Parameter, optimizers
from gpunet.gpu import kernels, philox

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_kernels_match_twins(cp, dtype):
    rng = np.random.default_rng(0)
    x = cp.asarray(rng.uniform(-100, 100, (64, 33)).astype(dtype))
    gy = cp.asarray(rng.standard_normal((64, 33)).astype(dtype))
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(cp.asnumpy(kernels.sigmoid(x)), cp.asnumpy(kernels._sigmoid_twin(x)), rtol=rtol)
    y = kernels.sigmoid(x)
    for fused in (kernels.sigmoid_grad, kernels.tanh_grad, kernels.relu_grad):
        np.testing.assert_allclose(cp.asnumpy(fused(gy, y)), cp.asnumpy(fused.twin(gy, y)), rtol=rtol, atol=1e-30)
        out = cp.empty_like(gy)
        assert fused(gy, y, out=out) is out
        np.testing.assert_allclose(cp.asnumpy(out), cp.asnumpy(fused.twin(gy, y)), rtol=rtol, atol=1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_kernel_matches_twin(cp, dtype):
    x = np.random.default_rng(2).uniform(-6, 6, (40, 9)).astype(dtype)
    got = kernels.erf(cp.asarray(x))
    assert isinstance(got, cp.ndarray) and got.dtype == dtype
    np.testing.assert_allclose(cp.asnumpy(got), kernels.erf.twin(x), rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_kernel_matches_twin(cp, dtype):
    rng = np.random.default_rng(1)
    x_host = rng.standard_normal((50, 40)).astype(dtype)
    generator = philox.PhiloxGenerator(0x0123456789ABCDEF, cp, counter=7)
    y, mask = kernels.dropout_apply(cp.asarray(x_host), generator, 0.3, 1 / 0.7)
    assert generator.get_state()["counter"] == 7 + x_host.size
    u = philox.uniform_twin(0x0123456789ABCDEF, 7, x_host.size, dtype).reshape(x_host.shape)
    y2, mask2 = kernels._dropout_twin(x_host, u, dtype(0.3), dtype(1 / 0.7))
    np.testing.assert_array_equal(cp.asnumpy(mask), mask2)
    np.testing.assert_array_equal(cp.asnumpy(y), y2)
    assert 0.65 < float((mask2 != 0).mean()) < 0.75


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_philox_uniform_kernel_matches_twin_bitwise(cp, dtype):
    key = (1 << 64) - 3
    generator = philox.PhiloxGenerator(key, cp, counter=(1 << 32) - 5)  # the counter carries into its high word
    a = generator.random((3, 7), dtype=dtype)
    b = generator.random(11, dtype=dtype)
    assert a.dtype == dtype and a.shape == (3, 7) and isinstance(a, cp.ndarray)
    expected = philox.uniform_twin(key, (1 << 32) - 5, 32, dtype)
    np.testing.assert_array_equal(np.concatenate([cp.asnumpy(a).ravel(), cp.asnumpy(b)]), expected)
    assert generator.get_state() == {"algorithm": "philox4x32-10", "key": key, "counter": (1 << 32) + 27}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_grad_kernel_matches_twin(cp, dtype):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((37, 10))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 10, 37)
    p_d, labels_d, rows_d = cp.asarray(p.astype(dtype)), cp.asarray(labels), cp.arange(37)
    scale = cp.asarray(dtype(1 / 37))
    fused = kernels.softmax_cross_entropy_grad(p_d, rows_d, labels_d, scale)
    twin = kernels._softmax_cross_entropy_grad_twin(p_d, rows_d, labels_d, scale)
    np.testing.assert_allclose(cp.asnumpy(fused), cp.asnumpy(twin), rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-12)


OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.1),
    "sgd-momentum-decay": lambda: optimizers.SGD(0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd-nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adagrad": lambda: optimizers.Adagrad(0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
    "adadelta": lambda: optimizers.Adadelta(weight_decay=0.01),
    "adam": lambda: optimizers.Adam(0.01, weight_decay=0.01),
    "amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.01),
    "adamw-amsgrad": lambda: optimizers.AdamW(0.01, amsgrad=True),
    "adamax": lambda: optimizers.Adamax(weight_decay=0.01),
    "nadam": lambda: optimizers.Nadam(weight_decay=0.01),
    "radam": lambda: optimizers.RAdam(weight_decay=0.01),
    "rmsprop": lambda: optimizers.RMSprop(),
    "rmsprop-centered-momentum": lambda: optimizers.RMSprop(centered=True, momentum=0.9, weight_decay=0.01),
    "rmsprop-pytorch-epsilon": lambda: optimizers.RMSprop(centered=True, epsilon=1e-3, epsilon_inside_sqrt=False),
    "lion": lambda: optimizers.Lion(0.01, weight_decay=0.01),
    "ftrl": lambda: optimizers.Ftrl(0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.01,
                                    l2_shrinkage_regularization_strength=0.01, beta=0.1, weight_decay=0.01),
    "ftrl-fixed-rate": lambda: optimizers.Ftrl(0.1, learning_rate_power=0.0, initial_accumulator_value=0.0),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_kernels_match_twins(cp, name, dtype):
    rng = np.random.default_rng(2)
    start = rng.standard_normal((17, 9)).astype(dtype)
    fused_param, twin_param = Parameter(cp.asarray(start), name="p"), Parameter(cp.asarray(start), name="p")
    fused_opt, twin_opt = OPTIMIZERS[name](), OPTIMIZERS[name]()
    twin_opt._update_gpu = twin_opt._update_numpy  # the array-operation twin, on CuPy arrays
    for _ in range(25):
        g = cp.asarray(rng.standard_normal((17, 9)).astype(dtype))
        fused_opt.apply_gradients([(g, fused_param)])
        twin_opt.apply_gradients([(g, twin_param)])
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(cp.asnumpy(fused_param.data), cp.asnumpy(twin_param.data), rtol=rtol, atol=rtol)
    assert fused_param.data.dtype == dtype
