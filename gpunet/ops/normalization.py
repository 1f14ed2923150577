"""Normalization ops: batch normalization and layer normalization, as Keras 3 computes them.

Both compute ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` and differ in where the
statistics come from:

* ``batch_norm`` (Ioffe and Szegedy 2015): per feature, over every axis but the feature axes. In
  training, the batch's mean and *biased* variance (divided by the count, as Keras), and the
  moving statistics are updated in place, ``moving = moving * momentum + batch_stat * (1 - momentum)``
  for the mean and the variance alike; in inference, the moving statistics (constants for autograd);
* ``layer_norm`` (Ba et al. 2016): per example, over the normalized axes, where gamma and beta live.

The variance is the mean of squared deviations from the mean (two passes), which float32 keeps
accurate however large the mean is, unlike ``E[x^2] - E[x]^2``.

Backward, with ``xhat = (x - mean) * inv``, ``inv = 1 / sqrt(var + epsilon)`` and ``g = gy * gamma``:
``d gamma = sum(gy * xhat)``, ``d beta = sum(gy)`` over the axes gamma does not span; and
``dx = inv * (g - mean(g) - xhat * mean(g * xhat))`` over the statistics' axes when the statistics
come from ``x``, or ``dx = g * inv`` when they are constants (batch norm in inference).

Synchronized batch normalization (several processes, each holding a slice of one global batch):
``sum_over`` sums a flat float64 array over the processes, in place. The forward pass sums the
per-feature counts and sums of ``x`` (the global mean), then the sums of squared deviations from
that mean (the global biased variance): two all-reduces, the two-pass variance of one process. The
backward pass needs the global sums of ``gy`` and ``gy * xhat`` (a third all-reduce). Each
process's ``gy`` is the gradient of *its* mean loss, which the data-parallel step later weights
by its share ``m_r / M`` of the batch (``distributed/step.py``); so the sums are taken weighted,
``S = sum_r m_r s_r``, and process r's input gradient is
``gamma * inv * (gy - (S1 + xhat * S2) / (m_r * M))``, which after that weighting is exactly
one process's gradient over the whole batch. gamma's and beta's gradients stay local sums (the
step averages them like any other weight's).
"""

from __future__ import annotations

import math
import numbers
from math import prod

from ..autograd import Function, Tensor, as_tensor
from ..backend import column_dots, constant_vector, get_array_module, matmul

__all__ = ["batch_norm", "layer_norm"]


def _check_axis(axis):
    """``axis`` as a tuple of ints (an int, or a non-empty list or tuple of them)."""
    axes = (axis,) if isinstance(axis, numbers.Integral) else axis
    if (
        not isinstance(axes, (list, tuple)) or not axes
        or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes)
    ):
        raise ValueError(f"axis must be an int or a non-empty list of ints, got {axis!r}")
    return tuple(int(a) for a in axes)


def _check_number(value, name, low, high=math.inf):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and low <= value <= high):
        bounds = f"in [{low}, {high}]" if high != math.inf else f">= {low}"
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")
    return float(value)


def _resolve_axes(axes, ndim):
    """The axes, each in ``[0, ndim)``, sorted (as Keras sorts them); out of range or repeated: ValueError."""
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for an input with {ndim} dimensions")
    resolved = sorted(a % ndim for a in axes)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"axis {list(axes)} names the same axis twice for an input with {ndim} dimensions")
    return tuple(resolved)


def _leading(x, axes) -> bool:
    """Whether ``axes`` are the leading axes of a contiguous ``x`` (a channels-last batch norm):
    then a sum over them is one matrix-vector product, several times faster than a reduction."""
    return axes == tuple(range(len(axes))) and len(axes) < x.ndim and x.flags.c_contiguous


def _sum(x, axes, other=None):
    """``(x * other).sum(axes, keepdims=True)`` (``x.sum`` when ``other`` is None)."""
    if _leading(x, axes) and (other is None or (other.shape == x.shape and other.flags.c_contiguous)):
        rows = prod(x.shape[a] for a in axes)
        x2 = x.reshape(rows, -1)
        if other is None:
            total = matmul(constant_vector("ones", rows, x.dtype, x), x2)
        else:
            total = column_dots(x2, other.reshape(rows, -1))
        return total.reshape((1,) * len(axes) + x.shape[len(axes):])
    return (x if other is None else x * other).sum(axis=axes, keepdims=True)


def _moments(x, axes):
    """Mean, ``x - mean`` and the biased variance ``mean((x - mean)^2)`` over ``axes`` (kept as 1s)."""
    count = prod(x.shape[a] for a in axes)
    mean = _sum(x, axes) / count
    centered = x - mean
    return mean, centered, _sum(centered, axes, centered) / count


class _Normalization(Function):
    """``gamma * xhat + beta`` and its backward, shared by batch and layer normalization.

    The inputs are ``x``, then ``n_statistics`` constant arrays (batch norm's moving statistics),
    then gamma if ``scale``, then beta if ``center``; gamma and beta span ``param_axes`` of ``x``.
    """

    n_statistics = 0
    sum_over = None  # synchronized batch normalization's sum over the processes (BatchNorm)

    def __init__(self, axis, epsilon, center, scale):
        self.axis = _check_axis(axis)
        self.epsilon = _check_number(epsilon, "epsilon", 0.0)
        self.center = bool(center)
        self.scale = bool(scale)

    def _check_shapes(self, x, param_axes, arrays, names):
        shape = tuple(x.shape[a] for a in param_axes)
        for name, array in zip(names, arrays):
            if array.shape != shape:
                raise ValueError(
                    f"{name} must have the shape {shape} of the input's axes {list(param_axes)} "
                    f"(input shape {x.shape}), got {array.shape}"
                )
        return [n if i in param_axes else 1 for i, n in enumerate(x.shape)]

    def _affine(self, centered, var, affine, param_axes, broadcast, stat_axes):
        """``y = gamma * centered / sqrt(var + epsilon) + beta``; keeps what backward needs.

        ``stat_axes`` are the axes the statistics were taken over when they depend on ``x``,
        None when they are constants. ``centered`` is a fresh array, normalized in place.
        """
        xp = get_array_module(centered)
        dtype = centered.dtype
        inv = 1.0 / xp.sqrt(var + self.epsilon)
        centered *= inv
        xhat = y = centered
        gamma = beta = None
        if self.scale:
            gamma = affine[0].reshape(broadcast).astype(dtype, copy=False)
            y = xhat * gamma
        if self.center:
            beta = affine[-1].reshape(broadcast).astype(dtype, copy=False)
            y = y + beta if y is xhat else xp.add(y, beta, out=y)
        needs = self.needs_input_grad
        first = 1 + self.n_statistics
        need_x, need_gamma = needs[0], self.scale and needs[first]
        self.xhat = xhat if need_gamma or (need_x and stat_axes is not None) else None
        self.inv = inv if need_x else None
        self.gamma = gamma if need_x else None
        self.stat_axes = stat_axes
        self.param_sum_axes = tuple(i for i in range(centered.ndim) if i not in param_axes)
        self.param_dtypes = [a.dtype for a in affine]
        return y

    def _param_sum(self, g, other=None):
        """``(g * other)`` summed to gamma's / beta's shape."""
        total = _sum(g, self.param_sum_axes, other)
        return total.reshape([n for i, n in enumerate(g.shape) if i not in self.param_sum_axes])

    def backward(self, gy):
        if self.stat_axes is not None and self.stat_axes == self.param_sum_axes:
            return self._backward_batch_statistics(gy)
        xp = get_array_module(gy)
        needs = self.needs_input_grad
        grads = [None] * len(needs)
        if needs[0]:
            g = gy if self.gamma is None else gy * self.gamma
            if self.stat_axes is not None:
                xhat, axes = self.xhat, self.stat_axes
                count = prod(g.shape[a] for a in axes)
                mean_g, mean_gx = _sum(g, axes) / count, _sum(g, axes, xhat) / count
                g = g - mean_g if g is gy else xp.subtract(g, mean_g, out=g)  # g is ours unless it is gy
                g -= xhat * mean_gx
            grads[0] = g * self.inv
        i = 1 + self.n_statistics  # gamma's input, then beta's
        if self.scale:
            if needs[i]:
                grads[i] = self._param_sum(gy, self.xhat).astype(self.param_dtypes[0], copy=False)
            i += 1
        if self.center and needs[i]:
            grads[i] = self._param_sum(gy).astype(self.param_dtypes[-1], copy=False)
        return tuple(grads)


    def _backward_batch_statistics(self, gy):
        """Batch normalization in training, where the statistics and gamma/beta span the same axes:
        with ``s1 = sum(gy)`` (beta's gradient) and ``s2 = sum(gy * xhat)`` (gamma's), the input's
        gradient is ``gamma * inv * (gy - s1 / m - xhat * s2 / m)``: two reductions shared by all
        three gradients, four passes over the batch."""
        needs = self.needs_input_grad
        grads = [None] * len(needs)
        axes, xhat = self.stat_axes, self.xhat
        first = 1 + self.n_statistics
        need_gamma = self.scale and needs[first]
        need_beta = self.center and needs[first + self.scale]
        s1 = _sum(gy, axes) if needs[0] or need_beta else None
        s2 = _sum(gy, axes, xhat) if needs[0] or need_gamma else None
        if needs[0]:
            count = prod(gy.shape[a] for a in axes)
            m1, m2 = s1 / count, s2 / count
            if self.sum_over is not None:  # the weighted global sums (see the module docstring)
                local, total = self.counts
                m1, m2 = _summed_over((s1 * local, s2 * local), self.sum_over, gy.dtype)
                m1 /= max(local, 1) * total
                m2 /= max(local, 1) * total
            t = xhat * m2
            t += m1
            gx = gy - t
            gx *= self.inv if self.gamma is None else self.inv * self.gamma
            grads[0] = gx
        shape = [n for i, n in enumerate(gy.shape) if i not in axes]
        if need_gamma:
            grads[first] = s2.reshape(shape).astype(self.param_dtypes[0], copy=False)
        if need_beta:
            grads[first + self.scale] = s1.reshape(shape).astype(self.param_dtypes[-1], copy=False)
        return tuple(grads)


class BatchNorm(_Normalization):
    """Batch normalization over every axis of ``x`` but ``axis`` (the feature axes).

    Inputs: ``x, moving_mean, moving_variance[, gamma][, beta]``. In training, forward updates
    the moving statistics in place, once per call (so once per replay of a recorded tape).
    """

    n_statistics = 2

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, training=False, center=True, scale=True, sum_over=None):
        super().__init__(axis, epsilon, center, scale)
        self.momentum = _check_number(momentum, "momentum", 0.0, 1.0)
        self.training = bool(training)
        if sum_over is not None and not callable(sum_over):
            raise TypeError(f"sum_over must be a function that sums an array over the processes, got {sum_over!r}")
        self.sum_over = sum_over if self.training else None
        self.counts = None  # synchronized: (this process's count per feature, the global count)

    def forward(self, x, moving_mean, moving_variance, *affine):
        features = _resolve_axes(self.axis, x.ndim)
        names = ["moving_mean", "moving_variance"] + ["gamma"] * self.scale + ["beta"] * self.center
        broadcast = self._check_shapes(x, features, (moving_mean, moving_variance, *affine), names)
        if self.training:
            reduce = tuple(i for i in range(x.ndim) if i not in features)
            if self.sum_over is None:
                mean, centered, var = _moments(x, reduce)
            else:
                mean, centered, var = self._global_moments(x, reduce)
            for moving, batch in ((moving_mean, mean), (moving_variance, var)):
                moving[...] = moving * self.momentum + batch.reshape(moving.shape) * (1.0 - self.momentum)
            return self._affine(centered, var, affine, features, broadcast, reduce)
        centered = x - moving_mean.reshape(broadcast).astype(x.dtype, copy=False)
        var = moving_variance.reshape(broadcast).astype(x.dtype, copy=False)
        return self._affine(centered, var, affine, features, broadcast, None)


    def _global_moments(self, x, axes):
        """:func:`_moments` over the slices of every process: the global count and mean first,
        then the sum of squared deviations from that mean (two passes, as in one process)."""
        xp = get_array_module(x)
        local = prod(x.shape[a] for a in axes)
        total, mean = _summed_over((xp.full((1,) * x.ndim, local, dtype=x.dtype), _sum(x, axes)), self.sum_over,
                                   x.dtype)
        total = xp.maximum(total, 1)  # stays where x is: no copy to the host, no wait for the device
        mean /= total
        centered = x - mean
        (var,) = _summed_over((_sum(centered, axes, centered),), self.sum_over, x.dtype)
        var /= total
        self.counts = (local, total)
        return mean, centered, var


def _summed_over(arrays, sum_over, dtype):
    """``arrays`` summed over the processes by ``sum_over``, in one float64 buffer (one message)."""
    xp = get_array_module(*arrays)
    flat = xp.concatenate([a.astype(xp.float64).ravel() for a in arrays])
    sum_over(flat)
    parts, at = [], 0
    for a in arrays:
        parts.append(flat[at:at + a.size].reshape(a.shape).astype(dtype))
        at += a.size
    return parts


class LayerNorm(_Normalization):
    """Layer normalization over ``axis``; inputs ``x[, gamma][, beta]``, gamma and beta spanning ``axis``."""

    def forward(self, x, *affine):
        axes = _resolve_axes(self.axis, x.ndim)
        names = ["gamma"] * self.scale + ["beta"] * self.center
        broadcast = self._check_shapes(x, axes, affine, names)
        _, centered, var = _moments(x, axes)
        return self._affine(centered, var, affine, axes, broadcast, axes)


def _statistic(name, value, x):
    """A moving statistic: a non-trainable Tensor, or an array of the input's backend (updated in place)."""
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise ValueError(f"{name} must be non-trainable (requires_grad=False): no gradient flows into the moving statistics")
        data = value.data
    else:
        data = value
    if not hasattr(data, "dtype") or data.dtype.kind != "f" or get_array_module(data) is not get_array_module(x.data):
        raise ValueError(
            f"{name} must be a floating-point Tensor or array on the input's device (it is updated in place), "
            f"got {type(data).__name__}"
        )
    return value


def batch_norm(x, gamma, beta, moving_mean, moving_variance, axis=-1, momentum=0.99, epsilon=1e-3,
               training=False, sum_over=None) -> Tensor:
    """Batch normalization as Keras 3's ``BatchNormalization``.

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``, per feature, the feature axes given by
    ``axis`` (an int or a list of ints; -1 for channels-last, 1 for channels-first images).
    gamma, beta and the moving statistics have the shape of the feature axes; gamma or beta None
    leaves out the scale or the offset (Keras's ``scale=False`` / ``center=False``).

    With ``training`` true the statistics are the batch's (mean and biased variance over every
    other axis), and ``moving_mean`` and ``moving_variance`` (the non-trainable Parameters, or
    their arrays) are updated in place, once per call:
    ``moving = moving * momentum + batch_stat * (1 - momentum)``. Otherwise the moving statistics
    are used and left unchanged. No gradient flows into them.

    ``sum_over`` (synchronized batch normalization, in training only): a function that sums a
    flat float64 array over the processes in place; the statistics and the input's gradient are
    then those of the global batch, each process holding a slice of it (module docstring).

    >>> x = Tensor(numpy.array([[1.0, 2.0], [3.0, 6.0]]))
    >>> mean, var = Parameter(numpy.zeros(2), trainable=False), Parameter(numpy.ones(2), trainable=False)
    >>> batch_norm(x, None, None, mean, var, training=True, epsilon=0.0).numpy()
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> mean.numpy()  # 0.99 * 0 + 0.01 * [2, 4]
    array([0.02, 0.04])
    """
    x = as_tensor(x)
    stats = [_statistic("moving_mean", moving_mean, x), _statistic("moving_variance", moving_variance, x)]
    affine = [p for p in (gamma, beta) if p is not None]
    op = BatchNorm(axis, momentum, epsilon, training, center=beta is not None, scale=gamma is not None,
                   sum_over=sum_over)
    return op(x, *stats, *affine)


def layer_norm(x, gamma=None, beta=None, axis=-1, epsilon=1e-3) -> Tensor:
    """Layer normalization as Keras 3's ``LayerNormalization``.

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean and biased variance of
    each example over ``axis`` (an int or a list of ints); gamma and beta (either may be None) have
    the shape of those axes, in increasing order: ``axis=[1, 2]`` on ``(N, H, W, C)`` gives ``(H, W)``.

    >>> layer_norm(Tensor(numpy.array([[0.0, 2.0], [1.0, 5.0]])), epsilon=0.0).numpy()
    array([[-1.,  1.],
           [-1.,  1.]])
    """
    affine = [p for p in (gamma, beta) if p is not None]
    return LayerNorm(axis, epsilon, center=beta is not None, scale=gamma is not None)(x, *affine)
