"""``cupyx.scatter_add`` on the emulated device: NumPy's unbuffered ``add.at``."""

import numpy as _np


def scatter_add(a, slices, value):
    _np.add.at(a, slices, value)
