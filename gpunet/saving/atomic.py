"""Atomic file replacement: a crash at any moment leaves either the old file or the new one.

``check_target(path)`` says, before any work, whether ``path`` can be saved (``fit`` calls it for
its checkpoint paths, so that a bad path fails before training rather than at the first save);
``atomic_write(path)`` calls it again and yields a temporary file to write, which replaces the
target when the caller's block ends without error.

What is at ``path``:

- nothing: a new file is created, with the permissions any file the user creates gets
  (``0666 & ~umask``, and the folder's default ACL if it has one);
- a regular file: it is replaced; the new file keeps its mode (and, where the OS allows, its owner
  and group), as writing it in place would. Hard links to it keep the old contents, and ACLs and
  extended attributes are not copied;
- a symbolic link (or a chain of them, or links among the folders): the file it finally points to
  is written, atomically, with the temporary file in *that* file's folder; the link stays a link.
  A dangling link creates the file it points to, if that file's folder exists (what
  ``open(link, "w")`` does);
- anything else (a folder, a FIFO, a socket, a device): refused.

A file or folder the user could not write is refused, as the OS would refuse writing it in place:
by the OS's own answer (``os.access``: modes, ACLs, read-only mounts) and, because root passes
every permission check, for root also by the owner's write bit, so that a file marked read-only
(``chmod a-w``, e.g. 0444) or a folder marked read-only (0555) is refused for root too. (Root is
judged by the *owner's* bits, not the "other" bits, on another user's files, so that root in a
container can still save into a folder the host user owns.)

Temporary files are named ``.NAME.HASH.HOST.PID.RANDOM.gpunet-tmp`` in the target's folder:
NAME is the target's name cut to 40 characters (so a legal 255-character name still fits),
HASH the first 12 hex digits of the SHA-256 of the target's whole name (so it names exactly one
target), HOST a short hash of the host name and PID the writer's process id. A save removes a
temporary file of the same target only when it is provably abandoned: written on this host by a
process that no longer exists, and untouched for ``STALE_AFTER`` seconds (10 minutes). So
concurrent saves of one path never disturb each other: each replaces the target in turn with a
complete file, and the last one wins.

Every error is an exception whose message names the user's path (never the temporary file):
``ValueError`` for an empty path or a target that is not a regular file, ``FileNotFoundError``,
``NotADirectoryError``, ``IsADirectoryError``, ``PermissionError`` or another ``OSError`` (with its
errno) for the rest.

A Ctrl-C (SIGINT) during a save is deferred until the save has finished or rolled back (see
``gpunet.interrupts``), then raises ``KeyboardInterrupt`` as usual.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import socket
import stat
import threading
import time

from ..interrupts import defer_interrupts

__all__ = ["atomic_write", "check_target", "check_folder", "TEMP_SUFFIX", "STALE_AFTER"]

TEMP_SUFFIX = ".gpunet-tmp"
STALE_AFTER = 600.0  # seconds without a write before a dead writer's temporary file may be removed
_NAME_KEPT = 40  # characters of the target's name kept in its temporary file's name

_in_progress: set = set()  # temporary files this process is writing now
_in_progress_lock = threading.Lock()


# ----------------------------------------------------------------------------------------------
# checking the target
# ----------------------------------------------------------------------------------------------
def _user_path(path) -> str:
    try:
        user = os.fspath(path)
    except TypeError:
        raise TypeError(f"cannot save to {path!r}: expected a path (str or os.PathLike), got {type(path).__name__}") from None
    if isinstance(user, bytes):
        user = os.fsdecode(user)
    if not user:
        raise ValueError("cannot save '': the path is empty")
    if "\0" in user:
        raise ValueError(f"cannot save {user!r}: the path contains a NUL character")
    return user


def _describe(user: str, real: str) -> str:
    if os.path.abspath(user) == real:
        return repr(user)
    return f"{user!r} (which leads to {real!r})"


def _error(cls, code, user, real, reason):
    return cls(code, f"cannot save {_describe(user, real)}: {reason}")


def _wrapped(exc: OSError, user: str, real: str, temp: str | None = None) -> OSError:
    """``exc`` again, its message naming the user's path instead of any temporary file."""
    reason = exc.strerror or str(exc)
    if temp is not None:
        reason = reason.replace(temp, user).replace(os.path.basename(temp), os.path.basename(user))
    message = f"cannot save {_describe(user, real)}: {reason}"
    try:
        new = type(exc)(exc.errno, message) if exc.errno is not None else type(exc)(message)
    except Exception:  # noqa: BLE001 - a subclass with another signature
        new = OSError(exc.errno, message) if exc.errno is not None else OSError(message)
    return new


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _may_write(path: str, st: os.stat_result, folder: bool) -> bool:
    """Whether the user may write ``path`` (create and remove entries in it, for a folder)."""
    need = os.W_OK | (os.X_OK if folder else 0)
    if not os.access(path, need, effective_ids=os.access in os.supports_effective_ids):
        return False
    if _is_root():  # os.access says yes to root for anything on a writable mount: ask the mode bits
        bits = stat.S_IWUSR | (stat.S_IXUSR if folder else 0)
        return st.st_mode & bits == bits
    return True


_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _check(user: str, real: str, need_target: bool) -> os.stat_result | None:
    """Check ``real``'s folder and (if ``need_target``) ``real`` itself; returns the target's stat or None."""
    folder = os.path.dirname(real)
    try:
        fst = os.stat(folder)
    except FileNotFoundError:
        raise _error(FileNotFoundError, errno.ENOENT, user, real, f"the folder {folder!r} does not exist") from None
    except OSError as exc:
        raise _wrapped(exc, user, real) from None
    if not stat.S_ISDIR(fst.st_mode):
        raise _error(NotADirectoryError, errno.ENOTDIR, user, real, f"{folder!r} is not a folder")
    st = None
    if need_target:
        try:
            st = os.stat(real)
        except FileNotFoundError:
            st = None
        except OSError as exc:  # ELOOP (a loop of links), ENAMETOOLONG, EACCES...
            raise _wrapped(exc, user, real) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise _error(IsADirectoryError, errno.EISDIR, user, real, "it is a folder")
        if not stat.S_ISREG(st.st_mode):
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "a special file")
            raise ValueError(f"cannot save {_describe(user, real)}: it is {kind}, not a regular file; "
                             "gpunet saves only to regular files")
        if not _may_write(real, st, folder=False):
            raise _error(PermissionError, errno.EACCES, user, real,
                         f"the file is read-only (mode {stat.S_IMODE(st.st_mode):04o}) for this user")
    if not _may_write(folder, fst, folder=True):
        raise _error(PermissionError, errno.EACCES, user, real,
                     f"the folder {folder!r} is not writable (mode {stat.S_IMODE(fst.st_mode):04o}) for this user")
    if (st is not None and fst.st_mode & stat.S_ISVTX and hasattr(os, "geteuid")
            and os.geteuid() not in (0, st.st_uid, fst.st_uid)):
        raise _error(PermissionError, errno.EPERM, user, real,
                     f"the file belongs to another user in the sticky folder {folder!r}")
    return st


def _resolve(user: str) -> str:
    real = os.path.realpath(user)
    if user.endswith(os.sep) or (os.altsep and user.endswith(os.altsep)) or os.path.basename(user) in (".", ".."):
        if os.path.isdir(real):
            raise _error(IsADirectoryError, errno.EISDIR, user, real, "it is a folder")
        raise _error(IsADirectoryError, errno.EISDIR, user, real, "a file name cannot end with a path separator")
    return real


def check_target(path) -> str:
    """Check that ``path`` can be saved, and return the real path that a save writes.

    Follows symbolic links (the returned path is the file a link finally points to, which need not
    exist yet) and checks that the target is a regular file the user may write, or does not exist
    in a folder the user may write. Raises ``ValueError`` (empty path, not a regular file),
    ``FileNotFoundError`` (missing folder), ``NotADirectoryError``, ``IsADirectoryError`` or
    ``PermissionError`` (or another ``OSError``, e.g. for a loop of links), each naming ``path``.
    Creates nothing. ``atomic_write`` calls it; ``fit`` calls it before training.
    """
    user = _user_path(path)
    real = _resolve(user)
    _check(user, real, need_target=True)
    return real


def check_folder(path) -> str:
    """Check that files can be created in the folder ``path`` names (the name itself is ignored,
    e.g. ``'ck-{epoch:02d}.h5'``, filled in later); return the real folder. Raises as
    ``check_target`` does, naming ``path``."""
    user = _user_path(path)
    real = os.path.join(os.path.realpath(os.path.dirname(user) or os.curdir), os.path.basename(user))
    _check(user, real, need_target=False)
    return os.path.dirname(real)


# ----------------------------------------------------------------------------------------------
# temporary files
# ----------------------------------------------------------------------------------------------
def _target_hash(name: str) -> str:
    return hashlib.sha256(os.fsencode(name)).hexdigest()[:12]


def _host_hash() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:6]


def _temp_prefix(name: str) -> str:
    return f".{name[:_NAME_KEPT]}.{_target_hash(name)}.{_host_hash()}."


def _pid_alive(pid: int, temp: str) -> bool:
    if pid == os.getpid():
        with _in_progress_lock:
            return temp in _in_progress
    if os.name != "posix":  # no harmless way to ask elsewhere: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    return True


def _remove_abandoned(folder: str, name: str) -> None:
    """Remove this target's temporary files whose writer died on this host over STALE_AFTER ago."""
    prefix = _temp_prefix(name)
    now = time.time()
    try:
        entries = os.scandir(folder)
    except OSError:
        return
    with entries:
        for entry in entries:
            candidate = entry.name
            if not (candidate.startswith(prefix) and candidate.endswith(TEMP_SUFFIX)):
                continue
            fields = candidate[len(prefix):-len(TEMP_SUFFIX)].split(".")
            if len(fields) != 2 or not (fields[0].isascii() and fields[0].isdigit()) or int(fields[0]) <= 0:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < STALE_AFTER:
                continue
            if _pid_alive(int(fields[0]), entry.path):
                continue
            with contextlib.suppress(OSError):  # gone already (another save removed it), or not ours to remove
                os.remove(entry.path)


def _create_temp(folder: str, name: str, st: os.stat_result | None) -> tuple:
    """Create an empty temporary file next to the target; returns (path, mode the result must have)."""
    # new file: 0666 & ~umask (the kernel applies the umask and any default ACL); replacing one:
    # its mode, but at most what the umask allows until the end, and never unreadable to us
    mode = 0o666 if st is None else (stat.S_IMODE(st.st_mode) & 0o777) | 0o600
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for attempt in range(100):
        temp = os.path.join(folder, f"{_temp_prefix(name)}{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(temp, flags, mode)
        except FileExistsError:
            if attempt == 99:
                raise
            continue
        break
    try:
        with _in_progress_lock:
            _in_progress.add(temp)
        final = stat.S_IMODE(os.fstat(fd).st_mode) if st is None else stat.S_IMODE(st.st_mode)
    finally:
        os.close(fd)
    return temp, final


def _finish(temp: str, real: str, st: os.stat_result | None, mode: int) -> None:
    """Give the temporary file its final owner and mode, flush it to disk, and put it in place."""
    current = os.lstat(temp)
    if st is not None and (current.st_uid, current.st_gid) != (st.st_uid, st.st_gid) and hasattr(os, "chown"):
        try:
            os.chown(temp, st.st_uid, st.st_gid)
        except OSError:  # not allowed to give files away: keep at least the group if we can
            with contextlib.suppress(OSError):
                os.chown(temp, -1, st.st_gid)
    if stat.S_IMODE(os.lstat(temp).st_mode) != mode:
        os.chmod(temp, mode)
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, real)


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
    """Yield a temporary path in the target's folder; on success it replaces the target atomically.

    ``path`` is checked with ``check_target`` first (links are followed: the file they point to is
    replaced). The temporary file exists, empty, with the mode the result must have; the caller
    writes it (truncating it). When the block ends without error the file is flushed to disk
    (fsync), put in place with ``os.replace`` and the folder synced, so a process killed or a
    machine stopped at any moment leaves the previous file intact and loadable. On failure the
    temporary file is removed and the exception raised again; an ``OSError`` is raised as the same
    class with the same errno and a message naming ``path`` (never the temporary file).

    A SIGINT (Ctrl-C) anywhere from the check to the end, the caller's block included, is
    delivered when the save has finished or rolled back.
    """
    with defer_interrupts():
        real = check_target(path)
        user = _user_path(path)
        folder, name = os.path.split(real)
        _remove_abandoned(folder, name)
        try:
            st = os.stat(real)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise _wrapped(exc, user, real) from None
        try:
            temp, mode = _create_temp(folder, name, st)
        except OSError as exc:
            raise _wrapped(exc, user, real) from None
        try:
            yield temp
            _finish(temp, real, st, mode)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.remove(temp)
            if isinstance(exc, OSError):  # same frames, but no chained message naming the temporary file
                raise _wrapped(exc, user, real, temp).with_traceback(exc.__traceback__) from None
            raise
        finally:
            with _in_progress_lock:
                _in_progress.discard(temp)
        _fsync_directory(folder)
