"""Shared fixtures: every backend through one fixture, seeded randomness, the --slow switch."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from gpunet import backend
from gpunet.utils import set_random_seed

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests import `helpers`

BACKENDS = ["numpy", pytest.param("cupy", marks=pytest.mark.gpu)]


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=BACKENDS)
def xp(request):
    """Run the test on each available backend; yields that backend's array module."""
    name = request.param
    if name == "cupy" and not backend.is_gpu_available():
        pytest.skip("no usable CUDA device")
    previous = backend.name()
    backend.use(name)
    try:
        yield backend.array_module()
    finally:
        backend.use(previous)


@pytest.fixture
def cp():
    """CuPy as the backend for one test (a GPU test only: skipped where no CUDA device answers)."""
    if not backend.is_gpu_available():
        pytest.skip("no usable CUDA device")
    previous = backend.name()
    backend.use("cupy")
    try:
        yield backend.array_module()
    finally:
        backend.use(previous)


@pytest.fixture
def numpy_backend():
    """NumPy as the backend for one test, whatever the suite's backend (tests of host-side behaviour)."""
    previous = backend.name()
    backend.use("numpy")
    try:
        yield
    finally:
        backend.use(previous)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    set_random_seed(1234)
    yield


@pytest.fixture
def rng():
    """A local NumPy generator for test data (independent of gpunet's generators)."""
    return np.random.default_rng(20261125)


@pytest.fixture(scope="module")
def keras():
    """Keras 3 on JAX for the comparisons against the real Keras, or the test is skipped (a test extra)."""
    from tests.keras_parity import import_keras  # noqa: PLC0415 - imports Keras only for the tests that ask

    return import_keras()
