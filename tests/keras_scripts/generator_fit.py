"""Training from Python generators: fit with steps_per_epoch, validation with validation_steps."""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)


def batch_generator(images, labels, batch_size, seed=0):
    """Endless (images, labels) batches: a fresh shuffle each pass over the data."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(images))
        for start in range(0, len(images) - batch_size + 1, batch_size):
            batch = order[start : start + batch_size]
            yield images[batch], labels[batch]


class BatchCounter(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255
x_val, y_val = x_train[1800:], y_train[1800:]
x_train, y_train = x_train[:1800], y_train[:1800]

batch_size = 64
steps_per_epoch = len(x_train) // batch_size
validation_steps = len(x_val) // batch_size

model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

counter = BatchCounter()
history = model.fit(
    batch_generator(x_train, y_train, batch_size),
    steps_per_epoch=steps_per_epoch,
    epochs=4,
    validation_data=batch_generator(x_val, y_val, batch_size, seed=1),
    validation_steps=validation_steps,
    callbacks=[counter],
    verbose=2,
)

test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print("Test accuracy:", test_accuracy)

print("RESULT", json.dumps({
    "accuracy": float(test_accuracy),
    "loss": float(test_loss),
    "steps_seen": counter.batches,
    "val_accuracy": float(history.history["val_accuracy"][-1]),
}))
