"""The state protocol and its file codec: trees round-trip, and files of gpunet 0.1 still resume."""

import importlib.util
import os

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import backend
from gpunet.saving.tree import read_tree, write_tree
from gpunet.utils import set_random_seed

DATA = os.path.join(os.path.dirname(__file__), "files")
_spec = importlib.util.spec_from_file_location("make_v1_checkpoint", os.path.join(DATA, "make_v1_checkpoint.py"))
v1 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(v1)


def test_a_tree_round_trips_through_hdf5(tmp_path):
    tree = {
        "dense/kernel": {"step": 3, "m": np.arange(6, dtype=np.float32).reshape(2, 3)},  # a "/" stays in one key
        "100%": {".": 1.5, "..": [1, "two", None, True]},
        "ünïcode key": {"inf": float("inf"), "nan": float("nan"), "big": 2**100, "neg": -np.float64(2.5)},
        "empty": {},
        "ints": np.array([1, 2], dtype=np.int64),
        "flag": False,
    }
    with h5py.File(tmp_path / "t.h5", "w") as f:
        write_tree(f.create_group("state"), tree)
    with h5py.File(tmp_path / "t.h5", "r") as f:
        back = read_tree(f["state"], "t.h5")
    assert set(back) == set(tree) and back["empty"] == {} and back["flag"] is False
    np.testing.assert_array_equal(back["dense/kernel"]["m"], tree["dense/kernel"]["m"])
    assert back["dense/kernel"]["m"].dtype == np.float32 and back["dense/kernel"]["step"] == 3
    assert back["100%"] == {".": 1.5, "..": [1, "two", None, True]}
    leaves = back["ünïcode key"]
    assert leaves["inf"] == float("inf") and np.isnan(leaves["nan"]) and leaves["big"] == 2**100 and leaves["neg"] == -2.5
    assert back["ints"].dtype == np.int64


@pytest.mark.parametrize("leaf", [object(), np.array(["text"]), {1: "int key"}])
def test_a_tree_refuses_what_it_cannot_store(tmp_path, leaf):
    with h5py.File(tmp_path / "t.h5", "w") as f, pytest.raises(TypeError):
        write_tree(f.create_group("state"), {"leaf": leaf} if not isinstance(leaf, dict) else leaf)


def test_model_state_round_trips_in_memory():
    set_random_seed(0)
    (x, y), dev = v1.data()
    model = v1.model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    state = model.get_state()
    assert set(state) == {"optimizer"}  # no fit running, none pending
    start = model.get_weights()
    other = v1.model()
    other.set_weights(start)
    renamed = {**state["optimizer"], "slots": {o.name: state["optimizer"]["slots"][m.name]
                                              for o, m in zip(other.weights, model.weights)}}
    other.set_state({"optimizer": renamed})
    assert other.optimizer.iterations == model.optimizer.iterations
    set_random_seed(1)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # one more epoch each: Adam's moments decide the steps
    set_random_seed(1)
    other.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for got, want in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    fresh = v1.model()
    fresh.set_weights(start)
    set_random_seed(1)
    fresh.fit(x, y, batch_size=16, epochs=1, verbose=0)  # without the state: another result
    assert any(not np.array_equal(a, b) for a, b in zip(fresh.get_weights(), other.get_weights()))
    with pytest.raises(ValueError, match="state"):
        other.set_state([1, 2])


def _uninterrupted(epochs, out):
    set_random_seed(7)
    (x, y), dev = v1.data()
    model = v1.model()
    history = model.fit(x, y, batch_size=16, epochs=epochs, validation_data=dev,
                        callbacks=v1.callbacks(os.path.join(out, "ck-{epoch}.h5")), verbose=0)
    return model, history


def _resume(path, out):
    """Load ``path`` and train it on from epoch 2 to 4, as the uninterrupted run does."""
    loaded = gpunet.load_model(path)
    (x, y), dev = v1.data()
    callbacks = v1.callbacks(os.path.join(out, "resumed-{epoch}.h5"))
    history = loaded.fit(x, y, batch_size=16, epochs=4, initial_epoch=2, validation_data=dev, callbacks=callbacks, verbose=0)
    return loaded, history, callbacks


def test_a_checkpoint_of_the_first_file_format_loads_and_resumes_exactly(tmp_path):
    """Format 1 (gpunet 0.1) still loads and resumes. Bits are compared only with bits computed on
    this machine: the committed file was written on another CPU, whose BLAS may round the last
    bits of a product otherwise, so a format-1 file is also written here from today's checkpoint
    (in the committed file's layout) and its resumption must equal the uninterrupted run exactly."""
    if backend.name() != "numpy":
        pytest.skip("the committed file was written on the CPU, with NumPy's dropout stream, which a GPU run does not draw")
    committed = os.path.join(DATA, "v1-checkpoint.h5")
    with h5py.File(committed, "r") as f:
        assert f["gpunet"].attrs["format_version"] == 1
        slot = f["gpunet/optimizer/slots/dense/kernel/m"][()]
        kernel = f["model_weights/dense/sequential/dense/kernel"][()]
    loaded = gpunet.load_model(committed)
    np.testing.assert_array_equal(loaded.get_weights()[0], kernel)  # what the file holds, as it holds it
    np.testing.assert_array_equal(loaded.optimizer.get_state()["slots"]["dense/kernel"]["m"], slot)

    four, history = _uninterrupted(4, str(tmp_path))
    today = str(tmp_path / "v1-here.h5")
    v1.write_format_1(str(tmp_path / "ck-2.h5"), today)
    assert v1.layout(today) == v1.layout(committed)  # the layout gpunet 0.1 wrote, entry for entry
    here, resumed, callbacks = _resume(today, str(tmp_path))
    for got, want in zip(here.get_weights(), four.get_weights()):
        np.testing.assert_array_equal(got, want)
    for key in ("loss", "val_accuracy", "learning_rate"):
        assert resumed.history[key] == history.history[key][2:]
    assert resumed.best == history.best
    assert callbacks[0].get_state() == {"best": history.history["val_accuracy"][history.best["epoch"]],
                                        "wait": callbacks[0].wait, "cooldown_counter": 0}

    # the committed file, from another machine: the same training, to float32 rounding
    gpunet_01 = gpunet.load_model(committed)
    for got, want in zip(gpunet_01.get_weights(), gpunet.load_model(tmp_path / "ck-2.h5").get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    there, resumed_there, _ = _resume(committed, str(tmp_path))
    for got, want in zip(there.get_weights(), four.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(resumed_there.history["loss"], history.history["loss"][2:], rtol=1e-5)
    # one of the 20 dev predictions may sit at a tie that the other CPU's last bits break otherwise
    np.testing.assert_allclose(resumed_there.history["val_accuracy"], history.history["val_accuracy"][2:], atol=0.051)


def test_a_new_checkpoint_resumes_exactly_with_its_state_tree(tmp_path):
    (tmp_path / "again").mkdir()
    _uninterrupted(2, str(tmp_path))
    with h5py.File(tmp_path / "ck-2.h5", "r") as f:
        assert f["gpunet"].attrs["format_version"] == 2
        fit = f["gpunet/state/fit"]
        assert "ReduceLROnPlateau" in fit["callbacks"] and "weights" in fit["best"]
    loaded = gpunet.load_model(tmp_path / "ck-2.h5")
    (x, y), dev = v1.data()
    loaded.fit(x, y, batch_size=16, epochs=4, initial_epoch=2, validation_data=dev,
               callbacks=v1.callbacks(str(tmp_path / "resumed-{epoch}.h5")), verbose=0)
    four, _ = _uninterrupted(4, str(tmp_path / "again"))
    for got, want in zip(loaded.get_weights(), four.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_a_fit_refused_at_its_start_keeps_the_resumption_for_the_corrected_call(tmp_path):
    """A misspelled monitor is refused when training begins; the corrected call still resumes exactly
    (the plateau counters and learning rate of the file, not fresh ones)."""
    (tmp_path / "again").mkdir()
    _uninterrupted(2, str(tmp_path))
    loaded = gpunet.load_model(tmp_path / "ck-2.h5")
    (x, y), dev = v1.data()
    typo = gpunet.callbacks.EarlyStopping(monitor="val_acuracy")
    with pytest.raises(ValueError, match="val_acuracy"):
        loaded.fit(x, y, batch_size=16, epochs=4, initial_epoch=2, validation_data=dev, callbacks=[typo], verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        loaded.fit(x, y, batch_size=0, epochs=4, initial_epoch=2, validation_data=dev, verbose=0)
    history = loaded.fit(x, y, batch_size=16, epochs=4, initial_epoch=2, validation_data=dev,
                         callbacks=v1.callbacks(str(tmp_path / "resumed-{epoch}.h5")), verbose=0)
    four, straight = _uninterrupted(4, str(tmp_path / "again"))
    assert history.history["learning_rate"] == straight.history["learning_rate"][2:]
    for got, want in zip(loaded.get_weights(), four.get_weights()):
        np.testing.assert_array_equal(got, want)
