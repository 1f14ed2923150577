"""Merge layers: combine a list of tensors (Keras 3's ``Add``, ``Concatenate``, ``Dot``, ...), and
their functional forms (``add([a, b])``), plus ``Lambda``.

The elementwise merges (Add, Subtract, Multiply, Average, Maximum, Minimum) follow Keras's rules:
the inputs' batch sizes must agree; the other dimensions broadcast from the right (a dimension of
1 or None fits any); an input of lower rank gets new axes of length 1 right after the batch axis
(not before it, as NumPy's broadcasting would), so ``(batch, 4)`` merges with ``(batch, 3, 4)``.
Everything is computed with gpunet's differentiable ops.
"""

from __future__ import annotations

import numbers

from .. import ops, tree
from ..autograd import Function, Tensor, as_tensor
from ..backend import get_array_module
from .base import Layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "Lambda",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


def _check_list(layer, input_shape, at_least: int = 1) -> list:
    if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
            isinstance(s, (list, tuple)) for s in input_shape):
        raise ValueError(f"A {type(layer).__name__} layer should be called on a list of inputs; got input_shape={input_shape!r}")
    if len(input_shape) < at_least:
        raise ValueError(f"A {type(layer).__name__} layer should be called on a list of at least {at_least} inputs; got "
                         f"{len(input_shape)}")
    return [tuple(s) for s in input_shape]


def _broadcast(shape1, shape2) -> tuple:
    """Keras's elementwise output shape of two shapes without their batch axis (right-aligned)."""
    if len(shape1) < len(shape2):
        shape1, shape2 = shape2, shape1
    out = list(shape1[:len(shape1) - len(shape2)])
    for i, j in zip(shape1[len(shape1) - len(shape2):], shape2):
        if i is None or j is None:
            out.append(None)
        elif i == 1:
            out.append(j)
        elif j == 1 or i == j:
            out.append(i)
        else:
            raise ValueError(f"Inputs have incompatible shapes. Received shapes {tuple(shape1)} and {tuple(shape2)}")
    return tuple(out)


def _joined_mask(masks):
    """The elementwise AND of the masks given (None ones left out), or None."""
    if masks is None:
        return None
    present = [m for m in tree.flatten(masks) if m is not None]
    if not present:
        return None
    joined = present[0]
    for other in present[1:]:
        joined = ops.logical_and(joined, other)
    return joined


class _Merge(Layer):
    """An elementwise merge of a list of tensors (see the module docstring for the shape rules)."""

    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """The masks of the inputs joined: a step counts where it counts in every input (Keras's)."""
        return _joined_mask(mask)

    supports_recording = True
    exact_inputs = None  # Subtract takes exactly 2

    def _output_shape(self, input_shape) -> tuple:
        shapes = _check_list(self, input_shape)
        if self.exact_inputs is not None and len(shapes) != self.exact_inputs:
            raise ValueError(f"A {type(self).__name__} layer should be called on exactly {self.exact_inputs} inputs; got "
                             f"{len(shapes)} (input_shape={[list(s) for s in shapes]})")
        batches = {s[0] for s in shapes if s and s[0] is not None}
        if len(batches) > 1:
            raise ValueError(f"Cannot merge tensors with different batch sizes. Received tensors with shapes {shapes}")
        out = shapes[0][1:]
        for shape in shapes[1:]:
            out = _broadcast(out, shape[1:])
        return (batches.pop() if batches else None, *out)

    def build(self, input_shape):
        self._output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape)

    def call(self, inputs, training=False):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A {type(self).__name__} layer should be called on a list of inputs, got "
                             f"{type(inputs).__name__}")
        inputs = [as_tensor(x) for x in inputs]
        self._output_shape([(None, *x.shape[1:]) for x in inputs])
        rank = max(x.ndim for x in inputs)
        inputs = [x if x.ndim == rank else ops.reshape(x, (x.shape[0], *([1] * (rank - x.ndim)), *x.shape[1:]))
                  for x in inputs]
        return self.merge(inputs)

    def merge(self, inputs):  # pragma: no cover - interface
        raise NotImplementedError


def _reduce(fn, inputs):
    out = inputs[0]
    for x in inputs[1:]:
        out = fn(out, x)
    return out


class Add(_Merge):
    """The sum of the inputs: ``Add()([a, b, c])``."""

    def merge(self, inputs):
        return _reduce(ops.add, inputs)


class Subtract(_Merge):
    """``a - b`` for exactly two inputs ``[a, b]``."""

    exact_inputs = 2

    def merge(self, inputs):
        return ops.sub(inputs[0], inputs[1])


class Multiply(_Merge):
    """The elementwise product of the inputs."""

    def merge(self, inputs):
        return _reduce(ops.mul, inputs)


class Average(_Merge):
    """The elementwise mean of the inputs."""

    def merge(self, inputs):
        return ops.div(_reduce(ops.add, inputs), float(len(inputs)))


class Maximum(_Merge):
    """The elementwise maximum of the inputs (at ties the gradient is shared)."""

    def merge(self, inputs):
        return _reduce(ops.maximum, inputs)


class Minimum(_Merge):
    """The elementwise minimum of the inputs, ``-max(-a, -b)`` (at ties the gradient is shared)."""

    def merge(self, inputs):
        return ops.neg(_reduce(ops.maximum, [ops.neg(x) for x in inputs]))


class _Concatenate(Function):
    """Join arrays along one axis; backward hands each input its slice of the gradient."""

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, *arrays):
        self.sizes = [a.shape[self.axis] for a in arrays]
        return get_array_module(*arrays).concatenate(arrays, axis=self.axis)

    def backward(self, gy):
        grads, start = [], 0
        for size, needed in zip(self.sizes, self.needs_input_grad):
            index = [slice(None)] * gy.ndim
            index[self.axis] = slice(start, start + size)
            grads.append(gy[tuple(index)] if needed else None)
            start += size
        return tuple(grads)


def concatenate_tensors(tensors, axis: int = -1) -> Tensor:
    """Differentiable concatenation of Tensors along ``axis`` (used until ``gpunet.ops`` has one)."""
    tensors = [as_tensor(t) for t in tensors]
    ndim = tensors[0].ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"concatenate: axis {axis} is out of range for inputs of rank {ndim}")
    return _Concatenate(axis % ndim)(*tensors)


class Concatenate(Layer):
    """Join a list of inputs along ``axis`` (default the last); the other dimensions must match.

    Example: ``Concatenate()([a, b])`` with shapes ``(None, 3)`` and ``(None, 5)`` gives ``(None, 8)``.
    """

    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """Per-step masks of the inputs, joined (a step counts where it counts in every input that
        has a mask): Keras's rule when the inputs are joined along their last axis."""
        return _joined_mask(mask)

    supports_recording = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ValueError(f"Concatenate: axis must be an integer, got {axis!r}")
        self.axis = int(axis)

    def _output_shape(self, input_shape) -> tuple:
        shapes = _check_list(self, input_shape)
        ranks = {len(s) for s in shapes}
        rank = len(shapes[0])
        if len(ranks) != 1 or not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"A Concatenate layer requires inputs of one rank, and an axis other than the batch axis; "
                             f"got axis={self.axis} and input_shape={[list(s) for s in shapes]}")
        axis = self.axis % rank
        out = list(shapes[0])
        for shape in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, shape)):
                if i == axis:
                    continue
                if a is not None and b is not None and a != b:
                    raise ValueError(f"A Concatenate layer requires inputs with matching shapes except for the "
                                     f"concatenation axis {self.axis}; got input_shape={[list(s) for s in shapes]}")
                out[i] = a if a is not None else b
        sizes = [s[axis] for s in shapes]
        out[axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def build(self, input_shape):
        self._output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape)

    def call(self, inputs, training=False):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A Concatenate layer should be called on a list of inputs, got {type(inputs).__name__}")
        inputs = [as_tensor(x) for x in inputs]
        self._output_shape([(None, *x.shape[1:]) for x in inputs])
        return concatenate_tensors(inputs, self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _l2_normalize(x, axis):
    """``x / sqrt(max(sum(x**2, axis), 1e-12))``, Keras's ``normalize``."""
    squares = ops.sum(ops.mul(x, x), axis, True)
    return ops.div(x, ops.pow(ops.maximum(squares, 1e-12), 0.5))


class Dot(Layer):
    """The dot product of two inputs along ``axes`` (Keras's ``batch_dot``): an int for the same
    axis of both, or a pair ``(axis of a, axis of b)``; ``normalize=True`` L2-normalizes both along
    those axes first (a cosine similarity). ``(batch, n)`` and ``(batch, n)`` give ``(batch, 1)``."""

    supports_recording = True

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
            axes = int(axes)
        elif isinstance(axes, (list, tuple)) and len(axes) == 2 and all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes):
            axes = [int(a) for a in axes]
        else:
            raise TypeError(f"Dot: axes must be an integer or a list of two integers, got {axes!r}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _resolve(self, shape1, shape2) -> list:
        if isinstance(self.axes, int):
            axes = [self.axes % len(shape1), self.axes % len(shape2)] if self.axes < 0 else [self.axes] * 2
        else:
            axes = [a % len(s) if a < 0 else a for a, s in zip(self.axes, (shape1, shape2))]
        if not (0 < axes[0] < len(shape1) and 0 < axes[1] < len(shape2)):
            raise ValueError(f"Dot: axes {self.axes} do not name a non-batch axis of the inputs of shapes {tuple(shape1)} "
                             f"and {tuple(shape2)}")
        return axes

    def _output_shape(self, input_shape) -> tuple:
        shapes = _check_list(self, input_shape)
        if len(shapes) != 2:
            raise ValueError(f"A Dot layer should be called on a list of 2 inputs; got {len(shapes)}")
        shape1, shape2 = list(shapes[0]), list(shapes[1])
        axes = self._resolve(shape1, shape2)
        if shape1[axes[0]] is not None and shape2[axes[1]] is not None and shape1[axes[0]] != shape2[axes[1]]:
            raise ValueError(f"Dot: incompatible input shapes: axis values {shape1[axes[0]]} (at axis {axes[0]}) != "
                             f"{shape2[axes[1]]} (at axis {axes[1]}); full input shapes: {tuple(shape1)}, {tuple(shape2)}")
        shape1.pop(axes[0])
        shape2.pop(axes[1])
        shape2.pop(0)
        out = shape1 + shape2
        return tuple(out + [1] if len(out) == 1 else out)

    def build(self, input_shape):
        self._output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape)

    def call(self, inputs, training=False):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("A Dot layer should be called on a list of 2 inputs")
        x, y = (as_tensor(t) for t in inputs)
        out_shape = self._output_shape([(None, *x.shape[1:]), (None, *y.shape[1:])])
        ax, ay = self._resolve(x.shape, y.shape)
        if self.normalize:
            x, y = _l2_normalize(x, ax), _l2_normalize(y, ay)
        # x -> (batch, rest of x, k), y -> (batch, k, rest of y): one batched matrix product
        x = ops.transpose(x, tuple(i for i in range(x.ndim) if i != ax) + (ax,))
        y = ops.transpose(y, (0, ay) + tuple(i for i in range(1, y.ndim) if i != ay))
        batch, k = x.shape[0], x.shape[-1]
        rows = _prod(x.shape[1:-1])
        cols = _prod(y.shape[2:])
        product = ops.matmul(ops.reshape(x, (batch, rows, k)), ops.reshape(y, (batch, k, cols)))
        return ops.reshape(product, (batch, *out_shape[1:]))

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


class Lambda(Layer):
    """Wrap a function of Tensors as a layer: ``Lambda(lambda x: x * 2)``; ``arguments`` (a dict)
    are passed to it as keywords, ``output_shape`` (a shape or a function of the input shape)
    spares tracing it. A Lambda holds Python code, so it cannot be written to a model file:
    subclass ``Layer`` for a layer to save."""

    loadable = False

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got {function!r}")
        if mask is not None:
            raise ValueError("Lambda: mask is not supported by gpunet")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: arguments must be a dict, got {type(arguments).__name__}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._given_output_shape = output_shape

    def compute_output_shape(self, input_shape):
        given = self._given_output_shape
        if given is None:
            return super().compute_output_shape(input_shape)
        if callable(given):
            return tuple(given(input_shape))
        return (input_shape[0], *tuple(given)) if len(tuple(given)) < len(input_shape) else tuple(given)

    def compute_output_spec(self, *args, **kwargs):
        if self._given_output_shape is None:
            from .symbolic import trace_output_spec  # noqa: PLC0415
            return trace_output_spec(self, args, kwargs)
        return super().compute_output_spec(*args, **kwargs)

    def call(self, inputs, training=False):
        return self.function(inputs, **self.arguments)

    def get_config(self):
        raise ValueError(f"Lambda layer {self.name!r} holds Python code and cannot be saved in a config; subclass "
                         "gpunet.layers.Layer (and register it) for a layer that can be saved")


def _functional(cls):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = f"``{cls.__name__}(**kwargs)(inputs)``: the functional form of :class:`{cls.__name__}`."
    return merge


add, subtract, multiply, average, maximum, minimum = (
    _functional(c) for c in (Add, Subtract, Multiply, Average, Maximum, Minimum))


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """``Dot(axes, normalize, **kwargs)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
