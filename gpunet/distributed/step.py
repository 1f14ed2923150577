"""The data-parallel train step: the inner step's gradients, summed over the ranks in buckets."""

from __future__ import annotations

import time

from ..data.structure import batch_count
from ..training.step import TrainStepWrapper, step_gradients
from .buckets import GradientBuckets

__all__ = ["DataParallelStep"]


class DataParallelStep(TrainStepWrapper):
    """Wraps a :class:`~gpunet.training.TrainStep`: this rank's gradients on its slice of the
    global batch go into buckets as the backward pass finalises them (a recorded step reports
    each one through :attr:`Tape.ready <gpunet.autograd.Tape.ready>`; an eager step hands them
    over at its end), the buckets are summed over the ranks, and every rank applies the same
    averaged gradients. A rank with an empty slice (the last batch smaller than the world)
    contributes zeros and a count of 0.

    ``reduce_seconds`` adds up the time a step waits for the all-reduce after its backward pass
    (what the overlap did not hide), for the benchmarks."""

    def __init__(self, inner, parallel):
        super().__init__(inner)
        self.parallel = parallel
        self.buckets = None
        self._ids = None
        self.reduce_seconds = 0.0
        self.steps = 0

    def _buckets_for(self, params) -> GradientBuckets:
        ids = [id(p) for p in params]
        if ids != self._ids:
            self.buckets = GradientBuckets(self.parallel.communicator, params, self.parallel.bucket_bytes,
                                           self.parallel.overlap)
            self._ids = ids
        return self.buckets

    def gradients(self, x, y, sample_weight=None) -> list:
        inner = self.inner
        params = inner.model.trainable_weights
        count = batch_count(x)
        if not params:  # nothing to train anywhere: no collective either
            return step_gradients(inner, x, y, sample_weight) if count else []
        buckets = self._buckets_for(params)
        buckets.begin(count)
        grads = None
        if count:
            if inner.tape is not None:
                inner.tape.ready = buckets.ready if self.parallel.overlap else None
            grads = step_gradients(inner, x, y, sample_weight)
        start = time.perf_counter()
        reduced = buckets.finish(grads)
        self.reduce_seconds += time.perf_counter() - start
        self.steps += 1
        for p, g in zip(params, reduced):
            p.grad = g
        return reduced

    def report_logs(self) -> dict:
        """The loss and metrics since the epoch began, over every rank's samples; the
        non-trainable weights (moving statistics) are averaged over the ranks first, so that
        every rank evaluates and saves the same model."""
        self.parallel.average_non_trainable(self.inner.model)
        return {m.name: m.result() for m in self.parallel.reduce_metrics(self.inner.trackers)}
