"""A state tree in an HDF5 group, and back: the generic half of every gpunet file.

Objects export their state as a tree (``get_state()``): dicts of string keys whose leaves are
NumPy arrays or JSON values (numbers, strings, booleans, None, lists of them). :func:`write_tree`
stores a dict as a group, an array as a dataset and a JSON value as a fixed-length text attribute;
:func:`read_tree` rebuilds the same tree. Keys are escaped so that any text is a valid HDF5 name
(a parameter path such as ``"dense/kernel"`` stays one key, not two nested groups).

Reading never unpickles or evaluates: attributes are parsed with ``json``, datasets must hold
numbers and are size-checked before a byte of data is read (a file's arrays of state are read
only when no larger than the model's largest weight, see :mod:`gpunet.saving.budget`).
"""

from __future__ import annotations

import json
import math
from urllib.parse import quote, unquote

import numpy

__all__ = ["write_tree", "read_tree", "fixed_text", "text", "read_dataset", "MAX_ELEMENTS"]

MAX_ELEMENTS = 1 << 31  # refuse datasets that declare absurd sizes


def fixed_text(value: str):
    """Text as a fixed-length byte string: stored inside the attribute itself. (Variable-length
    strings live in a separate heap, and a damaged heap can send the HDF5 library into an
    endless loop when the attribute is read; fixed-length text is at worst garbage JSON.)"""
    return numpy.bytes_(value.encode("utf-8"))


def text(value) -> str:
    """An HDF5 attribute holding text, as str (never unpickled)."""
    if isinstance(value, (bytes, numpy.bytes_)):
        return bytes(value).decode("utf-8")
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a text attribute, got {type(value).__name__}")


def _escape(key) -> str:
    if not isinstance(key, str) or not key:
        raise TypeError(f"state keys must be non-empty strings, got {key!r}")
    escaped = quote(key, safe=" _-+=,:;()[]{}<>@!~*'")
    return escaped.replace(".", "%2E") if escaped in (".", "..") else escaped


def _json_default(value):
    if isinstance(value, numpy.generic):
        return value.item()
    raise TypeError(f"a state leaf must be an array or a JSON value, got {type(value).__name__}")


def write_tree(group, tree: dict) -> None:
    """Store ``tree`` under ``group`` (an open h5py group)."""
    for key, value in tree.items():
        name = _escape(key)
        if isinstance(value, dict):
            write_tree(group.create_group(name), value)
        elif isinstance(value, numpy.ndarray):
            if value.dtype.kind not in "fiub":
                raise TypeError(f"state array {key!r} must hold numbers, got dtype {value.dtype}")
            group.create_dataset(name, data=value, track_times=False)
        else:
            group.attrs[name] = fixed_text(json.dumps(value, default=_json_default, allow_nan=True))


def read_dataset(dataset, expected_shape, what: str, path: str, max_elements=None):
    """A numeric dataset's values, after checking its dtype, its shape and (for arrays of state,
    which have no expected shape) that it holds at most ``max_elements`` (before reading data)."""
    import h5py  # noqa: PLC0415 - a required dependency, imported when files are used

    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(f"{path}: {what} is not a dataset")
    if dataset.dtype.kind not in "fiub":
        raise ValueError(f"{path}: {what} holds {dataset.dtype} data where numbers belong")
    if expected_shape is not None and tuple(dataset.shape) != tuple(expected_shape):
        raise ValueError(f"{path}: {what} has shape {tuple(dataset.shape)}, the model expects {tuple(expected_shape)}")
    if dataset.size > MAX_ELEMENTS:
        raise ValueError(f"{path}: {what} declares {dataset.size} elements, more than gpunet will read")
    if max_elements is not None and dataset.size > max_elements:
        raise ValueError(f"{path}: {what} declares {dataset.size} elements, more than the largest weight of the "
                         f"model ({max_elements}); refusing it before reading")
    return numpy.asarray(dataset[()])


def _parse(value, where: str, path: str):
    try:
        return json.loads(text(value), parse_constant=lambda name: {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name])
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path}: {where} is not valid JSON text ({exc})") from None


def read_tree(group, path: str, where: str = "", max_elements=None) -> dict:
    """The tree :func:`write_tree` stored under ``group``; ``path`` names the file in errors.
    Arrays of more than ``max_elements`` are refused before they are read. (Recursive: the file
    was walked first, so its groups are at most :data:`gpunet.saving.h5walk.MAX_DEPTH` deep.)"""
    import h5py  # noqa: PLC0415

    tree = {}
    for name, value in group.attrs.items():
        tree[unquote(name)] = _parse(value, f"state {where}{name}", path)
    for name, item in group.items():
        if isinstance(item, h5py.Group):
            tree[unquote(name)] = read_tree(item, path, f"{where}{name}/", max_elements)
        else:
            tree[unquote(name)] = read_dataset(item, None, f"state {where}{name}", path, max_elements)
    return tree
