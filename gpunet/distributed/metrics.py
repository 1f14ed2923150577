"""Loss and metrics over every rank: sum the running sums and counts, never the means.

A metric's accumulators are the attributes its ``reset()`` sets to zero (``total`` and ``count``;
true and false positives; AUC's per-threshold counts): every gpunet metric is a sum over samples,
so the sum of each accumulator over the ranks is exactly what one process would have accumulated
over the whole data, and ``result()`` of that sum is the global value (a mean of the ranks' means
would weigh a rank with fewer samples too much).
"""

from __future__ import annotations

import copy
import numbers

import numpy

from .. import backend

__all__ = ["accumulators", "reduce_metrics"]


def accumulators(metric) -> list:
    """Names of the attributes that ``metric.reset()`` sets to zero, in a stable order."""
    fresh = copy.deepcopy(metric)  # reset() zeroes device totals in place: never on the metric itself
    fresh.reset()
    return sorted(name for name, value in vars(fresh).items() if _zero(value))


def _zero(value) -> bool:
    """A number or array that reset() left at zero (a device total is zeroed in place, not replaced)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Number):
        return value == 0
    if hasattr(value, "dtype") and hasattr(value, "shape") and value.dtype.kind in "fiu":
        return not bool((value != 0).any())
    return False


def _host(value) -> numpy.ndarray:
    return numpy.asarray(backend.to_host(value), dtype=numpy.float64)


def reduce_metrics(communicator, metrics) -> list:
    """Copies of ``metrics`` whose accumulators are summed over the ranks (one all-gather of the
    shapes, one all-reduce of every value)."""
    names = [accumulators(m) for m in metrics]
    values = [[_host(getattr(m, name)) for name in keys] for m, keys in zip(metrics, names)]
    shapes = [[v.shape for v in row] for row in values]
    if communicator.size > 1:  # a rank that saw no sample still holds the scalar 0 where others hold arrays
        every = communicator.allgather_object(shapes)
        shapes = [[max((rank[i][j] for rank in every), key=len) for j in range(len(row))] for i, row in enumerate(shapes)]
    flat = numpy.concatenate([numpy.broadcast_to(v, shape).ravel() for row, srow in zip(values, shapes)
                              for v, shape in zip(row, srow)] or [numpy.zeros(0)])
    communicator.allreduce(flat)
    reduced, at = [], 0
    for metric, keys, srow in zip(metrics, names, shapes):
        clone = copy.copy(metric)
        for name, shape in zip(keys, srow):
            size = int(numpy.prod(shape, dtype=numpy.int64))
            part = flat[at:at + size].reshape(shape)
            at += size
            setattr(clone, name, float(part) if not shape else part)
        if isinstance(getattr(clone, "count", None), float):
            clone.count = int(round(clone.count))
        reduced.append(clone)
    return reduced
