/* test_config.c — the experiment config: defaults, every error class with its exact
 * "FILE:LINE:COL: problem" text, several errors reported at once, --set overrides, path
 * expansion, SHA-256 vectors and the stability of the config hash. */
#define _POSIX_C_SOURCE 200809L
#include "backend.h"
#include "config.h"
#include "testlib.h"

#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

static int n_yaml = 0;

/* Writes text to a fresh temp file and returns its path (static rotation in testlib). */
static const char *yaml(const char *text) {
    char name[64];
    snprintf(name, sizeof name, "config-%d.yaml", n_yaml++);
    return test_write_tmp(name, text, strlen(text));
}

static quipu_status load(const char *path, const char *const *sets, int n_sets, int check_paths, quipu_config **cfg,
                         quipu_error_list *errs) {
    quipu_config_options o = {.skip_path_checks = !check_paths};
    quipu_error_list_init(errs);
    return quipu_config_load_opts(cfg, path, sets, n_sets, &o, errs);
}

/* Replaces every "{F}" in pattern by path. */
static void subst(char *out, size_t len, const char *pattern, const char *path) {
    size_t o = 0;
    for (const char *p = pattern; *p && o + 1 < len;) {
        if (!strncmp(p, "{F}", 3)) {
            size_t pl = strlen(path);
            if (o + pl >= len) break;
            memcpy(out + o, path, pl);
            o += pl;
            p += 3;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

/* Loads text (with overrides) and checks that the errors are exactly `expected` (NULL-terminated,
 * "{F}" stands for the file's path) and that the status is `status`. */
static void expect(const char *what, const char *text, const char *const *sets, int n_sets, int check_paths, quipu_status status,
                   const char *const *expected) {
    const char *path = yaml(text);
    quipu_config *cfg = NULL;
    quipu_error_list e;
    quipu_status st = load(path, sets, n_sets, check_paths, &cfg, &e);
    int n_exp = 0;
    while (expected[n_exp]) n_exp++;
    CHECK_MSG(st == status, "%s: status %s, expected %s", what, quipu_status_name(st), quipu_status_name(status));
    CHECK_MSG((st == QUIPU_OK) == (cfg != NULL), "%s: config returned with status %s", what, quipu_status_name(st));
    CHECK_MSG(e.n == n_exp, "%s: %d errors, expected %d", what, e.n, n_exp);
    for (int i = 0; i < e.n || i < n_exp; i++) {
        char want[4096] = "(none)";
        if (i < n_exp) subst(want, sizeof want, expected[i], path);
        const char *got = i < e.n ? e.msgs[i] : "(none)";
        CHECK_MSG(!strcmp(got, want), "%s: error %d\n  got:      %s\n  expected: %s", what, i, got, want);
    }
    quipu_config_free(cfg);
    quipu_error_list_free(&e);
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOERR ((const char *const[]){NULL})

static const char *MINIMAL = "models:\n"
                             "  - path: /models/m.gguf\n"
                             "benchmarks:\n"
                             "  - crows_pairs_en\n";

/* ------------------------------------------------------------------ a valid config */

static void test_defaults(void) {
    const char *path = yaml(MINIMAL);
    quipu_config *c = NULL;
    quipu_error_list e;
    CHECK(load(path, NULL, 0, 0, &c, &e) == QUIPU_OK);
    CHECK(e.n == 0);
    if (!c) return;
    char want[512];
    const char *base = strrchr(path, '/') + 1;
    snprintf(want, sizeof want, "%.*s", (int)(strlen(base) - 5), base);
    CHECK(!strcmp(c->name, want));
    snprintf(want, sizeof want, "results/%.*s", (int)(strlen(base) - 5), base);
    CHECK(!strcmp(c->output, want));
    CHECK(c->seed == 0);
    CHECK(c->n_models == 1 && !strcmp(c->models[0].name, "m") && !strcmp(c->models[0].path, "/models/m.gguf"));
    CHECK(c->models[0].backend == QUIPU_CFG_BACKEND_CPU && c->models[0].dtype == QUIPU_CFG_DTYPE_AUTO && c->models[0].max_length == 0);
    snprintf(want, sizeof want, "%s:2:5", path);
    CHECK(!strcmp(c->models[0].where, want));
    CHECK(c->n_benchmarks == 1);
    quipu_config_benchmark *b = &c->benchmarks[0];
    CHECK(!strcmp(b->name, "crows_pairs_en") && !strcmp(b->label, "crows_pairs_en") && b->path == NULL);
    CHECK(b->format == QUIPU_CFG_FORMAT_BUILTIN && b->limit == 0 && b->sample == QUIPU_CFG_SAMPLE_FIRST);
    CHECK(b->on_bad_row == QUIPU_CFG_BAD_ROW_FAIL && b->template_mode == QUIPU_CFG_TEMPLATE_DEFAULT);
    CHECK(b->prompt == NULL && b->delimiter == NULL && b->languages.n == 0 && b->categories.n == 0 && b->cultures.n == 0);
    CHECK(c->metrics.all == 1 && c->metrics.names.n == 0 && c->metrics.normalization == QUIPU_CFG_NORM_RAW);
    CHECK(c->metrics.bootstrap == 1000 && c->metrics.confidence == 0.95);
    CHECK(c->scoring.batch_tokens == 2048 && c->scoring.threads == 0 && c->scoring.prefix_sharing == 1);
    CHECK(c->distribution.sharding == QUIPU_CFG_SHARD_LENGTH_BALANCED);
    CHECK(c->resume == 0 && c->progress_interval == 10);
    const char *ds = getenv("QUIPU_DATASETS");
    CHECK(!strcmp(c->datasets_dir, ds && *ds ? ds : "../shared/datasets"));
    quipu_config_free(c);
    quipu_error_list_free(&e);
}

static void test_full(void) {
    const char *text = "name: full\n"
                       "output: /tmp/out/full\n"
                       "seed: 42\n"
                       "backend: cuda\n"
                       "dtype: bf16\n"
                       "datasets_dir: /data\n"
                       "models:\n"
                       "  - path: /m/a.gguf\n"
                       "    name: a\n"
                       "    backend: hip\n"
                       "    dtype: f32\n"
                       "    max_length: 4096\n"
                       "  - /m/b.gguf\n"
                       "benchmarks:\n"
                       "  - name: bbq\n"
                       "    label: bbq_lm_eval\n"
                       "    template: lm-eval\n"
                       "    categories: [Age, SES]\n"
                       "    languages: en\n"
                       "    cultures: [US]\n"
                       "    limit: 100\n"
                       "    sample: random\n"
                       "    on_bad_row: skip\n"
                       "    prompt: \"{context}\\n\\nQ: {question}\\nA:\"\n"
                       "    delimiter: \" \"\n"
                       "  - name: mine\n"
                       "    path: /data/mine.jsonl\n"
                       "    format: mc\n"
                       "metrics:\n"
                       "  include: [S_DIS, s_amb]\n"
                       "  normalization: per_byte\n"
                       "  bootstrap: 0\n"
                       "  confidence: 0.9\n"
                       "scoring:\n"
                       "  batch_tokens: 16384\n"
                       "  threads: 8\n"
                       "  prefix_sharing: off\n"
                       "distribution:\n"
                       "  sharding: round_robin\n"
                       "resume: yes\n"
                       "progress_interval: 2.5\n";
    quipu_config *c = NULL;
    quipu_error_list e;
    CHECK(load(yaml(text), NULL, 0, 0, &c, &e) == QUIPU_OK);
    for (int i = 0; i < e.n; i++) fprintf(stderr, "unexpected: %s\n", e.msgs[i]);
    if (!c) return;
    CHECK(!strcmp(c->name, "full") && !strcmp(c->output, "/tmp/out/full") && c->seed == 42);
    CHECK(c->backend == QUIPU_CFG_BACKEND_CUDA && c->dtype == QUIPU_CFG_DTYPE_BF16 && !strcmp(c->datasets_dir, "/data"));
    CHECK(c->n_models == 2);
    CHECK(c->models[0].backend == QUIPU_CFG_BACKEND_HIP && c->models[0].dtype == QUIPU_CFG_DTYPE_F32 && c->models[0].max_length == 4096);
    /* the top-level backend and dtype are the defaults of the models that do not set theirs */
    CHECK(!strcmp(c->models[1].name, "b") && c->models[1].backend == QUIPU_CFG_BACKEND_CUDA && c->models[1].dtype == QUIPU_CFG_DTYPE_BF16);
    quipu_config_benchmark *b = &c->benchmarks[0];
    CHECK(!strcmp(b->label, "bbq_lm_eval") && b->template_mode == QUIPU_CFG_TEMPLATE_LM_EVAL);
    CHECK(b->categories.n == 2 && !strcmp(b->categories.v[1], "SES"));
    CHECK(b->languages.n == 1 && !strcmp(b->languages.v[0], "en") && b->cultures.n == 1);
    CHECK(b->limit == 100 && b->sample == QUIPU_CFG_SAMPLE_RANDOM && b->on_bad_row == QUIPU_CFG_BAD_ROW_SKIP);
    CHECK(b->prompt && !strcmp(b->prompt, "{context}\n\nQ: {question}\nA:") && b->delimiter && !strcmp(b->delimiter, " "));
    CHECK(c->benchmarks[1].format == QUIPU_CFG_FORMAT_MC && !strcmp(c->benchmarks[1].path, "/data/mine.jsonl"));
    CHECK(c->metrics.all == 0 && c->metrics.names.n == 2 && !strcmp(c->metrics.names.v[0], "s_dis"));
    CHECK(c->metrics.normalization == QUIPU_CFG_NORM_PER_BYTE && c->metrics.bootstrap == 0 && c->metrics.confidence == 0.9);
    CHECK(c->scoring.batch_tokens == 16384 && c->scoring.threads == 8 && c->scoring.prefix_sharing == 0);
    CHECK(c->distribution.sharding == QUIPU_CFG_SHARD_ROUND_ROBIN && c->resume == 1 && c->progress_interval == 2.5);
    quipu_config_free(c);
    quipu_error_list_free(&e);
}

/* ------------------------------------------------------------------ one test per error class */

static void test_errors(void) {
    expect("unknown key", "models: [/m.gguf]\nbenchmarks: [bbq]\nscoring:\n  batchsize: 4096\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:4:3: unknown key 'batchsize' (did you mean 'batch_tokens'?)"));
    expect("unknown key, no close match", "models: [/m.gguf]\nbenchmarks: [bbq]\ndistribution:\n  nodes: 4\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:4:3: unknown key 'nodes' in distribution (expected one of: sharding)"));
    expect("a section's key at the top", "models: [/m.gguf]\nbenchmarks: [bbq]\nthreads: 4\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:3:1: unknown key 'threads' (did you mean 'scoring.threads'?)"));
    expect("another tool's word", "models: [/m.gguf]\nbenchmarks:\n  - name: bbq\n    subset: Age\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:4:5: unknown key 'subset' (did you mean 'categories'?)"));

    expect("not an integer", "seed: abc\nmodels: [/m.gguf]\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:7: seed: expected an integer, got 'abc'"));
    expect("quoted integer", "seed: \"42\"\nmodels: [/m.gguf]\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:7: seed: expected an integer, got the string \"42\" (remove the quotes)"));
    expect("null integer", "seed:\nmodels: [/m.gguf]\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:6: seed: expected an integer, got nothing (leave the key out to use the default)"));
    expect("not a bool", "resume: maybe\nmodels: [/m.gguf]\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:9: resume: expected true or false, got 'maybe'"));
    expect("list for a string", "name: [a, b]\nmodels: [/m.gguf]\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:7: name: expected a string, got a list"));
    expect("scalar for a list", "models: /m.gguf\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:9: models: expected a list of models, got '/m.gguf'"));
    expect("scalar for a section", "models: [/m.gguf]\nbenchmarks: [bbq]\nscoring: fast\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:3:10: scoring: expected a mapping of keys, got 'fast'"));
    expect("bad enum", "models:\n  - path: /m.gguf\n    backend: cdua\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:3:14: models.0.backend: expected one of cpu|cuda|hip, got 'cdua' (did you mean 'cuda'?)"));

    expect("out of range integer", "models: [/m.gguf]\nbenchmarks: [bbq]\nscoring:\n  batch_tokens: 0\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:4:17: scoring.batch_tokens: expected an integer from 1 to 67108864, got 0"));
    expect("out of range number", "models: [/m.gguf]\nbenchmarks: [bbq]\nmetrics:\n  confidence: 1.5\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:4:15: metrics.confidence: expected a number strictly between 0 and 1, got 1.5"));
    expect("negative seed", "seed: -1\nmodels: [/m.gguf]\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:7: seed: expected an integer >= 0, got -1"));
    expect("integer overflow", "seed: 99999999999999999999\nmodels: [/m.gguf]\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:7: seed: expected an integer >= 0, got 99999999999999999999"));

    expect("missing top-level keys", "seed: 1\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:1: missing required key 'models' (a list of models, each with a 'path')",
                "{F}:1:1: missing required key 'benchmarks' (a list of built-in names or {name, path, format} entries)"));
    expect("missing model path", "models:\n  - name: m\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:2:5: models.0: missing required key 'path' (a GGUF file or a checkpoint folder)"));
    expect("missing path of a custom format", "models: [/m.gguf]\nbenchmarks:\n  - name: mine\n    format: pairs\n", NULL, 0, 0,
           QUIPU_ERR_INVALID, LIST("{F}:3:5: benchmarks.0: missing required key 'path' (format: pairs reads a JSON-lines file)"));
    expect("empty list", "models: []\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:9: models: expected a non-empty list"));

    expect("duplicate key", "seed: 1\nmodels: [/m.gguf]\nseed: 2\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:3:1: duplicate key 'seed' (first at line 1, column 1)"));
    expect("duplicate model name", "models: [/a/m.gguf, /b/m.gguf]\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:21: models.1: another model is also named 'm' (models.0); set 'name' to tell them apart"));
    expect("duplicate benchmark", "models: [/m.gguf]\nbenchmarks: [bbq, sesgo, bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:2:26: benchmarks.2: 'bbq' is already benchmarks.0; give one of them a distinct 'label'"));

    setenv("QUIPU_TEST_MODELS", "/nonexistent-models", 1);
    expect("model path does not exist", "models:\n  - path: ${QUIPU_TEST_MODELS}/m.gguf\nbenchmarks:\n  - name: mine\n    path: /no/such.jsonl\n    format: mc\n",
           NULL, 0, 1, QUIPU_ERR_INVALID,
           LIST("{F}:2:11: models.0.path: '/nonexistent-models/m.gguf' does not exist (from '${QUIPU_TEST_MODELS}/m.gguf')",
                "{F}:5:11: benchmarks.0.path: '/no/such.jsonl' does not exist"));
    expect("a built-in's own datasets folder", "models: [/dev/null]\nbenchmarks:\n  - {name: bbq, path: /dev/null}\noutput: /tmp\n", NULL, 0, 1,
           QUIPU_ERR_INVALID, LIST("{F}:3:23: benchmarks.0.path: '/dev/null' is not a folder"));
    unsetenv("QUIPU_TEST_UNSET");
    expect("unset variable", "models:\n  - path: ${QUIPU_TEST_UNSET}/m.gguf\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:2:11: models.0.path: environment variable QUIPU_TEST_UNSET is not set (write ${QUIPU_TEST_UNSET:-default} for a fallback)"));
    expect("output not creatable", "models: [/dev/null]\nbenchmarks:\n  - name: mine\n    path: /dev/null\n    format: pairs\noutput: /dev/null/run\n",
           NULL, 0, 1, QUIPU_ERR_INVALID, LIST("{F}:6:9: output: cannot create '/dev/null/run': '/dev/null' is not a folder"));

    expect("unknown benchmark", "models: [/m.gguf]\nbenchmarks:\n  - crows_pair_en\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:3:5: unknown benchmark 'crows_pair_en' (did you mean 'crows_pairs_en'?)"));
    expect("own benchmark without format", "models: [/m.gguf]\nbenchmarks:\n  - name: mine\n    path: /x.jsonl\n", NULL, 0, 0,
           QUIPU_ERR_INVALID, LIST("{F}:3:11: unknown benchmark 'mine': a benchmark of your own needs 'format: pairs' or 'format: mc'"));
    expect("own benchmark named like a built-in", "models: [/m.gguf]\nbenchmarks:\n  - {name: bbq, path: /x.jsonl, format: mc}\n", NULL, 0, 0,
           QUIPU_ERR_INVALID, LIST("{F}:3:12: 'bbq' is a built-in benchmark; give your mc benchmark another name"));
    {
        /* the caller's list of known benchmarks replaces the built-in one */
        const char *path = yaml("models: [/m.gguf]\nbenchmarks: [crows_pairs_en, toy]\n");
        quipu_config *c = NULL;
        quipu_error_list e;
        quipu_error_list_init(&e);
        quipu_config_options o = {.known_benchmarks = LIST("toy"), .skip_path_checks = 1};
        CHECK(quipu_config_load_opts(&c, path, NULL, 0, &o, &e) == QUIPU_ERR_INVALID);
        char want[600];
        snprintf(want, sizeof want, "%s:2:14: unknown benchmark 'crows_pairs_en' (built-in: toy; or give 'path' and 'format: pairs|mc' for a JSON-lines file)", path);
        CHECK_MSG(e.n == 1 && !strcmp(e.msgs[0], want), "got %s", e.n ? e.msgs[0] : "(none)");
        quipu_error_list_free(&e);
    }

    expect("unknown metric", "models: [/m.gguf]\nbenchmarks: [bbq]\nmetrics: [s_dis, s_dsi]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:3:18: metrics.include.1: unknown metric 's_dsi' (did you mean 's_dis'?)"));
    expect("bad language tag", "models: [/m.gguf]\nbenchmarks:\n  - name: mbbq_es\n    languages: [es, spanish]\n", NULL, 0, 0,
           QUIPU_ERR_INVALID, LIST("{F}:4:21: benchmarks.0.languages.1: 'spanish' is not a BCP-47 language tag (e.g. es, es-419, fr-FR)"));
    expect("bad prompt placeholder", "models: [/m.gguf]\nbenchmarks:\n  - name: bbq\n    prompt: '{contxt} {question}'\n", NULL, 0, 0,
           QUIPU_ERR_INVALID, LIST("{F}:4:13: benchmarks.0.prompt: unknown placeholder '{contxt}' (did you mean '{context}'?)"));
    expect("bad run name", "name: my run\nmodels: [/m.gguf]\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:7: name: 'my run' may only contain letters, digits, '.', '_' and '-' (it names files)"));

    /* malformed YAML: libyaml's problem at its mark */
    expect("malformed YAML", "models: [/m.gguf\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_FORMAT,
           LIST("{F}:2:11: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 9)"));
    expect("tab indentation", "models:\n\t- /m.gguf\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_FORMAT,
           LIST("{F}:2:1: found character that cannot start any token (while scanning for the next token at line 2, column 1); tabs cannot indent YAML, use spaces"));
    expect("two documents", "models: [/m.gguf]\nbenchmarks: [bbq]\n---\nseed: 1\n", NULL, 0, 0, QUIPU_ERR_FORMAT,
           LIST("{F}:3:1: a config holds one YAML document; this is a second one ('---')"));
    expect("invalid UTF-8", "models: [/m.gguf]\nname: \xff\n", NULL, 0, 0, QUIPU_ERR_FORMAT,
           LIST("{F}:2:7: invalid leading UTF-8 octet (byte 0xff)"));
    expect("unknown alias", "models: *m\nbenchmarks: [bbq]\n", NULL, 0, 0, QUIPU_ERR_FORMAT, LIST("{F}:1:9: unknown alias '*m'"));
    expect("not a mapping", "- models\n- benchmarks\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:1: the config: expected a mapping of keys (models, benchmarks, ...), got a list"));
    expect("empty file", "", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:1: missing required key 'models' (a list of models, each with a 'path')",
                "{F}:1:1: missing required key 'benchmarks' (a list of built-in names or {name, path, format} entries)"));

    /* a UTF-8 BOM and CRLF line ends (Windows editors); UTF-16 with its BOM */
    expect("BOM and CRLF", "\xef\xbb\xbfmodels: [/m.gguf]\r\nbenchmarks: [bbq]\r\nseed: x\r\n", NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:3:7: seed: expected an integer, got 'x'"));
    {
        const char *u8 = "models: [/m.gguf]\nbenchmarks: [bbq]\nseed: y\n";
        unsigned char u16[256] = {0xff, 0xfe};
        size_t n16 = 2;
        for (const char *p = u8; *p; p++) {
            u16[n16++] = (unsigned char)*p;
            u16[n16++] = 0;
        }
        const char *path = test_write_tmp("config-utf16.yaml", u16, n16);
        quipu_config *c = NULL;
        quipu_error_list e;
        CHECK(load(path, NULL, 0, 0, &c, &e) == QUIPU_ERR_INVALID);
        char want[600];
        snprintf(want, sizeof want, "%s:3:7: seed: expected an integer, got 'y'", path);
        CHECK_MSG(e.n == 1 && !strcmp(e.msgs[0], want), "UTF-16: %s", e.n ? e.msgs[0] : "(none)");
        quipu_error_list_free(&e);
    }

    /* unreadable file */
    quipu_config *c = NULL;
    quipu_error_list e;
    CHECK(load("/nonexistent/dir/x.yaml", NULL, 0, 0, &c, &e) == QUIPU_ERR_IO && c == NULL);
    CHECK(e.n == 1 && !strcmp(e.msgs[0], "/nonexistent/dir/x.yaml: cannot read the config: No such file or directory"));
    quipu_error_list_free(&e);
}

/* Anchors and aliases are plain YAML: a shared block of settings. */
static void test_aliases(void) {
    const char *t = "models: [/m.gguf]\n"
                    "benchmarks:\n"
                    "  - &b {name: mbbq_es, limit: 50, sample: spread}\n"
                    "  - {name: mbbq_en, limit: 50}\n"
                    "scoring: &s {threads: 2}\n";
    quipu_config *c = NULL;
    quipu_error_list e;
    CHECK(load(yaml(t), NULL, 0, 0, &c, &e) == QUIPU_OK);
    if (c) CHECK(c->benchmarks[0].sample == QUIPU_CFG_SAMPLE_SPREAD && c->scoring.threads == 2);
    quipu_config_free(c);
    quipu_error_list_free(&e);
    /* an alias bomb stops at a node budget instead of eating the memory */
    expect("alias bomb",
           "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
           "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
           "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
           "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
           NULL, 0, 0, QUIPU_ERR_FORMAT, LIST("{F}: more than 1000000 YAML nodes (an alias expanding too much?)"));
    t = "models: &m [/m.gguf]\nbenchmarks: [bbq]\nx: *m\n";
    expect("alias copies keep their origin", t, NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:3:1: unknown key 'x' (expected one of: name, output, seed, backend, dtype, datasets_dir, models, benchmarks, metrics, scoring, distribution, resume, progress_interval, item_text, expected)"));
}

/* ------------------------------------------------------------------ all at once */

static void test_many_errors(void) {
    const char *text = "name: demo\n"                 /* 1 */
                       "seed: many\n"                 /* 2 */
                       "models:\n"                    /* 3 */
                       "  - path: /m.gguf\n"          /* 4 */
                       "    max_length: -5\n"         /* 5 */
                       "    dtyp: f16\n"              /* 6 */
                       "benchmarks:\n"                /* 7 */
                       "  - sesgo\n"                  /* 8 */
                       "  - name: mbbq_es\n"          /* 9 */
                       "    limit: lots\n"            /* 10 */
                       "    on_bad_row: ignore\n"     /* 11 */
                       "  - crows_pairs_de\n"         /* 12 */
                       "metrics:\n"                   /* 13 */
                       "  bootstrap: 1e3\n"           /* 14 */
                       "scoring:\n"                   /* 15 */
                       "  batchsize: 4096\n"          /* 16 */
                       "  prefix_sharing: sometimes\n" /* 17 */
                       "resume: 1\n";                 /* 18 */
    expect("nine problems, one pass", text, NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:2:7: seed: expected an integer, got 'many'",
                "{F}:5:17: models.0.max_length: expected an integer from 0 to 16777216, got -5",
                "{F}:6:5: unknown key 'dtyp' (did you mean 'dtype'?)",
                "{F}:10:12: benchmarks.1.limit: expected an integer, got 'lots'",
                "{F}:11:17: benchmarks.1.on_bad_row: expected one of fail|skip, got 'ignore'",
                "{F}:12:5: unknown benchmark 'crows_pairs_de' (did you mean 'crows_pairs_en'?)",
                "{F}:14:14: metrics.bootstrap: expected an integer, got '1e3'",
                "{F}:16:3: unknown key 'batchsize' (did you mean 'batch_tokens'?)",
                "{F}:17:19: scoring.prefix_sharing: expected true or false, got 'sometimes'",
                "{F}:18:9: resume: expected true or false, got '1'"));
}

/* ------------------------------------------------------------------ --set */

static void test_overrides(void) {
    const char *base = "name: base\n"
                       "models:\n"
                       "  - path: /m/a.gguf\n"
                       "benchmarks:\n"
                       "  - crows_pairs_en\n"
                       "  - name: mbbq_es\n"
                       "    limit: 10\n"
                       "scoring:\n"
                       "  batch_tokens: 1024\n";
    const char *path = yaml(base);
    const char *const sets[] = {
        "seed=7",                               /* scalar */
        "scoring.batch_tokens = 4096",          /* nested, spaces around = */
        "scoring.threads=3",                    /* nested, new key */
        "models.0.path=/m/b: c.gguf",           /* list index; a value taken as written */
        "models.0.name=b",
        "models.1.path=/m/d.gguf",              /* one past the end appends */
        "benchmarks.0.limit=25",                /* a shorthand entry becomes its mapping */
        "benchmarks.1=sesgo",                   /* replace a list item */
        "benchmarks.2={name: bbq, template: lm-eval}",
        "metrics=[s_dis, s_amb]",               /* a new list value */
        "metrics.bootstrap=200",
        "distribution.sharding=round_robin",    /* a section the file lacks */
        "resume=true",
    };
    quipu_config *c = NULL;
    quipu_error_list e;
    CHECK(load(path, sets, (int)(sizeof sets / sizeof *sets), 0, &c, &e) == QUIPU_OK);
    for (int i = 0; i < e.n; i++) fprintf(stderr, "unexpected: %s\n", e.msgs[i]);
    if (c) {
        CHECK(c->seed == 7 && c->scoring.batch_tokens == 4096 && c->scoring.threads == 3);
        CHECK(c->n_models == 2 && !strcmp(c->models[0].path, "/m/b: c.gguf") && !strcmp(c->models[1].name, "d"));
        CHECK(!strcmp(c->models[1].where, "--set models.1.path"));
        CHECK(c->n_benchmarks == 3 && c->benchmarks[0].limit == 25 && !strcmp(c->benchmarks[1].name, "sesgo"));
        CHECK(c->benchmarks[1].limit == 0 && c->benchmarks[2].template_mode == QUIPU_CFG_TEMPLATE_LM_EVAL);
        CHECK(c->metrics.all == 0 && c->metrics.names.n == 2 && c->metrics.bootstrap == 200);
        CHECK(c->distribution.sharding == QUIPU_CFG_SHARD_ROUND_ROBIN && c->resume == 1);
    }
    quipu_config_free(c);
    quipu_error_list_free(&e);

    /* a whole list replaced by a flow value; metrics back to all */
    const char *const sets2[] = {"benchmarks=[crows_pairs_fr, sesgo]", "metrics=all", "models=[/x/y.gguf]"};
    c = NULL;
    CHECK(load(path, sets2, 3, 0, &c, &e) == QUIPU_OK);
    if (c) {
        CHECK(c->n_benchmarks == 2 && !strcmp(c->benchmarks[0].name, "crows_pairs_fr") && !strcmp(c->benchmarks[1].name, "sesgo"));
        CHECK(c->metrics.all == 1 && c->n_models == 1 && !strcmp(c->models[0].name, "y"));
    }
    quipu_config_free(c);
    quipu_error_list_free(&e);

    /* bad keys, bad types, bad shapes: each reported as --set KEY, all of them */
    expect("bad overrides", base,
           LIST("scoring.batchsize=4096", "seed=abc", "models.3.path=/x", "seed.x=1", "nokey", "=3", "a..b=1",
                "benchmarks=[crows_pairs_en, sesg", "benchmarks.x.limit=1", "scoring.threads=\"4\"", "benchmarks=[crows_pairs_en, sesg]",
                "benchmarks.0.limit=-1"),
           12, 0, QUIPU_ERR_INVALID,
           LIST("--set scoring.batchsize: unknown key 'batchsize' (did you mean 'batch_tokens'?)",
                "--set seed: expected an integer, got 'abc'",
                "--set models.3.path: index 3 is past the end of 'models' (1 item; use 1 to add one)",
                "--set seed.x: 'seed' is a single value, not a mapping or a list; cannot set 'x' inside it",
                "--set nokey: expected KEY=VALUE",
                "--set =3: empty key before '='",
                "--set a..b: empty part in the key (two dots, or a dot at an end)",
                "--set benchmarks: invalid YAML value '[crows_pairs_en, sesg': did not find expected ',' or ']'",
                "--set benchmarks.x.limit: 'benchmarks' is a list: 'x' is not an index (0, 1, ...)",
                "--set scoring.threads: expected an integer, got the string \"4\" (remove the quotes)",
                "--set benchmarks: unknown benchmark 'sesg' (did you mean 'sesgo'?)",
                "--set benchmarks.0.limit: expected an integer from 0 to 1000000000, got -1"));

    /* file errors first (in line order), then the overrides' */
    expect("file and override errors", "seed: x\nmodels: [/m.gguf]\nbenchmarks: [bbq]\n", LIST("backend=gpu"), 1, 0, QUIPU_ERR_INVALID,
           LIST("{F}:1:7: seed: expected an integer, got 'x'",
                "--set backend: expected one of cpu|cuda|hip, got 'gpu' (did you mean 'cuda'?)"));
    /* an override fixes a file's bad value */
    expect("override replaces a bad value", "seed: x\nmodels: [/m.gguf]\nbenchmarks: [bbq]\n", LIST("seed=3"), 1, 0, QUIPU_OK, NOERR);
    /* overrides alone may supply required keys */
    expect("overrides supply the required keys", "seed: 1\n", LIST("models.0.path=/m.gguf", "benchmarks=[bbq]"), 2, 0, QUIPU_OK, NOERR);
}

/* ------------------------------------------------------------------ paths */

static void expand_is(const char *in, const char *want) {
    char why[256];
    char *got = quipu_config_expand(in, why, sizeof why);
    CHECK_MSG(got && !strcmp(got, want), "expand(%s) = %s, expected %s (%s)", in, got ? got : "NULL", want, why);
    free(got);
}

static void expand_fails(const char *in, const char *want_why) {
    char why[256];
    char *got = quipu_config_expand(in, why, sizeof why);
    CHECK_MSG(!got && !strcmp(why, want_why), "expand(%s): got %s / '%s', expected failure '%s'", in, got ? got : "NULL", why, want_why);
    free(got);
}

static void test_expand(void) {
    setenv("HOME", "/home/u", 1);
    setenv("QT_SET", "/set", 1);
    setenv("QT_EMPTY", "", 1);
    unsetenv("QT_UNSET");
    expand_is("~/m.gguf", "/home/u/m.gguf");
    expand_is("~", "/home/u");
    expand_is("a/~/b", "a/~/b");
    expand_is("~user/x", "~user/x");
    expand_is("${QT_SET}/m", "/set/m");
    expand_is("$QT_SET/m", "/set/m");
    expand_is("${QT_UNSET:-~/.cache/quipu/models}/m.gguf", "/home/u/.cache/quipu/models/m.gguf");
    expand_is("${QT_SET:-/default}/m", "/set/m");
    expand_is("${QT_EMPTY:-/default}/m", "/default/m");
    expand_is("${QT_EMPTY-/default}/m", "/m");
    expand_is("${QT_UNSET-/default}/m", "/default/m");
    expand_is("${QT_UNSET:-${QT_SET}/x}/m", "/set/x/m");
    expand_is("${QT_UNSET:-${QT_UNSET:-/deep}}", "/deep");
    expand_is("cost$$5 $ 1", "cost$5 $ 1");
    expand_is("${QT_EMPTY}x", "x");
    expand_fails("${QT_UNSET}/m", "environment variable QT_UNSET is not set (write ${QT_UNSET:-default} for a fallback)");
    expand_fails("$QT_UNSET", "environment variable QT_UNSET is not set (write ${QT_UNSET:-default} for a fallback)");
    expand_fails("${QT_SET:-/x", "unclosed '${QT_SET'");
    expand_fails("${}", "'${' must be followed by a variable name");
}

static void test_languages(void) {
    CHECK(quipu_config_language_matches("es", "es-419"));
    CHECK(quipu_config_language_matches("es", "es"));
    CHECK(quipu_config_language_matches("ES", "es-ES"));
    CHECK(quipu_config_language_matches("es-419", "es-419"));
    CHECK(!quipu_config_language_matches("es", "est"));
    CHECK(!quipu_config_language_matches("es-ES", "es-419"));
    CHECK(!quipu_config_language_matches("es-419", "es"));
}

/* ------------------------------------------------------------------ SHA-256 and the hash */

static void sha_is(const void *data, size_t n, const char *want) {
    uint8_t d[32];
    char hex[65];
    quipu_config_sha256(data, n, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    CHECK_MSG(!strcmp(hex, want), "sha256 of %zu bytes: %s, expected %s", n, hex, want);
}

static void test_sha256(void) {
    /* FIPS 180-4 examples and padding boundaries (55, 56, 64 bytes) */
    sha_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_is(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char a[1000];
    memset(a, 'a', sizeof a);
    sha_is(a, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    sha_is(a, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    sha_is(a, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    sha_is(a, 1000, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

static char *hash_of(const char *text, const char *const *sets, int n_sets) {
    quipu_config *c = NULL;
    quipu_error_list e;
    char *out = NULL;
    if (load(yaml(text), sets, n_sets, 0, &c, &e) == QUIPU_OK) {
        char hex[65];
        if (quipu_config_hash(c, hex, NULL) == QUIPU_OK) out = strdup(hex);
    }
    for (int i = 0; i < e.n; i++) fprintf(stderr, "unexpected: %s\n", e.msgs[i]);
    quipu_config_free(c);
    quipu_error_list_free(&e);
    return out;
}

static void test_hash(void) {
    const char *a = "name: a\n"
                    "seed: 5\n"
                    "models:\n"
                    "  - path: /m/a.gguf\n"
                    "benchmarks:\n"
                    "  - name: mbbq_es\n"
                    "    limit: 150\n"
                    "    languages: [es]\n"
                    "metrics:\n"
                    "  confidence: 0.95\n"
                    "scoring:\n"
                    "  prefix_sharing: true\n";
    /* the same config: other key order, flow style, comments, quoting of strings, explicit defaults */
    const char *b = "# the same experiment\n"
                    "metrics: {confidence: 9.5e-1, bootstrap: 1000}\n"
                    "benchmarks: [{languages: es, limit: 150, name: 'mbbq_es'}]\n"
                    "scoring: {prefix_sharing: on}\n"
                    "models: [\"/m/a.gguf\"]\n"
                    "seed:   5\n"
                    "name: a\n";
    char *ha = hash_of(a, NULL, 0), *hb = hash_of(b, NULL, 0);
    CHECK(ha && hb && !strcmp(ha, hb));
    /* what does not change results does not change the hash */
    char *hc = hash_of(a, LIST("output=/elsewhere", "name=other", "scoring.threads=7", "scoring.batch_tokens=9999", "progress_interval=1",
                               "resume=true", "distribution.sharding=round_robin"),
                       7);
    CHECK(hc && ha && !strcmp(ha, hc));
    /* what does, does */
    static const char *const changes[] = {"seed=6", "models.0.path=/m/b.gguf", "models.0.backend=cuda", "benchmarks.0.limit=151",
                                          "benchmarks.0.languages=[en]", "metrics.confidence=0.9", "metrics.normalization=per_token",
                                          "scoring.prefix_sharing=false", "benchmarks.0.prompt=Q: {question}", "datasets_dir=/data"};
    for (size_t i = 0; i < sizeof changes / sizeof *changes; i++) {
        char *hd = hash_of(a, &changes[i], 1);
        CHECK_MSG(hd && ha && strcmp(ha, hd), "--set %s did not change the hash", changes[i]);
        free(hd);
    }
    free(ha);
    free(hb);
    free(hc);

    /* the canonical text itself: sorted keys, shortest numbers, same text for both spellings */
    quipu_config *ca = NULL, *cb = NULL;
    quipu_error_list e1, e2;
    load(yaml(a), NULL, 0, 0, &ca, &e1);
    load(yaml(b), NULL, 0, 0, &cb, &e2);
    if (ca && cb) {
        char *ta = quipu_config_canonical(ca, 0), *tb = quipu_config_canonical(cb, 0);
        CHECK(ta && tb && !strcmp(ta, tb));
        CHECK(ta && strstr(ta, "\"confidence\": 0.95,\n") && strstr(ta, "\"progress_interval\": 10,\n"));
        CHECK(ta && strstr(ta, "\"languages\": [\"es\"],\n") && strstr(ta, "\"output\": \"results/a\",\n"));
        /* top-level keys in byte order */
        char prev[64] = "";
        int sorted = 1, keys = 0;
        for (const char *p = ta; p && (p = strstr(p, "\n  \"")); p++) {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)strcspn(p + 4, "\""), p + 4);
            if (strcmp(prev, key) >= 0) sorted = 0;
            snprintf(prev, sizeof prev, "%s", key);
            keys++;
        }
        CHECK(sorted && keys == 15);
        char *ha2 = quipu_config_canonical(ca, 1);
        CHECK(ha2 && !strstr(ha2, "\"output\"") && !strstr(ha2, "\"threads\"") && !strstr(ha2, "\"batch_tokens\"") &&
              !strstr(ha2, "\"progress_interval\"") && !strstr(ha2, "\"resume\"") && !strstr(ha2, "\"distribution\"") &&
              strstr(ha2, "\"schema\": 1,\n") && strstr(ha2, "\"seed\": 5\n"));
        /* the hash is the SHA-256 of that text */
        uint8_t d[32];
        char hex[65], want[65];
        quipu_config_sha256(ha2, strlen(ha2), d);
        for (int i = 0; i < 32; i++) snprintf(want + 2 * i, 3, "%02x", d[i]);
        CHECK(quipu_config_hash(ca, hex, NULL) == QUIPU_OK && !strcmp(hex, want));
        free(ta);
        free(tb);
        free(ha2);
    }
    quipu_config_free(ca);
    quipu_config_free(cb);
    quipu_error_list_free(&e1);
    quipu_error_list_free(&e2);
}

/* backends and dtypes are checked against this build at config time (a check of the machine,
 * like paths: off with skip_path_checks) */
static void test_backend_checks(void) {
    const char *m = test_write_tmp("m.gguf", "x", 1);
    char text[2048];
    if (!quipu_backend_built("cuda")) {
        snprintf(text, sizeof text, "output: /tmp/q\ndatasets_dir: /tmp\nmodels:\n  - path: %s\n    backend: cuda\nbenchmarks: [bbq]\n", m);
        expect("backend not built", text, NULL, 0, 1, QUIPU_ERR_INVALID,
               LIST("{F}:5:14: models.0.backend: this quipu was built without the cuda backend (built: cpu); rebuild with -DQUIPU_CUDA=ON "
                    "on a machine with its toolkit (docs/install.md)"));
        /* unchecked when the config is prepared for another machine */
        expect("backend not built, machine checks off", text, NULL, 0, 0, QUIPU_OK, NOERR);
    }
    snprintf(text, sizeof text, "output: /tmp/q\ndatasets_dir: /tmp\ndtype: bf16\nmodels:\n  - path: %s\nbenchmarks: [bbq]\n", m);
    expect("dtype not honoured", text, NULL, 0, 1, QUIPU_ERR_INVALID,
           LIST("{F}:5:5: models.0.dtype: the cpu backend computes in f32 only; dtype 'bf16' would not be honoured (use auto or f32)"));
    snprintf(text, sizeof text, "output: /tmp/q\ndatasets_dir: /tmp\ndtype: f32\nmodels:\n  - path: %s\nbenchmarks: [bbq]\n", m);
    expect("dtype f32 on the cpu", text, NULL, 0, 1, QUIPU_OK, NOERR);
}

/* ------------------------------------------------------------------ expected: published numbers */

static void test_expected(void) {
    const char *base = "models:\n"
                       "  - {path: /m.gguf, name: m}\n"
                       "benchmarks: [crows_pairs_en]\n";
    const char *ex = "expected:\n"
                     "  - {model: m, benchmark: crows_pairs_en, language: en-US, culture: US, metric: pct_stereotype, value: 58.8, stderr: 1.2,\n"
                     "     source: lm-eval}\n"
                     "  - {model: m, benchmark: crows_pairs_en, category: gender, metric: Likelihood_Diff, value: 3.3, ci_low: 3, ci_high: 3.5}\n";
    char text[2048];
    snprintf(text, sizeof text, "%s%s", base, ex);
    quipu_config *c = NULL, *c0 = NULL;
    quipu_error_list e;
    CHECK(load(yaml(text), NULL, 0, 0, &c, &e) == QUIPU_OK);
    quipu_error_list_print(&e, stderr);
    quipu_error_list_free(&e);
    CHECK(load(yaml(base), NULL, 0, 0, &c0, &e) == QUIPU_OK);
    quipu_error_list_free(&e);
    if (c && c0) {
        CHECK(c->n_expected == 2 && c0->n_expected == 0);
        const quipu_config_expected *x = &c->expected[0], *y = &c->expected[1];
        CHECK(!strcmp(x->model, "m") && !strcmp(x->language, "en-US") && !strcmp(x->culture, "US") && !strcmp(x->category, "all"));
        CHECK(x->value == 58.8 && x->stderr_ == 1.2 && isnan(x->ci_low) && isnan(x->ci_high) && !strcmp(x->source, "lm-eval"));
        CHECK(!y->language && !y->culture && !strcmp(y->category, "gender") && !y->source);
        CHECK(!strcmp(y->metric, "likelihood_diff") && y->ci_low == 3 && y->ci_high == 3.5 && isnan(y->stderr_));
        /* published numbers change no score: the hash is the config's without them */
        char h1[65], h0[65];
        CHECK(quipu_config_hash(c, h1, NULL) == QUIPU_OK && quipu_config_hash(c0, h0, NULL) == QUIPU_OK && !strcmp(h1, h0));
        char *full = quipu_config_canonical(c, 0), *full0 = quipu_config_canonical(c0, 0), *hashed = quipu_config_canonical(c, 1);
        CHECK(full && strstr(full, "\"expected\": [") && strstr(full, "\"stderr\": 1.2"));
        CHECK(full0 && !strstr(full0, "expected") && hashed && !strstr(hashed, "expected"));
        free(full);
        free(full0);
        free(hashed);
    }
    quipu_config_free(c);
    quipu_config_free(c0);

    /* malformed entries: every problem at its node */
    snprintf(text, sizeof text,
             "%sexpected:\n"
             "  - {model: m, benchmark: crows_pairs_en, metric: pct_stereotyp, value: 50}\n"
             "  - {model: x, benchmark: bbq, metric: acc, value: '5'}\n"
             "  - {model: m, benchmark: crows_pairs_en, metric: pct_stereotype, value: 50, stderr: 1, ci_low: 49, ci_high: 51}\n"
             "  - {model: m, benchmark: crows_pairs_en, metric: pct_stereotype, value: 50, ci_low: 49}\n"
             "  - {model: m, benchmark: crows_pairs_en, metric: pct_neutral, value: 50, ci_low: 51, ci_high: 52, sorce: x}\n"
             "  - {benchmark: crows_pairs_en, metric: pct_stereotype, stderr: -1}\n"
             "  - {model: m, benchmark: crows_pairs_en, metric: pct_neutral, value: 50, ci_low: 51, ci_high: 52}\n"
             "  - 42\n",
             base);
    expect("expected entries", text, NULL, 0, 0, QUIPU_ERR_INVALID,
           LIST("{F}:5:51: expected.0.metric: unknown metric 'pct_stereotyp' (did you mean 'pct_stereotype'?)",
                "{F}:6:13: expected.1.model: no model of this config is named 'x'",
                "{F}:6:27: expected.1.benchmark: no benchmark of this config is labelled 'bbq'",
                "{F}:6:52: expected.1.value: expected a number, got the string \"5\" (remove the quotes)",
                "{F}:7:86: expected.2.stderr: give either stderr or ci_low and ci_high, not both",
                "{F}:8:5: expected.3: the same row as expected.2 (model, benchmark, language, culture, category, metric)",
                "{F}:8:86: expected.3.ci_low: ci_low and ci_high go together: give both, or stderr, or neither",
                "{F}:9:83: expected.4.ci_low: the interval [51, 52] does not hold the value 50",
                "{F}:9:100: unknown key 'sorce' (did you mean 'source'?)",
                "{F}:10:5: expected.5: missing required key 'model' (a model's name in the run)",
                "{F}:10:5: expected.5: missing required key 'value' (the published number)",
                "{F}:10:65: expected.5.stderr: expected a number from 0 to inf, got -1",
                "{F}:11:5: expected.6: the same row as expected.4 (model, benchmark, language, culture, category, metric)",
                "{F}:11:83: expected.6.ci_low: the interval [51, 52] does not hold the value 50",
                "{F}:12:5: expected.7: expected a mapping {model, benchmark, metric, value, ...}, got '42'"));
    snprintf(text, sizeof text, "%sexpected: []\n", base);
    expect("expected empty", text, NULL, 0, 0, QUIPU_ERR_INVALID, LIST("{F}:4:11: expected: expected a non-empty list of published numbers"));

    /* a file of published numbers alone: read with expected_only, an error as a config */
    const char *only = yaml("expected:\n  - {model: m, benchmark: b, metric: ss, value: 60}\n");
    quipu_config_options o = {.skip_path_checks = 1, .expected_only = 1};
    quipu_error_list_init(&e);
    CHECK(quipu_config_load_opts(&c, only, NULL, 0, &o, &e) == QUIPU_OK && c && c->n_expected == 1 && c->n_models == 0);
    quipu_error_list_print(&e, stderr);
    quipu_error_list_free(&e);
    quipu_config_free(c);
    expect("expected alone, as a config", "expected:\n  - {model: m, benchmark: b, metric: ss, value: 60}\n", NULL, 0, 0,
           QUIPU_ERR_INVALID,
           LIST("{F}:1:1: missing required key 'models' (a list of models, each with a 'path')",
                "{F}:1:1: missing required key 'benchmarks' (a list of built-in names or {name, path, format} entries)"));
    const char *extra = yaml("seed: 3\nexpected:\n  - {model: m, benchmark: b, metric: ss, value: 60}\n");
    quipu_error_list_init(&e);
    CHECK(quipu_config_load_opts(&c, extra, NULL, 0, &o, &e) == QUIPU_ERR_INVALID && !c && e.n == 1);
    if (e.n == 1) CHECK_MSG(strstr(e.msgs[0], ":1:1: unknown key 'seed'") != NULL, "got: %s", e.msgs[0]);
    quipu_error_list_free(&e);
}

int main(void) {
    unsetenv("QUIPU_DATASETS");
    test_backend_checks();
    test_defaults();
    test_full();
    test_errors();
    test_aliases();
    test_many_errors();
    test_overrides();
    test_expand();
    test_languages();
    test_sha256();
    test_hash();
    test_expected();
    return test_finish("test_config");
}
