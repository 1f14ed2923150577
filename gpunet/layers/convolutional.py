"""Convolutions: Conv1D and Conv2D, with Keras's arguments and weight layout.

The kernel is stored as Keras stores it, ``(*kernel_size, in_channels, filters)``. The computation
is one gather of the input's windows into a matrix and one matrix product, with the bias and a
relu/sigmoid/tanh fused into the product as in ``Dense`` (:func:`gpunet.ops.conv`).
"""

from __future__ import annotations

import weakref

import numpy

from .. import activations, ops
from ..autograd import is_grad_enabled
from ..backend import get_array_module, memory
from ..ops import convolution as conv_ops
from .base import check_positive_int, refuse_unsupported
from .core import _KernelLayer

__all__ = ["Conv1D", "Conv2D", "ConvGeometry", "standardize_tuple", "standardize_data_format", "WorkspaceChecked"]

_FUSED = {activations.relu: "relu", activations.sigmoid: "sigmoid", activations.tanh: "tanh"}


def standardize_tuple(value, rank: int, name: str) -> tuple:
    """An int or a tuple of ``rank`` positive ints, as a tuple (Keras's rule)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * rank
    if not isinstance(value, (tuple, list)) or len(value) != rank:
        raise ValueError(f"{name} must be an integer or a tuple of {rank} integers, got {value!r}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must hold positive integers, got {tuple(value)!r}")
    return tuple(value)


def standardize_data_format(data_format) -> str:
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


def to_channels_last(x, data_format):
    """(N, C, *spatial) -> (N, *spatial, C) for channels_first inputs; others pass through."""
    if data_format == "channels_last":
        return x
    return ops.transpose(x, (0, *range(2, x.ndim), 1))


def from_channels_last(y, data_format):
    if data_format == "channels_last":
        return y
    return ops.transpose(y, (0, y.ndim - 1, *range(1, y.ndim - 1)))


def spatial_and_channels(input_shape, rank: int, data_format: str, layer: str):
    """(spatial dims, channels) of an input shape (batch first), checking its rank."""
    shape = tuple(input_shape)
    if len(shape) != rank + 2:
        raise ValueError(
            f"{layer} expects inputs of rank {rank + 2} (batch, {'spatial, ' * rank}channels), got shape {shape}"
        )
    if data_format == "channels_last":
        return shape[1:-1], shape[-1]
    return shape[2:], shape[1]


def output_shape(batch, spatial, channels, data_format):
    return (batch, *spatial, channels) if data_format == "channels_last" else (batch, channels, *spatial)


def channels_last_shape(input_shape, data_format) -> tuple:
    """An input shape in the channels_last order the ops compute in."""
    shape = tuple(input_shape)
    return shape if data_format == "channels_last" else (shape[0], *shape[2:], shape[1])


_FITS = weakref.WeakKeyDictionary()  # layer -> the (configuration, shape, ...) whose buffers were found to fit


class WorkspaceChecked:
    """Mixin of the layers whose op allocates buffers that grow with the batch and the input (a
    convolution's gathered windows, padded copies, pooling's buffers): before the op runs,
    :meth:`check_workspace` compares :meth:`workspace_bytes` with what the device can hold and
    refuses the input with a :class:`~gpunet.backend.WorkspaceError` naming the layer, the batch
    size and the bytes needed, instead of a bare ``MemoryError`` from inside NumPy or CuPy. Each
    input shape is checked once (a set lookup after that)."""

    def workspace_bytes(self, input_shape, itemsize: int, gradients: bool = True, host: bool = True,
                        pool=None) -> int:
        """About how many bytes the layer's op allocates for inputs of ``input_shape`` (batch
        first, in the layer's data format) of ``itemsize`` bytes each, forward and, with
        ``gradients``, backward; ``host`` False on a GPU. ``pool`` (convolutions only):
        ``(pool_size, strides, padding)`` of a max pooling computed in the same op."""
        raise NotImplementedError

    def check_workspace(self, input_shape, itemsize: int, gradients: bool = True, xp=None, pool=None) -> None:
        """Raise :class:`~gpunet.backend.WorkspaceError` when :meth:`workspace_bytes` for inputs
        of ``input_shape`` exceeds what the device of array module ``xp`` (None: the host) can
        hold (see :func:`gpunet.backend.check_workspace`)."""
        shape = tuple(input_shape)
        key = (self.graph_version, shape, itemsize, gradients, xp, pool)
        fits = _FITS.get(self)
        if fits is not None and key in fits:
            return
        host = xp is None or xp is numpy

        def estimate(batch):
            return self.workspace_bytes((batch, *shape[1:]), itemsize, gradients, host, pool)

        what = f"{type(self).__name__} layer {self.name!r} on inputs of shape {shape[1:]}"
        memory.check_workspace(estimate, shape[0], what, xp)
        if fits is None or len(fits) > 64:  # a few shapes per layer in practice; never an unbounded set
            fits = _FITS[self] = set()
        fits.add(key)

    def check_input(self, x, pool=None) -> None:
        """:meth:`check_workspace` for the Tensor ``x`` about to go through the layer's op."""
        self.check_workspace(x.shape, x.dtype.itemsize, is_grad_enabled(), get_array_module(x), pool)


class ConvGeometry:
    """The window arguments every convolution layer takes (``rank`` spatial dims), checked and
    kept as Keras keeps them, and their config entries."""

    rank = 2

    def _init_geometry(self, kernel_size, strides, padding, data_format, dilation_rate, paddings=("valid", "same"),
                       strided_dilation=True) -> None:
        name = type(self).__name__
        self.kernel_size = standardize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = standardize_tuple(strides, self.rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, self.rank, "dilation_rate")
        if not strided_dilation and max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{name}: strides > 1 together with dilation_rate > 1 is not supported (as in Keras), got "
                             f"strides={self.strides}, dilation_rate={self.dilation_rate}")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in paddings:
            raise ValueError(f"{name}: padding must be one of {paddings}, got {padding!r}")
        self.padding = padding
        self.data_format = standardize_data_format(data_format)

    def _geometry_config(self) -> dict:
        return {"kernel_size": list(self.kernel_size), "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate)}

    def _spatial_and_channels(self, input_shape):
        """(spatial dims, channels) of ``input_shape``; the channels must be known."""
        spatial, channels = spatial_and_channels(input_shape, self.rank, self.data_format, type(self).__name__)
        if channels is None:
            raise ValueError(f"{type(self).__name__} {getattr(self, 'name', '')!r} needs inputs with a known number of "
                             f"channels, got shape {tuple(input_shape)}")
        return spatial, channels

    def _activate(self, y, fused):
        """The activation after an op that fused ``fused`` (a name or None)."""
        if fused is None and self.activation is not activations.linear:
            return self.activation(y)
        return y


class _Conv(ConvGeometry, WorkspaceChecked, _KernelLayer):
    """Shared by Conv1D and Conv2D (``rank`` spatial dimensions)."""

    rank = 2
    uses_host_threads = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        name = type(self).__name__
        refuse_unsupported(name, kwargs, ("lora_rank", "lora_alpha"))
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = check_positive_int(filters, "filters")
        self.groups = check_positive_int(groups, "groups")
        if self.filters % self.groups:
            raise ValueError(f"{name}: filters={filters} must be divisible by groups={groups}")
        self._init_geometry(kernel_size, strides, padding, data_format, dilation_rate,
                            ("valid", "same", "causal") if self.rank == 1 else ("valid", "same"), strided_dilation=False)
        self._init_kernel(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                          kernel_constraint, bias_constraint)

    @property
    def supports_recording(self) -> bool:
        return activations.is_builtin(self.activation)

    def _spatial_out(self, spatial):
        return conv_ops.conv_output_shape(spatial, self.kernel_size, self.strides, self.padding, self.dilation_rate)

    def build(self, input_shape):
        spatial, channels = self._spatial_and_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the {channels} input channels must be divisible by "
                             f"groups={self.groups}")
        self._spatial_out(spatial)  # a kernel larger than the padded input is refused here, before any weight
        self._build_kernel((*self.kernel_size, channels // self.groups, self.filters), self.filters)

    def compute_output_shape(self, input_shape):
        spatial, _ = spatial_and_channels(input_shape, self.rank, self.data_format, type(self).__name__)
        return output_shape(input_shape[0], self._spatial_out(spatial), self.filters, self.data_format)

    def workspace_bytes(self, input_shape, itemsize, gradients=True, host=True, pool=None):
        shape = channels_last_shape(input_shape, self.data_format)
        return conv_ops.conv_workspace(shape, (*self.kernel_size, shape[-1], self.filters), itemsize, self.strides,
                                       self.padding, self.dilation_rate, gradients, pool, host,
                                       activation=self.activation is not activations.linear)

    def call(self, x, training=False):
        self.check_input(x)
        fused = _FUSED.get(self.activation)
        y = conv_ops.conv(to_channels_last(x, self.data_format), self.kernel, self.bias, strides=self.strides,
                          padding=self.padding, dilation=self.dilation_rate, activation=fused, groups=self.groups)
        return from_channels_last(self._activate(y, fused), self.data_format)

    def monotone(self) -> bool:
        """Whether bias and activation commute with a maximum (they are non-decreasing), so that a
        max pooling may come between the product and them."""
        return self.activation is activations.linear or self.activation in _FUSED

    def call_product(self, x, pool=None):
        """The convolution without bias and activation, channels last (see :meth:`call_finish`);
        max-pooled in the same op when ``pool`` is ``(pool_size, strides, padding)``."""
        self.check_input(x, pool)
        x = to_channels_last(x, self.data_format)
        if pool is None:
            return conv_ops.conv(x, self.kernel, None, strides=self.strides, padding=self.padding,
                                 dilation=self.dilation_rate, groups=self.groups)
        return conv_ops.conv_max_pool(x, self.kernel, strides=self.strides, padding=self.padding,
                                      dilation=self.dilation_rate, pool_size=pool[0], pool_strides=pool[1],
                                      pool_padding=pool[2], groups=self.groups)

    def call_finish(self, y):
        """Bias and activation on :meth:`call_product`'s result (possibly max-pooled), back in
        the layer's data format."""
        if self.bias is not None or self.activation in _FUSED:
            y = ops.bias_activation(y, self.bias, _FUSED.get(self.activation))
        return from_channels_last(y, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            **self._geometry_config(),
            "groups": self.groups,
            **self._kernel_config(),
        }


class Conv2D(_Conv):
    """2D convolution over images ``(batch, height, width, channels)`` (or channels first).

    Args:
        filters: the number of output channels.
        kernel_size: an int or ``(height, width)``.
        strides: an int or a pair (default 1).
        padding: ``"valid"`` (no padding) or ``"same"`` (outputs of ``ceil(input / stride)``,
            zeros split as TensorFlow splits them: the extra one after).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: an int or a pair (default 1; not with strides > 1).
        groups: splits the input channels and the filters into this many groups (dividing both),
            group g's filters reading only group g's channels (kernel ``(kh, kw, in_channels /
            groups, filters)``); a batched product per group, not a block-diagonal kernel.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint: as in ``Dense``
        (for a kernel ``MaxNorm``, ``axis=[0, 1, 2]`` constrains each filter).

    The kernel has shape ``(kh, kw, in_channels, filters)``, as in Keras. Example::

        Sequential([Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), MaxPooling2D(), Flatten(),
                    Dense(10, activation="softmax")])
    """

    rank = 2


class Conv1D(_Conv):
    """1D convolution over sequences ``(batch, steps, channels)``; the arguments of
    :class:`Conv2D` in one dimension, and ``padding="causal"`` (zeros only before, so that an
    output never sees a later step). Kernel of shape ``(k, in_channels, filters)``."""

    rank = 1
