"""The metrics counted at thresholds, one mechanism for all: the true and false positives and
negatives at each threshold (one sorted search and one weighted bincount per batch), from which
``Precision``, ``Recall``, the rates at a constraint and ``AUC`` are computed."""

from __future__ import annotations

import numbers

import numpy

from ..backend import get_array_module, on_device_of, to_host
from ..ops.activation import sigmoid_forward
from .base import Metric
from .common import (EPSILON, NEG_INF, broadcast, check_bool, check_integer, check_threshold, dense_targets,
                     divide_no_nan, float_array, stable_argsort)

__all__ = [
    "ConfusionCounts", "TruePositives", "TrueNegatives", "FalsePositives", "FalseNegatives", "Precision", "Recall",
    "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity", "SpecificityAtSensitivity", "AUC",
]


class ConfusionCounts(Metric):
    """Base of the metrics counted at thresholds: the (weighted) true positives, false
    positives, true negatives and false negatives at each threshold, added over batches.

    A prediction is positive at a threshold when it lies strictly above it; a target is
    positive when it is non-zero; integer labels count as one-hot rows. ``top_k`` keeps only the
    ``k`` highest outputs of each sample (the others are never positive), ``class_id`` counts one
    class's outputs only. When the thresholds are evenly spaced over [0, 1] the predictions are
    first clipped to [0, 1], as Keras's fast path does.
    """

    loadable = False  # a shared base: files name its subclasses

    direction = "up"

    def __init__(self, thresholds, top_k=None, class_id=None, name=None, dtype=None, default_threshold=0.5,
                 multi_label=False, label_weights=None):
        given = thresholds.tolist() if isinstance(thresholds, numpy.ndarray) else thresholds
        if thresholds is None:
            thresholds = [default_threshold]
        elif isinstance(given, (list, tuple)):
            if not given:
                raise ValueError("thresholds must be a number in [0, 1] or a non-empty list of them, got []")
            thresholds = [check_threshold(t, "thresholds") for t in given]
        else:
            thresholds = [check_threshold(given, "thresholds")]
        self.init_thresholds = list(given) if isinstance(given, tuple) else given
        self.thresholds = [float(t) for t in thresholds]
        self.top_k = None if top_k is None else check_integer(top_k, "top_k", 1, "a positive integer or None")
        self.class_id = None if class_id is None else check_integer(class_id, "class_id", 0,
                                                                     "a non-negative integer or None")
        self.multi_label = multi_label
        self.label_weights = label_weights
        self._label_weight_array = None if label_weights is None else numpy.asarray(label_weights, dtype=numpy.float64)
        self._clip = _evenly_spaced(self.thresholds)
        self._order = numpy.argsort(self.thresholds, kind="stable")
        self._sorted = numpy.array(self.thresholds)[self._order]
        self._device_thresholds = None
        self.scalar = len(self.thresholds) == 1
        super().__init__(dtype, name)

    def reset(self):
        super().reset()
        self.true_positives = self.false_positives = self.true_negatives = self.false_negatives = 0

    def update(self, output, target, logits, sample_weight=None):
        output = self.model_output(output, logits)
        predictions, actual, weights = self._prepare(output, target, sample_weight)
        tp, fp, positives, negatives = self._count(predictions, actual, weights)
        self.true_positives = self.true_positives + tp
        self.false_positives = self.false_positives + fp
        self.false_negatives = self.false_negatives + (positives - tp)
        self.true_negatives = self.true_negatives + (negatives - fp)
        self.count += 1

    def _prepare(self, output, target, sample_weight):
        """Predictions, positive targets and weights as (samples, columns) arrays: one column,
        or one per label with ``multi_label``."""
        xp = get_array_module(output)
        output = float_array(output)
        target = dense_targets(target, output)
        weight = None
        if sample_weight is not None:
            weight = sample_weight[..., None]
            if weight.ndim == target.ndim + 1 and weight.shape[-1] == 1:
                weight = weight[..., 0]
        if self.top_k is not None:
            # each output's place in its row, highest first (ties: the lower index first, as Keras)
            kept = stable_argsort(stable_argsort(-output)) < self.top_k
            output = xp.where(kept, output, NEG_INF)
        if self.class_id is not None:
            if output.ndim < 2 or self.class_id >= output.shape[-1]:
                raise ValueError(f"class_id={self.class_id} needs outputs of shape (batch, classes > {self.class_id}), "
                                 f"got {output.shape}")
            output, target = output[..., self.class_id, None], target[..., self.class_id, None]
        if weight is not None:
            weight = broadcast(weight, output.shape, "sample_weight")
        if self.label_weights is not None and not self.multi_label:
            label_weights = broadcast(on_device_of(self._label_weight_array, output), output.shape, "label_weights")
            weight = label_weights if weight is None else weight * label_weights
        if self.multi_label:
            if output.ndim != 2:
                raise ValueError(f"multi_label=True needs outputs of shape (batch, labels), got {output.shape}")
            columns = output.shape[1]
        else:
            columns = 1
        shape = (-1, columns)
        return (output.reshape(shape), (target != 0).reshape(shape),
                None if weight is None else weight.reshape(shape))

    def _count(self, predictions, actual, weights):
        """Counts at each threshold, in the order the thresholds were given."""
        xp = get_array_module(predictions)
        if self._clip:
            predictions = xp.clip(predictions, 0.0, 1.0)
        thresholds = self._device_thresholds
        if thresholds is None or thresholds.dtype != predictions.dtype or get_array_module(thresholds) is not xp:
            # on the predictions' device (not the selected backend's: host data is counted on the host)
            thresholds = self._device_thresholds = on_device_of(self._sorted.astype(predictions.dtype), predictions)
        tp, fp, positives, negatives = _threshold_counts(predictions, actual, weights, thresholds)
        if not self.multi_label:
            tp, fp, positives, negatives = tp[:, 0], fp[:, 0], positives[0], negatives[0]
        if not numpy.array_equal(self._order, numpy.arange(len(self._order))):
            back = on_device_of(numpy.argsort(self._order), tp)
            tp, fp = tp[back], fp[back]
        return tp, fp, positives, negatives

    def _values(self, name: str) -> numpy.ndarray:
        value = getattr(self, name)
        if isinstance(value, numbers.Number):
            return numpy.zeros(len(self.thresholds))
        return numpy.asarray(to_host(value), dtype=numpy.float64)

    def _per_threshold(self, values: numpy.ndarray):
        return float(values[0]) if self.scalar else values

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class _CountAtThresholds(ConfusionCounts):
    """One of the four counts at ``thresholds`` (a number or a list; default 0.5)."""

    kept = "true_positives"

    def __init__(self, thresholds=None, name: str | None = None, dtype=None):
        super().__init__(thresholds, name=name, dtype=dtype)

    def result(self):
        return self._per_threshold(self._values(self.kept))


class TruePositives(_CountAtThresholds):
    """The (weighted) number of positive targets predicted positive.

    >>> m = gpunet.metrics.TruePositives(thresholds=[0.3, 0.7])
    """

    name = "true_positives"


class TrueNegatives(_CountAtThresholds):
    """The (weighted) number of negative targets predicted negative."""

    name = "true_negatives"
    kept = "true_negatives"


class FalsePositives(_CountAtThresholds):
    """The (weighted) number of negative targets predicted positive."""

    name = "false_positives"
    direction = "down"
    kept = "false_positives"


class FalseNegatives(_CountAtThresholds):
    """The (weighted) number of positive targets predicted negative."""

    name = "false_negatives"
    direction = "down"
    kept = "false_negatives"


class Precision(ConfusionCounts):
    """``tp / (tp + fp)``: the fraction of predicted positives that are positive (0 when nothing
    was predicted positive).

    Args:
        thresholds: a prediction above it is positive (a number in [0, 1] or a list of them, for
            one value per threshold; default 0.5, or, with ``top_k``, none: the top k outputs are
            the positives).
        top_k: only the ``top_k`` highest outputs of each sample may be positive.
        class_id: count only this class's outputs (``outputs[:, class_id]``).
        name, dtype: as :class:`Metric`.

    Predictions are the model's outputs: probabilities for a softmax/sigmoid model (also when the
    loss was fused), logits for a loss with ``from_logits=True`` (then use ``thresholds=0``).

    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[gpunet.metrics.Precision()])
    """

    name = "precision"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name: str | None = None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype, default_threshold=0.5 if top_k is None else NEG_INF)

    def result(self):
        tp = self._values("true_positives")
        return self._per_threshold(divide_no_nan(tp, tp + self._values("false_positives")))

    def get_config(self):
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}


class Recall(Precision):
    """``tp / (tp + fn)``: the fraction of positives predicted positive (0 without positives).
    Arguments as :class:`Precision`."""

    name = "recall"

    def result(self):
        tp = self._values("true_positives")
        return self._per_threshold(divide_no_nan(tp, tp + self._values("false_negatives")))


class _AtConstraint(ConfusionCounts):
    """Base of the metrics that pick the best threshold under a constraint: counts at
    ``num_thresholds`` thresholds evenly spaced over [0, 1] (0.5 alone for 1)."""

    constraint = ""  # the argument that holds the constraint's value

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
            raise ValueError(f"{self.constraint} must be a number in [0, 1], got {value!r}")
        self.value = float(value)
        self.num_thresholds = check_integer(num_thresholds, "num_thresholds", 1, "a positive integer")
        if self.num_thresholds == 1:
            thresholds = [0.5]
        else:
            thresholds = [0.0] + [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)] + [1.0]
        super().__init__(thresholds, None, class_id, name, dtype)
        self.scalar = True

    def _rates(self):
        tp, fp = self._values("true_positives"), self._values("false_positives")
        tn, fn = self._values("true_negatives"), self._values("false_negatives")
        return {"recall": divide_no_nan(tp, tp + fn), "precision": divide_no_nan(tp, tp + fp),
                "specificity": divide_no_nan(tn, tn + fp)}

    def _best(self, constrained: str, dependent: str) -> float:
        """The largest ``dependent`` among the thresholds where ``constrained >= value`` (0 if none)."""
        rates = self._rates()
        feasible = rates[constrained] >= self.value
        return float(numpy.max(numpy.where(feasible, rates[dependent], 0.0), initial=0.0))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_id": self.class_id,
                "num_thresholds": self.num_thresholds, self.constraint: self.value}


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity (recall) among the thresholds whose specificity is at least
    ``specificity``.

    Args:
        specificity: the specificity to reach, in [0, 1].
        num_thresholds: how many thresholds, evenly spaced over [0, 1] (default 200).
        class_id: count only this class's outputs; name, dtype: as :class:`Metric`.
    """

    name = "sensitivity_at_specificity"
    constraint = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name: str | None = None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._best("specificity", "recall")


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity among the thresholds whose sensitivity (recall) is at least
    ``sensitivity``; arguments as :class:`SensitivityAtSpecificity`."""

    name = "specificity_at_sensitivity"
    constraint = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name: str | None = None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._best("recall", "specificity")


class PrecisionAtRecall(_AtConstraint):
    """The best precision among the thresholds whose recall is at least ``recall``; arguments
    as :class:`SensitivityAtSpecificity`."""

    name = "precision_at_recall"
    constraint = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name: str | None = None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._best("recall", "precision")


class RecallAtPrecision(_AtConstraint):
    """The best recall among the thresholds whose precision is at least ``precision``;
    arguments as :class:`SensitivityAtSpecificity`."""

    name = "recall_at_precision"
    constraint = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name: str | None = None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._best("precision", "recall")


class AUC(ConfusionCounts):
    """Area under the ROC, precision-recall or precision-recall-gain curve, from counts at fixed
    thresholds (Keras's estimate, same thresholds and sums).

    Args:
        num_thresholds: how many thresholds, evenly spaced over [0, 1] (an integer > 1; default
            200): ``-1e-7, 1/(n-1), ..., (n-2)/(n-1), 1 + 1e-7``.
        curve: ``"ROC"`` (true-positive rate against false-positive rate), ``"PR"`` (precision
            against recall) or ``"PRGAIN"`` (precision gain against recall gain).
        summation_method: ``"interpolation"`` (trapezoids; for PR, Davis and Goadrich's
            interpolation), ``"minoring"`` or ``"majoring"`` (lower or upper Riemann sums).
        thresholds: explicit thresholds in [0, 1] in place of ``num_thresholds``.
        multi_label: one curve per label (column), their areas averaged (weighted by
            ``label_weights``); else one curve over every output.
        num_labels: the number of labels with ``multi_label`` (else taken from the first batch).
        label_weights: one weight per label: the weights of the average with ``multi_label``,
            else weights of each label's outputs in the counts.
        from_logits: the predictions are logits: a sigmoid is applied first.
        name, dtype: as :class:`Metric`.

    Integer labels count as one-hot rows.

    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[gpunet.metrics.AUC(curve="PR")])
    """

    name = "auc"
    _SUMS = ("interpolation", "minoring", "majoring")
    _CURVES = ("ROC", "PR", "PRGAIN")

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None, dtype=None, thresholds=None, multi_label: bool = False, num_labels=None,
                 label_weights=None, from_logits: bool = False):
        if not isinstance(curve, str) or curve.upper() not in self._CURVES or curve not in (curve.upper(), curve.lower()):
            raise ValueError(f"curve must be 'ROC', 'PR' or 'PRGAIN', got {curve!r}")
        accepted = (*self._SUMS, *map(str.capitalize, self._SUMS))  # Keras's spellings
        if not isinstance(summation_method, str) or summation_method not in accepted:
            raise ValueError(f"summation_method must be one of {list(self._SUMS)}, got {summation_method!r}")
        self.from_logits = check_bool(from_logits, "from_logits")
        multi_label = check_bool(multi_label, "multi_label")
        if num_labels is not None:
            if not multi_label:
                raise ValueError("num_labels is needed only when multi_label is True")
            num_labels = check_integer(num_labels, "num_labels", 1, "a positive integer or None")
        if label_weights is not None:
            weights = numpy.asarray(label_weights, dtype=numpy.float64)
            if weights.ndim != 1 or not numpy.isfinite(weights).all():
                raise ValueError(f"label_weights must be one finite number per label, got {label_weights!r}")
            label_weights = [float(w) for w in weights]
        if thresholds is not None:
            if not isinstance(thresholds, (list, tuple)) or not thresholds:
                raise ValueError(f"thresholds must be a non-empty list of numbers in [0, 1], got {thresholds!r}")
            inner = sorted(check_threshold(t, "thresholds") for t in thresholds)
            num_thresholds = len(inner) + 2
            evenly = _evenly_spaced([0.0, *inner, 1.0])
        else:
            num_thresholds = check_integer(num_thresholds, "num_thresholds", 2, "an integer > 1")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        self.num_thresholds = num_thresholds
        self.given_thresholds = None if thresholds is None else inner
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        self.num_labels = num_labels
        super().__init__([0.0] + inner + [1.0], name=name, dtype=dtype, multi_label=multi_label,
                         label_weights=label_weights)
        self.thresholds = [-EPSILON, *inner, 1.0 + EPSILON]  # Keras's outermost thresholds
        self._sorted = numpy.array(self.thresholds)
        self._clip = evenly
        self.scalar = True

    def update(self, output, target, logits, sample_weight=None):
        output = self.model_output(output, logits)
        if self.from_logits:
            output = sigmoid_forward(float_array(output))
        if self.multi_label and self.num_labels is not None and output.ndim == 2 and output.shape[1] != self.num_labels:
            raise ValueError(f"AUC(num_labels={self.num_labels}) got outputs with {output.shape[1]} labels")
        super().update(output, target, False, sample_weight)

    def result(self):
        tp, fp = self._values("true_positives"), self._values("false_positives")
        tn, fn = self._values("true_negatives"), self._values("false_negatives")
        if tp.ndim == 1 and self.multi_label:
            tp, fp, tn, fn = (v[:, None] for v in (tp, fp, tn, fn))
        if self.curve == "PR" and self.summation_method == "interpolation":
            areas = _interpolated_pr_auc(tp, fp, fn)
        else:
            areas = self._riemann(tp, fp, tn, fn)
        if not self.multi_label:
            return float(areas.sum())
        by_label = areas.sum(axis=0)
        if self._label_weight_array is None:
            return float(by_label.mean())
        return float(divide_no_nan((by_label * self._label_weight_array).sum(), self._label_weight_array.sum()))

    def _riemann(self, tp, fp, tn, fn):
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # precision-recall gain (Flach and Kull, 2015)
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = numpy.where(tp == 0, 0.0, 1.0 - scale * divide_no_nan(fn, tp))
            precision_gain = numpy.where(tp == 0, 1.0, 1.0 - scale * divide_no_nan(fp, tp))
            x, y = numpy.maximum(recall_gain, 0.0), precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = numpy.minimum(y[:-1], y[1:])
        else:
            heights = numpy.maximum(y[:-1], y[1:])
        return (x[:-1] - x[1:]) * heights

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "label_weights": self.label_weights, "from_logits": self.from_logits}
        if self.given_thresholds is not None:
            config["thresholds"] = list(self.given_thresholds)
        return config


def _evenly_spaced(thresholds) -> bool:
    """Keras's test for its fast path: at least 3 thresholds, ``i / (n - 1)`` within 1e-7."""
    n = len(thresholds)
    return n >= 3 and bool(numpy.allclose(thresholds, numpy.arange(n, dtype=numpy.float32) / (n - 1), atol=EPSILON))


def _threshold_counts(predictions, actual, weights, thresholds):
    """Weighted counts of positive and negative targets whose prediction lies above each
    threshold, for every column of ``predictions`` (samples, columns); ``thresholds`` ascending.

    Returns ``(tp, fp, positives, negatives)``: ``tp`` and ``fp`` of shape (thresholds, columns),
    the totals of shape (columns,)."""
    xp = get_array_module(predictions)
    predictions = xp.where(xp.isnan(predictions), -xp.inf, predictions)  # NaN is never above a threshold
    size = thresholds.size + 1
    columns = predictions.shape[1]
    # how many thresholds lie strictly below each prediction: it is positive at exactly those
    below = xp.searchsorted(thresholds, predictions.reshape(-1), side="left").reshape(predictions.shape)
    below = (below + xp.arange(columns) * size).reshape(-1)
    ones = actual.astype(numpy.float64) if weights is None else xp.where(actual, weights, 0).astype(numpy.float64)
    zeros = (~actual).astype(numpy.float64) if weights is None else xp.where(actual, 0, weights).astype(numpy.float64)
    positives = xp.bincount(below, weights=ones.reshape(-1), minlength=size * columns).reshape(columns, size).T
    negatives = xp.bincount(below, weights=zeros.reshape(-1), minlength=size * columns).reshape(columns, size).T
    above = lambda counts: xp.cumsum(counts[::-1], axis=0)[::-1][1:]  # noqa: E731 - counts past each threshold
    return above(positives), above(negatives), positives.sum(axis=0), negatives.sum(axis=0)


def _interpolated_pr_auc(tp, fp, fn):
    """Davis and Goadrich's area under the precision-recall curve: between two thresholds the
    precision is interpolated along the true positives, as Keras computes it (per column)."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = divide_no_nan(dtp, numpy.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = numpy.where(both, divide_no_nan(p[:-1], numpy.maximum(p[1:], 0)), 1.0)  # positive
    return divide_no_nan(slope * (dtp + intercept * numpy.log(ratio)), numpy.maximum(tp[1:] + fn[1:], 0))
