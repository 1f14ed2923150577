"""``Hashing`` (Keras 3's): values to ``num_bins`` buckets by a stable hash of their text.

Keras's layer hashes with TensorFlow (``tf.strings.to_hash_bucket_fast``: FarmHash's
``Fingerprint64``; with a ``salt``, ``tf.strings.to_hash_bucket_strong``: SipHash-2-4 keyed by the
two salt words), on the value's text (integers in decimal, floats truncated to integers first).
gpunet computes the same two hashes itself, from their published algorithms, so that bucket ids
equal TensorFlow's without TensorFlow.
"""

from __future__ import annotations

import numbers

import numpy

from ... import backend, ops
from ...autograd import Tensor
from ..base import check_positive_int
from .category_encoding import _EncodingLayer, encode_categories

__all__ = ["Hashing", "fingerprint64", "siphash24"]

MASK = (1 << 64) - 1
OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


# -- FarmHash Fingerprint64 (farmhashna::Hash64) --------------------------------------------------
K0, K1, K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def _word(s: bytes, i: int) -> int:
    return int.from_bytes(s[i:i + 8], "little")


def _half(s: bytes, i: int) -> int:
    return int.from_bytes(s[i:i + 4], "little")


def _rotate(v: int, shift: int) -> int:
    """Rotate a 64-bit word right by ``shift``."""
    return v if shift == 0 else ((v >> shift) | (v << (64 - shift))) & MASK


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def _hash16(u: int, v: int, mul: int) -> int:
    a = ((u ^ v) * mul) & MASK
    a ^= a >> 47
    b = ((v ^ a) * mul) & MASK
    b ^= b >> 47
    return (b * mul) & MASK


def _hash_0_to_16(s: bytes) -> int:
    n = len(s)
    if n >= 8:
        mul = K2 + n * 2
        a = (_word(s, 0) + K2) & MASK
        b = _word(s, n - 8)
        c = (_rotate(b, 37) * mul + a) & MASK
        d = ((_rotate(a, 25) + b) * mul) & MASK
        return _hash16(c, d, mul)
    if n >= 4:
        mul = K2 + n * 2
        return _hash16((n + (_half(s, 0) << 3)) & MASK, _half(s, n - 4), mul)
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * K2) ^ (z * K0)) & MASK) * K2) & MASK
    return K2


def _hash_17_to_32(s: bytes) -> int:
    n = len(s)
    mul = K2 + n * 2
    a = (_word(s, 0) * K1) & MASK
    b = _word(s, 8)
    c = (_word(s, n - 8) * mul) & MASK
    d = (_word(s, n - 16) * K2) & MASK
    return _hash16((_rotate((a + b) & MASK, 43) + _rotate(c, 30) + d) & MASK,
                   (a + _rotate((b + K2) & MASK, 18) + c) & MASK, mul)


def _hash_33_to_64(s: bytes) -> int:
    n = len(s)
    mul = K2 + n * 2
    a = (_word(s, 0) * K2) & MASK
    b = _word(s, 8)
    c = (_word(s, n - 8) * mul) & MASK
    d = (_word(s, n - 16) * K2) & MASK
    y = (_rotate((a + b) & MASK, 43) + _rotate(c, 30) + d) & MASK
    z = _hash16(y, (a + _rotate((b + K2) & MASK, 18) + c) & MASK, mul)
    e = (_word(s, 16) * mul) & MASK
    f = _word(s, 24)
    g = ((y + _word(s, n - 32)) * mul) & MASK
    h = ((z + _word(s, n - 24)) * mul) & MASK
    return _hash16((_rotate((e + f) & MASK, 43) + _rotate(g, 30) + h) & MASK,
                   (e + _rotate((f + a) & MASK, 18) + g) & MASK, mul)


def _weak32(s: bytes, i: int, a: int, b: int) -> tuple:
    """A 16-byte hash of the 32 bytes at ``i``, seeded by ``a`` and ``b``."""
    w, x, y, z = (_word(s, i + 8 * k) for k in range(4))
    a = (a + w) & MASK
    b = _rotate((b + a + z) & MASK, 21)
    c = a
    a = (a + x + y) & MASK
    b = (b + _rotate(a, 44)) & MASK
    return (a + z) & MASK, (b + c) & MASK


def fingerprint64(data: bytes) -> int:
    """FarmHash's ``Fingerprint64`` of ``data`` (TensorFlow's ``Fingerprint64``), an unsigned 64-bit int."""
    n = len(data)
    if n <= 16:
        return _hash_0_to_16(data)
    if n <= 32:
        return _hash_17_to_32(data)
    if n <= 64:
        return _hash_33_to_64(data)
    seed = 81
    x = seed
    y = (seed * K1 + 113) & MASK
    z = (_shift_mix((y * K2 + 113) & MASK) * K2) & MASK
    v, w = (0, 0), (0, 0)
    x = (x * K2 + _word(data, 0)) & MASK
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    i = 0
    while True:
        x = (_rotate((x + y + v[0] + _word(data, i + 8)) & MASK, 37) * K1) & MASK
        y = (_rotate((y + v[1] + _word(data, i + 48)) & MASK, 42) * K1) & MASK
        x ^= w[1]
        y = (y + v[0] + _word(data, i + 40)) & MASK
        z = (_rotate((z + w[0]) & MASK, 33) * K1) & MASK
        v = _weak32(data, i, (v[1] * K1) & MASK, (x + w[0]) & MASK)
        w = _weak32(data, i + 32, (z + w[1]) & MASK, (y + _word(data, i + 16)) & MASK)
        z, x = x, z
        i += 64
        if i == end:
            break
    mul = K1 + ((z & 0xFF) << 1)
    i = last64
    w = ((w[0] + ((n - 1) & 63)) & MASK, w[1])
    v = ((v[0] + w[0]) & MASK, v[1])
    w = ((w[0] + v[0]) & MASK, w[1])
    x = (_rotate((x + y + v[0] + _word(data, i + 8)) & MASK, 37) * mul) & MASK
    y = (_rotate((y + v[1] + _word(data, i + 48)) & MASK, 42) * mul) & MASK
    x ^= (w[1] * 9) & MASK
    y = (y + v[0] * 9 + _word(data, i + 40)) & MASK
    z = (_rotate((z + w[0]) & MASK, 33) * mul) & MASK
    v = _weak32(data, i, (v[1] * mul) & MASK, (x + w[0]) & MASK)
    w = _weak32(data, i + 32, (z + w[1]) & MASK, (y + _word(data, i + 16)) & MASK)
    z, x = x, z
    return _hash16((_hash16(v[0], w[0], mul) + _shift_mix(y) * K0 + z) & MASK,
                   (_hash16(v[1], w[1], mul) + x) & MASK, mul)


# -- SipHash-2-4 ----------------------------------------------------------------------------------
def _rotl(v: int, shift: int) -> int:
    return ((v << shift) | (v >> (64 - shift))) & MASK


def _sip_rounds(v: list, count: int) -> None:
    for _ in range(count):
        v[0] = (v[0] + v[1]) & MASK
        v[1] = _rotl(v[1], 13) ^ v[0]
        v[0] = _rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & MASK
        v[3] = _rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & MASK
        v[3] = _rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & MASK
        v[1] = _rotl(v[1], 17) ^ v[2]
        v[2] = _rotl(v[2], 32)


def siphash24(key: tuple, data: bytes) -> int:
    """SipHash-2-4 of ``data`` under the 128-bit key given as two 64-bit words ``(k0, k1)``
    (TensorFlow's ``StrongKeyedHash``), an unsigned 64-bit int."""
    k0, k1 = (int(k) & MASK for k in key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]
    n = len(data)
    tail = n - n % 8
    for i in range(0, tail, 8):
        m = _word(data, i)
        v[3] ^= m
        _sip_rounds(v, 2)
        v[0] ^= m
    last = ((n & 0xFF) << 56) | int.from_bytes(data[tail:], "little")
    v[3] ^= last
    _sip_rounds(v, 2)
    v[0] ^= last
    v[2] ^= 0xFF
    _sip_rounds(v, 4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


# -- the layer ------------------------------------------------------------------------------------
def _as_text(value) -> bytes:
    """A value's text as TensorFlow's ``as_string`` writes it (a float is truncated to an int first)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (float, numpy.floating)):
        value = int(value)
    return str(int(value)).encode("ascii")


def _is_text(inputs) -> bool:
    if isinstance(inputs, (str, bytes)):
        return True
    if isinstance(inputs, (list, tuple)):
        try:
            array = numpy.asarray(inputs)
        except ValueError:
            return False
        return array.dtype.kind in "USO"
    return isinstance(inputs, numpy.ndarray) and inputs.dtype.kind in "USO"


class Hashing(_EncodingLayer):
    """Hashes values into ``num_bins`` buckets, as Keras's layer (which hashes with TensorFlow):
    bucket ``Fingerprint64(text) % num_bins`` of each value's text, or, with ``salt`` (an int, or
    two), the keyed SipHash-2-4 of it (harder to collide on purpose). With ``mask_value``, that
    value goes to bucket 0 and the others to ``1 + hash % (num_bins - 1)``.

    Inputs: strings (NumPy arrays or lists of ``str``/``bytes``), or integers (hashed in decimal;
    floats are truncated first). ``output_mode``: ``"int"`` (bucket ids, int64 unless ``dtype`` says
    int32) or ``"one_hot"``, ``"multi_hot"``, ``"count"`` (see :class:`CategoryEncoding`). In a model,
    the layer takes integer inputs (gpunet's symbolic inputs are numeric). ``sparse=True`` is not
    supported.

    Example::

        Hashing(num_bins=3)(np.array([["A"], ["B"], ["C"]]))  # [[1], [0], [1]], as TensorFlow gives
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        dtype = kwargs.pop("dtype", None)
        if isinstance(dtype, dict):  # a serialized DTypePolicy
            dtype = dtype.get("config", {}).get("name")
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"Hashing: output_mode must be one of {list(OUTPUT_MODES)}, got {output_mode!r}")
        if output_mode == "int":
            dtype = "int64" if dtype is None else str(dtype)
            if dtype not in ("int32", "int64"):
                raise ValueError(f"Hashing: with output_mode='int', dtype must be 'int32' or 'int64', got {dtype!r}")
            super().__init__(**kwargs)
            self._ids_dtype = numpy.dtype(dtype)
        else:
            super().__init__(dtype=dtype, **kwargs)
            self._ids_dtype = None
        self.num_bins = check_positive_int(num_bins, "num_bins")
        if sparse:
            raise ValueError("Hashing: sparse=True is not supported by gpunet (dense outputs only)")
        if salt is None:
            self.salt = None
        elif isinstance(salt, (tuple, list)) and len(salt) == 2 and all(
                isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in salt):
            self.salt = [int(s) for s in salt]
        elif isinstance(salt, numbers.Integral) and not isinstance(salt, bool):
            self.salt = [int(salt), int(salt)]
        else:
            raise ValueError(f"Hashing: salt must be an int or a pair of ints, got {salt!r}")
        self.mask_value = mask_value
        self.output_mode = output_mode
        self.sparse = False

    @property
    def output_dtype(self):
        return self._ids_dtype if self.output_mode == "int" else self.compute_dtype

    def bucket(self, value) -> int:
        """The bucket of one value (before the mask shift)."""
        text = _as_text(value)
        bins = self.num_bins - 1 if self.mask_value is not None and self.num_bins > 1 else self.num_bins
        digest = fingerprint64(text) if self.salt is None else siphash24(self.salt, text)
        return digest % bins

    def hash_values(self, values: numpy.ndarray) -> numpy.ndarray:
        """Bucket ids (int64) of a host array of values, each distinct value hashed once."""
        values = numpy.asarray(values)
        if values.dtype.kind not in "USOiufb":
            raise TypeError(f"Hashing {self.name!r}: inputs must be strings or numbers, got dtype {values.dtype}")
        if values.dtype.kind == "b":
            values = values.astype(numpy.int64)
        distinct, inverse = numpy.unique(values.reshape(-1), return_inverse=True)
        distinct = distinct.tolist()
        buckets = numpy.array([self.bucket(v) for v in distinct], dtype=numpy.int64)
        if self.mask_value is not None and self.num_bins > 1:
            mask = _as_text(self.mask_value) if isinstance(self.mask_value, (str, bytes)) else self.mask_value
            hit = numpy.array([(_as_text(v) if isinstance(v, (str, bytes)) else v) == mask for v in distinct])
            buckets = numpy.where(hit, 0, buckets + 1)
        return buckets[inverse].reshape(values.shape)

    def __call__(self, inputs, *args, **kwargs):
        if _is_text(inputs):  # strings never become Tensors: hash them on the host first
            indices = Tensor(backend.to_device(self.hash_values(numpy.asarray(inputs))))
            return self._encode(indices)
        return super().__call__(inputs, *args, **kwargs)

    def _encode(self, indices):
        if self.output_mode == "one_hot" and indices.ndim > 0 and indices.shape[-1] == 1:
            indices = ops.squeeze(indices, -1)
        return encode_categories(indices, self.output_mode, self.num_bins, self.output_dtype)

    def call(self, x):
        return self._encode(Tensor(backend.on_device_of(self.hash_values(backend.to_host(x.data)), x.data)))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        return (*input_shape[:-1], self.num_bins) if input_shape else (self.num_bins,)

    def get_config(self):
        config = {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                  "output_mode": self.output_mode, "sparse": self.sparse}
        if self.output_mode == "int":
            config["dtype"] = self.output_dtype.name
        return config
