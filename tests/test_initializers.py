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
