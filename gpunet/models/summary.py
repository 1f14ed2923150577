"""The table ``model.summary()`` prints: one row per layer (output shape, parameter count, and for a
functional model the calls each layer's inputs come from), then the totals, Keras's arguments."""

from __future__ import annotations

import numbers
import re

__all__ = ["print_summary"]


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return str(tuple(shape))


def print_summary(model, entries, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None) -> None:
    """Print ``entries`` (``(layer, output shape or None, connected-to text or None)``) as Keras's
    summary table: ``line_length`` (default 72, or 98 with a "Connected to" column), ``positions``
    (where each column ends, as fractions of the line or in characters), ``print_fn`` (called with
    each line; default ``print``), ``show_trainable`` (a column saying whether each layer trains),
    ``layer_range`` (``[first, last]`` layer names or patterns, both included; the totals still
    count the whole model), ``expand_nested`` (a nested model's layers as rows under its own,
    prefixed ``"   " * depth + "└ "``, at any depth)."""
    print_fn = print_fn or print
    connected = any(text is not None for _, _, text in entries)
    if line_length is None:
        line_length = 98 if connected else 72
    elif isinstance(line_length, bool) or not isinstance(line_length, numbers.Integral) or line_length < 20:
        raise ValueError(f"summary: line_length must be an integer >= 20, got {line_length!r}")
    for key, value in (("expand_nested", expand_nested), ("show_trainable", show_trainable)):
        if not isinstance(value, bool):
            raise ValueError(f"summary: {key} must be True or False, got {value!r}")
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else []) + (
        ["Trainable"] if show_trainable else [])
    first, last = _layer_range([layer for layer, _, _ in entries], layer_range)
    rows = []
    for layer, shape, text, depth in _expanded(entries[first:last], expand_nested):
        kind = type(layer).__name__ if hasattr(layer, "built") else _op_kind(layer)
        built = getattr(layer, "built", True)
        params = f"{layer.count_params():,}" if built and hasattr(layer, "weights") else ("0" if built else "0 (unbuilt)")
        prefix = "   " * depth + "└ " if depth else ""
        row = [f"{prefix}{layer.name} ({kind})", _shape_text(shape), params]
        row += [text or "-"] if connected else []
        if show_trainable:  # Keras's marks: "-" for a layer without weights
            row.append(("Y" if layer.trainable else "N") if getattr(layer, "weights", None) else "-")
        rows.append(row)
    if connected and positions is None:  # Keras's functional layout
        positions = [0.3, 0.52, 0.62, 1.0] if not show_trainable else [0.28, 0.48, 0.58, 0.9, 1.0]
        positions = positions[:len(header) - 1]
    widths = _column_widths(positions, line_length, len(header), max([0, *(len(row[0]) for row in rows)]) + 2)
    line_length = max(line_length, sum(widths[:-1]) + 12)
    rule = "_" * line_length
    lines = [f'Model: "{model.name}"', rule, _row(header, widths), "=" * line_length]
    for i, row in enumerate(rows):
        lines += [_row(row, widths), rule if i < len(rows) - 1 else "=" * line_length]
    if not rows:
        lines.append("=" * line_length)
    total = sum(int(p.size) for p in model.weights)
    trainable = sum(int(p.size) for p in model.trainable_weights)
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}",
              rule]
    for line in lines:
        print_fn(line)


def _op_kind(operation) -> str:
    """A recorded op's type as Keras shows it: its Keras class (``add (Add)``), else the function's name."""
    from ..ops.keras_ops import keras_op  # noqa: PLC0415

    fn = getattr(operation, "fn", None)
    keras = keras_op(fn) if fn is not None else None
    return keras[1] if keras else getattr(fn, "__name__", "op")


def _expanded(entries, expand_nested: bool, depth: int = 0):
    """``(layer, shape, connected-to, depth)`` for the rows: with ``expand_nested``, each nested
    model's own summary rows follow its row, one level deeper (their connections belong to the
    nested model's graph, so Keras shows "-" for them)."""
    for layer, shape, text in entries:
        yield layer, shape, text, depth
        nested = getattr(layer, "_summary_entries", None)
        if expand_nested and nested is not None and getattr(layer, "layers", None):
            for inner, inner_shape, _ in nested():
                yield from _expanded([(inner, inner_shape, "-")], expand_nested, depth + 1)


def _row(cells, widths) -> str:
    return "".join(f"{cell:<{width}}" for cell, width in zip(cells[:-1], widths)) + cells[-1]


def _column_widths(positions, line_length: int, columns: int, first_minimum: int) -> list:
    """The widths of a summary's columns but the last, from Keras's ``positions`` (the columns'
    right ends, as fractions of ``line_length`` when all are at most 1, else in characters)."""
    if positions is None:
        widths = [int(line_length * 0.45), int(line_length * 0.33)] + ([int(line_length * 0.14)] if columns == 4 else [])
    else:
        if not isinstance(positions, (list, tuple)) or len(positions) not in (columns - 1, columns) or not all(
                isinstance(p, numbers.Real) and not isinstance(p, bool) and p > 0 for p in positions):
            raise ValueError(f"summary: positions must list {columns} increasing positive numbers (the columns' "
                             f"right ends), got {positions!r}")
        ends = [p * line_length if all(q <= 1 for q in positions) else p for p in positions]
        if any(b <= a for a, b in zip(ends, ends[1:])):
            raise ValueError(f"summary: positions must be increasing, got {positions!r}")
        widths = [int(b - a) for a, b in zip([0, *ends], ends)][:columns - 1]
    widths[0] = max(widths[0], first_minimum)
    return widths


def _layer_range(layers, layer_range) -> tuple:
    """``(start, stop)`` of the layers that Keras's ``layer_range=[first, last]`` names: the first
    layer matching ``first`` (a name or a regular expression) to the last matching ``last``."""
    if layer_range is None:
        return 0, len(layers)
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2 or not all(isinstance(p, str) for p in layer_range):
        raise ValueError(f"summary: layer_range must be [first, last] layer names, got {layer_range!r}")
    found = [[i for i, layer in enumerate(layers) if re.match(pattern, layer.name)] for pattern in layer_range]
    if not found[0] or not found[1]:
        raise ValueError(f"summary: layer_range {list(layer_range)} does not match the layers {[l.name for l in layers]}")
    if min(found[0]) > max(found[1]):
        return min(found[1]), max(found[0]) + 1
    return min(found[0]), max(found[1]) + 1
