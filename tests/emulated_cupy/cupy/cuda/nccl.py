"""CuPy's ``cupy.cuda.nccl`` emulated on the CPU: NCCL's collectives over mpi4py's COMM_WORLD.

The emulated device memory is host memory, so a "device pointer" (``a.data.ptr``) is a host
address: the collectives read and write NumPy views of the bytes at that address. Every call
completes before it returns, so the ``stream`` arguments order nothing and are ignored.

Like NCCL, creating a communicator in which two ranks hold one device fails with
``NCCL_ERROR_INVALID_USAGE`` on every rank. A device is known by what
``cupy.cuda.runtime.getDeviceProperties`` reports for ``cupy.cuda.Device().id``: its PCI address
on its host when given, else its UUID, else its number on its host. Every process of this
emulation holds device 0 of one emulated GPU, so two ranks on one machine share it, unless a test
reports other properties for one of them.
"""

from __future__ import annotations

import ctypes
import os
import socket

import numpy as _np

available = True

# the values of nccl.h's enums, under CuPy's names
NCCL_INT8 = NCCL_CHAR = 0
NCCL_UINT8 = 1
NCCL_INT32 = NCCL_INT = 2
NCCL_UINT32 = 3
NCCL_INT64 = 4
NCCL_UINT64 = 5
NCCL_FLOAT16 = NCCL_HALF = 6
NCCL_FLOAT32 = NCCL_FLOAT = 7
NCCL_FLOAT64 = NCCL_DOUBLE = 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = 0, 1, 2, 3, 4

_DTYPES = {NCCL_INT8: _np.int8, NCCL_UINT8: _np.uint8, NCCL_INT32: _np.int32, NCCL_UINT32: _np.uint32,
           NCCL_INT64: _np.int64, NCCL_UINT64: _np.uint64, NCCL_FLOAT16: _np.float16, NCCL_FLOAT32: _np.float32,
           NCCL_FLOAT64: _np.float64}
_REDUCTIONS = {NCCL_SUM: _np.add, NCCL_PROD: _np.multiply, NCCL_MAX: _np.maximum, NCCL_MIN: _np.minimum}
_UNIQUE_ID_BYTES = 128

_ERRORS = {1: "NCCL_ERROR_UNHANDLED_CUDA_ERROR", 2: "NCCL_ERROR_SYSTEM_ERROR", 3: "NCCL_ERROR_INTERNAL_ERROR",
           4: "NCCL_ERROR_INVALID_ARGUMENT", 5: "NCCL_ERROR_INVALID_USAGE"}
_INVALID_ARGUMENT, _INVALID_USAGE = 4, 5


class NcclError(RuntimeError):
    def __init__(self, status, detail=""):
        self.status = status
        super().__init__(f"{_ERRORS.get(status, 'NCCL_ERROR')}: {detail or 'emulated NCCL failed'}")


def get_version():
    return 22005  # reads as NCCL 2.20.5


def get_build_version():
    return get_version()


def get_unique_id():
    """128 signed bytes, as CuPy hands out NCCL's ``ncclUniqueId``."""
    return tuple(b - 256 if b > 127 else b for b in os.urandom(_UNIQUE_ID_BYTES))


def _device():
    """This process's device: its number, and its name as the communicator's creation compares
    them (see the module's text)."""
    import cupy  # noqa: PLC0415 - the emulated package, as it stands when called

    number = cupy.cuda.Device().id
    properties = cupy.cuda.runtime.getDeviceProperties(number)
    host = socket.gethostname()
    pci = [properties.get(key) for key in ("pciDomainID", "pciBusID", "pciDeviceID")]
    if all(value is not None for value in pci):
        return number, ("pci", host, *pci)
    if properties.get("uuid"):
        return number, ("uuid", bytes(properties["uuid"]))
    return number, ("number", host, number)


def _view(pointer, count, datatype):
    """The ``count`` elements of ``datatype`` at host address ``pointer``, as a writable NumPy array."""
    if datatype not in _DTYPES:
        raise NcclError(_INVALID_ARGUMENT, f"unknown datatype {datatype}")
    dtype = _np.dtype(_DTYPES[datatype])
    if count == 0:
        return _np.empty(0, dtype)
    if not pointer:
        raise NcclError(_INVALID_ARGUMENT, "null device pointer")
    raw = (ctypes.c_char * (int(count) * dtype.itemsize)).from_address(int(pointer))
    return _np.frombuffer(raw, dtype=dtype, count=int(count))


class NcclCommunicator:
    """One rank of a communicator of ``ndev`` ranks: every process of COMM_WORLD, each calling
    with the same ``commId`` and its own ``rank``."""

    def __init__(self, ndev, commId, rank):  # noqa: N803 - CuPy's names
        from mpi4py import MPI  # noqa: PLC0415

        if not isinstance(commId, tuple) or len(commId) != _UNIQUE_ID_BYTES:
            raise TypeError("commId must be the tuple of 128 numbers that get_unique_id() returns")
        world = MPI.COMM_WORLD
        self._number, name = _device()
        every = world.allgather((int(ndev), int(rank), commId, name))
        if any(e[0] != world.Get_size() for e in every) or sorted(e[1] for e in every) != list(range(world.Get_size())):
            raise NcclError(_INVALID_ARGUMENT, "the emulation spans COMM_WORLD: ndev must be its size and the ranks "
                                               "0 to ndev-1, one each")
        if any(e[2] != commId for e in every):
            raise NcclError(_INVALID_ARGUMENT, "the ranks were given different unique ids")
        names = [e[3] for e in every]
        for r, name in enumerate(names):
            if name in names[:r]:
                holders = sorted(every[s][1] for s in range(len(names)) if names[s] == name)
                raise NcclError(_INVALID_USAGE, f"duplicate GPU: ranks {holders} share one device {name}")
        self._comm = world.Split(0, key=int(rank))  # numbered as NCCL's ranks

    def _check(self):
        if self._comm is None:
            raise NcclError(_INVALID_ARGUMENT, "the communicator was destroyed")

    def destroy(self):
        if self._comm is not None:
            self._comm.Free()
            self._comm = None

    def abort(self):
        self.destroy()

    def rank_id(self):
        self._check()
        return self._comm.Get_rank()

    def size(self):
        self._check()
        return self._comm.Get_size()

    def device_id(self):
        return self._number

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):  # noqa: N802
        self._check()
        send, recv = _view(sendbuf, count, datatype), _view(recvbuf, count, datatype)
        parts = _np.empty((self._comm.Get_size(), send.size), send.dtype)
        self._comm.Allgather(send.view(_np.uint8), parts.view(_np.uint8))  # bytes: no MPI datatype involved
        if op == NCCL_AVG:
            total = parts[0].copy()
            for part in parts[1:]:
                total += part
            recv[...] = total / parts.shape[0] if total.dtype.kind == "f" else total // parts.shape[0]
            return
        if op not in _REDUCTIONS:
            raise NcclError(_INVALID_ARGUMENT, f"unknown reduction {op}")
        total = parts[0].copy()
        for part in parts[1:]:  # rank by rank, rounded to the dtype at every step
            total = _REDUCTIONS[op](total, part)
        recv[...] = total

    def bcast(self, buff, count, datatype, root, stream):
        self._check()
        view = _view(buff, count, datatype)
        self._comm.Bcast(view.view(_np.uint8), root=int(root))

    def broadcast(self, sendbuff, recvbuff, count, datatype, root, stream):
        self._check()
        if self._comm.Get_rank() == root and sendbuff != recvbuff:
            _view(recvbuff, count, datatype)[...] = _view(sendbuff, count, datatype)
        self.bcast(recvbuff, count, datatype, root, stream)
