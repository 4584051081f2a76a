#define _POSIX_C_SOURCE 200809L
/* test_metrics_assoc.c — the association metrics (docs/metrics.md "Association (SeeGULL)") on
 * items whose scores are made by hand, every expected value worked out from the definition in the
 * comments; the per-template breakdown (docs/metrics.md "Per template") for association and pair
 * items, and its absence for items without templates; the weighted share's edge case; order and
 * thread invariance of the intervals; the paired comparison of two runs; and the outputs (JSON
 * "templates", the CSV's template column). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "testlib.h"

#define NEAR(a, b) (fabs((a) - (b)) <= 1e-12 * (1.0 + fabs(b)))
#define CHECK_NEAR(got, want) CHECK_MSG(NEAR(got, want), "got %.17g, want %.17g", (double)(got), (double)(want))

static quipu_item assoc_item(const char *id, const char *tpl, int n_choices, double weight)
{
    quipu_item it;
    memset(&it, 0, sizeof it);
    it.id = (char *)id;
    it.benchmark = (char *)"sg";
    it.language = (char *)"es-MX";
    it.culture = (char *)"MX";
    it.category = (char *)"";
    it.source = (char *)"test";
    it.kind = QUIPU_ITEM_ASSOC;
    it.n_choices = n_choices;
    it.weight = weight;
    it.template_id = (char *)tpl;
    it.label = it.unknown_choice = it.target_choice = it.other_choice = it.biased_choice = -1;
    return it;
}

/* scores: [0] the stereotyped identity, [1] the neutral subject, [2..] the contrasts */
static quipu_item_record assoc_rec(int64_t idx, int n, const double *lp)
{
    quipu_item_record r;
    memset(&r, 0, sizeof r);
    r.item_index = idx;
    r.n_choices = n;
    for (int i = 0; i < n; i++) {
        r.logprob[i] = lp[i];
        r.n_tokens[i] = 2;
        r.n_bytes[i] = 5;
    }
    return r;
}

static const quipu_metric_result *find_in(const quipu_metric_result *rows, size_t n, const char *tpl, const char *metric)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].metric, metric) && (tpl ? rows[i].template_id && !strcmp(rows[i].template_id, tpl) : !rows[i].template_id) &&
            !strcmp(rows[i].category, "all"))
            return &rows[i];
    fprintf(stderr, "no row %s/%s\n", tpl ? tpl : "(all templates)", metric);
    return NULL;
}

static void check_row(const quipu_metric_result *m, double value, int64_t n)
{
    CHECK(m != NULL);
    if (!m) return;
    CHECK_MSG(NEAR(m->value, value), "%s: got %.17g, want %.17g", m->metric, m->value, value);
    CHECK_MSG(m->n == n, "%s: n %lld, want %lld", m->metric, (long long)m->n, (long long)n);
}

/* Three tuples of one group:
 *   item 1 (template t1, weight 3): s -2, neutral -5, contrasts -3, -1
 *       assoc(s) = -2 - (-5) = 3; s beats -3, loses to -1: 1 win of 2; gap (-2+3) + (-2+1) = 0
 *   item 2 (t1, weight 0): s -4, neutral -4, contrast -6
 *       assoc(s) = 0; 1 win of 1; gap 2
 *   item 3 (t2, weight 1.5): s -1, neutral -2, contrasts -1 (a tie), -2, -0.5
 *       assoc(s) = 1; 1 win of 3 (the tie is not a win); gap 0 + 1 - 0.5 = 0.5
 * All templates: comparisons 2 + 1 + 3 = 6, wins 3:    assoc_pct_stereotype = 100 * 3 / 6 = 50
 *   weighted: (3*1 + 0*1 + 1.5*1) / (3*2 + 0*1 + 1.5*3) = 4.5 / 10.5 -> 42.857142857142857
 *             its n: comparisons of tuples with weight > 0 = 2 + 3 = 5
 *   assoc_mean_stereotype = (3 + 0 + 1) / 3 = 4/3 (n 3 tuples); assoc_mean_gap = 2.5 / 6 (n 6)
 * t1: 2 wins of 3 -> 66.666...; weighted 3 / 6 -> 50 (n 2); mean assoc 1.5 (n 2); gap 2 / 3
 * t2: 1 of 3 -> 33.333...; weighted 1.5 / 4.5 -> 33.333... (n 3); mean assoc 1 (n 1); gap 0.5 / 3 */
static void test_formulas(void)
{
    quipu_item it[3] = {assoc_item("sg:1", "t1", 4, 3.0), assoc_item("sg:2", "t1", 3, 0.0), assoc_item("sg:3", "t2", 5, 1.5)};
    const double lp1[] = {-2, -5, -3, -1}, lp2[] = {-4, -4, -6}, lp3[] = {-1, -2, -1, -2, -0.5};
    quipu_item_record rec[3] = {assoc_rec(0, 4, lp1), assoc_rec(1, 3, lp2), assoc_rec(2, 5, lp3)};
    quipu_metrics_options o;
    quipu_metrics_options_init(&o);
    o.n_boot = 200;
    quipu_metric_results r;
    quipu_error err = {0};
    CHECK_MSG(quipu_metrics_compute(&r, it, 3, rec, 3, &o, &err) == QUIPU_OK, "%s", err.msg);
    CHECK(quipu_metrics_family("sg", &it[0]) == QUIPU_FAMILY_ASSOC);
    CHECK_MSG(r.n_rows == 4, "%zu rows", r.n_rows); /* one group (one culture, no categories) x 4 metrics */
    check_row(find_in(r.rows, r.n_rows, NULL, "assoc_pct_stereotype"), 50.0, 6);
    check_row(find_in(r.rows, r.n_rows, NULL, "assoc_pct_stereotype_offensive"), 100.0 * 4.5 / 10.5, 5);
    check_row(find_in(r.rows, r.n_rows, NULL, "assoc_mean_stereotype"), 4.0 / 3.0, 3);
    check_row(find_in(r.rows, r.n_rows, NULL, "assoc_mean_gap"), 2.5 / 6.0, 6);
    /* intervals: bootstrap over the 3 tuples, each replicate a share of its comparisons */
    const quipu_metric_result *p = find_in(r.rows, r.n_rows, NULL, "assoc_pct_stereotype");
    if (p) CHECK_MSG(p->ci_low <= p->value && p->value <= p->ci_high && p->ci_low >= 100.0 / 3 - 1e-9 && p->ci_high <= 100.0, "[%g, %g] %s", p->ci_low, p->ci_high, p->note ? p->note : "");
    /* per template: 2 templates x 4 metrics, ordered by template id */
    CHECK_MSG(r.n_tpl_rows == 8, "%zu template rows", r.n_tpl_rows);
    if (r.n_tpl_rows == 8) CHECK(!strcmp(r.tpl_rows[0].template_id, "t1") && !strcmp(r.tpl_rows[4].template_id, "t2"));
    check_row(find_in(r.tpl_rows, r.n_tpl_rows, "t1", "assoc_pct_stereotype"), 200.0 / 3.0, 3);
    check_row(find_in(r.tpl_rows, r.n_tpl_rows, "t1", "assoc_pct_stereotype_offensive"), 50.0, 2);
    check_row(find_in(r.tpl_rows, r.n_tpl_rows, "t1", "assoc_mean_stereotype"), 1.5, 2);
    check_row(find_in(r.tpl_rows, r.n_tpl_rows, "t1", "assoc_mean_gap"), 2.0 / 3.0, 3);
    check_row(find_in(r.tpl_rows, r.n_tpl_rows, "t2", "assoc_pct_stereotype"), 100.0 / 3.0, 3);
    check_row(find_in(r.tpl_rows, r.n_tpl_rows, "t2", "assoc_pct_stereotype_offensive"), 100.0 / 3.0, 3);
    check_row(find_in(r.tpl_rows, r.n_tpl_rows, "t2", "assoc_mean_stereotype"), 1.0, 1);
    check_row(find_in(r.tpl_rows, r.n_tpl_rows, "t2", "assoc_mean_gap"), 0.5 / 3.0, 3);
    /* t2 holds one tuple: its three comparisons resample to themselves, so no interval */
    const quipu_metric_result *t2 = find_in(r.tpl_rows, r.n_tpl_rows, "t2", "assoc_pct_stereotype");
    if (t2) CHECK(isnan(t2->ci_low) && t2->note && strstr(t2->note, "single item"));

    /* the same bits in another order and with other thread counts */
    quipu_item it2[3] = {it[2], it[0], it[1]};
    quipu_item_record rec2[3] = {rec[2], rec[0], rec[1]};
    rec2[0].item_index = 0;
    rec2[1].item_index = 1;
    rec2[2].item_index = 2;
    o.threads = 3;
    quipu_metric_results r2;
    CHECK(quipu_metrics_compute(&r2, it2, 3, rec2, 3, &o, &err) == QUIPU_OK);
    int same = r2.n_rows == r.n_rows && r2.n_tpl_rows == r.n_tpl_rows;
    for (size_t i = 0; same && i < r.n_rows; i++)
        same = !memcmp(&r.rows[i].value, &r2.rows[i].value, sizeof(double)) && !memcmp(&r.rows[i].ci_low, &r2.rows[i].ci_low, sizeof(double)) &&
               !memcmp(&r.rows[i].ci_high, &r2.rows[i].ci_high, sizeof(double));
    for (size_t i = 0; same && i < r.n_tpl_rows; i++)
        same = !memcmp(&r.tpl_rows[i].ci_low, &r2.tpl_rows[i].ci_low, sizeof(double)) && !memcmp(&r.tpl_rows[i].ci_high, &r2.tpl_rows[i].ci_high, sizeof(double));
    CHECK_MSG(same, "association results depend on item order or threads");

    /* JSON: a "templates" array after "results", "template" after "category"; CSV: a template column */
    json_t *j = quipu_metric_results_to_json(&r);
    json_t *tp = j ? json_object_get(j, "templates") : NULL;
    CHECK(tp && json_array_size(tp) == 8);
    if (tp && json_array_size(tp)) {
        char *txt = json_dumps(json_array_get(tp, 0), JSON_PRESERVE_ORDER | JSON_COMPACT);
        CHECK_MSG(txt && strstr(txt, "\"category\":\"all\",\"template\":\"t1\",\"metric\":\"assoc_pct_stereotype\""), "%s", txt ? txt : "");
        free(txt);
    }
    json_decref(j);
    char *csv = NULL;
    size_t csv_len = 0;
    FILE *f = open_memstream(&csv, &csv_len);
    CHECK(quipu_metric_results_write_csv(&r, f, &err) == QUIPU_OK);
    fclose(f);
    static const char hdr[] = "benchmark,language,culture,category,metric,value,ci_low,ci_high,n,note,template\n";
    CHECK_MSG(csv && !strncmp(csv, hdr, sizeof hdr - 1), "%.90s", csv ? csv : "");
    CHECK(csv && strstr(csv, "\nsg,es-MX,MX,all,assoc_pct_stereotype,50,") && strstr(csv, "assoc_mean_stereotype,1.5,"));
    free(csv);
    quipu_metric_results_free(&r);
    quipu_metric_results_free(&r2);

    /* token normalisation divides every score by its token count (2 here): item 1's assoc 1.5 */
    o.norm = QUIPU_NORM_TOKEN;
    o.n_boot = 0;
    CHECK(quipu_metrics_compute(&r, it, 1, rec, 1, &o, &err) == QUIPU_OK);
    check_row(find_in(r.rows, r.n_rows, NULL, "assoc_mean_stereotype"), 1.5, 1);
    quipu_metric_results_free(&r);
}

/* Every tuple weighs 0: the weighted share is undefined, with a note; the others stand. */
static void test_zero_weights(void)
{
    quipu_item it[2] = {assoc_item("sg:1", NULL, 3, 0.0), assoc_item("sg:2", NULL, 3, 0.0)};
    const double a[] = {-1, -3, -2}, b[] = {-3, -1, -2};
    quipu_item_record rec[2] = {assoc_rec(0, 3, a), assoc_rec(1, 3, b)};
    quipu_metrics_options o;
    quipu_metrics_options_init(&o);
    o.n_boot = 50;
    quipu_metric_results r;
    quipu_error err = {0};
    CHECK(quipu_metrics_compute(&r, it, 2, rec, 2, &o, &err) == QUIPU_OK);
    const quipu_metric_result *w = find_in(r.rows, r.n_rows, NULL, "assoc_pct_stereotype_offensive");
    CHECK(w && isnan(w->value) && w->n == 0 && w->note && strstr(w->note, "offensiveness"));
    check_row(find_in(r.rows, r.n_rows, NULL, "assoc_pct_stereotype"), 50.0, 2);
    /* assoc(s): -1 - (-3) = 2 and -3 - (-1) = -2 -> mean 0; gaps 1 and -1 -> mean 0 */
    check_row(find_in(r.rows, r.n_rows, NULL, "assoc_mean_stereotype"), 0.0, 2);
    check_row(find_in(r.rows, r.n_rows, NULL, "assoc_mean_gap"), 0.0, 2);
    CHECK(r.n_tpl_rows == 0 && r.tpl_rows == NULL); /* no template ids: no breakdown */
    quipu_metric_results_free(&r);

    /* bad items: too few choices, a negative weight */
    quipu_item bad = assoc_item("sg:9", NULL, 2, 1.0);
    quipu_item_record br = assoc_rec(0, 2, a);
    CHECK(quipu_metrics_compute(&r, &bad, 1, &br, 1, &o, &err) == QUIPU_ERR_INVALID && strstr(err.msg, "contrasts"));
    quipu_error_clear(&err);
    bad = assoc_item("sg:9", NULL, 3, -1.0);
    br = assoc_rec(0, 3, a);
    CHECK(quipu_metrics_compute(&r, &bad, 1, &br, 1, &o, &err) == QUIPU_ERR_INVALID && strstr(err.msg, "weight"));
}

/* Pairs with template ids (what `quipu expand` writes): per-template pct_stereotype by hand.
 * t_a: more wins in 2 of 3 pairs -> 66.67; t_b: 0 of 1 -> 0; all: 2 of 4 -> 50. The rows over all
 * templates are the ones the same items without template ids give, bit for bit. */
static void test_pairs_templates(void)
{
    static const char *ids[4] = {"p:1", "p:2", "p:3", "p:4"}, *tpl[4] = {"t_a", "t_a", "t_b", "t_a"};
    const double more[4] = {-1, -2, -5, -9}, less[4] = {-2, -1, -4, -10};
    quipu_item it[4], plain[4];
    quipu_item_record rec[4];
    for (int i = 0; i < 4; i++) {
        memset(&it[i], 0, sizeof it[i]);
        it[i].id = (char *)ids[i];
        it[i].benchmark = (char *)"tp";
        it[i].language = (char *)"es-CL";
        it[i].culture = (char *)"CL";
        it[i].category = (char *)"origin";
        it[i].source = (char *)"test";
        it[i].kind = QUIPU_ITEM_PAIR;
        it[i].direction = 1;
        it[i].label = it[i].unknown_choice = it[i].target_choice = it[i].other_choice = it[i].biased_choice = -1;
        plain[i] = it[i];
        it[i].template_id = (char *)tpl[i];
        memset(&rec[i], 0, sizeof rec[i]);
        rec[i].item_index = i;
        rec[i].n_choices = 2;
        rec[i].logprob[0] = more[i];
        rec[i].logprob[1] = less[i];
        rec[i].n_tokens[0] = rec[i].n_tokens[1] = rec[i].n_bytes[0] = rec[i].n_bytes[1] = 1;
    }
    quipu_metrics_options o;
    quipu_metrics_options_init(&o);
    o.n_boot = 100;
    quipu_metric_results r, rp;
    quipu_error err = {0};
    CHECK(quipu_metrics_compute(&r, it, 4, rec, 4, &o, &err) == QUIPU_OK);
    CHECK(quipu_metrics_compute(&rp, plain, 4, rec, 4, &o, &err) == QUIPU_OK);
    check_row(find_in(r.tpl_rows, r.n_tpl_rows, "t_a", "pct_stereotype"), 200.0 / 3.0, 3);
    check_row(find_in(r.tpl_rows, r.n_tpl_rows, "t_b", "pct_stereotype"), 0.0, 1);
    CHECK(r.n_tpl_rows == 10 && rp.n_tpl_rows == 0); /* 2 templates x 5 pair metrics; none without ids */
    int same = r.n_rows == rp.n_rows;
    for (size_t i = 0; same && i < r.n_rows; i++)
        same = !strcmp(r.rows[i].metric, rp.rows[i].metric) && !strcmp(r.rows[i].category, rp.rows[i].category) &&
               !memcmp(&r.rows[i].value, &rp.rows[i].value, sizeof(double)) && !memcmp(&r.rows[i].ci_low, &rp.rows[i].ci_low, sizeof(double)) &&
               !memcmp(&r.rows[i].ci_high, &rp.rows[i].ci_high, sizeof(double)) && r.rows[i].n == rp.rows[i].n;
    CHECK_MSG(same, "template ids changed the rows over all templates");
    /* the per-template intervals come from streams of their own, not the all-templates group's */
    const quipu_metric_result *ta = find_in(r.tpl_rows, r.n_tpl_rows, "t_a", "pct_stereotype");
    CHECK(ta && !isnan(ta->ci_low));
    quipu_metric_results_free(&r);
    quipu_metric_results_free(&rp);
}

/* Two runs on the same association items: the paired differences by hand, no McNemar rows. */
static void test_compare(void)
{
    quipu_item it[2] = {assoc_item("sg:1", NULL, 4, 1.0), assoc_item("sg:2", NULL, 3, 1.0)};
    /* run A: item 1 wins 1 of 2, item 2 wins 1 of 1 -> 66.67; run B: item 1 wins 2 of 2, item 2
     * loses -> 66.67; difference 0. Mean assoc(s): A (1 + 2) / 2 = 1.5, B (2 + 0) / 2 = 1 -> -0.5 */
    const double a1[] = {-2, -3, -3, -1}, a2[] = {-1, -3, -2}, b1[] = {-1, -3, -3, -2}, b2[] = {-3, -3, -2};
    quipu_item_record ra[2] = {assoc_rec(0, 4, a1), assoc_rec(1, 3, a2)}, rb[2] = {assoc_rec(0, 4, b1), assoc_rec(1, 3, b2)};
    quipu_metrics_options o;
    quipu_metrics_options_init(&o);
    o.n_boot = 100;
    quipu_comparison c;
    quipu_error err = {0};
    CHECK_MSG(quipu_metrics_compare(&c, it, 2, ra, 2, it, 2, rb, 2, &o, &err) == QUIPU_OK, "%s", err.msg);
    CHECK(c.n_tests == 0 && c.n_diffs == 4);
    for (size_t i = 0; i < c.n_diffs; i++) {
        if (!strcmp(c.diffs[i].metric, "assoc_pct_stereotype")) CHECK_NEAR(c.diffs[i].diff, 0.0);
        if (!strcmp(c.diffs[i].metric, "assoc_mean_stereotype")) CHECK_NEAR(c.diffs[i].diff, -0.5);
    }
    quipu_comparison_free(&c);
}

int main(void)
{
    test_formulas();
    test_zero_weights();
    test_pairs_templates();
    test_compare();
    return test_finish("test_metrics_assoc");
}
