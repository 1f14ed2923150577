"""Reshaping layers: Reshape and zero padding (Flatten lives with the core layers)."""

from __future__ import annotations

import math

from .. import ops
from ..ops import convolution as conv_ops
from .base import Layer
from .convolutional import (WorkspaceChecked, channels_last_shape, from_channels_last, spatial_and_channels,
                            standardize_data_format, to_channels_last)

__all__ = ["Reshape", "ZeroPadding1D", "ZeroPadding2D"]


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (without the batch dimension; one entry may be -1).

    Example: ``Reshape((28, 28, 1))`` turns ``(None, 784)`` into ``(None, 28, 28, 1)``.
    """

    supports_recording = True

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, int) and not isinstance(target_shape, bool):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (tuple, list)) or not target_shape or any(
            isinstance(d, bool) or not isinstance(d, int) or (d < 1 and d != -1) for d in target_shape
        ) or list(target_shape).count(-1) > 1:
            raise ValueError(f"Reshape: target_shape must be a tuple of positive integers (one may be -1), got {target_shape!r}")
        self.target_shape = tuple(target_shape)

    def compute_output_shape(self, input_shape):
        size = input_shape[1:]
        if any(d is None for d in size):
            return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))
        total = math.prod(size)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if total % known:
                raise ValueError(f"Reshape: cannot reshape samples of shape {tuple(size)} to {self.target_shape}")
            return (input_shape[0], *(total // known if d == -1 else d for d in self.target_shape))
        if known != total:
            raise ValueError(f"Reshape: cannot reshape samples of shape {tuple(size)} ({total} values) to {self.target_shape}")
        return (input_shape[0], *self.target_shape)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def call(self, x, training=False):
        return ops.reshape(x, (-1, *self.compute_output_shape((None, *x.shape[1:]))[1:]))

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


def _pads(padding, rank: int) -> tuple:
    """Keras's ``padding``: an int, one int per dimension, or a (before, after) pair per dimension."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        padding = (padding,) * rank
    if not isinstance(padding, (tuple, list)):
        raise ValueError(f"padding must be an integer or a tuple, got {padding!r}")
    if rank == 1 and len(padding) == 2 and all(isinstance(p, int) and not isinstance(p, bool) for p in padding):
        padding = (tuple(padding),)
    if len(padding) != rank:
        raise ValueError(f"padding must give {rank} dimension(s), got {padding!r}")
    pads = []
    for p in padding:
        pair = (p, p) if isinstance(p, int) and not isinstance(p, bool) else tuple(p)
        if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in pair):
            raise ValueError(f"padding must hold non-negative integers, got {padding!r}")
        pads.append(pair)
    return tuple(pads)


class _ZeroPadding(WorkspaceChecked, Layer):
    rank = 2
    supports_recording = True

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pads(padding, self.rank)
        self.data_format = standardize_data_format(data_format)

    def compute_output_shape(self, input_shape):
        spatial, channels = spatial_and_channels(input_shape, self.rank, self.data_format, type(self).__name__)
        padded = tuple(None if d is None else d + a + b for d, (a, b) in zip(spatial, self.padding))
        return (input_shape[0], *padded, channels) if self.data_format == "channels_last" else (input_shape[0], channels, *padded)

    def workspace_bytes(self, input_shape, itemsize, gradients=True, host=True, pool=None):
        return conv_ops.pad_workspace(channels_last_shape(input_shape, self.data_format), itemsize, self.padding,
                                      gradients)

    def call(self, x, training=False):
        self.check_input(x)
        return from_channels_last(conv_ops.pad_spatial(to_channels_last(x, self.data_format), self.padding), self.data_format)

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding], "data_format": self.data_format}


class ZeroPadding2D(_ZeroPadding):
    """Zeros around images: ``padding`` an int, ``(rows, cols)`` or ``((top, bottom), (left, right))``."""

    rank = 2


class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after a sequence: ``padding`` an int or ``(before, after)``."""

    rank = 1

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding[0])}
