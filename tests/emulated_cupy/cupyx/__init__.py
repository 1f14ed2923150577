"""``cupyx.scatter_add`` (and max, min) on the emulated device: NumPy's unbuffered ``ufunc.at``,
run as device work (recorded while the stream captures)."""

import numpy as _np

from cupy import _device
from cupy._array import index, ndarray, operand


def _scatter(ufunc):
    def scatter(a, slices, value):
        if not isinstance(a, ndarray):
            raise TypeError(f"Unsupported type {type(a)}")
        _device.launch(ufunc.at, a._a, index(slices), operand(value))

    scatter.__name__ = f"scatter_{ufunc.__name__}"
    return scatter


scatter_add = _scatter(_np.add)
scatter_max = _scatter(_np.maximum)
scatter_min = _scatter(_np.minimum)
