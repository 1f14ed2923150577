"""Two ranks on one GPU: NCCL refuses them, so every rank stages its gradients through host memory.

The ranks run under ``mpirun -n 2`` on the CuPy emulation (``tests/emulated_cupy``), where every
process holds device 0 of one emulated GPU and the emulated NCCL refuses a communicator of two
ranks on one device, as NCCL does. References are NumPy sums of the values each rank contributed,
and one process training alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from launcher import environment, find_mpirun, needs_mpi
from transport_script import DTYPES, rank_values

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTS)
SCRIPT = os.path.join(HERE, "transport_script.py")
NOTE = "NCCL needs a GPU of its own for each rank"
TOLERANCE = {"float16": 1e-3, "float32": 1e-6, "float64": 1e-15}

pytestmark = [needs_mpi, pytest.mark.skipif(
    not any(shutil.which(c) for c in (os.environ.get("CXX") or "c++", "g++", "clang++")),
    reason="the CuPy emulation compiles kernels with a C++ compiler, and none is installed")]


def emulated(args, ranks: int = 0, nccl: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """transport_script.py on the CuPy emulation, alone (ranks=0) or under ``mpirun -n ranks``."""
    env = environment()
    env.update(GPUNET_BACKEND="cupy", PYTHONPATH=os.pathsep.join([os.path.join(TESTS, "emulated_cupy"), ROOT]))
    env.pop("GPUNET_NCCL", None)
    if nccl is not None:
        env["GPUNET_NCCL"] = nccl
    command = [sys.executable, SCRIPT, *map(str, args)]
    if ranks:
        command = [find_mpirun(), "-n", str(ranks), "--oversubscribe", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=HERE)


def outputs(out, ranks: int) -> list:
    found = []
    for rank in range(ranks):
        with np.load(f"{out}.{rank}.npz") as f:
            found.append({k: f[k] for k in f.files})
    return found


def expected(operation: str, dtype: str, layout: str, rank: int, size: int) -> np.ndarray:
    """What rank ``rank``'s array holds afterwards, from the values every rank contributed."""
    if operation == "broadcast":
        arrived = rank_values(size - 1, dtype)
    else:
        arrived = rank_values(0, dtype)
        for other in range(1, size):
            arrived = arrived + rank_values(other, dtype)  # in the dtype, rank by rank
    if layout == "contiguous":
        return arrived
    mine = rank_values(rank, dtype)
    mine[:, ::2] = arrived[:, ::2]  # the columns between the strided view's stay as they were
    return mine


def assert_collectives(found: list, size: int):
    for rank, results in enumerate(found):
        for dtype in DTYPES:
            for layout in ("contiguous", "strided"):
                for operation in ("allreduce", "allreduce_async", "broadcast"):
                    got = results[f"{operation}-{dtype}-{layout}"]
                    assert got.dtype == np.dtype(dtype)
                    np.testing.assert_allclose(got.astype(np.float64),
                                               expected(operation, dtype, layout, rank, size).astype(np.float64),
                                               rtol=TOLERANCE[dtype], atol=0, err_msg=f"{operation} {dtype} {layout}")


def train(tmp_path, name, ranks=0, extra=()):
    out = tmp_path / name
    args = ["--out", out, "--mode", "fit", *extra]
    result = emulated(args, ranks)
    assert result.returncode == 0, result.stderr[-3000:]
    found = outputs(out, max(ranks, 1))[0]
    weights = [found[f"weight_{i}"] for i in range(len([k for k in found if k.startswith("weight_")]))]
    return found, weights, json.loads(str(found["history"])), result


@pytest.mark.parametrize("asynchronous", ["thread", "request"])
def test_host_staging_sums_and_broadcasts_device_arrays_of_every_float_dtype(tmp_path, asynchronous):
    result = emulated(["--out", tmp_path / "c", "--asynchronous", asynchronous], ranks=2)
    assert result.returncode == 0, result.stderr[-3000:]
    found = outputs(tmp_path / "c", 2)
    assert [str(f["communicator"]) for f in found] == ["mpi", "mpi"]
    assert_collectives(found, 2)


def test_two_ranks_on_one_gpu_train_with_host_staging_like_one_process(tmp_path):
    one, one_weights, one_history, _ = train(tmp_path, "one")
    two, two_weights, two_history, result = train(tmp_path, "two", ranks=2)
    assert (int(one["world"]), int(two["world"])) == (1, 2)
    assert str(two["communicator"]) == "mpi" and bool(two["same_weights"])
    for w, ref in zip(two_weights, one_weights, strict=True):
        assert float(np.max(np.abs(w - ref))) <= 1e-12 * max(float(np.max(np.abs(ref))), 1e-30)
    assert sorted(two_history) == sorted(one_history)
    for key, values in one_history.items():
        np.testing.assert_allclose(two_history[key], values, rtol=1e-11, atol=1e-11, err_msg=key)
    # rank 0 alone says why and what to do, once
    assert result.stderr.count(NOTE) == 1, result.stderr[-3000:]
    assert "ranks 0 and 1 share one GPU" in result.stderr and "GPUNET_NCCL=off" in result.stderr


def test_nccl_off_stages_through_host_memory_without_a_note(tmp_path):
    result = emulated(["--out", tmp_path / "c"], ranks=2, nccl="off")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [str(f["communicator"]) for f in outputs(tmp_path / "c", 2)] == ["mpi", "mpi"]
    assert NOTE not in result.stderr


def test_nccl_on_with_ranks_sharing_a_gpu_stops_every_rank_with_the_reason(tmp_path):
    result = emulated(["--out", tmp_path / "c"], ranks=2, nccl="on", timeout=60)
    assert result.returncode != 0
    # every rank raises the same error at the same point (no rank is left waiting)
    assert result.stderr.count("GPUNET_NCCL=on (or init(nccl=True)) demands NCCL") == 2, result.stderr[-3000:]
    assert "ranks 0 and 1 share one GPU" in result.stderr
    assert not any(os.path.exists(f"{tmp_path / 'c'}.{r}.npz") for r in range(2))


def test_an_unknown_gpunet_nccl_value_is_refused(tmp_path):
    result = emulated(["--out", tmp_path / "c"], ranks=2, nccl="sometimes", timeout=60)
    assert result.returncode != 0
    assert "GPUNET_NCCL must be one of auto, on, off, got 'sometimes'" in result.stderr


def test_a_failed_nccl_setup_ends_every_rank_and_says_what_to_do(tmp_path):
    # each rank on a GPU of its own, so NCCL is chosen; its creation fails on rank 1 only, while
    # rank 0 waits for it inside NCCL: the job must end, with the way out
    result = emulated(["--out", tmp_path / "c", "--distinct-devices", "--fail-nccl-on", 1], ranks=2, timeout=60)
    assert result.returncode != 0
    assert "rank 1 of 2 failed, ending every rank" in result.stderr, result.stderr[-3000:]
    assert "NCCL could not set up its communicator on rank 1 of 2" in result.stderr
    assert "GPUNET_NCCL=off" in result.stderr and "NCCL_DEBUG=WARN" in result.stderr


# The two tests below run NCCL's path on the emulation: they need the emulated arrays' device
# addresses (``a.data.ptr``) and streams (``get_current_stream``, ``record``, ``wait_event``).

def test_ranks_on_gpus_of_their_own_sum_and_broadcast_through_nccl(tmp_path):
    result = emulated(["--out", tmp_path / "c", "--distinct-devices"], ranks=2)
    assert result.returncode == 0, result.stderr[-3000:]
    found = outputs(tmp_path / "c", 2)
    assert [str(f["communicator"]) for f in found] == ["nccl", "nccl"]
    assert NOTE not in result.stderr
    assert_collectives(found, 2)


def test_ranks_on_gpus_of_their_own_train_through_nccl_like_one_process(tmp_path):
    _, one_weights, one_history, _ = train(tmp_path, "one")
    two, two_weights, two_history, _ = train(tmp_path, "two", ranks=2, extra=["--distinct-devices"])
    assert str(two["communicator"]) == "nccl" and bool(two["same_weights"])
    for w, ref in zip(two_weights, one_weights, strict=True):
        assert float(np.max(np.abs(w - ref))) <= 1e-12 * max(float(np.max(np.abs(ref))), 1e-30)
    for key, values in one_history.items():
        np.testing.assert_allclose(two_history[key], values, rtol=1e-11, atol=1e-11, err_msg=key)


def test_synchronized_batch_norm_on_device_ranks_trains_like_one_process(tmp_path):
    # the statistics' sums go through host memory by MPI (a duplicate communicator) while the
    # gradients go through NCCL: the layer's arrays live on the (emulated) device
    _, one_weights, _, _ = train(tmp_path, "one", extra=["--batchnorm", "sync"])
    two, two_weights, _, _ = train(tmp_path, "two", ranks=2, extra=["--distinct-devices", "--batchnorm", "sync"])
    assert str(two["communicator"]) == "nccl" and bool(two["same_weights"])
    assert len(two_weights) == 10
    for w, ref in zip(two_weights, one_weights, strict=True):
        assert float(np.max(np.abs(w - ref))) <= 1e-12 * max(float(np.max(np.abs(ref))), 1e-30)


def test_a_rank_that_stalls_under_nccl_ends_the_job_and_is_named(tmp_path):
    # rank 1 sleeps 120 s before its 9th step; rank 0 waits inside NCCL's all-reduce of that step
    start = time.monotonic()
    result = emulated(["--out", tmp_path / "c", "--mode", "fit", "--distinct-devices", "--sleep-at", 9,
                       "--collective-timeout", 2], ranks=2, timeout=90)
    assert result.returncode != 0
    assert time.monotonic() - start < 30
    assert result.stderr.count("longer than the collective timeout of 2 s; ending every rank.") == 1, \
        result.stderr[-3000:]
    assert re.search(r"rank 0 of 2 has waited [\d.]+ s in the all-reduce of a gradient bucket \(allreduce_async #\d+, "
                     r"372 float64, through NCCL\) at epoch 2, step 2 of 7,", result.stderr), result.stderr[-3000:]
    assert "late: rank 1, which has not reached it: it is at epoch 2, step 2 of 7, outside any collective" \
        in result.stderr
