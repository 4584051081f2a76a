/* run_write.c — `quipu run`'s results: summary.json (through the metrics' own JSON writer),
 * summary.md, summary.csv, items.jsonl.zst, plots/ and manifest.json, written by rank 0 into the
 * output folder, each through a temporary file and a rename (docs/results.md). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "adapter.h"
#include "run_internal.h"

/* ------------------------------------------------------------------ phase: results */

static quipu_status write_file(const char *dir, const char *name, const void *data, size_t len, quipu_error *err) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int bad = w != len || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) { bad = 1; e = errno; }
    if (bad || rename(tmp, path) != 0) {
        if (!bad) e = errno;
        unlink(tmp);
        return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return QUIPU_OK;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->p && (size_t)k < b->cap - b->n) { b->n += (size_t)k; return; }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + (size_t)k + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
}

static void sb_json_str(sbuf *b, const char *s) {
    json_t *j = json_string(s ? s : "");
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    sb_printf(b, "%s", t ? t : "\"\"");
    free(t);
    json_decref(j);
}

static const char *cond_name(quipu_condition c) { return c == QUIPU_COND_AMBIG ? "ambig" : c == QUIPU_COND_DISAMBIG ? "disambig" : ""; }
static const char *pol_name(quipu_polarity p) { return p == QUIPU_POL_NEG ? "neg" : p == QUIPU_POL_NONNEG ? "nonneg" : ""; }

static int metric_wanted(const quipu_config *cfg, const char *metric) {
    if (cfg->metrics.all) return 1;
    for (int i = 0; i < cfg->metrics.names.n; i++)
        if (!strcmp(cfg->metrics.names.v[i], metric)) return 1;
    return 0;
}

/* items sorted for output: by benchmark (config order), then id bytewise */
static run_state *g_sort_state;
static int cmp_item_out(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const quipu_item *x = &g_sort_state->items[i], *y = &g_sort_state->items[j];
    size_t bi = 0, bj = 0;
    for (int k = 0; k < g_sort_state->cfg->n_benchmarks; k++) {
        if (i >= g_sort_state->bench_first[k] && i < g_sort_state->bench_first[k] + g_sort_state->bench_count[k]) bi = (size_t)k;
        if (j >= g_sort_state->bench_first[k] && j < g_sort_state->bench_first[k] + g_sort_state->bench_count[k]) bj = (size_t)k;
    }
    if (bi != bj) return bi < bj ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* One row of summary.json's "metrics" (or, with its template after the category, "templates"). */
static json_t *metric_row_json(const char *model, const quipu_metric_result *x) {
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "benchmark", json_string(x->benchmark));
    json_object_set_new(o, "language", json_string(x->language));
    json_object_set_new(o, "culture", json_string(x->culture));
    json_object_set_new(o, "category", json_string(x->category));
    if (x->template_id) json_object_set_new(o, "template", json_string(x->template_id));
    json_object_set_new(o, "metric", json_string(x->metric));
    json_object_set_new(o, "value", isnan(x->value) ? json_null() : json_real(x->value));
    json_object_set_new(o, "ci_low", isnan(x->ci_low) ? json_null() : json_real(x->ci_low));
    json_object_set_new(o, "ci_high", isnan(x->ci_high) ? json_null() : json_real(x->ci_high));
    json_object_set_new(o, "n", json_integer(x->n));
    if (x->note) json_object_set_new(o, "note", json_string(x->note));
    return o;
}

/* "value | CI | n |" cells of a metric row, "–" where undefined; with_note adds its note cell
 * (why a value or an interval is missing or partial). */
static void sb_value_cells(sbuf *b, const quipu_metric_result *x, int with_note) {
    if (isnan(x->value)) sb_printf(b, "– | – | %lld |", (long long)x->n);
    else if (isnan(x->ci_low)) sb_printf(b, "%.3f | – | %lld |", x->value, (long long)x->n);
    else sb_printf(b, "%.3f | [%.3f, %.3f] | %lld |", x->value, x->ci_low, x->ci_high, (long long)x->n);
    if (with_note) sb_printf(b, " %s |", x->note ? x->note : "");
    sb_printf(b, "\n");
}

quipu_status run_write_results(run_state *s, quipu_error *err) {
    quipu_config *cfg = s->cfg;
    const char *dir = cfg->output;
    double t0 = quipu_time_now();
    quipu_status st = QUIPU_OK;
    size_t n = s->n_items;
    quipu_metrics_options mo;
    quipu_metrics_options_init(&mo);
    mo.norm = cfg->metrics.normalization == QUIPU_CFG_NORM_PER_TOKEN ? QUIPU_NORM_TOKEN
            : cfg->metrics.normalization == QUIPU_CFG_NORM_PER_BYTE  ? QUIPU_NORM_BYTE
                                                                      : QUIPU_NORM_SUM;
    mo.n_boot = (int)cfg->metrics.bootstrap;
    mo.seed = cfg->seed;
    mo.ci_level = cfg->metrics.confidence;
    json_t *summary = json_object(), *jmetrics = json_array(), *jmodels = json_array(), *jbench = json_array();
    json_t *jtemplates = json_array(); /* the per-template rows: written only when items carry template ids */
    json_t *jspread = json_array();    /* the spread across templates: written only when a group has 2+ */
    json_t *jswap = json_array();      /* name-swap consistency: written only when items carry swap sets */
    json_t *jnonfinite = json_array(); /* items left out of the metrics: a non-finite log-prob (written only when any) */
    quipu_item_record *finite = malloc((n ? n : 1) * sizeof *finite);
    int tcol = 0;                      /* summary.csv gains a `template` column then */
    for (size_t i = 0; i < n && !tcol; i++) tcol = s->items[i].template_id && *s->items[i].template_id;
    sbuf md = {0}, items = {0}, con = {0};
    char *csv_model = NULL;
    const char *con_model = NULL;
    char *csv_text = NULL;
    size_t csv_len = 0;
    FILE *csv = open_memstream(&csv_text, &csv_len);
    quipu_metric_row *plot_rows = NULL;
    size_t n_plot_rows = 0;
    quipu_metric_results *kept = NULL;
    int n_kept = 0;
    if (csv) fputs(tcol ? "model,benchmark,language,culture,category,metric,value,ci_low,ci_high,n,note,template\n"
                        : "model,benchmark,language,culture,category,metric,value,ci_low,ci_high,n,note\n", csv);
    sb_printf(&md, "# %s\n\nquipu %s, config hash `%.16s`, seed %llu, scores: %s log-likelihood, %d bootstrap resamples, %.0f%% intervals.\n",
              cfg->name, QUIPU_VERSION, s->hash, (unsigned long long)cfg->seed, quipu_score_norm_name(mo.norm), mo.n_boot,
              100.0 * mo.ci_level);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!summary || !jmetrics || !order || !csv || !finite || !jnonfinite) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); goto done; }
    for (size_t i = 0; i < n; i++) order[i] = i;
    g_sort_state = s;
    qsort(order, n, sizeof *order, cmp_item_out);
    for (int mi = 0; mi < cfg->n_models && !st; mi++) {
        const char *mname = cfg->models[mi].name;
        /* summary.csv rows start with the model's cell */
        free(csv_model);
        csv_model = NULL;
        size_t csv_model_len = 0;
        FILE *cm = open_memstream(&csv_model, &csv_model_len);
        if (cm) {
            quipu_csv_write_field(cm, mname);
            fputc(',', cm);
            fclose(cm);
        }
        if (!csv_model) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); goto done; }
        json_t *jm = json_object();
        json_object_set_new(jm, "name", json_string(mname));
        json_object_set_new(jm, "path", json_string(cfg->models[mi].path));
        json_array_append_new(jmodels, jm);
        /* every item must have a record now */
        for (size_t i = 0; i < n; i++)
            if (!s->have[mi][i]) {
                st = quipu_error_set(err, QUIPU_ERR_INTERNAL, "model %s: item '%s' was not scored by any rank", mname, s->items[i].id);
                goto done;
            }
        /* the metrics over the items whose log-probs are all finite; the others are listed */
        size_t n_fin = 0;
        for (size_t i = 0; i < n; i++) {
            const quipu_item_record *rc = &s->records[mi][i];
            int c = 0;
            while (c < rc->n_choices && isfinite(rc->logprob[c])) c++;
            if (c == rc->n_choices) {
                finite[n_fin++] = *rc;
                continue;
            }
            json_t *o = json_object();
            json_object_set_new(o, "model", json_string(mname));
            json_object_set_new(o, "benchmark", json_string(s->items[i].benchmark));
            json_object_set_new(o, "id", json_string(s->items[i].id));
            json_object_set_new(o, "choice", json_integer(c));
            json_array_append_new(jnonfinite, o);
        }
        quipu_metric_results mr;
        double tm = quipu_time_now();
        st = quipu_metrics_compute(&mr, s->items, n, finite, n_fin, &mo, err);
        s->t_metrics += quipu_time_now() - tm;
        if (st) goto done;
        const char *last_bench = NULL;
        for (size_t r = 0; r < mr.n_rows; r++) {
            const quipu_metric_result *x = &mr.rows[r];
            if (!metric_wanted(cfg, x->metric)) continue;
            json_array_append_new(jmetrics, metric_row_json(mname, x));
            quipu_metric_result_write_csv_row_t(csv, csv_model, x, tcol);
            if (!last_bench || strcmp(last_bench, x->benchmark)) {
                sb_printf(&md, "\n## %s — %s\n\n| language | culture | category | metric | value | %.0f%% CI | n | note |\n|---|---|---|---|---|---|---|---|\n",
                          mname, x->benchmark, 100.0 * mo.ci_level);
                last_bench = x->benchmark;
            }
            sb_printf(&md, "| %s | %s | %s | %s | ", x->language, x->culture, x->category, x->metric);
            sb_value_cells(&md, x, 1);
            /* the console gets the per-culture table: every benchmark x language x culture, all categories together */
            if (!strcmp(x->category, "all")) {
                if (!con_model || strcmp(con_model, mname)) {
                    sb_printf(&con, "\n## %s: per-culture results (all categories together)\n\n"
                                    "| benchmark | language | culture | metric | value | %.0f%% CI | n |\n|---|---|---|---|---|---|---|\n",
                              mname, 100.0 * mo.ci_level);
                    con_model = mname;
                }
                sb_printf(&con, "| %s | %s | %s | %s | ", x->benchmark, x->language, x->culture, x->metric);
                sb_value_cells(&con, x, 0);
            }
        }
        /* the per-template breakdown: summary.json "templates", a table per benchmark, csv rows */
        last_bench = NULL;
        for (size_t r = 0; r < mr.n_tpl_rows; r++) {
            const quipu_metric_result *x = &mr.tpl_rows[r];
            if (!metric_wanted(cfg, x->metric)) continue;
            json_array_append_new(jtemplates, metric_row_json(mname, x));
            quipu_metric_result_write_csv_row_t(csv, csv_model, x, tcol);
            if (!last_bench || strcmp(last_bench, x->benchmark)) {
                sb_printf(&md, "\n## %s — %s, per template\n\n| language | culture | template | metric | value | %.0f%% CI | n | note |\n|---|---|---|---|---|---|---|---|\n",
                          mname, x->benchmark, 100.0 * mo.ci_level);
                last_bench = x->benchmark;
            }
            sb_printf(&md, "| %s | %s | %s | %s | ", x->language, x->culture, x->template_id, x->metric);
            sb_value_cells(&md, x, 1);
        }
        /* the spread across templates: summary.json "template_spread", one table per model */
        for (size_t r = 0, head = 0; r < mr.n_spread; r++) {
            const quipu_template_spread *x = &mr.spread[r];
            if (!metric_wanted(cfg, x->metric)) continue;
            json_array_append_new(jspread, quipu_template_spread_to_json(mname, x));
            if (!head++)
                sb_printf(&md, "\n## %s — spread across templates\n\n| benchmark | language | culture | metric | templates | min | max | range [%.0f%% CI] | sd [%.0f%% CI] | note |\n|---|---|---|---|---|---|---|---|---|---|\n",
                          mname, 100.0 * mo.ci_level, 100.0 * mo.ci_level);
            sb_printf(&md, "| %s | %s | %s | %s | %lld | ", x->benchmark, x->language, x->culture, x->metric, (long long)x->n_templates);
            if (isnan(x->min)) sb_printf(&md, "– | – | ");
            else sb_printf(&md, "%.3f (%s) | %.3f (%s) | ", x->min, x->min_template, x->max, x->max_template);
            if (isnan(x->range)) sb_printf(&md, "– | – | ");
            else if (isnan(x->sd_ci_low)) sb_printf(&md, "%.3f | %.3f | ", x->range, x->sd);
            else sb_printf(&md, "%.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] | ", x->range, x->range_ci_low, x->range_ci_high, x->sd,
                           x->sd_ci_low, x->sd_ci_high);
            sb_printf(&md, "%s |\n", x->note ? x->note : "");
        }
        /* name-swap consistency: summary.json "name_swap", one table per model */
        {
            quipu_swap_row *sw = NULL;
            size_t n_sw = 0;
            if ((st = quipu_name_swap(s->items, n, finite, n_fin, &mo, &sw, &n_sw, err))) {
                quipu_metric_results_free(&mr);
                goto done;
            }
            for (size_t r = 0; r < n_sw; r++) {
                const quipu_swap_row *x = &sw[r];
                json_array_append_new(jswap, quipu_swap_row_to_json(mname, x));
                if (!r)
                    sb_printf(&md, "\n## %s — name-swap consistency\n\nHow often the decision changes when only a name of the same group "
                                   "changes (docs/metrics.md).\n\n| benchmark | language | culture | slot | sets | comparisons | flips | "
                                   "flip rate [%.0f%% CI] | consistent sets |\n|---|---|---|---|---|---|---|---|---|\n",
                              mname, 100.0 * mo.ci_level);
                sb_printf(&md, "| %s | %s | %s | %s | %lld | %lld | %lld | ", x->benchmark, x->language, x->culture, x->slot,
                          (long long)x->n_sets, (long long)x->n_comparisons, (long long)x->n_flips);
                if (isnan(x->flip_rate)) sb_printf(&md, "– | ");
                else if (isnan(x->ci_low)) sb_printf(&md, "%.3f | ", x->flip_rate);
                else sb_printf(&md, "%.3f [%.3f, %.3f] | ", x->flip_rate, x->ci_low, x->ci_high);
                sb_printf(&md, "%lld |\n", (long long)x->n_consistent);
            }
            quipu_swap_rows_free(sw, n_sw);
        }
        /* plots: rows of every model, written once all models are done */
        {
            quipu_metric_row *nr = realloc(plot_rows, (n_plot_rows + mr.n_rows) * sizeof *nr);
            if (!nr) { quipu_metric_results_free(&mr); st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); goto done; }
            plot_rows = nr;
            quipu_metric_rows_from_results(plot_rows + n_plot_rows, mname, &mr);
            n_plot_rows += mr.n_rows;
            quipu_metric_results *keep = realloc(kept, (size_t)(n_kept + 1) * sizeof *keep);
            if (!keep) { quipu_metric_results_free(&mr); st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory"); goto done; }
            kept = keep;
            kept[n_kept++] = mr;
        }
        /* items.jsonl */
        for (size_t k = 0; k < n; k++) {
            size_t i = order[k];
            const quipu_item *it = &s->items[i];
            const quipu_item_record *rc = &s->records[mi][i];
            sb_printf(&items, "{\"model\": ");
            sb_json_str(&items, mname);
            sb_printf(&items, ", \"benchmark\": ");
            sb_json_str(&items, it->benchmark);
            sb_printf(&items, ", \"id\": ");
            sb_json_str(&items, it->id);
            sb_printf(&items, ", \"language\": ");
            sb_json_str(&items, it->language);
            sb_printf(&items, ", \"culture\": ");
            sb_json_str(&items, it->culture);
            sb_printf(&items, ", \"category\": ");
            sb_json_str(&items, it->category);
            sb_printf(&items, ", \"kind\": \"%s\", \"group\": ",
                      it->kind == QUIPU_ITEM_PAIR    ? "pair"
                      : it->kind == QUIPU_ITEM_ASSOC ? "assoc"
                      : it->kind == QUIPU_ITEM_TEXT  ? "text"
                                                     : "mc");
            sb_json_str(&items, it->group);
            sb_printf(&items, ", \"label\": %d, \"condition\": \"%s\", \"polarity\": \"%s\", \"unknown_choice\": %d, \"target_choice\": %d, "
                              "\"other_choice\": %d, \"biased_choice\": %d, \"biased_mask\": %u, \"roles\": ",
                      it->kind == QUIPU_ITEM_PAIR ? -1 : it->label, cond_name(it->condition), pol_name(it->polarity),
                      it->kind == QUIPU_ITEM_PAIR ? -1 : it->unknown_choice, it->kind == QUIPU_ITEM_PAIR ? -1 : it->target_choice,
                      it->kind == QUIPU_ITEM_PAIR ? -1 : it->other_choice, it->kind == QUIPU_ITEM_PAIR ? -1 : it->biased_choice,
                      (unsigned)it->biased_mask);
            char roles[QUIPU_MAX_CHOICES + 1] = {0};
            for (int c = 0; c < QUIPU_MAX_CHOICES && it->roles[c]; c++) roles[c] = it->roles[c];
            sb_json_str(&items, roles);
            sb_printf(&items, ", \"direction\": %d", it->direction);
            /* only where they apply, so that other items' lines stay as they were */
            if (it->kind == QUIPU_ITEM_ASSOC) sb_printf(&items, ", \"weight\": %.17g", it->weight + 0.0);
            if (it->template_id && *it->template_id) {
                sb_printf(&items, ", \"template\": ");
                sb_json_str(&items, it->template_id);
            }
            if (it->variant > 0) sb_printf(&items, ", \"variant\": %d", it->variant);
            sb_printf(&items, ", \"lp\": [");
            for (int c = 0; c < rc->n_choices; c++) {
                if (isfinite(rc->logprob[c])) sb_printf(&items, c ? ", %.17g" : "%.17g", rc->logprob[c] + 0.0);
                else sb_printf(&items, c ? ", null" : "null"); /* left out of the metrics (summary.json nonfinite) */
            }
            sb_printf(&items, "], \"nt\": [");
            for (int c = 0; c < rc->n_choices; c++) sb_printf(&items, c ? ", %d" : "%d", rc->n_tokens[c]);
            sb_printf(&items, "], \"nb\": [");
            for (int c = 0; c < rc->n_choices; c++) sb_printf(&items, c ? ", %d" : "%d", rc->n_bytes[c]);
            sb_printf(&items, "], \"g\": [");
            for (int c = 0; c < rc->n_choices; c++) sb_printf(&items, c ? ", %d" : "%d", rc->is_greedy[c]);
            sb_printf(&items, "]");
            if (cfg->item_text) {
                /* what was scored: the prompt and each choice as the model saw it, in record order */
                const run_unit *u = &s->units[i];
                const char *text[QUIPU_MAX_CHOICES] = {0};
                for (int c = 0; c < u->n_cont; c++)
                    if (u->map[c] >= 0 && u->map[c] < QUIPU_MAX_CHOICES) text[u->map[c]] = u->cont[c];
                sb_printf(&items, ", \"prompt\": ");
                sb_json_str(&items, u->prompt);
                if (u->prompts[0]) { /* a prompt per choice (association items), in record order */
                    const char *pr[QUIPU_MAX_CHOICES] = {0};
                    for (int c = 0; c < u->n_cont; c++)
                        if (u->map[c] >= 0 && u->map[c] < QUIPU_MAX_CHOICES) pr[u->map[c]] = u->prompts[c];
                    sb_printf(&items, ", \"prompts\": [");
                    for (int c = 0; c < rc->n_choices; c++) {
                        if (c) sb_printf(&items, ", ");
                        sb_json_str(&items, pr[c] ? pr[c] : "");
                    }
                    sb_printf(&items, "]");
                }
                sb_printf(&items, ", \"choices\": [");
                for (int c = 0; c < rc->n_choices; c++) {
                    if (c) sb_printf(&items, ", ");
                    sb_json_str(&items, text[c] ? text[c] : "");
                }
                sb_printf(&items, "]");
            }
            sb_printf(&items, "}\n");
        }
    }
    if (fclose(csv) != 0) csv_text = NULL;
    csv = NULL;
    if (!csv_text || md.oom || items.oom) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory writing results"); goto done; }
    for (int b = 0; b < cfg->n_benchmarks; b++) {
        json_t *o = json_object();
        json_object_set_new(o, "label", json_string(s->labels[b]));
        json_object_set_new(o, "name", json_string(cfg->benchmarks[b].name));
        json_object_set_new(o, "items", json_integer((json_int_t)s->bench_count[b]));
        json_object_set_new(o, "rows_skipped", json_integer((json_int_t)s->reports[b].rows_skipped));
        json_object_set_new(o, "rows_excluded", json_integer((json_int_t)s->reports[b].rows_excluded));
        {
            /* the role `quipu report` reads, only where the reader's default (from the name; neutral
               for text items) would not give it: summaries without roles stay as they were */
            const quipu_config_benchmark *cb = &cfg->benchmarks[b];
            quipu_cfg_format f = cb->format == QUIPU_CFG_FORMAT_TEXT ? QUIPU_CFG_FORMAT_TEXT : QUIPU_CFG_FORMAT_BUILTIN;
            if (cb->role != quipu_cfg_role_default(cb->name, f))
                json_object_set_new(o, "role", json_string(quipu_cfg_role_name(cb->role)));
        }
        if (s->reports[b].rows_skipped) {
            json_t *why = json_array();
            for (size_t k = 0; k < s->reports[b].n_reasons; k++) json_array_append_new(why, json_string(s->reports[b].reasons[k]));
            json_object_set_new(o, "rows_skipped_first", why);
        }
        json_array_append_new(jbench, o);
    }
    /* malformed rows left out (on_bad_row: skip), with the first reasons: said, not just counted */
    for (int b = 0, head = 0; b < cfg->n_benchmarks; b++) {
        const quipu_load_report *r = &s->reports[b];
        if (!r->rows_skipped) continue;
        if (!head++) sb_printf(&md, "\n## Rows left out\n\n");
        sb_printf(&md, "- %s: %zu malformed row%s skipped (`on_bad_row: skip`)%s\n", s->labels[b], r->rows_skipped,
                  r->rows_skipped == 1 ? "" : "s", r->n_reasons ? "; the first:" : "");
        for (size_t k = 0; k < r->n_reasons; k++) sb_printf(&md, "  - `%s`\n", r->reasons[k]);
    }
    json_object_set_new(summary, "format", json_string("quipu-summary/1"));
    json_object_set_new(summary, "run", json_string(cfg->name));
    json_object_set_new(summary, "config_hash", json_string(s->hash));
    json_object_set_new(summary, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(summary, "normalization", json_string(quipu_score_norm_name(mo.norm)));
    json_object_set_new(summary, "bootstrap", json_integer(mo.n_boot));
    json_object_set_new(summary, "confidence", json_real(mo.ci_level));
    json_object_set(summary, "models", jmodels);
    json_object_set(summary, "benchmarks", jbench);
    if (json_array_size(jnonfinite)) {
        json_object_set(summary, "nonfinite", jnonfinite);
        sb_printf(&md, "\n## Items left out: non-finite log-probability\n\n%zu item%s scored NaN or Inf (summary.json `nonfinite`); the metrics "
                       "exclude them:\n\n",
                  json_array_size(jnonfinite), json_array_size(jnonfinite) == 1 ? "" : "s");
        for (size_t k = 0; k < json_array_size(jnonfinite) && k < 20; k++) {
            json_t *o = json_array_get(jnonfinite, k);
            sb_printf(&md, "- %s, %s, item `%s`\n", json_string_value(json_object_get(o, "model")), json_string_value(json_object_get(o, "benchmark")),
                      json_string_value(json_object_get(o, "id")));
        }
    }
    json_object_set(summary, "metrics", jmetrics);
    if (json_array_size(jtemplates)) json_object_set(summary, "templates", jtemplates);
    if (json_array_size(jspread)) json_object_set(summary, "template_spread", jspread);
    if (json_array_size(jswap)) json_object_set(summary, "name_swap", jswap);
    {
        char *text = json_dumps(summary, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        if (!text) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory writing summary.json"); goto done; }
        quipu_json_shortest_reals(text);
        size_t tl = strlen(text);
        char *t2 = realloc(text, tl + 2);
        if (t2) { text = t2; text[tl++] = '\n'; text[tl] = '\0'; }
        st = write_file(dir, "summary.json", text, tl, err);
        free(text);
        if (st) goto done;
    }
    if ((st = write_file(dir, "summary.csv", csv_text, csv_len, err)) || (st = write_file(dir, "summary.md", md.p, md.n, err))) goto done;
    {
        size_t bound = ZSTD_compressBound(items.n);
        void *z = malloc(bound ? bound : 1);
        if (!z) { st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory compressing items"); goto done; }
        size_t zn = ZSTD_compress(z, bound, items.p ? items.p : "", items.n, 9);
        if (ZSTD_isError(zn)) st = quipu_error_set(err, QUIPU_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(zn));
        else st = write_file(dir, "items.jsonl.zst", z, zn, err);
        free(z);
        if (st) goto done;
    }
    {
        char pdir[4200];
        snprintf(pdir, sizeof pdir, "%s/plots", dir);
        quipu_metric_row_set set = {NULL, plot_rows, n_plot_rows, mo.ci_level};
        if ((st = quipu_plots_write(pdir, &set, 1, NULL, 0, NULL, err))) goto done;
    }
    sb_printf(&con, "\nEvery category, with the notes: %s/summary.md (and summary.json, summary.csv, plots/).\n", dir);
    printf("%s", con.p ? con.p : "");
    fflush(stdout);
done:
    free(plot_rows);
    for (int k = 0; k < n_kept; k++) quipu_metric_results_free(&kept[k]);
    free(kept);
    s->t_write = quipu_time_now() - t0 - s->t_metrics;
    free(order);
    if (csv) fclose(csv);
    free(csv_text);
    free(md.p);
    free(con.p);
    free(csv_model);
    free(items.p);
    json_decref(summary);
    json_decref(jmetrics);
    json_decref(jtemplates);
    json_decref(jspread);
    json_decref(jswap);
    json_decref(jnonfinite);
    free(finite);
    json_decref(jmodels);
    json_decref(jbench);
    return st;
}

/* sha256 of a file as 64 hex digits, and its size; 0 when it cannot be read. */
static int file_sha256_hex(const char *path, char hex[65], size_t *size) {
    quipu_mmap mm;
    quipu_error e = {0};
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || quipu_mmap_open(&mm, path, &e) != QUIPU_OK) return 0;
    uint8_t d[32];
    quipu_config_sha256(mm.data, mm.size, d);
    for (int k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", d[k]);
    if (size) *size = mm.size;
    quipu_mmap_close(&mm);
    return 1;
}

quipu_status run_write_manifest(run_state *s, quipu_error *err) {
    json_t *m = json_object(), *q = json_object(), *t = json_object(), *models = json_array();
    char *canon = quipu_config_canonical(s->cfg, 0);
    json_error_t je;
    json_t *cfgj = canon ? json_loads(canon, 0, &je) : NULL;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_object_set_new(q, "version", json_string(QUIPU_VERSION));
    json_object_set_new(q, "git", json_string(QUIPU_GIT_HASH));
    json_object_set_new(m, "format", json_string("quipu-manifest/2"));
    json_object_set_new(m, "quipu", q);
    json_object_set_new(m, "config_hash", json_string(s->hash));
    json_object_set_new(m, "config", cfgj ? cfgj : json_null());
    for (int i = 0; i < s->cfg->n_models; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(s->cfg->models[i].name));
        json_object_set_new(o, "path", json_string(s->cfg->models[i].path));
        if (s->cfg->models[i].adapters.n) { /* each adapter's files and their sha256, in the order applied */
            json_t *ad = json_array();
            for (int k = 0; k < s->cfg->models[i].adapters.n; k++) {
                quipu_error ae = {0};
                json_t *aj = quipu_adapter_json(s->cfg->models[i].adapters.v[k], &ae);
                json_array_append_new(ad, aj ? aj : json_pack("{s:s, s:s}", "path", s->cfg->models[i].adapters.v[k], "error", ae.msg));
            }
            json_object_set_new(o, "adapters", ad);
        }
        char hex[65];
        struct stat stt;
        const char *mp = s->cfg->models[i].path;
        if (stat(mp, &stt) == 0 && S_ISDIR(stt.st_mode)) {
            /* a checkpoint folder: every file in it */
            struct dirent **ents = NULL;
            int ne = scandir(mp, &ents, NULL, alphasort);
            json_t *files = json_array();
            for (int k = 0; k < ne; k++) {
                char *fp = quipu_asprintf("%s/%s", mp, ents[k]->d_name);
                struct stat fs;
                size_t sz = 0;
                if (fp && stat(fp, &fs) == 0 && S_ISREG(fs.st_mode) && file_sha256_hex(fp, hex, &sz)) {
                    json_t *f = json_object();
                    json_object_set_new(f, "name", json_string(ents[k]->d_name));
                    json_object_set_new(f, "sha256", json_string(hex));
                    json_object_set_new(f, "bytes", json_integer((json_int_t)sz));
                    json_array_append_new(files, f);
                }
                free(fp);
                free(ents[k]);
            }
            free(ents);
            json_object_set_new(o, "files", files);
        } else {
            size_t sz = 0;
            if (file_sha256_hex(mp, hex, &sz)) {
                json_object_set_new(o, "sha256", json_string(hex));
                json_object_set_new(o, "bytes", json_integer((json_int_t)sz));
            }
        }
        json_array_append_new(models, o);
    }
    json_object_set_new(m, "models", models);
    json_object_set_new(m, "datasets_dir", json_string(s->cfg->datasets_dir));
    json_t *ds = json_array();
    for (int b = 0; b < s->cfg->n_benchmarks; b++) {
        const quipu_load_report *rep = &s->reports[b];
        json_t *o = json_object(), *files = json_array();
        json_object_set_new(o, "benchmark", json_string(s->labels[b]));
        for (size_t k = 0; k < rep->files && k < QUIPU_LOAD_MAX_FILES; k++) {
            json_t *f = json_object();
            json_object_set_new(f, "path", json_string(rep->file_paths[k]));
            json_object_set_new(f, "sha256", rep->file_sha256[k][0] ? json_string(rep->file_sha256[k]) : json_null());
            json_array_append_new(files, f);
        }
        json_object_set_new(o, "files", files);
        if (rep->files > QUIPU_LOAD_MAX_FILES)
            json_object_set_new(o, "files_not_listed", json_integer((json_int_t)(rep->files - QUIPU_LOAD_MAX_FILES)));
        json_array_append_new(ds, o);
    }
    json_object_set_new(m, "datasets", ds);
    json_object_set_new(m, "backend", json_string(s->cfg->n_models ? backend_name(s->cfg->models[0].backend) : ""));
    json_object_set_new(m, "ranks", json_integer(s->comm.size));
    json_object_set_new(m, "mpi", json_boolean(quipu_comm_with_mpi() && !s->comm.serial));
    json_object_set_new(m, "hostname", json_string(host));
    json_object_set_new(m, "started", json_string(s->started ? s->started : ""));
    {
        time_t now = time(NULL);
        char buf[64];
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        json_object_set_new(m, "finished", json_string(buf));
    }
    /* rank 0's phases; scoring per rank from the final progress messages */
    json_object_set_new(t, "load_s", json_real(s->t_load));
    json_object_set_new(t, "score_s", json_real(s->t_score));
    json_object_set_new(t, "gather_s", json_real(s->t_gather));
    json_object_set_new(t, "metrics_s", json_real(s->t_metrics));
    json_object_set_new(t, "write_s", json_real(s->t_write));
    json_object_set_new(t, "total_s", json_real(quipu_time_now() - s->t_start));
    json_t *pr = json_array();
    double smin = 0, smax = 0, ssum = 0;
    int64_t tok_all = 0, items_all = 0;
    for (int r = 0; r < s->comm.size; r++) {
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer(r));
        json_object_set_new(o, "items", json_integer(s->rank_items[r]));
        json_object_set_new(o, "tokens", json_integer(s->rank_tokens[r]));
        json_object_set_new(o, "load_s", json_real(s->rank_load[r]));
        json_object_set_new(o, "score_s", json_real(s->rank_score[r]));
        json_array_append_new(pr, o);
        double x = s->rank_score[r];
        smin = r == 0 || x < smin ? x : smin;
        smax = r == 0 || x > smax ? x : smax;
        ssum += x;
        tok_all += s->rank_tokens[r];
        items_all += s->rank_items[r];
    }
    json_object_set_new(t, "per_rank", pr);
    json_t *sc = json_object();
    json_object_set_new(sc, "min", json_real(smin));
    json_object_set_new(sc, "avg", json_real(ssum / s->comm.size));
    json_object_set_new(sc, "max", json_real(smax));
    json_object_set_new(t, "score_s_across_ranks", sc);
    json_object_set_new(m, "timings", t);
    json_object_set_new(m, "items", json_integer((json_int_t)s->n_items));
    json_object_set_new(m, "items_scored", json_integer(items_all));
    json_object_set_new(m, "resumed_items", json_integer(s->resumed));
    json_object_set_new(m, "tokens_processed", json_integer(tok_all));
    char *text = json_dumps(m, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (text) quipu_json_shortest_reals(text);
    quipu_status st = text ? write_file(s->cfg->output, "manifest.json", text, strlen(text), err)
                           : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    free(text);
    free(canon);
    json_decref(m);
    return st;
}
