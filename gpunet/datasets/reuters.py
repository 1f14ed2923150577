"""Reuters newswires: 11,228 texts labelled over 46 topics, each a list of word ids ranked by
frequency; Keras's loader.

``load_data``, ``get_word_index`` and ``get_label_names`` take Keras 3's arguments and give
Keras's results; see :mod:`gpunet.datasets.sequences` for what the arguments do to the texts and
:mod:`gpunet.datasets.files` for where the files are looked for.
"""

from __future__ import annotations

import numbers

import numpy as np

from .files import KERAS_FOLDER, Remote, locate, read_npz
from .imdb import read_word_index
from .sequences import Texts, check_arguments

__all__ = ["load_data", "get_word_index", "get_label_names"]

DATA = Remote("reuters", "reuters.npz", f"{KERAS_FOLDER}reuters.npz",
              "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916")
WORD_INDEX = Remote("reuters", "reuters_word_index.json", f"{KERAS_FOLDER}reuters_word_index.json",
                    "4d44cc38712099c9e383dc6e5f11a921", algorithm="md5")
LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee", "sugar",
    "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
    "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel",
    "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def check_test_split(test_split) -> float:
    """A fraction in [0, 1) (Keras's rule for the held-out share)."""
    if isinstance(test_split, bool) or not isinstance(test_split, numbers.Real) or not 0 <= test_split < 1:
        raise ValueError(f"test_split must be a number in [0, 1), got {test_split!r}")
    return float(test_split)


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113, start_char=1,
              oov_char=2, index_from=3):
    """``(x_train, y_train), (x_test, y_test)``: the newswires as 1-D object arrays of lists of word
    ids and their topics (0..45, see :func:`get_label_names`), as Keras's
    ``keras.datasets.reuters.load_data``: shuffled with ``seed``, the last ``test_split`` of them
    held out for testing. The other arguments are IMDB's (:func:`gpunet.datasets.imdb.load_data`).
    """
    options = check_arguments(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)
    test_split = check_test_split(test_split)
    file = locate(DATA, path)
    arrays = read_npz(file, ("x", "y"))
    texts = Texts.from_array(arrays["x"], f"{file}: x")
    labels = np.asarray(arrays["y"])
    if labels.shape != (len(texts),):
        raise ValueError(f"{file}: y must hold one label per newswire ({len(texts)}), got shape {labels.shape}")
    order = np.random.RandomState(seed).permutation(len(texts))
    texts, labels = texts.take(order).marked(options["start_char"], options["index_from"]), labels[order]
    if options["maxlen"]:
        kept = texts.shorter_than(options["maxlen"])
        texts, labels = texts.take(kept), labels[kept]
    texts = texts.limited(options["num_words"] or texts.largest_id(), options["skip_top"], options["oov_char"])
    cut = int(len(texts) * (1 - test_split))
    train, test = texts.split(cut)
    return (train.to_objects(), np.array(labels[:cut])), (test.to_objects(), np.array(labels[cut:]))


def get_word_index(path="reuters_word_index.json"):
    """The words of the newswires and their ids, before ``index_from`` is added (Keras's
    ``keras.datasets.reuters.get_word_index``)."""
    return read_word_index(locate(WORD_INDEX, path))


def get_label_names():
    """The 46 topics' names, in label order (Keras's ``keras.datasets.reuters.get_label_names``)."""
    return LABEL_NAMES

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
