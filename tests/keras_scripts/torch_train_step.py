"""keras.io guides/custom_train_step_in_torch.py: "A first simple example".

A functional model of class `CustomModel(keras.Model)` whose `train_step` is the guide's PyTorch
idiom: `self.zero_grad()`, `self.compute_loss(...)`, `loss.backward()`,
`[v.value.grad for v in trainable_weights]`, `self.optimizer.apply(...)` under
`torch.no_grad()`, then every metric of `self.metrics` updated. On gpunet the test's rewrite
turns `import torch` into `import gpunet as torch`, so `torch.no_grad()` is gpunet's `no_grad()`;
the script uses nothing else of torch. Changed from the guide:
- the data: the guide's `np.random.random` inputs and targets become
  synthetic_data.load_regression_data (inputs drawn the same way, targets a linear function of
  them plus noise, so that there is something to learn), 800 to train and 200 to evaluate;
- a fixed seed, epochs 3 -> 40, batch_size=8, verbose=2; the `evaluate` and the RESULT line are added.
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
        x, y = data

        # Call torch.nn.Module.zero_grad() to clear the leftover gradients
        # for the weights from the previous train step.
        self.zero_grad()

        # Compute loss
        y_pred = self(x, training=True)  # Forward pass
        loss = self.compute_loss(y=y, y_pred=y_pred)

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
                metric.update_state(y, y_pred)

        # Return a dict mapping metric names to current value
        # Note that it will include the loss (tracked in self.metrics).
        return {m.name: m.result() for m in self.metrics}


# Construct and compile an instance of CustomModel
inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])

# Just use `fit` as usual
x, y = synthetic_data.load_regression_data()
history = model.fit(x[:800], y[:800], batch_size=8, epochs=40, verbose=2)

loss, mae = model.evaluate(x[800:], y[800:], verbose=0)
print("RESULT " + json.dumps({
    "loss": float(loss),
    "mae": float(mae),
    "train_loss_first_last": [float(history.history["loss"][0]), float(history.history["loss"][-1])],
    "history_keys": sorted(history.history),
}))
