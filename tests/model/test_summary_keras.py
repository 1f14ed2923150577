"""``Model.summary(expand_nested=True, show_trainable=True)`` against the rows Keras 3 prints
(the same layers, nesting, shapes, parameter counts and trainable marks; not the same drawing),
and the Keras 2 node accessors that Keras 3 no longer has."""

import re

import pytest

import gpunet


def nested(lib):
    """A functional model holding a functional model and a Sequential (one frozen layer)."""
    inner_in = lib.Input((4,), name="inner_in")
    inner = lib.Model(inner_in, lib.layers.Dense(3, name="inner_dense")(inner_in), name="inner")
    seq = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2, name="s1"), lib.layers.Dense(2, name="s2")], name="seq")
    a = lib.Input((4,), name="a")
    model = lib.Model(a, seq(inner(lib.layers.Dense(4, name="first")(a))), name="outer")
    seq.layers[0].trainable = False
    return model


def twice_nested(lib):
    return lib.Sequential([lib.Input((4,)), nested(lib), lib.layers.Dense(1, name="last")], name="top")


def _row(name_cell, shape, params, trainable):
    depth = name_cell.index("└") // 3 if "└" in name_cell else 0
    return depth, name_cell.replace("└", "").strip(), shape.strip(), params.strip().replace(",", ""), trainable.strip()


def keras_rows(lines):
    """(depth, "name (Class)", shape, params, trainable) from Keras's drawn table; a name wrapped
    onto a second line is joined back."""
    rows, header = [], None
    for line in "\n".join(lines).splitlines():
        if not line.startswith(("│", "┃")):
            continue
        cells = line.split("│" if line.startswith("│") else "┃")[1:-1]
        if line.startswith("┃"):
            header = [c.strip() for c in cells]
            continue
        cells = [c[1:] for c in cells]  # the table's one-space padding
        if rows and not cells[1].strip():  # continuation of a wrapped name
            depth, name, shape, params, trainable = rows[-1]
            rows[-1] = (depth, f"{name} {cells[0].strip()}".strip(), shape, params, trainable)
            continue
        rows.append(_row(cells[0], cells[1], cells[header.index("Param #")], cells[-1]))
    return rows


def our_rows(lines):
    header = lines[2]
    starts = [header.index(title) for title in ("Output Shape", "Param #")]
    rows = []
    for line in lines[4:]:
        if not line or line[0] in "_=" or line.startswith(("Total", "Trainable", "Non-trainable")):
            continue
        rows.append(_row(line[:starts[0]], line[starts[0]:starts[1]], line[starts[1]:].split()[0], line.split()[-1]))
    return rows


def totals(lines):
    text = "\n".join(lines)
    return [int(re.search(rf"{label} params: ([\d,]+)", text).group(1).replace(",", ""))
            for label in ("Total", "Trainable", "Non-trainable")]


@pytest.mark.parametrize("build", [nested, twice_nested])
def test_expand_nested_with_trainable_matches_keras_rows(keras, build):
    theirs, ours = build(keras), build(gpunet)
    keras_lines, our_lines = [], []
    theirs.summary(expand_nested=True, show_trainable=True, print_fn=keras_lines.append)
    ours.summary(expand_nested=True, show_trainable=True, print_fn=our_lines.append)
    expected = keras_rows(keras_lines)
    assert any(depth == 2 for depth, *_ in expected) == (build is twice_nested)
    assert our_rows(our_lines) == expected
    assert totals(our_lines) == totals(keras_lines)


def test_without_expand_nested_nested_models_are_one_row(keras):
    theirs, ours = nested(keras), nested(gpunet)
    keras_lines, our_lines = [], []
    theirs.summary(print_fn=keras_lines.append)
    ours.summary(print_fn=our_lines.append, show_trainable=True)
    expected = [row[:4] for row in keras_rows(keras_lines)]
    assert [row[:4] for row in our_rows(our_lines)] == expected
    assert [name for _, name, *_ in expected] == ["a (InputLayer)", "first (Dense)", "inner (Functional)",
                                                 "seq (Sequential)"]


def test_layer_range_picks_top_level_layers_then_expands(keras):
    lines = []
    nested(gpunet).summary(print_fn=lines.append, expand_nested=True, show_trainable=True, layer_range=["inner", "inner"])
    assert [name for _, name, *_ in our_rows(lines)] == ["inner (Functional)", "inner_in (InputLayer)",
                                                        "inner_dense (Dense)"]


@pytest.mark.parametrize("name", ["get_output_at", "get_input_at", "get_output_shape_at", "get_input_shape_at"])
def test_keras2_node_accessors_are_absent_as_in_keras(keras, name):
    assert not hasattr(keras.layers.Dense(2), name)  # Keras 3.15 dropped them
    x = gpunet.Input((3,))
    layer = gpunet.layers.Dense(2)
    layer(x)
    with pytest.raises(AttributeError, match=f"'Dense' object has no attribute '{name}'"):
        getattr(layer, name)(0)


def test_recorded_ops_are_rows_named_by_their_keras_class(keras):
    from tests.model.test_functional_ops import mixed

    keras.utils.clear_session()
    gpunet.utils.clear_session()
    theirs, ours = mixed(keras), mixed(gpunet)
    keras_lines, our_lines = [], []
    theirs.summary(print_fn=keras_lines.append)
    ours.summary(print_fn=our_lines.append)
    expected = [row[:4] for row in keras_rows(keras_lines)]
    assert ("add (Add)" in [name for _, name, *_ in expected]) and ("get_item (GetItem)" in [n for _, n, *_ in expected])
    assert [row[:4] for row in our_rows(our_lines)] == expected
