"""Each rank's slice of a global batch: the arithmetic, and the batches fit takes, in one process."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import backend
from gpunet.data import Batches
from gpunet.distributed import shard_bounds
from gpunet.distributed.launch import launched_local_rank, launched_rank, launched_size, launcher_name
from gpunet.distributed.sharding import ShardedBatches


@pytest.mark.parametrize("n", [0, 1, 5, 11, 32, 33])
@pytest.mark.parametrize("world", [1, 2, 3, 8])
def test_the_slices_cover_the_batch_once_in_rank_order_and_differ_by_at_most_one(n, world):
    bounds = [shard_bounds(n, r, world) for r in range(world)]
    covered = [i for start, stop in bounds for i in range(start, stop)]
    assert covered == list(range(n))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)  # the first n % world ranks take the extra sample


@pytest.mark.parametrize("args, error", [((5, 2, 2), ValueError), ((5, -1, 2), ValueError), ((5, 0, 0), ValueError),
                                         ((-1, 0, 2), ValueError), ((5.0, 0, 2), TypeError), ((5, True, 2), TypeError)])
def test_bad_arguments_name_themselves(args, error):
    with pytest.raises(error, match="n|rank|world"):
        shard_bounds(*args)


def _epoch(batches, order):
    return [(xb.copy(), None if yb is None else yb.copy()) for xb, yb, _ in batches.iterate(order)]


@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("world", [2, 3])
def test_the_ranks_slices_put_together_are_one_process_batches(shuffled, world):
    x = np.arange(203 * 2, dtype=np.float64).reshape(203, 2)
    y = np.arange(203)
    single = Batches(x, y, 32)
    order = np.random.default_rng(0).permutation(203) if shuffled else None
    reference = _epoch(single, order)
    parts = [_epoch(ShardedBatches(Batches(x, y, 32), r, world), order) for r in range(world)]
    assert all(len(p) == len(reference) == single.steps == 7 for p in parts)  # every rank takes every step
    for step, (xb, yb) in enumerate(reference):
        assert np.array_equal(np.concatenate([p[step][0] for p in parts]), xb)
        assert np.array_equal(np.concatenate([p[step][1] for p in parts]), yb)


class _Stream:
    """A source that is not in-memory arrays: sliced after it produced the whole batch."""

    steps = 3

    def iterate(self, order=None):
        for i in range(3):
            n = 4 if i < 2 else 1
            yield np.full((n, 1), i), np.arange(n)


def test_a_stream_is_sliced_and_dev_evaluation_skips_empty_slices():
    training = [_epoch_of(ShardedBatches(_Stream(), r, 2)) for r in range(2)]
    assert [len(t) for t in training] == [3, 3]
    assert [xb.shape[0] for xb, _ in training[1]] == [2, 2, 0]  # an empty slice is still a step
    dev = [_epoch_of(ShardedBatches(_Stream(), r, 2, skip_empty=True)) for r in range(2)]
    assert [xb.shape[0] for xb, _ in dev[1]] == [2, 2]
    assert ShardedBatches(_Stream(), 0, 2).steps == 3  # the source's attributes show through


def _epoch_of(batches):
    return list(batches.iterate())


@pytest.mark.parametrize("environ, expected", [
    ({}, (None, 1, 0, None)),
    ({"OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_LOCAL_RANK": "0"},
     ("mpirun (Open MPI)", 4, 2, 0)),
    ({"PMI_SIZE": "2", "PMI_RANK": "1"}, ("mpiexec (Hydra)", 2, 1, None)),
    ({"SLURM_STEP_NUM_TASKS": "8", "SLURM_PROCID": "5", "SLURM_LOCALID": "1"}, ("srun (Slurm)", 8, 5, 1)),
    ({"SLURM_NTASKS": "8", "SLURM_PROCID": "0"}, (None, 1, 0, None)),  # a batch script, not a job step
    # srun --mpi=pmix -N 2 --ntasks-per-node=8 (docs/distributed.md's recipe): rank 9 is the second of node 2
    ({"SLURM_STEP_NUM_TASKS": "16", "SLURM_NTASKS": "16", "SLURM_PROCID": "9", "SLURM_LOCALID": "1",
      "SLURM_NNODES": "2", "SLURM_MPI_TYPE": "pmix", "PMIX_RANK": "9", "PMIX_NAMESPACE": "slurm.pmix.4242.0"},
     ("srun (Slurm)", 16, 9, 1)),
])
def test_the_launcher_is_read_from_the_environment(environ, expected):
    got = (launcher_name(environ), launched_size(environ), launched_rank(environ), launched_local_rank(environ))
    assert got == expected


def test_the_noise_stream_of_rank_0_is_one_process_stream_and_other_ranks_differ():
    backend.set_seed(3)
    alone = backend.noise_generator().random(5)
    try:
        backend.set_noise_stream(1)
        other = backend.noise_generator().random(5)
        backend.set_seed(3)  # the branch survives reseeding
        assert np.array_equal(backend.noise_generator().random(5), other)
        state = backend.get_rng_state()
        backend.set_noise_stream(0)
        backend.set_seed(3)
        assert np.array_equal(backend.noise_generator().random(5), alone)
        assert not np.array_equal(alone, other)
        host = backend.host_generator().random(3)
        backend.set_seed(3)
        backend.set_noise_stream(2)
        assert np.array_equal(backend.host_generator().random(3), host)  # shuffling does not depend on the rank
        # a saved state (rank 0's, in a checkpoint) resumes as another branch on rank 2
        backend.set_rng_state(state)
        resumed2 = backend.noise_generator().random(5)
        backend.set_noise_stream(0)
        backend.set_rng_state(state)
        assert not np.array_equal(backend.noise_generator().random(5), resumed2)
    finally:
        backend.set_noise_stream(0)
    with pytest.raises(ValueError, match="index"):
        backend.set_noise_stream(-1)


def test_the_accumulators_of_a_metric_holding_device_totals():
    """On a GPU a running total is a 0-d device array, zeroed in place by reset(): finding the
    accumulators must neither zero the metric itself nor miss that total."""
    from gpunet.distributed.metrics import accumulators  # noqa: PLC0415
    from gpunet.metrics import Mean, SparseCategoricalAccuracy  # noqa: PLC0415

    for metric in (Mean(), SparseCategoricalAccuracy()):
        metric.total, metric.count = np.array(6.0), 3  # as CuPy leaves them: a 0-d array
        assert accumulators(metric) == ["count", "total"]
        assert metric.result() == 2.0 and float(metric.total) == 6.0
