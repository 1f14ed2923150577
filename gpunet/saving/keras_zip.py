"""Keras 3's ``.keras`` model files: a zip archive, read as untrusted input.

An archive holds three entries, stored uncompressed as Keras writes them::

    metadata.json       {"keras_version": ..., "date_saved": ..., "gpunet_version": ...}
    config.json         the model in Keras 3's serialized form, with its compile_config
                        (see :mod:`gpunet.saving.keras_config`)
    model.weights.h5    the weights and the optimizer's variables in Keras 3's layout
                        (see :mod:`gpunet.saving.keras_weights`), plus one group Keras ignores:
                        /gpunet/state, the training state tree of the .h5 format (the optimizer's
                        exact state, and the fit's during fit), for exact resumption

Reading checks the whole archive before it reads an entry: a file that is not a zip archive,
more than ``MAX_ENTRIES`` entries, an entry name that could leave a folder when extracted
(``../x``, ``/x``, ``C:x``, a backslash), two entries of one name, encrypted entries, a
compression other than stored or deflated, an entry declaring more than ``MAX_ENTRY_BYTES``
(``MAX_CONFIG_BYTES`` for the JSON entries), or expanding more than ``MAX_RATIO`` times its
stored size beyond ``RATIO_FLOOR`` bytes. The sizes are checked again while the entry is read,
never trusting the headers alone. Each problem is a ``ValueError`` naming the file. The
configuration is parsed with ``json`` and rebuilt only from gpunet's own and registered classes;
nothing in the archive is imported, evaluated or unpickled, and nothing is extracted to disk.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import zipfile

from ..lookup import custom_object_scope
from ..version import __version__
from .atomic import atomic_write
from .config import model_from_config
from .hdf5 import KERAS_VERSION, _read_state, restore_training, state_to_save, write_state_group
from .keras_config import (keras_compile_config, keras_model_config, plain_dtypes, refuse_code,
                           training_config_from_keras)
from .keras_weights import (check_links, load_weights_from, open_bytes, read_optimizer_variables, read_weights,
                            restore_optimizer, weights_bytes)

__all__ = ["save_model", "load_model", "load_weights", "is_zip_file", "read_archive",
           "MAX_ENTRIES", "MAX_ENTRY_BYTES", "MAX_CONFIG_BYTES", "MAX_RATIO", "RATIO_FLOOR"]

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"

MAX_ENTRIES = 10_000
MAX_ENTRY_BYTES = 1 << 34  # 16 GiB: the weights of a very large model
MAX_CONFIG_BYTES = 64 << 20  # config.json and metadata.json
MAX_RATIO = 100  # uncompressed / stored, for entries larger than RATIO_FLOOR
RATIO_FLOOR = 16 << 20
_CHUNK = 1 << 20
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an entry, or an empty archive's end record


def is_zip_file(path) -> bool:
    """Whether the file at ``path`` starts as a zip archive does (False if it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) in _ZIP_MAGIC
    except OSError:
        return False


# ----------------------------------------------------------------------------------------------
# reading the archive
# ----------------------------------------------------------------------------------------------
def _check_name(name: str, path: str) -> None:
    parts = name.split("/")
    if (not name or name.startswith("/") or "\\" in name or "\0" in name or re.match(r"^[A-Za-z]:", name)
            or any(part in (".", "..") for part in parts)):
        raise ValueError(f"{path}: the archive has an entry named {name!r}, which could write outside its folder "
                         "when extracted; refusing the file")


def _check_entries(archive: zipfile.ZipFile, path: str) -> dict:
    """Every entry of the archive checked, by name."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ValueError(f"{path}: the archive has {len(infos)} entries, more than {MAX_ENTRIES}")
    entries = {}
    for info in infos:
        name = info.filename
        _check_name(name, path)
        normalized = name.rstrip("/")
        if normalized in entries:
            raise ValueError(f"{path}: the archive has two entries named {name!r}; refusing an ambiguous file")
        if info.flag_bits & 0x1:
            raise ValueError(f"{path}: entry {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"{path}: entry {name!r} uses compression method {info.compress_type}; gpunet reads "
                             "stored or deflated entries only")
        _check_size(name, info.file_size, info.compress_size, path, "declares")
        entries[normalized] = info
    return entries


def _limit(name: str) -> int:
    return MAX_CONFIG_BYTES if name.endswith(".json") else MAX_ENTRY_BYTES


def _check_size(name: str, size: int, stored: int, path: str, verb: str) -> None:
    if size > _limit(name):
        raise ValueError(f"{path}: entry {name!r} {verb} {size} bytes, more than the {_limit(name)} gpunet reads; "
                         "refusing a possible zip bomb")
    if size > RATIO_FLOOR and size > MAX_RATIO * max(stored, 1):
        raise ValueError(f"{path}: entry {name!r} {verb} {size} bytes from {stored} stored (more than {MAX_RATIO} "
                         "times its stored size); refusing a possible zip bomb")


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> bytes:
    """An entry's bytes, counted while they are read: never more than it declared, nor than
    the limits allow."""
    chunks, total = [], 0
    with archive.open(info, "r") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > info.file_size:
                raise ValueError(f"{path}: entry {info.filename!r} expands beyond the {info.file_size} bytes it "
                                 "declares; refusing a possible zip bomb")
            _check_size(info.filename, total, info.compress_size, path, "expands to")
            chunks.append(chunk)
    return b"".join(chunks)


def read_archive(path: str, names=(CONFIG, METADATA, WEIGHTS)) -> dict:
    """The entries ``names`` of the archive at ``path`` that it has ({name: bytes}), after
    checking every entry (see the module's docstring)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such model file: {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a folder, not a .keras model file")
    if not is_zip_file(path):
        size = os.path.getsize(path)
        raise ValueError(f"{path}: not a zip archive, so not a .keras model file"
                         + (" (the file is empty)" if size == 0 else ""))
    try:
        with zipfile.ZipFile(path, "r") as archive:
            entries = _check_entries(archive, path)
            return {name: _read_entry(archive, entries[name], path) for name in names if name in entries}
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path}: a damaged zip archive ({exc})") from None
    except (EOFError, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"{path}: a damaged or unsupported zip archive ({type(exc).__name__}: {exc})") from None


@contextlib.contextmanager
def _naming(path: str):
    """Errors raised while reading the archive name the file; anything a damaged HDF5 entry
    makes h5py raise (KeyError, RuntimeError...) is a ValueError."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        if path in str(exc):
            raise
        try:
            renamed = type(exc)(f"{path}: {exc}")
        except Exception:  # noqa: BLE001 - a subclass with another signature
            renamed = ValueError(f"{path}: {exc}")
        raise renamed from None
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - see the docstring
        raise ValueError(f"{path}: a damaged entry ({type(exc).__name__}: {exc})") from None


def _json(data: bytes, name: str, path: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: {name} is not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError(f"{path}: {name} is nested too deeply") from None


def _members(path: str, need_config: bool = True) -> tuple:
    """(config, weights bytes) of the archive, checked."""
    members = read_archive(path)
    if need_config and CONFIG not in members:
        raise ValueError(f"{path}: the archive has no {CONFIG}, so it is not a .keras model file")
    if WEIGHTS not in members:
        raise ValueError(f"{path}: the archive has no {WEIGHTS} (gpunet reads Keras's HDF5 weights only)")
    config = _json(members[CONFIG], CONFIG, path) if need_config else None
    if need_config:
        if not isinstance(config, dict):
            raise ValueError(f"{path}: {CONFIG} must hold an object, got {type(config).__name__}")
        refuse_code(config, f"{path}: {CONFIG}")
    return config, members[WEIGHTS]


# ----------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------
def load_model(filepath, custom_objects=None, compile: bool = True):  # noqa: A002 - Keras's argument name
    """Rebuild a model from a ``.keras`` archive written by gpunet or by Keras 3.

    Compiled from ``compile_config`` (when ``compile``); the optimizer gets gpunet's exact state
    when the archive has it, else Keras's optimizer variables where the optimizers match.
    """
    path = os.fspath(filepath)
    config, data = _members(path)
    where = f"{path} ({WEIGHTS})"
    with custom_object_scope(custom_objects), _naming(path):
        model = model_from_config(plain_dtypes(config))
        if not model.built:
            raise ValueError(f"{path}: the architecture has no input shape, so its weights cannot be placed")
        with open_bytes(data, where) as f:
            check_links(f, where)
            values = read_weights(f, model, where)
            state = _read_state(f, where) if compile else {}
            keras_variables = read_optimizer_variables(f, where) if compile else None
        compile_config = config.get("compile_config") if compile else None
        model.set_weights(values)
        if compile_config:
            restore_training(model, training_config_from_keras(compile_config, f"{path}: compile_config"), state,
                             f"{path}: compile_config", keras=True,
                             fallback=lambda: restore_optimizer(model, keras_variables, where))
    return model


def load_weights(model, filepath) -> None:
    """``model.load_weights`` for a ``.keras`` archive: its weights, and its optimizer's variables
    when the model is compiled (as Keras does)."""
    path = os.fspath(filepath)
    _, data = _members(path, need_config=False)
    where = f"{path} ({WEIGHTS})"
    with _naming(path), open_bytes(data, where) as f:
        load_weights_from(model, f, where)


# ----------------------------------------------------------------------------------------------
# saving
# ----------------------------------------------------------------------------------------------
def save_model(model, path: str, include_optimizer: bool = True) -> None:
    """Write ``model`` to the ``.keras`` archive ``path`` atomically (``path`` already checked)."""
    state = state_to_save(model, include_optimizer)
    config = keras_model_config(model)
    compile_config = keras_compile_config(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "gpunet_version": __version__}
    weights = weights_bytes(model, include_optimizer, extra=lambda f: write_state_group(f, state))
    entries = [(METADATA, json.dumps(metadata).encode()), (CONFIG, json.dumps(config).encode()), (WEIGHTS, weights)]
    now = datetime.datetime.now().timetuple()[:6]
    with atomic_write(path) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=now), data)

