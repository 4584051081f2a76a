/* gemm_lt.cu — y[M, N] = x[M, K] w[N, K]^T (+ bias) on tensor cores through cuBLASLt (hipBLASLt
 * on AMD), for bf16 and f16 weights: x is rounded to the weights' type (nearest even) into the
 * workspace, products are summed in fp32, y stays fp32. Reference: the tile GEMM of matmul.cu
 * (qk_matmul) and, through it, cpu_matmul over the rounded operands (tests/test_backend_ops.c).
 *
 * Batch invariance is what quipu promises, and a GEMM library does not: it picks its kernel by
 * shape, and split-K or stream-K kernels cut the k loop by how many output tiles there are. So
 * per weight shape (N, K, type, bias) one algorithm is chosen once, with split-K off and no
 * reduction scheme, for the largest batch the forward state holds, and then used for every M.
 * Before it is trusted, it is proven on this device with the call's own data: the M rows computed
 * at once must equal, bit for bit, the first row alone and the first half alone, and must agree
 * with the tile GEMM within the rounding of x. A candidate that fails is dropped for the next;
 * when none passes, that shape stays on the tile GEMM (and the backend says so once). Calls with
 * accumulate, an fp32 weight (the exact mode), or a batch of one row before any proof use the
 * tile GEMM. QUIPU_GPU_GEMM=tiles keeps every shape on the tile GEMM.
 *
 * The HIP build (MI250X) runs the same code through hipBLASLt, whose C API mirrors cuBLASLt's
 * (the names below map both to one), where CMake found it (gemm_lt.h); elsewhere, as in CI's
 * hipcc build and the emulation on the CPU, the tile GEMM does everything. hipBLASLt's C API
 * lets no caller turn split-K off or pick a reduction scheme (its preference knows only the
 * search mode and the workspace, its algorithm is opaque, and split-K is set only through the
 * C++ Gemm class's GemmTuning, which hipblasLtMatmul does not take), so there batch invariance
 * rests on the proof on the device alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_lt.h"
#include "half.cuh"

#if QUIPU_GEMM_LT

/* ---- one set of names for cuBLASLt and hipBLASLt (the same calls, the same arguments) ---- */

#if defined(__HIPCC__) || defined(QUIPU_HIP_BUILD)
#define LT_HIP 1
#define LT_LIB "hipBLASLt"
#define ltHandle_t hipblasLtHandle_t
#define ltCreate hipblasLtCreate
#define ltDestroy hipblasLtDestroy
#define LT_OK HIPBLAS_STATUS_SUCCESS
#define ltAlgo_t hipblasLtMatmulAlgo_t
#define ltHeuristic_t hipblasLtMatmulHeuristicResult_t
#define ltDesc_t hipblasLtMatmulDesc_t
#define ltDescCreate hipblasLtMatmulDescCreate
#define ltDescDestroy hipblasLtMatmulDescDestroy
#define ltDescSetAttribute hipblasLtMatmulDescSetAttribute
#define ltLayout_t hipblasLtMatrixLayout_t
#define ltLayoutCreate hipblasLtMatrixLayoutCreate
#define ltLayoutDestroy hipblasLtMatrixLayoutDestroy
#define ltPref_t hipblasLtMatmulPreference_t
#define ltPrefCreate hipblasLtMatmulPreferenceCreate
#define ltPrefDestroy hipblasLtMatmulPreferenceDestroy
#define ltPrefSetAttribute hipblasLtMatmulPreferenceSetAttribute
#define ltGetHeuristic hipblasLtMatmulAlgoGetHeuristic
#define ltMatmul hipblasLtMatmul
#define ltDataType_t hipDataType
#define LT_R_16F HIP_R_16F
#define LT_R_16BF HIP_R_16BF
#define LT_R_32F HIP_R_32F
#define LT_COMPUTE_32F HIPBLAS_COMPUTE_32F
#define ltOp_t hipblasOperation_t
#define LT_OP_T HIPBLAS_OP_T
#define LT_OP_N HIPBLAS_OP_N
#define ltEpilogue_t hipblasLtEpilogue_t
#define LT_EPILOGUE_BIAS HIPBLASLT_EPILOGUE_BIAS
#define LT_DESC_TRANSA HIPBLASLT_MATMUL_DESC_TRANSA
#define LT_DESC_TRANSB HIPBLASLT_MATMUL_DESC_TRANSB
#define LT_DESC_EPILOGUE HIPBLASLT_MATMUL_DESC_EPILOGUE
#define LT_DESC_BIAS_POINTER HIPBLASLT_MATMUL_DESC_BIAS_POINTER
#define LT_DESC_BIAS_DATA_TYPE HIPBLASLT_MATMUL_DESC_BIAS_DATA_TYPE
#define LT_PREF_MAX_WORKSPACE_BYTES HIPBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES
#else
#define LT_HIP 0
#define LT_LIB "cuBLASLt"
#define ltHandle_t cublasLtHandle_t
#define ltCreate cublasLtCreate
#define ltDestroy cublasLtDestroy
#define LT_OK CUBLAS_STATUS_SUCCESS
#define ltAlgo_t cublasLtMatmulAlgo_t
#define ltHeuristic_t cublasLtMatmulHeuristicResult_t
#define ltDesc_t cublasLtMatmulDesc_t
#define ltDescCreate cublasLtMatmulDescCreate
#define ltDescDestroy cublasLtMatmulDescDestroy
#define ltDescSetAttribute cublasLtMatmulDescSetAttribute
#define ltLayout_t cublasLtMatrixLayout_t
#define ltLayoutCreate cublasLtMatrixLayoutCreate
#define ltLayoutDestroy cublasLtMatrixLayoutDestroy
#define ltPref_t cublasLtMatmulPreference_t
#define ltPrefCreate cublasLtMatmulPreferenceCreate
#define ltPrefDestroy cublasLtMatmulPreferenceDestroy
#define ltPrefSetAttribute cublasLtMatmulPreferenceSetAttribute
#define ltGetHeuristic cublasLtMatmulAlgoGetHeuristic
#define ltMatmul cublasLtMatmul
#define ltDataType_t cudaDataType_t
#define LT_R_16F CUDA_R_16F
#define LT_R_16BF CUDA_R_16BF
#define LT_R_32F CUDA_R_32F
#define LT_COMPUTE_32F CUBLAS_COMPUTE_32F
#define ltOp_t cublasOperation_t
#define LT_OP_T CUBLAS_OP_T
#define LT_OP_N CUBLAS_OP_N
#define ltEpilogue_t cublasLtEpilogue_t
#define LT_EPILOGUE_BIAS CUBLASLT_EPILOGUE_BIAS
#define LT_DESC_TRANSA CUBLASLT_MATMUL_DESC_TRANSA
#define LT_DESC_TRANSB CUBLASLT_MATMUL_DESC_TRANSB
#define LT_DESC_EPILOGUE CUBLASLT_MATMUL_DESC_EPILOGUE
#define LT_DESC_BIAS_POINTER CUBLASLT_MATMUL_DESC_BIAS_POINTER
#define LT_DESC_BIAS_DATA_TYPE CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE
#define LT_PREF_MAX_WORKSPACE_BYTES CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES
#endif

/* ---- x in the weights' type: round fp32 rows to bf16 / f16 (nearest even), dense ld = K ---- */

__global__ static void k_round_rows(void *out, const float *x, int64_t ldx, int64_t M, int64_t K, int f16) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= M * K) return;
    int64_t m = i / K, k = i % K;
    float v = x[m * ldx + k];
    if (f16) ((uint16_t *)out)[i] = qk_f32_to_f16_bits(v);
    else ((uint16_t *)out)[i] = qk_f32_to_bf16_bits(v);
}

/* flag |= 1 where rows [0, rows) of a and b differ in any bit; |= 2 where |a - c| exceeds
 * tol * (1 + |c|) (c the tile GEMM's result) */
__global__ static void k_compare(int *flag, const float *a, int64_t lda, const float *b, int64_t ldb, const float *c, int64_t ldc,
                                 int64_t rows, int64_t cols, float tol) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * cols) return;
    int64_t r = i / cols, j = i % cols;
    float va = a[r * lda + j];
    if (b && __float_as_uint(va) != __float_as_uint(b[r * ldb + j])) atomicOr(flag, 1);
    if (c) {
        float vc = c[r * ldc + j];
        if (!(fabsf(va - vc) <= tol * (1.0f + fabsf(vc)))) atomicOr(flag, 2);
    }
}

#define LT_CANDIDATES 8
#define LT_MAX_SHAPES 64

typedef struct lt_shape {
    int64_t N, K;
    int wt, bias, align; /* align: the bytes y is aligned to (16 or 4), so the algorithm's demands hold */
    int state; /* 0 unproven, 1 proven (algo), -1 tiles */
    ltAlgo_t algo;
} lt_shape;

struct qk_lt {
    ltHandle_t h;
    int disabled;        /* QUIPU_GPU_GEMM=tiles */
    int64_t max_m;       /* the forward state's largest batch: the algorithm is chosen for it */
    int n_shapes;
    lt_shape shapes[LT_MAX_SHAPES];
    int *d_flag;
    char note[256];      /* the first fallback, said once */
};

qpError_t qk_lt_create(qk_lt **out) {
    *out = NULL;
    qk_lt *L = (qk_lt *)calloc(1, sizeof *L);
    if (!L) return qpErrorInvalidValue;
    const char *g = getenv("QUIPU_GPU_GEMM");
    L->disabled = g && !strcmp(g, "tiles");
    if (ltCreate(&L->h) != LT_OK) {
        free(L);
        return qpErrorInvalidValue;
    }
    qpError_t e = qpMalloc((void **)&L->d_flag, sizeof(int));
    if (e != qpSuccess) {
        ltDestroy(L->h);
        free(L);
        return e;
    }
    *out = L;
    return qpSuccess;
}

void qk_lt_free(qk_lt *L) {
    if (!L) return;
    if (L->d_flag) (void)qpFree(L->d_flag);
    ltDestroy(L->h);
    free(L);
}

void qk_lt_set_max_rows(qk_lt *L, int64_t max_m) {
    if (L && max_m > L->max_m) L->max_m = max_m;
}

const char *qk_lt_note(const qk_lt *L) { return L && L->note[0] ? L->note : NULL; }

size_t qk_lt_workspace_bytes(int64_t max_m, int64_t max_width) {
    /* x in half precision, the proof's full-batch result, and the library's own scratch */
    size_t xh = ((size_t)max_m * (size_t)max_width * 2 + 255) & ~(size_t)255;
    size_t pr = ((size_t)max_m * (size_t)max_width * 4 + 255) & ~(size_t)255;
    return xh + pr + QK_LT_LIB_WS;
}

/* one cuBLASLt / hipBLASLt product: column-major D[N, M] = A^T B with A = w as K x N (ld K), B = xh as K x M */
typedef struct lt_call {
    ltDesc_t op;
    ltLayout_t a, b, c;
} lt_call;

static void lt_call_free(lt_call *k) {
    if (k->c) ltLayoutDestroy(k->c);
    if (k->b) ltLayoutDestroy(k->b);
    if (k->a) ltLayoutDestroy(k->a);
    if (k->op) ltDescDestroy(k->op);
    memset(k, 0, sizeof *k);
}

static int lt_call_make(lt_call *k, qk_wtype wt, const float *bias, int64_t M, int64_t K, int64_t N, int64_t ldy) {
    memset(k, 0, sizeof *k);
    ltDataType_t dt = wt == QK_W_F16 ? LT_R_16F : LT_R_16BF;
    ltOp_t ta = LT_OP_T, tb = LT_OP_N;
    if (ltDescCreate(&k->op, LT_COMPUTE_32F, LT_R_32F) != LT_OK) return -1;
    int ok = ltDescSetAttribute(k->op, LT_DESC_TRANSA, &ta, sizeof ta) == LT_OK &&
             ltDescSetAttribute(k->op, LT_DESC_TRANSB, &tb, sizeof tb) == LT_OK;
    if (ok && bias) {
        ltEpilogue_t ep = LT_EPILOGUE_BIAS;
        ltDataType_t bt = LT_R_32F;
        ok = ltDescSetAttribute(k->op, LT_DESC_EPILOGUE, &ep, sizeof ep) == LT_OK &&
             ltDescSetAttribute(k->op, LT_DESC_BIAS_POINTER, &bias, sizeof bias) == LT_OK &&
             ltDescSetAttribute(k->op, LT_DESC_BIAS_DATA_TYPE, &bt, sizeof bt) == LT_OK;
    }
    ok = ok && ltLayoutCreate(&k->a, dt, (uint64_t)K, (uint64_t)N, K) == LT_OK &&
         ltLayoutCreate(&k->b, dt, (uint64_t)K, (uint64_t)M, K) == LT_OK &&
         ltLayoutCreate(&k->c, LT_R_32F, (uint64_t)N, (uint64_t)M, ldy) == LT_OK;
    if (!ok) {
        lt_call_free(k);
        return -1;
    }
    return 0;
}

static int lt_run(qk_lt *L, qpStream_t s, const ltAlgo_t *algo, qk_wtype wt, float *y, int64_t ldy, const void *xh,
                  const void *w, const float *bias, int64_t M, int64_t K, int64_t N, void *lib_ws) {
    lt_call k;
    if (lt_call_make(&k, wt, bias, M, K, N, ldy)) return -1;
    float alpha = 1.0f, beta = 0.0f;
#if LT_HIP
    /* hipBLASLt's AlgoCheck is the C++ extension's matmulIsAlgoSupported, which writes the
     * problem into the algorithm it is given: a copy, so the shape's stays as chosen */
    ltAlgo_t chk_algo = *algo;
    size_t chk_ws = 0;
    int ok = hipblaslt_ext::matmulIsAlgoSupported(L->h, k.op, &alpha, k.a, k.b, &beta, k.c, k.c, chk_algo, chk_ws) == LT_OK &&
             chk_ws <= QK_LT_LIB_WS &&
             ltMatmul(L->h, k.op, &alpha, w, k.a, xh, k.b, &beta, y, k.c, y, k.c, &chk_algo, lib_ws, QK_LT_LIB_WS, s) == LT_OK;
#else
    ltHeuristic_t chk;
    int ok = cublasLtMatmulAlgoCheck(L->h, k.op, k.a, k.b, k.c, k.c, algo, &chk) == LT_OK &&
             chk.workspaceSize <= QK_LT_LIB_WS &&
             ltMatmul(L->h, k.op, &alpha, w, k.a, xh, k.b, &beta, y, k.c, y, k.c, algo, lib_ws, QK_LT_LIB_WS, s) ==
                 LT_OK;
#endif
    lt_call_free(&k);
    return ok ? 0 : -1;
}

static void note_once(qk_lt *L, const char *fmt, int64_t N, int64_t K) {
    if (L->note[0]) return;
    snprintf(L->note, sizeof L->note, fmt, (long long)N, (long long)K);
    fprintf(stderr, "quipu warn: %s\n", L->note);
}

static lt_shape *find_shape(qk_lt *L, int64_t N, int64_t K, int wt, int bias, int align) {
    for (int i = 0; i < L->n_shapes; i++) {
        lt_shape *sh = &L->shapes[i];
        if (sh->N == N && sh->K == K && sh->wt == wt && sh->bias == bias && sh->align == align) return sh;
    }
    if (L->n_shapes == LT_MAX_SHAPES) return NULL;
    lt_shape *sh = &L->shapes[L->n_shapes++];
    memset(sh, 0, sizeof *sh);
    sh->N = N, sh->K = K, sh->wt = wt, sh->bias = bias, sh->align = align;
    return sh;
}

/* Proves a candidate on the call's data: y <- tile GEMM, P <- all M rows, then row 0 alone and
 * rows [0, M/2) alone into y must equal P's, and P must agree with the tiles. 0 = proven. */
static int prove(qk_lt *L, qpStream_t s, const ltAlgo_t *algo, qk_wtype wt, float *y, int64_t ldy, const float *x, int64_t ldx,
                 const void *xh, const void *w, const float *bias, int64_t M, int64_t K, int64_t N, float *P, void *lib_ws) {
    int flag = 0;
    unsigned nb = (unsigned)((M * N + 255) / 256);
    if (qk_matmul(s, y, ldy, x, ldx, w, wt, bias, M, K, N, 0) != qpSuccess) return -1;
    if (lt_run(L, s, algo, wt, P, N, xh, w, bias, M, K, N, lib_ws)) return -1;
    if (qpMemsetAsync(L->d_flag, 0, sizeof(int), s) != qpSuccess) return -1;
    /* bf16 x: relative error 2^-9 per element, summed over K terms of either sign */
    float tol = wt == QK_W_F16 ? 4e-3f : 3e-2f;
    k_compare<<<nb, 256, 0, s>>>(L->d_flag, P, N, NULL, 0, y, ldy, M, N, tol);
    int64_t parts[2] = {1, M / 2};
    for (int p = 0; p < 2; p++) {
        int64_t m = parts[p];
        if (m < 1) continue;
        if (lt_run(L, s, algo, wt, y, ldy, xh, w, bias, m, K, N, lib_ws)) return -1;
        k_compare<<<(unsigned)((m * N + 255) / 256), 256, 0, s>>>(L->d_flag, P, N, y, ldy, NULL, 0, m, N, 0.0f);
    }
    if (qpGetLastError() != qpSuccess) return -1;
    if (qpMemcpyAsync(&flag, L->d_flag, sizeof flag, qpMemcpyDeviceToHost, s) != qpSuccess || qpStreamSynchronize(s) != qpSuccess)
        return -1;
    return flag ? flag : 0;
}

static void choose(qk_lt *L, lt_shape *sh, qpStream_t s, qk_wtype wt, float *y, int64_t ldy, const float *x, int64_t ldx, const void *xh,
                   const void *w, const float *bias, int64_t M, int64_t K, int64_t N, float *P, void *lib_ws) {
    sh->state = -1;
    int64_t mref = L->max_m > M ? L->max_m : M;
    lt_call k;
    if (lt_call_make(&k, wt, bias, mref, K, N, N)) return;
    ltPref_t pref = NULL;
    ltHeuristic_t res[LT_CANDIDATES];
    int n = 0;
    size_t wsb = QK_LT_LIB_WS;
#if LT_HIP
    /* the workspace is all a hipBLASLt preference takes: no alignment, no reduction scheme (the
     * top of this file); the proof below is what keeps a split-K kernel out */
    if (ltPrefCreate(&pref) == LT_OK &&
        ltPrefSetAttribute(pref, LT_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb) == LT_OK &&
        ltGetHeuristic(L->h, k.op, k.a, k.b, k.c, k.c, pref, LT_CANDIDATES, res, &n) != LT_OK)
        n = 0;
#else
    uint32_t scheme = CUBLASLT_REDUCTION_SCHEME_NONE, a16 = 16, ay = (uint32_t)sh->align;
    if (ltPrefCreate(&pref) == LT_OK &&
        ltPrefSetAttribute(pref, LT_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb) == LT_OK &&
        ltPrefSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &a16, sizeof a16) == LT_OK &&
        ltPrefSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &a16, sizeof a16) == LT_OK &&
        ltPrefSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ay, sizeof ay) == LT_OK &&
        ltPrefSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ay, sizeof ay) == LT_OK &&
        ltPrefSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &scheme, sizeof scheme) ==
            LT_OK &&
        ltGetHeuristic(L->h, k.op, k.a, k.b, k.c, k.c, pref, LT_CANDIDATES, res, &n) != LT_OK)
        n = 0;
#endif
    if (pref) ltPrefDestroy(pref);
    lt_call_free(&k);
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (res[i].state != LT_OK) continue;
        ltAlgo_t a = res[i].algo;
#if !LT_HIP
        int32_t one = 1;
        (void)cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &one, sizeof one);
        (void)cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &scheme, sizeof scheme);
#endif
        last = prove(L, s, &a, wt, y, ldy, x, ldx, xh, w, bias, M, K, N, P, lib_ws);
        if (last == 0) {
            sh->algo = a;
            sh->state = 1;
            return;
        }
    }
    (void)qpGetLastError(); /* a failed candidate leaves no sticky error for the next launch */
    note_once(L,
              last & 1 ? LT_LIB ": no batch-invariant algorithm for a %lldx%lld weight on this GPU; that shape uses the tile GEMM"
              : last & 2 ? LT_LIB ": results for a %lldx%lld weight disagree with the tile GEMM; that shape uses the tile GEMM"
                         : LT_LIB ": no algorithm for a %lldx%lld weight; that shape uses the tile GEMM",
              N, K);
}

qpError_t qk_lt_matmul(qk_lt *L, qpStream_t s, float *y, int64_t ldy, const float *x, int64_t ldx, const void *w, qk_wtype wt,
                       const float *bias, int64_t M, int64_t K, int64_t N, int accumulate, void *ws, size_t ws_bytes) {
    if (!L || L->disabled || wt == QK_W_F32 || accumulate || M == 0 || N == 0 || (K & 7) || ((uintptr_t)w & 15) ||
        ((uintptr_t)y & 3) || ((uintptr_t)ws & 255) || ws_bytes < qk_lt_workspace_bytes(M, K > N ? K : N))
        return qk_matmul(s, y, ldy, x, ldx, w, wt, bias, M, K, N, accumulate);
    int align = ((uintptr_t)y & 15) == 0 && (ldy & 3) == 0 ? 16 : 4;
    lt_shape *sh = find_shape(L, N, K, (int)wt, bias != NULL, align);
    if (!sh || sh->state < 0 || (sh->state == 0 && M < 2)) return qk_matmul(s, y, ldy, x, ldx, w, wt, bias, M, K, N, accumulate);
    int64_t width = K > N ? K : N;
    size_t xh_bytes = ((size_t)M * (size_t)width * 2 + 255) & ~(size_t)255;
    size_t pr_bytes = ((size_t)M * (size_t)width * 4 + 255) & ~(size_t)255;
    char *base = (char *)ws;
    void *xh = base;
    float *P = (float *)(base + xh_bytes);
    void *lib_ws = base + xh_bytes + pr_bytes;
    k_round_rows<<<(unsigned)((M * K + 255) / 256), 256, 0, s>>>(xh, x, ldx, M, K, wt == QK_W_F16);
    qpError_t e = qpGetLastError();
    if (e != qpSuccess) return e;
    if (sh->state == 0) choose(L, sh, s, wt, y, ldy, x, ldx, xh, w, bias, M, K, N, P, lib_ws);
    if (sh->state < 0 || lt_run(L, s, &sh->algo, wt, y, ldy, xh, w, bias, M, K, N, lib_ws)) {
        if (sh->state > 0) {
            sh->state = -1;
            note_once(L, LT_LIB ": the algorithm chosen for a %lldx%lld weight failed on a batch; that shape now uses the tile GEMM", N, K);
        }
        (void)qpGetLastError();
        return qk_matmul(s, y, ldy, x, ldx, w, wt, bias, M, K, N, accumulate);
    }
    return qpSuccess;
}

#else /* no cuBLASLt / hipBLASLt: the tile GEMM for everything */

struct qk_lt {
    int unused;
};
qpError_t qk_lt_create(qk_lt **out) {
    *out = NULL;
    return qpSuccess;
}
void qk_lt_free(qk_lt *L) { (void)L; }
void qk_lt_set_max_rows(qk_lt *L, int64_t max_m) { (void)L, (void)max_m; }
const char *qk_lt_note(const qk_lt *L) { return NULL; }
size_t qk_lt_workspace_bytes(int64_t max_m, int64_t max_width) { return 0; }
qpError_t qk_lt_matmul(qk_lt *L, qpStream_t s, float *y, int64_t ldy, const float *x, int64_t ldx, const void *w, qk_wtype wt,
                       const float *bias, int64_t M, int64_t K, int64_t N, int accumulate, void *ws, size_t ws_bytes) {
    (void)L, (void)ws, (void)ws_bytes;
    return qk_matmul(s, y, ldy, x, ldx, w, wt, bias, M, K, N, accumulate);
}

#endif
