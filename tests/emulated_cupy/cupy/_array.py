"""The emulated ``cupy.ndarray``: a NumPy array held as device memory, with CuPy's rules.

* It is not a NumPy array: implicit conversion (``numpy.asarray(a)``) raises ``TypeError`` as
  CuPy does; ``.get()`` and ``cupy.asnumpy`` copy to the host.
* Operands must be device arrays or scalars (Python's, NumPy's): a NumPy array mixed into an
  operation raises ``TypeError("Unsupported type <class 'numpy.ndarray'>")`` as in CuPy.
  Indices may come from the host (CuPy copies them over), and so may the values of an
  assignment through an index array.
* Reductions and integer indexing give 0-d device arrays, never host scalars.
* Every operation runs through :func:`apply`: at once, or recorded while the current stream
  captures (see ``_device.py``). A recorded operation writes into an array allocated at capture
  time, filled until the graph runs with NaN (floats) or zeros, as never-written device memory
  holds no meaningful value.
"""

from __future__ import annotations

import numpy as _np

from . import _device

IMPLICIT = "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array explicitly."

_SCALARS = (bool, int, float, complex, _np.generic)


def _unsupported(value):
    return TypeError(f"Unsupported type {type(value)}")


def fresh(like: _np.ndarray) -> _np.ndarray:
    """A new "device" buffer shaped and typed like ``like``, holding nothing meaningful."""
    buf = _np.empty(like.shape, like.dtype)
    if buf.dtype.kind in "fc" or buf.dtype.kind == "V":  # V: bfloat16 (ml_dtypes)
        buf.fill(float("nan"))
    else:
        buf.fill(0)
    _device.allocated(buf)
    return buf


root = _device.root


# ------------------------------------------------------------------------------------------------
# operands
# ------------------------------------------------------------------------------------------------
def operand(value):
    """An elementwise operand: a device array's buffer, or a scalar; anything else is refused."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, _SCALARS) or value is None:
        return value
    raise _unsupported(value)


def unwrap(value):
    """Arguments of a general function: device arrays to buffers, through lists, tuples and dicts;
    a NumPy array anywhere is refused."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, _np.ndarray):
        raise _unsupported(value)
    if isinstance(value, (list, tuple)):
        return type(value)(unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


def index(key):
    """An index: device arrays to buffers; host arrays and lists are copied over (as CuPy does)."""
    parts = key if isinstance(key, tuple) else (key,)
    out = []
    for part in parts:
        if isinstance(part, ndarray):
            if part._a.dtype == bool:
                _device.sync_point("indexing with a boolean mask (its result's size is read on the host)")
            out.append(part._a)
        elif isinstance(part, (_np.ndarray, list)):
            _device.host_copy_point("an index array from the host")
            arr = _np.asarray(part)
            if arr.dtype == bool and arr.ndim:
                _device.sync_point("indexing with a boolean mask")
            out.append(arr)
        else:
            out.append(part)
    return tuple(out) if isinstance(key, tuple) else out[0]


def _advanced(key) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return any(isinstance(p, (_np.ndarray, ndarray, list)) for p in parts)


def wrap(result):
    """Results as CuPy gives them: arrays as device arrays, NumPy scalars as 0-d device arrays."""
    if isinstance(result, _np.ndarray):
        return ndarray._of(result if type(result) is _np.ndarray else result.view(_np.ndarray))
    if isinstance(result, _np.generic):
        return ndarray._of(_np.asarray(result))
    if isinstance(result, tuple):
        return tuple(wrap(r) for r in result)
    if isinstance(result, list):
        return [wrap(r) for r in result]
    return result


def _allocations(value, found):
    if isinstance(value, _np.ndarray):
        found.add(id(root(value)))
    elif isinstance(value, (list, tuple)):
        for v in value:
            _allocations(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _allocations(v, found)
    return found


def _into(fn, args, kwargs, buffers):
    """Run ``fn`` and copy its result(s) into ``buffers`` (None where a result is a view)."""
    values = fn(*args, **kwargs)
    for buf, value in zip(buffers, values if isinstance(values, tuple) else (values,)):
        if buf is not None:
            _np.copyto(buf, value, casting="unsafe")


def apply(fn, args=(), kwargs=None, writes=None):
    """``fn(*args, **kwargs)`` (NumPy arrays in ``args``/``kwargs``: the device arrays' buffers)
    run as device work.

    ``writes``: the device array(s) ``fn`` writes in place (returned as they are). Else ``fn``
    returns its result: a view of an input needs no kernel; anything else is a new array,
    computed now or, while the stream captures, by the graph into a buffer allocated now."""
    kwargs = kwargs or {}
    if writes is not None:
        _device.launch(fn, *args, **kwargs)
        return writes
    capture = _device.capturing()
    with _np.errstate(all="ignore"):
        result = fn(*args, **kwargs)  # while capturing: only for the result's shape, dtype and aliasing
    if capture is None:
        return wrap(result)
    inputs = _allocations((args, kwargs), set())
    results = result if isinstance(result, tuple) else (result,)
    shown, buffers = [], []
    for r in results:
        if isinstance(r, _np.generic):
            r = _np.asarray(r)
        if not isinstance(r, _np.ndarray) or id(root(r)) in inputs:
            shown.append(r)  # a view (no kernel), or no array at all
            buffers.append(None)
        else:
            buf = fresh(r)
            shown.append(buf)
            buffers.append(buf)
    if any(b is not None for b in buffers):
        _device.launch(_into, fn, args, kwargs, buffers)
    out = tuple(wrap(r) for r in shown)
    return out if isinstance(result, tuple) else out[0]


# ------------------------------------------------------------------------------------------------
# ndarray
# ------------------------------------------------------------------------------------------------
class MemoryPointer:
    """``a.data``: ``ptr`` is the address of the array's first element, as in CuPy."""

    def __init__(self, buf):
        self.ptr = buf.__array_interface__["data"][0]
        self.device_id = 0

    def __int__(self):
        return self.ptr


# CuPy's ndarray methods, by what they do (anything else NumPy has, CuPy lacks)
_PURE = frozenset("""all any argmax argmin argpartition argsort astype byteswap choose clip conj conjugate copy cumprod
cumsum diagonal flatten max mean min prod ptp ravel repeat reshape round searchsorted squeeze std sum swapaxes take trace
transpose var view""".split())
_DATA_SIZED = frozenset({"nonzero", "compress"})  # the result's size depends on the values: read on the host
_IN_PLACE = frozenset({"fill", "partition", "put", "sort"})
_TO_HOST = frozenset({"item", "tolist", "tobytes", "tofile", "dump", "dumps"})


class ndarray:  # noqa: N801 - CuPy's name
    """A device array (see the module docstring)."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100.0
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise NotImplementedError("the emulated ndarray() makes new arrays only (memptr, strides)")
        self._a = fresh(_np.empty(shape, dtype, order=order))

    @classmethod
    def _of(cls, buf):
        if buf.base is None:
            _device.allocated(buf)
        self = object.__new__(cls)
        self._a = buf
        return self

    # -- what it is ---------------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    data = property(lambda self: MemoryPointer(self._a))
    T = property(lambda self: ndarray._of(self._a.T))
    mT = property(lambda self: ndarray._of(_np.swapaxes(self._a, -1, -2)))
    real = property(lambda self: ndarray._of(self._a.real))

    @property
    def imag(self):
        return apply(_np.imag, (self._a,))

    @property
    def base(self):
        return None if self._a.base is None else ndarray._of(root(self._a))

    @property
    def device(self):
        from . import cuda  # noqa: PLC0415

        return cuda.Device(0)

    @property
    def __cuda_array_interface__(self):
        a = self._a
        return {"shape": a.shape, "typestr": a.dtype.str, "data": (MemoryPointer(a).ptr, False), "version": 3,
                "strides": None if a.flags.c_contiguous else a.strides}

    def __len__(self):
        if not self._a.ndim:
            raise TypeError("len() of unsized object")
        return self._a.shape[0]

    def __iter__(self):
        if not self._a.ndim:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._a.shape[0]))

    # -- to the host ------------------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(IMPLICIT)

    def get(self, stream=None, order="C", out=None, blocking=True):
        _device.sync_point("ndarray.get()")
        host = _np.array(self._a, order=order, copy=True)
        if out is not None:
            out[...] = host
            return out
        return host

    def set(self, arr, stream=None):
        if not isinstance(arr, _np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr).__name__}")
        if arr.shape != self._a.shape or arr.dtype != self._a.dtype:
            raise ValueError(f"shape or dtype mismatch: {arr.shape}, {arr.dtype} into {self._a.shape}, {self._a.dtype}")
        _device.host_copy_point("ndarray.set()")
        self._a[...] = arr

    def _scalar(self, convert, what):
        _device.sync_point(what)
        if self._a.size != 1:
            raise TypeError(f"only size-1 arrays can be converted to Python scalars (shape {self._a.shape})")
        return convert(self._a.reshape(()).item())

    def __bool__(self):
        if self._a.size != 1:
            raise ValueError("The truth value of an array with more than one element is ambiguous.")
        return self._scalar(bool, "bool(array)")

    def __float__(self):
        return self._scalar(float, "float(array)")

    def __int__(self):
        return self._scalar(int, "int(array)")

    def __complex__(self):
        return self._scalar(complex, "complex(array)")

    def __index__(self):
        if self._a.dtype.kind not in "iub" or self._a.ndim:
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return self._scalar(int, "operator.index(array)")

    def __repr__(self):
        _device.sync_point("repr(array)")
        return repr(self._a)

    def __str__(self):
        _device.sync_point("str(array)")
        return str(self._a)

    def __format__(self, spec):
        _device.sync_point("format(array)")
        return format(self._a.reshape(()).item() if self._a.ndim == 0 else self._a, spec)

    def __reduce__(self):
        return (_from_host, (self.get(),))

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    # -- methods ------------------------------------------------------------------------------------
    def __getattr__(self, name):
        if name in _PURE:
            method = getattr(_np.ndarray, name)  # unbound: a recorded call holds no array but its arguments

            def pure(*args, **kwargs):
                return apply(method, (self._a, *unwrap(args)), unwrap(kwargs), writes=kwargs.get("out"))

            return pure
        if name in _IN_PLACE:
            method = getattr(_np.ndarray, name)

            def in_place(*args, **kwargs):
                _device.launch(method, self._a, *unwrap(args), **unwrap(kwargs))

            return in_place
        if name in _DATA_SIZED:
            method = getattr(self._a, name)

            def sized(*args, **kwargs):
                _device.sync_point(f"ndarray.{name}() (its result's size is read on the host)")
                a, kw = unwrap(args), unwrap(kwargs)
                return wrap(method(*a, **kw))

            return sized
        if name in _TO_HOST:
            method = getattr(self._a, name)

            def to_host(*args, **kwargs):
                _device.sync_point(f"ndarray.{name}()")
                return method(*args, **kwargs)

            return to_host
        raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")

    def dot(self, b, out=None):
        from . import dot  # noqa: PLC0415

        return dot(self, b, out=out)

    # -- indexing -----------------------------------------------------------------------------------
    def __getitem__(self, key):
        key = index(key)
        if isinstance(key, tuple) and all(isinstance(k, (int, _np.integer)) for k in key) and len(key) == self._a.ndim:
            key = key + (Ellipsis,)  # a 0-d view, as CuPy gives, not a host scalar
        elif isinstance(key, (int, _np.integer)) and self._a.ndim == 1:
            key = (key, Ellipsis)
        return apply(_np.ndarray.__getitem__, (self._a, key))

    def __setitem__(self, key, value):
        advanced = _advanced(key)
        key = index(key)
        if isinstance(value, ndarray):
            value = value._a
        elif isinstance(value, (_np.ndarray, list, tuple)):
            if not advanced:  # CuPy refuses host values for a plain assignment (a[...] = numpy_array)
                raise _unsupported(value)
            _device.host_copy_point("assigned values from the host")
            value = _np.array(value)
        elif not isinstance(value, _SCALARS):
            raise _unsupported(value)
        _device.launch(_np.ndarray.__setitem__, self._a, key, value)

    # -- arithmetic: see _operators below -----------------------------------------------------------


def _from_host(host):
    return ndarray._of(_np.array(host, copy=True))


def ufunc_call(ufunc, method, inputs, kwargs):
    """``ufunc`` (or its ``method``: reduce, accumulate, outer, at, reduceat) on device arrays."""
    if method == "at":
        target, indices, *rest = inputs
        if not isinstance(target, ndarray):
            raise _unsupported(target)
        _device.launch(ufunc.at, target._a, index(indices), *[operand(v) for v in rest])
        return None
    args = [operand(v) for v in inputs]
    kw = dict(kwargs)
    out = kw.get("out")
    if out is not None:
        outs = out if isinstance(out, tuple) else (out,)
        if not all(isinstance(o, ndarray) for o in outs):
            raise TypeError(f"out must be a cupy.ndarray, got {[type(o).__name__ for o in outs]}")
        kw["out"] = tuple(o._a for o in outs) if isinstance(out, tuple) else out._a
        if isinstance(out, tuple) and len(out) == 1:
            out = out[0]
    where = kw.get("where")
    if where is not None and not isinstance(where, bool):
        kw["where"] = operand(where)
    fn = ufunc if method == "__call__" else getattr(ufunc, method)
    return apply(fn, args, kw, writes=out)


def _binary(name, reflected=False, in_place=False):
    ufunc = getattr(_np, name)

    def method(self, other):
        if not isinstance(other, (ndarray, *_SCALARS)):
            if in_place:
                raise _unsupported(other)
            return NotImplemented
        if in_place:
            ufunc_call(ufunc, "__call__", (self, other), {"out": self})
            return self
        return ufunc_call(ufunc, "__call__", (other, self) if reflected else (self, other), {})

    return method


def _unary(name):
    ufunc = getattr(_np, name)
    return lambda self: ufunc_call(ufunc, "__call__", (self,), {})


_OPERATORS = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide", "floordiv": "floor_divide",
              "mod": "remainder", "pow": "power", "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
              "lshift": "left_shift", "rshift": "right_shift"}
for _short, _name in _OPERATORS.items():
    setattr(ndarray, f"__{_short}__", _binary(_name))
    setattr(ndarray, f"__r{_short}__", _binary(_name, reflected=True))
    setattr(ndarray, f"__i{_short}__", _binary(_name, in_place=True))
for _short, _name in {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater",
                      "ge": "greater_equal"}.items():
    setattr(ndarray, f"__{_short}__", _binary(_name))
for _short, _name in {"neg": "negative", "pos": "positive", "abs": "absolute", "invert": "invert"}.items():
    setattr(ndarray, f"__{_short}__", _unary(_name))


def _matmul(self, other):
    from . import matmul  # noqa: PLC0415

    return matmul(self, other)


def _rmatmul(self, other):
    from . import matmul  # noqa: PLC0415

    return matmul(other, self)


def _divmod(self, other):
    return ufunc_call(_np.divmod, "__call__", (self, other), {})


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    return ufunc_call(ufunc, method, inputs, kwargs)


def _array_function(self, func, types, args, kwargs):
    import cupy  # noqa: PLC0415

    namespace = cupy
    for part in func.__module__.split(".")[1:]:
        namespace = getattr(namespace, part, None)
        if namespace is None:
            return NotImplemented
    target = getattr(namespace, func.__name__, None)
    if target is None:
        return NotImplemented
    return target(*args, **kwargs)


ndarray.__matmul__ = _matmul
ndarray.__rmatmul__ = _rmatmul
ndarray.__divmod__ = _divmod
ndarray.__array_ufunc__ = _array_ufunc
ndarray.__array_function__ = _array_function
ndarray.__module__ = "cupy"
