"""Weight regularizers: penalties on a layer's weights or outputs, added to the training loss.

Keras 3's classes, arguments, defaults and formulas:

* ``L1(l1=0.01)``: ``l1 * sum(|w|)``;
* ``L2(l2=0.01)``: ``l2 * sum(w^2)`` (no factor 1/2);
* ``L1L2(l1=0.0, l2=0.0)``: the sum of both; a term whose factor is 0 is left out;
* ``OrthogonalRegularizer(factor=0.01, mode="rows")``: for a 2-D weight, the mean absolute cosine
  similarity between its rows (``mode="columns"``: its columns), times ``factor / 2``:
  ``factor * 0.5 * sum_{i != j} |<u_i, u_j>| / (n (n - 1) / 2)``, ``u_i`` the L2-normalized rows
  (a norm below ``1e-7`` is taken as ``1e-7``, as Keras's ``normalize``), ``n`` their number;
* ``Regularizer``: the base class, whose penalty is 0.

The module also exports Keras's lowercase names for the classes: ``l1``, ``l2``, ``l1_l2`` and
``orthogonal_regularizer`` (``gpunet.regularizers.l2(0.001)``).

Calling a regularizer on a Tensor returns a scalar Tensor made of gpunet ops, so its gradient
flows into the weight (``|w|`` has the subgradient 0 at ``w = 0``, as TensorFlow and PyTorch) and a
recorded tape replays it. Layers take them as ``kernel_regularizer``, ``bias_regularizer`` and
``activity_regularizer``, by object, by name or by config dict (:func:`get`).

A layer's ``activity_regularizer`` enters the loss as :func:`activity_penalty`: the penalty on the
output divided by the output's batch size, as Keras does.

Names, as Keras 3's ``regularizers.get``: ``"l1"`` gives ``L1(0.01)``, ``"l2"`` gives ``L2(0.01)``,
``"l1l2"`` gives ``L1L2()`` (both factors 0: no penalty), ``"orthogonal_regularizer"`` gives
``OrthogonalRegularizer(0.01, "rows")``, as do the class names. ``"l1_l2"``, which
Keras 3's documentation gives as ``L1L2(l1=0.01, l2=0.01)`` but its ``get`` refuses, gives that
documented regularizer here.
"""

from __future__ import annotations

import math
import numbers

from . import ops
from .autograd import Function, Tensor, as_tensor
from .backend import get_array_module
from .lookup import Configurable, Lookup, Registered, custom_object_scope, snake_case

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2", "orthogonal_regularizer",
           "get", "serialize", "deserialize", "activity_penalty"]


def _factor(value, name, default):
    """A penalty factor: a finite number >= 0 (None: the default), as a float."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _penalty(x, l1, l2) -> Tensor:
    """``l1 * sum(|x|) + l2 * sum(x^2)`` in ``x``'s dtype, a term with a zero factor left out."""
    x = as_tensor(x)
    total = None
    if l1:
        total = ops.sum(ops.maximum(x, ops.neg(x))) * l1  # |x|; ties split the gradient: 0 at x = 0
    if l2:
        term = ops.sum(x * x) * l2
        total = term if total is None else total + term
    if total is None:
        return Tensor(get_array_module(x.data).zeros((), dtype=x.dtype))
    return total


class Regularizer(Configurable, Registered):
    """Base class: ``regularizer(x)`` returns a scalar Tensor, the penalty on ``x`` (here 0).

    A subclass defines ``__call__`` with gpunet ops and ``get_config``; registered with
    ``@gpunet.saving.register_serializable()``, it is found again by name in model files::

        @gpunet.saving.register_serializable(package="my_project")
        class L4(Regularizer):
            def __init__(self, factor=0.01):
                self.factor = factor

            def __call__(self, x):
                return ((x * x) * (x * x)).sum() * self.factor

            def get_config(self):
                return {"factor": self.factor}
    """

    registry_kind = "regularizer"  # gpunet's own regularizers join the registry as they are defined

    def __call__(self, x) -> Tensor:
        return _penalty(x, 0.0, 0.0)


class L1(Regularizer):
    """``l1 * sum(|x|)``.

    Args:
        l1: the factor, a finite number >= 0 (None: 0.01).

    >>> L1(0.5)(Tensor(numpy.array([1.0, -2.0]))).item()
    1.5
    """

    def __init__(self, l1=0.01):
        self.l1 = _factor(l1, "l1", 0.01)

    def __call__(self, x) -> Tensor:
        return _penalty(x, self.l1, 0.0)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x^2)`` (Keras's form: no factor 1/2, so the gradient is ``2 * l2 * x``).

    Args:
        l2: the factor, a finite number >= 0 (None: 0.01).

    >>> L2(0.5)(Tensor(numpy.array([1.0, -2.0]))).item()
    2.5
    """

    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2", 0.01)

    def __call__(self, x) -> Tensor:
        return _penalty(x, 0.0, self.l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x^2)``.

    Args:
        l1: the L1 factor, a finite number >= 0 (None: 0).
        l2: the L2 factor, a finite number >= 0 (None: 0).

    >>> L1L2(l1=0.5, l2=0.5)(Tensor(numpy.array([1.0, -2.0]))).item()
    4.0
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1", 0.0)
        self.l2 = _factor(l2, "l2", 0.0)

    def __call__(self, x) -> Tensor:
        return _penalty(x, self.l1, self.l2)

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode="rows"``) or columns (``mode="columns"``) of a 2-D weight towards
    orthogonality: ``factor / 2`` times the mean of ``|cos|`` between every pair of them.

    For a Dense kernel ``(in, units)``, ``"columns"`` makes the units' weight vectors orthogonal
    and ``"rows"`` the input features' (Keras's wording: rows mode "makes the feature vectors
    orthogonal"). A weight with fewer than two rows (columns) has no pair and is refused.

    Args:
        factor: a finite number >= 0 (0.01).
        mode: ``"rows"`` (default) or ``"columns"``.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor(factor, "factor", 0.01)
        if mode not in ("rows", "columns"):
            raise ValueError(f"mode must be 'rows' or 'columns', got {mode!r}")
        self.mode = mode

    def __call__(self, x) -> Tensor:
        x = as_tensor(x)
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer needs a 2-D weight, got shape {tuple(x.shape)}")
        axis = 1 if self.mode == "rows" else 0
        size = x.shape[1 - axis]
        if size < 2:
            raise ValueError(f"OrthogonalRegularizer(mode={self.mode!r}) needs at least 2 {self.mode}, got shape "
                             f"{tuple(x.shape)}")
        xp = get_array_module(x.data)
        squares = ops.sum(x * x, axis=axis, keepdims=True)
        inverse_norms = ops.pow(ops.maximum(squares, 1e-14), -0.5)  # min(1 / norm, 1 / epsilon), epsilon = 1e-7
        unit = x * inverse_norms
        products = ops.matmul(unit, ops.transpose(unit)) if axis == 1 else ops.matmul(ops.transpose(unit), unit)
        off_diagonal = products * Tensor(1 - xp.eye(size, dtype=x.dtype))
        pairs = size * (size - 1) / 2
        return ops.sum(ops.maximum(off_diagonal, ops.neg(off_diagonal))) * (self.factor * 0.5 / pairs)

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


# Keras's lowercase names for the classes
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

# gpunet's regularizers join the registry as they are defined; Keras also names the base class
_LOOKUP = Lookup(Regularizer.registry_kind, Regularizer, short_name=snake_case,
                 aliases={"l1l2": L1L2, "regularizer": Regularizer})


def get(identifier):
    """A regularizer from None (None), a name (``"l2"``), a config dict
    (``{"class_name": "L2", "config": {"l2": 0.01}}``, as Keras files hold it), a Regularizer
    object or class, or any callable ``f(x) -> scalar Tensor`` (returned as it is)."""
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier.lower() == "l1_l2":
        return L1L2(l1=0.01, l2=0.01)
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if isinstance(identifier, (str, dict, Regularizer)):
        return _LOOKUP.get(identifier)
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    raise TypeError(
        "a regularizer must be None, a name, a config dict, a Regularizer or a callable, "
        f"got {type(identifier).__name__}"
    )


def serialize(regularizer):
    """Keras's form, ``{"class_name": "L2", "config": {"l2": 0.01}}`` (with ``"registered_name"``
    for a registered user class), which Keras reads back; None for None."""
    return None if regularizer is None else _LOOKUP.serialize(regularizer)


def deserialize(config, custom_objects=None) -> Regularizer:
    """Rebuild a regularizer from :func:`serialize`'s (or Keras's) form; ``custom_objects`` maps
    class names to user classes, as in Keras."""
    with custom_object_scope(custom_objects):
        return _LOOKUP.deserialize(config)


class _PerExample(Function):
    """``penalty / n``, ``n`` the batch size (first dimension) of ``output``, read at every forward
    so that a replayed tape divides a smaller last batch by its own size. Inputs: penalty, output."""

    def forward(self, penalty, output):
        self.n = max(output.shape[0], 1) if output.ndim else 1
        return penalty / self.n

    def backward(self, gy):
        return (gy / self.n if self.needs_input_grad[0] else None, None)


def activity_penalty(regularizer, output) -> Tensor:
    """Keras's activity-regularization term for one output of a layer call:
    ``regularizer(output) / batch_size``, the batch size being ``output``'s first dimension
    (a 0-d output is not divided), so that the term's weight does not change with the batch size.
    """
    output = as_tensor(output)
    return _PerExample()(regularizer(output), output)

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
