/* bench/gemm_cpu.c — quipu's CPU GEMM (src/gemm_cpu.c, quipu_gemm_cpu) against OpenBLAS's
 * cblas_sgemm on the matrix shapes of SmolLM2-135M and Gemma-3-270m, same inputs, same thread
 * counts; and whether each one's output rows are bit-identical when a row is computed alone
 * (M = 1) and inside the batch.
 *
 * Both compute y[M, N] = x[M, K] · w[N, K]ᵀ in fp32 (OpenBLAS: row-major, w transposed).
 * Timing: a first call (inputs and outputs already touched), then repeated calls until 0.3 s
 * have passed, keeping the fastest; a first call over 1 s is the measurement. All of quipu's
 * shapes at one thread count run before OpenBLAS's, so one library's idle threads do not
 * spin during the other's calls.
 *
 * Output: tab-separated lines, one per (threads, model, matrix, M):
 *   row  THREADS  MODEL  MATRIX  K  N  M  QUIPU_GFLOPS  OPENBLAS_GFLOPS  QUIPU_ROWS_SAME  OPENBLAS_ROWS_SAME  OPENBLAS_MAX_ABS_DIFF
 * and a "model" line per (threads, model, M) for the mix of one forward pass (every layer's
 * matrices with their multiplicity, then the LM head): GFLOP/s over the summed best times.
 * "ROWS_SAME" is 1 when rows 0, 1, M/2 and M-1 computed alone have the bits they have in the
 * batch. The statement of what is compared is bench/gemm_cpu.sh's; it builds, runs and
 * summarizes this program.
 *
 * usage: gemm_cpu [THREADS...]   (default: 1 2) */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm_cpu.h"

void openblas_set_num_threads(int n);
char *openblas_get_config(void);

typedef struct mat {
    const char *model, *name;
    int64_t K, N;
    int per_layer; /* how many of it one layer runs (0: the LM head, once per pass) */
} mat;

/* SmolLM2-135M: D 576, 9 heads x 64 (3 KV heads), F 1536, V 49152, 30 layers.
 * Gemma-3-270m: D 640, 4 heads x 256 (1 KV head), F 2048, V 262144, 18 layers. */
static const mat MATS[] = {
    {"SmolLM2-135M", "attn q, o", 576, 576, 2},     {"SmolLM2-135M", "attn k, v", 576, 192, 2},
    {"SmolLM2-135M", "mlp gate, up", 576, 1536, 2}, {"SmolLM2-135M", "mlp down", 1536, 576, 1},
    {"SmolLM2-135M", "lm head", 576, 49152, 0},     {"Gemma-3-270m", "attn q", 640, 1024, 1},
    {"Gemma-3-270m", "attn k, v", 640, 256, 2},     {"Gemma-3-270m", "attn o", 1024, 640, 1},
    {"Gemma-3-270m", "mlp gate, up", 640, 2048, 2}, {"Gemma-3-270m", "mlp down", 2048, 640, 1},
    {"Gemma-3-270m", "lm head", 640, 262144, 0},
};
enum { N_MATS = sizeof MATS / sizeof *MATS };
static const int64_t MS[] = {64, 512, 2048};
enum { N_MS = sizeof MS / sizeof *MS };

static int layers_of(const char *model) { return strcmp(model, "SmolLM2-135M") == 0 ? 30 : 18; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float urand(float scale) { /* xorshift64*, uniform in [-scale, scale) */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    uint64_t r = rng * 0x2545F4914F6CDD1Dull;
    return scale * (2.0f * (float)(r >> 40) / (float)(1 << 24) - 1.0f);
}

typedef void (*gemm_fn)(float *y, const float *x, const float *w, int64_t M, int64_t K, int64_t N);

static void run_quipu(float *y, const float *x, const float *w, int64_t M, int64_t K, int64_t N) {
    quipu_gemm_cpu(y, N, x, w, M, K, N);
}

static void run_openblas(float *y, const float *x, const float *w, int64_t M, int64_t K, int64_t N) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x, (int)K, w, (int)K, 0.0f, y, (int)N);
}

/* the fastest time of one call */
static double time_call(gemm_fn f, float *y, const float *x, const float *w, int64_t M, int64_t K, int64_t N) {
    double t0 = now();
    f(y, x, w, M, K, N);
    double best = now() - t0;
    if (best > 1.0) return best;
    double start = now();
    while (now() - start < 0.3) {
        t0 = now();
        f(y, x, w, M, K, N);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

/* rows 0, 1, M/2, M-1 computed alone against the batch's y: 1 when every bit agrees */
static int rows_same(gemm_fn f, const float *y, const float *x, const float *w, int64_t M, int64_t K, int64_t N, float *row,
                     double *max_diff) {
    int64_t rows[4] = {0, 1, M / 2, M - 1};
    int same = 1;
    for (int r = 0; r < 4; r++) {
        int64_t i = rows[r];
        if (i >= M) continue;
        f(row, x + i * K, w, 1, K, N);
        if (memcmp(row, y + i * N, (size_t)N * sizeof(float)) != 0) same = 0;
        for (int64_t j = 0; j < N; j++) {
            double d = fabs((double)row[j] - (double)y[i * N + j]);
            if (d > *max_diff) *max_diff = d;
        }
    }
    return same;
}

int main(int argc, char **argv) {
    int threads[8], n_threads = 0;
    for (int a = 1; a < argc && n_threads < 8; a++) threads[n_threads++] = atoi(argv[a]);
    if (n_threads == 0) {
        threads[0] = 1;
        threads[1] = 2;
        n_threads = 2;
    }
    int64_t maxK = 0, maxN = 0, maxM = MS[N_MS - 1];
    for (int i = 0; i < N_MATS; i++) {
        if (MATS[i].K > maxK) maxK = MATS[i].K;
        if (MATS[i].N > maxN) maxN = MATS[i].N;
    }
    float *x = malloc((size_t)(maxM * maxK) * sizeof(float));
    float *y = malloc((size_t)(maxM * maxN) * sizeof(float));
    float *row = malloc((size_t)maxN * sizeof(float));
    float *w[N_MATS];
    if (!x || !y || !row) return fprintf(stderr, "gemm_cpu: out of memory\n"), 1;
    for (int64_t i = 0; i < maxM * maxK; i++) x[i] = urand(1.0f);
    memset(y, 0, (size_t)(maxM * maxN) * sizeof(float)); /* touched before any timing */
    for (int m = 0; m < N_MATS; m++) {
        w[m] = malloc((size_t)(MATS[m].N * MATS[m].K) * sizeof(float));
        if (!w[m]) return fprintf(stderr, "gemm_cpu: out of memory\n"), 1;
        for (int64_t i = 0; i < MATS[m].N * MATS[m].K; i++) w[m][i] = urand(0.05f);
    }
    printf("# quipu kernel: %s; OpenBLAS: %s\n", quipu_gemm_cpu_kernel(), openblas_get_config());
    double best[2][N_MATS][N_MS];
    int same[2][N_MATS][N_MS];
    double diff[N_MATS][N_MS];
    gemm_fn fns[2] = {run_quipu, run_openblas};
    for (int t = 0; t < n_threads; t++) {
        omp_set_num_threads(threads[t]);
        openblas_set_num_threads(threads[t]);
        for (int e = 0; e < 2; e++)
            for (int m = 0; m < N_MATS; m++)
                for (int k = 0; k < N_MS; k++) {
                    const mat *A = &MATS[m];
                    best[e][m][k] = time_call(fns[e], y, x, w[m], MS[k], A->K, A->N);
                    double d = 0;
                    same[e][m][k] = rows_same(fns[e], y, x, w[m], MS[k], A->K, A->N, row, &d);
                    if (e == 1) diff[m][k] = d;
                    fprintf(stderr, "threads %d %s %s %s M=%lld: %.1f GFLOP/s\n", threads[t], e ? "openblas" : "quipu", A->model,
                            A->name, (long long)MS[k], 2e-9 * (double)(MS[k] * A->K * A->N) / best[e][m][k]);
                }
        for (int m = 0; m < N_MATS; m++)
            for (int k = 0; k < N_MS; k++) {
                const mat *A = &MATS[m];
                double fl = 2.0 * (double)(MS[k] * A->K * A->N);
                printf("row\t%d\t%s\t%s\t%lld\t%lld\t%lld\t%.2f\t%.2f\t%d\t%d\t%.3g\n", threads[t], A->model, A->name, (long long)A->K,
                       (long long)A->N, (long long)MS[k], 1e-9 * fl / best[0][m][k], 1e-9 * fl / best[1][m][k], same[0][m][k],
                       same[1][m][k], diff[m][k]);
            }
        /* one forward pass's mix per model */
        for (int k = 0; k < N_MS; k++) {
            const char *models[2] = {"SmolLM2-135M", "Gemma-3-270m"};
            for (int mm = 0; mm < 2; mm++) {
                double fl = 0, tq = 0, to = 0;
                for (int m = 0; m < N_MATS; m++) {
                    if (strcmp(MATS[m].model, models[mm])) continue;
                    double times = MATS[m].per_layer ? (double)(MATS[m].per_layer * layers_of(models[mm])) : 1.0;
                    fl += times * 2.0 * (double)(MS[k] * MATS[m].K * MATS[m].N);
                    tq += times * best[0][m][k];
                    to += times * best[1][m][k];
                }
                printf("model\t%d\t%s\tforward mix\t\t\t%lld\t%.2f\t%.2f\n", threads[t], models[mm], (long long)MS[k], 1e-9 * fl / tq,
                       1e-9 * fl / to);
            }
        }
        fflush(stdout);
    }
    for (int m = 0; m < N_MATS; m++) free(w[m]);
    free(x);
    free(y);
    free(row);
    return 0;
}
