"""Convolution (gpunet.ops.convolution.conv) against a direct nested-loop float64 reference, its
gradients by finite differences, zero padding, the fused convolution + max pooling, replay on a
tape, and argument errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gpunet import Tensor, backend, gradcheck
from gpunet.autograd import Tape
from gpunet.ops import cross_entropy, reshape
from gpunet.ops import convolution
from gpunet.ops.convolution import conv, conv_max_pool, conv_output_shape, max_pool, pad_spatial

ACTIVATIONS = {
    None: lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
}


def _pads(n, k, s, d, padding):
    """Keras/TensorFlow padding of one spatial dim of size n: (before, after)."""
    span = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    out = -(-n // s)
    total = max((out - 1) * s + span - n, 0)
    return total // 2, total - total // 2


def conv_reference(x, kernel, bias, strides, padding, dilation, activation):
    """Direct convolution: loops over batch, output positions, kernel positions and channels."""
    rank = kernel.ndim - 2
    strides = (strides,) * rank if isinstance(strides, int) else strides
    dilation = (dilation,) * rank if isinstance(dilation, int) else dilation
    ksize, c_in, c_out = kernel.shape[:-2], kernel.shape[-2], kernel.shape[-1]
    pads = [_pads(n, k, s, d, padding) for n, k, s, d in zip(x.shape[1:-1], ksize, strides, dilation)]
    xp = np.pad(x, [(0, 0), *pads, (0, 0)])
    out_shape = [
        (n - (k - 1) * d - 1) // s + 1 for n, k, s, d in zip(xp.shape[1:-1], ksize, strides, dilation)
    ]
    y = np.zeros((x.shape[0], *out_shape, c_out))
    for b in range(x.shape[0]):
        for pos in itertools.product(*(range(o) for o in out_shape)):
            for kpos in itertools.product(*(range(k) for k in ksize)):
                src = tuple(p * s + q * d for p, q, s, d in zip(pos, kpos, strides, dilation))
                for ci in range(c_in):
                    for co in range(c_out):
                        y[(b, *pos, co)] += xp[(b, *src, ci)] * kernel[(*kpos, ci, co)]
    if bias is not None:
        y += bias
    return ACTIVATIONS[activation](y)


# (name, x shape, kernel shape, strides, padding, dilation, bias, activation)
CASES = [
    ("2d_valid", (2, 7, 5, 3), (3, 3, 3, 4), 1, "valid", 1, True, None),
    ("2d_same_relu", (2, 7, 5, 2), (3, 3, 2, 3), 1, "same", 1, True, "relu"),
    ("2d_same_even_kernel", (1, 6, 5, 2), (2, 4, 2, 2), 1, "same", 1, False, None),
    ("2d_stride2_same", (2, 7, 5, 2), (3, 3, 2, 3), 2, "same", 1, True, "tanh"),
    ("2d_stride3_valid", (1, 7, 8, 2), (2, 3, 2, 2), 3, "valid", 1, True, "sigmoid"),
    ("2d_unequal_strides", (2, 7, 5, 2), (3, 2, 2, 3), (2, 1), "valid", 1, True, None),
    ("2d_dilation2_same", (1, 7, 6, 2), (3, 3, 2, 2), 1, "same", 2, True, "relu"),
    ("2d_dilation_per_dim", (1, 7, 6, 2), (2, 3, 2, 2), 1, "valid", (2, 1), False, None),
    ("2d_stride2_dilation2", (1, 9, 8, 2), (3, 3, 2, 2), 2, "same", 2, True, None),
    ("2d_batch1_c1", (1, 7, 5, 1), (3, 3, 1, 4), 1, "valid", 1, True, "relu"),
    ("2d_1x1", (2, 4, 3, 3), (1, 1, 3, 2), 1, "valid", 1, True, None),
    ("2d_kernel_is_input", (2, 3, 4, 2), (3, 4, 2, 3), 1, "valid", 1, True, None),
    ("1d_valid", (2, 9, 3), (3, 3, 4), 1, "valid", 1, True, None),
    ("1d_same_stride2", (2, 9, 2), (4, 2, 3), 2, "same", 1, True, "tanh"),
    ("1d_causal", (2, 8, 2), (3, 2, 3), 1, "causal", 1, True, "relu"),
    ("1d_causal_dilation2", (1, 8, 2), (3, 2, 2), 1, "causal", 2, False, None),
    ("1d_causal_stride3", (2, 10, 2), (2, 2, 2), 3, "causal", 1, True, "sigmoid"),
    ("1d_dilation2_valid", (2, 9, 1), (3, 1, 2), 2, "valid", 2, True, None),
]
GRAD_CASES = ["2d_valid", "2d_batch1_c1", "1d_dilation2_valid", "2d_stride2_same", "2d_dilation2_same", "2d_unequal_strides", "1d_causal_dilation2", "1d_same_stride2", "2d_stride3_valid"]


def _case(name):
    return next(c for c in CASES if c[0] == name)


def _inputs(case, rng):
    _, x_shape, k_shape, *_, has_bias, _ = case
    x = rng.standard_normal(x_shape)
    kernel = rng.standard_normal(k_shape) * 0.5
    bias = rng.standard_normal(k_shape[-1]) if has_bias else None
    return x, kernel, bias


def _call(case, x, kernel, bias):
    _, _, _, strides, padding, dilation, _, activation = case
    return conv(x, kernel, bias, strides=strides, padding=padding, dilation=dilation, activation=activation)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_conv_matches_direct_loops(case, xp, rng):
    x, kernel, bias = _inputs(case, rng)
    _, _, _, strides, padding, dilation, _, activation = case
    tensors = [Tensor(backend.to_device(a)) if a is not None else None for a in (x, kernel, bias)]
    y = _call(case, *tensors)
    expected = conv_reference(x, kernel, bias, strides, padding, dilation, activation)
    assert y.dtype == np.float64
    assert y.shape == expected.shape
    assert y.shape[1:-1] == conv_output_shape(x.shape[1:-1], kernel.shape[:-2], strides, padding, dilation)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", GRAD_CASES)
def test_conv_gradcheck(name, xp, rng):
    case = _case(name)
    x, kernel, bias = _inputs(case, rng)
    arrays = [backend.to_device(a) for a in (x, kernel, bias) if a is not None]
    assert gradcheck(lambda *t: _call(case, *t, *(() if bias is not None else (None,))), arrays, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("name", ["2d_batch1_c1", "2d_stride2_same"])
def test_conv_gradcheck_with_constant_input(name, xp, rng):
    """The network's input needs no gradient: the path that skips it still gets the kernel's and
    the bias's right (one channel: the transposed window matrix of a grayscale first layer)."""
    case = _case(name)
    x, kernel, bias = _inputs(case, rng)
    constant = Tensor(backend.to_device(x))
    assert gradcheck(lambda k, b: _call(case, constant, k, b), [backend.to_device(kernel), backend.to_device(bias)])


@pytest.mark.parametrize("name", ["2d_valid", "2d_batch1_c1"])
def test_conv_of_a_strided_view(name, xp, rng):
    """Views are read through their own strides: a transposed one (what a channels_first layer
    passes) and every other row of a larger array."""
    case = _case(name)
    x, kernel, bias = _inputs(case, rng)
    if x.shape[-1] > 1:
        view = backend.to_device(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).transpose(0, 2, 3, 1)
    else:
        larger = np.zeros((x.shape[0], 2 * x.shape[1], x.shape[2] + 1, 1))
        larger[:, ::2, 1:] = x
        view = backend.to_device(larger)[:, ::2, 1:]
    assert not view.flags.c_contiguous
    y = _call(case, Tensor(view), Tensor(backend.to_device(kernel)), Tensor(backend.to_device(bias)))
    np.testing.assert_allclose(y.numpy(), conv_reference(x, kernel, bias, *case[3:6], case[7]), rtol=1e-10, atol=1e-12)


def test_conv_float32_stays_float32(xp, rng):
    x, kernel, bias = (a.astype(np.float32) for a in _inputs(_case("2d_same_relu"), rng))
    tensors = [Tensor(backend.to_device(a), requires_grad=True) for a in (x, kernel, bias)]
    y = conv(*tensors, padding="same", activation="relu")
    y.sum().backward()
    assert y.dtype == np.float32 and all(t.grad.dtype == np.float32 for t in tensors)
    expected = conv_reference(*(a.astype(np.float64) for a in (x, kernel, bias)), 1, "same", 1, "relu")
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_conv_output_shape():
    assert conv_output_shape((28, 28), 3) == (26, 26)
    assert conv_output_shape((7, 5), (3, 2), strides=2, padding="same") == (4, 3)
    assert conv_output_shape((7, None), 3, strides=(3, 1), padding="valid") == (2, None)
    assert conv_output_shape((9,), 3, dilation=2) == (5,)
    assert conv_output_shape((10,), 4, strides=3, padding="causal") == (4,)
    assert conv_output_shape((None,), 3) == (None,)


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (((4, 4), 5), {}, r"kernel_size \(5, 5\) .*larger than the padded input \(4, 4\)"),
        (((7, 7), 3), {"dilation": 4}, r"kernel_size \(3, 3\) \(spanning \(9, 9\).*larger than the padded input"),
        (((7, 7), 3), {"strides": 0}, "strides must be positive"),
        (((7, 7), 3), {"strides": (1, 2, 1)}, r"strides must be an int or a tuple of 2 ints"),
        (((7, 7), 3), {"dilation": (1, -1)}, "dilation must be positive"),
        (((7, 7), 0), {}, "kernel_size must be positive"),
        (((7, 7), 3), {"padding": "full"}, "padding must be one of"),
        (((7, 7), 3), {"padding": "causal"}, "causal' is only for 1D"),
    ],
)
def test_conv_output_shape_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_output_shape(*args, **kwargs)


def test_conv_argument_errors():
    x = Tensor(np.zeros((2, 6, 6, 3)))
    with pytest.raises(ValueError, match=r"x has 3 channels but the kernel .* expects 2"):
        conv(x, Tensor(np.zeros((3, 3, 2, 4))))
    with pytest.raises(ValueError, match=r"must have 3 dims .* for a kernel of shape \(3, 3, 4\)"):
        conv(x, Tensor(np.zeros((3, 3, 4))))
    with pytest.raises(ValueError, match=r"kernel must have shape"):
        conv(x, Tensor(np.zeros((3, 3))))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        conv(x, Tensor(np.zeros((3, 3, 3, 4))), Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match="activation must be None or one of"):
        conv(x, Tensor(np.zeros((3, 3, 3, 4))), activation="softmax")
    with pytest.raises(ValueError, match=r"kernel_size \(7, 7\) .*larger than the padded input \(6, 6\)"):
        conv(x, Tensor(np.zeros((7, 7, 3, 1))))
    with pytest.raises(ValueError, match="causal' is only for 1D"):
        conv(x, Tensor(np.zeros((3, 3, 3, 1))), padding="causal")


# ----------------------------------------------------------------------------------------------
# zero padding
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, pads", [((2, 3, 4, 2), ((1, 2), (0, 3))), ((2, 5, 3), ((2, 1),)), ((1, 2, 2, 1), ((0, 0), (0, 0)))])
def test_pad_values_and_gradient(shape, pads, xp, rng):
    x = rng.standard_normal(shape)
    expected = np.zeros((shape[0], *(n + b + a for n, (b, a) in zip(shape[1:-1], pads)), shape[-1]))
    expected[(slice(None), *(slice(b, b + n) for n, (b, _) in zip(shape[1:-1], pads)))] = x
    t = Tensor(backend.to_device(x), requires_grad=True)
    y = pad_spatial(t, pads)
    np.testing.assert_array_equal(y.numpy(), expected)
    w = rng.standard_normal(expected.shape)
    y.backward(backend.to_device(w))
    np.testing.assert_array_equal(backend.to_host(t.grad), w[(slice(None), *(slice(b, b + n) for n, (b, _) in zip(shape[1:-1], pads)))])
    assert gradcheck(lambda a: pad_spatial(a, pads), [backend.to_device(x)])


@pytest.mark.parametrize("pads", [((1, 1),), ((1, 1), (1, -1)), ((1, 1), (2,)), 2, ((1, 1), (1.5, 0))])
def test_pad_errors(pads):
    with pytest.raises(ValueError, match="pads must be one"):
        pad_spatial(Tensor(np.zeros((1, 3, 3, 1))), pads)


# ----------------------------------------------------------------------------------------------
# convolution and max pooling in one op
# ----------------------------------------------------------------------------------------------
# (name, x shape, kernel shape, strides, padding, dilation, pool_size, pool strides, pool padding)
FUSED_CASES = [
    ("2d_remainder", (3, 9, 8, 2), (3, 3, 2, 3), 1, "valid", 1, 2, None, "valid"),
    ("2d_one_channel_same_pool", (2, 8, 7, 1), (3, 3, 1, 4), 1, "valid", 1, 2, None, "same"),
    ("2d_overlapping_pool", (2, 9, 9, 2), (3, 3, 2, 3), 2, "same", 1, 3, 1, "valid"),
    ("2d_dilated_unequal_pool", (2, 9, 8, 2), (2, 3, 2, 2), 1, "valid", (2, 1), (2, 3), (1, 2), "same"),
    ("1d_causal", (3, 10, 2), (3, 2, 3), 1, "causal", 1, 2, None, "valid"),
    ("1d_same_overlapping_pool", (2, 9, 1), (4, 1, 2), 1, "same", 1, 3, 2, "same"),
]


def _fused_inputs(case, rng):
    _, x_shape, k_shape, *_ = case
    return rng.standard_normal(x_shape), rng.standard_normal(k_shape) * 0.5


def _fused(case, x, kernel):
    _, _, _, strides, padding, dilation, pool_size, pool_strides, pool_padding = case
    return conv_max_pool(x, kernel, strides=strides, padding=padding, dilation=dilation, pool_size=pool_size,
                         pool_strides=pool_strides, pool_padding=pool_padding)


def _unfused(case, x, kernel):
    _, _, _, strides, padding, dilation, pool_size, pool_strides, pool_padding = case
    product = conv(x, kernel, strides=strides, padding=padding, dilation=dilation)
    return max_pool(product, pool_size, strides=pool_strides, padding=pool_padding)


def _values_and_gradients(f, case, x, kernel, upstream, grads=(True, True)):
    tensors = [Tensor(backend.to_device(a), requires_grad=g) for a, g in zip((x, kernel), grads)]
    y = f(case, *tensors)
    (y * Tensor(backend.to_device(upstream))).sum().backward()
    return [y.numpy()] + [None if t.grad is None else backend.to_host(t.grad) for t in tensors]


@pytest.mark.parametrize("grads", [(True, True), (False, True), (True, False)], ids=["both", "kernel", "input"])
@pytest.mark.parametrize("split", ["whole", "per_image_blocks_on_threads"])
@pytest.mark.parametrize("case", FUSED_CASES, ids=lambda c: c[0])
def test_conv_max_pool_is_max_pool_of_conv(case, split, grads, xp, rng, monkeypatch):
    """The fused op gives the two ops' values and gradients (each op checked against nested loops
    above and in test_pool.py), whether the batch is one block or split into one-image blocks
    over two threads; with the input or the kernel constant (a first layer, a frozen one)."""
    if split != "whole":
        monkeypatch.setattr(convolution, "_BLOCK_BYTES", 1)
        monkeypatch.setattr(backend.threads, "_PARALLEL_MIN", 0)
        monkeypatch.setenv("GPUNET_NUM_THREADS", "2")
    x, kernel = _fused_inputs(case, rng)
    with backend.host_parallelism():
        y = _fused(case, Tensor(backend.to_device(x)), Tensor(backend.to_device(kernel)))
        upstream = rng.standard_normal(y.shape)
        fused = _values_and_gradients(_fused, case, x, kernel, upstream, grads)
    reference = _values_and_gradients(_unfused, case, x, kernel, upstream, grads)
    for got, expected in zip(fused, reference):
        assert (got is None) == (expected is None)
        if got is not None:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["2d_remainder", "1d_same_overlapping_pool"])
def test_conv_max_pool_gradcheck(name, xp, rng):
    case = next(c for c in FUSED_CASES if c[0] == name)
    x, kernel = _fused_inputs(case, rng)
    assert gradcheck(lambda *t: _fused(case, *t), [backend.to_device(x), backend.to_device(kernel)], atol=1e-7, rtol=1e-6)


def test_conv_max_pool_refuses_a_pool_that_leaves_no_output(rng):
    x, kernel = Tensor(rng.standard_normal((1, 5, 5, 1))), Tensor(rng.standard_normal((3, 3, 1, 2)))
    with pytest.raises(ValueError, match="pool_size"):
        conv_max_pool(x, kernel, pool_size=4)


# ----------------------------------------------------------------------------------------------
# replay
# ----------------------------------------------------------------------------------------------
def test_replayed_graph_matches_eager(xp, rng):
    """conv -> pad -> max_pool -> conv -> loss recorded once, replayed on other batches (other
    sizes too): exactly eager autograd's values and gradients."""
    k1, b1 = rng.standard_normal((3, 3, 2, 3)), rng.standard_normal(3)
    k2 = rng.standard_normal((2, 2, 3, 4))
    params = [Tensor(backend.to_device(a), requires_grad=True) for a in (k1, b1, k2)]

    def step(x, labels):
        h = conv(x, params[0], params[1], padding="same", activation="relu")
        h = max_pool(pad_spatial(h, ((1, 0), (0, 1))), 2, strides=(2, 1))
        h = conv(h, params[2], strides=2, activation="tanh")
        return (cross_entropy(reshape(h.mean(axis=(1, 2)), (-1, 4)), labels),)

    def batch(n, h, w):
        return backend.to_device(rng.standard_normal((n, h, w, 2))), backend.to_device(rng.integers(0, 4, n))

    first = batch(3, 7, 6)
    tape, (loss,) = Tape.record(step, [Tensor(a) for a in first], params)
    assert tape is not None, Tape.last_refusal
    for n, h, w in [(5, 7, 6), (2, 9, 8)]:
        arrays = batch(n, h, w)
        (replayed,) = tape.forward(*arrays)
        grads = tape.backward(xp.ones((), np.float64))
        for p in params:
            p.grad = None
        (eager,) = step(*[Tensor(a) for a in arrays])
        eager.backward()
        np.testing.assert_array_equal(backend.to_host(replayed), eager.numpy())
        for g, p in zip(grads, params):
            np.testing.assert_array_equal(backend.to_host(g), backend.to_host(p.grad))
