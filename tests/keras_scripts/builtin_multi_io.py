"""keras.io guides/training_with_built_in_methods.py: "Passing data to multi-input, multi-output models".

A functional model with two named inputs (an image through Conv2D / GlobalMaxPooling2D, a
timeseries of any length through Conv1D / GlobalMaxPooling1D) joined by `layers.concatenate`,
and two named outputs ("score_output", "class_output"); compiled in turn with the guide's lists
and dicts of losses and metrics, `loss_weights={"score_output": 2.0, "class_output": 1.0}`, no
loss for one output (`[None, ...]` and a dict naming one output), and trained on lists and on
dicts of arrays. Changed from the guide:
- the data: synthetic_data.load_multi_io_data (the guide's shapes and value ranges, but the
  class and score follow from the inputs) with 400 samples, 300 to train and 100 to validate,
  instead of 100 random ones;
- a fixed seed, verbose=2, epochs 1 -> 6 for the final fits;
- `keras.utils.plot_model` is left out; added: a fit with `validation_data` as a tuple of dicts
  after the `loss_weights` compile, with an `evaluate(return_dict=True)` whose total must be the
  weighted sum of the outputs' losses; an `evaluate` after the last fit, and the RESULT line.
"""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

image_input = keras.Input(shape=(32, 32, 3), name="img_input")
timeseries_input = keras.Input(shape=(None, 10), name="ts_input")

x1 = layers.Conv2D(3, 3)(image_input)
x1 = layers.GlobalMaxPooling2D()(x1)

x2 = layers.Conv1D(3, 3)(timeseries_input)
x2 = layers.GlobalMaxPooling1D()(x2)

x = layers.concatenate([x1, x2])

score_output = layers.Dense(1, name="score_output")(x)
class_output = layers.Dense(5, name="class_output")(x)

model = keras.Model(
    inputs=[image_input, timeseries_input], outputs=[score_output, class_output]
)

img_all, ts_all, score_all, class_all = synthetic_data.load_multi_io_data()
img_data, ts_data, score_targets, class_targets = img_all[:300], ts_all[:300], score_all[:300], class_all[:300]
val_inputs = {"img_input": img_all[300:], "ts_input": ts_all[300:]}
val_targets = {"score_output": score_all[300:], "class_output": class_all[300:]}

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=[
        keras.losses.MeanSquaredError(),
        keras.losses.CategoricalCrossentropy(),
    ],
)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=[
        keras.losses.MeanSquaredError(),
        keras.losses.CategoricalCrossentropy(),
    ],
    metrics=[
        [
            keras.metrics.MeanAbsolutePercentageError(),
            keras.metrics.MeanAbsoluteError(),
        ],
        [keras.metrics.CategoricalAccuracy()],
    ],
)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "score_output": keras.losses.MeanSquaredError(),
        "class_output": keras.losses.CategoricalCrossentropy(),
    },
    metrics={
        "score_output": [
            keras.metrics.MeanAbsolutePercentageError(),
            keras.metrics.MeanAbsoluteError(),
        ],
        "class_output": [keras.metrics.CategoricalAccuracy()],
    },
)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "score_output": keras.losses.MeanSquaredError(),
        "class_output": keras.losses.CategoricalCrossentropy(),
    },
    metrics={
        "score_output": [
            keras.metrics.MeanAbsolutePercentageError(),
            keras.metrics.MeanAbsoluteError(),
        ],
        "class_output": [keras.metrics.CategoricalAccuracy()],
    },
    loss_weights={"score_output": 2.0, "class_output": 1.0},
)

weighted_history = model.fit(
    {"img_input": img_data, "ts_input": ts_data},
    {"score_output": score_targets, "class_output": class_targets},
    batch_size=32,
    epochs=6,
    validation_data=(val_inputs, val_targets),
    verbose=2,
)
weighted_scores = model.evaluate(val_inputs, val_targets, batch_size=100, return_dict=True, verbose=0)

# List loss version
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=[None, keras.losses.CategoricalCrossentropy()],
)

# Or dict loss version
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={"class_output": keras.losses.CategoricalCrossentropy()},
)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=[
        keras.losses.MeanSquaredError(),
        keras.losses.CategoricalCrossentropy(),
    ],
)

# Fit on lists
model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=32, epochs=6, verbose=2)

# Alternatively, fit on dicts
history = model.fit(
    {"img_input": img_data, "ts_input": ts_data},
    {"score_output": score_targets, "class_output": class_targets},
    batch_size=32,
    epochs=6,
    verbose=2,
)
scores = model.evaluate(val_inputs, val_targets, return_dict=True, verbose=0)
score_pred, class_pred = model.predict(val_inputs, verbose=0)

print("RESULT " + json.dumps({
    "class_accuracy": float(np.mean(np.argmax(class_pred, axis=1) == np.argmax(val_targets["class_output"], axis=1))),
    "weighted_class_accuracy": float(weighted_scores["class_output_categorical_accuracy"]),
    "weighted_score_mae": float(weighted_scores["score_output_mean_absolute_error"]),
    "weighted_total_is_sum": bool(np.isclose(
        weighted_scores["loss"], 2.0 * weighted_scores["score_output_loss"] + weighted_scores["class_output_loss"], rtol=1e-4)),
    "weighted_evaluate_keys": sorted(weighted_scores),
    "weighted_history_keys": sorted(weighted_history.history),
    "score_mse": float(np.mean((score_pred - val_targets["score_output"]) ** 2)),
    "score_variance": float(np.var(val_targets["score_output"])),
    "loss": float(scores["loss"]),
    "evaluate_keys": sorted(scores),
    "history_keys": sorted(history.history),
}))
