"""Finite-difference gradient check, in float64."""

from __future__ import annotations

import numpy

from .. import backend
from .function import no_grad
from .tensor import Tensor

__all__ = ["gradcheck"]


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-5, seed: int = 0) -> bool:
    """Check the gradients of ``fn`` against central finite differences, in float64.

    ``inputs`` is a sequence of Tensors or arrays. Floating-point inputs are copied to float64 and
    checked (a Tensor given with ``requires_grad=False`` is held constant, so are integer inputs
    such as labels). ``fn(*tensors)`` must return a Tensor; it is reduced to the scalar
    ``sum(w * fn(...))`` with fixed random weights ``w``, so every output element takes part.

    Each element ``x_i`` of each checked input is compared as
    ``|analytic_i - numeric_i| <= atol + rtol * |numeric_i|`` with
    ``numeric_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``.
    Returns True, or raises ``AssertionError`` naming the input and its worst element.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(inputs, (Tensor,)) or not isinstance(inputs, (list, tuple)):
        raise TypeError("inputs must be a list or tuple of Tensors or arrays")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")

    tensors, checked = [], []
    for i, x in enumerate(inputs):
        wants = x.requires_grad if isinstance(x, Tensor) else True
        data = x.data if isinstance(x, Tensor) else backend.to_device(x)
        if data.dtype.kind == "f":
            data = data.astype(numpy.float64)  # a copy: the caller's arrays are never touched
            t = Tensor(data, requires_grad=wants)
            if wants:
                checked.append(i)
        else:
            t = Tensor(data)
        tensors.append(t)
    if not checked:
        raise ValueError("gradcheck needs at least one floating-point input that requires grad")

    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"fn must return a Tensor, got {type(out).__name__}")
    if not out.requires_grad:
        raise AssertionError("fn's output does not depend on any checked input (requires_grad is False)")
    xp = backend.get_array_module(out.data)
    weights = xp.asarray(numpy.random.default_rng(seed).standard_normal(out.shape))
    out.backward(weights.astype(out.dtype))

    def objective() -> float:
        with no_grad():
            return float((fn(*tensors).data * weights).sum())

    for i in checked:
        t = tensors[i]
        analytic = t.grad if t.grad is not None else xp.zeros_like(t.data)
        flat = t.data.reshape(-1)  # a view: perturbations reach the tensor
        numeric = numpy.empty(flat.size)
        for k in range(flat.size):
            original = flat[k].item()
            flat[k] = original + eps
            f_plus = objective()
            flat[k] = original - eps
            f_minus = objective()
            flat[k] = original
            numeric[k] = (f_plus - f_minus) / (2 * eps)
        analytic = backend.to_host(analytic).astype(numpy.float64).reshape(-1)
        if analytic.size != numeric.size:
            raise AssertionError(f"input {i}: gradient has {analytic.size} elements, input has {numeric.size}")
        excess = numpy.abs(analytic - numeric) - (atol + rtol * numpy.abs(numeric))
        if not numpy.all(numpy.isfinite(analytic)):
            worst = int(numpy.argmin(numpy.isfinite(analytic)))
        else:
            worst = int(numpy.argmax(excess))
        if not numpy.isfinite(analytic[worst]) or excess[worst] > 0:
            index = numpy.unravel_index(worst, t.shape) if t.shape else ()
            label = f"input {i}" + (f" ({inputs[i].name!r})" if getattr(inputs[i], "name", None) else "")
            raise AssertionError(
                f"gradcheck failed for {label} of shape {tuple(t.shape)} at element {tuple(int(j) for j in index)}: "
                f"analytic {analytic[worst]:.10g}, numeric {numeric[worst]:.10g}, "
                f"difference {abs(analytic[worst] - numeric[worst]):.3g} > atol {atol:g} + rtol {rtol:g} * |numeric|"
            )
    return True
