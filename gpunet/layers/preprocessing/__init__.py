"""Keras 3's preprocessing layers: numbers, images, categories.

    normalization.py      Normalization (mean and variance, given or adapted), Rescaling
    image.py              Resizing, CenterCrop
    random_image.py       RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast,
                          RandomCrop (active only in training, seeded, resumable)
    discretization.py     Discretization (bin boundaries, given or adapted)
    category_encoding.py  CategoryEncoding (one_hot, multi_hot, count)
    hashing.py            Hashing (TensorFlow's FarmHash Fingerprint64 and keyed SipHash-2-4)
"""

from .normalization import Normalization, Rescaling

__all__ = ["Normalization", "Rescaling"]
from .image import CenterCrop, Resizing
from .random_image import (
            RandomContrast,
            RandomCrop,
            RandomFlip,
            RandomRotation,
            RandomTranslation,
            RandomZoom,
)

__all__ += [
            "CenterCrop",
            "RandomContrast",
            "RandomCrop",
            "RandomFlip",
            "RandomRotation",
            "RandomTranslation",
            "RandomZoom",
            "Resizing",
]
from .category_encoding import CategoryEncoding
from .discretization import Discretization
from .hashing import Hashing

__all__ += ["CategoryEncoding", "Discretization", "Hashing"]
