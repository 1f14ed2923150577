"""Two ranks under mpirun against one process: the same training, the same files, the same faults.

One process running the same script is the reference every time (never a stored number).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import gpunet

from launcher import environment, needs_mpi, run, train

pytestmark = needs_mpi

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def assert_same_weights(ours, reference, dtype):
    assert len(ours) == len(reference)
    for w, ref in zip(ours, reference):
        scale = max(float(np.max(np.abs(ref))), 1e-30)
        assert float(np.max(np.abs(w - ref))) / scale <= TOLERANCE[dtype]


def assert_same_history(ours, reference, dtype):
    assert sorted(ours) == sorted(reference)
    for key, values in reference.items():
        assert np.allclose(ours[key], values, rtol=10 * TOLERANCE[dtype], atol=10 * TOLERANCE[dtype]), key


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_ranks_train_like_one_process_on_the_global_batch(tmp_path, optimizer, dtype):
    # 203 samples, global batch 32: six batches of 32 (16 per rank) and a last one of 11 (6 and 5);
    # dev data with ReduceLROnPlateau (it fires every second epoch) and EarlyStopping in the loop
    args = ["--optimizer", optimizer, "--dtype", dtype, "--samples", 203, "--batch", 32, "--epochs", 3, "--dev",
            "--lr", 0.05 if optimizer == "sgd" else 0.01]
    one = train(tmp_path, "one", args)
    two = train(tmp_path, "two", args, ranks=2)
    assert (one["world"], two["world"]) == (1, 2)
    assert two["same_weights"]  # every rank ends with the same weights
    assert_same_weights(two["weights"], one["weights"], dtype)
    assert_same_history(two["history"], one["history"], dtype)
    assert len(set(one["history"]["learning_rate"])) > 1  # the plateau rule did act, alike


@pytest.mark.parametrize("overlap", ["thread", "request"])
def test_all_reduces_started_during_the_backward_pass_give_the_same_training(tmp_path, overlap):
    args = ["--optimizer", "adam", "--lr", 0.01, "--dev", "--epochs", 2]
    one = train(tmp_path, "one", args)
    two = train(tmp_path, "two", [*args, "--overlap", overlap], ranks=2)
    assert two["same_weights"]
    assert_same_weights(two["weights"], one["weights"], "float64")
    assert_same_history(two["history"], one["history"], "float64")


def test_evaluate_and_predict_are_sharded_and_equal_one_process(tmp_path):
    # 149 samples in batches of 37: four of 37 (19 and 18 per rank) and one of 1 (rank 1's slice empty)
    args = ["--optimizer", "adam", "--lr", 0.01, "--epochs", 1, "--evaluate"]
    one = train(tmp_path, "one", args)
    two = train(tmp_path, "two", args, ranks=2)
    assert two["same_results"]  # every rank returns the whole result
    assert one["predicted_rows"] == [149] and two["predicted_rows"] == [4 * 19 + 1, 4 * 18]  # of its own slices
    assert one["evaluated_batches"] == [5] and two["evaluated_batches"] == [5, 4]  # rank 1 had nothing in the last
    assert two["predictions"].shape == one["predictions"].shape == (149, 3)
    np.testing.assert_allclose(two["predictions"], one["predictions"], rtol=1e-12, atol=1e-14)
    assert sorted(two["evaluation"]) == sorted(one["evaluation"]) == ["accuracy", "loss"]
    for key, value in one["evaluation"].items():
        assert two["evaluation"][key] == pytest.approx(value, rel=1e-12), key
    np.testing.assert_allclose(two["evaluation_list"], one["evaluation_list"], rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_synchronized_batch_normalization_trains_like_one_process(tmp_path, dtype):
    # the batch statistics (and their gradients) of the whole global batch on every rank: weights
    # and moving statistics as one process's; a last batch of 11 split 6 and 5
    common = ["--optimizer", "adam", "--lr", 0.01, "--dtype", dtype, "--epochs", 2, "--dev"]
    args = [*common, "--batchnorm", "sync"]
    one = train(tmp_path, "one", args)
    two = train(tmp_path, "two", args, ranks=2)
    assert two["same_weights"]
    assert len(two["weights"]) == len(one["weights"]) == 10  # gamma, beta, moving mean and variance among them
    assert_same_weights(two["weights"], one["weights"], dtype)
    assert_same_history(two["history"], one["history"], dtype)
    # without synchronization each rank normalises by its own slice: not one process's training
    plain = train(tmp_path, "plain", [*common, "--batchnorm", "plain"], ranks=2)
    assert max(float(np.max(np.abs(p - o))) for p, o in zip(plain["weights"], one["weights"])) > 1e-4


def test_synchronized_batch_normalization_refuses_a_last_batch_smaller_than_the_world(tmp_path):
    result = run(["--out", tmp_path / "x.npz", "--batchnorm", "sync", "--samples", 193, "--batch", 32], ranks=2)
    assert result.returncode != 0
    assert "the last batch of 193 samples in batches of 32 holds 1, fewer than the 2 ranks" in result.stderr


@pytest.mark.parametrize("mode", [None, "all"])
def test_warnings_print_once_on_rank_0_unless_every_rank_is_asked(tmp_path, mode):
    env = {**environment(), "PYTHONWARNINGS": "default"}
    if mode:
        env["GPUNET_RANK_WARNINGS"] = mode
    result = run(["--out", tmp_path / "x.npz", "--dev", "--dev-samples", 50, "--epochs", 1], ranks=2, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    warning = "the dev set of 50 sample(s) is too small"
    if mode is None:
        assert result.stderr.count(warning) == 1
    else:  # both ranks, the other one's lines marked
        assert result.stderr.count(warning) == 2 and "[rank 1] " in result.stderr


def test_dropout_masks_differ_between_ranks_while_the_weights_stay_identical(tmp_path):
    two = train(tmp_path, "two", ["--dropout", 0.3], ranks=2)
    one = train(tmp_path, "one", ["--dropout", 0.3])
    assert two["same_weights"]
    # after fit each rank runs the model in training mode on the same input with the same weights:
    # the outputs differ only if the ranks' dropout masks differ
    rank0, rank1 = two["probes"]
    assert not np.allclose(rank0, rank1)
    # rank 0 draws from the single process's noise stream, rank 1 from another branch of the seed
    stream = [s.split("'inc': ")[1] for s in two["noise_states"]]
    assert stream[0] == one["noise_states"][0].split("'inc': ")[1]
    assert stream[1] != stream[0]


def test_a_checkpoint_of_two_ranks_resumes_with_one_and_with_two(tmp_path):
    common = ["--optimizer", "adam", "--lr", 0.01, "--dev", "--epochs", 3]
    uninterrupted = train(tmp_path, "one", common)
    checkpoints = tmp_path / "ck-{epoch}.h5"
    two = train(tmp_path, "two", [*common, "--checkpoint", checkpoints], ranks=2)
    assert_same_weights(two["weights"], uninterrupted["weights"], "float64")
    first = str(checkpoints).format(epoch=1)
    for ranks in (0, 2):
        resumed = train(tmp_path, f"resumed{ranks}", [*common, "--resume", first, "--initial-epoch", 1], ranks=ranks)
        assert_same_weights(resumed["weights"], uninterrupted["weights"], "float64")
        for key, values in resumed["history"].items():  # the resumed fit's History holds epochs 2 and 3
            assert np.allclose(values, uninterrupted["history"][key][1:], rtol=1e-11), key


def test_ranks_started_differently_fail_before_training_with_a_clear_error(tmp_path):
    result = run(["--out", tmp_path / "x.npz", "--mismatch", "optimizer"], ranks=2)
    assert result.returncode != 0
    assert "rank 1 differs from rank 0 in: optimizer" in result.stderr
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("fault", ["--raise-at", "--kill-at"])
def test_a_failing_rank_ends_the_job_and_the_last_checkpoint_stays_loadable(tmp_path, fault):
    # seven steps per epoch: the checkpoint of epoch 1 is written, then rank 1 fails at step 10
    checkpoints = tmp_path / "ck-{epoch}.h5"
    start = time.monotonic()
    result = run(["--out", tmp_path / "x.npz", "--epochs", 4, "--checkpoint", checkpoints, fault, 10], ranks=2,
                 timeout=60)
    assert time.monotonic() - start < 30
    assert result.returncode != 0
    if fault == "--raise-at":
        assert "rank 1 of 2 failed" in result.stderr and "injected failure at step 10" in result.stderr
    else:
        assert "signal 9" in result.stderr or "Killed" in result.stderr
    assert not (tmp_path / "x.npz").exists()
    assert not (tmp_path / "ck-3.h5").exists()
    model = gpunet.load_model(str(checkpoints).format(epoch=1))
    assert model.get_state()["fit"]["epoch"] == 1
