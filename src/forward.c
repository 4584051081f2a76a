/* forward.c — the forward pass over a packed batch, one for every supported architecture,
 * written against the backend interface (backend.h): it reads as the data flow, the loader
 * (model.c) having folded every format difference into quipu_model_config.
 * Shape letters: T tokens, D width, H/HKV heads, HD head dim, F FFN width, V vocabulary. */
#include "model.h"

typedef struct fwd_bufs {
    quipu_buf *x, *h, *q, *k, *v, *att, *o, *g, *u, *ids, *pos, *tmp;
} fwd_bufs;

quipu_status quipu_model_forward(quipu_model *m, const quipu_batch *bt, double *logprob, uint8_t *greedy, quipu_error *err) {
    quipu_backend *b = m->backend;
    const quipu_backend_i *B = b->iface;
    const quipu_model_config *c = &m->cfg;
    int64_t T = bt->n_tokens, D = c->n_embd, HD = c->head_dim, F = c->n_ff;
    int64_t QD = c->n_head * HD, KD = c->n_head_kv * HD;
    fwd_bufs w = {0};
    quipu_status st = QUIPU_OK;
    if (T <= 0) return QUIPU_OK;
    for (int64_t t = 0; t < T; t++)
        if (bt->pos[t] < 0 || bt->pos[t] >= c->n_ctx)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "position %d is outside the model's context (%lld tokens)", bt->pos[t], (long long)c->n_ctx);
    size_t fT = (size_t)T * sizeof(float);
    int64_t widest = D > QD ? D : QD;
    if (!(w.x = B->buf_alloc(b, fT * (size_t)D, err)) || !(w.h = B->buf_alloc(b, fT * (size_t)widest, err)) ||
        !(w.q = B->buf_alloc(b, fT * (size_t)QD, err)) || !(w.k = B->buf_alloc(b, fT * (size_t)KD, err)) ||
        !(w.v = B->buf_alloc(b, fT * (size_t)KD, err)) || !(w.att = B->buf_alloc(b, fT * (size_t)QD, err)) ||
        !(w.o = B->buf_alloc(b, fT * (size_t)D, err)) || !(w.g = B->buf_alloc(b, fT * (size_t)F, err)) ||
        !(w.u = B->buf_alloc(b, fT * (size_t)F, err)) || !(w.ids = B->buf_alloc(b, (size_t)T * sizeof(int32_t), err)) ||
        !(w.pos = B->buf_alloc(b, (size_t)T * sizeof(int32_t), err))) {
        st = err->code;
        goto done;
    }
#define RUN(call)                                                                                                                      \
    do {                                                                                                                           \
        if ((st = (call)) != QUIPU_OK) goto done;                                                                                  \
    } while (0)
    RUN(B->buf_write(b, w.ids, 0, bt->tokens, (size_t)T * sizeof(int32_t), err));
    RUN(B->buf_write(b, w.pos, 0, bt->pos, (size_t)T * sizeof(int32_t), err));
    RUN(B->embed(b, w.x, m->tok_embd, w.ids, T, D, c->embd_scale, err));
    if (m->pos_embd) {
        RUN(B->embed(b, w.o, m->pos_embd, w.pos, T, D, 1.0f, err));
        RUN(B->add(b, w.x, w.o, T * D, err));
    }
    for (int64_t l = 0; l < c->n_layer; l++) {
        const quipu_layer_weights *L = &m->layers[l];
        int sliding = c->layer_sliding[l];
        /* attention block */
        quipu_norm_args na = {.x = w.x, .y = w.h, .w = L->attn_norm, .b = L->attn_norm_b, .n_rows = T, .dim = D, .eps = c->norm_eps, .kind = c->norm_kind};
        RUN(B->norm(b, &na, err));
        quipu_matmul_args mq = {.x = w.h, .w = L->wq, .bias = L->bq, .y = w.q, .n_tokens = T, .n_in = D, .n_out = QD};
        quipu_matmul_args mk = {.x = w.h, .w = L->wk, .bias = L->bk, .y = w.k, .n_tokens = T, .n_in = D, .n_out = KD};
        quipu_matmul_args mv = {.x = w.h, .w = L->wv, .bias = L->bv, .y = w.v, .n_tokens = T, .n_in = D, .n_out = KD};
        RUN(B->matmul(b, &mq, err));
        RUN(B->matmul(b, &mk, err));
        RUN(B->matmul(b, &mv, err));
        if (L->q_norm) {
            quipu_norm_args qn = {.x = w.q, .y = w.q, .w = L->q_norm, .n_rows = T * c->n_head, .dim = HD, .eps = c->norm_eps, .kind = QUIPU_NORM_RMS};
            quipu_norm_args kn = {.x = w.k, .y = w.k, .w = L->k_norm, .n_rows = T * c->n_head_kv, .dim = HD, .eps = c->norm_eps, .kind = QUIPU_NORM_RMS};
            RUN(B->norm(b, &qn, err));
            RUN(B->norm(b, &kn, err));
        }
        if (c->rope_kind != QUIPU_ROPE_NONE) {
            float base = sliding ? c->rope_base_local : c->rope_base;
            float ps = (sliding && c->arch == QUIPU_ARCH_GEMMA3) ? 1.0f : c->rope_pos_scale;
            quipu_rope_args rq = {.x = w.q, .pos = w.pos, .freq_factors = m->freq_factors, .n_tokens = T, .n_heads = c->n_head,
                                  .head_dim = HD, .n_rot = c->n_rot, .base = base, .pos_scale = ps, .kind = c->rope_kind};
            quipu_rope_args rk = rq;
            rk.x = w.k;
            rk.n_heads = c->n_head_kv;
            RUN(B->rope(b, &rq, err));
            RUN(B->rope(b, &rk, err));
        }
        quipu_attention_args aa = {.q = w.q, .k = w.k, .v = w.v, .out = w.att, .pos = bt->pos, .seg_lo = bt->seg_lo,
                                   .pre_lo = bt->pre_lo, .pre_hi = bt->pre_hi, .n_tokens = T, .n_heads = c->n_head, .n_heads_kv = c->n_head_kv, .head_dim = HD,
                                   .scale = c->attn_scale, .window = sliding ? c->sliding_window : 0};
        RUN(B->attention(b, &aa, err));
        quipu_matmul_args mo = {.x = w.att, .w = L->wo, .bias = L->bo, .y = w.o, .n_tokens = T, .n_in = QD, .n_out = D};
        RUN(B->matmul(b, &mo, err));
        if (L->post_attn_norm) {
            quipu_norm_args pn = {.x = w.o, .y = w.o, .w = L->post_attn_norm, .n_rows = T, .dim = D, .eps = c->norm_eps, .kind = c->norm_kind};
            RUN(B->norm(b, &pn, err));
        }
        RUN(B->add(b, w.x, w.o, T * D, err));
        /* feed-forward block */
        quipu_norm_args nf = {.x = w.x, .y = w.h, .w = L->ffn_norm, .b = L->ffn_norm_b, .n_rows = T, .dim = D, .eps = c->norm_eps, .kind = c->norm_kind};
        RUN(B->norm(b, &nf, err));
        quipu_matmul_args mu = {.x = w.h, .w = L->w_up, .bias = L->b_up, .y = w.u, .n_tokens = T, .n_in = D, .n_out = F};
        RUN(B->matmul(b, &mu, err));
        quipu_buf *ffn_in;
        if (L->w_gate) {
            quipu_matmul_args mg = {.x = w.h, .w = L->w_gate, .y = w.g, .n_tokens = T, .n_in = D, .n_out = F};
            RUN(B->matmul(b, &mg, err));
            quipu_act_args ac = {.gate = w.g, .up = w.u, .n = T * F, .kind = c->act};
            RUN(B->act(b, &ac, err));
            ffn_in = w.g;
        } else {
            quipu_act_args ac = {.gate = w.u, .up = NULL, .n = T * F, .kind = c->act};
            RUN(B->act(b, &ac, err));
            ffn_in = w.u;
        }
        quipu_matmul_args md = {.x = ffn_in, .w = L->w_down, .bias = L->b_down, .y = w.o, .n_tokens = T, .n_in = F, .n_out = D};
        RUN(B->matmul(b, &md, err));
        if (L->post_ffn_norm) {
            quipu_norm_args pn = {.x = w.o, .y = w.o, .w = L->post_ffn_norm, .n_rows = T, .dim = D, .eps = c->norm_eps, .kind = c->norm_kind};
            RUN(B->norm(b, &pn, err));
        }
        RUN(B->add(b, w.x, w.o, T * D, err));
    }
    {
        quipu_norm_args nfin = {.x = w.x, .y = w.h, .w = m->out_norm, .b = m->out_norm_b, .n_rows = T, .dim = D, .eps = c->norm_eps, .kind = c->norm_kind};
        RUN(B->norm(b, &nfin, err));
        quipu_logprob_args la = {.h = w.h, .lm_head = m->lm_head, .rows = bt->rows, .targets = bt->targets, .n_rows = bt->n_rows,
                                 .dim = D, .n_vocab = c->n_vocab, .logprob = logprob, .greedy = greedy};
        RUN(B->logprob(b, &la, err));
        RUN(B->sync(b, err));
    }
#undef RUN
done:
    B->buf_free(b, w.x);
    B->buf_free(b, w.h);
    B->buf_free(b, w.q);
    B->buf_free(b, w.k);
    B->buf_free(b, w.v);
    B->buf_free(b, w.att);
    B->buf_free(b, w.o);
    B->buf_free(b, w.g);
    B->buf_free(b, w.u);
    B->buf_free(b, w.ids);
    B->buf_free(b, w.pos);
    return st;
}

