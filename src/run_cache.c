/* run_cache.c — a request scored once per model and rank: a group (a context and its
 * continuations) that this rank has already scored for this model, or that comes twice in one
 * chunk, takes the first one's results instead of running again. Association benchmarks repeat
 * requests across items (SeeGULL: the neutral prompt with an attribute serves every tuple of that
 * attribute; a contrast identity with an attribute serves every stereotyped identity it is
 * compared with). The scorer's results never depend on the batch (score.h), so a repeat gets the
 * bits it would have got; only the work is saved. Off with `prefix_sharing: false`, the
 * comparison mode that also runs every shared prompt once per continuation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

/* what a repeat needs of a result (run.c reads these three) */
typedef struct cached {
    double logprob;
    int32_t n_tokens;
    int is_greedy;
} cached;

struct run_cache {
    quipu_strmap keys;   /* a group's text -> its first result in vals */
    cached *vals;
    size_t n_vals, cap_vals;
    size_t key_bytes;    /* stop remembering past RUN_CACHE_MAX_BYTES of keys */
    int64_t requests, repeats;
};

#define RUN_CACHE_MAX_BYTES ((size_t)512 << 20)

run_cache *run_cache_new(void) { return calloc(1, sizeof(run_cache)); }

void run_cache_free(run_cache *c) {
    if (!c) return;
    quipu_strmap_free(&c->keys);
    free(c->vals);
    free(c);
}

void run_cache_stats(const run_cache *c, int64_t *requests, int64_t *repeats) {
    *requests = c ? c->requests : 0;
    *repeats = c ? c->repeats : 0;
}

/* the group's text, unambiguous: every string with its length in front; NULL when out of memory */
static char *group_key(const quipu_score_group *g) {
    size_t n = 24 + g->context_len;
    for (int k = 0; k < g->n_cont; k++) n += 24 + g->continuation_lens[k];
    char *s = malloc(n), *p = s;
    if (!s) return NULL;
    p += sprintf(p, "%c%zu:", g->is_pair ? 'P' : 'G', g->context_len); /* a masked LM scores a pair its own way */
    memcpy(p, g->context, g->context_len), p += g->context_len;
    for (int k = 0; k < g->n_cont; k++) {
        p += sprintf(p, "|%zu:", g->continuation_lens[k]);
        memcpy(p, g->continuations[k], g->continuation_lens[k]), p += g->continuation_lens[k];
    }
    *p = '\0';
    /* a NUL inside a text would cut the key short and merge different requests: never cache those */
    if (strlen(s) != (size_t)(p - s)) {
        free(s);
        return NULL;
    }
    return s;
}

quipu_status run_cache_score(run_cache *c, quipu_model *m, const quipu_scorer_opts *so, const quipu_score_group *groups, size_t n,
                             quipu_score_result *res, quipu_error *err) {
    if (!c) return quipu_score_groups(m, so, groups, n, res, err);
    size_t n_res = 0;
    for (size_t g = 0; g < n; g++) n_res += (size_t)groups[g].n_cont;
    /* per group: -1 to score, else the cache entry it repeats; first: where its results start */
    long *from = malloc((n ? n : 1) * sizeof *from);
    size_t *first = malloc((n ? n : 1) * sizeof *first), *run_at = malloc((n ? n : 1) * sizeof *run_at);
    quipu_score_group *todo = malloc((n ? n : 1) * sizeof *todo);
    quipu_score_result *got = calloc(n_res ? n_res : 1, sizeof *got);
    char **keys = calloc(n ? n : 1, sizeof *keys);
    quipu_status st = from && first && run_at && todo && got && keys ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    size_t n_todo = 0, r = 0, r_todo = 0;
    /* a repeat within this call points at its first occurrence: entries [n_vals, n_vals + n_todo) */
    quipu_strmap here = {0};
    for (size_t g = 0; g < n && !st; g++) {
        first[g] = r;
        r += (size_t)groups[g].n_cont;
        from[g] = -1;
        keys[g] = group_key(&groups[g]);
        long old = 0;
        if (keys[g] && quipu_strmap_get(&c->keys, keys[g], &old)) {
            from[g] = old; /* scored before */
            continue;
        }
        if (keys[g]) {
            int a = quipu_strmap_add(&here, keys[g], (long)g, &old);
            if (a < 0) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            if (a == 0) {
                from[g] = -2 - old; /* the group `old` of this call */
                continue;
            }
        }
        run_at[g] = r_todo;
        todo[n_todo++] = groups[g];
        r_todo += (size_t)groups[g].n_cont;
    }
    quipu_strmap_free(&here);
    if (!st && n_todo) st = quipu_score_groups(m, so, todo, n_todo, got, err);
    /* remember what was scored */
    if (!st && c->n_vals + r_todo > c->cap_vals) {
        size_t cap = c->cap_vals ? c->cap_vals : 1024;
        while (cap < c->n_vals + r_todo) cap *= 2;
        cached *nv = realloc(c->vals, cap * sizeof *nv);
        if (nv) c->vals = nv, c->cap_vals = cap;
        else st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    for (size_t g = 0; g < n && !st; g++) {
        quipu_score_result *dst = res + first[g];
        int nc = groups[g].n_cont;
        if (from[g] == -1) {
            memcpy(dst, got + run_at[g], (size_t)nc * sizeof *dst);
            memset(got + run_at[g], 0, (size_t)nc * sizeof *got); /* res owns them now */
            long at = (long)c->n_vals;
            for (int k = 0; k < nc; k++) c->vals[c->n_vals++] = (cached){dst[k].logprob, dst[k].n_tokens, dst[k].is_greedy};
            if (keys[g] && c->key_bytes < RUN_CACHE_MAX_BYTES) {
                if (quipu_strmap_add(&c->keys, keys[g], at, NULL) < 0) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
                c->key_bytes += strlen(keys[g]) + 1;
            }
        } else {
            const quipu_score_result *src = NULL;
            if (from[g] <= -2) src = res + first[-2 - from[g]]; /* an earlier group of this call, already filled */
            for (int k = 0; k < nc; k++) {
                memset(&dst[k], 0, sizeof dst[k]);
                if (src) {
                    dst[k].logprob = src[k].logprob, dst[k].n_tokens = src[k].n_tokens, dst[k].is_greedy = src[k].is_greedy;
                } else {
                    const cached *v = &c->vals[from[g] + k];
                    dst[k].logprob = v->logprob, dst[k].n_tokens = v->n_tokens, dst[k].is_greedy = v->is_greedy;
                }
            }
            c->repeats++;
        }
        c->requests++;
    }
    for (size_t k = 0; k < n_res && got; k++) quipu_score_result_free(&got[k]);
    for (size_t g = 0; g < n && keys; g++) free(keys[g]);
    free(keys);
    free(got);
    free(todo);
    free(run_at);
    free(first);
    free(from);
    return st;
}
