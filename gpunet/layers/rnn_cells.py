"""Recurrent cells, Keras 3's: SimpleRNNCell, LSTMCell, GRUCell, and StackedRNNCells.

A cell computes one time step, ``output, new_states = cell(inputs, states)``, with gpunet's ops;
:class:`gpunet.layers.RNN` runs it over a sequence. The layers ``SimpleRNN``, ``LSTM`` and ``GRU``
hold one of these cells (its weights, Keras's names, shapes and gate order) but run the whole
sequence as one op (:mod:`gpunet.ops.recurrent`) when the cell's activations allow it.

Dropout follows Keras's ``DropoutRNNCell``: the masks are drawn once per sequence (the RNN
layer opens and closes a sequence around its loop) and reused at every step; with
``recurrent_dropout`` set, LSTM and GRU draw one mask per gate (Keras's ``implementation=1``).
"""

from __future__ import annotations

import inspect

import numpy

from .. import activations, constraints, initializers, ops, regularizers, tree
from ..autograd import Tensor
from ..ops.recurrent import FUSED_ACTIVATIONS, draw_keep_masks
from .base import Layer, check_positive_int

__all__ = ["GRUCell", "LSTMCell", "SimpleRNNCell", "StackedRNNCells"]


def _rate(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    return min(1.0, max(0.0, float(value)))  # Keras clips the rates into [0, 1]


class _Cell(Layer):
    """What the three built-in cells share: units, activations, the kernel, recurrent kernel and
    bias with their initializers, regularizers and constraints, dropout and its per-sequence masks."""

    kind = ""  # "simple", "lstm", "gru": the op of gpunet.ops.recurrent that runs a whole sequence
    gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _rate(dropout, "dropout")
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an integer or None, got {seed!r}")
        self.seed = seed  # kept for the config; gpunet.utils.set_random_seed seeds every dropout mask
        self.bias = None
        self.__dict__["_masks"] = None  # the open sequence's dropout masks (not a graph attribute)

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"{type(self).__name__} {self.name!r} needs inputs with a known last dimension, "
                             f"got shape {tuple(input_shape)}")
        width = self.gates * self.units
        self.kernel = self.add_weight(shape=(features, width), initializer=self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, width), initializer=self.recurrent_initializer,
                                                name="recurrent_kernel", regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(shape=self._bias_shape(), initializer=self._bias_initializer(), name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    # -- what the fused op needs ---------------------------------------------------------------
    def fused_activations(self):
        """``(activation, recurrent_activation)`` names when the op of :mod:`gpunet.ops.recurrent`
        computes them, else None (the RNN layer then runs the cell step by step)."""
        names = []
        for fn in (self.activation, self.recurrent_activation):
            name = activations.serialize(fn) if activations.is_builtin(fn) else None
            if name not in FUSED_ACTIVATIONS:
                return None
            names.append(name)
        return tuple(names)

    # -- dropout masks, one per sequence --------------------------------------------------------
    def open_sequence(self, batch: int, features: int, like, training: bool) -> None:
        """Draw this sequence's dropout masks (Keras's ``get_dropout_mask``, cached for every step)."""
        masks = {}
        if training and self.dropout > 0:
            count = self.gates if self.recurrent_dropout > 0 else 1
            masks["input"] = draw_keep_masks(count, (batch, features), self.dropout, like)
        if training and self.recurrent_dropout > 0:
            masks["recurrent"] = draw_keep_masks(self.gates, (batch, self.units), self.recurrent_dropout, like)
        self.__dict__["_masks"] = masks

    def close_sequence(self) -> None:
        self.__dict__["_masks"] = None

    def _dropout_masks(self, inputs, h_prev, training):
        """This step's masks: the open sequence's, or new ones for a cell called on its own."""
        if not training:
            return None, None
        masks = self._masks
        if masks is None:
            self.open_sequence(inputs.shape[0], inputs.shape[-1], inputs.data, training)
            masks, self.__dict__["_masks"] = self._masks, None
        return masks.get("input"), masks.get("recurrent")

    def _products(self, inputs, h_prev, training, kernel=None, recurrent_kernel=None):
        """``(inputs' projection + input bias, h_prev's projection)`` for every gate, with dropout."""
        in_masks, rec_masks = self._dropout_masks(inputs, h_prev, training)
        kernel = self.kernel if kernel is None else kernel
        recurrent_kernel = self.recurrent_kernel if recurrent_kernel is None else recurrent_kernel
        projected = _gate_products(inputs, kernel, in_masks, self.units)
        recurrent = _gate_products(h_prev, recurrent_kernel, rec_masks, self.units)
        return projected, recurrent, rec_masks

    def get_config(self):
        config = {
            **super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
        }
        return config


def _gate_products(inputs, kernel, masks, units):
    """``inputs @ kernel``; with one dropout mask, ``(inputs * mask) @ kernel``; with one mask per
    gate, each gate's columns from its own masked inputs."""
    if masks is None:
        return ops.matmul(inputs, kernel)
    if len(masks) == 1:
        return ops.matmul(inputs * Tensor(masks[0]), kernel)
    return ops.concatenate([ops.matmul(inputs * Tensor(masks[g]), kernel[:, g * units:(g + 1) * units])
                            for g in range(len(masks))], axis=-1)


def _first_state(states):
    return states[0] if isinstance(states, (list, tuple)) else states


class SimpleRNNCell(_Cell):
    """One step of a fully connected recurrence: ``h = activation(x @ kernel + bias + h_prev @ recurrent_kernel)``.

    Args:
        units: the size of the output and the state.
        activation: default ``"tanh"``.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer, *_regularizer,
        *_constraint: as Keras's (defaults glorot_uniform, orthogonal, zeros).
        dropout, recurrent_dropout: rates of the per-sequence masks on the inputs and on ``h_prev``.
        seed: accepted for Keras's config; gpunet's global seed draws the masks.
    """

    kind = "simple"
    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation, "sigmoid", use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
                         **kwargs)

    def fused_activations(self):
        name = activations.serialize(self.activation) if activations.is_builtin(self.activation) else None
        return (name, "sigmoid") if name in FUSED_ACTIVATIONS else None

    def call(self, inputs, states, training=False):
        projected, recurrent, _ = self._products(inputs, _first_state(states), training)
        if self.bias is not None:
            projected = projected + self.bias
        h = self.activation(projected + recurrent)
        return h, [h]

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config


class LSTMCell(_Cell):
    """One LSTM step (Hochreiter & Schmidhuber 1997), gates in Keras's order i, f, c, o::

        z = x @ kernel + bias + h_prev @ recurrent_kernel      (kernel: (features, 4 units))
        i, f, o = recurrent_activation(z_i, z_f, z_o);  g = activation(z_c)
        c = f * c_prev + i * g;  h = o * activation(c)         states [h, c]

    Args are :class:`SimpleRNNCell`'s plus ``recurrent_activation`` (default ``"sigmoid"``) and
    ``unit_forget_bias`` (default True: the forget gate's bias starts at 1, the rest from
    ``bias_initializer``, as Keras does).
    """

    kind = "lstm"
    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        kwargs.pop("implementation", None)  # Keras's choice of kernel: the same numbers either way
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
                         **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def forget_bias_one(shape, dtype=None):
            xp_values = [numpy.asarray(_host(base((units,), dtype))), numpy.ones((units,), dtype=dtype),
                         numpy.asarray(_host(base((2 * units,), dtype)))]
            return numpy.concatenate(xp_values).astype(dtype)

        return forget_bias_one

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        projected, recurrent, _ = self._products(inputs, h_prev, training)
        z = projected + recurrent
        if self.bias is not None:
            z = z + self.bias
        u = self.units
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u:2 * u])
        g = self.activation(z[:, 2 * u:3 * u])
        o = self.recurrent_activation(z[:, 3 * u:])
        c = f * c_prev + i * g
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


def _host(values):
    from .. import backend

    return backend.to_host(values)


class GRUCell(_Cell):
    """One GRU step (Cho et al. 2014), gates in Keras's order z, r, h::

        z = ract(x W_z + b_z + h_prev U_z + rb_z);  r = ract(x W_r + b_r + h_prev U_r + rb_r)
        reset_after=True:   hh = act(x W_h + b_h + r * (h_prev U_h + rb_h))   bias (2, 3 units)
        reset_after=False:  hh = act(x W_h + b_h + (r * h_prev) U_h)          bias (3 units,)
        h = z * h_prev + (1 - z) * hh

    Args are :class:`LSTMCell`'s without ``unit_forget_bias``, plus ``reset_after`` (default True,
    Keras 3's and cuDNN's variant).
    """

    kind = "gru"
    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
                         **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        h_prev = _first_state(states)
        u = self.units
        in_masks, rec_masks = self._dropout_masks(inputs, h_prev, training)
        projected = _gate_products(inputs, self.kernel, in_masks, u)
        if self.bias is not None:
            projected = projected + (self.bias[0] if self.reset_after else self.bias)
        if self.reset_after:
            recurrent = _gate_products(h_prev, self.recurrent_kernel, rec_masks, u)
            if self.bias is not None:
                recurrent = recurrent + self.bias[1]
        else:
            zr_masks = None if rec_masks is None else rec_masks[:2]
            recurrent = _gate_products(h_prev, self.recurrent_kernel[:, :2 * u], zr_masks, u)
        z = self.recurrent_activation(projected[:, :u] + recurrent[:, :u])
        r = self.recurrent_activation(projected[:, u:2 * u] + recurrent[:, u:2 * u])
        if self.reset_after:
            hh = self.activation(projected[:, 2 * u:] + r * recurrent[:, 2 * u:])
        else:
            operand = h_prev if rec_masks is None else h_prev * Tensor(rec_masks[2])
            hh = self.activation(projected[:, 2 * u:] + ops.matmul(r * operand, self.recurrent_kernel[:, 2 * u:]))
        h = z * h_prev + (1 - z) * hh
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config


class StackedRNNCells(Layer):
    """Cells run one after the other at each step (Keras's): the output of one is the input of
    the next; the states are the list of each cell's states.

    Args:
        cells: a list of cells (each with ``call(inputs, states)`` and ``state_size``).
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(f"cells must be a non-empty list of RNN cells, got {cells!r}")
        for cell in cells:
            if not callable(getattr(cell, "call", None)) or getattr(cell, "state_size", None) is None:
                raise ValueError(f"cells: each cell needs a call() method and a state_size, got {cell!r}")
        self.cells = list(cells)

    @property
    def state_size(self):
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        size = getattr(last, "output_size", None)
        return size if size is not None else _sizes(last.state_size)[0]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer):
                cell.ensure_built(shape)
            size = getattr(cell, "output_size", None) or _sizes(cell.state_size)[0]
            shape = (*shape[:-1], size)

    def open_sequence(self, batch, features, like, training):
        for cell in self.cells:
            if hasattr(cell, "open_sequence"):
                cell.open_sequence(batch, features, like, training)
            size = getattr(cell, "output_size", None) or _sizes(cell.state_size)[0]
            features = size

    def close_sequence(self):
        for cell in self.cells:
            if hasattr(cell, "close_sequence"):
                cell.close_sequence()

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            nested = isinstance(cell_states, (list, tuple))
            inputs, next_states = call_cell(cell, inputs, list(cell_states) if nested else [cell_states], training)
            new_states.append(next_states if nested else next_states[0])  # each cell's states as it was given them
        return inputs, new_states

    def get_config(self):
        return {**super().get_config(), "cells": [_keras_entry(cell) for cell in self.cells]}

    @classmethod
    def from_config(cls, config):
        from .serialization import deserialize

        config = dict(config)
        config["cells"] = [deserialize(c) if isinstance(c, dict) else c for c in config["cells"]]
        return cls(**config)


def _keras_entry(layer) -> dict:
    """A nested layer's config in Keras 3's form (what Keras writes for an RNN's cell, the cells
    of StackedRNNCells and Bidirectional's layers)."""
    from .serialization import serialize

    entry = serialize(layer)
    return {"module": "keras.layers", "class_name": entry["class_name"], "config": entry["config"],
            "registered_name": entry.get("registered_name")}


def _sizes(state_size) -> list:
    """A cell's state sizes as a flat list of ints."""
    return [int(s) for s in tree.flatten(state_size)] if isinstance(state_size, (list, tuple)) else [int(state_size)]


def call_cell(cell, inputs, states, training):
    """``cell(inputs, states)`` with ``training`` where its ``call`` takes it; new states as a list."""
    if isinstance(cell, Layer):
        output, new_states = cell(inputs, states, training=training) if cell.call_takes_training else cell(inputs, states)
    elif "training" in inspect.signature(cell.call).parameters:
        output, new_states = cell.call(inputs, states, training=training)
    else:
        output, new_states = cell.call(inputs, states)
    if not isinstance(new_states, (list, tuple)):
        new_states = [new_states]
    return output, list(new_states)
