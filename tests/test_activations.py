"""Keras 3's activation functions: values against float64 formulas and against Keras itself,
gradients by finite differences, names, files."""

import math
import os

import numpy as np
import pytest

import gpunet
from gpunet import Tensor, activations, gradcheck
from gpunet.layers import Activation, Dense, Input

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _sparsemax(z):
    """Martins and Astudillo's algorithm, row by row, in plain Python."""
    out = np.empty_like(z)
    for i, row in enumerate(z):
        ordered = sorted(row, reverse=True)
        k, total = 0, 0.0
        for j, v in enumerate(ordered, start=1):
            if 1 + j * v <= total + v:
                break  # the support is a prefix of the sorted entries
            k, total = j, total + v
        tau = (total - 1) / k
        out[i] = np.maximum(row - tau, 0)
    return out


# name -> (gpunet call, float64 reference)
REFERENCES = {
    "relu": (activations.relu, lambda x: np.maximum(x, 0)),
    "relu-options": (lambda x: activations.relu(x, negative_slope=0.3, max_value=2.5, threshold=0.7),
                     lambda x: np.where(x > 0.7, np.minimum(x, 2.5), 0.3 * (x - 0.7))),
    "leaky_relu": (activations.leaky_relu, lambda x: np.where(x >= 0, x, 0.2 * x)),
    "relu6": (activations.relu6, lambda x: np.clip(x, 0, 6)),
    "elu": (lambda x: activations.elu(x, alpha=0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0)))),
    "selu": (activations.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))),
    "celu": (lambda x: activations.celu(x, alpha=2.0), lambda x: np.maximum(x, 0) + 2 * np.expm1(np.minimum(x, 0) / 2)),
    "gelu": (activations.gelu, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "gelu-approximate": (lambda x: activations.gelu(x, approximate=True),
                         lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))),
    "silu": (activations.silu, lambda x: x * _sigmoid(x)),
    "softplus": (activations.softplus, _softplus),
    "softsign": (activations.softsign, lambda x: x / (1 + np.abs(x))),
    "squareplus": (lambda x: activations.squareplus(x, b=3), lambda x: (x + np.sqrt(x * x + 3)) / 2),
    "soft_shrink": (activations.soft_shrink, lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0))),
    "hard_shrink": (lambda x: activations.hard_shrink(x, 0.8), lambda x: np.where(np.abs(x) > 0.8, x, 0)),
    "sparse_plus": (activations.sparse_plus, lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4))),
    "sparse_sigmoid": (activations.sparse_sigmoid, lambda x: np.clip(x + 1, 0, 2) / 2),
    "glu": (activations.glu, lambda x: x[:, :3] * _sigmoid(x[:, 3:])),
    "tanh_shrink": (activations.tanh_shrink, lambda x: x - np.tanh(x)),
    "hard_tanh": (activations.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "threshold": (lambda x: activations.threshold(x, 0.4, -3.0), lambda x: np.where(x > 0.4, x, -3.0)),
    "exponential": (activations.exponential, np.exp),
    "hard_sigmoid": (activations.hard_sigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hard_silu": (activations.hard_silu, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "log_sigmoid": (activations.log_sigmoid, lambda x: -_softplus(-x)),
    "mish": (activations.mish, lambda x: x * np.tanh(_softplus(x))),
    "softmax": (activations.softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    "log_softmax": (activations.log_softmax, lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    "sparsemax": (activations.sparsemax, _sparsemax),
    "sigmoid": (activations.sigmoid, _sigmoid),
    "tanh": (activations.tanh, np.tanh),
}


def _inputs(seed=0, shape=(5, 6)):
    """Values away from every kink (0, +-0.4/0.5/0.7/0.8, +-1, +-3, 2.5, 6) so that finite
    differences see one smooth piece."""
    x = np.random.default_rng(seed).uniform(-4, 7, shape)
    kinks = np.array([0, 0.4, -0.4, 0.5, -0.5, 0.7, -0.7, 0.8, -0.8, 1, -1, 3, -3, 2.5, 6])
    close = np.abs(x[..., None] - kinks).min(-1) < 0.05
    return np.where(close, x + 0.1, x)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_values_match_float64_formulas(name):
    fn, reference = REFERENCES[name]
    x = _inputs()
    got = fn(Tensor(x))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.numpy(), reference(x), rtol=1e-12, atol=1e-14)
    assert fn(Tensor(x.astype(np.float32))).dtype == np.float32


@pytest.mark.parametrize("name", list(REFERENCES))
def test_gradients_by_finite_differences(name):
    fn, _ = REFERENCES[name]
    assert gradcheck(fn, [_inputs(1)])


def test_prelu_op_gradients():
    x, alpha = _inputs(2, (4, 3, 2)), np.random.default_rng(3).uniform(0, 1, (3, 1))
    assert gradcheck(gpunet.ops.prelu, [x, alpha])
    np.testing.assert_allclose(gpunet.ops.prelu(Tensor(x), Tensor(alpha)).numpy(), np.where(x > 0, x, alpha * x))


def test_sparsemax_is_a_projection_onto_the_simplex():
    x = np.random.default_rng(4).uniform(-0.5, 0.5, (20, 7))
    y = activations.sparsemax(Tensor(x)).numpy()
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-12)
    assert (y >= 0).all() and (y == 0).any()
    y0 = activations.sparsemax(Tensor(x.T), axis=0).numpy()
    np.testing.assert_allclose(y0, y.T, rtol=1e-12, atol=1e-15)


def test_no_overflow_warning_for_large_inputs():
    x = Tensor(np.array([-1e4, -100.0, 0.0, 100.0, 1e4], np.float32))
    for name in ("elu", "selu", "celu", "softplus", "log_sigmoid", "mish", "silu", "gelu"):
        y = activations.get(name)(x).numpy()
        assert np.isfinite(y).all(), name


def test_names_aliases_and_files():
    assert activations.get("swish") is activations.silu and activations.serialize(activations.swish) == "silu"
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.serialize(activations.get("hard_swish")) == "hard_silu"
    assert activations.get(None) is activations.linear and activations.get("ReLU") is activations.relu
    assert activations.deserialize({"module": "keras.activations", "class_name": "function", "config": "gelu",
                                    "registered_name": "gelu"}) is activations.gelu
    for name in activations._BY_NAME:
        assert activations.get(activations.serialize(activations.get(name))) is activations.get(name)
    assert activations.get(gpunet.ops.relu) is activations.relu and activations.get(gpunet.ops.activation.gelu) is activations.gelu
    assert activations.serialize(Dense(2, activation=gpunet.ops.relu).activation) == "relu"
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        activations.get("swishy")
    with pytest.raises(ValueError, match="'threshold' needs arguments"):
        activations.get("threshold")
    with pytest.raises(ValueError, match="custom callable"):
        activations.serialize(lambda x: x)
    with pytest.raises(ValueError, match="must be even"):
        activations.glu(Tensor(np.ones((2, 3))))


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "gelu", "silu", "mish", "hard_silu", "softsign", "selu"])
def test_layers_take_every_name_and_train_recorded(name, tmp_path):
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([Input((4,)), Dense(6, activation=name), Activation(name), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    y = np.random.default_rng(1).standard_normal((16, 2)).astype(np.float32)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert model.make_train_step()._plan()  # every layer keeps the recording contract
    model.save(tmp_path / "m.h5")
    again = gpunet.load_model(tmp_path / "m.h5")
    assert again.layers[0].activation is activations.get(name)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


# ---------------------------------------------------------------------------------------------
# against Keras 3
# ---------------------------------------------------------------------------------------------
def _keras():
    pytest.importorskip("jax", reason="the Keras comparisons run Keras 3 on JAX")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras", minversion="3.0")


KERAS_CALLS = {  # how to call Keras for each case, arguments included
    "relu-options": lambda k, x: k.activations.relu(x, negative_slope=0.3, max_value=2.5, threshold=0.7),
    "elu": lambda k, x: k.activations.elu(x, alpha=0.7),
    "celu": lambda k, x: k.activations.celu(x, alpha=2.0),
    "gelu-approximate": lambda k, x: k.activations.gelu(x, approximate=True),
    "squareplus": lambda k, x: k.activations.squareplus(x, b=3),
    "hard_shrink": lambda k, x: k.activations.hard_shrink(x, 0.8),
    "threshold": lambda k, x: k.activations.threshold(x, 0.4, -3.0),
}


@pytest.mark.parametrize("name", [n for n in REFERENCES if n != "sparsemax"])
def test_values_match_keras(name):
    keras = _keras()
    x = _inputs(5).astype(np.float32)
    fn, _ = REFERENCES[name]
    call = KERAS_CALLS.get(name, lambda k, x: k.activations.get(name)(x))
    expected = np.asarray(call(keras, x))
    np.testing.assert_allclose(fn(Tensor(x)).numpy(), expected, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("options", [{}, {"negative_slope": 0.1}, {"max_value": 6.0}, {"max_value": 1.5},
                                     {"threshold": 1.2}, {"threshold": -0.5, "max_value": 3.0}, {"threshold": -0.5}])
def test_relu_options_match_keras(options):
    keras = _keras()
    x = _inputs(6).astype(np.float32)
    np.testing.assert_allclose(activations.relu(Tensor(x), **options).numpy(), np.asarray(keras.activations.relu(x, **options)),
                               rtol=1e-6, atol=1e-7)


def test_every_keras_activation_name_is_known():
    keras = _keras()
    names = {n for n in dir(keras.activations) if not n.startswith("_")} - {"get", "serialize", "deserialize"}
    assert names - set(activations.__all__) == set()
    for name in names - {"threshold"}:
        assert keras.activations.serialize(keras.activations.get(name)) == activations.serialize(activations.get(name))


def test_sparsemax_agrees_with_keras_where_keras_is_a_projection():
    """With one entry kept per row Keras's sparsemax is the projection; with more it is not
    (its outputs do not sum to 1), which gpunet does not copy."""
    keras = _keras()
    x = np.array([[3.0, 0.5, 0.1], [0.0, 2.5, -1.0]], np.float32)
    np.testing.assert_allclose(activations.sparsemax(Tensor(x)).numpy(), np.asarray(keras.activations.sparsemax(x)), atol=1e-7)
    spread = np.array([[1.0, 1.2, 0.0]], np.float32)
    assert not np.isclose(np.asarray(keras.activations.sparsemax(spread)).sum(), 1.0)
    np.testing.assert_allclose(activations.sparsemax(Tensor(spread)).numpy(), [[0.4, 0.6, 0.0]], rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(REFERENCES))
def test_the_device_computes_what_the_host_computes(cp, name):
    """Each activation and its gradient on CuPy arrays against the same op on NumPy arrays."""
    fn, _ = REFERENCES[name]
    x = _inputs(7).astype(np.float32)
    seed = np.random.default_rng(8).standard_normal(fn(Tensor(x)).shape).astype(np.float32)
    results = []
    for array in (x, cp.asarray(x)):
        t = Tensor(array, requires_grad=True)
        out = fn(t)
        (out * Tensor(cp.asarray(seed) if array is not x else seed)).sum().backward()
        results.append((gpunet.backend.to_host(out.data), gpunet.backend.to_host(t.grad)))
    (host, host_grad), (device, device_grad) = results
    np.testing.assert_allclose(device, host, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(device_grad, host_grad, rtol=2e-6, atol=1e-6)


@pytest.mark.gpu
def test_prelu_on_the_device(cp):
    x = _inputs(9, (4, 3, 2)).astype(np.float32)
    alpha = np.random.default_rng(10).uniform(0, 1, (3, 1)).astype(np.float32)
    results = []
    for to in (np.asarray, cp.asarray):
        t, a = Tensor(to(x), requires_grad=True), gpunet.Parameter(to(alpha))
        out = gpunet.ops.prelu(t, a)
        out.sum().backward()
        results.append([gpunet.backend.to_host(v) for v in (out.data, t.grad, a.grad)])
    for host, device in zip(*results):
        np.testing.assert_allclose(device, host, rtol=1e-6, atol=1e-6)
