"""Embedding: integer ids (token ids, category ids) to learned dense vectors."""

from __future__ import annotations

import warnings

import numpy

from .. import constraints, initializers, ops, regularizers
from .base import Layer, refuse_unsupported

__all__ = ["Embedding"]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value <= 0:
        raise ValueError(f"Embedding: {name} must be a positive integer, got {value!r} ({type(value).__name__})")
    return int(value)


class Embedding(Layer):
    """Turns non-negative integer ids into vectors: row ``i`` of the ``embeddings`` table
    (``input_dim`` rows of ``output_dim`` numbers) stands for id ``i``. Keras 3's arguments.

    The lookup is :func:`gpunet.ops.take` along the table's first axis; its backward adds each
    looked-up vector's gradient back into its row (ids that repeat in a batch add up), so only the
    rows a batch used get a non-zero gradient.

    Args:
        input_dim: the number of ids (the vocabulary's size; the largest id + 1).
        output_dim: the size of each vector.
        embeddings_initializer: the table's initial values (default ``"uniform"``: U[-0.05, 0.05]).
        embeddings_regularizer: a penalty on the table, added to the training loss.
        embeddings_constraint: a projection of the table after each update (:mod:`gpunet.constraints`).
        mask_zero: whether id 0 is padding: the output then carries the mask ``ids != 0``, which
            later layers that take a mask (pooling over time, recurrent layers) honour, as in
            Keras. Id 0 is then not a word (``input_dim`` = vocabulary + 1).
        weights: the initial table, an array of shape ``(input_dim, output_dim)`` (or a list
            holding it).

    Keras's ``lora_rank``, ``lora_alpha`` and ``quantization_config`` are accepted with their
    default (None) only: gpunet has no low-rank adaptation or quantized tables. Keras 2's
    ``input_length`` is accepted and ignored with a warning, as Keras 3 does.

    Inputs are integers of any shape (floats holding integers are cast, as Keras casts them);
    the output adds a last axis of ``output_dim``. An id out of ``[0, input_dim)`` raises
    IndexError on NumPy.

    Example::

        model = gpunet.Sequential([gpunet.Input((100,), dtype="int32"),
                                   gpunet.layers.Embedding(20000, 64, mask_zero=True),
                                   gpunet.layers.GlobalAveragePooling1D(),
                                   gpunet.layers.Dense(1, activation="sigmoid")])
    """

    supports_recording = True
    takes_integer_inputs = True  # a Sequential without an Input keeps its integer data as integers

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        refuse_unsupported("Embedding", {"lora_rank": lora_rank, "lora_alpha": lora_alpha,
                                         "quantization_config": quantization_config},
                           ("lora_rank", "lora_alpha", "quantization_config"))
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.output_dim = _positive_int(output_dim, "output_dim")
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Embedding: input_length is deprecated and ignored (Keras 3 dropped it)", stacklevel=2)
        super().__init__(**kwargs)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        if not isinstance(mask_zero, (bool, numpy.bool_)):
            raise TypeError(f"Embedding: mask_zero must be True or False, got {mask_zero!r}")
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.embeddings = None
        if weights is not None:
            self.ensure_built((None, None))
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1 else [weights])

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint, name="embeddings")

    def cast_input(self, x):
        return x  # ids are never cast to the compute dtype

    def call(self, x, training=False):
        if x.dtype.kind not in "iu":
            x = ops.cast(x, "int32")  # float ids, as Keras casts them
        return ops.cast(ops.take(self.embeddings, x, axis=0), self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        """``inputs != 0`` with ``mask_zero`` (id 0 is padding), else no mask."""
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            "quantization_config": None,
        }
