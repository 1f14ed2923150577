"""Loss objects for ``model.compile(loss=...)``, called Keras-style as ``loss(y_true, y_pred)``.

When the model's last layer ends in softmax (sigmoid) and the loss is a cross-entropy on
probabilities (``from_logits=False``), the model hands the loss its logits instead and the loss
is computed as one stable log-softmax (log-sigmoid): no ``log(0)``, no overflow.

The losses, by Keras's names: ``SparseCategoricalCrossentropy``, ``CategoricalCrossentropy`` and
``BinaryCrossentropy`` (``from_logits``; the last two also ``label_smoothing``),
``MeanSquaredError``, ``MeanAbsoluteError``, ``Huber(delta)``, ``KLDivergence``; the functions
``categorical_crossentropy(y_true, y_pred)``... give one loss per sample, as Keras's do.
"""

from __future__ import annotations

import inspect
import math
import numbers

from . import ops
from .autograd import GraphConfig, Tensor, as_tensor
from .lookup import Lookup, get_registered_name, get_registered_object
from .ops import loss as loss_ops

__all__ = [
    "Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
    "MeanSquaredError", "MeanAbsoluteError", "Huber", "KLDivergence", "LossFunctionWrapper",
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
    "mean_squared_error", "mean_absolute_error", "huber", "kl_divergence",
    "get", "serialize",
]

_EPSILON = 1e-7  # Keras's clip of probabilities before the log


class Loss(GraphConfig):
    """Base class.

    ``loss(y_true, y_pred)`` checks its arguments and returns the mean loss as a Tensor;
    ``loss.per_sample(y_true, y_pred)`` returns one loss per sample (what Keras's loss functions
    return), whose mean is the loss. ``compute(output, target, logits)`` and
    ``compute_per_sample`` are the unchecked forms the training loop calls with targets it has
    already checked; ``logits`` tells whether ``output`` holds logits (true with
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

    def per_sample(self, y_true, y_pred) -> Tensor:
        """One loss per sample, shape (N,): the losses whose mean ``loss(y_true, y_pred)`` is."""
        y_pred = as_tensor(y_pred)
        y_true = as_tensor(y_true, like=y_pred)
        self.check(y_pred, y_true)
        return self.compute_per_sample(y_pred, y_true, self.from_logits)

    def check(self, output: Tensor, target: Tensor) -> None:
        """Raise ValueError/TypeError for targets that do not fit the outputs."""

    def check_output(self, activation: str | None) -> None:
        """Raise ValueError when a model whose output ends in ``activation`` (a name, or None when
        unknown) cannot give this loss what it needs; fit and evaluate ask before starting."""

    def compute(self, output: Tensor, target: Tensor, logits: bool) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def compute_per_sample(self, output: Tensor, target: Tensor, logits: bool) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "from_logits": self.from_logits}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits})"


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer class labels of shape (N,); mean over the batch. (Keras has no
    label smoothing for integer labels: use one-hot targets and CategoricalCrossentropy.)"""

    supports_recording = True

    name = "sparse_categorical_crossentropy"
    target_kind = "labels"
    fuses_with = "softmax"

    def check(self, output, target):
        if output.ndim != 2:
            raise ValueError(f"outputs must have shape (batch, classes), got {output.shape}")
        if target.shape != output.shape[:1]:
            raise ValueError(f"y_true must hold one class label per sample, shape ({output.shape[0]},), "
                             f"got {target.shape}")
        loss_ops.check_class_labels(target.data, output.shape[1], "y_true")

    def compute(self, output, target, logits):
        if logits:
            return loss_ops.SparseCrossEntropy()(output, target)
        return -ops.log(ops.maximum(ops.pick(output, target), _EPSILON)).mean()

    def compute_per_sample(self, output, target, logits):
        if logits:
            return -ops.pick(ops.log_softmax(output, axis=-1), target)
        return -ops.log(ops.maximum(ops.pick(output, target), _EPSILON))


class CategoricalCrossentropy(Loss):
    """Cross-entropy for one-hot (or probability) targets of shape (N, C); mean over the batch.

    ``label_smoothing=s`` trains on ``t (1 - s) + s / C`` in place of the targets ``t``, as Keras.
    """

    supports_recording = True

    name = "categorical_crossentropy"
    fuses_with = "softmax"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, name: str | None = None):
        super().__init__(from_logits, name)
        self.label_smoothing = _check_label_smoothing(label_smoothing)

    def check(self, output, target):
        if output.ndim != 2 or target.shape != output.shape:
            raise ValueError(f"y_true must have the outputs' shape (batch, classes) {output.shape}, got {target.shape}")

    def compute(self, output, target, logits):
        target = _smooth(target, self.label_smoothing, output.shape[-1])
        if logits:
            return loss_ops.DenseCrossEntropy()(output, target)
        return -(_log_probabilities(output) * target).sum(axis=1).mean()

    def compute_per_sample(self, output, target, logits):
        target = _smooth(target, self.label_smoothing, output.shape[-1])
        log_p = ops.log_softmax(output, axis=-1) if logits else _log_probabilities(output)
        return -(log_p * target).sum(axis=-1)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits}, label_smoothing={self.label_smoothing})"


class ElementwiseLoss(Loss):
    """Base of losses computed element by element (:class:`gpunet.ops.loss.ElementwiseLoss`):
    ``function(logits, per_sample)`` names the op; targets of shape (N,) serve outputs of shape
    (N, 1)."""

    supports_recording = True

    def check(self, output, target):
        _check_same_size(output, target)

    def function(self, logits: bool, per_sample: bool):  # pragma: no cover - interface
        raise NotImplementedError

    def compute(self, output, target, logits):
        return self.function(logits, False)(output, _like_output(target, output))

    def compute_per_sample(self, output, target, logits):
        return self.function(logits, True)(output, _like_output(target, output))


class BinaryCrossentropy(ElementwiseLoss):
    """Binary cross-entropy for targets in [0, 1], mean over all outputs.

    ``label_smoothing=s`` trains on ``t (1 - s) + s / 2`` in place of the targets ``t``, as Keras.
    """

    name = "binary_crossentropy"
    fuses_with = "sigmoid"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, name: str | None = None):
        super().__init__(from_logits, name)
        self.label_smoothing = _check_label_smoothing(label_smoothing)

    def check_output(self, activation):
        if not self.from_logits and activation in ("linear", "tanh", "relu"):
            raise ValueError(
                f"binary_crossentropy takes probabilities, but the model's output activation is {activation}: "
                "for logits use loss=gpunet.losses.BinaryCrossentropy(from_logits=True), or end the model in a sigmoid"
            )

    def compute(self, output, target, logits):
        return super().compute(output, _smooth(target, self.label_smoothing, 2), logits)

    def compute_per_sample(self, output, target, logits):
        return super().compute_per_sample(output, _smooth(target, self.label_smoothing, 2), logits)

    def function(self, logits, per_sample):
        cls = loss_ops.BinaryCrossEntropyWithLogits if logits else loss_ops.BinaryCrossEntropy
        return cls(per_sample=per_sample)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits}, label_smoothing={self.label_smoothing})"


class _RegressionLoss(ElementwiseLoss):
    """A loss of real-valued outputs: no ``from_logits``."""

    def __init__(self, name: str | None = None):
        super().__init__(False, name)

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"


class MeanSquaredError(_RegressionLoss):
    """Mean of ``(y_pred - y_true) ** 2`` over all outputs."""

    name = "mean_squared_error"

    def function(self, logits, per_sample):
        return loss_ops.MeanSquaredError(per_sample=per_sample)


class MeanAbsoluteError(_RegressionLoss):
    """Mean of ``|y_pred - y_true|`` over all outputs."""

    name = "mean_absolute_error"

    def function(self, logits, per_sample):
        return loss_ops.MeanAbsoluteError(per_sample=per_sample)


class Huber(_RegressionLoss):
    """Huber loss: for ``e = y_pred - y_true``, ``e ** 2 / 2`` where ``|e| <= delta`` and
    ``delta * (|e| - delta / 2)`` beyond; mean over all outputs. Squared error near the target,
    absolute error far from it, so that outliers pull less.

    Args:
        delta: where the loss turns from quadratic to linear (a positive number; default 1).

    >>> model.compile(optimizer="adam", loss=gpunet.losses.Huber(delta=2.0))
    """

    name = "huber_loss"

    def __init__(self, delta: float = 1.0, name: str | None = None):
        super().__init__(name)
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not 0 < delta < math.inf:
            raise ValueError(f"delta must be a positive number, got {delta!r}")
        self.delta = float(delta)

    def function(self, logits, per_sample):
        return loss_ops.Huber(self.delta, per_sample=per_sample)

    def get_config(self):
        return {"name": self.name, "delta": self.delta}

    def __repr__(self):
        return f"Huber(delta={self.delta})"


class KLDivergence(_RegressionLoss):
    """Kullback-Leibler divergence ``sum_c t_c log(t_c / p_c)`` of the predicted distribution from
    the target one, with both clipped to ``[1e-7, 1]`` as Keras does; mean over the batch. Takes
    probabilities (a softmax output), never logits."""

    name = "kl_divergence"

    def function(self, logits, per_sample):
        return loss_ops.KLDivergence(_EPSILON, per_sample=per_sample)


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred, **kwargs)`` that returns one loss per sample
    (a Tensor built with gpunet's ops); the loss is their mean, as when Keras wraps a function.

    Steps with such a loss run eagerly (gpunet cannot tell whether the function records). To save
    and load it by name, register the function with ``@gpunet.saving.register_serializable()``.
    """

    def __init__(self, fn, name: str | None = None, **kwargs):
        if not callable(fn) or isinstance(fn, type):
            raise TypeError(f"fn must be a function fn(y_true, y_pred), got {fn!r}")
        super().__init__(False, name or getattr(fn, "__name__", "loss"))
        self.fn = fn
        self.fn_kwargs = kwargs

    def compute(self, output, target, logits):
        return self.compute_per_sample(output, target, logits).mean()

    def compute_per_sample(self, output, target, logits):
        values = self.fn(target, output, **self.fn_kwargs)
        if not isinstance(values, Tensor):
            raise TypeError(f"the loss function {self.name} must return a gpunet Tensor, got {type(values).__name__}")
        return values

    def get_config(self):
        return {"name": self.name, "fn": get_registered_name(self.fn), **self.fn_kwargs}

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
def _check_same_size(output, target) -> None:
    if target.size != output.size:
        raise ValueError(f"y_true must have the outputs' shape {output.shape}, got {target.shape}")


def _like_output(target, output):
    return target if target.shape == output.shape else ops.reshape(target, (-1, *output.shape[1:]))


def _log_probabilities(output):
    """``log p`` with ``p`` clipped below at 1e-7, as Keras clips probabilities."""
    return ops.log(ops.maximum(output, _EPSILON))


def _check_label_smoothing(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"label_smoothing must be a number in [0, 1], got {value!r}")
    return float(value)


def _smooth(target, amount: float, classes: int):
    """Keras's label smoothing: ``t (1 - s) + s / classes``."""
    return target * (1.0 - amount) + amount / classes if amount else target


def _registered_function(name):
    obj = get_registered_object(name) if isinstance(name, str) else None
    return obj if callable(obj) and not isinstance(obj, type) else None


# ----------------------------------------------------------------------------------------------
# Keras's loss functions: one loss per sample
# ----------------------------------------------------------------------------------------------
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False) -> Tensor:
    """Per-sample ``-log p[y]`` for integer labels ``y_true`` of shape (N,); shape (N,)."""
    return SparseCategoricalCrossentropy(from_logits).per_sample(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0) -> Tensor:
    """Per-sample ``-sum_c t_c log p_c`` for one-hot (or probability) targets; shape (N,)."""
    return CategoricalCrossentropy(from_logits, label_smoothing).per_sample(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0) -> Tensor:
    """Per-sample binary cross-entropy, the mean over the last axis."""
    return BinaryCrossentropy(from_logits, label_smoothing).per_sample(y_true, y_pred)


def mean_squared_error(y_true, y_pred) -> Tensor:
    """Per-sample ``mean((y_pred - y_true) ** 2)`` over the last axis."""
    return MeanSquaredError().per_sample(y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> Tensor:
    """Per-sample ``mean(|y_pred - y_true|)`` over the last axis."""
    return MeanAbsoluteError().per_sample(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0) -> Tensor:
    """Per-sample Huber loss (see :class:`Huber`), the mean over the last axis."""
    return Huber(delta).per_sample(y_true, y_pred)


def kl_divergence(y_true, y_pred) -> Tensor:
    """Per-sample ``sum_c t_c log(t_c / p_c)`` (see :class:`KLDivergence`)."""
    return KLDivergence().per_sample(y_true, y_pred)


_FUNCTIONS = {
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    binary_crossentropy: BinaryCrossentropy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    huber: Huber,
    kl_divergence: KLDivergence,
}
_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "huber": Huber,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "KLD": KLDivergence,
}
_LOOKUP = Lookup("loss", Loss, _BY_NAME, case_sensitive=True)
_LOOKUP.class_names[LossFunctionWrapper.__name__] = LossFunctionWrapper  # found in files, not by a short name

# settings Keras writes in a loss's config, with the values under which gpunet computes the same loss
_KERAS_NEUTRAL = {
    "reduction": ("sum_over_batch_size", "mean", "mean_with_sample_weight"),
    "axis": (-1,),
    "ignore_class": (None,),
}


def _keep(cls, config: dict) -> dict:
    """The constructor arguments of a gpunet loss from a config (Keras's included); ValueError
    for a setting that would make it another loss than gpunet computes."""
    for key, neutral in _KERAS_NEUTRAL.items():
        if key in config and config[key] not in neutral:
            raise ValueError(f"loss {cls.__name__}: {key}={config[key]!r} is not supported by gpunet "
                             f"(accepted: {', '.join(repr(v) for v in neutral)})")
    allowed = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in config.items() if k in allowed and k != "self"}


def get(identifier) -> Loss:
    """A loss from a name (``"sparse_categorical_crossentropy"``, ``"mse"``, ``"Huber"``...), one of
    the loss functions of this module (``gpunet.losses.huber``), a config dict, a Loss object
    (a user's Loss subclass, registered with ``register_serializable``, included), or any function
    ``fn(y_true, y_pred)`` returning per-sample losses (wrapped in a :class:`LossFunctionWrapper`)."""
    if isinstance(identifier, str) and identifier not in _BY_NAME and identifier not in _LOOKUP.class_names:
        fn = _registered_function(identifier)
        if fn is not None:
            return get(fn)
    if callable(identifier) and not isinstance(identifier, (type, Loss)):
        cls = _FUNCTIONS.get(identifier)
        return cls() if cls is not None else LossFunctionWrapper(identifier)
    return _LOOKUP.get(identifier, lambda config: _LOOKUP.deserialize(config, _keep))


def serialize(loss: Loss) -> dict:
    return _LOOKUP.serialize(loss)

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
