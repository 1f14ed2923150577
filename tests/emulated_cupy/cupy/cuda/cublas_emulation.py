"""A stand-in libcublas for the CPU emulation of CuPy, built from ``_cublas.cpp`` beside this file.

:func:`load` compiles it once per process with the system's C++ compiler, as a file named
``libcublas.so.13`` in a temporary folder, and loads it into the process (``RTLD_GLOBAL``), so
that gpunet's binding (``gpunet/gpu/blas.py``) finds it among the process's mapped libraries as
it finds the libcublas that real CuPy loads. Device memory is host memory in the emulation, so
the library computes on the host addresses it is given, with cuBLAS's column-major semantics.

Each product fills a :class:`Call` with all of its arguments by value. With a hook set
(:func:`set_hook`), the hook gets that record instead of the product running: an emulated stream
capture keeps a :func:`copy_call` of each one and, at replay, runs them with :func:`execute`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile

__all__ = ["build", "load", "load_private", "Call", "set_hook", "copy_call", "execute", "STATUS_NAMES"]

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_cublas.cpp")
LIBRARY_NAME = "libcublas.so.13"

STATUS_NAMES = {0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 7: "CUBLAS_STATUS_INVALID_VALUE",
                15: "CUBLAS_STATUS_NOT_SUPPORTED"}


class Call(ctypes.Structure):
    """One recorded product: ``gpunet_emulated_call`` of ``_cublas.cpp``, field for field."""

    _fields_ = [
        ("batched", ctypes.c_int32),
        ("transa", ctypes.c_int32), ("transb", ctypes.c_int32),
        ("m", ctypes.c_int32), ("n", ctypes.c_int32), ("k", ctypes.c_int32),
        ("a_type", ctypes.c_int32), ("b_type", ctypes.c_int32), ("c_type", ctypes.c_int32),
        ("lda", ctypes.c_int32), ("ldb", ctypes.c_int32), ("ldc", ctypes.c_int32),
        ("batch_count", ctypes.c_int32),
        ("compute_type", ctypes.c_int32), ("algo", ctypes.c_int32),
        ("pointer_mode", ctypes.c_int32), ("math_mode", ctypes.c_int32),
        ("stride_a", ctypes.c_int64), ("stride_b", ctypes.c_int64), ("stride_c", ctypes.c_int64),
        ("a", ctypes.c_void_p), ("b", ctypes.c_void_p), ("c", ctypes.c_void_p),
        ("alpha", ctypes.c_double), ("beta", ctypes.c_double),
        ("alpha_pointer", ctypes.c_void_p), ("beta_pointer", ctypes.c_void_p),
        ("stream", ctypes.c_void_p),
        ("workspace", ctypes.c_void_p), ("workspace_size", ctypes.c_uint64),
        ("handle", ctypes.c_void_p),
    ]


HOOK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

_built = None
_libraries: dict = {}  # "global" / "private" -> the loaded library
_hooks: dict = {}  # id(library) -> the ctypes callback in use, kept alive while the library may call it


def _compiler() -> str:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise RuntimeError("the emulated libcublas needs a C++ compiler (c++, g++ or clang++; or set CXX)")


def build() -> str:
    """Compile the library once per process; returns the path of its ``libcublas.so.13``."""
    global _built
    if _built is None:
        path = os.path.join(tempfile.mkdtemp(prefix="emulated-cublas-"), LIBRARY_NAME)
        proc = subprocess.run([_compiler(), "-O2", "-shared", "-fPIC", "-o", path, SOURCE], capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"the emulated libcublas does not compile:\n{proc.stderr[-3000:]}")
        _built = path
    return _built


def _open(path, mode) -> ctypes.CDLL:
    library = ctypes.CDLL(path, mode=mode)
    library.gpunet_emulation_call_size.restype = ctypes.c_size_t
    size = library.gpunet_emulation_call_size()
    if size != ctypes.sizeof(Call):
        raise RuntimeError(f"the emulated libcublas's call record has {size} bytes, its ctypes mirror {ctypes.sizeof(Call)}")
    library.gpunet_emulation_set_hook.argtypes = [HOOK]
    library.gpunet_emulation_set_hook.restype = None
    library.gpunet_emulation_execute.argtypes = [ctypes.c_void_p]
    library.gpunet_emulation_execute.restype = ctypes.c_int
    return library


def load() -> ctypes.CDLL:
    """The stand-in libcublas, compiled and loaded on the first call (the same library after),
    with its symbols global and its file named as NVIDIA's: the emulation's cuBLAS."""
    if "global" not in _libraries:
        _libraries["global"] = _open(build(), ctypes.RTLD_GLOBAL)
    return _libraries["global"]


def load_private() -> ctypes.CDLL:
    """The same library under another file name, with its symbols local: for testing it in a
    process that may also hold NVIDIA's libcublas, which neither its symbols nor its name can
    then stand in for."""
    if "private" not in _libraries:
        path = os.path.join(os.path.dirname(build()), "emulated-cublas-private.so")
        shutil.copyfile(build(), path)
        _libraries["private"] = _open(path, ctypes.RTLD_LOCAL)
    return _libraries["private"]


def set_hook(hook, library=None) -> None:
    """Give every later product's record to ``hook(address)`` instead of computing it (the record
    lives only during the call: keep a :func:`copy_call`); ``None`` computes products again.
    ``library`` defaults to :func:`load`'s."""
    library = library if library is not None else load()
    callback = HOOK(hook) if hook is not None else HOOK()
    library.gpunet_emulation_set_hook(callback)
    _hooks[id(library)] = callback


def copy_call(address) -> Call:
    """A copy, owned by Python, of the record at ``address`` (as a hook receives it)."""
    return Call.from_buffer_copy(ctypes.string_at(address, ctypes.sizeof(Call)))


def execute(call: Call, library=None) -> int:
    """Run a recorded product now; returns its cuBLAS status (0 on success)."""
    library = library if library is not None else load()
    return library.gpunet_emulation_execute(ctypes.addressof(call))
