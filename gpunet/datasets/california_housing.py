"""California housing prices: 20,640 census block groups, 8 features each, the median house
value in dollars; Keras's loader (``version="small"``: the first 600, a stand-in for Boston's)."""

from __future__ import annotations

from .files import KERAS_FOLDER, Remote
from .housing import load_table

__all__ = ["load_data"]

DATA = Remote("california_housing", "california_housing.npz", f"{KERAS_FOLDER}california_housing.npz",
              "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f")
SMALL = 600


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """``(x_train, y_train), (x_test, y_test)`` as Keras's
    ``keras.datasets.california_housing.load_data``: ``version="large"`` all block groups,
    ``"small"`` the file's first 600; shuffled with ``seed``, the last ``test_split`` held out."""
    if version not in ("small", "large"):
        raise ValueError(f"version must be 'small' or 'large', got {version!r}")
    return load_table(DATA, path, test_split, seed, first=SMALL if version == "small" else None)

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
