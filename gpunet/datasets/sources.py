"""Where MNIST and Fashion-MNIST come from: local folders first, a checked download last.

:func:`load` looks for the four IDX files of a data set in this order, and uses the first place
that holds all four:

1. the folder given as ``path=`` (if given and incomplete, that is an error at once: an explicit
   choice is never silently replaced by another copy);
2. ``$GPUNET_DATA/<name>/``, then ``$GPUNET_DATA/`` itself;
3. the user cache, ``${XDG_CACHE_HOME:-~/.cache}/gpunet/<name>/``;
4. the system folders: ``/usr/share/datasets/fashion-mnist/`` (Debian's package
   ``dataset-fashion-mnist``) and ``/usr/share/datasets/mnist/``;
5. a download into the user cache with ``pooch``, mirror after mirror, unless the environment
   variable ``GPUNET_OFFLINE`` is set (to anything but ``0``/``false``/``no``).

Each file may be gzip-compressed (``train-images-idx3-ubyte.gz``) or raw (the same name without
``.gz``).

Checksums: SHA-256 sums are verified for downloads only (pooch does it, and a mismatch counts as
a failed mirror). Files found in folders are not checked against them, because copies that are
perfectly good do not match: Debian's ``dataset-fashion-mnist`` recompresses the upstream files,
so its ``.gz`` files have other sums. Such files are validated structurally instead, by
:func:`~gpunet.datasets.idx.read_idx` (header, sizes, gzip integrity) and by the consistency
checks here (images 3-D, labels 1-D, equal counts, labels 0..9, uint8).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from .idx import read_idx

__all__ = ["DataSet", "DATASETS", "SYSTEM_FOLDERS", "get_dataset", "cache_folder", "cache_folder_for",
           "offline", "download_file", "load"]

# the four files, in the order load() returns them
ROLES = ("train_images", "train_labels", "test_images", "test_labels")
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
NUM_CLASSES = 10


@dataclasses.dataclass(frozen=True)
class DataSet:
    """What is needed to find, fetch and check one data set."""

    name: str  # folder name under $GPUNET_DATA and the cache, and the name load() accepts
    title: str  # for messages
    sha256: dict  # role -> SHA-256 of the upstream .gz file, checked on download
    mirrors: tuple  # base URLs, tried in order; each ends with "/"
    install_hint: str  # extra advice for the "not found" message, may be empty


MNIST = DataSet(
    name="mnist",
    title="MNIST",
    sha256={
        "train_images": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train_labels": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "test_images": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "test_labels": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    mirrors=(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
    install_hint="",
)

FASHION_MNIST = DataSet(
    name="fashion_mnist",
    title="Fashion-MNIST",
    sha256={
        "train_images": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
        "train_labels": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
        "test_images": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
        "test_labels": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    },
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
    install_hint="on Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist` (it installs them into "
    "/usr/share/datasets/fashion-mnist/)",
)

DATASETS = {d.name: d for d in (MNIST, FASHION_MNIST)}

# Read at each call, so tests (and unusual installs) can point them elsewhere.
SYSTEM_FOLDERS = {
    "mnist": ("/usr/share/datasets/mnist",),
    "fashion_mnist": ("/usr/share/datasets/fashion-mnist",),
}

_FALSE_WORDS = ("", "0", "false", "no", "off")


def get_dataset(dataset) -> DataSet:
    """The :class:`DataSet` for a name (``"mnist"``, ``"fashion_mnist"``) or a DataSet itself."""
    if isinstance(dataset, DataSet):
        return dataset
    if isinstance(dataset, str) and dataset in DATASETS:
        return DATASETS[dataset]
    raise ValueError(f"unknown data set {dataset!r}; expected one of {sorted(DATASETS)}")


def cache_folder(dataset) -> str:
    """The user cache folder of a data set: ``${XDG_CACHE_HOME:-~/.cache}/gpunet/<name>``."""
    return cache_folder_for(get_dataset(dataset).name)


def cache_folder_for(name: str) -> str:
    """``${XDG_CACHE_HOME:-~/.cache}/gpunet/<name>``, for any data set's name (the single-file
    ones of :mod:`gpunet.datasets.files` too)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "gpunet", name)


def offline() -> bool:
    """Whether ``GPUNET_OFFLINE`` forbids downloads."""
    return _offline()


def _offline() -> bool:
    return os.environ.get("GPUNET_OFFLINE", "").strip().lower() not in _FALSE_WORDS


def _find_files(folder: str) -> tuple[dict, list]:
    """Which of the four files ``folder`` holds (``.gz`` preferred to raw) and which it lacks."""
    found, missing = {}, []
    for role in ROLES:
        gz = os.path.join(folder, FILE_NAMES[role])
        raw = gz.removesuffix(".gz")
        if os.path.isfile(gz):
            found[role] = gz
        elif os.path.isfile(raw):
            found[role] = raw
        else:
            missing.append(FILE_NAMES[role])
    return found, missing


def _describe_folder(folder: str, missing: list) -> str:
    if not os.path.isdir(folder):
        return f"{folder} (no such folder)"
    if len(missing) == len(ROLES):
        return f"{folder} (none of the files)"
    return f"{folder} (lacks {', '.join(missing)})"


def _check(data: DataSet, files: dict, arrays: dict) -> None:
    """Refuse arrays that cannot be a split of the data set, naming the file at fault."""
    for role, array in arrays.items():
        want_ndim = 3 if role.endswith("images") else 1
        if array.ndim != want_ndim:
            raise ValueError(
                f"{data.title}: {files[role]!r} holds an array of shape {array.shape}; expected "
                f"{'3-D images (N, rows, cols)' if want_ndim == 3 else '1-D labels (N,)'}"
            )
        if array.dtype != np.uint8:
            raise ValueError(f"{data.title}: {files[role]!r} holds {array.dtype} data; expected uint8")
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise ValueError(
                f"{data.title}: {files[f'{split}_images']!r} holds {len(images)} images but "
                f"{files[f'{split}_labels']!r} holds {len(labels)} labels; expected equal counts"
            )
        if labels.size and labels.max() >= NUM_CLASSES:
            raise ValueError(
                f"{data.title}: {files[f'{split}_labels']!r} holds label {int(labels.max())}; "
                f"expected labels 0..{NUM_CLASSES - 1}"
            )


def _read(data: DataSet, files: dict):
    arrays = {role: read_idx(files[role]) for role in ROLES}
    _check(data, files, arrays)
    return (arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], arrays["test_labels"])


def download_file(url: str, sha256: str, fname: str, folder: str, algorithm: str = "sha256") -> str:
    """Download ``url`` into ``folder/fname`` with pooch, checking its SHA-256 (or the digest of
    ``algorithm``, ``"md5"`` for Keras's word indexes); return the path.

    pooch downloads to a temporary file and moves it into place only once the checksum matches,
    so an interrupted or wrong download never leaves a file that later looks valid. A file already
    there with the right checksum is not downloaded again.
    """
    import pooch  # noqa: PLC0415 - only needed when a download happens

    return pooch.retrieve(url, known_hash=f"{algorithm}:{sha256}", fname=fname, path=folder, progressbar=False)


def _download(data: DataSet, folder: str, missing: list, failures: list) -> bool:
    """Fetch the ``missing`` files into ``folder``; record each failure; True when all arrived."""
    roles = {name: role for role, name in FILE_NAMES.items()}
    for fname in missing:
        for mirror in data.mirrors:
            url = mirror + fname
            try:
                download_file(url, data.sha256[roles[fname]], fname, folder)
                break
            except ImportError as exc:  # no pooch: no mirror can work
                failures.append(f"{url}: pooch is not installed ({exc}); `pip install pooch`")
                return False
            except Exception as exc:  # network errors, HTTP errors, checksum mismatch
                failures.append(f"{url}: {type(exc).__name__}: {exc}")
        else:
            return False
    return True


def load(dataset, path=None):
    """Load a data set as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays, like Keras.

    Images are ``(N, 28, 28)`` and labels ``(N,)``. See the module docstring for where the files
    are looked for. ``FileNotFoundError`` when no place has them (the message lists every place
    looked and how to get the files), ``ValueError`` when a file found is damaged or inconsistent.
    """
    data = get_dataset(dataset)
    if path is not None:
        folder = os.fspath(path)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{data.title}: path={folder!r} was given but there is no such folder")
        found, missing = _find_files(folder)
        if missing:
            raise FileNotFoundError(
                f"{data.title}: path={folder!r} was given but that folder lacks {', '.join(missing)} "
                "(each may also be uncompressed, without .gz)"
            )
        return _read(data, found)

    looked = []  # "what: where (why not)" lines for the final message
    candidates = []
    env = os.environ.get("GPUNET_DATA")
    if env:
        candidates += [("GPUNET_DATA", os.path.join(env, data.name)), ("GPUNET_DATA", env)]
    else:
        looked.append("GPUNET_DATA: not set")
    cache = cache_folder(data)
    candidates.append(("user cache", cache))
    candidates += [("system folder", folder) for folder in SYSTEM_FOLDERS.get(data.name, ())]

    for what, folder in candidates:
        found, missing = _find_files(folder)
        if not missing:
            return _read(data, found)
        looked.append(f"{what}: {_describe_folder(folder, missing)}")

    failures = []
    if _offline():
        looked.append(f"download: skipped, GPUNET_OFFLINE={os.environ.get('GPUNET_OFFLINE')}")
    else:
        _, missing = _find_files(cache)
        if _download(data, cache, missing, failures):
            found, missing = _find_files(cache)
            if not missing:
                return _read(data, found)
        looked.append(f"download into {cache}: failed")

    lines = [f"{data.title} not found. Looked in:"]
    lines += [f"  - {line}" for line in looked]
    if failures:
        lines.append("Download failures:")
        lines += [f"  - {failure}" for failure in failures]
    names = ", ".join(FILE_NAMES[role] for role in ROLES)
    hints = [data.install_hint] if data.install_hint else []
    if _offline():
        hints.append("unset GPUNET_OFFLINE to let gpunet download them into the user cache")
    hints.append(
        f"download the four files ({names}) from {' or '.join(data.mirrors)} into {cache}, "
        f"or into $GPUNET_DATA/{data.name}/ with GPUNET_DATA set to a folder of yours"
    )
    hints.append("pass path=FOLDER to load_data for a folder that holds them")
    lines.append("To get the files, any of:")
    lines += [f"  - {hint}" for hint in hints]
    raise FileNotFoundError("\n".join(lines))
