"""The one way a GPU kernel is chosen over its NumPy twin.

Every computation that has a CUDA kernel also has a *twin*: the same computation written as
array operations, which is what the CPU runs and what the kernel is tested against. A
:class:`Fused` holds the pair and calls the kernel for device (CuPy) arrays and the twin for host
(NumPy) arrays, deciding on its first argument; the code that calls it never branches on the
device. The ops' kernels (:mod:`gpunet.gpu.kernels`) and the noise stream
(:mod:`gpunet.gpu.philox`) are chosen this way; an optimizer's ``_update_gpu`` and its twin
``_update_numpy`` are chosen by the same rule, written out in ``Optimizer.apply_gradients``
(once per weight per step, where a call more costs a measurable share of a small model's step).

This package sits below :mod:`gpunet.backend` and imports nothing else of gpunet: it tells a
device array from a host one by its type, and finds a device array's module (CuPy) from it.
"""

from __future__ import annotations

import sys

import numpy

__all__ = ["Fused", "array_module"]


def array_module(a):
    """``numpy`` for a host array (or scalar); for a device array, its own module (``cupy``)."""
    if isinstance(a, (numpy.ndarray, numpy.generic)) or not hasattr(a, "shape"):
        return numpy
    return sys.modules[type(a).__module__.split(".")[0]]


class Fused:
    """A computation with a GPU kernel (``kernel``) and its NumPy twin (``twin``), both called
    with the same arguments: the kernel when the first argument is a device array (it has
    ``__cuda_array_interface__``, as CuPy's arrays do), the twin for anything on the host (NumPy
    arrays and scalars)."""

    def __init__(self, kernel, twin):
        self.kernel, self.twin = kernel, twin

    def __call__(self, first, *args, **kwargs):  # for_array's rule, written out: one call less per use
        if isinstance(first, (numpy.ndarray, numpy.generic)) or not hasattr(first, "__cuda_array_interface__"):
            return self.twin(first, *args, **kwargs)
        return self.kernel(first, *args, **kwargs)

    def for_array(self, first):
        """The side that a call with ``first`` as its first argument runs: for a loop that calls
        the pair many times on one device's arrays, chosen once."""
        if isinstance(first, (numpy.ndarray, numpy.generic)) or not hasattr(first, "__cuda_array_interface__"):
            return self.twin  # host data: arrays, NumPy's scalars, Python's numbers
        return self.kernel

    def __repr__(self):
        return f"Fused({getattr(self.kernel, '__name__', self.kernel)!s}, {getattr(self.twin, '__name__', self.twin)!s})"
