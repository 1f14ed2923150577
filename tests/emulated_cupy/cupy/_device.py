"""The emulated device: streams, stream capture into graphs, and what CUDA refuses while a stream
captures.

Work "launched" on a stream runs at once (the emulated device is synchronous), unless the stream
is capturing: then it is recorded and not run, as CUDA records kernels into a graph, and it runs
each time the graph is launched, on whatever the buffers it reads hold then. While the current
stream captures, CUDA refuses what would make the host wait for the device (a copy to the host,
``synchronize``) and copies from pageable host memory: the emulation raises
``CUDARuntimeError`` for those too, and the capture is invalidated, as CUDA invalidates it.

A graph holds the memory allocated during its capture (as CuPy's graph memory pool does), but
only the addresses of memory allocated before it: a replay that would touch memory the program
has freed since the capture raises ``CUDARuntimeError`` ("use after free") where a GPU would
read or write whatever the pool handed out next.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import weakref

import numpy as _np

__all__ = ["CUDARuntimeError", "Stream", "Event", "Graph", "launch", "capturing", "sync_point", "host_copy_point",
           "any_capturing", "allocated", "allocation_at", "root"]


class CUDARuntimeError(RuntimeError):
    """CuPy's error for a failed CUDA runtime call: ``"<status name>: <description>"``."""

    def __init__(self, status: str, description: str = ""):
        self.status = status
        super().__init__(f"{status}: {description}" if description else status)


_addresses = itertools.count(0x7F0000001000, 0x100)  # stream and event handles: distinct, never 0
_streams: "weakref.WeakValueDictionary[int, Stream]" = weakref.WeakValueDictionary()
_local = threading.local()


class _Capture:
    """The work recorded on a capturing stream, and the memory allocated during it."""

    def __init__(self):
        self.work: list = []
        self.invalid: str | None = None  # the status that broke it
        self.owned: dict = {}  # id -> allocation made during the capture: the graph keeps it


# ------------------------------------------------------------------------------------------------
# device memory: every allocation's address range, while it lives
# ------------------------------------------------------------------------------------------------
_live: dict = {}  # id(allocation) -> (weak reference, first address, one past the last)


def root(a):
    """The allocation an array views (itself when it owns its memory)."""
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


def _address(a) -> int:
    return a.__array_interface__["data"][0]


def allocated(buf) -> None:
    """Note a new allocation (an array owning its memory); the capture under way owns it."""
    key = id(buf)
    if key in _live:
        return
    start = _address(buf)
    _live[key] = (weakref.ref(buf, lambda _, key=key: _live.pop(key, None)), start, start + max(buf.nbytes, 1))
    capture = current_stream()._capture
    if capture is not None:
        capture.owned[key] = buf


def allocation_at(address: int):
    """The live allocation holding ``address`` (None if none)."""
    for ref, start, end in list(_live.values()):
        if start <= address < end:
            return ref()
    return None


_FREED = "cudaErrorIllegalAddress"


class _Memory:
    """A graph's hold on an array it reads or writes: the array itself when the capture allocated
    it, else the allocation's address and a weak reference, checked at every replay."""

    __slots__ = ("array", "allocation", "offset", "shape", "strides", "dtype")

    def __init__(self, array, capture):
        buf = root(array)
        if not isinstance(buf, _np.ndarray) or id(buf) in capture.owned or id(buf) not in _live:
            self.array = array
            return
        self.array = None
        self.allocation = weakref.ref(buf)
        self.offset = _address(array) - _address(buf)
        self.shape, self.strides, self.dtype = array.shape, array.strides, array.dtype

    def get(self):
        if self.array is not None:
            return self.array
        buf = self.allocation()
        if buf is None:
            raise CUDARuntimeError(_FREED, "a CUDA graph replay touches device memory freed since its capture "
                                           "(use after free: keep every array a captured step reads or writes alive)")
        memory = (ctypes.c_uint8 * max(buf.nbytes, 1)).from_address(_address(buf))
        return _np.ndarray(self.shape, self.dtype, buffer=memory, offset=self.offset, strides=self.strides)


def _hold(value, capture):
    if isinstance(value, _np.ndarray):
        return _Memory(value, capture)
    if isinstance(value, (list, tuple)):
        return type(value)(_hold(v, capture) for v in value)
    if isinstance(value, dict):
        return {k: _hold(v, capture) for k, v in value.items()}
    return value


def _release(value):
    if isinstance(value, _Memory):
        return value.get()
    if isinstance(value, (list, tuple)):
        return type(value)(_release(v) for v in value)
    if isinstance(value, dict):
        return {k: _release(v) for k, v in value.items()}
    return value


class _Work:
    """``fn(*args, **kwargs)`` recorded in a graph, its arrays held as :class:`_Memory`."""

    __slots__ = ("fn", "args", "kwargs")

    def __init__(self, fn, args, kwargs, capture):
        self.fn, self.args, self.kwargs = fn, _hold(args, capture), _hold(kwargs, capture)

    def __call__(self):
        args, kwargs = _release(self.args), _release(self.kwargs)
        with _np.errstate(all="ignore"):
            self.fn(*args, **kwargs)


class Stream:
    """A CUDA stream: ``with stream:`` makes it the current one (per thread, as in CuPy)."""

    null: "Stream"  # the legacy default stream (handle 0)

    def __init__(self, null=False, non_blocking=False, ptds=False):
        self.ptr = 0 if null else next(_addresses)
        self.non_blocking = bool(non_blocking)
        self._capture: _Capture | None = None
        _streams[self.ptr] = self

    # -- the current stream ------------------------------------------------------------------------
    def __enter__(self):
        _stack().append(self)
        return self

    def __exit__(self, *exc):
        _stack().pop()
        return False

    def use(self):
        _local.used = self
        return self

    # -- ordering (the emulated device runs work in the order it is launched) -----------------------
    def synchronize(self):
        if self._capture is not None:
            _refuse(self, "synchronize() on a capturing stream")

    def record(self, event=None):
        event = event if event is not None else Event()
        event.record(self)
        return event

    def wait_event(self, event):
        if not isinstance(event, Event):
            raise TypeError(f"wait_event() needs a cupy.cuda.Event, got {type(event).__name__}")

    @property
    def done(self):
        return self._capture is None

    # -- capture -----------------------------------------------------------------------------------
    def begin_capture(self, mode=None):
        if self.ptr == 0:
            raise CUDARuntimeError("cudaErrorStreamCaptureUnsupported", "the legacy default stream cannot capture")
        if self._capture is not None:
            raise CUDARuntimeError("cudaErrorIllegalState", "the stream is already capturing")
        self._capture = _Capture()

    def end_capture(self):
        capture = self._capture
        if capture is None:
            raise CUDARuntimeError("cudaErrorIllegalState", "the stream is not capturing")
        self._capture = None
        if capture.invalid is not None:
            raise CUDARuntimeError("cudaErrorStreamCaptureInvalidated",
                                   f"the capture was invalidated by an earlier error ({capture.invalid})")
        return Graph(capture.work)

    def is_capturing(self):
        return self._capture is not None

    def __repr__(self):
        return f"<emulated Stream {self.ptr:#x}{' capturing' if self._capture is not None else ''}>"


Stream.null = Stream(null=True)


def _stack() -> list:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def current_stream() -> Stream:
    stack = _stack()
    if stack:
        return stack[-1]
    return getattr(_local, "used", None) or Stream.null


def stream_of(ptr: int) -> Stream | None:
    return _streams.get(int(ptr))


class Event:
    """A CUDA event (ordering is immediate in the emulation; no timing)."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.ptr = next(_addresses)
        self._stream = None

    def record(self, stream=None):
        self._stream = stream if stream is not None else current_stream()

    def synchronize(self):
        if self._stream is not None and self._stream._capture is not None:
            _refuse(self._stream, "Event.synchronize() on an event of a capturing stream")

    @property
    def done(self):
        return True


class Graph:
    """A captured graph: ``launch`` runs the recorded work again, in its order."""

    def __init__(self, work):
        self._work = list(work)

    def launch(self, stream=None):
        launch(self._run, stream=stream if stream is not None else current_stream())

    def upload(self, stream=None):
        pass

    def _run(self):
        for work in self._work:
            work()

    def __del__(self):
        self._work = []

    def __len__(self):
        return len(self._work)


# ------------------------------------------------------------------------------------------------
# What every emulated operation goes through
# ------------------------------------------------------------------------------------------------
def capturing(stream: Stream | None = None) -> _Capture | None:
    """The capture that work launched now on ``stream`` (default: the current one) goes into."""
    return (stream if stream is not None else current_stream())._capture


def any_capturing() -> bool:
    return any(s._capture is not None for s in list(_streams.values()))


def launch(fn, *args, stream: Stream | None = None, **kwargs) -> None:
    """Run ``fn(*args, **kwargs)`` now, or record it when ``stream`` (default: the current one)
    captures. CUDA kernels raise no floating-point warnings: neither does the emulated work."""
    capture = capturing(stream)
    if capture is not None:
        if capture.invalid is not None:
            raise CUDARuntimeError("cudaErrorStreamCaptureInvalidated", f"the capture was invalidated ({capture.invalid})")
        capture.work.append(_Work(fn, args, kwargs, capture))
        return
    with _np.errstate(all="ignore"):
        fn(*args, **kwargs)


def _refuse(stream: Stream, what: str):
    capture = stream._capture
    if capture is not None and capture.invalid is None:
        capture.invalid = "cudaErrorStreamCaptureUnsupported"
    raise CUDARuntimeError("cudaErrorStreamCaptureUnsupported", f"operation not permitted when stream is capturing: {what}")


def sync_point(what: str) -> None:
    """The host waits for the current stream here (a copy to the host, a Python number from an
    array): refused while it captures."""
    stream = current_stream()
    if stream._capture is not None:
        _refuse(stream, what)


def host_copy_point(what: str) -> None:
    """A copy from pageable host memory on the current stream: refused while it captures."""
    stream = current_stream()
    if stream._capture is not None:
        _refuse(stream, what)
