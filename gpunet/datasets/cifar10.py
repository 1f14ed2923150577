"""CIFAR-10: 60,000 color 32x32 images in 10 classes (50,000 train, 10,000 test); Keras's loader.

Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck.
"""

from __future__ import annotations

from .cifar import read_batches
from .files import Remote, locate

__all__ = ["load_data"]

DATA = Remote("cifar10", "cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
              "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
              keras_names=("cifar-10-batches-py-target", "cifar-10-batches-py-target_archive"))
FOLDER = "cifar-10-batches-py"


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)`` as Keras's ``keras.datasets.cifar10.load_data()``:
    uint8 images ``(n, 32, 32, 3)``, uint8 labels ``(n, 1)``.

    ``path`` (gpunet's; Keras's takes no argument): the archive ``cifar-10-python.tar.gz`` or a
    folder it was extracted into; by default it is looked for in the usual places (Keras's cache
    included) and downloaded when missing (see :mod:`gpunet.datasets.files`).
    """
    source = locate(DATA, path)
    train, test = read_batches(source, FOLDER, [[f"data_batch_{i}" for i in range(1, 6)], ["test_batch"]], "labels", 10,
                               "uint8")
    return train, test

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
