"""Models from their architecture (JSON config): gpunet's model classes and registered ones only.

A model file's architecture is JSON text, parsed with ``json`` (nothing is evaluated, imported or
unpickled). Its ``class_name`` must be a model class gpunet knows (``Sequential``, which
registers itself here) or a user subclass registered with ``register_serializable``; each layer
is rebuilt by :func:`gpunet.layers.deserialize` under the same rule.
"""

from __future__ import annotations

import json

from ..lookup import custom_object_scope, get_registered_object

__all__ = ["register_model_class", "model_from_config", "model_from_json"]

_MODEL_CLASSES: dict = {}


def register_model_class(cls):
    """Class decorator for gpunet's own model classes (files name them by class name)."""
    _MODEL_CLASSES[cls.__name__] = cls
    return cls


def _model_class(config):
    name = config.get("class_name")
    registered = config.get("registered_name")
    bases = tuple(_MODEL_CLASSES.values())
    for key in (registered, name):
        cls = get_registered_object(key) if isinstance(key, str) else None
        if isinstance(cls, type) and issubclass(cls, bases):
            return cls
    cls = _MODEL_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"only {' or '.join(sorted(_MODEL_CLASSES))} models (or model classes registered with "
            f"@gpunet.saving.register_serializable()) can be loaded, got {registered or name!r}"
        )
    return cls


def model_from_config(config):
    """Rebuild a model from ``{"class_name": "Sequential", "config": {...}}``."""
    if not isinstance(config, dict):
        raise ValueError(f"a model config must be an object with class_name and config, got {type(config).__name__}")
    body = config.get("config")
    if not isinstance(body, dict):
        raise ValueError(f"the model config of {config.get('class_name')!r} needs a 'config' object")
    return _model_class(config).from_config(body)


def model_from_json(text, custom_objects=None):
    """Rebuild a model from ``model.to_json()`` text (or a Keras Sequential's JSON)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not isinstance(text, str):
        raise TypeError(f"model_from_json expects JSON text, got {type(text).__name__}")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"model JSON is not valid JSON: {exc}") from None
    with custom_object_scope(custom_objects):
        return model_from_config(config)
