"""gpunet.ops.nn against the real Keras 3 (values, shapes, dtypes over a table of calls), finite-
difference gradients in float64, the errors for what gpunet refuses, and how much of
keras.ops.nn gpunet has."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Tensor, gradcheck, keras_api
from gpunet.ops import nn
from keras_parity import assert_like_keras, import_keras

pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`:UserWarning")]

RNG = np.random.default_rng(7)


def rand(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape).astype(np.float32)


X = rand(3, 8)
IMG = rand(2, 7, 6, 3)
IMG_CF = np.moveaxis(IMG, -1, 1).copy()
SEQ = rand(2, 9, 3)
K2 = rand(3, 3, 3, 4)
K1 = rand(3, 3, 2)
DK = rand(3, 3, 3, 2)
PK = rand(1, 1, 6, 4)
KT = rand(3, 3, 4, 3)  # conv_transpose: (kh, kw, C_out, C_in)
PROBS = np.abs(rand(4, 5)) + 0.1
LABELS = RNG.integers(0, 5, 4)
ONE_HOT = np.eye(5, dtype=np.float32)[LABELS]
BIN_T = (RNG.random((4, 5)) < 0.5).astype(np.float32)
Q, KEY, V = rand(2, 4, 4, 8), rand(2, 5, 2, 8), rand(2, 5, 2, 8)
NCHW = rand(2, 3, 6, 5)

# Keras's sparsemax on JAX does not sum to 1 (its threshold adds every partial sum): compared with
# a NumPy reference in tests/test_activations.py instead
ACTIVATIONS = ["relu", "relu6", "sigmoid", "softplus", "softsign", "silu", "swish", "log_sigmoid", "leaky_relu",
               "hard_sigmoid", "hard_silu", "hard_swish", "elu", "selu", "celu", "gelu", "glu", "softmax",
               "log_softmax", "squareplus", "sparse_plus", "sparse_sigmoid", "soft_shrink",
               "hard_shrink", "hard_tanh", "tanh_shrink"]

# (name, positional arguments, keyword arguments)
CASES = [(name, (X,), {}) for name in ACTIVATIONS] + [
    ("leaky_relu", (X,), {"negative_slope": 0.1}),
    ("elu", (X,), {"alpha": 0.5}),
    ("gelu", (X,), {"approximate": False}),
    ("softmax", (X,), {"axis": 0}),
    ("log_softmax", (X,), {"axis": 0}),
    ("glu", (rand(4, 3),), {"axis": 0}),
    ("threshold", (X, 0.5, -1.0), {}),
    ("conv", (IMG, K2), {}),
    ("conv", (IMG, K2), {"strides": 2, "padding": "same"}),
    ("conv", (IMG, K2), {"dilation_rate": 2}),
    ("conv", (SEQ, K1), {"strides": 2}),
    ("conv", (IMG_CF, K2), {"data_format": "channels_first", "padding": "same"}),
    ("depthwise_conv", (IMG, DK), {}),
    ("depthwise_conv", (IMG, DK), {"strides": (2, 1), "padding": "same"}),
    ("separable_conv", (IMG, DK, PK), {"padding": "same"}),
    ("conv_transpose", (IMG, KT), {}),
    ("conv_transpose", (IMG, KT), {"strides": 2}),
    ("conv_transpose", (IMG, KT), {"strides": 2, "padding": "same"}),
    ("conv_transpose", (IMG, rand(2, 2, 4, 3)), {"strides": 3}),
    ("conv_transpose", (IMG, KT), {"strides": 2, "padding": "same", "output_padding": 1}),
    ("conv_transpose", (IMG, KT), {"dilation_rate": 2}),
    ("conv_transpose", (SEQ, rand(3, 4, 3)), {"strides": 2, "padding": "same"}),
    ("max_pool", (IMG, (2, 2), (2, 2)), {}),  # Keras on JAX fails for a tuple pool_size with strides None,
    ("max_pool", (IMG, (3, 3)), {"strides": 2, "padding": "same"}),
    ("average_pool", (IMG, (2, 2), (2, 2)), {}),
    ("average_pool", (IMG, (3, 2)), {"strides": 1, "padding": "same"}),
    ("average_pool", (IMG_CF, (2, 2), (2, 2)), {"data_format": "channels_first"}),
    ("adaptive_average_pool", (IMG, (3, 4)), {}),
    ("adaptive_max_pool", (IMG, (4, 4)), {}),
    ("adaptive_average_pool", (SEQ, 4), {}),
    ("unfold", (NCHW, 2), {}),
    ("unfold", (NCHW, (3, 2)), {"dilation": 1, "padding": 1, "stride": 2}),
    ("fold", (rand(2, 12, 20), (6, 5), 2), {}),
    ("fold", (rand(2, 18, 9), (6, 5), (3, 2)), {"padding": 1, "stride": 2}),
    ("depth_to_space", (rand(2, 3, 4, 8), 2), {}),
    ("depth_to_space", (rand(2, 8, 3, 4), 2), {"data_format": "channels_first"}),
    ("space_to_depth", (rand(2, 4, 6, 3), 2), {}),
    ("space_to_depth", (rand(2, 3, 4, 6), 2), {"data_format": "channels_first"}),
    ("one_hot", (LABELS, 5), {}),
    ("one_hot", (np.array([[0, 2], [-1, 1]]), 3), {"axis": 0, "dtype": "int32"}),
    ("multi_hot", (np.array([[0, 2], [1, 1]]), 4), {}),
    ("multi_hot", (np.array([0, 3]), 5), {}),
    ("moments", (IMG, (0, 1, 2)), {}),
    ("moments", (X, 1), {"keepdims": True}),
    ("batch_normalization", (IMG, rand(3), np.abs(rand(3)), -1), {"offset": rand(3), "scale": rand(3)}),
    ("batch_normalization", (IMG_CF, rand(3), np.abs(rand(3)), 1), {}),
    ("normalize", (X,), {}),
    ("normalize", (X,), {"axis": 0, "order": 1}),
    ("normalize", (X,), {"order": 3}),
    ("layer_normalization", (X, rand(8), rand(8)), {}),
    ("layer_normalization", (IMG,), {"axis": (1, 2), "epsilon": 1e-3}),
    ("layer_normalization", (X, rand(8)), {"rms_scaling": True}),
    ("rms_normalization", (X, rand(8)), {}),
    ("rms_normalization", (IMG,), {"axis": (1, 2)}),
    ("binary_crossentropy", (BIN_T, PROBS / PROBS.max()), {}),
    ("binary_crossentropy", (BIN_T, rand(4, 5)), {"from_logits": True}),
    ("categorical_crossentropy", (ONE_HOT, PROBS), {}),
    ("categorical_crossentropy", (ONE_HOT, rand(4, 5)), {"from_logits": True}),
    ("categorical_crossentropy", (ONE_HOT.T.copy(), PROBS.T.copy()), {"axis": 0}),
    ("sparse_categorical_crossentropy", (LABELS, PROBS), {}),
    ("sparse_categorical_crossentropy", (LABELS[:, None], rand(4, 5)), {"from_logits": True}),
    ("dot_product_attention", (Q, KEY, V), {}),
    ("dot_product_attention", (Q, KEY, V), {"is_causal": True, "scale": 0.5}),
    ("dot_product_attention", (Q, KEY, V), {"bias": rand(1, 4, 4, 5), "mask": RNG.random((2, 1, 4, 5)) < 0.7}),
    ("psnr", (np.abs(X), np.abs(X[::-1]), 2.0), {}),
    ("ctc_loss", (np.array([[1, 2, 2, 0], [3, 1, 0, 0], [4, 4, 4, 1]]), rand(3, 7, 5), np.array([3, 2, 2]),
                  np.array([7, 5, 6])), {}),
    ("ctc_loss", (np.array([[1, 2], [2, 2]]), rand(2, 6, 4), np.array([2, 0]), np.array([6, 6])), {"mask_index": 3}),
    ("ctc_decode", (rand(3, 8, 4), np.array([8, 5, 0])), {}),
    ("ctc_decode", (rand(3, 8, 4), np.array([8, 6, 3])), {"merge_repeated": False, "mask_index": 2}),
    ("ctc_decode", (np.eye(3, dtype=np.float32)[[1, 1, 0, 1, 2, 2, 0]][None], np.array([7])), {}),
]


@pytest.fixture(scope="module")
def keras():
    return import_keras()


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_like_keras(keras, xp, name, args, kwargs):
    theirs = getattr(keras.ops.nn, name)(*args, **kwargs)
    ours = getattr(nn, name)(*args, **kwargs)
    assert_like_keras(ours, theirs, rtol=2e-5, atol=2e-5, name=name)


def f64(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape)


# (name, function of the checked tensors, inputs): gradients against finite differences
GRADIENTS = [
    ("glu", lambda x: nn.glu(x), [f64(3, 4)]),
    ("gelu", lambda x: nn.gelu(x), [f64(3, 4)]),
    ("conv", lambda x, k: nn.conv(x, k, strides=2, padding="same"), [f64(1, 5, 5, 2), f64(3, 3, 2, 3)]),
    ("depthwise_conv", lambda x, k: nn.depthwise_conv(x, k, padding="same"), [f64(1, 4, 4, 2), f64(3, 3, 2, 2)]),
    ("separable_conv", lambda x, d, p: nn.separable_conv(x, d, p), [f64(1, 4, 4, 2), f64(2, 2, 2, 1), f64(1, 1, 2, 3)]),
    ("conv_transpose", lambda x, k: nn.conv_transpose(x, k, strides=2, padding="same"),
     [f64(1, 3, 3, 2), f64(3, 3, 3, 2)]),
    ("adaptive_average_pool", lambda x: nn.adaptive_average_pool(x, (2, 3)), [f64(1, 5, 4, 2)]),
    ("average_pool", lambda x: nn.average_pool(x, 2, data_format="channels_first"), [f64(1, 2, 4, 4)]),
    ("unfold", lambda x: nn.unfold(x, 2, padding=1, stride=2), [f64(1, 2, 4, 3)]),
    ("fold", lambda x: nn.fold(x, (4, 3), 2, padding=1, stride=2), [f64(1, 8, 6)]),
    ("depth_to_space", lambda x: nn.depth_to_space(x, 2), [f64(1, 2, 2, 8)]),
    ("space_to_depth", lambda x: nn.space_to_depth(x, 2), [f64(1, 4, 2, 2)]),
    ("moments", lambda x: nn.moments(x, (0, 1))[1], [f64(3, 4, 2)]),
    ("batch_normalization", lambda x, m, v, o, s: nn.batch_normalization(x, m, v, -1, o, s),
     [f64(3, 4), f64(4), f64(4, low=0.5), f64(4), f64(4)]),
    ("normalize", lambda x: nn.normalize(x), [f64(3, 4)]),
    ("normalize order 3", lambda x: nn.normalize(x, order=3), [f64(3, 4, low=0.2)]),
    ("layer_normalization", lambda x, g, b: nn.layer_normalization(x, g, b), [f64(3, 4), f64(4), f64(4)]),
    ("rms_normalization", lambda x, s: nn.rms_normalization(x, s), [f64(3, 4), f64(4)]),
    ("binary_crossentropy", lambda p: nn.binary_crossentropy(BIN_T[:3, :4].astype(np.float64), p),
     [f64(3, 4, low=0.1, high=0.9)]),
    ("categorical_crossentropy", lambda z: nn.categorical_crossentropy(ONE_HOT[:3].astype(np.float64), z, True),
     [f64(3, 5)]),
    ("sparse_categorical_crossentropy", lambda p: nn.sparse_categorical_crossentropy(LABELS[:3], p),
     [f64(3, 5, low=0.1, high=1.0)]),
    ("dot_product_attention", lambda q, k, v: nn.dot_product_attention(q, k, v, is_causal=True),
     [f64(1, 3, 2, 4), f64(1, 3, 1, 4), f64(1, 3, 1, 4)]),
    ("psnr", lambda a, b: nn.psnr(a, b, 1.0), [f64(3, 4), f64(3, 4)]),
    ("ctc_loss", lambda z: nn.ctc_loss(np.array([[1, 1], [2, 0]]), z, np.array([2, 1]), np.array([5, 4])),
     [f64(2, 5, 3)]),
]


@pytest.mark.parametrize("name,fn,inputs", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_gradients(name, fn, inputs):
    assert gradcheck(fn, inputs)


def test_pools_default_strides_to_pool_size():
    assert np.array_equal(nn.max_pool(IMG, 2).numpy(), nn.max_pool(IMG, (2, 2), (2, 2)).numpy())


def test_results_are_tensors_that_backward_runs_through():
    x = Tensor(IMG, requires_grad=True)
    y = nn.conv(x, K2, padding="same")
    assert isinstance(y, Tensor)
    y.sum().backward()
    assert x.grad.shape == IMG.shape and np.abs(gpunet.backend.to_host(x.grad)).sum() > 0


@pytest.mark.parametrize("call,message", [
    (lambda: nn.conv(IMG, K2, data_format="nchw"), "data_format"),
    (lambda: nn.conv_transpose(IMG, KT, padding="causal"), "padding"),
    (lambda: nn.one_hot(LABELS, 0), "num_classes"),
    (lambda: nn.one_hot(LABELS, 5, sparse=True), "sparse"),
    (lambda: nn.moments(X, 0, synchronized=True), "synchronized"),
    (lambda: nn.normalize(X, order=0), "order"),
    (lambda: nn.glu(rand(2, 3)), "even"),
    (lambda: nn.depth_to_space(rand(1, 2, 2, 6), 2), "divisible"),
    (lambda: nn.categorical_crossentropy(ONE_HOT, PROBS[:3]), "same shape"),
    (lambda: nn.dot_product_attention(Q, KEY, V, flash_attention=True), "flash_attention"),
    (lambda: nn.psnr(X, X[:2], 1.0), "same shape"),
    (lambda: nn.ctc_loss(LABELS, PROBS, [1], [1]), "ctc_loss"),
    (lambda: nn.ctc_decode(rand(1, 3, 2), [3], strategy="beam_search"), "strategy"),
])
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_coverage_of_keras_ops_nn():
    have = keras_api.supported("keras.ops.nn")
    assert len(have) >= 45
    assert sorted(nn.__all__) == have
    missing = sorted(set(keras_api.keras_names("keras.ops.nn")) - set(have))
    assert missing == ["polar"]
    for name in nn.__all__:  # keras.ops exports every nn name too, so does gpunet.ops
        assert getattr(gpunet.ops, name) is getattr(nn, name)
