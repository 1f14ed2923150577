"""Attention layers with Keras 3's arguments, weights, masks and files: MultiHeadAttention
(whose projections are EinsumDense layers), Attention (Luong's dot-product attention) and
AdditiveAttention (Bahdanau's).

Masks as Keras uses them: the query's mask (``_keras_mask`` of the query Tensor) keeps the
query positions, the value's (and the key's) keep the key positions; a causal mask keeps key
positions at or before each query position; ``attention_mask`` (batch, T, S) keeps what it says.
They are combined with a logical and; masked scores get a large negative number before the
softmax. The output carries the query's mask on.
"""

from __future__ import annotations

import math
import numbers
import string

import numpy

from .. import backend, constraints, initializers, ops, regularizers
from ..autograd import Tensor, as_tensor
from ..keras_api import check_default
from .activations import Softmax
from .base import Layer, check_positive_int
from .core import Dropout
from .einsum_dense import EinsumDense

__all__ = ["MultiHeadAttention", "Attention", "AdditiveAttention"]


def _large_negative(dtype) -> float:
    """What a masked score becomes before the softmax (Keras's numbers: -3e4 in float16, else -1e9)."""
    return -3e4 if numpy.dtype(dtype) == numpy.float16 else -1e9


def _check_rate(value, layer: str, name: str = "dropout") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{layer}: {name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _refuse_seed(seed, layer: str) -> None:
    if seed is not None:
        raise ValueError(f"{layer}: a per-layer seed is not supported; gpunet.utils.set_random_seed(seed) seeds every "
                         f"dropout mask")


def _as_bool(mask):
    """A mask (Tensor or array, bool or numbers) as a bool Tensor: True where it is nonzero."""
    mask = as_tensor(mask)
    return mask if mask.dtype == numpy.bool_ else ops.cast(mask, "bool")


def _causal_mask(xp, queries: int, keys: int):
    """(1, T, S): True where key position ``s <= t`` (each query sees itself and the past)."""
    return xp.tril(xp.ones((queries, keys), dtype=bool))[None]


def _and(a, b):
    return b if a is None else a if b is None else ops.logical_and(a, b)


def masked_softmax(scores, mask, axis, zero_masked: bool = True):
    """``softmax(scores)`` over ``axis`` with the positions where ``mask`` (broadcast to the
    scores) is False set to a large negative number first, so that they get weight 0; with
    ``zero_masked`` the masked positions are then set to 0, which leaves a row masked everywhere
    all zeros instead of uniform (Keras's masked ``Softmax``)."""
    if mask is None:
        return ops.softmax(scores, axis=axis)
    probabilities = ops.softmax(ops.where(mask, scores, _large_negative(scores.dtype)), axis=axis)
    return ops.where(mask, probabilities, 0.0) if zero_masked else probabilities


def _letters(count: int) -> str:
    return string.ascii_lowercase[:count]


def _projection_equation(free: int, bound: int, out: int):
    """``(equation, bias_axes)`` of an EinsumDense that keeps ``free`` leading axes, contracts
    ``bound`` axes with the kernel and makes ``out`` new ones. The query projection of (B, T, dim)
    into (B, T, heads, key_dim) is free=2, bound=1, out=2: ``"abc,cde->abde"``, bias on ``"de"``;
    the output projection of (B, T, heads, value_dim) is free=2, bound=2, out=1: ``"abcd,cde->abe"``."""
    letters = _letters(free + bound + out)
    kept, contracted, made = letters[:free], letters[free:free + bound], letters[free + bound:]
    return f"{kept}{contracted},{contracted}{made}->{kept}{made}", made


def _attention_equations(rank: int, attention_axes):
    """The two einsums of attention over ``attention_axes`` of projected tensors of ``rank``
    (batch, <other axes>, <attention axes>, heads, channels): the scores
    ``(key, query) -> (<batch and other axes>, heads, <query attention axes>, <key attention axes>)``
    and the combination ``(probabilities, value) -> query's layout``. Every axis but the
    attention axes and the channels is carried through as a batch axis."""
    target = _letters(rank)
    batch = [i for i in range(rank - 1) if i not in attention_axes]
    extra = iter(string.ascii_lowercase[rank:])
    source = "".join(target[i] if i in batch or i == rank - 1 else next(extra) for i in range(rank))
    scores = ("".join(target[i] for i in batch) + "".join(target[i] for i in attention_axes)
              + "".join(source[i] for i in attention_axes))
    return f"{source},{target}->{scores}", f"{scores},{source}->{target}", len(scores)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017), Keras 3's layer.

    ``query`` (B, T, dim) and ``value`` (B, S, dim) (``key`` defaults to ``value``) are projected
    into ``num_heads`` heads, ``q = query @ Wq + bq`` (B, T, heads, key_dim), likewise ``k`` and
    ``v`` (value_dim); each head computes ``softmax(q k^T / sqrt(key_dim)) v`` over the key
    positions (masked as the module docstring says), and one projection maps the heads back to
    ``output_shape`` (the query's last dimension by default).

    Args:
        num_heads: the number of heads. key_dim: the size of each head's queries and keys.
        value_dim: the size of each head's values (default ``key_dim``).
        dropout: the rate of dropout on the attention probabilities, in training.
        use_bias: whether the four projections have biases.
        output_shape: the output's last dimension(s) (an int or a tuple), default the query's.
        attention_axes: the axes attended over (default: all but the batch and the features).
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, bias_constraint: for the projections.

    Call: ``layer(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)``; ``value_mask`` and ``key_mask`` default to the masks
    ``value`` and ``key`` carry, and the query's mask is always the one ``query`` carries (as in
    Keras 3.15, which ignores a ``query_mask`` argument). Returns (B, T, ...output_shape), and the
    attention probabilities (B, heads, T, S) with ``return_attention_scores``.

    Weights, in Keras's order and file layout: the ``EinsumDense`` sub-layers ``query``, ``key``
    and ``value`` (kernels (dim, heads, key_dim or value_dim), biases (heads, key_dim or
    value_dim)) and ``attention_output`` (kernel (heads, value_dim, dim), bias (dim,)). Keras's
    ``flash_attention`` (None or False), ``sliding_window``, ``use_gate`` and ``seed`` are
    accepted with their defaults only.

    Example::

        x = gpunet.Input((16, 32))
        y = gpunet.layers.MultiHeadAttention(num_heads=4, key_dim=8)(x, x, use_causal_mask=True)
    """

    supports_masking = True
    supports_recording = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        name = type(self).__name__
        for key, value, default in (("sliding_window", sliding_window, None), ("use_gate", use_gate, False)):
            check_default(name, key, value, default)
        if flash_attention:
            raise ValueError(f"{name}: flash_attention=True is not supported by gpunet")
        _refuse_seed(seed, name)
        super().__init__(**kwargs)  # the activity regularizer goes to the projections, as in Keras
        self.num_heads = check_positive_int(num_heads, "num_heads")
        self.key_dim = check_positive_int(key_dim, "key_dim")
        self.value_dim = self.key_dim if value_dim is None else check_positive_int(value_dim, "value_dim")
        self.dropout = _check_rate(dropout, name)
        self.use_bias = bool(use_bias)
        if output_shape is not None and not isinstance(output_shape, (list, tuple)):
            output_shape = (output_shape,)
        if output_shape is not None:
            output_shape = tuple(check_positive_int(d, "output_shape") for d in output_shape) or None
        self.output_shape = output_shape
        if isinstance(attention_axes, numbers.Integral) and not isinstance(attention_axes, bool):
            attention_axes = (int(attention_axes),)
        elif attention_axes is not None:
            if not isinstance(attention_axes, (list, tuple)) or not attention_axes or any(
                    isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in attention_axes):
                raise ValueError(f"{name}: attention_axes must be an int, a list or tuple of ints, or None, "
                                 f"got {attention_axes!r}")
            attention_axes = tuple(int(a) for a in attention_axes)
        self.attention_axes = attention_axes
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.projection_activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.query_dense = self.key_dense = self.value_dense = self.output_dense = None

    # -- building ---------------------------------------------------------------------------------
    def _projection(self, name, rank, bound, heads_shape):
        """An EinsumDense for inputs of ``rank`` that contracts their last ``bound`` axes into
        ``heads_shape`` (the common arguments of the four projections)."""
        equation, bias_axes = _projection_equation(rank - bound, bound, len(heads_shape))
        return EinsumDense(equation, output_shape=[None] * (rank - bound - 1) + list(heads_shape),
                           bias_axes=bias_axes if self.use_bias else None, name=name,
                           kernel_initializer=initializers.get(initializers.serialize(self.kernel_initializer)),
                           bias_initializer=initializers.get(initializers.serialize(self.bias_initializer)),
                           kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
                           activity_regularizer=self.projection_activity_regularizer,
                           kernel_constraint=self.kernel_constraint, bias_constraint=self.bias_constraint,
                           dtype=self.dtype_policy)

    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the four projections for inputs of these shapes (batch first). Called with the
        query's shape alone (a model building its layers from one input), it waits for the
        first call, which knows the value's shape too."""
        if value_shape is None or self.query_dense is not None:
            return
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"{self.name}: value and key must agree on every dimension but the last, got shapes "
                             f"{value_shape} and {key_shape}")
        if len(query_shape) < 3 or len(query_shape) != len(value_shape):
            raise ValueError(f"{self.name}: query and value must have the same rank, at least 3 (batch, positions, "
                             f"features), got shapes {query_shape} and {value_shape}")
        rank = len(query_shape) + 1  # of the projected tensors: one axis for the heads
        axes = tuple(range(1, rank - 2)) if self.attention_axes is None else self.attention_axes
        resolved = tuple(a % (rank - 1) if -(rank - 1) <= a < rank - 1 else -1 for a in axes)
        if any(a < 1 or a > rank - 3 for a in resolved) or len(set(resolved)) != len(resolved):
            raise ValueError(f"{self.name}: attention_axes {self.attention_axes!r} must name distinct axes between the "
                             f"batch and the features of inputs of rank {rank - 1}")
        self.attention_axes = resolved
        self._dot_equation, self._combine_equation, scores_rank = _attention_equations(rank, resolved)
        self._softmax_axes = tuple(range(scores_rank - len(resolved), scores_rank))
        self.query_dense = self._projection("query", len(query_shape), 1, (self.num_heads, self.key_dim))
        self.key_dense = self._projection("key", len(key_shape), 1, (self.num_heads, self.key_dim))
        self.value_dense = self._projection("value", len(value_shape), 1, (self.num_heads, self.value_dim))
        self._softmax = Softmax(axis=list(self._softmax_axes), name="softmax", dtype=self.dtype_policy)
        self._dropout_layer = Dropout(self.dropout, name="dropout", dtype=self.dtype_policy)
        out = self.output_shape or (query_shape[-1],)
        self.output_dense = self._projection("attention_output", len(query_shape) + 1, 2, out)
        self.query_dense.ensure_built(query_shape)
        self.key_dense.ensure_built(key_shape)
        self.value_dense.ensure_built(value_shape)
        heads = self.query_dense.compute_output_shape(query_shape)
        self.output_dense.ensure_built((*heads[:-1], self.value_dim))
        for sub in (self.query_dense, self.key_dense, self.value_dense, self.output_dense):
            for param in sub.weights:  # Keras's paths: "<attention layer>/query/kernel"
                param.name = f"{self.name}/{param.name}"
        self._build_shapes = {"query_shape": list(query_shape), "value_shape": list(value_shape)}
        if key_shape is not value_shape:
            self._build_shapes["key_shape"] = list(key_shape)
        self.built = True

    def get_build_config(self) -> dict:
        """What Keras's ``.keras`` files keep to build the layer again: the three input shapes."""
        return {"shapes_dict": getattr(self, "_build_shapes", None)} if self.query_dense is not None else {}

    def __call__(self, *args, **kwargs):
        """Keras's call: ``query``, ``value`` and ``key`` positional or by name."""
        args = list(args)
        for position, name in enumerate(("query", "value", "key")):
            if name in kwargs:
                if len(args) != position:
                    raise TypeError(f"{self.name}: {name} was given twice, or before the arguments ahead of it")
                args.append(kwargs.pop(name))
        if len(args) > 2 and args[2] is None:
            del args[2]
        if len(args) < 2:
            raise TypeError(f"{self.name}: call the layer with query and value, e.g. layer(x, x)")
        if self.query_dense is None:
            self.build(*[(None, *tuple(a.shape)[1:]) for a in args[:3]])
        return super().__call__(*args, **kwargs)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        return (*query_shape[:-1], *self.output_shape) if self.output_shape else query_shape

    # -- calling ----------------------------------------------------------------------------------
    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        """The combined mask (B, T, S) of what each query position may attend to, or None."""
        mask = None
        if query_mask is not None:
            mask = ops.expand_dims(_as_bool(query_mask), -1)
        for carried in (value_mask, key_mask):
            if carried is not None:
                mask = _and(mask, ops.expand_dims(_as_bool(carried), -2))
        if use_causal_mask:
            xp = backend.get_array_module(query.data)
            mask = _and(mask, Tensor(_causal_mask(xp, query.shape[1], value.shape[1])))
        if attention_mask is not None:
            mask = _and(_as_bool(attention_mask), mask)
        return mask

    def _compute_attention(self, query, key, value, attention_mask=None, training=False, zero_masked=True):
        """Attention of the projected ``query`` (B, T, heads, key_dim) over ``key`` and ``value``;
        returns the output (B, T, heads, value_dim) and the probabilities (B, heads, T, S)."""
        query = ops.multiply(query, 1.0 / math.sqrt(float(self.key_dim)))
        scores = ops.einsum(self._dot_equation, key, query)
        if attention_mask is not None:
            for _ in range(scores.ndim - attention_mask.ndim):  # broadcast over the heads
                attention_mask = ops.expand_dims(attention_mask, -2 * len(self.attention_axes) - 1)
            probabilities = masked_softmax(scores, attention_mask, self._softmax_axes, zero_masked)
        else:
            probabilities = self._softmax(scores)
        dropped = self._dropout_layer(probabilities, training=training) if self.dropout > 0 else probabilities
        return ops.einsum(self._combine_equation, dropped, value), probabilities

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=False, use_causal_mask=False):
        value = self.cast_input(as_tensor(value))
        if key is not None:
            key = self.cast_input(as_tensor(key))
            if key_mask is None:
                key_mask = getattr(key, "_keras_mask", None)
        if value_mask is None:
            value_mask = getattr(value, "_keras_mask", None)
        query_mask = getattr(query, "_keras_mask", None)
        if key is None:
            key = value
        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask)
        # Keras's fused path (no dropout, no scores returned, one attention axis) leaves a query row
        # that may attend to nothing uniform over the keys; its general path leaves it all zeros
        fused = self.dropout == 0 and not return_attention_scores and query.ndim == 3
        output, probabilities = self._compute_attention(self.query_dense(query), self.key_dense(key),
                                                        self.value_dense(value), mask, training, not fused)
        output = self.output_dense(output)
        return (output, probabilities) if return_attention_scores else output

    def get_config(self):
        return {
            **super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
            "dropout": self.dropout, "use_bias": self.use_bias, "use_gate": False,
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "attention_axes": None if self.attention_axes is None else list(self.attention_axes),
            "sliding_window": None,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.projection_activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "seed": None,
        }


class Attention(Layer):
    """Dot-product attention (Luong et al. 2015), Keras 3's ``Attention``.

    Called on ``[query, value]`` or ``[query, value, key]`` (key defaults to value), query
    (B, T, dim), value and key (B, S, dim): the scores are ``query @ key^T`` (times ``scale``
    with ``use_scale``) for ``score_mode="dot"``, or ``concat_score_weight * sum(tanh(scale *
    (q + k)))`` over the features for ``score_mode="concat"``; the output is ``softmax(scores)
    @ value`` (B, T, dim).

    Args:
        use_scale: learn a scalar ``scale`` for the scores (initialized to 1).
        score_mode: ``"dot"`` or ``"concat"`` (which adds the scalar ``concat_score_weight``).
        dropout: the rate of dropout on the attention probabilities, in training.

    Call: ``layer([query, value(, key)], mask=None, training=False, return_attention_scores=False,
    use_causal_mask=False)``. ``mask`` is ``[query_mask, value_mask]`` (default: the masks the
    inputs carry): masked value positions get ``scores - 1e9`` before the softmax, masked query
    positions give zeros, and the output carries the query's mask. With
    ``return_attention_scores`` the probabilities (B, T, S) come second. Keras's ``seed`` is
    accepted as None only.
    """

    supports_masking = True
    supports_recording = True

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        _refuse_seed(seed, name)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{name}: score_mode must be 'dot' or 'concat', got {score_mode!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = _check_rate(dropout, name)
        self.seed = None
        self.scale = self.concat_score_weight = None

    def _check_inputs(self, inputs, mask=None) -> None:
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} {self.name!r} must be called on a list [query, value] or [query, value, key], "
                             f"got {type(inputs).__name__}")
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(f"{name} {self.name!r}: mask must be a list [query_mask, value_mask], got {mask!r}")

    def build(self, input_shape):
        self._check_inputs(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(shape=(), initializer="ones", name="concat_score_weight")

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        return (*tuple(input_shape[0])[:-1], input_shape[1][-1])

    def _scores(self, query, key):
        """(B, T, S) scores of each query position against each key position."""
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
            return scores if self.scale is None else ops.multiply(scores, self.scale)
        pairs = ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3))  # (B, T, S, dim)
        if self.scale is not None:
            pairs = ops.multiply(self.scale, pairs)
        return ops.multiply(self.concat_score_weight, ops.sum(ops.tanh(pairs), axis=-1))

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        self._check_inputs(inputs, mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask = mask[0] if mask else None
        value_mask = mask[1] if mask else None
        scores = self._scores(query, key)
        keep = None if value_mask is None else ops.expand_dims(_as_bool(value_mask), -2)
        if use_causal_mask:
            xp = backend.get_array_module(scores.data)
            keep = _and(keep, Tensor(_causal_mask(xp, scores.shape[-2], scores.shape[-1])))
        if keep is not None:  # Keras lowers the masked scores by 1e9 (65504 in float16)
            lower = 65504.0 if scores.dtype == numpy.float16 else 1e9
            scores = ops.where(keep, scores, ops.subtract(scores, lower))
        probabilities = ops.softmax(scores, axis=-1)
        dropped = ops.dropout(probabilities, self.dropout, training) if self.dropout > 0 else probabilities
        output = ops.matmul(dropped, value)
        if query_mask is not None:
            output = ops.where(ops.expand_dims(_as_bool(query_mask), -1), output, 0.0)
        return (output, probabilities) if return_attention_scores else output

    def compute_mask(self, inputs, mask=None):
        return None if not mask or mask[0] is None else mask[0]

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive attention (Bahdanau et al. 2015), Keras 3's ``AdditiveAttention``: the scores are
    ``sum(scale * tanh(query + key))`` over the features, ``scale`` a learnt vector (dim,)
    (glorot-uniform initialized) with ``use_scale`` (the default), else 1. Inputs, masks, dropout
    and outputs as :class:`Attention`."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(shape=(input_shape[0][-1],), initializer="glorot_uniform", name="scale")

    def _scores(self, query, key):
        pairs = ops.tanh(ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3)))  # (B, T, S, dim)
        return ops.sum(pairs if self.scale is None else ops.multiply(self.scale, pairs), axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
