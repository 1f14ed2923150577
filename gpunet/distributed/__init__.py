"""Data-parallel training across processes: MPI for the ranks, NCCL between GPUs.

A script calls :func:`init` once and runs unchanged under a launcher::

    import gpunet
    gpunet.distributed.init()          # a world of one when no launcher started this process
    ...
    model.fit(x, y, batch_size=512)    # 512 is the global batch, split over the ranks

    $ mpirun -n 4 python train.py      # or srun -n 4 python train.py under Slurm

Every rank trains the same model on its slice of each global batch; gradients are averaged over
the ranks before each update, so N ranks make the updates one process would make (see
``docs/distributed.md``). Without a launcher, or with one process, nothing changes and mpi4py is
not needed; with several, ``pip install "gpunet[mpi]"``.

    launch.py        which launcher started this process (its environment variables)
    communicator.py  the collectives: a world of one, and MPI (mpi4py)
    nccl.py          NCCL between GPUs (CuPy), the unique id broadcast over MPI
    devices.py       each rank's GPU; NCCL or host staging, chosen alike by every rank
    sharding.py      each rank's slice of every global batch
    buckets.py       gradients flattened into buckets, all-reduced during the backward pass
    step.py          the train-step wrapper that averages the gradients
    metrics.py       loss and metrics summed over the ranks
    strategy.py      DataParallel: what fit does differently over several ranks
    faults.py        a failure in one rank ends every rank
    watchdog.py      a rank that stops arriving at the collectives ends every rank, named
"""

from __future__ import annotations

import os
import sys
import warnings

from .. import backend
from ..layers.normalization import set_cross_process_sum
from ..training.step import add_train_step_wrapper, remove_train_step_wrapper
from ..training.strategy import set_strategy
from .buckets import DEFAULT_BUCKET_BYTES
from .communicator import Communicator, MPICommunicator
from .devices import choose_transport, device_facts, nccl_mode, select_device
from .faults import RankMismatchError, abort_on_failure, install_excepthook, restore_excepthook
from .launch import launched_local_rank, launched_rank, launched_size, launcher_name
from .sharding import shard_bounds
from .strategy import DataParallel
from .watchdog import Watchdog, collective_timeout as _collective_timeout

__all__ = ["init", "shutdown", "is_initialized", "rank", "world_size", "local_rank", "is_main", "barrier",
           "communicator", "strategy", "Communicator", "RankMismatchError", "shard_bounds"]

_communicator: Communicator | None = None
_strategy: DataParallel | None = None
_watchdog: Watchdog | None = None
_INSTALL = 'pip install "gpunet[mpi]"'


def _open_world(asynchronous: str, mode: str) -> Communicator:
    try:
        import mpi4py  # noqa: F401, PLC0415 - optional dependency
    except ImportError:
        raise RuntimeError(f"this process was started by {launcher_name()} as one of {launched_size()} ranks, but "
                           f"mpi4py is not installed, so the ranks cannot talk: {_INSTALL}") from None
    world = MPICommunicator(asynchronous=asynchronous)
    with abort_on_failure(world):  # a rank that fails alone must not leave the others waiting
        select_device(world.local_rank)
        has_nccl = False
        if backend.name() == "cupy":
            from .nccl import nccl_available  # noqa: PLC0415

            has_nccl = nccl_available()
        facts = device_facts(has_nccl)
    every = world.allgather_object(facts)  # one list, the same on every rank: they all choose alike
    transport, note = choose_transport(mode, every)
    if note is not None and world.rank == 0:
        sys.stderr.write(note + "\n")
        sys.stderr.flush()
    if transport == "mpi":
        return world
    from .nccl import NCCLCommunicator  # noqa: PLC0415

    with abort_on_failure(world):  # nor one that fails inside NCCL
        return NCCLCommunicator(world.comm, asynchronous=asynchronous)


def _agree_on_timeout(communicator: Communicator, timeout: float | None) -> None:
    """Every rank must watch alike (the watchdog's own communicator is made by all or none)."""
    every = communicator.allgather_object(timeout)
    if any(t != every[0] for t in every):
        shown = ", ".join(f"rank {r}: {'off' if t is None else f'{t:g} s'}" for r, t in enumerate(every))
        raise RankMismatchError(f"the ranks were started with different collective timeouts ({shown}): give every rank "
                                "the same init(collective_timeout=...) and GPUNET_COLLECTIVE_TIMEOUT")


def init(communicator: Communicator | None = None, *, bucket_bytes: int = DEFAULT_BUCKET_BYTES,
         overlap: bool | None = None, asynchronous: str = "thread", nccl: bool | None = None,
         collective_timeout: float | None | str = "auto") -> Communicator:
    """Join the job this process was started in; returns its :class:`Communicator`.

    Under ``mpirun``/``mpiexec``/``srun`` with several processes: MPI, and every fit becomes
    data-parallel. Each rank takes the GPU of its rank on its machine; the gradients travel by
    NCCL when every rank computes with CuPy, has NCCL and holds a GPU of its own, and otherwise
    through host memory by MPI (rank 0 says why when ranks share a GPU). Otherwise a world of
    one, and nothing changes. Calling it again returns the same communicator.

    Args:
        communicator: use this one instead of detecting the launcher (tests, custom transports).
        bucket_bytes: the size of the gradient buckets (4 MiB by default).
        overlap: start each bucket's all-reduce as soon as it is complete during the backward
            pass (True), or all of them after it (False). None (the default) overlaps on NCCL,
            whose all-reduce runs on the GPU's own stream, and not on MPI between CPU ranks, where
            the all-reduce's copies and sums compete with the backward pass for the same cores and
            overlapping measured slower (``docs/distributed.md``).
        asynchronous: how MPI runs a bucket's all-reduce meanwhile: ``"thread"`` (a blocking
            all-reduce on a communication thread) or ``"request"`` (MPI's non-blocking
            ``Iallreduce``); see :class:`MPICommunicator`.
        nccl: between GPUs, True demands NCCL (an error when ranks share a GPU or lack NCCL),
            False sums the gradients through host memory by MPI, None (the default) follows
            ``GPUNET_NCCL=auto|on|off`` (``auto`` when unset: NCCL where it can run).
        collective_timeout: seconds a collective may wait for the other ranks before every rank
            ends, with a message naming the late rank(s), the collective and where in fit. 0 or
            None: no watchdog. ``"auto"`` (the default) follows ``GPUNET_COLLECTIVE_TIMEOUT``,
            and is 300 s when that is unset. Every rank must be given the same value.
    """
    global _communicator, _strategy, _watchdog
    if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, int) or bucket_bytes < 1:
        raise ValueError(f"bucket_bytes must be a positive integer, got {bucket_bytes!r}")
    if asynchronous not in ("thread", "request"):
        raise ValueError(f"asynchronous must be 'thread' or 'request', got {asynchronous!r}")
    if overlap is not None and not isinstance(overlap, bool):
        raise TypeError(f"overlap must be True or False, got {overlap!r}")
    if communicator is not None and not isinstance(communicator, Communicator):
        raise TypeError(f"communicator must be a gpunet.distributed.Communicator, got {type(communicator).__name__}")
    mode = nccl_mode(nccl)
    timeout = _collective_timeout(collective_timeout)
    if _communicator is not None:
        if communicator is not None and communicator is not _communicator:
            raise RuntimeError("gpunet.distributed is initialised already; call shutdown() first")
        return _communicator
    if communicator is None:
        communicator = Communicator() if launched_size() == 1 else _open_world(asynchronous, mode)
    if communicator.size > 1:
        _agree_on_timeout(communicator, timeout)
    _communicator = communicator
    if communicator.size > 1:
        backend.set_noise_stream(communicator.rank)  # the same shuffling everywhere, other dropout masks
        if overlap is None:
            overlap = communicator.name == "nccl"
        _strategy = DataParallel(communicator, bucket_bytes=bucket_bytes, overlap=overlap)
        set_strategy(_strategy)
        add_train_step_wrapper(_strategy.wrap)
        install_excepthook(communicator)
        if timeout is not None and isinstance(communicator, MPICommunicator):
            _watchdog = communicator.watchdog = Watchdog(communicator, timeout, where=_strategy.where)
        set_cross_process_sum(_cross_process_sum(communicator))
        _quiet_warnings(communicator.rank)
    return communicator


_shown_warning = None


def _quiet_warnings(rank: int) -> None:
    """Warnings print once, on rank 0: every rank runs the same code and would print the same
    warning N times. On the other ranks Python's warnings are still raised and filtered (a filter
    that makes them errors still does), only not printed. ``GPUNET_RANK_WARNINGS=all`` prints them
    on every rank, each line prefixed with its rank (to see a warning only one rank meets)."""
    global _shown_warning
    mode = os.environ.get("GPUNET_RANK_WARNINGS", "main").strip().lower() or "main"
    if mode not in ("main", "all"):
        raise ValueError(f"GPUNET_RANK_WARNINGS must be 'main' or 'all', got {mode!r}")
    if rank == 0 or _shown_warning is not None:
        return
    _shown_warning = warnings.showwarning
    if mode == "main":
        warnings.showwarning = _hidden
    else:
        def prefixed(message, category, filename, lineno, file=None, line=None):
            text = warnings.formatwarning(message, category, filename, lineno, line)
            (file or sys.stderr).write("".join(f"[rank {rank}] {part}" for part in text.splitlines(True)))

        warnings.showwarning = prefixed


def _hidden(message, category, filename, lineno, file=None, line=None) -> None:
    """What a rank other than 0 does with a warning it would print: nothing (rank 0 prints it)."""


def _restore_warnings() -> None:
    global _shown_warning
    if _shown_warning is not None:
        warnings.showwarning = _shown_warning
        _shown_warning = None


def _cross_process_sum(communicator: Communicator):
    """The sum over the ranks that ``BatchNormalization(synchronized=True)`` takes its statistics
    through. Over MPI it runs on a duplicate of the world's communicator: the gradient buckets'
    all-reduces may be under way on the communication thread (or NCCL's stream) meanwhile, and
    collectives of two threads must not share one communicator. The statistics are small (two
    numbers per feature), so NCCL ranks send them through host memory by MPI too. Watched by the
    job's watchdog like every other collective."""
    comm = getattr(communicator, "comm", None)
    if comm is None:  # a communicator of another kind (tests): its own all-reduce
        return communicator.allreduce
    own = MPICommunicator(comm.Dup())

    def sum_over(array) -> None:
        own.watchdog = communicator.watchdog
        own.allreduce(array)

    return sum_over


def shutdown() -> None:
    """Leave data-parallel mode in this process: fit trains alone again (the MPI library itself
    is finalised when the process exits)."""
    global _communicator, _strategy, _watchdog
    if _watchdog is not None:
        _watchdog.stop()
        _communicator.watchdog = _watchdog = None
    set_cross_process_sum(None)
    _restore_warnings()
    if _strategy is not None:
        remove_train_step_wrapper(_strategy.wrap)
        set_strategy(None)
        backend.set_noise_stream(0)
        restore_excepthook()
    _communicator = _strategy = None


def is_initialized() -> bool:
    return _communicator is not None


def communicator() -> Communicator:
    """The communicator of :func:`init` (a world of one before it)."""
    return _communicator if _communicator is not None else Communicator()


def strategy() -> DataParallel | None:
    """The data-parallel strategy fit follows, or None in a world of one."""
    return _strategy


def rank() -> int:
    """This process's rank, 0 to ``world_size() - 1`` (before :func:`init`: as the launcher numbered it)."""
    return _communicator.rank if _communicator is not None else launched_rank()


def world_size() -> int:
    """The number of ranks (before :func:`init`: as many as the launcher started)."""
    return _communicator.size if _communicator is not None else launched_size()


def local_rank() -> int:
    """This process's rank among the ranks on its machine (its GPU's number)."""
    if _communicator is not None:
        return _communicator.local_rank
    local = launched_local_rank()
    return 0 if local is None else local


def is_main() -> bool:
    """Whether this is rank 0, the one that prints and writes files."""
    return rank() == 0


def barrier() -> None:
    """Return once every rank has called it."""
    communicator().barrier()
