"""Masks ride along with the tensors, as Keras carries them: a layer that makes one (its
compute_mask), layers that hand it on (supports_masking), a layer whose call takes ``mask``;
in Sequential, functional and merged graphs. Checked against Keras 3 with the same classes."""


import numpy as np
import pytest

import gpunet
from gpunet import backend


def classes(lib):
    class ZeroMask(lib.layers.Layer):
        """Marks the time steps whose features are all zero as masked (what Masking does)."""

        def call(self, x):
            return x

        def compute_mask(self, inputs, mask=None):
            return lib.ops.any(lib.ops.not_equal(inputs, 0.0), axis=-1)

    class MaskedMean(lib.layers.Layer):
        """The mean over the time steps the mask keeps."""

        def call(self, x, mask=None):
            if mask is None:
                return lib.ops.mean(x, axis=1)
            weights = lib.ops.expand_dims(lib.ops.cast(mask, x.dtype), -1)
            return lib.ops.sum(x * weights, axis=1) / lib.ops.maximum(lib.ops.sum(weights, axis=1), 1.0)

        def compute_mask(self, inputs, mask=None):
            return None

    return ZeroMask, MaskedMean


def data():
    x = np.random.default_rng(0).standard_normal((3, 5, 4)).astype(np.float32)
    x[0, 3:] = 0.0
    x[2, :2] = 0.0
    return x


def build(lib, kind):
    ZeroMask, MaskedMean = classes(lib)
    dense = lib.layers.Dense(3, name="dense")
    if kind == "sequential":
        return lib.Sequential([lib.Input((5, 4)), ZeroMask(), dense, lib.layers.Activation("tanh"), MaskedMean()])
    inputs = lib.Input((5, 4))
    masked = ZeroMask()(inputs)
    a = lib.layers.Activation("tanh")(dense(masked))
    b = lib.layers.Dropout(0.5)(masked)
    joined = lib.layers.Concatenate()([a, b])
    return lib.Model(inputs, MaskedMean()(joined))


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_mask_reaches_the_layer_that_uses_it_as_in_keras(keras, kind):
    x = data()
    theirs, ours = build(keras, kind), build(gpunet, kind)
    ours.set_weights(theirs.get_weights())
    expected = np.asarray(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    unmasked = np.asarray(theirs.predict(x[1:2], verbose=0))  # nothing masked in sample 1: a plain mean
    np.testing.assert_allclose(expected[1:2], unmasked, rtol=1e-5, atol=1e-6)


def test_masks_travel_on_the_tensors_and_stop_where_keras_stops_them():
    ZeroMask, MaskedMean = classes(gpunet)
    x = gpunet.Tensor(data())
    masked = ZeroMask()(x)
    mask = backend.to_host(masked._keras_mask.data)
    np.testing.assert_array_equal(mask, np.abs(data()).sum(axis=-1) > 0)
    dense_out = gpunet.layers.Dense(2)(masked)
    assert dense_out._keras_mask is masked._keras_mask  # Dense supports masking: the same mask goes on
    flat = gpunet.layers.Flatten()(masked)
    assert getattr(flat, "_keras_mask", None) is None  # Flatten does not
    assert getattr(MaskedMean()(masked), "_keras_mask", None) is None


def test_a_model_trains_with_a_mask():
    x = data()
    model = build(gpunet, "sequential")
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    model.fit(x, np.zeros((3, 3), np.float32), epochs=2, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
