/* plot.h — per-culture bias with confidence intervals as standalone SVG 1.1 charts: one
 * horizontal dot-and-whisker chart per benchmark × metric, one row per language × culture (and
 * its categories), one marker per run or model with its interval, and a reference line at the
 * metric's neutral value. Metric rows are views (quipu_metric_row) so that `quipu run` plots
 * its in-memory results and `quipu report` plots rows read back from summary.json. */
#ifndef QUIPU_PLOT_H
#define QUIPU_PLOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "metrics.h"

/* One metric row of summary.json. Strings are borrowed (never freed through this struct). */
typedef struct quipu_metric_row {
    const char *model, *benchmark, *language, *culture, *category, *metric;
    double value, ci_low, ci_high; /* NaN when undefined */
    int64_t n;
    const char *note;              /* NULL, or why a value is missing */
} quipu_metric_row;

/* The rows of one run. `label` names the run in legends and tables; NULL or "" when there is
 * only one run (then the model names alone label the markers). */
typedef struct quipu_metric_row_set {
    const char *label;
    const quipu_metric_row *rows;
    size_t n_rows;
    double confidence;             /* the intervals' level (0.95); 0 or NaN: not stated */
} quipu_metric_row_set;

/* Fills out[0 .. r->n_rows) with views of r's rows for `model` (no allocation; the views live
 * as long as r and model). */
void quipu_metric_rows_from_results(quipu_metric_row *out, const char *model, const quipu_metric_results *r);

/* How a metric is shown: its neutral (or ideal) value, the range it lives in, decimals in
 * tables, and one line saying how to read it. */
typedef struct quipu_metric_display {
    const char *name;
    int headline;                /* plotted and tabled by default */
    double reference;            /* NaN: no reference line */
    const char *reference_label; /* "no bias", "no preference", "ideal" */
    double lo, hi;               /* the metric's range (NaN: unbounded on that side) */
    int decimals;
    const char *description;
} quipu_metric_display;
/* NULL when the name is not a metric quipu computes. */
const quipu_metric_display *quipu_metric_display_find(const char *metric);
/* The headline metrics in display order, NULL-terminated: pct_stereotype, s_dis, s_amb,
 * bias_score_ambig, sesgo_bias_ambig, ss, icat, assoc_pct_stereotype. */
extern const char *const quipu_headline_metrics[];

/* ---- one chart --------------------------------------------------------------------------- */

typedef struct quipu_plot_row {
    const char *label;
    int indent;                   /* 0: a culture row (bold); 1: a category under it */
} quipu_plot_row;

/* One run or model: a marker per row. Arrays have the plot's n_rows entries. */
typedef struct quipu_plot_series {
    const char *name;             /* legend entry */
    const double *value, *ci_low, *ci_high; /* NaN: missing (value) / no interval (ci) */
    const int64_t *n;             /* items per row (-1: unknown) for the tooltips, and printed beside
                                     the row label when every series has the same; may be NULL */
} quipu_plot_series;

typedef struct quipu_plot {
    const char *title, *subtitle; /* subtitle may be NULL */
    const char *x_label;
    const char *footnote;         /* one line under the axis; may be NULL */
    double reference;             /* NaN: none */
    const char *reference_label;  /* may be NULL */
    double lo, hi;                /* the axis never extends past these (NaN: free) */
    int decimals;                 /* in tooltips */
    const quipu_plot_row *rows;
    size_t n_rows;
} quipu_plot;

/* Writes the chart as a standalone SVG 1.1 document (UTF-8, XML-escaped text; invalid UTF-8
 * and control characters in labels are replaced). Each marker is an element with
 * class="dot" and a <title> tooltip (series, value, interval, n); rows without a value show
 * "n/a" instead. Errors: QUIPU_ERR_INVALID for no rows or no series, QUIPU_ERR_IO. */
quipu_status quipu_plot_print_svg(FILE *f, const quipu_plot *p, const quipu_plot_series *series, size_t n_series,
                                  quipu_error *err);
quipu_status quipu_plot_write_svg(const char *path, const quipu_plot *p, const quipu_plot_series *series,
                                  size_t n_series, quipu_error *err);

/* ---- a heatmap ---------------------------------------------------------------------------- */

/* Rows × columns of one metric (a sweep's models × cultures): each cell coloured by its distance
 * from the reference (white at it, red above, blue below, full colour at the farthest value) with
 * its value written in, a tooltip with the interval and n, and the colour scale underneath. */
typedef struct quipu_heatmap {
    const char *title, *subtitle;  /* subtitle may be NULL */
    const char *footnote;          /* may be NULL */
    const char *const *row_labels; /* [n_rows] */
    const char *const *col_labels; /* [n_cols] */
    size_t n_rows, n_cols;
    const double *value;           /* [n_rows * n_cols], row-major; NaN: no value (grey "n/a") */
    const double *ci_low, *ci_high; /* same shape, may be NULL; NaN: no interval */
    const int64_t *n;              /* same shape, items per cell (-1 unknown); may be NULL */
    double reference;              /* the scale's centre; NaN: the middle of the values */
    const char *reference_label;   /* may be NULL */
    double lo, hi;                 /* the metric's range: the scale's span when every value equals the reference */
    int decimals;
} quipu_heatmap;

/* Errors: QUIPU_ERR_INVALID for no cells, QUIPU_ERR_IO. */
quipu_status quipu_heatmap_print_svg(FILE *f, const quipu_heatmap *h, quipu_error *err);
quipu_status quipu_heatmap_write_svg(const char *path, const quipu_heatmap *h, quipu_error *err);

/* ---- the plots/ folder of a run or a report ---------------------------------------------- */

enum {
    QUIPU_PLOTS_CULTURES_ONLY = 1u << 0 /* no per-category rows under each culture */
};

typedef struct quipu_plot_file {
    char *benchmark, *metric;
    char *file;                   /* name inside the folder, e.g. "crows_pairs_en__pct_stereotype.svg" */
    size_t n_points;              /* markers drawn (rows × series with a value) */
} quipu_plot_file;
typedef struct quipu_plot_files {
    quipu_plot_file *files;
    size_t n;
} quipu_plot_files;
void quipu_plot_files_free(quipu_plot_files *f);

/* Writes one SVG per (benchmark, metric) found in the sets' rows, for the metrics listed in
 * `metrics` (NULL-terminated; NULL = quipu_headline_metrics), into `dir` (created with its
 * parents). Benchmarks come in order of first appearance, metrics in the order of `metrics`.
 * A chart's rows are the language × culture groups (category "all") in order of first
 * appearance, each followed by its categories unless QUIPU_PLOTS_CULTURES_ONLY; its series are
 * the (set, model) pairs with a row for that benchmark and metric, labelled "model" for one
 * set, "label" when every set holds the same single model, "label: model" otherwise. File names keep
 * [A-Za-z0-9._-] (anything else becomes '_'), are at most 120 bytes and unique even on
 * case-insensitive filesystems. `written` (may be NULL) receives the list; free it with
 * quipu_plot_files_free. Writing nothing (no such metric present) is not an error. */
quipu_status quipu_plots_write(const char *dir, const quipu_metric_row_set *sets, size_t n_sets,
                               const char *const *metrics, unsigned flags, quipu_plot_files *written,
                               quipu_error *err);



#endif
