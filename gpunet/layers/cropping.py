"""Cropping layers: Cropping1D and Cropping2D, with Keras's arguments.

Each removes ``(before, after)`` entries along each spatial dim: one slice of the input (a view),
whose gradient goes back into the kept entries.
"""

from __future__ import annotations

from .base import Layer
from .convolutional import spatial_and_channels, standardize_data_format

__all__ = ["Cropping1D", "Cropping2D"]


def _pair(value, name: str) -> tuple:
    """A non-negative int (both sides) or a pair of them, as ``(before, after)``."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in pair):
        raise ValueError(f"{name} must be a non-negative integer or a pair of them, got {value!r}")
    return tuple(pair)


class _Cropping(Layer):
    rank = 2
    supports_recording = True

    def _cropped(self, input_shape) -> tuple:
        """The output shape; a ValueError when a crop leaves nothing of a dim."""
        spatial, channels = spatial_and_channels(input_shape, self.rank, self.data_format, type(self).__name__)
        sizes = []
        for n, (before, after) in zip(spatial, self.cropping):
            if n is not None and before + after >= n:
                raise ValueError(f"{type(self).__name__}: cropping {self.cropping} must leave entries of the input of "
                                 f"shape {tuple(input_shape)}")
            sizes.append(None if n is None else n - before - after)
        if self.data_format == "channels_last":
            return (input_shape[0], *sizes, channels)
        return (input_shape[0], channels, *sizes)

    def compute_output_shape(self, input_shape):
        return self._cropped(input_shape)

    def call(self, x, training=False):
        self._cropped(tuple(x.shape))
        first = 1 if self.data_format == "channels_last" else 2
        index = [slice(None)] * x.ndim
        for axis, (before, after) in enumerate(self.cropping, start=first):
            index[axis] = slice(before, x.shape[axis] - after)
        return x[tuple(index)]


class Cropping1D(_Cropping):
    """Removes entries at the start and end of sequences ``(batch, steps, features)``.

    Args:
        cropping: an int (both ends) or ``(start, end)`` (default ``(1, 1)``).

    Example: ``Cropping1D((1, 2))`` turns ``(None, 10, 3)`` into ``(None, 7, 3)``.
    """

    rank = 1
    data_format = "channels_last"

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = (_pair(cropping, "cropping"),)

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping[0])}


class Cropping2D(_Cropping):
    """Removes rows and columns at the borders of images.

    Args:
        cropping: an int (every border), ``(rows, cols)`` (symmetric), or ``((top, bottom),
            (left, right))`` (default no cropping).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Example: ``Cropping2D(((2, 0), (1, 1)))`` turns ``(None, 28, 28, 1)`` into ``(None, 26, 26, 1)``.
    """

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        if isinstance(cropping, int) and not isinstance(cropping, bool):
            cropping = (cropping, cropping)
        if not isinstance(cropping, (tuple, list)) or len(cropping) != 2:
            raise ValueError(f"cropping must be an int, a pair of ints or a pair of (before, after) pairs, "
                             f"got {cropping!r}")
        self.cropping = tuple(_pair(c, "cropping") for c in cropping)

    def get_config(self):
        return {**super().get_config(), "cropping": [list(c) for c in self.cropping], "data_format": self.data_format}
