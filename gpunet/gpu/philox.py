"""Philox4x32-10, the counter-based generator behind gpunet's noise on the GPU.

Philox (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011)
maps a 128-bit counter and a 64-bit key to 128 random bits through ten rounds of multiply,
xor and key bump. Element ``j`` of a draw takes the counter ``base + j`` (its 64 low bits; the
high 64 are zero), so every element is computed independently inside the kernel that consumes
it, and the whole state of the stream is two integers: the key (from the seed) and the counter
base, which advances by the number of elements drawn. A checkpoint stores those two numbers, and
a resumed GPU run draws the same dropout masks as an uninterrupted one.

The state lives on the device as two ``uint64`` (key, counter), read by the kernels and advanced
by a device operation, so a captured CUDA graph that replays a step draws fresh numbers each
replay. :func:`block` is the same computation in NumPy: the twin the kernels are tested against
and what a CPU machine uses to check it.
"""

from __future__ import annotations

import math
import numbers

import numpy

from .elementwise import COMPUTE_TYPE, ElementwiseKernel
from .fused import Fused, array_module

__all__ = ["block", "uniform_from_words", "uniform_twin", "PhiloxGenerator", "BLOCK_SOURCE", "UNIFORM_SOURCE"]

ALGORITHM = "philox4x32-10"
_M0, _M1 = 0xD2511F53, 0xCD9E8D57  # round multipliers
_W0, _W1 = 0x9E3779B9, 0xBB67AE85  # key bumps (golden ratio, sqrt(3) - 1)
_MASK = 0xFFFFFFFF
_U64 = 2**64

# CUDA C: the four output words c0..c3 for element i of a draw whose state is raw uint64 ``state``
BLOCK_SOURCE = """
unsigned long long _ctr = state[1] + (unsigned long long)i;
unsigned int c0 = (unsigned int)_ctr, c1 = (unsigned int)(_ctr >> 32), c2 = 0u, c3 = 0u;
unsigned int k0 = (unsigned int)state[0], k1 = (unsigned int)(state[0] >> 32);
for (int _r = 0; _r < 10; ++_r) {
    unsigned long long _p0 = 0xD2511F53ull * c0, _p1 = 0xCD9E8D57ull * c2;
    c2 = (unsigned int)(_p0 >> 32) ^ c3 ^ k1;
    c0 = (unsigned int)(_p1 >> 32) ^ c1 ^ k0;
    c1 = (unsigned int)_p1;
    c3 = (unsigned int)_p0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
}
"""
# CUDA C: ``_u`` uniform in [0, 1) from the words: 53 bits in double; 24 bits in float, also for
# float16 and bfloat16 elements (F), so that a comparison with a 16-bit rate sees all 24 bits, as
# it does on the CPU, and the number is rounded at most once, where it is stored
UNIFORM_SOURCE = COMPUTE_TYPE + """
F _u = sizeof(T) == 8 ? (F)(((c0 >> 5) * 67108864.0 + (c1 >> 6)) * 1.1102230246251565e-16)
                      : (F)((c0 >> 8) * 5.9604644775390625e-08f);
"""


def block(counter, key) -> tuple:
    """Philox4x32-10 of ``counter`` (four 32-bit words: ints or uint64 arrays) under ``key`` (two
    32-bit words): the four output words, as uint64 arrays holding 32-bit values."""
    c0, c1, c2, c3 = (numpy.asarray(c, dtype=numpy.uint64) for c in counter)
    k0, k1 = (int(k) & _MASK for k in key)
    mask, shift = numpy.uint64(_MASK), numpy.uint64(32)
    for _ in range(10):
        p0 = c0 * numpy.uint64(_M0)  # < 2**64: both factors are below 2**32
        p1 = c2 * numpy.uint64(_M1)
        c0, c1, c2, c3 = ((p1 >> shift) ^ c1 ^ numpy.uint64(k0), p1 & mask,
                          (p0 >> shift) ^ c3 ^ numpy.uint64(k1), p0 & mask)
        k0, k1 = (k0 + _W0) & _MASK, (k1 + _W1) & _MASK
    return c0, c1, c2, c3


def uniform_from_words(c0, c1, dtype) -> numpy.ndarray:
    """Uniform numbers in [0, 1): ``(c0 >> 8) / 2**24`` in float32, 53 bits from ``c0`` and ``c1``
    in float64 (exactly the kernels' ``UNIFORM_SOURCE``)."""
    dtype = numpy.dtype(dtype)
    if dtype == numpy.float64:
        high = (c0 >> numpy.uint64(5)).astype(numpy.float64)
        low = (c1 >> numpy.uint64(6)).astype(numpy.float64)
        return (high * 67108864.0 + low) * 2.0**-53
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
    return ((c0 >> numpy.uint64(8)).astype(numpy.float32) * numpy.float32(2.0**-24)).astype(dtype)


def uniform_twin(key: int, counter: int, size: int, dtype) -> numpy.ndarray:
    """The ``size`` uniform numbers a draw from state (key, counter) gives, computed in NumPy."""
    ctr = (numpy.uint64(counter) + numpy.arange(size, dtype=numpy.uint64)) if size else numpy.zeros(0, numpy.uint64)
    words = block((ctr & numpy.uint64(_MASK), ctr >> numpy.uint64(32), 0, 0), (key & _MASK, key >> 32))
    return uniform_from_words(words[0], words[1], dtype)


_uniform_kernel = ElementwiseKernel(
    "T offset, raw uint64 state", "T u", BLOCK_SOURCE + UNIFORM_SOURCE + "u = offset + _u;", "gpunet_philox_uniform"
)


def _draw_twin(state, dims, dtype):
    key, counter = (int(v) for v in state)
    return uniform_twin(key, counter, math.prod(dims), dtype).reshape(dims)


def _draw_gpu(state, dims, dtype):
    xp = array_module(state)
    return _uniform_kernel(xp.broadcast_to(xp.zeros((), dtype=dtype), dims), state)


_draw = Fused(_draw_gpu, _draw_twin)  # the uniform numbers at the state's counter, on the state's device


def _check_word(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < _U64:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r}")
    return int(value)


class PhiloxGenerator:
    """A Philox stream on the device of ``xp`` (CuPy; NumPy works too, for tests).

    ``random(shape, dtype)`` draws uniform numbers in [0, 1) like NumPy's ``Generator.random``;
    kernels that draw for themselves read :attr:`state` and call :meth:`advance` with the number
    of elements they consumed.
    """

    algorithm = ALGORITHM

    def __init__(self, key: int, xp, counter: int = 0):
        self.xp = xp
        self.state = xp.asarray(numpy.array([_check_word(key, "key"), _check_word(counter, "counter")], dtype=numpy.uint64))

    def advance(self, n: int) -> None:
        """Move the counter past ``n`` consumed elements (on the device: no host sync)."""
        self.state[1:] += numpy.uint64(n)

    def random(self, shape=None, dtype=numpy.float64):
        """Uniform numbers in [0, 1) of ``shape`` (a float when ``shape`` is None)."""
        dtype = numpy.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
        dims = () if shape is None else ((shape,) if isinstance(shape, numbers.Integral) else tuple(shape))
        size = int(numpy.prod(dims, dtype=numpy.int64))
        out = _draw(self.state, dims, dtype)
        self.advance(size)
        return out[()] if shape is None else out

    def get_state(self) -> dict:
        """``{"algorithm": "philox4x32-10", "key": k, "counter": c}`` (one host sync)."""
        key, counter = (int(v) for v in (self.state.get() if hasattr(self.state, "get") else self.state))
        return {"algorithm": ALGORITHM, "key": key, "counter": counter}

    def set_state(self, state: dict) -> None:
        if not isinstance(state, dict) or state.get("algorithm") != ALGORITHM:
            raise ValueError(f"state must be a dict from PhiloxGenerator.get_state() (algorithm {ALGORITHM!r}), got {state!r}")
        words = numpy.array([_check_word(state.get("key"), "state['key']"),
                             _check_word(state.get("counter"), "state['counter']")], dtype=numpy.uint64)
        self.state[...] = self.xp.asarray(words)

    def __repr__(self):
        return f"PhiloxGenerator({self.get_state()})"
