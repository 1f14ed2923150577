"""gpunet.ops.linalg against the real Keras 3 (values, shapes, dtypes), finite-difference
gradients of the differentiable ops in float64, and how much of keras.ops.linalg gpunet has."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import gradcheck, keras_api
from gpunet.ops import linalg
from keras_parity import assert_like_keras, host, import_keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

RNG = np.random.default_rng(3)


def spd(*batch, n=4, dtype=np.float32):
    m = RNG.standard_normal((*batch, n, n))
    return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(dtype)


A = RNG.standard_normal((4, 4)).astype(np.float32) + 4 * np.eye(4, dtype=np.float32)
BATCH = RNG.standard_normal((2, 3, 3)).astype(np.float32) + 3 * np.eye(3, dtype=np.float32)
B = RNG.standard_normal((4, 2)).astype(np.float32)
TALL = RNG.standard_normal((6, 3)).astype(np.float32)
SPD = spd()
LOWER = np.tril(A)

CASES = [
    ("cholesky", (SPD,), {}),
    ("cholesky", (spd(2),), {"upper": True}),
    ("cholesky_inverse", (np.linalg.cholesky(SPD),), {}),
    ("cholesky_inverse", (np.linalg.cholesky(SPD).T.copy(),), {"upper": True}),
    ("det", (A,), {}),
    ("det", (BATCH,), {}),
    ("inv", (A,), {}),
    ("inv", (BATCH,), {}),
    ("lu_factor", (A,), {}),
    ("lu_factor", (RNG.standard_normal((5, 5)).astype(np.float32),), {}),
    ("norm", (TALL,), {}),
    ("norm", (TALL,), {"ord": 1, "axis": 0}),
    ("norm", (TALL,), {"ord": np.inf, "axis": -1, "keepdims": True}),
    ("norm", (TALL,), {"ord": 3, "axis": 1}),
    ("norm", (TALL,), {"ord": "fro"}),
    ("norm", (TALL,), {"ord": 1}),
    ("norm", (TALL,), {"ord": -np.inf}),
    ("norm", (TALL,), {"ord": 2}),
    ("norm", (TALL,), {"ord": "nuc"}),
    ("norm", (BATCH,), {"axis": (1, 2)}),
    ("solve", (A, B), {}),
    ("solve", (BATCH, RNG.standard_normal((2, 3, 2)).astype(np.float32)), {}),
    ("solve_triangular", (LOWER, B), {"lower": True}),
    ("solve_triangular", (A, B), {}),
    ("lstsq", (TALL, RNG.standard_normal((6, 2)).astype(np.float32)), {}),
    ("matrix_rank", (TALL @ TALL.T,), {}),
    ("pinv", (TALL,), {}),
    ("svd", (TALL,), {"compute_uv": False}),
]


@pytest.fixture(scope="module")
def keras():
    return import_keras()


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_like_keras(keras, xp, name, args, kwargs):
    theirs = getattr(keras.ops.linalg, name)(*args, **kwargs)
    ours = getattr(linalg, name)(*args, **kwargs)
    assert_like_keras(ours, theirs, rtol=2e-4, atol=2e-5, name=name)


def test_factorizations_reconstruct_like_keras(keras):
    """qr, svd, eigh and eig are unique up to signs and order: compared by what they rebuild."""
    q, r = host(linalg.qr(TALL))
    kq, kr = host(keras.ops.linalg.qr(TALL))
    assert q.shape == kq.shape and r.shape == kr.shape and q.dtype == kq.dtype
    np.testing.assert_allclose(q @ r, TALL, atol=1e-5)
    np.testing.assert_allclose(np.abs(r), np.abs(kr), atol=1e-5)
    q, r = host(linalg.qr(TALL, mode="complete"))
    assert q.shape == (6, 6) and r.shape == (6, 3)
    u, s, vh = host(linalg.svd(TALL, full_matrices=False))
    np.testing.assert_allclose((u * s) @ vh, TALL, atol=1e-5)
    assert [a.shape for a in host(linalg.svd(TALL))] == [a.shape for a in host(keras.ops.linalg.svd(TALL))]
    w, v = host(linalg.eigh(SPD))
    kw, _ = host(keras.ops.linalg.eigh(SPD))
    np.testing.assert_allclose(w, kw, rtol=1e-5)
    np.testing.assert_allclose((v * w) @ v.T, SPD, atol=1e-4)
    w, v = host(linalg.eig(A))
    kw, kv = host(keras.ops.linalg.eig(A))
    assert w.dtype == kw.dtype and v.shape == kv.shape
    np.testing.assert_allclose(np.sort_complex(w), np.sort_complex(kw), rtol=1e-5)
    np.testing.assert_allclose(A @ v, v * w, atol=1e-4)


def test_lu_factor_rebuilds_the_matrix():
    m = RNG.standard_normal((3, 5, 5))
    lu, pivots = host(linalg.lu_factor(m))
    for k in range(3):
        lower, upper = np.tril(lu[k], -1) + np.eye(5), np.triu(lu[k])
        rows = np.arange(5)
        for i, p in enumerate(pivots[k]):
            rows[[i, p]] = rows[[p, i]]
        np.testing.assert_allclose(lower @ upper, m[k][rows], atol=1e-12)


def m64(*shape):
    return RNG.standard_normal(shape)


GRADIENTS = [
    ("inv", linalg.inv, [m64(3, 3) + 3 * np.eye(3)]),
    ("det", linalg.det, [m64(2, 3, 3) + 2 * np.eye(3)]),
    ("solve", linalg.solve, [m64(3, 3) + 3 * np.eye(3), m64(3, 2)]),
    ("solve vector", linalg.solve, [m64(3, 3) + 3 * np.eye(3), m64(3)]),
    ("solve_triangular", lambda a, b: linalg.solve_triangular(a, b, lower=True), [m64(3, 3) + 3 * np.eye(3), m64(3, 2)]),
    ("cholesky", lambda a: linalg.cholesky((a + a.T) * 0.5), [spd(dtype=np.float64)]),
    ("cholesky upper", lambda a: linalg.cholesky((a + a.T) * 0.5, upper=True), [spd(dtype=np.float64)]),
    ("cholesky_inverse", linalg.cholesky_inverse, [np.linalg.cholesky(spd(dtype=np.float64))]),
    ("eigh values", lambda a: linalg.eigh((a + a.T) * 0.5)[0], [spd(dtype=np.float64)]),
    ("eigh vectors", lambda a: linalg.eigh((a + a.T) * 0.5)[1] ** 2, [spd(dtype=np.float64)]),
    ("norm", linalg.norm, [m64(3, 4)]),
    ("norm axis", lambda x: linalg.norm(x, ord=3, axis=1), [m64(3, 4)]),
    ("norm inf", lambda x: linalg.norm(x, ord=np.inf, axis=(0, 1)), [m64(3, 4)]),
]


@pytest.mark.parametrize("name,fn,inputs", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_gradients(name, fn, inputs):
    assert gradcheck(fn, inputs, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("call,message", [
    (lambda: linalg.inv(TALL), "square"),
    (lambda: linalg.solve(A, TALL), "does not match"),
    (lambda: linalg.qr(TALL, mode="r"), "mode"),
    (lambda: linalg.norm(TALL, ord="bad"), "ord"),
    (lambda: linalg.norm(BATCH, ord=2), "axis"),
    (lambda: linalg.lstsq(BATCH, B), "lstsq"),
])
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_coverage_of_keras_ops_linalg():
    have = keras_api.supported("keras.ops.linalg")
    assert len(have) >= 13 and sorted(linalg.__all__) == have
    assert sorted(set(keras_api.keras_names("keras.ops.linalg")) - set(have)) == ["jvp"]
