"""What IMDB's and Reuters' loaders do to the stored word-id sequences, as Keras documents it.

The files hold each text as a list of word ids, 1 for the most frequent word. Keras's
``load_data`` then, in this order:

1. shuffles with ``numpy.random.RandomState(seed)`` (IMDB: the training reviews, then the test
   reviews, with the same generator; Reuters: all the newswires once);
2. adds ``index_from`` to every id and puts ``start_char`` in front of each text (when
   ``start_char`` is None, only the shift);
3. with ``maxlen``, keeps only the texts *shorter* than ``maxlen`` (start mark included);
4. with no ``num_words``, takes the largest id of all the texts as ``num_words``;
5. replaces every id outside ``[skip_top, num_words)`` by ``oov_char``, or drops it when
   ``oov_char`` is None (note that with no ``num_words``, the largest id itself is outside);
6. returns the texts as 1-D object arrays of lists of ints.

The texts are handled here as one flat array of ids with their lengths, so each step is a few
NumPy operations rather than a Python loop over millions of ids.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["Texts", "check_arguments"]


def _int_or_none(value, name: str, minimum: int = 0):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} or None, got {value!r}")
    return int(value)


def check_arguments(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from) -> dict:
    """The arguments shared by IMDB's and Reuters' ``load_data``, checked (ValueError naming one)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    skip_top = _int_or_none(skip_top, "skip_top")
    return {"num_words": _int_or_none(num_words, "num_words"), "skip_top": 0 if skip_top is None else skip_top,
            "maxlen": _int_or_none(maxlen, "maxlen"), "start_char": _int_or_none(start_char, "start_char"),
            "oov_char": _int_or_none(oov_char, "oov_char"), "index_from": _int_or_none(index_from, "index_from") or 0}


class Texts:
    """Texts of word ids as one flat int64 array ``ids`` and the ``lengths`` of the texts."""

    def __init__(self, ids, lengths):
        self.ids, self.lengths = ids, lengths

    @classmethod
    def from_array(cls, sequences, where: str) -> Texts:
        """The texts of a stored 1-D array of sequences (lists or arrays of non-negative ints)."""
        if not isinstance(sequences, np.ndarray) or sequences.ndim not in (1, 2):
            raise ValueError(f"{where}: expected a 1-D array of word-id sequences, got {type(sequences).__name__} "
                             f"of shape {getattr(sequences, 'shape', None)}")
        parts = [np.asarray(s) for s in sequences]
        if any(p.ndim != 1 or (p.size and p.dtype.kind not in "iu") for p in parts):
            raise ValueError(f"{where}: every sequence must be a list of integer word ids")
        lengths = np.array([p.size for p in parts], dtype=np.int64)
        ids = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        if ids.size and ids.min() < 0:
            raise ValueError(f"{where}: word ids must be >= 0, found {int(ids.min())}")
        return cls(ids, lengths)

    def __len__(self) -> int:
        return int(self.lengths.size)

    def _starts(self):
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def take(self, order) -> Texts:
        """The texts at ``order`` (a permutation, or a boolean mask of those kept)."""
        order = np.flatnonzero(order) if np.asarray(order).dtype == bool else np.asarray(order)
        lengths = self.lengths[order]
        starts = self._starts()[order]
        index = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
        return Texts(self.ids[index.astype(np.int64)], lengths)

    def joined(self, other: Texts) -> Texts:
        return Texts(np.concatenate([self.ids, other.ids]), np.concatenate([self.lengths, other.lengths]))

    def split(self, at: int) -> tuple:
        cut = int(self.lengths[:at].sum())
        return Texts(self.ids[:cut], self.lengths[:at]), Texts(self.ids[cut:], self.lengths[at:])

    def marked(self, start_char, index_from: int) -> Texts:
        """Every id shifted by ``index_from``, and ``start_char`` in front of each text."""
        ids = self.ids + index_from
        if start_char is None:
            return Texts(ids, self.lengths)
        return Texts(np.insert(ids, self._starts(), start_char), self.lengths + 1)

    def limited(self, num_words: int, skip_top: int, oov_char) -> Texts:
        """Ids outside ``[skip_top, num_words)`` replaced by ``oov_char`` (dropped when None)."""
        inside = (self.ids >= skip_top) & (self.ids < num_words)
        if oov_char is not None:
            return Texts(np.where(inside, self.ids, oov_char), self.lengths)
        text_of = np.repeat(np.arange(len(self)), self.lengths)
        return Texts(self.ids[inside], np.bincount(text_of[inside], minlength=len(self)).astype(np.int64))

    def shorter_than(self, maxlen: int) -> np.ndarray:
        return self.lengths < maxlen

    def largest_id(self) -> int:
        return int(self.ids.max()) if self.ids.size else 0

    def to_objects(self) -> np.ndarray:
        """A 1-D object array of Python lists of ints (Keras's form)."""
        out = np.empty(len(self), dtype=object)
        for i, part in enumerate(np.split(self.ids, np.cumsum(self.lengths)[:-1]) if len(self) else []):
            out[i] = part.tolist()
        return out
