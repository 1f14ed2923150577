"""gpunet: Keras-style deep learning on an autograd engine over NumPy (CPU) and CuPy (GPU)."""

from . import backend, ops, utils
from .autograd import Parameter, Tensor, enable_grad, gradcheck, no_grad

__version__ = "0.1.0"

__all__ = ["backend", "ops", "utils", "Tensor", "Parameter", "no_grad", "enable_grad", "gradcheck", "__version__"]
