"""Keras 3's native formats: ``.keras`` archives and ``.weights.h5`` files, against the real Keras 3.

- round trips in gpunet (architecture, weights, compiled state, exact resumption);
- gpunet -> Keras and Keras -> gpunet for every layer gpunet has (the architectures of
  test_keras_layers.py and test_keras_compat.py), whole models and weights files;
- the optimizer's variables where Keras 3 keeps them: a model saved by one library goes on
  training in the other as it would have in the first;
- hostile archives, built by the tests: each is refused with a ValueError naming the file.

Keras 3 on JAX's CPU build; the Keras tests are skipped where Keras is not installed.
"""

import importlib.util
import io
import json
import os
import struct
import zipfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is imported: Keras 3 defaults to TensorFlow

import h5py  # noqa: E402
import helpers  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import gpunet  # noqa: E402
from gpunet import layers as L  # noqa: E402
from gpunet import optimizers  # noqa: E402
from gpunet.callbacks import ModelCheckpoint, ReduceLROnPlateau  # noqa: E402
from gpunet.saving import keras_zip  # noqa: E402
from gpunet.utils import set_random_seed  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
ATOL = 1e-5


def _keras():
    pytest.importorskip("jax", reason="the Keras compatibility tests run Keras 3 on JAX: pip install -e '.[keras]'")
    return pytest.importorskip("keras", minversion="3.0", reason="Keras 3 is a test extra: pip install -e '.[keras]'")


def _sibling(name):
    """A neighbouring test module, for its model definitions (its tests are not collected here)."""
    _keras()
    spec = importlib.util.spec_from_file_location(f"_keras_format_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def net(optimizer="adam"):
    model = gpunet.Sequential([L.Input((5,)), L.Dense(8, activation="relu"), L.Dropout(0.3), L.Dense(3),
                               L.Activation("softmax")], name="net")
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n=120, seed=0):
    return helpers.blobs(n, 5, seed=seed, spread=2.0)


def same_weights(a, b):
    for got, want in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------------
# gpunet alone
# ---------------------------------------------------------------------------------------------
def test_archive_layout_is_keras3(tmp_path):
    model = net()
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=30, verbose=0)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert archive.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        metadata = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    assert set(metadata) >= {"keras_version", "date_saved"}
    assert (config["module"], config["class_name"], config["registered_name"]) == ("keras", "Sequential", None)
    layers = config["config"]["layers"]
    assert [(e["module"], e["class_name"]) for e in layers] == [
        ("keras.layers", "InputLayer"), ("keras.layers", "Dense"), ("keras.layers", "Dropout"),
        ("keras.layers", "Dense"), ("keras.layers", "Activation")]
    assert layers[1]["build_config"] == {"input_shape": [None, 5]}
    assert layers[3]["build_config"] == {"input_shape": [None, 8]}
    assert layers[1]["config"]["kernel_initializer"]["module"] == "keras.initializers"
    assert layers[1]["config"]["dtype"]["class_name"] == "DTypePolicy"
    compile_config = config["compile_config"]
    assert compile_config["optimizer"]["module"] == "keras.optimizers"
    assert compile_config["optimizer"]["class_name"] == "Adam" and compile_config["metrics"] == ["accuracy"]
    assert compile_config["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    # weights by class name in snake case, numbered as Keras numbers them; every layer has a group
    assert sorted(weights["layers"]) == ["activation", "dense", "dense_1", "dropout"]
    np.testing.assert_array_equal(weights["layers/dense/vars/0"][()], model.layers[0].kernel.numpy())
    np.testing.assert_array_equal(weights["layers/dense_1/vars/1"][()], model.layers[2].bias.numpy())
    assert len(weights["layers/dropout/vars"]) == 0
    # the optimizer: iteration, learning_rate, then (m, v) per trainable weight, interleaved
    state = model.optimizer.get_state()
    opt = weights["optimizer/vars"]
    assert len(opt) == 2 + 2 * 4
    assert opt["0"][()] == model.optimizer.iterations == 4
    assert opt["1"][()] == np.float32(model.optimizer.learning_rate)
    for i, param in enumerate(model.trainable_weights):
        np.testing.assert_array_equal(opt[str(2 + 2 * i)][()], state["slots"][param.name]["m"])
        np.testing.assert_array_equal(opt[str(3 + 2 * i)][()], state["slots"][param.name]["v"])
    assert weights["gpunet"].attrs["format_version"] == 2 and "slots" in weights["gpunet/state/optimizer"]
    weights.close()


def test_round_trip_and_continued_training(tmp_path):
    x, y = data()
    model = net(optimizers.Nadam(0.01))  # gpunet's own momentum_decay: exact state from gpunet's group
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = gpunet.load_model(tmp_path / "m.keras")
    assert loaded.get_config() == model.get_config()
    same_weights(loaded, model)
    assert isinstance(loaded.optimizer, optimizers.Nadam) and loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    set_random_seed(5)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    set_random_seed(5)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    same_weights(loaded, model)  # the same moments and step counts: the same next epoch, bit for bit
    assert not gpunet.load_model(tmp_path / "m.keras", compile=False).compiled


def test_weights_file_round_trip_and_names(tmp_path):
    model = net()
    model.fit(*data(), epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert "layers" in f and "optimizer" in f and "gpunet" not in f and "layer_names" not in f.attrs
    other = net()
    other.load_weights(tmp_path / "w.weights.h5")
    same_weights(other, model)
    assert other.optimizer.iterations == model.optimizer.iterations  # Keras 3 reloads the optimizer's variables too
    wider = gpunet.Sequential([L.Input((5,)), L.Dense(8), L.Dense(3), L.Dense(3)])
    with pytest.raises(ValueError, match=r"layer 'dense_\d+' \(layers/dense_2\) has 2 weights, the file has 0 for it"):
        wider.load_weights(tmp_path / "w.weights.h5")
    model.save(tmp_path / "m.keras")
    other = net()
    other.load_weights(tmp_path / "m.keras")  # a .keras archive's weights, as Keras allows
    same_weights(other, model)
    # the layout, not the name, says how to read: Keras 3's layout under a legacy name, and back
    os.replace(tmp_path / "w.weights.h5", tmp_path / "w.h5")
    other = net()
    other.load_weights(tmp_path / "w.h5")
    same_weights(other, model)
    model.save_weights(tmp_path / "legacy.h5")
    os.replace(tmp_path / "legacy.h5", tmp_path / "legacy.weights.h5")
    other = net()
    other.load_weights(tmp_path / "legacy.weights.h5")
    same_weights(other, model)


def test_file_kind_is_read_from_the_contents(tmp_path):
    model = net()
    model.save(tmp_path / "m.keras")
    os.replace(tmp_path / "m.keras", tmp_path / "model.bin")
    same_weights(gpunet.load_model(tmp_path / "model.bin"), model)
    model.save(tmp_path / "m.h5")
    os.replace(tmp_path / "m.h5", tmp_path / "h5.keras")
    with pytest.raises(ValueError, match=r"h5\.keras: not a zip archive"):
        gpunet.load_model(tmp_path / "h5.keras")
    with pytest.raises(FileNotFoundError, match="none.keras"):
        gpunet.load_model(tmp_path / "none.keras")


def test_uncompiled_and_include_optimizer_false(tmp_path):
    model = gpunet.Sequential([L.Input((3,)), L.Dense(2)])
    model.save(tmp_path / "u.keras")
    assert not gpunet.load_model(tmp_path / "u.keras").compiled
    trained = net()
    trained.fit(*data(), epochs=1, verbose=0)
    trained.save(tmp_path / "c.keras", include_optimizer=False)
    loaded = gpunet.load_model(tmp_path / "c.keras")
    assert loaded.compiled and isinstance(loaded.optimizer, optimizers.Adam)
    assert loaded.optimizer.iterations == 0 and loaded.optimizer.get_state()["slots"] == {}


def test_exact_resume_from_keras_checkpoints_is_bitwise(tmp_path):
    """As test_hdf5.py::test_exact_resume_is_bitwise, through .keras checkpoints."""
    x, y = data(seed=3)

    def train(folder, epochs, initial_epoch=0, model=None):
        callbacks = [ModelCheckpoint(str(folder / "ck-{epoch:02d}.keras")),
                     ReduceLROnPlateau(monitor="val_accuracy", patience=1, factor=0.5)]
        model = model or net()
        model.fit(x[:90], y[:90], batch_size=8, epochs=epochs, initial_epoch=initial_epoch,
                  validation_data=(x[90:], y[90:]), callbacks=callbacks, verbose=0)
        return model

    set_random_seed(21)
    straight = train(tmp_path, 4)
    assert sorted(os.listdir(tmp_path)) == [f"ck-{e:02d}.keras" for e in range(1, 5)]
    set_random_seed(999)
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    resumed = train(resumed_dir, 4, initial_epoch=2, model=gpunet.load_model(tmp_path / "ck-02.keras"))
    same_weights(resumed, straight)
    assert straight.optimizer.learning_rate == resumed.optimizer.learning_rate


def test_weights_only_checkpoints(tmp_path):
    x, y = data()
    model = net()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "w-{epoch}.weights.h5"), save_weights_only=True)])
    other = net()
    other.load_weights(tmp_path / "w-2.weights.h5")
    same_weights(other, model)
    with pytest.raises(ValueError, match=r"w\.keras"):  # refused before training: a .keras file is a whole model
        net().fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "w.keras"), save_weights_only=True)])


def test_interrupted_save_leaves_the_previous_archive(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    first = net()
    first.save(path)
    before = path.read_bytes()
    second = net()
    second.fit(*data(), epochs=1, verbose=0)
    original = zipfile.ZipFile.writestr

    def failing(self, info, payload, *args, **kwargs):
        name = info.filename if isinstance(info, zipfile.ZipInfo) else info
        if name == "model.weights.h5":
            raise OSError(28, "No space left on device")
        return original(self, info, payload, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing)
    with pytest.raises(OSError, match="m.keras"):
        second.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.keras"]
    same_weights(gpunet.load_model(path), first)


# ---------------------------------------------------------------------------------------------
# both ways with Keras, every layer
# ---------------------------------------------------------------------------------------------
HAVE_KERAS = bool(importlib.util.find_spec("keras") and importlib.util.find_spec("jax"))
LAYER_CASES = _sibling("test_keras_layers") if HAVE_KERAS else None  # its architectures and data


def _layer_architectures():
    compat = _sibling("test_keras_compat")
    cases = {name: (lambda name=name: LAYER_CASES.build(name)) for name in LAYER_CASES.ARCHITECTURES}
    for name in ("everything", "activation-layers", "dense-no-bias"):
        cases[f"dense:{name}"] = lambda name=name: compat.gpunet_model(name)
    return cases


ARCHITECTURES = _layer_architectures() if HAVE_KERAS else {}


def keras_predict(model, x):
    return np.asarray(model.predict(x, batch_size=len(x), verbose=0))


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_keras_format_both_ways(arch, tmp_path):
    keras = _keras()
    model = ARCHITECTURES[arch]()
    x, y, loss = LAYER_CASES.data(model)
    model.compile(optimizer=optimizers.Adam(0.01), loss=loss)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)  # every weight moves, BatchNormalization's statistics too
    model.save(tmp_path / "g.keras")
    model.save_weights(tmp_path / "g.weights.h5")
    ours = model.predict(x)

    theirs = keras.models.load_model(tmp_path / "g.keras")
    assert [type(layer).__name__ for layer in theirs.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_allclose(keras_predict(theirs, x), ours, rtol=0, atol=ATOL, err_msg="Keras loading gpunet's .keras")
    assert type(theirs.optimizer).__name__ == "Adam" and int(theirs.optimizer.iterations) == model.optimizer.iterations
    twin = keras.models.clone_model(theirs)
    twin.load_weights(tmp_path / "g.weights.h5")
    np.testing.assert_allclose(keras_predict(twin, x), ours, rtol=0, atol=ATOL, err_msg="Keras loading gpunet's .weights.h5")

    rng = np.random.default_rng(1)
    theirs.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) if "variance" not in v.path
                        else w * rng.uniform(0.5, 2.0, w.shape).astype(w.dtype)
                        for v, w in zip(theirs.weights, theirs.get_weights())])
    theirs.fit(x, y, epochs=1, batch_size=8, verbose=0)
    theirs.save(tmp_path / "k.keras")
    theirs.save_weights(tmp_path / "k.weights.h5")
    expected = keras_predict(theirs, x)
    back = gpunet.load_model(tmp_path / "k.keras")
    assert [(e["class_name"], e["config"]["name"]) for e in back.get_config()["layers"]] == \
        [(e["class_name"], e["config"]["name"]) for e in model.get_config()["layers"]]
    np.testing.assert_allclose(back.predict(x), expected, rtol=0, atol=ATOL, err_msg="gpunet loading Keras's .keras")
    assert not np.allclose(back.predict(x), ours, atol=ATOL)  # Keras's weights, not ours
    assert isinstance(back.optimizer, optimizers.Adam) and back.optimizer.iterations == int(theirs.optimizer.iterations)
    model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(model.predict(x), expected, rtol=0, atol=ATOL, err_msg="gpunet loading Keras's .weights.h5")


# ---------------------------------------------------------------------------------------------
# the optimizer's variables, both ways
# ---------------------------------------------------------------------------------------------
# gpunet optimizers and the Keras optimizer with the same update rule and settings
OPTIMIZERS = {
    "sgd": (lambda: optimizers.SGD(0.1), lambda k: k.optimizers.SGD(0.1)),
    "sgd-momentum": (lambda: optimizers.SGD(0.1, momentum=0.9), lambda k: k.optimizers.SGD(0.1, momentum=0.9)),
    "sgd-nesterov": (lambda: optimizers.SGD(0.05, momentum=0.8, nesterov=True),
                     lambda k: k.optimizers.SGD(0.05, momentum=0.8, nesterov=True)),
    "adam": (lambda: optimizers.Adam(0.01, epsilon=1e-7), lambda k: k.optimizers.Adam(0.01)),
    "adam-amsgrad": (lambda: optimizers.Adam(0.01, epsilon=1e-7, amsgrad=True), lambda k: k.optimizers.Adam(0.01, amsgrad=True)),
    "adamw": (lambda: optimizers.AdamW(0.01, weight_decay=0.05, epsilon=1e-7),
              lambda k: k.optimizers.AdamW(0.01, weight_decay=0.05)),
    "adamax": (lambda: optimizers.Adamax(0.01, epsilon=1e-7), lambda k: k.optimizers.Adamax(0.01)),
    "nadam": (lambda: optimizers.Nadam(0.01, epsilon=1e-7, momentum_decay=1.0), lambda k: k.optimizers.Nadam(0.01)),
    # (a tiny epsilon: Keras adds it inside the square root, gpunet, as PyTorch, outside)
    "rmsprop": (lambda: optimizers.RMSprop(0.01, rho=0.9, epsilon=1e-12), lambda k: k.optimizers.RMSprop(0.01, epsilon=1e-12)),
    "rmsprop-momentum-centered": (lambda: optimizers.RMSprop(0.01, rho=0.9, epsilon=1e-12, momentum=0.5, centered=True),
                                  lambda k: k.optimizers.RMSprop(0.01, momentum=0.5, centered=True, epsilon=1e-12)),
    "adagrad": (lambda: optimizers.Adagrad(0.05, initial_accumulator_value=0.1, epsilon=1e-7),
                lambda k: k.optimizers.Adagrad(0.05)),
    "adadelta": (lambda: optimizers.Adadelta(1.0, rho=0.95, epsilon=1e-7), lambda k: k.optimizers.Adadelta(1.0)),
    "lion": (lambda: optimizers.Lion(0.01), lambda k: k.optimizers.Lion(0.01)),
    "ftrl": (lambda: optimizers.Ftrl(0.1), lambda k: k.optimizers.Ftrl(0.1)),
    "ftrl-regularized": (
        lambda: optimizers.Ftrl(0.1, learning_rate_power=-0.7, initial_accumulator_value=0.3, l1_regularization_strength=0.01,
                                l2_regularization_strength=0.02, l2_shrinkage_regularization_strength=0.03, beta=0.5),
        lambda k: k.optimizers.Ftrl(0.1, learning_rate_power=-0.7, initial_accumulator_value=0.3, l1_regularization_strength=0.01,
                                    l2_regularization_strength=0.02, l2_shrinkage_regularization_strength=0.03, beta=0.5)),
    "adafactor": (lambda: optimizers.Adafactor(0.05), lambda k: k.optimizers.Adafactor(0.05)),  # factored kernels, plain biases
}
STEPS = 3


def _optimizer_data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    return x, rng.uniform(-1, 1, (32, 3)).astype(np.float32)


def _step_models(keras, make_ours, make_theirs):
    """The same small model (weights included) in both libraries, compiled with the same rule."""
    set_random_seed(3)
    ours = gpunet.Sequential([L.Input((6,)), L.Dense(5, activation="tanh"), L.Dense(3)])
    ours.compile(optimizer=make_ours(), loss="mse")
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(3)])
    theirs.set_weights(ours.get_weights())
    theirs.compile(optimizer=make_theirs(keras), loss="mse")
    return ours, theirs


def _train(model, x, y, steps):
    model.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0)


def _close(got, want, what):
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-4, atol=2e-5, err_msg=what)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_state_goes_on_in_keras(name, tmp_path):
    """gpunet trains STEPS steps and saves; Keras loads and takes one more step: the same weights
    as gpunet taking that step, and the same optimizer variables as Keras's own after STEPS steps
    (the reference: Keras training the same model from the same start)."""
    keras = _keras()
    make_ours, make_theirs = OPTIMIZERS[name]
    x, y = _optimizer_data()
    ours, reference = _step_models(keras, make_ours, make_theirs)
    _train(ours, x, y, STEPS)
    _train(reference, x, y, STEPS)
    ours.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    assert type(loaded.optimizer).__name__ == type(reference.optimizer).__name__
    assert int(loaded.optimizer.iterations) == STEPS
    _close(loaded.optimizer.variables, reference.optimizer.variables, f"{name}: optimizer variables after {STEPS} steps")
    _train(ours, x, y, 1)
    _train(loaded, x, y, 1)
    _close(loaded.get_weights(), ours.get_weights(), f"{name}: weights after one more step in Keras")


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_keras_optimizer_state_goes_on_in_gpunet(name, tmp_path):
    keras = _keras()
    make_ours, make_theirs = OPTIMIZERS[name]
    x, y = _optimizer_data()
    _, theirs = _step_models(keras, make_ours, make_theirs)
    _train(theirs, x, y, STEPS)
    theirs.save(tmp_path / "k.keras")
    theirs.save_weights(tmp_path / "k.weights.h5")
    loaded = gpunet.load_model(tmp_path / "k.keras")
    assert type(loaded.optimizer).__name__ == type(theirs.optimizer).__name__
    assert loaded.optimizer.iterations == STEPS
    twin, _ = _step_models(keras, make_ours, make_theirs)
    twin.load_weights(tmp_path / "k.weights.h5")  # the .weights.h5 file carries the same variables
    _train(theirs, x, y, 1)
    for model, what in ((loaded, "load_model"), (twin, "load_weights")):
        _train(model, x, y, 1)
        _close(model.get_weights(), theirs.get_weights(), f"{name}: weights after one more step in gpunet ({what})")


def test_mismatched_optimizer_variables_warn_and_start_afresh(tmp_path):
    model = net("adam")
    model.fit(*data(), epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    other = net("sgd")
    with pytest.warns(UserWarning, match="optimizer variables.*starts afresh"):
        other.load_weights(tmp_path / "w.weights.h5")
    same_weights(other, model)
    assert other.optimizer.iterations == 0


# ---------------------------------------------------------------------------------------------
# hostile archives
# ---------------------------------------------------------------------------------------------
def _archive(path, entries, compression=zipfile.ZIP_STORED):
    """A zip archive of ``[(name, bytes)]`` written as given (duplicates included)."""
    import warnings  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression) as archive:
            for name, payload in entries:
                info = zipfile.ZipInfo(name)
                info.compress_type = compression
                archive.writestr(info, payload)
    return path


def _good_entries(tmp_path):
    net().save(tmp_path / "good.keras")
    with zipfile.ZipFile(tmp_path / "good.keras") as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def _refused(path, match):
    with pytest.raises(ValueError, match=match) as info:
        gpunet.load_model(path)
    assert os.path.basename(path) in str(info.value)
    return info


def test_a_good_hand_built_archive_loads(tmp_path):
    """The archives below differ from this one in one thing each."""
    entries = _good_entries(tmp_path)
    assert gpunet.load_model(_archive(tmp_path / "copy.keras", entries)).compiled
    assert gpunet.load_model(_archive(tmp_path / "deflated.keras", entries, zipfile.ZIP_DEFLATED)).compiled


def test_not_a_zip_archive(tmp_path):
    (tmp_path / "text.keras").write_text("not an archive")
    _refused(tmp_path / "text.keras", "not a zip archive")
    (tmp_path / "empty.keras").write_bytes(b"")
    _refused(tmp_path / "empty.keras", "empty")
    good = (tmp_path / "good.keras")
    net().save(good)
    (tmp_path / "cut.keras").write_bytes(good.read_bytes()[:200])
    _refused(tmp_path / "cut.keras", "damaged zip archive")


@pytest.mark.parametrize("name", ["../evil.txt", "assets/../../evil.txt", "/etc/evil", "C:evil", "assets\\..\\evil", "./config.json"])
def test_entry_names_that_leave_the_folder(tmp_path, name):
    path = _archive(tmp_path / "t.keras", [*_good_entries(tmp_path), (name, b"x")])
    _refused(path, "could write outside its folder")


def test_missing_entries(tmp_path):
    entries = _good_entries(tmp_path)
    _refused(_archive(tmp_path / "a.keras", [e for e in entries if e[0] != "config.json"]), "no config.json")
    _refused(_archive(tmp_path / "b.keras", [e for e in entries if e[0] != "model.weights.h5"]), "no model.weights.h5")


def test_duplicate_entries(tmp_path):
    entries = _good_entries(tmp_path)
    other = json.dumps({"module": "keras", "class_name": "Sequential", "config": {"layers": []}}).encode()
    _refused(_archive(tmp_path / "d.keras", [*entries, ("config.json", other)]), "two entries named 'config.json'")


def _patch_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """The archive with ``name``'s uncompressed size set to ``size`` in the central directory
    and in the local header (what a crafted bomb declares)."""
    data = bytearray(data)
    central = data.index(b"PK\x01\x02")
    while True:
        start = data.index(b"PK\x01\x02", central)
        length = struct.unpack("<H", data[start + 28:start + 30])[0]
        if bytes(data[start + 46:start + 46 + length]) == name:
            struct.pack_into("<I", data, start + 24, size)
            local = struct.unpack("<I", data[start + 42:start + 46])[0]
            struct.pack_into("<I", data, local + 22, size)
            return bytes(data)
        central = start + 4


def test_declared_sizes_beyond_the_limits(tmp_path, monkeypatch):
    entries = _good_entries(tmp_path)
    raw = _archive(tmp_path / "base.keras", entries).read_bytes()
    (tmp_path / "huge.keras").write_bytes(_patch_sizes(raw, b"config.json", 0xFFFFFFF0))
    _refused(tmp_path / "huge.keras", "config.json' declares 4294967280 bytes.*zip bomb")
    # a declared ratio: weights declaring far more than they store
    monkeypatch.setattr(keras_zip, "RATIO_FLOOR", 1 << 16)
    (tmp_path / "ratio.keras").write_bytes(_patch_sizes(raw, b"model.weights.h5", 1 << 30))
    _refused(tmp_path / "ratio.keras", "model.weights.h5' declares 1073741824 bytes from .* stored.*zip bomb")


def test_an_actual_bomb_is_caught_while_reading(tmp_path, monkeypatch):
    entries = _good_entries(tmp_path)
    zeros = b"\0" * (8 << 20)  # deflates about 1000 to 1
    path = _archive(tmp_path / "bomb.keras", [*entries, ("assets/zeros.bin", zeros)], zipfile.ZIP_DEFLATED)
    monkeypatch.setattr(keras_zip, "RATIO_FLOOR", 1 << 20)
    _refused(path, "zeros.bin' declares .*more than 100 times its stored size")
    # an archive whose header understates the size: the bytes read are counted, the CRC checked
    assert gpunet.load_model(_archive(tmp_path / "small.keras", entries, zipfile.ZIP_DEFLATED)).built
    raw = (tmp_path / "small.keras").read_bytes()
    (tmp_path / "liar.keras").write_bytes(_patch_sizes(raw, b"config.json", 100))
    _refused(tmp_path / "liar.keras", "damaged zip archive|expands beyond")
    # the reader itself stops at the limits, whatever the header says
    monkeypatch.setattr(keras_zip, "MAX_CONFIG_BYTES", 50)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("config.json")
        with pytest.raises(ValueError, match="expands to .* more than the 50"):
            keras_zip._read_entry(archive, info, str(path))


def test_too_many_entries_and_encrypted_entries(tmp_path, monkeypatch):
    entries = _good_entries(tmp_path)
    monkeypatch.setattr(keras_zip, "MAX_ENTRIES", 5)
    path = _archive(tmp_path / "many.keras", [*entries, *[(f"assets/{i}", b"") for i in range(5)]])
    _refused(path, "8 entries, more than 5")
    raw = bytearray(_archive(tmp_path / "enc.keras", entries).read_bytes())
    start = raw.index(b"PK\x01\x02")
    struct.pack_into("<H", raw, start + 8, struct.unpack("<H", raw[start + 8:start + 10])[0] | 1)
    (tmp_path / "enc.keras").write_bytes(bytes(raw))
    _refused(tmp_path / "enc.keras", "encrypted")


def _with_config(tmp_path, name, change):
    entries = _good_entries(tmp_path)
    config = json.loads(dict(entries)["config.json"])
    change(config)
    return _archive(tmp_path / name, [(n, json.dumps(config).encode() if n == "config.json" else p) for n, p in entries])


def test_unknown_classes_and_code_are_refused(tmp_path):
    def lambda_layer(config):
        config["config"]["layers"].insert(2, {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                                              "config": {"name": "l", "function": {"class_name": "__lambda__",
                                                                                   "config": {"code": "ZXZpbA=="}}}})

    _refused(_with_config(tmp_path, "lambda.keras", lambda_layer), "code or a raw object.*'__lambda__'")

    def custom_layer(config):
        config["config"]["layers"][1].update(class_name="Evil", module="evil.module", registered_name="evil>Evil")

    _refused(_with_config(tmp_path, "custom.keras", custom_layer), "unknown layer 'evil>Evil'")

    def custom_model(config):
        config.update(class_name="MyModel", module="evil.module")

    _refused(_with_config(tmp_path, "model.keras", custom_model), "unknown model 'MyModel'")

    def custom_loss(config):
        config["compile_config"]["loss"] = {"module": "os", "class_name": "system", "config": {}, "registered_name": "x>system"}

    _refused(_with_config(tmp_path, "loss.keras", custom_loss), "system")

    def function_loss(config):
        config["compile_config"]["loss"] = {"module": "evil", "class_name": "function", "config": "run", "registered_name": "function"}

    _refused(_with_config(tmp_path, "function.keras", function_loss), "code or a raw object.*'function'")

    def bad_json(config):
        config.clear()

    path = _with_config(tmp_path, "empty-config.keras", bad_json)
    with pytest.raises(ValueError, match="empty-config.keras"):
        gpunet.load_model(path)
    entries = [(n, b"{not json" if n == "config.json" else p) for n, p in _good_entries(tmp_path)]
    _refused(_archive(tmp_path / "json.keras", entries), "config.json is not valid JSON")


def test_registered_classes_load_by_name(tmp_path):
    @gpunet.saving.register_serializable(package="keras_format_test")
    class Doubling(L.Layer):
        def call(self, x, training=False):
            return x * 2.0

    model = gpunet.Sequential([L.Input((3,)), Doubling(), L.Dense(2)])
    model.save(tmp_path / "r.keras")
    with zipfile.ZipFile(tmp_path / "r.keras") as archive:
        entry = json.loads(archive.read("config.json"))["config"]["layers"][1]
    assert entry["registered_name"] == "keras_format_test>Doubling" and entry["module"] == Doubling.__module__
    loaded = gpunet.load_model(tmp_path / "r.keras")
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_links_out_of_the_weights_file_are_refused(tmp_path):
    entries = _good_entries(tmp_path)
    weights = dict(entries)["model.weights.h5"]
    for kind, link in (("SoftLink", h5py.SoftLink("/layers/dense/vars/0")),
                       ("ExternalLink", h5py.ExternalLink("/etc/passwd", "/"))):
        buffer = io.BytesIO(weights)
        with h5py.File(buffer, "r+") as f:
            del f["layers/dense_1/vars/0"]
            f["layers/dense_1/vars/0"] = link
        patched = [(n, buffer.getvalue() if n == "model.weights.h5" else p) for n, p in entries]
        _refused(_archive(tmp_path / f"{kind}.keras", patched), f"is a {kind}")


def test_bad_weights_are_refused_before_anything_is_assigned(tmp_path):
    model = net()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r+") as f:
        data = f["layers/dense/vars/0"][()]
        data[0, 0] = np.nan
        f["layers/dense/vars/0"][...] = data
    other = net()
    before = other.get_weights()
    with pytest.raises(ValueError, match="NaN or infinity"):
        other.load_weights(tmp_path / "w.weights.h5")
    for got, want in zip(other.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    with h5py.File(tmp_path / "w.weights.h5", "r+") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((4, 8), np.float32)
    with pytest.raises(ValueError, match=r"has shape \(4, 8\), the model expects \(5, 8\)"):
        other.load_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r+") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/7"] = np.zeros((5, 8), np.float32)
    with pytest.raises(ValueError, match="expected datasets named 0 to 1"):
        other.load_weights(tmp_path / "w.weights.h5")
