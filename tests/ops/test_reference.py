"""Every op against an independent float64 NumPy formula: values, analytic gradients, and gradcheck.

Each case gives the op under test, a NumPy reference for its value, and a NumPy reference for the
vector-Jacobian product ``w -> dL/dinputs`` of ``L = sum(w * op(inputs))``. The references are
written from the textbook formulas, not from gpunet's code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

from gpunet import Tensor, backend, gradcheck, ops

RTOL = 1e-7
ATOL = 1e-12


@dataclass
class Case:
    name: str
    op: Callable  # op(*tensors) -> Tensor
    value: Callable  # value(*arrays) -> float64 array
    vjp: Callable | None  # vjp(w, *arrays) -> tuple of gradients (None for non-differentiable inputs)
    inputs: list = field(default_factory=list)  # list of (kind, shape) pairs

    def __str__(self):
        return self.name


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(z, axis=-1):
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def _unbroadcast(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def _softmax_vjp(w, z, axis=-1):
    """w^T J with the explicit Jacobian J_ij = s_i (delta_ij - s_j), row by row."""
    zm = np.moveaxis(z, axis, -1)
    wm = np.moveaxis(w, axis, -1)
    out = np.empty_like(zm)
    for idx in np.ndindex(*zm.shape[:-1]):
        s = _softmax(zm[idx])
        jac = np.diag(s) - np.outer(s, s)
        out[idx] = wm[idx] @ jac
    return np.moveaxis(out, -1, axis)


def _log_softmax_vjp(w, z, axis=-1):
    zm = np.moveaxis(z, axis, -1)
    wm = np.moveaxis(w, axis, -1)
    out = np.empty_like(zm)
    for idx in np.ndindex(*zm.shape[:-1]):
        s = _softmax(zm[idx])
        jac = np.eye(len(s)) - s[None, :]  # d log s_i / d z_j = delta_ij - s_j
        out[idx] = wm[idx] @ jac
    return np.moveaxis(out, -1, axis)


def _matmul_vjp(w, a, b):
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    w2 = np.asarray(w)
    if a.ndim == 1 and b.ndim == 1:
        w2 = w2.reshape(1, 1)
    elif a.ndim == 1:
        w2 = np.expand_dims(w2, -2)
    elif b.ndim == 1:
        w2 = np.expand_dims(w2, -1)
    ga = w2 @ np.swapaxes(b2, -1, -2)
    gb = np.swapaxes(a2, -1, -2) @ w2
    if a.ndim == 1:
        ga = ga[..., 0, :]
    if b.ndim == 1:
        gb = gb[..., 0]
    return _unbroadcast(ga, a.shape), _unbroadcast(gb, b.shape)


def _sparse_ce(z, y):
    return -np.mean(_log_softmax(z)[np.arange(len(y)), y])


def _sparse_ce_vjp(w, z, y):
    onehot = np.eye(z.shape[1])[y]
    return (w * (_softmax(z) - onehot) / len(y), None)


def _dense_ce(z, t):
    return -np.sum(t * _log_softmax(z)) / z.shape[0]


def _dense_ce_vjp(w, z, t):
    n = z.shape[0]
    gz = w * (_softmax(z) * t.sum(axis=1, keepdims=True) - t) / n
    gt = -w * _log_softmax(z) / n
    return gz, gt


def _bce(p, t):
    return -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))


def _bce_vjp(w, p, t):
    n = p.size
    return w * (-(t / p) + (1 - t) / (1 - p)) / n, w * (np.log(1 - p) - np.log(p)) / n


def _bce_logits(z, t):
    return _bce(_sigmoid(z), t)


def _bce_logits_vjp(w, z, t):
    n = z.size
    return w * (_sigmoid(z) - t) / n, -w * z / n


def _pick_vjp(w, x, y):
    g = np.zeros_like(x)
    g[np.arange(len(y)), y] = w
    return g


def _getitem_vjp(index):
    def vjp(w, x):
        g = np.zeros_like(x)
        np.add.at(g, index, w)
        return (g,)

    return vjp


X = ("normal",)
POS = ("positive",)
ADV_INDEX = (np.array([0, 2, 2, 1]), np.array([1, 1, 1, 0]))

CASES = [
    Case("add", lambda a, b: a + b, lambda a, b: a + b, lambda w, a, b: (w, w), [("normal", (3, 4)), ("normal", (3, 4))]),
    Case("add_broadcast_row", ops.add, np.add, lambda w, a, b: (w, w.sum(0)), [("normal", (3, 4)), ("normal", (4,))]),
    Case("add_broadcast_outer", ops.add, np.add, lambda w, a, b: (w.sum(1, keepdims=True), w.sum(0, keepdims=True)), [("normal", (3, 1)), ("normal", (1, 4))]),
    Case("add_batch1", ops.add, np.add, lambda w, a, b: (w, w.sum(0)), [("normal", (1, 4)), ("normal", (4,))]),
    Case("sub", lambda a, b: a - b, np.subtract, lambda w, a, b: (w, -w.sum(0)), [("normal", (3, 4)), ("normal", (4,))]),
    Case("mul", lambda a, b: a * b, np.multiply, lambda w, a, b: (w * b, w * a), [("normal", (3, 4)), ("normal", (3, 4))]),
    Case("mul_broadcast", ops.mul, np.multiply, lambda w, a, b: (w * b, (w * a).sum(0, keepdims=True)), [("normal", (3, 4)), ("normal", (1, 4))]),
    Case("div", lambda a, b: a / b, np.divide, lambda w, a, b: (w / b, -w * a / b**2), [("normal", (3, 4)), ("positive", (3, 4))]),
    Case("div_broadcast", ops.div, np.divide, lambda w, a, b: (w / b, (-w * a / b**2).sum(0)), [("normal", (2, 3)), ("positive", (3,))]),
    Case("neg", lambda a: -a, np.negative, lambda w, a: (-w,), [("normal", (3, 4))]),
    Case("pow_const", lambda a: a**3, lambda a: a**3, lambda w, a: (3 * w * a**2,), [("normal", (3, 4))]),
    Case("pow_fraction", lambda a: ops.pow(a, 0.5), np.sqrt, lambda w, a: (0.5 * w / np.sqrt(a),), [("positive", (3, 4))]),
    Case("pow_tensor", ops.pow, np.power, lambda w, a, b: (w * b * a ** (b - 1), w * a**b * np.log(a)), [("positive", (3, 4)), ("normal", (3, 4))]),
    Case("exp", ops.exp, np.exp, lambda w, a: (w * np.exp(a),), [("normal", (3, 4))]),
    Case("log", ops.log, np.log, lambda w, a: (w / a,), [("positive", (3, 4))]),
    Case("maximum", ops.maximum, np.maximum, lambda w, a, b: (w * (a > b), w * (b > a)), [("normal", (3, 4)), ("normal", (3, 4))]),
    Case("maximum_scalar", lambda a: ops.maximum(a, 0.0), lambda a: np.maximum(a, 0), lambda w, a: (w * (a > 0),), [("normal", (3, 4))]),
    Case("matmul", lambda a, b: a @ b, np.matmul, _matmul_vjp, [("normal", (3, 4)), ("normal", (4, 5))]),
    Case("matmul_batch1", ops.matmul, np.matmul, _matmul_vjp, [("normal", (1, 4)), ("normal", (4, 2))]),
    Case("matmul_batched_broadcast", ops.matmul, np.matmul, _matmul_vjp, [("normal", (2, 3, 4)), ("normal", (4, 5))]),
    Case("matmul_vec_mat", ops.matmul, np.matmul, _matmul_vjp, [("normal", (4,)), ("normal", (4, 3))]),
    Case("matmul_mat_vec", ops.matmul, np.matmul, _matmul_vjp, [("normal", (3, 4)), ("normal", (4,))]),
    Case("matmul_vec_vec", ops.matmul, np.matmul, _matmul_vjp, [("normal", (4,)), ("normal", (4,))]),
    Case("linear", ops.linear, lambda x, k, b: x @ k + b, lambda w, x, k, b: (w @ k.T, x.T @ w, w.sum(0)), [("normal", (5, 4)), ("normal", (4, 3)), ("normal", (3,))]),
    Case("linear_batch1", ops.linear, lambda x, k, b: x @ k + b, lambda w, x, k, b: (w @ k.T, x.T @ w, w.sum(0)), [("normal", (1, 4)), ("normal", (4, 3)), ("normal", (3,))]),
    Case("linear_relu", lambda x, k, b: ops.linear(x, k, b, activation="relu"), lambda x, k, b: np.maximum(x @ k + b, 0),
         lambda w, x, k, b: (lambda g: (g @ k.T, x.T @ g, g.sum(0)))(w * (x @ k + b > 0)), [("normal", (5, 4)), ("normal", (4, 3)), ("normal", (3,))]),
    Case("linear_sigmoid", lambda x, k, b: ops.linear(x, k, b, activation="sigmoid"), lambda x, k, b: _sigmoid(x @ k + b),
         lambda w, x, k, b: (lambda g: (g @ k.T, x.T @ g, g.sum(0)))(w * _sigmoid(x @ k + b) * (1 - _sigmoid(x @ k + b))), [("normal", (5, 4)), ("normal", (4, 3)), ("normal", (3,))]),
    Case("linear_tanh_batch1", lambda x, k, b: ops.linear(x, k, b, activation="tanh"), lambda x, k, b: np.tanh(x @ k + b),
         lambda w, x, k, b: (lambda g: (g @ k.T, x.T @ g, g.sum(0)))(w / np.cosh(x @ k + b) ** 2), [("normal", (1, 4)), ("normal", (4, 3)), ("normal", (3,))]),
    Case("linear_no_bias", ops.linear, lambda x, k: x @ k, lambda w, x, k: (w @ k.T, x.T @ w), [("normal", (5, 4)), ("normal", (4, 3))]),
    Case("linear_3d", ops.linear, lambda x, k, b: x @ k + b, lambda w, x, k, b: (w @ k.T, np.einsum("abi,abo->io", x, w), w.sum((0, 1))), [("normal", (2, 3, 4)), ("normal", (4, 2)), ("normal", (2,))]),
    Case("sum_all", lambda a: a.sum(), np.sum, lambda w, a: (np.full_like(a, w),), [("normal", (3, 4))]),
    Case("sum_axis0", lambda a: a.sum(axis=0), lambda a: a.sum(0), lambda w, a: (np.broadcast_to(w, a.shape).copy(),), [("normal", (3, 4))]),
    Case("sum_axes_keepdims", lambda a: ops.sum(a, axis=(0, 2), keepdims=True), lambda a: a.sum((0, 2), keepdims=True), lambda w, a: (np.broadcast_to(w, a.shape).copy(),), [("normal", (2, 3, 4))]),
    Case("sum_negative_axis", lambda a: a.sum(axis=-1), lambda a: a.sum(-1), lambda w, a: (np.broadcast_to(w[:, None], a.shape).copy(),), [("normal", (3, 4))]),
    Case("mean_all", lambda a: a.mean(), np.mean, lambda w, a: (np.full_like(a, w / a.size),), [("normal", (3, 4))]),
    Case("mean_axis1", lambda a: a.mean(axis=1), lambda a: a.mean(1), lambda w, a: (np.broadcast_to(w[:, None] / a.shape[1], a.shape).copy(),), [("normal", (3, 4))]),
    Case("mean_keepdims", lambda a: a.mean(axis=0, keepdims=True), lambda a: a.mean(0, keepdims=True), lambda w, a: (np.broadcast_to(w / a.shape[0], a.shape).copy(),), [("normal", (3, 4))]),
    Case("reshape", lambda a: a.reshape(4, 3), lambda a: a.reshape(4, 3), lambda w, a: (w.reshape(a.shape),), [("normal", (3, 4))]),
    Case("reshape_infer", lambda a: a.reshape((-1,)), lambda a: a.reshape(-1), lambda w, a: (w.reshape(a.shape),), [("normal", (2, 3, 2))]),
    Case("transpose_T", lambda a: a.T, lambda a: a.T, lambda w, a: (w.T,), [("normal", (3, 4))]),
    Case("transpose_axes", lambda a: ops.transpose(a, (1, 2, 0)), lambda a: a.transpose(1, 2, 0), lambda w, a: (w.transpose(2, 0, 1),), [("normal", (2, 3, 4))]),
    Case("getitem_slice", lambda a: a[1:, ::2], lambda a: a[1:, ::2], _getitem_vjp((slice(1, None), slice(None, None, 2))), [("normal", (3, 4))]),
    Case("getitem_advanced_repeats", lambda a: a[ADV_INDEX], lambda a: a[ADV_INDEX], _getitem_vjp(ADV_INDEX), [("normal", (3, 4))]),
    Case("getitem_int", lambda a: a[1], lambda a: a[1], _getitem_vjp(1), [("normal", (3, 4))]),
    Case("pick", ops.pick, lambda x, y: x[np.arange(len(y)), y],
         lambda w, x, y: (_pick_vjp(w, x, y), None), [("normal", (5, 4)), ("labels", (5, 4))]),
    Case("sigmoid", ops.sigmoid, _sigmoid, lambda w, a: (w * _sigmoid(a) * (1 - _sigmoid(a)),), [("wide", (3, 4))]),
    Case("tanh", ops.tanh, np.tanh, lambda w, a: (w / np.cosh(a) ** 2,), [("wide", (3, 4))]),
    Case("relu", ops.relu, lambda a: np.where(a > 0, a, 0.0), lambda w, a: (w * (a > 0),), [("normal", (3, 4))]),
    Case("softmax", ops.softmax, _softmax, lambda w, a: (_softmax_vjp(w, a),), [("normal", (3, 5))]),
    Case("softmax_axis0", lambda a: ops.softmax(a, axis=0), lambda a: _softmax(a, 0), lambda w, a: (_softmax_vjp(w, a, 0),), [("normal", (3, 5))]),
    Case("softmax_batch1", ops.softmax, _softmax, lambda w, a: (_softmax_vjp(w, a),), [("normal", (1, 5))]),
    Case("log_softmax", ops.log_softmax, _log_softmax, lambda w, a: (_log_softmax_vjp(w, a),), [("normal", (3, 5))]),
    Case("cross_entropy_sparse", ops.cross_entropy, _sparse_ce, _sparse_ce_vjp, [("normal", (6, 4)), ("labels", (6, 4))]),
    Case("cross_entropy_sparse_batch1", ops.cross_entropy, _sparse_ce, _sparse_ce_vjp, [("normal", (1, 3)), ("labels", (1, 3))]),
    Case("cross_entropy_probs", ops.cross_entropy, _dense_ce, _dense_ce_vjp, [("normal", (5, 4)), ("probs", (5, 4))]),
    Case("cross_entropy_onehot", ops.cross_entropy, _dense_ce, _dense_ce_vjp, [("normal", (5, 4)), ("onehot", (5, 4))]),
    Case("mse", ops.mse, lambda p, t: np.mean((p - t) ** 2), lambda w, p, t: (2 * w * (p - t) / p.size, -2 * w * (p - t) / p.size), [("normal", (4, 3)), ("normal", (4, 3))]),
    Case("binary_cross_entropy", ops.binary_cross_entropy, _bce, _bce_vjp, [("probability", (4, 3)), ("probability", (4, 3))]),
    Case("binary_cross_entropy_logits", lambda z, t: ops.binary_cross_entropy(z, t, from_logits=True), _bce_logits, _bce_logits_vjp, [("wide", (4, 3)), ("probability", (4, 3))]),
]

# shapes of the "labels"/"onehot"/"probs" kinds are the logits' shape (N, C)


def _make_inputs(case: Case, rng):
    arrays = []
    for kind, shape in case.inputs:
        if kind == "normal":
            a = rng.standard_normal(shape)
        elif kind == "wide":
            a = rng.uniform(-6, 6, shape)
        elif kind == "positive":
            a = rng.uniform(0.5, 2.0, shape)
        elif kind == "probability":
            a = rng.uniform(0.05, 0.95, shape)
        elif kind == "labels":
            a = rng.integers(0, shape[1], shape[0])
        elif kind == "onehot":
            a = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
        elif kind == "probs":
            a = _softmax(rng.standard_normal(shape))
        else:  # pragma: no cover
            raise AssertionError(kind)
        arrays.append(a)
    return arrays


def _to_tensors(arrays, requires_grad=True):
    return [Tensor(backend.to_device(a), requires_grad=requires_grad and a.dtype.kind == "f") for a in arrays]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_value_matches_float64_reference(case, xp, rng):
    arrays = _make_inputs(case, rng)
    out = case.op(*_to_tensors(arrays, requires_grad=False))
    expected = np.asarray(case.value(*arrays), dtype=np.float64)
    assert out.dtype == np.float64
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradient_matches_analytic_reference(case, xp, rng):
    arrays = _make_inputs(case, rng)
    tensors = _to_tensors(arrays)
    out = case.op(*tensors)
    w = rng.standard_normal(out.shape)
    out.backward(backend.to_device(w))
    expected = case.vjp(w, *arrays)
    for i, (t, g) in enumerate(zip(tensors, expected)):
        if g is None:
            assert not t.requires_grad or t.grad is None
            continue
        assert t.grad is not None, f"input {i} received no gradient"
        assert t.grad.shape == t.shape, f"input {i}: gradient shape {t.grad.shape} != {t.shape}"
        np.testing.assert_allclose(backend.to_host(t.grad), g, rtol=RTOL, atol=ATOL, err_msg=f"input {i}")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradcheck(case, xp, rng):
    arrays = _make_inputs(case, rng)
    assert gradcheck(case.op, [backend.to_device(a) for a in arrays], eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if c.name in ("add", "matmul", "linear", "sigmoid", "cross_entropy_sparse", "relu", "softmax")], ids=str)
def test_float32_inputs_stay_float32(case, xp, rng):
    arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in _make_inputs(case, rng)]
    tensors = _to_tensors(arrays)
    out = case.op(*tensors)
    assert out.dtype == np.float32
    out.backward(backend.to_device(np.ones(out.shape, np.float32)))
    for t in tensors:
        if t.requires_grad:
            assert t.grad.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), case.value(*[a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]), rtol=1e-5, atol=1e-6)
