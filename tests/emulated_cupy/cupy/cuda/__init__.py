"""The parts of ``cupy.cuda`` gpunet touches, answering as one device would: streams that capture
into graphs (``_device.py``), events, memory pools, and the runtime's queries."""

from __future__ import annotations

import contextlib

from .._device import CUDARuntimeError, Event, Graph, Stream, allocation_at, any_capturing, current_stream, launch, stream_of

__all__ = ["runtime", "Device", "Stream", "Event", "Graph", "MemoryPool", "PinnedMemoryPool", "using_allocator",
           "get_current_stream", "get_default_memory_pool", "get_default_pinned_memory_pool", "is_available"]


class runtime:  # noqa: N801 - CuPy's name
    CUDARuntimeError = CUDARuntimeError
    streamCaptureModeGlobal, streamCaptureModeThreadLocal, streamCaptureModeRelaxed = 0, 1, 2  # noqa: N815

    @staticmethod
    def getDeviceCount():  # noqa: N802
        return 1

    @staticmethod
    def getDevice():  # noqa: N802
        return 0

    @staticmethod
    def runtimeGetVersion():  # noqa: N802
        return 0

    @staticmethod
    def driverGetVersion():  # noqa: N802
        return 0

    @staticmethod
    def getDeviceProperties(device):  # noqa: N802
        if device != 0:
            raise CUDARuntimeError("cudaErrorInvalidDevice", "invalid device ordinal")
        return {"name": b"emulated on the CPU", "totalGlobalMem": 0, "major": 0, "minor": 0, "multiProcessorCount": 1,
                "uuid": b"gpunet-emulation", "pciDomainID": 0, "pciBusID": 0, "pciDeviceID": 0}

    @staticmethod
    def streamIsCapturing(stream):  # noqa: N802
        found = stream_of(stream)
        return found is not None and found.is_capturing()

    @staticmethod
    def memGetInfo():  # noqa: N802
        return 0, 0


def is_available():
    return True


def get_current_stream(device_id=None):
    return current_stream()


class Device:
    def __init__(self, device=None):
        device = 0 if device is None else int(device)
        if device != 0:
            raise CUDARuntimeError("cudaErrorInvalidDevice", "invalid device ordinal")
        self.id = device

    def synchronize(self):
        if any_capturing():
            raise CUDARuntimeError("cudaErrorStreamCaptureUnsupported",
                                   "operation not permitted when stream is capturing: Device.synchronize()")

    def use(self):
        pass

    @property
    def compute_capability(self):
        return "00"

    @property
    def pci_bus_id(self):
        return "0000:00:00.0"

    @property
    def mem_info(self):
        return runtime.memGetInfo()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id} (emulated)>"


class MemoryPool:
    """Device memory comes from NumPy here: a pool only answers CuPy's questions."""

    def __init__(self, allocator=None):
        pass

    def malloc(self, size):
        raise NotImplementedError("the emulated MemoryPool hands out no raw memory")

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_bytes(self):
        return 0

    def free_all_blocks(self, stream=None):
        pass

    def n_free_blocks(self):
        return 0

    def set_limit(self, size=None, fraction=None):
        pass

    def get_limit(self):
        return 0


PinnedMemoryPool = MemoryPool
_default_pool = MemoryPool()
_default_pinned_pool = MemoryPool()


def get_default_memory_pool():
    return _default_pool


def get_default_pinned_memory_pool():
    return _default_pinned_pool


@contextlib.contextmanager
def using_allocator(allocator=None):
    yield


def get_elapsed_time(start_event, end_event):
    raise NotImplementedError("the emulated device keeps no time")


# ------------------------------------------------------------------------------------------------
# cuBLAS: a stand-in libcublas (cublas_emulation.py) loaded into the process, as CuPy loads the
# real one; its products are device work on the stream its handle was given
# ------------------------------------------------------------------------------------------------
def _cublas_product(address):
    from . import cublas_emulation  # noqa: PLC0415

    call = cublas_emulation.copy_call(address)
    stream = stream_of(call.stream or 0) or Stream.null
    # the graph must hold the memory behind the product's pointers as it holds any array's
    touched = [allocation_at(p) for p in (call.a, call.b, call.c, call.workspace) if p]
    launch(_cublas_execute, call, [t for t in touched if t is not None], stream=stream)


def _cublas_execute(call, touched):
    from . import cublas_emulation  # noqa: PLC0415

    status = cublas_emulation.execute(call)
    if status:
        raise RuntimeError(f"emulated cuBLAS product failed: {cublas_emulation.STATUS_NAMES.get(status, status)}")


def _load_cublas():
    try:
        from . import cublas_emulation  # noqa: PLC0415
    except ImportError:
        return
    cublas_emulation.set_hook(_cublas_product, cublas_emulation.load())


_load_cublas()
