/* config_expected.c — the config's `expected:` list: published numbers (a paper's table,
 * lm-evaluation-harness's output) that `quipu report --expected` holds a run against. Each entry
 * names one metric row of the run (model × benchmark × language × culture × category × metric)
 * and the value with its interval or standard error. It changes no score, so it is echoed in the
 * canonical text but never hashed. docs/reproduce.md is the user-facing description. */
#define _POSIX_C_SOURCE 200809L
#include "config_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const expected_keys[] = {"model", "metric",  "value",   "benchmark", "language", "culture",
                                            "category", "stderr", "ci_low", "ci_high",  "source",   NULL};

static void expected_entry_free(quipu_config_expected *e) {
    free(e->model);
    free(e->benchmark);
    free(e->language);
    free(e->culture);
    free(e->category);
    free(e->metric);
    free(e->source);
    free(e->where);
}

void cfg_expected_free(quipu_config *cfg) {
    for (int i = 0; i < cfg->n_expected; i++) expected_entry_free(&cfg->expected[i]);
    free(cfg->expected);
    cfg->expected = NULL;
    cfg->n_expected = 0;
}

/* 1 when a and b are both NULL or equal */
static int same_opt(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static void read_entry(loader *L, const cnode *m, int i, const quipu_config *cfg, quipu_config_expected *e) {
    vctx c = {.L = L};
    snprintf(c.kp, sizeof c.kp, "expected.%d", i);
    e->ci_low = e->ci_high = e->stderr_ = NAN;
    e->where = cfg_node_where(L, m);
    cfg_unknown_keys(L, m, c.kp, expected_keys);
    char kp[600];
    const cnode *mn = NULL, *bn = NULL, *metn = NULL;
    if (cfg_get_str(&c, m, "model", 1, &e->model, &mn) == 0) cfg_missing(L, m, c.kp, "model", " (a model's name in the run)");
    if (cfg_get_str(&c, m, "benchmark", 1, &e->benchmark, &bn) == 0)
        cfg_missing(L, m, c.kp, "benchmark", " (a benchmark's label in the run)");
    if (cfg_get_str(&c, m, "metric", 1, &e->metric, &metn) == 0) cfg_missing(L, m, c.kp, "metric", NULL);
    if (cfg_get_num(&c, m, "value", -INFINITY, 0, INFINITY, 0, &e->value) == 0)
        cfg_missing(L, m, c.kp, "value", " (the published number)");
    cfg_get_str(&c, m, "language", 1, &e->language, NULL);
    cfg_get_str(&c, m, "culture", 1, &e->culture, NULL);
    if (cfg_get_str(&c, m, "category", 1, &e->category, NULL) == 0 && !(e->category = strdup("all"))) L->oom = 1;
    cfg_get_str(&c, m, "source", 1, &e->source, NULL);
    const cnode *sen = cfg_map_get(m, "stderr", NULL), *lon = cfg_map_get(m, "ci_low", NULL), *hin = cfg_map_get(m, "ci_high", NULL);
    cfg_get_num(&c, m, "stderr", 0, 0, INFINITY, 0, &e->stderr_);
    int has_lo = cfg_get_num(&c, m, "ci_low", -INFINITY, 0, INFINITY, 0, &e->ci_low);
    int has_hi = cfg_get_num(&c, m, "ci_high", -INFINITY, 0, INFINITY, 0, &e->ci_high);

    if (metn && e->metric) {
        const char *canon = NULL;
        for (int j = 0; L->known_metrics[j]; j++)
            if (!strcasecmp(L->known_metrics[j], e->metric)) canon = L->known_metrics[j];
        cfg_kp_join(kp, sizeof kp, c.kp, "metric");
        if (!canon) {
            const char *s = cfg_suggest(e->metric, L->known_metrics);
            if (s) cfg_err_key(L, metn, kp, "unknown metric '%s' (did you mean '%s'?)", e->metric, s);
            else cfg_err_key(L, metn, kp, "unknown metric '%s' (quipu list metrics names them)", e->metric);
        } else if (strcmp(canon, e->metric)) {
            char *cs = strdup(canon);
            if (!cs) L->oom = 1;
            else {
                free(e->metric);
                e->metric = cs;
            }
        }
    }
    if (lon && hin && sen) {
        cfg_kp_join(kp, sizeof kp, c.kp, "stderr");
        cfg_err_key(L, sen, kp, "give either stderr or ci_low and ci_high, not both");
    } else if ((lon != NULL) != (hin != NULL)) {
        const cnode *at = lon ? lon : hin;
        cfg_kp_join(kp, sizeof kp, c.kp, lon ? "ci_low" : "ci_high");
        cfg_err_key(L, at, kp, "ci_low and ci_high go together: give both, or stderr, or neither");
    } else if (sen && (lon || hin)) {
        cfg_kp_join(kp, sizeof kp, c.kp, "stderr");
        cfg_err_key(L, sen, kp, "give either stderr or ci_low and ci_high, not both");
    } else if (has_lo > 0 && has_hi > 0 && !(e->ci_low <= e->value && e->value <= e->ci_high)) {
        cfg_kp_join(kp, sizeof kp, c.kp, "ci_low");
        cfg_err_key(L, lon, kp, "the interval [%g, %g] does not hold the value %g", e->ci_low, e->ci_high, e->value);
    }
    /* the row must be one the run can have: its model and benchmark are the config's */
    if (cfg->n_models && e->model && mn) {
        int found = 0;
        for (int k = 0; k < cfg->n_models; k++) found |= cfg->models[k].name && !strcmp(cfg->models[k].name, e->model);
        cfg_kp_join(kp, sizeof kp, c.kp, "model");
        if (!found) cfg_err_key(L, mn, kp, "no model of this config is named '%s'", e->model);
    }
    if (cfg->n_benchmarks && e->benchmark && bn) {
        int found = 0;
        for (int k = 0; k < cfg->n_benchmarks; k++) found |= cfg->benchmarks[k].label && !strcmp(cfg->benchmarks[k].label, e->benchmark);
        cfg_kp_join(kp, sizeof kp, c.kp, "benchmark");
        if (!found) cfg_err_key(L, bn, kp, "no benchmark of this config is labelled '%s'", e->benchmark);
    }
}

void cfg_read_expected(loader *L, const cnode *root, quipu_config *cfg) {
    const cnode *ex = cfg_map_get(root, "expected", NULL);
    if (!ex) return;
    if (ex->kind != CN_SEQ || ex->n == 0) {
        if (ex->kind == CN_SEQ) cfg_err_key(L, ex, "expected", "expected a non-empty list of published numbers");
        else cfg_type_err(L, ex, "expected", "a list of {model, benchmark, metric, value, ...} entries");
        return;
    }
    if (!(cfg->expected = calloc((size_t)ex->n, sizeof *cfg->expected))) {
        L->oom = 1;
        return;
    }
    cfg->n_expected = ex->n;
    for (int i = 0; i < ex->n; i++) {
        quipu_config_expected *e = &cfg->expected[i];
        e->ci_low = e->ci_high = e->stderr_ = NAN;
        if (ex->kid[i]->kind != CN_MAP) {
            char kp[64];
            snprintf(kp, sizeof kp, "expected.%d", i);
            cfg_type_err(L, ex->kid[i], kp, "a mapping {model, benchmark, metric, value, ...}");
            continue;
        }
        read_entry(L, ex->kid[i], i, cfg, e);
        for (int j = 0; j < i; j++) {
            const quipu_config_expected *o = &cfg->expected[j];
            if (e->model && o->model && e->benchmark && o->benchmark && e->metric && o->metric && e->category && o->category &&
                !strcmp(e->model, o->model) && !strcmp(e->benchmark, o->benchmark) && !strcmp(e->metric, o->metric) &&
                !strcmp(e->category, o->category) && same_opt(e->language, o->language) && same_opt(e->culture, o->culture)) {
                char kp[64];
                snprintf(kp, sizeof kp, "expected.%d", i);
                cfg_err_key(L, ex->kid[i], kp, "the same row as expected.%d (model, benchmark, language, culture, category, metric)", j);
                break;
            }
        }
    }
}

static json_t *jstr_or_null(const char *s) { return s ? json_string(s) : json_null(); }
static json_t *jnum_or_null(double x) { return isnan(x) ? json_null() : json_real(x); }

json_t *cfg_expected_json(const quipu_config *cfg) {
    if (!cfg->n_expected) return NULL;
    json_t *a = json_array();
    for (int i = 0; a && i < cfg->n_expected; i++) {
        const quipu_config_expected *e = &cfg->expected[i];
        json_t *o = json_object();
        if (!o) continue;
        json_object_set_new(o, "model", jstr_or_null(e->model));
        json_object_set_new(o, "benchmark", jstr_or_null(e->benchmark));
        json_object_set_new(o, "language", jstr_or_null(e->language));
        json_object_set_new(o, "culture", jstr_or_null(e->culture));
        json_object_set_new(o, "category", jstr_or_null(e->category));
        json_object_set_new(o, "metric", jstr_or_null(e->metric));
        json_object_set_new(o, "value", json_real(e->value));
        json_object_set_new(o, "stderr", jnum_or_null(e->stderr_));
        json_object_set_new(o, "ci_low", jnum_or_null(e->ci_low));
        json_object_set_new(o, "ci_high", jnum_or_null(e->ci_high));
        json_object_set_new(o, "source", jstr_or_null(e->source));
        json_array_append_new(a, o);
    }
    return a;
}
