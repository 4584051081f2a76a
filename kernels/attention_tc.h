/* attention_tc.h — the rules of the tensor-core attention (attention_tc.cu) that decide which
 * queries share a tile and which keys a query visits in which order, in code that nvcc and a
 * C11 compiler both read: the kernel calls these functions, and tests/test_backend_ops.c runs
 * them on the CPU (a plain-C emulation of the kernel's tiling, chunking and per-row softmax) so
 * that everything but the tensor-core products is proven without a GPU.
 * Shape letters as in src/backend.h: T tokens, H / HKV heads, HD head dim.
 *
 * Tiles: QK_TC_BM consecutive queries of ONE segment (equal seg_lo, seg_hi, pre_lo, pre_hi), cut
 * at offsets from seg_lo that are multiples of QK_TC_BM, so a query sits at the same row of its
 * tile (t - seg_lo) % QK_TC_BM wherever its sequence is in the batch. Keys: each query visits
 * one virtual sequence, its shared prefix's keys then its own segment's, cut into chunks of
 * QK_TC_BN at virtual indices that are multiples of QK_TC_BN counted from the start of that
 * virtual sequence, the same for a shared and a repeated prompt. */
#ifndef QUIPU_ATTENTION_TC_H
#define QUIPU_ATTENTION_TC_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define QK_TC_FN static inline __host__ __device__
#else
#define QK_TC_FN static inline
#endif

#define QK_TC_BM 32      /* queries per tile (rows of the score tile) */
#define QK_TC_BN 64      /* keys per chunk (columns of the score tile) */
#define QK_TC_MAX_HD 256 /* head dims up to this; larger ones use the fp32 kernel */
#define QK_TC_LIST_THREADS 1024 /* threads of the device's tile-list builder (one block) */

/* the head dim padded with zeros to whole 16-wide tensor-core steps */
QK_TC_FN int64_t qk_tc_hd_padded(int64_t HD) { return (HD + 15) / 16 * 16; }

/* 1 if query t starts a tile: the first token, a token whose ranges differ from the previous
 * token's (another segment), or a multiple of QK_TC_BM past its segment's start */
QK_TC_FN int qk_tc_tile_starts(int64_t t, const int32_t *seg_lo, const int32_t *seg_hi, const int32_t *pre_lo, const int32_t *pre_hi) {
    if (t == 0) return 1;
    if (seg_lo[t] != seg_lo[t - 1] || seg_hi[t] != seg_hi[t - 1] || pre_lo[t] != pre_lo[t - 1] || pre_hi[t] != pre_hi[t - 1]) return 1;
    return (t - seg_lo[t]) % QK_TC_BM == 0;
}

/* The tile list in the op workspace, int32: [0] the number of tiles n, [1 + i] the first query of
 * tile i, [1 + n] = T; tile i is the queries [start_i, start_{i+1}). At most T tiles. */
QK_TC_FN size_t qk_tc_workspace_bytes(int64_t T) { return ((size_t)(T + 2) * sizeof(int32_t) + 255) / 256 * 256 + 256; }

/* The device builds the list with n_threads threads (k_tc_tiles): thread i takes the tokens
 * [i * per, (i + 1) * per) (per = ceil(T / n_threads)), counts the tile starts there
 * (qk_tc_tiles_count), and after an exclusive scan of the counts (at: the starts before its
 * tokens; n: all of them) writes its starts (qk_tc_tiles_write); the last thread writes n and
 * the end. The test runs the same functions with a serial scan. */
QK_TC_FN int32_t qk_tc_tiles_count(int64_t i, int64_t n_threads, int64_t T, const int32_t *seg_lo, const int32_t *seg_hi,
                                   const int32_t *pre_lo, const int32_t *pre_hi) {
    int64_t per = (T + n_threads - 1) / n_threads, a = i * per, b = a + per < T ? a + per : T;
    int32_t c = 0;
    for (int64_t t = a; t < b; t++) c += qk_tc_tile_starts(t, seg_lo, seg_hi, pre_lo, pre_hi);
    return c;
}
QK_TC_FN void qk_tc_tiles_write(int32_t *tiles, int64_t i, int64_t n_threads, int64_t T, int32_t at, int32_t n, const int32_t *seg_lo,
                                const int32_t *seg_hi, const int32_t *pre_lo, const int32_t *pre_hi) {
    int64_t per = (T + n_threads - 1) / n_threads, a = i * per, b = a + per < T ? a + per : T;
    for (int64_t t = a; t < b; t++)
        if (qk_tc_tile_starts(t, seg_lo, seg_hi, pre_lo, pre_hi)) tiles[1 + at++] = (int32_t)t;
    if (i == n_threads - 1) {
        tiles[0] = n;
        tiles[1 + n] = (int32_t)T;
    }
}

/* the keys query t visits before any window: its prefix's, then its own segment's up to t
 * (causal) or to seg_hi (bidirectional) */
QK_TC_FN int64_t qk_tc_n_keys(int64_t t, int causal, int32_t seg_lo, int32_t seg_hi, int32_t pre_lo, int32_t pre_hi) {
    return (int64_t)(pre_hi - pre_lo) + ((causal ? t + 1 : (int64_t)seg_hi) - seg_lo);
}

/* the token at virtual key index j (0 <= j < n keys) */
QK_TC_FN int64_t qk_tc_key(int64_t j, int32_t seg_lo, int32_t pre_lo, int32_t pre_hi) {
    int64_t npre = pre_hi - pre_lo;
    return j < npre ? pre_lo + j : seg_lo + (j - npre);
}

/* the sliding window, as the fp32 kernel applies it: |pos[t] - pos[s]| < window (window <= 0: none) */
QK_TC_FN int qk_tc_in_window(int32_t pos_t, int32_t pos_s, int32_t window) {
    int32_t dp = pos_t - pos_s;
    return window <= 0 || (dp < 0 ? -dp : dp) < window;
}

/* a score from the dot product of the rounded q and k (summed in fp32), as the fp32 kernel forms
 * it: scaled, soft-capped, plus ALiBi's slope * (pos[s] - pos[t]) when slopes are given */
QK_TC_FN float qk_tc_score(float dot, float scale, float softcap, int alibi, float slope, int32_t pos_t, int32_t pos_s) {
    float d = dot * scale;
    if (softcap > 0.0f) d = softcap * tanhf(d / softcap);
    if (alibi) d += slope * (float)(pos_s - pos_t);
    return d;
}

/* the online softmax's rescaling of what a row held before a chunk that moved its max from m to
 * m_new (m_new finite): nothing held yet (m = -inf) scales by 0 */
QK_TC_FN float qk_tc_corr(float m, float m_new) { return m == -INFINITY ? 0.0f : expf(m - m_new); }

/* The proof before first use (qk_attention_tc_prove): its batch of QK_TC_PROOF_T tokens, 0: a
 * 20-token prompt, a 50-token continuation sharing it, a 45-token sequence; 1: the 45 alone; 2:
 * the prompt and the continuation as one 70-token sequence. lay[b][v][t]: v = pos, seg_lo,
 * seg_hi, pre_lo, pre_hi (layouts 1 and 2 use their first 45 / 70 tokens). The test runs the
 * same batches through its emulation. */
#define QK_TC_PROOF_T 115
QK_TC_FN void qk_tc_proof_layout(int32_t lay[3][5][QK_TC_PROOF_T]) {
    for (int t = 0; t < QK_TC_PROOF_T; t++) {
        int b0 = t < 20 ? 0 : t < 70 ? 1 : 2;
        int lo = b0 == 0 ? 0 : b0 == 1 ? 20 : 70, hi = b0 == 0 ? 20 : b0 == 1 ? 70 : QK_TC_PROOF_T;
        lay[0][0][t] = t - lo + (b0 == 1 ? 20 : 0), lay[0][1][t] = lo, lay[0][2][t] = hi, lay[0][3][t] = 0, lay[0][4][t] = b0 == 1 ? 20 : 0;
        lay[1][0][t] = t, lay[1][1][t] = 0, lay[1][2][t] = 45, lay[1][3][t] = 0, lay[1][4][t] = 0;
        lay[2][0][t] = t, lay[2][1][t] = 0, lay[2][2][t] = 70, lay[2][3][t] = 0, lay[2][4][t] = 0;
    }
}
/* its values, q then k then v: multiples of 1/128 in [-1, 1), exact in bf16 and f16 */
QK_TC_FN void qk_tc_proof_values(float *x, size_t n) {
    uint32_t r = 12345u;
    for (size_t i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = (float)((int)(r >> 24) - 128) / 128.0f;
    }
}

#endif
