"""Models: Sequential, saving and loading one, rebuilding one from its JSON architecture, cloning one."""

from ..saving import load_model, model_from_config, model_from_json, save_model
from ..saving.config import register_model_class
from .cloning import clone_model
from .sequential import Sequential

register_model_class(Sequential)

__all__ = ["Sequential", "load_model", "save_model", "model_from_json", "model_from_config", "clone_model"]

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
