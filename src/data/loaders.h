/* loaders.h — benchmark loaders: the built-in benchmarks staged under a datasets folder
 * (../shared/datasets, or what scripts/fetch-datasets.sh fetched) and the two generic JSON-lines
 * formats, each turned into an array of quipu_item (item.h) tagged with language and culture.
 * docs/benchmarks.md describes every benchmark, its tags, counts and how choices are encoded.
 *
 * Bad rows: every malformed row is named "FILE:LINE: problem". With on_bad_row = FAIL the load
 * stops there and err carries that line; with SKIP the row is counted in the report (with the
 * first reasons kept) and the load goes on. A missing file, a file without the expected columns,
 * or a benchmark that ends with no items is always an error. */
#ifndef QUIPU_DATA_LOADERS_H
#define QUIPU_DATA_LOADERS_H

#include <stddef.h>

#include "common.h"
#include "item.h"

typedef enum quipu_bad_row {
    QUIPU_BAD_ROW_FAIL = 0, /* the first malformed row is an error */
    QUIPU_BAD_ROW_SKIP = 1  /* malformed rows are counted and left out */
} quipu_bad_row;

typedef struct quipu_load_opts {
    quipu_bad_row on_bad_row;
    /* Categories to keep, comma-separated, compared without case with item->category ("Age,SES";
     * "racism"); NULL or "" keeps all. Files that hold only other categories are not read. */
    const char *subset;
    /* Keep items whose language tag is this one or a subtag of it ("es" keeps "es-419" and
     * "es-ES"; "es-ES" keeps only "es-ES"); NULL or "" keeps all. */
    const char *language;
    /* Keep the first `limit` items (file order) that pass the filters; 0 keeps all. */
    size_t limit;
    /* Generic formats only ("pairs", "mc"): the JSON-lines file, and the name the items get as
     * their benchmark (default: the file name without folder and extension). */
    const char *path;
    const char *label;
    /* Association benchmarks ("seegull", "seegull_multilingual"): the templates per language
     * (data/assoc.h), those of a run config's `association_templates`; NULL / 0: the defaults. */
    const struct quipu_assoc_template *assoc_templates;
    size_t n_assoc_templates;
} quipu_load_opts;

#define QUIPU_LOAD_MAX_REASONS 8
#define QUIPU_LOAD_MAX_FILES 64 /* BLEnD reads 48 */
/* The longest text a row may hold: one CSV/TSV field, or one JSON-lines line (all its fields), at
 * most 1 MiB. Longer is a malformed row ("FILE:LINE: ... longer than the 1048576-byte limit"),
 * skipped or fatal by on_bad_row like any other: no benchmark text comes near it, and a 100 MB
 * field would grow about 24x through the tokenizer. (Items longer than the model's context are
 * left-truncated as lm-evaluation-harness does, src/score.c.) */
#define QUIPU_MAX_ROW_TEXT (1u << 20)

typedef struct quipu_load_report {
    size_t files;          /* files read */
    size_t rows_read;      /* data rows seen (headers and blank lines excluded) */
    size_t items;          /* items returned */
    size_t rows_skipped;   /* malformed rows left out (on_bad_row = SKIP) */
    size_t rows_excluded;  /* rows the benchmark's own definition leaves out (SESGO: xenofobia
                              rows adapted from BBQ, as the paper does; SeeGULL: stereotype tuples
                              without a contrast identity) */
    size_t rows_filtered;  /* rows left out by subset / language (rows after the limit are not read) */
    size_t n_reasons;      /* first skipped rows, "FILE:LINE: problem" */
    char reasons[QUIPU_LOAD_MAX_REASONS][320];
    /* the files read, in reading order (the first QUIPU_LOAD_MAX_FILES; `files` counts all), and
     * the sha256 of the bytes read (64 hex digits), for the run manifest */
    char file_paths[QUIPU_LOAD_MAX_FILES][1024];
    char file_sha256[QUIPU_LOAD_MAX_FILES][65];
} quipu_load_report;

/* NULL-terminated list of the built-in benchmark names, in documentation order. The generic
 * formats are "pairs" and "mc", and "template" for a template definition (they need opts->path). */
const char *const *quipu_benchmark_names(void);
/* One line about a built-in ("CrowS-Pairs, US English, 1,508 pairs"), NULL for an unknown name. */
const char *quipu_benchmark_describe(const char *name);

/* Loads benchmark `name` from datasets_dir (ignored for "pairs"/"mc"). On success *items is a
 * heap array of *n items (free with quipu_items_free); rep (may be NULL) says what was read and
 * left out. On failure *items is NULL, *n is 0, and err says why in one line. opts may be NULL
 * (fail on bad rows, keep everything). */
quipu_status quipu_load_benchmark(const char *name, const char *datasets_dir, const quipu_load_opts *opts,
                                  quipu_item **items, size_t *n, quipu_load_report *rep, quipu_error *err);

/* The generic JSON-lines formats, read from `path` (DESIGN.md; docs/benchmarks.md):
 *   pairs: {"id", "more", "less", "language", "culture", ["category", "direction"], ...}
 *   mc:    {"id", "context", "question", "choices": [...], "label", "language", "culture",
 *           ["category", "context_condition", "question_polarity", "stereotyped_choice",
 *            "unknown_choice", "target_choice", "other_choice", "roles", "group"], ...}
 *   text:  {"id", "text", "language", "culture", ["category"], ...} (a neutral sentence)
 * Item ids are "<label>:<id>"; a repeated id is a bad row. kind is QUIPU_ITEM_PAIR, _MC or _TEXT. */
quipu_status quipu_load_jsonl(const char *path, quipu_item_kind kind, const quipu_load_opts *opts,
                              quipu_item **items, size_t *n, quipu_load_report *rep, quipu_error *err);

/* A template benchmark definition (YAML, docs/templates.md; src/template.h) expanded in memory:
 * the items `quipu expand` writes, as quipu_load_jsonl would read them back (ids "<label>:<id>",
 * the same filters), each with its template's "FILE:LINE:COL" as source. Every problem of the
 * definition is found; err holds the first and the count of the others. Also reached through
 * quipu_load_benchmark("template", ...) with opts->path; a run config's `format: template`. */
quipu_status quipu_load_template(const char *path, const quipu_load_opts *opts, quipu_item **items, size_t *n,
                                 quipu_load_report *rep, quipu_error *err);

/* Frees every item's strings and the array. NULL is fine. */
void quipu_items_free(quipu_item *items, size_t n);

#endif
