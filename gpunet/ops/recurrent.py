"""Recurrent layers' passes through time: SimpleRNN, LSTM and GRU, forward and backward by hand.

One :class:`Recurrence` per layer call runs the whole sequence: the input projections
``x @ kernel + bias`` of every step in one matrix product, then the loop over time with one
product ``h @ recurrent_kernel`` per step for all gates at once. Backward is back-propagation
through time written out: one pass back over the steps (one product per step for the gradient
of the previous state), then the kernels' gradients each as one product over all steps. Only
the gates and states backward needs are kept.

Keras 3's semantics, step by step (gate order as in Keras's kernels):

* SimpleRNN: ``h = act(x W + b + h_prev U)``.
* LSTM (i, f, c, o): ``z = x W + b + h_prev U``; ``i, f, o = ract(z_i, z_f, z_o)``,
  ``g = act(z_c)``, ``c = f c_prev + i g``, ``h = o act(c)``; states ``(h, c)``.
* GRU (z, r, h), ``reset_after=True``: ``m = h_prev U + b_rec``; ``z = ract(x W_z + b_z + m_z)``,
  ``r = ract(... + m_r)``, ``hh = act(x W_h + b_h + r m_h)``; ``reset_after=False``:
  ``hh = act(x W_h + b_h + (r h_prev) U_h)`` with no recurrent bias. ``h = z h_prev + (1 - z) hh``.

A step whose mask is False keeps the states and outputs the previous ``h`` (or zeros with
``zero_output_for_mask``); ``go_backwards`` runs the steps last to first and returns the outputs
in that order. Dropout draws one mask per sequence (Keras's ``DropoutRNNCell``): on the inputs,
one shared by the gates, or one per gate when ``recurrent_dropout`` is set (Keras's
``implementation=1``); on the previous ``h``, one per gate.

With the default activations (``tanh``, recurrent ``sigmoid``), each step's elementwise work
after its product is one call of a pair in :mod:`gpunet.gpu.recurrent_kernels`: a fused kernel
on the GPU, its NumPy twin on the CPU (one code path: the twin is this op's CPU code). Other
activations run the same steps as separate array operations.

The loop's products are small (batch x units times units x gates*units), where a multi-threaded
BLAS loses more to waking its threads than it gains: forward and backward run inside
:class:`gpunet.backend.host_parallelism` (the BLAS on one thread; the products over all steps
are not split either: on shared cores the waits for a second thread cost more than they save);
the layers declare ``uses_host_threads`` so that fit, evaluate and predict enter it once.

The result is one array ``(batch, steps + states, units)``: the outputs of every step, then the
final states (``h``, and ``c`` for the LSTM); the layer slices what it returns.
"""

from __future__ import annotations

from .. import backend
from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..gpu import kernels, recurrent_kernels

__all__ = ["FUSED_ACTIVATIONS", "GATES", "recurrence"]

GATES = {"simple": 1, "lstm": 4, "gru": 3}


def _hard_sigmoid(x, out):
    xp = get_array_module(x)
    xp.add(x, 3.0, out=out)
    xp.clip(out, 0.0, 6.0, out=out)
    out *= 1.0 / 6.0
    return out


def _relu(x, out):
    return get_array_module(x).maximum(x, 0, out=out)


def _linear(x, out):
    out[...] = x
    return out


def _tanh_slope(y, out):
    xp = get_array_module(y)
    xp.multiply(y, y, out=out)
    return xp.subtract(1, out, out=out)


def _sigmoid_slope(y, out):
    get_array_module(y).subtract(1, y, out=out)
    out *= y
    return out


def _hard_sigmoid_slope(y, out):
    out[...] = ((y > 0) & (y < 1)) * (1.0 / 6.0)
    return out


def _relu_slope(y, out):
    out[...] = y > 0
    return out


def _linear_slope(y, out):
    out[...] = 1
    return out


# name -> (forward into ``out``, derivative from the output y into ``out``)
FUSED_ACTIVATIONS = {
    "tanh": (recurrent_kernels.tanh_into, _tanh_slope),
    "sigmoid": (recurrent_kernels.sigmoid_by_tanh, _sigmoid_slope),
    "hard_sigmoid": (_hard_sigmoid, _hard_sigmoid_slope),
    "relu": (_relu, _relu_slope),
    "linear": (_linear, _linear_slope),
}


def _LSTM_ORDER(units, xp):
    """Columns i, f, o, c of Keras's i, f, c, o (its own inverse: it swaps the last two blocks)."""
    return xp.concatenate([xp.arange(2 * units), xp.arange(3 * units, 4 * units), xp.arange(2 * units, 3 * units)])


def xp_empty_like(a):
    return get_array_module(a).empty_like(a)


def draw_keep_masks(count, shape, rate, like):
    """``count`` inverted-dropout masks of ``shape`` (``1/(1-rate)`` where kept, else 0), drawn from
    gpunet's noise stream on ``like``'s device: one per gate, for a whole sequence."""
    xp = get_array_module(like)
    ones = xp.ones((count, *shape), dtype=like.dtype)
    return kernels.dropout_apply(ones, backend.noise_generator(), rate, 1.0 / (1.0 - rate))[1]


def _recurrent_product(h, kernel, masks, units, out):
    """``h @ kernel`` into ``out``; with per-gate dropout masks, ``(h * mask_g) @ kernel_g`` per gate."""
    if masks is None:
        return backend.matmul(h, kernel, out=out)
    for g in range(len(masks)):
        out[:, g * units:(g + 1) * units] = backend.matmul(h * masks[g], kernel[:, g * units:(g + 1) * units])
    return out


def _recurrent_grad_h(d_pre, kernel, masks, units):
    """The gradient of :func:`_recurrent_product` with respect to ``h``."""
    if masks is None:
        return backend.matmul(d_pre, kernel.T)
    total = None
    for g in range(len(masks)):
        part = backend.matmul(d_pre[:, g * units:(g + 1) * units], kernel[:, g * units:(g + 1) * units].T) * masks[g]
        total = part if total is None else total + part
    return total


def _kernel_grad(operands, d_pre, masks, units):
    """``sum_t operands[t].T @ d_pre[t]`` as one product over all steps (per gate with masks)."""
    flat_in = operands.reshape(-1, operands.shape[-1])
    flat_d = d_pre.reshape(-1, d_pre.shape[-1])
    if masks is None:
        return backend.matmul(flat_in.T, flat_d)
    xp = get_array_module(operands)
    parts = []
    for g in range(len(masks)):
        dropped = (operands * masks[g]).reshape(-1, operands.shape[-1])
        parts.append(backend.matmul(dropped.T, flat_d[:, g * units:(g + 1) * units]))
    return xp.concatenate(parts, axis=1)


class Recurrence(Function):
    """A recurrent layer's whole pass (see the module docstring); inputs in this order:
    ``x (batch, steps, features), kernel, recurrent_kernel[, bias][, h0[, c0]][, mask]``, which of
    the optional ones are present being fixed by the constructor's flags."""

    def __init__(self, kind, activation, recurrent_activation, *, use_bias, has_state, has_mask, reset_after=True,
                 go_backwards=False, zero_output_for_mask=False, dropout=0.0, recurrent_dropout=0.0,
                 sequence_output=True):
        self.kind = kind
        self.sequence_output = sequence_output
        self.fast_lstm = kind == "lstm" and activation == "tanh" and recurrent_activation == "sigmoid"
        self.fast = False
        self.default_activations = activation == "tanh" and (kind == "simple" or recurrent_activation == "sigmoid")
        self.act, self.act_grad = FUSED_ACTIVATIONS[activation]
        self.ract, self.ract_grad = FUSED_ACTIVATIONS[recurrent_activation]
        self.use_bias = use_bias
        self.has_state = has_state
        self.has_mask = has_mask
        self.reset_after = reset_after
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout

    # -- inputs ------------------------------------------------------------------------------
    def _unpack(self, arrays):
        x, kernel, recurrent_kernel, *rest = arrays
        bias = rest.pop(0) if self.use_bias else None
        states = []
        if self.has_state:
            states = [rest.pop(0) for _ in range(2 if self.kind == "lstm" else 1)]
        mask = rest.pop(0) if self.has_mask else None
        return x, kernel, recurrent_kernel, bias, states, mask

    def forward(self, *arrays):
        with backend.host_parallelism():  # many small products: a one-thread BLAS (see the module docstring)
            return self._forward(*arrays)

    def _forward(self, *arrays):
        x, kernel, recurrent_kernel, bias, states, mask = self._unpack(arrays)
        xp = get_array_module(x)
        batch, steps, features = x.shape
        units = recurrent_kernel.shape[0]
        gates = GATES[self.kind]
        dtype = x.dtype
        self.shapes = (batch, steps, features, units)
        xs = x.transpose(1, 0, 2)  # time-major
        if self.go_backwards:
            xs = xs[::-1]
        # dropout: one mask per sequence (per gate when recurrent dropout is on, as Keras's implementation 1)
        in_masks = rec_masks = None
        if self.dropout > 0:
            in_masks = draw_keep_masks(gates if self.recurrent_dropout > 0 else 1, (batch, features), self.dropout, x)
        if self.recurrent_dropout > 0:
            rec_masks = draw_keep_masks(gates, (batch, units), self.recurrent_dropout, x)
        self.in_masks, self.rec_masks = in_masks, rec_masks
        self.kernel, self.recurrent_kernel = kernel, recurrent_kernel  # as given: for the kernels' gradients
        input_bias = recurrent_bias = None
        if bias is not None:
            input_bias, recurrent_bias = (bias[0], bias[1]) if bias.ndim == 2 else (bias, None)
        self.loop_masks = rec_masks
        loop_kernel = recurrent_kernel
        if self.kind == "lstm":
            kernel, loop_kernel, input_bias, in_loop, self.loop_masks = self._lstm_layout(
                kernel, recurrent_kernel, input_bias, in_masks, rec_masks, units)
            in_masks = in_loop
        self.loop_kernel = loop_kernel  # what backward's per-step product uses
        if self.fast:
            loop_kernel = loop_kernel * self.scale
        # every step's input projection in one product
        if in_masks is None or len(in_masks) == 1:
            dropped = xs if in_masks is None else xs * in_masks[0]
            self.dropped = xp.ascontiguousarray(dropped).reshape(steps * batch, features)
            projected = backend.matmul(self.dropped, kernel)
        else:
            flat = self.dropped = xs.reshape(steps * batch, features)
            projected = xp.concatenate([backend.matmul(flat * xp.tile(in_masks[g], (steps, 1)),
                                                       kernel[:, g * units:(g + 1) * units]) for g in range(gates)], axis=1)
        if input_bias is not None:
            projected += input_bias
        projected = projected.reshape(steps, batch, gates * units)
        if self.fast and not self.scaled_kernel:
            projected *= self.scale
        self.x_dtype = dtype

        keep = None
        if mask is not None:
            keep = (mask.transpose(1, 0) != 0)[:, :, None]
            if self.go_backwards:
                keep = keep[::-1]
            keep = xp.ascontiguousarray(keep)
        self.keep = keep

        h_all = xp.empty((steps + 1, batch, units), dtype=dtype)  # h_all[t] is h before step t
        h_all[0] = states[0] if states else 0
        c_all = None
        if self.kind == "lstm":
            c_all = xp.empty((steps + 1, batch, units), dtype=dtype)
            c_all[0] = states[1] if states else 0
        acts = xp.empty((steps, batch, gates * units), dtype=dtype)  # the activated gates of each step
        extra = None  # LSTM: act(c); GRU: the recurrent h-part (reset_after) or r * h_prev's operand
        if self.kind != "simple":
            extra = xp.empty((steps, batch, units), dtype=dtype)
        pre = xp.empty((batch, gates * units), dtype=dtype)
        rec = xp.empty((batch, gates * units), dtype=dtype)
        if self.kind == "lstm":
            self._forward_lstm(projected, h_all, c_all, acts, extra, loop_kernel, units, keep)
        else:
            step = getattr(self, f"_forward_{self.kind}")
            for t in range(steps):
                step(t, projected[t], h_all, c_all, acts, extra, loop_kernel, recurrent_bias, rec, pre, units)
                if keep is not None:
                    h_all[t + 1] = xp.where(keep[t], h_all[t + 1], h_all[t])
        self.h_all, self.c_all, self.acts, self.extra = h_all, c_all, acts, extra
        outputs = h_all[1:]
        if keep is not None and self.zero_output_for_mask:
            outputs = outputs * keep
        finals = [h_all[steps]] + ([c_all[steps]] if c_all is not None else [])
        packed = xp.empty((batch, steps + len(finals), units), dtype=dtype)
        packed[:, :steps] = outputs.transpose(1, 0, 2)
        for i, final in enumerate(finals):
            packed[:, steps + i] = final
        return packed

    def _lstm_layout(self, kernel, recurrent_kernel, input_bias, in_masks, rec_masks, units):
        """The LSTM's loop works on gates in the order i, f, o, c (the three sigmoid gates side by
        side); with tanh and sigmoid it also halves their columns, so that one ``tanh`` over all
        four gates gives ``tanh(z/2)`` for i, f, o (``sigmoid(z) = (1 + tanh(z/2)) / 2``) and
        ``tanh(z_c)``. Backward's products run in the loop's order too; the kernels' and the bias's
        gradients come back to Keras's order i, f, c, o at the end."""
        xp = get_array_module(kernel)
        order = self.order = _LSTM_ORDER(units, xp)
        self.fast = self.fast_lstm
        gate_order = [0, 1, 3, 2]
        in_loop = in_masks if in_masks is None or len(in_masks) == 1 else in_masks[gate_order]
        loop_masks = None if rec_masks is None else rec_masks[gate_order]
        kernel = self.grad_kernel = kernel[:, order]
        self.in_loop_masks = in_loop
        input_bias = None if input_bias is None else input_bias[order]
        if self.fast:
            self.scale = xp.concatenate([xp.full(3 * units, 0.5, dtype=kernel.dtype), xp.ones(units, dtype=kernel.dtype)])
            self.scaled_kernel = in_loop is None or len(in_loop) == 1
            if self.scaled_kernel:
                kernel = kernel * self.scale
                input_bias = None if input_bias is None else input_bias * self.scale
        return kernel, xp.ascontiguousarray(recurrent_kernel[:, order]), input_bias, in_loop, loop_masks

    # -- one step forward per kind: writes h_all[t + 1] (and c_all), the gates and extras --------
    def _forward_simple(self, t, projected, h_all, c_all, acts, extra, kernel, _rb, rec, pre, units):
        _recurrent_product(h_all[t], kernel, self.loop_masks, units, rec)
        if self.default_activations:
            recurrent_kernels.simple_step(rec, projected, acts[t], h_all[t + 1])
            return
        get_array_module(rec).add(rec, projected, out=pre)
        self.act(pre, acts[t])
        h_all[t + 1] = acts[t]

    def _forward_lstm(self, projected, h_all, c_all, acts, extra, kernel, units, keep):
        """The LSTM's steps (gates in the loop's order i, f, o, c), on local names and one scratch
        buffer: its loop is the one that most often runs, so it runs without a call per step."""
        xp = get_array_module(projected)
        add, matmul = xp.add, backend.matmul
        step = recurrent_kernels.lstm_step.for_array(projected)
        scratch = xp.empty(h_all.shape[1:], dtype=h_all.dtype)
        masks, fast = self.loop_masks, self.fast
        for t in range(projected.shape[0]):
            gates = acts[t]
            if masks is None:
                matmul(h_all[t], kernel, out=gates)
            else:
                _recurrent_product(h_all[t], kernel, masks, units, gates)
            if fast:
                step(gates, projected[t], c_all[t], c_all[t + 1], extra[t], h_all[t + 1], scratch)
            else:
                add(gates, projected[t], out=gates)
                self.ract(gates[:, :3 * units], gates[:, :3 * units])
                self.act(gates[:, 3 * units:], gates[:, 3 * units:])
                recurrent_kernels.lstm_cell(gates, c_all[t], c_all[t + 1], extra[t], h_all[t + 1], scratch, self.act)
            if keep is not None:
                h_all[t + 1] = xp.where(keep[t], h_all[t + 1], h_all[t])
                c_all[t + 1] = xp.where(keep[t], c_all[t + 1], c_all[t])

    def _forward_gru(self, t, projected, h_all, c_all, acts, extra, kernel, recurrent_bias, rec, pre, units):
        xp = get_array_module(rec)
        h_prev = h_all[t]
        masks = self.loop_masks
        gates = acts[t]
        default = self.default_activations
        if self.reset_after:
            _recurrent_product(h_prev, kernel, masks, units, rec)
            if recurrent_bias is not None:
                rec += recurrent_bias
            if default:
                recurrent_kernels.gru_reset_after_step(rec, projected, h_prev, gates, extra[t], h_all[t + 1])
                return
            xp.add(projected[:, :2 * units], rec[:, :2 * units], out=pre[:, :2 * units])
            self.ract(pre[:, :2 * units], gates[:, :2 * units])
            extra[t] = rec[:, 2 * units:]
            r = gates[:, units:2 * units]
            xp.multiply(r, extra[t], out=pre[:, 2 * units:])
        else:
            zr_masks = None if masks is None else masks[:2]
            rec[:, :2 * units] = _recurrent_product(h_prev, kernel[:, :2 * units], zr_masks, units,
                                                    xp.empty((h_prev.shape[0], 2 * units), dtype=rec.dtype))
            operand = h_prev if masks is None else h_prev * masks[2]
            if default:
                recurrent_kernels.gru_reset_gates(rec[:, :2 * units], projected[:, :2 * units], operand,
                                                  gates[:, :2 * units], extra[t])
            else:
                xp.add(projected[:, :2 * units], rec[:, :2 * units], out=pre[:, :2 * units])
                self.ract(pre[:, :2 * units], gates[:, :2 * units])
                xp.multiply(gates[:, units:2 * units], operand, out=extra[t])
            pre[:, 2 * units:] = backend.matmul(extra[t], kernel[:, 2 * units:])
        candidate = (pre[:, 2 * units:], projected[:, 2 * units:], gates[:, :units], h_prev, gates[:, 2 * units:],
                     h_all[t + 1])
        if default:
            recurrent_kernels.gru_candidate(*candidate)
        else:
            recurrent_kernels.gru_candidate.twin(*candidate, activation=self.act)

    # -- backward ---------------------------------------------------------------------------
    def backward(self, grad):
        with backend.host_parallelism():
            return self._backward(grad)

    def _backward(self, grad):
        xp = get_array_module(grad)
        batch, steps, _, units = self.shapes
        gates = GATES[self.kind]
        keep = self.keep
        grad = grad.astype(self.x_dtype, copy=False)
        d_out = grad[:, :steps].transpose(1, 0, 2)
        dh = xp.ascontiguousarray(grad[:, steps])
        dc = xp.ascontiguousarray(grad[:, steps + 1]) if self.kind == "lstm" else None
        d_pre = xp.empty((steps, batch, gates * units), dtype=self.x_dtype)  # d(projected) per step
        d_rec = d_pre if self.kind != "gru" else xp.empty_like(d_pre)  # d(recurrent product) per step
        factors = getattr(self, f"_factors_{self.kind}")(units)
        zero_outputs = keep is not None and self.zero_output_for_mask
        if self.kind == "lstm":
            dh, dc = self._backward_lstm(dh, dc, d_out, d_pre, factors, units, keep, zero_outputs)
            return self._gradients(dh, dc, d_pre, d_rec, units, gates)
        step = getattr(self, f"_backward_{self.kind}")
        for t in range(steps - 1, -1, -1):
            k = keep[t] if keep is not None else None
            if self.sequence_output or t == steps - 1:
                dh = dh + (d_out[t] * k if zero_outputs else d_out[t])
            passed_h = None
            if k is not None:
                passed_h = xp.where(k, 0, dh)
                dh = xp.where(k, dh, 0)
            dh, _ = step(t, dh, None, d_pre, d_rec, units, factors)
            if passed_h is not None:
                dh = dh + passed_h
        return self._gradients(dh, dc, d_pre, d_rec, units, gates)

    # -- one step backward per kind: the step's factors are computed for all steps at once first
    def _factors_simple(self, units):
        return self.act_grad(self.acts, xp_empty_like(self.acts))

    def _backward_simple(self, t, dh, dc, d_pre, d_rec, units, factors):
        get_array_module(dh).multiply(dh, factors[t], out=d_pre[t])
        return _recurrent_grad_h(d_pre[t], self.loop_kernel, self.loop_masks, units), None

    def _factors_lstm(self, units):
        """``(P, Q)`` in the loop's gate order i, f, o, c: the gradients of the pre-activations are
        ``(dc, dc, dh, dc) * P`` with ``P = slopes * (g, c_prev, act(c), i)``, and ``dc += dh * Q``
        with ``Q = o act'(c)``."""
        acts, a = self.acts, self.extra
        steps, batch = acts.shape[:2]
        p = xp_empty_like(acts)
        self.ract_grad(acts[..., :3 * units], p[..., :3 * units])
        self.act_grad(acts[..., 3 * units:], p[..., 3 * units:])
        p[..., :units] *= acts[..., 3 * units:]
        p[..., units:2 * units] *= self.c_all[:steps]
        p[..., 2 * units:3 * units] *= a
        p[..., 3 * units:] *= acts[..., :units]
        q = self.act_grad(a, xp_empty_like(a))
        q *= acts[..., 2 * units:3 * units]
        return p.reshape(steps, batch, 4, units), q

    def _backward_lstm(self, dh, dc, d_out, d_pre, factors, units, keep, zero_outputs):
        """The LSTM's steps back, in place on a few buffers (a masked step passes the part of
        the gradients that its carried states received on to the step before)."""
        xp = get_array_module(dh)
        matmul, step = backend.matmul, recurrent_kernels.lstm_backward_step.for_array(dh)
        p, q = factors
        steps, batch = d_pre.shape[:2]
        forget = self.acts[..., units:2 * units]
        masks = self.loop_masks
        kernel_t = xp.ascontiguousarray(self.loop_kernel.T)
        dh, dc = dh.copy(), dc.copy()
        scratch = xp.empty_like(dh)
        gate_grads = d_pre.reshape(steps, batch, 4, units)
        for t in range(steps - 1, -1, -1):
            k = None if keep is None else keep[t]
            if self.sequence_output or t == steps - 1:
                dh += d_out[t] * k if zero_outputs else d_out[t]
            if k is not None:
                passed_h, passed_c = xp.where(k, 0, dh), xp.where(k, 0, dc)
                dh, dc = xp.where(k, dh, 0), xp.where(k, dc, 0)
            step(dh, dc, p[t], q[t], forget[t], gate_grads[t], scratch)  # dc becomes the previous step's
            if masks is None:
                matmul(d_pre[t], kernel_t, out=dh)
            else:
                dh = _recurrent_grad_h(d_pre[t], self.loop_kernel, masks, units)
            if k is not None:
                dh += passed_h
                dc += passed_c
        return dh, dc

    def _factors_gru(self, units):
        """``(A_z, A_h, A_r)``: d z_pre = dh A_z, d hh_pre = dh A_h, d r_pre = (d hh_pre or its
        product's gradient) A_r, for every step at once."""
        acts = self.acts
        steps = acts.shape[0]
        z, r, hh = acts[..., :units], acts[..., units:2 * units], acts[..., 2 * units:]
        h_prev = self.h_all[:steps]
        a_z = self.ract_grad(z, xp_empty_like(z))
        a_z *= h_prev - hh
        a_h = self.act_grad(hh, xp_empty_like(hh))
        a_h *= 1 - z
        if self.reset_after:
            a_r = self.ract_grad(r, xp_empty_like(r))
            a_r *= self.extra
        else:
            operand = h_prev if self.loop_masks is None else h_prev * self.loop_masks[2]
            a_r = self.ract_grad(r, xp_empty_like(r))
            a_r *= operand
        return a_z, a_h, a_r

    def _backward_gru(self, t, dh, dc, d_pre, d_rec, units, factors):
        xp = get_array_module(dh)
        a_z, a_h, a_r = factors
        z, r = self.acts[t, :, :units], self.acts[t, :, units:2 * units]
        kernel, masks = self.loop_kernel, self.loop_masks
        d = d_pre[t]
        if self.reset_after:
            dh_prev = recurrent_kernels.gru_reset_after_backward(dh, a_z[t], a_h[t], a_r[t], z, r, d, d_rec[t])
            dh_prev += _recurrent_grad_h(d_rec[t], kernel, masks, units)
        else:
            xp.multiply(dh, a_z[t], out=d[:, :units])
            xp.multiply(dh, a_h[t], out=d[:, 2 * units:])
            dh_prev = dh * z
            d_operand = backend.matmul(d[:, 2 * units:], kernel[:, 2 * units:].T)  # d(r * h_prev')
            xp.multiply(d_operand, a_r[t], out=d[:, units:2 * units])
            d_h_part = d_operand * r
            dh_prev += d_h_part if masks is None else d_h_part * masks[2]
            zr_masks = None if masks is None else masks[:2]
            dh_prev += _recurrent_grad_h(d[:, :2 * units], kernel[:, :2 * units], zr_masks, units)
        return dh_prev, None

    def _gradients(self, dh0, dc0, d_pre, d_rec, units, gates):
        xp = get_array_module(d_pre)
        batch, steps, features, _ = self.shapes
        needs = self.needs_input_grad
        kernel, masks, in_masks = self.kernel, self.rec_masks, self.in_masks
        if self.kind == "lstm":  # in the loop's gate order: the kernels' gradients are put back at the end
            kernel, masks, in_masks = self.grad_kernel, self.loop_masks, self.in_loop_masks
        flat_d = d_pre.reshape(steps * batch, gates * units)
        # x and kernel: one product each over all steps
        dx = d_kernel = None
        if in_masks is None or len(in_masks) == 1:
            if needs[0]:
                dxs = backend.matmul(flat_d, kernel.T).reshape(steps, batch, features)
                if in_masks is not None:
                    dxs *= in_masks[0]
            if needs[1]:
                d_kernel = backend.matmul(self.dropped.T, flat_d)
        else:
            flat_x = self.dropped
            dxs = 0
            parts = []
            for g in range(gates):
                tiled = xp.tile(in_masks[g], (steps, 1))
                part = flat_d[:, g * units:(g + 1) * units]
                if needs[0]:
                    dxs = dxs + backend.matmul(part, kernel[:, g * units:(g + 1) * units].T) * tiled
                parts.append(backend.matmul((flat_x * tiled).T, part))
            d_kernel = xp.concatenate(parts, axis=1)
            if needs[0]:
                dxs = dxs.reshape(steps, batch, features)
        if needs[0]:
            if self.go_backwards:
                dxs = dxs[::-1]
            dx = xp.ascontiguousarray(dxs.transpose(1, 0, 2))
        # recurrent kernel: one product over all steps
        h_prev = self.h_all[:steps]
        if self.kind == "gru" and not self.reset_after:
            zr_masks = None if masks is None else masks[:2]
            d_recurrent = xp.concatenate([_kernel_grad(h_prev, d_pre[:, :, :2 * units], zr_masks, units),
                                          _kernel_grad(self.extra, d_pre[:, :, 2 * units:], None, units)], axis=1)
        else:
            d_recurrent = _kernel_grad(h_prev, d_rec, masks, units)
        if self.kind == "lstm":
            d_kernel = None if d_kernel is None else d_kernel[:, self.order]
            d_recurrent = d_recurrent[:, self.order]
        grads = [dx, d_kernel, d_recurrent]
        if self.use_bias:
            d_bias = flat_d.sum(axis=0)
            if self.kind == "lstm":
                d_bias = d_bias[self.order]
            if self.kind == "gru" and self.reset_after:
                d_bias = xp.stack([d_bias, d_rec.reshape(steps * batch, gates * units).sum(axis=0)])
            grads.append(d_bias)
        if self.has_state:
            grads.append(dh0)
            if self.kind == "lstm":
                grads.append(dc0)
        if self.has_mask:
            grads.append(None)
        return tuple(grads)


def recurrence(kind, x, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None, *, activation="tanh",
               recurrent_activation="sigmoid", reset_after=True, go_backwards=False, zero_output_for_mask=False,
               dropout=0.0, recurrent_dropout=0.0, sequence_output=True) -> Tensor:
    """Run a SimpleRNN (``kind="simple"``), LSTM or GRU over ``x`` (batch, steps, features) as one op.

    ``initial_state`` is None (zeros) or the list of states (``[h]``, LSTM ``[h, c]``); ``mask`` is
    None or (batch, steps), nonzero where a step counts; ``dropout``/``recurrent_dropout`` are
    rates (0 outside training); ``sequence_output=False`` promises that of the outputs only the
    last step's is used (backward then skips the others' gradients, which are zeros). Returns ``(batch, steps + states, units)``: every step's output,
    then the final states (see the module docstring).
    """
    if kind not in GATES:
        raise ValueError(f"kind must be one of {sorted(GATES)}, got {kind!r}")
    for name, value in (("activation", activation), ("recurrent_activation", recurrent_activation)):
        if value not in FUSED_ACTIVATIONS:
            raise ValueError(f"{name} must be one of {sorted(FUSED_ACTIVATIONS)}, got {value!r}")
    inputs = [x, kernel, recurrent_kernel]
    if bias is not None:
        inputs.append(bias)
    if initial_state is not None:
        inputs.extend(initial_state)
    if mask is not None:
        inputs.append(mask)
    op = Recurrence(kind, activation, recurrent_activation, use_bias=bias is not None,
                    has_state=initial_state is not None, has_mask=mask is not None, reset_after=reset_after,
                    go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask, dropout=float(dropout),
                    recurrent_dropout=float(recurrent_dropout), sequence_output=bool(sequence_output))
    return op(*inputs)
