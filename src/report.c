/* report.c — `quipu report` (see report.h, docs/report.md). Flow: parse the command line → read
 * every run (summary.json + items.jsonl.zst) → index the metric rows → pick the pairs to
 * compare and run quipu_metrics_compare on each → plots → the markdown (printed, and written
 * to report.md with the plots inlined) → comparison.csv. */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "metrics.h"
#include "plot.h"
#include "report_expected.h"
#include "run_read.h"

void quipu_report_usage(FILE *f)
{
    fprintf(f,
            "usage: quipu report RUN_DIR... [--out DIR] [--metric NAME]... [--categories]\n"
            "       quipu report --expected CONFIG_OR_FILE RUN_DIR [--out DIR]\n"
            "\n"
            "Finished runs side by side: each run's metrics with confidence intervals per benchmark x\n"
            "language x culture, paired comparisons of the first run with each other run on the items\n"
            "they share (paired bootstrap of each metric's difference, McNemar tests), and SVG plots.\n"
            "With one run holding several models, its first model is compared with each other model.\n"
            "Benchmarks with role control, neutral or knowledge (a base and its edited variants) get a\n"
            "section each: accuracy or neutral log-likelihood per token before and after, with paired CIs.\n"
            "\n"
            "  --out DIR       where report.md, comparison.csv and plots/ go (default: ./report)\n"
            "  --metric NAME   a metric to show (repeatable, or comma-separated); default: the headline\n"
            "                  metrics pct_stereotype, s_dis, s_amb, bias_score_ambig, sesgo_bias_ambig,\n"
            "                  ss, icat, assoc_pct_stereotype\n"
            "  --categories    tables also show every category, not only the all-categories rows\n"
            "  --expected F    instead: the run against the published numbers of F's 'expected:' list (a config,\n"
            "                  or a file holding only that list): value, interval, difference, inside or not;\n"
            "                  printed and written to OUT/expected.md and OUT/expected.csv (docs/reproduce.md)\n"
            "  -h, --help      this text\n");
}

/* ---- small helpers ------------------------------------------------------------------------- */


static int streq(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }
static const char *str(const char *s) { return s ? s : ""; }

/* Markdown table cell text: '|' escaped, line breaks as spaces. */
static void md_cell(FILE *f, const char *s)
{
    for (const char *p = str(s); *p; p++) {
        if (*p == '|') fputs("\\|", f);
        else if (*p == '\n' || *p == '\r' || *p == '\t') fputc(' ', f);
        else fputc(*p, f);
    }
}

const char *quipu_report_fmt_num(char *buf, size_t size, double x, int dec)
{
    if (isnan(x)) {
        snprintf(buf, size, "n/a");
        return buf;
    }
    if (fabs(x) < pow(10, -dec) / 2) x = 0;
    snprintf(buf, size, "%.*f", dec, x);
    for (char *q = buf; *q; q++)
        if (*q == ',') *q = '.';
    return buf;
}

static const char *fmt_p(char *buf, size_t size, double p)
{
    if (isnan(p)) snprintf(buf, size, "n/a");
    else if (p >= 0.001) snprintf(buf, size, "%.3f", p);
    else snprintf(buf, size, "%.1e", p);
    for (char *q = buf; *q; q++)
        if (*q == ',') *q = '.';
    return buf;
}

static int metric_decimals(const char *metric)
{
    const quipu_metric_display *d = quipu_metric_display_find(metric);
    return d ? d->decimals : 3;
}

#define csv_str(f, s) quipu_csv_write_field((f), str(s))
#define csv_num quipu_csv_write_num

/* ---- the state of one report --------------------------------------------------------------- */

typedef struct rp_series {
    size_t run;
    const quipu_run_model *model;
    char *label; /* column header */
} rp_series;

typedef struct rp_pair {
    size_t ra, rb;
    const quipu_run_model *ma, *mb;
    int compared;                 /* c holds a comparison */
    quipu_comparison c;
    char *note;                   /* why there is none, or a caveat; may be NULL */
} rp_pair;

typedef struct rp_cell {
    const quipu_metric_row *row;
    size_t series;
} rp_cell;

typedef struct rp_change_plot {
    int role;           /* quipu_cfg_role */
    const char *metric;
    char *file;         /* under plots/, e.g. "change/pct_stereotype.svg" */
} rp_change_plot;

typedef struct rp_group {
    const char *language, *culture, *category;
    size_t culture_order, order;
} rp_group;

typedef struct rp {
    const quipu_report_options *o;
    quipu_run_data *runs;
    size_t n_runs;
    char **run_labels;
    const char **metrics;
    size_t n_metrics;
    rp_series *series;
    size_t n_series;
    rp_pair *pairs;
    size_t n_pairs;
    rp_cell *cells;
    size_t n_cells;
    const char **benchmarks;      /* with a selected metric, in order of first appearance */
    size_t n_benchmarks;
    quipu_plot_files plots;
    const char *out_dir;
    /* before and after (docs/mitigation.md): each compared benchmark's role (quipu_cfg_role) */
    const char **role_bench;
    int *role_of;
    size_t n_roles;
    quipu_plot_files role_plots;  /* base vs variants: the role metrics of control, neutral, knowledge sets */
    rp_change_plot *change;       /* one chart per metric of the change B − A, every variant a series */
    size_t n_change;
    quipu_plot_files tpl_plots;   /* per template (templates, prompt variants): plots/templates/ */
} rp;

static void rp_free(rp *r)
{
    for (size_t i = 0; i < r->n_runs; i++) quipu_run_data_free(&r->runs[i]);
    free(r->runs);
    if (r->run_labels)
        for (size_t i = 0; i < r->n_runs; i++) free(r->run_labels[i]);
    free(r->run_labels);
    free(r->metrics);
    for (size_t i = 0; i < r->n_series; i++) free(r->series[i].label);
    free(r->series);
    for (size_t i = 0; i < r->n_pairs; i++) {
        quipu_comparison_free(&r->pairs[i].c);
        free(r->pairs[i].note);
    }
    free(r->pairs);
    free(r->cells);
    free(r->benchmarks);
    quipu_plot_files_free(&r->plots);
    free(r->role_bench);
    free(r->role_of);
    quipu_plot_files_free(&r->role_plots);
    quipu_plot_files_free(&r->tpl_plots);
    for (size_t i = 0; i < r->n_change; i++) free(r->change[i].file);
    free(r->change);
}

static int metric_selected(const rp *r, const char *metric)
{
    for (size_t k = 0; k < r->n_metrics; k++)
        if (streq(r->metrics[k], metric)) return 1;
    return 0;
}

/* ---- the index of metric rows -------------------------------------------------------------- */

static int cmp_key(const quipu_metric_row *a, size_t sa, const quipu_metric_row *b, size_t sb)
{
    int c;
    if ((c = strcmp(str(a->benchmark), str(b->benchmark)))) return c;
    if ((c = strcmp(str(a->language), str(b->language)))) return c;
    if ((c = strcmp(str(a->culture), str(b->culture)))) return c;
    if ((c = strcmp(str(a->category), str(b->category)))) return c;
    if ((c = strcmp(str(a->metric), str(b->metric)))) return c;
    return sa < sb ? -1 : sa > sb;
}

static int cmp_cell(const void *pa, const void *pb)
{
    const rp_cell *a = pa, *b = pb;
    return cmp_key(a->row, a->series, b->row, b->series);
}

/* The cell of series s for (benchmark, language, culture, category, metric), or NULL. */
static const quipu_metric_row *rp_find(const rp *r, const char *bench, const rp_group *g, const char *metric, size_t s)
{
    quipu_metric_row key = {.benchmark = bench, .language = g->language, .culture = g->culture,
                            .category = g->category, .metric = metric};
    size_t lo = 0, hi = r->n_cells;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(r->cells[mid].row, r->cells[mid].series, &key, s);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < r->n_cells && cmp_key(r->cells[lo].row, r->cells[lo].series, &key, s) == 0) return r->cells[lo].row;
    return NULL;
}

static quipu_status rp_index(rp *r, quipu_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < r->n_runs; i++) total += r->runs[i].n_rows;
    r->cells = quipu_calloc_array(total, sizeof *r->cells);
    r->benchmarks = quipu_calloc_array(total, sizeof *r->benchmarks);
    if (!r->cells || !r->benchmarks) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < r->n_series; s++) {
        const quipu_run_data *d = &r->runs[r->series[s].run];
        for (size_t i = 0; i < d->n_rows; i++) {
            const quipu_metric_row *m = &d->rows[i];
            if (!streq(m->model, r->series[s].model->name)) continue;
            r->cells[r->n_cells++] = (rp_cell){m, s};
            if (!metric_selected(r, m->metric)) continue;
            size_t b;
            for (b = 0; b < r->n_benchmarks; b++)
                if (streq(r->benchmarks[b], m->benchmark)) break;
            if (b == r->n_benchmarks) r->benchmarks[r->n_benchmarks++] = m->benchmark;
        }
    }
    qsort(r->cells, r->n_cells, sizeof *r->cells, cmp_cell);
    return QUIPU_OK;
}

static int cmp_group(const void *pa, const void *pb)
{
    const rp_group *a = pa, *b = pb;
    if (a->culture_order != b->culture_order) return a->culture_order < b->culture_order ? -1 : 1;
    int aa = streq(a->category, QUIPU_METRICS_ALL_CATEGORIES), ba = streq(b->category, QUIPU_METRICS_ALL_CATEGORIES);
    if (aa != ba) return aa ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* The groups of a benchmark with a selected metric: cultures in order of first appearance,
 * each with its "all" row first, then (with --categories) its categories. *out is malloc'ed. */
static quipu_status rp_groups(const rp *r, const char *bench, rp_group **out, size_t *n_out, quipu_error *err)
{
    size_t total = 0, n = 0, n_cult = 0;
    for (size_t i = 0; i < r->n_runs; i++) total += r->runs[i].n_rows;
    rp_group *g = quipu_calloc_array(total, sizeof *g);
    if (!g) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (size_t ri = 0; ri < r->n_runs; ri++) {
        const quipu_run_data *d = &r->runs[ri];
        for (size_t i = 0; i < d->n_rows; i++) {
            const quipu_metric_row *m = &d->rows[i];
            if (!streq(m->benchmark, bench) || !metric_selected(r, m->metric)) continue;
            if (!r->o->categories && !streq(m->category, QUIPU_METRICS_ALL_CATEGORIES)) continue;
            size_t c = SIZE_MAX, k;
            for (k = 0; k < n; k++) {
                if (!streq(g[k].language, m->language) || !streq(g[k].culture, m->culture)) continue;
                c = g[k].culture_order;
                if (streq(g[k].category, m->category)) break;
            }
            if (k < n) continue;
            if (c == SIZE_MAX) c = n_cult++;
            g[n] = (rp_group){m->language, m->culture, m->category, c, n};
            n++;
        }
    }
    qsort(g, n, sizeof *g, cmp_group);
    *out = g;
    *n_out = n;
    return QUIPU_OK;
}

/* ---- reading and pairing ------------------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

static quipu_status rp_read(rp *r, quipu_error *err)
{
    const quipu_report_options *o = r->o;
    r->runs = quipu_calloc_array(o->n_runs, sizeof *r->runs);
    r->run_labels = quipu_calloc_array(o->n_runs, sizeof *r->run_labels);
    if (!r->runs || !r->run_labels) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < o->n_runs; i++) {
        quipu_status st = quipu_run_read(o->run_dirs[i], &r->runs[i], err);
        if (st) return st;
        r->n_runs++;
    }
    /* labels: the folder's base name, or its path when two runs share a base name */
    for (size_t i = 0; i < r->n_runs; i++) {
        const char *b = base_name(r->runs[i].dir);
        int dup = 0;
        for (size_t j = 0; j < r->n_runs; j++)
            if (j != i && streq(b, base_name(r->runs[j].dir))) dup = 1;
        r->run_labels[i] = quipu_strdup(dup ? r->runs[i].dir : b);
        if (!r->run_labels[i]) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    size_t ns = 0;
    for (size_t i = 0; i < r->n_runs; i++) ns += r->runs[i].n_models;
    r->series = quipu_calloc_array(ns, sizeof *r->series);
    if (!r->series) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n_runs; i++)
        for (size_t m = 0; m < r->runs[i].n_models; m++) {
            rp_series *s = &r->series[r->n_series];
            s->run = i;
            s->model = &r->runs[i].models[m];
            s->label = r->n_runs == 1 ? quipu_strdup(s->model->name) : quipu_asprintf("%s: %s", r->run_labels[i], s->model->name);
            if (!s->label) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            r->n_series++;
        }
    return QUIPU_OK;
}

static quipu_status rp_add_pair(rp *r, size_t ra, const quipu_run_model *ma, size_t rb, const quipu_run_model *mb,
                                size_t *cap, quipu_error *err)
{
    if (r->n_pairs == *cap) {
        size_t c = *cap ? 2 * *cap : 8;
        rp_pair *p = realloc(r->pairs, c * sizeof *p);
        if (!p) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        r->pairs = p;
        *cap = c;
    }
    rp_pair *p = &r->pairs[r->n_pairs++];
    memset(p, 0, sizeof *p);
    p->ra = ra;
    p->rb = rb;
    p->ma = ma;
    p->mb = mb;
    return QUIPU_OK;
}

static quipu_status rp_pairs(rp *r, quipu_error *err)
{
    size_t cap = 0;
    quipu_status st = QUIPU_OK;
    if (r->n_runs == 1) {
        const quipu_run_data *a = &r->runs[0];
        for (size_t m = 1; m < a->n_models && !st; m++) st = rp_add_pair(r, 0, &a->models[0], 0, &a->models[m], &cap, err);
        return st;
    }
    const quipu_run_data *a = &r->runs[0];
    for (size_t j = 1; j < r->n_runs && !st; j++) {
        const quipu_run_data *b = &r->runs[j];
        size_t before = r->n_pairs;
        for (size_t m = 0; m < a->n_models && !st; m++) {
            const quipu_run_model *mb = quipu_run_find_model(b, a->models[m].name);
            if (mb) st = rp_add_pair(r, 0, &a->models[m], j, mb, &cap, err);
        }
        if (!st && r->n_pairs == before && a->n_models == 1 && b->n_models == 1)
            st = rp_add_pair(r, 0, &a->models[0], j, &b->models[0], &cap, err);
        if (!st && r->n_pairs == before) { /* nothing to pair: say so in the report */
            st = rp_add_pair(r, 0, NULL, j, NULL, &cap, err);
            if (!st && !(r->pairs[r->n_pairs - 1].note = quipu_strdup("no model in common: no paired tests")))
                st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        }
    }
    return st;
}

static quipu_status rp_compare(rp *r, quipu_error *err)
{
    for (size_t i = 0; i < r->n_pairs; i++) {
        rp_pair *p = &r->pairs[i];
        if (!p->ma || !p->mb) continue;
        const quipu_run_data *a = &r->runs[p->ra], *b = &r->runs[p->rb];
        const char *la = r->run_labels[p->ra], *lb = r->run_labels[p->rb];
        if (!a->has_items || !b->has_items) {
            p->note = quipu_asprintf("%s has no items.jsonl.zst: no paired tests", !a->has_items ? la : lb);
            if (!p->note) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            continue;
        }
        quipu_metrics_options opt = a->opt;
        opt.threads = 0;
        quipu_status st = quipu_metrics_compare(&p->c, p->ma->items, p->ma->n_items, p->ma->records, p->ma->n_items,
                                                p->mb->items, p->mb->n_items, p->mb->records, p->mb->n_items, &opt, err);
        if (st) return st;
        p->compared = 1;
        if (p->c.n_matched == 0)
            p->note = quipu_asprintf("%s and %s share no items (matched by benchmark and id): no paired tests", la, lb);
        else if (a->opt.norm != b->opt.norm)
            p->note = quipu_asprintf("the runs were scored with different normalisations (%s, %s); both sides are "
                                "compared under %s's (%s)",
                                quipu_score_norm_name(a->opt.norm), quipu_score_norm_name(b->opt.norm), la,
                                quipu_score_norm_name(a->opt.norm));
        if ((p->c.n_matched == 0 || a->opt.norm != b->opt.norm) && !p->note)
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    return QUIPU_OK;
}


/* ---- roles (before and after) -------------------------------------------------------------- */

/* The role of every benchmark compared: run A's summary.json "role", else the default of its name
 * (neutral for text items, which are the ones with loglik_per_token rows). */
static quipu_status rp_roles(rp *r, quipu_error *err)
{
    size_t cap = 0;
    for (size_t i = 0; i < r->n_pairs; i++) cap += r->pairs[i].compared ? r->pairs[i].c.n_diffs : 0;
    r->role_bench = quipu_calloc_array(cap ? cap : 1, sizeof *r->role_bench);
    r->role_of = quipu_calloc_array(cap ? cap : 1, sizeof *r->role_of);
    int *text = quipu_calloc_array(cap ? cap : 1, sizeof *text);
    if (!r->role_bench || !r->role_of || !text) {
        free(text);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    const quipu_run_data *a = NULL;
    for (size_t i = 0; i < r->n_pairs; i++) {
        const rp_pair *p = &r->pairs[i];
        if (!p->compared) continue;
        a = &r->runs[p->ra];
        for (size_t k = 0; k < p->c.n_diffs; k++) {
            const quipu_paired_diff *d = &p->c.diffs[k];
            size_t b;
            for (b = 0; b < r->n_roles; b++)
                if (streq(r->role_bench[b], d->benchmark)) break;
            if (b == r->n_roles) r->role_bench[r->n_roles++] = d->benchmark;
            if (streq(d->metric, "loglik_per_token")) text[b] = 1;
        }
    }
    for (size_t b = 0; b < r->n_roles; b++) r->role_of[b] = a ? quipu_run_benchmark_role(a, r->role_bench[b], text[b]) : 0;
    free(text);
    return QUIPU_OK;
}

static int role_of(const rp *r, const char *bench)
{
    for (size_t b = 0; b < r->n_roles; b++)
        if (streq(r->role_bench[b], bench)) return r->role_of[b];
    return QUIPU_CFG_ROLE_BIAS;
}

static int any_role(const rp *r, int role)
{
    for (size_t b = 0; b < r->n_roles; b++)
        if (r->role_of[b] == role) return 1;
    return 0;
}

/* The metrics a role's section shows, NULL-terminated: the accuracies of control and knowledge
 * sets, the neutral sentences' log-likelihood; bias: the selected metrics. */
static const char *const control_metrics[] = {"acc", "acc_ambig", "acc_disambig", NULL};
static const char *const knowledge_metrics[] = {"acc", NULL};
static const char *const neutral_metrics[] = {"loglik_per_token", "loglik_per_byte", NULL};
static const char *const *role_metrics(int role)
{
    return role == QUIPU_CFG_ROLE_CONTROL ? control_metrics : role == QUIPU_CFG_ROLE_KNOWLEDGE ? knowledge_metrics
           : role == QUIPU_CFG_ROLE_NEUTRAL                                       ? neutral_metrics
                                                                                  : NULL;
}

static int in_list(const char *const *l, const char *s)
{
    for (; l && *l; l++)
        if (streq(*l, s)) return 1;
    return 0;
}

/* The variant's name in the before/after tables: the model, prefixed by its run when there are several. */
static char *pair_b_label(const rp *r, const rp_pair *p)
{
    if (r->n_runs == 1) return quipu_strdup(p->mb->name);
    return quipu_asprintf("%s: %s", r->run_labels[p->rb], p->mb->name);
}

/* ---- the change plots ----------------------------------------------------------------------- */

typedef struct chg_row {
    const char *bench, *language, *culture;
    char *label;
} chg_row;

/* One chart of the change B − A of `metric` over the benchmarks of `role`: a row per benchmark ×
 * language × culture (all categories), a series per compared pair with its paired interval, the
 * reference line at 0. Writes OUT/plots/FILE; nothing when no pair has such a row. */
static quipu_status change_plot(rp *r, int role, const char *metric, const char *file, quipu_error *err)
{
    size_t cap = 0, np = 0;
    for (size_t i = 0; i < r->n_pairs; i++)
        if (r->pairs[i].compared) {
            cap += r->pairs[i].c.n_diffs;
            np++;
        }
    if (!cap || !np) return QUIPU_OK;
    chg_row *rows = quipu_calloc_array(cap, sizeof *rows);
    quipu_plot_row *prow = quipu_calloc_array(cap, sizeof *prow);
    quipu_plot_series *ser = quipu_calloc_array(np, sizeof *ser);
    double *val = quipu_malloc_array(3 * cap * np, sizeof *val);
    int64_t *nn = quipu_malloc_array(cap * np, sizeof *nn);
    char **names = quipu_calloc_array(np, sizeof *names);
    size_t nr = 0, ns = 0;
    quipu_status st = QUIPU_OK;
    if (!rows || !prow || !ser || !val || !nn || !names) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < r->n_pairs; i++) {
        const rp_pair *p = &r->pairs[i];
        if (!p->compared) continue;
        for (size_t k = 0; k < p->c.n_diffs; k++) {
            const quipu_paired_diff *d = &p->c.diffs[k];
            if (!streq(d->metric, metric) || !streq(d->category, QUIPU_METRICS_ALL_CATEGORIES) || role_of(r, d->benchmark) != role)
                continue;
            size_t j;
            for (j = 0; j < nr; j++)
                if (streq(rows[j].bench, d->benchmark) && streq(rows[j].language, d->language) && streq(rows[j].culture, d->culture))
                    break;
            if (j == nr) {
                rows[nr] = (chg_row){d->benchmark, d->language, d->culture, quipu_asprintf("%s \xC2\xB7 %s \xC2\xB7 %s", d->benchmark, d->language, d->culture)};
                if (!rows[nr].label) {
                    st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
                    goto done;
                }
                nr++;
            }
        }
    }
    if (nr == 0) goto done;
    for (size_t k = 0; k < 3 * cap * np; k++) val[k] = NAN;
    for (size_t k = 0; k < cap * np; k++) nn[k] = -1;
    for (size_t i = 0; i < r->n_pairs; i++) {
        const rp_pair *p = &r->pairs[i];
        if (!p->compared) continue;
        double *v = val + 3 * cap * ns, *lo = v + cap, *hi = v + 2 * cap;
        int64_t *n = nn + cap * ns;
        for (size_t k = 0; k < p->c.n_diffs; k++) {
            const quipu_paired_diff *d = &p->c.diffs[k];
            if (!streq(d->metric, metric) || !streq(d->category, QUIPU_METRICS_ALL_CATEGORIES)) continue;
            for (size_t j = 0; j < nr; j++)
                if (streq(rows[j].bench, d->benchmark) && streq(rows[j].language, d->language) && streq(rows[j].culture, d->culture)) {
                    v[j] = d->diff;
                    lo[j] = d->ci_low;
                    hi[j] = d->ci_high;
                    n[j] = d->n;
                }
        }
        if (!(names[ns] = pair_b_label(r, p))) {
            st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            goto done;
        }
        ser[ns] = (quipu_plot_series){names[ns], v, lo, hi, n};
        ns++;
    }
    for (size_t j = 0; j < nr; j++) prow[j] = (quipu_plot_row){rows[j].label, 0};
    {
        const quipu_metric_display *disp = quipu_metric_display_find(metric);
        const quipu_run_data *a = &r->runs[0];
        const char *base = NULL;
        for (size_t i = 0; i < r->n_pairs && !base; i++)
            if (r->pairs[i].compared) base = r->pairs[i].ma->name;
        char *title = role == QUIPU_CFG_ROLE_BIAS
                          ? quipu_asprintf("%s: change B \xE2\x88\x92 A", metric)
                          : quipu_asprintf("%s sets, %s: change B \xE2\x88\x92 A", quipu_cfg_role_name(role), metric);
        char *sub = quipu_asprintf("A = %s%s%s; each variant B on the same items, %g%% paired bootstrap intervals",
                                   r->n_runs > 1 ? r->run_labels[0] : "", r->n_runs > 1 ? ": " : "", base ? base : "?",
                                   a->opt.ci_level * 100);
        char *xl = quipu_asprintf("B \xE2\x88\x92 A in %s%s%s%s", metric, disp && disp->description ? " (" : "",
                                  disp && disp->description ? disp->description : "", disp && disp->description ? ")" : "");
        char *path = quipu_asprintf("%s/plots/%s", r->out_dir, file);
        char *dir = quipu_asprintf("%s/plots/change", r->out_dir);
        /* a change of a bounded metric is bounded by its range's width */
        double span = disp && isfinite(disp->lo) && isfinite(disp->hi) ? disp->hi - disp->lo : NAN;
        if (!title || !sub || !xl || !path || !dir) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        if (!st) st = quipu_mkdir_p(dir, err);
        if (!st) {
            quipu_plot pl = {.title = title, .subtitle = sub, .x_label = xl,
                             .footnote = "an interval that excludes 0 is a change the items support",
                             .reference = 0, .reference_label = "no change", .lo = span > 0 ? -span : NAN, .hi = span > 0 ? span : NAN,
                             .decimals = disp ? disp->decimals : 3, .rows = prow, .n_rows = nr};
            st = quipu_plot_write_svg(path, &pl, ser, ns, err);
        }
        if (!st) {
            rp_change_plot *c = realloc(r->change, (r->n_change + 1) * sizeof *c);
            if (!c) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            else {
                r->change = c;
                c[r->n_change] = (rp_change_plot){role, metric, quipu_strdup(file)};
                if (!c[r->n_change].file) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
                else r->n_change++;
            }
        }
        free(title);
        free(sub);
        free(xl);
        free(path);
        free(dir);
    }
done:
    for (size_t j = 0; j < nr; j++) free(rows[j].label);
    for (size_t i = 0; i < ns; i++) free(names[i]);
    free(rows);
    free(prow);
    free(ser);
    free(val);
    free(nn);
    free(names);
    return st;
}

/* Every change chart: the selected metrics over the bias benchmarks, then each role's metrics. */
static quipu_status rp_change_plots(rp *r, quipu_error *err)
{
    quipu_status st = QUIPU_OK;
    for (size_t k = 0; k < r->n_metrics && !st; k++) {
        char *f = quipu_asprintf("change/%s.svg", r->metrics[k]);
        if (!f) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        st = change_plot(r, QUIPU_CFG_ROLE_BIAS, r->metrics[k], f, err);
        free(f);
    }
    static const int roles[] = {QUIPU_CFG_ROLE_CONTROL, QUIPU_CFG_ROLE_NEUTRAL, QUIPU_CFG_ROLE_KNOWLEDGE};
    for (size_t q = 0; q < 3 && !st; q++) {
        if (!any_role(r, roles[q])) continue;
        const char *m = role_metrics(roles[q])[0]; /* acc, loglik_per_token */
        char *f = quipu_asprintf("change/%s__%s.svg", quipu_cfg_role_name(roles[q]), m);
        if (!f) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        st = change_plot(r, roles[q], m, f, err);
        free(f);
    }
    return st;
}

/* Base vs variants, as the tables' plots draw them, for the first metric of each role's section
 * (acc, loglik_per_token) over that role's benchmarks: plots/<benchmark>__<metric>.svg. */
static quipu_status rp_role_plots(rp *r, quipu_error *err)
{
    static const int roles[] = {QUIPU_CFG_ROLE_CONTROL, QUIPU_CFG_ROLE_NEUTRAL, QUIPU_CFG_ROLE_KNOWLEDGE};
    quipu_status st = QUIPU_OK;
    for (size_t q = 0; q < 3 && !st; q++) {
        if (!any_role(r, roles[q])) continue;
        const char *m = role_metrics(roles[q])[0];
        if (metric_selected(r, m)) continue; /* already drawn with the tables */
        quipu_metric_row_set *sets = quipu_calloc_array(r->n_runs, sizeof *sets);
        quipu_metric_row **keep = quipu_calloc_array(r->n_runs, sizeof *keep);
        char *plots_dir = quipu_asprintf("%s/plots", r->out_dir);
        if (!sets || !keep || !plots_dir) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < r->n_runs && !st; i++) {
            const quipu_run_data *d = &r->runs[i];
            keep[i] = quipu_calloc_array(d->n_rows ? d->n_rows : 1, sizeof **keep);
            if (!keep[i]) {
                st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
                break;
            }
            size_t n = 0;
            for (size_t k = 0; k < d->n_rows; k++)
                if (streq(d->rows[k].metric, m) && role_of(r, d->rows[k].benchmark) == roles[q]) keep[i][n++] = d->rows[k];
            sets[i] = (quipu_metric_row_set){r->run_labels[i], keep[i], n, d->opt.ci_level};
        }
        if (!st) {
            const char *ml[2] = {m, NULL};
            quipu_plot_files got;
            memset(&got, 0, sizeof got);
            st = quipu_plots_write(plots_dir, sets, r->n_runs, ml, r->o->categories ? 0 : QUIPU_PLOTS_CULTURES_ONLY, &got, err);
            if (!st && got.n) {
                quipu_plot_file *all = realloc(r->role_plots.files, (r->role_plots.n + got.n) * sizeof *all);
                if (!all) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
                else {
                    r->role_plots.files = all;
                    memcpy(all + r->role_plots.n, got.files, got.n * sizeof *all);
                    r->role_plots.n += got.n;
                    free(got.files);
                    got.files = NULL;
                    got.n = 0;
                }
            }
            quipu_plot_files_free(&got);
        }
        for (size_t i = 0; keep && i < r->n_runs; i++) free(keep[i]);
        free(keep);
        free(sets);
        free(plots_dir);
    }
    return st;
}

/* ---- markdown ------------------------------------------------------------------------------ */

static void md_value_cell(FILE *f, const quipu_metric_row *m)
{
    char v[64], lo[64], hi[64];
    if (!m) {
        fputs(" \xE2\x80\x94 |", f); /* not in this run */
        return;
    }
    int dec = metric_decimals(m->metric);
    if (isnan(m->value)) {
        fputs(" n/a", f);
        if (m->note) {
            fputs(" (", f);
            md_cell(f, m->note);
            fputc(')', f);
        }
        fprintf(f, " (n=%lld) |", (long long)m->n);
        return;
    }
    fprintf(f, " %s", quipu_report_fmt_num(v, sizeof v, m->value, dec));
    if (!isnan(m->ci_low) && !isnan(m->ci_high))
        fprintf(f, " [%s, %s]", quipu_report_fmt_num(lo, sizeof lo, m->ci_low, dec), quipu_report_fmt_num(hi, sizeof hi, m->ci_high, dec));
    fprintf(f, " (n=%lld) |", (long long)m->n);
}

static int category_shown(const rp *r, const char *category)
{
    return r->o->categories || streq(category, QUIPU_METRICS_ALL_CATEGORIES);
}

static quipu_status md_tables(FILE *f, const rp *r, int images, quipu_error *err)
{
    double conf = r->n_runs ? r->runs[0].opt.ci_level : 0.95;
    fprintf(f, "## Metrics\n\nEach cell: value [%g%% bootstrap CI] (n = items in the metric); "
               "\xE2\x80\x94: not in that run.\n\n", conf * 100);
    if (r->n_benchmarks == 0) fputs("No rows for the selected metrics.\n\n", f);
    for (size_t b = 0; b < r->n_benchmarks; b++) {
        const char *bench = r->benchmarks[b];
        rp_group *g = NULL;
        size_t ng = 0;
        quipu_status st = rp_groups(r, bench, &g, &ng, err);
        if (st) return st;
        fputs("### ", f);
        md_cell(f, bench);
        fputs("\n\n| language | culture |", f);
        if (r->o->categories) fputs(" category |", f);
        fputs(" metric |", f);
        for (size_t s = 0; s < r->n_series; s++) {
            fputc(' ', f);
            md_cell(f, r->series[s].label);
            fputs(" |", f);
        }
        fputs("\n|---|---|", f);
        if (r->o->categories) fputs("---|", f);
        fputs("---|", f);
        for (size_t s = 0; s < r->n_series; s++) fputs("---|", f);
        fputc('\n', f);
        for (size_t k = 0; k < ng; k++)
            for (size_t m = 0; m < r->n_metrics; m++) {
                int any = 0;
                for (size_t s = 0; s < r->n_series && !any; s++) any = rp_find(r, bench, &g[k], r->metrics[m], s) != NULL;
                if (!any) continue;
                fputs("| ", f);
                md_cell(f, g[k].language);
                fputs(" | ", f);
                md_cell(f, g[k].culture);
                fputs(" |", f);
                if (r->o->categories) {
                    fputc(' ', f);
                    md_cell(f, g[k].category);
                    fputs(" |", f);
                }
                fprintf(f, " %s |", r->metrics[m]);
                for (size_t s = 0; s < r->n_series; s++) md_value_cell(f, rp_find(r, bench, &g[k], r->metrics[m], s));
                fputc('\n', f);
            }
        fputc('\n', f);
        free(g);
        if (images)
            for (size_t i = 0; i < r->plots.n; i++)
                if (streq(r->plots.files[i].benchmark, bench))
                    fprintf(f, "![%s \xE2\x80\x94 %s](plots/%s)\n\n", r->plots.files[i].benchmark,
                            r->plots.files[i].metric, r->plots.files[i].file);
    }
    return QUIPU_OK;
}

/* Sensitivity to wording: summary.json's spread across templates (template benchmarks, prompt
 * variants, SeeGULL's templates) for the selected metrics, every run's model, and the per-template
 * charts (docs/metrics.md "Spread across templates"). Nothing when no run has templates. */
static void md_templates(FILE *f, const rp *r, int images)
{
    size_t rows = 0;
    for (size_t i = 0; i < r->n_runs; i++)
        for (size_t k = 0; k < r->runs[i].n_spread; k++) rows += metric_selected(r, r->runs[i].spread[k].metric);
    if (!rows && !r->tpl_plots.n) return;
    double conf = r->n_runs ? r->runs[0].opt.ci_level : 0.95;
    fprintf(f, "## Sensitivity to wording\n\nHow much each metric moves across the templates or prompt variants of one "
               "benchmark \xC3\x97 language \xC3\x97 culture (docs/metrics.md \"Spread across templates\"): the lowest and "
               "highest template, the range and the standard deviation across templates with %g%% bootstrap intervals.\n\n",
            conf * 100);
    if (rows) {
        fputs("| model | benchmark | language | culture | metric | templates | min | max | range [CI] | sd [CI] |\n"
              "|---|---|---|---|---|---|---|---|---|---|\n", f);
        for (size_t i = 0; i < r->n_runs; i++)
            for (size_t k = 0; k < r->runs[i].n_spread; k++) {
                const quipu_run_spread *x = &r->runs[i].spread[k];
                if (!metric_selected(r, x->metric)) continue;
                int d = metric_decimals(x->metric);
                fputs("| ", f);
                md_cell(f, r->n_runs > 1 ? r->run_labels[i] : x->model);
                if (r->n_runs > 1) fprintf(f, ": %s", x->model);
                fprintf(f, " | %s | %s | %s | %s | %lld | ", x->benchmark, x->language, x->culture, x->metric, (long long)x->n_templates);
                if (isnan(x->min)) fputs("\xE2\x80\x94 | \xE2\x80\x94 | ", f);
                else fprintf(f, "%.*f (%s) | %.*f (%s) | ", d, x->min, x->min_template, d, x->max, x->max_template);
                if (isnan(x->range)) fputs("\xE2\x80\x94 | \xE2\x80\x94 |\n", f);
                else if (isnan(x->range_ci_low)) fprintf(f, "%.*f | %.*f |\n", d, x->range, d, x->sd);
                else fprintf(f, "%.*f [%.*f, %.*f] | %.*f [%.*f, %.*f] |\n", d, x->range, d, x->range_ci_low, d, x->range_ci_high, d,
                             x->sd, d, x->sd_ci_low, d, x->sd_ci_high);
            }
        fputc('\n', f);
    }
    if (images && r->tpl_plots.n) {
        fputs("Each template's value with its interval (a chart's rows: the templates of each culture):\n\n", f);
        for (size_t i = 0; i < r->tpl_plots.n; i++)
            fprintf(f, "![%s per template \xE2\x80\x94 %s](plots/templates/%s)\n\n", r->tpl_plots.files[i].benchmark,
                    r->tpl_plots.files[i].metric, r->tpl_plots.files[i].file);
    }
}

/* " benchmark | language | culture |" (and " category |" with --categories), after a '|' */
static void md_tags(FILE *f, const rp *r, const char *bench, const char *language, const char *culture, const char *category)
{
    const char *cells[4] = {bench, language, culture, category};
    for (int k = 0; k < (r->o->categories ? 4 : 3); k++) {
        fputc(' ', f);
        md_cell(f, cells[k]);
        fputs(" |", f);
    }
}

/* " metric | n | A | B | B − A [lo, hi] (note)" of a paired difference, after a '|' */
static void md_diff_cells(FILE *f, const quipu_paired_diff *d)
{
    int dec = metric_decimals(d->metric);
    char a[64], b[64], df[64], lo[64], hi[64];
    fprintf(f, " %s | %lld | %s | %s | %s", d->metric, (long long)d->n, quipu_report_fmt_num(a, sizeof a, d->value_a, dec),
            quipu_report_fmt_num(b, sizeof b, d->value_b, dec), quipu_report_fmt_num(df, sizeof df, d->diff, dec));
    if (!isnan(d->ci_low) && !isnan(d->ci_high))
        fprintf(f, " [%s, %s]", quipu_report_fmt_num(lo, sizeof lo, d->ci_low, dec), quipu_report_fmt_num(hi, sizeof hi, d->ci_high, dec));
    if (d->note) {
        fputs(" (", f);
        md_cell(f, d->note);
        fputc(')', f);
    }
}

static void md_pair(FILE *f, const rp *r, const rp_pair *p)
{
    const char *la = r->run_labels[p->ra], *lb = r->run_labels[p->rb];
    fputs("### ", f);
    if (p->ma && p->mb && p->ra == p->rb) { /* two models of one run */
        md_cell(f, p->ma->name);
        fputs(" (A) vs ", f);
        md_cell(f, p->mb->name);
        fputs(" (B)\n\n", f);
    } else {
        md_cell(f, la);
        fputs(" (A) vs ", f);
        md_cell(f, lb);
        fputs(" (B)", f);
        if (p->ma && p->mb && streq(p->ma->name, p->mb->name)) {
            fputs(", model ", f);
            md_cell(f, p->ma->name);
        } else if (p->ma && p->mb) {
            fputs(": ", f);
            md_cell(f, p->ma->name);
            fputs(" vs ", f);
            md_cell(f, p->mb->name);
        }
        fputs("\n\n", f);
    }
    if (p->note) fprintf(f, "Note: %s.\n\n", p->note);
    if (!p->compared || p->c.n_matched == 0) return;
    const quipu_comparison *c = &p->c;
    fprintf(f, "Matched items: %lld (only in A: %lld, only in B: %lld).\n\n", (long long)c->n_matched,
            (long long)c->n_only_a, (long long)c->n_only_b);

    size_t shown = 0;
    for (size_t i = 0; i < c->n_diffs; i++)
        if (metric_selected(r, c->diffs[i].metric) && category_shown(r, c->diffs[i].category) &&
            role_of(r, c->diffs[i].benchmark) == QUIPU_CFG_ROLE_BIAS)
            shown++;
    if (shown) {
        fprintf(f, "Paired bootstrap (the same resampled items for both runs; %g%% CI of B \xE2\x88\x92 A):\n\n",
                c->opt.ci_level * 100);
        fputs("| benchmark | language | culture |", f);
        if (r->o->categories) fputs(" category |", f);
        fputs(" metric | n | A | B | B \xE2\x88\x92 A [CI] | p |\n|---|---|---|", f);
        if (r->o->categories) fputs("---|", f);
        fputs("---|---|---|---|---|---|\n", f);
        for (size_t i = 0; i < c->n_diffs; i++) {
            const quipu_paired_diff *d = &c->diffs[i];
            if (!metric_selected(r, d->metric) || !category_shown(r, d->category) || role_of(r, d->benchmark) != QUIPU_CFG_ROLE_BIAS)
                continue;
            char pp[64];
            fputs("|", f);
            md_tags(f, r, d->benchmark, d->language, d->culture, d->category);
            md_diff_cells(f, d);
            fprintf(f, " | %s |\n", fmt_p(pp, sizeof pp, d->p_boot));
        }
        fputc('\n', f);
    }
    shown = 0;
    for (size_t i = 0; i < c->n_tests; i++)
        shown += category_shown(r, c->tests[i].category) && role_of(r, c->tests[i].benchmark) == QUIPU_CFG_ROLE_BIAS;
    if (shown) {
        fputs("McNemar tests on per-item decisions (A only: 1 in A and 0 in B; B only: the reverse):\n\n", f);
        fputs("| benchmark | language | culture |", f);
        if (r->o->categories) fputs(" category |", f);
        fputs(" decision | n | both | A only | B only | neither | test | p |\n|---|---|---|", f);
        if (r->o->categories) fputs("---|", f);
        fputs("---|---|---|---|---|---|---|---|\n", f);
        for (size_t i = 0; i < c->n_tests; i++) {
            const quipu_paired_test *t = &c->tests[i];
            if (!category_shown(r, t->category) || role_of(r, t->benchmark) != QUIPU_CFG_ROLE_BIAS) continue;
            char pp[64], chi[64];
            fputs("|", f);
            md_tags(f, r, t->benchmark, t->language, t->culture, t->category);
            fprintf(f, " %s | %lld | %lld | %lld | %lld | %lld | ", t->decision, (long long)t->n, (long long)t->n11,
                    (long long)t->n10, (long long)t->n01, (long long)t->n00);
            if (t->test.exact) fputs("exact binomial", f);
            else fprintf(f, "\xCF\x87\xC2\xB2 = %s", quipu_report_fmt_num(chi, sizeof chi, t->test.statistic, 2));
            fprintf(f, " | %s |\n", fmt_p(pp, sizeof pp, t->test.p_value));
        }
        fputc('\n', f);
    }
}


/* One row's leading cells: the variant, benchmark, language, culture (and category). */
static void md_row_head(FILE *f, const rp *r, const char *variant, const quipu_paired_diff *d)
{
    fputs("| ", f);
    md_cell(f, variant);
    fputs(" |", f);
    md_tags(f, r, d->benchmark, d->language, d->culture, d->category);
}

/* The McNemar test of `decision` in the group of d, or NULL. */
static const quipu_paired_test *find_test(const quipu_comparison *c, const quipu_paired_diff *d, const char *decision)
{
    for (size_t i = 0; i < c->n_tests; i++) {
        const quipu_paired_test *t = &c->tests[i];
        if (streq(t->decision, decision) && streq(t->benchmark, d->benchmark) && streq(t->language, d->language) &&
            streq(t->culture, d->culture) && streq(t->category, d->category))
            return t;
    }
    return NULL;
}

/* A section of the before/after report: every compared pair's rows for the benchmarks of `role`
 * and its metrics, change with paired interval and p; accuracies also McNemar on correctness. */
static quipu_status md_role_section(FILE *f, const rp *r, int role, int images, quipu_error *err)
{
    const char *const *ms = role_metrics(role);
    size_t rows = 0;
    for (size_t i = 0; i < r->n_pairs; i++) {
        const rp_pair *p = &r->pairs[i];
        if (!p->compared) continue;
        for (size_t k = 0; k < p->c.n_diffs; k++) {
            const quipu_paired_diff *d = &p->c.diffs[k];
            rows += in_list(ms, d->metric) && category_shown(r, d->category) && role_of(r, d->benchmark) == role;
        }
    }
    if (!rows) return QUIPU_OK;
    int mcnemar = role != QUIPU_CFG_ROLE_NEUTRAL;
    double conf = r->runs[0].opt.ci_level * 100;
    if (role == QUIPU_CFG_ROLE_CONTROL)
        fprintf(f, "## Control sets (role: control)\n\nAccuracy on sets a mitigation should leave as they were (MBBQ's control "
                   "sets, any benchmark marked `role: control`), per language \xC3\x97 culture: A the base, B each variant, on the same "
                   "items; B \xE2\x88\x92 A with its %g%% paired bootstrap interval and p; McNemar's test on per-item correctness "
                   "(A only: right in A, wrong in B; B only: the reverse).\n\n", conf);
    else if (role == QUIPU_CFG_ROLE_KNOWLEDGE)
        fprintf(f, "## Cultural knowledge (role: knowledge)\n\nAccuracy on cultural knowledge (BLEnD, any benchmark marked "
                   "`role: knowledge`) per country (culture) \xC3\x97 language, which a mitigation must not lower: A the base, B "
                   "each variant, on the same items; B \xE2\x88\x92 A with its %g%% paired bootstrap interval and p; McNemar's test "
                   "on per-item correctness (A only: right in A, wrong in B; B only: the reverse).\n\n", conf);
    else
        fprintf(f, "## Neutral likelihood (role: neutral)\n\nMean log-likelihood of neutral sentences per token and per byte "
                   "(total log-probability / total tokens or bytes, in nats; higher is likelier): the side effect on plain "
                   "language a mitigation must keep small. B \xE2\x88\x92 A with its %g%% paired bootstrap interval (the same "
                   "sentences resampled for both, the ratio recomputed) and p.\n\n", conf);
    fputs("| variant | benchmark | language | culture |", f);
    if (r->o->categories) fputs(" category |", f);
    fputs(" metric | n | A | B | B \xE2\x88\x92 A [CI] | p |", f);
    if (mcnemar) fputs(" A only | B only | McNemar p |", f);
    fputs("\n|---|---|---|---|", f);
    if (r->o->categories) fputs("---|", f);
    fputs("---|---|---|---|---|---|", f);
    if (mcnemar) fputs("---|---|---|", f);
    fputc('\n', f);
    for (size_t i = 0; i < r->n_pairs; i++) {
        const rp_pair *p = &r->pairs[i];
        if (!p->compared) continue;
        char *variant = pair_b_label(r, p);
        if (!variant) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < p->c.n_diffs; k++) {
            const quipu_paired_diff *d = &p->c.diffs[k];
            if (!in_list(ms, d->metric) || !category_shown(r, d->category) || role_of(r, d->benchmark) != role) continue;
            char pp[64];
            md_row_head(f, r, variant, d);
            md_diff_cells(f, d);
            fprintf(f, " | %s |", fmt_p(pp, sizeof pp, d->p_boot));
            if (mcnemar) {
                /* correctness over every item of the group: the test belongs to the acc row */
                const quipu_paired_test *t = streq(d->metric, "acc") ? find_test(&p->c, d, "correct") : NULL;
                if (t) fprintf(f, " %lld | %lld | %s |", (long long)t->n10, (long long)t->n01, fmt_p(pp, sizeof pp, t->test.p_value));
                else fputs(" \xE2\x80\x94 | \xE2\x80\x94 | \xE2\x80\x94 |", f);
            }
            fputc('\n', f);
        }
        free(variant);
    }
    fputc('\n', f);
    if (images) {
        for (size_t i = 0; i < r->role_plots.n; i++)
            if (role_of(r, r->role_plots.files[i].benchmark) == role)
                fprintf(f, "![%s \xE2\x80\x94 %s](plots/%s)\n\n", r->role_plots.files[i].benchmark, r->role_plots.files[i].metric,
                        r->role_plots.files[i].file);
        for (size_t i = 0; i < r->n_change; i++)
            if (r->change[i].role == role)
                fprintf(f, "![%s sets, change in %s](plots/%s)\n\n", quipu_cfg_role_name(role), r->change[i].metric, r->change[i].file);
    }
    return QUIPU_OK;
}

static quipu_status md_write(FILE *f, const rp *r, int images, quipu_error *err)
{
    fputs("# quipu report\n\n| run | folder | config | models | scoring | bootstrap | seed |\n"
          "|---|---|---|---|---|---|---|\n", f);
    for (size_t i = 0; i < r->n_runs; i++) {
        const quipu_run_data *d = &r->runs[i];
        fputs("| ", f);
        md_cell(f, r->run_labels[i]);
        if (i == 0 && r->n_runs > 1) fputs(" (A)", f);
        fputs(" | ", f);
        md_cell(f, d->dir);
        fputs(" | ", f);
        md_cell(f, d->name);
        if (d->config_hash && *d->config_hash) fprintf(f, " (%.12s)", d->config_hash);
        fputs(" | ", f);
        for (size_t m = 0; m < d->n_models; m++) {
            if (m) fputs(", ", f);
            md_cell(f, d->models[m].name);
        }
        fprintf(f, " | %s | %d | %llu |\n", quipu_score_norm_name(d->opt.norm), d->opt.n_boot,
                (unsigned long long)d->opt.seed);
    }
    fputc('\n', f);
    quipu_status st = md_tables(f, r, images, err);
    if (st) return st;
    md_templates(f, r, images);
    if (r->n_pairs) {
        fputs("## Paired comparisons\n\nItems are matched by benchmark and id; B \xE2\x88\x92 A is computed on the "
              "matched items only, so A's and B's values here can differ from the tables above.\n\n", f);
        for (size_t i = 0; i < r->n_pairs; i++) md_pair(f, r, &r->pairs[i]);
        int any = 0;
        for (size_t i = 0; i < r->n_change && images; i++)
            if (r->change[i].role == QUIPU_CFG_ROLE_BIAS) {
                if (!any++) fputs("Change B \xE2\x88\x92 A of each metric, every variant (B) a series, with its paired interval:\n\n", f);
                fprintf(f, "![change in %s](plots/%s)\n\n", r->change[i].metric, r->change[i].file);
            }
        static const int roles[] = {QUIPU_CFG_ROLE_CONTROL, QUIPU_CFG_ROLE_NEUTRAL, QUIPU_CFG_ROLE_KNOWLEDGE};
        for (size_t q = 0; q < 3; q++) {
            quipu_status st2 = md_role_section(f, r, roles[q], images, err);
            if (st2) return st2;
        }
    }
    return QUIPU_OK;
}

/* ---- comparison.csv ------------------------------------------------------------------------ */

/* The run and model cells that start each row of a pair's comparison. */
static void csv_pair_prefix(FILE *f, const rp *r, const rp_pair *p)
{
    csv_str(f, r->run_labels[p->ra]);
    fputc(',', f);
    csv_str(f, p->ma->name);
    fputc(',', f);
    csv_str(f, r->run_labels[p->rb]);
    fputc(',', f);
    csv_str(f, p->mb->name);
    fputc(',', f);
}

static quipu_status csv_write(FILE *f, const rp *r, quipu_error *err)
{
    fputs("run_a,model_a,run_b,model_b,kind,benchmark,language,culture,category,metric,n,value_a,value_b,diff,"
          "ci_low,ci_high,p,n11,n10,n01,n00,statistic,note\n", f);
    for (size_t i = 0; i < r->n_pairs; i++) {
        const rp_pair *p = &r->pairs[i];
        if (!p->compared) continue;
        char *prefix = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&prefix, &len);
        if (!m) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        csv_pair_prefix(m, r, p);
        fclose(m);
        quipu_comparison_write_csv_rows(&p->c, f, prefix ? prefix : "");
        free(prefix);
    }
    return QUIPU_OK;
}

/* ---- files --------------------------------------------------------------------------------- */

static quipu_status write_file(const char *dir, const char *name, const rp *r, int which, quipu_error *err)
{
    char *path = quipu_asprintf("%s/%s", dir, name);
    if (!path) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    FILE *f = fopen(path, "wb");
    if (!f) {
        quipu_status st = quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(path);
        return st;
    }
    quipu_status st = QUIPU_OK;
    if (which == 0) st = md_write(f, r, 1, err);
    else st = csv_write(f, r, err);
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (!st && bad) st = quipu_error_set(err, QUIPU_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    free(path);
    return st;
}

/* One chart per benchmark × selected metric over every run's rows (templates 0: summary.json's
 * "metrics", into plots/) or its per-template rows (templates 1: "templates", into
 * plots/templates/, nothing when no run has them). */
static quipu_status rp_plots(rp *r, int templates, quipu_plot_files *out, quipu_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_runs; i++) n += templates ? r->runs[i].n_tpl_rows : r->runs[i].n_rows;
    if (templates && n == 0) return QUIPU_OK;
    quipu_metric_row_set *sets = quipu_calloc_array(r->n_runs, sizeof *sets);
    char *dir = quipu_asprintf(templates ? "%s/plots/templates" : "%s/plots", r->out_dir);
    quipu_status st = sets && dir ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n_runs && !st; i++) {
        const quipu_run_data *d = &r->runs[i];
        sets[i] = (quipu_metric_row_set){r->run_labels[i], templates ? d->tpl_rows : d->rows, templates ? d->n_tpl_rows : d->n_rows,
                                         d->opt.ci_level};
    }
    if (!st) st = quipu_plots_write(dir, sets, r->n_runs, r->metrics, 0, out, err); /* r->metrics ends with NULL */
    free(sets);
    free(dir);
    return st;
}

quipu_status quipu_report(const quipu_report_options *o, quipu_error *err)
{
    if (!o || o->n_runs == 0 || !o->run_dirs)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "no run folders given (usage: quipu report RUN_DIR...)");
    rp r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.out_dir = o->out_dir && *o->out_dir ? o->out_dir : "report";
    quipu_status st = QUIPU_OK;

    /* the metrics, checked before any file is read */
    size_t nm = o->n_metrics;
    if (nm == 0)
        while (quipu_headline_metrics[nm]) nm++;
    r.metrics = quipu_calloc_array(nm + 1, sizeof *r.metrics);
    if (!r.metrics) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < nm; k++) {
        const char *m = o->n_metrics ? o->metrics[k] : quipu_headline_metrics[k];
        if (!quipu_metric_display_find(m)) {
            st = quipu_error_set(err, QUIPU_ERR_INVALID,
                                 "unknown metric '%s' (known: pct_stereotype, pct_stereotype_stereo, "
                                 "pct_stereotype_antistereo, pct_neutral, likelihood_diff, acc, acc_ambig, acc_disambig, "
                                 "s_dis, s_amb, bias_score_ambig, bias_score_disambig, sesgo_bias_ambig, "
                                 "sesgo_bias_disambig, ft_minus_fo_ambig, ft_minus_fo_disambig, ss, lms, icat, "
                                 "assoc_pct_stereotype, assoc_pct_stereotype_offensive, assoc_mean_stereotype, assoc_mean_gap, "
                                 "loglik_per_token, loglik_per_byte)",
                                 str(m));
            goto done;
        }
        if (!metric_selected(&r, m)) r.metrics[r.n_metrics++] = m;
    }

    if ((st = rp_read(&r, err))) goto done;
    for (size_t i = 0; i < r.n_runs; i++)
        if (!r.runs[i].has_items)
            quipu_log(QUIPU_LOG_WARN, "%s: no items.jsonl.zst: its paired tests are left out", r.runs[i].dir);
    if ((st = rp_index(&r, err))) goto done;
    if ((st = rp_pairs(&r, err))) goto done;
    if ((st = rp_compare(&r, err))) goto done;
    if ((st = rp_roles(&r, err))) goto done;
    for (size_t i = 0; i < r.n_pairs; i++)
        if (r.pairs[i].note && (!r.pairs[i].compared || r.pairs[i].c.n_matched == 0))
            quipu_log(QUIPU_LOG_INFO, "%s", r.pairs[i].note);

    /* plots: one row set per run */
    if ((st = quipu_mkdir_p(r.out_dir, err))) goto done;
    if ((st = rp_plots(&r, 0, &r.plots, err))) goto done;
    if ((st = rp_role_plots(&r, err))) goto done;
    if ((st = rp_change_plots(&r, err))) goto done;
    if ((st = rp_plots(&r, 1, &r.tpl_plots, err))) goto done;

    if (o->print) {
        if ((st = md_write(o->print, &r, 0, err))) goto done;
        fflush(o->print);
    }
    if ((st = write_file(r.out_dir, "report.md", &r, 0, err))) goto done;
    if ((st = write_file(r.out_dir, "comparison.csv", &r, 1, err))) goto done;
    {
        size_t np = r.plots.n + r.role_plots.n + r.n_change + r.tpl_plots.n;
        quipu_log(QUIPU_LOG_INFO, "wrote %s/report.md, %s/comparison.csv and %zu plot%s in %s/plots", r.out_dir, r.out_dir, np,
                  np == 1 ? "" : "s", r.out_dir);
    }
done:
    rp_free(&r);
    return st;
}

/* ---- the command line ---------------------------------------------------------------------- */

quipu_status quipu_report_main(int argc, char **argv, quipu_error *err)
{
    quipu_report_options o;
    memset(&o, 0, sizeof o);
    o.print = stdout;
    const char **runs = quipu_calloc_array((size_t)(argc > 0 ? argc : 1), sizeof *runs);
    /* metric names: one per --metric, or several comma-separated; copies live in `names` */
    char **names = quipu_calloc_array((size_t)(argc > 0 ? argc : 1), sizeof *names);
    const char **metrics = NULL;
    size_t n_runs = 0, n_names = 0, n_metrics = 0;
    quipu_status st = QUIPU_OK;
    if (!runs || !names) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto done;
    }
    int only_runs = 0;
    const char *expected = NULL; /* --expected: published numbers vs one run (report_expected.h) */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_runs || a[0] != '-' || !a[1]) {
            runs[n_runs++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_runs = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            quipu_report_usage(stdout);
            goto done;
        }
        if (!strcmp(a, "--categories")) {
            o.categories = 1;
            continue;
        }
        const char *val = NULL;
        const char *opt = NULL;
        if (!strcmp(a, "--out") || !strcmp(a, "--metric") || !strcmp(a, "--expected")) {
            opt = a;
            if (i + 1 >= argc) {
                st = quipu_error_set(err, QUIPU_ERR_INVALID, "%s needs a value (see quipu report --help)", a);
                goto done;
            }
            val = argv[++i];
        } else if (!strncmp(a, "--out=", 6)) {
            opt = "--out";
            val = a + 6;
        } else if (!strncmp(a, "--expected=", 11)) {
            opt = "--expected";
            val = a + 11;
        } else if (!strncmp(a, "--metric=", 9)) {
            opt = "--metric";
            val = a + 9;
        } else {
            st = quipu_error_set(err, QUIPU_ERR_INVALID, "unknown option '%s' (see quipu report --help)", a);
            goto done;
        }
        if (!*val) {
            st = quipu_error_set(err, QUIPU_ERR_INVALID, "%s needs a non-empty value", opt);
            goto done;
        }
        if (!strcmp(opt, "--out")) o.out_dir = val;
        else if (!strcmp(opt, "--expected")) expected = val;
        else if (!(names[n_names++] = quipu_strdup(val))) {
            st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    if (n_runs == 0) {
        st = quipu_error_set(err, QUIPU_ERR_INVALID, "no run folders given (usage: quipu report RUN_DIR... "
                                                     "[--out DIR] [--metric NAME]...)");
        goto done;
    }
    if (expected) {
        if (n_runs != 1)
            st = quipu_error_set(err, QUIPU_ERR_INVALID, "--expected compares one run folder with the published numbers, got %zu", n_runs);
        else if (n_names || o.categories)
            st = quipu_error_set(err, QUIPU_ERR_INVALID, "--expected takes one run folder and --out only (not --metric or --categories)");
        else st = quipu_report_expected(expected, runs[0], o.out_dir, o.print, err);
        goto done;
    }
    size_t cap = 0;
    for (size_t k = 0; k < n_names; k++) {
        cap++;
        for (const char *p = names[k]; *p; p++) cap += *p == ',';
    }
    metrics = quipu_calloc_array(cap + 1, sizeof *metrics);
    if (!metrics) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < n_names; k++)
        for (char *p = names[k];;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = 0;
            if (!*p) {
                st = quipu_error_set(err, QUIPU_ERR_INVALID, "empty metric name in --metric");
                goto done;
            }
            metrics[n_metrics++] = p;
            if (!comma) break;
            p = comma + 1;
        }
    o.run_dirs = runs;
    o.n_runs = n_runs;
    o.metrics = metrics;
    o.n_metrics = n_metrics;
    st = quipu_report(&o, err);
done:
    for (size_t k = 0; k < n_names; k++) free(names[k]);
    free(names);
    free(runs);
    free(metrics);
    return st;
}
