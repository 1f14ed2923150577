"""Models from their architecture (JSON config): gpunet's model classes and registered ones only.

A model file's architecture is JSON text, parsed with ``json`` (nothing is evaluated, imported or
unpickled). Its ``class_name`` must be a model class gpunet knows (``Sequential``, which
registers itself here) or a subclass of it registered with ``register_serializable`` (named by
its ``registered_name``); each layer is rebuilt by :func:`gpunet.layers.deserialize` under the
same rule.
"""

from __future__ import annotations

import json

from ..lookup import Lookup, custom_object_scope

__all__ = ["register_model_class", "serialize_model", "model_from_config", "model_from_json"]

_LOOKUP: Lookup | None = None


def register_model_class(cls):
    """Make ``cls`` (gpunet's Sequential) and its registered subclasses loadable by name."""
    global _LOOKUP
    _LOOKUP = Lookup("model", cls, {cls.__name__: cls}, case_sensitive=True)
    return cls


def serialize_model(model) -> dict:
    """``{"class_name", "config"}`` (+ ``"registered_name"`` for a registered subclass)."""
    return _LOOKUP.serialize(model)


def model_from_config(config):
    """Rebuild a model from ``{"class_name": "Sequential", "config": {...}}``."""
    if not isinstance(config, dict):
        raise ValueError(f"a model config must be an object with class_name and config, got {type(config).__name__}")
    if not isinstance(config.get("config"), dict):
        raise ValueError(f"the model config of {config.get('class_name')!r} needs a 'config' object")
    return _LOOKUP.deserialize(config)


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
