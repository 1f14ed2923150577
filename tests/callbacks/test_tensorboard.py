"""TensorBoard: the event files read back with TensorBoard's own reader hold fit's logs under
Keras's names, the weight histograms and the model's graph."""

from __future__ import annotations

import json
import sys

import helpers
import numpy as np
import pytest

from gpunet import Sequential, callbacks, optimizers
from gpunet.layers import Dense, Input

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

from gpunet.callbacks import TensorBoard  # noqa: E402


def mlp():
    model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train(log_dir, epochs=4, **kwargs):
    x, y = helpers.blobs(200, 4, 3, seed=2)
    fit_args = {k: kwargs.pop(k) for k in ("validations_per_epoch",) if k in kwargs}
    model = mlp()
    history = model.fit(x[:120], y[:120], batch_size=20, epochs=epochs, validation_data=(x[120:], y[120:]),
                        verbose=0, callbacks=[TensorBoard(log_dir, **kwargs)], **fit_args)
    return model, history


def events(folder):
    reader = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    reader.Reload()
    return reader


def scalars(reader, tag):
    return [(e.step, e.value) for e in reader.Scalars(tag)]


def test_epoch_scalars_have_keras_names_and_fit_values(tmp_path):
    _, history = train(tmp_path)
    train_events, dev_events = events(tmp_path / "train"), events(tmp_path / "validation")
    h = history.history
    for key in ("loss", "accuracy", "learning_rate", "epoch_time"):
        logged = scalars(train_events, f"epoch_{key}")
        assert [step for step, _ in logged] == [0, 1, 2, 3]
        np.testing.assert_allclose([v for _, v in logged], h[key], rtol=1e-6)  # stored as float32
    for key in ("loss", "accuracy"):
        logged = scalars(dev_events, f"epoch_{key}")
        assert [step for step, _ in logged] == [0, 1, 2, 3]
        np.testing.assert_allclose([v for _, v in logged], h[f"val_{key}"], rtol=1e-6)
    assert not any(tag.startswith("epoch_val") for tag in train_events.Tags()["scalars"])
    # each dev evaluation, at the optimizer's step count (6 steps per epoch), as Keras writes it
    evaluations = scalars(dev_events, "evaluation_loss_vs_iterations")
    assert [step for step, _ in evaluations] == [6, 12, 18, 24]
    np.testing.assert_allclose([v for _, v in evaluations], h["val_loss"], rtol=1e-6)
    assert train_events.Tags()["histograms"] == []  # histogram_freq=0


def test_weight_histograms_every_histogram_freq_epochs(tmp_path):
    model, _ = train(tmp_path, epochs=5, histogram_freq=2)
    reader = events(tmp_path / "train")
    tags = sorted(reader.Tags()["histograms"])
    assert tags == sorted(f"{p.name}/histogram" for p in model.weights)
    name = model.weights[2].name  # the second Dense's kernel, whatever its automatic name
    kernel = reader.Histograms(f"{name}/histogram")
    assert [e.step for e in kernel] == [0, 2, 4]
    last = kernel[-1].histogram_value
    final = model.weights[2].numpy()
    assert last.num == final.size
    assert last.min == pytest.approx(final.min()) and last.max == pytest.approx(final.max())
    assert last.sum == pytest.approx(final.sum(), abs=1e-4)


def test_the_graph_is_the_models_keras_json(tmp_path):
    model, _ = train(tmp_path, epochs=1)
    reader = events(tmp_path / "train")
    assert "keras" in reader.Tags()["tensors"]
    (event,) = reader.Tensors("keras")
    assert reader.SummaryMetadata("keras").plugin_data.plugin_name == "graph_keras_model"
    config = json.loads(event.tensor_proto.string_val[0])
    assert config == json.loads(model.to_json())
    from tensorboard.plugins.graph import keras_util  # the Graphs tab's converter

    nodes = [node.name.rsplit("/", 1)[-1] for node in keras_util.keras_model_to_graph_def(config).node]
    layer_nodes = [n for n in nodes if not n.startswith("input")]
    assert layer_nodes == [layer.name for layer in model.layers] and len(layer_nodes) == 2


def test_no_graph_when_asked(tmp_path):
    train(tmp_path, epochs=1, write_graph=False)
    assert events(tmp_path / "train").Tags()["tensors"] == []


def test_batch_scalars_every_update_freq_batches(tmp_path):
    _, history = train(tmp_path, epochs=2, update_freq=4, write_steps_per_second=True)
    reader = events(tmp_path / "train")
    assert [step for step, _ in scalars(reader, "batch_loss")] == [4, 8, 12]  # 12 batches in all
    assert [step for step, _ in scalars(reader, "batch_accuracy")] == [4, 8, 12]
    assert all(v > 0 for _, v in scalars(reader, "batch_steps_per_second"))
    assert [step for step, _ in scalars(reader, "epoch_steps_per_second")] == [0, 1]
    # the running loss at the epoch's last batch is the epoch's loss
    assert scalars(reader, "batch_loss")[-1][1] == pytest.approx(history.history["loss"][-1], rel=1e-6)


def test_update_freq_batch_is_every_batch(tmp_path):
    train(tmp_path, epochs=1, update_freq="batch")
    assert [s for s, _ in scalars(events(tmp_path / "train"), "batch_loss")] == [1, 2, 3, 4, 5, 6]


def test_several_evaluations_per_epoch(tmp_path):
    _, history = train(tmp_path, epochs=2, validations_per_epoch=3)
    dev = events(tmp_path / "validation")
    # epoch_* takes each epoch's last report; every evaluation is in evaluation_*_vs_iterations
    logged = scalars(dev, "epoch_loss")
    assert [s for s, _ in logged] == [0, 1]
    np.testing.assert_allclose([v for _, v in logged], history.history["val_loss"][2::3], rtol=1e-6)
    assert [s for s, _ in scalars(dev, "evaluation_loss_vs_iterations")] == [2, 4, 6, 8, 10, 12]


def test_arguments_gpunet_cannot_honour_are_refused(tmp_path):
    for name, value in (("write_images", True), ("profile_batch", 5), ("profile_batch", (2, 4)),
                        ("embeddings_freq", 1), ("embeddings_metadata", {"dense": "m.tsv"})):
        with pytest.raises(ValueError, match=f"{name}=.*not supported"):
            TensorBoard(tmp_path, **{name: value})
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(tmp_path, update_freq=0)
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(tmp_path, update_freq="step")
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard(tmp_path, histogram_freq=-1)
    with pytest.raises(TypeError, match="log_dir"):
        TensorBoard(None)
    with pytest.raises(TypeError, match="write_graph"):
        TensorBoard(tmp_path, write_graph="yes")
    TensorBoard(tmp_path, write_images=False, profile_batch=0, embeddings_freq=0, embeddings_metadata=None)


def test_a_clear_error_when_tensorboardx_is_missing(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r'pip install "gpunet\[tensorboard\]"'):
        TensorBoard(tmp_path)


def test_it_round_trips_through_a_config(tmp_path):
    board = TensorBoard(str(tmp_path), histogram_freq=3, update_freq="batch")
    entry = callbacks.serialize(board)
    assert entry["class_name"] == "TensorBoard" and entry["config"]["update_freq"] == 1
    again = callbacks.deserialize(entry)
    assert isinstance(again, TensorBoard) and again.get_config() == board.get_config()


def test_a_fit_resumed_by_backup_and_restore_continues_the_curves(tmp_path):
    from gpunet.callbacks import BackupAndRestore, LambdaCallback

    def stop_at_2(epoch, logs):
        if epoch == 2:
            raise RuntimeError("stop")

    x, y = helpers.blobs(200, 4, 3, seed=2)
    model = mlp()
    fit = dict(batch_size=20, epochs=4, validation_data=(x[120:], y[120:]), verbose=0)
    with pytest.raises(RuntimeError):
        model.fit(x[:120], y[:120], callbacks=[TensorBoard(tmp_path / "logs", update_freq=3),
                                               BackupAndRestore(tmp_path / "backup"),
                                               LambdaCallback(on_epoch_begin=stop_at_2)], **fit)
    model.fit(x[:120], y[:120], callbacks=[TensorBoard(tmp_path / "logs", update_freq=3),
                                           BackupAndRestore(tmp_path / "backup")], **fit)
    reader = events(tmp_path / "logs" / "train")
    assert [s for s, _ in scalars(reader, "epoch_loss")] == [0, 1, 2, 3]
    assert [s for s, _ in scalars(reader, "batch_loss")] == [3, 6, 9, 12, 15, 18, 21, 24]
