"""``gpunet.ops.numpy``: Keras 3's NumPy-style ops (``keras.ops.numpy``), the names gpunet has.

Each name behaves as ``keras.ops.<name>``: the same arguments and defaults, Keras's result dtypes
(int32 for Python ints, float32 for integer inputs to float math, see :mod:`.promotion`), and a
gradient wherever Keras's op has one. Inputs may be Tensors, NumPy/CuPy arrays, Python numbers
or lists; results are :class:`gpunet.Tensor` (tuples or lists of them for ``split``, ``nonzero``,
``slogdet``, ...). The code lives by kind: :mod:`.elementwise`, :mod:`.reductions`,
:mod:`.arrays` (creation, shaping, joining, indexing) and :mod:`.linear_algebra_np`.

Importing this module also gives :class:`gpunet.Tensor` the array methods that map to these ops
(``max``, ``min``, ``argmax``, ``argmin``, ``astype``, ``abs()``, ``< <= > >=``).

>>> from gpunet.ops import numpy as gnp
>>> gnp.mean(gnp.arange(4)).item()
1.5
"""

from __future__ import annotations

from ..autograd import Tensor
from . import arrays, elementwise, linear_algebra_np, reductions
from .arrays import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .linear_algebra_np import *  # noqa: F403
from .promotion import convert as _convert
from .reductions import *  # noqa: F403
from .vectorize import vectorize  # noqa: F401 - re-exported

__all__ = sorted({*arrays.__all__, *elementwise.__all__, *reductions.__all__, *linear_algebra_np.__all__, "vectorize"})


def _install_tensor_methods() -> None:
    """Tensor methods that NumPy arrays have and Keras scripts use on tensors. ``==`` and ``!=``
    stay identity comparisons: tensors are dictionary keys and members of sets across gpunet."""
    T = Tensor
    T.max = lambda self, axis=None, keepdims=False: reductions.max(self, axis, keepdims)
    T.min = lambda self, axis=None, keepdims=False: reductions.min(self, axis, keepdims)
    T.argmax = lambda self, axis=None, keepdims=False: reductions.argmax(self, axis, keepdims)
    T.argmin = lambda self, axis=None, keepdims=False: reductions.argmin(self, axis, keepdims)
    T.astype = lambda self, dtype: _convert(self, dtype)
    T.abs = elementwise.abs
    T.__abs__ = elementwise.abs
    T.__lt__ = elementwise.less
    T.__le__ = elementwise.less_equal
    T.__gt__ = elementwise.greater
    T.__ge__ = elementwise.greater_equal


_install_tensor_methods()

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
