"""``cupy.ElementwiseKernel``, compiled for the CPU.

The kernel's parameters and CUDA C body are wrapped in a C++ loop over ``i`` and built with the
system's C++ compiler, so a kernel's arithmetic is checked against its NumPy twin, not just its
spelling. Type placeholders are bound from the arguments as CuPy binds them; ``raw`` parameters
are pointers; outputs passed in are read and written in place; the loop runs over the broadcast
shape of every non-raw argument, outputs included. Like every emulated operation, a launch runs
at once or, while the current stream captures, is recorded (with its scalar arguments as they
were at the launch) and runs when the graph does.

Builds are cached on disk by the source's hash (``GPUNET_EMULATION_CACHE``, else a folder in the
temporary directory), shared by every process, as CuPy caches its kernels.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

import numpy as _np

from . import _device
from ._array import _SCALARS, fresh, ndarray

_CTYPES = {
    "float16": "_Float16", "float32": "float", "float64": "double", "int8": "signed char", "int16": "short",
    "int32": "int", "int64": "long long", "uint8": "unsigned char", "uint16": "unsigned short", "uint32": "unsigned int",
    "uint64": "unsigned long long", "bool": "bool", "bfloat16": "bfloat16",
}
# CuPy's bfloat16 converts to and from float implicitly: the same here, on 16 stored bits
_BFLOAT16 = """
struct bfloat16 {
  unsigned short bits;
  bfloat16() : bits(0) {}
  bfloat16(float v) { unsigned int u; __builtin_memcpy(&u, &v, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) bits = (unsigned short)((u >> 16) | 0x40u);
    else bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16); }
  explicit bfloat16(double v) : bfloat16((float)v) {}
  explicit bfloat16(int v) : bfloat16((float)v) {}
  explicit bfloat16(long long v) : bfloat16((float)v) {}
  operator float() const { unsigned int u = (unsigned int)bits << 16; float v; __builtin_memcpy(&v, &u, 4); return v; }
};
"""
_LIBRARIES: dict = {}


def cache_folder() -> str:
    folder = os.environ.get("GPUNET_EMULATION_CACHE") or os.path.join(
        tempfile.gettempdir(), f"gpunet-emulated-cupy-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
    os.makedirs(folder, exist_ok=True)
    return folder


def compiler() -> str:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise RuntimeError("the emulated CuPy compiles kernels with a C++ compiler: install c++, g++ or clang++ (or set CXX)")


def build(source: str, name: str, extra=()) -> str:
    """The path of a shared library built from ``source`` (C++), built once per source."""
    key = hashlib.sha256((source + "\0" + " ".join(extra)).encode()).hexdigest()[:24]
    folder = cache_folder()
    path = os.path.join(folder, f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{key}.so")
    if not os.path.exists(path):
        fd, src = tempfile.mkstemp(suffix=".cpp", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(source)
        partial = src[:-4] + ".so"
        proc = subprocess.run([compiler(), "-O1", "-shared", "-fPIC", *extra, "-o", partial, src], capture_output=True, text=True)
        os.unlink(src)
        if proc.returncode:
            raise RuntimeError(f"{name} does not compile:\n{proc.stderr[-3000:]}\n{source}")
        os.replace(partial, path)  # atomic: a process never loads a half-written library
    return path


def _library(source, name):
    lib = _LIBRARIES.get(source)
    if lib is None:
        lib = _LIBRARIES[source] = ctypes.CDLL(build(source, name))
    return lib


def _params(text):
    out = []
    for item in (p.strip() for p in text.split(",")):
        if item:
            words = item.split()
            raw = words[0] == "raw"
            out.append((raw, *(words[1:] if raw else words)))
    return out


def _run(library, in_values, out_values, shape, count):
    """One launch: inputs broadcast to the loop's shape, outputs written in place."""
    buffers, copies = [], []
    for raw, d, value in in_values:
        arr = _np.asarray(value, dtype=d)
        buffers.append(_np.ascontiguousarray(arr if raw else _np.broadcast_to(arr, shape)))
    for raw, d, out in out_values:
        work = out if raw else _np.ascontiguousarray(_np.broadcast_to(out, shape), dtype=d).copy()
        copies.append((out, work))
        buffers.append(work)
    library.run(*[ctypes.c_void_p(b.ctypes.data) for b in buffers], ctypes.c_longlong(count))
    for out, work in copies:
        if work is not out:
            out[...] = work


class ElementwiseKernel:
    def __init__(self, in_params, out_params, operation, name="kernel", reduce_dims=True, preamble="", no_return=False,
                 return_tuple=False, **kwargs):
        self.inputs, self.outputs = _params(in_params), _params(out_params)
        self.operation, self.name, self.preamble = operation, name, preamble
        self.no_return, self.return_tuple = no_return, return_tuple

    def __call__(self, *args, size=None, block_size=None, **kwargs):
        n_in = len(self.inputs)
        if len(args) not in (n_in, n_in + len(self.outputs)):
            raise TypeError(f"Wrong number of arguments for {self.name!r}. It must be either {n_in} or "
                            f"{n_in + len(self.outputs)} (with outputs), but given {len(args)}.")
        for (raw, _, var), value in zip(self.inputs + self.outputs, args):
            if isinstance(value, ndarray):
                continue
            if raw or not isinstance(value, _SCALARS):
                raise TypeError(f"{self.name}: argument {var!r}: Unsupported type {type(value)}")
        ins, given = list(args[:n_in]), list(args[n_in:])
        types = {}
        for (raw, ctype, _), value in zip(self.inputs + self.outputs, ins + given):
            if ctype not in _CTYPES and ctype not in types and isinstance(value, ndarray):
                types[ctype] = value.dtype
        for (raw, ctype, _), value in zip(self.inputs, ins):
            if ctype not in _CTYPES and ctype not in types:
                types[ctype] = _np.asarray(value).dtype

        def dtype(ctype):
            return _np.dtype(types[ctype]) if ctype in types else _np.dtype(ctype)

        shaped = [v.shape for (raw, _, _), v in zip(self.inputs, ins) if not raw and isinstance(v, ndarray)]
        shaped += [v.shape for (raw, _, _), v in zip(self.outputs, given) if not raw]
        if shaped:
            shape = _np.broadcast_shapes(*shaped)
        elif size is not None:
            shape = (int(size),)
        else:
            raise ValueError(f"{self.name}: loop size is undecided (every argument is raw and no size= was given)")
        outputs = given or [ndarray._of(fresh(_np.empty(shape, dtype(ctype)))) for (_, ctype, _) in self.outputs]
        source, binds = self._source(types, dtype)
        library = _library(source, self.name)
        count = int(_np.prod(shape, dtype=_np.int64))
        in_values = [(raw, dtype(ctype), v._a if isinstance(v, ndarray) else v) for (raw, ctype, _), v in zip(self.inputs, ins)]
        out_values = [(raw, dtype(ctype), o._a) for (raw, ctype, _), o in zip(self.outputs, outputs)]
        _device.launch(_run, library, in_values, out_values, shape, count)
        if self.no_return:
            return None
        if len(outputs) == 1 and not self.return_tuple:
            return outputs[0]
        return tuple(outputs)

    def _source(self, types, dtype):
        params, binds = [], []
        for (raw, ctype, var) in self.inputs:
            c = _CTYPES[dtype(ctype).name]
            params.append(f"const {c}* {var if raw else '_in_' + var}")
            if not raw:
                binds.append(f"const {c} {var} = _in_{var}[i];")
        for (raw, ctype, var) in self.outputs:
            c = _CTYPES[dtype(ctype).name]
            params.append(f"{c}* {var if raw else '_out_' + var}")
            if not raw:
                binds.append(f"{c}& {var} = _out_{var}[i];")
        typedefs = "".join(f"typedef {_CTYPES[_np.dtype(d).name]} {t};\n" for t, d in types.items())
        source = (
            "#include <cmath>\n#include <cstdint>\n#include <algorithm>\nusing namespace std;\n" + _BFLOAT16 + typedefs
            + self.preamble + "\n"
            f'extern "C" void run({", ".join(params)}, long long _n) {{\n'
            f"  for (long long i = 0; i < _n; ++i) {{ {' '.join(binds)}\n{self.operation}\n  }}\n}}\n"
        )
        return source, binds

    def __repr__(self):
        return f"<emulated ElementwiseKernel {self.name}>"
