"""``TextVectorization``: strings to token indices or per-document counts, Keras 3's layer.

Each input string goes through four steps, on the host in plain Python:

1. **standardize**: ``"lower_and_strip_punctuation"`` (the default) lowercases ASCII letters (as
   TensorFlow's ``tf.strings.lower``, which Keras calls: other letters are kept) and deletes the
   32 ASCII punctuation characters ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~`` (Keras's regular
   expression); ``"lower"`` and ``"strip_punctuation"`` do one of the two; None nothing; a
   callable receives the batch as a NumPy ``str`` array and returns the standardized strings.
2. **split**: ``"whitespace"`` (Python's ``str.split()``: runs of whitespace, none at the ends),
   ``"character"`` (one token per Unicode code point), None (each string is one token), or a
   callable that receives the standardized batch (a 1-D NumPy ``str`` array) and returns one
   list of tokens per string.
3. **ngrams**: with ``ngrams=n`` the tokens become all n-grams for widths 1..n (a tuple gives the
   widths), width by width, each n-gram its tokens joined by one space (a sequence shorter than
   a width gives none of that width).
4. **lookup**: a :class:`~gpunet.layers.StringLookup` with mask token ``""`` and OOV token
   ``"[UNK]"``: in ``"int"`` mode index 0 is padding and 1 is OOV; the other modes count per
   string (``"multi_hot"``, ``"count"``, ``"tf_idf"``).

In ``"int"`` mode the rows are padded with 0 (at the end) to the longest row of the batch, or cut
or padded to ``output_sequence_length`` when it is set, as Keras does.
"""

from __future__ import annotations

import string

import numpy

from ... import backend
from ...autograd import as_tensor
from ..base import Layer
from .lookup import StringLookup, adapt_from, check_optional_int, check_output_mode, encode, host_values

__all__ = ["TextVectorization"]

_LOWER_ASCII = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")


def _standardized(text: str, mode: str) -> str:
    if mode in ("lower", "lower_and_strip_punctuation"):
        text = text.translate(_LOWER_ASCII)
    if mode in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = text.translate(_NO_PUNCTUATION)
    return text


def ngram_tokens(tokens: list, widths) -> list:
    """All n-grams of ``tokens`` for each width in ``widths`` (in that order), joined by a space."""
    return [" ".join(tokens[i:i + n]) for n in widths for i in range(len(tokens) - n + 1)]


class TextVectorization(Layer):
    """Turn strings into sequences of token indices, or into one vector per string.

    Args:
        max_tokens: the most indices, padding and OOV included (None: no limit).
        standardize: ``"lower_and_strip_punctuation"``, ``"lower"``, ``"strip_punctuation"``,
            None, or a callable (see the module's docstring).
        split: ``"whitespace"``, ``"character"``, None, or a callable.
        ngrams: None, an int n (widths 1..n), or a tuple of widths.
        output_mode: ``"int"``, ``"multi_hot"``, ``"count"``, ``"tf_idf"`` (or ``"one_hot"``).
        output_sequence_length: ``"int"`` mode only: every row cut or padded to this length.
        pad_to_max_tokens: non-``"int"`` modes: outputs ``max_tokens`` wide.
        vocabulary: a list of strings or the path of a file with one a line (else :meth:`adapt`).
        idf_weights: with ``"tf_idf"`` and a vocabulary, one weight per vocabulary entry.
        sparse, ragged: False only (TensorFlow's sparse and ragged tensors).
        encoding: how ``bytes`` inputs are decoded.

    Example::

        vectorize = gpunet.layers.TextVectorization(max_tokens=1000, output_sequence_length=8)
        vectorize.adapt(["The cat sat.", "The dog ran!"])
        vectorize(numpy.array(["the cat ran"]))   # indices, padded with 0 to 8
    """

    supports_recording = False
    call_takes_training = False
    config_keys = ("vocabulary_size",)  # Keras's config key, taken by **kwargs

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, **kwargs):
        owner = "TextVectorization"
        if not (standardize is None or callable(standardize) or standardize in _STANDARDIZE):
            raise ValueError(f"{owner}: standardize must be one of {', '.join(map(repr, _STANDARDIZE))}, None or a "
                             f"callable, got {standardize!r}")
        if not (split is None or callable(split) or split in _SPLIT):
            raise ValueError(f"{owner}: split must be 'whitespace', 'character', None or a callable, got {split!r}")
        output_mode = check_output_mode(owner, output_mode)
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams >= 1) or (
                isinstance(ngrams, tuple) and ngrams and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                                             for n in ngrams))):
            raise ValueError(f"{owner}: ngrams must be None, a positive integer or a tuple of them, got {ngrams!r}")
        if output_mode == "int":
            check_optional_int(owner, "output_sequence_length", output_sequence_length, 1)
        elif output_sequence_length is not None:
            raise ValueError(f"{owner}: output_sequence_length is only for output_mode='int', got "
                             f"output_mode={output_mode!r}")
        if ragged:
            raise ValueError(f"{owner}: ragged=True is not supported by gpunet (Keras has it on TensorFlow only)")
        if sparse:
            raise ValueError(f"{owner}: sparse=True is not supported by gpunet (Keras has it on TensorFlow only)")
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._ragged = False
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights, pad_to_max_tokens=pad_to_max_tokens,
            mask_token="", output_mode=output_mode, has_input_vocabulary=self._has_input_vocabulary,
            encoding=encoding, vocabulary_size=vocabulary_size)

    # -- the four steps ---------------------------------------------------------------------
    def _preprocess(self, inputs):
        """Standardized, split and n-grammed ``inputs``: a list of token lists (one per string)
        when the layer splits or makes n-grams, else the standardized string array."""
        values = self._lookup_layer._tokens_of(host_values(inputs))
        if callable(self._standardize):
            values = self._lookup_layer._tokens_of(numpy.asarray(self._standardize(values)))
        elif self._standardize is not None:
            values = numpy.array([_standardized(v, self._standardize) for v in values.reshape(-1).tolist()],
                                 dtype=str).reshape(values.shape) if values.size else values
        if self._split is None and self._ngrams is None:
            return values
        if self._split is not None:
            if values.ndim > 1:
                if values.shape[-1] != 1:
                    raise ValueError(f"TextVectorization {self.name!r}: to split strings the input must be 1-D or have "
                                     f"a last axis of 1, got shape {values.shape}")
                values = values[..., 0]
            if values.ndim != 1:
                raise ValueError(f"TextVectorization {self.name!r}: expected a batch of strings, got shape {values.shape}")
            if self._split == "whitespace":
                rows = [v.split() for v in values.tolist()]
            elif self._split == "character":
                rows = [list(v) for v in values.tolist()]
            else:
                rows = [[str(t) for t in (self._lookup_layer._tokens_of(numpy.asarray(row)).reshape(-1).tolist()
                                          if len(row) else [])] for row in self._split(values)]
        else:
            rows = [row.reshape(-1).tolist() for row in values.reshape(-1, values.shape[-1] if values.ndim else 1)]
        if self._ngrams is not None:
            rows = [ngram_tokens(row, self._ngrams) for row in rows]
        return rows

    def _indices(self, rows, length: int | None):
        """The lookup's indices of token rows, padded with ``pad`` to ``length`` (their longest
        row when None) and cut to it."""
        flat = numpy.array([t for row in rows for t in row], dtype=str)
        ids = self._lookup_layer.lookup(flat)
        width = max((len(row) for row in rows), default=0) if length is None else length
        pad = 0 if self._output_mode == "int" else -1
        out = numpy.full((len(rows), width), pad, dtype=numpy.int64)
        start = 0
        for i, row in enumerate(rows):
            n = min(len(row), width)
            out[i, :n] = ids[start:start + n]
            start += len(row)
        return out

    def call(self, inputs):
        processed = self._preprocess(inputs)
        lookup = self._lookup_layer
        if isinstance(processed, numpy.ndarray):
            if self._output_mode != "int":
                return lookup.call(processed)
            ids = lookup.lookup(processed)
            length = self._output_sequence_length
            if length is not None and ids.ndim >= 1:
                ids = ids[..., :length]
                if ids.shape[-1] < length:
                    ids = numpy.concatenate([ids, numpy.zeros((*ids.shape[:-1], length - ids.shape[-1]), numpy.int64)], -1)
            return as_tensor(backend.to_device(ids))
        if self._output_mode == "int":
            return as_tensor(backend.to_device(self._indices(processed, self._output_sequence_length)))
        depth = lookup._depth()
        if depth is None:
            raise RuntimeError(f"TextVectorization {self.name!r}: with output_mode={self._output_mode!r} and "
                               "pad_to_max_tokens=False, set the vocabulary (vocabulary argument, adapt or "
                               "set_vocabulary) before calling the layer")
        return as_tensor(backend.to_device(encode(self._indices(processed, None), self._output_mode, depth,
                                                  lookup.idf_weights)))

    def compute_output_shape(self, input_shape) -> tuple:
        input_shape = tuple(input_shape)
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        if self._split is None:
            if len(input_shape) <= 1:
                input_shape = (*input_shape, 1)
        else:  # splitting drops a last axis of 1 (one string per sample) and adds the tokens' axis
            if len(input_shape) > 1 and input_shape[-1] == 1:
                input_shape = input_shape[:-1]
            input_shape = (*input_shape, None)
        return self._lookup_layer.compute_output_shape(input_shape)

    def compute_output_spec(self, *args, **kwargs):
        from ..symbolic import KerasTensor  # noqa: PLC0415

        dtype = "int64" if self._output_mode == "int" else backend.floatx().name
        return KerasTensor(self.compute_output_shape(args[0].shape), dtype)

    # -- the vocabulary -----------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary from ``data`` (an array or list of strings, or an iterable of such
        batches, at most ``steps`` of them): tokens by frequency, ties by the tokens in
        descending order, as :class:`StringLookup`'s ``adapt``; each string is a document for
        ``"tf_idf"``."""
        adapt_from(self, data, steps, lambda whole: self._lookup_layer._tokens_of(host_values(whole)))

    def update_state(self, data) -> None:
        if self._has_input_vocabulary:
            raise ValueError(f"TextVectorization {self.name!r}: cannot adapt a layer whose vocabulary was given with "
                             "the vocabulary argument")
        processed = self._preprocess(data)
        if isinstance(processed, numpy.ndarray):
            processed = [row.reshape(-1).tolist() for row in (processed.reshape(1, -1) if processed.ndim <= 1
                                                              else processed)]
        self._lookup_layer._count_rows(processed)

    def finalize_state(self) -> None:
        self._lookup_layer.finalize_state()

    def reset_state(self) -> None:
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary: ``""`` (padding, ``"int"`` mode) and ``"[UNK]"`` first unless
        ``include_special_tokens=False``."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Set the vocabulary (and idf weights in ``"tf_idf"`` mode), as :meth:`StringLookup.set_vocabulary`."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # -- configuration and files ----------------------------------------------------------------
    def get_config(self) -> dict:
        lookup = self._lookup_layer
        config = super().get_config()
        config.update({
            "max_tokens": lookup.max_tokens, "standardize": self._standardize, "split": self._split,
            "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length, "pad_to_max_tokens": lookup.pad_to_max_tokens,
            "sparse": False, "ragged": False, "vocabulary": lookup.input_vocabulary,
            "idf_weights": lookup.input_idf_weights, "encoding": self._encoding,
            "vocabulary_size": self.vocabulary_size(),
        })
        return config

    def save_assets(self, dir_path) -> None:
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path) -> None:
        self._lookup_layer.load_assets(dir_path)

    def save_own_variables(self, store) -> None:
        self._lookup_layer.save_own_variables(store)

    def load_own_variables(self, store) -> None:
        self._lookup_layer.load_own_variables(store)
