/* test_backend_ops.c — every op of every backend present against a plain scalar reference
 * (the _ref functions below, in double), over awkward shapes: one token, lengths not divisible
 * by tiles, long sequences, GQA ratios 1/4/8, sliding windows, shared-prefix ranges, vocabularies
 * that cross the chunk and block sizes, bidirectional attention, soft-capping, ALiBi, strided
 * Q/K/V slices of one fused projection, a vocabulary split in two ranges merged by the combine
 * step (as tensor parallelism will). Each case prints its max-abs error against the
 * tolerance and the first mismatches. Also per op: a row computed alone equals, bit for bit, the
 * same row computed inside a larger batch (batch invariance). The CPU backend always runs; a GPU
 * backend runs when this quipu was built with it and a GPU is visible, and says "skipped"
 * otherwise. Weights in half precision (a GPU's `dtype: bf16` / `f16`): matmul, embed and the
 * log-prob with BF16 / F16 weights against the references over the weights rounded to that
 * type (the sums are fp32 for every type, so the fp32 tolerances), and against the unrounded
 * weights within the type's rounding bound; on the CPU (f32 only) those rows are skipped and the
 * checked wrappers must refuse a half weight with a clear message. The host's fp32 -> bf16 / f16
 * rounding (src/backend.c) is unit-tested here too: ties to even, NaN, Inf, overflow, subnormals.
 * The end-to-end goldens (test_logprobs) stay the final word. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_tc.h" /* kernels/: the tensor-core attention's tiling rules, plain C */
#include "backend.h"
#include "quant.h"
#include "testlib.h"

/* ---------------------------------------------------------------- data and helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
static float *rand_vec(int64_t n, float scale) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) v[i] = frand() * scale;
    return v;
}

typedef struct ctx {
    quipu_backend *b;
    const char *name;
    int cases, failed;
} ctx;
static ctx host_ctx = {.name = "host"}; /* the plain-C emulations' rows */

static quipu_buf *up(ctx *c, const void *data, size_t bytes) {
    quipu_error err = {0};
    quipu_buf *buf = c->b->iface->buf_alloc(c->b, bytes ? bytes : 4, &err);
    if (!buf) { fprintf(stderr, "alloc: %s\n", err.msg); exit(1); }
    void *zeros = data ? NULL : calloc(1, bytes ? bytes : 4);
    if (bytes && c->b->iface->buf_write(c->b, buf, 0, data ? data : zeros, bytes, &err)) { fprintf(stderr, "write: %s\n", err.msg); exit(1); }
    free(zeros);
    return buf;
}
static void down(ctx *c, const quipu_buf *buf, void *dst, size_t bytes) {
    quipu_error err = {0};
    if (bytes && c->b->iface->buf_read(c->b, buf, 0, dst, bytes, &err)) { fprintf(stderr, "read: %s\n", err.msg); exit(1); }
}
static void drop(ctx *c, quipu_buf *buf) { c->b->iface->buf_free(c->b, buf); }
static quipu_buf *up_w(ctx *c, const float *w, int64_t n, quipu_etype wt) { /* w stored as wt */
    void *conv = malloc((size_t)(n > 0 ? n : 1) * quipu_etype_size(wt));
    CHECK(quipu_convert_f32(wt, w, conv, (size_t)n) == 0);
    quipu_buf *b = up(c, conv, (size_t)n * quipu_etype_size(wt));
    free(conv);
    return b;
}

/* views: an F32 matrix, an I32 vector, and the workspace the backend asks for */
static quipu_view fv(quipu_buf *b, int64_t rows, int64_t cols) {
    quipu_view v = quipu_view_of(b, QUIPU_E_F32, rows, cols);
    if (!b) v.rows = v.cols = v.ld = 0;
    return v;
}
static quipu_view iv(quipu_buf *b, int64_t n) { return quipu_view_of(b, QUIPU_E_I32, 1, n); }

/* weights of type wt (F32, BF16, F16) */
static quipu_view wv(quipu_buf *b, quipu_etype wt, int64_t rows, int64_t cols) {
    quipu_view v = fv(b, rows, cols);
    v.type = wt;
    return v;
}
/* the weights as the backend will hold them: w rounded to wt (the reference's copy, as floats) */
static float *rounded(const float *w, int64_t n, quipu_etype wt) {
    float *r = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        r[i] = wt == QUIPU_E_BF16 ? quipu_bf16_to_f32(quipu_f32_to_bf16(w[i])) : wt == QUIPU_E_F16 ? quipu_f16_to_f32(quipu_f32_to_f16(w[i])) : w[i];
    return r;
}
/* half the spacing of wt's values relative to a value: the bound of one rounding */
static double unit_roundoff(quipu_etype wt) { return wt == QUIPU_E_BF16 ? 0x1p-8 : wt == QUIPU_E_F16 ? 0x1p-11 : 0.0; }
static quipu_buf *ws_buf;
static quipu_view ws_view(ctx *c, int64_t T, int64_t R, int64_t width, int64_t D) {
    quipu_ws_dims d = {.max_tokens = T, .max_rows = R, .max_width = width, .dim = D, .n_heads = 1};
    size_t n = c->b->iface->workspace_bytes ? c->b->iface->workspace_bytes(c->b, &d) : 0;
    drop(c, ws_buf);
    ws_buf = up(c, NULL, n ? n : 16);
    return quipu_view_of(ws_buf, QUIPU_E_U8, 1, (int64_t)(n ? n : 16));
}
#define OK_OP(call) CHECK((call) == QUIPU_OK && quipu_op_sync(c->b, &err) == QUIPU_OK)

/* compares got with ref (double) under |got - ref| <= atol + rtol * scale[i] (scale NULL: |ref|) */
static void compare(ctx *c, const char *op, const char *shape, const float *got, const double *ref, const double *scale, int64_t n,
                    double atol, double rtol) {
    double worst = 0;
    int bad = 0;
    char first[512] = "";
    size_t fl = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        double tol = atol + rtol * (scale ? scale[i] : fabs(ref[i]));
        if (!(d <= tol)) { /* NaN fails too */
            if (bad < 3) fl += (size_t)snprintf(first + fl, sizeof first - fl, " [%lld] %.9g vs %.9g;", (long long)i, got[i], ref[i]);
            bad++;
        }
        if (d > worst || d != d) worst = d;
    }
    c->cases++;
    if (bad) c->failed++;
    printf("%-5s %-10s %-44s max|err| %.3g%s%s\n", c->name, op, shape, worst, bad ? "  MISMATCH" : "", bad ? first : "");
    CHECK_MSG(bad == 0, "%s %s %s: %d of %lld outside tolerance:%s", c->name, op, shape, bad, (long long)n, first);
}

/* how many of n fall outside the tolerance of compare(), recording nothing */
static int64_t outside(const float *got, const double *ref, const double *scale, int64_t n, double atol, double rtol) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - ref[i]) <= atol + rtol * (scale ? scale[i] : fabs(ref[i])))) bad++;
    return bad;
}

/* two computations that must agree bit for bit (what: which two); eq: whether they do */
static void verdict(ctx *c, const char *op, const char *shape, const char *what, int eq) {
    c->cases++;
    if (!eq) c->failed++;
    printf("%-5s %-10s %-44s %s%s\n", c->name, op, shape, what, eq ? " (same bits)" : ": DIFFERENT BITS");
    CHECK_MSG(eq, "%s %s %s: %s: different bits", c->name, op, shape, what);
}
static void same_bits_as(ctx *c, const char *op, const char *shape, const char *what, const void *a, const void *b, size_t bytes) {
    verdict(c, op, shape, what, memcmp(a, b, bytes) == 0);
}
static void same_bits(ctx *c, const char *op, const char *shape, const void *a, const void *b, size_t bytes) {
    same_bits_as(c, op, shape, "alone == in batch", a, b, bytes);
}

/* ---------------------------------------------------------------- references */

static void matmul_ref(double *y, double *mag, const float *x, const float *w, const float *bias, const float *y0, int64_t M, int64_t K,
                       int64_t N) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0, a = 0;
            for (int64_t k = 0; k < K; k++) s += (double)x[i * K + k] * w[j * K + k], a += fabs((double)x[i * K + k] * w[j * K + k]);
            if (bias) s += bias[j], a += fabs(bias[j]);
            if (y0) s += y0[i * N + j], a += fabs(y0[i * N + j]);
            y[i * N + j] = s;
            mag[i * N + j] = a;
        }
}

/* rows of width C normalized in groups of D (D == C: whole rows) */
static void norm_ref(double *y, const float *x, const float *w, const float *b, int64_t rows, int64_t D, double eps, int layer) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        double mean = 0, ss = 0;
        if (layer) {
            for (int64_t i = 0; i < D; i++) mean += xr[i];
            mean /= (double)D;
        }
        for (int64_t i = 0; i < D; i++) ss += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        double inv = 1.0 / sqrt(ss / (double)D + eps);
        for (int64_t i = 0; i < D; i++) y[r * D + i] = ((double)xr[i] - mean) * inv * (w ? w[i] : 1.0) + (b ? b[i] : 0.0);
    }
}

static void rope_ref(double *y, const float *x, const int32_t *pos, const float *ff, int64_t T, int64_t H, int64_t HD, int64_t n_rot,
                     double base, double pscale, int neox) {
    for (int64_t i = 0; i < T * H * HD; i++) y[i] = x[i];
    int64_t half = n_rot / 2;
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            double inv = 1.0 / pow(base, (double)(2 * i) / (double)n_rot);
            if (ff) inv /= ff[i];
            double ang = pos[t] * pscale * inv;
            for (int64_t h = 0; h < H; h++) {
                int64_t o = (t * H + h) * HD, i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
                double x0 = x[o + i0], x1 = x[o + i1];
                y[o + i0] = x0 * cos(ang) - x1 * sin(ang);
                y[o + i1] = x1 * cos(ang) + x0 * sin(ang);
            }
        }
}

/* the attention options a case sets */
typedef struct att_opt {
    int bidir;
    int32_t window;
    float softcap;
    const float *alibi; /* [H] or NULL */
    int fused;          /* q, k, v as column slices of one [T, QD + 2 KD] matrix */
} att_opt;

/* q [T, ldq] etc.: rows of width H*HD (HKV*HD) starting at the given column */
static void attention_ref(double *out, const float *q, const float *k, const float *v, int64_t ldq, int64_t ldk, const int32_t *pos,
                          const int32_t *seg_lo, const int32_t *seg_hi, const int32_t *pre_lo, const int32_t *pre_hi, int64_t T, int64_t H,
                          int64_t HKV, int64_t HD, double scale, const att_opt *o) {
    double *sc = malloc((size_t)(2 * T + 1) * sizeof(double));
    int64_t *key = malloc((size_t)(2 * T + 1) * sizeof(int64_t));
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            int64_t n = 0, hk = h / (H / HKV), hi = o->bidir ? seg_hi[t] : t + 1;
            for (int64_t s = pre_lo[t]; s < pre_hi[t]; s++)
                if (o->window <= 0 || pos[t] - pos[s] < o->window) key[n++] = s;
            for (int64_t s = seg_lo[t]; s < hi; s++)
                if (o->window <= 0 || abs(pos[t] - pos[s]) < o->window) key[n++] = s;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < n; j++) {
                double d = 0;
                for (int64_t i = 0; i < HD; i++) d += (double)q[t * ldq + h * HD + i] * k[key[j] * ldk + hk * HD + i];
                d *= scale;
                if (o->softcap > 0) d = o->softcap * tanh(d / o->softcap);
                if (o->alibi) d += o->alibi[h] * (double)(pos[key[j]] - pos[t]);
                sc[j] = d;
                if (sc[j] > mx) mx = sc[j];
            }
            for (int64_t j = 0; j < n; j++) sum += (sc[j] = exp(sc[j] - mx));
            for (int64_t i = 0; i < HD; i++) {
                double acc = 0;
                for (int64_t j = 0; j < n; j++) acc += sc[j] / sum * v[key[j] * ldk + hk * HD + i];
                out[(t * H + h) * HD + i] = acc;
            }
        }
    free(sc);
    free(key);
}

static double act_ref1(double x, quipu_act_kind k) {
    if (k == QUIPU_ACT_SILU) return x / (1 + exp(-x));
    if (k == QUIPU_ACT_GELU_TANH) return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1 + erf(x / sqrt(2.0)));
}

/* ---------------------------------------------------------------- cases */

/* y = x w^T with w stored as wt: against the reference over the rounded weights (fp32 sums: the
 * fp32 tolerance), and for a half type against the fp32 weights within the rounding's bound
 * (|sum x (w - round(w))| <= u * sum |x w|) */
static void t_matmul_w(ctx *c, quipu_etype wt, int64_t M, int64_t K, int64_t N, int with_bias, int accumulate) {
    float *x = rand_vec(M * K, 1), *w = rand_vec(N * K, 0.5f), *bias = with_bias ? rand_vec(N, 1) : NULL, *y0 = rand_vec(M * N, 1);
    float *wr = rounded(w, N * K, wt);
    double *ref = malloc((size_t)(M * N) * sizeof(double)), *mag = malloc((size_t)(M * N) * sizeof(double));
    float *got = malloc((size_t)(M * N) * sizeof(float)), *row = malloc((size_t)N * sizeof(float));
    matmul_ref(ref, mag, x, wr, bias, accumulate ? y0 : NULL, M, K, N);
    quipu_buf *bx = up(c, x, (size_t)(M * K) * 4), *bw = up_w(c, w, N * K, wt), *bb = bias ? up(c, bias, (size_t)N * 4) : NULL;
    quipu_buf *by = up(c, y0, (size_t)(M * N) * 4);
    quipu_error err = {0};
    quipu_matmul_args a = {.x = fv(bx, M, K), .w = wv(bw, wt, N, K), .bias = fv(bb, 1, N), .y = fv(by, M, N), .accumulate = accumulate,
                           .ws = ws_view(c, M, 1, N, K)};
    OK_OP(quipu_op_matmul(c->b, &a, &err));
    down(c, by, got, (size_t)(M * N) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "%sM=%lld K=%lld N=%lld%s%s", wt == QUIPU_E_F32 ? "" : wt == QUIPU_E_BF16 ? "bf16 w " : "f16 w ", (long long)M,
             (long long)K, (long long)N, with_bias ? " bias" : "", accumulate ? " accumulate" : "");
    /* Half weights on a GPU may run on tensor cores (kernels/gemm_lt.cu), which round x to the
     * weights' type too: then the reference is the product of both rounded operands, fp32 sums */
    int tc = 0;
    if (wt != QUIPU_E_F32 && outside(got, ref, mag, M * N, 1e-6, 2e-6) > 0) {
        float *xr = rounded(x, M * K, wt);
        matmul_ref(ref, mag, xr, wr, bias, accumulate ? y0 : NULL, M, K, N);
        free(xr);
        tc = 1;
        size_t l = strlen(shape);
        snprintf(shape + l, sizeof shape - l, " tensor cores");
    }
    compare(c, "matmul", shape, got, ref, mag, M * N, 1e-6, 2e-6);
    if (wt != QUIPU_E_F32) {
        double *ref32 = malloc((size_t)(M * N) * sizeof(double)), *mag32 = malloc((size_t)(M * N) * sizeof(double));
        matmul_ref(ref32, mag32, x, w, bias, accumulate ? y0 : NULL, M, K, N);
        char s2[120];
        snprintf(s2, sizeof s2, "%s vs f32 w", shape);
        compare(c, "matmul", s2, got, ref32, mag32, M * N, 1e-6, (tc ? 2 : 1) * unit_roundoff(wt) + 2e-6);
        free(ref32);
        free(mag32);
    }
    if (!accumulate && M > 1) { /* the last row alone */
        int64_t r = M - 1;
        quipu_buf *bx1 = up(c, x + r * K, (size_t)K * 4), *by1 = up(c, NULL, (size_t)N * 4);
        quipu_matmul_args a1 = a;
        a1.x = fv(bx1, 1, K);
        a1.y = fv(by1, 1, N);
        OK_OP(quipu_op_matmul(c->b, &a1, &err));
        down(c, by1, row, (size_t)N * 4);
        same_bits(c, "matmul", shape, row, got + r * N, (size_t)N * 4);
        drop(c, bx1);
        drop(c, by1);
    }
    if (!accumulate && M > 2 && K > 2) { /* x as a column slice of a wider matrix (ld > cols): same bits */
        int64_t ld = K + 5;
        float *wide = rand_vec(M * ld, 1);
        for (int64_t i = 0; i < M; i++) memcpy(wide + i * ld + 3, x + i * K, (size_t)K * 4);
        quipu_buf *bwx = up(c, wide, (size_t)(M * ld) * 4), *by2 = up(c, NULL, (size_t)(M * N) * 4);
        quipu_matmul_args a2 = a;
        a2.x = quipu_view_cols(quipu_view_of(bwx, QUIPU_E_F32, M, ld), 3, K);
        a2.y = fv(by2, M, N);
        OK_OP(quipu_op_matmul(c->b, &a2, &err));
        float *got2 = malloc((size_t)(M * N) * 4);
        down(c, by2, got2, (size_t)(M * N) * 4);
        same_bits_as(c, "matmul", shape, "strided x == dense x", got2, got, (size_t)(M * N) * 4);
        drop(c, bwx);
        drop(c, by2);
        free(wide);
        free(got2);
    }
    drop(c, bx); drop(c, bw); drop(c, bb); drop(c, by);
    free(x); free(w); free(wr); free(bias); free(y0); free(ref); free(mag); free(got); free(row);
}
static void t_matmul(ctx *c, int64_t M, int64_t K, int64_t N, int with_bias, int accumulate) {
    t_matmul_w(c, QUIPU_E_F32, M, K, N, with_bias, accumulate);
}

/* rows x C, normalized in groups of `group` (0: whole rows), optionally after x += residual */
static void t_norm(ctx *c, int64_t rows, int64_t C, int64_t group, int layer, int residual) {
    int64_t D = group > 0 ? group : C;
    float *x = rand_vec(rows * C, 3), *w = rand_vec(D, 1), *b = layer ? rand_vec(D, 1) : NULL, *got = malloc((size_t)(rows * C) * 4);
    float *res = residual ? rand_vec(rows * C, 1) : NULL, *sum = malloc((size_t)(rows * C) * 4), *gotx = malloc((size_t)(rows * C) * 4);
    for (int64_t i = 0; i < rows * C; i++) x[i] += layer ? 2.0f : 0.0f; /* a mean to remove */
    for (int64_t i = 0; i < rows * C; i++) sum[i] = res ? x[i] + res[i] : x[i];
    double *ref = malloc((size_t)(rows * C) * sizeof(double));
    norm_ref(ref, sum, w, b, rows * (C / D), D, 1e-6, layer);
    quipu_buf *bx = up(c, x, (size_t)(rows * C) * 4), *bw = up(c, w, (size_t)D * 4), *bb = b ? up(c, b, (size_t)D * 4) : NULL;
    quipu_buf *by = up(c, NULL, (size_t)(rows * C) * 4), *br = res ? up(c, res, (size_t)(rows * C) * 4) : NULL;
    quipu_error err = {0};
    quipu_norm_args a = {.x = fv(bx, rows, C), .y = fv(by, rows, C), .w = fv(bw, 1, D), .b = fv(bb, 1, D), .residual = fv(br, rows, C),
                         .group = group, .eps = 1e-6f, .kind = layer ? QUIPU_NORM_LAYER : QUIPU_NORM_RMS};
    OK_OP(quipu_op_norm(c->b, &a, &err));
    down(c, by, got, (size_t)(rows * C) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "%s rows=%lld C=%lld group=%lld%s", layer ? "layer" : "rms", (long long)rows, (long long)C, (long long)D,
             residual ? " +residual" : "");
    compare(c, "norm", shape, got, ref, NULL, rows * C, 1e-6, 1e-5);
    if (residual) { /* x holds x + residual afterwards, exactly the fp32 sum */
        down(c, bx, gotx, (size_t)(rows * C) * 4);
        same_bits_as(c, "norm", shape, "x == x + residual", gotx, sum, (size_t)(rows * C) * 4);
    }
    drop(c, bx); drop(c, bw); drop(c, bb); drop(c, by); drop(c, br);
    free(x); free(w); free(b); free(got); free(ref); free(res); free(sum); free(gotx);
}

static void t_rope(ctx *c, int64_t T, int64_t H, int64_t HD, int64_t n_rot, int neox, int factors) {
    float *x = rand_vec(T * H * HD, 1), *got = malloc((size_t)(T * H * HD) * 4);
    int32_t *pos = malloc((size_t)T * 4);
    for (int64_t t = 0; t < T; t++) pos[t] = (int32_t)((t * 37) % 2000);
    float *ff = NULL;
    if (factors) {
        ff = malloc((size_t)(n_rot / 2) * 4);
        for (int64_t i = 0; i < n_rot / 2; i++) ff[i] = 1.0f + (float)i / 3.0f;
    }
    double *ref = malloc((size_t)(T * H * HD) * sizeof(double));
    rope_ref(ref, x, pos, ff, T, H, HD, n_rot, 10000.0, 1.0, neox);
    quipu_buf *bx = up(c, x, (size_t)(T * H * HD) * 4), *bp = up(c, pos, (size_t)T * 4), *bf = ff ? up(c, ff, (size_t)(n_rot / 2) * 4) : NULL;
    quipu_error err = {0};
    quipu_rope_args a = {.x = fv(bx, T, H * HD), .pos = iv(bp, T), .freq_factors = fv(bf, 1, n_rot / 2), .n_heads = H, .head_dim = HD,
                         .n_rot = n_rot, .base = 10000.0f, .pos_scale = 1.0f, .kind = neox ? QUIPU_ROPE_NEOX : QUIPU_ROPE_NORM};
    OK_OP(quipu_op_rope(c->b, &a, &err));
    down(c, bx, got, (size_t)(T * H * HD) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "%s T=%lld H=%lld HD=%lld rot=%lld%s", neox ? "neox" : "norm", (long long)T, (long long)H, (long long)HD,
             (long long)n_rot, factors ? " factors" : "");
    /* fp32 angles at positions up to 2000: the angle's rounding (~1e-4 rad) dominates */
    compare(c, "rope", shape, got, ref, NULL, T * H * HD, 5e-4, 1e-5);
    drop(c, bx); drop(c, bp); drop(c, bf);
    free(x); free(got); free(pos); free(ff); free(ref);
}

/* the layout vectors of a packed batch, uploaded; lay_free drops them */
typedef struct lay_bufs {
    quipu_buf *b[5];
} lay_bufs;
static quipu_batch_layout lay_up(ctx *c, lay_bufs *lb, int64_t T, const int32_t *pos, const int32_t *lo, const int32_t *hi,
                                 const int32_t *plo, const int32_t *phi) {
    const int32_t *src[5] = {pos, lo, hi, plo, phi};
    for (int i = 0; i < 5; i++) lb->b[i] = up(c, src[i], (size_t)T * 4);
    quipu_batch_layout l = {.pos = iv(lb->b[0], T), .seg_lo = iv(lb->b[1], T), .seg_hi = iv(lb->b[2], T), .pre_lo = iv(lb->b[3], T),
                            .pre_hi = iv(lb->b[4], T)};
    return l;
}
static void lay_free(ctx *c, lay_bufs *lb) {
    for (int i = 0; i < 5; i++) drop(c, lb->b[i]);
}

/* The fp32 attention rows run in the exact mode (a GPU's `dtype: f32`): in bf16 / f16 a GPU takes
 * the tensor-core kernel, which the attn-tc rows check. set_dtype(was) puts the backend back. */
static const char *set_dtype(ctx *c, const char *dtype) {
    const char *was = c->b->dtype;
    quipu_error err = {0};
    CHECK_MSG(quipu_backend_set_dtype(c->b, dtype, &err) == QUIPU_OK, "%s: dtype %s: %s", c->name, dtype, err.msg);
    return was;
}

/* a packed batch: sequences of the given lengths; with share, sequence 0 is a prompt that every
 * following sequence (a continuation) attends to as its prefix */
static void t_attention(ctx *c, const int *lens, int n_seq, int share, int64_t H, int64_t HKV, int64_t HD, const att_opt *o) {
    int64_t T = 0;
    for (int s = 0; s < n_seq; s++) T += lens[s];
    int32_t *pos = malloc((size_t)T * 4), *seg = malloc((size_t)T * 4), *shi = malloc((size_t)T * 4), *plo = malloc((size_t)T * 4),
            *phi = malloc((size_t)T * 4);
    int64_t t = 0;
    for (int s = 0; s < n_seq; s++)
        for (int i = 0; i < lens[s]; i++, t++) {
            int pre = share && s > 0;
            pos[t] = (int32_t)(i + (pre ? lens[0] : 0));
            seg[t] = (int32_t)(t - i);
            shi[t] = (int32_t)(t - i + lens[s]);
            plo[t] = 0;
            phi[t] = pre ? lens[0] : 0;
        }
    int64_t QD = H * HD, KD = HKV * HD, ld = o->fused ? QD + 2 * KD : 0;
    float *q, *k, *v, *qkv = NULL;
    if (o->fused) {
        qkv = rand_vec(T * ld, 1);
        q = qkv, k = qkv + QD, v = qkv + QD + KD;
    } else {
        q = rand_vec(T * QD, 1), k = rand_vec(T * KD, 1), v = rand_vec(T * KD, 1);
    }
    float *got = malloc((size_t)(T * QD) * 4);
    double *ref = malloc((size_t)(T * QD) * sizeof(double));
    double scale = 1.0 / sqrt((double)HD);
    attention_ref(ref, q, k, v, o->fused ? ld : QD, o->fused ? ld : KD, pos, seg, shi, plo, phi, T, H, HKV, HD, scale, o);
    quipu_buf *bq, *bk = NULL, *bv = NULL, *ba = o->alibi ? up(c, o->alibi, (size_t)H * 4) : NULL;
    quipu_view vq, vk, vv;
    if (o->fused) {
        bq = up(c, qkv, (size_t)(T * ld) * 4);
        quipu_view all = quipu_view_of(bq, QUIPU_E_F32, T, ld);
        vq = quipu_view_cols(all, 0, QD), vk = quipu_view_cols(all, QD, KD), vv = quipu_view_cols(all, QD + KD, KD);
    } else {
        bq = up(c, q, (size_t)(T * QD) * 4), bk = up(c, k, (size_t)(T * KD) * 4), bv = up(c, v, (size_t)(T * KD) * 4);
        vq = fv(bq, T, QD), vk = fv(bk, T, KD), vv = fv(bv, T, KD);
    }
    quipu_buf *bo = up(c, NULL, (size_t)(T * QD) * 4);
    lay_bufs lb;
    quipu_error err = {0};
    quipu_attention_args a = {.q = vq, .k = vk, .v = vv, .out = fv(bo, T, QD), .lay = lay_up(c, &lb, T, pos, seg, shi, plo, phi),
                              .alibi = fv(ba, 1, H), .n_heads = H, .n_heads_kv = HKV, .head_dim = HD, .scale = (float)scale,
                              .softcap = o->softcap, .window = o->window, .causal = !o->bidir, .ws = ws_view(c, T, 1, 1, 1)};
    const char *was = set_dtype(c, "f32");
    OK_OP(quipu_op_attention(c->b, &a, &err));
    set_dtype(c, was);
    down(c, bo, got, (size_t)(T * QD) * 4);
    char shape[120];
    snprintf(shape, sizeof shape, "T=%lld seqs=%d%s H=%lld/%lld HD=%lld win=%d%s%s%s%s", (long long)T, n_seq, share ? " shared" : "",
             (long long)H, (long long)HKV, (long long)HD, o->window, o->bidir ? " bidir" : "", o->softcap > 0 ? " softcap" : "",
             o->alibi ? " alibi" : "", o->fused ? " fused-qkv" : "");
    compare(c, "attention", shape, got, ref, NULL, T * QD, 2e-6, 1e-5);
    drop(c, bq); drop(c, bk); drop(c, bv); drop(c, bo); drop(c, ba);
    lay_free(c, &lb);
    if (o->fused) free(qkv);
    else free(q), free(k), free(v);
    free(pos); free(seg); free(shi); free(plo); free(phi); free(got); free(ref);
}

/* the shared-prompt layout gives the bits of the same prompt repeated in front of each
 * continuation */
static void t_attention_shared_vs_repeated(ctx *c, int64_t H, int64_t HKV, int64_t HD) {
    const int P = 9, L1 = 5, L2 = 3;
    int64_t Ts = P + L1 + L2, Tr = P + L1 + P + L2;
    float *qs = rand_vec(Ts * H * HD, 1), *ks = rand_vec(Ts * HKV * HD, 1), *vs = rand_vec(Ts * HKV * HD, 1);
    float *qr = malloc((size_t)(Tr * H * HD) * 4), *kr = malloc((size_t)(Tr * HKV * HD) * 4), *vr = malloc((size_t)(Tr * HKV * HD) * 4);
    /* repeated layout: [P, L1, P, L2] */
    int64_t map[64];
    int64_t n = 0;
    for (int i = 0; i < P; i++) map[n++] = i;
    for (int i = 0; i < L1; i++) map[n++] = P + i;
    for (int i = 0; i < P; i++) map[n++] = i;
    for (int i = 0; i < L2; i++) map[n++] = P + L1 + i;
    for (int64_t t = 0; t < Tr; t++) {
        memcpy(qr + t * H * HD, qs + map[t] * H * HD, (size_t)(H * HD) * 4);
        memcpy(kr + t * HKV * HD, ks + map[t] * HKV * HD, (size_t)(HKV * HD) * 4);
        memcpy(vr + t * HKV * HD, vs + map[t] * HKV * HD, (size_t)(HKV * HD) * 4);
    }
    int32_t pos_s[64], seg_s[64], shi_s[64], plo_s[64], phi_s[64], pos_r[64], seg_r[64], shi_r[64], z[64];
    for (int64_t t = 0; t < Ts; t++) {
        int cont = t >= P, second = t >= P + L1;
        pos_s[t] = (int32_t)(cont ? P + (t - (second ? P + L1 : P)) : t);
        seg_s[t] = (int32_t)(!cont ? 0 : second ? P + L1 : P);
        shi_s[t] = (int32_t)(!cont ? P : second ? Ts : P + L1);
        plo_s[t] = 0;
        phi_s[t] = cont ? P : 0;
    }
    for (int64_t t = 0; t < Tr; t++) {
        int second = t >= P + L1;
        seg_r[t] = second ? P + L1 : 0;
        shi_r[t] = (int32_t)(second ? Tr : P + L1);
        pos_r[t] = (int32_t)(t - seg_r[t]);
        z[t] = 0;
    }
    float *out_s = malloc((size_t)(Ts * H * HD) * 4), *out_r = malloc((size_t)(Tr * H * HD) * 4);
    quipu_error err = {0};
    float scale = 1.0f / sqrtf((float)HD);
    lay_bufs lb;
    quipu_buf *b1 = up(c, qs, (size_t)(Ts * H * HD) * 4), *b2 = up(c, ks, (size_t)(Ts * HKV * HD) * 4), *b3 = up(c, vs, (size_t)(Ts * HKV * HD) * 4);
    quipu_buf *b4 = up(c, NULL, (size_t)(Ts * H * HD) * 4);
    quipu_attention_args a = {.q = fv(b1, Ts, H * HD), .k = fv(b2, Ts, HKV * HD), .v = fv(b3, Ts, HKV * HD), .out = fv(b4, Ts, H * HD),
                              .lay = lay_up(c, &lb, Ts, pos_s, seg_s, shi_s, plo_s, phi_s), .n_heads = H, .n_heads_kv = HKV, .head_dim = HD,
                              .scale = scale, .causal = 1, .ws = ws_view(c, Tr, 1, 1, 1)};
    const char *was = set_dtype(c, "f32");
    OK_OP(quipu_op_attention(c->b, &a, &err));
    down(c, b4, out_s, (size_t)(Ts * H * HD) * 4);
    drop(c, b1); drop(c, b2); drop(c, b3); drop(c, b4);
    lay_free(c, &lb);
    b1 = up(c, qr, (size_t)(Tr * H * HD) * 4), b2 = up(c, kr, (size_t)(Tr * HKV * HD) * 4), b3 = up(c, vr, (size_t)(Tr * HKV * HD) * 4);
    b4 = up(c, NULL, (size_t)(Tr * H * HD) * 4);
    quipu_attention_args r = a;
    r.q = fv(b1, Tr, H * HD), r.k = fv(b2, Tr, HKV * HD), r.v = fv(b3, Tr, HKV * HD), r.out = fv(b4, Tr, H * HD);
    r.lay = lay_up(c, &lb, Tr, pos_r, seg_r, shi_r, z, z);
    OK_OP(quipu_op_attention(c->b, &r, &err));
    set_dtype(c, was);
    down(c, b4, out_r, (size_t)(Tr * H * HD) * 4);
    drop(c, b1); drop(c, b2); drop(c, b3); drop(c, b4);
    lay_free(c, &lb);
    /* continuation tokens: shared rows P.. vs repeated rows P.. and 2P+L1.. */
    int eq = !memcmp(out_s + P * H * HD, out_r + P * H * HD, (size_t)(L1 * H * HD) * 4) &&
             !memcmp(out_s + (P + L1) * H * HD, out_r + (2 * P + L1) * H * HD, (size_t)(L2 * H * HD) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "shared prompt vs repeated H=%lld/%lld HD=%lld", (long long)H, (long long)HKV, (long long)HD);
    c->cases++;
    if (!eq) c->failed++;
    printf("%-5s %-10s %-44s %s\n", c->name, "attention", shape, eq ? "same bits" : "DIFFERENT BITS");
    CHECK_MSG(eq, "%s attention: a shared prompt gives other bits than the repeated prompt", c->name);
    free(qs); free(ks); free(vs); free(qr); free(kr); free(vr); free(out_s); free(out_r);
}

/* ---------------------------------------------------------------- tensor-core attention
 * A GPU computing in bf16 / f16 runs attention on tensor cores (kernels/attention_tc.cu): q, k, v
 * and the softmax weights p rounded to that type, sums and softmax in fp32. Checked against the
 * reference over q, k, v rounded to the type, within the bound of rounding p: each weight
 * p / sum(p) moves by at most 2u / (1 - u) of itself (u the type's unit roundoff; the kernel
 * divides by the sum of the rounded p), so the output by at most 2.01 u max|v|; in f16, a p below
 * 2^-24 flushes to 0 (at most 2^-25 each, the sum being at least 1), and 1e-5 for the fp32 sums.
 * The kernel's tiling, chunking, masks and per-row softmax are also emulated here in plain C with
 * the kernel's own rules (kernels/attention_tc.h), so they are proven on any machine ("host"
 * rows): against the same reference and tolerance, a sequence alone == in its batch, and a shared
 * prompt == the repeated prompt, bit for bit. What only a GPU can show is the tensor cores' sums. */

/* x as the kernel rounds it to wt: nearest even; f16 saturating at +-65504 (attention_tc.cu) */
static float round_to(float x, quipu_etype wt) {
    if (wt == QUIPU_E_BF16) return quipu_bf16_to_f32(quipu_f32_to_bf16(x));
    return quipu_f16_to_f32(quipu_f32_to_f16(x != x ? x : fminf(fmaxf(x, -65504.0f), 65504.0f)));
}

/* the tile list as k_tc_tiles writes it ([0] n, [1 + i] tile i's first query, [1 + n] = T): the
 * same per-thread functions for its 1024 threads, the scan done serially */
static int32_t tc_tiles_host(int32_t *tiles, const int32_t *seg_lo, const int32_t *seg_hi, const int32_t *pre_lo, const int32_t *pre_hi,
                             int64_t T) {
    int32_t cnt[QK_TC_LIST_THREADS], n = 0, at = 0;
    for (int i = 0; i < QK_TC_LIST_THREADS; i++) n += cnt[i] = qk_tc_tiles_count(i, QK_TC_LIST_THREADS, T, seg_lo, seg_hi, pre_lo, pre_hi);
    for (int i = 0; i < QK_TC_LIST_THREADS; i++) {
        qk_tc_tiles_write(tiles, i, QK_TC_LIST_THREADS, T, at, n, seg_lo, seg_hi, pre_lo, pre_hi);
        at += cnt[i];
    }
    return n;
}

/* k_attention_tc in plain C, block by block (a tile of one head), phase by phase; what it cannot
 * copy is the order in which a tensor core sums a 16x16x16 product: here fp32 in k order */
static void attention_tc_emul(float *out, int64_t ldo, const float *q, const float *k, const float *v, int64_t ldq, int64_t ldk,
                              const int32_t *pos, const int32_t *seg_lo, const int32_t *seg_hi, const int32_t *pre_lo,
                              const int32_t *pre_hi, int64_t T, int64_t H, int64_t HKV, int64_t HD, float scale, const att_opt *o,
                              quipu_etype wt) {
    enum { BM = QK_TC_BM, BN = QK_TC_BN };
    int64_t HDP = qk_tc_hd_padded(HD);
    int32_t *tiles = malloc((size_t)(T + 2) * sizeof(int32_t));
    float *Qs = malloc((size_t)(BM * HDP) * 4), *Ks = malloc((size_t)(BN * HDP) * 4), *Vs = malloc((size_t)(BN * HDP) * 4);
    float *Of = malloc((size_t)(BM * HDP) * 4), *PV = malloc((size_t)(BM * HDP) * 4), Sf[BM][BN], Ph[BM][BN], Mrow[BM], Lrow[BM], Crow[BM];
    int32_t key[BN], kpos[BN];
    int upd[BM];
    uint64_t seen[BM];
    int32_t n_tiles = tc_tiles_host(tiles, seg_lo, seg_hi, pre_lo, pre_hi, T);
    for (int64_t h = 0; h < H; h++) {
        int64_t hk = h / (H / HKV);
        float slope = o->alibi ? o->alibi[h] : 0.0f;
        for (int32_t ti = 0; ti < n_tiles; ti++) {
            int32_t t0 = tiles[1 + ti], nq = tiles[2 + ti] - t0;
            int32_t slo = seg_lo[t0], shi = seg_hi[t0], plo = pre_lo[t0], phi = pre_hi[t0];
            int64_t n_max = qk_tc_n_keys(t0 + nq - 1, !o->bidir, slo, shi, plo, phi);
            for (int r = 0; r < BM; r++) {
                for (int64_t d = 0; d < HDP; d++) {
                    Qs[r * HDP + d] = round_to(r < nq && d < HD ? q[(t0 + r) * ldq + h * HD + d] : 0.0f, wt);
                    Of[r * HDP + d] = 0.0f;
                }
                Mrow[r] = -INFINITY, Lrow[r] = 0.0f;
            }
            for (int64_t j0 = 0; j0 < n_max; j0 += BN) {
                for (int c = 0; c < BN; c++) {
                    int64_t j = j0 + c;
                    key[c] = j < n_max ? (int32_t)qk_tc_key(j, slo, plo, phi) : -1;
                    kpos[c] = key[c] >= 0 ? pos[key[c]] : 0;
                }
                int any = 0;
                for (int r = 0; r < BM; r++) {
                    int64_t t = t0 + r, n_row = r < nq ? qk_tc_n_keys(t, !o->bidir, slo, shi, plo, phi) : 0;
                    seen[r] = 0;
                    for (int c = 0; c < BN; c++)
                        if (r < nq && j0 + c < n_row && qk_tc_in_window(pos[t], kpos[c], o->window)) seen[r] |= 1ull << c;
                    any |= seen[r] != 0;
                }
                if (!any) continue;
                for (int c = 0; c < BN; c++)
                    for (int64_t d = 0; d < HDP; d++) {
                        int ok = key[c] >= 0 && d < HD;
                        Ks[c * HDP + d] = round_to(ok ? k[key[c] * ldk + hk * HD + d] : 0.0f, wt);
                        Vs[c * HDP + d] = round_to(ok ? v[key[c] * ldk + hk * HD + d] : 0.0f, wt);
                    }
                for (int r = 0; r < BM; r++)
                    for (int c = 0; c < BN; c++) {
                        float s = 0.0f;
                        for (int64_t d = 0; d < HDP; d++) s += Qs[r * HDP + d] * Ks[c * HDP + d];
                        Sf[r][c] = s;
                    }
                for (int r = 0; r < BM; r++) { /* four quarters of 16 keys, combined as the lanes' xor 1 then 2 */
                    int32_t pos_t = r < nq ? pos[t0 + r] : 0;
                    float sc[BN], qm[4], qs[4];
                    for (int qq = 0; qq < 4; qq++) {
                        qm[qq] = -INFINITY;
                        for (int i = 0; i < 16; i++) {
                            int c = qq * 16 + i;
                            sc[c] = (seen[r] >> c) & 1 ? qk_tc_score(Sf[r][c], scale, o->softcap, o->alibi != NULL, slope, pos_t, kpos[c]) : -INFINITY;
                            qm[qq] = fmaxf(qm[qq], sc[c]);
                        }
                    }
                    float mx = fmaxf(fmaxf(qm[0], qm[1]), fmaxf(qm[2], qm[3]));
                    upd[r] = mx != -INFINITY;
                    float m_new = upd[r] ? fmaxf(Mrow[r], mx) : Mrow[r];
                    for (int qq = 0; qq < 4; qq++) {
                        qs[qq] = 0.0f;
                        for (int i = 0; i < 16; i++) {
                            int c = qq * 16 + i;
                            Ph[r][c] = round_to(upd[r] && sc[c] != -INFINITY ? expf(sc[c] - m_new) : 0.0f, wt);
                            qs[qq] += Ph[r][c];
                        }
                    }
                    float sum = (qs[0] + qs[1]) + (qs[2] + qs[3]);
                    if (upd[r]) {
                        Crow[r] = qk_tc_corr(Mrow[r], m_new);
                        Lrow[r] = Lrow[r] * Crow[r] + sum;
                        Mrow[r] = m_new;
                    }
                }
                for (int r = 0; r < BM; r++)
                    for (int64_t d = 0; d < HDP; d++) {
                        float s = 0.0f;
                        for (int c = 0; c < BN; c++) s += Ph[r][c] * Vs[c * HDP + d];
                        PV[r * HDP + d] = s;
                    }
                for (int r = 0; r < BM; r++)
                    if (upd[r])
                        for (int64_t d = 0; d < HDP; d++) Of[r * HDP + d] = Of[r * HDP + d] * Crow[r] + PV[r * HDP + d];
            }
            for (int r = 0; r < nq; r++)
                for (int64_t d = 0; d < HD; d++) out[(t0 + r) * ldo + h * HD + d] = Of[r * HDP + d] / Lrow[r];
        }
    }
    free(tiles); free(Qs); free(Ks); free(Vs); free(Of); free(PV);
}

/* a packed batch's layout: sequences of the given lengths; with share, sequence 0 is a prompt every
 * following sequence attends to as its prefix (as t_attention) */
typedef struct att_layout {
    int64_t T;
    int32_t *pos, *seg, *shi, *plo, *phi;
} att_layout;
static att_layout layout_of(const int *lens, int n_seq, int share) {
    att_layout l = {0};
    for (int s = 0; s < n_seq; s++) l.T += lens[s];
    int32_t **v[5] = {&l.pos, &l.seg, &l.shi, &l.plo, &l.phi};
    for (int i = 0; i < 5; i++) *v[i] = malloc((size_t)l.T * 4);
    int64_t t = 0;
    for (int s = 0; s < n_seq; s++)
        for (int i = 0; i < lens[s]; i++, t++) {
            int pre = share && s > 0;
            l.pos[t] = (int32_t)(i + (pre ? lens[0] : 0));
            l.seg[t] = (int32_t)(t - i);
            l.shi[t] = (int32_t)(t - i + lens[s]);
            l.plo[t] = 0;
            l.phi[t] = pre ? lens[0] : 0;
        }
    return l;
}
static void layout_free(att_layout *l) { free(l->pos); free(l->seg); free(l->shi); free(l->plo); free(l->phi); }

/* the tensor-core attention of q, k, v [T, QD / KD / KD] into out: on c's backend in dtype wt (its
 * tensor-core kernel where it has one), or the plain-C emulation when c is NULL */
static void att_tc_run(ctx *c, quipu_etype wt, float *out, const float *q, const float *k, const float *v, const att_layout *l, int64_t H,
                       int64_t HKV, int64_t HD, const att_opt *o) {
    int64_t T = l->T, QD = H * HD, KD = HKV * HD;
    float scale = (float)(1.0 / sqrt((double)HD));
    if (!c) {
        attention_tc_emul(out, QD, q, k, v, QD, KD, l->pos, l->seg, l->shi, l->plo, l->phi, T, H, HKV, HD, scale, o, wt);
        return;
    }
    quipu_error err = {0};
    const char *was = set_dtype(c, wt == QUIPU_E_BF16 ? "bf16" : "f16");
    quipu_buf *bq = up(c, q, (size_t)(T * QD) * 4), *bk = up(c, k, (size_t)(T * KD) * 4), *bv = up(c, v, (size_t)(T * KD) * 4);
    quipu_buf *bo = up(c, NULL, (size_t)(T * QD) * 4), *ba = o->alibi ? up(c, o->alibi, (size_t)H * 4) : NULL;
    lay_bufs lb;
    quipu_attention_args a = {.q = fv(bq, T, QD), .k = fv(bk, T, KD), .v = fv(bv, T, KD), .out = fv(bo, T, QD),
                              .lay = lay_up(c, &lb, T, l->pos, l->seg, l->shi, l->plo, l->phi), .alibi = fv(ba, 1, H), .n_heads = H,
                              .n_heads_kv = HKV, .head_dim = HD, .scale = scale, .softcap = o->softcap, .window = o->window,
                              .causal = !o->bidir, .ws = ws_view(c, T, 1, 1, 1)};
    OK_OP(quipu_op_attention(c->b, &a, &err));
    down(c, bo, out, (size_t)(T * QD) * 4);
    drop(c, bq); drop(c, bk); drop(c, bv); drop(c, bo); drop(c, ba);
    lay_free(c, &lb);
    set_dtype(c, was);
}

/* one case: against the reference over the rounded q, k, v; then, without a shared prompt, the
 * sequence `pick` computed alone must give its bits in the batch */
static void t_attention_tc(ctx *c, quipu_etype wt, const int *lens, int n_seq, int share, int pick, int64_t H, int64_t HKV, int64_t HD,
                           const att_opt *o) {
    att_layout l = layout_of(lens, n_seq, share);
    int64_t T = l.T, QD = H * HD, KD = HKV * HD;
    float *q = rand_vec(T * QD, 1), *k = rand_vec(T * KD, 1), *v = rand_vec(T * KD, 1), *got = malloc((size_t)(T * QD) * 4);
    float *qr = rounded(q, T * QD, wt), *kr = rounded(k, T * KD, wt), *vr = rounded(v, T * KD, wt);
    double *ref = malloc((size_t)(T * QD) * sizeof(double)), *ref32 = malloc((size_t)(T * QD) * sizeof(double));
    attention_ref(ref, qr, kr, vr, QD, KD, l.pos, l.seg, l.shi, l.plo, l.phi, T, H, HKV, HD, 1.0 / sqrt((double)HD), o);
    att_tc_run(c, wt, got, q, k, v, &l, H, HKV, HD, o);
    double vmax = 0, u = unit_roundoff(wt);
    for (int64_t i = 0; i < T * KD; i++) vmax = fmax(vmax, fabs(vr[i]));
    double atol = 2.01 * u * vmax + (wt == QUIPU_E_F16 ? (double)T * 0x1p-25 * vmax : 0.0) + 1e-5;
    const char *kind = c ? "tensor cores" : "emulated";
    if (c) { /* a GPU without the tensor-core kernel here (QUIPU_GPU_ATTN=exact, sm < 80, HIP) runs the fp32 one */
        attention_ref(ref32, q, k, v, QD, KD, l.pos, l.seg, l.shi, l.plo, l.phi, T, H, HKV, HD, 1.0 / sqrt((double)HD), o);
        if (outside(got, ref32, NULL, T * QD, 2e-6, 1e-5) == 0) kind = "fp32 kernel", memcpy(ref, ref32, (size_t)(T * QD) * sizeof(double)), atol = 2e-6;
    }
    char shape[160];
    snprintf(shape, sizeof shape, "%s %s T=%lld seqs=%d%s H=%lld/%lld HD=%lld win=%d%s%s%s", kind, quipu_etype_name(wt), (long long)T, n_seq,
             share ? " shared" : "", (long long)H, (long long)HKV, (long long)HD, o->window, o->bidir ? " bidir" : "",
             o->softcap > 0 ? " softcap" : "", o->alibi ? " alibi" : "");
    ctx *rc = c ? c : &host_ctx;
    compare(rc, "attn-tc", shape, got, ref, NULL, T * QD, atol, c && atol == 2e-6 ? 1e-5 : 0.0);
    if (!share && pick >= 0) {
        int64_t off = 0;
        for (int s = 0; s < pick; s++) off += lens[s];
        att_layout la = layout_of(&lens[pick], 1, 0);
        float *alone = malloc((size_t)(la.T * QD) * 4);
        att_tc_run(c, wt, alone, q + off * QD, k + off * KD, v + off * KD, &la, H, HKV, HD, o);
        same_bits_as(rc, "attn-tc", shape, "a sequence alone == in batch", alone, got + off * QD, (size_t)(la.T * QD) * 4);
        free(alone);
        layout_free(&la);
    }
    free(q); free(k); free(v); free(qr); free(kr); free(vr); free(got); free(ref); free(ref32);
    layout_free(&l);
}

/* a prompt of P tokens shared by continuations of L1 and L2 tokens == the prompt repeated in front
 * of each, bit for bit: the continuations sit at other rows of their tiles (P mod 32 further) but
 * at the same virtual key indices */
static void t_attention_tc_shared(ctx *c, quipu_etype wt, int P, int L1, int L2, int64_t H, int64_t HKV, int64_t HD, const att_opt *o) {
    int lens_s[3] = {P, L1, L2}, lens_r[2] = {P + L1, P + L2};
    att_layout ls = layout_of(lens_s, 3, 1), lr = layout_of(lens_r, 2, 0);
    int64_t QD = H * HD, KD = HKV * HD, Ts = ls.T, Tr = lr.T;
    float *qs = rand_vec(Ts * QD, 1), *ks = rand_vec(Ts * KD, 1), *vs = rand_vec(Ts * KD, 1);
    float *qr = malloc((size_t)(Tr * QD) * 4), *kr = malloc((size_t)(Tr * KD) * 4), *vr = malloc((size_t)(Tr * KD) * 4);
    for (int64_t t = 0; t < Tr; t++) { /* repeated: [P, L1, P, L2] */
        int64_t from = t < P + L1 ? t : t < 2 * P + L1 ? t - (P + L1) : t - P;
        memcpy(qr + t * QD, qs + from * QD, (size_t)QD * 4);
        memcpy(kr + t * KD, ks + from * KD, (size_t)KD * 4);
        memcpy(vr + t * KD, vs + from * KD, (size_t)KD * 4);
    }
    float *out_s = malloc((size_t)(Ts * QD) * 4), *out_r = malloc((size_t)(Tr * QD) * 4);
    att_tc_run(c, wt, out_s, qs, ks, vs, &ls, H, HKV, HD, o);
    att_tc_run(c, wt, out_r, qr, kr, vr, &lr, H, HKV, HD, o);
    int eq = !memcmp(out_s + (int64_t)P * QD, out_r + (int64_t)P * QD, (size_t)((int64_t)L1 * QD) * 4) &&
             !memcmp(out_s + (int64_t)(P + L1) * QD, out_r + (int64_t)(2 * P + L1) * QD, (size_t)((int64_t)L2 * QD) * 4);
    char shape[160];
    snprintf(shape, sizeof shape, "%s %s prompt %d + %d, %d H=%lld/%lld HD=%lld win=%d", c ? "tensor cores" : "emulated", quipu_etype_name(wt),
             P, L1, L2, (long long)H, (long long)HKV, (long long)HD, o->window);
    verdict(c ? c : &host_ctx, "attn-tc", shape, "shared prompt == repeated prompt", eq);
    free(qs); free(ks); free(vs); free(qr); free(kr); free(vr); free(out_s); free(out_r);
    layout_free(&ls);
    layout_free(&lr);
}

/* a huge v (past f16's range) on a sequence's last token: the rows before it, in the same tile,
 * do not see that key, and must keep their bits (a zero weight times an infinite v would be NaN) */
static void t_attention_tc_huge_v(ctx *c, quipu_etype wt) {
    int lens[] = {20};
    att_layout l = layout_of(lens, 1, 0);
    int64_t H = 2, HKV = 1, HD = 64, T = l.T;
    float *q = rand_vec(T * H * HD, 1), *k = rand_vec(T * HKV * HD, 1), *v = rand_vec(T * HKV * HD, 1);
    float *o1 = malloc((size_t)(T * H * HD) * 4), *o2 = malloc((size_t)(T * H * HD) * 4);
    att_opt plain = {0};
    att_tc_run(c, wt, o1, q, k, v, &l, H, HKV, HD, &plain);
    for (int64_t d = 0; d < HKV * HD; d++) v[(T - 1) * HKV * HD + d] = d % 2 ? 1e6f : -1e6f;
    att_tc_run(c, wt, o2, q, k, v, &l, H, HKV, HD, &plain);
    char shape[96];
    snprintf(shape, sizeof shape, "%s %s T=20 |v| = 1e6 on the last token", c ? "tensor cores" : "emulated", quipu_etype_name(wt));
    same_bits_as(c ? c : &host_ctx, "attn-tc", shape, "earlier rows keep their bits", o1, o2, (size_t)((T - 1) * H * HD) * 4);
    free(q); free(k); free(v); free(o1); free(o2);
    layout_free(&l);
}

/* the proof the GPU backend runs before the kernel's first use (qk_attention_tc_prove), emulated
 * on its own batches and values: if the emulation passes it, a device failing it is the device's
 * tensor cores (or the kernel's CUDA), never the proof's layout */
static void t_attention_tc_proof(quipu_etype wt, int64_t HD) {
    enum { T = QK_TC_PROOF_T };
    int32_t lay[3][5][QK_TC_PROOF_T];
    qk_tc_proof_layout(lay);
    int64_t H = 4, HKV = 2, QD = H * HD, KD = HKV * HD;
    float *all = malloc((size_t)(T * QD + 2 * T * KD) * 4), *got = malloc((size_t)(T * QD) * 4);
    float *alone = malloc((size_t)(T * QD) * 4), *rep = malloc((size_t)(T * QD) * 4);
    double *ref = malloc((size_t)(T * QD) * sizeof(double));
    qk_tc_proof_values(all, (size_t)(T * QD + 2 * T * KD));
    const float *q = all, *k = all + T * QD, *v = all + T * QD + T * KD;
    int exact = 1;
    for (int64_t i = 0; i < T * QD + 2 * T * KD; i++) exact &= round_to(all[i], wt) == all[i];
    att_opt plain = {0};
    float scale = 1.0f / sqrtf((float)HD);
    attention_ref(ref, q, k, v, QD, KD, lay[0][0], lay[0][1], lay[0][2], lay[0][3], lay[0][4], T, H, HKV, HD, scale, &plain);
    attention_tc_emul(got, QD, q, k, v, QD, KD, lay[0][0], lay[0][1], lay[0][2], lay[0][3], lay[0][4], T, H, HKV, HD, scale, &plain, wt);
    attention_tc_emul(alone, QD, q + 70 * QD, k + 70 * KD, v + 70 * KD, QD, KD, lay[1][0], lay[1][1], lay[1][2], lay[1][3], lay[1][4], 45, H,
                      HKV, HD, scale, &plain, wt);
    attention_tc_emul(rep, QD, q, k, v, QD, KD, lay[2][0], lay[2][1], lay[2][2], lay[2][3], lay[2][4], 70, H, HKV, HD, scale, &plain, wt);
    char shape[96];
    snprintf(shape, sizeof shape, "the device's proof, emulated: %s HD=%lld", quipu_etype_name(wt), (long long)HD);
    verdict(&host_ctx, "attn-tc", shape, "q, k, v exact in the type", exact);
    compare(&host_ctx, "attn-tc", shape, got, ref, NULL, T * QD, 2.01 * unit_roundoff(wt) + 1e-4, 0.0);
    same_bits_as(&host_ctx, "attn-tc", shape, "the 45 alone == in the batch", alone, got + 70 * QD, (size_t)(45 * QD) * 4);
    same_bits_as(&host_ctx, "attn-tc", shape, "shared prompt == repeated prompt", rep + 20 * QD, got + 20 * QD, (size_t)(50 * QD) * 4);
    free(all); free(got); free(alone); free(rep); free(ref);
}

/* every tensor-core attention case, in dtype wt: on c's backend, or emulated (c NULL) */
static void t_attention_tc_all(ctx *c, quipu_etype wt) {
    static const int one[] = {1}, mixed[] = {5, 1, 17, 3}, longs[] = {300, 45}, prompt[] = {40, 7, 1, 13}, edges[] = {32, 33, 64, 31, 65};
    static const float slopes[8] = {0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f, 0.00390625f};
    att_opt plain = {0}, win37 = {.window = 37}, win11 = {.window = 11}, bidir = {.bidir = 1}, bidir_win = {.bidir = 1, .window = 9};
    att_opt cap = {.softcap = 50.0f}, capw = {.softcap = 2.0f, .window = 20}, alibi = {.alibi = slopes};
    t_attention_tc(c, wt, one, 1, 0, 0, 1, 1, 8, &plain);       /* one token; head dim 8, zero-padded to 16 */
    t_attention_tc(c, wt, mixed, 4, 0, 2, 4, 4, 64, &plain);    /* GQA 1 */
    t_attention_tc(c, wt, mixed, 4, 0, 2, 8, 2, 128, &plain);   /* GQA 4 */
    t_attention_tc(c, wt, longs, 2, 0, 1, 8, 1, 64, &plain);    /* GQA 8, tiles and key chunks */
    t_attention_tc(c, wt, edges, 5, 0, 3, 4, 2, 64, &plain);    /* lengths at the tile and chunk sizes, and one past */
    t_attention_tc(c, wt, longs, 2, 0, 1, 4, 2, 64, &win37);    /* sliding window: chunks no row sees are skipped */
    t_attention_tc(c, wt, prompt, 4, 1, -1, 4, 2, 64, &plain);  /* shared prompt */
    t_attention_tc(c, wt, prompt, 4, 1, -1, 4, 1, 64, &win11);  /* shared prompt and window */
    t_attention_tc(c, wt, longs, 2, 0, 1, 2, 2, 256, &plain);   /* head dim 256 (Gemma) */
    t_attention_tc(c, wt, mixed, 4, 0, 2, 4, 2, 80, &plain);    /* head dim 80: five 16-wide steps */
    t_attention_tc(c, wt, mixed, 4, 0, 2, 4, 2, 64, &bidir);    /* masked LMs */
    t_attention_tc(c, wt, longs, 2, 0, 1, 4, 4, 64, &bidir_win);
    t_attention_tc(c, wt, mixed, 4, 0, 2, 4, 2, 64, &cap);      /* Gemma 2 soft-capping */
    t_attention_tc(c, wt, longs, 2, 0, 1, 4, 2, 64, &capw);
    t_attention_tc(c, wt, mixed, 4, 0, 3, 8, 8, 64, &alibi);    /* BLOOM */
    t_attention_tc_shared(c, wt, 9, 5, 3, 4, 2, 64, &plain);
    t_attention_tc_shared(c, wt, 40, 45, 3, 8, 1, 128, &plain); /* rows 8 further in their tiles; chunks across the prompt's end */
    t_attention_tc_shared(c, wt, 40, 45, 3, 4, 2, 64, &win11);
    t_attention_tc_shared(c, wt, 70, 20, 66, 4, 4, 64, &bidir);
    t_attention_tc_huge_v(c, wt);
}

/* the tile list's promises, on layouts with shared prompts and lengths around the tile size:
 * tiles cover the batch in order, hold 1..BM queries of one segment, and start where the segment
 * does or a multiple of BM past it (so a query's row in its tile is the same in any batch) */
static void t_tc_tiles(void) {
    static const int a[] = {1}, b[] = {5, 1, 17, 3}, c_[] = {300, 45}, d[] = {40, 7, 1, 13}, e[] = {32, 33, 64, 31, 65, 96, 1};
    static const int f[] = {1500, 1, 2, 700, 33}, g[] = {1023, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 300};
    const int *lens[] = {a, b, c_, d, e, d, f, g, f};
    int n_seq[] = {1, 4, 2, 4, 7, 4, 5, 22, 5}, share[] = {0, 0, 0, 1, 0, 0, 0, 0, 1};
    int bad = 0, n_tiles = 0;
    for (int k = 0; k < 9; k++) {
        att_layout l = layout_of(lens[k], n_seq[k], share[k]);
        int32_t *tiles = malloc((size_t)(l.T + 2) * 4), n_direct = 0;
        int32_t n = tc_tiles_host(tiles, l.seg, l.shi, l.plo, l.phi, l.T);
        n_tiles += n;
        bad += tiles[0] != n || tiles[1] != 0 || tiles[1 + n] != l.T || n > l.T;
        for (int64_t t = 0; t < l.T; t++) /* the threads' shares put together == one pass over the tokens */
            if (qk_tc_tile_starts(t, l.seg, l.shi, l.plo, l.phi)) bad += n_direct >= n || tiles[1 + n_direct++] != t;
        bad += n_direct != n;
        for (int32_t i = 0; i < n; i++) {
            int32_t t0 = tiles[1 + i], t1 = tiles[2 + i];
            bad += t1 <= t0 || t1 - t0 > QK_TC_BM || ((t0 - l.seg[t0]) % QK_TC_BM != 0);
            for (int32_t t = t0; t < t1; t++)
                bad += l.seg[t] != l.seg[t0] || l.shi[t] != l.shi[t0] || l.plo[t] != l.plo[t0] || l.phi[t] != l.phi[t0];
        }
        free(tiles);
        layout_free(&l);
    }
    host_ctx.cases++;
    host_ctx.failed += bad != 0;
    printf("%-5s %-10s %-44s %s\n", "host", "attn-tc", "tile lists of 9 layouts", bad ? "WRONG" : "ok");
    CHECK_MSG(bad == 0, "tensor-core attention tile list: %d broken promises over %d tiles", bad, n_tiles);
}

static void t_act(ctx *c, int64_t n, quipu_act_kind kind, int gated) {
    float *g = rand_vec(n, 4), *u = gated ? rand_vec(n, 1) : NULL, *got = malloc((size_t)n * 4);
    double *ref = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) ref[i] = act_ref1(g[i], kind) * (u ? u[i] : 1.0);
    quipu_buf *bg = up(c, g, (size_t)n * 4), *bu = u ? up(c, u, (size_t)n * 4) : NULL;
    quipu_error err = {0};
    quipu_act_args a = {.gate = fv(bg, 1, n), .up = fv(bu, 1, n), .kind = kind};
    OK_OP(quipu_op_act(c->b, &a, &err));
    down(c, bg, got, (size_t)n * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "%s n=%lld%s", kind == QUIPU_ACT_SILU ? "silu" : kind == QUIPU_ACT_GELU_TANH ? "gelu-tanh" : "gelu-erf",
             (long long)n, gated ? " gated" : "");
    compare(c, "act", shape, got, ref, NULL, n, 1e-6, 1e-5);
    drop(c, bg); drop(c, bu);
    free(g); free(u); free(got); free(ref);
}

static void t_embed_add_w(ctx *c, quipu_etype wt, int64_t V, int64_t D, int64_t T) {
    float *tab0 = rand_vec(V * D, 1), *tab = rounded(tab0, V * D, wt), *y0 = rand_vec(T * D, 1), *got = malloc((size_t)(T * D) * 4);
    int32_t *ids = malloc((size_t)T * 4);
    for (int64_t t = 0; t < T; t++) ids[t] = (int32_t)((t * 7919) % V);
    double *ref = malloc((size_t)(T * D) * sizeof(double));
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < D; i++) ref[t * D + i] = (double)(tab[ids[t] * D + i] * 2.5f) + y0[t * D + i];
    quipu_buf *bt = up_w(c, tab0, V * D, wt), *bi = up(c, ids, (size_t)T * 4), *be = up(c, NULL, (size_t)(T * D) * 4);
    quipu_buf *by = up(c, y0, (size_t)(T * D) * 4);
    quipu_error err = {0};
    quipu_embed_args ea = {.out = fv(be, T, D), .table = wv(bt, wt, V, D), .ids = iv(bi, T), .scale = 2.5f};
    quipu_add_args aa = {.y = fv(by, T, D), .x = fv(be, T, D)};
    CHECK(quipu_op_embed(c->b, &ea, &err) == QUIPU_OK);
    OK_OP(quipu_op_add(c->b, &aa, &err));
    down(c, by, got, (size_t)(T * D) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "%sV=%lld D=%lld T=%lld", wt == QUIPU_E_F32 ? "" : wt == QUIPU_E_BF16 ? "bf16 table " : "f16 table ",
             (long long)V, (long long)D, (long long)T);
    compare(c, "embed+add", shape, got, ref, NULL, T * D, 1e-6, 1e-6);
    drop(c, bt); drop(c, bi); drop(c, be); drop(c, by);
    free(tab0); free(tab); free(y0); free(got); free(ids); free(ref);
}
static void t_embed_add(ctx *c, int64_t V, int64_t D, int64_t T) { t_embed_add_w(c, QUIPU_E_F32, V, D, T); }

/* partial over [v_lo, v_lo + n) of lm_head rows, into part columns [col0, ..) of a R x nb array */
static void lp_partial(ctx *c, quipu_buf *bh, int64_t T, int64_t D, quipu_buf *bw, quipu_etype wt, int64_t v_lo, int64_t n, quipu_buf *brows,
                       quipu_buf *btg, int64_t R, quipu_buf *bpart, int64_t nb, int64_t col0, float softcap) {
    quipu_error err = {0};
    int64_t blk = c->b->iface->lp_block;
    quipu_view lm = quipu_view_rows(wv(bw, wt, v_lo + n, D), v_lo, n);
    quipu_view part = quipu_view_cols(quipu_view_of(bpart, QUIPU_E_LP, R, nb), col0, (n + blk - 1) / blk);
    quipu_logprob_args a = {.h = fv(bh, T, D), .lm_head = lm, .rows = iv(brows, R), .targets = iv(btg, R), .v_lo = v_lo, .softcap = softcap,
                            .part = part, .ws = ws_view(c, T, R, 1, D)};
    OK_OP(quipu_op_logprob_partial(c->b, &a, &err));
}

static void lp_combine(ctx *c, quipu_buf *bpart, int64_t nb, quipu_buf *btg, int64_t R, double *lp, uint8_t *gr) {
    quipu_error err = {0};
    quipu_buf *bl = up(c, NULL, (size_t)R * 8), *bg = up(c, NULL, (size_t)R);
    quipu_combine_args a = {.part = quipu_view_of(bpart, QUIPU_E_LP, R, nb), .targets = iv(btg, R), .block = c->b->iface->lp_block,
                            .logprob = quipu_view_of(bl, QUIPU_E_F64, 1, R), .greedy = quipu_view_of(bg, QUIPU_E_U8, 1, R)};
    OK_OP(quipu_op_logprob_combine(c->b, &a, &err));
    down(c, bl, lp, (size_t)R * 8);
    down(c, bg, gr, (size_t)R);
    drop(c, bl);
    drop(c, bg);
}

/* the log-probs of rows' targets under lm_head w, in double; pick: choose the targets (every
 * third row its argmax, so greedy, the others a spread id); mag[r]: the largest sum |h w| of the
 * row's logits, which bounds what rounding w moves a logit by */
static void logprob_ref(double *ref, uint8_t *gref, double *mag, int32_t *tg, int pick, const float *h, const float *w, const int32_t *rows,
                        int64_t D, int64_t V, int64_t R, float softcap) {
    double *lg = malloc((size_t)V * sizeof(double));
    for (int64_t r = 0; r < R; r++) {
        const float *hr = h + (int64_t)rows[r] * D;
        double mx = -INFINITY, s = 0, big = 0;
        int64_t am = -1;
        for (int64_t v = 0; v < V; v++) {
            double d = 0, a = 0;
            for (int64_t i = 0; i < D; i++) d += (double)hr[i] * w[v * D + i], a += fabs((double)hr[i] * w[v * D + i]);
            if (softcap > 0) d = softcap * tanh(d / softcap);
            lg[v] = d;
            if (d > mx) mx = d, am = v;
            if (a > big) big = a;
        }
        if (pick) tg[r] = (int32_t)(r % 3 == 0 ? am : (r * 104729) % V);
        for (int64_t v = 0; v < V; v++) s += exp(lg[v] - mx);
        ref[r] = lg[tg[r]] - (mx + log(s));
        gref[r] = (uint8_t)(am == tg[r]);
        mag[r] = big;
    }
    free(lg);
}

static void t_logprob_w(ctx *c, quipu_etype wt, int64_t T, int64_t D, int64_t V, int64_t R, float softcap) {
    float *h = rand_vec(T * D, 1), *w0 = rand_vec(V * D, 1), *w = rounded(w0, V * D, wt);
    int32_t *rows = malloc((size_t)R * 4), *tg = malloc((size_t)R * 4);
    double *lp = malloc((size_t)R * sizeof(double)), *lp2 = malloc((size_t)R * sizeof(double)), *ref = malloc((size_t)R * sizeof(double)), lp1;
    double *mag = malloc((size_t)R * sizeof(double));
    uint8_t *gr = malloc((size_t)R), *gr2 = malloc((size_t)R), *gref = malloc((size_t)R), g1;
    for (int64_t r = 0; r < R; r++) rows[r] = (int32_t)((r * 5) % T);
    logprob_ref(ref, gref, mag, tg, 1, h, w, rows, D, V, R, softcap);
    int64_t blk = c->b->iface->lp_block, nb = (V + blk - 1) / blk;
    quipu_buf *bh = up(c, h, (size_t)(T * D) * 4), *bw = up_w(c, w0, V * D, wt), *brows = up(c, rows, (size_t)R * 4);
    quipu_buf *btg = up(c, tg, (size_t)R * 4), *bpart = up(c, NULL, (size_t)(R * nb) * quipu_etype_size(QUIPU_E_LP));
    lp_partial(c, bh, T, D, bw, wt, 0, V, brows, btg, R, bpart, nb, 0, softcap);
    lp_combine(c, bpart, nb, btg, R, lp, gr);
    float *gotf = malloc((size_t)R * 4);
    for (int64_t r = 0; r < R; r++) gotf[r] = (float)lp[r];
    char shape[96];
    snprintf(shape, sizeof shape, "%sT=%lld D=%lld V=%lld rows=%lld%s", wt == QUIPU_E_F32 ? "" : wt == QUIPU_E_BF16 ? "bf16 w " : "f16 w ",
             (long long)T, (long long)D, (long long)V, (long long)R, softcap > 0 ? " softcap" : "");
    /* logits are fp32 dot products: |err| ~ 1e-6 * sqrt(D) per logit */
    compare(c, "logprob", shape, gotf, ref, NULL, R, 2e-5, 1e-6);
    if (wt != QUIPU_E_F32) { /* against the fp32 weights: a logit moves by <= u * mag, the log-prob by twice that */
        double *ref32 = malloc((size_t)R * sizeof(double)), *bound = malloc((size_t)R * sizeof(double));
        uint8_t *g32 = malloc((size_t)R);
        logprob_ref(ref32, g32, bound, tg, 0, h, w0, rows, D, V, R, softcap);
        for (int64_t r = 0; r < R; r++) bound[r] *= 2.0;
        char s2[120];
        snprintf(s2, sizeof s2, "%s vs f32 w", shape);
        compare(c, "logprob", s2, gotf, ref32, bound, R, 2e-5, unit_roundoff(wt));
        free(ref32);
        free(bound);
        free(g32);
    }
    int gbad = 0;
    for (int64_t r = 0; r < R; r++) gbad += gr[r] != gref[r];
    CHECK_MSG(gbad == 0, "%s logprob %s: %d greedy flags differ", c->name, shape, gbad);
    /* the last row alone: same bits */
    quipu_buf *bpart1 = up(c, NULL, (size_t)nb * quipu_etype_size(QUIPU_E_LP));
    quipu_buf *brow1 = up(c, rows + R - 1, 4), *btg1 = up(c, tg + R - 1, 4);
    lp_partial(c, bh, T, D, bw, wt, 0, V, brow1, btg1, 1, bpart1, nb, 0, softcap);
    lp_combine(c, bpart1, nb, btg1, 1, &lp1, &g1);
    same_bits(c, "logprob", shape, &lp1, lp + R - 1, sizeof(double));
    if (nb > 1) { /* the vocabulary in two ranges at a block boundary (two GPUs), merged: same bits */
        int64_t cut = (nb / 2) * blk;
        quipu_buf *bpart2 = up(c, NULL, (size_t)(R * nb) * quipu_etype_size(QUIPU_E_LP));
        lp_partial(c, bh, T, D, bw, wt, 0, cut, brows, btg, R, bpart2, nb, 0, softcap);
        lp_partial(c, bh, T, D, bw, wt, cut, V - cut, brows, btg, R, bpart2, nb, cut / blk, softcap);
        lp_combine(c, bpart2, nb, btg, R, lp2, gr2);
        same_bits_as(c, "logprob", shape, "two vocabulary ranges merged == whole", lp2, lp, (size_t)R * sizeof(double));
        CHECK(!memcmp(gr2, gr, (size_t)R));
        drop(c, bpart2);
    }
    drop(c, bh); drop(c, bw); drop(c, brows); drop(c, btg); drop(c, bpart); drop(c, bpart1); drop(c, brow1); drop(c, btg1);
    free(h); free(w0); free(w); free(rows); free(tg); free(lp); free(lp2); free(ref); free(mag); free(gr); free(gr2); free(gref); free(gotf);
}
static void t_logprob(ctx *c, int64_t T, int64_t D, int64_t V, int64_t R, float softcap) { t_logprob_w(c, QUIPU_E_F32, T, D, V, R, softcap); }

/* a view past its buffer, a missing op's wrapper: clear errors, never a call out of bounds */
static void t_checks(ctx *c) {
    quipu_error err = {0};
    quipu_buf *bx = up(c, NULL, 64 * 4), *bw = up(c, NULL, 16 * 4), *by = up(c, NULL, 4 * 4);
    quipu_matmul_args a = {.x = fv(bx, 4, 16), .w = fv(bw, 1, 16), .y = fv(by, 4, 1)};
    a.x.rows = 5; /* 80 floats in a buffer of 64 */
    quipu_status st = quipu_op_matmul(c->b, &a, &err);
    int ok = st != QUIPU_OK && strstr(err.msg, "past its buffer") != NULL;
    c->cases++;
    c->failed += !ok;
    printf("%-5s %-10s %-44s %s\n", c->name, "checks", "view past its buffer", ok ? err.msg : "NOT REFUSED");
    CHECK_MSG(ok, "%s: a view past its buffer was not refused (%s)", c->name, err.msg);
    a.x.rows = 4;
    a.w.type = QUIPU_E_I32; /* not a float type: refused whatever the backend */
    memset(&err, 0, sizeof err);
    st = quipu_op_matmul(c->b, &a, &err);
    ok = st != QUIPU_OK && strstr(err.msg, "expected f32, bf16 or f16") != NULL;
    c->cases++;
    c->failed += !ok;
    printf("%-5s %-10s %-44s %s\n", c->name, "checks", "i32 weight", ok ? err.msg : "NOT REFUSED");
    CHECK_MSG(ok, "%s: an i32 weight was not refused (%s)", c->name, err.msg);
    drop(c, bx); drop(c, bw); drop(c, by);
}

/* a backend computing in f32 only (the CPU) refuses half weights in every op that reads
 * weights, naming the type and the reason, before any kernel runs */
static void t_half_refused(ctx *c) {
    quipu_buf *bx = up(c, NULL, 64 * 4), *bw = up(c, NULL, 64 * 2), *by = up(c, NULL, 64 * 4), *bi = up(c, NULL, 4 * 4);
    quipu_buf *bp = up(c, NULL, 4 * quipu_etype_size(QUIPU_E_LP));
    quipu_etype types[] = {QUIPU_E_BF16, QUIPU_E_F16};
    for (int k = 0; k < 2; k++) {
        quipu_etype wt = types[k];
        quipu_matmul_args ma = {.x = fv(bx, 4, 16), .w = wv(bw, wt, 4, 16), .y = fv(by, 4, 4)};
        quipu_embed_args ea = {.out = fv(by, 4, 16), .table = wv(bw, wt, 4, 16), .ids = iv(bi, 4), .scale = 1.0f};
        quipu_logprob_args la = {.h = fv(bx, 4, 16), .lm_head = wv(bw, wt, 4, 16), .rows = iv(bi, 4), .targets = iv(bi, 4),
                                 .part = quipu_view_of(bp, QUIPU_E_LP, 4, 1)};
        const char *ops[] = {"matmul", "embed", "logprob"};
        for (int o = 0; o < 3; o++) {
            quipu_error err = {0};
            quipu_status st = o == 0 ? quipu_op_matmul(c->b, &ma, &err) : o == 1 ? quipu_op_embed(c->b, &ea, &err) : quipu_op_logprob_partial(c->b, &la, &err);
            int ok = st == QUIPU_ERR_UNSUPPORTED && strstr(err.msg, quipu_etype_name(wt)) && strstr(err.msg, "computes in f32 only");
            char what[64];
            snprintf(what, sizeof what, "%s weight refused (f32 only)", quipu_etype_name(wt));
            c->cases++;
            c->failed += !ok;
            printf("%-5s %-10s %-44s %s\n", c->name, ops[o], what, ok ? err.msg : "NOT REFUSED");
            CHECK_MSG(ok, "%s %s: a %s weight was not refused clearly (status %d: %s)", c->name, ops[o], quipu_etype_name(wt), (int)st, err.msg);
        }
    }
    drop(c, bx); drop(c, bw); drop(c, by); drop(c, bi); drop(c, bp);
}

/* GGUF blocks dequantized on the backend: rows x cols of type qtype (random bytes, with finite
 * random scales where the block holds halves), into dst of type wt with ld = cols + pad; must be
 * quipu_dequantize's values bit for bit, rounded as the host rounds for a half type */
static void t_dequant(ctx *c, uint32_t qtype, int64_t rows, int64_t cols, int64_t pad, quipu_etype wt) {
    static const struct { uint32_t t; int off[2]; } halves[] = {{2, {0, -1}},   {3, {0, 2}},    {6, {0, -1}}, {7, {0, 2}},  {8, {0, -1}},
                                                              {10, {80, 82}}, {11, {108, -1}}, {12, {0, 2}}, {13, {0, 2}}, {14, {208, -1}}};
    uint32_t bs = quipu_dtype_block_size(qtype), bb = quipu_dtype_block_bytes(qtype);
    int64_t bpr = cols / bs, rb = bpr * bb, ld = cols + pad;
    uint8_t *src = malloc((size_t)(rows * rb));
    for (int64_t i = 0; i < rows * rb; i++) src[i] = (uint8_t)(frand() * 128 + 128);
    for (size_t h = 0; h < sizeof halves / sizeof halves[0]; h++)
        if (halves[h].t == qtype)
            for (int64_t k = 0; k < rows * bpr; k++)
                for (int j = 0; j < 2 && halves[h].off[j] >= 0; j++) {
                    uint16_t v = quipu_f32_to_f16(frand() * 2.0f);
                    src[k * bb + halves[h].off[j]] = (uint8_t)(v & 0xff);
                    src[k * bb + halves[h].off[j] + 1] = (uint8_t)(v >> 8);
                }
    float *ref = malloc((size_t)(rows * cols) * sizeof(float));
    quipu_error err = {0};
    for (int64_t r = 0; r < rows; r++) CHECK(quipu_dequantize(qtype, src + r * rb, ref + r * cols, (uint64_t)cols, &err) == QUIPU_OK);
    size_t es = quipu_etype_size(wt);
    uint8_t *want = calloc((size_t)(rows * ld), es), *got = malloc((size_t)(rows * ld) * es);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) {
            float v = ref[r * cols + j];
            if (wt == QUIPU_E_F32) memcpy(want + (r * ld + j) * 4, &v, 4);
            else {
                uint16_t h = wt == QUIPU_E_BF16 ? quipu_f32_to_bf16(v) : quipu_f32_to_f16(v);
                memcpy(want + (r * ld + j) * 2, &h, 2);
            }
        }
    quipu_buf *bs_ = up(c, src, (size_t)(rows * rb)), *bd = up(c, NULL, (size_t)(rows * ld) * es);
    quipu_dequant_args a = {.src = quipu_view_of(bs_, QUIPU_E_U8, rows, rb), .qtype = qtype};
    a.dst = quipu_view_cols(quipu_view_of(bd, wt, rows, ld), 0, cols);
    OK_OP(quipu_op_dequant(c->b, &a, &err));
    down(c, bd, got, (size_t)(rows * ld) * es);
    char shape[96];
    snprintf(shape, sizeof shape, "%s %lldx%lld ld %lld to %s", quipu_dtype_name(qtype), (long long)rows, (long long)cols, (long long)ld,
             quipu_etype_name(wt));
    same_bits_as(c, "dequant", shape, "== quipu_dequantize", got, want, (size_t)(rows * ld) * es);
    drop(c, bs_);
    drop(c, bd);
    free(src); free(ref); free(want); free(got);
}

/* copy between strided views, and the all-gather of a group of one (tensor parallelism's ops; the
 * multi-rank all-gather is tested under mpirun by test_tp.sh) */
static void t_copy_gather(ctx *c, int64_t rows, int64_t cols) {
    float *x = rand_vec(rows * (cols + 3), 1);
    quipu_buf *bx = up(c, x, (size_t)(rows * (cols + 3)) * 4), *by = up(c, NULL, (size_t)(rows * (cols + 9)) * 4);
    quipu_copy_args a = {.x = quipu_view_cols(fv(bx, rows, cols + 3), 2, cols), .y = quipu_view_cols(fv(by, rows, cols + 9), 5, cols)};
    quipu_error err = {0};
    OK_OP(quipu_op_copy(c->b, &a, &err));
    float *got = malloc((size_t)(rows * (cols + 9)) * 4), *want = calloc((size_t)(rows * (cols + 9)), 4);
    for (int64_t r = 0; r < rows; r++) memcpy(want + r * (cols + 9) + 5, x + r * (cols + 3) + 2, (size_t)cols * 4);
    down(c, by, got, (size_t)(rows * (cols + 9)) * 4);
    char shape[64];
    snprintf(shape, sizeof shape, "%lldx%lld strided", (long long)rows, (long long)cols);
    same_bits_as(c, "copy", shape, "== memcpy per row", got, want, (size_t)(rows * (cols + 9)) * 4);
    quipu_buf *bg = up(c, NULL, (size_t)(rows * (cols + 3)) * 4);
    quipu_allgather_args g = {.send = fv(bx, rows, cols + 3), .recv = fv(bg, rows, cols + 3)};
    OK_OP(quipu_op_allgather(c->b, &g, &err));
    down(c, bg, got, (size_t)(rows * (cols + 3)) * 4);
    same_bits_as(c, "allgather", shape, "one member: recv == send", got, x, (size_t)(rows * (cols + 3)) * 4);
    drop(c, bx);
    drop(c, by);
    drop(c, bg);
    free(x); free(got); free(want);
}

/* ---------------------------------------------------------------- mixture of experts */

/* top-k routing in double: p = softmax(l), the k largest p (a tie to the lower index), weights p
 * or p / (the sum of the k), ids ascending */
static void moe_route_ref(int32_t *ids, double *w, const float *l, int64_t ldl, int64_t T, int64_t E, int64_t K, int norm) {
    double *p = malloc((size_t)E * sizeof(double));
    int32_t *sel = malloc((size_t)K * sizeof(int32_t));
    for (int64_t t = 0; t < T; t++) {
        const float *lt = l + t * ldl;
        double mx = -INFINITY, sum = 0, ks = 0;
        for (int64_t e = 0; e < E; e++) mx = lt[e] > mx ? lt[e] : mx;
        for (int64_t e = 0; e < E; e++) sum += p[e] = exp((double)lt[e] - mx);
        for (int64_t e = 0; e < E; e++) p[e] /= sum;
        for (int64_t j = 0; j < K; j++) {
            int64_t best = -1;
            for (int64_t e = 0; e < E; e++) {
                int taken = 0;
                for (int64_t i = 0; i < j; i++) taken |= sel[i] == e;
                if (!taken && (best < 0 || p[e] > p[best])) best = e;
            }
            sel[j] = (int32_t)best;
            ks += p[best];
        }
        for (int64_t j = 0; j < K; j++)
            for (int64_t i = j + 1; i < K; i++)
                if (sel[i] < sel[j]) {
                    int32_t x = sel[i];
                    sel[i] = sel[j];
                    sel[j] = x;
                }
        for (int64_t j = 0; j < K; j++) {
            ids[t * K + j] = sel[j];
            w[t * K + j] = norm ? p[sel[j]] / ks : p[sel[j]];
        }
    }
    free(p);
    free(sel);
}

/* out[t] = sum_j w[t, j] y[slot[t, j]] (+ sigmoid(g[t]) shared[t]) in double */
static void moe_combine_ref(double *out, const float *y, int64_t D, const int32_t *slot, const float *w, int64_t T, int64_t K, const float *sh,
                            const float *g) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t d = 0; d < D; d++) {
            double acc = 0;
            for (int64_t j = 0; j < K; j++) acc += (double)w[t * K + j] * y[(int64_t)slot[t * K + j] * D + d];
            if (sh) acc += 1.0 / (1.0 + exp(-(double)g[t])) * sh[t * D + d];
            out[t * D + d] = acc;
        }
}

/* T tokens over E experts, k each, the logits a strided slice (ld E + 2, as the router's GEMM writes
 * them beside the shared expert's gate); some rows tied (all equal, or equal pairs) */
static void t_moe_route(ctx *c, int64_t T, int64_t E, int64_t K, int norm) {
    int64_t ld = E + 2;
    float *l = rand_vec(T * ld, 3.0f);
    if (T > 2) {
        for (int64_t e = 0; e < E; e++) l[1 * ld + 1 + e] = 0.25f;                 /* every expert tied: the first k */
        for (int64_t e = 0; e + 1 < E; e += 2) l[2 * ld + 2 + e] = l[2 * ld + 1 + e]; /* tied pairs: the lower first */
    }
    int32_t *ids = malloc((size_t)(T * K) * 4), *ids_ref = malloc((size_t)(T * K) * 4), *id1 = malloc((size_t)K * 4);
    float *w = malloc((size_t)(T * K) * 4), *w1 = malloc((size_t)K * 4);
    double *w_ref = malloc((size_t)(T * K) * sizeof(double));
    moe_route_ref(ids_ref, w_ref, l + 1, ld, T, E, K, norm); /* the op's view starts one column in */
    quipu_buf *bl = up(c, l, (size_t)(T * ld) * 4), *bi = up(c, NULL, (size_t)(T * K) * 4), *bw = up(c, NULL, (size_t)(T * K) * 4);
    quipu_error err = {0};
    quipu_moe_route_args a = {.logits = quipu_view_cols(fv(bl, T, ld), 1, E), .ids = quipu_view_of(bi, QUIPU_E_I32, T, K), .weights = fv(bw, T, K),
                              .norm = norm};
    OK_OP(quipu_op_moe_route(c->b, &a, &err));
    down(c, bi, ids, (size_t)(T * K) * 4);
    down(c, bw, w, (size_t)(T * K) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "T=%lld E=%lld k=%lld%s strided", (long long)T, (long long)E, (long long)K, norm ? " norm" : "");
    same_bits_as(c, "moe_route", shape, "ids == reference", ids, ids_ref, (size_t)(T * K) * 4);
    compare(c, "moe_route", shape, w, w_ref, NULL, T * K, 1e-7, 1e-5);
    /* the last token alone gives the same bits */
    quipu_moe_route_args one = a;
    one.logits = quipu_view_rows(a.logits, T - 1, 1);
    one.ids = quipu_view_rows(a.ids, 0, 1);
    one.weights = quipu_view_rows(a.weights, 0, 1);
    OK_OP(quipu_op_moe_route(c->b, &one, &err));
    down(c, bi, id1, (size_t)K * 4);
    down(c, bw, w1, (size_t)K * 4);
    same_bits(c, "moe_route", shape, id1, ids + (T - 1) * K, (size_t)K * 4);
    same_bits(c, "moe_route", shape, w1, w + (T - 1) * K, (size_t)K * 4);
    drop(c, bl); drop(c, bi); drop(c, bw);
    free(l); free(ids); free(ids_ref); free(id1); free(w); free(w1); free(w_ref);
}

/* T tokens, k experts each, rows of y in an expert-major order (a permutation of the T k slots);
 * shared: the gated shared expert, written in place over out */
static void t_moe_combine(ctx *c, int64_t T, int64_t D, int64_t K, int shared) {
    int64_t S = T * K;
    float *y = rand_vec(S * D, 1.0f), *w = rand_vec(T * K, 1.0f), *sh = rand_vec(T * D, 1.0f), *g = rand_vec(T, 4.0f);
    int32_t *slot = malloc((size_t)S * 4);
    for (int64_t i = 0; i < S; i++) slot[i] = (int32_t)((i * 7 + 3) % S); /* 7 and S coprime below */
    if (S % 7 == 0)
        for (int64_t i = 0; i < S; i++) slot[i] = (int32_t)(S - 1 - i);
    double *ref = malloc((size_t)(T * D) * sizeof(double));
    moe_combine_ref(ref, y, D, slot, w, T, K, shared ? sh : NULL, g);
    quipu_buf *by = up(c, y, (size_t)(S * D) * 4), *bs_ = up(c, slot, (size_t)S * 4), *bw = up(c, w, (size_t)(T * K) * 4);
    quipu_buf *bo = up(c, shared ? sh : NULL, (size_t)(T * D) * 4), *bg = up(c, g, (size_t)T * 4), *bo1 = up(c, NULL, (size_t)D * 4);
    quipu_error err = {0};
    quipu_moe_combine_args a = {.out = fv(bo, T, D), .y = fv(by, S, D), .slot = quipu_view_of(bs_, QUIPU_E_I32, T, K), .weights = fv(bw, T, K)};
    if (shared) {
        a.shared = a.out;
        a.shared_gate = fv(bg, T, 1);
    }
    /* the last token alone first (its shared row read from a copy: out is written in place) */
    quipu_moe_combine_args one = a;
    quipu_buf *bsh1 = up(c, sh + (T - 1) * D, (size_t)D * 4);
    one.out = fv(bo1, 1, D);
    one.slot = quipu_view_rows(a.slot, T - 1, 1);
    one.weights = quipu_view_rows(a.weights, T - 1, 1);
    if (shared) {
        one.shared = fv(bsh1, 1, D);
        one.shared_gate = quipu_view_rows(a.shared_gate, T - 1, 1);
    }
    OK_OP(quipu_op_moe_combine(c->b, &one, &err));
    OK_OP(quipu_op_moe_combine(c->b, &a, &err));
    float *got = malloc((size_t)(T * D) * 4), *got1 = malloc((size_t)D * 4);
    down(c, bo, got, (size_t)(T * D) * 4);
    down(c, bo1, got1, (size_t)D * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "T=%lld D=%lld k=%lld%s", (long long)T, (long long)D, (long long)K, shared ? " shared in place" : "");
    compare(c, "moe_comb", shape, got, ref, NULL, T * D, 1e-6, 1e-5);
    same_bits(c, "moe_comb", shape, got1, got + (T - 1) * D, (size_t)D * 4);
    drop(c, by); drop(c, bs_); drop(c, bw); drop(c, bo); drop(c, bg); drop(c, bo1); drop(c, bsh1);
    free(y); free(w); free(sh); free(g); free(slot); free(ref); free(got); free(got1);
}

static void run_all(ctx *c) {
    /* matmul: one token, tiny, sizes off every tile (3x4 CPU tiles, 64x64 GPU tiles, 8-lane k) */
    t_matmul(c, 1, 1, 1, 0, 0);
    t_matmul(c, 1, 576, 3, 1, 0);
    t_matmul(c, 7, 13, 65, 0, 0);
    t_matmul(c, 70, 100, 129, 1, 0);
    t_matmul(c, 130, 257, 31, 1, 1);
    t_matmul(c, 65, 1031, 67, 0, 1);
    t_norm(c, 1, 1, 0, 0, 0);
    t_norm(c, 5, 576, 0, 0, 0);
    t_norm(c, 33, 4097, 0, 0, 1);
    t_norm(c, 3, 7, 0, 1, 0);
    t_norm(c, 17, 640, 0, 1, 1);
    t_norm(c, 9, 4 * 64, 64, 0, 0); /* QK-norm: per head of 64 */
    t_rope(c, 1, 1, 8, 8, 0, 0);
    t_rope(c, 9, 3, 64, 64, 1, 0);
    t_rope(c, 5, 2, 64, 32, 0, 1); /* partial rotary */
    t_rope(c, 7, 4, 128, 128, 1, 1);
    int one[] = {1}, mixed[] = {5, 1, 17, 3}, longs[] = {300, 45}, prompt[] = {40, 7, 1, 13};
    float slopes[8] = {0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f, 0.00390625f};
    att_opt plain = {0}, win37 = {.window = 37}, win11 = {.window = 11}, bidir = {.bidir = 1}, bidir_win = {.bidir = 1, .window = 9};
    att_opt cap = {.softcap = 50.0f}, capw = {.softcap = 2.0f, .window = 20}, alibi = {.alibi = slopes}, fused = {.fused = 1};
    att_opt fused_bidir = {.fused = 1, .bidir = 1};
    t_attention(c, one, 1, 0, 1, 1, 8, &plain);
    t_attention(c, mixed, 4, 0, 4, 4, 16, &plain);     /* GQA 1 */
    t_attention(c, mixed, 4, 0, 8, 2, 32, &plain);     /* GQA 4 */
    t_attention(c, longs, 2, 0, 8, 1, 64, &plain);     /* GQA 8, > one key chunk */
    t_attention(c, longs, 2, 0, 4, 2, 16, &win37);     /* sliding window */
    t_attention(c, prompt, 4, 1, 4, 2, 32, &plain);    /* shared prompt */
    t_attention(c, prompt, 4, 1, 4, 1, 32, &win11);    /* shared prompt and window */
    t_attention(c, longs, 2, 0, 2, 2, 256, &plain);    /* head dim 256 (Gemma) */
    t_attention(c, mixed, 4, 0, 4, 2, 16, &bidir);     /* masked LMs */
    t_attention(c, longs, 2, 0, 4, 4, 32, &bidir_win);
    t_attention(c, mixed, 4, 0, 4, 2, 32, &cap);       /* Gemma 2 soft-capping */
    t_attention(c, longs, 2, 0, 4, 2, 16, &capw);
    t_attention(c, mixed, 4, 0, 8, 8, 16, &alibi);     /* BLOOM */
    t_attention(c, mixed, 4, 0, 8, 2, 16, &fused);     /* Q/K/V slices of one GEMM */
    t_attention(c, prompt, 4, 1, 4, 4, 32, &fused_bidir);
    t_attention_shared_vs_repeated(c, 4, 2, 16);
    t_attention_shared_vs_repeated(c, 8, 1, 64);
    t_act(c, 1, QUIPU_ACT_SILU, 1);
    t_act(c, 1000, QUIPU_ACT_SILU, 1);
    t_act(c, 1000, QUIPU_ACT_GELU_TANH, 1);
    t_act(c, 999, QUIPU_ACT_GELU_ERF, 0);
    t_embed_add(c, 37, 13, 1);
    t_embed_add(c, 1000, 64, 70);
    t_logprob(c, 1, 8, 5, 1, 0);
    t_logprob(c, 9, 33, 5000, 7, 0);      /* crosses the CPU's 4096 block and the GPU's 1024-id blocks */
    t_logprob(c, 80, 64, 2051, 70, 0);    /* rows past one 64-row tile */
    t_logprob(c, 6, 32, 9000, 5, 30.0f);  /* final soft-capping, three CPU blocks split in two ranges */
    const uint32_t qtypes[] = {QUIPU_TYPE_Q4_0, QUIPU_TYPE_Q4_1, QUIPU_TYPE_Q5_0, QUIPU_TYPE_Q5_1, QUIPU_TYPE_Q8_0,
                               QUIPU_TYPE_Q2_K, QUIPU_TYPE_Q3_K, QUIPU_TYPE_Q4_K, QUIPU_TYPE_Q5_K, QUIPU_TYPE_Q6_K};
    for (int q = 0; q < 10; q++) t_dequant(c, qtypes[q], 3, 512, q % 2 ? 7 : 0, QUIPU_E_F32);
    t_copy_gather(c, 1, 1);
    t_copy_gather(c, 37, 130);
    t_moe_route(c, 1, 1, 1, 1);
    t_moe_route(c, 37, 8, 2, 1);     /* Mixtral */
    t_moe_route(c, 70, 60, 4, 0);    /* Qwen1.5-MoE: not renormalized */
    t_moe_route(c, 5, 128, 8, 1);    /* Qwen3-MoE */
    t_moe_combine(c, 1, 1, 1, 0);
    t_moe_combine(c, 37, 130, 2, 0);
    t_moe_combine(c, 70, 64, 4, 1);
    { /* 100 columns are not whole Q4_K blocks (256): refused in one line before any backend code */
        quipu_buf *bs_ = up(c, NULL, 1024), *bd = up(c, NULL, 1024);
        quipu_dequant_args a = {.src = quipu_view_of(bs_, QUIPU_E_U8, 1, 144), .dst = fv(bd, 1, 100), .qtype = QUIPU_TYPE_Q4_K};
        quipu_error err = {0};
        int ok = quipu_op_dequant(c->b, &a, &err) != QUIPU_OK && strstr(err.msg, "not whole blocks") != NULL;
        c->cases++;
        c->failed += !ok;
        printf("%-5s %-10s %-44s %s\n", c->name, "dequant", "Q4_K, 100 columns refused", ok ? err.msg : "NOT REFUSED");
        CHECK_MSG(ok, "%s dequant: 100 Q4_K columns not refused (%s)", c->name, err.msg);
        drop(c, bs_);
        drop(c, bd);
    }
    t_checks(c);
    if (!quipu_backend_dtype(c->name, "bf16")) {
        printf("%-5s %-10s %-44s skipped: the %s backend computes in f32 only\n", c->name, "bf16/f16", "matmul, embed, logprob with half weights",
               c->name);
        t_half_refused(c);
        return;
    }
    quipu_etype half[] = {QUIPU_E_BF16, QUIPU_E_F16};
    for (int k = 0; k < 2; k++) { /* the same shapes as in fp32, weights in bf16 then f16 */
        t_matmul_w(c, half[k], 1, 1, 1, 0, 0);
        t_matmul_w(c, half[k], 7, 13, 65, 0, 0);
        t_matmul_w(c, half[k], 70, 100, 129, 1, 0);
        t_matmul_w(c, half[k], 65, 1031, 67, 0, 1);
        t_matmul_w(c, half[k], 130, 576, 200, 1, 0);
        t_matmul_w(c, half[k], 257, 512, 1536, 0, 0); /* tensor-core shapes (K a multiple of 8) */
        t_matmul_w(c, half[k], 33, 2048, 264, 1, 0);
        t_embed_add_w(c, half[k], 37, 13, 1);
        t_embed_add_w(c, half[k], 1000, 64, 70);
        t_logprob_w(c, half[k], 9, 33, 5000, 7, 0);
        t_logprob_w(c, half[k], 80, 64, 2051, 70, 0);
        t_logprob_w(c, half[k], 6, 32, 9000, 5, 30.0f);
        for (int q = 0; q < 10; q++) t_dequant(c, qtypes[q], 2, 768, 5, half[k]);
        t_attention_tc_all(c, half[k]);
    }
}

/* ---------------------------------------------------------------- host rounding to bf16 / f16 */

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* the nearest bf16 / f16 pattern to a finite x >= 0 found another way: a binary search over the
 * (monotonic) positive patterns, the value past the largest finite one (max_fin + 1, the
 * infinity's pattern) standing for 2^128 (bf16) or 65536 (f16), ties to the even pattern */
static uint16_t nearest_ref(double x, int bf16) {
    uint16_t max_fin = bf16 ? 0x7f7f : 0x7bff;
    double past = bf16 ? ldexp(1.0, 128) : 65536.0;
#define VAL(p) ((p) > max_fin ? past : bf16 ? (double)quipu_bf16_to_f32(p) : (double)quipu_f16_to_f32(p))
    uint32_t lo = 0, hi = (uint32_t)max_fin + 1; /* VAL(lo) <= x < VAL(hi) */
    if (x >= past) return (uint16_t)hi;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (VAL((uint16_t)mid) <= x) lo = mid;
        else hi = mid;
    }
    double dl = x - VAL((uint16_t)lo), dh = VAL((uint16_t)hi) - x;
#undef VAL
    if (dl < dh) return (uint16_t)lo;
    if (dh < dl) return (uint16_t)hi;
    return (uint16_t)((lo & 1) ? hi : lo);
}

static int is_nan16(uint16_t h, int bf16) {
    return bf16 ? (h & 0x7f80) == 0x7f80 && (h & 0x7f) : (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
}

static void t_rounding(void) {
    struct {
        uint32_t in;
        uint16_t bf, hf;
        const char *what;
    } k[] = {
        {0x3f800000u, 0x3f80, 0x3c00, "1"},
        {0xbfc00000u, 0xbfc0, 0xbe00, "-1.5"},
        {0x00000000u, 0x0000, 0x0000, "+0"},
        {0x80000000u, 0x8000, 0x8000, "-0"},
        {0x3f808000u, 0x3f80, 0x3c04, "bf16 tie, to even (down)"},
        {0x3f818000u, 0x3f82, 0x3c0c, "bf16 tie, to even (up)"},
        {0x3f808001u, 0x3f81, 0x3c04, "just past a bf16 tie"},
        {0x3f807fffu, 0x3f80, 0x3c04, "just below a bf16 tie"},
        {0x3f801000u, 0x3f80, 0x3c00, "f16 tie, to even (down)"},
        {0x3f803000u, 0x3f80, 0x3c02, "f16 tie, to even (up)"},
        {0x7f800000u, 0x7f80, 0x7c00, "+Inf"},
        {0xff800000u, 0xff80, 0xfc00, "-Inf"},
        {0x7f7fffffu, 0x7f80, 0x7c00, "FLT_MAX overflows"},
        {0x477fe000u, 0x4780, 0x7bff, "65504, f16's largest"},
        {0x477fefffu, 0x4780, 0x7bff, "just below 65520"},
        {0x477ff000u, 0x4780, 0x7c00, "65520: f16 tie to Inf"},
        {0x33800000u, 0x3380, 0x0001, "2^-24, f16's smallest subnormal"},
        {0x33000000u, 0x3300, 0x0000, "2^-25: tie to 0"},
        {0x33000001u, 0x3300, 0x0001, "just past 2^-25"},
        {0x33c00000u, 0x33c0, 0x0002, "3 * 2^-25: tie to even 2"},
        {0x387ff000u, 0x3880, 0x0400, "rounds up to f16's smallest normal"},
        {0x00000001u, 0x0000, 0x0000, "fp32 subnormal"},
        {0x00018000u, 0x0002, 0x0000, "fp32 subnormal, bf16 tie up"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        float f = float_of(k[i].in);
        uint16_t b = quipu_f32_to_bf16(f), h = quipu_f32_to_f16(f);
        if (b != k[i].bf || h != k[i].hf) {
            bad++;
            fprintf(stderr, "rounding %s (0x%08x): bf16 0x%04x (want 0x%04x), f16 0x%04x (want 0x%04x)\n", k[i].what, (unsigned)k[i].in, b, k[i].bf,
                    h, k[i].hf);
        }
    }
    /* NaN stays NaN (never Inf), quiet, sign kept, including payloads only in the dropped bits */
    uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7fa00000u, 0xff800001u};
    for (size_t i = 0; i < sizeof nans / sizeof *nans; i++) {
        uint16_t b = quipu_f32_to_bf16(float_of(nans[i])), h = quipu_f32_to_f16(float_of(nans[i]));
        if (!is_nan16(b, 1) || !is_nan16(h, 0) || (b >> 15) != (nans[i] >> 31) || (h >> 15) != (nans[i] >> 31) || !(b & 0x40) || !(h & 0x200)) {
            bad++;
            fprintf(stderr, "rounding NaN 0x%08x: bf16 0x%04x, f16 0x%04x\n", (unsigned)nans[i], b, h);
        }
    }
    /* every non-NaN half value survives the round trip, and widening is exact */
    for (uint32_t p = 0; p < 0x10000; p++) {
        if (!is_nan16((uint16_t)p, 1) && quipu_f32_to_bf16(quipu_bf16_to_f32((uint16_t)p)) != p) bad++;
        if (!is_nan16((uint16_t)p, 0) && quipu_f32_to_f16(quipu_f16_to_f32((uint16_t)p)) != p) bad++;
        if (bits_of(quipu_bf16_to_f32((uint16_t)p)) != p << 16) bad++;
    }
    /* random finite fp32 values: the nearest value, ties to even, by an independent search */
    uint64_t st = 0x243f6a8885a308d3ULL;
    for (int i = 0; i < 200000; i++) {
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        uint32_t u = (uint32_t)st;
        if (i % 2) u = (u & 0x807fffffu) | (((uint32_t)(97 + (st >> 40) % 48)) << 23); /* f16's range, 2^-30 .. 2^17 */
        if (i % 14 == 0) u = (u & 0xffff0000u) | 0x8000u; /* exact ties: bf16 */
        if (i % 14 == 7) u = (u & 0xffffe000u) | 0x1000u; /* f16 (normal range) */
        float f = float_of(u);
        if (!isfinite(f)) continue;
        uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
        double a = fabs((double)f);
        uint16_t wb = (uint16_t)(sign | nearest_ref(a, 1)), wh = (uint16_t)(sign | nearest_ref(a, 0));
        uint16_t b = quipu_f32_to_bf16(f), h = quipu_f32_to_f16(f);
        if (b != wb || h != wh) {
            if (bad < 10)
                fprintf(stderr, "rounding 0x%08x (%.9g): bf16 0x%04x (want 0x%04x), f16 0x%04x (want 0x%04x)\n", (unsigned)u, f, b, wb, h, wh);
            bad++;
        }
    }
    /* the bulk conversion counts the finite values that overflowed (the loader's refusal) */
    float big[4] = {1.0f, 70000.0f, INFINITY, -65520.0f};
    uint16_t out[4];
    size_t over16 = quipu_convert_f32(QUIPU_E_F16, big, out, 4), overb = quipu_convert_f32(QUIPU_E_BF16, big, out, 4);
    if (over16 != 2 || overb != 0) {
        bad++;
        fprintf(stderr, "quipu_convert_f32: %zu f16 overflows (want 2), %zu bf16 (want 0)\n", over16, overb);
    }
    printf("%-5s %-10s %-44s %s\n", "host", "rounding", "fp32 -> bf16 / f16, ties to even", bad ? "WRONG" : "ok");
    CHECK_MSG(bad == 0, "host rounding to bf16 / f16: %d wrong results", bad);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    t_rounding();
    t_tc_tiles();
    t_attention_tc_all(NULL, QUIPU_E_BF16);
    t_attention_tc_all(NULL, QUIPU_E_F16);
    for (int i = 0; i < 4; i++) t_attention_tc_proof(i % 2 ? QUIPU_E_F16 : QUIPU_E_BF16, i < 2 ? 64 : 256);
    printf("host: %d cases, %d outside tolerance or batch-dependent\n", host_ctx.cases, host_ctx.failed);
    const char *names[] = {"cpu", "cuda", "hip"};
    int ran_gpu = 0;
    for (int i = 0; i < 3; i++) {
        ctx c = {.name = names[i]};
        if (!quipu_backend_built(names[i])) {
            if (i > 0) printf("%s: skipped: this quipu is built without it (-DQUIPU_%s=ON)\n", names[i], i == 1 ? "CUDA" : "HIP");
            continue;
        }
        if (i > 0 && quipu_backend_gpu_count() <= 0) {
            printf("%s: skipped: no GPU\n", names[i]);
            continue;
        }
        quipu_error err = {0};
        if (quipu_backend_init(&c.b, names[i], 2, &err)) {
            CHECK_MSG(0, "%s backend: %s", names[i], err.msg);
            continue;
        }
        run_all(&c);
        drop(&c, ws_buf);
        ws_buf = NULL;
        printf("%s: %d cases, %d outside tolerance or batch-dependent\n", names[i], c.cases, c.failed);
        ran_gpu += i > 0;
        quipu_backend_free(c.b);
    }
    if (!ran_gpu) printf("GPU backends: skipped (none built, or no GPU)\n");
    return test_finish("test_backend_ops");
}
