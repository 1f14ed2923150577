"""keras.io guides/making_new_layers_and_models_via_subclassing.py: "Putting it all together: an
end-to-end example".

A variational autoencoder as a subclassed `keras.Model` (`call`) made of subclassed layers: a
`Sampling` layer drawing with `keras.random.normal`, an `Encoder` returning
`(z_mean, z_log_var, z)`, a `Decoder`; the KL divergence added with `self.add_loss` in `call`,
and `compile(optimizer, loss=keras.losses.MeanSquaredError())` for the reconstruction.
`Sampling` draws from its own `keras.random.SeedGenerator`, as the current guide (and JAX's
tracing) requires. Changed from the guide:
- the data: synthetic_data.load_data() (2000 training, 500 test images) instead of MNIST, so
  the reshape reads 2000 instead of 60000;
- a fixed seed, epochs 2 -> 20, verbose=2; the evaluation, the reconstruction error of the
  test images (against the error of answering the mean training image), and the RESULT line are
  added.
"""

import json

import numpy as np

import keras
from keras import ops
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    """Maps MNIST digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(layers.Layer):
    """Converts z, the encoded digit vector, back into a readable digit."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(keras.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(
        self,
        original_dim,
        intermediate_dim=64,
        latent_dim=32,
        name="autoencoder",
        **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # Add KL divergence regularization loss.
        kl_loss = -0.5 * ops.mean(
            z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1
        )
        self.add_loss(kl_loss)
        return reconstructed


(x_train, _), (x_test, _) = synthetic_data.load_data()
x_train = x_train.reshape(2000, 784).astype("float32") / 255
x_test = x_test.reshape(500, 784).astype("float32") / 255

original_dim = 784
vae = VariationalAutoEncoder(784, 64, 32)

optimizer = keras.optimizers.Adam(learning_rate=1e-3)
vae.compile(optimizer, loss=keras.losses.MeanSquaredError())

history = vae.fit(x_train, x_train, epochs=20, batch_size=64, verbose=2)

loss = vae.evaluate(x_test, x_test, verbose=0)
reconstructed = vae.predict(x_test, verbose=0)
reconstruction_mse = float(np.mean((reconstructed - x_test) ** 2))
mean_image_mse = float(np.mean((x_test - x_train.mean(axis=0)) ** 2))
print("RESULT " + json.dumps({
    "loss": float(loss),
    "train_loss_first_last": [float(history.history["loss"][0]), float(history.history["loss"][-1])],
    "reconstruction_mse": reconstruction_mse,
    "reconstruction_over_mean_image": reconstruction_mse / mean_image_mse,
    "trainable_weights": len(vae.trainable_weights),
    "params": int(vae.count_params()),
}))
