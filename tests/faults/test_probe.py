"""A hostile probe of fit and saving, each finding a test: nothing lost, nothing silently wrong.

A fit never hands back, restores or writes a model worse than what the user already had, and
never destroys a file or another process's work (docs/reliability.md).
"""

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import gpunet
from gpunet.callbacks import Callback, EarlyStopping, ModelCheckpoint, TerminateOnNaN
from gpunet.layers import Dense, Input
from gpunet.utils import set_random_seed
from helpers import BlowUp, Snapshots

pytestmark = pytest.mark.filterwarnings("ignore::gpunet.training.NonFiniteLossWarning")


# ---------------------------------------------------------------------------------------------
# a NaN model must never become "best"
# ---------------------------------------------------------------------------------------------
def imbalanced(n=200, seed=0):
    """8 features, 80% class 0: a NaN model predicts class 0 everywhere and scores 0.8."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(np.int64)
    x = (rng.standard_normal((n, 8)) + y[:, None] * 0.3).astype(np.float32)
    return x, y


def small(lr=0.001):
    set_random_seed(3)
    model = gpunet.Sequential([Input((8,)), Dense(32, activation="relu"), Dense(2, activation="softmax")])
    model.compile(optimizer=gpunet.optimizers.SGD(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _finite(weights):
    return all(np.isfinite(w).all() for w in weights)


@pytest.mark.parametrize("extra", [[], [TerminateOnNaN()]], ids=["plain", "TerminateOnNaN"])
def test_nan_weights_are_never_restored_as_best(extra):
    x, y = imbalanced()
    model = small()
    snap = Snapshots()
    history = model.fit(x[:100], y[:100], epochs=4, batch_size=20, validation_data=(x[100:], y[100:]),
                        callbacks=[BlowUp(2), snap, *extra], verbose=0)
    accuracy = history.history["val_accuracy"]
    sound = [i for i, loss in enumerate(history.history["val_loss"]) if math.isfinite(loss)]
    assert not _finite(snap.weights[-1])  # the run blew up
    assert max(accuracy) > max(accuracy[i] for i in sound)  # and the NaN model "scored" best
    loss = history.history["val_loss"]
    best = min(sound, key=lambda i: (-accuracy[i], loss[i]))  # fit breaks ties by dev loss
    assert history.best["epoch"] == best and history.best["restored"]
    for got, want in zip(model.get_weights(), snap.weights[best]):
        np.testing.assert_array_equal(got, want)
    assert all(math.isfinite(v) for v in model.evaluate(x[100:], y[100:], verbose=0))


def test_early_stopping_restores_the_best_finite_weights_and_never_crashes():
    x, y = imbalanced()
    model = small()
    snap = Snapshots()
    stopper = EarlyStopping(monitor="val_accuracy", patience=5, restore_best_weights=True)
    history = model.fit(x[:100], y[:100], epochs=4, batch_size=20, validation_data=(x[100:], y[100:]),
                        callbacks=[BlowUp(2), snap, stopper], verbose=0)
    held = history.best
    assert held["by"] == "EarlyStopping" and math.isfinite(history.history["val_loss"][held["epoch"]])
    for got, want in zip(model.get_weights(), snap.weights[held["epoch"]]):
        np.testing.assert_array_equal(got, want)


def test_nothing_finite_ever_seen_is_said_and_does_not_crash():
    x, y = imbalanced()
    model = small()
    stopper = EarlyStopping(monitor="val_accuracy", patience=5, restore_best_weights=True)
    with pytest.warns(UserWarning) as record:
        history = model.fit(x[:100], y[:100], epochs=2, batch_size=20, validation_data=(x[100:], y[100:]),
                            callbacks=[BlowUp(0, 1e12), stopper], verbose=0)
    said = [str(w.message) for w in record]
    assert any(m.startswith("fit: no dev report had finite losses and weights") for m in said)
    assert any(m.startswith("EarlyStopping: no report had finite losses and weights") for m in said)
    assert history.best is None and not _finite(model.get_weights())  # nothing restored, nothing claimed


def outlier_data():
    x, y = imbalanced()
    x = x.astype(np.float64)
    x[99, 0] = 1e25  # the last sample of the last batch: its update makes every output NaN
    return x, y


def test_a_finite_outlier_that_poisons_the_weights_is_never_kept(tmp_path):
    x, y = outlier_data()
    model = small(lr=0.01)
    good = ModelCheckpoint(str(tmp_path / "best-{epoch}.h5"), monitor="val_accuracy", save_best_only=True)
    every = ModelCheckpoint(str(tmp_path / "every.h5"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x[:100], y[:100], epochs=2, batch_size=20, shuffle=False, validation_data=(x[100:], y[100:]),
                            best_checkpoint=str(tmp_path / "best.h5"), callbacks=[good, every], verbose=0)
    assert math.isfinite(history.history["loss"][0]) and math.isnan(history.history["val_loss"][0])
    for name in os.listdir(tmp_path):  # whatever was written holds finite weights
        assert _finite(gpunet.load_model(tmp_path / name, compile=False).get_weights()), name
    assert not (tmp_path / "best.h5").exists() and not (tmp_path / "every.h5").exists()


def test_a_good_file_is_not_overwritten_by_a_poisoned_model(tmp_path):
    x, y = outlier_data()
    model = small(lr=0.01)
    model.fit(x[:80], y[:80], epochs=1, batch_size=20, verbose=0)  # no outlier yet: a good model
    model.save(tmp_path / "every.h5")
    before = (tmp_path / "every.h5").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x[:100], y[:100], epochs=1, batch_size=20, shuffle=False, validation_data=(x[100:], y[100:]),
                            callbacks=[ModelCheckpoint(str(tmp_path / "every.h5"))], verbose=0)
    assert math.isnan(history.history["val_loss"][0])  # the outlier's update made the outputs NaN
    assert (tmp_path / "every.h5").read_bytes() == before


def test_saving_non_finite_weights_is_refused(tmp_path):
    model = small()
    model.layers[0].kernel.data[0, 0] = np.nan
    for save in (model.save, model.save_weights):
        with pytest.raises(ValueError, match="dense.*NaN or infinit"):
            save(tmp_path / "m.h5")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# inputs and options that slip through
# ---------------------------------------------------------------------------------------------
def test_float64_values_beyond_float32_are_refused_like_infinity():
    x, y = imbalanced()
    x = x.astype(np.float64)
    x[5, 2] = 1e39
    model = small()
    with pytest.raises(ValueError, match="x contains 1 NaN or infinite value"):
        model.fit(x, y, verbose=0)
    targets = np.zeros((200, 2))
    targets[3, 1] = 1e39
    regression = gpunet.Sequential([Input((8,)), Dense(2)])
    regression.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="y contains NaN or infinite"):
        regression.fit(x.clip(-10, 10), targets, verbose=0)
    assert model.optimizer.iterations == 0 and regression.optimizer.iterations == 0


def test_save_best_only_on_dev_values_with_a_batch_frequency_is_refused():
    x, y = imbalanced()
    model = small()
    checkpoint = ModelCheckpoint("ck.h5", monitor="val_loss", save_best_only=True, save_freq=5)
    with pytest.raises(ValueError, match="save_freq=5.*val_loss"):
        model.fit(x[:100], y[:100], validation_data=(x[100:], y[100:]), callbacks=[checkpoint], verbose=0)


def test_save_best_only_on_the_running_loss_with_a_batch_frequency_saves(tmp_path):
    x, y = imbalanced()
    model = small(lr=0.05)
    checkpoint = ModelCheckpoint(str(tmp_path / "ck.h5"), monitor="loss", save_best_only=True, save_freq=2)
    model.fit(x, y, batch_size=20, epochs=2, callbacks=[checkpoint], verbose=0)
    assert (tmp_path / "ck.h5").exists() and math.isfinite(checkpoint.best)


@pytest.mark.parametrize("activation", ["tanh", "linear", "relu"])
def test_binary_crossentropy_on_outputs_that_are_not_probabilities_is_refused(activation):
    x, y = imbalanced()
    model = gpunet.Sequential([Input((8,)), Dense(1, activation=activation)])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=f"{activation}.*from_logits=True.*sigmoid"):
        model.fit(x, y.astype(np.float32), verbose=0)
    logits = gpunet.Sequential([Input((8,)), Dense(1)])
    logits.compile(optimizer="sgd", loss=gpunet.losses.BinaryCrossentropy(from_logits=True))
    logits.fit(x, y.astype(np.float32), verbose=0)  # the right way is accepted


def test_a_huge_batch_size_is_capped_by_the_data():
    x, y = imbalanced(100)
    model = small()
    history = model.fit(x, y, batch_size=10**9, epochs=2, verbose=0)  # one batch of 100, no 2.85 TiB buffer
    assert model.optimizer.iterations == 2 and len(history.history["loss"]) == 2


def test_many_dev_evaluations_are_capped_by_the_steps():
    x, y = imbalanced(100)
    model = small()
    start = time.perf_counter()
    history = model.fit(x[:80], y[:80], batch_size=20, validations_per_epoch=10**8, validation_data=(x[80:], y[80:]),
                        verbose=0)
    assert time.perf_counter() - start < 5
    assert len(history.history["val_loss"]) == 4  # one evaluation per step, at most


def test_one_optimizer_for_two_models_is_refused():
    optimizer = gpunet.optimizers.Adam(0.01)
    x, y = imbalanced()
    first = small()
    first.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    first.fit(x, y, epochs=1, verbose=0)
    second = gpunet.Sequential([Input((8,)), Dense(16, activation="relu", name=first.layers[0].name),
                                Dense(2, activation="softmax", name=first.layers[1].name)])
    with pytest.raises(ValueError, match="optimizer.*another model"):
        second.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    first.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")  # the same model again is fine
    kernel = second.weights[0]  # named like first's kernel, another weight (and another shape)
    with pytest.raises(ValueError, match=f"'{kernel.name}'.*another weight"):
        optimizer.apply_gradients([(np.zeros((8, 16), np.float32), kernel)])


# ---------------------------------------------------------------------------------------------
# small dev sets
# ---------------------------------------------------------------------------------------------
def test_ties_on_the_monitored_value_are_broken_by_dev_loss_and_tiny_dev_sets_warn():
    x, y = imbalanced()
    model = small(lr=0.05)
    with pytest.warns(UserWarning, match="dev set of 1 sample"):
        history = model.fit(x[:100], y[:100], epochs=6, batch_size=20, validation_data=(x[100:101], y[100:101]), verbose=0)
    accuracy, loss = history.history["val_accuracy"], history.history["val_loss"]
    best = min(range(6), key=lambda i: (-accuracy[i], loss[i]))
    assert history.best["epoch"] == best
    assert len(set(accuracy)) < len(accuracy)  # there were ties to break


def test_a_small_dev_set_is_not_warned_of_when_fit_selects_nothing(tmp_path):
    """The warning is about fit's own selection: with restore_best=False and no best_checkpoint the
    dev set is only reported, as in Keras, which does not warn."""
    x, y = imbalanced()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small(lr=0.05).fit(x[:100], y[:100], epochs=1, batch_size=20, validation_data=(x[100:101], y[100:101]),
                           verbose=0, restore_best=False)
    with pytest.warns(UserWarning, match="dev set of 1 sample"):
        small(lr=0.05).fit(x[:100], y[:100], epochs=1, batch_size=20, validation_data=(x[100:101], y[100:101]),
                           verbose=0, restore_best=False, best_checkpoint=str(tmp_path / "best.h5"))


# ---------------------------------------------------------------------------------------------
# interrupts
# ---------------------------------------------------------------------------------------------
class InterruptAt(Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_during_fit_keeps_the_best_weights_the_history_and_closes_files(tmp_path):
    x, y = imbalanced()
    model = small(lr=0.05)
    snap = Snapshots()
    log = gpunet.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    with pytest.raises(KeyboardInterrupt):
        model.fit(x[:100], y[:100], epochs=10, batch_size=20, validation_data=(x[100:], y[100:]),
                  callbacks=[snap, log, InterruptAt(4)], verbose=0)
    history = model.history
    assert history is not None and len(history.history["val_loss"]) == 4
    best = history.best["epoch"]
    assert history.best["restored"] and history.history["val_accuracy"][best] == max(history.history["val_accuracy"])
    for got, want in zip(model.get_weights(), snap.weights[best]):
        np.testing.assert_array_equal(got, want)
    assert log._file is None and len((tmp_path / "log.csv").read_text().splitlines()) == 5  # header + 4 rows


STEPS = textwrap.dedent("""
    import os, signal, sys, numpy as np
    sys.path.insert(0, sys.argv[1])
    import gpunet
    from gpunet.layers import Input, Dense
    x = np.random.default_rng(0).standard_normal((2000, 64)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    m = gpunet.Sequential([Input((64,)), Dense(256, activation="relu"), Dense(256, activation="relu"), Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")

    class Ready(gpunet.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 10:
                print("ready", flush=True)

    try:
        m.fit(x, y, batch_size=4, epochs=1000, verbose=0, callbacks=[Ready()])
    except KeyboardInterrupt:
        steps = {s["step"] for s in m.optimizer.get_state()["slots"].values()}
        print("steps", sorted(steps), m.optimizer.iterations, flush=True)
""")


def test_ctrl_c_never_leaves_an_update_half_done(tmp_path):
    script = tmp_path / "steps.py"
    script.write_text(STEPS)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rng = np.random.default_rng(0)
    for _ in range(6):
        child = subprocess.Popen([sys.executable, str(script), root], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.3 + rng.random() * 0.4)
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=60)
        steps, iterations = out.split("steps", 1)[1].rsplit(" ", 1)
        assert steps.strip() == f"[{iterations.strip()}]", out  # every parameter saw the same number of updates
