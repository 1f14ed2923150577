"""fit / evaluate / predict: the course's loop with Keras's semantics."""

import io
import itertools
import math
import types

import helpers
import numpy as np

import gpunet
from gpunet import Sequential, backend
from gpunet.autograd import is_grad_enabled
from gpunet.callbacks import Callback, progbar
from gpunet.layers import Dense, Dropout, Input, Layer
from gpunet.metrics import Metric
from gpunet.utils import set_random_seed


def blobs(n=240, features=6, classes=3, seed=0):
    return helpers.blobs(n, features, classes, seed)


def classifier(features=6, classes=3, dropout=0.0, optimizer="sgd"):
    layers = [Input((features,)), Dense(16, activation="relu")]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(classes, activation="softmax"))
    model = Sequential(layers)
    model.compile(optimizer=gpunet.optimizers.SGD(0.1, momentum=0.9) if optimizer == "sgd" else optimizer,
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Recorder(Callback):
    """Records every hook call with a copy of its logs."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", None))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))

    def on_test_begin(self, logs=None):
        self.calls.append(("test_begin", None))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", None))

    def hooks(self, name):
        return [c for c in self.calls if c[0] == name]


class StepRecorder(Recorder):
    """A Recorder that also records each training step's end (without reading its logs)."""

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch))

    def steps_before_each_evaluation(self):
        """For each dev evaluation: how many training steps of its epoch had ended before it."""
        counts, steps = [], 0
        for call in self.calls:
            if call[0] == "epoch_begin":
                steps = 0
            elif call[0] == "batch_end":
                steps += 1
            elif call[0] == "test_begin":
                counts.append(steps)
        return counts


class InputSpy(Layer):
    """Identity layer that records the samples it sees while training and the grad mode."""

    def __init__(self):
        super().__init__()
        self.seen = []
        self.grad_modes = []

    def call(self, x, training=False):
        self.grad_modes.append(is_grad_enabled())
        if training:
            self.seen.append(x.numpy().copy())
        return x


def test_history_keys_are_exact():
    x, y = blobs()
    h = classifier().fit(x[:200], y[:200], batch_size=20, epochs=3, validation_data=(x[200:], y[200:]), verbose=0)
    assert list(h.history) == ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time"]
    assert all(len(v) == 3 for v in h.history.values())
    assert h.epoch == [0, 1, 2]
    assert all(t >= 0 for t in h.history["epoch_time"]) and h.history["learning_rate"] == [0.1] * 3
    no_dev = classifier().fit(x, y, epochs=1, verbose=0)
    assert list(no_dev.history) == ["loss", "accuracy", "learning_rate", "epoch_time"]


def test_training_learns_and_evaluate_matches_history():
    x, y = blobs(seed=1)
    model = classifier()
    h = model.fit(x[:200], y[:200], batch_size=16, epochs=8, validation_data=(x[200:], y[200:]), verbose=0)
    assert h.history["accuracy"][-1] > 0.9 and h.history["loss"][-1] < h.history["loss"][0]
    loss, acc = model.evaluate(x[200:], y[200:], verbose=0)
    assert acc == max(h.history["val_accuracy"])  # best-on-dev restored
    assert isinstance(loss, float)
    assert model.evaluate(x[200:], y[200:], verbose=0, return_dict=True)["accuracy"] == acc


def test_mean_training_loss_is_the_batch_size_weighted_mean():
    x, y = blobs(n=50)
    model = classifier()
    before = model.get_weights()
    model.optimizer.learning_rate = 0.0  # no learning: every batch sees the same weights
    h = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model.set_weights(before)
    full = model.evaluate(x, y, batch_size=50, verbose=0)
    np.testing.assert_allclose(h.history["loss"][0], full[0], rtol=1e-5)
    np.testing.assert_allclose(h.history["accuracy"][0], full[1])


def test_k_dev_evaluations_per_epoch_each_reported():
    x, y = blobs()
    rec = StepRecorder()
    h = classifier().fit(x[:200], y[:200], batch_size=10, epochs=2, validation_data=(x[200:], y[200:]),
                         validations_per_epoch=4, callbacks=[rec], verbose=0)
    assert len(h.history["val_accuracy"]) == 8 and h.epoch == [0, 0, 0, 0, 1, 1, 1, 1]
    assert len(rec.hooks("epoch_end")) == 8 and len(rec.hooks("test_begin")) == 8
    assert len(rec.hooks("epoch_begin")) == 2 and len(rec.hooks("batch_end")) == 40
    # 200 samples in batches of 10 = 20 steps an epoch; 4 evaluations evenly spaced: after steps 5, 10, 15, 20
    assert rec.steps_before_each_evaluation() == [5, 10, 15, 20, 5, 10, 15, 20]


def test_report_steps_are_evenly_spaced():
    from gpunet.training.loop import report_steps as _report_steps

    assert _report_steps(20, 4) == [5, 10, 15, 20]
    assert _report_steps(10, 3) == [3, 7, 10]
    assert _report_steps(2, 5) == [1, 2]
    assert _report_steps(7, 1) == [7]


def same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


class Sabotage(Callback):
    """Zero the weights at the end of one epoch, so later dev scores collapse."""

    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch
        self.snapshot = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch - 1:
            self.snapshot = self.model.get_weights()
        if epoch == self.at_epoch:
            self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])
            self.model.optimizer.learning_rate = 0.0


def test_best_dev_weights_are_restored():
    """The best epoch is known in advance: full-batch gradient descent with a small step on a convex
    model (softmax regression, from zero weights) lowers the loss on its own training set at every
    step, and that set is the dev set here, so dev loss falls at epochs 0, 1, 2; then Sabotage zeroes
    the weights (dev loss back to log 3) and freezes them for epochs 3 and 4. Best: epoch 2."""
    x, y = blobs(n=120, seed=2)
    model = Sequential([Input((6,)), Dense(3, activation="softmax")])
    model.compile(optimizer=gpunet.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")  # no accuracy: val_loss
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    snapshots = helpers.Snapshots()
    h = model.fit(x, y, batch_size=120, epochs=5, validation_data=(x, y), callbacks=[snapshots, Sabotage(at_epoch=2)],
                  verbose=0)
    dev = h.history["val_loss"]
    assert dev[0] > dev[1] > dev[2] and dev[3] == dev[4] > dev[2], dev
    np.testing.assert_allclose(dev[3], math.log(3), rtol=1e-6)  # the sabotaged, uniform model
    assert h.best == {"monitor": "val_loss", "value": dev[2], "epoch": 2, "restored": True, "by": "fit"}
    # the snapshots tell the epochs apart: the best one differs from the epoch before it and from the last
    assert len(snapshots.weights) == 5
    best, last = snapshots.weights[2], snapshots.weights[4]
    assert not same_weights(best, snapshots.weights[1]) and not same_weights(best, last)
    restored = model.get_weights()
    assert same_weights(restored, best), "fit must restore the weights of the end of epoch 2 (the best dev loss)"
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), dev[2], rtol=1e-6)


def test_restore_best_false_keeps_last_weights():
    x, y = blobs(seed=2)
    model = classifier()
    model.fit(x[:200], y[:200], epochs=4, validation_data=(x[200:], y[200:]), callbacks=[Sabotage(1)], restore_best=False, verbose=0)
    assert all(np.all(w == 0) for w in model.get_weights())


def test_best_is_dev_loss_without_accuracy_metric():
    x, y = blobs()
    model = Sequential([Input((6,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    h = model.fit(x[:200], y[:200], epochs=3, validation_data=(x[200:], y[200:]), verbose=0)
    assert h.best["monitor"] == "val_loss" and h.best["value"] == min(h.history["val_loss"])


def test_every_epoch_reshuffles_without_replacement_from_the_seed():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20) % 2

    def run(seed):
        set_random_seed(seed)
        spy = InputSpy()
        model = Sequential([Input((2,)), spy, Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=6, epochs=3, verbose=0)
        epochs = [np.concatenate(spy.seen[i * 4:(i + 1) * 4])[:, 0] / 2 for i in range(3)]
        return [e.astype(int).tolist() for e in epochs]

    orders = run(5)
    for order in orders:
        assert sorted(order) == list(range(20))  # each sample exactly once per epoch
    for a, b in itertools.combinations(range(3), 2):  # every pair of epochs, first and last included
        assert orders[a] != orders[b], f"epochs {a} and {b} saw the same order"
    assert run(5) == orders  # reproducible from the seed
    assert run(6) != orders


def test_shuffle_false_keeps_order():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    spy = InputSpy()
    model = Sequential([Input((2,)), spy, Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, np.zeros(10, int), batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_array_equal(np.concatenate(spy.seen), x)


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, y = blobs(n=100)
    model = classifier()
    h = model.fit(x, y, batch_size=10, epochs=1, validation_split=0.25, restore_best=False, verbose=0)
    loss, acc = model.evaluate(x[75:], y[75:], verbose=0)
    np.testing.assert_allclose(h.history["val_loss"][0], loss, rtol=1e-6)
    assert h.history["val_accuracy"][0] == acc


def test_epochs_is_the_final_epoch_index():
    x, y = blobs(n=40)
    rec = Recorder()
    h = classifier().fit(x, y, epochs=3, initial_epoch=1, callbacks=[rec], verbose=0)
    assert h.epoch == [1, 2] and [c[1] for c in rec.hooks("epoch_begin")] == [1, 2]
    assert classifier().fit(x, y, epochs=2, initial_epoch=2, verbose=0).epoch == []


def test_validation_freq():
    x, y = blobs(n=60)
    h = classifier().fit(x[:40], y[:40], epochs=4, validation_data=(x[40:], y[40:]), validation_freq=2, verbose=0)
    assert len(h.history["loss"]) == 4 and len(h.history["val_loss"]) == 2
    h = classifier().fit(x[:40], y[:40], epochs=3, validation_data=(x[40:], y[40:]), validation_freq=[1, 3], verbose=0)
    assert len(h.history["val_loss"]) == 2


def test_callback_hooks_order_and_stop_training():
    x, y = blobs(n=40)
    order = []

    class Stopper(Callback):
        def on_epoch_end(self, epoch, logs=None):
            order.append(epoch)
            if epoch == 1:
                self.model.stop_training = True

    h = classifier().fit(x, y, epochs=10, callbacks=[Stopper()], verbose=0)
    assert order == [0, 1] and h.epoch == [0, 1]


def test_same_logs_reach_every_callback_and_history():
    x, y = blobs(n=60)
    a, b = Recorder(), Recorder()
    h = classifier().fit(x[:40], y[:40], epochs=2, validation_data=(x[40:], y[40:]), callbacks=[a, b], verbose=0)
    assert a.hooks("epoch_end") == b.hooks("epoch_end")
    assert [c[2]["val_loss"] for c in a.hooks("epoch_end")] == h.history["val_loss"]
    assert [c[0] for c in a.calls][:2] == ["train_begin", "epoch_begin"] and a.calls[-1][0] == "train_end"


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------
def test_verbose_2_prints_one_line_per_epoch_and_the_weights_restored(capsys):
    x, y = blobs(n=60)
    h = classifier().fit(x[:40], y[:40], epochs=2, validation_data=(x[40:], y[40:]), verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    best = h.best
    assert lines[2] == (f"Restored the weights of epoch {best['epoch'] + 1} "
                        f"(best val_accuracy {best['value']:.4f}, chosen by fit)")
    for i, line in enumerate(lines[:2]):
        assert line.startswith(f"Epoch {i + 1}/2 - ")
        for key in ("loss: ", "accuracy: ", "val_loss: ", "val_accuracy: ", "learning_rate: 0.1"):
            assert key in line
        assert "s - " in line  # the epoch time


def test_verbose_auto_without_a_terminal_prints_lines(capsys):
    x, y = blobs(n=40)
    classifier().fit(x, y, epochs=2)
    out = capsys.readouterr().out
    assert "\r" not in out and len(out.strip().splitlines()) == 2


def test_verbose_0_is_silent(capsys):
    x, y = blobs(n=40)
    model = classifier()
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_1_on_a_terminal_draws_a_live_bar(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stdout", terminal)
    x, y = blobs(n=200)
    classifier().fit(x[:160], y[:160], batch_size=8, epochs=2, validation_data=(x[160:], y[160:]))
    out = terminal.getvalue()
    assert "Epoch 1/2\n" in out and "Epoch 2/2\n" in out
    assert "\r20/20 [==============================]" in out
    last_line = out.split("Epoch 2/2\n")[1]
    assert "val_accuracy: " in last_line and "learning_rate: " in last_line and last_line.endswith("\n")


def test_live_bar_reads_running_values_only_when_it_redraws(monkeypatch):
    """The running loss and metrics (a device sync on the GPU) are read per redraw, not per step.

    The bar's clock is replaced by one that advances 0.1 s each time it is read (once at the epoch's
    start, once per step), so with the 0.25 s refresh the bar redraws every third step
    (0.3 s >= 0.25 s > 0.2 s) and at the last step, whatever the machine's speed."""
    clock = itertools.count()
    monkeypatch.setattr(progbar, "time", types.SimpleNamespace(perf_counter=lambda: next(clock) * 0.1))
    reads = []
    original = Metric.result

    def counting(self):
        reads.append(self.name)
        return original(self)

    monkeypatch.setattr(Metric, "result", counting)
    monkeypatch.setattr("sys.stdout", FakeTerminal())

    class ReadsPerStep(Callback):  # runs after the bar, reads nothing itself
        def __init__(self):
            super().__init__()
            self.after_step = []

        def on_train_batch_end(self, batch, logs=None):
            self.after_step.append(len(reads))

    counter = ReadsPerStep()
    x, y = blobs(n=400)
    classifier().fit(x, y, batch_size=2, epochs=1, callbacks=[counter])  # 200 steps
    per_step = np.diff([0, *counter.after_step])
    redraws = [*range(3, 200, 3), 200]
    assert [int(i) + 1 for i in np.flatnonzero(per_step)] == redraws
    assert {int(n) for n in per_step[np.array(redraws) - 1]} == {2}  # loss and accuracy, once each per redraw
    assert reads[-2:] == ["loss", "accuracy"] and len(reads) == 2 * len(redraws) + 2  # and once for the epoch's report


# ---------------------------------------------------------------------------------------------
# evaluate, predict
# ---------------------------------------------------------------------------------------------
def test_evaluate_without_dropout_or_graph():
    x, y = blobs(n=50)
    spy = InputSpy()
    model = Sequential([Input((6,)), spy, Dense(8, activation="relu"), Dropout(0.5), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    first = model.evaluate(x, y, verbose=0)
    assert model.evaluate(x, y, batch_size=7, verbose=0)[1] == first[1]
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=7, verbose=0)[0], first[0], rtol=1e-6)
    assert spy.grad_modes and not any(spy.grad_modes)
    probs = model.predict(x)
    expected_loss = -np.mean(np.log(probs[np.arange(50), y]))
    np.testing.assert_allclose(first[0], expected_loss, rtol=1e-5)
    assert first[1] == np.mean(probs.argmax(1) == y)


def test_evaluate_returns_scalar_without_metrics_and_dict_on_request():
    x, y = blobs(n=30)
    model = Sequential([Input((6,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    assert list(model.evaluate(x, y, verbose=0, return_dict=True)) == ["loss"]


def test_evaluate_verbose_prints_a_line(capsys):
    x, y = blobs(n=30)
    classifier().evaluate(x, y, verbose=1)
    out = capsys.readouterr().out
    assert "loss: " in out and "accuracy: " in out


def test_predict_returns_host_numpy(xp):
    x, _ = blobs(n=33)
    model = classifier()
    out = model.predict(backend.to_device(x), batch_size=10)
    assert isinstance(out, np.ndarray) and out.shape == (33, 3)
    np.testing.assert_allclose(out.sum(1), 1, rtol=1e-5)
    np.testing.assert_allclose(out, model(x).numpy(), rtol=1e-6)


def test_one_hot_targets_and_categorical_accuracy():
    x, y = blobs()
    model = Sequential([Input((6,)), Dense(3, activation="softmax")])
    model.compile(optimizer=gpunet.optimizers.SGD(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, np.eye(3)[y], epochs=5, verbose=0)
    assert h.history["accuracy"][-1] > 0.8


def test_binary_and_regression_models():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3)).astype(np.float32)
    yb = (x.sum(1) > 0).astype(np.float32)
    model = Sequential([Input((3,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer=gpunet.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])
    assert model.output_is_fused()
    h = model.fit(x, yb, epochs=10, verbose=0)
    assert h.history["accuracy"][-1] > 0.9
    reg = Sequential([Input((3,)), Dense(1)])
    reg.compile(optimizer=gpunet.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    target = x @ np.array([1.0, -2.0, 0.5], np.float32)
    h = reg.fit(x, target, epochs=20, verbose=0)
    assert h.history["loss"][-1] < 1e-3 and list(h.history)[:2] == ["loss", "mae"]


def test_fit_accepts_uint8_images_and_label_column():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 3, (30, 1))
    model = Sequential([Input((4, 4)), gpunet.layers.Flatten(), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=1, verbose=0)
    assert math.isfinite(h.history["loss"][0])


def test_fit_on_every_backend(xp):
    x, y = blobs()
    model = classifier()
    h = model.fit(backend.to_device(x[:200]), backend.to_device(y[:200]), epochs=4,
                  validation_data=(x[200:], y[200:]), validations_per_epoch=2, verbose=0)
    assert h.history["val_accuracy"][-1] > 0.8
    assert isinstance(model.weights[0].data, xp.ndarray)
