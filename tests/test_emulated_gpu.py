"""gpunet's GPU path, run in CI without a GPU: every ``gpu``-marked test, in a subprocess whose
``cupy`` is the CPU emulation in ``tests/emulated_cupy`` (its README says what it can and cannot
check). A GPU machine runs those tests for real instead (``scripts/gpu-check.sh``)."""

import os
import shutil
import subprocess
import sys

import pytest

from gpunet import backend

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@pytest.mark.skipif(not any(shutil.which(c) for c in (os.environ.get("CXX") or "c++", "g++", "clang++")),
                    reason="the CuPy emulation compiles kernels with a C++ compiler, and none is installed")
def test_the_gpu_tests_pass_on_emulated_cupy():
    if backend.name() != "numpy":
        pytest.skip("this run already uses a GPU backend")
    env = {**os.environ, "GPUNET_BACKEND": "cupy", "PYTHONPATH": os.pathsep.join([os.path.join(HERE, "emulated_cupy"), ROOT])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no", "-m", "gpu",
                           "-x", HERE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    tail = proc.stdout[-6000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, summary  # the emulated device ran every gpu test
