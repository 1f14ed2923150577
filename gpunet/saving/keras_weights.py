"""Keras 3's weights layout: ``.weights.h5`` files, and ``model.weights.h5`` inside ``.keras``.

Layout (what Keras 3.15's ``model.save_weights("x.weights.h5")`` writes)::

    /vars                            attrs: name (the model's); no datasets
    /layers/<path>/vars              attrs: name (the layer's)
    /layers/<path>/vars/0, 1, ...    the layer's weights: trainable then the others, in creation order
    /layers/<path>/vars/<key>        a layer's own variables, by name (Keras's ``save_own_variables``:
                                 a StringLookup's ``idf_weights`` in "tf_idf" mode)
/optimizer/vars                  attrs: name (the optimizer's)
    /optimizer/vars/0, 1, ...        iteration, learning_rate, then per-weight variables
                                     (see :mod:`gpunet.saving.keras_optimizer`)

A layer's ``<path>`` is not its name but its class in snake case, numbered within the model
as Keras numbers it: ``dense``, ``dense_1``, ``conv2d``, ``batch_normalization``... (two models
whose layers carry other names still share a layout). Every layer has its group, weights or not.

Reading starts with the walk every HDF5 reader makes (:class:`gpunet.saving.budget.LoadBudget`:
no soft or external link, external or virtual dataset, cycle, or more declared data than the
model needs), then refuses non-numeric data, shapes that differ from the model's (checked before
any data is read) and NaN or infinite weights; nothing is assigned until everything was read.
"""

from __future__ import annotations

import io
import warnings

import numpy

from .. import backend
from .keras_optimizer import keras_optimizer_variables, optimizer_state_from_keras
from .tree import fixed_text, read_dataset

__all__ = ["layer_paths", "write_weights", "read_weights", "read_optimizer_variables", "is_keras3_layout",
           "restore_optimizer", "open_bytes", "weights_bytes", "load_weights_from", "read_own_variables",
           "assign_own_variables", "own_variables"]


def _h5py():
    import h5py  # noqa: PLC0415 - a required dependency, imported when files are used

    return h5py


def snake_case(name: str) -> str:
    """Keras's rule for a class name: ``Dense`` -> ``dense``, ``MaxPooling2D`` -> ``max_pooling2d``."""
    import re  # noqa: PLC0415

    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _numbered_children(items, prefix: str) -> list:
    """``[(layer, "<prefix>/dense"), (layer, "<prefix>/dense_1"), ...]``: layers of a list named
    by their class in snake case, numbered within the list, as Keras 3 names them."""
    used: dict = {}
    named = []
    for item in items:
        if not hasattr(item, "_trainable_variables"):
            continue
        name = snake_case(type(item).__name__)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        named.append((item, f"{prefix}/{name}" if prefix else name))
    return named


def _children(obj, prefix: str) -> list:
    """The layers ``obj`` holds, with their paths: a Sequential's or functional model's list of
    layers under ``layers/``; a subclassed model's or composite layer's under the names of the
    attributes they were assigned to (a list or dict of layers: numbered by class inside it)."""
    join = (lambda name: f"{prefix}/{name}") if prefix else (lambda name: name)
    attributes = obj.__dict__.get("_layer_attributes")
    if attributes is None or not getattr(obj, "_auto_track", True):
        if hasattr(obj, "_init_trainer"):  # Sequential, functional
            return _numbered_children(list(obj.layers), join("layers"))
        return _numbered_children(list(obj._layers), join("layers"))
    named = []
    for attribute in sorted(attributes):
        value = attributes[attribute]
        if hasattr(value, "_trainable_variables"):
            named.append((value, join(attribute)))
        else:
            items = list(value.values()) if isinstance(value, dict) else list(value)
            named += _numbered_children(items, join(attribute))
    return named


def layer_paths(model) -> list:
    """``[(layer, path, weights), ...]``: every layer of ``model`` (nested ones included) with
    the group Keras 3 keeps its own weights in (``layers/dense`` in a Sequential or functional
    model, the attribute's name in a subclassed one, ``<path>/layers/...`` or
    ``<path>/<attribute>`` for the layers inside a layer)."""
    paths, seen = [], set()
    stack = _children(model, "")
    while stack:
        layer, path = stack.pop(0)
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        inner = _children(layer, path) if layer._layers else []
        own = layer._trainable_variables + layer._non_trainable_variables if inner else layer.weights
        paths.append((layer, path, own))
        stack[0:0] = inner
    return paths


# ----------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------
def _vars_group(f, path: str, name: str):
    group = f.create_group(f"{path}/vars" if path else "vars")
    group.attrs["name"] = fixed_text(name)
    return group


def write_weights(f, model, include_optimizer: bool = True) -> None:
    """Write the model's weights (and its optimizer's variables when it is compiled) into the
    open h5py file ``f``."""
    _vars_group(f, "", model.name)
    for layer, path, weights in layer_paths(model):
        group = _vars_group(f, path, layer.name)
        for i, param in enumerate(weights):
            group.create_dataset(str(i), data=backend.to_host(param.data), track_times=False)
        for key, value in own_variables(layer).items():
            group.create_dataset(key, data=value, track_times=False)
    if include_optimizer and model.compiled:
        group = _vars_group(f, "optimizer", model.optimizer.name)
        for i, value in enumerate(keras_optimizer_variables(model.optimizer, model.trainable_weights)):
            group.create_dataset(str(i), data=value, track_times=False)


def own_variables(layer) -> dict:
    """What the layer's ``save_own_variables(store)`` puts in ``store`` (Keras's hook for state
    that is not a weight), as host arrays by name; names may not look like weight numbers."""
    save = getattr(layer, "save_own_variables", None)
    if not callable(save):
        return {}
    store: dict = {}
    save(store)
    for key in store:
        if not isinstance(key, str) or not key or key.isdigit() or "/" in key:
            raise ValueError(f"layer {layer.name!r}: save_own_variables wrote the key {key!r}; use a name (no '/'), "
                             "numbers are the layer's weights")
    return {key: numpy.asarray(backend.to_host(value)) for key, value in store.items()}


def weights_bytes(model, include_optimizer: bool = True, extra=None) -> bytes:
    """A whole ``model.weights.h5`` as bytes; ``extra(f)`` may add groups of its own."""
    buffer = io.BytesIO()
    with _h5py().File(buffer, "w") as f:
        write_weights(f, model, include_optimizer)
        if extra is not None:
            extra(f)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------
def open_bytes(data, where: str):
    """An h5py file over ``data`` (bytes or a binary file object, read-only, in memory)."""
    try:
        return _h5py().File(data if hasattr(data, "read") else io.BytesIO(data), "r")
    except OSError as exc:
        raise ValueError(f"{where} is not a readable HDF5 file ({exc})") from None


def is_keras3_layout(f) -> bool:
    """Whether an open HDF5 file has Keras 3's weights layout (rather than the legacy one)."""
    return "layer_names" not in f.attrs and "model_weights" not in f and ("layers" in f or "vars" in f)


def _numbered(group, what: str, where: str, named: bool = False) -> list:
    """The datasets ``0 .. n-1`` of a ``vars`` group, in order (nothing else allowed, except
    datasets with other names when ``named``: a layer's own variables)."""
    names = [n for n in group.keys() if not named or n.isdigit()]
    expected = [str(i) for i in range(len(names))]
    if sorted(names, key=lambda n: (len(n), n)) != expected:
        raise ValueError(f"{where}: {what} holds {sorted(names)}, expected datasets named 0 to {len(names) - 1}")
    return [group[n] for n in expected]


def _check_bfloat16(dataset, what: str, where: str) -> None:
    kind = dataset.attrs.get("dtype")
    if isinstance(kind, (bytes, str, numpy.bytes_)) and (kind.decode() if isinstance(kind, bytes) else str(kind)) == "bfloat16":
        raise ValueError(f"{where}: {what} is stored as bfloat16, which gpunet does not support")


def read_weights(f, model, where: str) -> list:
    """Every weight of ``model`` from a file in Keras 3's layout, checked, in ``model.weights``
    order (nothing assigned)."""
    h5py = _h5py()
    layers = f.get("layers")
    if layers is not None and not isinstance(layers, h5py.Group):
        raise ValueError(f"{where}: 'layers' is not a group")
    paths = layer_paths(model)
    known = {path for _, path, _ in paths}
    values = {}
    for layer, path, weights in paths:
        group = f.get(f"{path}/vars")
        if group is not None and not isinstance(group, h5py.Group):
            raise ValueError(f"{where}: {path}/vars is not a group")
        datasets = _numbered(group, f"{path}/vars", where, _loads_own(layer)) if group is not None else []
        if len(datasets) != len(weights):
            raise ValueError(f"{where}: layer {layer.name!r} ({path}) has {len(weights)} weights, "
                             f"the file has {len(datasets)} for it")
        for i, (dataset, param) in enumerate(zip(datasets, weights)):
            what = f"weight {path}/vars/{i} ({param.name})"
            if isinstance(dataset, h5py.Dataset):
                _check_bfloat16(dataset, what, where)
            value = read_dataset(dataset, param.shape, what, where)
            if value.dtype.kind == "f" and not numpy.all(numpy.isfinite(value)):
                raise ValueError(f"{where}: {what} contains NaN or infinity")
            values[id(param)] = value
    unknown = []
    roots = {path.split("/", 1)[0] for path in known} | {"layers"}  # the model's groups (not the optimizer's)

    def visit(name, item):
        if name.endswith("/vars") and isinstance(item, h5py.Group) and len(item):
            owner = name[:-len("/vars")]
            if owner not in known and owner.split("/", 1)[0] in roots:
                unknown.append(owner)

    f.visititems(visit)
    if unknown:
        raise ValueError(f"{where}: the file has weights for a layer {unknown[0]!r} that this model does not "
                         "have (another architecture?)")
    return [values[id(p)] for p in model.weights]


def _loads_own(layer) -> bool:
    return callable(getattr(layer, "load_own_variables", None))


def read_own_variables(f, model, where: str) -> list:
    """``[(layer, {name: host array}), ...]``: the named datasets of the ``vars`` group of each
    layer that defines Keras's ``load_own_variables`` (checked: numbers, finite), to hand it with
    :func:`assign_own_variables` once everything was read."""
    h5py = _h5py()
    found = []
    for layer, path, _ in layer_paths(model):
        group = f.get(f"{path}/vars")
        if not _loads_own(layer) or not isinstance(group, h5py.Group):
            continue
        store = {}
        for key in group:
            if key.isdigit():
                continue
            what = f"{path}/vars/{key}"
            value = read_dataset(group[key], None, what, where)
            if value.dtype.kind not in "fiub" or (value.dtype.kind == "f" and not numpy.all(numpy.isfinite(value))):
                raise ValueError(f"{where}: {what} must hold finite numbers")
            store[key] = value
        found.append((layer, store))
    return found


def assign_own_variables(found) -> None:
    """Hand each layer what :func:`read_own_variables` read for it."""
    for layer, store in found:
        layer.load_own_variables(store)


def read_optimizer_variables(f, where: str, max_elements=None) -> list | None:
    """The optimizer's variables (host arrays, in order), or None when the file has none; one of
    more than ``max_elements`` (the model's largest weight) is refused before it is read."""
    h5py = _h5py()
    group = f.get("optimizer/vars")
    if group is None:
        return None
    if not isinstance(group, h5py.Group):
        raise ValueError(f"{where}: optimizer/vars is not a group")
    arrays = []
    for i, dataset in enumerate(_numbered(group, "optimizer/vars", where)):
        value = read_dataset(dataset, None, f"optimizer variable {i}", where, max_elements)
        if value.dtype.kind == "f" and not numpy.all(numpy.isfinite(value)):
            raise ValueError(f"{where}: optimizer variable {i} contains NaN or infinity")
        arrays.append(value)
    return arrays


def restore_optimizer(model, arrays, where: str, strict: bool = False):
    """The state tree for ``model.optimizer`` from Keras's variables, or None (with a warning, as
    Keras warns, unless ``strict``) when they do not fit this optimizer."""
    if arrays is None or not model.compiled:
        return None
    try:
        return optimizer_state_from_keras(model.optimizer, model.trainable_weights, arrays, where)
    except ValueError as exc:
        if strict:
            raise
        warnings.warn(f"{exc}; the optimizer starts afresh", stacklevel=3)
        return None


def load_weights_from(model, f, where: str) -> None:
    """Read and check everything from the open file ``f``, already walked and held to the
    model's budget (``LoadBudget(model).inspect``), then assign it."""
    if not model.built:
        raise ValueError("build the model (an Input layer, or call it on data) before loading weights into it")
    values = read_weights(f, model, where)
    own = read_own_variables(f, model, where)
    largest = max((int(p.size) for p in model.weights), default=0)
    state = restore_optimizer(model, read_optimizer_variables(f, where, largest), where)
    model.set_weights(values)
    assign_own_variables(own)
    if state is not None:
        model.optimizer.set_state(state)
