/* attention.cu — attention for scoring (prefill only) over packed variable-length sequences
 * that may share a prompt: query t sees the shared prefix [pre_lo[t], pre_hi[t]) and then its
 * own segment [seg_lo[t], t], within a sliding window when one is set; GQA by head groups.
 * One block per (query, head); keys are visited in chunks of ATT_THREADS in that fixed order
 * with an online softmax (running max and sum, the output rescaled per chunk), so a token's
 * result is the same bits whether its prompt is shared or repeated, and whatever the batch.
 * Reference: cpu_attention (src/backend_cpu.c). */
#include "kernels.h"

#define ATT_THREADS 128
#define ATT_MAX_HD 512

__device__ static float block_reduce(float v, float *sh, int is_max) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int w = ATT_THREADS / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) {
            float o = sh[threadIdx.x + w];
            sh[threadIdx.x] = is_max ? fmaxf(sh[threadIdx.x], o) : sh[threadIdx.x] + o;
        }
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads();
    return r;
}

__global__ static void __launch_bounds__(ATT_THREADS) k_attention(float *out, const float *q, const float *k, const float *v,
                                                                  const int32_t *pos, const int32_t *seg_lo, const int32_t *pre_lo,
                                                                  const int32_t *pre_hi, int64_t H, int64_t HKV, int64_t HD,
                                                                  float scale, int32_t window) {
    __shared__ float qs[ATT_MAX_HD];
    __shared__ float p[ATT_THREADS];
    __shared__ int32_t key[ATT_THREADS];
    __shared__ float red[ATT_THREADS];
    int64_t t = blockIdx.x / H, h = blockIdx.x % H, hk = h / (H / HKV);
    int tid = threadIdx.x;
    const float *qt = q + (t * H + h) * HD;
    for (int64_t i = tid; i < HD; i += ATT_THREADS) qs[i] = qt[i];
    __syncthreads();
    int64_t npre = pre_hi[t] - pre_lo[t], n = npre + (t - seg_lo[t] + 1);
    /* each thread owns output dims tid, tid + ATT_THREADS, ... (at most ATT_MAX_HD / ATT_THREADS) */
    float acc[ATT_MAX_HD / ATT_THREADS];
    for (int u = 0; u < ATT_MAX_HD / ATT_THREADS; u++) acc[u] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int64_t j0 = 0; j0 < n; j0 += ATT_THREADS) {
        int64_t j = j0 + tid;
        float sc = -INFINITY;
        int32_t s = -1;
        if (j < n) {
            s = (int32_t)(j < npre ? pre_lo[t] + j : seg_lo[t] + (j - npre));
            if (window <= 0 || pos[t] - pos[s] < window) {
                const float *ks = k + ((int64_t)s * HKV + hk) * HD;
                float d = 0.0f;
                for (int64_t i = 0; i < HD; i++) d += qs[i] * ks[i];
                sc = d * scale;
            }
        }
        float cm = block_reduce(sc, red, 1);
        float m_new = fmaxf(m, cm);
        if (m_new == -INFINITY) continue; /* nothing visible yet */
        float e = sc == -INFINITY ? 0.0f : expf(sc - m_new);
        p[tid] = e;
        key[tid] = s;
        float cs = block_reduce(e, red, 0);
        float corr = m == -INFINITY ? 0.0f : expf(m - m_new);
        l = l * corr + cs;
        int nj = n - j0 < ATT_THREADS ? (int)(n - j0) : ATT_THREADS;
        for (int u = 0; u * ATT_THREADS + tid < HD; u++) {
            int64_t d = u * ATT_THREADS + tid;
            float a = acc[u] * corr;
            for (int jj = 0; jj < nj; jj++)
                if (p[jj] != 0.0f) a += p[jj] * v[((int64_t)key[jj] * HKV + hk) * HD + d];
            acc[u] = a;
        }
        m = m_new;
        __syncthreads();
    }
    float *ot = out + (t * H + h) * HD;
    for (int u = 0; u * ATT_THREADS + tid < HD; u++) ot[u * ATT_THREADS + tid] = acc[u] / l;
}

qpError_t qk_attention(qpStream_t s, float *out, const float *q, const float *k, const float *v, const int32_t *pos,
                       const int32_t *seg_lo, const int32_t *pre_lo, const int32_t *pre_hi, int64_t T, int64_t H, int64_t HKV,
                       int64_t HD, float scale, int32_t window) {
    if (T == 0) return qpSuccess;
    if (HD > ATT_MAX_HD || HKV <= 0 || H % HKV) return qpErrorInvalidValue;
    k_attention<<<(unsigned)(T * H), ATT_THREADS, 0, s>>>(out, q, k, v, pos, seg_lo, pre_lo, pre_hi, H, HKV, HD, scale, window);
    return qpGetLastError();
}
