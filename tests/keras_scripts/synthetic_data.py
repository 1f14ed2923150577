"""Small, learnable data sets for the Keras scripts, made with NumPy from a fixed seed.

The scripts stand in for the ones Keras users write against ``keras.datasets.mnist``; this
module plays the part of that data set so that they run anywhere, in seconds, with no download
and no framework: it imports NumPy only, so the same arrays reach gpunet and Keras.

``load_data()`` returns ``(x_train, y_train), (x_test, y_test)`` exactly as
``keras.datasets.mnist.load_data()`` does: 28x28 uint8 images and uint8 labels 0-9. Each class
is a fixed pattern of a few bright strokes; a sample is its class's pattern, shifted by up to
two pixels, at a random contrast, blended with a faint copy of another class's pattern and
covered in noise. The blend and the noise keep the task from being trivial: a small model
reaches about 0.9 test accuracy in a few epochs, where guessing gets 0.1.

With ``KERAS_SCRIPTS_DATA=fashion-mnist`` (and the Fashion-MNIST IDX files in
``/usr/share/datasets/fashion-mnist`` or the folder ``KERAS_SCRIPTS_FASHION_MNIST`` names),
``load_data`` returns the first samples of the real Fashion-MNIST instead, for a manual check
on real images; the tests never set it.

``load_binary_data()`` is a tabular two-class problem for the binary-classification script.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

__all__ = ["load_data", "load_binary_data", "NUM_CLASSES"]

NUM_CLASSES = 10
SIDE = 28
_PATTERN_SEED = 20240601


def _class_patterns(rng) -> np.ndarray:
    """One float image in [0, 1] per class: three random strokes (thick line segments)."""
    rows, cols = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    patterns = np.zeros((NUM_CLASSES, SIDE, SIDE))
    for pattern in patterns:
        for _ in range(3):
            (r0, c0), (r1, c1) = rng.uniform(5, SIDE - 5, size=(2, 2))
            # distance from every pixel to the segment (r0, c0)-(r1, c1)
            dr, dc = r1 - r0, c1 - c0
            t = np.clip(((rows - r0) * dr + (cols - c0) * dc) / (dr * dr + dc * dc + 1e-9), 0.0, 1.0)
            distance = np.hypot(rows - (r0 + t * dr), cols - (c0 + t * dc))
            np.maximum(pattern, np.exp(-(distance / 1.6) ** 2), out=pattern)
    return patterns


def _synthetic(num_samples: int, patterns, rng):
    labels = rng.integers(0, NUM_CLASSES, size=num_samples)
    others = (labels + rng.integers(1, NUM_CLASSES, size=num_samples)) % NUM_CLASSES
    images = np.empty((num_samples, SIDE, SIDE))
    shifts = rng.integers(-2, 3, size=(num_samples, 2))
    contrast = rng.uniform(0.6, 1.0, size=num_samples)
    blend = rng.uniform(0.0, 0.6, size=num_samples)
    for i in range(num_samples):
        image = contrast[i] * patterns[labels[i]] + blend[i] * patterns[others[i]]
        images[i] = np.roll(image, tuple(shifts[i]), axis=(0, 1))
    images += rng.normal(0.0, 0.25, size=images.shape)
    images = np.clip(images, 0.0, 1.0) * 255.0
    return images.round().astype(np.uint8), labels.astype(np.uint8)


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _fashion_mnist(num_train: int, num_test: int):
    folder = os.environ.get("KERAS_SCRIPTS_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
    parts = [_read_idx(os.path.join(folder, f"{name}-ubyte.gz")) for name in (
        "train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")]
    return (parts[0][:num_train], parts[1][:num_train]), (parts[2][:num_test], parts[3][:num_test])


def load_data(num_train: int = 2000, num_test: int = 500, seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28) and labels (N,) in 0-9."""
    if os.environ.get("KERAS_SCRIPTS_DATA") == "fashion-mnist":
        return _fashion_mnist(num_train, num_test)
    patterns = _class_patterns(np.random.default_rng(_PATTERN_SEED))
    rng = np.random.default_rng(seed)
    return _synthetic(num_train, patterns, rng), _synthetic(num_test, patterns, rng)


def load_binary_data(num_train: int = 2000, num_test: int = 500, num_features: int = 20, seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)``: float32 features and 0/1 labels, about 30% positive.

    The label is 1 where a fixed nonlinear score of the features (a linear part and a product of two
    features), plus noise, passes a threshold: learnable to about 0.9 accuracy (0.93 at best), not separable.
    """
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=num_features)

    def draw(n):
        x = rng.normal(size=(n, num_features))
        score = x @ weights / np.sqrt(num_features) + 0.5 * x[:, 0] * x[:, 1] + rng.normal(0.0, 0.25, size=n)
        return x.astype(np.float32), (score > 0.5).astype(np.float32)

    return draw(num_train), draw(num_test)
