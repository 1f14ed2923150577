"""A hand-written training loop: train_on_batch, test_on_batch and predict_on_batch."""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255
x_val, y_val = x_train[1800:], y_train[1800:]
x_train, y_train = x_train[:1800], y_train[:1800]

model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

epochs = 5
batch_size = 60
rng = np.random.default_rng(42)
batches = 0
for epoch in range(epochs):
    order = rng.permutation(len(x_train))
    for start in range(0, len(x_train), batch_size):
        batch = order[start : start + batch_size]
        train_logs = model.train_on_batch(x_train[batch], y_train[batch], return_dict=True)
        batches += 1
    val_loss, val_accuracy = model.test_on_batch(x_val, y_val)
    print(
        f"epoch {epoch + 1}: last batch loss {float(train_logs['loss']):.4f}"
        f" - val_loss {float(val_loss):.4f} - val_accuracy {float(val_accuracy):.4f}"
    )

probabilities = model.predict_on_batch(x_test)
accuracy = float(np.mean(np.argmax(probabilities, axis=1) == y_test))
test_logs = model.test_on_batch(x_test, y_test, return_dict=True)
print("Test accuracy:", accuracy)

print("RESULT", json.dumps({
    "accuracy": accuracy,
    "test_on_batch_accuracy": float(test_logs["accuracy"]),
    "test_on_batch_matches_predictions": abs(float(test_logs["accuracy"]) - accuracy) < 1e-6,
    "batches": batches,
}))
