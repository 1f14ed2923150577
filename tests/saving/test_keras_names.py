"""The activation layers, activations, initializers, regularizers and constraints in model files,
both ways with the real Keras 3, in both of its formats (``.keras`` and legacy ``.h5``).

For each architecture: gpunet trains and saves a model; Keras loads it, finds the same layers,
initializers, regularizers and constraints, and predicts the same; Keras then changes every
weight, trains (its constraints projecting after each update) and saves; gpunet loads that and
predicts what Keras predicts. A last test trains the same model a few SGD steps in both libraries
and compares the weights: PReLU's gradient, the OrthogonalRegularizer's and the constraints'
order of application included.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("jax", reason="the Keras compatibility tests run Keras 3 on JAX: pip install -e '.[keras]'")
keras = pytest.importorskip("keras", minversion="3.0", reason="Keras 3 is a test extra: pip install -e '.[keras]'")

import gpunet  # noqa: E402
from gpunet import constraints as C  # noqa: E402
from gpunet import initializers as I  # noqa: E402
from gpunet import layers as L  # noqa: E402
from gpunet import regularizers as R  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
ATOL = 2e-5

ARCHITECTURES = {
    "activation-layers": ((6,), lambda: [
        L.Dense(8, kernel_initializer="lecun_normal", bias_initializer=I.RandomUniform(-0.1, 0.1, seed=2)),
        L.LeakyReLU(negative_slope=0.1),
        # (not an Orthogonal kernel under the OrthogonalRegularizer: its products start at |0|'s kink, where
        # the sign of rounding noise, different in JAX and NumPy, picks the subgradient)
        L.Dense(8, kernel_initializer=I.VarianceScaling(2.0, "fan_out", "untruncated_normal"),
                kernel_regularizer=R.OrthogonalRegularizer(0.05, "columns")),
        L.PReLU(alpha_initializer=I.Constant(0.2), alpha_constraint=C.NonNeg(), alpha_regularizer=R.L2(0.01)),
        L.Dense(6, kernel_initializer=I.Orthogonal(gain=1.2, seed=1), kernel_constraint=C.MaxNorm(1.5)),
        L.ELU(alpha=0.7),
        L.Dense(5, kernel_initializer="he_normal", bias_constraint=C.NonNeg()),
        L.ReLU(max_value=2.0, negative_slope=0.05, threshold=0.1),
        L.Dense(3, kernel_initializer=I.TruncatedNormal(0.0, 0.3), kernel_regularizer=R.orthogonal_regularizer()),
        L.Softmax()]),
    "convolution-and-normalization": ((7, 7, 2), lambda: [
        L.Conv2D(4, 3, kernel_initializer=I.GlorotNormal(seed=3), kernel_constraint=C.MaxNorm(2, axis=[0, 1, 2]),
                 bias_constraint=C.NonNeg(), bias_initializer=I.Constant(0.05)),
        L.PReLU(alpha_initializer=I.RandomUniform(0.0, 0.3), shared_axes=[1, 2]),
        L.BatchNormalization(gamma_initializer=I.RandomNormal(1.0, 0.05), gamma_constraint=C.MinMaxNorm(0.5, 2.5, rate=0.8),
                             beta_constraint=C.NonNeg(), beta_initializer=I.Constant(0.01)),
        L.Flatten(),
        L.Dense(5, activation="gelu", kernel_initializer=I.HeUniform()),
        L.LayerNormalization(gamma_constraint=C.UnitNorm(axis=0), beta_constraint=C.MaxNorm(0.5)),
        L.Dense(4, activation="silu", kernel_initializer=I.Identity(gain=0.5)),
        L.Dense(2)]),
    "activation-functions": ((5,), lambda: [
        L.Dense(6, activation="selu", kernel_initializer="lecun_uniform"), L.Activation("mish"),
        L.Dense(6, activation="softplus"), L.Dense(6, activation="hard_silu"), L.Dense(6, activation="elu"),
        L.Dense(6, activation="swish"), L.Dense(6, activation="leaky_relu"), L.Activation("softsign"),
        L.Dense(6, activation="relu6"), L.Dense(6, activation="celu"), L.Dense(6, activation="hard_sigmoid"),
        L.Dense(6, activation="tanh_shrink"), L.Dense(6, activation="log_sigmoid"), L.Dense(3, activation="gelu")]),
}


def build(arch, seed=0):
    gpunet.utils.set_random_seed(seed)
    shape, make = ARCHITECTURES[arch]
    return gpunet.Sequential([L.Input(shape), *make()])


def data(model, n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *model.input_shape[1:])).astype(np.float32)
    outputs = model.output_shape[-1]
    if isinstance(model.layers[-1], L.Softmax):
        return x, rng.integers(0, outputs, n), "sparse_categorical_crossentropy"
    return x, rng.uniform(0.1, 0.9, (n, outputs)).astype(np.float32), "mse"


def keras_predict(model, x):
    return np.asarray(model.predict(x, batch_size=len(x), verbose=0))


NESTED = ("_initializer", "_regularizer", "_constraint")


def nested(config):
    """{key: class name} of every initializer, regularizer and constraint a layer config sets, and its activation."""
    out = {}
    for key, value in config.items():
        if key.endswith(NESTED) and isinstance(value, dict):
            out[key] = value["class_name"]
        elif key == "activation":
            out[key] = value
    return out


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_both_ways_with_keras(arch, suffix, tmp_path):
    model = build(arch)
    x, y, loss = data(model)
    model.compile(optimizer=gpunet.optimizers.Adam(0.01), loss=loss)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / f"g{suffix}")
    ours = model.predict(x)

    theirs = keras.models.load_model(tmp_path / f"g{suffix}", compile=False)
    assert [type(layer).__name__ for layer in theirs.layers] == [type(layer).__name__ for layer in model.layers]
    for mine, their in zip(model.layers, theirs.layers):
        assert nested(their.get_config()) == nested(mine.get_config()), mine.name
    np.testing.assert_allclose(keras_predict(theirs, x), ours, rtol=0, atol=ATOL, err_msg="Keras loading gpunet's file")

    rng = np.random.default_rng(1)
    theirs.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) if "variance" not in v.path
                        else w * rng.uniform(0.5, 2.0, w.shape).astype(w.dtype)
                        for v, w in zip(theirs.weights, theirs.get_weights())])
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss)
    theirs.fit(x, y, epochs=1, batch_size=8, verbose=0)
    theirs.save(tmp_path / f"k{suffix}")
    expected = keras_predict(theirs, x)
    back = gpunet.load_model(tmp_path / f"k{suffix}", compile=False)
    for mine, loaded in zip(model.layers, back.layers):
        assert nested(loaded.get_config()) == nested(mine.get_config()), mine.name
        for weight in loaded.weights:
            assert type(weight.constraint) is type(getattr(mine, weight.name.split("/")[-1] + "_constraint", None))
    np.testing.assert_allclose(back.predict(x), expected, rtol=0, atol=ATOL, err_msg="gpunet loading Keras's file")
    assert not np.allclose(back.predict(x), ours, atol=ATOL)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_training_steps_match_keras(arch, tmp_path):
    model = build(arch)
    x, y, loss = data(model, n=32)
    model.save(tmp_path / "twin.keras")
    theirs = keras.models.load_model(tmp_path / "twin.keras", compile=False)
    model.compile(optimizer=gpunet.optimizers.SGD(0.1), loss=loss)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    ours_loss = model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history["loss"][0]
    keras_loss = theirs.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history["loss"][0]
    np.testing.assert_allclose(ours_loss, keras_loss, rtol=1e-4)
    for ours, weight in zip(model.weights, theirs.weights):
        np.testing.assert_allclose(ours.numpy(), np.asarray(weight), rtol=1e-4, atol=2e-5, err_msg=ours.name)
