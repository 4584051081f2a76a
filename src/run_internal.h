/* run_internal.h — what run.c (the phases of `quipu run`), prompts.c (items to prompts) and
 * run_write.c (the results files) share. */
#ifndef QUIPU_RUN_INTERNAL_H
#define QUIPU_RUN_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "comm.h"
#include "config.h"
#include "data/loaders.h"
#include "item.h"
#include "metrics.h"
#include "plot.h"
#include "score.h"

/* What one item becomes for scoring: a prompt and its continuations (pairs: empty prompt, the
 * two sentences). map[j] is the record index of continuation j. Association items have a prompt
 * per continuation: prompts[j] (then `prompt` is ""), each scored as its own group. */
typedef struct run_unit {
    quipu_item *item;
    char *prompt;
    char *prompts[QUIPU_MAX_CHOICES]; /* NULL unless the item has a prompt per choice */
    int n_cont;
    char *cont[QUIPU_MAX_CHOICES];
    size_t cont_len[QUIPU_MAX_CHOICES];
    int map[QUIPU_MAX_CHOICES];
    int n_record;      /* choices in the record */
    size_t delim_len;  /* bytes of the delimiter each continuation starts with */
    int64_t cost;      /* bytes to score, for load balancing */
    char digest[17];   /* what is scored (prompt, continuations, record map): part of the journal key */
} run_unit;

/* Builds the prompt and continuations of an item under its benchmark's template (prompts.c). */
quipu_status run_build_unit(run_unit *u, quipu_item *it, const quipu_config_benchmark *cb, quipu_error *err);
void run_unit_free(run_unit *u);
/* The scorer's groups of a unit into out (room for u->n_cont), in continuation order: one group
 * (the prompt and every continuation), or one per continuation when it has its own prompt.
 * Returns how many. */
size_t run_unit_groups(const run_unit *u, quipu_score_group *out);

/* Requests scored once per model and rank (run_cache.c): run_cache_score scores groups as
 * quipu_score_groups does (results flattened in group order), except that a group identical to
 * one scored before with this cache, or earlier in the same call, takes that one's logprob,
 * n_tokens and is_greedy (no per-token arrays) instead of running again. A NULL cache scores
 * everything. One cache per model: results differ between models. */
typedef struct run_cache run_cache;
run_cache *run_cache_new(void);
void run_cache_free(run_cache *c);
quipu_status run_cache_score(run_cache *c, quipu_model *m, const quipu_scorer_opts *so, const quipu_score_group *groups, size_t n,
                             quipu_score_result *res, quipu_error *err);
void run_cache_stats(const run_cache *c, int64_t *requests, int64_t *repeats);
/* The same in two halves around the scoring job's steps, so the next chunk is tokenized, packed
 * and begun while this one's last batch runs (run.c): run_cache_begin looks the groups up and
 * makes the job of those that run (run_cache_job_scoring: step it; NULL when every group is a
 * repeat); run_cache_end finishes it and fills res. Chunks end in the order they began. Free
 * with run_cache_job_free (which waits for a batch of its job still in flight); res is the
 * caller's once run_cache_end has succeeded. */
typedef struct run_cache_job run_cache_job;
quipu_status run_cache_begin(run_cache_job **out, run_cache *c, quipu_model *m, const quipu_scorer_opts *so, const quipu_score_group *groups,
                             size_t n, quipu_score_result *res, quipu_error *err);
quipu_score_job *run_cache_job_scoring(run_cache_job *j);
quipu_status run_cache_end(run_cache_job *j, quipu_error *err);
void run_cache_job_free(run_cache_job *j);

typedef struct run_state {
    quipu_comm comm;
    quipu_config *cfg;
    char hash[65];
    char **labels;            /* per config benchmark */
    char **model_keys;        /* per model: "name|fingerprint|backend/dtype/max_length", the journal key's start */
    quipu_load_report *reports;
    size_t *bench_first, *bench_count;
    quipu_item *items;        /* all benchmarks, concatenated */
    size_t n_items;
    run_unit *units;
    /* per model: records of every item (rank 0 after the gather), done flags */
    quipu_item_record **records;
    uint8_t **have;
    int64_t resumed, scored, tokens_processed;
    /* this rank's new records, serialised for the gather: [u32 key length][key][record] */
    char *local;
    size_t local_len, local_cap;
    double t_start, t_load, t_score, t_gather, t_metrics, t_write;
    char *started;
    /* progress of the model being scored; rank 0 holds every rank's latest count */
    struct {
        int model;
        int64_t total;            /* items to score for this model, all ranks together */
        int64_t work_total;       /* their bytes of text: the ETA follows the work left, not items */
        int64_t *done;            /* per rank */
        int64_t *work, *tokens;   /* per rank: bytes and tokens scored so far */
        int64_t my_work;          /* this rank's bytes scored so far */
        int tty;                  /* rank 0's stderr is a terminal (and not a Slurm log): a bar */
        uint8_t *final;           /* per rank: its last message for this model has come */
        double t0, last;
    } pg;
    /* The loaded base of the model being scored, kept for the next one when it has the same path,
     * backend and dtype (variants of one base differing by their adapters: loaded once); the
     * order models are scored in puts such entries next to each other (run.c, model_order). */
    struct {
        char *key;
        quipu_backend *b;
        quipu_model *m;
    } base;
    /* the tensor-parallel groups of the model being scored (tp 1: every rank its own group); the
     * base's backend points at it, so it changes only after base_drop */
    quipu_comm_group tpg;
    int tpg_size;             /* the tp it was made for, 0 before the first model */
    int *model_order;
    /* per rank (rank 0, from the final progress messages), summed over models */
    int64_t *rank_items, *rank_tokens;
    double *rank_load, *rank_score;
} run_state;

static inline int leader(const run_state *s) { return s->comm.rank == 0; }

/* An error of `quipu run`, in the one style every command uses: "quipu run: problem", with the
 * rank when there are several ("quipu[3] run: problem"). */
static inline void run_error(const run_state *s, const char *msg) {
    if (s->comm.size > 1) fprintf(stderr, "quipu[%d] run: %s\n", s->comm.rank, msg);
    else fprintf(stderr, "quipu run: %s\n", msg);
}

static inline const char *backend_name(quipu_cfg_backend b) {
    return b == QUIPU_CFG_BACKEND_CPU ? "cpu" : b == QUIPU_CFG_BACKEND_CUDA ? "cuda" : "hip";
}

/* rank 0: the results files and the manifest (run_write.c) */
quipu_status run_write_results(run_state *s, quipu_error *err);
quipu_status run_write_manifest(run_state *s, quipu_error *err);

#endif
