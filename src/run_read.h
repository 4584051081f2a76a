/* run_read.h — reads a finished run folder back (docs/results.md): the metric rows and settings
 * of summary.json, and items.jsonl.zst streamed through zstd line by line into the quipu_item +
 * quipu_item_record arrays the metrics take, one pair of arrays per model. `quipu report` pairs
 * runs item by item with these. */
#ifndef QUIPU_RUN_READ_H
#define QUIPU_RUN_READ_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "item.h"
#include "metrics.h"
#include "plot.h"

#define QUIPU_SUMMARY_FORMAT "quipu-summary/1"
/* Longest items.jsonl.zst line accepted (an item line is a few hundred bytes). */
#define QUIPU_RUN_MAX_LINE (1u << 20)

/* One model's scored items. records[i] belongs to items[i] (item_index = i). The items carry
 * what the metrics read — tags, kind, direction, label, condition, polarity, the *_choice
 * indices, biased_mask, roles, group (NULL when the line has "") — and no texts (more, less,
 * context, question, choices stay NULL). An MC item's n_choices is the line's "n_choices" when
 * present, else the length of "lp"; a pair's is 0 (its record has 2). `source` is
 * "RUN/items.jsonl.zst:LINE". */
typedef struct quipu_run_model {
    const char *name, *path, *architecture; /* from summary.json "models" ("" when absent) */
    quipu_item *items;
    quipu_item_record *records;
    size_t n_items;
} quipu_run_model;

typedef struct quipu_run_benchmark {
    const char *label, *name;
    int64_t items, rows_skipped;
    int role;        /* quipu_cfg_role (config.h): summary.json's "role", else -1 (the default applies:
                        quipu_run_benchmark_role) */
} quipu_run_benchmark;

/* One row of summary.json "template_spread" (docs/metrics.md "Spread across templates"); NaN for null. */
typedef struct quipu_run_spread {
    const char *model, *benchmark, *language, *culture, *metric, *min_template, *max_template;
    int64_t n_templates;
    double min, max, range, range_ci_low, range_ci_high, sd, sd_ci_low, sd_ci_high;
} quipu_run_spread;

/* A run folder read back. Every string is owned by the struct (free with quipu_run_data_free). */
typedef struct quipu_run_data {
    const char *dir;            /* as given, without trailing '/' */
    const char *name;           /* summary.json "run" ("" when absent) */
    const char *config_hash;    /* "" when absent */
    quipu_metrics_options opt;  /* seed, normalization, bootstrap, confidence of summary.json;
                                   defaults (metrics.h) for absent keys */
    quipu_run_model *models;    /* summary.json "models", in its order */
    size_t n_models;
    quipu_run_benchmark *benchmarks;
    size_t n_benchmarks;
    quipu_metric_row *rows;     /* summary.json "metrics", in file order */
    size_t n_rows;
    /* summary.json "templates": the per-template rows, each with culture "CULTURE · TEMPLATE" (so a
     * chart's rows are the templates of each culture); "template_spread": the spread across them */
    quipu_metric_row *tpl_rows;
    size_t n_tpl_rows;
    struct quipu_run_spread *spread;
    size_t n_spread;
    int has_items;              /* 0: the folder has no items.jsonl.zst (no paired tests) */
    size_t n_item_lines;        /* lines read from items.jsonl.zst */
    /* private: every string above */
    char **pool_;
    size_t n_pool_, cap_pool_;
} quipu_run_data;

/* Reads RUN/summary.json and, when present, RUN/items.jsonl.zst. Errors are one line:
 *   "RUN: no such run folder", "RUN: not a folder",
 *   "RUN/summary.json: missing (not a quipu run folder?)",
 *   "RUN/summary.json:LINE:COL: invalid JSON: ...", "RUN/summary.json: metrics[7]: ...",
 *   "RUN/items.jsonl.zst:LINE: problem" (a malformed line, or zstd data that is corrupt or cut
 *   short after that line).
 * Items of a model that summary.json does not list are an error. On error *out is empty. */
quipu_status quipu_run_read(const char *run_dir, quipu_run_data *out, quipu_error *err);
/* Reads only summary.json (has_items = 0, models without items). */
quipu_status quipu_run_read_summary(const char *run_dir, quipu_run_data *out, quipu_error *err);
void quipu_run_data_free(quipu_run_data *d);

/* The role (quipu_cfg_role) of the benchmark labelled `label` in d: its "role" in summary.json,
 * else the default of its name (config.h quipu_cfg_role_default), neutral when its items are
 * text items (is_text); a label summary.json does not list gets the default of the label. */
int quipu_run_benchmark_role(const quipu_run_data *d, const char *label, int is_text);

/* The model of that name, or NULL. */
const quipu_run_model *quipu_run_find_model(const quipu_run_data *d, const char *name);

#endif
