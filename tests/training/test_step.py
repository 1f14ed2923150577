"""The train step: a recorded step never replays a stale graph; run_eagerly; wrappers; train_step."""

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, losses
from gpunet.autograd import Tape
from gpunet.callbacks import Callback
from gpunet.layers import Dense, Dropout, Input, Layer
from gpunet.training import TrainStepWrapper, add_train_step_wrapper, remove_train_step_wrapper
from gpunet.utils import set_random_seed
from helpers import Snapshots, blobs


def network():
    return Sequential([Input((6,)), Dense(12, activation="relu", name="hidden"), Dropout(0.5, name="drop"),
                       Dense(3, activation="softmax", name="out")])


class Mutate(Callback):
    """Change the model from a callback at given steps of the first epoch."""

    def __init__(self, changes):
        super().__init__()
        self.changes = changes  # {batch index: function(model)}

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 0 and batch in self.changes:
            self.changes[batch](self.model)


def _set(layer, attribute, value):
    def change(model):
        setattr(next(each for each in model.layers if each.name == layer), attribute, value)
    return change


MUTATIONS = {
    "dropout rate to 0": {0: _set("drop", "rate", 0.0)},
    "hidden activation relu -> tanh": {0: _set("hidden", "activation", gpunet.activations.get("tanh"))},
    "freeze, then unfreeze the hidden layer": {0: _set("hidden", "trainable", False), 3: _set("hidden", "trainable", True)},
    "output softmax -> sigmoid": {1: _set("out", "activation", gpunet.activations.get("sigmoid"))},
    "the loss object replaced": {0: lambda m: setattr(m, "loss", losses.SparseCategoricalCrossentropy(from_logits=True))},
    "freeze the whole model": {2: lambda m: setattr(m, "trainable", False)},
    "freeze one weight": {1: lambda m: setattr(m.layers[0].kernel, "trainable", False)},
}


def _fit(mutation, run_eagerly):
    set_random_seed(5)
    x, y = blobs(n=64, features=6, seed=3)
    model = network()
    model.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  run_eagerly=run_eagerly)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[Mutate(MUTATIONS[mutation])] if mutation else [])
    logs = {key: values for key, values in history.history.items() if key != "epoch_time"}
    return model.get_weights(), logs


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_a_change_made_during_fit_gives_the_eager_result_bitwise(mutation, monkeypatch):
    recordings = []
    original = Tape.record.__func__

    def counting(cls, *args, **kwargs):
        recordings.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(Tape, "record", classmethod(counting))
    eager_weights, eager_logs = _fit(mutation, run_eagerly=True)
    assert recordings == []  # run_eagerly: no tape at all
    taped_weights, taped_logs = _fit(mutation, run_eagerly=False)
    assert len(recordings) == 1 + len(MUTATIONS[mutation])  # one recording, then one per change
    for got, want in zip(taped_weights, eager_weights):
        np.testing.assert_array_equal(got, want)
    assert taped_logs == eager_logs
    unchanged, _ = _fit(None, run_eagerly=True)
    assert any(not np.array_equal(a, b) for a, b in zip(unchanged, eager_weights))  # the change mattered


def test_frozen_layers_are_left_alone_by_the_optimizer():
    set_random_seed(2)
    x, y = blobs(n=40, features=6)
    model = network()
    model.layers[0].trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    after = model.get_weights()
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert not np.array_equal(after[2], before[2])
    assert sorted(model.optimizer.get_state()["slots"]) == ["out/bias", "out/kernel"]


@pytest.mark.parametrize("kwargs,text", [
    ({"jit_compile": True}, "jit_compile=True"),
    ({"steps_per_execution": 4}, "steps_per_execution=4"),
    ({"loss_weights": [1.0, 2.0]}, "loss_weights is a list of 2 entries"),
    ({"run_eagerly": "yes"}, "run_eagerly"),
])
def test_compile_refuses_what_it_cannot_honour(kwargs, text):
    model = network()
    with pytest.raises(ValueError, match=text):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", **kwargs)
    assert not model.compiled
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile="auto", steps_per_execution=1)
    assert model.compiled


class Doubling(Layer):
    """A user layer that does not declare the recording contract."""

    def call(self, x, training=False):
        return x * 2.0


def test_verbose_says_once_why_steps_run_eagerly(capsys):
    x, y = blobs(n=40, features=6)
    model = Sequential([Input((6,)), Doubling(name="twice"), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=2)
    out = capsys.readouterr().out
    assert out.count("runs eagerly") == 1 and "layer 'twice' (Doubling)" in out
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert "eagerly" not in capsys.readouterr().out


class Scaled(TrainStepWrapper):
    """A wrapper that multiplies every gradient by ``factor`` between backward and update."""

    def __init__(self, inner, factor):
        super().__init__(inner)
        self.factor = factor
        self.calls = 0

    def gradients(self, x, y):
        self.calls += 1
        return [g * self.factor for g in self.inner.gradients(x, y)]


def test_a_registered_wrapper_sits_between_backward_and_update():
    x, y = blobs(n=32, features=6)
    wrappers = []

    def wrap(step):
        wrappers.append(Scaled(step, 0.0))
        return wrappers[-1]

    add_train_step_wrapper(wrap)
    try:
        model = network()
        model.compile(optimizer=gpunet.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
        before = model.get_weights()
        history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    finally:
        remove_train_step_wrapper(wrap)
    assert len(wrappers) == 1 and wrappers[0].calls == 4
    for got, want in zip(model.get_weights(), before):  # zero gradients: nothing moved
        np.testing.assert_array_equal(got, want)
    assert np.isfinite(history.history["loss"][0])  # the inner step's running loss still reports
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # removed: training moves the weights again
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


class PlainSGD(gpunet.Sequential):
    """Keras 3 style: a model class with its own train_step (plain gradient descent, eagerly)."""

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for p in self.trainable_weights:
            p.grad = None
        loss.backward()
        for p in self.trainable_weights:
            p.data -= 0.1 * p.grad
        self.seen.append(x.shape[0])
        return {"loss": loss, "batches": len(self.seen)}


class CountingSteps(gpunet.Sequential):
    """Keras 3's usual override: count, then the default step (which returns lazy logs)."""

    def train_step(self, data):
        self.count = getattr(self, "count", 0) + 1
        return super().train_step(data)


def test_an_override_that_calls_the_default_step_trains_as_the_default():
    x, y = blobs(n=40, features=6)
    results = []
    for cls in (gpunet.Sequential, CountingSteps):
        set_random_seed(9)
        model = cls([Input((6,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        results.append((model.get_weights(), history.history["loss"], history.history["accuracy"]))
    assert model.count == 10
    for got, want in zip(results[1][0], results[0][0]):
        np.testing.assert_array_equal(got, want)
    assert results[1][1:] == results[0][1:]


def test_an_overridden_train_step_is_what_fit_runs():
    x, y = blobs(n=20, features=6)
    set_random_seed(8)
    model = PlainSGD([Input((6,)), Dense(3, activation="softmax")])
    model.seen = []
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    start = model.get_weights()
    history = model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert model.seen == [8, 8, 4] and history.history["batches"] == [3]
    # the same three steps by hand, in float64, from the same start
    kernel, bias = (w.astype(np.float64) for w in start)
    for start_row in (0, 8, 16):
        xb, yb = x[start_row:start_row + 8].astype(np.float64), y[start_row:start_row + 8]
        logits = xb @ kernel + bias
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        last_loss = -np.mean(np.log(p[np.arange(len(yb)), yb]))
        d = p.copy()
        d[np.arange(len(yb)), yb] -= 1
        d /= len(yb)
        kernel, bias = kernel - 0.1 * xb.T @ d, bias - 0.1 * d.sum(axis=0)
    got_kernel, got_bias = model.get_weights()
    np.testing.assert_allclose(got_kernel, kernel, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_bias, bias, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history.history["loss"][0], last_loss, rtol=1e-5)
    assert model.optimizer.iterations == 0  # the compiled optimizer was never used


def test_weights_history_and_output_agree_on_the_epoch_held(capsys):
    """fit selects on val_accuracy; EarlyStopping restores its own best val_loss (mode max, so a
    different epoch) after fit's restore: history.best and the printed line name what is held."""
    set_random_seed(4)
    x, y = blobs(n=200, features=6, seed=5)
    model = network()
    model.compile(optimizer=gpunet.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    snaps = Snapshots()
    stopper = gpunet.callbacks.EarlyStopping(monitor="val_loss", mode="max", patience=10, restore_best_weights=True)
    history = model.fit(x[:150], y[:150], epochs=5, batch_size=16, validation_data=(x[150:], y[150:]),
                        callbacks=[snaps, stopper], verbose=2)
    val_loss, val_acc = history.history["val_loss"], history.history["val_accuracy"]
    held = int(np.argmax(val_loss))
    assert held != int(np.argmax(val_acc))  # the two selections disagree in this run
    assert history.best == {"monitor": "val_loss", "value": val_loss[held], "epoch": held, "restored": True,
                            "by": "EarlyStopping"}
    for got, want in zip(model.get_weights(), snaps.weights[held]):
        np.testing.assert_array_equal(got, want)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"Restored the weights of epoch {held + 1} (best val_loss {val_loss[held]:.4f}, chosen by EarlyStopping)"


def test_without_a_restore_history_best_says_so():
    x, y = blobs(n=60, features=6)
    model = network()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:40], y[:40], epochs=3, validation_data=(x[40:], y[40:]), restore_best=False, verbose=0)
    best = int(np.argmax(history.history["val_accuracy"]))
    assert history.best == {"monitor": "val_accuracy", "value": history.history["val_accuracy"][best], "epoch": best,
                            "restored": False}
