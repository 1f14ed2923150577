"""The metric base class with Keras 3's methods, and the metrics that add up values: ``Sum``,
``Mean`` and ``MeanMetricWrapper`` (the mean of a function's per-sample values)."""

from __future__ import annotations

import numpy

from ..autograd import Tensor, no_grad
from ..autograd.function import recording_off
from ..backend import get_array_module, on_device_of
from ..ops.activation import sigmoid_forward, softmax_forward
from ..lookup import Registered
from .common import as_array, check_dtype, same_rank, weights_like
from .functions import FUNCTIONS, function_name, registered_function

__all__ = ["Metric", "Sum", "Mean", "MeanMetricWrapper"]


class Metric(Registered):
    """Base class, with Keras 3's methods.

    ``update_state(y_true, y_pred, sample_weight=None)`` adds a batch, ``result()`` gives the
    value so far (a host sync on the GPU), ``reset_state()`` starts again, ``metric(y_true,
    y_pred)`` updates and returns the result. A subclass implements gpunet's ``update(output,
    target, logits, sample_weight=None)`` on backend arrays, ``result()`` and, if it keeps more
    than ``total`` and ``count``, ``reset()``; every accumulator is an attribute that ``reset()``
    sets to zero and that adds over batches (so that data-parallel training can sum it over
    processes).

    ``dtype`` is recorded in the config as Keras does; gpunet accumulates in float64 whatever it is.
    ``direction`` says which way is better (``"up"`` or ``"down"``), as Keras's metrics do.
    ``logit_activation`` is set when the metric is compiled with a loss (:func:`get`): what turns
    the logits a fused loss hands over (``logits=True``) back into the model's output
    (``"softmax"``, ``"sigmoid"``), or ``"none"`` when the model's output is itself logits (a loss
    with ``from_logits=True``); unset, a single output means a sigmoid and several a softmax.
    """

    registry_kind = "metric"  # gpunet's public subclasses join the registry as they are defined

    name = "metric"
    direction = "up"
    logit_activation: str | None = None
    graph_safe = False  # whether update() is device work only, adding in place (see gpunet.training.graphs)
    scalar = True  # whether result() is one number (compile logs only those)
    _integer_dtype = False  # whether an integer dtype is allowed (Keras's IoU counts in int)

    def __init__(self, dtype=None, name: str | None = None):
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"name must be a non-empty string, got {name!r}")
            self.name = name
        self.dtype = check_dtype(dtype, self._integer_dtype)
        self.reset()

    # -- Keras's methods -------------------------------------------------------------------------
    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Add a batch: ``y_pred`` as the model outputs it, ``y_true`` the targets, ``sample_weight``
        None, a number or one weight per sample."""
        y_pred = as_array(y_pred)
        y_true = on_device_of(as_array(y_true), y_pred)
        if sample_weight is None:
            self.update(y_pred, y_true, False)
        else:
            self.update(y_pred, y_true, False, weights_like(sample_weight, y_pred))

    def reset_state(self) -> None:
        self.reset()

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    # -- gpunet's ------------------------------------------------------------------------------------
    # -- Keras's way of writing a metric -----------------------------------------------------------
    @property
    def keras_style(self) -> bool:
        """Whether the class writes Keras's ``update_state`` rather than gpunet's ``update``: fit
        hands it the targets as the data gave them (integer labels of shape (N, 1) stay so)."""
        return type(self).update_state is not Metric.update_state

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """A state variable, as Keras's ``Metric.add_variable``: a non-trainable
        :class:`gpunet.Variable` that ``reset_state()`` sets back to its initial value. A Keras
        style subclass keeps its counts in these and updates them with ``assign_add`` in its
        ``update_state``."""
        from ..autograd import Variable  # noqa: PLC0415 - metrics rarely hold variables

        del aggregation  # one process's sums; data-parallel reduction adds ``total``/``count`` only
        variable = Variable(initializer, shape=shape, dtype=dtype or "float32", trainable=False,
                            name=name or f"{self.name}_variable_{len(self.variables)}")
        if not hasattr(self, "_variables"):
            self._variables = []
        self._variables.append((variable, variable.numpy()))
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Keras's older spelling of :meth:`add_variable` (zeros unless ``initializer`` says)."""
        return self.add_variable(shape, "zeros" if initializer is None else initializer, dtype=dtype, name=name)

    @property
    def variables(self) -> list:
        return [v for v, _ in getattr(self, "_variables", [])]

    def reset(self) -> None:
        for variable, initial in getattr(self, "_variables", []):
            variable.assign(initial)
        total = getattr(self, "total", None)
        if getattr(total, "ndim", None) == 0 and not isinstance(total, numpy.generic) and hasattr(total, "fill"):
            total.fill(0)  # a device array: zeroed in place, as a captured CUDA graph keeps adding into it
        else:
            self.total = 0.0
        self.count = 0

    def update(self, output, target, logits: bool, sample_weight=None) -> None:
        """Add a batch of the model's raw output (logits when ``logits``) and the prepared targets
        (backend arrays). A subclass written the Keras way, with its own ``update_state``, gets
        it called with the model's output and the targets as Tensors."""
        if type(self).update_state is Metric.update_state:
            raise NotImplementedError(f"{type(self).__name__} must define update_state(y_true, y_pred, sample_weight=None)")
        output = self.model_output(output, logits)
        with no_grad():
            self.update_state(Tensor._result(target, None), Tensor._result(output, None),
                              None if sample_weight is None else Tensor._result(sample_weight, None))

    def result(self):
        """The value so far (a host sync on the GPU); 0 before any update, as Keras."""
        return float(self.total) / float(self.count) if self.count else 0.0

    def bind(self, loss) -> None:
        """Learn from the compiled loss what ``logits=True`` means (see the class docstring)."""
        if loss is not None:
            self.logit_activation = "none" if loss.from_logits else loss.fuses_with

    def model_output(self, output, logits: bool):
        """What the model outputs: ``output`` itself, or the softmax/sigmoid of the logits a fused
        loss was given."""
        if not logits or self.logit_activation == "none":
            return output
        activation = self.logit_activation or ("sigmoid" if output.shape[-1] == 1 else "softmax")
        return sigmoid_forward(output) if activation == "sigmoid" else softmax_forward(output, axis=-1)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "dtype")
        return f"{type(self).__name__}({args})"


class Sum(Metric):
    """The (weighted) sum of the values given to ``update_state(values, sample_weight=None)``.

    >>> m = gpunet.metrics.Sum(); m.update_state([1, 3, 5, 7]); m.result()
    16.0
    """

    name = "sum"
    direction = None  # neither: a monitor of it needs an explicit mode
    graph_safe = True
    _reduce = "sum"

    def __init__(self, name: str | None = None, dtype=None):
        super().__init__(dtype, name)

    def update_state(self, values, sample_weight=None) -> None:
        values = as_array(values)
        self.accumulate(values, None if sample_weight is None else weights_like(sample_weight, values))

    def accumulate(self, values, sample_weight=None) -> None:
        """Keras's per-sample reduction: values with more axes than the weights are averaged
        (summed, for ``Sum``) over the extra axes, multiplied by the weights, and added up; the
        count grows by the number of samples, or by the sum of the weights."""
        xp = get_array_module(values)
        if sample_weight is None and values.ndim <= 1:  # one value per sample (fit's case): one reduction
            self.total += xp.sum(values, dtype=numpy.float64)
            self.count += int(values.shape[0]) if values.ndim else 1
            return
        reduce = xp.mean if self._reduce == "mean" else xp.sum
        values = values.astype(numpy.float64, copy=False)  # sums and per-sample means in float64
        if sample_weight is not None:
            values, sample_weight = same_rank(values, sample_weight)
            if values.ndim > sample_weight.ndim:
                values = reduce(values, axis=tuple(range(sample_weight.ndim, values.ndim)))
            try:
                sample_weight = xp.broadcast_to(sample_weight, values.shape)
            except ValueError:
                raise ValueError(f"sample_weight of shape {sample_weight.shape} does not fit values of shape "
                                 f"{values.shape}") from None
            values = values * sample_weight
            if sample_weight.ndim > 1:
                sample_weight = reduce(sample_weight, axis=tuple(range(1, sample_weight.ndim)))
        if values.ndim > 1:
            values = reduce(values, axis=tuple(range(1, values.ndim)))
        self.total += xp.sum(values, dtype=numpy.float64)
        if sample_weight is not None:
            self.count += xp.sum(sample_weight, dtype=numpy.float64)
        else:
            self.count += int(values.shape[0]) if values.ndim else 1

    def result(self):
        return float(self.total)


class Mean(Sum):
    """The (weighted) mean of the values given to ``update_state(values, sample_weight=None)``;
    fit keeps the running loss in one (``update_value``).

    >>> m = gpunet.metrics.Mean(); m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0]); m.result()
    2.0
    """

    name = "mean"
    _reduce = "mean"

    def update_value(self, value, weight: int) -> None:
        """Add one value (a batch's loss) with a weight (its number of samples)."""
        self.total += value * weight
        self.count += weight

    def result(self):
        return Metric.result(self)


class MeanMetricWrapper(Mean):
    """The mean of a function's per-sample values: ``fn(y_true, y_pred, **kwargs)`` returns an
    array (or a gpunet Tensor) with one value per sample.

    Args:
        fn: the function, e.g. ``gpunet.metrics.binary_accuracy`` or one of your own written with
            the array module of its inputs.
        name, dtype: as :class:`Metric`; ``**kwargs`` are passed on to ``fn``.

    To save and load it by name, register your function with ``@gpunet.saving.register_serializable()``.

    >>> m = gpunet.metrics.MeanMetricWrapper(gpunet.metrics.binary_accuracy, threshold=0.7)
    """

    name = "mean_metric_wrapper"
    graph_safe = False
    fn = None  # the built-in metrics set their function here

    def __init__(self, fn=None, name: str | None = None, dtype=None, **kwargs):
        if fn is not None:
            if not callable(fn) or isinstance(fn, type):
                raise TypeError(f"fn must be a function fn(y_true, y_pred), got {fn!r}")
            self.fn = fn
            if getattr(fn, "__module__", "").startswith("gpunet.losses"):
                self.direction = "down"
        elif type(self).fn is None:
            raise TypeError("MeanMetricWrapper needs fn, a function fn(y_true, y_pred) returning per-sample values")
        self.fn_kwargs = kwargs
        super().__init__(name, dtype)

    update_state = Metric.update_state

    def update(self, output, target, logits, sample_weight=None):
        self.accumulate(self.values(output, target, logits), sample_weight)

    def values(self, output, target, logits):
        """The per-sample values of a batch."""
        with recording_off():
            values = self.fn(target, self.model_output(output, logits), **self.fn_kwargs)
        values = values.data if isinstance(values, Tensor) else values
        if type(values) is type(output):
            return values
        # on the predictions' device (a loss function's Tensor lives on the selected backend's)
        return on_device_of(as_array(values), output)

    def get_config(self):
        return {**super().get_config(), "fn": function_name(self.fn), **self.fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        name = config.pop("fn", None)
        fn = FUNCTIONS.get(name) or registered_function(name)
        if fn is None:
            raise ValueError(f"metric function {name!r} is not registered: decorate it with "
                             "@gpunet.saving.register_serializable() before loading")
        return cls(fn, **config)
