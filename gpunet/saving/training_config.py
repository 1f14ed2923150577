"""The ``training_config`` section: how a model is compiled and trained, as JSON.

The same section sits in ``.h5`` files (Keras's ``training_config`` attribute) and in the model
files of ``models/``, where it also holds fit's settings (batch size, epochs, dev size, dev
evaluations per epoch) and callbacks. Everything is rebuilt from gpunet's own registries: class
names, never code.
"""

from __future__ import annotations

import numbers

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
    from .. import losses, optimizers  # noqa: PLC0415 - saving sits above these

    return {
        "loss": losses.serialize(model.loss),
        "metrics": [m if isinstance(m, str) else m.name for m in getattr(model, "_metric_identifiers", [])],
        "weighted_metrics": None,
        "loss_weights": None,
        "optimizer_config": optimizers.serialize(model.optimizer),
    }


def compile_from_config(model, config: dict, where: str = "training_config", optimizer=None) -> None:
    """``model.compile`` from a training config (Keras's or gpunet's); ``optimizer`` overrides it."""
    from .. import losses, optimizers  # noqa: PLC0415

    if not isinstance(config, dict):
        raise ValueError(f"{where} must be an object, got {type(config).__name__}")
    if optimizer is None:
        optimizer_config = config.get("optimizer_config")
        try:
            optimizer = optimizers.deserialize(optimizer_config) if optimizer_config else "rmsprop"
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"{where}: optimizer settings gpunet cannot use ({exc})") from None
    loss = config.get("loss")
    if isinstance(loss, dict) and "class_name" in loss:
        loss = losses.get(loss)
    if loss is None:
        raise ValueError(f"{where}: no loss given")
    metrics = config.get("metrics") or []
    if isinstance(metrics, list) and metrics and isinstance(metrics[0], list):  # Keras nests per output
        metrics = metrics[0]
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise ValueError(f"{where}: metrics must be a list of names, got {metrics!r}")
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)


def callbacks_from_config(entries, where: str = "training_config.callbacks") -> list:
    """Callbacks from ``[{"class_name": "ReduceLROnPlateau", "config": {...}}, ...]``.

    Only gpunet's callbacks that make sense in a file are accepted (ReduceLROnPlateau,
    EarlyStopping, ModelCheckpoint, CSVLogger, TerminateOnNaN, GradientNormMonitor).
    """
    from .. import callbacks  # noqa: PLC0415

    allowed = {cls.__name__: cls for cls in (
        callbacks.ReduceLROnPlateau, callbacks.EarlyStopping, callbacks.ModelCheckpoint,
        callbacks.CSVLogger, callbacks.TerminateOnNaN, callbacks.GradientNormMonitor,
    )}
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ValueError(f"{where} must be a list, got {type(entries).__name__}")
    result = []
    for entry in entries:
        name = entry.get("class_name") if isinstance(entry, dict) else None
        cls = allowed.get(name)
        if cls is None:
            raise ValueError(f"{where}: unknown callback {name!r}; valid names are {sorted(allowed)}")
        kwargs = entry.get("config") or {}
        if not isinstance(kwargs, dict):
            raise ValueError(f"{where}: the config of {name} must be an object")
        try:
            result.append(cls(**kwargs))
        except TypeError as exc:
            raise ValueError(f"{where}: {name}: {exc}") from None
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
