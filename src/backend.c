/* backend.c — the backend registry: which backends this quipu was built with, what each
 * computes in (dtypes), whether its results are batch invariant, and their start. A config
 * naming a backend this build lacks, or a dtype it would not honour, is refused at config time
 * (quipu_backend_check); a backend missing an op the forward pass needs is refused at start
 * with the op's name, never called through a NULL pointer. */
#include "backend.h"

#include <stdio.h>
#include <string.h>

#ifdef QUIPU_WITH_GPU
quipu_status quipu_backend_gpu_init(quipu_backend **out, quipu_error *err);
int quipu_gpu_device_count(void);
#endif

typedef struct backend_entry {
    const char *name;
    const char *build_option; /* the CMake option that builds it */
    int built;
    const char *dtypes[4];    /* what it computes in; "auto" picks the first */
    int batch_invariant;
} backend_entry;

static const backend_entry registry[] = {
    {"cpu", NULL, 1, {"f32"}, 1},
#ifdef QUIPU_WITH_CUDA
    {"cuda", "-DQUIPU_CUDA=ON", 1, {"f32"}, 1},
#else
    {"cuda", "-DQUIPU_CUDA=ON", 0, {"f32"}, 1},
#endif
#ifdef QUIPU_WITH_HIP
    {"hip", "-DQUIPU_HIP=ON", 1, {"f32"}, 1},
#else
    {"hip", "-DQUIPU_HIP=ON", 0, {"f32"}, 1},
#endif
};
enum { N_BACKENDS = sizeof registry / sizeof *registry };

static const backend_entry *find(const char *name) {
    for (int i = 0; i < N_BACKENDS; i++)
        if (!strcmp(registry[i].name, name ? name : "cpu")) return &registry[i];
    return NULL;
}

int quipu_backend_built(const char *name) {
    const backend_entry *e = find(name);
    return e && e->built;
}

const char *quipu_backend_built_list(void) {
    static char buf[64];
    buf[0] = '\0';
    for (int i = 0; i < N_BACKENDS; i++)
        if (registry[i].built) {
            if (buf[0]) strcat(buf, ", ");
            strcat(buf, registry[i].name);
        }
    return buf;
}

const char *quipu_backend_dtype(const char *name, const char *dtype) {
    const backend_entry *e = find(name);
    if (!e) return NULL;
    if (!dtype || !strcmp(dtype, "auto")) return e->dtypes[0];
    for (int i = 0; i < 4 && e->dtypes[i]; i++)
        if (!strcmp(e->dtypes[i], dtype)) return e->dtypes[i];
    return NULL;
}

/* -1: unknown or not built; -2: dtype */
int quipu_backend_check(const char *name, const char *dtype, char *why, size_t why_len) {
    const backend_entry *e = find(name);
    if (!e) {
        snprintf(why, why_len, "unknown backend '%s' (expected cpu, cuda or hip)", name);
        return -1;
    }
    if (!e->built) {
        snprintf(why, why_len,
                 "this quipu was built without the %s backend (built: %s); rebuild with %s on a machine with its toolkit "
                 "(docs/install.md)",
                 e->name, quipu_backend_built_list(), e->build_option);
        return -1;
    }
    if (!quipu_backend_dtype(name, dtype)) {
        char list[64] = "";
        for (int i = 0; i < 4 && e->dtypes[i]; i++) {
            if (i) strcat(list, ", ");
            strcat(list, e->dtypes[i]);
        }
        snprintf(why, why_len, "the %s backend computes in %s only; dtype '%s' would not be honoured (use auto or %s)", e->name, list, dtype,
                 e->dtypes[0]);
        return -2;
    }
    return 0;
}

/* the ops quipu_model_forward calls */
static quipu_status check_ops(quipu_backend *b, quipu_error *err) {
    const quipu_backend_i *i = b->iface;
    struct {
        const char *name;
        int present;
    } ops[] = {{"buf_alloc", !!i->buf_alloc}, {"buf_free", !!i->buf_free}, {"buf_write", !!i->buf_write}, {"buf_read", !!i->buf_read},
               {"embed", !!i->embed},         {"add", !!i->add},           {"matmul", !!i->matmul},       {"norm", !!i->norm},
               {"rope", !!i->rope},           {"attention", !!i->attention}, {"act", !!i->act},          {"logprob", !!i->logprob},
               {"sync", !!i->sync}};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
        if (!ops[k].present)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "backend '%s': operation '%s' is unsupported on this backend", i->name,
                                   ops[k].name);
    return QUIPU_OK;
}

quipu_status quipu_backend_init(quipu_backend **out, const char *name, int n_threads, quipu_error *err) {
    *out = NULL;
    char why[512];
    if (quipu_backend_check(name ? name : "cpu", "auto", why, sizeof why))
        return quipu_error_set(err, find(name) ? QUIPU_ERR_UNSUPPORTED : QUIPU_ERR_INVALID, "%s", why);
    quipu_status st;
    if (!name || !strcmp(name, "cpu")) {
        st = quipu_backend_cpu_init(out, n_threads, err);
    } else {
#ifdef QUIPU_WITH_GPU
        st = quipu_backend_gpu_init(out, err);
#else
        st = quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "backend '%s' is not built into this quipu", name);
#endif
    }
    if (st) return st;
    if ((st = check_ops(*out, err))) {
        quipu_backend_free(*out);
        *out = NULL;
    }
    return st;
}

int quipu_backend_gpu_count(void) {
#ifdef QUIPU_WITH_GPU
    return quipu_gpu_device_count();
#else
    return 0;
#endif
}

void quipu_backend_free(quipu_backend *b) {
    if (b && b->iface && b->iface->free) b->iface->free(b);
}
