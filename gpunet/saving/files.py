"""Which format a file is: chosen by its name when saving, as Keras chooses, and by its contents
when loading.

=======================  ===========================================  ==================================
name                     ``model.save``                               ``model.save_weights``
=======================  ===========================================  ==================================
``*.keras``              Keras 3's zip archive (:mod:`.keras_zip`)    refused (a ``.keras`` is a model)
``*.weights.h5``         refused (Keras reads it as weights only)     Keras 3's layout (:mod:`.keras_weights`)
anything else (``.h5``)  Keras's legacy HDF5 layout (:mod:`.hdf5`)    the legacy weights layout
=======================  ===========================================  ==================================

Loading looks at the file itself: a zip archive is a ``.keras`` file (a name ending in
``.keras`` must be one), an HDF5 file with Keras 3's ``layers``/``vars`` groups is a
``.weights.h5`` file, and any other HDF5 file is read in the legacy layout.
"""

from __future__ import annotations

import os

from . import hdf5, keras_zip
from ..keras_api import check_default
from .atomic import check_folder, check_target
from .budget import check_source
from .keras_weights import is_keras3_layout, load_weights_from, write_weights

__all__ = ["check_save_path", "save_model", "save_weights", "load_model", "load_weights"]

_KERAS = ".keras"
_WEIGHTS = ".weights.h5"


def _path(filepath, what: str = "filepath") -> str:
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path, got {type(filepath).__name__}")
    path = os.fspath(filepath)
    return os.fsdecode(path) if isinstance(path, bytes) else path


def check_save_path(path, template: bool = False, weights: bool = False) -> str:
    """``path`` if it can be saved to: a name whose format Keras reads as what is saved (a whole
    model, or with ``weights=True`` weights only), and a target that can be written; a clear
    error otherwise. fit calls it for its checkpoint paths, so that a bad path fails before
    training. With ``template=True`` the name is filled in later (``"ck-{epoch:02d}.keras"``):
    only its ending and its folder are checked."""
    path = _path(path)
    if weights and path.endswith(_KERAS):
        raise ValueError(f"{path!r}: a '.keras' file holds a whole model; save it with model.save(), or name a "
                         "weights file '.weights.h5' (Keras 3's layout) or '.h5' (the legacy layout)")
    if not weights and path.endswith(_WEIGHTS):
        raise ValueError(f"{path!r}: Keras reads '.weights.h5' as a weights-only file; save weights there with "
                         "model.save_weights(), or name the model file '.keras' or '.h5'")
    if template:
        check_folder(path)
    else:
        check_target(path)
    return path


def _check_overwrite(path: str, overwrite) -> None:
    """Keras's ``overwrite``: False keeps an existing file (Keras asks on the terminal; gpunet,
    which may run unattended, refuses)."""
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}")
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(f"{path!r} exists and overwrite=False: nothing was written (pass overwrite=True to "
                              "replace it)")


def save_model(model, filepath, overwrite: bool = True, zipped=None, *, include_optimizer: bool = True) -> None:
    """``model.save``: ``.keras`` archive or legacy ``.h5``, by the name (Keras's arguments;
    ``zipped=False``, an unzipped ``.keras`` folder, is not supported)."""
    path = check_save_path(filepath)
    _check_overwrite(path, overwrite)
    if path.endswith(_KERAS):
        check_default("save_model", "zipped", True if zipped is None else zipped, True)
        keras_zip.save_model(model, path, include_optimizer=include_optimizer)
    else:
        hdf5.save_model(model, path, include_optimizer=include_optimizer)


def save_weights(model, filepath, overwrite: bool = True, max_shard_size=None) -> None:
    """``model.save_weights``: Keras 3's ``.weights.h5`` layout or the legacy one, by the name.
    Keras 3's layout holds the optimizer's variables too when the model is compiled. Sharded
    files (``max_shard_size``) are not supported."""
    check_default("save_weights", "max_shard_size", max_shard_size, None)
    path = check_save_path(filepath, weights=True)
    _check_overwrite(path, overwrite)
    if path.endswith(_WEIGHTS):  # written straight to the file, as the legacy layout is
        hdf5.save_weights(model, path, layout=lambda f: write_weights(f, model))
    else:
        hdf5.save_weights(model, path)


def _source(filepath) -> str:
    """The path of a file to load, checked to be a regular file before anything opens it."""
    path = _path(filepath)
    check_source(path, "a model file")
    return path


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True, *,  # noqa: A002 - Keras's name
               load_limit=None):
    """Rebuild a model from a ``.keras`` archive or an ``.h5`` file (by their contents).

    ``safe_mode`` is Keras's, and changes nothing: gpunet never runs code from a file (Keras's
    ``safe_mode=False`` lets it rebuild ``Lambda`` layers, which gpunet does not have).
    ``load_limit`` bounds the bytes the model's weights may take: a size (``"8G"``, ``"512MiB"``,
    a number of bytes), ``"auto"`` (half the memory available now) or ``"off"``; by default
    ``GPUNET_LOAD_LIMIT``, else ``"auto"``. A larger model is refused before it is allocated.
    """
    if not isinstance(safe_mode, bool):
        raise TypeError(f"load_model: safe_mode must be True or False, got {safe_mode!r}")
    path = _source(filepath)
    reader = keras_zip if path.endswith(_KERAS) or keras_zip.is_zip_file(path) else hdf5
    return reader.load_model(path, custom_objects=custom_objects, compile=compile, load_limit=load_limit)


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Read weights from a ``.keras`` archive, a ``.weights.h5`` file or a legacy ``.h5`` file
    (by their contents) into a model of the same architecture; every shape is checked before
    any weight is assigned. Keras's ``skip_mismatch=True`` (leave out weights whose shapes
    differ) is not supported."""
    check_default("load_weights", "skip_mismatch", skip_mismatch, False)
    path = _source(filepath)
    if path.endswith(_KERAS) or keras_zip.is_zip_file(path):
        keras_zip.load_weights(model, path)
        return
    with hdf5.open_for(model, path) as f:  # walked and budgeted before any look inside
        if is_keras3_layout(f):
            load_weights_from(model, f, path)
            return
        values = hdf5.read_weights(f, model, path)
    model.set_weights(values)
