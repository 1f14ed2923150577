"""Small user-facing utilities."""

from __future__ import annotations

import numbers

import numpy

from . import backend
from .plotting import plot_history
from .data.pydataset import PyDataset, Sequence
from .data.structure import pack_x_y_sample_weight, unpack_x_y_sample_weight
from .data.timeseries import timeseries_dataset_from_array

__all__ = ["set_random_seed", "clear_session", "describe_machine", "to_categorical", "normalize", "pad_sequences"]
__all__ += ["plot_history"]
__all__ += ["PyDataset", "Sequence", "pack_x_y_sample_weight", "unpack_x_y_sample_weight", "timeseries_dataset_from_array"]


def set_random_seed(seed) -> None:
    """Seed every random draw gpunet makes (weight initialization, shuffling, dropout,
    ``gpunet.random``) and, as Keras's ``set_random_seed`` does, Python's ``random`` and NumPy's
    global generator (``np.random.permutation`` in a script then repeats too).

    The same seed gives bitwise-identical training on the CPU, across processes.
    """
    backend.set_seed(seed)
    if seed is not None:
        import random  # noqa: PLC0415

        random.seed(int(seed))
        numpy.random.seed(int(seed) % 2**32)


def clear_session(free_memory=True) -> None:
    """Restart automatic layer, model and variable names (``dense``, ``dense_1``, ...), as Keras does;
    with ``free_memory`` (Keras's default) Python's garbage collector also runs, so that the
    arrays of models no longer referenced are freed now."""
    import gc  # noqa: PLC0415

    from .autograd import clear_variable_names  # noqa: PLC0415
    from .layers.base import clear_names  # noqa: PLC0415

    clear_names()
    clear_variable_names()
    if free_memory:
        gc.collect()


def describe_machine() -> str:
    """``"<CPU model> (<n> cores), Python x.y, NumPy x.y, backend <name>"``, for reports."""
    import os  # noqa: PLC0415
    import platform  # noqa: PLC0415

    import numpy  # noqa: PLC0415

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu} ({os.cpu_count()} cores), Python {platform.python_version()}, NumPy {numpy.__version__}, "
        f"backend {backend.name()}"
    )


def to_categorical(x, num_classes=None) -> numpy.ndarray:
    """Integer class labels as one-hot vectors, Keras's function.

    ``to_categorical([0, 2], 3)`` is ``[[1, 0, 0], [0, 0, 1]]``. The class axis is added last;
    labels of shape ``(N, 1)`` give ``(N, num_classes)`` (a trailing axis of size 1 is dropped,
    as in Keras); ``num_classes`` defaults to ``max(x) + 1``. The result is a float64 NumPy
    array, like Keras's.

    Labels must be whole numbers in ``[0, num_classes)``: where Keras would truncate ``1.5`` to
    1 or wrap ``-1`` around to the last class, gpunet raises ``ValueError``.
    """
    labels = numpy.asarray(backend.to_host(x))
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"to_categorical: x must hold integer class labels, got dtype {labels.dtype}")
    if labels.dtype.kind == "f" and not numpy.all(numpy.mod(labels, 1) == 0):  # NaN and infinity fail too
        raise ValueError("to_categorical: x must hold whole-number class labels, got fractional or non-finite values")
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    flat = labels.reshape(-1).astype(numpy.int64)
    if num_classes is None:
        if flat.size == 0:
            raise ValueError("to_categorical: x is empty, so num_classes cannot be inferred; pass num_classes")
        num_classes = int(flat.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be a positive integer or None, got {num_classes!r}")
    num_classes = int(num_classes)
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        bad = int(flat.min()) if flat.min() < 0 else int(flat.max())
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}) (num_classes={num_classes}), found {bad}")
    categorical = numpy.zeros((flat.size, num_classes))
    categorical[numpy.arange(flat.size), flat] = 1
    return categorical.reshape(*shape, num_classes)


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (Keras's function); zero vectors stay zero.

    ``normalize(x)`` scales every row of ``x`` to unit Euclidean length; ``order=1`` to unit sum
    of absolute values, ``order=numpy.inf`` to unit largest magnitude. A NumPy array (or array
    like) gives a NumPy array and a CuPy array a CuPy array, float input keeping its dtype
    (integers give float64), and a 1-D vector comes back as one row, shape ``(1, n)``, as in
    Keras. ``axis`` is one axis; unlike Keras's NumPy path, which fails for it, ``axis=0``
    normalizes the columns of a matrix.
    """
    from .autograd import Tensor  # noqa: PLC0415 - utils sits below the autograd in imports

    if isinstance(x, Tensor):
        x = x.data
    xp = backend.get_array_module(x)
    x = xp.asarray(x)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"normalize: x must be a numeric array, got dtype {x.dtype}")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"normalize: axis must be an integer in [{-x.ndim}, {x.ndim}) for x of shape {x.shape}, got {axis!r}")
    if isinstance(order, bool) or not isinstance(order, numbers.Real) or not order > 0:
        raise ValueError(f"normalize: order must be a positive number (1, 2, numpy.inf, ...), got {order!r}")
    norm = xp.linalg.norm(x, ord=order, axis=int(axis), keepdims=True)
    normalized = x / xp.where(norm == 0, 1, norm)
    return normalized[None] if x.ndim == 1 else normalized


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0) -> numpy.ndarray:
    """Sequences of different lengths as one array of shape ``(len(sequences), maxlen, ...)``,
    Keras's function with its arguments and defaults.

    ``maxlen`` defaults to the longest sequence's length. A shorter sequence is filled with
    ``value`` before it (``padding="pre"``, the default) or after it (``"post"``); a longer one
    loses its first entries (``truncating="pre"``, the default) or its last ones (``"post"``).
    The entries of each sequence may be numbers or arrays (all of the first non-empty sequence's
    shape); they are converted to ``dtype`` (``"int32"``: fractional values are truncated, as
    NumPy's conversion does). Strings need ``dtype=object`` (or a string dtype) and a string
    ``value``, as in Keras.

    >>> pad_sequences([[1], [2, 3], [4, 5, 6]]).tolist()
    [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post").tolist()
    [[1, 0], [2, 3], [5, 6]]

    Errors are ValueErrors naming the argument, checked before any padding (Keras checks
    ``padding`` and ``truncating`` only when a sequence needs them, and fails with a NumPy
    broadcasting error for ``maxlen=0``, which gives zero columns here).
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences: sequences must be a list of sequences, got {type(sequences).__name__}")
    if padding not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding must be 'pre' or 'post', got {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: truncating must be 'pre' or 'post', got {truncating!r}")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral) or maxlen < 0):
        raise ValueError(f"pad_sequences: maxlen must be a non-negative integer or None, got {maxlen!r}")
    lengths, sample_shape = [], None
    for index, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError:
            raise ValueError(f"pad_sequences: sequences must be a list of sequences; entry {index} is not one "
                             f"({type(sequence).__name__}: {sequence!r})") from None
        if sample_shape is None and len(sequence):
            sample_shape = numpy.asarray(sequence).shape[1:]  # the first non-empty sequence sets each entry's shape
    sample_shape = sample_shape or ()
    if maxlen is None:
        if not lengths:
            raise ValueError("pad_sequences: sequences is empty, so maxlen cannot be inferred; pass maxlen")
        maxlen = max(lengths)
    maxlen = int(maxlen)
    dtype_is_text = numpy.issubdtype(dtype, numpy.str_) or numpy.issubdtype(dtype, numpy.bytes_)
    if isinstance(value, str) and dtype is not object and not dtype_is_text:
        raise ValueError(f"pad_sequences: dtype {dtype!r} cannot hold the string value {value!r}; use dtype=object "
                         "for strings of any length")
    padded = numpy.full((len(lengths), maxlen, *sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return padded
    for index, sequence in enumerate(sequences):
        if not len(sequence):
            continue
        kept = sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen]
        kept = numpy.asarray(kept, dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: the entries of sequence {index} have shape {kept.shape[1:]}, those of the "
                             f"first non-empty sequence {tuple(sample_shape)}")
        if padding == "post":
            padded[index, :len(kept)] = kept
        else:
            padded[index, maxlen - len(kept):] = kept
    return padded


from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
