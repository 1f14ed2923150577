"""A convnet with batch normalization; the learning rate halves when the validation accuracy stalls."""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data(num_train=3000)
x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255, -1)

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(16, 3, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=3e-3),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)

reduce_lr = keras.callbacks.ReduceLROnPlateau(
    monitor="val_accuracy", factor=0.5, patience=1, min_delta=0.005, min_lr=1e-5, verbose=1
)
history = model.fit(
    x_train, y_train, batch_size=32, epochs=6, validation_split=0.1, callbacks=[reduce_lr], verbose=2
)

# the learning rate each epoch trained with, then the one a further epoch would start with
learning_rates = [float(lr) for lr in history.history["learning_rate"]] + [float(model.optimizer.learning_rate)]
print("Learning rates:", learning_rates)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print("Test accuracy:", test_accuracy)

print("RESULT", json.dumps({
    "accuracy": float(test_accuracy),
    "loss": float(test_loss),
    "learning_rate_reductions": sum(later < earlier for earlier, later in zip(learning_rates, learning_rates[1:])),
    "learning_rates": learning_rates,
    "val_accuracy": [float(value) for value in history.history["val_accuracy"]],
}))
