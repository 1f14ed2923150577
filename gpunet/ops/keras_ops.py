"""The Keras operation behind each public op, for functional configs.

Keras 3 records an op applied to symbolic tensors (``keras.ops.add(x, 1.0)``) as an Operation
object, and a functional config writes it like a layer: ``{"module": "keras.src.ops.numpy",
"class_name": "Add", "config": {"name": ..., <the op's settings>}, "registered_name": "Add"}``,
its tensors and constants in the node's ``args``. Which arguments are settings and which are
call arguments is Keras's split of each function: tensors (and the operands that may be tensors,
such as ``add``'s second argument) are called, the rest (``axis``, ``keepdims``, ``newshape``...)
configure the operation.

This module derives that form for every function of :mod:`gpunet.ops`'s Keras namespaces
(``numpy``, ``nn``, ``image``, ``linalg``, ``core``) from the function's Keras name and its
signature, with one rule for all of them: a parameter is a call argument when its value holds a
symbolic tensor or its name is one Keras gives to call arguments (:data:`CALL_PARAMETERS`; a
few operations take one of those names as a setting, listed by class), and a setting otherwise. Reading goes back the same way: the settings are passed by name, and
the node's arguments fill the function's other parameters in order.
"""

from __future__ import annotations

import inspect

__all__ = ["CALL_PARAMETERS", "bind_call", "find_op", "keras_op", "plain_setting", "settings_of", "split_call"]

# Keras's class names that are not its function's name in CamelCase
_CLASS_NAMES = {
    "abs": "Absolute", "conj": "Conjugate", "allclose": "AllClose", "isin": "IsIn", "searchsorted": "SearchSorted",
    "batch_normalization": "BatchNorm", "layer_normalization": "LayerNorm", "rms_normalization": "RMSNorm",
    "psnr": "PSNR", "ctc_loss": "CTCLoss", "ctc_decode": "CTCDecode", "rgb_to_grayscale": "RGBToGrayscale",
    "rgb_to_hsv": "RGBToHSV", "hsv_to_rgb": "HSVToRGB", "ssim": "SSIM", "svd": "SVD", "fft": "FFT", "fft2": "FFT2",
    "ifft2": "IFFT2", "rfft": "RFFT", "irfft": "IRFFT", "cdist": "CDist",
}
# names gpunet.ops.core exports that Keras keeps in keras.ops.math
_MATH_NAMES = frozenset({
    "top_k", "in_top_k", "logsumexp", "erf", "erfc", "erfinv", "rsqrt", "segment_sum", "segment_max", "segment_min",
    "segment_prod", "extract_sequences", "fft", "fft2", "ifft2", "rfft", "irfft", "logdet", "cdist",
})
# functions Keras computes without recording an operation (array makers, introspection)
_NO_OPERATION = frozenset({
    "bartlett", "blackman", "empty", "eye", "hamming", "hanning", "identity", "kaiser", "ones", "tri", "vectorize",
    "zeros", "convert_to_numpy", "shape", "dtype", "is_tensor", "custom_gradient",
})
# the parameter names Keras's operations take in call() (never in their constructor's settings)
CALL_PARAMETERS = frozenset({
    "a", "array", "atol", "b", "beta", "bias", "bins", "branches", "constant_values", "choicelist", "condition", "condlist", "coordinates",
    "data", "default", "depthwise_kernel", "elems", "elements", "end_points", "f", "fill_value", "gamma", "image1",
    "image2", "images", "index", "indices", "init", "init_val", "inputs", "kernel", "key", "loop_vars", "mask", "mean", "offset",
    "operands", "output", "output_length", "pointwise_kernel", "predictions", "q", "query", "rtol", "scale",
    "segment_ids", "sequence_lengths", "sorted_sequence", "start", "start_indices", "start_points", "step", "stop",
    "target", "target_length", "targets", "transform", "updates", "value", "values", "variable", "variance",
    "weights", "x", "x1", "x2", "xs", "y",
})
# the few operations whose settings bear a name other operations take as a call argument
_SETTINGS_BY_CLASS = {
    "AllClose": {"atol", "rtol"}, "Bincount": {"weights"}, "Trapezoid": {"x"}, "Unique": {"fill_value"},
    "Squareplus": {"b"}, "Diagonal": {"offset"}, "Trace": {"offset"}, "Histogram": {"bins"}, "Resize": {"fill_value"}, "AffineTransform": {"fill_value"},
    "PerspectiveTransform": {"fill_value"}, "MapCoordinates": {"fill_value"},
}
_NAMESPACES = ("numpy", "nn", "image", "linalg", "core")
_index: dict | None = None  # id(function) -> (module, class name); (module, class name) -> function


def _class_name(name: str) -> str:
    return _CLASS_NAMES.get(name) or "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _build_index() -> dict:
    from .. import ops  # noqa: PLC0415

    index: dict = {}
    for namespace in _NAMESPACES:
        module = getattr(ops, namespace)
        for name in module.__all__:
            wrapper = getattr(module, name, None)
            if not inspect.isfunction(wrapper) or name in _NO_OPERATION:
                continue
            fn = inspect.unwrap(wrapper)
            keras_module = "keras.src.ops." + ("math" if namespace == "core" and name in _MATH_NAMES else namespace)
            key = (keras_module, _class_name(name))
            index.setdefault(id(fn), key)  # the first Keras name of a function shared by several (abs, absolute)
            index.setdefault(key, wrapper)
    return index


def _get_index() -> dict:
    global _index  # noqa: PLW0603 - built once, after every namespace is imported
    if _index is None:
        _index = _build_index()
    return _index


def keras_op(fn):
    """``(module, class_name)`` of the Keras operation ``fn`` (a gpunet op) records, or None when
    Keras has no operation for it."""
    return _get_index().get(id(inspect.unwrap(fn)))


def find_op(module: str, class_name: str):
    """The gpunet op for a Keras operation's ``module`` and ``class_name`` (None if gpunet lacks it)."""
    return _get_index().get((str(module), str(class_name)))


def _holds_symbolic(value) -> bool:
    from ..layers.symbolic import holds_symbolic  # noqa: PLC0415

    return holds_symbolic((value,))


def settings_of(fn) -> set:
    """The names of ``fn``'s parameters that its Keras operation takes as settings (when no
    symbolic tensor is passed for them)."""
    own = _SETTINGS_BY_CLASS.get((keras_op(fn) or ("", ""))[1], ())
    parameters = inspect.signature(inspect.unwrap(fn)).parameters.items()
    return {name for name, p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and (name not in CALL_PARAMETERS or name in own)}


def split_call(fn, args, kwargs) -> tuple[list, dict]:
    """``fn(*args, **kwargs)`` as Keras writes it: ``(call arguments, settings)``. Every
    parameter is bound (defaults included, as Keras's configs list them)."""
    signature = inspect.signature(inspect.unwrap(fn))
    own_settings = _SETTINGS_BY_CLASS.get((keras_op(fn) or ("", ""))[1], ())
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    call, settings = [], {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            call.extend(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            if value:
                raise ValueError(f"op {fn.__name__!r}: keyword arguments {sorted(value)} have no place in a Keras config")
        elif (name in CALL_PARAMETERS and name not in own_settings) or _holds_symbolic(value):
            call.append(value)
        else:
            settings[name] = plain_setting(value, f"op {fn.__name__!r} argument {name!r}")
    return call, settings


def bind_call(fn, args, settings: dict) -> tuple[list, dict]:
    """The reverse of :func:`split_call`: the node's ``args`` fill ``fn``'s parameters that are
    not among the ``settings``, in order; returns ``(positional, keywords)`` to call ``fn`` with."""
    signature = inspect.signature(inspect.unwrap(fn))
    unknown = [k for k in settings if k not in signature.parameters]
    if unknown:
        raise ValueError(f"op {fn.__name__!r} has no argument(s) {unknown} (found in its Keras config)")
    values, rest = {}, list(args)
    for name, parameter in signature.parameters.items():
        if name in settings:
            values[name] = settings[name]
        elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            values[name], rest = rest, []
        elif parameter.kind is not inspect.Parameter.VAR_KEYWORD and rest:
            values[name] = rest.pop(0)
    if rest:
        raise ValueError(f"op {fn.__name__!r}: its Keras node gives {len(args)} arguments, more than it takes")
    by_position = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    positional, keywords = [], {}
    for name, parameter in signature.parameters.items():
        if name not in values:
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            positional.extend(values[name])
        elif parameter.kind is inspect.Parameter.POSITIONAL_ONLY or (
                by_position and parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional.append(values[name])  # before a *args, parameters go by position
        else:
            keywords[name] = values[name]
    return positional, keywords


def plain_setting(value, what: str):
    """A setting as JSON holds it: tuples as lists, NumPy scalars and dtypes by value and name."""
    import numpy  # noqa: PLC0415

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain_setting(v, what) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_setting(v, what) for k, v in value.items()}
    if isinstance(value, numpy.generic):
        return value.item()
    if isinstance(value, numpy.dtype) or (isinstance(value, type) and issubclass(value, numpy.generic)):
        return numpy.dtype(value).name
    raise ValueError(f"{what}: {type(value).__name__} {value!r} cannot be written in a config")
