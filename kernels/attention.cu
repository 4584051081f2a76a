/* attention.cu — attention for scoring (prefill only) over packed variable-length sequences
 * that may share a prompt: query t sees the shared prefix [pre_lo[t], pre_hi[t]) and then its
 * own segment, [seg_lo[t], t] when causal or [seg_lo[t], seg_hi[t]) when bidirectional, within a
 * sliding window when one is set; GQA by head groups; optional logit soft-capping and ALiBi;
 * q, k, v and out rows with their own strides (slices of one fused QKV projection).
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

__global__ static void __launch_bounds__(ATT_THREADS) k_attention(qk_att_args a) {
    float *out = a.out;
    const float *q = a.q, *k = a.k, *v = a.v;
    const int32_t *pos = a.pos, *seg_lo = a.seg_lo, *seg_hi = a.seg_hi, *pre_lo = a.pre_lo, *pre_hi = a.pre_hi;
    int64_t H = a.H, HKV = a.HKV, HD = a.HD;
    int32_t window = a.window;
    __shared__ float qs[ATT_MAX_HD];
    __shared__ float p[ATT_THREADS];
    __shared__ int32_t key[ATT_THREADS];
    __shared__ float red[ATT_THREADS];
    int64_t t = blockIdx.x / H, h = blockIdx.x % H, hk = h / (H / HKV);
    int tid = threadIdx.x;
    const float *qt = q + t * a.ldq + h * HD;
    for (int64_t i = tid; i < HD; i += ATT_THREADS) qs[i] = qt[i];
    __syncthreads();
    int64_t npre = pre_hi[t] - pre_lo[t], n = npre + ((a.causal ? t + 1 : seg_hi[t]) - seg_lo[t]);
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
            int32_t dp = pos[t] - pos[s];
            if (window <= 0 || (dp < 0 ? -dp : dp) < window) {
                const float *ks = k + (int64_t)s * a.ldk + hk * HD;
                float d = 0.0f;
                for (int64_t i = 0; i < HD; i++) d += qs[i] * ks[i];
                d *= a.scale;
                if (a.softcap > 0.0f) d = a.softcap * tanhf(d / a.softcap);
                if (a.alibi) d += a.alibi[h] * (float)(pos[s] - pos[t]);
                sc = d;
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
            float o = acc[u] * corr;
            for (int jj = 0; jj < nj; jj++)
                if (p[jj] != 0.0f) o += p[jj] * v[(int64_t)key[jj] * a.ldv + hk * HD + d];
            acc[u] = o;
        }
        m = m_new;
        __syncthreads();
    }
    float *ot = out + t * a.ldo + h * HD;
    for (int u = 0; u * ATT_THREADS + tid < HD; u++) ot[u * ATT_THREADS + tid] = acc[u] / l;
}

qpError_t qk_attention(qpStream_t s, const qk_att_args *a) {
    if (a->T == 0) return qpSuccess;
    if (a->HD > ATT_MAX_HD || a->HKV <= 0 || a->H % a->HKV) return qpErrorInvalidValue;
    k_attention<<<(unsigned)(a->T * a->H), ATT_THREADS, 0, s>>>(*a);
    return qpGetLastError();
}
