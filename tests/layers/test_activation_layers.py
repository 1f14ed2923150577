"""LeakyReLU, ReLU, PReLU, ELU and Softmax: Keras 3's arguments, defaults, values, gradients and configs."""

import os
import warnings

import numpy as np
import pytest

import gpunet
from gpunet import Tensor, backend, gradcheck
from gpunet.layers import ELU, Dense, Input, LeakyReLU, PReLU, ReLU, Softmax

LAYERS = {  # name -> (layer factory, float64 reference of its output)
    "leaky_relu-default": (lambda: LeakyReLU(), lambda x: np.where(x >= 0, x, 0.3 * x)),
    "leaky_relu": (lambda: LeakyReLU(negative_slope=0.05), lambda x: np.where(x >= 0, x, 0.05 * x)),
    "relu": (lambda: ReLU(), lambda x: np.maximum(x, 0)),
    "relu-options": (lambda: ReLU(max_value=1.5, negative_slope=0.2, threshold=0.3),
                     lambda x: np.where(x > 0.3, np.minimum(x, 1.5), 0.2 * (x - 0.3))),
    "relu6": (lambda: ReLU(max_value=6), lambda x: np.clip(x, 0, 6)),
    "elu": (lambda: ELU(), lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "elu-alpha": (lambda: ELU(alpha=0.4), lambda x: np.where(x > 0, x, 0.4 * np.expm1(np.minimum(x, 0)))),
    "softmax": (lambda: Softmax(), lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    "softmax-axis": (lambda: Softmax(axis=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    "softmax-axes": (lambda: Softmax(axis=[1, 2]), lambda x: np.exp(x) / np.exp(x).sum((1, 2), keepdims=True)),
    "prelu": (lambda: PReLU(alpha_initializer=gpunet.initializers.Constant(0.25)), lambda x: np.where(x > 0, x, 0.25 * x)),
    "prelu-shared": (lambda: PReLU(alpha_initializer=0.125, shared_axes=[1, 2]), lambda x: np.where(x > 0, x, 0.125 * x)),
}


def _x(seed=0, shape=(4, 3, 5), dtype=np.float64):
    x = np.random.default_rng(seed).uniform(-4, 8, shape)
    kinks = np.array([0, 0.3, 1.5, 6])
    x = np.where(np.abs(x[..., None] - kinks).min(-1) < 0.05, x + 0.1, x)
    return x.astype(dtype)


@pytest.mark.parametrize("name", list(LAYERS))
def test_values_gradients_and_config_round_trip(name):
    make, reference = LAYERS[name]
    layer = make()
    x = _x()
    np.testing.assert_allclose(layer(Tensor(x)).numpy(), reference(x), rtol=1e-12, atol=1e-14)
    layer64 = type(layer).from_config({**layer.get_config(), "dtype": "float64", "name": None})
    assert gradcheck(lambda t: layer64(t), [_x(1)])
    again = type(layer).from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    assert layer.supports_recording
    assert layer(Tensor(x.astype(np.float32))).dtype == np.float32


def test_prelu_weight_its_gradient_and_shared_axes():
    layer = PReLU(alpha_initializer="ones", shared_axes=2, dtype="float64")
    x = _x(2)
    layer(Tensor(x))
    assert layer.alpha.shape == (3, 1) and layer.alpha.name.endswith("/alpha") and layer.weights == [layer.alpha]
    alpha = np.random.default_rng(3).uniform(0.1, 0.9, (3, 1))
    layer.set_weights([alpha])
    np.testing.assert_allclose(layer(Tensor(x)).numpy(), np.where(x > 0, x, alpha * x))
    assert gradcheck(lambda t, a: gpunet.ops.prelu(t, a), [x, alpha])
    assert PReLU()(Tensor(x)).numpy().min() == 0  # alpha starts at 0, Keras's "Zeros": a relu
    assert layer(Tensor(_x(4, (2, 3, 9)))).shape == (2, 3, 9)  # any size along the shared axis
    with pytest.raises(ValueError, match="was built for inputs of shape"):
        layer(Tensor(_x(4, (2, 4, 5))))
    assert PReLU(shared_axes=1).shared_axes == [1] and PReLU(shared_axes=(1, 2)).get_config()["shared_axes"] == [1, 2]


def test_prelu_trains_with_regularizer_and_constraint():
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([Input((6,)), Dense(8), PReLU(alpha_initializer=0.3, alpha_regularizer="l2",
                                                            alpha_constraint=gpunet.constraints.MaxNorm(0.5)), Dense(2)])
    model.compile(optimizer=gpunet.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 6)).astype(np.float32), rng.standard_normal((32, 2)).astype(np.float32)
    before = model.layers[1].get_weights()[0].copy()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    alpha = model.layers[1].get_weights()[0]
    assert not np.allclose(alpha, before) and np.linalg.norm(alpha) <= 0.5 + 1e-6
    assert len(model.losses) == 1  # the L2 penalty on alpha


def test_softmax_refuses_a_mask_and_bad_axes():
    layer = Softmax()
    with pytest.raises(ValueError, match="mask is not supported"):
        layer(Tensor(_x()), mask=np.ones((4, 3, 5), bool))
    with pytest.raises(ValueError, match="axis 0 is not a feature axis"):
        Softmax(axis=0)(Tensor(_x()))
    with pytest.raises(ValueError, match="names an axis twice"):
        Softmax(axis=[2, -1])(Tensor(_x()))


@pytest.mark.parametrize("make,match", [
    (lambda: LeakyReLU(negative_slope=-0.1), "negative_slope must be a finite number >= 0"),
    (lambda: LeakyReLU(negative_slope=None), "negative_slope must be a finite number"),
    (lambda: ReLU(max_value=-1), "max_value must be a finite number >= 0 or None"),
    (lambda: ReLU(negative_slope=None), "negative_slope must be"),
    (lambda: ReLU(threshold=-0.5), "threshold must be a finite number >= 0"),
    (lambda: ELU(alpha="1"), "alpha must be a finite number"),
    (lambda: Softmax(axis="last"), "axis must be an integer or a non-empty list"),
    (lambda: PReLU(shared_axes=0), "shared_axes must be None, a positive integer"),
    (lambda: PReLU(alpha_initializer="nope"), "unknown initializer 'nope'"),
    (lambda: PReLU(alpha_constraint="nope"), "unknown constraint 'nope'"),
])
def test_bad_arguments_name_themselves(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_leaky_relu_takes_the_deprecated_alpha_with_a_warning():
    with pytest.warns(UserWarning, match="alpha is deprecated"):
        layer = LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LeakyReLU(0.2)


def test_prelu_shared_axis_beyond_the_input():
    with pytest.raises(ValueError, match="shared axis 3 is beyond"):
        gpunet.Sequential([Input((4, 5)), PReLU(shared_axes=3)])


# ---------------------------------------------------------------------------------------------
# against Keras 3
# ---------------------------------------------------------------------------------------------
def _keras():
    pytest.importorskip("jax", reason="the Keras comparisons run Keras 3 on JAX")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras", minversion="3.0")


@pytest.mark.parametrize("name", list(LAYERS))
def test_same_as_keras_both_ways(name):
    keras = _keras()
    ours = LAYERS[name][0]()
    x = _x(5, dtype=np.float32)
    expected_output = ours(Tensor(x)).numpy()
    entry = gpunet.layers.serialize(ours)
    theirs = keras.layers.deserialize({"module": "keras.layers", "registered_name": None, **entry})
    assert type(theirs).__name__ == type(ours).__name__
    np.testing.assert_allclose(np.asarray(theirs(x)), expected_output, rtol=1e-6, atol=1e-6)
    keras_config = theirs.get_config()
    for key, value in ours.get_config().items():
        if key not in ("dtype", "alpha_initializer"):
            assert keras_config[key] == value, key
    back = gpunet.layers.deserialize({"class_name": type(theirs).__name__, "config": keras_config})
    assert type(back) is type(ours)
    np.testing.assert_allclose(back(Tensor(x)).numpy(), expected_output, rtol=1e-6, atol=1e-6)


def test_keras_defaults_are_gpunets():
    keras = _keras()
    for name in ("LeakyReLU", "ReLU", "ELU", "Softmax", "PReLU"):
        theirs = getattr(keras.layers, name)().get_config()
        ours = getattr(gpunet.layers, name)().get_config()
        for key in set(theirs) - {"name", "dtype", "trainable", "alpha_initializer"}:
            assert ours[key] == theirs[key], (name, key)
    assert PReLU().get_config()["alpha_initializer"]["class_name"] == "Zeros"


def test_prelu_gradients_match_keras():
    keras = _keras()
    import jax

    x = _x(6, (3, 4, 2), np.float32)
    alpha = np.random.default_rng(7).uniform(0.1, 0.9, (4, 2)).astype(np.float32)
    seed = np.random.default_rng(8).standard_normal(x.shape).astype(np.float32)
    theirs = keras.layers.PReLU()
    theirs.build((None, 4, 2))
    theirs.set_weights([alpha])

    def loss(inputs, a):
        out, _ = theirs.stateless_call([a], [], inputs)
        return (out * seed).sum()

    expected_x, expected_alpha = jax.grad(loss, argnums=(0, 1))(x, alpha)
    t = Tensor(x, requires_grad=True)
    a = gpunet.Parameter(alpha)
    (gpunet.ops.prelu(t, a) * Tensor(seed)).sum().backward()
    np.testing.assert_allclose(backend.to_host(t.grad), np.asarray(expected_x), rtol=1e-6)
    np.testing.assert_allclose(backend.to_host(a.grad), np.asarray(expected_alpha), rtol=1e-5, atol=1e-6)
