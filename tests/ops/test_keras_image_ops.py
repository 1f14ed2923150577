"""gpunet.ops.image against the real Keras 3 (values, shapes, dtypes over a table of calls),
finite-difference gradients in float64 for the differentiable ops, the errors for what gpunet
refuses, and how much of keras.ops.image gpunet has."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import gradcheck, keras_api
from gpunet.ops import image
from keras_parity import assert_like_keras, import_keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

RNG = np.random.default_rng(5)
IMGS = RNG.random((2, 7, 9, 3)).astype(np.float32)
ONE = IMGS[0].copy()
CF = np.moveaxis(IMGS, -1, 1).copy()
SHIFT = np.tile(np.array([1, 0, 1.5, 0, 1, -2.25, 0, 0], np.float32), (2, 1))  # Keras: one per image
ROTATE = np.tile(np.array([np.cos(0.3), -np.sin(0.3), 2.0, np.sin(0.3), np.cos(0.3), -1.0, 0, 0], np.float32), (2, 1))
# Keras 3.15 on JAX multiplies c0, c1 by the channel index instead of dividing by k: compared with
# c0 = c1 = 0 only (test_projective_transform_divides_by_k checks the division)
ZOOM = np.array([[0.7, 0.1, 0.3, 0.05, 0.8, 0.2, 0, 0], [1.3, 0, -1, 0, 1.2, -1.5, 0, 0]], np.float32)
VOLUME = RNG.random((4, 5, 6)).astype(np.float32)
COORDS = np.stack([RNG.uniform(-1, 4, (3, 5)), RNG.uniform(-1, 5, (3, 5)), RNG.uniform(-1, 6, (3, 5))])

CASES = [
    ("resize", (IMGS, (14, 18)), {}),
    ("resize", (IMGS, (4, 5)), {}),
    ("resize", (IMGS, (10, 4)), {"interpolation": "nearest"}),
    ("resize", (IMGS, (5, 13)), {"interpolation": "nearest"}),
    ("resize", (ONE, (6, 6)), {"crop_to_aspect_ratio": True}),
    ("resize", (ONE, (6, 6)), {"pad_to_aspect_ratio": True, "fill_value": 0.5}),
    ("resize", (CF, (5, 11)), {"data_format": "channels_first"}),
    ("crop_images", (IMGS,), {"top_cropping": 1, "left_cropping": 2, "target_height": 4, "target_width": 5}),
    ("crop_images", (ONE,), {"bottom_cropping": 2, "right_cropping": 1, "target_height": 3, "target_width": 4}),
    ("crop_images", (CF,), {"top_cropping": 1, "bottom_cropping": 2, "left_cropping": 0, "right_cropping": 3,
                            "data_format": "channels_first"}),
    ("pad_images", (IMGS,), {"top_padding": 1, "left_padding": 2, "target_height": 10, "target_width": 12}),
    ("pad_images", (ONE,), {"bottom_padding": 2, "right_padding": 1, "top_padding": 0, "left_padding": 3}),
    ("rgb_to_grayscale", (IMGS,), {}),
    ("rgb_to_grayscale", (CF,), {"data_format": "channels_first"}),
    ("rgb_to_hsv", (IMGS,), {}),
    ("hsv_to_rgb", (IMGS,), {}),
    ("extract_patches", (IMGS, (2, 3)), {}),
    ("extract_patches", (IMGS, 3), {"strides": 2, "padding": "same"}),
    ("extract_patches", (ONE, (2, 2)), {"strides": 1, "dilation_rate": 2}),
    ("sobel_edges", (IMGS,), {}),
    ("ssim", (RNG.random((2, 16, 14, 3)).astype(np.float32), RNG.random((2, 16, 14, 3)).astype(np.float32)), {}),
    ("ssim", (IMGS[0], np.clip(IMGS[0] + 0.1, 0, 1)), {"filter_size": 5, "filter_sigma": 1.0, "max_val": 2.0}),
    ("ssim", (CF, CF[::-1].copy()), {"filter_size": 3, "data_format": "channels_first", "k1": 0.02}),
    ("affine_transform", (IMGS, SHIFT), {}),
    ("affine_transform", (IMGS, ROTATE), {"interpolation": "nearest"}),
    ("affine_transform", (IMGS, ZOOM), {"fill_mode": "nearest"}),
    ("affine_transform", (IMGS, ROTATE), {"fill_mode": "wrap"}),
    ("affine_transform", (IMGS, ROTATE), {"fill_mode": "mirror"}),
    ("affine_transform", (IMGS, ROTATE), {"fill_mode": "reflect"}),
    ("affine_transform", (IMGS, ROTATE), {"fill_value": 0.5}),
    ("affine_transform", (ONE, SHIFT[0]), {}),
    ("perspective_transform", (IMGS, np.tile(np.array([[0, 0], [8, 0], [0, 6], [8, 6]], np.float32), (2, 1, 1)),
                               np.tile(np.array([[1, 0], [7, 1], [0, 6], [8, 5]], np.float32), (2, 1, 1))), {}),
    ("map_coordinates", (VOLUME, COORDS, 1), {}),
    ("map_coordinates", (VOLUME, COORDS, 0), {}),
    ("map_coordinates", (VOLUME, COORDS, 1), {"fill_mode": "nearest"}),
    ("map_coordinates", (VOLUME, COORDS, 1), {"fill_mode": "wrap"}),
    ("map_coordinates", (VOLUME, COORDS, 1), {"fill_mode": "mirror"}),
    ("map_coordinates", (VOLUME, COORDS, 1), {"fill_mode": "reflect", "fill_value": 2.0}),
]


@pytest.fixture(scope="module")
def keras():
    return import_keras()


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_like_keras(keras, xp, name, args, kwargs):
    theirs = getattr(keras.ops.image, name)(*args, **kwargs)
    ours = getattr(image, name)(*args, **kwargs)
    assert_like_keras(ours, theirs, rtol=1e-4, atol=2e-5, name=name)


def test_projective_transform_divides_by_k():
    """With c0, c1 an output pixel (x, y) reads the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y
    + b2) / k), k = c0 x + c1 y + 1: checked where those points fall on pixel centres."""
    transform = np.array([2.0, 0, 0, 0, 2.0, 0, 0.5, 0.0])  # x_in = 2x / (0.5x + 1), y_in = 2y / (0.5x + 1)
    ramp = np.arange(8 * 8, dtype=np.float64).reshape(1, 8, 8, 1)
    out = image.affine_transform(ramp, transform).numpy()[0, :, :, 0]
    for y in range(4):
        for x in (0, 2):  # k = 1 or 2: the input points are whole pixels
            k = 0.5 * x + 1
            assert out[y, x] == pytest.approx(ramp[0, round(2 * y / k), round(2 * x / k), 0])
    assert out[3, 2] == pytest.approx(ramp[0, 3, 2, 0]) and out[3, 2] != pytest.approx(ramp[0, 6, 4, 0])


def blurred(images, kernel_size, sigma):
    """A float64 reference: the separable Gaussian, zero padded, kernel_size/sigma (across, down)."""
    def gauss(k, s):
        g = np.exp(-((np.arange(k) - (k - 1) / 2) ** 2) / (2 * s * s))
        return g / g.sum()
    kernel = np.outer(gauss(kernel_size[1], sigma[1]), gauss(kernel_size[0], sigma[0]))
    kh, kw = kernel.shape
    padded = np.pad(images.astype(np.float64), ((0, 0), (kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2), (0, 0)))
    h, w = images.shape[1:3]
    return sum(kernel[i, j] * padded[:, i:i + h, j:j + w] for i in range(kh) for j in range(kw))


@pytest.mark.parametrize("kernel_size,sigma", [((3, 3), (1.0, 1.0)), ((5, 3), (2.0, 0.5)), ((3, 5), (0.7, 1.5))])
def test_gaussian_blur_against_a_reference(kernel_size, sigma):
    """Keras 3.15 on JAX mixes the channels of its depthwise kernel (its NumPy backend agrees with
    this reference, which is what gpunet matches)."""
    ours = image.gaussian_blur(IMGS, kernel_size, sigma).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, blurred(IMGS, kernel_size, sigma), rtol=1e-5, atol=1e-6)


def f64(*shape):
    return RNG.random(shape)


GRADIENTS = [
    ("resize bilinear", lambda x: image.resize(x, (5, 7)), [f64(1, 4, 3, 2)]),
    ("resize nearest", lambda x: image.resize(x, (6, 2), interpolation="nearest"), [f64(1, 4, 3, 2)]),
    ("crop_images", lambda x: image.crop_images(x, 1, 0, target_height=2, target_width=2), [f64(4, 3, 2)]),
    ("pad_images", lambda x: image.pad_images(x, 1, 2, target_height=6, target_width=6), [f64(4, 3, 2)]),
    ("rgb_to_grayscale", image.rgb_to_grayscale, [f64(1, 2, 3, 3)]),
    ("extract_patches", lambda x: image.extract_patches(x, 2, strides=1), [f64(1, 3, 4, 2)]),
    ("gaussian_blur", image.gaussian_blur, [f64(1, 4, 4, 2)]),
    ("affine_transform", lambda x: image.affine_transform(x, ROTATE[:1]), [f64(1, 5, 6, 2)]),
    ("map_coordinates", lambda v: image.map_coordinates(v, COORDS, 1, fill_mode="mirror"), [f64(4, 5, 6)]),
    ("ssim", lambda a, b: image.ssim(a, b, filter_size=3), [f64(1, 5, 4, 2), f64(1, 5, 4, 2)]),
]


@pytest.mark.parametrize("name,fn,inputs", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_gradients(name, fn, inputs):
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("call,message", [
    (lambda: image.resize(IMGS, (4, 4), interpolation="bicubic"), "interpolation"),
    (lambda: image.resize(IMGS, (4, 4), antialias=True), "antialias"),
    (lambda: image.resize(IMGS, 4), "size"),
    (lambda: image.resize(IMGS[0, 0], (4, 4)), "images"),
    (lambda: image.crop_images(IMGS, top_cropping=1), "exactly two"),
    (lambda: image.crop_images(IMGS, 1, 1, target_height=9, target_width=2), "fit"),
    (lambda: image.pad_images(IMGS, 1, 1, target_height=3, target_width=20), "negative"),
    (lambda: image.map_coordinates(VOLUME, COORDS, 3), "order"),
    (lambda: image.map_coordinates(VOLUME, COORDS[:2], 1), "coordinates"),
    (lambda: image.affine_transform(IMGS, SHIFT, fill_mode="edge"), "fill_mode"),
    (lambda: image.resize(IMGS, (4, 4), data_format="nhwc"), "data_format"),
])
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_coverage_of_keras_ops_image():
    have = keras_api.supported("keras.ops.image")
    assert len(have) >= 10 and sorted(image.__all__) == have
    assert sorted(set(keras_api.keras_names("keras.ops.image")) - set(have)) == [
        "elastic_transform", "extract_patches_3d", "scale_and_translate"]
