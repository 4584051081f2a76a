/* stats.h — the statistics the metrics stand on: a seeded, platform-independent random number
 * generator (splitmix64 seeding a xoshiro256**), string hashing for per-group streams, percentiles
 * of sorted samples, and McNemar's test on paired binary outcomes. Integer arithmetic only in the
 * generator, so a seed gives the same stream on every platform and compiler; never rand(). */
#ifndef QUIPU_STATS_H
#define QUIPU_STATS_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64: advances *state and returns the next output. Used to expand one 64-bit seed into
 * the xoshiro state and to mix hashes (Steele, Lea & Flood 2014; Vigna's reference code). */
uint64_t quipu_splitmix64(uint64_t *state);

/* xoshiro256** (Blackman & Vigna 2018). The state must not be all zero; quipu_rng_seed
 * guarantees that. */
typedef struct quipu_rng {
    uint64_t s[4];
} quipu_rng;

void quipu_rng_seed(quipu_rng *r, uint64_t seed);

/* The generator and the draw are inline: a bootstrap makes hundreds of millions of draws. */
static inline uint64_t quipu_rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t quipu_rng_next(quipu_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = quipu_rotl64(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = quipu_rotl64(s[3], 45);
    return result;
}

/* High and low 64 bits of a·b from 32-bit halves: exact integer arithmetic on every platform. */
static inline uint64_t quipu_mul64_portable(uint64_t a, uint64_t b, uint64_t *lo)
{
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    *lo = (mid << 32) | (ll & 0xffffffffu);
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/* The same product in one instruction where the compiler has 128-bit integers; the bits are
 * those of quipu_mul64_portable (test_metrics_stats compares the two). */
static inline uint64_t quipu_mul64(uint64_t a, uint64_t b, uint64_t *lo)
{
#ifdef __SIZEOF_INT128__
    __extension__ unsigned __int128 p = (unsigned __int128)a * b;
    *lo = (uint64_t)p;
    return (uint64_t)(p >> 64);
#else
    return quipu_mul64_portable(a, b, lo);
#endif
}

/* Uniform integer in [0, n), unbiased: Lemire's multiply-shift (ACM TOMS 2019): the high word of
 * x·n is uniform on [0, n) once the low words below 2^64 mod n are rejected; the division runs
 * only on the rare candidate rejections. n > 0. */
static inline uint64_t quipu_rng_below(quipu_rng *r, uint64_t n)
{
    uint64_t lo, hi = quipu_mul64(quipu_rng_next(r), n, &lo);
    if (lo < n) {
        const uint64_t threshold = (0 - n) % n;
        while (lo < threshold) hi = quipu_mul64(quipu_rng_next(r), n, &lo);
    }
    return hi;
}
/* Uniform double in [0, 1) with 53 random bits. */
double quipu_rng_uniform(quipu_rng *r);

/* FNV-1a over the bytes of s (NULL hashes like ""), continuing from h; start with
 * QUIPU_HASH64_INIT. Chain fields with quipu_hash64_sep so ("ab","c") != ("a","bc"). */
#define QUIPU_HASH64_INIT UINT64_C(0xcbf29ce484222325)
uint64_t quipu_hash64_str(uint64_t h, const char *s);
uint64_t quipu_hash64_sep(uint64_t h);
/* A well-mixed 64-bit seed from a user seed and a stream key (e.g. a group hash). */
uint64_t quipu_seed_mix(uint64_t seed, uint64_t key);

/* Sorts x[n] ascending with the NaNs moved to the end; returns the number of non-NaN values.
 * Deterministic (total order on the values; equal values are indistinguishable). */
size_t quipu_sort_finite(double *x, size_t n);

/* Percentile q in [0, 1] of sorted x[n] by linear interpolation between closest ranks
 * (h = (n-1)·q; numpy's default "linear" method, R type 7). NaN when n == 0. */
double quipu_percentile_sorted(const double *x, size_t n, double q);

/* Two-sided exact binomial test of k successes in n trials against p = 1/2:
 * p = min(1, 2·P(X <= min(k, n-k))). Exact integer sums up to n = 62, lgamma beyond. */
double quipu_binom_two_sided_half(int64_t k, int64_t n);

/* Upper tail of the chi-square distribution with one degree of freedom: P(X > x). */
double quipu_chi2_1_sf(double x);

/* McNemar's test on paired binary outcomes of runs A and B. b = items where A says 1 and B 0,
 * c = items where A says 0 and B 1 (the discordant pairs). Exact binomial (two-sided) when
 * b + c < exact_below; otherwise chi-square with continuity correction
 * (|b - c| - 1)^2 / (b + c), as R's mcnemar.test. b + c == 0 gives p = 1 (exact). */
#define QUIPU_MCNEMAR_EXACT_BELOW 25
typedef struct quipu_mcnemar {
    int64_t b, c;
    int exact;         /* 1: exact binomial p; 0: chi-square with continuity correction */
    double statistic;  /* chi-square statistic; NaN when exact */
    double p_value;
} quipu_mcnemar;
void quipu_mcnemar_test(quipu_mcnemar *out, int64_t b, int64_t c, int64_t exact_below);

#endif
