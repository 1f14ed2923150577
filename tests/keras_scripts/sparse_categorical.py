"""Integer labels: sparse categorical cross-entropy and accuracy, evaluate(return_dict=True)."""

import json

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

(train_images, train_labels), (test_images, test_labels) = synthetic_data.load_data()
train_images = train_images / 255.0
test_images = test_images / 255.0

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ]
)

model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    loss="sparse_categorical_crossentropy",
    metrics=["sparse_categorical_accuracy"],
)

history = model.fit(
    train_images, train_labels, batch_size=32, epochs=5, validation_data=(test_images, test_labels), verbose=2
)
print("History keys:", sorted(history.history))

results = model.evaluate(test_images, test_labels, return_dict=True, verbose=0)
print("Test results:", results)

print("RESULT", json.dumps({
    "sparse_categorical_accuracy": float(results["sparse_categorical_accuracy"]),
    "loss": float(results["loss"]),
    "metric_names": sorted(results),
    "val_metric_logged": "val_sparse_categorical_accuracy" in history.history,
}))
