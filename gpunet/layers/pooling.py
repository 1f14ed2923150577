"""Pooling: max and average over windows (1D, 2D) and over the whole input (global), Keras's arguments."""

from __future__ import annotations

from .. import ops
from ..ops import convolution as conv_ops
from .base import Layer, runs_builtin
from .convolutional import (WorkspaceChecked, _Conv, channels_last_shape, from_channels_last, output_shape,
                            spatial_and_channels, standardize_data_format, standardize_tuple, to_channels_last)

__all__ = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"]


class _Pooling(WorkspaceChecked, Layer):
    """Max or average over windows of ``pool_size`` moved by ``strides`` (default: ``pool_size``)."""

    rank = 2
    supports_recording = True
    kind = "avg"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else standardize_tuple(strides, self.rank, "strides")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__}: padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding
        self.data_format = standardize_data_format(data_format)

    def compute_output_shape(self, input_shape):
        spatial, channels = spatial_and_channels(input_shape, self.rank, self.data_format, type(self).__name__)
        out = conv_ops.pool_output_shape(spatial, self.pool_size, self.strides, self.padding)
        return output_shape(input_shape[0], out, channels, self.data_format)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # a pool that leaves no output is refused here

    def workspace_bytes(self, input_shape, itemsize, gradients=True, host=True, pool=None):
        return conv_ops.pool_workspace(channels_last_shape(input_shape, self.data_format), itemsize, self.pool_size,
                                       self.strides, self.padding, gradients, self.kind)

    def call(self, x, training=False):
        self.check_input(x)
        y = self.pool(to_channels_last(x, self.data_format), self.pool_size, strides=self.strides, padding=self.padding)
        return from_channels_last(y, self.data_format)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


class _MaxPooling(_Pooling):
    pool = staticmethod(conv_ops.max_pool)
    uses_host_threads = True
    kind = "max"

    def takes_over(self, previous) -> bool:
        """After a convolution whose activation is non-decreasing (linear, relu, sigmoid, tanh),
        ``max(act(z + b)) == act(max(z) + b)`` exactly (rounding is monotone too): pooling the
        product first applies the bias and activation to a few times fewer values, forward and
        backward, for bitwise the same output; and one op (:func:`~gpunet.ops.conv_max_pool`)
        pools each block of images' product while it is in cache, never storing it whole."""
        return (
            isinstance(previous, _Conv) and runs_builtin(previous, "call_product", "call_finish", "convolution_op")
            and runs_builtin(self, "call_fused") and previous.rank == self.rank and previous.data_format == self.data_format
            and previous.monotone() and previous.activity_regularizer is None
        )

    def fused_pool(self) -> tuple:
        """``(pool_size, strides, padding)``: the pooling a convolution computes in its own op (:meth:`call_fused`)."""
        return self.pool_size, self.strides, self.padding

    def call_fused(self, previous, x, training=False):
        return previous.call_finish(previous.call_product(x, pool=self.fused_pool()))


class MaxPooling2D(_MaxPooling):
    """The maximum of each ``pool_size`` window (default 2x2, strides = pool_size). Example::

        MaxPooling2D(pool_size=(2, 2))   # (None, 26, 26, 32) -> (None, 13, 13, 32)
    """

    rank = 2


class MaxPooling1D(_MaxPooling):
    """The maximum of each ``pool_size`` window of a sequence ``(batch, steps, channels)``."""

    rank = 1


class AveragePooling2D(_Pooling):
    """The mean of each window; with ``padding="same"`` the mean of a border window counts only
    the real entries (as Keras/TensorFlow)."""

    rank = 2
    pool = staticmethod(conv_ops.avg_pool)


class AveragePooling1D(_Pooling):
    """The mean of each window of a sequence."""

    rank = 1
    pool = staticmethod(conv_ops.avg_pool)


class _GlobalPooling(Layer):
    """A reduction over every spatial position: ``(batch, *spatial, channels) -> (batch, channels)``
    (``keepdims=True`` keeps the spatial dimensions, as size 1)."""

    rank = 2
    supports_recording = True

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)

    def _axes(self):
        return tuple(range(1, self.rank + 1)) if self.data_format == "channels_last" else tuple(range(2, self.rank + 2))

    def compute_output_shape(self, input_shape):
        spatial, channels = spatial_and_channels(input_shape, self.rank, self.data_format, type(self).__name__)
        if self.keepdims:
            return output_shape(input_shape[0], (1,) * self.rank, channels, self.data_format)
        return (input_shape[0], channels)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def call(self, x, training=False):
        return self.reduce(x, axis=self._axes(), keepdims=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling):
    """The mean over height and width, per channel."""

    rank = 2
    reduce = staticmethod(ops.mean)


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over the steps, per channel; with a mask (from ``Embedding(mask_zero=True)`` or
    ``Masking``), the mean over the steps it keeps, as Keras's (a sample with every step masked
    divides by zero, as in Keras). The output carries no mask."""

    rank = 1
    reduce = staticmethod(ops.mean)
    supports_masking = True

    def call(self, x, training=False, mask=None):
        if mask is None:
            return super().call(x, training)
        steps = self._axes()[0]
        keep = ops.cast(mask, x.dtype)  # indexing, not a reshape: a recorded step fits any batch size
        keep = keep[:, :, None] if self.data_format == "channels_last" else keep[:, None, :]
        kept = ops.where(keep > 0, x, 0.0)  # masked steps may hold anything, NaN included
        return ops.sum(kept, axis=steps, keepdims=self.keepdims) / ops.sum(keep, axis=steps, keepdims=self.keepdims)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalMaxPooling2D(_GlobalPooling):
    """The maximum over height and width, per channel."""

    rank = 2
    reduce = staticmethod(conv_ops.max)


class GlobalMaxPooling1D(_GlobalPooling):
    """The maximum over the steps, per channel."""

    rank = 1
    reduce = staticmethod(conv_ops.max)
