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

The ports of keras.io's examples take the stand-ins of their other data sets from here too:
``load_color_data`` (CIFAR-10's shapes), ``load_timeseries_data`` (FordA's), ``load_fraud_data``
(the credit-card fraud CSV's, rare positives), ``load_regression_data`` (the guides' random
``(x, y)`` arrays, made learnable), ``load_multi_io_data`` (the image + timeseries model of the
training guide), ``load_review_data`` (IMDB-like review strings), ``write_translation_file`` (the fra-eng sentence pairs' file),
``load_review_sequences`` (the
same as ``keras.datasets.imdb`` gives them, word indices) and ``load_weather_data`` (the
Jena climate table). Each draws from its own fixed seed and is learnable well above chance.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

__all__ = ["load_data", "load_binary_data", "load_color_data", "load_timeseries_data", "load_fraud_data",
           "load_regression_data", "load_multi_io_data", "load_review_data", "load_review_sequences", "write_translation_file",
           "load_weather_data", "NUM_CLASSES"]

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


def _synthetic(num_samples: int, patterns, rng, blend_max: float = 0.6, noise: float = 0.25):
    labels = rng.integers(0, NUM_CLASSES, size=num_samples)
    others = (labels + rng.integers(1, NUM_CLASSES, size=num_samples)) % NUM_CLASSES
    images = np.empty((num_samples, SIDE, SIDE))
    shifts = rng.integers(-2, 3, size=(num_samples, 2))
    contrast = rng.uniform(0.6, 1.0, size=num_samples)
    blend = rng.uniform(0.0, blend_max, size=num_samples)
    for i in range(num_samples):
        image = contrast[i] * patterns[labels[i]] + blend[i] * patterns[others[i]]
        images[i] = np.roll(image, tuple(shifts[i]), axis=(0, 1))
    images += rng.normal(0.0, noise, size=images.shape)
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


def load_data(num_train: int = 2000, num_test: int = 500, seed: int = 0, blend_max: float = 0.6, noise: float = 0.25):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28) and labels (N,) in 0-9.

    ``blend_max`` (the strongest copy of another class's pattern) and ``noise`` (the standard
    deviation of the pixel noise) set how hard the task is; the defaults suit classifiers, and
    a script that compares pairs of images (the siamese network) takes an easier set.
    """
    if os.environ.get("KERAS_SCRIPTS_DATA") == "fashion-mnist":
        return _fashion_mnist(num_train, num_test)
    patterns = _class_patterns(np.random.default_rng(_PATTERN_SEED))
    rng = np.random.default_rng(seed)
    return (_synthetic(num_train, patterns, rng, blend_max, noise),
            _synthetic(num_test, patterns, rng, blend_max, noise))


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


def load_color_data(num_train: int = 1000, num_test: int = 300, side: int = 32, seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)`` shaped as ``keras.datasets.cifar10.load_data()``:
    uint8 images (N, side, side, 3) and uint8 labels (N, 1) in 0-9.

    Each class is the grey-scale stroke pattern of :func:`load_data` (resized to ``side``) tinted
    with a class colour; samples are shifted, blended with another class and noisy, as there.
    """
    patterns = _class_patterns(np.random.default_rng(_PATTERN_SEED))
    index = np.arange(side) * SIDE // side
    patterns = patterns[:, index][:, :, index]
    colours = np.random.default_rng(_PATTERN_SEED + 1).uniform(0.3, 1.0, size=(NUM_CLASSES, 3))
    rng = np.random.default_rng(seed)

    def draw(n):
        labels = rng.integers(0, NUM_CLASSES, size=n)
        others = (labels + rng.integers(1, NUM_CLASSES, size=n)) % NUM_CLASSES
        shifts = rng.integers(-2, 3, size=(n, 2))
        blend = rng.uniform(0.0, 0.3, size=n)
        images = np.empty((n, side, side, 3))
        for i in range(n):
            image = patterns[labels[i]][..., None] * colours[labels[i]] + blend[i] * patterns[others[i]][..., None] * colours[others[i]]
            images[i] = np.roll(image, tuple(shifts[i]), axis=(0, 1))
        images += rng.normal(0.0, 0.1, size=images.shape)
        images = np.clip(images, 0.0, 1.0) * 255.0
        return images.round().astype(np.uint8), labels.astype(np.uint8).reshape(n, 1)

    return draw(num_train), draw(num_test)


def load_timeseries_data(num_train: int = 600, num_test: int = 200, length: int = 176, seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)`` as the FordA example reads them: float64 series
    (N, length), z-normalized per series, and integer labels -1 / 1 (balanced).

    Class 1 carries a short burst of a faster oscillation at a random place; both classes share a
    slow random wave and noise.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length)

    def draw(n):
        labels = rng.choice([-1, 1], size=n)
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
        x = np.sin(2 * np.pi * t / rng.uniform(30, 60, size=(n, 1)) + phase) + rng.normal(0, 0.6, size=(n, length))
        start = rng.integers(0, length - 40, size=n)
        for i in np.flatnonzero(labels == 1):
            burst = t[start[i]:start[i] + 40]
            x[i, burst] += 1.5 * np.sin(2 * np.pi * burst / 5.0) * np.hanning(40)
        x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
        return x, labels.astype(int)

    return draw(num_train), draw(num_test)


def load_fraud_data(num_samples: int = 6000, num_features: int = 30, positive_rate: float = 0.03, seed: int = 0):
    """``(features, targets)`` as the credit-card fraud example builds them from its CSV: float32
    features (N, 30) on very different scales and uint8 targets (N, 1), about 3% positive.

    Positives are shifted along a few fixed directions, overlapping the negatives a little.
    """
    rng = np.random.default_rng(seed)
    targets = (rng.uniform(size=num_samples) < positive_rate).astype(np.uint8)
    features = rng.normal(size=(num_samples, num_features))
    direction = rng.normal(size=num_features) * (rng.uniform(size=num_features) < 0.3)
    features += targets[:, None] * 1.2 * direction
    scales = 10.0 ** rng.uniform(-1, 3, size=num_features)
    return (features * scales).astype(np.float32), targets.reshape(-1, 1)


def load_regression_data(num_samples: int = 1000, num_features: int = 32, seed: int = 0):
    """``(x, y)`` standing in for the guides' ``np.random.random`` inputs and targets: x uniform in
    [0, 1) (N, num_features) as there, y (N, 1) a fixed linear function of x plus noise (so that a
    Dense(1) learns it: the noise alone gives a mean squared error of 0.0025)."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(num_features, 1)) / np.sqrt(num_features)
    x = rng.random((num_samples, num_features))
    y = (x - 0.5) @ weights + 0.5 + rng.normal(0.0, 0.05, size=(num_samples, 1))
    return x, y


def load_multi_io_data(num_samples: int = 400, timesteps: int = 20, seed: int = 0):
    """The training guide's multi-input, multi-output arrays, learnable: ``img_data`` (N, 32, 32, 3)
    and ``ts_data`` (N, timesteps, 10) in [0, 1), ``score_targets`` (N, 1) and one-hot
    ``class_targets`` (N, 5).

    The class (0-4) shows as a brighter image channel (classes 0-2) or a brighter timeseries
    feature pair (classes 3-4); the score is the mean brightness of the image.
    """
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 5, size=num_samples)
    img = rng.random((num_samples, 32, 32, 3)) * 0.6
    ts = rng.random((num_samples, timesteps, 10)) * 0.6
    for i, c in enumerate(classes):
        if c < 3:
            img[i, :, :, c] += 0.4
        else:
            ts[i, :, 2 * c - 6: 2 * c - 4] += 0.4
    score = img.mean(axis=(1, 2, 3))[:, None] * 2.0
    return img, ts, score, np.eye(5)[classes]


_NEUTRAL_WORDS = ("the movie film story plot actor actress scene scenes director script camera music score ending "
                  "character characters cast dialogue was is were it this that and but of a an to in on with for "
                  "as at by from time minutes hour part first second two one really quite very just so some more "
                  "also even though while after before watch watched seen saw show feel felt look looked").split()
_POSITIVE_WORDS = ("great excellent wonderful superb brilliant moving delightful charming fine enjoyable "
                   "memorable beautiful touching gripping clever").split()
_NEGATIVE_WORDS = ("awful terrible boring dull poor weak bad horrible tedious mediocre messy painful clumsy "
                   "forgettable lame").split()


def load_review_data(num_train: int = 1500, num_test: int = 300, seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)`` standing in for the IMDB reviews as
    ``text_dataset_from_directory`` reads them: NumPy string arrays of reviews (N,) and int labels
    (N,), 1 positive, 0 negative (balanced).

    A review is 30-80 words of neutral filler with mixed capitals, punctuation and ``<br />``
    tags, among which 6-12 sentiment words, each drawn from the review's own side with probability
    0.75 and from the other side otherwise: learnable to about 0.9, not separable.
    """
    rng = np.random.default_rng(seed)

    def review(label):
        words = list(rng.choice(_NEUTRAL_WORDS, size=rng.integers(30, 81)))
        for _ in range(rng.integers(6, 13)):
            side = label if rng.uniform() < 0.75 else 1 - label
            position = rng.integers(0, len(words) + 1)
            words.insert(position, rng.choice(_POSITIVE_WORDS if side == 1 else _NEGATIVE_WORDS))
        for i in rng.choice(len(words), size=len(words) // 8, replace=False):
            words[i] = words[i].capitalize() + rng.choice([".", ",", "!", "?", " <br /><br />"])
        return " ".join(words)

    def draw(n):
        labels = rng.integers(0, 2, size=n)
        return np.array([review(label) for label in labels]), labels.astype(np.int64)

    return draw(num_train), draw(num_test)


def load_review_sequences(num_words: int | None = None, seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)`` as ``keras.datasets.imdb.load_data`` returns them:
    object arrays of word-index lists (each starting with 1, words from index 3 on, in a fixed
    order of the vocabulary; indices at or above ``num_words`` become 2, the out-of-vocabulary
    index) and int labels: the reviews of :func:`load_review_data`, lower-cased, without the
    punctuation and tags.
    """
    vocabulary = sorted(set(_NEUTRAL_WORDS + _POSITIVE_WORDS + _NEGATIVE_WORDS), key=lambda w: (len(w), w))
    index = {word: i + 3 for i, word in enumerate(vocabulary)}

    def encode(text):
        words = "".join(c for c in text.lower().replace("<br />", " ") if c.isalpha() or c == " ").split()
        ids = [1] + [index[word] for word in words]
        return [i if num_words is None or i < num_words else 2 for i in ids]

    def convert(texts, labels):
        sequences = np.empty(len(texts), dtype=object)
        sequences[:] = [encode(text) for text in texts]
        return sequences, labels

    train, test = load_review_data(seed=seed)
    return convert(*train), convert(*test)


_SOURCE_WORDS = "i you we they see like want take have know the a big small red old new cat dog car house tree book".split()


def _target_word(word: str) -> str:
    """A fixed made-up translation of a word: its letters rotated and re-spelt (a -> e, o -> ou,
    i -> ie, t -> tt), so that the target is learnable from the source, word by word."""
    rotated = word[1:] + word[0] if len(word) > 1 else word
    return rotated.replace("o", "ou").replace("a", "e").replace("i", "ie").replace("t", "tt")


def write_translation_file(path: str, num_lines: int = 2000, seed: int = 0) -> str:
    """Write ``path`` in the layout of the fra-eng file of manythings.org (``source<TAB>target<TAB>
    attribution`` per line) and return it: sentences of 2-4 words from a 24-word vocabulary, a
    capital and a full stop; the target is their word-by-word made-up translation."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(num_lines):
        words = list(rng.choice(_SOURCE_WORDS, size=rng.integers(2, 5)))
        source = " ".join(words).capitalize() + "."
        target = " ".join(_target_word(w) for w in words).capitalize() + "."
        lines.append(f"{source}\t{target}\tCC-BY 2.0 (France) Attribution: synthetic")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def load_weather_data(num_rows: int = 6000, seed: int = 0):
    """The rows standing in for the Jena climate CSV's 14 feature columns as ``pd.read_csv`` gives
    them: float64 (N, 14), one every ten minutes, in the CSV's column order (pressure, temperature,
    temperature in Kelvin, dew point, humidity, ..., wind direction), on the CSV's scales.

    The temperature is a daily cycle plus a slowly wandering level plus noise; the other columns
    are derived from it (Kelvin, dew point, vapour pressures) or wander on their own (pressure,
    wind), so that past values tell the temperature a few hours ahead, short of noise.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(num_rows)
    day = 144  # rows per day
    level = np.cumsum(rng.normal(0.0, 0.05, size=num_rows))
    level -= np.linspace(level[0], level[-1], num_rows)
    temperature = 8.0 + level + 5.0 * np.sin(2 * np.pi * (t / day - 0.3)) + rng.normal(0.0, 0.3, size=num_rows)
    pressure = 990.0 + np.cumsum(rng.normal(0.0, 0.05, size=num_rows)) - 0.3 * level
    humidity = np.clip(75.0 - 3.0 * (temperature - 8.0) + rng.normal(0.0, 3.0, size=num_rows), 10.0, 100.0)
    vp_max = 6.1 * np.exp(17.6 * temperature / (temperature + 243.0))
    vp_act = vp_max * humidity / 100.0
    dew = 243.0 * np.log(vp_act / 6.1) / (17.6 - np.log(vp_act / 6.1))
    wind = np.abs(2.0 + np.cumsum(rng.normal(0.0, 0.1, size=num_rows)) % 4.0 + rng.normal(0.0, 0.3, size=num_rows))
    columns = [pressure, temperature, temperature + 273.15 + 0.01 * (1000.0 - pressure), dew, humidity, vp_max, vp_act,
               vp_max - vp_act, 0.622 * vp_act / pressure * 1000.0, vp_act / pressure * 1000.0,
               1300.0 - 4.5 * temperature + 0.1 * (pressure - 990.0), wind, wind * 1.6, rng.uniform(0.0, 360.0, num_rows)]
    return np.stack(columns, axis=1)
