"""Optimizers by name and from configs (gpunet's own and Keras's)."""

from ..lookup import Lookup
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, Adamax, AdamW, Nadam, RAdam
from .base import Optimizer
from .ftrl import Ftrl
from .lion import Lion
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["get", "serialize", "deserialize", "serialize_for_keras", "deserialize_from_keras", "register_class"]

_BY_NAME = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "adam": Adam,
    "adamw": AdamW,
    "adamax": Adamax,
    "nadam": Nadam,
    "radam": RAdam,
    "rmsprop": RMSprop,
    "lion": Lion,
    "ftrl": Ftrl,
    "adafactor": Adafactor,
}
_LOOKUP = Lookup("optimizer", Optimizer, _BY_NAME)


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


def register_class(cls) -> None:
    """Let configs name ``cls`` by its class name (for wrappers with no short name of their own)."""
    _LOOKUP.class_names[cls.__name__] = cls
