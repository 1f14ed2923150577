"""Weight initializers, drawn from gpunet's seeded host generator.

Drawing on the host makes a seed give the same initial weights on the CPU and the GPU; the
arrays are then moved to the backend once, when a layer is built.

For a kernel of shape ``(fan_in, fan_out)``:

* ``GlorotUniform``: U[-l, l], ``l = sqrt(6 / (fan_in + fan_out))`` (Glorot and Bengio 2010), for tanh;
* ``HeUniform``: U[-l, l], ``l = sqrt(6 / fan_in)`` (He et al. 2015), for relu;
* ``GlorotNormal`` / ``HeNormal``: truncated normals (at 2 standard deviations, as Keras) with the
  variance of the uniform versions, ``2 / (fan_in + fan_out)`` and ``2 / fan_in``;
* ``Zeros``, ``Ones``, ``Constant(value)`` (the course's bias of 0.01 against dying relus).
"""

from __future__ import annotations

import math

import numpy

from . import backend
from .lookup import Configurable, Lookup

__all__ = [
    "Initializer", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
    "Zeros", "Ones", "Constant", "get", "serialize",
]

# a standard normal truncated to [-2, 2] has standard deviation 0.87962566103423978
_TRUNCATED_STD = 0.87962566103423978


def _fans(shape) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer(Configurable):
    """Base class: ``initializer(shape, dtype) -> numpy array`` (host)."""

    def __call__(self, shape, dtype=None):  # pragma: no cover - interface
        raise NotImplementedError


class _VarianceScaling(Initializer):
    uniform = True
    fan_mode = "avg"  # "avg" (Glorot) or "in" (He)

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.seed = seed

    def __call__(self, shape, dtype=None):
        dtype = numpy.dtype(dtype or backend.floatx())
        fan_in, fan_out = _fans(tuple(shape))
        variance = 2.0 / (fan_in + fan_out) if self.fan_mode == "avg" else 2.0 / fan_in
        rng = numpy.random.default_rng(self.seed) if self.seed is not None else backend.host_generator()
        if self.uniform:
            limit = math.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, size=shape)
        else:
            std = math.sqrt(variance) / _TRUNCATED_STD
            values = rng.standard_normal(size=shape)
            bad = numpy.abs(values) > 2
            while bad.any():  # redraw outside two standard deviations (truncation)
                values[bad] = rng.standard_normal(size=int(bad.sum()))
                bad = numpy.abs(values) > 2
            values *= std
        return values.astype(dtype)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_VarianceScaling):
    """U[-sqrt(6 / (fan_in + fan_out)), +sqrt(6 / (fan_in + fan_out))]."""


class GlorotNormal(_VarianceScaling):
    """Truncated normal with variance 2 / (fan_in + fan_out)."""

    uniform = False


class HeUniform(_VarianceScaling):
    """U[-sqrt(6 / fan_in), +sqrt(6 / fan_in)]."""

    fan_mode = "in"


class HeNormal(_VarianceScaling):
    """Truncated normal with variance 2 / fan_in."""

    fan_mode = "in"
    uniform = False


class Constant(Initializer):
    """Every entry equal to ``value``."""

    def __init__(self, value=0.0):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"value must be a finite number, got {value!r}")
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        return numpy.full(shape, self.value, dtype=numpy.dtype(dtype or backend.floatx()))

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


_BY_NAME = {
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
}
_LOOKUP = Lookup("initializer", Initializer, _BY_NAME)


def _keep(cls, config: dict) -> dict:
    """The arguments gpunet's initializers take (Keras adds others, such as ``scale``'s defaults)."""
    if cls in (Zeros, Ones):
        return {}
    return {k: v for k, v in config.items() if k in ("seed", "value")}


def get(identifier) -> Initializer:
    """An initializer from a name (``"he_uniform"``), a Keras-style config dict, an object, or a
    number (a constant)."""
    if isinstance(identifier, (int, float)) and not isinstance(identifier, bool):
        return Constant(identifier)
    return _LOOKUP.get(identifier, lambda config: _LOOKUP.deserialize(config, _keep))


def serialize(initializer: Initializer) -> dict:
    """Keras's form: ``{"class_name": "GlorotUniform", "config": {...}}``."""
    return _LOOKUP.serialize(initializer)

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
