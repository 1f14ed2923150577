"""The recorded tape: replaying a model's step gives exactly the numbers of eager autograd."""

import numpy as np
import pytest

import gpunet
from gpunet import Parameter, Sequential, Tensor, backend, ops
from gpunet.autograd import Tape
from gpunet.layers import Activation, Dense, Dropout, Flatten, Input, Layer
from gpunet.training import TrainStep
from gpunet.utils import set_random_seed


def _batches(x, y, size):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


def _train(model, batches, replay):
    step = TrainStep(model, run_eagerly=not replay)
    for xb, yb in batches:
        step(backend.to_device(xb), backend.to_device(yb))
    return step


def _pair(make, loss, metrics, optimizer):
    models = []
    for _ in range(2):
        set_random_seed(3)
        model = make()
        model.compile(optimizer=optimizer(), loss=loss, metrics=metrics)
        models.append(model)
    return models


CASES = {
    "relu-dropout-softmax-adam": (
        lambda: Sequential([Input((12,)), Dropout(0.1), Dense(16, activation="relu"), Dropout(0.3), Dense(4, activation="softmax")]),
        "sparse_categorical_crossentropy", lambda: gpunet.optimizers.Adam(0.01), "labels"),
    "sigmoid-sgd-momentum": (
        lambda: Sequential([Input((12,)), Dense(8, activation="sigmoid"), Dense(8, activation="tanh"), Dense(4), Activation("softmax")]),
        "sparse_categorical_crossentropy", lambda: gpunet.optimizers.SGD(0.1, momentum=0.9, nesterov=True), "labels"),
    "flatten-one-hot": (
        lambda: Sequential([Input((3, 4)), Flatten(), Dense(6, activation="relu"), Dense(4, activation="softmax")]),
        "categorical_crossentropy", lambda: gpunet.optimizers.RMSprop(0.01, centered=True), "onehot"),
    "probabilities-not-fused": (
        lambda: Sequential([Input((12,)), Dense(4, activation="softmax")]),
        gpunet.losses.SparseCategoricalCrossentropy(from_logits=False) , lambda: gpunet.optimizers.Nadam(), "labels-unfused"),
    "binary": (
        lambda: Sequential([Input((12,)), Dense(5, activation="relu"), Dense(1, activation="sigmoid")]),
        "binary_crossentropy", lambda: gpunet.optimizers.Adagrad(0.1), "binary"),
    "regression": (
        lambda: Sequential([Input((12,)), Dense(5, activation="tanh"), Dense(2)]),
        "mse", lambda: gpunet.optimizers.AdamW(0.01), "regression"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_replay_is_bitwise_equal_to_eager(name, xp):
    make, loss, optimizer, kind = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((53, 12)).astype(np.float32)
    if name == "flatten-one-hot":
        x = x.reshape(53, 3, 4)
    labels = rng.integers(0, 4, 53)
    y = {"labels": labels, "labels-unfused": labels, "onehot": np.eye(4, dtype=np.float32)[labels],
         "binary": (labels % 2).astype(np.float32).reshape(-1, 1), "regression": rng.standard_normal((53, 2)).astype(np.float32)}[kind]
    if kind == "labels-unfused":
        make_unfused = lambda: Sequential([Input((12,)), Dense(4), Activation("sigmoid")])  # noqa: E731
        make = make_unfused
    metrics = ["accuracy"] if kind != "regression" else ["mae"]
    eager_model, replay_model = _pair(make, loss, metrics, optimizer)
    batches = _batches(x, y, 8)  # 6 batches of 8 and a last one of 5
    set_random_seed(11)
    eager = _train(eager_model, batches * 2, replay=False)
    set_random_seed(11)
    replayed = _train(replay_model, batches * 2, replay=True)
    assert eager.tape is None and replayed.tape is not None
    for a, b in zip(eager_model.get_weights(), replay_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert eager.train_loss.result() == replayed.train_loss.result()
    for m_eager, m_replay in zip(eager.train_metrics, replayed.train_metrics):
        assert m_eager.result() == m_replay.result()
    for p_eager, p_replay in zip(eager_model.weights, replay_model.weights):
        np.testing.assert_array_equal(backend.to_host(p_eager.grad), backend.to_host(p_replay.grad))


class Custom(Layer):
    """A layer of the user's that does not declare the recording contract: it runs eagerly."""

    def call(self, x, training=False):
        return x * 2.0


class Declared(Custom):
    """The same layer, declaring that it keeps the contract: it gets the tape."""

    supports_recording = True


def test_models_with_custom_layers_run_eagerly_unless_they_declare_the_contract():
    model = Sequential([Input((4,)), Custom(), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    told = []
    step = TrainStep(model, announce=told.append)
    for _ in range(2):
        step(backend.to_device(np.ones((2, 4), np.float32)), backend.to_device(np.array([0, 1])))
    assert step.tape is None
    assert len(told) == 1 and "'custom' (Custom)" in told[0] and "supports_recording" in told[0]
    declared = Sequential([Input((4,)), Declared(), Dense(3, activation="softmax")])
    declared.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert _train(declared, [(np.ones((2, 4), np.float32), np.array([0, 1]))] * 2, replay=True).tape is not None
    dense = Sequential([Input((4,)), Dense(3, activation=lambda t: ops.relu(t))])
    dense.compile(optimizer="sgd", loss="mse")
    assert _train(dense, [(np.ones((2, 4), np.float32), np.zeros((2, 3), np.float32))], replay=True).tape is None


def test_tape_refuses_arrays_taken_from_the_inputs_outside_ops():
    w = Parameter(np.ones((3, 2)), name="w")
    x = Tensor(np.ones((4, 3)))

    def leaky(t):
        hidden = Tensor(t.data.reshape(4, 3))  # a view of the input taken without an op: it would go stale
        return (ops.matmul(hidden, w).sum(),)

    tape, (out,) = Tape.record(leaky, (x,), [w])
    assert tape is None and "derived from the inputs" in Tape.last_refusal
    out.backward()  # the eager graph is still there
    np.testing.assert_allclose(backend.to_host(w.grad), np.full((3, 2), 4.0))


def test_tape_records_ops_on_inputs_that_need_no_gradient():
    """Dropout on the input layer acts on data that needs no gradient: it must be replayed,
    not frozen as a constant."""
    w = Parameter(np.ones((5, 1)), name="w")
    tape, _ = Tape.record(lambda t: (ops.matmul(ops.dropout(t, 0.5), w).sum(),), (Tensor(np.ones((4, 5))),), [w])
    ones, zeros = backend.to_device(np.ones((4, 5))), backend.to_device(np.zeros((4, 5)))  # replays take device arrays
    first = tape.forward(ones)[0]
    values = {float(tape.forward(ones)[0]) for _ in range(20)}
    assert len(values) > 1  # fresh masks at every replay
    assert float(tape.forward(zeros)[0]) == 0.0 and first is not None


def test_tape_gradients_match_eager_for_shared_parameters():
    w = Parameter(np.array([[0.5, -1.0], [2.0, 0.3]]), name="w")
    x = np.array([[1.0, 2.0], [3.0, -1.0]])

    def fn(t):
        h = ops.tanh(ops.matmul(t, w))
        return (ops.matmul(h, w).sum(),)  # w used twice

    tape, (out,) = Tape.record(fn, (Tensor(x),), [w])
    (g_tape,) = tape.backward(backend.to_device(np.ones(())))
    out2 = fn(Tensor(x))[0]
    w.grad = None
    out2.backward()
    np.testing.assert_array_equal(backend.to_host(g_tape), backend.to_host(w.grad))
