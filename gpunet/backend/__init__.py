"""The one place that knows NumPy from CuPy.

Everything else in gpunet writes its array code once, against ``xp = get_array_module(x)``
(the module of the arrays at hand) or ``array_module()`` (the module of the selected backend
when new arrays are made), and moves data between host and device only through
:func:`to_host`, :func:`to_device` and :func:`on_device_of`. One module per concern:

    device.py    NumPy or CuPy: the choice (``use``, ``GPUNET_BACKEND``), transfers, capture state
    threads.py   host threads that split big batches over the cores, the BLAS held meanwhile
    products.py  every matrix product of a step (on the GPU through gpunet's cuBLAS handle)
    dtypes.py    the default floating-point dtype; which arrays hold text (kept on the host)
    random.py    the seeded host and noise generators, and their states for checkpoints
    memory.py    what the device can still hold, checked before a layer allocates its buffers

GPU-only code (CUDA kernels beside their NumPy twins, the Philox stream, cuBLAS) is in
:mod:`gpunet.gpu`, below this package.
"""

from __future__ import annotations

from .device import (
    _import_cupy as _import_cupy, all_finite, array_module, capturing, cupy_module, get_array_module, is_device_array,
    is_gpu_available, name, on_device_of, register_wrapper_type, to_device, to_host, use,
)
from .dtypes import epsilon, float_dtype, floatx, is_text, set_epsilon, set_floatx
from .memory import WorkspaceError, available_bytes, check_workspace, memory_limit, set_memory_limit
from .products import column_dots, constant_vector, matmul
from .random import (
    get_rng_state, host_generator, noise_generator, noise_stream, ops_generator, register_seed_generator,
    set_noise_stream, set_rng_state, set_seed,
)
from .threads import batch_chunks, blas_chunks, host_parallelism, host_threads, parallel

__all__ = [
    "use", "name", "array_module", "get_array_module", "is_device_array", "to_host", "to_device", "on_device_of",
    "capturing", "all_finite", "is_gpu_available", "register_wrapper_type", "cupy_module",
    "matmul", "column_dots", "constant_vector",
    "WorkspaceError", "available_bytes", "check_workspace", "memory_limit", "set_memory_limit",
    "host_threads", "batch_chunks", "blas_chunks", "host_parallelism", "parallel",
    "floatx", "float_dtype", "set_floatx", "epsilon", "set_epsilon", "is_text",
    "set_seed", "host_generator", "noise_generator", "ops_generator", "get_rng_state", "set_rng_state",
    "set_noise_stream", "noise_stream", "register_seed_generator",
]

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
