"""The new convolution ops (grouped, depthwise, transposed) and the noise ops: values against
float64 NumPy loops, gradients by finite differences, the noise layers' statistics and their
identity at inference, configs, bad arguments. (Against Keras: test_conv_family_keras.py.)"""

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, Tensor, backend, gradcheck
from gpunet import layers as L
from gpunet.ops import convolution as conv_ops
from gpunet.ops import noise as noise_ops
from gpunet.utils import set_random_seed


def _direct_conv(x, kernel, strides, dilation, groups, pads):
    """Grouped convolution by loops over the output positions, float64 (channels_last)."""
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    *size, per_group, filters = kernel.shape
    outs = [(n - (k - 1) * d - 1) // s + 1 for n, k, s, d in zip(x.shape[1:-1], size, strides, dilation)]
    per_filter_group = filters // groups
    y = np.zeros((x.shape[0], *outs, filters))
    for p in np.ndindex(*outs):
        for q in np.ndindex(*size):
            index = tuple(pi * s + qi * d for pi, qi, s, d in zip(p, q, strides, dilation))
            read = x[(slice(None), *index)]  # (N, C_in)
            for g in range(groups):
                part = read[:, g * per_group:(g + 1) * per_group]
                block = slice(g * per_filter_group, (g + 1) * per_filter_group)
                y[(slice(None), *p, block)] += part @ kernel[(*q, slice(None), block)]
    return y


def _direct_transpose(x, kernel, strides, dilation, size, before):
    """Transposed convolution by scattering each input entry over its window, float64."""
    *window, filters, _ = kernel.shape
    full = [b + n + (k - 1) * d + s * m for b, n, k, d, s, m in zip(before, size, window, dilation, strides,
                                                                    x.shape[1:-1])]
    y = np.zeros((x.shape[0], *full, filters))
    for p in np.ndindex(*x.shape[1:-1]):
        for q in np.ndindex(*window):
            index = tuple(pi * s + qi * d for pi, qi, s, d in zip(p, q, strides, dilation))
            y[(slice(None), *index)] += x[(slice(None), *p)] @ kernel[q].T
    return y[(slice(None), *(slice(b, b + n) for b, n in zip(before, size)))]


GROUPED = [  # (x shape, kernel shape, strides, dilation, padding, groups)
    ((2, 7, 6, 4), (3, 3, 2, 6), 1, 1, "valid", 2),
    ((2, 7, 6, 6), (2, 3, 1, 6), (2, 1), 1, "same", 6),
    ((2, 8, 7, 6), (3, 2, 2, 3), 1, 2, "same", 3),
    ((3, 11, 4), (3, 1, 8), 2, 1, "valid", 4),
    ((2, 9, 4), (3, 2, 4), 1, 2, "causal", 2),
    ((2, 6, 5, 16), (3, 3, 8, 16), 1, 1, "same", 2),  # wide groups: BLAS products per group
    ((2, 10, 24), (3, 8, 24), 2, 1, "valid", 3),
]


@pytest.mark.parametrize("case", GROUPED, ids=[f"g{i}" for i in range(len(GROUPED))])
def test_grouped_conv_matches_direct_loops_and_gradcheck(case, xp, rng):
    x_shape, k_shape, strides, dilation, padding, groups = case
    x, kernel, bias = rng.standard_normal(x_shape), rng.standard_normal(k_shape), rng.standard_normal(k_shape[-1])
    rank = len(k_shape) - 2
    window = conv_ops._Window.make(rank, k_shape[:-2], strides, dilation, padding, "kernel_size")
    layout = window.layout(x_shape[1:-1])
    expected = _direct_conv(x, kernel, window.strides, window.dilation, groups, [(b, a) for _, b, a in layout])
    args = dict(strides=strides, padding=padding, dilation=dilation, groups=groups)
    y = conv_ops.conv(Tensor(backend.to_device(x)), Tensor(backend.to_device(kernel)), **args)
    np.testing.assert_allclose(backend.to_host(y.data), expected, rtol=1e-10, atol=1e-12)
    arrays = [backend.to_device(a) for a in (x, kernel, bias)]
    assert gradcheck(lambda a, k, b: conv_ops.conv(a, k, b, activation="tanh", **args), arrays, atol=1e-7, rtol=1e-6)


def test_depthwise_conv_is_the_grouped_conv_of_its_channels(xp, rng):
    """Output channel c * M + m is input channel c convolved with kernel[..., c, m]."""
    x, kernel = rng.standard_normal((2, 7, 6, 3)), rng.standard_normal((3, 2, 3, 2))
    y = backend.to_host(conv_ops.depthwise_conv(Tensor(backend.to_device(x)), Tensor(backend.to_device(kernel)),
                                                strides=(1, 2), padding="same").data)
    for c in range(3):
        for m in range(2):
            single = conv_ops.conv(Tensor(x[..., c:c + 1]), Tensor(kernel[..., c:c + 1, m:m + 1]), strides=(1, 2),
                                   padding="same").numpy()
            np.testing.assert_allclose(y[..., c * 2 + m], single[..., 0], rtol=1e-12, atol=1e-12)
    arrays = [backend.to_device(a) for a in (x, kernel, rng.standard_normal(6))]
    assert gradcheck(lambda a, k, b: conv_ops.depthwise_conv(a, k, b, dilation=2), arrays, atol=1e-7, rtol=1e-6)


TRANSPOSED = [  # (x shape, kernel shape, strides, padding, output_padding, dilation)
    ((2, 4, 3, 3), (3, 3, 2, 3), 1, "valid", None, 1),
    ((2, 4, 3, 3), (3, 3, 2, 3), 2, "same", None, 1),
    ((2, 4, 3, 3), (2, 3, 2, 3), (3, 2), "valid", (1, 0), 1),
    ((2, 4, 3, 3), (3, 3, 2, 3), 2, "same", 1, 1),
    ((2, 4, 3, 2), (3, 2, 2, 2), 1, "same", None, 2),
    ((2, 4, 3, 2), (2, 2, 3, 2), 3, "valid", None, 1),
    ((3, 5, 2), (4, 3, 2), 2, "same", None, 1),
    ((3, 5, 2), (3, 2, 2), 2, "valid", 1, 1),
]


@pytest.mark.parametrize("case", TRANSPOSED, ids=[f"t{i}" for i in range(len(TRANSPOSED))])
def test_conv_transpose_matches_scatter_loops_and_gradcheck(case, xp, rng):
    x_shape, k_shape, strides, padding, output_padding, dilation = case
    x, kernel, bias = rng.standard_normal(x_shape), rng.standard_normal(k_shape), rng.standard_normal(k_shape[-2])
    rank = len(k_shape) - 2
    window = conv_ops._Window.make(rank, k_shape[:-2], strides, dilation, padding, "kernel_size")
    pads = (None,) * rank if output_padding is None else conv_ops._transpose_window(
        rank, k_shape[:-2], strides, padding, output_padding, dilation)[1]
    dims = [conv_ops._transpose_dim(n, k, s, d, padding, p)
            for n, k, s, d, p in zip(x_shape[1:-1], window.size, window.strides, window.dilation, pads)]
    expected = _direct_transpose(x, kernel, window.strides, window.dilation, [d[0] for d in dims],
                                 [d[1] for d in dims])
    args = dict(strides=strides, padding=padding, output_padding=output_padding, dilation=dilation)
    y = conv_ops.conv_transpose(Tensor(backend.to_device(x)), Tensor(backend.to_device(kernel)), **args)
    np.testing.assert_allclose(backend.to_host(y.data), expected, rtol=1e-10, atol=1e-12)
    assert y.shape[1:-1] == conv_ops.conv_transpose_output_shape(x_shape[1:-1], k_shape[:-2], strides, padding,
                                                                 output_padding, dilation)
    arrays = [backend.to_device(a) for a in (x, kernel, bias)]
    assert gradcheck(lambda a, k, b: conv_ops.conv_transpose(a, k, b, activation="sigmoid", **args), arrays,
                     atol=1e-7, rtol=1e-6)


def test_conv_transpose_is_the_input_gradient_of_conv(xp, rng):
    """<conv(z, K), x> == <z, conv_transpose(x, K)> for every z and x (the adjoint), 'same' and 'valid'."""
    for padding, strides in (("valid", 2), ("same", 2), ("same", 1)):
        z, kernel = rng.standard_normal((2, 8, 7, 3)), rng.standard_normal((3, 3, 3, 4))
        y = conv_ops.conv(Tensor(z), Tensor(kernel), strides=strides, padding=padding).numpy()
        x = rng.standard_normal(y.shape)
        back = conv_ops.conv_transpose(Tensor(x), Tensor(kernel), strides=strides, padding=padding,
                                       output_padding=(8 - (y.shape[1] - 1) * strides - (3 if padding == "valid"
                                                                                          else 1),
                                                       7 - (y.shape[2] - 1) * strides - (3 if padding == "valid"
                                                                                         else 1))).numpy()
        assert back.shape == z.shape
        np.testing.assert_allclose(np.sum(y * x), np.sum(z * back), rtol=1e-10)


@pytest.mark.parametrize("call,message", [
    (lambda x, k: conv_ops.conv(x, k, groups=3), "channels"),
    (lambda x, k: conv_ops.conv(x, k, groups=0), "groups"),
    (lambda x, k: conv_ops.conv_transpose(x, k, strides=2, output_padding=2), "output_padding"),
    (lambda x, k: conv_ops.conv_transpose(x, k, padding="causal"), "padding"),
    (lambda x, k: conv_ops.conv_transpose(x[:, :1, :1], k[:2, :2], strides=2, padding="same", output_padding=0),
     "no output"),
    (lambda x, k: conv_ops.depthwise_conv(x, k[..., :1, :]), "channels"),
])
def test_op_arguments_are_checked(call, message):
    x, kernel = Tensor(np.zeros((1, 5, 5, 4))), Tensor(np.zeros((3, 3, 4, 4)))
    with pytest.raises(ValueError, match=message):
        call(x, kernel)


def test_grouped_conv_layer_has_keras_weights_and_checks_its_groups():
    layer = L.Conv2D(6, 3, groups=3)
    layer.build((None, 8, 8, 9))
    assert layer.kernel.shape == (3, 3, 3, 6) and layer.count_params() == 3 * 3 * 3 * 6 + 6
    with pytest.raises(ValueError, match="groups"):
        L.Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match="groups"):
        L.Conv2D(4, 3, groups=2).build((None, 8, 8, 3))


# ----------------------------------------------------------------------------------------------
# noise layers
# ----------------------------------------------------------------------------------------------
NOISE = [
    (lambda: L.GaussianNoise(0.5), "mean", lambda x: (x, 0.25)),
    (lambda: L.GaussianDropout(0.3), "scale", lambda x: (x, 0.3 / 0.7 * x ** 2)),
    (lambda: L.AlphaDropout(0.2), "alpha", None),
    (lambda: L.SpatialDropout1D(0.25), "spatial", None),
    (lambda: L.SpatialDropout2D(0.25), "spatial", None),
]


@pytest.mark.parametrize("make,kind,moments", NOISE, ids=[n[1] + str(i) for i, n in enumerate(NOISE)])
def test_noise_layers_are_the_identity_at_inference_and_seeded(make, kind, moments, xp):
    layer = make()
    shape = (4, 6, 5) if not isinstance(layer, L.SpatialDropout2D) else (4, 6, 5, 3)
    x = backend.to_device(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    np.testing.assert_array_equal(backend.to_host(layer(x, training=False).data), backend.to_host(x))
    np.testing.assert_array_equal(backend.to_host(layer(x).data), backend.to_host(x))
    set_random_seed(3)
    first = backend.to_host(layer(x, training=True).data)
    second = backend.to_host(layer(x, training=True).data)
    set_random_seed(3)
    again = backend.to_host(layer(x, training=True).data)
    np.testing.assert_array_equal(first, again)  # seeded
    assert not np.array_equal(first, second)  # fresh noise at every call
    assert not np.array_equal(first, backend.to_host(x))


def test_gaussian_noise_and_dropout_have_their_moments():
    set_random_seed(0)
    n = 400_000
    x = np.full((n,), 2.0)
    y = L.GaussianNoise(0.5)(x, training=True).numpy() - 2.0
    assert abs(y.mean()) < 4 * 0.5 / n ** 0.5 and abs(y.std() - 0.5) < 0.005
    y = L.GaussianDropout(0.3)(x, training=True).numpy() / 2.0
    stddev = (0.3 / 0.7) ** 0.5
    assert abs(y.mean() - 1) < 4 * stddev / n ** 0.5 and abs(y.std() - stddev) < 0.01 * stddev
    assert abs(((y - 1) / stddev) ** 3).mean() < 2  # not a two-point distribution: the third moment of |N|


def test_alpha_dropout_keeps_zero_mean_and_unit_variance():
    """On standard normal inputs (a SELU network's fixed point) the output keeps mean 0 and
    variance 1, and a fraction ``rate`` of it equals the saturation ``a * alpha' + b``."""
    set_random_seed(1)
    rate, n = 0.2, 400_000
    x = np.random.default_rng(2).standard_normal(n)
    y = L.AlphaDropout(rate)(x, training=True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.01
    saturation = -noise_ops.SELU_ALPHA * noise_ops.SELU_SCALE
    a = ((1 - rate) * (1 + rate * saturation ** 2)) ** -0.5
    dropped = np.isclose(y, a * saturation - a * saturation * rate)
    assert abs(dropped.mean() - rate) < 0.005
    kept = ~dropped
    np.testing.assert_allclose(y[kept], a * x[kept] - a * saturation * rate, rtol=1e-12)


def test_alpha_dropout_noise_shape_broadcasts():
    set_random_seed(4)
    x = np.random.default_rng(0).standard_normal((3, 50, 4))
    y = L.AlphaDropout(0.5, noise_shape=(None, 1, None))(x, training=True).numpy()
    saturation = -noise_ops.SELU_ALPHA * noise_ops.SELU_SCALE
    a = (0.5 * (1 + 0.5 * saturation ** 2)) ** -0.5
    dropped = np.isclose(y, a * saturation * 0.5)
    assert (dropped.all(axis=1) | ~dropped.any(axis=1)).all()  # a whole (sample, feature) column or nothing


def test_spatial_dropout_drops_whole_channels_at_its_rate():
    set_random_seed(5)
    x = np.ones((400, 6, 5, 50), np.float32)
    y = L.SpatialDropout2D(0.25)(x, training=True).numpy()
    per_map = y.reshape(400, 30, 50)
    assert (per_map.min(axis=1) == per_map.max(axis=1)).all()  # one value per feature map
    assert set(np.unique(per_map)) == {0.0, np.float32(1 / 0.75)}
    assert abs((per_map[:, 0] == 0).mean() - 0.25) < 0.01
    first = np.ones((40, 3, 5, 6), np.float32)
    y = L.SpatialDropout2D(0.5, data_format="channels_first")(first, training=True).numpy()
    assert (y.min(axis=(2, 3)) == y.max(axis=(2, 3))).all()


@pytest.mark.parametrize("function", [
    lambda x: noise_ops.gaussian_dropout(x, 0.4), lambda x: noise_ops.alpha_dropout(x, 0.3),
    lambda x: noise_ops.spatial_dropout(x, 0.5, (None, 1, None)), lambda x: noise_ops.gaussian_noise(x, 0.2),
])
def test_noise_gradient_is_the_drawn_scale(function, xp, rng):
    """y = x * scale + shift: the gradient of sum(w * y) is w * scale = w * (y(x) - y(0)) / x on
    the same draw (the draw is replayed with the same seed)."""
    x = backend.to_device(rng.standard_normal((3, 8, 4)) + 3)
    w = backend.to_device(rng.standard_normal((3, 8, 4)))
    t = Tensor(x, requires_grad=True)
    set_random_seed(9)
    y = function(t)
    (y * Tensor(w)).sum().backward()
    set_random_seed(9)
    at_zero = backend.to_host(function(Tensor(x * 0)).data)
    scale = (backend.to_host(y.data) - at_zero) / backend.to_host(x)
    np.testing.assert_allclose(backend.to_host(t.grad), backend.to_host(w) * scale, rtol=1e-9, atol=1e-12)


def test_activity_regularization_adds_its_penalty_and_passes_values():
    x = np.random.default_rng(0).standard_normal((4, 3))
    layer = L.ActivityRegularization(l1=0.1, l2=0.01)
    y = layer(x, training=True)
    np.testing.assert_array_equal(y.numpy(), x)
    penalty = sum(float(backend.to_host(loss.data if hasattr(loss, "data") else loss)) for loss in layer.losses)
    np.testing.assert_allclose(penalty, (0.1 * np.abs(x).sum() + 0.01 * (x ** 2).sum()) / 4, rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# configs and arguments
# ----------------------------------------------------------------------------------------------
LAYERS = [
    lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1, activation="relu"),
    lambda: L.Conv1DTranspose(4, 3, dilation_rate=2, use_bias=False),
    lambda: L.DepthwiseConv2D(3, depth_multiplier=2, depthwise_regularizer="l2"),
    lambda: L.DepthwiseConv1D(2, strides=2, padding="same"),
    lambda: L.SeparableConv2D(4, 3, depth_multiplier=2, pointwise_initializer="he_normal"),
    lambda: L.SeparableConv1D(4, 3, data_format="channels_first"),
    lambda: L.Conv2D(4, 3, groups=2),
    lambda: L.UpSampling2D((2, 3), interpolation="bilinear"), lambda: L.UpSampling1D(3),
    lambda: L.Cropping2D(((1, 2), (3, 0))), lambda: L.Cropping1D(2),
    lambda: L.SpatialDropout1D(0.2), lambda: L.SpatialDropout2D(0.3, data_format="channels_first"),
    lambda: L.GaussianNoise(0.1), lambda: L.GaussianDropout(0.2), lambda: L.AlphaDropout(0.1, noise_shape=(None, 1)),
    lambda: L.ActivityRegularization(l1=0.01),
]


@pytest.mark.parametrize("make", LAYERS, ids=[f"layer{i}" for i in range(len(LAYERS))])
def test_config_round_trips_and_the_registry_finds_the_class(make):
    layer = make()
    config = layer.get_config()
    again = L.deserialize(L.serialize(layer))
    assert type(again) is type(layer) and again.get_config() == config
    assert type(layer).from_config(config).get_config() == config


@pytest.mark.parametrize("make,message", [
    (lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=2), "output_padding"),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, dilation_rate=2), "dilation_rate"),
    (lambda: L.Conv2DTranspose(0, 3), "filters"),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
    (lambda: L.SeparableConv2D(4, 3, padding="causal"), "padding"),
    (lambda: L.UpSampling2D(interpolation="bicubic"), "interpolation"),
    (lambda: L.UpSampling1D(0), "size"),
    (lambda: L.Cropping2D(((1, -1), (0, 0))), "cropping"),
    (lambda: L.Cropping1D((1, 2, 3)), "cropping"),
    (lambda: L.GaussianNoise(2.0), "stddev"),
    (lambda: L.GaussianDropout(-0.1), "rate"),
    (lambda: L.AlphaDropout(0.2, seed=3), "seed"),
    (lambda: L.SpatialDropout1D(1.5), "rate"),
])
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_cropping_that_leaves_nothing_is_refused():
    with pytest.raises(ValueError, match="cropping"):
        L.Cropping2D(((2, 2), (0, 0))).compute_output_shape((None, 4, 5, 1))
    with pytest.raises(ValueError, match="cropping"):
        L.Cropping1D((3, 3))(np.zeros((1, 6, 2)))


def test_the_new_layers_train_in_a_model():
    """A small convolutional autoencoder with every new layer fits (recorded steps included) and
    its loss falls."""
    set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((32, 8, 8, 2)).astype(np.float32)
    model = Sequential([L.Input((8, 8, 2)), L.GaussianNoise(0.05), L.Conv2D(4, 3, padding="same", groups=2,
                                                                             activation="relu"),
                        L.SpatialDropout2D(0.1), L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
                        L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
                        L.SeparableConv2D(2, 3, padding="same"), L.ZeroPadding2D(1), L.Cropping2D(1),
                        L.GaussianDropout(0.05), L.ActivityRegularization(l2=1e-4)])
    model.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, x, epochs=8, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    assert model.predict(x[:2], verbose=0).shape == (2, 8, 8, 2)


def test_grouped_conv_followed_by_max_pooling_is_the_two_ops(xp, rng):
    """MaxPooling2D takes over a grouped Conv2D's product (one fused op): the same numbers as
    the convolution and the pooling one after the other, values and gradients."""
    set_random_seed(0)
    model = Sequential([L.Input((9, 8, 4)), L.Conv2D(6, 3, groups=2, activation="relu"), L.MaxPooling2D(2)])
    conv = model.layers[0]
    assert model.layers[1].takes_over(conv)
    x = backend.to_device(rng.standard_normal((3, 9, 8, 4)).astype(np.float32))
    expected = conv_ops.max_pool(conv(x), 2)
    np.testing.assert_allclose(host_array(model(x)), host_array(expected), rtol=1e-6, atol=1e-6)
    fused = conv_ops.conv_max_pool(Tensor(x), conv.kernel, groups=2)
    assert gradcheck(lambda a, k: conv_ops.conv_max_pool(a, k, groups=2, pool_size=2),
                     [backend.to_device(rng.standard_normal((2, 6, 5, 4))), backend.to_device(
                         rng.standard_normal((3, 3, 2, 6)))], atol=1e-7, rtol=1e-6)
    np.testing.assert_allclose(np.maximum(host_array(fused) + backend.to_host(conv.bias.data), 0),
                               host_array(expected), rtol=1e-6, atol=1e-6)


def host_array(t):
    return backend.to_host(t.data)


@pytest.mark.parametrize("make", [lambda: L.UpSampling2D((2, 3)), lambda: L.UpSampling2D(2, interpolation="bilinear"),
                                  lambda: L.UpSampling1D(3), lambda: L.Cropping2D(((1, 0), (2, 1))),
                                  lambda: L.Cropping1D((2, 1))], ids=["up2d", "bilinear", "up1d", "crop2d", "crop1d"])
def test_resampling_layers_gradcheck(make, xp, rng):
    layer = make()
    shape = (2, 5, 4, 3) if "2D" in type(layer).__name__ else (2, 6, 3)
    assert gradcheck(lambda a: layer(a, training=True), [backend.to_device(rng.standard_normal(shape))])


def test_noise_resumes_from_a_saved_generator_state(xp):
    """The noise layers draw from the stream a checkpoint saves: restoring the state replays it."""
    x = backend.to_device(np.random.default_rng(0).standard_normal((3, 5, 4)).astype(np.float32))
    layers = [L.GaussianNoise(0.3), L.GaussianDropout(0.2), L.AlphaDropout(0.3), L.SpatialDropout1D(0.4)]
    set_random_seed(7)
    for layer in layers:
        layer(x, training=True)
    state = backend.get_rng_state()
    first = [backend.to_host(layer(x, training=True).data) for layer in layers]
    backend.set_rng_state(state)
    again = [backend.to_host(layer(x, training=True).data) for layer in layers]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
