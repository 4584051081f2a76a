/* moe_route.cu — mixture-of-experts routing: per token, the softmax over E router logits, the k
 * largest probabilities (a tie to the lower expert index), their weights (renormalized when norm),
 * written in ascending expert order. One thread per token: a token's choice is its own, whatever
 * the batch. Reference: cpu_moe_route (src/backend_cpu.c), moe_route_ref (tests/test_backend_ops.c).
 * Shape letters: T tokens, E experts, K experts per token. */
#include "kernels.h"

static unsigned blocks_for(int64_t n, int threads) { return (unsigned)((n + threads - 1) / threads); }

/* p_e as the CPU computes it: exp(l_e - max) in fp32, divided by the double sum of them */
__device__ static inline float route_p(const float *l, int64_t e, float mx, double sum) {
    return (float)((double)expf(l[e] - mx) / sum);
}

__global__ static void k_moe_route(int32_t *ids, int64_t ldi, float *w, int64_t ldw, const float *logits, int64_t ldl, int64_t T, int64_t E,
                                   int64_t K, int norm) {
    int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= T) return;
    const float *l = logits + t * ldl;
    float mx = -INFINITY;
    for (int64_t e = 0; e < E; e++)
        if (l[e] > mx) mx = l[e];
    double sum = 0.0;
    for (int64_t e = 0; e < E; e++) sum += (double)expf(l[e] - mx);
    int32_t sel[QK_MOE_MAX_K];
    float ksum = 0.0f;
    for (int64_t j = 0; j < K; j++) {
        int64_t best = -1;
        float bp = 0.0f;
        for (int64_t e = 0; e < E; e++) {
            int taken = 0;
            for (int64_t i = 0; i < j; i++) taken |= sel[i] == (int32_t)e;
            if (taken) continue;
            float p = route_p(l, e, mx, sum);
            if (best < 0 || p > bp) {
                best = e;
                bp = p;
            }
        }
        sel[j] = (int32_t)best;
        ksum += bp;
    }
    for (int64_t j = 1; j < K; j++)
        for (int64_t i = j; i > 0 && sel[i - 1] > sel[i]; i--) {
            int32_t x = sel[i];
            sel[i] = sel[i - 1];
            sel[i - 1] = x;
        }
    for (int64_t j = 0; j < K; j++) {
        float p = route_p(l, sel[j], mx, sum);
        ids[t * ldi + j] = sel[j];
        w[t * ldw + j] = norm ? p / ksum : p;
    }
}

qpError_t qk_moe_route(qpStream_t s, int32_t *ids, int64_t ldi, float *weights, int64_t ldw, const float *logits, int64_t ldl, int64_t T,
                       int64_t E, int64_t K, int norm) {
    if (T == 0) return qpSuccess;
    if (K < 1 || K > QK_MOE_MAX_K || K > E) return qpErrorInvalidValue;
    k_moe_route<<<blocks_for(T, 128), 128, 0, s>>>(ids, ldi, weights, ldw, logits, ldl, T, E, K, norm);
    return qpGetLastError();
}
