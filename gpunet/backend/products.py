"""Matrix products and the constants they use: one entry for every product of a step, which
on the GPU goes through gpunet's own cuBLAS handle (:mod:`gpunet.gpu.blas`)."""

from __future__ import annotations

import numpy

from . import device
from .device import capturing, get_array_module
from .threads import batch_chunks, host_threads, owning_threads, parallel

__all__ = ["matmul", "column_dots", "constant_vector"]

def matmul(a, b, out=None, *, split=False):
    """``a @ b`` with ``numpy.matmul``'s semantics, into ``out`` when given: the one entry for
    gpunet's matrix products.

    CuPy arrays go to :func:`gpunet.gpu.blas.matmul` (cuBLAS through gpunet's own handle, which a
    CUDA graph can capture; CuPy's own wrappers refuse during a capture). NumPy arrays go to
    NumPy: ``a @ b``, or ``numpy.matmul(a, b, out=out)``. With ``split`` (for 2-D operands, and
    only from a caller not itself running on gpunet's threads), a big product inside
    :class:`host_parallelism` is split over the host threads: by rows of ``a``, or by the inner
    dimension when ``a`` is short.
    """
    if not (type(a) is numpy.ndarray and type(b) is numpy.ndarray) and (device.is_device_array(a) or device.is_device_array(b)):
        return _gpu_blas().matmul(a, b, out=out)
    if out is not None:
        return numpy.matmul(a, b, out=out)
    if not split or not owning_threads() or not isinstance(a, numpy.ndarray) or a.shape[0] * a.shape[1] * b.shape[1] < (1 << 22):
        return a @ b
    threads = host_threads()
    rows, inner = a.shape
    if rows >= 4 * threads:  # split the rows: each thread writes its own block of the result
        out = numpy.empty((rows, b.shape[1]), numpy.result_type(a, b))
        chunks = batch_chunks(rows, out, force=True)

        def block(chunk):
            numpy.matmul(a[chunk], b, out=out[chunk])

        parallel(block, chunks)
        return out
    chunks = batch_chunks(inner, a, force=True)  # a short, wide a (x.T @ g): split the sum
    parts = [None] * len(chunks)

    def part(i):
        parts[i] = a[:, chunks[i]] @ b[chunks[i]]

    parallel(part, list(range(len(chunks))))
    total = parts[0]
    for p in parts[1:]:
        total += p
    return total


_constants: dict = {}


def constant_vector(kind: str, n: int, dtype, like):
    """``ones(n)`` or ``arange(n)`` (``kind``) of ``dtype`` on ``like``'s device, made once and kept
    for the life of the process; never to be written. Ops reuse these across steps instead of
    keeping their own per batch size: a CUDA graph captured from a step keeps reading the one it
    captured, which a per-op cache would free when a batch of another size comes along. ``n`` is
    a batch's size, so what is kept stays small: one vector per batch size seen, per dtype and
    device, none longer than the largest batch."""
    key = (kind, n, dtype, type(like), getattr(getattr(like, "device", None), "id", None))
    vector = _constants.get(key)
    if vector is None:
        xp = get_array_module(like)
        if capturing():
            raise RuntimeError(f"the constant {kind}({n}) must be made before a CUDA graph captures the step that uses it")
        vector = xp.ones(n, dtype) if kind == "ones" else xp.arange(n, dtype=dtype)
        if xp is numpy:
            vector.flags.writeable = False
        _constants[key] = vector
    return vector


def column_dots(a, b):
    """``(a * b).sum(axis=0)`` for two matrices of one shape: ``numpy.einsum("ij,ij->j", a, b)`` on
    the host (one pass, no temporary); on the GPU ``ones @ (a * b)`` through :func:`matmul`
    (CuPy's einsum would copy both operands into a batched product through CuPy's cuBLAS
    wrappers, which a CUDA graph cannot capture)."""
    if device.is_device_array(a):
        return matmul(constant_vector("ones", a.shape[0], a.dtype, a), a * b)
    return numpy.einsum("ij,ij->j", a, b)


_blas = None


def _gpu_blas():
    global _blas
    if _blas is None:
        from ..gpu import blas  # noqa: PLC0415 - GPU only

        _blas = blas
    return _blas
