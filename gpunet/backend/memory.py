"""What the device can still hold: the bound a layer's buffers are checked against before they
are allocated.

A convolution's gathered windows (im2col), a padded copy of its input or a pooling layer's
buffers grow with the batch and the image. When they cannot fit, NumPy raises a bare
``MemoryError`` from deep inside an op, or (memory being overcommitted) the allocation succeeds
and the kernel's out-of-memory killer ends the process later. Layers therefore estimate their
buffers from the shapes and call :func:`check_workspace`, once per input shape, which compares the
estimate with :func:`available_bytes` and raises :class:`WorkspaceError` with what to do.

The bound, measured at the time of the check:

- host: the smallest of the system's available memory (``MemAvailable`` in ``/proc/meminfo``;
  swap is not counted), the room left under the process's cgroup memory limit (page cache
  counted as free), and the room left under its address-space and data limits (``ulimit -v``,
  ``ulimit -d``);
- GPU: the device's free memory plus what CuPy's memory pool holds unused, within the pool's
  limit when one is set.

``GPUNET_MEMORY_LIMIT`` or :func:`set_memory_limit` replace it: a size (``"24G"``, ``"512MiB"``,
a number of bytes), ``"auto"`` (measured, the default) or ``"off"`` (no check).
"""

from __future__ import annotations

import math
import numbers
import os
import re

import numpy

from .device import capturing, cupy_module

__all__ = ["WorkspaceError", "available_bytes", "check_workspace", "format_bytes", "memory_limit", "parse_size",
           "set_memory_limit"]

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)
_limit = None  # set_memory_limit's value: None (see GPUNET_MEMORY_LIMIT), "auto", "off" or a number of bytes


class WorkspaceError(MemoryError):
    """A layer's buffers for a batch would exceed what the device can hold; raised before any of
    them is allocated (a ``MemoryError``, so code that retries with a smaller batch on
    ``MemoryError`` catches it too)."""


def format_bytes(count) -> str:
    """``count`` bytes in words: ``"512 B"``, ``"3.2 MiB"``, ``"96.0 GiB"``."""
    count = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{int(count)} B" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"  # pragma: no cover - the loop always returns


def parse_size(value, name: str):
    """``value`` as ``"auto"``, ``"off"`` or a positive number of bytes, or a ValueError naming ``name``."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "auto"):
            return "auto"
        if text in ("off", "none", "unlimited"):
            return "off"
        match = _SIZE.fullmatch(text)
        if match is not None:
            value = float(match.group(1)) * _UNITS[match.group(2).lower()]
        else:
            value = None
    elif value is None:
        return "auto"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 1:
        raise ValueError(f"{name} must be a size such as 8G, 512MiB or a number of bytes, 'auto' (measured) or 'off' "
                         f"(no check), got {value!r}")
    return int(value)


def set_memory_limit(limit) -> None:
    """Bound the memory a layer's buffers may take, instead of measuring what the device can hold.

    Args:
        limit: a number of bytes, a size string (``"8G"``, ``"512MiB"``; K, M, G, T are powers of
            1024), ``"off"`` (never refuse a batch; the backend's own ``MemoryError`` then stands),
            or ``None`` / ``"auto"`` (measure; the default, unless ``GPUNET_MEMORY_LIMIT`` says
            otherwise). Checks already passed for a shape are not repeated.

    Example::

        gpunet.backend.set_memory_limit("48G")   # a machine with swap the measure leaves out
    """
    global _limit
    _limit = None if limit is None else parse_size(limit, "limit")


def memory_limit():
    """The bound in force: ``"auto"`` (measured), ``"off"``, or a number of bytes."""
    if _limit is not None:
        return _limit
    return parse_size(os.environ.get("GPUNET_MEMORY_LIMIT", "auto"), "GPUNET_MEMORY_LIMIT")


# ----------------------------------------------------------------------------------------------
# measuring
# ----------------------------------------------------------------------------------------------
def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def _field(text: str | None, key: str) -> int | None:
    """The number after ``key`` in a ``key value`` listing (``/proc/meminfo``, ``memory.stat``)."""
    if text is None:
        return None
    match = re.search(rf"^{re.escape(key)}:?\s+(\d+)", text, re.MULTILINE)
    return None if match is None else int(match.group(1))


def _number(text: str | None) -> int | None:
    """The integer a cgroup file holds, or None (missing, or ``max``: no limit)."""
    if text is None or not text.strip().isdigit():
        return None
    return int(text.strip())


def _cgroup_rooms(read=_read) -> list:
    """The room left under each memory limit of this process's cgroups (v2, then v1), page cache
    counted as free since the kernel reclaims it first; ``read(path)`` gives a file's text or None."""
    rooms = []
    for line in (read("/proc/self/cgroup") or "").splitlines():
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if controllers == "" and line.count(":") >= 2:  # cgroup v2: each level up from the process's group
            folder = "/sys/fs/cgroup" + path.rstrip("/")
            while folder.startswith("/sys/fs/cgroup"):
                limit, used = _number(read(folder + "/memory.max")), _number(read(folder + "/memory.current"))
                if limit is not None and used is not None:
                    stat = read(folder + "/memory.stat")
                    cache = (_field(stat, "file") or 0) - (_field(stat, "shmem") or 0)
                    rooms.append(limit - used + max(cache, 0))
                folder = os.path.dirname(folder)
        elif "memory" in controllers.split(","):  # cgroup v1: the process's group (its hierarchical limit)
            for folder in ("/sys/fs/cgroup/memory" + path.rstrip("/"), "/sys/fs/cgroup/memory"):
                stat = read(folder + "/memory.stat")
                limit = _field(stat, "hierarchical_memory_limit") or _number(read(folder + "/memory.limit_in_bytes"))
                used = _number(read(folder + "/memory.usage_in_bytes"))
                if stat is not None and limit is not None and used is not None:
                    if limit < 1 << 60:  # the kernel's "no limit" is a number near 2**63
                        cache = (_field(stat, "total_cache") or 0) - (_field(stat, "total_shmem") or 0)
                        rooms.append(limit - used + max(cache, 0))
                    break
    return rooms


def _rlimit_rooms() -> list:
    """The room left under ``ulimit -v`` (address space) and ``ulimit -d`` (data, which counts
    NumPy's large allocations on Linux)."""
    try:
        import resource  # noqa: PLC0415 - POSIX only
    except ImportError:
        return []
    status = _read("/proc/self/status")
    rooms = []
    for limit_name, key in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        soft, _ = resource.getrlimit(getattr(resource, limit_name))
        used = _field(status, key)
        if soft != resource.RLIM_INFINITY and used is not None:
            rooms.append(soft - used * 1024)
    return rooms


def _host_available() -> int | None:
    available = _field(_read("/proc/meminfo"), "MemAvailable")
    if available is not None:
        available *= 1024
    else:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            available = None
    rooms = [room for room in (available, *_cgroup_rooms(), *_rlimit_rooms()) if room is not None]
    return max(0, min(rooms)) if rooms else None


def _device_available(cupy) -> int | None:
    try:
        free, total = cupy.cuda.runtime.memGetInfo()
        pool = cupy.get_default_memory_pool()
        free += pool.free_bytes()
        limit = pool.get_limit()
        if limit:
            free = min(free, limit - pool.used_bytes())
    except Exception:  # noqa: BLE001 - a runtime that cannot say: no bound
        return None
    return None if not total else max(0, int(free))


def available_bytes(xp=None) -> int | None:
    """Bytes the device of array module ``xp`` (default: the host) can still hand out, as
    :func:`memory_limit` says: measured, the set bound, or None (no check, or nothing to measure)."""
    limit = memory_limit()
    if limit == "off":
        return None
    if limit != "auto":
        return limit
    if xp is None or xp is numpy:
        return _host_available()
    cupy = cupy_module()
    return _device_available(cupy) if cupy is not None and xp is cupy else None


def check_workspace(estimate, batch: int, what: str, xp=None) -> None:
    """Raise :class:`WorkspaceError` when ``estimate(batch)`` bytes, the buffers ``what`` needs for a
    batch of ``batch`` samples, exceed :func:`available_bytes` on the device of ``xp``.
    ``estimate(n)`` must grow with ``n``: the message gives the largest batch whose estimate takes
    at most three quarters of what is available (the estimate leaves out small temporaries).
    Example::

        check_workspace(lambda n: n * 2**30, 64, "Conv2D layer 'conv2d' on inputs of shape (512, 512, 3)")
        # WorkspaceError: Conv2D layer 'conv2d' on inputs of shape (512, 512, 3) needs about 64.0 GiB of
        # buffers for a batch of 64, more than the 22.8 GiB the host has available now. Use a batch of
        # at most 22 (batch_size=22); ...
    """
    if capturing():  # a CUDA graph being captured replays a step whose shapes were checked
        return
    needed = estimate(batch)
    available = available_bytes(xp)
    if available is None or needed <= available:
        return
    if memory_limit() == "auto":
        bound = f"the {format_bytes(available)} {'the host' if xp is None or xp is numpy else 'the GPU'} has available now"
        raise_it = "if the memory is really there (swap), set GPUNET_MEMORY_LIMIT=<size> or call " \
                   "gpunet.backend.set_memory_limit(<size>)"
    else:
        bound = f"the {format_bytes(available)} allowed by GPUNET_MEMORY_LIMIT or gpunet.backend.set_memory_limit()"
        raise_it = "raise that bound if the memory is really there"
    room = available * 3 // 4  # headroom for what the estimate leaves out: small temporaries, the other layers
    low, high = 0, batch  # the largest batch that fits the room lies in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if estimate(middle) <= room else (low, middle)
    advice = f"Use a batch of at most {low} (batch_size={low})" if low else \
        "Even one sample does not fit: use smaller inputs, fewer filters or larger strides"
    raise WorkspaceError(f"{what} needs about {format_bytes(needed)} of buffers for a batch of {batch}, more than "
                         f"{bound}. {advice}; {raise_it}")
