"""A batch as Keras hands it to a train step: ``(x, y, sample_weight)``, each a nest of arrays.

``x``, ``y`` and ``sample_weight`` may each be one array or a list, tuple or dict of arrays
(:mod:`gpunet.tree`'s rules); ``y`` and ``sample_weight`` may be absent (None). Keras's
``unpack_x_y_sample_weight`` / ``pack_x_y_sample_weight`` convert between that triple and the
tuple a generator yields (``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``).
"""

from __future__ import annotations

from .. import tree

__all__ = ["unpack_x_y_sample_weight", "pack_x_y_sample_weight", "batch_count", "leaves", "slice_nest", "path_name"]


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from what a data source yields: a tuple ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``, or ``x`` alone (anything but a tuple: a list is one input list)."""
    if isinstance(data, list):  # Keras takes a list of 1-3 items as such a tuple, too
        data = tuple(data)
    if not isinstance(data, tuple) or tree._is_namedtuple(data):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"data must be x, (x,), (x, y) or (x, y, sample_weight), got a tuple of {len(data)} items")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The shortest tuple holding what is given: ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``
    (``x`` alone when it is not a tuple, y and the weights absent, as Keras packs it)."""
    if y is None and sample_weight is None:
        return x if not isinstance(x, tuple) else (x,)
    if sample_weight is None:
        return x, y
    return x, y, sample_weight


def leaves(nest) -> list:
    """The arrays of a nest, None left out."""
    return [leaf for leaf in tree.flatten(nest) if leaf is not None]


def batch_count(x) -> int:
    """The number of samples of a batch: the first dimension of its first input array."""
    if not isinstance(x, (list, tuple, dict)):
        return int(x.shape[0])
    first = leaves(x)
    if not first:
        raise ValueError("a batch holds no input array")
    return int(first[0].shape[0])


def slice_nest(nest, start, stop):
    """Every array of ``nest`` cut to rows ``start:stop`` (None stays None)."""
    return tree.map_structure(lambda a: None if a is None else a[start:stop], nest)


def path_name(name: str, path: tuple) -> str:
    """``x['image']``, ``y[1]``: a leaf of ``name`` for messages (``name`` itself at the top)."""
    return name + "".join(f"[{key!r}]" for key in path)
