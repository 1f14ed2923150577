"""Data the tests share."""

import numpy as np

from gpunet.callbacks import Callback


def blobs(n, features, classes=3, seed=0, spread=3.0):
    """Gaussian blobs around random class centers: a problem small models learn in a few epochs.

    Returns float32 features of shape (n, features) and integer labels of shape (n,).
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centers = rng.standard_normal((classes, features)) * spread
    x = (centers[y] + rng.standard_normal((n, features))).astype(np.float32)
    return x, y


class Snapshots(Callback):
    """Copies of the model's weights at every report (``on_epoch_end``), in order, in ``weights``."""

    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


class BlowUp(Callback):
    """Set a learning rate that makes the loss diverge (1e6 by default), from a given epoch on."""

    def __init__(self, epoch, lr=1e6):
        super().__init__()
        self.epoch, self.lr = epoch, lr

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.optimizer.learning_rate = self.lr
