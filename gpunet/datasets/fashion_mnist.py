"""Fashion-MNIST: 70,000 grayscale 28x28 images of clothing in 10 classes (60,000 train, 10,000 test).

A drop-in replacement for MNIST that is harder to fit. ``load_data`` has Keras's name and return
value; see :mod:`gpunet.datasets.sources` for where the files are looked for (including Debian's
``dataset-fashion-mnist`` package) and how they are downloaded.
"""

from __future__ import annotations

from . import sources

__all__ = ["load_data", "CLASS_NAMES"]

# label -> class name
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def load_data(path=None):
    """Return ``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28), labels (N,).

    ``path`` is a folder holding the four IDX files (``.gz`` or raw); without it the usual places
    are searched and, failing those, the files are downloaded into the user cache.
    """
    return sources.load(sources.FASHION_MNIST, path)

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
