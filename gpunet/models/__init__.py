"""Models: Model (functional and subclassed), Sequential, saving and loading one, rebuilding one from
its JSON architecture, cloning one.

    model.py        Model: the base class, Keras's constructor dispatch, and the interface the training
                    path calls on every model (forward, output_names, output_activations, ...: see its
                    docstring)
    functional.py   Functional: Model(inputs, outputs), a graph of layer calls
    sequential.py   Sequential
    serialization.py, summary.py, cloning.py   configs, the summary table, clone_model
"""

from ..saving import load_model, model_from_config, model_from_json, save_model
from .cloning import clone_model
from .functional import Functional
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Functional", "Sequential", "load_model", "save_model", "model_from_json", "model_from_config", "clone_model"]

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
