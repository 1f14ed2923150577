"""``CategoryEncoding`` (Keras 3's): integer category ids as one-hot, multi-hot or count vectors,
and the one encoding helper that ``Discretization`` and ``Hashing`` share."""

from __future__ import annotations

import numpy

from ... import backend, ops
from ...autograd import Tensor
from ...backend import get_array_module
from ..base import Layer, check_positive_int
from ..symbolic import KerasTensor

__all__ = ["CategoryEncoding", "encode_categories"]

OUTPUT_MODES = ("one_hot", "multi_hot", "count")


def encode_categories(indices, output_mode, depth, dtype, count_weights=None):
    """Integer ``indices`` (a Tensor, values in [0, depth)) encoded as Keras encodes categories:
    ``"int"`` keeps them (cast to ``dtype``); ``"one_hot"`` adds an axis of ``depth`` (a last axis
    of size 1 is replaced); ``"multi_hot"`` and ``"count"`` mark (or count, each weighted by
    ``count_weights``) the ids of a sample along axis 1 (axis 0 for a single sample)."""
    if output_mode == "int":
        return ops.cast(indices, dtype)
    if indices.ndim == 0:
        indices = ops.expand_dims(indices, -1)
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = ops.squeeze(indices, -1)
        return ops.one_hot(indices, depth, dtype=dtype)
    axis = 1 if indices.ndim > 1 else 0
    if output_mode == "multi_hot":
        return ops.max(ops.one_hot(indices, depth, dtype=dtype), axis=axis)
    hot = ops.one_hot(indices, depth, dtype=dtype)
    if count_weights is not None:
        hot = hot * ops.expand_dims(ops.cast(count_weights, dtype), -1)
    return ops.sum(hot, axis=axis)


class _EncodingLayer(Layer):
    """A layer whose outputs are category ids or their encodings, in ``output_dtype`` (an integer
    dtype for ids): the symbolic outputs of a functional model carry that dtype too."""

    @property
    def output_dtype(self):
        return self.compute_dtype

    def compute_output_spec(self, *args, **kwargs):
        spec = super().compute_output_spec(*args, **kwargs)
        if isinstance(spec, KerasTensor):
            return KerasTensor(spec.shape, numpy.dtype(self.output_dtype).name)
        return spec


class CategoryEncoding(_EncodingLayer):
    """Encodes integer category ids in ``[0, num_tokens)``: ``"one_hot"`` (one vector per id; a
    last axis of size 1 is replaced), ``"multi_hot"`` (one vector per sample, 1 for each id present)
    or ``"count"`` (how often each id occurs; ``layer(x, count_weights=w)`` sums ``w`` instead).
    Ids outside the range are refused. ``output_mode="binary"`` is Keras's old name for
    ``"multi_hot"``; ``sparse=True`` is not supported (dense outputs only).

    Example::

        CategoryEncoding(num_tokens=4, output_mode="multi_hot")(np.array([[0, 1], [0, 0], [1, 2]]))
        # [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0]]
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"CategoryEncoding: output_mode must be one of {list(OUTPUT_MODES)}, got {output_mode!r}")
        if num_tokens is None:
            raise ValueError("CategoryEncoding: num_tokens is required (use IntegerLookup when the number of "
                             "categories is not known in advance)")
        self.num_tokens = check_positive_int(num_tokens, "num_tokens")
        if sparse:
            raise ValueError("CategoryEncoding: sparse=True is not supported by gpunet (dense outputs only)")
        self.output_mode = output_mode
        self.sparse = False

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if not input_shape:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and (input_shape[-1] != 1 or len(input_shape) == 1):
            return (*input_shape, self.num_tokens)
        return (*input_shape[:-1], self.num_tokens)

    def call(self, x, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"CategoryEncoding: count_weights is only used with output_mode='count', not "
                             f"{self.output_mode!r}")
        values = x.data
        xp = get_array_module(values)
        if values.dtype.kind == "f":
            if bool(xp.any(values != xp.floor(values))):
                raise ValueError(f"CategoryEncoding {self.name!r}: inputs must be integer category ids")
            x = ops.cast(x, "int64")
        elif values.dtype.kind not in "iu":
            raise TypeError(f"CategoryEncoding {self.name!r}: inputs must be integers, got dtype {values.dtype}")
        if values.size and bool(xp.any((values < 0) | (values >= self.num_tokens))):
            found = backend.to_host(values)
            raise ValueError(f"CategoryEncoding {self.name!r}: inputs must be in [0, {self.num_tokens}) (num_tokens), "
                             f"got values from {found.min()} to {found.max()}")
        if count_weights is not None and not isinstance(count_weights, Tensor):
            count_weights = Tensor(backend.to_device(numpy.asarray(count_weights)))
        return encode_categories(x, self.output_mode, self.num_tokens, self.compute_dtype, count_weights)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}
