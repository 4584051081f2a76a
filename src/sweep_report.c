/* sweep_report.c — `quipu sweep report`: every model × benchmark × language × culture of a sweep
 * in one place. The runs' summary.json (and items.jsonl.zst for the paired tests) are read back
 * with run_read.h on all threads; the comparisons against the baseline come from one
 * quipu_metrics_compare_many call (the baseline prepared once, each group's draws shared) and
 * the comparison CSV writer; the plots from plot.h: per benchmark and headline metric, a model ×
 * culture heatmap and a forest plot (one row per model, one marker per language × culture, with
 * its interval). Runs without results are listed as missing, not errors: the aggregation job
 * runs after every task, failed ones included (afterany). */
#define _POSIX_C_SOURCE 200809L
#include "sweep_internal.h"

#include "plot.h"
#include "run_read.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct rep_group {
    const char *language, *culture;
    char *label; /* "language · culture" */
} rep_group;

typedef struct rep {
    const quipu_sweep *s;
    quipu_run_data *data;     /* [n_runs] */
    int *have;                /* [n_runs] 1: data read */
    char **why;               /* [n_runs] why not (heap) */
    const quipu_metric_row ***rows; /* [n_runs]: the category-"all" rows, sorted by key */
    size_t *n_rows;
    const char **metrics;     /* every metric present, in the catalogue's order */
    size_t n_metrics;
    quipu_comparison *cmp;    /* [n_runs] against the baseline */
    int *compared;
} rep;

static const char *str(const char *s) { return s ? s : ""; }

static int cmp_row(const void *pa, const void *pb) {
    const quipu_metric_row *a = *(const quipu_metric_row *const *)pa, *b = *(const quipu_metric_row *const *)pb;
    int c;
    if ((c = strcmp(str(a->benchmark), str(b->benchmark)))) return c;
    if ((c = strcmp(str(a->language), str(b->language)))) return c;
    if ((c = strcmp(str(a->culture), str(b->culture)))) return c;
    return strcmp(str(a->metric), str(b->metric));
}

/* Run i's "all" row for (benchmark, group, metric), or NULL. */
static const quipu_metric_row *find(const rep *r, int i, const char *bench, const rep_group *g, const char *metric) {
    if (!r->have[i]) return NULL;
    quipu_metric_row key = {.benchmark = bench, .language = g->language, .culture = g->culture, .metric = metric};
    const quipu_metric_row *kp = &key;
    const quipu_metric_row **hit = bsearch(&kp, r->rows[i], r->n_rows[i], sizeof *r->rows[i], cmp_row);
    return hit ? *hit : NULL;
}

/* The (language, culture) groups of a benchmark, in order of first appearance over the runs. */
static quipu_status groups_of(const rep *r, const char *bench, rep_group **out, size_t *n_out, quipu_error *err) {
    size_t cap = 0, n = 0;
    rep_group *g = NULL;
    for (int i = 0; i < r->s->n_runs; i++) {
        if (!r->have[i]) continue;
        const quipu_run_data *d = &r->data[i];
        for (size_t k = 0; k < d->n_rows; k++) {
            const quipu_metric_row *m = &d->rows[k];
            if (strcmp(str(m->category), QUIPU_METRICS_ALL_CATEGORIES) || strcmp(str(m->benchmark), bench)) continue;
            int seen = 0;
            for (size_t j = 0; j < n && !seen; j++) seen = !strcmp(g[j].language, str(m->language)) && !strcmp(g[j].culture, str(m->culture));
            if (seen) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                rep_group *ng = realloc(g, cap * sizeof *ng);
                if (!ng) goto oom;
                g = ng;
            }
            g[n].language = str(m->language);
            g[n].culture = str(m->culture);
            if (!(g[n].label = quipu_asprintf("%s \xC2\xB7 %s", g[n].language, g[n].culture))) goto oom;
            n++;
        }
    }
    *out = g;
    *n_out = n;
    return QUIPU_OK;
oom:
    for (size_t j = 0; j < n; j++) free(g[j].label);
    free(g);
    return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
}

static void groups_free(rep_group *g, size_t n) {
    for (size_t j = 0; j < n; j++) free(g[j].label);
    free(g);
}

/* ---- reading ---- */

static quipu_status rep_read(rep *r, quipu_error *err) {
    const quipu_sweep *s = r->s;
    int n = s->n_runs ? s->n_runs : 1;
    r->data = calloc((size_t)n, sizeof *r->data);
    r->have = calloc((size_t)n, sizeof *r->have);
    r->why = calloc((size_t)n, sizeof *r->why);
    r->rows = calloc((size_t)n, sizeof *r->rows);
    r->n_rows = calloc((size_t)n, sizeof *r->n_rows);
    r->cmp = calloc((size_t)n, sizeof *r->cmp);
    r->compared = calloc((size_t)n, sizeof *r->compared);
    if (!r->data || !r->have || !r->why || !r->rows || !r->n_rows || !r->cmp || !r->compared)
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    /* The runs' files are read on all threads (the items of 20 runs are 20 zstd streams of JSON
     * lines, read independently), their outcomes taken in run order afterwards. */
    quipu_status *st_of = quipu_calloc_array((size_t)n, sizeof *st_of);
    quipu_error *e_of = quipu_calloc_array((size_t)n, sizeof *e_of);
    if (!st_of || !e_of) {
        free(st_of);
        free(e_of);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < s->n_runs; i++) {
        const sweep_run *run = &s->runs[i];
        if (!run->done) continue;
        /* items only where paired tests need them */
        st_of[i] = s->baseline_index >= 0 ? quipu_run_read(run->out_dir, &r->data[i], &e_of[i])
                                          : quipu_run_read_summary(run->out_dir, &r->data[i], &e_of[i]);
    }
    quipu_status bad = QUIPU_OK;
    for (int i = 0; i < s->n_runs && !bad; i++) {
        const sweep_run *run = &s->runs[i];
        if (!run->done) {
            /* a run without its completion marker may have stale or partial files: left out */
            r->why[i] = quipu_strdup("no results yet (quipu sweep status says why)");
            if (!r->why[i]) bad = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            continue;
        }
        quipu_status st = st_of[i];
        if (st == QUIPU_ERR_NOMEM) {
            bad = quipu_error_set(err, st, "%s", e_of[i].msg);
            break;
        }
        if (st) {
            quipu_log(QUIPU_LOG_WARN, "%s", e_of[i].msg);
            if (!(r->why[i] = quipu_strdup(e_of[i].msg))) bad = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            continue;
        }
        r->have[i] = 1;
        const quipu_run_data *d = &r->data[i];
        r->rows[i] = quipu_calloc_array(d->n_rows ? d->n_rows : 1, sizeof *r->rows[i]);
        if (!r->rows[i]) {
            bad = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < d->n_rows; k++)
            if (!strcmp(str(d->rows[k].category), QUIPU_METRICS_ALL_CATEGORIES)) r->rows[i][r->n_rows[i]++] = &d->rows[k];
        qsort(r->rows[i], r->n_rows[i], sizeof *r->rows[i], cmp_row);
    }
    free(st_of);
    free(e_of);
    if (bad) return bad;
    /* the metrics present, in the catalogue's order */
    size_t nm = 0;
    while (quipu_metric_name((int)nm)) nm++;
    r->metrics = quipu_calloc_array(nm + 1, sizeof *r->metrics);
    if (!r->metrics) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < nm; k++) {
        const char *m = quipu_metric_name((int)k);
        int present = 0;
        for (int i = 0; i < s->n_runs && !present; i++)
            for (size_t j = 0; j < r->n_rows[i] && !present; j++) present = !strcmp(str(r->rows[i][j]->metric), m);
        if (present) r->metrics[r->n_metrics++] = m;
    }
    return QUIPU_OK;
}

static quipu_status rep_compare(rep *r, quipu_error *err) {
    const quipu_sweep *s = r->s;
    int b = s->baseline_index;
    if (b < 0 || !r->have[b] || !r->data[b].has_items || r->data[b].n_models != 1) return QUIPU_OK;
    const quipu_run_model *ma = &r->data[b].models[0];
    /* every model against the baseline in one call: the baseline is prepared once and the
     * resampling of each group is shared (the same numbers as one comparison at a time) */
    quipu_run_items a = {ma->items, ma->n_items, ma->records, ma->n_items};
    quipu_run_items *bs = quipu_calloc_array((size_t)s->n_runs, sizeof *bs);
    quipu_comparison *cs = quipu_calloc_array((size_t)s->n_runs, sizeof *cs);
    int *idx = quipu_calloc_array((size_t)s->n_runs, sizeof *idx);
    if (!bs || !cs || !idx) {
        free(bs);
        free(cs);
        free(idx);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    size_t nb = 0;
    for (int i = 0; i < s->n_runs; i++) {
        if (i == b || !r->have[i] || !r->data[i].has_items || r->data[i].n_models != 1) continue;
        const quipu_run_model *mb = &r->data[i].models[0];
        bs[nb] = (quipu_run_items){mb->items, mb->n_items, mb->records, mb->n_items};
        idx[nb++] = i;
    }
    quipu_metrics_options opt = r->data[b].opt;
    opt.threads = 0;
    quipu_status st = quipu_metrics_compare_many(cs, &a, bs, nb, &opt, err);
    if (!st)
        for (size_t k = 0; k < nb; k++) {
            r->cmp[idx[k]] = cs[k];
            r->compared[idx[k]] = 1;
        }
    free(bs);
    free(cs);
    free(idx);
    return st;
}

static void rep_free(rep *r) {
    const quipu_sweep *s = r->s;
    for (int i = 0; i < s->n_runs; i++) {
        if (r->data) quipu_run_data_free(&r->data[i]);
        if (r->why) free(r->why[i]);
        if (r->rows) free(r->rows[i]);
        if (r->cmp && r->compared && r->compared[i]) quipu_comparison_free(&r->cmp[i]);
    }
    free(r->data);
    free(r->have);
    free(r->why);
    free(r->rows);
    free(r->n_rows);
    free(r->metrics);
    free(r->cmp);
    free(r->compared);
}

/* ---- files ---- */

static FILE *open_out(const char *dir, const char *name, char **path, quipu_error *err) {
    *path = quipu_asprintf("%s/%s", dir, name);
    if (!*path) {
        quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        return NULL;
    }
    FILE *f = fopen(*path, "wb");
    if (!f) quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", *path, strerror(errno));
    return f;
}

static quipu_status close_out(FILE *f, char *path, quipu_status st, quipu_error *err) {
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (!st && bad) st = quipu_error_set(err, QUIPU_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    free(path);
    return st;
}

/* File names keep [A-Za-z0-9._-]. */
static void safe(char *out, size_t cap, const char *s) {
    size_t k = 0;
    for (; *s && k + 1 < cap; s++) out[k++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_' ? *s : '_');
    out[k] = '\0';
}

/* sweep.csv: one row per model × benchmark × language × culture (category "all"), each metric's
 * value and interval in three columns; `items` is the group's largest n. */
static quipu_status write_csv(const rep *r, quipu_error *err) {
    const quipu_sweep *s = r->s;
    char *path = NULL;
    FILE *f = open_out(s->dir, "sweep.csv", &path, err);
    if (!f) {
        free(path);
        return err->code;
    }
    quipu_status st = QUIPU_OK;
    fputs("model,benchmark,language,culture,items", f);
    for (size_t k = 0; k < r->n_metrics; k++) fprintf(f, ",%s,%s_ci_low,%s_ci_high", r->metrics[k], r->metrics[k], r->metrics[k]);
    fputc('\n', f);
    for (int b = 0; b < s->cfg->n_benchmarks && !st; b++) {
        const char *bench = s->cfg->benchmarks[b].label;
        rep_group *g = NULL;
        size_t ng = 0;
        if ((st = groups_of(r, bench, &g, &ng, err))) break;
        for (int i = 0; i < s->n_runs; i++)
            for (size_t j = 0; j < ng; j++) {
                const quipu_metric_row *row[64];
                int64_t items = -1;
                int any = 0;
                for (size_t k = 0; k < r->n_metrics && k < 64; k++) {
                    row[k] = find(r, i, bench, &g[j], r->metrics[k]);
                    if (row[k]) {
                        any = 1;
                        if (row[k]->n > items) items = row[k]->n;
                    }
                }
                if (!any) continue;
                quipu_csv_write_field(f, s->runs[i].model->name);
                fputc(',', f);
                quipu_csv_write_field(f, bench);
                fputc(',', f);
                quipu_csv_write_field(f, g[j].language);
                fputc(',', f);
                quipu_csv_write_field(f, g[j].culture);
                fprintf(f, ",%lld", (long long)items);
                for (size_t k = 0; k < r->n_metrics && k < 64; k++) {
                    const double v[3] = {row[k] ? row[k]->value : NAN, row[k] ? row[k]->ci_low : NAN, row[k] ? row[k]->ci_high : NAN};
                    for (int c = 0; c < 3; c++) {
                        fputc(',', f);
                        quipu_csv_write_num(f, v[c]);
                    }
                }
                fputc('\n', f);
            }
        groups_free(g, ng);
    }
    return close_out(f, path, st, err);
}

/* Every comparison against the baseline, quipu report's columns after the two model names. */
static quipu_status write_comparison_csv(const rep *r, quipu_error *err) {
    const quipu_sweep *s = r->s;
    char *path = NULL;
    FILE *f = open_out(s->dir, "sweep_comparison.csv", &path, err);
    if (!f) {
        free(path);
        return err->code;
    }
    fputs("model_a,model_b,kind,benchmark,language,culture,category,metric,n,value_a,value_b,diff,ci_low,ci_high,p,n11,n10,n01,n00,"
          "statistic,note\n",
          f);
    for (int i = 0; i < s->n_runs; i++) {
        if (!r->compared[i]) continue;
        char *prefix = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&prefix, &len);
        if (!m) return close_out(f, path, quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"), err);
        quipu_csv_write_field(m, s->baseline);
        fputc(',', m);
        quipu_csv_write_field(m, s->runs[i].model->name);
        fputc(',', m);
        fclose(m);
        quipu_comparison_write_csv_rows(&r->cmp[i], f, prefix ? prefix : "");
        free(prefix);
    }
    return close_out(f, path, QUIPU_OK, err);
}

static const char *fmt(char *buf, size_t cap, double x, int dec) {
    if (isnan(x)) snprintf(buf, cap, "n/a");
    else snprintf(buf, cap, "%.*f", dec, x);
    return buf;
}

/* The paired difference of model i against the baseline for (benchmark, group, metric), or NULL. */
static const quipu_paired_diff *find_diff(const rep *r, int i, const char *bench, const rep_group *g, const char *metric) {
    if (!r->compared[i]) return NULL;
    const quipu_comparison *c = &r->cmp[i];
    for (size_t k = 0; k < c->n_diffs; k++) {
        const quipu_paired_diff *d = &c->diffs[k];
        if (!strcmp(str(d->benchmark), bench) && !strcmp(str(d->language), g->language) && !strcmp(str(d->culture), g->culture) &&
            !strcmp(str(d->category), QUIPU_METRICS_ALL_CATEGORIES) && !strcmp(str(d->metric), metric))
            return d;
    }
    return NULL;
}

/* ---- plots ---- */

static quipu_status plots_for(rep *r, const char *bench, const rep_group *g, size_t ng, const char *metric, const char *pdir,
                              int *wrote, quipu_error *err) {
    const quipu_sweep *s = r->s;
    const quipu_metric_display *disp = quipu_metric_display_find(metric);
    size_t nr = (size_t)s->n_runs, cells = nr * ng;
    double *v = quipu_calloc_array(cells ? cells : 1, sizeof *v), *lo = quipu_calloc_array(cells ? cells : 1, sizeof *lo),
           *hi = quipu_calloc_array(cells ? cells : 1, sizeof *hi);
    int64_t *n = quipu_calloc_array(cells ? cells : 1, sizeof *n);
    const char **rl = quipu_calloc_array(nr ? nr : 1, sizeof *rl), **cl = quipu_calloc_array(ng ? ng : 1, sizeof *cl);
    /* the forest: transposed (one series per group, one row per model) */
    double *tv = quipu_calloc_array(cells ? cells : 1, sizeof *tv), *tlo = quipu_calloc_array(cells ? cells : 1, sizeof *tlo),
           *thi = quipu_calloc_array(cells ? cells : 1, sizeof *thi);
    int64_t *tn = quipu_calloc_array(cells ? cells : 1, sizeof *tn);
    quipu_plot_row *prow = quipu_calloc_array(nr ? nr : 1, sizeof *prow);
    quipu_plot_series *ser = quipu_calloc_array(ng ? ng : 1, sizeof *ser);
    char *title = NULL, *sub = NULL, *file = NULL;
    quipu_status st = QUIPU_OK;
    if (!v || !lo || !hi || !n || !rl || !cl || !tv || !tlo || !thi || !tn || !prow || !ser) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto done;
    }
    int any = 0;
    for (size_t i = 0; i < nr; i++) {
        rl[i] = s->runs[i].model->name;
        prow[i] = (quipu_plot_row){s->runs[i].model->name, 0};
        for (size_t j = 0; j < ng; j++) {
            const quipu_metric_row *m = find(r, (int)i, bench, &g[j], metric);
            size_t c = i * ng + j, t = j * nr + i;
            v[c] = tv[t] = m ? m->value : NAN;
            lo[c] = tlo[t] = m ? m->ci_low : NAN;
            hi[c] = thi[t] = m ? m->ci_high : NAN;
            n[c] = tn[t] = m ? m->n : -1;
            any |= m && !isnan(m->value);
        }
    }
    if (!any) goto done;
    for (size_t j = 0; j < ng; j++) {
        cl[j] = g[j].label;
        ser[j] = (quipu_plot_series){g[j].label, tv + j * nr, tlo + j * nr, thi + j * nr, tn + j * nr};
    }
    char sb[128], sm[128];
    safe(sb, sizeof sb, bench);
    safe(sm, sizeof sm, metric);
    title = quipu_asprintf("%s \xE2\x80\x94 %s", bench, metric);
    sub = quipu_asprintf("sweep %s: %s", s->cfg->name, disp ? disp->description : metric);
    if (!title || !sub) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto done;
    }
    quipu_heatmap h = {.title = title, .subtitle = sub,
                       .footnote = "Cells: the value over every category of the language \xC2\xB7 culture; hover for the interval and n.",
                       .row_labels = rl, .col_labels = cl, .n_rows = nr, .n_cols = ng, .value = v, .ci_low = lo, .ci_high = hi, .n = n,
                       .reference = disp ? disp->reference : NAN, .reference_label = disp ? disp->reference_label : NULL,
                       .lo = disp ? disp->lo : NAN, .hi = disp ? disp->hi : NAN, .decimals = disp ? disp->decimals : 3};
    if (!(file = quipu_asprintf("%s/heatmap_%s__%s.svg", pdir, sb, sm))) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    if (!st) st = quipu_heatmap_write_svg(file, &h, err);
    free(file);
    file = NULL;
    if (st) goto done;
    char ci[64] = "";
    for (size_t i = 0; i < nr && !*ci; i++)
        if (r->have[i]) snprintf(ci, sizeof ci, "%g%% bootstrap intervals", r->data[i].opt.ci_level * 100);
    quipu_plot p = {.title = title, .subtitle = sub, .x_label = metric, .footnote = *ci ? ci : NULL,
                    .reference = disp ? disp->reference : NAN, .reference_label = disp ? disp->reference_label : NULL,
                    .lo = disp ? disp->lo : NAN, .hi = disp ? disp->hi : NAN, .decimals = disp ? disp->decimals : 3, .rows = prow,
                    .n_rows = nr};
    if (!(file = quipu_asprintf("%s/forest_%s__%s.svg", pdir, sb, sm))) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    if (!st) st = quipu_plot_write_svg(file, &p, ser, ng, err);
    if (!st) *wrote = 1;
done:
    free(v);
    free(lo);
    free(hi);
    free(n);
    free(rl);
    free(cl);
    free(tv);
    free(tlo);
    free(thi);
    free(tn);
    free(prow);
    free(ser);
    free(title);
    free(sub);
    free(file);
    return st;
}

/* ---- sweep.md (and the plots it links) ---- */

static quipu_status write_md(rep *r, quipu_error *err) {
    const quipu_sweep *s = r->s;
    char *pdir = quipu_asprintf("%s/plots", s->dir);
    if (!pdir) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    quipu_status st = quipu_mkdir_p(pdir, err);
    char *path = NULL;
    FILE *f = st ? NULL : open_out(s->dir, "sweep.md", &path, err);
    if (!f) {
        free(pdir);
        free(path);
        return err->code;
    }
    int have = 0;
    for (int i = 0; i < s->n_runs; i++) have += r->have[i];
    fprintf(f, "# Sweep %s\n\n%d model%s \xC3\x97 %d benchmark%s; results from %d of %d runs. Written by `quipu sweep report %s`.\n\n",
            s->cfg->name, s->n_runs, s->n_runs == 1 ? "" : "s", s->cfg->n_benchmarks, s->cfg->n_benchmarks == 1 ? "" : "s", have, s->n_runs,
            s->path);
    fputs("| task | model | backend | dtype | tp | results |\n|---|---|---|---|---|---|\n", f);
    for (int i = 0; i < s->n_runs; i++) {
        const quipu_config_model *m = s->runs[i].model;
        fprintf(f, "| %d | %s%s | %s | %s | %lld | ", i, m->name, i == s->baseline_index ? " (baseline)" : "",
                quipu_cfg_backend_name(m->backend), quipu_cfg_dtype_name(m->dtype), (long long)m->tensor_parallel);
        if (r->have[i]) {
            int64_t items = 0;
            for (size_t b = 0; b < r->data[i].n_benchmarks; b++) items += r->data[i].benchmarks[b].items;
            fprintf(f, "runs/%s (%lld items) |\n", m->name, (long long)items);
        } else {
            fprintf(f, "missing: %s |\n", r->why[i] ? r->why[i] : "");
        }
    }
    if (s->baseline_index >= 0 && !r->have[s->baseline_index])
        fprintf(f, "\nThe baseline %s has no results: no paired comparisons.\n", s->baseline);
    fputc('\n', f);
    for (int b = 0; b < s->cfg->n_benchmarks && !st; b++) {
        const char *bench = s->cfg->benchmarks[b].label;
        rep_group *g = NULL;
        size_t ng = 0;
        if ((st = groups_of(r, bench, &g, &ng, err))) break;
        fprintf(f, "## %s\n\n", bench);
        if (!ng) fputs("No results.\n\n", f);
        for (size_t k = 0; quipu_headline_metrics[k] && ng && !st; k++) {
            const char *metric = quipu_headline_metrics[k];
            int wrote = 0;
            if ((st = plots_for(r, bench, g, ng, metric, pdir, &wrote, err))) break;
            if (!wrote) continue;
            const quipu_metric_display *disp = quipu_metric_display_find(metric);
            int dec = disp ? disp->decimals : 3;
            char sb[128], sm[128], rv[64];
            safe(sb, sizeof sb, bench);
            safe(sm, sizeof sm, metric);
            fprintf(f, "### %s\n\n%s", metric, disp ? disp->description : "");
            if (disp && isfinite(disp->reference)) fprintf(f, " (%s: %s)", str(disp->reference_label), fmt(rv, sizeof rv, disp->reference, dec));
            fprintf(f, ".\n\n![heatmap](plots/heatmap_%s__%s.svg) ![forest plot](plots/forest_%s__%s.svg)\n\n| model |", sb, sm, sb, sm);
            for (size_t j = 0; j < ng; j++) fprintf(f, " %s |", g[j].label);
            fputs("\n|---|", f);
            for (size_t j = 0; j < ng; j++) fputs("---|", f);
            fputc('\n', f);
            for (int i = 0; i < s->n_runs; i++) {
                fprintf(f, "| %s |", s->runs[i].model->name);
                for (size_t j = 0; j < ng; j++) {
                    const quipu_metric_row *m = find(r, i, bench, &g[j], metric);
                    char a[64], l[64], h[64];
                    if (!m) fputs(" |", f);
                    else if (isnan(m->ci_low) || isnan(m->ci_high)) fprintf(f, " %s (n=%lld) |", fmt(a, sizeof a, m->value, dec), (long long)m->n);
                    else
                        fprintf(f, " %s [%s, %s] (n=%lld) |", fmt(a, sizeof a, m->value, dec), fmt(l, sizeof l, m->ci_low, dec),
                                fmt(h, sizeof h, m->ci_high, dec), (long long)m->n);
                }
                fputc('\n', f);
            }
            fputc('\n', f);
            /* against the baseline, on the items both scored */
            int any = 0;
            for (int i = 0; i < s->n_runs; i++) any |= r->compared[i];
            if (!any) continue;
            fprintf(f, "Against the baseline %s (B \xE2\x88\x92 A on the items both scored, paired bootstrap interval and p):\n\n| model |",
                    s->baseline);
            for (size_t j = 0; j < ng; j++) fprintf(f, " %s |", g[j].label);
            fputs("\n|---|", f);
            for (size_t j = 0; j < ng; j++) fputs("---|", f);
            fputc('\n', f);
            for (int i = 0; i < s->n_runs; i++) {
                if (!r->compared[i]) continue;
                fprintf(f, "| %s |", s->runs[i].model->name);
                for (size_t j = 0; j < ng; j++) {
                    const quipu_paired_diff *d = find_diff(r, i, bench, &g[j], metric);
                    char a[64], l[64], h[64];
                    if (!d) fputs(" |", f);
                    else
                        fprintf(f, " %s [%s, %s], p = %.3g |", fmt(a, sizeof a, d->diff, dec), fmt(l, sizeof l, d->ci_low, dec),
                                fmt(h, sizeof h, d->ci_high, dec), d->p_boot);
                }
                fputc('\n', f);
            }
            fputc('\n', f);
        }
        groups_free(g, ng);
    }
    if (!st) {
        fputs("Every model \xC3\x97 benchmark \xC3\x97 language \xC3\x97 culture with every metric and its interval: sweep.csv", f);
        if (s->baseline_index >= 0) fputs("; every paired test against the baseline (each category too, McNemar on per-item decisions): sweep_comparison.csv", f);
        fputs(". Each run's own tables, per category: runs/<model>/summary.md.\n", f);
    }
    free(pdir);
    return close_out(f, path, st, err);
}

quipu_status sweep_report(const quipu_sweep *s, quipu_error *err) {
    double t0 = quipu_time_now();
    rep r;
    memset(&r, 0, sizeof r);
    r.s = s;
    quipu_status st = quipu_mkdir_p(s->dir, err);
    if (!st) st = rep_read(&r, err);
    if (!st) st = rep_compare(&r, err);
    if (!st) st = write_csv(&r, err);
    if (!st && s->baseline_index >= 0) st = write_comparison_csv(&r, err);
    if (!st) st = write_md(&r, err);
    if (!st) {
        int have = 0;
        for (int i = 0; i < s->n_runs; i++) have += r.have[i];
        quipu_log(QUIPU_LOG_INFO, "sweep report: %d of %d runs, written to %s/sweep.md, sweep.csv%s and plots/ in %.2f s", have, s->n_runs,
                  s->dir, s->baseline_index >= 0 ? ", sweep_comparison.csv" : "", quipu_time_now() - t0);
    }
    rep_free(&r);
    return st;
}
