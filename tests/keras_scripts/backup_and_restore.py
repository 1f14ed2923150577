"""Resume an interrupted fit with BackupAndRestore; log epochs with CSVLogger and a LambdaCallback."""

import csv
import json
import os

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255

model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class InterruptingCallback(keras.callbacks.Callback):
    """Simulates a crash at the start of the fifth epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 4:
            raise RuntimeError("Interrupting!")


backup = keras.callbacks.BackupAndRestore(backup_dir="backup")
try:
    model.fit(x_train, y_train, batch_size=64, epochs=8, callbacks=[backup, InterruptingCallback()], verbose=2)
except RuntimeError:
    print("Training interrupted; the backup holds", os.listdir("backup"))

# run the same fit again: it picks up after the last completed epoch
epochs_logged = []
print_epoch = keras.callbacks.LambdaCallback(
    on_epoch_end=lambda epoch, logs: epochs_logged.append(epoch)
)
csv_logger = keras.callbacks.CSVLogger("training.log")
history = model.fit(
    x_train, y_train, batch_size=64, epochs=8, callbacks=[backup, csv_logger, print_epoch], verbose=2
)
print("Epochs trained after the restart:", len(history.history["loss"]))

with open("training.log", newline="") as f:
    csv_epochs = [int(row["epoch"]) for row in csv.DictReader(f)]

test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)

print("RESULT", json.dumps({
    "accuracy": float(test_accuracy),
    "loss": float(test_loss),
    "epochs_after_restart": len(history.history["loss"]),
    "lambda_epochs": epochs_logged,
    "csv_epochs": csv_epochs,
    "backup_removed": not os.path.exists("backup"),
}))
