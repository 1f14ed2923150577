"""Learning-rate schedules (gpunet.schedules): values against formulas written here, argument
checks, serialization, and how optimizers read them (per step or per epoch) inside fit."""

from __future__ import annotations

import math

import helpers
import numpy as np
import pytest

import gpunet
from gpunet import Parameter, Sequential, optimizers, schedules
from gpunet.layers import Dense, Input

TS = [0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 19, 20, 21, 50, 99, 100, 101, 250, 1000]


# --------------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("t", TS)
def test_step_decay_values(t):
    s = schedules.StepDecay(0.4, 0.5, 10)
    assert s(t) == pytest.approx(0.4 * 0.5 ** (t // 10), rel=1e-12)


def test_step_decay_hand_values():
    s = schedules.StepDecay(1.0, 0.1, 3)
    got = [s(t) for t in range(10)]
    want = [1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001]
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("t", TS)
def test_exponential_decay_course_form(t):
    s = schedules.ExponentialDecay(0.2, alpha=0.03)
    assert s(t) == pytest.approx(0.2 * math.exp(-0.03 * t), rel=1e-12)


@pytest.mark.parametrize("t", TS)
def test_exponential_decay_keras_form(t):
    s = schedules.ExponentialDecay(0.1, decay_steps=20, decay_rate=0.5)
    assert s(t) == pytest.approx(0.1 * 0.5 ** (t / 20), rel=1e-12)


@pytest.mark.parametrize("t", TS)
def test_exponential_decay_keras_staircase(t):
    s = schedules.ExponentialDecay(0.1, decay_steps=20, decay_rate=0.5, staircase=True)
    assert s(t) == pytest.approx(0.1 * 0.5 ** (t // 20), rel=1e-12)


def test_exponential_decay_hand_values():
    s = schedules.ExponentialDecay(1.0, decay_steps=2, decay_rate=0.25)
    assert s(0) == pytest.approx(1.0)
    assert s(1) == pytest.approx(0.5)  # 0.25 ** 0.5
    assert s(2) == pytest.approx(0.25)
    assert s(4) == pytest.approx(0.0625)
    st = schedules.ExponentialDecay(1.0, decay_steps=2, decay_rate=0.25, staircase=True)
    assert [st(t) for t in range(5)] == pytest.approx([1.0, 1.0, 0.25, 0.25, 0.0625])


@pytest.mark.parametrize("t", TS)
def test_inverse_time_decay_course_form(t):
    s = schedules.InverseTimeDecay(0.5, alpha=0.1)
    assert s(t) == pytest.approx(0.5 / (1 + 0.1 * t), rel=1e-12)


@pytest.mark.parametrize("t", TS)
def test_inverse_time_decay_keras_form(t):
    s = schedules.InverseTimeDecay(0.5, decay_steps=10, decay_rate=2.0)
    assert s(t) == pytest.approx(0.5 / (1 + 2.0 * t / 10), rel=1e-12)


@pytest.mark.parametrize("t", TS)
def test_inverse_time_decay_keras_staircase(t):
    s = schedules.InverseTimeDecay(0.5, decay_steps=10, decay_rate=2.0, staircase=True)
    assert s(t) == pytest.approx(0.5 / (1 + 2.0 * (t // 10)), rel=1e-12)


def test_inverse_time_decay_hand_values():
    s = schedules.InverseTimeDecay(1.0, alpha=1.0)
    assert [s(t) for t in range(4)] == pytest.approx([1.0, 0.5, 1 / 3, 0.25])


def test_piecewise_constant_keras_convention():
    s = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    want = {0: 1.0, 5: 1.0, 10: 1.0, 11: 0.5, 15: 0.5, 20: 0.5, 21: 0.1, 1000: 0.1}
    for t, v in want.items():
        assert s(t) == v, t
    # non-integer counts follow the same comparison
    assert s(10.5) == 0.5
    assert s(20.0) == 0.5


def test_piecewise_constant_single_boundary():
    s = schedules.PiecewiseConstantDecay([0], [3.0, 2.0])
    assert s(0) == 3.0
    assert s(1) == 2.0


def _cosine(lr0, steps, alpha, t):
    t = min(t, steps)
    return lr0 * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t / steps)) + alpha)


@pytest.mark.parametrize("t", TS)
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_cosine_decay_values(t, alpha):
    s = schedules.CosineDecay(0.3, 100, alpha=alpha)
    assert s(t) == pytest.approx(_cosine(0.3, 100, alpha, t), rel=1e-12, abs=1e-15)


def test_cosine_decay_hand_values():
    s = schedules.CosineDecay(1.0, 4)
    assert s(0) == pytest.approx(1.0)
    assert s(2) == pytest.approx(0.5)
    assert s(4) == pytest.approx(0.0, abs=1e-15)
    assert s(40) == pytest.approx(0.0, abs=1e-15)
    s = schedules.CosineDecay(2.0, 4, alpha=0.25)
    assert s(2) == pytest.approx(2.0 * (0.75 * 0.5 + 0.25))
    assert s(10) == pytest.approx(0.5)


def test_default_per_is_step_and_per_epoch_accepted():
    assert schedules.StepDecay(0.1, 0.5, 2).per == "step"
    assert schedules.CosineDecay(0.1, 5, per="epoch").per == "epoch"


# --------------------------------------------------------------------------------------------------
# argument errors
# --------------------------------------------------------------------------------------------------
BAD = [
    (lambda: schedules.StepDecay(-0.1, 0.5, 2), "initial_learning_rate"),
    (lambda: schedules.StepDecay(float("nan"), 0.5, 2), "initial_learning_rate"),
    (lambda: schedules.StepDecay(0.1, 1.5, 2), "factor"),
    (lambda: schedules.StepDecay(0.1, -0.5, 2), "factor"),
    (lambda: schedules.StepDecay(0.1, 0.5, 0), "step_size"),
    (lambda: schedules.StepDecay(0.1, 0.5, 2.5), "step_size"),
    (lambda: schedules.StepDecay(0.1, 0.5, True), "step_size"),
    (lambda: schedules.StepDecay(0.1, 0.5, 2, per="batch"), "per"),
    (lambda: schedules.ExponentialDecay(0.1, alpha=-1.0), "alpha"),
    (lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5), "decay_steps"),
    (lambda: schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=-0.5), "decay_rate"),
    (lambda: schedules.ExponentialDecay(-1.0, alpha=0.1), "initial_learning_rate"),
    (lambda: schedules.InverseTimeDecay(0.1, alpha=float("inf")), "alpha"),
    (lambda: schedules.InverseTimeDecay(0.1, decay_steps=-3, decay_rate=0.5), "decay_steps"),
    (lambda: schedules.InverseTimeDecay(0.1, alpha=0.1, per="epochs"), "per"),
    (lambda: schedules.PiecewiseConstantDecay([10, 5], [1.0, 0.5, 0.1]), "boundaries"),
    (lambda: schedules.PiecewiseConstantDecay([10, 10], [1.0, 0.5, 0.1]), "boundaries"),
    (lambda: schedules.PiecewiseConstantDecay([10], [1.0, 0.5, 0.1]), "values"),
    (lambda: schedules.PiecewiseConstantDecay([10], [1.0, -0.5]), "values"),
    (lambda: schedules.CosineDecay(0.1, 0), "decay_steps"),
    (lambda: schedules.CosineDecay(0.1, 10, alpha=1.5), "alpha"),
    (lambda: schedules.CosineDecay(0.1, 10, alpha=-0.1), "alpha"),
    (lambda: schedules.CosineDecay(-0.1, 10), "initial_learning_rate"),
]


@pytest.mark.parametrize("make,name", BAD, ids=[f"{i}-{n}" for i, (_, n) in enumerate(BAD)])
def test_bad_arguments_raise_value_error_naming_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.parametrize("cls", [schedules.ExponentialDecay, schedules.InverseTimeDecay])
def test_decay_forms_are_exclusive(cls):
    with pytest.raises(ValueError):
        cls(0.1)  # neither alpha nor Keras's arguments
    with pytest.raises(ValueError):
        cls(0.1, alpha=0.1, decay_steps=10, decay_rate=0.5)  # both
    with pytest.raises(ValueError, match="decay_rate"):
        cls(0.1, decay_steps=10)
    with pytest.raises(ValueError, match="decay_steps"):
        cls(0.1, decay_rate=0.5)


@pytest.mark.parametrize("t", [-1, -0.5, True, "3", None])
def test_bad_counts_refused(t):
    s = schedules.StepDecay(0.1, 0.5, 2)
    with pytest.raises(ValueError):
        s(t)


# --------------------------------------------------------------------------------------------------
# serialization
# --------------------------------------------------------------------------------------------------
ALL = [
    schedules.StepDecay(0.4, 0.5, 10, per="epoch"),
    schedules.ExponentialDecay(0.2, alpha=0.03),
    schedules.ExponentialDecay(0.1, decay_steps=20, decay_rate=0.5, staircase=True),
    schedules.InverseTimeDecay(0.5, alpha=0.1, per="epoch"),
    schedules.InverseTimeDecay(0.5, decay_steps=10, decay_rate=2.0),
    schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
    schedules.CosineDecay(0.3, 100, alpha=0.1),
]


@pytest.mark.parametrize("s", ALL, ids=lambda s: type(s).__name__)
def test_serialize_round_trip(s):
    d = schedules.serialize(s)
    assert d["class_name"] == type(s).__name__
    back = schedules.deserialize(d)
    assert type(back) is type(s)
    assert back.per == s.per
    for t in TS:
        assert back(t) == s(t)


def test_deserialize_keras_config_with_name():
    d = {"class_name": "ExponentialDecay",
         "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9, "staircase": False,
                    "name": "ExponentialDecay"}}
    s = schedules.deserialize(d)
    assert s(25) == pytest.approx(0.1 * 0.9 ** 2.5, rel=1e-12)


def test_deserialize_unknown_class():
    with pytest.raises(ValueError, match="NotASchedule"):
        schedules.deserialize({"class_name": "NotASchedule", "config": {}})


def test_deserialize_unsupported_settings():
    with pytest.raises(ValueError):
        schedules.deserialize({"class_name": "CosineDecay",
                               "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "warmup_steps": 5}})


# --------------------------------------------------------------------------------------------------
# optimizers read schedules
# --------------------------------------------------------------------------------------------------
def test_optimizer_applies_rate_at_current_step_count():
    sched = schedules.StepDecay(1.0, 0.5, 2)
    opt = optimizers.SGD(learning_rate=sched)
    p = Parameter(np.array([0.0]), name="w")
    g = np.array([1.0])
    values = []
    for _ in range(5):
        before = float(p.data[0])
        opt.apply_gradients([(g, p)])
        values.append(before - float(p.data[0]))
    # steps 0..4 use lr0 * 0.5 ** floor(t / 2)
    assert values == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25])
    assert opt.iterations == 5
    assert opt.learning_rate == pytest.approx(0.25)  # the next step's rate (t = 5)
    assert opt.schedule is sched


def _blobs(n=64, features=4, classes=3, seed=0):
    return helpers.blobs(n, features, classes, seed)


def _model(lr):
    model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy")
    return model


def test_per_epoch_schedule_in_fit_uses_epoch_index():
    sched = schedules.StepDecay(0.1, 0.5, 1, per="epoch")
    x, y = _blobs()
    model = _model(sched)
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025, 0.0125], rel=1e-12)
    assert model.optimizer.iterations == 16


def test_per_epoch_schedule_is_constant_within_an_epoch():
    """Each step of epoch e uses the epoch-e rate: record the rate before every step."""
    seen = []

    class Spy(gpunet.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    sched = schedules.PiecewiseConstantDecay([0, 1], [0.3, 0.2, 0.1], per="epoch")
    x, y = _blobs()
    _model(sched).fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[Spy()])
    assert seen == pytest.approx([0.3, 0.3, 0.2, 0.2, 0.1, 0.1])


def test_per_step_schedule_in_fit_follows_iterations():
    sched = schedules.InverseTimeDecay(0.2, alpha=0.5)
    seen = []

    class Spy(gpunet.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append((self.model.optimizer.iterations, self.model.optimizer.learning_rate))

    x, y = _blobs()
    model = _model(sched)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[Spy()])
    assert [it for it, _ in seen] == list(range(12))
    assert [lr for _, lr in seen] == pytest.approx([0.2 / (1 + 0.5 * t) for t in range(12)], rel=1e-12)
    # the epoch log shows the rate of the next step: t = 4 * (epoch + 1)
    assert history.history["learning_rate"] == pytest.approx([0.2 / (1 + 0.5 * 4 * (e + 1)) for e in range(3)], rel=1e-12)
    assert model.optimizer.iterations == 12
