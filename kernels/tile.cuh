/* tile.cuh — the fp32 register-tile product shared by matmul.cu and logprob.cu:
 * a 64 x 64 block of y = x w^T, 256 threads with 4 x 4 outputs each, k in steps of 16 through
 * shared memory. Each output is one fmaf chain over k = 0, 1, ..., K-1 in order, whatever the
 * block, row or column it lands in: the result of a row never depends on the rest of the batch.
 * Rows of x (ldx floats apart: x may be a column slice of a wider matrix) come through an
 * optional index (the scored rows of the log-prob); w is dense, of type TW (float, __half or
 * qk_bf16): the loading threads widen each weight to fp32 (exactly) as they stage it into
 * shared memory, so the product is the fp32 one over the stored weights, in the same order,
 * for every TW. */
#ifndef QUIPU_KERNELS_TILE_CUH
#define QUIPU_KERNELS_TILE_CUH

#include "half.cuh"

#define TILE_M 64
#define TILE_N 64
#define TILE_K 16
#define TILE_THREADS 256

typedef struct tile_smem {
    float a[TILE_K][TILE_M + 4];
    float b[TILE_K][TILE_N + 4];
} tile_smem;

/* acc[i][j] = sum_k x[row(m0 + ty*4 + i), k] * w[n0 + tx*4 + j, k]; rows past M and columns
 * past N read zeros (their outputs are not written by the callers) */
template <typename TW>
__device__ static inline void tile_product(float acc[4][4], tile_smem *sm, const float *x, int64_t ldx, const int32_t *row_index,
                                           int64_t M, const TW *w, int64_t N, int64_t K, int64_t m0, int64_t n0) {
    int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
    int lr = tid / 4, lk = (tid % 4) * 4; /* loader: one row, four k */
    int64_t xm = m0 + lr, wn = n0 + lr;
    const float *xrow = NULL;
    if (xm < M) xrow = x + (int64_t)(row_index ? row_index[xm] : xm) * ldx;
    const TW *wrow = wn < N ? w + wn * K : NULL;
    for (int64_t k0 = 0; k0 < K; k0 += TILE_K) {
        for (int u = 0; u < 4; u++) {
            int64_t k = k0 + lk + u;
            sm->a[lk + u][lr] = (xrow && k < K) ? xrow[k] : 0.0f;
            sm->b[lk + u][lr] = (wrow && k < K) ? wload(wrow, k) : 0.0f;
        }
        __syncthreads();
        int kend = K - k0 < TILE_K ? (int)(K - k0) : TILE_K;
        for (int kk = 0; kk < kend; kk++) {
            float av[4], bv[4];
            for (int i = 0; i < 4; i++) av[i] = sm->a[kk][ty * 4 + i];
            for (int j = 0; j < 4; j++) bv[j] = sm->b[kk][tx * 4 + j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
}

#endif
