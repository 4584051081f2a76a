/* elementwise.cu — embedding gather, residual add, activations. References: cpu_embed,
 * cpu_add, cpu_act (src/backend_cpu.c). */
#include "kernels.h"

static unsigned blocks_for(int64_t n, int threads) { return (unsigned)((n + threads - 1) / threads); }

__global__ static void k_embed(float *out, const float *table, const int32_t *ids, int64_t T, int64_t D, int64_t n_vocab, float scale,
                               int *bad) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= T * D) return;
    int64_t t = i / D, d = i % D;
    int32_t id = ids[t];
    if (id < 0 || id >= n_vocab) {
        *bad = 1;
        out[i] = 0.0f;
        return;
    }
    out[i] = table[(int64_t)id * D + d] * scale;
}

qpError_t qk_embed(qpStream_t s, float *out, const float *table, const int32_t *ids, int64_t T, int64_t D, int64_t n_vocab,
                   float scale, int *bad) {
    if (T * D == 0) return qpSuccess;
    k_embed<<<blocks_for(T * D, 256), 256, 0, s>>>(out, table, ids, T, D, n_vocab, scale, bad);
    return qpGetLastError();
}

__global__ static void k_add(float *y, const float *x, int64_t n) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += x[i];
}

qpError_t qk_add(qpStream_t s, float *y, const float *x, int64_t n) {
    if (n == 0) return qpSuccess;
    k_add<<<blocks_for(n, 256), 256, 0, s>>>(y, x, n);
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

__global__ static void k_act(float *g, const float *u, int64_t n, int kind) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float y = act_apply(g[i], kind);
    g[i] = u ? y * u[i] : y;
}

qpError_t qk_act(qpStream_t s, float *gate, const float *up, int64_t n, int kind) {
    if (n == 0) return qpSuccess;
    k_act<<<blocks_for(n, 256), 256, 0, s>>>(gate, up, n, kind);
    return qpGetLastError();
}
