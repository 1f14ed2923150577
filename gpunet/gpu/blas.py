"""Matrix products on the GPU through cuBLAS, called so that a CUDA graph can capture them.

Why: CuPy's cuBLAS wrappers set the stream of CuPy's handle before every call, and that call
refuses while the stream captures (``NotImplementedError: calling cuBLAS API during stream
capture is currently unsupported``, CuPy 14). Every train step takes matrix products, so
gpunet calls cuBLAS itself, through ``ctypes``, with a handle of its own per device:

* pointer mode host (alpha and beta are read when the call is made, and a captured graph keeps
  their values), and cuBLAS's default math mode. Like CuPy by default, float32 products use
  ``CUBLAS_COMPUTE_32F`` (no TF32); the environment variable ``CUPY_TF32=1``, which turns TF32
  on in CuPy, turns it on here too. float16 and bfloat16 products accumulate in float32,
  float64 products in float64;
* a workspace of :data:`WORKSPACE_BYTES` (32 MiB, NVIDIA's recommendation for Hopper, 8 times
  the one for earlier GPUs) for each stream products are issued on, allocated from CuPy outside
  any memory pool the first time and kept for the life of the process, and handed to
  ``cublasSetWorkspace_v2``: cuBLAS allocates nothing while a stream captures, and products on
  two streams, which may run at the same time, never share scratch memory (gpunet itself issues
  products on two streams at most: CuPy's current one and its graphs' capture stream);
* the handle's stream is set to CuPy's current stream whenever it differs from the last one
  set (``cublasSetStream_v2``, a host-side call; cuBLAS then forgets the user workspace, which
  is set again at once). :func:`prepare` does it ahead, for the stream about to capture.

Row-major arrays and column-major cuBLAS: NumPy and CuPy lay a matrix ``X`` (r x c) out row by
row, ``X[i, j]`` at element ``i * s + j`` (``s``, the row stride, at least c); cuBLAS reads a
matrix column by column, ``M[i, j]`` at ``i + j * ld``. The same memory is therefore, to cuBLAS,
the c x r matrix ``X^T`` with ``ld = s``. The product ``C = A B`` is ``C^T = B^T A^T``: gpunet
asks cuBLAS for (memory of B, seen as ``B^T``, n x k) times (memory of A, seen as ``A^T``,
k x m) into the memory of C (seen as ``C^T``, n x m, ``ldc`` = C's row stride). m and n trade
places, and no data moves. A transposed view (a column-major ``X``, strides ``(1, s)`` in
elements) is, to cuBLAS, ``X`` itself with ``ld = s``; its operation ``T`` gives the ``X^T``
wanted. An operand whose last two axes are neither is made contiguous first
(``cupy.ascontiguousarray``: a kernel, which a graph captures). Batches go to
``cublasGemmStridedBatchedEx`` when every operand's batch axes come down to one stride (0 for
a broadcast operand); a batch of ``a`` against one matrix ``b`` is one tall product.

Finding the library, in order: the path in the environment variable ``GPUNET_CUBLAS``; the
libcublas already in the process (CuPy's cuBLAS module loads it; gpunet reads its path from
``/proc/self/maps``); ``cuda.pathfinder.load_nvidia_dynamic_lib("cublas")``; the sonames
``libcublas.so.13``, ``libcublas.so.12``, ``libcublas.so``. On first use a few small products
are checked against ``cupy.matmul``. Where no library loads or the check disagrees, products go
through ``cupy.matmul`` (with a one-time warning) and :func:`capture_safe` answers False, so the
graph code does not capture.
"""

from __future__ import annotations

import ctypes
import math
import os
import re
import threading
import warnings

import numpy

__all__ = ["matmul", "prepare", "capture_safe", "capturing", "unavailable_reason", "load_library", "CublasError",
           "WORKSPACE_BYTES"]

WORKSPACE_BYTES = 32 << 20
_ALIGNMENT = 256  # cuBLAS wants its workspace aligned to 256 bytes
_INT_MAX = (1 << 31) - 1

# cuBLAS and CUDA enumerations (cublas_api.h, library_types.h)
_OP_N, _OP_T = 0, 1
_POINTER_MODE_HOST = 0
_DEFAULT_MATH = 0
_GEMM_DEFAULT = -1
_COMPUTE_32F, _COMPUTE_32F_FAST_TF32, _COMPUTE_64F = 68, 77, 70
_CUDA_TYPES = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 14}  # CUDA_R_32F, _64F, _16F, _16BF
_STATUS_NAMES = {
    0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
    7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
    13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
    16: "CUBLAS_STATUS_LICENSE_ERROR",
}
_SONAMES = ("libcublas.so.13", "libcublas.so.12", "libcublas.so")
_LIBRARY_FILE = re.compile(r"libcublas\.so(\.\d+)*")

_p, _i, _ll = ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong
_SIGNATURES = {
    "cublasCreate_v2": [ctypes.POINTER(ctypes.c_void_p)],
    "cublasDestroy_v2": [_p],
    "cublasSetStream_v2": [_p, _p],
    "cublasSetWorkspace_v2": [_p, _p, ctypes.c_size_t],
    "cublasSetPointerMode_v2": [_p, _i],
    "cublasSetMathMode": [_p, _i],
    "cublasGemmEx": [_p, _i, _i, _i, _i, _i, _p, _p, _i, _i, _p, _i, _i, _p, _p, _i, _i, _i, _i],
    "cublasGemmStridedBatchedEx": [_p, _i, _i, _i, _i, _i, _p, _p, _i, _i, _ll, _p, _i, _i, _ll, _p, _p, _i, _i, _ll,
                                   _i, _i, _i],
}

# alpha = 1 and beta = 0 in the scalar type of each compute type (pointer mode host)
_SCALARS = {bits: (ctype(1), ctype(0)) for bits, ctype in ((32, ctypes.c_float), (64, ctypes.c_double))}
_SCALAR_ADDRESSES = {bits: tuple(ctypes.addressof(s) for s in pair) for bits, pair in _SCALARS.items()}

_lock = threading.RLock()
_cupy = None
_library = None  # the bound library once it loaded
_state = None  # None: not tried yet; True: cuBLAS in use; False: cupy.matmul (see _reason)
_reason = None
_compute_32f = _COMPUTE_32F
_handles: dict = {}  # device id -> _Handle


class CublasError(RuntimeError):
    """A cuBLAS call returned a status other than success."""


def _check(function: str, status: int) -> None:
    if status:
        raise CublasError(f"{function} failed with {_STATUS_NAMES.get(status, f'status {status}')}")


# ----------------------------------------------------------------------------------------------
# Finding and loading the library
# ----------------------------------------------------------------------------------------------
def _mapped_library():
    """The path of a libcublas.so* file mapped into this process, or None."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and _LIBRARY_FILE.fullmatch(os.path.basename(parts[5].rstrip())):
                    return parts[5].rstrip()
    except OSError:
        pass
    return None


def load_library():
    """Find and load libcublas (the order is in the module's docstring); returns
    ``(ctypes.CDLL, path)``, or raises OSError saying what was tried."""
    explicit = os.environ.get("GPUNET_CUBLAS", "").strip()
    if explicit:
        try:
            return ctypes.CDLL(explicit), explicit
        except OSError as exc:
            raise OSError(f"GPUNET_CUBLAS={explicit} does not load ({exc})") from None
    tried = []
    try:
        import cupy_backends.cuda.libs.cublas  # noqa: F401, PLC0415 - CuPy's module loads its libcublas
    except Exception as exc:  # noqa: BLE001 - any failure only means looking elsewhere
        tried.append(f"CuPy's cuBLAS module does not import ({exc})")
    path = _mapped_library()
    if path is not None:
        try:
            return ctypes.CDLL(path), path
        except OSError as exc:
            tried.append(f"{path} does not load ({exc})")
    else:
        tried.append("no libcublas.so* is mapped into the process")
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib  # noqa: PLC0415 - optional, CuPy 14 brings it
    except ImportError:
        tried.append("cuda-pathfinder is not installed")
    else:
        try:
            path = load_nvidia_dynamic_lib("cublas").abs_path
            if path:
                return ctypes.CDLL(path), path
        except Exception as exc:  # noqa: BLE001 - its own error types
            tried.append(f"cuda.pathfinder finds none ({exc})")
    for soname in _SONAMES:
        try:
            return ctypes.CDLL(soname), soname
        except OSError:
            tried.append(f"{soname} does not load")
    raise OSError("no libcublas loads: " + "; ".join(tried))


class _Library:
    """The loaded libcublas with the signatures of the functions gpunet calls."""

    def __init__(self, library, path):
        for name, argtypes in _SIGNATURES.items():
            try:
                function = getattr(library, name)
            except AttributeError:
                raise OSError(f"{path} has no function {name}") from None
            function.argtypes = argtypes
            function.restype = ctypes.c_int
            setattr(self, name, function)


class _Handle:
    """gpunet's cuBLAS handle on one device: pointer mode host, the default math mode, and a
    workspace of its own for each stream it issues products on (products on two streams may run
    at the same time: they must not share scratch memory), set again after every change of
    stream."""

    def __init__(self, library, cupy):
        pointer = ctypes.c_void_p()
        _check("cublasCreate_v2", library.cublasCreate_v2(ctypes.byref(pointer)))
        self.library, self.pointer, self.stream, self.cupy = library, pointer.value, None, cupy
        self.workspaces: dict = {}  # stream pointer -> (device buffer, its first aligned address)
        _check("cublasSetPointerMode_v2", library.cublasSetPointerMode_v2(self.pointer, _POINTER_MODE_HOST))
        _check("cublasSetMathMode", library.cublasSetMathMode(self.pointer, _DEFAULT_MATH))

    def _workspace(self, stream: int) -> int:
        workspace = self.workspaces.get(stream)
        if workspace is None:
            with self.cupy.cuda.using_allocator():  # plain device memory, outside any memory pool (a graph's included)
                buffer = self.cupy.empty(WORKSPACE_BYTES + _ALIGNMENT, numpy.uint8)
            workspace = self.workspaces[stream] = (buffer, -(-buffer.data.ptr // _ALIGNMENT) * _ALIGNMENT)
        return workspace[1]

    def use(self, stream: int) -> None:
        """Issue the next products on ``stream`` (a pointer), with that stream's workspace; host-side
        calls, made only on a change."""
        if stream != self.stream:
            self.stream = None
            workspace = self._workspace(stream)
            _check("cublasSetStream_v2", self.library.cublasSetStream_v2(self.pointer, stream))
            _check("cublasSetWorkspace_v2", self.library.cublasSetWorkspace_v2(self.pointer, workspace, WORKSPACE_BYTES))
            self.stream = stream

    def destroy(self) -> None:
        if self.pointer:
            self.library.cublasDestroy_v2(self.pointer)
            self.pointer = None
        self.workspaces.clear()


def _import_cupy():
    global _cupy
    if _cupy is None:
        import cupy  # noqa: PLC0415 - GPU only

        _cupy = cupy
    return _cupy


def _handle():
    """gpunet's handle on the current device (created on first use)."""
    device = _cupy.cuda.Device().id
    handle = _handles.get(device)
    if handle is None:
        handle = _handles[device] = _Handle(_library, _cupy)
    return handle


def capturing(cupy=None) -> bool:
    """Whether CuPy's current stream is capturing a CUDA graph (``cupy``: the module, when the
    caller has it; else the one this module imported, or False where it imported none)."""
    cupy = cupy if cupy is not None else _cupy
    if cupy is None:
        return False
    try:
        return bool(cupy.cuda.get_current_stream().is_capturing())
    except Exception:  # noqa: BLE001 - CUDA refuses the question while another stream captures
        return True


def _start() -> bool:
    """Load, bind and check the library once; on failure, cupy.matmul from now on, said once."""
    global _state, _reason, _library, _compute_32f
    with _lock:
        if _state is not None:
            return _state
        try:
            library, path = load_library()
            bound = _Library(library, path)
            _import_cupy()
        except (OSError, ImportError) as exc:
            return _fall_back(str(exc))
        if capturing():
            raise RuntimeError("gpunet.gpu.blas: the first matrix product ran inside a stream capture; "
                               "call gpunet.gpu.blas.prepare() before the capture begins")
        _library = bound
        _compute_32f = _COMPUTE_32F_FAST_TF32 if _tf32_asked() else _COMPUTE_32F
        try:
            difference = _self_check()
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, these products cannot be trusted
            return _fall_back(f"a first product through {path} failed ({type(exc).__name__}: {exc})")
        if difference is not None:
            return _fall_back(f"cuBLAS from {path} disagrees with cupy.matmul on a small product ({difference})")
        _state = True
        return True


def _drop_handles() -> None:
    for handle in _handles.values():
        handle.destroy()
    _handles.clear()


def _fall_back(reason: str) -> bool:
    global _state, _reason, _library
    _drop_handles()
    _state, _reason, _library = False, reason, None
    warnings.warn(f"gpunet: matrix products on the GPU go through cupy.matmul, which a CUDA graph cannot capture: "
                  f"{reason}", stacklevel=4)
    return False


def _tf32_asked() -> bool:
    """CuPy's own switch for TF32 in float32 products: ``CUPY_TF32`` > 0."""
    try:
        return int(os.environ.get("CUPY_TF32", "0") or "0") > 0
    except ValueError:
        return False


def _self_check():
    """Products of small whole numbers (exact in every precision, TF32 included) by each path
    of :func:`_product` against ``cupy.matmul``: how they differ (a phrase), or None when they agree."""
    cupy = _cupy
    rng = numpy.random.default_rng(0)
    for dtype in (numpy.float32, numpy.float64):
        a = cupy.asarray(rng.integers(-3, 4, (2, 3, 5)).astype(dtype))
        b = cupy.asarray(rng.integers(-3, 4, (2, 5, 4)).astype(dtype))
        pairs = [(a[0], b[0]), (cupy.asfortranarray(a[0]), cupy.asfortranarray(b[0])), (a, b), (a, b[1]), (a[1], b),
                 (a[0, 1], b[0]), (a[0], b[1, :, 2])]
        for x, y in pairs:
            got = cupy.asnumpy(_product(x, y, None, numpy.dtype(dtype)))
            expected = cupy.asnumpy(cupy.matmul(x, y))
            if got.shape != expected.shape:
                return f"{x.shape} @ {y.shape} gave shape {got.shape} instead of {expected.shape}"
            difference = numpy.abs(got - expected)
            if not numpy.all(difference <= 1e-6):  # NaN fails too
                return f"{x.shape} @ {y.shape} in {numpy.dtype(dtype).name} differs by up to {numpy.max(difference)}"
    return None


def capture_safe() -> bool:
    """Whether gpunet's products on the GPU go through its own cuBLAS handle (a CUDA graph can
    capture them); False where they fall back to ``cupy.matmul``. Loads and checks the library
    on the first call, which must come before any capture begins."""
    return _state if _state is not None else _start()


def unavailable_reason():
    """Why :func:`capture_safe` is False (a sentence), or None when it is True."""
    capture_safe()
    return _reason


def prepare(stream=None) -> bool:
    """Get ready for products issued on ``stream`` (a ``cupy.cuda.Stream`` or its pointer; CuPy's
    current stream when None) and return :func:`capture_safe`.

    Call it before ``stream.begin_capture()``: it does, on the host and ahead of time, what a
    capture must not see: loading and checking the library, creating the current device's
    handle and its workspace (both allocate), and setting the handle's stream, so that the
    products inside the capture only launch kernels.
    """
    if not capture_safe():
        return False
    pointer = _cupy.cuda.get_current_stream().ptr if stream is None else int(getattr(stream, "ptr", stream))
    with _lock:
        _handle().use(pointer)
    return True


# ----------------------------------------------------------------------------------------------
# The product
# ----------------------------------------------------------------------------------------------
def matmul(a, b, out=None):
    """``a @ b`` with ``numpy.matmul``'s semantics, for CuPy arrays, into ``out`` when given.

    1-D operands are promoted to a row (``a``) or a column (``b``) and that axis is dropped from
    the result; leading (batch) axes broadcast. float32, float64, float16 and bfloat16 go to
    cuBLAS (operands of two dtypes are cast to their common one first); other dtypes, and every
    dtype where cuBLAS is unavailable, go to ``cupy.matmul``. ``out`` must have the result's
    shape; it is written in place, by cuBLAS directly when its last two axes are row-major and
    it shares no memory with ``a`` or ``b``, else through a temporary.
    """
    cupy = _import_cupy()
    if not isinstance(a, cupy.ndarray) or not isinstance(b, cupy.ndarray):
        raise TypeError(f"matmul: a and b must be CuPy arrays, got {type(a).__name__} and {type(b).__name__}")
    if out is not None and not isinstance(out, cupy.ndarray):
        raise TypeError(f"matmul: out must be a CuPy array or None, got {type(out).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands need at least one dimension, got shapes {a.shape} and {b.shape}")
    dtype = numpy.result_type(a.dtype, b.dtype)
    if dtype.name in _CUDA_TYPES and (_state or (_state is None and _start())):
        return _product(a, b, out, dtype)
    return cupy.matmul(a, b) if out is None else cupy.matmul(a, b, out=out)


def _product(a, b, out, dtype):
    cupy = _cupy
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    m, k = a2.shape[-2:]
    if b2.shape[-2] != k:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match (inner dimensions {k} and {b2.shape[-2]})")
    n = b2.shape[-1]
    try:
        batch = numpy.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: the batch dimensions of shapes {a.shape} and {b.shape} do not broadcast") from None
    shape = batch + ((m,) if a.ndim > 1 else ()) + ((n,) if b.ndim > 1 else ())
    if out is not None and out.shape != shape:
        raise ValueError(f"matmul: out has shape {out.shape}, the product of {a.shape} and {b.shape} has {shape}")
    if out is not None and not numpy.can_cast(dtype, out.dtype, "same_kind"):
        raise TypeError(f"matmul: the {dtype} product cannot be written into an out of dtype {out.dtype}")
    count = math.prod(batch)
    if count * m * n == 0 or k == 0:
        result = out if out is not None else cupy.empty(shape, dtype)
        result.fill(0)
        return result
    if max(m, n, k, count) > _INT_MAX:  # beyond cuBLAS's 32-bit sizes
        return cupy.matmul(a, b) if out is None else cupy.matmul(a, b, out=out)
    a2, b2 = a2.astype(dtype, copy=False), b2.astype(dtype, copy=False)
    target = None
    if out is not None and out.dtype == dtype:
        view = out[None, None] if a.ndim == 1 and b.ndim == 1 else out[..., None, :] if a.ndim == 1 else out[..., None] if b.ndim == 1 else out
        if _result_layout(view, batch) is not None and not _overlap(view, a2) and not _overlap(view, b2):
            target = view
    c = target if target is not None else cupy.empty(batch + (m, n), dtype)
    _gemm(a2, b2, c, batch, dtype)
    if target is not None:
        return out
    result = c.reshape(shape)
    if out is None:
        return result
    out[...] = result
    return out


def _gemm(a, b, c, batch, dtype):
    """``c = a @ b`` over ``batch`` for matrices cuBLAS can read (copied first where needed)."""
    cupy = _cupy
    (m, k), n = a.shape[-2:], b.shape[-1]
    a, op_a, lda, step_a = _operand(a, batch)
    b, op_b, ldb, step_b = _operand(b, batch)
    ldc, step_c = _result_layout(c, batch)
    count = math.prod(batch)
    if count > 1 and step_b == 0 and op_a == _OP_N and step_a == m * lda and step_c == m * ldc and count * m <= _INT_MAX:
        m, count = m * count, 1  # one matrix b for the whole batch: a's rows run on, so one tall product
    cuda_type = _CUDA_TYPES[dtype.name]
    if dtype.itemsize == 8:
        compute, (one, zero) = _COMPUTE_64F, _SCALAR_ADDRESSES[64]
    else:
        compute, (one, zero) = (_compute_32f if dtype.itemsize == 4 else _COMPUTE_32F), _SCALAR_ADDRESSES[32]
    library = _library
    with _lock:
        handle = _handle()
        handle.use(cupy.cuda.get_current_stream().ptr)
        if count == 1:
            status = library.cublasGemmEx(handle.pointer, op_b, op_a, n, m, k, one, b.data.ptr, cuda_type, ldb,
                                          a.data.ptr, cuda_type, lda, zero, c.data.ptr, cuda_type, ldc, compute,
                                          _GEMM_DEFAULT)
            _check("cublasGemmEx", status)
        else:
            status = library.cublasGemmStridedBatchedEx(
                handle.pointer, op_b, op_a, n, m, k, one, b.data.ptr, cuda_type, ldb, step_b, a.data.ptr, cuda_type,
                lda, step_a, zero, c.data.ptr, cuda_type, ldc, step_c, count, compute, _GEMM_DEFAULT)
            _check("cublasGemmStridedBatchedEx", status)


def _element_strides(x):
    itemsize = x.itemsize
    if any(s % itemsize for s in x.strides):
        return None
    return [s // itemsize for s in x.strides]


def _matrix_layout(rows, cols, row_step, col_step):
    """``(operation, leading dimension)`` that make cuBLAS read the transpose of a (rows, cols)
    matrix with these element strides, or None when its layout is neither row- nor column-major."""
    if cols == 1:
        col_step = 1  # the stride of an axis of length 1 is never used
    if rows == 1:
        row_step = max(cols, 1) if col_step == 1 else 1
    if col_step == 1 and row_step >= max(1, cols):  # row-major: the memory is the transpose, column-major
        return (_OP_N, row_step) if row_step <= _INT_MAX else None
    if row_step == 1 and col_step >= max(1, rows):  # column-major: cuBLAS transposes it
        return (_OP_T, col_step) if col_step <= _INT_MAX else None
    return None


def _batch_step(batch, shape, steps):
    """The one element stride between consecutive matrices of an operand's batch axes
    (``shape``, ``steps``) broadcast to ``batch`` (0 when broadcast over all of it), or None."""
    offset = len(batch) - len(shape)
    step = span = None
    for i in range(len(batch) - 1, -1, -1):
        if batch[i] == 1:
            continue
        j = i - offset
        stride = steps[j] if j >= 0 and shape[j] != 1 else 0
        if step is None:
            step = stride
        elif stride != span:
            return None
        span = stride * batch[i]
    if step is None:
        return 0
    return step if step >= 0 else None


def _operand(x, batch):
    """``(array, operation, leading dimension, batch step)`` for an operand of :func:`_gemm`: the
    array itself where cuBLAS can read it, else a contiguous copy (broadcast over ``batch`` when
    its batch axes do not come down to one stride)."""
    cupy = _cupy
    for attempt in range(3):
        steps = _element_strides(x)
        if steps is not None:
            matrix = _matrix_layout(*x.shape[-2:], *steps[-2:])
            step = _batch_step(batch, x.shape[:-2], steps[:-2])
            if matrix is not None and step is not None:
                return (x, *matrix, step)
        if attempt == 0:
            x = cupy.ascontiguousarray(x)
        else:
            x = cupy.ascontiguousarray(cupy.broadcast_to(x, batch + x.shape[-2:]))
    raise AssertionError("a contiguous array is always readable")  # pragma: no cover


def _result_layout(c, batch):
    """``(ldc, batch step)`` when cuBLAS can write the product into ``c`` as it stands (row-major
    matrices, batches one stride apart and not overlapping), else None."""
    steps = _element_strides(c)
    if steps is None:
        return None
    m, n = c.shape[-2:]
    row_step, col_step = steps[-2:]
    if n == 1:
        col_step = 1
    if m == 1:
        row_step = max(n, 1)
    if col_step != 1 or row_step < max(1, n) or row_step > _INT_MAX:
        return None
    step = _batch_step(batch, c.shape[:-2], steps[:-2])
    if step is None or (math.prod(batch) > 1 and step < (m - 1) * row_step + n):
        return None
    return row_step, step


def _extent(x):
    low = high = x.data.ptr
    for size, stride in zip(x.shape, x.strides):
        if size > 1:
            if stride < 0:
                low += stride * (size - 1)
            else:
                high += stride * (size - 1)
    return low, high + x.itemsize


def _overlap(x, y) -> bool:
    (x_low, x_high), (y_low, y_high) = _extent(x), _extent(y)
    return x_low < y_high and y_low < x_high


def _forget() -> None:
    """Forget the library, its check and the handles, as before the first product (for tests)."""
    global _state, _reason, _library
    with _lock:
        _drop_handles()
        _state = _reason = _library = None
