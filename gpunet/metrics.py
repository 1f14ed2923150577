"""Metrics accumulated on the device during fit and evaluate, read a few times per epoch.

A metric sees the model's raw output (``output``; logits when the loss was fused with the final
softmax/sigmoid, which ``logits`` says) and the prepared targets. Counts and sums stay backend
arrays, so a GPU run never waits for the device to report a number it does not need yet.

The metrics, by Keras's names: ``SparseCategoricalAccuracy``, ``CategoricalAccuracy``,
``BinaryAccuracy``, ``TopKCategoricalAccuracy``, ``SparseTopKCategoricalAccuracy``,
``Precision``, ``Recall``, ``AUC``, ``MeanSquaredError``, ``MeanAbsoluteError``. As in Keras 3, a
metric given by a string is logged under that string (``"acc"`` -> ``acc`` and ``val_acc``), and a
metric object under its ``name``.
"""

from __future__ import annotations

import math
import numbers

import numpy

from . import losses
from .backend import get_array_module, on_device_of, to_host
from .lookup import Lookup
from .ops.activation import sigmoid_forward, softmax_forward

__all__ = [
    "Metric", "Mean", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "Precision", "Recall", "AUC",
    "MeanSquaredError", "MeanAbsoluteError", "ACCURACIES", "get", "serialize",
]

_EPSILON = 1e-7  # Keras's backend epsilon: AUC's outermost thresholds are -eps and 1 + eps


class Metric:
    """Base class: ``reset()``, ``update(output, target, logits)``, ``result() -> float``.

    ``direction`` says which way is better (``"up"`` or ``"down"``), as Keras's metrics do.
    ``logit_activation`` is set when the metric is compiled with a loss (:func:`get`): what turns
    the logits a fused loss hands over (``logits=True``) back into the model's output
    (``"softmax"``, ``"sigmoid"``), or ``"none"`` when the model's output is itself logits (a loss
    with ``from_logits=True``); unset, a single output means a sigmoid and several a softmax.
    """

    name = "metric"
    direction = "up"
    logit_activation: str | None = None

    def __init__(self, name: str | None = None):
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"name must be a non-empty string, got {name!r}")
            self.name = name
        self.reset()

    graph_safe = False  # whether update() is device work only, adding in place (see gpunet.training.graphs)

    def reset(self) -> None:
        total = getattr(self, "total", None)
        if getattr(total, "ndim", None) == 0 and not isinstance(total, numpy.generic) and hasattr(total, "fill"):
            total.fill(0)  # a device array: zeroed in place, as a captured CUDA graph keeps adding into it
        else:
            self.total = 0.0
        self.count = 0

    def update(self, output, target, logits: bool) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def result(self) -> float:
        """The value so far (a host sync on the GPU); NaN before any update."""
        return float(self.total) / self.count if self.count else float("nan")

    def bind(self, loss) -> None:
        """Learn from the compiled loss what ``logits=True`` means (see the class docstring)."""
        if loss is not None:
            self.logit_activation = "none" if loss.from_logits else loss.fuses_with

    def model_output(self, output, logits: bool):
        """What the model outputs: ``output`` itself, or the softmax/sigmoid of the logits a fused
        loss was given."""
        if not logits or self.logit_activation == "none":
            return output
        activation = self.logit_activation or ("sigmoid" if output.shape[-1] == 1 else "softmax")
        return sigmoid_forward(output) if activation == "sigmoid" else softmax_forward(output, axis=-1)

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """Weighted running mean of a scalar (the training loss): ``update_value(value, weight)``."""

    graph_safe = True

    name = "loss"
    direction = "down"

    def update_value(self, value, weight: int) -> None:
        self.total += value * weight
        self.count += weight


class SparseCategoricalAccuracy(Metric):
    """Fraction of samples whose arg-max output equals the integer label."""

    graph_safe = True

    name = "sparse_categorical_accuracy"

    def update(self, output, target, logits):
        self.total += (output.argmax(axis=-1) == target).sum()
        self.count += int(target.shape[0])


class CategoricalAccuracy(Metric):
    """Fraction of samples whose arg-max output equals the arg-max of the one-hot target."""

    graph_safe = True

    name = "categorical_accuracy"

    def update(self, output, target, logits):
        self.total += (output.argmax(axis=-1) == target.argmax(axis=-1)).sum()
        self.count += int(target.shape[0])


class BinaryAccuracy(Metric):
    """Fraction of outputs on the right side of ``threshold`` (default 0.5); a target counts as
    positive above 0.5. With logits the output's probability is compared, for any loss: a logit
    against ``log(threshold / (1 - threshold))`` (0 for 0.5)."""

    name = "binary_accuracy"
    graph_safe = True

    def __init__(self, name=None, threshold: float = 0.5):
        self.threshold = _check_threshold(threshold, "threshold")
        super().__init__(name)

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}

    def update(self, output, target, logits):
        if logits and self.logit_activation in (None, "none", "sigmoid"):
            predicted = _logit_above(output, self.threshold)
        else:
            predicted = self.model_output(output, logits) > self.threshold
        target = target.reshape(predicted.shape) if target.size == predicted.size else target
        self.total += (predicted == (target > 0.5)).sum()
        self.count += int(predicted.size)


class TopKCategoricalAccuracy(Metric):
    """Fraction of samples whose true class is among the ``k`` highest outputs (a tie with the
    true class's output counts as a hit, as in Keras). Targets are one-hot rows or, as for
    :class:`SparseTopKCategoricalAccuracy`, integer labels.

    Args:
        k: how many of the highest outputs count (a positive integer; default 5).

    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
    ...               metrics=[gpunet.metrics.SparseTopKCategoricalAccuracy(k=3)])
    """

    name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None):
        self.k = _check_integer(k, "k", 1, "a positive integer")
        super().__init__(name)

    def get_config(self):
        return {"name": self.name, "k": self.k}

    def update(self, output, target, logits):
        xp = get_array_module(output)
        labels = target if target.ndim == output.ndim - 1 else target.argmax(axis=-1)
        at_label = xp.take_along_axis(output, labels.astype(numpy.int64)[..., None], axis=-1)
        at_label = xp.where(xp.isnan(at_label), -xp.inf, at_label)  # a NaN output is never a hit
        above = (output > at_label).sum(axis=-1)  # outputs strictly above the true class's
        self.total += (above < self.k).sum()
        self.count += int(labels.size)


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """:class:`TopKCategoricalAccuracy` for integer labels (the same computation, Keras's name)."""

    name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None, from_sorted_ids: bool = False):
        if from_sorted_ids is not False:
            raise ValueError(f"from_sorted_ids={from_sorted_ids!r} is not supported by gpunet (only False)")
        super().__init__(k, name)


class _ConfusionCounts(Metric):
    """Base of Precision and Recall: true positives, false positives and false negatives, counted
    over every output (after ``top_k`` and ``class_id``, as Keras). A prediction is positive
    above ``thresholds``; a target is positive when non-zero. Integer labels count as one-hot."""

    def __init__(self, thresholds=None, top_k: int | None = None, class_id: int | None = None, name: str | None = None):
        if isinstance(thresholds, (list, tuple)):
            if len(thresholds) != 1:
                raise ValueError(f"thresholds must be one number in [0, 1] (gpunet logs one value per metric), "
                                 f"got {thresholds!r}")
            thresholds = thresholds[0]
        self.thresholds = None if thresholds is None else _check_threshold(thresholds, "thresholds")
        self.top_k = None if top_k is None else _check_integer(top_k, "top_k", 1, "a positive integer or None")
        self.class_id = None if class_id is None else _check_integer(class_id, "class_id", 0,
                                                                     "a non-negative integer or None")
        super().__init__(name)

    def reset(self):
        super().reset()
        self.true_positives = self.false_positives = self.false_negatives = 0

    def get_config(self):
        return {"name": self.name, "thresholds": self.thresholds, "top_k": self.top_k, "class_id": self.class_id}

    def update(self, output, target, logits):
        output = self.model_output(output, logits)
        target = _dense_targets(target, output)
        if self.top_k is not None:
            # each output's place in its row, highest first (ties: the lower index first, as Keras)
            place = _stable_argsort(_stable_argsort(-output))
            kept = place < self.top_k
        if self.class_id is not None:
            if output.ndim < 2 or self.class_id >= output.shape[-1]:
                raise ValueError(f"class_id={self.class_id} needs outputs of shape (batch, classes > {self.class_id}), "
                                 f"got {output.shape}")
            output, target = output[..., self.class_id], target[..., self.class_id]
            if self.top_k is not None:
                kept = kept[..., self.class_id]
        if self.top_k is not None and self.thresholds is None:
            predicted = kept  # Keras's threshold is then -1e10: every kept output is positive
        else:
            predicted = output > (0.5 if self.thresholds is None else self.thresholds)
            if self.top_k is not None:
                predicted &= kept
        actual = target != 0
        self.true_positives = self.true_positives + (predicted & actual).sum()
        self.false_positives = self.false_positives + (predicted & ~actual).sum()
        self.false_negatives = self.false_negatives + (~predicted & actual).sum()
        self.count += int(output.shape[0]) if output.ndim else 1

    def _ratio(self, part, other) -> float:
        if not self.count:
            return float("nan")
        part, other = float(part), float(other)
        return part / (part + other) if part + other else 0.0

    def __repr__(self):
        return (f"{type(self).__name__}(thresholds={self.thresholds}, top_k={self.top_k}, class_id={self.class_id}, "
                f"name={self.name!r})")


class Precision(_ConfusionCounts):
    """``tp / (tp + fp)``: the fraction of predicted positives that are positive (0 when nothing
    was predicted positive).

    Args:
        thresholds: a prediction above it is positive (one number in [0, 1]; default 0.5, or, with
            ``top_k``, none: the top k outputs are the positives).
        top_k: only the ``top_k`` highest outputs of each sample may be positive.
        class_id: count only this class's outputs (``outputs[:, class_id]``).

    Predictions are the model's outputs: probabilities for a softmax/sigmoid model (also when the
    loss was fused), logits for a loss with ``from_logits=True`` (then use ``thresholds=0``).

    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[gpunet.metrics.Precision()])
    """

    name = "precision"

    def result(self):
        return self._ratio(self.true_positives, self.false_positives)


class Recall(_ConfusionCounts):
    """``tp / (tp + fn)``: the fraction of positives predicted positive (0 without positives).
    Arguments as :class:`Precision`."""

    name = "recall"

    def result(self):
        return self._ratio(self.true_positives, self.false_negatives)


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at fixed thresholds (Keras's
    estimate, same thresholds and sums).

    Args:
        num_thresholds: how many thresholds, evenly spaced over [0, 1] (an integer > 1; default
            200): ``-1e-7, 1/(n-1), ..., (n-2)/(n-1), 1 + 1e-7``.
        curve: ``"ROC"`` (true-positive rate against false-positive rate) or ``"PR"`` (precision
            against recall).
        summation_method: ``"interpolation"`` (trapezoids; for PR, Davis and Goadrich's
            interpolation), ``"minoring"`` or ``"majoring"`` (lower or upper Riemann sums).
        thresholds: explicit thresholds in [0, 1] in place of ``num_thresholds``.
        from_logits: the predictions are logits: a sigmoid is applied first.

    Predictions are clipped to [0, 1]; integer labels count as one-hot rows, and every output
    counts (Keras's ``multi_label=False``: one curve over all classes).

    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[gpunet.metrics.AUC(curve="PR")])
    """

    name = "auc"
    _SUMS = ("interpolation", "minoring", "majoring")

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None, thresholds=None, multi_label: bool = False, num_labels=None,
                 label_weights=None, from_logits: bool = False):
        if not isinstance(curve, str) or curve not in ("ROC", "roc", "PR", "pr"):
            raise ValueError(f"curve must be 'ROC' or 'PR', got {curve!r}")
        accepted = (*self._SUMS, *map(str.capitalize, self._SUMS))  # Keras's spellings
        if not isinstance(summation_method, str) or summation_method not in accepted:
            raise ValueError(f"summation_method must be one of {list(self._SUMS)}, got {summation_method!r}")
        for key, value, default in (("multi_label", multi_label, False), ("num_labels", num_labels, None),
                                    ("label_weights", label_weights, None)):
            if value is not default:
                raise ValueError(f"{key}={value!r} is not supported by gpunet (only {default!r})")
        if not isinstance(from_logits, bool):
            raise TypeError(f"from_logits must be True or False, got {from_logits!r}")
        if thresholds is not None:
            if not isinstance(thresholds, (list, tuple)) or not thresholds:
                raise ValueError(f"thresholds must be a non-empty list of numbers in [0, 1], got {thresholds!r}")
            inner = sorted(_check_threshold(t, "thresholds") for t in thresholds)
            num_thresholds = len(inner) + 2
        else:
            num_thresholds = _check_integer(num_thresholds, "num_thresholds", 2, "an integer > 1")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds = num_thresholds
        self.given_thresholds = None if thresholds is None else inner
        self.thresholds = numpy.array([-_EPSILON, *inner, 1.0 + _EPSILON])
        self._device_thresholds = None  # the thresholds on the device, moved there once
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        self.from_logits = from_logits
        super().__init__(name)

    def reset(self):
        super().reset()
        self.true_positives = self.false_positives = 0  # per threshold, on the device
        self.positives = self.negatives = 0

    def get_config(self):
        config = {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": False, "num_labels": None,
                  "label_weights": None, "from_logits": self.from_logits}
        if self.given_thresholds is not None:
            config["thresholds"] = list(self.given_thresholds)
        return config

    def update(self, output, target, logits):
        xp = get_array_module(output)
        output = self.model_output(output, logits)
        if self.from_logits:
            output = sigmoid_forward(output)
        actual = (_dense_targets(target, output) != 0).reshape(-1)
        predicted = xp.clip(output, 0.0, 1.0).reshape(-1)
        # a prediction is positive at threshold j when it lies above it: j < (thresholds below it)
        thresholds = self._device_thresholds
        if thresholds is None or thresholds.dtype != predicted.dtype or get_array_module(thresholds) is not xp:
            # on the predictions' device (not the selected backend's: host data is counted on the host)
            thresholds = self._device_thresholds = on_device_of(self.thresholds.astype(predicted.dtype), predicted)
        below = xp.searchsorted(thresholds, predicted, side="left")
        size = self.num_thresholds + 1
        positives = xp.bincount(below, weights=actual.astype(numpy.float64), minlength=size)
        negatives = xp.bincount(below, weights=(~actual).astype(numpy.float64), minlength=size)
        self.true_positives = self.true_positives + xp.cumsum(positives[::-1])[::-1][1:]
        self.false_positives = self.false_positives + xp.cumsum(negatives[::-1])[::-1][1:]
        self.positives = self.positives + positives.sum()
        self.negatives = self.negatives + negatives.sum()
        self.count += int(predicted.size)

    def result(self):
        if not self.count:
            return float("nan")
        tp = numpy.asarray(to_host(self.true_positives), dtype=numpy.float64)
        fp = numpy.asarray(to_host(self.false_positives), dtype=numpy.float64)
        fn = float(self.positives) - tp
        tn = float(self.negatives) - fp
        if self.curve == "PR" and self.summation_method == "interpolation":
            return _interpolated_pr_auc(tp, fp, fn)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = numpy.minimum(y[:-1], y[1:])
        else:
            heights = numpy.maximum(y[:-1], y[1:])
        return float(((x[:-1] - x[1:]) * heights).sum())

    def __repr__(self):
        return (f"AUC(num_thresholds={self.num_thresholds}, curve={self.curve!r}, "
                f"summation_method={self.summation_method!r}, name={self.name!r})")


class MeanSquaredError(Metric):
    graph_safe = True
    name = "mean_squared_error"
    direction = "down"

    def update(self, output, target, logits):
        output = self.model_output(output, logits)
        diff = output - target.reshape(output.shape)
        self.total += (diff * diff).sum()
        self.count += int(diff.size)


class MeanAbsoluteError(Metric):
    graph_safe = True
    name = "mean_absolute_error"
    direction = "down"

    def update(self, output, target, logits):
        xp = get_array_module(output)
        output = self.model_output(output, logits)
        self.total += xp.abs(output - target.reshape(output.shape)).sum()
        self.count += int(output.size)


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _check_integer(value, name: str, minimum: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def _check_threshold(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _stable_argsort(a):
    """``argsort`` along the last axis with ties in index order (CuPy's sort is always stable and
    takes no ``kind``; NumPy's default is not stable)."""
    xp = get_array_module(a)
    return xp.argsort(a, axis=-1, kind="stable") if xp is numpy else xp.argsort(a, axis=-1)


def _logit_above(logits, threshold: float):
    """``sigmoid(logits) > threshold`` without computing the sigmoid."""
    if threshold <= 0:
        return logits > -math.inf
    if threshold >= 1:
        return logits != logits  # never (and NaN stays negative)
    return logits > math.log(threshold / (1 - threshold))


def _dense_targets(target, output):
    """Targets of the output's shape: integer labels of shape (N,) become one-hot rows."""
    if target.shape == output.shape:
        return target
    if target.ndim == output.ndim - 1 and target.dtype.kind in "iu" and output.shape[-1] > 1:
        return target[..., None] == get_array_module(output).arange(output.shape[-1])
    if target.size == output.size:
        return target.reshape(output.shape)
    raise ValueError(f"y_true must have the outputs' shape {output.shape} (or hold integer labels), got {target.shape}")


def _divide_no_nan(a, b):
    return numpy.divide(a, b, out=numpy.zeros_like(a), where=b != 0)


def _interpolated_pr_auc(tp, fp, fn) -> float:
    """Davis and Goadrich's area under the precision-recall curve: between two thresholds the
    precision is interpolated along the true positives, as Keras computes it."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = _divide_no_nan(dtp, numpy.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = numpy.where(both, _divide_no_nan(p[:-1], numpy.maximum(p[1:], 0)), 1.0)  # positive
    return float(_divide_no_nan(slope * (dtp + intercept * numpy.log(ratio)), numpy.maximum(tp[1:] + fn[1:], 0)).sum())


ACCURACIES = (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy)  # what "accuracy" may become
_ACCURACY_FOR_LOSS = {
    "labels": SparseCategoricalAccuracy,
    "categorical": CategoricalAccuracy,
    "binary": BinaryAccuracy,
}
_BY_NAME = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
}
_ACCURACY_NAMES = ("accuracy", "acc")  # any case, as Keras
_LOOKUP = Lookup("metric", Metric, _BY_NAME, case_sensitive=True)


def _keep(cls, config: dict) -> dict:
    """A metric's config without Keras's ``dtype`` (gpunet's metrics keep float64 sums)."""
    config.pop("dtype", None)
    return config


def get(identifier, loss) -> Metric:
    """A metric from a name, a config dict or a Metric object, ready for ``loss``.

    ``"accuracy"`` (or ``"acc"``, in any case) becomes the kind that fits ``loss`` (sparse for
    integer labels, categorical for one-hot targets, binary for binary cross-entropy). A metric
    named by a string is logged under that string, as in Keras 3; an object under its ``name``.
    """
    if isinstance(identifier, Metric):
        metric = identifier
    elif isinstance(identifier, dict) and "class_name" in identifier:
        metric = _LOOKUP.deserialize(identifier, _keep)
    elif not isinstance(identifier, str):
        raise TypeError(f"metrics must be names or gpunet.metrics.Metric objects, got {type(identifier).__name__}")
    elif identifier.lower() in _ACCURACY_NAMES:
        if isinstance(loss, losses.SparseCategoricalCrossentropy):
            kind = "labels"
        elif isinstance(loss, losses.BinaryCrossentropy):
            kind = "binary"
        elif isinstance(loss, losses.CategoricalCrossentropy):
            kind = "categorical"
        else:
            raise ValueError(
                f"metric {identifier!r} needs a classification loss (sparse_categorical_crossentropy, "
                f"categorical_crossentropy or binary_crossentropy), got {getattr(loss, 'name', loss)!r}"
            )
        metric = _ACCURACY_FOR_LOSS[kind](name=identifier)
    else:
        cls = _BY_NAME.get(identifier) or _LOOKUP.class_names.get(identifier)
        if cls is None:
            raise ValueError(
                f"unknown metric {identifier!r}; valid names are {sorted(_BY_NAME) + list(_ACCURACY_NAMES)} "
                f"or a class name ({', '.join(sorted(_LOOKUP.class_names))})"
            )
        metric = cls(name=identifier)
    metric.bind(loss)
    return metric


def serialize(metric: Metric) -> dict:
    return _LOOKUP.serialize(metric)

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
