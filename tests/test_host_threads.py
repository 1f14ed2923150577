"""The host's cores: batch chunks, the thread pool, and matrix products split over the cores."""

import numpy as np
import pytest

from gpunet import backend


@pytest.fixture
def host():
    """The NumPy backend, whatever GPUNET_BACKEND says: these are the host's threads."""
    previous = backend.name()
    backend.use("numpy")
    yield
    backend.use(previous)


def test_batch_chunks_cover_the_batch_once(monkeypatch):
    monkeypatch.setenv("GPUNET_NUM_THREADS", "3")
    big = np.zeros((100, 4000), np.float32)
    chunks = backend.batch_chunks(100, big)
    assert len(chunks) == 3
    covered = np.concatenate([np.arange(100)[c] for c in chunks])
    np.testing.assert_array_equal(covered, np.arange(100))
    assert backend.batch_chunks(100, np.zeros((100, 4))) == [slice(0, 100)]  # too small to pay for threads
    monkeypatch.setenv("GPUNET_NUM_THREADS", "1")
    assert backend.batch_chunks(100, big) == [slice(0, 100)]
    monkeypatch.setenv("GPUNET_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="GPUNET_NUM_THREADS"):
        backend.batch_chunks(100, big)


def test_parallel_runs_every_chunk_and_raises_what_a_chunk_raises(monkeypatch):
    monkeypatch.setenv("GPUNET_NUM_THREADS", "2")
    out = np.zeros(1000)
    backend.parallel(lambda c: out.__setitem__(c, np.arange(1000)[c] * 2.0), [slice(0, 500), slice(500, 1000)])
    np.testing.assert_array_equal(out, np.arange(1000) * 2.0)

    def fail(chunk):
        if chunk.start == 0:
            raise RuntimeError("chunk failed")

    with pytest.raises(RuntimeError, match="chunk failed"):
        backend.parallel(fail, [slice(0, 1), slice(1, 2)])


@pytest.mark.parametrize("shape", [((3000, 300), (300, 64)), ((300, 30000), (30000, 40))], ids=["tall", "wide"])
def test_split_products_equal_the_plain_product(monkeypatch, shape):
    monkeypatch.setenv("GPUNET_NUM_THREADS", "2")
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape[0]).astype(np.float32)
    b = rng.standard_normal(shape[1]).astype(np.float32)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    with backend.host_parallelism():
        got = backend.matmul(a, b, split=True)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-3)


def test_host_parallelism_holds_the_blas_threads_and_gives_them_back(monkeypatch, host):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setenv("GPUNET_NUM_THREADS", "2")
    blas = [info for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    if not blas:
        pytest.skip("no BLAS library that threadpoolctl can see")
    before = [info["num_threads"] for info in blas]
    with backend.host_parallelism():
        inside = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
        with backend.host_parallelism():  # nested: nothing changes
            pass
        assert [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"] == inside
    assert inside == [1] * len(blas)
    assert [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"] == before


def test_blas_chunks_split_only_while_gpunet_holds_the_blas(monkeypatch, host):
    """Work that takes matrix products is split over gpunet's threads only inside
    host_parallelism; outside, one chunk, and the BLAS keeps its own threads."""
    pytest.importorskip("threadpoolctl")
    monkeypatch.setenv("GPUNET_NUM_THREADS", "2")
    big = np.zeros((100, 4000), np.float32)
    assert backend.blas_chunks(100, big) == [slice(0, 100)]
    with backend.host_parallelism():
        assert backend.blas_chunks(100, big) == backend.batch_chunks(100, big)
        assert len(backend.blas_chunks(100, big)) == 2
    assert backend.blas_chunks(100, big) == [slice(0, 100)]


@pytest.mark.parametrize("convolutional", [False, True], ids=["mlp", "convnet"])
def test_fit_holds_the_blas_only_for_models_whose_layers_use_host_threads(monkeypatch, host, convolutional):
    """A convnet trains with gpunet's threads in charge and the BLAS on one thread; a model made
    of matrix products alone keeps the BLAS's own threads (faster for it). Either way the BLAS
    is given back after fit, evaluate and predict."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import gpunet
    from gpunet.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D

    monkeypatch.setenv("GPUNET_NUM_THREADS", "2")

    def blas_threads():
        return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]

    before = blas_threads()
    if not before:
        pytest.skip("no BLAS library that threadpoolctl can see")
    if convolutional:
        layers = [Input((6, 6, 1)), Conv2D(2, 3, activation="relu"), MaxPooling2D(2), Flatten(), Dense(3)]
    else:
        layers = [Input((36,)), Dense(4, activation="relu"), Dense(3)]
    model = gpunet.Sequential(layers)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seen = []

    class Watch(gpunet.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(blas_threads())

    x = np.random.default_rng(0).random((8, *model.input_shape[1:]), np.float32)
    y = np.arange(8) % 3
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[Watch()])
    assert seen and all(s == ([1] * len(before) if convolutional else before) for s in seen)
    model.evaluate(x, y, verbose=0)
    model.predict(x)
    assert blas_threads() == before
