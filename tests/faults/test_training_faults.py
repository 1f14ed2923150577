"""Training that goes wrong: a diverging loss, two processes with the same seed, a long run."""

import math
import os
import subprocess
import sys
import textwrap
import warnings

import helpers
import numpy as np
import pytest

import gpunet
from gpunet.callbacks import ModelCheckpoint, TerminateOnNaN
from gpunet.layers import Dense, Input
from gpunet.training import NonFiniteLossWarning


def data(n=400, seed=0):
    return helpers.blobs(n, 8, seed=seed, spread=2.0)


BlowUp = helpers.BlowUp


def net():
    model = gpunet.Sequential([Input((8,)), Dense(32, activation="relu"), Dense(32, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=gpunet.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_terminate_on_nan_restores_best_and_keeps_the_checkpoint(tmp_path):
    x, y = data()
    model = net()
    best_file = tmp_path / "best.h5"
    checkpoint = ModelCheckpoint(str(tmp_path / "keras-best.h5"), monitor="val_accuracy", save_best_only=True)
    stop = TerminateOnNaN()
    history = model.fit(x[:300], y[:300], batch_size=16, epochs=20, validation_data=(x[300:], y[300:]),
                        best_checkpoint=str(best_file), callbacks=[BlowUp(3), stop, checkpoint], verbose=0)
    assert stop.stopped is not None and stop.stopped[0] == 3  # stopped in the epoch that blew up
    assert len(history.history["loss"]) == 4 and not math.isfinite(history.history["loss"][-1])
    weights = model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in weights)  # fit restored its best-on-dev weights
    saved = gpunet.load_model(best_file)
    for a, b in zip(saved.get_weights(), weights):
        np.testing.assert_array_equal(a, b)  # the best checkpoint holds the same, intact
    kept = gpunet.load_model(tmp_path / "keras-best.h5")  # Keras's rule (strict improvement): one of the best
    assert kept.evaluate(x[300:], y[300:], verbose=0)[1] == max(history.history["val_accuracy"][:3])
    assert model.evaluate(x[300:], y[300:], verbose=0)[1] == max(history.history["val_accuracy"][:3])


def test_terminate_on_nan_can_raise_after_restoring():
    x, y = data()
    model = net()
    with pytest.raises(RuntimeError, match="the loss became nan|the loss became inf"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonFiniteLossWarning)
            model.fit(x[:300], y[:300], epochs=10, validation_data=(x[300:], y[300:]),
                      callbacks=[BlowUp(2), TerminateOnNaN(raise_error=True)], verbose=0)
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_without_the_callback_fit_warns_once_and_the_history_shows_it():
    x, y = data()
    model = net()
    with pytest.warns(NonFiniteLossWarning, match="the training loss is (nan|inf) at epoch 3") as record:
        history = model.fit(x[:300], y[:300], epochs=5, validation_data=(x[300:], y[300:]), callbacks=[BlowUp(2)], verbose=0)
    assert len([w for w in record if issubclass(w.category, NonFiniteLossWarning)]) == 1
    losses = history.history["loss"]
    assert len(losses) == 5 and all(math.isfinite(v) for v in losses[:2]) and not math.isfinite(losses[2])
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())  # best-on-dev weights restored


@pytest.mark.filterwarnings("ignore::gpunet.training.NonFiniteLossWarning")
def test_checkpoint_is_never_written_with_a_nan_loss(tmp_path):
    x, y = data()
    model = net()
    path = tmp_path / "every.h5"
    with pytest.warns(UserWarning, match="not saving"):
        model.fit(x, y, epochs=4, callbacks=[BlowUp(2), ModelCheckpoint(str(path))], verbose=0)
    assert all(np.all(np.isfinite(w)) for w in gpunet.load_model(path).get_weights())


TRAIN_AND_HASH = textwrap.dedent(
    """
    import hashlib, numpy as np, gpunet
    from gpunet.layers import Dense, Dropout, Input
    gpunet.utils.set_random_seed(123)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 10)).astype("float32"); y = rng.integers(0, 4, 300)
    model = gpunet.Sequential([Input((10,)), Dense(32, activation="relu"), Dropout(0.3), Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=3, validation_split=0.2, validations_per_epoch=2, verbose=0)
    print(hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest())
    """
)


def test_same_seed_gives_bitwise_identical_weights_across_processes():
    env = {**os.environ, "GPUNET_BACKEND": "numpy", "PYTHONPATH": os.path.dirname(os.path.dirname(gpunet.__file__))}
    digests = [
        subprocess.run([sys.executable, "-c", TRAIN_AND_HASH], capture_output=True, text=True, env=env, timeout=120, check=True).stdout.strip()
        for _ in range(2)
    ]
    assert digests[0] == digests[1] and len(digests[0]) == 64


LONG_RUN = textwrap.dedent(
    """
    import numpy as np, gpunet
    from gpunet.callbacks import Callback
    from gpunet.layers import Dense, Dropout, Input

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    class Memory(Callback):
        def __init__(self):
            super().__init__()
            self.after = {}
        def on_epoch_end(self, epoch, logs=None):
            self.after[epoch + 1] = rss()   # the last report of the epoch wins

    gpunet.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 20)).astype("float32"); y = rng.integers(0, 5, 2000)
    model = gpunet.Sequential([Input((20,)), Dense(64, activation="relu"), Dropout(0.2), Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    memory = Memory()
    model.fit(x[:1600], y[:1600], batch_size=32, epochs=50, validation_data=(x[1600:], y[1600:]),
              validations_per_epoch=4, callbacks=[memory], verbose=0)
    print(memory.after[5], memory.after[50])
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_resident_memory_is_flat_over_a_long_run():
    env = {**os.environ, "GPUNET_BACKEND": "numpy", "PYTHONPATH": os.path.dirname(os.path.dirname(gpunet.__file__))}
    out = subprocess.run([sys.executable, "-c", LONG_RUN], capture_output=True, text=True, env=env, timeout=300, check=True).stdout
    after_5, after_50 = (int(v) for v in out.split())
    assert abs(after_50 - after_5) <= 0.05 * after_5, f"resident memory grew from {after_5} to {after_50} bytes"
