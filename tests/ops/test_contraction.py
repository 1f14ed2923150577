"""ops.einsum's two-operand path (gpunet/ops/contraction.py: one batched matrix product) against
NumPy's float64 einsum, and its gradients by finite differences: batch labels, contracted labels,
free labels in either operand and in any output order (the operands swapped), labels summed away
from one operand, outer products, ellipses."""

import numpy as np
import pytest

from gpunet import backend, gradcheck, ops
from gpunet.ops.contraction import contract

CASES = [
    ("ij,jk->ik", (3, 4), (4, 5)), ("ij,jk->ki", (3, 4), (4, 5)), ("abc,cde->abde", (2, 3, 4), (4, 5, 6)),
    ("abcd,cde->abe", (2, 3, 4, 5), (4, 5, 6)), ("aecd,abcd->acbe", (2, 3, 4, 5), (2, 6, 4, 5)),
    ("acbe,aecd->abcd", (2, 4, 6, 3), (2, 3, 4, 5)), ("ij,kl->ijkl", (2, 3), (4, 5)), ("ij,kl->klij", (2, 3), (4, 5)),
    ("ij,ij->i", (3, 4), (3, 4)), ("ij,ij->", (3, 4), (3, 4)), ("ijk,j->ik", (2, 3, 4), (3,)), ("ij,k->", (2, 3), (4,)),
    ("bi,bj->bij", (2, 3), (2, 4)), ("bij,bjk->bki", (2, 3, 4), (2, 4, 5)), ("...ab,bc->...ac", (2, 3, 4, 5), (5, 6)),
    ("ab...,bc->ac...", (2, 3, 4), (3, 5)), ("ij,jk", (3, 4), (4, 5)),
]


@pytest.mark.parametrize("equation,a_shape,b_shape", CASES, ids=[c[0] for c in CASES])
def test_two_operand_einsum_is_numpys(xp, rng, equation, a_shape, b_shape):
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    np.testing.assert_allclose(backend.to_host(ops.einsum(equation, a, b).data), np.einsum(equation, a, b),
                               rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda x, y: ops.einsum(equation, x, y), [a, b])


def test_contract_broadcasts_labels_neither_operand_has(rng):
    """The gradient of an operand summed over a label the other operand lacks: ``sizes`` gives
    the label's length and the result is broadcast (and writable) along it."""
    g, b = rng.standard_normal((3,)), rng.standard_normal((4,))
    out = contract(np, g, "i", b, "k", "ijk", {"j": 2})
    np.testing.assert_allclose(out, np.broadcast_to(np.einsum("i,k->ik", g, b)[:, None], (3, 2, 4)))
    out[0, 0, 0] = 1.0  # a real array, not a read-only broadcast view


def test_projection_needs_no_copy(rng, monkeypatch):
    """``"abc,cde->abde"`` (multi-head attention's projection) is one 2-D product of views."""
    import gpunet.ops.contraction as module

    seen = []
    original = module.product

    def spy(left, right):
        seen.append((left.shape, right.shape, np.shares_memory(left, x), np.shares_memory(right, kernel)))
        return original(left, right)

    monkeypatch.setattr(module, "product", spy)
    x, kernel = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5, 6))
    contract(np, x, "abc", kernel, "cde", "abde")
    assert seen == [((6, 4), (4, 30), True, True)]
