"""Gradient buckets and the data-parallel step, in one process with fake communicators."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gpunet
from gpunet.distributed.buckets import GradientBuckets, plan_buckets
from gpunet.distributed.communicator import Communicator, Pending
from gpunet.distributed.metrics import accumulators, reduce_metrics
from gpunet.distributed.strategy import DataParallel
from gpunet.layers import Dense, Input
from gpunet.training import TrainStep


class _Param:
    def __init__(self, shape, dtype=np.float64):
        self.data = np.zeros(shape, dtype)
        self.shape = shape


def test_buckets_hold_the_last_parameters_first_and_split_by_size_and_dtype():
    shapes = [(100, 50), (50,), (50, 10), (10,)]  # a kernel, its bias, a kernel, its bias (float32: 4 bytes)
    assert plan_buckets(shapes, ["float32"] * 4, bucket_bytes=4096) == [[3, 2, 1], [0]]
    assert plan_buckets(shapes, ["float32"] * 4, bucket_bytes=1 << 30) == [[3, 2, 1, 0]]
    assert plan_buckets(shapes, ["float32"] * 4, bucket_bytes=1) == [[3], [2], [1], [0]]  # each alone
    assert plan_buckets(shapes, ["float32", "float32", "float64", "float64"], bucket_bytes=1 << 30) == [[3, 2], [1, 0]]
    with pytest.raises(ValueError, match="bucket_bytes"):
        plan_buckets(shapes, ["float32"] * 4, bucket_bytes=0)


class _Pair(Communicator):
    """Two ranks, each a thread of this process: an all-reduce sums the two ranks' arrays of the
    same call (calls pair up by their order, as MPI's do)."""

    size = 2

    def __init__(self, rank, shared):
        self.rank = rank
        self.shared = shared  # {"barrier": Barrier(2), "calls": {(kind, index): [array, array]}}
        self.calls = 0
        self.launched = []

    def allreduce_async(self, array):
        index = self.calls
        self.calls += 1
        self.launched.append(array.size)
        self.shared["calls"].setdefault(index, [None, None])[self.rank] = array

        def finish():
            self.shared["barrier"].wait()
            both = self.shared["calls"][index]
            total = both[0] + both[1]
            self.shared["barrier"].wait()
            array[...] = total

        return Pending(finish=finish)

    def allreduce(self, array):
        self.allreduce_async(array).wait()


def _run_ranks(work):
    shared = {"barrier": threading.Barrier(2), "calls": {}}
    results, errors = [None, None], []

    def target(rank):
        try:
            results[rank] = work(rank, _Pair(rank, shared))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
            shared["barrier"].abort()

    threads = [threading.Thread(target=target, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors
    return results


@pytest.mark.parametrize("counts", [(3, 2), (5, 0), (1, 1)])
@pytest.mark.parametrize("overlap", [True, False])
def test_the_ranks_gradients_are_weighted_by_their_share_of_the_global_batch(counts, overlap, rng):
    shapes = [(6, 4), (4,), (4, 3), (3,)]
    grads = [[rng.normal(size=s) for s in shapes] for _ in range(2)]
    params = [_Param(s) for s in shapes]

    def work(rank, comm):
        buckets = GradientBuckets(comm, params, bucket_bytes=100, overlap=overlap)
        buckets.begin(counts[rank])
        mine = grads[rank] if counts[rank] else None
        if mine is not None:
            for i in (3, 2, 0, 1):  # reported out of plan order: launches still follow the plan
                buckets.ready(i, mine[i])
        out = [g.copy() for g in buckets.finish(mine)]
        return out, comm.launched

    (out0, launched0), (out1, launched1) = _run_ranks(work)
    total = sum(counts)
    for i in range(len(shapes)):
        expected = sum(n * g[i] for n, g in zip(counts, grads) if n) / total
        np.testing.assert_allclose(out0[i], expected, rtol=1e-14, atol=1e-15)
        np.testing.assert_array_equal(out0[i], out1[i])  # every rank applies the same update
    assert launched0 == launched1 and len(launched0) == len(plan_buckets(shapes, ["float64"] * 4, 100))


def test_metric_sums_and_counts_are_reduced_not_their_means():
    def work(rank, comm):
        loss = gpunet.metrics.Mean(name="loss")
        accuracy = gpunet.metrics.get("accuracy", gpunet.losses.get("sparse_categorical_crossentropy"))
        if rank == 0:  # 3 samples with mean loss 1, 3 right of 3
            loss.update_value(1.0, 3)
            accuracy.update(np.eye(3), np.arange(3), False)
        else:  # 1 sample with loss 5, wrong
            loss.update_value(5.0, 1)
            accuracy.update(np.eye(3)[:1], np.array([2]), False)
        reduced = reduce_metrics(comm, [loss, accuracy])
        return [m.result() for m in reduced], loss.result()

    (global0, local0), (global1, _) = _run_ranks(work)
    assert global0 == global1 == [pytest.approx((3 * 1.0 + 5.0) / 4), pytest.approx(3 / 4)]
    assert local0 == 1.0  # the rank's own running value keeps accumulating untouched
    assert accumulators(gpunet.metrics.Mean()) == ["count", "total"]


class _Mirror(Communicator):
    """Rank 0 of two whose partner holds exactly the same arrays; logs what happens when."""

    size = 2

    def __init__(self, log):
        self.log = log

    def allreduce_async(self, array):
        self.log.append(("launch", array.size))
        array *= 2
        return Pending()

    def allreduce(self, array):
        array *= 2


def _model():
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([Input((5,)), Dense(7, activation="tanh"), Dense(6, activation="tanh"), Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("overlap", [True, False])
def test_buckets_start_during_the_backward_pass_of_a_recorded_step(overlap, rng):
    log = []
    model = _model()
    parallel = DataParallel(_Mirror(log), bucket_bytes=128, overlap=overlap)
    step = parallel.wrap(TrainStep(model))
    x, y = gpunet.backend.to_device(rng.normal(size=(8, 5))), gpunet.backend.to_device(rng.normal(size=(8, 3)))
    step(x, y)  # the first step records the tape (no hook yet)
    reference = [g.copy() for g in TrainStep(model).gradients(x, y)]
    tape = step.inner.tape
    assert tape is not None
    reported = []
    hook = step.buckets.ready

    def spy(i, grad):
        reported.append(i)
        log.append(("ready", i))
        hook(i, grad)

    step.buckets.ready = spy
    log.clear()
    grads = step.gradients(x, y)
    # with the mirror partner the average is this rank's own gradient
    for g, ref in zip(grads, reference):
        np.testing.assert_allclose(gpunet.backend.to_host(g), gpunet.backend.to_host(ref), rtol=1e-6, atol=1e-7)
    if overlap:
        assert sorted(reported) == list(range(6)) and set(reported[:2]) == {4, 5}  # the last layer's first
        first_launch = log.index(next(e for e in log if e[0] == "launch"))
        last_ready = max(i for i, e in enumerate(log) if e[0] == "ready")
        assert first_launch < last_ready  # a bucket went out while backward still ran
    else:
        kinds = [e[0] for e in log]  # every gradient handed over after backward, then every launch
        assert kinds == ["ready"] * 6 + ["launch"] * len(step.buckets)
    assert len(step.buckets) < 6  # fewer calls than parameters


def test_a_rank_with_an_empty_slice_sends_zeros_and_gets_the_others_gradient(rng):
    x, y = gpunet.backend.to_device(rng.normal(size=(8, 5))), gpunet.backend.to_device(rng.normal(size=(8, 3)))
    reference = [g.copy() for g in TrainStep(_model()).gradients(x, y)]

    models = [_model(), _model()]  # built here: the threads must not share the seeded generator

    def work(rank, comm):
        step = DataParallel(comm, bucket_bytes=64).wrap(TrainStep(models[rank]))
        if rank == 0:  # the last global batch smaller than the world: nothing for rank 0
            return [g.copy() for g in step.gradients(x[:0], y[:0])], step.inner.tape
        return [g.copy() for g in step.gradients(x, y)], None

    (grads0, tape0), (grads1, _) = _run_ranks(work)
    assert tape0 is None  # rank 0 ran no forward pass
    for g0, g1, ref in zip(grads0, grads1, reference):
        g0, g1, ref = (gpunet.backend.to_host(g) for g in (g0, g1, ref))
        np.testing.assert_array_equal(g0, g1)
        np.testing.assert_allclose(g0, ref, rtol=1e-6, atol=1e-7)
