"""Attention layers and EinsumDense against the real Keras 3 (on JAX): values with identical
weights (float32), the masks a functional model carries, configs, and files both ways with one
SGD step (``assert_layer_matches_keras``)."""

import io
import json
import zipfile

import numpy as np
import pytest

import gpunet
from gpunet import Tensor, backend
from gpunet import layers as L
from keras_parity import assert_layer_matches_keras, import_keras

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

B, T, S, D = 2, 5, 6, 8


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def host(value):
    return backend.to_host(value.data) if isinstance(value, Tensor) else np.asarray(value)


def same_weights(ours, theirs, rng):
    """Random weights given to both layers (Keras's order is gpunet's: checked by the shapes)."""
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in theirs.get_weights()]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)


def assert_close(ours, theirs, atol=2e-5):
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_close(a, b, atol)
        return
    np.testing.assert_allclose(host(ours), np.asarray(theirs), rtol=1e-5, atol=atol)


EQUATIONS = [("ab,bc->ac", 5, "c", (3, 4)), ("abc,cde->abde", (None, 2, 3), "de", (3, 4, 6)),
             ("abcd,cde->abe", (None, 5), "e", (3, 4, 2, 3)), ("...b,bc->...c", 5, "c", (3, 4, 6)),
             ("ab...,bc->ac...", 5, "c", (3, 4, 2, 2)), ("abc,bcd->ad", 5, None, (3, 4, 6))]


@pytest.mark.parametrize("equation,output_shape,bias_axes,x_shape", EQUATIONS, ids=[e[0] for e in EQUATIONS])
def test_einsum_dense_matches_keras(keras, rng, equation, output_shape, bias_axes, x_shape):
    x = rng.standard_normal(x_shape).astype(np.float32)
    ours = L.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="relu")
    theirs = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="relu")
    ours(x)
    theirs(x)
    same_weights(ours, theirs, rng)
    assert_close(ours(x), theirs(x))
    shape = (None, *x_shape[1:])
    known = ours.compute_output_shape(shape)
    assert all(a is None or a == b for a, b in zip(theirs.compute_output_shape(shape), known))
    rebuilt = keras.layers.EinsumDense.from_config(ours.get_config())
    assert rebuilt.get_config()["output_shape"] == tuple(ours.get_config()["output_shape"])


MHA_CASES = {  # (constructor arguments, call arguments)
    "plain": ({}, {}),
    "causal": ({}, {"use_causal_mask": True}),
    "scores": ({"value_dim": 3, "output_shape": 7}, {"return_attention_scores": True}),
    "attention_mask": ({"use_bias": False}, {"attention_mask": np.random.default_rng(1).random((B, T, S)) > 0.4}),
    "key": ({}, {"key": np.random.default_rng(2).standard_normal((B, S, 4)).astype(np.float32)}),
    "dropout_inference": ({"dropout": 0.3}, {"use_causal_mask": True}),
}


@pytest.mark.parametrize("case", sorted(MHA_CASES))
def test_multi_head_attention_matches_keras(keras, rng, case):
    kwargs, call = MHA_CASES[case]
    q = rng.standard_normal((B, T, D)).astype(np.float32)
    v = rng.standard_normal((B, S, D)).astype(np.float32)
    ours, theirs = L.MultiHeadAttention(2, 4, **kwargs), keras.layers.MultiHeadAttention(2, 4, **kwargs)
    ours(q, v, **call)
    theirs(q, v, **call)
    same_weights(ours, theirs, rng)
    assert_close(ours(q, v, **call), theirs(q, v, **call))
    ours_config, their_config = ours.get_config(), theirs.get_config()
    for key in ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape", "attention_axes"):
        theirs_value = their_config[key]
        assert ours_config[key] == (list(theirs_value) if isinstance(theirs_value, tuple) else theirs_value)


def test_multi_head_attention_over_two_axes_matches_keras(keras, rng):
    x = rng.standard_normal((B, 2, 3, D)).astype(np.float32)
    ours = L.MultiHeadAttention(2, 4, attention_axes=(1, 2))
    theirs = keras.layers.MultiHeadAttention(2, 4, attention_axes=(1, 2))
    ours(x, x)
    theirs(x, x)
    same_weights(ours, theirs, rng)
    assert_close(ours(x, x, return_attention_scores=True), theirs(x, x, return_attention_scores=True))


def zero_mask_class(lib):
    class ZeroMask(lib.layers.Layer):
        """Masks the time steps whose features are all zero (what Masking does)."""

        def call(self, x):
            return x

        def compute_mask(self, inputs, mask=None):
            return lib.ops.any(lib.ops.not_equal(inputs, 0.0), axis=-1)

    return ZeroMask


def masked_inputs(rng):
    q = rng.standard_normal((B, T, D)).astype(np.float32)
    v = rng.standard_normal((B, S, D)).astype(np.float32)
    q[0, 3:] = 0.0  # query rows that may attend to nothing
    v[1, :2] = 0.0
    return q, v


@pytest.mark.parametrize("dropout", [0.0, 0.2], ids=["fused", "general"])
def test_multi_head_attention_takes_carried_masks_like_keras(keras, rng, dropout):
    """Masks made by a layer reach the attention through a functional model; Keras's fused path
    (no dropout) and its general one treat the fully masked query rows differently, gpunet as each;
    the query's mask goes on to the pooling after the attention."""
    q, v = masked_inputs(rng)
    models = []
    for lib in (gpunet, keras):
        ZeroMask = zero_mask_class(lib)
        query, value = lib.Input((T, D)), lib.Input((S, D))
        layer = lib.layers.MultiHeadAttention(2, 4, dropout=dropout)
        out = layer(ZeroMask()(query), ZeroMask()(value), use_causal_mask=True)
        pooled = lib.layers.GlobalAveragePooling1D()(out)  # over the steps the query's mask keeps
        models.append((lib.Model([query, value], [out, pooled]), layer))
    (ours, our_layer), (theirs, their_layer) = models
    same_weights(our_layer, their_layer, rng)
    assert_close(ours([q, v]), theirs([q, v]))


@pytest.mark.parametrize("cls,kwargs", [("Attention", {}), ("Attention", {"use_scale": True, "score_mode": "concat"}),
                                        ("AdditiveAttention", {}), ("AdditiveAttention", {"use_scale": False})])
def test_attention_layers_match_keras(keras, rng, cls, kwargs):
    q, v = masked_inputs(rng)
    k = rng.standard_normal((B, S, D)).astype(np.float32)
    ours, theirs = getattr(L, cls)(**kwargs), getattr(keras.layers, cls)(**kwargs)
    ours([q, v, k])
    theirs([q, v, k])
    same_weights(ours, theirs, rng)
    query_mask, value_mask = q.any(-1), v.any(-1)
    for call in ({}, {"use_causal_mask": True}, {"return_attention_scores": True},
                 {"mask": [query_mask, value_mask], "return_attention_scores": True}):
        assert_close(ours([q, v, k], **call), theirs([q, v, k], **call))
    assert ours.get_config() == {**theirs.get_config(), "dtype": "float32", "name": ours.name}


def mha_model(lib):
    inputs = lib.Input((T, D))
    hidden = lib.layers.MultiHeadAttention(2, 4, name="mha")(inputs, inputs, use_causal_mask=True)
    hidden = lib.layers.LayerNormalization()(lib.layers.Add()([hidden, inputs]))
    outputs = lib.layers.Dense(3, activation="softmax")(lib.layers.GlobalAveragePooling1D()(hidden))
    return lib.Model(inputs, outputs)


def test_multi_head_attention_files_both_ways_and_one_step(keras, rng, tmp_path):
    x = rng.standard_normal((4, T, D)).astype(np.float32)
    y = rng.integers(0, 3, 4)
    assert_layer_matches_keras(keras, lambda: mha_model(gpunet), x, y, "sparse_categorical_crossentropy", tmp_path)


def test_attention_files_both_ways_and_one_step(keras, rng, tmp_path):
    x = rng.standard_normal((4, T, D)).astype(np.float32)
    y = rng.standard_normal((4, D)).astype(np.float32)

    def build():
        inputs = gpunet.Input((T, D))
        query = L.Dense(D)(inputs)
        hidden = L.Attention(use_scale=True, score_mode="concat")([query, inputs])
        hidden = L.AdditiveAttention()([hidden, inputs, query])
        return gpunet.Model(inputs, L.GlobalAveragePooling1D()(hidden))

    assert_layer_matches_keras(keras, build, x, y, "mse", tmp_path)


def weight_paths(path):
    """Every group and dataset (with its shape) of the weights file inside a ``.keras`` zip."""
    import h5py  # noqa: PLC0415

    with zipfile.ZipFile(path) as archive:
        data = archive.read("model.weights.h5")
        config = json.loads(archive.read("config.json"))
    found = {}

    def visit(name, item):
        found[name] = getattr(item, "shape", None)  # returns None: visititems goes on

    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(visit)
    return {name: shape for name, shape in found.items() if name.startswith("layers/")}, config


def test_keras_files_have_kerass_layout(keras, tmp_path):
    """gpunet's ``.keras`` puts the projections where Keras's does (``query_dense``, ...,
    ``_softmax`` and ``_dropout_layer`` included) and the three build shapes in ``build_config``."""
    ours, theirs = mha_model(gpunet), mha_model(keras)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    our_paths, our_config = weight_paths(tmp_path / "ours.keras")
    their_paths, their_config = weight_paths(tmp_path / "theirs.keras")
    assert our_paths == their_paths
    assert our_paths["layers/multi_head_attention/query_dense/vars/0"] == (D, 2, 4)

    def build_config(config):
        return next(item["build_config"] for item in config["config"]["layers"] if item["name"] == "mha")

    assert build_config(our_config) == build_config(their_config)
    ours.save_weights(tmp_path / "ours.weights.h5")  # Keras 3's weights file, read by Keras's own model
    theirs.load_weights(tmp_path / "ours.weights.h5")
    x = np.random.default_rng(0).standard_normal((3, T, D)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), host(ours.predict(x, verbose=0)), rtol=1e-5,
                               atol=1e-6)


_BLOCKS = {}


def transformer_block_class(lib):
    """Keras's text-classification transformer block (a custom layer holding MultiHeadAttention,
    a feed-forward Sequential, two LayerNormalizations and two Dropouts), written once for each
    library and registered under one package name in both."""
    if lib.__name__ in _BLOCKS:
        return _BLOCKS[lib.__name__]
    register = (lib.saving.register_serializable if lib is gpunet else lib.saving.register_keras_serializable)

    @register(package="attention_tests")
    class TransformerBlock(lib.layers.Layer):
        supports_recording = True

        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.0, **kwargs):
            super().__init__(**kwargs)
            self.embed_dim, self.num_heads, self.ff_dim, self.rate = embed_dim, num_heads, ff_dim, rate
            self.att = lib.layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = lib.Sequential([lib.layers.Dense(ff_dim, activation="relu"), lib.layers.Dense(embed_dim)])
            self.layernorm1 = lib.layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = lib.layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = lib.layers.Dropout(rate)
            self.dropout2 = lib.layers.Dropout(rate)

        def call(self, inputs, training=False):
            attended = self.dropout1(self.att(inputs, inputs), training=training)
            out1 = self.layernorm1(inputs + attended)
            return self.layernorm2(out1 + self.dropout2(self.ffn(out1), training=training))

        def get_config(self):
            return {**super().get_config(), "embed_dim": self.embed_dim, "num_heads": self.num_heads,
                    "ff_dim": self.ff_dim, "rate": self.rate}

    _BLOCKS[lib.__name__] = TransformerBlock
    return TransformerBlock


def test_kerass_transformer_block_files_both_ways_and_one_step(keras, rng, tmp_path):
    """Attention inside a user's layer: its weights sit under the layer's attribute (``att``) in
    Keras's files, and a model holding it goes both ways."""
    transformer_block_class(keras)
    block = transformer_block_class(gpunet)
    x = rng.standard_normal((4, T, D)).astype(np.float32)
    y = rng.integers(0, 2, 4)

    def build():
        inputs = gpunet.Input((T, D))
        hidden = L.GlobalAveragePooling1D()(block(D, 2, 16)(inputs))
        return gpunet.Model(inputs, L.Dense(2, activation="softmax")(hidden))

    # .keras only: Keras's legacy .h5 reader finds a registered class only in a custom_object_scope
    assert_layer_matches_keras(keras, build, x, y, "sparse_categorical_crossentropy", tmp_path, formats=(".keras",))
