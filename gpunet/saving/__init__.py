"""Model files: Keras's legacy HDF5 layout, atomic writes, and a safe configuration registry."""

from .hdf5 import load_model, load_weights, save_model, save_weights
from .registry import model_from_config, model_from_json

__all__ = ["save_model", "save_weights", "load_model", "load_weights", "model_from_json", "model_from_config"]
