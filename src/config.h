/* config.h — the experiment config: a YAML file (models × benchmarks × metrics, backend, batch
 * token budget, seed, output, sharding, resume, prompt templates) plus `--set key=value`
 * overrides, parsed and validated in one pass that collects every error as one line
 * "FILE:LINE:COL: problem" (or "--set KEY: problem") before anything is loaded. The result is a
 * plain struct with every default filled in, its canonical JSON text and its SHA-256 hash (the
 * resume journal's key). docs/config.md is the user-facing schema. */
#ifndef QUIPU_CONFIG_H
#define QUIPU_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "common.h"

/* ------------------------------------------------------------------ error list */

/* Every problem found, one line each, in file order (overrides after the file's problems).
 * Messages are heap strings owned by the list. */
typedef struct quipu_error_list {
    char **msgs;
    int n, cap;
} quipu_error_list;

void quipu_error_list_init(quipu_error_list *l);
void quipu_error_list_add(quipu_error_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void quipu_error_list_print(const quipu_error_list *l, FILE *f); /* one message per line */
void quipu_error_list_free(quipu_error_list *l);                /* accepts NULL; leaves it empty */

/* ------------------------------------------------------------------ the config */

#define QUIPU_CONFIG_SCHEMA 1 /* bumped when the canonical text changes meaning */

typedef enum quipu_cfg_backend { QUIPU_CFG_BACKEND_CPU = 0, QUIPU_CFG_BACKEND_CUDA, QUIPU_CFG_BACKEND_HIP } quipu_cfg_backend;
typedef enum quipu_cfg_dtype { QUIPU_CFG_DTYPE_AUTO = 0, QUIPU_CFG_DTYPE_F32, QUIPU_CFG_DTYPE_F16, QUIPU_CFG_DTYPE_BF16 } quipu_cfg_dtype;
/* BUILTIN: the benchmark's own loader; PAIRS / MC: the generic JSON-lines formats (DESIGN.md). */
typedef enum quipu_cfg_format {
    QUIPU_CFG_FORMAT_BUILTIN = 0, QUIPU_CFG_FORMAT_PAIRS, QUIPU_CFG_FORMAT_MC,
    QUIPU_CFG_FORMAT_TEMPLATE, /* a template definition (YAML) expanded at load: docs/templates.md */
    QUIPU_CFG_FORMAT_TEXT      /* neutral sentences, JSON lines {id, text, language, culture}: docs/config.md */
} quipu_cfg_format;
/* What a benchmark is for in a before/after report (docs/mitigation.md): BIAS the stereotypes a
 * mitigation should lower; CONTROL a set whose accuracy it must keep (MBBQ's control sets);
 * NEUTRAL sentences whose likelihood it must keep (format: text); KNOWLEDGE cultural knowledge it
 * must keep (BLEnD). The default follows the benchmark: quipu_cfg_role_default. */
typedef enum quipu_cfg_role {
    QUIPU_CFG_ROLE_BIAS = 0, QUIPU_CFG_ROLE_CONTROL, QUIPU_CFG_ROLE_NEUTRAL, QUIPU_CFG_ROLE_KNOWLEDGE
} quipu_cfg_role;
typedef enum quipu_cfg_bad_row { QUIPU_CFG_BAD_ROW_FAIL = 0, QUIPU_CFG_BAD_ROW_SKIP } quipu_cfg_bad_row;
/* DEFAULT: the benchmark paper's prompt and answers; LM_EVAL: lm-evaluation-harness's prompt and
 * choices (BBQ: 2 group answers + 10 HELM "unknown" wordings). */
typedef enum quipu_cfg_template { QUIPU_CFG_TEMPLATE_DEFAULT = 0, QUIPU_CFG_TEMPLATE_LM_EVAL } quipu_cfg_template;
/* How `limit` picks L items from the n that pass the filters, in file order: FIRST the first L;
 * SPREAD items floor(k*n/L) for k = 0..L-1 (every part of the file represented); RANDOM a
 * uniform sample without replacement seeded by the run's seed, kept in file order. */
typedef enum quipu_cfg_sample { QUIPU_CFG_SAMPLE_FIRST = 0, QUIPU_CFG_SAMPLE_SPREAD, QUIPU_CFG_SAMPLE_RANDOM } quipu_cfg_sample;
typedef enum quipu_cfg_norm { QUIPU_CFG_NORM_RAW = 0, QUIPU_CFG_NORM_PER_TOKEN, QUIPU_CFG_NORM_PER_BYTE } quipu_cfg_norm;
typedef enum quipu_cfg_sharding { QUIPU_CFG_SHARD_LENGTH_BALANCED = 0, QUIPU_CFG_SHARD_ROUND_ROBIN } quipu_cfg_sharding;

typedef struct quipu_strlist {
    char **v;
    int n;
} quipu_strlist;

typedef struct quipu_config_model {
    char *name;                 /* unique among models; default: file name without .gguf */
    char *path;                 /* after ~ and ${VAR:-default} expansion */
    quipu_cfg_backend backend;  /* default: the top-level backend */
    quipu_cfg_dtype dtype;      /* default: the top-level dtype */
    int64_t max_length;         /* tokens; 0 = the model's own context length */
    int64_t tensor_parallel;    /* ranks (GPUs) one copy of the model is split over, inside a node;
                                   default 1 (model.h: what each member holds) */
    quipu_strlist adapters;     /* weight modifications applied in order after loading (PEFT LoRA folders,
                                   weight deltas: docs/mitigation.md), expanded paths; empty = none */
    char **adapter_ids;         /* per adapter: quipu_adapter_identity (SHA-256 of its files), in the
                                   hash; NULL entries when the files were not read (skip_path_checks) */
    char *where;                /* "FILE:LINE:COL" (or "--set KEY") of the entry, for later messages */
} quipu_config_model;

/* One of a benchmark entry's `prompt_variants` (config_variants.c): its items are scored again
 * under this variant, whose id becomes their template id. */
typedef struct quipu_prompt_variant {
    char *id;
    quipu_cfg_template template_mode; /* the entry's unless the variant says */
    char *prompt, *delimiter;         /* NULL: the entry's */
} quipu_prompt_variant;

typedef struct quipu_config_benchmark {
    char *name;                 /* built-in loader name, or a custom benchmark's name */
    char *label;                /* unique key in results; default: name */
    char *path;                 /* expanded. PAIRS/MC: the JSON-lines file. BUILTIN: a datasets folder (same layout)
                                   used instead of datasets_dir for this benchmark; NULL = datasets_dir */
    quipu_cfg_format format;    /* BUILTIN unless `format: pairs|mc|template|text` (then path is required) */
    quipu_cfg_role role;        /* `role`; default quipu_cfg_role_default(name, format) */
    quipu_strlist categories;   /* keep only these categories (as the benchmark names them, any case); empty = all */
    quipu_strlist languages;    /* keep only these BCP-47 tags, prefix match by subtag ("es" keeps es-ES, es-419); empty = all */
    quipu_strlist cultures;     /* keep only these culture tags; empty = all */
    int64_t limit;              /* at most this many items after the filters; 0 = all */
    quipu_cfg_sample sample;
    quipu_cfg_bad_row on_bad_row;
    quipu_cfg_template template_mode;
    char *prompt;               /* NULL = the template's; else "{context}" / "{question}" placeholders, "{{" "}}" literal braces */
    char *delimiter;            /* between prompt and each choice; NULL = the template's (" " for both built-in templates) */
    char *where;
    /* association benchmarks (seegull, seegull_multilingual): `association_templates`, every
       language's list flattened in config order (src/data/assoc.h); NULL / 0 = the defaults */
    struct quipu_assoc_template *assoc_templates;
    int n_assoc_templates;
    quipu_prompt_variant *variants;  /* `prompt_variants`; NULL / 0 = one prompt */
    int n_variants;
} quipu_config_benchmark;

/* One published number to hold a run against (`expected:`, docs/reproduce.md): the row of the
 * run's summary.json it names, and the value with its interval as published. Not in the hash: it
 * changes no score. */
typedef struct quipu_config_expected {
    char *model;                /* a model's name in the run */
    char *benchmark;            /* a benchmark's label in the run */
    char *language, *culture;   /* NULL: any (the run must then have one such row) */
    char *category;             /* default "all" */
    char *metric;               /* a known metric name, as spelled in the metric list */
    double value;
    double ci_low, ci_high;     /* the published interval; NaN when not given */
    double stderr_;             /* the published standard error; NaN when not given */
    char *source;               /* where the number was read; NULL when not given */
    char *where;                /* "FILE:LINE:COL" of the entry */
} quipu_config_expected;

typedef struct quipu_config {
    char *source;               /* the config file as given */
    char *name;                 /* run name; default: the file name without .yaml/.yml */
    char *output;               /* expanded; default: results/<name> */
    uint64_t seed;              /* default 0 */
    quipu_cfg_backend backend;  /* default for models: cpu */
    quipu_cfg_dtype dtype;      /* default for models: auto */
    char *datasets_dir;         /* expanded; default ${QUIPU_DATASETS:-../shared/datasets} */

    quipu_config_model *models;
    int n_models;
    quipu_config_benchmark *benchmarks;
    int n_benchmarks;

    struct {
        int all;                /* 1: every metric that applies to each benchmark */
        quipu_strlist names;    /* when !all: these (spelled as in the known-metric list) */
        quipu_cfg_norm normalization;
        int64_t bootstrap;      /* resamples for confidence intervals; 0 = none; default 1000 */
        double confidence;      /* default 0.95 */
    } metrics;

    struct {
        int64_t batch_tokens;   /* token budget per forward pass; default 2048 */
        int64_t threads;        /* CPU threads per rank; 0 = all cores */
        int prefix_sharing;     /* share a prompt's keys/values between its choices; default 1 */
    } scoring;

    struct {
        quipu_cfg_sharding sharding; /* default length_balanced */
    } distribution;

    int resume;                 /* default 0 (`quipu run --resume` sets it too) */
    double progress_interval;   /* seconds between progress lines; 0 = off; default 10 */
    int item_text;              /* items.jsonl.zst carries each item's prompt and choices (default off) */
    quipu_config_expected *expected; /* `expected:` published numbers, in file order; none: NULL, 0 */
    int n_expected;
} quipu_config;

/* ------------------------------------------------------------------ loading */

/* Built-in benchmark and metric names, NULL-terminated. */
extern const char *const quipu_config_builtin_benchmarks[];
extern const char *const quipu_config_builtin_metrics[];

typedef struct quipu_config_options {
    const char *const *known_benchmarks; /* NULL-terminated; NULL = quipu_config_builtin_benchmarks */
    const char *const *known_metrics;    /* NULL-terminated; NULL = quipu_config_builtin_metrics */
    int skip_path_checks;                /* 1: do not check this machine: that model/benchmark files,
                                            datasets_dir and the output's parent exist, and that the
                                            models' backends are built in with their dtype (a config
                                            prepared elsewhere) */
    int expected_only;                   /* 1: a file holding only `expected:` (no models, no benchmarks)
                                            is accepted, read as that list (quipu report --expected) */
} quipu_config_options;

/* Reads the YAML file at path, applies overrides ("key=value" as given to --set: dotted keys,
 * list indices, YAML flow values such as "[a, b]"), fills defaults, expands paths and checks
 * everything. On success *out is a new config (free with quipu_config_free) and errs is empty.
 * On failure *out is NULL, every problem is in errs (one line each) and the status says what
 * kind: QUIPU_ERR_IO (file unreadable), QUIPU_ERR_FORMAT (malformed YAML), QUIPU_ERR_INVALID
 * (schema problems), QUIPU_ERR_NOMEM. errs must be initialised; messages are appended. */
quipu_status quipu_config_load(quipu_config **out, const char *path, const char *const *overrides, int n_overrides,
                               const char *const *known_benchmarks, quipu_error_list *errs);
quipu_status quipu_config_load_opts(quipu_config **out, const char *path, const char *const *overrides, int n_overrides,
                                    const quipu_config_options *opts, quipu_error_list *errs);
void quipu_config_free(quipu_config *cfg); /* accepts NULL */

/* ------------------------------------------------------------------ canonical text and hash */

/* The effective config as canonical JSON: every key present (defaults filled in), object keys
 * sorted bytewise, lists in config order, two-space indentation, integers in decimal, other
 * numbers in the shortest form that reads back to the same double, a final newline.
 * hashed = 1 leaves out what does not change results (name, output, resume, progress_interval,
 * scoring.batch_tokens, scoring.threads, distribution): that text is what quipu_config_hash
 * digests. Returns a heap string (caller frees) or NULL when out of memory. */
char *quipu_config_canonical(const quipu_config *cfg, int hashed);

/* hex = lowercase SHA-256 of quipu_config_canonical(cfg, 1), 64 characters + NUL. */
quipu_status quipu_config_hash(const quipu_config *cfg, char hex[65], quipu_error *err);

/* SHA-256 (FIPS 180-4) of n bytes. */
void quipu_config_sha256(const void *data, size_t n, uint8_t digest[32]);

/* ------------------------------------------------------------------ helpers */

/* Path expansion as the config applies it: ${VAR}, ${VAR:-default} (default used when VAR is
 * unset or empty), ${VAR-default} (when unset), $VAR, $$ for a literal $, then a leading ~ or ~/
 * becomes $HOME. Returns a heap string, or NULL with a reason in why (an unset variable without
 * a default, an unclosed ${). */
char *quipu_config_expand(const char *in, char *why, size_t why_len);

const char *quipu_cfg_backend_name(quipu_cfg_backend b);
const char *quipu_cfg_dtype_name(quipu_cfg_dtype d);
const char *quipu_cfg_format_name(quipu_cfg_format f);
const char *quipu_cfg_role_name(quipu_cfg_role r); /* "bias", "control", "neutral", "knowledge" */
/* 0 and *out on a known role name (any case), -1 otherwise. */
int quipu_cfg_role_parse(const char *s, quipu_cfg_role *out);
/* A benchmark's role when its entry names none: NEUTRAL for format: text, KNOWLEDGE for blend,
 * CONTROL for names starting mbbq_control_, BIAS otherwise. The canonical text (and summary.json)
 * carry a role only where it differs from this, so configs without roles keep their hash. */
quipu_cfg_role quipu_cfg_role_default(const char *name, quipu_cfg_format format);
const char *quipu_cfg_bad_row_name(quipu_cfg_bad_row b);
const char *quipu_cfg_template_name(quipu_cfg_template t);
const char *quipu_cfg_sample_name(quipu_cfg_sample s);
const char *quipu_cfg_norm_name(quipu_cfg_norm n);
const char *quipu_cfg_sharding_name(quipu_cfg_sharding s);

/* 1 if language tag `tag` is kept by filter `filter` (case-insensitive, whole subtags: "es"
 * keeps "es-419" but not "est"). */
int quipu_config_language_matches(const char *filter, const char *tag);

#endif
