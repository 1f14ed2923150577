"""Symbolic tensors and the nodes of the functional API (Keras 3's ``KerasTensor`` and ``Node``).

``gpunet.Input(...)`` returns a :class:`KerasTensor`: a shape (batch dimension first, None where
unknown), a dtype and a name, no values. Calling a layer, or one of :mod:`gpunet.ops`, on
KerasTensors computes nothing: it builds the layer for the inputs' shapes, works out the output
shapes (:meth:`Layer.compute_output_spec`), and records a :class:`Node` (who was called, on what,
giving what). Each KerasTensor remembers the node that made it (``_keras_history``: operation,
node index, tensor index), so that ``gpunet.Model(inputs, outputs)`` can walk back from the
outputs to the inputs and replay the calls on real Tensors.

Output shapes come from a layer's ``compute_output_shape`` when it defines one; otherwise the call
is traced twice on zeros, with the unknown dimensions set to two different sizes (the batch to 2
and 3): the output dimensions that differ between the two traces are the unknown ones.
"""

from __future__ import annotations

import itertools

from .. import backend, ops, tree
from ..autograd import Tensor, no_grad

__all__ = ["KerasTensor", "Node", "SymbolicOp", "symbolic_call", "record_op", "holds_symbolic", "is_keras_tensor", "trace_output_spec",
           "call_layer"]

_tensor_names = itertools.count()
_TRACE_SIZES = ((2, 8), (3, 12))  # (batch, other unknown dimension) of the two traces


class KerasTensor:
    """A symbolic tensor of the functional API: ``shape``, ``dtype`` (a string such as
    ``"float32"``), ``ndim`` and ``name``; Python's operators and :mod:`gpunet.ops` applied to it
    are recorded in the graph rather than computed."""

    __array_priority__ = 2000
    __array_ufunc__ = None

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = _dtype_name(dtype)
        self.name = name if name is not None else f"keras_tensor_{next(_tensor_names)}"
        self._keras_history = None  # (operation, node_index, tensor_index), set by the Node that makes it
        ops.symbolic_dispatch.active = True

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __bool__(self):
        raise TypeError("a symbolic KerasTensor has no value, so it cannot be used as a boolean (in an `if`, "
                        "`and`, `or`); compute on real tensors inside a layer's call() instead")

    def __array__(self, *args, **kwargs):
        raise TypeError(f"a symbolic KerasTensor ({self.name!r}) has no values to turn into an array; call the model "
                        "on data to get values")

    def __len__(self):
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"len() of KerasTensor {self.name!r} with shape {self.shape}: its first dimension is unknown")
        return self.shape[0]

    def __iter__(self):
        raise TypeError(f"a symbolic KerasTensor ({self.name!r}) cannot be iterated")

    __hash__ = object.__hash__

    # Python's operators, recorded through the Keras-named ops Keras's own KerasTensor uses
    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.subtract(self, other)
    def __rsub__(self, other): return ops.subtract(other, self)
    def __mul__(self, other): return ops.multiply(self, other)
    def __rmul__(self, other): return ops.multiply(other, self)
    def __truediv__(self, other): return ops.true_divide(self, other)
    def __rtruediv__(self, other): return ops.true_divide(other, self)
    def __neg__(self): return ops.negative(self)
    def __pow__(self, other): return ops.power(self, other)
    def __rpow__(self, other): return ops.power(other, self)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def __getitem__(self, index): return ops.get_item(self, index)

    @property
    def T(self):  # noqa: N802 - NumPy's name
        return ops.transpose(self)

    def sum(self, axis=None, keepdims=False):
        return ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return ops.mean(self, axis, keepdims)

    def reshape(self, *shape):
        return ops.reshape(self, *shape)

    def transpose(self, *axes):
        return ops.transpose(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else (axes or None))


def is_string_dtype(dtype) -> bool:
    """Whether ``dtype`` names strings (Keras's ``"string"``, or NumPy's ``str``/``bytes``/``object``)."""
    import numpy  # noqa: PLC0415

    if isinstance(dtype, str) and dtype == "string":
        return True
    try:
        return dtype is not None and not isinstance(dtype, str) and numpy.dtype(dtype).kind in "USO"
    except TypeError:
        return False


def _dtype_name(dtype) -> str:
    import numpy  # noqa: PLC0415

    if is_string_dtype(dtype):
        return "string"
    return numpy.dtype(backend.floatx() if dtype is None else getattr(dtype, "name", dtype)).name


def is_keras_tensor(x) -> bool:
    """Whether ``x`` is a symbolic tensor of the functional API (Keras's ``keras.utils.is_keras_tensor``)."""
    return isinstance(x, KerasTensor)


def holds_symbolic(args, kwargs=None) -> bool:
    """Whether a KerasTensor is among ``args`` and ``kwargs``' values, lists, tuples and dicts included."""
    stack = list(args)
    if kwargs:
        stack.extend(kwargs.values())
    while stack:
        item = stack.pop()
        if isinstance(item, KerasTensor):
            return True
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


class Node:
    """One call of an operation (a layer or an op) in the functional graph: the call's arguments
    (KerasTensors where tensors were passed), the KerasTensors it read (``input_tensors``, flat
    order of ``(args, kwargs)``) and those it gave (``outputs``, the nest the call returned)."""

    def __init__(self, operation, call_args=(), call_kwargs=None, outputs=None):
        self.operation = operation
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.outputs = outputs
        self.input_tensors = [t for t in tree.flatten((list(self.call_args), self.call_kwargs)) if isinstance(t, KerasTensor)]
        self.output_tensors = [t for t in tree.flatten(outputs) if isinstance(t, KerasTensor)]
        nodes = operation.__dict__.setdefault("_inbound_nodes", [])
        nodes.append(self)
        index = len(nodes) - 1
        for i, tensor in enumerate(self.output_tensors):
            tensor._keras_history = (operation, index, i)

    @property
    def is_input(self) -> bool:
        return not self.input_tensors

    @property
    def parent_nodes(self) -> list:
        """The nodes that made this node's inputs."""
        return [t._keras_history[0]._inbound_nodes[t._keras_history[1]] for t in self.input_tensors]

    def __repr__(self) -> str:
        return f"<Node of {getattr(self.operation, 'name', self.operation)!r}: {len(self.input_tensors)} inputs>"


class SymbolicOp:
    """A call of a :mod:`gpunet.ops` function recorded in a functional graph (Keras records its
    ops as operations too); calling it runs the function on real Tensors. Named as Keras names
    the operation (``multiply``, ``get_item``...), from the same counter as layers."""

    def __init__(self, fn, name=None):
        from ..ops.keras_ops import keras_op  # noqa: PLC0415
        from ..saving.keras_weights import snake_case  # noqa: PLC0415
        from .base import unique_name  # noqa: PLC0415

        self.fn = fn
        keras = keras_op(fn)
        self.name = name or unique_name(snake_case(keras[1]) if keras else getattr(fn, "__name__", "op"))
        self._inbound_nodes = []

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<SymbolicOp {self.name}>"


def _concrete(value, fill):
    """Zeros standing for a KerasTensor in a trace (unknown dimensions set from ``fill``)."""
    if not isinstance(value, KerasTensor):
        return value
    batch, other = fill
    shape = tuple((batch if i == 0 else other) if d is None else d for i, d in enumerate(value.shape))
    return Tensor._result(backend.array_module().zeros(shape, dtype=value.dtype), None)


def trace_output_spec(fn, args, kwargs):
    """The output KerasTensors of ``fn(*args, **kwargs)``, learnt by running it twice on zeros
    (no gradients, no losses kept); dimensions that differ between the traces are unknown."""
    import numpy  # noqa: PLC0415

    from .calls import discard_losses  # noqa: PLC0415

    results = []
    for fill in _TRACE_SIZES:
        call_args, call_kwargs = tree.map_structure(lambda v, f=fill: _concrete(v, f), (list(args), dict(kwargs)))
        with no_grad(), discard_losses(), numpy.errstate(all="ignore"):  # zeros may divide by zero: no values kept
            results.append(fn(*call_args, **call_kwargs))

    def merge(a, b):
        if not isinstance(a, Tensor):
            raise TypeError(f"{getattr(fn, '__name__', fn)} returned {type(a).__name__} on symbolic inputs; the "
                            "functional API needs Tensors (or lists, tuples and dicts of them)")
        shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
        return KerasTensor(shape, a.dtype)

    return tree.map_structure(merge, results[0], results[1])


def symbolic_call(fn, *args, **kwargs):
    """Record ``fn(*args, **kwargs)`` (a gpunet op given KerasTensors) as a node of the functional
    graph and return its symbolic outputs. :mod:`gpunet.ops` calls it for every public op."""
    return record_op(fn, args, kwargs)


def record_op(fn, args, kwargs, name=None):
    """:func:`symbolic_call` with the operation's ``name`` chosen (a config being read keeps its names)."""
    operation = SymbolicOp(getattr(fn, "__wrapped__", fn), name=name)
    outputs = trace_output_spec(operation.fn, args, kwargs)
    Node(operation, args, kwargs, outputs)
    return outputs


def call_layer(layer, args, kwargs):
    """``layer(*args, **kwargs)`` on symbolic inputs: build the layer for the first argument's
    shapes, work out its outputs (:meth:`~gpunet.layers.Layer.compute_output_spec`), record the
    node and return the outputs."""
    if not args:
        raise TypeError(f"layer {layer.name!r} must be called with its inputs as the first argument")
    shapes = tree.map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else
                                (None, *getattr(t, "shape", ())[1:]), args[0])
    layer.ensure_built(shapes)
    outputs = layer.compute_output_spec(*args, **kwargs)
    Node(layer, args, kwargs, outputs)
    return outputs


ops.symbolic_dispatch.holds = holds_symbolic
ops.symbolic_dispatch.call = symbolic_call
