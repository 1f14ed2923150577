"""Small user-facing utilities."""

from __future__ import annotations

from . import backend

__all__ = ["set_random_seed", "clear_session", "describe_machine"]


def set_random_seed(seed) -> None:
    """Seed every random draw gpunet makes: weight initialization, shuffling and dropout.

    The same seed gives bitwise-identical training on the CPU, across processes.
    """
    backend.set_seed(seed)


def clear_session() -> None:
    """Restart automatic layer and model names (``dense``, ``dense_1``, ...), as Keras does."""
    from .layers.base import clear_names  # noqa: PLC0415

    clear_names()


def describe_machine() -> str:
    """``"<CPU model> (<n> cores), Python x.y, NumPy x.y, backend <name>"``, for reports."""
    import os  # noqa: PLC0415
    import platform  # noqa: PLC0415

    import numpy  # noqa: PLC0415

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu} ({os.cpu_count()} cores), Python {platform.python_version()}, NumPy {numpy.__version__}, "
        f"backend {backend.name()}"
    )
