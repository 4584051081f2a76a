/* bench/attention.c — the GPU attention op on a long packed batch: the fp32 kernel (attention.cu,
 * the exact mode, `dtype: f32`) against the tensor-core kernel (attention_tc.cu, `dtype: bf16` and
 * `f16`), same inputs, same backend, one after the other in this run.
 * Shape letters as in src/backend.h: T tokens, H / HKV heads, HD head dim.
 *
 * The batch: causal sequences of 7 to 1000 tokens (a fixed cycle of lengths) packed to about T
 * tokens, every third one a continuation of a shared 150-token prompt, as scoring packs them.
 * Correctness first: each half-precision result against the fp32 kernel's, max |difference|
 * (the rounding of q, k, v and p; a NaN or anything past 0.05 fails the run). Then one
 * warm-up call and REPS timed calls each (op + sync, wall clock), the median reported, and the
 * speed-up of each over the fp32 kernel. Which kernel ran is the backend's choice: a GPU without
 * the tensor-core kernel (below sm_80, HIP, QUIPU_GPU_ATTN=exact) times the fp32 one twice.
 *
 * Output: one markdown table row per (shape, dtype):
 *   | shape | T | H/HKV | HD | dtype | median ms | tokens/s | speed-up vs f32 | max |diff| vs f32 |
 * usage: bench_attention [T] [REPS]   (default 8192 5); exit 0 ok, 1 wrong results, 77 no GPU. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, CLOCK_MONOTONIC */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"

typedef struct shape {
    const char *name;
    int64_t H, HKV, HD;
} shape;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng = 0x243f6a8885a308d3ULL;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static quipu_buf *upload(quipu_backend *b, const void *src, size_t n, quipu_error *err) {
    quipu_buf *buf = b->iface->buf_alloc(b, n ? n : 16, err);
    if (buf && n && b->iface->buf_write(b, buf, 0, src, n, err)) {
        b->iface->buf_free(b, buf);
        return NULL;
    }
    return buf;
}

int main(int argc, char **argv) {
    int64_t T_want = argc > 1 ? atoll(argv[1]) : 8192;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (T_want < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_attention [T] [REPS]\n");
        return 2;
    }
    const char *gpu = quipu_backend_built("cuda") ? "cuda" : quipu_backend_built("hip") ? "hip" : NULL;
    if (!gpu || quipu_backend_gpu_count() <= 0) {
        printf("bench_attention: skipped: no GPU\n");
        return 77;
    }
    quipu_error err = {0};
    quipu_backend *b = NULL;
    if (quipu_backend_init(&b, gpu, 1, &err)) {
        fprintf(stderr, "bench_attention: %s\n", err.msg);
        return 1;
    }
    /* the layout: sequences of a fixed cycle of lengths; every third one continues the shared prompt */
    static const int lens[] = {37, 113, 250, 511, 64, 190, 1000, 7, 333, 129};
    const int P = 150;
    int64_t T = P;
    int32_t *pos = malloc((size_t)(T_want + 1000 + P) * 4), *seg = malloc((size_t)(T_want + 1000 + P) * 4);
    int32_t *shi = malloc((size_t)(T_want + 1000 + P) * 4), *plo = malloc((size_t)(T_want + 1000 + P) * 4);
    int32_t *phi = malloc((size_t)(T_want + 1000 + P) * 4);
    for (int64_t t = 0; t < P; t++) pos[t] = (int32_t)t, seg[t] = 0, shi[t] = P, plo[t] = phi[t] = 0;
    int n_seq = 1;
    for (int s = 0; T < T_want; s++, n_seq++) {
        int L = lens[s % 10], share = s % 3 == 0;
        for (int i = 0; i < L; i++, T++) {
            pos[T] = (int32_t)(i + (share ? P : 0));
            seg[T] = (int32_t)(T - i);
            shi[T] = (int32_t)(T - i + L);
            plo[T] = 0;
            phi[T] = share ? P : 0;
        }
    }
    const shape shapes[] = {{"Llama-3.1-8B", 32, 8, 128}, {"Llama-3.2-1B", 32, 8, 64}, {"Gemma-2-9B", 16, 8, 256}};
    const char *dtypes[] = {"f32", "bf16", "f16"};
    int bad = 0;
    printf("| shape | T | H/HKV | HD | dtype | median ms | tokens/s | speed-up vs f32 | max abs diff vs f32 |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int si = 0; si < 3; si++) {
        const shape *sh = &shapes[si];
        int64_t QD = sh->H * sh->HD, KD = sh->HKV * sh->HD;
        size_t nq = (size_t)(T * QD), nk = (size_t)(T * KD);
        float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *out32 = malloc(nq * 4), *out = malloc(nq * 4);
        for (size_t i = 0; i < nq; i++) q[i] = frand();
        for (size_t i = 0; i < nk; i++) k[i] = frand(), v[i] = frand();
        quipu_ws_dims wd = {.max_tokens = T, .max_rows = 1, .max_width = QD, .dim = QD, .n_heads = sh->H};
        size_t wsn = b->iface->workspace_bytes ? b->iface->workspace_bytes(b, &wd) : 0;
        quipu_buf *bq = upload(b, q, nq * 4, &err), *bk = upload(b, k, nk * 4, &err), *bv = upload(b, v, nk * 4, &err);
        quipu_buf *bo = upload(b, NULL, nq * 4, &err), *bws = upload(b, NULL, wsn ? wsn : 16, &err);
        quipu_buf *bl[5] = {upload(b, pos, (size_t)T * 4, &err), upload(b, seg, (size_t)T * 4, &err), upload(b, shi, (size_t)T * 4, &err),
                            upload(b, plo, (size_t)T * 4, &err), upload(b, phi, (size_t)T * 4, &err)};
        if (!bq || !bk || !bv || !bo || !bws || !bl[0] || !bl[1] || !bl[2] || !bl[3] || !bl[4]) {
            fprintf(stderr, "bench_attention: %s\n", err.msg);
            return 1;
        }
        quipu_attention_args a = {.q = quipu_view_of(bq, QUIPU_E_F32, T, QD), .k = quipu_view_of(bk, QUIPU_E_F32, T, KD),
                                  .v = quipu_view_of(bv, QUIPU_E_F32, T, KD), .out = quipu_view_of(bo, QUIPU_E_F32, T, QD),
                                  .lay = {.pos = quipu_view_of(bl[0], QUIPU_E_I32, 1, T), .seg_lo = quipu_view_of(bl[1], QUIPU_E_I32, 1, T),
                                          .seg_hi = quipu_view_of(bl[2], QUIPU_E_I32, 1, T), .pre_lo = quipu_view_of(bl[3], QUIPU_E_I32, 1, T),
                                          .pre_hi = quipu_view_of(bl[4], QUIPU_E_I32, 1, T)},
                                  .n_heads = sh->H, .n_heads_kv = sh->HKV, .head_dim = sh->HD, .scale = (float)(1.0 / sqrt((double)sh->HD)),
                                  .causal = 1, .ws = quipu_view_of(bws, QUIPU_E_U8, 1, (int64_t)(wsn ? wsn : 16))};
        double med32 = 0;
        for (int di = 0; di < 3; di++) {
            if (quipu_backend_set_dtype(b, dtypes[di], &err)) {
                printf("| %s | %lld | %lld/%lld | %lld | %s | skipped: %s | | | |\n", sh->name, (long long)T, (long long)sh->H,
                       (long long)sh->HKV, (long long)sh->HD, dtypes[di], err.msg);
                continue;
            }
            double *ts = malloc((size_t)reps * sizeof(double));
            int ok = 1;
            for (int r = -1; r < reps && ok; r++) { /* r = -1: the warm-up, whose output is checked */
                double t0 = now_s();
                ok = quipu_op_attention(b, &a, &err) == QUIPU_OK && quipu_op_sync(b, &err) == QUIPU_OK;
                if (r >= 0) ts[r] = now_s() - t0;
                if (r == -1 && ok) ok = b->iface->buf_read(b, bo, 0, di == 0 ? out32 : out, nq * 4, &err) == QUIPU_OK;
            }
            if (!ok) {
                fprintf(stderr, "bench_attention: %s %s: %s\n", sh->name, dtypes[di], err.msg);
                return 1;
            }
            double diff = 0;
            for (size_t i = 0; di > 0 && i < nq; i++) {
                double d = fabs((double)out[i] - (double)out32[i]);
                if (!(d <= diff)) diff = d; /* a NaN sticks */
            }
            if (di > 0 && !(diff <= 0.05)) bad++;
            qsort(ts, (size_t)reps, sizeof(double), cmp_double);
            double med = ts[reps / 2];
            if (di == 0) med32 = med;
            printf("| %s | %lld | %lld/%lld | %lld | %s | %.3f | %.3g | %.2fx | %s%.2g |\n", sh->name, (long long)T, (long long)sh->H,
                   (long long)sh->HKV, (long long)sh->HD, dtypes[di], 1e3 * med, (double)T / med, med32 / med, di && !(diff <= 0.05) ? "WRONG " : "",
                   di ? diff : 0.0);
            fflush(stdout);
            free(ts);
        }
        b->iface->buf_free(b, bq), b->iface->buf_free(b, bk), b->iface->buf_free(b, bv), b->iface->buf_free(b, bo), b->iface->buf_free(b, bws);
        for (int i = 0; i < 5; i++) b->iface->buf_free(b, bl[i]);
        free(q), free(k), free(v), free(out32), free(out);
    }
    printf("\n%lld tokens in %d sequences (every third continuing a shared %d-token prompt), causal; median of %d calls after a warm-up\n",
           (long long)T, n_seq, P, reps);
    quipu_backend_free(b);
    free(pos), free(seg), free(shi), free(plo), free(phi);
    return bad ? 1 : 0;
}
