"""Timing of the grouped, depthwise and transposed convolution ops against the compositions
they replace: a depthwise or grouped convolution as a full convolution with a block-diagonal
kernel (groups times the products), a transposed convolution as the convolution of the
zero-dilated, padded input with the flipped kernel. Forward and backward, one line per case.

    python benchmarks/bench_conv_family.py [--repeat 5]

On a shared machine, ``GPUNET_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` and more repeats steady it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gpunet
from gpunet import Tensor, backend, ops
from gpunet.ops import convolution as conv_ops
from gpunet.ops import primitives as P


def block_diagonal(kernel, groups):
    """A grouped kernel (*k, C_in / G, C_out) as the full (*k, C_in, C_out) kernel, zeros off
    the groups (differentiable: a product with a 0/1 mask)."""
    *k, per_group, filters = kernel.shape
    xp = backend.get_array_module(kernel.data)
    mask = xp.zeros((groups, per_group, groups, filters // groups), kernel.dtype)
    for g in range(groups):
        mask[g, :, g] = 1
    tiled = ops.reshape(kernel, (*k, 1, per_group, groups, filters // groups))
    full = ops.multiply(tiled, Tensor(mask.reshape(1, 1, groups, per_group, groups, filters // groups)))
    return ops.reshape(full, (*k, groups * per_group, filters))


def dilated_transpose(x, kernel, stride):
    """'same' transposed 2D convolution, stride ``stride``, through a zero-dilated input (the
    composition the op replaces), odd square kernel."""
    k = kernel.shape[0]
    n, h, w, c = x.shape
    dilated = ops.reshape(P.constant_pad(ops.reshape(x, (n, h, 1, w, 1, c)),
                                         [(0, 0), (0, 0), (0, stride - 1), (0, 0), (0, stride - 1), (0, 0)]),
                          (n, h * stride, w * stride, c))
    dilated = dilated[:, :(h - 1) * stride + 1, :(w - 1) * stride + 1]
    total = stride + k - 2
    before = min(total - total // 2, k - 1)
    padded = P.constant_pad(dilated, [(0, 0), (before, total - before), (before, total - before), (0, 0)])
    flipped = ops.transpose(kernel[::-1, ::-1], (0, 1, 3, 2))
    return conv_ops.conv(padded, flipped)


def timed(fn, arrays, repeat):
    """Best wall time of forward + backward (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        tensors = [Tensor(a, requires_grad=True) for a in arrays]
        start = time.perf_counter()
        y = fn(*tensors)
        y.backward(backend.get_array_module(y.data).ones_like(y.data))
        _ = [backend.to_host(t.grad) for t in tensors]
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cases = []
    x = backend.to_device(rng.standard_normal((64, 32, 32, 32)).astype(np.float32))
    depthwise = backend.to_device(rng.standard_normal((3, 3, 32, 1)).astype(np.float32))
    cases.append(("depthwise 3x3, 64x32x32x32, M=1",
                  lambda a, k: conv_ops.depthwise_conv(a, k, padding="same"),
                  lambda a, k: conv_ops.conv(a, block_diagonal(ops.reshape(k, (3, 3, 1, 32)), 32), padding="same"),
                  [x, depthwise]))
    grouped = backend.to_device(rng.standard_normal((3, 3, 8, 64)).astype(np.float32))
    cases.append(("grouped 3x3, 64x32x32x32 -> 64, groups=4",
                  lambda a, k: conv_ops.conv(a, k, padding="same", groups=4),
                  lambda a, k: conv_ops.conv(a, block_diagonal(k, 4), padding="same"), [x, grouped]))
    wide = backend.to_device(rng.standard_normal((32, 32, 32, 64)).astype(np.float32))
    grouped8 = backend.to_device(rng.standard_normal((3, 3, 8, 64)).astype(np.float32))
    cases.append(("grouped 3x3, 32x32x32x64 -> 64, groups=8",
                  lambda a, k: conv_ops.conv(a, k, padding="same", groups=8),
                  lambda a, k: conv_ops.conv(a, block_diagonal(k, 8), padding="same"), [wide, grouped8]))
    small = backend.to_device(rng.standard_normal((64, 16, 16, 32)).astype(np.float32))
    transposed = backend.to_device(rng.standard_normal((3, 3, 16, 32)).astype(np.float32))
    cases.append(("transpose 3x3 s2 same, 64x16x16x32 -> 32x32x16",
                  lambda a, k: conv_ops.conv_transpose(a, k, strides=2, padding="same"),
                  lambda a, k: dilated_transpose(a, k, 2), [small, transposed]))
    print(f"backend {backend.name()}, float32, forward+backward, best of {args.repeat}")
    with backend.host_parallelism():
        for name, new, old, arrays in cases:
            a, b = [t.numpy() for t in (new(*map(Tensor, arrays)), old(*map(Tensor, arrays)))]
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
            new_time = old_time = float("inf")
            for _ in range(args.repeat):  # interleaved, so that a busy moment of the machine hits both
                new_time, old_time = min(new_time, timed(new, arrays, 1)), min(old_time, timed(old, arrays, 1))
            print(f"{name:48s} new {new_time * 1e3:8.1f} ms   before {old_time * 1e3:8.1f} ms   "
                  f"x{old_time / new_time:5.1f}")


if __name__ == "__main__":
    gpunet.utils.set_random_seed(0)
    main()
