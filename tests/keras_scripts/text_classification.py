"""keras.io examples/nlp/text_classification_from_scratch.py (the Keras 3 version).

A `TextVectorization` layer adapted on the training reviews turns them into padded word indices;
a 1D convnet (`Embedding`, `Dropout`, two strided `Conv1D`, `GlobalMaxPooling1D`, `Dense`) is
trained on those with `binary_crossentropy`, evaluated, and then wrapped with the vectorization
layer into an end-to-end model on a `"string"` input, compiled and evaluated on the raw reviews.
Changed from the example:
- the data: synthetic_data.load_review_data (IMDB-like review strings with `<br />` tags and
  punctuation, labels 0 / 1; 1500 training reviews, of which the last 20% are the validation
  set as `validation_split=0.2` makes it, and 300 test reviews) instead of the aclImdb folders
  read by `text_dataset_from_directory`; the `tf.data` pipeline (`map`, `cache`, `prefetch`)
  becomes the same calls on arrays: the vectorization layer applied to the column of strings;
- `custom_standardization` is written with `tf.strings`: the layer's default standardization
  (`lower_and_strip_punctuation`) takes its place (the `<br />` tags leave a word "br");
- a fixed seed; `max_features` 20000 -> 2000, `sequence_length` 500 -> 100, epochs 3 -> 4,
  verbose=2;
- `end_to_end_model.evaluate(raw_test_ds)` becomes a call of the model on the column of test
  reviews and the accuracy of its answers (Keras's `evaluate` takes strings only from a
  `tf.data.Dataset`, and the script imports no TensorFlow);
- the RESULT line is added.

As in the example, the script sets `KERAS_BACKEND` to "tensorflow" before importing Keras (Keras
evaluates the end-to-end model on strings only there; gpunet ignores the variable): without
TensorFlow installed the test skips the Keras run.
"""

import json
import os

os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

batch_size = 32
(raw_x, raw_y), (raw_x_test, raw_y_test) = synthetic_data.load_review_data()
split_at = int(len(raw_x) * 0.8)
raw_x_train, raw_y_train = raw_x[:split_at], raw_y[:split_at]
raw_x_val, raw_y_val = raw_x[split_at:], raw_y[split_at:]

for i in range(5):
    print(raw_x_train[i])
    print(raw_y_train[i])

# Model constants.
max_features = 2000
embedding_dim = 128
sequence_length = 100

vectorize_layer = keras.layers.TextVectorization(
    max_tokens=max_features,
    output_mode="int",
    output_sequence_length=sequence_length,
)

vectorize_layer.adapt(raw_x_train)


def vectorize_text(text, label):
    text = text[:, None]
    return vectorize_layer(text), label


# Vectorize the data.
x_train, y_train = vectorize_text(raw_x_train, raw_y_train)
x_val, y_val = vectorize_text(raw_x_val, raw_y_val)
x_test, y_test = vectorize_text(raw_x_test, raw_y_test)

# A integer input for vocab indices.
inputs = keras.Input(shape=(None,), dtype="int64")

# Next, we add a layer to map those vocab indices into a space of dimensionality
# 'embedding_dim'.
x = layers.Embedding(max_features, embedding_dim)(inputs)
x = layers.Dropout(0.5)(x)

# Conv1D + global max pooling
x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.GlobalMaxPooling1D()(x)

# We add a vanilla hidden layer:
x = layers.Dense(128, activation="relu")(x)
x = layers.Dropout(0.5)(x)

# We project onto a single unit output layer, and squash it with a sigmoid:
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)

model = keras.Model(inputs, predictions)

# Compile the model with binary crossentropy loss and an adam optimizer.
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

epochs = 4

# Fit the model using the train and test datasets.
history = model.fit(x_train, y_train, batch_size=batch_size, validation_data=(x_val, y_val), epochs=epochs, verbose=2)

test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=batch_size)

# A string input
inputs = keras.Input(shape=(1,), dtype="string")
# Turn strings into vocab indices
indices = vectorize_layer(inputs)
# Turn vocab indices into predictions
outputs = model(indices)

# Our end to end model
end_to_end_model = keras.Model(inputs, outputs)
end_to_end_model.compile(
    loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"]
)

# Test it with the raw test reviews
end_to_end_probabilities = keras.ops.convert_to_numpy(end_to_end_model(raw_x_test[:, None]))
end_to_end_accuracy = float(np.mean((end_to_end_probabilities[:, 0] > 0.5) == raw_y_test))

print("RESULT " + json.dumps({
    "accuracy": float(test_accuracy),
    "loss": float(test_loss),
    "val_accuracy": float(history.history["val_accuracy"][-1]),
    "first_epoch_loss": float(history.history["loss"][0]),
    "end_to_end_accuracy": float(end_to_end_accuracy),
    "end_to_end_matches": bool(abs(end_to_end_accuracy - test_accuracy) < 1e-6),
    "vectorized_shape": list(np.asarray(x_train).shape),
    "vocabulary_size": int(vectorize_layer.vocabulary_size()),
    "history_keys": sorted(history.history),
    "params": int(model.count_params()),
}))
