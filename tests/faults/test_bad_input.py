"""Bad input at every public entry point: a clear exception naming the argument, nothing changed.

Each case calls one public function with one bad argument and expects a ValueError, TypeError,
RuntimeError or OSError (subclasses included) whose message contains the name of what was wrong.
Each case also says what the refused call could have changed (the model's weights or layers, the
optimizer's state, what compile set, files in the working folder, the caller's arrays), and the test
checks exactly those; a constructor given nothing shared has nothing to check but its exception.
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
SHARED_ARRAYS = {"X": X, "Y": Y, "NAN_X": NAN_X, "INF_X": INF_X}  # what the cases pass (or slice) to gpunet

# What a refused call could change, each checked unchanged after it:
WEIGHTS = "weights"  # the model's weight values and shapes (get_weights)
LAYERS = "layers"  # the model's layers (the same objects, in the same order)
OPTIMIZER = "optimizer"  # the optimizer's state: iterations, epoch, learning rate and every slot
COMPILED = "compiled"  # what compile sets: the compiled flag and the optimizer, loss and metric objects
FILES = "files"  # the working folder (an empty tmp_path) stays empty
ARRAYS = "arrays"  # the caller's arrays in SHARED_ARRAYS keep their values
# Not a check: the case's call gets a model that was never compiled.
UNCOMPILED = "uncompiled"
# A constructor or function given no model, path or shared array: only its exception is checked.
NOTHING = ()
TRAINING = (WEIGHTS, OPTIMIZER, COMPILED, ARRAYS)  # what fit could change


def model(compiled=True):
    m = gpunet.Sequential([Input((6,)), Dense(8, activation="relu"), Dropout(0.1), Dense(3, activation="softmax")])
    if compiled:
        m.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def fit(**kwargs):
    args = {"x": X, "y": Y, "epochs": 1, "verbose": 0, **kwargs}
    return lambda m: m.fit(**args)


# (id, call(model), exception, text the message must contain, what the call could change)
CASES = [
    # Sequential and layers
    ("Sequential layers type", lambda m: gpunet.Sequential("dense"), TypeError, "layers", NOTHING),
    ("Sequential name", lambda m: gpunet.Sequential(name=""), ValueError, "name", NOTHING),
    ("Sequential.add non-layer", lambda m: m.add(3), TypeError, "layer", (LAYERS, WEIGHTS)),
    ("Dense units zero", lambda m: Dense(0), ValueError, "units", NOTHING),
    ("Dense units float", lambda m: Dense(3.5), ValueError, "units", NOTHING),
    ("Dense activation name", lambda m: Dense(3, activation="gelux"), ValueError, "activation", NOTHING),
    ("Dense initializer", lambda m: Dense(3, kernel_initializer="orthogonalish"), ValueError, "initializer", NOTHING),
    ("Dropout rate 1", lambda m: Dropout(1.0), ValueError, "rate", NOTHING),
    ("Dropout rate NaN", lambda m: Dropout(float("nan")), ValueError, "rate", NOTHING),
    ("Input shape", lambda m: Input((-1,)), ValueError, "shape", NOTHING),
    ("Activation name", lambda m: layers.Activation("swishy"), ValueError, "activation", NOTHING),
    ("Constant initializer", lambda m: initializers.Constant(float("inf")), ValueError, "value", NOTHING),
    ("set_weights count", lambda m: m.set_weights([]), ValueError, "set_weights", (WEIGHTS,)),
    ("set_weights shape", lambda m: m.set_weights([np.zeros((2, 2))] * 4), ValueError, "shape", (WEIGHTS,)),
    ("model called on wrong features", lambda m: m(np.zeros((2, 5), np.float32)), ValueError, "features", (WEIGHTS,)),
    # compile
    ("compile optimizer name", lambda m: m.compile(optimizer="adamax2", loss="mse"), ValueError, "optimizer", (COMPILED,)),
    ("compile loss name", lambda m: m.compile(optimizer="sgd", loss="hinge_loss"), ValueError, "loss", (COMPILED,)),
    ("compile metric name", lambda m: m.compile(optimizer="sgd", loss="mse", metrics=["f1"]), ValueError, "metric", (COMPILED,)),
    ("compile metrics type", lambda m: m.compile(optimizer="sgd", loss="mse", metrics=5), TypeError, "metrics", (COMPILED,)),
    ("compile optimizer type", lambda m: m.compile(optimizer=object(), loss="mse"), TypeError, "optimizer", (COMPILED,)),
    # fit
    ("fit before compile", lambda m: m.fit(X, Y), RuntimeError, "compile", (UNCOMPILED, WEIGHTS, COMPILED, ARRAYS)),
    ("fit x/y length", fit(y=Y[:30]), ValueError, "same number of samples", TRAINING),
    ("fit empty", fit(x=X[:0], y=Y[:0]), ValueError, "x is empty", TRAINING),
    ("fit string x", fit(x=np.array([["a"] * 6] * 40)), TypeError, "x must hold numbers", TRAINING),
    ("fit NaN x", fit(x=NAN_X), ValueError, "x contains 1 NaN", TRAINING),
    ("fit inf x", fit(x=INF_X), ValueError, "x contains 1 NaN or infinite", TRAINING),
    ("fit labels too large", fit(y=Y + 3), ValueError, "labels", TRAINING),
    ("fit negative labels", fit(y=Y - 1), ValueError, "labels", TRAINING),
    ("fit feature count", fit(x=X[:, :4]), ValueError, "x has samples of shape (4,)", TRAINING),
    ("fit batch_size", fit(batch_size=0), ValueError, "batch_size", TRAINING),
    ("fit epochs", fit(epochs=-1), ValueError, "epochs", TRAINING),
    ("fit validation_split", fit(validation_split=-0.1), ValueError, "validation_split", TRAINING),
    ("fit validation_data", fit(validation_data=[X]), ValueError, "validation_data", TRAINING),
    ("fit validation NaN", fit(validation_data=(NAN_X, Y)), ValueError, "validation_data x", TRAINING),
    ("fit validations_per_epoch", fit(validations_per_epoch=0), ValueError, "validations_per_epoch", TRAINING),
    ("fit callbacks", fit(callbacks=["csv"]), TypeError, "callbacks", TRAINING),
    ("fit monitor never logged", fit(callbacks=[callbacks.EarlyStopping(monitor="val_f1")]), ValueError, "val_f1", TRAINING),
    ("fit best_checkpoint without dev", fit(best_checkpoint="b.h5"), ValueError, "best_checkpoint", (*TRAINING, FILES)),
    # evaluate, predict
    ("evaluate labels", lambda m: m.evaluate(X, Y + 9, verbose=0), ValueError, "labels", (WEIGHTS, OPTIMIZER, ARRAYS)),
    ("evaluate batch_size", lambda m: m.evaluate(X, Y, batch_size=0, verbose=0), ValueError, "batch_size", (WEIGHTS, OPTIMIZER, ARRAYS)),
    ("predict NaN", lambda m: m.predict(NAN_X), ValueError, "x contains", (WEIGHTS, ARRAYS)),
    ("predict shape", lambda m: m.predict(X[:, :2]), ValueError, "x has samples", (WEIGHTS, ARRAYS)),
    ("predict empty", lambda m: m.predict(X[:0]), ValueError, "x is empty", (WEIGHTS, ARRAYS)),
    # optimizers
    ("SGD negative lr", lambda m: optimizers.SGD(-0.1), ValueError, "learning_rate", NOTHING),
    ("Adam beta_1", lambda m: optimizers.Adam(beta_1=1.0), ValueError, "beta_1", NOTHING),
    ("Adam beta_2 NaN", lambda m: optimizers.Adam(beta_2=float("nan")), ValueError, "beta_2", NOTHING),
    ("SGD nesterov", lambda m: optimizers.SGD(nesterov=True), ValueError, "nesterov", NOTHING),
    ("RMSprop rho", lambda m: optimizers.RMSprop(rho=1.5), ValueError, "rho", NOTHING),
    ("Adagrad epsilon", lambda m: optimizers.Adagrad(epsilon=-1), ValueError, "epsilon", NOTHING),
    ("optimizer gradient shape", lambda m: m.optimizer.apply_gradients([(np.zeros((1, 1)), m.weights[0])]), ValueError, "gradient", (WEIGHTS, OPTIMIZER)),
    ("optimizer set_state", lambda m: m.optimizer.set_state({"bad": 1}), ValueError, "state", (OPTIMIZER,)),
    # schedules
    ("StepDecay step_size", lambda m: schedules.StepDecay(0.1, factor=0.5, step_size=0), ValueError, "step_size", NOTHING),
    ("ExponentialDecay args", lambda m: schedules.ExponentialDecay(0.1), ValueError, "alpha", NOTHING),
    ("PiecewiseConstantDecay", lambda m: schedules.PiecewiseConstantDecay([1, 2], [0.1]), ValueError, "values", NOTHING),
    ("CosineDecay alpha", lambda m: schedules.CosineDecay(0.1, 10, alpha=2.0), ValueError, "alpha", NOTHING),
    ("schedule per", lambda m: schedules.StepDecay(0.1, 0.5, 2, per="batch"), ValueError, "per", NOTHING),
    # callbacks
    ("ReduceLROnPlateau factor", lambda m: callbacks.ReduceLROnPlateau(factor=1.0), ValueError, "factor", NOTHING),
    ("ReduceLROnPlateau mode", lambda m: callbacks.ReduceLROnPlateau(mode="up"), ValueError, "mode", NOTHING),
    ("EarlyStopping patience", lambda m: callbacks.EarlyStopping(patience=-1), ValueError, "patience", NOTHING),
    ("ModelCheckpoint save_freq", lambda m: ModelCheckpoint("x.h5", save_freq=0), ValueError, "save_freq", (FILES,)),
    ("ModelCheckpoint filepath", lambda m: ModelCheckpoint(3), TypeError, "filepath", NOTHING),
    ("LearningRateScheduler", lambda m: callbacks.LearningRateScheduler(0.1), TypeError, "schedule", NOTHING),
    ("CSVLogger separator", lambda m: callbacks.CSVLogger("log.csv", separator=";;"), ValueError, "separator", (FILES,)),
    # files
    ("load_model missing", lambda m: gpunet.load_model("no/such/file.h5"), OSError, "no/such/file.h5", (FILES,)),
    ("load_model type", lambda m: gpunet.load_model(42), TypeError, "filepath", NOTHING),
    ("save_weights to .keras", lambda m: m.save_weights("model.keras"), ValueError, "model.keras", (FILES,)),
    ("save into missing folder", lambda m: m.save("no/such/folder/m.h5"), OSError, "no/such/folder", (FILES,)),
    ("model_from_json", lambda m: gpunet.model_from_json("{"), ValueError, "JSON", NOTHING),
    # datasets
    ("datasets.load name", lambda m: datasets.load("cifar10"), ValueError, "cifar10", NOTHING),
    ("split_dev size", lambda m: datasets.split_dev(X, Y, 0), ValueError, "dev_size", (ARRAYS,)),
    ("split_dev lengths", lambda m: datasets.split_dev(X, Y[:3], 2), ValueError, "equal lengths", (ARRAYS,)),
    ("scale floats outside [0, 1]", lambda m: datasets.scale(X), ValueError, "[0, 1]", (ARRAYS,)),
    ("read_idx missing", lambda m: datasets.read_idx("none.idx"), OSError, "none.idx", (FILES,)),
    ("load_data wrong path", lambda m: datasets.fashion_mnist.load_data(path="no/such/folder"), OSError, "no/such/folder", (FILES,)),
    # losses
    ("loss labels", lambda m: losses.SparseCategoricalCrossentropy()(np.array([0, 7]), np.full((2, 3), 1 / 3)), ValueError, "y_true", NOTHING),
]


def _same_weights(m, before):
    after = m.get_weights()
    assert len(after) == len(before), "the number of weights changed"
    for got, want in zip(after, before):
        np.testing.assert_array_equal(got, want, strict=True)


def _same_layers(m, before):
    assert [id(layer) for layer in m.layers] == [id(layer) for layer in before], "the model's layers changed"


def _optimizer_state(m):
    state = m.optimizer.get_state()
    assert state["iterations"] > 0 and state["slots"], "the optimizer should have state to lose"
    return state


def _same_optimizer_state(m, before):
    after = m.optimizer.get_state()
    assert {k: v for k, v in after.items() if k != "slots"} == {k: v for k, v in before.items() if k != "slots"}
    assert sorted(after["slots"]) == sorted(before["slots"]), "the optimizer's slots changed"
    for path, slots in before["slots"].items():
        assert sorted(after["slots"][path]) == sorted(slots), f"the optimizer's slots for {path} changed"
        for key, value in slots.items():
            np.testing.assert_array_equal(after["slots"][path][key], value, err_msg=f"{path}/{key}", strict=True)


def _compiled_state(m):
    return {"compiled": m.compiled, "optimizer": m.optimizer, "loss": m.loss, "metrics": list(m.metrics)}


def _same_compiled_state(m, before):
    after = _compiled_state(m)
    assert after["compiled"] == before["compiled"], "the compiled flag changed"
    for key in ("optimizer", "loss"):
        assert after[key] is before[key], f"model.{key} changed: {before[key]!r} -> {after[key]!r}"
    assert [id(x) for x in after["metrics"]] == [id(x) for x in before["metrics"]], "model.metrics changed"


def _same_files(m, before):
    assert sorted(os.listdir(".")) == before, "the refused call left files behind"


def _same_arrays(m, before):
    for key, value in before.items():
        np.testing.assert_array_equal(SHARED_ARRAYS[key], value, err_msg=f"{key} was modified", strict=True)


CHECKS = {  # what the call could change: (snapshot before the call, assertion after it)
    WEIGHTS: (lambda m: m.get_weights(), _same_weights),
    LAYERS: (lambda m: m.layers, _same_layers),
    OPTIMIZER: (_optimizer_state, _same_optimizer_state),
    COMPILED: (_compiled_state, _same_compiled_state),
    FILES: (lambda m: sorted(os.listdir(".")), _same_files),
    ARRAYS: (lambda m: {k: v.copy() for k, v in SHARED_ARRAYS.items()}, _same_arrays),
}
assert all(set(c[4]) <= {*CHECKS, UNCOMPILED} for c in CASES)


@pytest.mark.parametrize("name,call,error,text,changes",
                         [pytest.param(*c, id=c[0]) for c in CASES])
def test_bad_input_is_refused_clearly(name, call, error, text, changes, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = model(compiled=UNCOMPILED not in changes)
    if OPTIMIZER in changes:
        m.fit(X, Y, epochs=1, batch_size=16, verbose=0)  # three steps: the optimizer has counters and slots to lose
    before = {check: CHECKS[check][0](m) for check in changes if check in CHECKS}
    if FILES in changes:
        assert before[FILES] == []
    with pytest.raises(error) as info:
        call(m)
    assert text.lower() in str(info.value).lower(), f"the message does not name {text!r}: {info.value}"
    for check, snapshot in before.items():
        CHECKS[check][1](m, snapshot)


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
