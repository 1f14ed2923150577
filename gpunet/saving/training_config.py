"""The ``training_config`` section: how a model is compiled and trained, as JSON.

The same section sits in ``.h5`` files (Keras's ``training_config`` attribute) and in the model
files of ``models/``, where it also holds fit's settings (batch size, epochs, dev size, dev
evaluations per epoch) and callbacks. Everything is rebuilt from gpunet's own registries: class
names, never code.

As Keras writes them, metrics given by a string stay that string (it is also the name they are
logged under) and metric objects become ``{"class_name", "config"}`` with Keras's arguments. The
loss is always written as ``{"class_name", "config"}`` (Keras writes the string it was given, but
cannot read back some of its own aliases, such as ``"kld"``); gpunet reads either form.
"""

from __future__ import annotations

import numbers

from .. import callbacks, tree, losses, metrics, optimizers

__all__ = ["training_config", "compile_from_config", "callbacks_from_config", "fit_settings", "FIT_KEYS"]

# fit settings a model file may carry, with their type checks
FIT_KEYS = {
    "batch_size": "positive int",
    "epochs": "positive int",
    "dev_size": "positive int",
    "validations_per_epoch": "positive int",
    "seed": "non-negative int",
}


def training_config(model) -> dict | None:
    """Keras's ``training_config`` for a compiled model (gpunet's optimizer config inside)."""
    if not model.compiled:
        return None
    compiled = model.compiled_outputs
    return {
        "loss": serialize_losses(model.loss),
        "metrics": serialize_metrics(compiled.metrics_argument),
        "weighted_metrics": serialize_metrics(compiled.weighted_metrics_argument),
        "loss_weights": compiled.loss_weights,
        "optimizer_config": optimizers.serialize_for_keras(model.optimizer),
    }


def serialize_losses(loss, wrap=lambda entry: entry):
    """compile's ``loss`` (one loss, or a list or dict of them, None entries allowed) as configs."""
    return tree.map_structure(lambda item: None if item is None else wrap(losses.serialize(losses.get(item))), loss)


def serialize_metrics(value, wrap=lambda entry: entry):
    """compile's ``metrics`` (a list, a list of lists, a dict...) as names and configs."""
    def one(item):
        if item is None or isinstance(item, str):
            return item
        if isinstance(item, metrics.Metric):
            return wrap(metrics.serialize(item))
        return wrap(metrics.serialize(metrics.get(item, None)))
    return None if value is None else tree.map_structure(one, value)


def compile_from_config(model, config: dict, where: str = "training_config", optimizer=None, keras: bool = False) -> None:
    """``model.compile`` from a training config; ``optimizer`` overrides it. ``keras=True`` reads
    the optimizer's arguments with Keras's meaning (what ``.h5`` files hold, Keras's or gpunet's:
    see :meth:`gpunet.optimizers.Optimizer.keras_config`), else with gpunet's (model files)."""
    if not isinstance(config, dict):
        raise ValueError(f"{where} must be an object, got {type(config).__name__}")
    if optimizer is None:
        optimizer_config = config.get("optimizer_config")
        try:
            read = optimizers.deserialize_from_keras if keras else optimizers.deserialize
            optimizer = read(optimizer_config) if optimizer_config else "rmsprop"
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"{where}: optimizer settings gpunet cannot use ({exc})") from None
    loss = _configs(config.get("loss"), losses.get, where, "loss")
    names = _configs(config.get("metrics"), None, where, "metrics")
    weighted = _configs(config.get("weighted_metrics"), None, where, "weighted_metrics")
    if isinstance(names, list) and len(names) == 1 and isinstance(names[0], list) and \
            len(getattr(model, "output_names", None) or [None]) == 1:  # Keras nests one output's metrics
        names = names[0]
    model.compile(optimizer=optimizer, loss=loss, metrics=names, weighted_metrics=weighted,
                  loss_weights=config.get("loss_weights"))


def _configs(value, build, where: str, key: str):
    """A saved loss or metrics entry (one config, or a list or dict of them) with configs turned
    into objects (``build``) or kept as gpunet reads them (None); names stay names."""
    def one(item):
        if isinstance(item, dict) and "class_name" in item:
            return item if build is None else build(item)
        if item is None or isinstance(item, str):
            return item
        raise ValueError(f"{where}: {key} must hold names or configs, got {item!r}")
    if isinstance(value, dict) and "class_name" in value:
        return one(value)
    if isinstance(value, dict):
        return {k: one(v) if not isinstance(v, list) else [one(i) for i in v] for k, v in value.items()}
    if isinstance(value, list):
        return [one(i) if not isinstance(i, list) else [one(j) for j in i] for i in value]
    return one(value)


def callbacks_from_config(entries, where: str = "training_config.callbacks") -> list:
    """Callbacks from ``[{"class_name": "ReduceLROnPlateau", "config": {...}}, ...]``.

    gpunet's callbacks that make sense in a file (ReduceLROnPlateau, EarlyStopping,
    ModelCheckpoint, CSVLogger, TerminateOnNaN, GradientNormMonitor) and registered user callbacks.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ValueError(f"{where} must be a list, got {type(entries).__name__}")
    result = []
    for entry in entries:
        try:
            result.append(callbacks.deserialize(entry))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: {exc}") from None
    return result


def fit_settings(config: dict, where: str = "training_config") -> dict:
    """The fit settings of a model file (batch_size, epochs, dev_size, validations_per_epoch, seed)."""
    settings = {}
    for key, kind in FIT_KEYS.items():
        if key not in config:
            continue
        value = config[key]
        minimum = 0 if kind.startswith("non-negative") else 1
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError(f"{where}.{key} must be a {kind}, got {value!r}")
        settings[key] = int(value)
    return settings
