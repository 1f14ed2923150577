"""A watchdog over the collectives: when a rank stops arriving, every rank ends, and the
message names the late rank.

A collective waits for every rank, so one rank that stalls (a callback that never returns, a
hung file system, a deadlock, a GPU fault) would freeze all the others inside their next
all-reduce, for ever and silently. gpunet's communicators note here each collective they start
(a clock read and a dictionary entry: well under a microsecond) and when it completes;
a monitor thread looks about once a second at the oldest one still open. When it has been open
longer than the timeout (300 s unless ``init(collective_timeout=...)`` or
``GPUNET_COLLECTIVE_TIMEOUT`` say otherwise), that rank asks the others where they stand, over a
communicator of its own (a duplicate of the world's, never the stuck one): each rank's monitor
thread answers with how many collectives its rank has started, those still open, and its place in
fit. A rank that has not started this collective is late; one that does not answer within a few
seconds is stuck where its monitor thread cannot run. The lowest rank among those waiting in the
collective prints one message and ends the job through ``MPI_Abort`` (:mod:`.faults`); the others
stay silent unless it fails to. Nothing is sent while collectives complete in time.

Every rank counts the same collectives in the same order (gpunet issues them alike on every rank),
so "started fewer than this one" means "has not arrived". On NCCL a collective is only queued on
the GPU: it stays open until the event recorded after it says the GPU has run it.
"""

from __future__ import annotations

import atexit
import collections
import math
import numbers
import os
import sys
import threading
import time

from .faults import abort_with_message

__all__ = ["DEFAULT_TIMEOUT", "ENVIRONMENT", "Watchdog", "collective_timeout", "stall_message"]

DEFAULT_TIMEOUT = 300.0
ENVIRONMENT = "GPUNET_COLLECTIVE_TIMEOUT"
_QUERY, _ANSWER = 1, 2
_OPERATIONS = {  # the communicator's method, in the message's words
    "allreduce_async": "the all-reduce of a gradient bucket",
    "allreduce": "an all-reduce",
    "broadcast": "a broadcast",
    "broadcast_object": "a broadcast of a Python object",
    "allgather_object": "an all-gather of Python objects",
    "barrier": "a barrier",
}


def collective_timeout(value="auto", environ=None) -> float | None:
    """The watchdog's timeout in seconds, or None when it is off.

    ``value`` is ``init``'s ``collective_timeout``: ``"auto"`` follows ``GPUNET_COLLECTIVE_TIMEOUT``
    (300 s when it is unset or empty), a number is seconds, and 0 or None turn the watchdog off."""
    if isinstance(value, str) and value == "auto":
        environ = os.environ if environ is None else environ
        text = environ.get(ENVIRONMENT, "").strip()
        if not text:
            return DEFAULT_TIMEOUT
        try:
            seconds = float(text)
        except ValueError:
            seconds = math.nan
        name, shown = ENVIRONMENT, repr(text)
    elif value is None:
        return None
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"collective_timeout must be a number of seconds, None (no watchdog) or 'auto', got {value!r}")
    else:
        seconds, name, shown = float(value), "collective_timeout", repr(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a number of seconds, at least 0 (0 turns the watchdog off), got {shown}")
    return seconds or None


_clock = time.monotonic


def _finished(done) -> bool:
    try:
        return bool(done())
    except Exception:  # noqa: BLE001 - a failed query: the device is in trouble, the collective stays open
        return False


def _describe(what) -> str:
    payload, through = what
    size, dtype = getattr(payload, "size", None), getattr(payload, "dtype", None)
    parts = [f"{size:,} {dtype}"] if isinstance(size, numbers.Integral) and dtype is not None else []
    return ", ".join(parts + ([f"through {through}"] if through else []))


class Watchdog:
    """Watches the collectives of ``communicator`` (an :class:`~.communicator.MPICommunicator`).

    The communicator calls :meth:`begin` when a collective starts and :meth:`end` when it has
    completed (:meth:`end_when` when a device completes it later); ``where()`` says where this
    rank stands in fit, for the message. Created by every rank alike (it duplicates the world's
    communicator); :meth:`stop` ends the monitor thread (also at the interpreter's exit, before
    MPI is finalised)."""

    def __init__(self, communicator, timeout: float, where=None, abort=None):
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not 0 < timeout < math.inf:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.communicator = communicator
        self.MPI = communicator.MPI
        self.rank, self.size = communicator.rank, communicator.size
        self.timeout = float(timeout)
        self.tick = min(1.0, self.timeout / 4)  # how often the monitor looks
        self.patience = max(2.0, 3 * self.tick)  # how long an asking rank waits for the answers
        self.where = where
        self.abort = abort if abort is not None else (lambda text: abort_with_message(communicator, text))
        # other ranks can be asked only from a thread of our own, which MPI must allow
        self.side = communicator.comm.Dup() if self.MPI.Query_thread() == self.MPI.THREAD_MULTIPLE else None
        self._open: dict = {}  # number -> (operation, start, (payload, transport), done); oldest first
        self._on_device: collections.deque = collections.deque()  # numbers whose `done` says when
        self._started = 0
        self._sends: list = []
        self._round = 0
        self._deferred = (None, 0.0)  # (collective, until when) another rank is expected to report
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpunet-watchdog", daemon=True)
        self._thread.start()
        atexit.register(self.stop)  # runs before mpi4py finalises MPI

    # -- what the communicator calls --------------------------------------------------------
    # One thread issues the collectives (MPI wants them in one order), so these three need no lock:
    # each dictionary operation is atomic, and the monitor thread only reads copies of the table.
    def begin(self, operation: str, payload=None, through: str | None = None) -> int:
        """A collective starts (``through``: the transport, when not MPI); returns its number (the
        same on every rank)."""
        if self._on_device:
            self._settle()
        number = self._started + 1
        self._open[number] = (operation, _clock(), (payload, through), None)
        self._started = number
        return number

    def end(self, number: int) -> None:
        """Collective ``number`` has completed here."""
        self._open.pop(number, None)

    def end_when(self, number: int, done) -> None:
        """Collective ``number`` completes on a device: ``done()`` says whether it has (a CUDA
        event's query, called from the monitor thread too)."""
        entry = self._open.get(number)
        if entry is not None:
            self._open[number] = (*entry[:3], done)
            self._on_device.append(number)

    def forget(self) -> None:
        """Stop watching the collectives open now: an interrupted fit left them, never to be waited for."""
        self._open.clear()
        self._on_device.clear()

    def _settle(self) -> None:
        """Close the device collectives that have completed, oldest first."""
        while self._on_device:
            number = self._on_device[0]
            entry = self._open.get(number)
            if entry is not None:
                if not _finished(entry[3]):
                    return
                del self._open[number]
            self._on_device.popleft()

    def _still_open(self) -> list:
        """``(number, entry)`` of the collectives still open, oldest first (a copy: any thread)."""
        return [(number, entry) for number, entry in self._open.copy().items()
                if entry[3] is None or not _finished(entry[3])]

    def state(self) -> dict:
        """What this rank tells a rank that asks: collectives started, those open, its place."""
        now = _clock()
        started = self._started
        still_open = [(number, operation, now - start, _describe(payload))
                      for number, (operation, start, payload, _) in self._still_open()[:64]]
        try:
            where = None if self.where is None else self.where()
        except Exception:  # noqa: BLE001 - a place we cannot tell is no reason to fail the answer
            where = None
        return {"started": started, "open": still_open, "where": where}

    def stop(self) -> None:
        """End the monitor thread (data-parallel mode left, or the interpreter exits)."""
        self._stopping.set()
        atexit.unregister(self.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(self.patience + 2 * self.tick + 1.0)

    # -- the monitor thread -----------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping.wait(self.tick):
                self._answer()
                overdue = self._overdue()
                if overdue is not None:
                    self._investigate(overdue)
        except Exception as error:  # noqa: BLE001 - never take the rank down for the watchdog's own sake
            if not self._stopping.is_set():
                sys.stderr.write(f"gpunet.distributed: the collective watchdog of rank {self.rank} stopped: "
                                 f"{type(error).__name__}: {error}\n")

    def _answer(self) -> None:
        """Answer every rank that asked where this one stands."""
        if self.side is None:
            return
        status = self.MPI.Status()
        while self.side.iprobe(source=self.MPI.ANY_SOURCE, tag=_QUERY, status=status):
            source = status.Get_source()
            asked = self.side.recv(source=source, tag=_QUERY)
            self._sends.append(self.side.isend((asked, self.rank, self.state()), dest=source, tag=_ANSWER))
        self._sends = [request for request in self._sends if not request.Test()]

    def _overdue(self) -> int | None:
        """The number of the oldest open collective when it has been open longer than the timeout."""
        for number, (_, start, _, done) in self._open.copy().items():
            if done is None or not _finished(done):
                return number if _clock() - start > self.timeout else None
        return None

    def _ask(self) -> dict:
        """Every other rank's :meth:`state`, or None for a rank that did not answer in time."""
        answers = {r: None for r in range(self.size) if r != self.rank}
        if self.side is None:
            return answers
        self._round += 1
        asked = self._round
        for r in answers:
            self._sends.append(self.side.isend(asked, dest=r, tag=_QUERY))
        status = self.MPI.Status()
        deadline = time.monotonic() + self.patience
        while time.monotonic() < deadline and any(state is None for state in answers.values()):
            self._answer()  # another waiting rank may be asking this one meanwhile
            while self.side.iprobe(source=self.MPI.ANY_SOURCE, tag=_ANSWER, status=status):
                answered, rank, state = self.side.recv(source=status.Get_source(), tag=_ANSWER)
                if answered == asked:  # an answer to an earlier round is stale
                    answers[rank] = state
            time.sleep(0.01)
        return answers

    def _investigate(self, number: int) -> None:
        now = _clock()
        deferred, until = self._deferred
        if deferred == number and now < until:
            return
        answers = self._ask()
        answers[self.rank] = self.state()
        if not any(entry[0] == number for entry in answers[self.rank]["open"]):
            return  # it completed while the others were asked
        waiting = [r for r, state in answers.items() if state and any(e[0] == number for e in state["open"])]
        reporter = min(waiting)
        if reporter != self.rank and deferred != number:
            # the lowest waiting rank reports; the others give it time to end the job, then report themselves
            age = next(entry[2] for entry in answers[reporter]["open"] if entry[0] == number)
            self._deferred = (number, now + max(0.0, self.timeout - age) + 2 * (self.tick + self.patience) + 5.0)
            return
        self._stopping.set()  # one message: the abort ends this process (and every other)
        self.abort(stall_message(self.rank, self.size, self.timeout, number, answers, self.patience,
                                 asked=self.side is not None))


def _at(where) -> str:
    return f" at {where}" if where else ""


def _inside(state) -> str:
    if not state["open"]:
        return "outside any collective"
    number, operation, age, _ = state["open"][0]
    return f"inside {operation} #{number} for {age:.1f} s"


def stall_message(rank: int, size: int, timeout: float, number: int, answers: dict, patience: float = 2.0,
                  asked: bool = True) -> str:
    """The text the reporting rank prints: what it waits in, and where every other rank is.

    ``answers`` maps each rank to its :meth:`Watchdog.state` (None: no answer), this rank's own
    included."""
    mine = answers[rank]
    operation, age, payload = next((e[1], e[2], e[3]) for e in mine["open"] if e[0] == number)
    detail = f"{operation} #{number}" + (f", {payload}" if payload else "")
    lines = [(f"gpunet.distributed: rank {rank} of {size} has waited {age:.1f} s in "
              f"{_OPERATIONS.get(operation, operation)} ({detail}){_at(mine['where'])}, longer than the collective "
              f"timeout of {timeout:g} s; ending every rank.")]
    late, waiting = [], []
    for other in sorted(r for r in answers if r != rank):
        state = answers[other]
        if state is None:
            late.append(f"rank {other}, which did not answer within {patience:g} s" if asked else f"rank {other}")
            continue
        at = next((e for e in state["open"] if e[0] == number), None)
        if at is not None and at[1] == operation:
            waiting.append(f"rank {other} (for {at[2]:.1f} s)")
        elif at is not None:
            late.append(f"rank {other}, which is in {at[1]} #{number} instead: the ranks called different "
                        f"collectives{_at(state['where'])}")
        elif state["started"] < number:
            place = f"{_at(state['where'])}," if state["where"] else ""
            late.append(f"rank {other}, which has not reached it: it is{place} {_inside(state)} "
                        f"({state['started']} collectives started)")
        else:
            late.append(f"rank {other}, which has started {state['started']} collectives but is not in #{number}: the "
                        f"ranks did not call the same collectives{_at(state['where'])}")
    if late:
        lines.append("  late: " + "; ".join(late) + ".")
    if waiting:
        lines.append("  waiting in it too: " + ", ".join(waiting) + ".")
    if not asked:
        lines.append("  The other ranks could not be asked where they are: MPI runs without MPI_THREAD_MULTIPLE.")
    elif not late:
        lines.append("  Every rank has reached it, yet it has not completed: the transport itself is stuck (a network "
                     "or GPU failure; with NCCL, NCCL_DEBUG=WARN tells more).")
    lines.append("  A rank is late when its own work (computing, reading data, a callback, writing a file) takes "
                 "longer than the timeout, or when it hangs (a deadlock, a stalled file system, a GPU fault). If that "
                 f"work is expected, raise the timeout: init(collective_timeout=SECONDS) or {ENVIRONMENT}=SECONDS "
                 "(0 turns the watchdog off).")
    return "\n".join(lines) + "\n"
