"""Images read as sequences of rows of different lengths, padded with pad_sequences, classified by
an MLP with PReLU, LeakyReLU and ELU layers, He and Lecun initializers, max-norm constraints and
an L2 penalty."""

import json

import numpy as np

import keras
from keras import constraints, initializers, layers, regularizers

import synthetic_data

keras.utils.set_random_seed(1337)

num_classes = 10
(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()


def as_sequences(images, seed):
    """Each image as its rows, scaled to [0, 1], the last 0-6 of them cut off (as if the scans
    stopped early): sequences of 22 to 28 rows of 28 values."""
    rng = np.random.default_rng(seed)
    rows = images.astype("float32") / 255
    return [image[: 28 - int(cut)] for image, cut in zip(rows, rng.integers(0, 7, len(rows)))]


train_sequences = as_sequences(x_train, seed=1)
test_sequences = as_sequences(x_test, seed=2)
print("shortest sequence:", min(len(s) for s in train_sequences), "rows")

x_train = keras.utils.pad_sequences(train_sequences, maxlen=28, dtype="float32", padding="post", value=0.0)
x_test = keras.utils.pad_sequences(test_sequences, maxlen=28, dtype="float32", padding="post", value=0.0)
print("padded:", x_train.shape)

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(128, kernel_initializer=initializers.HeNormal(seed=1),
                     kernel_constraint=constraints.MaxNorm(3.0), kernel_regularizer=regularizers.l2(1e-4)),
        layers.PReLU(alpha_initializer=initializers.Constant(0.1)),
        layers.Dropout(0.2),
        layers.Dense(64, kernel_initializer="lecun_normal", bias_constraint=constraints.NonNeg()),
        layers.LeakyReLU(negative_slope=0.1),
        layers.Dense(32, kernel_initializer=initializers.Orthogonal(seed=2)),
        layers.ELU(),
        layers.Dense(num_classes, kernel_constraint=constraints.max_norm(2.0)),
        layers.Softmax(),
    ]
)
model.summary()

model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=64, epochs=6, validation_split=0.1, verbose=2)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

first_kernel = model.layers[1].get_weights()[0]
last_kernel = model.layers[-2].get_weights()[0]
second_bias = model.layers[4].get_weights()[1]

print("RESULT", json.dumps({
    "accuracy": float(score[1]),
    "loss": float(score[0]),
    "padded_shape": list(x_train.shape),
    "max_norm_holds": bool(np.linalg.norm(first_kernel, axis=0).max() <= 3.0 + 1e-5
                           and np.linalg.norm(last_kernel, axis=0).max() <= 2.0 + 1e-5),
    "non_neg_holds": bool(second_bias.min() >= 0),
    "prelu_alphas": int(model.layers[2].get_weights()[0].size),
}))
