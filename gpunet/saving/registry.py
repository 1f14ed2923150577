"""Safe model configuration: models are rebuilt only from gpunet's own layer classes.

A model file's architecture is JSON text. It is parsed with ``json`` (nothing is evaluated,
imported or unpickled), each layer's ``class_name`` must be one of the registered gpunet classes,
and only the configuration keys a layer understands are used. Keras's extra keys (dtype policies,
``module``, ``registered_name``, ``build_config``, ``None`` regularizers...) are accepted and
dropped; Keras features gpunet does not implement (a regularizer, a constraint) are refused with
a clear error rather than silently ignored.
"""

from __future__ import annotations

import json
import numbers

from ..layers import Activation, Dense, Dropout, Flatten, InputLayer

__all__ = ["LAYERS", "layer_from_config", "model_from_config", "model_from_json"]

LAYERS = {cls.__name__: cls for cls in (InputLayer, Dense, Dropout, Activation, Flatten)}

_COMMON = {"name", "trainable", "dtype"}
_KEYS = {
    "InputLayer": {"name", "dtype", "batch_shape", "batch_input_shape", "shape", "batch_size"},
    "Dense": _COMMON | {"units", "activation", "use_bias", "kernel_initializer", "bias_initializer", "batch_input_shape", "input_shape"},
    "Dropout": _COMMON | {"rate", "seed", "noise_shape", "batch_input_shape", "input_shape"},
    "Activation": _COMMON | {"activation", "batch_input_shape", "input_shape"},
    "Flatten": _COMMON | {"data_format", "batch_input_shape", "input_shape"},
}
# Keras keys that carry no meaning for gpunet when they hold their default value
_NEUTRAL = {
    "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
    "kernel_constraint": None, "bias_constraint": None, "lora_rank": None, "lora_alpha": None,
    "quantization_config": None, "sparse": False, "ragged": False, "optional": False,
    "input_tensor": None,
}


def _dtype_name(dtype):
    """Keras writes ``"float32"`` or a DTypePolicy dict ``{"config": {"name": "float32"}}``."""
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    if dtype in (None, "float32", "float64"):
        return dtype
    if dtype == "mixed_float16" or dtype == "float16":
        raise ValueError(f"layer dtype {dtype!r} is not supported; gpunet computes in float32 or float64")
    raise ValueError(f"unknown layer dtype {dtype!r}; expected 'float32' or 'float64'")


def _shape(value, key):
    if not isinstance(value, (list, tuple)) or not all(v is None or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0) for v in value):
        raise ValueError(f"{key} must be a list of positive integers or nulls, got {value!r}")
    return tuple(value)


def layer_from_config(entry):
    """Build one layer from ``{"class_name": ..., "config": {...}}`` (gpunet or Keras form)."""
    if not isinstance(entry, dict):
        raise ValueError(f"each layer must be an object with class_name and config, got {type(entry).__name__}")
    class_name = entry.get("class_name")
    cls = LAYERS.get(class_name) if isinstance(class_name, str) else None
    if cls is None:
        raise ValueError(
            f"unknown or unsupported layer class {class_name!r}: gpunet only builds {sorted(LAYERS)} "
            "(nothing from a file is imported or evaluated)"
        )
    config = entry.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"layer {class_name}: config must be an object, got {type(config).__name__}")
    kwargs = {}
    for key, value in config.items():
        if key in _KEYS[class_name]:
            kwargs[key] = value
        elif key in _NEUTRAL:
            if value != _NEUTRAL[key]:
                raise ValueError(f"layer {config.get('name', class_name)!r}: {key}={value!r} is not supported by gpunet")
        # anything else (module, registered_name, build_config, initializer details) carries no weights
    if "dtype" in kwargs:
        kwargs["dtype"] = _dtype_name(kwargs["dtype"])
    for key in ("batch_shape", "batch_input_shape", "shape", "input_shape"):
        if key in kwargs and kwargs[key] is not None:
            kwargs[key] = _shape(kwargs[key], key)
    if class_name == "InputLayer":
        if kwargs.get("batch_shape") is None and kwargs.get("batch_input_shape") is not None:
            kwargs["batch_shape"] = kwargs.pop("batch_input_shape")
        kwargs.pop("batch_input_shape", None)
        return InputLayer(**kwargs)
    batch_input_shape = kwargs.pop("batch_input_shape", None)
    if batch_input_shape is not None:
        kwargs["input_shape"] = batch_input_shape[1:]
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"layer {class_name}: {exc}") from None


def model_from_config(config):
    """Rebuild a Sequential model from ``{"class_name": "Sequential", "config": {...}}``."""
    from ..model import Sequential  # noqa: PLC0415 - saving sits above the model

    if not isinstance(config, dict) or config.get("class_name") != "Sequential":
        found = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"only Sequential models can be loaded, got {found!r}")
    body = config.get("config")
    if not isinstance(body, dict) or not isinstance(body.get("layers"), list):
        raise ValueError("a Sequential config needs a 'layers' list")
    name = body.get("name")
    model = Sequential(name=name if isinstance(name, str) and name else None)
    for entry in body["layers"]:
        model.add(layer_from_config(entry))
    build_shape = body.get("build_input_shape")
    if not model.built and model.input_shape is None and build_shape is not None:
        model.build(_shape(build_shape, "build_input_shape"))
    return model


def model_from_json(text):
    """Rebuild a model from :meth:`Sequential.to_json` text (or a Keras Sequential's JSON)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not isinstance(text, str):
        raise TypeError(f"model_from_json expects JSON text, got {type(text).__name__}")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"model JSON is not valid JSON: {exc}") from None
    return model_from_config(config)
