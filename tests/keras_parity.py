"""The comparison the tests of gpunet.ops.nn/image/linalg/core and gpunet.random share: gpunet's
result against the real Keras 3's (on JAX) for the same call, value by value, shape and dtype."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gpunet import Tensor, backend


def import_keras():
    """Keras 3 on JAX, or the calling test is skipped (the test extra is absent)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("jax", reason="the Keras comparisons run Keras 3 on JAX")
    return pytest.importorskip("keras", minversion="3.0")


def host(value):
    """A result (Tensor, backend array, Keras tensor, tuple of them) as NumPy arrays."""
    if isinstance(value, (tuple, list)):
        return [host(v) for v in value]
    if isinstance(value, Tensor):
        return backend.to_host(value.data)
    if backend.is_device_array(value):
        return backend.to_host(value)
    return np.asarray(value)


def assert_like_keras(ours, theirs, rtol=1e-5, atol=1e-6, dtype=True, name=""):
    """Same structure, shapes, dtypes (unless ``dtype`` is False) and values within tolerance."""
    ours, theirs = host(ours), host(theirs)
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), f"{name}: {len(theirs)} results expected"
        for a, b in zip(ours, theirs):
            assert_like_keras(a, b, rtol, atol, dtype, name)
        return
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape}, Keras {theirs.shape}"
    if dtype:
        assert ours.dtype == theirs.dtype, f"{name}: dtype {ours.dtype}, Keras {theirs.dtype}"
    if theirs.dtype.kind in "fc":
        np.testing.assert_allclose(ours.astype(np.float64), theirs.astype(np.float64), rtol=rtol, atol=atol,
                                   err_msg=name)
    else:
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
