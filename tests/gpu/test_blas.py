"""gpunet.gpu.blas.matmul, cuBLAS through gpunet's own handle, against float64 NumPy: every shape
rule of ``numpy.matmul`` gpunet uses, every operand layout (passed as it is, or copied first),
the four floating-point dtypes, ``out=``, other streams, and a CUDA graph that captures the
products. On a GPU these call NVIDIA's libcublas; in CI, the emulation's stand-in (tested on its
own in test_cublas_emulation.py)."""

import ctypes

import numpy as np
import pytest

from gpunet import backend
from gpunet.gpu import blas

pytestmark = pytest.mark.gpu

ACCUMULATION = {"float64": 2.0 ** -53, "float32": 2.0 ** -24, "float16": 2.0 ** -24, "bfloat16": 2.0 ** -24}
ROUNDING = {"float64": 2.0 ** -53, "float32": 2.0 ** -24, "float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}

SHAPES = [
    ((5, 7), (7, 3)),  # 2-D @ 2-D
    ((7,), (7, 3)),  # 1-D @ 2-D
    ((5, 7), (7,)),  # 2-D @ 1-D
    ((7,), (7,)),  # 1-D @ 1-D
    ((4, 5, 7), (4, 7, 3)),  # a strided batch
    ((2, 4, 5, 7), (7, 3)),  # a batch against one matrix: one tall product
    ((5, 7), (4, 7, 3)),  # one matrix against a batch: stride 0
    ((2, 1, 5, 7), (1, 3, 7, 4)),  # batch axes broadcast both ways: copied into one batch
    ((3, 7), (2, 3, 7, 1)),  # a column result
]


def dtype_of(name):
    """The dtype called ``name``: bfloat16 is ml_dtypes's, which CuPy 14 holds on the device."""
    if name != "bfloat16":
        return np.dtype(name)
    return np.dtype(pytest.importorskip("ml_dtypes").bfloat16)


def check(cp, got, a, b, dtype):
    """``got`` against ``a @ b`` in float64 (of the inputs as rounded to ``dtype``), within the
    error bound of a product accumulated in float32 (float64 for float64) and rounded to ``dtype``."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    expected = np.matmul(a64, b64)
    scale = np.matmul(np.abs(a64), np.abs(b64))
    k = a64.shape[-1]
    bound = 2 * (k * ACCUMULATION[dtype.name] + ROUNDING[dtype.name]) * scale + 1e-300
    host = cp.asnumpy(got)
    assert host.dtype == dtype and host.shape == expected.shape
    error = np.abs(host.astype(np.float64) - expected)
    assert np.all(error <= bound), f"largest error {error.max()} (bound {bound.max()})"


def host_operands(rng, shapes, dtype):
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("shapes", SHAPES, ids=[f"{a}@{b}" for a, b in SHAPES])
def test_products_match_numpy_in_float64(cp, name, shapes):
    dtype = dtype_of(name)
    a, b = host_operands(np.random.default_rng(len(str(shapes))), shapes, dtype)
    check(cp, blas.matmul(cp.asarray(a), cp.asarray(b)), a, b, dtype)


def laid_out(cp, host, layout):
    """``host`` on the device, its last two axes in the given layout."""
    if layout == "row-major":
        return cp.asarray(host)
    if layout == "transposed":  # column-major matrices: a transposed view of a contiguous array
        return cp.asarray(np.ascontiguousarray(np.swapaxes(host, -1, -2))).swapaxes(-1, -2)
    if layout == "padded":  # row-major, rows further apart than their length
        wide = np.zeros(host.shape[:-1] + (host.shape[-1] + 3,), host.dtype)
        wide[..., : host.shape[-1]] = host
        return cp.asarray(wide)[..., : host.shape[-1]]
    if layout == "strided":  # neither layout: copied first
        wide = np.zeros(host.shape[:-1] + (2 * host.shape[-1],), host.dtype)
        wide[..., ::2] = host
        return cp.asarray(wide)[..., ::2]
    reversed_rows = cp.asarray(np.ascontiguousarray(host[..., ::-1, :]))  # negative strides: copied first
    return reversed_rows[..., ::-1, :]


LAYOUTS = ["row-major", "transposed", "padded", "strided", "reversed"]


@pytest.mark.parametrize("name", ["float32", "bfloat16"])
@pytest.mark.parametrize("layout_a", LAYOUTS)
@pytest.mark.parametrize("layout_b", LAYOUTS)
@pytest.mark.parametrize("shapes", [((6, 4), (4, 5)), ((3, 6, 4), (3, 4, 5)), ((3, 6, 4), (4, 5))], ids=["2d", "batch", "tall"])
def test_every_operand_layout(cp, name, layout_a, layout_b, shapes):
    dtype = dtype_of(name)
    a, b = host_operands(np.random.default_rng(7), shapes, dtype)
    x, y = laid_out(cp, a, layout_a), laid_out(cp, b, layout_b)
    assert (x.strides[-1] < 0 or x.strides[-2] < 0) == (layout_a == "reversed")
    check(cp, blas.matmul(x, y), a, b, dtype)


def test_readable_layouts_are_not_copied(cp, monkeypatch):
    """Row-major and transposed matrices (padded or not, batched or broadcast) go to cuBLAS as
    they are; only the others are made contiguous."""
    rng = np.random.default_rng(8)
    a, b = host_operands(rng, [(3, 6, 4), (4, 5)], np.float32)
    copies = []
    contiguous = cp.ascontiguousarray
    monkeypatch.setattr(cp, "ascontiguousarray", lambda x, *args, **kwargs: copies.append(x.shape) or contiguous(x, *args, **kwargs))
    for layout_a in ("row-major", "transposed", "padded"):
        for layout_b in ("row-major", "transposed", "padded"):
            check(cp, blas.matmul(laid_out(cp, a, layout_a), laid_out(cp, b, layout_b)), a, b, np.dtype(np.float32))
    assert copies == []
    check(cp, blas.matmul(laid_out(cp, a, "strided"), cp.asarray(b)), a, b, np.dtype(np.float32))
    assert copies == [(3, 6, 4)]


def test_out_is_written_in_place(cp):
    rng = np.random.default_rng(9)
    a, b = host_operands(rng, [(4, 6, 5), (5, 3)], np.float32)
    out = cp.full((4, 6, 3), np.nan, np.float32)
    assert blas.matmul(cp.asarray(a), cp.asarray(b), out=out) is out
    check(cp, out, a, b, np.dtype(np.float32))
    # a slice of a wider array: written where it lies, its neighbours untouched
    wide = cp.full((6, 8), 7.0, np.float32)
    view = wide[:, 2:5]
    assert blas.matmul(cp.asarray(a[0]), cp.asarray(b), out=view) is view
    check(cp, wide[:, 2:5], a[0], b, np.dtype(np.float32))
    host = cp.asnumpy(wide)
    assert np.all(host[:, :2] == 7.0) and np.all(host[:, 5:] == 7.0)
    # a column-major out and one of a wider dtype: computed aside, then copied in
    column_major = cp.asfortranarray(cp.zeros((6, 3), np.float32))
    blas.matmul(cp.asarray(a[1]), cp.asarray(b), out=column_major)
    check(cp, column_major, a[1], b, np.dtype(np.float32))
    wider = cp.zeros((6, 3), np.float64)
    blas.matmul(cp.asarray(a[2]), cp.asarray(b), out=wider)
    np.testing.assert_allclose(cp.asnumpy(wider), a[2].astype(np.float64) @ b.astype(np.float64), rtol=1e-5, atol=1e-5)
    # 1-D operands: out has the result's shape
    vector = cp.zeros(3, np.float32)
    blas.matmul(cp.asarray(a[0, 0]), cp.asarray(b), out=vector)
    check(cp, vector, a[0, 0], b, np.dtype(np.float32))


def test_out_that_is_an_operand_gets_the_product_of_the_operands_as_they_were(cp):
    rng = np.random.default_rng(10)
    a, b = host_operands(rng, [(5, 5), (5, 5)], np.float64)
    x = cp.asarray(a)
    assert blas.matmul(x, cp.asarray(b), out=x) is x
    check(cp, x, a, b, np.dtype(np.float64))


def test_mixed_dtypes_other_dtypes_and_empty_products(cp):
    rng = np.random.default_rng(11)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3, 2))
    check(cp, blas.matmul(cp.asarray(a), cp.asarray(b)), a, b, np.dtype(np.float64))  # promoted, as NumPy does
    integers = rng.integers(-5, 5, (2, 4, 3)), rng.integers(-5, 5, (3, 2))
    got = blas.matmul(cp.asarray(integers[0]), cp.asarray(integers[1]))  # cupy.matmul's
    np.testing.assert_array_equal(cp.asnumpy(got), integers[0] @ integers[1])
    assert blas.matmul(cp.zeros((0, 3), np.float32), cp.zeros((3, 4), np.float32)).shape == (0, 4)
    empty_inner = blas.matmul(cp.ones((2, 0), np.float32), cp.ones((0, 3), np.float32))
    np.testing.assert_array_equal(cp.asnumpy(empty_inner), np.zeros((2, 3), np.float32))


def test_bad_operands_raise(cp):
    x = cp.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="inner dimensions 4 and 3"):
        blas.matmul(x, x)
    with pytest.raises(ValueError, match="at least one dimension"):
        blas.matmul(x, cp.ones((), np.float32))
    with pytest.raises(ValueError, match="do not broadcast"):
        blas.matmul(cp.ones((2, 3, 4), np.float32), cp.ones((3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="out has shape"):
        blas.matmul(x, x.T, out=cp.empty((4, 4), np.float32))
    with pytest.raises(TypeError, match="cannot be written"):
        blas.matmul(x, x.T, out=cp.empty((3, 3), np.int32))
    with pytest.raises(TypeError, match="CuPy arrays"):
        blas.matmul(np.ones((3, 4)), x.T)


def test_the_binding_is_in_use_and_follows_the_current_stream(cp):
    assert blas.capture_safe() and blas.unavailable_reason() is None
    rng = np.random.default_rng(12)
    a, b = host_operands(rng, [(64, 32), (32, 16)], np.float32)
    x, y = cp.asarray(a), cp.asarray(b)
    cp.cuda.Device().synchronize()
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        on_stream = blas.matmul(x, y)
    stream.synchronize()
    check(cp, on_stream, a, b, np.dtype(np.float32))
    check(cp, blas.matmul(x, y), a, b, np.dtype(np.float32))  # back on the default stream
    # each stream products were issued on has a workspace of its own: two streams' products may
    # run at the same time, and must not share cuBLAS's scratch memory
    workspaces = blas._handle().workspaces
    assert {stream.ptr, cp.cuda.get_current_stream().ptr} <= set(workspaces)
    addresses = [buffer.data.ptr for buffer, _ in workspaces.values()]
    assert len(set(addresses)) == len(addresses)


def test_a_cuda_graph_captures_the_products_and_replays_them(cp):
    rng = np.random.default_rng(13)
    a, b, batch_a, batch_b = host_operands(rng, [(6, 5), (5, 3), (4, 6, 5), (4, 5, 3)], np.float32)
    x, y, batch_x, batch_y = (cp.asarray(v) for v in (a, b, batch_a, batch_b))
    out, batch_out = cp.zeros((6, 3), np.float32), cp.zeros((4, 6, 3), np.float32)
    transposed_out = cp.zeros((3, 3), np.float32)
    stream = cp.cuda.Stream(non_blocking=True)
    cp.cuda.Device().synchronize()
    assert blas.prepare(stream)
    with stream:
        stream.begin_capture()
        blas.matmul(x, y, out=out)
        blas.matmul(batch_x, batch_y, out=batch_out)
        blas.matmul(y.T, y, out=transposed_out)
        graph = stream.end_capture()
    stream.synchronize()
    assert not cp.asnumpy(out).any() and not cp.asnumpy(batch_out).any()  # capturing ran nothing
    a2, batch_a2 = a + 1.0, batch_a * 2.0
    x[...] = cp.asarray(a2)
    batch_x[...] = cp.asarray(batch_a2)
    cp.cuda.Device().synchronize()
    graph.launch(stream)
    stream.synchronize()
    check(cp, out, a2, b, np.dtype(np.float32))
    check(cp, batch_out, batch_a2, batch_b, np.dtype(np.float32))
    check(cp, transposed_out, b.T, b, np.dtype(np.float32))


def test_without_a_library_products_go_through_cupy_matmul(cp, monkeypatch):
    monkeypatch.setenv("GPUNET_CUBLAS", "/nonexistent/libcublas.so.99")
    blas._forget()
    try:
        rng = np.random.default_rng(14)
        a, b = host_operands(rng, [(3, 6, 4), (4, 5)], np.float32)
        with pytest.warns(UserWarning, match="go through cupy.matmul"):
            got = blas.matmul(cp.asarray(a), cp.asarray(b))
        check(cp, got, a, b, np.dtype(np.float32))
        out = cp.zeros((3, 6, 5), np.float32)
        assert blas.matmul(cp.asarray(a), cp.asarray(b), out=out) is out
        check(cp, out, a, b, np.dtype(np.float32))
        assert not blas.capture_safe()
    finally:
        blas._forget()  # the next product finds the library again


def test_the_backend_sends_device_products_to_the_binding(cp, monkeypatch):
    rng = np.random.default_rng(15)
    a, b, c = host_operands(rng, [(6, 4), (4, 5), (6, 4)], np.float32)
    calls = []
    original = blas.matmul
    monkeypatch.setattr(blas, "matmul", lambda x, y, out=None: calls.append(x.shape) or original(x, y, out=out))
    check(cp, backend.matmul(cp.asarray(a), cp.asarray(b)), a, b, np.dtype(np.float32))
    out = cp.empty((6, 5), np.float32)
    assert backend.matmul(cp.asarray(a), cp.asarray(b), out=out) is out
    check(cp, out, a, b, np.dtype(np.float32))
    dots = backend.column_dots(cp.asarray(a), cp.asarray(c))  # a product with a vector of ones
    expected = (a.astype(np.float64) * c).sum(axis=0)
    bound = 2 * 6 * 2.0 ** -24 * (np.abs(a.astype(np.float64)) * np.abs(c)).sum(axis=0) + 2.0 ** -24 * np.abs(expected)
    assert np.all(np.abs(cp.asnumpy(dots) - expected) <= bound)
    assert calls == [(6, 4), (6, 4), (6,)]


def test_a_library_whose_products_disagree_with_cupy_is_not_used(cp, monkeypatch):
    two = {32: ctypes.c_float(2.0), 64: ctypes.c_double(2.0)}  # alpha = 2: every product doubled
    wrong = {bits: (ctypes.addressof(two[bits]), zero) for bits, (_, zero) in blas._SCALAR_ADDRESSES.items()}
    monkeypatch.setattr(blas, "_SCALAR_ADDRESSES", wrong)
    blas._forget()
    try:
        with pytest.warns(UserWarning, match="disagrees with cupy.matmul"):
            assert not blas.capture_safe()
        assert "differs by up to" in blas.unavailable_reason()
    finally:
        monkeypatch.undo()
        blas._forget()
