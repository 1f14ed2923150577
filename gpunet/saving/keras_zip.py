"""Keras 3's ``.keras`` model files: a zip archive, read as untrusted input.

An archive holds three entries, stored uncompressed as Keras writes them::

    metadata.json       {"keras_version": ..., "date_saved": ..., "gpunet_version": ...}
    config.json         the model in Keras 3's serialized form, with its compile_config
                        (see :mod:`gpunet.saving.keras_config`)
    model.weights.h5    the weights and the optimizer's variables in Keras 3's layout
                        (see :mod:`gpunet.saving.keras_weights`), plus one group Keras ignores:
                        /gpunet/state, the training state tree of the .h5 format (the optimizer's
                        exact state, and the fit's during fit), for exact resumption
    assets/<path>/...   files a layer keeps beside its weights, under its weights' path (Keras's
                        ``save_assets(dir)``/``load_assets(dir)`` hook: a StringLookup's
                        ``vocabulary.txt``, in ``assets/layers/string_lookup/``)

Reading checks the whole archive before it reads an entry: a file that is not a zip archive,
more than ``MAX_ENTRIES`` entries, an entry name that could leave a folder when extracted
(``../x``, ``/x``, ``C:x``, a backslash), two entries of one name, encrypted entries, a
compression other than stored or deflated, an entry declaring more than ``MAX_ENTRY_BYTES``
(``MAX_CONFIG_BYTES`` for the JSON entries), or expanding more than ``MAX_RATIO`` times its
stored size beyond ``RATIO_FLOOR`` bytes. The sizes are checked again while the entry is read,
never trusting the headers alone. Each problem is a ``ValueError`` naming the file. The
configuration is parsed with ``json`` and rebuilt only from gpunet's own and registered classes;
nothing in the archive is imported, evaluated or unpickled, and nothing is extracted to disk.

Entries are read one at a time, each only once it is known to be needed and affordable:
``config.json`` first; the model it describes is counted (and refused above the load limit)
before it is built; ``model.weights.h5`` is read only when its declared size fits what a file
for that model can hold (:class:`gpunet.saving.budget.LoadBudget`), then walked and held to the
same budget as any HDF5 file. The assets of a layer that defines ``load_assets`` are read last
(at most ``MAX_ASSETS_BYTES`` in all), copied into a fresh temporary folder under their
checked names, and that folder is handed to the layer. ``metadata.json`` is never read.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import re
import tempfile
import zipfile

from ..lookup import custom_object_scope
from ..version import __version__
from .assets import asset_files, holders
from .atomic import atomic_write
from .budget import MAX_JSON_BYTES, LoadBudget, check_source, parse_json
from .config import model_from_config
from .hdf5 import KERAS_VERSION, read_state, restore_training, state_to_save, write_state_group
from .keras_config import (keras_compile_config, keras_model_config, plain_dtypes, refuse_code,
                           training_config_from_keras)
from .keras_weights import (assign_own_variables, load_weights_from, open_bytes, read_optimizer_variables,
                            read_own_variables, read_weights, restore_optimizer, weights_bytes)

__all__ = ["save_model", "load_model", "load_weights", "is_zip_file", "read_archive",
           "MAX_ENTRIES", "MAX_ENTRY_BYTES", "MAX_CONFIG_BYTES", "MAX_RATIO", "RATIO_FLOOR", "MAX_ASSETS_BYTES"]

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
ASSETS = "assets"

MAX_ENTRIES = 10_000
MAX_ENTRY_BYTES = 1 << 34  # 16 GiB: the weights of a very large model
MAX_CONFIG_BYTES = MAX_JSON_BYTES  # config.json and metadata.json: 4 MiB
MAX_RATIO = 100  # uncompressed / stored, for entries larger than RATIO_FLOOR
RATIO_FLOOR = 16 << 20
MAX_ASSETS_BYTES = 1 << 30  # every layer's assets together (vocabularies): 1 GiB
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
    return _read_entry_into(archive, info, path).getvalue()


def _read_entry_into(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> io.BytesIO:
    """:func:`_read_entry` into a file object, holding the bytes once."""
    buffer, total = io.BytesIO(), 0
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
            buffer.write(chunk)
    buffer.seek(0)
    return buffer


class _Archive:
    """An open ``.keras`` archive whose entries were all checked (see the module's docstring);
    :meth:`read` reads one of them."""

    def __init__(self, path: str):
        check_source(path, "a .keras model file")
        if not is_zip_file(path):
            size = os.path.getsize(path)
            raise ValueError(f"{path}: not a zip archive, so not a .keras model file"
                             + (" (the file is empty)" if size == 0 else ""))
        self.path = path
        self.archive = self._zip(lambda: zipfile.ZipFile(path, "r"))
        try:
            self.entries = self._zip(lambda: _check_entries(self.archive, path))
        except BaseException:
            self.archive.close()
            raise

    def _zip(self, action):
        """``action()``, with what the zip module raises on a damaged archive as a ValueError."""
        try:
            return action()
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{self.path}: a damaged zip archive ({exc})") from None
        except (EOFError, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
            raise ValueError(f"{self.path}: a damaged or unsupported zip archive ({type(exc).__name__}: {exc})") from None

    def read(self, name: str, budget: LoadBudget | None = None) -> io.BytesIO | None:
        """Entry ``name`` (None when the archive has none), refused before it is read when it
        declares more than ``budget`` allows an HDF5 file for the model."""
        info = self.entries.get(name)
        if info is None:
            return None
        if budget is not None:
            budget.check_entry(name, info.file_size, self.path)
        return self._zip(lambda: _read_entry_into(self.archive, info, self.path))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.archive.close()


def read_archive(path: str, names=(CONFIG, METADATA, WEIGHTS)) -> dict:
    """The entries ``names`` of the archive at ``path`` that it has ({name: bytes}), after
    checking every entry (see the module's docstring)."""
    with _Archive(path) as archive:
        return {name: archive.read(name).getvalue() for name in names if name in archive.entries}


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
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - see the docstring
        raise ValueError(f"{path}: a damaged entry ({type(exc).__name__}: {exc})") from None


def _config(archive: _Archive, path: str) -> dict:
    """``config.json``, parsed and checked for code; the weights entry must be there too."""
    if CONFIG not in archive.entries:
        raise ValueError(f"{path}: the archive has no {CONFIG}, so it is not a .keras model file")
    _require_weights(archive, path)
    config = parse_json(archive.read(CONFIG).getvalue(), f"{path}: {CONFIG}")
    if not isinstance(config, dict):
        raise ValueError(f"{path}: {CONFIG} must hold an object, got {type(config).__name__}")
    refuse_code(config, f"{path}: {CONFIG}")
    return config


def _require_weights(archive: _Archive, path: str) -> None:
    if WEIGHTS not in archive.entries:
        raise ValueError(f"{path}: the archive has no {WEIGHTS} (gpunet reads Keras's HDF5 weights only)")


# ----------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------
def load_model(filepath, custom_objects=None, compile: bool = True, load_limit=None):  # noqa: A002 - Keras's name
    """Rebuild a model from a ``.keras`` archive written by gpunet or by Keras 3.

    Compiled from ``compile_config`` (when ``compile``); the optimizer gets gpunet's exact state
    when the archive has it, else Keras's optimizer variables where the optimizers match.
    ``load_limit`` bounds the bytes the model's weights may take (see :mod:`gpunet.saving.budget`).
    """
    path = os.fspath(filepath)
    where = f"{path} ({WEIGHTS})"
    with _Archive(path) as archive:
        config = _config(archive, path)
        with custom_object_scope(custom_objects), _naming(path):
            model = model_from_config(plain_dtypes(config), load_limit=load_limit, where=f"{path}: {CONFIG}")
            if not model.built:
                raise ValueError(f"{path}: the architecture has no input shape, so its weights cannot be placed")
            budget = LoadBudget(model)
            with open_bytes(archive.read(WEIGHTS, budget), where) as f:
                budget.inspect(f, where)
                values = read_weights(f, model, where)
                own = read_own_variables(f, model, where)
                state = read_state(f, where, budget) if compile else {}
                keras_variables = read_optimizer_variables(f, where, budget.largest) if compile else None
            model.set_weights(values)
            assign_own_variables(own)
            _load_assets(archive, model, path)
    with custom_object_scope(custom_objects), _naming(path):
        compile_config = config.get("compile_config") if compile else None
        if compile_config:
            restore_training(model, training_config_from_keras(compile_config, f"{path}: compile_config"), state,
                             f"{path}: compile_config", keras=True,
                             fallback=lambda: restore_optimizer(model, keras_variables, where))
    return model


def load_weights(model, filepath) -> None:
    """``model.load_weights`` for a ``.keras`` archive: its weights, and its optimizer's variables
    when the model is compiled (as Keras does)."""
    path = os.fspath(filepath)
    where = f"{path} ({WEIGHTS})"
    with _Archive(path) as archive:
        _require_weights(archive, path)
        with _naming(path):
            if not model.built:
                raise ValueError("build the model (an Input layer, or call it on data) before loading weights into it")
            budget = LoadBudget(model)
            with open_bytes(archive.read(WEIGHTS, budget), where) as f:
                budget.inspect(f, where)
                load_weights_from(model, f, where)


# ----------------------------------------------------------------------------------------------
# assets: Keras's save_assets(dir) / load_assets(dir), one folder per object under its weights' path
# ----------------------------------------------------------------------------------------------
def _load_assets(archive: _Archive, model, path: str) -> None:
    """Hand each object that defines ``load_assets`` a temporary folder holding the archive's
    files under its folder (objects with no files there are left alone, as Keras leaves a
    model whose archive has no assets)."""
    total = 0
    for obj, path in holders(model, "load_assets"):
        prefix = f"{ASSETS}/{path}/" if path else f"{ASSETS}/"
        names = sorted(n for n, info in archive.entries.items() if n.startswith(prefix) and not info.is_dir())
        if not names:
            continue
        with tempfile.TemporaryDirectory() as directory:
            for name in names:
                total += archive.entries[name].file_size
                if total > MAX_ASSETS_BYTES:
                    raise ValueError(f"{path}: the archive's assets declare more than {MAX_ASSETS_BYTES} bytes; "
                                     "refusing them")
                target = os.path.join(directory, *name[len(prefix):].split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as handle:
                    handle.write(archive.read(name).getvalue())
            obj.load_assets(directory)


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
    entries = [(METADATA, json.dumps(metadata).encode()), (CONFIG, json.dumps(config).encode()), (WEIGHTS, weights),
               *[(f"{ASSETS}/{name}", data) for name, data in asset_files(model)]]
    now = datetime.datetime.now().timetuple()[:6]
    with atomic_write(path) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=now), data)

