/* norm_rope.cu — RMSNorm / LayerNorm (one block per group of a row: the whole row, or a head
 * for QK-norm; sums in double reduced in a fixed tree; the residual add fused in front) and rotary embeddings (both layouts, per-dimension frequency factors for llama3
 * scaling). References: cpu_norm, cpu_rope (src/backend_cpu.c). */
#include "kernels.h"

#define NORM_THREADS 256

/* the block's sum of v, in a fixed order: every thread ends with the same value */
__device__ static double block_sum(double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int w = NORM_THREADS / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

__global__ static void k_norm(float *y, int64_t ldy, float *x, int64_t ldx, const float *res, int64_t ldr, const float *w, const float *b,
                              int64_t G, int64_t D, float eps, int kind) {
    __shared__ double sh[NORM_THREADS];
    int64_t r = (int64_t)blockIdx.x / G, g = (int64_t)blockIdx.x % G;
    float *xr = x + r * ldx + g * D;
    float *yr = y + r * ldy + g * D;
    if (res) /* x += residual, each element by the thread that reads it below */
        for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS) xr[i] += res[r * ldr + g * D + i];
    if (kind == 0) {
        double ss = 0.0;
        for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS) ss += (double)xr[i] * xr[i];
        ss = block_sum(ss, sh);
        float inv = (float)(1.0 / sqrt(ss / (double)D + (double)eps));
        for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS) yr[i] = xr[i] * inv * (w ? w[i] : 1.0f);
    } else {
        double m = 0.0;
        for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS) m += xr[i];
        double mean = block_sum(m, sh) / (double)D;
        double v = 0.0;
        for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS) v += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        double var = block_sum(v, sh) / (double)D;
        float inv = (float)(1.0 / sqrt(var + (double)eps));
        for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS)
            yr[i] = (float)((double)xr[i] - mean) * inv * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
    }
}

qpError_t qk_norm(qpStream_t s, float *y, int64_t ldy, float *x, int64_t ldx, const float *res, int64_t ldr, const float *w, const float *b,
                  int64_t rows, int64_t G, int64_t D, float eps, int kind) {
    if (rows == 0 || G == 0) return qpSuccess;
    k_norm<<<(unsigned)(rows * G), NORM_THREADS, 0, s>>>(y, ldy, x, ldx, res, ldr, w, b, G, D, eps, kind);
    return qpGetLastError();
}

__global__ static void k_rope(float *x, int64_t ldx, const int32_t *pos, const float *ff, int64_t T, int64_t H, int64_t HD, int64_t n_rot,
                              float base, float pos_scale, int kind) {
    int64_t half = n_rot / 2;
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= T * half) return;
    int64_t t = idx / half, i = idx % half;
    double p = (double)pos[t] * (double)pos_scale;
    /* the exponent as the CPU computes it, the power in double and rounded once: the device's
     * powf is a few ulp off glibc's, which at positions of 100k moves the angle by 1e-2 rad */
    float inv = 1.0f / (float)pow((double)base, (double)((float)(2 * i) / (float)n_rot));
    if (ff) inv /= ff[i];
    float ang = (float)(p * (double)inv);
    float cs = cosf(ang), sn = sinf(ang);
    for (int64_t h = 0; h < H; h++) {
        float *xh = x + t * ldx + h * HD;
        int64_t i0 = kind == 1 ? 2 * i : i, i1 = kind == 1 ? 2 * i + 1 : i + half;
        float x0 = xh[i0], x1 = xh[i1];
        xh[i0] = x0 * cs - x1 * sn;
        xh[i1] = x1 * cs + x0 * sn;
    }
}

qpError_t qk_rope(qpStream_t s, float *x, int64_t ldx, const int32_t *pos, const float *freq_factors, int64_t T, int64_t H, int64_t HD,
                  int64_t n_rot, float base, float pos_scale, int kind) {
    if (kind == 0 || T == 0 || n_rot < 2) return qpSuccess;
    int64_t n = T * (n_rot / 2);
    k_rope<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(x, ldx, pos, freq_factors, T, H, HD, n_rot, base, pos_scale, kind);
    return qpGetLastError();
}
