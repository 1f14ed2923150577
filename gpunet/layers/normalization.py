"""Normalization layers: BatchNormalization and LayerNormalization, with Keras's arguments, rules
and weights."""

from __future__ import annotations

import numbers

from .. import constraints, initializers, regularizers
from ..ops import normalization as norm_ops
from .base import Layer, refuse_unsupported

__all__ = ["BatchNormalization", "LayerNormalization", "set_cross_process_sum"]

_cross_process_sum = None


def set_cross_process_sum(function) -> None:
    """Install the function that sums a flat array over the processes of a data-parallel job, in
    place (``gpunet.distributed.init`` does; None in one process). ``BatchNormalization(
    synchronized=True)`` takes its batch statistics through it; without it (one process) it is the
    ordinary batch normalization."""
    global _cross_process_sum
    if function is not None and not callable(function):
        raise TypeError(f"function must be callable or None, got {function!r}")
    _cross_process_sum = function


def _number(value, name, layer, low=None, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (low is not None and value < low) or (
        high is not None and value >= high
    ):
        bound = f" in [{low}, {high})" if high is not None else f" >= {low}" if low is not None else ""
        raise ValueError(f"{layer}: {name} must be a number{bound}, got {value!r}")
    return float(value)


class BatchNormalization(Layer):
    """Normalise each feature over the batch, as Keras 3 does.

    In training the batch mean and (biased) variance normalise the input and update the moving
    statistics, ``moving = moving * momentum + batch * (1 - momentum)``; in inference the moving
    statistics are used. ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``.

    Args:
        axis: the feature axis (default -1: the channels of a channels-last image).
        momentum: of the moving averages (0.99). epsilon: added to the variance (1e-3).
        center, scale: whether to learn ``beta`` / ``gamma``.
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer,
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: as in Keras.
        synchronized: in a data-parallel fit (``gpunet.distributed``), take the batch statistics
            over the global batch, all ranks' slices together (the sums and the gradient's sums
            all-reduced), so that the layer trains as in one process on the whole batch; with one
            process, the ordinary layer. Without it each rank normalises by its own slice's
            statistics (and the moving statistics are averaged over the ranks at each report).
        renorm_momentum, renorm_clipping: kept in the config, as Keras keeps them; they act only
        with ``renorm=True`` (batch renormalization), which gpunet refuses.

    Weights, in Keras's order: ``gamma``, ``beta`` (trainable), ``moving_mean``,
    ``moving_variance`` (non-trainable). Example: ``Conv2D(32, 3), BatchNormalization(), Activation("relu")``.
    """

    supports_masking = True

    supports_recording = True  # the moving statistics are updated inside the op, so a replay updates them too

    @property
    def input_dtype(self):
        return self.dtype_policy.variable_dtype  # statistics in float32 under mixed precision, as Keras

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        name = type(self).__name__
        refuse_unsupported(name, {"renorm": renorm}, {"renorm": False})
        if not isinstance(synchronized, bool):
            raise TypeError(f"{name}: synchronized must be True or False, got {synchronized!r}")
        self.synchronized = synchronized
        # Keras keeps these in the config and uses them only with renorm=True, which gpunet refuses
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"{name}: axis must be an integer, got {axis!r}")
        self.axis = axis
        self.momentum = _number(momentum, "momentum", name, 0.0, 1.0)
        self.epsilon = _number(epsilon, "epsilon", name, 0.0)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        if not -len(input_shape) <= self.axis < len(input_shape) or self.axis % len(input_shape) == 0:
            raise ValueError(f"{type(self).__name__}: axis {self.axis} is not a feature axis of inputs of shape {tuple(input_shape)}")
        size = input_shape[self.axis]
        if size is None:
            raise ValueError(f"{type(self).__name__}: the feature axis {self.axis} of {tuple(input_shape)} must be known")
        shape = (size,)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer, regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint, name="gamma")
        if self.center:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer, regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint, name="beta")
        self.moving_mean = self.add_weight(shape=shape, initializer=self.moving_mean_initializer, trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=shape, initializer=self.moving_variance_initializer, trainable=False,
                                               name="moving_variance")

    def call(self, x, training=False):
        training = training and self.trainable
        sum_over = _cross_process_sum if self.synchronized and training else None
        return norm_ops.batch_norm(x, self.gamma, self.beta, self.moving_mean, self.moving_variance, axis=self.axis,
                                   momentum=self.momentum, epsilon=self.epsilon, training=training, sum_over=sum_over)

    def get_config(self):
        return {
            **super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized, "renorm_clipping": self.renorm_clipping, "renorm_momentum": self.renorm_momentum,
        }


class LayerNormalization(Layer):
    """Normalise each sample over ``axis`` (default -1), as Keras 3 does:
    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the sample's own statistics.

    Args: axis (an int or a list), epsilon (1e-3), center, scale, beta_initializer,
    gamma_initializer, beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint.
    Weights: ``gamma``, ``beta``.
    """

    supports_masking = True

    supports_recording = True

    @property
    def input_dtype(self):
        return self.dtype_policy.variable_dtype  # statistics in float32 under mixed precision, as Keras

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        name = type(self).__name__
        refuse_unsupported(name, kwargs, {"rms_scaling": False})
        super().__init__(**kwargs)
        axes = [axis] if isinstance(axis, int) and not isinstance(axis, bool) else axis
        if not isinstance(axes, (list, tuple)) or not axes or any(isinstance(a, bool) or not isinstance(a, int) for a in axes):
            raise ValueError(f"{name}: axis must be an integer or a list of integers, got {axis!r}")
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.epsilon = _number(epsilon, "epsilon", name, 0.0)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = None

    def _axes(self, ndim):
        axes = [self.axis] if isinstance(self.axis, int) else self.axis
        for a in axes:
            if not -ndim <= a < ndim or a % ndim == 0:
                raise ValueError(f"{type(self).__name__}: axis {a} is not a feature axis of {ndim}-dimensional inputs")
        return sorted(a % ndim for a in axes)

    def build(self, input_shape):
        axes = self._axes(len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(f"{type(self).__name__}: the normalised axes of {tuple(input_shape)} must be known")
        if self.scale:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer, regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint, name="gamma")
        if self.center:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer, regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint, name="beta")

    def call(self, x, training=False):
        return norm_ops.layer_norm(x, self.gamma, self.beta, axis=self.axis, epsilon=self.epsilon)

    def get_config(self):
        return {
            **super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }
