"""What the CIFAR loaders share: reading the pickled batches of the "python version" archive
(``cifar-10-python.tar.gz``, ``cifar-100-python.tar.gz``), from the archive itself (nothing is
extracted to disk) or from a folder it was extracted into (Keras's cache keeps one).

A batch is a pickled dict (Python 2's, so its keys are bytes) holding ``data``, a uint8 array
``(n, 3072)`` of 32x32 images in channels-first order, and the labels under ``labels`` (CIFAR-10)
or ``fine_labels`` and ``coarse_labels`` (CIFAR-100). It is read with
:func:`gpunet.datasets.files.safe_loads`: only arrays and plain values are rebuilt.
"""

from __future__ import annotations

import os
import tarfile

import numpy as np

from .files import safe_loads

__all__ = ["read_batches"]


def _member_reader(source: str, folder: str):
    """A function ``name -> bytes`` for the batch files under ``folder`` in ``source`` (a
    ``.tar.gz`` archive, or a folder holding ``folder/`` or the batch files themselves)."""
    if os.path.isdir(source):
        base = os.path.join(source, folder) if os.path.isdir(os.path.join(source, folder)) else source

        def read_file(name):
            file = os.path.join(base, name)
            if not os.path.isfile(file):
                raise ValueError(f"{source}: no {name} in {base}")
            with open(file, "rb") as f:
                return f.read()

        return read_file
    try:
        archive = tarfile.open(source, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise ValueError(f"{source}: not a readable tar archive ({exc})") from None
    members = {m.name.lstrip("./"): m for m in archive.getmembers() if m.isfile()}

    def read_member(name):
        member = members.get(f"{folder}/{name}")
        if member is None:
            raise ValueError(f"{source}: the archive has no {folder}/{name}")
        return archive.extractfile(member).read()

    read_member.close = archive.close
    return read_member


def _batch(raw: bytes, label_key: str, where: str):
    try:
        batch = safe_loads(raw, encoding="bytes")
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a damaged or foreign file
        raise ValueError(f"{where}: not a CIFAR batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{where}: not a CIFAR batch (a {type(batch).__name__}, not a dict)")
    batch = {k.decode("utf-8") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{where}: 'data' must be a uint8 array of shape (n, 3072), got "
                         f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}")
    labels = np.asarray(labels)
    if labels.shape != (data.shape[0],) or labels.dtype.kind not in "iu" or (labels.size and labels.min() < 0):
        raise ValueError(f"{where}: {label_key!r} must hold one non-negative integer label per image")
    return data.reshape(-1, 3, 32, 32), labels


def read_batches(source: str, folder: str, splits, label_key: str, classes: int, label_dtype) -> list:
    """For each list of batch names in ``splits`` (the training set's, the test set's), the images
    (n, 32, 32, 3) uint8, channels last as Keras gives them, and the labels (n, 1) of
    ``label_dtype`` of those batches under ``folder`` in ``source``, joined in order. An archive
    is opened once."""
    read = _member_reader(source, folder)
    try:
        return [_joined([_batch(read(name), label_key, f"{source}: {folder}/{name}") for name in names], source, classes,
                        label_dtype) for names in splits]
    finally:
        getattr(read, "close", lambda: None)()


def _joined(parts, source: str, classes: int, label_dtype):
    images = np.concatenate([p[0] for p in parts]).transpose(0, 2, 3, 1)
    labels = np.concatenate([p[1] for p in parts])
    if labels.size and labels.max() >= classes:
        raise ValueError(f"{source}: label {int(labels.max())} is out of range for {classes} classes")
    return np.ascontiguousarray(images), labels.astype(label_dtype).reshape(-1, 1)
