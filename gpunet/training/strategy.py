"""Strategy: how one fit spreads over processes. The default is one process.

The epoch loop asks its strategy at the few places where a fit over several processes differs
from a fit in one: which part of each batch this process trains on, what its callbacks are, how
the reported loss and metrics combine, whether any process wants to stop, and what happens when
a process fails. In one process every answer is the identity, and nothing costs anything per
step; :mod:`gpunet.distributed` installs a data-parallel strategy (with
:func:`set_strategy`) when a launcher starts several ranks.
"""

from __future__ import annotations

import contextlib

__all__ = ["Strategy", "get_strategy", "set_strategy"]


class Strategy:
    """One process (see the module docstring); subclasses override what differs."""

    world_size = 1
    rank = 0

    @property
    def is_main(self) -> bool:
        """Whether this process prints progress and writes files."""
        return self.rank == 0

    def shard(self, batches, evaluation: bool = False):
        """This process's part of each batch of ``batches`` (fit's training or dev batches)."""
        return batches

    def start(self, loop, initial_epoch: int, resume):
        """At the start of ``loop.run``, before any update: check that the processes agree and
        give them the same starting point; returns ``(initial_epoch, resume)``."""
        return initial_epoch, resume

    def reduce_metrics(self, metrics) -> list:
        """Metrics whose accumulators hold the sums over every process (copies; the given
        metrics keep accumulating their own)."""
        return metrics

    def gather_batches(self, parts: list) -> list:
        """Every process's ``parts`` (one entry per batch: its slice's result, or None) in the
        order of one process: batch by batch, the processes' slices in rank order."""
        return parts

    def any(self, flag: bool) -> bool:
        """``flag`` or'ed over the processes (``stop_training`` set by one stops all)."""
        return flag

    def agrees_per_batch(self, callbacks) -> bool:
        """Whether ``stop_training`` must be agreed after every batch (some callback that runs in
        every process may set it there)."""
        return False

    def guard(self):
        """The context ``fit`` runs in: a failure in one process ends every process."""
        return contextlib.nullcontext()


_current = Strategy()


def get_strategy() -> Strategy:
    """The strategy fit uses now."""
    return _current


def set_strategy(strategy: Strategy | None) -> None:
    """Make ``strategy`` the one every fit uses (None: back to one process)."""
    global _current
    if strategy is not None and not isinstance(strategy, Strategy):
        raise TypeError(f"strategy must be a gpunet.training.Strategy, got {type(strategy).__name__}")
    _current = Strategy() if strategy is None else strategy
