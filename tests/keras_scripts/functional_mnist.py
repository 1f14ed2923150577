"""keras.io guides/functional_api.py: "Training, evaluation, and inference" and "Save and serialize".

The functional MLP of the guide (784 -> 64 -> 64 -> 10 logits), trained with RMSprop and
SparseCategoricalCrossentropy(from_logits=True), evaluated, saved as one `.keras` file and
loaded back. Changed from the guide:
- the data: synthetic_data.load_data() (2000 training, 500 test images) instead of MNIST, so the
  reshapes read 2000 / 500 instead of 60000 / 10000;
- a fixed seed (keras.utils.set_random_seed), epochs 2 -> 4;
- `keras.utils.plot_model` calls left out (they need pydot and graphviz, and draw no numbers);
- the file is `path_to_my_model.keras` (Keras 3 needs the extension), and the lines after
  `load_model` (the reloaded model's predictions and evaluation compared with the original's) and
  the RESULT line are added.
"""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

inputs = keras.Input(shape=(784,))
dense = layers.Dense(64, activation="relu")
x = dense(inputs)
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)

model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
model.summary()

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()

x_train = x_train.reshape(2000, 784).astype("float32") / 255
x_test = x_test.reshape(500, 784).astype("float32") / 255

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=["accuracy"],
)

history = model.fit(x_train, y_train, batch_size=64, epochs=4, validation_split=0.2)

test_scores = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])

predictions = model.predict(x_test, verbose=0)
model.save("path_to_my_model.keras")
del model
# Recreate the exact same model purely from the file:
model = keras.models.load_model("path_to_my_model.keras")

reloaded_scores = model.evaluate(x_test, y_test, verbose=0)
print("RESULT " + json.dumps({
    "accuracy": float(test_scores[1]),
    "loss": float(test_scores[0]),
    "val_accuracy": float(history.history["val_accuracy"][-1]),
    "reloaded_same_predictions": bool(np.allclose(model.predict(x_test, verbose=0), predictions, atol=1e-5)),
    "reloaded_same_evaluation": bool(np.allclose(reloaded_scores, test_scores, rtol=1e-5)),
    "reloaded_name": model.name,
}))
