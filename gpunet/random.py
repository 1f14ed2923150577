"""``gpunet.random``: Keras 3's ``keras.random`` (random tensors, seeded as Keras seeds them).

Every function takes ``seed``:

* an ``int``: a fixed seed, so the same call gives the same values every time;
* ``None``: drawn from gpunet's seeded *ops* stream (:func:`gpunet.backend.ops_generator`),
  which ``gpunet.utils.set_random_seed`` seeds and checkpoints save, so successive calls differ
  and a run resumed from a checkpoint continues the same draws;
* a :class:`SeedGenerator`: its own stream, which each call advances; its state is saved in
  checkpoints too (by the generator's name) and by ``get_state``/``set_state``.

Values are drawn on the host with NumPy's PCG64 generator and moved to the selected backend
(``backend.to_device``): the same seed gives the same numbers on the CPU and the GPU. Bit
equality with Keras's own numbers is not a goal; the distributions, shapes, dtypes and seeding
rules are Keras's.
"""

from __future__ import annotations

import numbers

import numpy

from . import backend
from .autograd import Tensor
from .ops import primitives as P
from .ops.math import mul
from .ops.shaping import getitem

__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "categorical", "dropout", "shuffle",
           "gamma", "binomial", "beta"]


class SeedGenerator:
    """A stream of random seeds, advanced by every draw that takes it as its ``seed``.

    ``SeedGenerator(seed=None, name=None)``: ``seed`` an int (None: one drawn from gpunet's
    seeded ops stream, so ``set_random_seed`` makes it reproducible). Its state is ``(seed,
    counter)``: draw ``k`` uses the seed sequence ``[seed, k]``. ``get_state()`` returns it as
    a dict and ``set_state(state)`` restores it; checkpoints save it under the generator's
    ``name`` (made unique in order of creation)."""

    def __init__(self, seed=None, name=None, **kwargs):
        backend_name = kwargs.pop("backend", None)
        if backend_name is not None and backend_name not in ("numpy", "cupy", "gpunet"):
            raise ValueError(f"SeedGenerator: backend={backend_name!r} is not one of gpunet's backends")
        if kwargs:
            raise TypeError(f"SeedGenerator: unexpected arguments {sorted(kwargs)}")
        if seed is None:
            seed = int(backend.ops_generator().integers(0, 2**31 - 1))
        elif isinstance(seed, bool) or not isinstance(seed, (numbers.Integral,)) or seed < 0:
            raise ValueError(f"SeedGenerator: seed must be a non-negative int or None, got {seed!r}")
        self.seed = int(seed)
        self.counter = 0
        self.name = backend.register_seed_generator(self, name or "seed_generator")

    @property
    def state(self):
        """``(seed, counter)`` as an array, as Keras keeps a SeedGenerator's state."""
        return numpy.array([self.seed, self.counter], dtype=numpy.int64)

    def next(self, ordered=True):
        """The next draw's seed sequence entropy ``[seed, counter]``; advances the stream."""
        drawn = [self.seed, self.counter]
        self.counter += 1
        return drawn

    def generator(self) -> numpy.random.Generator:
        """A NumPy generator for the next draw (advances the stream)."""
        return numpy.random.Generator(numpy.random.PCG64(numpy.random.SeedSequence(self.next())))

    def get_state(self) -> dict:
        return {"seed": self.seed, "counter": self.counter}

    def set_state(self, state: dict) -> None:
        if not isinstance(state, dict) or not {"seed", "counter"} <= set(state):
            raise ValueError(f"SeedGenerator.set_state: state must be a dict with 'seed' and 'counter', got {state!r}")
        self.seed, self.counter = int(state["seed"]), int(state["counter"])

    def get_config(self) -> dict:
        return {"seed": self.seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name!r} seed={self.seed} counter={self.counter}>"


def _generator(seed) -> numpy.random.Generator:
    if isinstance(seed, SeedGenerator):
        return seed.generator()
    if seed is None:
        return backend.ops_generator()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, None or a SeedGenerator, got {seed!r}")
    return numpy.random.Generator(numpy.random.PCG64(numpy.random.SeedSequence(int(seed))))


def _shape(shape):
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not all(isinstance(n, numbers.Integral) and n >= 0 for n in shape):
        raise ValueError(f"shape must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(n) for n in shape)


def _float_dtype(dtype, name):
    dtype = numpy.dtype(dtype or backend.floatx())
    if dtype.kind != "f":
        raise ValueError(f"{name}: dtype must be a floating-point dtype, got {dtype.name!r}")
    return dtype


def _host(value):
    return backend.to_host(P.data(value)) if isinstance(value, Tensor) or backend.is_device_array(value) else value


def _result(values, dtype):
    return Tensor._result(backend.to_device(numpy.asarray(values).astype(dtype)), None)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from the normal distribution N(mean, stddev^2)."""
    dtype = _float_dtype(dtype, "normal")
    rng = _generator(seed)
    return _result(rng.standard_normal(_shape(shape)) * _host(stddev) + _host(mean), dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Draws from the uniform distribution on [minval, maxval)."""
    dtype = _float_dtype(dtype, "uniform")
    rng = _generator(seed)
    low, high = _host(minval), _host(maxval)
    return _result(low + (high - low) * rng.random(_shape(shape)), dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from N(mean, stddev^2) restricted to within two standard deviations of the mean
    (values outside are drawn again)."""
    dtype = _float_dtype(dtype, "truncated_normal")
    rng = _generator(seed)
    values = rng.standard_normal(_shape(shape))
    outside = numpy.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = numpy.abs(values) > 2
    return _result(values * _host(stddev) + _host(mean), dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from [minval, maxval)."""
    dtype = numpy.dtype(dtype)
    if dtype.kind not in "iu":
        raise ValueError(f"randint: dtype must be an integer dtype, got {dtype.name!r}")
    rng = _generator(seed)
    return _result(rng.integers(_host(minval), _host(maxval), _shape(shape)), dtype)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices for each row of ``logits`` (batch, classes), drawn with
    probabilities ``softmax(logits)`` (the Gumbel-max trick: argmax of logits plus Gumbel noise)."""
    z = numpy.asarray(_host(P.data(logits)), dtype=numpy.float64)
    if z.ndim != 2:
        raise ValueError(f"categorical: logits must have shape (batch, classes), got {z.shape}")
    dtype = numpy.dtype(dtype)
    if dtype.kind not in "iu":
        raise ValueError(f"categorical: dtype must be an integer dtype, got {dtype.name!r}")
    rng = _generator(seed)
    gumbel = -numpy.log(-numpy.log(rng.random((z.shape[0], int(num_samples), z.shape[1])) + 1e-300) + 1e-300)
    return _result(numpy.argmax(z[:, None, :] + gumbel, axis=-1), dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Each entry of ``inputs`` zeroed with probability ``rate`` and the others scaled by
    ``1 / (1 - rate)``; ``noise_shape`` (broadcast to the input's) shares one draw along its
    axes of size 1. Differentiable in ``inputs``."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be a number in [0, 1), got {rate!r}")
    x = P.float_tensor(inputs)
    shape = x.shape if noise_shape is None else tuple(x.shape[i] if n is None else n for i, n in enumerate(noise_shape))
    keep = _generator(seed).random(_shape(shape)) >= rate
    mask = _result(keep / (1.0 - rate), x.dtype)
    return mul(x, mask)


def shuffle(x, axis=0, seed=None):
    """``x`` with its slices along ``axis`` in a random order."""
    x = P.tensor(x)
    axis = axis % x.ndim
    order = _generator(seed).permutation(x.shape[axis])
    index = [slice(None)] * x.ndim
    index[axis] = backend.to_device(order)
    return getitem(x, tuple(index))


def gamma(shape, alpha, dtype=None, seed=None):
    """Draws from the gamma distribution of shape ``alpha`` (scale 1)."""
    dtype = _float_dtype(dtype, "gamma")
    return _result(_generator(seed).standard_gamma(_host(alpha), _shape(shape)), dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Draws from the binomial distribution: successes in ``counts`` trials of probability
    ``probabilities`` (a float dtype, as Keras)."""
    dtype = _float_dtype(dtype, "binomial")
    counts = numpy.asarray(_host(counts))
    return _result(_generator(seed).binomial(counts.astype(numpy.int64), _host(probabilities), _shape(shape)), dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):  # noqa: A002 - Keras's name
    """Draws from the beta distribution with parameters ``alpha`` and ``beta``."""
    dtype = _float_dtype(dtype, "beta")
    return _result(_generator(seed).beta(_host(alpha), _host(beta), _shape(shape)), dtype)


from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
