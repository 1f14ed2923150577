"""Optimizers: the course's, and Keras 3's Lion, Ftrl and Adafactor, with Keras 3's arguments and
defaults; the update rules are the course's (PyTorch's) where Keras's differ only in where epsilon
sits, Keras's otherwise (see docs/optimizers.md)."""

from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, Adamax, AdamW, Nadam, RAdam
from .base import Optimizer
from .ftrl import Ftrl
from .lion import Lion
from .loss_scale import LossScaleOptimizer
from .registry import deserialize, deserialize_from_keras, get, serialize, serialize_for_keras
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "RAdam", "RMSprop",
           "Lion", "Ftrl", "Adafactor", "LossScaleOptimizer",
           "get", "serialize", "deserialize", "serialize_for_keras", "deserialize_from_keras"]

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
