"""Bad input at every public entry point: a clear exception naming the argument, nothing changed.

Each case calls one public function with one bad argument and expects a ValueError, TypeError,
RuntimeError or OSError (subclasses included) whose message contains the name of what was wrong.
"""

import json
import os

import numpy as np
import pytest

import gpunet
from gpunet import callbacks, cli, datasets, initializers, layers, losses, optimizers, schedules
from gpunet.callbacks import ModelCheckpoint
from gpunet.layers import Dense, Dropout, Input

X = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
Y = np.random.default_rng(1).integers(0, 3, 40)
NAN_X = X.copy()
NAN_X[5, 1] = np.nan
INF_X = X.copy()
INF_X[0, 0] = -np.inf


def model(compiled=True):
    m = gpunet.Sequential([Input((6,)), Dense(8, activation="relu"), Dropout(0.1), Dense(3, activation="softmax")])
    if compiled:
        m.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def fit(**kwargs):
    args = {"x": X, "y": Y, "epochs": 1, "verbose": 0, **kwargs}
    return lambda m: m.fit(**args)


# (id, call(model), exception, text the message must contain)
CASES = [
    # Sequential and layers
    ("Sequential layers type", lambda m: gpunet.Sequential("dense"), TypeError, "layers"),
    ("Sequential name", lambda m: gpunet.Sequential(name=""), ValueError, "name"),
    ("Sequential.add non-layer", lambda m: m.add(3), TypeError, "layer"),
    ("Dense units zero", lambda m: Dense(0), ValueError, "units"),
    ("Dense units float", lambda m: Dense(3.5), ValueError, "units"),
    ("Dense activation name", lambda m: Dense(3, activation="gelu"), ValueError, "activation"),
    ("Dense initializer", lambda m: Dense(3, kernel_initializer="orthogonal"), ValueError, "initializer"),
    ("Dropout rate 1", lambda m: Dropout(1.0), ValueError, "rate"),
    ("Dropout rate NaN", lambda m: Dropout(float("nan")), ValueError, "rate"),
    ("Input shape", lambda m: Input((-1,)), ValueError, "shape"),
    ("Activation name", lambda m: layers.Activation("swish"), ValueError, "activation"),
    ("Constant initializer", lambda m: initializers.Constant(float("inf")), ValueError, "value"),
    ("set_weights count", lambda m: m.set_weights([]), ValueError, "set_weights"),
    ("set_weights shape", lambda m: m.set_weights([np.zeros((2, 2))] * 4), ValueError, "shape"),
    ("model called on wrong features", lambda m: m(np.zeros((2, 5), np.float32)), ValueError, "features"),
    # compile
    ("compile optimizer name", lambda m: m.compile(optimizer="adamax2", loss="mse"), ValueError, "optimizer"),
    ("compile loss name", lambda m: m.compile(optimizer="sgd", loss="hinge"), ValueError, "loss"),
    ("compile metric name", lambda m: m.compile(optimizer="sgd", loss="mse", metrics=["f1"]), ValueError, "metric"),
    ("compile metrics type", lambda m: m.compile(optimizer="sgd", loss="mse", metrics=5), TypeError, "metrics"),
    ("compile optimizer type", lambda m: m.compile(optimizer=object(), loss="mse"), TypeError, "optimizer"),
    # fit
    ("fit before compile", lambda m: model(False).fit(X, Y), RuntimeError, "compile"),
    ("fit x/y length", fit(y=Y[:30]), ValueError, "same number of samples"),
    ("fit empty", fit(x=X[:0], y=Y[:0]), ValueError, "x is empty"),
    ("fit string x", fit(x=np.array([["a"] * 6] * 40)), TypeError, "x must hold numbers"),
    ("fit NaN x", fit(x=NAN_X), ValueError, "x contains 1 NaN"),
    ("fit inf x", fit(x=INF_X), ValueError, "x contains 1 NaN or infinite"),
    ("fit labels too large", fit(y=Y + 3), ValueError, "labels"),
    ("fit negative labels", fit(y=Y - 1), ValueError, "labels"),
    ("fit feature count", fit(x=X[:, :4]), ValueError, "x has samples of shape (4,)"),
    ("fit batch_size", fit(batch_size=0), ValueError, "batch_size"),
    ("fit epochs", fit(epochs=-1), ValueError, "epochs"),
    ("fit validation_split", fit(validation_split=-0.1), ValueError, "validation_split"),
    ("fit validation_data", fit(validation_data=[X]), ValueError, "validation_data"),
    ("fit validation NaN", fit(validation_data=(NAN_X, Y)), ValueError, "validation_data x"),
    ("fit validations_per_epoch", fit(validations_per_epoch=0), ValueError, "validations_per_epoch"),
    ("fit callbacks", fit(callbacks=["csv"]), TypeError, "callbacks"),
    ("fit monitor never logged", fit(callbacks=[callbacks.EarlyStopping(monitor="val_f1")]), ValueError, "val_f1"),
    ("fit best_checkpoint without dev", fit(best_checkpoint="b.h5"), ValueError, "best_checkpoint"),
    # evaluate, predict
    ("evaluate labels", lambda m: m.evaluate(X, Y + 9, verbose=0), ValueError, "labels"),
    ("evaluate batch_size", lambda m: m.evaluate(X, Y, batch_size=0, verbose=0), ValueError, "batch_size"),
    ("predict NaN", lambda m: m.predict(NAN_X), ValueError, "x contains"),
    ("predict shape", lambda m: m.predict(X[:, :2]), ValueError, "x has samples"),
    ("predict empty", lambda m: m.predict(X[:0]), ValueError, "x is empty"),
    # optimizers
    ("SGD negative lr", lambda m: optimizers.SGD(-0.1), ValueError, "learning_rate"),
    ("Adam beta_1", lambda m: optimizers.Adam(beta_1=1.0), ValueError, "beta_1"),
    ("Adam beta_2 NaN", lambda m: optimizers.Adam(beta_2=float("nan")), ValueError, "beta_2"),
    ("SGD nesterov", lambda m: optimizers.SGD(nesterov=True), ValueError, "nesterov"),
    ("RMSprop rho", lambda m: optimizers.RMSprop(rho=1.5), ValueError, "rho"),
    ("Adagrad epsilon", lambda m: optimizers.Adagrad(epsilon=-1), ValueError, "epsilon"),
    ("optimizer gradient shape", lambda m: m.optimizer.apply_gradients([(np.zeros((1, 1)), m.weights[0])]), ValueError, "gradient"),
    ("optimizer set_state", lambda m: m.optimizer.set_state({"bad": 1}), ValueError, "state"),
    # schedules
    ("StepDecay step_size", lambda m: schedules.StepDecay(0.1, factor=0.5, step_size=0), ValueError, "step_size"),
    ("ExponentialDecay args", lambda m: schedules.ExponentialDecay(0.1), ValueError, "alpha"),
    ("PiecewiseConstantDecay", lambda m: schedules.PiecewiseConstantDecay([1, 2], [0.1]), ValueError, "values"),
    ("CosineDecay alpha", lambda m: schedules.CosineDecay(0.1, 10, alpha=2.0), ValueError, "alpha"),
    ("schedule per", lambda m: schedules.StepDecay(0.1, 0.5, 2, per="batch"), ValueError, "per"),
    # callbacks
    ("ReduceLROnPlateau factor", lambda m: callbacks.ReduceLROnPlateau(factor=1.0), ValueError, "factor"),
    ("ReduceLROnPlateau mode", lambda m: callbacks.ReduceLROnPlateau(mode="up"), ValueError, "mode"),
    ("EarlyStopping patience", lambda m: callbacks.EarlyStopping(patience=-1), ValueError, "patience"),
    ("ModelCheckpoint save_freq", lambda m: ModelCheckpoint("x.h5", save_freq=0), ValueError, "save_freq"),
    ("ModelCheckpoint filepath", lambda m: ModelCheckpoint(3), TypeError, "filepath"),
    ("LearningRateScheduler", lambda m: callbacks.LearningRateScheduler(0.1), TypeError, "schedule"),
    ("CSVLogger separator", lambda m: callbacks.CSVLogger("log.csv", separator=";;"), ValueError, "separator"),
    # files
    ("load_model missing", lambda m: gpunet.load_model("no/such/file.h5"), OSError, "no/such/file.h5"),
    ("load_model type", lambda m: gpunet.load_model(42), TypeError, "filepath"),
    ("save to .keras", lambda m: m.save("model.keras"), ValueError, "model.keras"),
    ("save into missing folder", lambda m: m.save("no/such/folder/m.h5"), OSError, "no/such/folder"),
    ("model_from_json", lambda m: gpunet.model_from_json("{"), ValueError, "JSON"),
    # datasets
    ("datasets.load name", lambda m: datasets.load("cifar10"), ValueError, "cifar10"),
    ("split_dev size", lambda m: datasets.split_dev(X, Y, 0), ValueError, "dev_size"),
    ("split_dev lengths", lambda m: datasets.split_dev(X, Y[:3], 2), ValueError, "equal lengths"),
    ("scale floats outside [0, 1]", lambda m: datasets.scale(X), ValueError, "[0, 1]"),
    ("read_idx missing", lambda m: datasets.read_idx("none.idx"), OSError, "none.idx"),
    ("load_data wrong path", lambda m: datasets.fashion_mnist.load_data(path="no/such/folder"), OSError, "no/such/folder"),
    # losses
    ("loss labels", lambda m: losses.SparseCategoricalCrossentropy()(np.array([0, 7]), np.full((2, 3), 1 / 3)), ValueError, "y_true"),
]


@pytest.mark.parametrize("name,call,error,text", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(name, call, error, text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = model()
    before = m.get_weights()
    with pytest.raises(error) as info:
        call(m)
    assert text.lower() in str(info.value).lower(), f"the message does not name {text!r}: {info.value}"
    for got, want in zip(m.get_weights(), before):
        np.testing.assert_array_equal(got, want)


CLI_CASES = [
    (["train", "models/none.json"], "does not exist"),
    (["train", "MODEL", "--epochs", "-2"], "--epochs"),
    (["train", "MODEL", "--learning-rate", "nan"], "--learning-rate"),
    (["train", "MODEL", "--batch-size", "1.5"], "--batch-size"),
    (["evaluate"], "model"),
    (["summary"], "model"),
]


@pytest.mark.parametrize("argv,text", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_cli_bad_arguments(argv, text, tmp_path, capsys):
    spec = json.loads(model().to_json())
    spec["training_config"] = {"loss": "sparse_categorical_crossentropy"}
    (tmp_path / "m.json").write_text(json.dumps(spec))
    argv = [str(tmp_path / "m.json") if a == "MODEL" else a for a in argv]
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2 and text in capsys.readouterr().err


def test_failed_fit_changes_nothing_on_disk_or_in_the_optimizer(tmp_path):
    m = model()
    x_dev, y_dev = X[30:], Y[30:]
    m.fit(X[:30], Y[:30], epochs=2, validation_data=(x_dev, y_dev), verbose=0,
          callbacks=[ModelCheckpoint(str(tmp_path / "best.h5"), monitor="val_accuracy", save_best_only=True)])
    on_disk = (tmp_path / "best.h5").read_bytes()
    weights, state = m.get_weights(), m.optimizer.get_state()
    bad_calls = [
        lambda: m.fit(NAN_X, Y, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "best.h5"))]),
        lambda: m.fit(X, Y + 5, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "best.h5"))]),
        lambda: m.fit(X, Y, batch_size=-3, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "best.h5"))]),
        lambda: m.fit(X, Y, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "best.h5"), monitor="val_auc", save_best_only=True)]),
    ]
    for call in bad_calls:
        with pytest.raises((ValueError, TypeError)):
            call()
        for got, want in zip(m.get_weights(), weights):
            np.testing.assert_array_equal(got, want)
        after = m.optimizer.get_state()
        assert after["iterations"] == state["iterations"]
        for path, slots in state["slots"].items():
            np.testing.assert_array_equal(after["slots"][path]["m"], slots["m"])
        assert (tmp_path / "best.h5").read_bytes() == on_disk
    assert sorted(os.listdir(tmp_path)) == ["best.h5"]
