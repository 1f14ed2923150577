"""What the housing-price loaders share: a table ``x`` of features and prices ``y`` in an
``.npz`` file, shuffled with ``numpy.random.RandomState(seed)`` and cut at ``int(n * (1 -
test_split))``, as Keras's ``boston_housing`` and ``california_housing`` loaders do."""

from __future__ import annotations

import numbers

import numpy as np

from .files import locate, read_npz
from .reuters import check_test_split

__all__ = ["load_table"]


def load_table(remote, path, test_split, seed, first=None):
    """``(x_train, y_train), (x_test, y_test)`` of ``remote``'s file (its ``first`` rows only, when
    given, before the shuffle)."""
    test_split = check_test_split(test_split)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    file = locate(remote, path)
    arrays = read_npz(file, ("x", "y"))
    x, y = np.asarray(arrays["x"]), np.asarray(arrays["y"])
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or x.dtype.kind not in "fiu" or y.dtype.kind not in "fiu":
        raise ValueError(f"{file}: expected numbers x of shape (n, features) and y of shape (n,), got x {x.shape} "
                         f"{x.dtype} and y {y.shape} {y.dtype}")
    if first is not None:
        x, y = x[:first], y[:first]
    order = np.random.RandomState(seed).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])
