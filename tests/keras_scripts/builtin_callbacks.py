"""keras.io guides/training_with_built_in_methods.py: "Using callbacks", "Checkpointing models"
and "Using learning rate schedules".

`EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2)`, a `LossHistory` callback
subclass recording `logs["loss"]` in `on_batch_end`, `ModelCheckpoint("mymodel_{epoch}.keras",
save_best_only=True, monitor="val_loss")`, the guide's `make_or_restore_model()` restoring the
newest checkpoint of a `ModelCheckpoint(save_freq=100)` folder with `load_model`, and an
`ExponentialDecay` schedule given to `RMSprop`, all on the guide's functional MLP
(`get_compiled_model()`). Changed from the guide:
- the data: synthetic_data.load_data() (2000 training, 500 test images, reshaped with -1)
  instead of MNIST; a fixed seed, verbose=2 (verbose=0 for the early-stopped fit);
- `LossHistory` is defined and not used in the guide: it is passed to the early-stopped fit;
- `make_or_restore_model()` runs twice (the guide runs it once): the second call restores what
  the first run's checkpoints saved; `batch_size=16` in that fit (the guide leaves the default 32:
  with 2000 samples an epoch has to reach 100 batches for `save_freq=100` to save)
  and the schedule's model is trained (the guide only builds the optimizer);
- the RESULT line is added.
"""

import json
import os

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
    )
    return model


class LossHistory(keras.callbacks.Callback):
    def on_train_begin(self, logs):
        self.per_batch_losses = []

    def on_batch_end(self, batch, logs):
        self.per_batch_losses.append(logs.get("loss"))


model = get_compiled_model()

loss_history = LossHistory()
callbacks = [
    keras.callbacks.EarlyStopping(
        # Stop training when `val_loss` is no longer improving
        monitor="val_loss",
        # "no longer improving" being defined as "no better than 1e-2 less"
        min_delta=1e-2,
        # "no longer improving" being further defined as "for at least 2 epochs"
        patience=2,
        verbose=1,
    ),
    loss_history,
]
early_history = model.fit(
    x_train,
    y_train,
    epochs=20,
    batch_size=64,
    callbacks=callbacks,
    validation_split=0.2,
    verbose=0,
)
val_losses = early_history.history["val_loss"]
# EarlyStopping's rule replayed on the logged val_loss: stop after 2 epochs without a gain of 1e-2
best, wait, expected_epochs = np.inf, 0, len(val_losses)
for epoch, value in enumerate(val_losses):
    if value < best - 1e-2:
        best, wait = value, 0
    else:
        wait += 1
        if wait >= 2:
            expected_epochs = epoch + 1
            break
early_accuracy = model.evaluate(x_test, y_test, verbose=0)[1]

model = get_compiled_model()

callbacks = [
    keras.callbacks.ModelCheckpoint(
        # Path where to save the model
        # The two parameters below mean that we will overwrite
        # the current checkpoint if and only if
        # the `val_loss` score has improved.
        # The saved model name will include the current epoch.
        filepath="mymodel_{epoch}.keras",
        save_best_only=True,  # Only save a model if `val_loss` has improved.
        monitor="val_loss",
        verbose=1,
    )
]
checkpoint_history = model.fit(
    x_train,
    y_train,
    epochs=2,
    batch_size=64,
    callbacks=callbacks,
    validation_split=0.2,
    verbose=2,
)
improved = [1] + [e + 1 for e in range(1, 2) if checkpoint_history.history["val_loss"][e] < min(checkpoint_history.history["val_loss"][:e])]

# Prepare a directory to store all the checkpoints.
checkpoint_dir = "./ckpt"
if not os.path.exists(checkpoint_dir):
    os.makedirs(checkpoint_dir)


def make_or_restore_model():
    # Either restore the latest model, or create a fresh one
    # if there is no checkpoint available.
    checkpoints = [checkpoint_dir + "/" + name for name in os.listdir(checkpoint_dir)]
    if checkpoints:
        latest_checkpoint = max(checkpoints, key=os.path.getctime)
        print("Restoring from", latest_checkpoint)
        return keras.models.load_model(latest_checkpoint)
    print("Creating a new model")
    return get_compiled_model()


restored = []
for run in range(2):
    restored.append(bool(os.listdir(checkpoint_dir)))
    model = make_or_restore_model()
    callbacks = [
        # This callback saves the model every 100 batches.
        # We include the training loss in the saved model name.
        keras.callbacks.ModelCheckpoint(
            filepath=checkpoint_dir + "/model-loss={loss:.2f}.keras", save_freq=100
        )
    ]
    model.fit(x_train, y_train, epochs=1, batch_size=16, callbacks=callbacks, verbose=2)
restored_accuracy = model.evaluate(x_test, y_test, verbose=0)[1]

initial_learning_rate = 0.1
lr_schedule = keras.optimizers.schedules.ExponentialDecay(
    initial_learning_rate, decay_steps=100000, decay_rate=0.96, staircase=True
)

optimizer = keras.optimizers.RMSprop(learning_rate=lr_schedule)
model = get_uncompiled_model()
model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
schedule_history = model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=2)

print("RESULT " + json.dumps({
    "accuracy": float(early_accuracy),
    "early_stopped_epochs": len(val_losses),
    "early_stopping_rule_holds": len(val_losses) == expected_epochs,
    "batch_losses_recorded": len(loss_history.per_batch_losses) == len(val_losses) * 25,
    "checkpoint_files": sorted(name for name in os.listdir(".") if name.startswith("mymodel_")),
    "expected_checkpoint_files": [f"mymodel_{epoch}.keras" for epoch in improved],
    "restored_on_second_run": restored,
    "ckpt_files": len(os.listdir(checkpoint_dir)),
    "restored_accuracy": float(restored_accuracy),
    "schedule_learning_rate_after_32_steps": float(keras.ops.convert_to_numpy(lr_schedule(32))),
    "schedule_fit_loss_finite": bool(np.isfinite(schedule_history.history["loss"][-1])),
}))
