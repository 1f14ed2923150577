"""keras.io guides/custom_train_step_in_torch.py: "Going lower-level".

`CustomModel(keras.Model)` creating its own `keras.metrics.Mean(name="loss")`,
`MeanAbsoluteError` and `MeanSquaredError` loss in `__init__`, listing the metrics in a `metrics`
property so that `fit` resets them each epoch, and compiled with an optimizer only; its
`train_step` is the guide's PyTorch idiom (`self.zero_grad()`, `loss.backward()`,
`v.value.grad`, `self.optimizer.apply` under `torch.no_grad()`, which the test's rewrite maps to
gpunet's `no_grad()`). Changed from the guide:
- the data: synthetic_data.load_regression_data (the guide's random inputs, learnable
  targets), 800 samples to train and 200 to check;
- a fixed seed, epochs 5 -> 40, batch_size=8, verbose=2; the check of the held-out error
  (computed with NumPy from `predict`) and the RESULT line are added.
"""

import json
import os

# This guide can only be run with the torch backend.
os.environ["KERAS_BACKEND"] = "torch"

import torch
import keras
from keras import layers
import numpy as np

import synthetic_data

keras.utils.set_random_seed(1337)


class CustomModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data

        # Call torch.nn.Module.zero_grad() to clear the leftover gradients
        # for the weights from the previous train step.
        self.zero_grad()

        # Compute loss
        y_pred = self(x, training=True)  # Forward pass
        loss = self.loss_fn(y, y_pred)

        # Call torch.Tensor.backward() on the loss to compute gradients
        # for the weights.
        loss.backward()

        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]

        # Update weights
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)

        # Compute our own metrics
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {
            "loss": self.loss_tracker.result(),
            "mae": self.mae_metric.result(),
        }

    @property
    def metrics(self):
        # We list our `Metric` objects here so that `reset_states()` can be
        # called automatically at the start of each epoch
        # or at the start of `evaluate()`.
        return [self.loss_tracker, self.mae_metric]


# Construct an instance of CustomModel
inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)

# We don't pass a loss or metrics here.
model.compile(optimizer="adam")

# Just use `fit` as usual -- you can use callbacks, etc.
x, y = synthetic_data.load_regression_data()
history = model.fit(x[:800], y[:800], batch_size=8, epochs=40, verbose=2)

predictions = model.predict(x[800:], verbose=0)
print("RESULT " + json.dumps({
    "loss": float(np.mean((predictions - y[800:]) ** 2)),
    "mae": float(np.mean(np.abs(predictions - y[800:]))),
    "train_loss_last": float(history.history["loss"][-1]),
    "train_mae_last": float(history.history["mae"][-1]),
    "history_keys": sorted(history.history),
    "metric_names": [m.name for m in model.metrics],
}))
