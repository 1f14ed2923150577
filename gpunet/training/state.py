"""What a checkpoint written during fit holds so that fit resumes exactly: the fit's state.

A model saved while fit runs (by ``ModelCheckpoint``, or ``best_checkpoint``) stores, beside its
weights and its optimizer's state, the tree :meth:`FitState.get_state` returns::

    epoch            the next epoch to run (0-based), and whether the last one was complete
    rng              the host generator (shuffling) and the noise generator (dropout masks)
    best             the best dev value so far, its epoch and a copy of its weights
    callbacks        each callback's own state (wait counters, best values), by class name

``load_model`` hands it back to the model, and the next ``fit(initial_epoch=k)`` that starts
where the file stopped takes it back: the same batches, the same dropout masks, the same
decisions as a run that was never interrupted. That holds for arrays, memory-mapped arrays and
a PyDataset read whole each epoch, whose batches follow from the saved generators; a generator
cannot be rewound, so fit resumes on it with a warning, taking the batches that come next.
"""

from __future__ import annotations

import warnings

from .. import backend
from ..callbacks.base import callback_keys

__all__ = ["FitState"]


class FitState:
    """The resumable state of one running fit (see the module docstring)."""

    def __init__(self, best, callbacks):
        self.best = best
        self.callbacks = list(callbacks)
        self.epoch = 0
        self.complete = True

    def get_state(self) -> dict:
        return {
            "epoch": self.epoch + 1 if self.complete else self.epoch,
            "epoch_complete": self.complete,
            "rng": backend.get_rng_state(),
            "best": self.best.get_state(),
            "callbacks": {key: cb.get_state() for key, cb in zip(callback_keys(self.callbacks), self.callbacks)},
        }

    def resume(self, state: dict | None, initial_epoch: int):
        """Take back ``state`` when it was saved at the end of epoch ``initial_epoch - 1``;
        returns a function that restores the callbacks' states (to call after
        ``on_train_begin``, which resets them), or None when there is nothing to resume."""
        if not state:
            return None
        complete = state.get("epoch_complete", True)
        if state.get("epoch") != initial_epoch or not complete:
            saved = state.get("epoch")
            where = f"at the end of epoch {saved}" if complete else f"during epoch {saved + 1}" if isinstance(saved, int) else "at an unknown point"
            warnings.warn(
                f"this model was saved {where}; fit(initial_epoch={initial_epoch}) starts at epoch {initial_epoch + 1} "
                "with fresh random streams and callbacks instead of resuming exactly",
                stacklevel=4,
            )
            return None
        backend.set_rng_state(state["rng"])
        self.best.set_state(state.get("best") or {})
        saved = state.get("callbacks") or {}

        def restore_callbacks():
            for key, cb in zip(callback_keys(self.callbacks), self.callbacks):
                if key in saved:
                    cb.set_state(saved[key] or {})

        return restore_callbacks
