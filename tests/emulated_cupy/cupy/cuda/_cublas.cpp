// A stand-in for NVIDIA's libcublas, for the CPU emulation of CuPy (see cublas_emulation.py).
//
// It exports the few cuBLAS entry points gpunet's binding (gpunet/gpu/blas.py) calls, with
// cuBLAS's ABI and semantics as NVIDIA's cuBLAS documentation states them: opaque handles,
// column-major matrices addressed through leading dimensions, cudaDataType_t and
// cublasComputeType_t codes, status codes for bad arguments. "Device memory" is host memory
// here, so every pointer is a host address and a product runs at once, on the calling thread.
//
// Each product is first written into a plain struct (gpunet_emulated_call) holding all of its
// arguments by value. When a hook is set (gpunet_emulation_set_hook), the hook receives that
// record instead of the product running: the emulation's stream capture records it, and
// gpunet_emulation_execute runs it later, as a replayed CUDA graph would.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// cublasStatus_t
const int STATUS_SUCCESS = 0;
const int STATUS_NOT_INITIALIZED = 1;
const int STATUS_INVALID_VALUE = 7;
const int STATUS_NOT_SUPPORTED = 15;

// cublasOperation_t, cublasPointerMode_t
const int OP_N = 0, OP_T = 1, OP_C = 2;
const int POINTER_MODE_HOST = 0, POINTER_MODE_DEVICE = 1;

// cudaDataType_t
const int R_32F = 0, R_64F = 1, R_16F = 2, R_16BF = 14;

// cublasComputeType_t
const int COMPUTE_32F = 68, COMPUTE_32F_PEDANTIC = 69, COMPUTE_32F_FAST_16F = 74, COMPUTE_32F_FAST_16BF = 75,
          COMPUTE_32F_FAST_TF32 = 77, COMPUTE_64F = 70, COMPUTE_64F_PEDANTIC = 71;

const int64_t HANDLE_TAG = 0x6370756e6574LL;  // marks a live handle

struct Handle {
    int64_t tag;
    void *stream;
    void *workspace;
    size_t workspace_size;
    int pointer_mode;
    int math_mode;
};

}  // namespace

extern "C" {

// One product with every argument by value. The Python loader mirrors it as a ctypes Structure
// (gpunet_emulation_call_size lets it check that the two agree).
struct gpunet_emulated_call {
    int32_t batched;  // 0: cublasGemmEx, 1: cublasGemmStridedBatchedEx
    int32_t transa, transb;
    int32_t m, n, k;
    int32_t a_type, b_type, c_type;
    int32_t lda, ldb, ldc;
    int32_t batch_count;
    int32_t compute_type, algo;
    int32_t pointer_mode, math_mode;
    int64_t stride_a, stride_b, stride_c;
    const void *a;
    const void *b;
    void *c;
    double alpha, beta;            // read at call time (pointer mode host)
    const void *alpha_pointer;     // read when the product runs (pointer mode device)
    const void *beta_pointer;
    void *stream;                  // the handle's stream at call time
    void *workspace;               // the handle's workspace at call time
    uint64_t workspace_size;
    void *handle;
};

typedef void (*gpunet_emulation_hook)(const void *call);

}  // extern "C"

namespace {

gpunet_emulation_hook hook = nullptr;

Handle *live(void *handle) {
    Handle *h = static_cast<Handle *>(handle);
    return (h != nullptr && h->tag == HANDLE_TAG) ? h : nullptr;
}

// --- element conversions -------------------------------------------------------------------
float bf16_to_float(uint16_t bits) {
    uint32_t word = static_cast<uint32_t>(bits) << 16;
    float value;
    std::memcpy(&value, &word, sizeof value);
    return value;
}

uint16_t float_to_bf16(float value) {
    uint32_t word;
    std::memcpy(&word, &value, sizeof word);
    if ((word & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep the sign, make it quiet
        return static_cast<uint16_t>((word >> 16) | 0x0040u);
    }
    word += 0x7fffu + ((word >> 16) & 1u);  // round to nearest, ties to even
    return static_cast<uint16_t>(word >> 16);
}

template <typename Acc>
Acc load(int type, const void *base, int64_t index) {
    switch (type) {
        case R_32F: return static_cast<Acc>(static_cast<const float *>(base)[index]);
        case R_64F: return static_cast<Acc>(static_cast<const double *>(base)[index]);
        case R_16F: return static_cast<Acc>(static_cast<float>(static_cast<const _Float16 *>(base)[index]));
        default: return static_cast<Acc>(bf16_to_float(static_cast<const uint16_t *>(base)[index]));
    }
}

template <typename Acc>
void store(int type, void *base, int64_t index, Acc value) {
    switch (type) {
        case R_32F: static_cast<float *>(base)[index] = static_cast<float>(value); break;
        case R_64F: static_cast<double *>(base)[index] = static_cast<double>(value); break;
        case R_16F: static_cast<_Float16 *>(base)[index] = static_cast<_Float16>(static_cast<float>(value)); break;
        default: static_cast<uint16_t *>(base)[index] = float_to_bf16(static_cast<float>(value)); break;
    }
}

bool is_64f(int compute_type) { return compute_type == COMPUTE_64F || compute_type == COMPUTE_64F_PEDANTIC; }

bool is_32f(int compute_type) {
    return compute_type == COMPUTE_32F || compute_type == COMPUTE_32F_PEDANTIC || compute_type == COMPUTE_32F_FAST_16F ||
           compute_type == COMPUTE_32F_FAST_16BF || compute_type == COMPUTE_32F_FAST_TF32;
}

// The type combinations of cublasGemmEx's table that this stand-in computes (real types only).
bool supported(int compute_type, int a_type, int b_type, int c_type) {
    if (a_type != b_type) return false;
    if (is_64f(compute_type)) return a_type == R_64F && c_type == R_64F;
    if (!is_32f(compute_type)) return false;
    if (compute_type != COMPUTE_32F && compute_type != COMPUTE_32F_PEDANTIC) return a_type == R_32F && c_type == R_32F;
    if (a_type == R_32F) return c_type == R_32F;
    return (a_type == R_16F || a_type == R_16BF) && (c_type == a_type || c_type == R_32F);
}

bool valid_algo(int algo) { return (algo >= -1 && algo <= 23) || (algo >= 99 && algo <= 115); }

// The checks cuBLAS documents for its gemm family.
int check(const gpunet_emulated_call &call) {
    if (call.transa < OP_N || call.transa > OP_C || call.transb < OP_N || call.transb > OP_C) return STATUS_INVALID_VALUE;
    if (call.m < 0 || call.n < 0 || call.k < 0 || call.batch_count < 0) return STATUS_INVALID_VALUE;
    int64_t a_rows = call.transa == OP_N ? call.m : call.k;
    int64_t b_rows = call.transb == OP_N ? call.k : call.n;
    if (call.lda < (a_rows > 1 ? a_rows : 1) || call.ldb < (b_rows > 1 ? b_rows : 1) ||
        call.ldc < (call.m > 1 ? call.m : 1)) {
        return STATUS_INVALID_VALUE;
    }
    if (call.pointer_mode == POINTER_MODE_DEVICE && (call.alpha_pointer == nullptr || call.beta_pointer == nullptr)) {
        return STATUS_INVALID_VALUE;
    }
    if (!supported(call.compute_type, call.a_type, call.b_type, call.c_type) || !valid_algo(call.algo)) {
        return STATUS_NOT_SUPPORTED;
    }
    return STATUS_SUCCESS;
}

// C = alpha * op(A) op(B) + beta * C for each matrix of the batch, column-major, accumulated in
// Acc (float for the 32F compute types, double for 64F) in increasing order of the inner index.
template <typename Acc>
void compute(const gpunet_emulated_call &call, Acc alpha, Acc beta) {
    const int64_t m = call.m, n = call.n, k = call.k;
    const int batches = call.batched ? call.batch_count : 1;
    std::vector<Acc> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n)), column(static_cast<size_t>(m));
    for (int batch = 0; batch < batches; ++batch) {
        const char *a_base = static_cast<const char *>(call.a);
        const char *b_base = static_cast<const char *>(call.b);
        char *c_base = static_cast<char *>(call.c);
        int64_t a_offset = batch * call.stride_a, b_offset = batch * call.stride_b, c_offset = batch * call.stride_c;
        // op(A) as an m x k column-major matrix, op(B) as k x n
        for (int64_t l = 0; l < k; ++l) {
            for (int64_t i = 0; i < m; ++i) {
                int64_t at = call.transa == OP_N ? i + l * call.lda : l + i * call.lda;
                a[static_cast<size_t>(i + l * m)] = load<Acc>(call.a_type, a_base, a_offset + at);
            }
        }
        for (int64_t j = 0; j < n; ++j) {
            for (int64_t l = 0; l < k; ++l) {
                int64_t at = call.transb == OP_N ? l + j * call.ldb : j + l * call.ldb;
                b[static_cast<size_t>(l + j * k)] = load<Acc>(call.b_type, b_base, b_offset + at);
            }
        }
        for (int64_t j = 0; j < n; ++j) {
            for (int64_t i = 0; i < m; ++i) column[static_cast<size_t>(i)] = Acc(0);
            for (int64_t l = 0; l < k; ++l) {
                Acc factor = b[static_cast<size_t>(l + j * k)];
                const Acc *a_column = &a[static_cast<size_t>(l * m)];
                for (int64_t i = 0; i < m; ++i) column[static_cast<size_t>(i)] += a_column[i] * factor;
            }
            for (int64_t i = 0; i < m; ++i) {
                int64_t at = c_offset + i + j * call.ldc;
                Acc value = alpha * column[static_cast<size_t>(i)];
                if (beta != Acc(0)) value += beta * load<Acc>(call.c_type, c_base, at);  // beta == 0: C is not read
                store<Acc>(call.c_type, c_base, at, value);
            }
        }
    }
}

int run(const gpunet_emulated_call &call) {
    int status = check(call);
    if (status != STATUS_SUCCESS) return status;
    if (call.m == 0 || call.n == 0 || (call.batched && call.batch_count == 0)) return STATUS_SUCCESS;
    bool device = call.pointer_mode == POINTER_MODE_DEVICE;
    if (is_64f(call.compute_type)) {
        double alpha = device ? *static_cast<const double *>(call.alpha_pointer) : call.alpha;
        double beta = device ? *static_cast<const double *>(call.beta_pointer) : call.beta;
        compute<double>(call, alpha, beta);
    } else {
        float alpha = device ? *static_cast<const float *>(call.alpha_pointer) : static_cast<float>(call.alpha);
        float beta = device ? *static_cast<const float *>(call.beta_pointer) : static_cast<float>(call.beta);
        compute<float>(call, alpha, beta);
    }
    return STATUS_SUCCESS;
}

// Fills a record from a gemm call's arguments; the scalars are read now in pointer mode host.
int record(gpunet_emulated_call &call, void *handle, const void *alpha, const void *beta) {
    Handle *h = live(handle);
    if (h == nullptr) return STATUS_NOT_INITIALIZED;
    if (alpha == nullptr || beta == nullptr) return STATUS_INVALID_VALUE;
    call.handle = handle;
    call.stream = h->stream;
    call.workspace = h->workspace;
    call.workspace_size = h->workspace_size;
    call.pointer_mode = h->pointer_mode;
    call.math_mode = h->math_mode;
    call.alpha_pointer = alpha;
    call.beta_pointer = beta;
    if (h->pointer_mode == POINTER_MODE_HOST) {
        if (is_64f(call.compute_type)) {
            call.alpha = *static_cast<const double *>(alpha);
            call.beta = *static_cast<const double *>(beta);
        } else if (is_32f(call.compute_type)) {
            call.alpha = *static_cast<const float *>(alpha);
            call.beta = *static_cast<const float *>(beta);
        }
        call.alpha_pointer = nullptr;  // consumed: a replay must not read the caller's host memory again
        call.beta_pointer = nullptr;
    }
    return STATUS_SUCCESS;
}

int submit(const gpunet_emulated_call &call) {
    int status = check(call);
    if (status != STATUS_SUCCESS) return status;
    if (hook != nullptr) {
        hook(&call);
        return STATUS_SUCCESS;
    }
    return run(call);
}

}  // namespace

extern "C" {

int cublasCreate_v2(void **handle) {
    if (handle == nullptr) return STATUS_INVALID_VALUE;
    Handle *h = new Handle();
    h->tag = HANDLE_TAG;
    h->stream = nullptr;
    h->workspace = nullptr;
    h->workspace_size = 0;
    h->pointer_mode = POINTER_MODE_HOST;
    h->math_mode = 0;  // CUBLAS_DEFAULT_MATH
    *handle = h;
    return STATUS_SUCCESS;
}

int cublasDestroy_v2(void *handle) {
    Handle *h = live(handle);
    if (h == nullptr) return STATUS_NOT_INITIALIZED;
    h->tag = 0;
    delete h;
    return STATUS_SUCCESS;
}

// As documented for cuBLAS, setting the stream also puts the handle back on cuBLAS's own
// workspace: a user workspace must be set again after every cublasSetStream.
int cublasSetStream_v2(void *handle, void *stream) {
    Handle *h = live(handle);
    if (h == nullptr) return STATUS_NOT_INITIALIZED;
    h->stream = stream;
    h->workspace = nullptr;
    h->workspace_size = 0;
    return STATUS_SUCCESS;
}

int cublasGetStream_v2(void *handle, void **stream) {
    Handle *h = live(handle);
    if (h == nullptr) return STATUS_NOT_INITIALIZED;
    if (stream == nullptr) return STATUS_INVALID_VALUE;
    *stream = h->stream;
    return STATUS_SUCCESS;
}

int cublasSetWorkspace_v2(void *handle, void *workspace, size_t size) {
    Handle *h = live(handle);
    if (h == nullptr) return STATUS_NOT_INITIALIZED;
    if (reinterpret_cast<uintptr_t>(workspace) % 256 != 0) return STATUS_INVALID_VALUE;  // 256-byte alignment
    if (workspace == nullptr && size != 0) return STATUS_INVALID_VALUE;
    h->workspace = workspace;
    h->workspace_size = size;
    return STATUS_SUCCESS;
}

int cublasSetPointerMode_v2(void *handle, int mode) {
    Handle *h = live(handle);
    if (h == nullptr) return STATUS_NOT_INITIALIZED;
    if (mode != POINTER_MODE_HOST && mode != POINTER_MODE_DEVICE) return STATUS_INVALID_VALUE;
    h->pointer_mode = mode;
    return STATUS_SUCCESS;
}

int cublasSetMathMode(void *handle, int mode) {
    Handle *h = live(handle);
    if (h == nullptr) return STATUS_NOT_INITIALIZED;
    int base = mode & ~16;  // 16: CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION, a flag
    if (mode < 0 || !(base <= 4 || base == 8)) return STATUS_INVALID_VALUE;
    h->math_mode = mode;
    return STATUS_SUCCESS;
}

int cublasGemmEx(void *handle, int transa, int transb, int m, int n, int k, const void *alpha, const void *A,
                 int a_type, int lda, const void *B, int b_type, int ldb, const void *beta, void *C, int c_type,
                 int ldc, int compute_type, int algo) {
    gpunet_emulated_call call{};
    call.batched = 0;
    call.transa = transa, call.transb = transb, call.m = m, call.n = n, call.k = k;
    call.a = A, call.a_type = a_type, call.lda = lda;
    call.b = B, call.b_type = b_type, call.ldb = ldb;
    call.c = C, call.c_type = c_type, call.ldc = ldc;
    call.batch_count = 1, call.compute_type = compute_type, call.algo = algo;
    int status = record(call, handle, alpha, beta);
    return status != STATUS_SUCCESS ? status : submit(call);
}

int cublasGemmStridedBatchedEx(void *handle, int transa, int transb, int m, int n, int k, const void *alpha,
                               const void *A, int a_type, int lda, long long stride_a, const void *B, int b_type,
                               int ldb, long long stride_b, const void *beta, void *C, int c_type, int ldc,
                               long long stride_c, int batch_count, int compute_type, int algo) {
    gpunet_emulated_call call{};
    call.batched = 1;
    call.transa = transa, call.transb = transb, call.m = m, call.n = n, call.k = k;
    call.a = A, call.a_type = a_type, call.lda = lda, call.stride_a = stride_a;
    call.b = B, call.b_type = b_type, call.ldb = ldb, call.stride_b = stride_b;
    call.c = C, call.c_type = c_type, call.ldc = ldc, call.stride_c = stride_c;
    call.batch_count = batch_count, call.compute_type = compute_type, call.algo = algo;
    int status = record(call, handle, alpha, beta);
    return status != STATUS_SUCCESS ? status : submit(call);
}

// --- the emulation's own entry points ----------------------------------------------------------
void gpunet_emulation_set_hook(gpunet_emulation_hook new_hook) { hook = new_hook; }

int gpunet_emulation_execute(const void *call) {
    if (call == nullptr) return STATUS_INVALID_VALUE;
    return run(*static_cast<const gpunet_emulated_call *>(call));
}

size_t gpunet_emulation_call_size(void) { return sizeof(gpunet_emulated_call); }

}  // extern "C"
