"""Random image augmentation: ``RandomFlip``, ``RandomRotation``, ``RandomZoom``,
``RandomTranslation``, ``RandomContrast``, ``RandomCrop`` (Keras 3's arguments and factor rules).

Each layer is active only when called with ``training=True`` (inside ``fit``), and the identity
otherwise (``RandomCrop``: a centre crop to the target's aspect ratio, resized). Its draws come from
its own :class:`gpunet.random.SeedGenerator`: ``seed=None`` takes a seed from gpunet's ops stream
(so ``gpunet.utils.set_random_seed`` makes a run reproducible), an int fixes it; the generator's
state travels with gpunet's random state, so a run resumed from a checkpoint continues the same
draws. The draws are made on the host (NumPy's PCG64) and the images transformed with
:mod:`gpunet.ops.image`, so the same seed gives the same augmentations on the CPU and the GPU
(not Keras's numbers: its generator is another).
"""

from __future__ import annotations

import math
import numbers

import numpy

from ... import ops
from ...ops import image as image_ops
from ...random import SeedGenerator
from .image import INTERPOLATIONS, _ImageLayer, check_size
from .normalization import as_float_input

__all__ = ["RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom"]

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL = "horizontal", "vertical", "horizontal_and_vertical"


def factor_range(factor, name: str, layer: str, low: float, high: float, open_low: bool = False,
                 number_low: float | None = None) -> tuple:
    """Keras's reading of a factor: a pair gives ``(lower, upper)`` (sorted), a number ``f`` gives
    ``(max(-|f|, number_low), |f|)``; every value must lie in ``[low, high]`` (``(low, high]`` with
    ``open_low``)."""
    def inside(v):
        return (low < v if open_low else low <= v) and v <= high

    bounds = f"{'(' if open_low else '['}{low}, {high}]"
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and inside(v)
                                       for v in factor):
            raise ValueError(f"{layer}: {name} must be a number or a pair of numbers in {bounds}, got {factor!r}")
        lower, upper = sorted(float(v) for v in factor)
        return lower, upper
    if isinstance(factor, numbers.Real) and not isinstance(factor, bool) and inside(factor):
        f = abs(float(factor))
        return (-f if number_low is None else max(-f, number_low)), f
    raise ValueError(f"{layer}: {name} must be a number or a pair of numbers in {bounds}, got {factor!r}")


class _RandomImageLayer(_ImageLayer):
    """The random layers' shared shape: a seeded generator, the data format, and ``call`` that
    draws the batch's transformation only in training (``augment``) and otherwise returns
    ``infer(x)`` (the input in the compute dtype)."""

    supports_recording = False  # each training call draws new values: a recorded step would freeze them
    # Keras's call defaults to training=True and its files record that default in every call of the
    # layer; a model loaded from one still follows fit/predict's training flag, as in Keras
    keras_writes_training = True

    def _init_random(self, seed, data_format):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"{type(self).__name__}: seed must be a non-negative int or None, got {seed!r}")
        self.seed = seed
        self.generator = SeedGenerator(seed, name=f"{self.name}_seed_generator")
        self._init_format(data_format)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def infer(self, x):
        return as_float_input(self, x)

    def augment(self, x, rng):  # pragma: no cover - interface
        raise NotImplementedError

    def call(self, x, training=True):  # Keras's: called on its own, an augmentation layer augments
        self._spatial(x)
        if not training:
            return self.infer(x)
        x = as_float_input(self, x)
        single = x.ndim == 3
        if single:
            x = ops.expand_dims(x, 0)
        y = self.augment(x, self.generator.generator())
        return ops.squeeze(y, 0) if single else y

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


class RandomFlip(_RandomImageLayer):
    """Flips each image of a batch with probability 1/2: left-right (``"horizontal"``), upside
    down (``"vertical"``), or both at once (``"horizontal_and_vertical"``, the default: Keras draws
    one flag per image for the two flips, so an image is turned by 180 degrees or kept)."""

    def __init__(self, mode=HORIZONTAL_AND_VERTICAL, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in (HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL):
            raise ValueError(f"RandomFlip: mode must be one of {[HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL]}, "
                             f"got {mode!r}")
        self.mode = mode
        self._init_random(seed, data_format)

    def augment(self, x, rng):
        flips = rng.random(x.shape[0]) <= 0.5
        axes = []
        if self.mode in (HORIZONTAL, HORIZONTAL_AND_VERTICAL):
            axes.append(self.width_axis % 4)
        if self.mode in (VERTICAL, HORIZONTAL_AND_VERTICAL):
            axes.append(self.height_axis % 4)
        flipped = ops.flip(x, axis=tuple(axes))
        where = ops.convert_to_tensor(flips.reshape(-1, 1, 1, 1))
        return ops.where(where, flipped, x)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _AffineImageLayer(_RandomImageLayer):
    """The random layers that warp images with :func:`gpunet.ops.image.affine_transform`:
    interpolation, fill mode and fill value; ``transforms(rng, n, height, width)`` gives the
    (n, 8) output-to-input maps of a batch."""

    def _init_warp(self, fill_mode, interpolation, fill_value):
        layer = type(self).__name__
        if fill_mode not in FILL_MODES:
            raise ValueError(f"{layer}: fill_mode must be one of {list(FILL_MODES)}, got {fill_mode!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{layer}: interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r}")
        if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
            raise TypeError(f"{layer}: fill_value must be a number, got {fill_value!r}")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = float(fill_value)

    def transforms(self, rng, n, height, width):  # pragma: no cover - interface
        raise NotImplementedError

    def augment(self, x, rng):
        height, width = x.shape[self.height_axis], x.shape[self.width_axis]
        matrices = self.transforms(rng, x.shape[0], height, width)
        return image_ops.affine_transform(x, matrices, interpolation=self.interpolation, fill_mode=self.fill_mode,
                                          fill_value=self.fill_value, data_format=self.data_format)

    def _warp_config(self):
        return {"fill_mode": self.fill_mode, "interpolation": self.interpolation, "fill_value": self.fill_value}


def rotation_matrices(angles, height, width):
    """The (n, 8) maps rotating images by ``angles`` (radians, counter-clockwise on screen) about
    their centre ``((width - 1) / 2, (height - 1) / 2)``: output pixel (x, y) reads the input at
    ``R (p - c) + c``."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = numpy.cos(angles), numpy.sin(angles)
    a2 = cx - cx * cos + cy * sin
    b2 = cy - cx * sin - cy * cos
    zeros = numpy.zeros_like(angles)
    return numpy.stack([cos, -sin, a2, sin, cos, b2, zeros, zeros], axis=1)


class RandomRotation(_AffineImageLayer):
    """Rotates each image by a random angle: ``factor`` is a fraction of a full turn, a number
    ``f`` giving angles in ``[-f * 360, f * 360]`` degrees and a pair ``(a, b)`` in
    ``[a * 360, b * 360]`` (each in [-1, 1]). Points outside the image are filled by ``fill_mode``
    ("reflect", "wrap", "constant" with ``fill_value``, "nearest")."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor_range(factor, "factor", "RandomRotation", -1.0, 1.0)
        self._init_warp(fill_mode, interpolation, fill_value)
        self._init_random(seed, data_format)

    def transforms(self, rng, n, height, width):
        degrees = rng.uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, n)
        return rotation_matrices(degrees * math.pi / 180.0, height, width)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), **self._warp_config()}


class RandomZoom(_AffineImageLayer):
    """Zooms each image by a random amount about its centre: the sampled window's height is
    ``(1 + z)`` times the image's, ``z`` drawn from ``height_factor`` (a number ``f``: [-f, f];
    a pair: its range; each in (-1, 1]), so a negative ``z`` zooms in and a positive one out.
    ``width_factor`` draws the width's independently; None keeps the aspect ratio (one draw)."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height_factor = height_factor
        self.height_lower, self.height_upper = factor_range(height_factor, "height_factor", "RandomZoom", -1.0, 1.0,
                                                            open_low=True)
        self.width_factor = width_factor
        if width_factor is not None:
            self.width_lower, self.width_upper = factor_range(width_factor, "width_factor", "RandomZoom", -1.0, 1.0,
                                                              open_low=True)
        self._init_warp(fill_mode, interpolation, fill_value)
        self._init_random(seed, data_format)

    def transforms(self, rng, n, height, width):
        zoom_h = rng.uniform(1.0 + self.height_lower, 1.0 + self.height_upper, n)
        zoom_w = zoom_h if self.width_factor is None else rng.uniform(1.0 + self.width_lower, 1.0 + self.width_upper, n)
        zeros = numpy.zeros(n)
        return numpy.stack([zoom_w, zeros, (width - 1) / 2 * (1 - zoom_w), zeros, zoom_h,
                            (height - 1) / 2 * (1 - zoom_h), zeros, zeros], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor,
                **self._warp_config()}


class RandomTranslation(_AffineImageLayer):
    """Shifts each image by a random fraction of its size: down by ``dy * height`` with ``dy``
    drawn from ``height_factor`` and right by ``dx * width`` from ``width_factor`` (a number
    ``f``: [-f, f]; a pair: its range; each in [-1, 1])."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height_factor = height_factor
        self.height_lower, self.height_upper = factor_range(height_factor, "height_factor", "RandomTranslation",
                                                            -1.0, 1.0)
        self.width_factor = width_factor
        self.width_lower, self.width_upper = factor_range(width_factor, "width_factor", "RandomTranslation", -1.0, 1.0)
        self._init_warp(fill_mode, interpolation, fill_value)
        self._init_random(seed, data_format)

    def transforms(self, rng, n, height, width):
        dy = rng.uniform(self.height_lower, self.height_upper, n) * height
        dx = rng.uniform(self.width_lower, self.width_upper, n) * width
        ones, zeros = numpy.ones(n), numpy.zeros(n)
        return numpy.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor,
                **self._warp_config()}


class RandomContrast(_RandomImageLayer):
    """Scales each image's deviation from its mean (per channel, over height and width) by a random
    factor ``c``: ``(x - mean) * c + mean``, clipped to ``value_range``. ``factor`` in [0, 1]: a
    pair ``(a, b)`` draws ``c`` from ``[1 - a, 1 + b]``; a number ``f`` from ``[1, 1 + f]`` (Keras
    3.15 reads a single number so: the lower end is ``max(-f, 0) = 0``)."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        data_format = kwargs.pop("data_format", None)
        super().__init__(**kwargs)
        self.factor = factor_range(factor, "factor", "RandomContrast", 0.0, 1.0, number_low=0.0)
        if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
                or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value_range)
                or value_range[0] >= value_range[1]):
            raise ValueError(f"RandomContrast: value_range must be (low, high) with low < high, got {value_range!r}")
        self.value_range = tuple(value_range)
        self._init_random(seed, data_format)

    def augment(self, x, rng):
        shape = [x.shape[0], 1, 1, 1]
        factor = rng.uniform(1.0 - self.factor[0], 1.0 + self.factor[1], x.shape[0]).reshape(shape)
        mean = ops.mean(x, axis=(self.height_axis % 4, self.width_axis % 4), keepdims=True)
        scaled = (x - mean) * ops.convert_to_tensor(factor.astype(x.dtype)) + mean
        return ops.clip(scaled, float(self.value_range[0]), float(self.value_range[1]))

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomCrop(_RandomImageLayer):
    """Crops a random ``height x width`` window, one position for the whole batch, drawn
    uniformly among the windows that fit. At inference (and for images not larger than the
    target on both sides) it takes the largest centred window of the target's aspect ratio and
    resizes it (bilinear) to ``height x width``, as Keras documents it and as its output shape
    says (Keras 3.15's code returns the input uncropped at inference, a shape its next layer
    cannot take)."""

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.height = check_size(height, "height", "RandomCrop")
        self.width = check_size(width, "width", "RandomCrop")
        self._init_random(seed, data_format)
        if seed is None:  # Keras keeps the seed it drew, so that a reloaded layer draws the same crops
            self.seed = self.generator.seed

    def compute_output_shape(self, input_shape):
        return self._with_size(input_shape, self.height, self.width)

    def infer(self, x):
        h, w = self._spatial(x)
        x = as_float_input(self, x)
        crop_h = max(min(h, int(w * self.height / self.width)), 1)
        crop_w = max(min(w, int(h * self.width / self.height)), 1)
        x = self._crop(x, (h - crop_h) // 2, (w - crop_w) // 2, crop_h, crop_w)
        if (crop_h, crop_w) == (self.height, self.width):
            return x
        return image_ops.resize(x, (self.height, self.width), data_format=self.data_format)

    def augment(self, x, rng):
        h, w = x.shape[self.height_axis], x.shape[self.width_axis]
        if h > self.height and w > self.width:
            top = int(rng.integers(0, h - self.height + 1))
            left = int(rng.integers(0, w - self.width + 1))
            return self._crop(x, top, left, self.height, self.width)
        return self.infer(x)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
