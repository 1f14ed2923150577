"""Callbacks: objects hooked to fit's loop (History, progress output, checkpoints, LR decay...)."""

from .base import Callback, CallbackList
from .history import History
from .progbar import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
