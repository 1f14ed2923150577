"""Ops applied to symbolic tensors inside functional models, in configs and ``.keras`` files as
Keras 3 writes them (its Operation entries), against the real Keras both ways."""

import importlib
import inspect
import json

import numpy as np
import pytest

import gpunet
from gpunet import backend, ops
from gpunet.autograd import Tensor
from gpunet.ops import keras_ops


def host(t):
    return backend.to_host(t.data if isinstance(t, Tensor) else t)


def mixed(lib):
    """Layers and ops together: constants and tensors, reshape/transpose, reductions with axes,
    a concatenation of tensors, a slice and Python operators."""
    a, b = lib.Input((4,), name="a"), lib.Input((4,), name="b")
    x = lib.layers.Dense(4, name="dense_in")(a)
    y = lib.ops.multiply(lib.ops.add(x, 1.0), b)
    y = lib.ops.transpose(lib.ops.reshape(y, (-1, 2, 2)), (0, 2, 1))
    mean = lib.ops.mean(y, axis=1)
    total = lib.ops.sum(y, axis=[1, 2], keepdims=True)
    joined = lib.ops.concatenate([mean, x], axis=-1)
    sliced = joined[:, 1:]
    scaled = -(x * 2.0 + b) / 3.0
    out = lib.layers.Dense(3, name="dense_out")(sliced)
    return lib.Model([a, b], [out, total, scaled], name="mixed")


def masked(lib):
    """Integer ids, a ``not_equal`` mask, a cast and a masked mean written with ops."""
    ids = lib.Input((5,), dtype="int32", name="ids")
    mask = lib.ops.not_equal(ids, 0)
    vectors = lib.layers.Embedding(7, 3, name="embed")(ids)
    weights = lib.ops.expand_dims(lib.ops.cast(mask, "float32"), -1)
    pooled = lib.ops.sum(vectors * weights, axis=1) / lib.ops.maximum(lib.ops.sum(weights, axis=1), 1.0)
    return lib.Model(ids, [lib.layers.Dense(2, name="head")(pooled), mask], name="masked")


def inputs(name):
    rng = np.random.default_rng(0)
    if name == "masked":
        return rng.integers(0, 7, (6, 5)).astype(np.int32)
    return [rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 4)).astype(np.float32)]


def pair(keras, build):
    keras.utils.clear_session()
    gpunet.utils.clear_session()
    theirs = build(keras)
    ours = build(gpunet)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def assert_same_outputs(got, expected, rtol=1e-5):
    got = got if isinstance(got, (list, tuple)) else [got]
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        g = host(g)
        e = np.asarray(e)
        assert g.shape == e.shape
        np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=1e-6)


def op_entries(config):
    """The op entries of a functional config, as its JSON holds them (tuples read as lists)."""
    config = json.loads(json.dumps(config))
    return [entry for entry in config["layers"] if str(entry.get("module", "")).startswith("keras.src.ops.")]


@pytest.mark.parametrize("build", [mixed, masked])
def test_op_entries_are_keras_operations(keras, build):
    ours, theirs = pair(keras, build)
    mine, keras_config = ours.get_config(), theirs.get_config()
    keras_ops_entries = op_entries(keras_config)
    assert keras_ops_entries  # the models do record ops in Keras
    by_name = {entry["name"]: entry for entry in op_entries(mine)}
    assert sorted(by_name) == sorted(entry["name"] for entry in keras_ops_entries)
    for entry in keras_ops_entries:
        assert by_name[entry["name"]] == entry  # module, class, settings and node arguments alike
    assert mine["output_layers"] == keras_config["output_layers"]


@pytest.mark.parametrize("build", [mixed, masked])
def test_configs_load_both_ways(keras, build):
    ours, theirs = pair(keras, build)
    data = inputs(build.__name__)
    expected = theirs(data)
    assert_same_outputs(ours(data), expected)
    for config in (ours.get_config(), theirs.get_config()):
        again = gpunet.models.Functional.from_config(config)
        again.set_weights(theirs.get_weights())
        assert_same_outputs(again(data), expected)
    keras_again = keras.Model.from_config(theirs.get_config())
    keras_again.set_weights(theirs.get_weights())
    assert_same_outputs([np.asarray(t) for t in keras_again(data)], expected)


@pytest.mark.parametrize("build", [mixed, masked])
def test_keras_files_both_ways(keras, build, tmp_path):
    ours, theirs = pair(keras, build)
    data = inputs(build.__name__)
    expected = [np.asarray(t) for t in theirs(data)]
    ours.save(str(tmp_path / "ours.keras"))
    theirs.save(str(tmp_path / "theirs.keras"))
    read_by_keras = keras.saving.load_model(str(tmp_path / "ours.keras"))
    read_by_us = gpunet.load_model(str(tmp_path / "theirs.keras"))
    assert_same_outputs([np.asarray(t) for t in read_by_keras(data)], expected)
    assert_same_outputs(read_by_us(data), expected)
    assert_same_outputs(read_by_us.predict(data, verbose=0), [np.asarray(p) for p in theirs.predict(data, verbose=0)])
    # what gpunet read from Keras's file it writes again as Keras wrote it
    assert op_entries(read_by_us.get_config()) == op_entries(theirs.get_config())


def test_every_keras_named_op_splits_its_arguments_as_keras(keras):
    """For each function of gpunet.ops's Keras namespaces that Keras records as an operation,
    the class named exists in the Keras module named, and the parameters gpunet writes as the
    operation's settings are those its constructor takes."""
    checked, differing = 0, {}
    for namespace in ("numpy", "nn", "image", "linalg", "core"):
        module = getattr(ops, namespace)
        for name in module.__all__:
            fn = getattr(module, name)
            if not inspect.isfunction(fn) or keras_ops.keras_op(fn) is None:
                continue
            keras_module, class_name = keras_ops.keras_op(fn)
            cls = getattr(importlib.import_module(keras_module), class_name, None)
            assert inspect.isclass(cls), f"{namespace}.{name}: Keras has no {keras_module}.{class_name}"
            init = {p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "name", "args", "kwargs")}
            if keras_ops.settings_of(fn) != init:
                differing[f"{namespace}.{name}"] = (sorted(keras_ops.settings_of(fn)), sorted(init))
            checked += 1
    assert checked > 300
    # layer_normalization lacks Keras's deprecated rms_scaling (its default applies); cond takes functions
    assert sorted(differing) == ["core.cond", "nn.layer_normalization"], differing


def test_an_op_without_a_keras_operation_is_refused_clearly():
    x = gpunet.Input((3,))
    model = gpunet.Model(x, ops.general_relu(x))
    with pytest.raises(ValueError, match="has no Keras operation"):
        model.get_config()


def test_keyword_settings_and_star_arguments_bind_back():
    fn = ops.numpy.einsum
    call, settings = keras_ops.split_call(fn, ("ij,jk->ik", "A", "B"), {})
    assert call == ["A", "B"] and settings == {"subscripts": "ij,jk->ik"}
    assert keras_ops.bind_call(fn, call, settings) == (["ij,jk->ik", "A", "B"], {})
    pad = ops.numpy.pad
    call, settings = keras_ops.split_call(pad, ("X", [[0, 1]]), {"constant_values": 2.0})
    assert call == ["X", 2.0] and settings == {"pad_width": [[0, 1]], "mode": "constant"}
    assert keras_ops.bind_call(pad, call, settings) == ([], {"x": "X", "constant_values": 2.0, "pad_width": [[0, 1]],
                                                             "mode": "constant"})
    with pytest.raises(ValueError, match="no argument"):
        keras_ops.bind_call(pad, ["X"], {"bogus": 1})


def test_h5_files_written_here_open_in_keras_and_here(keras, tmp_path):
    """Keras's legacy ``.h5`` keeps each entry's ``module`` only when the writer gives it: gpunet
    does, so its ops read back as ops, in Keras and here."""
    ours, theirs = pair(keras, mixed)
    data = inputs("mixed")
    expected = [np.asarray(t) for t in theirs(data)]
    ours.save(str(tmp_path / "ours.h5"))
    assert_same_outputs([np.asarray(t) for t in keras.saving.load_model(str(tmp_path / "ours.h5"))(data)], expected)
    assert_same_outputs(gpunet.load_model(str(tmp_path / "ours.h5"))(data), expected)
