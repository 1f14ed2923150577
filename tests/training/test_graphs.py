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


class _EmulatedCapture:
    """Just enough of ``cupy.cuda`` for GraphedStep on NumPy arrays, with CUDA's meaning: while a
    stream captures, the step's work is recorded and not run (the emulation runs it, then puts
    every array and generator back as they were); launching the graph runs the device work again
    (the emulation runs the step, then puts back the host counters, which a real launch does not
    touch). So everything GraphedStep keeps on the host must come from its own bookkeeping."""

    def __init__(self):
        self.graphed = None  # the GraphedStep, once fit made it
        self.launches = 0
        emulation = self

        class Stream:
            def __init__(self, non_blocking=False):
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def record(self):
                return object()

            def wait_event(self, event):
                pass

            def synchronize(self):
                pass

            def begin_capture(self):
                emulation.saved = emulation._device_state()

            def end_capture(self):
                emulation._restore_device_state(emulation.saved)
                return Graph()

        class Graph:
            def launch(self, stream=None):
                step = emulation.graphed
                host = step._counters()
                step.inner(step.static_x, step.static_y)
                step._restore_counters(host)
                emulation.launches += 1

        self.cuda = type("cuda", (), {
            "Stream": Stream, "MemoryPool": lambda: type("Pool", (), {"malloc": None})(),
            "using_allocator": staticmethod(lambda malloc: _Null()), "get_current_stream": staticmethod(lambda: Stream()),
        })
        self.empty_like = np.empty_like

    def _device_state(self):
        step = self.graphed.inner
        metrics_ = [step.train_loss, *step.train_metrics]
        return {"weights": [w.data.copy() for w in step.model.weights],
                "slots": {n: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items() if k != "step"}
                          for n, s in step.optimizer._slots.items()},
                "totals": [m.total for m in metrics_], "rng": backend.get_rng_state()}

    def _restore_device_state(self, saved):
        step = self.graphed.inner
        for w, value in zip(step.model.weights, saved["weights"]):
            w.data[...] = value
        for name, slots in saved["slots"].items():
            for key, value in slots.items():
                if isinstance(value, np.ndarray):
                    step.optimizer._slots[name][key][...] = value
        for m, total in zip([step.train_loss, *step.train_metrics], saved["totals"]):
            m.total = total
        backend.set_rng_state(saved["rng"])


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_graphed_step_bookkeeping_on_an_emulated_capture(monkeypatch):
    """GraphedStep's own logic on the CPU: eager steps, capture, replay of full batches, the last
    smaller batch eager, host counters advanced by replays: the same weights and History, bit for
    bit, as plain training, with most steps launched from the graph."""
    emulation = _EmulatedCapture()
    made = graphs.GraphedStep.__init__

    def remember(self, inner, announce=None):
        made(self, inner, announce)
        emulation.graphed = self

    monkeypatch.setattr(graphs.GraphedStep, "__init__", remember)
    monkeypatch.setattr(graphs, "backend", type("b", (), {"array_module": staticmethod(lambda: emulation)}))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((203, 12)).astype(np.float32)
    y = rng.integers(0, 3, 203)
    results = {}
    for graphed in (False, True):
        monkeypatch.setattr("gpunet.training.trainer.graphs_possible", lambda graphed=graphed: graphed)
        set_random_seed(5)
        model = _model(optimizers.SGD(0.05, momentum=0.9))
        history = model.fit(x, y, batch_size=16, epochs=3, validation_split=0.2, verbose=0)
        logs = {k: v for k, v in history.history.items() if k != "epoch_time"}
        results[graphed] = ([w.copy() for w in model.get_weights()], logs, model.optimizer.iterations,
                            sorted(s["step"] for s in model.optimizer._slots.values()))
    for a, b in zip(results[False][0], results[True][0]):
        np.testing.assert_array_equal(a, b)
    assert results[False][1:] == results[True][1:]
    steps = 3 * -(-162 // 16)  # 11 batches of 162 training samples (10 full), 3 epochs
    assert results[True][2] == steps
    # eager: the first two full batches (recorded, then replayed by the tape), the third (the real
    # step the capture follows), and each epoch's smaller last batch; every other batch is a launch
    assert emulation.launches == steps - 3 - 3
