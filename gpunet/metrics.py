"""Metrics, with Keras 3's names, arguments and values, accumulated on the device.

Use them as in Keras: ``metric.update_state(y_true, y_pred, sample_weight=None)`` batch after
batch, ``metric.result()`` (a Python float, or a NumPy array for a metric with several values),
``metric.reset_state()``; or by name or object in ``model.compile(metrics=[...])``. During fit
and evaluate a metric sees the model's raw output (``output``; logits when the loss was fused
with the final softmax/sigmoid, which ``logits`` says) and the prepared targets through
``update(output, target, logits)``. Counts and sums stay backend arrays, so a GPU run never waits
for the device to report a number it does not need yet.

The metrics, by family (Keras's classes, and its functions returning one value per sample):

- means of a per-sample value: ``Mean``, ``Sum``, ``MeanMetricWrapper``; ``Accuracy``,
  ``BinaryAccuracy``, ``CategoricalAccuracy``, ``SparseCategoricalAccuracy``,
  ``TopKCategoricalAccuracy``, ``SparseTopKCategoricalAccuracy``; ``MeanSquaredError``,
  ``RootMeanSquaredError``, ``MeanAbsoluteError``, ``MeanAbsolutePercentageError``,
  ``MeanSquaredLogarithmicError``, ``CosineSimilarity``, ``LogCoshError``, ``Hinge``,
  ``SquaredHinge``, ``CategoricalHinge``, ``KLDivergence``, ``Poisson``, ``BinaryCrossentropy``,
  ``CategoricalCrossentropy``, ``SparseCategoricalCrossentropy``, ``PearsonCorrelation``,
  ``ConcordanceCorrelation``;
- counts at thresholds (one mechanism, :class:`ConfusionCounts`): ``TruePositives``,
  ``TrueNegatives``, ``FalsePositives``, ``FalseNegatives``, ``Precision``, ``Recall``,
  ``PrecisionAtRecall``, ``RecallAtPrecision``, ``SensitivityAtSpecificity``,
  ``SpecificityAtSensitivity``, ``AUC``;
- ``F1Score``, ``FBetaScore``, ``R2Score``, ``IoU``, ``MeanIoU``, ``BinaryIoU``, ``OneHotIoU``,
  ``OneHotMeanIoU``.

As in Keras 3, a metric given to ``compile`` by a string is logged under that string (``"acc"``
-> ``acc`` and ``val_acc``), and a metric object under its ``name``.
"""

from __future__ import annotations

import math
import numbers
import re
import warnings

import numpy

from . import losses
from .autograd import Tensor, no_grad
from .backend import get_array_module, on_device_of, to_host
from .lookup import Lookup, get_registered_name, get_registered_object
from .losses import (binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,  # noqa: F401 - Keras exports them
                     categorical_focal_crossentropy, categorical_hinge, hinge, huber, kl_divergence, log_cosh,
                     mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                     mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy, squared_hinge)
from .ops.activation import sigmoid_forward, softmax_forward

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper",
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "CosineSimilarity", "LogCoshError", "R2Score",
    "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "PearsonCorrelation", "ConcordanceCorrelation",
    "ConfusionCounts", "TruePositives", "TrueNegatives", "FalsePositives", "FalseNegatives", "Precision", "Recall",
    "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity", "SpecificityAtSensitivity", "AUC",
    "FBetaScore", "F1Score", "IoU", "MeanIoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU",
    "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "pearson_correlation", "concordance_correlation",
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy",
    "categorical_hinge", "hinge", "huber", "kl_divergence", "log_cosh", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error", "poisson",
    "sparse_categorical_crossentropy", "squared_hinge",
    "ACCURACIES", "get", "serialize", "deserialize",
]

_EPSILON = 1e-7  # Keras's backend epsilon
_NEG_INF = -1e10  # Keras's score for the outputs top_k leaves out


# ----------------------------------------------------------------------------------------------
# Keras's metric functions: one value per sample, on arrays (NumPy or CuPy, as y_pred)
# ----------------------------------------------------------------------------------------------
def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``y_pred > threshold`` equals the target (0 or 1), else 0.0."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = _same_rank(y_true, y_pred)
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(numpy.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of ``y_pred`` is the arg-max of the one-hot ``y_true``."""
    y_true, y_pred = _pair(y_true, y_pred)
    return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(numpy.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of ``y_pred`` is the integer label ``y_true`` (shape (N,) or (N, 1))."""
    y_true, y_pred = _pair(y_true, y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true == y_pred.argmax(axis=-1).astype(y_true.dtype)).astype(numpy.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the class of the one-hot ``y_true`` is among the ``k`` highest outputs (a tie
    with the true class's output counts)."""
    y_true, y_pred = _pair(y_true, y_pred)
    labels = y_true if y_true.ndim == y_pred.ndim - 1 and y_true.dtype.kind in "iu" else y_true.argmax(axis=-1)
    return _in_top_k(labels, y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the ``k`` highest outputs; with
    ``from_sorted_ids=True``, among the first ``k`` ids of ``y_pred`` (class ids, best first)."""
    y_true, y_pred = _pair(y_true, y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if from_sorted_ids:
        return (y_pred[..., :k] == y_true[..., None]).any(axis=-1).astype(numpy.float32)
    return _in_top_k(y_true, y_pred, k)


def pearson_correlation(y_true, y_pred, axis=-1):
    """The Pearson correlation of ``y_true`` and ``y_pred`` along ``axis`` (population
    standard deviations, as Keras)."""
    y_true, y_pred = _same_rank(*_pair(y_true, y_pred, floats=True))
    t = y_true - y_true.mean(axis=axis, keepdims=True)
    p = y_pred - y_pred.mean(axis=axis, keepdims=True)
    t = t / t.std(axis=axis, keepdims=True)
    p = p / p.std(axis=axis, keepdims=True)
    return (t * p).mean(axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation along ``axis``, as Keras 3.15 computes it (its covariance
    term centres ``y_true`` on the mean of ``y_pred``)."""
    y_true, y_pred = _same_rank(*_pair(y_true, y_pred, floats=True))
    true_mean = y_true.mean(axis=axis, keepdims=True)
    pred_mean = y_pred.mean(axis=axis, keepdims=True)
    true_var = (y_true - true_mean).var(axis=axis, keepdims=True)
    pred_var = (y_pred - pred_mean).var(axis=axis, keepdims=True)
    covariance = (y_true - pred_mean) * (y_pred - pred_mean)
    norm = true_var + pred_var + (true_mean - pred_mean) ** 2
    return (2 * covariance / (norm + _EPSILON)).mean(axis=axis)


def _accuracy(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = _same_rank(y_true, y_pred)
    return (y_true == y_pred).astype(numpy.float32)


def _squared_error(y_true, y_pred):
    y_true, y_pred = _same_rank(*_pair(y_true, y_pred, floats=True))
    diff = y_pred - y_true
    return diff * diff


def _mean_squared_error(y_true, y_pred):
    return _squared_error(y_true, y_pred).mean(axis=-1)


def _mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _same_rank(*_pair(y_true, y_pred, floats=True))
    return get_array_module(y_pred).abs(y_pred - y_true).mean(axis=-1)


def _cosine_similarity(y_true, y_pred, axis=-1):
    y_true, y_pred = _same_rank(*_pair(y_true, y_pred, floats=True))
    xp = get_array_module(y_pred)

    def normalize(x):
        return x / xp.sqrt(xp.maximum((x * x).sum(axis=axis, keepdims=True), _EPSILON * _EPSILON))

    return (normalize(y_true) * normalize(y_pred)).sum(axis=axis)


def _in_top_k(labels, scores, k):
    """Keras's ``in_top_k``: the label's score is among the ``k`` highest (ties count; a NaN
    score never does)."""
    xp = get_array_module(scores)
    at_label = xp.take_along_axis(scores, labels.astype(numpy.int64)[..., None], axis=-1)
    at_label = xp.where(xp.isnan(at_label), -xp.inf, at_label)
    return ((scores > at_label).sum(axis=-1) < k).astype(numpy.float32)


class Metric:
    """Base class, with Keras 3's methods.

    ``update_state(y_true, y_pred, sample_weight=None)`` adds a batch, ``result()`` gives the
    value so far (a host sync on the GPU), ``reset_state()`` starts again, ``metric(y_true,
    y_pred)`` updates and returns the result. A subclass implements gpunet's ``update(output,
    target, logits, sample_weight=None)`` on backend arrays, ``result()`` and, if it keeps more
    than ``total`` and ``count``, ``reset()``; every accumulator is an attribute that ``reset()``
    sets to zero and that adds over batches (so that data-parallel training can sum it over
    processes).

    ``dtype`` is recorded in the config as Keras does; gpunet accumulates in float64 whatever it is.
    ``direction`` says which way is better (``"up"`` or ``"down"``), as Keras's metrics do.
    ``logit_activation`` is set when the metric is compiled with a loss (:func:`get`): what turns
    the logits a fused loss hands over (``logits=True``) back into the model's output
    (``"softmax"``, ``"sigmoid"``), or ``"none"`` when the model's output is itself logits (a loss
    with ``from_logits=True``); unset, a single output means a sigmoid and several a softmax.
    """

    name = "metric"
    direction = "up"
    logit_activation: str | None = None
    graph_safe = False  # whether update() is device work only, adding in place (see gpunet.training.graphs)
    scalar = True  # whether result() is one number (compile logs only those)
    _integer_dtype = False  # whether an integer dtype is allowed (Keras's IoU counts in int)

    def __init__(self, dtype=None, name: str | None = None):
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"name must be a non-empty string, got {name!r}")
            self.name = name
        self.dtype = _check_dtype(dtype, self._integer_dtype)
        self.reset()

    # -- Keras's methods -------------------------------------------------------------------------
    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Add a batch: ``y_pred`` as the model outputs it, ``y_true`` the targets, ``sample_weight``
        None, a number or one weight per sample."""
        y_pred = _array(y_pred)
        y_true = on_device_of(_array(y_true), y_pred)
        if sample_weight is None:
            self.update(y_pred, y_true, False)
        else:
            self.update(y_pred, y_true, False, _weights(sample_weight, y_pred))

    def reset_state(self) -> None:
        self.reset()

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    # -- gpunet's ------------------------------------------------------------------------------------
    def reset(self) -> None:
        total = getattr(self, "total", None)
        if getattr(total, "ndim", None) == 0 and not isinstance(total, numpy.generic) and hasattr(total, "fill"):
            total.fill(0)  # a device array: zeroed in place, as a captured CUDA graph keeps adding into it
        else:
            self.total = 0.0
        self.count = 0

    def update(self, output, target, logits: bool, sample_weight=None) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def result(self):
        """The value so far (a host sync on the GPU); 0 before any update, as Keras."""
        return float(self.total) / float(self.count) if self.count else 0.0

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
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "dtype")
        return f"{type(self).__name__}({args})"


# ----------------------------------------------------------------------------------------------
# means and sums of per-sample values
# ----------------------------------------------------------------------------------------------
class Sum(Metric):
    """The (weighted) sum of the values given to ``update_state(values, sample_weight=None)``.

    >>> m = gpunet.metrics.Sum(); m.update_state([1, 3, 5, 7]); m.result()
    16.0
    """

    name = "sum"
    direction = None  # neither: a monitor of it needs an explicit mode
    graph_safe = True
    _reduce = "sum"

    def __init__(self, name: str | None = None, dtype=None):
        super().__init__(dtype, name)

    def update_state(self, values, sample_weight=None) -> None:
        values = _array(values)
        self.accumulate(values, None if sample_weight is None else _weights(sample_weight, values))

    def accumulate(self, values, sample_weight=None) -> None:
        """Keras's per-sample reduction: values with more axes than the weights are averaged
        (summed, for ``Sum``) over the extra axes, multiplied by the weights, and added up; the
        count grows by the number of samples, or by the sum of the weights."""
        xp = get_array_module(values)
        reduce = xp.mean if self._reduce == "mean" else xp.sum
        values = values.astype(numpy.float64, copy=False)  # sums and per-sample means in float64
        if sample_weight is not None:
            values, sample_weight = _same_rank(values, sample_weight)
            if values.ndim > sample_weight.ndim:
                values = reduce(values, axis=tuple(range(sample_weight.ndim, values.ndim)))
            try:
                sample_weight = xp.broadcast_to(sample_weight, values.shape)
            except ValueError:
                raise ValueError(f"sample_weight of shape {sample_weight.shape} does not fit values of shape "
                                 f"{values.shape}") from None
            values = values * sample_weight
            if sample_weight.ndim > 1:
                sample_weight = reduce(sample_weight, axis=tuple(range(1, sample_weight.ndim)))
        if values.ndim > 1:
            values = reduce(values, axis=tuple(range(1, values.ndim)))
        self.total += xp.sum(values, dtype=numpy.float64)
        if sample_weight is not None:
            self.count += xp.sum(sample_weight, dtype=numpy.float64)
        else:
            self.count += int(values.shape[0]) if values.ndim else 1

    def result(self):
        return float(self.total)


class Mean(Sum):
    """The (weighted) mean of the values given to ``update_state(values, sample_weight=None)``;
    fit keeps the running loss in one (``update_value``).

    >>> m = gpunet.metrics.Mean(); m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0]); m.result()
    2.0
    """

    name = "mean"
    _reduce = "mean"

    def update_value(self, value, weight: int) -> None:
        """Add one value (a batch's loss) with a weight (its number of samples)."""
        self.total += value * weight
        self.count += weight

    def result(self):
        return Metric.result(self)


class MeanMetricWrapper(Mean):
    """The mean of a function's per-sample values: ``fn(y_true, y_pred, **kwargs)`` returns an
    array (or a gpunet Tensor) with one value per sample.

    Args:
        fn: the function, e.g. ``gpunet.metrics.binary_accuracy`` or one of your own written with
            the array module of its inputs.
        name, dtype: as :class:`Metric`; ``**kwargs`` are passed on to ``fn``.

    To save and load it by name, register your function with ``@gpunet.saving.register_serializable()``.

    >>> m = gpunet.metrics.MeanMetricWrapper(gpunet.metrics.binary_accuracy, threshold=0.7)
    """

    name = "mean_metric_wrapper"
    graph_safe = False
    fn = None  # the built-in metrics set their function here

    def __init__(self, fn=None, name: str | None = None, dtype=None, **kwargs):
        if fn is not None:
            if not callable(fn) or isinstance(fn, type):
                raise TypeError(f"fn must be a function fn(y_true, y_pred), got {fn!r}")
            self.fn = fn
            if getattr(fn, "__module__", "").startswith("gpunet.losses"):
                self.direction = "down"
        elif type(self).fn is None:
            raise TypeError("MeanMetricWrapper needs fn, a function fn(y_true, y_pred) returning per-sample values")
        self.fn_kwargs = kwargs
        super().__init__(name, dtype)

    update_state = Metric.update_state

    def update(self, output, target, logits, sample_weight=None):
        self.accumulate(self.values(output, target, logits), sample_weight)

    def values(self, output, target, logits):
        """The per-sample values of a batch."""
        with no_grad():
            values = self.fn(target, self.model_output(output, logits), **self.fn_kwargs)
        # on the predictions' device (a loss function's Tensor lives on the selected backend's)
        return on_device_of(values.data if isinstance(values, Tensor) else _array(values), output)

    def get_config(self):
        return {**super().get_config(), "fn": _function_name(self.fn), **self.fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        name = config.pop("fn", None)
        fn = _FUNCTIONS.get(name) or _registered_function(name)
        if fn is None:
            raise ValueError(f"metric function {name!r} is not registered: decorate it with "
                             "@gpunet.saving.register_serializable() before loading")
        return cls(fn, **config)


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
    fn = staticmethod(_accuracy)


class BinaryAccuracy(_Wrapped):
    """How often ``y_pred > threshold`` matches a target of 0 or 1 (default threshold 0.5).
    With logits the output's probability is compared, for any loss: a logit against
    ``log(threshold / (1 - threshold))`` (0 for 0.5)."""

    name = "binary_accuracy"
    fn = staticmethod(binary_accuracy)

    def __init__(self, name: str | None = None, dtype=None, threshold: float = 0.5):
        self.threshold = _check_threshold(threshold, "threshold")
        super().__init__(name, dtype, threshold=self.threshold)

    def values(self, output, target, logits):
        if logits and self.logit_activation in (None, "none", "sigmoid"):
            target, predicted = _same_rank(target, _logit_above(output, self.threshold))
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
        self.k = _check_integer(k, "k", 1, "a positive integer")
        super().__init__(name, dtype, k=self.k)


class SparseTopKCategoricalAccuracy(_Wrapped):
    """How often the integer label is among the ``k`` highest outputs; with
    ``from_sorted_ids=True`` the predictions are class ids, best first, and the label must be
    among the first ``k``."""

    name = "sparse_top_k_categorical_accuracy"
    fn = staticmethod(sparse_top_k_categorical_accuracy)

    def __init__(self, k: int = 5, name: str | None = None, dtype=None, from_sorted_ids: bool = False):
        self.k = _check_integer(k, "k", 1, "a positive integer")
        self.from_sorted_ids = _check_bool(from_sorted_ids, "from_sorted_ids")
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
    fn = staticmethod(_mean_squared_error)


class RootMeanSquaredError(Mean):
    """The square root of the mean of ``(y_pred - y_true) ** 2``."""

    name = "root_mean_squared_error"
    direction = "down"
    graph_safe = True

    def update(self, output, target, logits, sample_weight=None):
        self.accumulate(_squared_error(target, self.model_output(output, logits)), sample_weight)

    update_state = Metric.update_state

    def result(self):
        return math.sqrt(Metric.result(self))


class MeanAbsoluteError(_Wrapped):
    """The mean of ``|y_pred - y_true|``."""

    name = "mean_absolute_error"
    direction = "down"
    fn = staticmethod(_mean_absolute_error)


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
        self.from_logits = _check_bool(from_logits, "from_logits")
        self.label_smoothing = losses._check_label_smoothing(label_smoothing)
        super().__init__(name, dtype, from_logits=self.from_logits, label_smoothing=self.label_smoothing)


class CategoricalCrossentropy(_LossMetric):
    """The mean of :func:`gpunet.losses.categorical_crossentropy` (``from_logits``,
    ``label_smoothing``; ``axis`` must be -1)."""

    name = "categorical_crossentropy"
    fn = staticmethod(categorical_crossentropy)

    def __init__(self, name: str | None = None, dtype=None, from_logits: bool = False, label_smoothing: float = 0.0,
                 axis=-1):
        self.from_logits = _check_bool(from_logits, "from_logits")
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
            weight, kept = _same_rank(sample_weight.astype(numpy.float64), kept)
            sample_weight = weight * kept
        super().update(output, target, logits, sample_weight)


class CosineSimilarity(_Wrapped):
    """The mean cosine of the angle between ``y_true`` and ``y_pred`` along ``axis`` (1: same
    direction, 0: orthogonal or a zero vector)."""

    name = "cosine_similarity"
    fn = staticmethod(_cosine_similarity)

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


# ----------------------------------------------------------------------------------------------
# counts at thresholds
# ----------------------------------------------------------------------------------------------
class ConfusionCounts(Metric):
    """Base of the metrics counted at thresholds: the (weighted) true positives, false
    positives, true negatives and false negatives at each threshold, added over batches.

    A prediction is positive at a threshold when it lies strictly above it; a target is
    positive when it is non-zero; integer labels count as one-hot rows. ``top_k`` keeps only the
    ``k`` highest outputs of each sample (the others are never positive), ``class_id`` counts one
    class's outputs only. When the thresholds are evenly spaced over [0, 1] the predictions are
    first clipped to [0, 1], as Keras's fast path does.
    """

    direction = "up"

    def __init__(self, thresholds, top_k=None, class_id=None, name=None, dtype=None, default_threshold=0.5,
                 multi_label=False, label_weights=None):
        given = thresholds
        if thresholds is None:
            thresholds = [default_threshold]
        elif isinstance(thresholds, (list, tuple)):
            if not thresholds:
                raise ValueError("thresholds must be a number in [0, 1] or a non-empty list of them, got []")
            thresholds = [_check_threshold(t, "thresholds") for t in thresholds]
        else:
            thresholds = [_check_threshold(thresholds, "thresholds")]
        self.init_thresholds = list(given) if isinstance(given, tuple) else given
        self.thresholds = [float(t) for t in thresholds]
        self.top_k = None if top_k is None else _check_integer(top_k, "top_k", 1, "a positive integer or None")
        self.class_id = None if class_id is None else _check_integer(class_id, "class_id", 0,
                                                                     "a non-negative integer or None")
        self.multi_label = multi_label
        self.label_weights = label_weights
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
        output = _float_array(output)
        target = _dense_targets(target, output)
        weight = None
        if sample_weight is not None:
            weight = sample_weight[..., None]
            if weight.ndim == target.ndim + 1 and weight.shape[-1] == 1:
                weight = weight[..., 0]
        if self.top_k is not None:
            # each output's place in its row, highest first (ties: the lower index first, as Keras)
            kept = _stable_argsort(_stable_argsort(-output)) < self.top_k
            output = xp.where(kept, output, _NEG_INF)
        if self.class_id is not None:
            if output.ndim < 2 or self.class_id >= output.shape[-1]:
                raise ValueError(f"class_id={self.class_id} needs outputs of shape (batch, classes > {self.class_id}), "
                                 f"got {output.shape}")
            output, target = output[..., self.class_id, None], target[..., self.class_id, None]
        if weight is not None:
            weight = _broadcast(weight, output.shape, "sample_weight")
        if self.label_weights is not None and not self.multi_label:
            label_weights = _broadcast(on_device_of(self._label_weight_array, output), output.shape, "label_weights")
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
        super().__init__(thresholds, top_k, class_id, name, dtype, default_threshold=0.5 if top_k is None else _NEG_INF)

    def result(self):
        tp = self._values("true_positives")
        return self._per_threshold(_divide_no_nan(tp, tp + self._values("false_positives")))

    def get_config(self):
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}


class Recall(Precision):
    """``tp / (tp + fn)``: the fraction of positives predicted positive (0 without positives).
    Arguments as :class:`Precision`."""

    name = "recall"

    def result(self):
        tp = self._values("true_positives")
        return self._per_threshold(_divide_no_nan(tp, tp + self._values("false_negatives")))


class _AtConstraint(ConfusionCounts):
    """Base of the metrics that pick the best threshold under a constraint: counts at
    ``num_thresholds`` thresholds evenly spaced over [0, 1] (0.5 alone for 1)."""

    constraint = ""  # the argument that holds the constraint's value

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
            raise ValueError(f"{self.constraint} must be a number in [0, 1], got {value!r}")
        self.value = float(value)
        self.num_thresholds = _check_integer(num_thresholds, "num_thresholds", 1, "a positive integer")
        if self.num_thresholds == 1:
            thresholds = [0.5]
        else:
            thresholds = [0.0] + [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)] + [1.0]
        super().__init__(thresholds, None, class_id, name, dtype)
        self.scalar = True

    def _rates(self):
        tp, fp = self._values("true_positives"), self._values("false_positives")
        tn, fn = self._values("true_negatives"), self._values("false_negatives")
        return {"recall": _divide_no_nan(tp, tp + fn), "precision": _divide_no_nan(tp, tp + fp),
                "specificity": _divide_no_nan(tn, tn + fp)}

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
        self.from_logits = _check_bool(from_logits, "from_logits")
        multi_label = _check_bool(multi_label, "multi_label")
        if num_labels is not None:
            if not multi_label:
                raise ValueError("num_labels is needed only when multi_label is True")
            num_labels = _check_integer(num_labels, "num_labels", 1, "a positive integer or None")
        if label_weights is not None:
            weights = numpy.asarray(label_weights, dtype=numpy.float64)
            if weights.ndim != 1 or not numpy.isfinite(weights).all():
                raise ValueError(f"label_weights must be one finite number per label, got {label_weights!r}")
            label_weights = [float(w) for w in weights]
        if thresholds is not None:
            if not isinstance(thresholds, (list, tuple)) or not thresholds:
                raise ValueError(f"thresholds must be a non-empty list of numbers in [0, 1], got {thresholds!r}")
            inner = sorted(_check_threshold(t, "thresholds") for t in thresholds)
            num_thresholds = len(inner) + 2
            evenly = _evenly_spaced([0.0, *inner, 1.0])
        else:
            num_thresholds = _check_integer(num_thresholds, "num_thresholds", 2, "an integer > 1")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        self.num_thresholds = num_thresholds
        self.given_thresholds = None if thresholds is None else inner
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        self.num_labels = num_labels
        self._label_weight_array = None if label_weights is None else numpy.asarray(label_weights)
        super().__init__([0.0] + inner + [1.0], name=name, dtype=dtype, multi_label=multi_label,
                         label_weights=label_weights)
        self.thresholds = [-_EPSILON, *inner, 1.0 + _EPSILON]  # Keras's outermost thresholds
        self._sorted = numpy.array(self.thresholds)
        self._clip = evenly
        self.scalar = True

    def update(self, output, target, logits, sample_weight=None):
        output = self.model_output(output, logits)
        if self.from_logits:
            output = sigmoid_forward(_float_array(output))
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
        return float(_divide_no_nan((by_label * self._label_weight_array).sum(), self._label_weight_array.sum()))

    def _riemann(self, tp, fp, tn, fn):
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # precision-recall gain (Flach and Kull, 2015)
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = numpy.where(tp == 0, 0.0, 1.0 - scale * _divide_no_nan(fn, tp))
            precision_gain = numpy.where(tp == 0, 1.0, 1.0 - scale * _divide_no_nan(fp, tp))
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


# ----------------------------------------------------------------------------------------------
# F-scores, R2, IoU
# ----------------------------------------------------------------------------------------------
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
        output = _float_array(self.model_output(output, logits))
        target = _dense_targets(target, output).astype(numpy.float64)
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
        precision = tp / (tp + fp + _EPSILON)
        recall = tp / (tp + fn + _EPSILON)
        beta2 = self.beta ** 2
        score = precision * recall / (beta2 * precision + recall + _EPSILON) * (1 + beta2)
        if self.average == "weighted":
            return float((score * weights / (weights.sum() + _EPSILON)).sum())
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
        self.num_regressors = _check_integer(num_regressors, "num_regressors", 0, "a non-negative integer")
        self.scalar = class_aggregation is not None
        super().__init__(dtype, name)

    def reset(self):
        super().reset()
        self.squared_sum = self.sum = self.total_mse = self.weight_sum = self.num_samples = 0

    def update(self, output, target, logits, sample_weight=None):
        xp = get_array_module(output)
        output = _float_array(self.model_output(output, logits)).astype(numpy.float64)
        target, output = _same_rank(_float_array(target).astype(numpy.float64), output)
        if output.ndim != 2 or target.ndim != 2:
            raise ValueError(f"R2Score needs outputs and targets of shape (batch, outputs), got {output.shape} and "
                             f"{target.shape}")
        weight = 1.0 if sample_weight is None else sample_weight.astype(numpy.float64)
        if getattr(weight, "ndim", 0) == 1:
            weight = weight[:, None]
        weight = _broadcast(xp.asarray(weight), target.shape, "sample_weight")
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
        self.num_classes = _check_integer(num_classes, "num_classes", 1, "a positive integer")
        if not isinstance(target_class_ids, (list, tuple)) or not target_class_ids:
            raise ValueError(f"target_class_ids must be a non-empty list of class ids, got {target_class_ids!r}")
        ids = [_check_integer(i, "target_class_ids", 0, "a list of non-negative integers") for i in target_class_ids]
        if max(ids) >= self.num_classes:
            raise ValueError(f"target class id {max(ids)} is out of range, which is [0, {self.num_classes})")
        self.target_class_ids = ids
        if ignore_class is not None and (isinstance(ignore_class, bool) or not isinstance(ignore_class, numbers.Integral)):
            raise TypeError(f"ignore_class must be an integer class label or None, got {ignore_class!r}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.sparse_y_true = _check_bool(sparse_y_true, "sparse_y_true")
        self.sparse_y_pred = _check_bool(sparse_y_pred, "sparse_y_pred")
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
        self._add(_as_class_ids(target).reshape(-1), _as_class_ids(output).reshape(-1), sample_weight, xp)

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
            weight = _broadcast(sample_weight.reshape(-1) if sample_weight.ndim > 1 else sample_weight, labels.shape,
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
        iou = numpy.where(valid, true_positives / (denominator + _EPSILON), 0.0)
        return float(iou.sum() / (valid.sum() + _EPSILON))

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
        output = _float_array(self.model_output(output, logits)).astype(numpy.float32)
        predicted = (output >= numpy.float32(self.threshold)).astype(numpy.int64)
        self._add(_as_class_ids(target).reshape(-1), predicted.reshape(-1), sample_weight, get_array_module(output))

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class MeanIoU(IoU):
    """The mean :class:`IoU` over every class (``target_class_ids = range(num_classes)``)."""

    name = "mean_io_u"

    def __init__(self, num_classes: int, name: str | None = None, dtype=None, ignore_class=None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis=-1):
        classes = _check_integer(num_classes, "num_classes", 1, "a positive integer")
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


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _array(x):
    """A NumPy or CuPy array from an array, a Tensor, a list or a number."""
    if isinstance(x, Tensor):
        return x.data
    if hasattr(x, "__cuda_array_interface__") or isinstance(x, numpy.ndarray):
        return x
    return numpy.asarray(x)


def _pair(y_true, y_pred, floats: bool = False):
    y_pred = _array(y_pred)
    if floats:
        y_pred = _float_array(y_pred)
    y_true = on_device_of(_array(y_true), y_pred)
    if floats and y_true.dtype != y_pred.dtype:
        y_true = y_true.astype(y_pred.dtype)
    return y_true, y_pred


def _float_array(x):
    return x if x.dtype.kind == "f" else x.astype(numpy.float32)


def _weights(sample_weight, like):
    weight = on_device_of(_array(sample_weight), like)
    if weight.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight must hold numbers, got dtype {weight.dtype}")
    return weight


def _same_rank(a, b):
    """Keras's ``squeeze_or_expand_to_same_rank`` for arrays."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        return (a, b[..., None]) if b.ndim == 1 else (a[..., 0], b)
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        return (a[..., None], b) if a.ndim == 1 else (a, b[..., 0])
    return a, b


def _broadcast(array, shape, name: str):
    try:
        return get_array_module(array).broadcast_to(array, shape)
    except ValueError:
        raise ValueError(f"{name} of shape {array.shape} does not fit the predictions of shape {shape}") from None


def _as_class_ids(x):
    """Class ids as int64: floats truncated toward zero, as Keras's cast to int does."""
    xp = get_array_module(x)
    return (xp.trunc(x) if x.dtype.kind == "f" else x).astype(numpy.int64)


def _check_integer(value, name: str, minimum: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def _check_threshold(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _check_dtype(dtype, integers: bool = False):
    """A dtype name (None stays None: float32 in Keras's configs)."""
    if dtype is None:
        return None
    if integers and dtype == "int":
        return "int32"
    try:
        kind = numpy.dtype(getattr(dtype, "name", dtype))
    except TypeError:
        kind = None
    if kind is None or kind.kind not in ("fiu" if integers else "f"):
        raise ValueError(f"dtype must be None or a {'numeric' if integers else 'floating-point'} dtype name, "
                         f"got {dtype!r} (Metric(dtype=None, name=None) as in Keras)")
    return kind.name


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


def _evenly_spaced(thresholds) -> bool:
    """Keras's test for its fast path: at least 3 thresholds, ``i / (n - 1)`` within 1e-7."""
    n = len(thresholds)
    return n >= 3 and bool(numpy.allclose(thresholds, numpy.arange(n, dtype=numpy.float32) / (n - 1), atol=_EPSILON))


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


def _divide_no_nan(a, b):
    a, b = numpy.asarray(a, dtype=numpy.float64), numpy.asarray(b, dtype=numpy.float64)
    return numpy.divide(a, b, out=numpy.zeros(numpy.broadcast(a, b).shape), where=b != 0)


def _interpolated_pr_auc(tp, fp, fn):
    """Davis and Goadrich's area under the precision-recall curve: between two thresholds the
    precision is interpolated along the true positives, as Keras computes it (per column)."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = _divide_no_nan(dtp, numpy.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = numpy.where(both, _divide_no_nan(p[:-1], numpy.maximum(p[1:], 0)), 1.0)  # positive
    return _divide_no_nan(slope * (dtp + intercept * numpy.log(ratio)), numpy.maximum(tp[1:] + fn[1:], 0))


def _function_name(fn) -> str:
    for name, known in _FUNCTIONS.items():
        if known is fn:
            return name
    return get_registered_name(fn)


def _registered_function(name):
    obj = get_registered_object(name) if isinstance(name, str) else None
    return obj if callable(obj) and not isinstance(obj, type) else None


def _snake_case(name: str) -> str:
    """A class name as Keras's ``to_snake_case`` writes it (``MeanIoU`` -> ``mean_io_u``)."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# ----------------------------------------------------------------------------------------------
# lookup
# ----------------------------------------------------------------------------------------------
_FUNCTIONS = {fn.__name__: fn for fn in (
    binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy, pearson_correlation, concordance_correlation, binary_crossentropy,
    binary_focal_crossentropy, categorical_crossentropy, categorical_focal_crossentropy, categorical_hinge, hinge,
    huber, kl_divergence, log_cosh, mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
    mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy, squared_hinge)}
_CLASSES = (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError,
    MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, R2Score, Hinge,
    SquaredHinge, CategoricalHinge, KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, PearsonCorrelation, ConcordanceCorrelation, TruePositives, TrueNegatives,
    FalsePositives, FalseNegatives, Precision, Recall, PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity,
    SpecificityAtSensitivity, AUC, FBetaScore, F1Score, IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU)
ACCURACIES = (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy)  # what "accuracy" may become
# the names Keras 3's metrics.get takes (each class's name in snake case, and the short names)
_BY_NAME = {
    **{_snake_case(cls.__name__): cls for cls in _CLASSES},
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
}
del _BY_NAME["accuracy"]  # compile's "accuracy" picks the kind that fits the loss
_NOT_FOR_COMPILE = {"mean": Mean, "sum": Sum, "metric": Metric, "mean_metric_wrapper": MeanMetricWrapper}
_ACCURACY_NAMES = ("accuracy", "acc")  # any case, as Keras
_LOOKUP = Lookup("metric", Metric, _BY_NAME, case_sensitive=True)
_LOOKUP.class_names.update({cls.__name__: cls for cls in (*_CLASSES, Mean, Sum, MeanMetricWrapper)})


def _keep(cls, config: dict) -> dict:
    """A metric's config as its constructor takes it: Keras's default dtype (``"float32"``, or
    ``"int32"`` for IoU) is gpunet's None, and AUC's ``label_weights`` written as a tensor are a list."""
    if config.get("dtype") == ("int32" if issubclass(cls, IoU) else "float32"):
        config["dtype"] = None
    weights = config.get("label_weights")
    if isinstance(weights, dict) and isinstance(weights.get("config"), dict) and "value" in weights["config"]:
        config["label_weights"] = weights["config"]["value"]
    return config


def _from_function(identifier) -> Metric:
    """A function given to ``compile``: the mean of its values, named after it (as Keras)."""
    return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))


def get(identifier, loss) -> Metric:
    """A metric for ``compile``, from a name, a config dict, a Metric object or a function
    ``fn(y_true, y_pred)`` returning per-sample values, ready for ``loss``.

    ``"accuracy"`` (or ``"acc"``, in any case) becomes the kind that fits ``loss`` (sparse for
    integer labels, categorical for one-hot targets, binary for binary cross-entropy). A metric
    named by a string is logged under that string, as in Keras 3; an object under its ``name``.
    Metrics whose result is not one number (``F1Score(average=None)``, several ``thresholds``...)
    are refused: fit logs one number per metric.
    """
    if isinstance(identifier, Metric):
        metric = identifier
    elif isinstance(identifier, dict) and "class_name" in identifier:
        metric = deserialize(identifier)
    elif callable(identifier) and not isinstance(identifier, type):
        metric = _from_function(identifier)
    elif not isinstance(identifier, str):
        raise TypeError(f"metrics must be names, functions or gpunet.metrics.Metric objects, got {type(identifier).__name__}")
    elif identifier.lower() in _ACCURACY_NAMES:
        metric = _accuracy_for(loss)(name=identifier)
    else:
        metric = _by_name(identifier)
    if not metric.scalar:
        raise ValueError(f"metric {metric.name!r} ({metric!r}) gives several values (one per class, label or "
                         "threshold), but fit logs one number per metric: choose an average or a single threshold, "
                         "or call update_state() and result() yourself")
    metric.bind(loss)
    return metric


def _accuracy_for(loss):
    if isinstance(loss, (losses.SparseCategoricalCrossentropy, losses.CategoricalGeneralizedCrossEntropy)):
        return SparseCategoricalAccuracy
    if isinstance(loss, (losses.BinaryCrossentropy, losses.BinaryFocalCrossentropy)):
        return BinaryAccuracy
    if isinstance(loss, (losses.CategoricalCrossentropy, losses.CategoricalFocalCrossentropy)):
        return CategoricalAccuracy
    raise ValueError(
        "metric 'accuracy' needs a classification loss (sparse_categorical_crossentropy, categorical_crossentropy, "
        f"binary_crossentropy or a focal one), got {getattr(loss, 'name', loss)!r}"
    )


def _by_name(identifier: str) -> Metric:
    if identifier in _NOT_FOR_COMPILE or identifier in ("Mean", "Sum", "Metric", "MeanMetricWrapper"):
        raise ValueError(f"metric {identifier!r} takes values, not (y_true, y_pred): give compile a metric of "
                         "predictions, or a gpunet.metrics.MeanMetricWrapper(fn)")
    cls = _BY_NAME.get(identifier) or _LOOKUP.class_names.get(identifier)
    if cls is None:
        fn = _registered_function(identifier)
        if fn is not None:
            return _from_function(fn)
        registered = _LOOKUP._registered(identifier)
        if registered is None:
            raise ValueError(
                f"unknown metric {identifier!r}; valid names are {sorted(_BY_NAME) + list(_ACCURACY_NAMES)} "
                f"or a class name ({', '.join(sorted(_LOOKUP.class_names))})"
            )
        cls = registered
    try:
        return cls(name=identifier)
    except TypeError as exc:
        raise ValueError(f"metric {identifier!r} needs arguments ({exc}): give compile a "
                         f"gpunet.metrics.{cls.__name__}(...) object") from None


def _function_metric(name) -> Metric:
    fn = _FUNCTIONS.get(name) if isinstance(name, str) else None
    fn = fn or _registered_function(name)
    if fn is None:
        raise ValueError(f"unknown metric function {name!r}: a function of gpunet.metrics, or one registered with "
                         "@gpunet.saving.register_serializable()")
    return _from_function(fn)


def serialize(metric) -> dict:
    """``{"class_name", "config"}`` for a metric object; Keras's form of a function
    (``{"class_name": "function", "config": name}``, with a user function's registered name) for
    a metric function."""
    if callable(metric) and not isinstance(metric, (Metric, type)):
        name = _function_name(metric)
        if name in _FUNCTIONS:
            return {"module": "keras.metrics", "class_name": "function", "config": name, "registered_name": "function"}
        return {"module": getattr(metric, "__module__", None), "class_name": "function",
                "config": getattr(metric, "__name__", name), "registered_name": name}
    return _LOOKUP.serialize(metric)


def deserialize(config: dict) -> Metric:
    """A metric from :func:`serialize`'s form (Keras's ``{"class_name", "config"}``)."""
    if isinstance(config, dict) and config.get("class_name") == "function":
        registered = config.get("registered_name")
        return _function_metric(registered if registered not in (None, "function") else config.get("config"))
    return _LOOKUP.deserialize(config, _keep)
