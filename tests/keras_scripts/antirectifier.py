"""keras.io examples/keras_recipes/antirectifier.py (the Keras 3 version).

A custom layer, `Antirectifier`: its kernel made in `build` with `add_weight` and an
initializer from `keras.initializers.get`, `call` written with `keras.ops` (`ops.mean`,
`ops.relu`, `ops.concatenate`, `ops.matmul`), `get_config` serializing the initializer; used
twice in a Sequential MLP on flattened images with `SparseCategoricalCrossentropy(from_logits=True)`,
`RMSprop()`, `SparseCategoricalAccuracy()` and `validation_split=0.15`. Changed:
- the data: synthetic_data.load_data() (2000 training, 500 test images) instead of MNIST;
- a fixed seed; epochs 20 -> 10, verbose=2;
- the layer's config round trip and the RESULT line are added.
"""

import json

import numpy as np

import keras
from keras import layers
from keras import ops

import synthetic_data

keras.utils.set_random_seed(1337)


class Antirectifier(layers.Layer):
    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(output_dim * 2, output_dim),
            initializer=self.initializer,
            name="kernel",
            trainable=True,
        )

    def call(self, inputs):
        inputs -= ops.mean(inputs, axis=-1, keepdims=True)
        pos = ops.relu(inputs)
        neg = ops.relu(-inputs)
        concatenated = ops.concatenate([pos, neg], axis=-1)
        mixed = ops.matmul(concatenated, self.kernel)
        return mixed

    def get_config(self):
        # Implement get_config to enable serialization. This is optional.
        base_config = super().get_config()
        config = {"initializer": keras.initializers.serialize(self.initializer)}
        return dict(list(base_config.items()) + list(config.items()))


# Training parameters
batch_size = 128
num_classes = 10
epochs = 10

# The data, split between train and test sets
(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()

x_train = x_train.reshape(-1, 784)
x_test = x_test.reshape(-1, 784)
x_train = x_train.astype("float32")
x_test = x_test.astype("float32")
x_train /= 255
x_test /= 255
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# Build the model
model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(256),
        Antirectifier(),
        layers.Dense(256),
        Antirectifier(),
        layers.Dropout(0.5),
        layers.Dense(10),
    ]
)

# Compile the model
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

# Train the model
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.15, verbose=2)

# Test the model
loss, accuracy = model.evaluate(x_test, y_test)

layer = model.layers[1]
clone = Antirectifier.from_config(layer.get_config())
print("RESULT " + json.dumps({
    "accuracy": float(accuracy),
    "loss": float(loss),
    "kernel_shape": list(layer.kernel.shape),
    "config_initializer": layer.get_config()["initializer"]["class_name"],
    "from_config_initializer": type(clone.initializer).__name__,
    "params": int(model.count_params()),
}))
