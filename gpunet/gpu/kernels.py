"""The ops' fused GPU kernels, each beside its NumPy twin.

On the GPU every NumPy-style operation is a kernel launch and a trip through device memory;
``gy * y * (1 - y)`` is three of each. The computations below are written once as a CuPy
``ElementwiseKernel`` (compiled on first use, never on the CPU, never at import) and once as
array operations, the *twin*, which runs on NumPy arrays (and on CuPy's: the tests compare the
two on a GPU) and is what the CPU uses. Each pair is a :class:`~gpunet.gpu.fused.Fused`, which
picks the kernel for device arrays and the twin otherwise, so the ops that call them never
branch on the device; ``tests/kernels/test_kernels.py`` checks every kernel against its twin,
and ``tests/kernels/test_kernel_sources.py`` compiles each with NVRTC.
"""

from __future__ import annotations

import math

import numpy

from . import philox
from .elementwise import COMPUTE_TYPE, ElementwiseKernel
from .fused import Fused, array_module

__all__ = ["sigmoid", "sigmoid_grad", "tanh_grad", "relu_grad", "dropout_apply", "softmax_cross_entropy_grad", "erf"]


def _elementwise(kernel: ElementwiseKernel):
    """The GPU side of a pair whose kernel takes the twin's arrays, and ``out`` as its output."""

    def run(*arrays, out=None):
        return kernel(*arrays) if out is None else kernel(*arrays, out)

    run.__name__ = kernel.name
    return run


_EXP_LIMITS: dict = {}


def exp_limit(dtype) -> float:
    """Largest t with exp(t) finite in ``dtype`` (88 for float32, 709 for float64)."""
    limit = _EXP_LIMITS.get(dtype)
    if limit is None:
        limit = _EXP_LIMITS[dtype] = float(numpy.floor(numpy.log(numpy.finfo(dtype).max)))
    return limit


def _sigmoid_twin(x, out=None):
    """``1 / (1 + exp(-x))`` with ``-x`` clipped where exp would overflow: exact to rounding
    wherever the result is a normal number, no overflow warning, five in-place passes."""
    xp = array_module(x)
    t = xp.negative(x, out=out)
    xp.minimum(t, exp_limit(x.dtype), out=t)
    xp.exp(t, out=t)
    t += 1
    xp.reciprocal(t, out=t)
    return t


_sigmoid_kernel = ElementwiseKernel(
    "T x, T limit", "T y", "T t = -x; t = t < limit ? t : limit; y = 1 / (1 + exp(t));", "gpunet_sigmoid"
)


def _sigmoid_gpu(x, out=None):
    return _sigmoid_kernel(x, x.dtype.type(exp_limit(x.dtype)))


sigmoid = Fused(_sigmoid_gpu, _sigmoid_twin)
sigmoid.__doc__ = """The logistic function (see ``_sigmoid_twin`` for the numerics); ``out=x`` computes in
place on the CPU (the GPU kernel always writes a new array)."""


def _sigmoid_grad_twin(gy, y, out=None):
    out = array_module(gy).multiply(gy, y, out=out)
    out *= 1 - y
    return out


def _tanh_grad_twin(gy, y, out=None):
    return array_module(gy).multiply(gy, 1 - y * y, out=out)


def _relu_grad_twin(gy, y, out=None):
    return array_module(gy).multiply(gy, y > 0, out=out)


sigmoid_grad = Fused(
    _elementwise(ElementwiseKernel("T gy, T y", "T gx", "gx = gy * y * (1 - y);", "gpunet_sigmoid_grad")), _sigmoid_grad_twin
)
tanh_grad = Fused(_elementwise(ElementwiseKernel("T gy, T y", "T gx", "gx = gy * (1 - y * y);", "gpunet_tanh_grad")),
                  _tanh_grad_twin)
relu_grad = Fused(_elementwise(ElementwiseKernel("T gy, T y", "T gx", "gx = y > 0 ? gy : (T)0;", "gpunet_relu_grad")),
                  _relu_grad_twin)


def _dropout_twin(x, u, rate, scale):
    mask = (u >= rate) * scale
    return x * mask, mask


_dropout_kernel = ElementwiseKernel(
    "T x, raw uint64 state, T rate, T scale",
    "T y, T mask",
    philox.BLOCK_SOURCE + philox.UNIFORM_SOURCE + "mask = _u >= rate ? scale : (T)0; y = x * mask;",
    "gpunet_dropout",
)


def _dropout_numpy(x, generator, rate, scale):
    u = generator.random(x.shape, dtype=x.dtype if x.dtype.name in ("float32", "float64") else numpy.float32)
    return _dropout_twin(x, u, rate, scale)  # NumPy's generators draw float32 or float64 only


def _dropout_gpu(x, generator, rate, scale):
    y, mask = _dropout_kernel(x, generator.state, rate, scale)
    generator.advance(x.size)
    return y, mask


_dropout = Fused(_dropout_gpu, _dropout_numpy)


def dropout_apply(x, generator, rate: float, scale: float):
    """``(x * mask, mask)`` with ``mask = scale`` where the uniform noise ``u >= rate``, else 0
    (inverted dropout). ``u`` comes from ``generator``: drawn as an array on the CPU; on the GPU
    the Philox stream is computed inside the one kernel that also applies the mask, and its
    counter advanced past ``x.size`` numbers, so ``u`` is never stored."""
    return _dropout(x, generator, x.dtype.type(rate), x.dtype.type(scale))


def _softmax_cross_entropy_grad_twin(p, rows, labels, scale):
    g = p * scale
    g[rows, labels] -= scale
    return g


_softmax_cross_entropy_grad_kernel = ElementwiseKernel(
    "T p, raw I labels, T scale, int64 classes",
    "T g",
    "g = (i % classes == labels[i / classes]) ? (p - 1) * scale : p * scale;",
    "gpunet_softmax_cross_entropy_grad",
)


def _softmax_cross_entropy_grad_gpu(p, rows, labels, scale):
    return _softmax_cross_entropy_grad_kernel(p, labels, scale, p.shape[1])


softmax_cross_entropy_grad = Fused(_softmax_cross_entropy_grad_gpu, _softmax_cross_entropy_grad_twin)
softmax_cross_entropy_grad.__doc__ = """``(softmax - onehot(labels)) * scale`` for probabilities ``p`` of
shape (batch, classes): the gradient of the fused softmax cross-entropy (one kernel on the GPU)."""


_math_erf = numpy.frompyfunc(math.erf, 1, 1)


def _erf_twin(x):
    """The error function, elementwise, to the C library's accuracy: SciPy's ``erf`` where SciPy
    is installed (it comes with JAX and most scientific stacks), else Python's ``math.erf`` one
    element at a time (NumPy has no erf)."""
    try:
        from scipy.special import erf as scipy_erf  # noqa: PLC0415 - optional, found at the first call
    except ImportError:
        return numpy.asarray(_math_erf(x), dtype=x.dtype)
    return scipy_erf(x).astype(x.dtype, copy=False)


erf = Fused(_elementwise(ElementwiseKernel("T x", "T y", COMPUTE_TYPE + "y = (T)erf((F)x);", "gpunet_erf")), _erf_twin)
erf.__doc__ = """``erf(x) = 2 / sqrt(pi) * integral of exp(-t^2) from 0 to x``, elementwise (CUDA's
``erf`` on the GPU), for the exact GELU."""
