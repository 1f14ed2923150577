"""CuPy emulated on the CPU for gpunet's tests (see README.md beside this package)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as _np

__version__ = "emulated-on-numpy-" + _np.__version__


class ndarray(_np.ndarray):  # noqa: N801 - CuPy's name
    """A "device" array: NumPy's, marked as CuPy's."""

    def get(self, stream=None, order="C", out=None):
        host = _np.array(self, order=order, copy=True).view(_np.ndarray)
        if out is not None:
            out[...] = host
            return out
        return host

    def set(self, arr, stream=None):
        self[...] = arr

    @property
    def device(self):
        return cuda.Device(0)


def _device(result):
    if isinstance(result, _np.ndarray) and not isinstance(result, ndarray):
        return result.view(ndarray)
    if isinstance(result, tuple):
        return tuple(_device(r) for r in result)
    if isinstance(result, list):
        return [_device(r) for r in result]
    return result


class _Forward:
    """A NumPy function whose array results come back as device arrays."""

    def __init__(self, fn):
        self._fn = fn
        self.__name__ = getattr(fn, "__name__", "function")

    def __call__(self, *args, **kwargs):
        return _device(self._fn(*args, **kwargs))

    def __getattr__(self, name):  # ufunc methods: .at, .reduce, ...
        return getattr(self._fn, name)


def __getattr__(name):
    value = getattr(_np, name)
    if callable(value) and not isinstance(value, type):
        return _Forward(value)
    return value


def asarray(a, dtype=None, order=None):
    if isinstance(a, ndarray) and (dtype is None or a.dtype == _np.dtype(dtype)):
        return a
    return _np.array(a, dtype=dtype, copy=True).view(ndarray)  # a host-to-device copy


def array(a, dtype=None, copy=True, order="K", subok=False, ndmin=0):
    return _np.array(a, dtype=dtype, copy=True, ndmin=ndmin).view(ndarray)


def asnumpy(a, stream=None, order="C", out=None):
    return a.get(order=order, out=out) if isinstance(a, ndarray) else _np.asarray(a, order=order)


def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else _np


# ------------------------------------------------------------------------------------------------
# ElementwiseKernel, compiled for the CPU
# ------------------------------------------------------------------------------------------------
_CTYPES = {
    "float16": "_Float16", "float32": "float", "float64": "double", "int8": "signed char", "int16": "short",
    "int32": "int", "int64": "long long", "uint8": "unsigned char", "uint32": "unsigned int",
    "uint64": "unsigned long long", "bool": "bool",
}
_BUILD = tempfile.mkdtemp(prefix="emulated-cupy-")
_LIBRARIES: dict = {}


def _compiler():
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise RuntimeError("the emulated cupy.ElementwiseKernel needs a C++ compiler (c++, g++ or clang++; or set CXX)")


def _params(text):
    out = []
    for item in (p.strip() for p in text.split(",")):
        if item:
            words = item.split()
            raw = words[0] == "raw"
            out.append((raw, *(words[1:] if raw else words)))
    return out


class ElementwiseKernel:
    def __init__(self, in_params, out_params, operation, name="kernel", reduce_dims=True, preamble="", **kwargs):
        self.inputs, self.outputs = _params(in_params), _params(out_params)
        self.operation, self.name, self.preamble = operation, name, preamble

    def __call__(self, *args, size=None, **kwargs):
        n_in = len(self.inputs)
        if len(args) not in (n_in, n_in + len(self.outputs)):
            raise TypeError(f"{self.name}: wrong number of arguments ({len(args)})")
        ins, given = list(args[:n_in]), list(args[n_in:])
        types = {}
        for (raw, ctype, _), value in zip(self.inputs + self.outputs, ins + given):
            if ctype not in _CTYPES and ctype not in types and isinstance(value, _np.ndarray):
                types[ctype] = value.dtype
        for (raw, ctype, _), value in zip(self.inputs, ins):
            if ctype not in _CTYPES and ctype not in types:
                types[ctype] = _np.asarray(value).dtype

        def dtype(ctype):
            return _np.dtype(types[ctype] if ctype in types else ctype)

        shaped = [_np.shape(v) for (raw, _, _), v in zip(self.inputs, ins) if not raw]
        shaped += [_np.shape(v) for (raw, _, _), v in zip(self.outputs, given) if not raw]
        if shaped:
            shape = _np.broadcast_shapes(*shaped)
        elif size is not None:
            shape = (int(size),)
        else:
            raise ValueError(f"{self.name}: loop size is undecided (every argument is raw and no size= was given)")
        buffers, params, binds = [], [], []
        for (raw, ctype, var), value in zip(self.inputs, ins):
            arr = _np.asarray(value, dtype=dtype(ctype))
            arr = _np.ascontiguousarray(arr if raw else _np.broadcast_to(arr, shape))
            buffers.append(arr)
            c = _CTYPES[dtype(ctype).name]
            params.append(f"const {c}* {var if raw else '_in_' + var}")
            if not raw:
                binds.append(f"const {c} {var} = _in_{var}[i];")
        results, copies = [], []
        for k, (raw, ctype, var) in enumerate(self.outputs):
            d = dtype(ctype)
            if k < len(given):
                out = given[k]
                work = out if raw else _np.ascontiguousarray(_np.broadcast_to(out, shape), dtype=d).copy()
            else:
                out = _np.empty(shape, d).view(ndarray)
                work = out
            results.append(out)
            copies.append((out, work))
            buffers.append(work)
            c = _CTYPES[d.name]
            params.append(f"{c}* {var if raw else '_out_' + var}")
            if not raw:
                binds.append(f"{c}& {var} = _out_{var}[i];")
        typedefs = "".join(f"typedef {_CTYPES[_np.dtype(d).name]} {t};\n" for t, d in types.items())
        source = (
            "#include <cmath>\n#include <cstdint>\n#include <algorithm>\nusing namespace std;\n"
            "typedef long long ptrdiff_t_;\n" + typedefs + self.preamble + "\n"
            f'extern "C" void run({", ".join(params)}, long long _n) {{\n'
            f"  for (long long i = 0; i < _n; ++i) {{ {' '.join(binds)}\n{self.operation}\n  }}\n}}\n"
        )
        library = _library(source, self.name)
        library.run(*[ctypes.c_void_p(b.ctypes.data) for b in buffers], ctypes.c_longlong(int(_np.prod(shape, dtype=_np.int64))))
        for out, work in copies:
            if work is not out:
                out[...] = work
        return results[0] if len(results) == 1 else tuple(results)


def _library(source, name):
    key = hashlib.sha256(source.encode()).hexdigest()[:24]
    lib = _LIBRARIES.get(key)
    if lib is None:
        stem = os.path.join(_BUILD, f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{key}")
        with open(stem + ".cpp", "w") as f:
            f.write(source)
        proc = subprocess.run([_compiler(), "-O1", "-shared", "-fPIC", "-o", stem + ".so", stem + ".cpp"],
                              capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"kernel {name} does not compile:\n{proc.stderr[-3000:]}\n{source}")
        lib = _LIBRARIES[key] = ctypes.CDLL(stem + ".so")
    return lib


from . import cuda  # noqa: E402
