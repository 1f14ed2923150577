"""gpunet: Keras-style deep learning on an autograd engine over NumPy (CPU) and CuPy (GPU)."""

from . import (activations, backend, callbacks, datasets, initializers, layers, losses, metrics, models, ops, optimizers,
               saving, schedules, training, utils)
from .autograd import Parameter, Tensor, enable_grad, gradcheck, no_grad
from .models import Sequential, load_model, model_from_json

from .version import __version__

__all__ = [
    "activations", "backend", "callbacks", "datasets", "initializers", "layers", "losses", "metrics", "models", "ops",
    "optimizers", "saving", "schedules", "training", "utils",
    "Tensor", "Parameter", "no_grad", "enable_grad", "gradcheck", "Sequential", "load_model",
    "model_from_json", "__version__",
]
