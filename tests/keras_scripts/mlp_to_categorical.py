"""An MLP classifier on flattened images, with one-hot labels from to_categorical."""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

num_classes = 10
(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()

# flatten the 28x28 images and scale them to [0, 1]
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# class vectors to one-hot class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(256, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=64, epochs=6, validation_split=0.1, verbose=2)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

probabilities = model.predict(x_test, verbose=0)
predicted_accuracy = float(np.mean(np.argmax(probabilities, axis=1) == np.argmax(y_test, axis=1)))

print("RESULT", json.dumps({
    "accuracy": float(score[1]),
    "loss": float(score[0]),
    "predict_accuracy": predicted_accuracy,
    "epochs": len(history.history["loss"]),
}))
