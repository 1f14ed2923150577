"""What a layer keeps outside its weights, through Keras 3's two hooks.

- ``save_assets(dir)`` / ``load_assets(dir)``: files (a lookup layer's ``vocabulary.txt``), kept
  in a ``.keras`` archive under ``assets/<the layer's weights path>/``.
- ``save_own_variables(store)`` / ``load_own_variables(store)``: named arrays that are not weights
  (a lookup layer's ``idf_weights``), kept in the layer's ``vars`` group of Keras 3's weights
  layout (:mod:`gpunet.saving.keras_weights`).

Any layer (or model) that defines them takes part; the legacy ``.h5`` layout has room for
neither, so it refuses a model whose layers keep such state rather than lose it.
"""

from __future__ import annotations

import os
import tempfile

from .keras_weights import layer_paths, own_variables

__all__ = ["holders", "asset_files", "refuse_outside_state"]


def holders(model, method: str) -> list:
    """``[(object, path), ...]``: the model (path ``""``) and its layers (their weights' paths)
    that define ``method``."""
    found = [(model, "")] + [(layer, path) for layer, path, _ in layer_paths(model)]
    return [(obj, path) for obj, path in found if callable(getattr(obj, method, None))]


def _files_of(obj) -> list:
    """``[(path in the folder, bytes), ...]``: what ``obj.save_assets`` writes into an empty folder."""
    files = []
    with tempfile.TemporaryDirectory() as directory:
        obj.save_assets(directory)
        for root, dirs, names in os.walk(directory):
            dirs.sort()
            for name in sorted(names):
                full = os.path.join(root, name)
                with open(full, "rb") as handle:
                    files.append((os.path.relpath(full, directory).replace(os.sep, "/"), handle.read()))
    return files


def asset_files(model) -> list:
    """``[(name, bytes), ...]``: every file of every object's ``save_assets``, named
    ``<its path>/<the file's path in its folder>``."""
    return [(f"{path}/{name}" if path else name, data)
            for obj, path in holders(model, "save_assets") for name, data in _files_of(obj)]


def refuse_outside_state(model, where: str) -> None:
    """A ValueError naming the first layer that keeps assets or own variables, which the legacy
    ``.h5`` layout ``where`` cannot hold."""
    for layer, _, _ in layer_paths(model):
        if own_variables(layer) or (callable(getattr(layer, "save_assets", None)) and _files_of(layer)):
            raise ValueError(f"{where}: layer {layer.name!r} keeps state outside its weights (a vocabulary, idf "
                             "weights: Keras's assets and own variables), which the legacy .h5 format cannot hold; "
                             "save the model as .keras")
