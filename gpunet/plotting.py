"""plot_history: the learning curves of a fit, with matplotlib (the ``plots`` extra)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

__all__ = ["plot_history"]

# logged values that are not quantities to compare between training and dev
_NOT_CURVES = ("learning_rate", "epoch_time")
_INSTALL = 'pip install "gpunet[plots]"'


def _pyplot():
    try:
        import matplotlib.pyplot as plt  # noqa: PLC0415 - an optional extra
    except ImportError as exc:
        raise ImportError(f"plot_history draws with matplotlib, which is not installed: {_INSTALL}") from exc
    return plt


def _positions(epochs: list) -> list:
    """x of each report, in epochs: ``e + 1`` for the only report of 0-based epoch ``e``, and
    ``e + (j + 1) / K`` for the j-th of K reports (``fit(validations_per_epoch=K)``)."""
    counts: dict = {}
    for epoch in epochs:
        counts[epoch] = counts.get(epoch, 0) + 1
    seen: dict = {}
    positions = []
    for epoch in epochs:
        seen[epoch] = seen.get(epoch, 0) + 1
        positions.append(epoch + seen[epoch] / counts[epoch])
    return positions


def _placed(positions: list, count: int, epochs=()) -> list:
    """x of a series of ``count`` values: every report's, or for a shorter series (dev values of
    ``fit(validation_freq=N)``) the reports that carried a dev evaluation: with several reports
    per epoch only the epochs that validated have several, so theirs; else every N-th report,
    N = reports // count."""
    if count >= len(positions) or count == 0:
        return positions[:count]
    per_epoch: dict = {}
    for epoch in epochs:
        per_epoch[epoch] = per_epoch.get(epoch, 0) + 1
    validated = [p for p, epoch in zip(positions, epochs) if per_epoch[epoch] > 1]
    if len(validated) == count:
        return validated
    every = len(positions) // count
    return positions[every - 1::every][:count]


def _quantities(history: dict, metrics) -> list:
    if metrics is not None:
        if isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics):
            raise TypeError(f"metrics must be a list of logged names such as ['loss', 'accuracy'], got {metrics!r}")
        missing = [m for m in metrics if m not in history and f"val_{m}" not in history]
        if missing:
            raise ValueError(f"metrics {missing} are not in the history; it holds {', '.join(history)}")
        return list(metrics)
    names = []
    for key in history:
        name = key[4:] if key.startswith("val_") else key
        if name not in names and name not in _NOT_CURVES and not name.startswith("grad_norm_"):
            names.append(name)
    return sorted(names, key=lambda n: n != "loss")  # loss first, then the metrics in logged order


def _best_position(best: dict, history: dict, epochs: list, positions: list):
    """x of the report whose weights ``best`` names (its epoch; among that epoch's reports, the
    one whose monitored value is ``best["value"]``), or None."""
    epoch = best.get("epoch")
    candidates = [i for i, e in enumerate(epochs) if e == epoch]
    if not candidates:
        return None
    values = history.get(best.get("monitor"))
    value = best.get("value")
    if values is not None and value is not None and len(values) == len(epochs):
        for i in candidates:
            if i < len(values) and values[i] == value:
                return positions[i]
    return positions[candidates[-1]]


def plot_history(history, metrics=None, filename=None, figsize=None, title=None, best=None):
    """Plot the learning curves of a fit: one axes per quantity (``loss``, then every metric),
    the training values and the dev values (``val_*``) on the same axes, against the epoch
    (1-based, as fit prints it; with ``validations_per_epoch=K`` the K reports of an epoch are
    spread over it; dev values logged every N epochs, ``validation_freq=N``, sit at every N-th
    epoch).

    The epoch whose weights the model holds after fit (``history.best``: fit's best dev epoch,
    restored by default, or the one a callback restored) is marked on every axes by a dotted
    vertical line and a point on the dev curve of the monitored quantity.

    Args:
        history: the :class:`~gpunet.callbacks.History` fit returned, or its ``.history`` dict
            (then pass ``best`` to have an epoch marked).
        metrics: the quantities to draw (names without ``val_``); by default ``loss`` and every
            logged metric (not ``learning_rate``, ``epoch_time`` nor the ``grad_norm_*`` values).
        filename: also save the figure there (the format follows the name: ``.png``, ``.pdf``...).
        figsize: ``(width, height)`` in inches; by default 4.5 x 3.5 per axes.
        title: a title over the whole figure.
        best: the selected report, ``{"epoch": e, "monitor": "val_accuracy", "value": v}``
            (0-based ``e``), or an epoch number; by default ``history.best``.

    Returns:
        the matplotlib ``Figure`` (made with pyplot, so ``plt.show()`` shows it).

    Example::

        history = model.fit(x, y, epochs=20, validation_data=(x_dev, y_dev))
        gpunet.utils.plot_history(history, filename="curves.png")
    """
    if filename is not None and not isinstance(filename, (str, os.PathLike)):
        raise TypeError(f"filename must be a path, got {type(filename).__name__}")
    if isinstance(history, Mapping):
        values, epochs = dict(history), None
    elif isinstance(getattr(history, "history", None), Mapping):
        values, epochs = dict(history.history), list(getattr(history, "epoch", None) or [])
        if best is None:
            best = getattr(history, "best", None)
    else:
        raise TypeError(f"history must be the History fit returned or its .history dict, got {type(history).__name__}")
    if not values or not any(len(v) for v in values.values()):
        raise ValueError("the history is empty: nothing to plot")
    length = max(len(v) for v in values.values())
    if not epochs or len(epochs) != length:
        epochs = list(range(length))
    if isinstance(best, int) and not isinstance(best, bool):
        best = {"epoch": best}
    if best is not None and not isinstance(best, Mapping):
        raise TypeError(f"best must be a dict with an 'epoch' or an epoch number, got {type(best).__name__}")
    names = _quantities(values, metrics)
    positions = _positions(epochs)
    marked = None if best is None else _best_position(best, values, epochs, positions)

    plt = _pyplot()
    columns = min(len(names), 3)
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=figsize or (4.5 * columns, 3.5 * rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.remove()
    for ax, name in zip(axes.flat, names):
        for key, label in ((name, "train"), (f"val_{name}", "dev")):
            if key in values:
                ax.plot(_placed(positions, len(values[key]), epochs), values[key], marker="." if length < 30 else None,
                        label=label)
        if marked is not None:
            restored = best.get("restored", True)
            ax.axvline(marked, color="grey", linestyle=":",
                       label=f"{'restored' if restored else 'best'}: epoch {best['epoch'] + 1}")
            monitor = best.get("monitor")
            if monitor in (name, f"val_{name}") and best.get("value") is not None:
                ax.plot([marked], [best["value"]], marker="*", markersize=12, color="black", linestyle="none")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if filename is not None:
        figure.savefig(filename)
    return figure
