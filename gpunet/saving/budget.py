"""What loading a model may cost, decided before it costs it: one budget for every format.

Model files come from strangers, and a few kilobytes can declare gigabytes: a layer of
``units: 10**9``, a dataset that was never written (HDF5 hands back its fill value, at full size),
a compressed dataset, JSON of a million empty objects. Every load therefore checks, in this order:

1. **Text.** JSON (``config.json``, ``model_config``, a model file of ``models/``) is at most
   ``MAX_JSON_BYTES`` and nested at most ``MAX_JSON_DEPTH`` levels (:func:`parse_json`).
2. **The architecture.** :func:`check_config` counts the bytes a config's weights will take by
   running each layer's own ``build`` with a stand-in ``add_weight`` that records shapes and
   allocates nothing, and refuses a model above the *load limit*: by default half the memory the
   host has available (as :func:`gpunet.backend.available_bytes` measures it), else
   ``load_model(..., load_limit=...)``, ``model_from_json(..., load_limit=...)`` or the
   environment variable ``GPUNET_LOAD_LIMIT`` (a size such as ``"8G"``, ``"512MiB"``, a number
   of bytes, ``"auto"`` or ``"off"``).
3. **The file, against the model built.** :class:`LoadBudget` walks the HDF5 file once
   (:func:`gpunet.saving.h5walk.walk`, which refuses links, cycles and data outside the file) and
   refuses a file whose datasets declare more than ``COPIES`` times the model's parameters (at 8
   bytes each) plus ``FLOOR_BYTES``, or whose objects outnumber what such a model's file holds;
   a ``.keras`` archive's weights entry is held to the same budget before it is read. Arrays of
   the training state are read only when no larger than the model's largest weight.

Before any of this, :func:`check_source` refuses a path that is not a regular file: a FIFO
would block the reader for ever, a device such as ``/dev/zero`` never ends.

A legitimate file stays well inside: its datasets are the weights, at most three optimizer
slots per weight in Keras's variables and three in gpunet's state, and fit's best weights.
"""

from __future__ import annotations

import json
import math
import os
import stat

import numpy

from .. import backend
from ..backend.memory import parse_size, format_bytes
from .atomic import _KINDS
from .h5walk import walk

__all__ = ["LoadBudget", "load_limit", "check_source", "check_config", "config_weights", "config_weight_bytes",
           "parse_json",
           "LOAD_LIMIT_VARIABLE", "MAX_JSON_BYTES", "MAX_JSON_DEPTH", "COPIES", "FLOOR_BYTES"]

LOAD_LIMIT_VARIABLE = "GPUNET_LOAD_LIMIT"
MAX_JSON_BYTES = 4 << 20  # a Keras config of a 2,000-layer model is about 3 MiB; 4 MiB of "[{}, ...]" cost 100 MB
MAX_JSON_DEPTH = 100
COPIES = 8  # the weights, 3 optimizer slots in Keras's variables, 3 in gpunet's state, fit's best weights
FLOOR_BYTES = 16 << 20  # small datasets: iteration counts, learning rates, a small model's everything
ITEMS_FLOOR = 2_000  # objects and attributes any model file may hold
ITEMS_PER_WEIGHT = 40  # a weight's dataset, its slots (twice), its best copy, their groups and attributes
ITEMS_PER_LAYER = 16
ENTRY_BYTES_PER_ITEM = 4 << 10  # HDF5's own bytes (object headers, links, attributes) per object


def check_source(path: str, kind: str) -> None:
    """Refuse a model file that is missing, a folder, or not a regular file (symbolic links are
    followed), naming ``path``; ``kind`` says what was expected (``"an HDF5 model file"``)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such model file: {path!r}") from None
    except OSError as exc:
        raise OSError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{path!r} is a folder, not {kind}")
    if not stat.S_ISREG(info.st_mode):
        what = _KINDS.get(stat.S_IFMT(info.st_mode), "something other than a regular file")
        raise ValueError(f"{path!r} is {what}, not {kind}: gpunet reads model files only from regular files "
                         "(a pipe would block the reader, a device may never end)")


# ----------------------------------------------------------------------------------------------
# the load limit
# ----------------------------------------------------------------------------------------------
def load_limit(limit=None) -> int | None:
    """The most bytes a model built from a file or a config may take (None: no limit).

    ``limit`` (an argument of ``load_model`` / ``model_from_json``) wins over ``GPUNET_LOAD_LIMIT``;
    both take a size (``"8G"``, ``"512MiB"``, a number of bytes), ``"auto"`` (half the memory the
    host has available now, the default) or ``"off"``.
    """
    name = "load_limit"
    if limit is None:
        limit, name = os.environ.get(LOAD_LIMIT_VARIABLE, "auto"), LOAD_LIMIT_VARIABLE
    value = parse_size(limit, name)
    if value == "off":
        return None
    if value == "auto":
        available = backend.available_bytes(numpy)
        return None if available is None else available // 2
    return value


def _limit_advice(limit) -> str:
    return (f"more than the {format_bytes(limit)} gpunet lets a model from a file or a config take (half the memory "
            f"available by default; load_limit= or {LOAD_LIMIT_VARIABLE}=<size> raises it)")


# ----------------------------------------------------------------------------------------------
# JSON text
# ----------------------------------------------------------------------------------------------
def _depth(value) -> int:
    """How deeply ``value`` nests lists and objects (iteratively)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(data, what: str):
    """``data`` (bytes or text) parsed with ``json`` after checking its size; nesting deeper than
    ``MAX_JSON_DEPTH`` is refused. ``what`` names the text in errors (a ValueError)."""
    size = len(data)  # characters: at most the bytes of their UTF-8 encoding
    if isinstance(data, str) and size <= MAX_JSON_BYTES:
        size = len(data.encode("utf-8"))
    if size > MAX_JSON_BYTES:
        raise ValueError(f"{what} is {size} bytes of JSON, more than the {MAX_JSON_BYTES} gpunet reads")
    nested = f"{what} is nested more than {MAX_JSON_DEPTH} levels deep"
    try:
        value = json.loads(data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data)
    except RecursionError:  # json's own limit, far deeper than ours
        raise ValueError(nested) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{what} is not valid JSON ({exc})") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ValueError(nested)
    return value


# ----------------------------------------------------------------------------------------------
# the architecture
# ----------------------------------------------------------------------------------------------
def _stand_in_add_weight(layer, weights: list):
    """An ``add_weight`` for ``layer`` that records each weight's ``(elements, bytes)`` and returns
    a read-only array of the right shape and dtype that takes no memory."""
    from ..layers.base import normalize_shape, weight_dtype  # noqa: PLC0415 - saving sits above layers

    def add_weight(shape=None, initializer=None, dtype=None, trainable=True, name=None, **kwargs):
        dims = tuple(d or 0 for d in normalize_shape(() if shape is None else shape, "shape"))
        kind = numpy.dtype(weight_dtype(dtype, trainable) if dtype is not None else (layer.dtype or backend.floatx()))
        weights.append((math.prod(dims), math.prod(dims) * kind.itemsize))
        return numpy.broadcast_to(numpy.zeros((), kind), dims)

    return add_weight


def _describe(entry, index: int) -> str:
    """``layer 'dense_1'``, or ``layer 2 (Dense)`` for an entry without a name."""
    config = entry.get("config") or {}
    return f"layer {config['name']!r}" if config.get("name") else f"layer {index} ({entry.get('class_name')})"


def _named(entry, index: int):
    """A layer entry with a name, so that building a stand-in takes no automatic name."""
    if isinstance(entry, dict) and isinstance(entry.get("config"), dict) and not entry["config"].get("name"):
        return {**entry, "config": {**entry["config"], "name": f"gpunet_size_check_{index}"}}
    return entry


def config_weights(config, limit=None, where: str = "the model config") -> tuple:
    """``([(elements, bytes) of each weight], number of layers, complete)`` of the Sequential
    model ``config``, counted without allocating a weight; a ValueError naming ``where`` as soon
    as the bytes pass ``limit``.

    Each layer is built as the model would build it, from a stand-in copy whose ``add_weight``
    only records the shape. The count ends early (``complete`` False) at an entry that names no
    class gpunet knows (building the model then says so), before an input shape is known, or at
    a user layer whose ``build`` or ``compute_output_shape`` needs real weights (its own code then
    runs as usual).
    """
    from ..layers import deserialize  # noqa: PLC0415
    from ..layers.core import InputLayer  # noqa: PLC0415

    inner = config.get("config") if isinstance(config, dict) else None
    entries = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(entries, list) or "input_layers" in inner:  # a functional graph: not counted ahead yet
        return [], 0, False
    weights, layers, shape = [], 0, None
    for index, entry in enumerate(entries):
        try:
            layer = deserialize(_named(entry, index))
        except (ValueError, TypeError):
            return weights, layers, False
        if isinstance(layer, InputLayer):
            shape = layer.batch_shape
            continue
        layers += 1
        shape = shape or layer.input_shape_hint or inner.get("build_input_shape")
        if not isinstance(shape, (list, tuple)):
            return weights, layers, False  # no input shape yet: nothing is built
        own = type(layer).__module__.startswith("gpunet.")
        layer.add_weight = _stand_in_add_weight(layer, weights)
        try:
            layer.build(tuple(shape))
            built = True
        except Exception:
            if own:  # the model's own build would fail the same way
                raise
            built = False
        finally:  # no cycle through the stand-in: the copy goes at once, and with it any name it holds
            del layer.add_weight  # (a random layer's seed generator name, which the real layer then takes)
        total = sum(size for _, size in weights)
        if limit is not None and total > limit:
            raise ValueError(f"{where}: the weights up to {_describe(entry, index)} take {format_bytes(total)}, "
                             f"{_limit_advice(limit)}")
        if not built:
            return weights, layers, False
        try:
            shape = layer.compute_output_shape(tuple(shape))
        except Exception:
            if own:
                raise
            return weights, layers, False
    return weights, layers, True


def config_weight_bytes(config, limit=None, where: str = "the model config") -> int:
    """The bytes the weights of the Sequential model ``config`` will take (see :func:`config_weights`)."""
    return sum(size for _, size in config_weights(config, limit, where)[0])


def check_config(config, limit=None, where: str = "the model config") -> None:
    """Refuse a model config whose weights would take more than :func:`load_limit` (``limit``)."""
    config_weights(config, load_limit(limit), where)


# ----------------------------------------------------------------------------------------------
# the file, against the model
# ----------------------------------------------------------------------------------------------
class LoadBudget:
    """What a file loaded into ``model`` may declare: its datasets' bytes, its objects and
    attributes, the largest array of its training state.

    ``LoadBudget(model)`` for a built model; :meth:`for_config` for the model a config describes
    (counted, not built); :meth:`without_model` for a file read alone, which may declare what the
    load limit allows.
    """

    def __init__(self, model):
        self._set([int(p.size) for p in model.weights], len(model.layers))

    def _set(self, elements: list, layers: int) -> None:
        parameters = sum(elements)
        self.dataset_bytes = FLOOR_BYTES + COPIES * 8 * parameters
        self.items = ITEMS_FLOOR + ITEMS_PER_WEIGHT * len(elements) + ITEMS_PER_LAYER * layers
        self.largest = max(elements, default=0)
        self.what = f"a model of {parameters} parameters needs"

    @classmethod
    def for_config(cls, config, where: str, limit=None) -> LoadBudget:
        """The budget of the model ``config`` describes, or :meth:`without_model`'s when it cannot
        be counted whole (a class not registered in this process)."""
        weights, layers, complete = config_weights(config, load_limit(limit), where)
        if not complete:
            return cls.without_model(limit)
        budget = cls.__new__(cls)
        budget._set([elements for elements, _ in weights], layers)
        return budget

    @classmethod
    def without_model(cls, limit=None) -> LoadBudget:
        budget = cls.__new__(cls)
        allowed = load_limit(limit)
        budget.dataset_bytes = allowed if allowed is not None else 1 << 62
        budget.items = 20_000
        budget.largest = None
        budget.what = "gpunet reads without a model"
        return budget

    @property
    def entry_bytes(self) -> int:
        """The most an HDF5 file for this model may weigh (its datasets and HDF5's own bytes)."""
        return self.dataset_bytes + ENTRY_BYTES_PER_ITEM * self.items

    def check_entry(self, name: str, size: int, where: str) -> None:
        """Refuse an archive entry (an HDF5 file) larger than a file for this model can be."""
        if size > self.entry_bytes:
            raise ValueError(f"{where}: entry {name!r} declares {format_bytes(size)}, more than a file for this "
                             f"model can hold ({format_bytes(self.entry_bytes)}: {self.what} at most "
                             f"{format_bytes(self.dataset_bytes)} of data); refusing it before reading")

    def inspect(self, f, where: str):
        """Walk the open HDF5 file ``f`` once (see :mod:`gpunet.saving.h5walk`) and refuse it when
        its datasets declare more than this budget; the walk's inventory."""
        inventory = walk(f, where, self.items)
        if inventory.dataset_bytes > self.dataset_bytes:
            name, (shape, size) = max(inventory.datasets.items(), key=lambda item: item[1][1])
            raise ValueError(f"{where}: the file's datasets declare {format_bytes(inventory.dataset_bytes)} (the "
                             f"largest, {name}, has shape {shape}: {format_bytes(size)}), more than {self.what} "
                             f"({format_bytes(self.dataset_bytes)}); refusing the file before reading it (another "
                             "architecture's file, or a crafted one)")
        return inventory
