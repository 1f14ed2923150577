"""Batches of nested data: every array of (x, y, sample_weight) cut by the same rows, in the
data's own structure, whether in memory, on disk or sliced for a rank."""

import numpy as np
import pytest

from gpunet import backend, tree
from gpunet.data import Batches, DiskBatches
from gpunet.data.structure import batch_count, pack_x_y_sample_weight, slice_nest, unpack_x_y_sample_weight
from gpunet.distributed.sharding import ShardedBatches

N = 23


def nested_data():
    rng = np.random.default_rng(0)
    x = {"image": rng.random((N, 4, 3)).astype(np.float32), "meta": [np.arange(N, dtype=np.float32)[:, None],
                                                                   rng.random((N, 2)).astype(np.float32)]}
    y = (np.arange(N) % 3, rng.random((N, 1)).astype(np.float32))
    weights = (np.linspace(0.5, 2.0, N).astype(np.float32), None)
    return x, y, weights


def to_host_nest(nest):
    return tree.map_structure(lambda a: None if a is None else np.array(backend.to_host(a)), nest)  # a copy: buffers are reused


def reference_rows(nest, rows):
    return tree.map_structure(lambda a: None if a is None else a[rows], nest)


def assert_same_nest(got, want):
    tree.assert_same_structure(got, want)
    for g, w in zip(tree.flatten(got), tree.flatten(want)):
        assert (g is None) == (w is None)
        if g is not None:
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("shuffled", [False, True])
def test_every_array_takes_the_same_rows_in_the_datas_structure(shuffled):
    x, y, weights = nested_data()
    device = tree.map_structure(lambda a: None if a is None else backend.to_device(a), (x, y, weights))
    batches = Batches(*device[:2], 5, device[2])
    order = np.random.default_rng(1).permutation(N) if shuffled else None
    got = [to_host_nest(b) for b in batches.iterate(None if order is None else backend.to_device(order))]
    assert len(got) == batches.steps == 5
    rows = np.arange(N) if order is None else order
    for i, batch in enumerate(got):
        assert_same_nest(batch, reference_rows((x, y, weights), rows[i * 5:(i + 1) * 5]))


def test_disk_batches_equal_memory_batches(tmp_path):
    x, y, weights = nested_data()
    path = tmp_path / "image.npy"
    np.save(path, x["image"])
    on_disk = {**x, "image": np.load(path, mmap_mode="r")}
    dtypes = [a.dtype if a is not None else None for a in tree.flatten((x, y, weights))]
    order = np.random.default_rng(2).permutation(N)
    disk = [to_host_nest(b) for b in DiskBatches(on_disk, y, 6, dtypes, weights).iterate(order)]
    for i, batch in enumerate(disk):
        assert_same_nest(batch, reference_rows((x, y, weights), order[i * 6:(i + 1) * 6]))


@pytest.mark.parametrize("world", [2, 3])
def test_rank_slices_of_nested_batches_put_together_are_the_batch(world):
    x, y, weights = nested_data()
    device = tree.map_structure(lambda a: None if a is None else backend.to_device(a), (x, y, weights))
    order = backend.to_device(np.random.default_rng(3).permutation(N))
    whole = [to_host_nest(b) for b in Batches(*device[:2], 8, device[2]).iterate(order)]
    parts = [[to_host_nest(b) for b in ShardedBatches(Batches(*device[:2], 8, device[2]), rank, world).iterate(order)]
             for rank in range(world)]
    for step, batch in enumerate(whole):
        joined = tree.map_structure(lambda *leaves: None if leaves[0] is None else np.concatenate(leaves),
                                    *[parts[rank][step] for rank in range(world)])
        assert_same_nest(joined, batch)


def test_unpack_and_pack_follow_keras():
    x, y, w = object(), object(), object()
    assert unpack_x_y_sample_weight((x,)) == (x, None, None)
    assert unpack_x_y_sample_weight((x, y)) == (x, y, None)
    assert unpack_x_y_sample_weight((x, y, w)) == (x, y, w)
    assert unpack_x_y_sample_weight(x) == (x, None, None)
    assert pack_x_y_sample_weight(x) is x and pack_x_y_sample_weight(x, y) == (x, y)
    assert pack_x_y_sample_weight(x, y, w) == (x, y, w)
    with pytest.raises(ValueError, match="tuple of 4 items"):
        unpack_x_y_sample_weight((x, y, w, w))
    nest = {"a": np.zeros((7, 2)), "b": [np.ones(7)]}
    assert batch_count(nest) == 7
    assert tree.map_structure(lambda a: a.shape, slice_nest(nest, 2, 5)) == {"a": (3, 2), "b": [(3,)]}
