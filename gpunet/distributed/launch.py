"""What the launcher tells a process through its environment: is this a rank of a parallel job?

``mpirun`` (Open MPI), ``mpiexec`` (MPICH, Intel MPI and other Hydra-based launchers) and Slurm's
``srun`` each set a few variables in every process they start. Reading them lets gpunet know, before
it imports MPI, whether it runs alone (a world of one, no MPI needed) or as one of several ranks.
"""

from __future__ import annotations

import os

__all__ = ["launched_size", "launched_rank", "launched_local_rank", "launcher_name"]

# (launcher, variable holding the world size, its rank, its rank on this machine)
_LAUNCHERS = (
    ("mpirun (Open MPI)", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("mpiexec (Hydra)", "PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID"),
    ("srun (Slurm)", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID", "SLURM_LOCALID"),
)


def _number(name: str, environ) -> int | None:
    text = environ.get(name, "").strip()
    try:
        return int(text)
    except ValueError:
        return None


def _detected(environ=None):
    environ = os.environ if environ is None else environ
    for launcher, size, rank, local in _LAUNCHERS:
        count = _number(size, environ)
        # Slurm sets SLURM_STEP_NUM_TASKS only inside a job step (srun), not in a batch script
        if count is not None and count >= 1 and _number(rank, environ) is not None:
            return launcher, count, _number(rank, environ), _number(local, environ)
    return None


def launcher_name(environ=None) -> str | None:
    """Which launcher started this process (``"mpirun (Open MPI)"``...), or None."""
    found = _detected(environ)
    return None if found is None else found[0]


def launched_size(environ=None) -> int:
    """The number of processes the launcher started (1 when there is no launcher)."""
    found = _detected(environ)
    return 1 if found is None else found[1]


def launched_rank(environ=None) -> int:
    """This process's rank as the launcher numbered it (0 when there is no launcher)."""
    found = _detected(environ)
    return 0 if found is None else found[2]


def launched_local_rank(environ=None) -> int | None:
    """This process's rank among those on its machine, when the launcher says (else None)."""
    found = _detected(environ)
    return None if found is None else found[3]
