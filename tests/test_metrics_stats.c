/* test_metrics_stats.c — the statistics under the metrics: the RNG against an independent
 * implementation (published splitmix64 vector; xoshiro256** outputs from a Python port of the
 * reference C), percentiles, McNemar p-values (exact and chi-square, checked against exact
 * fractions and erfc in Python), bootstrap intervals that are bit-identical across calls, item
 * orders and thread counts, and the paired comparison of two runs. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "stats.h"
#include "testlib.h"

#define NEAR(a, b, tol) (fabs((a) - (b)) <= (tol) * (1.0 + fabs(b)))
#define CHECK_NEAR(got, want, tol) \
    CHECK_MSG(NEAR(got, want, tol), "got %.17g, want %.17g", (double)(got), (double)(want))

static void test_rng(void)
{
    /* splitmix64 from 1234567: the test vector of Vigna's splitmix64.c */
    uint64_t st = 1234567;
    const uint64_t sm[5] = {UINT64_C(6457827717110365317), UINT64_C(3203168211198807973),
                            UINT64_C(9817491932198370423), UINT64_C(4593380528125082431),
                            UINT64_C(16408922859458223821)};
    for (int i = 0; i < 5; i++) CHECK(quipu_splitmix64(&st) == sm[i]);

    /* xoshiro256** seeded through splitmix64 (state = four splitmix64 outputs) */
    quipu_rng r;
    quipu_rng_seed(&r, 42);
    const uint64_t x42[4] = {UINT64_C(1546998764402558742), UINT64_C(6990951692964543102),
                             UINT64_C(12544586762248559009), UINT64_C(17057574109182124193)};
    for (int i = 0; i < 4; i++) CHECK(quipu_rng_next(&r) == x42[i]);
    quipu_rng_seed(&r, 0);
    CHECK(quipu_rng_next(&r) == UINT64_C(11091344671253066420));
    CHECK(quipu_rng_next(&r) == UINT64_C(13793997310169335082));

    /* below(n): Lemire's multiply-shift, the same draws as the Python port (exact big-integer
     * products there); a bound above 2^63 exercises the high word of the portable multiply */
    quipu_rng_seed(&r, 7);
    const uint64_t b7[10] = {7, 2, 8, 9, 9, 8, 0, 1, 4, 1};
    for (int i = 0; i < 10; i++) CHECK(quipu_rng_below(&r, 10) == b7[i]);
    quipu_rng_seed(&r, 7);
    const uint64_t big = (UINT64_C(1) << 63) + 5;
    CHECK(quipu_rng_below(&r, big) == UINT64_C(6461677535414238000));
    CHECK(quipu_rng_below(&r, big) == UINT64_C(9049029322324588836));
    CHECK(quipu_rng_below(&r, big) == UINT64_C(9139072988219048336));

    /* roughly uniform: 60000 draws in [0, 3), each bucket within 2% of 20000 */
    int64_t cnt[3] = {0, 0, 0};
    quipu_rng_seed(&r, 99);
    for (int i = 0; i < 60000; i++) cnt[quipu_rng_below(&r, 3)]++;
    for (int k = 0; k < 3; k++) CHECK_MSG(cnt[k] > 19600 && cnt[k] < 20400, "bucket %d: %lld", k, (long long)cnt[k]);
    CHECK(quipu_rng_below(&r, 1) == 0);
    double u = quipu_rng_uniform(&r);
    CHECK(u >= 0 && u < 1);

    /* the 128-bit product the draw uses where the compiler has one: the portable halves' bits */
    const uint64_t edge[] = {0, 1, 2, 3, UINT64_C(0xffffffff), UINT64_C(0x100000000), UINT64_C(0xffffffffffffffff),
                             UINT64_C(0x8000000000000000), UINT64_C(0x7fffffffffffffff), UINT64_C(0xfffffffe00000001)};
    int n_edge = (int)(sizeof edge / sizeof edge[0]), mul_bad = 0;
    for (int i = 0; i < n_edge; i++)
        for (int j = 0; j < n_edge; j++) {
            uint64_t l1, l2, h1 = quipu_mul64(edge[i], edge[j], &l1), h2 = quipu_mul64_portable(edge[i], edge[j], &l2);
            mul_bad += h1 != h2 || l1 != l2;
        }
    quipu_rng_seed(&r, 5);
    for (int i = 0; i < 100000; i++) {
        uint64_t a = quipu_rng_next(&r), b = quipu_rng_next(&r) >> (i % 64);
        uint64_t l1, l2, h1 = quipu_mul64(a, b, &l1), h2 = quipu_mul64_portable(a, b, &l2);
        mul_bad += h1 != h2 || l1 != l2;
    }
    CHECK_MSG(mul_bad == 0, "%d products differ from the portable ones", mul_bad);
    uint64_t hi_max, lo_max;
    hi_max = quipu_mul64_portable(UINT64_C(0xffffffffffffffff), UINT64_C(0xffffffffffffffff), &lo_max);
    CHECK(hi_max == UINT64_C(0xfffffffffffffffe) && lo_max == 1); /* (2^64 - 1)^2 = 2^128 - 2^65 + 1 */

    /* hashing: separators keep ("ab","c") apart from ("a","bc") */
    uint64_t h1 = quipu_hash64_str(quipu_hash64_sep(quipu_hash64_str(QUIPU_HASH64_INIT, "ab")), "c");
    uint64_t h2 = quipu_hash64_str(quipu_hash64_sep(quipu_hash64_str(QUIPU_HASH64_INIT, "a")), "bc");
    CHECK(h1 != h2);
    CHECK(quipu_hash64_str(QUIPU_HASH64_INIT, "") == UINT64_C(0xcbf29ce484222325));
    CHECK(quipu_hash64_str(QUIPU_HASH64_INIT, "a") == UINT64_C(0xaf63dc4c8601ec8c)); /* FNV-1a 64 of "a" */
    CHECK(quipu_seed_mix(1, 2) != quipu_seed_mix(1, 3));
}

static void test_percentile(void)
{
    /* numpy.percentile([1, 2, 3, 4], q) with the default linear method: 25 → 1.75, 50 → 2.5,
     * 2.5 → 1.075, 97.5 → 3.925 */
    double x[6] = {4, NAN, 2, 3, NAN, 1};
    size_t k = quipu_sort_finite(x, 6);
    CHECK(k == 4 && x[0] == 1 && x[1] == 2 && x[2] == 3 && x[3] == 4 && isnan(x[4]) && isnan(x[5]));
    CHECK_NEAR(quipu_percentile_sorted(x, 4, 0.25), 1.75, 1e-15);
    CHECK_NEAR(quipu_percentile_sorted(x, 4, 0.5), 2.5, 1e-15);
    CHECK_NEAR(quipu_percentile_sorted(x, 4, 0.025), 1.075, 1e-15);
    CHECK_NEAR(quipu_percentile_sorted(x, 4, 0.975), 3.925, 1e-15);
    CHECK(quipu_percentile_sorted(x, 4, 0) == 1 && quipu_percentile_sorted(x, 4, 1) == 4);
    CHECK(quipu_percentile_sorted(x, 1, 0.3) == 1);
    CHECK(isnan(quipu_percentile_sorted(x, 0, 0.5)));
}

static void test_mcnemar(void)
{
    quipu_mcnemar m;
    /* b = 8, c = 2: n = 10, exact two-sided p = 2·(C(10,0) + C(10,1) + C(10,2))/2^10
     * = 2·56/1024 = 0.109375 */
    quipu_mcnemar_test(&m, 8, 2, QUIPU_MCNEMAR_EXACT_BELOW);
    CHECK(m.exact == 1 && m.b == 8 && m.c == 2 && isnan(m.statistic));
    CHECK(m.p_value == 0.109375);
    quipu_mcnemar_test(&m, 2, 8, QUIPU_MCNEMAR_EXACT_BELOW); /* symmetric */
    CHECK(m.p_value == 0.109375);
    /* b = 3, c = 17: 2·(1 + 20 + 190 + 1140)/2^20 = 0.0025768280029296875 (exactly) */
    quipu_mcnemar_test(&m, 3, 17, QUIPU_MCNEMAR_EXACT_BELOW);
    CHECK(m.exact && m.p_value == 0.0025768280029296875);
    /* no discordant pairs, or a balanced split: p = 1 */
    quipu_mcnemar_test(&m, 0, 0, QUIPU_MCNEMAR_EXACT_BELOW);
    CHECK(m.exact && m.p_value == 1.0);
    quipu_mcnemar_test(&m, 5, 5, QUIPU_MCNEMAR_EXACT_BELOW);
    CHECK(m.p_value == 1.0);
    /* b = 30, c = 10: n = 40 >= 25 → chi-square (|30 − 10| − 1)²/40 = 9.025,
     * p = erfc(√(9.025/2)) = 0.002663119259138554 (Python math.erfc) */
    quipu_mcnemar_test(&m, 30, 10, QUIPU_MCNEMAR_EXACT_BELOW);
    CHECK(m.exact == 0);
    CHECK_NEAR(m.statistic, 9.025, 1e-15);
    CHECK_NEAR(m.p_value, 0.002663119259138554, 1e-12);
    /* b = c = 20: (0 − 1)²/40 = 0.025 (R's mcnemar.test does not clamp), p = 0.8743670611628919 */
    quipu_mcnemar_test(&m, 20, 20, QUIPU_MCNEMAR_EXACT_BELOW);
    CHECK_NEAR(m.statistic, 0.025, 1e-15);
    CHECK_NEAR(m.p_value, 0.8743670611628919, 1e-12);
    /* exact beyond the integer table (n = 70, lgamma path): 2·Σ_{k<=30} C(70,k)/2^70
     * = 5201593004508133893/2^64 = 0.2819789217936561 */
    quipu_mcnemar_test(&m, 40, 30, 1000);
    CHECK(m.exact);
    CHECK_NEAR(m.p_value, 0.2819789217936561, 1e-10);
    CHECK_NEAR(quipu_binom_two_sided_half(30, 70), 0.2819789217936561, 1e-10);
    CHECK(quipu_chi2_1_sf(0) == 1.0);
}

/* ---- bootstrap ---------------------------------------------------------------------------- */

static char ids[64][8];

static quipu_item pair_item(int i, const char *cat)
{
    quipu_item it;
    memset(&it, 0, sizeof it);
    snprintf(ids[i], sizeof ids[i], "p%02d", i);
    it.id = ids[i];
    it.benchmark = (char *)"crows_pairs_en";
    it.language = (char *)"en-US";
    it.culture = (char *)"US";
    it.category = (char *)cat;
    it.source = (char *)"test";
    it.kind = QUIPU_ITEM_PAIR;
    it.direction = i % 5 == 0 ? -1 : 1;
    it.label = it.unknown_choice = it.target_choice = it.other_choice = it.biased_choice = -1;
    return it;
}

static quipu_item_record pair_rec(int64_t idx, double more, double less)
{
    quipu_item_record r;
    memset(&r, 0, sizeof r);
    r.item_index = idx;
    r.n_choices = 2;
    r.logprob[0] = more;
    r.logprob[1] = less;
    r.n_tokens[0] = r.n_tokens[1] = 1;
    r.n_bytes[0] = r.n_bytes[1] = 1;
    return r;
}

#define NB 40

static void make_set(quipu_item *it, quipu_item_record *rec)
{
    for (int i = 0; i < NB; i++) {
        it[i] = pair_item(i, i % 3 ? "race" : "gender");
        /* a fixed, irregular pattern of wins and differences */
        double more = -10.0 - (double)((i * 7) % 11), less = -10.0 - (double)((i * 5) % 13);
        rec[i] = pair_rec(i, more, less);
    }
}

static int same_results(const quipu_metric_results *a, const quipu_metric_results *b)
{
    if (a->n_rows != b->n_rows) return 0;
    for (size_t i = 0; i < a->n_rows; i++) {
        const quipu_metric_result *x = &a->rows[i], *y = &b->rows[i];
        if (strcmp(x->benchmark, y->benchmark) || strcmp(x->category, y->category) || strcmp(x->metric, y->metric))
            return 0;
        /* bit patterns, NaN included */
        if (memcmp(&x->value, &y->value, sizeof(double)) || memcmp(&x->ci_low, &y->ci_low, sizeof(double)) ||
            memcmp(&x->ci_high, &y->ci_high, sizeof(double)) || x->n != y->n)
            return 0;
    }
    return 1;
}

static void test_bootstrap_reproducible(void)
{
    quipu_item it[NB], it2[NB];
    quipu_item_record rec[NB], rec2[NB];
    make_set(it, rec);
    quipu_metrics_options o;
    quipu_metrics_options_init(&o);
    CHECK(o.n_boot == 1000 && o.ci_level == 0.95);
    o.threads = 1;
    quipu_metric_results a, b, c, d;
    quipu_error err = {0};
    CHECK(quipu_metrics_compute(&a, it, NB, rec, NB, &o, &err) == QUIPU_OK);
    CHECK(quipu_metrics_compute(&b, it, NB, rec, NB, &o, &err) == QUIPU_OK);
    CHECK_MSG(same_results(&a, &b), "two calls differ");

    /* the same items in another order, records in yet another, more threads: same bits */
    for (int i = 0; i < NB; i++) {
        int j = (i * 17 + 5) % NB; /* 17 is coprime with 40: a permutation */
        it2[j] = it[i];
        rec2[(i * 13 + 3) % NB] = rec[i];
        rec2[(i * 13 + 3) % NB].item_index = j;
    }
    o.threads = 3;
    CHECK(quipu_metrics_compute(&c, it2, NB, rec2, NB, &o, &err) == QUIPU_OK);
    CHECK_MSG(same_results(&a, &c), "input order or thread count changed the results");

    /* intervals bracket the point value, and a different seed moves them */
    for (size_t i = 0; i < a.n_rows; i++) {
        const quipu_metric_result *m = &a.rows[i];
        if (isnan(m->value)) continue;
        CHECK_MSG(m->ci_low <= m->value && m->value <= m->ci_high, "%s/%s: %g not in [%g, %g]", m->category,
                  m->metric, m->value, m->ci_low, m->ci_high);
    }
    /* The exact bits, from an independent Python port of the whole procedure (FNV-1a group key,
     * seed mix, one xoshiro256** stream per replicate, multiply-shift draws, sums in draw order,
     * numpy-linear percentiles):
     *   all:  pct_stereotype 52.5 [35, 67.5], likelihood_diff 3.75 [2.8743750000000006, 4.575]
     *   race: pct_stereotype 53.84615384615385 [34.61538461538461, 73.07692307692307],
     *         likelihood_diff 3.5384615384615383 [2.6153846153846154, 4.423076923076923] */
    const struct { const char *cat, *metric; double v, lo, hi; } golden[] = {
        {"all", "pct_stereotype", 52.5, 35.0, 67.5},
        {"all", "likelihood_diff", 3.75, 2.8743750000000006, 4.575},
        {"race", "pct_stereotype", 53.84615384615385, 34.61538461538461, 73.07692307692307},
        {"race", "likelihood_diff", 3.5384615384615383, 2.6153846153846154, 4.423076923076923}};
    for (size_t g = 0; g < sizeof golden / sizeof golden[0]; g++) {
        int seen = 0;
        for (size_t i = 0; i < a.n_rows; i++) {
            const quipu_metric_result *m = &a.rows[i];
            if (strcmp(m->category, golden[g].cat) || strcmp(m->metric, golden[g].metric)) continue;
            seen = 1;
            CHECK_MSG(m->value == golden[g].v && m->ci_low == golden[g].lo && m->ci_high == golden[g].hi,
                      "%s/%s: %.17g [%.17g, %.17g]", m->category, m->metric, m->value, m->ci_low, m->ci_high);
        }
        CHECK(seen);
    }

    o.seed = 12345;
    CHECK(quipu_metrics_compute(&d, it, NB, rec, NB, &o, &err) == QUIPU_OK);
    CHECK(!same_results(&a, &d));
    /* ... but not the point values */
    for (size_t i = 0; i < a.n_rows && i < d.n_rows; i++)
        CHECK(memcmp(&a.rows[i].value, &d.rows[i].value, sizeof(double)) == 0);

    /* A group's interval depends only on its own items and tags: dropping the "gender" items
     * leaves the "race" rows bit-identical. */
    quipu_item_record only_race[NB];
    size_t nr = 0;
    for (int i = 0; i < NB; i++)
        if (i % 3) only_race[nr++] = rec[i];
    quipu_metric_results e;
    o.seed = QUIPU_METRICS_DEFAULT_SEED;
    CHECK(quipu_metrics_compute(&e, it, NB, only_race, nr, &o, &err) == QUIPU_OK);
    int found = 0;
    for (size_t i = 0; i < a.n_rows; i++) {
        if (strcmp(a.rows[i].category, "race")) continue;
        for (size_t k = 0; k < e.n_rows; k++)
            if (!strcmp(e.rows[k].category, "race") && !strcmp(e.rows[k].metric, a.rows[i].metric)) {
                found++;
                CHECK(memcmp(&a.rows[i].ci_low, &e.rows[k].ci_low, sizeof(double)) == 0);
                CHECK(memcmp(&a.rows[i].ci_high, &e.rows[k].ci_high, sizeof(double)) == 0);
            }
    }
    CHECK(found == 5);
    quipu_metric_results_free(&a);
    quipu_metric_results_free(&b);
    quipu_metric_results_free(&c);
    quipu_metric_results_free(&d);
    quipu_metric_results_free(&e);
}

/* Large enough for the replicates to run on several threads (n·B >= 2e5): the bits must not
 * depend on the thread count. */
static void test_bootstrap_threads(void)
{
    enum { NL = 400 };
    static quipu_item it[NL];
    static quipu_item_record rec[NL];
    static char lid[NL][8];
    for (int i = 0; i < NL; i++) {
        it[i] = pair_item(0, i % 2 ? "a" : "b");
        snprintf(lid[i], sizeof lid[i], "L%03d", i);
        it[i].id = lid[i];
        rec[i] = pair_rec(i, -5.0 - (double)((i * 37) % 101) / 10.0, -5.0 - (double)((i * 53) % 97) / 10.0);
    }
    quipu_metrics_options o;
    quipu_metrics_options_init(&o);
    quipu_metric_results a, b;
    quipu_error err = {0};
    o.threads = 1;
    CHECK(quipu_metrics_compute(&a, it, NL, rec, NL, &o, &err) == QUIPU_OK);
    o.threads = 4;
    CHECK(quipu_metrics_compute(&b, it, NL, rec, NL, &o, &err) == QUIPU_OK);
    CHECK_MSG(same_results(&a, &b), "1 and 4 threads differ");
    quipu_metric_results_free(&a);
    quipu_metric_results_free(&b);
}

static void test_bootstrap_known(void)
{
    quipu_metrics_options o;
    quipu_metrics_options_init(&o);
    quipu_metric_results r;
    quipu_error err = {0};
    /* one pair: every resample would be that pair, an interval [v, v] that says nothing: no
     * interval, and a note saying why */
    quipu_item one[1] = {pair_item(0, "age")};
    quipu_item_record r1[1] = {pair_rec(0, -1, -3)};
    CHECK(quipu_metrics_compute(&r, one, 1, r1, 1, &o, &err) == QUIPU_OK);
    CHECK(r.rows[0].value == 100 && isnan(r.rows[0].ci_low) && isnan(r.rows[0].ci_high));
    CHECK(r.rows[0].note && strstr(r.rows[0].note, "single item"));
    CHECK(r.rows[4].value == 2 && isnan(r.rows[4].ci_low) && isnan(r.rows[4].ci_high)); /* likelihood_diff */
    quipu_metric_results_free(&r);

    /* two pairs, one won: a resample has 0, 1 or 2 wins with probabilities 1/4, 1/2, 1/4, so
     * with B = 1000 the 2.5% and 97.5% points are 0 and 100 (each tail holds ~250 replicates). */
    quipu_item two[2] = {pair_item(0, "age"), pair_item(1, "age")};
    quipu_item_record r2[2] = {pair_rec(0, -1, -3), pair_rec(1, -3, -1)};
    CHECK(quipu_metrics_compute(&r, two, 2, r2, 2, &o, &err) == QUIPU_OK);
    CHECK(r.rows[0].value == 50 && r.rows[0].ci_low == 0 && r.rows[0].ci_high == 100);
    quipu_metric_results_free(&r);

    /* a split of one item among 40: no interval either */
    quipu_item it[NB];
    quipu_item_record rec[NB];
    make_set(it, rec);
    for (int i = 1; i < NB; i++) it[i].direction = 1;
    CHECK(quipu_metrics_compute(&r, it, NB, rec, NB, &o, &err) == QUIPU_OK);
    CHECK(!strcmp(r.rows[2].metric, "pct_stereotype_antistereo") && r.rows[2].n == 1);
    CHECK(r.rows[2].note && strstr(r.rows[2].note, "single item"));
    CHECK(isnan(r.rows[2].ci_low) && isnan(r.rows[2].ci_high));
    /* a split of two among 40: the resamples that hold neither (about (38/40)^40 = 13%) leave it
     * undefined; the interval comes from the rest, and says so */
    it[1].direction = -1;
    quipu_metric_results_free(&r);
    CHECK(quipu_metrics_compute(&r, it, NB, rec, NB, &o, &err) == QUIPU_OK);
    CHECK(!strcmp(r.rows[2].metric, "pct_stereotype_antistereo") && r.rows[2].n == 2);
    CHECK(r.rows[2].note && strstr(r.rows[2].note, "replicates undefined"));
    CHECK(!isnan(r.rows[2].ci_low) && r.rows[2].ci_low <= r.rows[2].ci_high);
    quipu_metric_results_free(&r);
}

/* ---- paired comparison -------------------------------------------------------------------- */

static quipu_item mc_item(int i, const char *bench)
{
    quipu_item it;
    memset(&it, 0, sizeof it);
    snprintf(ids[i], sizeof ids[i], "q%02d", i);
    it.id = ids[i];
    it.benchmark = (char *)bench;
    it.language = (char *)"en-US";
    it.culture = (char *)"US";
    it.category = (char *)(i % 2 ? "Age" : "SES");
    it.source = (char *)"test";
    it.kind = QUIPU_ITEM_MC;
    it.n_choices = 3;
    it.condition = QUIPU_COND_DISAMBIG;
    it.polarity = QUIPU_POL_NEG;
    it.label = 0;
    it.target_choice = 0;
    it.other_choice = 1;
    it.unknown_choice = 2;
    it.biased_choice = 0;
    it.biased_mask = 1;
    return it;
}

static quipu_item_record mc_rec(int64_t idx, int pred)
{
    quipu_item_record r;
    memset(&r, 0, sizeof r);
    r.item_index = idx;
    r.n_choices = 3;
    for (int i = 0; i < 3; i++) {
        r.logprob[i] = i == pred ? -1.0 : -4.0;
        r.n_tokens[i] = r.n_bytes[i] = 1;
    }
    return r;
}

static const quipu_paired_test *find_test(const quipu_comparison *c, const char *cat, const char *dec)
{
    for (size_t i = 0; i < c->n_tests; i++)
        if (!strcmp(c->tests[i].category, cat) && !strcmp(c->tests[i].decision, dec)) return &c->tests[i];
    return NULL;
}

static const quipu_paired_diff *find_diff(const quipu_comparison *c, const char *cat, const char *metric)
{
    for (size_t i = 0; i < c->n_diffs; i++)
        if (!strcmp(c->diffs[i].category, cat) && !strcmp(c->diffs[i].metric, metric)) return &c->diffs[i];
    return NULL;
}

static void test_compare(void)
{
    /* 30 disambiguated BBQ items, gold 0 (also the biased answer). Run A is right on items
     * 0..17, B on 0..9 and 20..21: both right 0..9 (10); A only 10..17 (8 = b); B only 20..21
     * (2 = c); both wrong 18, 19, 22..29 (10). McNemar on "correct": exact, p = 0.109375.
     * acc A = 18/30, B = 12/30, difference −6/30. A also has q31 and B q30: 30 matched, one
     * item only in each run. */
    enum { N = 31 };
    quipu_item ia[N], ib[N];
    quipu_item_record ra[N], rb[N];
    for (int i = 0; i < 30; i++) {
        ia[i] = mc_item(i, "bbq");
        ib[i] = ia[i];
    }
    ia[30] = mc_item(31, "bbq");
    ib[30] = mc_item(30, "bbq");
    for (int i = 0; i < N; i++) {
        int a_right = i < 18, b_right = i < 10 || i == 20 || i == 21;
        ra[i] = mc_rec(i, a_right ? 0 : 1);
        rb[N - 1 - i] = mc_rec(i, b_right ? 0 : 1); /* B's records in another order */
    }
    quipu_metrics_options o;
    quipu_metrics_options_init(&o);
    quipu_comparison c, c2;
    quipu_error err = {0};
    CHECK(quipu_metrics_compare(&c, ia, N, ra, N, ib, N, rb, N, &o, &err) == QUIPU_OK);
    CHECK(c.n_matched == 30 && c.n_only_a == 1 && c.n_only_b == 1);
    const quipu_paired_test *t = find_test(&c, "all", "correct");
    CHECK(t && t->n == 30 && t->n11 == 10 && t->n10 == 8 && t->n01 == 2 && t->n00 == 10);
    CHECK(t && t->test.exact && t->test.p_value == 0.109375);
    /* "biased_answer": the biased answer is the gold one here, so the same table */
    t = find_test(&c, "all", "biased_answer");
    CHECK(t && t->n10 == 8 && t->n01 == 2);
    const quipu_paired_diff *d = find_diff(&c, "all", "acc");
    CHECK(d && d->n == 30);
    if (d) {
        CHECK_NEAR(d->value_a, 18.0 / 30.0, 1e-15);
        CHECK_NEAR(d->value_b, 12.0 / 30.0, 1e-15);
        CHECK_NEAR(d->diff, 12.0 / 30.0 - 18.0 / 30.0, 1e-15);
        CHECK(d->ci_low <= d->diff && d->diff <= d->ci_high);
        /* 8 against 2 discordant items is weak evidence (McNemar p 0.11); so is the bootstrap */
        CHECK_MSG(d->ci_high <= 0 && d->p_boot > 0.02 && d->p_boot < 0.2, "[%.17g, %.17g] p %.17g", d->ci_low,
                  d->ci_high, d->p_boot);
    }
    /* the same call again, with several threads: the same bits */
    o.threads = 2;
    CHECK(quipu_metrics_compare(&c2, ia, N, ra, N, ib, N, rb, N, &o, &err) == QUIPU_OK);
    CHECK(c.n_diffs == c2.n_diffs && c.n_tests == c2.n_tests);
    for (size_t i = 0; i < c.n_diffs && i < c2.n_diffs; i++) {
        CHECK(memcmp(&c.diffs[i].ci_low, &c2.diffs[i].ci_low, sizeof(double)) == 0);
        CHECK(memcmp(&c.diffs[i].ci_high, &c2.diffs[i].ci_high, sizeof(double)) == 0);
        CHECK(memcmp(&c.diffs[i].p_boot, &c2.diffs[i].p_boot, sizeof(double)) == 0);
    }
    quipu_comparison_free(&c2);

    FILE *f = tmpfile();
    if (f) {
        CHECK(quipu_comparison_write_csv(&c, f, &err) == QUIPU_OK);
        long len = ftell(f);
        rewind(f);
        char *s = calloc((size_t)len + 1, 1);
        if (s && fread(s, 1, (size_t)len, f) == (size_t)len) {
            CHECK(strstr(s, "mcnemar_exact,bbq,en-US,US,all,correct,30,,,,,,0.109375,10,8,2,10,,\n") != NULL);
            CHECK(!strncmp(s, "kind,benchmark,", 15));
        }
        free(s);
        fclose(f);
    }
    struct json_t *j = quipu_comparison_to_json(&c);
    CHECK(j != NULL);
    json_decref(j);
    quipu_comparison_free(&c);

    /* a run against itself: every difference 0, interval [0, 0], p 1, no discordant pairs */
    CHECK(quipu_metrics_compare(&c, ia, N, ra, N, ia, N, ra, N, &o, &err) == QUIPU_OK);
    for (size_t i = 0; i < c.n_diffs; i++) {
        const quipu_paired_diff *x = &c.diffs[i];
        if (isnan(x->diff)) continue;
        CHECK(x->diff == 0 && x->ci_low == 0 && x->ci_high == 0 && x->p_boot == 1);
    }
    for (size_t i = 0; i < c.n_tests; i++) CHECK(c.tests[i].n10 == 0 && c.tests[i].n01 == 0 && c.tests[i].test.p_value == 1);
    quipu_comparison_free(&c);

    /* the same id as a pair in one run and a question in the other */
    quipu_item pb[1] = {pair_item(0, "SES")};
    pb[0].benchmark = (char *)"bbq";
    pb[0].id = ia[0].id;
    quipu_item_record prb[1] = {pair_rec(0, -1, -2)};
    CHECK(quipu_metrics_compare(&c, ia, N, ra, N, pb, 1, prb, 1, &o, &err) == QUIPU_ERR_INVALID);
    CHECK(strstr(err.msg, "different kind") != NULL);
    CHECK(c.n_diffs == 0 && c.diffs == NULL);
}

static int same_double(double x, double y) { return memcmp(&x, &y, sizeof x) == 0; }

static int same_note(const char *x, const char *y) { return (!x && !y) || (x && y && !strcmp(x, y)); }

/* every row, tag, count and bit pattern */
static int same_comparison(const quipu_comparison *x, const quipu_comparison *y)
{
    if (x->n_diffs != y->n_diffs || x->n_tests != y->n_tests || x->n_matched != y->n_matched || x->n_only_a != y->n_only_a ||
        x->n_only_b != y->n_only_b)
        return 0;
    for (size_t i = 0; i < x->n_diffs; i++) {
        const quipu_paired_diff *a = &x->diffs[i], *b = &y->diffs[i];
        if (strcmp(a->benchmark, b->benchmark) || strcmp(a->language, b->language) || strcmp(a->culture, b->culture) ||
            strcmp(a->category, b->category) || strcmp(a->metric, b->metric) || a->n != b->n || !same_note(a->note, b->note))
            return 0;
        if (!same_double(a->value_a, b->value_a) || !same_double(a->value_b, b->value_b) || !same_double(a->diff, b->diff) ||
            !same_double(a->ci_low, b->ci_low) || !same_double(a->ci_high, b->ci_high) || !same_double(a->p_boot, b->p_boot))
            return 0;
    }
    for (size_t i = 0; i < x->n_tests; i++) {
        const quipu_paired_test *a = &x->tests[i], *b = &y->tests[i];
        if (strcmp(a->benchmark, b->benchmark) || strcmp(a->category, b->category) || strcmp(a->decision, b->decision) ||
            a->n != b->n || a->n11 != b->n11 || a->n10 != b->n10 || a->n01 != b->n01 || a->n00 != b->n00 ||
            a->test.exact != b->test.exact || !same_double(a->test.p_value, b->test.p_value) ||
            !same_double(a->test.statistic, b->test.statistic))
            return 0;
    }
    return 1;
}

/* A sweep's comparisons in one call (the baseline prepared once, the draws of a group shared by
 * the runs with the same matched items) give what one comparison at a time gives, bit for bit:
 * 40 runs, so more than one batch of runs shares the draws, and one run with an item fewer,
 * which gets its own groups and draws. */
static void test_compare_many(void)
{
    enum { NR = 40 };
    quipu_item it[NB];
    quipu_item_record ra[NB];
    static quipu_item_record rb[NR][NB];
    make_set(it, ra);
    quipu_run_items a = {it, NB, ra, NB}, b[NR];
    for (int k = 0; k < NR; k++) {
        for (int i = 0; i < NB; i++) {
            double more = -10.0 - (double)((i * (k + 3)) % 11) - 0.25 * k, less = -10.0 - (double)((i * 5 + k) % 13);
            rb[k][i] = pair_rec(i, more, less);
        }
        size_t n = k == 7 ? NB - 1 : NB; /* run 7 lacks the last item */
        b[k] = (quipu_run_items){it, n, k == 13 ? ra : rb[k], n}; /* run 13 is A again */
    }
    quipu_metrics_options o;
    quipu_metrics_options_init(&o);
    o.n_boot = 300;
    quipu_error err = {0};
    static quipu_comparison many[NR];
    CHECK_MSG(quipu_metrics_compare_many(many, &a, b, NR, &o, &err) == QUIPU_OK, "%s", err.msg);
    int differ = 0, nonzero = 0;
    for (int k = 0; k < NR; k++) {
        quipu_comparison one;
        CHECK(quipu_metrics_compare(&one, it, NB, ra, NB, b[k].items, b[k].n_items, b[k].records, b[k].n_records, &o, &err) == QUIPU_OK);
        if (!same_comparison(&one, &many[k])) differ++;
        quipu_comparison_free(&one);
        for (size_t i = 0; i < many[k].n_diffs; i++) nonzero += many[k].diffs[i].diff != 0 && !isnan(many[k].diffs[i].diff);
    }
    CHECK_MSG(differ == 0, "%d of %d runs compared together differ from one comparison at a time", differ, NR);
    CHECK(many[7].n_matched == NB - 1 && many[7].n_only_a == 1 && many[0].n_matched == NB);
    CHECK(nonzero > 0 && !same_comparison(&many[0], &many[1])); /* the runs do differ from A and from each other */
    for (size_t i = 0; i < many[13].n_diffs; i++)
        if (!isnan(many[13].diffs[i].diff)) CHECK(many[13].diffs[i].diff == 0 && many[13].diffs[i].ci_low == 0);
    for (int k = 0; k < NR; k++) quipu_comparison_free(&many[k]);
    /* no runs: nothing to do, and fine */
    CHECK(quipu_metrics_compare_many(many, &a, b, 0, &o, &err) == QUIPU_OK);
}

int main(void)
{
    test_rng();
    test_percentile();
    test_mcnemar();
    test_bootstrap_reproducible();
    test_bootstrap_threads();
    test_bootstrap_known();
    test_compare();
    test_compare_many();
    return test_finish("test_metrics_stats");
}
