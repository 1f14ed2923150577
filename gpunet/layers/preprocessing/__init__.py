"""Keras 3's preprocessing layers: raw data (numbers, images, categories, strings, ids) into model inputs.

    normalization.py       Normalization (mean and variance, given or adapted), Rescaling
    image.py               Resizing, CenterCrop
    random_image.py        RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast,
                           RandomCrop (active only in training, seeded, resumable)
    discretization.py      Discretization (bin boundaries, given or adapted)
    category_encoding.py   CategoryEncoding (one_hot, multi_hot, count)
    hashing.py             Hashing (TensorFlow's FarmHash Fingerprint64 and keyed SipHash-2-4)
    lookup.py              StringLookup, IntegerLookup
    text_vectorization.py  TextVectorization
"""

from .category_encoding import CategoryEncoding
from .discretization import Discretization
from .hashing import Hashing
from .image import CenterCrop, Resizing
from .lookup import IntegerLookup, StringLookup
from .normalization import Normalization, Rescaling
from .random_image import RandomContrast, RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from .text_vectorization import TextVectorization

__all__ = [
    "Normalization", "Rescaling", "Resizing", "CenterCrop", "RandomFlip", "RandomRotation", "RandomZoom",
    "RandomTranslation", "RandomContrast", "RandomCrop", "Discretization", "CategoryEncoding", "Hashing",
    "StringLookup", "IntegerLookup", "TextVectorization",
]
