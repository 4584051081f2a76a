/* metrics_io.c — metric results and paired comparisons as JSON (jansson) and CSV. Key order is
 * fixed (JSON_PRESERVE_ORDER when dumped) and NaN becomes null / an empty cell, so equal results
 * give equal bytes. */
#include "metrics_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void mx_format_double(char *buf, size_t size, double x)
{
    if (isnan(x)) {
        if (size) buf[0] = 0;
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* ---- JSON --------------------------------------------------------------------------------- */

static int set_new(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *jnum(double x) { return isnan(x) ? json_null() : json_real(x); }
static json_t *jstr(const char *s) { return json_string(s ? s : ""); }

static json_t *settings_json(const quipu_metrics_options *o)
{
    json_t *s = json_object();
    if (!s) return NULL;
    int bad = 0;
    bad |= set_new(s, "scoring", json_string(quipu_score_norm_name(o->norm)));
    bad |= set_new(s, "ci_method", json_string("percentile bootstrap over items within each group"));
    bad |= set_new(s, "ci_level", json_real(o->ci_level));
    bad |= set_new(s, "bootstrap_replicates", json_integer(o->n_boot));
    if (o->seed <= (uint64_t)INT64_MAX) bad |= set_new(s, "seed", json_integer((json_int_t)o->seed));
    else {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->seed);
        bad |= set_new(s, "seed", json_string(buf));
    }
    bad |= set_new(s, "rng", json_string("xoshiro256** seeded by splitmix64, one stream per group and replicate"));
    if (bad) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static int tags_json(json_t *o, const char *b, const char *l, const char *c, const char *cat)
{
    int bad = 0;
    bad |= set_new(o, "benchmark", jstr(b));
    bad |= set_new(o, "language", jstr(l));
    bad |= set_new(o, "culture", jstr(c));
    bad |= set_new(o, "category", jstr(cat));
    return bad;
}

/* Appends one object per row to arr ("template" after "category" in per-template rows); 0 or -1. */
static int rows_json(json_t *arr, const quipu_metric_result *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const quipu_metric_result *m = &rows[i];
        json_t *o = json_object();
        if (!o) return -1;
        int bad = tags_json(o, m->benchmark, m->language, m->culture, m->category);
        if (m->template_id) bad |= set_new(o, "template", jstr(m->template_id));
        bad |= set_new(o, "metric", jstr(m->metric));
        bad |= set_new(o, "value", jnum(m->value));
        bad |= set_new(o, "ci_low", jnum(m->ci_low));
        bad |= set_new(o, "ci_high", jnum(m->ci_high));
        bad |= set_new(o, "n", json_integer(m->n));
        if (m->note) bad |= set_new(o, "note", jstr(m->note));
        if (bad || json_array_append_new(arr, o)) {
            if (bad) json_decref(o); /* a failed append_new already dropped o */
            return -1;
        }
    }
    return 0;
}

json_t *quipu_metric_results_to_json(const quipu_metric_results *r)
{
    json_t *root = json_object(), *arr = json_array(), *set = settings_json(&r->opt);
    if (!root || !arr || !set) goto fail;
    if (set_new(root, "settings", set)) {
        set = NULL;
        goto fail;
    }
    set = NULL;
    if (set_new(root, "items_scored", json_integer(r->n_scored)) ||
        set_new(root, "items_unscored", json_integer(r->n_unscored)))
        goto fail;
    if (rows_json(arr, r->rows, r->n_rows)) goto fail;
    if (json_object_set_new(root, "results", arr)) {
        arr = NULL;
        goto fail;
    }
    arr = NULL;
    if (r->n_tpl_rows) { /* the per-template breakdown, only where items carry template ids */
        arr = json_array();
        if (!arr || rows_json(arr, r->tpl_rows, r->n_tpl_rows)) goto fail;
        if (json_object_set_new(root, "templates", arr)) {
            arr = NULL;
            goto fail;
        }
        arr = NULL;
    }
    if (r->n_spread) { /* the spread across templates, only where a group has 2+ templates */
        arr = json_array();
        for (size_t i = 0; arr && i < r->n_spread; i++) {
            json_t *o = quipu_template_spread_to_json(NULL, &r->spread[i]);
            if (!o || json_array_append_new(arr, o)) goto fail;
        }
        if (!arr || json_object_set_new(root, "template_spread", arr)) {
            arr = NULL;
            goto fail;
        }
    }
    return root;
fail:
    json_decref(set);
    json_decref(arr);
    json_decref(root);
    return NULL;
}

quipu_status quipu_metric_results_write_json(const quipu_metric_results *r, const char *path, quipu_error *err)
{
    json_t *j = quipu_metric_results_to_json(r);
    if (!j) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory building the metrics JSON", path);
    int rc = json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (rc) return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write the metrics JSON: %s", path, strerror(errno));
    return QUIPU_OK;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

void quipu_csv_write_field(FILE *f, const char *s)
{
    s = s ? s : "";
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void quipu_csv_write_num(FILE *f, double x)
{
    char buf[40];
    mx_format_double(buf, sizeof buf, x);
    fputs(buf, f);
}

#define csv_str quipu_csv_write_field
#define csv_num quipu_csv_write_num

static void csv_tags(FILE *f, const char *b, const char *l, const char *c, const char *cat)
{
    csv_str(f, b);
    fputc(',', f);
    csv_str(f, l);
    fputc(',', f);
    csv_str(f, c);
    fputc(',', f);
    csv_str(f, cat);
}

void quipu_metric_result_write_csv_row(FILE *f, const char *prefix, const quipu_metric_result *m)
{
    quipu_metric_result_write_csv_row_t(f, prefix, m, 0);
}

void quipu_metric_result_write_csv_row_t(FILE *f, const char *prefix, const quipu_metric_result *m, int template_column)
{
    fputs(prefix, f);
    csv_tags(f, m->benchmark, m->language, m->culture, m->category);
    fputc(',', f);
    csv_str(f, m->metric);
    fputc(',', f);
    csv_num(f, m->value);
    fputc(',', f);
    csv_num(f, m->ci_low);
    fputc(',', f);
    csv_num(f, m->ci_high);
    fprintf(f, ",%lld,", (long long)m->n);
    csv_str(f, m->note);
    if (template_column) {
        fputc(',', f);
        csv_str(f, m->template_id);
    }
    fputc('\n', f);
}

quipu_status quipu_metric_results_write_csv(const quipu_metric_results *r, FILE *f, quipu_error *err)
{
    int tcol = r->n_tpl_rows > 0;
    fputs(tcol ? "benchmark,language,culture,category,metric,value,ci_low,ci_high,n,note,template\n"
               : "benchmark,language,culture,category,metric,value,ci_low,ci_high,n,note\n", f);
    for (size_t i = 0; i < r->n_rows; i++) quipu_metric_result_write_csv_row_t(f, "", &r->rows[i], tcol);
    for (size_t i = 0; i < r->n_tpl_rows; i++) quipu_metric_result_write_csv_row_t(f, "", &r->tpl_rows[i], tcol);
    if (ferror(f)) return quipu_error_set(err, QUIPU_ERR_IO, "metrics: writing the CSV failed: %s", strerror(errno));
    return QUIPU_OK;
}

/* ---- comparisons -------------------------------------------------------------------------- */

json_t *quipu_comparison_to_json(const quipu_comparison *c)
{
    json_t *root = json_object(), *diffs = json_array(), *tests = json_array(), *set = settings_json(&c->opt);
    if (!root || !diffs || !tests || !set) goto fail;
    int bad = set_new(root, "settings", set);
    set = NULL;
    bad |= set_new(root, "items_matched", json_integer(c->n_matched));
    bad |= set_new(root, "items_only_a", json_integer(c->n_only_a));
    bad |= set_new(root, "items_only_b", json_integer(c->n_only_b));
    if (bad) goto fail;
    for (size_t i = 0; i < c->n_diffs; i++) {
        const quipu_paired_diff *d = &c->diffs[i];
        json_t *o = json_object();
        if (!o) goto fail;
        int b = tags_json(o, d->benchmark, d->language, d->culture, d->category);
        b |= set_new(o, "metric", jstr(d->metric));
        b |= set_new(o, "n", json_integer(d->n));
        b |= set_new(o, "value_a", jnum(d->value_a));
        b |= set_new(o, "value_b", jnum(d->value_b));
        b |= set_new(o, "diff", jnum(d->diff));
        b |= set_new(o, "ci_low", jnum(d->ci_low));
        b |= set_new(o, "ci_high", jnum(d->ci_high));
        b |= set_new(o, "p_boot", jnum(d->p_boot));
        if (d->note) b |= set_new(o, "note", jstr(d->note));
        if (b || json_array_append_new(diffs, o)) {
            if (b) json_decref(o);
            goto fail;
        }
    }
    for (size_t i = 0; i < c->n_tests; i++) {
        const quipu_paired_test *t = &c->tests[i];
        json_t *o = json_object();
        if (!o) goto fail;
        int b = tags_json(o, t->benchmark, t->language, t->culture, t->category);
        b |= set_new(o, "decision", jstr(t->decision));
        b |= set_new(o, "n", json_integer(t->n));
        b |= set_new(o, "n11", json_integer(t->n11));
        b |= set_new(o, "n10", json_integer(t->n10));
        b |= set_new(o, "n01", json_integer(t->n01));
        b |= set_new(o, "n00", json_integer(t->n00));
        b |= set_new(o, "method", json_string(t->test.exact ? "exact binomial" : "chi-square, continuity corrected"));
        b |= set_new(o, "statistic", jnum(t->test.statistic));
        b |= set_new(o, "p_value", jnum(t->test.p_value));
        if (b || json_array_append_new(tests, o)) {
            if (b) json_decref(o);
            goto fail;
        }
    }
    if (json_object_set_new(root, "paired_bootstrap", diffs)) {
        diffs = NULL;
        goto fail;
    }
    diffs = NULL;
    if (json_object_set_new(root, "mcnemar", tests)) {
        tests = NULL;
        goto fail;
    }
    return root;
fail:
    json_decref(set);
    json_decref(diffs);
    json_decref(tests);
    json_decref(root);
    return NULL;
}

void quipu_comparison_write_csv_rows(const quipu_comparison *c, FILE *f, const char *prefix)
{
    for (size_t i = 0; i < c->n_diffs; i++) {
        const quipu_paired_diff *d = &c->diffs[i];
        fputs(prefix, f);
        fputs("paired_bootstrap,", f);
        csv_tags(f, d->benchmark, d->language, d->culture, d->category);
        fputc(',', f);
        csv_str(f, d->metric);
        fprintf(f, ",%lld,", (long long)d->n);
        const double v[] = {d->value_a, d->value_b, d->diff, d->ci_low, d->ci_high, d->p_boot};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
            csv_num(f, v[k]);
            fputc(',', f);
        }
        fputs(",,,,,", f);
        csv_str(f, d->note);
        fputc('\n', f);
    }
    for (size_t i = 0; i < c->n_tests; i++) {
        const quipu_paired_test *t = &c->tests[i];
        fputs(prefix, f);
        fputs(t->test.exact ? "mcnemar_exact," : "mcnemar_chi2,", f);
        csv_tags(f, t->benchmark, t->language, t->culture, t->category);
        fputc(',', f);
        csv_str(f, t->decision);
        fprintf(f, ",%lld,,,,,,", (long long)t->n);
        csv_num(f, t->test.p_value);
        fprintf(f, ",%lld,%lld,%lld,%lld,", (long long)t->n11, (long long)t->n10, (long long)t->n01,
                (long long)t->n00);
        csv_num(f, t->test.statistic);
        fputs(",\n", f);
    }
}

quipu_status quipu_comparison_write_csv(const quipu_comparison *c, FILE *f, quipu_error *err)
{
    /* One table: paired-bootstrap rows carry value_a/value_b/diff/interval/p_boot; McNemar rows
     * carry the four counts, statistic and p. `kind` tells which. */
    fputs("kind,benchmark,language,culture,category,metric,n,value_a,value_b,diff,ci_low,ci_high,p,"
          "n11,n10,n01,n00,statistic,note\n", f);
    quipu_comparison_write_csv_rows(c, f, "");
    if (ferror(f)) return quipu_error_set(err, QUIPU_ERR_IO, "metrics: writing the comparison CSV failed: %s",
                                          strerror(errno));
    return QUIPU_OK;
}
