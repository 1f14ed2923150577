"""Variable (also called Parameter): a weight, Keras 3's ``keras.Variable`` on gpunet's Tensor.

A Variable *is* a Tensor (autograd sees it as a leaf, and every operator applies to it), with
what Keras's variables add: a name, a ``trainable`` flag, in-place ``assign``, and a
``constraint``. ``Parameter`` is the same class under the name the autograd layer used first.

Where gpunet's Variable differs from Keras's, and why:

- ``name`` holds the weight's *path* (``"dense/kernel"``), as ``path`` does; Keras's ``name`` is
  the last part alone (``"kernel"``). Optimizer state, checkpoints and the weight files are keyed
  by that path, so the attribute keeps it; :attr:`Variable.path` reads the same string.
- ``dtype`` is a NumPy dtype, not a string (gpunet's ops read ``dtype.kind`` and
  ``dtype.type``); it compares equal to the string (``v.dtype == "float32"``) and
  ``str(v.dtype)`` is Keras's spelling.
- A NumPy float64 array keeps float64 when ``dtype`` is not given (Keras turns it into
  ``float32``), as everywhere in gpunet: Python floats and lists become float32 in both.
- A trainable Variable holds floats; an integer or boolean one must be ``trainable=False``.
- ``value`` is the Variable itself (a Tensor), so that ``v.value.grad`` reads its gradient as in
  the PyTorch guide of Keras 3.
"""

from __future__ import annotations

import itertools

import numpy

from .. import backend
from .tensor import Tensor, _as_array

__all__ = ["Parameter", "Variable", "clear_variable_names"]

_AGGREGATIONS = ("none", "mean", "sum", "only_first_replica")
_SYNCHRONIZATIONS = ("none", "on_read", "on_write", "auto")
_auto_names = itertools.count()


def clear_variable_names() -> None:
    """Restart the automatic names ``variable``, ``variable_1``, ... (``gpunet.utils.clear_session``)."""
    global _auto_names
    _auto_names = itertools.count()


def _auto_name() -> str:
    count = next(_auto_names)
    return "variable" if count == 0 else f"variable_{count}"


def _choice(value, allowed, argument):
    """``value`` (None meaning ``"none"``, as in Keras) checked against ``allowed``."""
    value = "none" if value is None else value
    if value not in allowed:
        raise ValueError(f"{argument} must be one of {', '.join(map(repr, allowed))} (or None), got {value!r}")
    return value


def _initial_values(initializer, shape, dtype):
    """The starting array: ``initializer(shape, dtype)`` for an initializer (its name, object or a
    callable), which needs ``shape``; else the values given, with ``shape`` checked against them."""
    if isinstance(initializer, str) or callable(initializer):
        from .. import initializers  # noqa: PLC0415 - initializers sit above autograd

        if shape is None:
            raise ValueError(f"shape must be given when the Variable starts from an initializer, got initializer={initializer!r}")
        shape = _checked_shape(shape)
        dtype = backend.floatx() if dtype is None else dtype
        values = initializers.get(initializer)(shape, dtype)
        values = _as_array(backend.to_device(values), dtype)
        if values.shape != shape:
            raise ValueError(f"the initializer returned shape {values.shape}, expected shape={shape}")
        return values
    if isinstance(initializer, Tensor):
        initializer = initializer.data
    if dtype is not None and not hasattr(initializer, "dtype"):  # Python values: straight to dtype
        try:
            initializer = numpy.asarray(initializer, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"initializer must be numeric array-like or an initializer, got {initializer!r}: {exc}") from None
    values = _as_array(initializer, dtype)
    if values is initializer:  # a backend array: the Variable owns a copy, never the caller's array
        values = values.copy()
    if shape is not None and _checked_shape(shape) != values.shape:
        raise ValueError(f"shape={_checked_shape(shape)!r} does not match the initial value's shape {values.shape}")
    return values


def _checked_shape(shape) -> tuple:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or any(
            isinstance(d, bool) or not isinstance(d, (int, numpy.integer)) or d < 0 for d in shape):
        raise ValueError(f"shape must be a tuple of non-negative integers, got {shape!r}")
    return tuple(int(d) for d in shape)


class Variable(Tensor):
    """A weight: Keras 3's ``keras.Variable``, and a Tensor that autograd differentiates.

    Layers create theirs with ``add_weight`` and name them ``"<layer>/<weight>"``; optimizers key
    their state by that path, so it must be unique within a model. A trainable variable (the
    default) requires gradients; a non-trainable one (a moving average, the weights of a frozen
    layer) is a constant for autograd, and optimizers leave it alone. ``constraint``
    (:mod:`gpunet.constraints`), when set, projects the weight after each optimizer update.
    See the module docstring for where it differs from Keras's.

    Args:
        initializer: the initial values (an array, a Tensor, a number, nested lists), or an
            initializer (a name such as ``"zeros"``, an object of :mod:`gpunet.initializers`, or
            a callable ``(shape, dtype) -> array``), which then needs ``shape``.
        shape: the shape, required with an initializer (checked against values when given).
        dtype: the dtype; default: that of the values (Python floats: ``float32``), or
            ``gpunet.backend.floatx()`` with an initializer.
        trainable: whether optimizers update it (settable later, as ``v.trainable = False``).
        autocast: only True (a layer casts its weights to its compute dtype; other values are refused).
        aggregation, synchronization: Keras's distribution arguments, checked and recorded (gpunet
            runs on one device per process, and its data-parallel training averages gradients).
        layout: only None (Keras's distribution layout).
        name: the name (default ``"variable"``, ``"variable_1"``, ...); a layer's weights carry
            their path, ``"dense/kernel"``.
        constraint: gpunet's keyword for setting :attr:`constraint` at creation.

    Example::

        v = gpunet.Variable([1.0, 2.0], name="v")
        loss = (v * v).sum()
        loss.backward()
        v.value.grad                  # array([2., 4.], dtype=float32)
        with gpunet.no_grad():
            v.assign_sub(0.1 * v.grad)  # v is now [0.8, 1.6]
    """

    __slots__ = ("constraint", "_aggregation", "_synchronization")
    trainable_changes = 0  # counts assignments to any variable's ``trainable`` (recorded graphs depend on them)

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, autocast=True, aggregation="none",
                 synchronization="auto", name=None, layout=None, *, constraint=None):
        if layout is not None:
            raise ValueError(f"gpunet does not support layout={layout!r} (a distribution layout): leave it None")
        if autocast is not True:
            raise ValueError(f"gpunet does not support autocast={autocast!r} yet: a layer's weights are always cast "
                             "to its compute dtype (leave autocast=True)")
        if name is None:
            name = _auto_name()
        elif not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        aggregation = _choice(aggregation, _AGGREGATIONS, "aggregation")
        synchronization = _choice(synchronization, _SYNCHRONIZATIONS, "synchronization")
        if dtype is not None:
            try:
                dtype = numpy.dtype(dtype)
            except TypeError:
                raise ValueError(f"dtype must be a NumPy dtype or its name, got {dtype!r}") from None
        values = _initial_values(initializer, shape, dtype)
        if values.dtype.kind != "f" and trainable:
            raise TypeError(f"a trainable Variable must hold floating-point data, got dtype {values.dtype} "
                            "(an integer or boolean Variable needs trainable=False)")
        super().__init__(values, requires_grad=bool(trainable), name=name)
        self.constraint = constraint
        self._aggregation = aggregation
        self._synchronization = synchronization

    @classmethod
    def sharing(cls, array, name: str, trainable: bool = False) -> Variable:
        """A Variable over ``array`` itself, not a copy (for state kept elsewhere, such as an
        optimizer's slots, shown as Variables): assigning to it writes into ``array``."""
        variable = cls(array.reshape(-1)[:0], trainable=trainable, name=name)  # the checks, on an empty copy
        variable.data = array
        return variable

    # -- Keras's properties -----------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        """Whether the optimizer updates this weight (the same flag as ``requires_grad``)."""
        return self.requires_grad

    @trainable.setter
    def trainable(self, value) -> None:
        if value and self.data.dtype.kind != "f":
            raise TypeError(f"an integer or boolean Variable cannot be trainable (dtype {self.data.dtype})")
        self.requires_grad = bool(value)
        Variable.trainable_changes += 1

    @property
    def path(self) -> str:
        """The weight's path, ``"dense/kernel"`` (the same string as :attr:`name` in gpunet)."""
        return self.name

    @property
    def value(self) -> Variable:
        """The current value: the Variable itself, a Tensor (``v.value.grad`` is its gradient)."""
        return self

    @property
    def aggregation(self) -> str:
        return self._aggregation

    @property
    def synchronization(self) -> str:
        return self._synchronization

    def numpy(self) -> numpy.ndarray:
        """A host NumPy copy of the values: a snapshot that later updates leave unchanged."""
        return numpy.array(backend.to_host(self.data), copy=True)

    def __array__(self, dtype=None, copy=None):
        values = backend.to_host(self.data)
        return numpy.array(values, dtype=dtype, copy=True) if copy or dtype is not None else values

    # -- assignment ------------------------------------------------------------------------------
    def assign(self, value) -> Variable:
        """Write ``value`` (array, Tensor or number of the variable's shape) into the variable, in
        place: its array stays the same object, so optimizer state and recorded graphs keep
        pointing at it. The value is cast to the variable's dtype. Returns the variable."""
        new = self._as_value(value, "assign")
        if new.shape != self.data.shape:
            raise ValueError(f"assign: the value's shape {new.shape} does not match the variable "
                             f"{self.name!r} of shape {self.data.shape}")
        self.data[...] = new
        return self

    def assign_add(self, value) -> Variable:
        """``v.assign(v + value)``, in place (``value`` may broadcast to the variable's shape)."""
        return self.assign(self.data + self._as_value(value, "assign_add"))

    def assign_sub(self, value) -> Variable:
        """``v.assign(v - value)``, in place (``value`` may broadcast to the variable's shape)."""
        return self.assign(self.data - self._as_value(value, "assign_sub"))

    def _as_value(self, value, method):
        if isinstance(value, Tensor):
            value = value.data
        try:
            value = backend.on_device_of(value, self.data)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{method}: value must be numeric array-like, got {type(value).__name__}: {exc}") from None
        if value.dtype.kind not in "fiub":
            raise TypeError(f"{method}: value must hold numbers, got dtype {value.dtype}")
        return value.astype(self.data.dtype, copy=False)

    def __repr__(self) -> str:
        extra = "" if self.requires_grad else ", trainable=False"
        return f"Variable(path={self.name!r}, shape={self.shape}, dtype={self.dtype}{extra})"


Parameter = Variable  # gpunet's first name for it: one class under both names
