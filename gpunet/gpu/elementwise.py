"""CuPy elementwise kernels, compiled on first use, and their CUDA source for checking without a GPU.

Every :class:`ElementwiseKernel` gpunet defines registers itself in :data:`KERNELS`.
:func:`cuda_source` writes the translation unit CuPy 14 compiles for a kernel, for a choice of
the type placeholders (``T`` as float, double, float16 or bfloat16, ...), so that a test can
compile every kernel with NVRTC for the GPU architectures users have, on a machine without a
GPU: a typo or a type error in a kernel body fails CI, not a user's first step on a GPU.

What CuPy does with a kernel, and :func:`cuda_source` with it: CuPy's own headers come first
(:data:`CUPY_HEADERS`, and for a float16 or bfloat16 array the header of CuPy's C++ class of
that name, :data:`TYPE_HEADERS`), then ``typedef <type> T;`` for each placeholder, then one
``extern "C"`` function taking every array as a ``CArray`` and an indexer, whose grid-stride
loop binds each non-raw parameter to its element by reference (read-only for inputs) before
the body. CuPy's float16 and bfloat16 convert to float for every operator and are built from a
float, so a body's arithmetic on them runs in float and is rounded where it is stored in ``T``:
a body keeps such intermediates in ``F`` (:data:`COMPUTE_TYPE`), which is float for them and
``T`` itself for float and double. bfloat16 has no compound assignment, so bodies write
``param = param - step`` (for float and double the same as ``-=``), and the two sides of a
``?:`` must have one type (``T`` and float are ambiguous for the 16-bit classes).
"""

from __future__ import annotations

import re

__all__ = ["COMPUTE_TYPE", "ElementwiseKernel", "KERNELS", "cuda_source", "placeholders"]

KERNELS: list = []

# C types of the dtypes a kernel may name (CuPy 14's names), and what a placeholder may stand for
CTYPES = {
    "float16": "float16", "bfloat16": "bfloat16", "float32": "float", "float64": "double",
    "int8": "signed char", "int16": "short", "int32": "int", "int64": "long long", "uint8": "unsigned char",
    "uint16": "unsigned short", "uint32": "unsigned int", "uint64": "unsigned long long", "bool": "bool",
}
PLACEHOLDER_TYPES = {"T": ("float", "double", "float16", "bfloat16"), "I": ("int", "long long")}
# CuPy's classes for the 16-bit floats, and the header (under CuPy's include folder) that defines each
TYPE_HEADERS = {"float16": "cupy/float16.cuh", "bfloat16": "cupy/bfloat16.cuh"}
# what CuPy 14 puts before every kernel it compiles
CUPY_HEADERS = ("cupy/complex.cuh", "cupy/carray.cuh", "cupy/atomics.cuh", "cupy/math_constants.h")

# A body's declaration of F, the type T's arithmetic runs in: float for float16 and bfloat16 (unary
# plus on CuPy's classes converts them to float), T itself for float and double (so their kernels
# compile to exactly what they would with T in F's place).
COMPUTE_TYPE = "typedef decltype(+T()) F;\n"

# For compiling without CuPy's headers (float and double need nothing else from them): the
# little of cupy/carray.cuh that the wrapper itself uses, with the same names (guarded, as a
# header is, so that several kernels' sources make one translation unit).
_STAND_IN = """\
#ifndef GPUNET_CARRAY_STAND_IN
#define GPUNET_CARRAY_STAND_IN
#define CUPY_FOR(i, n) for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \\
                            i += (long long)blockDim.x * gridDim.x)
template <typename T, int ndim, bool c_contiguous = false, bool use_32bit_indexing = false>
struct CArray {
  T* data_;
  __device__ T& operator[](long long i) { return data_[i]; }
  __device__ const T& operator[](long long i) const { return data_[i]; }
};
template <int ndim, bool use_32bit_indexing = false>
struct CIndexer {
  long long size_, index_;
  __device__ long long size() const { return size_; }
  __device__ void set(long long i) { index_ = i; }
  __device__ long long get() const { return index_; }
};
#endif
"""


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


def cuda_source(kernel: ElementwiseKernel, types: dict, cupy_headers: bool = True) -> str:
    """The CUDA C translation unit CuPy 14 compiles for ``kernel`` with its placeholders bound by
    ``types`` (e.g. ``{"T": "float16"}``), for contiguous arrays: CuPy's headers, the typedefs,
    every parameter a one-dimensional ``CArray`` (non-raw inputs included: a scalar argument
    reaches the body as the same ``const T``), and the body inside CuPy's loop. Compile it with
    CuPy's include folder and the CUDA runtime's headers on the include path.

    ``cupy_headers=False`` writes a stand-in for the few names of ``cupy/carray.cuh`` the wrapper
    uses instead of including CuPy's headers, for machines without them; a binding that needs
    one of CuPy's classes (float16, bfloat16) then raises ``ValueError``."""
    in_params, out_params, body, name = kernel.spec
    names = placeholders(kernel)
    missing = [t for t in names if t not in types]
    if missing:
        raise ValueError(f"kernel {name}: no type given for the placeholder(s) {', '.join(missing)}")
    for t in names:
        if types[t] not in PLACEHOLDER_TYPES[t]:
            raise ValueError(f"kernel {name}: {t} may be one of {', '.join(PLACEHOLDER_TYPES[t])}, got {types[t]!r}")
    params = [(False, *p) for p in _params(in_params)] + [(True, *p) for p in _params(out_params)]
    # (the type the body names, the C type it stands for) of each parameter
    ctypes = {var: (c, types[c]) if c in PLACEHOLDER_TYPES else (CTYPES[c],) * 2 for _, _, c, var in params}
    headers = sorted({TYPE_HEADERS[c] for _, c in ctypes.values() if c in TYPE_HEADERS})
    if cupy_headers:
        lines = [f"#include <{h}>" for h in CUPY_HEADERS] + [f'#include "{h}"' for h in headers]
    elif headers:
        raise ValueError(f"kernel {name} with {types} needs CuPy's header(s) {', '.join(headers)}")
    else:
        lines = [_STAND_IN]
    lines += [f"typedef {types[t]} {t};" for t in names]
    args, binds = [], []
    for output, raw, _, var in params:
        const = "" if output else "const "
        named, ctype = ctypes[var]
        args.append(f"{const}CArray<{ctype}, 1, 1, 1> {var if raw else '_raw_' + var}")
        if not raw:
            binds.append(f"{const}{named} &{var} = _raw_{var}[_ind.get()];")
    lines += [
        f'extern "C" __global__ void {name}({", ".join(args + ["CIndexer<1, 1> _ind"])}) {{',
        "  #pragma unroll 1",
        "  CUPY_FOR(i, _ind.size()) {",
        "    _ind.set(i);",
        *("    " + b for b in binds),
        body + ";",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"
