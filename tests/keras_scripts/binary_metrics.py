"""Binary classification: a sigmoid output, binary cross-entropy, precision, recall and AUC."""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

(x_train, y_train), (x_test, y_test) = synthetic_data.load_binary_data()
print(f"{int(y_train.sum())} positive samples of {len(y_train)}")

model = keras.Sequential(
    [
        keras.Input(shape=(x_train.shape[1],)),
        layers.Dense(32, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(
    optimizer="adam",
    loss="binary_crossentropy",
    metrics=["accuracy", keras.metrics.Precision(), keras.metrics.Recall(), keras.metrics.AUC()],
)
model.fit(x_train, y_train, batch_size=32, epochs=10, validation_split=0.2, verbose=2)

results = model.evaluate(x_test, y_test, return_dict=True, verbose=0)
print("Test results:", results)

# precision and recall at the default 0.5 threshold, counted from the predictions
predicted = model.predict(x_test, verbose=0)[:, 0] > 0.5
true_positives = np.sum(predicted & (y_test == 1))
precision = true_positives / max(np.sum(predicted), 1)
recall = true_positives / max(np.sum(y_test == 1), 1)

print("RESULT", json.dumps({
    "accuracy": float(results["accuracy"]),
    "precision": float(results["precision"]),
    "recall": float(results["recall"]),
    "auc": float(results["auc"]),
    "loss": float(results["loss"]),
    "metric_names": sorted(results),
    "metrics_match_predictions": bool(
        abs(precision - results["precision"]) < 1e-4 and abs(recall - results["recall"]) < 1e-4
    ),
}))
