/* gemm_lt.h — the tensor-core GEMM (gemm_lt.cu): cuBLASLt (NVIDIA) or hipBLASLt (AMD) over
 * bf16 / f16 weights with one proven batch-invariant algorithm per weight shape, falling back to
 * the tile GEMM (qk_matmul) wherever that cannot be had. QUIPU_GEMM_LT says whether this build
 * has it: always with nvcc; with hipcc only where CMake found hipBLASLt (QUIPU_HAVE_HIPBLASLT,
 * kernels/CMakeLists.txt), never in the emulation on the CPU. */
#ifndef QUIPU_KERNELS_GEMM_LT_H
#define QUIPU_KERNELS_GEMM_LT_H

#include <stddef.h>

#include "kernels.h"

#if defined(__HIPCC__) || defined(QUIPU_HIP_BUILD)
#if defined(QUIPU_HAVE_HIPBLASLT) && QUIPU_HAVE_HIPBLASLT && !defined(QUIPU_HIP_CPU)
#define QUIPU_GEMM_LT 1
#include <hipblaslt/hipblaslt.h>
#include <hipblaslt/hipblaslt-ext.hpp> /* matmulIsAlgoSupported: the C API has no AlgoCheck */
#else
#define QUIPU_GEMM_LT 0
#endif
#else
#define QUIPU_GEMM_LT 1
#include <cublasLt.h>
#endif

/* cuBLASLt's / hipBLASLt's own scratch inside the op workspace */
#define QK_LT_LIB_WS ((size_t)32 << 20)

typedef struct qk_lt qk_lt;
qpError_t qk_lt_create(qk_lt **out);
void qk_lt_free(qk_lt *L);
/* the forward state's largest batch (rows): the size each shape's algorithm is chosen for */
void qk_lt_set_max_rows(qk_lt *L, int64_t max_m);
/* the workspace a call of up to max_m rows and max_width columns of x or y needs (0: no cuBLASLt / hipBLASLt) */
size_t qk_lt_workspace_bytes(int64_t max_m, int64_t max_width);
/* the first fallback to the tile GEMM, if any (also printed once as a warning) */
const char *qk_lt_note(const qk_lt *L);
/* y[M, N] = x[M, K] w[N, K]^T + bias as qk_matmul computes it, on tensor cores where proven */
qpError_t qk_lt_matmul(qk_lt *L, qpStream_t s, float *y, int64_t ldy, const float *x, int64_t ldx, const void *w, qk_wtype wt,
                       const float *bias, int64_t M, int64_t K, int64_t N, int accumulate, void *ws, size_t ws_bytes);

#endif
