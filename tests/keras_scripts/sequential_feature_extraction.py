"""keras.io guides/sequential_model.py: "Feature extraction with a Sequential model" and
"Transfer learning with a Sequential model".

A Sequential convnet's intermediate activations read through
`keras.Model(inputs=initial_model.inputs, outputs=initial_model.get_layer(name=...).output)`
and through `outputs=[layer.output for layer in initial_model.layers]`; then the guide's first
transfer-learning recipe: every layer but the last frozen (`layer.trainable = False`), the model
recompiled and trained. Changed from the guide:
- images of 64x64 instead of 250x250 (the Input shape says so), from
  synthetic_data.load_color_data instead of `ops.ones`;
- the guide's `model.load_weights(...)` (a placeholder) becomes a first training of the whole MLP
  on synthetic_data.load_data() images, before the freezing; the fits, the checks on the
  extracted features (against the layers applied by hand) and on the frozen weights, a fixed
  seed and the RESULT line are added.
"""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

initial_model = keras.Sequential(
    [
        keras.Input(shape=(64, 64, 3)),
        layers.Conv2D(32, 5, strides=2, activation="relu"),
        layers.Conv2D(32, 3, activation="relu", name="my_intermediate_layer"),
        layers.Conv2D(32, 3, activation="relu"),
    ]
)
feature_extractor = keras.Model(
    inputs=initial_model.inputs,
    outputs=initial_model.get_layer(name="my_intermediate_layer").output,
)
# Call feature extractor on test input.
(images, _), _ = synthetic_data.load_color_data(num_train=4, num_test=1, side=64)
x = images.astype("float32") / 255.0
features = feature_extractor(x)

all_features_extractor = keras.Model(
    inputs=initial_model.inputs,
    outputs=[layer.output for layer in initial_model.layers],
)
all_features = all_features_extractor(x)

by_hand = initial_model.layers[1](initial_model.layers[0](x))
same_as_by_hand = np.allclose(keras.ops.convert_to_numpy(features), keras.ops.convert_to_numpy(by_hand), atol=1e-5)

model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(10),
    ]
)

(x_train, y_train), (x_test, y_test) = synthetic_data.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255

# Presumably you would want to first load pre-trained weights.
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(x_train[:1000], y_train[:1000], batch_size=32, epochs=3, verbose=2)

# Freeze all layers except the last one.
for layer in model.layers[:-1]:
    layer.trainable = False

frozen_before = [w.copy() for w in model.layers[0].get_weights()]
# Recompile and train (this will only update the weights of the last layer).
model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(x_train[1000:], y_train[1000:], batch_size=32, epochs=3, verbose=2)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)

print("RESULT " + json.dumps({
    "accuracy": float(accuracy),
    "loss": float(loss),
    "features_shape": list(features.shape),
    "all_features_shapes": [list(f.shape) for f in all_features],
    "features_same_as_by_hand": bool(same_as_by_hand),
    "frozen_unchanged": all(np.array_equal(a, b) for a, b in zip(frozen_before, model.layers[0].get_weights())),
    "trainable_weights": len(model.trainable_weights),
    "non_trainable_weights": len(model.non_trainable_weights),
}))
