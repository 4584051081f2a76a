/* data_internal.h — what the per-benchmark loaders share: the load context (the growing item
 * array, the filters, the bad-row policy and report), item helpers, and the BBQ-family rule that
 * finds the unknown / target / other / bias-aligned answers from the answer metadata. */
#ifndef QUIPU_DATA_INTERNAL_H
#define QUIPU_DATA_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>

#include "data/csv.h"
#include "data/loaders.h"

typedef struct ld_ctx {
    const quipu_load_opts *opts;
    quipu_load_report *rep;
    quipu_error *err;
    const char *bench;        /* benchmark name given to the items */
    const char *dir;          /* datasets folder */
    quipu_item *items;
    size_t n, cap;
    int done;                 /* limit reached: stop reading */
    char first_file[1024];    /* for "no items" messages */
    const char *row;          /* the JSON-lines row being read (ld_read_jsonl), not NUL-terminated; else NULL */
    size_t row_len;
} ld_ctx;

/* Joins dir and rel into out (size outlen). */
void ld_path(char *out, size_t outlen, const char *dir, const char *rel);
/* 1 if files holding category `cat` are wanted by opts->subset. */
int ld_want_category(const ld_ctx *c, const char *cat);

/* A malformed row: with SKIP, counts it (keeping the first reasons) and returns QUIPU_OK; with
 * FAIL, records "FILE:LINE: problem" in c->err and returns QUIPU_ERR_FORMAT. */
quipu_status ld_bad_row(ld_ctx *c, const char *file, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with a column: "FILE:LINE:COL: problem". */
quipu_status ld_bad_row_at(ld_ctx *c, const char *file, long line, long col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The 1-based byte column of `key`'s value in the JSON-lines row being read (c->row), or of the
 * row's first character when the key is not there. */
long ld_row_column(const ld_ctx *c, const char *key);

/* A fresh item (all indices -1, strings NULL) at the end of the array, or NULL (out of memory,
 * recorded in c->err). Fill it, then ld_commit (keeps it if it passes the filters) or ld_discard. */
quipu_item *ld_push(ld_ctx *c);
void ld_commit(ld_ctx *c);
void ld_discard(ld_ctx *c);

/* Sets the common fields: id "<bench>:<stem>:<row>" (stem may be NULL: "<bench>:<row>"),
 * benchmark, language, culture, category, source "FILE:LINE". Returns -1 when out of memory. */
int ld_item_tags(ld_ctx *c, quipu_item *it, const char *stem, long row, const char *file, long line,
                 const char *language, const char *culture, const char *category);

/* strdup that keeps NULL as NULL; sets *oom on failure. */
char *ld_strdup(const char *s, int *oom);
/* An item's name-swap keys (a generic row's or an expansion's "swap": a list of non-empty strings
 * without newlines) into *out, joined by '\n' (item.h); *out NULL when v is absent or null.
 * 0, -1 out of memory, -2 not such a list. */
int ld_swap_keys(const json_t *v, char **out);
char *ld_strndup(const char *s, size_t n, int *oom);

/* Strict integer parse of a label cell ("2", "2.0", " 2 "); returns 0 and sets *v, or -1. */
int ld_parse_index(const char *s, int *v);

/* The BBQ-family answer roles. ans_text / ans_group: answer_info's [text, group] of each of the
 * n answers; stereo: additional_metadata.stereotyped_groups; neg: question polarity is negative.
 * Sets unknown (the answer whose group is "unknown"; -1 if not exactly one), and target / other /
 * biased / mask as item.h defines them. Returns the number of group answers that name a
 * stereotyped group (1 when target is defined). */
int ld_bbq_roles(int n, const char *const *ans_text, const char *const *ans_group, int n_stereo,
                 const char *const *stereo, int neg, int *unknown, int *target, int *other, int *biased,
                 uint32_t *mask);

/* Per-benchmark entry points (each reads its files under c->dir and pushes items). */
quipu_status ld_crows(ld_ctx *c, const char *variant);
quipu_status ld_bbq(ld_ctx *c, int full);
quipu_status ld_mbbq(ld_ctx *c, const char *lang, int control);
quipu_status ld_esbbq(ld_ctx *c, const char *lang);
quipu_status ld_sesgo(ld_ctx *c);
quipu_status ld_stereoset(ld_ctx *c, int intra);
quipu_status ld_kobbq(ld_ctx *c);
quipu_status ld_seegull(ld_ctx *c, int multilingual);
quipu_status ld_blend(ld_ctx *c);
quipu_status ld_jsonl(ld_ctx *c, const char *path, quipu_item_kind kind);

/* Reads a JSON-lines file and calls fn(c, file, line, row, json object) for each non-blank line;
 * bad UTF-8 and bad JSON are bad rows. fn returns QUIPU_OK, or an error to stop. */
typedef quipu_status (*ld_json_row_fn)(ld_ctx *c, const char *file, const char *stem, long line, long row,
                                       json_t *obj, void *user);
quipu_status ld_read_jsonl(ld_ctx *c, const char *file, const char *stem, ld_json_row_fn fn, void *user);

/* Reads a CSV/TSV file whose header must hold every name in cols (else "FILE:1: no column 'x'")
 * and calls fn for each data record with a row number (1-based, header excluded) and idx[k] =
 * the field index of cols[k]. Records with the wrong field count or bad UTF-8 are bad rows
 * before fn sees them; an unterminated quoted field is a bad row that ends the file. */
typedef quipu_status (*ld_csv_row_fn)(ld_ctx *c, const char *file, const char *stem, const quipu_csv *csv,
                                      long row, const int *idx, void *user);
quipu_status ld_read_csv(ld_ctx *c, const char *file, const char *stem, char delim, const char *const *cols,
                         int ncols, ld_csv_row_fn fn, void *user);

#endif
