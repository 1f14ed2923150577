"""The core ops of keras.ops (outside its numpy/nn/image/linalg namespaces) against the real
Keras 3, their gradients by finite differences, control flow, and the count gpunet has."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Tensor, gradcheck, keras_api
from gpunet.ops import core
from keras_parity import assert_like_keras, host, import_keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 6)).astype(np.float32)
U = RNG.uniform(-0.9, 0.9, (3, 6)).astype(np.float32)
POS = RNG.uniform(0.5, 2, (3, 6)).astype(np.float32)
DATA = RNG.standard_normal((5, 2)).astype(np.float32)
IDS = np.array([0, 0, 1, 3, 3])
SIGNAL = RNG.standard_normal((2, 8)).astype(np.float32)
SIGNAL_I = RNG.standard_normal((2, 8)).astype(np.float32)

CASES = [
    ("cast", (X, "float16"), {}),
    ("cast", (X * 10, "int32"), {}),
    ("convert_to_tensor", ([1, 2, 3],), {}),
    ("convert_to_tensor", ([1.5, 2.0],), {}),
    ("convert_to_tensor", (X,), {"dtype": "float16"}),
    ("saturate_cast", (X * 1000, "int8"), {}),
    ("saturate_cast", (np.array([-5, 300, 70000]), "uint8"), {}),
    ("saturate_cast", (np.array([1e10, -1e10, 3.7], np.float32), "int32"), {}),
    ("slice", (X, (1, 2), (2, 3)), {}),
    ("slice_update", (X, (1, 2), np.ones((2, 3), np.float32)), {}),
    ("scatter", (np.array([[0, 1], [2, 3], [0, 1]]), np.array([1.0, 2.0, 3.0], np.float32), (3, 4)), {}),
    ("scatter_update", (X, np.array([[0, 1], [2, 5]]), np.array([7.0, 8.0], np.float32)), {}),
    ("scatter_update", (X, np.array([[0], [2]]), np.ones((2, 6), np.float32)), {}),
    ("scatter_update", (X, np.array([[0, 1], [0, 1]]), np.array([7.0, 8.0], np.float32)), {"reduction": "add"}),
    ("top_k", (X, 3), {}),
    ("top_k", (X, 2), {"sorted": False}),
    ("in_top_k", (np.array([0, 3, 5]), X, 2), {}),
    ("logsumexp", (X,), {}),
    ("logsumexp", (X,), {"axis": 1}),
    ("logsumexp", (X,), {"axis": 0, "keepdims": True}),
    ("erf", (X,), {}),
    ("erfc", (X,), {}),
    ("erfinv", (U,), {}),
    ("rsqrt", (POS,), {}),
    ("segment_sum", (DATA, IDS), {"num_segments": 4}),
    ("segment_sum", (DATA, IDS), {"num_segments": 5}),
    ("segment_max", (DATA, IDS), {"num_segments": 4}),
    ("extract_sequences", (SIGNAL, 3, 2), {}),
    ("fft", ((SIGNAL, SIGNAL_I),), {}),
    ("fft2", ((SIGNAL, SIGNAL_I),), {}),
    ("ifft2", ((SIGNAL, SIGNAL_I),), {}),
    ("rfft", (SIGNAL,), {}),
    ("rfft", (SIGNAL,), {"fft_length": 6}),
    ("irfft", ((SIGNAL[:, :5], SIGNAL_I[:, :5]),), {}),
    ("irfft", ((SIGNAL[:, :5], SIGNAL_I[:, :5]),), {"fft_length": 7}),
    ("cdist", (X[:, :4], RNG.standard_normal((5, 4)).astype(np.float32)), {}),
    ("logdet", (X[:, :3] @ X[:, :3].T + np.eye(3, dtype=np.float32),), {}),
    ("unstack", (X,), {}),
    ("unstack", (X,), {"axis": 1}),
    ("shape", (X,), {}),
]


@pytest.fixture(scope="module")
def keras():
    return import_keras()


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_like_keras(keras, xp, name, args, kwargs):
    theirs = getattr(keras.ops, name)(*args, **kwargs)
    ours = getattr(core, name)(*args, **kwargs)
    if name == "shape":
        assert ours == tuple(theirs)
        return
    assert_like_keras(ours, theirs, rtol=1e-4, atol=1e-5, name=name)


def test_segment_min_and_prod_against_numpy():
    low, product = host(core.segment_min(DATA, IDS)), host(core.segment_prod(DATA, IDS, 4))
    assert low.shape == (4, 2) and np.all(low[2] == np.inf)
    for s in (0, 1, 3):
        np.testing.assert_allclose(low[s], DATA[IDS == s].min(0))
        np.testing.assert_allclose(product[s], DATA[IDS == s].prod(0), rtol=1e-6)
    np.testing.assert_allclose(product[2], 1.0)


def test_dtypes_and_tensors(keras):
    assert core.dtype(X) == keras.ops.dtype(X) == "float32"
    assert core.dtype(Tensor(np.zeros(2, np.int32))) == "int32"
    assert core.is_tensor(Tensor(X)) and not core.is_tensor([1.0])
    out = core.convert_to_numpy(core.convert_to_tensor(X))
    assert isinstance(out, np.ndarray) and np.array_equal(out, X)
    assert core.stop_gradient(Tensor(X, requires_grad=True)).requires_grad is False


def test_control_flow_like_keras(keras):
    ops = keras.ops
    assert float(host(core.cond(Tensor(True), lambda: Tensor(1.0), lambda: Tensor(2.0)))) == 1.0
    assert float(host(core.cond(False, lambda: 1.0, lambda: 2.0))) == 2.0
    branches = [lambda x: x + 1, lambda x: x * 10]
    assert float(host(core.switch(1, branches, Tensor(2.0)))) == float(ops.switch(1, branches, 2.0))
    assert float(host(core.switch(5, branches, Tensor(2.0)))) == float(ops.switch(5, branches, 2.0))
    body = lambda i, s: (i + 1, s * 2)  # noqa: E731
    ours = core.while_loop(lambda i, s: i < 5, body, (0, 1.0))
    theirs = ops.while_loop(lambda i, s: i < 5, body, (0, 1.0))
    assert isinstance(ours, tuple) and [float(host(v)) for v in ours] == [float(v) for v in theirs]
    assert float(host(core.while_loop(lambda x: x < 100, lambda x: x * 3, 1, maximum_iterations=2))) == 9
    assert float(host(core.fori_loop(0, 4, lambda i, v: v + i, 0))) == float(ops.fori_loop(0, 4, lambda i, v: v + i, 0))
    carry, ys = core.scan(lambda c, x: (c + x, c * x), Tensor(np.zeros(6, np.float32)), X)
    kcarry, kys = ops.scan(lambda c, x: (c + x, c * x), np.zeros(6, np.float32), X)
    assert_like_keras([carry, ys], [kcarry, kys], name="scan")
    carry, ys = core.scan(lambda c, x: (c + x, c), Tensor(np.zeros(6, np.float32)), X, reverse=True)
    kcarry, kys = ops.scan(lambda c, x: (c + x, c), np.zeros(6, np.float32), X, reverse=True)
    assert_like_keras([carry, ys], [kcarry, kys], name="scan reverse")
    assert_like_keras(core.map(lambda r: r * 2, X), ops.map(lambda r: r * 2, X), name="map")
    assert_like_keras(core.vectorized_map(lambda r: r.sum(), X), ops.vectorized_map(lambda r: r.sum(), X),
                      name="vectorized_map")
    add = lambda a, b: a + b  # noqa: E731
    assert_like_keras(core.associative_scan(add, X, axis=1), ops.associative_scan(add, X, axis=1), name="scan+")
    assert_like_keras(core.associative_scan(add, X, reverse=True), ops.associative_scan(add, X, reverse=True),
                      name="scan+ reverse")


def test_gradients_flow_through_eager_control_flow():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = core.fori_loop(0, 3, lambda i, v: v * x, Tensor(np.ones(2)))
    y.sum().backward()
    np.testing.assert_allclose(host(x.grad), 3 * np.array([1.0, 2.0]) ** 2)


def test_custom_gradient():
    @core.custom_gradient
    def clipped_identity(x):
        def grad(upstream):
            return upstream * 0.5
        return x * 1.0, grad

    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = clipped_identity(x)
    np.testing.assert_allclose(host(y), [1.0, -2.0])
    (y * Tensor(np.array([2.0, 4.0]))).sum().backward()
    np.testing.assert_allclose(host(x.grad), [1.0, 2.0])


def f64(*shape):
    return RNG.standard_normal(shape)


GRADIENTS = [
    ("slice", lambda x: core.slice(x, (1, 0), (2, 2)), [f64(3, 3)]),
    ("slice_update", lambda x, u: core.slice_update(x, (0, 1), u), [f64(3, 3), f64(2, 2)]),
    ("scatter", lambda v: core.scatter(np.array([[0, 1], [2, 2], [0, 1]]), v, (3, 3)), [f64(3)]),
    ("scatter_update", lambda x, u: core.scatter_update(x, np.array([[0, 1], [2, 2]]), u), [f64(3, 3), f64(2)]),
    ("top_k", lambda x: core.top_k(x, 2)[0], [f64(3, 5)]),
    ("logsumexp", lambda x: core.logsumexp(x, axis=1), [f64(3, 5)]),
    ("erf", core.erf, [f64(4)]),
    ("erfc", core.erfc, [f64(4)]),
    ("erfinv", core.erfinv, [RNG.uniform(-0.9, 0.9, 4)]),
    ("rsqrt", core.rsqrt, [RNG.uniform(0.5, 2, 4)]),
    ("segment_sum", lambda d: core.segment_sum(d, IDS), [f64(5, 2)]),
    ("segment_max", lambda d: core.segment_max(d, np.array([0, 0, 1, 2, 2])), [f64(5, 2)]),
    ("segment_min", lambda d: core.segment_min(d, np.array([0, 0, 1, 2, 2])), [f64(5, 2)]),
    ("segment_prod", lambda d: core.segment_prod(d, IDS), [f64(5, 2)]),
    ("extract_sequences", lambda x: core.extract_sequences(x, 3, 2), [f64(2, 8)]),
    ("fft", lambda r, i: core.fft((r, i))[1], [f64(2, 5), f64(2, 5)]),
    ("ifft2", lambda r, i: core.ifft2((r, i))[0], [f64(3, 4), f64(3, 4)]),
    ("rfft", lambda x: core.rfft(x)[1], [f64(2, 6)]),
    ("irfft", lambda r, i: core.irfft((r, i), 6), [f64(2, 4), f64(2, 4)]),
    ("cdist", core.cdist, [f64(3, 2), f64(4, 2)]),
    ("logdet", core.logdet, [f64(3, 3) + 4 * np.eye(3)]),
    ("unstack", lambda x: core.unstack(x, axis=1)[1], [f64(3, 2)]),
]


@pytest.mark.parametrize("name,fn,inputs", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_gradients(name, fn, inputs):
    assert gradcheck(fn, inputs, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("call,message", [
    (lambda: core.top_k(X, 0), "k must"),
    (lambda: core.slice(X, (1,), (1, 1)), "start_indices"),
    (lambda: core.scatter_update(X, np.array([[0, 0]]), np.ones(1), reduction="max"), "reduction"),
    (lambda: core.segment_sum(DATA, IDS[:3]), "segment_ids"),
    (lambda: core.fft(SIGNAL), "pair"),
    (lambda: core.unstack(X, num=4), "num"),
    (lambda: core.convert_to_tensor(X, sparse=True), "sparse"),
    (lambda: core.switch(0, []), "branches"),
])
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_coverage_of_the_core_ops():
    names = {module: keras_api.keras_names(module) for module in keras_api.keras_modules() if module.startswith("keras.ops")}
    others = set()
    for module in ("numpy", "nn", "image", "linalg"):
        others |= set(names[f"keras.ops.{module}"])
    core_names = {name for name, kind in names["keras.ops"].items() if name not in others and kind != "module"}
    have = sorted(name for name in core_names if hasattr(gpunet.ops, name))
    assert sorted(core.__all__) == have and len(have) >= 35
    for name in core.__all__:
        assert getattr(gpunet.ops, name) is getattr(core, name)
