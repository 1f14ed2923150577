"""Process-wide settings, under Keras's name for them (``keras.config``).

Keras's settings that gpunet has:

- :func:`floatx` / :func:`set_floatx`: the float dtype of new weights, by name (``"float32"``);
- :func:`dtype_policy` / :func:`set_dtype_policy`: the dtype policy of new layers
  (:mod:`gpunet.mixed_precision`).

gpunet's own:

- :func:`restore_best` / :func:`set_restore_best`: whether ``fit`` puts back the best-on-dev
  weights when it ends (the course's rule, on unless turned off) — the default of fit's
  ``restore_best`` argument. The environment variable ``GPUNET_RESTORE_BEST=0`` turns it off for
  a whole run, so that an unmodified Keras script keeps the last epoch's weights, as in Keras.
  Precedence: fit's argument, then :func:`set_restore_best`, then the variable, then on.

Other settings live with what they set, each with its own variable: :func:`gpunet.backend.use`
(``GPUNET_BACKEND``), :func:`gpunet.backend.set_memory_limit` (``GPUNET_MEMORY_LIMIT``),
:func:`gpunet.training.graphs.set_cuda_graphs` (``GPUNET_CUDA_GRAPHS``); ``docs/guide.md`` lists them all.
"""

from __future__ import annotations

import os

from . import backend as _backend
from .dtype_policies import global_policy, set_global_policy

__all__ = ["floatx", "set_floatx", "epsilon", "set_epsilon", "dtype_policy", "set_dtype_policy", "restore_best", "set_restore_best",
           "RESTORE_BEST_VARIABLE"]

RESTORE_BEST_VARIABLE = "GPUNET_RESTORE_BEST"
_YES = ("1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")
_restore_best: bool | None = None


def floatx() -> str:
    """The float dtype of new weights and tensors, by name: ``"float32"`` unless set (Keras's
    function; :func:`gpunet.backend.floatx` gives the NumPy dtype)."""
    return _backend.floatx().name


def set_floatx(value) -> None:
    """Set the float dtype of new weights and tensors: ``"float32"`` or ``"float64"``."""
    _backend.set_floatx(value)


epsilon = _backend.epsilon
set_epsilon = _backend.set_epsilon


def dtype_policy():
    """The dtype policy new layers take (:func:`gpunet.mixed_precision.global_policy`)."""
    return global_policy()


def set_dtype_policy(policy) -> None:
    """Set the dtype policy of new layers (:func:`gpunet.mixed_precision.set_global_policy`)."""
    set_global_policy(policy)


def set_restore_best(enabled) -> None:
    """Whether ``fit`` restores the best-on-dev weights when its call does not say: True (the
    course's rule), False (Keras's behaviour: the last epoch's weights are kept), or None to follow
    ``GPUNET_RESTORE_BEST`` again."""
    global _restore_best
    if enabled is not None and not isinstance(enabled, bool):
        raise TypeError(f"set_restore_best: enabled must be True, False or None, got {enabled!r}")
    _restore_best = enabled


def restore_best() -> bool:
    """fit's default for ``restore_best``: :func:`set_restore_best`'s value, else
    ``GPUNET_RESTORE_BEST`` (``1``/``0``, ``true``/``false``, ``yes``/``no``, ``on``/``off``), else True."""
    if _restore_best is not None:
        return _restore_best
    value = os.environ.get(RESTORE_BEST_VARIABLE, "").strip().lower()
    if not value or value in _YES:
        return True
    if value in _NO:
        return False
    raise ValueError(f"{RESTORE_BEST_VARIABLE} must be 1 or 0 (or true/false, yes/no, on/off), "
                     f"got {os.environ[RESTORE_BEST_VARIABLE]!r}")

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
