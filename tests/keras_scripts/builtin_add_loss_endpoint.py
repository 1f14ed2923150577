"""keras.io guides/training_with_built_in_methods.py: "Handling losses and metrics that don't fit
the standard signature".

An `ActivityRegularizationLayer` calling `self.add_loss(...)` inside a functional MLP compiled
with a loss (the added loss joins it), then the `LogisticEndpoint` layer: called on two
tensors (targets and logits), it adds its own `BinaryCrossentropy(from_logits=True)` with
`add_loss`; its model has two named inputs, is compiled without a loss and is fitted on a dict
of arrays with no `y`. Changed from the guide:
- the data: synthetic_data.load_data() (2000 training, 500 test images, reshaped with -1) for
  the first model; for the endpoint model 1000 samples whose 10 targets are a fixed function of
  the 3 inputs (the guide's are 3 random rows);
- a fixed seed, verbose=2, epochs 1 -> 3 and 1 -> 30 (batch_size=32 for the endpoint model);
- the evaluations after the fits and the RESULT line are added.
"""

import json

import numpy as np

import keras
from keras import layers
from keras import ops

import synthetic_data

keras.utils.set_random_seed(1337)

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255


class ActivityRegularizationLayer(layers.Layer):
    def call(self, inputs):
        self.add_loss(ops.sum(inputs) * 0.1)
        return inputs  # Pass-through layer.


inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu", name="dense_1")(inputs)

# Insert activity regularization as a layer
x = ActivityRegularizationLayer()(x)

x = layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = layers.Dense(10, name="predictions")(x)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)

# The displayed loss will be much higher than before
# due to the regularization component.
history = model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=2)
regularized_loss, regularized_accuracy = model.evaluate(x_test, y_test, verbose=0)
hidden = keras.Model(inputs, model.get_layer("dense_1").output).predict(x_test[:64], verbose=0)
crossentropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y_test[:64], model.predict(x_test[:64], verbose=0))
one_batch_loss = model.evaluate(x_test[:64], y_test[:64], batch_size=64, verbose=0)[0]


class LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        # Compute the training-time loss value and add it
        # to the layer using `self.add_loss()`.
        loss = self.loss_fn(targets, logits, sample_weights)
        self.add_loss(loss)

        # Return the inference-time prediction tensor (for `.predict()`).
        return ops.softmax(logits)


inputs = keras.Input(shape=(3,), name="inputs")
targets = keras.Input(shape=(10,), name="targets")
logits = keras.layers.Dense(10)(inputs)
predictions = LogisticEndpoint(name="predictions")(targets, logits)

model = keras.Model(inputs=[inputs, targets], outputs=predictions)
model.compile(optimizer="adam")  # No loss argument!

rng = np.random.default_rng(0)
endpoint_inputs = rng.random((1000, 3))
endpoint_targets = (endpoint_inputs @ rng.normal(size=(3, 10)) > 0.0).astype("float64")
data = {
    "inputs": endpoint_inputs,
    "targets": endpoint_targets,
}
endpoint_history = model.fit(data, batch_size=32, epochs=30, verbose=2)
endpoint_loss = model.evaluate(data, verbose=0)

print("RESULT " + json.dumps({
    "accuracy": float(regularized_accuracy),
    "regularized_loss": float(regularized_loss),
    # on one batch, the loss is the crossentropy plus 0.1 * the sum of dense_1's activations
    "added_loss_matches": bool(np.isclose(one_batch_loss, float(crossentropy) + 0.1 * float(hidden.sum()), rtol=1e-3)),
    "endpoint_loss": float(endpoint_loss),
    "endpoint_first_loss": float(endpoint_history.history["loss"][0]),
    "endpoint_history_keys": sorted(endpoint_history.history),
}))
