"""fit's best-on-dev restoration as one switch: fit(restore_best=...) over gpunet.config's setting
over GPUNET_RESTORE_BEST over on; and the line saying which weights the model holds."""

import helpers
import numpy as np
import pytest

import gpunet
from gpunet import config
from gpunet.callbacks import Callback
from gpunet.layers import Dense, Input


class Sabotage(Callback):
    """Zeroes the weights and the learning rate at the end of epoch 1: the best epoch is 0 or 1,
    the last one's weights are zero."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])
            self.model.optimizer.learning_rate = 0.0


@pytest.fixture(autouse=True)
def _no_setting(monkeypatch):
    monkeypatch.delenv(config.RESTORE_BEST_VARIABLE, raising=False)
    config.set_restore_best(None)
    yield
    config.set_restore_best(None)


def fit(verbose=0, **kwargs):
    """A fit whose last weights are zero; returns (model, history)."""
    x, y = helpers.blobs(80, 6, 3, 0)
    model = gpunet.Sequential([Input((6,)), Dense(3, activation="softmax")])
    model.compile(optimizer=gpunet.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:60], y[:60], epochs=3, validation_data=(x[60:], y[60:]), callbacks=[Sabotage()],
                        verbose=verbose, **kwargs)
    return model, history


def restored(model) -> bool:
    return not all(np.all(w == 0) for w in model.get_weights())


@pytest.mark.parametrize("variable,setting,argument,expected", [
    (None, None, None, True),            # the course's rule by default
    ("0", None, None, False),            # an unmodified Keras script: GPUNET_RESTORE_BEST=0
    ("false", None, None, False), ("Off", None, None, False), ("no", None, None, False),
    ("1", None, None, True), ("yes", None, None, True), ("", None, None, True),
    ("0", None, True, True),             # fit's argument wins over the variable...
    ("1", None, False, False),
    ("1", False, None, False),           # ... the setting wins over the variable
    ("0", True, None, True),
    (None, False, True, True),           # ... and fit's argument over the setting
])
def test_which_setting_wins(monkeypatch, variable, setting, argument, expected):
    if variable is not None:
        monkeypatch.setenv(config.RESTORE_BEST_VARIABLE, variable)
    config.set_restore_best(setting)
    if argument is None:
        assert config.restore_best() is expected
    model, history = fit(restore_best=argument)
    assert restored(model) is expected
    assert history.best["restored"] is expected and history.best["epoch"] in (0, 1)


def test_bad_values_are_refused_before_training(monkeypatch):
    monkeypatch.setenv(config.RESTORE_BEST_VARIABLE, "maybe")
    with pytest.raises(ValueError, match="GPUNET_RESTORE_BEST must be 1 or 0.*'maybe'"):
        fit()
    fit(restore_best=False)  # the argument does not read the variable
    with pytest.raises(TypeError, match="set_restore_best: enabled must be True, False or None"):
        config.set_restore_best("no")
    with pytest.raises(ValueError, match="restore_best"):
        fit(restore_best="no")


def test_the_last_line_says_which_weights_the_model_holds(capsys):
    _, history = fit(verbose=2)
    best = history.best
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"Restored the weights of epoch {best['epoch'] + 1} (best val_accuracy {best['value']:.4f}, chosen by fit)"

    config.set_restore_best(False)
    _, history = fit(verbose=2)
    best = history.best
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == (f"Kept the weights of the last epoch, 3 (restore_best is off): the best val_accuracy, "
                    f"{best['value']:.4f}, was at epoch {best['epoch'] + 1}")

    fit(verbose=0)
    assert capsys.readouterr().out == ""


def test_no_line_without_dev_data(capsys):
    config.set_restore_best(False)
    x, y = helpers.blobs(40, 6, 3, 0)
    model = gpunet.Sequential([Input((6,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("Epoch ") for line in lines)
