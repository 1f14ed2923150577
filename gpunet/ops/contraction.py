"""A two-operand einsum as one matrix product: the fast path of :func:`gpunet.ops.einsum`.

Every two-operand contraction whose labels appear at most once per operand sorts its labels
into four kinds: *batch* (in both operands and the output), *contracted* (in both, not in the
output), *free* in the left operand and *free* in the right one (each in one operand and the
output). Labels in one operand only and not in the output are summed away first. Then

    left  -> (batch, free_left, contracted)      right -> (batch, contracted, free_right)

and one batched product (:func:`gpunet.backend.matmul`, cuBLAS on the GPU, BLAS on the host)
gives ``(batch, free_left, free_right)``, which is reshaped and, only when the output asks for
another order, transposed. A dense projection such as ``"abc,cde->abde"`` (the queries of
multi-head attention) becomes a single ``(B*T, C) @ (C, N*H)`` product with no copy at all;
NumPy's own ``einsum`` would run it without BLAS. The operands are swapped when the output
lists the right operand's free labels first, so that attention's ``"aecd,abcd->acbe"`` needs no
transpose of its result.
"""

from __future__ import annotations

import math

from ..backend import matmul as product

__all__ = ["contract"]


def _drop_lonely(xp, array, labels: str, other: str, output: str):
    """``array`` summed over the labels that neither ``other`` nor ``output`` has."""
    lonely = tuple(i for i, c in enumerate(labels) if c not in other and c not in output)
    if not lonely:
        return array, labels
    return array.sum(axis=lonely), "".join(c for i, c in enumerate(labels) if i not in lonely)


def contract(xp, a, a_labels: str, b, b_labels: str, output: str, sizes=None):
    """``einsum(f"{a_labels},{b_labels}->{output}", a, b)`` through one matrix product.

    Each label appears at most once per operand. ``sizes`` maps the output labels that neither
    operand has to their lengths (the gradient of an operand that was summed over such an axis):
    the result is broadcast along them."""
    a, a_labels = _drop_lonely(xp, a, a_labels, b_labels, output)
    b, b_labels = _drop_lonely(xp, b, b_labels, a_labels, output)
    size = {c: d for c, d in zip(a_labels, a.shape)}
    size.update(zip(b_labels, b.shape))
    batch = [c for c in output if c in a_labels and c in b_labels]
    contracted = [c for c in a_labels if c in b_labels and c not in output]
    free_a = [c for c in output if c in a_labels and c not in b_labels]
    free_b = [c for c in output if c in b_labels and c not in a_labels]
    rest = [c for c in output if c not in batch]
    if free_a and free_b and rest.index(free_b[0]) < rest.index(free_a[0]):  # the output wants b's free labels first
        a, a_labels, b, b_labels, free_a, free_b = b, b_labels, a, a_labels, free_b, free_a
    left = xp.transpose(a, [a_labels.index(c) for c in batch + free_a + contracted])
    right = xp.transpose(b, [b_labels.index(c) for c in batch + contracted + free_b])
    n_batch, n_a, n_b = (math.prod(size[c] for c in group) for group in (batch, free_a, free_b))
    n_contracted = math.prod(size[c] for c in contracted)
    if batch:
        result = product(left.reshape(n_batch, n_a, n_contracted), right.reshape(n_batch, n_contracted, n_b))
    else:
        result = product(left.reshape(n_a, n_contracted), right.reshape(n_contracted, n_b))
    found = batch + free_a + free_b
    result = result.reshape([size[c] for c in found])
    missing = [c for c in output if c not in found]
    if missing:
        result = result.reshape(result.shape + (1,) * len(missing))
        found = found + missing
    order = [found.index(c) for c in output]
    if order != list(range(len(order))):
        result = xp.transpose(result, order)
    if missing:
        shape = tuple(sizes[c] if c in missing else result.shape[i] for i, c in enumerate(output))
        result = xp.ascontiguousarray(xp.broadcast_to(result, shape))
    return result
