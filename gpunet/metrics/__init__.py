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

The modules: ``base`` (``Metric``, ``Sum``, ``Mean``, ``MeanMetricWrapper``), ``functions`` (the
per-sample functions), ``means``, ``confusion``, ``scores``; this one finds metrics by name and
reads and writes their configs.
"""

from __future__ import annotations

from .. import losses
from ..lookup import Lookup, custom_object_scope, keras_snake_case
from .base import Mean, MeanMetricWrapper, Metric, Sum
from .confusion import (AUC, ConfusionCounts, FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall,
                        RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives,
                        TruePositives)
from .functions import (FUNCTIONS, binary_accuracy, binary_crossentropy, binary_focal_crossentropy,
                        categorical_accuracy, categorical_crossentropy, categorical_focal_crossentropy,
                        categorical_hinge, concordance_correlation, function_name, hinge, huber, kl_divergence,
                        log_cosh, mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                        mean_squared_logarithmic_error, pearson_correlation, poisson, registered_function,
                        sparse_categorical_accuracy, sparse_categorical_crossentropy,
                        sparse_top_k_categorical_accuracy, squared_hinge, top_k_categorical_accuracy)
from .means import (Accuracy, BinaryAccuracy, BinaryCrossentropy, CategoricalAccuracy, CategoricalCrossentropy,
                    CategoricalHinge, ConcordanceCorrelation, CosineSimilarity, Hinge, KLDivergence, LogCoshError,
                    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError, MeanSquaredLogarithmicError,
                    PearsonCorrelation, Poisson, RootMeanSquaredError, SparseCategoricalAccuracy,
                    SparseCategoricalCrossentropy, SparseTopKCategoricalAccuracy, SquaredHinge,
                    TopKCategoricalAccuracy)
from .scores import BinaryIoU, F1Score, FBetaScore, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU, R2Score

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


# ----------------------------------------------------------------------------------------------
# lookup: gpunet's metric classes are in the registry (kind "metric"); Keras finds each by its class
# name and by that name in snake case, plus these other names
# ----------------------------------------------------------------------------------------------
_ALIASES = {
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
}
ACCURACIES = (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy)  # what "accuracy" may become
_NOT_FOR_COMPILE = (Mean, Sum, Metric, MeanMetricWrapper)  # metrics of values, not of (y_true, y_pred)
_ACCURACY_NAMES = ("accuracy", "acc")  # any case, as Keras: compile picks the kind that fits the loss


def _short_name(cls):
    """A metric's snake-case name for ``compile`` (``MeanIoU`` -> ``"mean_io_u"``, as Keras); none
    for the metrics of values and for ``Accuracy``, whose name ``compile`` reads as "the accuracy
    that fits the loss"."""
    name = keras_snake_case(cls.__name__)
    return None if cls in _NOT_FOR_COMPILE or name in _ACCURACY_NAMES else name


_LOOKUP = Lookup("metric", Metric, case_sensitive=True, short_name=_short_name, aliases=_ALIASES)


def _keep(cls, config: dict) -> dict:
    """A metric's config as its constructor takes it: Keras's default dtype (``"float32"``, or
    ``"int32"`` for IoU) is gpunet's None, and AUC's ``label_weights`` written as a tensor are a list.
    Only for the metrics ``compile`` finds by name: the others (``Mean``, ``Accuracy``...) take
    their config as written."""
    if cls not in _LOOKUP.by_name.values():
        return config
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
    elif isinstance(identifier, type) and issubclass(identifier, Metric):  # a class: its default instance, as Keras
        metric = _instance(identifier, identifier.__name__, None)
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
    return AccuracyByShape


class AccuracyByShape(Metric):
    """Keras's ``"accuracy"`` next to a loss that does not tell the kind: chosen from the first
    batch's shapes, as Keras does (an output of one column: binary; integer labels, a rank lower
    than the output's or a last dimension of 1: sparse categorical; otherwise categorical)."""

    loadable = False  # compile's stand-in for "accuracy": files name the string

    def __init__(self, name: str | None = "accuracy", dtype=None):
        self.inner = None
        super().__init__(dtype=dtype, name=name)

    def update(self, output, target, logits: bool, sample_weight=None) -> None:
        if self.inner is None:
            if output.shape[-1] == 1:
                cls = BinaryAccuracy
            elif target.ndim < output.ndim or target.shape[-1] == 1:
                cls = SparseCategoricalAccuracy
            else:
                cls = CategoricalAccuracy
            self.inner = cls(name=self.name)
            self.inner.logit_activation = self.logit_activation
        self.inner.update(output, target, logits, sample_weight)

    def result(self):
        return 0.0 if self.inner is None else self.inner.result()

    def reset(self) -> None:
        if getattr(self, "inner", None) is not None:
            self.inner.reset()


def _not_for_compile(identifier: str):
    """Mean, Sum, Metric, MeanMetricWrapper by class or snake-case name (refused by :func:`_instance`)."""
    return next((cls for cls in _NOT_FOR_COMPILE if identifier in (cls.__name__, keras_snake_case(cls.__name__))), None)


def _by_name(identifier: str) -> Metric:
    cls = _LOOKUP.by_name.get(identifier) or _not_for_compile(identifier) or _LOOKUP.class_names.get(identifier)
    if cls is None:
        fn = registered_function(identifier)
        if fn is not None:
            return _from_function(fn)
        registered = _LOOKUP._registered(identifier)
        if registered is None:
            raise ValueError(
                f"unknown metric {identifier!r}; valid names are {sorted(_LOOKUP.by_name) + list(_ACCURACY_NAMES)} "
                f"or a class name ({', '.join(sorted(_LOOKUP.class_names))})"
            )
        cls = registered
    return _instance(cls, identifier, identifier)


def _instance(cls, shown: str, name: str | None) -> Metric:
    """``cls(name=name)``; ValueError when the class needs arguments (``IoU``, ``PrecisionAtRecall``...)."""
    if cls in _NOT_FOR_COMPILE:
        raise ValueError(f"metric {shown!r} takes values, not (y_true, y_pred): give compile a metric of "
                         "predictions, or a gpunet.metrics.MeanMetricWrapper(fn)")
    try:
        return cls(name=name)
    except TypeError as exc:
        raise ValueError(f"metric {shown!r} needs arguments ({exc}): give compile a "
                         f"gpunet.metrics.{cls.__name__}(...) object") from None


def _function_metric(name) -> Metric:
    fn = FUNCTIONS.get(name) if isinstance(name, str) else None
    fn = fn or registered_function(name)
    if fn is None:
        raise ValueError(f"unknown metric function {name!r}: a function of gpunet.metrics, or one registered with "
                         "@gpunet.saving.register_serializable()")
    return _from_function(fn)


def serialize(metric) -> dict:
    """``{"class_name", "config"}`` for a metric object; Keras's form of a function
    (``{"class_name": "function", "config": name}``, with a user function's registered name) for
    a metric function."""
    if callable(metric) and not isinstance(metric, (Metric, type)):
        name = function_name(metric)
        if name in FUNCTIONS:
            return {"module": "keras.metrics", "class_name": "function", "config": name, "registered_name": "function"}
        return {"module": getattr(metric, "__module__", None), "class_name": "function",
                "config": getattr(metric, "__name__", name), "registered_name": name}
    return _LOOKUP.serialize(metric)


def deserialize(config: dict, custom_objects=None) -> Metric:
    """A metric from :func:`serialize`'s form (Keras's ``{"class_name", "config"}``);
    ``custom_objects`` maps names to user classes or functions, as in Keras."""
    with custom_object_scope(custom_objects):
        if isinstance(config, dict) and config.get("class_name") == "function":
            registered = config.get("registered_name")
            return _function_metric(registered if registered not in (None, "function") else config.get("config"))
        return _LOOKUP.deserialize(config, _keep)


ACCURACIES = (*ACCURACIES, AccuracyByShape)  # noqa: PLE0604 - "accuracy" beside a loss of no kind

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
