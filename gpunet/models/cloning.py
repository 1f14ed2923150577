"""clone_model: a new model with the same architecture and freshly initialized weights (Keras 3)."""

from __future__ import annotations

from .. import losses, optimizers
from ..layers import InputLayer, Layer
from ..saving.training_config import training_config
from .sequential import Sequential

__all__ = ["clone_model"]


def _clone_layer(layer: Layer) -> Layer:
    return layer.__class__.from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A copy of a Sequential ``model`` with new layers, hence new, freshly initialized weights.

    As in Keras 3: each layer is re-created by ``clone_function(layer)`` (default
    ``layer.__class__.from_config(layer.get_config())``; return the layer itself to share it),
    the input layer keeps its shape, dtype and name, the model its name and ``trainable`` flag,
    and a compiled model's clone is compiled the same way, with a new optimizer of the same
    configuration (its state starts afresh). Copy the weights with
    ``clone.set_weights(model.get_weights())``.

    ``input_tensors`` may be an ``Input(...)`` (or a one-element list of one) to use in place of
    the model's input. ``call_function`` is for Keras's functional models and must be None;
    ``recursive`` has nothing to recurse into (gpunet models do not nest).

    Example::

        fresh = gpunet.models.clone_model(model)
        fresh.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    """
    if kwargs:
        raise TypeError(f"clone_model got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    if not isinstance(model, Sequential):
        raise TypeError(f"clone_model: model must be a gpunet Sequential model, got {type(model).__name__}")
    if call_function is not None:
        raise ValueError("clone_model: call_function is not supported with Sequential models (Keras uses it for "
                         "functional models only); pass clone_function to change the layers")
    if not isinstance(recursive, bool):
        raise ValueError(f"clone_model: recursive must be True or False, got {recursive!r}")
    if clone_function is None:
        clone_function = _clone_layer
    elif not callable(clone_function):
        raise ValueError(f"clone_model: clone_function must be a callable layer -> layer, got {clone_function!r}")

    new_layers = []
    for layer in model.layers:
        clone = clone_function(layer)
        if not isinstance(clone, Layer):
            raise TypeError(f"clone_model: clone_function must return a gpunet layer, got {type(clone).__name__} "
                            f"for layer {layer.name!r}")
        new_layers.append(clone)
    inputs = _input_layer(model, input_tensors)
    cloned = Sequential(([inputs] if inputs is not None else []) + new_layers, name=model.name)
    if not model.trainable:
        cloned.trainable = False
    if model.compiled:
        config = training_config(model)
        cloned.compile(optimizer=optimizers.deserialize(optimizers.serialize(model.optimizer)),
                       loss=losses.get(config["loss"]), metrics=config["metrics"], run_eagerly=model.run_eagerly)
    return cloned


def _input_layer(model, input_tensors) -> InputLayer | None:
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError(f"clone_model: input_tensors must hold a single Input, got {len(input_tensors)}")
            input_tensors = input_tensors[0]
        if not isinstance(input_tensors, InputLayer):
            raise ValueError(f"clone_model: input_tensors must be an Input(...) layer, got {type(input_tensors).__name__}")
        return input_tensors
    original = model._input_layer
    if original is None:
        return None
    return InputLayer(batch_shape=original.batch_shape, dtype=original.dtype, name=original.name)
