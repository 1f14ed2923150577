"""Subclassed models and layers (class M(gpunet.Model)) against Keras 3: tracking, building, calling."""


import numpy as np
import pytest

import gpunet
from gpunet import backend, layers
from gpunet.autograd import Tensor


def host(t):
    return backend.to_host(t.data if isinstance(t, Tensor) else t)


def make_classes(lib):
    """The same user code written against ``lib`` (gpunet or keras)."""

    class Block(lib.layers.Layer):
        """A user layer holding layers and a weight of its own."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.inner = lib.layers.Dense(units, activation="relu")
            self.parts = [lib.layers.Dense(units), lib.layers.Dense(units, use_bias=False)]

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")

        def call(self, x):
            h = self.inner(x)
            return (self.parts[0](h) + self.parts[1](h)) * self.scale

    class Net(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.block = Block(4)
            self.heads = {"b": lib.layers.Dense(2), "a": lib.layers.Dense(3, activation="softmax")}
            self.drop = lib.layers.Dropout(0.5)

        def call(self, inputs, training=None):
            h = self.drop(self.block(inputs), training=training)
            return {"a": self.heads["a"](h), "b": self.heads["b"](h)}

    return Block, Net


def test_tracking_order_values_and_gradients_match_keras(keras):
    import jax
    import jax.numpy as jnp

    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    _, TheirNet = make_classes(keras)
    _, OurNet = make_classes(gpunet)
    theirs, ours = TheirNet(), OurNet()
    theirs(x)
    ours(x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert [w.name.split("/")[-1] for w in ours.weights] == [w.name for w in theirs.weights]
    assert len(ours.trainable_weights) == len(theirs.trainable_weights) and len(ours.layers) == len(theirs.layers)
    ours.set_weights(theirs.get_weights())
    expected, got = theirs(x), ours(x)
    for key in ("a", "b"):
        np.testing.assert_allclose(host(got[key]), np.asarray(expected[key]), rtol=1e-5, atol=1e-6)

    w = np.random.default_rng(1).standard_normal((5, 2)).astype(np.float32)
    expected_grad = jax.grad(lambda v: jnp.sum(theirs(v)["b"] * w))(jnp.asarray(x))
    t = Tensor(x, requires_grad=True)
    (ours(t)["b"] * Tensor(w)).sum().backward()
    np.testing.assert_allclose(host(t.grad), np.asarray(expected_grad), rtol=1e-4, atol=1e-6)
    assert ours.output_names == ["a", "b"] and ours.output_structure() == {"a": "a", "b": "b"}


def test_training_reaches_inner_layers():
    _, Net = make_classes(gpunet)
    net = Net()
    x = np.ones((64, 6), np.float32)
    net.set_weights([np.full(w.shape, 0.1, np.float32) for w in (net(x) and net.weights)])
    quiet = host(net(x)["b"])
    noisy = host(net(x, training=True)["b"])
    assert not np.allclose(quiet, noisy)  # the Dropout inside ran in training mode
    np.testing.assert_array_equal(host(net(x, training=False)["b"]), quiet)


def test_freezing_and_layers_assigned_in_build():
    class Lazy(gpunet.Model):
        def build(self, input_shape):
            self.first = layers.Dense(3)
            self.first.build(input_shape)
            self.second = layers.Dense(1)
            self.second.build((None, 3))

        def call(self, inputs):
            return self.second(self.first(inputs))

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 1)

    model = Lazy()
    model.build_from_data((None, 5))
    assert model.built and [w.shape for w in model.weights] == [(5, 3), (3,), (3, 1), (1,)]
    assert model.compute_output_shape((None, 5)) == (None, 1)
    model.trainable = False
    assert model.trainable_weights == [] and not model.first.trainable
    x = gpunet.Input((5,))
    assert model(x).shape == (None, 1)


def test_build_from_data_calls_a_model_without_build():
    _, Net = make_classes(gpunet)
    net = Net()
    net.build_from_data((None, 6))
    assert len(net.weights) == 10 and all(layer.built for layer in net.layers)
    assert net.flat_input_shapes() == [(None, 6)]


def test_a_subclassed_model_inside_a_functional_one(keras):
    _, TheirNet = make_classes(keras)
    _, OurNet = make_classes(gpunet)

    def build(lib, net):
        x = lib.Input((6,), name="features")
        out = net(x)
        return lib.Model(x, lib.layers.Add(name="merge")([out["b"], lib.layers.Dense(2, name="skip")(x)]))

    theirs, ours = build(keras, TheirNet()), build(gpunet, OurNet())
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers]
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(2).standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(host(ours(x)), np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)


def test_model_dispatch_and_arguments():
    x = gpunet.Input((2,))
    y = layers.Dense(1)(x)
    assert type(gpunet.Model(x, y)).__name__ == "Functional"
    assert type(gpunet.Model(inputs=x, outputs=y)).__name__ == "Functional"
    assert type(gpunet.Model(x, outputs=y)).__name__ == "Functional"
    assert isinstance(gpunet.Model(x, y), gpunet.Model) and isinstance(gpunet.Sequential(), gpunet.Model)
    assert gpunet.models.Model is gpunet.Model

    class Named(gpunet.Model):
        def call(self, inputs):
            return inputs

    named = Named(name="custom", trainable=False, dtype="float64")
    assert named.name == "custom" and not named.trainable and named.dtype == np.float64
    with pytest.raises(TypeError, match="unexpected keyword"):
        Named(units=3)
    with pytest.raises(NotImplementedError, match="must implement call"):
        gpunet.Model()(np.ones((1, 2)))


def test_add_loss_and_activity_regularization_reach_model_losses():
    class Penalized(gpunet.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2, activity_regularizer=gpunet.regularizers.L2(0.5),
                                      kernel_regularizer=gpunet.regularizers.L1(0.1))

        def call(self, inputs):
            out = self.dense(inputs)
            self.add_loss(out.sum() * 0.0 + 3.0)
            return out

    model = Penalized()
    x = np.ones((4, 3), np.float32)
    out = model(x)
    losses = [float(host(t)) for t in model.losses]
    kernel = host(model.dense.kernel)
    expected_activity = 0.5 * float((host(out) ** 2).sum()) / 4  # Keras divides by the batch size
    assert len(losses) == 3
    np.testing.assert_allclose(sorted(losses), sorted([0.1 * np.abs(kernel).sum(), expected_activity, 3.0]), rtol=1e-5)
    model(x)
    assert len(model.losses) == 3  # the terms of the last pass only

    inputs = gpunet.Input((3,))
    functional = gpunet.Model(inputs, model(inputs))
    functional(x)
    assert len(functional.losses) == 3


def test_a_conv_subclass_overriding_call_is_not_fused():
    class Doubled(layers.Conv2D):
        def call(self, x, training=False):
            return super().call(x, training) * 2.0

    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([gpunet.Input((6, 6, 1)), Doubled(2, 3, activation="relu"), layers.MaxPooling2D()])
    plain = gpunet.Sequential([gpunet.Input((6, 6, 1)), layers.Conv2D(2, 3, activation="relu"), layers.MaxPooling2D()])
    plain.set_weights(model.get_weights())
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 1)).astype(np.float32)
    np.testing.assert_allclose(host(model(x)), 2 * host(plain(x)), rtol=1e-6)
    assert not model.layers[1].takes_over(model.layers[0]) and plain.layers[1].takes_over(plain.layers[0])


def test_a_dense_subclass_keeps_its_call_when_logits_are_asked():
    class Scaled(layers.Dense):
        def call(self, x, training=False):
            return super().call(x, training) * 1.0

    model = gpunet.Sequential([gpunet.Input((3,)), Scaled(2, activation="softmax")])
    x = np.ones((2, 3), np.float32)
    assert model.output_activation() is None  # no fused loss for a user's call
    np.testing.assert_allclose(host(model.forward(Tensor(x), logits=True)).sum(-1), 1.0, rtol=1e-6)


def test_weights_files_of_subclassed_models_match_keras_layout(keras, tmp_path):
    _, TheirNet = make_classes(keras)
    _, OurNet = make_classes(gpunet)
    theirs, ours = TheirNet(), OurNet()
    x = np.random.default_rng(4).standard_normal((3, 6)).astype(np.float32)
    theirs(x)
    ours(x)
    theirs.save_weights(str(tmp_path / "theirs.weights.h5"))
    ours.load_weights(str(tmp_path / "theirs.weights.h5"))  # the user layer's layers nest as in Keras's file
    np.testing.assert_allclose(host(ours(x)["a"]), np.asarray(theirs(x)["a"]), rtol=1e-5, atol=1e-6)
    ours.save_weights(str(tmp_path / "ours.weights.h5"))
    again = TheirNet()
    again(x)
    again.load_weights(str(tmp_path / "ours.weights.h5"))
    np.testing.assert_allclose(np.asarray(again(x)["b"]), np.asarray(theirs(x)["b"]), rtol=1e-6)


def test_assigning_a_layer_before_super_init_is_refused():
    class Early(gpunet.Model):
        def __init__(self):
            self.dense = layers.Dense(2)
            super().__init__()

    with pytest.raises(RuntimeError, match=r"call super\(\).__init__\(\) in __init__ before assigning layers"):
        Early()


def test_fit_on_a_subclassed_model_equals_the_sequential_one():
    class Mlp(gpunet.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(8, activation="relu")
            self.out = layers.Dense(3, activation="softmax")

        def call(self, inputs, training=None):
            return self.out(self.hidden(inputs))

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 4)).astype(np.float32), rng.integers(0, 3, 32)
    mine = Mlp()
    stack = gpunet.Sequential([gpunet.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    mine.build_from_data((None, 4))
    mine.set_weights(stack.get_weights())
    for model in (mine, stack):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(mine.get_weights(), stack.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
