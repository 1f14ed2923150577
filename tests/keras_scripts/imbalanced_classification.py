"""keras.io examples/structured_data/imbalanced_classification.py.

A Sequential MLP (Dense 256 x3 with Dropout, sigmoid output) on a credit-card-fraud-like table
with rare positives, trained with `class_weight` (the inverse class frequencies), the metrics
FalseNegatives / FalsePositives / TrueNegatives / TruePositives / Precision / Recall,
`ModelCheckpoint("fraud_model_at_epoch_{epoch}.keras")` and `validation_data`. Changed:
- the data: synthetic_data.load_fraud_data (6000 rows of 30 float32 features on very
  different scales, uint8 targets (N, 1), about 3% positive) instead of reading Kaggle's CSV
  (the reading code is left out; the normalization with training-set statistics is kept);
- a fixed seed; epochs 30 -> 10, batch_size 2048 -> 512 (the table is 50 times smaller);
- the RESULT line is added (the counts must cover the validation set exactly).
"""

import json

import numpy as np

import synthetic_data

features, targets = synthetic_data.load_fraud_data()
print("features.shape:", features.shape)
print("targets.shape:", targets.shape)

num_val_samples = int(len(features) * 0.2)
train_features = features[:-num_val_samples]
train_targets = targets[:-num_val_samples]
val_features = features[-num_val_samples:]
val_targets = targets[-num_val_samples:]

print("Number of training samples:", len(train_features))
print("Number of validation samples:", len(val_features))

counts = np.bincount(train_targets[:, 0])
print(
    "Number of positive samples in training data: {} ({:.2f}% of total)".format(
        counts[1], 100 * float(counts[1]) / len(train_targets)
    )
)

weight_for_0 = 1.0 / counts[0]
weight_for_1 = 1.0 / counts[1]

mean = np.mean(train_features, axis=0)
train_features -= mean
val_features -= mean
std = np.std(train_features, axis=0)
train_features /= std
val_features /= std

import keras

keras.utils.set_random_seed(1337)

model = keras.Sequential(
    [
        keras.Input(shape=train_features.shape[1:]),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.summary()

metrics = [
    keras.metrics.FalseNegatives(name="fn"),
    keras.metrics.FalsePositives(name="fp"),
    keras.metrics.TrueNegatives(name="tn"),
    keras.metrics.TruePositives(name="tp"),
    keras.metrics.Precision(name="precision"),
    keras.metrics.Recall(name="recall"),
]

model.compile(
    optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics
)

callbacks = [keras.callbacks.ModelCheckpoint("fraud_model_at_epoch_{epoch}.keras")]
class_weight = {0: weight_for_0, 1: weight_for_1}

history = model.fit(
    train_features,
    train_targets,
    batch_size=512,
    epochs=10,
    verbose=2,
    callbacks=callbacks,
    validation_data=(val_features, val_targets),
    class_weight=class_weight,
)

last = {key: float(values[-1]) for key, values in history.history.items()}
negatives = num_val_samples - int(val_targets.sum())
print("RESULT " + json.dumps({
    # the mean of the recalls of both classes: 0.5 for any constant answer
    "val_balanced_accuracy": (last["val_recall"] + last["val_tn"] / negatives) / 2,
    "val_recall": last["val_recall"],
    "val_precision": last["val_precision"],
    "val_fn": last["val_fn"],
    "val_fp": last["val_fp"],
    "val_positives": int(val_targets.sum()),
    "counts_cover_validation": last["val_fn"] + last["val_fp"] + last["val_tn"] + last["val_tp"] == num_val_samples,
    "positives_match": last["val_fn"] + last["val_tp"] == float(val_targets.sum()),
    "checkpoints": sorted(name for name in __import__("os").listdir(".") if name.startswith("fraud_model_at_epoch_")),
    "history_keys": sorted(history.history),
}))
