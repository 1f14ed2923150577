"""gpunet.tree walks nested data as keras.tree does (checked against the real Keras where installed)."""

import collections
import os

import pytest

from gpunet import tree

Point = collections.namedtuple("Point", ["y", "x"])

STRUCTURES = [
    1,
    None,
    [1, 2, (3, 4)],
    {"b": 1, "a": [2, 3], "c": {"z": 4, "y": 5}},
    (Point(1, 2), {"k": None}),
    collections.OrderedDict([("z", 1), ("a", 2)]),
    {"out": [1, {"q": 2, "p": (3,)}], "aux": 4},
    [],
    {},
]


@pytest.fixture(scope="module")
def keras_tree():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("jax", reason="the Keras comparisons run Keras 3 on JAX")
    keras = pytest.importorskip("keras", minversion="3.0")
    return keras.tree


@pytest.mark.parametrize("structure", STRUCTURES, ids=repr)
def test_flatten_pack_and_paths_as_keras(structure, keras_tree):
    assert tree.flatten(structure) == keras_tree.flatten(structure)
    assert tree.flatten_with_path(structure) == [tuple(p) for p in keras_tree.flatten_with_path(structure)]
    leaves = [f"leaf{i}" for i in range(len(tree.flatten(structure)))]
    assert tree.pack_sequence_as(structure, leaves) == keras_tree.pack_sequence_as(structure, leaves)
    assert tree.is_nested(structure) == keras_tree.is_nested(structure)
    doubled = tree.map_structure(lambda v: None if v is None else v * 2, structure)
    assert doubled == keras_tree.map_structure(lambda v: None if v is None else v * 2, structure)
    assert tree.lists_to_tuples(structure) == keras_tree.lists_to_tuples(structure)


def test_round_trip_and_dict_order():
    structure = {"b": [1, 2], "a": 3}
    assert tree.flatten(structure) == [3, 1, 2]
    assert list(tree.pack_sequence_as(structure, [30, 10, 20])) == ["b", "a"]  # the caller's key order kept
    assert tree.pack_sequence_as(structure, [30, 10, 20]) == {"a": 30, "b": [10, 20]}


@pytest.mark.parametrize("a, b", [([1, 2], [1]), ({"a": 1}, {"b": 1}), ([1, [2]], [1, 2]), ((1,), [1])])
def test_assert_same_structure_refuses(a, b):
    with pytest.raises(ValueError, match="structures differ"):
        tree.assert_same_structure(a, b)


def test_pack_counts_leaves():
    with pytest.raises(ValueError, match="3 leaves but 2 values"):
        tree.pack_sequence_as([1, [2, 3]], [1, 2])


def test_map_structure_up_to_and_traverse():
    shallow = {"a": None, "b": None}
    out = tree.map_structure_up_to(shallow, len, {"a": [1, 2], "b": (1, 2, 3)})
    assert out == {"a": 2, "b": 3}
    assert tree.traverse(lambda s: tree.MAP_TO_NONE if s == [1, 2] else None, {"a": [1, 2], "b": 3}) == {"a": None, "b": 3}
    assert tree.traverse(lambda s: sum(s) if isinstance(s, list) else None, [[1, 2], 3], top_down=False) == 6
