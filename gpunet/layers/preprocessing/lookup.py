"""``StringLookup`` and ``IntegerLookup``: tokens to indices (and back), with Keras 3's vocabulary rules.

Both layers hold a vocabulary (a list of tokens) and map every input token to its index, on the
host in plain Python and NumPy: a GPU holds no strings, and a dictionary lookup is no work for
one. The index space is Keras's::

    index 0                          the mask token (only with ``mask_token`` and ``output_mode="int"``)
    next num_oov_indices indices     out-of-vocabulary (OOV) tokens
    then                             the vocabulary, in its order

``adapt(data)`` learns the vocabulary from data: tokens sorted by how often they occur (most
frequent first), ties broken by the tokens themselves in descending order (``"b"`` before ``"a"``,
``2`` before ``1``), the mask and OOV tokens left out, cut to ``max_tokens`` entries in all. In
``"tf_idf"`` mode it also counts, per token, the documents (rows of the data) it appears in, and
keeps ``idf = log(1 + documents / (1 + document_frequency))``; the OOV indices get the mean of
those weights.

Outputs: ``"int"`` the indices (int64, the input's shape); ``"one_hot"`` one row per token (a
last axis of 1 is replaced by the vocabulary axis); ``"multi_hot"``, ``"count"`` and ``"tf_idf"``
one row per document (the last axis is reduced): whether each index occurs, how often, and how
often times its idf weight. The mask token counts nowhere in these modes. Non-``"int"`` outputs
are in the float dtype (``gpunet.backend.floatx()``), ready for a Dense layer.
"""

from __future__ import annotations

import codecs
import collections
import os

import numpy

from ... import backend
from ...autograd import Tensor, as_tensor
from ..base import Layer

__all__ = ["StringLookup", "IntegerLookup"]

_OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_ALIASES = {"binary": "multi_hot", "tf-idf": "tf_idf"}


def check_output_mode(owner: str, output_mode) -> str:
    """``output_mode`` with Keras's aliases resolved (``"binary"``, ``"tf-idf"``), or a ValueError."""
    output_mode = _ALIASES.get(output_mode, output_mode)
    if output_mode not in _OUTPUT_MODES:
        raise ValueError(f"{owner}: output_mode must be one of {', '.join(map(repr, _OUTPUT_MODES))}, "
                         f"got {output_mode!r}")
    return output_mode


def check_optional_int(owner: str, name: str, value, low: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < low):
        raise ValueError(f"{owner}: {name} must be None or an integer >= {low}, got {value!r}")


def adapt_from(layer, data, steps, tokens_of) -> None:
    """A vocabulary layer's ``adapt``: ``data`` whole (an array or list: ``tokens_of`` turns it into
    token rows, a 1-D one being one token per sample) or an iterable of batches (at most
    ``steps``), each given to ``update_state``; then ``finalize_state``."""
    check_optional_int(type(layer).__name__, "steps", steps, 1)
    layer.reset_state()
    if isinstance(data, (list, tuple, numpy.ndarray, Tensor)) or backend.is_device_array(data):
        values = tokens_of(data)
        layer.update_state(values.reshape(-1, 1) if values.ndim <= 1 else values)
    elif hasattr(data, "__iter__"):
        for i, batch in enumerate(data):
            if steps is not None and i >= steps:
                break
            layer.update_state(batch)
    else:
        raise TypeError(f"{type(layer).__name__}.adapt: data must be an array, a list or an iterable of batches, "
                        f"got {type(data).__name__}")
    layer.finalize_state()


def host_values(x):
    """The values of ``x`` (a Tensor, array, list or scalar) as a host NumPy array."""
    if isinstance(x, Tensor):
        x = x.data
    return backend.to_host(x) if backend.is_device_array(x) else numpy.asarray(x)


def encode(indices, output_mode: str, depth: int, idf_weights=None):
    """Indices (a host int64 array; negative entries count nowhere) as ``output_mode`` asks:
    one-hot rows, or per document (the last axis) multi-hot, count or tf-idf rows of ``depth``
    entries, in the float dtype."""
    dtype = backend.floatx()
    indices = numpy.asarray(indices, dtype=numpy.int64)
    if indices.ndim == 0:
        indices = indices.reshape(1)
    valid = (indices >= 0) & (indices < depth)
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices, valid = indices[..., 0], valid[..., 0]
        out = numpy.zeros((*indices.shape, depth), dtype=dtype)
        out.reshape(-1, depth)[numpy.flatnonzero(valid), indices.reshape(-1)[valid.reshape(-1)]] = 1
        return out
    rows = indices.reshape(-1, indices.shape[-1])
    keep = valid.reshape(rows.shape)
    flat = (rows + depth * numpy.arange(rows.shape[0])[:, None])[keep]
    counts = numpy.bincount(flat, minlength=rows.shape[0] * depth).reshape(rows.shape[0], depth).astype(dtype)
    if output_mode == "multi_hot":
        counts = numpy.minimum(counts, 1)
    elif output_mode == "tf_idf":
        counts = counts * numpy.asarray(idf_weights, dtype=dtype)
    return counts.reshape(*indices.shape[:-1], depth)


def inverse_document_frequency(document_counts, documents: int):
    """Keras's idf weight of each token: ``log(1 + documents / (1 + document_frequency))``."""
    return numpy.log(1.0 + documents / (1.0 + numpy.asarray(document_counts, dtype=numpy.float64)))


class _IndexLookup(Layer):
    """What StringLookup and IntegerLookup share: the vocabulary, adapt, the lookup, the
    encodings, the configuration, and the vocabulary file kept in a ``.keras`` archive's assets.
    Subclasses say how a token is read (:meth:`_token`) and how tokens form an array."""

    supports_recording = False  # host-side dictionary lookups, not gpunet ops
    call_takes_training = False
    config_keys = ("vocabulary_size", "oov_method", "vocabulary_dtype")  # Keras's config keys taken by **kwargs

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary=None, idf_weights=None,
                 invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False, oov_method="floormod",
                 salt=None, name=None, **kwargs):
        owner = type(self).__name__
        frozen_size = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        kwargs.pop("dtype", None)  # Keras's lookups ignore a dtype: their outputs are indices or counts
        check_optional_int(owner, "max_tokens", max_tokens, 2)
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, (int, numpy.integer)) or num_oov_indices < 0:
            raise ValueError(f"{owner}: num_oov_indices must be an integer >= 0, got {num_oov_indices!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{owner}: pad_to_max_tokens=True needs max_tokens, got max_tokens=None")
        output_mode = check_output_mode(owner, output_mode)
        if invert and output_mode != "int":
            raise ValueError(f"{owner}: invert=True needs output_mode='int', got output_mode={output_mode!r}")
        if sparse:
            raise ValueError(f"{owner}: sparse=True is not supported by gpunet (Keras has it on TensorFlow only)")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{owner}: idf_weights is only for output_mode='tf_idf', got output_mode={output_mode!r}")
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ValueError(f"{owner}: with a vocabulary in output_mode='tf_idf', idf_weights must be given too")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{owner}: oov_method must be 'floormod' or 'farmhash', got {oov_method!r}")
        self._check_hashing(num_oov_indices, oov_method, salt)
        super().__init__(name=name, **{k: v for k, v in kwargs.items() if k != "trainable"})
        self.invert = bool(invert)
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.sparse = False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.oov_method = oov_method
        self.salt = salt
        self.input_vocabulary = None if isinstance(vocabulary, (str, os.PathLike)) else _listed(vocabulary)
        self.input_idf_weights = _listed(idf_weights)
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._frozen_vocab_size = frozen_size
        self._tokens: list = []
        self._index: dict = {}
        self.idf_weights = None  # host float array of the output's depth, in "tf_idf" mode
        self.reset_state()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # -- what subclasses define ---------------------------------------------------------------
    def _check_hashing(self, num_oov_indices, oov_method, salt) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _token(self, value):  # pragma: no cover - interface
        """One token of the vocabulary's kind (a str, or an int), or a TypeError."""
        raise NotImplementedError

    def _tokens_of(self, values) -> numpy.ndarray:  # pragma: no cover - interface
        """A host array of input tokens in the vocabulary's kind (str or int64)."""
        raise NotImplementedError

    def _token_array(self, tokens, shape) -> numpy.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _oov_buckets(self, tokens) -> numpy.ndarray:  # pragma: no cover - interface
        """The OOV index (from 0) of each token, when there are several OOV indices."""
        raise NotImplementedError

    # -- the index space ----------------------------------------------------------------------
    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The size of the index space: the vocabulary plus the mask and OOV indices (Keras's)."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary, with a token's position equal to its index (mask and OOV tokens
        first) or, with ``include_special_tokens=False``, the learned tokens only."""
        if not include_special_tokens:
            return list(self._tokens)
        start = [self.oov_token] * self._token_start_index()
        if self.mask_token is not None and self.output_mode == "int":
            start[0] = self.mask_token
        return start + list(self._tokens)

    def _depth(self) -> int | None:
        return self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size

    def _record_vocabulary_size(self) -> None:
        """Keras's rule: in an output mode whose width is the vocabulary's size (no
        ``pad_to_max_tokens``), that size is fixed once known."""
        if self.output_mode == "int" or self.pad_to_max_tokens:
            self._frozen_vocab_size = self.vocabulary_size()
            return
        if self._frozen_vocab_size is not None and self._frozen_vocab_size != self.vocabulary_size():
            raise RuntimeError(f"{type(self).__name__} {self.name!r}: with output_mode={self.output_mode!r} and "
                               "pad_to_max_tokens=False the vocabulary size cannot change once set (it gives the "
                               f"output's width): it was {self._frozen_vocab_size}, the new vocabulary gives "
                               f"{self.vocabulary_size()}")
        self._frozen_vocab_size = self.vocabulary_size()

    # -- setting the vocabulary -----------------------------------------------------------------
    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Set the vocabulary (a list, tuple or 1-D array of tokens, or the path of a text file
        with one token a line) and, in ``"tf_idf"`` mode, the idf weights (one per entry of
        ``vocabulary``). A list may start with the mask and OOV tokens in their places, as
        :meth:`get_vocabulary` returns them; they are recognised and set aside."""
        owner = type(self).__name__
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{owner}: idf_weights must be given with the vocabulary when output_mode='tf_idf'")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"{owner}: idf_weights is only for output_mode='tf_idf', got output_mode={self.output_mode!r}")
        if isinstance(vocabulary, (str, os.PathLike)):
            if self.output_mode == "tf_idf":
                raise ValueError(f"{owner}: output_mode='tf_idf' cannot read its vocabulary from a file")
            tokens = self._read_vocabulary_file(os.fspath(vocabulary))
            self._set_tokens(tokens)
            self._record_vocabulary_size()
            return
        if isinstance(vocabulary, Tensor):
            vocabulary = host_values(vocabulary)
        if isinstance(vocabulary, numpy.ndarray):
            if vocabulary.ndim != 1:
                raise ValueError(f"{owner}: vocabulary must be one-dimensional, got shape {vocabulary.shape}")
            vocabulary = vocabulary.tolist()
        if not isinstance(vocabulary, (list, tuple)):
            raise TypeError(f"{owner}: vocabulary must be a list, tuple, 1-D array or file path, "
                            f"got {type(vocabulary).__name__}")
        vocabulary = [self._token(v) for v in vocabulary]
        if not vocabulary:
            raise ValueError(f"{owner}: vocabulary is empty")
        start = self._token_start_index()
        special = [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices
        found_special = vocabulary[:start] == special
        tokens = vocabulary[start:] if found_special else vocabulary
        self._check_tokens(tokens, "vocabulary")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(f"{owner}: vocabulary holds the mask token {self.mask_token!r} at a place other than "
                             f"the start: give the vocabulary without the special tokens, or starting with {special}")
        if self.invert and self.oov_token is not None and self.oov_token in tokens:
            raise ValueError(f"{owner}: vocabulary holds the OOV token {self.oov_token!r} at a place other than the "
                             f"start (invert=True): give the vocabulary without the special tokens, or starting with "
                             f"{special}")
        weights = None
        if self.output_mode == "tf_idf":
            weights = numpy.asarray(host_values(idf_weights), dtype=numpy.float64)
            if weights.ndim != 1 or len(weights) != len(vocabulary):
                raise ValueError(f"{owner}: idf_weights must be 1-D with one weight per vocabulary entry "
                                 f"({len(vocabulary)}), got shape {weights.shape}")
        self._set_tokens(tokens)
        self._record_vocabulary_size()
        if weights is not None:
            front = 0 if found_special else start
            self._set_idf(weights, front, float(numpy.mean(weights)))

    def _set_idf(self, weights, front: int, front_value: float) -> None:
        """The idf weights of the index space: ``front`` OOV entries of ``front_value`` first, and
        zeros up to ``max_tokens`` with ``pad_to_max_tokens``."""
        back = self.max_tokens - front - len(weights) if self.pad_to_max_tokens else 0
        padded = numpy.concatenate([numpy.full(front, front_value), weights, numpy.zeros(max(back, 0))])
        self.idf_weights = padded.astype(backend.floatx())

    def _set_tokens(self, tokens) -> None:
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index = {token: start + i for i, token in enumerate(self._tokens)}

    def _read_vocabulary_file(self, path: str) -> list:
        owner = type(self).__name__
        if not os.path.isfile(path):
            raise ValueError(f"{owner}: the vocabulary file {path!r} does not exist")
        with open(path, encoding=getattr(self, "encoding", "utf-8"), newline="") as handle:
            lines = handle.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        tokens = [self._token(line) for line in lines]
        self._check_tokens(tokens, f"the vocabulary file {path!r}")
        return tokens

    def _check_tokens(self, tokens, what: str) -> None:
        """Each token once, and no more indices than ``max_tokens``."""
        owner = type(self).__name__
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError(f"{owner}: {what} repeats the token(s) {repeated[:10]}; each token must appear once")
        size = self._token_start_index() + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(f"{owner}: {what} gives {size} indices (with the mask and OOV ones), more than "
                             f"max_tokens={self.max_tokens}")

    # -- adapt ----------------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Forget what :meth:`update_state` counted."""
        self._token_counts: collections.Counter = collections.Counter()
        self._document_counts: collections.Counter = collections.Counter()
        self._documents = 0

    def update_state(self, data) -> None:
        """Count the tokens of one batch: each row of ``data`` is a document (a 1-D array is one
        document, a scalar one token)."""
        if self._has_input_vocabulary:
            raise ValueError(f"{type(self).__name__} {self.name!r}: cannot adapt a layer whose vocabulary was given "
                             "with the vocabulary argument")
        tokens = self._tokens_of(data)
        if tokens.ndim == 0:
            tokens = tokens.reshape(1)
        if tokens.ndim == 1:
            tokens = tokens.reshape(1, -1)
        self._count_rows([row.reshape(-1).tolist() for row in tokens])

    def _count_rows(self, rows) -> None:
        """Count a batch given as lists of tokens, one list per document."""
        for row in rows:
            self._token_counts.update(row)
        if self.output_mode == "tf_idf":
            for row in rows:
                self._document_counts.update(set(row))
            self._documents += len(rows)

    def finalize_state(self) -> None:
        """Turn the counts into the vocabulary (see the module's docstring)."""
        if self._has_input_vocabulary or not self._token_counts:
            self._record_vocabulary_size()
            return
        counts = dict(self._token_counts)
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        ordered = sorted(counts, key=lambda token: (counts[token], token), reverse=True)
        if self.max_tokens is not None:
            ordered = ordered[:max(self.max_tokens - self._token_start_index(), 0)]
        self._set_tokens(ordered)
        if self.output_mode == "tf_idf":
            idf = inverse_document_frequency([self._document_counts[t] for t in ordered], self._documents)
            idf = idf.astype(backend.floatx())
            self._set_idf(idf, self._token_start_index(), float(numpy.mean(idf)) if len(idf) else 0.0)
        self.reset_state()
        self._record_vocabulary_size()

    def adapt(self, data, steps=None) -> None:
        """Learn the vocabulary from ``data``: an array or list (each row a document; a 1-D
        array is one token per sample), or an iterable of such batches (at most ``steps`` of
        them). See the module's docstring for the order."""
        adapt_from(self, data, steps, self._tokens_of)

    # -- calling --------------------------------------------------------------------------------
    def lookup(self, tokens) -> numpy.ndarray:
        """The indices of host tokens (int64; -1 for a mask token outside ``"int"`` mode, which
        then counts nowhere)."""
        unique, inverse = _unique(tokens)
        oov = self._oov_start_index() if self.num_oov_indices == 1 else -2
        ids = numpy.array([self._index.get(t, oov) for t in unique.tolist()], dtype=numpy.int64)
        if self.mask_token is not None:
            ids[numpy.array([t == self.mask_token for t in unique.tolist()], dtype=bool)] = (
                0 if self.output_mode == "int" else -1)
        missing = ids == -2
        if missing.any() and self.num_oov_indices == 0:
            raise ValueError(f"{type(self).__name__} {self.name!r}: with num_oov_indices=0 every input must be in the "
                             f"vocabulary; found {unique[missing][:10].tolist()} (set num_oov_indices=1)")
        if missing.any():
            ids[missing] = self._oov_start_index() + self._oov_buckets(unique[missing])
        return ids[inverse].reshape(tokens.shape)

    def _invert(self, indices) -> numpy.ndarray:
        reverse = {i: t for t, i in self._index.items()}
        if self.mask_token is not None:
            reverse[0] = self.mask_token
        unique, inverse = _unique(indices)
        found = [reverse.get(int(i), self.oov_token) for i in unique.tolist()]
        return self._token_array([found[j] for j in inverse.tolist()], indices.shape)

    def call(self, inputs):
        values = host_values(inputs)
        if self.invert:
            if values.dtype.kind not in "iu" and not (values.dtype.kind == "f" and numpy.all(values == numpy.round(values))):
                raise TypeError(f"{type(self).__name__} {self.name!r} (invert=True) takes integer indices, got dtype "
                                f"{values.dtype}")
            return Tensor(self._invert(values.astype(numpy.int64)))
        indices = self.lookup(self._tokens_of(values))
        if self.output_mode == "int":
            return as_tensor(backend.to_device(indices))
        depth = self._depth()
        if depth is None:
            raise RuntimeError(f"{type(self).__name__} {self.name!r}: with output_mode={self.output_mode!r} and "
                               "pad_to_max_tokens=False, set the vocabulary (the vocabulary argument, adapt or "
                               "set_vocabulary) before calling the layer")
        return as_tensor(backend.to_device(encode(indices, self.output_mode, depth, self.idf_weights)))

    def compute_output_shape(self, input_shape) -> tuple:
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = self._depth()
        if self.output_mode == "one_hot":
            return (*input_shape[:-1], depth) if len(input_shape) > 1 and input_shape[-1] == 1 else (*input_shape, depth)
        return (*input_shape[:-1], depth)

    def output_dtype(self) -> str:
        if self.invert:
            return self.token_dtype
        return "int64" if self.output_mode == "int" else backend.floatx().name

    def compute_output_spec(self, *args, **kwargs):
        from ..symbolic import KerasTensor  # noqa: PLC0415

        return KerasTensor(self.compute_output_shape(args[0].shape), self.output_dtype())

    # -- configuration and assets ---------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "invert": self.invert, "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token, "mask_token": self.mask_token, "output_mode": self.output_mode,
            "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens, "vocabulary_dtype": self.token_dtype,
            "idf_weights": self.input_idf_weights, "vocabulary": self.input_vocabulary,
            "vocabulary_size": self._frozen_vocab_size, "oov_method": self.oov_method, "salt": self.salt,
        })
        return config

    def save_assets(self, dir_path) -> None:
        """Write the vocabulary (special tokens included, one a line) as ``vocabulary.txt`` in
        ``dir_path``, as Keras 3 keeps a learned vocabulary in a ``.keras`` archive; a vocabulary
        given as a list is in the configuration instead."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8", newline="") as handle:
            handle.write("\n".join(str(token) for token in self.get_vocabulary(include_special_tokens=True)))

    def load_assets(self, dir_path) -> None:
        """Read what :meth:`save_assets` wrote (a ``.keras`` archive of Keras's or gpunet's)."""
        if self.input_vocabulary is not None:
            return
        path = os.path.join(dir_path, "vocabulary.txt")
        if not os.path.isfile(path):
            raise ValueError(f"{type(self).__name__} {self.name!r}: the archive has no vocabulary.txt for this layer")
        with open(path, encoding="utf-8", newline="") as handle:
            lines = handle.read().split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        idf = self.idf_weights if self.output_mode == "tf_idf" else None
        if idf is not None:
            idf = idf[:len(lines)]
        self.set_vocabulary(lines, idf_weights=idf)

    def save_own_variables(self, store) -> None:
        """Keras's ``idf_weights`` entry of the layer's weights group, in ``"tf_idf"`` mode."""
        if self.output_mode == "tf_idf" and self.idf_weights is not None:
            store["idf_weights"] = numpy.asarray(self.idf_weights)

    def load_own_variables(self, store) -> None:
        if self.output_mode == "tf_idf" and "idf_weights" in store:
            self.idf_weights = numpy.asarray(store["idf_weights"], dtype=backend.floatx())


def _unique(values):
    """The distinct values of an array and, per entry (flattened), the position of its value:
    each distinct token is looked up once, however often it occurs."""
    flat = values.reshape(-1)
    return numpy.unique(flat, return_inverse=True) if flat.size else (flat, numpy.zeros(0, numpy.int64))


def _listed(value):
    """A vocabulary or weights argument as a plain list (for the configuration), None kept."""
    if value is None:
        return None
    if isinstance(value, Tensor) or backend.is_device_array(value):
        value = host_values(value)
    return value.tolist() if isinstance(value, numpy.ndarray) else list(value)


class StringLookup(_IndexLookup):
    """Map strings to integer indices (or back, with ``invert=True``), Keras 3's ``StringLookup``.

    Args:
        max_tokens: the most indices (vocabulary plus mask and OOV indices), or None.
        num_oov_indices: indices for out-of-vocabulary strings (0: such a string is an error;
            gpunet supports 0 or 1 for strings, Keras's hash buckets beyond that need FarmHash).
        mask_token: a string mapped to index 0 (``"int"`` mode) or to nothing (other modes).
        oov_token: the string ``invert=True`` returns for an unknown index.
        vocabulary: a list of strings, or the path of a text file with one string a line.
        idf_weights: with ``output_mode="tf_idf"`` and a vocabulary, one weight per entry.
        invert: map indices to strings.
        output_mode: ``"int"``, ``"one_hot"``, ``"multi_hot"``, ``"count"`` or ``"tf_idf"``.
        pad_to_max_tokens: outputs ``max_tokens`` wide, whatever the vocabulary's size.
        sparse: False only (sparse outputs are TensorFlow's).
        encoding: how ``bytes`` inputs are decoded.

    Example::

        layer = gpunet.layers.StringLookup(vocabulary=["a", "b", "c"])
        layer(numpy.array([["a", "c"], ["d", "b"]]))   # [[1, 3], [0, 2]]: "d" is OOV, index 0
    """

    token_dtype = "string"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, **kwargs):
        vocabulary_dtype = kwargs.pop("vocabulary_dtype", "string")
        if vocabulary_dtype != "string":
            raise ValueError(f"StringLookup: vocabulary_dtype must be 'string', got {vocabulary_dtype!r}")
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise ValueError(f"StringLookup: encoding must name a text codec such as 'utf-8', got {encoding!r}") from None
        self.encoding = encoding
        for key, value in (("mask_token", mask_token), ("oov_token", oov_token)):
            if value is not None and not isinstance(value, (str, bytes)):
                raise TypeError(f"StringLookup: {key} must be a string or None, got {value!r}")
        mask_token = mask_token.decode(encoding) if isinstance(mask_token, bytes) else mask_token
        oov_token = oov_token.decode(encoding) if isinstance(oov_token, bytes) else oov_token
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, salt=salt, name=name, **kwargs)

    def _check_hashing(self, num_oov_indices, oov_method, salt) -> None:
        if num_oov_indices > 1:
            raise ValueError(f"StringLookup: num_oov_indices={num_oov_indices} is not supported by gpunet (Keras "
                             "spreads unknown strings over several indices with TensorFlow's FarmHash); use 0 or 1")
        if salt is not None:
            raise ValueError("StringLookup: salt is not supported by gpunet (it seeds TensorFlow's string hashing)")

    def _token(self, value):
        if isinstance(value, bytes):
            return value.decode(self.encoding)
        if isinstance(value, (str, numpy.str_)):
            return str(value)
        raise TypeError(f"StringLookup: tokens must be strings, got {value!r}")

    def _tokens_of(self, values) -> numpy.ndarray:
        values = host_values(values)
        if values.dtype.kind == "U":
            return values
        if values.dtype.kind == "S":
            return numpy.char.decode(values, self.encoding)
        if values.dtype.kind == "O" and backend.is_text(values):
            return numpy.array([self._token(v) for v in values.reshape(-1).tolist()], dtype=str).reshape(values.shape) \
                if values.size else values.astype(str)
        raise TypeError(f"StringLookup {self.name!r} takes strings, got an array of dtype {values.dtype}")

    def _token_array(self, tokens, shape) -> numpy.ndarray:
        return numpy.array(tokens, dtype=str).reshape(shape) if tokens else numpy.zeros(shape, dtype=str)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["vocabulary_dtype"]
        config["encoding"] = self.encoding
        return config


class IntegerLookup(_IndexLookup):
    """Map integers (ids, categories) to contiguous indices (or back), Keras 3's ``IntegerLookup``.

    The arguments are :class:`StringLookup`'s with integer tokens (``oov_token=-1``), plus
    ``vocabulary_dtype`` (``"int64"`` only, as in Keras) and ``oov_method``: with several OOV
    indices an unknown integer ``v`` goes to OOV index ``v mod num_oov_indices`` (``"floormod"``,
    Keras's default; ``"farmhash"`` is not supported).

    Example::

        layer = gpunet.layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
        layer(numpy.array([[12, 1138, 42], [42, 1000, 36]]))   # [[1, 3, 4], [4, 0, 2]]
    """

    token_dtype = "int64"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError(f"IntegerLookup: vocabulary_dtype must be 'int64' (Keras's only one), got {vocabulary_dtype!r}")
        for key, value in (("mask_token", mask_token), ("oov_token", oov_token)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, numpy.integer))):
                raise TypeError(f"IntegerLookup: {key} must be an integer or None, got {value!r}")
        super().__init__(max_tokens, num_oov_indices, None if mask_token is None else int(mask_token),
                         None if oov_token is None else int(oov_token), vocabulary=vocabulary, idf_weights=idf_weights,
                         invert=invert, output_mode=output_mode, sparse=sparse, pad_to_max_tokens=pad_to_max_tokens,
                         oov_method=oov_method, salt=salt, name=name, **kwargs)

    def _check_hashing(self, num_oov_indices, oov_method, salt) -> None:
        if oov_method != "floormod":
            raise ValueError("IntegerLookup: oov_method='farmhash' is not supported by gpunet (it is TensorFlow's "
                             "string hash); use 'floormod'")
        if salt is not None:
            raise ValueError("IntegerLookup: salt needs oov_method='farmhash'; got salt with oov_method='floormod'")

    def _token(self, value):
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise TypeError(f"IntegerLookup: tokens must be integers, got {value!r}") from None
        if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, (int, numpy.integer)):
            if isinstance(value, (float, numpy.floating)) and float(value).is_integer():
                return int(value)
            raise TypeError(f"IntegerLookup: tokens must be integers, got {value!r}")
        return int(value)

    def _tokens_of(self, values) -> numpy.ndarray:
        values = host_values(values)
        if values.dtype.kind in "iu":
            return values.astype(numpy.int64)
        if values.dtype.kind == "f" and numpy.all(numpy.isfinite(values)) and numpy.all(values == numpy.round(values)):
            return values.astype(numpy.int64)  # integer ids that a float model input carried
        raise TypeError(f"IntegerLookup {self.name!r} takes integers, got an array of dtype {values.dtype}"
                        + (" with non-integer values" if values.dtype.kind == "f" else ""))

    def _oov_buckets(self, tokens) -> numpy.ndarray:
        return numpy.mod(numpy.asarray(tokens, dtype=numpy.int64), self.num_oov_indices)

    def _token_array(self, tokens, shape) -> numpy.ndarray:
        return numpy.array(tokens, dtype=numpy.int64).reshape(shape)
