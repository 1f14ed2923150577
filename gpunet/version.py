"""gpunet's version (files record which gpunet wrote them)."""

__version__ = "0.1.0"
