"""Keras's metric functions: one value per sample, on arrays (NumPy or CuPy, as ``y_pred``),
and the table of the functions a metric may be built from by name."""

from __future__ import annotations

import numpy

from ..backend import get_array_module
from ..lookup import get_registered_name, get_registered_object
from ..losses import (binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,  # noqa: F401 - Keras exports them
                      categorical_focal_crossentropy, categorical_hinge, hinge, huber, kl_divergence, log_cosh,
                      mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                      mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy, squared_hinge)
from .common import EPSILON, pair, same_rank


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``y_pred > threshold`` equals the target (0 or 1), else 0.0."""
    y_true, y_pred = pair(y_true, y_pred)
    y_true, y_pred = same_rank(y_true, y_pred)
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(numpy.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of ``y_pred`` is the arg-max of the one-hot ``y_true``."""
    y_true, y_pred = pair(y_true, y_pred)
    return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(numpy.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of ``y_pred`` is the integer label ``y_true`` (shape (N,) or (N, 1))."""
    y_true, y_pred = pair(y_true, y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true == y_pred.argmax(axis=-1).astype(y_true.dtype)).astype(numpy.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the class of the one-hot ``y_true`` is among the ``k`` highest outputs (a tie
    with the true class's output counts)."""
    y_true, y_pred = pair(y_true, y_pred)
    labels = y_true if y_true.ndim == y_pred.ndim - 1 and y_true.dtype.kind in "iu" else y_true.argmax(axis=-1)
    return _in_top_k(labels, y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the ``k`` highest outputs; with
    ``from_sorted_ids=True``, among the first ``k`` ids of ``y_pred`` (class ids, best first)."""
    y_true, y_pred = pair(y_true, y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if from_sorted_ids:
        return (y_pred[..., :k] == y_true[..., None]).any(axis=-1).astype(numpy.float32)
    return _in_top_k(y_true, y_pred, k)


def pearson_correlation(y_true, y_pred, axis=-1):
    """The Pearson correlation of ``y_true`` and ``y_pred`` along ``axis`` (population
    standard deviations, as Keras)."""
    y_true, y_pred = same_rank(*pair(y_true, y_pred, floats=True))
    t = y_true - y_true.mean(axis=axis, keepdims=True)
    p = y_pred - y_pred.mean(axis=axis, keepdims=True)
    t = t / t.std(axis=axis, keepdims=True)
    p = p / p.std(axis=axis, keepdims=True)
    return (t * p).mean(axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation along ``axis``, as Keras 3.15 computes it (its covariance
    term centres ``y_true`` on the mean of ``y_pred``)."""
    y_true, y_pred = same_rank(*pair(y_true, y_pred, floats=True))
    true_mean = y_true.mean(axis=axis, keepdims=True)
    pred_mean = y_pred.mean(axis=axis, keepdims=True)
    true_var = (y_true - true_mean).var(axis=axis, keepdims=True)
    pred_var = (y_pred - pred_mean).var(axis=axis, keepdims=True)
    covariance = (y_true - pred_mean) * (y_pred - pred_mean)
    norm = true_var + pred_var + (true_mean - pred_mean) ** 2
    return (2 * covariance / (norm + EPSILON)).mean(axis=axis)


# the functions of the metric classes that Keras does not export (not in gpunet.metrics' namespace)
def accuracy(y_true, y_pred):
    """1.0 where ``y_pred`` equals ``y_true``, element by element."""
    y_true, y_pred = pair(y_true, y_pred)
    y_true, y_pred = same_rank(y_true, y_pred)
    return (y_true == y_pred).astype(numpy.float32)


def squared_error(y_true, y_pred):
    """``(y_pred - y_true) ** 2``, element by element."""
    y_true, y_pred = same_rank(*pair(y_true, y_pred, floats=True))
    diff = y_pred - y_true
    return diff * diff


def per_sample_squared_error(y_true, y_pred):
    """The mean squared error over the last axis, on arrays."""
    return squared_error(y_true, y_pred).mean(axis=-1)


def per_sample_absolute_error(y_true, y_pred):
    """The mean absolute error over the last axis, on arrays."""
    y_true, y_pred = same_rank(*pair(y_true, y_pred, floats=True))
    return get_array_module(y_pred).abs(y_pred - y_true).mean(axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """The cosine of the angle between ``y_true`` and ``y_pred`` along ``axis`` (the metric's:
    positive, where the loss :func:`gpunet.losses.cosine_similarity` is its negative)."""
    y_true, y_pred = same_rank(*pair(y_true, y_pred, floats=True))
    xp = get_array_module(y_pred)

    def normalize(x):
        return x / xp.sqrt(xp.maximum((x * x).sum(axis=axis, keepdims=True), EPSILON * EPSILON))

    return (normalize(y_true) * normalize(y_pred)).sum(axis=axis)


def _in_top_k(labels, scores, k):
    """Keras's ``in_top_k``: the label's score is among the ``k`` highest (ties count; a NaN
    score never does)."""
    xp = get_array_module(scores)
    at_label = xp.take_along_axis(scores, labels.astype(numpy.int64)[..., None], axis=-1)
    at_label = xp.where(xp.isnan(at_label), -xp.inf, at_label)
    return ((scores > at_label).sum(axis=-1) < k).astype(numpy.float32)


FUNCTIONS = {fn.__name__: fn for fn in (
    binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy, pearson_correlation, concordance_correlation, binary_crossentropy,
    binary_focal_crossentropy, categorical_crossentropy, categorical_focal_crossentropy, categorical_hinge, hinge,
    huber, kl_divergence, log_cosh, mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
    mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy, squared_hinge)}


def function_name(fn) -> str:
    for name, known in FUNCTIONS.items():
        if known is fn:
            return name
    return get_registered_name(fn)


def registered_function(name):
    obj = get_registered_object(name) if isinstance(name, str) else None
    return obj if callable(obj) and not isinstance(obj, type) else None
