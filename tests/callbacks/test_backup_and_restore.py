"""BackupAndRestore: a fit interrupted (an exception, Ctrl-C, SIGKILL) and run again resumes from
its last backup and ends bitwise equal, on the CPU, to a fit that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import warnings

import helpers
import numpy as np
import pytest

from gpunet import Sequential, callbacks, optimizers
from gpunet.callbacks import BackupAndRestore, Callback, EarlyStopping, ReduceLROnPlateau
from gpunet.layers import Dense, Dropout, Input
from gpunet.utils import set_random_seed

EPOCHS = 6


pytestmark = pytest.mark.usefixtures("numpy_backend")  # host arithmetic and files, whatever the suite's backend


def data():
    x, y = helpers.blobs(360, 4, 3, seed=5, spread=1.5)  # overlapping classes: dev accuracy moves
    return (x[:240], y[:240]), (x[240:], y[240:])


def model(optimizer=None):
    set_random_seed(11)
    m = Sequential([Input((4,)), Dense(16, activation="relu"), Dropout(0.3), Dense(3, activation="softmax")])
    m.compile(optimizer=optimizer or optimizers.Adam(learning_rate=0.02), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def fit(m, extra=(), **kwargs):
    (x, y), dev = data()
    plateau = ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5)
    args = {"epochs": EPOCHS, "batch_size": 32, "validation_data": dev, "verbose": 0, **kwargs}
    return m.fit(x, y, callbacks=[plateau, *extra], **args)


class Raise(Callback):
    """Raise ``error`` when epoch ``epoch`` begins."""

    def __init__(self, epoch, error=RuntimeError):
        super().__init__()
        self.epoch, self.error = epoch, error

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise self.error(f"interrupted at epoch {epoch}")


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert wa.dtype == wb.dtype and np.array_equal(wa, wb)


@pytest.mark.parametrize("per_epoch", [1, 3])
def test_an_exception_then_fit_again_resumes_bitwise(tmp_path, per_epoch):
    baseline = model()
    full = fit(baseline, validations_per_epoch=per_epoch)

    m = model()
    backup = BackupAndRestore(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="epoch 3"):
        fit(m, [backup, Raise(3)], validations_per_epoch=per_epoch)
    assert os.listdir(tmp_path / "backup") == ["latest.h5"]  # written at the end of epochs 1..3
    resumed = fit(m, [backup], validations_per_epoch=per_epoch)  # no initial_epoch: the backup says 3

    assert sorted(set(resumed.epoch)) == [3, 4, 5]
    assert len(resumed.history["loss"]) == 3 * per_epoch
    for key, values in full.history.items():
        if key != "epoch_time":
            assert resumed.history[key] == values[-3 * per_epoch:], key
    assert resumed.best == full.best
    assert_same_weights(m, baseline)
    assert not (tmp_path / "backup").exists()  # a fit that ended normally removes its backup


def test_a_fresh_model_resumes_from_the_backup(tmp_path):
    """What a new process does: a new model object (new weights) picks up the backup."""
    baseline = model()
    fit(baseline)
    first = model()
    with pytest.raises(RuntimeError):
        fit(first, [BackupAndRestore(tmp_path), Raise(2)])
    second = model()
    history = fit(second, [BackupAndRestore(tmp_path)])
    assert history.epoch == [2, 3, 4, 5]
    assert_same_weights(second, baseline)


def test_ctrl_c_keeps_the_backup_and_the_next_fit_resumes(tmp_path):
    baseline = model()
    full = fit(baseline)
    m = model()
    backup = BackupAndRestore(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        fit(m, [backup, Raise(4, KeyboardInterrupt)])
    # Ctrl-C ends fit as its end would (best weights restored, on_train_end called), but the
    # fit did not finish: its backup stays
    assert (tmp_path / "b" / "latest.h5").is_file()
    resumed = fit(m, [backup])
    assert resumed.epoch == [4, 5]
    assert resumed.history["val_loss"] == full.history["val_loss"][4:]
    assert_same_weights(m, baseline)


def test_the_backup_is_written_atomically_after_the_other_callbacks(tmp_path):
    seen = []

    class Look(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(os.listdir(tmp_path))

    m = model()
    fit(m, [BackupAndRestore(tmp_path, delete_checkpoint=False), Look()], epochs=2)
    # Look, listed after it, still runs before it (BackupAndRestore runs last, as ModelCheckpoint)
    assert seen == [[], ["latest.h5"]]
    assert sorted(os.listdir(tmp_path)) == ["latest.h5"]  # no temporary file left


def test_delete_checkpoint_false_keeps_it_and_a_later_fit_has_nothing_left_to_run(tmp_path):
    m = model()
    fit(m, [BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert (tmp_path / "latest.h5").is_file()
    again = fit(model(), [BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert again.epoch == [] and again.history == {}  # Keras: the backup says every epoch is done


def test_early_stopping_is_a_normal_end_and_removes_the_backup(tmp_path):
    m = model()
    history = fit(m, [EarlyStopping(monitor="loss", patience=0, min_delta=10.0), BackupAndRestore(tmp_path / "b")])
    assert len(history.epoch) < EPOCHS
    assert not (tmp_path / "b").exists()


def test_only_its_own_files_are_removed(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    fit(model(), [BackupAndRestore(tmp_path)], epochs=2)
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    baseline = model()
    fit(baseline)
    m = model()
    with pytest.raises(RuntimeError):
        fit(m, [BackupAndRestore(tmp_path, double_checkpoint=True), Raise(4)])
    assert sorted(os.listdir(tmp_path)) == ["latest.h5", "previous.h5"]
    (tmp_path / "latest.h5").write_bytes(b"not an HDF5 file")  # damaged
    m = model()
    with pytest.warns(UserWarning, match="previous backup"):
        history = fit(m, [BackupAndRestore(tmp_path, double_checkpoint=True)])
    assert history.epoch == [3, 4, 5]  # from the end of epoch 3: one epoch more to run again
    assert_same_weights(m, baseline)  # and still exact


def test_a_damaged_backup_without_a_previous_one_is_an_error_naming_it(tmp_path):
    (tmp_path / "latest.h5").write_bytes(b"garbage")
    with pytest.raises(OSError, match="latest.h5"):
        fit(model(), [BackupAndRestore(tmp_path)])


def test_a_backup_of_another_setup_is_refused_before_anything_changes(tmp_path):
    m = model()
    with pytest.raises(RuntimeError):
        fit(m, [BackupAndRestore(tmp_path), Raise(2)])
    other = model(optimizers.SGD(learning_rate=0.1))
    before = other.get_weights()
    with pytest.raises(ValueError, match="optimizer: Adam in the backup, SGD now"):
        fit(other, [BackupAndRestore(tmp_path)])
    assert all(np.array_equal(a, b) for a, b in zip(before, other.get_weights()))
    wider = Sequential([Input((4,)), Dense(17, activation="relu"), Dense(3, activation="softmax")])
    wider.compile(optimizer=optimizers.Adam(learning_rate=0.02), loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"architecture Sequential layers: 4 entries in the backup, 3 now.*metrics"):
        fit(wider, [BackupAndRestore(tmp_path)])


def test_a_report_with_non_finite_weights_is_not_backed_up(tmp_path):
    class Poison(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                self.model.weights[0].data[0, 0] = np.nan

    m = model()
    with pytest.raises(RuntimeError), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(m, [Poison(), BackupAndRestore(tmp_path), Raise(4)])
    skipped = [str(w.message) for w in caught if "BackupAndRestore" in str(w.message)]
    assert len(skipped) == 2 and "no backup of epoch 3" in skipped[0]
    history = fit(model(), [BackupAndRestore(tmp_path)], epochs=3)
    assert history.epoch == [2]  # from the last sound backup: the end of epoch index 1


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="save_freq must be 'epoch'.*end of an epoch"):
        BackupAndRestore("b", save_freq=100)
    with pytest.raises(TypeError, match="backup_dir"):
        BackupAndRestore(None)
    with pytest.raises(ValueError, match="backup_dir"):
        BackupAndRestore("")
    with pytest.raises(TypeError, match="double_checkpoint"):
        BackupAndRestore("b", double_checkpoint="yes")
    with pytest.raises(TypeError, match="delete_checkpoint"):
        BackupAndRestore("b", delete_checkpoint=1)


def test_it_round_trips_through_a_config(tmp_path):
    backup = BackupAndRestore(str(tmp_path), double_checkpoint=True, delete_checkpoint=False)
    entry = callbacks.serialize(backup)
    assert entry == {"class_name": "BackupAndRestore", "config": {
        "backup_dir": str(tmp_path), "save_freq": "epoch", "double_checkpoint": True, "delete_checkpoint": False}}
    again = callbacks.deserialize(entry)
    assert isinstance(again, BackupAndRestore) and again.get_config() == entry["config"]


# --------------------------------------------------------------------------------------------------
# a process killed with SIGKILL, then the same script run again
# --------------------------------------------------------------------------------------------------
SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    from gpunet import Sequential, backend, optimizers
    from gpunet.callbacks import BackupAndRestore, Callback, ReduceLROnPlateau
    from gpunet.layers import Dense, Dropout, Input
    from gpunet.utils import set_random_seed

    backend.use("numpy")
    backup_dir, out, slow = sys.argv[1], sys.argv[2], sys.argv[3] == "slow"
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 600)
    x = (rng.standard_normal((3, 8))[y] * 1.5 + rng.standard_normal((600, 8))).astype(np.float32)

    class Progress(Callback):
        def on_epoch_end(self, epoch, logs=None):
            print("epoch", epoch, flush=True)

        def on_train_batch_end(self, batch, logs=None):
            if slow:
                time.sleep(0.004)

    set_random_seed(21)
    model = Sequential([Input((8,)), Dense(32, activation="relu"), Dropout(0.2), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x[:450], y[:450], epochs=8, batch_size=16, validation_data=(x[450:], y[450:]), verbose=0,
                        callbacks=[ReduceLROnPlateau(patience=1, factor=0.5), BackupAndRestore(backup_dir), Progress()])
    np.savez(out, *model.get_weights(), first=history.epoch[0] if history.epoch else -1)
""")


def run_script(path, backup_dir, out, slow=False):
    return subprocess.Popen([sys.executable, str(path), str(backup_dir), str(out), "slow" if slow else "fast"],
                            stdout=subprocess.PIPE, text=True)


def test_a_killed_process_resumes_in_a_new_one(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    straight = run_script(script, tmp_path / "straight-backup", tmp_path / "straight.npz")
    straight.communicate(timeout=300)
    assert straight.returncode == 0

    victim = run_script(script, tmp_path / "backup", tmp_path / "never.npz", slow=True)
    try:
        for line in victim.stdout:  # kill it as it backs up epoch 2 (index 1), or just after
            if line.strip() == "epoch 1":
                break
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.stdout.close()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "never.npz").exists()
    assert (tmp_path / "backup" / "latest.h5").is_file()

    again = run_script(script, tmp_path / "backup", tmp_path / "resumed.npz")
    again.communicate(timeout=300)
    assert again.returncode == 0
    expected, resumed = np.load(tmp_path / "straight.npz"), np.load(tmp_path / "resumed.npz")
    assert int(expected["first"]) == 0 and int(resumed["first"]) >= 1  # it did resume
    weights = [k for k in expected.files if k != "first"]
    assert weights and all(np.array_equal(expected[k], resumed[k]) for k in weights)
    assert not (tmp_path / "backup").exists()
