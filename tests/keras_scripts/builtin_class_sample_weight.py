"""keras.io guides/training_with_built_in_methods.py: "Using sample weighting and class weighting".

`fit(..., class_weight=class_weight)` with class 5 weighted 2, then
`fit(..., sample_weight=sample_weight)` with the same weighting per sample, each on a fresh
`get_compiled_model()` (the guide's functional MLP; "rmsprop",
"sparse_categorical_crossentropy", ["sparse_categorical_accuracy"]). Changed from the guide:
- the data: synthetic_data.load_data() (2000 training, 500 test images, reshaped with -1)
  instead of MNIST; a fixed seed, epochs 1 -> 3, verbose=2;
- `weighted_metrics=["sparse_categorical_accuracy"]` is added to `get_compiled_model()`'s
  compile (the guide's section on sample weights does not show it), and the evaluations with
  and without `sample_weight`, the recall of class 5, and the RESULT line are added.
"""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255
y_train = y_train.astype("float32")
y_test = y_test.astype("float32")


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(
        optimizer="rmsprop",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
        weighted_metrics=["sparse_categorical_accuracy"],
    )
    return model


class_weight = {
    0: 1.0,
    1: 1.0,
    2: 1.0,
    3: 1.0,
    4: 1.0,
    # Set weight "2" for class "5",
    # making this class 2x more important
    5: 2.0,
    6: 1.0,
    7: 1.0,
    8: 1.0,
    9: 1.0,
}

print("Fit with class weight")
model = get_compiled_model()
class_history = model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=3, verbose=2)
class_scores = model.evaluate(x_test, y_test, return_dict=True, verbose=0)
class_recall_5 = float(np.mean(np.argmax(model.predict(x_test[y_test == 5], verbose=0), axis=1) == 5))

sample_weight = np.ones(shape=(len(y_train),))
sample_weight[y_train == 5] = 2.0

print("Fit with sample weight")
model = get_compiled_model()
sample_history = model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=3, verbose=2)
scores = model.evaluate(x_test, y_test, return_dict=True, verbose=0)
test_weight = np.where(y_test == 5, 2.0, 1.0)
weighted_scores = model.evaluate(x_test, y_test, sample_weight=test_weight, return_dict=True, verbose=0)
predicted = np.argmax(model.predict(x_test, verbose=0), axis=1)
right = (predicted == y_test).astype(float)

print("RESULT " + json.dumps({
    "class_weight_accuracy": float(class_scores["sparse_categorical_accuracy"]),
    "class_weight_recall_5": class_recall_5,
    "accuracy": float(scores["sparse_categorical_accuracy"]),
    "loss": float(scores["loss"]),
    "weighted_accuracy": float(weighted_scores["weighted_sparse_categorical_accuracy"]),
    "weighted_accuracy_matches": bool(np.isclose(weighted_scores["weighted_sparse_categorical_accuracy"],
                                                 np.sum(right * test_weight) / np.sum(test_weight), atol=1e-5)),
    "unweighted_metric_ignores_weights": bool(np.isclose(weighted_scores["sparse_categorical_accuracy"], right.mean(), atol=1e-5)),
    "history_keys": sorted(sample_history.history),
    "evaluate_keys": sorted(weighted_scores),
}))
