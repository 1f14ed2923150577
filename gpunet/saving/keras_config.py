"""A model's ``config.json`` in a ``.keras`` archive: Keras 3's serialized form, both ways.

Keras 3 writes every object as ``{"module", "class_name", "config", "registered_name"}``: the
module tells Keras where its built-in classes live (``keras.layers``, ``keras.optimizers``...),
``registered_name`` is ``null`` for them and ``"package>Name"`` for registered user classes.
Layers also carry ``build_config`` (their input shape), and the model carries
``compile_config`` (optimizer, loss, metrics, as ``model.compile`` takes them).

Writing turns gpunet's configs (``model.get_config()``, which already uses Keras's class names
and arguments) into that form. Reading goes through gpunet's own registries
(:func:`gpunet.saving.model_from_config`, the optimizer, loss and metric lookups): ``module``
is never imported, and a name gpunet does not know is refused.
"""

from __future__ import annotations

from .. import optimizers
from ..lookup import get_registered_object
from .config import serialize_model
from .training_config import serialize_losses, serialize_metrics

__all__ = ["keras_model_config", "keras_compile_config", "training_config_from_keras", "refuse_code", "plain_dtypes"]

# where Keras keeps the built-in classes a layer config may nest, by the argument's ending
_NESTED_MODULES = (("_initializer", "keras.initializers"), ("_regularizer", "keras.regularizers"),
                   ("_constraint", "keras.constraints"))
# Keras's markers for values that are code or raw objects rather than configuration
_CODE_MARKERS = {"__lambda__", "__typespec__", "__keras_tensor__", "__tensor__", "__bytes__", "function"}


def _entry(entry: dict, module: str) -> dict:
    """``{"class_name", "config"[, "registered_name"]}`` in Keras 3's form: a user class (one with
    a registered name) names its Python module, as Keras writes it."""
    registered = entry.get("registered_name")
    if isinstance(registered, str) and registered != entry["class_name"]:
        module = getattr(get_registered_object(registered), "__module__", None)
    else:
        registered = None
    return {"module": module, "class_name": entry["class_name"], "config": entry["config"], "registered_name": registered}


def _dtype_policy(name) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _layer_entry(entry: dict, input_shape) -> dict:
    config = dict(entry["config"])
    for key, value in config.items():
        if isinstance(value, dict) and "class_name" in value and (key == "layer" or key.endswith("_layer")):
            config[key] = _layer_entry(value, None)  # a wrapper's layer (TimeDistributed): Keras's form too
        elif isinstance(value, dict) and "class_name" in value and "module" not in value:
            module = next((m for ending, m in _NESTED_MODULES if key.endswith(ending)), None)
            if module is not None:
                config[key] = _entry(value, module)
    is_input = entry["class_name"] == "InputLayer"
    if isinstance(config.get("dtype"), str) and not is_input:
        config["dtype"] = _dtype_policy(config["dtype"])
    keras = _entry({**entry, "config": config}, "keras.layers")
    if input_shape is not None and not is_input:
        keras["build_config"] = {"input_shape": list(input_shape)}
    return keras


def _functional_model_config(model, entry: dict) -> dict:
    """A functional model's entry as Keras 3 writes it: each layer in Keras's form with its
    ``build_config`` (the input shape it was built for), ``name`` and ``inbound_nodes``; nested
    models in their own Keras form."""
    config = dict(entry["config"])
    by_name = {layer.name: layer for layer in model.layers}
    layers = []
    for item in config["layers"]:
        layer = by_name.get(item["name"])
        if str(item.get("module", "")).startswith("keras.src.ops."):  # an op: already in Keras's form
            keras = dict(item)
        elif hasattr(layer, "_init_trainer"):  # a model inside the model
            keras = keras_model_config(layer)
        else:
            shape = getattr(layer, "build_input_shape", None)
            keras = _layer_entry(item, None)
            if shape is not None and item["class_name"] != "InputLayer":
                keras["build_config"] = {"input_shape": _as_lists(shape)}
            if hasattr(layer, "get_build_config"):  # a layer built from several inputs (attention)
                keras["build_config"] = layer.get_build_config()
        keras["name"] = item["name"]
        keras["inbound_nodes"] = item["inbound_nodes"]
        layers.append(keras)
    config["layers"] = layers
    keras = _entry({**entry, "config": config}, "keras.src.models.functional")
    keras["registered_name"] = keras["registered_name"] or entry["class_name"]
    keras["build_config"] = {"input_shape": None}
    return keras


def _as_lists(shape):
    return [_as_lists(s) for s in shape] if isinstance(shape, (list, tuple)) else shape


def keras_model_config(model) -> dict:
    """The model's architecture as Keras 3 writes it in ``config.json`` (without
    ``compile_config``)."""
    entry = serialize_model(model)
    if "input_layers" in entry["config"]:
        return _functional_model_config(model, entry)
    config = dict(entry["config"])
    shapes = []
    shape = model.input_shape
    for layer in model.layers:
        shapes.append(shape)
        shape = layer.compute_output_shape(shape) if shape is not None else None
    entries = list(config["layers"])
    first = 1 if entries and entries[0]["class_name"] == "InputLayer" else 0
    layers = [_layer_entry(e, None) for e in entries[:first]]
    layers += [_layer_entry(e, s) for e, s in zip(entries[first:], shapes)]
    config["layers"] = layers
    config["dtype"] = _dtype_policy(model.weights[0].dtype.name if model.weights else "float32")
    if model.input_shape is not None:
        config["build_input_shape"] = list(model.input_shape)
    keras = _entry({**entry, "config": config}, "keras")
    if model.input_shape is not None:
        keras["build_config"] = {"input_shape": list(model.input_shape)}
    return keras


def keras_compile_config(model) -> dict | None:
    """``compile_config`` as Keras 3 writes it (None for a model not compiled). The optimizer's
    arguments are written with Keras's meaning (see ``Optimizer.keras_config``)."""
    if not model.compiled:
        return None
    optimizer = optimizers.serialize_for_keras(model.optimizer)
    registered = optimizers.serialize(model.optimizer).get("registered_name")
    if registered:
        optimizer["registered_name"] = registered
    rate = optimizer["config"].get("learning_rate")
    if isinstance(rate, dict) and "class_name" in rate:  # a schedule
        optimizer["config"] = {**optimizer["config"], "learning_rate": _entry(rate, "keras.optimizers.schedules")}
    optimizer = _entry(optimizer, "keras.optimizers")
    compiled = model.compiled_outputs
    return {
        "optimizer": optimizer,
        "loss": serialize_losses(model.loss, lambda entry: _entry(entry, "keras.losses")),
        "loss_weights": compiled.loss_weights,
        "metrics": serialize_metrics(compiled.metrics_argument, lambda entry: _entry(entry, "keras.metrics")),
        "weighted_metrics": serialize_metrics(compiled.weighted_metrics_argument,
                                              lambda entry: _entry(entry, "keras.metrics")),
        "run_eagerly": bool(getattr(model, "run_eagerly", False)),
        "steps_per_execution": 1,
        "jit_compile": "auto",
    }


def _plain_function(value):
    """Keras writes a built-in loss or metric given as a function as ``{"class_name":
    "function", "config": "<name>"}``: gpunet looks the name up like any other name."""
    if isinstance(value, dict) and value.get("class_name") == "function" and isinstance(value.get("config"), str):
        if value.get("module") == "builtins" or str(value.get("module", "")).startswith("keras"):
            return value["config"]
        registered = value.get("registered_name")  # a function registered with register_serializable: by its name
        if isinstance(registered, str) and callable(get_registered_object(registered)):
            return registered
    return value


def training_config_from_keras(compile_config, where: str) -> dict:
    """The ``training_config`` :func:`gpunet.saving.training_config.compile_from_config` reads,
    from Keras's ``compile_config``."""
    if not isinstance(compile_config, dict):
        raise ValueError(f"{where}: compile_config must be an object, got {type(compile_config).__name__}")
    for key in ("loss_weights", "weighted_metrics"):
        if compile_config.get(key) not in (None, [], {}):
            raise ValueError(f"{where}: compile_config {key}={compile_config[key]!r} is not supported by gpunet")
    names = compile_config.get("metrics") or []
    if isinstance(names, list):
        names = [[_plain_function(m) for m in n] if isinstance(n, list) else _plain_function(n) for n in names]
    return {
        "loss": _plain_function(compile_config.get("loss")),
        "metrics": names,
        "optimizer_config": compile_config.get("optimizer"),
    }


def plain_dtypes(config: dict) -> dict:
    """The model config with each layer's ``DTypePolicy`` written as its plain name
    (``"float32"``), the form gpunet's layers, and user layers, take."""
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        return config
    layers = []
    for entry in inner["layers"]:
        if isinstance(entry, dict) and isinstance(entry.get("config"), dict) and "layers" in entry["config"]:
            layers.append(plain_dtypes(entry))  # a model inside the model
            continue
        layer_config = entry.get("config") if isinstance(entry, dict) else None
        dtype = layer_config.get("dtype") if isinstance(layer_config, dict) else None
        if (isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy"
                and isinstance(dtype.get("config"), dict) and isinstance(dtype["config"].get("name"), str)):
            entry = {**entry, "config": {**layer_config, "dtype": dtype["config"]["name"]}}
        layers.append(entry)
    return {**config, "config": {**inner, "layers": layers}}


def _graph_tensor(config: dict) -> bool:
    """A functional model's reference to a tensor of its graph (``__keras_tensor__`` naming a layer,
    node and tensor): data, not code."""
    inner = config.get("config")
    return (config.get("class_name") == "__keras_tensor__" and isinstance(inner, dict)
            and set(inner) <= {"shape", "dtype", "keras_history", "sparse", "ragged", "name"}
            and isinstance(inner.get("keras_history"), list))


def refuse_code(config, where: str, depth: int = 0) -> None:
    """Refuse, anywhere in a config, the values Keras marks as code or raw objects (a lambda's
    bytecode, a tensor, a function of a user module): gpunet never runs code from a file."""
    if depth > 100:
        raise ValueError(f"{where}: the configuration is nested more than 100 levels deep")
    if isinstance(config, dict):
        name = config.get("class_name")
        if isinstance(name, str) and name in _CODE_MARKERS and _plain_function(config) is config and not _graph_tensor(config):
            raise ValueError(f"{where}: the configuration holds code or a raw object ({name!r}); gpunet loads "
                             "configurations only, never code (a Lambda layer or a custom function cannot be loaded)")
        for value in config.values():
            refuse_code(value, where, depth + 1)
    elif isinstance(config, list):
        for value in config:
            refuse_code(value, where, depth + 1)
