"""CuPy elementwise kernels, compiled on first use, and their CUDA source for checking without a GPU.

Every :class:`ElementwiseKernel` gpunet defines registers itself in :data:`KERNELS`.
:func:`cuda_source` writes the CUDA C a kernel's parameters and body amount to, for a choice of
the type placeholders (``T`` as float or double, ...), so that a test can compile every kernel
with NVRTC for the GPU architectures users have, on a machine without a GPU: a typo or a type
error in a kernel body fails CI, not a user's first step on a GPU. CuPy builds its own,
richer wrapper around the same body at run time; the body, the parameter names and the index
``i`` mean the same in both.
"""

from __future__ import annotations

import re

__all__ = ["ElementwiseKernel", "KERNELS", "cuda_source", "placeholders"]

KERNELS: list = []

# C types of the dtypes a kernel may name, and what a placeholder may stand for
CTYPES = {
    "float16": "__half", "float32": "float", "float64": "double", "int8": "signed char", "int16": "short",
    "int32": "int", "int64": "long long", "uint8": "unsigned char", "uint32": "unsigned int",
    "uint64": "unsigned long long", "bool": "bool",
}
PLACEHOLDER_TYPES = {"T": ("float", "double"), "I": ("int", "long long")}


class ElementwiseKernel:
    """A CuPy ``ElementwiseKernel`` built on first call (never on the CPU, never at import).

    ``in_params`` and ``out_params`` use CuPy's syntax (``"T x, raw I labels, int64 n"``);
    ``body`` is CUDA C run once per element index ``i``.
    """

    def __init__(self, in_params: str, out_params: str, body: str, name: str):
        self.spec = (in_params, out_params, body, name)
        self._kernel = None
        KERNELS.append(self)

    @property
    def name(self) -> str:
        return self.spec[3]

    def __call__(self, *args):
        if self._kernel is None:
            import cupy  # noqa: PLC0415 - only reached with CuPy arrays

            self._kernel = cupy.ElementwiseKernel(*self.spec)
        return self._kernel(*args)

    def __repr__(self):
        return f"ElementwiseKernel({self.name!r})"


def _params(text: str) -> list:
    """``[(raw, type, name), ...]`` from CuPy's parameter syntax."""
    out = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        words = item.split()
        raw = words[0] == "raw"
        if raw:
            words = words[1:]
        if len(words) != 2 or not re.fullmatch(r"[A-Za-z_]\w*", words[1]):
            raise ValueError(f"cannot read the kernel parameter {item!r}")
        out.append((raw, words[0], words[1]))
    return out


def placeholders(kernel: ElementwiseKernel) -> list:
    """The type placeholders (single capital letters) a kernel's parameters use, in order."""
    seen = []
    for _, ctype, _ in _params(kernel.spec[0]) + _params(kernel.spec[1]):
        if ctype not in CTYPES and ctype not in seen:
            if ctype not in PLACEHOLDER_TYPES:
                raise ValueError(f"kernel {kernel.name}: unknown parameter type {ctype!r}")
            seen.append(ctype)
    return seen


def cuda_source(kernel: ElementwiseKernel, types: dict) -> str:
    """A complete CUDA C translation unit for ``kernel`` with its placeholders bound by ``types``
    (e.g. ``{"T": "float"}``): a grid-stride loop over ``i`` that binds every non-raw input to its
    element (read-only), every non-raw output to a reference, and raw parameters to pointers."""
    in_params, out_params, body, name = kernel.spec
    lines = [f"typedef {types[t]} {t};" for t in placeholders(kernel)]
    args, binds = [], []
    for output, params in ((False, _params(in_params)), (True, _params(out_params))):
        for raw, ctype, var in params:
            c = ctype if ctype in PLACEHOLDER_TYPES else CTYPES[ctype]
            const = "" if output else "const "
            if raw:
                args.append(f"{const}{c}* {var}")
            else:
                args.append(f"{const}{c}* _p_{var}")
                binds.append(f"{const}{c}{'&' if output else ''} {var} = _p_{var}[i];")
    lines += [
        f'extern "C" __global__ void {name}({", ".join(args + ["long long _n"])}) {{',
        "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < _n;",
        "       i += (long long)blockDim.x * gridDim.x) {",
        "    " + " ".join(binds),
        body,
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"
