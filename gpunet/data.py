"""Input checking and batch iteration: arrays in memory, arrays on disk, and Python streams.

fit checks and converts in-memory data once, moves it to the backend's device once, and then
takes batches on the device: contiguous views when the order is sequential, a gather into one
reused buffer per batch shape when the epoch is shuffled (:class:`Batches`).

Memory-mapped arrays (``numpy.load(path, mmap_mode="r")``, ``numpy.memmap``) stay on disk: they
are checked chunk by chunk, and each batch's rows are copied to the device when the batch is
trained on (:class:`DiskBatches`), in exactly the batches and order of the in-memory path.

Generators, iterables and :class:`~gpunet.pydataset.PyDataset` objects produce their own
batches (:class:`StreamBatches`); each batch is checked and moved to the device as it arrives.
"""

from __future__ import annotations

import itertools
import numbers
import warnings

import numpy

from . import backend
from .autograd import Tensor
from .pydataset import PyDataset, dataset_length, ordered_batches

__all__ = ["check_features", "check_targets", "check_batch_size", "Batches", "DiskBatches", "StreamBatches",
           "input_kind", "describe", "on_disk"]

_CHUNK_BYTES = 1 << 25  # how much of an on-disk array a check reads at a time


def on_disk(a) -> bool:
    """Whether ``a`` is a memory-mapped array, read batch by batch rather than loaded."""
    return isinstance(a, numpy.memmap)


def _chunks(arr):
    """``arr`` whole when it is in memory; in slices of about 32 MB when it is on disk."""
    if not on_disk(arr) or arr.nbytes <= _CHUNK_BYTES:
        yield arr
        return
    rows = max(1, _CHUNK_BYTES // max(1, arr.nbytes // max(1, arr.shape[0])))
    for start in range(0, arr.shape[0], rows):
        yield numpy.asarray(arr[start:start + rows])


def _extremes(arr, ignored=None):
    """(min, max) of a non-empty array, read chunk by chunk when it is on disk; values equal to
    ``ignored`` (a loss's ``ignore_class``) do not count ((0, 0) when nothing else is left)."""
    chunks = _chunks(arr) if ignored is None else (part[part != ignored] for part in _chunks(arr))
    parts = [(part.min(), part.max()) for part in chunks if part.size]
    if not parts:
        return 0, 0
    if len(parts) == 1:
        return parts[0]
    lows, highs = numpy.array(parts).T  # NaN propagates, as in one min/max over the whole array
    return lows.min(), highs.max()


def _as_array(a, name: str):
    if a is None:
        raise ValueError(f"{name} is required")
    if isinstance(a, Tensor):
        a = a.data
    if on_disk(a) or backend.get_array_module(a) is not numpy:
        return a
    try:
        arr = numpy.asarray(a)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}: {exc}") from None
    return arr


def _all_finite(arr) -> bool:
    """Whether a float array holds no NaN or infinity once cast to the compute dtype (a float64
    1e39 becomes float32 infinity): its min and max, cast, are finite (two passes, no temporary
    the size of the data)."""
    if on_disk(arr):
        with numpy.errstate(over="ignore"):
            return bool(numpy.isfinite(numpy.array(_extremes(arr)).astype(backend.floatx())).all())
    xp = backend.get_array_module(arr)
    with numpy.errstate(over="ignore"):
        extremes = xp.stack([arr.min(), arr.max()]).astype(backend.floatx())
    return bool(xp.isfinite(extremes).all())


def _count_non_finite(arr) -> int:
    """How many values are NaN or infinite once cast to the compute dtype (on the error path only)."""
    xp = backend.get_array_module(arr)
    with numpy.errstate(over="ignore"):
        return sum(int((~xp.isfinite(part.astype(backend.floatx()))).sum()) for part in _chunks(arr))


def check_features(x, name: str = "x", feature_shape=None, values: bool = True):
    """``x`` as an array of shape (samples, features...) with finite numbers, or a clear error
    (``values=False``: the shapes only, for data whose values were checked already)."""
    arr = _as_array(x, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(f"{name} must have shape (samples, features...), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if values and arr.dtype.kind == "f" and not _all_finite(arr):
        raise ValueError(f"{name} contains {_count_non_finite(arr)} NaN or infinite value(s)"
                         f"{' (after conversion to ' + str(backend.floatx()) + ')' if arr.dtype != backend.floatx() else ''}")
    if feature_shape is not None and tuple(arr.shape[1:]) != tuple(feature_shape):
        raise ValueError(
            f"{name} has samples of shape {tuple(arr.shape[1:])}, but the model expects inputs of shape {tuple(feature_shape)}"
        )
    return arr


def check_targets(y, loss, output_shape, samples: int, name: str = "y", x_name: str = "x"):
    """``y`` in the form the loss needs, checked against the model's output.

    Integer labels (sparse cross-entropy) become an int array of shape (N,) in [0, classes);
    other targets become floats of the output's shape.
    """
    arr = _as_array(y, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{name} must have one entry per sample, got a scalar")
    if arr.shape[0] != samples:
        raise ValueError(f"{x_name} and {name} must have the same number of samples, got {samples} and {arr.shape[0]}")
    xp = backend.get_array_module(arr)
    outputs = output_shape[1:]
    if loss.target_kind == "labels":
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr.reshape(-1)
        if arr.ndim != 1:
            raise ValueError(
                f"{name} must hold one integer class label per sample, shape ({samples},), got shape {arr.shape}; "
                "for one-hot targets use loss='categorical_crossentropy'"
            )
        if arr.dtype.kind == "f":
            if not all(bool(xp.isfinite(part).all()) and bool((part == xp.round(part)).all()) for part in _chunks(arr)):
                raise ValueError(f"{name} must hold integer class labels, got non-integer values")
        if arr.dtype.kind == "b":
            raise TypeError(f"{name} must hold integer class labels, got booleans")
        classes = outputs[-1] if outputs else None
        low, high = (int(v) for v in _extremes(arr, getattr(loss, "ignore_class", None)))
        if low < 0 or (classes is not None and high >= classes):
            raise ValueError(
                f"{name} holds class labels from {low} to {high}, but the model has {classes} outputs: labels must lie in [0, {classes})"
            )
        if on_disk(arr):
            return arr  # converted batch by batch
        return arr.astype(numpy.int64, copy=False)
    if arr.dtype.kind == "f" and not _all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinite values")
    if tuple(arr.shape[1:]) != tuple(outputs):
        if outputs == (1,) and arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        else:
            raise ValueError(f"{name} has targets of shape {tuple(arr.shape[1:])}, but the model's outputs have shape {tuple(outputs)}")
    if loss.name in ("binary_crossentropy", "categorical_crossentropy"):
        low, high = _extremes(arr)
        if low < 0 or high > 1:
            raise ValueError(f"{name} must hold probabilities in [0, 1] for {loss.name}")
    return arr


def check_batch_size(batch_size, name: str = "batch_size", default: int = 32) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"{name} must be a positive integer, got {batch_size!r}")
    return int(batch_size)


class Batches:
    """Batches of (x, y) arrays that already live on the backend's device.

    ``iterate(order)`` yields ``(x_batch, y_batch)``: views for ``order=None``, else gathers
    ``x[order[i:i + batch_size]]`` into a buffer reused from batch to batch (the batch is
    consumed, forward and backward, before the next one is taken).
    """

    def __init__(self, x, y, batch_size: int):
        self.x, self.y = x, y
        self.samples = int(x.shape[0])
        self.batch_size = min(batch_size, self.samples)  # buffers are sized by the data, never beyond
        self._buffers = None
        xp = backend.get_array_module(x)
        self._take = {"mode": "clip"} if xp is numpy else {}  # NumPy buffers take() otherwise

    def __len__(self) -> int:
        return -(-self.samples // self.batch_size)

    @property
    def steps(self) -> int:
        """Batches per epoch."""
        return len(self)

    def shuffled_order(self):
        """A fresh permutation of the samples from gpunet's seeded generator, on the data's device."""
        order = backend.host_generator().permutation(self.samples)
        return order if backend.name() == "numpy" else backend.to_device(order)

    def close(self) -> None:
        """Nothing to release (streams stop their workers here)."""

    def iterate(self, order=None):
        x, y, size = self.x, self.y, self.batch_size
        if order is None:
            for start in range(0, self.samples, size):
                yield x[start:start + size], (None if y is None else y[start:start + size])
            return
        xp = backend.get_array_module(x)
        if self._buffers is None:
            self._buffers = (
                xp.empty((size, *x.shape[1:]), dtype=x.dtype),
                None if y is None else xp.empty((size, *y.shape[1:]), dtype=y.dtype),
            )
        x_buf, y_buf = self._buffers
        for start in range(0, self.samples, size):
            index = order[start:start + size]
            n = index.shape[0]
            xb = x_buf[:n]
            xp.take(x, index, axis=0, out=xb, **self._take)
            yb = None
            if y is not None:
                yb = y_buf[:n]
                xp.take(y, index, axis=0, out=yb, **self._take)
            yield xb, yb


class DiskBatches:
    """Batches of host arrays left where they are (memory-mapped files), copied to the device one
    batch at a time as ``dtypes`` (features as the float dtype, labels as integers).

    The batches and their order are those of :class:`Batches` on the same data and order: a
    shuffled batch reads its rows in increasing file order (fewer seeks) and puts them back in
    the order's sequence, so training gives bit for bit the weights of the in-memory path.
    """

    def __init__(self, x, y, batch_size: int, dtypes):
        self.x, self.y = x, y
        self.dtypes = dtypes
        self.samples = int(x.shape[0])
        self.batch_size = min(batch_size, self.samples)

    def __len__(self) -> int:
        return -(-self.samples // self.batch_size)

    steps = Batches.steps
    close = Batches.close

    def shuffled_order(self):
        """A fresh permutation of the samples from gpunet's seeded generator, on the host."""
        return backend.host_generator().permutation(self.samples)

    @staticmethod
    def _rows(a, index, sorting, dtype):
        out = numpy.empty((index.shape[0], *a.shape[1:]), dtype=dtype)
        out[sorting] = a[index[sorting]]
        return out

    def iterate(self, order=None):
        x, y, size = self.x, self.y, self.batch_size
        x_dtype, y_dtype = self.dtypes
        for start in range(0, self.samples, size):
            if order is None:
                xb = numpy.asarray(x[start:start + size], dtype=x_dtype)
                yb = None if y is None else numpy.asarray(y[start:start + size], dtype=y_dtype)
            else:
                index = order[start:start + size]
                sorting = numpy.argsort(index, kind="stable")
                xb = self._rows(x, index, sorting, x_dtype)
                yb = None if y is None else self._rows(y, index, sorting, y_dtype)
            yield backend.to_device(xb), (None if yb is None else backend.to_device(yb))


# -- Python streams: generators, iterables, PyDataset ------------------------------------------
def describe(x) -> str:
    """``x``'s kind in words, for messages: "an array", "a generator", "an iterable", "a PyDataset"."""
    return {"array": "an array", "iterator": "a generator", "iterable": "an iterable",
            "pydataset": "a PyDataset"}[input_kind(x)]


def input_kind(x) -> str:
    """How fit reads ``x``: ``"array"`` (arrays, memory-mapped or not, and array-likes),
    ``"pydataset"`` (a :class:`~gpunet.pydataset.PyDataset` or an object with ``__len__``,
    ``__getitem__`` and ``on_epoch_end``, as Keras's is), ``"iterator"`` (read once: a generator)
    or ``"iterable"`` (read afresh at every pass)."""
    if x is None or isinstance(x, (Tensor, numpy.ndarray, list, tuple, str, bytes, dict, numbers.Number)) \
            or hasattr(x, "__array__") or hasattr(x, "__cuda_array_interface__"):
        return "array"
    if isinstance(x, PyDataset) or all(hasattr(x, a) for a in ("__len__", "__getitem__", "on_epoch_end")):
        return "pydataset"
    if hasattr(x, "__next__") and iter(x) is x:
        return "iterator"
    if hasattr(x, "__iter__"):
        return "iterable"
    return "array"


class _Unnumbered:
    """``(None, batch)`` for each batch of a generator or an iterator; :meth:`close` closes it."""

    def __init__(self, source):
        self.source = source

    def __iter__(self):
        return self

    def __next__(self):
        return None, next(self.source)

    def close(self) -> None:
        if hasattr(self.source, "close"):
            self.source.close()


class StreamBatches:
    """Batches a Python object produces, one pass (an epoch, an evaluation) per :meth:`iterate`.

    ``steps`` caps a pass (None: until the data end; a PyDataset's length by default). With
    ``continuing=True`` (fit with ``steps_per_epoch``) a pass picks up where the last one stopped,
    and a PyDataset or an iterable that runs out starts over; otherwise every pass starts from the
    beginning, except for a generator, which can only go on. ``convert(raw, i)`` checks a raw batch
    and returns it as device arrays; ``i`` is the batch's index in a PyDataset (as its
    ``__getitem__`` knows it), else its position in the pass. A PyDataset's batch order is shuffled
    for every new run through it with gpunet's seeded generator when ``shuffle`` is True.

    A batch is checked before it is yielded, so nothing is trained on a batch that is then
    refused; the error says which batch it was: the PyDataset's item, and ``epoch`` (0-based, set
    by fit; None outside fit) as fit's progress shows it (1-based).
    """

    def __init__(self, data, name: str, convert, steps=None, shuffle: bool = False, continuing: bool = False):
        self.data, self.name, self.convert = data, name, convert
        self.kind = input_kind(data)
        self.length = dataset_length(data) if self.kind == "pydataset" else None
        if steps is None and self.kind == "pydataset" and self.length is None:
            raise ValueError(f"{name} is a PyDataset without end (num_batches is None): give the number of steps")
        if self.length == 0:
            raise ValueError(f"{name} is an empty PyDataset: it has 0 batches")
        self.steps = steps if steps is not None else self.length
        self.shuffle = shuffle and self.kind == "pydataset"
        self.continuing = continuing
        self.ran_out = False  # the last pass ended before `steps` batches
        self.epoch = None  # fit's epoch (0-based), for messages
        self._live = None  # (PyDataset index or None, raw batch) of the run in progress
        self._at_start = False  # whether _live is at the beginning of a run

    @property
    def resumes_exactly(self) -> bool:
        """Whether a resumed fit sees the batches an uninterrupted one would have seen."""
        if self.kind == "iterator":
            return False
        return not self.continuing or (self.length is not None and self.steps == self.length)

    def peek(self):
        """The first raw batch, kept for the first pass."""
        if self.kind == "pydataset":
            return self.data[0]
        source = self._live if self._live is not None else self._restart()
        try:
            first = next(source)
        except StopIteration:
            raise ValueError(f"{self.name} yielded no batch: it must yield at least one") from None
        self._live, self._at_start = itertools.chain([first], source), True
        return first[1]

    def _restart(self):
        """An iterator of ``(index, raw batch)`` over a new run through the data (index None but
        for a PyDataset)."""
        if self.kind == "pydataset":
            count = self.length
            if count is None:
                indices = itertools.count()
            elif self.shuffle:
                indices = backend.host_generator().permutation(count)
            else:
                indices = range(count)
            return self._items(indices)
        return _Unnumbered(self.data if self.kind == "iterator" else iter(self.data))

    def _items(self, indices):
        """``(index, dataset[index])`` for each index in order, built ahead by the dataset's
        workers; an error raised by its ``__getitem__`` is told which item it was building."""
        ahead, indices = itertools.tee(indices)
        batches = ordered_batches(self.data, ahead)
        try:
            for index in indices:
                try:
                    raw = next(batches)
                except StopIteration:
                    return
                except Exception as exc:
                    exc.add_note(f"raised by {type(self.data).__name__}.__getitem__({int(index)}) while reading "
                                 f"{self.name} ({self._place(int(index))})")
                    raise
                yield int(index), raw
        finally:
            batches.close()

    def _place(self, index) -> str:
        """Where a batch lies, for messages: the PyDataset's item and the epoch, as known."""
        place = [] if index is None else [f"PyDataset item {index}"]
        place += [] if self.epoch is None else [f"epoch {self.epoch + 1}"]
        return ", ".join(place)

    def _checked(self, index, raw, position):
        """``convert`` of a raw batch; a refusal says where the batch lies (:meth:`_place`)."""
        try:
            return self.convert(raw, position if index is None else index)
        except (ValueError, TypeError) as exc:
            place = self._place(index)
            if not place:
                raise
            if type(exc) in (ValueError, TypeError):  # the checks' own errors: the place joins the message
                raise type(exc)(f"{exc} ({place})").with_traceback(exc.__traceback__) from None
            exc.add_note(f"in {self.name}: {place}")
            raise

    def shuffled_order(self):
        """None: a stream orders its own batches (a PyDataset shuffles at each new run)."""
        return None

    def close(self) -> None:
        """Stop a run in progress (a PyDataset's workers)."""
        live, self._live = self._live, None
        if hasattr(live, "close"):
            live.close()

    def iterate(self, order=None):
        del order
        if self.kind == "pydataset" and hasattr(self.data, "on_epoch_begin"):
            self.data.on_epoch_begin()
        taken, restarted = 0, False
        self.ran_out = False
        try:
            if self._live is None or not (self.continuing or self._at_start or self.kind == "iterator"):
                self.close()
                self._live, restarted = self._restart(), True
            self._at_start = False
            while self.steps is None or taken < self.steps:
                try:
                    index, raw = next(self._live)
                except StopIteration:
                    self._live = None
                    if self.steps is None or self.kind == "iterator" or restarted:
                        break
                    self._live, restarted = self._restart(), True  # a run ended mid-pass: start another
                    continue
                batch = self._checked(index, raw, taken)
                taken += 1
                yield batch
        finally:
            if self.kind == "pydataset":
                self.data.on_epoch_end()
        self.ran_out = self.steps is not None and taken < self.steps
        if self.ran_out and taken and not self.continuing:
            warnings.warn(f"{self.name} ran out of data after {taken} of {self.steps} steps", stacklevel=2)
        if taken == 0 and not self.continuing:
            hint = " (a generator can be read only once)" if self.kind == "iterator" else ""
            raise ValueError(f"{self.name} yielded no batch{hint}")
