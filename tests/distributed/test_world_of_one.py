"""Without a launcher gpunet trains as it always did: no MPI, no wrapper, nothing per step."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gpunet
from gpunet import distributed
from gpunet.callbacks import CallbackList, CSVLogger, EarlyStopping, History, ModelCheckpoint, ProgbarLogger
from gpunet.layers import Dense, Input
from gpunet.training import Strategy, get_strategy
from gpunet.training import step as step_module

from launcher import environment


def _fit(rng_seed=0):
    gpunet.utils.set_random_seed(rng_seed)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, 4)), rng.integers(0, 2, 50)
    model = gpunet.Sequential([Input((4,)), Dense(5, activation="relu"), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return model.get_weights(), {k: v for k, v in history.history.items() if k != "epoch_time"}


def test_init_without_a_launcher_is_a_world_of_one_and_changes_nothing():
    before = _fit()
    try:
        world = distributed.init()
        assert (world.size, world.rank, distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, 1, 0, True)
        assert distributed.init() is world  # idempotent
        assert type(get_strategy()) is Strategy and step_module._WRAPPERS == []  # no wrapper, no per-step cost
        distributed.barrier()
        after = _fit()
    finally:
        distributed.shutdown()
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    assert before[1] == after[1]


def test_a_communicator_of_several_ranks_installs_the_strategy_until_shutdown():
    class Two(distributed.Communicator):
        size = 2

    try:
        distributed.init(Two())
        assert distributed.world_size() == 2 and distributed.strategy() is get_strategy()
        assert len(step_module._WRAPPERS) == 1
        with pytest.raises(RuntimeError, match="shutdown"):
            distributed.init(Two())
    finally:
        distributed.shutdown()
    assert type(get_strategy()) is Strategy and step_module._WRAPPERS == []
    assert gpunet.backend.noise_stream() == 0


@pytest.mark.parametrize("kwargs, error, name", [({"bucket_bytes": 0}, ValueError, "bucket_bytes"),
                                                 ({"overlap": "yes"}, TypeError, "overlap"),
                                                 ({"communicator": object()}, TypeError, "communicator")])
def test_bad_arguments_to_init(kwargs, error, name):
    with pytest.raises(error, match=name):
        distributed.init(**kwargs)
    assert not distributed.is_initialized()


def test_only_the_main_process_runs_the_callbacks_that_print_or_write(tmp_path):
    deciding = [EarlyStopping(monitor="loss"), History()]
    writing = [ProgbarLogger(2), CSVLogger(str(tmp_path / "log.csv")), ModelCheckpoint(str(tmp_path / "m.h5"))]
    everything = writing + deciding
    assert set(CallbackList(everything).callbacks) == set(everything)
    other = CallbackList(everything, main_process=False)
    assert set(other.callbacks) == set(deciding)
    assert all(cb.model is None for cb in everything)  # no model given; the filter only leaves out


def _python(code, env_extra=None):
    env = environment()
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60,
                          env=env, cwd=os.path.dirname(os.path.abspath(__file__)))


def test_gpunet_imports_and_trains_without_mpi4py():
    result = _python("""
        import sys
        sys.modules["mpi4py"] = None  # as if it were not installed
        import numpy as np, gpunet
        gpunet.distributed.init()
        model = gpunet.Sequential([gpunet.Input((3,)), gpunet.layers.Dense(2)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.ones((10, 3)), np.ones((10, 2)), epochs=1, verbose=0)
        print("ok", gpunet.distributed.world_size())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "1"]


def test_under_a_launcher_without_mpi4py_init_says_what_to_install():
    result = _python("""
        import sys
        sys.modules["mpi4py"] = None
        import gpunet
        print(gpunet.distributed.world_size(), gpunet.distributed.rank())
        gpunet.distributed.init()
    """, {"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_LOCAL_RANK": "1"})
    assert result.returncode != 0
    assert result.stdout.split() == ["2", "1"]
    assert "mpi4py is not installed" in result.stderr and 'pip install "gpunet[mpi]"' in result.stderr


def test_ranks_other_than_0_hide_warnings_without_changing_the_filters(monkeypatch, capsys):
    import warnings  # noqa: PLC0415

    monkeypatch.setenv("GPUNET_RANK_WARNINGS", "some")
    with pytest.raises(ValueError, match="GPUNET_RANK_WARNINGS must be 'main' or 'all'"):
        distributed._quiet_warnings(1)
    monkeypatch.delenv("GPUNET_RANK_WARNINGS")
    shown = warnings.showwarning
    distributed._quiet_warnings(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("seen by rank 0 only", UserWarning, stacklevel=1)
            warnings.simplefilter("error")
            with pytest.raises(UserWarning, match="still an error"):  # the filters act as before
                warnings.warn("still an error", UserWarning, stacklevel=1)
    finally:
        distributed._restore_warnings()
    assert warnings.showwarning is shown
    assert "seen by rank 0 only" not in capsys.readouterr().err


def test_the_two_host_rehearsal_says_why_it_cannot_run(monkeypatch):
    import two_hosts  # noqa: PLC0415

    monkeypatch.setattr(two_hosts.os, "geteuid", lambda: 1000)
    assert "needs root" in two_hosts.unavailable()
    monkeypatch.setattr(two_hosts.os, "geteuid", lambda: 0)
    monkeypatch.setattr(two_hosts.shutil, "which", lambda tool: None if tool == "nsenter" else "/bin/" + tool)
    assert two_hosts.unavailable() == "missing tools: nsenter (iproute2, util-linux)"
