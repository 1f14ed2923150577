"""Nested structures, walked by Keras's rules (``keras.tree``).

A structure is a list, a tuple, a named tuple or a dict of structures; anything else (an array, a
Tensor, a number, a string, ``None``) is a leaf. ``flatten`` lists the leaves depth first, a
dict's values in the order of its sorted keys (an ``OrderedDict`` keeps its own order), as Keras
does, so that ``pack_sequence_as(structure, flatten(structure))`` gives the structure back and the
same data flattens the same way in fit, evaluate and predict.

This module imports nothing of gpunet: every layer of the package may use it.
"""

from __future__ import annotations

import collections

__all__ = ["is_nested", "flatten", "flatten_with_path", "pack_sequence_as", "map_structure", "map_structure_up_to",
           "assert_same_structure", "lists_to_tuples", "traverse", "MAP_TO_NONE"]


class MAP_TO_NONE:  # noqa: N801 - Keras's name
    """``traverse``'s marker: a function that returns it (the class itself) maps that part of the
    structure to None."""


def is_nested(structure) -> bool:
    """Whether ``structure`` is a list, a tuple or a dict (a container of leaves)."""
    return isinstance(structure, (list, tuple, dict))


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _keys(structure: dict) -> list:
    if isinstance(structure, collections.OrderedDict):
        return list(structure)
    try:
        return sorted(structure)
    except TypeError as exc:
        raise TypeError(f"a dict in a nested structure needs sortable keys, got {list(structure)!r}") from exc


def _children(structure) -> list:
    if isinstance(structure, dict):
        return [structure[key] for key in _keys(structure)]
    return list(structure)


def _rebuild(structure, children: list):
    if isinstance(structure, dict):
        rebuilt = dict(zip(_keys(structure), children))
        if type(structure) is dict:
            return {key: rebuilt[key] for key in structure}  # keep the caller's key order
        return type(structure)((key, rebuilt[key]) for key in structure)
    if _is_namedtuple(structure):
        return type(structure)(*children)
    return type(structure)(children)


def flatten(structure) -> list:
    """The leaves of ``structure``, depth first (dict values by sorted key)."""
    leaves, stack = [], [structure]
    while stack:
        item = stack.pop()
        if is_nested(item):
            stack.extend(reversed(_children(item)))
        else:
            leaves.append(item)
    return leaves


def flatten_with_path(structure) -> list:
    """``[(path, leaf), ...]``: each leaf with the tuple of keys and indexes that reach it."""
    pairs, stack = [], [((), structure)]
    while stack:
        path, item = stack.pop()
        if is_nested(item):
            keys = _keys(item) if isinstance(item, dict) else range(len(item))
            stack.extend(reversed([((*path, key), child) for key, child in zip(keys, _children(item))]))
        else:
            pairs.append((path, item))
    return pairs


def pack_sequence_as(structure, flat_sequence):
    """The leaves of ``flat_sequence`` put back in the shape of ``structure``."""
    flat_sequence = list(flat_sequence)
    count = len(flatten(structure))
    if count != len(flat_sequence):
        raise ValueError(f"the structure has {count} leaves but {len(flat_sequence)} values were given to fill it")
    if not is_nested(structure):
        return flat_sequence[0]
    return _fill(structure, iter(flat_sequence))


def _fill(structure, values):
    """``structure`` rebuilt with its leaves taken in turn from the iterator ``values`` (a
    module-level function: a recursive closure would make a reference cycle that keeps a batch's
    arrays alive until the garbage collector runs)."""
    return _rebuild(structure, [_fill(child, values) if is_nested(child) else next(values)
                                for child in _children(structure)])


def assert_same_structure(a, b, check_types=None) -> None:
    """Raise ValueError unless ``a`` and ``b`` nest the same way (dicts with the same keys,
    sequences of the same lengths; a list is not a tuple unless ``check_types=False``)."""
    check_types = check_types is None or bool(check_types)
    stack = [(a, b, ())]
    while stack:
        x, y, path = stack.pop()
        if is_nested(x) != is_nested(y):
            raise ValueError(f"the structures differ at {_where(path)}: {_kind(x)} against {_kind(y)}")
        if not is_nested(x):
            continue
        if isinstance(x, dict) != isinstance(y, dict) or (check_types and type(x) is not type(y)
                                                           and not (isinstance(x, dict) and isinstance(y, dict))):
            raise ValueError(f"the structures differ at {_where(path)}: {type(x).__name__} against {type(y).__name__}")
        if isinstance(x, dict):
            if set(x) != set(y):
                raise ValueError(f"the structures differ at {_where(path)}: keys {sorted(map(str, x))} against "
                                 f"{sorted(map(str, y))}")
            keys = _keys(x)
            stack.extend((x[k], y[k], (*path, k)) for k in keys)
        else:
            if len(x) != len(y):
                raise ValueError(f"the structures differ at {_where(path)}: {len(x)} items against {len(y)}")
            stack.extend((p, q, (*path, i)) for i, (p, q) in enumerate(zip(x, y)))


def _where(path) -> str:
    return "the top" if not path else "".join(f"[{key!r}]" for key in path)


def _kind(value) -> str:
    return type(value).__name__ if is_nested(value) else "a leaf"


def map_structure(func, *structures, none_is_leaf: bool = True):
    """``func`` applied to the leaves of ``structures`` (which must nest alike), in their shape;
    with ``none_is_leaf=False`` a None is left as it is rather than handed to ``func``."""
    if not structures:
        raise ValueError("map_structure needs at least one structure")
    for other in structures[1:]:
        assert_same_structure(structures[0], other, check_types=False)
    columns = [flatten(s) for s in structures]
    if none_is_leaf:
        return pack_sequence_as(structures[0], [func(*leaves) for leaves in zip(*columns)])
    return pack_sequence_as(structures[0], [None if leaves[0] is None else func(*leaves) for leaves in zip(*columns)])


def map_structure_up_to(shallow_structure, func, *structures):
    """``func`` applied to the parts of ``structures`` that sit where ``shallow_structure`` has
    its leaves (deeper nesting is handed to ``func`` whole)."""
    columns = [_parts_up_to(shallow_structure, s) for s in structures]
    return pack_sequence_as(shallow_structure, [func(*leaves) for leaves in zip(*columns)])


def _parts_up_to(shallow_structure, structure) -> list:
    """The parts of ``structure`` where ``shallow_structure`` has its leaves, in flatten order."""
    out, stack = [], [(shallow_structure, structure)]
    while stack:
        shallow, item = stack.pop()
        if not is_nested(shallow):
            out.append(item)
            continue
        if not is_nested(item):
            raise ValueError(f"expected a {type(shallow).__name__} to match the shallow structure, got {type(item).__name__}")
        if isinstance(shallow, dict):
            stack.extend(reversed([(shallow[k], item[k]) for k in _keys(shallow)]))
        else:
            if len(shallow) != len(item):
                raise ValueError(f"expected {len(shallow)} items to match the shallow structure, got {len(item)}")
            stack.extend(reversed(list(zip(shallow, item))))
    return out


def lists_to_tuples(structure):
    """``structure`` with every list turned into a tuple."""
    if not is_nested(structure):
        return structure
    children = [lists_to_tuples(child) for child in _children(structure)]
    if isinstance(structure, list):
        return tuple(children)
    return _rebuild(structure, children)


def traverse(func, structure, top_down: bool = True):
    """Call ``func`` on every part of ``structure``, containers included. Top down: where it
    returns something other than None, that replaces the part (and its children are not
    visited); ``MAP_TO_NONE`` replaces it with None. Bottom up: children first, then ``func`` on
    the rebuilt container, with the same replacement rule."""
    return _visit(func, structure, top_down)


def _visit(func, item, top_down: bool):
    if top_down:
        result = func(item)
        if result is MAP_TO_NONE:
            return None
        if result is not None:
            return result
        return _rebuild(item, [_visit(func, c, top_down) for c in _children(item)]) if is_nested(item) else item
    if is_nested(item):
        item = _rebuild(item, [_visit(func, c, top_down) for c in _children(item)])
    result = func(item)
    if result is MAP_TO_NONE:
        return None
    return item if result is None else result


from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
