"""Activation functions by name, for layers (``Dense(..., activation="relu")``)."""

from __future__ import annotations

from . import ops

__all__ = ["get", "serialize", "is_builtin", "linear", "sigmoid", "tanh", "relu", "softmax"]


def linear(x):
    """The identity."""
    return x


sigmoid = ops.sigmoid
tanh = ops.tanh
relu = ops.relu
softmax = ops.softmax

_BY_NAME = {"linear": linear, "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "softmax": softmax}


def get(identifier):
    """The activation for a name (``"relu"``), a callable, or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return _BY_NAME[identifier.lower()]
        except KeyError:
            raise ValueError(f"unknown activation {identifier!r}; valid names are {sorted(_BY_NAME)}") from None
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name, a callable or None, got {type(identifier).__name__}")


def is_builtin(activation) -> bool:
    """Whether ``activation`` is one of gpunet's own (which files can name and fit can record)."""
    return any(fn is activation for fn in _BY_NAME.values())


def serialize(activation) -> str:
    """The name of a built-in activation (what model files store)."""
    for name, fn in _BY_NAME.items():
        if fn is activation:
            return name
    name = getattr(activation, "__name__", None)
    raise ValueError(
        f"activation {name or activation!r} is a custom callable and cannot be saved by name; "
        f"use one of {sorted(_BY_NAME)}"
    )

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
