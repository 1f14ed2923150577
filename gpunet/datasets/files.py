"""Where the single-file data sets come from (IMDB, Reuters, CIFAR, the housing prices), and how
their files are read without running code from them.

:func:`locate` finds a data set's file, taking the first of:

1. ``path`` itself, when it names a file that exists (a file of yours, anywhere); a ``path`` with
   a folder in it that does not exist is an error at once (an explicit choice is never silently
   replaced by another copy);
2. the file name ``path`` (Keras's own file name by default, e.g. ``imdb.npz``) in
   ``$GPUNET_DATA/<data set>/``, then ``$GPUNET_DATA/``;
3. the user cache, ``${XDG_CACHE_HOME:-~/.cache}/gpunet/<data set>/``;
4. Keras's cache, ``${KERAS_HOME:-~/.keras}/datasets/`` (a copy Keras downloaded earlier; for
   CIFAR, the folder Keras extracted its archive into);
5. a download of Keras's address into the user cache with ``pooch``, which checks the file's
   checksum (Keras's) before keeping it, unless ``GPUNET_OFFLINE`` is set.

Files found locally are not checked against the checksums (a file of yours need not be Keras's);
they are read structurally instead, and refused with a ValueError naming the file when they do
not hold what the data set holds.

Reading: ``.npz`` members are read as NumPy arrays; IMDB's and Reuters' are arrays of lists,
which NumPy stores pickled, and CIFAR's batches are pickled dicts. Both go through
:class:`SafeUnpickler`, which rebuilds NumPy arrays, lists, dicts, numbers and strings and refuses
anything else, so a crafted file cannot run code.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import zipfile

import numpy as np

from . import sources

__all__ = ["Remote", "locate", "read_npz", "safe_loads", "SafeUnpickler", "keras_cache"]

KERAS_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


@dataclasses.dataclass(frozen=True)
class Remote:
    """One data set's file: where Keras downloads it from and its checksum there."""

    dataset: str  # folder name under $GPUNET_DATA and the user cache
    file: str  # Keras's file name (the default ``path``)
    url: str
    digest: str  # as Keras's source gives it
    algorithm: str = "sha256"  # "md5" for the two word indexes
    keras_names: tuple = ()  # other names it has in Keras's cache (CIFAR's extracted folders)


def keras_cache() -> str:
    """Keras's download folder: ``${KERAS_HOME:-~/.keras}/datasets``."""
    return os.path.join(os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras"), "datasets")


def _candidates(remote: Remote, name: str) -> list:
    places = []
    env = os.environ.get("GPUNET_DATA")
    if env:
        places += [("GPUNET_DATA", os.path.join(env, remote.dataset, name)), ("GPUNET_DATA", os.path.join(env, name))]
    places.append(("user cache", os.path.join(sources.cache_folder_for(remote.dataset), name)))
    places += [("Keras's cache", os.path.join(keras_cache(), n)) for n in (name, *remote.keras_names)]
    return places


def locate(remote: Remote, path=None) -> str:
    """The local file (or, for CIFAR, extracted folder) of ``remote``; see the module docstring.
    FileNotFoundError lists every place looked in when none has it and no download worked."""
    name = remote.file if path is None else os.fspath(path)
    if not isinstance(name, str) or not name:
        raise TypeError(f"path must be a file name or a path to a file, got {path!r}")
    if os.path.exists(name) and (os.path.isfile(name) or os.path.dirname(name)):
        return name
    if os.path.dirname(name):
        raise FileNotFoundError(f"{remote.dataset}: path={name!r} was given but there is no such file")
    looked = [] if os.environ.get("GPUNET_DATA") else ["GPUNET_DATA: not set"]
    for what, candidate in _candidates(remote, name):
        if os.path.exists(candidate):
            return candidate
        looked.append(f"{what}: {candidate}")
    cache = sources.cache_folder_for(remote.dataset)
    failures = []
    if sources.offline():
        looked.append(f"download: skipped, GPUNET_OFFLINE={os.environ.get('GPUNET_OFFLINE')}")
    else:
        try:
            return sources.download_file(remote.url, remote.digest, name, cache, algorithm=remote.algorithm)
        except ImportError as exc:
            failures.append(f"{remote.url}: pooch is not installed ({exc}); `pip install pooch`")
        except Exception as exc:  # noqa: BLE001 - network errors, HTTP errors, checksum mismatch
            failures.append(f"{remote.url}: {type(exc).__name__}: {exc}")
    lines = [f"{remote.dataset}: {name} not found. Looked in:", *[f"  - {line}" for line in looked]]
    if failures:
        lines += ["Download failures:", *[f"  - {failure}" for failure in failures]]
    lines.append(f"Download {remote.url} ({remote.algorithm} {remote.digest}) into {cache}, or pass path= a local copy")
    raise FileNotFoundError("\n".join(lines))


class SafeUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and Python's plain values only: the globals a pickled ndarray names
    (its reconstructor, ``ndarray``, ``dtype``, and ``_codecs.encode`` for bytes written by
    Python 3 at protocol 2); any other global (a function, a class) is refused."""

    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    })

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: a data set file holds arrays and plain "
                                         "values only")
        return super().find_class(module, name)


def safe_loads(data: bytes, encoding: str = "ASCII"):
    """``pickle.loads`` through :class:`SafeUnpickler` (``encoding="bytes"`` reads Python 2 pickles
    such as CIFAR's batches, whose keys stay bytes)."""
    return SafeUnpickler(io.BytesIO(data), encoding=encoding).load()


def _read_npy(raw: bytes, where: str):
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version in ((2, 0), (3, 0)):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"{where}: unsupported .npy version {version}")
    if not dtype.hasobject:
        stream.seek(0)
        return np.lib.format.read_array(stream, allow_pickle=False)
    array = safe_loads(stream.read(), encoding="latin1")  # arrays of lists: pickled, read safely
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise ValueError(f"{where}: its pickled data is not the array of shape {tuple(shape)} its header declares")
    return array


def read_npz(path: str, keys) -> dict:
    """The arrays ``keys`` of the ``.npz`` file ``path`` (others are not read); ValueError naming
    the file when one is missing or the file is not an ``.npz``."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = set(archive.namelist())
            arrays = {}
            for key in keys:
                if f"{key}.npy" not in members:
                    raise ValueError(f"{path}: no array {key!r} in the file (it holds {sorted(members)})")
                arrays[key] = _read_npy(archive.read(f"{key}.npy"), f"{path}: {key}")
            return arrays
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
