"""The monitoring callbacks (ReduceLROnPlateau, EarlyStopping, ModelCheckpoint) against value
sequences scripted here and expected results written by hand from Keras 3's rules."""

from __future__ import annotations

import math
import os

import h5py
import helpers
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, optimizers, schedules
from gpunet.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from gpunet.layers import Dense, Input

NAN = float("nan")


class FakeModel:
    """Just what the monitors touch: an optimizer, stop_training, and weights."""

    def __init__(self, lr=1.0):
        self.optimizer = optimizers.SGD(learning_rate=lr)
        self.stop_training = False
        self.weights = [np.zeros(2)]
        self.set_calls = 0

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.set_calls += 1
        self.weights = [np.array(w, copy=True) for w in weights]

    def report_is_sound(self, logs):
        """As gpunet's models judge a report: finite losses and finite weights."""
        losses = [v for k, v in logs.items() if k in ("loss", "val_loss")]
        return all(math.isfinite(v) for v in losses) and all(np.isfinite(w).all() for w in self.weights)

    def restore_weights(self, weights, epoch, monitor=None, value=None, by="user"):
        self.restored = {"epoch": epoch, "monitor": monitor, "value": value, "by": by}
        self.set_weights(weights)


LOG_KEYS = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time"]


def attach(cb, model=None, log_keys=LOG_KEYS):
    model = model or FakeModel()
    cb.set_model(model)
    cb.set_params({"epochs": 100, "steps": 1, "log_keys": list(log_keys)})
    cb.on_train_begin({})
    return model


def lr_trace(cb, values, key="val_loss", lr=1.0):
    """The learning rate after each on_epoch_end, for a scripted sequence of monitored values."""
    model = attach(cb, FakeModel(lr))
    out = []
    for epoch, v in enumerate(values):
        cb.on_epoch_end(epoch, {"loss": 1.0, key: v})
        out.append(model.optimizer.learning_rate)
    return out


def blobs(n=96, features=4, classes=3, seed=0):
    return helpers.blobs(n, features, classes, seed)


def small_model(lr=0.1, metrics=("accuracy",)):
    model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy",
                  metrics=list(metrics))
    return model


# ==================================================================================================
# ReduceLROnPlateau
# ==================================================================================================
def test_plateau_patience_two_decays_at_second_epoch_without_improvement():
    cb = ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.0)
    # e0 best=3; e1 best=2; e2 wait1; e3 wait2 -> 0.5; e4 wait1; e5 wait2 -> 0.25; e6 improves; e7 wait1
    got = lr_trace(cb, [3, 2, 2, 2.5, 2, 2, 1, 1])
    assert got == pytest.approx([1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25])


def test_plateau_patience_zero_and_one():
    # patience 1: every evaluation without improvement decays
    assert lr_trace(ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.0), [1, 1, 1, 0.5, 0.7]) == \
        pytest.approx([1, 0.5, 0.25, 0.25, 0.125])
    # patience 0 behaves like patience 1 (wait >= 0 is reached at the first non-improvement)
    assert lr_trace(ReduceLROnPlateau(factor=0.5, patience=0, min_delta=0.0), [1, 1, 0.5]) == \
        pytest.approx([1, 0.5, 0.5])


def test_plateau_cooldown_counts_as_keras():
    """Keras: in cooldown, the counter is decremented first and wait reset; an evaluation is
    counted only when the counter is 0 after that decrement, so cooldown=2 skips one evaluation."""
    cb = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2, min_delta=0.0)
    values = [10, 10, 10, 10, 10, 10, 9, 10, 10]
    # e0 best=10 | e1 wait1 | e2 wait2 -> 0.5, cd=2 | e3 cd=1, skipped | e4 cd=0, wait1
    # e5 wait2 -> 0.25, cd=2 | e6 cd=1, improves best=9 | e7 cd=0, wait1 | e8 wait2 -> 0.125
    assert lr_trace(cb, values) == pytest.approx([1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125])


def test_plateau_cooldown_one_skips_nothing_after_decrement():
    cb = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1, min_delta=0.0)
    # e0 best | e1 -> 0.5, cd=1 | e2 cd=0, wait1 -> 0.25, cd=1 | e3 cd 0 -> 0.125
    assert lr_trace(cb, [5, 5, 5, 5]) == pytest.approx([1, 0.5, 0.25, 0.125])
    cb = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=3, min_delta=0.0)
    # e1 -> 0.5, cd=3 | e2 cd=2 skip | e3 cd=1 skip | e4 cd=0, wait1 -> 0.25
    assert lr_trace(cb, [5, 5, 5, 5, 5]) == pytest.approx([1, 0.5, 0.5, 0.5, 0.25])


def test_plateau_min_lr_floor():
    cb = ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05, min_delta=0.0)
    got = lr_trace(cb, [1, 1, 1, 1])
    assert got == pytest.approx([1, 0.1, 0.05, 0.05])


def test_plateau_min_delta_abs_and_rel():
    values = [10.0, 9.5, 9.0, 8.95]
    # abs 0.1: 9.5 < 9.9 improves, 9.0 < 9.4 improves, 8.95 < 8.9 does not -> decay at e3
    assert lr_trace(ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.1), values) == \
        pytest.approx([1, 1, 1, 0.5])
    # rel 0.1: needs current < best * 0.9 = 9 while best is 10: 9.5 no -> decay at e1;
    # 9.0 < 9.0 no -> decay at e2; 8.95 < 9 improves
    assert lr_trace(ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.1, min_delta_mode="rel"), values) == \
        pytest.approx([1, 0.5, 0.25, 0.25])


def test_plateau_rel_mode_with_negative_best():
    # best = -10, rel 0.1: improvement needs current < -10 - 1 = -11
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.1, min_delta_mode="rel")
    assert lr_trace(cb, [-10, -10.5, -11.5]) == pytest.approx([1, 0.5, 0.5])


def test_plateau_default_min_delta_is_1e_4():
    cb = ReduceLROnPlateau(factor=0.5, patience=1)
    # 0.99995 is not < 1 - 1e-4 ; 0.9998 is
    assert lr_trace(cb, [1.0, 0.99995, 0.9998]) == pytest.approx([1, 0.5, 0.5])


def test_plateau_mode_auto_max_for_accuracy_and_explicit_modes():
    cb = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1, min_delta=0.0)
    assert cb.mode == "max"
    assert lr_trace(cb, [0.5, 0.6, 0.7, 0.65], key="val_accuracy") == pytest.approx([1, 1, 1, 0.5])
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.0, mode="max")
    assert lr_trace(cb, [1, 2, 3, 2]) == pytest.approx([1, 1, 1, 0.5])
    cb = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1, min_delta=0.0, mode="min")
    assert lr_trace(cb, [0.5, 0.6], key="val_accuracy") == pytest.approx([1, 0.5])


def test_plateau_nan_never_improves():
    cb = ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.0)
    assert lr_trace(cb, [NAN, NAN, 1.0, NAN, NAN]) == pytest.approx([1, 0.5, 0.5, 0.5, 0.25])
    assert cb.best == 1.0


def test_plateau_missing_value_is_skipped():
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.0)
    model = attach(cb)
    cb.on_epoch_end(0, {"val_loss": 1.0})
    cb.on_epoch_end(1, {"loss": 3.0})  # no val_loss this report
    assert model.optimizer.learning_rate == 1.0
    assert cb.wait == 0


def test_plateau_refuses_unlogged_monitor_listing_keys():
    cb = ReduceLROnPlateau(monitor="val_acc")
    cb.set_model(FakeModel())
    cb.set_params({"log_keys": ["loss", "accuracy", "learning_rate"]})
    with pytest.raises(ValueError, match="val_acc") as info:
        cb.on_train_begin({})
    assert "loss" in str(info.value) and "accuracy" in str(info.value)


def test_plateau_refuses_schedule():
    cb = ReduceLROnPlateau(monitor="loss")
    model = FakeModel()
    model.optimizer = optimizers.SGD(learning_rate=schedules.StepDecay(0.1, 0.5, 10))
    cb.set_model(model)
    cb.set_params({"log_keys": ["loss"]})
    with pytest.raises(ValueError):
        cb.on_train_begin({})


@pytest.mark.parametrize("kwargs", [
    {"factor": 1.0}, {"factor": 1.5}, {"factor": -0.1}, {"patience": -1}, {"patience": 1.5},
    {"cooldown": -1}, {"min_lr": -0.1}, {"mode": "biggest"}, {"min_delta_mode": "percent"},
    {"min_delta": float("nan")}, {"monitor": ""},
])
def test_plateau_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ReduceLROnPlateau(**kwargs)


def test_plateau_state_round_trip_continues_counting():
    a = ReduceLROnPlateau(factor=0.5, patience=3, min_delta=0.0)
    lr_trace(a, [2.0, 3.0, 3.0])  # best 2, wait 2
    state = a.get_state()
    b = ReduceLROnPlateau(factor=0.5, patience=3, min_delta=0.0)
    model = attach(b)
    b.set_state(state)
    b.on_epoch_end(3, {"val_loss": 3.0})  # wait 3 -> decay
    assert model.optimizer.learning_rate == pytest.approx(0.5)


def test_plateau_in_fit_history_learning_rates():
    x, y = blobs()
    model = small_model(lr=0.1)
    # min_delta huge: only the first report (best = inf) improves; patience 1 decays after each later one
    cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)
    history = model.fit(x, y, batch_size=32, epochs=4, verbose=0, callbacks=[cb])
    # the log shows the rate used during the epoch, before the callback acts
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.0125)


def test_plateau_counts_each_dev_evaluation():
    x, y = blobs()
    model = small_model(lr=0.1)
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=1e9)
    history = model.fit(x[:72], y[:72], batch_size=12, epochs=2, verbose=0, validation_data=(x[72:], y[72:]),
                        validations_per_epoch=3, callbacks=[cb])
    assert history.epoch == [0, 0, 0, 1, 1, 1]
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.0125, 0.00625])


def test_plateau_unknown_monitor_in_fit():
    x, y = blobs()
    with pytest.raises(ValueError, match="val_loss"):
        small_model().fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[ReduceLROnPlateau()])


# ==================================================================================================
# EarlyStopping
# ==================================================================================================
def es_run(cb, values, key="val_loss", model=None):
    """Feed values until stop_training; returns (epochs fed, model)."""
    model = attach(cb, model)
    fed = 0
    for epoch, v in enumerate(values):
        cb.on_epoch_end(epoch, {"loss": 1.0, key: v})
        fed += 1
        if model.stop_training:
            break
    cb.on_train_end({})
    return fed, model


def test_early_stopping_patience_two():
    cb = EarlyStopping(patience=2)
    # e0 best 5; e1 best 4; e2 wait1; e3 wait2 -> stop
    fed, model = es_run(cb, [5, 4, 4, 4.5, 3, 3])
    assert fed == 4
    assert model.stop_training
    assert cb.stopped_epoch == 3
    assert cb.best == 4


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    fed, _ = es_run(EarlyStopping(), [5, 4, 3, 3, 2])
    assert fed == 4


def test_early_stopping_never_stops_at_epoch_zero():
    cb = EarlyStopping(patience=0)
    fed, model = es_run(cb, [NAN, NAN, NAN])
    # e0: NaN does not improve, wait 1 >= 0 but epoch 0 -> no stop; e1 -> stop
    assert fed == 2
    assert cb.stopped_epoch == 1


def test_early_stopping_nan_never_improves():
    cb = EarlyStopping(patience=2)
    fed, _ = es_run(cb, [1.0, NAN, NAN, 0.5])
    assert fed == 3
    assert cb.best == 1.0


def test_early_stopping_min_delta():
    # min_delta 0.5: 4.6 is not an improvement on 5, 4.4 is
    fed, _ = es_run(EarlyStopping(patience=1, min_delta=0.5), [5, 4.4, 4.0, 3.8])
    # e0 best5; e1 4.4 < 4.5 improves; e2 4.0 < 3.9? no -> wait1 -> stop
    assert fed == 3
    fed, _ = es_run(EarlyStopping(patience=1, min_delta=-0.5), [5, 4.4, 4.0, 3.8])  # sign ignored
    assert fed == 3


def test_early_stopping_mode_max_auto_for_accuracy():
    cb = EarlyStopping(monitor="val_accuracy", patience=1)
    fed, _ = es_run(cb, [0.5, 0.6, 0.7, 0.6, 0.8], key="val_accuracy")
    assert fed == 4
    assert cb.best == 0.7


def test_early_stopping_baseline_resets_wait_only_when_beaten():
    # mode min, baseline 1.0, patience 2
    # e0 wait1, best 3 (not < baseline: wait stays 1); e1 wait2, same value: no improvement -> stop
    fed, _ = es_run(EarlyStopping(patience=2, baseline=1.0), [3, 3, 3])
    assert fed == 2
    # improvements that do not beat the baseline return before the stop check (Keras):
    # e0 w1 best3; e1 w2 best2; e2 w3 best1.5; e3 w4 no improvement -> stop
    fed, _ = es_run(EarlyStopping(patience=2, baseline=1.0), [3, 2, 1.5, 1.6, 1.0])
    assert fed == 4
    # beating the baseline resets: e0 w1; e1 0.5 beats it, w0; e2 w1; e3 w2 -> stop
    fed, _ = es_run(EarlyStopping(patience=2, baseline=1.0), [3, 0.5, 0.6, 0.7, 0.8])
    assert fed == 4


def test_early_stopping_restore_best_weights():
    model = FakeModel()
    cb = EarlyStopping(patience=2, restore_best_weights=True)
    model = attach(cb, model)
    values = [3.0, 1.0, 2.0, 2.0, 0.0]
    for epoch, v in enumerate(values):
        model.weights = [np.full(2, float(epoch))]  # the weights "after" epoch `epoch`
        cb.on_epoch_end(epoch, {"val_loss": v})
        if model.stop_training:
            break
    assert epoch == 3
    cb.on_train_end({})
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])
    assert cb.best_epoch == 1
    assert model.restored == {"epoch": 1, "monitor": "val_loss", "value": 1.0, "by": "EarlyStopping"}


def test_early_stopping_without_restore_keeps_last_weights():
    model = FakeModel()
    cb = EarlyStopping(patience=1)
    attach(cb, model)
    for epoch, v in enumerate([1.0, 2.0]):
        model.weights = [np.full(2, float(epoch))]
        cb.on_epoch_end(epoch, {"val_loss": v})
    cb.on_train_end({})
    assert model.set_calls == 0
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])


def test_early_stopping_start_from_epoch():
    # without a warm-up: e0 best 1; e1 5 -> stop
    fed, _ = es_run(EarlyStopping(patience=0), [1, 5, 5, 6, 7])
    assert fed == 2
    # start_from_epoch=2: e0, e1 ignored; e2 best 5; e3 6 -> stop
    cb = EarlyStopping(patience=0, start_from_epoch=2)
    fed, _ = es_run(cb, [1, 5, 5, 6, 7])
    assert fed == 4
    assert cb.best == 5
    assert cb.stopped_epoch == 3


def test_early_stopping_refuses_unlogged_monitor():
    cb = EarlyStopping(monitor="val_loss")
    cb.set_model(FakeModel())
    cb.set_params({"log_keys": ["loss", "learning_rate", "epoch_time"]})
    with pytest.raises(ValueError, match="epoch_time"):
        cb.on_train_begin({})


@pytest.mark.parametrize("kwargs", [
    {"patience": -1}, {"patience": 2.5}, {"start_from_epoch": -1}, {"baseline": "low"}, {"mode": "up"},
])
def test_early_stopping_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        EarlyStopping(**kwargs)


def test_early_stopping_in_fit_stops_early():
    x, y = blobs()
    model = small_model(lr=0.1)
    # min_delta huge: only epoch 0 improves; patience 2 -> stop at epoch 2
    cb = EarlyStopping(monitor="loss", patience=2, min_delta=1e9)
    history = model.fit(x, y, batch_size=32, epochs=10, verbose=0, callbacks=[cb])
    assert history.epoch == [0, 1, 2]
    assert cb.stopped_epoch == 2


def test_early_stopping_restores_best_weights_in_fit():
    x, y = blobs()
    model = small_model(lr=0.1)
    snapshots = []

    class Snap(gpunet.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    # max mode on the training loss: epoch 0 is the best (min_delta huge), stop at epoch 1
    cb = EarlyStopping(monitor="loss", mode="max", patience=1, min_delta=1e9, restore_best_weights=True)
    history = model.fit(x, y, batch_size=32, epochs=5, verbose=0, callbacks=[Snap(), cb])
    assert history.epoch == [0, 1]
    for got, want in zip(model.get_weights(), snapshots[0]):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(snapshots[0][0], snapshots[1][0])
    assert history.best == {"monitor": "loss", "value": history.history["loss"][0], "epoch": 0, "restored": True,
                            "by": "EarlyStopping"}


# ==================================================================================================
# ModelCheckpoint
# ==================================================================================================
@pytest.fixture
def model():
    return small_model()


def ck_attach(cb, model, log_keys=LOG_KEYS):
    cb.set_model(model)
    cb.set_params({"epochs": 10, "steps": 1, "log_keys": list(log_keys)})
    cb.on_train_begin({})


def files(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".h5")


def test_checkpoint_every_epoch_formats_path(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}-{val_loss:.2f}.h5"))
    ck_attach(cb, model)
    cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.5})
    cb.on_epoch_end(1, {"loss": 0.9, "val_loss": 0.75})
    cb.on_epoch_end(2, {"loss": 0.8, "val_loss": 1.234})
    assert files(tmp_path) == ["ck-01-0.50.h5", "ck-02-0.75.h5", "ck-03-1.23.h5"]
    assert cb.last_saved == str(tmp_path / "ck-03-1.23.h5")


def test_checkpoint_path_like_and_full_save_is_loadable(tmp_path, model):
    cb = ModelCheckpoint(tmp_path / "m.h5")
    ck_attach(cb, model)
    cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.5})
    loaded = gpunet.load_model(str(tmp_path / "m.h5"))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_save_best_only_min(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "b-{epoch}.h5"), save_best_only=True)
    ck_attach(cb, model)
    for epoch, v in enumerate([1.0, 0.8, 0.9, 0.8, 0.7, NAN]):
        cb.on_epoch_end(epoch, {"loss": 1.0, "val_loss": v})
    assert files(tmp_path) == ["b-1.h5", "b-2.h5", "b-5.h5"]
    assert cb.last_saved == str(tmp_path / "b-5.h5")
    assert cb.get_state() == {"best": 0.7}


def test_checkpoint_save_best_only_auto_max_for_accuracy(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "a-{epoch}.h5"), monitor="val_accuracy", save_best_only=True)
    ck_attach(cb, model)
    for epoch, v in enumerate([0.5, 0.4, 0.6, 0.6, 0.9]):
        cb.on_epoch_end(epoch, {"loss": 1.0, "val_accuracy": v})
    assert files(tmp_path) == ["a-1.h5", "a-3.h5", "a-5.h5"]


def test_checkpoint_explicit_mode(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "l-{epoch}.h5"), monitor="loss", mode="max", save_best_only=True)
    ck_attach(cb, model)
    for epoch, v in enumerate([1.0, 0.5, 2.0]):
        cb.on_epoch_end(epoch, {"loss": v})
    assert files(tmp_path) == ["l-1.h5", "l-3.h5"]


def test_checkpoint_overwrites_single_path_only_on_improvement(tmp_path, model):
    path = tmp_path / "best.h5"
    cb = ModelCheckpoint(str(path), save_best_only=True, save_weights_only=True)
    ck_attach(cb, model)
    w0 = model.get_weights()
    cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.5})
    model.set_weights([w + 1 for w in w0])
    cb.on_epoch_end(1, {"loss": 1.0, "val_loss": 0.6})  # worse: file keeps epoch-0 weights
    fresh = small_model()
    fresh.load_weights(str(path))
    for a, b in zip(fresh.get_weights(), w0):
        np.testing.assert_array_equal(a, b)
    cb.on_epoch_end(2, {"loss": 1.0, "val_loss": 0.4})
    fresh.load_weights(str(path))
    for a, b in zip(fresh.get_weights(), w0):
        np.testing.assert_array_equal(a, b + 1)


def test_checkpoint_initial_value_threshold(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "t-{epoch}.h5"), save_best_only=True, initial_value_threshold=0.85)
    ck_attach(cb, model)
    for epoch, v in enumerate([0.9, 0.85, 0.8]):
        cb.on_epoch_end(epoch, {"loss": 1.0, "val_loss": v})
    assert files(tmp_path) == ["t-3.h5"]


def test_checkpoint_set_state_resumes_best(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "s-{epoch}.h5"), save_best_only=True)
    ck_attach(cb, model)
    cb.set_state({"best": 0.5})
    cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.6})
    assert files(tmp_path) == []
    cb.on_epoch_end(1, {"loss": 1.0, "val_loss": 0.4})
    assert files(tmp_path) == ["s-2.h5"]
    assert cb.get_state() == {"best": 0.4}


def test_checkpoint_weights_only_writes_weights_file(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "w.h5"), save_weights_only=True)
    ck_attach(cb, model)
    cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.5})
    full = ModelCheckpoint(str(tmp_path / "f.h5"))
    ck_attach(full, model)
    full.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.5})
    with h5py.File(tmp_path / "w.h5", "r") as f:
        assert "model_config" not in f.attrs
    with h5py.File(tmp_path / "f.h5", "r") as f:
        assert "model_config" in f.attrs
    fresh = small_model()
    fresh.load_weights(str(tmp_path / "w.h5"))
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_unknown_monitor_with_save_best_only(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "x.h5"), monitor="val_acc", save_best_only=True)
    with pytest.raises(ValueError, match="val_acc") as info:
        ck_attach(cb, model)
    assert "val_accuracy" in str(info.value)
    # without save_best_only the monitor is not used: no error
    ck_attach(ModelCheckpoint(str(tmp_path / "x.h5"), monitor="val_acc"), model)


def test_checkpoint_path_with_unlogged_key(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "x-{val_f1:.2f}.h5"))
    ck_attach(cb, model)
    with pytest.raises(ValueError, match="val_f1"):
        cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.5})
    assert files(tmp_path) == []


@pytest.mark.parametrize("loss", [NAN, float("inf"), -float("inf")])
def test_checkpoint_never_saves_non_finite_loss(tmp_path, model, loss):
    cb = ModelCheckpoint(str(tmp_path / "n-{epoch}.h5"))
    ck_attach(cb, model)
    with pytest.warns(UserWarning, match="not saving"):
        cb.on_epoch_end(0, {"loss": loss, "val_loss": 0.5})
    assert files(tmp_path) == []
    assert cb.last_saved is None


def test_checkpoint_non_finite_loss_does_not_consume_best(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "n-{epoch}.h5"), save_best_only=True)
    ck_attach(cb, model)
    with pytest.warns(UserWarning):
        cb.on_epoch_end(0, {"loss": NAN, "val_loss": 0.1})
    cb.on_epoch_end(1, {"loss": 1.0, "val_loss": 0.5})
    assert files(tmp_path) == ["n-2.h5"]


def test_checkpoint_save_freq_in_batches(tmp_path, model):
    cb = ModelCheckpoint(str(tmp_path / "s-{epoch}-{batch}.h5"), save_freq=2)
    ck_attach(cb, model)
    for epoch in range(2):
        cb.on_epoch_begin(epoch)
        for batch in range(3):
            cb.on_train_batch_end(batch, {"loss": 1.0})
        cb.on_epoch_end(epoch, {"loss": 1.0, "val_loss": 0.5})
    # 6 batches in all, a save every 2: after global batches 2, 4, 6
    assert files(tmp_path) == ["s-1-1.h5", "s-2-0.h5", "s-2-2.h5"]


@pytest.mark.parametrize("kwargs", [
    {"save_freq": 0}, {"save_freq": "batch"}, {"save_freq": 1.5}, {"save_freq": True},
    {"initial_value_threshold": "x"}, {"mode": "larger"},
])
def test_checkpoint_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        ModelCheckpoint(str(tmp_path / "x.h5"), **kwargs)


def test_checkpoint_bad_filepath_type():
    with pytest.raises(TypeError):
        ModelCheckpoint(123)


def test_checkpoint_in_fit_saves_on_each_dev_improvement(tmp_path):
    x, y = blobs()
    model = small_model(lr=0.05)
    cb = ModelCheckpoint(str(tmp_path / "e{epoch:02d}.h5"), monitor="val_loss", save_best_only=True)
    history = model.fit(x[:72], y[:72], batch_size=12, epochs=5, verbose=0, validation_data=(x[72:], y[72:]),
                        callbacks=[cb])
    best, expected = math.inf, []
    for epoch, v in enumerate(history.history["val_loss"]):
        if v < best:
            best = v
            expected.append(f"e{epoch + 1:02d}.h5")
    assert files(tmp_path) == expected
    assert os.path.basename(cb.last_saved) == expected[-1]


def test_checkpoint_unknown_monitor_in_fit(tmp_path):
    x, y = blobs()
    cb = ModelCheckpoint(str(tmp_path / "x.h5"), monitor="val_loss", save_best_only=True)
    with pytest.raises(ValueError, match="val_loss"):
        small_model().fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[cb])
    assert files(tmp_path) == []


# ==================================================================================================
# resuming from a ModelCheckpoint file: the monitors' counters continue
# ==================================================================================================
# fit's documentation: a model loaded from a checkpoint written at the end of epoch k resumes
# exactly with fit(initial_epoch=k), the callbacks' counters restored from the file.


@pytest.mark.parametrize("checkpoint_first", [False, True])
def test_early_stopping_resumes_its_wait_counter(tmp_path, checkpoint_first):
    x, y = blobs()
    # monitor the training loss with a huge min_delta: only epoch 0 improves; patience 3 -> the
    # uninterrupted run stops at epoch 3 (e1 wait 1, e2 wait 2, e3 wait 3)
    es = EarlyStopping(monitor="loss", patience=3, min_delta=1e9)
    ck = ModelCheckpoint(str(tmp_path / "ck.h5"))
    first = small_model(metrics=()).fit(x, y, batch_size=32, epochs=2, verbose=0,
                                        callbacks=[ck, es] if checkpoint_first else [es, ck])
    assert first.epoch == [0, 1] and es.wait == 1
    resumed = gpunet.load_model(str(tmp_path / "ck.h5"))
    es2 = EarlyStopping(monitor="loss", patience=3, min_delta=1e9)
    history = resumed.fit(x, y, batch_size=32, epochs=10, initial_epoch=2, verbose=0, callbacks=[es2])
    assert history.epoch == [2, 3]
    assert es2.stopped_epoch == 3


@pytest.mark.parametrize("checkpoint_first", [False, True])
def test_plateau_resumes_its_counters(tmp_path, checkpoint_first):
    x, y = blobs()
    # only epoch 0 improves; patience 2: decays after e2 and e4 ->
    # learning rates logged at epochs 0..5: 0.1 0.1 0.1 0.05 0.05 0.025
    rl = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=1e9)
    ck = ModelCheckpoint(str(tmp_path / "ck.h5"))
    first = small_model(metrics=()).fit(x, y, batch_size=32, epochs=2, verbose=0,
                                        callbacks=[ck, rl] if checkpoint_first else [rl, ck])
    assert first.history["learning_rate"] == pytest.approx([0.1, 0.1])
    resumed = gpunet.load_model(str(tmp_path / "ck.h5"))
    rl2 = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=1e9)
    history = resumed.fit(x, y, batch_size=32, epochs=6, initial_epoch=2, verbose=0, callbacks=[rl2])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.05, 0.025])


@pytest.mark.parametrize("filepath,error", [
    ("missing/ck.h5", FileNotFoundError),
    ("missing/ck-{epoch:02d}.h5", FileNotFoundError),
    ("ck.weights.h5", ValueError),  # a whole model under a name Keras reads as weights only
    ("folder", IsADirectoryError),
])
def test_model_checkpoint_paths_are_checked_before_training(tmp_path, monkeypatch, filepath, error):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    x, y = blobs()
    model = small_model()
    before = model.get_weights()
    with pytest.raises(error, match=filepath.split("/")[0].split("{")[0]):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(filepath)])
    assert model.optimizer.iterations == 0
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cls", [gpunet.callbacks.EarlyStopping, gpunet.callbacks.ReduceLROnPlateau,
                                 lambda monitor: gpunet.callbacks.ModelCheckpoint("unused.h5", monitor=monitor, save_best_only=True)])
def test_auto_mode_follows_the_compiled_metric_direction(cls, tmp_path, monkeypatch):
    """As Keras 3: AUC, precision and recall go up, whatever their key says; errors go down."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = gpunet.Sequential([gpunet.layers.Input((4,)), gpunet.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=[gpunet.metrics.AUC(name="auc"), gpunet.metrics.Recall(name="rec"), "mae"])
    expected = {"val_auc": "max", "val_rec": "max", "val_mae": "min", "val_loss": "min", "auc": "max"}
    for monitor, mode in expected.items():
        callback = cls(monitor=monitor)
        model.fit(x, y, epochs=1, batch_size=16, validation_split=0.25, callbacks=[callback], verbose=0)
        assert callback.mode == mode, monitor
        assert callback.best > (-np.inf if mode == "max" else -1e9) and callback.best < (np.inf if mode == "min" else 1e9)
