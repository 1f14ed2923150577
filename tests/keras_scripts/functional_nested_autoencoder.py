"""keras.io guides/functional_api.py: "All models are callable, just like layers".

A convolutional encoder model and a Conv2DTranspose / UpSampling2D decoder model, each a
functional `keras.Model`, chained by calling them on a new `keras.Input` into an autoencoder
model (models nested in a model). Changed from the guide:
- the guide only builds the models; the script also trains the autoencoder to reconstruct its
  input (`compile(optimizer="adam", loss="mse")`, `fit(x, x)`, `evaluate`): those lines, the data
  (synthetic_data.load_data(), 300 training images scaled to [0, 1]), a fixed seed and the
  RESULT line are added;
- nothing of the models is changed.
"""

import json

import numpy as np

import keras
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)

encoder_input = keras.Input(shape=(28, 28, 1), name="original_img")
x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.MaxPooling2D(3)(x)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.Conv2D(16, 3, activation="relu")(x)
encoder_output = layers.GlobalMaxPooling2D()(x)

encoder = keras.Model(encoder_input, encoder_output, name="encoder")
encoder.summary()

decoder_input = keras.Input(shape=(16,), name="encoded_img")
x = layers.Reshape((4, 4, 1))(decoder_input)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
x = layers.UpSampling2D(3)(x)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)

decoder = keras.Model(decoder_input, decoder_output, name="decoder")
decoder.summary()

autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
encoded_img = encoder(autoencoder_input)
decoded_img = decoder(encoded_img)
autoencoder = keras.Model(autoencoder_input, decoded_img, name="autoencoder")
autoencoder.summary()

(x_train, _), (x_test, _) = synthetic_data.load_data(num_train=300)
x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255, -1)

autoencoder.compile(optimizer="adam", loss="mse")
autoencoder.fit(x_train, x_train, batch_size=16, epochs=5)
loss = autoencoder.evaluate(x_test, x_test, verbose=0)
# the error of always answering the mean training image: what learning must beat
baseline = float(np.mean((x_test - x_train.mean(axis=0)) ** 2))

print("RESULT " + json.dumps({
    "loss": float(loss),
    "loss_over_mean_image_loss": float(loss) / baseline,
    "output_shape": list(autoencoder.output_shape),
    "encoded_shape": list(encoder.predict(x_test[:4], verbose=0).shape),
    "params": int(autoencoder.count_params()),
    "layer_names": [layer.name for layer in autoencoder.layers],
}))
