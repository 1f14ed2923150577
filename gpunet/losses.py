"""Loss objects for ``model.compile(loss=...)``, called Keras-style as ``loss(y_true, y_pred)``.

When the model's last layer ends in softmax (sigmoid) and the loss is a cross-entropy on
probabilities (``from_logits=False``), the model hands the loss its logits instead and the loss
is computed as one stable log-softmax (log-sigmoid): no ``log(0)``, no overflow.
"""

from __future__ import annotations

from . import ops
from .autograd import GraphConfig, Tensor, as_tensor
from .lookup import Lookup
from .ops import loss as loss_ops

__all__ = [
    "Loss",
    "SparseCategoricalCrossentropy",
    "CategoricalCrossentropy",
    "BinaryCrossentropy",
    "MeanSquaredError",
    "get",
    "serialize",
]

_EPSILON = 1e-7  # Keras's clip of probabilities before the log


class Loss(GraphConfig):
    """Base class.

    ``loss(y_true, y_pred)`` checks its arguments and returns the mean loss as a Tensor.
    ``compute(output, target, logits)`` is the unchecked form the training loop calls with
    targets it has already checked; ``logits`` tells whether ``output`` holds logits (true with
    ``from_logits=True``, or when the model fused its final softmax/sigmoid into the loss).

    A subclass written with gpunet's ops only may declare ``supports_recording = True`` (see
    :class:`gpunet.layers.Layer`) so that fit records and replays its steps.
    """

    supports_recording = False
    name = "loss"
    target_kind = "float"  # "labels" (integer class indices) or "float"
    fuses_with: str | None = None  # the output activation this loss can take logits instead of

    def __init__(self, from_logits: bool = False, name: str | None = None):
        if not isinstance(from_logits, bool):
            raise TypeError(f"from_logits must be True or False, got {from_logits!r}")
        self.from_logits = from_logits
        if name is not None:
            self.name = name

    def __call__(self, y_true, y_pred) -> Tensor:
        y_pred = as_tensor(y_pred)
        y_true = as_tensor(y_true, like=y_pred)
        self.check(y_pred, y_true)
        return self.compute(y_pred, y_true, self.from_logits)

    def check(self, output: Tensor, target: Tensor) -> None:
        """Raise ValueError/TypeError for targets that do not fit the outputs."""

    def check_output(self, activation: str | None) -> None:
        """Raise ValueError when a model whose output ends in ``activation`` (a name, or None when
        unknown) cannot give this loss what it needs; fit and evaluate ask before starting."""

    def compute(self, output: Tensor, target: Tensor, logits: bool) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "from_logits": self.from_logits}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits})"


def _check_same_size(output, target) -> None:
    if target.size != output.size:
        raise ValueError(f"y_true must have the outputs' shape {output.shape}, got {target.shape}")


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer class labels of shape (N,); mean over the batch."""

    supports_recording = True

    name = "sparse_categorical_crossentropy"
    target_kind = "labels"
    fuses_with = "softmax"

    def check(self, output, target):
        if output.ndim != 2:
            raise ValueError(f"outputs must have shape (batch, classes), got {output.shape}")
        if target.shape != output.shape[:1]:
            raise ValueError(f"y_true must hold one class label per sample, shape ({output.shape[0]},), got {target.shape}")
        loss_ops.check_class_labels(target.data, output.shape[1], "y_true")

    def compute(self, output, target, logits):
        if logits:
            return loss_ops.SparseCrossEntropy()(output, target)
        return -ops.log(ops.maximum(ops.pick(output, target), _EPSILON)).mean()


class CategoricalCrossentropy(Loss):
    """Cross-entropy for one-hot (or probability) targets of shape (N, C); mean over the batch."""

    supports_recording = True

    name = "categorical_crossentropy"
    fuses_with = "softmax"

    def check(self, output, target):
        if output.ndim != 2 or target.shape != output.shape:
            raise ValueError(f"y_true must have the outputs' shape (batch, classes) {output.shape}, got {target.shape}")

    def compute(self, output, target, logits):
        if logits:
            return loss_ops.DenseCrossEntropy()(output, target)
        log_p = ops.log(ops.maximum(output, _EPSILON))
        return -(log_p * target).sum(axis=1).mean()


class BinaryCrossentropy(Loss):
    """Binary cross-entropy for targets in [0, 1], mean over all outputs."""

    supports_recording = True

    name = "binary_crossentropy"
    fuses_with = "sigmoid"

    def check_output(self, activation):
        if not self.from_logits and activation in ("linear", "tanh", "relu"):
            raise ValueError(
                f"binary_crossentropy takes probabilities, but the model's output activation is {activation}: "
                "for logits use loss=gpunet.losses.BinaryCrossentropy(from_logits=True), or end the model in a sigmoid"
            )

    def check(self, output, target):
        _check_same_size(output, target)

    def compute(self, output, target, logits):
        if target.shape != output.shape:
            target = ops.reshape(target, (-1, *output.shape[1:]))
        fn = loss_ops.BinaryCrossEntropyWithLogits() if logits else loss_ops.BinaryCrossEntropy()
        return fn(output, target)


class MeanSquaredError(Loss):
    """Mean of ``(y_pred - y_true) ** 2`` over all outputs."""

    supports_recording = True

    name = "mean_squared_error"

    def __init__(self, name: str | None = None):
        super().__init__(False, name)

    def check(self, output, target):
        _check_same_size(output, target)

    def compute(self, output, target, logits):
        if target.shape != output.shape:
            target = ops.reshape(target, (-1, *output.shape[1:]))
        return loss_ops.MeanSquaredError()(output, target)

    def get_config(self):
        return {"name": self.name}


_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
}
_LOOKUP = Lookup("loss", Loss, _BY_NAME, case_sensitive=True)


def _keep(cls, config: dict) -> dict:
    allowed = ("name",) if cls is MeanSquaredError else ("from_logits", "name")
    return {k: v for k, v in config.items() if k in allowed}


def get(identifier) -> Loss:
    """A loss from a name (``"sparse_categorical_crossentropy"``), a config dict, or a Loss object
    (a user's Loss subclass, registered with ``register_serializable``, included)."""
    return _LOOKUP.get(identifier, lambda config: _LOOKUP.deserialize(config, _keep))


def serialize(loss: Loss) -> dict:
    return _LOOKUP.serialize(loss)
