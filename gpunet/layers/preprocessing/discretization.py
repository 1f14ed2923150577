"""``Discretization`` (Keras 3's): continuous values to bucket ids by bin boundaries, given or
estimated by ``adapt`` from approximate quantiles of the data."""

from __future__ import annotations

import numbers

import numpy

from ... import backend, ops
from ...autograd import Tensor
from .category_encoding import _EncodingLayer, encode_categories
from .normalization import device_constant, host_batches

__all__ = ["Discretization"]

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


# -- the quantile summary (Keras's algorithm: weighted sorted samples, merged and compressed) ----
def summarize(values, epsilon):
    """A summary of ``values``: every ``step``-th sorted value (about ``1 / epsilon`` of them), each
    standing for ``step`` values. Row 0: the values, row 1: their weights (float32)."""
    values = numpy.sort(numpy.reshape(values, -1))
    step = max(values.size / (1.0 / epsilon), 1)  # values per kept sample
    kept = values[int(step - 1)::int(step)]
    return numpy.stack([kept, numpy.ones_like(kept) * step])


def compress(summary, epsilon):
    """A summary of about ``1 / epsilon`` samples read off ``summary``'s cumulative weights at
    the fractions ``epsilon, 2 epsilon, ..., 1`` (linear interpolation); small ones are kept."""
    if summary.shape[1] * epsilon < 1:
        return summary
    fractions = epsilon + numpy.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    positions = cumulative / cumulative[-1]
    values = numpy.interp(fractions, positions, summary[0])
    reached = numpy.interp(fractions, positions, cumulative)
    weights = reached - numpy.concatenate(([0.0], reached[:-1]))
    return numpy.stack((values, weights)).astype(numpy.float32)


def merge(first, second, epsilon):
    """Two summaries as one, sorted by value, then compressed to ``epsilon``."""
    joined = numpy.concatenate((first, second), axis=1)
    return compress(joined[:, numpy.argsort(joined[0])], epsilon)


class Discretization(_EncodingLayer):
    """Buckets continuous values: with ``bin_boundaries=[b0, b1, ...]`` a value ``x`` goes to
    bucket ``i`` where ``b[i-1] <= x < b[i]`` (bucket 0 below ``b0``, the last at or above the last
    boundary). Without boundaries, ``num_bins`` and :meth:`adapt` estimate them as quantiles of the
    data (an approximate quantile summary of precision ``epsilon``, Keras's algorithm, so the
    boundaries equal Keras's on the same data).

    ``output_mode``: ``"int"`` (bucket ids, int32) or ``"one_hot"``, ``"multi_hot"``, ``"count"``
    (see :class:`CategoryEncoding`). ``sparse=True`` is not supported.
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False, dtype=None,
                 name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise ValueError("Discretization: sparse=True is not supported by gpunet (dense outputs only)")
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"Discretization: output_mode must be one of {list(OUTPUT_MODES)}, got {output_mode!r}")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral)
                                     or num_bins < 1):
            raise ValueError(f"Discretization: num_bins must be a positive int, got {num_bins!r}")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Discretization: give either bin_boundaries or num_bins (then adapt), not both; got "
                             f"bin_boundaries={bin_boundaries!r} and num_bins={num_bins!r}")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("Discretization: give bin_boundaries, or num_bins and then call adapt()")
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not 0 < epsilon < 1:
            raise ValueError(f"Discretization: epsilon must be a number in (0, 1), got {epsilon!r}")
        if bin_boundaries is not None:
            bin_boundaries = self._check_boundaries(bin_boundaries)
        self.bin_boundaries = bin_boundaries
        self.num_bins = num_bins
        self.epsilon = float(epsilon)
        self.output_mode = output_mode
        self.sparse = False
        self.reset_state()

    @staticmethod
    def _check_boundaries(boundaries):
        array = numpy.asarray(boundaries, dtype=numpy.float64)
        if array.ndim != 1 or not numpy.all(numpy.isfinite(array)) or numpy.any(numpy.diff(array) < 0):
            raise ValueError(f"Discretization: bin_boundaries must be a sorted list of finite numbers, got "
                             f"{boundaries!r}")
        return [float(b) for b in array]

    # -- adapt -----------------------------------------------------------------------------------
    def reset_state(self):
        self.summary = numpy.array([[], []], dtype=numpy.float32)

    def update_state(self, data):
        """Merge one batch into the quantile summary."""
        data = numpy.asarray(backend.to_host(data.data if isinstance(data, Tensor) else data)).astype(numpy.float32)
        self.summary = merge(summarize(data, self.epsilon), self.summary, self.epsilon)

    def finalize_state(self):
        if self.num_bins is not None and self.summary.size:
            self.bin_boundaries = [float(b) for b in compress(self.summary, 1.0 / self.num_bins)[0, :-1]]

    def adapt(self, data, steps=None):
        """Estimate ``num_bins - 1`` boundaries from ``data``: an array, or an iterable of batches
        (at most ``steps`` of them), each an array or an ``(x, y)`` pair."""
        if self.num_bins is None:
            raise ValueError("Discretization: adapt() needs num_bins (the layer was given bin_boundaries)")
        self.reset_state()
        for i, batch in enumerate(host_batches(data)):
            if steps is not None and i >= steps:
                break
            self.update_state(batch)
        if not self.summary.size:
            raise ValueError("Discretization.adapt: data holds no values")
        self.finalize_state()

    # -- call ------------------------------------------------------------------------------------
    @property
    def input_dtype(self):
        return backend.floatx()

    @property
    def output_dtype(self):
        return numpy.dtype("int32") if self.output_mode == "int" else self.compute_dtype

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        if self.output_mode == "one_hot":
            if len(input_shape) > 1 and input_shape[-1] == 1:
                return (*input_shape[:-1], depth)
            return (*input_shape, depth)
        return (input_shape[0], *input_shape[2:], depth) if len(input_shape) >= 2 else (depth,)

    def call(self, x):
        if self.bin_boundaries is None:
            raise ValueError(f"Discretization {self.name!r} has no bin boundaries yet: call adapt() first")
        like = x if x.dtype.kind == "f" else ops.cast(x, "float64")
        boundaries = device_constant(self, tuple(self.bin_boundaries), self.bin_boundaries, like)
        indices = ops.digitize(like, boundaries)
        return encode_categories(indices, self.output_mode, len(self.bin_boundaries) + 1, self.output_dtype)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name,
                "dtype": self.dtype_policy.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")  # an adapted layer: keep what it learnt
            layer = cls(**config)
            layer.bin_boundaries = cls._check_boundaries(boundaries)
            return layer
        return cls(**config)
