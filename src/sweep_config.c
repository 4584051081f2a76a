/* sweep_config.c — the sweep file: a run config read by the config's own reader (so every key,
 * default, --set and error location is the same), plus a `sweep:` section read here; then one run
 * config per model, written as YAML into the sweep folder, and each run's done flag. */
#define _POSIX_C_SOURCE 200809L
#include "sweep_internal.h"

#include "config_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const sweep_keys[] = {"template", "throttle", "sbatch", "report_sbatch", "baseline", NULL};

/* ---- the sweep: section ---- */

static void read_section(loader *L, const cnode *root, const cnode *v, const quipu_config *cfg, void *ctx) {
    quipu_sweep *s = ctx;
    if (!v) {
        cfg_missing(L, root, "", "sweep", " (the sweep's settings: template, throttle, sbatch, baseline; docs/sweep.md)");
        return;
    }
    if (v->kind != CN_MAP) {
        cfg_type_err(L, v, "sweep", "a mapping of keys (template, throttle, sbatch, report_sbatch, baseline)");
        return;
    }
    vctx c = {.L = L};
    snprintf(c.kp, sizeof c.kp, "sweep");
    cfg_unknown_keys(L, v, "sweep", sweep_keys);
    const cnode *tn = NULL;
    int r = cfg_get_path(&c, v, "template", &s->template_path, &tn);
    if (r == 0) cfg_missing(L, v, "sweep", "template", " (the sbatch script each array task runs, e.g. slurm/jean-zay-h100.sbatch)");
    if (r > 0) cfg_check_exists(L, tn, "sweep.template", s->template_path, 0); /* a file of this checkout: always checked */
    cfg_get_int(&c, v, "throttle", 0, 100000, &s->throttle);
    const cnode **items = NULL;
    if (cfg_get_strlist(&c, v, "sbatch", &s->sbatch, &items) > 0)
        for (int k = 0; k < s->sbatch.n; k++)
            if (s->sbatch.v[k][0] != '-') {
                char kp[64];
                snprintf(kp, sizeof kp, "sweep.sbatch.%d", k);
                cfg_err_key(L, items[k], kp, "'%s' is not an sbatch option (e.g. --account=abc@h100)", s->sbatch.v[k]);
            }
    free(items);
    items = NULL;
    if (cfg_get_strlist(&c, v, "report_sbatch", &s->report_sbatch, &items) > 0) {
        s->has_report_sbatch = 1;
        for (int k = 0; k < s->report_sbatch.n; k++)
            if (s->report_sbatch.v[k][0] != '-') {
                char kp[64];
                snprintf(kp, sizeof kp, "sweep.report_sbatch.%d", k);
                cfg_err_key(L, items[k], kp, "'%s' is not an sbatch option (e.g. --time=00:30:00)", s->report_sbatch.v[k]);
            }
    }
    free(items);
    const cnode *bn = NULL;
    if (cfg_get_str(&c, v, "baseline", 1, &s->baseline, &bn) > 0) {
        for (int i = 0; i < cfg->n_models; i++)
            if (cfg->models[i].name && !strcmp(cfg->models[i].name, s->baseline)) s->baseline_index = i;
        if (s->baseline_index < 0 && cfg->n_models > 0) {
            const char **names = calloc((size_t)cfg->n_models + 1, sizeof *names);
            if (!names) {
                L->oom = 1;
                return;
            }
            for (int i = 0; i < cfg->n_models; i++) names[i] = cfg->models[i].name ? cfg->models[i].name : "";
            const char *sug = cfg_suggest(s->baseline, names);
            sbuf b = {0};
            cfg_join_names(&b, names, ", ");
            if (sug)
                cfg_err_key(L, bn, "sweep.baseline", "no model is named '%s' (did you mean '%s'?)", s->baseline, sug);
            else
                cfg_err_key(L, bn, "sweep.baseline", "no model is named '%s' (models: %s)", s->baseline, b.p ? b.p : "");
            free(b.p);
            free(names);
        }
    }
}

/* ---- one run config as YAML ---- */

/* A double-quoted YAML string; path = 1 doubles '$' (the reader expands ${VAR} in paths, and this
 * text is already expanded). */
static void y_str(sbuf *b, const char *s, int path) {
    cfg_sb_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char e[8];
        switch (*p) {
        case '"': cfg_sb_puts(b, "\\\""); break;
        case '\\': cfg_sb_puts(b, "\\\\"); break;
        case '\n': cfg_sb_puts(b, "\\n"); break;
        case '\t': cfg_sb_puts(b, "\\t"); break;
        case '\r': cfg_sb_puts(b, "\\r"); break;
        case '$': cfg_sb_puts(b, path ? "$$" : "$"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(e, sizeof e, "\\x%02x", *p);
                cfg_sb_puts(b, e);
            } else {
                cfg_sb_putc(b, (char)*p);
            }
        }
    }
    cfg_sb_putc(b, '"');
}

static void y_key_str(sbuf *b, const char *indent, const char *key, const char *s, int path) {
    cfg_sb_puts(b, indent);
    cfg_sb_puts(b, key);
    cfg_sb_puts(b, ": ");
    y_str(b, s, path);
    cfg_sb_putc(b, '\n');
}

static void y_key_raw(sbuf *b, const char *indent, const char *key, const char *text) {
    cfg_sb_puts(b, indent);
    cfg_sb_puts(b, key);
    cfg_sb_puts(b, ": ");
    cfg_sb_puts(b, text);
    cfg_sb_putc(b, '\n');
}

static void y_key_int(sbuf *b, const char *indent, const char *key, long long x) {
    char t[32];
    snprintf(t, sizeof t, "%lld", x);
    y_key_raw(b, indent, key, t);
}

static void y_key_num(sbuf *b, const char *indent, const char *key, double x) {
    char t[40];
    quipu_format_shortest(t, sizeof t, x);
    y_key_raw(b, indent, key, t);
}

static void y_key_list(sbuf *b, const char *indent, const char *key, const quipu_strlist *l) {
    if (!l->n) return;
    cfg_sb_puts(b, indent);
    cfg_sb_puts(b, key);
    cfg_sb_puts(b, ": [");
    for (int i = 0; i < l->n; i++) {
        if (i) cfg_sb_puts(b, ", ");
        y_str(b, l->v[i], 0);
    }
    cfg_sb_puts(b, "]\n");
}

/* The run config of model mi: the sweep's settings with that model alone, every key written out
 * (defaults too), so that the run does not depend on the environment it starts in. */
static char *run_config_text(const quipu_sweep *s, int mi, const char *out_dir) {
    const quipu_config *c = s->cfg;
    const quipu_config_model *m = &c->models[mi];
    sbuf b = {0};
    /* nothing here may name the sweep file or the model's place in it: a run is done while its
       text is unchanged, whatever the sweep file is called or which models were added */
    cfg_sb_puts(&b, "# written by quipu sweep for one model of a sweep: edit the sweep file, not this one\n");
    y_key_str(&b, "", "name", m->name, 0);
    y_key_str(&b, "", "output", out_dir, 1);
    y_key_int(&b, "", "seed", (long long)c->seed);
    y_key_raw(&b, "", "backend", quipu_cfg_backend_name(c->backend));
    y_key_raw(&b, "", "dtype", quipu_cfg_dtype_name(c->dtype));
    y_key_str(&b, "", "datasets_dir", c->datasets_dir, 1);
    cfg_sb_puts(&b, "models:\n");
    y_key_str(&b, "  - ", "path", m->path, 1);
    y_key_str(&b, "    ", "name", m->name, 0);
    y_key_raw(&b, "    ", "backend", quipu_cfg_backend_name(m->backend));
    y_key_raw(&b, "    ", "dtype", quipu_cfg_dtype_name(m->dtype));
    y_key_int(&b, "    ", "max_length", (long long)m->max_length);
    if (m->tensor_parallel > 1) y_key_int(&b, "    ", "tensor_parallel", (long long)m->tensor_parallel);
    if (m->adapters.n) {
        cfg_sb_puts(&b, "    adapters: [");
        for (int k = 0; k < m->adapters.n; k++) {
            if (k) cfg_sb_puts(&b, ", ");
            y_str(&b, m->adapters.v[k], 1);
        }
        cfg_sb_puts(&b, "]\n");
    }
    cfg_sb_puts(&b, "benchmarks:\n");
    for (int i = 0; i < c->n_benchmarks; i++) {
        const quipu_config_benchmark *k = &c->benchmarks[i];
        y_key_str(&b, "  - ", "name", k->name, 0);
        y_key_str(&b, "    ", "label", k->label, 0);
        if (k->path) y_key_str(&b, "    ", "path", k->path, 1);
        if (k->format != QUIPU_CFG_FORMAT_BUILTIN) y_key_raw(&b, "    ", "format", quipu_cfg_format_name(k->format));
        y_key_list(&b, "    ", "categories", &k->categories);
        y_key_list(&b, "    ", "languages", &k->languages);
        y_key_list(&b, "    ", "cultures", &k->cultures);
        y_key_int(&b, "    ", "limit", (long long)k->limit);
        y_key_raw(&b, "    ", "sample", quipu_cfg_sample_name(k->sample));
        y_key_raw(&b, "    ", "on_bad_row", quipu_cfg_bad_row_name(k->on_bad_row));
        y_key_raw(&b, "    ", "template", quipu_cfg_template_name(k->template_mode));
        if (k->prompt) y_key_str(&b, "    ", "prompt", k->prompt, 0);
        if (k->delimiter) y_key_str(&b, "    ", "delimiter", k->delimiter, 0);
        if (k->role != quipu_cfg_role_default(k->name, k->format)) y_key_raw(&b, "    ", "role", quipu_cfg_role_name(k->role));
    }
    cfg_sb_puts(&b, "metrics:\n");
    if (c->metrics.all)
        y_key_raw(&b, "  ", "include", "all");
    else
        y_key_list(&b, "  ", "include", &c->metrics.names);
    y_key_raw(&b, "  ", "normalization", quipu_cfg_norm_name(c->metrics.normalization));
    y_key_int(&b, "  ", "bootstrap", (long long)c->metrics.bootstrap);
    y_key_num(&b, "  ", "confidence", c->metrics.confidence);
    cfg_sb_puts(&b, "scoring:\n");
    y_key_int(&b, "  ", "batch_tokens", (long long)c->scoring.batch_tokens);
    y_key_int(&b, "  ", "threads", (long long)c->scoring.threads);
    y_key_raw(&b, "  ", "prefix_sharing", c->scoring.prefix_sharing ? "true" : "false");
    cfg_sb_puts(&b, "distribution:\n");
    y_key_raw(&b, "  ", "sharding", quipu_cfg_sharding_name(c->distribution.sharding));
    /* a run started again (requeue, resubmission) continues from its journal; slurm/run.sh passes
       --resume too */
    y_key_raw(&b, "", "resume", "true");
    y_key_num(&b, "", "progress_interval", c->progress_interval);
    y_key_raw(&b, "", "item_text", c->item_text ? "true" : "false");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- files ---- */

static int file_equals(const char *path, const char *text) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = strlen(text), i = 0;
    int c, same = 1;
    while ((c = fgetc(f)) != EOF) {
        if (i >= n || (unsigned char)text[i] != (unsigned char)c) {
            same = 0;
            break;
        }
        i++;
    }
    fclose(f);
    return same && i == n;
}

static int newer_or_same(const struct stat *a, const struct stat *b) {
    if (a->st_mtim.tv_sec != b->st_mtim.tv_sec) return a->st_mtim.tv_sec > b->st_mtim.tv_sec;
    return a->st_mtim.tv_nsec >= b->st_mtim.tv_nsec;
}

/* A run is complete when `quipu run` wrote manifest.json (its last file, after every summary) for
 * the config the sweep would write now. */
static int run_done(const sweep_run *r) {
    char *man = quipu_asprintf("%s/manifest.json", r->out_dir);
    struct stat ms, cs;
    int done = man && stat(man, &ms) == 0 && S_ISREG(ms.st_mode) && stat(r->config_path, &cs) == 0 && newer_or_same(&ms, &cs) &&
               file_equals(r->config_path, r->config_text);
    free(man);
    return done;
}

static quipu_status write_text(const char *path, const char *text, quipu_error *err) {
    char *tmp = quipu_asprintf("%s.tmp", path);
    if (!tmp) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        quipu_status st = quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n;
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        quipu_status st = quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return QUIPU_OK;
}

quipu_status sweep_write_configs(quipu_sweep *s, quipu_error *err) {
    char *runs = quipu_asprintf("%s/runs", s->dir), *logs = quipu_asprintf("%s/logs", s->dir);
    char *list = quipu_asprintf("%s/runs.list", s->dir);
    sbuf lt = {0};
    quipu_status st = QUIPU_OK;
    if (!runs || !logs || !list) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    if (!st) st = quipu_mkdir_p(runs, err);
    if (!st) st = quipu_mkdir_p(logs, err);
    for (int i = 0; i < s->n_runs && !st; i++) {
        sweep_run *r = &s->runs[i];
        if (!file_equals(r->config_path, r->config_text)) st = write_text(r->config_path, r->config_text, err);
        if (st) break;
        /* read back: the file must say what the sweep says for this model */
        quipu_config *back = NULL;
        quipu_error_list errs;
        quipu_error_list_init(&errs);
        quipu_config_options o = {.skip_path_checks = 1};
        if (quipu_config_load_opts(&back, r->config_path, NULL, 0, &o, &errs)) {
            st = quipu_error_set(err, QUIPU_ERR_INTERNAL, "%s does not read back: %s", r->config_path,
                                 errs.n ? errs.msgs[0] : "unknown problem");
        } else {
            quipu_config one = *s->cfg;
            one.models = &s->cfg->models[i];
            one.n_models = 1;
            char *a = quipu_config_canonical(&one, 1), *b = quipu_config_canonical(back, 1);
            if (!a || !b) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            else if (strcmp(a, b) != 0)
                st = quipu_error_set(err, QUIPU_ERR_INTERNAL, "%s reads back with other settings than the sweep's for model '%s'",
                                     r->config_path, r->model->name);
            free(a);
            free(b);
        }
        quipu_config_free(back);
        quipu_error_list_free(&errs);
        cfg_sb_puts(&lt, r->config_path);
        cfg_sb_putc(&lt, '\n');
    }
    if (!st && lt.oom) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    if (!st && !file_equals(list, lt.p ? lt.p : "")) st = write_text(list, lt.p ? lt.p : "", err);
    free(lt.p);
    free(runs);
    free(logs);
    free(list);
    return st;
}

/* ---- load ---- */

quipu_status sweep_load(quipu_sweep *s, const char *path, const char *const *overrides, int n_overrides, int check_machine,
                        quipu_error_list *errs) {
    memset(s, 0, sizeof *s);
    s->path = path;
    s->overrides = overrides;
    s->n_overrides = n_overrides;
    s->baseline_index = -1;
    cfg_section sec = {.key = "sweep", .read = read_section, .ctx = s};
    quipu_config_options o = {.skip_path_checks = !check_machine};
    quipu_status st = cfg_load_with(&s->cfg, path, overrides, n_overrides, &o, &sec, errs);
    if (st) {
        sweep_free(s);
        return st;
    }
    s->dir = s->cfg->output;
    s->n_runs = s->cfg->n_models;
    s->runs = calloc((size_t)s->n_runs, sizeof *s->runs);
    if (!s->runs) goto oom;
    for (int i = 0; i < s->n_runs; i++) {
        sweep_run *r = &s->runs[i];
        r->model = &s->cfg->models[i];
        r->out_dir = quipu_asprintf("%s/runs/%s", s->dir, r->model->name);
        r->config_path = quipu_asprintf("%s/runs/%s.yaml", s->dir, r->model->name);
        if (!r->out_dir || !r->config_path || !(r->config_text = run_config_text(s, i, r->out_dir))) goto oom;
        r->done = run_done(r);
    }
    return QUIPU_OK;
oom:
    quipu_error_list_add(errs, "%s: out of memory while reading the sweep", path);
    sweep_free(s);
    return QUIPU_ERR_NOMEM;
}

void sweep_free(quipu_sweep *s) {
    if (!s) return;
    for (int i = 0; s->runs && i < s->n_runs; i++) {
        free(s->runs[i].config_path);
        free(s->runs[i].out_dir);
        free(s->runs[i].config_text);
    }
    free(s->runs);
    free(s->template_path);
    cfg_strlist_free(&s->sbatch);
    cfg_strlist_free(&s->report_sbatch);
    free(s->baseline);
    quipu_config_free(s->cfg);
    s->runs = NULL;
    s->template_path = NULL;
    s->baseline = NULL;
    s->cfg = NULL;
    s->n_runs = 0;
}
