/* matmul.cu — y = x w^T (+ bias) (+ y), sums in fp32 (tile.cuh: one fmaf chain per output over k
 * in order, so batch invariant), w in fp32 (the exact mode) or bf16 / f16 (widened as staged).
 * Reference: cpu_matmul (src/backend_cpu.c), and matmul_ref over the rounded weights
 * (tests/test_backend_ops.c). The tensor-core GEMM (gemm_lt.cu) falls back to this one wherever
 * it has no proven batch-invariant algorithm. */
#include "tile.cuh"

template <typename TW>
__global__ static void __launch_bounds__(TILE_THREADS) k_matmul(float *y, int64_t ldy, const float *x, int64_t ldx, const TW *w,
                                                                 const float *bias, int64_t M, int64_t K, int64_t N, int accumulate) {
    __shared__ tile_smem sm;
    int64_t m0 = (int64_t)blockIdx.y * TILE_M, n0 = (int64_t)blockIdx.x * TILE_N;
    float acc[4][4];
    tile_product(acc, &sm, x, ldx, NULL, M, w, N, K, m0, n0);
    int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
    for (int i = 0; i < 4; i++) {
        int64_t m = m0 + ty * 4 + i;
        if (m >= M) continue;
        for (int j = 0; j < 4; j++) {
            int64_t n = n0 + tx * 4 + j;
            if (n >= N) continue;
            float v = acc[i][j];
            if (accumulate) {
                y[m * ldy + n] += v + (bias ? bias[n] : 0.0f);
            } else {
                if (bias) v += bias[n];
                y[m * ldy + n] = v;
            }
        }
    }
}

qpError_t qk_matmul(qpStream_t s, float *y, int64_t ldy, const float *x, int64_t ldx, const void *w, qk_wtype wt, const float *bias,
                    int64_t M, int64_t K, int64_t N, int accumulate) {
    if (M == 0 || N == 0) return qpSuccess;
    dim3 grid((unsigned)((N + TILE_N - 1) / TILE_N), (unsigned)((M + TILE_M - 1) / TILE_M));
    switch (wt) {
    case QK_W_F32: k_matmul<<<grid, TILE_THREADS, 0, s>>>(y, ldy, x, ldx, (const float *)w, bias, M, K, N, accumulate); break;
    case QK_W_F16: k_matmul<<<grid, TILE_THREADS, 0, s>>>(y, ldy, x, ldx, (const __half *)w, bias, M, K, N, accumulate); break;
    case QK_W_BF16: k_matmul<<<grid, TILE_THREADS, 0, s>>>(y, ldy, x, ldx, (const qk_bf16 *)w, bias, M, K, N, accumulate); break;
    default: return qpErrorInvalidValue;
    }
    return qpGetLastError();
}
