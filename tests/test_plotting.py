"""plot_history: one axes per quantity, train and dev curves holding the History's values, and
the restored epoch marked."""

from __future__ import annotations

import sys

import helpers
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, optimizers
from gpunet.layers import Dense, Input
from gpunet.utils import plot_history

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def trained(epochs=5, **kwargs):
    x, y = helpers.blobs(300, 4, 3, seed=4, spread=1.2)
    model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model.fit(x[:150], y[:150], batch_size=30, epochs=epochs, validation_data=(x[150:], y[150:]), verbose=0,
                     **kwargs)


def lines(ax):
    """{label: (x, y)} of the axes' curves."""
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}


def test_one_axes_per_quantity_with_train_and_dev_curves():
    history = trained()
    figure = plot_history(history)
    assert isinstance(figure, matplotlib.figure.Figure)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]  # not learning_rate nor epoch_time
    for ax, name in zip(axes, ["loss", "accuracy"]):
        curves = lines(ax)
        assert curves["train"] == ([1, 2, 3, 4, 5], history.history[name])
        assert curves["dev"] == ([1, 2, 3, 4, 5], history.history[f"val_{name}"])
        assert ax.get_xlabel() == "epoch"


def test_the_restored_epoch_is_marked():
    history = trained()
    best = history.best
    assert best["restored"] and best["monitor"] == "val_accuracy"
    figure = plot_history(history)
    for ax in figure.get_axes():
        marker = lines(ax)[f"restored: epoch {best['epoch'] + 1}"]
        assert marker[0] == [best["epoch"] + 1] * 2  # a vertical line at that epoch
    star = [line for line in figure.get_axes()[1].get_lines() if line.get_marker() == "*"]
    assert len(star) == 1
    assert list(star[0].get_xdata()) == [best["epoch"] + 1]
    assert list(star[0].get_ydata()) == [history.history["val_accuracy"][best["epoch"]]]
    assert not [line for line in figure.get_axes()[0].get_lines() if line.get_marker() == "*"]


def test_a_history_dict_with_best_given_as_an_epoch():
    values = {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.6, 0.7], "learning_rate": [0.1] * 3}
    figure = plot_history(values, best=1)
    (ax,) = figure.get_axes()
    curves = lines(ax)
    assert curves["train"] == ([1, 2, 3], [1.0, 0.5, 0.4])
    assert curves["restored: epoch 2"][0] == [2, 2]
    assert len(plot_history(values).get_axes()[0].get_lines()) == 2  # no best known: nothing marked


def test_several_reports_per_epoch_spread_over_the_epoch():
    history = trained(epochs=2, validations_per_epoch=2)
    figure = plot_history(history, metrics=["loss"])
    (ax,) = figure.get_axes()
    assert lines(ax)["dev"] == ([0.5, 1.0, 1.5, 2.0], history.history["val_loss"])


def test_dev_values_of_validation_freq_sit_at_their_epochs():
    history = trained(epochs=4, validation_freq=2)
    (ax,) = plot_history(history, metrics=["loss"]).get_axes()
    assert lines(ax)["dev"] == ([2, 4], history.history["val_loss"])


def test_it_saves_to_a_file(tmp_path):
    plot_history(trained(epochs=2), filename=tmp_path / "curves.png", title="run 1")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match="History"):
        plot_history([1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        plot_history({})
    with pytest.raises(ValueError, match="f1"):
        plot_history({"loss": [1.0]}, metrics=["f1"])
    with pytest.raises(TypeError, match="metrics"):
        plot_history({"loss": [1.0]}, metrics="loss")
    with pytest.raises(TypeError, match="filename"):
        plot_history({"loss": [1.0]}, filename=3)


def test_a_clear_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "gpunet\[plots\]"'):
        plot_history({"loss": [1.0, 0.5]})


def test_dev_points_sit_at_the_reports_that_validated():
    """validation_freq=2 with two reports per epoch: epochs 2 and 4 validate twice each (at 1.5,
    2.0, 3.5, 4.0 on the epoch axis); epochs 1 and 3 report once, without dev values."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 4)).astype(np.float32)
    y = rng.integers(0, 3, 200)
    model = gpunet.Sequential([gpunet.layers.Input((4,)), gpunet.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(x[:100], y[:100], epochs=4, batch_size=10, validation_data=(x[100:], y[100:]),
                        validation_freq=2, validations_per_epoch=2, verbose=0)
    figure = plot_history(history)
    dev = next(line for line in figure.axes[0].lines if line.get_label() == "dev")
    np.testing.assert_allclose(dev.get_xdata(), [1.5, 2.0, 3.5, 4.0])
    np.testing.assert_allclose(dev.get_ydata(), history.history["val_loss"])
