/* config_load.c — quipu_config_load: the file, the overrides, validation, and the errors handed
 * to the caller in file order; quipu_config_free. */
#define _POSIX_C_SOURCE 200809L
#include "config_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ================================================================== load */

void quipu_config_free(quipu_config *cfg) {
    if (!cfg) return;
    for (int i = 0; i < cfg->n_models; i++) {
        quipu_config_model *m = &cfg->models[i];
        free(m->name);
        free(m->path);
        free(m->where);
        for (int k = 0; m->adapter_ids && k < m->adapters.n; k++) free(m->adapter_ids[k]);
        free(m->adapter_ids);
        cfg_strlist_free(&m->adapters);
    }
    free(cfg->models);
    for (int i = 0; i < cfg->n_benchmarks; i++) {
        quipu_config_benchmark *b = &cfg->benchmarks[i];
        free(b->name);
        free(b->label);
        free(b->path);
        cfg_strlist_free(&b->categories);
        cfg_strlist_free(&b->languages);
        cfg_strlist_free(&b->cultures);
        free(b->prompt);
        free(b->delimiter);
        free(b->where);
        cfg_assoc_templates_free(b);
        cfg_prompt_variants_free(b);
    }
    free(cfg->benchmarks);
    cfg_strlist_free(&cfg->metrics.names);
    cfg_expected_free(cfg);
    free(cfg->source);
    free(cfg->name);
    free(cfg->output);
    free(cfg->datasets_dir);
    free(cfg);
}

static int read_whole(const char *path, unsigned char **buf, size_t *len, int *err) {
    FILE *f = fopen(path, "rb");
    *buf = NULL;
    *len = 0;
    if (!f) {
        *err = errno;
        return -1;
    }
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        unsigned char *nb = cap > ((size_t)1 << 26) ? NULL : realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            errno = EFBIG;
            break;
        }
        b = nb;
        cap *= 2;
    }
    int rerr = b ? ferror(f) : 1;
    *err = b && !rerr ? 0 : (errno ? errno : EIO);
    fclose(f);
    if (rerr) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

quipu_status cfg_load_with(quipu_config **out, const char *path, const char *const *overrides, int n_overrides,
                           const quipu_config_options *opts, const cfg_section *extra, quipu_error_list *errs) {
    *out = NULL;
    loader L = {.file = path, .node_budget = 1000000};
    L.known_bench = opts && opts->known_benchmarks ? opts->known_benchmarks : quipu_config_builtin_benchmarks;
    L.known_metrics = opts && opts->known_metrics ? opts->known_metrics : quipu_config_builtin_metrics;
    L.skip_paths = opts ? opts->skip_path_checks : 0;
    L.expected_only = opts ? opts->expected_only : 0;
    quipu_config *cfg = NULL;
    cnode *root = NULL, *section = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;

    if (n_overrides < 0) n_overrides = 0;
    L.set_keys = calloc((size_t)n_overrides + 1, sizeof *L.set_keys);
    if (!L.set_keys) {
        L.oom = 1;
        goto done;
    }
    L.n_sets = n_overrides;
    for (int i = 0; i < n_overrides; i++) {
        const char *t = overrides[i] ? overrides[i] : "";
        const char *eq = strchr(t, '=');
        size_t kl = eq ? (size_t)(eq - t) : strlen(t);
        while (kl && (t[kl - 1] == ' ' || t[kl - 1] == '\t')) kl--;
        while (kl && (*t == ' ' || *t == '\t')) t++, kl--;
        if (!kl) kl = strlen(t); /* "=3": name the override by its whole text */
        if (!(L.set_keys[i] = strndup(t, kl))) {
            L.oom = 1;
            goto done;
        }
    }

    int rerr = 0;
    quipu_error ce = {0};
    struct stat sb;
    /* a FIFO must not hang the load, a device must not fill memory (a missing file: read_whole says so) */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && quipu_check_regular_file(path, &ce)) {
        size_t pl = strlen(path);
        const char *why = !strncmp(ce.msg, path, pl) && ce.msg[pl] == ':' ? ce.msg + pl + 1 : ce.msg;
        while (*why == ' ') why++;
        cfg_err_plain(&L, "cannot read the config: %s", why);
        L.io_failed = 1;
        goto done;
    }
    if (read_whole(path, &buf, &len, &rerr)) {
        cfg_err_plain(&L, "cannot read the config: %s", strerror(rerr));
        L.io_failed = 1;
        goto done;
    }
    if (cfg_yaml_to_tree(&L, buf, len, -1, &root)) goto done;
    if (root && root->kind != CN_MAP) {
        cfg_type_err(&L, root, "the config", "a mapping of keys (models, benchmarks, ...)");
        goto done;
    }
    if (!root && !(root = cfg_node_new(CN_MAP, -1, 1, 1))) {
        L.oom = 1;
        goto done;
    }
    cfg_normalize(&L, root);
    for (int i = 0; i < n_overrides; i++) cfg_apply_override(&L, &root, i, overrides[i] ? overrides[i] : "");
    cfg_normalize(&L, root);
    if (L.oom) goto done;
    if (extra) { /* the section is taken out of the tree: the config's schema does not know it */
        for (int i = 0; i + 1 < root->n; i += 2)
            if (!strcmp(root->kid[i]->text, extra->key)) {
                section = root->kid[i + 1];
                cfg_node_free(root->kid[i]);
                memmove(&root->kid[i], &root->kid[i + 2], (size_t)(root->n - i - 2) * sizeof *root->kid);
                root->n -= 2;
                break;
            }
    }

    cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->source = strdup(path))) {
        L.oom = 1;
        goto done;
    }
    cfg_validate(&L, root, cfg, path);
    if (extra && !L.oom) extra->read(&L, root, section, cfg, extra->ctx);

done:;
    quipu_status st = QUIPU_OK;
    if (L.oom) {
        st = QUIPU_ERR_NOMEM;
        quipu_error_list_add(errs, "%s: out of memory while reading the config", path);
    } else if (L.n_errs) {
        st = L.io_failed ? QUIPU_ERR_IO : L.yaml_failed ? QUIPU_ERR_FORMAT : QUIPU_ERR_INVALID;
    }
    if (L.n_errs) qsort(L.errs, (size_t)L.n_errs, sizeof *L.errs, cfg_errent_cmp);
    for (int i = 0; i < L.n_errs; i++) {
        if (cfg_errlist_push(errs, L.errs[i].msg)) free(L.errs[i].msg);
    }
    free(L.errs);
    for (int i = 0; i < L.n_sets; i++) free(L.set_keys[i]);
    free(L.set_keys);
    cfg_node_free(root);
    cfg_node_free(section);
    free(buf);
    if (st != QUIPU_OK) {
        quipu_config_free(cfg);
        return st;
    }
    *out = cfg;
    return QUIPU_OK;
}

quipu_status quipu_config_load_opts(quipu_config **out, const char *path, const char *const *overrides, int n_overrides,
                                    const quipu_config_options *opts, quipu_error_list *errs) {
    return cfg_load_with(out, path, overrides, n_overrides, opts, NULL, errs);
}

quipu_status quipu_config_load(quipu_config **out, const char *path, const char *const *overrides, int n_overrides,
                               const char *const *known_benchmarks, quipu_error_list *errs) {
    quipu_config_options o = {.known_benchmarks = known_benchmarks};
    return quipu_config_load_opts(out, path, overrides, n_overrides, &o, errs);
}
