"""gpunet: Keras-style deep learning on an autograd engine over NumPy (CPU) and CuPy (GPU)."""

from . import activations, backend, callbacks, datasets, initializers, layers, losses, metrics, ops, optimizers, schedules, utils
from .autograd import Parameter, Tensor, enable_grad, gradcheck, no_grad
from .model import Sequential
from .saving import load_model, model_from_json

__version__ = "0.1.0"

__all__ = [
    "activations", "backend", "callbacks", "datasets", "initializers", "layers", "losses", "metrics", "ops",
    "optimizers", "schedules", "utils",
    "Tensor", "Parameter", "no_grad", "enable_grad", "gradcheck", "Sequential", "load_model",
    "model_from_json", "__version__",
]
