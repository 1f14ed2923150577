"""Batches of arrays: in device memory (:class:`Batches`) or left on disk (:class:`DiskBatches`).

fit checks and converts in-memory data once, moves it to the backend's device once, and then
takes batches on the device: contiguous views when the order is sequential, a gather into one
reused buffer per batch shape when the epoch is shuffled.

Memory-mapped arrays (``numpy.load(path, mmap_mode="r")``, ``numpy.memmap``) stay on disk: each
batch's rows are copied to the device when the batch is trained on, in exactly the batches and
order of the in-memory path.
"""

from __future__ import annotations

import numpy

from .. import backend

__all__ = ["Batches", "DiskBatches"]


class Batches:
    """Batches of (x, y) arrays that already live on the backend's device.

    ``iterate(order)`` yields ``(x_batch, y_batch)``: views for ``order=None``, else gathers
    ``x[order[i:i + batch_size]]`` into a buffer reused from batch to batch (the batch is
    consumed, forward and backward, before the next one is taken).
    """

    def __init__(self, x, y, batch_size: int):
        self.x, self.y = x, y
        self.samples = int(x.shape[0])
        self.batch_size = min(batch_size, self.samples)  # buffers are sized by the data, never beyond
        self._buffers = None
        xp = backend.get_array_module(x)
        self._take = {"mode": "clip"} if xp is numpy else {}  # NumPy buffers take() otherwise

    def __len__(self) -> int:
        return -(-self.samples // self.batch_size)

    @property
    def steps(self) -> int:
        """Batches per epoch."""
        return len(self)

    def shuffled_order(self):
        """A fresh permutation of the samples from gpunet's seeded generator, on the data's device."""
        order = backend.host_generator().permutation(self.samples)
        return order if backend.name() == "numpy" else backend.to_device(order)

    def close(self) -> None:
        """Nothing to release (streams stop their workers here)."""

    def iterate(self, order=None):
        x, y, size = self.x, self.y, self.batch_size
        if order is None:
            for start in range(0, self.samples, size):
                yield x[start:start + size], (None if y is None else y[start:start + size])
            return
        xp = backend.get_array_module(x)
        if self._buffers is None:
            self._buffers = (
                xp.empty((size, *x.shape[1:]), dtype=x.dtype),
                None if y is None else xp.empty((size, *y.shape[1:]), dtype=y.dtype),
            )
        x_buf, y_buf = self._buffers
        for start in range(0, self.samples, size):
            index = order[start:start + size]
            n = index.shape[0]
            xb = x_buf[:n]
            xp.take(x, index, axis=0, out=xb, **self._take)
            yb = None
            if y is not None:
                yb = y_buf[:n]
                xp.take(y, index, axis=0, out=yb, **self._take)
            yield xb, yb


class DiskBatches:
    """Batches of host arrays left where they are (memory-mapped files), copied to the device one
    batch at a time as ``dtypes`` (features as the float dtype, labels as integers).

    The batches and their order are those of :class:`Batches` on the same data and order: a
    shuffled batch reads its rows in increasing file order (fewer seeks) and puts them back in
    the order's sequence, so training gives bit for bit the weights of the in-memory path.
    """

    def __init__(self, x, y, batch_size: int, dtypes):
        self.x, self.y = x, y
        self.dtypes = dtypes
        self.samples = int(x.shape[0])
        self.batch_size = min(batch_size, self.samples)

    def __len__(self) -> int:
        return -(-self.samples // self.batch_size)

    steps = Batches.steps
    close = Batches.close

    def shuffled_order(self):
        """A fresh permutation of the samples from gpunet's seeded generator, on the host."""
        return backend.host_generator().permutation(self.samples)

    @staticmethod
    def _rows(a, index, sorting, dtype):
        out = numpy.empty((index.shape[0], *a.shape[1:]), dtype=dtype)
        out[sorting] = a[index[sorting]]
        return out

    def iterate(self, order=None):
        x, y, size = self.x, self.y, self.batch_size
        x_dtype, y_dtype = self.dtypes
        for start in range(0, self.samples, size):
            if order is None:
                xb = numpy.asarray(x[start:start + size], dtype=x_dtype)
                yb = None if y is None else numpy.asarray(y[start:start + size], dtype=y_dtype)
            else:
                index = order[start:start + size]
                sorting = numpy.argsort(index, kind="stable")
                xb = self._rows(x, index, sorting, x_dtype)
                yb = None if y is None else self._rows(y, index, sorting, y_dtype)
            yield backend.to_device(xb), (None if yb is None else backend.to_device(yb))
