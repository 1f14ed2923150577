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
def test_what_a_graph_can_take(optimizer, metric, reason):
    step = graphs.GraphedStep(TrainStep(_model(optimizer(), metric)))
    why = step._why_not()
    assert why is None if reason is None else reason in why


@pytest.mark.gpu
def test_graph_replay_trains_exactly_as_the_eager_step(xp):
    """With graphs asked for, training gives the eager step's weights bit for bit: replayed from
    a graph where CuPy can capture (a GPU), by the eager fallback where it cannot."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((203, 12)).astype(np.float32)
    y = rng.integers(0, 3, 203)
    launches = []
    original = graphs.GraphedStep._replay

    def counting(self, xb, yb):
        launches.append(1)
        return original(self, xb, yb)

    graphs.GraphedStep._replay = counting
    try:
        results = {}
        for enabled in (False, True):
            graphs.set_cuda_graphs(enabled)
            set_random_seed(5)
            model = _model(optimizers.SGD(0.05, momentum=0.9))
            history = model.fit(x, y, batch_size=16, epochs=3, validation_split=0.2, verbose=0)
            logs = {k: v for k, v in history.history.items() if k != "epoch_time"}
            results[enabled] = ([backend.to_host(w) for w in model.get_weights()], logs)
    finally:
        graphs.GraphedStep._replay = original
    for a, b in zip(results[False][0], results[True][0]):
        np.testing.assert_array_equal(a, b)
    assert results[False][1] == results[True][1]
    if graphs.graphs_possible():
        assert launches, "a graph was captured and replayed"
