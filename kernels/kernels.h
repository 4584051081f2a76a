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

/* Row strides (ld*) count elements between row starts, as quipu_view's ld does. */

/* The element type of a weight matrix (table, w, lm_head), as quipu_etype's F32 / F16 / BF16:
 * the kernels widen it to fp32 as they read it (half.cuh); activations and sums are fp32. */
typedef enum qk_wtype { QK_W_F32, QK_W_F16, QK_W_BF16 } qk_wtype;

/* out[t, :] = table[ids[t], :] * scale (table rows ldt elements apart, of type wt); *bad set to 1
 * when an id is outside [0, n_vocab) */
qpError_t qk_embed(qpStream_t s, float *out, int64_t ldo, const void *table, int64_t ldt, qk_wtype wt, const int32_t *ids, int64_t T,
                   int64_t D, int64_t n_vocab, float scale, int *bad);
/* y += x over rows x cols */
qpError_t qk_add(qpStream_t s, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t rows, int64_t cols);
/* y[M, N] (+)= x[M, K] w[N, K]^T + bias: w dense of type wt, sums in fp32, each element one fmaf
 * chain over k in order (batch invariant) */
qpError_t qk_matmul(qpStream_t s, float *y, int64_t ldy, const float *x, int64_t ldx, const void *w, qk_wtype wt, const float *bias,
                    int64_t M, int64_t K, int64_t N, int accumulate);
/* RMSNorm (kind 0) or LayerNorm (kind 1) over G groups of D per row (x += res first when res is
 * given), sums in double */
qpError_t qk_norm(qpStream_t s, float *y, int64_t ldy, float *x, int64_t ldx, const float *res, int64_t ldr, const float *w, const float *b,
                  int64_t rows, int64_t G, int64_t D, float eps, int kind);
/* RoPE in place on x[T, H * HD]; kind 1 adjacent pairs, 2 halves */
qpError_t qk_rope(qpStream_t s, float *x, int64_t ldx, const int32_t *pos, const float *freq_factors, int64_t T, int64_t H, int64_t HD,
                  int64_t n_rot, float base, float pos_scale, int kind);
/* packed-sequence attention (see quipu_attention_args); every pointer is device memory */
typedef struct qk_att_args {
    float *out;
    const float *q, *k, *v;
    int64_t ldo, ldq, ldk, ldv;
    const int32_t *pos, *seg_lo, *seg_hi, *pre_lo, *pre_hi;
    const float *alibi; /* [H] or NULL */
    int64_t T, H, HKV, HD;
    float scale, softcap;
    int32_t window;
    int causal;
} qk_att_args;
qpError_t qk_attention(qpStream_t s, const qk_att_args *a);
/* the same on tensor cores (attention_tc.cu), q, k, p, v rounded to bf16 (bf16 = 1) or f16, sums
 * and softmax in fp32; ws: device memory for the tile list, T + 2 int32 at least
 * (qk_tc_workspace_bytes(T) in attention_tc.h reserves that with room to align it). Head dims up to qk_attention_tc_max_hd(): 0 on HIP, on a device below
 * sm_80 or a build without its code; asked with the device current. */
qpError_t qk_attention_tc(qpStream_t s, const qk_att_args *a, int bf16, void *ws, size_t ws_bytes);
int64_t qk_attention_tc_max_hd(void);
/* proves the tensor-core attention on this device, in bf16 (bf16 = 1) or f16, head dim HD, against
 * the fp32 kernel and for batch invariance (attention_tc.cu says how); synchronizes s. NULL when
 * proven, else why not (may be written into why) */
const char *qk_attention_tc_prove(qpStream_t s, int bf16, int64_t HD, char *why, size_t why_len);
/* gate = act(gate) * up (up may be NULL); kind as quipu_act_kind */
qpError_t qk_act(qpStream_t s, float *gate, int64_t ldg, const float *up, int64_t ldu, int64_t rows, int64_t cols, int kind);
/* log-prob, step 1: for each scored row r (h row rows[r]) and block of QK_LP_VBLOCK ids of the
 * range [v_lo, v_lo + V) (lm_head, dense of type wt, points at id v_lo), the block's max, first
 * argmax, sum of exp(logit - max) and target logit; part[r * ldp + block] */
#define QK_LP_VBLOCK 1024
qpError_t qk_logprob_partial(qpStream_t s, qk_lp_partial *part, int64_t ldp, const float *h, int64_t ldh, const void *lm_head,
                             qk_wtype wt, const int32_t *rows, const int32_t *targets, int64_t R, int64_t D, int64_t V, int64_t v_lo,
                             float softcap);
/* step 2: the blocks of each row (block b = ids [b * block, (b + 1) * block)) combined in
 * vocabulary order: logprob = target - logsumexp, greedy = (first argmax == target). Also merges
 * the ranges held by several GPUs. */
qpError_t qk_logprob_combine(qpStream_t s, double *logprob, uint8_t *greedy, const qk_lp_partial *part, int64_t ldp,
                             const int32_t *targets, int64_t R, int64_t n_blocks, int64_t block);

/* dst[rows, cols] (type wt, ldd elements between rows) = the ggml blocks of type qtype at src
 * (lds bytes between rows), as quipu_dequantize computes them; half types rounded to nearest even */
qpError_t qk_dequant(qpStream_t s, void *dst, int64_t ldd, qk_wtype wt, const uint8_t *src, int64_t lds, int64_t rows, int64_t cols,
                     uint32_t qtype, uint32_t block_size, uint32_t block_bytes);

/* mixture of experts (moe_route.cu, moe_combine.cu; see quipu_moe_route_args and
 * quipu_moe_combine_args): top-k routing of each token's router logits [T, E] into ids / weights
 * [T, K] (K <= QK_MOE_MAX_K), and each token's k weighted expert rows summed in slot order, plus
 * the sigmoid-gated shared expert when shared is given (it may be out) */
#define QK_MOE_MAX_K 64
qpError_t qk_moe_route(qpStream_t s, int32_t *ids, int64_t ldi, float *weights, int64_t ldw, const float *logits, int64_t ldl, int64_t T,
                       int64_t E, int64_t K, int norm);
qpError_t qk_moe_combine(qpStream_t s, float *out, int64_t ldo, const float *y, int64_t ldy, int64_t S, const int32_t *slot, int64_t lds,
                         const float *weights, int64_t ldw, const float *shared, int64_t ldsh, const float *shared_gate, int64_t ldsg, int64_t T,
                         int64_t D, int64_t K);

#endif
