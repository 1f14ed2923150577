"""keras.io guides/making_new_layers_and_models_via_subclassing.py: the `Layer` sections.

`Linear` with weights made in `__init__` and then in `build` (`add_weight`, `ops.matmul`), a
non-trainable weight updated with `assign_add` (`ComputeSum`), layers nested in a layer
(`MLPBlock`), `add_loss` in `ActivityRegularizationLayer` (and through an outer layer), a
`kernel_regularizer`'s loss in `layer.losses`, a functional model trained with the added loss
with and without a compiled loss, `get_config` / `from_config`, and `CustomDropout` using
`keras.random.dropout` only when `training`. The guide's code is kept, prints included.
Changed from the guide:
- the guide's `fit` on two random samples trains on 256 samples of a NumPy array instead
  (the layer's target is the identity, so the data need no meaning);
- `CustomDropout` is defined but never called in the guide: the script calls it with
  `training=True` and `False`;
- a fixed seed; the values gathered into the RESULT line (and the line itself) are added.
"""

import json

import numpy as np

import keras
from keras import ops
from keras import layers

keras.utils.set_random_seed(1337)
result = {}


class Linear(keras.layers.Layer):
    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(
            shape=(input_dim, units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


x = ops.ones((2, 2))
linear_layer = Linear(4, 2)
y = linear_layer(x)
print(y)
result["linear_output_shape"] = list(y.shape)
result["linear_matches_numpy"] = bool(np.allclose(
    ops.convert_to_numpy(y),
    np.ones((2, 2)) @ ops.convert_to_numpy(linear_layer.w) + ops.convert_to_numpy(linear_layer.b), atol=1e-6))

assert linear_layer.weights == [linear_layer.w, linear_layer.b]


class ComputeSum(keras.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(
            initializer="zeros", shape=(input_dim,), trainable=False
        )

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


x = ops.ones((2, 2))
my_sum = ComputeSum(2)
y = my_sum(x)
print(ops.convert_to_numpy(y))
y = my_sum(x)
print(ops.convert_to_numpy(y))
result["compute_sum_twice"] = ops.convert_to_numpy(y).tolist()

print("weights:", len(my_sum.weights))
print("non-trainable weights:", len(my_sum.non_trainable_weights))

# It's not included in the trainable weights:
print("trainable_weights:", my_sum.trainable_weights)
result["compute_sum_counts"] = [len(my_sum.weights), len(my_sum.non_trainable_weights), len(my_sum.trainable_weights)]


class Linear(keras.layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(
            shape=(self.units,), initializer="random_normal", trainable=True
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


# At instantiation, we don't know on what inputs this is going to get called
linear_layer = Linear(32)

# The layer's weights are created dynamically the first time the layer is called
y = linear_layer(x)
result["lazy_kernel_shape"] = list(linear_layer.w.shape)


class MLPBlock(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.linear_1 = Linear(32)
        self.linear_2 = Linear(32)
        self.linear_3 = Linear(1)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = keras.activations.relu(x)
        x = self.linear_2(x)
        x = keras.activations.relu(x)
        return self.linear_3(x)


mlp = MLPBlock()
y = mlp(ops.ones(shape=(3, 64)))  # The first call to the `mlp` will create the weights
print("weights:", len(mlp.weights))
print("trainable weights:", len(mlp.trainable_weights))
result["mlp_block_counts"] = [len(mlp.weights), len(mlp.trainable_weights)]


# A layer that creates an activity regularization loss
class ActivityRegularizationLayer(keras.layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


class OuterLayer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.activity_reg = ActivityRegularizationLayer(1e-2)

    def call(self, inputs):
        return self.activity_reg(inputs)


layer = OuterLayer()
assert len(layer.losses) == 0  # No losses yet since the layer has never been called

_ = layer(ops.zeros((1, 1)))
assert len(layer.losses) == 1  # We created one loss value

# `layer.losses` gets reset at the start of each __call__
_ = layer(ops.zeros((1, 1)))
assert len(layer.losses) == 1  # This is the loss created during the call above


class OuterLayerWithKernelRegularizer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(
            32, kernel_regularizer=keras.regularizers.l2(1e-3)
        )

    def call(self, inputs):
        return self.dense(inputs)


layer = OuterLayerWithKernelRegularizer()
_ = layer(ops.zeros((1, 1)))

# This is `1e-3 * sum(layer.dense.kernel ** 2)`,
# created by the `kernel_regularizer` above.
print(layer.losses)
kernel = ops.convert_to_numpy(layer.dense.kernel)
result["kernel_regularizer_loss_matches"] = bool(np.isclose(
    float(ops.convert_to_numpy(layer.losses[0])), 1e-3 * np.sum(kernel**2), rtol=1e-5))

inputs = keras.Input(shape=(3,))
outputs = ActivityRegularizationLayer()(inputs)
model = keras.Model(inputs, outputs)

data = np.random.default_rng(0).random((256, 3))

# If there is a loss passed in `compile`, the regularization
# losses get added to it
model.compile(optimizer="adam", loss="mse")
history = model.fit(data, data, verbose=0)
# mse is 0 (the layer passes its input through); what is left is 1e-2 * mean(inputs)
result["loss_with_mse"] = float(history.history["loss"][-1])

# It's also possible not to pass any loss in `compile`,
# since the model already has a loss to minimize, via the `add_loss`
# call during the forward pass!
model.compile(optimizer="adam")
history = model.fit(data, data, verbose=0)
result["loss_without_compiled_loss"] = float(history.history["loss"][-1])
result["expected_added_loss"] = float(1e-2 * data.mean())


class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(
            shape=(self.units,), initializer="random_normal", trainable=True
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


layer = Linear(64)
config = layer.get_config()
print(config)
new_layer = Linear.from_config(config)
result["from_config_units"] = new_layer.units
result["config_has_name_and_units"] = "name" in config and config["units"] == 64


class CustomDropout(keras.layers.Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs, training=None):
        if training:
            return keras.random.dropout(inputs, rate=self.rate)
        return inputs


dropout = CustomDropout(0.5)
ones = np.ones((100, 100), dtype="float32")
dropped = ops.convert_to_numpy(dropout(ones, training=True))
result["dropout_inference_identity"] = bool(np.array_equal(ops.convert_to_numpy(dropout(ones, training=False)), ones))
result["dropout_training_values"] = sorted({float(v) for v in np.unique(dropped)})
result["dropout_training_kept_fraction"] = float(np.mean(dropped != 0))

print("RESULT " + json.dumps(result))
