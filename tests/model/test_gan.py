"""A GAN in Keras 3's PyTorch-guide idiom: a subclassed model holding a generator and a
discriminator, compiled with two optimizers, whose train_step updates each with its own. One
step is checked against the same step written out in float64 NumPy (linear generator, logistic
discriminator, plain SGD), and each optimizer touches its own network only."""

import numpy as np
import pytest

import gpunet
from gpunet import layers

LATENT, FEATURES, BATCH = 3, 4, 8


class GAN(gpunet.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = gpunet.metrics.Mean(name="d_loss")
        self.g_loss_tracker = gpunet.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, data):
        real = data[0] if isinstance(data, tuple) else data
        noise = self.noise  # fixed draws, so that the NumPy reference takes the same
        fake = self.generator(noise[0])
        combined = gpunet.ops.concatenate([fake, real], axis=0)
        labels = gpunet.ops.concatenate([gpunet.ops.ones((BATCH, 1)), gpunet.ops.zeros((BATCH, 1))], axis=0)
        self.zero_grad()
        d_loss = self.loss_fn(labels, self.discriminator(combined))
        d_loss.backward()
        d_weights = self.discriminator.trainable_weights
        with gpunet.no_grad():
            self.d_optimizer.apply([w.value.grad for w in d_weights], d_weights)

        misleading = gpunet.ops.zeros((BATCH, 1))
        self.zero_grad()
        g_loss = self.loss_fn(misleading, self.discriminator(self.generator(noise[1])))
        g_loss.backward()
        g_weights = self.generator.trainable_weights
        with gpunet.no_grad():
            self.g_optimizer.apply([w.value.grad for w in g_weights], g_weights)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


def bce_grad(x, w, b, target):
    """Mean binary cross-entropy of sigmoid(x @ w + b) against ``target``: value, d/dw, d/db, d/dx."""
    p = sigmoid(x @ w + b)
    loss = -np.mean(target * np.log(p) + (1 - target) * np.log(1 - p))
    g = (p - target) / len(x)
    return loss, x.T @ g, g.sum(axis=0), g @ w.T


def test_one_gan_step_equals_the_numpy_reference_and_each_optimizer_moves_its_network():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((BATCH, FEATURES)).astype(np.float32) + 2.0
    generator = gpunet.Sequential([gpunet.Input((LATENT,)), layers.Dense(FEATURES)], name="generator")
    discriminator = gpunet.Sequential([gpunet.Input((FEATURES,)), layers.Dense(1, activation="sigmoid")],
                                      name="discriminator")
    gan = GAN(discriminator, generator, LATENT)
    gan.noise = [rng.standard_normal((BATCH, LATENT)).astype(np.float32) for _ in range(2)]
    gan.compile(d_optimizer=gpunet.optimizers.SGD(0.1), g_optimizer=gpunet.optimizers.SGD(0.2),
                loss_fn=gpunet.losses.BinaryCrossentropy())
    (wg, bg), (wd, bd) = [[a.astype(np.float64) for a in m.get_weights()] for m in (generator, discriminator)]

    history = gan.fit(real, epochs=1, batch_size=BATCH, shuffle=False, verbose=0).history

    z1, z2 = (n.astype(np.float64) for n in gan.noise)
    combined = np.concatenate([z1 @ wg + bg, real.astype(np.float64)])
    labels = np.concatenate([np.ones((BATCH, 1)), np.zeros((BATCH, 1))])
    d_loss, gw, gb, _ = bce_grad(combined, wd, bd, labels)
    wd2, bd2 = wd - 0.1 * gw, bd - 0.1 * gb
    fake2 = z2 @ wg + bg
    g_loss, _, _, g_fake = bce_grad(fake2, wd2, bd2, np.zeros((BATCH, 1)))
    wg2, bg2 = wg - 0.2 * (z2.T @ g_fake), bg - 0.2 * g_fake.sum(axis=0)

    for got, want in zip(discriminator.get_weights() + generator.get_weights(), [wd2, bd2, wg2, bg2]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert history["d_loss"][0] == pytest.approx(d_loss, rel=1e-4)
    assert history["g_loss"][0] == pytest.approx(g_loss, rel=1e-4)
    assert gan.d_optimizer.iterations == 1 and gan.g_optimizer.iterations == 1
