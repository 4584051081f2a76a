/* stats.c — seeded RNG, hashing, percentiles and McNemar's test (see stats.h). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* no fused multiply-add: same bits on every target */
#endif

uint64_t quipu_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void quipu_rng_seed(quipu_rng *r, uint64_t seed)
{
    uint64_t st = seed;
    for (int i = 0; i < 4; i++) r->s[i] = quipu_splitmix64(&st);
    /* splitmix64 is a bijection of its counter, so four consecutive outputs are never all zero;
     * keep the guard anyway, the generator must not start from the zero state. */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

double quipu_rng_uniform(quipu_rng *r)
{
    return (double)(quipu_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t quipu_hash64_str(uint64_t h, const char *s)
{
    if (s)
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
            h ^= *p;
            h *= UINT64_C(0x100000001b3);
        }
    return h;
}

uint64_t quipu_hash64_sep(uint64_t h)
{
    h ^= 0x1f; /* ASCII unit separator: not expected inside tags */
    h *= UINT64_C(0x100000001b3);
    return h;
}

uint64_t quipu_seed_mix(uint64_t seed, uint64_t key)
{
    uint64_t st = seed;
    uint64_t a = quipu_splitmix64(&st);
    st = a ^ key;
    return quipu_splitmix64(&st);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

size_t quipu_sort_finite(double *x, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i])) {
            double t = x[m];
            x[m++] = x[i];
            x[i] = t;
        }
    /* x[0..m) holds the numbers, x[m..n) the NaNs */
    qsort(x, m, sizeof *x, cmp_double);
    return m;
}

double quipu_percentile_sorted(const double *x, size_t n, double q)
{
    if (n == 0) return NAN;
    if (q <= 0) return x[0];
    if (q >= 1) return x[n - 1];
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1) return x[n - 1];
    double frac = h - (double)lo;
    /* written as a + f·(b − a) the way numpy does, so equal neighbours give exactly a */
    return x[lo] + frac * (x[lo + 1] - x[lo]);
}

double quipu_binom_two_sided_half(int64_t k, int64_t n)
{
    if (n <= 0) return 1.0;
    if (k < 0) k = 0;
    if (k > n) k = n;
    int64_t m = k < n - k ? k : n - k;
    if (2 * m >= n) return 1.0; /* the smaller tail already holds half the mass */
    if (n <= 62) {
        /* one row of Pascal's triangle in exact integers: C(62, 31) < 2^59 */
        uint64_t row[63] = {1};
        for (int64_t i = 1; i <= n; i++)
            for (int64_t j = i; j > 0; j--) row[j] += row[j - 1];
        uint64_t tail = 0;
        for (int64_t j = 0; j <= m; j++) tail += row[j];
        double p = ldexp((double)tail, (int)(1 - n)); /* 2 · tail / 2^n */
        return p < 1.0 ? p : 1.0;
    }
    double lgn = lgamma((double)n + 1.0), ln2n = (double)n * log(2.0);
    double tail = 0.0;
    for (int64_t j = 0; j <= m; j++)
        tail += exp(lgn - lgamma((double)j + 1.0) - lgamma((double)(n - j) + 1.0) - ln2n);
    double p = 2.0 * tail;
    return p < 1.0 ? p : 1.0;
}

double quipu_chi2_1_sf(double x)
{
    if (isnan(x)) return NAN;
    if (x <= 0) return 1.0;
    return erfc(sqrt(0.5 * x));
}

void quipu_mcnemar_test(quipu_mcnemar *out, int64_t b, int64_t c, int64_t exact_below)
{
    out->b = b;
    out->c = c;
    int64_t n = b + c;
    if (n < exact_below || n == 0) {
        out->exact = 1;
        out->statistic = NAN;
        out->p_value = quipu_binom_two_sided_half(b, n);
        return;
    }
    double d = fabs((double)(b - c)) - 1.0;
    out->exact = 0;
    out->statistic = d * d / (double)n;
    out->p_value = quipu_chi2_1_sf(out->statistic);
}
