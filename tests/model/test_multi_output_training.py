"""fit, evaluate and predict on a functional model with two inputs and two named outputs, against
Keras 3 with the same weights, the same batches (no shuffling) and plain SGD: the history's keys
are Keras's, and its values, the weights after training and the predictions agree."""


import numpy as np
import pytest

import gpunet

N = 64


def build(lib, dict_io: bool):
    """image (6,) and meta (3,) -> shared Dense -> "cls" (3-way softmax) and "reg" (1 linear)."""
    image = lib.Input((6,), name="image")
    meta = lib.Input((3,), name="meta")
    shared = lib.layers.Dense(5, activation="tanh", name="shared")
    joined = lib.layers.Concatenate(name="joined")([shared(image), lib.layers.Dense(2, name="meta_dense")(meta)])
    cls = lib.layers.Dense(3, activation="softmax", name="cls")(joined)
    reg = lib.layers.Dense(1, name="reg")(joined)
    if dict_io:
        return lib.Model({"image": image, "meta": meta}, {"cls": cls, "reg": reg})
    return lib.Model([image, meta], [cls, reg])


def data():
    rng = np.random.default_rng(0)
    image = rng.standard_normal((N, 6)).astype(np.float32)
    meta = rng.standard_normal((N, 3)).astype(np.float32)
    labels = (image[:, 0] > 0).astype(np.int64) + (meta[:, 0] > 0.5)
    value = (image[:, :2].sum(axis=1, keepdims=True) - meta[:, 1:2]).astype(np.float32)
    weights = np.linspace(0.2, 1.8, N).astype(np.float32)
    return image, meta, labels, value, weights


def compile_both(model, lib, dict_io):
    loss = {"cls": "sparse_categorical_crossentropy", "reg": "mse"} if dict_io else ["sparse_categorical_crossentropy", "mse"]
    loss_weights = {"cls": 1.0, "reg": 0.5} if dict_io else [1.0, 0.5]
    metrics = {"cls": ["accuracy"], "reg": ["mae"]} if dict_io else [["accuracy"], ["mae"]]
    weighted = {"reg": ["mse"]} if dict_io else [None, ["mse"]]
    model.compile(optimizer=lib.optimizers.SGD(0.05), loss=loss, loss_weights=loss_weights, metrics=metrics,
                  weighted_metrics=weighted)


@pytest.mark.parametrize("dict_io", [True, False], ids=["dicts", "lists"])
def test_two_inputs_two_outputs_train_as_in_keras(keras, dict_io):
    image, meta, labels, value, weights = data()
    theirs = build(keras, dict_io)
    ours = build(gpunet, dict_io)
    assert ours.output_names == theirs.output_names == ["cls", "reg"]
    ours.set_weights(theirs.get_weights())
    compile_both(theirs, keras, dict_io)
    compile_both(ours, gpunet, dict_io)
    if dict_io:
        x, y, w = {"image": image, "meta": meta}, {"cls": labels, "reg": value}, {"cls": weights, "reg": weights}
    else:
        x, y, w = [image, meta], [labels, value], [weights, weights]
    split = 48
    cut = lambda nest, a, b: ({k: v[a:b] for k, v in nest.items()} if isinstance(nest, dict)  # noqa: E731
                              else [v[a:b] for v in nest])
    kwargs = dict(batch_size=16, epochs=2, shuffle=False, verbose=0)
    mine = ours.fit(cut(x, 0, split), cut(y, 0, split), sample_weight=cut(w, 0, split),
                    validation_data=(cut(x, split, N), cut(y, split, N)), restore_best=False, **kwargs).history
    keras_history = theirs.fit(cut(x, 0, split), cut(y, 0, split), sample_weight=cut(w, 0, split),
                               validation_data=(cut(x, split, N), cut(y, split, N)), **kwargs).history
    keras_keys = set(keras_history)
    assert keras_keys <= set(mine), f"missing Keras keys: {keras_keys - set(mine)}"
    for key in sorted(keras_keys):
        np.testing.assert_allclose(mine[key], keras_history[key], rtol=2e-4, atol=1e-5, err_msg=key)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    predictions, expected = ours.predict(x, verbose=0), theirs.predict(x, verbose=0)
    gpunet.tree.assert_same_structure(predictions, expected if dict_io else list(expected), check_types=False)
    for got, want in zip(gpunet.tree.flatten(predictions), gpunet.tree.flatten(expected)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)
    mine_eval = ours.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    keras_eval = theirs.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    for key, value_ in keras_eval.items():
        assert mine_eval[key] == pytest.approx(value_, rel=2e-4, abs=1e-5), key


def test_per_output_arguments_are_checked_against_the_outputs():
    model = build(gpunet, dict_io=True)
    with pytest.raises(ValueError, match=r"names output\(s\) \['klass'\]"):
        model.compile(optimizer="sgd", loss={"klass": "mse"})
    with pytest.raises(ValueError, match="a list of 3 entries, but the model has 2 output"):
        model.compile(optimizer="sgd", loss=["mse", "mse", "mse"])
    with pytest.raises(ValueError, match="one entry per output"):
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.compile(optimizer="sgd", loss={"cls": "sparse_categorical_crossentropy"})  # "reg" is not trained
    image, meta, labels, _, _ = data()
    history = model.fit({"image": image, "meta": meta}, {"cls": labels}, epochs=1, verbose=0)
    assert sorted(history.history) == ["cls_loss", "epoch_time", "learning_rate", "loss"]
    with pytest.raises(ValueError, match="class_weight applies to models with one output"):
        model.fit({"image": image, "meta": meta}, {"cls": labels}, class_weight={0: 1.0, 1: 1.0, 2: 1.0}, verbose=0)
