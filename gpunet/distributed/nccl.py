"""NCCL between GPUs, through CuPy: the gradient all-reduce of ranks that hold CuPy arrays.

One process per GPU (the device is picked by the rank on its machine, see ``devices.py``, which
also keeps NCCL away from ranks that share a GPU: NCCL refuses them). Rank 0 makes
NCCL's unique id and MPI broadcasts it; after that, arrays never leave the GPU: NCCL sums them
device to device (NVLink, PCIe, InfiniBand). A non-blocking all-reduce runs on a stream of its own,
after the compute stream has produced the bucket, and the compute stream waits for it before the
update reads it, so communication overlaps the rest of the backward pass. An array that is not
C-contiguous travels as a contiguous copy, copied back afterwards. Small Python objects (states,
checks) and NumPy arrays still go through MPI. For the collective watchdog (``watchdog.py``) an NCCL
collective stays open until the event recorded after it on its stream has completed.
"""

from __future__ import annotations

import numpy

from .. import backend
from .communicator import MPICommunicator, Pending

__all__ = ["NCCLCommunicator", "nccl_available"]


def _nccl():
    cupy = backend._import_cupy()
    if cupy is None:
        return None
    try:
        from cupy.cuda import nccl  # noqa: PLC0415 - present only in CuPy builds with NCCL
    except ImportError:
        return None
    return nccl if getattr(nccl, "available", True) else None


def nccl_available() -> bool:
    """Whether CuPy can use NCCL here (CuPy installed with its NCCL library)."""
    return _nccl() is not None


class NCCLCommunicator(MPICommunicator):
    """NCCL collectives on CuPy arrays; NumPy arrays and objects go through MPI."""

    name = "nccl"

    def __init__(self, comm=None, asynchronous: str = "thread"):
        super().__init__(comm, asynchronous)
        nccl = _nccl()
        if nccl is None:
            raise RuntimeError("NCCL is not available through CuPy: install nvidia-nccl-cu12 (or -cu13) beside CuPy")
        self.nccl = nccl
        self.cupy = backend._import_cupy()
        unique_id = nccl.get_unique_id() if self.rank == 0 else None
        unique_id = self.comm.bcast(unique_id, root=0)
        self.device = device = self.cupy.cuda.Device().id
        try:
            self.device_comm = nccl.NcclCommunicator(self.size, unique_id, self.rank)
        except Exception as error:  # noqa: BLE001 - NcclError, or CUDA's own
            raise RuntimeError(
                f"NCCL could not set up its communicator on rank {self.rank} of {self.size} (GPU {device}): {error}. "
                "Run with NCCL_DEBUG=WARN to read NCCL's reason. Ranks that share a GPU are the usual cause: "
                "start at most as many ranks per machine as it has GPUs, check CUDA_VISIBLE_DEVICES, or set "
                "GPUNET_NCCL=off (init(nccl=False)) to sum the gradients with MPI through host memory instead"
            ) from error
        self.stream = self.cupy.cuda.Stream(non_blocking=True)
        self._types = {numpy.dtype(numpy.float16): nccl.NCCL_FLOAT16, numpy.dtype(numpy.float32): nccl.NCCL_FLOAT32,
                       numpy.dtype(numpy.float64): nccl.NCCL_FLOAT64, numpy.dtype(numpy.int64): nccl.NCCL_INT64,
                       numpy.dtype(numpy.int32): nccl.NCCL_INT32, numpy.dtype(numpy.uint8): nccl.NCCL_UINT8}

    def _type(self, array) -> int:
        try:
            return self._types[numpy.dtype(array.dtype)]
        except KeyError:
            raise TypeError(f"NCCL cannot reduce arrays of dtype {array.dtype}") from None

    def _contiguous(self, array):
        """``array`` when NCCL can address it as ``size`` elements from ``data.ptr`` (C-contiguous),
        else a contiguous copy (made on the current stream) whose result goes back into it."""
        return array if array.flags.c_contiguous else self.cupy.ascontiguousarray(array)

    def _ends_with(self, number, event) -> None:
        """Collective ``number`` (None: no watchdog) is complete once ``event`` is."""
        if number is not None:
            self.watchdog.end_when(number, lambda: self._done(event))

    def _done(self, event) -> bool:
        with self.cupy.cuda.Device(self.device):  # the monitor thread asks too
            return bool(event.done)

    def allreduce(self, array) -> None:
        if self._on_host(array):
            super().allreduce(array)
            return
        buffer = self._contiguous(array)
        stream = self.cupy.cuda.get_current_stream()
        number = self._begin("allreduce", array, "NCCL")
        self.device_comm.allReduce(buffer.data.ptr, buffer.data.ptr, buffer.size, self._type(buffer),
                                   self.nccl.NCCL_SUM, stream.ptr)
        self._ends_with(number, None if number is None else stream.record())
        if buffer is not array:
            array[...] = buffer

    def allreduce_async(self, array) -> Pending:
        if self._on_host(array):
            return super().allreduce_async(array)
        buffer = self._contiguous(array)
        compute = self.cupy.cuda.get_current_stream()
        self.stream.wait_event(compute.record())  # the bucket is written before NCCL reads it
        number = self._begin("allreduce_async", array, "NCCL")
        self.device_comm.allReduce(buffer.data.ptr, buffer.data.ptr, buffer.size, self._type(buffer),
                                   self.nccl.NCCL_SUM, self.stream.ptr)
        done = self.stream.record()
        self._ends_with(number, done)

        def finish():  # the update waits on the GPU, not the host
            compute.wait_event(done)
            if buffer is not array:
                with compute:
                    array[...] = buffer

        return Pending(finish=finish)

    def broadcast(self, array, root: int = 0) -> None:
        if self._on_host(array):
            super().broadcast(array, root)
            return
        buffer = self._contiguous(array)
        stream = self.cupy.cuda.get_current_stream()
        number = self._begin("broadcast", array, "NCCL")
        self.device_comm.bcast(buffer.data.ptr, buffer.size, self._type(buffer), root, stream.ptr)
        self._ends_with(number, None if number is None else stream.record())
        if buffer is not array:
            array[...] = buffer
