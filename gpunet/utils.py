"""Small user-facing utilities."""

from __future__ import annotations

from . import backend

__all__ = ["set_random_seed", "clear_session"]


def set_random_seed(seed) -> None:
    """Seed every random draw gpunet makes: weight initialization, shuffling and dropout.

    The same seed gives bitwise-identical training on the CPU, across processes.
    """
    backend.set_seed(seed)


def clear_session() -> None:
    """Restart automatic layer and model names (``dense``, ``dense_1``, ...), as Keras does."""
    from .layers.base import clear_names  # noqa: PLC0415

    clear_names()
