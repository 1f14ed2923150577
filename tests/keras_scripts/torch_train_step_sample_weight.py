"""keras.io guides/custom_train_step_in_torch.py: "Supporting sample_weight & class_weight".

The PyTorch-idiom `train_step` (see torch_train_step.py) unpacking `(x, y, sample_weight)` and
passing the weights to `self.compute_loss` and to each metric's `update_state`, trained with
`fit(..., sample_weight=sw)`. Changed from the guide:
- the data: synthetic_data.load_regression_data (the guide's random inputs, learnable targets)
  and the guide's `np.random.random((1000, 1))` weights drawn from a fixed NumPy generator;
- a fixed seed, epochs 3 -> 40, batch_size=8, verbose=2; an `evaluate` with and without the
  weights and the RESULT line are added.
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
    def train_step(self, data):
        # Unpack the data. Its structure depends on your model and
        # on what you pass to `fit()`.
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data

        # Call torch.nn.Module.zero_grad() to clear the leftover gradients
        # for the weights from the previous train step.
        self.zero_grad()

        # Compute loss
        y_pred = self(x, training=True)  # Forward pass
        loss = self.compute_loss(
            y=y,
            y_pred=y_pred,
            sample_weight=sample_weight,
        )

        # Call torch.Tensor.backward() on the loss to compute gradients
        # for the weights.
        loss.backward()

        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]

        # Update weights
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)

        # Update metrics (includes the metric that tracks the loss)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)

        # Return a dict mapping metric names to current value
        # Note that it will include the loss (tracked in self.metrics).
        return {m.name: m.result() for m in self.metrics}


# Construct and compile an instance of CustomModel
inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])

# You can now use sample_weight argument
x, y = synthetic_data.load_regression_data()
sw = np.random.default_rng(1).random((1000, 1))
history = model.fit(x[:800], y[:800], sample_weight=sw[:800], batch_size=8, epochs=40, verbose=2)

loss, mae = model.evaluate(x[800:], y[800:], verbose=0)
weighted_loss, weighted_mae = model.evaluate(x[800:], y[800:], sample_weight=sw[800:], verbose=0)
print("RESULT " + json.dumps({
    "loss": float(loss),
    "mae": float(mae),
    "weighted_loss": float(weighted_loss),
    "weighted_mae": float(weighted_mae),
    "history_keys": sorted(history.history),
}))
