"""keras.io guides/functional_api.py: "Extend the API using custom layers" and "Mix-and-match API styles".

`CustomDense` (weights made in `build` with `add_weight`, `call` with `ops.matmul`, `get_config`)
in a functional model rebuilt with `keras.Model.from_config(config, custom_objects=...)`; then
`CustomRNN`, a layer looping over time steps with `ops.zeros` / `ops.stack`, after a Conv1D in a
functional model whose Input has a static `batch_shape`. The code is the guide's in Keras 3
(`ops.matmul`, `ops.zeros`, `ops.stack` where the TensorFlow version has `tf.*`). Changed:
- the guide only builds these models; the script also trains both (`compile`, `fit`, `evaluate`)
  on small learnable arrays made here with NumPy (a linear map of 4 features to 10 outputs; a
  sequence target that is the tanh of a moving sum of the first feature), copies the trained
  weights into the model made by `from_config` and compares outputs; a fixed seed and the
  RESULT line are added.
"""

import json

import numpy as np

import keras
from keras import layers
from keras import ops

keras.utils.set_random_seed(1337)
rng = np.random.default_rng(0)


class CustomDense(layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(
            shape=(self.units,), initializer="random_normal", trainable=True
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {"units": self.units}


inputs = keras.Input((4,))
outputs = CustomDense(10)(inputs)

model = keras.Model(inputs, outputs)
config = model.get_config()

new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})

dense_x = rng.normal(size=(800, 4)).astype("float32")
dense_y = (dense_x @ rng.normal(size=(4, 10)) + 0.1 * rng.normal(size=(800, 10))).astype("float32")
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
model.fit(dense_x[:600], dense_y[:600], batch_size=32, epochs=10, verbose=2)
dense_loss = model.evaluate(dense_x[600:], dense_y[600:], verbose=0)
new_model.set_weights(model.get_weights())
from_config_same = np.allclose(new_model.predict(dense_x[600:], verbose=0), model.predict(dense_x[600:], verbose=0), atol=1e-5)

units = 32
timesteps = 10
input_dim = 5
batch_size = 16


class CustomRNN(layers.Layer):
    def __init__(self):
        super().__init__()
        self.units = units
        self.projection_1 = layers.Dense(units=units, activation="tanh")
        self.projection_2 = layers.Dense(units=units, activation="tanh")
        self.classifier = layers.Dense(1)

    def call(self, inputs):
        outputs = []
        state = ops.zeros(shape=(inputs.shape[0], self.units))
        for t in range(inputs.shape[1]):
            x = inputs[:, t, :]
            h = self.projection_1(x)
            y = h + self.projection_2(state)
            state = y
            outputs.append(y)
        features = ops.stack(outputs, axis=1)
        return self.classifier(features)


# Note that you specify a static batch size for the inputs with the `batch_shape`
# arg, because the inner computation of `CustomRNN` requires a static batch size
# (when you create the `state` zeros tensor).
inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
x = layers.Conv1D(32, 3)(inputs)
outputs = CustomRNN()(x)

model = keras.Model(inputs, outputs)

rnn_model = CustomRNN()
_ = rnn_model(ops.zeros((1, 10, 5)))

seq_x = rng.normal(size=(640, timesteps, input_dim)).astype("float32")
window_sums = seq_x[:, 0:8, 0] + seq_x[:, 1:9, 0] + seq_x[:, 2:10, 0]
seq_y = np.tanh(0.5 * np.cumsum(window_sums, axis=1) / np.sqrt(np.arange(1, 9)))[..., None].astype("float32")
model.compile(optimizer="adam", loss="mse")
model.fit(seq_x[:480], seq_y[:480], batch_size=batch_size, epochs=8, verbose=2)
rnn_loss = model.evaluate(seq_x[480:], seq_y[480:], batch_size=batch_size, verbose=0)

print("RESULT " + json.dumps({
    "dense_loss": float(dense_loss),
    "from_config_same_outputs": bool(from_config_same),
    "custom_dense_weights": len(new_model.trainable_weights),
    "rnn_loss": float(rnn_loss),
    "rnn_target_variance": float(np.var(seq_y[480:])),
    "rnn_output_shape": list(model.output_shape),
    "rnn_params": int(model.count_params()),
}))
