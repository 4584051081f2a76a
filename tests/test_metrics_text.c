#define _POSIX_C_SOURCE 200809L
/* test_metrics_text.c — the neutral likelihood metrics (docs/metrics.md "Neutral likelihood") on
 * text items whose scores are made by hand: loglik_per_token = Σ log-prob / Σ tokens and
 * loglik_per_byte = Σ log-prob / Σ bytes per language × culture, their bootstrap intervals
 * recomputed here draw by draw (the same streams, the ratio of each resample's totals), the paired
 * comparison of two runs (the change, its paired interval, no McNemar row), a zero-effect variant
 * (change exactly 0, interval [0, 0], p 1), a single sentence (no interval) and bad records. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "stats.h"
#include "testlib.h"

#define NEAR(a, b) (fabs((a) - (b)) <= 1e-12 * (1.0 + fabs(b)))

static quipu_item text_item(const char *id, const char *lang, const char *culture)
{
    quipu_item it;
    memset(&it, 0, sizeof it);
    it.id = (char *)id;
    it.benchmark = (char *)"neutral";
    it.language = (char *)lang;
    it.culture = (char *)culture;
    it.category = (char *)"";
    it.source = (char *)"test";
    it.kind = QUIPU_ITEM_TEXT;
    it.n_choices = 1;
    it.label = it.unknown_choice = it.target_choice = it.other_choice = it.biased_choice = -1;
    return it;
}

static quipu_item_record text_rec(int64_t idx, double lp, int tok, int bytes)
{
    quipu_item_record r;
    memset(&r, 0, sizeof r);
    r.item_index = idx;
    r.n_choices = 1;
    r.logprob[0] = lp;
    r.n_tokens[0] = tok;
    r.n_bytes[0] = bytes;
    return r;
}

static const quipu_metric_result *find(const quipu_metric_results *r, const char *lang, const char *metric)
{
    for (size_t i = 0; i < r->n_rows; i++)
        if (!strcmp(r->rows[i].metric, metric) && !strcmp(r->rows[i].language, lang) && !strcmp(r->rows[i].category, "all"))
            return &r->rows[i];
    fprintf(stderr, "no row %s/%s\n", lang, metric);
    return NULL;
}

static const quipu_paired_diff *find_diff(const quipu_comparison *c, const char *lang, const char *metric)
{
    for (size_t i = 0; i < c->n_diffs; i++)
        if (!strcmp(c->diffs[i].metric, metric) && !strcmp(c->diffs[i].language, lang) && !strcmp(c->diffs[i].category, "all"))
            return &c->diffs[i];
    fprintf(stderr, "no diff %s/%s\n", lang, metric);
    return NULL;
}

/* The group's stream key (docs/metrics.md "Confidence intervals"): FNV-1a of
 * benchmark␟language␟culture␟category. */
static uint64_t group_key(const char *b, const char *l, const char *c, const char *cat)
{
    uint64_t h = QUIPU_HASH64_INIT;
    h = quipu_hash64_sep(quipu_hash64_str(h, b));
    h = quipu_hash64_sep(quipu_hash64_str(h, l));
    h = quipu_hash64_sep(quipu_hash64_str(h, c));
    return quipu_hash64_str(h, cat);
}

/* The interval of Σ lp / Σ den over B resamples of the n entries (sorted by id), redone here:
 * replicate r draws n indices from the stream quipu_seed_mix(seed, r) and sums in draw order.
 * With lp_b non-NULL the statistic is the paired difference (Σ lp_b − ... ) as the comparison
 * computes it: ratio of B's totals minus ratio of A's. */
static void redo_interval(const double *lp, const double *lp_b, const double *den, size_t n, size_t B, uint64_t seed,
                          double *lo, double *hi)
{
    double *reps = malloc(B * sizeof *reps);
    for (size_t r = 0; r < B; r++) {
        quipu_rng rng;
        quipu_rng_seed(&rng, quipu_seed_mix(seed, (uint64_t)r));
        double sa = 0, sb = 0, sd = 0;
        for (size_t i = 0; i < n; i++) {
            size_t k = (size_t)quipu_rng_below(&rng, n);
            sa += lp[k];
            if (lp_b) sb += lp_b[k];
            sd += den[k];
        }
        reps[r] = lp_b ? sb / sd - sa / sd : sa / sd;
    }
    size_t k = quipu_sort_finite(reps, B);
    *lo = quipu_percentile_sorted(reps, k, 0.025);
    *hi = quipu_percentile_sorted(reps, k, 0.975);
    free(reps);
}

int main(void)
{
    /* Run A. en-US/US, three sentences (ids sorted: a, b, c):
     *   a: log-prob -6 over 3 tokens, 10 bytes
     *   b: log-prob -4 over 1 token,   5 bytes
     *   c: log-prob -10 over 4 tokens, 15 bytes
     *   loglik_per_token = (-6 - 4 - 10) / (3 + 1 + 4) = -20 / 8 = -2.5   (not the mean of -2, -4, -2.5)
     *   loglik_per_byte  = -20 / (10 + 5 + 15) = -20 / 30 = -0.666...
     * fr-FR/FR, one sentence d: -3 over 2 tokens, 6 bytes: -1.5 per token, -0.5 per byte, no interval.
     * Run B (a variant): b scores -2 instead of -4, the rest as A:
     *   en-US: per token -18 / 8 = -2.25, change +0.25; per byte -18 / 30 = -0.6, change +0.0666...
     *   every resample changes Σ lp by +2 per draw of b and never lowers it: the paired interval
     *   lies in [0, 2 / Σ tokens of the draw], so its low end is 0 or above. */
    quipu_item items[4] = {text_item("a", "en-US", "US"), text_item("b", "en-US", "US"), text_item("c", "en-US", "US"),
                           text_item("d", "fr-FR", "FR")};
    /* records in another order than the items: the metrics must not care */
    quipu_item_record ra[4] = {text_rec(2, -10, 4, 15), text_rec(0, -6, 3, 10), text_rec(3, -3, 2, 6), text_rec(1, -4, 1, 5)};
    quipu_item_record rb[4] = {text_rec(2, -10, 4, 15), text_rec(0, -6, 3, 10), text_rec(3, -3, 2, 6), text_rec(1, -2, 1, 5)};
    quipu_metrics_options opt;
    quipu_metrics_options_init(&opt);
    opt.n_boot = 200;
    quipu_error e = {0};
    CHECK(quipu_metrics_family("neutral", &items[0]) == QUIPU_FAMILY_TEXT);

    quipu_metric_results r;
    CHECK(quipu_metrics_compute(&r, items, 4, ra, 4, &opt, &e) == QUIPU_OK);
    const quipu_metric_result *t = find(&r, "en-US", "loglik_per_token"), *b = find(&r, "en-US", "loglik_per_byte");
    CHECK(t && t->value == -2.5 && t->n == 3 && !t->note);
    CHECK(b && NEAR(b->value, -20.0 / 30.0) && b->n == 3);
    /* the interval, redone draw by draw from the documented streams */
    double lp[3] = {-6, -4, -10}, lpb[3] = {-6, -2, -10}, tok[3] = {3, 1, 4}, byt[3] = {10, 5, 15}, lo, hi;
    uint64_t seed = quipu_seed_mix(opt.seed, group_key("neutral", "en-US", "US", "all"));
    redo_interval(lp, NULL, tok, 3, 200, seed, &lo, &hi);
    CHECK_MSG(t && t->ci_low == lo && t->ci_high == hi, "token CI [%.17g, %.17g], redone [%.17g, %.17g]", t ? t->ci_low : NAN,
              t ? t->ci_high : NAN, lo, hi);
    CHECK(t && t->ci_low >= -4 && t->ci_high <= -2); /* a ratio of totals stays within the items' own ratios */
    redo_interval(lp, NULL, byt, 3, 200, seed, &lo, &hi);
    CHECK(b && b->ci_low == lo && b->ci_high == hi);
    const quipu_metric_result *f = find(&r, "fr-FR", "loglik_per_token");
    CHECK(f && f->value == -1.5 && f->n == 1 && isnan(f->ci_low) && f->note && strstr(f->note, "single item"));
    f = find(&r, "fr-FR", "loglik_per_byte");
    CHECK(f && f->value == -0.5);
    /* the cross-culture group: language "all", culture "all": -23 / 10 tokens, -23 / 36 bytes */
    f = find(&r, "all", "loglik_per_token");
    CHECK(f && f->value == -2.3 && f->n == 4);
    quipu_metric_results_free(&r);

    /* the change B − A, paired */
    quipu_comparison c;
    CHECK(quipu_metrics_compare(&c, items, 4, ra, 4, items, 4, rb, 4, &opt, &e) == QUIPU_OK);
    const quipu_paired_diff *d = find_diff(&c, "en-US", "loglik_per_token");
    CHECK(d && d->value_a == -2.5 && d->value_b == -2.25 && d->diff == 0.25 && d->n == 3);
    uint64_t pseed = quipu_seed_mix(opt.seed ^ UINT64_C(0x70616972656421), group_key("neutral", "en-US", "US", "all"));
    redo_interval(lp, lpb, tok, 3, 200, pseed, &lo, &hi);
    CHECK_MSG(d && d->ci_low == lo && d->ci_high == hi, "paired CI [%.17g, %.17g], redone [%.17g, %.17g]", d ? d->ci_low : NAN,
              d ? d->ci_high : NAN, lo, hi);
    /* a resample with k draws of b gains 2k over at least k tokens: 0 <= change <= 2 */
    CHECK(d && d->ci_low >= 0 && d->ci_high <= 2.0);
    d = find_diff(&c, "en-US", "loglik_per_byte");
    CHECK(d && NEAR(d->diff, -18.0 / 30.0 - (-20.0 / 30.0)));
    CHECK(c.n_tests == 0); /* sentences have no binary decision: no McNemar row */
    quipu_comparison_free(&c);

    /* a zero-effect variant: the same scores; change exactly 0, interval [0, 0], p 1 */
    CHECK(quipu_metrics_compare(&c, items, 4, ra, 4, items, 4, ra, 4, &opt, &e) == QUIPU_OK);
    for (size_t i = 0; i < c.n_diffs; i++) {
        const quipu_paired_diff *z = &c.diffs[i];
        if (z->n < 2) continue; /* fr-FR: one sentence */
        CHECK_MSG(z->diff == 0 && z->ci_low == 0 && z->ci_high == 0 && z->p_boot == 1, "%s %s: %g [%g, %g] p %g", z->language,
                  z->metric, z->diff, z->ci_low, z->ci_high, z->p_boot);
    }
    quipu_comparison_free(&c);

    /* bad records: a sentence scored over no tokens; an item with two sentences */
    quipu_item_record bad[1] = {text_rec(0, -1, 0, 3)};
    CHECK(quipu_metrics_compute(&r, items, 1, bad, 1, &opt, &e) == QUIPU_ERR_INVALID);
    CHECK_MSG(strstr(e.msg, "a text item scored over 0 tokens"), "%s", e.msg);
    quipu_item two = text_item("x", "en", "US");
    two.n_choices = 2;
    memset(&e, 0, sizeof e);
    CHECK(quipu_metrics_check_items(&two, 1, &e) == QUIPU_ERR_INVALID);
    CHECK_MSG(strstr(e.msg, "a text item has its one sentence"), "%s", e.msg);
    return test_finish("test_metrics_text");
}
