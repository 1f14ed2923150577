"""``keras.ops.vectorize``: a function of tensors mapped over the leading axis of its arguments."""

from __future__ import annotations

import functools

from .arrays import stack
from .promotion import convert

__all__ = ["vectorize"]


def vectorize(pyfunc, *, excluded=None, signature=None):
    """``pyfunc`` (written for scalars) applied to every element of its tensor arguments, as
    NumPy's ``vectorize`` does; the results are stacked back into a tensor of the inputs' broadcast
    shape (``keras.ops.vectorize``). Arguments named or numbered in ``excluded`` are passed as they
    are. Each call runs ``pyfunc`` once per element, so this is for small tensors; the result is
    differentiable when ``pyfunc`` is made of gpunet ops. ``signature`` (generalized ufuncs) is not
    supported."""
    if signature is not None:
        raise ValueError("vectorize: signature is not supported by gpunet (only elementwise functions)")
    excluded = set(excluded or ())

    @functools.wraps(pyfunc)
    def wrapper(*args, **kwargs):
        import numpy  # noqa: PLC0415

        from .arrays import broadcast_to, get_item, reshape  # noqa: PLC0415

        mapped = [i for i in range(len(args)) if i not in excluded]
        tensors = {i: convert(args[i]) for i in mapped}
        shape = numpy.broadcast_shapes(*(t.shape for t in tensors.values())) if tensors else ()
        flat = {i: reshape(broadcast_to(t, shape), (-1,)) for i, t in tensors.items()}
        count = int(numpy.prod(shape, dtype=numpy.int64))
        results = []
        for k in range(count):
            call = [get_item(flat[i], k) if i in flat else a for i, a in enumerate(args)]
            results.append(convert(pyfunc(*call, **kwargs)))
        if not results:
            return convert(numpy.zeros(shape, "float32"))
        return reshape(stack(results), shape + results[0].shape)

    return wrapper
