/* score.h — log-likelihood scoring with lm-evaluation-harness's conventions:
 * the context's trailing whitespace moves to the continuation; context+continuation is encoded
 * whole and split at the context's token length; an empty context becomes one prefix token
 * (BOS, else EOS). Items are packed back to back into batches under a token budget; an item's
 * numbers never depend on the batch it lands in. */
#ifndef QUIPU_SCORE_H
#define QUIPU_SCORE_H

#include "model.h"

typedef struct quipu_score_item {
    const char *context;
    size_t context_len;
    const char *continuation;
    size_t continuation_len;
} quipu_score_item;

typedef struct quipu_score_result {
    double logprob;          /* sum over continuation tokens */
    int32_t n_tokens;        /* continuation tokens scored */
    int32_t n_context;       /* context tokens (after truncation) */
    int is_greedy;
    double *token_logprobs;  /* [n_tokens], heap; free with quipu_score_result_free */
    int32_t *tokens;         /* [n_context + n_tokens] the scored sequence, heap */
} quipu_score_result;

typedef struct quipu_scorer_opts {
    int64_t batch_tokens;    /* token budget per forward pass (default 2048) */
    int64_t max_length;      /* truncate from the left beyond this (default: model context) */
    int no_prefix_sharing;   /* 1: run a group's prompt once per continuation (for comparisons) */
    int64_t *tokens_processed; /* optional out: tokens run through the model */
} quipu_scorer_opts;

/* One context with n_cont continuations (a multiple-choice item): the context is encoded once
 * and its tokens run once, every continuation attending to them (a prefix tree), unless the
 * sequences would need truncation, then each pair runs whole. Results are bit-identical to
 * scoring each (context, continuation) pair on its own. */
typedef struct quipu_score_group {
    const char *context;
    size_t context_len;
    int n_cont;
    const char *const *continuations;
    const size_t *continuation_lens;
    int is_pair;             /* a minimal pair (CrowS-Pairs and kin: empty context, two sentences): on a
                              * masked LM, scored by the CrowS-Pairs metric (score_mlm.c); a causal LM
                              * scores it as any group */
} quipu_score_group;

/* Encodes one item into context and continuation token ids (heap, caller frees). */
quipu_status quipu_score_encode(const quipu_model *m, const quipu_score_item *it, int32_t **ctx, size_t *n_ctx, int32_t **cont,
                                size_t *n_cont, quipu_error *err);

/* Scores n groups; results are flattened: group g's continuation c is at
 * results[sum_{h<g} n_cont_h + c]. */
quipu_status quipu_score_groups(quipu_model *m, const quipu_scorer_opts *opts, const quipu_score_group *groups, size_t n,
                                quipu_score_result *results, quipu_error *err);

/* Scoring in steps, so that the host's work overlaps the device's (docs/gpu.md).
 * quipu_score_job_new encodes (tokenizes) the groups, reserves the forward state and packs the
 * first batch: host work only, which may run while another job's last batch is on the device.
 * quipu_score_job_step begins the next batch, ends the one before it (its results written) and
 * packs the following one while this one runs: after the last step, the last batch is still in
 * flight. quipu_score_job_finish ends it and sums the results (results as quipu_score_groups
 * gives them). The results belong to the job until finish succeeds: quipu_score_job_free frees
 * them otherwise, and waits for any batch of the job still in flight. Jobs on one model step in
 * order: a job's first step may come before the previous job's finish, nothing else may
 * interleave. QUIPU_GPU_OVERLAP=0 ends every batch as soon as it is begun (the same results). A
 * masked LM's job is scored whole by new (score_mlm.c, whose loop overlaps the same way). */
typedef struct quipu_score_job quipu_score_job;
quipu_status quipu_score_job_new(quipu_score_job **out, quipu_model *m, const quipu_scorer_opts *opts, const quipu_score_group *groups,
                                 size_t n, quipu_score_result *results, quipu_error *err);
/* 1 while the job has batches to begin */
int quipu_score_job_more(const quipu_score_job *j);
quipu_status quipu_score_job_step(quipu_score_job *j, quipu_error *err);
quipu_status quipu_score_job_finish(quipu_score_job *j, quipu_error *err);
void quipu_score_job_free(quipu_score_job *j);
/* 0 when QUIPU_GPU_OVERLAP=0 asks for the plain loop: every batch ended before the host goes on */
int quipu_score_overlap(void);

/* Scores n items; results[i] belongs to items[i]. */
quipu_status quipu_score_items(quipu_model *m, const quipu_scorer_opts *opts, const quipu_score_item *items, size_t n,
                               quipu_score_result *results, quipu_error *err);
void quipu_score_result_free(quipu_score_result *r);

/* score_mlm.c: quipu_score_groups on a masked LM (pseudo-log-likelihood; see that file). A
 * result's n_tokens are the positions masked, token_logprobs their log-probs in position order,
 * tokens the unmasked ids in order then the masked ones (n_context = the unmasked count). */
quipu_status quipu_score_mlm_groups(quipu_model *m, const quipu_scorer_opts *opts, const quipu_score_group *groups, size_t n,
                                    quipu_score_result *results, quipu_error *err);

/* difflib.SequenceMatcher(None, a, b).get_matching_blocks() (Python's algorithm, autojunk
 * included: with nb >= 200, ids occurring more than nb / 100 + 1 times in b are left out of the
 * index and join matches only by extension): the blocks in order, then the (na, nb, 0)
 * sentinel. *out is heap, caller frees. */
typedef struct quipu_match_block {
    int64_t a, b, size;
} quipu_match_block;
quipu_status quipu_align_blocks(const int32_t *a, size_t na, const int32_t *b, size_t nb, quipu_match_block **out, size_t *n_out,
                                quipu_error *err);

#endif
