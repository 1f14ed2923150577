"""keras.io guides/custom_train_step_in_torch.py: "Wrapping up: an end-to-end GAN example".

A `GAN(keras.Model)` holding a Sequential discriminator (Conv2D, LeakyReLU, GlobalMaxPooling2D)
and a Sequential generator (Dense, Reshape, Conv2DTranspose), with its own `compile(d_optimizer,
g_optimizer, loss_fn)` (two Adam optimizers), a `keras.random.SeedGenerator`, two `Mean` trackers
in a `metrics` property, and a `train_step` in the guide's PyTorch idiom (`self.zero_grad()`,
`backward()`, `v.value.grad`, `optimizer.apply` under `torch.no_grad()`, which the test's rewrite
maps to gpunet's `no_grad()`). Changed from the guide:
- the lines that make tensors with torch's own functions (`tensor(real_images, device=device)`,
  `concat`, `ones`, `zeros`, and the `device` line they need) are written with their
  `keras.ops` equivalents (`ops.convert_to_tensor`, `ops.concatenate`, `ops.ones`,
  `ops.zeros`), the same values, so that `torch` is used only for `no_grad()`;
- the data: 256 synthetic_data.load_data() images (float32 in [0, 1], (N, 28, 28, 1)) passed to
  `fit` as an array with `batch_size=64`, instead of MNIST's 70000 digits in a torch
  `DataLoader`; a fixed seed, verbose=2;
- the checks after `fit` (both optimizers stepped once per batch, both networks changed, the
  generated images' shape and range) and the RESULT line are added.
"""

import json
import os

# This guide can only be run with the torch backend.
os.environ["KERAS_BACKEND"] = "torch"

import torch
import keras
from keras import layers
from keras import ops
import numpy as np

import synthetic_data

keras.utils.set_random_seed(1337)

# Create the discriminator
discriminator = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(1),
    ],
    name="discriminator",
)

# Create the generator
latent_dim = 128
generator = keras.Sequential(
    [
        keras.Input(shape=(latent_dim,)),
        # We want to generate 128 coefficients to reshape into a 7x7x128 map
        layers.Dense(7 * 7 * 128),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid"),
    ],
    name="generator",
)


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        # Sample random points in the latent space
        batch_size = real_images.shape[0]
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )

        # Decode them to fake images
        generated_images = self.generator(random_latent_vectors)

        # Combine them with real images
        real_images = ops.convert_to_tensor(real_images)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)

        # Assemble labels discriminating real from fake images
        labels = ops.concatenate(
            [
                ops.ones((batch_size, 1)),
                ops.zeros((batch_size, 1)),
            ],
            axis=0,
        )
        # Add random noise to the labels - important trick!
        labels += 0.05 * keras.random.uniform(labels.shape, seed=self.seed_generator)

        # Train the discriminator
        self.zero_grad()
        predictions = self.discriminator(combined_images)
        d_loss = self.loss_fn(labels, predictions)
        d_loss.backward()
        grads = [v.value.grad for v in self.discriminator.trainable_weights]
        with torch.no_grad():
            self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

        # Sample random points in the latent space
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )

        # Assemble labels that say "all real images"
        misleading_labels = ops.zeros((batch_size, 1))

        # Train the generator (note that we should *not* update the weights
        # of the discriminator)!
        self.zero_grad()
        predictions = self.discriminator(self.generator(random_latent_vectors))
        g_loss = self.loss_fn(misleading_labels, predictions)
        grads = g_loss.backward()
        grads = [v.value.grad for v in self.generator.trainable_weights]
        with torch.no_grad():
            self.g_optimizer.apply(grads, self.generator.trainable_weights)

        # Update metrics and return their value.
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {
            "d_loss": self.d_loss_tracker.result(),
            "g_loss": self.g_loss_tracker.result(),
        }


# Prepare the dataset. We use both the training & test MNIST digits.
batch_size = 64
(x_train, _), (x_test, _) = synthetic_data.load_data(num_train=192, num_test=64)
all_digits = np.concatenate([x_train, x_test])
all_digits = all_digits.astype("float32") / 255.0
all_digits = np.reshape(all_digits, (-1, 28, 28, 1))

gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
gan.compile(
    d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
    g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
    loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
)

d_before = [w.copy() for w in discriminator.get_weights()]
g_before = [w.copy() for w in generator.get_weights()]
history = gan.fit(all_digits, batch_size=batch_size, epochs=1, verbose=2)

images = keras.ops.convert_to_numpy(generator(keras.random.normal((4, latent_dim))))
print("RESULT " + json.dumps({
    "d_loss": float(history.history["d_loss"][-1]),
    "g_loss": float(history.history["g_loss"][-1]),
    "history_keys": sorted(history.history),
    "d_steps": int(keras.ops.convert_to_numpy(gan.d_optimizer.iterations)),
    "g_steps": int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)),
    "discriminator_changed": all(not np.array_equal(a, b) for a, b in zip(d_before, discriminator.get_weights())),
    "generator_changed": all(not np.array_equal(a, b) for a, b in zip(g_before, generator.get_weights())),
    "generated_shape": list(images.shape),
    "generated_in_unit_range": bool(images.min() >= 0.0 and images.max() <= 1.0),
}))
