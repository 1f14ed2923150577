"""keras.io guides/custom_train_step_in_torch.py: "Providing your own evaluation step".

`CustomModel(keras.Model)` overriding `test_step`: the forward pass with `training=False`,
`self.compute_loss`, each metric of `self.metrics` updated, a dict of results returned;
`evaluate` runs it. Changed from the guide:
- the guide evaluates an untrained model; the script first trains it with the built-in
  `train_step` (`model.fit(...)`, and `optimizer="adam"` in the `compile`, where the guide's
  has none), so that the evaluation has something to measure;
- the data: synthetic_data.load_regression_data (the guide's random inputs, learnable
  targets); a fixed seed, `return_dict=True`, and the RESULT line (with the same error computed
  with NumPy from `predict`) are added.
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
    def test_step(self, data):
        # Unpack the data
        x, y = data
        # Compute predictions
        y_pred = self(x, training=False)
        # Updates the metrics tracking the loss
        loss = self.compute_loss(y=y, y_pred=y_pred)
        # Update the metrics.
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        # Return a dict mapping metric names to current value.
        # Note that it will include the loss (tracked in self.metrics).
        return {m.name: m.result() for m in self.metrics}


# Construct an instance of CustomModel
inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])

x, y = synthetic_data.load_regression_data()
model.fit(x[:800], y[:800], batch_size=8, epochs=40, verbose=0)

# Evaluate with our custom test_step
results = model.evaluate(x[800:], y[800:], return_dict=True)
predictions = model.predict(x[800:], verbose=0)
print("RESULT " + json.dumps({
    "loss": float(results["loss"]),
    "mae": float(results["mae"]),
    "result_keys": sorted(results),
    "matches_predictions": bool(np.isclose(results["mae"], np.mean(np.abs(predictions - y[800:])), rtol=1e-4)),
}))
