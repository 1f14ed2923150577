"""HDF5 model files in Keras's legacy ``.h5`` layout, plus gpunet's state tree for exact resumption.

Layout (what Keras 3 writes with ``model.save("x.h5")``, and reads)::

    /                       attrs: keras_version, backend, model_config (JSON), training_config (JSON)
    /model_weights          attrs: layer_names, backend, keras_version
    /model_weights/<layer>  attrs: weight_names = ["<model>/<layer>/kernel", "<model>/<layer>/bias"]
    /model_weights/<layer>/<model>/<layer>/kernel    (in, out)
    /model_weights/<layer>/<model>/<layer>/bias      (out,)

A layer's weights are listed in Keras's legacy order: its trainable weights, then the others
(BatchNormalization: gamma, beta, moving_mean, moving_variance).

gpunet adds one group Keras ignores: the model's training state (``model.get_state()``: the
optimizer's and, during fit, the fit's), stored as a generic tree (see :mod:`gpunet.saving.tree`)::

    /gpunet                 attrs: format_version (2), gpunet_version
    /gpunet/state/optimizer attrs: class_name, iterations, epoch, learning_rate
    /gpunet/state/optimizer/slots/<param path>/...   e.g. slots/dense%2Fkernel/m ; attrs step
    /gpunet/state/fit       attrs: epoch, epoch_complete, rng ; groups best, callbacks

Files of format 1 (gpunet 0.1: ``/gpunet/optimizer`` and ``/gpunet/training_state``) are read too.

Reading never unpickles and never evaluates anything: attributes are decoded as text and parsed
with ``json``, layer classes come from gpunet's own and registered ones, datasets must be numeric
and their shapes are checked against the architecture before a byte of data is read. Before
anything else, the file is walked once and held to the model's budget
(:mod:`gpunet.saving.budget`): no link, external or virtual dataset, cycle, or more declared data
than the model needs.
"""

from __future__ import annotations

import contextlib
import json
import os

import numpy

from .. import backend, optimizers
from ..version import __version__
from ..callbacks.base import callback_keys
from ..lookup import custom_object_scope
from .assets import refuse_outside_state
from .atomic import atomic_write
from .budget import LoadBudget, check_source, parse_json
from .config import model_from_config
from .h5walk import MAX_ATTRIBUTE_BYTES
from .training_config import compile_from_config, training_config
from .tree import fixed_text, read_dataset, read_tree, text, write_tree

__all__ = ["save_model", "save_weights", "load_weights", "load_model", "restore_training",
           "state_to_save", "write_state_group", "open_for", "read_weights", "read_state", "read_training_state"]

FORMAT_VERSION = 2
KERAS_VERSION = "3.0.0"  # the Keras file layout these files follow


def _h5py():
    import h5py  # noqa: PLC0415 - a required dependency, imported when files are used

    return h5py


def _text_list(value) -> list:
    if isinstance(value, numpy.ndarray):
        if value.size == 0:
            return []
        if value.dtype.kind not in "OSU":
            raise ValueError(f"expected a list of names, got an array of {value.dtype}")
        return [text(v) for v in value.tolist()]
    return [text(value)]


def _json_attr(attrs, key, path):
    """The JSON text of an attribute of a walked file (its size already checked), parsed."""
    if key not in attrs:
        return None
    try:
        value = text(attrs[key])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: attribute {key!r} is not valid JSON text ({exc})") from None
    return parse_json(value, f"{path}: attribute {key!r}")


def _root_json(f, key, path):
    """The JSON text of a root attribute, read before the file is walked (the model it describes
    sets the walk's budget): only a text attribute of at most ``MAX_ATTRIBUTE_BYTES``."""
    h5py = _h5py()
    if not h5py.h5a.exists(f.id, key.encode()):
        return None
    attribute = h5py.h5a.open(f.id, key.encode())
    if attribute.get_type().get_class() != h5py.h5t.STRING or attribute.get_storage_size() > MAX_ATTRIBUTE_BYTES:
        raise ValueError(f"{path}: attribute {key!r} must be JSON text of at most {MAX_ATTRIBUTE_BYTES} bytes")
    return _json_attr(f.attrs, key, path)


def _open(path, mode="r"):
    h5py = _h5py()
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"filepath must be a path, got {type(path).__name__}")
    path = os.fspath(path)
    if mode == "r":
        check_source(path, "an HDF5 model file")
        if os.path.getsize(path) == 0:
            raise OSError(f"{path!r} is empty, not an HDF5 model file")
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        raise OSError(f"cannot read {path!r} as an HDF5 file (truncated, corrupted or another format): {exc}") from None


def _fixed_text_list(items):
    encoded = [item.encode("utf-8") for item in items]
    if not encoded:
        return numpy.zeros((0,))
    return numpy.array(encoded, dtype=f"S{max(len(e) for e in encoded)}")


def _legacy_order(layer) -> list:
    """A layer's weights as Keras's ``.h5`` lists them: trainable ones first."""
    return layer.trainable_weights + layer.non_trainable_weights


# ----------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------
def _write_weights(group, model) -> None:
    group.attrs["backend"] = fixed_text("numpy")
    group.attrs["keras_version"] = fixed_text(KERAS_VERSION)
    group.attrs["layer_names"] = _fixed_text_list([layer.name for layer in model.layers])
    for layer in model.layers:
        g = group.create_group(layer.name)
        weights = _legacy_order(layer)
        names = [f"{model.name}/{p.name}" for p in weights]
        g.attrs["weight_names"] = _fixed_text_list(names)
        for name, p in zip(names, weights):
            g.create_dataset(name, data=backend.to_host(p.data), track_times=False)
    group.create_group("top_level_model_weights").attrs["weight_names"] = numpy.zeros((0,))


def _check_finite(model) -> None:
    """A file never holds NaN or infinite weights (load_model would refuse it): refuse to write one."""
    if not model.weights_finite():
        bad = next(p for p in model.weights if not backend.all_finite([p.data]))
        raise ValueError(f"cannot save: weight {bad.name!r} contains NaN or infinity (the model diverged?)")


def _write(path, fill) -> None:
    with atomic_write(path) as temp:
        _fill(temp, fill)  # in its own frame: every h5py object is freed before the save ends


def _fill(temp, fill) -> None:
    with _h5py().File(temp, "w") as f:
        fill(f)
        f.flush()


def save_model(model, path: str, include_optimizer: bool = True) -> None:
    """Write the architecture, weights, training config and training state (the optimizer's,
    and the fit's during fit) to ``path`` (checked by ``files.check_save_path``) atomically."""
    refuse_outside_state(model, path)
    state = state_to_save(model, include_optimizer)
    config = training_config(model)
    def fill(f):
        f.attrs["keras_version"] = fixed_text(KERAS_VERSION)
        f.attrs["backend"] = fixed_text("numpy")
        f.attrs["model_config"] = fixed_text(model.to_json())
        if config is not None:
            f.attrs["training_config"] = fixed_text(json.dumps(config))
        _write_weights(f.create_group("model_weights"), model)
        write_state_group(f, state)

    _write(path, fill)


def state_to_save(model, include_optimizer: bool) -> dict:
    """The model's training state for a model file, after checking that the model can be saved
    (built, finite weights)."""
    if not model.built:
        raise ValueError("the model has no weights yet: build it (an Input layer, or call it on data) before saving")
    _check_finite(model)
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None:
        problem = optimizer.slot_problem()
        if problem is not None:
            raise ValueError(f"cannot save: the optimizer's {problem[1]!r} for weight {problem[0]!r} contains NaN or "
                             "infinity (the next update would ruin every weight; save with include_optimizer=False "
                             "to keep the weights)")
    state = model.get_state()
    if not include_optimizer:
        state.pop("optimizer", None)
    return state


def write_state_group(f, state: dict) -> None:
    """gpunet's own group, which Keras ignores: ``/gpunet`` (format and gpunet versions) and the
    state tree in ``/gpunet/state``."""
    ours = f.create_group("gpunet")
    ours.attrs["format_version"] = FORMAT_VERSION
    ours.attrs["gpunet_version"] = fixed_text(__version__)
    write_tree(ours.create_group("state"), state)


def save_weights(model, path: str, layout=None) -> None:
    """Write only the weights to ``path`` (checked by ``files.check_save_path``), atomically:
    ``layout(f)`` fills the open file (Keras 3's ``.weights.h5`` layout), by default Keras's
    legacy ``model_weights`` layout at the file's root."""
    if not model.built:
        raise ValueError("the model has no weights yet: build it before saving its weights")
    _check_finite(model)
    if layout is None:
        refuse_outside_state(model, path)
    _write(path, layout or (lambda f: _write_weights(f, model)))


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------
def _weights_group(f):
    return f["model_weights"] if "model_weights" in f else f


def read_weights(f, model, path) -> list:
    """Every weight of ``model`` read from the file and checked, in ``model.weights`` order
    (nothing assigned)."""
    h5py = _h5py()
    group = _weights_group(f)
    if "layer_names" not in group.attrs:
        if "layers" in group or "vars" in group:
            raise ValueError(f"{path}: this is Keras 3's .weights.h5 layout; read it with model.load_weights()")
        raise ValueError(f"{path}: no 'layer_names' attribute: not a Keras/gpunet weights file")
    file_layers = []
    for name in _text_list(group.attrs["layer_names"]):
        g = group.get(name)
        if not isinstance(g, h5py.Group):
            raise ValueError(f"{path}: layer {name!r} is listed but has no group")
        weight_names = _text_list(g.attrs.get("weight_names", numpy.zeros(0)))
        if weight_names:
            file_layers.append((name, g, weight_names))
    layers = [layer for layer in model.layers if layer.weights]
    if len(file_layers) != len(layers):
        raise ValueError(
            f"{path}: the file has weights for {len(file_layers)} layers, the model has {len(layers)} layers with weights"
        )
    values = {}
    for (name, g, weight_names), layer in zip(file_layers, layers):
        weights = _legacy_order(layer)
        if len(weight_names) != len(weights):
            raise ValueError(f"{path}: layer {name!r} has {len(weight_names)} weights in the file, {layer.name!r} has {len(weights)}")
        for weight_name, p in zip(weight_names, weights):
            if weight_name not in g:
                raise ValueError(f"{path}: weight {weight_name!r} of layer {name!r} is missing")
            value = read_dataset(g[weight_name], p.shape, f"weight {weight_name!r}", path)
            if value.dtype.kind == "f" and not numpy.all(numpy.isfinite(value)):
                raise ValueError(f"{path}: weight {weight_name!r} contains NaN or infinity")
            values[id(p)] = value
    return [values[id(p)] for p in model.weights]


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


@contextlib.contextmanager
def open_for(model, filepath):
    """The HDF5 file at ``filepath``, open, walked and held to ``model``'s budget; anything h5py
    raises on a damaged file is an OSError naming it."""
    path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else filepath
    with _Damaged(path), _open(path) as f:
        if not model.built:
            raise ValueError("build the model (an Input layer, or call it on data) before loading weights into it")
        LoadBudget(model).inspect(f, path)
        yield f


def load_weights(model, filepath) -> None:
    """Read weights written by gpunet or Keras (``.h5``) into a model of the same architecture.

    Layers are matched in order, as Keras does; every shape is checked before any weight is
    assigned, so a mismatched file leaves the model unchanged.
    """
    with open_for(model, filepath) as f:
        values = read_weights(f, model, str(filepath))
    model.set_weights(values)


def _read_v1_state(ours, path, largest) -> dict:
    """Format 1's groups (gpunet 0.1), as the state tree of format 2 (arrays of at most
    ``largest`` elements)."""
    h5py = _h5py()
    state = {}
    group = ours.get("optimizer")
    if isinstance(group, h5py.Group):
        slots = {}

        def collect(name, obj):
            if isinstance(obj, h5py.Group) and "step" in obj.attrs:
                entry = {k: int(v) if k == "step" else float(v) for k, v in obj.attrs.items()}
                for key, dataset in obj.items():
                    if isinstance(dataset, h5py.Dataset):
                        entry[key] = read_dataset(dataset, None, f"optimizer slot {name}/{key}", path, largest)
                slots[name] = entry

        if isinstance(group.get("slots"), h5py.Group):
            group["slots"].visititems(collect)
        state["optimizer"] = {
            "class_name": text(group.attrs.get("class_name", "")),
            "config": (_json_attr(group.attrs, "config", path) or {}).get("config"),
            "iterations": int(group.attrs.get("iterations", 0)),
            "epoch": int(group.attrs.get("epoch", 0)),
            "learning_rate": float(group.attrs.get("learning_rate", 0.0)),
            "slots": slots,
        }
    group = ours.get("training_state")
    if isinstance(group, h5py.Group):
        fit = _json_attr(group.attrs, "state", path) or {}
        weights = {}
        if isinstance(group.get("best_weights"), h5py.Group):
            group["best_weights"].visititems(
                lambda name, obj: weights.__setitem__(name, read_dataset(obj, None, f"best weight {name}", path, largest))
                if isinstance(obj, h5py.Dataset) else None
            )
        best = dict(fit.get("best") or {})
        if weights:
            best["weights"] = weights
        entries = [e for e in fit.get("callbacks") or [] if isinstance(e, dict)]
        keys = callback_keys([str(e.get("class_name")) for e in entries])
        fit["best"] = best
        fit["callbacks"] = {key: e.get("state") or {} for key, e in zip(keys, entries)}
        state["fit"] = fit
    return state


def _format_version(f) -> int:
    """gpunet's file format (0: not written by gpunet, e.g. Keras's)."""
    ours = f.get("gpunet")
    return int(ours.attrs.get("format_version", 1)) if isinstance(ours, _h5py().Group) else 0


def read_state(f, path, budget) -> dict:
    """The training state stored in an open, walked file ({} when there is none, e.g. Keras's
    files); arrays larger than ``budget`` allows are refused before they are read."""
    h5py = _h5py()
    version = _format_version(f)
    if version == 0:
        return {}
    ours = f["gpunet"]
    if version > FORMAT_VERSION:
        raise ValueError(f"{path}: written by a newer gpunet (file format {version}); this gpunet reads up to {FORMAT_VERSION}")
    if version == 1:
        return _read_v1_state(ours, path, budget.largest)
    group = ours.get("state")
    return read_tree(group, path, max_elements=budget.largest) if isinstance(group, h5py.Group) else {}


def read_training_state(filepath, model=None) -> dict:
    """The training state a gpunet ``.h5`` file holds (optimizer, fit, random streams; ``{}`` for a
    file without one, such as Keras's); OSError when the file cannot be read. The file is held to
    the budget (see :mod:`gpunet.saving.budget`) of ``model``, else of the model its
    ``model_config`` describes (counted, not built), else to the load limit."""
    path = str(filepath)
    with _Damaged(path), _open(path) as f:
        if model is not None:
            budget = LoadBudget(model)
        else:
            config = _root_json(f, "model_config", path)
            budget = (LoadBudget.without_model() if config is None
                      else LoadBudget.for_config(config, f"{path}: model_config"))
        budget.inspect(f, path)
        return read_state(f, path, budget)


def load_model(filepath, custom_objects=None, compile: bool = True, load_limit=None):  # noqa: A002 - Keras's name
    """Rebuild a model from a gpunet or Keras ``.h5`` file.

    The model comes back compiled when the file has a training config (and ``compile`` is
    True), with the optimizer's state restored; a checkpoint written during fit also hands the
    model what an exact resumption needs (see ``fit``'s ``initial_epoch``). ``custom_objects``
    (``{"Name": cls}``) names user classes not registered with ``register_serializable``;
    ``load_limit`` bounds the bytes the model's weights may take (see :mod:`gpunet.saving.budget`).
    """
    path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else filepath
    with _Damaged(path), _open(path) as f, custom_object_scope(custom_objects):
        config = _root_json(f, "model_config", path)
        if config is None:
            raise ValueError(f"{path}: no model_config attribute; for a weights-only file build the model and call load_weights")
        model = model_from_config(config, load_limit=load_limit, where=f"{path}: model_config")
        if not model.built:
            raise ValueError(f"{path}: the architecture has no input shape, so its weights cannot be placed")
        budget = LoadBudget(model)
        budget.inspect(f, path)
        values = read_weights(f, model, path)
        train_config = _json_attr(f.attrs, "training_config", path) if compile else None
        state = read_state(f, path, budget) if compile else {}
        model.set_weights(values)
        if train_config:
            # format 1 wrote gpunet's optimizer config in training_config; Keras and format 2 write Keras's
            restore_training(model, train_config, state, f"{path}: training_config", keras=_format_version(f) != 1)
    return model


def restore_training(model, train_config: dict, state: dict, where: str, keras: bool, fallback=None) -> None:
    """Compile ``model`` from a training config and give it back its training state.

    The optimizer is rebuilt from gpunet's exact configuration when ``state`` has it (else from
    the training config, read with Keras's meaning when ``keras``), and its state restored when
    it is of the same class; without such a state, ``fallback()`` may supply one (e.g. from
    Keras's optimizer variables).
    """
    saved = state.get("optimizer")
    optimizer = None
    if saved is not None and isinstance(saved.get("config"), dict):  # gpunet's own, exact configuration
        optimizer = optimizers.deserialize({key: saved.get(key) for key in ("class_name", "registered_name", "config")})
    compile_from_config(model, train_config, where, optimizer=optimizer, keras=keras)
    if saved is not None and saved.get("class_name") != type(model.optimizer).__name__:
        state.pop("optimizer")
    if state.get("optimizer") is None and fallback is not None:
        restored = fallback()
        if restored is not None:
            state["optimizer"] = restored
    model.set_state(state)
