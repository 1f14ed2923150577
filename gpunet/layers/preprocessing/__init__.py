"""Preprocessing layers: Keras 3's layers that turn raw data (strings, integer ids) into model inputs.

    lookup.py              StringLookup, IntegerLookup
    text_vectorization.py  TextVectorization
"""

from .lookup import IntegerLookup, StringLookup
from .text_vectorization import TextVectorization

__all__ = ["StringLookup", "IntegerLookup", "TextVectorization"]
