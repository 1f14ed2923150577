"""NVRTC, NVIDIA's runtime compiler, through ctypes: compiles CUDA C to PTX without a GPU.

The library comes from the ``nvidia-cuda-nvrtc-cu12`` wheel (the test extra) or from a CUDA
toolkit on the library path; :func:`library` is None where neither is installed.
:func:`cupy_options` are the options CuPy 14 compiles its kernels with, its headers' folders
included: those come from the ``cupy-cuda12x`` wheel (found without importing CuPy) and the CUDA
runtime's headers (``cuda_fp16.h``, ``cuda_bf16.h``) from ``nvidia-cuda-runtime-cu12``, as CuPy
finds them, through ``cuda.pathfinder``.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
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


def cupy_include_dir():
    """CuPy's header folder (``cupy/_core/include``, as the cupy-cuda12x wheel installs it), or None.

    Found without importing CuPy; a package without CuPy 14's headers (CuPy 13 has no bfloat16,
    the CPU emulation in ``tests/emulated_cupy`` no headers) counts as none."""
    try:
        spec = importlib.util.find_spec("cupy")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        include = os.path.join(folder, "_core", "include")
        if all(os.path.isfile(os.path.join(include, "cupy", h)) for h in ("carray.cuh", "float16.cuh", "bfloat16.cuh")):
            return include
    return None


def cuda_include_dir():
    """The folder of the CUDA runtime's headers as CuPy finds it (``cuda.pathfinder``), or None."""
    try:
        from cuda.pathfinder import find_nvidia_header_directory  # noqa: PLC0415
    except ImportError:
        return None
    folder = find_nvidia_header_directory("cudart")
    return folder if folder and os.path.isfile(os.path.join(folder, "cuda_bf16.h")) else None


def cupy_options():
    """``(options, None)``: the options CuPy 14 gives NVRTC for an elementwise kernel, less the
    architecture (its bundled CCCL, C++17, its headers, the CUDA runtime's headers, flushing
    denormals to zero, device code by default); ``(None, reason)`` where a header folder is
    missing, the reason naming the package to install."""
    include = cupy_include_dir()
    if include is None:
        return None, "CuPy 14's headers are not installed (pip install -e '.[kernel-headers]', or any CuPy 14 wheel)"
    cuda = cuda_include_dir()
    if cuda is None:
        return None, "the CUDA runtime's headers (cuda_fp16.h, cuda_bf16.h) are not installed (pip install nvidia-cuda-runtime-cu12)"
    cccl = [f"-I{os.path.join(include, 'cupy', '_cccl', part)}" for part in ("cub", "thrust", "libcudacxx")]
    return [*cccl, "--std=c++17", f"-I{include}", f"-I{cuda}", "-ftz=true", "--device-as-default-execution-space"], None
