/* test_backend_ops.c — every op of every backend present against a plain scalar reference
 * (the _ref functions below, in double), over awkward shapes: one token, lengths not divisible
 * by tiles, long sequences, GQA ratios 1/4/8, sliding windows, shared-prefix ranges, vocabularies
 * that cross the chunk and block sizes. Each case prints its max-abs error against the
 * tolerance and the first mismatches. Also per op: a row computed alone equals, bit for bit, the
 * same row computed inside a larger batch (batch invariance). The CPU backend always runs; a GPU
 * backend runs when this quipu was built with it and a GPU is visible, and says "skipped"
 * otherwise. The end-to-end goldens (test_logprobs) stay the final word. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
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

static void same_bits(ctx *c, const char *op, const char *shape, const void *a, const void *b, size_t bytes) {
    int eq = memcmp(a, b, bytes) == 0;
    c->cases++;
    if (!eq) c->failed++;
    printf("%-5s %-10s %-44s %s\n", c->name, op, shape, eq ? "alone == in batch (bits)" : "BATCH-DEPENDENT");
    CHECK_MSG(eq, "%s %s %s: a row computed alone differs from the same row in a batch", c->name, op, shape);
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

static void attention_ref(double *out, const float *q, const float *k, const float *v, const int32_t *pos, const int32_t *seg_lo,
                          const int32_t *pre_lo, const int32_t *pre_hi, int64_t T, int64_t H, int64_t HKV, int64_t HD, double scale,
                          int32_t window) {
    double *sc = malloc((size_t)(2 * T + 1) * sizeof(double));
    int64_t *key = malloc((size_t)(2 * T + 1) * sizeof(int64_t));
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            int64_t n = 0, hk = h / (H / HKV);
            for (int64_t s = pre_lo[t]; s < pre_hi[t]; s++)
                if (window <= 0 || pos[t] - pos[s] < window) key[n++] = s;
            for (int64_t s = seg_lo[t]; s <= t; s++)
                if (window <= 0 || pos[t] - pos[s] < window) key[n++] = s;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < n; j++) {
                double d = 0;
                for (int64_t i = 0; i < HD; i++) d += (double)q[(t * H + h) * HD + i] * k[(key[j] * HKV + hk) * HD + i];
                sc[j] = d * scale;
                if (sc[j] > mx) mx = sc[j];
            }
            for (int64_t j = 0; j < n; j++) sum += (sc[j] = exp(sc[j] - mx));
            for (int64_t i = 0; i < HD; i++) {
                double o = 0;
                for (int64_t j = 0; j < n; j++) o += sc[j] / sum * v[(key[j] * HKV + hk) * HD + i];
                out[(t * H + h) * HD + i] = o;
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

static void t_matmul(ctx *c, int64_t M, int64_t K, int64_t N, int with_bias, int accumulate) {
    float *x = rand_vec(M * K, 1), *w = rand_vec(N * K, 0.5f), *bias = with_bias ? rand_vec(N, 1) : NULL, *y0 = rand_vec(M * N, 1);
    double *ref = malloc((size_t)(M * N) * sizeof(double)), *mag = malloc((size_t)(M * N) * sizeof(double));
    float *got = malloc((size_t)(M * N) * sizeof(float)), *row = malloc((size_t)N * sizeof(float));
    matmul_ref(ref, mag, x, w, bias, accumulate ? y0 : NULL, M, K, N);
    quipu_buf *bx = up(c, x, (size_t)(M * K) * 4), *bw = up(c, w, (size_t)(N * K) * 4), *bb = bias ? up(c, bias, (size_t)N * 4) : NULL;
    quipu_buf *by = up(c, y0, (size_t)(M * N) * 4);
    quipu_error err = {0};
    quipu_matmul_args a = {.x = bx, .w = bw, .bias = bb, .y = by, .n_tokens = M, .n_in = K, .n_out = N, .accumulate = accumulate};
    CHECK(c->b->iface->matmul(c->b, &a, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
    down(c, by, got, (size_t)(M * N) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "M=%lld K=%lld N=%lld%s%s", (long long)M, (long long)K, (long long)N, with_bias ? " bias" : "",
             accumulate ? " accumulate" : "");
    compare(c, "matmul", shape, got, ref, mag, M * N, 1e-6, 2e-6);
    if (!accumulate && M > 1) { /* the last row alone */
        int64_t r = M - 1;
        quipu_buf *bx1 = up(c, x + r * K, (size_t)K * 4), *by1 = up(c, NULL, (size_t)N * 4);
        quipu_matmul_args a1 = a;
        a1.x = bx1;
        a1.y = by1;
        a1.n_tokens = 1;
        CHECK(c->b->iface->matmul(c->b, &a1, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
        down(c, by1, row, (size_t)N * 4);
        same_bits(c, "matmul", shape, row, got + r * N, (size_t)N * 4);
        drop(c, bx1);
        drop(c, by1);
    }
    drop(c, bx); drop(c, bw); drop(c, bb); drop(c, by);
    free(x); free(w); free(bias); free(y0); free(ref); free(mag); free(got); free(row);
}

static void t_norm(ctx *c, int64_t rows, int64_t D, int layer) {
    float *x = rand_vec(rows * D, 3), *w = rand_vec(D, 1), *b = layer ? rand_vec(D, 1) : NULL, *got = malloc((size_t)(rows * D) * 4);
    for (int64_t i = 0; i < rows * D; i++) x[i] += layer ? 2.0f : 0.0f; /* a mean to remove */
    double *ref = malloc((size_t)(rows * D) * sizeof(double));
    norm_ref(ref, x, w, b, rows, D, 1e-6, layer);
    quipu_buf *bx = up(c, x, (size_t)(rows * D) * 4), *bw = up(c, w, (size_t)D * 4), *bb = b ? up(c, b, (size_t)D * 4) : NULL;
    quipu_buf *by = up(c, NULL, (size_t)(rows * D) * 4);
    quipu_error err = {0};
    quipu_norm_args a = {.x = bx, .y = by, .w = bw, .b = bb, .n_rows = rows, .dim = D, .eps = 1e-6f, .kind = layer ? QUIPU_NORM_LAYER : QUIPU_NORM_RMS};
    CHECK(c->b->iface->norm(c->b, &a, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
    down(c, by, got, (size_t)(rows * D) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "%s rows=%lld D=%lld", layer ? "layer" : "rms", (long long)rows, (long long)D);
    compare(c, "norm", shape, got, ref, NULL, rows * D, 1e-6, 1e-5);
    drop(c, bx); drop(c, bw); drop(c, bb); drop(c, by);
    free(x); free(w); free(b); free(got); free(ref);
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
    quipu_rope_args a = {.x = bx, .pos = bp, .freq_factors = bf, .n_tokens = T, .n_heads = H, .head_dim = HD, .n_rot = n_rot,
                         .base = 10000.0f, .pos_scale = 1.0f, .kind = neox ? QUIPU_ROPE_NEOX : QUIPU_ROPE_NORM};
    CHECK(c->b->iface->rope(c->b, &a, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
    down(c, bx, got, (size_t)(T * H * HD) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "%s T=%lld H=%lld HD=%lld rot=%lld%s", neox ? "neox" : "norm", (long long)T, (long long)H, (long long)HD,
             (long long)n_rot, factors ? " factors" : "");
    /* fp32 angles at positions up to 2000: the angle's rounding (~1e-4 rad) dominates */
    compare(c, "rope", shape, got, ref, NULL, T * H * HD, 5e-4, 1e-5);
    drop(c, bx); drop(c, bp); drop(c, bf);
    free(x); free(got); free(pos); free(ff); free(ref);
}

/* a packed batch: sequences of the given lengths; with share, sequence 0 is a prompt that every
 * following sequence (a continuation) attends to as its prefix */
static void t_attention(ctx *c, const int *lens, int n_seq, int share, int64_t H, int64_t HKV, int64_t HD, int32_t window) {
    int64_t T = 0;
    for (int s = 0; s < n_seq; s++) T += lens[s];
    int32_t *pos = malloc((size_t)T * 4), *seg = malloc((size_t)T * 4), *plo = malloc((size_t)T * 4), *phi = malloc((size_t)T * 4);
    int64_t t = 0;
    for (int s = 0; s < n_seq; s++)
        for (int i = 0; i < lens[s]; i++, t++) {
            int pre = share && s > 0;
            pos[t] = (int32_t)(i + (pre ? lens[0] : 0));
            seg[t] = (int32_t)(t - i);
            plo[t] = pre ? 0 : 0;
            phi[t] = pre ? lens[0] : 0;
        }
    float *q = rand_vec(T * H * HD, 1), *k = rand_vec(T * HKV * HD, 1), *v = rand_vec(T * HKV * HD, 1);
    float *got = malloc((size_t)(T * H * HD) * 4);
    double *ref = malloc((size_t)(T * H * HD) * sizeof(double));
    double scale = 1.0 / sqrt((double)HD);
    attention_ref(ref, q, k, v, pos, seg, plo, phi, T, H, HKV, HD, scale, window);
    quipu_buf *bq = up(c, q, (size_t)(T * H * HD) * 4), *bk = up(c, k, (size_t)(T * HKV * HD) * 4), *bv = up(c, v, (size_t)(T * HKV * HD) * 4);
    quipu_buf *bo = up(c, NULL, (size_t)(T * H * HD) * 4);
    quipu_error err = {0};
    quipu_attention_args a = {.q = bq, .k = bk, .v = bv, .out = bo, .pos = pos, .seg_lo = seg, .pre_lo = plo, .pre_hi = phi, .n_tokens = T,
                              .n_heads = H, .n_heads_kv = HKV, .head_dim = HD, .scale = (float)scale, .window = window};
    CHECK(c->b->iface->attention(c->b, &a, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
    down(c, bo, got, (size_t)(T * H * HD) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "T=%lld seqs=%d%s H=%lld/%lld HD=%lld win=%d", (long long)T, n_seq, share ? " shared" : "", (long long)H,
             (long long)HKV, (long long)HD, window);
    compare(c, "attention", shape, got, ref, NULL, T * H * HD, 2e-6, 1e-5);
    drop(c, bq); drop(c, bk); drop(c, bv); drop(c, bo);
    free(pos); free(seg); free(plo); free(phi); free(q); free(k); free(v); free(got); free(ref);
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
    int32_t pos_s[64], seg_s[64], plo_s[64], phi_s[64], pos_r[64], seg_r[64], z[64];
    for (int64_t t = 0; t < Ts; t++) {
        int cont = t >= P, second = t >= P + L1;
        pos_s[t] = (int32_t)(cont ? P + (t - (second ? P + L1 : P)) : t);
        seg_s[t] = (int32_t)(!cont ? 0 : second ? P + L1 : P);
        plo_s[t] = 0;
        phi_s[t] = cont ? P : 0;
    }
    for (int64_t t = 0; t < Tr; t++) {
        int second = t >= P + L1;
        seg_r[t] = second ? P + L1 : 0;
        pos_r[t] = (int32_t)(t - seg_r[t]);
        z[t] = 0;
    }
    float *out_s = malloc((size_t)(Ts * H * HD) * 4), *out_r = malloc((size_t)(Tr * H * HD) * 4);
    quipu_error err = {0};
    float scale = 1.0f / sqrtf((float)HD);
    quipu_buf *b1 = up(c, qs, (size_t)(Ts * H * HD) * 4), *b2 = up(c, ks, (size_t)(Ts * HKV * HD) * 4), *b3 = up(c, vs, (size_t)(Ts * HKV * HD) * 4);
    quipu_buf *b4 = up(c, NULL, (size_t)(Ts * H * HD) * 4);
    quipu_attention_args a = {.q = b1, .k = b2, .v = b3, .out = b4, .pos = pos_s, .seg_lo = seg_s, .pre_lo = plo_s, .pre_hi = phi_s,
                              .n_tokens = Ts, .n_heads = H, .n_heads_kv = HKV, .head_dim = HD, .scale = scale};
    CHECK(c->b->iface->attention(c->b, &a, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
    down(c, b4, out_s, (size_t)(Ts * H * HD) * 4);
    drop(c, b1); drop(c, b2); drop(c, b3); drop(c, b4);
    b1 = up(c, qr, (size_t)(Tr * H * HD) * 4), b2 = up(c, kr, (size_t)(Tr * HKV * HD) * 4), b3 = up(c, vr, (size_t)(Tr * HKV * HD) * 4);
    b4 = up(c, NULL, (size_t)(Tr * H * HD) * 4);
    quipu_attention_args r = {.q = b1, .k = b2, .v = b3, .out = b4, .pos = pos_r, .seg_lo = seg_r, .pre_lo = z, .pre_hi = z,
                              .n_tokens = Tr, .n_heads = H, .n_heads_kv = HKV, .head_dim = HD, .scale = scale};
    CHECK(c->b->iface->attention(c->b, &r, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
    down(c, b4, out_r, (size_t)(Tr * H * HD) * 4);
    drop(c, b1); drop(c, b2); drop(c, b3); drop(c, b4);
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

static void t_act(ctx *c, int64_t n, quipu_act_kind kind, int gated) {
    float *g = rand_vec(n, 4), *u = gated ? rand_vec(n, 1) : NULL, *got = malloc((size_t)n * 4);
    double *ref = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) ref[i] = act_ref1(g[i], kind) * (u ? u[i] : 1.0);
    quipu_buf *bg = up(c, g, (size_t)n * 4), *bu = u ? up(c, u, (size_t)n * 4) : NULL;
    quipu_error err = {0};
    quipu_act_args a = {.gate = bg, .up = bu, .n = n, .kind = kind};
    CHECK(c->b->iface->act(c->b, &a, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
    down(c, bg, got, (size_t)n * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "%s n=%lld%s", kind == QUIPU_ACT_SILU ? "silu" : kind == QUIPU_ACT_GELU_TANH ? "gelu-tanh" : "gelu-erf",
             (long long)n, gated ? " gated" : "");
    compare(c, "act", shape, got, ref, NULL, n, 1e-6, 1e-5);
    drop(c, bg); drop(c, bu);
    free(g); free(u); free(got); free(ref);
}

static void t_embed_add(ctx *c, int64_t V, int64_t D, int64_t T) {
    float *tab = rand_vec(V * D, 1), *y0 = rand_vec(T * D, 1), *got = malloc((size_t)(T * D) * 4);
    int32_t *ids = malloc((size_t)T * 4);
    for (int64_t t = 0; t < T; t++) ids[t] = (int32_t)((t * 7919) % V);
    double *ref = malloc((size_t)(T * D) * sizeof(double));
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < D; i++) ref[t * D + i] = (double)(tab[ids[t] * D + i] * 2.5f) + y0[t * D + i];
    quipu_buf *bt = up(c, tab, (size_t)(V * D) * 4), *bi = up(c, ids, (size_t)T * 4), *be = up(c, NULL, (size_t)(T * D) * 4);
    quipu_buf *by = up(c, y0, (size_t)(T * D) * 4);
    quipu_error err = {0};
    CHECK(c->b->iface->embed(c->b, be, bt, bi, T, D, 2.5f, &err) == QUIPU_OK);
    CHECK(c->b->iface->add(c->b, by, be, T * D, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
    down(c, by, got, (size_t)(T * D) * 4);
    char shape[96];
    snprintf(shape, sizeof shape, "V=%lld D=%lld T=%lld", (long long)V, (long long)D, (long long)T);
    compare(c, "embed+add", shape, got, ref, NULL, T * D, 1e-6, 1e-6);
    drop(c, bt); drop(c, bi); drop(c, be); drop(c, by);
    free(tab); free(y0); free(got); free(ids); free(ref);
}

static void t_logprob(ctx *c, int64_t T, int64_t D, int64_t V, int64_t R) {
    float *h = rand_vec(T * D, 1), *w = rand_vec(V * D, 1);
    int32_t *rows = malloc((size_t)R * 4), *tg = malloc((size_t)R * 4);
    double *lp = malloc((size_t)R * sizeof(double)), *ref = malloc((size_t)R * sizeof(double)), *lp1 = malloc(sizeof(double));
    uint8_t *gr = malloc((size_t)R), *gref = malloc((size_t)R), g1;
    for (int64_t r = 0; r < R; r++) rows[r] = (int32_t)((r * 5) % T);
    for (int64_t r = 0; r < R; r++) {
        const float *hr = h + (int64_t)rows[r] * D;
        double mx = -INFINITY, s = 0;
        int64_t am = -1;
        double *lg = malloc((size_t)V * sizeof(double));
        for (int64_t v = 0; v < V; v++) {
            double d = 0;
            for (int64_t i = 0; i < D; i++) d += (double)hr[i] * w[v * D + i];
            lg[v] = d;
            if (d > mx) mx = d, am = v;
        }
        /* every third row targets its argmax (greedy), the others a spread id */
        tg[r] = (int32_t)(r % 3 == 0 ? am : (r * 104729) % V);
        for (int64_t v = 0; v < V; v++) s += exp(lg[v] - mx);
        ref[r] = lg[tg[r]] - (mx + log(s));
        gref[r] = (uint8_t)(am == tg[r]);
        free(lg);
    }
    quipu_buf *bh = up(c, h, (size_t)(T * D) * 4), *bw = up(c, w, (size_t)(V * D) * 4);
    quipu_error err = {0};
    quipu_logprob_args a = {.h = bh, .lm_head = bw, .rows = rows, .targets = tg, .n_rows = R, .dim = D, .n_vocab = V, .logprob = lp, .greedy = gr};
    CHECK(c->b->iface->logprob(c->b, &a, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
    float *gotf = malloc((size_t)R * 4);
    for (int64_t r = 0; r < R; r++) gotf[r] = (float)lp[r];
    char shape[96];
    snprintf(shape, sizeof shape, "T=%lld D=%lld V=%lld rows=%lld", (long long)T, (long long)D, (long long)V, (long long)R);
    /* logits are fp32 dot products: |err| ~ 1e-6 * sqrt(D) per logit */
    compare(c, "logprob", shape, gotf, ref, NULL, R, 2e-5, 1e-6);
    int gbad = 0;
    for (int64_t r = 0; r < R; r++) gbad += gr[r] != gref[r];
    CHECK_MSG(gbad == 0, "%s logprob %s: %d greedy flags differ", c->name, shape, gbad);
    /* the last row alone: same bits */
    quipu_logprob_args a1 = a;
    a1.rows = rows + R - 1;
    a1.targets = tg + R - 1;
    a1.n_rows = 1;
    a1.logprob = lp1;
    a1.greedy = &g1;
    CHECK(c->b->iface->logprob(c->b, &a1, &err) == QUIPU_OK && c->b->iface->sync(c->b, &err) == QUIPU_OK);
    same_bits(c, "logprob", shape, lp1, lp + R - 1, sizeof(double));
    drop(c, bh); drop(c, bw);
    free(h); free(w); free(rows); free(tg); free(lp); free(ref); free(lp1); free(gr); free(gref); free(gotf);
}

static void run_all(ctx *c) {
    /* matmul: one token, tiny, sizes off every tile (3x4 CPU tiles, 64x64 GPU tiles, 8-lane k) */
    t_matmul(c, 1, 1, 1, 0, 0);
    t_matmul(c, 1, 576, 3, 1, 0);
    t_matmul(c, 7, 13, 65, 0, 0);
    t_matmul(c, 70, 100, 129, 1, 0);
    t_matmul(c, 130, 257, 31, 1, 1);
    t_matmul(c, 65, 1031, 67, 0, 1);
    t_norm(c, 1, 1, 0);
    t_norm(c, 5, 576, 0);
    t_norm(c, 33, 4097, 0);
    t_norm(c, 3, 7, 1);
    t_norm(c, 17, 640, 1);
    t_rope(c, 1, 1, 8, 8, 0, 0);
    t_rope(c, 9, 3, 64, 64, 1, 0);
    t_rope(c, 5, 2, 64, 32, 0, 1); /* partial rotary */
    t_rope(c, 7, 4, 128, 128, 1, 1);
    int one[] = {1}, mixed[] = {5, 1, 17, 3}, longs[] = {300, 45}, prompt[] = {40, 7, 1, 13};
    t_attention(c, one, 1, 0, 1, 1, 8, 0);
    t_attention(c, mixed, 4, 0, 4, 4, 16, 0);      /* GQA 1 */
    t_attention(c, mixed, 4, 0, 8, 2, 32, 0);      /* GQA 4 */
    t_attention(c, longs, 2, 0, 8, 1, 64, 0);      /* GQA 8, > one key chunk */
    t_attention(c, longs, 2, 0, 4, 2, 16, 37);     /* sliding window */
    t_attention(c, prompt, 4, 1, 4, 2, 32, 0);     /* shared prompt */
    t_attention(c, prompt, 4, 1, 4, 1, 32, 11);    /* shared prompt and window */
    t_attention(c, longs, 2, 0, 2, 2, 256, 0);     /* head dim 256 (Gemma) */
    t_attention_shared_vs_repeated(c, 4, 2, 16);
    t_attention_shared_vs_repeated(c, 8, 1, 64);
    t_act(c, 1, QUIPU_ACT_SILU, 1);
    t_act(c, 1000, QUIPU_ACT_SILU, 1);
    t_act(c, 1000, QUIPU_ACT_GELU_TANH, 1);
    t_act(c, 999, QUIPU_ACT_GELU_ERF, 0);
    t_embed_add(c, 37, 13, 1);
    t_embed_add(c, 1000, 64, 70);
    t_logprob(c, 1, 8, 5, 1);
    t_logprob(c, 9, 33, 5000, 7);      /* crosses the CPU's 4096 chunk and the GPU's 1024-id blocks */
    t_logprob(c, 80, 64, 2051, 70);    /* rows past one 64-row tile */
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
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
        printf("%s: %d cases, %d outside tolerance or batch-dependent\n", names[i], c.cases, c.failed);
        ran_gpu += i > 0;
        quipu_backend_free(c.b);
    }
    if (!ran_gpu) printf("GPU backends: skipped (none built, or no GPU)\n");
    return test_finish("test_backend_ops");
}
