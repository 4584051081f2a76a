/* config_internal.h — what the config_*.c files share (and the sweep file's reader, which reads a
 * config plus a `sweep:` section through the same tree): the growable string, the node tree that
 * keeps every node's file:line:column, the loader with its error records, the typed readers, and
 * the schema tables. Nothing here is part of quipu's interface; config.h is. By concern:
 *   config_tree.c      error list, strings, node tree, error records, YAML -> tree, shorthands, --set
 *   config_read.c      typed values out of the tree, unknown keys, "did you mean", paths
 *   config_validate.c  the schema tables and the validation pass
 *   config_load.c      quipu_config_load / quipu_config_free
 *   config_canonical.c the canonical JSON text
 *   config_hash.c      SHA-256 and the config hash */
#ifndef QUIPU_CONFIG_INTERNAL_H
#define QUIPU_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* ------------------------------------------------------------------ small strings */

/* A growable NUL-terminated string; oom is sticky (later appends do nothing). */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

void cfg_sb_putn(sbuf *b, const char *s, size_t n);
void cfg_sb_puts(sbuf *b, const char *s);
void cfg_sb_putc(sbuf *b, char c);

/* Appends msg (taken over) to the list; -1 when out of memory (msg not taken). */
int cfg_errlist_push(quipu_error_list *l, char *msg);

/* ------------------------------------------------------------------ the node tree */

enum { CN_SCALAR, CN_SEQ, CN_MAP };

typedef struct cnode {
    int kind;
    char *text;   /* scalar value */
    int plain;    /* plain (unquoted, untagged) scalar: may read as a number, bool or null */
    int line, col; /* 1-based, file nodes only */
    int set;      /* -1: from the file; else the index of the --set that made it */
    struct cnode **kid; /* seq: items; map: key, value, key, value, ... */
    int n, cap;
} cnode;

cnode *cfg_node_new(int kind, int set, int line, int col);
void cfg_node_free(cnode *n); /* accepts NULL */
int cfg_node_push(cnode *p, cnode *c);
cnode *cfg_scalar_new(const char *text, int plain, int set, int line, int col);
/* map lookup: the value for key (and its key node), or NULL */
cnode *cfg_map_get(const cnode *m, const char *key, cnode **keynode);
const char *cfg_kind_name(const cnode *n); /* "a mapping", "a list", "a single value" */

/* ------------------------------------------------------------------ the loader and its errors */

typedef struct errent {
    int kind; /* 0: no location, 1: file line:col, 2: --set */
    int line, col, set, seq;
    char *msg; /* with its location prefix */
} errent;

typedef struct loader {
    const char *file;
    char **set_keys; /* the KEY part of each --set */
    int n_sets;
    errent *errs;
    int n_errs, cap_errs;
    int oom, yaml_failed, io_failed;
    const char *const *known_bench;
    const char *const *known_metrics;
    int skip_paths;
    int expected_only; /* quipu_config_options.expected_only */
    /* parser state */
    struct anchor { char *name; cnode *node; } *anchors;
    int n_anchors, cap_anchors;
    cnode **junk; /* nodes dropped while parsing (duplicate keys) that anchors may still name */
    int n_junk, cap_junk;
    long node_budget;
} loader;

void cfg_err_plain(loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error located at node n. */
void cfg_err_node(loader *L, const cnode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An error about the value at key path `kp`, located at node n. "--set KP: ..." does not repeat
 * KP; a file location always names it ("f.yaml:3:7: scoring.threads: ..."). */
void cfg_err_key(loader *L, const cnode *n, const char *kp, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* qsort order of error records: no location first, then by line and column, then by --set */
int cfg_errent_cmp(const void *a, const void *b);

/* Parses one YAML document (set: -1 for the file, else the --set whose value it is). *root =
 * NULL for an empty stream. Returns -1 on malformed input (reported). */
int cfg_yaml_to_tree(loader *L, const unsigned char *buf, size_t len, int set, cnode **root);
/* The list shorthands (`- bbq`, `- model.gguf`, `metrics: all`) rewritten as mappings. */
void cfg_normalize(loader *L, cnode *root);
/* Applies override number idx ("a.b.0.c=value") to *root. */
void cfg_apply_override(loader *L, cnode **root, int idx, const char *text);

/* ------------------------------------------------------------------ typed reading (config_read.c) */

/* validation context: the loader and the key path of the node being read */
typedef struct vctx {
    loader *L;
    char kp[512];
} vctx;

int cfg_is_null(const cnode *n);
void cfg_kp_join(char *out, size_t len, const char *base, const char *key);
void cfg_type_err(loader *L, const cnode *v, const char *kp, const char *expected);
void cfg_unknown_keys(loader *L, const cnode *m, const char *kp, const char *const *allowed);
void cfg_missing(loader *L, const cnode *m, const char *kp, const char *key, const char *why);
/* "FILE:LINE:COL" or "--set KEY" of node n (heap string; NULL and L->oom when out of memory) */
char *cfg_node_where(loader *L, const cnode *n);
/* The closest candidate to word, or NULL when none is close. */
const char *cfg_suggest(const char *word, const char *const *cands);
void cfg_join_names(sbuf *b, const char *const *names, const char *sep);
int cfg_in_list(const char *s, const char *const *list);

/* Each cfg_get_* returns 1 when the key is present and valid (*out set), 0 when absent, -1 when
 * present but wrong (reported; *out untouched). */
int cfg_get_int(vctx *c, const cnode *m, const char *key, int64_t lo, int64_t hi, int64_t *out);
int cfg_get_num(vctx *c, const cnode *m, const char *key, double lo, int lo_open, double hi, int hi_open, double *out);
int cfg_get_bool(vctx *c, const cnode *m, const char *key, int *out);
int cfg_get_str(vctx *c, const cnode *m, const char *key, int nonempty, char **out, const cnode **node);
int cfg_get_enum(vctx *c, const cnode *m, const char *key, const char *const *names, int *out);
int cfg_get_strlist(vctx *c, const cnode *m, const char *key, quipu_strlist *out, const cnode ***items);
int cfg_get_map(vctx *c, const cnode *m, const char *key, const cnode **out);
int cfg_get_path(vctx *c, const cnode *m, const char *key, char **out, const cnode **node);
void cfg_strlist_free(quipu_strlist *l);
void cfg_check_exists(loader *L, const cnode *v, const char *kp, const char *path, int want_dir);
void cfg_check_output(loader *L, const cnode *at, const char *kp, const char *out);

/* ------------------------------------------------------------------ the schema (config_validate.c) */

extern const char *const cfg_backend_names[], *const cfg_dtype_names[], *const cfg_format_names[], *const cfg_role_names[], *const cfg_bad_row_names[],
    *const cfg_template_names[], *const cfg_sample_names[], *const cfg_norm_names[], *const cfg_sharding_names[];
extern const char *const cfg_top_keys[], *const cfg_model_keys[], *const cfg_bench_keys[], *const cfg_metrics_keys[],
    *const cfg_scoring_keys[], *const cfg_distribution_keys[], *const cfg_prompt_fields[];

int cfg_valid_name(const char *s); /* [A-Za-z0-9._-]+, not "." or ".." */
/* The validation pass over root (a mapping): fills cfg, reports every problem. */
void cfg_validate(loader *L, const cnode *root, quipu_config *cfg, const char *path);

/* `association_templates` of a benchmark entry (config_assoc.c): read and checked into b, freed,
 * and written into the canonical text (NULL when the entry has none, so that other configs keep
 * their text and hash). */
void cfg_read_assoc_templates(vctx *c, const cnode *m, quipu_config_benchmark *b);
/* `prompt_variants` of a benchmark entry (config_variants.c), as the association templates */
void cfg_read_prompt_variants(vctx *c, const cnode *m, quipu_config_benchmark *b);
void cfg_prompt_variants_free(quipu_config_benchmark *b);
struct json_t *cfg_prompt_variants_json(const quipu_config_benchmark *b);
/* a prompt's placeholders ({context}, {question}; {{ }} literal) checked at v */
void cfg_check_prompt(loader *L, const cnode *v, const char *kp, const char *p);
/* lm-evaluation-harness has a task for b (its lm-eval mode); the error at v when it has not */
int cfg_has_lm_eval_task(const quipu_config_benchmark *b);
void cfg_err_lm_eval(loader *L, const cnode *v, const char *kp, const char *name);
void cfg_assoc_templates_free(quipu_config_benchmark *b);
struct json_t;
struct json_t *cfg_assoc_templates_json(const quipu_config_benchmark *b);

/* `expected:` (config_expected.c): the published numbers, read and checked into cfg (models and
 * benchmarks cross-checked when the config has them), freed, and their canonical JSON (NULL when
 * there are none: other configs keep their text; never in the hashed text). */
void cfg_read_expected(loader *L, const cnode *root, quipu_config *cfg);
void cfg_expected_free(quipu_config *cfg);
struct json_t *cfg_expected_json(const quipu_config *cfg);

/* ------------------------------------------------------------------ loading (config_load.c) */

/* A top-level section that is not the config's (the sweep file's `sweep:`): taken out of the tree
 * before validation, then read(L, root, value, cfg, ctx) is called after the config's own pass,
 * with value NULL when the section is absent (root for locating "missing" errors). */
typedef struct cfg_section {
    const char *key;
    void (*read)(loader *L, const cnode *root, const cnode *value, const quipu_config *cfg, void *ctx);
    void *ctx;
} cfg_section;

/* quipu_config_load_opts with an extra section (NULL: none). */
quipu_status cfg_load_with(quipu_config **out, const char *path, const char *const *overrides, int n_overrides,
                           const quipu_config_options *opts, const cfg_section *extra, quipu_error_list *errs);

#endif
