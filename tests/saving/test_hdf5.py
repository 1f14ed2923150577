"""HDF5 files: Keras's layout, round trips, exact resumption, atomic writes, hostile files."""

import json
import os

import h5py
import helpers
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, optimizers
from gpunet.callbacks import ModelCheckpoint, ReduceLROnPlateau
from gpunet.layers import Activation, Dense, Dropout, Input
from gpunet.utils import clear_session, set_random_seed


def data(n=120, seed=0):
    return helpers.blobs(n, 5, seed=seed, spread=2.0)


def net(optimizer="adam"):
    model = Sequential([Input((5,)), Dense(8, activation="relu"), Dropout(0.3), Dense(3), Activation("softmax")], name="net")
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def test_layout_is_keras_legacy_h5(tmp_path):
    clear_session()
    model = net()
    path = tmp_path / "m.h5"
    model.save(path)
    with h5py.File(path, "r") as f:
        assert _text(f.attrs["keras_version"]) and _text(f.attrs["backend"])
        config = json.loads(_text(f.attrs["model_config"]))
        assert config["class_name"] == "Sequential" and config["config"]["name"] == "net"
        layers = config["config"]["layers"]
        assert [l["class_name"] for l in layers] == ["InputLayer", "Dense", "Dropout", "Dense", "Activation"]
        assert layers[0]["config"]["batch_shape"] == [None, 5]
        assert {"units": 8, "activation": "relu", "use_bias": True}.items() <= layers[1]["config"].items()
        assert layers[2]["config"]["rate"] == 0.3 and layers[4]["config"]["activation"] == "softmax"
        training = json.loads(_text(f.attrs["training_config"]))
        assert training["optimizer_config"]["class_name"] == "Adam" and training["metrics"] == ["accuracy"]
        weights = f["model_weights"]
        assert [_text(n) for n in weights.attrs["layer_names"]] == ["dense", "dropout", "dense_1", "activation"]
        names = [_text(n) for n in weights["dense"].attrs["weight_names"]]
        assert names == ["net/dense/kernel", "net/dense/bias"]
        np.testing.assert_array_equal(weights["dense"][names[0]][()], model.layers[0].kernel.numpy())
        assert weights["dense"][names[0]].shape == (5, 8) and weights["dense"][names[1]].shape == (8,)
        assert len(weights["dropout"].attrs["weight_names"]) == 0
        assert f["gpunet"].attrs["format_version"] == 2 and "slots" in f["gpunet/state/optimizer"]


def test_round_trip_predictions_and_continued_training(tmp_path):
    x, y = data()
    set_random_seed(1)
    model = net()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "m.h5")
    loaded = gpunet.load_model(tmp_path / "m.h5")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert isinstance(loaded.optimizer, optimizers.Adam) and loaded.optimizer.iterations == model.optimizer.iterations
    set_random_seed(9)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    set_random_seed(9)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_only_round_trip_and_mismatch_leaves_model_unchanged(tmp_path):
    model = net()
    model.save_weights(tmp_path / "w.h5")
    other = net()
    other.load_weights(tmp_path / "w.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrong = Sequential([Input((5,)), Dense(9), Dense(3)])
    before = wrong.get_weights()
    with pytest.raises(ValueError, match=r"has shape \(5, 8\), the model expects \(5, 9\)"):
        wrong.load_weights(tmp_path / "w.h5")
    for a, b in zip(before, wrong.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="weights for 2 layers, the model has 1"):
        Sequential([Input((5,)), Dense(3)]).load_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match="no model_config"):
        gpunet.load_model(tmp_path / "w.h5")


def test_load_model_without_compile_and_uncompiled_models(tmp_path):
    model = Sequential([Input((3,)), Dense(2)])
    model.save(tmp_path / "u.h5")
    loaded = gpunet.load_model(tmp_path / "u.h5")
    assert not loaded.compiled
    net().save(tmp_path / "c.h5")
    assert not gpunet.load_model(tmp_path / "c.h5", compile=False).compiled


def _train_with_checkpoints(tmp_path, x, y, epochs, initial_epoch=0, model=None):
    callbacks = [ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}.h5")), ReduceLROnPlateau(monitor="val_accuracy", patience=1, factor=0.5)]
    model = model or net()
    model.fit(x[:90], y[:90], batch_size=8, epochs=epochs, initial_epoch=initial_epoch, validation_data=(x[90:], y[90:]),
              callbacks=callbacks, verbose=0)
    return model


def test_exact_resume_is_bitwise(tmp_path):
    x, y = data(seed=3)
    set_random_seed(21)
    straight = _train_with_checkpoints(tmp_path, x, y, epochs=5)
    assert sorted(os.listdir(tmp_path)) == [f"ck-{e:02d}.h5" for e in range(1, 6)]
    # resume from the end of epoch 2 (file ck-02.h5): a different seed must not matter
    set_random_seed(999)
    resumed_model = gpunet.load_model(tmp_path / "ck-02.h5")
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    resumed = _train_with_checkpoints(resumed_dir, x, y, epochs=5, initial_epoch=2, model=resumed_model)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert straight.optimizer.learning_rate == resumed.optimizer.learning_rate
    straight_state = straight.optimizer.get_state()["slots"]
    for path, slots in resumed.optimizer.get_state()["slots"].items():
        np.testing.assert_array_equal(slots["m"], straight_state[path]["m"])


def test_resume_at_another_epoch_warns(tmp_path):
    x, y = data()
    _train_with_checkpoints(tmp_path, x, y, epochs=2)
    model = gpunet.load_model(tmp_path / "ck-01.h5")
    with pytest.warns(UserWarning, match="fresh random streams"):
        model.fit(x, y, epochs=1, initial_epoch=0, verbose=0)


def test_fit_best_checkpoint_holds_the_best_dev_weights(tmp_path):
    x, y = data(seed=4)
    model = net()
    h = model.fit(x[:90], y[:90], epochs=6, batch_size=8, validation_data=(x[90:], y[90:]),
                  best_checkpoint=tmp_path / "best.h5", verbose=0)
    best = gpunet.load_model(tmp_path / "best.h5")
    for a, b in zip(best.get_weights(), model.get_weights()):  # fit restored the same best weights
        np.testing.assert_array_equal(a, b)
    assert best.evaluate(x[90:], y[90:], verbose=0)[1] == max(h.history["val_accuracy"])
    assert [p for p in os.listdir(tmp_path)] == ["best.h5"]  # no temporary file left
    with pytest.raises(ValueError, match="best_checkpoint needs dev data"):
        model.fit(x, y, best_checkpoint=tmp_path / "b.h5", verbose=0)


def test_model_on_every_backend_saves_and_loads(tmp_path, xp):
    model = net()
    assert isinstance(model.weights[0].data, xp.ndarray)
    model.save(tmp_path / "g.h5")
    loaded = gpunet.load_model(tmp_path / "g.h5")
    assert isinstance(loaded.weights[0].data, xp.ndarray)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_paths_keras_would_misread_are_refused(tmp_path):
    # Keras reads a '.weights.h5' name as weights only, and a '.keras' name as a whole model
    with pytest.raises(ValueError, match=r"'\.weights\.h5' as a weights-only file"):
        net().save(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match=r"'\.keras' file holds a whole model"):
        net().save_weights(tmp_path / "m.keras")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# a file laid out exactly as Keras 3.15 writes it (built by hand: Keras is not a test dependency)
# ---------------------------------------------------------------------------------------------
def _keras_file(path, kernel1, bias1, kernel2, bias2):
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    glorot = {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None}, "registered_name": None}
    zeros = {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": None}
    dense = lambda name, units, act: {  # noqa: E731
        "module": "keras.layers", "class_name": "Dense", "registered_name": None, "build_config": {"input_shape": [None, 4]},
        "config": {"name": name, "trainable": True, "dtype": policy, "units": units, "activation": act, "use_bias": True,
                   "kernel_initializer": glorot, "bias_initializer": zeros, "kernel_regularizer": None,
                   "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None, "quantization_config": None}}
    config = {"class_name": "Sequential", "config": {"name": "sequential", "trainable": True, "dtype": policy, "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False, "name": "input_layer", "optional": False}},
        dense("dense", 3, "relu"),
        {"class_name": "Dropout", "config": {"name": "dropout", "trainable": True, "dtype": policy, "rate": 0.2, "seed": None, "noise_shape": None}},
        dense("dense_1", 2, "linear"),
        {"class_name": "Activation", "config": {"name": "activation", "trainable": True, "dtype": policy, "activation": "softmax"}},
    ]}}
    training = {"loss": "sparse_categorical_crossentropy", "loss_weights": None, "metrics": ["accuracy"], "weighted_metrics": None,
                "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
                "optimizer_config": {"class_name": "Adam", "config": {"name": "adam", "learning_rate": 0.001, "weight_decay": None,
                                     "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                                     "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
                                     "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}}}
    with h5py.File(path, "w") as f:
        f.attrs["backend"] = "torch"
        f.attrs["keras_version"] = "3.15.1"
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["training_config"] = json.dumps(training)
        g = f.create_group("model_weights")
        g.attrs["backend"] = "torch"
        g.attrs["keras_version"] = "3.15.1"
        g.attrs["layer_names"] = ["dense", "dropout", "dense_1", "activation"]
        for name, (k, b) in (("dense", (kernel1, bias1)), ("dense_1", (kernel2, bias2))):
            lg = g.create_group(name)
            lg.attrs["weight_names"] = [f"sequential/{name}/kernel", f"sequential/{name}/bias"]
            lg.create_dataset(f"sequential/{name}/kernel", data=k)
            lg.create_dataset(f"sequential/{name}/bias", data=b)
        for name in ("dropout", "activation", "top_level_model_weights"):
            g.create_group(name).attrs["weight_names"] = np.zeros((0,))
        opt = f.create_group("optimizer_weights")
        opt.attrs["weight_names"] = ["adam/iteration"]
        opt.create_dataset("adam/iteration", data=np.int32(1))


def test_reads_the_keras_legacy_layout_built_by_hand(tmp_path):
    """A layout unit test (a file built with h5py as Keras 3.15 lays it out); the real Keras is in test_keras_compat.py."""
    rng = np.random.default_rng(0)
    k1, b1 = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    k2, b2 = rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(2).astype(np.float32)
    _keras_file(tmp_path / "k.h5", k1, b1, k2, b2)
    model = gpunet.load_model(tmp_path / "k.h5")
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dropout", "Dense", "Activation"]
    assert isinstance(model.optimizer, optimizers.Adam) and model.optimizer.epsilon == 1e-7
    x = rng.standard_normal((6, 4)).astype(np.float32)
    logits = np.maximum(x @ k1 + b1, 0) @ k2 + b2
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5)
    weights_only = Sequential([Input((4,)), Dense(3, activation="relu"), Dense(2, activation="softmax")])
    weights_only.load_weights(tmp_path / "k.h5")
    np.testing.assert_allclose(weights_only.predict(x), expected, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# hostile and broken files
# ---------------------------------------------------------------------------------------------
def _rewrite_config(src, dst, mutate):
    with h5py.File(src, "r") as f_in, h5py.File(dst, "w") as f_out:
        for key, value in f_in.attrs.items():
            f_out.attrs[key] = value
        for key in f_in:
            f_in.copy(key, f_out)
        config = json.loads(_text(f_out.attrs["model_config"]))
        mutate(config)
        f_out.attrs["model_config"] = json.dumps(config)


@pytest.mark.parametrize("class_name", ["Lambda", "keras.layers.Lambda", "os.system", "builtins.eval", "Conv3D"])
def test_unknown_layer_classes_are_refused(tmp_path, class_name):
    net().save(tmp_path / "m.h5")

    def mutate(config):
        config["config"]["layers"][2] = {"class_name": class_name, "config": {"function": "__import__('os').system('touch /tmp/pwned')"}}

    _rewrite_config(tmp_path / "m.h5", tmp_path / "evil.h5", mutate)
    with pytest.raises(ValueError, match=f"unknown layer '{class_name}'"):
        gpunet.load_model(tmp_path / "evil.h5")
    assert not os.path.exists("/tmp/pwned")


def test_unsupported_keras_options_are_refused(tmp_path):
    net().save(tmp_path / "m.h5")

    def mutate(config):
        config["config"]["layers"][1]["config"]["lora_rank"] = 4

    _rewrite_config(tmp_path / "m.h5", tmp_path / "reg.h5", mutate)
    with pytest.raises(ValueError, match="lora_rank=4 is not supported"):
        gpunet.load_model(tmp_path / "reg.h5")


def _first_dense(f):
    return f["model_weights"][_text(f["model_weights"].attrs["layer_names"][0])]


def test_object_and_string_datasets_are_refused(tmp_path):
    net().save(tmp_path / "m.h5")
    for dtype, value in ((h5py.string_dtype(), np.array([["a"] * 8] * 5, dtype=object)), (np.dtype("S3"), np.full((5, 8), b"abc"))):
        with h5py.File(tmp_path / "m.h5", "r+") as f:
            group = _first_dense(f)
            name = _text(group.attrs["weight_names"][0])
            del group[name]
            group.create_dataset(name, data=value, dtype=dtype)
        with pytest.raises(ValueError, match="where numbers belong"):
            gpunet.load_model(tmp_path / "m.h5")


def test_wrong_weight_shape_is_refused_before_reading(tmp_path):
    net().save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r+") as f:
        group = _first_dense(f)
        name = _text(group.attrs["weight_names"][0])
        del group[name]
        group.create_dataset(name, shape=(100000, 100000), dtype="f4")  # 40 GB declared, nothing written
    with pytest.raises(ValueError, match=r"has shape \(100000, 100000\).*more than a model of 75 parameters needs"):
        gpunet.load_model(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r+") as f:
        group = _first_dense(f)
        del group[name]
        group.create_dataset(name, shape=(4, 8), dtype="f4")
    with pytest.raises(ValueError, match=r"has shape \(4, 8\), the model expects \(5, 8\)"):
        gpunet.load_model(tmp_path / "m.h5")


def test_missing_empty_truncated_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file.*nothere.h5"):
        gpunet.load_model(tmp_path / "nothere.h5")
    (tmp_path / "empty.h5").write_bytes(b"")
    with pytest.raises(OSError, match="empty.h5.*is empty"):
        gpunet.load_model(tmp_path / "empty.h5")
    (tmp_path / "text.h5").write_text("model = 'not hdf5'\n")
    with pytest.raises(OSError, match="cannot read .*text.h5"):
        gpunet.load_model(tmp_path / "text.h5")
    net().save(tmp_path / "m.h5")
    raw = (tmp_path / "m.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(raw[: len(raw) // 2])
    with pytest.raises((OSError, ValueError), match="cut.h5"):
        gpunet.load_model(tmp_path / "cut.h5")
    with pytest.raises(IsADirectoryError):
        gpunet.load_model(tmp_path)
    with pytest.raises(TypeError, match="filepath must be a path"):
        gpunet.load_model(3)


def test_bad_json_is_a_clear_error(tmp_path):
    net().save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r+") as f:
        f.attrs["model_config"] = "{not json"
    with pytest.raises(ValueError, match="model_config.*not valid JSON"):
        gpunet.load_model(tmp_path / "m.h5")


def test_model_from_json_round_trip_and_refusals():
    model = net()
    clone = gpunet.model_from_json(model.to_json())
    assert [type(l).__name__ for l in clone.layers] == ["Dense", "Dropout", "Dense", "Activation"]
    assert clone.input_shape == (None, 5) and clone.count_params() == model.count_params()
    with pytest.raises(ValueError, match="unknown model 'Subclassed'"):
        gpunet.model_from_json(json.dumps({"class_name": "Subclassed", "config": {}}))
    with pytest.raises(ValueError, match="a functional model config needs a 'layers' list"):
        gpunet.model_from_json(json.dumps({"class_name": "Functional", "config": {}}))
    with pytest.raises(ValueError, match="not valid JSON"):
        gpunet.model_from_json("{")
    with pytest.raises(TypeError):
        gpunet.model_from_json(3)
