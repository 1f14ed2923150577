"""Host threads: NumPy's elementwise work runs on one core, so ops split big batches over the
cores themselves, with the BLAS held at one thread meanwhile (:class:`host_parallelism`)."""

from __future__ import annotations

import os

import numpy

from .device import _unwrap, name

__all__ = ["host_threads", "batch_chunks", "blas_chunks", "host_parallelism", "parallel", "owning_threads"]

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


def owning_threads() -> bool:
    """Whether the caller runs inside :class:`host_parallelism` (gpunet's threads own the cores)."""
    return _owning_threads > 0

