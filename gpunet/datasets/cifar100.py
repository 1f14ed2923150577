"""CIFAR-100: 60,000 color 32x32 images in 100 classes grouped into 20 superclasses (50,000
train, 10,000 test); Keras's loader."""

from __future__ import annotations

from .cifar import read_batches
from .files import Remote, locate

__all__ = ["load_data"]

DATA = Remote("cifar100", "cifar-100-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
              "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
              keras_names=("cifar-100-python-target", "cifar-100-python-target_archive"))
FOLDER = "cifar-100-python"


def load_data(label_mode="fine", path=None):
    """``(x_train, y_train), (x_test, y_test)`` as Keras's ``keras.datasets.cifar100.load_data``:
    uint8 images ``(n, 32, 32, 3)``, int64 labels ``(n, 1)`` (what Keras returns, though its
    documentation says uint8): the 100 classes with
    ``label_mode="fine"``, the 20 superclasses with ``"coarse"``. ``path`` is gpunet's, as in
    :func:`gpunet.datasets.cifar10.load_data`.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    source = locate(DATA, path)
    key, classes = f"{label_mode}_labels", 100 if label_mode == "fine" else 20
    train, test = read_batches(source, FOLDER, [["train"], ["test"]], key, classes, "int64")  # Keras's: int64
    return train, test

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
