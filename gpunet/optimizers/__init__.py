"""Optimizers: every one of the course, with Keras-style arguments and PyTorch's update rules."""

from ..lookup import Lookup
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, Adamax, AdamW, Nadam, RAdam
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "RAdam", "RMSprop", "get", "serialize", "deserialize"]

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
}
_LOOKUP = Lookup("optimizer", Optimizer, _BY_NAME)


def get(identifier) -> Optimizer:
    """An optimizer from a name (``"adam"``, with its default arguments), a config dict or an object."""
    return _LOOKUP.get(identifier, deserialize)


def serialize(optimizer: Optimizer) -> dict:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    """Rebuild an optimizer from :func:`serialize`'s output; only gpunet's own classes are accepted."""
    return _LOOKUP.find(config.get("class_name")).from_config(config.get("config") or {})
