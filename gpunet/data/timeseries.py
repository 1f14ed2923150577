"""Sliding windows over a timeseries as batches: ``timeseries_dataset_from_array``.

Keras 3 returns a ``tf.data.Dataset`` here; gpunet returns a :class:`TimeseriesDataset`, a
:class:`~gpunet.utils.PyDataset` whose batch ``i`` is ``(windows, targets)`` (or the windows
alone without targets), built on request from the array: fit, evaluate and predict take it as
they take any PyDataset, and iterating over it gives the batches in order, as iterating over
Keras's dataset does. Windows are gathered from the array by index, not copied ahead.
"""

from __future__ import annotations

import numbers

import numpy

from .. import backend
from .pydataset import PyDataset

__all__ = ["TimeseriesDataset", "timeseries_dataset_from_array"]


class TimeseriesDataset(PyDataset):
    """The windows of ``data`` that start at ``starts`` (``sequence_length`` steps, every
    ``sampling_rate``-th), with ``targets[start]`` beside each, in batches of ``batch_size``
    (``None``: one window per item, no batch axis). Made by :func:`timeseries_dataset_from_array`."""

    def __init__(self, data, targets, starts, sequence_length: int, sampling_rate: int, batch_size):
        super().__init__()
        self.data, self.targets, self.starts = data, targets, starts
        self.offsets = numpy.arange(sequence_length) * sampling_rate
        self.batch_size = batch_size

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.starts)
        return -(-len(self.starts) // self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"TimeseriesDataset: batch {index} out of range ({len(self)} batches)")
        if self.batch_size is None:
            starts = self.starts[index]
        else:
            starts = self.starts[index * self.batch_size:(index + 1) * self.batch_size]
        windows = self.data[numpy.add.outer(starts, self.offsets)]
        return windows if self.targets is None else (windows, self.targets[starts])

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _count(value, name: str, positive: bool = True) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"timeseries_dataset_from_array: {name} must be an integer, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"timeseries_dataset_from_array: {name} must be higher than 0, got {value}")
    return int(value)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, batch_size=128,
                                  shuffle=False, seed=None, start_index=None, end_index=None, format="tf"):
    """Windows of ``sequence_length`` steps over ``data`` (Keras 3's function and arguments).

    The rows ``data[start_index:end_index]`` (the whole array by default) give the windows: the
    window starting at row ``s`` holds rows ``s, s + sampling_rate, ...,
    s + (sequence_length - 1) * sampling_rate``, and consecutive windows start ``sequence_stride``
    rows apart, for as long as a window fits (and, with ``targets``, no further than
    ``len(targets)`` starts). Its target is ``targets[start_index + s]``: the target of a window
    is the one of its first step, so shift ``targets`` to ask for a value after the window.

    Args:
        data: array (or array-like) of timesteps along its first axis.
        targets: the values aligned with ``data``'s rows, or ``None`` for windows alone.
        sequence_length: steps per window; ``sequence_stride``: rows between window starts;
        sampling_rate: rows between the steps of a window.
        batch_size: windows per batch (the last one may be shorter); ``None`` for single windows.
        shuffle: whether to shuffle the windows' order once, with ``numpy.random.RandomState(seed)``
            as Keras does first (Keras's ``tf.data`` pipeline then also shuffles within a buffer
            of ``8 * batch_size`` windows, which gpunet does not reproduce: the same windows,
            another order). Without ``seed``, the seed is drawn from gpunet's seeded generator.
        start_index, end_index: the rows used (``end_index`` excluded).
        format: Keras's choice of pipeline, ``"tf"`` or ``"grain"``; either gives gpunet's
            :class:`TimeseriesDataset`.

    Returns:
        A :class:`TimeseriesDataset`: ``len()`` batches of ``(windows, targets)`` (windows
        ``(batch, sequence_length, *data.shape[1:])``), for ``fit``, ``evaluate``, ``predict`` or
        a ``for`` loop.

    Example::

        series = numpy.arange(100.0)
        windows = gpunet.utils.timeseries_dataset_from_array(series[:-10], series[10:], sequence_length=10,
                                                             batch_size=16)
        x, y = windows[0]   # x[i] = series[i:i + 10], y[i] = series[i + 10]
    """
    if format not in ("tf", "grain"):
        raise ValueError(f'timeseries_dataset_from_array: format must be "tf" or "grain", got {format!r}')
    data = numpy.asarray(data)
    if data.ndim == 0:
        raise ValueError("timeseries_dataset_from_array: data must have a time axis (at least one dimension)")
    length = len(data)
    sequence_length = _count(sequence_length, "sequence_length")
    sampling_rate = _count(sampling_rate, "sampling_rate")
    sequence_stride = _count(sequence_stride, "sequence_stride")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value >= length:
            raise ValueError(f"timeseries_dataset_from_array: {name} must be lower than the length of the data "
                             f"({length}), got {value}")
    if batch_size is not None:
        batch_size = _count(batch_size, "batch_size")
    start = 0 if start_index is None else _count(start_index, "start_index", positive=False)
    stop = length if end_index is None else _count(end_index, "end_index", positive=False)
    if not 0 <= start < length:
        raise ValueError(f"timeseries_dataset_from_array: start_index must be 0 or more and lower than the length "
                         f"of the data ({length}), got {start_index}")
    if end_index is not None and not (max(start, 0) < stop < length):
        raise ValueError(f"timeseries_dataset_from_array: end_index must be higher than start_index ({start}) and "
                         f"lower than the length of the data ({length}), got {end_index}")
    count = stop - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = numpy.asarray(targets)[start:stop]
        count = min(count, len(targets))
    starts = numpy.arange(0, max(count, 0), sequence_stride)
    if shuffle:
        if seed is None:
            seed = int(backend.host_generator().integers(1_000_000))
        numpy.random.RandomState(seed).shuffle(starts)
    return TimeseriesDataset(data[start:stop], targets, starts, sequence_length, sampling_rate, batch_size)
