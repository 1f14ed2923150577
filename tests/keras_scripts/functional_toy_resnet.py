"""keras.io guides/functional_api.py: "A toy ResNet model".

Two residual blocks joined with `layers.add`, GlobalAveragePooling2D, Dropout, 10 logits,
`metrics=["acc"]`, trained with `validation_split=0.2` on the first 1000 training images as the
guide does. Changed from the guide:
- the data: synthetic_data.load_color_data(side=16) (CIFAR-10's layout and dtypes: (N, side, side, 3)
  uint8 images, (N, 1) labels) instead of `keras.datasets.cifar10`, at 16x16 pixels instead of
  32x32 (the Input shape says so) to run in seconds on a CPU;
- a fixed seed, epochs 1 -> 10;
- `keras.utils.plot_model` left out; the test-set `evaluate` and the RESULT line are added.
"""

import json

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

inputs = keras.Input(shape=(16, 16, 3), name="img")
x = layers.Conv2D(32, 3, activation="relu")(inputs)
x = layers.Conv2D(64, 3, activation="relu")(x)
block_1_output = layers.MaxPooling2D(3)(x)

x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
block_2_output = layers.add([x, block_1_output])

x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
block_3_output = layers.add([x, block_2_output])

x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dense(256, activation="relu")(x)
x = layers.Dropout(0.5)(x)
outputs = layers.Dense(10)(x)

model = keras.Model(inputs, outputs, name="toy_resnet")
model.summary()

(x_train, y_train), (x_test, y_test) = synthetic_data.load_color_data(side=16)

x_train = x_train.astype("float32") / 255.0
x_test = x_test.astype("float32") / 255.0
y_train = keras.utils.to_categorical(y_train, 10)
y_test = keras.utils.to_categorical(y_test, 10)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=["acc"],
)
# We restrict the data to the first 1000 samples so as to limit execution time
# on Colab. Try to train on the entire dataset until convergence!
history = model.fit(x_train[:1000], y_train[:1000], batch_size=64, epochs=10, validation_split=0.2)

loss, acc = model.evaluate(x_test, y_test, verbose=0)
print("RESULT " + json.dumps({
    "accuracy": float(acc),
    "loss": float(loss),
    "history_keys": sorted(history.history),
    "params": int(model.count_params()),
}))
