"""Recurrent layers, Keras 3's: RNN, SimpleRNN, LSTM, GRU, and the Bidirectional wrapper.

``RNN(cell)`` runs a cell (:mod:`gpunet.layers.rnn_cells`, or a user's object with
``call(inputs, states)`` and ``state_size``) over the time axis of ``(batch, steps, features)``.
SimpleRNN, LSTM and GRU hold the matching cell, so their weights are Keras's (``lstm/lstm_cell/
kernel`` ...), and run a whole sequence as one op (:func:`gpunet.ops.recurrent.recurrence`,
forward and back-propagation through time by hand) whenever the cell's activations are among
the op's; other cells run step by step through autograd, with the same results.

Masks (from ``Embedding(mask_zero=True)``, ``Masking``, or ``mask=``) skip steps as Keras does:
a masked step keeps the states and outputs the previous ``h`` (zeros with
``zero_output_for_mask``, which Bidirectional sets when it returns sequences).
"""

from __future__ import annotations

from .. import backend, ops, tree
from ..autograd import Tensor, as_tensor
from ..ops.recurrent import recurrence
from .base import Layer, runs_builtin
from .rnn_cells import (
    GRUCell,
    LSTMCell,
    SimpleRNNCell,
    StackedRNNCells,
    _Cell,
    _keras_entry,
    _sizes,
    call_cell,
)

__all__ = ["GRU", "LSTM", "RNN", "Bidirectional", "SimpleRNN"]


def _check_bool(value, name):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _symbolic(shapes, dtype):
    from .symbolic import KerasTensor

    if isinstance(shapes, list):
        return [_symbolic(s, dtype) for s in shapes]
    return KerasTensor(shapes, dtype)


def _prefix_weights(layer, prefix: str) -> None:
    """Name a sub-layer's weights under its holder, as Keras's variable paths do (``lstm/lstm_cell/kernel``)."""
    for param in layer.weights:
        if not param.name.startswith(prefix + "/"):
            param.name = f"{prefix}/{param.name}"


class RNN(Layer):
    """Runs a recurrent cell over the time axis (Keras 3's ``keras.layers.RNN``).

    Args:
        cell: a cell (``LSTMCell(32)``, or any object with ``call(inputs, states)`` returning
            ``(output, new_states)`` and a ``state_size``), or a list of cells (``StackedRNNCells``).
        return_sequences: return every step's output ``(batch, steps, units)``, not only the last.
        return_state: also return the final states (``[output, h]``, LSTM ``[output, h, c]``).
        go_backwards: run the steps last to first (the outputs come in that order).
        stateful: each batch starts from the previous batch's final states (``reset_states()``
            zeroes them).
        unroll: accepted for Keras's scripts; the numbers are the same either way.
        zero_output_for_mask: masked steps output zeros instead of the previous output.

    Called as ``layer(x, initial_state=[...], mask=..., training=...)``.

    Example::

        lstm = gpunet.layers.RNN(gpunet.layers.LSTMCell(8), return_sequences=True)
        y = lstm(numpy.zeros((2, 5, 3), "float32"))     # shape (2, 5, 8)
    """

    supports_masking = True
    uses_host_threads = True  # the time loop's small products want a one-thread BLAS (gpunet.ops.recurrent)

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        elif isinstance(cell, dict):
            from .serialization import deserialize

            cell = deserialize(cell)
        if not callable(getattr(cell, "call", None)):
            raise ValueError(f"cell must have a call(inputs, states) method, got {cell!r}")  # noqa: TRY004 - Keras's
        state_size = getattr(cell, "state_size", None)
        if state_size is None or not isinstance(state_size, (int, list, tuple)):
            raise ValueError(f"cell must have a state_size (an integer or a list of integers), got {state_size!r}")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = _check_bool(return_sequences, "return_sequences")
        self.return_state = _check_bool(return_state, "return_state")
        self.go_backwards = _check_bool(go_backwards, "go_backwards")
        self.stateful = _check_bool(stateful, "stateful")
        self.unroll = _check_bool(unroll, "unroll")
        self.zero_output_for_mask = _check_bool(zero_output_for_mask, "zero_output_for_mask")
        self.__dict__["states"] = None  # a stateful layer's carried states (arrays), not graph configuration

    @property
    def state_size(self) -> list:
        size = self.cell.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    @property
    def supports_recording(self) -> bool:
        """The fused op draws its dropout masks inside, so fit may record and replay it."""
        return not self.stateful and self._fused() is not None

    def _fused(self):
        """The cell's kind and activation names when the whole sequence runs as one op."""
        cell = self.cell
        if not isinstance(cell, _Cell) or not runs_builtin(cell):
            return None
        names = cell.fused_activations()
        return None if names is None else (cell.kind, *names)

    # -- building and shapes -------------------------------------------------------------------
    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        if len(input_shape) < 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, steps, features), "
                             f"got {tuple(input_shape)}")
        if isinstance(self.cell, Layer):
            self.cell.ensure_built((input_shape[0], *input_shape[2:]))
            _prefix_weights(self.cell, self.name)

    def _output_size(self) -> int:
        size = getattr(self.cell, "output_size", None)
        return int(size) if size is not None else _sizes(self.state_size[0])[0]

    def compute_output_shape(self, input_shape, initial_state_shape=None):
        batch, steps = input_shape[0], input_shape[1]
        units = self._output_size()
        output = (batch, steps, units) if self.return_sequences else (batch, units)
        if not self.return_state:
            return output
        return [output] + [(batch, size) for size in _sizes(self.cell.state_size)]

    def compute_output_spec(self, *args, **kwargs):
        x = args[0]
        return _symbolic(self.compute_output_shape(tuple(x.shape)), self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        if mask is not None and tree.is_nested(mask):
            mask = tree.flatten(mask)[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(_sizes(self.cell.state_size))
        return output_mask

    # -- states ---------------------------------------------------------------------------------
    def _zero_states(self, batch, like):
        xp = backend.get_array_module(like)
        zeros = lambda size: Tensor(xp.zeros((batch, size), dtype=like.dtype))
        if isinstance(self.cell, StackedRNNCells):  # each cell's states as a list, as Keras's get_initial_state
            return [[zeros(s) for s in _sizes(size)] for size in self.cell.state_size]
        return [zeros(s) for s in _sizes(self.cell.state_size)]

    def reset_states(self) -> None:
        """Zero a stateful layer's carried states (Keras's ``reset_states``)."""
        states = self.__dict__.get("states")
        if states is not None:
            self.__dict__["states"] = [s * 0 for s in states]

    def reset_state(self) -> None:
        self.reset_states()

    # -- the pass -------------------------------------------------------------------------------
    def apply_call(self, x, training: bool = False):
        return self.call(x, training=training)  # Keras's order: call(sequences, initial_state, mask, training)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = as_tensor(sequences)
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, steps, features), "
                             f"got {tuple(x.shape)}")
        if mask is not None and tree.is_nested(mask):
            mask = tree.flatten(mask)[0]
        if mask is not None:
            mask = as_tensor(mask)
            if tuple(mask.shape) != tuple(x.shape[:2]):
                raise ValueError(f"mask must have shape (batch, steps) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
        batch = x.shape[0]
        if initial_state is None and self.stateful:
            carried = self.__dict__.get("states")
            if carried is not None:
                if carried[0].shape[0] != batch:
                    raise ValueError(f"stateful {type(self).__name__} {self.name!r} was run on batches of "
                                     f"{carried[0].shape[0]}, got a batch of {batch}")
                initial_state = [Tensor(s) for s in carried]
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            initial_state = [as_tensor(s) if not isinstance(s, (list, tuple)) else [as_tensor(v) for v in s]
                             for s in initial_state]
            expected = len(self.state_size)
            if len(initial_state) != expected:
                raise ValueError(f"initial_state must hold {expected} state(s) for {type(self).__name__} "
                                 f"{self.name!r}, got {len(initial_state)}")
        fused = self._fused()
        if fused is not None:
            output, states = self._call_fused(fused, x, initial_state, mask, training)
        else:
            output, states = self._call_steps(x, initial_state, mask, training)
        if self.stateful:
            self.__dict__["states"] = [backend.get_array_module(s.data).array(s.data) for s in tree.flatten(states)]
        if self.return_state:
            return [output, *states]
        return output

    def _call_fused(self, fused, x, initial_state, mask, training):
        kind, activation, recurrent_activation = fused
        cell = self.cell
        steps = x.shape[1]
        packed = recurrence(kind, x, cell.kernel, cell.recurrent_kernel, cell.bias, initial_state, mask,
                            activation=activation, recurrent_activation=recurrent_activation,
                            reset_after=getattr(cell, "reset_after", True), go_backwards=self.go_backwards,
                            zero_output_for_mask=self.zero_output_for_mask,
                            dropout=cell.dropout if training else 0.0,
                            recurrent_dropout=cell.recurrent_dropout if training else 0.0,
                            sequence_output=self.return_sequences)
        output = packed[:, :steps] if self.return_sequences else packed[:, steps - 1]
        count = 2 if kind == "lstm" else 1
        states = [packed[:, steps + i] for i in range(count)] if self.return_state or self.stateful else []
        return output, states

    def _call_steps(self, x, initial_state, mask, training):
        """The cell called step by step through autograd (any cell), with Keras's masking."""
        cell = self.cell
        batch, steps, features = x.shape
        states = initial_state if initial_state is not None else self._zero_states(batch, x.data)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if hasattr(cell, "open_sequence"):
            cell.open_sequence(batch, features, x.data, training)
        outputs = []
        try:
            order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
            for t in order:
                output, new_states = call_cell(cell, x[:, t], states, training)
                if mask is not None:
                    keep = ops.expand_dims(mask[:, t], -1) if mask.dtype == bool else ops.expand_dims(mask[:, t] != 0, -1)
                    if self.zero_output_for_mask:
                        output = ops.where(keep, output, ops.zeros_like(output))
                    else:
                        previous = states[0] if not isinstance(states[0], (list, tuple)) else states[-1][0]
                        output = ops.where(keep, output, previous)
                    new_states = tree.map_structure(lambda new, old, k=keep: ops.where(k, new, old), new_states, states)
                states = list(new_states)
                if self.return_sequences or not outputs:
                    outputs.append(output)
                else:
                    outputs[0] = output
        finally:
            if hasattr(cell, "close_sequence"):
                cell.close_sequence()
        output = ops.stack(outputs, axis=1) if self.return_sequences else outputs[-1]
        return output, states

    def get_config(self):
        config = {**super().get_config(), "return_sequences": self.return_sequences, "return_state": self.return_state,
                  "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                  "zero_output_for_mask": self.zero_output_for_mask}
        if type(self) is RNN:
            config["cell"] = _keras_entry(self.cell)
        return config


class _BuiltinRNN(RNN):
    """SimpleRNN, LSTM and GRU: an RNN over their own cell, configured by the cell's arguments
    (Keras writes them flat, with the layer's)."""

    cell_class = None
    cell_name = ""  # Keras's: the weights are <layer>/<cell_name>/kernel, ...

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, use_cudnn="auto", cell_kwargs=None, **kwargs):
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"use_cudnn must be 'auto', True or False, got {use_cudnn!r}")
        cell = self.cell_class(units, name=self.cell_name, dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True), **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, **kwargs)

    def __getattr__(self, name):
        """The cell's arguments read through the layer (``lstm.units``), as Keras's properties do."""
        if name in ("units", "activation", "recurrent_activation", "use_bias", "dropout", "recurrent_dropout",
                    "kernel_initializer", "recurrent_initializer", "bias_initializer", "unit_forget_bias",
                    "reset_after", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                    "kernel_constraint", "recurrent_constraint", "bias_constraint", "seed"):
            cell = self.__dict__.get("cell")
            if cell is not None and hasattr(cell, name):
                return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!s} object has no attribute {name!r}")

    def get_config(self):
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {"activity_regularizer": None, **super().get_config(), **cell_config}


class SimpleRNN(_BuiltinRNN):
    """A fully connected recurrence over the sequence: :class:`SimpleRNNCell` run by :class:`RNN`
    (Keras 3's arguments and defaults; weights ``simple_rnn_cell/kernel``, ``recurrent_kernel``,
    ``bias``)."""

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 seed=None, zero_output_for_mask=False, **kwargs):
        cell_kwargs = {"activation": activation, "use_bias": use_bias, "kernel_initializer": kernel_initializer,
                           "recurrent_initializer": recurrent_initializer, "bias_initializer": bias_initializer,
                           "kernel_regularizer": kernel_regularizer, "recurrent_regularizer": recurrent_regularizer,
                           "bias_regularizer": bias_regularizer, "kernel_constraint": kernel_constraint,
                           "recurrent_constraint": recurrent_constraint, "bias_constraint": bias_constraint,
                           "dropout": dropout, "recurrent_dropout": recurrent_dropout, "seed": seed}
        super().__init__(units, return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask,
                         kwargs.pop("use_cudnn", "auto"), cell_kwargs, activity_regularizer=activity_regularizer,
                         **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["seed"]  # Keras's SimpleRNN writes none
        return config


class LSTM(_BuiltinRNN):
    """Long short-term memory over the sequence: :class:`LSTMCell` run by :class:`RNN`, the whole
    sequence as one op. Keras 3's arguments and defaults; weights ``lstm_cell/kernel``
    (features, 4 units), ``recurrent_kernel`` (units, 4 units), ``bias`` (4 units), gates i, f, c, o.

    Example::

        model = gpunet.Sequential([gpunet.Input((100, 64)), LSTM(64), Dense(1, activation="sigmoid")])
    """

    cell_class = LSTMCell
    cell_name = "lstm_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", zero_output_for_mask=False,
                 **kwargs):
        kwargs.pop("implementation", None)
        cell_kwargs = {"activation": activation, "recurrent_activation": recurrent_activation, "use_bias": use_bias,
                           "kernel_initializer": kernel_initializer, "recurrent_initializer": recurrent_initializer,
                           "bias_initializer": bias_initializer, "unit_forget_bias": unit_forget_bias,
                           "kernel_regularizer": kernel_regularizer, "recurrent_regularizer": recurrent_regularizer,
                           "bias_regularizer": bias_regularizer, "kernel_constraint": kernel_constraint,
                           "recurrent_constraint": recurrent_constraint, "bias_constraint": bias_constraint,
                           "dropout": dropout, "recurrent_dropout": recurrent_dropout, "seed": seed}
        super().__init__(units, return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask,
                         use_cudnn, cell_kwargs, activity_regularizer=activity_regularizer, **kwargs)


class GRU(_BuiltinRNN):
    """Gated recurrent unit over the sequence: :class:`GRUCell` run by :class:`RNN`, the whole
    sequence as one op. Keras 3's arguments and defaults (``reset_after=True``: bias of shape
    (2, 3 units), input and recurrent); gates z, r, h."""

    cell_class = GRUCell
    cell_name = "gru_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, use_cudnn="auto", zero_output_for_mask=False,
                 **kwargs):
        kwargs.pop("implementation", None)
        cell_kwargs = {"activation": activation, "recurrent_activation": recurrent_activation, "use_bias": use_bias,
                           "kernel_initializer": kernel_initializer, "recurrent_initializer": recurrent_initializer,
                           "bias_initializer": bias_initializer, "kernel_regularizer": kernel_regularizer,
                           "recurrent_regularizer": recurrent_regularizer, "bias_regularizer": bias_regularizer,
                           "kernel_constraint": kernel_constraint, "recurrent_constraint": recurrent_constraint,
                           "bias_constraint": bias_constraint, "dropout": dropout, "recurrent_dropout": recurrent_dropout,
                           "reset_after": reset_after, "seed": seed}
        super().__init__(units, return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask,
                         use_cudnn, cell_kwargs, activity_regularizer=activity_regularizer, **kwargs)


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the two outputs
    (Keras 3's ``keras.layers.Bidirectional``).

    Args:
        layer: an RNN layer (``LSTM(32, return_sequences=True)``...): the forward one is rebuilt
            from its config under the name ``forward_<name>``.
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"``, or None (a list of both).
        backward_layer: the backward layer (its ``go_backwards`` must differ from ``layer``'s);
            default: ``layer``'s config with ``go_backwards`` flipped, named ``backward_<name>``.

    The backward layer's sequence output is flipped back to the input's order before merging.
    With ``return_state``, the forward states follow the output, then the backward ones.
    """

    supports_masking = True
    uses_host_threads = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        from .serialization import deserialize, serialize

        if isinstance(layer, dict):
            layer = deserialize(layer)
        if isinstance(backward_layer, dict):
            backward_layer = deserialize(backward_layer)
        if not isinstance(layer, RNN):
            raise ValueError(f"layer must be a recurrent layer (RNN, LSTM, GRU, SimpleRNN), got {layer!r}")  # noqa: TRY004
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            raise ValueError(f"backward_layer must be a recurrent layer, got {backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {list(_MERGE_MODES)}, got {merge_mode!r}")
        if weights is not None:
            raise ValueError("Bidirectional: weights is not supported; call set_weights() after building")
        super().__init__(**kwargs)
        entry = serialize(layer)
        entry["config"] = {**entry["config"], "name": "forward_" + _without(layer.name, "forward_")}
        forward = deserialize(entry)
        if backward_layer is None:
            entry = serialize(layer)
            entry["config"] = {**entry["config"], "go_backwards": not layer.go_backwards,
                               "name": "backward_" + _without(layer.name, "backward_")}
            backward_layer = deserialize(entry)
        if forward.go_backwards == backward_layer.go_backwards:
            raise ValueError("backward_layer: the forward and backward layers must have different go_backwards")
        for attribute in ("stateful", "return_sequences", "return_state"):
            if getattr(forward, attribute) != getattr(backward_layer, attribute):
                raise ValueError(f"backward_layer: {attribute} must match the forward layer's "
                                 f"({getattr(forward, attribute)})")
        for sub in (forward, backward_layer):
            sub.zero_output_for_mask = sub.return_sequences
        self.forward_layer = forward
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.stateful = forward.stateful
        self.return_sequences = forward.return_sequences
        self.return_state = forward.return_state

    @property
    def supports_recording(self) -> bool:
        return self.forward_layer.supports_recording and self.backward_layer.supports_recording

    def build(self, input_shape):
        for sub in (self.forward_layer, self.backward_layer):
            sub.ensure_built(input_shape)
            _prefix_weights(sub, self.name)

    def compute_output_shape(self, input_shape, initial_state_shape=None):
        shape = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            shape, states = shape[0], shape[1:]
        if self.merge_mode == "concat":
            shape = (*shape[:-1], shape[-1] * 2)
        output = [shape, shape] if self.merge_mode is None else [shape]
        if self.return_state:
            return output + states + states
        return output if self.merge_mode is None else shape

    def compute_output_spec(self, *args, **kwargs):
        return _symbolic(self.compute_output_shape(tuple(args[0].shape)), self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        if mask is not None and tree.is_nested(mask):
            mask = tree.flatten(mask)[0]
        output_mask = mask if self.return_sequences else None
        outputs = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            return outputs + [None] * (2 * len(self.forward_layer.state_size))
        return outputs if self.merge_mode is None else output_mask

    def reset_states(self) -> None:
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def reset_state(self) -> None:
        self.reset_states()

    def apply_call(self, x, training: bool = False):
        return self.call(x, training=training)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask, training=training)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, mask=mask, training=training)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)
        if self.merge_mode == "concat":
            output = [ops.concatenate([y, y_rev], axis=-1)]
        elif self.merge_mode == "sum":
            output = [y + y_rev]
        elif self.merge_mode == "ave":
            output = [(y + y_rev) / 2]
        elif self.merge_mode == "mul":
            output = [y * y_rev]
        else:
            output = [y, y_rev]
        if self.return_state or self.merge_mode is None:
            return output + states
        return output[0]

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode, "layer": _keras_entry(self.forward_layer),
                "backward_layer": _keras_entry(self.backward_layer)}


def _without(name: str, prefix: str) -> str:
    return name.removeprefix(prefix)
