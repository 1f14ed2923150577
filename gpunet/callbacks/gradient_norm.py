"""GradientNormMonitor: each layer's gradient norm, to see vanishing gradients."""

from __future__ import annotations

from .. import backend
from .base import Callback

__all__ = ["GradientNormMonitor"]


class GradientNormMonitor(Callback):
    """Log ``grad_norm_<layer>``: the L2 norm of each layer's gradient, averaged over the steps of
    the epoch so far.

    ``weights="all"`` takes all the layer's weights together; ``"bias"`` only its bias, which is
    Nielsen's measure of a layer's "speed of learning" (the norm of the error signal): it does not
    grow with the layer's number of inputs, so layers of equal width compare directly;
    ``"kernel"`` only its kernel.

    The course's vanishing-gradient observation: in a deep sigmoid network the layers near the
    input get much smaller gradients than those near the output. The norms are summed on the
    device and read only at each report.
    """

    def __init__(self, weights: str = "all"):
        super().__init__()
        if weights not in ("all", "bias", "kernel"):
            raise ValueError(f"weights must be 'all', 'bias' or 'kernel', got {weights!r}")
        self.weights = weights
        self._sums = {}
        self._steps = 0

    def _watched(self, layer):
        params = layer.trainable_weights
        if self.weights == "all":
            return params
        return [p for p in params if p.name.rsplit("/", 1)[-1] == self.weights]

    def log_keys_added(self, model):
        return [f"grad_norm_{layer.name}" for layer in model.layers if self._watched(layer)]

    def on_epoch_begin(self, epoch, logs=None):
        self._sums = {}
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        for layer in self.model.layers:
            grads = [p.grad for p in self._watched(layer) if p.grad is not None]
            if not grads:
                continue
            xp = backend.get_array_module(grads[0])
            squared = sum((g * g).sum() for g in grads)
            norm = xp.sqrt(squared)
            self._sums[layer.name] = self._sums.get(layer.name, 0.0) + norm
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not self._steps:
            return
        for name, total in self._sums.items():
            logs[f"grad_norm_{name}"] = float(total) / self._steps
