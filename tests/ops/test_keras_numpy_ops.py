"""gpunet.ops.numpy against the real Keras 3 (``keras.ops`` on JAX): values, shapes and dtypes for
every implemented name over a table of argument cases; gradients by finite differences (float64)
for the differentiable ones; and how many of keras.ops.numpy's names gpunet has.

Inputs are float32/int32/bool, as JAX (without x64) keeps them, so dtypes compare exactly."""

import json
import os

import numpy as np
import pytest

import gpunet
from gpunet import Tensor, backend, gradcheck
from gpunet.ops import numpy as gnp

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

NAMES_FILE = os.path.join(os.path.dirname(gpunet.__file__), "keras_api", "keras-names.json")
MINIMUM_IMPLEMENTED = 220  # of keras.ops.numpy's 220 names: all

RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 4)).astype(np.float32)
Y = RNG.standard_normal((3, 4)).astype(np.float32)
ROW = RNG.standard_normal(4).astype(np.float32)
CUBE = RNG.standard_normal((2, 3, 4)).astype(np.float32)
POS = (RNG.random((3, 4)) + 0.5).astype(np.float32)
UNIT = (RNG.random((3, 4)) * 1.6 - 0.8).astype(np.float32)  # inside (-1, 1)
BIG = (RNG.random((3, 4)) + 1.5).astype(np.float32)  # above 1
INT = RNG.integers(-5, 6, (3, 4)).astype(np.int32)
NAT = RNG.integers(1, 9, (3, 4)).astype(np.int32)
BOOL = RNG.random((3, 4)) < 0.5
VEC = RNG.standard_normal(6).astype(np.float32)
VEC3 = RNG.standard_normal((4, 3)).astype(np.float32)
SQUARE = (RNG.standard_normal((2, 3, 3)) + 2 * np.eye(3)).astype(np.float32)
MAT = RNG.standard_normal((4, 5)).astype(np.float32)
WITH_NAN = X.copy()
WITH_NAN[0, 1] = WITH_NAN[2, 3] = np.nan
SPECIAL = np.array([0.0, 1.5, -2.0, np.inf, -np.inf, np.nan], np.float32)
SORTED = np.sort(VEC)
INDEX = np.array([[0, 3], [2, 1], [1, 1]], np.int32)


class Case:
    """One call: ``keras.ops.<name>(*args, **kwargs)`` and gpunet's twin; ``grad`` lists the
    argument positions to check by finite differences (None: compared only)."""

    def __init__(self, name, *args, grad=None, tag="", **kwargs):
        self.name, self.args, self.kwargs, self.grad, self.tag = name, args, kwargs, grad, tag

    @property
    def id(self):
        return self.name + (f"-{self.tag}" if self.tag else "")


def unary(names, data, grad=(0,)):
    return [Case(name, data, grad=grad) for name in names]


CASES = [
    *unary(["abs", "absolute", "fabs", "negative", "square", "sign", "floor", "ceil", "trunc", "sin", "cos", "tan",
            "arctan", "sinh", "cosh", "tanh", "arcsinh", "exp", "exp2", "expm1", "deg2rad", "rad2deg", "sinc", "i0",
            "cbrt", "reciprocal", "round", "copy", "ravel", "real", "conj", "conjugate"], X),
    *unary(["sqrt", "log", "log2", "log10", "log1p"], POS),
    *unary(["arcsin", "arccos", "arctanh"], UNIT),
    *unary(["arccosh"], BIG),
    *unary(["abs", "negative", "square", "sign", "sqrt", "exp", "log1p", "sin", "reciprocal", "fabs", "round"], NAT,
           grad=None),
    Case("abs", BOOL, tag="bool"), Case("square", BOOL, tag="bool"),
    *[Case(name, SPECIAL) for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit", "isreal",
                                       "logical_not", "nan_to_num", "imag", "angle")],
    *[Case(name, INT, tag="int") for name in ("isnan", "isfinite", "signbit", "logical_not", "bitwise_invert",
                                              "bitwise_not")],
    Case("nan_to_num", WITH_NAN, grad=(0,), tag="grad"),
    Case("nan_to_num", SPECIAL, nan=1.0, posinf=7.0, neginf=-7.0, tag="values"),
    Case("round", X * 10, decimals=1, grad=(0,), tag="decimals"),
    # binary
    *[Case(name, X, Y, grad=(0, 1)) for name in ("add", "subtract", "multiply", "divide", "true_divide", "maximum",
                                                  "minimum", "fmax", "fmin", "arctan2", "hypot", "logaddexp",
                                                  "logaddexp2", "divide_no_nan")],
    *[Case(name, X, ROW, grad=(0, 1), tag="broadcast") for name in ("add", "multiply", "divide", "maximum")],
    Case("power", POS, Y, grad=(0, 1)), Case("power", X, 2, grad=(0,), tag="int-exponent"),
    Case("power", NAT, 2, tag="int"), Case("power", NAT, 0.5, tag="int-float"),
    Case("mod", X, POS, grad=(0, 1)), Case("fmod", X, POS, grad=(0, 1)), Case("floor_divide", X, POS),
    Case("mod", INT, NAT, tag="int"), Case("floor_divide", INT, NAT, tag="int"), Case("fmod", INT, NAT, tag="int"),
    Case("heaviside", X, Y), Case("nextafter", X, Y), Case("ldexp", X, INT, grad=(0,)),
    *[Case(name, INT, NAT, tag="int") for name in ("add", "subtract", "multiply", "divide", "maximum", "minimum",
                                                   "gcd", "lcm", "arctan2")],
    Case("add", INT, 1.5, tag="weak-float"), Case("multiply", X, 2, tag="weak-int"), Case("add", BOOL, 1, tag="bool-int"),
    Case("add", INT, X, tag="int-float"), Case("divide_no_nan", X, np.where(BOOL, 0, Y).astype(np.float32), tag="zeros"),
    *[Case(name, X, Y) for name in ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal")],
    Case("equal", INT, 1, tag="weak"),
    *[Case(name, BOOL, ~BOOL[::-1]) for name in ("logical_and", "logical_or", "logical_xor")],
    *[Case(name, INT, NAT % 4) for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                                            "bitwise_right_shift", "left_shift", "right_shift")],
    Case("isclose", X, X + 1e-6), Case("allclose", X, X + 1e-6), Case("allclose", X, Y, tag="far"),
    Case("clip", X, -0.5, 0.5, grad=(0,)), Case("clip", INT, -2, 3, tag="int"),
    # reductions
    *[Case(name, CUBE, axis=axis, keepdims=keepdims, grad=(0,), tag=f"{axis}-{keepdims}")
      for name in ("sum", "mean", "max", "min", "amax", "amin", "prod", "std", "var", "ptp", "median")
      for axis, keepdims in ((None, False), (1, False), ((0, 2), True))],
    *[Case(name, INT, axis=0) for name in ("sum", "mean", "max", "prod", "std", "var", "median", "argmax", "argmin")],
    Case("sum", BOOL, tag="bool"), Case("mean", BOOL, tag="bool"),
    Case("max", X, axis=1, initial=0.5, grad=(0,), tag="initial"), Case("min", X, initial=-0.5, tag="initial"),
    *[Case(name, CUBE, axis=axis, keepdims=keepdims, tag=f"{axis}-{keepdims}") for name in ("argmax", "argmin")
      for axis, keepdims in ((None, False), (1, False), (-1, True))],
    *[Case(name, BOOL, axis=axis, tag=str(axis)) for name in ("all", "any") for axis in (None, 0)],
    Case("all", X, axis=1, keepdims=True, tag="float"), Case("count_nonzero", INT), Case("count_nonzero", INT, axis=1),
    *[Case(name, CUBE, axis=axis, grad=(0,), tag=str(axis)) for name in ("cumsum", "cumprod") for axis in (None, 1)],
    Case("cumprod", np.where(BOOL, 0, X).astype(np.float32), axis=1, grad=(0,), tag="zeros"),
    Case("cumsum", BOOL, axis=0, tag="bool"), Case("cumsum", INT, axis=1, dtype="float32", tag="dtype"),
    Case("average", X, axis=1, grad=(0,)), Case("average", X, axis=1, weights=POS[0], grad=(0, 2), tag="weights"),
    Case("average", X, axis=None, weights=POS, grad=(0, 2), tag="full-weights"),
    *[Case(name, CUBE, 0.3, axis=axis, method=method, grad=(0,), tag=f"{axis}-{method}")
      for name in ("quantile", "nanquantile") for axis, method in ((None, "linear"), (1, "lower"), (2, "higher"),
                                                                  ((0, 2), "midpoint"), (-1, "nearest"))],
    Case("quantile", CUBE, np.array([0.1, 0.5, 0.9], np.float32), axis=1, keepdims=True, grad=(0,), tag="many"),
    Case("percentile", CUBE, 40.0, axis=2, grad=(0,)), Case("nanpercentile", WITH_NAN, 75.0, axis=1),
    *[Case(name, WITH_NAN, axis=axis, tag=str(axis)) for name in ("nansum", "nanmean", "nanmax", "nanmin", "nanprod",
                                                                   "nanstd", "nanvar", "nanmedian", "nanargmax",
                                                                   "nanargmin") for axis in (None, 1)],
    *[Case(name, WITH_NAN, axis=1) for name in ("nancumsum", "nancumprod")],
    *[Case(name, X, axis=1, grad=(0,), tag="grad") for name in ("nansum", "nanmean", "nanmax", "nanstd", "nanmedian")],
    Case("trace", SQUARE, grad=(0,)), Case("trace", MAT, offset=1, grad=(0,), tag="offset"),
    Case("trace", CUBE, offset=-1, axis1=1, axis2=2, grad=(0,), tag="axes"),
    Case("diff", CUBE, grad=(0,)), Case("diff", CUBE, n=2, axis=1, grad=(0,), tag="n2"),
    Case("trapezoid", CUBE, grad=(0,)), Case("trapezoid", X, x=np.cumsum(POS[0]), grad=(0,), tag="x"),
    Case("trapezoid", X, dx=0.5, axis=0, grad=(0,), tag="dx"),
    # creation
    Case("arange", 5), Case("arange", 1, 7, 2, tag="step"), Case("arange", 0.5, 3.0, tag="float"),
    Case("arange", 5, dtype="float32", tag="dtype"),
    *[Case(name, (2, 3)) for name in ("zeros", "ones", "empty")], Case("zeros", 3, dtype="int32", tag="int"),
    Case("full", (2, 3), 7), Case("full", (2, 3), 0.5, tag="float"), Case("full", (2,), 1, dtype="float32", tag="dtype"),
    *[Case(name, INT) for name in ("zeros_like", "ones_like", "empty_like")], Case("ones_like", X, dtype="int32", tag="dtype"),
    Case("full_like", X, 3), Case("full_like", INT, 2.5, tag="int"),
    Case("array", [[1, 2], [3, 4]]), Case("array", [1.5, 2.0], tag="float"), Case("array", X, dtype="int32", tag="dtype"),
    Case("eye", 3), Case("eye", 3, 4, k=1, tag="rect"), Case("identity", 3), Case("tri", 3, 4, k=-1),
    Case("linspace", 0.0, 1.0, 5), Case("linspace", 0, 10, 4, endpoint=False, tag="open"),
    Case("linspace", 0.0, 1.0, 5, retstep=True, tag="retstep"), Case("logspace", 0.0, 2.0, 5),
    Case("logspace", 0.0, 3.0, 4, base=2, tag="base"), Case("geomspace", 1.0, 1000.0, 4),
    Case("geomspace", -2.0, -50.0, 5, endpoint=False, tag="negative"),
    Case("geomspace", np.array([1.0, 2.0], np.float32), np.array([10.0, 50.0], np.float32), 3, axis=1, tag="axis"),
    *[Case(name, 7) for name in ("bartlett", "blackman", "hamming", "hanning")], Case("kaiser", 7, 2.5),
    Case("meshgrid", ROW[:3], VEC[:2], grad=(0, 1)), Case("meshgrid", ROW[:3], VEC[:2], indexing="ij", grad=(0, 1), tag="ij"),
    # shaping
    Case("reshape", CUBE, (4, 6), grad=(0,)), Case("reshape", CUBE, (-1, 3), grad=(0,), tag="infer"),
    Case("transpose", CUBE, grad=(0,)), Case("transpose", CUBE, (1, 0, 2), grad=(0,), tag="axes"),
    Case("expand_dims", X, 1, grad=(0,)), Case("expand_dims", X, (0, 3), grad=(0,), tag="tuple"),
    Case("squeeze", X[:, None, :1], grad=(0,)), Case("squeeze", X[:, None], axis=1, grad=(0,), tag="axis"),
    Case("moveaxis", CUBE, 0, -1, grad=(0,)), Case("moveaxis", CUBE, (0, 1), (2, 0), grad=(0,), tag="many"),
    Case("swapaxes", CUBE, 0, 2, grad=(0,)), Case("broadcast_to", ROW, (3, 4), grad=(0,)),
    Case("flip", CUBE, grad=(0,)), Case("flip", CUBE, axis=1, grad=(0,), tag="axis"),
    Case("fliplr", X, grad=(0,)), Case("flipud", X, grad=(0,)),
    Case("rot90", X, grad=(0,)), Case("rot90", CUBE, k=3, axes=(1, 2), grad=(0,), tag="k3"),
    Case("roll", X, 2, grad=(0,)), Case("roll", CUBE, -1, axis=1, grad=(0,), tag="axis"),
    Case("tile", X, (2, 1), grad=(0,)), Case("tile", ROW, 3, grad=(0,), tag="int"),
    Case("repeat", X, 2, grad=(0,)), Case("repeat", X, np.array([1, 0, 2]), axis=0, grad=(0,), tag="counts"),
    Case("pad", X, 1, grad=(0,)), Case("pad", X, ((1, 0), (2, 1)), constant_values=2.0, grad=(0,), tag="value"),
    *[Case("pad", X, ((1, 2), (2, 1)), mode=mode, grad=(0,), tag=mode) for mode in ("edge", "reflect", "symmetric",
                                                                                   "wrap")],
    # joining and splitting
    Case("concatenate", [X, Y], axis=1, grad=(0, 1)), Case("concatenate", [X, INT], tag="promote"),
    Case("stack", [X, Y], grad=(0, 1)), Case("stack", [X, Y], axis=-1, grad=(0, 1), tag="last"),
    Case("hstack", [X, Y], grad=(0, 1)), Case("vstack", [X, Y], grad=(0, 1)), Case("dstack", [X, Y], grad=(0, 1)),
    Case("append", X, Y, grad=(0, 1)), Case("append", X, Y, axis=0, grad=(0, 1), tag="axis"),
    Case("split", CUBE, 2, axis=2, grad=(0,)), Case("split", CUBE, [1, 3], axis=2, grad=(0,), tag="indices"),
    Case("array_split", CUBE, 3, axis=2, grad=(0,)), Case("hsplit", CUBE, 3), Case("vsplit", X, 3),
    Case("dsplit", CUBE, 2),
    # indexing
    Case("get_item", CUBE, (0, slice(1, 3)), grad=(0,)), Case("get_item", X, np.array([0, 2, 0]), grad=(0,), tag="array"),
    Case("take", X, INDEX, grad=(0,)), Case("take", X, np.array([3, 0, 0]), axis=1, grad=(0,), tag="axis"),
    Case("take_along_axis", X, INDEX, axis=1, grad=(0,)), Case("take_along_axis", X, INDEX.ravel(), tag="flat"),
    Case("where", BOOL, X, Y, grad=(1, 2)), Case("where", BOOL[0], X, 0.5, grad=(1,), tag="scalar"),
    Case("where", BOOL, tag="one"), Case("nonzero", INT),
    Case("select", [BOOL, X > 1], [X, Y], -1.0, grad=(1,)), Case("select", [BOOL], [INT], tag="int"),
    Case("diag", MAT, grad=(0,)), Case("diag", ROW, k=1, grad=(0,), tag="vector"), Case("diagflat", X[:2], grad=(0,)),
    Case("diagonal", CUBE, grad=(0,)), Case("diagonal", CUBE, offset=1, axis1=1, axis2=2, grad=(0,), tag="axes"),
    Case("tril", CUBE, grad=(0,)), Case("triu", MAT, k=1, grad=(0,)),
    Case("sort", CUBE, grad=(0,)), Case("sort", CUBE, axis=0, grad=(0,), tag="axis0"), Case("sort", INT, tag="int"),
    Case("argsort", CUBE), Case("argsort", CUBE, axis=0, tag="axis0"),
    Case("searchsorted", SORTED, ROW), Case("searchsorted", SORTED, SORTED[2:4], side="right", tag="right"),
    Case("digitize", X, np.array([-1.0, 0.0, 1.0], np.float32)),
    Case("isin", INT, np.array([0, 2, 3], np.int32)), Case("isin", INT, np.array([0, 2], np.int32), invert=True, tag="invert"),
    Case("unravel_index", np.array([1, 5, 11], np.int32), (3, 4)),
    Case("bincount", NAT.ravel()), Case("bincount", NAT.ravel(), weights=POS.ravel(), minlength=12, tag="weights"),
    Case("histogram", X.ravel()), Case("histogram", X.ravel(), bins=4, range=(-1.0, 1.0), tag="range"),
    Case("unique", INT.ravel()), Case("unique", INT.ravel(), return_inverse=True, return_counts=True, tag="all"),
    Case("ndim", CUBE), Case("size", CUBE), Case("view", X, "int32"), Case("view", INT, tag="same"),
    # linear algebra
    Case("matmul", X, MAT, grad=(0, 1)), Case("matmul", CUBE, ROW, grad=(0, 1), tag="vector"),
    Case("matmul", INT, NAT.T, tag="int"),
    Case("dot", X, MAT, grad=(0, 1)), Case("dot", ROW, ROW, grad=(0, 1), tag="vectors"),
    Case("dot", CUBE, MAT, grad=(0, 1), tag="nd"), Case("dot", X, 2.0, grad=(0,), tag="scalar"),
    Case("tensordot", CUBE, MAT, 1, grad=(0, 1)), Case("tensordot", CUBE, X, ([1, 2], [0, 1]), grad=(0, 1), tag="lists"),
    Case("inner", X, Y, grad=(0, 1)), Case("outer", ROW, VEC, grad=(0, 1)), Case("vdot", X, Y, grad=(0, 1)),
    Case("kron", X[:2, :2], MAT[:2, :3], grad=(0, 1)), Case("kron", ROW, X, grad=(0, 1), tag="ranks"),
    Case("cross", VEC3, VEC3[::-1], grad=(0, 1)), Case("cross", VEC3[:, :2], VEC3, grad=(0, 1), tag="2d"),
    Case("cross", VEC3[:, :2], VEC3[::-1, :2], grad=(0, 1), tag="2d2d"),
    Case("cross", VEC3.T, VEC3.T[:, ::-1], axis=0, grad=(0, 1), tag="axis"),
    *[Case("correlate", VEC, ROW[:3], mode=mode, grad=(0, 1), tag=mode) for mode in ("valid", "same", "full")],
    Case("correlate", ROW[:3], VEC, mode="full", tag="longer"),
    Case("vander", ROW, grad=(0,)), Case("vander", ROW, N=3, increasing=True, grad=(0,), tag="n"),
    Case("corrcoef", X, grad=(0,)), Case("slogdet", SQUARE),
    Case("einsum", "ij,jk->ik", X, MAT, grad=(1, 2)), Case("einsum", "bij,bjk", CUBE, CUBE.transpose(0, 2, 1),
                                                          grad=(1, 2), tag="implicit"),
    Case("einsum", "...j,j->...", CUBE, ROW, grad=(1, 2), tag="ellipsis"), Case("einsum", "ij->j", X, grad=(1,), tag="sum"),
    Case("einsum", "ii->i", SQUARE[0], grad=(1,), tag="diagonal"), Case("einsum", "bii", SQUARE, grad=(1,), tag="trace"),
    Case("einsum", "iji,j->j", CUBE.transpose(2, 1, 0)[:2, :, :2], VEC[:3], grad=(1, 2), tag="repeated"), Case("einsum", "i,j->ij", ROW, VEC, grad=(1, 2), tag="outer"),
    Case("argpartition", VEC, 2),
]


def host(value):
    """A result as NumPy (tuples and lists item by item)."""
    if isinstance(value, (tuple, list)):
        return [host(v) for v in value]
    if isinstance(value, Tensor):
        return backend.to_host(value.data)
    return np.asarray(value)


def assert_same(ours, theirs, where):
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), f"{where}: {len(ours)} results, Keras {len(theirs)}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{k}]")
        return
    assert ours.shape == theirs.shape, f"{where}: shape {ours.shape}, Keras {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"{where}: dtype {ours.dtype}, Keras {theirs.dtype}"
    if ours.dtype.kind == "f":
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6, equal_nan=True, err_msg=where)
    else:
        np.testing.assert_array_equal(ours, theirs, err_msg=where)


def ours_and_keras_arguments(case, keras):
    """The case's arguments for gpunet (Tensors for arrays) and for Keras (its tensors)."""

    def for_gpunet(a):
        if isinstance(a, np.ndarray):
            return Tensor(a)
        if isinstance(a, list) and a and isinstance(a[0], np.ndarray):
            return [Tensor(x) for x in a]
        return a

    def for_keras(a):
        if isinstance(a, np.ndarray):
            return keras.ops.convert_to_tensor(a)
        if isinstance(a, list) and a and isinstance(a[0], np.ndarray):
            return [keras.ops.convert_to_tensor(x) for x in a]
        return a

    return [for_gpunet(a) for a in case.args], [for_keras(a) for a in case.args]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_values_shapes_and_dtypes_are_kerass(case, keras):
    ours_args, keras_args = ours_and_keras_arguments(case, keras)
    theirs = getattr(keras.ops, case.name)(*keras_args, **case.kwargs)
    ours = getattr(gnp, case.name)(*ours_args, **case.kwargs)
    if np.isscalar(theirs) and not hasattr(theirs, "dtype"):  # ndim, size: Python ints
        assert ours == theirs
        return
    assert_same(host(ours), host(theirs), case.id)
    results = ours if isinstance(ours, (tuple, list)) else [ours]
    assert all(isinstance(r, Tensor) for r in results), f"{case.id}: results must be gpunet Tensors"


GRAD_CASES = [case for case in CASES if case.grad is not None]


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.id)
def test_gradients_match_finite_differences(case):
    """Arrays at the positions in ``case.grad`` (each array of a list there) are checked in float64;
    every other argument is held constant."""
    inputs, layout = [], []  # layout: per argument, how many inputs it takes (None: passed as it is)
    for position, arg in enumerate(case.args):
        items = arg if isinstance(arg, list) and arg and isinstance(arg[0], np.ndarray) else [arg]
        if not isinstance(items[0], np.ndarray):
            layout.append(None)
            continue
        checked = position in case.grad
        items = [np.ascontiguousarray(a) for a in items]  # gradcheck perturbs its inputs through flat views
        inputs.extend(a if checked and a.dtype.kind == "f" else Tensor(a) for a in items)
        layout.append(len(items) if isinstance(arg, list) else 0)

    def call(*tensors):
        args, index = [], 0
        for position, count in enumerate(layout):
            if count is None:
                args.append(case.args[position])
            elif count == 0:
                args.append(tensors[index])
                index += 1
            else:
                args.append(list(tensors[index:index + count]))
                index += count
        result = getattr(gnp, case.name)(*args, **case.kwargs)
        if isinstance(result, (tuple, list)):  # split, meshgrid: every piece takes part
            result = gnp.concatenate([gnp.ravel(r) for r in result])
        return result

    assert gradcheck(call, inputs, atol=1e-5, rtol=1e-4)


def test_integer_and_boolean_results_have_no_graph():
    x = Tensor(X.astype(np.float64), requires_grad=True)
    for result in (gnp.argmax(x), gnp.greater(x, 0), gnp.isnan(x), gnp.argsort(x), gnp.nonzero(x)[0]):
        assert not result.requires_grad and result.creator is None
    assert gnp.sum(x).requires_grad and gnp.sort(x).requires_grad


def test_tensor_methods_and_comparisons():
    t = Tensor(X)
    np.testing.assert_array_equal(host(t.max(axis=1)), X.max(axis=1))
    np.testing.assert_array_equal(host(t.min()), X.min())
    np.testing.assert_array_equal(host(t.argmax(axis=0)), X.argmax(axis=0))
    np.testing.assert_array_equal(host(abs(t)), np.abs(X))
    assert t.astype("int32").dtype == np.int32 and t.astype("float64").dtype == np.float64
    np.testing.assert_array_equal(host(t < 0), X < 0)
    np.testing.assert_array_equal(host(t >= Tensor(Y)), X >= Y)
    assert t in {t} and bool(np.all(backend.to_host((t == t).data)))  # == compares elementwise, hashing by identity
    assert not bool(np.any(backend.to_host((t != t).data)))


def test_the_public_names_replace_the_internal_ones_without_breaking_their_call_forms():
    t = Tensor(CUBE)
    assert gpunet.ops.pad is gnp.pad and gpunet.ops.max is gnp.max and gpunet.ops.sum is gnp.sum
    np.testing.assert_array_equal(host(gpunet.ops.max(t, axis=-1)), CUBE.max(axis=-1))
    np.testing.assert_array_equal(host(gpunet.ops.sum(t, 1, True)), CUBE.sum(1, keepdims=True))
    np.testing.assert_array_equal(host(gpunet.ops.reshape(t, (4, 6))), CUBE.reshape(4, 6))
    np.testing.assert_array_equal(host(t.reshape(4, 6)), CUBE.reshape(4, 6))


def test_bad_arguments_raise_errors_naming_them():
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        gnp.sum(X, axis=3)
    with pytest.raises(TypeError, match="indices must hold integers"):
        gnp.take(X, np.array([0.5]))
    with pytest.raises(ValueError, match="constant_values"):
        gnp.pad(X, 1, mode="edge", constant_values=1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        gnp.quantile(X, 0.5, method="cubic")
    with pytest.raises(ValueError, match="dtype must be"):
        gnp.zeros(3, dtype="complex64")
    with pytest.raises(TypeError, match="x and y must be integers"):
        gnp.bitwise_and(X, X)


def test_at_least_the_promised_share_of_keras_ops_numpy_is_implemented():
    with open(NAMES_FILE, encoding="utf-8") as f:
        names = json.load(f)["modules"]["keras.ops.numpy"]
    implemented = [name for name in names if hasattr(gnp, name)]
    assert len(implemented) >= MINIMUM_IMPLEMENTED
    assert sorted(gnp.__all__) == sorted(implemented)
    assert all(getattr(gpunet.ops, name) is getattr(gnp, name) for name in implemented)


def test_every_implemented_name_has_a_keras_case():
    assert {case.name for case in CASES} >= set(gnp.__all__) - {"vectorize"}


def test_vectorize_maps_a_scalar_function(keras):
    def f(a, b):
        return gnp.add(gnp.multiply(a, a), b)

    ours = gnp.vectorize(f)(Tensor(X), Tensor(ROW))
    theirs = keras.ops.vectorize(lambda a, b: a * a + b)(X, ROW)
    assert_same(host(ours), host(theirs), "vectorize")


def test_a_recorded_graph_of_these_ops_replays_each_steps_values():
    """Index-, mask- and order-dependent ops read each step's arrays when a Tape replays them."""
    from gpunet.autograd import Tape

    weight = Tensor(RNG.standard_normal((4, 3)), requires_grad=True)

    def step(x, labels):
        h = gnp.matmul(x, weight)
        h = gnp.where(gnp.greater(h, 0), h, gnp.multiply(h, 0.1))
        top = gnp.take_along_axis(gnp.sort(h, axis=1), gnp.expand_dims(gnp.mod(gnp.argmax(x, axis=1), 3), 1), axis=1)
        picked = gnp.take(gnp.ravel(h), labels)
        return (gnp.sum(top) + gnp.sum(gnp.square(picked)) + gnp.mean(gnp.quantile(h, 0.3, axis=1)),)

    def batch(seed):
        rng = np.random.default_rng(seed)
        return backend.to_device(rng.standard_normal((5, 4))), backend.to_device(rng.integers(0, 15, 4).astype(np.int32))

    tape, _ = Tape.record(step, [Tensor(a) for a in batch(0)], [weight])
    assert tape is not None, Tape.last_refusal
    for seed in (1, 2):
        arrays = batch(seed)
        (replayed,) = tape.forward(*arrays)
        (grad,) = tape.backward(backend.array_module().ones((), np.float64))
        weight.grad = None
        (eager,) = step(*[Tensor(a) for a in arrays])
        eager.backward()
        np.testing.assert_allclose(backend.to_host(replayed), eager.numpy(), rtol=1e-12)
        np.testing.assert_allclose(backend.to_host(grad), backend.to_host(weight.grad), rtol=1e-12)


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_elements_tied_for_the_extreme_share_its_gradient_as_in_jax(name):
    jax = pytest.importorskip("jax")
    values = np.array([[1.0, 3.0, 3.0, 2.0], [1.0, 1.0, 0.5, 1.0]])
    values = values if name in ("max", "amax") else -values
    expected = jax.grad(lambda v: getattr(jax.numpy, name)(v, axis=1).sum())(values.astype(np.float32))
    x = Tensor(values, requires_grad=True)
    getattr(gnp, name)(x, axis=1).sum().backward()
    np.testing.assert_allclose(backend.to_host(x.grad), np.asarray(expected))

