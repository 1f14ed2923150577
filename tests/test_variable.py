"""gpunet.Variable against Keras 3's keras.Variable (on JAX), and the optimizer's build / apply /
variables against Keras's; the differences the docs name (``name`` holds the path, ``dtype`` is a
NumPy dtype, NumPy float64 stays float64) are pinned as such."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import gpunet
from gpunet import Variable, backend, initializers, optimizers
from gpunet.layers import Dense, Input

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


def host(v):
    return backend.to_host(v.data if isinstance(v, gpunet.Tensor) else v)


def test_one_class_under_both_names():
    assert gpunet.Variable is gpunet.Parameter is gpunet.autograd.Variable
    assert issubclass(Variable, gpunet.Tensor)


def test_the_signature_is_kerass(keras):
    ours = inspect.signature(Variable.__init__).parameters
    theirs = inspect.signature(keras.Variable.__init__).parameters
    keras_args = [(p.name, p.default) for p in theirs.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    our_args = [(p.name, p.default) for p in ours.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert our_args == keras_args
    assert ours["constraint"].kind is inspect.Parameter.KEYWORD_ONLY  # gpunet's extra, after Keras's


@pytest.mark.parametrize("values", [1.5, [1.0, 2.0, 3.0], [[1.0, 2.0], [3.0, 4.0]], np.ones((2, 3), np.float32)])
def test_values_shape_dtype_and_numpy_as_keras(keras, values):
    ours, theirs = Variable(values), keras.Variable(values)
    assert ours.shape == tuple(theirs.shape) and ours.ndim == theirs.ndim
    assert ours.dtype == theirs.dtype and str(ours.dtype) == theirs.dtype  # a NumPy dtype equal to Keras's string
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    assert ours.trainable is theirs.trainable is True
    assert (ours.aggregation, ours.synchronization) == (theirs.aggregation, theirs.synchronization)


def test_dtype_argument_and_the_documented_float64_difference(keras):
    assert Variable([0.1], dtype="float64").dtype == keras.Variable([0.1], dtype="float64").dtype == "float64"
    assert Variable([0.1], dtype="float64").numpy()[0] == 0.1  # straight to float64, not through float32
    # a NumPy float64 array keeps float64 in gpunet (as every gpunet Tensor); Keras makes it float32
    assert Variable(np.ones(2)).dtype == "float64" and keras.Variable(np.ones(2)).dtype == "float32"


@pytest.mark.parametrize("initializer", ["ones", "zeros", initializers.Constant(2.5)])
def test_an_initializer_with_shape(keras, initializer, xp):
    theirs_init = keras.initializers.Constant(2.5) if isinstance(initializer, initializers.Constant) else initializer
    ours, theirs = Variable(initializer, shape=(2, 3)), keras.Variable(theirs_init, shape=(2, 3))
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(ValueError, match="shape"):
        keras.Variable(theirs_init)
    with pytest.raises(ValueError, match="shape"):
        Variable(initializer)


def test_a_seeded_initializer_draws_as_add_weight():
    gpunet.utils.set_random_seed(3)
    first = Variable(initializers.GlorotUniform(seed=7), shape=(4, 5), dtype="float64").numpy()
    again = initializers.GlorotUniform(seed=7)((4, 5), "float64")
    np.testing.assert_array_equal(first, backend.to_host(again))
    bound = np.sqrt(6 / (4 + 5))
    assert first.shape == (4, 5) and np.abs(first).max() <= bound and first.std() > bound / 4


def test_assign_add_sub_as_keras_and_in_place(keras, xp):
    start = np.arange(6, dtype=np.float32).reshape(2, 3)
    ours, theirs = Variable(start, name="w"), keras.Variable(start, name="w")
    array = ours.data
    for method, value in [("assign", start * 2), ("assign_add", np.ones((2, 3))), ("assign_sub", np.full((2, 3), 0.5)),
                          ("assign_add", np.array([1.0, 2.0, 3.0])), ("assign", 7.0 * np.ones((2, 3)))]:
        assert getattr(ours, method)(value) is ours
        getattr(theirs, method)(value)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=method)
        assert ours.dtype == theirs.dtype == "float32"
    assert ours.data is array  # the same array: optimizer state and recorded graphs keep pointing at it
    ours.assign(gpunet.Tensor(np.zeros((2, 3))))  # a Tensor, float64, cast to the variable's dtype
    assert ours.dtype == "float32" and not ours.numpy().any()
    with pytest.raises(ValueError, match="shape"):
        theirs.assign(np.zeros(3))
    with pytest.raises(ValueError, match=r"assign: the value's shape \(3,\)"):
        ours.assign(np.zeros(3))
    with pytest.raises(TypeError, match="assign_add"):
        ours.assign_add("one")


def test_numpy_is_a_snapshot(xp):
    v = Variable([1.0, 2.0])
    before = v.numpy()
    v.assign_add([1.0, 1.0])
    np.testing.assert_array_equal(before, [1.0, 2.0])
    np.testing.assert_array_equal(v.numpy(), [2.0, 3.0])


def test_a_copy_of_the_callers_array(xp):
    values = xp.ones(3)
    v = Variable(values)
    v.assign_add(np.ones(3))
    np.testing.assert_array_equal(backend.to_host(values), np.ones(3))
    assert type(v.data) is type(values)


def test_value_grad_and_operators_against_float64(xp):
    rng = np.random.default_rng(0)
    w0, x0 = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
    w = Variable(w0, name="w")
    assert w.value is w
    loss = gpunet.ops.sum((gpunet.Tensor(x0) @ w) ** 2) + 3.0 * w.sum()
    loss.backward()
    np.testing.assert_allclose(host(w.value.grad), 2 * x0.T @ (x0 @ w0) + 3.0, rtol=1e-12)
    np.testing.assert_allclose(host(w + 1.0), w0 + 1.0)
    np.testing.assert_allclose(host(-w * w), -(w0 * w0))


def test_names_and_paths_of_layer_weights(keras):
    ours = Dense(2, name="d")
    ours.build((None, 3))
    theirs = keras.layers.Dense(2, name="d")
    theirs.build((None, 3))
    assert ours.kernel.path == theirs.kernel.path == "d/kernel"
    assert theirs.kernel.name == "kernel" and ours.kernel.name == "d/kernel"  # gpunet's name is the path (documented)


def test_automatic_names_restart_with_clear_session():
    gpunet.utils.clear_session()
    assert [Variable(1.0).name for _ in range(3)] == ["variable", "variable_1", "variable_2"]
    gpunet.utils.clear_session()
    assert Variable(1.0).path == "variable"
    assert Variable(1.0, name="mine").name == "mine"


def test_trainable_is_settable():
    v = Variable([1.0])
    v.trainable = False
    assert not v.trainable and not v.requires_grad
    v.trainable = True
    assert v.trainable and v.requires_grad


def test_integer_variables_are_non_trainable(keras):
    assert keras.Variable(3, trainable=False).trainable is False
    v = Variable(np.arange(3), trainable=False)
    assert v.dtype.kind == "i" and not v.trainable
    with pytest.raises(TypeError, match="trainable=False"):
        Variable(np.arange(3))
    with pytest.raises(TypeError, match="cannot be trainable"):
        v.trainable = True


@pytest.mark.parametrize("argument,value", [("aggregation", "most"), ("synchronization", "always")])
def test_distribution_arguments_are_checked_as_keras(keras, argument, value):
    with pytest.raises(ValueError, match=argument):
        keras.Variable(1.0, **{argument: value})
    with pytest.raises(ValueError, match=argument):
        Variable(1.0, **{argument: value})
    assert Variable(1.0, aggregation=None).aggregation == keras.Variable(1.0, aggregation=None).aggregation == "none"
    assert Variable(1.0, aggregation="mean").aggregation == "mean"


@pytest.mark.parametrize("argument,value", [("layout", object()), ("autocast", False), ("name", ""), ("dtype", "fish")])
def test_what_gpunet_refuses_is_named(argument, value):
    with pytest.raises(ValueError, match=argument):
        Variable(1.0, **{argument: value})


def test_shape_must_match_the_values():
    with pytest.raises(ValueError, match="shape"):
        Variable(np.ones(3), shape=(2,))
    assert Variable(np.ones(3), shape=(3,)).shape == (3,)


def test_constraint_is_applied_by_the_optimizer(xp):
    v = Variable([3.0, -1.0], name="c", constraint=gpunet.constraints.NonNeg())
    optimizers.SGD(learning_rate=1.0).apply([np.array([1.0, 1.0], np.float32)], [v])
    np.testing.assert_array_equal(v.numpy(), [2.0, 0.0])


# -- the optimizer's Keras 3 entry points -----------------------------------------------------------
def _pair(keras):
    ours = gpunet.Sequential([Input((3,)), Dense(2)])
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def test_apply_before_build_is_refused_as_keras(keras):
    with pytest.raises(ValueError, match="build"):
        keras.optimizers.SGD().apply([np.ones((3, 2))])
    with pytest.raises(ValueError, match="build"):
        optimizers.SGD().apply([np.ones((3, 2))])


def test_build_then_apply_with_gradients_alone(keras):
    ours, theirs = _pair(keras)
    grads = [np.full((3, 2), 0.5, np.float32), np.array([1.0, -1.0], np.float32)]
    # SGD with momentum: its rule is Keras's exactly (Adam's epsilon sits elsewhere in Keras)
    o, k = optimizers.SGD(learning_rate=0.1, momentum=0.9), keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    assert not o.built and not k.built
    o.build(ours.trainable_weights)
    k.build(theirs.trainable_variables)
    assert o.built and k.built
    # Keras's list starts with its iteration count and learning rate, which gpunet keeps as numbers;
    # then one slot per weight (here the momentum), in the weights' order
    assert [tuple(v.shape) for v in o.variables] == [tuple(v.shape) for v in k.variables[2:]] == [(3, 2), (2,)]
    for _ in range(3):
        o.apply(grads)
        k.apply(grads)
    assert o.iterations == int(k.iterations) == 3
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_variables_share_the_state(xp):
    v = Variable(np.ones(2, np.float32), name="v")
    o = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    assert o.variables == []
    o.build([v])
    (momentum,) = o.variables
    assert momentum.name == "sgd/v_momentum" and not momentum.trainable
    o.apply([np.zeros(2, np.float32)])  # the first step sets b <- g (PyTorch's rule): b = 0, v unchanged
    momentum.assign([10.0, 20.0])  # then b <- 0.9 b + g, and v <- v - lr b
    o.apply([np.zeros(2, np.float32)])
    np.testing.assert_allclose(v.numpy(), [1 - 0.1 * 9.0, 1 - 0.1 * 18.0], rtol=1e-6)


def test_none_gradients_as_keras(keras):
    ours, theirs = _pair(keras)
    before = ours.get_weights()
    grad = np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match="No gradients"):
        keras.optimizers.SGD().apply([None, None], theirs.trainable_variables)
    with pytest.raises(ValueError, match="no gradient was given for any variable"):
        optimizers.SGD().apply([None, None], ours.trainable_weights)
    with pytest.warns(UserWarning, match=r"\['sequential.*/dense.*/bias'\]"):
        keras.optimizers.SGD(learning_rate=0.5).apply([grad, None], theirs.trainable_variables)
    o = optimizers.SGD(learning_rate=0.5)
    with pytest.warns(UserWarning, match=r"\['dense.*/bias'\]"):
        o.apply([grad, None], ours.trainable_weights)
    assert o.iterations == 1
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_array_equal(ours.get_weights()[1], before[1])  # the bias had no gradient
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        o.apply([], [])  # nothing to do, as Keras


def test_unknown_variables_after_build_are_refused_as_keras(keras):
    ours, theirs = _pair(keras)
    k = keras.optimizers.SGD()
    k.build(theirs.trainable_variables[:1])
    with pytest.raises(ValueError, match="Unknown variable"):
        k.apply([np.ones(2)], theirs.trainable_variables[1:])
    o = optimizers.SGD()
    o.build(ours.trainable_weights[:1])
    with pytest.raises(ValueError, match="not among those this optimizer was built with"):
        o.apply([np.ones(2, np.float32)], ours.trainable_weights[1:])
    with pytest.raises(ValueError, match="2 gradients for 1"):
        o.apply([np.ones((3, 2)), np.ones(2)])


def test_a_loss_scale_optimizer_builds_its_inner_one(xp):
    v = Variable(np.ones(2, np.float32), name="v")
    o = optimizers.LossScaleOptimizer(optimizers.SGD(learning_rate=0.5), initial_scale=4.0)
    o.build([v])
    assert o.built and o.inner_optimizer.built and len(o.variables) == 0
    o.apply([np.full(2, 4.0, np.float32)])  # unscaled to 1 before the update
    np.testing.assert_allclose(v.numpy(), [0.5, 0.5])
