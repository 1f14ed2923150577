"""The rules of CuPy 14 that gpunet's GPU path is written against.

These run wherever the ``gpu`` tests run: on a GPU machine against CuPy itself
(``scripts/gpu-check.sh``), and in CI against the CPU emulation in ``tests/emulated_cupy``
(``tests/test_emulated_gpu.py``). The same assertions on both keep the emulation from drifting
away from CuPy: whatever the emulation lets through, a test here says real CuPy lets through.
"""

import numpy as np
import pytest


pytestmark = pytest.mark.gpu


def _emulated(cp) -> bool:
    return "emulated" in cp.__version__


def test_device_arrays_are_not_host_arrays(cp):
    a = cp.arange(6, dtype=np.float32)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError):
        a + np.ones(6, np.float32)  # a NumPy operand, whichever side
    with pytest.raises(TypeError):
        np.ones(6, np.float32) * a
    assert isinstance(a * np.float32(2), cp.ndarray)  # NumPy and Python scalars are fine
    total = a.sum()
    assert isinstance(total, cp.ndarray) and total.shape == ()  # a reduction stays on the device
    assert isinstance(a[2], cp.ndarray) and float(a[2]) == 2.0  # and so does an element
    assert isinstance(np.exp(a), cp.ndarray)  # NumPy's functions dispatch to CuPy's
    np.testing.assert_array_equal(a.get(), np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(a[np.array([1, 3])].get(), [1, 3])  # host indices are copied over


def test_capture_records_work_and_replays_it_on_the_current_data(cp):
    x = cp.zeros(4, np.float32)
    y = cp.zeros(4, np.float32)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        x += 1
        y[...] = x * 2
        graph = stream.end_capture()
    stream.synchronize()
    np.testing.assert_array_equal(x.get(), 0)  # captured, not run
    for count in (1, 2, 3):
        graph.launch(stream)
        stream.synchronize()
        np.testing.assert_array_equal(x.get(), count)
        np.testing.assert_array_equal(y.get(), 2 * count)
    x[...] = 10  # the graph reads what the buffers hold when it runs
    graph.launch(stream)
    stream.synchronize()
    np.testing.assert_array_equal(y.get(), 22)


def test_a_host_sync_during_capture_is_refused_and_breaks_the_capture(cp):
    x = cp.ones(3, np.float32)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        try:
            with pytest.raises(cp.cuda.runtime.CUDARuntimeError):
                float(x.sum())
        finally:
            with pytest.raises(cp.cuda.runtime.CUDARuntimeError):
                stream.end_capture()


def test_cupys_own_cublas_calls_are_refused_during_capture(cp):
    """CuPy 14 refuses every cuBLAS call while the stream captures (cublas.setStream): gpunet's
    matrix products therefore go through its own handle (gpunet.gpu.blas)."""
    a = cp.ones((4, 4), np.float32)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        try:
            with pytest.raises(NotImplementedError, match="cuBLAS"):
                cp.matmul(a, a)
            with pytest.raises(NotImplementedError, match="cuBLAS"):
                a @ a
            cp.vdot(a[0], a[1])  # a product of two vectors is a reduction kernel in CuPy: it is captured
        finally:
            stream.end_capture()


def test_a_replay_reads_a_device_scalar_written_after_the_capture(cp):
    """What a captured step relies on for its learning rate: a host scalar given to a kernel is a
    constant of the graph; a one-element device buffer it reads (``raw``) is read at each replay."""
    kernel = cp.ElementwiseKernel("T x, T constant, raw T rate", "T y", "y = x * constant + rate[0];", "gpunet_test_rate")
    x = cp.ones(3, np.float32)
    y = cp.empty(3, np.float32)
    rate = cp.full(1, 0.5, np.float32)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        kernel(x, np.float32(2.0), rate, y)
        graph = stream.end_capture()
    for value in (0.5, 0.25, -1.0):
        rate.fill(value)  # outside the graph, on the default stream, as the graph code stages the rate
        cp.cuda.get_current_stream().synchronize()
        graph.launch(stream)
        stream.synchronize()
        np.testing.assert_array_equal(y.get(), np.float32(2.0) + np.float32(value))


def test_a_replay_touching_freed_memory_is_caught_by_the_emulation(cp):
    if not _emulated(cp):
        pytest.skip("only the CPU emulation of CuPy can check this: a GPU reads whatever the memory pool handed out next")
    x = cp.ones(3, np.float32)
    y = cp.zeros(3, np.float32)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        y += x
        graph = stream.end_capture()
    graph.launch(stream)
    del x
    with pytest.raises(cp.cuda.runtime.CUDARuntimeError, match="freed"):
        graph.launch(stream)
