"""Differentiable operations (the functional API), grouped by kind.

Every op is written once against the array module of its inputs, so the same code runs on NumPy
and on CuPy. Importing this package also gives :class:`gpunet.Tensor` its operators.
"""

from ..autograd import Tensor
from .activation import log_softmax, relu, sigmoid, softmax, tanh
from .activation import (celu, elu, gelu, general_relu, hard_shrink, hard_sigmoid, hard_silu, hard_tanh, leaky_relu,
                         log_sigmoid, mish, prelu, relu6, selu, silu, soft_shrink, softplus, softsign, sparse_plus,
                         sparse_sigmoid, sparsemax, squareplus, tanh_shrink, threshold)
from .shaping import autocast, cast, getitem, pick, reshape, transpose
from .convolution import avg_pool, conv, conv_max_pool, max, max_pool
from .loss import binary_cross_entropy, cross_entropy, mse
from .math import add, bias_activation, div, exp, linear, log, matmul, maximum, mean, mul, neg, pow, sub, sum
from .noise import dropout
from .normalization import batch_norm, layer_norm

# keras.ops's nn, image and linalg namespaces, and the nn and core names keras.ops itself exports
from . import core, image, linalg, nn  # noqa: E402
from .nn import *  # noqa: E402,F401,F403
from .core import *  # noqa: E402,F401,F403

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "maximum", "matmul", "linear", "bias_activation",
    "sum", "mean", "reshape", "transpose", "getitem", "pick", "cast", "autocast",
    "sigmoid", "tanh", "relu", "softmax", "log_softmax",
    "general_relu", "leaky_relu", "relu6", "elu", "selu", "celu", "gelu", "silu", "softplus", "log_sigmoid", "softsign",
    "hard_sigmoid", "hard_silu", "mish", "hard_tanh", "tanh_shrink", "hard_shrink", "soft_shrink", "sparse_plus",
    "sparse_sigmoid", "squareplus", "threshold", "prelu", "sparsemax",
    "cross_entropy", "mse", "binary_cross_entropy", "dropout",
    "conv", "conv_max_pool", "pad", "max_pool", "avg_pool", "max", "batch_norm", "layer_norm",
    "nn", "image", "linalg", *nn.__all__, *core.__all__,
]


def _install_operators() -> None:
    """Give Tensor its Python operators and array-style methods, all routed through the ops."""
    T = Tensor
    T.__add__ = add
    T.__radd__ = lambda self, other: add(other, self)
    T.__sub__ = sub
    T.__rsub__ = lambda self, other: sub(other, self)
    T.__mul__ = mul
    T.__rmul__ = lambda self, other: mul(other, self)
    T.__truediv__ = div
    T.__rtruediv__ = lambda self, other: div(other, self)
    T.__neg__ = neg
    T.__pow__ = pow
    T.__rpow__ = lambda self, other: pow(other, self)
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda self, other: matmul(other, self)
    T.__getitem__ = getitem
    T.T = property(lambda self: transpose(self))
    T.sum = lambda self, axis=None, keepdims=False: sum(self, axis, keepdims)
    T.mean = lambda self, axis=None, keepdims=False: mean(self, axis, keepdims)
    T.reshape = reshape
    T.transpose = lambda self, *axes: transpose(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else (axes or None))
    T.exp = exp
    T.log = log


_install_operators()

from . import numpy  # noqa: E402 - keras.ops.numpy; its names below replace the internal ops of the same names
from .numpy import *  # noqa: E402,F403
__all__ += [name for name in numpy.__all__ if name not in __all__]

class symbolic_dispatch:  # noqa: N801 - a namespace, not instantiated
    """Where the functional API plugs into the ops (:mod:`gpunet.layers.symbolic` fills it in).

    Every public function of this package is wrapped once, below: on real Tensors the wrapper
    costs one flag check (``active`` stays False until the first symbolic tensor is made); when an
    argument (or a list, tuple or dict among the arguments) holds a symbolic ``KerasTensor``, the
    call is recorded in the functional graph by ``call(fn, *args, **kwargs)`` instead of computed.
    Tensor's own operators are bound to the unwrapped functions above."""

    active = False
    holds = None  # holds(args, kwargs) -> whether a symbolic tensor is among them
    call = None  # call(fn, *args, **kwargs) -> the symbolic outputs


def _symbolic_aware(fn):
    import functools  # noqa: PLC0415

    hook = symbolic_dispatch

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if hook.active and hook.holds(args, kwargs):
            return hook.call(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    op.symbolic_aware = True
    return op


def _wrap_public_ops() -> None:
    """Wrap every public function named in ``__all__`` (whatever the op modules add to it), here and
    in the Keras namespaces ``ops.numpy``, ``ops.nn``, ``ops.image``, ``ops.linalg``."""
    import inspect  # noqa: PLC0415

    namespaces = [(globals(), __all__)] + [(vars(module), module.__all__) for module in (numpy, nn, image, linalg, core)]
    wrapped: dict = {}  # one wrapper per function, whichever namespaces name it
    for namespace, names in namespaces:
        for name in names:
            fn = namespace.get(name)
            if inspect.isfunction(fn) and not getattr(fn, "symbolic_aware", False):
                if id(fn) not in wrapped:
                    wrapped[id(fn)] = (fn, _symbolic_aware(fn))
                namespace[name] = wrapped[id(fn)][1]


_wrap_public_ops()

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
