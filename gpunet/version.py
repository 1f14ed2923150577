"""gpunet's version (files record which gpunet wrote them)."""

__version__ = "0.1.0"


def version() -> str:
    """gpunet's version string, ``gpunet.__version__`` (as ``keras.version()`` gives Keras's)."""
    return __version__
