"""The comparison the tests of gpunet.ops.nn/image/linalg/core and gpunet.random share: gpunet's
result against the real Keras 3's (on JAX) for the same call, value by value, shape and dtype."""

from __future__ import annotations

import os

import numpy as np
import pytest

import gpunet
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


def assert_layer_matches_keras(keras, build, x, y, loss, tmp_path, formats=(".keras", ".h5"), atol=1e-5,
                               learning_rate=0.1, seed=1):
    """A model holding the layers under test against Keras 3, files both ways and one training step.

    ``build()`` makes the gpunet model (Sequential or functional; built, weights initialized). For each
    file format: Keras opens gpunet's file and predicts what gpunet predicts; Keras then moves every
    weight (noise of scale 0.1, variance-like weights scaled instead) and saves; gpunet opens Keras's
    file and predicts what Keras predicts. Last, from Keras's weights, one SGD ``train_on_batch`` on
    each side lands on the same new weights. Returns (gpunet model, Keras model) after the step.
    """
    model = build()
    ours = host(model.predict(x, verbose=0))
    rng = np.random.default_rng(seed)
    for suffix in formats:
        path = tmp_path / f"gpunet{suffix}"
        model.save(path)
        theirs = keras.models.load_model(path, compile=False)
        np.testing.assert_allclose(host(theirs.predict(x, verbose=0)), ours, rtol=1e-5, atol=atol,
                                   err_msg=f"Keras opening gpunet's {suffix}")
        theirs.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) if w.dtype.kind == "f"
                            and "variance" not in v.path else
                            (w * rng.uniform(0.5, 2.0, w.shape).astype(w.dtype) if w.dtype.kind == "f" else w)
                            for v, w in zip(theirs.weights, theirs.get_weights())])
        path = tmp_path / f"keras{suffix}"
        theirs.save(path)
        back = gpunet.load_model(path, compile=False)
        expected = host(theirs.predict(x, verbose=0))
        np.testing.assert_allclose(host(back.predict(x, verbose=0)), expected, rtol=1e-5, atol=atol,
                                   err_msg=f"gpunet opening Keras's {suffix}")
    back.compile(optimizer=gpunet.optimizers.SGD(learning_rate), loss=loss)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=loss)
    ours_loss = back.train_on_batch(x, y)
    theirs_loss = theirs.train_on_batch(x, y)
    np.testing.assert_allclose(np.asarray(ours_loss, dtype=np.float64), np.asarray(theirs_loss, dtype=np.float64),
                               rtol=1e-4, atol=atol, err_msg="train_on_batch loss")
    for variable, got, want in zip(theirs.weights, back.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(host(got), np.asarray(want), rtol=1e-4, atol=atol,
                                   err_msg=f"{variable.path} after one SGD step")
    return back, theirs
