"""The recurrent layers' fused step kernels against their NumPy twins (what the CPU runs).

Each kernel and its twin get the same arguments: views of a step's buffers as the op passes
them (gate columns of one (batch, gates * units) array, time slices); the outputs, written in
place, must agree (a CUDA device, or the CPU emulation of CuPy). The twins are checked against
the step formulas on every machine.
"""

import numpy as np
import pytest

from gpunet.gpu import elementwise
from gpunet.gpu import recurrent_kernels as rk

B, U = 5, 7

# name -> (pair, buffer shapes, the arguments as views of the buffers, indices of the arguments written)
CASES = {
    "lstm_step": (rk.lstm_step, [(B, 4 * U), (B, 4 * U), (2, B, U), (B, U), (B, U), (B, U)],
                  lambda g, p, c, a, h, s: [g, p, c[0], c[1], a, h, s], [0, 3, 4, 5]),
    "lstm_backward_step": (rk.lstm_backward_step, [(B, U), (B, U), (B, 4, U), (B, U), (B, U), (B, 4, U), (B, U)],
                           lambda dh, dc, f, q, fo, d, s: [dh, dc, f, q, fo, d, s], [1, 5]),
    "simple_step": (rk.simple_step, [(B, U), (B, U), (B, 2, U)], lambda r, p, o: [r, p, o[:, 0], o[:, 1]], [2, 3]),
    "gru_reset_after_step": (rk.gru_reset_after_step, [(B, 3 * U), (B, 3 * U), (2, B, U), (B, 3 * U), (B, U)],
                             lambda r, p, h, g, e: [r, p, h[0], g, e, h[1]], [3, 4, 5]),
    "gru_reset_gates": (rk.gru_reset_gates, [(B, 3 * U), (B, 3 * U), (B, U), (B, 3 * U), (B, U)],
                        lambda r, p, o, g, e: [r[:, :2 * U], p[:, :2 * U], o, g[:, :2 * U], e], [3, 4]),
    "gru_candidate": (rk.gru_candidate, [(B, 3 * U), (B, 3 * U), (B, 3 * U), (2, B, U)],
                      lambda r, p, g, h: [r[:, 2 * U:], p[:, 2 * U:], g[:, :U], h[0], g[:, 2 * U:], h[1]], [4, 5]),
    "gru_reset_after_backward": (rk.gru_reset_after_backward, [(B, U)] * 4 + [(B, 3 * U)] * 3,
                                 lambda dh, az, ah, ar, zr, d, dr: [dh, az, ah, ar, zr[:, :U], zr[:, U:2 * U], d, dr],
                                 [6, 7]),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recurrent_step_kernels_match_twins(cp, name, dtype):
    fused, shapes, views, written = CASES[name]
    rng = np.random.default_rng(len(name))
    buffers = [(rng.standard_normal(s) * 2.5).astype(dtype) for s in shapes]  # reaching tanh's flat parts too
    host = views(*buffers)
    device = views(*[cp.asarray(b) for b in buffers])
    before = [np.array(a) for a in host]
    twin_result = fused.twin(*host)
    kernel_result = fused(*device)
    assert isinstance(kernel_result, cp.ndarray) and kernel_result.dtype == dtype
    rtol, atol = (2e-6, 2e-6) if dtype == np.float32 else (1e-13, 1e-13)
    np.testing.assert_allclose(cp.asnumpy(kernel_result), twin_result, rtol=rtol, atol=atol)
    for index in written:
        assert not np.array_equal(host[index], before[index]), f"argument {index} is not written"
        np.testing.assert_allclose(cp.asnumpy(device[index]), host[index], rtol=rtol, atol=atol,
                                   err_msg=f"{name}: argument {index}")


def test_the_twins_compute_the_step_formulas():
    """The twins (the CPU's code) against the formulas written out in float64: one LSTM step from
    Keras's gate order, one GRU step each way (the kernels are checked against the twins above)."""
    rng = np.random.default_rng(0)
    sig = lambda v: 1 / (1 + np.exp(-v))
    z = rng.standard_normal((B, 4 * U)) * 2  # pre-activations i, f, o, c; the loop's columns halve i, f, o
    rec, projected = z * 0.3, z * 0.7
    half = np.concatenate([np.full(3 * U, 0.5), np.ones(U)])
    c_prev = rng.standard_normal((B, U))
    gates, c, a, h = (rec * half).copy(), np.empty((B, U)), np.empty((B, U)), np.empty((B, U))
    rk.lstm_step(gates, projected * half, c_prev, c, a, h, np.empty((B, U)))
    i, f, o, g = sig(z[:, :U]), sig(z[:, U:2 * U]), sig(z[:, 2 * U:3 * U]), np.tanh(z[:, 3 * U:])
    np.testing.assert_allclose(c, f * c_prev + i * g, rtol=1e-12)
    np.testing.assert_allclose(h, o * np.tanh(f * c_prev + i * g), rtol=1e-12)
    h_prev = rng.standard_normal((B, U))
    x_part, h_part = rng.standard_normal((B, 3 * U)), rng.standard_normal((B, 3 * U))
    gates, extra, h = np.empty((B, 3 * U)), np.empty((B, U)), np.empty((B, U))
    rk.gru_reset_after_step(h_part.copy(), x_part, h_prev, gates, extra, h)
    zg, r = sig(x_part[:, :U] + h_part[:, :U]), sig(x_part[:, U:2 * U] + h_part[:, U:2 * U])
    hh = np.tanh(x_part[:, 2 * U:] + r * h_part[:, 2 * U:])
    np.testing.assert_allclose(h, zg * h_prev + (1 - zg) * hh, rtol=1e-12, atol=1e-14)
    rk.gru_reset_gates(h_part[:, :2 * U].copy(), x_part[:, :2 * U], h_prev, gates[:, :2 * U], extra)
    np.testing.assert_allclose(extra, r * h_prev, rtol=1e-12)
    candidate = rng.standard_normal((B, U))
    rk.gru_candidate(candidate.copy(), x_part[:, 2 * U:], gates[:, :U], h_prev, gates[:, 2 * U:], h)
    hh = np.tanh(candidate + x_part[:, 2 * U:])
    np.testing.assert_allclose(h, zg * h_prev + (1 - zg) * hh, rtol=1e-12, atol=1e-14)


def test_the_kernels_are_registered_for_nvrtc():
    names = {k.name for k in elementwise.KERNELS}
    for name in ("gpunet_lstm_step", "gpunet_lstm_backward_step", "gpunet_simple_rnn_step", "gpunet_gru_reset_after_step",
                 "gpunet_gru_reset_gates", "gpunet_gru_candidate", "gpunet_gru_reset_after_backward"):
        assert name in names
