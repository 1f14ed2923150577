"""Batches of arrays: in device memory (:class:`Batches`) or left on disk (:class:`DiskBatches`).

Each batch is a triple ``(x, y, sample_weight)`` in the structure of the data (arrays, or lists,
tuples and dicts of arrays). fit checks and converts in-memory data once, moves it to the backend's device once, and then
takes batches on the device: contiguous views when the order is sequential, a gather into one
reused buffer per batch shape when the epoch is shuffled.

Memory-mapped arrays (``numpy.load(path, mmap_mode="r")``, ``numpy.memmap``) stay on disk: each
batch's rows are copied to the device when the batch is trained on, in exactly the batches and
order of the in-memory path.
"""

from __future__ import annotations

import numpy

from .. import backend, tree

__all__ = ["Batches", "DiskBatches"]


class Batches:
    """Batches of ``(x, y, sample_weight)`` whose arrays already live on the backend's device;
    each part may be a nest of arrays (:mod:`gpunet.tree`), ``y`` and ``sample_weight`` None.

    ``iterate(order)`` yields ``(x_batch, y_batch, weight_batch)`` in the data's structure: views
    for ``order=None``, else gathers ``a[order[i:i + batch_size]]`` for every array ``a`` into a
    buffer reused from batch to batch (the batch is consumed, forward and backward, before the
    next one is taken).
    """

    def __init__(self, x, y, batch_size: int, sample_weight=None):
        self.structure = (x, y, sample_weight)
        self.arrays = tree.flatten(self.structure)  # None where y or the weights are absent
        self.plain = len(self.arrays) == 3  # three plain arrays (or None): no packing needed
        self._modules = [None if a is None else backend.get_array_module(a) for a in self.arrays]
        first = next(a for a in self.arrays if a is not None)
        self.samples = int(first.shape[0])
        self.batch_size = min(batch_size, self.samples)  # buffers are sized by the data, never beyond
        self._buffers = None

    @property
    def x(self):
        return self.structure[0]

    @property
    def y(self):
        return self.structure[1]

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

    def rows(self, start: int, stop: int, order=None, buffers=None):
        """Rows ``start:stop`` (of ``order`` when given) of every array, packed as the data are:
        views without an order, else gathered into ``buffers`` (one per array, at least
        ``stop - start`` rows)."""
        if order is None:
            parts = [None if a is None else a[start:stop] for a in self.arrays]
        else:
            index = order[start:stop]
            n = index.shape[0]
            host_index = self._host_index(index)
            parts = [None if a is None else _take(xp, a, index, host_index, buffer[:n])
                     for a, buffer, xp in zip(self.arrays, buffers, self._modules)]
        return tuple(parts) if self.plain else tree.pack_sequence_as(self.structure, parts)

    def _host_index(self, index):
        """``index`` on the host where some array lives there (host strings beside device arrays),
        else None: no device-to-host copy per batch when every array is on the device."""
        if isinstance(index, numpy.ndarray):
            return index
        return backend.to_host(index) if numpy in self._modules else None

    def buffers(self, rows: int) -> list:
        """One gather buffer of ``rows`` rows per array."""
        return [None if a is None else backend.get_array_module(a).empty((rows, *a.shape[1:]), dtype=a.dtype)
                for a in self.arrays]

    def iterate(self, order=None):
        size = self.batch_size
        if order is not None and self._buffers is None:
            self._buffers = self.buffers(size)
        modules = {xp for xp in self._modules if xp is not None}
        if order is None or not self.plain or len(modules) > 1:
            for start in range(0, self.samples, size):
                yield self.rows(start, start + size, order, self._buffers)
            return
        # three plain arrays on one device (the common case): rows()'s gathers, written out
        (x, y, weights), (x_buffer, y_buffer, w_buffer) = self.arrays, self._buffers
        xp = modules.pop()
        if xp is numpy:  # NumPy's take, with a host index and mode="clip" (NumPy buffers otherwise)
            host_order = backend.to_host(order)
            for start in range(0, self.samples, size):
                index = host_order[start:start + size]
                n = index.shape[0]
                yield (numpy.take(x, index, axis=0, out=x_buffer[:n], mode="clip"),
                       None if y is None else numpy.take(y, index, axis=0, out=y_buffer[:n], mode="clip"),
                       None if weights is None else numpy.take(weights, index, axis=0, out=w_buffer[:n], mode="clip"))
            return
        for start in range(0, self.samples, size):
            index = order[start:start + size]
            n = index.shape[0]
            yield (xp.take(x, index, axis=0, out=x_buffer[:n]),
                   None if y is None else xp.take(y, index, axis=0, out=y_buffer[:n]),
                   None if weights is None else xp.take(weights, index, axis=0, out=w_buffer[:n]))


def _take(xp, a, index, host_index, out):
    """Rows ``index`` of ``a`` into ``out``: NumPy arrays (host strings included) with the host index
    (``mode="clip"``: NumPy buffers the result otherwise), device arrays with the device one."""
    if xp is numpy:
        return numpy.take(a, host_index, axis=0, out=out, mode="clip")
    return xp.take(a, index, axis=0, out=out)


class DiskBatches:
    """Batches of host arrays left where they are (memory-mapped files), copied to the device one
    batch at a time, each array as ``dtypes`` says (one dtype per array of the data, in
    :func:`gpunet.tree.flatten` order of ``(x, y, sample_weight)``).

    The batches and their order are those of :class:`Batches` on the same data and order: a
    shuffled batch reads its rows in increasing file order (fewer seeks) and puts them back in
    the order's sequence, so training gives bit for bit the weights of the in-memory path.
    """

    def __init__(self, x, y, batch_size: int, dtypes, sample_weight=None):
        self.structure = (x, y, sample_weight)
        self.arrays = tree.flatten(self.structure)
        self.dtypes = list(dtypes)
        first = next(a for a in self.arrays if a is not None)
        self.samples = int(first.shape[0])
        self.batch_size = min(batch_size, self.samples)

    x = Batches.x
    y = Batches.y

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
        size = self.batch_size
        for start in range(0, self.samples, size):
            parts = []
            if order is not None:
                index = order[start:start + size]
                sorting = numpy.argsort(index, kind="stable")
            for a, dtype in zip(self.arrays, self.dtypes):
                if a is None:
                    parts.append(None)
                elif order is None:
                    parts.append(backend.to_device(numpy.asarray(a[start:start + size], dtype=dtype)))
                else:
                    parts.append(backend.to_device(self._rows(a, index, sorting, dtype)))
            yield tree.pack_sequence_as(self.structure, parts)
