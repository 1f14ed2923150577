"""LearningRateScheduler, CSVLogger, TerminateOnNaN and GradientNormMonitor, checked against
hand-written expectations and an independent NumPy computation of gradients."""

from __future__ import annotations

import csv
import math
import warnings

import helpers
import numpy as np
import pytest

from gpunet import Sequential, optimizers, schedules
from gpunet.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientNormMonitor,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
)
from gpunet.layers import Dense, Input
from gpunet.training import NonFiniteLossWarning
from gpunet.utils import set_random_seed


def blobs(n=96, features=4, classes=3, seed=0):
    return helpers.blobs(n, features, classes, seed)


def mlp(features=4, classes=3, lr=0.1, metrics=("accuracy",), hidden=8, activation="relu"):
    model = Sequential([Input((features,)), Dense(hidden, activation=activation), Dense(classes, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy",
                  metrics=list(metrics))
    return model


class FakeModel:
    def __init__(self, lr=1.0):
        self.optimizer = optimizers.SGD(learning_rate=lr)
        self.stop_training = False


# ==================================================================================================
# LearningRateScheduler
# ==================================================================================================
def scheduled(cb, epochs, lr=1.0):
    model = FakeModel(lr)
    cb.set_model(model)
    cb.set_params({"epochs": epochs})
    out = []
    for epoch in range(epochs):
        cb.on_epoch_begin(epoch, {})
        out.append(model.optimizer.learning_rate)
    return out


def test_scheduler_two_argument_function_gets_epoch_and_current_rate():
    calls = []

    def halve(epoch, lr):
        calls.append((epoch, lr))
        return lr * 0.5

    assert scheduled(LearningRateScheduler(halve), 3, lr=0.8) == pytest.approx([0.4, 0.2, 0.1])
    assert calls == [(0, 0.8), (1, 0.4), (2, 0.2)]


def test_scheduler_one_argument_function():
    assert scheduled(LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)), 4) == \
        pytest.approx([0.1, 0.05, 0.1 / 3, 0.025])


def test_scheduler_callable_object_and_default_argument():
    class Table:
        def __call__(self, epoch):
            return [0.3, 0.2, 0.1][epoch]

    assert scheduled(LearningRateScheduler(Table()), 3) == pytest.approx([0.3, 0.2, 0.1])
    assert scheduled(LearningRateScheduler(lambda epoch, lr=None: lr * 2), 2, lr=0.25) == pytest.approx([0.5, 1.0])


def test_scheduler_accepts_numpy_scalars_and_zero():
    assert scheduled(LearningRateScheduler(lambda e: np.float64(0.25)), 1) == [0.25]
    assert scheduled(LearningRateScheduler(lambda e: np.float32(0.5)), 1) == [0.5]
    assert scheduled(LearningRateScheduler(lambda e: 0), 1) == [0.0]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.1, True, "0.1", None])
def test_scheduler_refuses_bad_rates(value):
    cb = LearningRateScheduler(lambda epoch: value)
    model = FakeModel(0.7)
    cb.set_model(model)
    with pytest.raises(ValueError):
        cb.on_epoch_begin(0, {})
    assert model.optimizer.learning_rate == 0.7


def test_scheduler_refuses_non_callable():
    with pytest.raises(TypeError):
        LearningRateScheduler(0.1)


def test_scheduler_refuses_optimizer_with_schedule():
    cb = LearningRateScheduler(lambda e: 0.1)
    model = FakeModel()
    model.optimizer = optimizers.SGD(learning_rate=schedules.StepDecay(0.1, 0.5, 2))
    cb.set_model(model)
    with pytest.raises(ValueError):
        cb.on_epoch_begin(0, {})


def test_scheduler_in_fit():
    x, y = blobs()
    model = mlp(lr=0.2)
    seen = []

    class Spy(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    history = model.fit(x, y, batch_size=48, epochs=3, verbose=0,
                        callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.1 if epoch else lr), Spy()])
    assert history.history["learning_rate"] == pytest.approx([0.2, 0.02, 0.002])
    assert seen == pytest.approx([0.2, 0.2, 0.02, 0.02, 0.002, 0.002])


def test_scheduler_logs_the_rate_at_epoch_end_as_keras():
    """Keras's LearningRateScheduler writes the optimizer's rate into the logs at epoch end, so a
    ReduceLROnPlateau listed before it has its reduction logged (found by tests/keras_diff)."""
    from gpunet.callbacks import ReduceLROnPlateau

    x, y = blobs()
    scheduler = LearningRateScheduler(lambda epoch, lr: lr)
    plateau = ReduceLROnPlateau(monitor="loss", patience=0, min_delta=10.0, factor=0.5)
    history = mlp(lr=0.2).fit(x, y, batch_size=48, epochs=3, verbose=0, callbacks=[plateau, scheduler])
    assert history.history["learning_rate"] == pytest.approx([0.2, 0.1, 0.05])  # epoch 0 improves on nothing
    history = mlp(lr=0.2).fit(x, y, batch_size=48, epochs=3, verbose=0, callbacks=[scheduler, plateau])
    assert history.history["learning_rate"] == pytest.approx([0.2, 0.2, 0.1])  # the rate each epoch trained with


def test_scheduler_in_fit_with_initial_epoch():
    x, y = blobs()
    model = mlp(lr=0.2)
    history = model.fit(x, y, batch_size=48, epochs=4, initial_epoch=2, verbose=0,
                        callbacks=[LearningRateScheduler(lambda epoch: 0.1 * epoch)])
    assert history.epoch == [2, 3]
    assert history.history["learning_rate"] == pytest.approx([0.2, 0.3])


# ==================================================================================================
# CSVLogger
# ==================================================================================================
def read_csv(path, separator=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=separator))


def assert_rows_match(rows, history, start=0):
    header = rows[0]
    assert header[0] == "epoch"
    for i, row in enumerate(rows[1:]):
        assert int(row[0]) == history.epoch[start + i]
        for key, cell in zip(header[1:], row[1:]):
            assert float(cell) == pytest.approx(history.history[key][start + i], rel=1e-6), key


def test_csv_logger_rows_match_history(tmp_path):
    x, y = blobs()
    path = tmp_path / "log.csv"
    model = mlp()
    history = model.fit(x[:72], y[:72], batch_size=24, epochs=3, verbose=0, validation_data=(x[72:], y[72:]),
                        callbacks=[CSVLogger(path)])
    rows = read_csv(path)
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time"]
    assert set(rows[0][1:]) == set(history.history)
    assert len(rows) == 4
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert_rows_match(rows, history)


def test_csv_logger_overwrites_without_append(tmp_path):
    x, y = blobs()
    path = tmp_path / "log.csv"
    path.write_text("old,content\n1,2\n")
    history = mlp(metrics=()).fit(x, y, batch_size=48, epochs=2, verbose=0, callbacks=[CSVLogger(str(path))])
    rows = read_csv(path)
    assert rows[0] == ["epoch", "loss", "learning_rate", "epoch_time"]
    assert len(rows) == 3
    assert_rows_match(rows, history)


def test_csv_logger_append_keeps_header_and_adds_rows(tmp_path):
    x, y = blobs()
    path = tmp_path / "log.csv"
    model = mlp()
    h1 = model.fit(x, y, batch_size=48, epochs=2, verbose=0, callbacks=[CSVLogger(path, append=True)])
    h2 = model.fit(x, y, batch_size=48, epochs=5, initial_epoch=2, verbose=0, callbacks=[CSVLogger(path, append=True)])
    rows = read_csv(path)
    assert rows[0] == ["epoch", "loss", "accuracy", "learning_rate", "epoch_time"]
    assert sum(r[0] == "epoch" for r in rows) == 1
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3", "4"]
    assert_rows_match(rows[:3], h1)
    assert_rows_match([rows[0], *rows[3:]], h2)


def test_csv_logger_separator(tmp_path):
    x, y = blobs()
    path = tmp_path / "log.tsv"
    history = mlp().fit(x, y, batch_size=48, epochs=2, verbose=0, callbacks=[CSVLogger(path, separator="\t")])
    text = path.read_text()
    assert text.splitlines()[0] == "epoch\tloss\taccuracy\tlearning_rate\tepoch_time"
    assert_rows_match(read_csv(path, "\t"), history)


def test_csv_logger_one_row_per_report(tmp_path):
    x, y = blobs()
    path = tmp_path / "log.csv"
    history = mlp().fit(x[:72], y[:72], batch_size=12, epochs=2, verbose=0, validation_data=(x[72:], y[72:]),
                        validations_per_epoch=2, callbacks=[CSVLogger(path)])
    rows = read_csv(path)
    assert [r[0] for r in rows[1:]] == ["0", "0", "1", "1"]
    assert_rows_match(rows, history)


@pytest.mark.parametrize("separator", ["", ",,", 1])
def test_csv_logger_bad_separator(tmp_path, separator):
    with pytest.raises(ValueError):
        CSVLogger(tmp_path / "x.csv", separator=separator)


# ==================================================================================================
# TerminateOnNaN
# ==================================================================================================
class BatchLosses(Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def fit_recording(model, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(*args, **kwargs)
    return history, caught


def test_terminate_on_nan_stops_at_first_non_finite_batch():
    x, y = blobs(n=240, features=4)
    model = mlp(lr=1e6, metrics=())
    spy, stopper = BatchLosses(), TerminateOnNaN()
    history, caught = fit_recording(model, x, y, batch_size=16, epochs=5, verbose=0, callbacks=[spy, stopper])
    assert any(issubclass(w.category, NonFiniteLossWarning) for w in caught)
    assert stopper.stopped is not None
    epoch, batch, loss = stopper.stopped
    assert not math.isfinite(loss)
    steps = 240 // 16
    # training ran up to and including the stopping batch, and no further
    assert model.optimizer.iterations == epoch * steps + batch + 1
    assert len(spy.losses) == model.optimizer.iterations
    assert all(math.isfinite(v) for v in spy.losses[:-1])
    assert not math.isfinite(spy.losses[-1])
    assert len(history.epoch) == epoch + 1 < 5
    assert not math.isfinite(history.history["loss"][-1])
    assert model.stop_training


def test_without_terminate_on_nan_fit_runs_all_epochs():
    x, y = blobs(n=240, features=4)
    model = mlp(lr=1e6, metrics=())
    history, caught = fit_recording(model, x, y, batch_size=16, epochs=3, verbose=0)
    assert history.epoch == [0, 1, 2]
    assert sum(issubclass(w.category, NonFiniteLossWarning) for w in caught) == 1
    assert not math.isfinite(history.history["loss"][-1])


def diverging_fit(callbacks, epochs=6):
    """Two good epochs at lr 0.05, then lr 1e30 from epoch 2: the loss turns NaN during epoch 2."""
    x, y = blobs(n=240, features=4)
    model = mlp(lr=0.05, metrics=())
    snaps = helpers.Snapshots()
    cbs = [LearningRateScheduler(lambda e: 0.05 if e < 2 else 1e30), snaps, *callbacks]
    return model, snaps, cbs, (x[:200], y[:200]), (x[200:], y[200:])


def test_terminate_on_nan_with_dev_data_restores_finite_best_weights():
    stopper = TerminateOnNaN()
    model, snaps, cbs, (x, y), dev = diverging_fit([stopper])
    history, caught = fit_recording(model, x, y, batch_size=20, epochs=6, verbose=0, validation_data=dev, callbacks=cbs)
    assert any(issubclass(w.category, NonFiniteLossWarning) for w in caught)
    assert stopper.stopped is not None and stopper.stopped[0] == 2
    assert history.epoch == [0, 1, 2]
    assert not math.isfinite(history.history["loss"][-1])
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    # the restored weights are those of the report with the lowest finite val_loss
    val = history.history["val_loss"]
    best = min((v, i) for i, v in enumerate(val) if math.isfinite(v))[1]
    assert best < 2
    for got, want in zip(weights, snaps.weights[best]):
        np.testing.assert_array_equal(got, want)


def test_terminate_on_nan_raise_error():
    stopper = TerminateOnNaN(raise_error=True)
    model, _, cbs, (x, y), dev = diverging_fit([stopper])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteLossWarning)
        with pytest.raises(RuntimeError):
            model.fit(x, y, batch_size=20, epochs=6, verbose=0, validation_data=dev, callbacks=cbs)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_terminate_on_nan_and_checkpoint_keep_last_good_file(tmp_path):
    stopper = TerminateOnNaN()
    ck = ModelCheckpoint(str(tmp_path / "e{epoch}.h5"))
    model, _, cbs, (x, y), dev = diverging_fit([ck, stopper])
    history, caught = fit_recording(model, x, y, batch_size=20, epochs=6, verbose=0, validation_data=dev, callbacks=cbs)
    assert history.epoch == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1.h5", "e2.h5"]
    assert ck.last_saved == str(tmp_path / "e2.h5")


def test_terminate_on_nan_finite_run_is_untouched():
    x, y = blobs()
    stopper = TerminateOnNaN()
    history = mlp(lr=0.05).fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[stopper])
    assert history.epoch == [0, 1, 2]
    assert stopper.stopped is None


# ==================================================================================================
# GradientNormMonitor
# ==================================================================================================
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_grad_norms(weights, x, y, batch_size):
    """Per-batch L2 norms of each layer's gradients for Dense(sigmoid) -> Dense(softmax) with mean
    sparse cross-entropy, in float64."""
    w1, b1, w2, b2 = (np.asarray(w, dtype=np.float64) for w in weights)
    norms = []
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size].astype(np.float64)
        yb = y[start:start + batch_size]
        n = xb.shape[0]
        a1 = _sigmoid(xb @ w1 + b1)
        z2 = a1 @ w2 + b2
        p = np.exp(z2 - z2.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dz2 = p.copy()
        dz2[np.arange(n), yb] -= 1.0
        dz2 /= n
        dw2, db2 = a1.T @ dz2, dz2.sum(axis=0)
        dz1 = (dz2 @ w2.T) * a1 * (1 - a1)
        dw1, db1 = xb.T @ dz1, dz1.sum(axis=0)
        norms.append((math.sqrt((dw1**2).sum() + (db1**2).sum()), math.sqrt((dw2**2).sum() + (db2**2).sum())))
    return np.array(norms)


def test_grad_norm_matches_numpy_reference():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((70, 5)).astype(np.float32)
    y = rng.integers(0, 4, 70)
    model = mlp(features=5, classes=4, lr=0.0, metrics=(), hidden=7, activation="sigmoid")
    hidden, out = model.layers
    weights = model.get_weights()
    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[GradientNormMonitor()])
    norms = reference_grad_norms(weights, x, y, 16)  # 5 steps, the last of 6 samples
    assert norms.shape == (5, 2)
    want = norms.mean(axis=0)
    for key, value in ((f"grad_norm_{hidden.name}", want[0]), (f"grad_norm_{out.name}", want[1])):
        assert history.history[key] == pytest.approx([value, value], rel=1e-5)
    # the weights never moved (learning rate 0)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_grad_norm_averages_steps_of_the_epoch_so_far():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = rng.integers(0, 4, 64)
    model = mlp(features=5, classes=4, lr=0.0, metrics=(), hidden=6, activation="sigmoid")
    weights = model.get_weights()
    dev = (x[:8], y[:8])
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, validation_data=dev,
                        validations_per_epoch=2, callbacks=[GradientNormMonitor()])
    norms = reference_grad_norms(weights, x, y, 8)  # 8 steps; reports after steps 4 and 8
    name = model.layers[0].name
    assert history.history[f"grad_norm_{name}"] == pytest.approx([norms[:4, 0].mean(), norms[:, 0].mean()], rel=1e-5)


def test_grad_norm_keys_are_announced_to_monitors():
    x, y = blobs()
    model = mlp()
    names = [layer.name for layer in model.layers]
    cb = EarlyStopping(monitor=f"grad_norm_{names[0]}", mode="min", patience=100)
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[GradientNormMonitor(), cb])
    for name in names:
        values = history.history[f"grad_norm_{name}"]
        assert len(values) == 2 and all(v > 0 and math.isfinite(v) for v in values)


def test_grad_norm_vanishing_gradients_in_deep_sigmoid_net():
    """The course's observation: in a deep sigmoid network the layers near the input receive
    smaller gradients than the layers after them."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((256, 20)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    model = Sequential([Input((20,)), *[Dense(30, activation="sigmoid") for _ in range(4)],
                        Dense(10, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[GradientNormMonitor()])
    hidden = [history.history[f"grad_norm_{layer.name}"][0] for layer in model.layers[:4]]
    assert all(a < b for a, b in zip(hidden, hidden[1:])), hidden
    assert hidden[0] < hidden[3] / 4, hidden


def test_csv_logger_columns_cover_all_log_keys_with_validation_freq(tmp_path):
    """With validation_freq=2 the first report has no val_* values; the header still lists every
    key fit logs (params["log_keys"]), so the dev values of later epochs are written, not dropped."""
    x, y = blobs()
    path = tmp_path / "log.csv"
    history = mlp(metrics=()).fit(x[:72], y[:72], batch_size=24, epochs=2, verbose=0,
                                  validation_data=(x[72:], y[72:]), validation_freq=2, callbacks=[CSVLogger(path)])
    assert len(history.history["val_loss"]) == 1  # evaluated at epoch 1 only
    rows = read_csv(path)
    header = rows[0]
    assert "val_loss" in header
    col = header.index("val_loss")
    assert rows[1][col] == ""
    assert float(rows[2][col]) == pytest.approx(history.history["val_loss"][0], rel=1e-6)


def test_gradient_norm_monitor_bias_only_is_nielsens_measure():
    """With weights="bias" the norm is that of the bias gradient alone: for a net of equal-width
    sigmoid layers the early layers' norms are smaller (the vanishing gradient)."""
    set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 20)).astype(np.float32)
    y = rng.integers(0, 4, 400)
    model = Sequential([Input((20,))] + [Dense(30, activation="sigmoid") for _ in range(4)] + [Dense(4, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=10, epochs=2, callbacks=[GradientNormMonitor(weights="bias")], verbose=0)
    norms = [history.history[f"grad_norm_{layer.name}"][-1] for layer in model.layers]
    assert norms[0] < norms[1] < norms[2] < norms[3]
    with pytest.raises(ValueError, match="weights must be"):
        GradientNormMonitor(weights="gamma")
