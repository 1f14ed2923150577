"""Stop when the validation loss stops improving, keep the best model on disk, then load it back."""

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
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=3e-3),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)

callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, verbose=1),
    keras.callbacks.ModelCheckpoint(
        filepath="best_model.keras", monitor="val_loss", save_best_only=True, verbose=1
    ),
]
history = model.fit(
    x_train, y_train, batch_size=128, epochs=40, validation_split=0.2, callbacks=callbacks, verbose=2
)
epochs_run = len(history.history["loss"])
best_val_loss = min(history.history["val_loss"])
print(f"Trained {epochs_run} epochs; best val_loss {best_val_loss:.4f}")

best_model = keras.models.load_model("best_model.keras")

# validation_split holds out the last 20% of the samples: the checkpoint scores its best val_loss there
num_val = int(len(x_train) * 0.2)
x_val, y_val = x_train[-num_val:], y_train[-num_val:]
reloaded_val_loss = best_model.evaluate(x_val, y_val, verbose=0)[0]
print(f"The checkpoint's loss on the validation samples: {reloaded_val_loss:.4f}")

test_loss, test_accuracy = best_model.evaluate(x_test, y_test, verbose=0)
print("Test accuracy of the best checkpoint:", test_accuracy)

print("RESULT", json.dumps({
    "accuracy": float(test_accuracy),
    "loss": float(test_loss),
    "epochs_run": epochs_run,
    "stopped_early": epochs_run < 40,
    "checkpoint_exists": os.path.exists("best_model.keras"),
    "reloaded_matches_checkpoint": abs(reloaded_val_loss - best_val_loss) < 1e-3,
}))
