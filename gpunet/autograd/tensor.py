"""Tensor: an array of the selected backend plus what autograd needs (Variable, a weight, is one)."""

from __future__ import annotations

import numpy

from .. import backend

__all__ = ["Tensor", "as_tensor"]


def _is_backend_array(a) -> bool:
    return isinstance(a, numpy.ndarray) or backend.is_device_array(a)


def _is_text_list(data) -> bool:
    """Whether ``data`` is a (nested) list or tuple whose first leaf is a string."""
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return isinstance(data, (str, bytes))


def _as_array(data, dtype=None):
    """Turn ``data`` into an array of the selected backend, keeping its dtype when it has one.

    Python floats and lists of floats become the default float dtype (float32), NumPy scalars
    and arrays keep theirs, integers stay integers (labels), bools stay bools.
    """
    xp = backend.array_module()
    if backend.is_text(data) or _is_text_list(data):
        return numpy.asarray(data)  # strings stay on the host, for the text preprocessing layers
    if _is_backend_array(data) and (xp is numpy or not isinstance(data, numpy.ndarray)):
        arr = data
    elif isinstance(data, numpy.ndarray):  # host data for a model on the GPU: copied over once
        arr = backend.to_device(data)
    elif isinstance(data, numpy.generic):
        arr = xp.asarray(data)
    else:
        try:
            arr = xp.asarray(numpy.asarray(data) if xp is not numpy else data)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"data must be numeric array-like, got {type(data).__name__}: {exc}") from None
        if arr.dtype == numpy.float64 and not isinstance(data, numpy.ndarray):
            arr = arr.astype(backend.floatx())
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"data must be numeric (float, int or bool), got dtype {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(data, requires_grad=False)``: ``data`` is a NumPy/CuPy array (kept as it is, dtype
    included) or anything ``numpy.asarray`` accepts (Python floats become ``float32``).
    With ``requires_grad=True``, operations on the tensor build a graph and
    ``loss.backward()`` fills ``tensor.grad`` (an array of the same shape).

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([2., 4., 6.], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "creator", "name", "_keras_mask", "__weakref__")
    __array_ufunc__ = None  # make ``ndarray + Tensor`` call Tensor.__radd__
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = _as_array(data)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.creator = None
        self.name = name

    @classmethod
    def _result(cls, data, creator):
        """Wrap an operation's output array without checks (the hot path)."""
        t = object.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = creator is not None
        t.creator = creator
        t.name = None
        return t

    # -- array-like properties ------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> numpy.ndarray:
        """The values as a host NumPy array (copied from the GPU when needed)."""
        return backend.to_host(self.data)

    def item(self):
        """The single value of a one-element tensor, as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def __float__(self) -> float:
        return float(self.item())

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._result(self.data, None)

    def __repr__(self) -> str:
        body = numpy.array2string(backend.to_host(self.data), separator=", ", prefix="Tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError("the truth value of a tensor with more than one element is ambiguous")
        return bool(self.data)

    __hash__ = object.__hash__
    # .backward() is installed by gpunet.autograd.function (the graph walk lives there);
    # arithmetic operators, indexing, .T, .sum, .mean and .reshape by gpunet.ops.


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor; a Python number takes the float dtype of ``like`` (no silent upcast)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (int, float)) and not isinstance(x, bool):
        xp = backend.get_array_module(like.data)
        dtype = like.data.dtype if like.data.dtype.kind == "f" else backend.floatx()
        return Tensor._result(xp.asarray(x, dtype=dtype), None)
    if like is not None and isinstance(x, numpy.ndarray) and backend.get_array_module(like.data) is not numpy:
        return Tensor._result(backend.to_device(x), None)
    return Tensor(x)


backend.register_wrapper_type(Tensor)
