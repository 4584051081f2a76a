/* report.h — `quipu report RUN_DIR... [--out DIR] [--metric NAME]... [--categories]`: finished
 * runs side by side (markdown tables of each run's value [CI] and n per benchmark × language ×
 * culture), paired comparisons on the items two runs share (paired bootstrap of every metric's
 * difference, McNemar on per-item decisions; metrics.h), and SVG plots (plot.h). For a base and its
 * edited variants, benchmarks whose role (config.h quipu_cfg_role) is control, neutral or
 * knowledge get sections of their own and every metric a change plot (docs/mitigation.md "Before
 * and after"). docs/report.md explains the output. */
#ifndef QUIPU_REPORT_H
#define QUIPU_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "common.h"

typedef struct quipu_report_options {
    const char *const *run_dirs;  /* [n_runs], at least one; the first is the baseline (A) */
    size_t n_runs;
    const char *out_dir;          /* NULL: "report" */
    const char *const *metrics;   /* [n_metrics]; 0 = the headline metrics (plot.h) */
    size_t n_metrics;
    int categories;               /* tables also show each category, not only "all" */
    FILE *print;                  /* where the tables are printed too (stdout); NULL: nowhere */
} quipu_report_options;

/* Reads the runs, prints the tables, compares, and writes OUT/report.md, OUT/comparison.csv
 * and OUT/plots/<benchmark>__<metric>.svg (OUT created with its parents). Pairs compared: the first run against
 * each other run, per model present in both (by name; when both runs hold exactly one model
 * and the names differ, those two models); with a single run, its first model against each
 * other model. Pairs that share no items, or a run without items.jsonl.zst, are noted in the
 * report, not errors. Errors (one line): a missing run folder or summary.json, a malformed
 * summary.json or items.jsonl.zst (with FILE:LINE), an unknown metric name, an unwritable OUT. */
quipu_status quipu_report(const quipu_report_options *o, quipu_error *err);

/* The command line: argv[0] is the command name ("report"), then options and run folders.
 * `--help` prints the usage on stdout and returns QUIPU_OK; a usage error is QUIPU_ERR_INVALID
 * with a one-line message (main.c prefixes "quipu report: "). */
quipu_status quipu_report_main(int argc, char **argv, quipu_error *err);
void quipu_report_usage(FILE *f);
/* A value with `dec` decimals, '.' whatever the locale, no "-0", "n/a" for NaN: the report tables'
 * number format (report.c), into buf. */
const char *quipu_report_fmt_num(char *buf, size_t size, double x, int dec);

#endif
