"""keras.io guides/training_with_built_in_methods.py: "Custom losses" and "Custom metrics".

A loss function written with `keras.ops` (`custom_mean_squared_error`), a `keras.losses.Loss`
subclass with a parameter (`CustomMSE`), targets one-hot encoded with `ops.one_hot`, and a
`keras.metrics.Metric` subclass with a state variable made by `add_variable`, `update_state`
(sample weights included), `result` and `reset_state` (`CategoricalTruePositives`), each used
in `compile` on the guide's functional MLP (`get_uncompiled_model()`). Changed from the guide:
- the data: synthetic_data.load_data() (2000 training, 500 test images) instead of MNIST,
  reshaped with -1 instead of 60000;
- a fixed seed, epochs 1 -> 3 for the two losses, verbose=2, and `metrics=["categorical_accuracy"]`
  in their two `compile` calls (the guide gives none);
- `CategoricalTruePositives.result` returns `self.true_positives.value` where the guide returns
  the variable itself: Keras 3.15 on JAX refuses a variable as a traced result (`Triggering
  __jax_array__() during abstractification is no longer supported`);
- the labels are given to that metric as (N, 1), the shape its `update_state` compares with;
- an `evaluate` after each fit and the RESULT line are added; the count of true positives is
  checked against `predict`.
"""

import json

import numpy as np

import keras
from keras import layers
from keras import ops

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


def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error, metrics=["categorical_accuracy"])

# We need to one-hot encode the labels to use MSE
y_train_one_hot = ops.one_hot(y_train, num_classes=10)
model.fit(x_train, y_train_one_hot, batch_size=64, epochs=3, verbose=2)
function_loss, function_accuracy = model.evaluate(x_test, np.eye(10)[y_test.astype(int)], verbose=0)


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE(), metrics=["categorical_accuracy"])

y_train_one_hot = ops.one_hot(y_train, num_classes=10)
model.fit(x_train, y_train_one_hot, batch_size=64, epochs=3, verbose=2)
class_loss, class_accuracy = model.evaluate(x_test, np.eye(10)[y_test.astype(int)], verbose=0)


class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(
            shape=(), name="ctp", initializer="zeros"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        # The state of the metric will be reset at the start of each epoch.
        self.true_positives.assign(0.0)


model = get_uncompiled_model()
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(),
    metrics=[CategoricalTruePositives()],
)
history = model.fit(x_train, y_train.reshape(-1, 1), batch_size=64, epochs=3, verbose=2)
# all 500 test samples in one batch: the metric's count is the number of right answers
scores = model.evaluate(x_test, y_test.reshape(-1, 1), batch_size=500, return_dict=True, verbose=0)
right = int(np.sum(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))

print("RESULT " + json.dumps({
    "function_loss": float(function_loss),
    "function_accuracy": float(function_accuracy),
    "class_loss": float(class_loss),
    "class_accuracy": float(class_accuracy),
    "accuracy": float(scores["categorical_true_positives"]) / 500,
    "loss": float(scores["loss"]),
    "true_positives_match_predictions": int(round(float(scores["categorical_true_positives"]))) == right,
    "history_keys": sorted(history.history),
}))
