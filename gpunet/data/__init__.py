"""Data: everything between what a user hands to fit, evaluate or predict and a batch on the device.

    tree.py        (gpunet.tree) nested structures: x, y and sample weights may be arrays, lists,
                   tuples or dicts of arrays, walked by Keras's rules
    checks.py      numbers, shapes, finite values, labels in range (in memory or on disk)
    batches.py     Batches (device-resident arrays), DiskBatches (memory-mapped arrays)
    streams.py     StreamBatches: generators, iterables and PyDataset objects
    pydataset.py   PyDataset: batches built ahead by worker threads or processes
    adapters.py    the one place that turns fit's arguments into batches of (x, y, sample_weight)
"""

from .batches import Batches, DiskBatches
from .checks import check_batch_size, check_features, check_targets, on_disk
from .pydataset import PyDataset, Sequence, dataset_length, ordered_batches
from .streams import StreamBatches, describe, input_kind

__all__ = ["check_features", "check_targets", "check_batch_size", "Batches", "DiskBatches", "StreamBatches",
           "input_kind", "describe", "on_disk", "PyDataset", "Sequence", "dataset_length", "ordered_batches"]
