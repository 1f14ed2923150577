"""IDX files: round trips for every dtype, and a clear ValueError for every kind of damage."""

import gzip
import struct
import time

import numpy as np
import pytest

from gpunet.datasets import read_idx, write_idx
from gpunet.datasets.idx import IDX_DTYPES

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]


def header(code, shape):
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def put(path, content, compress=False):
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(tmp_path, rng, dtype, compress):
    if np.dtype(dtype).kind == "f":
        array = rng.standard_normal((5, 4, 3)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, (5, 4, 3), endpoint=True).astype(dtype)
    path = tmp_path / "a.idx"
    write_idx(path, array, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    back[0] = 0  # the result is an ordinary writable array


def test_on_disk_layout_is_big_endian(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.array([1, 258], dtype=np.int16))
    assert path.read_bytes() == header(0x0B, (2,)) + b"\x00\x01\x01\x02"


def test_compression_defaults_to_the_name_and_reading_ignores_it(tmp_path):
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "a.gz", x)
    write_idx(tmp_path / "b", x)
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "b").read_bytes()[:2] == b"\x00\x00"
    # detection is by content: a gzip file without .gz and a raw file named .gz both read
    (tmp_path / "a.gz").rename(tmp_path / "c")
    (tmp_path / "b").rename(tmp_path / "d.gz")
    np.testing.assert_array_equal(read_idx(tmp_path / "c"), x)
    np.testing.assert_array_equal(read_idx(tmp_path / "d.gz"), x)


def test_big_endian_and_non_contiguous_input_is_written_correctly(tmp_path):
    x = np.arange(24, dtype=">i4").reshape(4, 6)[:, ::2]
    write_idx(tmp_path / "a", x)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), x)


def test_empty_dimension_is_allowed(tmp_path):
    write_idx(tmp_path / "a", np.zeros((0, 28, 28), np.uint8))
    assert read_idx(tmp_path / "a").shape == (0, 28, 28)


@pytest.mark.parametrize("array", [np.zeros(3, np.uint16), np.zeros(3, np.int64), np.zeros(3, bool)])
def test_write_refuses_dtypes_idx_cannot_hold(tmp_path, array):
    with pytest.raises(ValueError, match=r"a\.idx.*dtype .* no IDX type code"):
        write_idx(tmp_path / "a.idx", array)
    assert not (tmp_path / "a.idx").exists()


def test_write_refuses_a_scalar(tmp_path):
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "a", np.uint8(3))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.gz"):
        read_idx(tmp_path / "nope.gz")


GOOD = header(0x08, (2, 3)) + bytes(range(6))


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x01\x00" + GOOD[2:], "bad magic"),
        (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"x", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "zero dimensions"),
        (b"\x00\x00", "truncated header"),
        (GOOD[:10], "truncated header"),
        (GOOD[:-1], "truncated data"),
        (GOOD + b"\x00", "trailing bytes"),
        (b"", "truncated header"),
    ],
    ids=["bad-magic", "unknown-type", "zero-dims", "short-head", "short-dims", "short-data", "trailing", "empty"],
)
def test_malformed_files(tmp_path, content, message, compress):
    path = put(tmp_path / "bad.idx", content, compress)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert "bad.idx" in str(info.value)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_huge_declared_shape_is_refused_before_reading(tmp_path, compress):
    # 20 bytes claiming 60000 x 100000 x 100000 uint8 = 6e14 bytes
    content = header(0x08, (60000, 100000, 100000)) + b"\x00" * 4
    assert len(content) == 20
    path = put(tmp_path / "huge.idx", content, compress)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"huge\.idx.*600000000000000 bytes.*max_bytes"):
        read_idx(path)
    assert time.perf_counter() - start < 0.5


def test_max_bytes_counts_the_item_size(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.zeros((4, 5), np.float64))  # 160 bytes
    assert read_idx(path, max_bytes=160).shape == (4, 5)
    with pytest.raises(ValueError, match="160 bytes.*max_bytes=159"):
        read_idx(path, max_bytes=159)


def test_huge_declared_shape_with_short_file_reads_only_what_is_there(tmp_path):
    # declared 1 GB (under the limit) but the file holds 4 bytes: truncated, and no 1 GB is read
    path = put(tmp_path / "short.idx", header(0x08, (1000, 1000, 1000)) + b"\x00" * 4, compress=True)
    with pytest.raises(ValueError, match="truncated data.*holds 4"):
        read_idx(path)


def _flipped_gzip():
    content = header(0x08, (100, 100)) + np.random.default_rng(0).integers(0, 4, 10000, dtype=np.uint8).tobytes()
    data = bytearray(gzip.compress(content))
    data[len(data) // 2] ^= 0xFF  # inside the deflate stream, past the IDX header
    return bytes(data)


@pytest.mark.parametrize(
    "content",
    [
        _flipped_gzip(),
        gzip.compress(GOOD)[:-6],  # cut inside the trailer
        gzip.compress(GOOD)[:15],  # cut inside the stream
        gzip.compress(GOOD)[:-4] + b"\x00\x00\x00\x00",  # wrong length in the trailer
        gzip.compress(GOOD)[:-8] + b"\x00\x00\x00\x00" + gzip.compress(GOOD)[-4:],  # wrong CRC
        b"\x1f\x8b" + b"not really gzip at all",
    ],
    ids=["flipped", "cut-trailer", "cut-stream", "bad-length", "bad-crc", "magic-only"],
)
def test_corrupt_gzip(tmp_path, content):
    path = put(tmp_path / "c.gz", content)
    with pytest.raises(ValueError, match=r"c\.gz.*corrupt gzip"):
        read_idx(path)


def test_every_type_code_is_covered():
    assert sorted(IDX_DTYPES) == [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]
    assert sorted(d.name for d in IDX_DTYPES.values()) == sorted(DTYPES)
