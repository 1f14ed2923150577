"""Errors of gpunet's own that users may want to catch by class."""

from __future__ import annotations

__all__ = ["NotSupportedYetError"]


class NotSupportedYetError(AttributeError):
    """A name of Keras's public API that gpunet does not have yet: ``gpunet.layers.LSTM``.

    An ``AttributeError``, so that ``hasattr(gpunet.layers, "LSTM")`` is False and
    ``getattr(gpunet.layers, "LSTM", None)`` is None, as for any missing attribute. Its message
    names the Keras name and where the Keras names gpunet has are listed (``docs/keras.md``).

    Attributes: ``keras_name`` (``"keras.layers.LSTM"``) and ``module`` (the gpunet module asked,
    ``"gpunet.layers"``). A ``from gpunet.layers import LSTM`` statement raises an ``ImportError``
    with the same message instead (Python turns any AttributeError of a from-import into its own
    ImportError), whose ``__cause__`` is this error.
    """

    def __init__(self, message: str, keras_name: str, module: str):
        super().__init__(message)
        self.keras_name = keras_name
        self.module = module
