"""Save a trained model as .keras (and its weights as .weights.h5), load both back, keep training."""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255


def get_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


model = get_model()
model.fit(x_train, y_train, batch_size=64, epochs=4, verbose=2)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)

# the whole model: architecture, weights, compile arguments and optimizer state
model.save("classifier.keras")
reconstructed = keras.models.load_model("classifier.keras")
reconstructed.summary()
same_predictions = np.allclose(model.predict(x_test, verbose=0), reconstructed.predict(x_test, verbose=0), atol=1e-6)
reloaded_loss, reloaded_accuracy = reconstructed.evaluate(x_test, y_test, verbose=0)
same_evaluation = abs(reloaded_loss - test_loss) < 1e-5 and abs(reloaded_accuracy - test_accuracy) < 1e-6

# weights only, into a freshly built model of the same architecture
model.save_weights("classifier.weights.h5")
fresh = get_model()
fresh.load_weights("classifier.weights.h5")
same_weights = np.allclose(model.predict(x_test, verbose=0), fresh.predict(x_test, verbose=0), atol=1e-6)

# the reloaded model is compiled: it can carry on training where the original stopped
reconstructed.fit(x_train, y_train, batch_size=64, epochs=1, verbose=2)
_, accuracy_after_more_training = reconstructed.evaluate(x_test, y_test, verbose=0)

print("RESULT", json.dumps({
    "accuracy": float(reloaded_accuracy),
    "reloaded_same_predictions": bool(same_predictions),
    "reloaded_same_evaluation": bool(same_evaluation),
    "weights_file_same_predictions": bool(same_weights),
    "accuracy_after_more_training": float(accuracy_after_more_training),
}))
