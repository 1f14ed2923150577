"""Inspect a model: summary, layers by name, parameter counts, weight shapes; then train it."""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=3, activation="relu", name="conv"),
        layers.MaxPooling2D(pool_size=2, name="pool"),
        layers.Flatten(name="flatten"),
        layers.Dropout(0.25, name="dropout"),
        layers.Dense(10, activation="softmax", name="classifier"),
    ],
    name="inspected",
)
model.summary()

conv = model.get_layer("conv")
classifier = model.get_layer("classifier")
kernel, bias = conv.get_weights()
print("conv kernel", kernel.shape, "bias", bias.shape)
print("layers:", [layer.name for layer in model.layers])
print("total parameters:", model.count_params())

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data(num_train=1200)
x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255, -1)

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=2)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)

print("RESULT", json.dumps({
    "accuracy": float(test_accuracy),
    "params": model.count_params(),
    "conv_params": conv.count_params(),
    "dense_params": classifier.count_params(),
    "kernel_shape": list(kernel.shape),
    "layer_names": [layer.name for layer in model.layers],
    "trainable_weights": len(model.trainable_weights),
    "output_shape": list(model.output_shape),
    "first_layer": model.get_layer(index=0).name,
}))
