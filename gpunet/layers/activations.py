"""Activation layers with settings: LeakyReLU, ReLU, PReLU, ELU, Softmax (Keras 3's arguments,
defaults, weights and configs). ``Activation(name)`` (in ``core.py``) covers the others."""

from __future__ import annotations

import math
import numbers
import warnings

from .. import constraints, initializers, ops, regularizers
from .base import Layer

__all__ = ["LeakyReLU", "ReLU", "PReLU", "ELU", "Softmax"]


def _number(layer, name, value, low=None, allow_none=False):
    """A finite number (>= ``low`` when given), or None when ``allow_none``; ValueError naming it."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or (
            low is not None and value < low):
        bound = f" >= {low}" if low is not None else ""
        none = " or None" if allow_none else ""
        raise ValueError(f"{layer}: {name} must be a finite number{bound}{none}, got {value!r}")
    return float(value)


class LeakyReLU(Layer):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below.

    Args:
        negative_slope: a number >= 0 (default 0.3, Keras's; the ``"leaky_relu"`` activation
            function's default is 0.2). Keras's deprecated ``alpha`` is taken for it, with a warning.

    Example: ``Dense(64), LeakyReLU(negative_slope=0.1)``.
    """

    supports_masking = True

    supports_recording = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU: the argument alpha is deprecated (as in Keras); use negative_slope", UserWarning,
                          stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = _number(type(self).__name__, "negative_slope", negative_slope, 0)

    def call(self, x, training=False):
        return ops.leaky_relu(x, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ReLU(Layer):
    """Keras's rectified linear unit with options: ``min(x, max_value)`` for ``x > threshold``,
    ``negative_slope * (x - threshold)`` otherwise.

    Args:
        max_value: the largest output, a number >= 0, or None (no cap; default).
        negative_slope: the slope below ``threshold``, >= 0 (default 0).
        threshold: where the unit turns on, >= 0 (default 0).

    With the defaults it is ``max(x, 0)``; ``ReLU(max_value=6)`` is relu6.
    """

    supports_masking = True

    supports_recording = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.max_value = _number(name, "max_value", max_value, 0, allow_none=True)
        self.negative_slope = _number(name, "negative_slope", negative_slope, 0)
        self.threshold = _number(name, "threshold", threshold, 0)

    def call(self, x, training=False):
        return ops.general_relu(x, self.negative_slope, self.max_value, self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class ELU(Layer):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: the scale of the negative part (default 1.0).
    """

    supports_masking = True

    supports_recording = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number(type(self).__name__, "alpha", alpha)

    def call(self, x, training=False):
        return ops.elu(x, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """``exp(x) / sum(exp(x))`` along ``axis``, computed on ``x - max(x)``.

    Args:
        axis: an int (default -1) or a list of ints: the softmax is taken over those axes jointly.

    Keras's call argument ``mask`` is not supported: passing one raises ``ValueError``.
    """

    supports_masking = True

    supports_recording = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            axis = int(axis)
        elif isinstance(axis, (list, tuple)) and axis and all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
            axis = [int(a) for a in axis]
        else:
            raise ValueError(f"Softmax: axis must be an integer or a non-empty list of integers, got {axis!r}")
        self.axis = axis

    def _axes(self, ndim):
        axes = [self.axis] if isinstance(self.axis, int) else self.axis
        for a in axes:
            if not -ndim <= a < ndim or a % ndim == 0:
                raise ValueError(f"Softmax {self.name!r}: axis {a} is not a feature axis of {ndim}-dimensional inputs")
        normalized = [a % ndim for a in axes]
        if len(set(normalized)) != len(normalized):
            raise ValueError(f"Softmax {self.name!r}: axis {self.axis!r} names an axis twice")
        return normalized[0] if isinstance(self.axis, int) else tuple(normalized)

    def build(self, input_shape):
        self._axes(len(input_shape))

    def call(self, x, training=False, mask=None):
        if mask is not None:
            raise ValueError(f"Softmax {self.name!r}: mask is not supported by gpunet")
        return ops.softmax(x, self._axes(x.ndim))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class PReLU(Layer):
    """Parametric ReLU: ``x`` for ``x >= 0``, ``alpha * x`` below, with ``alpha`` learned (He et
    al. 2015); one ``alpha`` per input entry, or shared along ``shared_axes``.

    Args:
        alpha_initializer: of ``alpha`` (default ``"zeros"``: a plain relu to begin with).
        alpha_regularizer: a penalty on ``alpha``. alpha_constraint: a projection after each update.
        shared_axes: an int or a list of the input's axes (1 = the first after the batch) along
            which one ``alpha`` is shared; e.g. ``[1, 2]`` after a ``Conv2D``: one per channel.

    Weight: ``alpha``, of the input's shape without the batch dimension, 1 along shared axes.
    """

    supports_masking = True

    supports_recording = True

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is not None:
            axes = [shared_axes] if not isinstance(shared_axes, (list, tuple)) else list(shared_axes)
            if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) and a >= 1 for a in axes):
                raise ValueError(f"PReLU: shared_axes must be None, a positive integer or a list of them (1 is the first "
                                 f"axis after the batch), got {shared_axes!r}")
            shared_axes = [int(a) for a in axes]
        self.shared_axes = shared_axes
        self.alpha = None

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if axis >= len(input_shape):
                raise ValueError(f"PReLU {self.name!r}: shared axis {axis} is beyond inputs of shape {tuple(input_shape)}")
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"PReLU {self.name!r}: every axis of the input that is not shared must be known, "
                             f"got shape {tuple(input_shape)}")
        self.alpha = self.add_weight(shape=tuple(shape), initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint, name="alpha")

    def call(self, x, training=False):
        shared = self.shared_axes or ()
        if x.ndim != self.alpha.ndim + 1 or any(
                x.shape[i] != size for i, size in enumerate(self.alpha.shape, start=1) if i not in shared):
            raise ValueError(f"PReLU {self.name!r} was built for inputs of shape {tuple(self.build_input_shape)} "
                             f"(any size along shared axes {list(shared)}), got {tuple(x.shape)}")
        return ops.prelu(x, self.alpha)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }
