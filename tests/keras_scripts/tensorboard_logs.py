"""Log training to TensorBoard event files."""

import datetime
import glob
import json
import os

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

log_dir = os.path.join("logs", "fit", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
tensorboard_callback = keras.callbacks.TensorBoard(log_dir=log_dir, histogram_freq=1)

model.fit(
    x=x_train,
    y=y_train,
    epochs=5,
    validation_data=(x_test, y_test),
    callbacks=[tensorboard_callback],
    verbose=2,
)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)

event_files = glob.glob(os.path.join(log_dir, "**", "events.out.tfevents.*"), recursive=True)
print("Event files:", event_files)
print(f"Run: tensorboard --logdir {log_dir}")

print("RESULT", json.dumps({
    "accuracy": float(test_accuracy),
    "loss": float(test_loss),
    "event_files": len(event_files),
}))
