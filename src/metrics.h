/* metrics.h — bias metrics from per-item records, per benchmark × language × culture × category,
 * each with its item count and a seeded percentile-bootstrap confidence interval; paired
 * comparisons of two runs on the same items (McNemar, paired bootstrap). Reads only quipu_item
 * and quipu_item_record (item.h). docs/metrics.md gives every formula, its source, and where
 * quipu differs from lm-evaluation-harness and the benchmarks' own scripts.
 *
 * What the metrics read from an item (the loaders' side of the contract):
 *   pairs   more/less scored as record choice 0 / choice 1; `direction` +1 stereo, -1 antistereo.
 *   MC      `label`; BBQ family: `condition`, `unknown_choice`, `target_choice`, `other_choice`,
 *           `biased_choice`. The base answers come first; a choice at index >= 3 that is neither
 *           the target nor the other answer is an extra wording of "unknown" (lm-eval's 12-choice
 *           BBQ, EsBBQ's 11 choices) and counts as the unknown answer — so an item with
 *           unknown_choice = -1 has no unknown answer at all.
 *   StereoSet  MC items whose `roles` hold exactly one 's', one 'a' and one 'u'.
 * Which extra definitions a benchmark gets follows its name (quipu_metrics_family). */
#ifndef QUIPU_METRICS_H
#define QUIPU_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "item.h"
#include "stats.h"

/* How a choice's log-probability is compared: the raw sum (lm-eval's acc / CrowS-Pairs with a
 * causal LM), per token, or per UTF-8 byte of the choice (lm-eval's acc_bytes). */
typedef enum quipu_score_norm {
    QUIPU_NORM_SUM = 0,
    QUIPU_NORM_TOKEN = 1,
    QUIPU_NORM_BYTE = 2
} quipu_score_norm;
const char *quipu_score_norm_name(quipu_score_norm m); /* "sum", "token", "byte" */
/* Parses "sum" | "token" | "byte"; returns 0 on success, -1 otherwise. */
int quipu_score_norm_parse(const char *s, quipu_score_norm *out);

#define QUIPU_METRICS_DEFAULT_BOOT 1000
#define QUIPU_METRICS_DEFAULT_SEED UINT64_C(20261129)
/* The category of the per benchmark × language × culture row over all categories. */
#define QUIPU_METRICS_ALL_CATEGORIES "all"

typedef struct quipu_metrics_options {
    quipu_score_norm norm;
    int n_boot;        /* bootstrap replicates; 0 = no intervals (ci_* are NaN) */
    uint64_t seed;     /* the run's seed; every bootstrap replicate of every group draws from its
                          own stream derived from it and the group's tags */
    double ci_level;   /* central interval mass, e.g. 0.95 */
    int threads;       /* OpenMP threads over bootstrap replicates; 0 = the runtime's default.
                          Results do not depend on it. */
} quipu_metrics_options;
void quipu_metrics_options_init(quipu_metrics_options *o);

/* Metric families (bit flags): what a group of items gets. */
enum {
    QUIPU_FAMILY_PAIRS = 1u << 0,     /* pct_stereotype*, likelihood_diff */
    QUIPU_FAMILY_MC = 1u << 1,        /* acc */
    QUIPU_FAMILY_BBQ = 1u << 2,       /* acc_ambig, acc_disambig, s_dis, s_amb */
    QUIPU_FAMILY_DIFF_BIAS = 1u << 3, /* EsBBQ/CaBBQ/KoBBQ: bias_score_ambig, bias_score_disambig */
    QUIPU_FAMILY_SESGO = 1u << 4,     /* sesgo_bias_*, ft_minus_fo_* */
    QUIPU_FAMILY_STEREOSET = 1u << 5, /* ss, lms, icat */
    QUIPU_FAMILY_ASSOC = 1u << 6,     /* association items (SeeGULL): assoc_pct_stereotype, ... */
    QUIPU_FAMILY_TEXT = 1u << 7       /* neutral sentences (format: text): loglik_per_token, loglik_per_byte */
};
/* The family of a benchmark from its name and one of its items: pairs → PAIRS; association
 * items → ASSOC; text items → TEXT; MC with
 * StereoSet roles → STEREOSET; MC with a context condition → MC|BBQ, plus DIFF_BIAS for names
 * starting "esbbq", "cabbq", "kobbq" and SESGO for names starting "sesgo"; other MC → MC. */
unsigned quipu_metrics_family(const char *benchmark, const quipu_item *example);

/* Checks what the metrics rely on, before any scoring: tags present, one kind per benchmark,
 * unique ids within a benchmark, choice indices in range, StereoSet roles complete, no item
 * category named QUIPU_METRICS_ALL_CATEGORIES. The first problem is reported as
 * "SOURCE: item ID: problem" (QUIPU_ERR_INVALID). */
quipu_status quipu_metrics_check_items(const quipu_item *items, size_t n_items, quipu_error *err);

/* One metric of one group. Strings are owned by the results; `metric` and `note` are static. */
typedef struct quipu_metric_result {
    char *benchmark, *language, *culture, *category;
    const char *metric;
    double value;            /* NaN when undefined (then `note` says why) */
    double ci_low, ci_high;  /* percentile bootstrap; NaN when n_boot = 0 or value undefined */
    int64_t n;               /* items that enter this metric (e.g. ambiguous items for acc_ambig) */
    const char *note;        /* NULL, or why value or interval is missing */
    char *template_id;       /* NULL; in tpl_rows, the template the row is about */
} quipu_metric_result;

typedef struct quipu_metric_results {
    quipu_metric_result *rows;
    size_t n_rows;
    /* The per-template breakdown (docs/metrics.md "Per template"): for every all-categories group
     * whose items carry template ids, the same metrics over the items of each template, category
     * "all", ordered as the groups, then by template id (byte order). Empty when no item has a
     * template, so that such results are exactly what they were before templates existed. */
    quipu_metric_result *tpl_rows;
    size_t n_tpl_rows;
    /* The spread across templates (docs/metrics.md "Spread across templates"): one row per metric
     * of every all-categories group split into 2+ templates, in group order then metric order.
     * Empty otherwise (results without templates are unchanged). */
    struct quipu_template_spread *spread;
    size_t n_spread;
    int64_t n_scored;    /* items with a record */
    int64_t n_unscored;  /* items without one (not in any metric) */
    quipu_metrics_options opt;
} quipu_metric_results;

/* The spread of one metric across the templates of one all-categories group. Over the T
 * templates whose value is defined: mean (unweighted), min and max (with the template holding
 * each, the first in template-id order on ties), range = max − min, and sd, the sample standard
 * deviation (denominator T − 1). The intervals are percentile intervals of sd and of the range over
 * the bootstrap replicates of the per-template rows: replicate r resamples the items of every
 * template (stratified by template, the templates kept fixed) from the streams that give the
 * per-template intervals, and takes the spread of the T replicate values. NaN (with `note`) when
 * T < 2; intervals NaN when n_boot = 0. Strings are owned by the results; `metric`/`note` static. */
typedef struct quipu_template_spread {
    char *benchmark, *language, *culture; /* category is always "all" */
    const char *metric;
    int64_t n_templates;        /* T: templates with a defined value */
    int64_t n_templates_all;    /* templates of the group, defined or not */
    double mean, sd, min, max, range;
    char *min_template, *max_template; /* NULL when T = 0 */
    double sd_ci_low, sd_ci_high, range_ci_low, range_ci_high;
    const char *note;
} quipu_template_spread;

/* The plain statistics of the spread of x[n] (NaNs skipped, in index order): *t the finite count,
 * mean, sample sd (n − 1; NaN when fewer than 2), min, max and their indices (first on ties; -1
 * when none). Sums run in index order, so the result is bit-reproducible. */
void quipu_spread_stats(const double *x, size_t n, size_t *t, double *mean, double *sd, double *min,
                        double *max, long *imin, long *imax);

/* Computes every applicable metric. records[i] belongs to items[records[i].item_index]; an
 * item has at most one record; items without one are left out (counted in n_unscored). Rows
 * come in a fixed order: groups sorted by benchmark, language, culture, then the all-categories
 * group, then categories (byte order); within a group the family's metrics in the order listed
 * in docs/metrics.md. Items are sorted by id inside each group before resampling, and replicate
 * r of a group draws from a stream seeded from (opt.seed, group tags, r), so the rows are
 * bit-identical for a seed whatever the order of items or records, the rank count, the thread
 * count, or which other groups exist.
 * On error *out is empty. Free with quipu_metric_results_free. */
quipu_status quipu_metrics_compute(quipu_metric_results *out, const quipu_item *items, size_t n_items,
                                   const quipu_item_record *records, size_t n_records,
                                   const quipu_metrics_options *opt, quipu_error *err);
void quipu_metric_results_free(quipu_metric_results *r);

/* The predicted choice of a multiple-choice record under a normalisation: argmax of
 * logprob / (1 | n_tokens | n_bytes), ties to the lowest index. -1 if n_choices < 1. */
int quipu_metrics_predict(const quipu_item_record *rec, quipu_score_norm norm);

/* Output. JSON: {"settings": {...}, "results": [{benchmark, language, culture, category, metric,
 * value, ci_low, ci_high, n[, note]}...][, "templates": [the tpl_rows, "template" after
 * "category"]][, "template_spread": [the spread rows]]}, NaN as null, keys in that order. CSV: a header line
 * then one row per result, RFC 4180 quoting, empty cells for NaN, numbers in the shortest
 * form that reads back to the same double. */
/* CSV cells (RFC 4180): a string quoted when it holds , " CR or LF; a number in the shortest
 * form that reads back to the same double, empty for NaN. Every CSV quipu writes uses these. */
void quipu_csv_write_field(FILE *f, const char *s);
void quipu_csv_write_num(FILE *f, double x);

struct json_t;
struct json_t *quipu_metric_results_to_json(const quipu_metric_results *r); /* NULL on NOMEM */
/* One spread row as JSON: {[model,] benchmark, language, culture, metric, n_templates,
 * n_templates_all, mean, sd, sd_ci_low, sd_ci_high, min, min_template, max, max_template, range,
 * range_ci_low, range_ci_high[, note]}, NaN as null; model NULL leaves it out. NULL on NOMEM. */
struct json_t *quipu_template_spread_to_json(const char *model, const quipu_template_spread *s);

/* Name-swap consistency (docs/metrics.md "Name-swap consistency"; metrics_swap.c): per benchmark ×
 * language × culture × slot, over the items' swap sets (item.h `swap`) with 2+ scored items. */
typedef struct quipu_swap_row {
    char *benchmark, *language, *culture;
    char *slot;               /* the swapped slot: NAME, or SLOT.more / SLOT.less for a pair's differ slot */
    int64_t n_sets, n_items;  /* sets of 2+ items, and the items in them */
    int64_t n_comparisons;    /* item pairs within a set */
    int64_t n_flips;          /* of those, pairs whose decisions differ */
    int64_t n_consistent;     /* sets where every item decides alike */
    double flip_rate;         /* flips / comparisons; NaN when none */
    double ci_low, ci_high;   /* percentile bootstrap over sets (NaN with fewer than 2 sets or no resamples) */
} quipu_swap_row;
/* A pair's decision (1 more, -1 less, 0 tie) or an MC item's (100 target, 101 other, 102 unknown,
 * else the choice index); INT32_MIN when the record has none (a non-finite score). */
int quipu_swap_decision(const quipu_item *it, const quipu_item_record *rec, quipu_score_norm norm);
quipu_status quipu_name_swap(const quipu_item *items, size_t n_items, const quipu_item_record *recs, size_t n_recs,
                             const quipu_metrics_options *mo, quipu_swap_row **out, size_t *n_out, quipu_error *err);
void quipu_swap_rows_free(quipu_swap_row *rows, size_t n);
struct json_t *quipu_swap_row_to_json(const char *model, const quipu_swap_row *x);
quipu_status quipu_metric_results_write_json(const quipu_metric_results *r, const char *path,
                                             quipu_error *err);
quipu_status quipu_metric_results_write_csv(const quipu_metric_results *r, FILE *f, quipu_error *err);
/* One row of that table, after `prefix` (CSV cells already encoded, ending with a comma; "" for
 * none): summary.csv puts the model's cell there. */
void quipu_metric_result_write_csv_row(FILE *f, const char *prefix, const quipu_metric_result *m);
/* The same with a last `template` cell when template_column is 1 (the table of a run whose items
 * carry template ids: empty for the rows over all templates, the template for tpl_rows). */
void quipu_metric_result_write_csv_row_t(FILE *f, const char *prefix, const quipu_metric_result *m, int template_column);

/* ---- paired comparison of two runs on the same items ---------------------------------------
 * Items are matched by (benchmark, id); each side is scored with its own item (a run in lm-eval
 * mode may have 12 choices where the other has 3). Groups take their tags from run A. */

/* Difference B − A of one metric on the matched items of a group, with a paired percentile
 * bootstrap interval (the same resampled items for both runs) and a bootstrap two-sided p
 * (twice the smaller share of replicates on either side of zero, capped at 1). */
typedef struct quipu_paired_diff {
    char *benchmark, *language, *culture, *category;
    const char *metric;
    int64_t n;
    double value_a, value_b, diff, ci_low, ci_high, p_boot;
    const char *note;
} quipu_paired_diff;

/* McNemar on a per-item binary decision of a group: "stereotype" (pairs: more > less;
 * StereoSet: stereotype > anti-stereotype), "correct" (MC with a label), "biased_answer"
 * (BBQ family: the prediction is the biased answer). n11 both runs 1, n10 A 1 and B 0 (= b),
 * n01 A 0 and B 1 (= c), n00 both 0. */
typedef struct quipu_paired_test {
    char *benchmark, *language, *culture, *category;
    const char *decision;
    int64_t n, n11, n10, n01, n00;
    quipu_mcnemar test;
} quipu_paired_test;

typedef struct quipu_comparison {
    quipu_paired_diff *diffs;
    size_t n_diffs;
    quipu_paired_test *tests;
    size_t n_tests;
    int64_t n_matched, n_only_a, n_only_b;
    quipu_metrics_options opt;
} quipu_comparison;

quipu_status quipu_metrics_compare(quipu_comparison *out,
                                   const quipu_item *items_a, size_t n_items_a,
                                   const quipu_item_record *records_a, size_t n_records_a,
                                   const quipu_item *items_b, size_t n_items_b,
                                   const quipu_item_record *records_b, size_t n_records_b,
                                   const quipu_metrics_options *opt, quipu_error *err);
/* Several runs B[0..nb) each compared with one run A: out[i] is what quipu_metrics_compare gives
 * for A and B[i], bit for bit. A is prepared once, and the runs whose matched items and groups
 * are the same (a sweep's models on the same benchmarks) share each group's bootstrap draws, so
 * the resampling and A's side run once for all of them. */
typedef struct quipu_run_items {
    const quipu_item *items;
    size_t n_items;
    const quipu_item_record *records;
    size_t n_records;
} quipu_run_items;
quipu_status quipu_metrics_compare_many(quipu_comparison *out, const quipu_run_items *a, const quipu_run_items *b, size_t nb,
                                        const quipu_metrics_options *opt, quipu_error *err);
void quipu_comparison_free(quipu_comparison *c);
struct json_t *quipu_comparison_to_json(const quipu_comparison *c);
quipu_status quipu_comparison_write_csv(const quipu_comparison *c, FILE *f, quipu_error *err);
/* The rows of that table without its header, each starting with `prefix` (CSV cells already
 * encoded, ending with a comma; "" for none), as `quipu report` writes several comparisons. */
void quipu_comparison_write_csv_rows(const quipu_comparison *c, FILE *f, const char *prefix);

/* The metrics quipu computes, by index from 0 until NULL: name, one line, docs/metrics.md anchor. */
const char *quipu_metric_name(int i);
const char *quipu_metric_about(int i);
const char *quipu_metric_doc(int i);

#endif
