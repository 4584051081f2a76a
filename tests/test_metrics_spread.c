/* test_metrics_spread.c — the spread of a metric across templates (docs/metrics.md "Spread across
 * templates"): the plain statistics on hand-made values (the arithmetic in the comments), the
 * spread rows of quipu_metrics_compute on pairs from three templates, their intervals against the
 * per-template rows' own replicates (n_boot = 1), order independence, and when no rows appear. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "testlib.h"

#define NEAR(a, b) (fabs((a) - (b)) <= 1e-12 * (1.0 + fabs(b)))
#define CHECK_NEAR(got, want) CHECK_MSG(NEAR(got, want), "got %.17g, want %.17g", (double)(got), (double)(want))

static void test_stats(void)
{
    size_t t;
    double mean, sd, lo, hi;
    long il, ih;
    /* mean 40/8 = 5; squared deviations 9+1+1+1+0+0+4+16 = 32; sample variance 32/7 */
    const double a[] = {2, 4, 4, 4, 5, 5, 7, 9};
    quipu_spread_stats(a, 8, &t, &mean, &sd, &lo, &hi, &il, &ih);
    CHECK(t == 8);
    CHECK_NEAR(mean, 5.0);
    CHECK_NEAR(sd, 2.1380899352993950); /* sqrt(32/7) */
    CHECK(lo == 2.0 && il == 0 && hi == 9.0 && ih == 7);
    /* NaN skipped: {3, 1, 3}: mean 7/3, deviations (2/3)², (4/3)², (2/3)² sum 24/9, variance 12/9;
     * the max 3 is at index 1 first (ties go to the first) */
    const double b[] = {NAN, 3, 1, 3};
    quipu_spread_stats(b, 4, &t, &mean, &sd, &lo, &hi, &il, &ih);
    CHECK(t == 3);
    CHECK_NEAR(mean, 7.0 / 3.0);
    CHECK_NEAR(sd, 1.1547005383792515); /* sqrt(4/3) */
    CHECK(lo == 1.0 && il == 2 && hi == 3.0 && ih == 1);
    /* one value: no sd; none: nothing */
    const double c[] = {NAN, 5};
    quipu_spread_stats(c, 2, &t, &mean, &sd, &lo, &hi, &il, &ih);
    CHECK(t == 1 && mean == 5.0 && isnan(sd) && lo == 5.0 && hi == 5.0 && il == 1 && ih == 1);
    quipu_spread_stats(c, 1, &t, &mean, &sd, &lo, &hi, &il, &ih);
    CHECK(t == 0 && isnan(mean) && isnan(sd) && isnan(lo) && isnan(hi) && il == -1 && ih == -1);
    /* a constant whose mean is exact: sd exactly 0 (two passes; sum(x²) − n·mean² need not be) */
    const double d[] = {0.25, 0.25, 0.25};
    quipu_spread_stats(d, 3, &t, &mean, &sd, &lo, &hi, &il, &ih);
    CHECK(sd == 0.0);
}

/* Ten stereo pairs (direction +1) in templates a (4 items, 3 won by `more`), b (2 items, 1 won)
 * and c (4 items, 1 won), every |Δ| = 1; item z of benchmark "one" has a single template. */
#define N_IT 12
static const char *const ids[N_IT] = {"a1", "a2", "a3", "a4", "b1", "b2", "c1", "c2", "c3", "c4", "z1", "z2"};
static const char *const tpl[N_IT] = {"a", "a", "a", "a", "b", "b", "c", "c", "c", "c", "z", "z"};
static const int wins[N_IT] = {1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0};

static void make(quipu_item *it, quipu_item_record *rec, int reversed, int with_templates)
{
    for (int k = 0; k < N_IT; k++) {
        int i = reversed ? N_IT - 1 - k : k;
        memset(&it[k], 0, sizeof it[k]);
        it[k].id = (char *)ids[i];
        it[k].benchmark = (char *)(i < 10 ? "tp" : "one");
        it[k].language = (char *)"es-CL";
        it[k].culture = (char *)"CL";
        it[k].category = (char *)"x";
        it[k].source = (char *)"test";
        it[k].kind = QUIPU_ITEM_PAIR;
        it[k].direction = 1;
        it[k].label = it[k].unknown_choice = it[k].target_choice = it[k].other_choice = it[k].biased_choice = -1;
        it[k].template_id = with_templates ? (char *)tpl[i] : NULL;
        memset(&rec[k], 0, sizeof rec[k]);
        rec[k].item_index = k;
        rec[k].n_choices = 2;
        rec[k].logprob[0] = wins[i] ? -1.0 : -2.0;
        rec[k].logprob[1] = wins[i] ? -2.0 : -1.0;
        rec[k].n_tokens[0] = rec[k].n_tokens[1] = rec[k].n_bytes[0] = rec[k].n_bytes[1] = 1;
    }
}

static const quipu_template_spread *spread_of(const quipu_metric_results *r, const char *metric)
{
    for (size_t i = 0; i < r->n_spread; i++)
        if (!strcmp(r->spread[i].metric, metric)) return &r->spread[i];
    return NULL;
}

static const quipu_metric_result *tpl_row(const quipu_metric_results *r, const char *t, const char *metric)
{
    for (size_t i = 0; i < r->n_tpl_rows; i++)
        if (!strcmp(r->tpl_rows[i].template_id, t) && !strcmp(r->tpl_rows[i].metric, metric)) return &r->tpl_rows[i];
    return NULL;
}

static void test_compute(void)
{
    quipu_item it[N_IT];
    quipu_item_record rec[N_IT];
    quipu_metrics_options o;
    quipu_metrics_options_init(&o);
    o.n_boot = 0;
    quipu_error err = {0};
    quipu_metric_results r;
    make(it, rec, 0, 1);
    CHECK(quipu_metrics_compute(&r, it, N_IT, rec, N_IT, &o, &err) == QUIPU_OK);
    /* one group with 3 templates (benchmark "one" has a single template: no rows): 5 pair metrics */
    CHECK_MSG(r.n_spread == 5, "n_spread %zu", r.n_spread);
    const quipu_template_spread *s = spread_of(&r, "pct_stereotype");
    CHECK(s != NULL);
    if (s) {
        /* 75, 50, 25: mean 50, sd sqrt((25² + 0 + 25²)/2) = 25, range 50 */
        CHECK(!strcmp(s->benchmark, "tp") && !strcmp(s->language, "es-CL") && !strcmp(s->culture, "CL"));
        CHECK(s->n_templates == 3 && s->n_templates_all == 3);
        CHECK_NEAR(s->mean, 50.0);
        CHECK_NEAR(s->sd, 25.0);
        CHECK_NEAR(s->range, 50.0);
        CHECK(s->min == 25.0 && !strcmp(s->min_template, "c") && s->max == 75.0 && !strcmp(s->max_template, "a"));
        CHECK(isnan(s->sd_ci_low) && isnan(s->range_ci_high) && !s->note);
    }
    /* every |Δ| is 1: the same likelihood_diff in every template */
    s = spread_of(&r, "likelihood_diff");
    CHECK(s && s->sd == 0.0 && s->range == 0.0 && s->mean == 1.0);
    /* no antistereo pairs: undefined in every template */
    s = spread_of(&r, "pct_stereotype_antistereo");
    CHECK(s && s->n_templates == 0 && s->n_templates_all == 3 && isnan(s->sd) && isnan(s->min) && !s->min_template && s->note);
    json_t *j = quipu_metric_results_to_json(&r);
    CHECK(j && json_array_size(json_object_get(j, "template_spread")) == 5);
    json_decref(j);
    quipu_metric_results_free(&r);

    /* n_boot = 1: each template's interval is its single replicate, so the spread's interval is
     * the sd (range) of the templates' ci_low */
    o.n_boot = 1;
    CHECK(quipu_metrics_compute(&r, it, N_IT, rec, N_IT, &o, &err) == QUIPU_OK);
    s = spread_of(&r, "pct_stereotype");
    const quipu_metric_result *ta = tpl_row(&r, "a", "pct_stereotype"), *tb = tpl_row(&r, "b", "pct_stereotype"),
                              *tc = tpl_row(&r, "c", "pct_stereotype");
    CHECK(s && ta && tb && tc);
    if (s && ta && tb && tc) {
        double x[3] = {ta->ci_low, tb->ci_low, tc->ci_low}, mean, sd, lo, hi;
        size_t t;
        long il, ih;
        quipu_spread_stats(x, 3, &t, &mean, &sd, &lo, &hi, &il, &ih);
        CHECK(t == 3 && s->sd_ci_low == sd && s->sd_ci_high == sd);
        CHECK(s->range_ci_low == hi - lo && s->range_ci_high == hi - lo);
    }
    quipu_metric_results_free(&r);

    /* B = 200: the same bits whatever the order of the items */
    o.n_boot = 200;
    quipu_metric_results r2;
    CHECK(quipu_metrics_compute(&r, it, N_IT, rec, N_IT, &o, &err) == QUIPU_OK);
    make(it, rec, 1, 1);
    CHECK(quipu_metrics_compute(&r2, it, N_IT, rec, N_IT, &o, &err) == QUIPU_OK);
    CHECK(r.n_spread == r2.n_spread);
    for (size_t i = 0; i < r.n_spread && i < r2.n_spread; i++) {
        const quipu_template_spread *p = &r.spread[i], *q = &r2.spread[i];
        CHECK(!strcmp(p->metric, q->metric));
        CHECK(memcmp(&p->sd_ci_low, &q->sd_ci_low, sizeof(double)) == 0 && memcmp(&p->sd_ci_high, &q->sd_ci_high, sizeof(double)) == 0);
        CHECK(memcmp(&p->range_ci_low, &q->range_ci_low, sizeof(double)) == 0 && memcmp(&p->sd, &q->sd, sizeof(double)) == 0);
    }
    s = spread_of(&r, "pct_stereotype");
    CHECK(s && isfinite(s->sd_ci_low) && s->sd_ci_low <= s->sd_ci_high && s->sd_ci_low >= 0.0);
    CHECK(s && isfinite(s->range_ci_low) && s->range_ci_low <= s->range_ci_high);
    quipu_metric_results_free(&r);
    quipu_metric_results_free(&r2);

    /* no template ids: no spread, no key */
    make(it, rec, 0, 0);
    CHECK(quipu_metrics_compute(&r, it, N_IT, rec, N_IT, &o, &err) == QUIPU_OK);
    CHECK(r.n_spread == 0 && r.spread == NULL);
    j = quipu_metric_results_to_json(&r);
    CHECK(j && !json_object_get(j, "template_spread"));
    json_decref(j);
    quipu_metric_results_free(&r);
}

int main(void)
{
    test_stats();
    test_compute();
    return test_finish("test_metrics_spread");
}
