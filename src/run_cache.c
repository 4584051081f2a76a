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

/* A chunk between run_cache_begin and run_cache_end: which of its groups run (the scoring job,
 * over `todo`, into `got`), and where every group's results come from. */
struct run_cache_job {
    run_cache *c;
    quipu_score_job *job;     /* NULL when nothing runs (every group a repeat) */
    quipu_score_result *res;  /* the caller's, flattened in group order */
    quipu_score_result *got;  /* the job's results, for the groups that run */
    size_t n, n_res;
    int *n_cont;              /* per group */
    long *from;               /* per group: -1 runs (its values at vals[at[g]]), <= -2 the group -2 - from of this chunk, else vals[from] */
    long *at;
    size_t *first, *run_at;   /* per group: its first result in res, in got */
};

void run_cache_job_free(run_cache_job *j) {
    if (!j) return;
    quipu_score_job_free(j->job);
    for (size_t k = 0; k < j->n_res && j->got; k++) quipu_score_result_free(&j->got[k]);
    free(j->got);
    free(j->n_cont);
    free(j->from);
    free(j->at);
    free(j->first);
    free(j->run_at);
    free(j);
}

quipu_score_job *run_cache_job_scoring(run_cache_job *j) { return j ? j->job : NULL; }

/* With a cache, a group's key is remembered here, before its results exist (at[g] reserves its
 * values, filled by run_cache_end): the next chunk, begun while this one's last batch runs,
 * finds it as it would have after this chunk's end. */
quipu_status run_cache_begin(run_cache_job **out, run_cache *c, quipu_model *m, const quipu_scorer_opts *so, const quipu_score_group *groups,
                             size_t n, quipu_score_result *res, quipu_error *err) {
    *out = NULL;
    run_cache_job *j = calloc(1, sizeof *j);
    if (!j) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    j->c = c;
    j->res = res;
    j->n = n;
    if (!c) { /* everything runs, straight into res */
        quipu_status st = quipu_score_job_new(&j->job, m, so, groups, n, res, err);
        if (st) {
            free(j);
            return st;
        }
        *out = j;
        return QUIPU_OK;
    }
    size_t n_res = 0;
    for (size_t g = 0; g < n; g++) n_res += (size_t)groups[g].n_cont;
    j->n_res = n_res;
    size_t nn = n ? n : 1;
    j->n_cont = malloc(nn * sizeof *j->n_cont);
    j->from = malloc(nn * sizeof *j->from);
    j->at = malloc(nn * sizeof *j->at);
    j->first = malloc(nn * sizeof *j->first);
    j->run_at = malloc(nn * sizeof *j->run_at);
    quipu_score_group *todo = malloc(nn * sizeof *todo);
    j->got = calloc(n_res ? n_res : 1, sizeof *j->got);
    char **keys = calloc(nn, sizeof *keys);
    quipu_status st = j->n_cont && j->from && j->at && j->first && j->run_at && todo && j->got && keys
                          ? QUIPU_OK
                          : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    size_t n_todo = 0, r = 0, r_todo = 0;
    /* a repeat within this chunk points at its first occurrence */
    quipu_strmap here = {0};
    for (size_t g = 0; g < n && !st; g++) {
        j->n_cont[g] = groups[g].n_cont;
        j->first[g] = r;
        r += (size_t)groups[g].n_cont;
        j->from[g] = -1;
        keys[g] = group_key(&groups[g]);
        long old = 0;
        if (keys[g] && quipu_strmap_get(&c->keys, keys[g], &old)) {
            j->from[g] = old; /* scored before, or being scored in the chunk before */
            continue;
        }
        if (keys[g]) {
            int a = quipu_strmap_add(&here, keys[g], (long)g, &old);
            if (a < 0) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            if (a == 0) {
                j->from[g] = -2 - old; /* the group `old` of this chunk */
                continue;
            }
        }
        j->run_at[g] = r_todo;
        todo[n_todo++] = groups[g];
        r_todo += (size_t)groups[g].n_cont;
    }
    quipu_strmap_free(&here);
    /* the values of the groups that run, reserved in run order; their keys remembered */
    if (!st && c->n_vals + r_todo > c->cap_vals) {
        size_t cap = c->cap_vals ? c->cap_vals : 1024;
        while (cap < c->n_vals + r_todo) cap *= 2;
        cached *nv = realloc(c->vals, cap * sizeof *nv);
        if (nv) c->vals = nv, c->cap_vals = cap;
        else st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    for (size_t g = 0; g < n && !st; g++) {
        if (j->from[g] == -1) {
            j->at[g] = (long)c->n_vals;
            for (int k = 0; k < groups[g].n_cont; k++) c->vals[c->n_vals++] = (cached){0};
            if (keys[g] && c->key_bytes < RUN_CACHE_MAX_BYTES) {
                if (quipu_strmap_add(&c->keys, keys[g], j->at[g], NULL) < 0) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
                c->key_bytes += strlen(keys[g]) + 1;
            }
        } else {
            c->repeats++;
        }
        c->requests++;
    }
    if (!st && n_todo) st = quipu_score_job_new(&j->job, m, so, todo, n_todo, j->got, err);
    for (size_t g = 0; g < n && keys; g++) free(keys[g]);
    free(keys);
    free(todo);
    if (st) {
        run_cache_job_free(j);
        return st;
    }
    *out = j;
    return QUIPU_OK;
}

quipu_status run_cache_end(run_cache_job *j, quipu_error *err) {
    quipu_status st = j->job ? quipu_score_job_finish(j->job, err) : QUIPU_OK;
    if (st || !j->c) return st;
    run_cache *c = j->c;
    quipu_score_result *res = j->res;
    for (size_t g = 0; g < j->n; g++) {
        quipu_score_result *dst = res + j->first[g];
        int nc = j->n_cont[g];
        if (j->from[g] == -1) {
            memcpy(dst, j->got + j->run_at[g], (size_t)nc * sizeof *dst);
            memset(j->got + j->run_at[g], 0, (size_t)nc * sizeof *j->got); /* res owns them now */
            for (int k = 0; k < nc; k++) c->vals[j->at[g] + k] = (cached){dst[k].logprob, dst[k].n_tokens, dst[k].is_greedy};
        } else {
            const quipu_score_result *src = NULL;
            if (j->from[g] <= -2) src = res + j->first[-2 - j->from[g]]; /* an earlier group of this chunk, already filled */
            for (int k = 0; k < nc; k++) {
                memset(&dst[k], 0, sizeof dst[k]);
                if (src) {
                    dst[k].logprob = src[k].logprob, dst[k].n_tokens = src[k].n_tokens, dst[k].is_greedy = src[k].is_greedy;
                } else {
                    const cached *v = &c->vals[j->from[g] + k];
                    dst[k].logprob = v->logprob, dst[k].n_tokens = v->n_tokens, dst[k].is_greedy = v->is_greedy;
                }
            }
        }
    }
    return QUIPU_OK;
}

quipu_status run_cache_score(run_cache *c, quipu_model *m, const quipu_scorer_opts *so, const quipu_score_group *groups, size_t n,
                             quipu_score_result *res, quipu_error *err) {
    run_cache_job *j = NULL;
    quipu_status st = run_cache_begin(&j, c, m, so, groups, n, res, err);
    if (!st) st = run_cache_end(j, err);
    run_cache_job_free(j);
    return st;
}
