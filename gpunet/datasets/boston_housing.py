"""Boston housing prices: 506 districts, 13 features each, the median price in k$; Keras's loader.

Keras's documentation discourages this data set (one feature encodes an assumption about race);
:mod:`gpunet.datasets.california_housing` is its replacement.
"""

from __future__ import annotations

from .files import KERAS_FOLDER, Remote
from .housing import load_table

__all__ = ["load_data"]

DATA = Remote("boston_housing", "boston_housing.npz", f"{KERAS_FOLDER}boston_housing.npz",
              "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5")


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """``(x_train, y_train), (x_test, y_test)`` as Keras's ``keras.datasets.boston_housing.load_data``:
    shuffled with ``seed``, the last ``test_split`` held out. ``path``: Keras's file name (looked
    for, downloaded when missing) or a local file's path."""
    return load_table(DATA, path, test_split, seed)

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
