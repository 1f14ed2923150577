"""Keras's ``keras.preprocessing`` names that gpunet has: ``timeseries_dataset_from_array`` (the
same function as ``gpunet.utils``'s, see :mod:`gpunet.data.timeseries`)."""

from .data.timeseries import timeseries_dataset_from_array

__all__ = ["timeseries_dataset_from_array"]

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
