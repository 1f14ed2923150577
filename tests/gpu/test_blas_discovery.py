"""How gpunet.gpu.blas finds libcublas, and what it does where none loads. These run on the CPU:
the emulation's stand-in library plays NVIDIA's (under a file name of its own in this process,
and in a subprocess of its own where it must be found as libcublas.so.13)."""

import importlib.util
import os
import shutil
import subprocess
import sys
import warnings

import pytest

from gpunet.gpu import blas

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LOADER = os.path.join(HERE, "..", "emulated_cupy", "cupy", "cuda", "cublas_emulation.py")
needs_compiler = pytest.mark.skipif(
    not any(shutil.which(c) for c in (os.environ.get("CXX") or "c++", "g++", "clang++")),
    reason="the stand-in libcublas is compiled with a C++ compiler, and none is installed")


@pytest.fixture
def fresh():
    """The binding as before its first product, and again afterwards (the next test finds its
    library afresh)."""
    blas._forget()
    yield
    blas._forget()


def test_a_library_that_does_not_load_means_cupy_matmul_with_one_note(monkeypatch, fresh):
    monkeypatch.setenv("GPUNET_CUBLAS", "/nonexistent/libcublas.so.99")
    with pytest.raises(OSError, match="GPUNET_CUBLAS=/nonexistent/libcublas.so.99 does not load"):
        blas.load_library()
    with pytest.warns(UserWarning, match="go through cupy.matmul, which a CUDA graph cannot capture: GPUNET_CUBLAS="):
        assert blas.capture_safe() is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once
        assert blas.capture_safe() is False
        assert blas.prepare() is False
        assert "/nonexistent/libcublas.so.99" in blas.unavailable_reason()


@needs_compiler
def test_an_explicit_path_is_loaded_and_every_function_gpunet_calls_is_bound(monkeypatch):
    spec = importlib.util.spec_from_file_location("cublas_emulation", LOADER)
    emulation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(emulation)
    emulation.load_private()
    private = os.path.join(os.path.dirname(emulation.build()), "emulated-cublas-private.so")
    monkeypatch.setenv("GPUNET_CUBLAS", private)
    library, path = blas.load_library()
    assert path == private
    bound = blas._Library(library, path)
    assert callable(bound.cublasGemmStridedBatchedEx) and callable(bound.cublasSetWorkspace_v2)


@needs_compiler
def test_the_libcublas_already_in_the_process_is_found(tmp_path):
    """In a process that holds a libcublas.so.13 (the stand-in, loaded as the emulated CuPy loads
    it), discovery finds that one, by the process's mapped files."""
    script = tmp_path / "find.py"
    script.write_text(
        "import importlib.util, sys\n"
        "sys.modules['cupy_backends'] = None  # no real CuPy: on a GPU machine it would load NVIDIA's\n"
        f"spec = importlib.util.spec_from_file_location('cublas_emulation', {LOADER!r})\n"
        "emulation = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(emulation)\n"
        "emulation.load()\n"
        "from gpunet.gpu import blas\n"
        "library, path = blas.load_library()\n"
        "print(path == emulation.build(), path)\n")
    env = {k: v for k, v in os.environ.items() if k != "GPUNET_CUBLAS"}
    env["PYTHONPATH"] = ROOT
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("True "), proc.stdout
    assert proc.stdout.strip().endswith("/libcublas.so.13")


def test_only_libcublas_itself_counts_among_mapped_files():
    assert blas._LIBRARY_FILE.fullmatch("libcublas.so.12")
    assert blas._LIBRARY_FILE.fullmatch("libcublas.so.13.0.2.14")
    assert blas._LIBRARY_FILE.fullmatch("libcublas.so")
    assert not blas._LIBRARY_FILE.fullmatch("libcublasLt.so.12")
    assert not blas._LIBRARY_FILE.fullmatch("libcublas.so.12.bak")
