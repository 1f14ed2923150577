"""Models: Sequential, and loading one from a file or its JSON architecture."""

from ..saving import load_model, model_from_config, model_from_json
from ..saving.config import register_model_class
from .sequential import Sequential

register_model_class(Sequential)

__all__ = ["Sequential", "load_model", "model_from_json", "model_from_config"]
