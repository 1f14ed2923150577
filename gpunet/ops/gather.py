"""Gathering slices of a table by integer ids (``take`` along an axis, an embedding lookup).

The forward is ``xp.take(table, ids, axis)``. The backward is a scatter-add: every gathered slice's
gradient is added back to the slice of the table it came from, ids that repeat adding up. Two
ways of doing it, chosen by :class:`gpunet.gpu.fused.Fused` on where the gradient lives:

- on the host, the gradient rows are sorted by id and each run of equal ids summed with one
  ``add.reduceat``; the sums are then written to distinct rows. This is several times faster on
  NumPy than ``numpy.add.at`` for an embedding's tables (thousands of rows of tens of features);
- on a GPU, ``xp.add.at`` (CuPy's atomic adds): one kernel whose work and output size do not
  depend on the data, so it needs no host synchronization and a CUDA graph can capture it.

Both are written on ``xp`` and give the same sums (the tests compare them on NumPy).
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module
from ..gpu.fused import Fused

__all__ = ["Gather", "gather", "scatter_add_rows"]


def _scatter_atomic(values, ids, rows):
    """``out[ids[k]] += values[k]`` for a (rows, ...) ``out`` by the backend's ``add.at``."""
    xp = get_array_module(values)
    out = xp.zeros((rows, *values.shape[1:]), dtype=values.dtype)
    xp.add.at(out, ids, values)
    return out


def _scatter_sorted(values, ids, rows):
    """``out[ids[k]] += values[k]`` by sorting the ids and summing each run of equal ids."""
    xp = get_array_module(values)
    out = xp.zeros((rows, *values.shape[1:]), dtype=values.dtype)
    if ids.shape[0] == 0:
        return out
    order = xp.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = xp.flatnonzero(xp.concatenate([xp.ones(1, dtype=bool), sorted_ids[1:] != sorted_ids[:-1]]))
    out[sorted_ids[starts]] = xp.add.reduceat(values[order], starts, axis=0)
    return out


scatter_add_rows = Fused(_scatter_atomic, _scatter_sorted)
scatter_add_rows.__doc__ = """``scatter_add_rows(values, ids, rows)``: a (rows, ...) array of zeros with
each ``values[k]`` added at row ``ids[k]`` (ids in ``[0, rows)``, repeated ids adding up)."""


class Gather(Function):
    """``xp.take(table, ids, axis)``; the gradient goes to the table only (ids are keys: an input,
    so that a recorded graph reads each step's ids, but with no gradient). Backward keeps the
    ids and the table's shape, not the table."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, table, ids):
        xp = get_array_module(table)
        self.axis_ = self.axis % table.ndim
        self.shape = table.shape
        if self.needs_input_grad[0]:
            rows = table.shape[self.axis_]
            self.ids = ids % rows if ids.size and ids.dtype.kind == "i" else ids  # negative ids count from the end
        return xp.take(table, ids, axis=self.axis_)

    def backward(self, gy):
        if not self.needs_input_grad[0]:
            return None, None
        xp = get_array_module(gy)
        axis, rows, depth = self.axis_, self.shape[self.axis_], self.ids.ndim
        # gy is table.shape[:axis] + ids.shape + table.shape[axis+1:]: the ids' axes to the front
        order = [*range(axis, axis + depth), *range(axis), *range(axis + depth, gy.ndim)]
        moved = xp.ascontiguousarray(gy.transpose(order)).reshape(self.ids.size, -1)
        table_grad = scatter_add_rows(moved, self.ids.reshape(-1), rows)
        rest = [n for k, n in enumerate(self.shape) if k != axis]
        table_grad = xp.moveaxis(table_grad.reshape(rows, *rest), 0, axis)
        return table_grad, None


def gather(table, ids, axis: int = 0):
    """The slices of ``table`` along ``axis`` at the integer ``ids`` (any shape): the result's shape
    is ``table.shape[:axis] + ids.shape + table.shape[axis + 1:]``. Differentiable in ``table``
    (a scatter-add), not in ``ids``."""
    return Gather(axis)(table, ids)
