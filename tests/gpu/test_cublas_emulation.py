"""The emulation's stand-in libcublas (``tests/emulated_cupy/cupy/cuda/_cublas.cpp``), called
through ctypes on NumPy arrays' addresses as gpunet's binding calls NVIDIA's, and checked against
float64 NumPy: cuBLAS's ABI, its column-major semantics, its status codes and the capture hook.
The emulated GPU runs gpunet's binding on it, so these tests are what make that run mean something.
"""

import ctypes
import importlib.util
import os
import shutil

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LOADER = os.path.join(HERE, "..", "emulated_cupy", "cupy", "cuda", "cublas_emulation.py")

pytestmark = pytest.mark.skipif(not any(shutil.which(c) for c in (os.environ.get("CXX") or "c++", "g++", "clang++")),
                                reason="the stand-in libcublas is compiled with a C++ compiler, and none is installed")

SUCCESS, NOT_INITIALIZED, INVALID_VALUE, NOT_SUPPORTED = 0, 1, 7, 15
R_32F, R_64F, R_16F, R_16BF = 0, 1, 2, 14
COMPUTE_32F, COMPUTE_64F = 68, 70
TYPES = {np.dtype(np.float32): R_32F, np.dtype(np.float64): R_64F, np.dtype(np.float16): R_16F}


@pytest.fixture(scope="module")
def emulation():
    spec = importlib.util.spec_from_file_location("cublas_emulation", LOADER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lib(emulation):
    library = emulation.load_private()  # never the emulation's global one: a GPU machine's tests hold NVIDIA's
    p, i, ll = ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong
    signatures = {
        "cublasCreate_v2": [ctypes.POINTER(p)], "cublasDestroy_v2": [p], "cublasSetStream_v2": [p, p],
        "cublasGetStream_v2": [p, ctypes.POINTER(p)], "cublasSetWorkspace_v2": [p, p, ctypes.c_size_t],
        "cublasSetPointerMode_v2": [p, i], "cublasSetMathMode": [p, i],
        "cublasGemmEx": [p, i, i, i, i, i, p, p, i, i, p, i, i, p, p, i, i, i, i],
        "cublasGemmStridedBatchedEx": [p, i, i, i, i, i, p, p, i, i, ll, p, i, i, ll, p, p, i, i, ll, i, i, i],
    }
    for name, argtypes in signatures.items():
        getattr(library, name).argtypes = argtypes
        getattr(library, name).restype = ctypes.c_int
    return library


@pytest.fixture
def handle(lib):
    pointer = ctypes.c_void_p()
    assert lib.cublasCreate_v2(ctypes.byref(pointer)) == SUCCESS
    yield pointer.value
    assert lib.cublasDestroy_v2(pointer.value) == SUCCESS


@pytest.fixture
def recorder(emulation, lib):
    """Sets a hook that keeps a copy of every product's record; removed afterwards."""
    calls = []
    emulation.set_hook(lambda address: calls.append(emulation.copy_call(address)), lib)
    yield calls
    emulation.set_hook(None, lib)


def column_major(buffer, rows, cols, ld, offset=0):
    """The (rows, cols) matrix that cuBLAS reads from ``buffer`` at ``offset`` with leading dimension ``ld``."""
    index = offset + np.arange(rows)[:, None] + np.arange(cols)[None, :] * ld
    return buffer[index]


def scalar(value, compute):
    return ctypes.c_double(value) if compute == COMPUTE_64F else ctypes.c_float(value)


def gemm(lib, handle, transa, transb, m, n, k, a, lda, b, ldb, c, ldc, alpha=1.0, beta=0.0, compute=None, c_type=None):
    type_code = TYPES.get(a.dtype, R_16BF)
    compute = compute if compute is not None else (COMPUTE_64F if a.dtype == np.float64 else COMPUTE_32F)
    alpha_, beta_ = scalar(alpha, compute), scalar(beta, compute)
    return lib.cublasGemmEx(handle, transa, transb, m, n, k, ctypes.byref(alpha_), a.ctypes.data, type_code, lda,
                            b.ctypes.data, type_code, ldb, ctypes.byref(beta_), c.ctypes.data,
                            c_type if c_type is not None else TYPES.get(c.dtype, R_16BF), ldc, compute, -1)


def reference(transa, transb, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta, offsets=(0, 0, 0)):
    """alpha op(A) op(B) + beta C in float64, from the buffers as cuBLAS reads them."""
    a64, b64, c64 = (x.astype(np.float64) for x in (a, b, c))
    op_a = column_major(a64, m, k, lda, offsets[0]) if transa == 0 else column_major(a64, k, m, lda, offsets[0]).T
    op_b = column_major(b64, k, n, ldb, offsets[1]) if transb == 0 else column_major(b64, n, k, ldb, offsets[1]).T
    return alpha * (op_a @ op_b) + beta * column_major(c64, m, n, ldc, offsets[2])


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("transa, transb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_gemm_is_column_major_with_leading_dimensions_larger_than_the_rows(lib, handle, dtype, rtol, transa, transb):
    rng = np.random.default_rng(transa * 2 + transb)
    m, n, k = 5, 4, 6
    lda, ldb, ldc = (m if transa == 0 else k) + 3, (k if transb == 0 else n) + 2, m + 4
    a = rng.standard_normal(lda * (k if transa == 0 else m)).astype(dtype)
    b = rng.standard_normal(ldb * (n if transb == 0 else k)).astype(dtype)
    c = rng.standard_normal(ldc * n).astype(dtype)
    before = c.copy()
    expected = reference(transa, transb, m, n, k, a, lda, b, ldb, c, ldc, 1.5, 0.5)
    assert gemm(lib, handle, transa, transb, m, n, k, a, lda, b, ldb, c, ldc, alpha=1.5, beta=0.5) == SUCCESS
    np.testing.assert_allclose(column_major(c, m, n, ldc), expected, rtol=rtol, atol=rtol)
    padding = np.ones(ldc * n, bool)
    padding[(np.arange(m)[:, None] + np.arange(n)[None, :] * ldc).ravel()] = False
    np.testing.assert_array_equal(c[padding], before[padding])  # rows m..ldc-1 of each column untouched


def test_beta_zero_does_not_read_c_and_an_empty_inner_dimension_scales_c(lib, handle):
    a, b = np.ones(6, np.float32), np.ones(6, np.float32)
    c = np.full(4, np.nan, np.float32)
    assert gemm(lib, handle, 0, 0, 2, 2, 3, a, 2, b, 3, c, 2, alpha=2.0, beta=0.0) == SUCCESS
    np.testing.assert_array_equal(c, [6, 6, 6, 6])
    assert gemm(lib, handle, 0, 0, 2, 2, 0, a, 2, b, 1, c, 2, alpha=2.0, beta=0.5) == SUCCESS
    np.testing.assert_array_equal(c, [3, 3, 3, 3])


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_16_bit_products_accumulate_in_float32_and_round_to_nearest_even(lib, handle, name):
    dtype = np.dtype(np.float16) if name == "float16" else np.dtype(pytest.importorskip("ml_dtypes").bfloat16)
    rng = np.random.default_rng(3)
    # one column times 1, scaled by alpha in float32: the store's rounding alone decides the bits
    a = (rng.standard_normal(4096) * 10.0 ** rng.integers(-3, 4, 4096)).astype(dtype)
    a[:4] = np.array([np.inf, -np.inf, np.nan, 0.0], np.float32).astype(dtype)
    one, c = np.ones(1, dtype), np.zeros(4096, dtype)
    alpha = np.float32(1.3337)
    assert gemm(lib, handle, 0, 0, 4096, 1, 1, a, 4096, one, 1, c, 4096, alpha=float(alpha)) == SUCCESS
    expected = (alpha * a.astype(np.float32)).astype(dtype)
    np.testing.assert_array_equal(c.view(np.uint16)[3:], expected.view(np.uint16)[3:])
    assert np.isnan(c[2].astype(np.float32))
    # ties: half an ulp above a power of two rounds down to it (even), one and a half ulps up to two ulps
    ulp = 2.0 ** -10 if name == "float16" else 2.0 ** -7
    powers = (2.0 ** np.arange(-4, 5)).astype(dtype)
    for factor, expected_factor in ((1 + ulp / 2, 1.0), (1 + 1.5 * ulp, 1 + 2 * ulp), (1 + ulp / 2 + ulp / 64, 1 + ulp)):
        scaled = np.zeros(powers.size, dtype)
        assert gemm(lib, handle, 0, 0, powers.size, 1, 1, powers, powers.size, one, 1, scaled, powers.size,
                    alpha=factor) == SUCCESS
        np.testing.assert_array_equal(scaled.astype(np.float64), powers.astype(np.float64) * expected_factor)
    # a product of length 300 accumulates in float32: far closer than float16 sums would be
    x, y = rng.standard_normal((2, 300)).astype(dtype)
    out = np.zeros(1, np.float32)
    assert gemm(lib, handle, 1, 0, 1, 1, 300, x, 300, y, 300, out, 1, c_type=R_32F) == SUCCESS
    exact = float(x.astype(np.float64) @ y.astype(np.float64))
    assert abs(out[0] - exact) < 1e-4 * float(np.abs(x.astype(np.float64)) @ np.abs(y.astype(np.float64)))


def test_strided_batches_with_gaps_and_a_broadcast_operand(lib, handle):
    rng = np.random.default_rng(4)
    m, n, k, batches = 3, 2, 4, 3
    stride_a, stride_c = m * k + 5, m * n + 3
    a = rng.standard_normal(stride_a * batches)
    b = rng.standard_normal(n * k)  # one B for every batch: stride 0
    c = np.zeros(stride_c * batches)
    one, zero = ctypes.c_double(1.0), ctypes.c_double(0.0)
    status = lib.cublasGemmStridedBatchedEx(handle, 1, 0, m, n, k, ctypes.byref(one), a.ctypes.data, R_64F, k, stride_a,
                                            b.ctypes.data, R_64F, k, 0, ctypes.byref(zero), c.ctypes.data, R_64F, m,
                                            stride_c, batches, COMPUTE_64F, -1)
    assert status == SUCCESS
    for i in range(batches):
        expected = reference(1, 0, m, n, k, a, k, b, k, c, m, 1.0, 0.0, offsets=(i * stride_a, 0, i * stride_c))
        np.testing.assert_allclose(column_major(c, m, n, m, i * stride_c), expected, rtol=1e-14)
    assert np.all(c.reshape(batches, stride_c)[:, m * n:] == 0)  # the gaps between results untouched


def test_bad_arguments_return_cublas_status_codes(lib, handle):
    a = b = c = np.zeros(64, np.float32)
    assert gemm(lib, handle, 0, 0, 4, 4, 4, a, 3, b, 4, c, 4) == INVALID_VALUE  # lda < max(1, m)
    assert gemm(lib, handle, 1, 0, 4, 4, 5, a, 4, b, 5, c, 4) == INVALID_VALUE  # transposed: lda < max(1, k)
    assert gemm(lib, handle, 0, 1, 4, 4, 4, a, 4, b, 3, c, 4) == INVALID_VALUE  # transposed B: ldb < max(1, n)
    assert gemm(lib, handle, 0, 0, 4, 4, 4, a, 4, b, 4, c, 3) == INVALID_VALUE  # ldc < max(1, m)
    assert gemm(lib, handle, 0, 0, -1, 4, 4, a, 4, b, 4, c, 4) == INVALID_VALUE
    assert gemm(lib, handle, 5, 0, 4, 4, 4, a, 4, b, 4, c, 4) == INVALID_VALUE  # no such operation
    assert gemm(lib, handle, 0, 0, 0, 0, 0, a, 0, b, 0, c, 0) == INVALID_VALUE  # leading dimensions are at least 1
    assert gemm(lib, handle, 0, 0, 4, 4, 4, a, 4, b, 4, c, 4, compute=COMPUTE_64F) == NOT_SUPPORTED  # float32 data
    assert gemm(lib, handle, 0, 0, 4, 4, 4, a, 4, b, 4, c, 4, c_type=R_64F) == NOT_SUPPORTED  # no such type mix
    assert gemm(lib, None, 0, 0, 4, 4, 4, a, 4, b, 4, c, 4) == NOT_INITIALIZED
    assert lib.cublasSetPointerMode_v2(handle, 2) == INVALID_VALUE
    assert lib.cublasSetMathMode(handle, 5) == INVALID_VALUE
    assert lib.cublasSetMathMode(handle, 3 | 16) == SUCCESS  # TF32 with the flag that forbids reduced precision
    workspace = np.zeros(1024, np.uint8)
    aligned = (workspace.ctypes.data + 255) // 256 * 256
    assert lib.cublasSetWorkspace_v2(handle, aligned + 8, 256) == INVALID_VALUE  # cuBLAS wants 256-byte alignment
    assert lib.cublasSetWorkspace_v2(handle, aligned, 256) == SUCCESS
    assert lib.cublasSetStream_v2(None, 0) == NOT_INITIALIZED
    np.testing.assert_array_equal(c, 0)  # no failed call wrote anything


def test_the_hook_records_each_product_by_value_and_execute_runs_it_later(emulation, lib, handle, recorder):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(12).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    c = np.zeros(6, np.float32)
    workspace = np.zeros(1024, np.uint8)
    aligned = (workspace.ctypes.data + 255) // 256 * 256
    stream = ctypes.c_void_p()
    assert lib.cublasSetStream_v2(handle, 0xD00D) == SUCCESS
    assert lib.cublasGetStream_v2(handle, ctypes.byref(stream)) == SUCCESS and stream.value == 0xD00D
    assert lib.cublasSetWorkspace_v2(handle, aligned, 512) == SUCCESS
    assert gemm(lib, handle, 0, 0, 3, 2, 4, a, 3, b, 4, c, 3, alpha=2.0, beta=0.0) == SUCCESS
    assert lib.cublasSetStream_v2(handle, 0xBEEF) == SUCCESS  # and cuBLAS forgets the user workspace
    assert gemm(lib, handle, 0, 0, 3, 2, 4, a, 3, b, 4, c, 3) == SUCCESS
    np.testing.assert_array_equal(c, 0)  # recorded, not computed
    first, second = recorder
    assert (first.batched, first.transa, first.transb, first.m, first.n, first.k) == (0, 0, 0, 3, 2, 4)
    assert (first.lda, first.ldb, first.ldc, first.a_type, first.compute_type, first.algo) == (3, 4, 3, R_32F, COMPUTE_32F, -1)
    assert (first.a, first.b, first.c, first.handle) == (a.ctypes.data, b.ctypes.data, c.ctypes.data, handle)
    assert (first.alpha, first.beta, first.pointer_mode, first.math_mode) == (2.0, 0.0, 0, 0)
    assert (first.stream, first.workspace, first.workspace_size) == (0xD00D, aligned, 512)
    assert (second.stream, second.workspace, second.workspace_size) == (0xBEEF, None, 0)
    emulation.set_hook(None, lib)
    a_before = a.copy()
    a *= 10  # a replay reads the arrays as they are when it runs, and alpha as it was recorded
    assert emulation.execute(first, lib) == SUCCESS
    expected = reference(0, 0, 3, 2, 4, a, 3, b, 4, c, 3, 2.0, 0.0)
    np.testing.assert_allclose(column_major(c, 3, 2, 3), expected, rtol=2e-6)
    assert not np.allclose(expected, reference(0, 0, 3, 2, 4, a_before, 3, b, 4, c, 3, 2.0, 0.0))


def test_pointer_mode_device_reads_the_scalars_when_the_product_runs(emulation, lib, handle, recorder):
    assert lib.cublasSetPointerMode_v2(handle, 1) == SUCCESS
    a, b, c = np.full(4, 1.0), np.full(4, 2.0), np.zeros(4)
    alpha, beta = np.array([1.0]), np.array([0.0])  # "device" memory
    status = lib.cublasGemmEx(handle, 0, 0, 2, 2, 2, alpha.ctypes.data, a.ctypes.data, R_64F, 2, b.ctypes.data, R_64F, 2,
                              beta.ctypes.data, c.ctypes.data, R_64F, 2, COMPUTE_64F, -1)
    assert status == SUCCESS and len(recorder) == 1 and recorder[0].pointer_mode == 1
    alpha[0] = 3.0
    emulation.set_hook(None, lib)
    assert emulation.execute(recorder[0], lib) == SUCCESS
    np.testing.assert_array_equal(c, [12.0, 12.0, 12.0, 12.0])  # 3 * (1 * 2 + 1 * 2)
