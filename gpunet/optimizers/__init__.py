"""Optimizers: every one of the course, with Keras-style arguments and PyTorch's update rules."""

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
_CLASS_NAMES = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier) -> Optimizer:
    """An optimizer from a name (``"adam"``, with its default arguments), a config dict or an object."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}; valid names are {sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return deserialize(identifier)
    raise TypeError(f"optimizer must be a name or a gpunet.optimizers.Optimizer, got {type(identifier).__name__}")


def serialize(optimizer: Optimizer) -> dict:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    """Rebuild an optimizer from :func:`serialize`'s output; only gpunet's own classes are accepted."""
    name = config.get("class_name")
    cls = _CLASS_NAMES.get(name) or _BY_NAME.get(str(name).lower())
    if cls is None:
        raise ValueError(f"unknown optimizer class {name!r}; valid names are {sorted(_CLASS_NAMES)}")
    return cls.from_config(config.get("config") or {})
