"""Convolution, zero padding and pooling over channels_last arrays with 1 or 2 spatial dims.

Every op takes ``x`` of shape ``(N, *spatial, C)``. A convolution is a matrix product in
disguise: :class:`ConvProduct` gathers each output position's receptive field into one row of a
``(N * positions, prod(kernel_size) * C_in)`` matrix (one strided view of the padded input,
copied once) and multiplies it by the Keras kernel ``(*kernel_size, C_in, C_out)`` seen as a
``(prod(kernel_size) * C_in, C_out)`` matrix; :func:`~gpunet.ops.math.bias_activation` then adds
the bias and applies the activation in place, as ``Dense`` does. Backward takes the transposed
products and adds the rows back onto the input (col2im), one slice per kernel position.
A grouped (or depthwise) convolution takes one product per group; a transposed convolution is
that col2im taken as the forward op, its backward the gather and product.

Pooling reads the input through one strided slice per pool position (views, no gather), so no
Python loop ever runs over pixels: max pooling keeps a running maximum and the index of the
first maximum in window order, average pooling a running sum.

Padding follows Keras/TensorFlow: ``"valid"`` none; ``"same"`` gives ``ceil(n / s)`` outputs
with ``max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)`` padded entries in all, the smaller
half before; ``"causal"`` (1D convolutions only) ``(k - 1) * d`` zeros before.
"""

from __future__ import annotations

import builtins
import itertools
import numbers
from math import prod
from typing import NamedTuple

from ..autograd import Function, Tensor
from .shaping import autocast, reshape
from ..backend import batch_chunks, blas_chunks, get_array_module, host_threads, matmul, parallel
from .math import FUSABLE_ACTIVATIONS, _normalize_axis, bias_activation

__all__ = ["conv", "depthwise_conv", "conv_transpose", "conv_transpose_output_shape", "conv_max_pool",
           "conv_output_shape", "pad_spatial", "max_pool", "avg_pool", "pool_output_shape", "max", "conv_workspace",
           "pool_workspace", "pad_workspace"]


# ----------------------------------------------------------------------------------------------
# window geometry
# ----------------------------------------------------------------------------------------------
def _as_tuple(value, rank: int, name: str) -> tuple:
    """An int or a sequence of ``rank`` ints, each positive, as a tuple of ints."""
    values = (value,) * rank if isinstance(value, numbers.Integral) else value
    if (
        not isinstance(values, (tuple, list))
        or len(values) != rank
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values)
    ):
        raise ValueError(f"{name} must be an int or a tuple of {rank} ints, got {value!r}")
    if not all(v >= 1 for v in values):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return tuple(int(v) for v in values)


class _Window(NamedTuple):
    """A sliding window: size, strides, dilation (tuples, one entry per spatial dim) and padding.

    ``name`` ("kernel_size" or "pool_size") is the argument an error speaks of."""

    size: tuple
    strides: tuple
    dilation: tuple
    padding: str
    name: str

    @classmethod
    def make(cls, rank, size, strides, dilation, padding, name, paddings=("valid", "same", "causal")):
        if rank not in (1, 2):
            raise ValueError(f"inputs must have 1 or 2 spatial dims, shape (N, *spatial, C); got {rank}")
        size = _as_tuple(size, rank, name)
        strides = _as_tuple(size if strides is None else strides, rank, "strides")
        dilation = _as_tuple(dilation, rank, "dilation")
        mode = padding.lower() if isinstance(padding, str) else padding
        if mode not in paddings:
            raise ValueError(f"padding must be one of {list(paddings)}, got {padding!r}")
        if mode == "causal" and rank != 1:
            raise ValueError(f"padding 'causal' is only for 1D convolutions, got {rank} spatial dims")
        return cls(size, strides, dilation, mode, name)

    def _dim(self, n, k, s, d) -> tuple:
        """``(outputs, padded before, padded after)`` along one spatial dim of size ``n``."""
        span = (k - 1) * d + 1
        if self.padding == "valid":
            before = after = 0
        elif self.padding == "same":
            total = (-(-n // s) - 1) * s + span - n
            before = total // 2 if total > 0 else 0
            after = total - before if total > 0 else 0
        else:  # causal
            before, after = span - 1, 0
        return (n + before + after - span) // s + 1, before, after

    def layout(self, spatial) -> list:
        """Per spatial dim ``(outputs, padded before, padded after)`` (None for an unknown size);
        a ValueError when a dim has no output."""
        dims = [
            None if n is None else self._dim(n, k, s, d)
            for n, k, s, d in zip(spatial, self.size, self.strides, self.dilation)
        ]
        if any(dim is not None and dim[0] < 1 for dim in dims):
            if self.name == "pool_size":
                raise ValueError(
                    f"pool_size {self.size} leaves no output for input {tuple(spatial)} (padding {self.padding!r})"
                )
            padded = tuple(None if dim is None else n + dim[1] + dim[2] for n, dim in zip(spatial, dims))
            spans = tuple((k - 1) * d + 1 for k, d in zip(self.size, self.dilation))
            raise ValueError(
                f"kernel_size {self.size} (spanning {spans} with dilation {self.dilation}) is larger than "
                f"the padded input {padded} (padding {self.padding!r})"
            )
        return dims

    def output_shape(self, spatial) -> tuple:
        """Output sizes for input sizes ``spatial`` (None where a size is unknown)."""
        return tuple(None if dim is None else dim[0] for dim in self.layout(spatial))

    def offsets(self):
        """Every position inside the window, in window (row-major) order."""
        return itertools.product(*(range(k) for k in self.size))

    def tiles(self, spatial, layout) -> bool:
        """Whether the windows cover the padded input of sizes ``spatial`` exactly, each entry once."""
        return all(
            s == k and d == 1 and out * k == n + before + after
            for n, (out, before, after), k, s, d in zip(spatial, layout, self.size, self.strides, self.dilation)
        )

    def overlaps(self) -> bool:
        """Whether two output positions can read the same input entry."""
        return any(s < (k - 1) * d + 1 for k, s, d in zip(self.size, self.strides, self.dilation))


def _pool_window(rank, pool_size, strides, padding) -> _Window:
    return _Window.make(rank, pool_size, strides, 1, padding, "pool_size", paddings=("valid", "same"))


def _read_index(offset, layout, window) -> tuple:
    """Index of the padded input's entries that window position ``offset`` reads, for all output
    positions at once: one strided slice per spatial dim (a view)."""
    return (slice(None),) + tuple(
        slice(o * d, o * d + (out - 1) * s + 1, s)
        for o, (out, _, _), s, d in zip(offset, layout, window.strides, window.dilation)
    )


def _interior(layout, spatial) -> tuple:
    """Index of the unpadded entries inside a padded array."""
    return (slice(None),) + tuple(slice(b, b + n) for (_, b, _), n in zip(layout, spatial))


def _padded_shape(shape, layout) -> tuple:
    return (shape[0], *(n + b + a for n, (_, b, a) in zip(shape[1:-1], layout)), shape[-1])


def _pad_array(x, layout, value=0):
    """``x`` inside a new array padded as ``layout`` says (``x`` itself when nothing is padded)."""
    if not any(b or a for _, b, a in layout):
        return x
    xp = get_array_module(x)
    shape = _padded_shape(x.shape, layout)
    out = xp.zeros(shape, x.dtype) if value == 0 else xp.full(shape, value, x.dtype)
    out[_interior(layout, x.shape[1:-1])] = x
    return out


def _windows(window, layout, padded) -> list:
    """What each window position reads from ``padded``, in window order (views)."""
    return [padded[_read_index(offset, layout, window)] for offset in window.offsets()]


def _gradient_of(window, layout, shape, like, written=False):
    """A zero gradient for an input of ``shape`` read through ``window`` as ``layout`` says, and
    per window position (in window order) the view of it (padded) where that position's reads
    land: adding each read's gradient there is col2im. ``written=True``: the caller writes every
    entry through the views (windows that tile the input exactly), so it is not zeroed first."""
    xp = get_array_module(like)
    padded = _padded_shape(shape, layout)
    tiled = written and window.tiles(shape[1:-1], layout)
    gx = xp.empty(padded, like.dtype) if tiled else xp.zeros(padded, like.dtype)
    return gx[_interior(layout, shape[1:-1])], _windows(window, layout, gx)


_BLOCK_BYTES = 16 << 20  # bound on a fused op's temporaries per block of images


def _blocks(chunk, per_image, like) -> list:
    """``chunk`` (a slice of the batch) in blocks of images whose temporaries, ``per_image``
    bytes an image, stay under ``_BLOCK_BYTES``, on the host; on a GPU the chunk itself. (Blocks
    small enough for a core's cache were measured slower: per-call costs outweigh the reuse.)"""
    if get_array_module(like).__name__ != "numpy":
        return [chunk]
    size = _BLOCK_BYTES // per_image or 1  # (this module's max is the op)
    return [slice(a, min(a + size, chunk.stop)) for a in range(chunk.start, chunk.stop, size)]


class _Windowed(Function):
    """A Function configured by a sliding window, through which it reads ``x`` (N, *spatial, C)."""

    def __init__(self, window: _Window):
        self.window = window

    def _pad(self, x, value=0, layout=None):
        """The layout for ``x``'s spatial shape (``layout`` when given) and ``x`` padded with
        ``value``; kept for backward."""
        layout = self.window.layout(x.shape[1:-1]) if layout is None else layout
        self.x_shape, self.layout = x.shape, layout
        return layout, _pad_array(x, layout, value)

    def _windows(self, layout, padded):
        return _windows(self.window, layout, padded)

    def _gradient(self, like, written=False):
        """The gradient for ``x`` and the views where each window position's reads land (see
        :func:`_gradient_of`)."""
        return _gradient_of(self.window, self.layout, self.x_shape, like, written)


# ----------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------
def _group_products(a, b, out=None, transpose_a=False):
    """One matrix product per group g: ``a[:, g] @ b[g]`` for ``a`` (rows, G, inner) and ``b``
    (G, inner, width), as (rows, G, width) (into ``out`` when given); with ``transpose_a``,
    ``a[:, g].T @ b[:, g]`` for ``b`` (rows, G, width), as (G, inner, width) (a kernel's gradient).
    One batched product over strided views of the groups."""
    if transpose_a:
        return matmul(a.transpose(1, 2, 0), b.transpose(1, 0, 2))
    return matmul(a.transpose(1, 0, 2), b, out=None if out is None else out.transpose(1, 0, 2)).transpose(1, 0, 2)


def _positions(source, size):
    """What each window position reads from ``source`` (images, *outs, G, *size, 1), a
    depthwise convolution's strided windows: per position (in window order) the (images, *outs,
    G) view."""
    return [source[(Ellipsis, slice(None), *offset, 0)] for offset in itertools.product(*(range(k) for k in size))]


class ConvProduct(_Windowed):
    """``x`` (N, *spatial, C_in) convolved with a Keras kernel (*size, C_in / groups, C_out): the
    product alone (bias and activation come after, see :func:`conv`), as (N, *out_spatial, C_out).

    Forward gathers the windows of the padded input into the rows of one
    (N * positions, prod(size) * C_in) matrix (im2col: one strided view, copied once; with one
    input channel into its transpose, whose rows are long runs of the image's rows) and takes one
    matrix product with the kernel seen as (prod(size) * C_in, C_out). Backward takes the
    transposed products: the kernel's gradient ``windows.T @ g``; the input's, for each window
    position q, ``g @ kernel[q].T`` added onto the slice of the input that q read (col2im without
    materialising the windows' gradient). On the host the batch is split over the cores, each
    taking its images through gather, product (and pooling, :class:`ConvMaxPool`) in one go.

    With ``groups`` G > 1 the input channels and the filters split into G groups, group g's
    filters reading only group g's channels (a depthwise convolution is G = C_in). The windows'
    matrix is gathered group-major within each row, so each group's columns are one strided
    (N * positions, prod(size) * C_in / G) matrix, and every product above becomes one product
    per group (:func:`_group_products`): G times less work than one product with a
    block-diagonal kernel. A depthwise convolution (one channel per group, ``M`` filters each)
    gathers nothing: as pooling does, it runs over the window positions, each a strided view
    of the input, with broadcast products (``y += read_q * kernel[q]``), and backward reads the
    same views (kept instead of a gathered copy) for the kernel's gradient.
    """

    def __init__(self, window: _Window, groups: int = 1):
        super().__init__(window)
        self.groups = groups

    def _prepare(self, x, kernel, layout=None):
        """Pads ``x`` (as ``layout`` says, else as the window's padding does), and sets up the
        strided view of its windows and (when the kernel's gradient is wanted) the windows'
        matrix that the blocks fill."""
        window = self.window
        layout, padded = self._pad(x, layout=layout)
        n, channels = x.shape[0], x.shape[-1]
        self.outs = tuple(out for out, _, _ in layout)
        step_n, *steps, step_c = padded.strides
        moves = tuple(t * s for t, s in zip(steps, window.strides))
        reads = tuple(t * d for t, d in zip(steps, window.dilation))
        xp = get_array_module(x)
        self.columns = prod(window.size) * channels
        if channels == 1:  # the batch axis comes after the window's
            view = xp.lib.stride_tricks.as_strided(padded, (*window.size, n, *self.outs), (*reads, step_n, *moves))
        else:  # each row: its groups one after the other, each the window's positions, each its channels
            per_group = channels // self.groups
            view = xp.lib.stride_tricks.as_strided(
                padded, (n, *self.outs, self.groups, *window.size, per_group),
                (step_n, *moves, per_group * step_c, *reads, step_c))
        self.view = view
        self.chunks = blas_chunks(n, view)  # the same split forward and backward
        self.direct = self.groups > 1 and channels == self.groups  # depthwise: position by position
        self.wants_kernel = self.needs_input_grad[1]
        self.cols = xp.empty(view.shape, x.dtype) if self.wants_kernel and not self.direct else None
        self.kernel = kernel if self.needs_input_grad[0] else None
        self.kernel_shape = kernel.shape
        self.image_bytes = prod(self.outs) * (self.columns + kernel.shape[-1]) * x.itemsize
        if self.groups == 1:
            return kernel.reshape(self.columns, -1)
        return kernel.reshape(self.columns // self.groups, self.groups, -1).transpose(1, 0, 2)

    def _index(self, block) -> tuple:
        """The index of ``block``'s images in the view and the windows' array."""
        return ((slice(None),) * len(self.window.size) if self.x_shape[-1] == 1 else ()) + (block,)

    def _rows(self, cols):
        """A block's windows array as its (images * positions, columns) matrix (a view)."""
        return cols.reshape(self.columns, -1).T if self.x_shape[-1] == 1 else cols.reshape(-1, self.columns)

    def _grouped(self, matrix):
        """A (rows, G * width) matrix as the (rows, G, width) stack of its groups (a view)."""
        return matrix.reshape(matrix.shape[0], self.groups, -1)

    def _product(self, a, b, out=None):
        """``a @ b`` for (rows, G * inner) ``a`` and the kernel matrix ``b`` (see :meth:`_prepare`),
        group by group: (rows, G * width)."""
        if self.groups == 1:
            return matmul(a, b, out=out)
        xp = get_array_module(a)
        if out is None:
            out = xp.empty((a.shape[0], self.groups * b.shape[-1]), a.dtype)
        _group_products(self._grouped(a), b, self._grouped(out))
        return out

    def _block_product(self, block, kernel_matrix, out=None):
        """The gather (the one copy) and the product for ``block``'s images: (images, *outs,
        C_out), into ``out`` when given."""
        index = self._index(block)
        source = self.view[index]
        filters = self.kernel_shape[-1]
        if self.direct:  # y[..., c, m] = sum over q of read_q[..., c] * kernel[q, c, m]
            xp = get_array_module(source)
            if out is None:
                out = xp.empty((source.shape[0], *self.outs, filters), source.dtype)
            y = out.reshape(*out.shape[:-1], self.groups, -1)
            weights = kernel_matrix.reshape(self.groups, -1, y.shape[-1]).transpose(1, 0, 2)  # (positions, C, M)
            term = None
            for q, read in enumerate(_positions(source, self.window.size)):
                if q == 0:
                    xp.multiply(read[..., None], weights[q], out=y)
                else:
                    term = xp.multiply(read[..., None], weights[q], out=term)
                    y += term
            return out
        if self.cols is None:
            cols = source.copy()
        else:
            cols = self.cols[index]
            cols[...] = source
        xp = get_array_module(cols)
        rows = self._rows(cols)
        if out is None:
            out = xp.empty((rows.shape[0], filters), rows.dtype)
        self._product(rows, kernel_matrix, out=out.reshape(rows.shape[0], -1))
        return out.reshape(-1, *self.outs, filters)

    def _convolve(self, x, kernel, layout=None):
        """The product over the whole batch (see :meth:`_prepare` for ``layout``)."""
        kernel_matrix = self._prepare(x, kernel, layout)
        xp = get_array_module(x)
        y = xp.empty((x.shape[0], *self.outs, kernel.shape[-1]), x.dtype)

        def work(chunk):
            for block in _blocks(chunk, self.image_bytes, x):
                self._block_product(block, kernel_matrix, out=y[block])

        parallel(work, self.chunks)
        self._release_view()
        return y

    def _release_view(self) -> None:
        """Drops the windows' view after forward, unless backward reads the kernel's gradient
        from it (narrow groups keep no gathered copy)."""
        if not (self.direct and self.wants_kernel):
            self.view = None

    def forward(self, x, kernel):
        return self._convolve(x, kernel)

    def _backward_setup(self, gy):
        """The batch's chunks, a slot per chunk for its part of the kernel's gradient, and the
        input's gradient with its views per window position (None when not wanted)."""
        chunks = self.chunks
        gx, views = self._gradient(gy) if self.needs_input_grad[0] else (None, None)
        return chunks, [None] * len(chunks), gx, views

    def _block_gradients(self, block, g, parts, i, views):
        """For ``block``'s images and their output gradient ``g`` (images, *outs, C_out): adds
        their part of the kernel's gradient to ``parts[i]`` and their input gradient through ``views``."""
        rows = g.reshape(-1, g.shape[-1])
        if self.direct:
            self._depthwise_gradients(block, g, parts, i, views)
            return
        if self.wants_kernel:
            windows = self._rows(self.cols[self._index(block)])
            if self.groups == 1:
                part = matmul(windows.T, rows)
            else:  # (G, columns / G, C_out / G)
                part = _group_products(self._grouped(windows), self._grouped(rows), transpose_a=True)
            parts[i] = part if parts[i] is None else parts[i].__iadd__(part)
        if views is not None and self.groups == 1:
            c_in = self.x_shape[-1]
            per_position = self.kernel.reshape(-1, c_in, g.shape[-1])  # (positions, C_in, C_out)
            for q, view in enumerate(views):
                view[block] += matmul(rows, per_position[q].T).reshape(-1, *self.outs, c_in)
        elif views is not None:  # every position's reads in one product per group, then added slice by slice
            positions, per_group = len(views), self.kernel_shape[-2]
            weights = self.kernel.reshape(positions, per_group, self.groups, -1).transpose(2, 3, 0, 1)
            xp = get_array_module(g)
            reads = xp.empty((rows.shape[0], self.groups, positions * per_group), g.dtype)
            _group_products(self._grouped(rows), weights.reshape(self.groups, -1, positions * per_group), out=reads)
            reads = reads.reshape(-1, self.groups, positions, per_group).transpose(0, 2, 1, 3)  # position-major
            reads = xp.ascontiguousarray(reads).reshape(*g.shape[:-1], positions, -1)
            for q, view in enumerate(views):
                view[block] += reads[..., q, :]

    def _depthwise_gradients(self, block, g, parts, i, views):
        """:meth:`_block_gradients` of a depthwise convolution, window position by position: the
        kernel's gradient ``sum of read_q[..., c] * g[..., c, m]`` over images and positions, and
        the input's ``sum over m of g[..., c, m] * kernel[q, c, m]`` added onto the slice q read."""
        xp = get_array_module(g)
        g = g.reshape(*g.shape[:-1], self.groups, -1)  # (images, *outs, C, M)
        multiplier = g.shape[-1]
        if self.wants_kernel:
            reads = _positions(self.view[self._index(block)], self.window.size)
            part = xp.empty((len(reads), self.groups, multiplier), g.dtype)
            term = None
            for q, read in enumerate(reads):
                term = xp.multiply(read[..., None], g, out=term)
                part[q] = term.reshape(-1, self.groups, multiplier).sum(axis=0)
            parts[i] = part if parts[i] is None else parts[i].__iadd__(part)
        if views is not None:
            weights = self.kernel.reshape(-1, self.groups, multiplier)  # (positions, C, M)
            for q, view in enumerate(views):
                if multiplier == 1:
                    view[block] += g[..., 0] * weights[q, :, 0]
                else:
                    view[block] += (g * weights[q]).sum(axis=-1)

    def _kernel_gradient(self, parts):
        if not self.wants_kernel:
            return None
        total = parts[0]
        for part in parts[1:]:
            total += part
        if self.groups > 1 and not self.direct:  # (G, columns / G, C_out / G) -> (columns / G, G, C_out / G)
            total = total.transpose(1, 0, 2)
        return total.reshape(self.kernel_shape)

    def backward(self, gy):
        chunks, parts, gx, views = self._backward_setup(gy)

        def work(i):
            for block in _blocks(chunks[i], self.image_bytes, gy):
                self._block_gradients(block, gy[block], parts, i, views)

        parallel(work, list(range(len(chunks))))
        return gx, self._kernel_gradient(parts)


class ConvMaxPool(ConvProduct):
    """``max_pool(ConvProduct(x, kernel))`` a block of images at a time, each core its own: a
    block's product is pooled as soon as it is computed and only the pooled values are kept;
    backward routes the pooled gradient back onto the block's product positions and takes the
    block's transposed products from there. The same numbers as the two ops one after the other,
    with one pass over the batch each way instead of two."""

    def __init__(self, window: _Window, pool_window: _Window, groups: int = 1):
        super().__init__(window, groups)
        self.pool_window = pool_window

    def forward(self, x, kernel):
        kernel_matrix = self._prepare(x, kernel)
        xp = get_array_module(x)
        self.pool_layout = self.pool_window.layout(self.outs)
        pooled = (x.shape[0], *(out for out, _, _ in self.pool_layout), kernel.shape[-1])
        y = xp.empty(pooled, x.dtype)
        index = _max_index(xp, pooled, prod(self.pool_window.size)) if any(self.needs_input_grad) else None

        def work(chunk):
            for block in _blocks(chunk, self.image_bytes, x):
                product = _pad_array(self._block_product(block, kernel_matrix), self.pool_layout, -xp.inf)
                _max_into(_windows(self.pool_window, self.pool_layout, product), y[block],
                          None if index is None else index[block])

        parallel(work, self.chunks)
        self.index = index
        self._release_view()
        return y

    def backward(self, gy):
        chunks, parts, gx, views = self._backward_setup(gy)
        overlapping = self.pool_window.overlaps()

        def work(i):
            for block in _blocks(chunks[i], self.image_bytes, gy):
                g_block = gy[block]
                shape = (g_block.shape[0], *self.outs, g_block.shape[-1])
                g, reads = _gradient_of(self.pool_window, self.pool_layout, shape, gy, written=not overlapping)
                _route_into(g_block, self.index[block], reads, overlapping)
                self._block_gradients(block, g, parts, i, views)

        parallel(work, list(range(len(chunks))))
        return gx, self._kernel_gradient(parts)


class ConvTransposeProduct(ConvProduct):
    """The transposed convolution of ``x`` (N, *spatial, C_in) by a Keras kernel (*size, filters,
    C_in): the gradient of :class:`ConvProduct` with respect to its input, taken as a forward op.

    The kernel is read as the kernel of a convolution from ``filters`` channels to C_in whose
    output has ``x``'s spatial shape; its input (padded as ``layout`` says) is this op's output,
    of spatial shape ``spatial``. So forward is that convolution's col2im (each window position
    q adds ``x @ kernel[q].T`` onto the slice it reads, no zero-dilated input), and backward is
    its forward: one gather of the output gradient's windows and one product give the input's
    gradient, and the same windows against ``x`` give the kernel's."""

    def __init__(self, window: _Window, layout, spatial):
        super().__init__(window)
        self.fixed_layout, self.spatial = layout, tuple(spatial)

    def forward(self, x, kernel):
        n, filters = x.shape[0], kernel.shape[-2]
        self.x_shape, self.layout = (n, *self.spatial, filters), self.fixed_layout
        self.outs = tuple(x.shape[1:-1])
        self.kernel, self.kernel_shape, self.cols = kernel, kernel.shape, None
        self.direct = self.wants_kernel = False
        self.columns = prod(self.window.size) * filters
        self.image_bytes = prod(self.outs) * (self.columns + kernel.shape[-1]) * x.itemsize
        chunks = blas_chunks(n, x)
        y, views = self._gradient(x)

        def work(chunk):
            for block in _blocks(chunk, self.image_bytes, x):
                self._block_gradients(block, x[block], None, 0, views)

        parallel(work, chunks)
        self.x = x if self.needs_input_grad[1] else None
        return y

    def backward(self, gy):
        x, kernel = self.x, self.kernel
        gx = self._convolve(gy, kernel, self.fixed_layout)
        if x is None:
            return gx, None
        parts = [None] * len(self.chunks)

        def work(i):
            for block in _blocks(self.chunks[i], self.image_bytes, gy):
                self._block_gradients(block, x[block], parts, i, None)

        parallel(work, list(range(len(self.chunks))))
        return gx, self._kernel_gradient(parts)


def _transpose_dim(n, k, s, d, padding, output_padding) -> tuple:
    """``(output size, padded before, padded after)`` of a transposed convolution along one dim
    of ``n`` inputs, Keras's sizes: ``(n - 1) s + max(span, s)`` ('valid') or ``n s`` ('same'),
    ``span = (k - 1) d + 1``; with an ``output_padding`` p, ``(n - 1) s + span + p`` ('valid') or
    ``(n - 1) s + span % 2 + p`` ('same'). ``before``: the zeros before the output in the padded
    input of the convolution whose input gradient this is, TensorFlow's split of the ``total``
    zeros around the zero-dilated input in the equivalent flipped-kernel convolution; its windows
    reach ``(n - 1) s + span`` entries, and an output longer than that holds only the bias past them."""
    span = (k - 1) * d + 1
    if padding == "valid":
        size = (n - 1) * s + (builtins.max(span, s) if output_padding is None else span + output_padding)
        before = 0
    else:
        size = n * s if output_padding is None else (n - 1) * s + span % 2 + output_padding
        total = s + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
        before = span - 1 - min(total - total // 2, span - 1)
    if size < 1:
        raise ValueError(f"conv_transpose: kernel span {span}, stride {s}, padding {padding!r} and output_padding "
                         f"{output_padding} leave no output for an input of size {n}")
    return size, before, builtins.max((n - 1) * s + span - before - size, 0)


def conv_output_shape(spatial, kernel_size, strides=1, padding="valid", dilation=1) -> tuple:
    """The spatial output shape of :func:`conv` for input sizes ``spatial`` (None: unknown).

    >>> conv_output_shape((28, 28), 3)
    (26, 26)
    >>> conv_output_shape((7, None), (3, 2), strides=2, padding="same")
    (4, None)
    """
    return _Window.make(len(spatial), kernel_size, strides, dilation, padding, "kernel_size").output_shape(spatial)


def conv(x, kernel, bias=None, strides=1, padding="valid", dilation=1, activation=None, groups=1) -> Tensor:
    """``activation(conv(x, kernel) + bias)``, Keras's Conv1D/Conv2D in channels_last.

    ``x`` (N, *spatial, C_in) with 1 or 2 spatial dims; ``kernel`` (*kernel_size, C_in / groups,
    C_out), Keras's layout; ``bias`` (C_out,) or None; ``strides``, ``dilation`` an int or one per
    spatial dim; ``padding`` "valid", "same" or "causal" (1D); ``activation`` None, "relu",
    "sigmoid" or "tanh", fused; ``groups`` divides C_in and C_out. Returns
    (N, *conv_output_shape(spatial, ...), C_out), where, with ``g = o // (C_out / groups)`` the
    group of output channel ``o``,

        y[n, p, o] = sum over window positions q and the group's channels c of
                     padded_x[n, p * strides + q * dilation, g * C_in / groups + c] * kernel[q, c, o]
                     (+ bias[o])
    """
    kernel, bias = autocast(x, kernel, bias)
    window = _conv_window(x, kernel, bias, activation, strides, padding, dilation, groups)
    product = ConvProduct(window, groups)(x, kernel)
    return _finish(product, bias, activation)


def _finish(product, bias, activation) -> Tensor:
    if bias is None and activation is None:
        return product
    return bias_activation(product, bias, activation)


def depthwise_conv(x, kernel, bias=None, strides=1, padding="valid", dilation=1, activation=None) -> Tensor:
    """Keras's DepthwiseConv1D/2D in channels_last: each input channel c convolved with its own
    ``M`` filters ``kernel[..., c, :]`` (``kernel`` (*kernel_size, C_in, M)), output channel
    ``c * M + m``; ``bias`` (C_in * M,). A grouped :func:`conv` with one group per channel (the
    kernel reshaped to (*kernel_size, 1, C_in * M), no copy)."""
    (kernel,) = autocast(x, kernel)
    shape = tuple(kernel.shape)
    if len(shape) < 3:
        raise ValueError(f"depthwise_conv: kernel must have shape (*kernel_size, C_in, M), got {shape}")
    if tuple(x.shape)[-1:] != shape[-2:-1]:
        raise ValueError(f"depthwise_conv: x has {tuple(x.shape)[-1]} channels but the kernel of shape {shape} "
                         f"expects {shape[-2]}")
    return conv(x, reshape(kernel, (*shape[:-2], 1, shape[-2] * shape[-1])), bias, strides, padding, dilation,
                activation, groups=shape[-2])


def _transpose_window(rank, kernel_shape, strides, padding, output_padding, dilation):
    """The window and the padded output's per-dim ``(size, before, after)`` maker of a transposed
    convolution, once the arguments are checked."""
    window = _Window.make(rank, kernel_shape, strides, dilation, padding, "kernel_size", paddings=("valid", "same"))
    if output_padding is not None:
        values = (output_padding,) * rank if isinstance(output_padding, numbers.Integral) else output_padding
        if not isinstance(values, (tuple, list)) or len(values) != rank or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0 for v in values):
            raise ValueError(f"output_padding must be None, a non-negative int or a tuple of {rank} of them, "
                             f"got {output_padding!r}")
        output_padding = tuple(int(v) for v in values)
        if any(p >= s for p, s in zip(output_padding, window.strides)):
            raise ValueError(f"output_padding must be smaller than strides {window.strides}, got {output_padding}")
    pads = (None,) * rank if output_padding is None else output_padding
    return window, pads


def conv_transpose_output_shape(spatial, kernel_size, strides=1, padding="valid", output_padding=None,
                                dilation=1) -> tuple:
    """The spatial output shape of :func:`conv_transpose` for input sizes ``spatial`` (None: unknown).

    >>> conv_transpose_output_shape((7, 7), 3, strides=2, padding="same")
    (14, 14)
    """
    window, pads = _transpose_window(len(spatial), kernel_size, strides, padding, output_padding, dilation)
    return tuple(None if n is None else _transpose_dim(n, k, s, d, window.padding, p)[0]
                 for n, k, s, d, p in zip(spatial, window.size, window.strides, window.dilation, pads))


def conv_transpose(x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation=1,
                   activation=None) -> Tensor:
    """``activation(conv_transpose(x, kernel) + bias)``, Keras's Conv1DTranspose/Conv2DTranspose
    in channels_last: the gradient of :func:`conv` with respect to its input, as an op.

    ``x`` (N, *spatial, C_in); ``kernel`` (*kernel_size, filters, C_in), Keras's layout; ``bias``
    (filters,) or None; ``padding`` "valid" or "same"; ``output_padding`` None or an int (one per
    spatial dim) below the strides; sizes as :func:`conv_transpose_output_shape`. Every input
    entry spreads over the window: ``y[n, p * strides + q * dilation - before, f] +=
    x[n, p, c] * kernel[q, f, c]``.
    """
    kernel, bias = autocast(x, kernel, bias)
    k_shape = tuple(kernel.shape)
    rank = len(k_shape) - 2
    if rank not in (1, 2) or len(x.shape) != rank + 2:
        raise ValueError(f"conv_transpose: x (N, *spatial, C_in) and kernel (*kernel_size, filters, C_in) need 1 or 2 "
                         f"spatial dims, got shapes {tuple(x.shape)} and {k_shape}")
    if x.shape[-1] != k_shape[-1]:
        raise ValueError(f"conv_transpose: x has {x.shape[-1]} channels but the kernel of shape {k_shape} expects "
                         f"{k_shape[-1]}")
    if bias is not None and tuple(bias.shape) != k_shape[-2:-1]:
        raise ValueError(f"conv_transpose: bias must have shape {k_shape[-2:-1]}, got {tuple(bias.shape)}")
    if activation is not None and activation not in FUSABLE_ACTIVATIONS:
        raise ValueError(f"conv_transpose: activation must be None or one of {list(FUSABLE_ACTIVATIONS)}, "
                         f"got {activation!r}")
    window, pads = _transpose_window(rank, k_shape[:-2], strides, padding, output_padding, dilation)
    dims = [_transpose_dim(n, k, s, d, window.padding, p)
            for n, k, s, d, p in zip(x.shape[1:-1], window.size, window.strides, window.dilation, pads)]
    layout = [(n, before, after) for n, (_, before, after) in zip(x.shape[1:-1], dims)]
    product = ConvTransposeProduct(window, layout, [size for size, _, _ in dims])(x, kernel)
    return _finish(product, bias, activation)


def conv_max_pool(x, kernel, strides=1, padding="valid", dilation=1, pool_size=2, pool_strides=None,
                  pool_padding="valid", groups=1) -> Tensor:
    """``max_pool(conv(x, kernel, ...), pool_size, pool_strides, pool_padding)`` in one op, a
    block of images at a time (no bias or activation: those commute with the maximum when they
    are non-decreasing, and come after, on the pooled values). The same numbers as the two ops."""
    (kernel,) = autocast(x, kernel)
    window = _conv_window(x, kernel, None, None, strides, padding, dilation, groups)
    pool_window = _pool_window(len(window.size), pool_size, pool_strides, pool_padding)
    pool_window.layout(window.output_shape(tuple(x.shape[1:-1])))  # a pool that leaves no output: refused
    return ConvMaxPool(window, pool_window, groups)(x, kernel)


def _conv_window(x, kernel, bias, activation, strides, padding, dilation, groups=1) -> _Window:
    """The convolution's window, once ``x``, ``kernel``, ``bias`` and ``activation`` are checked."""
    x_shape, k_shape = tuple(x.shape), tuple(kernel.shape)
    rank = len(k_shape) - 2
    if rank not in (1, 2):
        raise ValueError(f"conv: kernel must have shape (k, C_in, C_out) or (kh, kw, C_in, C_out), got {k_shape}")
    if len(x_shape) != rank + 2:
        raise ValueError(
            f"conv: x of shape {x_shape} must have {rank + 2} dims (N, *spatial, C_in) for a kernel of shape {k_shape}"
        )
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"conv: groups must be a positive int, got {groups!r}")
    if x_shape[-1] != k_shape[-2] * groups:
        raise ValueError(f"conv: x has {x_shape[-1]} channels but the kernel of shape {k_shape} with groups={groups} "
                         f"expects {k_shape[-2] * groups}")
    if k_shape[-1] % groups:
        raise ValueError(f"conv: the kernel's {k_shape[-1]} filters do not split into groups={groups}")
    if bias is not None and tuple(bias.shape) != k_shape[-1:]:
        raise ValueError(f"conv: bias must have shape {k_shape[-1:]}, got {tuple(bias.shape)}")
    if activation is not None and activation not in FUSABLE_ACTIVATIONS:
        raise ValueError(f"conv: activation must be None or one of {list(FUSABLE_ACTIVATIONS)}, got {activation!r}")
    return _Window.make(rank, k_shape[:-2], strides, dilation, padding, "kernel_size")


# ----------------------------------------------------------------------------------------------
# zero padding
# ----------------------------------------------------------------------------------------------
class Pad(Function):
    """Zeros around the spatial dims; backward crops the gradient back."""

    def __init__(self, pads):
        self.layout = [(None, b, a) for b, a in pads]

    def forward(self, x):
        self.x_shape = x.shape
        return _pad_array(x, self.layout)

    def backward(self, gy):
        return (gy[_interior(self.layout, self.x_shape[1:-1])],)


def pad_spatial(x, pads) -> Tensor:
    """Zero padding of the spatial dims of ``x`` (N, *spatial, C): ``pads`` is one
    ``(before, after)`` pair of non-negative ints per spatial dim (ZeroPadding1D/2D)."""

    def is_pair(p):
        return (
            isinstance(p, (tuple, list))
            and len(p) == 2
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0 for v in p)
        )

    if not isinstance(pads, (tuple, list)) or len(pads) != len(x.shape) - 2 or not all(map(is_pair, pads)):
        raise ValueError(
            f"pad_spatial: pads must be one (before, after) pair of non-negative ints per spatial dim of x of "
            f"shape {tuple(x.shape)}, got {pads!r}"
        )
    return Pad(tuple((int(b), int(a)) for b, a in pads))(x)


# ----------------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------------
def _max_index(xp, shape, positions):
    """The array of first-maximum positions for pooled outputs of ``shape`` (zeros)."""
    return xp.zeros(shape, xp.int8 if positions < 128 else xp.int32)


def _index_itemsize(positions: int) -> int:
    """The bytes of one entry of :func:`_max_index`'s array."""
    return 1 if positions < 128 else 4


def _max_into(reads, y, index=None) -> None:
    """``y`` = the maximum of the window positions' ``reads``, a running maximum; ``index`` (when
    given, zeros) = the position of the first maximum in window order."""
    xp = get_array_module(y)
    y[...] = reads[0]
    for p, v in enumerate(reads[1:], 1):
        if index is not None:  # strictly greater: a tie keeps the earlier position
            xp.maximum(index, xp.multiply(v > y, p, dtype=index.dtype), out=index)
        xp.maximum(y, v, out=y)


def _route_into(gy, index, views, overlapping) -> None:
    """Each output's gradient ``gy`` onto its first maximum: the window position ``index`` says,
    through that position's view of the input's gradient (added when windows overlap, written
    otherwise)."""
    xp = get_array_module(gy)
    for p, view in enumerate(views):
        if overlapping:
            view += gy * (index == p)
        else:  # each entry is read once: write straight into the gradient
            xp.multiply(gy, index == p, out=view)


class MaxPool(_Windowed):
    """The maximum of each window ("same" pads with -inf), a running maximum over the window's
    positions. Forward also keeps, when a gradient is wanted, the index of the first maximum in
    window order; backward routes each output's gradient there, one pass per window position."""

    def forward(self, x):
        xp = get_array_module(x)
        reads = self._windows(*self._pad(x, value=-xp.inf))
        y = xp.empty(reads[0].shape, x.dtype)
        index = _max_index(xp, y.shape, prod(self.window.size)) if self.needs_input_grad[0] else None

        def pool(chunk):
            _max_into([read[chunk] for read in reads], y[chunk], None if index is None else index[chunk])

        parallel(pool, batch_chunks(x.shape[0], x))
        self.index = index
        return y

    def backward(self, gy):
        overlapping = self.window.overlaps()
        gx, views = self._gradient(gy, written=not overlapping)

        def route(chunk):
            _route_into(gy[chunk], self.index[chunk], [view[chunk] for view in views], overlapping)

        parallel(route, batch_chunks(gy.shape[0], gx))
        return (gx,)


class AvgPool(_Windowed):
    """The mean of each window's entries that are not padding (as Keras and TensorFlow)."""

    def forward(self, x):
        layout, padded = self._pad(x)
        reads = self._windows(layout, padded)
        y = reads[0].copy()
        for v in reads[1:]:
            y += v
        self.counts = _window_counts(x, layout, self.window)
        y /= self.counts
        return y

    def backward(self, gy):
        g = gy / self.counts
        gx, views = self._gradient(gy)
        for view in views:
            view += g
        return (gx,)


def _window_counts(x, layout, window):
    """How many entries of each window lie inside ``x``: the window size, or for "same" an array
    of shape (1, *out_spatial, 1), the product over dims of each dim's count."""
    if window.padding == "valid":
        return prod(window.size)
    xp = get_array_module(x)
    counts = 1
    for axis, (n, (out, before, _), k, s) in enumerate(zip(x.shape[1:-1], layout, window.size, window.strides)):
        start = xp.arange(out) * s - before
        count = (xp.minimum(start + k, n) - xp.maximum(start, 0)).astype(x.dtype)
        counts = counts * count.reshape([-1 if i == axis + 1 else 1 for i in range(x.ndim)])
    return counts


def pool_output_shape(spatial, pool_size, strides=None, padding="valid") -> tuple:
    """The spatial output shape of :func:`max_pool` / :func:`avg_pool` (None: unknown).

    >>> pool_output_shape((11, 11), 2)
    (5, 5)
    """
    return _pool_window(len(spatial), pool_size, strides, padding).output_shape(spatial)


def _pool(function, x, pool_size, strides, padding) -> Tensor:
    return function(_pool_window(len(x.shape) - 2, pool_size, strides, padding))(x)


def max_pool(x, pool_size, strides=None, padding="valid") -> Tensor:
    """Max pooling of ``x`` (N, *spatial, C) with 1 or 2 spatial dims, Keras's MaxPooling1D/2D:
    ``strides`` defaults to ``pool_size``, ``padding`` "valid" or "same" (padded with -inf)."""
    return _pool(MaxPool, x, pool_size, strides, padding)


def avg_pool(x, pool_size, strides=None, padding="valid") -> Tensor:
    """Average pooling of ``x`` (N, *spatial, C), Keras's AveragePooling1D/2D: with "same" each
    window averages only its entries inside ``x``."""
    return _pool(AvgPool, x, pool_size, strides, padding)


# ----------------------------------------------------------------------------------------------
# workspace: the bytes an op allocates, from the shapes alone
# ----------------------------------------------------------------------------------------------
def _block_images(n: int, image_bytes: int, host: bool) -> int:
    """How many images the blocks of a fused op hold at once: on the host one block per thread
    (see :func:`_blocks`), on a GPU the whole batch."""
    if not host:
        return n
    return min(n, host_threads() * builtins.max(1, _BLOCK_BYTES // builtins.max(1, image_bytes)))


def _padded_bytes(shape, layout, itemsize) -> int:
    """The bytes of ``shape`` padded as ``layout`` says (0 when nothing is padded: no copy)."""
    if not any(b or a for _, b, a in layout):
        return 0
    return prod(_padded_shape(shape, layout)) * itemsize


def conv_workspace(x_shape, kernel_shape, itemsize: int, strides=1, padding="valid", dilation=1, gradients=True,
                   pool=None, host=True, activation=False) -> int:
    """About how many bytes :func:`conv` (or :func:`conv_max_pool` with ``pool=(pool_size,
    pool_strides, pool_padding)``) allocates for ``x`` of ``x_shape`` (N, *spatial, C_in) and a
    kernel of ``kernel_shape``, forward and (``gradients``) backward: the padded input, the
    gathered windows (all of them kept for the kernel's gradient, else a block per thread on the
    host), the output (pooled: with the maxima's positions, and the product a block at a time),
    and backward the input's gradient (padded), the output's, and with an ``activation`` the
    gradient through it.

    >>> conv_workspace((128, 28, 28, 1), (3, 3, 1, 32), 4) // 2**20   # MiB: 9 columns, 32 outputs per position
    24
    """
    window = _Window.make(len(x_shape) - 2, kernel_shape[:-2], strides, dilation, padding, "kernel_size")
    n, channels, filters = x_shape[0], x_shape[-1], kernel_shape[-1]
    layout = window.layout(x_shape[1:-1])
    outs = tuple(out for out, _, _ in layout)
    positions = prod(outs)
    columns = prod(window.size) * channels
    images = _block_images(n, positions * (columns + filters) * itemsize, host)
    gathered = (n if gradients else images) * positions * columns * itemsize
    output = kept = n * positions * filters * itemsize
    if pool is not None:  # the product a block at a time (padded for the pool), the pooled output and the maxima
        pool_window = _pool_window(len(outs), *pool)
        pool_layout = pool_window.layout(outs)
        block = (images, *outs, filters)
        output = n * prod(out for out, _, _ in pool_layout) * filters * itemsize
        kept = output + (output // itemsize * _index_itemsize(prod(pool_window.size)) if gradients else 0)
        kept += prod(block) * itemsize + _padded_bytes(block, pool_layout, itemsize)
    total = _padded_bytes(x_shape, layout, itemsize) + gathered + kept
    if gradients:
        total += prod(_padded_shape(x_shape, layout)) * itemsize + output * (2 if activation else 1)
    return total


def pool_workspace(x_shape, itemsize: int, pool_size, strides=None, padding="valid", gradients=True,
                   kind="max") -> int:
    """About how many bytes :func:`max_pool` (``kind="max"``) or :func:`avg_pool` (``"avg"``)
    allocates for ``x`` of ``x_shape``: the padded copy ("same"), the output, the maxima's
    positions, and backward the input's gradient (padded) and the temporaries of routing the
    output's gradient.

    >>> pool_workspace((128, 26, 26, 32), 4, 2) // 2**20   # MiB
    14
    """
    window = _pool_window(len(x_shape) - 2, pool_size, strides, padding)
    layout = window.layout(x_shape[1:-1])
    outputs = x_shape[0] * prod(out for out, _, _ in layout) * x_shape[-1]
    total = _padded_bytes(x_shape, layout, itemsize) + outputs * itemsize
    if gradients:
        if kind == "max":
            total += outputs * (_index_itemsize(prod(window.size)) + 1 + (itemsize if window.overlaps() else 0))
        else:
            total += outputs * itemsize
        total += prod(_padded_shape(x_shape, layout)) * itemsize
    return total


def pad_workspace(x_shape, itemsize: int, pads, gradients=True) -> int:
    """The bytes :func:`pad_spatial` allocates for ``x`` of ``x_shape``: the padded copy, and with
    ``gradients`` the output's gradient (of which backward takes a view)."""
    padded = prod((x_shape[0], *(n + b + a for n, (b, a) in zip(x_shape[1:-1], pads)), x_shape[-1])) * itemsize
    return padded * (2 if gradients else 1)


# ----------------------------------------------------------------------------------------------
# max reduction
# ----------------------------------------------------------------------------------------------
class Max(Function):
    """The maximum over ``axis`` (all axes when None); the gradient goes to the first maximum
    (in C order over the reduced axes), as argmax picks it."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        axes = _normalize_axis(self.axis, x.ndim)
        axes = tuple(range(x.ndim)) if axes is None else axes
        if self.needs_input_grad[0]:
            kept = [i for i in range(x.ndim) if i not in axes]
            order = kept + list(axes)
            flat = x.transpose(order).reshape([x.shape[i] for i in kept] + [-1])
            self.index = flat.argmax(axis=-1)
            self.x_shape, self.order, self.flat_shape = x.shape, order, flat.shape
        return x.max(axis=axes, keepdims=self.keepdims)

    def backward(self, gy):
        xp = get_array_module(gy)
        hits = xp.arange(self.flat_shape[-1]) == self.index[..., None]
        g = hits * gy.reshape(self.flat_shape[:-1] + (1,))
        transposed = [self.x_shape[i] for i in self.order]
        inverse = [self.order.index(i) for i in range(len(self.order))]
        return (g.reshape(transposed).transpose(inverse),)


def max(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001 - the operation's name
    """Maximum over ``axis`` (all axes when None), for global max pooling; the gradient goes to
    the first maximum."""
    return Max(axis, keepdims)(x)
