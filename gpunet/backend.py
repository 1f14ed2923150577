"""The one place that knows NumPy from CuPy.

Everything else in gpunet writes its array code once, against ``xp = get_array_module(x)``
(the module of the arrays at hand) or ``array_module()`` (the module of the selected backend
when new arrays are made), and moves data between host and device only through
:func:`to_host` and :func:`to_device`.

The backend is chosen by :func:`use`, or by the environment variable ``GPUNET_BACKEND``
(``numpy``, ``cupy`` or ``auto``; ``auto`` is the default and picks CuPy when a CUDA device is
usable). The choice is made lazily, on first use, so ``import gpunet`` never fails or slows down
for lack of CuPy or a GPU.

Random numbers come from two generators owned here and seeded together by
``gpunet.utils.set_random_seed``:

* the *host* generator (a NumPy ``Generator``): weight initialization and the shuffling of
  training data, so that a seed gives the same initial weights and batch order on every backend;
* the *noise* generator, on the selected backend: dropout masks, drawn where the data lives.
"""

from __future__ import annotations

import os

import numpy

from .philox import PhiloxGenerator

__all__ = [
    "use",
    "name",
    "array_module",
    "get_array_module",
    "to_host",
    "to_device",
    "on_device_of",
    "capturing",
    "constant_vector",
    "all_finite",
    "matmul",
    "column_dots",
    "batch_chunks",
    "parallel",
    "is_gpu_available",
    "floatx",
    "set_floatx",
    "set_seed",
    "host_generator",
    "noise_generator",
    "get_rng_state",
    "set_rng_state",
    "set_noise_stream",
    "noise_stream",
]

_BACKENDS = ("numpy", "cupy")
_INSTALL_HINT = (
    "install CuPy for your CUDA version, e.g. `pip install gpunet[cuda12]` (cupy-cuda12x) or "
    "`pip install gpunet[cuda13]` (cupy-cuda13x), on a machine with an NVIDIA GPU and driver"
)

_cupy = None  # the cupy module once it has been imported successfully
_selected: str | None = None  # "numpy" | "cupy" once resolved
_floatx = numpy.dtype("float32")
_gpu_checked: bool | None = None

_seed_sequence: numpy.random.SeedSequence | None = None
_host_rng: numpy.random.Generator | None = None
_noise_rngs: dict = {}
_noise_base: numpy.random.SeedSequence | None = None  # the seed's noise sequence, before branching
_noise_stream = 0  # which branch of it this process draws from (its rank in a data-parallel job)


# ----------------------------------------------------------------------------------------------
# CuPy detection
# ----------------------------------------------------------------------------------------------
def _import_cupy():
    """Import CuPy and return it, or None when it is not installed or cannot load."""
    global _cupy
    if _cupy is None:
        try:
            import cupy  # noqa: PLC0415 - optional dependency
        except Exception:  # ImportError, or a broken CUDA install raising at import time
            return None
        _cupy = cupy
    return _cupy


def is_gpu_available() -> bool:
    """True when CuPy imports and at least one CUDA device answers.

    Any failure (no CuPy, no driver, ``CUDARuntimeError`` from the runtime) counts as "no GPU".
    The answer is computed once and cached.
    """
    global _gpu_checked
    if _gpu_checked is None:
        cupy = _import_cupy()
        ok = False
        if cupy is not None:
            try:
                ok = cupy.cuda.runtime.getDeviceCount() > 0
                if ok:  # a device that cannot run a kernel is no device
                    cupy.zeros(1).sum().item()
            except Exception:
                ok = False
        _gpu_checked = ok
    return _gpu_checked


# ----------------------------------------------------------------------------------------------
# Backend selection
# ----------------------------------------------------------------------------------------------
def use(backend: str) -> None:
    """Select the array backend: ``"numpy"`` (CPU) or ``"cupy"`` (NVIDIA GPU).

    Raises ``ValueError`` for an unknown name and ``RuntimeError`` (saying what to install) when
    ``"cupy"`` is asked for where CuPy or a usable CUDA device is missing.
    """
    global _selected
    if not isinstance(backend, str) or backend.lower() not in _BACKENDS:
        raise ValueError(f"backend must be one of {list(_BACKENDS)}, got {backend!r}")
    backend = backend.lower()
    if backend == "cupy":
        if _import_cupy() is None:
            raise RuntimeError(f"backend 'cupy' was requested but CuPy is not installed: {_INSTALL_HINT}")
        if not is_gpu_available():
            raise RuntimeError(
                "backend 'cupy' was requested but no usable CUDA device was found "
                f"(CuPy is installed, the CUDA runtime reports no device): {_INSTALL_HINT}"
            )
    _selected = backend


def _resolve() -> str:
    """Pick the backend from GPUNET_BACKEND the first time one is needed."""
    requested = os.environ.get("GPUNET_BACKEND", "auto").strip().lower() or "auto"
    if requested == "auto":
        use("cupy" if is_gpu_available() else "numpy")
    elif requested in _BACKENDS:
        try:
            use(requested)
        except RuntimeError as exc:
            raise RuntimeError(f"GPUNET_BACKEND={requested}: {exc}") from None
    else:
        raise ValueError(f"GPUNET_BACKEND must be one of numpy, cupy, auto; got {requested!r}")
    return _selected


def name() -> str:
    """The selected backend's name, ``"numpy"`` or ``"cupy"``."""
    return _selected or _resolve()


def array_module():
    """The module (``numpy`` or ``cupy``) of the selected backend, for making new arrays."""
    return _cupy if (_selected or _resolve()) == "cupy" else numpy


_wrapper_types: tuple = ()  # classes holding an array in ``.data`` (gpunet's Tensor registers itself)


def register_wrapper_type(cls) -> None:
    """Let the functions below look through instances of ``cls`` to their ``.data`` array."""
    global _wrapper_types
    _wrapper_types = (*_wrapper_types, cls)


def _unwrap(a):
    return a.data if isinstance(a, _wrapper_types) else a


def get_array_module(*arrays):
    """The module of the given arrays: ``cupy`` if any of them is a CuPy array, else ``numpy``.

    Tensors are looked through (their ``.data`` is used).
    """
    if _cupy is not None:
        ndarray = _cupy.ndarray
        for a in arrays:
            if isinstance(_unwrap(a), ndarray):
                return _cupy
    return numpy


# ----------------------------------------------------------------------------------------------
# Transfers
# ----------------------------------------------------------------------------------------------
def to_host(a):
    """Return ``a`` (array, Tensor or array-like) as a NumPy array on the host."""
    a = _unwrap(a)
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return a.get()
    return numpy.asarray(a)


def to_device(a, dtype=None):
    """Return ``a`` as an array of the selected backend (a no-op when it is already there)."""
    a = _unwrap(a)
    if array_module() is numpy:
        if _cupy is not None and isinstance(a, _cupy.ndarray):
            a = a.get()
        return numpy.asarray(a, dtype=dtype)
    return _cupy.asarray(a, dtype=dtype)


def on_device_of(a, reference):
    """``a`` (array, Tensor or array-like) as an array on the device ``reference`` lives on: itself
    when it is there already, else a copy (host to device, or device to host)."""
    a = _unwrap(a)
    if _cupy is not None and isinstance(_unwrap(reference), _cupy.ndarray):
        return a if isinstance(a, _cupy.ndarray) else _cupy.asarray(a)
    return to_host(a)


def capturing() -> bool:
    """Whether CuPy's current stream is capturing a CUDA graph (never on the CPU)."""
    if _cupy is None or _selected != "cupy":
        return False
    try:
        return bool(_cupy.cuda.get_current_stream().is_capturing())
    except Exception:  # noqa: BLE001 - a query CUDA refuses is one made during a capture
        return True


def all_finite(arrays) -> bool:
    """Whether every value of every array is finite: one reduction on the device, one host sync."""
    arrays = [a for a in (_unwrap(a) for a in arrays) if a.dtype.kind in "fc"]
    if not arrays:
        return True
    xp = get_array_module(*arrays)
    return bool(xp.stack([xp.isfinite(a).all() for a in arrays]).all())


# ----------------------------------------------------------------------------------------------
# Host threads: NumPy's elementwise work runs on one core; ops split big batches across cores
# ----------------------------------------------------------------------------------------------
_PARALLEL_MIN = 1 << 18  # elements below which one thread is faster than several
_executor = None


def host_threads() -> int:
    """Threads for splitting array work on the CPU: ``GPUNET_NUM_THREADS``, else every core this
    process may run on."""
    value = os.environ.get("GPUNET_NUM_THREADS", "").strip()
    if value:
        try:
            count = int(value)
        except ValueError:
            raise ValueError(f"GPUNET_NUM_THREADS must be a positive integer, got {value!r}") from None
        if count < 1:
            raise ValueError(f"GPUNET_NUM_THREADS must be a positive integer, got {value!r}")
        return count
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def batch_chunks(n: int, like, force: bool = False) -> list:
    """Slices of ``range(n)`` (a batch) for :func:`parallel`: one per host thread when ``like``
    is a NumPy array large enough to pay for threads, else one slice (on the GPU, a kernel is
    already parallel)."""
    threads = host_threads()
    like = _unwrap(like)
    if threads == 1 or n < 2 or not isinstance(like, numpy.ndarray) or (like.size < _PARALLEL_MIN and not force):
        return [slice(0, n)]
    count = min(threads, n)
    bounds = [n * i // count for i in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


_owning_threads = 0  # > 0 inside host_parallelism(): gpunet, not the BLAS, splits work over the cores


def blas_chunks(n: int, like) -> list:
    """:func:`batch_chunks` for work that takes matrix products: split over gpunet's threads only
    inside :class:`host_parallelism` (where the BLAS runs on one thread); elsewhere one chunk,
    and the BLAS uses its own threads."""
    return batch_chunks(n, like) if _owning_threads else [slice(0, n)]


class host_parallelism:  # noqa: N801 - a context manager, like contextlib's
    """Inside, gpunet's own thread pool splits the work of big ops over the cores, matrix products
    included (each half on a single-threaded BLAS), and the BLAS library's threads are held at one.

    Two pools on the same cores starve each other: OpenBLAS's threads keep spinning after a
    product, and elementwise work split over the cores then waits for them. fit, evaluate and
    predict of a model with a layer that ``uses_host_threads`` run inside; elsewhere (and with
    ``enabled=False``) NumPy behaves as usual, which is faster for a model made of matrix
    products alone. Needs ``threadpoolctl`` to hold the BLAS threads (without it, or with one
    core, nothing changes).
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __enter__(self):
        global _owning_threads
        self._limits = None
        self._nested = False
        if not self.enabled:
            return self
        self._nested = _owning_threads > 0
        if self._nested:
            _owning_threads += 1
            return self
        if host_threads() > 1 and name() == "numpy":
            try:
                import threadpoolctl  # noqa: PLC0415 - optional
            except ImportError:
                return self
            self._limits = threadpoolctl.threadpool_limits(limits=1, user_api="blas")
            _owning_threads += 1
        return self

    def __exit__(self, *exc):
        global _owning_threads
        if self._limits is not None or self._nested:
            _owning_threads -= 1
        if self._limits is not None:
            self._limits.restore_original_limits()
        return False


def matmul(a, b, out=None, *, split=False):
    """``a @ b`` with ``numpy.matmul``'s semantics, into ``out`` when given: the one entry for
    gpunet's matrix products.

    CuPy arrays go to :func:`gpunet.gpu.blas.matmul` (cuBLAS through gpunet's own handle, which a
    CUDA graph can capture; CuPy's own wrappers refuse during a capture). NumPy arrays go to
    NumPy: ``a @ b``, or ``numpy.matmul(a, b, out=out)``. With ``split`` (for 2-D operands, and
    only from a caller not itself running on gpunet's threads), a big product inside
    :class:`host_parallelism` is split over the host threads: by rows of ``a``, or by the inner
    dimension when ``a`` is short.
    """
    if _cupy is not None and (isinstance(a, _cupy.ndarray) or isinstance(b, _cupy.ndarray)):
        return _gpu_blas().matmul(a, b, out=out)
    if out is not None:
        return numpy.matmul(a, b, out=out)
    if not split or not _owning_threads or not isinstance(a, numpy.ndarray) or a.shape[0] * a.shape[1] * b.shape[1] < (1 << 22):
        return a @ b
    threads = host_threads()
    rows, inner = a.shape
    if rows >= 4 * threads:  # split the rows: each thread writes its own block of the result
        out = numpy.empty((rows, b.shape[1]), numpy.result_type(a, b))
        chunks = batch_chunks(rows, out, force=True)

        def block(chunk):
            numpy.matmul(a[chunk], b, out=out[chunk])

        parallel(block, chunks)
        return out
    chunks = batch_chunks(inner, a, force=True)  # a short, wide a (x.T @ g): split the sum
    parts = [None] * len(chunks)

    def part(i):
        parts[i] = a[:, chunks[i]] @ b[chunks[i]]

    parallel(part, list(range(len(chunks))))
    total = parts[0]
    for p in parts[1:]:
        total += p
    return total


_constants: dict = {}


def constant_vector(kind: str, n: int, dtype, like):
    """``ones(n)`` or ``arange(n)`` (``kind``) of ``dtype`` on ``like``'s device, made once and kept
    for the life of the process; never to be written. Ops reuse these across steps instead of
    keeping their own per batch size: a CUDA graph captured from a step keeps reading the one it
    captured, which a per-op cache would free when a batch of another size comes along."""
    xp = get_array_module(like)
    key = (kind, int(n), numpy.dtype(dtype), xp is numpy)
    vector = _constants.get(key)
    if vector is None:
        if capturing():
            raise RuntimeError(f"the constant {kind}({n}) must be made before a CUDA graph captures the step that uses it")
        vector = xp.ones(n, dtype) if kind == "ones" else xp.arange(n, dtype=dtype)
        if xp is numpy:
            vector.flags.writeable = False
        _constants[key] = vector
    return vector


def column_dots(a, b):
    """``(a * b).sum(axis=0)`` for two matrices of one shape: ``numpy.einsum("ij,ij->j", a, b)`` on
    the host (one pass, no temporary); on the GPU ``ones @ (a * b)`` through :func:`matmul`
    (CuPy's einsum would copy both operands into a batched product through CuPy's cuBLAS
    wrappers, which a CUDA graph cannot capture)."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return matmul(constant_vector("ones", a.shape[0], a.dtype, a), a * b)
    return numpy.einsum("ij,ij->j", a, b)


_blas = None


def _gpu_blas():
    global _blas
    if _blas is None:
        from .gpu import blas  # noqa: PLC0415 - GPU only

        _blas = blas
    return _blas


def parallel(fn, chunks) -> None:
    """``fn(chunk)`` for every chunk, on a pool of host threads (the last one in this thread).
    NumPy releases the interpreter lock inside its loops on large arrays, so chunks of a batch
    run on several cores; ``fn`` must only write its own chunk."""
    global _executor
    if len(chunks) == 1:
        fn(chunks[0])
        return
    if _executor is None:
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - only when the CPU path needs it

        _executor = ThreadPoolExecutor(max_workers=max(1, host_threads() - 1), thread_name_prefix="gpunet")
    futures = [_executor.submit(fn, chunk) for chunk in chunks[:-1]]
    fn(chunks[-1])
    for future in futures:
        future.result()


# ----------------------------------------------------------------------------------------------
# Default floating-point dtype
# ----------------------------------------------------------------------------------------------
def floatx():
    """The default floating-point dtype of new tensors and weights (``float32`` unless changed)."""
    return _floatx


def float_dtype(dtype) -> numpy.dtype:
    """``dtype`` as a NumPy dtype, which must be float32 or float64 (ValueError otherwise)."""
    try:
        dt = numpy.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (numpy.dtype("float32"), numpy.dtype("float64")):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


def set_floatx(dtype) -> None:
    """Set the default floating-point dtype (``"float32"`` or ``"float64"``)."""
    global _floatx
    _floatx = float_dtype(dtype)


# ----------------------------------------------------------------------------------------------
# Random generators
# ----------------------------------------------------------------------------------------------
def set_seed(seed) -> None:
    """Seed the host generator and every backend's noise generator from one integer.

    ``None`` draws fresh entropy from the operating system.
    """
    global _seed_sequence, _host_rng, _noise_base
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        seed = int(seed)
    _seed_sequence = numpy.random.SeedSequence(seed)
    host, _noise_base = _seed_sequence.spawn(2)
    _host_rng = numpy.random.Generator(numpy.random.PCG64(host))
    _reset_noise()


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
            rng = PhiloxGenerator(int(noise_seed.generate_state(1, numpy.uint64)[0]), _cupy)
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
    state = {"host": _host_rng.bit_generator.state}
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
