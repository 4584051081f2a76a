/* moe_combine.cu — mixture-of-experts output: out[t, :] = sum over j of weights[t, j] * y[slot[t, j], :]
 * in slot order from 0, then + sigmoid(shared_gate[t]) * shared[t, :]. One thread per element; every
 * product and sum rounded on its own (__fmul_rn / __fadd_rn: no fused multiply-add), so the bits are
 * the CPU's. Reference: cpu_moe_combine (src/backend_cpu.c), moe_combine_ref (tests/test_backend_ops.c).
 * Shape letters: T tokens, D width, K experts per token, S expert rows. */
#include "kernels.h"

static unsigned blocks_for(int64_t n, int threads) { return (unsigned)((n + threads - 1) / threads); }

__global__ static void k_moe_combine(float *out, int64_t ldo, const float *y, int64_t ldy, int64_t S, const int32_t *slot, int64_t lds,
                                     const float *w, int64_t ldw, const float *sh, int64_t ldsh, const float *sg, int64_t ldsg, int64_t T,
                                     int64_t D, int64_t K) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= T * D) return;
    int64_t t = i / D, d = i % D;
    float acc = 0.0f;
    for (int64_t j = 0; j < K; j++) {
        int32_t r = slot[t * lds + j];
        if (r < 0 || r >= S) continue; /* the host's plan: in range by construction; never read outside */
        acc = __fadd_rn(acc, __fmul_rn(w[t * ldw + j], y[(int64_t)r * ldy + d]));
    }
    if (sh) {
        float gate = 1.0f / (1.0f + expf(-sg[t * ldsg]));
        acc = __fadd_rn(acc, __fmul_rn(gate, sh[t * ldsh + d]));
    }
    out[t * ldo + d] = acc;
}

qpError_t qk_moe_combine(qpStream_t s, float *out, int64_t ldo, const float *y, int64_t ldy, int64_t S, const int32_t *slot, int64_t lds,
                         const float *weights, int64_t ldw, const float *shared, int64_t ldsh, const float *shared_gate, int64_t ldsg, int64_t T,
                         int64_t D, int64_t K) {
    if (T * D == 0) return qpSuccess;
    k_moe_combine<<<blocks_for(T * D, 256), 256, 0, s>>>(out, ldo, y, ldy, S, slot, lds, weights, ldw, shared, ldsh, shared_gate, ldsg, T, D, K);
    return qpGetLastError();
}
