/* logprob.cu — the fused log-prob: the LM head over 2-D tiles (scored rows x vocabulary), each
 * block reducing its logits at once to one (max, first argmax, sum of exp, target logit) per row
 * and vocabulary block of QK_LP_VBLOCK ids, so no rows x vocabulary logits ever exist; then a
 * second kernel combines a row's blocks in vocabulary order. No atomics: the same bits on every
 * run and for every batch. The partial kernel covers a range of the vocabulary [v_lo, v_lo + V)
 * (a GPU's share under tensor parallelism); the combine merges concatenated ranges exactly.
 * The LM head is fp32, bf16 or f16 (widened as staged, tile.cuh); logits and sums are fp32/double.
 * Reference: cpu_logprob_partial / cpu_logprob_combine (src/backend_cpu.c), the same split over
 * 4096-id blocks. */
#include "tile.cuh"

#define SUB_TILES (QK_LP_VBLOCK / TILE_N)

template <typename TW>
__global__ static void __launch_bounds__(TILE_THREADS) k_lp_partial(qk_lp_partial *part, int64_t ldp, const float *h, int64_t ldh,
                                                                     const TW *lm_head, const int32_t *rows, const int32_t *targets,
                                                                     int64_t R, int64_t D, int64_t V, int64_t v_lo, float softcap) {
    __shared__ tile_smem sm;
    __shared__ float lg[TILE_M][TILE_N + 1];
    int64_t r0 = (int64_t)blockIdx.y * TILE_M, vb = blockIdx.x;
    int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
    /* the state of row r0 + tid, held by threads 0..63 */
    double mx = -INFINITY, sum = 0.0, tgt = 0.0;
    float amax_v = -INFINITY;
    int32_t amax_i = -1;
    int64_t target = (tid < TILE_M && r0 + tid < R) ? (int64_t)targets[r0 + tid] - v_lo : -1; /* in the range's ids */
    for (int st = 0; st < SUB_TILES; st++) {
        int64_t v0 = vb * QK_LP_VBLOCK + (int64_t)st * TILE_N;
        if (v0 >= V) break;
        float acc[4][4];
        tile_product(acc, &sm, h, ldh, rows, R, lm_head, V, D, r0, v0);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) lg[ty * 4 + i][tx * 4 + j] = softcap > 0.0f ? softcap * tanhf(acc[i][j] / softcap) : acc[i][j];
        __syncthreads();
        if (tid < TILE_M && r0 + tid < R) {
            int nv = V - v0 < TILE_N ? (int)(V - v0) : TILE_N;
            float cm = -INFINITY;
            int ci = -1;
            for (int j = 0; j < nv; j++)
                if (lg[tid][j] > cm) {
                    cm = lg[tid][j];
                    ci = j;
                }
            if (cm > amax_v) { /* strict: the first maximum wins */
                amax_v = cm;
                amax_i = (int32_t)(v_lo + v0 + ci);
            }
            double m_new = (double)cm > mx ? (double)cm : mx;
            double s = 0.0;
            for (int j = 0; j < nv; j++) s += exp((double)lg[tid][j] - m_new);
            sum = (mx == -INFINITY ? 0.0 : sum * exp(mx - m_new)) + s;
            mx = m_new;
            if (target >= v0 && target < v0 + nv) tgt = (double)lg[tid][target - v0];
        }
        __syncthreads();
    }
    if (tid < TILE_M && r0 + tid < R) {
        qk_lp_partial p;
        p.max = mx;
        p.sumexp = sum;
        p.target = tgt;
        p.amax_v = amax_v;
        p.amax_i = amax_i;
        part[(r0 + tid) * ldp + vb] = p;
    }
}

qpError_t qk_logprob_partial(qpStream_t s, qk_lp_partial *part, int64_t ldp, const float *h, int64_t ldh, const void *lm_head,
                             qk_wtype wt, const int32_t *rows, const int32_t *targets, int64_t R, int64_t D, int64_t V, int64_t v_lo,
                             float softcap) {
    if (R == 0 || V == 0) return qpSuccess;
    int64_t n_blocks = (V + QK_LP_VBLOCK - 1) / QK_LP_VBLOCK;
    dim3 grid((unsigned)n_blocks, (unsigned)((R + TILE_M - 1) / TILE_M));
    switch (wt) {
    case QK_W_F32:
        k_lp_partial<<<grid, TILE_THREADS, 0, s>>>(part, ldp, h, ldh, (const float *)lm_head, rows, targets, R, D, V, v_lo, softcap);
        break;
    case QK_W_F16:
        k_lp_partial<<<grid, TILE_THREADS, 0, s>>>(part, ldp, h, ldh, (const __half *)lm_head, rows, targets, R, D, V, v_lo, softcap);
        break;
    case QK_W_BF16:
        k_lp_partial<<<grid, TILE_THREADS, 0, s>>>(part, ldp, h, ldh, (const qk_bf16 *)lm_head, rows, targets, R, D, V, v_lo, softcap);
        break;
    default: return qpErrorInvalidValue;
    }
    return qpGetLastError();
}

__global__ static void k_lp_combine(double *logprob, uint8_t *greedy, const qk_lp_partial *part, int64_t ldp, const int32_t *targets,
                                    int64_t R, int64_t n_blocks, int64_t block) {
    int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= R) return;
    const qk_lp_partial *p = part + r * ldp;
    double m = -INFINITY;
    for (int64_t b = 0; b < n_blocks; b++)
        if (p[b].max > m) m = p[b].max;
    double s = 0.0, tgt = 0.0;
    float best = -INFINITY;
    int32_t arg = -1, t = targets[r];
    for (int64_t b = 0; b < n_blocks; b++) {
        if (p[b].max != -INFINITY) s += p[b].sumexp * exp(p[b].max - m);
        if (p[b].amax_v > best) {
            best = p[b].amax_v;
            arg = p[b].amax_i;
        }
        if (t >= b * block && t < (b + 1) * block) tgt = p[b].target;
    }
    logprob[r] = tgt - (m + log(s));
    greedy[r] = (uint8_t)(arg == t);
}

qpError_t qk_logprob_combine(qpStream_t s, double *logprob, uint8_t *greedy, const qk_lp_partial *part, int64_t ldp,
                             const int32_t *targets, int64_t R, int64_t n_blocks, int64_t block) {
    if (R == 0) return qpSuccess;
    k_lp_combine<<<(unsigned)((R + 127) / 128), 128, 0, s>>>(logprob, greedy, part, ldp, targets, R, n_blocks, block);
    return qpGetLastError();
}
