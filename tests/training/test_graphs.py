"""CUDA graphs of the train step: the conditions for capture, and (on a GPU) replay equals eager."""

import numpy as np
import pytest

import gpunet
from gpunet import backend, layers, metrics, optimizers
from gpunet.training import graphs
from gpunet.training.step import TrainStep
from gpunet.utils import set_random_seed


@pytest.fixture(autouse=True)
def _graphs_off_afterwards():
    yield
    graphs.set_cuda_graphs(False)


def _model(optimizer, metric="accuracy", dropout=0.2):
    model = gpunet.Sequential([layers.Input((12,)), layers.Dense(16, activation="relu"), layers.Dropout(dropout),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=[metric])
    return model


def test_switch_and_its_argument(monkeypatch):
    monkeypatch.delenv("GPUNET_CUDA_GRAPHS", raising=False)
    assert not graphs.cuda_graphs_enabled()
    monkeypatch.setenv("GPUNET_CUDA_GRAPHS", "1")
    assert graphs.cuda_graphs_enabled()
    graphs.set_cuda_graphs(False)
    assert not graphs.cuda_graphs_enabled()
    with pytest.raises(TypeError, match="enabled"):
        graphs.set_cuda_graphs("yes")


def test_no_graphs_on_numpy():
    graphs.set_cuda_graphs(True)
    previous = backend.name()
    backend.use("numpy")
    try:
        assert not graphs.graphs_possible()
        model = _model(optimizers.SGD(0.1))
        assert type(model.make_train_step()) is TrainStep
    finally:
        backend.use(previous)


@pytest.mark.parametrize("optimizer, metric, reason", [
    (lambda: optimizers.SGD(0.1, momentum=0.9), "accuracy", None),
    (lambda: optimizers.Adam(1e-3), "accuracy", "Adam computes per-step values on the host"),
    (lambda: optimizers.SGD(0.1, clipnorm=1.0), "accuracy", "clipping"),
    (lambda: optimizers.SGD(0.1), metrics.AUC(name="auc"), "auc update on the host"),
])
def test_what_a_graph_can_take(optimizer, metric, reason, monkeypatch):
    from gpunet.gpu import blas

    monkeypatch.setattr(blas, "capture_safe", lambda: True)
    step = graphs.GraphedStep(TrainStep(_model(optimizer(), metric)))
    why = step._why_not()
    assert why is None if reason is None else reason in why


def test_no_graph_without_gpunets_own_cublas_handle(monkeypatch):
    """CuPy 14's cuBLAS wrappers refuse to run during a capture: without gpunet's handle there is
    nothing to capture a step's matrix products with."""
    from gpunet.gpu import blas

    monkeypatch.setattr(blas, "capture_safe", lambda: False)
    monkeypatch.setattr(blas, "unavailable_reason", lambda: "no libcublas loads")
    step = graphs.GraphedStep(TrainStep(_model(optimizers.SGD(0.1))))
    assert "cupy.matmul" in step._why_not() and "no libcublas loads" in step._why_not()


def _train(enabled, optimizer, epochs=5, callbacks=None):
    """Weights, History (without timings) and number of graph launches of one seeded fit: 203
    samples, a fifth for validation, batches of 16 (10 full and a smaller last one an epoch)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((203, 12)).astype(np.float32)
    y = rng.integers(0, 3, 203)
    launches = []
    original = graphs.GraphedStep._replay

    def counting(self, batch):
        launches.append(1)
        return original(self, batch)

    graphs.set_cuda_graphs(enabled)
    graphs.GraphedStep._replay = counting
    try:
        set_random_seed(5)
        model = _model(optimizer())
        history = model.fit(x, y, batch_size=16, epochs=epochs, validation_split=0.2, verbose=0, callbacks=callbacks)
    finally:
        graphs.GraphedStep._replay = original
    logs = {k: v for k, v in history.history.items() if k != "epoch_time"}
    return [backend.to_host(w) for w in model.get_weights()], logs, len(launches)


def _assert_replay_equals_eager(eager, graphed, xp):
    """Bit for bit on the CPU emulation of CuPy; to float32 rounding on a GPU (its graph and eager
    step share gpunet's cuBLAS handle, but cuBLAS promises bitwise results only for one stream)."""
    emulated = "emulated" in getattr(xp, "__version__", "")
    for a, b in zip(eager[0], graphed[0]):
        if emulated:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    if emulated:
        assert eager[1] == graphed[1]
    else:
        for key in eager[1]:
            np.testing.assert_allclose(graphed[1][key], eager[1][key], rtol=1e-6)
    if graphs.graphs_possible():
        from gpunet.gpu import blas

        assert blas.capture_safe(), blas.unavailable_reason()
        # eager: each epoch's first two full batches (recorded, then replayed by the tape) and its
        # smaller last batch; the third full batch of the first epoch is the real step the
        # capture follows; every other full batch is a launch of the graph
        epochs = len(eager[1]["loss"])
        assert graphed[2] == epochs * 10 - 3, graphed[2]


@pytest.mark.gpu
def test_graph_replay_trains_exactly_as_the_eager_step(xp):
    """With graphs asked for, 5 epochs (55 steps) give the eager step's weights and History:
    replayed from a graph where CuPy can capture, by the eager fallback where it cannot."""
    sgd = lambda: optimizers.SGD(0.05, momentum=0.9)  # noqa: E731
    _assert_replay_equals_eager(_train(False, sgd), _train(True, sgd), xp)


@pytest.mark.gpu
def test_a_replayed_graph_keeps_a_constant_loss_scale(xp):
    """Keras's loss_scale_factor: the backward pass starts from it and the update divides it out,
    inside the graph as eagerly."""
    scaled = lambda: optimizers.SGD(0.05, momentum=0.9, loss_scale_factor=256.0)  # noqa: E731
    eager, graphed = _train(False, scaled), _train(True, scaled)
    _assert_replay_equals_eager(eager, graphed, xp)
    plain = _train(False, lambda: optimizers.SGD(0.05, momentum=0.9))
    for a, b in zip(plain[0], eager[0]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_a_replayed_graph_follows_a_learning_rate_schedule(xp):
    """The rate is read from device memory at each replay: a per-step schedule decays inside the
    graph as it does eagerly (a rate baked into the graph would stay at the capture's)."""
    schedule = lambda: optimizers.SGD(gpunet.schedules.ExponentialDecay(0.1, decay_steps=5, decay_rate=0.5))  # noqa: E731
    eager, graphed = _train(False, schedule), _train(True, schedule)
    _assert_replay_equals_eager(eager, graphed, xp)
    constant = _train(False, lambda: optimizers.SGD(0.1))
    assert not np.allclose(constant[0][0], graphed[0][0])  # the schedule did change the training


@pytest.mark.gpu
def test_a_replayed_graph_takes_a_plateau_decay_without_capturing_again(xp):
    plateau = lambda: [gpunet.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10)]  # noqa: E731
    sgd = lambda: optimizers.SGD(0.05)  # noqa: E731
    captures = []
    original = graphs.GraphedStep._capture

    def counting(self, batch):
        captures.append(1)
        return original(self, batch)

    graphs.GraphedStep._capture = counting
    try:
        eager, graphed = _train(False, sgd, callbacks=plateau()), _train(True, sgd, callbacks=plateau())
    finally:
        graphs.GraphedStep._capture = original
    assert eager[1]["learning_rate"] == [0.05, 0.05, 0.025, 0.0125, 0.00625]  # halved from the second epoch on
    _assert_replay_equals_eager(eager, graphed, xp)
    if graphs.graphs_possible():
        assert len(captures) == 1


def test_the_graph_key_leaves_out_the_learning_rate():
    optimizer = optimizers.SGD(0.1, momentum=0.9)
    key = optimizer.graph_key()
    optimizer.learning_rate = 0.01
    assert optimizer.graph_key() == key
    optimizer.momentum = 0.5
    assert optimizer.graph_key() != key
    scheduled = optimizers.SGD(gpunet.schedules.ExponentialDecay(0.1, decay_steps=5, decay_rate=0.5))
    before = scheduled.graph_key()
    scheduled.iterations = 100  # the schedule's rate changed; the graph stays
    assert scheduled.graph_key() == before
