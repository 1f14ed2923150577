"""The convolution family and the layers around it (issue #24): transposed, depthwise,
separable and grouped convolutions, up-sampling, cropping, zero padding, and the noise and
activity-regularization layers, each against the real Keras 3 with the same weights, their new
ops' gradients by finite differences, files both ways and one SGD step, configs, bad arguments."""

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, Tensor, backend, gradcheck
from gpunet import layers as L
from gpunet.ops import convolution as conv_ops
from gpunet.utils import set_random_seed
from tests.keras_parity import assert_layer_matches_keras, host, import_keras

CASES = [  # (input shape without the batch, gpunet layer)
    ((9, 8, 3), lambda: L.Conv2D(6, 3, groups=3, padding="same", activation="relu")),
    ((9, 8, 4), lambda: L.Conv2D(4, (2, 3), strides=2, groups=2)),
    ((11, 4), lambda: L.Conv1D(6, 3, groups=2, padding="causal", dilation_rate=2)),
    ((7, 6, 3), lambda: L.Conv2DTranspose(4, 3)),
    ((7, 6, 3), lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="tanh")),
    ((7, 6, 3), lambda: L.Conv2DTranspose(2, (2, 3), strides=(3, 2), output_padding=(1, 0))),
    ((7, 6, 3), lambda: L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1)),
    ((7, 6, 3), lambda: L.Conv2DTranspose(2, 3, dilation_rate=2, padding="same")),
    ((3, 7, 6), lambda: L.Conv2DTranspose(2, 3, strides=2, data_format="channels_first", use_bias=False)),
    ((9, 3), lambda: L.Conv1DTranspose(4, 4, strides=3)),
    ((9, 3), lambda: L.Conv1DTranspose(4, 3, strides=2, padding="same", output_padding=1)),
    ((9, 8, 3), lambda: L.DepthwiseConv2D(3)),
    ((9, 8, 3), lambda: L.DepthwiseConv2D((3, 2), strides=2, padding="same", depth_multiplier=2, activation="relu")),
    ((9, 8, 3), lambda: L.DepthwiseConv2D(3, dilation_rate=2, depth_multiplier=3, use_bias=False)),
    ((3, 9, 8), lambda: L.DepthwiseConv2D(3, data_format="channels_first", depth_multiplier=2)),
    ((12, 3), lambda: L.DepthwiseConv1D(4, strides=2, padding="same", depth_multiplier=2)),
    ((9, 8, 3), lambda: L.SeparableConv2D(5, 3)),
    ((9, 8, 3), lambda: L.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2, activation="sigmoid")),
    ((3, 9, 8), lambda: L.SeparableConv2D(4, 2, dilation_rate=2, data_format="channels_first")),
    ((12, 3), lambda: L.SeparableConv1D(4, 3, depth_multiplier=2, use_bias=False)),
    ((5, 4, 3), lambda: L.UpSampling2D()),
    ((5, 4, 3), lambda: L.UpSampling2D((2, 3), interpolation="bilinear")),
    ((3, 5, 4), lambda: L.UpSampling2D(3, data_format="channels_first", interpolation="bilinear")),
    ((3, 5, 4), lambda: L.UpSampling2D((1, 2), data_format="channels_first")),
    ((6, 3), lambda: L.UpSampling1D(3)),
    ((9, 8, 3), lambda: L.Cropping2D(((2, 1), (0, 3)))),
    ((9, 8, 3), lambda: L.Cropping2D(2)),
    ((3, 9, 8), lambda: L.Cropping2D((1, 2), data_format="channels_first")),
    ((10, 3), lambda: L.Cropping1D((1, 3))),
    ((10, 3), lambda: L.Cropping1D(2)),
    ((10, 3), lambda: L.ZeroPadding1D((2, 1))),
    ((3, 10), lambda: L.ZeroPadding1D(1, data_format="channels_first")),
]


def _keras_twin(keras, layer):
    """Keras's layer made from gpunet's config (so the config is Keras's too)."""
    return getattr(keras.layers, type(layer).__name__).from_config(layer.get_config())


@pytest.mark.parametrize("shape,make", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_layer_computes_what_keras_computes_with_the_same_weights(shape, make):
    keras = import_keras()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, *shape)).astype(np.float32)
    set_random_seed(1)
    layer = make()
    y = layer(backend.to_device(x))
    theirs = _keras_twin(keras, layer)
    theirs.build((None, *shape))
    weights = [host(w) for w in layer.get_weights()]
    weights = [w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in weights]  # non-zero biases too
    assert [tuple(w.shape) for w in theirs.get_weights()] == [w.shape for w in weights]
    theirs.set_weights(weights)
    layer.set_weights(weights)
    y = host(layer(backend.to_device(x)))
    expected = np.asarray(theirs(x))
    assert y.shape == expected.shape
    assert layer.compute_output_shape((None, *shape)) == (None, *expected.shape[1:])
    assert tuple(theirs.compute_output_shape((None, *shape))) == (None, *expected.shape[1:])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
