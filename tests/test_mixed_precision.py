"""Mixed precision: dtype policies, low-precision compute with float32 weights, loss scaling."""

import os

import numpy as np
import pytest

import gpunet
from gpunet import Parameter, Tensor, layers, mixed_precision, ops, optimizers
from gpunet.mixed_precision import DTypePolicy, LossScaleOptimizer
from gpunet.utils import set_random_seed


@pytest.fixture(autouse=True)
def _restore_policy():
    yield
    mixed_precision.set_global_policy(None)


def _data(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 20)).astype(np.float32)
    y = (x @ rng.standard_normal((20, 3))).argmax(1)
    return x, y


def _model(last_dtype="float32", norm=True):
    stack = [layers.Input((20,)), layers.Dense(64, activation="relu")]
    if norm:
        stack.append(layers.BatchNormalization())
    stack += [layers.Dropout(0.1), layers.Dense(3, activation="softmax", dtype=last_dtype)]
    return gpunet.Sequential(stack)


@pytest.mark.parametrize("name, variable, compute", [
    ("float32", "float32", "float32"), ("float64", "float64", "float64"),
    ("mixed_float16", "float32", "float16"), ("mixed_bfloat16", "float32", "bfloat16"),
])
def test_policies(name, variable, compute):
    if compute == "bfloat16":
        pytest.importorskip("ml_dtypes")
    policy = DTypePolicy(name)
    assert policy.name == name and policy.variable_dtype.name == variable and policy.compute_dtype.name == compute
    assert policy.is_mixed == (variable != compute)
    assert DTypePolicy.from_config(policy.get_config()) == policy


@pytest.mark.parametrize("bad", ["float16", "int8", "mixed_int8", 3])
def test_bad_policies_name_the_argument(bad):
    with pytest.raises((ValueError, TypeError), match="dtype"):
        mixed_precision.set_global_policy(bad)
    with pytest.raises((ValueError, TypeError), match="dtype"):
        layers.Dense(3, dtype=bad)


def test_layers_take_the_global_policy_when_created():
    before = layers.Dense(4)
    mixed_precision.set_global_policy("mixed_float16")
    assert mixed_precision.global_policy().name == "mixed_float16"
    after, override = layers.Dense(4), layers.Dense(4, dtype="float32")
    assert before.dtype_policy.name == "float32" and after.dtype_policy.name == "mixed_float16"
    assert after.compute_dtype == np.float16 and after.dtype == np.float32
    assert override.compute_dtype == np.float32
    assert after.get_config()["dtype"] == "mixed_float16"
    assert layers.Dense.from_config(after.get_config()).dtype_policy.name == "mixed_float16"


def test_cast_op_sends_the_gradient_back_in_the_input_dtype():
    w = Parameter(np.array([1.5, -2.25, 3.0], np.float32), name="w")
    y = ops.cast(w, np.float16)
    assert y.dtype == np.float16
    (y * Tensor(np.array([2.0, 4.0, 8.0], np.float16))).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_array_equal(gpunet.backend.to_host(w.grad), [2.0, 4.0, 8.0])
    assert ops.cast(w, np.float32) is w


def test_mixed_float16_layer_computes_in_float16_with_float32_weights():
    x = np.random.default_rng(1).standard_normal((16, 20)).astype(np.float32)
    reference = layers.Dense(8, activation="relu")
    reference.ensure_built((None, 20))
    mixed_precision.set_global_policy("mixed_float16")
    layer = layers.Dense(8, activation="relu")
    layer.ensure_built((None, 20))
    layer.set_weights(reference.get_weights())
    out = layer(x)
    assert out.dtype == np.float16 and layer.kernel.dtype == np.float32
    # float64 reference from float16-rounded inputs and weights; float16 keeps 11 bits
    w, b = (v.astype(np.float16).astype(np.float64) for v in reference.get_weights())
    expected = np.maximum(x.astype(np.float16).astype(np.float64) @ w + b, 0)
    np.testing.assert_allclose(out.numpy().astype(np.float64), expected, rtol=2e-3, atol=2e-3)


def test_float16_gradients_underflow_without_loss_scaling_and_survive_with_it():
    """Inputs of order 1e-4 and a loss of order 1e-8 give weight gradients below float16's
    smallest subnormal (6e-8)."""
    mixed_precision.set_global_policy("mixed_float16")
    set_random_seed(0)
    x = np.random.default_rng(2).standard_normal((64, 20)).astype(np.float32) * 1e-4
    y = np.zeros((64, 1), np.float32)
    grads = {}
    for scaled in (False, True):
        set_random_seed(0)
        model = gpunet.Sequential([layers.Input((20,)), layers.Dense(1, dtype="mixed_float16")])
        model.compile(optimizer=optimizers.SGD(0.0), loss="mse", auto_scale_loss=scaled)
        step = model.make_train_step()
        xb, yb = gpunet.backend.to_device(x), gpunet.backend.to_device(y)
        grads[scaled] = [gpunet.backend.to_host(g) for g in step.gradients(xb, yb)]
        assert isinstance(model.optimizer, LossScaleOptimizer) == scaled
    kernel_plain, kernel_scaled = grads[False][0], grads[True][0] / 2.0**15
    assert (kernel_plain == 0).mean() > 0.5  # most underflowed to zero
    assert (kernel_scaled != 0).all()


def test_loss_scaling_by_a_power_of_two_changes_no_bit_in_float32():
    """Scaling the backward seed by 2**k and the gradients by 2**-k is exact in binary floating
    point, so a float32 run with a LossScaleOptimizer equals one without, bit for bit."""
    x, y = _data(400)
    weights = {}
    for wrapped in (False, True):
        set_random_seed(3)
        model = _model(norm=False)
        opt = optimizers.Adam(1e-3)
        model.compile(optimizer=LossScaleOptimizer(opt, initial_scale=2.0**10) if wrapped else opt,
                      loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=50, epochs=2, verbose=0, shuffle=False)
        weights[wrapped] = model.get_weights()
    for a, b in zip(weights[False], weights[True]):
        np.testing.assert_array_equal(a, b)


def test_dynamic_scale_skips_overflowing_steps_halves_and_grows():
    w = Parameter(np.array([1.0, 2.0], np.float32), name="w")
    opt = LossScaleOptimizer(optimizers.SGD(0.5), initial_scale=8.0, dynamic_growth_steps=2)
    s = opt.dynamic_scale
    opt.apply_gradients([(np.array([8.0, 16.0], np.float32), w)])  # scaled gradients: [1, 2] unscaled
    np.testing.assert_array_equal(w.numpy(), [0.5, 1.0])
    assert opt.dynamic_scale == s and opt.step_counter == 1 and opt.iterations == 1
    opt.apply_gradients([(np.array([np.inf, 1.0], np.float32), w)])  # overflow: skipped, scale halves
    np.testing.assert_array_equal(w.numpy(), [0.5, 1.0])
    assert opt.dynamic_scale == 4.0 and opt.step_counter == 0 and opt.iterations == 1
    for _ in range(2):
        opt.apply_gradients([(np.array([4.0, 4.0], np.float32), w)])
    np.testing.assert_array_equal(w.numpy(), [-0.5, 0.0])
    assert opt.dynamic_scale == 8.0 and opt.step_counter == 0 and opt.iterations == 3


def test_loss_scale_optimizer_arguments_and_round_trip():
    opt = LossScaleOptimizer("adam", initial_scale=1024, dynamic_growth_steps=10)
    assert isinstance(opt.inner_optimizer, optimizers.Adam)
    opt.learning_rate = 0.01
    assert opt.inner_optimizer.learning_rate == 0.01
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert isinstance(again, LossScaleOptimizer) and again.dynamic_growth_steps == 10 and again.learning_rate == 0.01
    for bad in ({"initial_scale": 0}, {"initial_scale": float("inf")}, {"dynamic_growth_steps": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            LossScaleOptimizer("sgd", **bad)
    with pytest.raises(ValueError, match="inner_optimizer"):
        LossScaleOptimizer(LossScaleOptimizer("sgd"))


def test_compile_wraps_only_under_mixed_float16():
    for policy, wrapped in (("mixed_float16", True), ("mixed_bfloat16", False), ("float32", False)):
        if policy == "mixed_bfloat16":
            pytest.importorskip("ml_dtypes")
        mixed_precision.set_global_policy(policy)
        model = _model(last_dtype=None)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        assert isinstance(model.optimizer, LossScaleOptimizer) == wrapped, policy


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_training_learns_as_float32_does(policy, tmp_path):
    if policy == "mixed_bfloat16":
        pytest.importorskip("ml_dtypes")
    x, y = _data()
    results = {}
    for name in ("float32", policy):
        mixed_precision.set_global_policy(name)
        set_random_seed(0)
        model = _model()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=64, epochs=6, validation_split=0.25, verbose=0)
        results[name] = history.history
        assert all(w.dtype == np.float32 for w in model.get_weights())
    assert results[policy]["val_accuracy"][-1] > 0.8
    assert abs(results[policy]["val_accuracy"][-1] - results["float32"]["val_accuracy"][-1]) < 0.03
    # float16 rounds each op to ~5e-4 relative, which moves the trajectory a little: the training
    # losses stay within 10% of float32's, epoch by epoch
    np.testing.assert_allclose(results[policy]["loss"], results["float32"]["loss"], rtol=0.1)


def test_a_mixed_float16_checkpoint_keeps_its_loss_scale(tmp_path):
    mixed_precision.set_global_policy("mixed_float16")
    x, y = _data(300)
    set_random_seed(0)
    model = _model()
    model.compile(optimizer=LossScaleOptimizer("sgd", initial_scale=64.0), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=100, epochs=1, verbose=0)
    model.optimizer.dynamic_scale = 16.0
    model.optimizer.step_counter = 5
    path = str(tmp_path / "mixed.h5")
    model.save(path)
    loaded = gpunet.load_model(path)
    assert loaded.layers[0].dtype_policy.name == "mixed_float16"
    assert isinstance(loaded.optimizer, LossScaleOptimizer)
    assert (loaded.optimizer.dynamic_scale, loaded.optimizer.step_counter) == (16.0, 5)
    np.testing.assert_array_equal(loaded.predict(x[:8]), model.predict(x[:8]))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_mixed_float16_files_both_ways_with_keras(suffix, tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is imported: Keras 3 defaults to TensorFlow
    pytest.importorskip("jax")
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).random((6, 4)).astype(np.float32)
    mixed_precision.set_global_policy("mixed_float16")
    set_random_seed(0)
    ours = gpunet.Sequential([layers.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2, activation="softmax", dtype="float32")])
    ours.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ours.fit(x, np.zeros(6, int), verbose=0)
    ours.save(str(tmp_path / f"ours{suffix}"))
    theirs_loaded = keras.models.load_model(str(tmp_path / f"ours{suffix}"))
    assert theirs_loaded.layers[0].dtype_policy.name == "mixed_float16"
    assert type(theirs_loaded.optimizer).__name__ == "LossScaleOptimizer"
    np.testing.assert_allclose(np.asarray(theirs_loaded.predict(x, verbose=0)), ours.predict(x), atol=1e-3)

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                                   keras.layers.Dense(2, activation="softmax", dtype="float32")])
        theirs.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        theirs.save(str(tmp_path / f"theirs{suffix}"))
        expected = np.asarray(theirs.predict(x, verbose=0))
    finally:
        keras.mixed_precision.set_global_policy(previous)
    loaded = gpunet.load_model(str(tmp_path / f"theirs{suffix}"))
    assert loaded.layers[0].dtype_policy.name == "mixed_float16" and loaded.layers[1].dtype_policy.name == "float32"
    assert isinstance(loaded.optimizer, LossScaleOptimizer)
    np.testing.assert_allclose(loaded.predict(x), expected, atol=1e-3)


def test_loss_scale_travels_in_keras_variable_layout(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("jax")
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).random((8, 4)).astype(np.float32)
    y = np.zeros((8, 2), np.float32)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2, dtype="float32")])
        theirs.compile(optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(), initial_scale=256.0), loss="mse")
        theirs.fit(x, y, epochs=3, batch_size=4, verbose=0)
        theirs.save(str(tmp_path / "theirs.keras"))
        keras_vars = {v.path.split("/")[-1]: float(np.asarray(v.value)) for v in theirs.optimizer.variables[:4]}
    finally:
        keras.mixed_precision.set_global_policy(previous)
    loaded = gpunet.load_model(str(tmp_path / "theirs.keras"))
    assert loaded.optimizer.dynamic_scale == keras_vars["dynamic_scale"]
    assert loaded.optimizer.step_counter == keras_vars["step_counter"] == 6
    assert loaded.optimizer.inner_optimizer.iterations == 6
    loaded.optimizer.dynamic_scale, loaded.optimizer.step_counter = 64.0, 3
    loaded.save(str(tmp_path / "ours.keras"))
    again = keras.models.load_model(str(tmp_path / "ours.keras"))
    values = {v.path.split("/")[-1]: float(np.asarray(v.value)) for v in again.optimizer.variables[:4]}
    assert (values["dynamic_scale"], values["step_counter"]) == (64.0, 3)
