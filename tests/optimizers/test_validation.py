"""Invalid optimizer arguments and inputs: a ValueError at construction / apply time that names the culprit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpunet import Parameter, backend, optimizers

ALL = ["SGD", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "RAdam", "RMSprop", "Lion", "Ftrl", "Adafactor"]
WITH_BETAS = ["Adam", "AdamW", "Adamax", "Nadam", "RAdam"]
WITH_EPSILON = ["Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "RAdam", "RMSprop"]
WITH_RHO = ["Adadelta", "RMSprop"]
WITH_MOMENTUM = ["SGD", "RMSprop"]


def _raises(cls_name, kwargs, *names):
    with pytest.raises(ValueError) as info:
        getattr(optimizers, cls_name)(**kwargs)
    message = str(info.value)
    for name in names:
        assert name in message, f"message {message!r} should name {name!r}"


@pytest.mark.parametrize("value", [pytest.param(-0.1, id="negative"), pytest.param(float("nan"), id="nan"),
                                   pytest.param(float("inf"), id="inf")])
@pytest.mark.parametrize("cls_name", ALL)
def test_bad_learning_rate(cls_name, value):
    _raises(cls_name, {"learning_rate": value}, "learning_rate")


@pytest.mark.parametrize("value", [pytest.param(1.0, id="one"), pytest.param(-0.1, id="negative"),
                                   pytest.param(1.5, id="above_one"), pytest.param(math.nan, id="nan")])
@pytest.mark.parametrize("arg", ["beta_1", "beta_2"])
@pytest.mark.parametrize("cls_name", WITH_BETAS)
def test_beta_outside_unit_interval(cls_name, arg, value):
    _raises(cls_name, {arg: value}, arg)


@pytest.mark.parametrize("cls_name", WITH_BETAS)
def test_beta_zero_is_allowed(cls_name):
    getattr(optimizers, cls_name)(beta_1=0.0, beta_2=0.0)


@pytest.mark.parametrize("value", [pytest.param(1.0, id="one"), pytest.param(-0.1, id="negative")])
@pytest.mark.parametrize("cls_name", WITH_RHO)
def test_rho_outside_unit_interval(cls_name, value):
    _raises(cls_name, {"rho": value}, "rho")


@pytest.mark.parametrize("cls_name", ALL)
def test_negative_weight_decay(cls_name):
    _raises(cls_name, {"weight_decay": -0.01}, "weight_decay")


@pytest.mark.parametrize("cls_name", WITH_EPSILON)
def test_negative_epsilon(cls_name):
    _raises(cls_name, {"epsilon": -1e-8}, "epsilon")


@pytest.mark.parametrize("cls_name", WITH_MOMENTUM)
def test_negative_momentum(cls_name):
    _raises(cls_name, {"momentum": -0.5}, "momentum")


def test_negative_lr_decay():
    _raises("Adagrad", {"lr_decay": -0.1}, "lr_decay")


def test_negative_initial_accumulator_value():
    _raises("Adagrad", {"initial_accumulator_value": -1.0}, "initial_accumulator_value")


def test_negative_momentum_decay():
    _raises("Nadam", {"momentum_decay": -0.004}, "momentum_decay")


@pytest.mark.parametrize("value", [0.0, -0.1, 1.5, math.nan])
def test_lion_beta_1_outside_zero_one(value):
    _raises("Lion", {"beta_1": value}, "beta_1")


def test_lion_beta_1_one_and_beta_2_checked():
    optimizers.Lion(beta_1=1.0)
    _raises("Lion", {"beta_2": 1.0}, "beta_2")


@pytest.mark.parametrize("cls_name, kwargs, name", [
    ("Ftrl", {"learning_rate_power": 0.1}, "learning_rate_power"),
    ("Ftrl", {"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
    ("Ftrl", {"l1_regularization_strength": -1.0}, "l1_regularization_strength"),
    ("Ftrl", {"l2_regularization_strength": -1.0}, "l2_regularization_strength"),
    ("Ftrl", {"l2_shrinkage_regularization_strength": -1.0}, "l2_shrinkage_regularization_strength"),
    ("Ftrl", {"beta": -1.0}, "beta"),
    ("Adafactor", {"beta_2_decay": 0.5}, "beta_2_decay"),
    ("Adafactor", {"epsilon_1": -1.0}, "epsilon_1"),
    ("Adafactor", {"epsilon_2": -1.0}, "epsilon_2"),
    ("Adafactor", {"clip_threshold": 0.0}, "clip_threshold"),
])
def test_new_optimizers_check_their_arguments(cls_name, kwargs, name):
    _raises(cls_name, kwargs, name)


def test_ftrl_refuses_a_zero_learning_rate_before_changing_anything():
    p = Parameter(np.ones(3), name="w")
    opt = optimizers.Ftrl(learning_rate=0.0)
    with pytest.raises(ValueError, match="learning rate"):
        opt.apply_gradients([(np.ones(3), p)])
    np.testing.assert_array_equal(backend.to_host(p.data), np.ones(3))
    assert opt.iterations == 0 and opt.get_state()["slots"] == {}


def test_nesterov_without_momentum():
    _raises("SGD", {"nesterov": True}, "nesterov")
    _raises("SGD", {"nesterov": True, "momentum": 0.0}, "nesterov")


def test_nesterov_with_dampening():
    _raises("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov", "dampening")


def test_valid_edge_values_are_accepted():
    optimizers.SGD(learning_rate=0.0, momentum=0.9, nesterov=True)
    optimizers.RMSprop(rho=0.0, epsilon=0.0, momentum=0.0)
    optimizers.Adadelta(rho=0.0)
    optimizers.Adam(epsilon=0.0, weight_decay=0.0)


# --------------------------------------------------------------------------------------------------
# apply_gradients input checks
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls_name", ALL)
def test_gradient_shape_mismatch_names_parameter(cls_name):
    p = Parameter(np.ones((3, 4)), name="dense_7/kernel")
    before = backend.to_host(p.data).copy()
    opt = getattr(optimizers, cls_name)()
    with pytest.raises(ValueError, match="dense_7/kernel"):
        opt.apply_gradients([(np.ones((4, 3)), p)])
    np.testing.assert_array_equal(backend.to_host(p.data), before)


def test_gradient_shape_mismatch_after_first_step():
    p = Parameter(np.ones(5), name="dense/bias")
    opt = optimizers.Adam()
    opt.apply_gradients([(np.ones(5), p)])
    with pytest.raises(ValueError, match="dense/bias"):
        opt.apply_gradients([(np.ones(6), p)])


@pytest.mark.parametrize("cls_name", ALL)
def test_parameter_without_name(cls_name):
    p = Parameter(np.ones(3))  # named "variable..." automatically, as Keras names a Variable
    p.name = None
    opt = getattr(optimizers, cls_name)()
    with pytest.raises(ValueError, match="name"):
        opt.apply_gradients([(np.ones(3), p)])


# --------------------------------------------------------------------------------------------------
# optimizers.get
# --------------------------------------------------------------------------------------------------

def test_get_adam_defaults():
    opt = optimizers.get("adam")
    assert type(opt) is optimizers.Adam
    assert opt.learning_rate == pytest.approx(0.001)
    assert (opt.beta_1, opt.beta_2, opt.epsilon, opt.weight_decay, opt.amsgrad) == (0.9, 0.999, 1e-7, 0.0, False)


@pytest.mark.parametrize("identifier, cls_name, lr", [
    ("sgd", "SGD", 0.01), ("adagrad", "Adagrad", 0.001), ("adadelta", "Adadelta", 0.001), ("adam", "Adam", 0.001),
    ("adamw", "AdamW", 0.001), ("adamax", "Adamax", 0.001), ("nadam", "Nadam", 0.001), ("radam", "RAdam", 0.001),
    ("rmsprop", "RMSprop", 0.001), ("lion", "Lion", 0.001), ("ftrl", "Ftrl", 0.001), ("adafactor", "Adafactor", 0.001),
])
def test_get_every_name(identifier, cls_name, lr):
    opt = optimizers.get(identifier)
    assert type(opt) is getattr(optimizers, cls_name)
    assert opt.learning_rate == pytest.approx(lr)


def test_get_passes_instances_through():
    opt = optimizers.SGD(learning_rate=0.5)
    assert optimizers.get(opt) is opt


def test_get_unknown_lists_valid_names():
    with pytest.raises(ValueError) as info:
        optimizers.get("nope")
    message = str(info.value).lower()
    assert "nope" in message
    for name in ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam", "lion", "ftrl", "adafactor"):
        assert name in message, f"{name!r} missing from {message!r}"


def test_a_learning_rate_may_be_a_one_element_array_on_either_device(xp):
    opt = optimizers.SGD(0.1)
    opt.learning_rate = xp.asarray(np.float32(0.25))
    assert opt.learning_rate == 0.25 and isinstance(opt.learning_rate, float)
    opt.learning_rate = xp.full((1,), 0.5)
    assert opt.learning_rate == 0.5
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = xp.full((1,), -1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = xp.ones(2)


def test_a_gradient_given_on_the_host_updates_a_weight_on_either_device(xp):
    """apply_gradients copies a host gradient to its weight's device (Keras takes any array)."""
    param = Parameter(xp.asarray(np.array([1.0, 2.0], np.float32)), name="p")
    optimizers.SGD(0.5).apply_gradients([(np.array([2.0, -2.0], np.float32), param)])
    np.testing.assert_array_equal(backend.to_host(param.data), [0.0, 3.0])
