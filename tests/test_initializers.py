"""Initializers: the course's limits, variances, seeding, lookup by name."""

import math

import numpy as np
import pytest

from gpunet import backend, initializers
from gpunet.utils import set_random_seed


@pytest.mark.parametrize("name,limit", [("glorot_uniform", math.sqrt(6 / (300 + 100))), ("he_uniform", math.sqrt(6 / 300))])
def test_uniform_limits_and_variance(name, limit):
    w = initializers.get(name)((300, 100))
    assert w.dtype == np.float32 and w.shape == (300, 100)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit  # the whole range is used
    np.testing.assert_allclose(w.var(), limit**2 / 3, rtol=0.03)  # variance of U[-l, l]
    assert abs(w.mean()) < 0.01 * limit


@pytest.mark.parametrize("name,variance", [("glorot_normal", 2 / (400 + 200)), ("he_normal", 2 / 400)])
def test_truncated_normal_variance(name, variance):
    w = initializers.get(name)((400, 200), "float64")
    assert w.dtype == np.float64
    np.testing.assert_allclose(w.var(), variance, rtol=0.03)
    assert np.abs(w).max() <= 2 * math.sqrt(variance) / 0.87962566103423978 + 1e-12


def test_constants():
    np.testing.assert_array_equal(initializers.get("zeros")((3,)), np.zeros(3, np.float32))
    np.testing.assert_array_equal(initializers.Constant(0.01)((2, 2)), np.full((2, 2), 0.01, np.float32))
    np.testing.assert_array_equal(initializers.get(0.5)((2,)), [0.5, 0.5])
    assert initializers.get({"class_name": "Constant", "config": {"value": 0.01}}).value == 0.01


def test_drawn_from_the_seeded_host_generator():
    set_random_seed(3)
    a = initializers.GlorotUniform()((5, 4))
    set_random_seed(3)
    b = initializers.GlorotUniform()((5, 4))
    np.testing.assert_array_equal(a, b)
    set_random_seed(3)
    expected = backend.host_generator().uniform(-math.sqrt(6 / 9), math.sqrt(6 / 9), size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(a, expected)


def test_per_initializer_seed():
    np.testing.assert_array_equal(initializers.HeUniform(seed=1)((3, 3)), initializers.HeUniform(seed=1)((3, 3)))


def test_serialize_round_trip():
    for init in (initializers.GlorotUniform(), initializers.HeNormal(seed=2), initializers.Constant(0.01), initializers.Zeros()):
        again = initializers.get(initializers.serialize(init))
        assert type(again) is type(init) and again.get_config() == init.get_config()


def test_errors():
    with pytest.raises(ValueError, match="unknown initializer 'xavier'.*glorot_uniform"):
        initializers.get("xavier")
    with pytest.raises(TypeError):
        initializers.get([1])
    with pytest.raises(ValueError, match="value must be a finite number"):
        initializers.Constant(float("nan"))


# ---------------------------------------------------------------------------------------------
# Keras 3's whole list: distributions, seeds, names, configs
# ---------------------------------------------------------------------------------------------
TRUNCATED_STD = 0.87962566103423978  # of a standard normal cut at +-2


@pytest.mark.parametrize("mode,n", [("fan_in", 4 * 5 * 30), ("fan_out", 4 * 5 * 40), ("fan_avg", 4 * 5 * 35)])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform", "normal"])
def test_variance_scaling_has_the_documented_variance(mode, n, distribution):
    init = initializers.VarianceScaling(scale=3.0, mode=mode, distribution=distribution, seed=7)
    w = init((4, 5, 30, 40), "float64")
    variance = 3.0 / n
    np.testing.assert_allclose(w.var(), variance, rtol=0.03)
    assert abs(w.mean()) < 0.02 * math.sqrt(variance)
    if distribution == "uniform":
        assert np.abs(w).max() <= math.sqrt(3 * variance)
    elif distribution in ("truncated_normal", "normal"):
        assert np.abs(w).max() <= 2 * math.sqrt(variance) / TRUNCATED_STD
    else:
        assert np.abs(w).max() > 3 * math.sqrt(variance)  # no truncation: the tails are there


@pytest.mark.parametrize("cls,scale,mode,uniform", [
    (initializers.GlorotUniform, 1, "fan_avg", True), (initializers.GlorotNormal, 1, "fan_avg", False),
    (initializers.HeUniform, 2, "fan_in", True), (initializers.HeNormal, 2, "fan_in", False),
    (initializers.LecunUniform, 1, "fan_in", True), (initializers.LecunNormal, 1, "fan_in", False),
])
def test_presets_are_variance_scalings(cls, scale, mode, uniform):
    init = cls(seed=3)
    assert (init.scale, init.mode, init.distribution) == (scale, mode, "uniform" if uniform else "truncated_normal")
    fans = {"fan_in": 300, "fan_avg": 200}
    w = init((300, 100), "float64")
    np.testing.assert_allclose(w.var(), scale / fans[mode], rtol=0.03)


def test_fans_from_axes():
    assert initializers.compute_fans((3, 3, 8, 16)) == (72, 144)
    assert initializers.compute_fans((5,)) == (5, 5) and initializers.compute_fans(()) == (1, 1)
    assert initializers.compute_fans((4, 6, 10), input_axes=[0, 1], output_axes=[2]) == (24, 10)
    w = initializers.VarianceScaling(mode="fan_out", input_axes=[0], output_axes=[1, 2], seed=0)((200, 5, 40), "float64")
    np.testing.assert_allclose(w.var(), 1 / 200, rtol=0.04)


def test_random_normal_uniform_truncated():
    w = initializers.RandomNormal(mean=1.0, stddev=0.5, seed=1)((200, 300), "float64")
    np.testing.assert_allclose([w.mean(), w.std()], [1.0, 0.5], rtol=0.01)
    u = initializers.RandomUniform(minval=-0.2, maxval=0.6, seed=1)((200, 300))
    assert u.dtype == np.float32 and u.min() >= -0.2 and u.max() < 0.6 and u.min() < -0.19 and u.max() > 0.59
    np.testing.assert_allclose(u.mean(), 0.2, atol=0.005)
    t = initializers.TruncatedNormal(mean=-1.0, stddev=0.1, seed=1)((200, 300), "float64")
    assert t.min() >= -1.2 and t.max() <= -0.8
    np.testing.assert_allclose([t.mean(), t.std()], [-1.0, 0.1 * TRUNCATED_STD], rtol=0.01)
    defaults = initializers.RandomNormal()
    assert (defaults.mean, defaults.stddev) == (0.0, 0.05)
    assert (initializers.RandomUniform().minval, initializers.RandomUniform().maxval) == (-0.05, 0.05)


@pytest.mark.parametrize("shape", [(30, 10), (10, 30), (3, 3, 4, 8), (16, 16)])
def test_orthogonal(shape):
    w = initializers.Orthogonal(gain=2.0, seed=4)(shape, "float64")
    assert w.shape == shape
    matrix = w.reshape(-1, shape[-1])
    small = min(matrix.shape)
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        initializers.Orthogonal()((5,))


def test_identity_and_constants():
    np.testing.assert_array_equal(initializers.Identity(gain=3.0)((2, 3)), [[3, 0, 0], [0, 3, 0]])
    with pytest.raises(ValueError, match="2-D weights only"):
        initializers.Identity()((2, 2, 2))
    assert initializers.get("one")((2,)).tolist() == [1, 1] and initializers.get("zero")((2,)).tolist() == [0, 0]


def test_seeds():
    for cls in (initializers.RandomNormal, initializers.RandomUniform, initializers.TruncatedNormal,
                initializers.VarianceScaling, initializers.LecunNormal, initializers.Orthogonal):
        np.testing.assert_array_equal(cls(seed=5)((6, 4)), cls(seed=5)((6, 4)))  # an integer seed repeats its values
        assert not np.array_equal(cls(seed=5)((6, 4)), cls(seed=6)((6, 4)))
        unseeded = cls()
        set_random_seed(9)
        first = unseeded((6, 4))
        assert not np.array_equal(first, unseeded((6, 4)))  # unseeded: fresh draws from gpunet's generator
        set_random_seed(9)
        np.testing.assert_array_equal(first, unseeded((6, 4)))


def test_lowercase_names_are_the_classes():
    assert initializers.glorot_uniform is initializers.GlorotUniform and initializers.he_normal is initializers.HeNormal
    assert initializers.variance_scaling is initializers.VarianceScaling and initializers.orthogonal is initializers.Orthogonal
    for name, cls in (("normal", initializers.RandomNormal), ("uniform", initializers.RandomUniform),
                      ("IdentityInitializer", initializers.Identity), ("OrthogonalInitializer", initializers.Orthogonal),
                      ("lecun_uniform", initializers.LecunUniform), ("TruncatedNormal", initializers.TruncatedNormal)):
        assert type(initializers.get(name)) is cls
    assert isinstance(initializers.get(initializers.HeUniform), initializers.HeUniform)

    def fn(shape, dtype=None):
        return np.ones(shape, dtype)

    assert initializers.get(fn) is fn


@pytest.mark.parametrize("make,match", [
    (lambda: initializers.VarianceScaling(scale=0), "scale must be a finite number > 0"),
    (lambda: initializers.VarianceScaling(mode="fan"), "mode must be one of"),
    (lambda: initializers.VarianceScaling(distribution="cauchy"), "distribution must be one of"),
    (lambda: initializers.VarianceScaling(input_axes=3), "input_axes must be"),
    (lambda: initializers.RandomNormal(stddev=-1), "stddev must be a finite number >= 0"),
    (lambda: initializers.RandomUniform(minval=1, maxval=0), "minval .* must not exceed maxval"),
    (lambda: initializers.GlorotUniform(seed=-1), "seed must be a non-negative integer"),
    (lambda: initializers.get({"class_name": "RandomNormal", "config": {"seed": {"class_name": "SeedGenerator"}}}),
     "SeedGenerator"),
    (lambda: initializers.get({"class_name": "GlorotUniform", "config": {"seed": None, "scale": 2}}),
     "scale=2 is not supported"),
    (lambda: initializers.get("STFT"), "STFT initializer .* not supported"),
    (lambda: initializers.Orthogonal(gain=float("inf")), "gain must be a finite number"),
])
def test_bad_arguments_name_themselves(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_the_stft_initializer_is_refused_by_name():
    with pytest.raises(AttributeError, match="does not support keras.initializers.STFTInitializer yet"):
        initializers.STFTInitializer  # noqa: B018
    assert not hasattr(initializers, "stft")


def _keras():
    pytest.importorskip("jax", reason="the Keras comparisons run Keras 3 on JAX")
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras", minversion="3.0")


EXAMPLES = [
    initializers.Constant(0.3), initializers.Zeros(), initializers.Ones(), initializers.Identity(),
    initializers.RandomNormal(0.1, 0.2, seed=1), initializers.RandomUniform(-1.0, 2.0), initializers.TruncatedNormal(),
    initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=3, input_axes=[0], output_axes=[1]),
    initializers.GlorotUniform(), initializers.GlorotNormal(seed=2), initializers.HeUniform(), initializers.HeNormal(),
    initializers.LecunUniform(), initializers.LecunNormal(seed=8), initializers.Orthogonal(gain=0.5, seed=1),
]


@pytest.mark.parametrize("init", EXAMPLES, ids=lambda i: type(i).__name__)
def test_configs_as_keras_writes_them_both_ways(init):
    keras = _keras()
    entry = initializers.serialize(init)
    theirs = keras.initializers.deserialize({"module": "keras.initializers", **entry, "registered_name": None})
    assert type(theirs).__name__ == type(init).__name__
    expected = keras.initializers.serialize(theirs)["config"]
    if isinstance(init, initializers.Identity):
        assert expected == {} and entry["config"] == {"gain": 1.0}  # Keras 3.15 leaves gain out
    else:
        assert entry["config"] == expected
    back = initializers.deserialize(keras.initializers.serialize(theirs))
    assert type(back) is type(init)
    if not isinstance(init, initializers.Identity):
        assert back.get_config() == init.get_config()


@pytest.mark.parametrize("init", [e for e in EXAMPLES if isinstance(e, initializers.RandomInitializer)],
                         ids=lambda i: type(i).__name__)
def test_same_distribution_as_keras(init):
    keras = _keras()
    shape = (60, 50) if not isinstance(init, initializers.Orthogonal) else (50, 50)
    config = dict(init.get_config(), seed=11)
    theirs = np.asarray(getattr(keras.initializers, type(init).__name__).from_config(config)(shape))
    ours = type(init).from_config(config)(shape)
    spread = np.std(theirs)
    np.testing.assert_allclose(np.mean(ours), np.mean(theirs), rtol=0.05, atol=0.1 * spread)  # 4 standard errors
    np.testing.assert_allclose(np.std(ours), spread, rtol=0.06)
    np.testing.assert_allclose(np.abs(ours).max(), np.abs(theirs).max(), rtol=0.15)


def test_every_keras_initializer_name_is_known():
    keras = _keras()
    names = {n for n in dir(keras.initializers) if not n.startswith("_")} - {"get", "serialize", "deserialize"}
    missing = names - set(initializers.__all__) - {"STFT", "stft", "STFTInitializer", "IdentityInitializer",
                                                     "OrthogonalInitializer"}
    assert missing == set()
    for name in names - {"STFT", "stft", "STFTInitializer", "Initializer", "Constant", "constant"}:
        assert type(initializers.get(name)).__name__ == type(keras.initializers.get(name)).__name__


def test_set_random_seed_seeds_python_and_numpy_as_keras_does():
    import random

    set_random_seed(7)
    first = (random.random(), np.random.permutation(10).tolist())
    set_random_seed(7)
    assert (random.random(), np.random.permutation(10).tolist()) == first
