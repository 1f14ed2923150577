"""gpunet's GPU path, run in CI without a GPU: every ``gpu``-marked test, in a subprocess whose
``cupy`` is the CPU emulation in ``tests/emulated_cupy`` (its README says what it can and cannot
check). A GPU machine runs those tests for real instead (``scripts/gpu-check.sh``).

A gpu test may be skipped there only because an optional package it compares against is missing
(Keras, matplotlib, ...); any other skip ("no usable CUDA device" above all) means the emulated
device did not run it, and fails this test. The device check judges its skips the same way, with
the same function (``unexplained_skips`` in ``scripts/gpu_check.py``).
"""

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from gpunet import backend

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_spec = importlib.util.spec_from_file_location("gpu_check", os.path.join(ROOT, "scripts", "gpu_check.py"))
gpu_check = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # registered: it defines dataclasses
_spec.loader.exec_module(gpu_check)


@pytest.mark.skipif(not any(shutil.which(c) for c in (os.environ.get("CXX") or "c++", "g++", "clang++")),
                    reason="the CuPy emulation compiles kernels with a C++ compiler, and none is installed")
def test_the_gpu_tests_pass_on_emulated_cupy(tmp_path, request):
    if backend.name() != "numpy":
        pytest.skip("this run already uses a GPU backend")
    inherited = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    env = {**os.environ, "GPUNET_BACKEND": "cupy",
           "PYTHONPATH": os.pathsep.join([os.path.join(HERE, "emulated_cupy"), ROOT, *inherited])}
    junit = tmp_path / "gpu.xml"
    slow = request.config.getoption("--slow")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no", "-m", "gpu",
                           "-x", "--junitxml", str(junit), *(["--slow"] if slow else []), HERE],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    tail = proc.stdout[-6000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    results = gpu_check.junit_results(junit)
    assert results["counts"]["passed"] > 0, tail
    unexplained = gpu_check.unexplained_skips(set(results["skips"]), slow_selected=slow)
    assert not unexplained, f"gpu tests skipped on the emulated device: {unexplained}"  # it ran every gpu test it could


def test_only_a_missing_optional_package_explains_a_skip():
    absent = {"keras", "matplotlib", "mpirun"}

    def missing(name):
        return gpu_check.OPTIONAL.get(name, name) in absent or name in absent

    judge = gpu_check.unexplained_skips
    explained = ["could not import 'matplotlib': No module named 'matplotlib'",
                 "the Keras comparisons run Keras 3 on JAX: pip install -e '.[keras]'",  # Keras absent, JAX present
                 "no mpirun on PATH or beside the Python interpreter",
                 "slow: run with --slow"]
    assert judge(explained, missing) == []
    unexplained = ["no usable CUDA device",
                   "could not import 'tensorboardX': No module named 'tensorboardX'",  # it is present
                   "the JAX comparisons need jax",  # present too
                   "needs a kerasy package",  # names no optional package of the list
                   "dataset-fashion-mnist not installed"]
    assert judge(unexplained, missing) == unexplained
    assert judge(["slow: run with --slow"], missing, slow_selected=True) == ["slow: run with --slow"]
    assert judge(["PyTorch is not installed"], lambda name: name == "PyTorch") == []
    assert judge(["PyTorch is not installed"], lambda name: False) == ["PyTorch is not installed"]
    assert judge(["CuPy has no NCCL here (nvidia-nccl-cu12 or -cu13)"], lambda name: name == "NCCL") == []
    assert judge(["CuPy has no NCCL here (nvidia-nccl-cu12 or -cu13)"], lambda name: False) != []
    emulation_only = gpu_check.EMULATION_ONLY + ": a GPU reads whatever the memory pool handed out next"
    assert judge([emulation_only], lambda name: False) == []
    assert judge(["this checks " + gpu_check.EMULATION_ONLY], lambda name: False) != []  # only as the reason's start


def test_skip_reasons_are_read_from_junit_including_whole_modules(tmp_path):
    junit = tmp_path / "x.xml"
    junit.write_text(
        '<testsuites><testsuite tests="4" skipped="2" failures="1" errors="0">'
        '<testcase classname="tests.a" name="t1"/>'
        '<testcase classname="tests.a" name="t2"><skipped type="pytest.skip" message="no usable CUDA device">'
        "tests/conftest.py:37: no usable CUDA device</skipped></testcase>"
        '<testcase classname="" name="tests.b"><skipped message="collection skipped">'
        "('/x/tests/b.py', 17, \"Skipped: could not import 'matplotlib': No module named 'matplotlib'\")</skipped></testcase>"
        '<testcase classname="tests.c" name="t3"><failure message="assert 0">boom</failure></testcase>'
        "</testsuite></testsuites>")
    results = gpu_check.junit_results(junit)
    assert results["counts"] == {"tests": 4, "skipped": 2, "failures": 1, "errors": 0, "passed": 1}
    assert results["skips"] == ["no usable CUDA device", "could not import 'matplotlib': No module named 'matplotlib'"]
    assert results["failed"] == ["tests.c::t3"]
