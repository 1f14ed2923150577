"""NumPy or CuPy: which array library gpunet computes with, and moving arrays between them.

The backend is chosen by :func:`use`, or by the environment variable ``GPUNET_BACKEND``
(``numpy``, ``cupy`` or ``auto``; ``auto`` is the default and picks CuPy when a CUDA device is
usable). The choice is made lazily, on first use, so ``import gpunet`` never fails or slows down
for lack of CuPy or a GPU.
"""

from __future__ import annotations

import os

import numpy

from .dtypes import is_text

__all__ = ["use", "name", "array_module", "get_array_module", "is_device_array", "to_host", "to_device",
           "on_device_of", "capturing", "all_finite", "is_gpu_available", "register_wrapper_type", "cupy_module"]

_BACKENDS = ("numpy", "cupy")
_INSTALL_HINT = (
    "install CuPy for your CUDA version, e.g. `pip install gpunet[cuda12]` (cupy-cuda12x) or "
    "`pip install gpunet[cuda13]` (cupy-cuda13x), on a machine with an NVIDIA GPU and driver"
)

_cupy = None  # the cupy module once it has been imported successfully
_selected: str | None = None  # "numpy" | "cupy" once resolved
_gpu_checked: bool | None = None

# ----------------------------------------------------------------------------------------------
# CuPy detection
# ----------------------------------------------------------------------------------------------
def _import_cupy():
    """Import CuPy and return it, or None when it is not installed or cannot load."""
    global _cupy
    if _cupy is None:
        try:
            import cupy  # noqa: PLC0415 - optional dependency
        except Exception:  # ImportError, or a broken CUDA install raising at import time
            return None
        _cupy = cupy
    return _cupy


def is_gpu_available() -> bool:
    """True when CuPy imports and at least one CUDA device answers.

    Any failure (no CuPy, no driver, ``CUDARuntimeError`` from the runtime) counts as "no GPU".
    The answer is computed once and cached.
    """
    global _gpu_checked
    if _gpu_checked is None:
        cupy = _import_cupy()
        ok = False
        if cupy is not None:
            try:
                ok = cupy.cuda.runtime.getDeviceCount() > 0
                if ok:  # a device that cannot run a kernel is no device
                    cupy.zeros(1).sum().item()
            except Exception:
                ok = False
        _gpu_checked = ok
    return _gpu_checked


# ----------------------------------------------------------------------------------------------
# Backend selection
# ----------------------------------------------------------------------------------------------
def use(backend: str) -> None:
    """Select the array backend: ``"numpy"`` (CPU) or ``"cupy"`` (NVIDIA GPU).

    Raises ``ValueError`` for an unknown name and ``RuntimeError`` (saying what to install) when
    ``"cupy"`` is asked for where CuPy or a usable CUDA device is missing.
    """
    global _selected
    if not isinstance(backend, str) or backend.lower() not in _BACKENDS:
        raise ValueError(f"backend must be one of {list(_BACKENDS)}, got {backend!r}")
    backend = backend.lower()
    if backend == "cupy":
        if _import_cupy() is None:
            raise RuntimeError(f"backend 'cupy' was requested but CuPy is not installed: {_INSTALL_HINT}")
        if not is_gpu_available():
            raise RuntimeError(
                "backend 'cupy' was requested but no usable CUDA device was found "
                f"(CuPy is installed, the CUDA runtime reports no device): {_INSTALL_HINT}"
            )
    _selected = backend


def _resolve() -> str:
    """Pick the backend from GPUNET_BACKEND the first time one is needed."""
    requested = os.environ.get("GPUNET_BACKEND", "auto").strip().lower() or "auto"
    if requested == "auto":
        use("cupy" if is_gpu_available() else "numpy")
    elif requested in _BACKENDS:
        try:
            use(requested)
        except RuntimeError as exc:
            raise RuntimeError(f"GPUNET_BACKEND={requested}: {exc}") from None
    else:
        raise ValueError(f"GPUNET_BACKEND must be one of numpy, cupy, auto; got {requested!r}")
    return _selected


def name() -> str:
    """The selected backend's name, ``"numpy"`` or ``"cupy"``."""
    return _selected or _resolve()


def array_module():
    """The module (``numpy`` or ``cupy``) of the selected backend, for making new arrays."""
    return _cupy if (_selected or _resolve()) == "cupy" else numpy


_wrapper_types: tuple = ()  # classes holding an array in ``.data`` (gpunet's Tensor registers itself)


def register_wrapper_type(cls) -> None:
    """Let the functions below look through instances of ``cls`` to their ``.data`` array."""
    global _wrapper_types
    _wrapper_types = (*_wrapper_types, cls)


def _unwrap(a):
    return a.data if isinstance(a, _wrapper_types) else a


def get_array_module(*arrays):
    """The module of the given arrays: ``cupy`` if any of them is a CuPy array, else ``numpy``.

    Tensors are looked through (their ``.data`` is used).
    """
    if _cupy is not None:
        ndarray = _cupy.ndarray
        for a in arrays:
            if isinstance(_unwrap(a), ndarray):
                return _cupy
    return numpy


# ----------------------------------------------------------------------------------------------
# Transfers
# ----------------------------------------------------------------------------------------------
def to_host(a):
    """Return ``a`` (array, Tensor or array-like) as a NumPy array on the host."""
    a = _unwrap(a)
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return a.get()
    return numpy.asarray(a)


def to_device(a, dtype=None):
    """Return ``a`` as an array of the selected backend (a no-op when it is already there); an
    array of strings stays a host array (see :func:`gpunet.backend.is_text`)."""
    a = _unwrap(a)
    if array_module() is numpy or (dtype is None and is_text(a)):
        if _cupy is not None and isinstance(a, _cupy.ndarray):
            a = a.get()
        return numpy.asarray(a, dtype=dtype)
    return _cupy.asarray(a, dtype=dtype)


def on_device_of(a, reference):
    """``a`` (array, Tensor or array-like) as an array on the device ``reference`` lives on: itself
    when it is there already, else a copy (host to device, or device to host)."""
    a = _unwrap(a)
    if _cupy is not None and isinstance(_unwrap(reference), _cupy.ndarray):
        return a if isinstance(a, _cupy.ndarray) else _cupy.asarray(a)
    return to_host(a)


def capturing() -> bool:
    """Whether CuPy's current stream is capturing a CUDA graph (never on the CPU)."""
    if _cupy is None or _selected != "cupy":
        return False
    from ..gpu.blas import capturing as stream_capturing  # noqa: PLC0415 - GPU only

    return stream_capturing(_cupy)


def all_finite(arrays) -> bool:
    """Whether every value of every array is finite: one reduction on the device, one host sync."""
    arrays = [a for a in (_unwrap(a) for a in arrays) if a.dtype.kind in "fc"]
    if not arrays:
        return True
    xp = get_array_module(*arrays)
    return bool(xp.stack([xp.isfinite(a).all() for a in arrays]).all())


def is_device_array(a) -> bool:
    """Whether ``a`` is a CuPy array (Tensors are looked through)."""
    return _cupy is not None and isinstance(_unwrap(a), _cupy.ndarray)


def cupy_module():
    """The CuPy module once gpunet has imported it (None before, and where CuPy is missing)."""
    return _cupy

