"""Backend selection, GPU detection, transfers, default dtype and seeded generators."""

import os
import subprocess
import sys
import types

import numpy as np
import pytest

import gpunet
from gpunet import backend
from gpunet.utils import set_random_seed


@pytest.fixture
def fresh_backend(monkeypatch):
    """Forget the cached backend choice and GPU probe for one test."""
    monkeypatch.setattr(backend.device, "_selected", None)
    monkeypatch.setattr(backend.device, "_gpu_checked", None)
    monkeypatch.setattr(backend.device, "_cupy", None)
    yield backend


def _run(code, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120)


def test_default_is_numpy_without_a_gpu():
    if backend.is_gpu_available():
        pytest.skip("a GPU is present")
    assert backend.name() == "numpy"
    assert backend.array_module() is np


def test_use_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"backend must be one of \['numpy', 'cupy'\]"):
        backend.use("torch")


def test_cuda_runtime_error_counts_as_no_gpu(fresh_backend, monkeypatch):
    """CuPy that imports but whose every device call raises (as on this CI machine)."""

    class CUDARuntimeError(RuntimeError):
        pass

    def no_device():
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device)))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert fresh_backend.is_gpu_available() is False
    with pytest.raises(RuntimeError, match="no usable CUDA device.*pip install gpunet\\[cuda12\\]"):
        fresh_backend.use("cupy")


def test_missing_cupy_says_what_to_install(fresh_backend, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    assert fresh_backend.is_gpu_available() is False
    with pytest.raises(RuntimeError, match="CuPy is not installed.*cupy-cuda12x"):
        fresh_backend.use("cupy")


def test_environment_variable_selects_backend():
    out = _run("import gpunet; print(gpunet.backend.name())", GPUNET_BACKEND="numpy")
    assert out.returncode == 0 and out.stdout.strip() == "numpy"
    bad = _run("import gpunet; gpunet.backend.name()", GPUNET_BACKEND="tpu")
    assert bad.returncode != 0 and "GPUNET_BACKEND must be one of numpy, cupy, auto" in bad.stderr


def test_import_never_fails_even_when_cupy_is_requested_without_gpu():
    if backend.is_gpu_available():
        pytest.skip("a GPU is present")
    out = _run("import gpunet; print('imported')", GPUNET_BACKEND="cupy")
    assert out.returncode == 0 and "imported" in out.stdout
    used = _run("import gpunet; gpunet.Tensor([1.0])", GPUNET_BACKEND="cupy")
    assert used.returncode != 0 and "GPUNET_BACKEND=cupy" in used.stderr and "pip install" in used.stderr


def test_transfers_round_trip(xp):
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    dev = backend.to_device(host)
    assert isinstance(dev, xp.ndarray)
    back = backend.to_host(dev)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, host)
    assert backend.to_host(gpunet.Tensor(dev)).dtype == np.float32
    assert backend.get_array_module(dev) is xp
    assert backend.get_array_module(gpunet.Tensor(dev)) is xp
    assert backend.get_array_module(host) is np


def test_floatx():
    assert backend.floatx() == np.float32
    backend.set_floatx("float64")
    try:
        assert gpunet.Tensor([1.0]).dtype == np.float64
    finally:
        backend.set_floatx("float32")
    with pytest.raises(ValueError, match="float32 or float64"):
        backend.set_floatx("int8")


def test_seed_reproduces_host_and_noise_streams(xp):
    set_random_seed(42)
    a = backend.host_generator().random(5), backend.to_host(backend.noise_generator().random(5))
    set_random_seed(42)
    b = backend.host_generator().random(5), backend.to_host(backend.noise_generator().random(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1]), "host and noise streams must be independent"


def test_rng_state_round_trip():
    set_random_seed(5)
    backend.noise_generator().random(3)
    state = backend.get_rng_state()
    expected = backend.host_generator().random(4), backend.to_host(backend.noise_generator().random(4))
    backend.host_generator().random(10)
    backend.set_rng_state(state)
    np.testing.assert_array_equal(backend.host_generator().random(4), expected[0])
    np.testing.assert_array_equal(backend.to_host(backend.noise_generator().random(4)), expected[1])
    with pytest.raises(ValueError, match="get_rng_state"):
        backend.set_rng_state({"bad": 1})


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        set_random_seed(seed)


def test_same_seed_same_values_across_processes():
    code = "import gpunet; gpunet.utils.set_random_seed(9); print(gpunet.backend.host_generator().random())"
    assert _run(code, GPUNET_BACKEND="numpy").stdout == _run(code, GPUNET_BACKEND="numpy").stdout
