"""Keras's elementwise NumPy-style ops: unary math, binary arithmetic, comparisons, logic, bits.

Differentiable ops are rows of two tables: ``UNARY`` gives each unary op its forward and its
derivative (from the input ``x`` and/or the output ``y``), ``BINARY`` each binary op its forward
and the partial derivatives with respect to both operands. One :class:`Unary` and one
:class:`Binary` Function run every row, so a new op is one line. Ops whose results are booleans
or integers (comparisons, ``isnan``, bit operations) are computed without a graph.
"""

from __future__ import annotations

import math

import numpy

from .. import backend
from ..autograd import Function, Tensor, sum_to_shape
from ..backend import get_array_module
from . import activation, math as base
from .promotion import compute, convert, promote, to_float

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _i1(xp, x):
    """The modified Bessel function I1 (the derivative of I0) by its power series."""
    half = x / 2
    term = half.copy()
    total = term.copy()
    for k in range(1, 60):
        term = term * half * half / (k * (k + 1))
        total = total + term
    return total


def _sinc_grad(xp, x, y):
    safe = xp.where(x == 0, 1, x)
    return xp.where(x == 0, 0, (xp.cos(numpy.pi * x) - y) / safe)


def _zero(xp, x, y):
    return xp.zeros_like(x if x is not None else y)


# name -> (forward(xp, x), derivative(xp, x, y), what the derivative reads: "x", "y" or "xy")
UNARY = {
    "abs": (lambda xp, x: xp.abs(x), lambda xp, x, y: xp.sign(x), "x"),
    "negative": (lambda xp, x: -x, lambda xp, x, y: -xp.ones_like(x), "x"),
    "square": (lambda xp, x: x * x, lambda xp, x, y: 2 * x, "x"),
    "sqrt": (lambda xp, x: xp.sqrt(x), lambda xp, x, y: 0.5 / y, "y"),
    "cbrt": (lambda xp, x: xp.cbrt(x), lambda xp, x, y: 1 / (3 * y * y), "y"),
    "reciprocal": (lambda xp, x: 1 / x, lambda xp, x, y: -y * y, "y"),
    "exp": (lambda xp, x: xp.exp(x), lambda xp, x, y: y, "y"),
    "exp2": (lambda xp, x: xp.exp2(x), lambda xp, x, y: y * _LN2, "y"),
    "expm1": (lambda xp, x: xp.expm1(x), lambda xp, x, y: y + 1, "y"),
    "log": (lambda xp, x: xp.log(x), lambda xp, x, y: 1 / x, "x"),
    "log2": (lambda xp, x: xp.log2(x), lambda xp, x, y: 1 / (x * _LN2), "x"),
    "log10": (lambda xp, x: xp.log10(x), lambda xp, x, y: 1 / (x * _LN10), "x"),
    "log1p": (lambda xp, x: xp.log1p(x), lambda xp, x, y: 1 / (1 + x), "x"),
    "sin": (lambda xp, x: xp.sin(x), lambda xp, x, y: xp.cos(x), "x"),
    "cos": (lambda xp, x: xp.cos(x), lambda xp, x, y: -xp.sin(x), "x"),
    "tan": (lambda xp, x: xp.tan(x), lambda xp, x, y: 1 + y * y, "y"),
    "arcsin": (lambda xp, x: xp.arcsin(x), lambda xp, x, y: 1 / xp.sqrt(1 - x * x), "x"),
    "arccos": (lambda xp, x: xp.arccos(x), lambda xp, x, y: -1 / xp.sqrt(1 - x * x), "x"),
    "arctan": (lambda xp, x: xp.arctan(x), lambda xp, x, y: 1 / (1 + x * x), "x"),
    "sinh": (lambda xp, x: xp.sinh(x), lambda xp, x, y: xp.cosh(x), "x"),
    "cosh": (lambda xp, x: xp.cosh(x), lambda xp, x, y: xp.sinh(x), "x"),
    "tanh": (lambda xp, x: xp.tanh(x), lambda xp, x, y: 1 - y * y, "y"),
    "arcsinh": (lambda xp, x: xp.arcsinh(x), lambda xp, x, y: 1 / xp.sqrt(x * x + 1), "x"),
    "arccosh": (lambda xp, x: xp.arccosh(x), lambda xp, x, y: 1 / xp.sqrt(x * x - 1), "x"),
    "arctanh": (lambda xp, x: xp.arctanh(x), lambda xp, x, y: 1 / (1 - x * x), "x"),
    "deg2rad": (lambda xp, x: xp.deg2rad(x), lambda xp, x, y: xp.full_like(x, numpy.pi / 180), "x"),
    "rad2deg": (lambda xp, x: xp.rad2deg(x), lambda xp, x, y: xp.full_like(x, 180 / numpy.pi), "x"),
    "sinc": (lambda xp, x: xp.sinc(x), _sinc_grad, "xy"),
    "i0": (lambda xp, x: xp.i0(x), lambda xp, x, y: _i1(xp, x), "x"),
    # piecewise constant: differentiable with a zero gradient, as in Keras
    "sign": (lambda xp, x: xp.sign(x), _zero, "x"),
    "floor": (lambda xp, x: xp.floor(x), _zero, "x"),
    "ceil": (lambda xp, x: xp.ceil(x), _zero, "x"),
    "trunc": (lambda xp, x: xp.trunc(x), _zero, "x"),
    "round": (lambda xp, x, decimals=0: xp.round(x, decimals), _zero, "x"),
}
# ops computed in floating point: integer and boolean inputs are converted to the default float dtype first
_FLOAT_ONLY = {
    "sqrt", "cbrt", "reciprocal", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin",
    "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "deg2rad", "rad2deg", "sinc", "i0",
}


# rows that the layers' own Functions already compute (tanh with its GPU kernel): those are used
_EXISTING = {"exp": base.Exp, "log": base.Log, "tanh": activation.Tanh}


class Unary(Function):
    """One row of ``UNARY``: ``y = f(x)``, ``gx = gy * f'(x)``, keeping only what ``f'`` reads."""

    def __init__(self, name, **options):
        self.name, self.options = name, options

    def forward(self, x):
        f, _, reads = UNARY[self.name]
        y = f(get_array_module(x), x, **self.options)
        if self.needs_input_grad[0]:
            self.x = x if "x" in reads else None
            self.y = y if "y" in reads else None
        return y

    def backward(self, gy):
        _, derivative, _ = UNARY[self.name]
        return (gy * derivative(get_array_module(gy), self.x, self.y),)


def _unary(name, x, **options) -> Tensor:
    t = to_float(x) if name in _FLOAT_ONLY else convert(x)
    if t.dtype.kind == "b" and name in ("negative", "square", "round"):
        t = convert(t, "int32")
    if name in _EXISTING and t.dtype.kind == "f":
        return _EXISTING[name]()(t)
    return Unary(name, **options)(t)


def _mod_grad(xp, a, b, y):
    return xp.ones_like(a), -xp.floor(a / b)


def _fmod_grad(xp, a, b, y):
    return xp.ones_like(a), -xp.trunc(a / b)


def _safe_ratio(xp, a, b):
    return xp.where(b == 0, 0, a / xp.where(b == 0, 1, b))


def _power_grad(xp, a, b, y):
    log_a = xp.log(xp.where(a > 0, a, 1))
    return xp.where(b == 0, 0, b * a ** xp.where(b == 0, 1, b - 1)), y * log_a


def _extreme_grad(xp, a, b, y, pick_first):
    share = pick_first + 0.5 * (a == b)
    share = share.astype(y.dtype)
    return share, 1 - share


# name -> (forward(xp, a, b), partials(xp, a, b, y) -> (dy/da, dy/db))
BINARY = {
    "subtract": (lambda xp, a, b: a - b, lambda xp, a, b, y: (xp.ones_like(y), -xp.ones_like(y))),
    "power": (lambda xp, a, b: a ** b, _power_grad),
    "minimum": (lambda xp, a, b: xp.minimum(a, b), lambda xp, a, b, y: _extreme_grad(xp, a, b, y, a < b)),
    "fmax": (lambda xp, a, b: xp.fmax(a, b), lambda xp, a, b, y: _extreme_grad(xp, a, b, y, (a > b) | xp.isnan(b))),
    "fmin": (lambda xp, a, b: xp.fmin(a, b), lambda xp, a, b, y: _extreme_grad(xp, a, b, y, (a < b) | xp.isnan(b))),
    "arctan2": (lambda xp, a, b: xp.arctan2(a, b), lambda xp, a, b, y: (b / (a * a + b * b), -a / (a * a + b * b))),
    "hypot": (lambda xp, a, b: xp.hypot(a, b), lambda xp, a, b, y: (a / y, b / y)),
    "logaddexp": (lambda xp, a, b: xp.logaddexp(a, b), lambda xp, a, b, y: (xp.exp(a - y), xp.exp(b - y))),
    "logaddexp2": (lambda xp, a, b: xp.logaddexp2(a, b), lambda xp, a, b, y: (xp.exp2(a - y), xp.exp2(b - y))),
    "mod": (lambda xp, a, b: xp.mod(a, b), _mod_grad),
    "fmod": (lambda xp, a, b: xp.fmod(a, b), _fmod_grad),
    "divide_no_nan": (lambda xp, a, b: _safe_ratio(xp, a, b),
                      lambda xp, a, b, y: (_safe_ratio(xp, xp.ones_like(a), b), -_safe_ratio(xp, y, b))),
    "floor_divide": (lambda xp, a, b: xp.floor_divide(a, b), lambda xp, a, b, y: (xp.zeros_like(y), xp.zeros_like(y))),
    "heaviside": (lambda xp, a, b: xp.heaviside(a, b), lambda xp, a, b, y: (xp.zeros_like(y), xp.zeros_like(y))),
    "nextafter": (lambda xp, a, b: xp.nextafter(a, b), lambda xp, a, b, y: (xp.ones_like(y), xp.zeros_like(y))),
}
_FLOAT_RESULT = {"arctan2", "hypot", "logaddexp", "logaddexp2", "divide_no_nan", "nextafter"}


class Binary(Function):
    """One row of ``BINARY``: ``y = f(a, b)`` with broadcasting; each gradient summed back to its operand's shape."""

    def __init__(self, name):
        self.name = name

    def forward(self, a, b):
        y = BINARY[self.name][0](get_array_module(a), a, b)
        if True in self.needs_input_grad:
            self.a, self.b, self.y = a, b, y
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        da, db = BINARY[self.name][1](xp, self.a, self.b, self.y)
        na, nb = self.needs_input_grad
        return (sum_to_shape(gy * da, self.a.shape) if na else None, sum_to_shape(gy * db, self.b.shape) if nb else None)


def _binary(name, x1, x2) -> Tensor:
    a, b = promote(x1, x2)
    if name in _FLOAT_RESULT and a.dtype.kind != "f":
        a, b = promote(a, b, dtype=backend.floatx())
    return Binary(name)(a, b)


def _unary_op(name):
    def op(x) -> Tensor:
        return _unary(name, x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}`` of ``x`` (Keras's ``keras.ops.{name}``), differentiable."
    return op


def _binary_op(name):
    def op(x1, x2) -> Tensor:
        return _binary(name, x1, x2)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}`` of ``x1`` and ``x2`` with broadcasting (``keras.ops.{name}``), differentiable."
    return op


abs = _unary_op("abs")  # noqa: A001 - Keras's name
negative = _unary_op("negative")
square = _unary_op("square")
sqrt = _unary_op("sqrt")
cbrt = _unary_op("cbrt")
reciprocal = _unary_op("reciprocal")
exp = _unary_op("exp")
exp2 = _unary_op("exp2")
expm1 = _unary_op("expm1")
log = _unary_op("log")
log2 = _unary_op("log2")
log10 = _unary_op("log10")
log1p = _unary_op("log1p")
sin = _unary_op("sin")
cos = _unary_op("cos")
tan = _unary_op("tan")
arcsin = _unary_op("arcsin")
arccos = _unary_op("arccos")
arctan = _unary_op("arctan")
sinh = _unary_op("sinh")
cosh = _unary_op("cosh")
tanh = _unary_op("tanh")
arcsinh = _unary_op("arcsinh")
arccosh = _unary_op("arccosh")
arctanh = _unary_op("arctanh")
deg2rad = _unary_op("deg2rad")
rad2deg = _unary_op("rad2deg")
sinc = _unary_op("sinc")
i0 = _unary_op("i0")
sign = _unary_op("sign")
floor = _unary_op("floor")
ceil = _unary_op("ceil")
trunc = _unary_op("trunc")

subtract = _binary_op("subtract")
power = _binary_op("power")
minimum = _binary_op("minimum")
fmax = _binary_op("fmax")
fmin = _binary_op("fmin")
arctan2 = _binary_op("arctan2")
hypot = _binary_op("hypot")
logaddexp = _binary_op("logaddexp")
logaddexp2 = _binary_op("logaddexp2")
mod = _binary_op("mod")
fmod = _binary_op("fmod")
divide_no_nan = _binary_op("divide_no_nan")
floor_divide = _binary_op("floor_divide")
heaviside = _binary_op("heaviside")
nextafter = _binary_op("nextafter")


def absolute(x) -> Tensor:
    """Elementwise absolute value (``keras.ops.absolute``, the same as :func:`abs`)."""
    return abs(x)


def fabs(x) -> Tensor:
    """Elementwise absolute value in floating point (``keras.ops.fabs``)."""
    return abs(to_float(x))


def _with_graph_op(function, x1, x2) -> Tensor:
    """``function`` (one of math.py's arithmetic Functions) over ``x1, x2`` promoted as Keras promotes."""
    a, b = promote(x1, x2)
    return function()(a, b)


def add(x1, x2) -> Tensor:
    """``x1 + x2`` with broadcasting (``keras.ops.add``)."""
    return _with_graph_op(base.Add, x1, x2)


def multiply(x1, x2) -> Tensor:
    """``x1 * x2`` with broadcasting (``keras.ops.multiply``)."""
    return _with_graph_op(base.Mul, x1, x2)


def divide(x1, x2) -> Tensor:
    """``x1 / x2`` with broadcasting, in floating point (``keras.ops.divide``)."""
    a, b = promote(x1, x2)
    if a.dtype.kind != "f":
        a, b = promote(a, b, dtype=backend.floatx())
    return base.Div()(a, b)


def true_divide(x1, x2) -> Tensor:
    """``x1 / x2`` (``keras.ops.true_divide``, the same as :func:`divide`)."""
    return divide(x1, x2)


def maximum(x1, x2) -> Tensor:
    """Elementwise maximum with broadcasting; at ties the gradient is split evenly (``keras.ops.maximum``)."""
    return _with_graph_op(base.Maximum, x1, x2)


def ldexp(x1, x2) -> Tensor:
    """``x1 * 2 ** x2`` for integer ``x2`` (``keras.ops.ldexp``)."""
    exponent = convert(x2)
    if exponent.dtype.kind not in "iu":
        raise TypeError(f"ldexp: x2 must hold integers, got dtype {exponent.dtype}")
    mantissa = to_float(x1)
    dtype = mantissa.dtype
    return multiply(mantissa, compute(lambda e: get_array_module(e).exp2(e).astype(dtype), exponent))


def clip(x, x_min, x_max) -> Tensor:
    """``x`` limited to ``[x_min, x_max]`` (``keras.ops.clip``); the gradient flows where ``x`` is inside.
    Booleans are clipped as int32."""
    t = convert(x)
    if t.dtype.kind == "b":
        t = convert(t, "int32")
    low = x_min if isinstance(x_min, (int, float)) else convert(x_min, t.dtype)
    high = x_max if isinstance(x_max, (int, float)) else convert(x_max, t.dtype)
    return minimum(maximum(t, low), high)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None) -> Tensor:
    """``x`` with NaN replaced by ``nan`` and infinities by ``posinf``/``neginf`` (the dtype's largest
    and smallest finite values by default); the gradient passes where ``x`` was finite."""
    t = convert(x)
    if t.dtype.kind != "f":
        return t
    info = numpy.finfo(t.dtype)
    high, low = info.max if posinf is None else posinf, info.min if neginf is None else neginf
    replaced = compute(lambda a: get_array_module(a).nan_to_num(a, nan=nan, posinf=high, neginf=low), t)
    from .arrays import where  # noqa: PLC0415 - arrays builds on this module

    return where(isfinite(t), t, replaced)


def round(x, decimals=0) -> Tensor:  # noqa: A001 - Keras's name
    """``x`` rounded to ``decimals`` places, halves to even (``keras.ops.round``); a zero gradient."""
    return _unary("round", x, decimals=decimals)


# -- results without a gradient: comparisons, tests, logic, bits -------------------------------------
def _predicate(name, test):
    def op(x) -> Tensor:
        return compute(lambda a: test(get_array_module(a), a), x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}`` of ``x``, a boolean tensor (``keras.ops.{name}``)."
    return op


def _float_test(name, integers_pass=False):
    """A test of special float values; integers and booleans are never NaN or infinite."""
    return lambda xp, x: getattr(xp, name)(x) if x.dtype.kind == "f" else xp.full(x.shape, integers_pass, dtype=bool)


isfinite = _predicate("isfinite", _float_test("isfinite", integers_pass=True))
isnan = _predicate("isnan", _float_test("isnan"))
isinf = _predicate("isinf", _float_test("isinf"))
isposinf = _predicate("isposinf", _float_test("isposinf"))
isneginf = _predicate("isneginf", _float_test("isneginf"))
signbit = _predicate("signbit", lambda xp, x: xp.signbit(x) if x.dtype.kind != "b" else xp.zeros_like(x, dtype=bool))
logical_not = _predicate("logical_not", lambda xp, x: xp.logical_not(x))
isreal = _predicate("isreal", lambda xp, x: xp.ones_like(x, dtype=bool))


def _relation(name, fn):
    def op(x1, x2) -> Tensor:
        return compute(lambda a, b: fn(get_array_module(a), a, b), *promote(x1, x2))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}`` of ``x1`` and ``x2`` with broadcasting (``keras.ops.{name}``), no gradient."
    return op


equal = _relation("equal", lambda xp, a, b: a == b)
not_equal = _relation("not_equal", lambda xp, a, b: a != b)
greater = _relation("greater", lambda xp, a, b: a > b)
greater_equal = _relation("greater_equal", lambda xp, a, b: a >= b)
less = _relation("less", lambda xp, a, b: a < b)
less_equal = _relation("less_equal", lambda xp, a, b: a <= b)
logical_and = _relation("logical_and", lambda xp, a, b: xp.logical_and(a, b))
logical_or = _relation("logical_or", lambda xp, a, b: xp.logical_or(a, b))
logical_xor = _relation("logical_xor", lambda xp, a, b: xp.logical_xor(a, b))
gcd = _relation("gcd", lambda xp, a, b: xp.gcd(a, b))
lcm = _relation("lcm", lambda xp, a, b: xp.lcm(a, b))


def _integer_relation(name, fn):
    """A bit operation: operands must be integers or booleans."""

    def op(x, y) -> Tensor:
        a, b = promote(x, y)
        if a.dtype.kind not in "iub":
            raise TypeError(f"{name}: x and y must be integers or booleans, got dtype {a.dtype}")
        return compute(lambda p, q: fn(get_array_module(p), p, q), a, b)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}`` of integer ``x`` and ``y`` (``keras.ops.{name}``)."
    return op


bitwise_and = _integer_relation("bitwise_and", lambda xp, a, b: a & b)
bitwise_or = _integer_relation("bitwise_or", lambda xp, a, b: a | b)
bitwise_xor = _integer_relation("bitwise_xor", lambda xp, a, b: a ^ b)
bitwise_left_shift = _integer_relation("bitwise_left_shift", lambda xp, a, b: xp.left_shift(a, b))
bitwise_right_shift = _integer_relation("bitwise_right_shift", lambda xp, a, b: xp.right_shift(a, b))
left_shift = _integer_relation("left_shift", lambda xp, a, b: xp.left_shift(a, b))
right_shift = _integer_relation("right_shift", lambda xp, a, b: xp.right_shift(a, b))


def bitwise_invert(x) -> Tensor:
    """Elementwise bit inversion of an integer or boolean ``x`` (``keras.ops.bitwise_invert``)."""
    t = convert(x)
    if t.dtype.kind not in "iub":
        raise TypeError(f"bitwise_invert: x must hold integers or booleans, got dtype {t.dtype}")
    return compute(lambda a: ~a, t)


def bitwise_not(x) -> Tensor:
    """Elementwise bit inversion (``keras.ops.bitwise_not``, the same as :func:`bitwise_invert`)."""
    return bitwise_invert(x)


def isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    """Elementwise ``|x1 - x2| <= atol + rtol * |x2|`` (``keras.ops.isclose``), a boolean tensor."""
    return compute(lambda a, b: get_array_module(a).isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan),
                   *promote(x1, x2))


def allclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    """Whether :func:`isclose` holds everywhere (``keras.ops.allclose``), a boolean scalar tensor."""
    return compute(lambda close: close.all(), isclose(x1, x2, rtol, atol, equal_nan))


# -- real numbers seen as complex ones: gpunet has no complex dtype -----------------------------------
def real(x) -> Tensor:
    """The real part: ``x`` itself, since gpunet's tensors are real (``keras.ops.real``)."""
    return convert(x)


def conjugate(x) -> Tensor:
    """The complex conjugate: ``x`` itself for real tensors (``keras.ops.conjugate``)."""
    return convert(x)


def conj(x) -> Tensor:
    """The complex conjugate (``keras.ops.conj``, the same as :func:`conjugate`)."""
    return convert(x)


def imag(x) -> Tensor:
    """The imaginary part: zeros for real tensors (``keras.ops.imag``)."""
    return compute(lambda a: get_array_module(a).zeros_like(a), x)


def angle(x) -> Tensor:
    """The complex argument of real ``x``: pi where ``x < 0``, else 0, in floating point (``keras.ops.angle``)."""
    return compute(lambda a: get_array_module(a).angle(a).astype(a.dtype), to_float(x))


__all__ = sorted(
    [name for name in UNARY] + [name for name in BINARY]
    + ["absolute", "fabs", "add", "multiply", "divide", "true_divide", "maximum", "ldexp", "clip", "nan_to_num",
       "isfinite", "isnan", "isinf", "isposinf", "isneginf", "signbit", "logical_not", "isreal", "equal", "not_equal",
       "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_or", "logical_xor", "gcd", "lcm",
       "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift", "left_shift",
       "right_shift", "bitwise_invert", "bitwise_not", "isclose", "allclose", "real", "conjugate", "conj", "imag",
       "angle"]
)
