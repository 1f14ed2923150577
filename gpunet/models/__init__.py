"""Models: Sequential, loading one from a file or its JSON architecture, and cloning one."""

from ..saving import load_model, model_from_config, model_from_json
from ..saving.config import register_model_class
from .cloning import clone_model
from .sequential import Sequential

register_model_class(Sequential)

__all__ = ["Sequential", "load_model", "model_from_json", "model_from_config", "clone_model"]
