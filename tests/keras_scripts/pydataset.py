"""A keras.utils.PyDataset that scales and batches images on the fly, fed to fit, evaluate and predict."""

import json
import math

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)


class ImageBatches(keras.utils.PyDataset):
    """Batches of (images in [0, 1] with a channel axis, integer labels), reshuffled every epoch."""

    def __init__(self, images, labels, batch_size=32, shuffle=False, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.order = np.arange(len(images))
        self.rng = np.random.default_rng(seed)
        if shuffle:
            self.rng.shuffle(self.order)

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, idx):
        batch = self.order[idx * self.batch_size : (idx + 1) * self.batch_size]
        images = self.images[batch].astype("float32") / 255.0
        return images[..., np.newaxis], self.labels[batch]

    def on_epoch_end(self):
        if self.shuffle:
            self.rng.shuffle(self.order)


(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()
x_val, y_val = x_train[-200:], y_train[-200:]
x_train, y_train = x_train[:-200], y_train[:-200]

train_dataset = ImageBatches(x_train, y_train, batch_size=64, shuffle=True)
val_dataset = ImageBatches(x_val, y_val, batch_size=64)
test_dataset = ImageBatches(x_test, y_test, batch_size=100)
print(len(train_dataset), "training batches")

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_dataset, validation_data=val_dataset, epochs=5, verbose=2)

test_loss, test_accuracy = model.evaluate(test_dataset, verbose=0)
print("Test accuracy:", test_accuracy)
predictions = model.predict(test_dataset, verbose=0)
predict_accuracy = float(np.mean(np.argmax(predictions, axis=1) == y_test))

print("RESULT", json.dumps({
    "accuracy": float(test_accuracy),
    "loss": float(test_loss),
    "predict_accuracy": predict_accuracy,
    "predictions": len(predictions),
}))
