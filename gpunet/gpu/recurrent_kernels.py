"""The recurrent layers' per-step elementwise work, fused on the GPU, each beside its NumPy twin.

A step of an LSTM, GRU or SimpleRNN is one matrix product ``h_prev @ recurrent_kernel`` followed
by a dozen elementwise operations on (batch, units) arrays: on the GPU each would be a kernel
launch and a trip through device memory, per step, for every step of the sequence. Each pair
below does one step's elementwise work after the product: a CuPy ``ElementwiseKernel`` on device
arrays, the *twin* (in-place array operations, exactly what the CPU runs) on host arrays, chosen
by :class:`~gpunet.gpu.fused.Fused`. ``gpunet.ops.recurrent`` calls them for the default
activations (``tanh`` with a ``sigmoid`` recurrent activation); other activations keep its
general loop. Arguments are in the twins' order; the kernels take (batch, units) views of the
same buffers (strided views are fine for CuPy), and ignore the twins' scratch buffers.

The sigmoid is ``(tanh(x / 2) + 1) / 2`` on both sides (no overflow for any x). The LSTM's loop
keeps its gates in the order i, f, o, c with the columns of i, f and o already halved (the op
scales its kernels once), so that the twin's one ``tanh`` over all four gates gives
``tanh(z / 2)`` for the sigmoid gates and ``tanh(z_c)`` for the candidate.
"""

from __future__ import annotations

from .elementwise import COMPUTE_TYPE, ElementwiseKernel
from .fused import Fused, array_module

__all__ = ["gru_candidate", "gru_reset_after_backward", "gru_reset_after_step", "gru_reset_gates", "lstm_backward_step",
           "lstm_cell", "lstm_step", "sigmoid_by_tanh", "simple_step", "tanh_into"]


def sigmoid_by_tanh(x, out):
    """``1 / (1 + exp(-x))`` as ``(tanh(x / 2) + 1) / 2`` into ``out``: no overflow for any x."""
    xp = array_module(x)
    xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def tanh_into(x, out):
    """``tanh(x)`` into ``out`` (the activations' common signature here)."""
    return array_module(x).tanh(x, out=out)


def _half_sigmoid(name, argument):
    """CUDA: ``F name`` = the sigmoid of ``argument`` (in F) as the twin computes it."""
    return f"F {name} = tanh(({argument}) * (F)0.5) * (F)0.5 + (F)0.5;"


def _columns(a, count):
    """``count`` (batch, units) views of a (batch, count * units) array, side by side."""
    units = a.shape[-1] // count
    return [a[:, g * units:(g + 1) * units] for g in range(count)]


# -- SimpleRNN --------------------------------------------------------------------------------
def _simple_step_twin(rec, projected, activated, h):
    """``activated = h = tanh(rec + projected)`` (``rec`` is overwritten with the sum)."""
    xp = array_module(rec)
    xp.add(rec, projected, out=rec)
    xp.tanh(rec, out=activated)
    h[...] = activated
    return h


_simple_step_kernel = ElementwiseKernel(
    "T rec, T projected", "T activated, T h",
    COMPUTE_TYPE + "F y = tanh((F)rec + (F)projected); activated = (T)y; h = (T)y;", "gpunet_simple_rnn_step")


def _simple_step_gpu(rec, projected, activated, h):
    _simple_step_kernel(rec, projected, activated, h)
    return h


simple_step = Fused(_simple_step_gpu, _simple_step_twin)
simple_step.__doc__ = "One SimpleRNN step (tanh) after its product ``rec = h_prev @ recurrent_kernel``."


# -- LSTM -------------------------------------------------------------------------------------
def _lstm_step_twin(gates, projected, c_prev, c, activated_c, h, scratch):
    """Gates in the loop's order i, f, o, c (i, f, o halved), holding ``h_prev @ recurrent_kernel``
    on entry and the activated gates on return; ``c = f c_prev + i g``, ``activated_c = tanh(c)``,
    ``h = o tanh(c)``."""
    xp = array_module(gates)
    units = c.shape[-1]
    xp.add(gates, projected, out=gates)
    xp.tanh(gates, out=gates)
    sig = gates[:, :3 * units]
    sig *= 0.5
    sig += 0.5
    return lstm_cell(gates, c_prev, c, activated_c, h, scratch, tanh_into)


def lstm_cell(gates, c_prev, c, activated_c, h, scratch, activation):
    """The second half of an LSTM step, from the activated gates (i, f, o, g side by side):
    ``c = f c_prev + i g``, ``activated_c = activation(c)`` (``activation(x, out)``), ``h = o
    activated_c``. The twin's, and the op's for activations other than the default."""
    xp = array_module(gates)
    units = c.shape[-1]
    xp.multiply(gates[:, units:2 * units], c_prev, out=c)
    xp.multiply(gates[:, :units], gates[:, 3 * units:], out=scratch)
    c += scratch
    activation(c, activated_c)
    xp.multiply(gates[:, 2 * units:3 * units], activated_c, out=h)
    return h


_lstm_step_kernel = ElementwiseKernel(
    "T pi, T pf, T po, T pc, T c_prev", "T gate_i, T gate_f, T gate_o, T gate_c, T c, T activated_c, T h",
    COMPUTE_TYPE
    + "const F half = (F)0.5;"
    "F ti = tanh((F)gate_i + (F)pi) * half + half; F tf = tanh((F)gate_f + (F)pf) * half + half;"
    "F to = tanh((F)gate_o + (F)po) * half + half; F tg = tanh((F)gate_c + (F)pc);"
    "F tc = tf * (F)c_prev + ti * tg; F ta = tanh(tc);"
    "gate_i = (T)ti; gate_f = (T)tf; gate_o = (T)to; gate_c = (T)tg; c = (T)tc; activated_c = (T)ta;"
    "h = (T)(to * ta);",
    "gpunet_lstm_step")


def _lstm_step_gpu(gates, projected, c_prev, c, activated_c, h, scratch):
    _lstm_step_kernel(*_columns(projected, 4), c_prev, *_columns(gates, 4), c, activated_c, h)
    return h


lstm_step = Fused(_lstm_step_gpu, _lstm_step_twin)
lstm_step.__doc__ = _lstm_step_twin.__doc__


def _lstm_backward_step_twin(dh, dc, factors, q, forget, d, scratch):
    """One LSTM step back, before the product ``d @ recurrent_kernel.T``: with ``factors`` P
    (batch, 4, units) and ``q`` of :meth:`Recurrence._factors_lstm`, ``dc += dh q``; the gates'
    gradients ``d = (dc, dc, dh, dc) * P`` (i, f, o, c, into ``d`` (batch, 4, units)); then
    ``dc *= forget``, the gradient carried to the previous cell state."""
    xp = array_module(dh)
    xp.multiply(dh, q, out=scratch)
    dc += scratch
    xp.multiply(dc[:, None, :], factors[:, :2], out=d[:, :2])
    xp.multiply(dh, factors[:, 2], out=d[:, 2])
    xp.multiply(dc, factors[:, 3], out=d[:, 3])
    dc *= forget
    return dc


_lstm_backward_step_kernel = ElementwiseKernel(
    "T dh, T q, T pi, T pf, T po, T pc, T forget", "T dc, T di, T df, T d_o, T dg",
    COMPUTE_TYPE
    + "F total = (F)dc + (F)dh * (F)q;"
    "di = (T)(total * (F)pi); df = (T)(total * (F)pf); d_o = (T)((F)dh * (F)po); dg = (T)(total * (F)pc);"
    "dc = (T)(total * (F)forget);",
    "gpunet_lstm_backward_step")


def _lstm_backward_step_gpu(dh, dc, factors, q, forget, d, scratch):
    _lstm_backward_step_kernel(dh, q, *(factors[:, g] for g in range(4)), forget, dc, *(d[:, g] for g in range(4)))
    return dc


lstm_backward_step = Fused(_lstm_backward_step_gpu, _lstm_backward_step_twin)
lstm_backward_step.__doc__ = _lstm_backward_step_twin.__doc__


# -- GRU (gates z, r, h) ----------------------------------------------------------------------
def _gates_zr(rec_zr, projected_zr, gates_zr):
    """``z, r = sigmoid(rec + projected)`` for the first two gates (``rec_zr`` keeps the sum)."""
    array_module(rec_zr).add(rec_zr, projected_zr, out=rec_zr)
    sigmoid_by_tanh(rec_zr, gates_zr)


def _gru_candidate_twin(pre_h, projected_h, z, h_prev, hh, h, activation=tanh_into):
    """``hh = tanh(pre_h + projected_h)`` (``pre_h`` keeps the sum) and ``h = z h_prev + (1 - z) hh``,
    computed as ``(h_prev - hh) z + hh``; the op calls the twin itself with its ``activation``
    (``activation(x, out)``) in place of tanh for other activations."""
    xp = array_module(pre_h)
    pre_h += projected_h
    activation(pre_h, hh)
    xp.subtract(h_prev, hh, out=h)
    h *= z
    h += hh
    return h


_CANDIDATE = "F th = tanh({pre} + (F)ph); hh = (T)th; h = (T)(((F)h_prev - th) * tz + th);"

_gru_candidate_kernel = ElementwiseKernel(
    "T rh, T ph, T z, T h_prev", "T hh, T h",
    COMPUTE_TYPE + "F tz = (F)z;" + _CANDIDATE.format(pre="(F)rh"), "gpunet_gru_candidate")


def _gru_candidate_gpu(pre_h, projected_h, z, h_prev, hh, h):
    _gru_candidate_kernel(pre_h, projected_h, z, h_prev, hh, h)
    return h


gru_candidate = Fused(_gru_candidate_gpu, _gru_candidate_twin)
gru_candidate.__doc__ = "The GRU's candidate and new state, " + _gru_candidate_twin.__doc__


def _gru_reset_after_step_twin(rec, projected, h_prev, gates, extra, h):
    """A GRU step with ``reset_after=True``: ``rec = h_prev @ recurrent_kernel + recurrent_bias``
    on entry; ``z, r = sigmoid(rec_zr + projected_zr)``, ``extra = rec_h`` (kept for backward),
    ``hh = tanh(r rec_h + projected_h)``, ``h = z h_prev + (1 - z) hh``."""
    units = h.shape[-1]
    _gates_zr(rec[:, :2 * units], projected[:, :2 * units], gates[:, :2 * units])
    extra[...] = rec[:, 2 * units:]
    pre_h = rec[:, 2 * units:]
    pre_h *= gates[:, units:2 * units]
    return _gru_candidate_twin(pre_h, projected[:, 2 * units:], gates[:, :units], h_prev, gates[:, 2 * units:], h)


_gru_reset_after_step_kernel = ElementwiseKernel(
    "T rz, T rr, T rh, T pz, T pr, T ph, T h_prev", "T z, T r, T hh, T extra, T h",
    COMPUTE_TYPE + _half_sigmoid("tz", "(F)rz + (F)pz") + _half_sigmoid("tr", "(F)rr + (F)pr")
    + "z = (T)tz; r = (T)tr; extra = rh;" + "T r_t = (T)tr;" + _CANDIDATE.format(pre="(F)(T)((F)r_t * (F)rh)"),
    "gpunet_gru_reset_after_step")


def _gru_reset_after_step_gpu(rec, projected, h_prev, gates, extra, h):
    _gru_reset_after_step_kernel(*_columns(rec, 3), *_columns(projected, 3), h_prev, *_columns(gates, 3), extra, h)
    return h


gru_reset_after_step = Fused(_gru_reset_after_step_gpu, _gru_reset_after_step_twin)
gru_reset_after_step.__doc__ = _gru_reset_after_step_twin.__doc__


def _gru_reset_gates_twin(rec_zr, projected_zr, operand, gates_zr, extra):
    """The gates of a GRU step with ``reset_after=False``: ``z, r = sigmoid(rec_zr + projected_zr)``
    and ``extra = r * operand`` (``h_prev``, dropped out), the operand of the candidate's product."""
    units = extra.shape[-1]
    _gates_zr(rec_zr, projected_zr, gates_zr)
    array_module(extra).multiply(gates_zr[:, units:], operand, out=extra)
    return extra


_gru_reset_gates_kernel = ElementwiseKernel(
    "T rz, T rr, T pz, T pr, T operand", "T z, T r, T extra",
    COMPUTE_TYPE + _half_sigmoid("tz", "(F)rz + (F)pz") + _half_sigmoid("tr", "(F)rr + (F)pr")
    + "T r_t = (T)tr; z = (T)tz; r = r_t; extra = (T)((F)r_t * (F)operand);",
    "gpunet_gru_reset_gates")


def _gru_reset_gates_gpu(rec_zr, projected_zr, operand, gates_zr, extra):
    _gru_reset_gates_kernel(*_columns(rec_zr, 2), *_columns(projected_zr, 2), operand, *_columns(gates_zr, 2), extra)
    return extra


gru_reset_gates = Fused(_gru_reset_gates_gpu, _gru_reset_gates_twin)
gru_reset_gates.__doc__ = _gru_reset_gates_twin.__doc__


def _gru_reset_after_backward_twin(dh, a_z, a_h, a_r, z, r, d, d_rec):
    """One GRU step back (``reset_after=True``), before the product ``d_rec @ recurrent_kernel.T``:
    ``d_z = dh A_z``, ``d_hh = dh A_h``, ``d_r = d_hh A_r`` into ``d`` (batch, 3 units); the
    recurrent product's gradient ``d_rec = (d_z, d_r, d_hh r)``. Returns ``dh z``, the part of the
    previous state's gradient that passes through ``z``."""
    xp = array_module(dh)
    units = dh.shape[-1]
    xp.multiply(dh, a_z, out=d[:, :units])
    xp.multiply(dh, a_h, out=d[:, 2 * units:])
    dh_prev = dh * z
    xp.multiply(d[:, 2 * units:], a_r, out=d[:, units:2 * units])
    d_rec[:, :2 * units] = d[:, :2 * units]
    xp.multiply(d[:, 2 * units:], r, out=d_rec[:, 2 * units:])
    return dh_prev


_gru_reset_after_backward_kernel = ElementwiseKernel(
    "T dh, T a_z, T a_h, T a_r, T z, T r", "T dz, T dr, T dhh, T rz, T rr, T rh, T dh_prev",
    COMPUTE_TYPE
    + "T tz = (T)((F)dh * (F)a_z); T th = (T)((F)dh * (F)a_h); T tr = (T)((F)th * (F)a_r);"
    "dz = tz; dhh = th; dr = tr; rz = tz; rr = tr; rh = (T)((F)th * (F)r); dh_prev = (T)((F)dh * (F)z);",
    "gpunet_gru_reset_after_backward")


def _gru_reset_after_backward_gpu(dh, a_z, a_h, a_r, z, r, d, d_rec):
    dh_prev = array_module(dh).empty_like(dh)
    _gru_reset_after_backward_kernel(dh, a_z, a_h, a_r, z, r, *_columns(d, 3), *_columns(d_rec, 3), dh_prev)
    return dh_prev


gru_reset_after_backward = Fused(_gru_reset_after_backward_gpu, _gru_reset_after_backward_twin)
gru_reset_after_backward.__doc__ = _gru_reset_after_backward_twin.__doc__
