"""Loss objects for ``model.compile(loss=...)``, called Keras-style as ``loss(y_true, y_pred,
sample_weight=None)``, and Keras's loss functions (one loss per sample).

Every loss takes Keras's ``reduction``: ``"sum_over_batch_size"`` (the default) and ``"mean"``
divide the sum of the per-sample losses by their number, ``"sum"`` keeps the sum,
``"mean_with_sample_weight"`` divides by the sum of the sample weights, and ``"none"`` (or
``None``) returns the per-sample losses. ``sample_weight`` (a number, or one weight per sample)
multiplies the per-sample losses before the reduction, as in Keras.

When the model's last layer ends in softmax (sigmoid) and the loss is a cross-entropy on
probabilities (``from_logits=False``), the model hands the loss its logits instead and the loss
is computed as one stable log-softmax (log-sigmoid): no ``log(0)``, no overflow.

The losses, by Keras's names: ``SparseCategoricalCrossentropy`` (``ignore_class``),
``CategoricalCrossentropy``, ``BinaryCrossentropy``, ``CategoricalFocalCrossentropy``,
``BinaryFocalCrossentropy``, ``CategoricalGeneralizedCrossEntropy``, ``MeanSquaredError``,
``MeanAbsoluteError``, ``MeanAbsolutePercentageError``, ``MeanSquaredLogarithmicError``,
``Huber``, ``LogCosh``, ``KLDivergence``, ``Poisson``, ``CosineSimilarity``, ``Hinge``,
``SquaredHinge``, ``CategoricalHinge``, ``Dice``, ``Tversky``; the functions
``categorical_crossentropy(y_true, y_pred)``, ``huber``, ``hinge``... give one loss per sample, as
Keras's do. ``CTC`` and ``Circle`` are not supported yet (:class:`gpunet.errors.NotSupportedYetError`).
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy

from . import backend, ops
from .autograd import GraphConfig, Tensor, as_tensor
from .lookup import Lookup, Registered, custom_object_scope, get_registered_name, get_registered_object, keras_snake_case
from .ops import loss as loss_ops

__all__ = [
    "Loss", "LossFunctionWrapper", "REDUCTIONS",
    "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy", "CategoricalFocalCrossentropy",
    "BinaryFocalCrossentropy", "CategoricalGeneralizedCrossEntropy", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber", "LogCosh", "KLDivergence", "Poisson",
    "CosineSimilarity", "Hinge", "SquaredHinge", "CategoricalHinge", "Dice", "Tversky",
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
    "categorical_focal_crossentropy", "binary_focal_crossentropy", "categorical_generalized_cross_entropy",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
    "huber", "log_cosh", "kl_divergence", "poisson", "cosine_similarity", "hinge", "squared_hinge",
    "categorical_hinge", "dice", "tversky", "mse", "mae", "mape", "msle", "kld", "logcosh",
    "get", "serialize", "deserialize",
]

_EPSILON = 1e-7  # Keras's backend epsilon: the clip of probabilities before a log
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
_MEANS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")


class Loss(GraphConfig, Registered):
    """Base class, with Keras 3's arguments. Every public subclass defined in gpunet joins the
    registry of the kind ``"loss"`` (:mod:`gpunet.lookup`) as it is defined; a user's subclass
    joins it with ``@gpunet.saving.register_serializable()``.

    Args:
        name: the loss's name (default: the class's).
        reduction: how the per-sample losses become the loss (see the module docstring).
        dtype: ``"float32"`` or ``"float64"`` to compute in that dtype (default: the predictions').

    ``loss(y_true, y_pred, sample_weight=None)`` checks its arguments and returns the reduced loss
    as a Tensor; ``loss.per_sample(y_true, y_pred)`` returns the per-sample losses (what Keras's
    loss functions return). ``compute(output, target, logits)`` is the unchecked, unweighted form
    the training loop calls with targets it has already checked; ``logits`` tells whether
    ``output`` holds logits (true with ``from_logits=True``, or when the model fused its final
    softmax/sigmoid into the loss).

    A subclass defines Keras's ``call(y_true, y_pred)`` returning per-sample losses (a Tensor
    built with gpunet's ops), or gpunet's ``compute_per_sample(output, target, logits)``; it may
    override ``compute`` altogether. One written with gpunet's ops only may declare
    ``supports_recording = True`` (see :class:`gpunet.layers.Layer`) so that fit records and
    replays its steps.

    >>> class HalfSquares(gpunet.losses.Loss):
    ...     def call(self, y_true, y_pred):
    ...         return ((y_pred - y_true) * (y_pred - y_true)).mean(axis=-1) * 0.5
    """

    registry_kind = "loss"

    supports_recording = False
    name = "loss"
    target_kind = "float"  # "labels" (integer class indices) or "float"
    fuses_with: str | None = None  # the output activation this loss can take logits instead of
    from_logits = False

    def __init__(self, name: str | None = None, reduction="sum_over_batch_size", dtype=None):
        if name is not None:
            if not isinstance(name, str) or not name:
                raise TypeError(f"name must be a non-empty string or None, got {name!r}")
            self.name = name
        self.reduction = _check_reduction(reduction)
        self.dtype = _check_dtype(dtype)

    # -- Keras's entry points ---------------------------------------------------------------------
    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        output, target = self._inputs(y_true, y_pred)
        if sample_weight is None:
            return self.compute(output, target, self.from_logits)
        weight = _weight_tensor(sample_weight, output)
        values = self.compute_per_sample(output, target, self.from_logits)
        return self.reduce(values, weight, self.mask(target))

    def per_sample(self, y_true, y_pred) -> Tensor:
        """The per-sample losses (no reduction): what Keras's loss functions return."""
        output, target = self._inputs(y_true, y_pred)
        return self.compute_per_sample(output, target, self.from_logits)

    def call(self, y_true, y_pred) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred) returning per-sample "
                                  "losses, or compute(output, target, logits)")

    # -- what the training loop calls ---------------------------------------------------------------
    def check(self, output: Tensor, target: Tensor) -> None:
        """Raise ValueError/TypeError for targets that do not fit the outputs."""

    def check_output(self, activation: str | None) -> None:
        """Raise ValueError when a model whose output ends in ``activation`` (a name, or None when
        unknown) cannot give this loss what it needs; fit and evaluate ask before starting."""
        if self.reduction in ("none", None):
            raise ValueError(f"loss {self.name}: reduction={self.reduction!r} gives one loss per sample, but fit and "
                             "evaluate need one number: use 'sum_over_batch_size' (the default) or 'sum'")

    def compute(self, output: Tensor, target: Tensor, logits: bool) -> Tensor:
        """The loss of checked targets, reduced as ``reduction`` says (no sample weights)."""
        if self.dtype is not None:
            output = ops.cast(output, self.dtype)
        mask = self.mask(target)
        if mask is None and self.reduction in _MEANS:
            return self.compute_mean(output, target, logits)
        return self.reduce(self.compute_per_sample(output, target, logits), None, mask)

    def compute_mean(self, output: Tensor, target: Tensor, logits: bool) -> Tensor:
        """The mean of the per-sample losses (a subclass may fuse it into one op)."""
        return self.compute_per_sample(output, target, logits).mean()

    def compute_per_sample(self, output: Tensor, target: Tensor, logits: bool) -> Tensor:
        values = self.call(target, output)
        if not isinstance(values, Tensor):
            raise TypeError(f"{type(self).__name__}.call must return a gpunet Tensor, got {type(values).__name__}")
        return values

    def mask(self, target: Tensor):
        """The per-sample mask of entries that count (a Tensor of 0 and 1), or None: all count."""
        return None

    def reduce(self, values: Tensor, weight: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        """Keras's reduction of per-sample losses: masked entries weigh 0 (and, for the means,
        the others ``size / valid``), the weights multiply, then sum, or sum divided by the
        number of losses (or by the sum of the weights for ``"mean_with_sample_weight"``)."""
        if mask is not None:
            if self.reduction in ("sum_over_batch_size", "mean"):
                mask = mask * (loss_ops.InverseSum()(mask) * float(mask.size))
            weight = mask if weight is None else _product(mask, weight)
        if weight is not None:
            values, weight = _same_rank(values, weight)
            try:
                numpy.broadcast_shapes(values.shape, weight.shape)
            except ValueError:
                raise ValueError(f"sample_weight of shape {weight.shape} does not fit the losses of shape "
                                 f"{values.shape}") from None
            values = values * weight
        if self.reduction in ("none", None) or values.ndim == 0 or values.shape == (0,):
            return values
        total = values.sum()
        if self.reduction == "sum":
            return total
        if self.reduction == "mean_with_sample_weight" and weight is not None:
            return total * loss_ops.InverseSum()(weight)
        return total * (1.0 / values.size)

    # -- configuration ----------------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name, "reduction": self.reduction}
        if self.dtype is not None:
            config["dtype"] = self.dtype
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def _inputs(self, y_true, y_pred):
        """``y_pred`` and ``y_true`` as Tensors, as Keras converts them (floats in the loss's
        dtype; float targets in the predictions' dtype), checked."""
        output = as_tensor(y_pred)
        if self.dtype is not None or output.dtype.kind != "f":
            output = ops.cast(output, self.dtype or backend.floatx())
        target = as_tensor(y_true, like=output)
        if self.target_kind == "labels":
            target = _as_labels(target, output)
        elif target.dtype != output.dtype:
            if target.dtype.kind not in "fiub":
                raise TypeError(f"y_true must hold numbers, got dtype {target.dtype}")
            target = ops.cast(target, output.dtype)
        self.check(output, target)
        return output, target

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer class labels of shape (N,) (or (N, 1)) and outputs (N, C).

    Args:
        from_logits: the outputs are logits (else probabilities, clipped to ``[1e-7, 1]``).
        ignore_class: a label (such as -1 or 255) whose samples give zero loss and are left out
            of the mean, as Keras does: the mean is over the other samples (0 when none is left).
        reduction, name, dtype: as :class:`Loss`; ``axis`` must be -1 (the classes last).

    (Keras has no label smoothing for integer labels: use one-hot targets and
    :class:`CategoricalCrossentropy`.)

    >>> loss = gpunet.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    """

    supports_recording = True

    name = "sparse_categorical_crossentropy"
    target_kind = "labels"
    fuses_with = "softmax"

    def __init__(self, from_logits: bool = False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name: str | None = None, dtype=None):
        super().__init__(name, reduction, dtype)
        self.from_logits = _check_bool(from_logits, "from_logits")
        if ignore_class is not None and (isinstance(ignore_class, bool) or not isinstance(ignore_class, numbers.Integral)):
            raise TypeError(f"ignore_class must be an integer class label or None, got {ignore_class!r}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.axis = _check_last_axis(axis)

    def check(self, output, target):
        _check_labels(output, target, self.ignore_class)

    def mask(self, target):
        if self.ignore_class is None:
            return None
        return loss_ops.LabelMask(self.ignore_class, backend.floatx())(target)

    def compute_mean(self, output, target, logits):
        if logits:
            return loss_ops.SparseCrossEntropy()(output, target)
        return -ops.log(ops.maximum(ops.pick(output, target), _EPSILON)).mean()

    def compute_per_sample(self, output, target, logits):
        labels = target if self.ignore_class is None else loss_ops.KeptLabels(self.ignore_class)(target)
        if logits:
            values = -ops.pick(ops.log_softmax(output, axis=-1), labels)
        else:
            values = -ops.log(ops.maximum(ops.pick(output, labels), _EPSILON))
        if self.ignore_class is not None:  # ignored samples give 0
            values = values * ops.cast(loss_ops.LabelMask(self.ignore_class, output.dtype)(target), values.dtype)
        return values

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class}


class CategoricalCrossentropy(Loss):
    """Cross-entropy for one-hot (or probability) targets of the outputs' shape, (N, C) or (N, ..., C):
    over the last axis at every position, the positions averaged as Keras does.

    Args:
        from_logits: the outputs are logits (else probabilities, clipped below at 1e-7).
        label_smoothing: train on ``t (1 - s) + s / C`` in place of the targets ``t``, as Keras.
        axis: must be -1 (the classes last); reduction, name, dtype: as :class:`Loss`.
    """

    supports_recording = True

    name = "categorical_crossentropy"
    fuses_with = "softmax"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis=-1,
                 reduction="sum_over_batch_size", name: str | None = None, dtype=None):
        super().__init__(name, reduction, dtype)
        self.from_logits = _check_bool(from_logits, "from_logits")
        self.label_smoothing = _check_label_smoothing(label_smoothing)
        self.axis = _check_last_axis(axis)

    def check(self, output, target):
        if output.ndim < 2 or target.shape != output.shape:
            raise ValueError(f"y_true must have the outputs' shape (batch, ..., classes) {output.shape}, "
                             f"got {target.shape}")

    def compute_mean(self, output, target, logits):
        # outputs (batch, steps, ..., classes): the mean over every position, as Keras's
        # sum_over_batch_size divides by the number of per-position losses
        output, target = _class_rows(output), _class_rows(target)
        target = _smooth(target, self.label_smoothing, output.shape[-1])
        if logits:
            return loss_ops.DenseCrossEntropy()(output, target)
        return -(_log_probabilities(output) * target).sum(axis=1).mean()

    def compute_per_sample(self, output, target, logits):
        target = _smooth(target, self.label_smoothing, output.shape[-1])
        log_p = ops.log_softmax(output, axis=-1) if logits else _log_probabilities(output)
        return -(log_p * target).sum(axis=-1)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}


class ElementwiseLoss(Loss):
    """Base of losses computed element by element (:class:`gpunet.ops.loss.ElementwiseLoss`):
    ``function(logits, per_sample)`` names the op; targets of shape (N,) serve outputs of shape
    (N, 1). A shared base: files never name it."""

    loadable = False

    supports_recording = True

    def check(self, output, target):
        _check_same_size(output, target)

    def function(self, logits: bool, per_sample: bool):  # pragma: no cover - interface
        raise NotImplementedError

    def compute_mean(self, output, target, logits):
        return self.function(logits, False)(output, _like_output(target, output))

    def compute_per_sample(self, output, target, logits):
        return self.function(logits, True)(output, _like_output(target, output))


class BinaryCrossentropy(ElementwiseLoss):
    """Binary cross-entropy for targets in [0, 1], the mean over the last axis per sample.

    Args:
        from_logits: the outputs are logits (else probabilities; each ``log`` is bounded at -100).
        label_smoothing: train on ``t (1 - s) + s / 2`` in place of the targets ``t``, as Keras.
        axis: must be -1; reduction, name, dtype: as :class:`Loss`.
    """

    name = "binary_crossentropy"
    fuses_with = "sigmoid"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis=-1,
                 reduction="sum_over_batch_size", name: str | None = None, dtype=None):
        super().__init__(name, reduction, dtype)
        self.from_logits = _check_bool(from_logits, "from_logits")
        self.label_smoothing = _check_label_smoothing(label_smoothing)
        self.axis = _check_last_axis(axis)

    def check_output(self, activation):
        super().check_output(activation)
        if not self.from_logits and activation in ("linear", "tanh", "relu"):
            raise ValueError(
                f"binary_crossentropy takes probabilities, but the model's output activation is {activation}: "
                "for logits use loss=gpunet.losses.BinaryCrossentropy(from_logits=True), or end the model in a sigmoid"
            )

    def compute_mean(self, output, target, logits):
        return super().compute_mean(output, _smooth(target, self.label_smoothing, 2), logits)

    def compute_per_sample(self, output, target, logits):
        return super().compute_per_sample(output, _smooth(target, self.label_smoothing, 2), logits)

    def function(self, logits, per_sample):
        cls = loss_ops.BinaryCrossEntropyWithLogits if logits else loss_ops.BinaryCrossEntropy
        return cls(per_sample=per_sample)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}


class _RegressionLoss(ElementwiseLoss):
    """A loss of real-valued outputs, with Keras's arguments ``(reduction, name, dtype)``."""

    def __init__(self, reduction="sum_over_batch_size", name: str | None = None, dtype=None):
        super().__init__(name, reduction, dtype)


class MeanSquaredError(_RegressionLoss):
    """``mean((y_pred - y_true) ** 2)`` over the last axis, per sample."""

    name = "mean_squared_error"

    def function(self, logits, per_sample):
        return loss_ops.MeanSquaredError(per_sample=per_sample)


class MeanAbsoluteError(_RegressionLoss):
    """``mean(|y_pred - y_true|)`` over the last axis, per sample."""

    name = "mean_absolute_error"

    def function(self, logits, per_sample):
        return loss_ops.MeanAbsoluteError(per_sample=per_sample)


class MeanAbsolutePercentageError(_RegressionLoss):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis, per sample."""

    name = "mean_absolute_percentage_error"

    def function(self, logits, per_sample):
        return loss_ops.AbsolutePercentageError(_EPSILON, per_sample=per_sample)


class MeanSquaredLogarithmicError(_RegressionLoss):
    """``mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)) ** 2)`` over the last axis."""

    name = "mean_squared_logarithmic_error"

    def function(self, logits, per_sample):
        return loss_ops.SquaredLogarithmicError(_EPSILON, per_sample=per_sample)


class LogCosh(_RegressionLoss):
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis: about ``e ** 2 / 2`` for small
    errors and ``|e| - log 2`` for large ones (robust to outliers, smooth everywhere)."""

    name = "log_cosh"

    def function(self, logits, per_sample):
        return loss_ops.LogCosh(per_sample=per_sample)


class Poisson(_RegressionLoss):
    """``mean(y_pred - y_true * log(y_pred + 1e-7))`` over the last axis, for count targets."""

    name = "poisson"

    def function(self, logits, per_sample):
        return loss_ops.Poisson(_EPSILON, per_sample=per_sample)


class KLDivergence(_RegressionLoss):
    """Kullback-Leibler divergence ``sum_c t_c log(t_c / p_c)`` of the predicted distribution from
    the target one, with both clipped to ``[1e-7, 1]`` as Keras does. Takes probabilities (a
    softmax output), never logits."""

    name = "kl_divergence"

    def function(self, logits, per_sample):
        return loss_ops.KLDivergence(_EPSILON, per_sample=per_sample)


class Hinge(_RegressionLoss):
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis, for targets -1 and 1 (targets
    that are all 0 or 1 in a batch are read as -1 and 1, as Keras does)."""

    name = "hinge"

    def function(self, logits, per_sample):
        return loss_ops.Hinge(squared=False, per_sample=per_sample)


class SquaredHinge(_RegressionLoss):
    """``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis (targets as :class:`Hinge`)."""

    name = "squared_hinge"

    def function(self, logits, per_sample):
        return loss_ops.Hinge(squared=True, per_sample=per_sample)


class Huber(_RegressionLoss):
    """Huber loss: for ``e = y_pred - y_true``, ``e ** 2 / 2`` where ``|e| <= delta`` and
    ``delta * (|e| - delta / 2)`` beyond; the mean over the last axis per sample. Squared error
    near the target, absolute error far from it, so that outliers pull less.

    Args:
        delta: where the loss turns from quadratic to linear (a positive number; default 1).
        reduction, name, dtype: as :class:`Loss`.

    >>> model.compile(optimizer="adam", loss=gpunet.losses.Huber(delta=2.0))
    """

    name = "huber_loss"

    def __init__(self, delta: float = 1.0, reduction="sum_over_batch_size", name: str | None = None, dtype=None):
        super().__init__(reduction, name, dtype)
        self.delta = _check_positive(delta, "delta")

    def function(self, logits, per_sample):
        return loss_ops.Huber(self.delta, per_sample=per_sample)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class _ComposedLoss(Loss):
    """A loss written with gpunet's ops (their gradients come with them): ``values(output,
    target, logits)`` gives the per-sample losses of targets of the outputs' shape."""

    supports_recording = True

    def check(self, output, target):
        _check_same_size(output, target)

    def compute_per_sample(self, output, target, logits):
        return self.values(output, _like_output(target, output), logits)

    def values(self, output, target, logits):  # pragma: no cover - interface
        raise NotImplementedError


class CosineSimilarity(_ComposedLoss):
    """``-sum(normalize(y_true) * normalize(y_pred))`` along ``axis``: -1 for the same direction,
    0 for orthogonal vectors (a zero vector counts as orthogonal to everything).

    Args:
        axis: the axis of the vectors (default -1).
        reduction, name, dtype: as :class:`Loss`.
    """

    name = "cosine_similarity"

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name: str | None = None, dtype=None):
        super().__init__(name, reduction, dtype)
        self.axis = _check_axis(axis, "axis")

    def values(self, output, target, logits):
        return -(_l2_normalize(target, self.axis) * _l2_normalize(output, self.axis)).sum(axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class CategoricalHinge(_ComposedLoss):
    """``max(neg - pos + 1, 0)`` per sample, with ``pos = sum(y_true * y_pred)`` and
    ``neg = max((1 - y_true) * y_pred)`` over the last axis, for one-hot targets."""

    name = "categorical_hinge"

    def __init__(self, reduction="sum_over_batch_size", name: str | None = None, dtype=None):
        super().__init__(name, reduction, dtype)

    def values(self, output, target, logits):
        positive = (target * output).sum(axis=-1)
        negative = ops.max((1.0 - target) * output, axis=-1)
        return ops.maximum(negative - positive + 1.0, 0.0)


class Dice(_ComposedLoss):
    """``1 - 2 sum(y_true y_pred) / (sum(y_true) + sum(y_pred) + 1e-7)``, the sums over ``axis``
    (all axes by default: then one number for the whole batch, as in Keras).

    Args:
        axis: None, an axis or a tuple of axes to sum over (e.g. ``(1, 2)``: one loss per image).
        reduction, name, dtype: as :class:`Loss`.
    """

    name = "dice"

    def __init__(self, reduction="sum_over_batch_size", name: str | None = None, axis=None, dtype=None):
        super().__init__(name, reduction, dtype)
        self.axis = _check_axes(axis)

    def values(self, output, target, logits):
        overlap = (target * output).sum(axis=self.axis)
        return 1.0 - 2.0 * overlap / (target.sum(axis=self.axis) + output.sum(axis=self.axis) + _EPSILON)

    def get_config(self):
        return {**super().get_config(), "axis": _config_axes(self.axis)}


class Tversky(_ComposedLoss):
    """``1 - tp / (tp + alpha fp + beta fn + 1e-7)`` with ``tp = sum(y_true y_pred)``,
    ``fp = sum((1 - y_pred) y_true)`` and ``fn = sum(y_pred (1 - y_true))`` over ``axis`` (Keras's
    formula, names included); ``alpha = beta = 0.5`` gives :class:`Dice`.

    Args:
        alpha, beta: the weights of the two kinds of error (default 0.5 each).
        axis: as :class:`Dice`; reduction, name, dtype: as :class:`Loss`.
    """

    name = "tversky"

    def __init__(self, alpha: float = 0.5, beta: float = 0.5, reduction="sum_over_batch_size",
                 name: str | None = None, axis=None, dtype=None):
        super().__init__(name, reduction, dtype)
        self.alpha = _check_real(alpha, "alpha")
        self.beta = _check_real(beta, "beta")
        self.axis = _check_axes(axis)

    def values(self, output, target, logits):
        overlap = (target * output).sum(axis=self.axis)
        false_positives = ((1.0 - output) * target).sum(axis=self.axis)
        false_negatives = (output * (1.0 - target)).sum(axis=self.axis)
        return 1.0 - overlap / (overlap + false_positives * self.alpha + false_negatives * self.beta + _EPSILON)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta, "axis": _config_axes(self.axis)}


class BinaryFocalCrossentropy(_ComposedLoss):
    """Binary cross-entropy scaled by ``(1 - p_t) ** gamma`` (Lin et al., 2018), where ``p_t`` is
    the probability given to the true label: easy examples weigh less. The mean over the last
    axis per sample; probabilities are clipped to ``[1e-7, 1 - 1e-7]`` as Keras does.

    Args:
        apply_class_balancing: also weigh positives by ``alpha`` and negatives by ``1 - alpha``.
        alpha: the positives' weight with class balancing (default 0.25).
        gamma: the focusing exponent (default 2; 0 gives plain binary cross-entropy).
        from_logits: the outputs are logits (a sigmoid is applied first).
        label_smoothing: as :class:`BinaryCrossentropy`; axis: must be -1.
        reduction, name, dtype: as :class:`Loss`.
    """

    name = "binary_focal_crossentropy"

    def __init__(self, apply_class_balancing: bool = False, alpha: float = 0.25, gamma: float = 2.0,
                 from_logits: bool = False, label_smoothing: float = 0.0, axis=-1, reduction="sum_over_batch_size",
                 name: str | None = None, dtype=None):
        super().__init__(name, reduction, dtype)
        self.apply_class_balancing = _check_bool(apply_class_balancing, "apply_class_balancing")
        self.alpha = _check_real(alpha, "alpha")
        self.gamma = _check_non_negative(gamma, "gamma")
        self.from_logits = _check_bool(from_logits, "from_logits")
        self.label_smoothing = _check_label_smoothing(label_smoothing)
        self.axis = _check_last_axis(axis)

    def values(self, output, target, logits):
        target = _smooth(target, self.label_smoothing, 2)
        p = ops.sigmoid(output) if logits else output
        clipped = _clip(p, _EPSILON, 1.0 - _EPSILON)
        cross_entropy = -(target * ops.log(clipped) + (1.0 - target) * ops.log(1.0 - clipped))
        p_true = target * p + (1.0 - target) * (1.0 - p)
        focal = (1.0 - p_true) ** self.gamma * cross_entropy
        if self.apply_class_balancing:
            focal = (target * self.alpha + (1.0 - target) * (1.0 - self.alpha)) * focal
        return focal.mean(axis=-1)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma}


class CategoricalFocalCrossentropy(_ComposedLoss):
    """Categorical cross-entropy with each class's term scaled by ``alpha (1 - p_c) ** gamma``
    (Lin et al., 2018); one-hot targets of shape (N, C). Probabilities are renormalised to sum to 1
    and clipped to ``[1e-7, 1 - 1e-7]`` as Keras does.

    Args:
        alpha: the weight of every class (default 0.25).
        gamma: the focusing exponent (default 2; 0 with ``alpha=1`` gives cross-entropy).
        from_logits: the outputs are logits (a softmax is applied first).
        label_smoothing: as :class:`CategoricalCrossentropy`; axis: must be -1.
        reduction, name, dtype: as :class:`Loss`.
    """

    name = "categorical_focal_crossentropy"

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
                 label_smoothing: float = 0.0, axis=-1, reduction="sum_over_batch_size", name: str | None = None,
                 dtype=None):
        super().__init__(name, reduction, dtype)
        if isinstance(alpha, (list, tuple)):
            raise ValueError(f"alpha={alpha!r}: one weight per class is not supported by gpunet (a number only)")
        self.alpha = _check_real(alpha, "alpha")
        self.gamma = _check_non_negative(gamma, "gamma")
        self.from_logits = _check_bool(from_logits, "from_logits")
        self.label_smoothing = _check_label_smoothing(label_smoothing)
        self.axis = _check_last_axis(axis)

    def check(self, output, target):
        if output.ndim < 2 or target.shape != output.shape:
            raise ValueError(f"y_true must have the outputs' shape (batch, classes) {output.shape}, got {target.shape}")

    def values(self, output, target, logits):
        target = _smooth(target, self.label_smoothing, output.shape[-1])
        p = ops.softmax(output, axis=-1) if logits else output
        p = _clip(p / p.sum(axis=-1, keepdims=True), _EPSILON, 1.0 - _EPSILON)
        return ((1.0 - p) ** self.gamma * self.alpha * -(target * ops.log(p))).sum(axis=-1)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "alpha": self.alpha, "gamma": self.gamma}


class CategoricalGeneralizedCrossEntropy(Loss):
    """Generalized cross-entropy (Zhang and Sabuncu, 2018): ``(1 - p_y ** q) / q`` for the
    probability ``p_y`` of the true class; robust to noisy labels. Integer labels of shape (N,)
    (or (N, 1)); probabilities of shape (N, C).

    Args:
        q: in (0, 1): near 0 it behaves as cross-entropy, near 1 as the mean absolute error.
        reduction, name, dtype: as :class:`Loss`.
    """

    supports_recording = True

    name = "categorical_generalized_cross_entropy"
    target_kind = "labels"

    def __init__(self, q: float = 0.5, reduction="sum_over_batch_size", name: str | None = None, dtype=None):
        super().__init__(name, reduction, dtype)
        if isinstance(q, bool) or not isinstance(q, numbers.Real) or not 0 < q < 1:
            raise ValueError(f"q must be a number in the interval (0, 1), got {q!r}")
        self.q = float(q)

    def check(self, output, target):
        _check_labels(output, target)

    def compute_per_sample(self, output, target, logits):
        return (1.0 - ops.pick(output, target) ** self.q) * (1.0 / self.q)

    def get_config(self):
        return {**super().get_config(), "q": self.q}


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred, **kwargs)`` that returns one loss per sample
    (a Tensor built with gpunet's ops), reduced as ``reduction`` says, as when Keras wraps a function.

    Steps with such a loss run eagerly (gpunet cannot tell whether the function records). To save
    and load it by name, register the function with ``@gpunet.saving.register_serializable()``.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name: str | None = None, dtype=None, **kwargs):
        if not callable(fn) or isinstance(fn, type):
            raise TypeError(f"fn must be a function fn(y_true, y_pred), got {fn!r}")
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction, dtype)
        self.fn = fn
        self.fn_kwargs = kwargs

    def compute_per_sample(self, output, target, logits):
        values = self.fn(target, output, **self.fn_kwargs)
        if not isinstance(values, Tensor):
            raise TypeError(f"the loss function {self.name} must return a gpunet Tensor, got {type(values).__name__}")
        return values

    def get_config(self):
        return {**super().get_config(), "fn": get_registered_name(self.fn), **self.fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = _registered_function(config.pop("fn", None))
        if fn is None:
            raise ValueError(f"loss function {config.get('name')!r} is not registered: decorate it with "
                             "@gpunet.saving.register_serializable() before loading")
        return cls(fn, **config)

    def __repr__(self):
        return f"LossFunctionWrapper({self.name})"


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _check_reduction(reduction):
    if reduction not in REDUCTIONS or (reduction is not None and not isinstance(reduction, str)):
        raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
    return reduction


def _check_dtype(dtype):
    if dtype is None:
        return None
    try:
        name = numpy.dtype(getattr(dtype, "name", dtype)).name
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype={dtype!r} is not supported for a loss by gpunet (None, 'float32' or 'float64')")
    return name


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _check_real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _check_positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _check_non_negative(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def _check_axis(axis, name: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {axis!r}")
    return int(axis)


def _check_last_axis(axis) -> int:
    _check_axis(axis, "axis")
    if axis != -1:
        raise ValueError(f"axis={axis!r} is not supported by gpunet (only -1: the classes on the last axis)")
    return -1


def _check_axes(axis):
    """None, an axis, or a tuple of axes (as ``sum(axis=...)`` takes them)."""
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        if not axis:
            raise ValueError("axis must be None, an integer or a non-empty tuple of integers, got ()")
        return tuple(_check_axis(a, "axis") for a in axis)
    return _check_axis(axis, "axis")


def _config_axes(axis):
    return list(axis) if isinstance(axis, tuple) else axis


def _as_labels(target: Tensor, output: Tensor) -> Tensor:
    """Class labels as Keras takes them: shape (N,) or (N, 1), integers or integral floats."""
    if target.ndim == output.ndim and target.ndim and target.shape[-1] == 1:
        target = ops.reshape(target, target.shape[:-1])
    kind = target.dtype.kind
    if kind == "b" or kind not in "iuf":
        raise TypeError(f"y_true must hold integer class labels, got dtype {target.dtype}")
    if kind == "f":
        xp = backend.get_array_module(target.data)
        if not bool(xp.all(xp.isfinite(target.data) & (target.data == xp.round(target.data)))):
            raise ValueError("y_true must hold integer class labels, got non-integer values")
        target = ops.cast(target, numpy.int64)
    return target


def _check_labels(output: Tensor, target: Tensor, ignore_class=None) -> None:
    """Outputs (N, C) and one label in [0, C) per sample (or ``ignore_class``); one host sync."""
    if output.ndim != 2:
        raise ValueError(f"outputs must have shape (batch, classes), got {output.shape}")
    if target.shape != output.shape[:1]:
        raise ValueError(f"y_true must hold one class label per sample, shape ({output.shape[0]},), got {target.shape}")
    labels = target.data
    if ignore_class is not None:
        labels = labels[labels != ignore_class]
    loss_ops.check_class_labels(labels, output.shape[1], "y_true")


def _check_same_size(output, target) -> None:
    if target.size != output.size:
        raise ValueError(f"y_true must have the outputs' shape {output.shape}, got {target.shape}")


def _class_rows(x):
    """``x`` (batch, ..., classes) as rows of classes (positions, classes)."""
    return x if x.ndim == 2 else ops.reshape(x, (-1, x.shape[-1]))


def _like_output(target, output):
    return target if target.shape == output.shape else ops.reshape(target, (-1, *output.shape[1:]))


def _log_probabilities(output):
    """``log p`` with ``p`` clipped below at 1e-7, as Keras clips probabilities."""
    return ops.log(ops.maximum(output, _EPSILON))


def _clip(x, low: float, high: float):
    """``x`` clipped to ``[low, high]`` (differentiable inside)."""
    return -ops.maximum(-ops.maximum(x, low), -high)


def _l2_normalize(x, axis: int):
    """``x / max(||x||, 1e-7)`` along ``axis``, as Keras normalizes (finite for a zero vector)."""
    return x * ops.maximum((x * x).sum(axis=axis, keepdims=True), _EPSILON * _EPSILON) ** -0.5


def _check_label_smoothing(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"label_smoothing must be a number in [0, 1], got {value!r}")
    return float(value)


def _smooth(target, amount: float, classes: int):
    """Keras's label smoothing: ``t (1 - s) + s / classes``."""
    return target * (1.0 - amount) + amount / classes if amount else target


def _weight_tensor(sample_weight, output: Tensor) -> Tensor:
    """Sample weights as a constant Tensor on the outputs' device, in their dtype."""
    try:
        array = backend.on_device_of(numpy.asarray(sample_weight) if isinstance(sample_weight, (list, tuple, numbers.Number))
                                     else sample_weight, output.data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"sample_weight must be a number or an array of numbers, got {type(sample_weight).__name__}") from exc
    if not hasattr(array, "dtype") or array.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight must hold numbers, got {type(sample_weight).__name__}")
    if array.ndim and output.ndim and array.shape[0] != output.shape[0]:
        raise ValueError(f"sample_weight must hold one weight per sample ({output.shape[0]}), got shape {array.shape}")
    return Tensor._result(array.astype(output.dtype, copy=False), None)


def _same_rank(x: Tensor, y: Tensor):
    """Keras's ``squeeze_or_expand_to_same_rank``: when the ranks differ by one and the longer
    one ends in a 1, that axis is squeezed (or, against a rank-1 tensor, added to it)."""
    if x.ndim == y.ndim + 1 and x.shape[-1] == 1:
        if y.ndim == 1:
            return x, ops.reshape(y, (*y.shape, 1))
        return ops.reshape(x, x.shape[:-1]), y
    if y.ndim == x.ndim + 1 and y.shape[-1] == 1:
        if x.ndim == 1:
            return ops.reshape(x, (*x.shape, 1)), y
        return x, ops.reshape(y, y.shape[:-1])
    return x, y


def _product(a: Tensor, b: Tensor) -> Tensor:
    a, b = _same_rank(a, b)
    return a * b


def _registered_function(name):
    obj = get_registered_object(name) if isinstance(name, str) else None
    return obj if callable(obj) and not isinstance(obj, type) else None


# ----------------------------------------------------------------------------------------------
# Keras's loss functions: one loss per sample
# ----------------------------------------------------------------------------------------------
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1) -> Tensor:
    """Per-sample ``-log p[y]`` for integer labels ``y_true`` of shape (N,); shape (N,). Samples
    labelled ``ignore_class`` give 0."""
    return SparseCategoricalCrossentropy(from_logits, ignore_class, axis=axis).per_sample(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> Tensor:
    """Per-sample ``-sum_c t_c log p_c`` for one-hot (or probability) targets; shape (N,)."""
    return CategoricalCrossentropy(from_logits, label_smoothing, axis).per_sample(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> Tensor:
    """Per-sample binary cross-entropy, the mean over the last axis."""
    return BinaryCrossentropy(from_logits, label_smoothing, axis).per_sample(y_true, y_pred)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1) -> Tensor:
    """Per-sample focal cross-entropy (see :class:`CategoricalFocalCrossentropy`)."""
    return CategoricalFocalCrossentropy(alpha, gamma, from_logits, label_smoothing, axis).per_sample(y_true, y_pred)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                              label_smoothing=0.0, axis=-1) -> Tensor:
    """Per-sample binary focal cross-entropy (see :class:`BinaryFocalCrossentropy`)."""
    return BinaryFocalCrossentropy(apply_class_balancing, alpha, gamma, from_logits, label_smoothing,
                                   axis).per_sample(y_true, y_pred)


def categorical_generalized_cross_entropy(y_true, y_pred, q) -> Tensor:
    """Per-sample ``(1 - p_y ** q) / q`` (see :class:`CategoricalGeneralizedCrossEntropy`)."""
    return CategoricalGeneralizedCrossEntropy(q).per_sample(y_true, y_pred)


def mean_squared_error(y_true, y_pred) -> Tensor:
    """Per-sample ``mean((y_pred - y_true) ** 2)`` over the last axis."""
    return MeanSquaredError().per_sample(y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> Tensor:
    """Per-sample ``mean(|y_pred - y_true|)`` over the last axis."""
    return MeanAbsoluteError().per_sample(y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred) -> Tensor:
    """Per-sample ``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis."""
    return MeanAbsolutePercentageError().per_sample(y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred) -> Tensor:
    """Per-sample mean squared error of ``log(max(y, 1e-7) + 1)`` over the last axis."""
    return MeanSquaredLogarithmicError().per_sample(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0) -> Tensor:
    """Per-sample Huber loss (see :class:`Huber`), the mean over the last axis."""
    return Huber(delta).per_sample(y_true, y_pred)


def log_cosh(y_true, y_pred) -> Tensor:
    """Per-sample ``mean(log(cosh(y_pred - y_true)))`` over the last axis."""
    return LogCosh().per_sample(y_true, y_pred)


def kl_divergence(y_true, y_pred) -> Tensor:
    """Per-sample ``sum_c t_c log(t_c / p_c)`` (see :class:`KLDivergence`)."""
    return KLDivergence().per_sample(y_true, y_pred)


def poisson(y_true, y_pred) -> Tensor:
    """Per-sample ``mean(y_pred - y_true * log(y_pred + 1e-7))`` over the last axis."""
    return Poisson().per_sample(y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1) -> Tensor:
    """Per-sample ``-sum(normalize(y_true) * normalize(y_pred))`` along ``axis``."""
    return CosineSimilarity(axis).per_sample(y_true, y_pred)


def hinge(y_true, y_pred) -> Tensor:
    """Per-sample ``mean(max(1 - y_true * y_pred, 0))`` over the last axis (see :class:`Hinge`)."""
    return Hinge().per_sample(y_true, y_pred)


def squared_hinge(y_true, y_pred) -> Tensor:
    """Per-sample ``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis."""
    return SquaredHinge().per_sample(y_true, y_pred)


def categorical_hinge(y_true, y_pred) -> Tensor:
    """Per-sample categorical hinge loss (see :class:`CategoricalHinge`)."""
    return CategoricalHinge().per_sample(y_true, y_pred)


def dice(y_true, y_pred, axis=None) -> Tensor:
    """The Dice loss over ``axis`` (see :class:`Dice`): one number for all axes."""
    return Dice(axis=axis).per_sample(y_true, y_pred)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None) -> Tensor:
    """The Tversky loss over ``axis`` (see :class:`Tversky`)."""
    return Tversky(alpha, beta, axis=axis).per_sample(y_true, y_pred)


# the short names of Keras 2 (tf.keras) that scripts still use
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

_FUNCTIONS = {
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    binary_crossentropy: BinaryCrossentropy,
    categorical_focal_crossentropy: CategoricalFocalCrossentropy,
    binary_focal_crossentropy: BinaryFocalCrossentropy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    huber: Huber,
    log_cosh: LogCosh,
    kl_divergence: KLDivergence,
    poisson: Poisson,
    cosine_similarity: CosineSimilarity,
    hinge: Hinge,
    squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge,
    dice: Dice,
    tversky: Tversky,
}
# Keras's other names for its losses (each loss is also found by its class name, and by the name
# of its Keras function: the class name in snake case)
_ALIASES = {
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "kld": KLDivergence, "KLD": KLDivergence, "kullback_leibler_divergence": KLDivergence,
    "logcosh": LogCosh,
}
_NOT_SUPPORTED = ("CTC", "ctc", "Circle", "circle")  # Keras's, not gpunet's yet: NotSupportedYetError


def _short_name(cls):
    """A loss's Keras function name (``KLDivergence`` -> ``"kl_divergence"``); the wrapper of a
    user's function has none (it needs the function)."""
    return None if cls is LossFunctionWrapper else keras_snake_case(cls.__name__)


_LOOKUP = Lookup("loss", Loss, case_sensitive=True, short_name=_short_name, aliases=_ALIASES)


def _keep(cls, config: dict) -> dict:
    """The constructor arguments of a gpunet loss from a config (Keras's included); settings a
    gpunet loss cannot take are refused by its constructor, never dropped. (The function wrapper,
    which has no short name, takes its config as written.)"""
    if cls not in _LOOKUP.by_name.values():
        return config
    allowed = inspect.signature(cls.__init__).parameters
    if "kwargs" in allowed:
        return config
    unknown = sorted(set(config) - set(allowed) - {"self"})
    if unknown:
        raise ValueError(f"loss {cls.__name__}: unsupported settings {unknown}")
    return config


def _refuse_unsupported(identifier) -> None:
    name = identifier.get("class_name") if isinstance(identifier, dict) else identifier
    if isinstance(name, str) and name in _NOT_SUPPORTED:
        __getattr__(name)  # raises gpunet's NotSupportedYetError for this Keras name


def get(identifier) -> Loss:
    """A loss from a name (``"sparse_categorical_crossentropy"``, ``"mse"``, ``"Huber"``...), one of
    the loss functions of this module (``gpunet.losses.huber``), a config dict, a Loss object
    (a user's Loss subclass, registered with ``register_serializable``, included), or any function
    ``fn(y_true, y_pred)`` returning per-sample losses (wrapped in a :class:`LossFunctionWrapper`)."""
    _refuse_unsupported(identifier)
    if isinstance(identifier, str) and identifier not in _LOOKUP.by_name and identifier not in _LOOKUP.class_names:
        fn = _registered_function(identifier)
        if fn is not None:
            return get(fn)
    if isinstance(identifier, type) and issubclass(identifier, Loss):  # a class: its default instance, as Keras
        if identifier in (Loss, LossFunctionWrapper):
            raise ValueError(f"loss {identifier.__name__} needs arguments: give compile an object")
        return identifier()
    if callable(identifier) and not isinstance(identifier, (type, Loss)):
        cls = _FUNCTIONS.get(identifier)
        return cls() if cls is not None else LossFunctionWrapper(identifier)
    return _LOOKUP.get(identifier, lambda config: _LOOKUP.deserialize(config, _keep))


def serialize(loss: Loss) -> dict:
    return _LOOKUP.serialize(loss)


def deserialize(name: dict, custom_objects=None) -> Loss:
    """A loss from :func:`serialize`'s form (Keras's ``{"class_name", "config"}``; the argument has
    Keras's name); ``custom_objects`` maps class names to user classes, as in Keras."""
    _refuse_unsupported(name)
    with custom_object_scope(custom_objects):
        return _LOOKUP.deserialize(name, _keep)


from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
