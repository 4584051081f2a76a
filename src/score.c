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
        /* lm-eval: a continuation that already starts with the prefix token uses it as context */
        if (*n_cont > 0 && (*cont)[0] == prefix) {
            memmove(*cont, *cont + 1, (*n_cont - 1) * sizeof(int32_t));
            (*n_cont)--;
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

/* One (context, continuation) pair after encoding: seq = context + continuation tokens, the
 * first n_ctx of them the context. */
typedef struct enc_pair {
    int32_t *seq;
    int64_t len, n_ctx;
} enc_pair;

/* How a group is laid out in a batch. */
typedef struct enc_group {
    enc_pair *pairs;     /* [n_cont] */
    int n_cont;
    int shared;          /* prompt run once, continuations attend to it */
    int64_t n_tokens;    /* input tokens it adds to a batch */
    size_t first_result; /* index of its first result */
} enc_group;

static void enc_group_free(enc_group *g) {
    for (int c = 0; c < g->n_cont; c++) free(g->pairs[c].seq);
    free(g->pairs);
}

/* Encodes a group and decides its layout; fills the results' token lists. */
static quipu_status encode_group(quipu_model *m, const quipu_score_group *gr, int64_t maxlen, int share, enc_group *g,
                                 quipu_score_result *res, quipu_error *err) {
    g->n_cont = gr->n_cont;
    g->pairs = quipu_calloc_array((size_t)(gr->n_cont > 0 ? gr->n_cont : 1), sizeof *g->pairs);
    if (!g->pairs) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    g->shared = share && gr->n_cont > 1;
    for (int c = 0; c < gr->n_cont; c++) {
        quipu_score_item it = {gr->context, gr->context_len, gr->continuations[c], gr->continuation_lens[c]};
        int32_t *ci = NULL, *ki = NULL;
        size_t nc = 0, nk = 0;
        if (quipu_score_encode(m, &it, &ci, &nc, &ki, &nk, err)) return err->code;
        enc_pair *p = &g->pairs[c];
        p->seq = quipu_malloc_array(nc + nk + 1, sizeof(int32_t));
        if (!p->seq) {
            free(ci);
            free(ki);
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        }
        memcpy(p->seq, ci, nc * sizeof(int32_t));
        memcpy(p->seq + nc, ki, nk * sizeof(int32_t));
        p->len = (int64_t)(nc + nk);
        p->n_ctx = (int64_t)nc;
        free(ci);
        free(ki);
        /* lm-eval: (context_enc + continuation_enc)[-(max_length + 1):] */
        if (p->len > maxlen + 1) {
            int64_t drop = p->len - (maxlen + 1);
            memmove(p->seq, p->seq + drop, (size_t)(maxlen + 1) * sizeof(int32_t));
            p->len = maxlen + 1;
            p->n_ctx = p->n_ctx > drop ? p->n_ctx - drop : 0;
            g->shared = 0;
        }
        /* every scored token needs a predecessor: an empty context encoding keeps the
         * continuation's first token as context */
        if (p->n_ctx == 0 && p->len > 0) p->n_ctx = 1;
        if (c > 0 && (p->n_ctx != g->pairs[0].n_ctx || memcmp(p->seq, g->pairs[0].seq, (size_t)p->n_ctx * sizeof(int32_t))))
            g->shared = 0;
    }
    g->n_tokens = 0;
    for (int c = 0; c < gr->n_cont; c++) {
        enc_pair *p = &g->pairs[c];
        quipu_score_result *r = &res[g->first_result + (size_t)c];
        r->n_context = (int32_t)p->n_ctx;
        r->n_tokens = (int32_t)(p->len - p->n_ctx);
        r->is_greedy = 1;
        r->token_logprobs = quipu_calloc_array((size_t)(r->n_tokens > 0 ? r->n_tokens : 1), sizeof(double));
        r->tokens = quipu_malloc_array((size_t)(p->len > 0 ? p->len : 1), sizeof(int32_t));
        if (!r->token_logprobs || !r->tokens) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        memcpy(r->tokens, p->seq, (size_t)p->len * sizeof(int32_t));
        g->n_tokens += g->shared ? (c == 0 ? p->n_ctx : 0) + (p->len - p->n_ctx - 1) : p->len - 1;
    }
    if (g->shared && g->pairs[0].n_ctx == 0) g->shared = 0;
    return QUIPU_OK;
}

typedef struct batch_buf {
    int32_t *tokens, *pos, *seg_lo, *pre_lo, *pre_hi, *rows, *targets;
    int32_t *res_of_row, *tok_of_row; /* result index and token index within it, per row */
    double *lp;
    uint8_t *gr;
    int64_t cap;
} batch_buf;

static int batch_reserve(batch_buf *b, int64_t n) {
    if (n <= b->cap) return 0;
    int32_t **arr[] = {&b->tokens, &b->pos, &b->seg_lo, &b->pre_lo, &b->pre_hi, &b->rows, &b->targets, &b->res_of_row, &b->tok_of_row};
    for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) {
        int32_t *p = realloc(*arr[i], (size_t)n * sizeof(int32_t));
        if (!p) return -1;
        *arr[i] = p;
    }
    double *lp = realloc(b->lp, (size_t)n * sizeof(double));
    if (!lp) return -1;
    b->lp = lp;
    uint8_t *gr = realloc(b->gr, (size_t)n);
    if (!gr) return -1;
    b->gr = gr;
    b->cap = n;
    return 0;
}

static void batch_free(batch_buf *b) {
    free(b->tokens); free(b->pos); free(b->seg_lo); free(b->pre_lo); free(b->pre_hi);
    free(b->rows); free(b->targets); free(b->res_of_row); free(b->tok_of_row); free(b->lp); free(b->gr);
}

/* Appends group g to the batch at token T / row R. */
static void layout_group(const enc_group *g, batch_buf *b, int64_t *T, int64_t *R) {
    int64_t t = *T, r = *R;
    if (g->shared) {
        const enc_pair *p0 = &g->pairs[0];
        int64_t plo = t, nc = p0->n_ctx;
        for (int64_t i = 0; i < nc; i++, t++) {
            b->tokens[t] = p0->seq[i];
            b->pos[t] = (int32_t)i;
            b->seg_lo[t] = (int32_t)plo;
            b->pre_lo[t] = b->pre_hi[t] = (int32_t)plo;
        }
        for (int c = 0; c < g->n_cont; c++) {
            const enc_pair *p = &g->pairs[c];
            int64_t slo = t, nk = p->len - nc;
            for (int64_t j = 0; j + 1 < nk; j++, t++) {
                b->tokens[t] = p->seq[nc + j];
                b->pos[t] = (int32_t)(nc + j);
                b->seg_lo[t] = (int32_t)slo;
                b->pre_lo[t] = (int32_t)plo;
                b->pre_hi[t] = (int32_t)(plo + nc);
            }
            for (int64_t j = 0; j < nk; j++, r++) {
                b->rows[r] = (int32_t)(j == 0 ? plo + nc - 1 : slo + j - 1);
                b->targets[r] = p->seq[nc + j];
                b->res_of_row[r] = (int32_t)(g->first_result + (size_t)c);
                b->tok_of_row[r] = (int32_t)j;
            }
        }
    } else {
        for (int c = 0; c < g->n_cont; c++) {
            const enc_pair *p = &g->pairs[c];
            int64_t slo = t;
            for (int64_t i = 0; i + 1 < p->len; i++, t++) {
                b->tokens[t] = p->seq[i];
                b->pos[t] = (int32_t)i;
                b->seg_lo[t] = (int32_t)slo;
                b->pre_lo[t] = b->pre_hi[t] = (int32_t)slo;
            }
            for (int64_t j = 0; j < p->len - p->n_ctx; j++, r++) {
                b->rows[r] = (int32_t)(slo + p->n_ctx + j - 1);
                b->targets[r] = p->seq[p->n_ctx + j];
                b->res_of_row[r] = (int32_t)(g->first_result + (size_t)c);
                b->tok_of_row[r] = (int32_t)j;
            }
        }
    }
    *T = t;
    *R = r;
}

int quipu_score_overlap(void) {
    const char *v = getenv("QUIPU_GPU_OVERLAP");
    return !(v && !strcmp(v, "0"));
}

/* A job: the groups encoded, their batches' bounds, and two batch buffers, one being packed
 * while the other's batch runs. */
struct quipu_score_job {
    quipu_model *m;
    quipu_score_result *res;
    size_t n, n_res;
    enc_group *eg;
    int64_t budget;
    int64_t processed;
    int64_t *tokens_processed;        /* the opts' counter, added to at finish */
    int overlap;                      /* 0: each batch ended as soon as it is begun (QUIPU_GPU_OVERLAP=0) */
    batch_buf bb[2];
    int64_t n_tok[2], n_row[2];       /* the batch packed in bb[i] */
    int packed[2];                    /* bb[i] holds the next batch, not begun yet */
    int in_flight[2];                 /* bb[i]'s batch is begun and not ended */
    int cur;                          /* the buffer of the next batch to begin */
    size_t next_group;                /* the first group not packed yet */
    int done;                         /* masked LM: scored at once (score_mlm.c) */
    int finished;                     /* finish succeeded: the results are the caller's */
};

/* Packs the groups from next_group on, under the budget (a group larger than it alone), into bb[i]. */
static quipu_status job_pack(quipu_score_job *j, int i, quipu_error *err) {
    size_t i0 = j->next_group, i1 = i0;
    int64_t T = 0, need_rows = 0;
    while (i1 < j->n && (i1 == i0 || T + j->eg[i1].n_tokens <= j->budget)) {
        T += j->eg[i1].n_tokens;
        for (int c = 0; c < j->eg[i1].n_cont; c++) need_rows += j->eg[i1].pairs[c].len - j->eg[i1].pairs[c].n_ctx;
        i1++;
    }
    int64_t cap = T > need_rows ? T : need_rows;
    if (batch_reserve(&j->bb[i], cap + 1))
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory building a batch of %lld tokens", (long long)T);
    int64_t t = 0, r = 0;
    for (size_t g = i0; g < i1; g++) layout_group(&j->eg[g], &j->bb[i], &t, &r);
    j->n_tok[i] = t;
    j->n_row[i] = r;
    j->packed[i] = 1;
    j->next_group = i1;
    return QUIPU_OK;
}

/* Ends the oldest batch in flight (bb[i]) and puts its log-probs in their results. */
static quipu_status job_end(quipu_score_job *j, int i, quipu_error *err) {
    j->in_flight[i] = 0;
    quipu_status st = quipu_model_forward_end(j->m, err);
    if (st) return st;
    batch_buf *b = &j->bb[i];
    j->processed += j->n_tok[i];
    for (int64_t k = 0; k < j->n_row[i]; k++) {
        quipu_score_result *rs = &j->res[b->res_of_row[k]];
        rs->token_logprobs[b->tok_of_row[k]] = b->lp[k];
        if (!b->gr[k]) rs->is_greedy = 0;
    }
    return QUIPU_OK;
}

quipu_status quipu_score_job_new(quipu_score_job **out, quipu_model *m, const quipu_scorer_opts *opts, const quipu_score_group *groups,
                                 size_t n, quipu_score_result *res, quipu_error *err) {
    *out = NULL;
    quipu_score_job *j = calloc(1, sizeof *j);
    if (!j) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    j->m = m;
    j->res = res;
    j->n = n;
    j->overlap = quipu_score_overlap();
    j->tokens_processed = opts ? opts->tokens_processed : NULL;
    quipu_status st = QUIPU_OK;
    for (size_t i = 0; i < n; i++) j->n_res += (size_t)(groups[i].n_cont > 0 ? groups[i].n_cont : 0);
    if (m->cfg.masked_lm) { /* its own packing, with the same begin / pack-next / end loop */
        st = quipu_score_mlm_groups(m, opts, groups, n, res, err);
        j->done = 1;
        j->tokens_processed = NULL; /* counted there */
        if (st) {
            free(j); /* the results freed there */
            return st;
        }
        *out = j;
        return QUIPU_OK;
    }
    j->budget = opts && opts->batch_tokens > 0 ? opts->batch_tokens : 2048;
    int64_t maxlen = opts && opts->max_length > 0 ? opts->max_length : m->cfg.n_ctx;
    if (maxlen > m->cfg.n_ctx) maxlen = m->cfg.n_ctx;
    int share = !(opts && opts->no_prefix_sharing);
    memset(res, 0, j->n_res * sizeof *res);
    j->eg = quipu_calloc_array(n, sizeof *j->eg);
    if (!j->eg) {
        quipu_score_job_free(j);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    size_t fr = 0;
    for (size_t i = 0; i < n && !st; i++) {
        j->eg[i].first_result = fr;
        fr += (size_t)(groups[i].n_cont > 0 ? groups[i].n_cont : 0);
        st = encode_group(m, &groups[i], maxlen, share, &j->eg[i], res, err);
    }
    if (!st) {
        /* the forward state, once for the largest batch these groups make */
        int64_t total = 0, widest = 0;
        for (size_t i = 0; i < n; i++) {
            total += j->eg[i].n_tokens;
            if (j->eg[i].n_tokens > widest) widest = j->eg[i].n_tokens;
        }
        int64_t want = total < j->budget ? total : j->budget;
        want = want > widest ? want : widest;
        st = quipu_model_reserve(m, want, want + want / 4, err);
    }
    /* the first batch packed now, so a caller running another job's last batch overlaps it too */
    if (!st && n) st = job_pack(j, 0, err);
    if (st) {
        quipu_score_job_free(j);
        return st;
    }
    *out = j;
    return QUIPU_OK;
}

int quipu_score_job_more(const quipu_score_job *j) { return !j->done && (j->packed[0] || j->packed[1] || j->next_group < j->n); }

quipu_status quipu_score_job_step(quipu_score_job *j, quipu_error *err) {
    if (!quipu_score_job_more(j)) return QUIPU_OK;
    int i = j->cur, o = 1 - i;
    quipu_status st = QUIPU_OK;
    if (!j->packed[i] && (st = job_pack(j, i, err))) return st;
    j->packed[i] = 0;
    j->cur = o;
    if (j->n_row[i] > 0) { /* a batch without scored rows (every continuation empty) is not run */
        quipu_batch bt = {.n_tokens = j->n_tok[i], .tokens = j->bb[i].tokens, .pos = j->bb[i].pos, .seg_lo = j->bb[i].seg_lo,
                          .pre_lo = j->bb[i].pre_lo, .pre_hi = j->bb[i].pre_hi, .n_rows = j->n_row[i], .rows = j->bb[i].rows,
                          .targets = j->bb[i].targets};
        if ((st = quipu_model_forward_begin(j->m, &bt, j->bb[i].lp, j->bb[i].gr, err))) return st;
        j->in_flight[i] = 1;
    } else {
        j->processed += j->n_tok[i];
    }
    /* the batch before this one, then the next one packed into its buffer while this one runs */
    if (j->in_flight[o] && (st = job_end(j, o, err))) return st;
    if (!j->overlap && j->in_flight[i] && (st = job_end(j, i, err))) return st;
    if (j->overlap && j->next_group < j->n && (st = job_pack(j, o, err))) return st;
    return QUIPU_OK;
}

quipu_status quipu_score_job_finish(quipu_score_job *j, quipu_error *err) {
    quipu_status st = QUIPU_OK;
    while (!st && quipu_score_job_more(j)) st = quipu_score_job_step(j, err);
    for (int k = 0; k < 2 && !st; k++) { /* the older one first */
        int i = (j->cur + k) % 2;
        if (j->in_flight[i]) st = job_end(j, i, err);
    }
    if (st) return st;
    if (j->done) {
        j->finished = 1;
        return QUIPU_OK;
    }
    for (size_t k = 0; k < j->n_res; k++) {
        double sum = 0.0; /* in token order, whatever the batch */
        for (int32_t t = 0; t < j->res[k].n_tokens; t++) sum += j->res[k].token_logprobs[t];
        j->res[k].logprob = sum;
    }
    if (j->tokens_processed) *j->tokens_processed += j->processed;
    j->processed = 0;
    j->finished = 1;
    return QUIPU_OK;
}

void quipu_score_job_free(quipu_score_job *j) {
    if (!j) return;
    /* batches still in flight write into this job's buffers: waited for first */
    if (j->in_flight[0] || j->in_flight[1]) quipu_model_forward_cancel(j->m);
    for (size_t i = 0; j->eg && i < j->n; i++) enc_group_free(&j->eg[i]);
    free(j->eg);
    batch_free(&j->bb[0]);
    batch_free(&j->bb[1]);
    if (!j->finished)
        for (size_t k = 0; k < j->n_res; k++) quipu_score_result_free(&j->res[k]);
    free(j);
}

quipu_status quipu_score_groups(quipu_model *m, const quipu_scorer_opts *opts, const quipu_score_group *groups, size_t n,
                                quipu_score_result *res, quipu_error *err) {
    quipu_score_job *j = NULL;
    quipu_status st = quipu_score_job_new(&j, m, opts, groups, n, res, err);
    if (st) return st; /* the results are freed */
    st = quipu_score_job_finish(j, err);
    quipu_score_job_free(j); /* and the results, if it failed */
    return st;
}

quipu_status quipu_score_items(quipu_model *m, const quipu_scorer_opts *opts, const quipu_score_item *items, size_t n,
                               quipu_score_result *res, quipu_error *err) {
    quipu_score_group *g = quipu_calloc_array(n, sizeof *g);
    if (!g) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        g[i].context = items[i].context;
        g[i].context_len = items[i].context_len;
        g[i].n_cont = 1;
        g[i].continuations = &items[i].continuation;
        g[i].continuation_lens = &items[i].continuation_len;
    }
    quipu_status st = quipu_score_groups(m, opts, g, n, res, err);
    free(g);
    return st;
}
