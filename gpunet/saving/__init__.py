"""Model files: Keras 3's ``.keras`` archive and ``.weights.h5`` layout, Keras's legacy ``.h5``
layout, each with gpunet's state tree; atomic writes; the registry that lets user classes
round-trip by name. :mod:`.files` picks the format."""

from ..lookup import custom_object_scope, get_registered_name, get_registered_object, register_serializable
from .config import model_from_config, model_from_json
from .files import check_save_path, load_model, load_weights, save_model, save_weights
from .hdf5 import read_training_state

register_keras_serializable = register_serializable  # Keras's name, for scripts that use it

__all__ = [
    "read_training_state",
    "save_model", "save_weights", "load_model", "load_weights", "model_from_json", "model_from_config",
    "check_save_path", "register_serializable", "register_keras_serializable", "get_registered_name",
    "get_registered_object", "custom_object_scope",
]

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
