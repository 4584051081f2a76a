/* run_read.c — a run folder read back (see run_read.h and docs/results.md). summary.json is
 * small and read whole (jansson); items.jsonl.zst is streamed: zstd output blocks are cut into
 * lines, each line parsed and checked on its own, so memory holds one line plus the items. */
#define _POSIX_C_SOURCE 200809L
#include "run_read.h"

#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

/* ---- the string pool ----------------------------------------------------------------------- */

static const char *pool_str(quipu_run_data *d, const char *s)
{
    if (d->n_pool_ == d->cap_pool_) {
        size_t cap = d->cap_pool_ ? 2 * d->cap_pool_ : 64;
        char **p = realloc(d->pool_, cap * sizeof *p);
        if (!p) return NULL;
        d->pool_ = p;
        d->cap_pool_ = cap;
    }
    size_t n = strlen(s ? s : "");
    char *c = malloc(n + 1);
    if (!c) return NULL;
    memcpy(c, s ? s : "", n + 1);
    d->pool_[d->n_pool_++] = c;
    return c;
}


void quipu_run_data_free(quipu_run_data *d)
{
    if (!d) return;
    for (size_t m = 0; m < d->n_models; m++) {
        quipu_run_model *mo = &d->models[m];
        for (size_t i = 0; i < mo->n_items; i++) quipu_item_free(&mo->items[i]);
        free(mo->items);
        free(mo->records);
    }
    free(d->models);
    free(d->benchmarks);
    free(d->rows);
    free(d->tpl_rows);
    free(d->spread);
    for (size_t i = 0; i < d->n_pool_; i++) free(d->pool_[i]);
    free(d->pool_);
    memset(d, 0, sizeof *d);
}

int quipu_run_benchmark_role(const quipu_run_data *d, const char *label, int is_text)
{
    const char *name = label;
    for (size_t i = 0; i < d->n_benchmarks; i++)
        if (d->benchmarks[i].label && label && !strcmp(d->benchmarks[i].label, label)) {
            if (d->benchmarks[i].role >= 0) return d->benchmarks[i].role;
            name = d->benchmarks[i].name;
            break;
        }
    return (int)quipu_cfg_role_default(name, is_text ? QUIPU_CFG_FORMAT_TEXT : QUIPU_CFG_FORMAT_BUILTIN);
}

const quipu_run_model *quipu_run_find_model(const quipu_run_data *d, const char *name)
{
    for (size_t m = 0; m < d->n_models; m++)
        if (!strcmp(d->models[m].name, name ? name : "")) return &d->models[m];
    return NULL;
}

/* ---- summary.json -------------------------------------------------------------------------- */

#define NOMEM() quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", where)

/* An optional string member: "" when absent or null; an error when of another type. */
static quipu_status opt_string(json_t *o, const char *key, const char **out, const char *where, const char *ctx,
                               quipu_error *err)
{
    json_t *v = json_object_get(o, key);
    *out = "";
    if (!v || json_is_null(v)) return QUIPU_OK;
    if (!json_is_string(v))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %sfield '%s' must be a string", where, ctx, key);
    *out = json_string_value(v);
    return QUIPU_OK;
}

static quipu_status req_string(json_t *o, const char *key, const char **out, const char *where, const char *ctx,
                               quipu_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %sfield '%s' is missing", where, ctx, key);
    if (!json_is_string(v))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %sfield '%s' must be a string", where, ctx, key);
    *out = json_string_value(v);
    return QUIPU_OK;
}

/* A number or null (NaN). */
static quipu_status num_or_null(json_t *o, const char *key, double *out, const char *where, const char *ctx,
                                quipu_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = NAN;
        return QUIPU_OK;
    }
    if (!json_is_number(v))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %sfield '%s' must be a number or null", where, ctx, key);
    *out = json_number_value(v);
    return QUIPU_OK;
}

static quipu_status read_settings(quipu_run_data *d, json_t *root, const char *where, quipu_error *err)
{
    quipu_metrics_options_init(&d->opt);
    json_t *v = json_object_get(root, "seed");
    if (v && !json_is_null(v)) {
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
            d->opt.seed = (uint64_t)json_integer_value(v);
        } else if (json_is_string(v)) { /* seeds above 2^63 - 1 are written as decimal strings */
            const char *s = json_string_value(v);
            char *end = NULL;
            errno = 0;
            unsigned long long x = strtoull(s, &end, 10);
            if (!*s || *end || errno || s[0] == '-')
                return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field 'seed' '%s' is not a non-negative integer",
                                       where, s);
            d->opt.seed = (uint64_t)x;
        } else {
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field 'seed' must be a non-negative integer", where);
        }
    }
    v = json_object_get(root, "normalization");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || quipu_score_norm_parse(json_string_value(v), &d->opt.norm) != 0)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field 'normalization' must be \"sum\", \"token\" or \"byte\"",
                                   where);
    }
    v = json_object_get(root, "bootstrap");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000000)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field 'bootstrap' must be an integer in 0..10000000",
                                   where);
        d->opt.n_boot = (int)json_integer_value(v);
    }
    v = json_object_get(root, "confidence");
    if (v && !json_is_null(v)) {
        double c = json_is_number(v) ? json_number_value(v) : NAN;
        if (!(c > 0 && c < 1))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field 'confidence' must be a number between 0 and 1",
                                   where);
        d->opt.ci_level = c;
    }
    return QUIPU_OK;
}

static quipu_status read_models(quipu_run_data *d, json_t *root, const char *where, quipu_error *err)
{
    json_t *arr = json_object_get(root, "models");
    if (!arr) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field 'models' is missing", where);
    if (!json_is_array(arr)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field 'models' must be an array", where);
    size_t n = json_array_size(arr);
    d->models = quipu_calloc_array(n, sizeof *d->models);
    if (!d->models) return NOMEM();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char ctx[48];
        snprintf(ctx, sizeof ctx, "models[%zu]: ", i);
        if (!json_is_object(o)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %smust be an object", where, ctx);
        const char *name = NULL, *path = NULL, *arch = NULL;
        quipu_status st = req_string(o, "name", &name, where, ctx, err);
        if (!st) st = opt_string(o, "path", &path, where, ctx, err);
        if (!st) st = opt_string(o, "architecture", &arch, where, ctx, err);
        if (st) return st;
        if (!*name) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %sfield 'name' is empty", where, ctx);
        if (quipu_run_find_model(d, name))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %smodel '%s' is listed twice", where, ctx, name);
        quipu_run_model *m = &d->models[d->n_models];
        if (!(m->name = pool_str(d, name)) || !(m->path = pool_str(d, path)) || !(m->architecture = pool_str(d, arch)))
            return NOMEM();
        d->n_models++;
    }
    return QUIPU_OK;
}

static quipu_status read_benchmarks(quipu_run_data *d, json_t *root, const char *where, quipu_error *err)
{
    json_t *arr = json_object_get(root, "benchmarks");
    if (!arr || json_is_null(arr)) return QUIPU_OK;
    if (!json_is_array(arr)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field 'benchmarks' must be an array", where);
    size_t n = json_array_size(arr);
    d->benchmarks = quipu_calloc_array(n, sizeof *d->benchmarks);
    if (!d->benchmarks) return NOMEM();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char ctx[48];
        snprintf(ctx, sizeof ctx, "benchmarks[%zu]: ", i);
        if (!json_is_object(o)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %smust be an object", where, ctx);
        const char *label, *name;
        quipu_status st = opt_string(o, "label", &label, where, ctx, err);
        if (!st) st = opt_string(o, "name", &name, where, ctx, err);
        if (st) return st;
        quipu_run_benchmark *b = &d->benchmarks[d->n_benchmarks];
        if (!(b->label = pool_str(d, label)) || !(b->name = pool_str(d, name))) return NOMEM();
        json_t *v = json_object_get(o, "items");
        b->items = json_is_integer(v) ? json_integer_value(v) : -1;
        v = json_object_get(o, "rows_skipped");
        b->rows_skipped = json_is_integer(v) ? json_integer_value(v) : 0;
        b->role = -1;
        v = json_object_get(o, "role");
        if (v && !json_is_null(v)) {
            quipu_cfg_role r;
            if (!json_is_string(v) || quipu_cfg_role_parse(json_string_value(v), &r))
                return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %sfield 'role' must be \"bias\", \"control\", \"neutral\" or \"knowledge\"",
                                       where, ctx);
            b->role = (int)r;
        }
        d->n_benchmarks++;
    }
    return QUIPU_OK;
}

/* summary.json's "metrics" (key "metrics", required) or "templates" rows (whose "template" joins
 * the culture: "CULTURE · TEMPLATE") into *rows */
static quipu_status read_metric_rows(quipu_run_data *d, json_t *root, const char *key, quipu_metric_row **rows, size_t *n_rows,
                                     const char *where, quipu_error *err)
{
    int tpl = !strcmp(key, "templates");
    json_t *arr = json_object_get(root, key);
    if (!arr && tpl) return QUIPU_OK;
    if (!arr) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field '%s' is missing", where, key);
    if (!json_is_array(arr)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field '%s' must be an array", where, key);
    size_t n = json_array_size(arr);
    *rows = quipu_calloc_array(n ? n : 1, sizeof **rows);
    if (!*rows) return NOMEM();
    /* tags repeat across rows: keep one copy of each run of equal strings */
    const char *last[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    static const char *const keys[6] = {"model", "benchmark", "language", "culture", "category", "metric"};
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char ctx[48];
        snprintf(ctx, sizeof ctx, "%s[%zu]: ", key, i);
        if (!json_is_object(o)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %smust be an object", where, ctx);
        quipu_metric_row *r = &(*rows)[i];
        const char **dst[6] = {&r->model, &r->benchmark, &r->language, &r->culture, &r->category, &r->metric};
        for (int k = 0; k < 6; k++) {
            const char *s = NULL;
            quipu_status st = req_string(o, keys[k], &s, where, ctx, err);
            if (st) return st;
            if (!last[k] || strcmp(last[k], s))
                if (!(last[k] = pool_str(d, s))) return NOMEM();
            *dst[k] = last[k];
        }
        quipu_status st = num_or_null(o, "value", &r->value, where, ctx, err);
        if (!st) st = num_or_null(o, "ci_low", &r->ci_low, where, ctx, err);
        if (!st) st = num_or_null(o, "ci_high", &r->ci_high, where, ctx, err);
        if (st) return st;
        json_t *v = json_object_get(o, "n");
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %sfield 'n' must be a non-negative integer", where, ctx);
        r->n = json_integer_value(v);
        const char *note;
        if ((st = opt_string(o, "note", &note, where, ctx, err))) return st;
        r->note = NULL;
        if (*note && !(r->note = pool_str(d, note))) return NOMEM();
        if (!quipu_run_find_model(d, r->model))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %smodel '%s' is not in 'models'", where, ctx, r->model);
        if (tpl) {
            const char *t = NULL;
            if ((st = req_string(o, "template", &t, where, ctx, err))) return st;
            char *c = quipu_asprintf("%s \xC2\xB7 %s", r->culture, t);
            r->culture = c ? pool_str(d, c) : NULL;
            free(c);
            if (!r->culture) return NOMEM();
        }
        (*n_rows)++;
    }
    return QUIPU_OK;
}

/* summary.json's "template_spread" (absent: none) */
static quipu_status read_spread(quipu_run_data *d, json_t *root, const char *where, quipu_error *err)
{
    json_t *arr = json_object_get(root, "template_spread");
    if (!arr || json_is_null(arr)) return QUIPU_OK;
    if (!json_is_array(arr)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field 'template_spread' must be an array", where);
    size_t n = json_array_size(arr);
    d->spread = quipu_calloc_array(n ? n : 1, sizeof *d->spread);
    if (!d->spread) return NOMEM();
    static const char *const keys[7] = {"model", "benchmark", "language", "culture", "metric", "min_template", "max_template"};
    static const char *const nums[8] = {"min", "max", "range", "range_ci_low", "range_ci_high", "sd", "sd_ci_low", "sd_ci_high"};
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char ctx[48];
        snprintf(ctx, sizeof ctx, "template_spread[%zu]: ", i);
        if (!json_is_object(o)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %smust be an object", where, ctx);
        quipu_run_spread *x = &d->spread[i];
        const char **dst[7] = {&x->model, &x->benchmark, &x->language, &x->culture, &x->metric, &x->min_template, &x->max_template};
        double *dn[8] = {&x->min, &x->max, &x->range, &x->range_ci_low, &x->range_ci_high, &x->sd, &x->sd_ci_low, &x->sd_ci_high};
        quipu_status st = QUIPU_OK;
        for (int k = 0; k < 7 && !st; k++) {
            const char *s = "";
            st = k < 5 ? req_string(o, keys[k], &s, where, ctx, err) : opt_string(o, keys[k], &s, where, ctx, err);
            if (!st && !(*dst[k] = pool_str(d, s))) return NOMEM();
        }
        for (int k = 0; k < 8 && !st; k++) st = num_or_null(o, nums[k], dn[k], where, ctx, err);
        if (st) return st;
        json_t *v = json_object_get(o, "n_templates");
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %sfield 'n_templates' must be a non-negative integer", where, ctx);
        x->n_templates = json_integer_value(v);
        d->n_spread++;
    }
    return QUIPU_OK;
}

static quipu_status check_dir(const char *dir, quipu_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return quipu_error_set(err, QUIPU_ERR_IO, "%s: no such run folder", dir);
        return quipu_error_set(err, QUIPU_ERR_IO, "%s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) return quipu_error_set(err, QUIPU_ERR_IO, "%s: not a folder (a run folder holds summary.json)", dir);
    return QUIPU_OK;
}

static quipu_status read_summary(quipu_run_data *d, const char *dir, quipu_error *err)
{
    size_t n = strlen(dir);
    char *path = malloc(n + 16);
    if (!path) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", dir);
    snprintf(path, n + 16, "%s/summary.json", dir);
    const char *where = path;
    quipu_status st = QUIPU_OK;
    json_t *root = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        st = errno == ENOENT ? quipu_error_set(err, QUIPU_ERR_IO, "%s: missing (not a quipu run folder?)", path)
                             : quipu_error_set(err, QUIPU_ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    json_error_t je;
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        st = je.line > 0 ? quipu_error_set(err, QUIPU_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column,
                                           je.text)
                         : quipu_error_set(err, QUIPU_ERR_IO, "%s: %s", path, je.text);
        goto done;
    }
    if (!json_is_object(root)) {
        st = quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: not a JSON object", where);
        goto done;
    }
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), QUIPU_SUMMARY_FORMAT)) {
        st = quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: field 'format' is %s%s%s, expected \"%s\"", where,
                             json_is_string(fmt) ? "\"" : "", json_is_string(fmt) ? json_string_value(fmt) : "missing",
                             json_is_string(fmt) ? "\"" : "", QUIPU_SUMMARY_FORMAT);
        goto done;
    }
    const char *s;
    if ((st = opt_string(root, "run", &s, where, "", err))) goto done;
    if (!(d->name = pool_str(d, s))) goto nomem;
    if ((st = opt_string(root, "config_hash", &s, where, "", err))) goto done;
    if (!(d->config_hash = pool_str(d, s))) goto nomem;
    if ((st = read_settings(d, root, where, err))) goto done;
    if ((st = read_models(d, root, where, err))) goto done;
    if ((st = read_benchmarks(d, root, where, err))) goto done;
    if ((st = read_metric_rows(d, root, "metrics", &d->rows, &d->n_rows, where, err))) goto done;
    if ((st = read_metric_rows(d, root, "templates", &d->tpl_rows, &d->n_tpl_rows, where, err))) goto done;
    st = read_spread(d, root, where, err);
    goto done;
nomem:
    st = NOMEM();
done:
    json_decref(root);
    free(path);
    return st;
}

/* ---- items.jsonl.zst ----------------------------------------------------------------------- */

typedef struct item_reader {
    quipu_run_data *d;
    const char *where; /* "RUN/items.jsonl.zst" */
    size_t *cap;       /* per model */
    size_t last_model;
} item_reader;

#define BAD(...) quipu_error_set(err, QUIPU_ERR_FORMAT, __VA_ARGS__)

static quipu_status line_string(json_t *o, const char *key, int required, const char **out, const char *where,
                                size_t line, quipu_error *err)
{
    json_t *v = json_object_get(o, key);
    *out = "";
    if (!v) return required ? BAD("%s:%zu: field '%s' is missing", where, line, key) : QUIPU_OK;
    if (!required && json_is_null(v)) return QUIPU_OK;
    if (!json_is_string(v)) return BAD("%s:%zu: field '%s' must be a string", where, line, key);
    *out = json_string_value(v);
    return QUIPU_OK;
}

static quipu_status line_int(json_t *o, const char *key, long long def, long long lo, long long hi, long long *out,
                             const char *where, size_t line, quipu_error *err)
{
    json_t *v = json_object_get(o, key);
    *out = def;
    if (!v) return QUIPU_OK;
    if (!json_is_integer(v)) return BAD("%s:%zu: field '%s' must be an integer", where, line, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return BAD("%s:%zu: field '%s' is %lld, outside %lld..%lld", where, line, key, x, lo, hi);
    *out = x;
    return QUIPU_OK;
}

/* Parses one line into a new item + record of its model. */
static quipu_status parse_line(item_reader *r, const char *buf, size_t len, size_t line, quipu_error *err)
{
    const char *where = r->where;
    quipu_run_data *d = r->d;
    json_error_t je;
    json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) return BAD("%s:%zu: invalid JSON: %s (column %d)", where, line, je.text, je.column);
    quipu_status st = QUIPU_OK;
    quipu_item it;
    quipu_item_record rec;
    memset(&it, 0, sizeof it);
    memset(&rec, 0, sizeof rec);
    if (!json_is_object(o)) {
        st = BAD("%s:%zu: not a JSON object", where, line);
        goto fail;
    }

    const char *model, *bench, *id, *lang, *cult, *cat, *kind, *cond, *pol, *group, *roles;
    if ((st = line_string(o, "model", 1, &model, where, line, err)) ||
        (st = line_string(o, "benchmark", 1, &bench, where, line, err)) ||
        (st = line_string(o, "id", 1, &id, where, line, err)) ||
        (st = line_string(o, "language", 1, &lang, where, line, err)) ||
        (st = line_string(o, "culture", 1, &cult, where, line, err)) ||
        (st = line_string(o, "category", 1, &cat, where, line, err)) ||
        (st = line_string(o, "kind", 1, &kind, where, line, err)) ||
        (st = line_string(o, "condition", 0, &cond, where, line, err)) ||
        (st = line_string(o, "polarity", 0, &pol, where, line, err)) ||
        (st = line_string(o, "group", 0, &group, where, line, err)) ||
        (st = line_string(o, "roles", 0, &roles, where, line, err)))
        goto fail;
    if (!*id || !*bench) {
        st = BAD("%s:%zu: field '%s' is empty", where, line, *id ? "benchmark" : "id");
        goto fail;
    }
    size_t m = r->last_model;
    if (m >= d->n_models || strcmp(d->models[m].name, model)) {
        for (m = 0; m < d->n_models; m++)
            if (!strcmp(d->models[m].name, model)) break;
        if (m == d->n_models) {
            st = BAD("%s:%zu: model '%s' is not among summary.json's models", where, line, model);
            goto fail;
        }
        r->last_model = m;
    }

    if (!strcmp(kind, "pair")) it.kind = QUIPU_ITEM_PAIR;
    else if (!strcmp(kind, "mc")) it.kind = QUIPU_ITEM_MC;
    else if (!strcmp(kind, "assoc")) it.kind = QUIPU_ITEM_ASSOC;
    else if (!strcmp(kind, "text")) it.kind = QUIPU_ITEM_TEXT;
    else {
        st = BAD("%s:%zu: field 'kind' is \"%s\" (must be \"pair\", \"mc\", \"assoc\" or \"text\")", where, line, kind);
        goto fail;
    }
    if (!*cond) it.condition = QUIPU_COND_NONE;
    else if (!strcmp(cond, "ambig")) it.condition = QUIPU_COND_AMBIG;
    else if (!strcmp(cond, "disambig")) it.condition = QUIPU_COND_DISAMBIG;
    else {
        st = BAD("%s:%zu: field 'condition' is \"%s\" (must be \"ambig\", \"disambig\" or \"\")", where, line, cond);
        goto fail;
    }
    if (!*pol) it.polarity = QUIPU_POL_NONE;
    else if (!strcmp(pol, "neg")) it.polarity = QUIPU_POL_NEG;
    else if (!strcmp(pol, "nonneg")) it.polarity = QUIPU_POL_NONNEG;
    else {
        st = BAD("%s:%zu: field 'polarity' is \"%s\" (must be \"neg\", \"nonneg\" or \"\")", where, line, pol);
        goto fail;
    }

    /* the per-choice arrays */
    json_t *lp = json_object_get(o, "lp");
    if (!lp) {
        st = BAD("%s:%zu: field 'lp' is missing", where, line);
        goto fail;
    }
    if (!json_is_array(lp)) {
        st = BAD("%s:%zu: field 'lp' must be an array", where, line);
        goto fail;
    }
    size_t nc = json_array_size(lp);
    if (it.kind == QUIPU_ITEM_PAIR ? nc != 2 : it.kind == QUIPU_ITEM_TEXT ? nc != 1 : (nc < 1 || nc > QUIPU_MAX_CHOICES)) {
        st = it.kind == QUIPU_ITEM_PAIR   ? BAD("%s:%zu: field 'lp' has %zu values; a pair has 2", where, line, nc)
             : it.kind == QUIPU_ITEM_TEXT ? BAD("%s:%zu: field 'lp' has %zu values; a text item has 1", where, line, nc)
                                        : BAD("%s:%zu: field 'lp' has %zu values (must be 1..%d)", where, line, nc,
                                              QUIPU_MAX_CHOICES);
        goto fail;
    }
    rec.n_choices = (int)nc;
    static const char *const arr_keys[4] = {"lp", "nt", "nb", "g"};
    for (int k = 0; k < 4; k++) {
        json_t *a = json_object_get(o, arr_keys[k]);
        if (!a) continue; /* nt, nb, g: zeros */
        if (!json_is_array(a) || json_array_size(a) != nc) {
            st = BAD("%s:%zu: field '%s' must be an array of %zu values (as many as 'lp')", where, line, arr_keys[k], nc);
            goto fail;
        }
        for (size_t i = 0; i < nc; i++) {
            json_t *v = json_array_get(a, i);
            if (k == 0) {
                if (json_is_null(v)) { /* scored NaN or Inf: the run left it out of its metrics, and so does the report */
                    rec.logprob[i] = NAN;
                    continue;
                }
                if (!json_is_number(v)) {
                    st = BAD("%s:%zu: lp[%zu] must be a number", where, line, i);
                    goto fail;
                }
                rec.logprob[i] = json_number_value(v);
            } else if (k == 3) {
                if (json_is_boolean(v)) rec.is_greedy[i] = json_is_true(v);
                else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
                    rec.is_greedy[i] = (uint8_t)json_integer_value(v);
                else {
                    st = BAD("%s:%zu: g[%zu] must be 0 or 1", where, line, i);
                    goto fail;
                }
            } else {
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) {
                    st = BAD("%s:%zu: %s[%zu] must be a non-negative integer", where, line, arr_keys[k], i);
                    goto fail;
                }
                if (k == 1) rec.n_tokens[i] = (int32_t)json_integer_value(v);
                else rec.n_bytes[i] = (int32_t)json_integer_value(v);
            }
        }
    }

    long long x;
    int n_item = it.kind != QUIPU_ITEM_PAIR ? (int)nc : 0;
    if (it.kind == QUIPU_ITEM_MC) {
        if ((st = line_int(o, "n_choices", (long long)nc, 1, (long long)nc, &x, where, line, err))) goto fail;
        n_item = (int)x;
    }
    it.n_choices = n_item;
    /* choice indices: within the item's choices for MC; pairs have none (-1) but are read as written */
    long long hi_idx = it.kind != QUIPU_ITEM_PAIR ? n_item - 1 : QUIPU_MAX_CHOICES - 1;
    static const char *const idx_keys[5] = {"label", "unknown_choice", "target_choice", "other_choice", "biased_choice"};
    int *idx_dst[5] = {&it.label, &it.unknown_choice, &it.target_choice, &it.other_choice, &it.biased_choice};
    for (int k = 0; k < 5; k++) {
        if ((st = line_int(o, idx_keys[k], -1, -1, hi_idx, &x, where, line, err))) goto fail;
        *idx_dst[k] = (int)x;
    }
    if ((st = line_int(o, "biased_mask", 0, 0, (long long)UINT32_MAX, &x, where, line, err))) goto fail;
    it.biased_mask = (uint32_t)x;
    if ((st = line_int(o, "direction", 0, -1, 1, &x, where, line, err))) goto fail;
    it.direction = (int)x;
    size_t nr = strlen(roles);
    if (nr > (size_t)(it.kind == QUIPU_ITEM_MC ? n_item : 0)) {
        st = BAD("%s:%zu: field 'roles' has %zu letters for %d choices", where, line, nr, n_item);
        goto fail;
    }
    for (size_t i = 0; i < nr; i++) {
        if (roles[i] != 's' && roles[i] != 'a' && roles[i] != 'u') {
            st = BAD("%s:%zu: field 'roles' may hold only s, a and u", where, line);
            goto fail;
        }
        it.roles[i] = roles[i];
    }

    char src[64];
    int ns = snprintf(src, sizeof src, ":%zu", line);
    char *source = malloc(strlen(where) + (size_t)ns + 1);
    if (source) {
        memcpy(source, where, strlen(where));
        memcpy(source + strlen(where), src, (size_t)ns + 1);
    }
    it.source = source;
    it.id = quipu_strdup(id);
    it.benchmark = quipu_strdup(bench);
    it.language = quipu_strdup(lang);
    it.culture = quipu_strdup(cult);
    it.category = quipu_strdup(cat);
    it.group = *group ? quipu_strdup(group) : NULL;
    /* association items: the offensiveness weight; any item: its template (both absent elsewhere) */
    json_t *jw = json_object_get(o, "weight");
    if (jw && (!json_is_number(jw) || !(json_number_value(jw) >= 0) || !isfinite(json_number_value(jw)))) {
        st = BAD("%s:%zu: field 'weight' must be a number >= 0", where, line);
        goto fail;
    }
    it.weight = jw ? json_number_value(jw) : 0.0;
    const char *tpl;
    if ((st = line_string(o, "template", 0, &tpl, where, line, err))) goto fail;
    it.template_id = *tpl ? quipu_strdup(tpl) : NULL;
    /* a prompt variant (config prompt_variants): 1 + its index; the first's rows are the entry's */
    if ((st = line_int(o, "variant", 0, 0, 64, &x, where, line, err))) goto fail;
    it.variant = (int)x;
    if (!it.source || !it.id || !it.benchmark || !it.language || !it.culture || !it.category || (*group && !it.group) ||
        (*tpl && !it.template_id)) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s:%zu: out of memory", where, line);
        goto fail;
    }

    for (int c = 0; c < rec.n_choices; c++)
        if (!isfinite(rec.logprob[c])) { /* as the run's own metrics did: not an item of the report */
            quipu_item_free(&it);
            json_decref(o);
            return QUIPU_OK;
        }
    quipu_run_model *mo = &d->models[m];
    if (mo->n_items == r->cap[m]) {
        size_t cap = r->cap[m] ? 2 * r->cap[m] : 256;
        quipu_item *ni = realloc(mo->items, cap * sizeof *ni);
        if (ni) mo->items = ni;
        quipu_item_record *nrc = ni ? realloc(mo->records, cap * sizeof *nrc) : NULL;
        if (nrc) mo->records = nrc;
        if (!ni || !nrc) {
            st = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s:%zu: out of memory", where, line);
            goto fail;
        }
        r->cap[m] = cap;
    }
    rec.item_index = (int64_t)mo->n_items;
    mo->items[mo->n_items] = it;
    mo->records[mo->n_items] = rec;
    mo->n_items++;
    json_decref(o);
    return QUIPU_OK;
fail:
    quipu_item_free(&it);
    json_decref(o);
    return st;
}

/* Streams the file through zstd, cutting lines. */
static quipu_status read_items(quipu_run_data *d, const char *path, const char *where, quipu_error *err)
{
    quipu_status st = QUIPU_OK;
    FILE *f = fopen(path, "rb");
    if (!f) return quipu_error_set(err, QUIPU_ERR_IO, "%s: %s", where, strerror(errno));
    size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    void *in = malloc(in_cap), *out = malloc(out_cap);
    size_t line_cap = 4096, line_len = 0;
    char *linebuf = malloc(line_cap);
    item_reader r = {d, where, quipu_calloc_array(d->n_models ? d->n_models : 1, sizeof(size_t)), 0};
    if (!dctx || !in || !out || !linebuf || !r.cap) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    size_t line = 0, last_ret = 0, total_in = 0;
    int too_long = 0;
    for (;;) {
        size_t got = fread(in, 1, in_cap, f);
        if (got == 0) {
            if (ferror(f)) {
                st = quipu_error_set(err, QUIPU_ERR_IO, "%s: read failed: %s", where, strerror(errno));
                goto done;
            }
            break;
        }
        total_in += got;
        ZSTD_inBuffer ib = {in, got, 0};
        while (ib.pos < ib.size) {
            ZSTD_outBuffer ob = {out, out_cap, 0};
            size_t ret = ZSTD_decompressStream(dctx, &ob, &ib);
            if (ZSTD_isError(ret)) {
                st = line == 0 && line_len == 0
                         ? BAD("%s:1: not zstd data or corrupt (%s)", where, ZSTD_getErrorName(ret))
                         : BAD("%s:%zu: corrupt zstd data (%s)", where, line + 1, ZSTD_getErrorName(ret));
                goto done;
            }
            last_ret = ret;
            const char *p = out, *end = p + ob.pos;
            while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (!too_long && line_len + take > QUIPU_RUN_MAX_LINE) too_long = 1;
                if (!too_long) {
                    if (line_len + take + 1 > line_cap) {
                        size_t cap = line_cap;
                        while (cap < line_len + take + 1) cap *= 2;
                        char *nb = realloc(linebuf, cap);
                        if (!nb) {
                            st = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s:%zu: out of memory", where, line + 1);
                            goto done;
                        }
                        linebuf = nb;
                        line_cap = cap;
                    }
                    memcpy(linebuf + line_len, p, take);
                    line_len += take;
                }
                if (!nl) break;
                line++;
                if (too_long) {
                    st = BAD("%s:%zu: line longer than %u bytes", where, line, QUIPU_RUN_MAX_LINE);
                    goto done;
                }
                if (line_len && linebuf[line_len - 1] == '\r') line_len--;
                if (line_len) {
                    st = parse_line(&r, linebuf, line_len, line, err);
                    if (st) goto done;
                    d->n_item_lines++;
                }
                line_len = 0;
                p = nl + 1;
            }
        }
    }
    if (total_in == 0) {
        st = BAD("%s:1: empty file, not zstd data", where);
        goto done;
    }
    if (last_ret != 0) {
        st = BAD("%s:%zu: zstd data cut short (truncated file?)", where, line + 1);
        goto done;
    }
    if (too_long) {
        st = BAD("%s:%zu: line longer than %u bytes", where, line + 1, QUIPU_RUN_MAX_LINE);
        goto done;
    }
    if (line_len && linebuf[line_len - 1] == '\r') line_len--;
    if (line_len) { /* a last line without '\n' */
        st = parse_line(&r, linebuf, line_len, line + 1, err);
        if (!st) d->n_item_lines++;
    }
done:
    free(r.cap);
    free(linebuf);
    free(in);
    free(out);
    ZSTD_freeDCtx(dctx);
    fclose(f);
    return st;
}

static quipu_status run_read(const char *run_dir, quipu_run_data *out, int with_items, quipu_error *err)
{
    memset(out, 0, sizeof *out);
    if (!run_dir || !*run_dir) return quipu_error_set(err, QUIPU_ERR_INVALID, "empty run folder name");
    size_t n = strlen(run_dir);
    while (n > 1 && run_dir[n - 1] == '/') n--;
    char *dir = malloc(n + 32);
    if (!dir) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", run_dir);
    memcpy(dir, run_dir, n);
    dir[n] = 0;
    quipu_status st = check_dir(dir, err);
    if (!st && !(out->dir = pool_str(out, dir))) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", dir);
    if (!st) st = read_summary(out, dir, err);
    if (!st && with_items) {
        char *path = malloc(n + 32);
        if (!path) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", dir);
        else {
            snprintf(path, n + 32, "%s/items.jsonl.zst", dir);
            struct stat sb;
            if (stat(path, &sb) == 0) {
                out->has_items = 1;
                st = read_items(out, path, path, err);
            } else if (errno != ENOENT) {
                st = quipu_error_set(err, QUIPU_ERR_IO, "%s: %s", path, strerror(errno));
            }
            free(path);
        }
    }
    free(dir);
    if (st) quipu_run_data_free(out);
    return st;
}

quipu_status quipu_run_read(const char *run_dir, quipu_run_data *out, quipu_error *err)
{
    return run_read(run_dir, out, 1, err);
}

quipu_status quipu_run_read_summary(const char *run_dir, quipu_run_data *out, quipu_error *err)
{
    return run_read(run_dir, out, 0, err);
}
