"""Loss functions: cross-entropy (fused with log-softmax), binary cross-entropy, mean squared and
absolute error, Huber, KL divergence.

Each returns the mean over the batch (over all elements for the elementwise losses, which for one
output per sample is the same thing), as PyTorch's ``reduction="mean"``; the elementwise losses
also give one loss per sample (``per_sample=True``), as Keras's loss functions do.
"""

from __future__ import annotations

import numpy

from ..gpu import kernels
from ..autograd import Function, Tensor, as_tensor
from ..backend import constant_vector, get_array_module, to_host
from .activation import sigmoid_forward, softmax_terms

__all__ = ["cross_entropy", "mse", "binary_cross_entropy", "check_class_labels"]

_LOG_FLOOR = -100.0  # PyTorch's clamp of log(p) in binary cross-entropy
_EPSILON = 1e-12


class SparseCrossEntropy(Function):
    """Mean over the batch of ``-log softmax(z)[y]`` for integer labels ``y``.

    Forward keeps the softmax probabilities ``p``; backward is ``(p - onehot(y)) / N``.
    """

    def forward(self, logits, labels):
        xp = get_array_module(logits)
        n = logits.shape[0]
        shifted, e, total = softmax_terms(logits, axis=1)
        rows = self.rows = constant_vector("arange", n, numpy.int64, logits)
        # mean over the batch of log(total) - shifted[true class]: finite for any logits
        loss = (xp.log(total).sum() - shifted[rows, labels].sum()) * (1.0 / n)
        e /= total
        self.p, self.labels = e, labels
        return xp.asarray(loss, dtype=logits.dtype)

    def backward(self, gy):
        scale = gy * (1.0 / self.p.shape[0])
        return kernels.softmax_cross_entropy_grad(self.p, self.rows, self.labels, scale), None


class DenseCrossEntropy(Function):
    """Mean over the batch of ``-sum_c t_c log softmax(z)_c`` for probability (or one-hot) targets."""

    def forward(self, logits, targets):
        xp = get_array_module(logits)
        shifted, e, total = softmax_terms(logits, axis=1)
        shifted -= xp.log(total)  # log-probabilities
        loss = -(targets * shifted).sum() / logits.shape[0]
        e /= total
        self.p, self.targets = e, targets
        self.logp = shifted if self.needs_input_grad[1] else None
        return xp.asarray(loss, dtype=logits.dtype)

    def backward(self, gy):
        scale = gy / self.p.shape[0]
        t = self.targets
        gz = (self.p * t.sum(axis=1, keepdims=True) - t) * scale if self.needs_input_grad[0] else None
        gt = -self.logp * scale if self.needs_input_grad[1] else None
        return gz, gt


class ElementwiseLoss(Function):
    """Base of losses computed term by term, ``loss(pred, target)`` of equal shapes.

    ``terms(pred, target)`` gives every element's loss and keeps what ``term_grads`` needs;
    ``term_grads(scale)`` gives ``scale * d terms / d pred`` and ``scale * d terms / d target``
    (``None`` where ``needs_input_grad`` says no). The terms are averaged over the last axis
    (summed with ``sums_last_axis``, as for a KL divergence over classes), which is one loss per
    sample, then over the samples. ``per_sample=True`` stops before the last step and returns the
    per-sample losses (Keras's loss functions); the default returns their mean (what ``fit``
    trains on, PyTorch's ``reduction="mean"``).
    """

    sums_last_axis = False

    def __init__(self, per_sample: bool = False):
        self.per_sample = per_sample

    def forward(self, pred, target):
        terms = self.terms(pred, target)
        self.shape = terms.shape
        if self.per_sample:
            return terms.sum(axis=-1) if self.sums_last_axis else terms.mean(axis=-1)
        if self.sums_last_axis and terms.ndim:
            return terms.sum() * (terms.shape[-1] / terms.size) if terms.size else terms.sum()
        return terms.mean()

    def backward(self, gy):
        shape = self.shape
        if self.per_sample:
            scale = gy[..., None] if shape else gy
            if not self.sums_last_axis and shape:
                scale = scale * (1.0 / shape[-1])
        else:
            size = max(int(numpy.prod(shape)), 1)
            scale = gy * ((shape[-1] if self.sums_last_axis and shape else 1) / size)
        return self.term_grads(scale)

    def terms(self, pred, target):  # pragma: no cover - interface
        raise NotImplementedError

    def term_grads(self, scale):  # pragma: no cover - interface
        raise NotImplementedError

    def _wanted(self, gp, gt):
        need_p, need_t = self.needs_input_grad
        return (gp() if need_p else None, gt() if need_t else None)


class MeanSquaredError(ElementwiseLoss):
    """Terms ``(p - t) ** 2``."""

    def terms(self, pred, target):
        self.diff = pred - target
        return self.diff * self.diff

    def term_grads(self, scale):
        g = self.diff * (2 * scale)
        return g if self.needs_input_grad[0] else None, -g if self.needs_input_grad[1] else None


class MeanAbsoluteError(ElementwiseLoss):
    """Terms ``|p - t|``; the gradient at ``p = t`` is 0."""

    def terms(self, pred, target):
        xp = get_array_module(pred)
        diff = pred - target
        self.sign = xp.sign(diff)
        return xp.abs(diff)

    def term_grads(self, scale):
        g = self.sign * scale
        return g if self.needs_input_grad[0] else None, -g if self.needs_input_grad[1] else None


class Huber(ElementwiseLoss):
    """Terms ``e ** 2 / 2`` where ``|e| <= delta``, else ``delta * (|e| - delta / 2)``, for
    ``e = p - t``: quadratic near the target, linear (robust to outliers) beyond ``delta``."""

    def __init__(self, delta: float = 1.0, per_sample: bool = False):
        super().__init__(per_sample)
        self.delta = delta

    def terms(self, pred, target):
        xp = get_array_module(pred)
        error = pred - target
        size = xp.abs(error)
        quadratic = xp.minimum(size, self.delta)
        self.slope = xp.clip(error, -self.delta, self.delta)  # d terms / d e
        return 0.5 * quadratic * quadratic + self.delta * (size - quadratic)

    def term_grads(self, scale):
        g = self.slope * scale
        return g if self.needs_input_grad[0] else None, -g if self.needs_input_grad[1] else None


class KLDivergence(ElementwiseLoss):
    """Terms ``t log(t / p)`` with ``t`` and ``p`` clipped to ``[eps, 1]`` (as Keras, so that a
    zero probability stays finite), summed over the last axis (the classes)."""

    sums_last_axis = True

    def __init__(self, epsilon: float = 1e-7, per_sample: bool = False):
        super().__init__(per_sample)
        self.epsilon = epsilon

    def terms(self, pred, target):
        xp = get_array_module(pred)
        p = xp.clip(pred, self.epsilon, 1.0)
        t = xp.clip(target, self.epsilon, 1.0)
        self.p, self.t = p, t
        self.p_inside = (pred >= self.epsilon) & (pred <= 1.0)
        self.t_inside = (target >= self.epsilon) & (target <= 1.0)
        self.log_ratio = xp.log(t / p)
        return t * self.log_ratio

    def term_grads(self, scale):
        return self._wanted(lambda: -(self.t / self.p) * self.p_inside * scale,
                            lambda: (self.log_ratio + 1) * self.t_inside * scale)


class BinaryCrossEntropyWithLogits(ElementwiseLoss):
    """Terms ``max(z, 0) - z t + log(1 + exp(-|z|))``: stable for any logit."""

    def terms(self, z, t):
        xp = get_array_module(z)
        self.z, self.t = z, t
        return xp.maximum(z, 0) - z * t + xp.log1p(xp.exp(-xp.abs(z)))

    def term_grads(self, scale):
        return self._wanted(lambda: (sigmoid_forward(self.z) - self.t) * scale, lambda: -self.z * scale)


class BinaryCrossEntropy(ElementwiseLoss):
    """Terms ``-(t log p + (1 - t) log(1 - p))`` with each log clamped at -100 (as PyTorch)."""

    def terms(self, p, t):
        xp = get_array_module(p)
        with numpy.errstate(divide="ignore"):
            log_p = xp.maximum(xp.log(p), _LOG_FLOOR)
            log_q = xp.maximum(xp.log1p(-p), _LOG_FLOOR)
        self.p, self.t, self.log_p, self.log_q = p, t, log_p, log_q
        return -(t * log_p + (1 - t) * log_q)

    def term_grads(self, scale):
        xp = get_array_module(self.p)
        p, t = self.p, self.t
        return self._wanted(lambda: (p - t) / xp.maximum(p * (1 - p), _EPSILON) * scale,
                            lambda: (self.log_q - self.log_p) * scale)


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------
def check_class_labels(labels, num_classes: int, name: str = "labels") -> None:
    """Raise ValueError unless ``labels`` are integers in ``[0, num_classes)`` (one host sync)."""
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers (class indices), got dtype {labels.dtype}")
    if labels.size:
        low, high = (int(v) for v in to_host(get_array_module(labels).stack([labels.min(), labels.max()])))
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"{name} must lie in [0, {num_classes}) for {num_classes} classes; found values from {low} to {high}"
            )


def _check_float(t: Tensor, name: str) -> None:
    if t.dtype.kind != "f":
        raise TypeError(f"{name} must be floating-point, got dtype {t.dtype}")


def _match_target(pred: Tensor, target: Tensor, name: str) -> Tensor:
    """Accept targets of the prediction's shape, or of shape (N,) for predictions of shape (N, 1)."""
    if target.shape == pred.shape:
        return target
    if pred.shape == target.shape + (1,):
        return target.reshape(pred.shape)
    raise ValueError(f"{name} must have the predictions' shape {pred.shape}, got {target.shape}")


# ----------------------------------------------------------------------------------------------
# functional API
# ----------------------------------------------------------------------------------------------
def cross_entropy(logits, labels) -> Tensor:
    """Softmax cross-entropy from logits of shape (N, C), mean over the batch.

    ``labels`` are either integer class indices of shape (N,) or probability/one-hot targets of
    shape (N, C). Computed as a fused, max-shifted log-softmax + negative log-likelihood: finite
    for logits of any size. Gradient: ``(softmax(z) - target) / N``.
    """
    logits = as_tensor(logits)
    labels = as_tensor(labels, like=logits)
    _check_float(logits, "logits")
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (batch, classes), got shape {logits.shape}")
    if labels.dtype.kind in "iu":
        if labels.shape != logits.shape[:1]:
            raise ValueError(f"integer labels must have shape ({logits.shape[0]},) to match the logits, got {labels.shape}")
        check_class_labels(labels.data, logits.shape[1])
        return SparseCrossEntropy()(logits, labels)
    if labels.dtype.kind == "f":
        if labels.shape != logits.shape:
            raise ValueError(f"probability targets must have the logits' shape {logits.shape}, got {labels.shape}")
        return DenseCrossEntropy()(logits, labels)
    raise TypeError(f"labels must be integer class indices or float probabilities, got dtype {labels.dtype}")


def mse(pred, target) -> Tensor:
    """Mean squared error ``mean((pred - target) ** 2)`` over all elements."""
    pred = as_tensor(pred)
    target = as_tensor(target, like=pred)
    _check_float(pred, "pred")
    target = _match_target(pred, target, "target")
    return MeanSquaredError()(pred, target)


def binary_cross_entropy(pred, target, from_logits: bool = False) -> Tensor:
    """Binary cross-entropy, mean over all elements; targets in [0, 1].

    With ``from_logits=True`` ``pred`` holds logits and the loss is computed stably as
    ``max(z, 0) - z t + log(1 + exp(-|z|))``; otherwise ``pred`` holds probabilities and each
    log term is clamped at -100 (PyTorch's convention), so ``p = 0`` or ``1`` stays finite.
    """
    pred = as_tensor(pred)
    target = as_tensor(target, like=pred)
    _check_float(pred, "pred")
    if target.dtype.kind not in "fiub":
        raise TypeError(f"target must be numeric, got dtype {target.dtype}")
    if target.dtype.kind != "f":
        target = Tensor._result(target.data.astype(pred.dtype), None)
    target = _match_target(pred, target, "target")
    return (BinaryCrossEntropyWithLogits() if from_logits else BinaryCrossEntropy())(pred, target)


# ----------------------------------------------------------------------------------------------
# Keras's other elementwise losses (terms averaged over the last axis)
# ----------------------------------------------------------------------------------------------
class AbsolutePercentageError(ElementwiseLoss):
    """Terms ``100 |t - p| / max(|t|, eps)``: the error relative to the target, in percent."""

    def __init__(self, epsilon: float = 1e-7, per_sample: bool = False):
        super().__init__(per_sample)
        self.epsilon = epsilon

    def terms(self, pred, target):
        xp = get_array_module(pred)
        diff = pred - target
        self.scale = xp.maximum(xp.abs(target), self.epsilon)
        self.sign, self.size = xp.sign(diff), xp.abs(diff)
        self.t_sign = xp.sign(target) * (xp.abs(target) > self.epsilon)
        return 100.0 * self.size / self.scale

    def term_grads(self, scale):
        g = (100.0 * scale) / self.scale
        return self._wanted(lambda: self.sign * g, lambda: -(self.sign + self.size * self.t_sign / self.scale) * g)


class SquaredLogarithmicError(ElementwiseLoss):
    """Terms ``(log(max(p, eps) + 1) - log(max(t, eps) + 1)) ** 2``."""

    def __init__(self, epsilon: float = 1e-7, per_sample: bool = False):
        super().__init__(per_sample)
        self.epsilon = epsilon

    def terms(self, pred, target):
        xp = get_array_module(pred)
        self.p1 = xp.maximum(pred, self.epsilon) + 1
        self.t1 = xp.maximum(target, self.epsilon) + 1
        self.p_inside, self.t_inside = pred > self.epsilon, target > self.epsilon
        self.diff = xp.log(self.p1) - xp.log(self.t1)
        return self.diff * self.diff

    def term_grads(self, scale):
        g = 2 * self.diff * scale
        return self._wanted(lambda: g * self.p_inside / self.p1, lambda: -g * self.t_inside / self.t1)


class LogCosh(ElementwiseLoss):
    """Terms ``log(cosh(p - t))``, computed as ``e + softplus(-2 e) - log 2`` (finite for any
    error); the derivative is ``tanh(e)``."""

    def terms(self, pred, target):
        xp = get_array_module(pred)
        error = pred - target
        self.slope = xp.tanh(error)
        z = -2 * error
        return error + xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z))) - numpy.log(2.0).astype(pred.dtype)

    def term_grads(self, scale):
        g = self.slope * scale
        return self._wanted(lambda: g, lambda: -g)


class Poisson(ElementwiseLoss):
    """Terms ``p - t log(p + eps)``: the negative log-likelihood of counts ``t`` under a Poisson
    distribution of mean ``p`` (up to a term without ``p``)."""

    def __init__(self, epsilon: float = 1e-7, per_sample: bool = False):
        super().__init__(per_sample)
        self.epsilon = epsilon

    def terms(self, pred, target):
        xp = get_array_module(pred)
        self.shifted, self.t = pred + self.epsilon, target
        self.log_p = xp.log(self.shifted)
        return pred - target * self.log_p

    def term_grads(self, scale):
        return self._wanted(lambda: (1 - self.t / self.shifted) * scale, lambda: -self.log_p * scale)


class Hinge(ElementwiseLoss):
    """Terms ``max(1 - t p, 0)`` (squared with ``squared=True``) for targets in {-1, 1}; targets
    that are all 0 or 1 are first mapped to -1 and 1, as Keras does (decided per batch)."""

    def __init__(self, squared: bool = False, per_sample: bool = False):
        super().__init__(per_sample)
        self.squared = squared

    def terms(self, pred, target):
        xp = get_array_module(pred)
        binary = ((target == 0) | (target == 1)).all()  # stays on the device
        self.t_scale = xp.where(binary, 2.0, 1.0).astype(pred.dtype)
        t = xp.where(binary, 2 * target - 1, target)
        self.margin = xp.maximum(1 - t * pred, 0)
        self.p, self.t = pred, t
        return self.margin * self.margin if self.squared else self.margin

    def term_grads(self, scale):
        slope = (2 * self.margin if self.squared else (self.margin > 0)) * scale
        return self._wanted(lambda: -self.t * slope, lambda: -self.p * self.t_scale * slope)


# ----------------------------------------------------------------------------------------------
# pieces of masked losses: functions of the targets, recomputed whenever a recorded step replays
# ----------------------------------------------------------------------------------------------
class KeptLabels(Function):
    """Integer labels with ``ignore_class`` replaced by 0 (any valid class: its loss is masked)."""

    def __init__(self, ignore_class: int):
        self.ignore_class = ignore_class

    def forward(self, labels):
        return get_array_module(labels).where(labels == self.ignore_class, 0, labels)

    def backward(self, gy):  # pragma: no cover - labels take no gradient
        return (None,)


class LabelMask(Function):
    """``1.0`` where the label is not ``ignore_class``, else ``0.0`` (in ``dtype``)."""

    def __init__(self, ignore_class: int, dtype):
        self.ignore_class, self.dtype = ignore_class, dtype

    def forward(self, labels):
        return (labels != self.ignore_class).astype(self.dtype)

    def backward(self, gy):  # pragma: no cover - labels take no gradient
        return (None,)


class InverseSum(Function):
    """``1 / sum(x)``, or 0 when the sum is 0 (Keras's ``divide_no_nan``): the divisor of a mean
    over the valid entries of a mask, or over the sample weights."""

    def forward(self, x):
        xp = get_array_module(x)
        total = x.sum()
        return xp.where(total != 0, 1 / xp.where(total != 0, total, 1), 0).astype(x.dtype)

    def backward(self, gy):  # pragma: no cover - masks and weights take no gradient
        return (None,)
