"""Callbacks: objects hooked to fit's loop (History, progress output, checkpoints, LR decay...)."""

from .base import Callback, CallbackList
from .checkpoint import ModelCheckpoint
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .gradient_norm import GradientNormMonitor
from .history import History
from .nan import TerminateOnNaN
from .plateau import ReduceLROnPlateau
from .progbar import ProgbarLogger
from .schedule import LearningRateScheduler

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "ModelCheckpoint", "ReduceLROnPlateau",
    "EarlyStopping", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "GradientNormMonitor",
]
