/* elementwise.cu — embedding gather (the table in fp32, bf16 or f16, widened as gathered),
 * residual add, activations. References: cpu_embed, cpu_add, cpu_act (src/backend_cpu.c). */
#include "half.cuh"

static unsigned blocks_for(int64_t n, int threads) { return (unsigned)((n + threads - 1) / threads); }

template <typename TW>
__global__ static void k_embed(float *out, int64_t ldo, const TW *table, int64_t ldt, const int32_t *ids, int64_t T, int64_t D,
                               int64_t n_vocab, float scale, int *bad) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= T * D) return;
    int64_t t = i / D, d = i % D;
    int32_t id = ids[t];
    if (id < 0 || id >= n_vocab) {
        *bad = 1;
        out[t * ldo + d] = 0.0f;
        return;
    }
    out[t * ldo + d] = wload(table, (int64_t)id * ldt + d) * scale;
}

qpError_t qk_embed(qpStream_t s, float *out, int64_t ldo, const void *table, int64_t ldt, qk_wtype wt, const int32_t *ids, int64_t T,
                   int64_t D, int64_t n_vocab, float scale, int *bad) {
    if (T * D == 0) return qpSuccess;
    unsigned nb = blocks_for(T * D, 256);
    switch (wt) {
    case QK_W_F32: k_embed<<<nb, 256, 0, s>>>(out, ldo, (const float *)table, ldt, ids, T, D, n_vocab, scale, bad); break;
    case QK_W_F16: k_embed<<<nb, 256, 0, s>>>(out, ldo, (const __half *)table, ldt, ids, T, D, n_vocab, scale, bad); break;
    case QK_W_BF16: k_embed<<<nb, 256, 0, s>>>(out, ldo, (const qk_bf16 *)table, ldt, ids, T, D, n_vocab, scale, bad); break;
    default: return qpErrorInvalidValue;
    }
    return qpGetLastError();
}

__global__ static void k_add(float *y, int64_t ldy, const float *x, int64_t ldx, int64_t rows, int64_t cols) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * cols) return;
    int64_t r = i / cols, c = i % cols;
    y[r * ldy + c] += x[r * ldx + c];
}

qpError_t qk_add(qpStream_t s, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t rows, int64_t cols) {
    if (rows * cols == 0) return qpSuccess;
    k_add<<<blocks_for(rows * cols, 256), 256, 0, s>>>(y, ldy, x, ldx, rows, cols);
    return qpGetLastError();
}

__device__ static inline float act_apply(float x, int kind) {
    switch (kind) {
    case 0: return x / (1.0f + expf(-x));
    case 1: {
        const float c = 0.7978845608028654f;
        return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
    }
    default: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    }
}

__global__ static void k_act(float *g, int64_t ldg, const float *u, int64_t ldu, int64_t rows, int64_t cols, int kind) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * cols) return;
    int64_t r = i / cols, c = i % cols;
    float y = act_apply(g[r * ldg + c], kind);
    g[r * ldg + c] = u ? y * u[r * ldu + c] : y;
}

qpError_t qk_act(qpStream_t s, float *gate, int64_t ldg, const float *up, int64_t ldu, int64_t rows, int64_t cols, int kind) {
    if (rows * cols == 0) return qpSuccess;
    k_act<<<blocks_for(rows * cols, 256), 256, 0, s>>>(gate, ldg, up, ldu, rows, cols, kind);
    return qpGetLastError();
}
