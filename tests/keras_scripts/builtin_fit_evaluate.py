"""keras.io guides/training_with_built_in_methods.py: "API overview: a first end-to-end example"
and "Automatically setting apart a validation holdout set".

The guide's functional MLP (named layers "dense_1", "dense_2", "predictions" on a "digits"
input), compiled with `RMSprop()`, `SparseCategoricalCrossentropy()` and
`[SparseCategoricalAccuracy()]`, trained with `validation_data=(x_val, y_val)`, evaluated with
`batch_size=128`, `predict` on 3 samples; then `get_compiled_model()` (string names) trained with
`validation_split=0.2`. Changed from the guide:
- the data: synthetic_data.load_data() (3000 training images, the last 1000 held out for
  validation as the guide holds out 10000; 500 test) instead of MNIST, so the reshapes read
  3000 / 500 instead of 60000 / 10000;
- a fixed seed, epochs 2 -> 4 (and 1 -> 4 for the second model), verbose=2;
- the RESULT line is added.
"""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
x = layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = layers.Dense(10, activation="softmax", name="predictions")(x)

model = keras.Model(inputs=inputs, outputs=outputs)

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data(num_train=3000)

# Preprocess the data (these are NumPy arrays)
x_train = x_train.reshape(3000, 784).astype("float32") / 255
x_test = x_test.reshape(500, 784).astype("float32") / 255

y_train = y_train.astype("float32")
y_test = y_test.astype("float32")

# Reserve 1,000 samples for validation
x_val = x_train[-1000:]
y_val = y_train[-1000:]
x_train = x_train[:-1000]
y_train = y_train[:-1000]

model.compile(
    optimizer=keras.optimizers.RMSprop(),  # Optimizer
    # Loss function to minimize
    loss=keras.losses.SparseCategoricalCrossentropy(),
    # List of metrics to monitor
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

print("Fit model on training data")
history = model.fit(
    x_train,
    y_train,
    batch_size=64,
    epochs=4,
    # We pass some validation for
    # monitoring validation loss and metrics
    # at the end of each epoch
    validation_data=(x_val, y_val),
    verbose=2,
)

print(history.history)

# Evaluate the model on the test data using `evaluate`
print("Evaluate on test data")
results = model.evaluate(x_test, y_test, batch_size=128)
print("test loss, test acc:", results)

# Generate predictions (probabilities -- the output of the last layer)
# on new data using `predict`
print("Generate predictions for 3 samples")
predictions = model.predict(x_test[:3])
print("predictions shape:", predictions.shape)


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(
        optimizer="rmsprop",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


model = get_compiled_model()
split_history = model.fit(x_train, y_train, batch_size=64, validation_split=0.2, epochs=4, verbose=2)
split_results = model.evaluate(x_test, y_test, verbose=0)

print("RESULT " + json.dumps({
    "accuracy": float(results[1]),
    "loss": float(results[0]),
    "val_accuracy": float(history.history["val_sparse_categorical_accuracy"][-1]),
    "history_keys": sorted(history.history),
    "predictions_shape": list(predictions.shape),
    "predictions_sum_to_one": bool(np.allclose(predictions.sum(axis=1), 1.0, atol=1e-5)),
    "split_accuracy": float(split_results[1]),
    "split_history_keys": sorted(split_history.history),
    "layer_names": [layer.name for layer in model.layers],
}))
