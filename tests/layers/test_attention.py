"""Attention layers and EinsumDense against float64 NumPy formulas: values (masks, causal masks,
attention axes), gradients by finite differences, dropout in training and inference, the masks
they hand on, configs and bad arguments. (Against the real Keras 3 and its files:
test_attention_keras.py.)"""

import numpy as np
import pytest

import gpunet
from gpunet import Tensor, backend, gradcheck, ops
from gpunet.layers import AdditiveAttention, Attention, EinsumDense, MultiHeadAttention

B, T, S, D, HEADS, KEY_DIM = 2, 4, 5, 6, 2, 3


def host(t):
    return backend.to_host(t.data if isinstance(t, Tensor) else t)


def randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.normal(0, scale, w.shape) for w in layer.get_weights()])
    return [w.astype(np.float64) for w in layer.get_weights()]


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def mha_reference(q, v, k, weights, key_dim, keep=None, zero_masked=True):
    """softmax(Q K^T / sqrt(key_dim)) V per head, then the output projection; ``keep`` (B, T, S)."""
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    query = np.einsum("btd,dnh->btnh", q, wq) + bq
    key = np.einsum("bsd,dnh->bsnh", k, wk) + bk
    value = np.einsum("bsd,dnh->bsnh", v, wv) + bv
    scores = np.einsum("btnh,bsnh->bnts", query, key) / np.sqrt(key_dim)
    if keep is not None:
        scores = np.where(keep[:, None], scores, -1e9)
    probabilities = softmax(scores)
    if keep is not None and zero_masked:
        probabilities = np.where(keep[:, None], probabilities, 0.0)
    heads = np.einsum("bnts,bsnh->btnh", probabilities, value)
    return np.einsum("btnh,nhd->btd", heads, wo) + bo, probabilities


def data(rng, *shapes):
    return [rng.standard_normal(shape) for shape in shapes]


def with_mask(x, mask):
    t = Tensor(backend.to_device(x))
    t._keras_mask = Tensor(backend.to_device(mask))
    return t


# -- EinsumDense -----------------------------------------------------------------------------------
EQUATIONS = [  # equation, output_shape, bias_axes, input shape, kernel shape, bias shape, output shape
    ("ab,bc->ac", 5, "c", (3, 4), (4, 5), (5,), (3, 5)),
    ("abc,cde->abde", (None, 2, 3), "de", (3, 4, 6), (6, 2, 3), (2, 3), (3, 4, 2, 3)),
    ("abcd,cde->abe", (None, 5), "e", (3, 4, 2, 3), (2, 3, 5), (5,), (3, 4, 5)),
    ("...b,bc->...c", 5, "c", (3, 4, 6), (6, 5), (5,), (3, 4, 5)),
    ("ab...,bc->ac...", 5, "c", (3, 4, 2, 2), (4, 5), (5, 1, 1), (3, 5, 2, 2)),
    ("abc,cd->abd", (4, 5), "b", (3, 4, 6), (6, 5), (4, 1), (3, 4, 5)),
    ("abc,bcd->ad", 5, None, (3, 4, 6), (4, 6, 5), None, (3, 5)),
]


@pytest.mark.parametrize("equation,output_shape,bias_axes,x_shape,kernel,bias,out", EQUATIONS,
                         ids=[e[0] for e in EQUATIONS])
def test_einsum_dense_is_the_einsum_plus_bias(xp, rng, equation, output_shape, bias_axes, x_shape, kernel, bias, out):
    layer = EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="tanh", dtype="float64")
    x = rng.standard_normal(x_shape)
    y = layer(x)
    assert [w.shape for w in layer.get_weights()] == [kernel] + ([bias] if bias else [])
    assert layer.compute_output_shape((None, *x_shape[1:])) == (None, *out[1:])
    weights = randomize(layer, rng)
    expected = np.einsum(equation, x, weights[0]) + (weights[1] if bias else 0.0)
    np.testing.assert_allclose(host(layer(x)), np.tanh(expected), rtol=1e-12, atol=1e-12)
    assert y.shape == out
    assert gradcheck(lambda t: layer(t), [x])


def test_einsum_dense_kernel_takes_its_fans_from_the_equation(rng):
    """Glorot's limit sqrt(6 / (fan_in + fan_out)) with fan_in = 64 (the contracted axis) and
    fan_out = 4 * 16 (the made axes), as Keras tells its initializer the kernel's axes: 0.217,
    where the default fans of a (64, 4, 16) kernel would give 0.068."""
    layer = EinsumDense("abc,cde->abde", (None, 4, 16), kernel_initializer="glorot_uniform")
    layer.build((None, 3, 64))
    kernel = layer.get_weights()[0]
    assert 0.2 < np.abs(kernel).max() <= np.sqrt(6 / 128)
    assert layer.get_config()["kernel_initializer"]["config"]["input_axes"] is None  # the argument is kept as given


def test_einsum_dense_config_round_trip():
    layer = EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de", activation="relu", kernel_regularizer="l2",
                        name="proj")
    config = layer.get_config()
    assert config["equation"] == "abc,cde->abde" and config["output_shape"] == [None, 2, 3]
    assert config["bias_axes"] == "de" and config["activation"] == "relu"
    again = gpunet.layers.deserialize(gpunet.layers.serialize(layer))
    assert type(again) is EinsumDense and again.get_config() == config


@pytest.mark.parametrize("kwargs,match", [
    ({"equation": "ab->b", "output_shape": 3}, "equation"),
    ({"equation": "ab,bc->ac", "output_shape": (3, 4)}, "output_shape"),
    ({"equation": "ab,bc->ac", "output_shape": 3, "bias_axes": "z"}, "bias_axes"),
    ({"equation": "ab,bz->ac", "output_shape": 3}, "neither the input nor"),
    ({"equation": "ab,bcz->ac", "output_shape": 3}, "kernel label 'z'"),
    ({"equation": "ab,bc->ac", "output_shape": -1}, "output_shape"),
    ({"equation": "ab,bc->ac", "output_shape": 3, "lora_rank": 4}, "lora_rank"),
])
def test_einsum_dense_refuses_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        EinsumDense(**kwargs).build((None, 4))


# -- MultiHeadAttention: values ----------------------------------------------------------------------
def mha(**kwargs):
    return MultiHeadAttention(HEADS, KEY_DIM, dtype="float64", **kwargs)


def test_mha_weights_have_kerass_shapes_names_and_order(rng):
    layer = MultiHeadAttention(HEADS, KEY_DIM, value_dim=4, output_shape=7, name="att")
    layer(*data(rng, (B, T, D), (B, S, 5)))
    assert [(w.name, w.shape) for w in layer.weights] == [
        ("att/query/kernel", (D, HEADS, KEY_DIM)), ("att/query/bias", (HEADS, KEY_DIM)),
        ("att/key/kernel", (5, HEADS, KEY_DIM)), ("att/key/bias", (HEADS, KEY_DIM)),
        ("att/value/kernel", (5, HEADS, 4)), ("att/value/bias", (HEADS, 4)),
        ("att/attention_output/kernel", (HEADS, 4, 7)), ("att/attention_output/bias", (7,))]


def test_mha_without_bias_has_only_kernels(rng):
    layer = MultiHeadAttention(HEADS, KEY_DIM, use_bias=False, name="nb")
    layer(*data(rng, (B, T, D), (B, S, D)))
    assert [w.name for w in layer.weights] == ["nb/query/kernel", "nb/key/kernel", "nb/value/kernel",
                                              "nb/attention_output/kernel"]


CASES = {  # name: (call arguments, the mask the reference uses), built from the data
    "plain": lambda q, v, rng: ({}, None),
    "causal": lambda q, v, rng: ({"use_causal_mask": True}, np.tril(np.ones((T, S), bool))[None].repeat(B, 0)),
    "attention_mask": lambda q, v, rng: ((lambda m: ({"attention_mask": m}, m))(rng.random((B, T, S)) > 0.4)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mha_is_scaled_dot_product_attention(xp, rng, case):
    q, v, k = data(rng, (B, T, D), (B, S, D), (B, S, D))
    layer = mha()
    layer(q, v, k)
    weights = randomize(layer, rng)
    kwargs, keep = CASES[case](q, v, rng)
    out, scores = layer(q, v, k, return_attention_scores=True, **kwargs)
    expected, probabilities = mha_reference(q, v, k, weights, KEY_DIM, keep)
    np.testing.assert_allclose(host(out), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(scores), probabilities, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(layer(q, v, k, **kwargs)), expected, rtol=1e-10, atol=1e-12)


def test_mha_takes_the_masks_its_inputs_carry(xp, rng):
    """The query's mask keeps query rows, the value's and key's keep key positions; a query row
    that may attend to nothing is uniform over the keys when Keras takes its fused path (no
    dropout, no scores returned) and zeros otherwise; the output carries the query's mask."""
    q, v, k = data(rng, (B, T, D), (B, S, D), (B, S, D))
    query_mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
    value_mask = np.array([[1, 1, 1, 1, 0], [1, 0, 1, 1, 1]], bool)
    key_mask = np.array([[1, 1, 0, 1, 1], [1, 1, 1, 1, 1]], bool)
    layer = mha()
    layer(q, v, k)
    weights = randomize(layer, rng)
    query, value, key = with_mask(q, query_mask), with_mask(v, value_mask), with_mask(k, key_mask)
    keep = query_mask[:, :, None] & value_mask[:, None] & key_mask[:, None]
    out, scores = layer(query, value, key, return_attention_scores=True)
    expected, probabilities = mha_reference(q, v, k, weights, KEY_DIM, keep, zero_masked=True)
    np.testing.assert_allclose(host(out), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(scores), probabilities, rtol=1e-10, atol=1e-12)
    assert not host(scores)[0, :, 3].any()  # the masked query row attends to nothing
    fused = layer(query, value, key)
    expected_fused, _ = mha_reference(q, v, k, weights, KEY_DIM, keep, zero_masked=False)
    np.testing.assert_allclose(host(fused), expected_fused, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(host(fused._keras_mask), query_mask)
    explicit = layer(Tensor(backend.to_device(q)), v, k, value_mask=value_mask, key_mask=key_mask)
    expected_explicit, _ = mha_reference(q, v, k, weights, KEY_DIM, value_mask[:, None] & key_mask[:, None])
    np.testing.assert_allclose(host(explicit), expected_explicit, rtol=1e-10, atol=1e-12)


def test_mha_over_two_attention_axes(rng):
    """Inputs (B, 2, 3, D) attended over axes 1 and 2 jointly: the same as attention over the
    6 flattened positions."""
    q = rng.standard_normal((B, 2, 3, D))
    layer = mha(attention_axes=(1, 2))
    layer(q, q)
    weights = randomize(layer, rng)
    out, scores = layer(q, q, return_attention_scores=True)
    assert scores.shape == (B, HEADS, 2, 3, 2, 3)
    flat = q.reshape(B, 6, D)
    expected, probabilities = mha_reference(flat, flat, flat, weights, KEY_DIM)
    np.testing.assert_allclose(host(out).reshape(B, 6, D), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(scores).reshape(B, HEADS, 6, 6), probabilities, rtol=1e-10, atol=1e-12)
    assert layer.get_config()["attention_axes"] == [1, 2]


def test_mha_over_the_first_axis_of_three_attends_per_column(rng):
    """attention_axes=(1,) on (B, 3, 2, D): each of the 2 columns is a sequence of 3 on its own."""
    q = rng.standard_normal((B, 3, 2, D))
    layer = mha(attention_axes=1)
    layer(q, q)
    weights = randomize(layer, rng)
    out = host(layer(q, q))
    for column in range(2):
        x = q[:, :, column]
        np.testing.assert_allclose(out[:, :, column], mha_reference(x, x, x, weights, KEY_DIM)[0], rtol=1e-10,
                                   atol=1e-12)


# -- MultiHeadAttention: gradients, dropout, config ------------------------------------------------------
def assert_weight_gradients(layer, forward, rng, eps=1e-6):
    """Every trainable weight's gradient of sum(w * forward()) against central differences."""
    layer.zero_grad()
    out = forward()
    w = backend.to_device(rng.standard_normal(out.shape))
    ops.sum(ops.multiply(out, w)).backward()
    for param in layer.trainable_weights:
        analytic = host(param.grad)
        numeric = np.zeros(param.shape)
        for index in np.ndindex(*param.shape):
            original = float(host(param.data)[index])
            values = []
            for step in (eps, -eps):
                param.data[index] = original + step
                with gpunet.no_grad():
                    values.append(float(host(ops.sum(ops.multiply(forward(), w)))))
            param.data[index] = original
            numeric[index] = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7, err_msg=param.name)


def test_mha_gradients_by_finite_differences(xp, rng):
    q, v = data(rng, (B, T, D), (B, S, D))
    mask = rng.random((B, T, S)) > 0.3
    layer = mha()
    layer(q, v)
    randomize(layer, rng)
    assert gradcheck(lambda a, b: layer(a, b, attention_mask=mask, use_causal_mask=True), [q, v])
    assert_weight_gradients(layer, lambda: layer(q, v, attention_mask=mask), rng)


def assert_mean_is(draw, expected, count=400):
    """Inverted dropout leaves the expectation unchanged: the mean of ``count`` draws is within
    five standard errors of ``expected`` (dropping without the 1 / (1 - rate) rescaling would
    land far outside)."""
    draws = np.stack([draw() for _ in range(count)])
    error = draws.std(axis=0) / np.sqrt(count)
    assert np.all(np.abs(draws.mean(axis=0) - expected) <= 5 * error + 1e-12)


def test_mha_dropout_acts_in_training_only(rng):
    gpunet.utils.set_random_seed(3)
    q, v = data(rng, (B, T, D), (B, S, D))
    layer, plain = mha(dropout=0.5), mha()
    layer(q, v)
    plain(q, v)
    plain.set_weights(randomize(layer, rng))
    inference = host(layer(q, v))
    np.testing.assert_array_equal(inference, host(plain(q, v)))
    np.testing.assert_array_equal(host(layer(q, v, training=False)), inference)
    first, scores = layer(q, v, training=True, return_attention_scores=True)
    np.testing.assert_allclose(host(scores), host(plain(q, v, return_attention_scores=True)[1]), rtol=1e-12)
    assert np.abs(host(first) - inference).max() > 1e-3
    assert np.abs(host(layer(q, v, training=True)) - host(first)).max() > 1e-3  # a new mask each call
    assert_mean_is(lambda: host(layer(q, v, training=True)), inference)


def test_mha_config_round_trip_and_keyword_call(rng):
    layer = MultiHeadAttention(4, 8, value_dim=6, dropout=0.1, use_bias=False, output_shape=(5,), attention_axes=[1],
                               kernel_initializer="he_normal", kernel_regularizer="l2", name="att")
    config = layer.get_config()
    assert {k: config[k] for k in ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape",
                                   "attention_axes", "seed")} == {
        "num_heads": 4, "key_dim": 8, "value_dim": 6, "dropout": 0.1, "use_bias": False, "output_shape": [5],
        "attention_axes": [1], "seed": None}
    again = gpunet.layers.deserialize(gpunet.layers.serialize(layer))
    assert type(again) is MultiHeadAttention and again.get_config() == config
    q = rng.standard_normal((B, T, D)).astype(np.float32)
    assert again(query=q, value=q).shape == (B, T, 5)
    assert again.get_build_config() == {"shapes_dict": {"query_shape": [None, T, D], "value_shape": [None, T, D]}}


@pytest.mark.parametrize("kwargs,match", [
    ({"num_heads": 0, "key_dim": 2}, "num_heads"), ({"num_heads": 2, "key_dim": 1.5}, "key_dim"),
    ({"num_heads": 2, "key_dim": 2, "value_dim": -1}, "value_dim"),
    ({"num_heads": 2, "key_dim": 2, "dropout": 1.0}, "dropout"),
    ({"num_heads": 2, "key_dim": 2, "attention_axes": "time"}, "attention_axes"),
    ({"num_heads": 2, "key_dim": 2, "flash_attention": True}, "flash_attention"),
    ({"num_heads": 2, "key_dim": 2, "seed": 1}, "seed"), ({"num_heads": 2, "key_dim": 2, "use_gate": True}, "use_gate"),
    ({"num_heads": 2, "key_dim": 2, "output_shape": (0,)}, "output_shape"),
])
def test_mha_refuses_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MultiHeadAttention(**kwargs)


def test_mha_refuses_bad_calls(rng):
    q = rng.standard_normal((B, T, D))
    with pytest.raises(TypeError, match="query and value"):
        MultiHeadAttention(2, 2)(q)
    with pytest.raises(ValueError, match="value and key"):
        MultiHeadAttention(2, 2)(q, q, rng.standard_normal((B, T + 1, D)))
    with pytest.raises(ValueError, match="attention_axes"):
        MultiHeadAttention(2, 2, attention_axes=2)(q, q)


def test_mha_trains_in_a_functional_model(rng):
    """fit records the step (MultiHeadAttention keeps the recording contract) and lowers the loss."""
    gpunet.utils.set_random_seed(0)
    x = rng.standard_normal((32, T, D)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    inputs = gpunet.Input((T, D))
    hidden = MultiHeadAttention(2, 4)(inputs, inputs, use_causal_mask=True)
    outputs = gpunet.layers.Dense(2, activation="softmax")(gpunet.layers.GlobalAveragePooling1D()(hidden))
    model = gpunet.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    losses = model.fit(x, y, epochs=8, batch_size=8, verbose=0).history["loss"]
    assert losses[-1] < losses[0]


# -- Attention, AdditiveAttention -------------------------------------------------------------------
def luong_reference(q, v, k, kind, weights, query_mask=None, value_mask=None, causal=False):
    if kind == "dot":
        scores = np.einsum("btd,bsd->bts", q, k) * (weights[0] if weights else 1.0)
    elif kind == "concat":
        scale, weight = weights
        scores = weight * np.tanh(scale * (q[:, :, None] + k[:, None])).sum(-1)
    else:  # additive
        scale = weights[0] if weights else 1.0
        scores = (scale * np.tanh(q[:, :, None] + k[:, None])).sum(-1)
    keep = np.ones(scores.shape, bool)
    if value_mask is not None:
        keep &= value_mask[:, None]
    if causal:
        keep &= np.tril(np.ones(scores.shape[1:], bool))
    probabilities = softmax(np.where(keep, scores, scores - 1e9))
    out = probabilities @ v
    if query_mask is not None:
        out = np.where(query_mask[..., None], out, 0.0)
    return out, probabilities


ATTENTIONS = {
    "dot": lambda: Attention(dtype="float64"), "dot_scaled": lambda: Attention(use_scale=True, dtype="float64"),
    "concat": lambda: Attention(use_scale=True, score_mode="concat", dtype="float64"),
    "additive": lambda: AdditiveAttention(dtype="float64"),
    "additive_unscaled": lambda: AdditiveAttention(use_scale=False, dtype="float64"),
}


@pytest.mark.parametrize("name", sorted(ATTENTIONS))
def test_attention_layers_follow_their_formulas(xp, rng, name):
    q, v, k = data(rng, (B, T, D), (B, S, D), (B, S, D))
    query_mask = rng.random((B, T)) > 0.3
    value_mask = rng.random((B, S)) > 0.3
    value_mask[:, 0] = True
    layer = ATTENTIONS[name]()
    layer([q, v, k])
    weights = randomize(layer, rng)
    kind = "dot" if name.startswith("dot") else name.split("_")[0]
    for kwargs, masks in [({}, {}), ({"use_causal_mask": True}, {"causal": True}),
                          ({"mask": [query_mask, value_mask]}, {"query_mask": query_mask, "value_mask": value_mask})]:
        out, scores = layer([q, v, k], return_attention_scores=True, **kwargs)
        expected, probabilities = luong_reference(q, v, k, kind, weights, **masks)
        np.testing.assert_allclose(host(out), expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(host(scores), probabilities, rtol=1e-10, atol=1e-12)
    carried = layer([with_mask(q, query_mask), with_mask(v, value_mask)])  # the masks the inputs carry
    np.testing.assert_allclose(host(carried), luong_reference(q, v, v, kind, weights, query_mask, value_mask)[0],
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(host(carried._keras_mask), query_mask)
    assert gradcheck(lambda a, b, c: layer([a, b, c], use_causal_mask=True), [q, v, k])
    if layer.trainable_weights:
        assert_weight_gradients(layer, lambda: layer([q, v, k], mask=[None, value_mask]), rng)


def test_attention_dropout_acts_in_training_only(rng):
    gpunet.utils.set_random_seed(5)
    q, v = data(rng, (B, T, D), (B, S, D))
    layer = Attention(dropout=0.5, dtype="float64")
    inference = host(layer([q, v]))
    np.testing.assert_allclose(inference, luong_reference(q, v, v, "dot", [])[0], rtol=1e-12)
    assert np.abs(host(layer([q, v], training=True)) - inference).max() > 1e-3
    assert_mean_is(lambda: host(layer([q, v], training=True)), inference)


def test_attention_configs_and_bad_arguments():
    for layer in (Attention(use_scale=True, score_mode="concat", dropout=0.2), AdditiveAttention(use_scale=False)):
        config = layer.get_config()
        again = gpunet.layers.deserialize(gpunet.layers.serialize(layer))
        assert type(again) is type(layer) and again.get_config() == config
    assert "score_mode" not in AdditiveAttention().get_config()
    with pytest.raises(ValueError, match="score_mode"):
        Attention(score_mode="general")
    with pytest.raises(ValueError, match="dropout"):
        AdditiveAttention(dropout=-0.1)
    with pytest.raises(ValueError, match="seed"):
        Attention(seed=3)
    with pytest.raises(ValueError, match="list"):
        Attention()(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="mask"):
        Attention()([np.zeros((1, 2, 3)), np.zeros((1, 2, 3))], mask=np.ones((1, 2), bool))


def test_a_recorded_step_replays_the_eager_one(rng):
    """fit records MultiHeadAttention's step and replays it: the weights after three epochs are
    those of the eager run (masks made from the data included)."""
    x = rng.standard_normal((16, T, D)).astype(np.float32)
    x[:4, -1] = 0.0
    y = rng.integers(0, 2, 16)
    results = []
    for eager in (True, False):
        gpunet.utils.set_random_seed(0)
        inputs = gpunet.Input((T, D))
        masked = ZeroMask()(inputs)
        hidden = MultiHeadAttention(2, 4)(masked, masked, use_causal_mask=True)
        hidden = AdditiveAttention()([hidden, masked])
        outputs = gpunet.layers.Dense(2, activation="softmax")(gpunet.layers.GlobalAveragePooling1D()(hidden))
        model = gpunet.Model(inputs, outputs)
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=eager)
        model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
        results.append(model.get_weights())
    for eager, replayed in zip(*results):
        np.testing.assert_allclose(replayed, eager, rtol=1e-6, atol=1e-7)


@gpunet.saving.register_serializable(package="tests")
class ZeroMask(gpunet.layers.Layer):
    """Masks the time steps whose features are all zero (what Masking does)."""

    supports_recording = True

    def call(self, x):
        return x

    def compute_mask(self, inputs, mask=None):
        return ops.any(ops.not_equal(inputs, 0.0), axis=-1)
