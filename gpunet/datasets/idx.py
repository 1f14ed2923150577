"""IDX files, the format of MNIST and Fashion-MNIST: read them safely, write them for tests.

An IDX file is a small header and the array's bytes in C order:

* two zero bytes, then a type code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C``
  int32, ``0x0D`` float32, ``0x0E`` float64), then the number of dimensions (one byte);
* each dimension as a big-endian uint32;
* the data, big-endian.

Files are usually gzip-compressed. :func:`read_idx` tells a gzip file by its magic bytes, not by
its name, since files get renamed and recompressed. It trusts nothing in the header: the declared
size is checked against ``max_bytes`` before any data is read, and the data is read in bounded
chunks, so a damaged or hostile file costs at most what it actually holds and never more than
``max_bytes``.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np

from ..saving.atomic import atomic_write

__all__ = ["read_idx", "write_idx", "IDX_DTYPES"]

# type code -> big-endian dtype of the data on disk
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # bytes read at a time, so memory follows what the file really holds
_GZIP_ERRORS = (OSError, EOFError, zlib.error)  # BadGzipFile is an OSError


def _describe_codes() -> str:
    return ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in IDX_DTYPES.items())


def _read_at_most(stream, count: int) -> bytearray:
    """Read up to ``count`` bytes, stopping early only at the end of the stream."""
    out = bytearray()
    while len(out) < count:
        chunk = stream.read(min(_CHUNK, count - len(out)))
        if not chunk:
            break
        out += chunk
    return out


def _parse(stream, path: str, max_bytes: int) -> np.ndarray:
    """Read header and data from an open (already decompressing, if need be) binary stream."""
    head = _read_at_most(stream, 4)
    if len(head) < 4:
        raise ValueError(
            f"{path!r} is not an IDX file: truncated header ({len(head)} bytes, expected at least 4)"
        )
    if head[0] != 0 or head[1] != 0:
        raise ValueError(
            f"{path!r} is not an IDX file: bad magic {bytes(head[:2]).hex(' ')} "
            "(expected the first two bytes to be 00 00)"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"{path!r}: unknown IDX type code 0x{code:02X}; expected one of {_describe_codes()}")
    if ndim == 0:
        raise ValueError(f"{path!r}: the IDX header declares zero dimensions; expected at least one")
    dims_raw = _read_at_most(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise ValueError(
            f"{path!r}: truncated header: {ndim} dimensions declared but only {len(dims_raw)} of their "
            f"{4 * ndim} bytes are present"
        )
    shape = tuple(int(d) for d in np.frombuffer(bytes(dims_raw), dtype=">u4"))
    dtype = IDX_DTYPES[code]
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow whatever the header says
    if nbytes > max_bytes:
        raise ValueError(
            f"{path!r} declares shape {shape} of {dtype.name}, {nbytes} bytes, over the limit max_bytes={max_bytes}; "
            "the file is damaged, or pass a larger max_bytes if it really is that big"
        )
    # one byte more than declared, to notice trailing bytes without reading them all
    data = _read_at_most(stream, nbytes + 1)
    if len(data) < nbytes:
        raise ValueError(
            f"{path!r}: truncated data: shape {shape} of {dtype.name} needs {nbytes} bytes, the file holds {len(data)}"
        )
    if len(data) > nbytes:
        raise ValueError(f"{path!r}: trailing bytes after the {nbytes} bytes of data declared by shape {shape}")
    array = np.frombuffer(data, dtype=dtype).reshape(shape)  # writable: it views the bytearray
    if not dtype.isnative:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def read_idx(path, max_bytes: int = 2**31) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw, into a native-endian NumPy array.

    The array has the dtype and shape the header declares. Any damage (bad magic, unknown type
    code, zero dimensions, truncated header or data, trailing bytes, a declared size over
    ``max_bytes``, a corrupt gzip stream) raises ``ValueError`` naming the file; a missing file
    raises ``FileNotFoundError``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"IDX file {path!r} does not exist")
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic != _GZIP_MAGIC:
            return _parse(raw, path, max_bytes)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _parse(stream, path, max_bytes)
        except _GZIP_ERRORS as exc:
            raise ValueError(f"{path!r}: corrupt gzip data: {exc}") from exc


def write_idx(path, array, compress: bool | None = None) -> None:
    """Write ``array`` to ``path`` as an IDX file, gzip-compressed when ``compress`` is true.

    ``compress`` defaults to whether ``path`` ends in ``.gz``. The dtype must be one IDX holds
    (uint8, int8, int16, int32, float32, float64; nothing is converted silently), with 1 to 255
    dimensions. The file is replaced atomically, so a failed write leaves no half file behind.
    """
    path = os.fspath(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(
            f"cannot write {path!r}: dtype {array.dtype} has no IDX type code; expected one of {_describe_codes()}"
        )
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"cannot write {path!r}: IDX holds 1 to 255 dimensions, the array has {array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"cannot write {path!r}: dimension over 2**32 - 1 in shape {array.shape}")
    if compress is None:
        compress = path.endswith(".gz")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    with atomic_write(path) as temp, open(temp, "wb") as out:
        if compress:
            inner_name = os.path.basename(path).removesuffix(".gz")  # not the temporary file's name
            with gzip.GzipFile(inner_name, mode="wb", fileobj=out, mtime=0) as stream:  # mtime=0: same bytes each time
                stream.write(header)
                stream.write(data)
        else:
            out.write(header)
            out.write(data)
