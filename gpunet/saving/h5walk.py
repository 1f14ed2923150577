"""One safe walk of an HDF5 file, made before anything in it is read: every reader of every format
(legacy ``.h5``, ``.weights.h5``, ``model.weights.h5`` inside ``.keras``) starts with it.

The walk visits each object once, by its address in the file, and looks only at metadata (link
kinds, object headers, dataspaces, datatypes, storage layouts); no data and no attribute value is
read. It refuses, with a ``ValueError`` naming the file and the object:

- links other than hard links (soft, external, user-defined): gpunet's and Keras's files have
  none, and an external link reads another file;
- a group that contains itself (a hard link to an ancestor: a cycle), or an object reachable
  under two names (a second hard link: each object is read once, under one name);
- datasets whose data lives outside the file: external storage (``create_dataset(...,
  external=...)``, which may name any file, a FIFO or a device) and virtual datasets;
- object and region references, in datasets and in attributes (they point at other objects);
- a dataset cut into more than ``MAX_CHUNKS`` chunks smaller than ``MIN_CHUNK_BYTES`` (each
  chunk is a lookup: a million of them take seconds to read);
- objects other than groups and datasets (committed datatypes), more than ``MAX_DEPTH`` levels
  of groups, more objects and attributes in all than the caller allows (what a file for the
  model being loaded holds, see :class:`gpunet.saving.budget.LoadBudget`; each costs HDF5 tens
  of microseconds to look at), an attribute that declares more than ``MAX_ATTRIBUTE_BYTES``, or
  attributes that together declare more than ``MAX_ATTRIBUTES_BYTES``.

Each object is visited once: HDF5's own visitors (``H5Lvisit``, ``H5Ovisit``) enter a group
once however many links lead to it, and the walk stops at the first problem.

What it hands back (:class:`Inventory`) is the list of datasets with their declared shapes and
sizes, so that a load can be budgeted (:mod:`gpunet.saving.budget`) before a byte is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["walk", "Inventory", "MAX_DEPTH", "MAX_CHUNKS", "MIN_CHUNK_BYTES", "MAX_ATTRIBUTE_BYTES",
           "MAX_ATTRIBUTES_BYTES"]

MAX_DEPTH = 64  # levels of groups; gpunet's deepest is 6, a Keras model's sub-layers a few more
MAX_CHUNKS = 4096  # a dataset cut into more chunks than this needs chunks of MIN_CHUNK_BYTES or more
MIN_CHUNK_BYTES = 4096  # (reading a million one-number chunks takes HDF5 seconds)
MAX_ATTRIBUTE_BYTES = 4 << 20  # the largest text gpunet reads (see budget.MAX_JSON_BYTES)
MAX_ATTRIBUTES_BYTES = 64 << 20


def _h5py():
    import h5py  # noqa: PLC0415 - a required dependency, imported when files are used

    return h5py


@dataclass
class Inventory:
    """What the walk found: ``datasets`` maps each dataset's path to ``(shape, declared bytes)``."""

    datasets: dict = field(default_factory=dict)
    dataset_bytes: int = 0  # the datasets' declared sizes, summed
    attribute_bytes: int = 0


def _declared_bytes(shape, type_id) -> int:
    return math.prod(shape or ()) * type_id.get_size()


def _check_type(type_id, what: str, where: str) -> None:
    h5py = _h5py()
    kind = type_id.get_class()
    if kind == h5py.h5t.REFERENCE:
        raise ValueError(f"{where}: {what} holds references to other objects; gpunet reads only numbers and text")
    if kind in (h5py.h5t.VLEN, h5py.h5t.ARRAY):
        _check_type(type_id.get_super(), what, where)
    elif kind == h5py.h5t.COMPOUND:
        for i in range(type_id.get_nmembers()):
            _check_type(type_id.get_member_type(i), what, where)


def _too_many(path: str, budget: list) -> str:
    return (f"{path} takes the file past {budget[1]} objects and attributes, more than a file for this model "
            "holds; refusing it")


def _check_attributes(object_id, count: int, path: str, where: str, inventory: Inventory, budget: list) -> None:
    """The attributes of one object, listed by HDF5's iterator (opening them by index is
    quadratic), each opened by name to look at its type."""
    h5py = _h5py()
    budget[0] -= count
    if budget[0] < 0:
        raise ValueError(f"{where}: {_too_many(path, budget)}")
    listed = []
    h5py.h5a.iterate(object_id, lambda raw, info: listed.append((raw, info.data_size)), info=True)
    for raw, size in listed:
        what = f"attribute {raw.decode('utf-8', 'replace')!r} of {path}"
        if size > MAX_ATTRIBUTE_BYTES:
            raise ValueError(f"{where}: {what} holds {size} bytes, more than the {MAX_ATTRIBUTE_BYTES} gpunet reads "
                             "in one attribute")
        inventory.attribute_bytes += size
        if inventory.attribute_bytes > MAX_ATTRIBUTES_BYTES:
            raise ValueError(f"{where}: the attributes hold more than {MAX_ATTRIBUTES_BYTES} bytes in all")
        _check_type(h5py.h5a.open(object_id, raw).get_type(), what, where)


def _check_dataset(dataset_id, path: str, where: str, inventory: Inventory) -> None:
    h5py = _h5py()
    plist = dataset_id.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        raise ValueError(f"{where}: dataset {path} is a virtual dataset (its data lives in other files); gpunet reads "
                         "only data stored in the file itself")
    if plist.get_external_count() > 0:
        target = plist.get_external(0)[0].decode("utf-8", "replace")
        raise ValueError(f"{where}: dataset {path} keeps its data in an external file ({target!r}); gpunet reads only "
                         "data stored in the file itself")
    type_id = dataset_id.get_type()
    _check_type(type_id, f"dataset {path}", where)
    shape = tuple(dataset_id.shape) if dataset_id.shape is not None else ()
    size = _declared_bytes(shape, type_id)
    if plist.get_layout() == h5py.h5d.CHUNKED:
        chunks = math.prod(-(-dim // max(edge, 1)) for dim, edge in zip(shape, plist.get_chunk()))
        if chunks > MAX_CHUNKS and chunks > size // MIN_CHUNK_BYTES:
            raise ValueError(f"{where}: dataset {path} is cut into {chunks} chunks (of {plist.get_chunk()}); gpunet "
                             f"reads datasets of at most {MAX_CHUNKS} chunks, or chunks of {MIN_CHUNK_BYTES} bytes or "
                             "more (each chunk costs HDF5 a lookup)")
    inventory.datasets[path] = (shape, size)
    inventory.dataset_bytes += size


def _links(f, where: str, budget: list) -> None:
    """Every link of the file, seen by HDF5's link visitor (which follows hard links only and
    enters each group once): hard links only, each object under one name, no cycle."""
    h5py = _h5py()
    seen = {h5py.h5o.get_info(f.id).addr: "/"}
    problem = []

    def visit(raw, link):
        path = "/" + raw.decode("utf-8", "replace")
        budget[0] -= 1
        if budget[0] < 0:
            problem.append(_too_many(path, budget))
        elif path.count("/") > MAX_DEPTH:
            problem.append(f"{path} is nested more than {MAX_DEPTH} groups deep")
        elif link.type != h5py.h5l.TYPE_HARD:
            kind = {h5py.h5l.TYPE_SOFT: "SoftLink", h5py.h5l.TYPE_EXTERNAL: "ExternalLink"}.get(link.type,
                                                                                                 "UserDefinedLink")
            problem.append(f"{path} is a {kind}; gpunet reads only plain groups and datasets stored in the file itself")
        elif link.u in seen:
            earlier = seen[link.u]
            if path.startswith(earlier.rstrip("/") + "/"):
                problem.append(f"{path} links back to {earlier}, a group that contains it: the file's structure has "
                               "a cycle")
            else:
                problem.append(f"{path} is the object already linked as {earlier}; gpunet reads files where every "
                               "object has one name")
        else:
            seen[link.u] = path
            return None
        return True  # stops the visit

    f.id.links.visit(visit, info=True)
    if problem:
        raise ValueError(f"{where}: {problem[0]}")


def walk(f, where: str, max_items: int) -> Inventory:
    """Check the whole open h5py file ``f`` (see the module's docstring) without reading data,
    looking at no more than ``max_items`` objects and attributes; ``where`` names the file in
    errors."""
    h5py = _h5py()
    inventory = Inventory()
    budget = [max_items, max_items]  # what is left, and the cap
    _links(f, where, budget)
    objects = [(b".", h5py.h5o.TYPE_GROUP, h5py.h5o.get_info(f.id).num_attrs)]  # (name, type, attributes)
    h5py.h5o.visit(f.id, lambda raw, info: objects.append((raw, info.type, info.num_attrs)), info=True)
    for raw, kind, count in objects:
        path = "/" if raw == b"." else "/" + raw.decode("utf-8", "replace")
        if kind not in (h5py.h5o.TYPE_GROUP, h5py.h5o.TYPE_DATASET):
            raise ValueError(f"{where}: {path} is neither a group nor a dataset (a committed datatype?)")
        if kind == h5py.h5o.TYPE_GROUP and not count:
            continue
        object_id = h5py.h5o.open(f.id, raw)
        _check_attributes(object_id, count, path, where, inventory, budget)
        if kind == h5py.h5o.TYPE_DATASET:
            _check_dataset(object_id, path, where, inventory)
    return inventory
