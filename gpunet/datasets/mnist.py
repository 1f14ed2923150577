"""MNIST: 70,000 grayscale 28x28 images of handwritten digits 0-9 (60,000 train, 10,000 test).

``load_data`` has Keras's name and return value; see :mod:`gpunet.datasets.sources` for where
the files are looked for and how they are downloaded.
"""

from __future__ import annotations

from . import sources

__all__ = ["load_data"]


def load_data(path="mnist.npz"):
    """Return ``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28), labels (N,).

    ``path`` is a folder holding the four IDX files (``.gz`` or raw). Keras's default,
    ``"mnist.npz"`` (the name of Keras's cached copy), or None, means: search the usual places
    and, failing those, download the files into the user cache.
    """
    return sources.load(sources.MNIST, None if path == "mnist.npz" else path)

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
