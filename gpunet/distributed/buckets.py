"""Gradients flattened into buckets and summed over the ranks while the backward pass runs.

One all-reduce per parameter would pay the network's latency dozens of times per step; one for
all of them would wait for the whole backward pass. As PyTorch's DDP does, the parameters are
grouped, last layer first, into buckets of about ``bucket_bytes``; the backward pass reports each
parameter's gradient as soon as it is final (the last layers' first), the gradient is copied into
its bucket, and a full bucket's all-reduce starts at once, non-blocking, while the earlier layers'
gradients are still being computed. Buckets are launched in plan order on every rank (MPI and NCCL
need the same collectives in the same order everywhere).

The weighting that makes N ranks equal one process: rank ``r`` holds the mean gradient ``g_r`` of
its ``n_r`` samples; it contributes ``n_r * g_r`` and its ``n_r`` (one extra element of the first
bucket), and after the sum every rank divides by ``N = sum n_r``:
``g = sum_r n_r g_r / N``, the mean gradient of the whole global batch.
"""

from __future__ import annotations

import numpy

from .. import backend

__all__ = ["GradientBuckets", "plan_buckets"]

DEFAULT_BUCKET_BYTES = 4 << 20


def plan_buckets(shapes, dtypes, bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> list:
    """Group parameters into buckets: lists of parameter indices, the last parameter first, a new
    bucket when the dtype changes or the next parameter would take it past ``bucket_bytes`` (a
    parameter larger than that gets a bucket of its own)."""
    if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, int) or bucket_bytes < 1:
        raise ValueError(f"bucket_bytes must be a positive integer, got {bucket_bytes!r}")
    buckets, current, current_bytes, current_dtype = [], [], 0, None
    for i in reversed(range(len(shapes))):
        dtype = numpy.dtype(dtypes[i])
        size = int(numpy.prod(shapes[i], dtype=numpy.int64)) * dtype.itemsize
        if current and (dtype != current_dtype or current_bytes + size > bucket_bytes):
            buckets.append(current)
            current, current_bytes = [], 0
        current.append(i)
        current_bytes += size
        current_dtype = dtype
    if current:
        buckets.append(current)
    return buckets


class _Bucket:
    def __init__(self, members, shapes, dtype, xp, extra: int):
        self.members = members
        self.offsets = {}
        total = 0
        for i in members:
            size = int(numpy.prod(shapes[i], dtype=numpy.int64))
            self.offsets[i] = (total, total + size)
            total += size
        self.size = total
        self.buffer = xp.empty(total + extra, dtype=dtype)
        self.views = {i: self.buffer[a:b].reshape(shapes[i]) for i, (a, b) in self.offsets.items()}
        self.remaining = 0
        self.pending = None


class GradientBuckets:
    """The buckets of one list of parameters, reused step after step.

    Per step: :meth:`begin` with this rank's sample count, :meth:`ready` for each parameter as its
    gradient becomes final (any order; the backward pass's hook), then :meth:`finish`, which
    fills in what was not reported, waits for every bucket and returns the averaged gradients (views
    into the buckets, valid until the next step). ``overlap=False`` starts every all-reduce only
    in :meth:`finish` (to measure what the overlap buys)."""

    def __init__(self, communicator, params, bucket_bytes: int = DEFAULT_BUCKET_BYTES, overlap: bool = True):
        self.communicator = communicator
        self.overlap = overlap
        shapes = [tuple(p.shape) for p in params]
        dtypes = [p.data.dtype for p in params]
        xp = backend.get_array_module(*[p.data for p in params]) if params else numpy
        plan = plan_buckets(shapes, dtypes, bucket_bytes)
        self.count_in_bucket = bool(plan) and numpy.dtype(dtypes[plan[0][0]]).kind == "f" and \
            numpy.dtype(dtypes[plan[0][0]]).itemsize >= 4  # counts stay exact in float32 up to 2**24
        self.buckets = [_Bucket(members, shapes, dtypes[members[0]], xp,
                                1 if (k == 0 and self.count_in_bucket) else 0) for k, members in enumerate(plan)]
        self.where = {i: bucket for bucket in self.buckets for i in bucket.members}
        self.count_array = None if self.count_in_bucket else numpy.zeros(1, numpy.float64)
        self.absent: set = set()  # parameters without a gradient at the last step that had data
        self._reported = [False] * len(params)
        self._next = 0
        self._count = 0

    def __len__(self) -> int:
        return len(self.buckets)

    def begin(self, count: int) -> None:
        self._count = count
        self._reported = [False] * len(self._reported)
        self._next = 0
        for bucket in self.buckets:
            bucket.remaining = len(bucket.members)
            bucket.pending = None

    def ready(self, i: int, grad) -> None:
        """The gradient of parameter ``i`` is final: copy it (times this rank's count) into its
        bucket, and start the all-reduce of every bucket that is now complete, in plan order."""
        if self._reported[i]:
            return
        self._reported[i] = True
        bucket = self.where[i]
        view = bucket.views[i]
        if grad is None:
            view[...] = 0
        else:
            backend.get_array_module(view).multiply(grad, self._count, out=view)
        bucket.remaining -= 1
        if self.overlap:
            self._launch_complete()
        self.communicator.progress()

    def _launch_complete(self) -> None:
        buckets = self.buckets
        while self._next < len(buckets) and buckets[self._next].remaining == 0:
            bucket = buckets[self._next]
            if self._next == 0 and self.count_in_bucket:
                bucket.buffer[-1] = self._count
            bucket.pending = self.communicator.allreduce_async(bucket.buffer)
            self._next += 1

    def finish(self, grads) -> list:
        """Every bucket reduced and divided by the global count; returns one gradient per
        parameter (None where no rank had one)."""
        if grads is not None:
            self.absent = {i for i, g in enumerate(grads) if g is None}
        for i, reported in enumerate(self._reported):
            if not reported:
                self.ready(i, None if grads is None else grads[i])
        self._launch_complete()
        if not self.count_in_bucket:
            self.count_array[0] = self._count
            self.communicator.allreduce_async(self.count_array).wait()  # in order, after the buckets
        for bucket in self.buckets:
            bucket.pending.wait()
        # N stays on the device (no host sync); every bucket divides by it
        total = self.buckets[0].buffer[-1:] if self.count_in_bucket else None
        for bucket in self.buckets:
            values = bucket.buffer[:bucket.size]
            if total is not None:
                values /= total.astype(values.dtype, copy=False)
            else:
                values /= values.dtype.type(self.count_array[0])
        return [None if i in self.absent else self.where[i].views[i] for i in range(len(self._reported))]
