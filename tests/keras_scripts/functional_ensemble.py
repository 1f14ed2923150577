"""keras.io guides/functional_api.py: "All models are callable, just like layers" (ensembling).

Three functional models built by one `get_model()` function, called on a shared input and
averaged with `layers.average` into one ensemble model. Changed from the guide:
- the guide only builds the ensemble; the script also trains and evaluates it as a regression
  (`compile(optimizer="adam", loss="mse", metrics=["mae"])`, `fit`, `evaluate`) and checks that
  its output is the mean of its members' outputs: those lines, the data
  (synthetic_data.load_regression_data with 128 features), a fixed seed and the RESULT line are added.
"""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)


def get_model():
    inputs = keras.Input(shape=(128,))
    outputs = layers.Dense(1)(inputs)
    return keras.Model(inputs, outputs)


model1 = get_model()
model2 = get_model()
model3 = get_model()

inputs = keras.Input(shape=(128,))
y1 = model1(inputs)
y2 = model2(inputs)
y3 = model3(inputs)
outputs = layers.average([y1, y2, y3])
ensemble_model = keras.Model(inputs=inputs, outputs=outputs)

x, y = synthetic_data.load_regression_data(num_samples=1200, num_features=128)
x_train, y_train, x_test, y_test = x[:1000], y[:1000], x[1000:], y[1000:]

ensemble_model.compile(optimizer="adam", loss="mse", metrics=["mae"])
ensemble_model.fit(x_train, y_train, batch_size=16, epochs=30, verbose=2)
loss, mae = ensemble_model.evaluate(x_test, y_test, verbose=0)

members = [m.predict(x_test, verbose=0) for m in (model1, model2, model3)]
print("RESULT " + json.dumps({
    "loss": float(loss),
    "mae": float(mae),
    "variance_explained": 1.0 - float(loss) / float(np.var(y_test)),
    "is_mean_of_members": bool(np.allclose(ensemble_model.predict(x_test, verbose=0), np.mean(members, axis=0), atol=1e-5)),
    "params": int(ensemble_model.count_params()),
    "trainable_weights": len(ensemble_model.trainable_weights),
}))
