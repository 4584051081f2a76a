/* config_canonical.c — the effective config as canonical JSON text (config.h): every key, keys
 * sorted, fixed number forms, so that equal configs give equal bytes and equal hashes. */
#define _POSIX_C_SOURCE 200809L
#include "config_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================== canonical JSON */

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *jlist(const quipu_strlist *l) {
    json_t *a = json_array();
    for (int i = 0; a && i < l->n; i++) json_array_append_new(a, json_string(l->v[i]));
    return a;
}

static json_t *config_json(const quipu_config *cfg, int hashed) {
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "schema", json_integer(QUIPU_CONFIG_SCHEMA));
    json_object_set_new(o, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(o, "backend", json_string(quipu_cfg_backend_name(cfg->backend)));
    json_object_set_new(o, "dtype", json_string(quipu_cfg_dtype_name(cfg->dtype)));
    json_object_set_new(o, "datasets_dir", jstr(cfg->datasets_dir));
    if (!hashed) {
        json_object_set_new(o, "name", jstr(cfg->name));
        json_object_set_new(o, "output", jstr(cfg->output));
        json_object_set_new(o, "resume", json_boolean(cfg->resume));
        json_object_set_new(o, "progress_interval", json_real(cfg->progress_interval));
        json_object_set_new(o, "item_text", json_boolean(cfg->item_text));
    }
    json_t *ms = json_array();
    for (int i = 0; ms && i < cfg->n_models; i++) {
        const quipu_config_model *m = &cfg->models[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", jstr(m->name));
        json_object_set_new(j, "path", jstr(m->path));
        json_object_set_new(j, "backend", json_string(quipu_cfg_backend_name(m->backend)));
        json_object_set_new(j, "dtype", json_string(quipu_cfg_dtype_name(m->dtype)));
        json_object_set_new(j, "max_length", json_integer(m->max_length));
        /* left out at 1, so that configs written before the key existed keep their text; never
           hashed: a split model scores the same items (within rounding, the tensor-parallel check) */
        if (!hashed && m->tensor_parallel > 1) json_object_set_new(j, "tensor_parallel", json_integer(m->tensor_parallel));
        /* left out when empty (configs without adapters keep their text); each adapter's content
           hash is part of the experiment, like its path */
        if (m->adapters.n) {
            json_t *ad = json_array();
            for (int k = 0; ad && k < m->adapters.n; k++)
                json_array_append_new(ad, json_pack("{s:s, s:o}", "path", m->adapters.v[k], "sha256",
                                                    m->adapter_ids && m->adapter_ids[k] ? json_string(m->adapter_ids[k]) : json_null()));
            json_object_set_new(j, "adapters", ad);
        }
        json_array_append_new(ms, j);
    }
    json_object_set_new(o, "models", ms);
    json_t *bs = json_array();
    for (int i = 0; bs && i < cfg->n_benchmarks; i++) {
        const quipu_config_benchmark *b = &cfg->benchmarks[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", jstr(b->name));
        json_object_set_new(j, "label", jstr(b->label));
        json_object_set_new(j, "path", jstr(b->path));
        json_object_set_new(j, "format", json_string(quipu_cfg_format_name(b->format)));
        json_object_set_new(j, "categories", jlist(&b->categories));
        json_object_set_new(j, "languages", jlist(&b->languages));
        json_object_set_new(j, "cultures", jlist(&b->cultures));
        json_object_set_new(j, "limit", json_integer(b->limit));
        json_object_set_new(j, "sample", json_string(quipu_cfg_sample_name(b->sample)));
        json_object_set_new(j, "on_bad_row", json_string(quipu_cfg_bad_row_name(b->on_bad_row)));
        json_object_set_new(j, "template", json_string(quipu_cfg_template_name(b->template_mode)));
        json_object_set_new(j, "prompt", jstr(b->prompt));
        json_object_set_new(j, "delimiter", jstr(b->delimiter));
        json_t *at = cfg_assoc_templates_json(b);
        if (at) json_object_set_new(j, "association_templates", at);
        json_t *pv = cfg_prompt_variants_json(b);
        if (pv) json_object_set_new(j, "prompt_variants", pv);
        /* left out at its default (configs without roles keep their text and hash); a role changes
           no score, only how `quipu report` reads the benchmark, but it is part of the experiment */
        if (b->role != quipu_cfg_role_default(b->name, b->format))
            json_object_set_new(j, "role", json_string(quipu_cfg_role_name(b->role)));
        json_array_append_new(bs, j);
    }
    json_object_set_new(o, "benchmarks", bs);
    json_t *mt = json_object();
    if (mt) {
        json_object_set_new(mt, "include", cfg->metrics.all ? json_string("all") : jlist(&cfg->metrics.names));
        json_object_set_new(mt, "normalization", json_string(quipu_cfg_norm_name(cfg->metrics.normalization)));
        json_object_set_new(mt, "bootstrap", json_integer(cfg->metrics.bootstrap));
        json_object_set_new(mt, "confidence", json_real(cfg->metrics.confidence));
    }
    json_object_set_new(o, "metrics", mt);
    json_t *sc = json_object();
    if (sc) {
        if (!hashed) {
            json_object_set_new(sc, "batch_tokens", json_integer(cfg->scoring.batch_tokens));
            json_object_set_new(sc, "threads", json_integer(cfg->scoring.threads));
        }
        json_object_set_new(sc, "prefix_sharing", json_boolean(cfg->scoring.prefix_sharing));
    }
    json_object_set_new(o, "scoring", sc);
    if (!hashed) {
        /* published numbers change no score: echoed, never hashed; absent when there are none */
        json_t *ex = cfg_expected_json(cfg);
        if (ex) json_object_set_new(o, "expected", ex);
        json_t *d = json_object();
        if (d) json_object_set_new(d, "sharding", json_string(quipu_cfg_sharding_name(cfg->distribution.sharding)));
        json_object_set_new(o, "distribution", d);
    }
    return o;
}

static void fmt_double(char *buf, size_t len, double x) { quipu_format_shortest(buf, len, x); }

static void emit_string(sbuf *b, const char *s) {
    cfg_sb_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': cfg_sb_puts(b, "\\\""); break;
        case '\\': cfg_sb_puts(b, "\\\\"); break;
        case '\n': cfg_sb_puts(b, "\\n"); break;
        case '\t': cfg_sb_puts(b, "\\t"); break;
        case '\r': cfg_sb_puts(b, "\\r"); break;
        default:
            if (*p < 0x20) {
                char e[8];
                snprintf(e, sizeof e, "\\u%04x", *p);
                cfg_sb_puts(b, e);
            } else {
                cfg_sb_putc(b, (char)*p);
            }
        }
    }
    cfg_sb_putc(b, '"');
}

static int key_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void emit_json(sbuf *b, json_t *v, int indent) {
    char num[40];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), k = 0;
        if (!n) {
            cfg_sb_puts(b, "{}");
            return;
        }
        const char **keys = malloc(n * sizeof *keys);
        if (!keys) {
            b->oom = 1;
            return;
        }
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val) keys[k++] = key;
        qsort(keys, n, sizeof *keys, key_cmp);
        cfg_sb_puts(b, "{\n");
        for (size_t i = 0; i < n; i++) {
            for (int s = 0; s < indent + 2; s++) cfg_sb_putc(b, ' ');
            emit_string(b, keys[i]);
            cfg_sb_puts(b, ": ");
            emit_json(b, json_object_get(v, keys[i]), indent + 2);
            cfg_sb_puts(b, i + 1 < n ? ",\n" : "\n");
        }
        for (int s = 0; s < indent; s++) cfg_sb_putc(b, ' ');
        cfg_sb_putc(b, '}');
        free(keys);
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        int flat = 1;
        for (size_t i = 0; i < n; i++)
            if (json_is_object(json_array_get(v, i)) || json_is_array(json_array_get(v, i))) flat = 0;
        if (!n) {
            cfg_sb_puts(b, "[]");
            return;
        }
        cfg_sb_puts(b, flat ? "[" : "[\n");
        for (size_t i = 0; i < n; i++) {
            if (!flat)
                for (int s = 0; s < indent + 2; s++) cfg_sb_putc(b, ' ');
            emit_json(b, json_array_get(v, i), indent + 2);
            if (i + 1 < n) cfg_sb_puts(b, flat ? ", " : ",\n");
        }
        if (!flat) {
            cfg_sb_putc(b, '\n');
            for (int s = 0; s < indent; s++) cfg_sb_putc(b, ' ');
        }
        cfg_sb_putc(b, ']');
        return;
    }
    case JSON_STRING: emit_string(b, json_string_value(v)); return;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        cfg_sb_puts(b, num);
        return;
    case JSON_REAL:
        fmt_double(num, sizeof num, json_real_value(v));
        cfg_sb_puts(b, num);
        return;
    case JSON_TRUE: cfg_sb_puts(b, "true"); return;
    case JSON_FALSE: cfg_sb_puts(b, "false"); return;
    case JSON_NULL: cfg_sb_puts(b, "null"); return;
    }
}

char *quipu_config_canonical(const quipu_config *cfg, int hashed) {
    json_t *j = config_json(cfg, hashed);
    if (!j) return NULL;
    sbuf b = {0};
    emit_json(&b, j, 0);
    cfg_sb_putc(&b, '\n');
    json_decref(j);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
