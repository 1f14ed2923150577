"""Normalization, Rescaling, Discretization, CategoryEncoding and Hashing against Keras 3 (on
JAX), float64 NumPy formulas, and hash values of the published algorithms."""

from __future__ import annotations

import numpy as np
import pytest
from keras_parity import assert_layer_matches_keras, import_keras

import gpunet
from gpunet import backend
from gpunet import layers as L
from gpunet.layers.preprocessing.hashing import fingerprint64, siphash24


def host(t):
    return backend.to_host(t.data if isinstance(t, gpunet.Tensor) else t)


# -- Normalization ---------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1])
def test_normalization_adapt_is_numpy_mean_and_variance(axis, rng, xp):
    x = rng.normal(3.0, 2.0, (30, 4, 5)).astype("float32")
    layer = L.Normalization(axis=axis)
    layer.adapt(x)
    keep = () if axis is None else tuple(np.atleast_1d(axis) % 3)
    reduce = tuple(d for d in range(3) if d not in keep)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(host(layer.adapt_mean), x64.mean(axis=reduce), rtol=1e-5)
    np.testing.assert_allclose(host(layer.adapt_variance), x64.var(axis=reduce), rtol=1e-5)
    expected = (x64 - x64.mean(axis=reduce, keepdims=True)) / np.sqrt(x64.var(axis=reduce, keepdims=True))
    np.testing.assert_allclose(host(layer(xp.asarray(x))), expected, rtol=1e-4, atol=1e-5)
    assert host(layer.count).dtype == np.int32 and layer.weights[2].name.endswith("/count")


def test_normalization_adapt_on_a_stream_of_batches_is_the_whole_datas(rng):
    x = rng.normal(-1.0, 3.0, (50, 3))
    whole = L.Normalization()
    whole.adapt(x)
    batches = L.Normalization()
    batches.adapt([(x[:7], None), (x[7:31], None), (x[31:], None)])  # (x, y) pairs of uneven sizes
    gen = L.Normalization()
    gen.adapt(iter([x[:25], x[25:]]))

    class Data(gpunet.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return x[10 * i:10 * (i + 1)], x[10 * i:10 * (i + 1), 0]

    dataset = L.Normalization()
    dataset.adapt(Data())
    for layer in (batches, gen, dataset):
        np.testing.assert_allclose(host(layer.adapt_mean), x.mean(0), rtol=1e-5)
        np.testing.assert_allclose(host(layer.adapt_variance), x.var(0), rtol=1e-5)


def test_normalization_given_values_and_invert(xp):
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype="float32")
    layer = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25])
    np.testing.assert_allclose(host(layer(xp.asarray(x))), [[0, 0, 0], [1.5, 3, 6]], rtol=1e-6)
    back = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25], invert=True)
    np.testing.assert_allclose(host(back(layer(xp.asarray(x)))), x, rtol=1e-6)
    scalar = L.Normalization(mean=3.0, variance=2.0)
    np.testing.assert_allclose(host(scalar(xp.asarray([[1.0], [3.0]]))), [[-2 / np.sqrt(2)], [0]], rtol=1e-6)
    assert layer.weights == []  # given values are constants, as in Keras


def test_normalization_adapt_matches_keras():
    keras = import_keras()
    x = np.random.default_rng(3).normal(2.0, 1.5, (40, 6, 2)).astype("float32")
    for axis in (-1, None, (1, 2)):
        ours, theirs = L.Normalization(axis=axis), keras.layers.Normalization(axis=axis)
        ours.adapt(x)
        theirs.adapt(x)
        np.testing.assert_allclose(host(ours(x)), np.asarray(theirs(x)), rtol=1e-4, atol=1e-5)
        assert ours.get_config()["axis"] == list(theirs.get_config()["axis"])


def test_normalization_config_round_trip_and_refusals():
    layer = L.Normalization(axis=(1, 2), mean=[1.0, 2.0], variance=[3.0, 4.0], invert=True, name="norm")
    again = L.Normalization.from_config(layer.get_config())
    assert again.get_config() == layer.get_config() and again.axis == (1, 2)
    assert L.deserialize(L.serialize(layer)).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="mean and variance"):
        L.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="variance"):
        L.Normalization(mean=1.0, variance=-1.0)
    with pytest.raises(TypeError, match="axis"):
        L.Normalization(axis="last")
    with pytest.raises(ValueError, match="axis"):
        L.Normalization(axis=3)(np.ones((2, 3)))
    adapted = L.Normalization()
    adapted.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match="shape"):
        adapted.adapt(np.ones((4, 5)))
    with pytest.raises(ValueError, match="no batch"):
        L.Normalization().adapt([])


# -- Rescaling -------------------------------------------------------------------------------------
def test_rescaling_values_and_integer_pixels(xp):
    pixels = np.array([[0, 128, 255]], dtype="uint8")
    np.testing.assert_allclose(host(L.Rescaling(1 / 127.5, offset=-1)(xp.asarray(pixels))),
                               [[-1.0, 128 / 127.5 - 1, 1.0]], rtol=1e-6, atol=1e-6)
    per_channel = L.Rescaling([1.0, 2.0, 3.0], offset=[0.0, 1.0, 2.0])
    np.testing.assert_allclose(host(per_channel(xp.ones((2, 3)))), [[1, 3, 5]] * 2)
    assert L.Rescaling.from_config(per_channel.get_config()).get_config() == per_channel.get_config()
    with pytest.raises(ValueError, match="scale"):
        L.Rescaling("big")
    with pytest.raises(ValueError, match="offset"):
        L.Rescaling(1.0, offset=float("nan"))


def test_rescaling_then_normalization_then_dense_matches_keras(tmp_path):
    keras = import_keras()
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 255, (16, 5)).astype("float32")
    y = rng.normal(size=(16, 2)).astype("float32")

    def build():
        inputs = gpunet.Input((5,))
        h = L.Rescaling(1 / 255.0, offset=0.1)(inputs)
        h = L.Normalization(mean=[0.5] * 5, variance=[0.1, 0.2, 0.3, 0.4, 0.5])(h)
        return gpunet.Model(inputs, L.Dense(2)(h))

    assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_adapted_normalization_files_both_ways_with_keras(suffix, tmp_path):
    keras = import_keras()
    rng = np.random.default_rng(6)
    x = rng.normal(4.0, 3.0, (32, 3)).astype("float32")
    layer = L.Normalization()
    layer.adapt(x)
    inputs = gpunet.Input((3,))
    model = gpunet.Model(inputs, L.Dense(1)(layer(inputs)))
    model.save(tmp_path / f"ours{suffix}")
    theirs = keras.models.load_model(tmp_path / f"ours{suffix}", compile=False)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), host(model.predict(x, verbose=0)), rtol=1e-5, atol=1e-5)
    assert [w.dtype for w in theirs.layers[1].get_weights()] == [np.float32, np.float32, np.int32]
    keras_layer = keras.layers.Normalization()
    keras_layer.adapt(x * 2 + 1)
    k_inputs = keras.Input((3,))
    keras_model = keras.Model(k_inputs, keras.layers.Dense(1)(keras_layer(k_inputs)))
    keras_model.save(tmp_path / f"theirs{suffix}")
    back = gpunet.load_model(tmp_path / f"theirs{suffix}", compile=False)
    np.testing.assert_allclose(host(back.predict(x, verbose=0)), keras_model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(host(back.layers[1].adapt_mean), (x * 2 + 1).mean(0), rtol=1e-5)


# -- Discretization --------------------------------------------------------------------------------
def test_discretization_buckets_and_modes(xp):
    x = xp.asarray(np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]], dtype="float32"))
    layer = L.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    out = layer(x)
    assert host(out).dtype == np.int32
    np.testing.assert_array_equal(host(out), np.digitize(host(x), [0.0, 1.0, 2.0]))
    hot = L.Discretization(bin_boundaries=[0.0, 1.0, 2.0], output_mode="one_hot")(xp.asarray([[0.5], [2.5]]))
    np.testing.assert_array_equal(host(hot), [[0, 1, 0, 0], [0, 0, 0, 1]])
    count = L.Discretization(bin_boundaries=[0.0, 1.0, 2.0], output_mode="count")(x)
    np.testing.assert_array_equal(host(count), [[1, 1, 1, 1], [0, 2, 1, 1]])


def test_discretization_adapt_matches_keras():
    keras = import_keras()
    rng = np.random.default_rng(7)
    data = rng.exponential(2.0, (1000, 1)).astype("float32")
    for num_bins, epsilon in ((4, 0.01), (7, 0.05)):
        ours = L.Discretization(num_bins=num_bins, epsilon=epsilon)
        theirs = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
        for batches in ([data], [data[:300], data[300:700], data[700:]]):  # an array, and a stream of batches
            ours.adapt(batches[0] if len(batches) == 1 else batches)
            theirs.reset_state()  # Keras's adapt() imports TensorFlow: its own steps, without it
            for batch in batches:
                theirs.update_state(batch)
            theirs.finalize_state()
            np.testing.assert_allclose(ours.bin_boundaries, theirs.bin_boundaries, rtol=1e-6)
            assert len(ours.bin_boundaries) == num_bins - 1
    quartiles = np.quantile(data, [0.25, 0.5, 0.75])
    for batches in (data, [data[:300], data[300:700], data[700:]]):  # an array, and a stream of batches
        exact = L.Discretization(num_bins=4, epsilon=0.001)
        exact.adapt(batches)
        np.testing.assert_allclose(exact.bin_boundaries, quartiles, rtol=0.05)
    probe = rng.exponential(2.0, (5, 3)).astype("float32")
    np.testing.assert_array_equal(host(ours(probe)), np.asarray(theirs(probe)))


def test_discretization_config_round_trip_and_refusals():
    adapted = L.Discretization(num_bins=3)
    adapted.adapt(np.arange(30.0))
    again = L.Discretization.from_config(adapted.get_config())
    assert again.bin_boundaries == adapted.bin_boundaries and again.num_bins == 3
    first = L.Discretization(num_bins=3)
    first.adapt(np.arange(30.0))
    stepped = L.Discretization(num_bins=3)
    stepped.adapt([np.arange(30.0), np.arange(100.0, 200.0)], steps=1)  # the first batch only
    assert stepped.bin_boundaries == first.bin_boundaries
    with pytest.raises(ValueError, match="no values"):
        L.Discretization(num_bins=3).adapt([])
    with pytest.raises(ValueError, match="bin_boundaries"):
        L.Discretization()
    with pytest.raises(ValueError, match="not both"):
        L.Discretization(bin_boundaries=[1.0], num_bins=3)
    with pytest.raises(ValueError, match="output_mode"):
        L.Discretization(bin_boundaries=[1.0], output_mode="tf_idf")
    with pytest.raises(ValueError, match="sorted"):
        L.Discretization(bin_boundaries=[2.0, 1.0])
    with pytest.raises(ValueError, match="adapt"):
        L.Discretization(num_bins=3)(np.ones((2, 2)))


# -- CategoryEncoding ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_category_encoding_matches_keras(mode):
    keras = import_keras()
    for x in (np.array([[0, 1], [3, 3], [2, 0]]), np.array([1, 0, 3]), np.array([[2], [1]])):
        ours = L.CategoryEncoding(num_tokens=4, output_mode=mode)(x)
        theirs = keras.layers.CategoryEncoding(num_tokens=4, output_mode=mode)(x)
        np.testing.assert_array_equal(host(ours), np.asarray(theirs))
        assert host(ours).dtype == np.asarray(theirs).dtype
    weights = np.array([[0.5, 2.0], [1.0, 1.0], [3.0, 0.25]], dtype="float32")
    if mode == "count":
        ours = L.CategoryEncoding(4, output_mode="count")(np.array([[0, 1], [3, 3], [2, 0]]), count_weights=weights)
        theirs = keras.layers.CategoryEncoding(4, output_mode="count")(np.array([[0, 1], [3, 3], [2, 0]]),
                                                                       count_weights=weights)
        np.testing.assert_allclose(host(ours), np.asarray(theirs))


def test_category_encoding_refusals_and_config():
    layer = L.CategoryEncoding(num_tokens=3, output_mode="binary")
    assert layer.output_mode == "multi_hot"
    assert L.CategoryEncoding.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match=r"num_tokens"):
        layer(np.array([[0, 3]]))
    with pytest.raises(ValueError, match="num_tokens"):
        L.CategoryEncoding()
    with pytest.raises(ValueError, match="output_mode"):
        L.CategoryEncoding(3, output_mode="int")
    with pytest.raises(ValueError, match="count_weights"):
        layer(np.array([[0, 1]]), count_weights=np.ones((1, 2)))
    with pytest.raises(ValueError, match="sparse"):
        L.CategoryEncoding(3, sparse=True)


# -- Hashing ---------------------------------------------------------------------------------------
# FarmHash Fingerprint64 (farmhashna::Hash64) of byte strings covering each length branch (0-16,
# 17-32, 33-64, longer), as the reference C++ library computes them
FINGERPRINTS = [(b"", 0x9AE16A3B2F90404F), (b"a", 0xB3454265B6DF75E3), (b"abc", 0x24A5B3A074E7F369),
                (b"hello", 0xB48BE5A931380CE8), (b"12345678", 0x2F99D2664A0FB6EA),
                (b"gpunet hashing!", 0x6CFB1B725998F5E5), (b"x" * 17, 0x9CE745A1F3812FA5),
                (b"The quick brown fox jumps over", 0xE75880B807DFB05A), (b"y" * 40, 0x3D596369A03CFDE),
                (b"z" * 64, 0x41756D0F401A218), (bytes(range(65)), 0xC6A3282C3E793DBE),
                (bytes(range(200)), 0x74C7FCC26D66FB3)]


@pytest.mark.parametrize("data,expected", FINGERPRINTS)
def test_fingerprint64_known_values(data, expected):
    assert fingerprint64(data) == expected


def test_siphash24_vectors_of_its_paper():
    key = (0x0706050403020100, 0x0F0E0D0C0B0A0908)  # key bytes 00..0f
    assert siphash24(key, b"") == 0x726FDB47DD0E0E31
    assert siphash24(key, bytes(range(15))) == 0xA129CA6149BE45E5
    assert siphash24(key, bytes(range(8))) == 0x93F5F5799A932462
    assert siphash24(key, bytes(range(63))) == 0x958A324CEB064572


# bucket ids TensorFlow gives (Keras's own tests of its Hashing layer)
LETTERS = [["A"], ["B"], ["C"], ["D"], ["E"]]
NAMES = [["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]]


@pytest.mark.parametrize("kwargs,inputs,expected", [
    ({"num_bins": 3}, LETTERS, [1, 0, 1, 1, 2]),
    ({"num_bins": 3, "mask_value": ""}, [["A"], ["B"], [""], ["C"], ["D"]], [1, 1, 0, 2, 2]),
    ({"num_bins": 3, "salt": [133, 137]}, LETTERS, [1, 2, 1, 0, 2]),
    ({"num_bins": 3, "salt": 133}, LETTERS, [0, 0, 2, 1, 0]),
    ({"num_bins": 2}, NAMES, [0, 0, 1, 0, 0]),
    ({"num_bins": 3, "mask_value": ""}, NAMES, [1, 1, 2, 1, 1]),
    ({"num_bins": 3, "mask_value": "omar"}, NAMES, [0, 1, 2, 1, 1]),
    ({"num_bins": 3}, [[0], [1], [2], [3], [4]], [1, 0, 1, 0, 2]),
    ({"num_bins": 3, "salt": [133, 137]}, [[0], [1], [2], [3], [4]], [1, 1, 2, 0, 1]),
])
def test_hashing_gives_tensorflows_buckets(kwargs, inputs, expected):
    out = host(L.Hashing(**kwargs)(np.asarray(inputs)))
    assert out.dtype == np.int64 and out.shape == (5, 1)
    np.testing.assert_array_equal(out.ravel(), expected)


def test_hashing_modes_dtype_in_a_model_and_config(tmp_path):
    strings = np.array([["A", "B"], ["C", "A"]])
    ids = host(L.Hashing(num_bins=3)(strings))
    hot = host(L.Hashing(num_bins=3, output_mode="multi_hot")(strings))
    np.testing.assert_array_equal(hot, [[1.0 if b in row else 0.0 for b in range(3)] for row in ids])
    assert host(L.Hashing(num_bins=3, dtype="int32")(strings)).dtype == np.int32
    floats = host(L.Hashing(num_bins=5)(np.array([[1.7], [2.2]])))  # floats are truncated first
    np.testing.assert_array_equal(floats, host(L.Hashing(num_bins=5)(np.array([[1], [2]]))))
    inputs = gpunet.Input((2,), dtype="int64")
    model = gpunet.Model(inputs, L.Hashing(num_bins=7, salt=3, output_mode="count")(inputs))
    numbers = np.array([[5, 11], [5, 5]])
    expected = host(L.Hashing(num_bins=7, salt=3, output_mode="count")(numbers))
    np.testing.assert_array_equal(host(model.predict(numbers, verbose=0)), expected)
    model.save(tmp_path / "h.keras")
    np.testing.assert_array_equal(host(gpunet.load_model(tmp_path / "h.keras").predict(numbers, verbose=0)), expected)
    layer = L.Hashing(num_bins=4, salt=[1, 2], mask_value="", output_mode="one_hot")
    assert L.Hashing.from_config(layer.get_config()).get_config() == layer.get_config()
    for bad, match in (({"num_bins": 0}, "num_bins"), ({"num_bins": 3, "salt": "x"}, "salt"),
                       ({"num_bins": 3, "output_mode": "tf_idf"}, "output_mode"),
                       ({"num_bins": 3, "dtype": "float32"}, "dtype"), ({"num_bins": 3, "sparse": True}, "sparse")):
        with pytest.raises(ValueError, match=match):
            L.Hashing(**bad)


def test_symbolic_outputs_carry_the_dtype_of_ids_and_encodings():
    keras = import_keras()
    ours = [L.Discretization(bin_boundaries=[0.0, 1.0])(gpunet.Input((3,))),
            L.Discretization(bin_boundaries=[0.0, 1.0], output_mode="one_hot")(gpunet.Input((3,))),
            L.Hashing(num_bins=5)(gpunet.Input((2,), dtype="int64")),
            L.Hashing(num_bins=5, dtype="int32")(gpunet.Input((2,), dtype="int64")),
            L.CategoryEncoding(num_tokens=4)(gpunet.Input((2,), dtype="int64"))]
    theirs = [keras.layers.Discretization(bin_boundaries=[0.0, 1.0])(keras.Input((3,))),
              keras.layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode="one_hot")(keras.Input((3,))),
              None, None, keras.layers.CategoryEncoding(num_tokens=4)(keras.Input((2,), dtype="int64"))]
    assert [t.dtype for t in ours] == ["int32", "float32", "int64", "int32", "float32"]
    for a, b in zip(ours, theirs):
        if b is not None:  # Keras's Hashing needs TensorFlow even for its symbolic outputs
            assert a.dtype == b.dtype and a.shape == tuple(b.shape)
