"""Layers: the building blocks of a Sequential model."""

from .base import Layer
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from .serialization import deserialize, serialize

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Activation", "Dropout", "Flatten", "serialize", "deserialize"]
