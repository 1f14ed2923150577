"""IMDB movie reviews: 25,000 training and 25,000 test reviews labelled by sentiment (1
positive, 0 negative), each a list of word ids ranked by frequency; Keras's loader.

``load_data`` and ``get_word_index`` take Keras 3's arguments and give Keras's results; see
:mod:`gpunet.datasets.sequences` for what the arguments do to the texts and
:mod:`gpunet.datasets.files` for where the files are looked for.
"""

from __future__ import annotations

import json

import numpy as np

from .files import KERAS_FOLDER, Remote, locate, read_npz
from .sequences import Texts, check_arguments

__all__ = ["load_data", "get_word_index"]

DATA = Remote("imdb", "imdb.npz", f"{KERAS_FOLDER}imdb.npz",
              "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f")
WORD_INDEX = Remote("imdb", "imdb_word_index.json", f"{KERAS_FOLDER}imdb_word_index.json",
                    "bfafd718b763782e994055a2d397834f", algorithm="md5")


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3, **kwargs):
    """``(x_train, y_train), (x_test, y_test)``: the reviews as 1-D object arrays of lists of word
    ids, the labels as int arrays, as Keras's ``keras.datasets.imdb.load_data``.

    Args:
        path: Keras's file name (looked for in the usual places, downloaded when missing), or the
            path of a local ``imdb.npz``.
        num_words: keep the ``num_words`` most frequent words; the others become ``oov_char``.
        skip_top: the most frequent ``skip_top`` words become ``oov_char`` too.
        maxlen: keep only the reviews shorter than ``maxlen`` ids (the start mark included).
        seed: the seed of the shuffling.
        start_char: the id put in front of every review (None: none).
        oov_char: the id of the words cut out (None: they are dropped).
        index_from: added to every word id (ids below it are reserved: 0 padding, 1 start, 2 OOV).
    """
    if kwargs:
        raise TypeError(f"imdb.load_data got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    options = check_arguments(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)
    file = locate(DATA, path)
    arrays = read_npz(file, ("x_train", "y_train", "x_test", "y_test"))
    rng = np.random.RandomState(seed)
    splits = []
    for part in ("train", "test"):
        texts = Texts.from_array(arrays[f"x_{part}"], f"{file}: x_{part}")
        labels = np.asarray(arrays[f"y_{part}"])
        if labels.shape != (len(texts),):
            raise ValueError(f"{file}: y_{part} must hold one label per review ({len(texts)}), got shape {labels.shape}")
        order = rng.permutation(len(texts))
        splits.append([texts.take(order).marked(options["start_char"], options["index_from"]), labels[order]])
    if options["maxlen"]:
        for split in splits:
            kept = split[0].shorter_than(options["maxlen"])
            split[0], split[1] = split[0].take(kept), split[1][kept]
        if not len(splits[0][0]) or not len(splits[1][0]):
            raise ValueError(f"no review is shorter than maxlen={options['maxlen']} in the training or the test set; "
                             "increase maxlen")
    (train, y_train), (test, y_test) = splits
    texts = train.joined(test)
    limit = options["num_words"] or texts.largest_id()
    texts = texts.limited(limit, options["skip_top"], options["oov_char"])
    train, test = texts.split(len(train))
    labels = np.concatenate([y_train, y_test])
    return (train.to_objects(), labels[:len(train)]), (test.to_objects(), labels[len(train):])


def get_word_index(path="imdb_word_index.json"):
    """The words of the reviews and their ids ``{"the": 1, ...}``, before ``index_from`` is added
    (Keras's ``keras.datasets.imdb.get_word_index``)."""
    return read_word_index(locate(WORD_INDEX, path))


def read_word_index(file: str) -> dict:
    """A word index file: a JSON object of words to positive ints (ValueError naming the file otherwise)."""
    with open(file, encoding="utf-8") as f:
        try:
            index = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{file}: not a JSON word index ({exc})") from None
    if not isinstance(index, dict) or not all(isinstance(k, str) and isinstance(v, int) for k, v in index.items()):
        raise ValueError(f"{file}: a word index must be a JSON object of words to integer ids")
    return index

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
