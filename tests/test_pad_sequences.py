"""gpunet.utils.pad_sequences against Keras's keras.utils.pad_sequences."""

import os

import numpy as np
import pytest

from gpunet.utils import pad_sequences

SEQUENCES = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9], [10, 11]]
CASES = [
    {},
    {"maxlen": 3},
    {"maxlen": 3, "truncating": "post"},
    {"maxlen": 4, "padding": "post"},
    {"maxlen": 2, "padding": "post", "truncating": "post", "value": -1},
    {"maxlen": 7, "value": 9.5, "dtype": "float32"},
    {"dtype": "int64", "value": 3},
    {"maxlen": 1},
]


def test_documented_examples():
    sequences = [[1], [2, 3], [4, 5, 6]]
    assert pad_sequences(sequences).tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad_sequences(sequences, value=-1).tolist() == [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]
    assert pad_sequences(sequences, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert pad_sequences(sequences, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]
    assert pad_sequences(sequences).dtype == np.int32


def test_entries_of_any_shape_and_strings():
    frames = [np.ones((2, 3)), np.full((4, 3), 2.0)]
    out = pad_sequences(frames, dtype="float32", padding="post")
    assert out.shape == (2, 4, 3) and out.dtype == np.float32
    assert (out[0, 2:] == 0).all() and (out[1] == 2).all()
    words = pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert words.tolist() == [["a", "b"], ["<pad>", "c"]]
    assert pad_sequences([["ab"], ["c", "d"]], dtype="<U2", value="-").tolist() == [["-", "ab"], ["c", "d"]]
    assert pad_sequences([[1, 2], [3]], maxlen=0).shape == (2, 0)
    assert pad_sequences([], maxlen=3).shape == (0, 3)
    assert pad_sequences([[1.7, -2.2]]).tolist() == [[1, -2]]  # int32, as NumPy converts


@pytest.mark.parametrize("kwargs,error,match", [
    ({"sequences": 5}, ValueError, "sequences must be a list of sequences"),
    ({"sequences": [[1], 2]}, ValueError, "entry 1 is not one"),
    ({"padding": "middle"}, ValueError, "padding must be 'pre' or 'post'"),
    ({"truncating": "both"}, ValueError, "truncating must be 'pre' or 'post'"),
    ({"maxlen": -1}, ValueError, "maxlen must be a non-negative integer"),
    ({"maxlen": 2.5}, ValueError, "maxlen must be"),
    ({"value": "x"}, ValueError, "cannot hold the string value 'x'; use dtype=object"),
    ({"sequences": [[[1, 2]], [[1, 2, 3]]]}, ValueError, r"sequence 1 have shape \(3,\)"),
    ({"sequences": []}, ValueError, "sequences is empty"),
])
def test_errors(kwargs, error, match):
    kwargs = {"sequences": SEQUENCES, **kwargs}
    with pytest.raises(error, match=match):
        pad_sequences(**kwargs)


def _keras():
    pytest.importorskip("jax", reason="the Keras comparisons run Keras 3 on JAX")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras", minversion="3.0")


@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_same_as_keras(kwargs):
    keras = _keras()
    expected = keras.utils.pad_sequences(SEQUENCES, **kwargs)
    got = pad_sequences(SEQUENCES, **kwargs)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_same_as_keras_for_arrays_and_strings():
    keras = _keras()
    frames = [np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(4, 3), np.zeros((0, 3))]
    for kwargs in ({"dtype": "float32"}, {"dtype": "float64", "maxlen": 3, "truncating": "post", "padding": "post"}):
        np.testing.assert_array_equal(pad_sequences(frames, **kwargs), keras.utils.pad_sequences(frames, **kwargs))
    words = [["a", "bb"], ["c"], []]
    for kwargs in ({"dtype": object, "value": ""}, {"dtype": "<U3", "value": "?", "padding": "post"}):
        np.testing.assert_array_equal(pad_sequences(words, **kwargs), keras.utils.pad_sequences(words, **kwargs))
    with pytest.raises(ValueError):
        keras.utils.pad_sequences(words, value="")  # int32 and a string value: both refuse
    with pytest.raises(ValueError):
        pad_sequences(words, value="")
