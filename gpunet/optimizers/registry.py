"""Optimizers by name and from configs (gpunet's own and Keras's)."""

import inspect

from ..lookup import Lookup
from .base import Optimizer

__all__ = ["get", "serialize", "deserialize", "serialize_for_keras", "deserialize_from_keras"]


def _short_name(cls):
    """``"adam"`` for Adam: a name alone builds the class with its defaults, so only the classes
    whose constructor needs no argument have one (LossScaleOptimizer, a wrapper, has none)."""
    required = [p for name, p in inspect.signature(cls.__init__).parameters.items()
                if name != "self" and p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return None if required else cls.__name__.lower()


# gpunet's optimizers join the registry as they are defined (Optimizer.__init_subclass__)
_LOOKUP = Lookup("optimizer", Optimizer, short_name=_short_name)


def get(identifier) -> Optimizer:
    """An optimizer from a name (``"adam"``, with its default arguments), a config dict or an object."""
    return _LOOKUP.get(identifier, deserialize)


def serialize(optimizer: Optimizer) -> dict:
    return _LOOKUP.serialize(optimizer)


def deserialize(config: dict) -> Optimizer:
    """Rebuild an optimizer from :func:`serialize`'s output: gpunet's own classes, or registered ones."""
    return _LOOKUP.deserialize(config)


def serialize_for_keras(optimizer: Optimizer) -> dict:
    """The form Keras's ``training_config`` holds (see :meth:`Optimizer.keras_config`)."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.keras_config()}


def deserialize_from_keras(config: dict) -> Optimizer:
    """Rebuild an optimizer from a config Keras wrote, with Keras's meaning of its arguments."""
    if not isinstance(config, dict):
        raise ValueError(f"an optimizer must be given as {{'class_name': ..., 'config': {{...}}}}, got {type(config).__name__}")
    return _LOOKUP.find(config.get("class_name"), config.get("registered_name")).from_keras_config(config.get("config") or {})
