"""The convolution family and the layers around it against the real Keras 3: transposed,
depthwise, separable and grouped convolutions, up-sampling, cropping and zero padding computing
what Keras computes with the same weights (Keras's layer made from gpunet's config), and models
of them, the noise and activity-regularization layers included, through files both ways and one
SGD step. (The ops against loops, gradients, noise statistics: test_conv_family.py.)"""

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, backend
from gpunet import layers as L
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
    ((1, 1, 3), lambda: L.Conv2DTranspose(2, 3, padding="same")),  # outputs smaller than the kernel
    ((3, 3), lambda: L.Conv1DTranspose(2, 4, strides=2, padding="same", output_padding=0)),
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


SLOW_CASES = {1, 2, 6, 8, 15, 16, 20, 21}  # more argument combinations of layers the other cases cover


@pytest.mark.parametrize("shape,make", [pytest.param(*case, marks=pytest.mark.slow) if i in SLOW_CASES else case
                                        for i, case in enumerate(CASES)], ids=[f"case{i}" for i in range(len(CASES))])
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


def _autoencoder():
    """Every new layer with weights, and the noise layers at rate 0 (the SGD step must be
    deterministic on both sides), in a small convolutional autoencoder."""
    set_random_seed(2)
    return Sequential([
        L.Input((8, 8, 2)), L.GaussianNoise(0.0), L.Conv2D(4, 3, padding="same", groups=2, activation="relu"),
        L.SpatialDropout2D(0.0), L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
        L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"), L.UpSampling2D(interpolation="bilinear"),
        L.SeparableConv2D(3, 3, padding="same", depth_multiplier=2), L.Cropping2D(((1, 3), (2, 2))),
        L.Conv2DTranspose(2, 3, strides=2, output_padding=1), L.UpSampling2D((1, 2)), L.GaussianDropout(0.0),
        L.AlphaDropout(0.0), L.ActivityRegularization(l1=1e-3, l2=1e-2), L.Cropping2D(((9, 9), (22, 22))),
    ])


def test_autoencoder_files_both_ways_and_one_sgd_step(tmp_path):
    keras = import_keras()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 8, 8, 2)).astype(np.float32)
    model = _autoencoder()
    assert model.output_shape == (None, 8, 8, 2)
    assert_layer_matches_keras(keras, _autoencoder, x, x, "mse", tmp_path)


@pytest.mark.slow
def test_sequence_family_files_both_ways_and_one_sgd_step(tmp_path):
    keras = import_keras()
    x = np.random.default_rng(4).standard_normal((4, 12, 3)).astype(np.float32)
    y = np.random.default_rng(5).standard_normal((4, 12, 2)).astype(np.float32)

    def build():
        set_random_seed(3)
        return Sequential([L.Input((12, 3)), L.Conv1D(4, 3, groups=1, padding="causal"), L.SpatialDropout1D(0.0),
                           L.DepthwiseConv1D(3, depth_multiplier=2, padding="same", activation="tanh"),
                           L.SeparableConv1D(4, 3, strides=2, padding="same"), L.Conv1DTranspose(3, 3, strides=2,
                                                                                                 padding="same"),
                           L.UpSampling1D(2), L.Cropping1D((5, 7)), L.ZeroPadding1D((0, 0)),
                           L.Conv1D(2, 1, groups=1)])

    assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path)


def test_noise_layers_files_both_ways_keep_their_arguments(tmp_path):
    """At inference every noise layer is the identity on both sides; their arguments survive
    Keras's files and gpunet's. (No AlphaDropout noise_shape here: Keras 3.15 itself cannot
    save again a model with one that it loaded from a .h5 file.)"""
    keras = import_keras()
    x = np.random.default_rng(6).standard_normal((3, 5, 4, 2)).astype(np.float32)
    model = Sequential([L.Input((5, 4, 2)), L.GaussianNoise(0.3), L.SpatialDropout2D(0.2, data_format="channels_first"),
                        L.GaussianDropout(0.25), L.AlphaDropout(0.1),
                        L.ActivityRegularization(l1=0.5)])
    configs = [layer.get_config() for layer in model.layers]
    for suffix in (".keras", ".h5"):
        model.save(tmp_path / f"g{suffix}")
        theirs = keras.models.load_model(tmp_path / f"g{suffix}", compile=False)
        np.testing.assert_array_equal(np.asarray(theirs.predict(x, verbose=0)), x)
        assert [layer.rate for layer in theirs.layers[1:4]] == [0.2, 0.25, 0.1]
        assert theirs.layers[0].stddev == 0.3 and theirs.layers[4].l1 == 0.5
        theirs.save(tmp_path / f"k{suffix}")
        back = gpunet.load_model(tmp_path / f"k{suffix}", compile=False)
        np.testing.assert_array_equal(host(back.predict(x, verbose=0)), x)
        assert [{k: v for k, v in layer.get_config().items() if k != "name"} for layer in back.layers] == [
            {k: v for k, v in c.items() if k != "name"} for c in configs]
