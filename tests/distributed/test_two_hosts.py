"""Two ranks on two "hosts" (network and UTS namespaces joined by a veth pair, ``two_hosts.py``),
over TCP only, against one process: the rehearsal of a job across machines.

Runs where namespaces can be made (root on Linux, iproute2 and util-linux), and skips elsewhere
with the reason. The namespaces live for one test each and are taken down whatever happens.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import gpunet

from launcher import environment, needs_mpi, run, train
from test_multirank import assert_same_history, assert_same_weights
from two_hosts import TwoHosts, unavailable

_REASON = unavailable()
pytestmark = [needs_mpi, pytest.mark.skipif(_REASON is not None, reason=f"no two-host rehearsal: {_REASON}")]


@pytest.fixture
def hosts():
    with TwoHosts() as made:
        yield made
    assert not made.pids()


@pytest.mark.parametrize("extra", [[], ["--batchnorm", "sync", "--evaluate"]], ids=["plain", "syncbn-evaluate"])
def test_two_hosts_over_tcp_train_like_one_process(tmp_path, hosts, extra):
    args = ["--optimizer", "adam", "--lr", 0.01, "--dtype", "float32", "--samples", 203, "--batch", 32,
            "--epochs", 2, "--dev", *extra]
    one = train(tmp_path, "one", args)
    two = train(tmp_path, "two", args, ranks=2, hosts=hosts)
    assert two["hosts"] == hosts.names  # rank 0 on the first host, rank 1 on the second
    assert two["world"] == 2 and two["same_weights"]
    assert_same_weights(two["weights"], one["weights"], "float32")
    assert_same_history(two["history"], one["history"], "float32")
    if extra:  # synchronized batch norm's statistics, sharded evaluate and predict, across the hosts
        assert two["same_results"] and two["predicted_rows"] == [77, 72]
        np.testing.assert_allclose(two["predictions"], one["predictions"], rtol=1e-5, atol=1e-6)
        for key, value in one["evaluation"].items():
            assert two["evaluation"][key] == pytest.approx(value, rel=1e-5), key


def test_a_rank_killed_on_the_second_host_ends_the_job_with_the_checkpoint_intact(tmp_path, hosts):
    checkpoints = tmp_path / "ck-{epoch}.h5"
    start = time.monotonic()
    result = run(["--out", tmp_path / "x.npz", "--epochs", 4, "--checkpoint", checkpoints, "--kill-at", 10],
                 ranks=2, hosts=hosts, timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert elapsed < 30, elapsed
    # whichever notices first ends the job: the first host's rank, whose TCP peer vanished (it
    # names the second host), or mpirun, told by the second host's daemon that its rank was killed
    text = result.stderr
    assert f"Peer host:  {hosts.names[1]}" in text or "signal 9" in text or "Killed" in text, text[-2000:]
    assert not hosts.pids()  # the first host's rank was ended too, nothing is left running
    assert not (tmp_path / "x.npz").exists()
    model = gpunet.load_model(str(checkpoints).format(epoch=1))
    assert model.get_state()["fit"]["epoch"] == 1


def test_a_host_cut_off_the_network_ends_the_job_with_the_checkpoint_intact(tmp_path, hosts):
    # the second host's link goes down after the checkpoint of epoch 1: no connection is closed,
    # so nothing fails at once. The ranks' collective watchdog (3 s) ends them; Open MPI's daemons,
    # with TCP keepalives of a few seconds (docs/distributed.md), notice the lost host and end
    # mpirun, which otherwise waits for the lost daemon for as long as TCP does (minutes)
    checkpoints = tmp_path / "ck-{epoch}.h5"
    first = pathlib.Path(str(checkpoints).format(epoch=1))
    cut = {}

    def partition():
        deadline = time.monotonic() + 60
        while not first.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cut["at"] = time.monotonic()
        subprocess.run(["ip", "-n", hosts.namespaces[1], "link", "set", hosts.links[1], "down"], check=True)

    cutter = threading.Thread(target=partition, daemon=True)
    cutter.start()
    env = {**environment(), "PRTE_MCA_oob_tcp_keepalive_time": "1", "PRTE_MCA_oob_tcp_keepalive_intvl": "1",
           "PRTE_MCA_oob_tcp_keepalive_probes": "3"}
    result = run(["--out", tmp_path / "x.npz", "--epochs", 200, "--samples", 2000, "--checkpoint", checkpoints,
                  "--collective-timeout", 3], ranks=2, hosts=hosts, env=env, timeout=90)
    cutter.join(1)
    assert "at" in cut, result.stderr[-2000:]
    assert time.monotonic() - cut["at"] < 30
    assert "lost communication with a remote daemon" in result.stderr or "collective timeout" in result.stderr, \
        result.stderr[-2000:]
    deadline = time.monotonic() + 15
    while hosts.pids() and time.monotonic() < deadline:  # the cut-off host's daemon ends its rank too
        time.sleep(0.2)
    assert not hosts.pids()
    assert not (tmp_path / "x.npz").exists()
    model = gpunet.load_model(str(first))
    assert model.get_state()["fit"]["epoch"] == 1


def test_the_transport_chosen_by_environment_variables_alone(tmp_path, hosts):
    # docs/distributed.md's variables instead of --mca options: the same job, the same result
    script = tmp_path / "where.py"
    script.write_text("import socket\nfrom mpi4py import MPI\nc = MPI.COMM_WORLD\n"
                      "names = c.allgather(socket.gethostname())\n"
                      "print(c.Get_rank(), ','.join(names), c.allreduce(c.Get_rank() + 1), flush=True)\n")
    result = hosts.mpirun([sys.executable, script], env=environment(), via_environment=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = sorted(result.stdout.split("\n")[:-1])
    assert lines == [f"{r} {','.join(hosts.names)} 3" for r in range(2)]


def test_the_namespaces_are_gone_after_the_rehearsal():
    with TwoHosts() as made:
        names = list(made.namespaces)
        listed = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True).stdout
        assert all(name in listed for name in names)
    listed = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True).stdout
    assert not any(name in listed for name in names)
    assert made.folder is None and made.uts == []
