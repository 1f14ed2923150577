"""The one way a GPU kernel is chosen over its NumPy twin.

Every computation that has a CUDA kernel also has a *twin*: the same computation written as
array operations, which is what the CPU runs and what the kernel is tested against. A
:class:`Fused` holds the pair and calls the kernel for device (CuPy) arrays and the twin for host
(NumPy) arrays, deciding on its first argument; the code that calls it never branches on the
device. The ops' kernels (:mod:`gpunet.gpu.kernels`), the noise stream (:mod:`gpunet.gpu.philox`)
and every optimizer's update (``Optimizer._update``) are chosen this way.

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
    with the same arguments; the kernel runs when the deciding argument is a device array.

    The deciding argument is the first one, or ``on(*args)`` when given. Set on a class, a
    ``Fused`` is a method: its functions take the instance first (``on`` then picks among
    ``self, *args``), so a subclass's ``kernel`` and ``twin`` methods are the ones called when
    the functions forward to them.
    """

    def __init__(self, kernel, twin, on=None):
        self.kernel, self.twin, self.on = kernel, twin, on

    def __call__(self, *args, **kwargs):
        decider = args[0] if self.on is None else self.on(*args)
        if isinstance(decider, numpy.ndarray):
            return self.twin(*args, **kwargs)
        return self.kernel(*args, **kwargs)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return _Bound(self, instance)

    def __repr__(self):
        return f"Fused({getattr(self.kernel, '__name__', self.kernel)!s}, {getattr(self.twin, '__name__', self.twin)!s})"


class _Bound:
    """A :class:`Fused` method of one instance."""

    __slots__ = ("fused", "instance")

    def __init__(self, fused, instance):
        self.fused, self.instance = fused, instance

    def __call__(self, *args, **kwargs):
        return self.fused(self.instance, *args, **kwargs)
