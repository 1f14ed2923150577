"""MNIST: 70,000 grayscale 28x28 images of handwritten digits 0-9 (60,000 train, 10,000 test).

``load_data`` has Keras's name and return value; see :mod:`gpunet.datasets.sources` for where
the files are looked for and how they are downloaded.
"""

from __future__ import annotations

from . import sources

__all__ = ["load_data"]


def load_data(path=None):
    """Return ``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28), labels (N,).

    ``path`` is a folder holding the four IDX files (``.gz`` or raw); without it the usual places
    are searched and, failing those, the files are downloaded into the user cache.
    """
    return sources.load(sources.MNIST, path)

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
