"""Regularization layers beside Dropout: SpatialDropout1D/2D, GaussianNoise, GaussianDropout,
AlphaDropout and ActivityRegularization, with Keras's arguments.

The noise layers act only when called with ``training=True`` (fit's steps) and are the identity
at inference. Their noise comes from gpunet's seeded noise stream, as Dropout's masks do
(``gpunet.utils.set_random_seed`` seeds it, checkpoints save and restore it), drawn inside the op
so that a replayed training step draws afresh. As for Dropout, a per-layer ``seed`` is refused.
"""

from __future__ import annotations

from .. import regularizers
from ..ops import noise as noise_ops
from .base import Layer
from .convolutional import standardize_data_format
from .core import Dropout

__all__ = ["SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
           "ActivityRegularization"]


def _no_seed(layer, seed) -> None:
    if seed is not None:
        raise ValueError(f"{layer}: a per-layer seed is not supported; gpunet.utils.set_random_seed(seed) seeds "
                         f"every noise layer")


def _unit_rate(layer, rate, name="rate") -> float:
    """Keras's check of these layers' rates: a number in [0, 1]."""
    return noise_ops.check_rate(rate, upper_open=False, name=name, owner=layer)


class _SpatialDropout(Dropout):
    """Dropout of whole channels: one mask entry per (sample, channel), broadcast over the
    spatial dims. Keras's config holds only rate, seed, name and dtype (and data_format)."""

    rank = 1
    data_format = "channels_last"

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)

    def call(self, x, training=False):
        if x.ndim != self.rank + 2:
            raise ValueError(f"{type(self).__name__} expects inputs of rank {self.rank + 2}, "
                             f"got shape {tuple(x.shape)}")
        shape = [1] * x.ndim
        shape[0] = x.shape[0]
        channel = -1 if self.data_format == "channels_last" else 1
        shape[channel] = x.shape[channel]
        return noise_ops.spatial_dropout(x, self.rate, tuple(shape), training)

    def get_config(self):
        return {"rate": self.rate, "seed": None, "name": self.name, "dtype": self.dtype_policy.name}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole feature channels of sequences ``(batch, steps, channels)`` with probability
    ``rate`` (the kept ones scaled by ``1 / (1 - rate)``): neighbouring steps are strongly
    correlated, so dropping single entries would regularize little."""

    rank = 1


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of images with probability ``rate`` (:class:`SpatialDropout1D`
    for images); ``data_format`` says where the channels are."""

    rank = 2

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.data_format = standardize_data_format(data_format)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` (in [0, 1], as Keras) while
    training: a data augmentation for real-valued inputs."""

    supports_masking = True
    supports_recording = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        _no_seed(type(self).__name__, seed)
        self.stddev = _unit_rate(type(self).__name__, stddev, "stddev")
        self.seed = None

    def call(self, x, training=False):
        return noise_ops.gaussian_noise(x, self.stddev, training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": None}


class GaussianDropout(Layer):
    """Multiplies by Gaussian noise of mean 1 and standard deviation ``sqrt(rate / (1 - rate))``
    while training (the variance of inverted dropout at drop probability ``rate``)."""

    supports_masking = True
    supports_recording = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        _no_seed(type(self).__name__, seed)
        self.rate = _unit_rate(type(self).__name__, rate)
        self.seed = None

    def call(self, x, training=False):
        return noise_ops.gaussian_dropout(x, self.rate, training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": None}


class AlphaDropout(Layer):
    """Alpha dropout for self-normalizing (SELU) networks: dropped entries take SELU's negative
    saturation value and an affine map keeps the mean and variance (see
    :func:`gpunet.ops.noise.alpha_dropout`); ``noise_shape`` as Keras's (None entries: the
    input's size)."""

    supports_masking = True
    supports_recording = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        _no_seed(type(self).__name__, seed)
        self.rate = _unit_rate(type(self).__name__, rate)
        if noise_shape is not None and not isinstance(noise_shape, (tuple, list)):
            raise ValueError(f"AlphaDropout: noise_shape must be None or a tuple, got {noise_shape!r}")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = None

    def call(self, x, training=False):
        return noise_ops.alpha_dropout(x, self.rate, self.noise_shape, training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": None,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class ActivityRegularization(Layer):
    """The identity, adding ``l1 * sum(|x|) + l2 * sum(x^2)`` of its input to the training loss
    (an activity regularizer on its own; Keras's)."""

    supports_masking = True
    supports_recording = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = l1, l2

    def call(self, x, training=False):
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
