"""CuPy emulated on the CPU for gpunet's tests (see README.md beside this package).

The namespace is CuPy 14's (``_names.py``): a name real CuPy lacks raises AttributeError. Array
functions are NumPy's, run on device arrays (``_array.py``) through one path that holds CuPy's
rules (no NumPy operands, no implicit conversion to the host) and stream capture
(``_device.py``): while the current stream captures, work is recorded, not run, and what real
CuPy refuses during a capture is refused here too — a host sync, a copy from the host, and any
cuBLAS call through CuPy (``matmul``, ``dot``, ...: CuPy 14 raises ``NotImplementedError``).
"""

from __future__ import annotations

import sys
import types

import numpy as _np

from . import _device
from ._array import apply, fresh, ndarray, ufunc_call, unwrap, wrap
from ._kernel import ElementwiseKernel
from ._names import NAMES

__version__ = "14.2.0+emulated-on-numpy-" + _np.__version__

__all__ = ["ndarray", "ElementwiseKernel", "asarray", "array", "asnumpy", "get_array_module"]

# CuPy computes these with cuBLAS for floating-point operands (cupy/_core/_routines_linalg.pyx),
# and cuBLAS refuses to be called while the stream captures (cupy_backends/cuda/libs/cublas.pyx);
# a product of two vectors (vdot; dot and inner of 1-D operands) is a reduction kernel there
_CUBLAS = frozenset({"matmul", "dot", "inner", "tensordot", "einsum"})
_VECTOR_PRODUCTS = frozenset({"dot", "inner"})
_CUBLAS_REFUSAL = "calling cuBLAS API during stream capture is currently unsupported"
_DATA_SIZED = frozenset({"nonzero", "flatnonzero", "argwhere", "unique", "compress", "extract", "trim_zeros"})
_IN_PLACE = {"copyto": 0, "put": 0, "place": 0, "putmask": 0, "fill_diagonal": 0, "put_along_axis": 0}
_NO_KERNEL = frozenset({"empty", "empty_like"})
# ufunc methods CuPy has, by ufunc (the rest raise NotImplementedError in CuPy)
_REDUCE = frozenset({"add", "multiply"})
_AT = frozenset({"add", "subtract", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor"})


def _refuse_cublas(name, args):
    if _device.capturing() is None:
        return
    if name in _VECTOR_PRODUCTS and all(getattr(a, "ndim", None) == 1 for a in args[:2]):
        return
    for a in args:
        if isinstance(a, ndarray) and a.dtype.kind in "fc":
            raise NotImplementedError(_CUBLAS_REFUSAL)


class _Function:
    """A NumPy function run on device arrays."""

    def __init__(self, fn, name):
        self._fn = fn
        self.__name__ = name
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args, **kwargs):
        name, fn = self.__name__, self._fn
        if name in _CUBLAS:
            _refuse_cublas(name, [*args, *kwargs.values()])
        if name in _DATA_SIZED:
            _device.sync_point(f"cupy.{name}() (its result's size is read on the host)")
        a, kw = unwrap(args), unwrap(kwargs)
        if name in _IN_PLACE:
            target = args[_IN_PLACE[name]]
            if not isinstance(target, ndarray):
                raise TypeError(f"cupy.{name}: the array written must be a cupy.ndarray, got {type(target).__name__}")
            _device.launch(fn, *a, **kw)
            return None
        if name in _NO_KERNEL:
            with _np.errstate(all="ignore"):
                return wrap(fresh(fn(*a, **kw)))
        return apply(fn, a, kw, writes=kwargs.get("out"))

    def __repr__(self):
        return f"<emulated cupy function {self.__name__}>"


class ufunc:  # noqa: N801 - CuPy's name
    """A NumPy ufunc run on device arrays, with the methods CuPy has."""

    def __init__(self, fn):
        self._fn = fn
        self.__name__ = fn.__name__
        self.nin, self.nout, self.nargs = fn.nin, fn.nout, fn.nargs

    def __call__(self, *args, **kwargs):
        n = self._fn.nin
        if len(args) > n:  # outputs given by position
            outs = args[n:]
            kwargs = {**kwargs, "out": outs[0] if len(outs) == 1 else tuple(outs)}
            args = args[:n]
        return ufunc_call(self._fn, "__call__", args, kwargs)

    def _method(self, method, allowed):
        if self.__name__ not in allowed:
            raise NotImplementedError(f"`{self.__name__}.{method}` is not supported yet")
        return lambda *args, **kwargs: ufunc_call(self._fn, method, args, kwargs)

    reduce = property(lambda self: self._method("reduce", _REDUCE))
    accumulate = property(lambda self: self._method("accumulate", _REDUCE))
    reduceat = property(lambda self: self._method("reduceat", {"add"}))
    at = property(lambda self: self._method("at", _AT))
    outer = property(lambda self: lambda a, b, **kwargs: ufunc_call(self._fn, "outer", (a, b), kwargs))

    def __repr__(self):
        return f"<emulated cupy ufunc {self.__name__}>"


class _Namespace(types.ModuleType):
    """A CuPy submodule (``cupy.linalg``, ``cupy.lib.stride_tricks``) over NumPy's."""

    def __init__(self, name, source, names, children=()):
        super().__init__(name)
        self._source, self._names = source, frozenset(names)
        for child in children:
            setattr(self, child.__name__.rsplit(".", 1)[1], child)

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._names:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = _Function(getattr(self._source, name), f"{self.__name__.split('.', 1)[1]}.{name}")
        setattr(self, name, value)
        return value


linalg = _Namespace("cupy.linalg", _np.linalg, ["norm", "inv", "solve", "det", "slogdet", "svd", "qr", "cholesky", "eigh",
                                                "eigvalsh", "lstsq", "pinv", "matrix_power", "matrix_rank", "tensorinv",
                                                "tensorsolve", "matrix_transpose"])
fft = _Namespace("cupy.fft", _np.fft, ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
                                       "rfftn", "irfftn", "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"])
lib = _Namespace("cupy.lib", _np.lib, [], [_Namespace("cupy.lib.stride_tricks", _np.lib.stride_tricks,
                                                      ["as_strided", "sliding_window_view"])])
sys.modules.update({"cupy.linalg": linalg, "cupy.fft": fft, "cupy.lib": lib, "cupy.lib.stride_tricks": lib.stride_tricks})


def __getattr__(name):
    if name not in NAMES:
        raise AttributeError(f"module 'cupy' has no attribute {name!r}")
    value = getattr(_np, name, None)
    if value is None or isinstance(value, types.ModuleType):
        raise AttributeError(f"cupy.{name} exists in CuPy but is not emulated (tests/emulated_cupy)")
    if isinstance(value, _np.ufunc) and name not in _CUBLAS:
        value = ufunc(value)
    elif callable(value) and not isinstance(value, type):
        value = _Function(value, name)
    globals()[name] = value
    return value


# ------------------------------------------------------------------------------------------------
# host <-> device
# ------------------------------------------------------------------------------------------------
def _from_host(obj, dtype, order, ndmin=0):
    _device.host_copy_point("a copy from the host")
    if isinstance(obj, (list, tuple)) and any(isinstance(v, ndarray) for v in obj):
        obj = [v.get() if isinstance(v, ndarray) else v for v in obj]
    host = _np.array(obj, dtype=dtype, order=order if order in ("C", "F", "A", "K") else "K", ndmin=ndmin, copy=True)
    if host.dtype == object:
        raise ValueError(f"Unsupported dtype {host.dtype}")
    return ndarray._of(host)


def asarray(a, dtype=None, order=None, *, blocking=False):
    """``a`` on the device: itself when it is already there (with that dtype); else a copy."""
    if isinstance(a, ndarray):
        if dtype is None or _np.dtype(dtype) == a.dtype:
            return a
        return a.astype(dtype)
    return _from_host(a, dtype, order)


asanyarray = asarray


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if isinstance(obj, ndarray):
        if not copy and (dtype is None or _np.dtype(dtype) == obj.dtype) and obj.ndim >= ndmin:
            return obj
        return apply(_np.array, (obj._a,), {"dtype": dtype, "order": order, "copy": True, "ndmin": ndmin})
    return _from_host(obj, dtype, order, ndmin)


def ascontiguousarray(a, dtype=None):
    if isinstance(a, ndarray):
        return apply(_np.ascontiguousarray, (a._a,), {"dtype": dtype})
    return _from_host(a, dtype, "C")


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    host = _np.asarray(a, order=order)
    if out is not None:
        out[...] = host
        return out
    return host


def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else _np


def get_default_memory_pool():
    return cuda.get_default_memory_pool()


def get_default_pinned_memory_pool():
    return cuda.get_default_pinned_memory_pool()


def fuse(*args, **kwargs):
    raise NotImplementedError("cupy.fuse is not emulated")


from . import cuda  # noqa: E402
