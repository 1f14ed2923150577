"""Function: one differentiable operation, and the backward pass over a graph of them.

A ``Function`` subclass defines two methods on raw backend arrays:

``forward(self, *arrays) -> array``
    computes the output and stores on ``self`` only what ``backward`` will need;
``backward(self, grad_output) -> tuple``
    returns one gradient per input (``None`` where ``self.needs_input_grad[i]`` is False).

Calling a Function instance on tensors runs ``forward`` and, when gradients are wanted, links the
output tensor to the Function, which links to its input tensors: that is the graph.
:func:`backward` walks it once in reverse topological order, iteratively (no recursion, so a chain
of any length works), adds gradients into leaf tensors' ``.grad``, and frees the graph as it goes.
"""

from __future__ import annotations

import functools

from .. import backend
from .tensor import Tensor, as_tensor

__all__ = ["Function", "backward", "no_grad", "enable_grad", "is_grad_enabled", "sum_to_shape"]

_grad_enabled = True
_recorder = None  # set by Tape.record: called with (function, inputs, output) for every op

_FREED = (
    "the graph behind this tensor was already freed by an earlier backward(); "
    "call backward(retain_graph=True) the first time to walk it again"
)


def is_grad_enabled() -> bool:
    """Whether operations currently record a graph for backward."""
    return _grad_enabled


class _GradSwitch:
    """Context manager that sets whether operations record the graph (no hook at construction:
    what the library's own per-step code uses)."""

    _enabled = True

    def __enter__(self):
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = self._enabled
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous
        return False


class recording_off(_GradSwitch):
    """``no_grad`` for the library's own per-step code (``with recording_off():``), without the
    decorator forms, whose check costs a call at every construction."""

    _enabled = False


class _GradMode(_GradSwitch):
    """Context manager (and decorator) that sets whether operations record the graph.

    As ``torch.no_grad``: ``with no_grad():``, ``@no_grad()`` and the bare ``@no_grad`` all work.
    """

    def __new__(cls, func=None):
        mode = super().__new__(cls)
        if func is None:
            return mode
        if not callable(func):
            raise TypeError(f"{cls.__name__}() takes no argument but the function it decorates, got {type(func).__name__}")
        return mode(func)  # the bare decorator: @no_grad

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Inside ``with gpunet.no_grad():`` no graph is recorded (evaluation, weight updates)."""

    _enabled = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` block."""

    _enabled = True


class Function:
    """Base class of differentiable operations (see the module docstring for the contract)."""

    inputs: tuple | None = None
    needs_input_grad: tuple = ()

    def __call__(self, *inputs) -> Tensor:
        if not all(isinstance(x, Tensor) for x in inputs):
            like = next((x for x in inputs if isinstance(x, Tensor)), None)
            inputs = tuple(x if isinstance(x, Tensor) else as_tensor(x, like=like) for x in inputs)
        if _grad_enabled:
            needs = tuple([t.requires_grad for t in inputs])
            if True in needs:
                self.needs_input_grad = needs
                out = Tensor._result(self.forward(*[t.data for t in inputs]), self)
                self.inputs = inputs
                if _recorder is not None:
                    _recorder(self, inputs, out)
                return out
        self.needs_input_grad = (False,) * len(inputs)
        out = Tensor._result(self.forward(*[t.data for t in inputs]), None)
        if _recorder is not None:
            _recorder(self, inputs, out)
        return out

    def forward(self, *arrays):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, grad_output):  # pragma: no cover - interface
        raise NotImplementedError

    def release(self) -> None:
        """Drop the inputs and everything saved for backward (called once backward has run)."""
        self.__dict__.clear()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back to ``shape`` (the reverse of NumPy broadcasting)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if extra:
        grad = grad.reshape(shape)
    return grad


def _topological_order(root: Function) -> list:
    """Functions reachable from ``root``, each after every Function that produced one of its inputs.

    An iterative depth-first post-order: a Function is marked when it is expanded (not when it is
    pushed), so one reached again through a deeper path is still finished before its consumers.
    """
    order = []
    expanded = set()
    stack = [(root, False)]
    while stack:
        fn, done = stack.pop()
        if done:
            order.append(fn)
            continue
        if fn in expanded:
            continue
        if fn.inputs is None:
            raise RuntimeError(_FREED)
        expanded.add(fn)
        stack.append((fn, True))
        for t in fn.inputs:
            creator = t.creator
            if creator is not None and creator not in expanded:
                stack.append((creator, False))
    return order


def backward(tensor: Tensor, grad=None, retain_graph: bool = False) -> None:
    """Compute d(tensor)/d(leaf) for every leaf that requires grad, adding into ``leaf.grad``.

    ``grad`` is the gradient of some scalar with respect to ``tensor``; it defaults to 1 for a
    tensor with a single element. Unless ``retain_graph`` is true the graph is freed afterwards.
    """
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward() was called on a tensor that does not require grad: none of its inputs "
            "had requires_grad=True, or it was computed under no_grad()"
        )
    data = tensor.data
    xp = backend.get_array_module(data)
    if grad is None:
        if data.size != 1:
            raise RuntimeError(
                f"grad can be omitted only for a tensor with one element; this one has shape {data.shape}"
            )
        grad = xp.ones_like(data)
    else:
        grad = backend.on_device_of(grad, data).astype(data.dtype, copy=False)
        if grad.shape != data.shape:
            raise ValueError(f"grad must have the tensor's shape {data.shape}, got {grad.shape}")
    root = tensor.creator
    if root is None:
        _accumulate(tensor, grad)
        return
    order = _topological_order(root)
    grads = {root: grad}
    for fn in reversed(order):
        grad_output = grads.pop(fn)
        for t, g in zip(fn.inputs, fn.backward(grad_output)):
            if g is None or not t.requires_grad:
                continue
            creator = t.creator
            if creator is None:
                _accumulate(t, g)
            elif creator in grads:
                grads[creator] = grads[creator] + g
            else:
                grads[creator] = g
        if not retain_graph:
            fn.release()


def _accumulate(leaf: Tensor, grad) -> None:
    leaf.grad = grad if leaf.grad is None else leaf.grad + grad


def _tensor_backward(self, grad=None, retain_graph: bool = False) -> None:
    """Back-propagate from this tensor; see :func:`gpunet.autograd.backward`."""
    backward(self, grad, retain_graph)


Tensor.backward = _tensor_backward
