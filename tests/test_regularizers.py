"""Regularizers: Keras 3's formulas, names, defaults and config form; gradients by finite differences."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gpunet import Parameter, Tensor, backend, gradcheck, regularizers
from gpunet.autograd import Tape
from gpunet.regularizers import L1, L1L2, L2, Regularizer, activity_penalty
from gpunet.saving import custom_object_scope, register_serializable


@register_serializable(package="test_regularizers")
class L4(Regularizer):
    """A user's regularizer: ``factor * sum(x^4)``."""

    def __init__(self, factor=0.01):
        self.factor = factor

    def __call__(self, x):
        return ((x * x) * (x * x)).sum() * self.factor

    def get_config(self):
        return {"factor": self.factor}


# (regularizer, float64 formula written from Keras's documentation)
VALUES = [
    (L1(0.3), lambda w: 0.3 * np.abs(w).sum()),
    (L2(0.3), lambda w: 0.3 * (w**2).sum()),
    (L1L2(l1=0.2, l2=0.7), lambda w: 0.2 * np.abs(w).sum() + 0.7 * (w**2).sum()),
    (L1L2(l2=0.7), lambda w: 0.7 * (w**2).sum()),
    (L1L2(l1=0.2), lambda w: 0.2 * np.abs(w).sum()),
    (L1(), lambda w: 0.01 * np.abs(w).sum()),
    (L2(), lambda w: 0.01 * (w**2).sum()),
    (L4(0.5), lambda w: 0.5 * (w**4).sum()),
]


@pytest.mark.parametrize("regularizer, formula", VALUES, ids=lambda v: repr(v) if isinstance(v, Regularizer) else "")
@pytest.mark.parametrize("shape", [(4, 3), (5,), (2, 3, 2, 2)], ids=str)
def test_values_and_gradients(xp, rng, regularizer, formula, shape):
    w = rng.standard_normal(shape)
    weight = Parameter(backend.to_device(w))
    penalty = regularizer(weight)
    assert isinstance(penalty, Tensor) and penalty.shape == () and penalty.dtype == np.float64
    np.testing.assert_allclose(penalty.item(), formula(w), rtol=1e-12)
    assert gradcheck(regularizer, [backend.to_device(w)], atol=1e-8, rtol=1e-6)


def test_gradients_by_formula(xp, rng):
    w = rng.standard_normal((3, 4))
    w[0, 0] = 0.0  # |w| has the subgradient 0 at 0
    weight = Parameter(backend.to_device(w))
    L1L2(l1=0.2, l2=0.7)(weight).backward()
    np.testing.assert_allclose(backend.to_host(weight.grad), 0.2 * np.sign(w) + 2 * 0.7 * w, rtol=1e-12, atol=0)


def test_no_penalty_is_a_zero_of_the_weights_dtype(xp, rng):
    for dtype in (np.float32, np.float64):
        w = Tensor(backend.to_device(rng.standard_normal(3).astype(dtype)))
        for regularizer in (L1L2(), Regularizer(), L1(0.0), L2(0.0)):
            penalty = regularizer(w)
            assert penalty.shape == () and penalty.dtype == dtype and penalty.item() == 0.0


def test_float32_weights_give_a_float32_penalty(xp, rng):
    w = rng.standard_normal((4, 3)).astype(np.float32)
    weight = Parameter(backend.to_device(w))
    penalty = L1L2(0.1, 0.1)(weight)
    penalty.backward()
    assert penalty.dtype == np.float32 and weight.grad.dtype == np.float32
    np.testing.assert_allclose(penalty.item(), 0.1 * np.abs(w).sum() + 0.1 * (w.astype(np.float64) ** 2).sum(), rtol=1e-6)


def test_a_recorded_tape_replays_the_penalty_on_new_weights(xp, rng):
    w = rng.standard_normal((3, 2))
    weight = Parameter(backend.to_device(w))
    x = rng.standard_normal((4, 3))

    def step(x):  # an activity penalty on x @ w and a weight penalty, as a layer adds them
        return (L2(0.5)(x @ weight) + L1(0.25)(weight),)

    tape, (loss,) = Tape.record(step, (Tensor(backend.to_device(x)),), [weight])
    assert tape is not None, Tape.last_refusal
    for _ in range(2):
        weight.data[...] = weight.data * 0.5 - 0.1
        x = x + 1.0
        (value,) = tape.forward(backend.to_device(x))
        (grad,) = tape.backward(backend.to_device(np.ones(())))
        w = backend.to_host(weight.data)
        np.testing.assert_allclose(float(value), 0.5 * ((x @ w) ** 2).sum() + 0.25 * np.abs(w).sum(), rtol=1e-12)
        np.testing.assert_allclose(backend.to_host(grad), 2 * 0.5 * x.T @ (x @ w) + 0.25 * np.sign(w), rtol=1e-12)


def test_activity_penalty_is_divided_by_the_batch_size(xp, rng):
    y = rng.standard_normal((4, 3, 2))
    penalty = activity_penalty(L1L2(0.2, 0.7), Tensor(backend.to_device(y)))
    assert penalty.shape == () and penalty.dtype == np.float64
    np.testing.assert_allclose(penalty.item(), (0.2 * np.abs(y).sum() + 0.7 * (y**2).sum()) / 4, rtol=1e-12)
    assert gradcheck(lambda t: activity_penalty(L1L2(0.2, 0.7), t), [backend.to_device(y)], atol=1e-8, rtol=1e-6)
    scalar = activity_penalty(L2(0.5), Tensor(backend.to_device(np.array(3.0))))  # 0-d: not divided
    assert scalar.item() == 4.5


def test_a_replayed_activity_penalty_divides_by_each_batchs_size(xp, rng):
    weight = Parameter(backend.to_device(rng.standard_normal((3, 2))))

    def step(x):
        return (activity_penalty(L2(0.5), x @ weight),)

    tape, _ = Tape.record(step, (Tensor(backend.to_device(rng.standard_normal((4, 3)))),), [weight])
    assert tape is not None, Tape.last_refusal
    x = rng.standard_normal((2, 3))  # a smaller last batch
    (value,) = tape.forward(backend.to_device(x))
    (grad,) = tape.backward(backend.to_device(np.ones(())))
    w = backend.to_host(weight.data)
    np.testing.assert_allclose(float(value), 0.5 * ((x @ w) ** 2).sum() / 2, rtol=1e-12)
    np.testing.assert_allclose(backend.to_host(grad), 0.5 * 2 * x.T @ (x @ w) / 2, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------------------
def test_defaults_and_none_as_keras():
    assert L1().l1 == 0.01 and L1(None).l1 == 0.01
    assert L2().l2 == 0.01 and L2(None).l2 == 0.01
    assert (L1L2().l1, L1L2().l2) == (0.0, 0.0) and (L1L2(None, None).l1, L1L2(None, None).l2) == (0.0, 0.0)
    assert isinstance(L2(1).l2, float) and L2(1).l2 == 1.0


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), "0.1", True, [0.1]], ids=repr)
@pytest.mark.parametrize("build, name", [(L1, "l1"), (L2, "l2"), (lambda v: L1L2(l1=v), "l1"), (lambda v: L1L2(l2=v), "l2")])
def test_bad_factors_are_refused_by_name(value, build, name):
    with pytest.raises(ValueError, match=f"^{name} must be a finite number >= 0, got "):
        build(value)


# ---------------------------------------------------------------------------------------------
# get, serialize, deserialize
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls, config", [
    ("l1", L1, {"l1": 0.01}), ("L1", L1, {"l1": 0.01}),
    ("l2", L2, {"l2": 0.01}), ("L2", L2, {"l2": 0.01}),
    ("l1l2", L1L2, {"l1": 0.0, "l2": 0.0}), ("L1L2", L1L2, {"l1": 0.0, "l2": 0.0}),
    ("l1_l2", L1L2, {"l1": 0.01, "l2": 0.01}),  # Keras 3's documented value (its get refuses the name)
    ("regularizer", Regularizer, {}), ("Regularizer", Regularizer, {}),
    ("test_regularizers>L4", L4, {"factor": 0.01}),
])
def test_get_by_name(name, cls, config):
    regularizer = regularizers.get(name)
    assert type(regularizer) is cls and regularizer.get_config() == config


def test_get_other_identifiers():
    assert regularizers.get(None) is None
    reg = L2(0.3)
    assert regularizers.get(reg) is reg

    def penalty(w):
        return w.sum()

    assert regularizers.get(penalty) is penalty
    assert type(regularizers.get(L1)) is L1 and regularizers.get(L1).l1 == 0.01
    built = regularizers.get({"class_name": "L1L2", "config": {"l1": 0.5, "l2": 0.25}})
    assert type(built) is L1L2 and (built.l1, built.l2) == (0.5, 0.25)
    assert regularizers.get({"class_name": "l2", "config": {"l2": 0.5}}).get_config() == {"l2": 0.5}


def test_get_errors():
    with pytest.raises(ValueError, match="unknown regularizer 'l3'; valid names are"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="unknown regularizer 'Nope'"):
        regularizers.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        regularizers.get({"class_name": "L2", "config": {"l2": -1}})
    with pytest.raises(ValueError, match="regularizer L2: unsupported settings"):
        regularizers.get({"class_name": "L2", "config": {"l1": 0.1}})
    for bad in (0.01, int, object()):
        with pytest.raises(TypeError, match="a regularizer must be None, a name, a config dict, a Regularizer or a callable"):
            regularizers.get(bad)


@pytest.mark.parametrize("regularizer", [L1(0.25), L2(0.5), L1L2(0.125, 0.75), Regularizer(), L4(0.5)], ids=repr)
def test_serialize_round_trip(regularizer):
    config = regularizers.serialize(regularizer)
    expected = {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    if isinstance(regularizer, L4):
        expected["registered_name"] = "test_regularizers>L4"
    assert config == expected
    rebuilt = regularizers.deserialize(config)
    assert type(rebuilt) is type(regularizer) and rebuilt.get_config() == regularizer.get_config()
    assert regularizers.get(config).get_config() == regularizer.get_config()


def test_serialize_none_and_functions():
    assert regularizers.serialize(None) is None
    with pytest.raises(TypeError, match="only Regularizer objects can be saved, got function"):
        regularizers.serialize(lambda w: w.sum())


def test_a_user_class_found_in_a_custom_object_scope():
    class Scaled(Regularizer):
        def __init__(self, factor=1.0):
            self.factor = factor

        def get_config(self):
            return {"factor": self.factor}

    with custom_object_scope({"Scaled": Scaled}):
        assert regularizers.get({"class_name": "Scaled", "config": {"factor": 2.0}}).factor == 2.0
    with pytest.raises(ValueError, match="unknown regularizer 'Scaled'"):
        regularizers.get({"class_name": "Scaled", "config": {"factor": 2.0}})


# ---------------------------------------------------------------------------------------------
# the real Keras 3
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "jax"  # before keras is imported: Keras 3 defaults to TensorFlow
    pytest.importorskip("jax", reason="the Keras comparisons run Keras 3 on JAX: pip install -e '.[keras]'")
    return pytest.importorskip("keras", minversion="3.0", reason="Keras 3 is a test extra: pip install -e '.[keras]'")


KERAS_PAIRS = [(L1(0.3), "L1"), (L2(0.3), "L2"), (L1L2(0.2, 0.7), "L1L2"), (L1L2(l2=0.4), "L1L2")]


@pytest.mark.parametrize("ours, name", KERAS_PAIRS, ids=repr)
def test_configs_both_ways_with_keras(keras, ours, name):
    theirs = keras.regularizers.deserialize(regularizers.serialize(ours))
    assert type(theirs).__name__ == name
    for key, value in ours.get_config().items():  # Keras keeps L1's factor as a float32 tensor
        assert theirs.get_config()[key] == pytest.approx(value, rel=1e-7)
    back = regularizers.get(keras.regularizers.serialize(theirs))
    assert type(back) is type(ours)
    assert back.get_config() == pytest.approx(ours.get_config(), rel=1e-7)
    # as a Keras layer's config holds it
    dense = keras.layers.Dense(2, kernel_regularizer=regularizers.serialize(ours))
    assert dense.kernel_regularizer.get_config() == pytest.approx(ours.get_config(), rel=1e-7)


@pytest.mark.parametrize("name", ["l1", "l2", "l1l2", "L1", "L2", "L1L2", "regularizer"])
def test_names_build_what_keras_builds(keras, name):
    theirs, ours = keras.regularizers.get(name), regularizers.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    if name.lower() != "regularizer":
        assert ours.get_config() == pytest.approx(theirs.get_config(), rel=1e-7)


@pytest.mark.parametrize("ours, name", KERAS_PAIRS, ids=repr)
def test_values_match_keras(keras, xp, rng, ours, name):
    w = rng.standard_normal((5, 4)).astype(np.float32)
    theirs = keras.regularizers.deserialize(regularizers.serialize(ours))
    np.testing.assert_allclose(ours(Tensor(backend.to_device(w))).item(), float(theirs(w)), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_activity_penalty_matches_a_keras_layers_loss(keras, xp, rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    ours = L1L2(0.1, 0.2)
    dense = keras.layers.Dense(2, activity_regularizer=regularizers.serialize(ours))
    output = np.asarray(dense(x))
    (theirs,) = dense.losses
    np.testing.assert_allclose(activity_penalty(ours, Tensor(backend.to_device(output))).item(), float(theirs), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# OrthogonalRegularizer and Keras's lowercase names
# ---------------------------------------------------------------------------------------------
def _orthogonal_formula(w, factor, mode):
    vectors = w if mode == "rows" else w.T
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-7)
    products = unit @ unit.T
    n = len(vectors)
    return factor * 0.5 * np.abs(products - np.diag(np.diag(products))).sum() / (n * (n - 1) / 2)


@pytest.mark.parametrize("mode", ["rows", "columns"])
@pytest.mark.parametrize("shape", [(5, 3), (2, 6), (4, 4)], ids=str)
def test_orthogonal_values_and_gradients(xp, rng, mode, shape):
    w = rng.standard_normal(shape)
    regularizer = regularizers.OrthogonalRegularizer(0.3, mode)
    penalty = regularizer(Parameter(backend.to_device(w)))
    assert penalty.shape == () and penalty.dtype == np.float64
    np.testing.assert_allclose(penalty.item(), _orthogonal_formula(w, 0.3, mode), rtol=1e-12)
    assert gradcheck(regularizer, [backend.to_device(w)], atol=1e-8, rtol=1e-6)
    orthogonal = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    assert regularizers.OrthogonalRegularizer(1.0, mode)(Tensor(backend.to_device(orthogonal))).item() < 1e-12


def test_orthogonal_defaults_names_and_errors():
    default = regularizers.get("orthogonal_regularizer")
    assert type(default) is regularizers.OrthogonalRegularizer and default.get_config() == {"factor": 0.01, "mode": "rows"}
    assert type(regularizers.get("OrthogonalRegularizer")) is regularizers.OrthogonalRegularizer
    assert regularizers.l1 is L1 and regularizers.l2 is L2 and regularizers.l1_l2 is L1L2
    assert regularizers.orthogonal_regularizer is regularizers.OrthogonalRegularizer
    assert regularizers.l1_l2(l1=0.1).get_config() == {"l1": 0.1, "l2": 0.0}  # the class, as Keras's l1_l2
    again = regularizers.deserialize(regularizers.serialize(regularizers.OrthogonalRegularizer(0.2, "columns")))
    assert again.get_config() == {"factor": 0.2, "mode": "columns"}
    with pytest.raises(ValueError, match="mode must be 'rows' or 'columns'"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="factor must be a finite number >= 0"):
        regularizers.OrthogonalRegularizer(-1)
    with pytest.raises(ValueError, match="needs a 2-D weight"):
        regularizers.OrthogonalRegularizer()(Tensor(np.ones((2, 2, 2))))
    with pytest.raises(ValueError, match="needs at least 2 columns"):
        regularizers.OrthogonalRegularizer(mode="columns")(Tensor(np.ones((3, 1))))


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_values_gradients_and_configs_match_keras(keras, rng, mode):
    import jax

    w = rng.standard_normal((6, 4)).astype(np.float32)
    w[2] *= 1e-9  # a near-zero row: Keras's normalization floor (1e-7) is gpunet's
    ours = regularizers.OrthogonalRegularizer(0.3, mode)
    theirs = keras.regularizers.deserialize(regularizers.serialize(ours))
    assert type(theirs).__name__ == "OrthogonalRegularizer" and theirs.get_config()["mode"] == mode
    weight = Parameter(w)
    penalty = ours(weight)
    np.testing.assert_allclose(penalty.item(), float(theirs(keras.ops.convert_to_tensor(w))), rtol=1e-6)
    penalty.backward()
    expected = np.asarray(jax.grad(lambda v: theirs(v))(jax.numpy.asarray(w)))
    np.testing.assert_allclose(backend.to_host(weight.grad), expected, rtol=1e-4, atol=1e-6)
    back = regularizers.get(keras.regularizers.serialize(theirs))
    assert back.mode == mode and back.factor == pytest.approx(0.3, rel=1e-7)  # Keras keeps a float32 factor


def test_every_keras_regularizer_name_is_known(keras):
    names = {n for n in dir(keras.regularizers) if not n.startswith("_")} - {"get", "serialize", "deserialize"}
    assert names <= set(regularizers.__all__)
