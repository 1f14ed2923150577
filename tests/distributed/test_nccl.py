"""NCCL's collectives in a world of one: what the device check's single GPU can run.

mpi4py without a launcher is a world of one process, and NCCL builds a communicator of one rank on
one GPU. A sum over one rank changes nothing, so each call to NCCL is made to bring in values
that stand for the other ranks' result: the test wraps NCCL's communicator so that an all-reduce
of N elements reduces, out of place, an array of N known values into the buffer gpunet handed
over (over one rank, NCCL copies it there), and a broadcast copies those values from their own
buffer. What gpunet's array holds afterwards is then compared with NumPy: the known values where
the array is, and the untouched values around a strided view. The calls themselves are checked too
(element count, NCCL datatype, reduction, stream).
"""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import backend
from gpunet.distributed.nccl import NCCLCommunicator, nccl_available

pytestmark = pytest.mark.gpu

SHAPE = (5, 8)


def _mpi_available() -> bool:
    try:
        from mpi4py import MPI  # noqa: F401, PLC0415
    except (ImportError, RuntimeError):  # RuntimeError: mpi4py finds no MPI library to load
        return False
    return True


class _OneRank:
    """A world of one process, as mpi4py's COMM_WORLD is without a launcher, for machines whose
    mpi4py has no MPI library to load (the GPU machine's image): NCCL itself needs no MPI for one
    rank, and the collectives under test never reach MPI (only the unique id's broadcast does,
    which in a world of one hands the id back)."""

    COMM_TYPE_SHARED = 0

    def Get_rank(self):  # noqa: N802 - mpi4py's names
        return 0

    def Get_size(self):  # noqa: N802
        return 1

    def Split_type(self, split_type, key=0):  # noqa: N802
        return self

    def Free(self):  # noqa: N802
        pass

    def Split(self, color=0, key=0):  # noqa: N802
        return self

    def bcast(self, obj, root=0):
        return obj

    def Bcast(self, buffer, root=0):  # noqa: N802 - the root's buffer is every rank's already
        pass

    def allgather(self, obj):
        return [obj]

    def Allgather(self, send, receive):  # noqa: N802
        receive.reshape(-1)[...] = send.reshape(-1)


def _one_rank_mpi(monkeypatch):
    """mpi4py's MPI module as a world of one (see _OneRank)."""
    import sys  # noqa: PLC0415
    import types  # noqa: PLC0415

    world = _OneRank()
    module = types.ModuleType("mpi4py.MPI")
    module.COMM_WORLD, module.COMM_TYPE_SHARED = world, world.COMM_TYPE_SHARED
    package = types.ModuleType("mpi4py")
    package.MPI = module
    monkeypatch.setitem(sys.modules, "mpi4py", package)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", module)


class ArrivingValues:
    """NCCL's communicator, with each collective's result replaced by known values (see above)."""

    def __init__(self, device_comm, cupy, nccl):
        self.device_comm, self.cupy, self.nccl = device_comm, cupy, nccl
        self.dtypes = {nccl.NCCL_FLOAT16: np.float16, nccl.NCCL_FLOAT32: np.float32, nccl.NCCL_FLOAT64: np.float64}
        self.calls, self.arrived, self._keep = [], [], []

    def _values(self, count, datatype):
        values = np.random.default_rng(len(self.arrived)).uniform(-8.0, 8.0, count).astype(self.dtypes[datatype])
        device = self.cupy.asarray(values)
        self.cupy.cuda.Device().synchronize()  # written before NCCL's stream reads it
        self.arrived.append(values)
        self._keep.append(device)  # alive until the test ends, whatever stream still reads it
        return device

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):  # noqa: N802 - CuPy's name
        self.calls.append(("allReduce", sendbuf, recvbuf, count, datatype, op, stream))
        others = self._values(count, datatype)
        self.device_comm.allReduce(others.data.ptr, recvbuf, count, datatype, op, stream)

    def bcast(self, buff, count, datatype, root, stream):
        self.calls.append(("bcast", buff, buff, count, datatype, root, stream))
        others = self._values(count, datatype)
        self.device_comm.broadcast(others.data.ptr, buff, count, datatype, root, stream)


@pytest.fixture(scope="module")
def communicator():
    if not backend.is_gpu_available():
        pytest.skip("no usable CUDA device")
    if not nccl_available():
        pytest.skip("CuPy has no NCCL here (nvidia-nccl-cu12 or -cu13)")
    previous = backend.name()
    backend.use("cupy")
    with pytest.MonkeyPatch.context() as monkeypatch:
        if not _mpi_available():
            _one_rank_mpi(monkeypatch)
        try:
            yield NCCLCommunicator()
        finally:
            backend.use(previous)


@pytest.fixture
def world(communicator):
    """The communicator of one rank, its NCCL calls bringing in known values."""
    nccl_comm = communicator.device_comm
    arriving = ArrivingValues(nccl_comm, communicator.cupy, communicator.nccl)
    communicator.device_comm = arriving
    try:
        yield communicator, arriving
    finally:
        communicator.device_comm = nccl_comm


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("operation", ["allreduce", "allreduce_async", "broadcast"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_nccl_collectives_on_one_rank_deliver_their_result_into_the_array(world, dtype, operation, layout):
    communicator, arriving = world
    cupy, nccl = communicator.cupy, communicator.nccl
    assert (communicator.name, communicator.size, communicator.rank) == ("nccl", 1, 0)
    before = np.random.default_rng(7).uniform(-8.0, 8.0, SHAPE).astype(dtype)
    parent = cupy.asarray(before)
    target = parent if layout == "contiguous" else parent[:, 1::3]
    compute = cupy.cuda.get_current_stream()

    if operation == "allreduce":
        communicator.allreduce(target)
    elif operation == "allreduce_async":
        communicator.allreduce_async(target).wait()
    else:
        communicator.broadcast(target, root=0)

    assert len(arriving.calls) == 1
    kind, send, receive, count, datatype, op_or_root, stream = arriving.calls[0]
    assert kind == ("bcast" if operation == "broadcast" else "allReduce")
    assert count == target.size and send == receive
    names = {np.float16: nccl.NCCL_FLOAT16, np.float32: nccl.NCCL_FLOAT32, np.float64: nccl.NCCL_FLOAT64}
    assert datatype == names[dtype]
    assert op_or_root == (0 if operation == "broadcast" else nccl.NCCL_SUM)
    # the non-blocking all-reduce runs on the communicator's own stream, the others on the caller's
    assert stream == (communicator.stream.ptr if operation == "allreduce_async" else compute.ptr)
    if layout == "contiguous":
        assert receive == parent.data.ptr  # no copy: NCCL works on the array itself
    expected = before.copy()
    if layout == "contiguous":
        expected[...] = arriving.arrived[0].reshape(SHAPE)
    else:
        expected[:, 1::3] = arriving.arrived[0].reshape(expected[:, 1::3].shape)
    got = cupy.asnumpy(parent)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, expected)


def test_nccl_refuses_dtypes_it_cannot_reduce(world):
    communicator, arriving = world
    with pytest.raises(TypeError, match="complex128"):
        communicator.allreduce(communicator.cupy.zeros(3, dtype=np.complex128))
    assert arriving.calls == []
