/* kernels.h — the launchers of quipu's GPU kernels, one .cu file per op. Each launcher enqueues
 * on the given stream and returns the launch error, if any. Every kernel has a plain-C
 * reference: the CPU backend's op of the same name (src/backend_cpu.c), and the scalar _ref of
 * tests/test_backend_ops.c. Shape letters as in src/backend.h. All kernels are deterministic:
 * fixed reduction orders, no atomics on values. */
#ifndef QUIPU_KERNELS_H
#define QUIPU_KERNELS_H

#include <stdint.h>

#include "vendor.h"

/* one scored row's share of the log-prob over a vocabulary range (logprob.cu) */
typedef struct qk_lp_partial {
    double max, sumexp, target; /* target: its logit if the target id is in the range, else 0 */
    float amax_v;
    int32_t amax_i;
} qk_lp_partial;

/* out[t, :] = table[ids[t], :] * scale; *bad set to 1 when an id is outside [0, n_vocab) */
qpError_t qk_embed(qpStream_t s, float *out, const float *table, const int32_t *ids, int64_t T, int64_t D, int64_t n_vocab,
                   float scale, int *bad);
/* y[i] += x[i] */
qpError_t qk_add(qpStream_t s, float *y, const float *x, int64_t n);
/* y[M, N] (+)= x[M, K] w[N, K]^T + bias: fp32, each element summed over k in order (batch invariant) */
qpError_t qk_matmul_f32(qpStream_t s, float *y, const float *x, const float *w, const float *bias, int64_t M, int64_t K, int64_t N,
                        int accumulate);
/* RMSNorm (kind 0) or LayerNorm (kind 1) over rows of width D, sums in double */
qpError_t qk_norm(qpStream_t s, float *y, const float *x, const float *w, const float *b, int64_t rows, int64_t D, float eps, int kind);
/* RoPE in place on x[T, H, HD]; kind 1 adjacent pairs, 2 halves */
qpError_t qk_rope(qpStream_t s, float *x, const int32_t *pos, const float *freq_factors, int64_t T, int64_t H, int64_t HD,
                  int64_t n_rot, float base, float pos_scale, int kind);
/* packed-sequence attention with a shared prefix range per query (see quipu_attention_args);
 * pos, seg_lo, pre_lo, pre_hi are device arrays of T entries */
qpError_t qk_attention(qpStream_t s, float *out, const float *q, const float *k, const float *v, const int32_t *pos,
                       const int32_t *seg_lo, const int32_t *pre_lo, const int32_t *pre_hi, int64_t T, int64_t H, int64_t HKV,
                       int64_t HD, float scale, int32_t window);
/* gate = act(gate) * up (up may be NULL); kind as quipu_act_kind */
qpError_t qk_act(qpStream_t s, float *gate, const float *up, int64_t n, int kind);
/* log-prob, step 1: for each scored row r (h row rows[r]) and vocabulary block of QK_LP_VBLOCK
 * ids, the block's max, first argmax, sum of exp(logit - max) and target logit */
#define QK_LP_VBLOCK 1024
qpError_t qk_logprob_partial(qpStream_t s, qk_lp_partial *part, const float *h, const float *lm_head, const int32_t *rows,
                             const int32_t *targets, int64_t R, int64_t D, int64_t V);
/* step 2: the blocks of each row combined in vocabulary order: logprob = target - logsumexp,
 * greedy = (first argmax == target). Also used to merge ranges held by several GPUs. */
qpError_t qk_logprob_combine(qpStream_t s, double *logprob, uint8_t *greedy, const qk_lp_partial *part, const int32_t *targets,
                             int64_t R, int64_t n_blocks);

#endif
