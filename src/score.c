/* score.c — lm-evaluation-harness-compatible log-likelihoods over packed batches. */
#include "score.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int is_space_byte(char ch) {
    /* Python str.rstrip() whitespace within ASCII; non-ASCII spaces stay (rare in practice) */
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f' || (ch >= 0x1c && ch <= 0x1f);
}

quipu_status quipu_score_encode(const quipu_model *m, const quipu_score_item *it, int32_t **ctx, size_t *n_ctx, int32_t **cont,
                                size_t *n_cont, quipu_error *err) {
    quipu_tokenizer_info ti;
    quipu_tokenizer_get_info(m->tok, &ti);
    int add = ti.add_bos; /* lm-eval encodes with add_special_tokens = add_bos_token */
    *ctx = *cont = NULL;
    *n_ctx = *n_cont = 0;
    if (it->context_len == 0) {
        int32_t prefix = ti.bos_id >= 0 ? ti.bos_id : ti.eos_id;
        if (prefix < 0)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: empty context but the tokenizer has neither BOS nor EOS to use as prefix", m->path);
        *ctx = malloc(sizeof(int32_t));
        if (!*ctx) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        (*ctx)[0] = prefix;
        *n_ctx = 1;
        if (quipu_tokenizer_encode(m->tok, it->continuation, it->continuation_len, 0, cont, n_cont, err)) {
            free(*ctx);
            *ctx = NULL;
            return err->code;
        }
        return QUIPU_OK;
    }
    size_t cl = it->context_len;
    while (cl > 0 && is_space_byte(it->context[cl - 1])) cl--;
    size_t wl = it->context_len + it->continuation_len;
    char *whole = malloc(wl + 1);
    if (!whole) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    memcpy(whole, it->context, it->context_len);
    memcpy(whole + it->context_len, it->continuation, it->continuation_len);
    whole[wl] = '\0';
    int32_t *wids = NULL, *cids = NULL;
    size_t nw = 0, nc = 0;
    quipu_status st = quipu_tokenizer_encode(m->tok, whole, wl, add, &wids, &nw, err);
    if (!st) st = quipu_tokenizer_encode(m->tok, it->context, cl, add, &cids, &nc, err);
    free(whole);
    if (st) {
        free(wids);
        free(cids);
        return st;
    }
    size_t split = nc > nw ? nw : nc;
    *cont = malloc((nw - split + 1) * sizeof(int32_t));
    if (!*cont) {
        free(wids);
        free(cids);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    memcpy(*cont, wids + split, (nw - split) * sizeof(int32_t));
    *n_cont = nw - split;
    free(wids);
    /* as lm-eval: the model sees the separately encoded context, then the whole encoding's tail */
    *ctx = cids;
    *n_ctx = nc;
    return QUIPU_OK;
}

void quipu_score_result_free(quipu_score_result *r) {
    if (!r) return;
    free(r->token_logprobs);
    free(r->tokens);
    r->token_logprobs = NULL;
    r->tokens = NULL;
}

typedef struct enc_item {
    int32_t *seq;     /* context + continuation, truncated from the left */
    int64_t len;      /* tokens in seq */
    int64_t n_cont;
} enc_item;

quipu_status quipu_score_items(quipu_model *m, const quipu_scorer_opts *opts, const quipu_score_item *items, size_t n,
                               quipu_score_result *res, quipu_error *err) {
    int64_t budget = opts && opts->batch_tokens > 0 ? opts->batch_tokens : 2048;
    int64_t maxlen = opts && opts->max_length > 0 ? opts->max_length : m->cfg.n_ctx;
    if (maxlen > m->cfg.n_ctx) maxlen = m->cfg.n_ctx;
    quipu_status st = QUIPU_OK;
    enc_item *enc = quipu_calloc_array(n, sizeof *enc);
    int32_t *tokens = NULL, *pos = NULL, *seq_start = NULL, *rows = NULL, *targets = NULL;
    double *lp = NULL;
    uint8_t *gr = NULL;
    if (!enc) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    memset(res, 0, n * sizeof *res);
    for (size_t i = 0; i < n; i++) {
        int32_t *c = NULL, *k = NULL;
        size_t nc = 0, nk = 0;
        if ((st = quipu_score_encode(m, &items[i], &c, &nc, &k, &nk, err))) goto done;
        int64_t total = (int64_t)(nc + nk);
        /* lm-eval: (context_enc + continuation_enc)[-(max_length + 1):][:-1] */
        int64_t keep = total > maxlen + 1 ? maxlen + 1 : total;
        int64_t drop = total - keep;
        enc[i].seq = malloc((size_t)(keep > 0 ? keep : 1) * sizeof(int32_t));
        if (!enc[i].seq) {
            free(c);
            free(k);
            st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int64_t t = 0; t < keep; t++) {
            int64_t src = drop + t;
            enc[i].seq[t] = src < (int64_t)nc ? c[src] : k[src - (int64_t)nc];
        }
        enc[i].len = keep;
        enc[i].n_cont = (int64_t)nk < keep - 1 ? (int64_t)nk : keep - 1;
        if (enc[i].n_cont < 0) enc[i].n_cont = 0;
        free(c);
        free(k);
        res[i].n_tokens = (int32_t)enc[i].n_cont;
        res[i].n_context = (int32_t)(keep - enc[i].n_cont);
        res[i].token_logprobs = quipu_calloc_array((size_t)enc[i].n_cont, sizeof(double));
        res[i].tokens = quipu_malloc_array((size_t)keep, sizeof(int32_t));
        if (!res[i].token_logprobs || !res[i].tokens) {
            st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(res[i].tokens, enc[i].seq, (size_t)keep * sizeof(int32_t));
        res[i].is_greedy = 1;
    }
    /* pack items in input order under the budget; an item longer than the budget runs alone */
    size_t cap_tokens = (size_t)budget;
    for (size_t i = 0; i < n; i++)
        if ((size_t)enc[i].len > cap_tokens) cap_tokens = (size_t)enc[i].len;
    tokens = quipu_malloc_array(cap_tokens, sizeof(int32_t));
    pos = quipu_malloc_array(cap_tokens, sizeof(int32_t));
    rows = quipu_malloc_array(cap_tokens, sizeof(int32_t));
    targets = quipu_malloc_array(cap_tokens, sizeof(int32_t));
    lp = quipu_malloc_array(cap_tokens, sizeof(double));
    gr = quipu_malloc_array(cap_tokens, 1);
    seq_start = quipu_malloc_array(n + 1, sizeof(int32_t));
    if (!tokens || !pos || !rows || !targets || !lp || !gr || !seq_start) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i0 = 0; i0 < n;) {
        size_t i1 = i0;
        int64_t T = 0, R = 0, S = 0;
        while (i1 < n) {
            int64_t in_len = enc[i1].len - 1; /* the last token is only a target */
            if (in_len < 0) in_len = 0;
            if (i1 > i0 && T + in_len > budget) break;
            seq_start[S++] = (int32_t)T;
            for (int64_t t = 0; t < in_len; t++) {
                tokens[T + t] = enc[i1].seq[t];
                pos[T + t] = (int32_t)t;
            }
            for (int64_t r = 0; r < enc[i1].n_cont; r++) {
                int64_t tgt_idx = enc[i1].len - enc[i1].n_cont + r; /* index in seq */
                rows[R] = (int32_t)(T + tgt_idx - 1);
                targets[R] = enc[i1].seq[tgt_idx];
                R++;
            }
            T += in_len;
            i1++;
        }
        seq_start[S] = (int32_t)T;
        quipu_batch bt = {.n_tokens = T, .n_seqs = S, .tokens = tokens, .pos = pos, .seq_start = seq_start, .n_rows = R,
                          .rows = rows, .targets = targets};
        if (R > 0 && (st = quipu_model_forward(m, &bt, lp, gr, err))) goto done;
        int64_t r = 0;
        for (size_t i = i0; i < i1; i++) {
            double sum = 0.0;
            for (int64_t k = 0; k < enc[i].n_cont; k++, r++) {
                res[i].token_logprobs[k] = lp[r];
                sum += lp[r];
                if (!gr[r]) res[i].is_greedy = 0;
            }
            res[i].logprob = sum;
        }
        i0 = i1;
    }
done:
    for (size_t i = 0; i < n; i++) free(enc[i].seq);
    free(enc);
    free(tokens);
    free(pos);
    free(rows);
    free(targets);
    free(lp);
    free(gr);
    free(seq_start);
    if (st)
        for (size_t i = 0; i < n; i++) quipu_score_result_free(&res[i]);
    return st;
}
