"""The layer calls in progress: what an inner call inherits from the outer one (``training``) and
where ``add_loss`` terms go. Below both the Layer base class and the symbolic tracing, which read it."""

from __future__ import annotations

__all__ = ["collect_losses", "discard_losses"]

# The calls in progress, innermost last: (training, losses list or None). An inner layer called
# without ``training`` takes the outer call's, as in Keras; ``add_loss`` appends to the nearest list.
_frames: list = []


class _LossFrame:
    """A context that collects the ``add_loss`` terms (activity regularization included) of the
    layer calls made inside it, in ``self.losses``; ``keep=False`` drops them (a shape trace)."""

    __slots__ = ("losses", "training", "keep")

    def __init__(self, keep: bool = True, training=None):
        self.losses = []
        self.keep = keep
        self.training = training

    def __enter__(self):
        if self.training is None and _frames:
            self.training = _frames[-1].training
        _frames.append(self)
        return self.losses

    def __exit__(self, *exc):
        _frames.pop()
        return False


def collect_losses(training=None) -> _LossFrame:
    """``with collect_losses() as losses:`` gathers the ``add_loss`` terms of the calls inside (a
    model's forward pass uses it)."""
    return _LossFrame(True, training)


def discard_losses() -> _LossFrame:
    """A context in which ``add_loss`` terms are dropped (tracing a call to learn its output shape)."""
    return _LossFrame(False)
