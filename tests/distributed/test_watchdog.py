"""The collective watchdog: a rank that stops arriving ends the job, and the message names it.

Under ``mpirun -n 2`` rank 1 sleeps (or hangs) inside fit while rank 0 waits in a collective, with
a timeout of 2 s: the job must end within seconds, not after the 120 s sleep. In-process tests
cover the timeout's validation, the message for each kind of late rank, and the bookkeeping.
"""

from __future__ import annotations

import re
import threading
import time
import types

import numpy as np
import pytest

import gpunet
from gpunet import distributed
from gpunet.distributed.strategy import DataParallel
from gpunet.distributed.watchdog import Watchdog, collective_timeout, stall_message
from gpunet.layers import Dense, Input

from launcher import environment, needs_mpi, run, train

HEADER = "longer than the collective timeout of 2 s; ending every rank."


def stalled(tmp_path, args, env=None):
    """fit_script.py under ``mpirun -n 2`` with rank 1 stalling; returns (result, seconds)."""
    start = time.monotonic()
    result = run(["--out", tmp_path / "x.npz", "--epochs", 4, *args], ranks=2, timeout=90, env=env)
    return result, time.monotonic() - start


@needs_mpi
@pytest.mark.parametrize("how, expected", [
    # rank 1 sleeps before its 10th step (epoch 2, step 3): rank 0 waits in that step's gradient all-reduce
    (["--sleep-at", 10], (r"rank 0 of 2 has waited [\d.]+ s in the all-reduce of a gradient bucket "
                          r"\(allreduce_async #\d+, 372 float64\) at epoch 2, step 3 of 7,")),
    (["--sleep-at", 10, "--overlap", "request"], r"in the all-reduce of a gradient bucket \(allreduce_async #\d+"),
    # rank 1 sleeps in on_epoch_end: rank 0 waits for it to agree on stop_training
    (["--sleep-at", 7, "--sleep-in", "on_epoch_end", "--dev"],
     r"in an all-reduce \(allreduce #\d+, 1 float64\) at epoch 1, step 7 of 7, agreeing on stop_training,"),
])
def test_a_stalled_rank_ends_the_job_within_seconds_and_is_named(tmp_path, how, expected):
    env = dict(environment(), GPUNET_COLLECTIVE_TIMEOUT="2")  # the variable, as a launcher would pass it
    result, seconds = stalled(tmp_path, how, env)
    assert result.returncode != 0
    assert seconds < 30, seconds  # the sleep lasts 120 s
    assert result.stderr.count(HEADER) == 1, result.stderr[-3000:]  # one message, from the waiting rank
    assert re.search(expected, result.stderr), result.stderr[-3000:]
    step = "epoch 2, step 3 of 7" if how[1] == 10 else "epoch 1, step 7 of 7"
    assert f"late: rank 1, which has not reached it: it is at {step}, outside any collective" in result.stderr
    assert "GPUNET_COLLECTIVE_TIMEOUT=SECONDS" in result.stderr
    assert not (tmp_path / "x.npz").exists()


@needs_mpi
def test_a_rank_that_hangs_without_answering_is_named(tmp_path):
    # rank 1 hangs inside a regular expression, which never lets its watchdog thread run
    result, seconds = stalled(tmp_path, ["--hang-at", 10, "--collective-timeout", 2])
    assert result.returncode != 0
    assert seconds < 30, seconds
    assert result.stderr.count(HEADER) == 1, result.stderr[-3000:]
    assert "late: rank 1, which did not answer within 2 s." in result.stderr


@needs_mpi
def test_the_watchdog_changes_no_bit_of_training(tmp_path):
    args = ["--optimizer", "adam", "--lr", 0.01, "--dev", "--epochs", 3]
    off = train(tmp_path, "off", [*args, "--collective-timeout", 0], ranks=2)
    on = train(tmp_path, "on", [*args, "--collective-timeout", 2], ranks=2)
    assert on["same_weights"] and off["same_weights"]
    for a, b in zip(on["weights"], off["weights"], strict=True):
        assert a.tobytes() == b.tobytes()
    assert on["history"] == off["history"]


@needs_mpi
def test_ranks_given_different_timeouts_are_refused_at_init(tmp_path):
    result = run(["--out", tmp_path / "x.npz", "--mismatch", "timeout", "--collective-timeout", 2], ranks=2)
    assert result.returncode != 0
    assert result.stderr.count("the ranks were started with different collective timeouts "
                               "(rank 0: 2 s, rank 1: 1000 s)") == 2, result.stderr[-3000:]


@needs_mpi
def test_ranks_with_different_data_lengths_say_so(tmp_path):
    result = run(["--out", tmp_path / "x.npz", "--mismatch", "data"], ranks=2)
    assert result.returncode != 0
    assert "rank 1 differs from rank 0 in: data length)" in result.stderr, result.stderr[-3000:]


# -- in one process ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, seconds", [("auto", 300.0), (2, 2.0), (0.5, 0.5), (0, None), (None, None)])
def test_the_timeout_argument(value, seconds):
    assert collective_timeout(value, environ={}) == seconds


@pytest.mark.parametrize("text, seconds", [("", 300.0), ("  ", 300.0), ("2", 2.0), ("1e3", 1000.0), ("0", None)])
def test_the_timeout_variable(text, seconds):
    assert collective_timeout("auto", environ={"GPUNET_COLLECTIVE_TIMEOUT": text}) == seconds
    assert collective_timeout(7, environ={"GPUNET_COLLECTIVE_TIMEOUT": text}) == 7.0  # the argument wins


@pytest.mark.parametrize("value, error", [(-1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
                                          (True, TypeError), ("300", TypeError), ([2], TypeError)])
def test_bad_timeouts_are_refused_naming_the_argument(value, error):
    with pytest.raises(error, match="collective_timeout must be"):
        distributed.init(collective_timeout=value)
    assert not distributed.is_initialized()


@pytest.mark.parametrize("text", ["soon", "-5", "nan", "inf", "5s"])
def test_bad_timeout_variables_are_refused_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv("GPUNET_COLLECTIVE_TIMEOUT", text)
    with pytest.raises(ValueError, match=f"GPUNET_COLLECTIVE_TIMEOUT must be a number of seconds.*got '{text}'"):
        distributed.init()
    assert not distributed.is_initialized()
    distributed.init(collective_timeout=3)  # an explicit argument does not read it
    distributed.shutdown()


def _state(started, open_=(), where=None):
    return {"started": started, "open": list(open_), "where": where}


def test_the_message_names_each_kind_of_late_rank():
    waiting = (57, "allreduce_async", 301.5, "2,125 float32")
    answers = {
        0: _state(57, [waiting], "epoch 2, step 7 of 9"),
        1: _state(56, [], "epoch 2, step 6 of 9"),  # has not reached it
        2: None,  # did not answer
        3: _state(57, [(57, "broadcast", 12.0, "")], "epoch 2, step 7 of 9"),  # a different collective
        4: _state(57, [(57, "allreduce_async", 300.2, "2,125 float32")]),  # waits too
        5: _state(55, [(55, "barrier", 40.0, "")], "outside fit"),
    }
    text = stall_message(0, 6, 300.0, 57, answers, patience=3.0)
    first, late, too = text.splitlines()[:3]
    assert first == ("gpunet.distributed: rank 0 of 6 has waited 301.5 s in the all-reduce of a gradient bucket "
                     "(allreduce_async #57, 2,125 float32) at epoch 2, step 7 of 9, longer than the collective timeout "
                     "of 300 s; ending every rank.")
    assert late.startswith("  late: rank 1, which has not reached it: it is at epoch 2, step 6 of 9, outside any "
                           "collective (56 collectives started); rank 2, which did not answer within 3 s; rank 3, "
                           "which is in broadcast #57 instead: the ranks called different collectives")
    assert "rank 5, which has not reached it: it is at outside fit, inside barrier #55 for 40.0 s" in late
    assert "rank 4" not in late and too == "  waiting in it too: rank 4 (for 300.2 s)."


def test_the_message_when_every_rank_has_arrived():
    entry = (8, "allreduce", 5.0, "")
    text = stall_message(1, 2, 5.0, 8, {0: _state(8, [entry]), 1: _state(8, [entry])})
    assert "late:" not in text and "waiting in it too: rank 0" in text
    assert "Every rank has reached it, yet it has not completed: the transport itself is stuck" in text


class _Fake:
    """What a Watchdog needs of a communicator, without MPI threads: the other ranks are not asked."""

    class MPI:
        THREAD_MULTIPLE = 3

        @staticmethod
        def Query_thread():
            return 2

    rank, size, comm = 0, 2, None


def test_an_overdue_collective_is_reported_once_and_one_in_time_is_not():
    reports = []
    aborted = threading.Event()
    watchdog = Watchdog(_Fake(), 0.2, where=lambda: "epoch 1, step 3 of 4",
                        abort=lambda text: (reports.append(text), aborted.set()))
    try:
        for _ in range(3):  # collectives that end in time
            number = watchdog.begin("allreduce", np.zeros(4))
            time.sleep(0.05)
            watchdog.end(number)
        time.sleep(0.4)
        assert reports == []
        done = {"flag": False}
        number = watchdog.begin("broadcast", np.zeros(3))
        watchdog.end_when(number, lambda: done["flag"])  # a device collective: open until done() says so
        assert aborted.wait(5.0)
        assert number == 4 and len(reports) == 1
        assert "in a broadcast (broadcast #4, 3 float64) at epoch 1, step 3 of 4" in reports[0]
        assert "late: rank 1." in reports[0] and "could not be asked" in reports[0]
    finally:
        watchdog.stop()
    assert not watchdog._thread.is_alive()


def test_device_collectives_close_when_the_device_is_done():
    watchdog = Watchdog(_Fake(), 60.0)
    try:
        done = {"flag": False}
        first = watchdog.begin("allreduce_async")
        watchdog.end_when(first, lambda: done["flag"])
        second = watchdog.begin("allreduce_async")
        assert [entry[0] for entry in watchdog.state()["open"]] == [first, second]
        done["flag"] = True
        watchdog.end(second)
        assert watchdog.state() == {"started": 2, "open": [], "where": None}
    finally:
        watchdog.stop()


def test_where_a_rank_stands_in_fit():
    class Two(distributed.Communicator):
        size = 2

    seen = []
    try:
        distributed.init(Two())
        parallel = distributed.strategy()
        assert parallel.where() == "outside fit"
        model = gpunet.Sequential([Input((3,)), Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        callback = gpunet.callbacks.LambdaCallback(
            on_train_batch_begin=lambda batch, logs: seen.append(parallel.where()),
            on_test_begin=lambda logs: seen.append(parallel.where()))
        x, y = np.ones((40, 3)), np.zeros(40, dtype=np.int64)
        model.fit(x, y, batch_size=16, epochs=2, validation_data=(x, y), callbacks=[callback], verbose=0)
        assert parallel.where() == "outside fit"
    finally:
        distributed.shutdown()
    assert seen == ["epoch 1, step 1 of 3", "epoch 1, step 2 of 3", "epoch 1, step 3 of 3", "epoch 1, step 3 of 3",
                    "epoch 2, step 1 of 3", "epoch 2, step 2 of 3", "epoch 2, step 3 of 3", "epoch 2, step 3 of 3"]


def test_where_names_the_start_of_fit_and_the_reports():
    parallel = DataParallel(distributed.Communicator())
    loop = types.SimpleNamespace(train=types.SimpleNamespace(position=4), dev=types.SimpleNamespace(position=2,
                                 active=True), steps=9, state=types.SimpleNamespace(epoch=1))
    parallel._loop = loop
    assert parallel.where() == "epoch 2, step 4 of 9, dev evaluation batch 2"
    with parallel._doing("agreeing on stop_training"):
        assert parallel.where().endswith("dev evaluation batch 2, agreeing on stop_training")
    assert parallel.where() == "epoch 2, step 4 of 9, dev evaluation batch 2"


def test_a_fit_interrupted_by_ctrl_c_leaves_no_collective_watched():
    communicator = distributed.Communicator()
    communicator.watchdog = watchdog = Watchdog(_Fake(), 60.0)
    parallel = DataParallel(communicator)
    try:
        with pytest.raises(KeyboardInterrupt), parallel.guard():
            watchdog.begin("allreduce_async")  # a bucket's all-reduce under way, never to be waited for
            raise KeyboardInterrupt
        assert watchdog.state()["open"] == []
        number = watchdog.begin("allreduce")  # what comes next is watched as before
        assert [entry[0] for entry in watchdog.state()["open"]] == [number]
    finally:
        watchdog.stop()
