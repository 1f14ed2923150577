"""Models from their architecture (JSON config): gpunet's model classes and registered ones only.

A model file's architecture is JSON text, parsed with ``json`` (nothing is evaluated, imported or
unpickled). Its ``class_name`` must be a model class gpunet knows (``Sequential``, ``Functional``:
gpunet's models join the registry of kind ``"model"`` as they are defined) or a subclass of it registered with ``register_serializable`` (named by
its ``registered_name``); each layer is rebuilt by :func:`gpunet.layers.deserialize` under the
same rule. Before any layer is built, the bytes its weights will take are counted and held to
the load limit (:func:`gpunet.saving.budget.check_config`): a config of ``units: 10**9`` is
refused in a line, not allocated.
"""

from __future__ import annotations

from ..lookup import Lookup, custom_object_scope
from ..backend.memory import format_bytes
from ..layers.base import guard_weights
from .budget import check_config, load_limit as budget_limit, parse_json

__all__ = ["serialize_model", "model_from_config", "model_from_json"]

# the base (Model) and the classes come from the registry: models/ sits above saving/ and joins later
_LOOKUP = Lookup("model", case_sensitive=True)


def serialize_model(model) -> dict:
    """``{"class_name", "config"}`` (+ ``"registered_name"`` for a registered subclass)."""
    return _LOOKUP.serialize(model)


def model_from_config(config, load_limit=None, where: str = "the model config"):
    """Rebuild a model from ``{"class_name": "Sequential", "config": {...}}``.

    ``load_limit`` (a size such as ``"8G"``, a number of bytes, ``"auto"`` or ``"off"``; default
    ``GPUNET_LOAD_LIMIT``, else half the available memory) bounds the bytes its weights may take;
    a larger model is refused, naming ``where``, before any weight is allocated.
    """
    if not isinstance(config, dict):
        raise ValueError(f"a model config must be an object with class_name and config, got {type(config).__name__}")
    if not isinstance(config.get("config"), dict):
        raise ValueError(f"the model config of {config.get('class_name')!r} needs a 'config' object")
    _LOOKUP.find(config.get("class_name"), config.get("registered_name"))
    check_config(config, load_limit, where)
    try:
        with guard_weights(_WeightTally(budget_limit(load_limit), where)):  # what the count ahead could not see
            return _LOOKUP.deserialize(config)
    except MemoryError:
        raise MemoryError(f"{where}: the model's weights do not fit in memory (lower load_limit or "
                          "GPUNET_LOAD_LIMIT to refuse such models before allocating them)") from None


class _WeightTally:
    """Counts the bytes of the weights a model rebuilt from a config creates and refuses the one
    that passes the load limit before it is allocated (a functional or subclassed model's graph is
    built layer by layer, so its count happens as it is built)."""

    def __init__(self, limit, where: str):
        self.limit, self.where, self.total = limit, where, 0

    def __call__(self, layer, name, shape, dtype) -> None:
        size = 1
        for dim in shape:
            size *= int(dim)
        self.total += size * dtype.itemsize
        if self.limit is not None and self.total > self.limit:
            raise ValueError(f"{self.where}: the weights up to {layer.name}/{name} {tuple(shape)} take "
                             f"{format_bytes(self.total)}, more than the {format_bytes(self.limit)} gpunet lets a model "
                             "from a file or a config take (load_limit= or GPUNET_LOAD_LIMIT=<size> raises it)")


def model_from_json(json_string, custom_objects=None, *, load_limit=None):
    """Rebuild a model from ``model.to_json()`` text (or a Keras Sequential's JSON);
    ``load_limit`` as for :func:`model_from_config`."""
    if isinstance(json_string, bytes):
        json_string = json_string.decode("utf-8")
    if not isinstance(json_string, str):
        raise TypeError(f"model_from_json expects JSON text, got {type(json_string).__name__}")
    config = parse_json(json_string, "model JSON")
    with custom_object_scope(custom_objects):
        return model_from_config(config, load_limit=load_limit, where="model JSON")
