"""Synchronized batch normalization in one process: two ranks as two threads (``test_buckets``'s
fake communicator), each normalising its slice of one batch, against one process on the whole
batch (float64, the same formulas computed in one piece)."""

from __future__ import annotations

import numpy as np
import pytest
from test_buckets import _run_ranks

import gpunet
from gpunet import Parameter, Tensor, backend
from gpunet.layers import BatchNormalization
from gpunet.ops.normalization import batch_norm


def _one_rank(x, w, gamma, beta, mean, var, sum_over):
    """Forward and backward of ``mean over the samples of sum(w * batch_norm(x))``: the outputs,
    the moving statistics after the call and the gradients of x, gamma and beta."""
    xt = Tensor(x, requires_grad=True)
    g, b = Parameter(gamma.copy()), Parameter(beta.copy())
    mm, mv = Parameter(mean.copy(), trainable=False), Parameter(var.copy(), trainable=False)
    y = batch_norm(xt, g, b, mm, mv, axis=-1, momentum=0.9, epsilon=1e-3, training=True, sum_over=sum_over)
    loss = (y * Tensor(w)).sum() / max(x.shape[0], 1)
    loss.backward()
    host = backend.to_host
    return {"y": host(y.data), "moving_mean": host(mm.data), "moving_variance": host(mv.data),
            "dx": host(xt.grad), "dgamma": host(g.grad), "dbeta": host(b.grad)}


@pytest.mark.parametrize("shape", [(5, 4), (5, 3, 2, 4)])
@pytest.mark.parametrize("split", [3, 1])
def test_two_ranks_normalise_and_differentiate_like_one_process_on_the_whole_batch(shape, split, rng):
    x = rng.normal(2.0, 3.0, shape)
    w = rng.normal(size=shape)
    gamma, beta = rng.normal(1.0, 0.2, shape[-1]), rng.normal(size=shape[-1])
    mean, var = rng.normal(size=shape[-1]), rng.uniform(0.5, 2.0, shape[-1])
    one = _one_rank(x, w, gamma, beta, mean, var, None)
    parts = (slice(0, split), slice(split, None))
    ranks = _run_ranks(lambda rank, comm: _one_rank(x[parts[rank]], w[parts[rank]], gamma, beta, mean, var,
                                                   comm.allreduce))
    n = shape[0]
    counts = [split, n - split]
    for rank, part in enumerate(parts):
        np.testing.assert_allclose(ranks[rank]["y"], one["y"][part], rtol=1e-12, atol=1e-12)
        for key in ("moving_mean", "moving_variance"):  # the global batch's statistics on every rank
            np.testing.assert_allclose(ranks[rank][key], one[key], rtol=1e-12, atol=1e-14)
        # each rank's gradient is of its own mean loss: the data-parallel step weights it by n_r / N
        np.testing.assert_allclose(ranks[rank]["dx"] * counts[rank] / n, one["dx"][part], rtol=1e-10, atol=1e-13)
    for key in ("dgamma", "dbeta"):
        weighted = sum(ranks[r][key] * counts[r] / n for r in range(2))
        np.testing.assert_allclose(weighted, one[key], rtol=1e-10, atol=1e-13)


def test_without_the_sum_each_rank_normalises_by_its_own_slice(rng):
    # the check above can fail: per-rank statistics do not give one process's output
    x = rng.normal(2.0, 3.0, (6, 3))
    ones, zeros = np.ones(3), np.zeros(3)
    one = _one_rank(x, x, ones, zeros, zeros, ones, None)
    alone = _one_rank(x[:2], x[:2], ones, zeros, zeros, ones, None)
    assert not np.allclose(alone["y"], one["y"][:2])


def test_the_layer_is_the_ordinary_one_in_one_process_and_keeps_its_argument(rng):
    x = rng.normal(size=(8, 3))
    plain, synced = BatchNormalization(), BatchNormalization(synchronized=True)
    out_plain = backend.to_host(plain(Tensor(x), training=True).data)
    out_synced = backend.to_host(synced(Tensor(x), training=True).data)
    np.testing.assert_array_equal(out_plain, out_synced)
    np.testing.assert_array_equal(backend.to_host(plain.moving_mean.data), backend.to_host(synced.moving_mean.data))
    config = synced.get_config()
    assert config["synchronized"] is True
    assert BatchNormalization.from_config(config).synchronized is True
    with pytest.raises(TypeError, match="synchronized"):
        BatchNormalization(synchronized="yes")
    with pytest.raises(TypeError, match="sum_over"):
        batch_norm(Tensor(x), None, None, np.zeros(3), np.ones(3), training=True, sum_over=3)


def test_the_layer_takes_its_statistics_through_the_installed_sum(rng):
    from gpunet.layers.normalization import set_cross_process_sum  # noqa: PLC0415

    calls = []
    set_cross_process_sum(lambda array: calls.append(array.size))
    try:
        layer = BatchNormalization(synchronized=True)
        x = Tensor(rng.normal(size=(4, 3)), requires_grad=True)
        layer(x, training=True).sum().backward()
        layer(x, training=False)  # inference: the moving statistics, nothing to sum
    finally:
        set_cross_process_sum(None)
    assert calls == [4, 3, 6]  # the count and the sums; the squared deviations; the gradient's two sums
    assert gpunet.layers.normalization._cross_process_sum is None
