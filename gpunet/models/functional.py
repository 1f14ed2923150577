"""Functional models: ``gpunet.Model(inputs, outputs)``, a graph of layer calls (Keras 3's Functional).

The graph is what the calls on symbolic tensors recorded (:mod:`gpunet.layers.symbolic`): walking
back from the outputs to the inputs, without recursion, gives every node of the model, each with
a depth (the longest path to an output); running the nodes from the deepest to depth 0 on real
Tensors is the forward pass. The layers are listed in Keras's order (by decreasing depth, then in
the order the walk first met them), so ``model.layers``, ``model.weights`` and the saved configs
line up with Keras's.
"""

from __future__ import annotations

from .. import activations, backend, ops, tree
from ..autograd import Tensor, as_tensor
from ..layers import Activation, Dense, InputLayer, Layer
from ..layers.base import collect_losses, runs_builtin
from ..layers.symbolic import KerasTensor, Node, SymbolicOp
from .model import Model, _any_logits, register_functional

__all__ = ["Functional"]

_FUSABLE = ("softmax", "sigmoid")


def _history(tensor: KerasTensor):
    if not isinstance(tensor, KerasTensor) or tensor._keras_history is None:
        raise ValueError(f"a functional model's inputs and outputs must be symbolic tensors made from gpunet.Input(...), "
                         f"got {tensor!r}")
    return tensor._keras_history


def _node_of(tensor: KerasTensor) -> Node:
    operation, node_index, _ = _history(tensor)
    return operation._inbound_nodes[node_index]


def map_graph(inputs: list, outputs: list):
    """``(nodes by decreasing depth, operations in Keras's order)`` of the graph from ``inputs`` to
    ``outputs`` (flat lists of KerasTensors), with clear errors for a cycle or a disconnected graph."""
    input_ids = {id(t) for t in inputs}
    finished, in_progress, post_order, first_seen = set(), set(), [], {}
    for output in outputs:
        stack = [(output, False)]
        while stack:
            tensor, done = stack.pop()
            node = _node_of(tensor)
            if done:
                in_progress.discard(id(node))
                if id(node) not in finished:
                    finished.add(id(node))
                    post_order.append(node)
                continue
            if id(node) in finished:
                continue
            if id(node) in in_progress:
                raise ValueError(f"the graph has a cycle at {getattr(node.operation, 'name', node.operation)!r}")
            first_seen.setdefault(id(node.operation), (len(first_seen), node.operation))
            in_progress.add(id(node))
            stack.append((tensor, True))
            if not node.is_input and id(tensor) not in input_ids:
                stack.extend((t, False) for t in reversed(node.input_tensors))

    node_depth, op_depth = {}, {}
    for node in reversed(post_order):
        depth = max(node_depth.setdefault(id(node), 0), op_depth.get(id(node.operation), 0))
        op_depth[id(node.operation)] = depth
        node_depth[id(node)] = depth
        for parent in node.parent_nodes:
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for tensor in inputs:  # an input no output depends on still belongs to the model
        operation = _history(tensor)[0]
        if id(operation) not in op_depth:
            op_depth[id(operation)] = 0
            first_seen[id(operation)] = (-1, operation)
            node = _node_of(tensor)
            node_depth[id(node)] = 0
            post_order.append(node)

    nodes = sorted(post_order, key=lambda n: -node_depth[id(n)])  # stable: same depth keeps walk order
    operations = sorted((entry for entry in first_seen.values()), key=lambda e: (-op_depth[id(e[1])], e[0]))
    operations = [operation for _, operation in operations]

    computable = set(input_ids)
    seen_ops = []
    for node in nodes:
        if node.is_input:  # an Input: computable only when it is one of the model's inputs
            if any(id(t) in input_ids for t in node.output_tensors):
                seen_ops.append(node.operation.name)
            continue
        for tensor in node.input_tensors:
            if id(tensor) not in computable:
                raise ValueError(
                    f"Graph disconnected: cannot get the value of tensor {tensor.name!r} at layer "
                    f"{getattr(node.operation, 'name', node.operation)!r}: it comes from "
                    f"{getattr(_history(tensor)[0], 'name', '?')!r}, which is not among the model's inputs "
                    f"(pass it in inputs). Layers reached without trouble: {seen_ops}")
        computable.update(id(t) for t in node.output_tensors)
        seen_ops.append(getattr(node.operation, "name", "?"))
    return nodes, operations


class Functional(Model):
    """A model defined by calls on symbolic tensors: ``Model(inputs, outputs, name=None,
    trainable=True)`` with ``inputs`` and ``outputs`` a KerasTensor, a list (or tuple) or a dict
    of them. Layers called more than once (shared) and models called as layers are nodes of the
    graph like any other layer call."""

    _auto_track = False

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Model.__init__(self, name=name, trainable=trainable, **kwargs)
        for what, value in (("inputs", inputs), ("outputs", outputs)):
            flat = tree.flatten(value)
            if not flat:
                raise ValueError(f"Model: {what} must hold at least one symbolic tensor")
            for item in flat:
                if not isinstance(item, KerasTensor):
                    raise ValueError(f"Model: every one of {what} must be a symbolic tensor (from gpunet.Input or a "
                                     f"layer called on one), got {type(item).__name__}: {item!r}")
        flat_inputs = tree.flatten(inputs)
        for tensor in flat_inputs:
            if not isinstance(_history(tensor)[0], InputLayer):
                raise ValueError(f"Model: inputs must come from gpunet.Input(...); {tensor.name!r} is the output of "
                                 f"layer {_history(tensor)[0].name!r}")
        if len({id(t) for t in flat_inputs}) != len(flat_inputs):
            raise ValueError(f"Model: the same input is passed more than once in inputs: {[t.name for t in flat_inputs]}")
        self._inputs_struct = tree.map_structure(lambda t: t, inputs)
        self._outputs_struct = tree.map_structure(lambda t: t, outputs)
        self._flat_inputs = flat_inputs
        self._flat_outputs = tree.flatten(outputs)
        nodes, operations = map_graph(self._flat_inputs, self._flat_outputs)
        names = [op.name for op in operations if isinstance(op, Layer)]
        for layer_name in names:
            if names.count(layer_name) > 1:
                raise ValueError(f"Model: the name {layer_name!r} is used {names.count(layer_name)} times in the model; "
                                 "all layer names must be unique (pass name=... to the layers)")
        self._operations = operations
        self._nodes = nodes
        self._run_nodes = [node for node in nodes if not (node.is_input and isinstance(node.operation, InputLayer))]
        self._layers = [op for op in operations if isinstance(op, Layer)]
        self._consumed = {id(t) for node in self._run_nodes for t in node.input_tensors}
        self.built = True
        self.build_input_shape = self.input_shape
        if not trainable:
            self.trainable = False

    # -- structure --------------------------------------------------------------------------------
    @property
    def layers(self) -> list:
        """The layers in Keras's order (InputLayers first), each once even when called twice."""
        return list(self._layers)

    @property
    def operations(self) -> list:
        """Layers and recorded ops (``x + 1``, ``ops.concatenate``) in the order they run."""
        return list(self._operations)

    @property
    def inputs(self) -> list:
        return list(self._flat_inputs)

    @property
    def outputs(self) -> list:
        return list(self._flat_outputs)

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._flat_inputs]
        return shapes[0] if not tree.is_nested(self._inputs_struct) else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._flat_outputs]
        return shapes[0] if not tree.is_nested(self._outputs_struct) else shapes

    @property
    def input_names(self) -> list:
        return [_history(t)[0].name for t in self._flat_inputs]

    @property
    def output_names(self) -> list:
        """The names of the layers (or ops) that make the flat outputs, as Keras 3's."""
        return [_history(t)[0].name for t in self._flat_outputs]

    def output_activations(self) -> list:
        """Per flat output, ``"softmax"``/``"sigmoid"`` (or the activation's name) when a built-in
        Dense or Activation layer without activity regularizer ends it, else None."""
        found = []
        for tensor in self._flat_outputs:
            operation = _history(tensor)[0]
            name = None
            if isinstance(operation, (Dense, Activation)) and runs_builtin(operation) and operation.activity_regularizer is None:
                try:
                    name = activations.serialize(operation.activation)
                except ValueError:
                    name = None
            found.append(name)
        return found

    def flat_input_shapes(self) -> list:
        return [t.shape for t in self._flat_inputs]

    def flat_output_shapes(self) -> list:
        return [t.shape for t in self._flat_outputs]

    def flat_input_dtypes(self) -> list:
        """Per flat input, its dtype's name (``"float32"``, ``"int32"``...)."""
        return [t.dtype for t in self._flat_inputs]

    def input_structure(self):
        return tree.map_structure(lambda t: _history(t)[0].name, self._inputs_struct)

    def output_structure(self):
        return tree.map_structure(lambda t: _history(t)[0].name, self._outputs_struct)

    def build_from_data(self, shapes) -> None:
        """A functional model is built when it is made."""

    def build(self, input_shape=None) -> None:
        self.built = True

    def recordable(self) -> bool:
        """Recorded when all its layers are (its ops are gpunet's, recorded as any op)."""
        return all(layer.recordable() for layer in self._layers)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0] if input_shape and not isinstance(input_shape[0], (tuple, list)) else None
        shapes = [(batch, *t.shape[1:]) for t in self._flat_outputs]
        return shapes[0] if not tree.is_nested(self._outputs_struct) else shapes

    def node_index(self, tensor: KerasTensor) -> int:
        """The index, among the calls of its layer that belong to this model, of the call that made
        ``tensor`` (Keras numbers a shared layer's calls per model in configs and summaries)."""
        operation, index, _ = _history(tensor)
        kept = self.__dict__.get("_node_ids")
        if kept is None:
            kept = self.__dict__["_node_ids"] = {id(node) for node in self._nodes}
        return sum(1 for node in operation._inbound_nodes[:index] if id(node) in kept)

    # -- running --------------------------------------------------------------------------------------
    def _standardize_inputs(self, inputs) -> list:
        """The values for the flat inputs, from a single array, a list or tuple, or a dict keyed
        by the structure's keys or the inputs' names."""
        expected = self._flat_inputs
        names = self.input_names
        if isinstance(inputs, dict):
            keys = None
            if isinstance(self._inputs_struct, dict):
                keys = tree.flatten({key: key for key in self._inputs_struct})
            values = []
            for i, name in enumerate(names):
                key = keys[i] if keys is not None and keys[i] in inputs else name
                if key not in inputs:
                    raise ValueError(f"model {self.name!r}: the input dict has no entry {key!r}; its keys are "
                                     f"{sorted(inputs)}, the model's inputs are {names}")
                values.append(inputs[key])
            return values
        if isinstance(inputs, (list, tuple)) and not isinstance(inputs, Tensor):
            flat = tree.flatten(inputs)
            if len(flat) == len(expected) and (len(expected) > 1 or tree.is_nested(self._inputs_struct)
                                               or not _looks_like_array(inputs)):
                return flat
            if len(expected) == 1:
                return [inputs]
            raise ValueError(f"model {self.name!r} expects {len(expected)} inputs ({names}), got {len(flat)}")
        if len(expected) != 1:
            raise ValueError(f"model {self.name!r} expects {len(expected)} inputs ({names}), got one array")
        return [inputs]

    def _run_graph(self, inputs, logits_at=()):
        """Run the nodes in order on real Tensors; ``logits_at`` (flat output positions) gives
        those outputs before their final softmax/sigmoid."""
        values = {}
        for kt, value in zip(self._flat_inputs, self._standardize_inputs(inputs)):
            value = as_tensor(value)
            if len(value.shape) == len(kt.shape) - 1 and kt.shape[-1] == 1:  # Keras adds (or drops) a last axis of 1
                value = ops.expand_dims(value, -1)
            elif len(value.shape) == len(kt.shape) + 1 and value.shape[-1] == 1:
                value = ops.squeeze(value, -1)
            if len(value.shape) != len(kt.shape) or any(
                    d is not None and d != v for d, v in zip(kt.shape[1:], value.shape[1:])):
                raise ValueError(f"model {self.name!r}: input {_history(kt)[0].name!r} expects shape {kt.shape}, "
                                 f"got {tuple(value.shape)}")
            if backend.is_text(value.data) or kt.dtype == "string":
                if backend.is_text(value.data) != (kt.dtype == "string"):
                    raise TypeError(f"model {self.name!r}: input {_history(kt)[0].name!r} takes {kt.dtype} values, got "
                                    f"an array of dtype {value.dtype}")
            elif str(value.dtype) != kt.dtype:
                value = ops.cast(value, kt.dtype)
            values[id(kt)] = value
        linear = {}  # id(output tensor) -> the node to run linear, when only its logits are wanted
        for position in logits_at:
            tensor = self._flat_outputs[position]
            linear[id(tensor)] = _node_of(tensor)
        skip = {id(node) for tid, node in linear.items() if tid not in self._consumed and not any(
            id(t) == tid for i, t in enumerate(self._flat_outputs) if i not in logits_at)}

        def fetch(v):
            return values[id(v)] if isinstance(v, KerasTensor) else v

        logit_values = {}
        linear_nodes = {id(n) for n in linear.values()}
        for node in self._run_nodes:
            args, kwargs = tree.map_structure(fetch, (list(node.call_args), node.call_kwargs))
            operation = node.operation
            if id(node) in linear_nodes:
                x = args[0]
                pre = operation.call_linear(operation.cast_input(as_tensor(x))) if isinstance(operation, Dense) else x
                logit_values[id(node.output_tensors[0])] = pre
                if id(node) in skip:
                    continue
            out = operation(*args, **kwargs)
            for tensor, value in zip(node.output_tensors, tree.flatten(out)):
                values[id(tensor)] = value
        outputs = [logit_values[id(t)] if i in logits_at else values[id(t)] for i, t in enumerate(self._flat_outputs)]
        return tree.pack_sequence_as(self._outputs_struct, outputs)

    def call(self, inputs, training=None, mask=None):
        """Run the graph on ``inputs`` (see :meth:`_standardize_inputs`); ``training`` reaches every
        layer that takes it, unless the graph fixed it for that call."""
        return self._run_graph(inputs)

    def forward(self, x, training: bool = False, logits=False):
        """The train step's forward pass (see :mod:`gpunet.models.model`)."""
        if not _any_logits(logits):
            return self(x, training=training)
        count = len(self._flat_outputs)
        flags = list(logits) if isinstance(logits, (list, tuple)) else [bool(logits)] * count
        if len(flags) != count:
            raise ValueError(f"forward: logits must hold one flag per output ({count}), got {len(flags)}")
        activations_found = self.output_activations()
        at = []
        for i, (flag, found) in enumerate(zip(flags, activations_found)):
            if flag:
                if found not in _FUSABLE:
                    raise ValueError(f"forward: output {self.output_names[i]!r} does not end in a built-in softmax or "
                                     f"sigmoid layer, so it has no logits to give")
                at.append(i)
        with collect_losses(training) as losses:
            out = self._run_graph(x, tuple(at))
        self.__dict__["_activity_losses"] = losses
        return out

    # -- configuration ---------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras 3's functional config: ``name``, ``trainable``, ``layers`` (each with its
        ``inbound_nodes``: the call's ``args`` and ``kwargs``, tensors as ``__keras_tensor__``
        entries naming ``[layer, node index, tensor index]``), ``input_layers``, ``output_layers``."""
        from .serialization import functional_config  # noqa: PLC0415

        return functional_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from .serialization import functional_from_config  # noqa: PLC0415

        return functional_from_config(cls, config, custom_objects)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None) -> None:
        """Keras's table of layers, with a "Connected to" column: the inputs of each call, as
        ``layer[node][tensor]``; ``expand_nested`` lists a nested model's layers under it."""
        from .summary import print_summary  # noqa: PLC0415

        print_summary(self, self._summary_entries(), line_length, positions, print_fn, expand_nested, show_trainable,
                      layer_range)

    def _summary_entries(self) -> list:
        """``(operation, output shape, connected-to text)`` for each row of the summary."""
        kept = {id(node) for node in self._nodes}
        entries = []
        for operation in self._operations:
            nodes = [node for node in operation._inbound_nodes if id(node) in kept]
            shapes = [t.shape for t in nodes[0].output_tensors] if nodes else []
            sources = []
            for node in nodes:
                for tensor in node.input_tensors:
                    source, _, position = tensor._keras_history
                    sources.append(f"{source.name}[{self.node_index(tensor)}][{position}]")
            entries.append((operation, shapes[0] if len(shapes) == 1 else shapes, ", ".join(sources) or "-"))
        return entries

    def __repr__(self) -> str:
        return f"<Functional name={self.name!r} inputs={len(self._flat_inputs)} outputs={len(self._flat_outputs)}>"


def _looks_like_array(value) -> bool:
    """A list of numbers (one input's data) rather than a list of inputs."""
    return bool(value) and not any(isinstance(v, (Tensor, list, tuple, dict)) or hasattr(v, "shape") for v in value)


__all__ += ["map_graph", "SymbolicOp"]

register_functional(Functional)
