"""F-scores, the R2 score and intersection over union: metrics with per-class accumulators."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy

from .. import losses
from ..backend import get_array_module, to_host
from .base import Metric
from .common import EPSILON, broadcast, check_bool, check_integer, class_ids, dense_targets, float_array, same_rank

__all__ = ["FBetaScore", "F1Score", "R2Score", "IoU", "MeanIoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU"]


class FBetaScore(Metric):
    """The F-beta score ``(1 + b**2) p r / (b**2 p + r)`` of precision and recall, per class,
    for outputs and one-hot (multi-label) targets of shape (batch, classes).

    Args:
        average: None (one score per class: ``result()`` is an array), ``"micro"`` (counts
            summed over the classes), ``"macro"`` (the mean of the class scores) or
            ``"weighted"`` (their mean weighted by each class's number of positives).
        beta: the weight of recall (a positive number; default 1).
        threshold: an output above it is positive (in (0, 1]); None: the highest output of each
            sample is positive.
        name, dtype: as :class:`Metric`.

    >>> model.compile(optimizer="adam", loss="categorical_crossentropy",
    ...               metrics=[gpunet.metrics.FBetaScore(beta=2.0, average="macro")])
    """

    name = "fbeta_score"

    def __init__(self, average=None, beta: float = 1.0, threshold=None, name: str | None = None, dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"average must be None, 'micro', 'macro' or 'weighted', got {average!r}")
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 < beta < math.inf:
            raise ValueError(f"beta must be a positive number, got {beta!r}")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)
                                      or not 0 < threshold <= 1):
            raise ValueError(f"threshold must be a number in (0, 1] or None, got {threshold!r}")
        self.average = average
        self.beta = float(beta)
        self.threshold = None if threshold is None else float(threshold)
        self.scalar = average is not None
        super().__init__(dtype, name)

    def reset(self):
        super().reset()
        self.true_positives = self.false_positives = self.false_negatives = self.intermediate_weights = 0

    def update(self, output, target, logits, sample_weight=None):
        xp = get_array_module(output)
        output = float_array(self.model_output(output, logits))
        target = dense_targets(target, output).astype(numpy.float64)
        if output.ndim != 2 or target.ndim != 2:
            raise ValueError(f"{type(self).__name__} needs outputs and targets of shape (batch, classes), got "
                             f"{output.shape} and {target.shape}")
        if self.threshold is None:
            predicted = (output >= output.max(axis=-1, keepdims=True)) & (xp.abs(output) > 1e-9)
        else:
            predicted = output > self.threshold
        predicted = predicted.astype(numpy.float64)
        axis = None if self.average == "micro" else 0
        weight = None if sample_weight is None else sample_weight.reshape(-1, 1).astype(numpy.float64)

        def weighted_sum(values):
            return (values if weight is None else values * weight).sum(axis=axis)

        self.true_positives = self.true_positives + weighted_sum(predicted * target)
        self.false_positives = self.false_positives + weighted_sum(predicted * (1 - target))
        self.false_negatives = self.false_negatives + weighted_sum((1 - predicted) * target)
        self.intermediate_weights = self.intermediate_weights + weighted_sum(target)
        self.count += 1

    def result(self):
        tp, fp, fn, weights = (numpy.asarray(to_host(v), dtype=numpy.float64) for v in
                               (self.true_positives, self.false_positives, self.false_negatives,
                                self.intermediate_weights))
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        beta2 = self.beta ** 2
        score = precision * recall / (beta2 * precision + recall + EPSILON) * (1 + beta2)
        if self.average == "weighted":
            return float((score * weights / (weights.sum() + EPSILON)).sum())
        if self.average is not None:
            return float(numpy.mean(score))
        return score

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F1 score, the harmonic mean of precision and recall: :class:`FBetaScore` with
    ``beta=1``."""

    name = "f1_score"

    def __init__(self, average=None, threshold=None, name: str | None = None, dtype=None):
        super().__init__(average, 1.0, threshold, name, dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


class R2Score(Metric):
    """The coefficient of determination ``1 - sum((y - y_pred) ** 2) / sum((y - mean(y)) ** 2)``
    of each output column, over every batch seen, for outputs of shape (batch, outputs).

    Args:
        class_aggregation: ``"uniform_average"`` (the mean over the outputs),
            ``"variance_weighted_average"`` (weighted by each output's variance) or None (one
            score per output: ``result()`` is an array).
        num_regressors: the number of independent variables, for the adjusted R2
            ``1 - (1 - R2) (n - 1) / (n - p - 1)`` (0: the plain R2).
        name, dtype: as :class:`Metric`.
    """

    name = "r2_score"

    def __init__(self, class_aggregation="uniform_average", num_regressors: int = 0, name: str | None = None,
                 dtype=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("class_aggregation must be None, 'uniform_average' or 'variance_weighted_average', "
                             f"got {class_aggregation!r}")
        self.class_aggregation = class_aggregation
        self.num_regressors = check_integer(num_regressors, "num_regressors", 0, "a non-negative integer")
        self.scalar = class_aggregation is not None
        super().__init__(dtype, name)

    def reset(self):
        super().reset()
        self.squared_sum = self.sum = self.total_mse = self.weight_sum = self.num_samples = 0

    def update(self, output, target, logits, sample_weight=None):
        xp = get_array_module(output)
        output = float_array(self.model_output(output, logits)).astype(numpy.float64)
        target, output = same_rank(float_array(target).astype(numpy.float64), output)
        if output.ndim != 2 or target.ndim != 2:
            raise ValueError(f"R2Score needs outputs and targets of shape (batch, outputs), got {output.shape} and "
                             f"{target.shape}")
        weight = 1.0 if sample_weight is None else sample_weight.astype(numpy.float64)
        if getattr(weight, "ndim", 0) == 1:
            weight = weight[:, None]
        weight = broadcast(xp.asarray(weight), target.shape, "sample_weight")
        weighted = target * weight
        self.sum = self.sum + weighted.sum(axis=0)
        self.squared_sum = self.squared_sum + (target * weighted).sum(axis=0)
        self.total_mse = self.total_mse + ((target - output) ** 2 * weight).sum(axis=0)
        self.weight_sum = self.weight_sum + weight.sum(axis=0)
        self.num_samples += int(target.size)
        self.count += 1

    def result(self):
        total, squared, residual, weight = (numpy.asarray(to_host(v), dtype=numpy.float64) for v in
                                            (self.sum, self.squared_sum, self.total_mse, self.weight_sum))
        with numpy.errstate(divide="ignore", invalid="ignore"):
            mean = total / weight
            spread = squared - total * mean
            raw = 1 - residual / spread
        raw = numpy.where(numpy.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = numpy.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            with numpy.errstate(divide="ignore", invalid="ignore"):
                score = (spread * raw).sum() / spread.sum()
        else:
            score = raw
        if self.num_regressors:
            n, p = float(self.num_samples), float(self.num_regressors)
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. "
                              "Falling back to standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in adjusted R2 score. Falling back to standard R2 score.", stacklevel=2)
            else:
                score = 1 - (1 - score) * (n - 1) / (n - p - 1)
        return float(score) if self.scalar else score

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


class IoU(Metric):
    """Intersection over union ``tp / (tp + fp + fn)`` of each class in ``target_class_ids``,
    averaged over those classes that occur, from a confusion matrix added over batches.

    Args:
        num_classes: the number of classes (the confusion matrix is ``num_classes`` square).
        target_class_ids: the classes whose IoU is averaged.
        ignore_class: a label whose entries are left out (e.g. a "void" class), or None.
        sparse_y_true, sparse_y_pred: the targets (predictions) are class labels; False: scores
            per class along ``axis``, whose arg-max is the class.
        axis: the class axis of non-sparse inputs (default -1).
        name: as :class:`Metric`. dtype: None (Keras's ``"int"``): labels and sample weights are
            truncated to integers, as in Keras; a float dtype keeps fractional weights.

    Labels outside ``[0, num_classes)`` are left out.

    >>> m = gpunet.metrics.IoU(num_classes=3, target_class_ids=[0, 2])
    """

    name = "io_u"
    _integer_dtype = True

    def __init__(self, num_classes: int, target_class_ids, name: str | None = None, dtype=None, ignore_class=None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis=-1):
        self.num_classes = check_integer(num_classes, "num_classes", 1, "a positive integer")
        if not isinstance(target_class_ids, (list, tuple)) or not target_class_ids:
            raise ValueError(f"target_class_ids must be a non-empty list of class ids, got {target_class_ids!r}")
        ids = [check_integer(i, "target_class_ids", 0, "a list of non-negative integers") for i in target_class_ids]
        if max(ids) >= self.num_classes:
            raise ValueError(f"target class id {max(ids)} is out of range, which is [0, {self.num_classes})")
        self.target_class_ids = ids
        if ignore_class is not None and (isinstance(ignore_class, bool) or not isinstance(ignore_class, numbers.Integral)):
            raise TypeError(f"ignore_class must be an integer class label or None, got {ignore_class!r}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.sparse_y_true = check_bool(sparse_y_true, "sparse_y_true")
        self.sparse_y_pred = check_bool(sparse_y_pred, "sparse_y_pred")
        self.axis = losses._check_axis(axis, "axis")
        super().__init__(dtype, name)

    def reset(self):
        super().reset()
        self.total_cm = 0

    def update(self, output, target, logits, sample_weight=None):
        output = self.model_output(output, logits)
        xp = get_array_module(output)
        if not self.sparse_y_true:
            target = target.argmax(axis=self.axis)
        if not self.sparse_y_pred:
            output = output.argmax(axis=self.axis)
        self._add(class_ids(target).reshape(-1), class_ids(output).reshape(-1), sample_weight, xp)

    def _add(self, labels, predictions, sample_weight, xp):
        k = self.num_classes
        if labels.shape != predictions.shape:
            raise ValueError(f"y_true and y_pred must hold as many labels, got {labels.size} and {predictions.size}")
        integer = self.dtype is None or numpy.dtype(self.dtype).kind in "iu"
        if sample_weight is None:
            weight = xp.ones(labels.shape, dtype=numpy.float64)
        else:
            if integer and sample_weight.dtype.kind == "f":
                warnings.warn("You are passing weight as `float`, but dtype is `int`. This may result in an incorrect "
                              "weight due to type casting Consider using integer weights.", stacklevel=3)
            weight = broadcast(sample_weight.reshape(-1) if sample_weight.ndim > 1 else sample_weight, labels.shape,
                                "sample_weight")
            weight = xp.trunc(weight) if integer else weight
            weight = weight.astype(numpy.float64)
        valid = (labels >= 0) & (labels < k) & (predictions >= 0) & (predictions < k)
        if self.ignore_class is not None:
            valid &= labels != self.ignore_class
        cells = xp.where(valid, labels * k + predictions, 0)
        matrix = xp.bincount(cells.reshape(-1), weights=xp.where(valid, weight, 0).reshape(-1), minlength=k * k)
        self.total_cm = self.total_cm + matrix.reshape(k, k)
        self.count += 1

    def result(self):
        matrix = numpy.asarray(to_host(self.total_cm), dtype=numpy.float64)
        if matrix.ndim != 2:
            matrix = numpy.zeros((self.num_classes, self.num_classes))
        true_positives = numpy.diag(matrix)
        denominator = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positives
        ids = self.target_class_ids
        true_positives, denominator = true_positives[ids], denominator[ids]
        valid = denominator > 1e-9
        iou = numpy.where(valid, true_positives / (denominator + EPSILON), 0.0)
        return float(iou.sum() / (valid.sum() + EPSILON))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class BinaryIoU(IoU):
    """:class:`IoU` of two classes: an output is class 1 when it is ``>= threshold`` (default
    0.5), a target when it is 1 (targets are truncated to integers).

    Args:
        target_class_ids: the classes averaged (default both, ``(0, 1)``).
        threshold: the boundary between class 0 and class 1 predictions.
        name, dtype: as :class:`IoU`.
    """

    name = "binary_io_u"

    def __init__(self, target_class_ids=(0, 1), threshold: float = 0.5, name: str | None = None, dtype=None):
        super().__init__(2, list(target_class_ids) if isinstance(target_class_ids, tuple) else target_class_ids,
                         name=name, dtype=dtype)
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(threshold):
            raise ValueError(f"threshold must be a number, got {threshold!r}")
        self.threshold = float(threshold)

    def update(self, output, target, logits, sample_weight=None):
        output = float_array(self.model_output(output, logits)).astype(numpy.float32)
        predicted = (output >= numpy.float32(self.threshold)).astype(numpy.int64)
        self._add(class_ids(target).reshape(-1), predicted.reshape(-1), sample_weight, get_array_module(output))

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class MeanIoU(IoU):
    """The mean :class:`IoU` over every class (``target_class_ids = range(num_classes)``)."""

    name = "mean_io_u"

    def __init__(self, num_classes: int, name: str | None = None, dtype=None, ignore_class=None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis=-1):
        classes = check_integer(num_classes, "num_classes", 1, "a positive integer")
        super().__init__(classes, list(range(classes)), name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """:class:`IoU` for one-hot targets (``sparse_y_true=False``); predictions are scores per
    class unless ``sparse_y_pred=True``."""

    name = "one_hot_io_u"

    def __init__(self, num_classes: int, target_class_ids, name: str | None = None, dtype=None, ignore_class=None,
                 sparse_y_pred: bool = False, axis=-1):
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """:class:`MeanIoU` for one-hot targets (``sparse_y_true=False``)."""

    name = "one_hot_mean_io_u"

    def __init__(self, num_classes: int, name: str | None = None, dtype=None, ignore_class=None,
                 sparse_y_pred: bool = False, axis=-1):
        super().__init__(num_classes, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config
