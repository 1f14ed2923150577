"""``gpunet.ops.image``: Keras 3's ``keras.ops.image`` for images (H, W, C) or batches
(N, H, W, C) (``data_format="channels_first"``: (C, H, W) / (N, C, H, W)).

Differentiable in the images: ``resize`` (nearest, bilinear: a product with one interpolation
matrix per spatial axis, half-pixel centres as Keras's), ``crop_images``, ``pad_images``,
``rgb_to_grayscale``, ``extract_patches`` (a convolution with a one-hot kernel), ``gaussian_blur``
and ``sobel_edges`` (depthwise convolutions), ``ssim``, ``affine_transform``, ``perspective_transform`` and
``map_coordinates`` (order 0 or 1, gathers weighted by the interpolation weights). Values only:
``rgb_to_hsv`` and ``hsv_to_rgb``. Not offered: ``elastic_transform``, ``extract_patches_3d``,
``scale_and_translate``; ``resize`` with ``antialias=True`` or the bicubic, lanczos
and area methods.
"""

from __future__ import annotations

import itertools
import numbers

import numpy

from .. import backend
from ..autograd import Tensor
from ..backend import get_array_module
from . import nn
from . import primitives as P
from .math import add, matmul, mean, mul, sum as _sum
from .shaping import getitem, reshape, transpose

__all__ = ["resize", "crop_images", "pad_images", "rgb_to_grayscale", "rgb_to_hsv", "hsv_to_rgb", "extract_patches",
           "gaussian_blur", "sobel_edges", "ssim", "affine_transform", "perspective_transform", "map_coordinates"]

_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


# ----------------------------------------------------------------------------------------------
# layout: every op works on a channels_last batch (N, H, W, C)
# ----------------------------------------------------------------------------------------------
def _as_batch(images, data_format, name):
    """``(batch in channels_last, restore)``: ``restore`` puts a result back in the caller's
    layout (single image or batch, channels first or last)."""
    x = P.tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: images must have 3 dims (one image) or 4 (a batch), got shape {tuple(x.shape)}")
    first = nn._channels_first(data_format)
    single = x.ndim == 3
    if single:
        x = reshape(x, (1,) + tuple(x.shape))
    x = nn._to_last(x, first)

    def restore(y):
        y = nn._to_first(y, first)
        return reshape(y, tuple(y.shape[1:])) if single else y

    return x, restore


# ----------------------------------------------------------------------------------------------
# resize, crop, pad
# ----------------------------------------------------------------------------------------------
def _constant(host_array, like):
    """A host array as a constant (no gradient) on the device of the array ``like``, in its dtype."""
    return Tensor._result(backend.on_device_of(host_array.astype(like.dtype), like), None)


def _interpolation_matrix(like, n_in, n_out, method):
    """The (n_out, n_in) matrix taking a signal of ``n_in`` samples to ``n_out`` (half-pixel
    centres: output ``i`` samples input position ``(i + 0.5) n_in / n_out - 0.5``)."""
    scale = n_in / n_out
    centres = (numpy.arange(n_out) + 0.5) * scale
    matrix = numpy.zeros((n_out, n_in))
    if method == "nearest":
        matrix[numpy.arange(n_out), numpy.minimum(numpy.floor(centres).astype(int), n_in - 1)] = 1.0
    else:
        position = numpy.clip(centres - 0.5, 0, n_in - 1)
        low = numpy.floor(position).astype(int)
        high = numpy.minimum(low + 1, n_in - 1)
        frac = position - low
        numpy.add.at(matrix, (numpy.arange(n_out), low), 1 - frac)
        numpy.add.at(matrix, (numpy.arange(n_out), high), frac)
    return _constant(matrix, like)


def _size_pair(size, name):
    if not isinstance(size, (tuple, list)) or len(size) != 2 or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in size):
        raise ValueError(f"{name}: size must be (height, width), two positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """``images`` resized to ``size`` = (height, width) by "nearest" or "bilinear" interpolation;
    ``crop_to_aspect_ratio`` first crops the centre to the target's aspect ratio,
    ``pad_to_aspect_ratio`` pads (with ``fill_value``) to it instead."""
    height, width = _size_pair(size, "resize")
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"resize: interpolation must be 'nearest' or 'bilinear' in gpunet, got {interpolation!r}")
    if antialias:
        raise ValueError("resize: antialias=True is not supported by gpunet")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("resize: crop_to_aspect_ratio and pad_to_aspect_ratio cannot both be True")
    if fill_mode != "constant":
        raise ValueError(f"resize: fill_mode must be 'constant', got {fill_mode!r}")
    x, restore = _as_batch(images, data_format, "resize")
    if x.dtype.kind != "f":
        x = P.float_tensor(x)
    h, w = x.shape[1:3]
    if crop_to_aspect_ratio:
        crop_h = min(h, int(w * height / width))
        crop_w = min(w, int(h * width / height))
        top, left = (h - crop_h) // 2, (w - crop_w) // 2
        x = getitem(x, (slice(None), slice(top, top + crop_h), slice(left, left + crop_w)))
    elif pad_to_aspect_ratio:
        pad_h = max(h, int(w * height / width))
        pad_w = max(w, int(h * width / height))
        top, left = (pad_h - h) // 2, (pad_w - w) // 2  # the same on both sides, as Keras pads (an odd extra row is dropped)
        x = P.constant_pad(x, [(0, 0), (top, top), (left, left), (0, 0)], fill_value)
    rows = _interpolation_matrix(x.data, x.shape[1], height, interpolation)
    cols = _interpolation_matrix(x.data, x.shape[2], width, interpolation)
    planes = transpose(x, (0, 3, 1, 2))  # (N, C, H, W)
    y = matmul(matmul(rows, planes), transpose(cols))
    return restore(transpose(y, (0, 2, 3, 1)))


def _extent(before, after, target, names):
    """Two of (before, after, target size) along one dim must be given: the third follows."""
    if sum(v is not None for v in (before, after, target)) != 2:
        raise ValueError(f"exactly two of {', '.join(names)} must be given, got {before!r}, {after!r}, {target!r}")


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """The ``target_height x target_width`` window of ``images`` starting ``top_cropping`` rows and
    ``left_cropping`` columns in (two of top/bottom/target per axis)."""
    x, restore = _as_batch(images, data_format, "crop_images")
    h, w = x.shape[1:3]
    starts, sizes = [], []
    for n, before, after, target, names in (
            (h, top_cropping, bottom_cropping, target_height, ("top_cropping", "bottom_cropping", "target_height")),
            (w, left_cropping, right_cropping, target_width, ("left_cropping", "right_cropping", "target_width"))):
        _extent(before, after, target, names)
        before = n - target - after if before is None else before
        target = n - before - after if target is None else target
        if before < 0 or target < 0 or before + target > n:
            raise ValueError(f"crop_images: {names[0]}={before} and {names[2]}={target} do not fit a size of {n}")
        starts.append(before)
        sizes.append(target)
    return restore(getitem(x, (slice(None), slice(starts[0], starts[0] + sizes[0]),
                               slice(starts[1], starts[1] + sizes[1]))))


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """``images`` padded with zeros to ``target_height x target_width``, ``top_padding`` rows above
    and ``left_padding`` columns to the left (two of top/bottom/target per axis)."""
    x, restore = _as_batch(images, data_format, "pad_images")
    h, w = x.shape[1:3]
    pads = [(0, 0)]
    for n, before, after, target, names in (
            (h, top_padding, bottom_padding, target_height, ("top_padding", "bottom_padding", "target_height")),
            (w, left_padding, right_padding, target_width, ("left_padding", "right_padding", "target_width"))):
        _extent(before, after, target, names)
        before = target - n - after if before is None else before
        after = target - n - before if after is None else after
        if before < 0 or after < 0:
            raise ValueError(f"pad_images: {names[0]}, {names[1]} and {names[2]} give negative padding for a size of {n}")
        pads.append((before, after))
    return restore(P.constant_pad(x, pads + [(0, 0)]))


# ----------------------------------------------------------------------------------------------
# colour
# ----------------------------------------------------------------------------------------------
def rgb_to_grayscale(images, data_format=None):
    """Luma ``0.2989 R + 0.5870 G + 0.1140 B``, one channel."""
    x, restore = _as_batch(images, data_format, "rgb_to_grayscale")
    if x.shape[-1] != 3:
        raise ValueError(f"rgb_to_grayscale: images must have 3 channels, got {x.shape[-1]}")
    x = P.float_tensor(x) if x.dtype.kind != "f" else x
    weights = _constant(numpy.array([0.2989, 0.5870, 0.1140]), x.data)
    return restore(_sum(mul(x, weights), -1, keepdims=True))


def rgb_to_hsv(images, data_format=None):
    """RGB in [0, 1] to HSV (hue in [0, 1)); values only."""
    x, restore = _as_batch(images, data_format, "rgb_to_hsv")
    rgb = P.float_tensor(x).data
    xp = get_array_module(rgb)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(-1)
    spread = value - rgb.min(-1)
    safe = xp.where(spread > 0, spread, 1)
    saturation = xp.where(value > 0, spread / xp.where(value > 0, value, 1), 0)
    hue = xp.where(value == r, (g - b) / safe, xp.where(value == g, 2 + (b - r) / safe, 4 + (r - g) / safe))
    hue = xp.where(spread > 0, (hue / 6) % 1.0, 0)
    return restore(Tensor._result(xp.stack([hue, saturation, value], -1).astype(rgb.dtype), None))


def hsv_to_rgb(images, data_format=None):
    """HSV (hue in [0, 1)) to RGB; values only."""
    x, restore = _as_batch(images, data_format, "hsv_to_rgb")
    hsv = P.float_tensor(x).data
    xp = get_array_module(hsv)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    channels = []
    for offset in (5, 3, 1):  # R, G, B: v - v s max(0, min(k, 4 - k, 1)), k = (offset + 6 h) mod 6
        k = (offset + h * 6) % 6
        channels.append(v - v * s * xp.clip(xp.minimum(k, 4 - k), 0, 1))
    return restore(Tensor._result(xp.stack(channels, -1).astype(hsv.dtype), None))


# ----------------------------------------------------------------------------------------------
# windows: patches and filters (through the one convolution)
# ----------------------------------------------------------------------------------------------
def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Each ``size`` window of ``images`` flattened into the channels: (N, H', W', kh * kw * C),
    ordered (row, column, channel); ``strides`` default to ``size``."""
    size = (size, size) if isinstance(size, numbers.Integral) else tuple(size)
    _size_pair(size, "extract_patches")
    x, restore = _as_batch(images, data_format, "extract_patches")
    c = x.shape[-1]
    count = size[0] * size[1] * c
    kernel = numpy.eye(count).reshape(size[0], size[1], c, count)
    kernel = _constant(kernel, x.data)
    return restore(nn.conv(x, kernel, strides=size if strides is None else strides, padding=padding,
                           dilation_rate=dilation_rate))


def _depthwise(x, kernel_2d, padding="same"):
    """Each channel of ``x`` convolved (zero padded for 'same') with each (kh, kw) kernel in
    ``kernel_2d`` (kh, kw, M): (N, H', W', C * M)."""
    c = x.shape[-1]
    kernel = numpy.repeat(kernel_2d[:, :, None, :], c, axis=2)
    kernel = _constant(kernel, x.data)
    return nn.depthwise_conv(x, kernel, padding=padding)


def _gaussian(size, sigma):
    """The normalized 1-D Gaussian of ``size`` taps and standard deviation ``sigma``."""
    t = numpy.arange(size) - (size - 1) / 2
    g = numpy.exp(-t * t / (2.0 * sigma * sigma))
    return g / g.sum()


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Each channel blurred by a normalized Gaussian (zero padding, same size). As Keras's,
    ``kernel_size`` and ``sigma`` give the horizontal (across columns) entry first, then the
    vertical one."""
    kernel_size = _size_pair(kernel_size, "gaussian_blur")
    sigma = (sigma, sigma) if isinstance(sigma, numbers.Real) else tuple(sigma)
    if len(sigma) != 2 or min(sigma) <= 0:
        raise ValueError(f"gaussian_blur: sigma must be one or two positive numbers, got {sigma!r}")
    x, restore = _as_batch(images, data_format, "gaussian_blur")
    x = P.float_tensor(x)
    across, down = (_gaussian(k, s) for k, s in zip(kernel_size, sigma))
    return restore(_depthwise(x, numpy.outer(down, across)[:, :, None]))


def sobel_edges(images, data_format=None):
    """The Sobel derivatives of each channel: (..., C, 2) with the vertical then the horizontal
    gradient (zero padding, same size)."""
    x, _ = _as_batch(images, data_format, "sobel_edges")
    x = P.float_tensor(x)
    dy = numpy.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=numpy.float64)
    y = _depthwise(x, numpy.stack([dy, dy.T], -1))
    n, h, w, c2 = y.shape
    y = reshape(y, (n, h, w, c2 // 2, 2))
    if nn._channels_first(data_format):
        y = transpose(y, (0, 3, 1, 2, 4))
    return reshape(y, tuple(y.shape[1:])) if P.tensor(images).ndim == 3 else y


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
    """Structural similarity (Wang et al. 2004) of two images or batches: the local statistics
    under a ``filter_size`` Gaussian window ('valid': only windows inside the image), the SSIM
    map averaged over positions and channels, one value per image (differentiable)."""
    x, restore = _as_batch(image1, data_format, "ssim")
    y, _ = _as_batch(image2, data_format, "ssim")
    x, y = P.float_tensor(x), P.float_tensor(y)
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(f"ssim: image1 and image2 must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    g = _gaussian(filter_size, filter_sigma)
    window = numpy.outer(g, g)[:, :, None]

    def local(v):
        return _depthwise(v, window, padding="valid")

    mu_x, mu_y = local(x), local(y)
    mu_xx, mu_yy, mu_xy = mul(mu_x, mu_x), mul(mu_y, mu_y), mul(mu_x, mu_y)
    var_x = local(mul(x, x)) - mu_xx
    var_y = local(mul(y, y)) - mu_yy
    cov = local(mul(x, y)) - mu_xy
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    numerator = mul(add(mul(mu_xy, 2.0), c1), add(mul(cov, 2.0), c2))
    denominator = mul(add(add(mu_xx, mu_yy), c1), add(add(var_x, var_y), c2))
    value = mean(numerator / denominator, (1, 2, 3))
    return reshape(value, ()) if P.tensor(image1).ndim == 3 else value


# ----------------------------------------------------------------------------------------------
# sampling at arbitrary coordinates
# ----------------------------------------------------------------------------------------------
def _fold_index(xp, k, n, mode):
    """Integer positions ``k`` along a dim of size ``n`` mapped inside it by ``mode``; with
    "constant", ``(clipped, inside)``."""
    if mode == "nearest":
        return xp.clip(k, 0, n - 1), None
    if mode == "wrap":
        return k % n, None
    if mode == "mirror":  # reflected about the end samples: period 2 (n - 1)
        if n == 1:
            return xp.zeros_like(k), None
        k = k % (2 * (n - 1))
        return xp.where(k >= n, 2 * (n - 1) - k, k), None
    if mode == "reflect":  # reflected about the edges, ends repeated: period 2 n
        k = k % (2 * n)
        return xp.where(k >= n, 2 * n - 1 - k, k), None
    inside = (k >= 0) & (k <= n - 1)
    return xp.clip(k, 0, n - 1), inside


def _sample(values, coordinates, order, fill_mode, fill_value):
    """``values`` (*spatial, *rest) read at ``coordinates`` (d, *out), the first d dims
    interpolated (order 0: nearest sample, 1: multilinear): (*out, *rest). Differentiable in
    ``values``; outside the input, ``fill_mode`` decides (``fill_value`` for "constant")."""
    if order not in (0, 1):
        raise ValueError(f"order must be 0 or 1 in gpunet, got {order!r}")
    if fill_mode not in _FILL_MODES:
        raise ValueError(f"fill_mode must be one of {list(_FILL_MODES)}, got {fill_mode!r}")
    xp = get_array_module(values.data)
    coordinates = backend.on_device_of(coordinates, values.data).astype(numpy.float64)
    d = coordinates.shape[0]
    spatial = values.shape[:d]
    rest = (1,) * (values.ndim - d)
    if order == 0:
        corners = [[(xp.floor(coordinates[i] + 0.5).astype(numpy.int64), None)] for i in range(d)]
    else:
        corners = []
        for i in range(d):
            low = xp.floor(coordinates[i])
            frac = coordinates[i] - low
            corners.append([(low.astype(numpy.int64), 1 - frac), (low.astype(numpy.int64) + 1, frac)])
    total = None
    for choice in itertools.product(*corners):
        index, weight, inside = [], None, None
        for i, (k, w) in enumerate(choice):
            k, ok = _fold_index(xp, k, spatial[i], fill_mode)
            index.append(k)
            if w is not None:
                weight = w if weight is None else weight * w
            if ok is not None:
                inside = ok if inside is None else inside & ok
        picked = getitem(values, tuple(index))
        if inside is not None:
            picked = P.where(inside.reshape(inside.shape + rest), picked, fill_value)
        if weight is not None:
            picked = mul(picked, Tensor._result(weight.reshape(weight.shape + rest).astype(values.dtype), None))
        total = picked if total is None else add(total, picked)
    return total


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """``inputs`` (any number of dims) read at ``coordinates`` (inputs.ndim, *out) by nearest
    (``order=0``) or multilinear (``order=1``) interpolation: shape ``out``."""
    x = P.float_tensor(inputs)
    coordinates = P.data(coordinates)
    if coordinates.shape[0] != x.ndim:
        raise ValueError(f"map_coordinates: coordinates must have {x.ndim} rows (one per dim of inputs), got "
                         f"shape {tuple(coordinates.shape)}")
    return _sample(x, coordinates, order, fill_mode, fill_value)


def _warp(images, transform, interpolation, fill_mode, fill_value, data_format, name):
    """Each image read where the projective ``transform`` (8 coefficients, see
    :func:`affine_transform`) sends its output pixels."""
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"{name}: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    x, restore = _as_batch(images, data_format, name)
    x = P.float_tensor(x)
    n, h, w = x.shape[:3]
    transform = backend.to_host(P.data(transform)).astype(numpy.float64).reshape(-1, 8)
    if transform.shape[0] not in (1, n):
        raise ValueError(f"{name}: one transform or one per image ({n}) is needed, got {transform.shape[0]}")
    rows, cols = numpy.meshgrid(numpy.arange(h, dtype=numpy.float64), numpy.arange(w, dtype=numpy.float64),
                                indexing="ij")
    outputs = []
    for i in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = transform[i if transform.shape[0] > 1 else 0]
        k = c0 * cols + c1 * rows + 1.0
        source = numpy.stack([(b0 * cols + b1 * rows + b2) / k, (a0 * cols + a1 * rows + a2) / k])
        outputs.append(_sample(getitem(x, i), source, 0 if interpolation == "nearest" else 1,
                               fill_mode, fill_value))
    return restore(P.stack(outputs, 0))


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                     data_format=None):
    """Each image warped by ``transform`` = [a0, a1, a2, b0, b1, b2, c0, c1] (one, or one per
    image), which maps an output pixel (x, y) to the input point ``((a0 x + a1 y + a2) / k,
    (b0 x + b1 y + b2) / k)``, ``k = c0 x + c1 y + 1``."""
    return _warp(images, transform, interpolation, fill_mode, fill_value, data_format, "affine_transform")


def _projective(start, end):
    """The 8 coefficients of the projective map taking each of the 4 ``end`` points to its
    ``start`` point (output to input, as :func:`affine_transform` reads them)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(end, start):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return numpy.linalg.solve(numpy.array(rows, dtype=numpy.float64), numpy.array(rhs, dtype=numpy.float64))


def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0,
                          data_format=None):
    """Each image warped so that its 4 ``start_points`` (x, y) land on ``end_points``."""
    start = backend.to_host(P.data(start_points)).astype(numpy.float64).reshape(-1, 4, 2)
    end = backend.to_host(P.data(end_points)).astype(numpy.float64).reshape(-1, 4, 2)
    if start.shape != end.shape:
        raise ValueError(f"perspective_transform: start_points and end_points must match, got {start.shape} and "
                         f"{end.shape}")
    transform = numpy.stack([_projective(s, e) for s, e in zip(start, end)])
    return _warp(images, transform, interpolation, "constant", fill_value, data_format, "perspective_transform")


from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
