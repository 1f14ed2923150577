"""Recurrent layers against Keras 3 (same weights): every mode's values; gradients by finite
differences; dropout's per-sequence masks; stateful layers; configs and bad arguments."""

import numpy as np
import pytest
from keras_parity import import_keras

import gpunet
from gpunet import backend, layers
from gpunet.autograd import Tensor
from gpunet.ops import recurrent as recurrent_ops

B, T, F, U = 3, 5, 4, 3
MASK = np.array([[1, 1, 0, 1, 1], [0, 1, 1, 1, 0], [1, 0, 0, 0, 1]], dtype=bool)


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def _x(seed=0, shape=(B, T, F)):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _host(values):
    if isinstance(values, (list, tuple)):
        return [_host(v) for v in values]
    return backend.to_host(values.data if isinstance(values, Tensor) else values)


def _random_weights(layer, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(w.dtype) for w in layer.get_weights()])


def _pair(keras, name, kwargs, x, call_kwargs=None):
    """The gpunet layer and Keras's, built on ``x`` with gpunet's (randomized) weights."""
    ours = getattr(layers, name)(**kwargs)
    ours(x)
    _random_weights(ours)
    theirs = getattr(keras.layers, name)(**kwargs)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _compare(ours, theirs, x, call_kwargs=None, atol=2e-5):
    call_kwargs = call_kwargs or {}
    got = _host(ours(x, **{k: (Tensor(v) if isinstance(v, np.ndarray) else v) for k, v in call_kwargs.items()}))
    want = theirs(x, **call_kwargs)
    want = [np.asarray(w) for w in want] if isinstance(want, (list, tuple)) else np.asarray(want)
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=atol)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol)


KINDS = [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})]
KIND_IDS = ["simple", "lstm", "gru", "gru_before"]
MODES = [
    {"return_sequences": True},
    {"go_backwards": True, "return_state": True},
    {},
    {"return_state": True},
    {"go_backwards": True, "return_sequences": True},
    {"use_bias": False, "return_sequences": True},
]
FAST_MODES = 2  # the first modes run in the default suite; every mode with --slow


def _grid(kinds, modes, fast, mode_id):
    """Every kind with every mode; those past the ``fast`` first modes marked slow (Keras compiles
    each new layer, about a second each)."""
    return [pytest.param(name, extra, mode, id=f"{kind_id}-{mode_id(mode)}",
                         marks=() if i < fast else pytest.mark.slow)
            for i, mode in enumerate(modes) for (name, extra), kind_id in zip(kinds, KIND_IDS)]


@pytest.mark.parametrize("name,extra,mode", _grid(KINDS, MODES, FAST_MODES, lambda m: "-".join(m) or "default"))
def test_values_match_keras(keras, name, extra, mode):
    x = _x()
    ours, theirs = _pair(keras, name, {"units": U, **extra, **mode}, x)
    _compare(ours, theirs, x)


MASK_MODES = [{"go_backwards": True, "return_sequences": True}, {"return_state": True},
              {"return_sequences": True}, {"zero_output_for_mask": True, "return_sequences": True}]


@pytest.mark.parametrize("name,extra,mode", _grid(KINDS, MASK_MODES, 1, lambda m: "-".join(m)))
def test_masked_steps_match_keras(keras, name, extra, mode):
    x = _x(2)
    ours, theirs = _pair(keras, name, {"units": U, **extra, **mode}, x)
    _compare(ours, theirs, x, {"mask": MASK})


@pytest.mark.parametrize("name,extra", [KINDS[1], pytest.param(*KINDS[2], marks=pytest.mark.slow)], ids=["lstm", "gru"])
def test_initial_state_matches_keras(keras, name, extra):
    x = _x(3)
    ours, theirs = _pair(keras, name, {"units": U, "return_sequences": True, "return_state": True, **extra}, x)
    count = 2 if name == "LSTM" else 1
    states = [np.random.default_rng(4 + i).standard_normal((B, U)).astype("float32") for i in range(count)]
    got = _host(ours(x, initial_state=[Tensor(s) for s in states], mask=Tensor(MASK)))
    want = [np.asarray(w) for w in theirs(x, initial_state=states, mask=MASK)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("name,kwargs", [pytest.param("SimpleRNN", {"activation": "relu"}, marks=pytest.mark.slow),
                                         ("LSTM", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
                                         pytest.param("GRU", {"activation": "linear", "recurrent_activation":
                                                              "hard_sigmoid"}, marks=pytest.mark.slow),
                                         ("LSTM", {"activation": "softsign"}),  # not fused: the step-by-step path
                                         ("GRU", {"recurrent_activation": "relu6", "reset_after": False})])
def test_activations_match_keras(keras, name, kwargs):
    x = _x(5)
    ours, theirs = _pair(keras, name, {"units": U, "return_sequences": True, **kwargs}, x)
    _compare(ours, theirs, x, {"mask": MASK})


@pytest.mark.parametrize("cell", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_step_path_equals_fused_path(cell, xp):
    """The cell run step by step through autograd (what a user cell gets) and the one-op pass:
    equal outputs, states and weight gradients, masks and go_backwards included (every backend)."""
    x = backend.to_device(_x(6).astype("float64"))
    fused = layers.RNN(getattr(layers, cell)(U, dtype="float64"), return_sequences=True, return_state=True,
                       go_backwards=True, dtype="float64")
    stepped = layers.RNN(getattr(layers, cell)(U, dtype="float64"), return_sequences=True, return_state=True,
                         go_backwards=True, dtype="float64")
    fused(x)
    stepped(x)
    _random_weights(fused)
    stepped.set_weights(fused.get_weights())
    stepped._fused = lambda: None  # force the generic loop
    results = []
    for layer in (fused, stepped):
        out = layer(Tensor(x), mask=Tensor(backend.to_device(MASK)))
        total = sum(((o * o).sum() for o in out), Tensor(backend.to_device(np.zeros((), "float64"))))
        total.backward()
        results.append(([_host(o) for o in out], [_host(w.grad) for w in layer.weights]))
        layer.zero_grad()
    for a, b in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru", "gru_before"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_op_gradients_by_finite_differences(kind, go_backwards, masked, xp):
    rng = np.random.default_rng(7)
    op_kind = "gru" if kind.startswith("gru") else kind
    gates = recurrent_ops.GATES[op_kind]
    reset_after = kind == "gru"
    batch, steps, features, units = 2, 4, 3, 2
    x = rng.standard_normal((batch, steps, features))
    kernel = rng.standard_normal((features, gates * units)) * 0.6
    recurrent_kernel = rng.standard_normal((units, gates * units)) * 0.6
    bias = rng.standard_normal((2, gates * units) if reset_after else (gates * units,))
    states = [rng.standard_normal((batch, units)) for _ in range(2 if kind == "lstm" else 1)]
    mask = Tensor(backend.to_device(MASK[:batch, :steps])) if masked else None
    for zero in (False, True) if masked else (False,):
        def run(x, kernel, recurrent_kernel, bias, *states, zero=zero):
            return recurrent_ops.recurrence(op_kind, x, kernel, recurrent_kernel, bias, list(states), mask,
                                            reset_after=reset_after, go_backwards=go_backwards,
                                            zero_output_for_mask=zero)
        assert gpunet.gradcheck(run, [x, kernel, recurrent_kernel, bias, *states])


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_before", "simple"])
def test_op_gradients_with_dropout_masks(kind, monkeypatch):
    """With fixed masks in place of the random draw, dropout's gradients by finite differences."""
    rng = np.random.default_rng(8)

    def fixed(count, shape, rate, like):
        draw = np.random.default_rng(abs(hash((count, shape))) % 1000).random((count, *shape)) >= rate
        return backend.to_device(draw.astype(like.dtype) / (1 - rate))

    monkeypatch.setattr(recurrent_ops, "draw_keep_masks", fixed)
    op_kind = "gru" if kind.startswith("gru") else kind
    gates = recurrent_ops.GATES[op_kind]
    x = rng.standard_normal((2, 3, 3))
    kernel = rng.standard_normal((3, gates * 2)) * 0.6
    recurrent_kernel = rng.standard_normal((2, gates * 2)) * 0.6

    def run(x, kernel, recurrent_kernel):
        return recurrent_ops.recurrence(op_kind, x, kernel, recurrent_kernel, reset_after=kind == "gru",
                                        dropout=0.3, recurrent_dropout=0.4, mask=Tensor(MASK[:2, :3]))
    assert gpunet.gradcheck(run, [x, kernel, recurrent_kernel])


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("sequences", [True, False])
def test_layer_input_gradients_by_finite_differences(name, sequences):
    """Through the layer: the whole sequence, or (return_sequences=False) the last output and the
    final states, whose backward skips the other steps' outputs."""
    layer = getattr(layers, name)(2, return_sequences=sequences, return_state=not sequences, go_backwards=True,
                                  dtype="float64")
    x = _x(9, (2, 4, 3)).astype("float64")
    layer(x)
    _random_weights(layer)

    def run(v):
        out = layer(v, mask=Tensor(MASK[:2, :4]))
        return gpunet.ops.concatenate(out, axis=-1) if isinstance(out, list) else out
    assert gpunet.gradcheck(run, [x])


def _reference_with_masks(name, weights, x, in_masks, rec_masks):
    """Keras's cell formulas in float64 NumPy, with given dropout masks (per gate when several)."""
    kernel, recurrent_kernel, bias = [w.astype(np.float64) for w in weights]
    sigmoid = lambda v: 1 / (1 + np.exp(-v))
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    gates = recurrent_kernel.shape[1] // units

    def product(v, k, masks):
        if len(masks) == 1:
            return (v * masks[0]) @ k
        return np.concatenate([(v * masks[g]) @ k[:, g * units:(g + 1) * units] for g in range(gates)], axis=1)

    for t in range(x.shape[1]):
        z = product(x[:, t], kernel, in_masks) + product(h, recurrent_kernel, rec_masks) + bias
        if name == "LSTM":
            i, f, g, o = sigmoid(z[:, :units]), sigmoid(z[:, units:2 * units]), np.tanh(z[:, 2 * units:3 * units]), \
                sigmoid(z[:, 3 * units:])
            c = f * c + i * g
            h = o * np.tanh(c)
        else:
            h = np.tanh(z)
    return h


@pytest.mark.parametrize("name,recurrent", [("LSTM", 0.0), ("LSTM", 0.4), ("SimpleRNN", 0.4)])
def test_dropout_draws_one_mask_per_sequence(name, recurrent, monkeypatch):
    """Dropout's masks are drawn once per call (one per gate with recurrent dropout, Keras's
    implementation 1) and applied at every step: equal to a NumPy reference using the same masks."""
    drawn = []
    original = recurrent_ops.draw_keep_masks

    def spy(count, shape, rate, like):
        masks = original(count, shape, rate, like)
        drawn.append((count, shape, backend.to_host(masks)))
        return masks

    monkeypatch.setattr(recurrent_ops, "draw_keep_masks", spy)
    gpunet.utils.set_random_seed(0)
    layer = getattr(layers, name)(U, dropout=0.5, recurrent_dropout=recurrent, dtype="float64")
    x = _x(10).astype("float64")
    layer(x)
    _random_weights(layer)
    assert not drawn  # no mask outside training
    got = _host(layer(x, training=True))
    gates = 4 if name == "LSTM" else 1
    in_count = gates if recurrent > 0 else 1
    assert [d[:2] for d in drawn] == [(in_count, (B, F))] + ([(gates, (B, U))] if recurrent > 0 else [])
    in_masks = drawn[0][2]
    rec_masks = drawn[1][2] if recurrent > 0 else np.ones((1, B, U))
    assert set(np.unique(in_masks)) <= {0.0, 2.0} and (in_masks == 0).any()
    want = _reference_with_masks(name, layer.get_weights(), x, in_masks, rec_masks)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_stateful_carries_states_until_reset():
    x = _x(11, (2, 6, F))
    whole = layers.LSTM(U, return_sequences=True)
    whole(x)
    _random_weights(whole)
    stateful = layers.LSTM(U, return_sequences=True, stateful=True)
    stateful(x[:, :1])
    stateful.reset_states()
    stateful.set_weights(whole.get_weights())
    expected = _host(whole(x))
    first, second = _host(stateful(x[:, :3])), _host(stateful(x[:, 3:]))
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), expected, rtol=1e-6, atol=1e-6)
    stateful.reset_states()
    np.testing.assert_allclose(_host(stateful(x[:, :3])), expected[:, :3], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="batch"):
        stateful(x[:1, :3])


def test_initializers_are_keras_defaults():
    layer = layers.LSTM(4)
    layer(_x(12))
    kernel, recurrent_kernel, bias = layer.get_weights()
    np.testing.assert_allclose(recurrent_kernel @ recurrent_kernel.T, np.eye(4), atol=1e-5)  # orthogonal rows
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])  # unit_forget_bias
    limit = np.sqrt(6 / (F + 16))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > limit / 2  # glorot_uniform
    no_forget = layers.LSTM(4, unit_forget_bias=False)
    no_forget(_x(12))
    assert not no_forget.get_weights()[2].any()
    gru = layers.GRU(4)
    gru(_x(12))
    assert gru.get_weights()[2].shape == (2, 12) and layers.GRU(4, reset_after=False).cell._bias_shape() == (12,)


def test_regularizers_and_constraints_reach_the_cell():
    layer = layers.LSTM(2, kernel_regularizer=gpunet.regularizers.L2(0.1), recurrent_constraint="non_neg")
    layer(_x(13))
    kernel = layer.get_weights()[0]
    np.testing.assert_allclose(_host(layer.losses[0]), 0.1 * (kernel.astype(np.float64) ** 2).sum(), rtol=1e-5)
    assert layer.weights[1].constraint is not None


class MinimalCell:
    """A user's cell as in Keras's docs: call(inputs, states) and state_size, weights of its own."""

    state_size = U

    def __init__(self):
        rng = np.random.default_rng(14)
        self.kernel = Tensor(rng.standard_normal((F, U)).astype("float32"))
        self.recurrent_kernel = Tensor(rng.standard_normal((U, U)).astype("float32") * 0.5)

    def call(self, inputs, states):
        output = gpunet.ops.matmul(inputs, self.kernel) + gpunet.ops.matmul(states[0], self.recurrent_kernel)
        return output, [output]


def test_user_cell_and_stacked_cells_match_keras(keras):
    x = _x(15)
    cell = MinimalCell()
    got = _host(layers.RNN(cell, return_sequences=True)(x, mask=Tensor(MASK)))
    h = np.zeros((B, U), np.float64)
    want = []
    for t in range(T):
        new = x[:, t] @ _host(cell.kernel) + h @ _host(cell.recurrent_kernel)
        h = np.where(MASK[:, t:t + 1], new, h)
        want.append(h)
    np.testing.assert_allclose(got, np.stack(want, axis=1), rtol=1e-5, atol=1e-5)

    ours = layers.RNN([layers.GRUCell(U), layers.LSTMCell(2)], return_sequences=True)
    ours(x)
    _random_weights(ours)
    theirs = keras.layers.RNN([keras.layers.GRUCell(U), keras.layers.LSTMCell(2)], return_sequences=True)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    _compare(ours, theirs, x, {"mask": MASK})


@pytest.mark.parametrize("merge_mode", ["concat", None] + [pytest.param(m, marks=pytest.mark.slow)
                                                             for m in ("sum", "mul", "ave")])
def test_bidirectional_matches_keras(keras, merge_mode):
    x = _x(16)
    ours = layers.Bidirectional(layers.LSTM(U, return_sequences=True, name="lstm"), merge_mode=merge_mode, name="bi")
    ours(x)
    _random_weights(ours)
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(U, return_sequences=True, name="lstm"),
                                        merge_mode=merge_mode, name="bi")
    theirs(x)
    theirs.set_weights(ours.get_weights())
    assert [w.name for w in ours.weights] == [w.path for w in theirs.weights]
    _compare(ours, theirs, x)
    _compare(ours, theirs, x, {"mask": MASK})


def test_bidirectional_states_and_backward_layer_match_keras(keras):
    x = _x(17)
    ours = layers.Bidirectional(layers.GRU(U, return_state=True),
                                backward_layer=layers.GRU(U, return_state=True, go_backwards=True, reset_after=False))
    ours(x)
    _random_weights(ours)
    theirs = keras.layers.Bidirectional(keras.layers.GRU(U, return_state=True), backward_layer=keras.layers.GRU(
        U, return_state=True, go_backwards=True, reset_after=False))
    theirs(x)
    theirs.set_weights(ours.get_weights())
    _compare(ours, theirs, x, {"mask": MASK})
    with pytest.raises(ValueError, match="go_backwards"):
        layers.Bidirectional(layers.GRU(2), backward_layer=layers.GRU(2))
    with pytest.raises(ValueError, match="merge_mode"):
        layers.Bidirectional(layers.GRU(2), merge_mode="max")


@pytest.mark.parametrize("layer", [
    layers.LSTM(3, return_sequences=True, go_backwards=True, dropout=0.25, unit_forget_bias=False,
                kernel_regularizer="l2", recurrent_activation="hard_sigmoid"),
    layers.GRU(2, reset_after=False, return_state=True, stateful=True, recurrent_dropout=0.5),
    layers.SimpleRNN(4, activation="relu", use_bias=False, bias_constraint="non_neg"),
    layers.Bidirectional(layers.LSTM(2, return_sequences=True), merge_mode="ave"),
    layers.RNN([layers.LSTMCell(2), layers.SimpleRNNCell(3)], return_sequences=True),
], ids=["lstm", "gru", "simple_rnn", "bidirectional", "stacked"])
def test_config_round_trip(layer):
    config = layers.serialize(layer)
    again = layers.deserialize(config)
    assert type(again) is type(layer)
    assert layers.serialize(again) == config


def test_config_keys_are_keras(keras):
    for name, kwargs in (("LSTM", {}), ("GRU", {}), ("SimpleRNN", {})):
        ours = set(getattr(layers, name)(2, **kwargs).get_config())
        theirs = set(getattr(keras.layers, name)(2, **kwargs).get_config())
        assert ours == theirs, (name, ours ^ theirs)


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="units"):
        layers.LSTM(0)
    with pytest.raises(TypeError, match="return_sequences"):
        layers.GRU(2, return_sequences="yes")
    with pytest.raises(TypeError, match="dropout"):
        layers.SimpleRNN(2, dropout="half")
    with pytest.raises(ValueError, match="cell"):
        layers.RNN(object())
    with pytest.raises(ValueError, match="use_cudnn"):
        layers.LSTM(2, use_cudnn="maybe")
    with pytest.raises(ValueError, match="steps, features"):
        layers.LSTM(2)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="initial_state"):
        layers.LSTM(2)(_x(), initial_state=[np.zeros((B, 2), "float32")])
    with pytest.raises(ValueError, match="mask"):
        layers.LSTM(2)(_x(), mask=np.ones((B, T + 1), bool))
    with pytest.raises(ValueError, match="activation"):
        recurrent_ops.recurrence("lstm", _x(), np.zeros((F, 8), "float32"), np.zeros((2, 8), "float32"),
                                 activation="selu")


@pytest.mark.parametrize("make", [lambda: layers.LSTM(U), lambda: layers.Bidirectional(layers.GRU(2))],
                         ids=["lstm", "bidirectional"])
def test_recorded_fit_equals_eager_fit(make):
    """fit records the one-op pass and replays it: the same weights as running every step eagerly."""
    x, y = _x(18, (16, T, F)), np.random.default_rng(18).integers(0, 2, 16)
    results = []
    for eager in (False, True):
        gpunet.utils.set_random_seed(0)
        model = gpunet.Sequential([gpunet.Input((T, F)), make(), layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=eager)
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
        results.append(model.get_weights())
    assert model.layers[0].supports_recording
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
