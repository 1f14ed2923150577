"""The random streams gpunet draws from, seeded together by ``gpunet.utils.set_random_seed``:

* the *host* generator (a NumPy ``Generator``): weight initialization and the shuffling of
  training data, so that a seed gives the same initial weights and batch order on every backend;
* the *noise* generator, on the selected backend: dropout masks, drawn where the data lives
  (NumPy's generator on the CPU, a Philox stream on the GPU, :mod:`gpunet.gpu.philox`);
* the *ops* generator (a NumPy ``Generator``): what ``gpunet.random`` draws with ``seed=None``,
  and the seeds of ``gpunet.random.SeedGenerator(seed=None)``.

Their states are saved in checkpoints (:func:`get_rng_state`), so a resumed run draws what an
uninterrupted one would; so are the states of the live ``SeedGenerator`` objects, registered
here by name (:func:`register_seed_generator`).
"""

from __future__ import annotations

import weakref

import numpy

from ..gpu.philox import PhiloxGenerator
from . import device
from .device import name

__all__ = ["set_seed", "get_seed", "host_generator", "noise_generator", "ops_generator", "get_rng_state",
           "set_rng_state", "set_noise_stream", "noise_stream", "register_seed_generator"]

_seed_sequence: numpy.random.SeedSequence | None = None
_seed: int | None = None  # the seed last given to set_seed (None: none, or entropy from the system)
_host_rng: numpy.random.Generator | None = None
_noise_rngs: dict = {}
_noise_base: numpy.random.SeedSequence | None = None  # the seed's noise sequence, before branching
_noise_stream = 0  # which branch of it this process draws from (its rank in a data-parallel job)
_ops_rng: numpy.random.Generator | None = None
_seed_generators: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # name -> SeedGenerator

def set_seed(seed) -> None:
    """Seed the host generator and every backend's noise generator from one integer.

    ``None`` draws fresh entropy from the operating system.
    """
    global _seed_sequence, _host_rng, _noise_base, _seed, _ops_rng
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        seed = int(seed)
    _seed = seed
    _seed_sequence = numpy.random.SeedSequence(seed)
    host, _noise_base, ops = _seed_sequence.spawn(3)  # children 0 and 1 are those of spawn(2): unchanged
    _host_rng = numpy.random.Generator(numpy.random.PCG64(host))
    _ops_rng = numpy.random.Generator(numpy.random.PCG64(ops))
    _reset_noise()


def get_seed() -> int | None:
    """The seed last given to :func:`set_seed` (``gpunet.utils.set_random_seed``); None when there
    was none, or it was None (entropy from the operating system)."""
    return _seed


def _reset_noise() -> None:
    """Start the noise generators afresh from the seed, on this process's branch."""
    _noise_rngs.clear()
    if _noise_stream == 0:
        _noise_rngs["_seed"] = _noise_base
    else:
        _noise_rngs["_seed"] = numpy.random.SeedSequence(_noise_base.entropy,
                                                         spawn_key=(*_noise_base.spawn_key, _noise_stream))


def set_noise_stream(index: int) -> None:
    """Draw noise (dropout masks) from branch ``index`` of the seeded noise stream.

    A data-parallel job shuffles identically on every process (same seed, same host generator)
    but must draw different dropout masks on each: process ``r`` takes branch ``r``. Branch 0 is
    the stream of a single process, so rank 0 draws what one process would. Taking effect at
    once, it restarts the noise generators from the current seed."""
    global _noise_stream
    if isinstance(index, bool) or not isinstance(index, (int, numpy.integer)) or index < 0:
        raise ValueError(f"index must be a non-negative integer, got {index!r}")
    _noise_stream = int(index)
    if _noise_base is not None:
        _reset_noise()


def noise_stream() -> int:
    """The branch of the noise stream this process draws from (see :func:`set_noise_stream`)."""
    return _noise_stream


def _ensure_seeded():
    if _host_rng is None:
        set_seed(None)


def host_generator() -> numpy.random.Generator:
    """The host NumPy generator: initializers and shuffling draw from it."""
    _ensure_seeded()
    return _host_rng


def ops_generator() -> numpy.random.Generator:
    """The host generator of ``gpunet.random``'s unseeded draws (``seed=None``)."""
    _ensure_seeded()
    return _ops_rng


def register_seed_generator(generator, name: str) -> str:
    """Track ``generator`` (an object with ``get_state()``/``set_state(state)``) so that
    checkpoints save and restore its state; returns the name it is kept under: ``name``, or
    ``name_1``, ``name_2``, ... when a live generator holds it already (the order of creation
    names them, so a script that builds its objects in the same order finds them again)."""
    key, count = name, 0
    while key in _seed_generators:
        count += 1
        key = f"{name}_{count}"
    _seed_generators[key] = generator
    return key


def noise_generator():
    """The selected backend's generator for noise drawn on the data's device (dropout masks): a
    NumPy ``Generator`` on the CPU, a :class:`~gpunet.philox.PhiloxGenerator` on the GPU."""
    _ensure_seeded()
    backend = name()
    rng = _noise_rngs.get(backend)
    if rng is None:
        noise_seed = _noise_rngs["_seed"]
        if backend == "numpy":
            rng = numpy.random.Generator(numpy.random.PCG64(noise_seed))
        else:
            rng = PhiloxGenerator(int(noise_seed.generate_state(1, numpy.uint64)[0]), device.cupy_module())
            pending = _noise_rngs.pop("_device_state", None)
            if pending is not None:
                rng.set_state(pending)
        _noise_rngs[backend] = rng
    return rng


def get_rng_state() -> dict:
    """The generators' states, as JSON-serializable dicts (for checkpoints): ``host``, the NumPy
    noise stream as ``noise``, and the GPU's Philox stream (key and counter) as ``device_noise``
    once a GPU run has drawn from it."""
    _ensure_seeded()
    state = {"host": _host_rng.bit_generator.state, "ops": _ops_rng.bit_generator.state}
    generators = {key: generator.get_state() for key, generator in list(_seed_generators.items())}
    if generators:
        state["seed_generators"] = generators
    noise = _noise_rngs.get("numpy")
    if noise is None and name() == "numpy":
        noise = noise_generator()
    if noise is not None:
        state["noise"] = noise.bit_generator.state
    device = _noise_rngs.get("cupy")
    if device is not None:
        state["device_noise"] = device.get_state()
    elif "_device_state" in _noise_rngs:
        state["device_noise"] = _noise_rngs["_device_state"]
    return state


def set_rng_state(state: dict) -> None:
    """Restore states produced by :func:`get_rng_state`."""
    _ensure_seeded()
    if not isinstance(state, dict) or "host" not in state:
        raise ValueError("state must be a dict produced by get_rng_state() with a 'host' entry")
    _host_rng.bit_generator.state = state["host"]
    if "ops" in state:
        _ops_rng.bit_generator.state = state["ops"]
    for key, saved in (state.get("seed_generators") or {}).items():
        generator = _seed_generators.get(key)
        if generator is not None:
            generator.set_state(saved)
    if "noise" in state:
        if "numpy" not in _noise_rngs:
            _noise_rngs["numpy"] = numpy.random.Generator(numpy.random.PCG64(_noise_rngs["_seed"]))
        _noise_rngs["numpy"].bit_generator.state = state["noise"]
    if "device_noise" in state:
        device_noise = _branch_device_state(state["device_noise"])
        if "cupy" in _noise_rngs:
            _noise_rngs["cupy"].set_state(device_noise)
        else:  # applied when the GPU stream is first used
            PhiloxGenerator(0, numpy).set_state(device_noise)  # check it now
            _noise_rngs["_device_state"] = device_noise
    if "noise" in state and _noise_stream:
        _noise_rngs["numpy"] = numpy.random.Generator(numpy.random.PCG64(_branch_sequence(state["noise"])))


def _branch_sequence(saved) -> numpy.random.SeedSequence:
    """A seed for this process's branch of a saved noise state: a checkpoint holds the stream of
    rank 0, and a resumed data-parallel job must still draw different masks on each rank."""
    words = numpy.frombuffer(repr(saved).encode(), dtype=numpy.uint8).astype(numpy.uint32)
    return numpy.random.SeedSequence(words.tolist(), spawn_key=(_noise_stream,))


def _branch_device_state(saved: dict) -> dict:
    if not _noise_stream:
        return saved
    key = int(_branch_sequence(saved).generate_state(1, numpy.uint64)[0])
    return {**saved, "key": key, "counter": 0}
