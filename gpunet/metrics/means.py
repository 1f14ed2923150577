"""The metrics that are the mean of a per-sample value: the accuracies, the regression errors,
the means of a loss, the correlations (each a :class:`~gpunet.metrics.MeanMetricWrapper` of a
fixed function)."""

from __future__ import annotations

import math

import numpy

from .. import losses
from .base import Mean, MeanMetricWrapper, Metric
from .common import check_bool, check_integer, check_threshold, logit_above, same_rank
from .functions import (accuracy, binary_accuracy, binary_crossentropy, categorical_accuracy, categorical_crossentropy,
                        categorical_hinge, concordance_correlation, cosine_similarity, hinge, kl_divergence, log_cosh,
                        mean_absolute_percentage_error, mean_squared_logarithmic_error, pearson_correlation,
                        per_sample_absolute_error, per_sample_squared_error, poisson, sparse_categorical_accuracy,
                        sparse_categorical_crossentropy, sparse_top_k_categorical_accuracy, squared_error,
                        squared_hinge, top_k_categorical_accuracy)

__all__ = [
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "LogCoshError", "Hinge", "SquaredHinge",
    "CategoricalHinge", "KLDivergence", "Poisson", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "CosineSimilarity", "PearsonCorrelation", "ConcordanceCorrelation",
]


class _Wrapped(MeanMetricWrapper):
    """A built-in mean metric: Keras's arguments ``(name, dtype)``, its function fixed."""

    graph_safe = True
    direction = "up"

    def __init__(self, name: str | None = None, dtype=None, **kwargs):
        super().__init__(None, name, dtype, **kwargs)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **self.fn_kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Accuracy(_Wrapped):
    """How often ``y_pred`` equals ``y_true`` (element by element)."""

    name = "accuracy"
    fn = staticmethod(accuracy)


class BinaryAccuracy(_Wrapped):
    """How often ``y_pred > threshold`` matches a target of 0 or 1 (default threshold 0.5).
    With logits the output's probability is compared, for any loss: a logit against
    ``log(threshold / (1 - threshold))`` (0 for 0.5)."""

    name = "binary_accuracy"
    fn = staticmethod(binary_accuracy)

    def __init__(self, name: str | None = None, dtype=None, threshold: float = 0.5):
        self.threshold = check_threshold(threshold, "threshold")
        super().__init__(name, dtype, threshold=self.threshold)

    def values(self, output, target, logits):
        if logits and self.logit_activation in (None, "none", "sigmoid"):
            target, predicted = same_rank(target, logit_above(output, self.threshold))
            return (target == predicted.astype(target.dtype)).astype(numpy.float32)
        return super().values(output, target, logits)


class CategoricalAccuracy(_Wrapped):
    """How often the arg-max output is the arg-max of the one-hot target."""

    name = "categorical_accuracy"
    fn = staticmethod(categorical_accuracy)


class SparseCategoricalAccuracy(_Wrapped):
    """How often the arg-max output is the integer label."""

    name = "sparse_categorical_accuracy"
    fn = staticmethod(sparse_categorical_accuracy)


class TopKCategoricalAccuracy(_Wrapped):
    """How often the true class is among the ``k`` highest outputs (a tie with the true class's
    output counts as a hit, as in Keras). Targets are one-hot rows or, as for
    :class:`SparseTopKCategoricalAccuracy`, integer labels.

    Args:
        k: how many of the highest outputs count (a positive integer; default 5).
        name, dtype: as :class:`Metric`.

    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
    ...               metrics=[gpunet.metrics.SparseTopKCategoricalAccuracy(k=3)])
    """

    name = "top_k_categorical_accuracy"
    fn = staticmethod(top_k_categorical_accuracy)

    def __init__(self, k: int = 5, name: str | None = None, dtype=None):
        self.k = check_integer(k, "k", 1, "a positive integer")
        super().__init__(name, dtype, k=self.k)


class SparseTopKCategoricalAccuracy(_Wrapped):
    """How often the integer label is among the ``k`` highest outputs; with
    ``from_sorted_ids=True`` the predictions are class ids, best first, and the label must be
    among the first ``k``."""

    name = "sparse_top_k_categorical_accuracy"
    fn = staticmethod(sparse_top_k_categorical_accuracy)

    def __init__(self, k: int = 5, name: str | None = None, dtype=None, from_sorted_ids: bool = False):
        self.k = check_integer(k, "k", 1, "a positive integer")
        self.from_sorted_ids = check_bool(from_sorted_ids, "from_sorted_ids")
        super().__init__(name, dtype, k=self.k, from_sorted_ids=self.from_sorted_ids)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


class MeanSquaredError(_Wrapped):
    """The mean of ``(y_pred - y_true) ** 2``."""

    name = "mean_squared_error"
    direction = "down"
    fn = staticmethod(per_sample_squared_error)


class RootMeanSquaredError(Mean):
    """The square root of the mean of ``(y_pred - y_true) ** 2``."""

    name = "root_mean_squared_error"
    direction = "down"
    graph_safe = True

    def update(self, output, target, logits, sample_weight=None):
        self.accumulate(squared_error(target, self.model_output(output, logits)), sample_weight)

    update_state = Metric.update_state

    def result(self):
        return math.sqrt(Metric.result(self))


class MeanAbsoluteError(_Wrapped):
    """The mean of ``|y_pred - y_true|``."""

    name = "mean_absolute_error"
    direction = "down"
    fn = staticmethod(per_sample_absolute_error)


class _LossMetric(_Wrapped):
    """The mean of one of :mod:`gpunet.losses`' functions."""

    graph_safe = False
    direction = "down"


class MeanAbsolutePercentageError(_LossMetric):
    """The mean of :func:`gpunet.losses.mean_absolute_percentage_error`."""

    name = "mean_absolute_percentage_error"
    fn = staticmethod(mean_absolute_percentage_error)


class MeanSquaredLogarithmicError(_LossMetric):
    """The mean of :func:`gpunet.losses.mean_squared_logarithmic_error`."""

    name = "mean_squared_logarithmic_error"
    fn = staticmethod(mean_squared_logarithmic_error)


class LogCoshError(_LossMetric):
    """The mean of :func:`gpunet.losses.log_cosh`."""

    name = "logcosh"
    fn = staticmethod(log_cosh)


class Hinge(_LossMetric):
    """The mean of :func:`gpunet.losses.hinge`."""

    name = "hinge"
    fn = staticmethod(hinge)


class SquaredHinge(_LossMetric):
    """The mean of :func:`gpunet.losses.squared_hinge`."""

    name = "squared_hinge"
    fn = staticmethod(squared_hinge)


class CategoricalHinge(_LossMetric):
    """The mean of :func:`gpunet.losses.categorical_hinge`."""

    name = "categorical_hinge"
    fn = staticmethod(categorical_hinge)


class KLDivergence(_LossMetric):
    """The mean of :func:`gpunet.losses.kl_divergence`."""

    name = "kl_divergence"
    fn = staticmethod(kl_divergence)


class Poisson(_LossMetric):
    """The mean of :func:`gpunet.losses.poisson`."""

    name = "poisson"
    fn = staticmethod(poisson)


class BinaryCrossentropy(_LossMetric):
    """The mean of :func:`gpunet.losses.binary_crossentropy` (``from_logits``, ``label_smoothing``)."""

    name = "binary_crossentropy"
    fn = staticmethod(binary_crossentropy)

    def __init__(self, name: str | None = None, dtype=None, from_logits: bool = False, label_smoothing: float = 0.0):
        self.from_logits = check_bool(from_logits, "from_logits")
        self.label_smoothing = losses._check_label_smoothing(label_smoothing)
        super().__init__(name, dtype, from_logits=self.from_logits, label_smoothing=self.label_smoothing)


class CategoricalCrossentropy(_LossMetric):
    """The mean of :func:`gpunet.losses.categorical_crossentropy` (``from_logits``,
    ``label_smoothing``; ``axis`` must be -1)."""

    name = "categorical_crossentropy"
    fn = staticmethod(categorical_crossentropy)

    def __init__(self, name: str | None = None, dtype=None, from_logits: bool = False, label_smoothing: float = 0.0,
                 axis=-1):
        self.from_logits = check_bool(from_logits, "from_logits")
        self.label_smoothing = losses._check_label_smoothing(label_smoothing)
        self.axis = losses._check_last_axis(axis)
        super().__init__(name, dtype, from_logits=self.from_logits, label_smoothing=self.label_smoothing, axis=self.axis)


class SparseCategoricalCrossentropy(_LossMetric):
    """The mean of :func:`gpunet.losses.sparse_categorical_crossentropy` (``from_logits``,
    ``ignore_class``: ignored samples count as 0, as Keras's metric counts them; ``axis`` must be -1)."""

    name = "sparse_categorical_crossentropy"
    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, name: str | None = None, dtype=None, from_logits: bool = False, ignore_class=None, axis=-1):
        loss = losses.SparseCategoricalCrossentropy(from_logits, ignore_class, axis=axis)  # checks the arguments
        self.from_logits, self.ignore_class, self.axis = loss.from_logits, loss.ignore_class, loss.axis
        super().__init__(name, dtype, from_logits=self.from_logits, ignore_class=self.ignore_class, axis=self.axis)

    def update(self, output, target, logits, sample_weight=None):
        if sample_weight is not None and self.ignore_class is not None:
            # as Keras: with weights, the ignored samples leave the count too (without, they count as 0)
            labels = target.reshape(target.shape[0], -1)[:, 0] if target.ndim > 1 else target
            kept = (labels != self.ignore_class).astype(numpy.float64)
            weight, kept = same_rank(sample_weight.astype(numpy.float64), kept)
            sample_weight = weight * kept
        super().update(output, target, logits, sample_weight)


class CosineSimilarity(_Wrapped):
    """The mean cosine of the angle between ``y_true`` and ``y_pred`` along ``axis`` (1: same
    direction, 0: orthogonal or a zero vector)."""

    name = "cosine_similarity"
    fn = staticmethod(cosine_similarity)

    def __init__(self, name: str | None = None, dtype=None, axis=-1):
        self.axis = losses._check_axis(axis, "axis")
        super().__init__(name, dtype, axis=self.axis)


class PearsonCorrelation(_Wrapped):
    """The mean of :func:`pearson_correlation`: the correlation of ``y_true`` and ``y_pred`` along
    ``axis`` for each sample, averaged over the samples (Keras's definition, not the correlation
    over the whole data)."""

    name = "pearson_correlation"
    fn = staticmethod(pearson_correlation)

    def __init__(self, name: str | None = None, dtype=None, axis=-1):
        self.axis = losses._check_axis(axis, "axis")
        super().__init__(name, dtype, axis=self.axis)


class ConcordanceCorrelation(PearsonCorrelation):
    """The mean of :func:`concordance_correlation` along ``axis``, per sample."""

    name = "concordance_correlation"
    fn = staticmethod(concordance_correlation)
