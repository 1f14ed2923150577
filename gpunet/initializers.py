"""Weight initializers: Keras 3's list, drawn from gpunet's seeded host generator.

Drawing on the host makes a seed give the same initial weights on the CPU and the GPU; the
arrays are then moved to the backend once, when a layer is built.

Keras 3's classes, arguments, defaults and formulas. ``fan_in`` and ``fan_out`` of a kernel of
shape ``(..., in, out)`` are ``in`` and ``out`` times the product of the leading (receptive
field) dimensions, or products over ``input_axes``/``output_axes`` when given:

* ``VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal")``: variance
  ``scale / n``, ``n`` = ``fan_in``, ``fan_out`` or their mean (``mode="fan_avg"``), at least 1;
  ``"uniform"``: U[-l, l], ``l = sqrt(3 scale / n)``; ``"truncated_normal"``: a normal cut at 2
  standard deviations, scaled so that the variance after the cut is ``scale / n``;
  ``"untruncated_normal"``: a plain normal;
* ``GlorotUniform``/``GlorotNormal`` (Glorot and Bengio 2010): scale 1, fan_avg;
  ``HeUniform``/``HeNormal`` (He et al. 2015): scale 2, fan_in; ``LecunUniform``/``LecunNormal``
  (Klambauer et al. 2017): scale 1, fan_in. ``GlorotUniform``: U[-l, l], ``l = sqrt(6 / (fan_in + fan_out))``;
* ``RandomNormal(mean=0.0, stddev=0.05)``, ``RandomUniform(minval=-0.05, maxval=0.05)``,
  ``TruncatedNormal(mean=0.0, stddev=0.05)`` (redrawn beyond 2 ``stddev``);
* ``Orthogonal(gain=1.0)`` (Saxe et al. 2014): the Q of a QR decomposition of a normal matrix
  (signs fixed by R's diagonal), orthonormal rows or columns, times ``gain``;
* ``Identity(gain=1.0)``: ``gain`` times the identity matrix (2-D weights);
* ``Zeros``, ``Ones``, ``Constant(value)`` (the course's bias of 0.01 against dying relus).

Seeds: ``seed=None`` draws from gpunet's generator, which ``gpunet.utils.set_random_seed``
seeds, so every call gives new values (two layers never share weights by accident). An integer
``seed`` gives the same values at every call, as in Keras. (Keras 3 fixes an unseeded
initializer's values when it is created, so that it too repeats them; gpunet's
``set_random_seed`` plays that part.) Keras's ``SeedGenerator`` seeds are not supported.

Names: the class names, their snake-case names (``"glorot_uniform"``), and Keras's aliases
``"normal"``, ``"uniform"``, ``"one"``, ``"zero"``, ``"IdentityInitializer"`` and
``"OrthogonalInitializer"``; the module also exports the snake-case names as the classes
(``gpunet.initializers.he_normal(seed=1)``), as Keras does. A number is taken as a constant.
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy

from . import backend
from .lookup import Configurable, Lookup, Registered, custom_object_scope, snake_case

__all__ = [
    "Initializer", "Constant", "Zeros", "Ones", "Identity", "RandomNormal", "RandomUniform", "TruncatedNormal",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "Orthogonal", "constant", "zeros", "ones", "identity", "random_normal", "random_uniform", "truncated_normal",
    "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
    "lecun_normal", "orthogonal", "compute_fans", "get", "serialize", "deserialize",
]

# a standard normal truncated to [-2, 2] has standard deviation 0.87962566103423978
_TRUNCATED_STD = 0.87962566103423978


def _number(value, name, low=None, strict=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or (
            low is not None and (value <= low if strict else value < low)):
        bound = "" if low is None else f" {'>' if strict else '>='} {low}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return value


def _axes(value, name):
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value or not all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in value):
        raise ValueError(f"{name} must be None or a non-empty list of integers, got {value!r}")
    return [int(a) for a in value]


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``, Keras's rule: a vector's length for both;
    for ``(..., in, out)``, ``in`` and ``out`` times the product of the leading dimensions; with
    both ``input_axes`` and ``output_axes``, the products of the sizes along them."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _dtype(dtype):
    dtype = numpy.dtype(dtype or backend.floatx())
    if dtype.kind != "f":
        raise ValueError(f"initializers make floating-point weights, got dtype {dtype}")
    return dtype


def _truncated_standard_normal(rng, shape):
    """Standard normal draws, each beyond [-2, 2] drawn again (Keras's truncation)."""
    values = rng.standard_normal(size=shape)
    bad = numpy.abs(values) > 2
    while bad.any():
        values[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = numpy.abs(values) > 2
    return values


class Initializer(Configurable, Registered):
    """Base class: ``initializer(shape, dtype) -> numpy array`` (host). A subclass defines
    ``__call__`` and ``get_config`` (its constructor arguments)."""

    registry_kind = "initializer"  # gpunet's own initializers join the registry as they are defined

    def __call__(self, shape, dtype=None):  # pragma: no cover - interface
        raise NotImplementedError


class Constant(Initializer):
    """Every entry equal to ``value`` (a finite number)."""

    def __init__(self, value=0.0):
        self.value = float(_number(value, "value"))

    def __call__(self, shape, dtype=None):
        return numpy.full(shape, self.value, dtype=_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    """Every entry 0."""

    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    """Every entry 1."""

    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D weights only; rectangular ones get ones on the
    main diagonal).

    Keras 3.15 leaves ``gain`` out of its config (a file then holds the default 1); gpunet writes it.
    """

    def __init__(self, gain=1.0):
        self.gain = float(_number(gain, "gain"))

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity initializes 2-D weights only, got shape {tuple(shape)}")
        return (self.gain * numpy.eye(*shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """Base of the random initializers: ``seed`` (None or an integer >= 0) and the generator it
    gives (see the module docstring)."""

    loadable = False  # a base class: files name the initializers built on it

    def __init__(self, seed=None):
        if isinstance(seed, dict):
            raise ValueError(f"seed: a serialized SeedGenerator ({seed.get('class_name')!r}) is not supported by gpunet; "
                             "use an integer seed or gpunet.utils.set_random_seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)

    def generator(self):
        """A fresh generator from ``seed``, or gpunet's seeded host generator."""
        return numpy.random.default_rng(self.seed) if self.seed is not None else backend.host_generator()

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Normal draws of mean ``mean`` and standard deviation ``stddev`` (default 0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _number(mean, "mean")
        self.stddev = _number(stddev, "stddev", 0)
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        values = self.generator().standard_normal(size=tuple(shape))
        values *= self.stddev
        values += self.mean
        return values.astype(_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """Normal draws of mean ``mean`` and standard deviation ``stddev``, those more than two
    ``stddev`` from the mean drawn again (so the values' own deviation is ``0.88 stddev``)."""

    def __call__(self, shape, dtype=None):
        values = _truncated_standard_normal(self.generator(), tuple(shape))
        values *= self.stddev
        values += self.mean
        return values.astype(_dtype(dtype))


class RandomUniform(RandomInitializer):
    """Uniform draws in ``[minval, maxval)`` (default ``[-0.05, 0.05)``)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = _number(minval, "minval")
        self.maxval = _number(maxval, "maxval")
        if minval > maxval:
            raise ValueError(f"minval ({minval!r}) must not exceed maxval ({maxval!r})")
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self.generator().uniform(self.minval, self.maxval, size=tuple(shape)).astype(_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(RandomInitializer):
    """Draws with variance ``scale / n``, ``n`` the fan ``mode`` names (see the module docstring).

    Args:
        scale: a number > 0 (1.0).
        mode: ``"fan_in"`` (default), ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"`` (default; ``"normal"`` means it too),
            ``"untruncated_normal"`` or ``"uniform"``.
        seed: None or an integer.
        input_axes, output_axes: lists of axes whose sizes multiply into the fans (both, or neither).
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        self.scale = _number(scale, "scale", 0, strict=True)
        if mode not in self._MODES:
            raise ValueError(f"mode must be one of {self._MODES}, got {mode!r}")
        distribution = distribution.lower() if isinstance(distribution, str) else distribution
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {self._DISTRIBUTIONS} (or 'normal'), got {distribution!r}")
        self.mode = mode
        self.distribution = distribution
        self.input_axes = _axes(input_axes, "input_axes")
        self.output_axes = _axes(output_axes, "output_axes")
        super().__init__(seed)

    def variance(self, shape) -> float:
        """``scale / n`` for a weight of ``shape``."""
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        if self.mode == "fan_in":
            return self.scale / max(1.0, fan_in)
        if self.mode == "fan_out":
            return self.scale / max(1.0, fan_out)
        return 2.0 * self.scale / max(2.0, fan_in + fan_out)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        variance = self.variance(shape)
        rng = self.generator()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, size=shape)
        elif self.distribution == "truncated_normal":
            values = _truncated_standard_normal(rng, shape)
            values *= math.sqrt(variance) / _TRUNCATED_STD
        else:
            values = rng.standard_normal(size=shape)
            values *= math.sqrt(variance)
        return values.astype(_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


class _Preset(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution are fixed (Glorot, He, Lecun)."""

    preset = (1.0, "fan_avg", "uniform")

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        scale, mode, distribution = self.preset
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_Preset):
    """U[-sqrt(6 / (fan_in + fan_out)), +sqrt(6 / (fan_in + fan_out))] (Glorot and Bengio 2010), for tanh."""

    preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal with variance 2 / (fan_in + fan_out)."""

    preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """U[-sqrt(6 / fan_in), +sqrt(6 / fan_in)] (He et al. 2015), for relu."""

    preset = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """Truncated normal with variance 2 / fan_in."""

    preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """U[-sqrt(3 / fan_in), +sqrt(3 / fan_in)] (LeCun et al. 1998)."""

    preset = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal with variance 1 / fan_in (for selu, Klambauer et al. 2017)."""

    preset = (1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """An orthogonal matrix times ``gain`` (Saxe et al. 2014): for a weight of shape
    ``(..., n)``, a ``(rows, n)`` matrix, ``rows`` the product of the other dimensions, with
    orthonormal columns (``rows >= n``) or rows (``rows < n``), reshaped.

    Args:
        gain: the factor (1.0).
        seed: None or an integer.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = _number(gain, "gain")
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializes weights of at least 2 dimensions, got shape {shape}")
        rows, columns = math.prod(shape[:-1]), shape[-1]
        normal = self.generator().standard_normal(size=(max(rows, columns), min(rows, columns)))
        q, r = numpy.linalg.qr(normal)
        q *= numpy.sign(numpy.diag(r))  # Q's column signs made unique: a uniform draw over orthogonal matrices
        if rows < columns:
            q = q.T
        return (self.gain * q).reshape(shape).astype(_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# Keras's lowercase names for the classes
constant, zeros, ones, identity = Constant, Zeros, Ones, Identity
random_normal, random_uniform, truncated_normal, variance_scaling = RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling
glorot_uniform, glorot_normal, he_uniform, he_normal = GlorotUniform, GlorotNormal, HeUniform, HeNormal
lecun_uniform, lecun_normal, orthogonal = LecunUniform, LecunNormal, Orthogonal

# gpunet's initializers join the registry as they are defined; Keras's other names for some
_LOOKUP = Lookup(Initializer.registry_kind, Initializer, short_name=snake_case, aliases={
    "normal": RandomNormal, "uniform": RandomUniform, "zero": Zeros, "one": Ones,
    "identityinitializer": Identity, "orthogonalinitializer": Orthogonal,
})
_UNSUPPORTED = {"stft", "stftinitializer"}  # Keras's STFT kernels (for its STFTSpectrogram layer)
_NEUTRAL = {"dtype"}  # keys older Keras versions wrote that carry nothing gpunet needs


def _keep(cls, config: dict) -> dict:
    """The arguments of one of gpunet's initializers in a (Keras) config; a key it does not take
    is refused by name, never dropped."""
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    kwargs = {}
    for key, value in config.items():
        if key in accepted:
            kwargs[key] = value
        elif key not in _NEUTRAL:
            raise ValueError(f"initializer {cls.__name__}: {key}={value!r} is not supported by gpunet")
    return kwargs


def _refuse_unsupported(identifier) -> None:
    name = identifier.get("class_name") if isinstance(identifier, dict) else identifier
    if isinstance(name, str) and name.lower() in _UNSUPPORTED:
        raise ValueError(f"the {name} initializer (Keras's STFT kernels) is not supported by gpunet")


def get(identifier) -> Initializer:
    """An initializer from a name (``"he_uniform"``, ``"HeUniform"``), a Keras-style config dict,
    an object or class, a callable ``(shape, dtype) -> array`` (returned as it is), or a number
    (a constant)."""
    if isinstance(identifier, numbers.Real) and not isinstance(identifier, bool):
        return Constant(identifier)
    _refuse_unsupported(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier) and not isinstance(identifier, (Initializer, type)):
        return identifier
    return _LOOKUP.get(identifier, deserialize)


def serialize(initializer: Initializer) -> dict:
    """Keras's form: ``{"class_name": "GlorotUniform", "config": {"seed": None, ...}}``."""
    return _LOOKUP.serialize(initializer)


def deserialize(config, custom_objects=None) -> Initializer:
    """Rebuild an initializer from :func:`serialize`'s (or Keras's) form; ``custom_objects`` maps
    class names to user classes, as in Keras."""
    _refuse_unsupported(config)
    with custom_object_scope(custom_objects):
        return _LOOKUP.deserialize(config, _keep)


from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
