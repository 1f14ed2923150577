"""Layers to and from configs: gpunet's own form, and the Dense/Dropout/... that Keras writes.

A layer's entry is ``{"class_name": "Dense", "config": {...}}``, plus ``"registered_name"`` for a
user layer registered with ``register_serializable``. Reading takes only gpunet's layer classes
and registered ones, and for gpunet's own only the keys their constructors take: Keras's extra
keys (``module``, ``build_config``, dtype policies, ``None`` options...) are dropped, and Keras
features gpunet does not implement (LoRA, quantization) are refused by name rather than silently
ignored.
"""

from __future__ import annotations

import inspect
import numbers

from ..lookup import Lookup, custom_object_scope
from .base import Layer
from .core import InputLayer

__all__ = ["serialize", "deserialize"]

# gpunet's layers join the registry as they are defined (Layer.__init_subclass__); Lambda stays out
LOOKUP = Lookup("layer", Layer, case_sensitive=True)

_COMMON = {"name", "trainable", "dtype", "input_shape", "batch_input_shape", "activity_regularizer"}
# Keras keys that carry no meaning for gpunet when they hold their default value
_NEUTRAL = {
    "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
    "kernel_constraint": None, "bias_constraint": None, "lora_rank": None, "lora_alpha": None,
    "quantization_config": None, "sparse": False, "ragged": False, "optional": False,
    "input_tensor": None,
}
_INTEGER_INPUTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool")
_SHAPES = ("batch_shape", "batch_input_shape", "shape", "input_shape")


def _accepted(cls) -> set:
    parameters = inspect.signature(cls.__init__).parameters
    named = {name for name, p in parameters.items() if name != "self" and p.kind is not p.VAR_KEYWORD}
    return _COMMON | named | set(getattr(cls, "config_keys", ()))  # config_keys: taken by the class's **kwargs


def _dtype_name(dtype):
    """Keras writes ``"float32"`` or a DTypePolicy dict ``{"config": {"name": "float32"}}``."""
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    if dtype in (None, "float32", "float64", "mixed_float16", "mixed_bfloat16", "string"):  # string: Input's
        return dtype
    if dtype in ("int32", "int64"):  # the output dtype of an integer-valued layer (Hashing): the layer decides
        return dtype
    if dtype in ("float16", "bfloat16"):
        raise ValueError(f"layer dtype {dtype!r} (weights in {dtype}) is not supported; gpunet keeps weights in float32 "
                         f"or float64 and computes in {dtype} under the 'mixed_{dtype}' policy")
    raise ValueError(f"unknown layer dtype {dtype!r}; expected 'float32', 'float64', 'mixed_float16' or 'mixed_bfloat16'")


def _shape(value, key):
    if not isinstance(value, (list, tuple)) or not all(
        v is None or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0) for v in value
    ):
        raise ValueError(f"{key} must be a list of positive integers or nulls, got {value!r}")
    return tuple(value)


def _keep(cls, config: dict) -> dict:
    """The part of a (gpunet or Keras) config that gpunet's own layer ``cls`` takes."""
    accepted = _accepted(cls)
    kwargs = {}
    for key, value in config.items():
        if key in accepted:
            kwargs[key] = value
        elif key in _NEUTRAL and value != _NEUTRAL[key]:
            raise ValueError(f"layer {config.get('name', cls.__name__)!r}: {key}={value!r} is not supported by gpunet")
        # anything else (module, registered_name, build_config, initializer details) carries no weights
    if "dtype" in kwargs and not (cls is InputLayer and kwargs["dtype"] in _INTEGER_INPUTS):
        kwargs["dtype"] = _dtype_name(kwargs["dtype"])  # an Input of token ids keeps its integer dtype
    for key in _SHAPES:
        if kwargs.get(key) is not None:
            kwargs[key] = _shape(kwargs[key], key)
    batch_input_shape = kwargs.pop("batch_input_shape", None)
    if cls is InputLayer:
        if kwargs.get("batch_shape") is None and batch_input_shape is not None:
            kwargs["batch_shape"] = batch_input_shape
        kwargs.pop("input_shape", None)
        kwargs.pop("trainable", None)
    elif batch_input_shape is not None:
        kwargs["input_shape"] = batch_input_shape[1:]
    return kwargs


def serialize(layer: Layer) -> dict:
    """``{"class_name", "config"}`` (+ ``"registered_name"`` for a registered user layer)."""
    return LOOKUP.serialize(layer)


def deserialize(config, custom_objects=None) -> Layer:
    """Build one layer from ``{"class_name": ..., "config": {...}}`` (gpunet or Keras form);
    ``custom_objects`` maps class names to user classes, as in Keras."""
    if not isinstance(config, dict):
        raise ValueError(f"each layer must be an object with class_name and config, got {type(config).__name__}")
    if not isinstance(config.get("config"), dict):
        raise ValueError(f"layer {config.get('class_name')}: config must be an object, got {type(config.get('config')).__name__}")
    with custom_object_scope(custom_objects):
        return LOOKUP.deserialize(config, _keep)
