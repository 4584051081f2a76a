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
} quipu_scorer_opts;

/* Encodes one item into context and continuation token ids (heap, caller frees). */
quipu_status quipu_score_encode(const quipu_model *m, const quipu_score_item *it, int32_t **ctx, size_t *n_ctx, int32_t **cont,
                                size_t *n_cont, quipu_error *err);

/* Scores n items; results[i] belongs to items[i]. */
quipu_status quipu_score_items(quipu_model *m, const quipu_scorer_opts *opts, const quipu_score_item *items, size_t n,
                               quipu_score_result *results, quipu_error *err);
void quipu_score_result_free(quipu_score_result *r);

#endif
