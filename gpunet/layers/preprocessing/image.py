"""Deterministic image layers: ``Resizing`` and ``CenterCrop`` (Keras 3's arguments), on batches
(N, H, W, C) or single images (H, W, C), ``data_format="channels_first"`` for (N, C, H, W)."""

from __future__ import annotations

import numbers

import numpy

from ... import ops
from ...ops import image as image_ops
from ..base import Layer
from .normalization import as_float_input

__all__ = ["CenterCrop", "Resizing"]

INTERPOLATIONS = ("nearest", "bilinear")


def standardize_data_format(data_format, layer: str) -> str:
    """``"channels_last"`` (the default, as Keras's ``image_data_format()``) or ``"channels_first"``."""
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


def check_size(value, name: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


class _ImageLayer(Layer):
    """What the image layers share: the data format, the spatial axes, and the check that an
    input is one image (rank 3) or a batch (rank 4)."""

    def _init_format(self, data_format):
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.height_axis, self.width_axis = (-2, -1) if self.data_format == "channels_first" else (-3, -2)

    def _spatial(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__} {self.name!r} expects one image (rank 3) or a batch (rank 4), "
                             f"got shape {tuple(x.shape)}")
        return x.shape[self.height_axis], x.shape[self.width_axis]

    def _with_size(self, input_shape, height, width):
        shape = list(input_shape)
        shape[self.height_axis], shape[self.width_axis] = height, width
        return tuple(shape)

    def _crop(self, x, top, left, height, width):
        """The ``height x width`` window at (``top``, ``left``) of each image."""
        index = [slice(None)] * x.ndim
        index[self.height_axis] = slice(top, top + height)
        index[self.width_axis] = slice(left, left + width)
        return x[tuple(index)]


class Resizing(_ImageLayer):
    """Resizes images to ``height x width`` ("nearest" or "bilinear" interpolation, half-pixel
    centres as Keras's). ``crop_to_aspect_ratio`` first takes the largest centred window of the
    target's aspect ratio; ``pad_to_aspect_ratio`` pads with ``fill_value`` to it instead. Integer
    images come back rounded, in their own dtype (as Keras's layer returns them); float images in the
    layer's compute dtype. ``antialias`` and the other interpolations of Keras are refused."""

    supports_recording = True

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                 fill_mode="constant", fill_value=0.0, antialias=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = check_size(height, "height", "Resizing")
        self.width = check_size(width, "width", "Resizing")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"Resizing: interpolation must be one of {list(INTERPOLATIONS)} in gpunet, got "
                             f"{interpolation!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: crop_to_aspect_ratio and pad_to_aspect_ratio cannot both be True")
        if fill_mode != "constant":
            raise ValueError(f"Resizing: fill_mode must be 'constant', got {fill_mode!r}")
        if antialias:
            raise ValueError("Resizing: antialias=True is not supported by gpunet")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.antialias = False
        self._init_format(data_format)

    def compute_output_shape(self, input_shape):
        return self._with_size(input_shape, self.height, self.width)

    def call(self, x, training=False):
        self._spatial(x)
        source = x.dtype
        y = image_ops.resize(as_float_input(self, x), (self.height, self.width), interpolation=self.interpolation,
                             crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                             pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_value=self.fill_value,
                             data_format=self.data_format)
        if numpy.dtype(source).kind in "iu":  # saturate into the integer dtype, as Keras's layer does
            info = numpy.iinfo(source)
            y = ops.cast(ops.clip(ops.round(y), float(info.min), float(info.max)), source)
        return y

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias, "data_format": self.data_format}


class CenterCrop(_ImageLayer):
    """Crops the centre ``height x width`` of each image (the window starts at half the extra
    rows and columns, rounded down). An image smaller than the target along either side is
    instead cropped to the target's aspect ratio and resized (bilinear), as Keras does."""

    supports_recording = True

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = check_size(height, "height", "CenterCrop")
        self.width = check_size(width, "width", "CenterCrop")
        self._init_format(data_format)

    def compute_output_shape(self, input_shape):
        return self._with_size(input_shape, self.height, self.width)

    def call(self, x, training=False):
        h, w = self._spatial(x)
        x = as_float_input(self, x)
        if h >= self.height and w >= self.width:
            return self._crop(x, (h - self.height) // 2, (w - self.width) // 2, self.height, self.width)
        return image_ops.resize(x, (self.height, self.width), crop_to_aspect_ratio=True, data_format=self.data_format)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "data_format": self.data_format}
