"""Merge layers against Keras 3: output shapes, values, gradients and shape errors."""


import numpy as np
import pytest

import gpunet
from gpunet import backend, layers
from gpunet.autograd import Tensor


def _inputs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float64) for s in shapes]


CASES = [
    ("Add", {}, [(4, 3), (4, 3), (4, 3)]),
    ("Add", {}, [(4, 2, 3), (4, 3)]),  # a lower rank gets its new axis after the batch axis
    ("Add", {}, [(4, 2, 3), (4, 1, 3)]),
    ("Subtract", {}, [(4, 3), (4, 3)]),
    ("Multiply", {}, [(4, 3), (4, 1)]),
    ("Average", {}, [(4, 5), (4, 5), (4, 5)]),
    ("Maximum", {}, [(4, 5), (4, 5)]),
    ("Minimum", {}, [(4, 2, 5), (4, 2, 5), (4, 5)]),
    ("Concatenate", {}, [(4, 3), (4, 5)]),
    ("Concatenate", {"axis": 1}, [(4, 2, 3), (4, 4, 3)]),
    ("Dot", {"axes": 1}, [(4, 5), (4, 5)]),
    ("Dot", {"axes": (1, 2)}, [(4, 3), (4, 2, 3)]),
    ("Dot", {"axes": -1, "normalize": True}, [(4, 2, 5), (4, 3, 5)]),
    ("Dot", {"axes": [2, 1]}, [(4, 2, 3), (4, 3, 6)]),
]


@pytest.mark.parametrize("name,kwargs,shapes", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_values_gradients_and_shapes_match_keras(keras, name, kwargs, shapes):
    import jax
    import jax.numpy as jnp

    xs = _inputs(shapes)  # float64, for the finite differences
    xs32 = [x.astype(np.float32) for x in xs]  # Keras on JAX computes in float32
    weights = np.random.default_rng(1).standard_normal(getattr(keras.layers, name)(**kwargs).compute_output_shape(
        [s for s in shapes])).astype(np.float32)
    theirs = getattr(keras.layers, name)(**kwargs)
    expected = np.asarray(theirs([jnp.asarray(x) for x in xs32]))
    expected_grads = jax.grad(lambda args: jnp.sum(theirs(list(args)) * weights))(tuple(jnp.asarray(x) for x in xs32))

    ours = getattr(layers, name)(**kwargs)
    tensors = [Tensor(x, requires_grad=True) for x in xs32]
    out = ours(tensors)
    np.testing.assert_allclose(backend.to_host(out.data), expected, rtol=1e-5, atol=1e-6)
    (out * Tensor(weights)).sum().backward()
    for t, g in zip(tensors, expected_grads):
        np.testing.assert_allclose(backend.to_host(t.grad), np.asarray(g), rtol=1e-5, atol=1e-6)

    symbolic = [gpunet.Input(s[1:], dtype="float64") for s in shapes]
    spec = ours(symbolic)
    assert spec.shape == (None, *expected.shape[1:])
    assert ours.compute_output_shape([(None, *s[1:]) for s in shapes]) == theirs.compute_output_shape(
        [(None, *s[1:]) for s in shapes])
    assert gpunet.gradcheck(lambda *ts: ours(list(ts)), xs)


def test_functional_forms_make_the_layers(keras):
    a, b = gpunet.Input((3,)), gpunet.Input((3,))
    for fn, cls in [(layers.add, layers.Add), (layers.subtract, layers.Subtract), (layers.multiply, layers.Multiply),
                    (layers.average, layers.Average), (layers.maximum, layers.Maximum), (layers.minimum, layers.Minimum),
                    (layers.concatenate, layers.Concatenate), (layers.dot, layers.Dot)]:
        out = fn([a, b])
        assert isinstance(out._keras_history[0], cls)
        assert fn.__name__ == getattr(keras.layers, fn.__name__).__name__
    assert layers.concatenate([a, b]).shape == (None, 6) and layers.dot([a, b], axes=1).shape == (None, 1)


@pytest.mark.parametrize("make,shapes,message", [
    (lambda: layers.Add(), [(4, 3), (4, 5)], "Inputs have incompatible shapes"),
    (lambda: layers.Add(), [(4, 2, 3), (4, 2)], "Inputs have incompatible shapes"),
    (lambda: layers.Subtract(), [(4, 3), (4, 3), (4, 3)], "exactly 2 inputs"),
    (lambda: layers.Concatenate(), [(4, 3), (4, 2, 3)], "one rank"),
    (lambda: layers.Concatenate(axis=1), [(4, 2, 3), (4, 2, 4)], "matching shapes except for the concatenation axis"),
    (lambda: layers.Dot(axes=1), [(4, 3), (4, 5)], "incompatible input shapes: axis values 3"),
    (lambda: layers.Dot(axes=1), [(4, 3), (4, 3), (4, 3)], "list of 2 inputs"),
])
def test_shape_errors_are_clear(make, shapes, message):
    with pytest.raises(ValueError, match=message):
        make()([gpunet.Input(s[1:]) for s in shapes])
    with pytest.raises(ValueError, match=message):
        make()([Tensor(x) for x in _inputs(shapes)])


def test_a_merge_layer_needs_a_list():
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Add()(Tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match="batch sizes"):
        layers.Add()([gpunet.Input((3,), batch_size=2), gpunet.Input((3,), batch_size=4)])
    with pytest.raises(TypeError, match="axes must be"):
        layers.Dot(axes="last")


def test_configs_round_trip_and_match_keras(keras):
    for ours, theirs in [(layers.Concatenate(axis=1), keras.layers.Concatenate(axis=1)),
                         (layers.Dot(axes=[1, 2], normalize=True), keras.layers.Dot(axes=[1, 2], normalize=True))]:
        config = ours.get_config()
        for key, value in theirs.get_config().items():
            if key in ("axis", "axes", "normalize"):
                assert config[key] == value
        again = layers.deserialize(layers.serialize(ours))
        assert type(again) is type(ours) and again.get_config() == config


def test_lambda_layer():
    x = gpunet.Input((3,))
    doubled = layers.Lambda(lambda t, factor: t * factor, arguments={"factor": 2.0})(x)
    model = gpunet.Model(x, doubled)
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(backend.to_host(model(data).data), data * 2)
    assert layers.Lambda(lambda t: t[:, :2], output_shape=(2,))(x).shape == (None, 2)
    with pytest.raises(ValueError, match="cannot be saved"):
        layers.Lambda(lambda t: t).get_config()
