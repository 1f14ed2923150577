"""TextVectorization against Keras 3's documented behaviour.

Keras's TextVectorization needs TensorFlow, so the references are written here from what Keras
documents and does: lowercasing as ``tf.strings.lower`` (ASCII letters), its punctuation regular
expression (copied below as the reference, applied with ``re``), whitespace splitting, n-grams
joined by a space width by width, a StringLookup with mask ``""`` and OOV ``"[UNK]"``, rows
padded with 0 or cut to ``output_sequence_length``, and tf-idf as ``tf * log(1 + N / (1 + df))``.
"""

import math
import re

import numpy as np
import pytest

import gpunet
from gpunet import backend
from gpunet.layers import TextVectorization

KERAS_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'  # Keras's documented pattern


def host(t):
    return backend.to_host(t.data) if hasattr(t, "data") else np.asarray(t)


def reference_standardize(text):
    lowered = "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)
    return re.sub(KERAS_PUNCTUATION, "", lowered)


def test_default_standardize_matches_kerass_regex_and_ascii_lowering():
    text = "Héllo, WORLD! É-mail: a.b@c_d {x}~[y] \\ 'q' \"r\" ÀÉ ß"
    layer = TextVectorization(split=None)
    layer.set_vocabulary(["tokenless"])
    assert layer._preprocess(np.array([text])).tolist() == [reference_standardize(text)]
    assert "É" in reference_standardize(text)  # non-ASCII capitals are kept, as tf.strings.lower keeps them
    every = "".join(chr(c) for c in range(32, 127))
    assert layer._preprocess(np.array([every])).tolist() == [reference_standardize(every)]


@pytest.mark.parametrize("mode, expected", [
    ("lower", "hello, world!"), ("strip_punctuation", "Hello WORLD"), (None, "Hello, WORLD!"),
])
def test_other_standardize_modes(mode, expected):
    layer = TextVectorization(standardize=mode, split=None)
    assert layer._preprocess(np.array(["Hello, WORLD!"])).tolist() == [expected]


def test_adapt_and_int_output_pad_and_truncate():
    layer = TextVectorization(output_sequence_length=4)
    layer.adapt(["The cat sat on the mat.", "The dog ate the cat!"])
    # the 4, cat 2, then once each in descending order: sat, on, mat, dog, ate
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "cat", "sat", "on", "mat", "dog", "ate"]
    out = host(layer(np.array(["the cat", "The mat the dog ate fish", "zebra"])))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[2, 3, 0, 0], [2, 6, 2, 7], [1, 0, 0, 0]])
    free = TextVectorization(vocabulary=["the", "cat"])  # no output_sequence_length: the longest row of the batch
    np.testing.assert_array_equal(host(free(np.array([["the cat the"], ["cat"]]))), [[2, 3, 2], [3, 0, 0]])


def test_split_character_and_none():
    chars = TextVectorization(split="character", standardize=None, vocabulary=["a", "b", " "])
    np.testing.assert_array_equal(host(chars(np.array(["ab a", "é"]))), [[2, 3, 4, 2], [1, 0, 0, 0]])
    whole = TextVectorization(split=None, vocabulary=["new york", "paris"])
    np.testing.assert_array_equal(host(whole(np.array([["New York"], ["Paris!"], ["Rome"]]))), [[2], [3], [1]])


def test_ngrams_are_joined_with_a_space_width_by_width():
    layer = TextVectorization(ngrams=3, standardize=None, split="whitespace")
    rows = layer._preprocess(np.array(["a b c", "d"]))
    assert rows == [["a", "b", "c", "a b", "b c", "a b c"], ["d"]]
    pairs = TextVectorization(ngrams=(2,), standardize=None)
    assert pairs._preprocess(np.array(["a b c"])) == [["a b", "b c"]]


def test_callable_standardize_and_split():
    def shout(batch):
        assert isinstance(batch, np.ndarray) and batch.dtype.kind == "U"
        return np.char.upper(batch)

    def commas(batch):
        return [s.split(",") for s in batch.tolist()]

    layer = TextVectorization(standardize=shout, split=commas, vocabulary=["A", "B C"])
    np.testing.assert_array_equal(host(layer(np.array(["a,b c", "x"]))), [[2, 3], [1, 0]])


def test_multi_hot_count_and_tf_idf():
    docs = ["a b a", "b c", "c c d"]
    multi = TextVectorization(output_mode="multi_hot")
    multi.adapt(docs)
    assert multi.get_vocabulary() == ["[UNK]", "c", "b", "a", "d"]  # no padding index outside "int" mode
    np.testing.assert_array_equal(host(multi(np.array(["a a z", "d"]))), [[1, 0, 0, 1, 0], [0, 0, 0, 0, 1]])
    count = TextVectorization(output_mode="count", vocabulary=["a", "b"])
    np.testing.assert_array_equal(host(count(np.array([["a a b q q q"]]))), [[3, 2, 1]])
    tfidf = TextVectorization(output_mode="tf_idf")
    tfidf.adapt(docs)
    df = {"c": 2, "b": 2, "a": 1, "d": 1}
    idf = [math.log(1 + 3 / (1 + df[t])) for t in ["c", "b", "a", "d"]]
    oov = sum(idf) / 4
    np.testing.assert_allclose(host(tfidf(np.array(["a a z c"]))), [[oov, idf[0], 0, 2 * idf[2], 0]], rtol=1e-6)
    padded = TextVectorization(output_mode="multi_hot", max_tokens=8, pad_to_max_tokens=True, vocabulary=["a"])
    assert host(padded(np.array(["a"]))).shape == (1, 8)


def test_adapt_from_a_generator_and_max_tokens():
    def batches():
        yield np.array(["x y y"])
        yield np.array(["z z z y"])

    layer = TextVectorization(max_tokens=4)
    layer.adapt(batches())
    assert layer.get_vocabulary() == ["", "[UNK]", "z", "y"]
    assert layer.vocabulary_size() == 4


def test_output_shapes():
    assert TextVectorization(output_sequence_length=5).compute_output_shape((None, 1)) == (None, 5)
    layer = TextVectorization(output_mode="count", vocabulary=["a", "b"])
    assert layer.compute_output_shape((None, 1)) == (None, 3)
    assert layer.compute_output_shape((None,)) == (None, 3)
    spec = TextVectorization(output_sequence_length=3).compute_output_spec(gpunet.Input((1,), dtype="string"))
    assert spec.shape == (None, 3) and spec.dtype == "int64"


def test_rows_of_several_strings_are_refused_when_splitting():
    layer = TextVectorization(vocabulary=["a"])
    with pytest.raises(ValueError, match="last axis of 1"):
        layer(np.array([["a", "b"]]))


@pytest.mark.parametrize("kwargs, match", [
    ({"standardize": "upper"}, "standardize"),
    ({"split": "comma"}, "split"),
    ({"ngrams": 0}, "ngrams"),
    ({"ngrams": (1, "2")}, "ngrams"),
    ({"output_mode": "one_hot_please"}, "output_mode"),
    ({"output_sequence_length": 0}, "output_sequence_length"),
    ({"output_mode": "count", "output_sequence_length": 3}, "output_sequence_length"),
    ({"ragged": True}, "ragged"),
    ({"sparse": True}, "sparse"),
    ({"max_tokens": 1}, "max_tokens"),
    ({"encoding": 8}, "encoding"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TextVectorization(**kwargs)


def test_config_round_trip():
    layer = TextVectorization(max_tokens=20, ngrams=(1, 2), output_sequence_length=6, vocabulary=["a", "b"],
                              name="vectorize")
    config = layer.get_config()
    assert {k: config[k] for k in ("max_tokens", "standardize", "split", "ngrams", "output_mode",
                                   "output_sequence_length", "pad_to_max_tokens", "sparse", "ragged", "vocabulary",
                                   "idf_weights", "encoding", "vocabulary_size")} == {
        "max_tokens": 20, "standardize": "lower_and_strip_punctuation", "split": "whitespace", "ngrams": (1, 2),
        "output_mode": "int", "output_sequence_length": 6, "pad_to_max_tokens": False, "sparse": False,
        "ragged": False, "vocabulary": ["a", "b"], "idf_weights": None, "encoding": "utf-8", "vocabulary_size": 4}
    again = gpunet.layers.deserialize({"class_name": "TextVectorization", "config": {**config, "ngrams": [1, 2]}})
    assert again.get_config() == config
    np.testing.assert_array_equal(host(again(np.array(["a b"]))), [[2, 3, 1, 0, 0, 0]])  # "a b" is OOV
