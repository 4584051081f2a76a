/* metrics_internal.h — what metrics.c, metrics_compare.c and metrics_io.c share: the per-item
 * outcome (everything a metric needs from one scored item, computed once), the additive
 * accumulator the metrics are functions of, the metric table, and grouping. Not a public API. */
#ifndef QUIPU_METRICS_INTERNAL_H
#define QUIPU_METRICS_INTERNAL_H

#include "metrics.h"

/* The metrics, in output order within a group. */
typedef enum mx_metric {
    MX_PCT_STEREOTYPE,
    MX_PCT_STEREOTYPE_STEREO,
    MX_PCT_STEREOTYPE_ANTISTEREO,
    MX_PCT_NEUTRAL,
    MX_LIKELIHOOD_DIFF,
    MX_ACC,
    MX_ACC_AMBIG,
    MX_ACC_DISAMBIG,
    MX_S_DIS,
    MX_S_AMB,
    MX_BIAS_SCORE_AMBIG,
    MX_BIAS_SCORE_DISAMBIG,
    MX_SESGO_BIAS_AMBIG,
    MX_SESGO_BIAS_DISAMBIG,
    MX_FT_MINUS_FO_AMBIG,
    MX_FT_MINUS_FO_DISAMBIG,
    MX_SS,
    MX_LMS,
    MX_ICAT,
    MX_ASSOC_PCT_STEREOTYPE,
    MX_ASSOC_PCT_STEREOTYPE_OFFENSIVE,
    MX_ASSOC_MEAN_STEREOTYPE,
    MX_ASSOC_MEAN_GAP,
    MX_LOGLIK_PER_TOKEN,
    MX_LOGLIK_PER_BYTE,
    MX_N_METRICS
} mx_metric;

typedef struct mx_metric_info {
    const char *name;
    unsigned family;   /* the QUIPU_FAMILY_* bit that brings it */
    const char *about; /* one line for `quipu list metrics` */
    const char *doc;   /* its section of docs/metrics.md */
} mx_metric_info;
extern const mx_metric_info mx_metrics[MX_N_METRICS];

/* Number of metrics a family has (rows per group). */
size_t mx_family_count(unsigned family);

enum { MX_KIND_PAIR = 1, MX_KIND_MC = 2, MX_KIND_STEREOSET = 3, MX_KIND_ASSOC = 4, MX_KIND_TEXT = 5 };
enum {
    MX_F_MORE_WINS = 1u << 0,  /* pairs: score(more) > score(less) */
    MX_F_TIE = 1u << 1,        /* pairs: equal scores */
    MX_F_HAS_LABEL = 1u << 2,  /* MC */
    MX_F_CORRECT = 1u << 3,
    MX_F_NONUNK = 1u << 4,     /* the prediction is not an "unknown" answer */
    MX_F_BIASED = 1u << 5,     /* the prediction is biased_choice */
    MX_F_BIASED_MASK = 1u << 11, /* the prediction is in biased_mask (lm-eval's BBQ rule) */
    MX_F_PRO_Q = 1u << 6,      /* disambiguated, gold answer = biased answer (pro-stereotypical) */
    MX_F_ANTI_Q = 1u << 7,     /* disambiguated, gold answer = the other group (anti-stereotypical) */
    MX_F_S_GT_A = 1u << 8,     /* StereoSet: stereotype > anti-stereotype */
    MX_F_S_GT_U = 1u << 9,
    MX_F_A_GT_U = 1u << 10,
    MX_F_W_POS = 1u << 12      /* association: the tuple's offensiveness weight is > 0 */
};

typedef struct mx_outcome {
    uint16_t flags;
    uint8_t kind;
    uint8_t cond;      /* quipu_condition */
    int8_t direction;  /* pairs */
    uint32_t term;     /* StereoSet: index of the item's target term (`group`) in its benchmark */
    double absdiff;    /* pairs: |score(more) − score(less)| */
    /* association (docs/metrics.md "Association"): comparisons of the stereotyped identity with
     * its k contrasts, those it wins and ties; the weight; assoc(s); the sum over the contrasts
     * of assoc(s) − assoc(o) */
    uint8_t as_k, as_wins, as_ties;
    double as_w, as_s, as_gap;
    /* text (neutral sentences): the sentence's log-likelihood, tokens and UTF-8 bytes */
    double tx_lp;
    int32_t tx_tok, tx_bytes;
} mx_outcome;

/* Fills *o from one item and its record; checks the record against the item (choice count,
 * normaliser > 0, finite log-probs). `family` is the benchmark's. */
quipu_status mx_outcome_make(mx_outcome *o, const quipu_item *it, const quipu_item_record *rec,
                             unsigned family, quipu_score_norm norm, quipu_error *err);

typedef struct mx_accum {
    int64_t n;
    int64_t more_wins, ties, n_stereo, wins_stereo, n_anti, wins_anti;
    double sum_absdiff;
    int64_t n_labeled, n_correct;
    /* by condition: [QUIPU_COND_NONE, _AMBIG, _DISAMBIG] */
    int64_t c_n[3], c_correct[3], c_nonunk[3], c_biased[3], c_wrong_biased[3], c_wrong_counter[3];
    int64_t pro_n, pro_correct, anti_n, anti_correct;
    int64_t c_biased_mask[3];
    int64_t s_gt_a, s_gt_u, a_gt_u;
    /* association: items, comparisons, wins, ties, comparisons of weighted tuples (weight > 0);
     * the sums of weight·wins, weight·comparisons, assoc(s), assoc(s) − assoc(o) */
    int64_t as_n, as_k, as_wins, as_ties, as_k_w;
    double as_w_wins, as_w_k, as_sum_s, as_sum_gap;
    /* text: sentences; the sums of their log-likelihoods, tokens and bytes (integers held exactly) */
    int64_t tx_n;
    double tx_sum_lp, tx_sum_tok, tx_sum_bytes;
    /* StereoSet, per target term t: term3[3t] items, [3t+1] stereotype > anti-stereotype,
     * [3t+2] meaningful > unrelated (0..2 per item); NULL for other families */
    int64_t *term3;
    size_t n_terms;
} mx_accum;

/* 0, or -1 when out of memory; n_terms 0 for no per-term counts. */
int mx_accum_init(mx_accum *a, size_t n_terms);
void mx_accum_reset(mx_accum *a); /* zero, keeping the term array */
void mx_accum_free(mx_accum *a);
void mx_accum_add(mx_accum *a, const mx_outcome *o);
/* k copies of o, leaving sum_absdiff and the association and text sums alone (the resampler sums
 * them in draw order itself). */
void mx_accum_add_n(mx_accum *a, const mx_outcome *o, int64_t k);

/* Resampling by outcome class: the n entries of a group fall into a few classes of equal
 * outcome (all but |Δ|), so a draw is one counter increment plus, for pairs, one addition of
 * |Δ| in draw order — the same sums, in the same order, as adding the drawn outcomes. */
typedef struct mx_classes {
    size_t n, n_classes;
    uint32_t *cls;      /* [n] class of entry i */
    double *absdiff;    /* [n] |Δ| of entry i (pairs; else 0) */
    mx_outcome *rep;    /* [n_classes] one outcome of each class */
    size_t n_terms;     /* StereoSet: 1 + the largest term index; else 0 */
    int has_absdiff;
    double *as_x;       /* association: [4n] weight·wins, weight·k, assoc(s), gap of entry i; else NULL */
    double *tx_x;       /* text: [3n] log-likelihood, tokens, bytes of entry i; else NULL */
} mx_classes;
/* Classes of po[n] (the group's outcomes in entry order); 0 or -1 (memory). */
int mx_classes_build(mx_classes *c, const mx_outcome *const *po, size_t n, unsigned family);
void mx_classes_free(mx_classes *c);

/* B bootstrap replicates of every metric of `family` on `sides` class sets of the same n entries
 * that share their draws (1; 2 for a paired comparison; 1 + k for one run A compared with k
 * runs): reps[s][m·B + r]. Each side's sums are made in draw order, so a side's replicates do
 * not depend on which other sides share the draws. Replicate r draws from its own stream,
 * seeded by quipu_seed_mix(seed, r), so replicates run in parallel (threads; 0 = OpenMP's
 * default) and the result does not depend on how many. 0 or -1. */
int mx_bootstrap(const mx_classes *cl, int sides, unsigned family, size_t B, uint64_t seed, int threads,
                 double *const *reps);
/* Every metric of `family` from an accumulator: val[m] (NaN when undefined, with note[m]) and
 * n[m]; entries of other families are left untouched. */
void mx_eval(const mx_accum *a, unsigned family, double *val, int64_t *n, const char **note);

/* Grouping. An entry is one scored item (or one matched pair of items) keyed by `item`'s tags
 * and id; `ref` indexes the caller's outcome arrays. */
typedef struct mx_entry {
    const quipu_item *item;
    size_t ref;
} mx_entry;

typedef struct mx_group {
    const char *benchmark, *language, *culture, *category; /* borrowed from the items */
    const char *template_id; /* NULL, or the template of a per-template group */
    const mx_entry *e;  /* n entries sorted by item id */
    size_t n;
    unsigned family;
    size_t row0;        /* first output row of this group */
} mx_group;

typedef struct mx_grouping {
    mx_entry *by_all;   /* entries sorted by benchmark, language, culture, id */
    mx_entry *by_cat;   /* entries sorted by benchmark, language, culture, category, id */
    mx_group *groups;
    size_t n_groups;
} mx_grouping;

/* Builds the groups (all-categories group first, then categories, in byte order) from entries;
 * family_of_ref[] gives each entry's benchmark family (indexed by ref). */
quipu_status mx_grouping_build(mx_grouping *g, const mx_entry *entries, size_t n,
                               const unsigned *family_of_ref, quipu_error *err);
void mx_grouping_free(mx_grouping *g);

/* Checks items and records and computes one outcome per record: *oc (outcome of record r),
 * *fam (the family of its benchmark), *ent (entry r: its item, ref = r). Caller frees the three. */
quipu_status mx_prepare(const quipu_item *items, size_t n_items, const quipu_item_record *records,
                        size_t n_records, quipu_score_norm norm, mx_outcome **oc, unsigned **fam,
                        mx_entry **ent, quipu_error *err);
quipu_status mx_check_options(const quipu_metrics_options *o, quipu_error *err);

/* Tags as strings (NULL reads as ""). */
static inline const char *mx_str(const char *s) { return s ? s : ""; }
/* StereoSet: 1 + the largest term index among the group's outcomes (oc[ref_map ? ref_map[ref]
 * : ref]); 0 for other families. */
size_t mx_group_terms(const mx_group *g, const mx_outcome *oc, const size_t *ref_map);
/* The stream key of a group: hash of its four tags (and its template, for a per-template group). */
uint64_t mx_group_key(const mx_group *g);

/* The spread rows of one all-categories group split into n_t >= 2 templates (metrics_spread.c):
 * tg[n_t] its per-template groups in template-id order, `rows` the tpl_rows they filled, reps[k]
 * the unsorted bootstrap replicates of template k as mx_bootstrap lays them out (reps NULL when
 * B = 0). Fills out[0 .. mx_family_count(family)), one row per metric. 0 or -1 (memory). */
int mx_spread_group(quipu_template_spread *out, const mx_group *tg, size_t n_t, const quipu_metric_result *rows,
                    double *const *reps, size_t B, double level);
void mx_spread_rows_free(quipu_template_spread *rows, size_t n);

/* Copies the four tags of a group into freshly allocated strings; 0 on success. */
int mx_copy_tags(const mx_group *g, char **b, char **l, char **c, char **cat);

/* Percentile interval of reps[B] (sorted in place, NaNs dropped): *lo, *hi; returns the number
 * of finite replicates. */
size_t mx_interval(double *reps, size_t B, double level, double *lo, double *hi);

/* Shortest "%.*g" (15..17 digits) that reads back to x; "" for NaN. */
void mx_format_double(char *buf, size_t size, double x);

#endif
