/* report_expected.c — `quipu report --expected FILE RUN_DIR` (report_expected.h): reads the
 * published numbers (config.h quipu_config_expected) and the run's summary.json, matches each
 * published number to one metric row of the run, and writes the side-by-side table (markdown:
 * printed and OUT/expected.md; OUT/expected.csv for machines). Nothing is scored. */
#define _POSIX_C_SOURCE 200809L
#include "report_expected.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "data/loaders.h"
#include "metrics.h"
#include "plot.h"
#include "report.h"
#include "run_read.h"

/* One expected row and what the run has for it. */
typedef struct ex_row {
    const quipu_config_expected *e;
    const quipu_metric_row *q;  /* the run's row; NULL when missing or ambiguous */
    size_t n_match;             /* rows of the run that fit (0: missing, >1: ambiguous) */
    double lo, hi;              /* the published interval; NaN when none */
    int within, overlap;        /* 1 yes, 0 no, -1 undecidable */
} ex_row;

static const char *str(const char *s) { return s ? s : ""; }

static int row_fits(const quipu_config_expected *e, const quipu_metric_row *r)
{
    return !strcmp(str(r->model), e->model) && !strcmp(str(r->benchmark), e->benchmark) && !strcmp(str(r->metric), e->metric) &&
           !strcmp(str(r->category), e->category) && (!e->language || !strcmp(str(r->language), e->language)) &&
           (!e->culture || !strcmp(str(r->culture), e->culture));
}

static void ex_match(ex_row *x, const quipu_run_data *run)
{
    const quipu_config_expected *e = x->e;
    for (size_t i = 0; i < run->n_rows; i++)
        if (row_fits(e, &run->rows[i]) && x->n_match++ == 0) x->q = &run->rows[i];
    if (x->n_match != 1) x->q = NULL;
    x->lo = x->hi = NAN;
    if (!isnan(e->ci_low)) {
        x->lo = e->ci_low;
        x->hi = e->ci_high;
    } else if (!isnan(e->stderr_)) {
        x->lo = e->value - QUIPU_EXPECTED_Z95 * e->stderr_;
        x->hi = e->value + QUIPU_EXPECTED_Z95 * e->stderr_;
    }
    x->within = x->overlap = -1;
    if (!x->q || isnan(x->q->value)) return;
    double v = x->q->value, ql = x->q->ci_low, qh = x->q->ci_high;
    if (!isnan(x->lo)) x->within = x->lo <= v && v <= x->hi;
    /* a published number without an interval is a point: it "overlaps" when quipu's CI holds it */
    double pl = isnan(x->lo) ? e->value : x->lo, ph = isnan(x->hi) ? e->value : x->hi;
    if (!isnan(ql) && !isnan(qh)) x->overlap = pl <= qh && ql <= ph;
    else if (!isnan(x->lo)) x->overlap = x->within;
}

/* ---- formatting ---------------------------------------------------------------------------- */

static int decimals_of(const char *metric)
{
    const quipu_metric_display *d = quipu_metric_display_find(metric);
    return (d ? d->decimals : 3) + 1; /* one more than the report's tables: papers give 2 */
}

static void md_cell(FILE *f, const char *s)
{
    for (const char *p = str(s); *p; p++) {
        if (*p == '|') fputs("\\|", f);
        else if (*p == '\n' || *p == '\r' || *p == '\t') fputc(' ', f);
        else fputc(*p, f);
    }
}

static const char *yes_no(int v) { return v < 0 ? "—" : v ? "yes" : "no"; }

static void md_write(FILE *f, const ex_row *xs, size_t n, const char *expected_path, const quipu_run_data *run)
{
    int pct = (int)lround(100 * (isnan(run->opt.ci_level) || run->opt.ci_level <= 0 ? 0.95 : run->opt.ci_level));
    fprintf(f, "## Published numbers vs %s\n\n", run->dir);
    fprintf(f, "Published: %s (%zu row%s). Run: %s, %d%% bootstrap intervals. A published stderr s gives the interval "
               "value ± 1.96·s; a value published without one is a point.\n\n",
            expected_path, n, n == 1 ? "" : "s", *str(run->name) ? run->name : run->dir, pct);
    fputs("| model | benchmark | language | culture | category | metric | published | published interval | quipu [CI] (n) | "
          "quipu − published | quipu in published interval | intervals overlap | source |\n",
          f);
    fputs("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n", f);
    size_t n_in = 0, n_out = 0, n_noint = 0, n_missing = 0, n_na = 0;
    for (size_t i = 0; i < n; i++) {
        const ex_row *x = &xs[i];
        const quipu_config_expected *e = x->e;
        int dec = decimals_of(e->metric);
        char a[48], b[48], c[48];
        const char *lang = x->q ? x->q->language : e->language ? e->language : "*";
        const char *cult = x->q ? x->q->culture : e->culture ? e->culture : "*";
        const char *cells[] = {e->model, e->benchmark, lang, cult, e->category, e->metric};
        fputc('|', f);
        for (size_t k = 0; k < sizeof cells / sizeof *cells; k++) {
            fputc(' ', f);
            md_cell(f, cells[k]);
            fputs(" |", f);
        }
        fprintf(f, " %s |", quipu_report_fmt_num(a, sizeof a, e->value, dec));
        if (!isnan(e->ci_low)) fprintf(f, " [%s, %s] |", quipu_report_fmt_num(a, sizeof a, x->lo, dec), quipu_report_fmt_num(b, sizeof b, x->hi, dec));
        else if (!isnan(e->stderr_))
            fprintf(f, " [%s, %s] (± %s se) |", quipu_report_fmt_num(a, sizeof a, x->lo, dec), quipu_report_fmt_num(b, sizeof b, x->hi, dec),
                    quipu_report_fmt_num(c, sizeof c, e->stderr_, dec));
        else fputs(" — |", f);
        if (!x->q) {
            if (x->n_match == 0) fputs(" missing: the run has no such row | — | — | — |", f);
            else fprintf(f, " ambiguous: %zu rows fit (give language and culture) | — | — | — |", x->n_match);
            n_missing++;
        } else if (isnan(x->q->value)) {
            fputs(" n/a", f);
            if (x->q->note) {
                fputs(" (", f);
                md_cell(f, x->q->note);
                fputc(')', f);
            }
            fputs(" | — | — | — |", f);
            n_na++;
        } else {
            fprintf(f, " %s", quipu_report_fmt_num(a, sizeof a, x->q->value, dec));
            if (!isnan(x->q->ci_low)) fprintf(f, " [%s, %s]", quipu_report_fmt_num(b, sizeof b, x->q->ci_low, dec), quipu_report_fmt_num(c, sizeof c, x->q->ci_high, dec));
            fprintf(f, " (n=%lld) | %s | %s | %s |", (long long)x->q->n, quipu_report_fmt_num(a, sizeof a, x->q->value - e->value, dec), yes_no(x->within),
                    yes_no(x->overlap));
            if (x->within < 0) n_noint++;
            else if (x->within) n_in++;
            else n_out++;
        }
        fputc(' ', f);
        md_cell(f, e->source ? e->source : "—");
        fputs(" |\n", f);
    }
    fprintf(f, "\nWithin the published interval: %zu; outside: %zu; published without an interval: %zu; "
               "undefined in the run: %zu; missing from the run: %zu.\n",
            n_in, n_out, n_noint, n_na, n_missing);
}

static void csv_write(FILE *f, const ex_row *xs, size_t n)
{
    fputs("model,benchmark,language,culture,category,metric,published,published_low,published_high,published_stderr,"
          "quipu,quipu_low,quipu_high,n,diff,within,overlap,status,source\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const ex_row *x = &xs[i];
        const quipu_config_expected *e = x->e;
        const char *tags[] = {e->model, e->benchmark, x->q ? x->q->language : e->language, x->q ? x->q->culture : e->culture,
                              e->category, e->metric};
        for (size_t k = 0; k < sizeof tags / sizeof *tags; k++) {
            quipu_csv_write_field(f, str(tags[k]));
            fputc(',', f);
        }
        double q = x->q ? x->q->value : NAN;
        double nums[] = {e->value, x->lo, x->hi, e->stderr_, q, x->q ? x->q->ci_low : NAN, x->q ? x->q->ci_high : NAN};
        for (size_t k = 0; k < sizeof nums / sizeof *nums; k++) {
            if (!isnan(nums[k])) quipu_csv_write_num(f, nums[k]);
            fputc(',', f);
        }
        if (x->q) fprintf(f, "%lld", (long long)x->q->n);
        fputc(',', f);
        if (!isnan(q)) quipu_csv_write_num(f, q - e->value);
        fprintf(f, ",%s,%s,", x->within < 0 ? "" : x->within ? "yes" : "no", x->overlap < 0 ? "" : x->overlap ? "yes" : "no");
        fputs(!x->q ? (x->n_match ? "ambiguous" : "missing") : isnan(q) ? "undefined" : "ok", f);
        fputc(',', f);
        quipu_csv_write_field(f, str(e->source));
        fputc('\n', f);
    }
}

static quipu_status write_out(const char *dir, const char *name, const ex_row *xs, size_t n, const char *expected_path,
                              const quipu_run_data *run, quipu_error *err)
{
    char *path = quipu_asprintf("%s/%s", dir, name);
    if (!path) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    FILE *f = fopen(path, "wb");
    if (!f) {
        quipu_status st = quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(path);
        return st;
    }
    if (!strcmp(name, "expected.md")) md_write(f, xs, n, expected_path, run);
    else csv_write(f, xs, n);
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    quipu_status st = bad ? quipu_error_set(err, QUIPU_ERR_IO, "%s: write failed: %s", path, strerror(errno)) : QUIPU_OK;
    free(path);
    return st;
}

/* The expected list of a config or of a file holding only `expected:`; one-line errors. */
static quipu_status load_expected(const char *path, quipu_config **out, quipu_error *err)
{
    quipu_config_options o = {.known_benchmarks = quipu_benchmark_names(), .skip_path_checks = 1, .expected_only = 1};
    quipu_error_list errs;
    quipu_error_list_init(&errs);
    quipu_status st = quipu_config_load_opts(out, path, NULL, 0, &o, &errs);
    if (st) {
        if (errs.n > 1)
            quipu_error_set(err, st, "%s (and %d more problem%s in that file)", errs.msgs[0],
                            errs.n - 1, errs.n == 2 ? "" : "s");
        else quipu_error_set(err, st, "%s", errs.n ? errs.msgs[0] : "cannot read the expected numbers");
    } else if ((*out)->n_expected == 0) {
        st = quipu_error_set(err, QUIPU_ERR_INVALID, "%s: no 'expected' list of published numbers (docs/reproduce.md)", path);
        quipu_config_free(*out);
        *out = NULL;
    }
    quipu_error_list_free(&errs);
    return st;
}

quipu_status quipu_report_expected(const char *expected_path, const char *run_dir, const char *out_dir, FILE *print,
                                   quipu_error *err)
{
    quipu_config *cfg = NULL;
    quipu_run_data run;
    memset(&run, 0, sizeof run);
    ex_row *xs = NULL;
    const char *out = out_dir && *out_dir ? out_dir : "report";
    quipu_status st = load_expected(expected_path, &cfg, err);
    if (st) return st;
    if ((st = quipu_run_read_summary(run_dir, &run, err))) goto done;
    if (!(xs = quipu_calloc_array((size_t)cfg->n_expected, sizeof *xs))) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < cfg->n_expected; i++) {
        xs[i].e = &cfg->expected[i];
        ex_match(&xs[i], &run);
    }
    if ((st = quipu_mkdir_p(out, err))) goto done;
    if (print) {
        md_write(print, xs, (size_t)cfg->n_expected, expected_path, &run);
        fflush(print);
    }
    if ((st = write_out(out, "expected.md", xs, (size_t)cfg->n_expected, expected_path, &run, err))) goto done;
    if ((st = write_out(out, "expected.csv", xs, (size_t)cfg->n_expected, expected_path, &run, err))) goto done;
    quipu_log(QUIPU_LOG_INFO, "wrote %s/expected.md and %s/expected.csv", out, out);
done:
    free(xs);
    quipu_run_data_free(&run);
    quipu_config_free(cfg);
    return st;
}
