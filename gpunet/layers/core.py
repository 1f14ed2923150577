"""The core layers: Input, Dense, Activation, Dropout, Flatten."""

from __future__ import annotations

import numpy

from .. import activations, constraints, dtype_policies, initializers, ops, regularizers
from ..autograd import Tensor
from .base import Layer, check_positive_int, normalize_shape, refuse_unsupported
from .symbolic import KerasTensor, Node, is_string_dtype

__all__ = ["InputLayer", "Input", "Dense", "Activation", "Dropout", "Flatten"]

# activations that Dense runs inside its linear op (one op, one array per layer)
_FUSED = {activations.relu: "relu", activations.sigmoid: "sigmoid", activations.tanh: "tanh"}


class InputLayer(Layer):
    """Declares the shape of the model's inputs; Keras 3's arguments.

    Args:
        shape: the shape of one sample, without the batch dimension, e.g. ``(784,)``.
        batch_size: a fixed batch size, or None (any).
        dtype: ``"float32"`` or ``"float64"`` (default: ``gpunet.backend.floatx()``), an integer
            dtype, or ``"string"`` (text for the preprocessing layers, e.g. ``TextVectorization``).
        batch_shape: the shape with the batch dimension, in place of ``shape`` and ``batch_size``.
        name: the layer's name (default ``input_layer``, numbered).

    Keras's ``sparse``, ``ragged``, ``input_tensor`` and ``optional`` are accepted with their
    default values only (gpunet has no sparse, ragged, symbolic or optional inputs).
    """

    supports_recording = True

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        for key, value, neutral in (("sparse", sparse, (None, False)), ("ragged", ragged, (None, False)),
                                    ("input_tensor", input_tensor, (None,)), ("optional", optional, (False,))):
            if not any(value is ok for ok in neutral):
                raise ValueError(f"InputLayer: {key}={value!r} is not supported by gpunet")
        text = is_string_dtype(dtype)
        integer = not text and dtype is not None and not isinstance(dtype, dtype_policies.DTypePolicy) and str(dtype) \
            not in ("mixed_float16", "mixed_bfloat16") and numpy.dtype(getattr(dtype, "name", dtype)).kind in "iub"
        super().__init__(name=name, dtype=None if integer or text else dtype, **kwargs)
        if integer:  # integer inputs (token ids, labels) are symbolic tensors of that dtype, as in Keras
            self.dtype = numpy.dtype(getattr(dtype, "name", dtype))
        elif text:  # strings, for the text preprocessing layers (kept on the host)
            self.dtype = "string"
        if batch_shape is not None:
            if shape is not None or batch_size is not None:
                raise ValueError("InputLayer: pass either shape (and batch_size) or batch_shape, not both")
            batch_shape = normalize_shape(batch_shape, "batch_shape")
            if len(batch_shape) < 2:
                raise ValueError(f"batch_shape must include the batch dimension and at least one more, got {batch_shape}")
        elif shape is not None:
            if batch_size is not None:
                check_positive_int(batch_size, "batch_size")
            batch_shape = (batch_size, *normalize_shape(shape, "shape"))
            if len(batch_shape) < 2:
                raise ValueError("shape must have at least one dimension (the batch dimension is not part of it), got ()")
        else:
            raise ValueError("InputLayer needs shape (without the batch dimension), e.g. shape=(784,), or batch_shape")
        self.batch_shape = batch_shape
        self.built = True
        Node(self, (), {}, KerasTensor(batch_shape, self.dtype, name=self.name))

    def call(self, x, training=False):
        return x

    def get_config(self):
        return {"name": self.name, "batch_shape": list(self.batch_shape), "dtype": str(self.dtype or "float32")}

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None, name=None,  # noqa: N802
          tensor=None, optional=False):
    """The model's input, with Keras 3's arguments: a symbolic
    :class:`~gpunet.layers.symbolic.KerasTensor` (``shape`` with the batch dimension first,
    ``dtype``, ``name``) made by a new :class:`InputLayer`. Build a functional model from it
    (``x = Input((784,)); y = Dense(10)(x); Model(x, y)``), or put it first in a Sequential model.
    ``tensor`` must be None; integer dtypes are allowed (``Input((20,), dtype="int32")``).
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                       batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name)
    return layer._inbound_nodes[0].outputs


class _KernelLayer(Layer):
    """What Dense and the convolutions share: an activation, and a kernel and an optional bias
    with their initializers, regularizers and constraints (Keras's arguments and config keys)."""

    def _init_kernel(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                     bias_regularizer, kernel_constraint=None, bias_constraint=None) -> None:
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.kernel = None
        self.bias = None

    def _build_kernel(self, kernel_shape, units) -> None:
        self.kernel = self.add_weight(shape=kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint, name="bias")

    def _kernel_config(self) -> dict:
        return {
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class Dense(_KernelLayer):
    """Fully connected layer ``activation(x @ kernel + bias)``, kernel of shape (in, units).

    Args:
        units: the number of outputs.
        activation: a name (``"relu"``, see :mod:`gpunet.activations`), a callable, or None.
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer: see :mod:`gpunet.initializers`.
        kernel_regularizer, bias_regularizer, activity_regularizer: see :mod:`gpunet.regularizers`.
        kernel_constraint, bias_constraint: see :mod:`gpunet.constraints` (applied after each update).

    The affine part runs as the single fused op :func:`gpunet.ops.linear`.
    """

    supports_masking = True

    @property
    def supports_recording(self) -> bool:
        """A built-in activation keeps the recording contract; a custom callable may not."""
        return activations.is_builtin(self.activation)

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        refuse_unsupported(type(self).__name__, kwargs, ("lora_rank", "lora_alpha", "quantization_config"))
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = check_positive_int(units, "units")
        self._init_kernel(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                          kernel_constraint, bias_constraint)

    def build(self, input_shape):
        in_dim = input_shape[-1] if len(input_shape) >= 2 else None
        if in_dim is None:
            raise ValueError(f"Dense layer {self.name!r} needs inputs with a known last dimension, got shape {tuple(input_shape)}")
        self._build_kernel((in_dim, self.units), self.units)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def _check_features(self, x: Tensor) -> None:
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Dense layer {self.name!r} expects inputs with {self.kernel.shape[0]} features, got shape {tuple(x.shape)}"
            )

    def call_linear(self, x: Tensor) -> Tensor:
        """The affine part alone (the logits when the activation is softmax or sigmoid)."""
        self._check_features(x)
        return ops.linear(x, self.kernel, self.bias)

    def call(self, x, training=False):
        name = _FUSED.get(self.activation)
        if name is not None:  # relu / sigmoid / tanh run inside the linear op
            self._check_features(x)
            return ops.linear(x, self.kernel, self.bias, activation=name)
        y = self.call_linear(x)
        return y if self.activation is activations.linear else self.activation(y)

    def get_config(self):
        return {**super().get_config(), "units": self.units, **self._kernel_config()}


class Activation(Layer):
    """Applies an activation function by name or callable."""

    supports_masking = True

    @property
    def supports_recording(self) -> bool:
        return activations.is_builtin(self.activation)

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, x, training=False):
        return self.activation(x)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Inverted dropout with drop probability ``rate``, active only when ``training`` is True."""

    supports_masking = True

    supports_recording = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout rate must be a number in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise ValueError("Dropout: noise_shape is not supported by gpunet")
        if seed is not None:
            raise ValueError(
                "Dropout: a per-layer seed is not supported; gpunet.utils.set_random_seed(seed) seeds every dropout mask"
            )
        self.rate = float(rate)
        self.seed = seed

    def call(self, x, training=False):
        return ops.dropout(x, self.rate, training)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": None, "noise_shape": None}


class Flatten(Layer):
    """Reshape each sample to one dimension: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""

    supports_recording = True

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"Flatten: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        self.data_format = data_format or "channels_last"

    def compute_output_shape(self, input_shape):
        size = 1
        for dim in input_shape[1:]:
            if dim is None:
                return (input_shape[0], None)
            size *= dim
        return (input_shape[0], size)

    def call(self, x, training=False):
        if x.ndim == 2:
            return x
        if self.data_format == "channels_first":  # flatten in channels-last order, as Keras does
            x = ops.transpose(x, (0, *range(2, x.ndim), 1))
        features = 1
        for dim in x.shape[1:]:
            features *= dim
        return ops.reshape(x, (-1, features))  # no batch size baked in: any batch fits

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
