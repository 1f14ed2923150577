"""Read the scalars of a TensorBoard event file with the standard library alone.

An event file is a sequence of TFRecords (length, masked CRC-32C of the length, payload, masked
CRC-32C of the payload), each payload an ``Event`` protocol buffer: ``step`` (field 2) and a
``Summary`` (field 5) of ``Value``s, each a ``tag`` (1) with its number either as
``simple_value`` (2, float) or as a one-element float ``TensorProto`` (8; ``float_val`` 5 or
``tensor_content`` 4), the two ways TensorBoard's writers store a scalar. The tests read what a
script's TensorBoard callback wrote and check every record's checksums, so a file that
TensorBoard would reject fails here too.
"""

from __future__ import annotations

import struct

__all__ = ["read_scalars", "records"]


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C (Castagnoli), rotated right by 15 bits, plus a constant."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(blob: bytes):
    """The payloads of a TFRecord file, each checked against its two checksums."""
    offset = 0
    while offset < len(blob):
        header = blob[offset: offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[offset + 8: offset + 12])
        if length_crc != masked_crc32c(header):
            raise ValueError(f"record at byte {offset}: bad length checksum")
        payload = blob[offset + 12: offset + 12 + length]
        (payload_crc,) = struct.unpack("<I", blob[offset + 12 + length: offset + 16 + length])
        if len(payload) != length or payload_crc != masked_crc32c(payload):
            raise ValueError(f"record at byte {offset}: truncated or bad payload checksum")
        yield payload
        offset += 16 + length


def _varint(buffer: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = buffer[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def _fields(buffer: bytes):
    """(field number, wire type, value) of a protocol buffer message, in order."""
    i = 0
    while i < len(buffer):
        key, i = _varint(buffer, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buffer, i)
        elif wire == 1:
            value, i = buffer[i: i + 8], i + 8
        elif wire == 2:
            size, i = _varint(buffer, i)
            value, i = buffer[i: i + size], i + size
        elif wire == 5:
            value, i = buffer[i: i + 4], i + 4
        else:
            raise ValueError(f"unsupported protocol buffer wire type {wire}")
        yield number, wire, value


def _scalar(value: bytes):
    """(tag, number or None) of a ``Summary.Value``."""
    tag, number = None, None
    for field, wire, content in _fields(value):
        if field == 1:
            tag = content.decode()
        elif field == 2 and wire == 5:
            (number,) = struct.unpack("<f", content)
        elif field == 8:
            for tensor_field, tensor_wire, data in _fields(content):
                if tensor_field == 5 and tensor_wire in (2, 5) and len(data) == 4:
                    (number,) = struct.unpack("<f", data)
                elif tensor_field == 4 and len(data) == 4:
                    (number,) = struct.unpack("<f", data)
    return tag, number


def read_scalars(path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of every scalar in an event file, in file order."""
    with open(path, "rb") as f:
        blob = f.read()
    scalars: dict = {}
    for payload in records(blob):
        step, summaries = 0, []
        for field, _, content in _fields(payload):
            if field == 2:
                step = content
            elif field == 5:
                summaries.append(content)
        for summary in summaries:
            for field, _, value in _fields(summary):
                if field == 1:
                    tag, number = _scalar(value)
                    if number is not None:
                        scalars.setdefault(tag, []).append((step, number))
    return scalars
