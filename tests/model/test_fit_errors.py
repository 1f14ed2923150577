"""Bad input to fit / evaluate / predict: a clear error naming the argument, and no weight changed."""

import numpy as np
import pytest

from gpunet import Sequential, optimizers
from gpunet.layers import Dense, Input

X = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
Y = np.random.default_rng(1).integers(0, 3, 20)


def model():
    m = Sequential([Input((4,)), Dense(5, activation="relu"), Dense(3, activation="softmax")])
    m.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def with_nan():
    x = X.copy()
    x[3, 2] = np.nan
    return x


def with_inf():
    x = X.copy()
    x[0, 0] = np.inf
    return x


FIT_CASES = [
    ("length mismatch", dict(x=X, y=Y[:19]), ValueError, "x and y must have the same number of samples, got 20 and 19"),
    ("empty", dict(x=X[:0], y=Y[:0]), ValueError, "x is empty"),
    ("non-numeric x", dict(x=np.array([["a"] * 4] * 20), y=Y), TypeError, "x must hold numbers"),
    ("object x", dict(x=[[1, 2], [3]], y=Y), TypeError, "x must be a numeric array"),
    ("nan in x", dict(x=with_nan(), y=Y), ValueError, "x contains 1 NaN or infinite"),
    ("inf in x", dict(x=with_inf(), y=Y), ValueError, "x contains 1 NaN or infinite"),
    ("1-d x", dict(x=X[:, 0], y=Y), ValueError, r"x must have shape \(samples, features...\)"),
    ("label too large", dict(x=X, y=np.where(Y == 0, 3, Y)), ValueError, r"labels from 1 to 3, but the model has 3 outputs: labels must lie in \[0, 3\)"),
    ("negative label", dict(x=X, y=np.where(Y == 0, -1, Y)), ValueError, r"labels from -1 to 2"),
    ("fractional label", dict(x=X, y=Y + 0.5), ValueError, "y must hold integer class labels"),
    ("one-hot for sparse loss", dict(x=X, y=np.eye(3)[Y]), ValueError, "categorical_crossentropy"),
    ("feature count", dict(x=X[:, :3], y=Y), ValueError, r"x has samples of shape \(3,\), but the model expects inputs of shape \(4,\)"),
    ("batch_size 0", dict(x=X, y=Y, batch_size=0), ValueError, "batch_size must be a positive integer, got 0"),
    ("batch_size float", dict(x=X, y=Y, batch_size=2.5), ValueError, "batch_size must be a positive integer"),
    ("epochs < 0", dict(x=X, y=Y, epochs=-1), ValueError, "epochs must be an integer >= 0, got -1"),
    ("initial_epoch", dict(x=X, y=Y, initial_epoch=-2), ValueError, "initial_epoch must be an integer >= 0"),
    ("validations_per_epoch", dict(x=X, y=Y, validations_per_epoch=0), ValueError, "validations_per_epoch must be an integer >= 1"),
    ("validation_freq", dict(x=X, y=Y, validation_freq=0), ValueError, "validation_freq must be an integer >= 1"),
    ("validation_split", dict(x=X, y=Y, validation_split=1.0), ValueError, r"validation_split must be a number in \[0, 1\)"),
    ("validation_split too small", dict(x=X[:2], y=Y[:2], validation_split=0.1), ValueError, "leaves no samples"),
    ("validation_data not tuple", dict(x=X, y=Y, validation_data=X), TypeError, r"validation_data must be a tuple \(x_dev, y_dev\)"),
    ("validation_data of 4 parts", dict(x=X, y=Y, validation_data=(X, Y, Y, Y)), ValueError, "validation_data must be a tuple"),
    ("validation weights", dict(x=X, y=Y, validation_data=(X, Y, Y[:3])), ValueError, "one weight per sample"),
    ("validation_data mismatch", dict(x=X, y=Y, validation_data=(X, Y[:5])), ValueError, "validation_data x and validation_data y must have the same number"),
    ("validation_data features", dict(x=X, y=Y, validation_data=(X[:, :2], Y)), ValueError, "validation_data x has samples of shape"),
    ("validation_data labels", dict(x=X, y=Y, validation_data=(X, Y + 5)), ValueError, "validation_data y holds class labels"),
    ("validation_data nan", dict(x=X, y=Y, validation_data=(with_nan(), Y)), ValueError, "validation_data x contains"),
    ("verbose", dict(x=X, y=Y, verbose=3), ValueError, "verbose must be 0, 1, 2 or 'auto'"),
    ("shuffle", dict(x=X, y=Y, shuffle="batch"), ValueError, "shuffle must be True or False"),
    ("callbacks", dict(x=X, y=Y, callbacks=[print]), TypeError, "callbacks must be gpunet.callbacks.Callback"),
    ("callbacks not list", dict(x=X, y=Y, callbacks=print), TypeError, "callbacks must be a list"),
    ("missing y", dict(x=X, y=None), ValueError, "y is required"),
]


@pytest.mark.parametrize("name,kwargs,error,match", FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_fit_rejects_bad_input_and_changes_no_weight(name, kwargs, error, match):
    m = model()
    before = m.get_weights()
    with pytest.raises(error, match=match):
        m.fit(verbose=0, **{"epochs": 1, **kwargs}) if "verbose" not in kwargs else m.fit(**{"epochs": 1, **kwargs})
    for got, want in zip(m.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    assert m.optimizer.iterations == 0 and m.optimizer.get_state()["slots"] == {}


def test_fit_and_evaluate_before_compile():
    m = Sequential([Input((4,)), Dense(3)])
    with pytest.raises(RuntimeError, match=r"must be compiled before fit\(\)"):
        m.fit(X, Y)
    with pytest.raises(RuntimeError, match=r"must be compiled before evaluate\(\)"):
        m.evaluate(X, Y)


def test_evaluate_and_predict_check_input():
    m = model()
    with pytest.raises(ValueError, match="x and y must have the same number of samples"):
        m.evaluate(X, Y[:3], verbose=0)
    with pytest.raises(ValueError, match="labels must lie in"):
        m.evaluate(X, Y + 3, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        m.evaluate(X, Y, batch_size=-1, verbose=0)
    with pytest.raises(ValueError, match="model expects inputs of shape"):
        m.predict(X[:, :2])
    with pytest.raises(ValueError, match="contains 1 NaN"):
        m.predict(with_nan())


def test_targets_for_other_losses():
    m = Sequential([Input((4,)), Dense(3, activation="softmax")])
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"y has targets of shape \(2,\), but the model's outputs have shape \(3,\)"):
        m.fit(X, np.zeros((20, 2)), verbose=0)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        m.fit(X, np.full((20, 3), 2.0), verbose=0)
    r = Sequential([Input((4,)), Dense(1)])
    r.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="y contains NaN"):
        r.fit(X, np.full(20, np.nan), verbose=0)
    r.fit(X, np.zeros(20), verbose=0)  # (N,) targets for a (N, 1) output are accepted
