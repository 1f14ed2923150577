"""A custom layer subclass, registered for serialization, saved in a .keras file and loaded back."""

import json

import numpy as np

import keras
from keras import layers, ops

import synthetic_data

keras.utils.set_random_seed(1337)


@keras.saving.register_keras_serializable()
class Linear(keras.layers.Layer):
    """y = activation(x @ w + b)"""

    def __init__(self, units=32, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="glorot_uniform", trainable=True, name="w"
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True, name="b")

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, self.w) + self.b)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "activation": keras.activations.serialize(self.activation)})
        return config


(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255

model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        Linear(64, activation="relu", name="hidden"),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=5, validation_split=0.1, verbose=2)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)

model.save("custom_layer_model.keras")
reloaded = keras.models.load_model("custom_layer_model.keras")
hidden = reloaded.get_layer("hidden")
print("Reloaded:", type(hidden).__name__, hidden.get_config())

same_predictions = np.allclose(model.predict(x_test, verbose=0), reloaded.predict(x_test, verbose=0), atol=1e-6)
reloaded_loss, reloaded_accuracy = reloaded.evaluate(x_test, y_test, verbose=0)

print("RESULT", json.dumps({
    "accuracy": float(test_accuracy),
    "reloaded_accuracy": float(reloaded_accuracy),
    "reloaded_same_predictions": bool(same_predictions),
    "reloaded_class": type(hidden).__name__,
    "units": hidden.units,
}))
