"""Depthwise and separable convolutions: DepthwiseConv1D/2D and SeparableConv1D/2D, with Keras's
arguments and weight layouts.

A depthwise convolution convolves each input channel with its own ``depth_multiplier`` filters
(kernel ``(*kernel_size, in_channels, depth_multiplier)``, output channel ``c * M + m``); it runs
as a grouped convolution with one group per channel (:func:`gpunet.ops.convolution.depthwise_conv`),
not as a full convolution with a block-diagonal kernel. A separable convolution follows it with a
1x1 ("pointwise") convolution that mixes the channels (kernel ``(*(1,) * rank, in_channels * M,
filters)``), which holds the bias and the activation.
"""

from __future__ import annotations

from .. import activations, constraints, initializers, regularizers
from ..ops import convolution as conv_ops
from .base import Layer, check_positive_int
from .convolutional import _FUSED, ConvGeometry, WorkspaceChecked, channels_last_shape, from_channels_last, \
    output_shape, to_channels_last

__all__ = ["DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"]


class _Depthwise(ConvGeometry, WorkspaceChecked, Layer):
    """What the depthwise and the separable convolutions share: the window, the depthwise kernel
    (and the weights named by ``_parts``, each with its initializer, regularizer and constraint
    under Keras's ``<part>_initializer``... names), the bias and the activation."""

    uses_host_threads = True
    _parts = ("depthwise",)

    def _init_depthwise(self, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                        use_bias, bias_initializer, bias_regularizer, bias_constraint, **parts) -> None:
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier")
        self._init_geometry(kernel_size, strides, padding, data_format, dilation_rate)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        for part in (*self._parts, "bias"):
            initializer, regularizer, constraint = parts.get(part) or (bias_initializer, bias_regularizer,
                                                                       bias_constraint)
            setattr(self, f"{part}_initializer", initializers.get(initializer))
            setattr(self, f"{part}_regularizer", regularizers.get(regularizer))
            setattr(self, f"{part}_constraint", constraints.get(constraint))
        self.bias = None

    def _add(self, part, shape, name):
        return self.add_weight(shape=shape, initializer=getattr(self, f"{part}_initializer"),
                               regularizer=getattr(self, f"{part}_regularizer"),
                               constraint=getattr(self, f"{part}_constraint"), name=name)

    def _build_bias(self, units) -> None:
        if self.use_bias:
            self.bias = self._add("bias", (units,), "bias")

    @property
    def supports_recording(self) -> bool:
        return activations.is_builtin(self.activation)

    def _spatial_out(self, spatial):
        return conv_ops.conv_output_shape(spatial, self.kernel_size, self.strides, self.padding, self.dilation_rate)

    def _depthwise_workspace(self, input_shape, itemsize, gradients, host) -> int:
        shape = channels_last_shape(input_shape, self.data_format)
        return conv_ops.conv_workspace(shape, (*self.kernel_size, shape[-1], shape[-1] * self.depth_multiplier),
                                       itemsize, self.strides, self.padding, self.dilation_rate, gradients, None, host,
                                       activation=self.activation is not activations.linear)

    def _config(self) -> dict:
        config = {**super().get_config(), "depth_multiplier": self.depth_multiplier, **self._geometry_config(),
                  "activation": activations.serialize(self.activation), "use_bias": self.use_bias}
        for kind, module in (("initializer", initializers), ("regularizer", regularizers),
                             ("constraint", constraints)):
            for part in (*self._parts, "bias"):
                config[f"{part}_{kind}"] = module.serialize(getattr(self, f"{part}_{kind}"))
        return config


class _DepthwiseConv(_Depthwise):
    rank = 2

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._init_depthwise(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                             use_bias, bias_initializer, bias_regularizer, bias_constraint,
                             depthwise=(depthwise_initializer, depthwise_regularizer, depthwise_constraint))
        self.kernel = None

    def build(self, input_shape):
        spatial, channels = self._spatial_and_channels(input_shape)
        self._spatial_out(spatial)
        self.kernel = self._add("depthwise", (*self.kernel_size, channels, self.depth_multiplier), "kernel")
        self._build_bias(channels * self.depth_multiplier)

    def compute_output_shape(self, input_shape):
        spatial, channels = self._spatial_and_channels(input_shape)
        return output_shape(input_shape[0], self._spatial_out(spatial), channels * self.depth_multiplier,
                            self.data_format)

    def workspace_bytes(self, input_shape, itemsize, gradients=True, host=True, pool=None):
        return self._depthwise_workspace(input_shape, itemsize, gradients, host)

    def call(self, x, training=False):
        self.check_input(x)
        fused = _FUSED.get(self.activation)
        y = conv_ops.depthwise_conv(to_channels_last(x, self.data_format), self.kernel, self.bias, self.strides,
                                    self.padding, self.dilation_rate, activation=fused)
        return from_channels_last(self._activate(y, fused), self.data_format)

    def get_config(self):
        return self._config()


class DepthwiseConv2D(_DepthwiseConv):
    """Depthwise 2D convolution: each input channel convolved with its own ``depth_multiplier``
    filters, without mixing the channels (output channels ``in_channels * depth_multiplier``).

    Args:
        kernel_size, strides, padding ("valid" or "same"), data_format, dilation_rate: as in
            :class:`~gpunet.layers.Conv2D` (strides and dilation may both exceed 1).
        depth_multiplier: the number of filters per input channel (default 1).
        activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
        bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint: Keras's.

    The kernel, named ``kernel`` as in Keras, has shape ``(kh, kw, in_channels, depth_multiplier)``;
    output channel ``c * depth_multiplier + m`` is channel c's filter m. Example::

        DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu")
    """

    rank = 2


class DepthwiseConv1D(_DepthwiseConv):
    """Depthwise 1D convolution over ``(batch, steps, channels)``: :class:`DepthwiseConv2D`'s
    arguments in one dimension; kernel ``(k, in_channels, depth_multiplier)``."""

    rank = 1


class _SeparableConv(_Depthwise):
    rank = 2
    _parts = ("depthwise", "pointwise")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = check_positive_int(filters, "filters")
        self._init_depthwise(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                             use_bias, bias_initializer, bias_regularizer, bias_constraint,
                             depthwise=(depthwise_initializer, depthwise_regularizer, depthwise_constraint),
                             pointwise=(pointwise_initializer, pointwise_regularizer, pointwise_constraint))
        self.depthwise_kernel = self.pointwise_kernel = None

    def build(self, input_shape):
        spatial, channels = self._spatial_and_channels(input_shape)
        self._spatial_out(spatial)
        self.depthwise_kernel = self._add("depthwise", (*self.kernel_size, channels, self.depth_multiplier),
                                          "depthwise_kernel")
        self.pointwise_kernel = self._add("pointwise", ((1,) * self.rank + (channels * self.depth_multiplier,
                                                                            self.filters)), "pointwise_kernel")
        self._build_bias(self.filters)

    def compute_output_shape(self, input_shape):
        spatial, _ = self._spatial_and_channels(input_shape)
        return output_shape(input_shape[0], self._spatial_out(spatial), self.filters, self.data_format)

    def workspace_bytes(self, input_shape, itemsize, gradients=True, host=True, pool=None):
        shape = channels_last_shape(input_shape, self.data_format)
        middle = (shape[0], *self._spatial_out(shape[1:-1]), shape[-1] * self.depth_multiplier)
        return self._depthwise_workspace(input_shape, itemsize, gradients, host) + conv_ops.conv_workspace(
            middle, ((1,) * self.rank + (middle[-1], self.filters)), itemsize, gradients=gradients, host=host)

    def call(self, x, training=False):
        self.check_input(x)
        fused = _FUSED.get(self.activation)
        y = conv_ops.depthwise_conv(to_channels_last(x, self.data_format), self.depthwise_kernel, None, self.strides,
                                    self.padding, self.dilation_rate)
        y = conv_ops.conv(y, self.pointwise_kernel, self.bias, activation=fused)
        return from_channels_last(self._activate(y, fused), self.data_format)

    def get_config(self):
        return {**self._config(), "filters": self.filters}


class SeparableConv2D(_SeparableConv):
    """Depthwise separable 2D convolution: a :class:`DepthwiseConv2D` (no bias) then a 1x1
    convolution to ``filters`` channels with the bias and the activation.

    Args:
        filters, kernel_size, strides, padding ("valid" or "same"), data_format, dilation_rate,
        depth_multiplier, activation, use_bias: as in Keras.
        depthwise_*, pointwise_*, bias_* initializer/regularizer/constraint, activity_regularizer.

    Weights, in Keras's order: ``depthwise_kernel`` ``(kh, kw, in_channels, depth_multiplier)``,
    ``pointwise_kernel`` ``(1, 1, in_channels * depth_multiplier, filters)``, ``bias``
    ``(filters,)``. Example::

        SeparableConv2D(64, 3, padding="same", activation="relu")
    """

    rank = 2


class SeparableConv1D(_SeparableConv):
    """Depthwise separable 1D convolution: :class:`SeparableConv2D` in one dimension
    (``depthwise_kernel`` ``(k, in_channels, M)``, ``pointwise_kernel`` ``(1, in_channels * M,
    filters)``)."""

    rank = 1
