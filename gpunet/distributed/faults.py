"""A failure in one rank ends every rank, with that rank's message.

The other ranks of a failed one would wait forever in the next all-reduce. So an exception that
escapes ``fit`` in any rank (or reaches the top of the script: ``sys.excepthook``) is printed with
the rank's number and ends the whole job through ``MPI_Abort``, with a non-zero exit status. A
rank killed by a signal is the launcher's to handle: ``mpirun`` ends the others when one dies.
Errors that every rank raises at the same point (:class:`RankMismatchError`, the agreement check
before training) are raised normally: no rank is left waiting. A rank that stalls without failing
is the collective watchdog's (``watchdog.py``), which ends the job the same way.
"""

from __future__ import annotations

import contextlib
import sys
import traceback

__all__ = ["RankMismatchError", "abort_on_failure", "abort_with_message", "install_excepthook", "restore_excepthook"]


class RankMismatchError(ValueError):
    """The ranks were not started alike (a different model, optimizer, data or fit argument):
    raised by every rank, before training."""


def abort_with_message(communicator, text: str) -> None:
    """Print ``text`` on this rank's standard error, then end every rank (exit status 1)."""
    sys.stderr.write(text)
    sys.stderr.flush()
    communicator.abort(1)


def report_and_abort(communicator, kind, value, tb) -> None:
    """Print the failure with the rank's number, then end every rank (exit status 1)."""
    text = "".join(traceback.format_exception(kind, value, tb))
    abort_with_message(communicator, f"gpunet.distributed: rank {communicator.rank} of {communicator.size} failed, "
                                     f"ending every rank:\n{text}")


@contextlib.contextmanager
def abort_on_failure(communicator):
    """Run the block; an exception other than a Ctrl-C (the launcher forwards it to every rank)
    or a :class:`RankMismatchError` ends the job."""
    try:
        yield
    except (KeyboardInterrupt, RankMismatchError):
        raise
    except Exception:  # noqa: BLE001 - whatever it is, the other ranks must not hang
        report_and_abort(communicator, *sys.exc_info())
        raise


_previous_hook = None


def install_excepthook(communicator) -> None:
    """An uncaught exception in this rank ends every rank (``MPI_Abort``)."""
    global _previous_hook
    if _previous_hook is None:
        _previous_hook = sys.excepthook

    def hook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            _previous_hook(kind, value, tb)
            return
        report_and_abort(communicator, kind, value, tb)

    sys.excepthook = hook


def restore_excepthook() -> None:
    global _previous_hook
    if _previous_hook is not None:
        sys.excepthook = _previous_hook
        _previous_hook = None
