"""HDF5 model files in Keras's legacy ``.h5`` layout, plus gpunet's groups for exact resumption.

Layout (what Keras 3 writes with ``model.save("x.h5")``, and reads)::

    /                       attrs: keras_version, backend, model_config (JSON), training_config (JSON)
    /model_weights          attrs: layer_names, backend, keras_version
    /model_weights/<layer>  attrs: weight_names = ["<model>/<layer>/kernel", "<model>/<layer>/bias"]
    /model_weights/<layer>/<model>/<layer>/kernel    (in, out)
    /model_weights/<layer>/<model>/<layer>/bias      (out,)

gpunet adds one group Keras ignores::

    /gpunet                 attrs: format_version, gpunet_version
    /gpunet/optimizer       attrs: class_name, config (JSON), iterations, epoch, learning_rate
    /gpunet/optimizer/slots/<param path>/<slot>      e.g. slots/dense/kernel/m ; attrs step (+ scalars)
    /gpunet/training_state  attrs: state (JSON: next epoch, RNG states, best dev value, callbacks)
    /gpunet/training_state/best_weights/<param path> the best-on-dev parameters so far

Reading never unpickles and never evaluates anything: attributes are decoded as text and parsed
with ``json``, layer classes come from gpunet's registry, datasets must be numeric and their
shapes are checked against the architecture before a byte of data is read.
"""

from __future__ import annotations

import json
import os

import numpy

from .. import backend
from .atomic import atomic_write
from .registry import model_from_config
from .training_config import compile_from_config, training_config

__all__ = ["save_model", "save_weights", "load_weights", "load_model", "read_file_state"]

FORMAT_VERSION = 1
KERAS_VERSION = "3.0.0"  # the Keras file layout these files follow
_MAX_ELEMENTS = 1 << 31  # refuse datasets that declare absurd sizes


def _h5py():
    import h5py  # noqa: PLC0415 - a required dependency, imported when files are used

    return h5py


def check_path_for_writing(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"filepath must be a path, got {type(path).__name__}")
    path = os.fspath(path)
    if path.endswith(".keras"):
        raise ValueError(f"{path!r}: gpunet writes HDF5 files in Keras's .h5 layout; use a name ending in .h5")
    if path.endswith(".weights.h5"):
        raise ValueError(
            f"{path!r}: Keras reads '.weights.h5' as its own newer layout, which gpunet does not write; "
            "name the file '.h5' so that Keras's load_weights reads it"
        )
    return path


def _text(value) -> str:
    """An HDF5 attribute holding text, as str (never unpickled)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, numpy.bytes_):
        return bytes(value).decode("utf-8")
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a text attribute, got {type(value).__name__}")


def _text_list(value) -> list:
    if isinstance(value, numpy.ndarray):
        if value.size == 0:
            return []
        if value.dtype.kind not in "OSU":
            raise ValueError(f"expected a list of names, got an array of {value.dtype}")
        return [_text(v) for v in value.tolist()]
    return [_text(value)]


def _json_attr(attrs, key, path):
    if key not in attrs:
        return None
    try:
        return json.loads(_text(attrs[key]))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: attribute {key!r} is not valid JSON text ({exc})") from None


def _read_dataset(dataset, expected_shape, what: str, path: str):
    """A numeric dataset's values, after checking its dtype and shape (before reading data)."""
    h5py = _h5py()
    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(f"{path}: {what} is not a dataset")
    if dataset.dtype.kind not in "fiu":
        raise ValueError(f"{path}: {what} holds {dataset.dtype} data where numbers belong")
    if expected_shape is not None and tuple(dataset.shape) != tuple(expected_shape):
        raise ValueError(f"{path}: {what} has shape {tuple(dataset.shape)}, the model expects {tuple(expected_shape)}")
    if dataset.size > _MAX_ELEMENTS:
        raise ValueError(f"{path}: {what} declares {dataset.size} elements, more than gpunet will read")
    return numpy.asarray(dataset[()])


def _open(path, mode="r"):
    h5py = _h5py()
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"filepath must be a path, got {type(path).__name__}")
    path = os.fspath(path)
    if mode == "r":
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such model file: {path!r}")
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path!r} is a folder, not an HDF5 model file")
        if os.path.getsize(path) == 0:
            raise OSError(f"{path!r} is empty, not an HDF5 model file")
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        raise OSError(f"cannot read {path!r} as an HDF5 file (truncated, corrupted or another format): {exc}") from None


# ----------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------
def _fixed_text(text: str):
    """Text as a fixed-length byte string: stored inside the attribute itself. (Variable-length
    strings live in a separate heap, and a damaged heap can send the HDF5 library into an
    endless loop when the attribute is read; fixed-length text is at worst garbage JSON.)"""
    return numpy.bytes_(text.encode("utf-8"))


def _fixed_text_list(items):
    encoded = [item.encode("utf-8") for item in items]
    if not encoded:
        return numpy.zeros((0,))
    return numpy.array(encoded, dtype=f"S{max(len(e) for e in encoded)}")


def _layers_with_weights(model):
    return [layer for layer in model.layers if layer.weights]


def _write_weights(group, model) -> None:
    group.attrs["backend"] = _fixed_text("numpy")
    group.attrs["keras_version"] = _fixed_text(KERAS_VERSION)
    group.attrs["layer_names"] = _fixed_text_list([layer.name for layer in model.layers])
    for layer in model.layers:
        g = group.create_group(layer.name)
        names = [f"{model.name}/{p.name}" for p in layer.weights]
        g.attrs["weight_names"] = _fixed_text_list(names)
        for name, p in zip(names, layer.weights):
            g.create_dataset(name, data=backend.to_host(p.data), track_times=False)
    group.create_group("top_level_model_weights").attrs["weight_names"] = numpy.zeros((0,))


def _write_optimizer(group, optimizer) -> None:
    from .. import optimizers  # noqa: PLC0415

    state = optimizer.get_state()
    group.attrs["class_name"] = _fixed_text(type(optimizer).__name__)
    group.attrs["config"] = _fixed_text(json.dumps(optimizers.serialize(optimizer)))
    group.attrs["iterations"] = state["iterations"]
    group.attrs["epoch"] = state["epoch"]
    group.attrs["learning_rate"] = state["learning_rate"]
    slots = group.create_group("slots")
    for path, values in state["slots"].items():
        g = slots.create_group(path)
        for key, value in values.items():
            if isinstance(value, numpy.ndarray):
                g.create_dataset(key, data=value, track_times=False)
            else:
                g.attrs[key] = value


def _write_training_state(group, state: dict) -> None:
    best_weights = state.pop("best_weights", None)
    group.attrs["state"] = _fixed_text(json.dumps(state))
    if best_weights:
        g = group.create_group("best_weights")
        for path, value in best_weights.items():
            g.create_dataset(path, data=value, track_times=False)


def save_model(model, filepath, include_optimizer: bool = True) -> None:
    """Write the architecture, weights, training config, optimizer state and (during fit) the
    training state to ``filepath`` atomically."""
    path = check_path_for_writing(filepath)
    if not model.built:
        raise ValueError("the model has no weights yet: build it (an Input layer, or call it on data) before saving")
    training_state = None
    fit_state = getattr(model, "_fit_state", None)
    if fit_state is not None:
        training_state = fit_state()
    with atomic_write(path) as temp:
        with _h5py().File(temp, "w") as f:
            f.attrs["keras_version"] = _fixed_text(KERAS_VERSION)
            f.attrs["backend"] = _fixed_text("numpy")
            f.attrs["model_config"] = _fixed_text(model.to_json())
            config = training_config(model)
            if config is not None:
                f.attrs["training_config"] = _fixed_text(json.dumps(config))
            _write_weights(f.create_group("model_weights"), model)
            ours = f.create_group("gpunet")
            ours.attrs["format_version"] = FORMAT_VERSION
            from .. import __version__  # noqa: PLC0415

            ours.attrs["gpunet_version"] = _fixed_text(__version__)
            if include_optimizer and model.compiled:
                _write_optimizer(ours.create_group("optimizer"), model.optimizer)
            if training_state is not None:
                _write_training_state(ours.create_group("training_state"), training_state)
            f.flush()


def save_weights(model, filepath) -> None:
    """Write only the weights (Keras's ``model_weights`` layout at the file's root), atomically."""
    path = check_path_for_writing(filepath)
    if not model.built:
        raise ValueError("the model has no weights yet: build it before saving its weights")
    with atomic_write(path) as temp:
        with _h5py().File(temp, "w") as f:
            _write_weights(f, model)
            f.flush()


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------
def _weights_group(f):
    return f["model_weights"] if "model_weights" in f else f


def _read_weights(f, model, path) -> list:
    """Every weight of ``model`` read from the file and checked, in model order (nothing assigned)."""
    h5py = _h5py()
    group = _weights_group(f)
    if "layer_names" not in group.attrs:
        raise ValueError(f"{path}: no 'layer_names' attribute: not a Keras/gpunet weights file")
    names = _text_list(group.attrs["layer_names"])
    file_layers = []
    for name in names:
        g = group.get(name)
        if not isinstance(g, h5py.Group):
            raise ValueError(f"{path}: layer {name!r} is listed but has no group")
        weight_names = _text_list(g.attrs.get("weight_names", numpy.zeros(0)))
        if weight_names:
            file_layers.append((name, g, weight_names))
    layers = _layers_with_weights(model)
    if len(file_layers) != len(layers):
        raise ValueError(
            f"{path}: the file has weights for {len(file_layers)} layers, the model has {len(layers)} layers with weights"
        )
    values = []
    for (name, g, weight_names), layer in zip(file_layers, layers):
        if len(weight_names) != len(layer.weights):
            raise ValueError(f"{path}: layer {name!r} has {len(weight_names)} weights in the file, {layer.name!r} has {len(layer.weights)}")
        for weight_name, p in zip(weight_names, layer.weights):
            if weight_name not in g:
                raise ValueError(f"{path}: weight {weight_name!r} of layer {name!r} is missing")
            value = _read_dataset(g[weight_name], p.shape, f"weight {weight_name!r}", path)
            if value.dtype.kind == "f" and not numpy.all(numpy.isfinite(value)):
                raise ValueError(f"{path}: weight {weight_name!r} contains NaN or infinity")
            values.append(value)
    return values


def _assign(model, values) -> None:
    for p, value in zip(model.weights, values):
        p.data[...] = backend.to_device(value.astype(p.dtype, copy=False))


class _Damaged:
    """Turn anything h5py raises on a corrupted file (KeyError, RuntimeError, ...) into an
    OSError naming the file; gpunet's own ValueError/TypeError/OSError pass through."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if exc is None or isinstance(exc, (ValueError, TypeError, OSError)) or not isinstance(exc, Exception):
            return False
        raise OSError(f"{self.path}: the file is damaged ({type(exc).__name__}: {exc})") from None


def load_weights(model, filepath) -> None:
    """Read weights written by gpunet or Keras (``.h5``) into a model of the same architecture.

    Layers are matched in order, as Keras does; every shape is checked before any weight is
    assigned, so a mismatched file leaves the model unchanged.
    """
    path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else filepath
    with _Damaged(path), _open(path) as f:
        if not model.built:
            raise ValueError("build the model (an Input layer, or call it on data) before loading weights into it")
        values = _read_weights(f, model, path)
    _assign(model, values)


def read_file_state(f, path):
    """gpunet's optimizer and training state from an open file (None where absent)."""
    h5py = _h5py()
    ours = f.get("gpunet")
    if not isinstance(ours, h5py.Group):
        return None, None
    optimizer_state = None
    group = ours.get("optimizer")
    if isinstance(group, h5py.Group):
        slots = {}
        slot_root = group.get("slots")

        def collect(name, obj):
            if isinstance(obj, h5py.Group) and "step" in obj.attrs:
                entry = {k: float(v) if k != "step" else int(v) for k, v in obj.attrs.items()}
                for key, dataset in obj.items():
                    if isinstance(dataset, h5py.Dataset):
                        entry[key] = _read_dataset(dataset, None, f"optimizer slot {name}/{key}", path)
                slots[name] = entry

        if isinstance(slot_root, h5py.Group):
            slot_root.visititems(collect)
        optimizer_state = {
            "class_name": _text(group.attrs.get("class_name", "")),
            "config": _json_attr(group.attrs, "config", path),
            "iterations": int(group.attrs.get("iterations", 0)),
            "epoch": int(group.attrs.get("epoch", 0)),
            "learning_rate": float(group.attrs.get("learning_rate", 0.0)),
            "slots": slots,
        }
    training_state = None
    group = ours.get("training_state")
    if isinstance(group, h5py.Group):
        training_state = _json_attr(group.attrs, "state", path) or {}
        best = group.get("best_weights")
        if isinstance(best, h5py.Group):
            weights = {}

            def gather(name, obj):
                if isinstance(obj, h5py.Dataset):
                    weights[name] = _read_dataset(obj, None, f"best weight {name}", path)

            best.visititems(gather)
            training_state["best_weights"] = weights
    return optimizer_state, training_state


def load_model(filepath, compile: bool = True):  # noqa: A002 - Keras's argument name
    """Rebuild a model from a gpunet or Keras ``.h5`` file.

    The model comes back compiled when the file has a training config (and ``compile`` is
    True), with the optimizer's state restored; a checkpoint written during fit also restores
    what an exact resumption needs (see :func:`gpunet.training.fit`'s ``initial_epoch``).
    """
    path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else filepath
    with _Damaged(path), _open(path) as f:
        config = _json_attr(f.attrs, "model_config", path)
        if config is None:
            raise ValueError(f"{path}: no model_config attribute; for a weights-only file build the model and call load_weights")
        model = model_from_config(config)
        if not model.built:
            raise ValueError(f"{path}: the architecture has no input shape, so its weights cannot be placed")
        values = _read_weights(f, model, path)
        train_config = _json_attr(f.attrs, "training_config", path) if compile else None
        optimizer_state, training_state = read_file_state(f, path) if compile else (None, None)
    _assign(model, values)
    if train_config:
        compile_from_config(model, train_config, f"{path}: training_config")
        if optimizer_state is not None and optimizer_state["class_name"] == type(model.optimizer).__name__:
            model.optimizer.set_state(optimizer_state)
    model._resume_state = training_state
    return model
