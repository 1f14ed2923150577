"""PyDataset: batches produced by Python code, fetched ahead of training by threads or processes.

A :class:`PyDataset` knows how many batches it has (``__len__``) and builds any one of them on
request (``__getitem__``), so fit can shuffle the batch order, run several passes, and read ahead:
while the model trains on batch i, workers already build the next ones. Batches always reach the
model in the requested order, whatever order the workers finish in.
"""

from __future__ import annotations

import itertools
import multiprocessing
import numbers
import warnings
from collections import deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

__all__ = ["PyDataset", "Sequence", "ordered_batches", "dataset_length"]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"PyDataset: {name} must be a positive integer, got {value!r}")
    return int(value)


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"PyDataset: use_multiprocessing must be True or False, got {value!r}")
    return value


def _setting(name: str, default, check):
    """A checked constructor setting; a subclass that skipped ``super().__init__()`` gets the
    default, with a warning."""

    def get(self):
        if not hasattr(self, "_" + name):
            warnings.warn(f"{type(self).__name__} should call super().__init__(**kwargs) in its constructor; "
                          f"using {name}={default!r}", stacklevel=2)
            setattr(self, "_" + name, default)
        return getattr(self, "_" + name)

    def set(self, value):
        setattr(self, "_" + name, check(value))

    return property(get, set)


class PyDataset:
    """Base class of datasets that build their batches in Python (Keras's ``PyDataset``).

    Subclass it, call ``super().__init__(**kwargs)``, and define ``__len__`` (the number of
    batches) and ``__getitem__(index)`` (batch ``index`` as ``(x, y)``, or ``x`` alone for
    ``predict``). ``on_epoch_begin`` / ``on_epoch_end`` run around every epoch (reshuffle files,
    change augmentation there). fit shuffles the *batch order* with gpunet's seeded generator when
    ``shuffle=True``; the samples inside a batch are the dataset's business.

    Args:
        workers: how many threads (or processes) build batches ahead of training. With 1 and no
            multiprocessing, batches are built on demand in the training thread.
        use_multiprocessing: build batches in worker processes instead of threads (for Python
            code that holds the GIL). The dataset must be usable in a child process (forked, or
            pickled where processes are spawned).
        max_queue_size: how many batches may be built ahead of the one training uses.

    Example::

        class Shards(gpunet.utils.PyDataset):
            def __init__(self, paths, **kwargs):
                super().__init__(**kwargs)
                self.paths = paths

            def __len__(self):
                return len(self.paths)

            def __getitem__(self, index):
                with numpy.load(self.paths[index]) as shard:
                    return shard["x"].astype("float32") / 255, shard["y"]

        model.fit(Shards(paths, workers=4), epochs=10)
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    workers = _setting("workers", 1, lambda value: _positive_int(value, "workers"))
    use_multiprocessing = _setting("use_multiprocessing", False, _flag)
    max_queue_size = _setting("max_queue_size", 10, lambda value: _positive_int(value, "max_queue_size"))

    def __getitem__(self, index):
        """Batch number ``index``: ``(x, y)`` for fit and evaluate, ``x`` (or ``(x, y)``) for predict."""
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning a batch")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None for a dataset without end."""
        if hasattr(self, "__len__"):
            return len(self)
        return None

    def on_epoch_begin(self) -> None:
        """Called before every epoch (and every evaluation pass)."""

    def on_epoch_end(self) -> None:
        """Called after every epoch (and every evaluation pass)."""

    def __iter__(self):
        count = self.num_batches
        for index in (range(count) if count is not None else itertools.count()):
            yield self[index]


Sequence = PyDataset  # Keras's older name


def dataset_length(dataset):
    """The number of batches of a PyDataset-like object, or None when it has no end."""
    count = getattr(dataset, "num_batches", None) if isinstance(dataset, PyDataset) else len(dataset)
    if count is None:
        return None
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
        raise ValueError(f"{type(dataset).__name__}.__len__ must return a number of batches >= 0, got {count!r}")
    return int(count)


# -- reading ahead -----------------------------------------------------------------------------
_WORKER_DATASET = None  # the dataset, in a worker process


def _adopt(dataset) -> None:
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _fetch(index):
    return _WORKER_DATASET[index]


def ordered_batches(dataset, indices):
    """``dataset[i]`` for each ``i`` of ``indices``, in that order, built ahead by the dataset's
    workers (threads, or processes with ``use_multiprocessing``) at most ``max_queue_size``
    batches in advance. Closing the generator stops the workers."""
    workers = getattr(dataset, "workers", 1)
    processes = getattr(dataset, "use_multiprocessing", False)
    if workers <= 1 and not processes:
        for index in indices:
            yield dataset[int(index)]
        return
    if processes:  # one pool per pass, so that workers see what on_epoch_end changed
        executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(), initializer=_adopt,
                                       initargs=(dataset,))
        fetch = _fetch
    else:
        executor = ThreadPoolExecutor(workers, thread_name_prefix="gpunet-pydataset")
        fetch = dataset.__getitem__
    indices = iter(indices)
    ahead = max(getattr(dataset, "max_queue_size", 10), workers)
    pending = deque(executor.submit(fetch, int(i)) for i in itertools.islice(indices, ahead))
    try:
        while pending:
            batch = pending.popleft().result()
            following = next(indices, None)
            if following is not None:
                pending.append(executor.submit(fetch, int(following)))
            yield batch
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
