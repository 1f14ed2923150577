"""Wrappers: layers that hold another layer and apply it in a new way (TimeDistributed)."""

from __future__ import annotations

from .. import ops
from .base import Layer
from .normalization import BatchNormalization
from .serialization import deserialize, serialize

__all__ = ["TimeDistributed"]


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step of a sequence, the same weights at every step (Keras 3's).

    Inputs ``(batch, steps, *rest)``: ``layer`` sees ``(batch, *rest)`` per step and the outputs
    are stacked along axis 1, ``(batch, steps, *out)``. The steps are merged into the batch and
    ``layer`` runs once on ``(batch * steps, *rest)``, which gives what Keras's step-by-step loop
    gives for every layer that treats samples independently; a ``BatchNormalization``, whose
    training statistics depend on the batch, runs step by step as in Keras.

    A mask ``(batch, steps)`` on the input is handed on to the output unchanged, and to a
    ``layer`` whose ``call`` takes ``mask`` as one entry per sample of each step, as Keras does.
    The weights are ``layer``'s, saved where Keras saves them (under the attribute ``layer``).

    Args:
        layer: the layer to apply (any gpunet layer: Dense, Conv2D, a model...).

    Example::

        frames = gpunet.Input((10, 28, 28, 1))
        features = gpunet.layers.TimeDistributed(gpunet.layers.Conv2D(8, 3))(frames)  # (None, 10, 26, 26, 8)
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: layer must be a gpunet layer instance, got {type(layer).__name__}")
        super().__init__(**kwargs)
        self.layer = layer

    @property
    def supports_recording(self) -> bool:
        return self.layer.recordable()

    def recordable(self) -> bool:
        return super().recordable() and self.layer.recordable()

    @staticmethod
    def _step_shape(input_shape) -> tuple:
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(f"TimeDistributed takes inputs of at least 3 dimensions (batch, steps, ...), got shape "
                             f"{input_shape}")
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape):
        self.layer.ensure_built(self._step_shape(input_shape))

    def compute_output_shape(self, input_shape):
        out = self.layer.compute_output_shape(self._step_shape(input_shape))
        return (out[0], input_shape[1], *out[1:])

    def _apply(self, x, training, mask):
        kwargs = {}
        if self.layer.call_takes_training:
            kwargs["training"] = training
        if mask is not None and self.layer.call_takes_mask:
            kwargs["mask"] = mask
        return self.layer.call(self.layer.cast_input(x), **kwargs)

    def call(self, x, training=False, mask=None):
        self._step_shape(tuple(x.shape))
        if mask is not None and tuple(mask.shape[:2]) != tuple(x.shape[:2]):
            raise ValueError(f"TimeDistributed: the mask's shape {tuple(mask.shape)} does not start with the inputs' "
                             f"(batch, steps) = {tuple(x.shape[:2])}")
        steps = x.shape[1]
        if isinstance(self.layer, BatchNormalization):  # batch statistics: one step at a time, as Keras
            outputs = [self._apply(x[:, i], training, None if mask is None else mask[:, i]) for i in range(steps)]
            return ops.stack(outputs, axis=1)
        merged = ops.reshape(x, (-1, *x.shape[2:]))  # -1: a recorded step replays on any batch size
        y = self._apply(merged, training, None if mask is None else ops.reshape(mask, (-1, *mask.shape[2:])))
        return ops.reshape(y, (-1, steps, *y.shape[1:]))

    def get_config(self):
        inner = serialize(self.layer)
        if "registered_name" not in inner:  # Keras finds a nested built-in layer by its module, even in .h5 files
            inner = {"module": "keras.layers", **inner}
        return {**super().get_config(), "layer": inner}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer = config.pop("layer")
        return cls(deserialize(layer) if isinstance(layer, dict) else layer, **config)
