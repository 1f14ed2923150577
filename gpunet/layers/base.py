"""The Layer base class: lazy building, weights, configuration, unique names."""

from __future__ import annotations

import re
from collections import defaultdict

from .. import backend
from ..autograd import Parameter, Tensor, as_tensor

__all__ = ["Layer", "unique_name", "clear_names"]

_name_uses: defaultdict = defaultdict(int)


def unique_name(prefix: str) -> str:
    """``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ... (as Keras names layers)."""
    count = _name_uses[prefix]
    _name_uses[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_names() -> None:
    """Restart automatic naming (``gpunet.utils.clear_session``)."""
    _name_uses.clear()


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def normalize_shape(shape, name: str = "shape") -> tuple:
    """A shape given as an int, tuple or list, each dimension a positive int or None."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of dimensions, got {type(shape).__name__}")
    for dim in shape:
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
            raise ValueError(f"{name} must hold positive integers (or None), got {tuple(shape)!r}")
    return tuple(shape)


class Layer:
    """Base class of layers.

    A layer creates its weights lazily, in ``build(input_shape)``, the first time it sees an input
    (or when the model is built), so ``Dense(64)`` needs no input size. Subclasses implement
    ``call(x, training)`` on Tensors, ``compute_output_shape`` when it differs from the input's,
    and ``get_config`` for their constructor arguments.
    """

    def __init__(self, name: str | None = None, trainable: bool = True, dtype=None, input_shape=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if name is None:
            name = unique_name(_snake_case(type(self).__name__))
        elif not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"name must be a non-empty string without '/', got {name!r}")
        self.name = name
        self.trainable = bool(trainable)
        self.dtype = None if dtype is None else backend.float_dtype(dtype)
        self.input_shape_hint = None if input_shape is None else (None, *normalize_shape(input_shape, "input_shape"))
        self.built = False
        self.build_input_shape = None
        self._weights: list[Parameter] = []

    # -- weights ------------------------------------------------------------------------------
    def add_weight(self, name: str, shape, initializer) -> Parameter:
        """Create a Parameter named ``"<layer>/<name>"`` with values from ``initializer``."""
        dtype = self.dtype or backend.floatx()
        values = initializer(tuple(shape), dtype)
        param = Parameter(backend.to_device(values), name=f"{self.name}/{name}")
        self._weights.append(param)
        return param

    @property
    def weights(self) -> list:
        """All the layer's parameters, in creation order (Keras order: kernel, then bias)."""
        return list(self._weights)

    @property
    def trainable_weights(self) -> list:
        return list(self._weights) if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        return [] if self.trainable else list(self._weights)

    def count_params(self) -> int:
        return sum(int(p.size) for p in self._weights)

    # -- building and calling -------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch dimension first, may be None)."""
        self.built = True

    def ensure_built(self, input_shape) -> None:
        if not self.built:
            self.build(tuple(input_shape))
            self.build_input_shape = tuple(input_shape)
            self.built = True

    def compute_output_shape(self, input_shape) -> tuple:
        return tuple(input_shape)

    def call(self, x: Tensor, training: bool = False) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, x, training: bool = False) -> Tensor:
        x = as_tensor(x)
        self.ensure_built((None, *x.shape[1:]))
        return self.call(x, training)

    # -- configuration --------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments, as JSON-compatible values (Keras's key names)."""
        return {"name": self.name, "trainable": self.trainable, "dtype": str(self.dtype or backend.floatx())}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"

