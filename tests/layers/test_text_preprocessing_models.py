"""The text preprocessing layers inside models: string inputs through predict, fit and evaluate of
functional and Sequential models (on each backend: strings stay on the host, the layers' outputs
go to the device), and their vocabularies and idf weights in ``.keras`` files, laid out as Keras 3
lays out a layer's assets and own variables (checked against Keras itself with a layer that uses
the same two hooks, since Keras's own lookups need TensorFlow)."""

import io
import os
import zipfile

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import backend
from gpunet.layers import Dense, IntegerLookup, StringLookup, TextVectorization

TEXTS = np.array(["good movie", "bad movie", "great film!", "awful film", "Good, good.", "bad bad acting"])
LABELS = np.array([1, 0, 1, 0, 1, 0])


def host(t):
    return backend.to_host(t.data) if hasattr(t, "data") else np.asarray(t)


def _classifier(output_mode="multi_hot"):
    vectorize = TextVectorization(output_mode=output_mode)
    vectorize.adapt(TEXTS)
    inputs = gpunet.Input(shape=(1,), dtype="string")
    outputs = Dense(1, activation="sigmoid")(vectorize(inputs))
    return gpunet.Model(inputs, outputs), vectorize


def _reference(model, vectorize, texts):
    """The model's output from the layer's own encoding and the Dense weights, in float64."""
    features = host(vectorize(texts)).astype(np.float64)
    kernel, bias = [w.astype(np.float64) for w in model.layers[-1].get_weights()]
    return 1 / (1 + np.exp(-(features @ kernel + bias)))


@pytest.mark.parametrize("output_mode", ["multi_hot", "tf_idf"])
def test_functional_text_classifier_predict_fit_evaluate(xp, output_mode):
    model, vectorize = _classifier(output_mode)
    assert model.inputs[0].dtype == "string" and model.outputs[0].shape == (None, 1)
    predicted = model.predict(TEXTS[:, None], batch_size=4, verbose=0)
    np.testing.assert_allclose(host(predicted), _reference(model, vectorize, TEXTS), rtol=1e-5)
    model.compile(optimizer=gpunet.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(TEXTS[:, None], LABELS, epochs=20, batch_size=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] * 0.7
    loss, accuracy = model.evaluate(TEXTS[:, None], LABELS, verbose=0)
    p = _reference(model, vectorize, TEXTS)[:, 0]
    expected = -np.mean(LABELS * np.log(p) + (1 - LABELS) * np.log(1 - p))
    assert loss == pytest.approx(expected, rel=1e-4)
    assert accuracy == pytest.approx(np.mean((p > 0.5) == LABELS))


def test_string_batches_from_a_generator_and_as_dev_data(xp):
    model, vectorize = _classifier()
    model.compile(optimizer=gpunet.optimizers.SGD(0.5), loss="binary_crossentropy")

    def batches():
        while True:
            for start in range(0, 6, 2):
                yield TEXTS[start:start + 2, None], LABELS[start:start + 2]

    history = model.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0, validation_data=(TEXTS[:, None], LABELS),
                        restore_best=False)
    p = _reference(model, vectorize, TEXTS)[:, 0]
    dev_loss = -np.mean(LABELS * np.log(p) + (1 - LABELS) * np.log(1 - p))
    assert history.history["val_loss"][-1] == pytest.approx(dev_loss, rel=1e-4)
    np.testing.assert_allclose(host(model.predict(batches(), steps=3, verbose=0))[:, 0], p, rtol=1e-5)


def test_sequential_takes_a_one_dimensional_batch_of_strings(xp):
    vectorize = TextVectorization(output_mode="count", vocabulary=["good", "bad", "movie"])
    model = gpunet.Sequential([gpunet.Input(shape=(1,), dtype="string"), vectorize, Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(TEXTS, LABELS, epochs=1, batch_size=2, verbose=0)  # shuffled batches of a host string array
    out = host(model.predict(list(TEXTS), verbose=0))  # a plain list of strings too
    features = host(vectorize(TEXTS)).astype(np.float64)
    kernel, bias = model.layers[-1].get_weights()
    logits = features @ kernel + bias
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5)


class OneHot(gpunet.layers.Layer):
    """A one-hot layer of the test's own, standing in for Embedding: it takes the int64 indices."""

    def __init__(self, depth, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth

    def call(self, x):
        assert str(x.dtype) == "int64"
        return gpunet.ops.one_hot(x, self.depth)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)


def test_integer_indices_feed_the_next_layer(xp):
    vectorize = TextVectorization(output_sequence_length=3, vocabulary=["good", "bad", "movie", "film"])
    inputs = gpunet.Input(shape=(1,), dtype="string")
    indices = vectorize(inputs)
    assert indices.dtype == "int64" and indices.shape == (None, 3)
    outputs = Dense(1)(gpunet.layers.Flatten()(OneHot(6)(indices)))
    model = gpunet.Model(inputs, outputs)
    out = host(model.predict(TEXTS[:2, None], verbose=0))
    one_hot = np.eye(6)[[[2, 4, 0], [3, 4, 0]]].reshape(2, -1)
    kernel, bias = model.layers[-1].get_weights()
    np.testing.assert_allclose(out, one_hot @ kernel + bias, rtol=1e-5)


def test_integer_lookup_in_models(xp):
    inputs = gpunet.Input(shape=(3,), dtype="int32")
    lookup = IntegerLookup(vocabulary=[10, 20, 30], output_mode="multi_hot")
    model = gpunet.Model(inputs, Dense(1)(lookup(inputs)))
    ids = np.array([[10, 30, 99], [20, 20, 20]])
    kernel, bias = model.layers[-1].get_weights()
    expected = np.array([[1, 1, 0, 1], [0, 0, 1, 0]]) @ kernel + bias
    np.testing.assert_allclose(host(model.predict(ids, verbose=0)), expected, rtol=1e-5)
    plain = gpunet.Sequential([IntegerLookup(vocabulary=[10, 20, 30], output_mode="count"), Dense(1)])
    out = host(plain.predict(ids, verbose=0))  # a Sequential without Input gets the ids as floats
    kernel, bias = plain.layers[-1].get_weights()
    np.testing.assert_allclose(out, np.array([[1, 1, 0, 1], [0, 0, 3, 0]]) @ kernel + bias, rtol=1e-5)


def test_strings_where_numbers_belong_are_refused():
    model = gpunet.Sequential([gpunet.Input((1,)), Dense(1)])
    with pytest.raises(TypeError, match="x must hold numbers, got strings.*dtype='string'"):
        model.predict(TEXTS[:, None], verbose=0)
    text_model, _ = _classifier()
    with pytest.raises(TypeError, match="takes string values"):
        text_model(np.zeros((2, 1), dtype="float32"))


# -- files --------------------------------------------------------------------------------------------
def test_keras_file_keeps_the_vocabulary_and_idf_weights(tmp_path):
    model, vectorize = _classifier("tf_idf")
    path = str(tmp_path / "text.keras")
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        vocabulary = archive.read("assets/layers/text_vectorization/vocabulary.txt").decode()
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as f:
            idf = f["layers/text_vectorization/vars/idf_weights"][()]
    assert "assets/layers/text_vectorization/_lookup_layer/vocabulary.txt" in names  # Keras walks the inner lookup too
    assert vocabulary.split("\n") == vectorize.get_vocabulary()
    np.testing.assert_allclose(idf, vectorize._lookup_layer.idf_weights)
    loaded = gpunet.load_model(path)
    again = loaded.layers[1]
    assert isinstance(again, TextVectorization) and again.get_vocabulary() == vectorize.get_vocabulary()
    np.testing.assert_allclose(again._lookup_layer.idf_weights, vectorize._lookup_layer.idf_weights)
    np.testing.assert_allclose(host(loaded.predict(TEXTS[:, None], verbose=0)),
                               host(model.predict(TEXTS[:, None], verbose=0)), rtol=1e-6)


def test_vocabulary_from_a_file_travels_in_the_archive(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("good\nbad\n", encoding="utf-8")
    inputs = gpunet.Input(shape=(2,), dtype="string")
    model = gpunet.Model(inputs, Dense(1)(StringLookup(vocabulary=str(words), output_mode="count")(inputs)))
    path = str(tmp_path / "lookup.keras")
    model.save(path)
    os.remove(words)
    loaded = gpunet.load_model(path)
    assert loaded.layers[1].get_vocabulary() == ["[UNK]", "good", "bad"]
    x = np.array([["bad", "bad"], ["good", "meh"]])
    np.testing.assert_allclose(host(loaded.predict(x, verbose=0)), host(model.predict(x, verbose=0)), rtol=1e-6)


def test_a_vocabulary_given_as_a_list_stays_in_the_config(tmp_path):
    inputs = gpunet.Input(shape=(1,), dtype="string")
    model = gpunet.Model(inputs, StringLookup(vocabulary=["x", "y"])(inputs))
    path = str(tmp_path / "listed.keras")
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert not [n for n in archive.namelist() if n.startswith("assets/")]
    assert gpunet.load_model(path).layers[1].get_vocabulary() == ["[UNK]", "x", "y"]


# -- the hooks against Keras's own saving ------------------------------------------------------------
def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("jax")
    return pytest.importorskip("keras", minversion="3.0")


class _WordsHooks:
    """A word list kept as an asset, and an array kept as an own variable (what Keras's
    StringLookup does with its vocabulary and idf weights), for Keras's layer and gpunet's."""

    def save_assets(self, directory):
        with open(os.path.join(directory, "words.txt"), "w") as handle:
            handle.write("\n".join(self.words))

    def load_assets(self, directory):
        with open(os.path.join(directory, "words.txt")) as handle:
            self.words = handle.read().split("\n")

    def save_own_variables(self, store):
        store["scale"] = self.scale

    def load_own_variables(self, store):
        self.scale = np.asarray(store["scale"])


def _gpunet_words():
    @gpunet.saving.register_serializable(package="text_test")
    class Words(_WordsHooks, gpunet.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.words, self.scale = ["none"], np.zeros(2)

        def call(self, x):
            return x

    return Words


def _keras_words(keras):
    @keras.saving.register_keras_serializable(package="text_test")
    class Words(_WordsHooks, keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.words, self.scale = ["none"], np.zeros(2)

        def call(self, x):
            return x

    return Words


@pytest.mark.slow
def test_assets_and_own_variables_as_keras_writes_and_reads_them(tmp_path):
    keras = _keras()
    keras_words = _keras_words(keras)
    _gpunet_words()
    theirs = keras.Sequential([keras.Input((2,)), keras_words(), keras.layers.Dense(1)])
    theirs.layers[0].words, theirs.layers[0].scale = ["alpha", "beta"], np.array([1.5, 2.5])
    keras_path = str(tmp_path / "keras.keras")
    theirs.save(keras_path)
    ours = gpunet.load_model(keras_path)
    assert ours.layers[0].words == ["alpha", "beta"]
    np.testing.assert_array_equal(ours.layers[0].scale, [1.5, 2.5])

    ours.layers[0].words, ours.layers[0].scale = ["gamma"], np.array([3.0, 4.0])
    ours_path = str(tmp_path / "gpunet.keras")
    ours.save(ours_path)
    with zipfile.ZipFile(keras_path) as a, zipfile.ZipFile(ours_path) as b:
        assert sorted(n for n in a.namelist() if n.startswith("assets/")) == \
            sorted(n for n in b.namelist() if n.startswith("assets/")) == ["assets/layers/words/words.txt"]
    back = keras.saving.load_model(ours_path)
    assert back.layers[0].words == ["gamma"]
    np.testing.assert_array_equal(back.layers[0].scale, [3.0, 4.0])


def test_the_docs_example_runs(tmp_path, monkeypatch, capsys):
    docs = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "layers.md")
    with open(docs, encoding="utf-8") as handle:
        section = handle.read().split("## Text and lookup preprocessing", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/layers.md", "exec"), {})  # noqa: S102 - the project's own docs
    assert (tmp_path / "classifier.keras").exists()
    printed = capsys.readouterr().out
    assert printed.startswith("[[") and 0 < float(printed.strip("[] \n")) < 1


def test_the_legacy_h5_format_refuses_what_it_cannot_hold(tmp_path):
    model, _ = _classifier("tf_idf")
    for save in (model.save, model.save_weights):
        with pytest.raises(ValueError, match="'text_vectorization.*save the model as .keras"):
            save(str(tmp_path / "text.h5"))
    inputs = gpunet.Input(shape=(1,), dtype="string")
    listed = gpunet.Model(inputs, Dense(1)(StringLookup(vocabulary=["a"], output_mode="count")(inputs)))
    listed.save(str(tmp_path / "listed.h5"))  # a vocabulary in the config: nothing is lost
    again = gpunet.load_model(str(tmp_path / "listed.h5"))
    assert again.layers[1].get_vocabulary() == ["[UNK]", "a"]
