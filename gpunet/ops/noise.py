"""Noise operations: dropout, spatial (broadcast-mask) dropout, Gaussian noise, Gaussian dropout,
alpha dropout. Every draw comes from :func:`gpunet.backend.noise_generator` (seeded by
``gpunet.utils.set_random_seed``, saved and restored with checkpoints), inside the op's forward."""

from __future__ import annotations

from .. import backend
from ..gpu import kernels
from ..autograd import Function, Tensor, as_tensor
from ..dtype_policies import is_float

__all__ = ["check_rate", "dropout", "spatial_dropout", "gaussian_noise", "gaussian_dropout", "alpha_dropout"]


class Dropout(Function):
    """Mask from uniform noise ``u`` drawn on the data's device: kept where ``u >= rate``,
    scaled by ``1 / (1 - rate)``; forward and mask in one fused kernel on the GPU."""

    def __init__(self, rate):
        self.rate = rate

    def forward(self, x):
        y, self.mask = kernels.dropout_apply(x, backend.noise_generator(), self.rate, 1.0 / (1.0 - self.rate))
        return y

    def backward(self, gy):
        return (gy * self.mask,)


def dropout(x, rate: float, training: bool = True) -> Tensor:
    """Inverted dropout (Srivastava et al. 2014): zero each element with probability ``rate`` and
    scale the kept ones by ``1 / (1 - rate)``, so the expected value is unchanged; the identity
    when ``training`` is False or ``rate`` is 0. Backward multiplies by the same mask.
    """
    rate = check_rate(rate)
    x = as_tensor(x)
    if not training or rate == 0:
        return x
    if not is_float(x.dtype):
        raise TypeError(f"dropout needs floating-point input, got dtype {x.dtype}")
    return Dropout(rate)(x)


# ----------------------------------------------------------------------------------------------
# noise drawn per call: y = x * scale + shift
# ----------------------------------------------------------------------------------------------
def _uniform(generator, shape, dtype):
    """Uniform noise in [0, 1) of ``shape`` from ``generator`` (drawn in float32 or float64)."""
    draw = dtype if dtype.name in ("float32", "float64") else "float32"
    return generator.random(tuple(shape), dtype=draw).astype(dtype, copy=False)


def _normal(generator, shape, dtype):
    """Standard normal noise of ``shape``: Box-Muller on two uniform draws (the same code for the
    host's generator and the GPU's Philox stream, which draws uniforms only)."""
    u = _uniform(generator, (2, *shape), dtype)
    xp = backend.get_array_module(u)
    return xp.sqrt(-2 * xp.log1p(-u[0])) * xp.cos((2 * xp.pi) * u[1])


class AffineNoise(Function):
    """``y = x * scale + shift``, ``(scale, shift) = draw(x)`` drawn afresh at every forward (a
    replayed graph draws new noise too); either may be None (1, 0), and each broadcasts against
    ``x`` (a noise shape smaller than ``x``'s). Backward multiplies by the same ``scale``."""

    def __init__(self, draw):
        self.draw = draw

    def forward(self, x):
        scale, shift = self.draw(x)
        self.scale = scale
        y = x if scale is None else x * scale
        return y if shift is None else y + shift

    def backward(self, gy):
        return (gy if self.scale is None else gy * self.scale,)


def check_rate(rate, upper_open=True, name="rate", owner="") -> float:
    """``rate`` as a float, refused (ValueError naming ``name``, after ``owner``: when given)
    unless it is a number in [0, 1) (``upper_open``) or [0, 1]."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (
            0 <= rate < 1 if upper_open else 0 <= rate <= 1):
        raise ValueError(f"{owner + ': ' if owner else ''}{name} must be a number in "
                         f"[0, 1{')' if upper_open else ']'}, got {rate!r}")
    return float(rate)


def _noise_shape(noise_shape, shape) -> tuple:
    """Keras's ``noise_shape`` for inputs of ``shape``: one entry per dim, None taking the input's."""
    if noise_shape is None:
        return tuple(shape)
    if not isinstance(noise_shape, (tuple, list)) or len(noise_shape) != len(shape) or any(
            d is not None and (isinstance(d, bool) or not isinstance(d, int) or d not in (1, n))
            for d, n in zip(noise_shape, shape)):
        raise ValueError(f"noise_shape must give one entry per dim of the input of shape {tuple(shape)}, each None, "
                         f"1 or the input's size, got {noise_shape!r}")
    return tuple(n if d is None else d for d, n in zip(noise_shape, shape))


def _float_input(x, name):
    x = as_tensor(x)
    if not is_float(x.dtype):
        raise TypeError(f"{name} needs floating-point input, got dtype {x.dtype}")
    return x


def spatial_dropout(x, rate: float, noise_shape=None, training: bool = True) -> Tensor:
    """Inverted dropout whose mask has ``noise_shape`` (Keras's form, None entries the input's),
    broadcast over the other dims: ``(N, 1, C)`` drops whole channels of a sequence
    (SpatialDropout1D). Kept entries are scaled by ``1 / (1 - rate)``; identity when not
    ``training`` or ``rate`` is 0."""
    rate = check_rate(rate)
    if noise_shape is None:
        return dropout(x, rate, training)
    x = _float_input(x, "spatial_dropout")
    if not training or rate == 0:
        return x
    shape = _noise_shape(noise_shape, x.shape)

    def draw(a):
        return (_uniform(backend.noise_generator(), shape, a.dtype) >= rate) * a.dtype.type(1 / (1 - rate)), None

    return AffineNoise(draw)(x)


def gaussian_noise(x, stddev: float, training: bool = True) -> Tensor:
    """``x + stddev * n``, ``n`` standard normal noise drawn per call (GaussianNoise); identity
    when not ``training`` or ``stddev`` is 0."""
    if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
        raise ValueError(f"stddev must be a non-negative number, got {stddev!r}")
    x = _float_input(x, "gaussian_noise")
    if not training or stddev == 0:
        return x
    return AffineNoise(lambda a: (None, _normal(backend.noise_generator(), a.shape, a.dtype) * a.dtype.type(stddev)))(x)


def gaussian_dropout(x, rate: float, training: bool = True) -> Tensor:
    """``x * (1 + sqrt(rate / (1 - rate)) * n)``, multiplicative noise of mean 1 (GaussianDropout;
    Srivastava et al. 2014); identity when not ``training`` or ``rate`` is 0."""
    rate = check_rate(rate)
    x = _float_input(x, "gaussian_dropout")
    if not training or rate == 0:
        return x
    stddev = (rate / (1 - rate)) ** 0.5

    def draw(a):
        return 1 + _normal(backend.noise_generator(), a.shape, a.dtype) * a.dtype.type(stddev), None

    return AffineNoise(draw)(x)


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def alpha_dropout(x, rate: float, noise_shape=None, training: bool = True) -> Tensor:
    """Alpha dropout (Klambauer et al. 2017), for SELU networks: dropped entries are set to
    SELU's negative saturation ``alpha' = -scale * alpha``, then ``a * y + b`` with
    ``a = ((1 - rate) (1 + rate alpha'^2))^(-1/2)`` and ``b = -a alpha' rate`` restores zero mean
    and unit variance. Kept where uniform noise of ``noise_shape`` is ``>= rate``; identity when
    not ``training`` or ``rate`` is 0."""
    rate = check_rate(rate)
    x = _float_input(x, "alpha_dropout")
    if not training or rate == 0:
        return x
    shape = _noise_shape(noise_shape, x.shape)
    saturation = -SELU_ALPHA * SELU_SCALE
    a = ((1 - rate) * (1 + rate * saturation ** 2)) ** -0.5
    b = -a * saturation * rate

    def draw(inputs):
        dtype = inputs.dtype
        kept = (_uniform(backend.noise_generator(), shape, dtype) >= rate).astype(dtype)
        return kept * dtype.type(a), (1 - kept) * dtype.type(a * saturation) + dtype.type(b)

    return AffineNoise(draw)(x)
