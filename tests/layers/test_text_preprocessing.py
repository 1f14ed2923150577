"""StringLookup and IntegerLookup against Keras 3's documented behaviour.

Keras's own lookups need TensorFlow (they refuse to start without it, IntegerLookup included),
so the references here are small cases computed by hand from what Keras documents and its code
does: index 0 for the mask token in "int" mode, then the OOV indices, then the vocabulary; adapt
orders tokens by count, ties by the tokens in descending order; idf = log(1 + N / (1 + df)), the
OOV indices taking the mean idf; non-"int" modes drop the mask token.
"""

import math

import numpy as np
import pytest

import gpunet
from gpunet import backend
from gpunet.layers import IntegerLookup, StringLookup


def host(t):
    return backend.to_host(t.data) if hasattr(t, "data") else np.asarray(t)


# -- the index space --------------------------------------------------------------------------------
def test_string_lookup_indices_with_oov_at_one_index():
    layer = StringLookup(vocabulary=["a", "b", "c"])
    out = layer(np.array([["a", "c"], ["d", "b"]]))
    assert host(out).dtype == np.int64
    np.testing.assert_array_equal(host(out), [[1, 3], [0, 2]])  # OOV index 0, vocabulary from 1
    assert layer.get_vocabulary() == ["[UNK]", "a", "b", "c"]
    assert layer.get_vocabulary(include_special_tokens=False) == ["a", "b", "c"]
    assert layer.vocabulary_size() == 4


def test_mask_token_takes_index_zero_in_int_mode():
    layer = StringLookup(vocabulary=["a", "b"], mask_token="", oov_token="?")
    np.testing.assert_array_equal(host(layer(np.array([["", "a", "zz", "b"]]))), [[0, 2, 1, 3]])
    assert layer.get_vocabulary() == ["", "?", "a", "b"]
    assert layer.vocabulary_size() == 4


def test_integer_lookup_several_oov_indices_use_floormod():
    layer = IntegerLookup(vocabulary=[12, 36, 1138, 42], num_oov_indices=2, mask_token=0)
    # mask 0 -> 0; OOV v -> 1 + v mod 2; vocabulary from index 3
    out = host(layer(np.array([[12, 1138, 0], [7, 1000, -3]])))
    np.testing.assert_array_equal(out, [[3, 5, 0], [1 + 7 % 2, 1 + 1000 % 2, 1 + (-3) % 2]])
    assert layer.get_vocabulary() == [0, -1, -1, 12, 36, 1138, 42]


def test_integer_lookup_documented_example():
    layer = IntegerLookup(vocabulary=[12, 36, 1138, 42])
    np.testing.assert_array_equal(host(layer(np.array([[12, 1138, 42], [42, 1000, 36]]))), [[1, 3, 4], [4, 0, 2]])


def test_no_oov_index_refuses_unknown_tokens():
    layer = StringLookup(vocabulary=["a"], num_oov_indices=0)
    np.testing.assert_array_equal(host(layer(np.array(["a"]))), [0])
    with pytest.raises(ValueError, match="num_oov_indices=0.*'b'"):
        layer(np.array(["a", "b"]))


def test_bytes_and_object_inputs_are_decoded():
    layer = StringLookup(vocabulary=["é", "b"])
    np.testing.assert_array_equal(host(layer(np.array(["é".encode(), b"b", b"x"]))), [1, 2, 0])
    np.testing.assert_array_equal(host(layer(np.array(["b", "é"], dtype=object))), [2, 1])
    with pytest.raises(TypeError, match="StringLookup"):
        layer(np.array([1.5, 2.0]))


def test_invert_maps_indices_back():
    layer = StringLookup(vocabulary=["a", "b", "c"], invert=True, mask_token="[M]")
    out = host(layer(np.array([[2, 4], [0, 1], [9, 3]])))
    assert out.tolist() == [["a", "c"], ["[M]", "[UNK]"], ["[UNK]", "b"]]
    ints = IntegerLookup(vocabulary=[12, 36], invert=True)
    assert host(ints(np.array([1, 2, 0, 7]))).tolist() == [12, 36, -1, -1]


# -- encodings --------------------------------------------------------------------------------------
def test_one_hot_multi_hot_count():
    vocab = ["a", "b", "c"]
    one_hot = StringLookup(vocabulary=vocab, output_mode="one_hot")
    np.testing.assert_array_equal(host(one_hot(np.array([["a"], ["d"], ["c"]]))),
                                  [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])  # a last axis of 1 is replaced
    assert host(one_hot(np.array(["a", "b"]))).shape == (2, 4)
    multi = StringLookup(vocabulary=vocab, output_mode="multi_hot")
    np.testing.assert_array_equal(host(multi(np.array([["a", "a", "c"], ["d", "b", "d"]]))),
                                  [[0, 1, 0, 1], [1, 0, 1, 0]])
    count = StringLookup(vocabulary=vocab, output_mode="count")
    np.testing.assert_array_equal(host(count(np.array([["a", "a", "c"], ["d", "b", "d"]]))),
                                  [[0, 2, 0, 1], [2, 0, 1, 0]])
    assert host(count(np.array(["a", "b", "a"]))).tolist() == [0, 2, 1, 0]  # a 1-D input is one document
    assert host(count(np.array([["a"]]))).dtype == backend.floatx()


def test_mask_token_counts_nowhere_outside_int_mode():
    layer = StringLookup(vocabulary=["a", "b"], mask_token="", output_mode="count")
    assert layer.get_vocabulary() == ["[UNK]", "a", "b"]  # no index for the mask outside "int" mode
    np.testing.assert_array_equal(host(layer(np.array([["a", "", "", "x"]]))), [[1, 1, 0]])


def test_pad_to_max_tokens_widens_the_output():
    layer = StringLookup(vocabulary=["a", "b"], output_mode="multi_hot", max_tokens=6, pad_to_max_tokens=True)
    np.testing.assert_array_equal(host(layer(np.array([["b"]]))), [[0, 0, 1, 0, 0, 0]])
    assert layer.compute_output_shape((None, 3)) == (None, 6)


def test_tf_idf_with_given_weights_pads_oov_with_their_mean():
    layer = StringLookup(vocabulary=["a", "b"], idf_weights=[0.5, 1.5], output_mode="tf_idf")
    out = host(layer(np.array([["a", "a", "b", "q"]])))
    np.testing.assert_allclose(out, [[1 * 1.0, 2 * 0.5, 1 * 1.5]], rtol=1e-6)  # OOV weight: mean(0.5, 1.5)
    given = StringLookup(vocabulary=["[UNK]", "a"], idf_weights=[3.0, 0.5], output_mode="tf_idf")
    np.testing.assert_allclose(host(given(np.array([["a", "z"]]))), [[3.0, 0.5]])  # special tokens' weight kept


# -- adapt --------------------------------------------------------------------------------------------
def test_adapt_orders_by_count_then_tokens_descending():
    layer = StringLookup()
    layer.adapt(np.array(["b", "a", "c", "a", "c", "d", "e", "[UNK]", "[UNK]", "[UNK]"]))
    # a and c twice (c > a), then b, d, e once (descending); the OOV token is never learned
    assert layer.get_vocabulary() == ["[UNK]", "c", "a", "e", "d", "b"]
    ints = IntegerLookup(max_tokens=4)
    ints.adapt([[5, 3, 3], [9, 5, 7]])
    assert ints.get_vocabulary() == [-1, 5, 3, 9]  # 5, 3 twice; 9 > 7 once; cut to 4 indices


def test_adapt_leaves_out_the_mask_and_counts_max_tokens_with_the_special_indices():
    layer = StringLookup(mask_token="", max_tokens=4)
    layer.adapt([["x", "", ""], ["y", "x", "z"]])
    assert layer.get_vocabulary() == ["", "[UNK]", "x", "z"]


def test_adapt_from_batches_and_steps():
    def batches():
        yield np.array([["a", "b"]])
        yield np.array([["b", "c"]])
        yield np.array([["c", "c"]])

    layer = StringLookup()
    layer.adapt(batches(), steps=2)  # the third batch is not read
    assert layer.get_vocabulary() == ["[UNK]", "b", "c", "a"]
    layer.adapt(batches())
    assert layer.get_vocabulary() == ["[UNK]", "c", "b", "a"]


def test_adapt_tf_idf_uses_kerass_idf():
    docs = [["a", "b", "a"], ["b", "c", "c"], ["a", "d", "d"]]
    layer = StringLookup(output_mode="tf_idf")
    layer.adapt(docs)
    assert layer.get_vocabulary() == ["[UNK]", "a", "d", "c", "b"]  # a 3, then d, c, b twice (descending)
    document_frequency = {"a": 2, "d": 1, "c": 1, "b": 2}
    idf = {t: math.log(1 + 3 / (1 + df)) for t, df in document_frequency.items()}
    oov = sum(idf.values()) / 4
    out = host(layer(np.array([["a", "a", "z", "b"]])))
    np.testing.assert_allclose(out, [[oov, 2 * idf["a"], 0, 0, idf["b"]]], rtol=1e-6)


def test_adapt_refused_for_a_layer_built_with_a_vocabulary():
    layer = StringLookup(vocabulary=["a"])
    with pytest.raises(ValueError, match="cannot adapt"):
        layer.adapt(["a"])


# -- setting the vocabulary ---------------------------------------------------------------------
def test_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("earth\nwind\nand\nfire\n", encoding="utf-8")
    layer = StringLookup(vocabulary=str(path))
    np.testing.assert_array_equal(host(layer(np.array([["earth", "fire", "x"]]))), [[1, 4, 0]])
    assert layer.get_config()["vocabulary"] is None  # a file's vocabulary travels as an asset
    ints = tmp_path / "ints.txt"
    ints.write_text("7\n3\n", encoding="utf-8")
    assert IntegerLookup(vocabulary=str(ints)).get_vocabulary() == [-1, 7, 3]
    with pytest.raises(ValueError, match="does not exist"):
        StringLookup(vocabulary=str(tmp_path / "missing.txt"))


def test_set_vocabulary_recognises_special_tokens_and_checks():
    layer = StringLookup(mask_token="[M]")
    layer.set_vocabulary(["[M]", "[UNK]", "x", "y"])
    assert layer.get_vocabulary() == ["[M]", "[UNK]", "x", "y"]
    with pytest.raises(ValueError, match="repeats"):
        layer.set_vocabulary(["x", "x"])
    with pytest.raises(ValueError, match="mask token"):
        layer.set_vocabulary(["x", "[M]"])
    with pytest.raises(ValueError, match="max_tokens"):
        StringLookup(max_tokens=3, vocabulary=["a", "b", "c"])
    with pytest.raises(ValueError, match="empty"):
        layer.set_vocabulary([])
    with pytest.raises(ValueError, match="idf_weights"):
        StringLookup(output_mode="tf_idf").set_vocabulary(["a"])
    with pytest.raises(ValueError, match="idf_weights"):
        StringLookup(output_mode="tf_idf", vocabulary=["a"], idf_weights=[1.0, 2.0])


def test_vocabulary_size_is_fixed_in_counting_modes():
    layer = StringLookup(output_mode="multi_hot")
    with pytest.raises(RuntimeError, match="set the vocabulary"):
        layer(np.array([["a"]]))
    layer.set_vocabulary(["a", "b"])
    with pytest.raises(RuntimeError, match="cannot change"):
        layer.set_vocabulary(["a", "b", "c"])


# -- arguments and configuration --------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"max_tokens": 1}, "max_tokens"),
    ({"num_oov_indices": -1}, "num_oov_indices"),
    ({"pad_to_max_tokens": True}, "max_tokens"),
    ({"output_mode": "bits"}, "output_mode"),
    ({"invert": True, "output_mode": "count"}, "invert"),
    ({"sparse": True, "output_mode": "count"}, "sparse"),
    ({"idf_weights": [1.0], "vocabulary": ["a"]}, "idf_weights"),
    ({"output_mode": "tf_idf", "vocabulary": ["a"]}, "idf_weights"),
    ({"num_oov_indices": 2}, "num_oov_indices"),
    ({"salt": 3}, "salt"),
    ({"encoding": "no-such-codec"}, "encoding"),
])
def test_string_lookup_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StringLookup(**kwargs)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"vocabulary_dtype": "int32"}, ValueError, "vocabulary_dtype"),
    ({"oov_method": "farmhash"}, ValueError, "oov_method"),
    ({"oov_method": "md5"}, ValueError, "oov_method"),
    ({"mask_token": "x"}, TypeError, "mask_token"),
    ({"vocabulary": [1, 2.5]}, TypeError, "integers"),
])
def test_integer_lookup_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        IntegerLookup(**kwargs)


def test_config_round_trip_and_registry():
    layer = StringLookup(max_tokens=10, mask_token="", vocabulary=["x", "y"], output_mode="int", name="words")
    config = layer.get_config()
    assert {k: config[k] for k in ("invert", "max_tokens", "num_oov_indices", "oov_token", "mask_token", "output_mode",
                                   "sparse", "pad_to_max_tokens", "idf_weights", "vocabulary", "vocabulary_size",
                                   "encoding")} == {
        "invert": False, "max_tokens": 10, "num_oov_indices": 1, "oov_token": "[UNK]", "mask_token": "",
        "output_mode": "int", "sparse": False, "pad_to_max_tokens": False, "idf_weights": None,
        "vocabulary": ["x", "y"], "vocabulary_size": 4, "encoding": "utf-8"}
    assert "vocabulary_dtype" not in config  # Keras's StringLookup leaves it out
    again = gpunet.layers.deserialize({"class_name": "StringLookup", "config": config})
    assert isinstance(again, StringLookup) and again.get_config() == config
    ints = IntegerLookup(output_mode="count", vocabulary=[4, 2], name="ids")
    again = gpunet.layers.deserialize(gpunet.layers.serialize(ints))
    assert again.get_config() == ints.get_config() and again.get_config()["vocabulary_dtype"] == "int64"
    np.testing.assert_array_equal(host(again(np.array([[2, 2, 9]]))), [[1, 0, 2]])
