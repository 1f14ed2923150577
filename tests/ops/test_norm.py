"""batch_norm and layer_norm: values, gradients and moving statistics against float64 NumPy written
from the papers' formulas, against the real Keras 3 (JAX backend, when installed), and replayed
from a recorded tape."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gpunet import Parameter, Tensor, backend, gradcheck
from gpunet.autograd import Tape
from gpunet.ops.normalization import batch_norm, layer_norm

RTOL, ATOL = 1e-10, 1e-12  # float64 against float64


# ---------------------------------------------------------------------------------------------
# references, plain float64 NumPy
# ---------------------------------------------------------------------------------------------
def _groups(x, axes):
    """``x`` as a matrix with one row per combination of ``axes`` and the other axes along the row."""
    moved = np.moveaxis(x, axes, list(range(len(axes))))
    return moved.reshape(int(np.prod(moved.shape[: len(axes)])), -1), moved.shape


def _ungroup(rows, moved_shape, axes):
    return np.moveaxis(rows.reshape(moved_shape), list(range(len(axes))), axes)


def _axes(axis, ndim):
    return sorted(a % ndim for a in ([axis] if isinstance(axis, int) else axis))


def bn_reference(x, gamma, beta, moving_mean, moving_variance, axis, momentum, epsilon, training):
    """Output and new moving statistics: each feature's values in a row, np.var for the variance."""
    features = _axes(axis, x.ndim)
    rows, moved = _groups(x, features)
    if training:
        mean, var = rows.mean(axis=1), rows.var(axis=1)
        new_mean = momentum * moving_mean.ravel() + (1 - momentum) * mean
        new_var = momentum * moving_variance.ravel() + (1 - momentum) * var
    else:
        mean, var = moving_mean.ravel(), moving_variance.ravel()
        new_mean, new_var = mean, var
    g = np.ones(len(rows)) if gamma is None else gamma.ravel()
    b = np.zeros(len(rows)) if beta is None else beta.ravel()
    y = g[:, None] * (rows - mean[:, None]) / np.sqrt(var[:, None] + epsilon) + b[:, None]
    return _ungroup(y, moved, features), new_mean.reshape(moving_mean.shape), new_var.reshape(moving_variance.shape)


def ln_reference(x, gamma, beta, axis, epsilon):
    axes = _axes(axis, x.ndim)
    others = [i for i in range(x.ndim) if i not in axes]
    rows, moved = _groups(x, others)  # one row per example, the normalized axes along it
    mean, var = rows.mean(axis=1, keepdims=True), rows.var(axis=1, keepdims=True)
    g = 1.0 if gamma is None else gamma.ravel()
    b = 0.0 if beta is None else beta.ravel()
    return _ungroup(g * (rows - mean) / np.sqrt(var + epsilon) + b, moved, others)


def paper_vjp(w, x, scale, epsilon):
    """Ioffe and Szegedy's backward, statistics over axis 1 of ``x`` (rows), ``scale`` broadcast to it."""
    n = x.shape[1]
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    dxhat = w * scale
    dvar = (dxhat * (x - mu)).sum(axis=1, keepdims=True) * -0.5 * (var + epsilon) ** -1.5
    dmu = (-dxhat / np.sqrt(var + epsilon)).sum(axis=1, keepdims=True) + dvar * (-2 * (x - mu)).mean(axis=1, keepdims=True)
    return dxhat / np.sqrt(var + epsilon) + dvar * 2 * (x - mu) / n + dmu / n


# ---------------------------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------------------------
# (input shape, axis): the feature axes for batch norm, the normalized axes for layer norm
AXES = [
    ((6, 4), -1),
    ((3, 4, 3, 2), 1),  # channels first
    ((3, 4, 3, 2), -1),  # channels last
    ((3, 4, 2, 3), [-1, 1]),  # a list, out of order, not adjacent
]
AFFINE = [(True, True), (False, True), (True, False), (False, False)]  # (scale, center)


def _ids(value):
    return str(value).replace(" ", "")


def _param_shape(shape, axis):
    return tuple(shape[a] for a in _axes(axis, len(shape)))


def _arrays(rng, shape, axis, scale=True, center=True):
    """x, gamma, beta (None when off), moving mean and moving variance, float64."""
    pshape = _param_shape(shape, axis)
    x = rng.standard_normal(shape) * 1.5 + 0.3
    gamma = rng.uniform(0.5, 1.5, pshape) if scale else None
    beta = rng.standard_normal(pshape) if center else None
    return x, gamma, beta, rng.standard_normal(pshape), rng.uniform(0.5, 2.0, pshape)


def _dev(a):
    return None if a is None else backend.to_device(a)


def _stat(a):
    """A moving statistic as the layer holds it: a non-trainable Parameter on the device."""
    return Parameter(backend.to_device(np.array(a)), trainable=False)


def _present(*arrays):
    return [a for a in arrays if a is not None]


def _bn_fn(axis, training, scale, center, momentum=0.9, epsilon=1e-3):
    """``f(x, [gamma], [beta], moving_mean, moving_variance)`` for gradcheck."""

    def fn(x, *rest):
        *affine, mm, mv = rest
        affine = list(affine)
        gamma = affine.pop(0) if scale else None
        beta = affine.pop(0) if center else None
        return batch_norm(x, gamma, beta, mm, mv, axis=axis, momentum=momentum, epsilon=epsilon, training=training)

    return fn


# ---------------------------------------------------------------------------------------------
# batch norm: values and moving statistics
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, axis", AXES, ids=_ids)
@pytest.mark.parametrize("scale, center", AFFINE, ids=_ids)
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batch_norm_values_and_statistics(xp, rng, shape, axis, scale, center, training):
    x, gamma, beta, mm, mv = _arrays(rng, shape, axis, scale, center)
    moving_mean, moving_variance = _stat(mm), _stat(mv)
    arrays = (moving_mean.data, moving_variance.data)
    y = batch_norm(Tensor(_dev(x)), _dev(gamma), _dev(beta), moving_mean, moving_variance,
                   axis=axis, momentum=0.9, epsilon=1e-2, training=training)
    expected, new_mean, new_var = bn_reference(x, gamma, beta, mm, mv, axis, 0.9, 1e-2, training)
    assert y.dtype == np.float64 and y.shape == x.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=RTOL, atol=ATOL)
    # updated in place: the arrays the Parameters held are the ones that changed
    assert moving_mean.data is arrays[0] and moving_variance.data is arrays[1]
    np.testing.assert_allclose(moving_mean.numpy(), new_mean, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(moving_variance.numpy(), new_var, rtol=RTOL, atol=ATOL)
    if training:  # the batch's statistics are used, not the moving ones, and the variance is biased
        assert not np.allclose(moving_mean.numpy(), mm)
    else:
        assert np.array_equal(moving_mean.numpy(), mm) and np.array_equal(moving_variance.numpy(), mv)


def test_moving_statistics_follow_the_recurrence_over_calls(xp, rng):
    shape, momentum = (5, 3, 2), 0.8
    mm, mv = np.zeros(3), np.ones(3)
    moving_mean, moving_variance = _stat(mm), _stat(mv)
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        batch_norm(Tensor(_dev(x)), None, None, moving_mean, moving_variance, axis=1, momentum=momentum, training=True)
        batch_norm(Tensor(_dev(x)), None, None, moving_mean, moving_variance, axis=1, momentum=momentum)  # no update
        mean = x.transpose(1, 0, 2).reshape(3, -1).mean(axis=1)
        var = ((x - mean[None, :, None]) ** 2).transpose(1, 0, 2).reshape(3, -1).sum(axis=1) / (shape[0] * shape[2])
        mm, mv = mm * momentum + mean * (1 - momentum), mv * momentum + var * (1 - momentum)
        np.testing.assert_allclose(moving_mean.numpy(), mm, rtol=1e-12)
        np.testing.assert_allclose(moving_variance.numpy(), mv, rtol=1e-12)


def test_batch_norm_takes_the_parameters_arrays_too(xp, rng):
    x, gamma, beta, mm, mv = _arrays(rng, (4, 3), -1)
    mean_array, var_array = backend.to_device(mm.copy()), backend.to_device(mv.copy())
    y = batch_norm(Tensor(_dev(x)), Tensor(_dev(gamma)), Tensor(_dev(beta)), mean_array, var_array, momentum=0.5, training=True)
    expected, new_mean, new_var = bn_reference(x, gamma, beta, mm, mv, -1, 0.5, 1e-3, True)
    np.testing.assert_allclose(y.numpy(), expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(backend.to_host(mean_array), new_mean, rtol=RTOL)
    np.testing.assert_allclose(backend.to_host(var_array), new_var, rtol=RTOL)


# ---------------------------------------------------------------------------------------------
# batch norm: gradients
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, axis", AXES, ids=_ids)
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batch_norm_gradient_matches_the_papers_formula(xp, rng, shape, axis, training):
    x, gamma, beta, mm, mv = _arrays(rng, shape, axis)
    tensors = [Tensor(_dev(a), requires_grad=True) for a in (x, gamma, beta)]
    y = batch_norm(*tensors, _stat(mm), _stat(mv), axis=axis, epsilon=1e-2, training=training)
    w = rng.standard_normal(shape)
    y.backward(backend.to_device(w))
    features = _axes(axis, x.ndim)
    rows, moved = _groups(x, features)
    w_rows = _groups(w, features)[0]
    g_col = gamma.reshape(-1, 1)
    if training:
        dx = paper_vjp(w_rows, rows, g_col, 1e-2)
        mean, var = rows.mean(axis=1, keepdims=True), rows.var(axis=1, keepdims=True)
    else:
        mean, var = mm.reshape(-1, 1), mv.reshape(-1, 1)
        dx = w_rows * g_col / np.sqrt(var + 1e-2)  # the statistics are constants
    xhat = (rows - mean) / np.sqrt(var + 1e-2)
    np.testing.assert_allclose(backend.to_host(tensors[0].grad), _ungroup(dx, moved, features), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(backend.to_host(tensors[1].grad), (w_rows * xhat).sum(axis=1).reshape(gamma.shape), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(backend.to_host(tensors[2].grad), w_rows.sum(axis=1).reshape(beta.shape), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape, axis", AXES, ids=_ids)
@pytest.mark.parametrize("scale, center", AFFINE, ids=_ids)
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batch_norm_gradcheck(xp, rng, shape, axis, scale, center, training):
    x, gamma, beta, mm, mv = _arrays(rng, shape, axis, scale, center)
    inputs = [_dev(x), *map(_dev, _present(gamma, beta)), _stat(mm), _stat(mv)]
    assert gradcheck(_bn_fn(axis, training, scale, center), inputs, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batch_norm_gradcheck_when_only_some_inputs_need_gradients(xp, rng, training):
    x, gamma, beta, mm, mv = _arrays(rng, (5, 3, 2), 1)
    fn = _bn_fn(1, training, True, True)
    constant = lambda a: Tensor(_dev(a))  # noqa: E731
    assert gradcheck(fn, [constant(x), _dev(gamma), _dev(beta), _stat(mm), _stat(mv)], atol=1e-8, rtol=1e-6)
    assert gradcheck(fn, [_dev(x), constant(gamma), constant(beta), _stat(mm), _stat(mv)], atol=1e-8, rtol=1e-6)
    assert gradcheck(fn, [constant(x), _dev(gamma), constant(beta), _stat(mm), _stat(mv)], atol=1e-8, rtol=1e-6)


def test_no_gradient_reaches_the_moving_statistics(xp, rng):
    x, gamma, beta, mm, mv = _arrays(rng, (4, 3), -1)
    for trainable in (True, False):
        stats = [Tensor(_dev(mm), requires_grad=trainable), _stat(mv)]
        if trainable:
            with pytest.raises(ValueError, match="moving_mean must be non-trainable"):
                batch_norm(Tensor(_dev(x)), None, None, *stats)
            with pytest.raises(ValueError, match="moving_variance must be non-trainable"):
                batch_norm(Tensor(_dev(x)), None, None, stats[1], Tensor(_dev(mv), requires_grad=True))
        else:
            y = batch_norm(Tensor(_dev(x), requires_grad=True), None, None, *stats)
            y.sum().backward()
            assert stats[0].grad is None and stats[1].grad is None


# ---------------------------------------------------------------------------------------------
# layer norm
# ---------------------------------------------------------------------------------------------
LN_AXES = AXES + [((3, 4, 3, 2), [1, 2, 3]), ((2, 3, 4), 1)]


@pytest.mark.parametrize("shape, axis", LN_AXES, ids=_ids)
@pytest.mark.parametrize("scale, center", AFFINE, ids=_ids)
def test_layer_norm_values(xp, rng, shape, axis, scale, center):
    x, gamma, beta, _, _ = _arrays(rng, shape, axis, scale, center)
    y = layer_norm(Tensor(_dev(x)), _dev(gamma), _dev(beta), axis=axis, epsilon=1e-2)
    assert y.dtype == np.float64 and y.shape == x.shape
    np.testing.assert_allclose(y.numpy(), ln_reference(x, gamma, beta, axis, 1e-2), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("shape, axis", LN_AXES, ids=_ids)
def test_layer_norm_gradient_matches_the_papers_formula(xp, rng, shape, axis):
    x, gamma, beta, _, _ = _arrays(rng, shape, axis)
    tensors = [Tensor(_dev(a), requires_grad=True) for a in (x, gamma, beta)]
    layer_norm(*tensors, axis=axis, epsilon=1e-2).backward(backend.to_device(w := rng.standard_normal(shape)))
    axes = _axes(axis, x.ndim)
    others = [i for i in range(x.ndim) if i not in axes]
    rows, moved = _groups(x, others)
    w_rows = _groups(w, others)[0]
    dx = paper_vjp(w_rows, rows, gamma.reshape(1, -1), 1e-2)
    xhat = (rows - rows.mean(axis=1, keepdims=True)) / np.sqrt(rows.var(axis=1, keepdims=True) + 1e-2)
    np.testing.assert_allclose(backend.to_host(tensors[0].grad), _ungroup(dx, moved, others), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(backend.to_host(tensors[1].grad), (w_rows * xhat).sum(axis=0).reshape(gamma.shape), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(backend.to_host(tensors[2].grad), w_rows.sum(axis=0).reshape(beta.shape), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape, axis", LN_AXES, ids=_ids)
@pytest.mark.parametrize("scale, center", AFFINE, ids=_ids)
def test_layer_norm_gradcheck(xp, rng, shape, axis, scale, center):
    x, gamma, beta, _, _ = _arrays(rng, shape, axis, scale, center)

    def fn(x, *affine):
        affine = list(affine)
        return layer_norm(x, affine.pop(0) if scale else None, affine.pop(0) if center else None, axis=axis)

    assert gradcheck(fn, [_dev(x), *map(_dev, _present(gamma, beta))], atol=1e-8, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# float32
# ---------------------------------------------------------------------------------------------
def test_float32_stays_float32(xp, rng):
    x, gamma, beta, mm, mv = (a.astype(np.float32) for a in _arrays(rng, (4, 3), -1))
    tensors = [Tensor(_dev(a), requires_grad=True) for a in (x, gamma, beta)]
    stats = _stat(mm), _stat(mv)
    for y in (batch_norm(*tensors, *stats, training=True), layer_norm(*tensors)):
        assert y.dtype == np.float32
        y.backward(backend.to_device(np.ones(y.shape, np.float32)))
    assert all(t.grad.dtype == np.float32 for t in tensors)
    assert stats[0].dtype == np.float32 and stats[1].dtype == np.float32


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("x_dtype, weight_dtype", [(np.float64, np.float32), (np.float32, np.float64)], ids=["x64", "x32"])
def test_mixed_dtypes_compute_in_the_inputs_dtype(xp, rng, training, x_dtype, weight_dtype):
    """Weights of another dtype are cast to the input's (as Keras); each gradient has its weight's dtype."""
    x, gamma, beta, mm, mv = _arrays(rng, (5, 3), -1)
    x = x.astype(x_dtype)
    gamma, beta, mm, mv = (a.astype(weight_dtype) for a in (gamma, beta, mm, mv))
    weights = [Tensor(_dev(a), requires_grad=True) for a in (gamma, beta)]
    stats = _stat(mm), _stat(mv)
    tensor = Tensor(_dev(x), requires_grad=True)
    y = batch_norm(tensor, *weights, *stats, momentum=0.5, training=training)
    as64 = [a.astype(np.float64) for a in (x, gamma, beta, mm, mv)]
    expected, new_mean, new_var = bn_reference(*as64, -1, 0.5, 1e-3, training)
    tol = 1e-12 if x_dtype == np.float64 else 1e-5
    assert y.dtype == x_dtype
    np.testing.assert_allclose(y.numpy(), expected, rtol=tol, atol=tol)
    assert stats[0].dtype == weight_dtype and stats[1].dtype == weight_dtype
    np.testing.assert_allclose(stats[0].numpy(), new_mean, rtol=1e-6)
    y.backward(backend.to_device(rng.standard_normal(y.shape).astype(x_dtype)))
    assert tensor.grad.dtype == x_dtype and all(w.grad.dtype == weight_dtype for w in weights)
    y = layer_norm(tensor, *weights[:1])
    assert y.dtype == x_dtype
    np.testing.assert_allclose(y.numpy(), ln_reference(as64[0], as64[1], None, -1, 1e-3), rtol=tol, atol=tol)


def test_float32_statistics_are_accurate_far_from_zero(xp, rng):
    """The variance of values around 1000 with spread 0.01: ``E[x^2] - E[x]^2`` loses it in float32."""
    x = (1000 + 0.01 * rng.standard_normal((64, 3))).astype(np.float32)
    x64 = x.astype(np.float64)
    variance = x64.var(axis=0)
    moving_mean, moving_variance = _stat(np.zeros(3, np.float32)), _stat(np.ones(3, np.float32))
    y = batch_norm(Tensor(_dev(x)), None, None, moving_mean, moving_variance, momentum=0.0, epsilon=1e-8, training=True)
    np.testing.assert_allclose(moving_variance.numpy(), variance, rtol=1e-3)
    # within a few float32 spacings at 1000 (6e-5), relative to the spread 0.01
    np.testing.assert_allclose(y.numpy(), (x64 - x64.mean(axis=0)) / np.sqrt(variance), atol=0.02)
    rows = np.ascontiguousarray(x.T)
    y = layer_norm(Tensor(_dev(rows)), epsilon=1e-8)
    np.testing.assert_allclose(y.numpy(), ln_reference(rows.astype(np.float64), None, None, -1, 0.0), atol=0.02)


# ---------------------------------------------------------------------------------------------
# a recorded tape
# ---------------------------------------------------------------------------------------------
def test_recorded_tape_replays_bitwise_and_updates_statistics_once_per_replay(xp, rng):
    shape, momentum = (6, 3, 2), 0.7
    x0, gamma, beta, mm, mv = _arrays(rng, shape, 1)
    ln_gamma, ln_beta = rng.uniform(0.5, 1.5, (3, 2)), rng.standard_normal((3, 2))
    w = backend.to_device(rng.standard_normal(shape))

    def weights():
        trainable = [Parameter(_dev(a.copy()), name=n) for n, a in zip("abcd", (gamma, beta, ln_gamma, ln_beta))]
        return trainable, [_stat(mm), _stat(mv)]

    def step_for(trainable, stats):
        def step(x):
            h = batch_norm(x, *trainable[:2], *stats, axis=1, momentum=momentum, training=True)
            y = layer_norm(h, *trainable[2:], axis=[1, 2])
            return y, (y * Tensor(w)).sum()

        return step

    taped, taped_stats = weights()
    eager, eager_stats = weights()
    batches = [x0] + [rng.standard_normal(shape) * (k + 2) for k in range(3)]
    tape, outputs = Tape.record(step_for(taped, taped_stats), (Tensor(_dev(x0)),), taped, frozen=taped_stats)
    assert tape is not None, Tape.last_refusal
    ref_mean, ref_var = mm, mv
    for k, x in enumerate(batches):
        if k:
            outputs = tape.forward(_dev(x))
        else:
            outputs = [t.data for t in outputs]
        grads = tape.backward(backend.to_device(np.ones((), np.float64)))
        for p in eager:
            p.grad = None
        y, loss = step_for(eager, eager_stats)(Tensor(_dev(x)))
        loss.backward()
        assert np.array_equal(backend.to_host(outputs[0]), y.numpy())
        for g, p in zip(grads, eager):
            assert np.array_equal(backend.to_host(g), backend.to_host(p.grad))
        for a, b in zip(taped_stats, eager_stats):
            assert np.array_equal(a.numpy(), b.numpy())
        _, ref_mean, ref_var = bn_reference(x, gamma, beta, ref_mean, ref_var, 1, momentum, 1e-3, True)
        np.testing.assert_allclose(taped_stats[0].numpy(), ref_mean, rtol=1e-12)
        np.testing.assert_allclose(taped_stats[1].numpy(), ref_var, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
def test_wrong_shapes_are_refused_before_any_update(xp, rng):
    x, gamma, beta, mm, mv = _arrays(rng, (4, 3), -1)
    stats = _stat(mm), _stat(mv)
    with pytest.raises(ValueError, match=r"gamma must have the shape \(3,\)"):
        batch_norm(Tensor(_dev(x)), _dev(gamma[:2]), _dev(beta), *stats, training=True)
    with pytest.raises(ValueError, match=r"beta must have the shape \(3,\)"):
        batch_norm(Tensor(_dev(x)), _dev(gamma), _dev(np.zeros((1, 3))), *stats, training=True)
    with pytest.raises(ValueError, match=r"moving_variance must have the shape \(4,\)"):
        batch_norm(Tensor(_dev(x)), None, None, _stat(np.zeros(4)), _stat(mv), axis=0, training=True)
    assert np.array_equal(stats[0].numpy(), mm) and np.array_equal(stats[1].numpy(), mv)
    with pytest.raises(ValueError, match=r"gamma must have the shape \(3, 2\)"):
        layer_norm(Tensor(_dev(np.zeros((4, 3, 2)))), _dev(np.ones((2, 3))), axis=[2, 1])


@pytest.mark.parametrize("axis, message", [
    (2, "axis 2 is out of range"), (-3, "axis -3 is out of range"), ([1, -1], "names the same axis twice"),
    ([], "axis must be an int"), (True, "axis must be an int"), ("1", "axis must be an int"), ([1.0], "axis must be an int"),
])
def test_bad_axes(xp, axis, message):
    x = Tensor(_dev(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=message):
        layer_norm(x, axis=axis)
    with pytest.raises(ValueError, match=message):
        batch_norm(x, None, None, _stat(np.zeros(3)), _stat(np.ones(3)), axis=axis)


@pytest.mark.parametrize("name, value", [
    ("momentum", 1.5), ("momentum", -0.1), ("momentum", float("nan")), ("momentum", True), ("momentum", "0.9"),
    ("epsilon", -1e-3), ("epsilon", float("inf")), ("epsilon", float("nan")), ("epsilon", None),
])
def test_bad_numbers(xp, name, value):
    x = Tensor(_dev(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=f"{name} must be a finite number"):
        batch_norm(x, None, None, _stat(np.zeros(3)), _stat(np.ones(3)), **{name: value})
    if name == "epsilon":
        with pytest.raises(ValueError, match="epsilon must be a finite number"):
            layer_norm(x, epsilon=value)


def test_moving_statistics_must_be_float_arrays_of_the_inputs_device(xp):
    x = Tensor(_dev(np.zeros((2, 3))))
    for bad in ([0.0, 0.0, 0.0], backend.to_device(np.zeros(3, np.int64))):
        with pytest.raises(ValueError, match="moving_mean must be a floating-point Tensor or array on the input's device"):
            batch_norm(x, None, None, bad, _stat(np.ones(3)))
    if xp is np:
        pytest.skip("a host array is on the NumPy backend's device")
    with pytest.raises(ValueError, match="moving_variance must be a floating-point Tensor or array on the input's device"):
        batch_norm(x, None, None, _stat(np.zeros(3)), np.ones(3))


# ---------------------------------------------------------------------------------------------
# the real Keras 3
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "jax"  # before keras is imported: Keras 3 defaults to TensorFlow
    pytest.importorskip("jax", reason="the Keras comparisons run Keras 3 on JAX: pip install -e '.[keras]'")
    return pytest.importorskip("keras", minversion="3.0", reason="Keras 3 is a test extra: pip install -e '.[keras]'")


KERAS_TOL = dict(rtol=2e-5, atol=2e-5)  # float32 both sides, summed in different orders
keras_warnings = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@keras_warnings
@pytest.mark.parametrize("shape, axis", [((6, 4), -1), ((3, 4, 3, 2), 1), ((3, 4, 3, 2), -1), ((2, 3, 4), 1)], ids=_ids)
@pytest.mark.parametrize("scale, center", [(True, True), (False, False)], ids=_ids)
def test_batch_norm_matches_keras(keras, xp, rng, shape, axis, scale, center):
    x, gamma, beta, mm, mv = (None if a is None else a.astype(np.float32) for a in _arrays(rng, shape, axis, scale, center))
    layer = keras.layers.BatchNormalization(axis=axis, momentum=0.9, epsilon=1e-2, scale=scale, center=center)
    layer.build(shape)
    moving_mean, moving_variance = _stat(mm), _stat(mv)
    for training in (True, False, True):
        layer.set_weights(_present(gamma, beta) + [moving_mean.numpy(), moving_variance.numpy()])
        expected = np.asarray(layer(x, training=training))
        y = batch_norm(Tensor(_dev(x)), _dev(gamma), _dev(beta), moving_mean, moving_variance,
                       axis=axis, momentum=0.9, epsilon=1e-2, training=training)
        np.testing.assert_allclose(y.numpy(), expected, **KERAS_TOL)
        np.testing.assert_allclose(moving_mean.numpy(), np.asarray(layer.moving_mean), **KERAS_TOL)
        np.testing.assert_allclose(moving_variance.numpy(), np.asarray(layer.moving_variance), **KERAS_TOL)
        x = x * 1.5 + 0.25


# Keras sorts a list of axes as given, negative ones included: for [-1, 1] its gamma has the shape
# (C, H) yet is reshaped, not transposed, onto (1, H, 1, C). gpunet sorts the resolved axes: (H, C).
KERAS_LN_AXES = [(shape, [a % len(shape) for a in axis] if isinstance(axis, list) else axis) for shape, axis in LN_AXES]


@keras_warnings
@pytest.mark.parametrize("shape, axis", KERAS_LN_AXES, ids=_ids)
@pytest.mark.parametrize("scale, center", [(True, True), (True, False), (False, True)], ids=_ids)
def test_layer_norm_matches_keras(keras, xp, rng, shape, axis, scale, center):
    x, gamma, beta, _, _ = (None if a is None else a.astype(np.float32) for a in _arrays(rng, shape, axis, scale, center))
    layer = keras.layers.LayerNormalization(axis=axis, epsilon=1e-2, scale=scale, center=center)
    layer.build(shape)
    layer.set_weights(_present(gamma, beta))
    y = layer_norm(Tensor(_dev(x)), _dev(gamma), _dev(beta), axis=axis, epsilon=1e-2)
    np.testing.assert_allclose(y.numpy(), np.asarray(layer(x)), **KERAS_TOL)
