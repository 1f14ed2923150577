"""Data sets as NumPy arrays, as Keras has them, and the small helpers that prepare them.

``mnist.load_data()`` and ``fashion_mnist.load_data()`` work as in Keras. The files are found in
local folders or downloaded once into the user cache (see :mod:`gpunet.datasets.sources`).
``imdb``, ``reuters``, ``cifar10``, ``cifar100``, ``boston_housing`` and ``california_housing``
have Keras's ``load_data`` (and ``get_word_index``, ``get_label_names``) with Keras's arguments
and results; their single files are found or downloaded by :mod:`gpunet.datasets.files`.
:func:`split_dev` holds out a development set, :func:`scale` turns uint8 pixels into float32 in
[0, 1].
"""

from __future__ import annotations

import numbers

import numpy as np

from . import (boston_housing, california_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters,
               sources)
from .idx import read_idx, write_idx

__all__ = ["mnist", "fashion_mnist", "imdb", "reuters", "cifar10", "cifar100", "boston_housing",
           "california_housing", "read_idx", "write_idx", "load", "split_dev", "scale"]


def load(name: str, path=None):
    """Load a data set by name, ``"mnist"`` or ``"fashion_mnist"``: ``(x_train, y_train), (x_test, y_test)``."""
    if not isinstance(name, str) or name not in sources.DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(sources.DATASETS)}")
    return sources.load(name, path)


def split_dev(x, y, dev_size: int):
    """Split off the LAST ``dev_size`` samples as a development set: ``(x_train, y_train), (x_dev, y_dev)``.

    The split is not shuffled, so it is the same every run (the usual 50,000/10,000 split of the
    MNIST training set is ``split_dev(x_train, y_train, 10000)``). The results are views of the
    inputs, not copies.
    """
    if len(x) != len(y):
        raise ValueError(f"split_dev: x has {len(x)} samples but y has {len(y)}; expected equal lengths")
    if isinstance(dev_size, bool) or not isinstance(dev_size, numbers.Integral):
        raise ValueError(f"split_dev: dev_size must be an integer, got {dev_size!r}")
    if not 1 <= dev_size <= len(x) - 1:
        raise ValueError(
            f"split_dev: dev_size must be in 1..{len(x) - 1} so both parts are non-empty "
            f"({len(x)} samples), got {dev_size}"
        )
    cut = len(x) - int(dev_size)
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def scale(x, flatten: bool = False) -> np.ndarray:
    """Return ``x`` as float32 in [0, 1]: uint8 pixels are divided by 255, floats are kept.

    Float input must already lie in [0, 1] (a ``ValueError`` otherwise, as it would mean raw
    0..255 values stored as floats, or data scaled twice). ``flatten=True`` reshapes the result
    to ``(N, features)`` for Dense layers.
    """
    x = np.asarray(x)
    if x.dtype == np.uint8:
        out = x.astype(np.float32) / np.float32(255)
    elif np.issubdtype(x.dtype, np.floating):
        if x.size and not (np.all(x >= 0) and np.all(x <= 1)):  # NaN fails both tests, and is refused
            found = "NaN values" if np.isnan(x).any() else f"values in [{x.min()}, {x.max()}]"
            raise ValueError(
                f"scale: float input must already lie in [0, 1], got {found}; "
                "pass uint8 pixels 0..255 to have them divided by 255"
            )
        out = x.astype(np.float32)
    else:
        raise ValueError(f"scale: expected uint8 pixels or floats in [0, 1], got dtype {x.dtype}")
    if flatten:
        if out.ndim < 1:
            raise ValueError(f"scale: flatten=True needs an array of samples, got shape {out.shape}")
        out = out.reshape(out.shape[0], int(np.prod(out.shape[1:], dtype=np.int64)))
    return out

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
