"""gpunet: Keras-style deep learning on an autograd engine over NumPy (CPU) and CuPy (GPU).

The namespaces are Keras 3's: ``from gpunet import layers, models, optimizers, losses, metrics,
callbacks, regularizers, utils`` and ``gpunet.Input``, ``gpunet.Sequential``, ``gpunet.Variable``,
``gpunet.Layer``, ``gpunet.Loss``, ``gpunet.Metric``, ``gpunet.Optimizer``... A Keras name that
gpunet does not have yet raises :class:`gpunet.errors.NotSupportedYetError` (see :mod:`gpunet.keras_api`).
"""

from . import errors, keras_api
from . import (activations, backend, callbacks, config, datasets, initializers, layers, losses, metrics, mixed_precision,
               models, ops, optimizers, regularizers, saving, schedules, training, tree, utils)
from . import constraints
from . import random
from . import distributed
from . import preprocessing
from .autograd import Parameter, Tensor, Variable, enable_grad, gradcheck, no_grad
from .dtype_policies import DTypePolicy
from .initializers import Initializer
from .layers import Input, Layer
from .losses import Loss
from .metrics import Metric
from .optimizers import Optimizer
from .regularizers import Regularizer
from .models import Model, Sequential, load_model, model_from_json

from .version import __version__, version  # version(): a function, as keras.version() is


__all__ = [
    "activations", "backend", "callbacks", "datasets", "initializers", "layers", "losses", "metrics", "mixed_precision", "models", "ops",
    "optimizers", "regularizers", "saving", "schedules", "training", "utils", "distributed", "constraints", "preprocessing", "Input",
    "Tensor", "Variable", "Parameter", "Layer", "Loss", "Metric", "Optimizer", "Initializer", "Regularizer",
    "DTypePolicy", "no_grad", "enable_grad", "gradcheck", "Sequential", "Model", "load_model",
    "model_from_json", "__version__", "version", "config", "errors", "keras_api", "tree",
    "random",
]

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
