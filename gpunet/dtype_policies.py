"""Dtype policies: the dtypes a layer keeps its weights in and computes in (see :mod:`gpunet.mixed_precision`)."""

from __future__ import annotations

import numpy

from . import backend

__all__ = ["DTypePolicy", "Policy", "set_global_policy", "global_policy", "set_dtype_policy", "dtype_policy",
           "is_low_precision", "is_float", "low_precision_dtype", "float_output"]

_POLICIES = ("float32", "float64", "mixed_float16", "mixed_bfloat16")


def low_precision_dtype(name: str) -> numpy.dtype:
    """float16 (NumPy's) or bfloat16 (``ml_dtypes``'s, which NumPy and CuPy's host side accept)."""
    if name == "float16":
        return numpy.dtype(numpy.float16)
    if name == "bfloat16":
        try:
            import ml_dtypes  # noqa: PLC0415 - only for bfloat16
        except ImportError:
            raise ValueError("the mixed_bfloat16 policy needs the ml_dtypes package: pip install ml_dtypes") from None
        return numpy.dtype(ml_dtypes.bfloat16)
    raise ValueError(f"not a low-precision dtype: {name!r}")


def is_low_precision(dtype) -> bool:
    """Whether ``dtype`` is float16 or bfloat16."""
    return numpy.dtype(dtype).name in ("float16", "bfloat16")


def is_float(dtype) -> bool:
    """A floating-point dtype, bfloat16 (whose NumPy kind is not "f") included."""
    dtype = numpy.dtype(dtype)
    return dtype.kind == "f" or dtype.name == "bfloat16"


def float_output(dtype) -> numpy.dtype:
    """The dtype a model's output takes for the loss: float32 for a low-precision output, its own
    dtype otherwise (the loss of a mixed-precision model is computed in float32, as Keras does)."""
    return numpy.dtype("float32") if is_low_precision(dtype) else numpy.dtype(dtype)


class DTypePolicy:
    """A layer's dtypes: ``variable_dtype`` for its weights, ``compute_dtype`` for its arithmetic.

    ``DTypePolicy("mixed_float16")``: float32 weights, float16 compute. ``"float32"`` and
    ``"float64"`` compute in the weights' dtype. ``None`` means gpunet's float dtype
    (``gpunet.backend.floatx()``) at the time of use.
    """

    def __init__(self, name=None):
        if isinstance(name, DTypePolicy):
            name = name.name
        if name is not None and not isinstance(name, str):
            try:
                name = numpy.dtype(name).name
            except TypeError:
                raise TypeError(f"dtype must be a dtype or a policy name such as 'mixed_float16', got {name!r}") from None
        if name is not None and name not in _POLICIES:
            raise ValueError(f"dtype must be float32 or float64, or a mixed precision policy (mixed_float16, "
                             f"mixed_bfloat16), got {name!r}")
        self._name = name

    @property
    def name(self) -> str:
        return self._name or backend.floatx().name

    @property
    def variable_dtype(self) -> numpy.dtype:
        if self._name is None:
            return backend.floatx()
        return numpy.dtype("float64" if self._name == "float64" else "float32")

    @property
    def compute_dtype(self) -> numpy.dtype:
        if self._name is not None and self._name.startswith("mixed_"):
            return low_precision_dtype(self._name[len("mixed_"):])
        return self.variable_dtype

    @property
    def is_mixed(self) -> bool:
        return self.compute_dtype != self.variable_dtype

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict):
        return cls(config["name"])

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'


Policy = DTypePolicy  # the TensorFlow-era Keras name

_global: DTypePolicy | None = None


def set_global_policy(policy) -> None:
    """The policy of layers created from now on: a name (``"mixed_float16"``, ``"mixed_bfloat16"``,
    ``"float32"``, ``"float64"``), a :class:`DTypePolicy`, or None for the default (floatx)."""
    global _global
    policy = None if policy is None else DTypePolicy(policy)
    if policy is not None:
        policy.compute_dtype  # noqa: B018 - fail now (bfloat16 without ml_dtypes), not at the first layer
        if policy.name in ("float32", "float64"):
            backend.set_floatx(policy.name)
    _global = policy


def global_policy() -> DTypePolicy:
    """The policy new layers take (``"float32"`` unless set)."""
    return _global if _global is not None else DTypePolicy(None)


set_dtype_policy = set_global_policy  # Keras 3's other spellings
dtype_policy = global_policy

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
