"""Communicators: the collective operations a data-parallel fit needs, over some transport.

Every rank calls the same operations in the same order; each one sums (all-reduce), copies from
one rank (broadcast) or gathers (all-gather) across all ranks. Arrays are reduced in place.

    Communicator       the interface, and a world of one (every operation is the identity)
    MPICommunicator    MPI through mpi4py, on host (NumPy) buffers; CuPy arrays are staged
                       through host memory (any MPI works, CUDA-aware or not)
    NCCLCommunicator   NCCL between GPUs (``nccl.py``), with MPI for objects and the unique id
"""

from __future__ import annotations

import functools
import sys

import numpy

from .. import backend

__all__ = ["Communicator", "MPICommunicator", "Pending"]


class Pending:
    """A non-blocking operation under way: :meth:`wait` returns once it has completed (and, for
    an array staged through host memory, once the result is back in the array)."""

    def __init__(self, request=None, finish=None, future=None, watch=None):
        self.request = request  # an MPI request (non-blocking collective)
        self.future = future  # or a blocking collective running on the communication thread
        self.finish = finish
        self.watch = watch  # (watchdog, number) to tell when it has completed

    def test(self) -> bool:
        """Whether it has completed; calling it lets the transport make progress."""
        if self.future is not None:
            return self.future.done()
        return self.request is None or bool(self.request.Test())

    def wait(self) -> None:
        try:
            if self.request is not None:
                self.request.Wait()
                self.request = None
            if self.future is not None:
                self.future.result()
                self.future = None
        finally:
            if self.watch is not None:
                watchdog, number = self.watch
                self.watch = None
                watchdog.end(number)
        if self.finish is not None:
            self.finish()
            self.finish = None


class Communicator:
    """A world of one process: what gpunet uses when no launcher started it.

    Subclasses implement the same methods across processes. ``allreduce``/``allreduce_async``
    sum an array over the ranks in place; ``broadcast`` copies rank ``root``'s array into every
    rank's; ``*_object`` move small picklable Python objects (states, checks)."""

    name = "local"
    rank = 0
    size = 1
    local_rank = 0

    def allreduce(self, array) -> None:
        """Sum ``array`` over the ranks, in place."""

    def allreduce_async(self, array) -> Pending:
        """Start summing ``array`` over the ranks in place; ``.wait()`` on the result."""
        return Pending()

    def progress(self) -> None:
        """Let pending operations advance (MPI progresses non-blocking collectives only inside
        MPI calls)."""

    def broadcast(self, array, root: int = 0) -> None:
        """Copy rank ``root``'s ``array`` into every rank's ``array`` (same shape and dtype)."""

    def broadcast_object(self, obj, root: int = 0):
        return obj

    def allgather_object(self, obj) -> list:
        return [obj]

    def allreduce_values(self, values) -> numpy.ndarray:
        """The sums over the ranks of a few float64 numbers (metric counts, flags)."""
        values = numpy.array(values, dtype=numpy.float64)
        self.allreduce(values)
        return values

    def barrier(self) -> None:
        """Return once every rank has called it."""

    def abort(self, code: int = 1) -> None:
        """End every rank of the job now with exit status ``code``."""
        sys.exit(code)


def _watched(method):
    """The collective ``method``, noted with the communicator's watchdog (when it has one) while it
    runs (``watchdog.py``)."""
    operation = method.__name__

    @functools.wraps(method)
    def watched(self, *args, **kwargs):
        watchdog = self.watchdog
        if watchdog is None:
            return method(self, *args, **kwargs)
        number = watchdog.begin(operation, args[0] if args else None)
        try:
            return method(self, *args, **kwargs)
        finally:
            watchdog.end(number)

    return watched


class MPICommunicator(Communicator):
    """Collectives over an mpi4py communicator (``MPI.COMM_WORLD`` by default).

    C-contiguous NumPy arrays are handed to MPI as buffers (no copy, no pickling). Anything else
    is *staged*: a CuPy array (or a strided NumPy view) is copied into a C-contiguous host buffer,
    MPI reduces or broadcasts that buffer, and the result is copied back into the array, in place
    (for :meth:`allreduce_async`, when the operation is waited for). Slower than NCCL, but correct
    with any MPI, CUDA-aware or not, and with any number of ranks on one GPU; float16, float32 and
    float64 arrays, strided views included, are tested against NumPy sums over two ranks.

    ``asynchronous`` says how :meth:`allreduce_async` runs: ``"thread"`` (the default) hands a
    blocking ``Allreduce`` to one communication thread, which makes progress on its own while the
    caller computes (mpi4py releases the interpreter lock inside MPI, NumPy inside its loops);
    ``"request"`` starts an ``Iallreduce``, which many MPI libraries (Open MPI among them) advance
    only inside MPI calls, so :meth:`progress` tests it between layers. Either way all bucket
    all-reduces are issued in the same order on every rank, from one thread.

    ``watchdog``: when :func:`~gpunet.distributed.init` sets one, every collective is noted with
    it while it runs, so that a rank that never arrives ends the job (``watchdog.py``)."""

    name = "mpi"
    watchdog = None

    def __init__(self, comm=None, asynchronous: str = "thread"):
        from mpi4py import MPI  # noqa: PLC0415 - optional dependency, imported only under a launcher

        if asynchronous not in ("thread", "request"):
            raise ValueError(f"asynchronous must be 'thread' or 'request', got {asynchronous!r}")
        self.asynchronous = asynchronous
        self._pool = None
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        local = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)  # the ranks on this machine
        self.local_rank = local.Get_rank()
        self.local_size = local.Get_size()
        local.Free()
        self._pending: list = []

    @staticmethod
    def _on_host(array) -> bool:
        return backend.get_array_module(array) is numpy

    def _staged(self, array):
        """``(buffer, copy_back)``: the C-contiguous host buffer MPI works on, and what puts its
        contents back into ``array`` (None when the buffer is ``array`` itself)."""
        if self._on_host(array) and array.flags.c_contiguous:
            return array, None
        host = backend.to_host(array)  # a copy for a device array (C-contiguous), a view for a strided host one
        if not host.flags.c_contiguous or host is array:
            host = numpy.ascontiguousarray(host)

        def copy_back():
            if self._on_host(array):
                array[...] = host
            elif array.flags.c_contiguous:
                array.set(host)  # straight from host memory into the device array
            else:
                array[...] = backend.on_device_of(host, array)

        return host, copy_back

    def _begin(self, operation: str, payload=None, through: str | None = None):
        """The watchdog's number for a collective that starts now (None without a watchdog)."""
        return None if self.watchdog is None else self.watchdog.begin(operation, payload, through)

    @_watched
    def allreduce(self, array) -> None:
        host, copy_back = self._staged(array)
        self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self.MPI.SUM)
        if copy_back is not None:
            copy_back()

    def allreduce_async(self, array) -> Pending:
        host, copy_back = self._staged(array)  # copied now, on the caller's thread and stream
        number = self._begin("allreduce_async", array)
        watch = None if number is None else (self.watchdog, number)  # open until waited for
        if self.asynchronous == "thread":
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpunet-allreduce")
            future = self._pool.submit(self.comm.Allreduce, self.MPI.IN_PLACE, host, op=self.MPI.SUM)
            return Pending(future=future, finish=copy_back, watch=watch)
        pending = Pending(self.comm.Iallreduce(self.MPI.IN_PLACE, host, op=self.MPI.SUM), copy_back, watch=watch)
        self._pending = [p for p in self._pending if p.request is not None]
        self._pending.append(pending)
        return pending

    def progress(self) -> None:
        for pending in self._pending:
            if pending.request is not None:
                pending.test()

    @_watched
    def broadcast(self, array, root: int = 0) -> None:
        host, copy_back = self._staged(array)
        self.comm.Bcast(host, root=root)
        if copy_back is not None:
            copy_back()

    @_watched
    def broadcast_object(self, obj, root: int = 0):
        return self.comm.bcast(obj, root=root)

    @_watched
    def allgather_object(self, obj) -> list:
        return self.comm.allgather(obj)

    @_watched
    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)
