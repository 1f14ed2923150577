"""gpunet.random: Keras's shapes and dtypes (against the real Keras 3), the seeding rules (an int
seed repeats, None follows set_random_seed, a SeedGenerator advances), the distributions' moments
within statistical tolerances, and the states that checkpoints save."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import gpunet
from gpunet import Tensor, backend, keras_api
from gpunet import random as grandom
from gpunet.utils import set_random_seed
from keras_parity import host, import_keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

LOGITS = np.log(np.array([[0.2, 0.5, 0.3], [0.7, 0.1, 0.2]], np.float32))
X = np.arange(24, dtype=np.float32).reshape(6, 4)

# (name, positional arguments, keyword arguments)
CALLS = [
    ("normal", ((3, 4),), {}),
    ("normal", ((2,),), {"mean": 1.0, "stddev": 2.0, "dtype": "float16"}),
    ("uniform", ((3, 4),), {"minval": -1.0, "maxval": 2.0}),
    ("uniform", ((5,),), {"dtype": "float16"}),
    ("truncated_normal", ((4, 2),), {}),
    ("randint", ((3, 3), 0, 10), {}),
    ("randint", ((3,), -5, 5), {"dtype": "int16"}),
    ("categorical", (LOGITS, 5), {}),
    ("dropout", (X, 0.5), {}),
    ("dropout", (X, 0.3), {"noise_shape": (1, 4)}),
    ("shuffle", (X,), {}),
    ("shuffle", (X,), {"axis": 1}),
    ("gamma", ((3, 2), 2.0), {}),
    ("binomial", ((4,), 10, 0.3), {}),
    ("beta", ((2, 3), 2.0, 5.0), {}),
]


@pytest.mark.parametrize("name,args,kwargs", CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)])
def test_shapes_and_dtypes_like_keras(xp, name, args, kwargs):
    keras = import_keras()
    theirs = np.asarray(getattr(keras.random, name)(*args, seed=1, **kwargs))
    ours = getattr(grandom, name)(*args, seed=1, **kwargs)
    assert isinstance(ours, Tensor)
    ours = host(ours)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype


@pytest.mark.parametrize("name,args,kwargs", CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)])
def test_an_int_seed_repeats_and_other_seeds_differ(name, args, kwargs):
    draw = getattr(grandom, name)
    first = host(draw(*args, seed=5, **kwargs))
    np.testing.assert_array_equal(first, host(draw(*args, seed=5, **kwargs)))
    others = [host(draw(*args, seed=s, **kwargs)) for s in (6, 7, 8)]
    assert any(not np.array_equal(first, other) for other in others)


def test_float64_and_int64_are_honoured():
    assert grandom.normal((2,), dtype="float64", seed=1).dtype == np.float64
    assert grandom.randint((2,), 0, 4, dtype="int64", seed=1).dtype == np.int64


def test_seed_none_follows_set_random_seed():
    set_random_seed(3)
    a, b = host(grandom.normal((4,))), host(grandom.normal((4,)))
    assert not np.array_equal(a, b)  # the stream advances
    set_random_seed(3)
    np.testing.assert_array_equal(host(grandom.normal((4,))), a)
    np.testing.assert_array_equal(host(grandom.normal((4,))), b)


def test_seed_none_does_not_disturb_initializers_and_shuffling():
    set_random_seed(9)
    expected = backend.host_generator().random(3)
    set_random_seed(9)
    grandom.uniform((10,))
    np.testing.assert_array_equal(backend.host_generator().random(3), expected)


def test_a_seed_generator_advances_and_repeats_from_its_seed():
    one, two = grandom.SeedGenerator(42), grandom.SeedGenerator(42)
    a, b = host(grandom.uniform((5,), seed=one)), host(grandom.uniform((5,), seed=one))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(host(grandom.uniform((5,), seed=two)), a)
    assert one.get_state() == {"seed": 42, "counter": 2} and list(one.state) == [42, 2]
    assert one.name != two.name


def test_a_seed_generator_without_seed_follows_set_random_seed():
    set_random_seed(4)
    a = host(grandom.normal((3,), seed=grandom.SeedGenerator()))
    set_random_seed(4)
    np.testing.assert_array_equal(host(grandom.normal((3,), seed=grandom.SeedGenerator())), a)


def test_seed_generator_state_round_trip():
    gen = grandom.SeedGenerator(7)
    grandom.normal((2,), seed=gen)
    saved = gen.get_state()
    expected = host(grandom.normal((6,), seed=gen))
    gen.set_state(saved)
    np.testing.assert_array_equal(host(grandom.normal((6,), seed=gen)), expected)
    assert grandom.SeedGenerator.from_config(gen.get_config()).seed == 7
    with pytest.raises(ValueError, match="state"):
        gen.set_state({"seed": 1})


@pytest.mark.parametrize("through", ["json", "hdf5 state tree"])
def test_checkpointed_rng_state_resumes_the_same_draws(through, tmp_path):
    """What a checkpoint saves (backend.get_rng_state, in the fit state a model file keeps as an
    HDF5 state tree) brings back both the unseeded stream and every live SeedGenerator, as a fit
    resumed from a checkpoint needs."""
    set_random_seed(12)
    gen = grandom.SeedGenerator(name="resumable")
    grandom.normal((3,), seed=gen)
    grandom.normal((3,))
    if through == "json":
        saved = json.loads(json.dumps(backend.get_rng_state()))
    else:
        h5py = pytest.importorskip("h5py")
        from gpunet.saving.tree import read_tree, write_tree

        with h5py.File(tmp_path / "state.h5", "w") as f:
            write_tree(f.create_group("rng"), backend.get_rng_state())
        with h5py.File(tmp_path / "state.h5", "r") as f:
            saved = read_tree(f["rng"], str(tmp_path / "state.h5"))
        assert saved["seed_generators"]["resumable"] == gen.get_state()
    expected = host(grandom.normal((4,), seed=gen)), host(grandom.normal((4,)))
    grandom.normal((50,), seed=gen), grandom.normal((50,))
    backend.set_rng_state(saved)
    np.testing.assert_array_equal(host(grandom.normal((4,), seed=gen)), expected[0])
    np.testing.assert_array_equal(host(grandom.normal((4,))), expected[1])


N = 200_000


def close(value, expected, spread, n=N, sigmas=6):
    """``value`` (a sample mean) within ``sigmas`` standard errors of ``expected``."""
    assert abs(value - expected) <= sigmas * spread / math.sqrt(n), (value, expected)


def test_moments_of_the_distributions():
    z = host(grandom.normal((N,), mean=1.5, stddev=2.0, seed=0)).astype(np.float64)
    close(z.mean(), 1.5, 2.0)
    close(z.var(), 4.0, 4.0 * math.sqrt(2))
    u = host(grandom.uniform((N,), minval=-1.0, maxval=3.0, seed=1)).astype(np.float64)
    assert u.min() >= -1 and u.max() < 3
    close(u.mean(), 1.0, 4 / math.sqrt(12))
    t = host(grandom.truncated_normal((N,), stddev=2.0, seed=2)).astype(np.float64)
    assert np.abs(t).max() <= 4.0
    phi, cdf = math.exp(-2) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(2 / math.sqrt(2)))
    close(t.var(), 4 * (1 - 2 * 2 * phi / (2 * cdf - 1)), 4.0)
    r = host(grandom.randint((N,), 3, 9, seed=3))
    assert r.min() == 3 and r.max() == 8
    close(r.mean(), 5.5, math.sqrt((6**2 - 1) / 12))
    g = host(grandom.gamma((N,), 3.0, seed=4)).astype(np.float64)
    close(g.mean(), 3.0, math.sqrt(3.0))
    close(g.var(), 3.0, 3.0 * 3)
    b = host(grandom.binomial((N,), 10, 0.3, seed=5)).astype(np.float64)
    close(b.mean(), 3.0, math.sqrt(2.1))
    close(b.var(), 2.1, 2.1 * 2)
    be = host(grandom.beta((N,), 2.0, 5.0, seed=6)).astype(np.float64)
    close(be.mean(), 2 / 7, math.sqrt(2 * 5 / (49 * 8)))


def test_categorical_frequencies_follow_softmax():
    samples = host(grandom.categorical(LOGITS, N, seed=7))
    for row, logits in zip(samples, LOGITS):
        p = np.exp(logits) / np.exp(logits).sum()
        for k, pk in enumerate(p):
            close((row == k).mean(), pk, math.sqrt(pk * (1 - pk)))


def test_dropout_zeroes_a_fraction_scales_the_rest_and_is_differentiable():
    x = Tensor(np.ones((400, 500), np.float32), requires_grad=True)
    y = grandom.dropout(x, 0.25, seed=8)
    values = host(y)
    kept = values != 0
    close(kept.mean(), 0.75, math.sqrt(0.75 * 0.25), n=values.size)
    np.testing.assert_allclose(values[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(host(x.grad), values)
    shared = host(grandom.dropout(np.ones((6, 4), np.float32), 0.5, noise_shape=(1, 4), seed=2))
    assert (shared == shared[0]).all()


def test_shuffle_permutes_along_the_axis():
    y = host(grandom.shuffle(X, seed=3))
    assert sorted(map(tuple, y)) == sorted(map(tuple, X)) and not np.array_equal(y, X)
    y = host(grandom.shuffle(X, axis=1, seed=3))
    np.testing.assert_array_equal(np.sort(y, axis=1), X)


@pytest.mark.parametrize("call,message", [
    (lambda: grandom.normal((2,), seed=-1), "seed"),
    (lambda: grandom.normal((2,), seed="a"), "seed"),
    (lambda: grandom.uniform((2,), dtype="int32"), "dtype"),
    (lambda: grandom.randint((2,), 0, 3, dtype="float32"), "dtype"),
    (lambda: grandom.dropout(X, 1.0), "rate"),
    (lambda: grandom.normal((-1,)), "shape"),
    (lambda: grandom.categorical(X[0], 2), "logits"),
    (lambda: grandom.SeedGenerator(1.5), "seed"),
])
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_every_keras_random_name():
    assert keras_api.supported("keras.random") == sorted(keras_api.keras_names("keras.random"))
    assert gpunet.random is grandom
