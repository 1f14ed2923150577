"""``gpunet.ops.nn``: Keras 3's ``keras.ops.nn``, with Keras's names, arguments and defaults.

The activations are gpunet's own (:mod:`gpunet.ops.activation`); convolutions go through the one
im2col convolution of :mod:`gpunet.ops.convolution` (a depthwise convolution is its grouped form, one
group per channel; a transposed convolution its input gradient taken as an op); everything else is composed of differentiable ops, so every
result is a :class:`gpunet.Tensor` that backward runs through.

Spatial ops take ``data_format`` ``None``/``"channels_last"`` (NHWC, gpunet's layout) or
``"channels_first"`` (moved to channels_last and back). Not offered: ``polar`` (complex
results), and ``ctc_decode``'s beam search (its greedy strategy is here).
"""

from __future__ import annotations

import numbers

import numpy

from .. import backend
from ..autograd import Function, Tensor
from ..backend import get_array_module
from . import convolution as _conv
from . import primitives as P
from .activation import (celu, elu, hard_shrink, hard_sigmoid, hard_silu, hard_tanh, leaky_relu, log_sigmoid,
                         log_softmax, relu, relu6, selu, sigmoid, silu, soft_shrink, softmax, softplus, softsign,
                         sparse_plus, sparse_sigmoid, sparsemax, squareplus, tanh_shrink, threshold)
from .activation import GELU
from .convolution import max as _max
from .core import logsumexp
from .math import add, div, log, matmul, mean, mul, sub, sum as _sum
from .shaping import cast, getitem, reshape, transpose

__all__ = [
    "relu", "relu6", "sigmoid", "softplus", "softsign", "silu", "swish", "log_sigmoid", "leaky_relu", "hard_sigmoid",
    "hard_silu", "hard_swish", "elu", "selu", "celu", "gelu", "glu", "softmax", "log_softmax", "sparsemax",
    "squareplus", "sparse_plus", "sparse_sigmoid", "soft_shrink", "hard_shrink", "hard_tanh", "tanh_shrink",
    "threshold",
    "conv", "conv_transpose", "depthwise_conv", "separable_conv", "max_pool", "average_pool",
    "adaptive_average_pool", "adaptive_max_pool", "unfold", "fold", "depth_to_space", "space_to_depth",
    "one_hot", "multi_hot", "moments", "batch_normalization", "normalize", "layer_normalization",
    "rms_normalization", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "dot_product_attention", "psnr", "ctc_loss", "ctc_decode",
]

EPSILON = 1e-7  # Keras's backend.epsilon(), the default of the ops that take one

swish = silu
hard_swish = hard_silu


def gelu(x, approximate=True):
    """Gaussian error linear unit ``x * Phi(x)``; keras.ops's default is the tanh approximation
    (``keras.activations.gelu``'s is the exact form)."""
    return GELU(approximate)(P.float_tensor(x))


def glu(x, axis=-1):
    """Gated linear unit ``a * sigmoid(b)``, ``a`` and ``b`` the two halves of ``x`` along ``axis``."""
    x = P.tensor(x)
    size = x.shape[axis]
    if size % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even, got shape {tuple(x.shape)}")
    first, second = _halves(x.ndim, axis % x.ndim, size // 2)
    return mul(getitem(x, first), sigmoid(getitem(x, second)))


def _halves(ndim, axis, half):
    index = [slice(None)] * ndim
    first, second = list(index), list(index)
    first[axis], second[axis] = slice(0, half), slice(half, None)
    return tuple(first), tuple(second)


# ----------------------------------------------------------------------------------------------
# data formats
# ----------------------------------------------------------------------------------------------
def _channels_first(data_format) -> bool:
    if data_format is None or data_format == "channels_last":
        return False
    if data_format == "channels_first":
        return True
    raise ValueError(f"data_format must be None, 'channels_last' or 'channels_first', got {data_format!r}")


def _to_last(x, first):
    return transpose(x, (0, *range(2, x.ndim), 1)) if first else x


def _to_first(x, first):
    return transpose(x, (0, x.ndim - 1, *range(1, x.ndim - 1))) if first else x


def _spatial_op(op, inputs, data_format, *args, **kwargs):
    """``op`` (written for channels_last) applied in the requested ``data_format``."""
    first = _channels_first(data_format)
    return _to_first(op(_to_last(P.tensor(inputs), first), *args, **kwargs), first)


# ----------------------------------------------------------------------------------------------
# convolutions and pooling
# ----------------------------------------------------------------------------------------------
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (1 or 2 spatial dims); ``kernel`` (*kernel_size, C_in, C_out)."""
    return _spatial_op(lambda x: _conv.conv(x, P.tensor(kernel), strides=strides, padding=padding,
                                            dilation=dilation_rate), inputs, data_format)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution: each input channel with its own ``M`` filters; ``kernel``
    (*kernel_size, C_in, M), output channels ``C_in * M`` (a grouped convolution, one group per
    channel)."""
    return _spatial_op(lambda x: _conv.depthwise_conv(x, P.tensor(kernel), strides=strides, padding=padding,
                                                      dilation=dilation_rate), inputs, data_format)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """A depthwise convolution followed by a 1x1 (pointwise) convolution mixing the channels."""
    depthwise = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format, 1)


def _as_ints(value, rank, name):
    return _conv._as_tuple(value, rank, name)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """Transposed convolution (the gradient of :func:`conv` with respect to its input);
    ``kernel`` (*kernel_size, C_out, C_in), Keras's layout."""
    return _spatial_op(lambda x: _conv.conv_transpose(x, P.tensor(kernel), strides=strides, padding=padding,
                                                      output_padding=output_padding, dilation=dilation_rate),
                       inputs, data_format)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over 1 or 2 spatial dims (``strides`` defaults to ``pool_size``)."""
    return _spatial_op(_conv.max_pool, inputs, data_format, pool_size, strides, padding)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling over 1 or 2 spatial dims ("same": each window averages its entries inside)."""
    return _spatial_op(_conv.avg_pool, inputs, data_format, pool_size, strides, padding)


def _adaptive(reduce, x, output_size):
    """Adaptive pooling: output ``i`` of a dim of size ``n`` reduces entries
    ``floor(i n / o)`` to ``ceil((i + 1) n / o)`` (exclusive), as PyTorch and Keras bin them."""
    rank = x.ndim - 2
    sizes = _as_ints(output_size, rank, "output_size")
    for axis, o in enumerate(sizes, start=1):
        n = x.shape[axis]
        parts = []
        for i in range(o):
            start, stop = (i * n) // o, -(-((i + 1) * n) // o)
            index = [slice(None)] * x.ndim
            index[axis] = slice(start, stop)
            parts.append(reduce(getitem(x, tuple(index)), axis, True))
        x = P.concat(parts, axis)
    return x


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed spatial ``output_size`` (PyTorch's adaptive bins)."""
    return _spatial_op(lambda x: _adaptive(mean, x, output_size), inputs, data_format)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed spatial ``output_size`` (PyTorch's adaptive bins)."""
    return _spatial_op(lambda x: _adaptive(_max, x, output_size), inputs, data_format)


class _Patches(Function):
    """Sliding blocks of a (N, C, H, W) array as columns (unfold) and their sum back (fold): each
    op's backward is the other's forward."""

    def __init__(self, spatial, kernel_size, dilation, padding, stride, gather):
        self.spatial = spatial  # (H, W) of the image side
        self.k = _as_ints(kernel_size, 2, "kernel_size")
        self.d = _as_ints(dilation, 2, "dilation")
        self.s = _as_ints(stride, 2, "stride")
        self.p = _pair(padding)
        self.out = tuple((n + 2 * p - (k - 1) * d - 1) // s + 1
                         for n, k, d, p, s in zip(spatial, self.k, self.d, self.p, self.s))
        if min(self.out) < 1:
            raise ValueError(f"kernel_size {self.k} leaves no block in an image of size {spatial} (padding {self.p})")
        self.gather = gather

    def _slices(self):
        for i in range(self.k[0]):
            for j in range(self.k[1]):
                yield (i * self.k[1] + j, (slice(i * self.d[0], i * self.d[0] + (self.out[0] - 1) * self.s[0] + 1, self.s[0]),
                                           slice(j * self.d[1], j * self.d[1] + (self.out[1] - 1) * self.s[1] + 1, self.s[1])))

    def _unfold(self, image):
        xp = get_array_module(image)
        n, c = image.shape[:2]
        padded = xp.pad(image, ((0, 0), (0, 0), (self.p[0],) * 2, (self.p[1],) * 2))
        cols = xp.empty((n, c, self.k[0] * self.k[1], *self.out), dtype=image.dtype)
        for at, (rows, columns) in self._slices():
            cols[:, :, at] = padded[:, :, rows, columns]
        return cols.reshape(n, -1, self.out[0] * self.out[1])

    def _fold(self, cols):
        xp = get_array_module(cols)
        n = cols.shape[0]
        kk = self.k[0] * self.k[1]
        cols = cols.reshape(n, -1, kk, *self.out)
        h, w = self.spatial
        padded = xp.zeros((n, cols.shape[1], h + 2 * self.p[0], w + 2 * self.p[1]), dtype=cols.dtype)
        for at, (rows, columns) in self._slices():
            padded[:, :, rows, columns] += cols[:, :, at]
        return padded[:, :, self.p[0]:self.p[0] + h, self.p[1]:self.p[1] + w]

    def forward(self, x):
        return self._unfold(x) if self.gather else self._fold(x)

    def backward(self, gy):
        return (self._fold(gy) if self.gather else self._unfold(gy),)


def _pair(value):
    values = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != 2 or any(v < 0 for v in values):
        raise ValueError(f"padding must be a non-negative int or 2 ints, got {value!r}")
    return tuple(int(v) for v in values)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of ``x`` (N, C, H, W) as columns (N, C * kH * kW, L) (PyTorch's unfold)."""
    x = P.tensor(x)
    if x.ndim != 4:
        raise ValueError(f"unfold: x must have shape (N, C, H, W), got {tuple(x.shape)}")
    return _Patches(tuple(x.shape[2:]), kernel_size, dilation, padding, stride, gather=True)(x)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The columns (N, C * kH * kW, L) of :func:`unfold` summed back into (N, C, H, W)."""
    x = P.tensor(x)
    if x.ndim != 3:
        raise ValueError(f"fold: x must have shape (N, C * kH * kW, L), got {tuple(x.shape)}")
    return _Patches(_as_ints(output_size, 2, "output_size"), kernel_size, dilation, padding, stride, gather=False)(x)


def _check_block(x, block_size):
    if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    if x.ndim != 4:
        raise ValueError(f"x must have 4 dims (N, H, W, C) or (N, C, H, W), got shape {tuple(x.shape)}")


def depth_to_space(x, block_size, data_format="channels_last"):
    """Channels moved into ``block_size x block_size`` spatial blocks (pixel shuffle)."""
    x = P.tensor(x)
    _check_block(x, block_size)
    b = int(block_size)

    first = _channels_first(data_format)
    n, h, w, c = (x.shape[0], *x.shape[2:], x.shape[1]) if first else x.shape
    if c % (b * b):
        raise ValueError(f"depth_to_space: {c} channels are not divisible by block_size**2 = {b * b}")
    if first:  # channels split as (C', bh, bw)
        x = transpose(reshape(x, (n, c // (b * b), b, b, h, w)), (0, 1, 4, 2, 5, 3))
        return reshape(x, (n, c // (b * b), h * b, w * b))
    x = transpose(reshape(x, (n, h, w, b, b, c // (b * b))), (0, 1, 3, 2, 4, 5))  # channels as (bh, bw, C')
    return reshape(x, (n, h * b, w * b, c // (b * b)))


def space_to_depth(x, block_size, data_format="channels_last"):
    """Spatial ``block_size x block_size`` blocks moved into channels (the inverse of depth_to_space)."""
    x = P.tensor(x)
    _check_block(x, block_size)
    b = int(block_size)

    first = _channels_first(data_format)
    n, h, w, c = (x.shape[0], *x.shape[2:], x.shape[1]) if first else x.shape
    if h % b or w % b:
        raise ValueError(f"space_to_depth: spatial size {(h, w)} is not divisible by block_size {b}")
    if first:
        x = transpose(reshape(x, (n, c, h // b, b, w // b, b)), (0, 1, 3, 5, 2, 4))
        return reshape(x, (n, c * b * b, h // b, w // b))
    x = transpose(reshape(x, (n, h // b, b, w // b, b, c)), (0, 1, 3, 2, 4, 5))
    return reshape(x, (n, h // b, w // b, b * b * c))


# ----------------------------------------------------------------------------------------------
# encodings, statistics and normalization
# ----------------------------------------------------------------------------------------------
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer ``x`` as one-hot vectors of ``num_classes`` along a new ``axis`` (negative or
    out-of-range indices give all zeros); ``dtype`` defaults to float32."""
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported by gpunet (dense results only)")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive int, got {num_classes!r}")
    labels = P.data(x)
    xp = get_array_module(labels)
    if labels.dtype.kind not in "iub":
        labels = labels.astype(numpy.int64)
    hot = labels[..., None] == xp.arange(int(num_classes))
    out = hot.astype(numpy.dtype(dtype or backend.floatx()))
    if axis != -1:
        out = xp.moveaxis(out, -1, axis)
    return Tensor._result(out, None)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Each sample's integer labels as one vector with a 1 for every class present: ``inputs``
    (labels,) or (batch, labels). Keras's older spelling ``num_tokens`` is accepted."""
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(f"multi_hot: unexpected arguments {sorted(kwargs)}")
    if num_classes is None:
        raise ValueError("multi_hot: num_classes is required")
    labels = P.tensor(inputs)
    hot = one_hot(labels, num_classes, axis=axis, dtype=dtype, sparse=sparse)
    reduce_axis = 1 if labels.ndim > 1 else 0
    return Tensor._result(hot.data.max(axis=reduce_axis), None)


def moments(x, axes, keepdims=False, synchronized=False):
    """``(mean, variance)`` of ``x`` over ``axes`` (variance ``E[x^2] - E[x]^2``, as Keras)."""
    if synchronized:
        raise ValueError("moments: synchronized=True is not supported by gpunet (one process's statistics only)")
    x = P.float_tensor(x)
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
    mu = mean(x, axes, keepdims=True)
    variance = sub(mean(P.square(x), axes, keepdims=True), P.square(mu))
    if not keepdims:
        kept = tuple(n for i, n in enumerate(x.shape) if i not in {a % x.ndim for a in axes})
        mu, variance = reshape(mu, kept), reshape(variance, kept)
    return mu, variance


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):  # noqa: A002
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset``, the statistics (C,) along ``axis``."""
    x = P.float_tensor(x)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def along(v):
        return reshape(P.tensor(v, like=x), tuple(shape))

    inv = P.rsqrt(add(along(variance), epsilon))
    if scale is not None:
        inv = mul(inv, along(scale))
    y = mul(sub(x, along(mean)), inv)
    return y if offset is None else add(y, along(offset))


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its ``order``-norm along ``axis`` (at least ``epsilon``, 1e-7 by default)."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1, got {order!r}")
    epsilon = EPSILON if epsilon is None else epsilon
    x = P.float_tensor(x)
    if x.ndim == 0:
        x = reshape(x, (1,))
    if order == 2:
        inv = P.clip(P.rsqrt(_sum(P.square(x), axis, keepdims=True)), None, 1.0 / epsilon)
        return mul(x, inv)
    norm = _sum(P.abs(x) ** order, axis, keepdims=True) ** (1.0 / order) if order != 1 else _sum(P.abs(x), axis, True)
    return div(x, P.clip(norm, epsilon, None))


def _broadcast_along(v, x, axes):
    if v is None:
        return None
    v = P.tensor(v, like=x)
    if v.ndim == x.ndim or axes == [x.ndim - 1]:
        return v
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    return reshape(v, tuple(shape))


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Normalization over ``axis`` of each sample, then ``* gamma + beta``; ``rms_scaling=True``
    (a keyword, as Keras) scales by ``1 / sqrt(variance + epsilon)`` only."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected arguments {sorted(kwargs)}")
    epsilon = EPSILON if epsilon is None else epsilon
    x = P.float_tensor(x)
    axes = sorted(a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis))
    mu, variance = moments(x, axes, keepdims=True)
    inv = P.rsqrt(add(variance, epsilon))
    gamma, beta = _broadcast_along(gamma, x, axes), _broadcast_along(beta, x, axes)
    y = mul(x, inv) if rms_scaling else mul(sub(x, mu), inv)
    if gamma is not None:
        y = mul(y, gamma)
    if beta is not None and not rms_scaling:
        y = add(y, beta)
    return y


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """``x / sqrt(mean(x^2 over axis) + epsilon) * scale``."""
    epsilon = EPSILON if epsilon is None else epsilon
    x = P.float_tensor(x)
    if x.ndim == 0:
        x = reshape(x, (1,))
    axes = tuple(a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis))
    y = mul(x, P.rsqrt(add(mean(P.square(x), axes, keepdims=True), epsilon)))
    return y if scale is None else mul(y, P.tensor(scale, like=x))


# ----------------------------------------------------------------------------------------------
# losses (elementwise or per sample, no reduction: Keras's ops)
# ----------------------------------------------------------------------------------------------
def _same_shape(target, output, name):
    if tuple(target.shape) != tuple(output.shape):
        raise ValueError(f"{name}: target and output must have the same shape, got {tuple(target.shape)} and "
                         f"{tuple(output.shape)}")


def _clipped_log(p):
    return log(P.clip(p, EPSILON, 1.0 - EPSILON))


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise ``-(t log p + (1 - t) log(1 - p))``, ``p`` clipped to [1e-7, 1 - 1e-7]
    (``sigmoid(output)`` with ``from_logits``)."""
    output = P.float_tensor(output)
    target = cast(P.tensor(target, like=output), output.dtype)
    _same_shape(target, output, "binary_crossentropy")
    p = P.clip(sigmoid(output) if from_logits else output, EPSILON, 1.0 - EPSILON)
    one = P.tensor(1.0, like=p)
    return -(mul(target, log(p)) + mul(sub(one, target), log(sub(one, p))))


def _log_probabilities(output, from_logits, axis):
    if from_logits:
        return log_softmax(output, axis=axis)
    return _clipped_log(div(output, _sum(output, axis, keepdims=True)))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(target * log p)`` along ``axis``, ``p`` the normalized output (or its softmax)."""
    output = P.float_tensor(output)
    target = cast(P.tensor(target, like=output), output.dtype)
    _same_shape(target, output, "categorical_crossentropy")
    if output.ndim < 1:
        raise ValueError("categorical_crossentropy: target and output must have at least 1 dim")
    return -_sum(mul(target, _log_probabilities(output, from_logits, axis)), axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """:func:`categorical_crossentropy` with integer class labels (a trailing axis of 1 is dropped)."""
    output = P.float_tensor(output)
    labels = P.data(target)
    if labels.ndim == output.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if tuple(labels.shape) != tuple(output.shape[:-1]):
        raise ValueError(f"sparse_categorical_crossentropy: target of shape {tuple(labels.shape)} must match output "
                         f"of shape {tuple(output.shape)} up to its last dim")
    hot = one_hot(labels, output.shape[axis], axis=axis, dtype=output.dtype)
    return -_sum(mul(hot, _log_probabilities(output, from_logits, axis)), axis)


# ----------------------------------------------------------------------------------------------
# attention and image quality
# ----------------------------------------------------------------------------------------------
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Scaled dot-product attention: ``softmax(q k^T * scale + bias, masked) v``.

    ``query`` (B, T, N, H), ``key`` and ``value`` (B, S, K, H) with ``N`` a multiple of ``K``
    (grouped-query attention: each key head serves ``N / K`` query heads); ``scale`` defaults
    to ``1 / sqrt(H)``; ``mask`` (broadcastable to (B, N, T, S)) keeps the True positions;
    ``is_causal`` keeps position ``s <= t``; ``attn_logits_soft_cap`` bounds the logits by
    ``cap * tanh(logits / cap)``. ``flash_attention`` must be None or False (no fused kernel)."""
    if flash_attention:
        raise ValueError("dot_product_attention: flash_attention=True is not supported by gpunet")
    q, k, v = P.float_tensor(query), P.float_tensor(key), P.float_tensor(value)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError("dot_product_attention: query, key and value must have 4 dims (B, T, N, H)")
    heads, groups = q.shape[2], k.shape[2]
    if heads % groups:
        raise ValueError(f"dot_product_attention: {heads} query heads are not a multiple of {groups} key heads")
    if heads != groups:
        index = (slice(None), slice(None), backend.on_device_of(numpy.repeat(numpy.arange(groups), heads // groups), k.data))
        k, v = getitem(k, index), getitem(v, index)
    scale = 1.0 / float(numpy.sqrt(q.shape[-1])) if scale is None else scale
    logits = mul(matmul(transpose(q, (0, 2, 1, 3)), transpose(k, (0, 2, 3, 1))), scale)  # (B, N, T, S)
    if bias is not None:
        logits = add(logits, P.tensor(bias, like=logits))
    if attn_logits_soft_cap is not None:
        logits = mul(P.tanh_of(div(logits, attn_logits_soft_cap)), attn_logits_soft_cap)
    keep = None
    if mask is not None:
        keep = P.data(mask).astype(bool)
    if is_causal:
        xp = get_array_module(logits.data)
        t, s = logits.shape[-2:]
        causal = xp.tril(xp.ones((t, s), dtype=bool))
        keep = causal if keep is None else keep & causal
    if keep is not None:
        logits = P.where(keep, logits, float(numpy.finfo(logits.dtype).min) * 0.7)
    weights = softmax(logits, axis=-1)
    return transpose(matmul(weights, transpose(v, (0, 2, 1, 3))), (0, 2, 1, 3))


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mean((x1 - x2)^2))``."""
    x1, x2 = P.float_tensor(x1), P.float_tensor(x2)
    if tuple(x1.shape) != tuple(x2.shape):
        raise ValueError(f"psnr: x1 and x2 must have the same shape, got {tuple(x1.shape)} and {tuple(x2.shape)}")
    error = mean(P.square(sub(x1, x2)))
    return sub(20.0 * float(numpy.log10(max_val)), mul(log(error), 10.0 / float(numpy.log(10.0))))


# ----------------------------------------------------------------------------------------------
# connectionist temporal classification
# ----------------------------------------------------------------------------------------------
_LOG_ZERO = -1e5  # log(0) as CTC's recursions use it: finite, so no NaN reaches the gradients


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """The CTC loss (Graves et al. 2006) of each sample: ``-log p(target | output)``, summed over
    every alignment of the ``target_length`` labels to the ``output_length`` frames.

    ``target`` (batch, max_labels) integer labels; ``output`` (batch, frames, classes) logits
    (a log-softmax is taken over the classes); ``mask_index`` the blank class. The forward
    (alpha) recursion runs in log space over the labels with blanks between them, one step per
    frame, each step an op of the graph, so backward differentiates it."""
    logits = P.float_tensor(output)
    labels = P.data(target).astype(numpy.int64)
    xp = get_array_module(labels)
    if logits.ndim != 3 or labels.ndim != 2 or labels.shape[0] != logits.shape[0]:
        raise ValueError(f"ctc_loss: target must be (batch, labels) and output (batch, frames, classes), got "
                         f"{tuple(labels.shape)} and {tuple(logits.shape)}")
    batch, frames, _ = logits.shape
    label_count = P.data(target_length).astype(numpy.int64).reshape(batch)
    frame_count = P.data(output_length).astype(numpy.int64).reshape(batch)
    states = 2 * labels.shape[1] + 1
    extended = xp.full((batch, states), int(mask_index), dtype=numpy.int64)  # blank, l1, blank, l2, ..., blank
    extended[:, 1::2] = labels
    skip = xp.zeros((batch, states), dtype=bool)  # s - 2 -> s allowed: a label unlike the one before it
    skip[:, 3::2] = extended[:, 3::2] != extended[:, 1:-2:2]
    log_probs = log_softmax(logits, axis=-1)
    emissions = P.take_along_axis(log_probs, xp.broadcast_to(extended[:, None, :], (batch, frames, states)), -1)
    start = xp.full((batch, states), _LOG_ZERO, dtype=logits.dtype)
    start[:, :2] = 0
    alpha = add(Tensor._result(start, None), getitem(emissions, (slice(None), 0)))
    if states > 2:
        alpha = P.where(xp.arange(states) < 2, alpha, _LOG_ZERO)
    for t in range(1, frames):  # alpha shifted by one and two states, log(0) coming in
        one = P.constant_pad(getitem(alpha, (slice(None), slice(0, -1))), [(0, 0), (1, 0)], _LOG_ZERO)
        two = P.constant_pad(getitem(alpha, (slice(None), slice(0, states - 2))), [(0, 0), (2, 0)], _LOG_ZERO)
        two = P.where(skip, two, _LOG_ZERO)
        step = add(logsumexp(P.stack([alpha, one, two], 0), axis=0), getitem(emissions, (slice(None), t)))
        alpha = P.where((t < frame_count)[:, None], step, alpha)
    last = 2 * label_count  # the final blank; the last label sits just before it
    ends = P.take_along_axis(alpha, xp.stack([last, xp.maximum(last - 1, 0)], 1), -1)
    ends = P.where(xp.stack([xp.ones(batch, bool), label_count > 0], 1), ends, _LOG_ZERO)
    return -logsumexp(ends, axis=1)


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """Greedy CTC decoding (values only): each frame's best class, repeats merged (with
    ``merge_repeated``), blanks (``mask_index``) dropped. Returns ``(decoded, scores)`` as Keras
    does: ``decoded`` (1, batch, frames) int32 padded with -1, ``scores`` (batch, 1) minus the sum
    of each valid frame's largest input. ``strategy="beam_search"`` is not supported."""
    if strategy != "greedy":
        raise ValueError(f"ctc_decode: strategy must be 'greedy' in gpunet (no beam search), got {strategy!r}")
    if top_paths != 1:
        raise ValueError(f"ctc_decode: top_paths must be 1 with the greedy strategy, got {top_paths!r}")
    values = P.float_tensor(inputs).data
    xp = get_array_module(values)
    if values.ndim != 3:
        raise ValueError(f"ctc_decode: inputs must be (batch, frames, classes), got shape {tuple(values.shape)}")
    batch, frames, _ = values.shape
    lengths = backend.on_device_of(P.data(sequence_lengths), values).astype(numpy.int64).reshape(batch)
    best = values.argmax(-1)
    valid = xp.arange(frames)[None, :] < lengths[:, None]
    keep = valid & (best != mask_index)
    if merge_repeated:
        keep[:, 1:] &= best[:, 1:] != best[:, :-1]
    order = xp.argsort(xp.where(keep, xp.arange(frames)[None, :], frames), axis=1, kind="stable")
    decoded = xp.where(xp.take_along_axis(keep, order, 1), xp.take_along_axis(best, order, 1), -1)
    scores = -(values.max(-1) * valid).sum(1, keepdims=True)
    return Tensor._result(decoded[None].astype(numpy.int32), None), Tensor._result(scores.astype(values.dtype), None)


from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
