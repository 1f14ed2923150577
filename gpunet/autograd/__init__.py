"""Reverse-mode automatic differentiation: Tensor, Variable (alias Parameter), Function, backward, no_grad."""

from .tensor import Tensor, as_tensor
from .variable import Parameter, Variable, clear_variable_names
from .function import Function, backward, enable_grad, is_grad_enabled, no_grad, sum_to_shape
from .gradcheck import gradcheck
from .tape import GraphConfig, Tape

__all__ = [
    "Tensor",
    "Parameter",
    "Variable",
    "clear_variable_names",
    "as_tensor",
    "Function",
    "backward",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "sum_to_shape",
    "gradcheck",
    "Tape",
    "GraphConfig",
]
