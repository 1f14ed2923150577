"""NVRTC, NVIDIA's runtime compiler, through ctypes: compiles CUDA C to PTX without a GPU.

The library comes from the ``nvidia-cuda-nvrtc-cu12`` wheel (the test extra) or from a CUDA
toolkit on the library path; :func:`library` is None where neither is installed.
"""

from __future__ import annotations

import ctypes
import glob
import os

_lib = None


def library():
    """The loaded libnvrtc, or None."""
    global _lib
    if _lib is None:
        candidates = []
        try:
            import nvidia.cuda_nvrtc  # noqa: PLC0415

            for folder in nvidia.cuda_nvrtc.__path__:
                candidates += sorted(glob.glob(os.path.join(folder, "lib", "libnvrtc.so*")))
        except ImportError:
            pass
        candidates += ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"]
        for name in candidates:
            if "builtins" in name or ".alt." in name:
                continue
            try:
                _lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
    return _lib


def version() -> str:
    major, minor = ctypes.c_int(), ctypes.c_int()
    library().nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return f"{major.value}.{minor.value}"


def compile_ptx(source: str, name: str, options=()) -> tuple:
    """``(ok, log, ptx)`` for compiling ``source`` with ``options`` (e.g. ``-arch=compute_80``)."""
    lib = library()
    prog = ctypes.c_void_p()
    code = lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), f"{name}.cu".encode(), 0, None, None)
    if code:
        raise RuntimeError(f"nvrtcCreateProgram failed with code {code}")
    try:
        opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
        result = lib.nvrtcCompileProgram(prog, len(options), opts)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        ptx = b""
        if result == 0:
            lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
            buf = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetPTX(prog, buf)
            ptx = buf.value
        return result == 0, log.value.decode(errors="replace"), ptx.decode(errors="replace")
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
