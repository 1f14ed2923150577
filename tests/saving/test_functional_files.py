"""Functional models in files, both ways with Keras 3: two inputs, a layer shared by both, a
Sequential model nested inside, two named outputs. Written by one library, read by the other,
they predict the same; fit on dicts logs Keras's keys."""


import numpy as np
import pytest

import gpunet

N = 32


def build(lib):
    left = lib.Input((5,), name="left")
    right = lib.Input((5,), name="right")
    shared = lib.layers.Dense(4, activation="relu", name="shared")
    tower = lib.Sequential([lib.layers.Dense(6, activation="tanh", name="tower_hidden"),
                            lib.layers.Dense(3, name="tower_out")], name="tower")
    joined = lib.layers.Concatenate(name="joined")([shared(left), shared(right)])
    features = tower(joined)
    score = lib.layers.Dense(2, activation="softmax", name="score")(features)
    value = lib.layers.Dense(1, name="value")(lib.layers.Add(name="mix")([features, lib.layers.Dense(3, name="skip")(joined)]))
    return lib.Model({"left": left, "right": right}, {"score": score, "value": value}, name="two_towers")


def data():
    rng = np.random.default_rng(1)
    x = {"left": rng.standard_normal((N, 5)).astype(np.float32), "right": rng.standard_normal((N, 5)).astype(np.float32)}
    y = {"score": (x["left"][:, 0] > x["right"][:, 0]).astype(np.int64),
         "value": (x["left"].sum(axis=1, keepdims=True) * 0.3).astype(np.float32)}
    return x, y


def compile_model(model, lib):
    model.compile(optimizer=lib.optimizers.Adam(1e-2), loss={"score": "sparse_categorical_crossentropy", "value": "mse"},
                  metrics={"score": ["accuracy"], "value": ["mae"]})


def assert_same_predictions(a, b, x):
    pa, pb = a.predict(x, verbose=0), b.predict(x, verbose=0)
    assert sorted(pa) == sorted(pb) == ["score", "value"]
    for key in pa:
        np.testing.assert_allclose(np.asarray(pa[key]), np.asarray(pb[key]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_gpunet_functional_model_opens_in_keras(keras, tmp_path, suffix):
    x, y = data()
    ours = build(gpunet)
    compile_model(ours, gpunet)
    history = ours.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert {"loss", "score_loss", "value_loss", "score_accuracy", "value_mae"} <= set(history.history)
    path = str(tmp_path / f"model{suffix}")
    ours.save(path)
    theirs = keras.models.load_model(path)
    assert [layer.name for layer in theirs.layers] == [layer.name for layer in ours.layers]
    assert_same_predictions(ours, theirs, x)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_keras_functional_model_opens_in_gpunet(keras, tmp_path, suffix):
    x, y = data()
    theirs = build(keras)
    compile_model(theirs, keras)
    theirs.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = str(tmp_path / f"model{suffix}")
    theirs.save(path)
    ours = gpunet.models.load_model(path)
    assert isinstance(ours, gpunet.Model) and ours.output_names == ["score", "value"]
    assert_same_predictions(ours, theirs, x)
    ours.fit(x, y, epochs=1, batch_size=8, verbose=0)  # compiled from the file, trains on


def test_weights_files_go_both_ways(keras, tmp_path):
    x, _ = data()
    ours, theirs = build(gpunet), build(keras)
    theirs.save_weights(str(tmp_path / "k.weights.h5"))
    ours.load_weights(str(tmp_path / "k.weights.h5"))
    assert_same_predictions(ours, theirs, x)
    ours2 = build(gpunet)
    ours2.save_weights(str(tmp_path / "g.weights.h5"))
    theirs.load_weights(str(tmp_path / "g.weights.h5"))
    assert_same_predictions(ours2, theirs, x)
