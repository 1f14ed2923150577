"""Each rank's part of every global batch.

``fit(batch_size=B)`` takes B as the *global* batch, as Keras does under a distribution strategy:
every rank draws the same permutation (the same seeded host generator), cuts it into the batches
one process would train on, and takes its contiguous slice of each, the last, smaller batch
included. Rank ``r`` of ``W`` gets ``n // W`` samples of a batch of ``n``, plus one when
``r < n % W``, so the slices differ by at most one sample and cover the batch exactly once.
"""

from __future__ import annotations

import numpy

from ..data import Batches
from ..data.structure import batch_count, slice_nest

__all__ = ["shard_bounds", "ShardedBatches"]


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s slice of a batch of ``n`` samples split over ``world``
    ranks: contiguous, in rank order, sizes ``n // world`` or one more (the first ``n % world``)."""
    for name, value in (("n", n), ("rank", rank), ("world", world)):
        if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
            raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if world < 1:
        raise ValueError(f"world must be >= 1, got {world}")
    if not 0 <= rank < world:
        raise ValueError(f"rank must lie in [0, {world}), got {rank}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    base, extra = divmod(int(n), int(world))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class ShardedBatches:
    """The batches of ``batches`` (fit's :class:`~gpunet.data.Batches`, ``DiskBatches`` or a
    stream), each cut down to this rank's slice.

    In-memory arrays gather only this rank's rows. Other sources produce the whole global batch
    and the slice is taken from it (every rank reads the stream). With ``skip_empty`` (dev
    evaluation) a rank whose slice is empty skips that batch; in training every rank takes every
    step, an empty slice included, so that the collectives of each step pair up.

    ``position`` counts the batches handed out by the current (or last) pass and ``active`` says
    whether a pass is under way: where this rank stands, for the collective watchdog's message."""

    def __init__(self, batches, rank: int, world: int, skip_empty: bool = False):
        self.batches = batches
        self.rank, self.world = rank, world
        self.skip_empty = skip_empty
        self._buffers = None
        self.position = 0
        self.active = False

    def __getattr__(self, name):  # steps, shuffled_order, close, resumes_exactly... are the source's
        return getattr(self.batches, name)

    def __len__(self) -> int:
        return len(self.batches)

    def iterate(self, order=None):
        source = self.batches
        if isinstance(source, Batches):
            parts = self._gather(source, order)
        else:
            parts = self._slice(source.iterate(order))
        self.position, self.active = 0, True
        try:
            for batch in parts:
                if self.skip_empty and batch_count(batch[0]) == 0:
                    continue
                self.position += 1
                yield batch
        finally:
            self.active = False

    def _slice(self, batches):
        for batch in batches:
            start, stop = shard_bounds(batch_count(batch[0]), self.rank, self.world)
            yield slice_nest(batch, start, stop)

    def _gather(self, source, order):
        size = source.batch_size
        for begin in range(0, source.samples, size):
            n = min(size, source.samples - begin)
            start, stop = shard_bounds(n, self.rank, self.world)
            if order is not None and self._buffers is None:
                self._buffers = source.buffers(-(-size // self.world))
            yield source.rows(begin + start, begin + stop, order, self._buffers)
