"""Transposed convolutions: Conv1DTranspose and Conv2DTranspose, with Keras's arguments and
weight layout.

A transposed convolution is the gradient of a convolution with respect to its input, taken as a
layer (each input entry spreads over a window of the output): it upsamples by ``strides``. The
kernel has Keras's shape ``(*kernel_size, filters, in_channels)``; the op
(:func:`gpunet.ops.convolution.conv_transpose`) adds each window position's product onto the
output directly (col2im), never building a zero-dilated input.
"""

from __future__ import annotations

from .. import activations
from ..ops import convolution as conv_ops
from .base import check_positive_int, refuse_unsupported
from .convolutional import _FUSED, ConvGeometry, WorkspaceChecked, channels_last_shape, from_channels_last, \
    output_shape, to_channels_last
from .core import _KernelLayer

__all__ = ["Conv1DTranspose", "Conv2DTranspose"]


class _ConvTranspose(ConvGeometry, WorkspaceChecked, _KernelLayer):
    rank = 2
    uses_host_threads = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        refuse_unsupported(type(self).__name__, kwargs, ("lora_rank", "lora_alpha"))
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = check_positive_int(filters, "filters")
        self._init_geometry(kernel_size, strides, padding, data_format, dilation_rate, strided_dilation=False)
        self.output_padding = None
        if output_padding is not None:  # checked against the strides by the op's own rule
            conv_ops.conv_transpose_output_shape((None,) * self.rank, self.kernel_size, self.strides, self.padding,
                                                 output_padding, self.dilation_rate)
            self.output_padding = (output_padding,) * self.rank if isinstance(output_padding, int) else tuple(
                output_padding)
        self._init_kernel(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                          bias_regularizer, kernel_constraint, bias_constraint)

    @property
    def supports_recording(self) -> bool:
        return activations.is_builtin(self.activation)

    def _spatial_out(self, spatial):
        return conv_ops.conv_transpose_output_shape(spatial, self.kernel_size, self.strides, self.padding,
                                                    self.output_padding, self.dilation_rate)

    def build(self, input_shape):
        _, channels = self._spatial_and_channels(input_shape)
        self._build_kernel((*self.kernel_size, self.filters, channels), self.filters)

    def compute_output_shape(self, input_shape):
        spatial, _ = self._spatial_and_channels(input_shape)
        return output_shape(input_shape[0], self._spatial_out(spatial), self.filters, self.data_format)

    def workspace_bytes(self, input_shape, itemsize, gradients=True, host=True, pool=None):
        """About the bytes of the convolution whose input gradient this is (its input: the output;
        "same" padding, which gives that convolution the input's spatial shape)."""
        shape = channels_last_shape(input_shape, self.data_format)
        out = (shape[0], *self._spatial_out(shape[1:-1]), self.filters)
        return conv_ops.conv_workspace(out, (*self.kernel_size, self.filters, shape[-1]), itemsize, self.strides,
                                       "same", self.dilation_rate, gradients, None, host,
                                       activation=self.activation is not activations.linear)

    def call(self, x, training=False):
        self.check_input(x)
        fused = _FUSED.get(self.activation)
        y = conv_ops.conv_transpose(to_channels_last(x, self.data_format), self.kernel, self.bias, self.strides,
                                    self.padding, self.output_padding, self.dilation_rate, activation=fused)
        return from_channels_last(self._activate(y, fused), self.data_format)

    def get_config(self):
        config = {**super().get_config(), "filters": self.filters, **self._geometry_config(), **self._kernel_config()}
        config["output_padding"] = None if self.output_padding is None else list(self.output_padding)
        return config


class Conv2DTranspose(_ConvTranspose):
    """2D transposed convolution ("deconvolution"): upsamples images by ``strides``.

    Args:
        filters: the number of output channels.
        kernel_size, strides, data_format, dilation_rate: as in :class:`~gpunet.layers.Conv2D`.
        padding: ``"valid"``: outputs of ``(n - 1) * stride + max(kernel span, stride)``;
            ``"same"``: ``n * stride``.
        output_padding: None, or an int or pair below the strides: the output size
            ``(n - 1) * stride + span + output_padding`` ("valid") or ``(n - 1) * stride +
            span % 2 + output_padding`` ("same"), span = ``(kernel_size - 1) * dilation + 1``.
        activation, use_bias, kernel_*/bias_* initializer, regularizer, constraint,
        activity_regularizer: as in ``Dense``.

    The kernel has Keras's shape ``(kh, kw, filters, in_channels)``. Example (a decoder step)::

        Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")   # (7, 7) -> (14, 14)
    """

    rank = 2


class Conv1DTranspose(_ConvTranspose):
    """1D transposed convolution over ``(batch, steps, channels)``: :class:`Conv2DTranspose`'s
    arguments in one dimension; kernel ``(k, filters, in_channels)``."""

    rank = 1
