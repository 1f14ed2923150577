"""Every CUDA kernel in gpunet compiles with NVRTC for the GPU architectures users have, with ``T``
bound to each floating-point type a kernel meets: float and double, and float16 and bfloat16
(mixed precision), as CuPy 14 instantiates them (its C++ classes, its headers, its options).

Runs on machines without a GPU (NVRTC needs none); skipped where NVRTC is not installed and,
for the compiles against CuPy's headers, where those are not (``pip install -e ".[dev]"`` brings
both). Kernels with the same binding share one translation unit (their file-scope declarations
are the same headers and typedefs, and distinct function names), so the headers are read once per
binding; a unit that fails is compiled again kernel by kernel to name the kernels at fault.
"""

import importlib
import itertools
import pkgutil

import pytest

import gpunet
from gpunet.gpu import elementwise, philox
from gpunet.gpu.elementwise import COMPUTE_TYPE, ElementwiseKernel, cuda_source

import nvrtc

ARCHITECTURES = ["compute_80", "compute_90"]  # A100; H100 and H200
FLOATS = elementwise.PLACEHOLDER_TYPES["T"]

pytestmark = pytest.mark.skipif(nvrtc.library() is None, reason="NVRTC is not installed (pip install nvidia-cuda-nvrtc-cu12)")


def _all_kernels():
    for module in pkgutil.walk_packages(gpunet.__path__, "gpunet."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    return list(elementwise.KERNELS)


KERNELS = _all_kernels()


def _cupy_options():
    options, reason = nvrtc.cupy_options()
    if options is None:
        pytest.skip(reason)
    return options


def _units(kernels, t):
    """``{binding: [kernel, ...]}``: every binding of the kernels' placeholders with ``T`` as ``t``."""
    units = {}
    for kernel in kernels:
        names = elementwise.placeholders(kernel)
        choices = [(t,) if n == "T" else elementwise.PLACEHOLDER_TYPES[n] for n in names]
        for combo in itertools.product(*choices):
            units.setdefault(tuple(zip(names, combo)), []).append(kernel)
    return units


def _failures(kernels, t, options, cupy_headers=True) -> list:
    """``[(kernel name, binding, compiler log), ...]`` for the kernels that do not compile with ``T``
    as ``t``; each unit that compiles must hold every one of its kernels' entry points."""
    failed = []
    for binding, group in _units(kernels, t).items():
        types = dict(binding)
        sources = [cuda_source(k, types, cupy_headers) for k in group]
        ok, log, ptx = nvrtc.compile_ptx("\n".join(sources), f"unit_{t}", options)
        if ok:
            for kernel in group:
                assert f".entry {kernel.name}(" in ptx, f"{kernel.name} with {types}: no entry point in the PTX"
            continue
        for kernel, source in zip(group, sources):
            ok, log, _ = nvrtc.compile_ptx(source, kernel.name, options)
            if not ok:
                failed.append((kernel.name, types, log))
    return failed


def _report(failed, arch) -> str:
    return "\n\n".join(f"{name} with {types} does not compile for {arch}:\n{log}" for name, types, log in failed)


def _private_kernel(in_params, out_params, body, name):
    kernel = ElementwiseKernel(in_params, out_params, body, name)
    elementwise.KERNELS.remove(kernel)
    return kernel


def test_every_kernel_is_found():
    names = {k.name for k in KERNELS}
    assert len(names) == len(KERNELS), "kernel names must be unique"
    for expected in ("gpunet_sigmoid", "gpunet_dropout", "gpunet_adam", "gpunet_rmsprop_centered_momentum",
                     "gpunet_softmax_cross_entropy_grad", "gpunet_philox_uniform", "gpunet_lstm_step",
                     "gpunet_lstm_backward_step", "gpunet_gru_reset_after_step"):
        assert expected in names


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("t", FLOATS)
def test_kernels_compile_as_cupy_instantiates_them(t, arch):
    """Against CuPy's own headers, with ``T`` CuPy's class for float16 and bfloat16."""
    failed = _failures(KERNELS, t, [*_cupy_options(), f"-arch={arch}"])
    assert not failed, _report(failed, arch)


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("t", ["float", "double"])
def test_kernels_compile_without_cupys_headers(t, arch):
    """float and double need nothing of CuPy's headers but the wrapper's names: checked everywhere."""
    failed = _failures(KERNELS, t, [f"-arch={arch}", "-std=c++17"], cupy_headers=False)
    assert not failed, _report(failed, arch)


@pytest.mark.parametrize("t,body,message", [
    ("float16", "y = x > 0 ? x : 2 * x;", 'ambiguous "?" operation'),  # T on one side, float on the other
    ("bfloat16", "y = x; y -= x;", 'no operator "-="'),  # CuPy's bfloat16 has no compound assignment
])
def test_a_kernel_broken_only_for_16_bit_floats_is_rejected_with_the_compilers_message(t, body, message):
    options = [*_cupy_options(), "-arch=compute_80"]
    broken = _private_kernel("T x", "T y", body, "gpunet_test_broken_16")
    good = _private_kernel("T x", "T y", "y = x * x;", "gpunet_test_good_16")
    assert _failures([good, broken], "float", options) == []
    failed = _failures([good, broken], t, options)
    assert [(name, types) for name, types, _ in failed] == [(broken.name, {"T": t})]
    assert message in failed[0][2]


def test_the_compute_type_is_float_for_16_bit_floats_and_t_otherwise():
    """F (and the uniform numbers of the Philox kernels) in float for float16 and bfloat16, in T
    itself for float and double: checked by the compiler, through CuPy's type traits."""
    options = [*_cupy_options(), "-arch=compute_80"]
    same = "static_assert(cupy::type_traits::is_same<{}, {}>::value, \"{}\");"
    for t, expected in (("float", "float"), ("double", "double"), ("float16", "float"), ("bfloat16", "float")):
        body = (COMPUTE_TYPE + same.format("F", expected, "F") + philox.BLOCK_SOURCE + philox.UNIFORM_SOURCE
                + same.format("decltype(_u)", expected, "uniform") + "y = x;")
        kernel = _private_kernel("T x, raw uint64 state", "T y", body, "gpunet_test_compute_type")
        assert _failures([kernel], t, options) == [], t
    wrong = _private_kernel("T x", "T y", COMPUTE_TYPE + same.format("F", "T", "F") + "y = x;", "gpunet_test_wrong_type")
    failed = _failures([wrong], "float16", options)
    assert len(failed) == 1 and "static assertion failed" in failed[0][2]


def test_a_broken_kernel_is_rejected_with_the_compilers_message():
    broken = _private_kernel("T x", "T y", "y = x * undefined_name;", "gpunet_test_broken")
    ok, log, _ = nvrtc.compile_ptx(cuda_source(broken, {"T": "float"}, cupy_headers=False), broken.name, ["-arch=compute_80"])
    assert not ok
    assert "undefined_name" in log


def test_a_type_error_is_rejected():
    broken = _private_kernel("T x, raw I idx", "T y", "y = x + idx;", "gpunet_test_type_error")  # array + float
    source = cuda_source(broken, {"T": "float", "I": "int"}, cupy_headers=False)
    ok, log, _ = nvrtc.compile_ptx(source, broken.name, ["-arch=compute_80"])
    assert not ok, log


def test_source_binds_parameters():
    k = _private_kernel("T gy, raw I labels, int64 classes", "T g", "g = gy;", "gpunet_test_bind")
    src = cuda_source(k, {"T": "double", "I": "long long"})
    assert "typedef double T;" in src and "typedef long long I;" in src
    assert "const CArray<long long, 1, 1, 1> labels" in src and "const long long &classes = _raw_classes[_ind.get()];" in src
    assert "T &g = _raw_g[_ind.get()];" in src
    assert "#include <cupy/carray.cuh>" in src and "cupy/float16.cuh" not in src
    assert "#include" not in cuda_source(k, {"T": "double", "I": "int"}, cupy_headers=False)


def test_a_16_bit_binding_names_cupys_class_and_its_header():
    k = _private_kernel("T x, bfloat16 w", "T y", "y = x * w;", "gpunet_test_half")
    src = cuda_source(k, {"T": "float16"})
    assert "typedef float16 T;" in src and "CArray<bfloat16, 1, 1, 1> _raw_w" in src
    assert '#include "cupy/bfloat16.cuh"' in src and '#include "cupy/float16.cuh"' in src
    with pytest.raises(ValueError, match="cupy/float16.cuh"):
        cuda_source(k, {"T": "float16"}, cupy_headers=False)
    with pytest.raises(ValueError, match="placeholder"):
        cuda_source(k, {})
    with pytest.raises(ValueError, match="T may be one of"):
        cuda_source(k, {"T": "half"})
