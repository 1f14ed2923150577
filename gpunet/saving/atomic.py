"""Atomic file replacement: a crash at any moment leaves either the old file or the new one."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile

__all__ = ["atomic_write", "TEMP_SUFFIX"]

TEMP_SUFFIX = ".gpunet-tmp"


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path):
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path`` atomically.

    The temporary file is flushed to disk (fsync) before ``os.replace``, and the folder is synced
    after, so a process killed or a machine stopped at any moment leaves the previous file intact
    and loadable. On failure the temporary file is removed and an ``OSError`` naming ``path``
    is raised. A temporary file left by a writer killed mid-save is removed by the next save of
    the same file, so they never pile up.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save {path!r}: the folder {directory!r} does not exist")
    prefix = f".{os.path.basename(path)}."
    for stale in glob.glob(os.path.join(glob.escape(directory), glob.escape(prefix) + "*" + TEMP_SUFFIX)):
        with contextlib.suppress(OSError):  # left by a writer that was killed mid-save
            os.remove(stale)
    try:
        fd, temp = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=directory)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot save {path!r}: {exc.strerror}", path) from None
    os.close(fd)
    try:
        yield temp
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.remove(temp)
        if isinstance(exc, OSError) and path not in str(exc):
            raise OSError(exc.errno, f"cannot save {path!r}: {exc.strerror or exc}", path) from exc
        raise
    _fsync_directory(directory)
