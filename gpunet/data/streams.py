"""Batches that Python code produces: generators, iterables and PyDataset objects.

Each batch is checked and moved to the device as it arrives (:class:`StreamBatches`).
"""

from __future__ import annotations

import itertools
import numbers
import warnings

import numpy

from .. import backend
from ..autograd import Tensor
from .pydataset import PyDataset, dataset_length, ordered_batches

__all__ = ["StreamBatches", "input_kind", "describe"]


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
