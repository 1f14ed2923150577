"""Numeric preprocessing: ``Normalization`` (a mean and variance, given or learnt by ``adapt``)
and ``Rescaling`` (``x * scale + offset``), with Keras 3's arguments, weights and configs."""

from __future__ import annotations

import numbers

import numpy

from ... import backend, ops
from ...autograd import Tensor
from ..base import Layer

__all__ = ["Normalization", "Rescaling"]


def as_float_input(layer, x):
    """``x`` in the layer's compute dtype (integer pixels or counts become floats, as Keras converts
    a preprocessing layer's input)."""
    return x if x.dtype == layer.compute_dtype else ops.cast(x, layer.compute_dtype)


def device_constant(layer, key, values, like):
    """``values`` (a host array) as a constant Tensor in ``like``'s dtype on its device, moved there
    once and kept on the layer for later calls (no transfer per batch)."""
    cache = layer.__dict__.setdefault("_device_constants", {})
    slot = (key, like.dtype.str, type(like.data))
    if slot not in cache:
        cache[slot] = Tensor(backend.on_device_of(numpy.asarray(values).astype(like.dtype), like.data))
    return cache[slot]


def first_of_batch(batch):
    """The inputs of a batch that may be Keras's ``(x, y)`` or ``(x, y, sample_weight)``."""
    return batch[0] if isinstance(batch, tuple) else batch


def host_batches(data):
    """What ``adapt`` reads, as a stream of host arrays: one array (or Tensor) gives itself; a
    PyDataset-like object (``__len__`` and ``__getitem__``) or any iterable gives its batches,
    each taken as ``x`` of an ``(x, y)`` pair when it is a tuple."""
    if isinstance(data, Tensor) or backend.is_device_array(data):
        yield backend.to_host(data.data if isinstance(data, Tensor) else data)
        return
    if isinstance(data, numpy.ndarray):
        yield data
        return
    if isinstance(data, (str, bytes)) or not (hasattr(data, "__iter__") or hasattr(data, "__getitem__")):
        raise TypeError(f"adapt: data must be an array, a PyDataset or an iterable of batches, got "
                        f"{type(data).__name__}")
    if hasattr(data, "__len__") and hasattr(data, "__getitem__") and not hasattr(data, "__iter__"):
        data = (data[i] for i in range(len(data)))
    for batch in data:
        batch = first_of_batch(batch)
        if isinstance(batch, Tensor):
            batch = batch.data
        yield numpy.asarray(backend.to_host(batch))


class Normalization(Layer):
    """Shifts and scales inputs to zero mean and unit variance: ``(x - mean) / sqrt(variance)``
    (``invert=True``: ``mean + x * sqrt(variance)``), with the square root kept above Keras's
    epsilon (1e-7).

    Args:
        axis: the axis (or axes) that keep their own mean and variance, one per index (default -1:
            per feature); ``None`` for one scalar mean and variance over everything.
        mean, variance: the values to use, broadcast to the kept axes; both or neither. Without
            them, the layer holds the weights ``mean``, ``variance`` and ``count`` (Keras's names
            and order; ``count`` is kept, as Keras keeps it, for the file layout) that
            :meth:`adapt` sets from data.
        invert: apply the inverse transformation (turn normalized values back).

    Example::

        layer = Normalization(axis=-1)
        layer.adapt(x_train)           # per-feature mean and variance of the data
        model = Sequential([Input((4,)), layer, Dense(1)])
    """

    supports_recording = True
    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            axis = (int(axis),)
        elif isinstance(axis, (tuple, list)) and all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                                                     for a in axis):
            axis = tuple(int(a) for a in axis)
        else:
            raise TypeError(f"Normalization: axis must be an int, a tuple of ints or None, got {axis!r}")
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: mean and variance must be given together, got mean={mean!r} and "
                             f"variance={variance!r}")
        if mean is not None:
            if numpy.shape(mean) != numpy.shape(variance):
                raise ValueError(f"Normalization: mean and variance must have the same shape, got "
                                 f"{numpy.shape(mean)} and {numpy.shape(variance)}")
            if numpy.ndim(mean) > len(axis):
                raise ValueError(f"Normalization: mean has rank {numpy.ndim(mean)}, more than the {len(axis)} "
                                 f"axes kept (axis={axis})")
            if numpy.any(numpy.asarray(variance, dtype=numpy.float64) < 0):
                raise ValueError(f"Normalization: variance must not be negative, got {variance!r}")
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.adapt_mean = self.adapt_variance = self.count = None

    # -- shapes ----------------------------------------------------------------------------------
    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"Normalization: axis {self.axis} is out of range for inputs of rank {ndim} "
                             f"(shape {tuple(input_shape)})")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for a in self._keep_axis:
            if input_shape[a] is None:
                raise ValueError(f"Normalization: axis {a} is kept, so its size must be known, got shape "
                                 f"{tuple(input_shape)}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1 for d in range(ndim))
        self._mean_and_var_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._mean_and_var_shape, initializer="zeros",
                                              trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=self._mean_and_var_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int", initializer="zeros", trainable=False)
        else:
            self._given = tuple(self._broadcast_given(v) for v in (self.input_mean, self.input_variance))
        self.built = True

    def _broadcast_given(self, value):
        """A given mean or variance placed on the kept axes (its last dims on the last kept axes)."""
        value = numpy.asarray(value, dtype=numpy.float64)
        expanded = [1] * len(self._broadcast_shape)
        for i in range(1, value.ndim + 1):
            expanded[self._keep_axis[-i]] = value.shape[-i]
        try:
            return numpy.broadcast_to(value.reshape(expanded), self._broadcast_shape)
        except ValueError:
            raise ValueError(f"Normalization: a mean or variance of shape {value.shape} cannot be broadcast to the "
                             f"kept axes' shape {self._mean_and_var_shape}") from None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    # -- adapt -----------------------------------------------------------------------------------
    def adapt(self, data):
        """Set ``mean`` and ``variance`` from ``data``: an array, or a stream of batches (a
        PyDataset, a list or generator of arrays or of ``(x, y)`` pairs). Each batch's statistics
        are merged into the running ones in float64 (the pooled mean and the pooled variance of
        all values seen), so a stream gives the statistics of the whole data set."""
        if self.input_mean is not None:
            raise ValueError("Normalization: adapt() cannot change a mean and variance given to the constructor")
        total_mean = total_var = None
        total_count = 0
        for batch in host_batches(data):
            if batch.dtype.kind not in "fiub":
                raise TypeError(f"Normalization.adapt: data must be numeric, got dtype {batch.dtype}")
            if not self.built:
                self.ensure_built(batch.shape)
            expected = self.build_input_shape
            if batch.ndim != len(expected) or any(batch.shape[d] != expected[d] for d in self._keep_axis):
                raise ValueError(f"Normalization.adapt: the layer was built for inputs of shape {tuple(expected)}, "
                                 f"got a batch of shape {batch.shape}")
            batch = batch.astype(numpy.float64)
            mean = batch.mean(axis=self._reduce_axis)
            var = batch.var(axis=self._reduce_axis)
            count = int(numpy.prod([batch.shape[d] for d in self._reduce_axis]))
            if total_mean is None:
                total_mean, total_var, total_count = mean, var, count
                continue
            share = count / (total_count + count)
            merged = total_mean * (1 - share) + mean * share
            total_var = ((total_var + (total_mean - merged) ** 2) * (1 - share)
                         + (var + (mean - merged) ** 2) * share)
            total_mean, total_count = merged, total_count + count
        if total_mean is None:
            raise ValueError("Normalization.adapt: data holds no batch")
        self.adapt_mean.assign(total_mean.astype(self.adapt_mean.dtype))
        self.adapt_variance.assign(total_var.astype(self.adapt_variance.dtype))

    # -- call ------------------------------------------------------------------------------------
    def _statistics(self, like):
        if self.input_mean is not None:
            return tuple(device_constant(self, key, v, like) for key, v in zip(("mean", "variance"), self._given))
        shape = self._broadcast_shape
        return (ops.cast(ops.reshape(self.adapt_mean, shape), like.dtype),
                ops.cast(ops.reshape(self.adapt_variance, shape), like.dtype))

    def call(self, x, training=False):
        x = as_float_input(self, x)
        if x.ndim != len(self._broadcast_shape):
            raise ValueError(f"Normalization {self.name!r} was built for inputs of rank {len(self._broadcast_shape)}, "
                             f"got shape {tuple(x.shape)}")
        mean, variance = self._statistics(x)
        scale = ops.maximum(ops.sqrt(variance), backend.epsilon())
        return mean + x * scale if self.invert else (x - mean) / scale

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": numpy.array(self.input_mean).tolist(), "variance": numpy.array(self.input_variance).tolist()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("axis"), list):
            config["axis"] = tuple(config["axis"])
        return cls(**config)


class Rescaling(Layer):
    """Multiplies inputs by ``scale`` and adds ``offset``: ``Rescaling(1 / 255)`` maps pixels to
    [0, 1], ``Rescaling(1 / 127.5, offset=-1)`` to [-1, 1]. Either may be a number or one value
    per channel (a list, broadcast against the last axis)."""

    supports_recording = True
    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("scale", scale), ("offset", offset)):
            try:
                array = numpy.asarray(value, dtype=numpy.float64)
            except (TypeError, ValueError):
                array = None
            if array is None or isinstance(value, bool) or not numpy.all(numpy.isfinite(array)):
                raise ValueError(f"Rescaling: {name} must be a finite number or a list of them, got {value!r}")
        self.scale = scale
        self.offset = offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x, training=False):
        x = as_float_input(self, x)
        scale, offset = (numpy.asarray(v, dtype=numpy.float64) for v in (self.scale, self.offset))
        if scale.ndim == 0 and offset.ndim == 0:
            return x * float(scale) + float(offset)
        return x * device_constant(self, "scale", scale, x) + device_constant(self, "offset", offset, x)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
