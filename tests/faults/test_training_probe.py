"""A hostile probe of training: values that turn non-finite in the model's dtype, a loss scale
that falls without end, a backup resumed under other settings, one optimizer in two models,
Keras's default arguments, and folders TensorBoard must not write into (docs/reliability.md)."""

import gc
import inspect
import os
import stat
import warnings

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import optimizers
from gpunet.callbacks import BackupAndRestore, Callback, ReduceLROnPlateau
from gpunet.layers import Dense, Dropout, Input
from gpunet.optimizers import LossScaleOptimizer
from gpunet.saving.atomic import check_target
from gpunet.utils import set_random_seed
from helpers import blobs

EPOCHS = 5


pytestmark = pytest.mark.usefixtures("numpy_backend")  # host arithmetic and files, whatever the suite's backend


def data():
    x, y = blobs(240, 4, 3, seed=5, spread=1.5)
    return (x[:160], y[:160]), (x[160:], y[160:])


def model(optimizer=None, loss="sparse_categorical_crossentropy", seed=11, units=16):
    set_random_seed(seed)
    m = gpunet.Sequential([Input((4,)), Dense(units, activation="relu"), Dropout(0.2), Dense(3, activation="softmax")])
    m.compile(optimizer=optimizer or optimizers.Adam(learning_rate=0.02), loss=loss, metrics=["accuracy"])
    return m


def fit(m, extra=(), **kwargs):
    (x, y), dev = data()
    args = {"epochs": EPOCHS, "batch_size": 32, "validation_data": dev, "verbose": 0, **kwargs}
    return m.fit(x, y, callbacks=[ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5), *extra], **args)


class Raise(Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError(f"interrupted at epoch {epoch}")


def same(a, b):
    return len(a) == len(b) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))


# ---------------------------------------------------------------------------------------------
# 4. values that are finite in float64 and infinite in the model's dtype
# ---------------------------------------------------------------------------------------------
def test_set_weights_checks_finiteness_after_the_cast_to_the_weights_dtype():
    m = model()
    before = m.get_weights()
    huge = [w.astype(np.float64) for w in before]
    huge[2][0, 0] = 1e300  # finite in float64, +inf in float32
    with np.errstate(over="ignore"):
        assert np.isfinite(huge[2]).all() and not np.isfinite(huge[2].astype(np.float32)).all()
    with pytest.raises(ValueError, match=r"dense_?\d*/kernel.*float32"):
        m.set_weights(huge)
    assert same(m.get_weights(), before)  # nothing was set
    m.set_weights([w.astype(np.float64) for w in before])  # float64 values within range still load
    assert same(m.get_weights(), before)


def test_loading_a_weight_beyond_the_models_dtype_is_refused(tmp_path):
    path = str(tmp_path / "m.h5")
    m = model()
    m.save(path)
    with h5py.File(path, "r+") as f:  # a file whose kernel is float64 with one value beyond float32
        names = []
        f["model_weights"].visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        name = next(n for n in names if n.endswith(("kernel", "kernel:0")))
        values = f["model_weights"][name][...].astype(np.float64)
        values[0, 0] = 1e300
        del f["model_weights"][name]
        f["model_weights"].create_dataset(name, data=values)
    other = model()
    before = other.get_weights()
    with pytest.raises(ValueError, match="kernel.*float32"):
        other.load_weights(path)
    assert same(other.get_weights(), before)
    with pytest.raises(ValueError, match="kernel.*float32"):
        gpunet.models.load_model(path)


def trained_state():
    m = model()
    fit(m, epochs=1)
    return m, m.get_state()


@pytest.mark.parametrize("poison, slot", [("nan", "m"), ("beyond float32", "v"), ("shape", "m"), ("dtype", "m"),
                                         ("step", "step")])
def test_optimizer_slots_are_checked_when_loaded_naming_the_slot_and_the_weight(poison, slot):
    m, state = trained_state()
    name = m.weights[0].name
    slots = state["optimizer"]["slots"][name]
    if poison == "nan":
        slots["m"] = slots["m"].copy()
        slots["m"][0, 0] = np.nan
    elif poison == "beyond float32":
        slots["v"] = slots["v"].astype(np.float64)
        slots["v"][0, 0] = 1e300
    elif poison == "shape":
        slots["m"] = slots["m"][:, :-1]  # would load, and fail only at the first step of fit
    elif poison == "dtype":
        slots["m"] = slots["m"].astype(str)
    else:
        slots["step"] = -3
    before = m.optimizer.get_state()["slots"]
    with pytest.raises((ValueError, TypeError), match=f"'{slot}'.*'{name}'"):
        m.set_state(state)
    after = m.optimizer.get_state()["slots"]  # nothing taken
    assert after.keys() == before.keys()
    for path in before:
        assert all(np.array_equal(before[path][k], after[path][k]) for k in before[path])


def test_a_checkpoint_with_a_nan_moment_is_refused_by_load_model(tmp_path):
    path = str(tmp_path / "m.h5")
    m, _ = trained_state()
    m.save(path)
    poisoned = []

    def poison(name, obj):
        if isinstance(obj, h5py.Dataset) and name.startswith("gpunet/state/optimizer/slots") and name.endswith("/m"):
            obj[(0,) * obj.ndim] = np.nan
            poisoned.append(name)

    with h5py.File(path, "r+") as f:
        f.visititems(poison)
    assert poisoned
    with pytest.raises(ValueError, match="'m'.*NaN"):
        gpunet.models.load_model(path)


# ---------------------------------------------------------------------------------------------
# 5. the loss scale has a floor
# ---------------------------------------------------------------------------------------------
def test_the_loss_scale_stops_halving_at_one_and_says_which_steps_overflowed():
    w = gpunet.Parameter(np.ones(2, np.float32), name="w")
    opt = LossScaleOptimizer(optimizers.SGD(0.1), initial_scale=8.0, dynamic_growth_steps=1000)
    opt.apply_gradients([(np.ones(2, np.float32), w)])  # step 1: good
    bad = np.array([np.inf, 1.0], np.float32)
    scales = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(40):  # steps 2..41 overflow: Keras would reach 8 / 2**40
            opt.apply_gradients([(bad, w)])
            scales.append(opt.dynamic_scale)
    assert scales[:3] == [4.0, 2.0, 1.0] and set(scales[3:]) == {1.0}
    messages = [str(c.message) for c in caught if "loss scale" in str(c.message)]
    assert len(messages) == 1  # once, when an overflow at the floor would have halved it again
    assert "2, 3, 4, 5" in messages[0] and "1.0" in messages[0]
    assert opt.get_state()["dynamic_scale"] == 1.0
    np.testing.assert_array_equal(w.data, np.float32(1) - np.float32(0.1) * np.float32(1 / 8))  # only the good step


def test_a_saved_scale_below_the_floor_is_not_taken_as_a_good_state():
    opt = LossScaleOptimizer(optimizers.SGD(0.1))
    state = opt.get_state()
    state["dynamic_scale"] = 4e-25  # what a run without a floor reached and saved
    with pytest.warns(UserWarning, match="4e-25.*1.0"):
        opt.set_state(state)
    assert opt.dynamic_scale == 1.0
    state["dynamic_scale"] = float("nan")
    with pytest.raises(ValueError, match="dynamic_scale"):
        opt.set_state(state)


# ---------------------------------------------------------------------------------------------
# 6. BackupAndRestore resumes only the run it backed up
# ---------------------------------------------------------------------------------------------
def crashed_run(folder):
    """A run interrupted at the start of epoch 4, its learning rate lowered by a callback on the way."""
    m = model()
    lower = ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, min_delta=10.0)
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(m, [BackupAndRestore(folder), lower, Raise(3)])
    assert m.optimizer.learning_rate < 0.02
    latest = folder / "latest.h5"
    assert latest.is_file()
    return m, latest.read_bytes()


@pytest.mark.parametrize("change, what", [
    ({"optimizer": optimizers.Adam(learning_rate=0.1)}, "learning_rate.*0.02.*0.1"),
    ({"seed": 12}, "seed.*11.*12"),
    ({"loss": "categorical_crossentropy"}, "loss: SparseCategoricalCrossentropy in the backup, CategoricalCrossentropy now"),
    ({"units": 17}, "architecture.*units.*16.*17"),
])
def test_a_backup_is_resumed_only_by_the_same_configuration(tmp_path, change, what):
    crashed, backup = crashed_run(tmp_path)
    rerun = model(**change)
    before = rerun.get_weights()
    (x, y), dev = data()
    if "loss" in change:
        y, dev = gpunet.utils.to_categorical(y, 3), (dev[0], gpunet.utils.to_categorical(dev[1], 3))
    with pytest.raises(ValueError, match=f"BackupAndRestore.*{what}.*remove") as error:
        rerun.fit(x, y, epochs=EPOCHS, batch_size=32, validation_data=dev, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path)])
    assert str(tmp_path) in str(error.value)
    assert same(rerun.get_weights(), before)  # nothing resumed
    assert (tmp_path / "latest.h5").read_bytes() == backup  # and the backup kept
    # the crashed run's own settings resume it, also in the same process, where a callback
    # lowered the learning rate during the crashed fit (not a change of settings)
    set_random_seed(11)  # as the crashed script seeds
    history = fit(crashed, [BackupAndRestore(tmp_path)])
    assert history.epoch == [3, 4]
    assert not tmp_path.exists()


def test_fewer_epochs_than_the_backup_reached_is_refused_and_the_backup_kept(tmp_path):
    _, backup = crashed_run(tmp_path)
    rerun = model()
    before = rerun.get_weights()
    with pytest.raises(ValueError, match="epoch 3.*epochs=2"):
        fit(rerun, [BackupAndRestore(tmp_path)], epochs=2)
    assert same(rerun.get_weights(), before)
    assert (tmp_path / "latest.h5").read_bytes() == backup


# ---------------------------------------------------------------------------------------------
# 13. a damaged backup says how to recover
# ---------------------------------------------------------------------------------------------
def test_a_damaged_backup_names_the_file_to_remove(tmp_path):
    (tmp_path / "latest.h5").write_bytes(b"garbage")
    with pytest.raises(OSError, match=r"latest\.h5.*remove .*latest\.h5"):
        fit(model(), [BackupAndRestore(tmp_path)])


def test_a_damaged_backup_beside_a_previous_one_points_to_double_checkpoint(tmp_path):
    with pytest.raises(RuntimeError):
        fit(model(), [BackupAndRestore(tmp_path, double_checkpoint=True), Raise(3)])
    (tmp_path / "latest.h5").write_bytes(b"garbage")
    with pytest.raises(OSError, match="double_checkpoint=True"):
        fit(model(), [BackupAndRestore(tmp_path)])


# ---------------------------------------------------------------------------------------------
# 7. one optimizer, two models
# ---------------------------------------------------------------------------------------------
def test_one_optimizer_compiled_into_two_models_is_refused_at_compile():
    optimizer = optimizers.Adam()
    first, second = model(optimizer), model()
    with pytest.raises(ValueError, match="optimizer.*another model"):
        second.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    assert second.optimizer is not optimizer
    first.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")  # the same model again
    first.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # the first lets it go
    second.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    third = model()
    del second
    gc.collect()
    third.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")  # its model is gone


# ---------------------------------------------------------------------------------------------
# 9. Keras's default arguments
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_every_keras_argument_is_accepted_with_its_keras_default(keras, method):
    m = model()
    (x, y), _ = data()
    defaults = {name: p.default for name, p in inspect.signature(getattr(keras.Model, method)).parameters.items()
                if p.default is not inspect.Parameter.empty and name not in ("x", "y", "batch_size", "epochs")}
    assert defaults  # Keras's own list, not ours
    args = (x,) if method == "predict" else (x, y)
    getattr(m, method)(*args, batch_size=32, **defaults)


def test_sample_and_class_weights_weigh_the_loss_as_keras_defines_it():
    """Keras's weighted loss: sum(w * loss_i) / batch size (``sum_over_batch_size``); class_weight
    is the sample weight of each sample's class."""
    m = model()
    (x, y), (x_dev, y_dev) = data()
    weights = np.random.default_rng(3).random(len(y_dev))
    probabilities = m.predict(x_dev, verbose=0).astype(np.float64)
    per_sample = -np.log(probabilities[np.arange(len(y_dev)), y_dev])
    assert m.evaluate(x_dev, y_dev, sample_weight=weights, batch_size=len(y_dev), verbose=0)[0] == pytest.approx(
        float((weights * per_sample).mean()), rel=1e-5)
    classes = {0: 0.5, 1: 2.0, 2: 1.0}
    by_class = np.array([classes[int(label)] for label in y_dev])
    weighted = m.evaluate(x_dev, y_dev, sample_weight=by_class, batch_size=len(y_dev), verbose=0)[0]
    before = m.get_weights()
    a = model()
    a.set_weights(before)
    a.fit(x, y, epochs=1, shuffle=False, class_weight=classes, verbose=0)
    b = model()
    b.set_weights(before)
    b.fit(x, y, epochs=1, shuffle=False, sample_weight=np.array([classes[int(label)] for label in y]), verbose=0)
    assert same(a.get_weights(), b.get_weights())  # class_weight is the per-class sample weight
    assert not same(a.get_weights(), before)
    assert weighted == pytest.approx(float((by_class * per_sample).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="no weight for class"):
        m.fit(x, y, epochs=1, class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="one weight per sample"):
        m.fit(x, y, epochs=1, sample_weight=np.ones(3), verbose=0)
    assert same(m.get_weights(), before)


def test_validation_data_with_keras_none_sample_weight_is_accepted():
    m = model()
    (x, y), (x_dev, y_dev) = data()
    history = m.fit(x, y, epochs=1, validation_data=(x_dev, y_dev, None), verbose=0)
    assert "val_loss" in history.history
    weighted = m.fit(x, y, epochs=1, validation_data=(x_dev, y_dev, np.zeros(len(y_dev))), verbose=0, restore_best=False)
    assert weighted.history["val_loss"] == [0.0]  # every dev sample weighs nothing


def test_predict_calls_the_predict_hooks_of_its_callbacks():
    calls = []

    class Record(Callback):
        def on_predict_begin(self, logs=None):
            calls.append("begin")

        def on_predict_batch_begin(self, batch, logs=None):
            calls.append(("batch_begin", batch))

        def on_predict_batch_end(self, batch, logs=None):
            calls.append(("batch_end", batch, logs["outputs"].shape))

        def on_predict_end(self, logs=None):
            calls.append("end")

    m = model()
    (x, _), _ = data()
    m.predict(x[:50], batch_size=32, callbacks=[Record()])
    assert calls == ["begin", ("batch_begin", 0), ("batch_end", 0, (32, 3)),
                     ("batch_begin", 1), ("batch_end", 1, (18, 3)), "end"]
    with pytest.raises(TypeError, match="callbacks"):
        m.predict(x, callbacks=Record())


# ---------------------------------------------------------------------------------------------
# 13. TensorBoard refuses the folders a checkpoint refuses
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["read-only folder", "read-only log_dir", "a file"])
def test_tensorboard_refuses_what_a_checkpoint_refuses_before_training(tmp_path, where):
    pytest.importorskip("tensorboardX")
    from gpunet.callbacks import TensorBoard

    parent = tmp_path / "parent"
    parent.mkdir()
    if where == "read-only folder":
        log_dir, locked = parent / "logs", parent
    elif where == "read-only log_dir":
        log_dir = locked = parent / "logs"
        (log_dir / "train").mkdir(parents=True)
        locked = log_dir / "train"
    else:
        log_dir = parent / "logs"
        log_dir.write_text("not a folder")
        locked = None
    if locked is not None:
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(OSError) as expected:
            check_target(str((locked or log_dir) / "x.h5"))
        m = model()
        before = m.get_weights()
        with pytest.raises(type(expected.value), match="TensorBoard.*logs"):
            fit(m, [TensorBoard(str(log_dir))])
        assert same(m.get_weights(), before)  # refused at the start of training
        if where == "read-only folder":
            assert os.listdir(parent) == []
    finally:
        if locked is not None:
            locked.chmod(stat.S_IRWXU)


def test_backup_and_restore_refuses_a_read_only_folder_before_creating_its_own(tmp_path):
    """As root, creating backup_dir inside a read-only folder succeeds; the backups would then be
    written where a checkpoint is refused."""
    parent = tmp_path / "parent"
    parent.mkdir()
    parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(OSError) as expected:
            check_target(str(parent / "x.h5"))
        m = model()
        before = m.get_weights()
        with pytest.raises(type(expected.value), match="BackupAndRestore.*backup_dir"):
            fit(m, [BackupAndRestore(parent / "backup")])
        assert os.listdir(parent) == []
        assert same(m.get_weights(), before)
    finally:
        parent.chmod(stat.S_IRWXU)


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_non_finite_optimizer_slot_is_never_saved_nor_counted_as_a_good_state(tmp_path, suffix):
    """An Adam moment that overflowed to infinity (the weights still finite) ruins every weight at
    the next update: a save refuses it, naming the slot and the weight, and a report with it is not
    sound (ModelCheckpoint and BackupAndRestore skip it); the weights alone still save."""
    m = model()
    fit(m, epochs=1)
    assert m.report_is_sound({"loss": 1.0})
    name = m.weights[0].name
    m.optimizer._slots[name]["v"][0, 0] = np.inf
    with pytest.raises(ValueError, match=rf"'v' for weight '{name}'.*NaN or infinity"):
        m.save(tmp_path / f"m{suffix}")
    assert not (tmp_path / f"m{suffix}").exists()
    assert not m.report_is_sound({"loss": 1.0})
    m.save(tmp_path / f"weights-only{suffix}", include_optimizer=False)
    np.testing.assert_array_equal(gpunet.load_model(tmp_path / f"weights-only{suffix}").get_weights()[0], m.get_weights()[0])


def test_a_fit_refused_by_another_callback_after_a_backup_loaded_changes_nothing(tmp_path):
    """BackupAndRestore loads its backup before the other callbacks' checks: when one of them
    refuses to start (a checkpoint path that cannot be written), the model keeps the weights and
    optimizer state it had, not the backup's, and the corrected call resumes the backup."""
    backup = str(tmp_path / "backup")
    crashed = model()
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(crashed, extra=[BackupAndRestore(backup), Raise(3)])
    rerun = model()
    weights, iterations = rerun.get_weights(), rerun.optimizer.iterations
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    bad = gpunet.callbacks.ModelCheckpoint(str(blocker / "m.h5"))
    with pytest.raises((OSError, ValueError)):
        fit(rerun, extra=[BackupAndRestore(backup), bad])
    for got, want in zip(rerun.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    assert rerun.optimizer.iterations == iterations and rerun.get_state().get("fit") is None
    history = fit(rerun, extra=[BackupAndRestore(backup)])
    assert history.epoch == [3, 4]  # the backup is still there, and resumed
