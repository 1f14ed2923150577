"""Max and average pooling and the max reduction against nested-loop float64 references:
values, the first-maximum gradient rule, finite differences, output shapes and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gpunet import Tensor, backend, gradcheck
from gpunet.ops.convolution import avg_pool, max, max_pool, pool_output_shape


def _windows(x_shape, pool_size, strides, padding):
    """For each output position, the input positions of its window that lie inside x, in
    window (row-major) order; TensorFlow's "same": ceil(n / s) outputs, the smaller half of the
    padding before."""
    rank = len(x_shape) - 2
    pool_size = (pool_size,) * rank if isinstance(pool_size, int) else pool_size
    strides = pool_size if strides is None else (strides,) * rank if isinstance(strides, int) else strides
    outs, befores = [], []
    for n, k, s in zip(x_shape[1:-1], pool_size, strides):
        if padding == "valid":
            outs.append((n - k) // s + 1)
            befores.append(0)
        else:
            out = -(-n // s)
            outs.append(out)
            befores.append(max_total(out, s, k, n) // 2)
    result = {}
    for pos in itertools.product(*(range(o) for o in outs)):
        cells = []
        for offset in itertools.product(*(range(k) for k in pool_size)):
            src = tuple(p * s + o - b for p, s, o, b in zip(pos, strides, offset, befores))
            if all(0 <= i < n for i, n in zip(src, x_shape[1:-1])):
                cells.append(src)
        result[pos] = cells
    return outs, result


def max_total(out, s, k, n):
    total = (out - 1) * s + k - n
    return total if total > 0 else 0


def pool_reference(x, pool_size, strides, padding, kind, w=None):
    """Pooled values, and with upstream gradient ``w`` the input gradient: for max pooling all of
    it goes to the first maximum of each window, for averages it is shared by the valid entries."""
    outs, windows = _windows(x.shape, pool_size, strides, padding)
    y = np.zeros((x.shape[0], *outs, x.shape[-1]))
    gx = np.zeros_like(x)
    for b in range(x.shape[0]):
        for c in range(x.shape[-1]):
            for pos, cells in windows.items():
                values = [x[(b, *cell, c)] for cell in cells]
                if kind == "max":
                    best = 0
                    for i, v in enumerate(values):
                        if v > values[best]:
                            best = i
                    y[(b, *pos, c)] = values[best]
                    if w is not None:
                        gx[(b, *cells[best], c)] += w[(b, *pos, c)]
                else:
                    y[(b, *pos, c)] = sum(values) / len(values)
                    if w is not None:
                        for cell in cells:
                            gx[(b, *cell, c)] += w[(b, *pos, c)] / len(values)
    return y, gx


POOL = {"max": max_pool, "avg": avg_pool}

# (name, x shape, pool_size, strides, padding)
CASES = [
    ("2d_2x2", (2, 6, 4, 3), 2, None, "valid"),
    ("2d_remainder", (2, 7, 5, 2), 2, None, "valid"),
    ("2d_3x3_stride2_overlap", (1, 7, 7, 2), 3, 2, "valid"),
    ("2d_same", (2, 7, 5, 2), 2, None, "same"),
    ("2d_same_3x3_stride1", (1, 5, 4, 2), 3, 1, "same"),
    ("2d_same_stride3", (2, 7, 8, 1), (2, 3), 3, "same"),
    ("2d_unequal", (2, 7, 6, 2), (3, 2), (1, 2), "valid"),
    ("2d_gaps", (1, 8, 7, 2), 2, 3, "valid"),
    ("1d_2", (2, 9, 3), 2, None, "valid"),
    ("1d_3_stride1_same", (2, 7, 2), 3, 1, "same"),
    ("1d_same_stride2", (1, 8, 2), 4, 2, "same"),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_pool_values_and_gradient(case, kind, xp, rng):
    _, shape, pool_size, strides, padding = case
    x = rng.standard_normal(shape) - 3  # all negative: padding must never win a max
    t = Tensor(backend.to_device(x), requires_grad=True)
    y = POOL[kind](t, pool_size, strides, padding)
    w = rng.standard_normal(y.shape)
    expected_y, expected_gx = pool_reference(x, pool_size, strides, padding, kind, w)
    assert y.dtype == np.float64 and y.shape == expected_y.shape
    assert y.shape[1:-1] == pool_output_shape(shape[1:-1], pool_size, strides, padding)
    np.testing.assert_allclose(y.numpy(), expected_y, rtol=1e-12, atol=0)
    y.backward(backend.to_device(w))
    np.testing.assert_allclose(backend.to_host(t.grad), expected_gx, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("name", ["2d_3x3_stride2_overlap", "2d_same", "1d_3_stride1_same", "2d_gaps"])
def test_pool_gradcheck(name, kind, xp, rng):
    _, shape, pool_size, strides, padding = next(c for c in CASES if c[0] == name)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1  # distinct: no ties within eps
    assert gradcheck(lambda a: POOL[kind](a, pool_size, strides, padding), [backend.to_device(x)])


@pytest.mark.parametrize("strides, padding", [(None, "valid"), (1, "same")])
def test_max_pool_ties_go_to_the_first_maximum(strides, padding, xp, rng):
    """Whole windows of equal values (zeros after a ReLU): one entry per window gets the gradient."""
    x = rng.integers(0, 2, (2, 4, 6, 3)).astype(np.float64)
    t = Tensor(backend.to_device(x), requires_grad=True)
    y = max_pool(t, 2, strides, padding)
    w = rng.standard_normal(y.shape)
    y.backward(backend.to_device(w))
    expected = pool_reference(x, 2, strides, padding, "max", w)[1]
    np.testing.assert_allclose(backend.to_host(t.grad), expected, rtol=1e-12, atol=0)  # overlaps: sums of w


def test_max_pool_float32_and_large_window(xp, rng):
    """float32 stays float32; a 12x12 window (144 positions) still finds its maximum's index."""
    x = rng.standard_normal((2, 12, 12, 2)).astype(np.float32)
    t = Tensor(backend.to_device(x), requires_grad=True)
    y = max_pool(t, 12)
    y.backward(backend.to_device(np.ones(y.shape, np.float32)))
    assert y.dtype == np.float32 and t.grad.dtype == np.float32
    expected_y, expected_gx = pool_reference(x.astype(np.float64), 12, None, "valid", "max", np.ones(y.shape))
    np.testing.assert_array_equal(y.numpy(), expected_y)
    np.testing.assert_array_equal(backend.to_host(t.grad), expected_gx)


def test_pool_output_shape():
    assert pool_output_shape((11, 11), 2) == (5, 5)
    assert pool_output_shape((7, 5), 2, padding="same") == (4, 3)
    assert pool_output_shape((7, None), 3, strides=(2, 1)) == (3, None)
    assert pool_output_shape((9,), 4, strides=2, padding="same") == (5,)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pool_output_shape((3, 5), 4), r"pool_size \(4, 4\) leaves no output for input \(3, 5\)"),
        (lambda: max_pool(Tensor(np.zeros((1, 3, 3, 1))), (2, 4)), r"pool_size \(2, 4\) leaves no output for input \(3, 3\)"),
        (lambda: avg_pool(Tensor(np.zeros((1, 3, 1))), 2, padding="causal"), "padding must be one of"),
        (lambda: max_pool(Tensor(np.zeros((1, 4, 4, 1))), 2, strides=0), "strides must be positive"),
        (lambda: max_pool(Tensor(np.zeros((1, 4, 4, 1))), (2, 2, 2)), "pool_size must be an int or a tuple of 2 ints"),
        (lambda: max_pool(Tensor(np.zeros((4, 4))), 2), "1 or 2 spatial dims"),
    ],
)
def test_pool_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------------------------
# max reduction
# ----------------------------------------------------------------------------------------------
def max_reference(x, axes, w):
    """max over ``axes`` by an explicit loop, and the gradient of sum(w * max) (first maximum)."""
    kept = [i for i in range(x.ndim) if i not in axes]
    y = np.zeros([x.shape[i] for i in kept])
    gx = np.zeros_like(x)
    for out in np.ndindex(*y.shape):
        best = None
        for red in np.ndindex(*[x.shape[i] for i in axes]):
            index = [0] * x.ndim
            for i, v in zip(kept, out):
                index[i] = v
            for i, v in zip(axes, red):
                index[i] = v
            if best is None or x[tuple(index)] > x[best]:
                best = tuple(index)
        y[out] = x[best]
        gx[best] += w[out]
    return y, gx


@pytest.mark.parametrize("axis, keepdims", [((1, 2), False), (1, True), (None, False), (-1, False), ((0, 2), True)])
def test_max_reduction(axis, keepdims, xp, rng):
    x = rng.integers(0, 3, (2, 3, 4, 2)).astype(np.float64)  # many ties
    t = Tensor(backend.to_device(x), requires_grad=True)
    y = max(t, axis=axis, keepdims=keepdims)
    axes = tuple(range(4)) if axis is None else tuple(a % 4 for a in ((axis,) if isinstance(axis, int) else axis))
    w = rng.standard_normal([1 if i in axes else n for i, n in enumerate(x.shape)] if keepdims else [n for i, n in enumerate(x.shape) if i not in axes])
    expected_y, expected_gx = max_reference(x, axes, w.reshape([n for i, n in enumerate(x.shape) if i not in axes]))
    assert y.shape == w.shape
    np.testing.assert_array_equal(y.numpy().reshape(expected_y.shape), expected_y)
    y.backward(backend.to_device(w))
    np.testing.assert_array_equal(backend.to_host(t.grad), expected_gx)


def test_max_reduction_gradcheck_and_errors(xp, rng):
    x = rng.permutation(24).reshape(2, 3, 4) * 0.1
    assert gradcheck(lambda a: max(a, axis=(1, 2)), [backend.to_device(x)])
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        max(Tensor(backend.to_device(x)), axis=3)
