"""keras.io guides/transfer_learning.py: "Freezing layers: understanding the trainable attribute",
"Recursive setting of the trainable attribute" and the fine-tuning recipe of "The typical
transfer-learning workflow".

Weight counts of Dense and BatchNormalization, a frozen Dense left unchanged by `fit`, then a
Sequential nested in a Sequential whose `trainable = False` reaches the inner model's layers.
The guide's snippets are kept (on Keras 3: `layer.build((None, 4))`). Changed:
- the guide's `fit` on `np.random.random((2, 3))` arrays trains on 512 learnable samples made
  here (targets: a fixed sigmoid of a linear map of the inputs);
- the nested model, which the guide only freezes, is then trained as the guide's workflow says:
  inner model frozen and the head trained, then everything unfrozen and recompiled with a low
  learning rate (`Adam(1e-5)`) for fine-tuning (the guide's base model is an ImageNet Xception;
  here it is the inner Sequential); those lines, a fixed seed and the RESULT line are added.
"""

import json

import numpy as np

import keras

keras.utils.set_random_seed(1337)
rng = np.random.default_rng(0)
x_data = rng.random((512, 3))
y_data = 1.0 / (1.0 + np.exp(-(x_data - 0.5) @ rng.normal(size=(3, 3)) * 3.0))

layer = keras.layers.Dense(3)
layer.build((None, 4))  # Create the weights

print("weights:", len(layer.weights))
print("trainable_weights:", len(layer.trainable_weights))
print("non_trainable_weights:", len(layer.non_trainable_weights))
dense_counts = [len(layer.weights), len(layer.trainable_weights), len(layer.non_trainable_weights)]

layer = keras.layers.BatchNormalization()
layer.build((None, 4))  # Create the weights

print("weights:", len(layer.weights))
print("trainable_weights:", len(layer.trainable_weights))
print("non_trainable_weights:", len(layer.non_trainable_weights))
batchnorm_counts = [len(layer.weights), len(layer.trainable_weights), len(layer.non_trainable_weights)]

layer = keras.layers.Dense(3)
layer.build((None, 4))  # Create the weights
layer.trainable = False  # Freeze the layer

print("weights:", len(layer.weights))
print("trainable_weights:", len(layer.trainable_weights))
print("non_trainable_weights:", len(layer.non_trainable_weights))
frozen_counts = [len(layer.weights), len(layer.trainable_weights), len(layer.non_trainable_weights)]

# Make a model with 2 layers
layer1 = keras.layers.Dense(3, activation="relu")
layer2 = keras.layers.Dense(3, activation="sigmoid")
model = keras.Sequential([keras.Input(shape=(3,)), layer1, layer2])

# Freeze the first layer
layer1.trainable = False

# Keep a copy of the weights of layer1 for later reference
initial_layer1_weights_values = layer1.get_weights()

# Train the model
model.compile(optimizer="adam", loss="mse")
model.fit(x_data, y_data)

# Check that the weights of layer1 have not changed during training
final_layer1_weights_values = layer1.get_weights()
np.testing.assert_allclose(initial_layer1_weights_values[0], final_layer1_weights_values[0])
np.testing.assert_allclose(initial_layer1_weights_values[1], final_layer1_weights_values[1])

inner_model = keras.Sequential(
    [
        keras.Input(shape=(3,)),
        keras.layers.Dense(3, activation="relu"),
        keras.layers.Dense(3, activation="relu"),
    ]
)

model = keras.Sequential(
    [
        keras.Input(shape=(3,)),
        inner_model,
        keras.layers.Dense(3, activation="sigmoid"),
    ]
)

model.trainable = False  # Freeze the outer model

assert inner_model.trainable == False  # All layers in `model` are now frozen
assert inner_model.layers[0].trainable == False  # `trainable` is propagated recursively
frozen_trainable_weights = len(model.trainable_weights)

# the workflow: train the new head on top of the frozen inner model ...
model.trainable = True
inner_model.trainable = False
inner_before = [w.copy() for w in inner_model.get_weights()]
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
model.fit(x_data, y_data, batch_size=32, epochs=20, verbose=0)
inner_unchanged = all(np.array_equal(a, b) for a, b in zip(inner_before, inner_model.get_weights()))
head_loss = model.evaluate(x_data, y_data, verbose=0)[0]

# ... then unfreeze it and fine-tune everything with a low learning rate
inner_model.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse", metrics=["mae"])
model.fit(x_data, y_data, batch_size=32, epochs=2, verbose=0)
fine_tuned_changed = not all(np.array_equal(a, b) for a, b in zip(inner_before, inner_model.get_weights()))
loss, mae = model.evaluate(x_data, y_data, verbose=0)

print("RESULT " + json.dumps({
    "dense_counts": dense_counts,
    "batchnorm_counts": batchnorm_counts,
    "frozen_counts": frozen_counts,
    "frozen_model_trainable_weights": frozen_trainable_weights,
    "inner_unchanged_while_frozen": inner_unchanged,
    "inner_changed_by_fine_tuning": fine_tuned_changed,
    "head_loss": float(head_loss),
    "loss": float(loss),
    "mae": float(mae),
    "target_variance": float(np.var(y_data)),
    "layer_names": [layer.name for layer in model.layers],
}))
