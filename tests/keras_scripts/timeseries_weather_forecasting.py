"""keras.io examples/timeseries/timeseries_weather_forecasting.py (the Keras 3 version).

Normalized weather features cut into windows by `keras.preprocessing.timeseries_dataset_from_array`
(one row in `step`, `past` rows back, the temperature `future` rows ahead as target), an
`LSTM(32)` and a `Dense(1)` in a functional model trained with mse, `EarlyStopping` and a
`ModelCheckpoint(save_weights_only=True, save_best_only=True)`.
Changed from the example:
- the data: synthetic_data.load_weather_data (the Jena climate CSV's 14 columns, on its scales,
  one row every ten minutes; 6000 rows) instead of the downloaded CSV read by pandas; the
  pandas steps (`df[selected_features]`, `.values`, `.loc`, `.iloc`) become the same selections
  of NumPy rows and columns, and `dataset_train.take(1)` / `.numpy()` the first batch of a loop
  and `np.asarray`; the plots (matplotlib) are left out;
- a fixed seed; `past` 720 -> 240, `future` 72 -> 36, `batch_size` 256 -> 128, epochs 10 -> 4;
  the checkpoint file `model_checkpoint.h5` -> `model_checkpoint.weights.h5` (Keras 3 asks that
  suffix of `save_weights_only`);
- the validation loss of the best weights reloaded from the checkpoint, the persistence
  baseline (the last temperature of the window as the forecast), the loss of the targets' mean and the RESULT line are added.

Keras's `timeseries_dataset_from_array` returns a `tf.data.Dataset` and needs TensorFlow
installed: without it the test skips the Keras run.
"""

import json
import os

import numpy as np

import keras

import synthetic_data

keras.utils.set_random_seed(1337)

df = synthetic_data.load_weather_data()

titles = [
    "Pressure",
    "Temperature",
    "Temperature in Kelvin",
    "Temperature (dew point)",
    "Relative Humidity",
    "Saturation vapor pressure",
    "Vapor pressure",
    "Vapor pressure deficit",
    "Specific humidity",
    "Water vapor concentration",
    "Airtight",
    "Wind speed",
    "Maximum wind speed",
    "Wind direction in degrees",
]

feature_keys = [
    "p (mbar)",
    "T (degC)",
    "Tpot (K)",
    "Tdew (degC)",
    "rh (%)",
    "VPmax (mbar)",
    "VPact (mbar)",
    "VPdef (mbar)",
    "sh (g/kg)",
    "H2OC (mmol/mol)",
    "rho (g/m**3)",
    "wv (m/s)",
    "max. wv (m/s)",
    "wd (deg)",
]

split_fraction = 0.715
train_split = int(split_fraction * int(df.shape[0]))
step = 6

past = 240
future = 36
learning_rate = 0.001
batch_size = 128
epochs = 4


def normalize(data, train_split):
    data_mean = data[:train_split].mean(axis=0)
    data_std = data[:train_split].std(axis=0)
    return (data - data_mean) / data_std


print(
    "The selected parameters are:",
    ", ".join([titles[i] for i in [0, 1, 5, 7, 8, 10, 11]]),
)
selected_features = [feature_keys[i] for i in [0, 1, 5, 7, 8, 10, 11]]
features = df[:, [0, 1, 5, 7, 8, 10, 11]]

features = normalize(features, train_split)

train_data = features[0:train_split]
val_data = features[train_split:]

start = past + future
end = start + train_split

x_train = train_data[:, [i for i in range(7)]]
y_train = features[start:end][:, [1]]

sequence_length = int(past / step)

dataset_train = keras.preprocessing.timeseries_dataset_from_array(
    x_train,
    y_train,
    sequence_length=sequence_length,
    sampling_rate=step,
    batch_size=batch_size,
)

x_end = len(val_data) - past - future

label_start = train_split + past + future

x_val = val_data[:x_end][:, [i for i in range(7)]]
y_val = features[label_start:][:, [1]]

dataset_val = keras.preprocessing.timeseries_dataset_from_array(
    x_val,
    y_val,
    sequence_length=sequence_length,
    sampling_rate=step,
    batch_size=batch_size,
)


for batch in dataset_train:
    inputs, targets = batch
    break

print("Input shape:", np.asarray(inputs).shape)
print("Target shape:", np.asarray(targets).shape)

inputs = keras.layers.Input(shape=(inputs.shape[1], inputs.shape[2]))
lstm_out = keras.layers.LSTM(32)(inputs)
outputs = keras.layers.Dense(1)(lstm_out)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
model.summary()

path_checkpoint = "model_checkpoint.weights.h5"
es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=5)

modelckpt_callback = keras.callbacks.ModelCheckpoint(
    monitor="val_loss",
    filepath=path_checkpoint,
    verbose=1,
    save_weights_only=True,
    save_best_only=True,
)

history = model.fit(
    dataset_train,
    epochs=epochs,
    validation_data=dataset_val,
    callbacks=[es_callback, modelckpt_callback],
    verbose=2,
)

model.load_weights(path_checkpoint)
val_loss = model.evaluate(dataset_val)
windows = [np.asarray(x) for x, _ in dataset_val]
answers = np.concatenate([np.asarray(y) for _, y in dataset_val])
persistence = np.concatenate([x[:, -1, 1:2] for x in windows])
print("RESULT " + json.dumps({
    "val_loss": float(val_loss),
    "best_history_val_loss": float(min(history.history["val_loss"])),
    "first_epoch_loss": float(history.history["loss"][0]),
    "persistence_loss": float(np.mean((persistence - answers) ** 2)),
    "mean_forecast_loss": float(np.var(answers)),
    "input_shape": list(np.asarray(windows[0]).shape),
    "train_batches": len([1 for _ in dataset_train]),
    "val_windows": int(len(answers)),
    "checkpoint_exists": os.path.exists(path_checkpoint),
    "history_keys": sorted(history.history),
    "params": int(model.count_params()),
}))
