"""Layers that work on the time steps of a sequence: Masking, RepeatVector."""

from __future__ import annotations

import numbers

from .. import ops
from .base import Layer, check_positive_int

__all__ = ["Masking", "RepeatVector"]


class Masking(Layer):
    """Marks the time steps whose features all equal ``mask_value`` as padding (Keras 3's).

    The output is the input with those steps set to 0, and carries the mask
    ``any(x != mask_value, axis=-1)`` (shape ``(batch, steps)``, True where a step is kept), which
    the layers after it that take a mask honour (pooling over time, recurrent layers); layers
    that keep the time steps (Dense, TimeDistributed, Activation, Dropout) hand it on.

    Args:
        mask_value: the value that marks padding (default 0.0).

    Example::

        model = gpunet.Sequential([gpunet.Input((10, 8)), gpunet.layers.Masking(0.0),
                                   gpunet.layers.GlobalAveragePooling1D()])
    """

    supports_masking = True
    supports_recording = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
            raise TypeError(f"Masking: mask_value must be a number, got {mask_value!r}")
        self.mask_value = mask_value

    def _kept(self, x, keepdims: bool):
        return ops.any(ops.not_equal(x, self.mask_value), axis=-1, keepdims=keepdims)

    def call(self, x, training=False):
        return ops.where(self._kept(x, True), x, 0.0)

    def compute_mask(self, inputs, mask=None):
        return self._kept(inputs, False)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class RepeatVector(Layer):
    """Repeats each sample's vector ``n`` times: ``(batch, features) -> (batch, n, features)``
    (Keras 3's; the bridge from an encoder's summary to a decoder's time steps).

    Args:
        n: how many times to repeat (a positive int).
    """

    supports_recording = True

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"RepeatVector: n must be an integer, got {n!r}")
        self.n = check_positive_int(int(n), "n")

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"RepeatVector {self.name!r} takes inputs of shape (batch, features), got {tuple(input_shape)}")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def call(self, x, training=False):
        if x.ndim != 2:
            raise ValueError(f"RepeatVector {self.name!r} takes inputs of shape (batch, features), got {tuple(x.shape)}")
        return ops.repeat(x[:, None, :], self.n, axis=1)  # indexing, not a reshape: any batch size replays

    def get_config(self):
        return {**super().get_config(), "n": self.n}
