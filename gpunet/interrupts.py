"""Ctrl-C (SIGINT) that waits for the end of a critical section: a save, an optimizer step.

A SIGINT that lands inside a ``defer_interrupts()`` section is recorded, not raised; when the
outermost section ends, it is delivered as it would have been without gpunet::

    with defer_interrupts():
        write_everything()      # runs to its end (or fails and rolls back) whatever the user presses
    # a Ctrl-C pressed meanwhile raises KeyboardInterrupt here

Python raises ``KeyboardInterrupt`` from its SIGINT handler wherever the interpreter happens to be,
including inside a callback whose exceptions are printed and dropped ("Exception ignored in ..."):
h5py's object cleanup is one, so a Ctrl-C during a save could be swallowed and the run carry on.
A recording handler cannot lose it.

What "delivered" means depends on the handler that was in place before:

- Python's default (``signal.default_int_handler``) or any Python function: it is called, once per
  SIGINT received, with the frame that ends the section; the default raises ``KeyboardInterrupt``
  (chained to the section's own exception, if one is propagating). A handler that raises stops
  the delivery of further ones.
- ``SIG_DFL`` (a program that chose to die on Ctrl-C): the handler is restored and the signal
  raised again, so the process ends by SIGINT, after the section.
- ``SIG_IGN``, or a handler installed outside Python (``signal.getsignal`` answers ``None``):
  nothing is deferred; Ctrl-C is ignored, or handled by that handler, as before.

Python drops a ``KeyboardInterrupt`` raised inside a ``__del__`` method or a weakref callback (it
prints "Exception ignored in ..." and carries on); a Ctrl-C landing in one between two sections,
e.g. while h5py objects of a finished save are freed, would be lost. So from their first use these
context managers also keep a ``sys.unraisablehook`` in place that counts such dropped interrupts
(then hands them to the hook it replaced, which prints the usual message) inside
``handle_interrupts()``, inside a section, or within ``WATCH_AFTER`` (1) second after a section
ends; the next section delivers them, at its start or its end, like a deferred one. (Others are
dropped as Python drops them.)

Only the main thread receives Python signal handlers, so in any other thread both context managers
do nothing (the main thread's handler, and its own sections, are left alone). Sections nest; only
the outermost end delivers. SIGINT is the only signal handled: SIGTERM and SIGKILL still end the
process at once (atomic saves survive that too), and a save that hangs can be stopped with
SIGQUIT (Ctrl-\\) or SIGKILL.

Cost. ``defer_interrupts()`` on its own installs its handler on entry and restores the previous one
on exit: three calls into the ``signal`` module, about 9 microseconds (CPython 3.11, one core of a
recent x86 server). A loop that enters a section
at every step installs the handler once around the loop with ``handle_interrupts()``; a section
inside it only counts (about 0.45 microseconds)::

    with handle_interrupts():           # once per fit
        for batch in batches:
            with defer_interrupts():    # once per step: all-or-nothing
                step(batch)

Between sections a Ctrl-C acts at once, exactly as without ``handle_interrupts()``.

This module imports nothing from gpunet, so any part of it may use it.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

__all__ = ["defer_interrupts", "handle_interrupts", "WATCH_AFTER"]

# The state below is only read and written by the main thread (signal handlers run there too).
_depth = 0  # open critical sections
_pending = 0  # SIGINTs received inside them, not yet delivered
_installs = 0  # open scopes (handle_interrupts, or a section that installed the handler itself)
_previous = None  # the handler found when the recording handler was installed
_lost = 0  # KeyboardInterrupts Python dropped in a __del__ or weakref callback, not yet delivered
_chained = None  # the unraisable hook ours replaced
_watch_until = 0.0  # time.monotonic() until which a dropped KeyboardInterrupt is counted outside any scope
WATCH_AFTER = 1.0  # seconds after a section ends during which objects it used may still be freed
_in_hook = False


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _record(signum, frame):
    """gpunet's SIGINT handler: remember the signal inside a section, deliver it outside."""
    global _pending
    if _depth:
        _pending += 1
    else:
        _deliver(_previous, signum, frame)


def _deliver(handler, signum, frame):
    if handler == signal.SIG_DFL:  # the process would have been ended by the signal: end it now
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
    elif callable(handler):
        handler(signum, frame)
    # SIG_IGN: ignored, as it would have been


def _unraisable(unraisable):
    """sys.unraisablehook: count a KeyboardInterrupt dropped in the main thread, then pass it on."""
    global _lost, _in_hook
    if _in_hook:  # reached again through a hook that calls the one it replaced, which is us
        return
    _in_hook = True
    try:
        exc_type = getattr(unraisable, "exc_type", None)
        if (isinstance(exc_type, type) and issubclass(exc_type, KeyboardInterrupt) and _main_thread()
                and (_depth or _installs or time.monotonic() < _watch_until)):
            _lost += 1
        previous = _chained if _chained is not None else sys.__unraisablehook__
        previous(unraisable)
    finally:
        _in_hook = False


def _watch_dropped() -> None:
    """Keep our unraisable hook in place (something may have replaced it since)."""
    global _chained
    current = sys.unraisablehook
    if current is not _unraisable:
        _chained = current
        sys.unraisablehook = _unraisable


def _deliver_lost(frame) -> None:
    global _lost
    if _lost:
        _lost = 0
        _deliver(_previous if _installs else signal.getsignal(signal.SIGINT), signal.SIGINT, frame)


def _install() -> bool:
    """Install the recording handler (main thread); False when there is nothing to defer."""
    global _previous, _installs
    if _installs:
        _installs += 1
        return True
    previous = signal.getsignal(signal.SIGINT)
    if previous is None or previous == signal.SIG_IGN:
        return False
    _previous = previous
    signal.signal(signal.SIGINT, _record)
    _installs = 1
    return True


def _uninstall() -> None:
    """Close one scope; the last one restores the previous handler."""
    global _installs
    if _installs > 1:
        _installs -= 1
        return
    try:
        signal.signal(signal.SIGINT, _previous)  # from here on a SIGINT goes to it directly
    finally:
        _installs = 0


def _deliver_pending(frame) -> None:
    """Deliver what the sections recorded; a dropped KeyboardInterrupt counts as one more only if
    nothing else is delivered (it is the same request to stop)."""
    global _pending, _lost
    count, _pending = _pending, 0
    if _lost:
        _lost = 0
        count = count or 1
    handler = _previous
    for _ in range(count):
        _deliver(handler, signal.SIGINT, frame)


class defer_interrupts:  # noqa: N801 - used like contextlib's lower-case context managers
    """A critical section: a SIGINT inside is delivered when the outermost section ends.

    Reentrant and nestable. Installs gpunet's SIGINT handler for its duration unless
    ``handle_interrupts()`` already did (then it only counts). Does nothing outside the main thread.
    """

    __slots__ = ("_state",)

    def __enter__(self):
        global _depth
        self._state = 0  # 0: does nothing; 1: counted; 2: counted and installed the handler
        if not _main_thread():
            return self
        if not _depth:
            _watch_dropped()
            if _lost:  # a Ctrl-C that Python dropped since the last section: act on it before this one
                _deliver_lost(sys._getframe(1))
        _depth += 1  # first: a SIGINT from here on is recorded, wherever the handler is installed
        if _installs:
            self._state = 1
            return self
        try:
            installed = _install()
        except BaseException:
            _depth -= 1
            raise
        if installed:
            self._state = 2
        else:
            _depth -= 1
        return self

    def __exit__(self, exc_type, exc, tb):
        global _depth, _pending, _watch_until
        state = self._state
        if not state:
            return False
        if state == 2:
            try:
                _uninstall()
            except BaseException:  # a SIGINT reached the restored handler at once: it is being delivered
                _depth -= 1
                _pending = 0
                raise
        _depth -= 1
        if not _depth:
            if not _installs:
                _watch_until = time.monotonic() + WATCH_AFTER
            if _pending or _lost:
                _deliver_pending(sys._getframe(1))
        return False


class handle_interrupts:  # noqa: N801
    """Install gpunet's SIGINT handler for a whole loop (e.g. ``fit``), so that each
    ``defer_interrupts()`` inside costs a counter instead of two system calls.

    Outside sections a SIGINT is handed at once to the handler that was in place before, so the
    program behaves as without it. Nestable; restores the previous handler when the outermost one
    ends. Does nothing outside the main thread, or when SIGINT is ignored.
    """

    __slots__ = ("_installed",)

    def __enter__(self):
        self._installed = False
        if _main_thread():
            _watch_dropped()
            _deliver_lost(sys._getframe(1))
            self._installed = _install()
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._installed:
            _uninstall()
        if _lost and _main_thread():
            _deliver_lost(sys._getframe(1))
        return False
