/* config_validate.c — the schema: built-in names, each section's keys, and the one pass over
 * the tree that fills quipu_config with its defaults and reports every problem at its node. */
#define _POSIX_C_SOURCE 200809L
#include "config_internal.h"
#include "adapter.h"
#include "backend.h"
#include "hfcache.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ================================================================== names */

/* The loaders' names (src/data/load.c) and the metrics' names (src/metrics.c) at the time of
 * writing; callers pass the live lists (quipu_benchmark_names()) through quipu_config_options. */
const char *const quipu_config_builtin_benchmarks[] = {
    "crows_pairs_en", "crows_pairs_fr", "crows_pairs_en_revised", "bbq",   "bbq_full",        "mbbq_en",         "mbbq_es", "mbbq_control_en",
    "mbbq_control_es", "esbbq",         "cabbq",                  "sesgo", "stereoset_intra", "stereoset_inter", "kobbq",
    "seegull",         "seegull_multilingual", "blend", NULL};
const char *const quipu_config_builtin_metrics[] = {
    "pct_stereotype", "pct_stereotype_stereo", "pct_stereotype_antistereo", "pct_neutral", "likelihood_diff",
    "acc",            "acc_ambig",             "acc_disambig",              "s_dis",       "s_amb",
    "bias_score_ambig", "bias_score_disambig", "sesgo_bias_ambig",          "sesgo_bias_disambig", "ft_minus_fo_ambig",
    "ft_minus_fo_disambig", "ss",              "lms",                       "icat",
    "assoc_pct_stereotype", "assoc_pct_stereotype_offensive", "assoc_mean_stereotype", "assoc_mean_gap",
    "loglik_per_token", "loglik_per_byte", NULL};

const char *const cfg_backend_names[] = {"cpu", "cuda", "hip", NULL};
const char *const cfg_dtype_names[] = {"auto", "f32", "f16", "bf16", NULL};
const char *const cfg_format_names[] = {"builtin", "pairs", "mc", "template", "text", NULL};
const char *const cfg_role_names[] = {"bias", "control", "neutral", "knowledge", NULL};
const char *const cfg_bad_row_names[] = {"fail", "skip", NULL};
const char *const cfg_template_names[] = {"default", "lm-eval", NULL};
const char *const cfg_sample_names[] = {"first", "spread", "random", NULL};
const char *const cfg_norm_names[] = {"raw", "per_token", "per_byte", NULL};
const char *const cfg_sharding_names[] = {"length_balanced", "round_robin", NULL};

const char *quipu_cfg_backend_name(quipu_cfg_backend b) { return (unsigned)b < 3 ? cfg_backend_names[b] : "?"; }
const char *quipu_cfg_dtype_name(quipu_cfg_dtype d) { return (unsigned)d < 4 ? cfg_dtype_names[d] : "?"; }
const char *quipu_cfg_format_name(quipu_cfg_format f) { return (unsigned)f < 5 ? cfg_format_names[f] : "?"; }
const char *quipu_cfg_role_name(quipu_cfg_role r) { return (unsigned)r < 4 ? cfg_role_names[r] : "?"; }

int quipu_cfg_role_parse(const char *s, quipu_cfg_role *out) {
    for (int i = 0; s && cfg_role_names[i]; i++)
        if (!strcasecmp(s, cfg_role_names[i])) {
            *out = (quipu_cfg_role)i;
            return 0;
        }
    return -1;
}

quipu_cfg_role quipu_cfg_role_default(const char *name, quipu_cfg_format format) {
    if (format == QUIPU_CFG_FORMAT_TEXT) return QUIPU_CFG_ROLE_NEUTRAL;
    if (format != QUIPU_CFG_FORMAT_BUILTIN || !name) return QUIPU_CFG_ROLE_BIAS;
    if (!strcmp(name, "blend")) return QUIPU_CFG_ROLE_KNOWLEDGE;
    if (!strncmp(name, "mbbq_control_", 13)) return QUIPU_CFG_ROLE_CONTROL;
    return QUIPU_CFG_ROLE_BIAS;
}
const char *quipu_cfg_bad_row_name(quipu_cfg_bad_row b) { return (unsigned)b < 2 ? cfg_bad_row_names[b] : "?"; }
const char *quipu_cfg_template_name(quipu_cfg_template t) { return (unsigned)t < 2 ? cfg_template_names[t] : "?"; }
const char *quipu_cfg_sample_name(quipu_cfg_sample s) { return (unsigned)s < 3 ? cfg_sample_names[s] : "?"; }
const char *quipu_cfg_norm_name(quipu_cfg_norm n) { return (unsigned)n < 3 ? cfg_norm_names[n] : "?"; }
const char *quipu_cfg_sharding_name(quipu_cfg_sharding s) { return (unsigned)s < 2 ? cfg_sharding_names[s] : "?"; }

/* The schema's keys, in the order docs/config.md lists them. */
const char *const cfg_top_keys[] = {"name",       "output",  "seed",    "backend",      "dtype",  "datasets_dir",      "models",
                                    "benchmarks", "metrics", "scoring", "distribution", "resume", "progress_interval", "item_text",
                                    "expected", NULL};
const char *const cfg_model_keys[] = {"path", "name", "backend", "dtype", "max_length", "tensor_parallel", "adapters", NULL};
const char *const cfg_bench_keys[] = {"name",  "label",  "path",       "format",   "categories", "languages", "cultures",
                                      "limit", "sample", "on_bad_row", "template", "prompt",     "delimiter",
                                      "association_templates", "prompt_variants", "role", NULL};
const char *const cfg_metrics_keys[] = {"include", "normalization", "bootstrap", "confidence", NULL};
const char *const cfg_scoring_keys[] = {"batch_tokens", "threads", "prefix_sharing", NULL};
const char *const cfg_distribution_keys[] = {"sharding", NULL};
const char *const cfg_prompt_fields[] = {"context", "question", NULL};

/* ================================================================== validation */

int cfg_valid_name(const char *s) {
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-') return 0;
    return 1;
}

static void check_name(loader *L, const cnode *v, const char *kp, const char *name) {
    if (!cfg_valid_name(name))
        cfg_err_key(L, v, kp, "'%s' may only contain letters, digits, '.', '_' and '-' (it names files)", name);
}

int quipu_config_language_matches(const char *filter, const char *tag) {
    size_t fl = strlen(filter);
    return strncasecmp(filter, tag, fl) == 0 && (tag[fl] == '\0' || tag[fl] == '-');
}

static int valid_language(const char *s) {
    size_t k = 0;
    while (isalpha((unsigned char)s[k])) k++;
    if (k < 2 || k > 3) return 0;
    s += k;
    while (*s == '-') {
        s++;
        k = 0;
        while (isalnum((unsigned char)s[k])) k++;
        if (k < 1 || k > 8) return 0;
        s += k;
    }
    return *s == '\0';
}

/* "{context}" and "{question}"; "{{" and "}}" are literal braces. */
/* lm-eval mode reproduces a task of lm-evaluation-harness: only where it has one (an entry
 * without a name is reported as such elsewhere) */
int cfg_has_lm_eval_task(const quipu_config_benchmark *b) {
    static const char *const tasks[] = {"bbq", "bbq_full", "esbbq", "cabbq", "crows_pairs_en", "crows_pairs_en_revised", "crows_pairs_fr", NULL};
    if (!b->name) return 1;
    int known = 0;
    for (int k = 0; tasks[k]; k++) known |= !strcmp(b->name, tasks[k]);
    return known && b->format == QUIPU_CFG_FORMAT_BUILTIN;
}

void cfg_err_lm_eval(loader *L, const cnode *v, const char *kp, const char *name) {
    cfg_err_key(L, v, kp,
                "lm-evaluation-harness has no task for '%s' (lm-eval mode exists for bbq, bbq_full, esbbq, cabbq, "
                "crows_pairs_en, crows_pairs_en_revised, crows_pairs_fr); use template: default",
                name);
}

void cfg_check_prompt(loader *L, const cnode *v, const char *kp, const char *p) {
    for (size_t i = 0; p[i]; i++) {
        if (p[i] == '{' && p[i + 1] == '{') {
            i++;
            continue;
        }
        if (p[i] == '}' && p[i + 1] == '}') {
            i++;
            continue;
        }
        if (p[i] == '}') {
            cfg_err_key(L, v, kp, "unmatched '}' (write '}}' for a literal brace)");
            return;
        }
        if (p[i] != '{') continue;
        size_t j = i + 1;
        while (p[j] && p[j] != '}' && p[j] != '{') j++;
        if (p[j] != '}') {
            cfg_err_key(L, v, kp, "unclosed '{' (write '{{' for a literal brace)");
            return;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(j - i - 1), p + i + 1);
        int ok = 0;
        for (int k = 0; cfg_prompt_fields[k]; k++)
            if (!strcmp(cfg_prompt_fields[k], name)) ok = 1;
        if (!ok) {
            const char *s = cfg_suggest(name, cfg_prompt_fields);
            if (s)
                cfg_err_key(L, v, kp, "unknown placeholder '{%s}' (did you mean '{%s}'?)", name, s);
            else
                cfg_err_key(L, v, kp, "unknown placeholder '{%s}' (known: {context}, {question})", name);
            return;
        }
        i = j;
    }
}

int cfg_in_list(const char *s, const char *const *list) {
    for (int i = 0; list && list[i]; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

/* models.N.adapters: a list of paths, expanded, each one a modification whose files can be read
 * (its identity, the SHA-256 of its files, goes into the hash). Whether it fits the model is
 * checked when the run starts (quipu_adapter_precheck), before anything is scored. */
static void validate_adapters(vctx *c, const cnode *m, quipu_config_model *md) {
    const cnode **items = NULL;
    if (cfg_get_strlist(c, m, "adapters", &md->adapters, &items) <= 0) return;
    if (md->adapters.n && !(md->adapter_ids = calloc((size_t)md->adapters.n, sizeof *md->adapter_ids))) c->L->oom = 1;
    for (int k = 0; md->adapter_ids && k < md->adapters.n; k++) {
        char ikp[620], why[512];
        snprintf(ikp, sizeof ikp, "%s.adapters.%d", c->kp, k);
        char *x = quipu_config_expand(md->adapters.v[k], why, sizeof why);
        if (!x) {
            cfg_err_key(c->L, items[k], ikp, "%s", why);
            continue;
        }
        free(md->adapters.v[k]);
        md->adapters.v[k] = x;
        if (c->L->skip_paths) continue;
        quipu_error e = {0};
        char hex[65];
        if (quipu_adapter_identity(x, hex, &e) != QUIPU_OK) cfg_err_key(c->L, items[k], ikp, "%s", e.msg);
        else if (!(md->adapter_ids[k] = strdup(hex))) c->L->oom = 1;
    }
    free(items);
}

static void validate_model(vctx *top, const cnode *m, int i, quipu_config *cfg, quipu_config_model *md) {
    loader *L = top->L;
    vctx c = {.L = L};
    snprintf(c.kp, sizeof c.kp, "models.%d", i);
    md->backend = cfg->backend;
    md->dtype = cfg->dtype;
    md->where = cfg_node_where(L, m);
    cfg_unknown_keys(L, m, c.kp, cfg_model_keys);
    const cnode *pn = NULL;
    int r = cfg_get_path(&c, m, "path", &md->path, &pn);
    if (r == 0) cfg_missing(L, m, c.kp, "path", " (a GGUF file or a checkpoint folder)");
    const cnode *nn = NULL;
    char kp[600];
    if (cfg_get_str(&c, m, "name", 1, &md->name, &nn) > 0) {
        cfg_kp_join(kp, sizeof kp, c.kp, "name");
        check_name(L, nn, kp, md->name);
    } else if (md->path) {
        /* default: the file (or folder) name without .gguf */
        char *p = strdup(md->path);
        if (!p) {
            L->oom = 1;
            return;
        }
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
        if (quipu_hf_is_spec(p) && strchr(p, '@')) *strchr(p, '@') = '\0'; /* hf:ORG/NAME@REV: NAME */
        char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
        size_t bl = strlen(base);
        if (bl > 5 && !strcasecmp(base + bl - 5, ".gguf")) base[bl - 5] = '\0';
        md->name = strdup(base);
        free(p);
        if (!md->name) {
            L->oom = 1;
            return;
        }
        if (!cfg_valid_name(md->name)) {
            cfg_kp_join(kp, sizeof kp, c.kp, "name");
            cfg_err_key(L, m, kp, "the name taken from the file name, '%s', may only contain letters, digits, '.', '_' and '-'; set 'name'",
                    md->name);
        }
    }
    int e;
    if (cfg_get_enum(&c, m, "backend", cfg_backend_names, &e) > 0) md->backend = (quipu_cfg_backend)e;
    if (cfg_get_enum(&c, m, "dtype", cfg_dtype_names, &e) > 0) md->dtype = (quipu_cfg_dtype)e;
    cfg_get_int(&c, m, "max_length", 0, 1 << 24, &md->max_length);
    validate_adapters(&c, m, md);
    md->tensor_parallel = 1;
    /* whether the model splits that way (heads, FFN width, architecture) is said when it loads */
    cfg_get_int(&c, m, "tensor_parallel", 1, 64, &md->tensor_parallel);
    /* the backend must be built into this quipu and honour the dtype: said now, not after loading */
    char why[512];
    int bad = L->skip_paths ? 0 : quipu_backend_check(quipu_cfg_backend_name(md->backend), quipu_cfg_dtype_name(md->dtype), why, sizeof why);
    if (bad) {
        const char *key = bad == -2 ? "dtype" : "backend";
        cfg_kp_join(kp, sizeof kp, c.kp, key);
        const cnode *kn = cfg_map_get(m, key, NULL);
        cfg_err_key(L, kn ? kn : m, kp, "%s", why);
    }
    if (md->path && pn && !L->skip_paths && quipu_hf_is_spec(md->path)) {
        /* hf:ORG/NAME[@REV]: where it already is on disk (hfcache.h) */
        quipu_error he = {0};
        char *found = NULL;
        cfg_kp_join(kp, sizeof kp, c.kp, "path");
        if (quipu_hf_resolve(md->path, &found, &he)) {
            cfg_err_key(L, pn, kp, "%s", he.msg);
        } else {
            free(md->path);
            md->path = found;
        }
    } else if (md->path && pn && !L->skip_paths) {
        cfg_kp_join(kp, sizeof kp, c.kp, "path");
        cfg_check_exists(L, pn, kp, md->path, 0);
    }
}

/* `role`: what the benchmark is for in a before/after report, checked against what its items can
 * give: neutral sentences only from format: text (and nothing else from it); control and
 * knowledge are accuracies, so multiple choice (a template definition's kind is checked at load). */
static void validate_role(vctx *c, const cnode *m, quipu_config_benchmark *b, int builtin) {
    b->role = quipu_cfg_role_default(b->name, b->format);
    int e;
    if (cfg_get_enum(c, m, "role", cfg_role_names, &e) <= 0) return;
    quipu_cfg_role r = (quipu_cfg_role)e;
    char kp[600];
    cfg_kp_join(kp, sizeof kp, c->kp, "role");
    const cnode *rn = cfg_map_get(m, "role", NULL);
    const char *kind = NULL; /* what the items are, when it rules the role out */
    if (b->format == QUIPU_CFG_FORMAT_TEXT) {
        if (r != QUIPU_CFG_ROLE_NEUTRAL) {
            cfg_err_key(c->L, rn, kp, "role '%s' does not fit a format: text benchmark: neutral sentences have no stereotype "
                                      "or answer to score (its role is neutral)", cfg_role_names[r]);
            return;
        }
    } else if (r == QUIPU_CFG_ROLE_NEUTRAL) {
        cfg_err_key(c->L, rn, kp, "role 'neutral' is for neutral sentences (format: text); '%s' is a %s benchmark", b->name ? b->name : "?",
                    b->format == QUIPU_CFG_FORMAT_PAIRS ? "pairs" : b->format == QUIPU_CFG_FORMAT_MC ? "multiple-choice" :
                    b->format == QUIPU_CFG_FORMAT_TEMPLATE ? "template" : "built-in");
        return;
    } else if (r == QUIPU_CFG_ROLE_CONTROL || r == QUIPU_CFG_ROLE_KNOWLEDGE) {
        if (b->format == QUIPU_CFG_FORMAT_PAIRS) kind = "pairs";
        else if (builtin && b->format == QUIPU_CFG_FORMAT_BUILTIN && b->name && !strncmp(b->name, "crows_pairs", 11)) kind = "pairs";
        else if (builtin && b->format == QUIPU_CFG_FORMAT_BUILTIN && b->name && !strncmp(b->name, "seegull", 7)) kind = "association";
        else if (builtin && b->format == QUIPU_CFG_FORMAT_BUILTIN && b->name && !strncmp(b->name, "stereoset", 9)) kind = "StereoSet";
        if (kind) {
            cfg_err_key(c->L, rn, kp, "role '%s' reports an accuracy, which %s items do not have ('%s'); use it on a multiple-choice "
                                      "benchmark with gold answers",
                        cfg_role_names[r], kind, b->name ? b->name : "?");
            return;
        }
    }
    b->role = r;
}

static void validate_benchmark(vctx *top, const cnode *m, int i, quipu_config_benchmark *b, int *needs_datasets) {
    loader *L = top->L;
    vctx c = {.L = L};
    char kp[600];
    snprintf(c.kp, sizeof c.kp, "benchmarks.%d", i);
    b->where = cfg_node_where(L, m);
    cfg_unknown_keys(L, m, c.kp, cfg_bench_keys);
    const cnode *nn = NULL, *pn = NULL, *fn = cfg_map_get(m, "format", NULL);
    int has_name = cfg_get_str(&c, m, "name", 1, &b->name, &nn);
    if (has_name == 0) cfg_missing(L, m, c.kp, "name", NULL);
    int e;
    if (cfg_get_enum(&c, m, "format", cfg_format_names, &e) > 0) b->format = (quipu_cfg_format)e;
    int has_path = cfg_get_path(&c, m, "path", &b->path, &pn);
    int builtin = has_name > 0 && cfg_in_list(b->name, L->known_bench);
    if (has_name > 0) {
        if (b->format != QUIPU_CFG_FORMAT_BUILTIN && builtin) {
            cfg_err_node(L, nn, "'%s' is a built-in benchmark; give your %s benchmark another name", b->name,
                     quipu_cfg_format_name(b->format));
        } else if (b->format == QUIPU_CFG_FORMAT_BUILTIN && fn && !builtin) {
            cfg_err_node(L, fn, "format: 'builtin' needs a built-in benchmark name, and '%s' is not one", b->name);
        } else if (b->format == QUIPU_CFG_FORMAT_BUILTIN && !builtin && !fn) {
            const char *s = cfg_suggest(b->name, L->known_bench);
            if (s) {
                cfg_err_node(L, nn, "unknown benchmark '%s' (did you mean '%s'?)", b->name, s);
            } else if (cfg_map_get(m, "path", NULL)) {
                cfg_err_node(L, nn, "unknown benchmark '%s': a benchmark of your own needs 'format: pairs' or 'format: mc'", b->name);
            } else {
                sbuf names = {0};
                cfg_join_names(&names, L->known_bench, ", ");
                cfg_err_node(L, nn, "unknown benchmark '%s' (built-in: %s; or give 'path' and 'format: pairs|mc' for a JSON-lines file)",
                         b->name, names.p ? names.p : "");
                free(names.p);
            }
        } else if (!builtin && !cfg_valid_name(b->name)) {
            cfg_kp_join(kp, sizeof kp, c.kp, "name");
            check_name(L, nn, kp, b->name);
        }
    }
    if (b->format != QUIPU_CFG_FORMAT_BUILTIN && has_path == 0) {
        char why[80];
        snprintf(why, sizeof why, " (format: %s reads a %s)", quipu_cfg_format_name(b->format),
                 b->format == QUIPU_CFG_FORMAT_TEMPLATE ? "template definition, a .yaml file" : "JSON-lines file");
        cfg_missing(L, m, c.kp, "path", why);
    }
    if (b->format == QUIPU_CFG_FORMAT_TEMPLATE && has_path > 0 && pn) {
        size_t pl = strlen(b->path);
        if (!(pl > 5 && !strcmp(b->path + pl - 5, ".yaml")) && !(pl > 4 && !strcmp(b->path + pl - 4, ".yml"))) {
            cfg_kp_join(kp, sizeof kp, c.kp, "path");
            cfg_err_key(L, pn, kp, "format: template reads a definition named *.yaml or *.yml, not '%s'", b->path);
        }
    }
    if (has_path > 0 && pn && !L->skip_paths) {
        cfg_kp_join(kp, sizeof kp, c.kp, "path");
        cfg_check_exists(L, pn, kp, b->path, builtin && b->format == QUIPU_CFG_FORMAT_BUILTIN);
    }
    if (builtin && has_path == 0) *needs_datasets = 1;

    const cnode *ln = NULL;
    if (cfg_get_str(&c, m, "label", 1, &b->label, &ln) > 0) {
        cfg_kp_join(kp, sizeof kp, c.kp, "label");
        check_name(L, ln, kp, b->label);
    } else if (b->name) {
        if (!(b->label = strdup(b->name))) L->oom = 1;
    }
    cfg_get_strlist(&c, m, "categories", &b->categories, NULL);
    cfg_get_strlist(&c, m, "cultures", &b->cultures, NULL);
    const cnode **items = NULL;
    if (cfg_get_strlist(&c, m, "languages", &b->languages, &items) > 0) {
        for (int k = 0; k < b->languages.n; k++)
            if (!valid_language(b->languages.v[k])) {
                char ikp[620];
                snprintf(ikp, sizeof ikp, "%s.languages.%d", c.kp, k);
                cfg_err_key(L, items[k], ikp, "'%s' is not a BCP-47 language tag (e.g. es, es-419, fr-FR)", b->languages.v[k]);
            }
    }
    free(items);
    cfg_get_int(&c, m, "limit", 0, 1000000000, &b->limit);
    if (cfg_get_enum(&c, m, "sample", cfg_sample_names, &e) > 0) b->sample = (quipu_cfg_sample)e;
    if (cfg_get_enum(&c, m, "on_bad_row", cfg_bad_row_names, &e) > 0) b->on_bad_row = (quipu_cfg_bad_row)e;
    if (cfg_get_enum(&c, m, "template", cfg_template_names, &e) > 0) {
        b->template_mode = (quipu_cfg_template)e;
        if (b->template_mode == QUIPU_CFG_TEMPLATE_LM_EVAL && !cfg_has_lm_eval_task(b)) {
            cfg_kp_join(kp, sizeof kp, c.kp, "template");
            cfg_err_lm_eval(L, cfg_map_get(m, "template", NULL), kp, b->name);
        }
    }
    const cnode *prn = NULL;
    if (cfg_get_str(&c, m, "prompt", 0, &b->prompt, &prn) > 0) {
        cfg_kp_join(kp, sizeof kp, c.kp, "prompt");
        if (b->format == QUIPU_CFG_FORMAT_PAIRS || b->format == QUIPU_CFG_FORMAT_TEXT)
            cfg_err_key(L, prn, kp, "a %s benchmark scores sentences without a prompt; prompts apply to multiple choice",
                        quipu_cfg_format_name(b->format));
        else
            cfg_check_prompt(L, prn, kp, b->prompt);
    }
    cfg_get_str(&c, m, "delimiter", 0, &b->delimiter, NULL);
    cfg_read_assoc_templates(&c, m, b);
    cfg_read_prompt_variants(&c, m, b);
    validate_role(&c, m, b, builtin);
}

void cfg_validate(loader *L, const cnode *root, quipu_config *cfg, const char *path) {
    vctx c = {.L = L};
    if (L->expected_only && !cfg_map_get(root, "models", NULL) && !cfg_map_get(root, "benchmarks", NULL)) {
        /* a file of published numbers alone (quipu report --expected) */
        static const char *const only[] = {"expected", NULL};
        cfg_unknown_keys(L, root, "", only);
        cfg_read_expected(L, root, cfg);
        return;
    }
    cfg_unknown_keys(L, root, "", cfg_top_keys);

    /* name: default from the file name */
    const cnode *nn = NULL;
    if (cfg_get_str(&c, root, "name", 1, &cfg->name, &nn) > 0) {
        check_name(L, nn, "name", cfg->name);
    } else {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        size_t bl = strlen(base);
        if (bl > 5 && !strcmp(base + bl - 5, ".yaml"))
            bl -= 5;
        else if (bl > 4 && !strcmp(base + bl - 4, ".yml"))
            bl -= 4;
        cfg->name = strndup(base, bl);
        if (!cfg->name) L->oom = 1;
    }
    const cnode *on = NULL;
    if (cfg_get_path(&c, root, "output", &cfg->output, &on) == 0 && cfg->name) {
        cfg->output = quipu_asprintf("results/%s", cfg->name);
        if (!cfg->output) L->oom = 1;
    }
    int64_t seed = 0;
    if (cfg_get_int(&c, root, "seed", 0, INT64_MAX, &seed) > 0) cfg->seed = (uint64_t)seed;
    int e;
    if (cfg_get_enum(&c, root, "backend", cfg_backend_names, &e) > 0) cfg->backend = (quipu_cfg_backend)e;
    if (cfg_get_enum(&c, root, "dtype", cfg_dtype_names, &e) > 0) cfg->dtype = (quipu_cfg_dtype)e;
    const cnode *dn = NULL;
    if (cfg_get_path(&c, root, "datasets_dir", &cfg->datasets_dir, &dn) == 0) {
        char why[256];
        cfg->datasets_dir = quipu_config_expand("${QUIPU_DATASETS:-../shared/datasets}", why, sizeof why);
        if (!cfg->datasets_dir) L->oom = 1;
    }

    /* models */
    cnode *mkey = NULL;
    const cnode *ms = cfg_map_get(root, "models", &mkey);
    if (!ms) {
        cfg_missing(L, root, "", "models", " (a list of models, each with a 'path')");
    } else if (ms->kind != CN_SEQ || ms->n == 0) {
        if (ms->kind == CN_SEQ)
            cfg_err_key(L, ms, "models", "expected a non-empty list");
        else
            cfg_type_err(L, ms, "models", "a list of models");
    } else {
        cfg->models = calloc((size_t)ms->n, sizeof *cfg->models);
        if (!cfg->models) {
            L->oom = 1;
            return;
        }
        cfg->n_models = ms->n;
        for (int i = 0; i < ms->n; i++) {
            const cnode *m = ms->kid[i];
            if (m->kind != CN_MAP) {
                char kp[64];
                snprintf(kp, sizeof kp, "models.%d", i);
                cfg_type_err(L, m, kp, "a model (a path, or a mapping with 'path')");
                continue;
            }
            validate_model(&c, m, i, cfg, &cfg->models[i]);
        }
        for (int i = 0; i < ms->n; i++)
            for (int j = 0; j < i; j++)
                if (cfg->models[i].name && cfg->models[j].name && !strcmp(cfg->models[i].name, cfg->models[j].name)) {
                    char kp[64];
                    snprintf(kp, sizeof kp, "models.%d", i);
                    cfg_err_key(L, ms->kid[i], kp, "another model is also named '%s' (models.%d); set 'name' to tell them apart",
                            cfg->models[i].name, j);
                    break;
                }
    }

    /* benchmarks */
    cnode *bkey = NULL;
    const cnode *bs = cfg_map_get(root, "benchmarks", &bkey);
    int needs_datasets = 0;
    if (!bs) {
        cfg_missing(L, root, "", "benchmarks", " (a list of built-in names or {name, path, format} entries)");
    } else if (bs->kind != CN_SEQ || bs->n == 0) {
        if (bs->kind == CN_SEQ)
            cfg_err_key(L, bs, "benchmarks", "expected a non-empty list");
        else
            cfg_type_err(L, bs, "benchmarks", "a list of benchmarks");
    } else {
        cfg->benchmarks = calloc((size_t)bs->n, sizeof *cfg->benchmarks);
        if (!cfg->benchmarks) {
            L->oom = 1;
            return;
        }
        cfg->n_benchmarks = bs->n;
        for (int i = 0; i < bs->n; i++) {
            const cnode *m = bs->kid[i];
            if (m->kind != CN_MAP) {
                char kp[64];
                snprintf(kp, sizeof kp, "benchmarks.%d", i);
                cfg_type_err(L, m, kp, "a benchmark (a name, or a mapping with 'name')");
                continue;
            }
            validate_benchmark(&c, m, i, &cfg->benchmarks[i], &needs_datasets);
        }
        for (int i = 0; i < bs->n; i++)
            for (int j = 0; j < i; j++)
                if (cfg->benchmarks[i].label && cfg->benchmarks[j].label && !strcmp(cfg->benchmarks[i].label, cfg->benchmarks[j].label)) {
                    char kp[64];
                    snprintf(kp, sizeof kp, "benchmarks.%d", i);
                    cfg_err_key(L, bs->kid[i], kp, "'%s' is already benchmarks.%d; give one of them a distinct 'label'",
                            cfg->benchmarks[i].label, j);
                    break;
                }
    }

    /* metrics */
    cfg->metrics.all = 1;
    cfg->metrics.bootstrap = 1000;
    cfg->metrics.confidence = 0.95;
    const cnode *mm = NULL;
    if (cfg_get_map(&c, root, "metrics", &mm) > 0) {
        vctx mc = {.L = L};
        snprintf(mc.kp, sizeof mc.kp, "metrics");
        cfg_unknown_keys(L, mm, "metrics", cfg_metrics_keys);
        cnode *inc = cfg_map_get(mm, "include", NULL);
        const char *kpi = inc && inc->set >= 0 && !strcmp(L->set_keys[inc->set], "metrics") ? "metrics" : "metrics.include";
        if (inc && inc->kind == CN_SCALAR && !strcasecmp(inc->text, "all")) {
            cfg->metrics.all = 1;
        } else if (inc && (inc->kind != CN_SEQ || inc->n == 0)) {
            if (inc->kind == CN_SEQ)
                cfg_err_key(L, inc, kpi, "expected 'all' or a non-empty list of metric names");
            else
                cfg_type_err(L, inc, kpi, "'all' or a list of metric names");
        } else if (inc) {
            const cnode **items = NULL;
            quipu_strlist names = {0};
            if (cfg_get_strlist(&mc, mm, "include", &names, &items) > 0) {
                cfg->metrics.all = 0;
                for (int k = 0; k < names.n; k++) {
                    char ikp[600];
                    snprintf(ikp, sizeof ikp, "%s.%d", kpi, k);
                    const char *canon = NULL;
                    for (int j = 0; L->known_metrics[j]; j++)
                        if (!strcasecmp(L->known_metrics[j], names.v[k])) canon = L->known_metrics[j];
                    if (!canon) {
                        const char *s = cfg_suggest(names.v[k], L->known_metrics);
                        sbuf kn = {0};
                        cfg_join_names(&kn, L->known_metrics, ", ");
                        if (s)
                            cfg_err_key(L, items[k], ikp, "unknown metric '%s' (did you mean '%s'?)", names.v[k], s);
                        else
                            cfg_err_key(L, items[k], ikp, "unknown metric '%s' (known: %s)", names.v[k], kn.p ? kn.p : "");
                        free(kn.p);
                        continue;
                    }
                    int dup = 0;
                    for (int j = 0; j < k; j++)
                        if (!strcasecmp(names.v[j], names.v[k])) dup = 1;
                    if (dup) {
                        cfg_err_key(L, items[k], ikp, "metric '%s' is listed twice", canon);
                        continue;
                    }
                    char *cs = strdup(canon);
                    if (!cs) {
                        L->oom = 1;
                        continue;
                    }
                    free(names.v[k]);
                    names.v[k] = cs;
                }
                cfg->metrics.names = names;
            }
            free(items);
        }
        if (cfg_get_enum(&mc, mm, "normalization", cfg_norm_names, &e) > 0) cfg->metrics.normalization = (quipu_cfg_norm)e;
        cfg_get_int(&mc, mm, "bootstrap", 0, 1000000, &cfg->metrics.bootstrap);
        cfg_get_num(&mc, mm, "confidence", 0, 1, 1, 1, &cfg->metrics.confidence);
    }

    /* scoring */
    cfg->scoring.batch_tokens = 2048;
    cfg->scoring.prefix_sharing = 1;
    const cnode *sm = NULL;
    if (cfg_get_map(&c, root, "scoring", &sm) > 0) {
        vctx sc = {.L = L};
        snprintf(sc.kp, sizeof sc.kp, "scoring");
        cfg_unknown_keys(L, sm, "scoring", cfg_scoring_keys);
        cfg_get_int(&sc, sm, "batch_tokens", 1, (int64_t)1 << 26, &cfg->scoring.batch_tokens);
        cfg_get_int(&sc, sm, "threads", 0, 4096, &cfg->scoring.threads);
        cfg_get_bool(&sc, sm, "prefix_sharing", &cfg->scoring.prefix_sharing);
    }

    /* distribution */
    const cnode *dm = NULL;
    if (cfg_get_map(&c, root, "distribution", &dm) > 0) {
        vctx dc = {.L = L};
        snprintf(dc.kp, sizeof dc.kp, "distribution");
        cfg_unknown_keys(L, dm, "distribution", cfg_distribution_keys);
        if (cfg_get_enum(&dc, dm, "sharding", cfg_sharding_names, &e) > 0) cfg->distribution.sharding = (quipu_cfg_sharding)e;
    }

    cfg_get_bool(&c, root, "resume", &cfg->resume);
    cfg_get_bool(&c, root, "item_text", &cfg->item_text);
    cfg->progress_interval = 10;
    cfg_get_num(&c, root, "progress_interval", 0, 0, 86400, 0, &cfg->progress_interval);
    cfg_read_expected(L, root, cfg);

    /* files and folders, after everything else is known */
    if (!L->skip_paths) {
        if (needs_datasets && cfg->datasets_dir) {
            struct stat st;
            if (stat(cfg->datasets_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
                /* the fix, said where the problem is: fetch the datasets, or point at them */
                if (dn)
                    cfg_err_key(L, dn, "datasets_dir",
                            "'%s' is not a folder: fetch the datasets with scripts/fetch-datasets.sh, or set datasets_dir (or "
                            "QUIPU_DATASETS) to a folder that has them",
                            cfg->datasets_dir);
                else
                    cfg_err_node(L, bkey,
                             "datasets_dir: '%s' (the default) is not a folder: fetch the datasets with scripts/fetch-datasets.sh, or set "
                             "datasets_dir or QUIPU_DATASETS to a folder that has them",
                             cfg->datasets_dir);
            }
        }
        if (cfg->output) cfg_check_output(L, on ? on : root, "output", cfg->output);
    }
}
