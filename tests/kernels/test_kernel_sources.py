"""Every CUDA kernel in gpunet compiles with NVRTC for the GPU architectures users have.

Runs on machines without a GPU (NVRTC needs none); skipped where NVRTC is not installed
(``pip install -e ".[dev]"`` brings it).
"""

import importlib
import itertools
import pkgutil

import pytest

import gpunet
from gpunet import elementwise
from gpunet.elementwise import ElementwiseKernel, cuda_source

import nvrtc

ARCHITECTURES = ["compute_80", "compute_90"]  # A100; H100 and H200

pytestmark = pytest.mark.skipif(nvrtc.library() is None, reason="NVRTC is not installed (pip install nvidia-cuda-nvrtc-cu12)")


def _all_kernels():
    for module in pkgutil.walk_packages(gpunet.__path__, "gpunet."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    return list(elementwise.KERNELS)


KERNELS = _all_kernels()


def _bindings(kernel):
    names = elementwise.placeholders(kernel)
    for combo in itertools.product(*(elementwise.PLACEHOLDER_TYPES[n] for n in names)):
        yield dict(zip(names, combo))


def test_every_kernel_is_found():
    names = {k.name for k in KERNELS}
    assert len(names) == len(KERNELS), "kernel names must be unique"
    for expected in ("gpunet_sigmoid", "gpunet_dropout", "gpunet_adam", "gpunet_rmsprop_centered_momentum",
                     "gpunet_softmax_cross_entropy_grad", "gpunet_philox_uniform"):
        assert expected in names


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_kernel_compiles(kernel, arch):
    for types in _bindings(kernel):
        source = cuda_source(kernel, types)
        ok, log, ptx = nvrtc.compile_ptx(source, kernel.name, [f"-arch={arch}", "-std=c++17"])
        assert ok, f"{kernel.name} with {types} does not compile for {arch}:\n{log}\n{source}"
        assert f".entry {kernel.name}" in ptx


def test_a_broken_kernel_is_rejected_with_the_compilers_message():
    broken = ElementwiseKernel("T x", "T y", "y = x * undefined_name;", "gpunet_test_broken")
    elementwise.KERNELS.remove(broken)
    ok, log, _ = nvrtc.compile_ptx(cuda_source(broken, {"T": "float"}), broken.name, ["-arch=compute_80"])
    assert not ok
    assert "undefined_name" in log


def test_a_type_error_is_rejected():
    broken = ElementwiseKernel("T x, raw I idx", "T y", "y = x + idx;", "gpunet_test_type_error")  # pointer + float
    elementwise.KERNELS.remove(broken)
    ok, log, _ = nvrtc.compile_ptx(cuda_source(broken, {"T": "float", "I": "int"}), broken.name, ["-arch=compute_80"])
    assert not ok, log


def test_source_binds_parameters():
    k = ElementwiseKernel("T gy, raw I labels, int64 classes", "T g", "g = gy;", "gpunet_test_bind")
    elementwise.KERNELS.remove(k)
    src = cuda_source(k, {"T": "double", "I": "long long"})
    assert "typedef double T;" in src and "typedef long long I;" in src
    assert "const I* labels" in src and "const long long classes = _p_classes[i];" in src
    assert "T& g = _p_g[i];" in src
