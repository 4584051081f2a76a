/* test_gemm_cpu.c — the CPU GEMM (src/gemm_cpu.c) against a scalar reference of the summation
 * order gemm_cpu.h documents (eight lanes over k in steps of 8, a fused multiply-add each on the
 * avx2-fma kernel and a product then a sum on the generic one, the lanes added pairwise, then the
 * K mod 8 tail in order), bit for bit, over shapes that cut the 3 x 4 tiles and the blocks of
 * outputs unevenly, on both kernels; and a row computed alone has the bits it has inside a
 * batch, at any position. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_cpu.h"
#include "testlib.h"

static float ref_dot(const float *x, const float *w, int64_t K, int fma) {
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t K8 = K / 8 * 8;
    for (int64_t k = 0; k < K8; k++) l[k % 8] = fma ? fmaf(x[k], w[k], l[k % 8]) : l[k % 8] + x[k] * w[k];
    float s = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    for (int64_t k = K8; k < K; k++) s = fma ? fmaf(x[k], w[k], s) : s + x[k] * w[k];
    return s;
}

static uint64_t rng = 88172645463325252ull;
static float rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

/* M x N outputs of K; x rows ldx apart, y rows ldy apart; returns the outputs whose bits differ */
static int64_t check(int64_t M, int64_t K, int64_t N, int64_t pad_x, int64_t pad_y, int fma) {
    int64_t ldx = K + pad_x, ldy = N + pad_y;
    float *x = malloc((size_t)(M * ldx + 1) * sizeof *x), *w = malloc((size_t)(N * K + 1) * sizeof *w);
    float *y = malloc((size_t)(M * ldy + 1) * sizeof *y), *y1 = malloc((size_t)(ldy + 1) * sizeof *y1);
    if (!x || !w || !y || !y1) {
        free(x), free(w), free(y), free(y1);
        return -1;
    }
    for (int64_t i = 0; i < M * ldx; i++) x[i] = rnd();
    for (int64_t i = 0; i < N * K; i++) w[i] = rnd() * 0.5f;
    for (int64_t i = 0; i < M * ldy; i++) y[i] = NAN; /* padding must stay untouched */
    quipu_gemm_cpu_ld(y, ldy, x, ldx, w, M, K, N);
    int64_t bad = 0;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            float r = ref_dot(x + i * ldx, w + j * K, K, fma);
            if (memcmp(&r, &y[i * ldy + j], sizeof r)) bad++;
        }
        for (int64_t j = N; j < ldy; j++) bad += !isnan(y[i * ldy + j]);
    }
    /* rows alone: first, middle, last */
    int64_t rows[3] = {0, M / 2, M - 1};
    for (int q = 0; q < 3; q++) {
        quipu_gemm_cpu_ld(y1, ldy, x + rows[q] * ldx, ldx, w, 1, K, N);
        bad += memcmp(y1, y + rows[q] * ldy, (size_t)N * sizeof *y1) != 0;
    }
    free(x), free(w), free(y), free(y1);
    return bad;
}

static void run_all(void) {
    int fma = !strcmp(quipu_gemm_cpu_kernel(), "avx2-fma");
    printf("kernel: %s\n", quipu_gemm_cpu_kernel());
    /* K: below one lane group, with tails, long; M and N cut the 3 x 4 tiles and the output
     * blocks (64 Ki floats of weights each) */
    static const int64_t Ks[] = {1, 7, 8, 9, 63, 256, 257, 263, 520, 776};
    static const int64_t Ms[] = {1, 2, 3, 4, 5, 95, 97, 200};
    static const int64_t Ns[] = {1, 3, 4, 5, 17, 33, 131};
    int64_t cases = 0, bad_cases = 0;
    for (size_t a = 0; a < sizeof Ks / sizeof *Ks; a++)
        for (size_t b = 0; b < sizeof Ms / sizeof *Ms; b++)
            for (size_t c = 0; c < sizeof Ns / sizeof *Ns; c++) {
                if (Ks[a] * Ms[b] * Ns[c] > 2000000) continue;
                int64_t bad = check(Ms[b], Ks[a], Ns[c], (int64_t)(b % 3) * 5, (int64_t)(c % 2) * 3, fma);
                cases++;
                if (bad) {
                    bad_cases++;
                    if (bad_cases <= 5) fprintf(stderr, "M %lld K %lld N %lld: %lld outputs differ\n", (long long)Ms[b], (long long)Ks[a], (long long)Ns[c], (long long)bad);
                }
            }
    CHECK_MSG(bad_cases == 0, "%lld of %lld shapes differ from the documented order", (long long)bad_cases, (long long)cases);
    /* a wide one: many output blocks, split over the threads */
    CHECK(check(300, 264, 300, 0, 0, fma) == 0);
    CHECK(cases > 400);
}

int main(void) {
    run_all(); /* the kernel this machine picks */
    if (strcmp(quipu_gemm_cpu_kernel(), "generic")) {
        setenv("QUIPU_GEMM_KERNEL", "generic", 1); /* and the portable one */
        CHECK(!strcmp(quipu_gemm_cpu_kernel(), "generic"));
        run_all();
    }
    return test_finish("test_gemm_cpu");
}
