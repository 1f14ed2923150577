"""Metrics accumulated on the device during fit and evaluate, read a few times per epoch.

A metric sees the model's raw output (``output``; logits when the loss was fused with the final
softmax/sigmoid, which ``logits`` says) and the prepared targets. Counts and sums stay backend
arrays, so a GPU run never waits for the device to report a number it does not need yet.
"""

from __future__ import annotations

from . import losses
from .backend import get_array_module
from .lookup import Lookup

__all__ = [
    "Metric", "Mean", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy",
    "MeanSquaredError", "MeanAbsoluteError", "get", "serialize",
]


class Metric:
    """Base class: ``reset()``, ``update(output, target, logits)``, ``result() -> float``."""

    name = "metric"

    def __init__(self, name: str | None = None):
        if name is not None:
            self.name = name
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, output, target, logits: bool) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def result(self) -> float:
        """The value so far (a host sync on the GPU); NaN before any update."""
        return float(self.total) / self.count if self.count else float("nan")

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """Weighted running mean of a scalar (the training loss): ``update_value(value, weight)``."""

    name = "loss"

    def update_value(self, value, weight: int) -> None:
        self.total = self.total + value * weight
        self.count += weight


class SparseCategoricalAccuracy(Metric):
    """Fraction of samples whose arg-max output equals the integer label."""

    name = "accuracy"

    def update(self, output, target, logits):
        self.total = self.total + (output.argmax(axis=-1) == target).sum()
        self.count += int(target.shape[0])


class CategoricalAccuracy(Metric):
    """Fraction of samples whose arg-max output equals the arg-max of the one-hot target."""

    name = "accuracy"

    def update(self, output, target, logits):
        self.total = self.total + (output.argmax(axis=-1) == target.argmax(axis=-1)).sum()
        self.count += int(target.shape[0])


class BinaryAccuracy(Metric):
    """Fraction of outputs on the right side of 0.5 (of 0 for logits)."""

    name = "accuracy"

    def __init__(self, name=None, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__(name)

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}

    def update(self, output, target, logits):
        cut = 0.0 if logits else self.threshold
        predicted = output > cut
        target = target.reshape(predicted.shape) if target.size == predicted.size else target
        self.total = self.total + (predicted == (target > 0.5)).sum()
        self.count += int(predicted.size)


class MeanSquaredError(Metric):
    name = "mean_squared_error"

    def update(self, output, target, logits):
        diff = output - target.reshape(output.shape)
        self.total = self.total + (diff * diff).sum()
        self.count += int(diff.size)


class MeanAbsoluteError(Metric):
    name = "mean_absolute_error"

    def update(self, output, target, logits):
        xp = get_array_module(output)
        self.total = self.total + xp.abs(output - target.reshape(output.shape)).sum()
        self.count += int(output.size)


_ACCURACY_FOR_LOSS = {
    "labels": SparseCategoricalAccuracy,
    "categorical": CategoricalAccuracy,
    "binary": BinaryAccuracy,
}
_BY_NAME = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}
_ACCURACY_NAMES = ("accuracy", "acc")
_LOOKUP = Lookup("metric", Metric, _BY_NAME, case_sensitive=True)


def get(identifier, loss) -> Metric:
    """A metric from a name or object; ``"accuracy"`` becomes the kind that fits ``loss``
    (sparse for integer labels, categorical for one-hot targets, binary for binary cross-entropy).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        return _LOOKUP.deserialize(identifier)
    if not isinstance(identifier, str):
        raise TypeError(f"metrics must be names or gpunet.metrics.Metric objects, got {type(identifier).__name__}")
    if identifier in _ACCURACY_NAMES:
        if isinstance(loss, losses.SparseCategoricalCrossentropy):
            kind = "labels"
        elif isinstance(loss, losses.BinaryCrossentropy):
            kind = "binary"
        elif isinstance(loss, losses.CategoricalCrossentropy):
            kind = "categorical"
        else:
            raise ValueError(
                f"metric {identifier!r} needs a classification loss (sparse_categorical_crossentropy, "
                f"categorical_crossentropy or binary_crossentropy), got {loss.name!r}"
            )
        return _ACCURACY_FOR_LOSS[kind](name=identifier)
    cls = _BY_NAME.get(identifier)
    if cls is None:
        raise ValueError(f"unknown metric {identifier!r}; valid names are {sorted(_BY_NAME) + list(_ACCURACY_NAMES)}")
    return cls(name=identifier if identifier in ("mse", "mae") else None)


def serialize(metric: Metric) -> dict:
    return _LOOKUP.serialize(metric)
