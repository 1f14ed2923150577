"""Keras's arguments that gpunet takes: what each does, and the values it refuses by name."""

import gc

import numpy as np
import pytest

import gpunet
from gpunet import callbacks, layers, saving, utils
from gpunet.callbacks import CallbackList, History, ProgbarLogger


@pytest.fixture
def model():
    model = gpunet.Sequential([gpunet.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_positions_are_kerass(model):
    named = gpunet.Sequential(None, False, "frozen")  # Keras's order: layers, trainable, name
    assert named.name == "frozen" and named.trainable is False
    model.compile("adam", "sparse_categorical_crossentropy", None, ["accuracy"])  # loss_weights third, as in Keras
    assert [m.name for m in model.compiled_metrics] == ["accuracy"]
    assert model.metrics_names == ["loss", "compile_metrics"]  # Keras 3: the loss tracker, then the compiled metrics
    x, y = np.zeros((8, 3), "float32"), np.zeros(8, "int64")
    history = model.fit(x, y, 4, 2, 0, None, 0.0, None, True, None, None, 0, None, None, None, 1)
    assert history.epoch == [0, 1]
    with pytest.raises(TypeError):  # gpunet's own arguments are keyword-only
        model.fit(x, y, 4, 2, 0, None, 0.0, None, True, None, None, 0, None, None, None, 1, 1)


def test_save_overwrite_and_zipped(model, tmp_path):
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(path, overwrite=False)
    assert path.read_bytes() == before
    model.save(path, overwrite=True, zipped=True)
    model.save(tmp_path / "new.keras", overwrite=False)
    with pytest.raises(ValueError, match="zipped is not supported by gpunet"):
        model.save(path, zipped=False)
    model.save(tmp_path / "m.h5", zipped=False)  # ignored for .h5, as Keras ignores it
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        model.save(path, overwrite="yes")
    model.save(tmp_path / "w.h5", include_optimizer=False)


def test_weights_arguments(model, tmp_path):
    path = tmp_path / "w.weights.h5"
    model.save_weights(path, overwrite=True, max_shard_size=None)
    with pytest.raises(FileExistsError):
        model.save_weights(path, overwrite=False)
    with pytest.raises(ValueError, match="max_shard_size is not supported"):
        model.save_weights(tmp_path / "other.weights.h5", max_shard_size="1GB")
    model.load_weights(path, skip_mismatch=False)
    with pytest.raises(ValueError, match="skip_mismatch is not supported"):
        model.load_weights(path, skip_mismatch=True)
    saving.save_weights(model, tmp_path / "again.weights.h5")
    saving.load_weights(model, tmp_path / "again.weights.h5")


def test_loading_arguments(model, tmp_path):
    path = tmp_path / "m.keras"
    model.save(path)
    for safe_mode in (True, False):  # gpunet never runs code from a file: safe_mode changes nothing
        assert gpunet.load_model(path, None, True, safe_mode).count_params() == model.count_params()
    with pytest.raises(TypeError, match="safe_mode"):
        gpunet.load_model(path, safe_mode="no")
    assert gpunet.model_from_json(json_string=model.to_json()).count_params() == model.count_params()


@saving.register_serializable(package="tests_keras_arguments")
class Twice(layers.Layer):
    supports_recording = True

    def call(self, x, training=False):
        return x * 2


def test_custom_objects_everywhere(model):
    entry = {"class_name": "Doubling", "config": {"name": "twice"}}
    with pytest.raises(ValueError, match="unknown layer 'Doubling'"):
        layers.deserialize(entry)
    assert isinstance(layers.deserialize(entry, custom_objects={"Doubling": Twice}), Twice)
    config = {"name": "m", "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [None, 3]}}, entry]}
    assert isinstance(gpunet.Sequential.from_config(config, custom_objects={"Doubling": Twice}).layers[0], Twice)
    assert saving.get_registered_object("Doubling", custom_objects={"Doubling": Twice}) is Twice
    assert saving.get_registered_object("Doubling", module_objects={"Doubling": Twice}) is Twice
    assert saving.get_registered_object("Doubling") is None
    assert saving.get_registered_object("tests_keras_arguments>Twice", module_objects={"x": int}) is Twice
    with saving.custom_object_scope(custom_objects={"Doubling": Twice}):
        assert saving.get_registered_object("Doubling") is Twice
    with pytest.raises(TypeError, match="module_objects must be a dict"):
        saving.get_registered_object("Doubling", module_objects=[Twice])


def test_callback_list_takes_kerass_arguments(model):
    history = History()
    plain = CallbackList()
    assert plain.callbacks == []
    both = CallbackList([history], add_history=True, add_progbar=True, model=model, verbose=2, epochs=3)
    assert [type(cb) for cb in both.callbacks] == [ProgbarLogger, History] and both.callbacks[1] is history
    assert history.params == {"verbose": 2, "epochs": 3} and history.model is model
    assert both.callbacks[0].verbose == 2
    quiet = CallbackList(add_history=True, add_progbar=True, verbose=0)
    assert [type(cb) for cb in quiet.callbacks] == [History]  # verbose=0: no progress bar, as in Keras
    with pytest.raises(TypeError, match="Callback objects"):
        CallbackList([print])


def test_callbacks_keep_kerass_positions():
    plateau = callbacks.ReduceLROnPlateau("val_loss", 0.5, 3, 0, "auto", 1e-4, 2, 1e-5)
    assert (plateau.cooldown, plateau.min_lr) == (2, 1e-5)
    with pytest.raises(TypeError):
        callbacks.ReduceLROnPlateau("val_loss", 0.5, 3, 0, "auto", 1e-4, 2, 1e-5, "rel")  # gpunet's own: by keyword
    assert callbacks.ReduceLROnPlateau(min_delta_mode="rel").min_delta_mode == "rel"


def test_layers_take_kerass_defaults_and_refuse_the_rest():
    layers.Dense(2, lora_alpha=None, quantization_config=None, kernel_constraint=None, autocast=True)
    for kwargs, name in [({"lora_alpha": 4}, "lora_alpha"), ({"quantization_config": {}}, "quantization_config"),
                         ({"autocast": False}, "autocast")]:
        with pytest.raises(ValueError, match=f"Dense: {name} is not supported by gpunet"):
            layers.Dense(2, **kwargs)
    norm = layers.BatchNormalization(renorm=False, synchronized=False, renorm_momentum=0.9, renorm_clipping={"rmax": 3})
    config = norm.get_config()
    assert config["renorm_momentum"] == 0.9 and config["renorm_clipping"] == {"rmax": 3}  # kept, as Keras keeps them
    assert layers.BatchNormalization.from_config(config).renorm_momentum == 0.9
    with pytest.raises(ValueError, match="renorm is not supported"):
        layers.BatchNormalization(renorm=True)
    assert layers.BatchNormalization(synchronized=True).get_config()["synchronized"] is True  # across ranks
    with pytest.raises(ValueError, match="rms_scaling is not supported"):
        layers.LayerNormalization(rms_scaling=True)
    with pytest.raises(TypeError, match="Dense: activity_regularizer: "):
        layers.Dense(2, activity_regularizer=object())


def test_clear_session_frees_memory(monkeypatch):
    collected = []
    monkeypatch.setattr(gc, "collect", lambda *args: collected.append(args) or 0)
    utils.clear_session(free_memory=False)
    assert collected == []
    utils.clear_session()
    assert collected == [()]
    assert layers.Dense(2).name == "dense"


def test_mnist_takes_kerass_default_path(monkeypatch):
    asked = []
    monkeypatch.setattr(gpunet.datasets.sources, "load", lambda dataset, path: asked.append(path))
    gpunet.datasets.mnist.load_data()
    gpunet.datasets.mnist.load_data("mnist.npz")
    gpunet.datasets.mnist.load_data("/data/mnist")
    assert asked == [None, None, "/data/mnist"]


def test_backend_and_config_floatx():
    gpunet.backend.set_floatx(value="float64")
    try:
        assert gpunet.config.floatx() == "float64" and gpunet.backend.floatx() == np.float64
    finally:
        gpunet.config.set_floatx("float32")
    assert gpunet.config.floatx() == "float32"
    assert gpunet.config.dtype_policy().name == "float32"
