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

from .. import callbacks, losses, metrics, optimizers

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
    return {
        "loss": losses.serialize(model.loss),
        "metrics": [m if isinstance(m, str) else metrics.serialize(m) for m in getattr(model, "_metric_identifiers", [])],
        "weighted_metrics": None,
        "loss_weights": None,
        "optimizer_config": optimizers.serialize_for_keras(model.optimizer),
    }


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
    loss = config.get("loss")
    if isinstance(loss, dict) and "class_name" in loss:
        loss = losses.get(loss)
    if loss is None:
        raise ValueError(f"{where}: no loss given")
    names = config.get("metrics") or []
    if isinstance(names, list) and names and isinstance(names[0], list):  # Keras nests per output
        names = names[0]
    if not isinstance(names, list) or not all(isinstance(m, str) or (isinstance(m, dict) and "class_name" in m) for m in names):
        raise ValueError(f"{where}: metrics must be a list of names or metric configs, got {names!r}")
    model.compile(optimizer=optimizer, loss=loss, metrics=names)


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
