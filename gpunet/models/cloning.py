"""clone_model: a new model with the same architecture and freshly initialized weights (Keras 3)."""

from __future__ import annotations

from .. import losses, optimizers, tree
from ..layers import Input, InputLayer, Layer
from ..layers.symbolic import KerasTensor, SymbolicOp, symbolic_call
from ..saving.training_config import training_config
from .functional import Functional
from .sequential import Sequential

__all__ = ["clone_model"]


def _clone_layer(layer: Layer) -> Layer:
    return layer.__class__.from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A copy of a Sequential or functional ``model`` with new layers, hence new, freshly
    initialized weights.

    As in Keras 3: each layer is re-created by ``clone_function(layer)`` (default
    ``layer.__class__.from_config(layer.get_config())``; return the layer itself to share it),
    the input layer keeps its shape, dtype and name, the model its name and ``trainable`` flag,
    and a compiled model's clone is compiled the same way, with a new optimizer of the same
    configuration (its state starts afresh). Copy the weights with
    ``clone.set_weights(model.get_weights())``.

    ``input_tensors`` may be an ``Input(...)`` (or a list of them, one per input) to use in place
    of the model's inputs. For a functional model, the graph is rebuilt call by call: a layer
    called twice is cloned once and called twice, ``call_function(layer, *args, **kwargs)`` (when
    given) makes each call, recorded ops are recorded again, and ``recursive=True`` clones the
    models inside it the same way (else ``clone_function`` gets them whole).

    Example::

        fresh = gpunet.models.clone_model(model)
        fresh.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    """
    if kwargs:
        raise TypeError(f"clone_model got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    if not isinstance(model, (Sequential, Functional)):
        raise TypeError(f"clone_model: model must be a gpunet Sequential or functional model, got {type(model).__name__}")
    if call_function is not None and not callable(call_function):
        raise ValueError(f"clone_model: call_function must be a callable (layer, *args, **kwargs) -> outputs, got "
                         f"{call_function!r}")
    if call_function is not None and isinstance(model, Sequential):
        raise ValueError("clone_model: call_function is not supported with Sequential models (Keras uses it for "
                         "functional models only); pass clone_function to change the layers")
    if not isinstance(recursive, bool):
        raise ValueError(f"clone_model: recursive must be True or False, got {recursive!r}")
    if clone_function is None:
        clone_function = _clone_layer
    elif not callable(clone_function):
        raise ValueError(f"clone_model: clone_function must be a callable layer -> layer, got {clone_function!r}")

    if isinstance(model, Functional):
        cloned = _clone_functional(model, input_tensors, clone_function, call_function, recursive)
        return _compiled_like(model, cloned)
    new_layers = []
    for layer in model.layers:
        clone = clone_function(layer)
        if not isinstance(clone, Layer):
            raise TypeError(f"clone_model: clone_function must return a gpunet layer, got {type(clone).__name__} "
                            f"for layer {layer.name!r}")
        new_layers.append(clone)
    inputs = _input_layer(model, input_tensors)
    cloned = Sequential(([inputs] if inputs is not None else []) + new_layers, name=model.name)
    return _compiled_like(model, cloned)


def _compiled_like(model, cloned):
    if not model.trainable:
        cloned.trainable = False
    if model.compiled:
        config = training_config(model)
        cloned.compile(optimizer=optimizers.deserialize(optimizers.serialize(model.optimizer)),
                       loss=losses.get(config["loss"]), metrics=config["metrics"], run_eagerly=model.run_eagerly)
    return cloned


def _clone_functional(model, input_tensors, clone_function, call_function, recursive):
    """The graph of ``model`` called again, node by node, on new inputs with cloned layers."""
    old_inputs = model.inputs
    if input_tensors is None:
        new_inputs = [Input(batch_shape=t.shape, dtype=t.dtype, name=t._keras_history[0].name) for t in old_inputs]
    else:
        new_inputs = tree.flatten(input_tensors)
        if len(new_inputs) != len(old_inputs) or not all(isinstance(t, KerasTensor) for t in new_inputs):
            raise ValueError(f"clone_model: input_tensors must hold {len(old_inputs)} symbolic tensors (gpunet.Input), one "
                             f"per input of the model, got {input_tensors!r}")
    mapping = {id(old): new for old, new in zip(old_inputs, new_inputs)}
    clones = {}

    def fetch(value):
        return mapping[id(value)] if isinstance(value, KerasTensor) else value

    for node in model._run_nodes:
        args, kwargs = tree.map_structure(fetch, (list(node.call_args), node.call_kwargs))
        operation = node.operation
        if isinstance(operation, SymbolicOp):
            out = symbolic_call(operation.fn, *args, **kwargs)
        else:
            if id(operation) not in clones:
                if recursive and isinstance(operation, (Functional, Sequential)):
                    clone = clone_model(operation, clone_function=clone_function, call_function=call_function, recursive=True)
                else:
                    clone = clone_function(operation)
                if not isinstance(clone, Layer):
                    raise TypeError(f"clone_model: clone_function must return a gpunet layer, got {type(clone).__name__} "
                                    f"for layer {operation.name!r}")
                clones[id(operation)] = clone
            clone = clones[id(operation)]
            out = call_function(clone, *args, **kwargs) if call_function is not None else clone(*args, **kwargs)
        for old, new in zip(node.output_tensors, tree.flatten(out)):
            mapping[id(old)] = new
    inputs = tree.pack_sequence_as(model.input, new_inputs) if tree.is_nested(model.input) else new_inputs[0]
    outputs = tree.map_structure(fetch, model.output)
    return Functional(inputs, outputs, name=model.name)


def _input_layer(model, input_tensors) -> InputLayer | None:
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError(f"clone_model: input_tensors must hold a single Input, got {len(input_tensors)}")
            input_tensors = input_tensors[0]
        if isinstance(input_tensors, KerasTensor) and isinstance(input_tensors._keras_history[0], InputLayer):
            input_tensors = input_tensors._keras_history[0]
        if not isinstance(input_tensors, InputLayer):
            raise ValueError(f"clone_model: input_tensors must be an Input(...) layer, got {type(input_tensors).__name__}")
        return input_tensors
    original = model._input_layer
    if original is None:
        return None
    return InputLayer(batch_shape=original.batch_shape, dtype=original.dtype, name=original.name)
