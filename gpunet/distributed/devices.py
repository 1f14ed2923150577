"""Each rank's GPU, and the choice between NCCL and host staging that every rank makes alike.

Each rank takes the GPU numbered by its rank on its machine, modulo the machine's GPUs. NCCL wants
one GPU per rank: a communicator in which two ranks hold the same device fails at its creation
("duplicate GPU", ``ncclInvalidUsage``), which is what happens whenever a machine runs more ranks
than it has GPUs. So, before NCCL is touched, every rank learns every rank's facts (host, device,
the device's UUID and PCI address, whether CuPy has NCCL, the backend) over MPI, and each decides
from that same list, never from what only it knows: all of them choose NCCL, or all of them sum
their gradients with MPI on host copies ("host staging").

``GPUNET_NCCL=auto|on|off`` (or ``init(nccl=True|False)``, which wins over the variable) forces
either path: ``off`` stages through host memory, ``on`` demands NCCL and stops every rank with the
reason when it cannot be had.
"""

from __future__ import annotations

import os
import socket

from .. import backend

__all__ = ["ENVIRONMENT", "select_device", "device_facts", "shared_devices", "nccl_mode", "choose_transport"]

ENVIRONMENT = "GPUNET_NCCL"
_MODES = ("auto", "on", "off")


def select_device(local: int) -> int | None:
    """On a machine with GPUs, make device ``local % count`` this process's (before anything
    touches CUDA) and return its number; None on the CPU."""
    if os.environ.get("GPUNET_BACKEND", "auto").strip().lower() == "numpy":
        return None
    cupy = backend._import_cupy()
    if cupy is None:
        return None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no driver, no device: the CPU it is
        return None
    if not count:
        return None
    device = local % count
    cupy.cuda.Device(device).use()
    return device


def device_facts(nccl: bool) -> dict:
    """What this rank tells the others: its host, backend, whether CuPy has NCCL, and which
    physical GPU it holds (CUDA's UUID and PCI address, which no renumbering by
    ``CUDA_VISIBLE_DEVICES`` changes)."""
    facts = {"host": socket.gethostname(), "backend": backend.name(), "nccl": bool(nccl), "device": None,
             "uuid": None, "pci": None}
    if facts["backend"] != "cupy":
        return facts
    cupy = backend._import_cupy()
    facts["device"] = int(cupy.cuda.Device().id)
    try:
        properties = cupy.cuda.runtime.getDeviceProperties(facts["device"])
    except Exception:  # noqa: BLE001 - without properties the device's number on its host is all we know
        return facts
    uuid = properties.get("uuid")
    if isinstance(uuid, (bytes, bytearray)) and any(uuid):
        facts["uuid"] = bytes(uuid).hex()
    pci = [properties.get(key) for key in ("pciDomainID", "pciBusID", "pciDeviceID")]
    if all(isinstance(value, int) for value in pci):
        facts["pci"] = tuple(pci)
    return facts


def _identities(facts: dict) -> list:
    """The names under which a rank's device is known; two ranks share a device when they share
    a name. The UUID is unique everywhere; a PCI address only on its host (MIG slices of one GPU
    have UUIDs of their own but one PCI address, and NCCL refuses them too); the device's number
    stands in only when neither is known."""
    names = []
    if facts["uuid"] is not None:
        names.append(("uuid", facts["uuid"]))
    if facts["pci"] is not None:
        names.append(("pci", facts["host"], *facts["pci"]))
    if not names:
        names.append(("number", facts["host"], facts["device"]))
    return names


def shared_devices(every: list) -> list:
    """The groups of ranks (lists of rank numbers, two or more) that hold one device, from every
    rank's :func:`device_facts`."""
    holders: dict = {}
    for rank, facts in enumerate(every):
        if facts["backend"] == "cupy" and facts["device"] is not None:
            for name in _identities(facts):
                holders.setdefault(name, set()).add(rank)
    groups = {tuple(sorted(ranks)) for ranks in holders.values() if len(ranks) > 1}
    merged: list = []  # ranks linked through any shared name form one group
    for group in sorted(groups):
        group = set(group)
        for other in [m for m in merged if m & group]:
            merged.remove(other)
            group |= other
        merged.append(group)
    return sorted(sorted(group) for group in merged)


def nccl_mode(nccl: bool | None = None, environ=None) -> str:
    """``"auto"``, ``"on"`` or ``"off"``: ``init``'s ``nccl`` argument when given, else
    ``GPUNET_NCCL`` (``auto`` when unset)."""
    if nccl is not None:
        if not isinstance(nccl, bool):
            raise TypeError(f"nccl must be True, False or None, got {nccl!r}")
        return "on" if nccl else "off"
    environ = os.environ if environ is None else environ
    value = environ.get(ENVIRONMENT, "").strip().lower() or "auto"
    if value not in _MODES:
        raise ValueError(f"{ENVIRONMENT} must be one of {', '.join(_MODES)}, got {environ[ENVIRONMENT]!r}")
    return value


def _ranks(ranks) -> str:
    ranks = list(ranks)
    return f"rank {ranks[0]}" if len(ranks) == 1 else "ranks " + ", ".join(map(str, ranks[:-1])) + f" and {ranks[-1]}"


def _where(every: list, group: list) -> str:
    facts = every[group[0]]
    return f"one GPU of {facts['host']} (device {facts['device']} of {_ranks(group[:1])})"


def choose_transport(mode: str, every: list) -> tuple[str, str | None]:
    """``("nccl" | "mpi", note)`` from every rank's :func:`device_facts`: the same answer on every
    rank. ``note`` (or None) says why NCCL was passed over and how to have it; rank 0 prints it.
    Raises RuntimeError, on every rank alike, when ``mode`` is ``"on"`` and NCCL cannot be had."""
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if mode == "off":
        return "mpi", None
    demanded = f"{ENVIRONMENT}=on (or init(nccl=True)) demands NCCL, but"
    not_cupy = [r for r, facts in enumerate(every) if facts["backend"] != "cupy"]
    if not_cupy:
        if mode == "on":
            other = every[not_cupy[0]]["backend"]
            raise RuntimeError(f"{demanded} the backend of {_ranks(not_cupy)} is {other}, not CuPy: "
                               f"NCCL moves GPU arrays only (set GPUNET_BACKEND=cupy, or {ENVIRONMENT}=auto)")
        return "mpi", None
    without = [r for r, facts in enumerate(every) if not facts["nccl"]]
    if without:
        install = "install nvidia-nccl-cu12 (or -cu13) beside CuPy"
        if mode == "on":
            raise RuntimeError(f"{demanded} CuPy has no NCCL on {_ranks(without)}: {install}")
        if len(without) == len(every):
            return "mpi", None  # documented: without NCCL the gradients are staged through host memory
        return "mpi", (f"gpunet.distributed: CuPy has no NCCL on {_ranks(without)}, so every rank sums its "
                       f"gradients with MPI through host memory (slower): {install} on every machine")
    groups = shared_devices(every)
    if not groups:
        return "nccl", None
    shared = "; ".join(f"{_ranks(group)} share {_where(every, group)}" for group in groups)
    if mode == "on":
        raise RuntimeError(f"{demanded} {shared}, and NCCL needs a GPU of its own for each rank: start at most as "
                           f"many ranks per machine as it has GPUs, or set {ENVIRONMENT}=auto to sum the gradients "
                           "through host memory instead")
    return "mpi", (f"gpunet.distributed: {shared}. NCCL needs a GPU of its own for each rank, so every rank sums "
                   "its gradients with MPI through host memory instead (correct, but slower). To use NCCL, start "
                   "at most as many ranks per machine as it has GPUs (each rank takes the GPU of its rank on its "
                   f"machine); {ENVIRONMENT}=off chooses host staging without this note.")
