"""Functional models to and from configs, in Keras 3's layout.

A functional config lists its layers in the model's order, each with ``inbound_nodes``: one entry
per call of the layer inside this model, ``{"args": [...], "kwargs": {...}}`` where every tensor is
``{"class_name": "__keras_tensor__", "config": {"shape", "dtype", "keras_history": [layer name,
node index, tensor index]}}``. Node indexes count only the calls that belong to this model (a
layer shared with another model keeps its own numbering here). ``input_layers`` and
``output_layers`` name the model's inputs and outputs the same way, in the nest the model was
made with. Reading also takes Keras 2's form of ``inbound_nodes`` (lists of ``[name, node,
tensor, kwargs]``), found in older ``.h5`` files.
"""

from __future__ import annotations

import numbers

from .. import layers as layers_module
from .. import tree
from ..layers import InputLayer
from ..layers.symbolic import KerasTensor, SymbolicOp
from ..lookup import custom_object_scope
from ..saving import config as config_module

__all__ = ["functional_config", "functional_from_config"]


def functional_config(model) -> dict:
    from .model import Model  # noqa: PLC0415

    kept = {id(node) for node in model._nodes}

    def history(tensor: KerasTensor) -> list:
        operation, _, tensor_index = tensor._keras_history
        return [operation.name, model.node_index(tensor), tensor_index]

    def entry(value):
        if isinstance(value, KerasTensor):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(value.shape), "dtype": value.dtype, "keras_history": history(value)}}
        return _constant_entry(value)

    layers = []
    for operation in model._operations:
        nodes = [node for node in operation._inbound_nodes if id(node) in kept and not node.is_input]
        if isinstance(operation, SymbolicOp):
            item, nodes = _op_entry(operation, nodes)
        else:
            item = (config_module.serialize_model(operation) if isinstance(operation, Model)
                    else layers_module.serialize(operation))
            nodes = [(list(node.call_args), node.call_kwargs) for node in nodes]
        item["name"] = operation.name
        item["inbound_nodes"] = [{"args": tree.map_structure(entry, args), "kwargs": tree.map_structure(entry, kwargs)}
                                 for args, kwargs in nodes]
        if isinstance(operation, SymbolicOp):
            item["inbound_nodes"] = _as_lists(item["inbound_nodes"])
        layers.append(item)
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": tree.map_structure(history, model._inputs_struct),
        "output_layers": tree.map_structure(history, model._outputs_struct),
    }


def _op_entry(operation, nodes) -> tuple[dict, list]:
    """An op's entry as Keras writes its operations (see :mod:`gpunet.ops.keras_ops`): the
    Keras module and class, the op's settings as its config, and the node's call arguments."""
    from ..ops.keras_ops import keras_op, split_call  # noqa: PLC0415

    keras = keras_op(operation.fn)
    if keras is None:
        raise ValueError(f"the op {operation.name!r} ({getattr(operation.fn, '__name__', operation.fn)}) applied to "
                         "symbolic tensors has no Keras operation, so it cannot be saved in a config; use the "
                         "keras.ops name of the computation, or compute it inside a layer")
    (node,) = nodes
    args, settings = split_call(operation.fn, node.call_args, node.call_kwargs)
    module, class_name = keras
    item = {"module": module, "class_name": class_name, "config": {"name": operation.name, **settings},
            "registered_name": class_name}
    return item, [(args, {})]


def _constant_entry(value):
    """A node argument that is not a tensor, in Keras's form: slices and ``...`` as
    ``__slice__``/``__ellipsis__`` objects, NumPy arrays as ``__numpy__``, tuples as lists."""
    import numpy  # noqa: PLC0415

    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, slice):
        return {"class_name": "__slice__", "config": {"start": value.start, "stop": value.stop, "step": value.step}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, numpy.ndarray):
        if value.ndim == 0:
            return value.item()
        return {"class_name": "__numpy__", "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    if isinstance(value, numpy.generic):
        return value.item()
    return value


def _as_lists(value):
    """Tuples (an index such as ``x[:, 1:]``) as the lists JSON keeps."""
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    return value


def _constant_value(entry: dict):
    """The reverse of :func:`_constant_entry` for one marked object (None when not one)."""
    import numpy  # noqa: PLC0415

    kind, config = entry.get("class_name"), entry.get("config") or {}
    if kind == "__slice__":
        return slice(config.get("start"), config.get("stop"), config.get("step"))
    if kind == "__ellipsis__":
        return Ellipsis
    if kind == "__numpy__":
        return numpy.array(config["value"], dtype=config["dtype"])
    return None


def _is_history(value) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str)
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value[1:]))


class _KerasOp:
    """An op node of a Keras functional config (``module`` ``keras.src.ops...``, or an op's
    class name alone in Keras's ``.h5`` files): replayed as the gpunet op Keras's class stands
    for (:func:`gpunet.ops.keras_ops.find_op`), the node's arguments filling the parameters that
    the config's settings (``axis``...) leave; that records the same op node here, under the
    config's name."""

    def __init__(self, entry: dict):
        from .. import ops  # noqa: PLC0415
        from ..ops.keras_ops import find_op  # noqa: PLC0415
        from ..saving.keras_weights import snake_case  # noqa: PLC0415

        config = dict(entry["config"])
        self.name = config.pop("name", None) or entry.get("name")
        class_name = str(entry.get("class_name"))
        module = str(entry.get("module") or "")
        self.fn = find_op(module, class_name) if module else None
        if self.fn is None:
            self.fn = getattr(ops, snake_case(class_name), None)
        if self.fn is None or not callable(self.fn):
            raise ValueError(f"the Keras op {class_name!r} (node {self.name!r}) has no gpunet op")
        self.settings = config

    def __call__(self, *args, **kwargs):
        from ..layers.symbolic import holds_symbolic, record_op  # noqa: PLC0415
        from ..ops.keras_ops import bind_call  # noqa: PLC0415

        positional, keywords = bind_call(self.fn, args, {**kwargs, **self.settings})
        if not holds_symbolic(positional, keywords):
            return self.fn(*positional, **keywords)
        return record_op(self.fn, positional, keywords, name=self.name)


def _is_op_name(class_name) -> bool:
    from .. import ops  # noqa: PLC0415
    from ..saving.keras_weights import snake_case  # noqa: PLC0415

    return isinstance(class_name, str) and callable(getattr(ops, snake_case(class_name), None))


def _make(entry: dict, custom_objects):
    """A layer, or a nested model, from its config entry (or a Keras op node, see :class:`_KerasOp`)."""
    module = str(entry.get("module") or "")
    if module.startswith("keras.src.ops."):
        return _KerasOp(entry)
    try:
        cls = config_module._LOOKUP.find(entry.get("class_name"), entry.get("registered_name"))
    except ValueError:
        try:
            return layers_module.deserialize(entry, custom_objects)
        except ValueError:
            if module or entry.get("registered_name") or not _is_op_name(entry.get("class_name")):
                raise
            return _KerasOp(entry)  # Keras's .h5 files name op nodes without a module
    return cls.from_config(entry["config"], custom_objects) if "custom_objects" in _parameters(cls.from_config) else \
        cls.from_config(entry["config"])


def _parameters(fn) -> tuple:
    import inspect  # noqa: PLC0415

    return tuple(inspect.signature(fn).parameters)


def functional_from_config(cls, config: dict, custom_objects=None):
    """Rebuild a functional model: create each layer, then replay its calls once their inputs
    exist (a call whose inputs come from a later layer waits for it), as Keras does."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError("a functional model config needs a 'layers' list")
    for key in ("input_layers", "output_layers"):
        if key not in config:
            raise ValueError(f"a functional model config needs {key!r}")
    with custom_object_scope(custom_objects):
        created, pending, order = {}, {}, []
        for item in config["layers"]:
            if not isinstance(item, dict) or not isinstance(item.get("config"), dict):
                raise ValueError(f"each layer of a functional config must be an object with a config, got {item!r}")
            layer = _make(item, custom_objects)
            name = item.get("name") or layer.name
            if name in created:
                raise ValueError(f"the functional config names layer {name!r} twice")
            created[name] = layer
            order.append(name)
            nodes = item.get("inbound_nodes") or []
            if not isinstance(nodes, list):
                raise ValueError(f"layer {name!r}: inbound_nodes must be a list, got {nodes!r}")
            pending[name] = list(nodes)

        tensors = {}  # (layer name, node index, tensor index) -> KerasTensor
        counts = {}
        for name, layer in created.items():
            if isinstance(layer, InputLayer):
                tensors[(name, 0, 0)] = layer._inbound_nodes[0].outputs
                counts[name] = 1

        def lookup(history):
            return tensors.get((history[0], int(history[1]), int(history[2])))

        def resolve(value):
            """The node data with its tensors, or None while one of them is missing."""
            missing = []

            def fill(v):
                if isinstance(v, dict) and v.get("class_name") in _CONSTANT_MARKERS:
                    return _constant_value(v)
                if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
                    found = lookup(v["config"]["keras_history"])
                    if found is None:
                        missing.append(v)
                    return found
                return v

            filled = _map_entries(fill, value)
            return None if missing else filled

        progress = True
        while progress and any(pending.values()):
            progress = False
            for name in order:
                layer = created[name]
                while pending[name]:
                    node = pending[name][0]
                    if isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
                        found = [lookup(ref[:3]) for ref in node]
                        if any(t is None for t in found):
                            break
                        kwargs = dict(node[0][3]) if node and len(node[0]) > 3 and isinstance(node[0][3], dict) else {}
                        args = [found[0] if len(found) == 1 else found]
                    else:
                        resolved = resolve({"args": node.get("args", []), "kwargs": node.get("kwargs", {})})
                        if resolved is None:
                            break
                        args, kwargs = resolved["args"], resolved["kwargs"]
                    if kwargs.get("training") is True and getattr(layer, "keras_writes_training", False):
                        kwargs = {k: v for k, v in kwargs.items() if k != "training"}  # Keras's default, not a choice
                    out = layer(*args, **kwargs)
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    for i, tensor in enumerate(tree.flatten(out)):
                        tensors[(name, index, i)] = tensor
                    pending[name].pop(0)
                    progress = True
        stuck = [name for name in order if pending[name]]
        if stuck:
            raise ValueError(f"the functional config cannot be rebuilt: the inputs of layer(s) {stuck} are never made")

        def endpoints(structure, key):
            if _is_history(structure):
                found = lookup(structure)
                if found is None:
                    raise ValueError(f"the functional config's {key} name {list(structure)}, which no layer makes")
                return found
            if isinstance(structure, dict):
                return {k: endpoints(v, key) for k, v in structure.items()}
            if isinstance(structure, (list, tuple)):
                return [endpoints(v, key) for v in structure]
            raise ValueError(f"the functional config's {key} must be [layer, node, tensor] entries, got {structure!r}")

        inputs = endpoints(config["input_layers"], "input_layers")
        outputs = endpoints(config["output_layers"], "output_layers")
        name = config.get("name")
        model = cls(inputs, outputs, name=name if isinstance(name, str) and name else None)
        if config.get("trainable") is False:
            model.trainable = False
        return model


_CONSTANT_MARKERS = ("__slice__", "__ellipsis__", "__numpy__")


def _map_entries(fn, value):
    """``fn`` on every dict that is a tensor entry (or a marked constant), walking lists and other dicts."""
    if isinstance(value, dict):
        if value.get("class_name") in ("__keras_tensor__", *_CONSTANT_MARKERS):
            return fn(value)
        return {k: _map_entries(fn, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_entries(fn, v) for v in value]
    return value

