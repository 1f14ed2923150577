"""Activation functions by name, for layers (``Dense(..., activation="relu")``): Keras 3's list.

Every function takes a Tensor (or array) and returns a Tensor, with Keras 3's arguments and
defaults; each is one of gpunet's differentiable ops (:mod:`gpunet.ops.activation`), so a layer
using it keeps the recording contract. A layer given a name gets the function with its default
arguments, as in Keras (``"leaky_relu"`` has ``negative_slope=0.2``; the ``LeakyReLU`` layer's
default is 0.3); a file stores the name.

=================  ==========================================================================
``relu``           ``max(x, 0)``; ``negative_slope``, ``max_value``, ``threshold`` as Keras's
``leaky_relu``     ``x`` for ``x >= 0``, ``negative_slope * x`` below (``negative_slope=0.2``)
``relu6``          ``min(max(x, 0), 6)``
``elu``            ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` below (``alpha=1.0``)
``selu``           ``1.0507 * elu(x, 1.6733)``
``celu``           ``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)``
``gelu``           ``x * Phi(x)``, exact (``approximate=False``, Keras's default here) or tanh form
``silu``/``swish`` ``x * sigmoid(x)``
``softplus``       ``log(1 + exp(x))``; ``softsign``: ``x / (1 + |x|)``
``hard_sigmoid``   ``relu6(x + 3) / 6``; ``hard_silu``/``hard_swish``: ``x * hard_sigmoid(x)``
``mish``           ``x * tanh(softplus(x))``
``exponential``    ``exp(x)``; ``linear``: ``x``
``softmax``        along ``axis`` (-1); ``log_softmax`` likewise; ``sparsemax``: onto the simplex
``glu``            ``a * sigmoid(b)``, ``a`` and ``b`` the two halves of ``x`` along ``axis``
``log_sigmoid``    ``-softplus(-x)``; ``tanh_shrink``: ``x - tanh(x)``; ``hard_tanh``: ``clip(x, -1, 1)``
``hard_shrink``    ``x`` where ``|x| > threshold``; ``soft_shrink``: shrunk towards 0 by ``threshold``
``sparse_plus``    0, ``(x + 1)^2 / 4``, ``x``; ``sparse_sigmoid``: ``clip(x + 1, 0, 2) / 2``
``squareplus``     ``(x + sqrt(x^2 + b)) / 2`` (``b=4``); ``threshold``: ``x`` above it, else a value
``sigmoid``        ``tanh``
=================  ==========================================================================

One deviation, documented in ``docs/layers.md``: Keras 3.15's ``sparsemax`` computes its
threshold from the sum of the running sums over the support rather than from the support's sum,
so its outputs do not sum to 1 once two or more entries are kept; gpunet's is the published
projection (Martins and Astudillo 2016).
"""

from __future__ import annotations

from . import ops

__all__ = [
    "get", "serialize", "deserialize", "is_builtin",
    "relu", "leaky_relu", "relu6", "softmax", "celu", "elu", "selu", "softplus", "softsign", "squareplus",
    "soft_shrink", "sparse_plus", "silu", "swish", "gelu", "glu", "tanh", "tanh_shrink", "threshold", "sigmoid",
    "sparse_sigmoid", "exponential", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "hard_shrink", "linear",
    "mish", "log_softmax", "log_sigmoid", "sparsemax",
]


def linear(x):
    """The identity."""
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):  # noqa: A002 - Keras's argument names
    """``max(x, 0)``; with Keras's options, ``x`` above ``threshold`` (clipped to
    ``[0, max_value]``) and ``negative_slope * (x - threshold)`` below."""
    if not negative_slope and max_value is None and not threshold:
        return ops.relu(x)
    return ops.general_relu(x, negative_slope, max_value, threshold)


def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below."""
    return ops.leaky_relu(x, negative_slope)


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return ops.relu6(x)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``."""
    return ops.softmax(x, axis)


def log_softmax(x, axis=-1):
    """``log(softmax(x))`` along ``axis``, computed stably."""
    return ops.log_softmax(x, axis)


def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""
    return ops.elu(x, alpha)


def selu(x):
    """Scaled ELU with the constants of Klambauer et al. (use with ``lecun_normal``)."""
    return ops.selu(x)


def celu(x, alpha=1.0):
    """``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)``."""
    return ops.celu(x, alpha)


def gelu(x, approximate=False):
    """``x * Phi(x)`` (``Phi`` the standard normal CDF); ``approximate=True``: the tanh form."""
    return ops.gelu(x, approximate)


def silu(x):
    """``x * sigmoid(x)``."""
    return ops.silu(x)


def softplus(x):
    """``log(1 + exp(x))``."""
    return ops.softplus(x)


def softsign(x):
    """``x / (1 + |x|)``."""
    return ops.softsign(x)


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``."""
    return ops.squareplus(x, b)


def soft_shrink(x, threshold=0.5):  # noqa: A002
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""
    return ops.soft_shrink(x, threshold)


def hard_shrink(x, threshold=0.5):  # noqa: A002
    """``x`` where ``|x| > threshold``, else 0."""
    return ops.hard_shrink(x, threshold)


def sparse_plus(x):
    """0 for ``x <= -1``, ``(x + 1)^2 / 4`` for ``-1 < x < 1``, ``x`` for ``x >= 1``."""
    return ops.sparse_plus(x)


def sparse_sigmoid(x):
    """``clip(x + 1, 0, 2) / 2``."""
    return ops.sparse_sigmoid(x)


def glu(x, axis=-1):
    """Gated linear unit: ``a * sigmoid(b)``, ``a`` and ``b`` the halves of ``x`` along ``axis``
    (whose size must be even); :func:`gpunet.ops.nn.glu`."""
    return ops.nn.glu(x, axis)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return ops.tanh_shrink(x)


def hard_tanh(x):
    """``clip(x, -1, 1)``."""
    return ops.hard_tanh(x)


def threshold(x, threshold, default_value):  # noqa: A002
    """``x`` where ``x > threshold``, else ``default_value``."""
    return ops.threshold(x, threshold, default_value)


def exponential(x):
    """``exp(x)``."""
    return ops.exp(x)


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``."""
    return ops.hard_sigmoid(x)


def hard_silu(x):
    """``x * hard_sigmoid(x)``."""
    return ops.hard_silu(x)


def log_sigmoid(x):
    """``log(sigmoid(x))``."""
    return ops.log_sigmoid(x)


def mish(x):
    """``x * tanh(softplus(x))``."""
    return ops.mish(x)


def sparsemax(x, axis=-1):
    """Sparsemax along ``axis``: the Euclidean projection onto the probability simplex."""
    return ops.sparsemax(x, axis)


sigmoid = ops.sigmoid
tanh = ops.tanh
swish = silu
hard_swish = hard_silu

# name -> function; a function's first name is the one files store (Keras's: "silu", not "swish")
_BY_NAME = {
    "linear": linear, "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "softmax": softmax,
    "leaky_relu": leaky_relu, "relu6": relu6, "elu": elu, "selu": selu, "celu": celu, "gelu": gelu,
    "silu": silu, "swish": silu, "softplus": softplus, "softsign": softsign, "squareplus": squareplus,
    "soft_shrink": soft_shrink, "hard_shrink": hard_shrink, "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid, "glu": glu, "tanh_shrink": tanh_shrink, "hard_tanh": hard_tanh,
    "exponential": exponential, "hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu, "hard_swish": hard_silu,
    "log_sigmoid": log_sigmoid, "mish": mish, "log_softmax": log_softmax, "sparsemax": sparsemax,
}
# Keras's threshold has no defaults: a name cannot stand for it
_NEEDS_ARGUMENTS = {"threshold": threshold}
# gpunet's ops that compute an activation with its default arguments: given as a layer's
# activation, each stands for it (fused where the activation is, recorded, saved by name)
_OPS = {
    ops.relu: relu, ops.softmax: softmax, ops.log_softmax: log_softmax, ops.exp: exponential,
    ops.leaky_relu: leaky_relu, ops.relu6: relu6, ops.elu: elu, ops.selu: selu, ops.celu: celu, ops.activation.gelu: gelu,
    ops.silu: silu, ops.softplus: softplus, ops.softsign: softsign, ops.squareplus: squareplus,
    ops.soft_shrink: soft_shrink, ops.hard_shrink: hard_shrink, ops.sparse_plus: sparse_plus,
    ops.sparse_sigmoid: sparse_sigmoid, ops.tanh_shrink: tanh_shrink, ops.hard_tanh: hard_tanh,
    ops.hard_sigmoid: hard_sigmoid, ops.hard_silu: hard_silu, ops.log_sigmoid: log_sigmoid, ops.mish: mish,
    ops.sparsemax: sparsemax,
}


def get(identifier):
    """The activation for a name (``"relu"``), Keras's serialized form of one, a callable, or
    None (linear). One of gpunet's ops given as a callable (``gpunet.ops.relu``) is that
    activation."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _NEEDS_ARGUMENTS:
            raise ValueError(f"activation {identifier!r} needs arguments (threshold, default_value); pass "
                             f"lambda x: gpunet.activations.threshold(x, ...) or use another activation")
        try:
            return _BY_NAME[key]
        except KeyError:
            raise ValueError(f"unknown activation {identifier!r}; valid names are {sorted(_BY_NAME)}") from None
    if callable(identifier):
        return _OPS.get(identifier, identifier)
    raise TypeError(f"activation must be a name, a callable or None, got {type(identifier).__name__}")


def deserialize(config, custom_objects=None):
    """The activation a file names: a name, or Keras's ``{"class_name": "function", "config":
    "relu", ...}`` form of a built-in function (nothing is imported or evaluated). A name that
    ``custom_objects`` maps to a callable gives that callable, as in Keras."""
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"custom_objects must be a dict of name -> function, got {type(custom_objects).__name__}")
    name = config.get("config") if isinstance(config, dict) and config.get("class_name") == "function" else config
    if isinstance(name, str) and custom_objects and callable(custom_objects.get(name)):
        return custom_objects[name]
    if isinstance(config, str):
        return get(config)
    if isinstance(config, dict):
        name = config.get("config") if config.get("class_name") == "function" else config.get("class_name")
        if isinstance(name, str):
            return get(name)
    raise ValueError(f"an activation must be given by name, got {config!r}")


def is_builtin(activation) -> bool:
    """Whether ``activation`` is one of gpunet's own (which files can name and fit can record)."""
    return any(fn is activation for fn in _BY_NAME.values())


def serialize(activation) -> str:
    """The name of a built-in activation (what model files store)."""
    for name, fn in _BY_NAME.items():
        if fn is activation:
            return name
    name = getattr(activation, "__name__", None)
    raise ValueError(
        f"activation {name or activation!r} is a custom callable and cannot be saved by name; "
        f"use one of {sorted(_BY_NAME)}"
    )

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
