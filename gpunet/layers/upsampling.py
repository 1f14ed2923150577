"""Up-sampling layers: UpSampling1D and UpSampling2D, with Keras's arguments.

"nearest" repeats every entry ``size`` times along each spatial dim (a broadcast product); UpSampling2D's "bilinear"
resizes the images to ``size`` times their height and width with :func:`gpunet.ops.image.resize`
(half-pixel centres, as Keras).
"""

from __future__ import annotations

from .. import ops
from ..autograd import Tensor
from ..backend import get_array_module
from ..ops import image as image_ops
from .base import Layer
from .convolutional import from_channels_last, spatial_and_channels, standardize_data_format, standardize_tuple, \
    to_channels_last

__all__ = ["UpSampling1D", "UpSampling2D"]


def _repeat_entries(x, size):
    """Each entry of ``x`` (N, *spatial, C) repeated ``size[i]`` times along spatial dim i: a
    product with ones broadcast over a new axis after each dim (its gradient sums them back,
    with no index arithmetic)."""
    spatial, channels = x.shape[1:-1], x.shape[-1]
    expanded, ones = [-1], [1]
    for n, factor in zip(spatial, size):
        expanded += [n, 1]
        ones += [1, factor]
    xp = get_array_module(x.data)
    y = ops.multiply(ops.reshape(x, (*expanded, channels)), Tensor(xp.ones((*ones, 1), x.dtype)))
    return ops.reshape(y, (-1, *(n * factor for n, factor in zip(spatial, size)), channels))


class _UpSampling(Layer):
    rank = 2
    supports_recording = True
    supports_masking = False
    data_format = "channels_last"
    interpolation = "nearest"

    def compute_output_shape(self, input_shape):
        spatial, channels = spatial_and_channels(input_shape, self.rank, self.data_format, type(self).__name__)
        sizes = tuple(None if n is None else n * f for n, f in zip(spatial, self.size))
        if self.data_format == "channels_last":
            return (input_shape[0], *sizes, channels)
        return (input_shape[0], channels, *sizes)

    def call(self, x, training=False):
        spatial_and_channels(tuple(x.shape), self.rank, self.data_format, type(self).__name__)
        x = to_channels_last(x, self.data_format)
        if self.interpolation == "nearest":
            x = _repeat_entries(x, self.size)
        else:
            x = image_ops.resize(x, tuple(n * f for n, f in zip(x.shape[1:-1], self.size)),
                                 interpolation=self.interpolation, data_format="channels_last")
        return from_channels_last(x, self.data_format)


class UpSampling1D(_UpSampling):
    """Repeats each step of sequences ``(batch, steps, features)`` ``size`` times (default 2)."""

    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        self.size = (size,)

    def get_config(self):
        return {**super().get_config(), "size": self.size[0]}


class UpSampling2D(_UpSampling):
    """Up-samples images by ``size`` = ``(rows, cols)`` (an int: both).

    Args:
        size: the factors (default ``(2, 2)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        interpolation: ``"nearest"`` (each pixel repeated) or ``"bilinear"`` (Keras's other
            choices, "bicubic", "lanczos3", "lanczos5", are not offered by gpunet).

    Example: ``UpSampling2D(2)`` turns ``(None, 7, 7, 16)`` into ``(None, 14, 14, 16)``.
    """

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, 2, "size")
        self.data_format = standardize_data_format(data_format)
        mode = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear' in gpunet, "
                             f"got {interpolation!r}")
        self.interpolation = mode

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}
