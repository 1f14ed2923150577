"""Weight constraints: projections applied to a weight after each optimizer update (Keras 3's).

A layer takes them as ``kernel_constraint``, ``bias_constraint`` (``Dense``, ``Conv1D``,
``Conv2D``), ``beta_constraint``/``gamma_constraint`` (the normalization layers) and
``alpha_constraint`` (``PReLU``), by object, by name or by config dict (:func:`get`). As in Keras,
the weight is replaced by ``constraint(weight)`` after every update of the optimizer, and only
weights the optimizer updated (trainable ones) are constrained. Keras's classes, arguments,
defaults and formulas, with ``epsilon = 1e-7`` (Keras's ``backend.epsilon()``):

* ``MaxNorm(max_value=2, axis=0)``: ``w * clip(n, 0, max_value) / (epsilon + n)``, ``n`` the L2
  norms of ``w`` along ``axis`` (for a Dense kernel ``(in, out)``, ``axis=0``: each unit's
  incoming weights; for a Conv2D kernel, ``axis=[0, 1, 2]``: each filter);
* ``MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)``: the norms moved to
  ``rate * clip(n, min_value, max_value) + (1 - rate) * n``;
* ``UnitNorm(axis=0)``: ``w / (epsilon + n)``;
* ``NonNeg()``: ``max(w, 0)``;
* ``Constraint``: the base class, the identity.

gpunet applies the built-in ones in place (the weight's own memory, no copy of it), in the fit
step right after ``optimizer.apply_gradients``. A subclass writes ``__call__(w) -> array`` with the
array module of ``w`` (NumPy or CuPy), as Keras's do with ``keras.ops``::

    @gpunet.saving.register_serializable(package="my_project")
    class Clip(gpunet.constraints.Constraint):
        def __init__(self, limit=1.0):
            self.limit = limit

        def __call__(self, w):
            return gpunet.backend.get_array_module(w).clip(w, -self.limit, self.limit)

        def get_config(self):
            return {"limit": self.limit}
"""

from __future__ import annotations

import math
import numbers

from .autograd import GraphConfig, Tensor
from .backend import get_array_module
from .lookup import Configurable, Lookup, Registered, custom_object_scope, snake_case

__all__ = [
    "Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm", "non_neg", "unit_norm",
    "get", "serialize", "deserialize", "apply", "project",
]

EPSILON = 1e-7  # Keras's backend.epsilon()


def _number(value, name, low=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or (
            low is not None and value < low):
        bound = f" >= {low}" if low is not None else ""
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return value


def _axis(axis):
    """An int or a list of ints (Keras's forms), kept as given (a tuple becomes a list)."""
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis and all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
        if len(set(axis)) != len(axis):
            raise ValueError(f"axis must not repeat an axis, got {axis!r}")
        return [int(a) for a in axis]
    raise ValueError(f"axis must be an integer or a non-empty list of integers, got {axis!r}")


def _array(w):
    return w.data if isinstance(w, Tensor) else w


class Constraint(Configurable, GraphConfig, Registered):
    """Base class: ``constraint(w)`` returns the projected weight (here ``w`` unchanged).

    ``constrain_in_place(w)`` writes the projection into ``w`` itself; gpunet calls it after
    each update. Its default assigns ``self(w)``; the built-in constraints override it to work
    in ``w``'s own memory. (A constraint is a ``GraphConfig``: changing its settings during fit
    is seen by a captured CUDA graph of the train step, which then captures again.)
    """

    registry_kind = "constraint"  # gpunet's own constraints join the registry as they are defined

    def __call__(self, w):
        return _array(w)

    def constrain_in_place(self, w) -> None:
        _assign(w, self(w))


class _Norms(Constraint):
    """What MaxNorm, MinMaxNorm and UnitNorm share: the L2 norms of ``w`` along ``axis``, and
    ``w`` rescaled by ``desired / (epsilon + norms)``."""

    def _norms(self, w):
        xp = get_array_module(w)
        axis = self.axis if isinstance(self.axis, int) else tuple(self.axis)
        if w.ndim == 0:
            raise ValueError(f"{type(self).__name__} needs a weight with at least one dimension, got a scalar")
        for a in [axis] if isinstance(axis, int) else axis:
            if not -w.ndim <= a < w.ndim:
                raise ValueError(f"{type(self).__name__}: axis {a} is out of range for a weight of shape {tuple(w.shape)}")
        norms = xp.square(w).sum(axis=axis, keepdims=True)
        return xp.sqrt(norms, out=norms)

    def _factor(self, norms):
        """``desired / (epsilon + norms)``, in ``norms``' memory."""
        raise NotImplementedError  # pragma: no cover - interface

    def __call__(self, w):
        w = _array(w)
        return w * self._factor(self._norms(w))

    def constrain_in_place(self, w) -> None:
        w *= self._factor(self._norms(w))


class MaxNorm(_Norms):
    """Caps the L2 norm of the weights along ``axis`` at ``max_value``.

    Args:
        max_value: the largest norm (2).
        axis: an int or a list of ints (0: the columns of a Dense kernel).

    >>> MaxNorm(1.0)(numpy.array([[3.0, 0.3], [4.0, 0.4]])).round(6).tolist()
    [[0.6, 0.3], [0.8, 0.4]]
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = _number(max_value, "max_value", 0)
        self.axis = _axis(axis)

    def _factor(self, norms):
        desired = get_array_module(norms).clip(norms, 0, self.max_value)
        norms += EPSILON
        desired /= norms
        return desired

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(_Norms):
    """Keeps the L2 norm of the weights along ``axis`` between ``min_value`` and ``max_value``,
    moving it ``rate`` of the way there at each step (``rate=1``: all the way).

    Args:
        min_value: the smallest norm (0.0). max_value: the largest (1.0).
        rate: in [0, 1]; the norm becomes ``rate * clip(n, min_value, max_value) + (1 - rate) * n``.
        axis: an int or a list of ints (0).
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number(min_value, "min_value", 0)
        self.max_value = _number(max_value, "max_value", 0)
        if self.min_value > self.max_value:
            raise ValueError(f"min_value ({min_value!r}) must not exceed max_value ({max_value!r})")
        self.rate = _number(rate, "rate", 0)
        if rate > 1:
            raise ValueError(f"rate must be a finite number in [0, 1], got {rate!r}")
        self.axis = _axis(axis)

    def _factor(self, norms):
        desired = get_array_module(norms).clip(norms, self.min_value, self.max_value)
        desired *= self.rate
        desired += (1 - self.rate) * norms
        norms += EPSILON
        desired /= norms
        return desired

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class UnitNorm(_Norms):
    """Scales the weights along ``axis`` to unit L2 norm.

    Args:
        axis: an int or a list of ints (0).
    """

    def __init__(self, axis=0):
        self.axis = _axis(axis)

    def __call__(self, w):
        w = _array(w)
        norms = self._norms(w)
        norms += EPSILON
        return w / norms

    def constrain_in_place(self, w) -> None:
        norms = self._norms(w)
        norms += EPSILON
        w /= norms

    def get_config(self):
        return {"axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to 0: ``max(w, 0)``."""

    def __call__(self, w):
        w = _array(w)
        return get_array_module(w).maximum(w, 0)

    def constrain_in_place(self, w) -> None:
        get_array_module(w).maximum(w, 0, out=w)


# Keras's lowercase names for the classes
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

# gpunet's constraints join the registry as they are defined; Keras also names the base class
_LOOKUP = Lookup(Constraint.registry_kind, Constraint, short_name=snake_case, aliases={"constraint": Constraint})


def get(identifier):
    """A constraint from None (None), a name (``"max_norm"``, ``"MaxNorm"``: default arguments),
    a config dict (``{"class_name": "MaxNorm", "config": {"max_value": 3, "axis": 0}}``, as files
    hold it), a Constraint object or class, or any callable ``f(w) -> array`` (returned as it is)."""
    if identifier is None:
        return None
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if isinstance(identifier, (str, dict, Constraint)):
        return _LOOKUP.get(identifier)
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    raise TypeError(f"a constraint must be None, a name, a config dict, a Constraint or a callable, "
                    f"got {type(identifier).__name__}")


def serialize(constraint):
    """Keras's form, ``{"class_name": "MaxNorm", "config": {"max_value": 2, "axis": 0}}`` (with
    ``"registered_name"`` for a registered user class); None for None."""
    return None if constraint is None else _LOOKUP.serialize(constraint)


def deserialize(config, custom_objects=None) -> Constraint:
    """Rebuild a constraint from :func:`serialize`'s (or Keras's) form; ``custom_objects`` maps
    class names to user classes, as in Keras."""
    with custom_object_scope(custom_objects):
        return _LOOKUP.deserialize(config)


def project(constraint, w) -> None:
    """Project the array ``w`` (a weight's data) with ``constraint``, in place: a Constraint's
    :meth:`~Constraint.constrain_in_place`, or ``w[...] = constraint(w)`` for a plain callable
    (which must keep ``w``'s shape)."""
    if isinstance(constraint, Constraint):
        constraint.constrain_in_place(w)
    else:
        _assign(w, constraint(w))


def _assign(w, result) -> None:
    """``w[...] = result`` for a constraint's result, which must have ``w``'s shape (never broadcast)."""
    result = _array(result)
    if getattr(result, "shape", None) != w.shape:
        raise ValueError(f"a constraint must return an array of the weight's shape {tuple(w.shape)}, "
                         f"got {getattr(result, 'shape', type(result).__name__)}")
    if result is not w:
        w[...] = result


def apply(weights) -> None:
    """Apply each weight's ``constraint`` (those that have one) to it, in place. Every
    optimizer's ``apply_gradients`` already does this for the weights it updates, as Keras's
    does; this is for weights changed some other way (``set_weights`` leaves them as given)."""
    for weight in weights:
        constraint = weight.constraint
        if constraint is not None:
            project(constraint, weight.data)


from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
