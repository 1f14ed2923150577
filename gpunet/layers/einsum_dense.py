"""EinsumDense: a dense layer whose product is an einsum equation (Keras 3's layer, weights and config)."""

from __future__ import annotations

import re

from .. import activations, initializers, ops
from .base import refuse_unsupported
from .core import _KernelLayer

__all__ = ["EinsumDense", "analyze_equation"]

_LABELS = "[a-zA-Z]"
# (pattern, where the ellipsis stands): "ab,bc->ac", "...b,bc->...c", "ab...,bc->ac..."
_FORMS = (
    (re.compile(rf"^({_LABELS}+),({_LABELS}+)->({_LABELS}+)$"), None),
    (re.compile(rf"^\.\.\.({_LABELS}+),({_LABELS}+)->\.\.\.({_LABELS}+)$"), "left"),
    (re.compile(rf"^({_LABELS}{{2,}})\.\.\.,({_LABELS}+)->({_LABELS}+)\.\.\.$"), "right"),
)


def _parse(equation):
    """``(input labels, kernel labels, output labels, where the ellipsis stands)`` of an equation."""
    for pattern, ellipsis in _FORMS:
        found = pattern.match(equation) if isinstance(equation, str) else None
        if found:
            break
    else:
        raise ValueError(f"EinsumDense: equation must read 'X,Y->Z', '...X,Y->...Z' or 'X...,Y->Z...' with letters "
                         f"for X, Y, Z, got {equation!r}")
    labels = found.groups()
    for part, what in zip(labels, ("input", "kernel", "output")):
        if len(set(part)) != len(part):
            raise ValueError(f"EinsumDense: equation {equation!r} repeats a label in its {what} part")
    return (*labels, ellipsis)


def analyze_equation(equation: str, bias_axes, input_shape, output_shape):
    """The shapes an ``EinsumDense(equation, output_shape, bias_axes)`` layer has on inputs of
    ``input_shape`` (batch first): ``(kernel_shape, bias_shape or None, full_output_shape,
    input_axes, output_axes)``, the last two the kernel's axes that the input and the output
    share (the fans of a variance-scaling initializer).

    The full output shape is the batch dimension, the dimensions the ellipsis stands for (taken
    from the input) and ``output_shape`` in the order the equation writes them; an unknown
    (None) output dimension whose label the input has is taken from the input. A kernel label is
    sized by the output when the output has it, else by the input. The bias spans the output's
    labels from the first one in ``bias_axes`` to the last, 1 on those not in ``bias_axes`` (and
    on the dimensions an ellipsis on the right stands for), so that it broadcasts."""
    input_spec, kernel_spec, output_spec, ellipsis = _parse(equation)
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(input_spec)
    if elided < 0 or (ellipsis is None and elided):
        raise ValueError(f"EinsumDense: equation {equation!r} does not fit inputs of shape {input_shape}")
    partial = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    expected = len(output_spec) - (1 if ellipsis is None or ellipsis == "right" else 0)
    if len(partial) != expected:
        raise ValueError(f"EinsumDense: output_shape must give {expected} dimension(s) for equation {equation!r} "
                         f"(the batch and ellipsis dimensions excluded), got {tuple(partial)}")
    if ellipsis == "left":
        full = [*input_shape[:elided], *partial]
        first_in, first_out = elided, elided
    elif ellipsis == "right":
        full = [input_shape[0], *partial, *input_shape[len(input_shape) - elided:]]
        first_in = first_out = 0
    else:
        full = [input_shape[0], *partial]
        first_in = first_out = 0
    in_dim = {c: input_shape[first_in + i] for i, c in enumerate(input_spec)}
    out_at = {c: first_out + i for i, c in enumerate(output_spec)}
    for c, at in out_at.items():
        if c in in_dim:
            if full[at] is not None and in_dim[c] is not None and full[at] != in_dim[c]:
                raise ValueError(f"EinsumDense: the input has {in_dim[c]} along {c!r} of {equation!r}, output_shape "
                                 f"says {full[at]}")
            if full[at] is None:
                full[at] = in_dim[c]
        elif c not in kernel_spec:
            raise ValueError(f"EinsumDense: output label {c!r} of {equation!r} is in neither the input nor the kernel")
    kernel_shape, input_axes, output_axes = [], [], []
    for i, c in enumerate(kernel_spec):
        if c in out_at:
            kernel_shape.append(full[out_at[c]])
            output_axes.append(i)
        elif c in in_dim:
            kernel_shape.append(in_dim[c])
            input_axes.append(i)
        else:
            raise ValueError(f"EinsumDense: kernel label {c!r} of {equation!r} is in neither the input nor the output")
        if kernel_shape[-1] is None:
            raise ValueError(f"EinsumDense: the kernel's dimension {c!r} of {equation!r} is unknown (give it in "
                             f"output_shape, or an input with that dimension known)")
    bias_shape = None
    if bias_axes is not None:
        bias_axes = str(bias_axes)
        for c in bias_axes:
            if c not in output_spec:
                raise ValueError(f"EinsumDense: bias_axes {bias_axes!r} names {c!r}, which the output "
                                 f"{output_spec!r} of {equation!r} does not have")
        start = min(output_spec.index(c) for c in bias_axes)
        bias_shape = [full[out_at[c]] if c in bias_axes else 1 for c in output_spec[start:]]
        if ellipsis == "right":
            bias_shape += [1] * elided
        if any(d is None for d in bias_shape):
            raise ValueError(f"EinsumDense: the bias along {bias_axes!r} of {equation!r} has an unknown dimension")
    return kernel_shape, bias_shape, tuple(full), input_axes, output_axes


class EinsumDense(_KernelLayer):
    """A dense layer whose product with the kernel is ``einsum(equation, inputs, kernel)``, plus a
    bias on ``bias_axes``, then ``activation`` (Keras 3's ``EinsumDense``).

    It projects along several axes at once: ``EinsumDense("abc,cde->abde", output_shape=(None, 8,
    16), bias_axes="de")`` turns (batch, T, C) into (batch, T, 8, 16) with a kernel (C, 8, 16), as
    multi-head attention projects its queries into heads. ``EinsumDense("ab,bc->ac", 64,
    bias_axes="c")`` is ``Dense(64)``.

    Args:
        equation: ``"X,Y->Z"``, ``"...X,Y->...Z"`` or ``"X...,Y->Z..."``: the labels of the
            input, of the kernel and of the output (an ellipsis stands for the input's leading or
            trailing axes, the batch among them).
        output_shape: the output's shape without the batch dimension and the ellipsis's (an int
            for one dimension); None where the input gives the dimension.
        activation: applied to the result (default none).
        bias_axes: the output labels the bias varies along (a string), or None for no bias.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, bias_constraint: as for ``Dense``. A
        variance-scaling kernel initializer without ``input_axes``/``output_axes`` takes the
        kernel's input and output axes for its fans, as in Keras.

    Weights: ``kernel`` (its shape read off the equation), then ``bias``. The product runs as one
    matrix product (:func:`gpunet.ops.einsum`).
    """

    @property
    def supports_recording(self) -> bool:
        return activations.is_builtin(self.activation)

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        refuse_unsupported(type(self).__name__, kwargs,
                           ("lora_rank", "lora_alpha", "gptq_unpacked_column_size", "quantization_config"))
        super().__init__(**kwargs)
        if not isinstance(equation, str):
            raise TypeError(f"EinsumDense: equation must be a string such as 'ab,bc->ac', got {equation!r}")
        _parse(equation)
        if isinstance(output_shape, int) and not isinstance(output_shape, bool):
            output_shape = (output_shape,)
        if not isinstance(output_shape, (list, tuple)) or any(
                d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1) for d in output_shape):
            raise ValueError(f"EinsumDense: output_shape must be an int or a tuple of positive ints (or None), "
                             f"got {output_shape!r}")
        if bias_axes is not None and (not isinstance(bias_axes, str) or not bias_axes):
            raise TypeError(f"EinsumDense: bias_axes must be a string of output labels or None, got {bias_axes!r}")
        self.equation = equation
        self.partial_output_shape = tuple(output_shape)
        self.bias_axes = bias_axes
        self._init_kernel(activation, bias_axes is not None, kernel_initializer, bias_initializer, kernel_regularizer,
                          bias_regularizer, kernel_constraint, bias_constraint)

    def _fan_initializer(self, input_axes, output_axes):
        """The kernel initializer, given the kernel's input and output axes when it scales by
        fans and was not told them."""
        init = self.kernel_initializer
        if isinstance(init, initializers.VarianceScaling) and (init.input_axes is None or init.output_axes is None):
            return type(init).from_config({**init.get_config(), "input_axes": input_axes, "output_axes": output_axes})
        return init

    def build(self, input_shape):
        kernel_shape, bias_shape, _, input_axes, output_axes = analyze_equation(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        initializer = self._fan_initializer(input_axes, output_axes)
        self.kernel = self.add_weight(shape=tuple(kernel_shape), initializer=initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if bias_shape is not None:
            self.bias = self.add_weight(shape=tuple(bias_shape), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint, name="bias")

    def compute_output_shape(self, input_shape):
        return analyze_equation(self.equation, self.bias_axes, input_shape, self.partial_output_shape)[2]

    def call(self, x, training=False):
        y = ops.einsum(self.equation, x, self.kernel)
        if self.bias is not None:
            y = ops.add(y, self.bias)
        return self.activation(y)

    def get_config(self):
        config = self._kernel_config()
        del config["use_bias"]
        return {**super().get_config(), "output_shape": list(self.partial_output_shape), "equation": self.equation,
                "bias_axes": self.bias_axes, **config}
