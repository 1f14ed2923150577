"""Callbacks: objects hooked to fit's loop (History, progress output, checkpoints, LR decay...)."""

from ..lookup import Lookup
from .backup import BackupAndRestore
from .base import Callback
from .callback_list import CallbackList
from .checkpoint import ModelCheckpoint
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .gradient_norm import GradientNormMonitor
from .history import History
from .lambda_callback import LambdaCallback
from .nan import TerminateOnNaN
from .plateau import ReduceLROnPlateau
from .progbar import ProgbarLogger
from .schedule import LearningRateScheduler
from .tensorboard import TensorBoard

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "ModelCheckpoint", "ReduceLROnPlateau",
    "EarlyStopping", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "GradientNormMonitor",
    "BackupAndRestore", "LambdaCallback", "TensorBoard", "serialize", "deserialize",
]

# the callbacks a model file may name: gpunet's own join the registry as they are defined
# (Callback.__init_subclass__), except those that say loadable = False (History and the progress bar
# are fit's own; a LearningRateScheduler or a LambdaCallback holds Python functions)
_LOOKUP = Lookup("callback", Callback, case_sensitive=True)


def serialize(callback: Callback) -> dict:
    return _LOOKUP.serialize(callback)


def deserialize(entry) -> Callback:
    """A callback from ``{"class_name": ..., "config": {...}}``: gpunet's or a registered one."""
    return _LOOKUP.deserialize(entry)

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
