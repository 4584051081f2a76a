/* gemm_cpu.c — the batch-invariant CPU GEMM (gemm_cpu.h says the summation order). Two
 * implementations of that one order: AVX2+FMA intrinsics, chosen at run time where the CPU has
 * them, and portable C with GCC vector types (no FMA: the file is built with -ffp-contract=off).
 * Register tiles of 3 rows x 4 outputs; the remainders use 1 x 4 and 3 x 1 / 1 x 1 tiles that
 * do the same arithmetic per element. */
#include "gemm_cpu.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QUIPU_GEMM_X86 1
#endif

typedef float v8f __attribute__((vector_size(32)));

/* the lanes' fixed pairwise sum, then the tail in order: identical in both implementations */
static inline float finish(const float l[8], const float *xr, const float *wr, int64_t k0, int64_t K, int fma) {
    float s = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    for (int64_t k = k0; k < K; k++) s = fma ? __builtin_fmaf(xr[k], wr[k], s) : s + xr[k] * wr[k];
    return s;
}

/* ---------------------------------------------------------------- portable */

#define LOAD8(v, p) __builtin_memcpy(&(v), (p), sizeof(v8f))

#define GEN_TILE(MR, NR)                                                                                            \
    static void tile_gen_##MR##x##NR(float *y, int64_t ldy, const float *x, int64_t ldx, const float *w, int64_t K) { \
        v8f acc[MR][NR];                                                                                            \
        for (int r = 0; r < MR; r++)                                                                                \
            for (int c = 0; c < NR; c++) acc[r][c] = (v8f){0};                                                      \
        int64_t K8 = K / 8 * 8;                                                                                     \
        for (int64_t k = 0; k < K8; k += 8) {                                                                       \
            v8f xv[MR], wv[NR];                                                                                     \
            for (int r = 0; r < MR; r++) LOAD8(xv[r], x + r * ldx + k);                                              \
            for (int c = 0; c < NR; c++) LOAD8(wv[c], w + c * K + k);                                              \
            for (int r = 0; r < MR; r++)                                                                            \
                for (int c = 0; c < NR; c++) acc[r][c] = acc[r][c] + xv[r] * wv[c];                                \
        }                                                                                                           \
        for (int r = 0; r < MR; r++)                                                                                \
            for (int c = 0; c < NR; c++) {                                                                          \
                float l[8];                                                                                         \
                __builtin_memcpy(l, &acc[r][c], sizeof l);                                                          \
                y[r * ldy + c] = finish(l, x + r * ldx, w + c * K, K8, K, 0);                                         \
            }                                                                                                       \
    }
GEN_TILE(3, 4)
GEN_TILE(1, 4)
GEN_TILE(3, 1)
GEN_TILE(1, 1)

/* ---------------------------------------------------------------- AVX2 + FMA */

#ifdef QUIPU_GEMM_X86
#define AVX_TILE(MR, NR)                                                                                            \
    __attribute__((target("avx2,fma"))) static void tile_avx_##MR##x##NR(float *y, int64_t ldy, const float *x,    \
                                                                          int64_t ldx, const float *w, int64_t K) {  \
        __m256 acc[MR][NR];                                                                                         \
        for (int r = 0; r < MR; r++)                                                                                \
            for (int c = 0; c < NR; c++) acc[r][c] = _mm256_setzero_ps();                                           \
        int64_t K8 = K / 8 * 8;                                                                                     \
        for (int64_t k = 0; k < K8; k += 8) {                                                                       \
            __m256 xv[MR];                                                                                          \
            for (int r = 0; r < MR; r++) xv[r] = _mm256_loadu_ps(x + r * ldx + k);                                    \
            for (int c = 0; c < NR; c++) { /* each weight vector loaded once: 3 + 4 loads per 12 FMAs */           \
                __m256 wv = _mm256_loadu_ps(w + c * K + k);                                                         \
                for (int r = 0; r < MR; r++) acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);                    \
            }                                                                                                       \
        }                                                                                                           \
        for (int r = 0; r < MR; r++)                                                                                \
            for (int c = 0; c < NR; c++) {                                                                          \
                float l[8];                                                                                         \
                _mm256_storeu_ps(l, acc[r][c]);                                                                     \
                y[r * ldy + c] = finish(l, x + r * ldx, w + c * K, K8, K, 1);                                         \
            }                                                                                                       \
    }
AVX_TILE(3, 4)
AVX_TILE(1, 4)
AVX_TILE(3, 1)
AVX_TILE(1, 1)
#endif

typedef void (*tile_fn)(float *, int64_t, const float *, int64_t, const float *, int64_t);
typedef struct kernel {
    const char *name;
    tile_fn t34, t14, t31, t11;
} kernel;

static const kernel k_gen = {"generic", tile_gen_3x4, tile_gen_1x4, tile_gen_3x1, tile_gen_1x1};
#ifdef QUIPU_GEMM_X86
static const kernel k_avx = {"avx2-fma", tile_avx_3x4, tile_avx_1x4, tile_avx_3x1, tile_avx_1x1};
#endif

static const kernel *pick(void) {
#ifdef QUIPU_GEMM_X86
    const char *e = getenv("QUIPU_GEMM_KERNEL"); /* a test hook (gemm_cpu.h) */
    if (e && !strcmp(e, "generic")) return &k_gen;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &k_avx;
#endif
    return &k_gen;
}

const char *quipu_gemm_cpu_kernel(void) { return pick()->name; }

void quipu_gemm_cpu(float *y, int64_t ldy, const float *x, const float *w, int64_t M, int64_t K, int64_t N) {
    quipu_gemm_cpu_ld(y, ldy, x, K, w, M, K, N);
}

void quipu_gemm_cpu_ld(float *y, int64_t ldy, const float *x, int64_t ldx, const float *w, int64_t M, int64_t K, int64_t N) {
    if (M <= 0 || N <= 0) return;
    const kernel *kn = pick();
    /* blocks of outputs whose weights stay in cache (~256 KiB) while every row passes over them */
    int64_t nb = (64 * 1024) / (K > 0 ? K : 1);
    nb = nb < 4 ? 4 : nb / 4 * 4;
    int64_t n_blocks = (N + nb - 1) / nb;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < n_blocks; b++) {
        int64_t j0 = b * nb, j1 = j0 + nb < N ? j0 + nb : N;
        int64_t j4 = j0 + (j1 - j0) / 4 * 4;
        int64_t i = 0;
        for (; i + 3 <= M; i += 3) {
            const float *xr = x + i * ldx;
            float *yr = y + i * ldy;
            for (int64_t j = j0; j < j4; j += 4) kn->t34(yr + j, ldy, xr, ldx, w + j * K, K);
            for (int64_t j = j4; j < j1; j++) kn->t31(yr + j, ldy, xr, ldx, w + j * K, K);
        }
        for (; i < M; i++) {
            const float *xr = x + i * ldx;
            float *yr = y + i * ldy;
            for (int64_t j = j0; j < j4; j += 4) kn->t14(yr + j, ldy, xr, ldx, w + j * K, K);
            for (int64_t j = j4; j < j1; j++) kn->t11(yr + j, ldy, xr, ldx, w + j * K, K);
        }
    }
}
