"""Embedding and its gather op: values against NumPy's indexing in float64, the table's gradient
by finite differences and against ``numpy.add.at``, the two scatter-adds against each other,
integer ids through fit/evaluate/predict, shuffling, validation_split and rank sharding.
(Keras parity: test_embedding_keras.py.)"""

import numpy as np
import pytest

import gpunet
from gpunet import Tensor, backend, ops
from gpunet import layers as L
from gpunet.data import Batches
from gpunet.distributed.sharding import ShardedBatches
from gpunet.ops.gather import _scatter_atomic, _scatter_sorted, scatter_add_rows
from gpunet.training.arguments import data_dtypes


def host(t):
    return backend.to_host(t.data if isinstance(t, Tensor) else t)


@pytest.mark.parametrize("scatter", [_scatter_atomic, _scatter_sorted, scatter_add_rows])
def test_each_scatter_add_sums_repeated_ids_as_numpy_add_at(xp, rng, scatter):
    values = rng.standard_normal((40, 3, 2))
    ids = rng.integers(0, 6, 40)
    ids[:5] = 4  # a run of one id
    expected = np.zeros((9, 3, 2))
    np.add.at(expected, ids, values)
    got = host(scatter(xp.asarray(values), xp.asarray(ids), 9))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert not got[[6, 7, 8]].any()  # rows no id names get nothing
    empty = host(scatter(xp.asarray(values[:0]), xp.asarray(ids[:0]), 4))
    assert empty.shape == (4, 3, 2) and not empty.any()


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_take_along_an_axis_gathers_and_its_gradient_is_a_scatter_add(xp, rng, axis):
    table = rng.standard_normal((5, 4, 3))
    ids = np.array([[0, 2, 2], [1, 0, 2]])  # repeated ids
    t = Tensor(xp.asarray(table), requires_grad=True)
    out = ops.take(t, xp.asarray(ids), axis=axis)
    np.testing.assert_array_equal(host(out), np.take(table, ids, axis=axis))
    weights = rng.standard_normal(out.shape)
    (out * Tensor(xp.asarray(weights))).sum().backward()
    moved = np.moveaxis(table, axis, 0)
    expected = np.zeros_like(moved)
    np.add.at(expected, ids.reshape(-1), np.moveaxis(weights, list(range(axis % 3, axis % 3 + 2)), [0, 1]).reshape(
        ids.size, *moved.shape[1:]))
    np.testing.assert_allclose(host(t.grad), np.moveaxis(expected, 0, axis), rtol=1e-12, atol=1e-12)
    assert gpunet.gradcheck(lambda a: ops.take(a, ids, axis=axis), [table])


def test_negative_ids_count_from_the_end_in_the_gradient_too(rng):
    table = rng.standard_normal((4, 2))
    t = Tensor(table, requires_grad=True)
    ops.take(t, np.array([-1, 3, 0]), axis=0).sum().backward()
    np.testing.assert_allclose(host(t.grad), [[1, 1], [0, 0], [0, 0], [2, 2]])


def test_embedding_looks_up_rows_and_its_gradient_adds_per_id(xp, rng):
    layer = L.Embedding(7, 3, dtype="float64")
    ids = np.array([[1, 4, 4, 0], [6, 1, 1, 1]])
    out = layer(xp.asarray(ids))
    table = layer.get_weights()[0]
    assert out.shape == (2, 4, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(host(out), table[ids])
    assert np.abs(table).max() <= 0.05  # Keras's "uniform": U[-0.05, 0.05]
    np.testing.assert_array_equal(host(layer(xp.asarray(ids.astype("float32")))), table[ids])  # float ids are cast
    upstream = rng.standard_normal((2, 4, 3))
    (layer(xp.asarray(ids)) * Tensor(xp.asarray(upstream))).sum().backward()
    expected = np.zeros((7, 3))
    np.add.at(expected, ids.reshape(-1), upstream.reshape(-1, 3))
    np.testing.assert_allclose(host(layer.embeddings.grad), expected, rtol=1e-12)
    assert gpunet.gradcheck(lambda w: ops.take(w, ids, axis=0), [table])


def test_under_mixed_precision_the_table_stays_float32_and_the_output_is_float16():
    layer = L.Embedding(5, 2, dtype="mixed_float16")
    out = layer(np.array([[1, 4]]))
    assert layer.embeddings.dtype == np.float32 and out.dtype == np.float16
    np.testing.assert_array_equal(host(out), layer.get_weights()[0][[[1, 4]]].astype(np.float16))


def test_mask_zero_marks_the_padding_and_compute_output_shape():
    ids = np.array([[3, 0, 2], [0, 0, 1]])
    masked, plain = L.Embedding(4, 2, mask_zero=True), L.Embedding(4, 2)
    np.testing.assert_array_equal(host(masked.compute_mask(Tensor(ids))), ids != 0)
    assert plain.compute_mask(Tensor(ids)) is None
    assert masked.supports_masking and not plain.supports_masking
    out = masked(ids)
    np.testing.assert_array_equal(host(out._keras_mask), ids != 0)
    assert getattr(plain(ids), "_keras_mask", None) is None
    assert masked.compute_output_shape((None, 3)) == (None, 3, 2)
    assert masked.compute_output_shape((None, 5, 3)) == (None, 5, 3, 2)


def test_config_round_trip_weights_argument_and_bad_arguments():
    table = np.arange(12, dtype="float32").reshape(4, 3)
    layer = L.Embedding(4, 3, embeddings_regularizer="l2", embeddings_constraint="non_neg", mask_zero=True,
                        weights=table, name="emb")
    np.testing.assert_array_equal(layer.get_weights()[0], table)
    config = layer.get_config()
    assert config["input_dim"] == 4 and config["output_dim"] == 3 and config["mask_zero"] is True
    again = L.Embedding.from_config(config)
    assert again.get_config() == config
    assert gpunet.layers.deserialize(gpunet.layers.serialize(layer)).get_config() == config
    np.testing.assert_array_equal(L.Embedding(4, 3, weights=[table]).get_weights()[0], table)
    for kwargs, word in [({"input_dim": 0}, "input_dim"), ({"output_dim": 2.5}, "output_dim"),
                         ({"lora_rank": 4}, "lora_rank"), ({"quantization_config": "int8"}, "quantization_config"),
                         ({"weights": np.zeros((3, 3))}, "shape")]:
        with pytest.raises(ValueError, match=word):
            L.Embedding(**{"input_dim": 4, "output_dim": 3, **kwargs})
    with pytest.raises(TypeError, match="mask_zero"):
        L.Embedding(4, 3, mask_zero="yes")
    with pytest.warns(UserWarning, match="input_length"):
        assert L.Embedding(4, 3, input_length=10).get_config()["input_dim"] == 4
    with pytest.raises(IndexError):
        L.Embedding(4, 3)(np.array([[4]]))


def _text_data(rng, n=96, steps=12, vocabulary=30):
    x = rng.integers(1, vocabulary, (n, steps)).astype("int32")
    lengths = rng.integers(3, steps + 1, n)
    x[np.arange(steps) >= lengths[:, None]] = 0  # padded at the end
    y = (x[:, 0] % 2).astype("int64")
    return x, y


@pytest.mark.parametrize("declared", [True, False], ids=["Input-int32", "no-Input"])
def test_integer_ids_go_through_fit_evaluate_and_predict_as_integers(xp, rng, declared):
    x, y = _text_data(rng)
    layers = [L.Embedding(30, 8, mask_zero=True), L.GlobalAveragePooling1D(), L.Dense(2, activation="softmax")]
    model = gpunet.Sequential(([gpunet.Input((12,), dtype="int32")] if declared else []) + layers)
    model.compile(optimizer=gpunet.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    seen = []
    original = L.Embedding.call

    def spy(self, ids, training=False):
        seen.append(ids.dtype)
        return original(self, ids, training)

    L.Embedding.call = spy
    try:
        history = model.fit(x, y, epochs=8, batch_size=16, validation_split=0.25, shuffle=True, verbose=0).history
        loss, accuracy = model.evaluate(x, y, verbose=0)
        predicted = model.predict(x, batch_size=32, verbose=0)
    finally:
        L.Embedding.call = original
    assert model.layers[0].built and model.input_shape == (None, 12)
    assert seen and {np.dtype(d) for d in seen} == {np.dtype("int32")}  # never cast to float on the way
    assert data_dtypes(model, x.astype("int64"), y, None)[0] == np.dtype("int32")
    assert history["loss"][-1] < history["loss"][0] and accuracy > 0.75  # y: the parity of the first id
    assert predicted.shape == (96, 2)
    np.testing.assert_allclose(loss, history["loss"][-1], rtol=0.5)


def test_integer_batches_keep_their_dtype_when_shuffled_and_sharded(rng):
    x, y = _text_data(rng, n=37)
    order = rng.permutation(37)
    def epoch(batches):  # copies: a batch's buffer is reused by the next
        return [tuple(None if a is None else np.array(backend.to_host(a)) for a in b) for b in batches.iterate(order)]

    whole = epoch(Batches(x, y, 8))
    for rank in range(3):
        parts = epoch(ShardedBatches(Batches(x, y, 8), rank, 3))
        assert len(parts) == len(whole)
        for (xb, yb, _), (xw, _, _) in zip(parts, whole):
            assert xb.dtype == np.int32 and yb.dtype == y.dtype
            start = sum(len(p) for p in np.array_split(np.arange(len(xw)), 3)[:rank])
            np.testing.assert_array_equal(backend.to_host(xb), backend.to_host(xw)[start:start + len(xb)])
