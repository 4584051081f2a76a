/* forward.c — the forward pass over a packed batch, one for every supported architecture,
 * written against the backend interface (backend.h): it reads as the data flow, the loader
 * (model.c) having folded every format difference into quipu_model_config.
 * The forward state owns every activation, the packed batch's index vectors, the log-prob
 * partials and the ops' workspace, allocated once for the largest batch (quipu_model_reserve,
 * with the run's batch_tokens) and reused, so no op and no batch allocates. A batch is
 * uploaded once (one write of its index vectors), not once per layer. The pass is split in two
 * (quipu_model_forward_begin / _end) so the host packs the next batch while the device runs this
 * one: each batch in flight has a slot of its own, pinned host staging and read-back and device
 * index vectors (QUIPU_BACKEND_SLOTS: two); the activations are shared, the device running the
 * batches in order on one stream. Weight matrices are viewed
 * in the model's wtype (WM: bf16 / f16 on a GPU in that dtype), every activation in F32.
 * Shape letters: T tokens, D width, H/HKV heads, HD head dim, F FFN width, V vocabulary,
 * R scored rows. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the packed batch's index vectors in one I32 buffer: six of T entries in this order, then the
 * scored rows and their targets, R entries each (R may exceed T: with a shared prompt, its last
 * token predicts the first token of every continuation) */
enum { IX_IDS, IX_POS, IX_SEG_LO, IX_SEG_HI, IX_PRE_LO, IX_PRE_HI, IX_N_TOKEN_VECTORS };
/* the gathered expert rows of T tokens, k experts each, of E experts: every expert's block starts
 * on a row that is a multiple of 4 (up to 3 rows of padding each), so a GEMM's output rows start
 * 16-byte aligned wherever the batch puts them (cuBLASLt picks its algorithm by alignment too) */
#define MOE_ROWS(T, K, E) ((T) * (K) + 3 * (E))
#define IX_LEN(T, R) ((size_t)(T) * IX_N_TOKEN_VECTORS + 2 * (size_t)(R))

/* A slot's memory: what one batch in flight needs of its own. */
typedef struct fwd_slot {
    int32_t *host_idx;                /* pinned: the index vectors, staged for the one upload */
    double *host_lp;                  /* pinned: the log-probs, read back */
    uint8_t *host_greedy;
    quipu_buf *idx;                   /* the index vectors on the device */
} fwd_slot;

/* A batch between begin and end. Its results go to the caller's arrays at its end, or earlier
 * when the state must grow under it (fwd_drain); its outcome waits in st / err for its end. */
typedef struct fwd_pending {
    int64_t n_rows;
    double *logprob;                  /* the caller's, [n_rows] */
    uint8_t *greedy;
    int fenced;                       /* its work is queued behind the slot's fence */
    int finished;                     /* waited for; results delivered unless st */
    quipu_status st;
    quipu_error err;
} fwd_pending;

struct quipu_fwd {
    int64_t cap, cap_rows;            /* tokens and scored rows the state holds */
    int64_t n_blocks;                 /* log-prob partials per row */
    quipu_buf *x, *h, *q, *k, *v, *att, *o, *g, *u;
    quipu_buf *part, *lp, *greedy, *ws;
    quipu_buf *wdq;                   /* a layer matrix kept in GGUF blocks, dequantized (model.h) */
    quipu_buf *mh;                    /* masked LM: the head's output [T, D + 1], column D held at 1 */
    quipu_buf *tp_x, *tp_part, *tp_all;  /* tensor parallelism: gathered activations and partials, all members' partials */
    /* mixture of experts (moe_ffn): router logits [T, E + 1] (column E: the shared expert's gate),
     * the choice ids / weights [T, K], the plan (I32: the S gathered rows' tokens, then each
     * choice's row [T, K]), the gathered rows and the experts' outputs [S, D]; the gate / up rows
     * [S, FE] live in g / u. S <= MOE_ROWS(T, K, E): each expert's rows start on a multiple of 4 */
    quipu_buf *moe_logits, *moe_ids, *moe_w, *moe_plan, *moe_x, *moe_y;
    int32_t *host_moe;                /* MoE: the choice as downloaded [T K], then the plan [S + T K] */
    int64_t *host_moe_at;             /* MoE: each expert's first row, its fill point, the order of the GEMMs [3 (E + 1)] */
    fwd_slot slot[QUIPU_BACKEND_SLOTS];
    /* the batches in flight, oldest first: pend[(head + i) % QUIPU_BACKEND_SLOTS] uses that slot */
    fwd_pending pend[QUIPU_BACKEND_SLOTS];
    int head, n_pend;
};

static void fwd_release(quipu_backend *b, quipu_fwd *f) {
    if (!f) return;
    quipu_buf *all[] = {f->x, f->h, f->q, f->k, f->v, f->att, f->o, f->g, f->u, f->part, f->lp, f->greedy, f->ws, f->mh,
                        f->tp_x, f->tp_part, f->tp_all, f->wdq, f->moe_logits, f->moe_ids, f->moe_w, f->moe_plan, f->moe_x, f->moe_y};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) b->iface->buf_free(b, all[i]);
    for (int i = 0; i < QUIPU_BACKEND_SLOTS; i++) {
        b->iface->buf_free(b, f->slot[i].idx);
        quipu_backend_host_free(b, f->slot[i].host_idx);
        quipu_backend_host_free(b, f->slot[i].host_lp);
        quipu_backend_host_free(b, f->slot[i].host_greedy);
    }
    free(f->host_moe);
    free(f->host_moe_at);
    free(f);
}

/* Waits for a batch in flight and delivers its results (once). */
static void fwd_finish(quipu_backend *b, quipu_fwd *f, int s) {
    fwd_pending *p = &f->pend[s];
    if (p->finished) return;
    p->finished = 1;
    if (p->fenced) { /* also after a failed enqueue: the device must be done with the slot */
        quipu_error e = {0};
        quipu_status w = quipu_backend_fence_wait(b, s, &e);
        if (w && !p->st) {
            p->st = w;
            p->err = e;
        }
    }
    if (p->st || p->n_rows <= 0) return;
    memcpy(p->logprob, f->slot[s].host_lp, (size_t)p->n_rows * sizeof(double));
    memcpy(p->greedy, f->slot[s].host_greedy, (size_t)p->n_rows);
}

/* Every batch in flight waited for, oldest first: before the state is freed or regrown. */
static void fwd_drain(quipu_backend *b, quipu_fwd *f) {
    for (int i = 0; f && i < f->n_pend; i++) fwd_finish(b, f, (f->head + i) % QUIPU_BACKEND_SLOTS);
}

int quipu_model_forward_pending(const quipu_model *m) { return m->fwd ? m->fwd->n_pend : 0; }

void quipu_model_release_state(quipu_model *m) {
    fwd_drain(m->backend, m->fwd); /* their results are dropped: nobody will end them */
    fwd_release(m->backend, m->fwd);
    m->fwd = NULL;
}

quipu_status quipu_model_reserve(quipu_model *m, int64_t max_tokens, int64_t max_rows, quipu_error *err) {
    if (max_tokens < 1) max_tokens = 1;
    /* a causal batch scores about one row per token; a masked LM's one row per masked copy */
    if (max_rows < max_tokens && !m->cfg.masked_lm) max_rows = max_tokens;
    if (max_rows < 1) max_rows = 1;
    if (m->fwd && m->fwd->cap >= max_tokens && m->fwd->cap_rows >= max_rows) return QUIPU_OK;
    /* batches in flight when the state grows: waited for (results delivered to their callers), and
     * their outcomes carried over for their ends */
    fwd_pending pend[QUIPU_BACKEND_SLOTS] = {{0}};
    int head = 0, n_pend = 0;
    if (m->fwd) { /* grow, never shrink */
        if (m->fwd->cap > max_tokens) max_tokens = m->fwd->cap;
        if (m->fwd->cap_rows > max_rows) max_rows = m->fwd->cap_rows;
        fwd_drain(m->backend, m->fwd);
        memcpy(pend, m->fwd->pend, sizeof pend);
        head = m->fwd->head;
        n_pend = m->fwd->n_pend;
    }
    quipu_model_release_state(m);
    quipu_backend *b = m->backend;
    const quipu_backend_i *B = b->iface;
    const quipu_model_config *c = &m->cfg;
    /* this member's widths (all of them without tensor parallelism, model.h) */
    int64_t T = max_tokens, R = max_rows, D = c->n_embd, F = m->n_ff_l, QD = m->n_head_l * c->head_dim, KD = m->n_head_kv_l * c->head_dim;
    int64_t widest = D > QD ? D : QD, tp = m->tp_size > 1 ? m->tp_size : 1;
    /* experts: T K gathered rows, the gate / up buffers wide enough for them and the shared expert */
    int64_t E = c->n_expert, K = c->n_expert_used, TK = E > 0 ? T * K : 0, SR = E > 0 ? MOE_ROWS(T, K, E) : 0;
    /* g / u: [T, F] for a dense MLP, [T, FS] for the shared expert, [SR, FE] for the experts */
    size_t guf = (size_t)T * (size_t)F;
    if ((size_t)SR * (size_t)c->n_ff_exp > guf) guf = (size_t)SR * (size_t)c->n_ff_exp;
    if ((size_t)T * (size_t)c->n_ff_shexp > guf) guf = (size_t)T * (size_t)c->n_ff_shexp;
    int64_t FG = F > c->n_ff_exp ? F : c->n_ff_exp;
    if (c->n_ff_shexp > FG) FG = c->n_ff_shexp;
    quipu_fwd *f = calloc(1, sizeof *f);
    if (!f) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    f->cap = T;
    f->cap_rows = R;
    f->n_blocks = (m->n_vocab_pad + B->lp_block - 1) / B->lp_block; /* this member's */
    int mlm = c->masked_lm;
    /* an expert GEMM has up to T K rows */
    quipu_ws_dims wd = {.max_tokens = SR > T ? SR : T, .max_rows = R, .max_width = widest > FG ? widest : FG, .dim = D + mlm, .n_heads = c->n_head};
    size_t ws = B->workspace_bytes ? B->workspace_bytes(b, &wd) : 0;
    size_t fT = (size_t)T * sizeof(float);
    struct {
        quipu_buf **p;
        size_t n;
    } want[] = {{&f->x, fT * (size_t)D},
                {&f->h, fT * (size_t)widest},
                {&f->q, fT * (size_t)QD},
                {&f->k, fT * (size_t)KD},
                {&f->v, fT * (size_t)KD},
                {&f->att, fT * (size_t)QD},
                {&f->o, fT * (size_t)D},
                {&f->g, guf * sizeof(float)},
                {&f->u, guf * sizeof(float)},
                {&f->moe_logits, E ? fT * (size_t)(E + 1) : 0},
                {&f->moe_ids, (size_t)TK * sizeof(int32_t)},
                {&f->moe_w, (size_t)TK * sizeof(float)},
                {&f->moe_plan, (size_t)(SR + TK) * sizeof(int32_t)},
                {&f->moe_x, (size_t)SR * (size_t)D * sizeof(float)},
                {&f->moe_y, (size_t)SR * (size_t)D * sizeof(float)},
                {&f->part, (size_t)R * (size_t)f->n_blocks * quipu_etype_size(QUIPU_E_LP)},
                {&f->lp, (size_t)R * sizeof(double)},
                {&f->greedy, (size_t)R},
                {&f->ws, ws ? ws : 64},
                {&f->mh, mlm ? fT * (size_t)(D + 1) : 0},
                {&f->tp_x, tp > 1 ? fT * (size_t)D * (size_t)tp : 0},
                {&f->tp_part, tp > 1 ? (size_t)R * (size_t)f->n_blocks * quipu_etype_size(QUIPU_E_LP) * (size_t)tp : 0},
                {&f->tp_all, tp > 1 ? (size_t)R * (size_t)f->n_blocks * quipu_etype_size(QUIPU_E_LP) * (size_t)tp : 0},
                {&f->wdq, m->n_qw ? (size_t)m->qw_scratch : 0}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (want[i].n && !(*want[i].p = B->buf_alloc(b, want[i].n, err))) {
            fwd_release(b, f);
            return err->code ? err->code : QUIPU_ERR_NOMEM;
        }
    for (int i = 0; i < QUIPU_BACKEND_SLOTS; i++) {
        fwd_slot *sl = &f->slot[i];
        if (!(sl->idx = B->buf_alloc(b, IX_LEN(T, R) * sizeof(int32_t), err)) ||
            !(sl->host_idx = quipu_backend_host_alloc(b, IX_LEN(T, R) * sizeof(int32_t), err)) ||
            !(sl->host_lp = quipu_backend_host_alloc(b, (size_t)R * sizeof(double), err)) ||
            !(sl->host_greedy = quipu_backend_host_alloc(b, (size_t)R, err))) {
            fwd_release(b, f);
            return err->code ? err->code : QUIPU_ERR_NOMEM;
        }
    }
    if (E && (!(f->host_moe = malloc((size_t)(TK + SR + TK) * sizeof(int32_t))) ||
              !(f->host_moe_at = malloc((size_t)(E + 1) * 3 * sizeof(int64_t))))) {
        fwd_release(b, f);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    if (mlm) { /* the head's [h, 1] rows: the 1 meets the decoder bias in the embedding's last column */
        float *ones = calloc((size_t)T * (size_t)(D + 1), sizeof(float));
        quipu_status st = ones ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        for (int64_t t = 0; ones && t < T; t++) ones[t * (D + 1) + D] = 1.0f;
        if (!st) st = B->buf_write(b, f->mh, 0, ones, (size_t)T * (size_t)(D + 1) * sizeof(float), err);
        free(ones);
        if (st) {
            fwd_release(b, f);
            return st;
        }
    }
    if (tp > 1) {
        /* blocks past this member's ids (the last member's range is shorter) stay empty records,
         * which the combine skips: written once, never by the log-prob op */
        size_t n = (size_t)R * (size_t)f->n_blocks;
        quipu_lp_partial *e = malloc(n * sizeof *e);
        quipu_status st = e ? QUIPU_OK : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        for (size_t i = 0; e && i < n; i++) e[i] = (quipu_lp_partial){.max = -INFINITY, .sumexp = 0, .target = 0, .amax_v = -INFINITY, .amax_i = -1};
        if (!st) st = B->buf_write(b, f->part, 0, e, n * sizeof *e, err);
        free(e);
        if (st) {
            fwd_release(b, f);
            return st;
        }
    }
    memcpy(f->pend, pend, sizeof pend);
    f->head = head;
    f->n_pend = n_pend;
    m->fwd = f;
    return QUIPU_OK;
}

static quipu_view W(quipu_buf *buf, int64_t rows, int64_t cols) {
    quipu_view v = quipu_view_of(buf, QUIPU_E_F32, rows, cols);
    if (!buf) v.rows = v.cols = v.ld = 0;
    return v;
}

/* a weight matrix of the model: in the model's wtype (F32, or BF16 / F16 on a GPU in that dtype) */
static quipu_view WM(const quipu_model *m, quipu_buf *buf, int64_t rows, int64_t cols) {
    quipu_view v = W(buf, rows, cols);
    v.type = m->wtype;
    return v;
}

/* y = x w^T (+ bias) (+ y when accumulate), w a rows x cols weight matrix of the model. One kept
 * in GGUF blocks is first dequantized into the state's scratch (the values the loader would have
 * stored), so both forms give the same bits; the next matrix reuses the scratch after this GEMM. */
static quipu_status linear(quipu_model *m, quipu_view x, quipu_buf *w, int64_t rows, int64_t cols, quipu_buf *bias, quipu_view y,
                           int accumulate, quipu_view ws, quipu_error *err) {
    quipu_matmul_args a = {.x = x, .w = WM(m, w, rows, cols), .bias = W(bias, 1, rows), .y = y, .accumulate = accumulate, .ws = ws};
    const quipu_qweight *q = quipu_model_qweight(m, w);
    if (q) {
        if (q->rows != rows || q->cols != cols)
            return quipu_error_set(err, QUIPU_ERR_INTERNAL, "a %lld x %lld weight in blocks used as %lld x %lld", (long long)q->rows,
                                   (long long)q->cols, (long long)rows, (long long)cols);
        quipu_dequant_args d = {.src = quipu_view_of(w, QUIPU_E_U8, rows, (int64_t)q->row_bytes), .dst = WM(m, m->fwd->wdq, rows, cols),
                                .qtype = q->qtype};
        quipu_status st = quipu_op_dequant(m->backend, &d, err);
        if (st) return st;
        a.w = d.dst;
    }
    return quipu_op_matmul(m->backend, &a, err);
}

/* Tensor parallelism: y (T x D, dense) holds this member's share of a row-parallel projection;
 * afterwards every member holds the sum of all shares, added in member order after an
 * all-gather, so the bits depend on neither the batch nor the library's reduction algorithm. */
static quipu_status tp_sum(quipu_model *m, quipu_view y, quipu_error *err) {
    if (m->tp_size <= 1) return QUIPU_OK;
    quipu_backend *b = m->backend;
    int64_t T = y.rows, D = y.cols;
    quipu_view all = quipu_view_of(m->fwd->tp_x, QUIPU_E_F32, T * m->tp_size, D);
    quipu_allgather_args g = {.send = y, .recv = all};
    quipu_status st = quipu_op_allgather(b, &g, err);
    quipu_copy_args c0 = {.y = y, .x = quipu_view_rows(all, 0, T)};
    if (!st) st = quipu_op_copy(b, &c0, err);
    for (int p = 1; p < m->tp_size && !st; p++) {
        quipu_add_args a = {.y = y, .x = quipu_view_rows(all, p * T, T)};
        st = quipu_op_add(b, &a, err);
    }
    return st;
}

/* checks the batch against the model and the layout rules (an index outside the batch would be
 * an out-of-bounds read on a GPU), and stages its index vectors compactly: token vector k at
 * k * T, then rows and targets */
static quipu_status stage_batch(const quipu_model *m, const quipu_batch *bt, int32_t *ix, quipu_error *err) {
    const quipu_model_config *c = &m->cfg;
    int64_t T = bt->n_tokens, R = bt->n_rows;
    int32_t *seg_hi = ix + IX_SEG_HI * T;
    for (int64_t t = 0; t < T; t++) {
        if (bt->pos[t] < 0 || bt->pos[t] >= c->n_ctx)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "position %d is outside the model's context (%lld tokens)", bt->pos[t], (long long)c->n_ctx);
        if (c->rope_max_pos > 0 && bt->pos[t] >= c->rope_max_pos)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                                   "%s: a sequence of more than %lld tokens (original_max_position_embeddings) needs LongRoPE's long "
                                   "factors, which quipu does not apply yet",
                                   m->path, (long long)c->rope_max_pos);
        if (bt->tokens[t] < 0 || bt->tokens[t] >= c->n_vocab)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "token id %d outside the embedding table (%lld rows)", bt->tokens[t], (long long)c->n_vocab);
        if (bt->seg_lo[t] < 0 || bt->seg_lo[t] > t || (t > 0 && bt->seg_lo[t] != bt->seg_lo[t - 1] && bt->seg_lo[t] != t) ||
            bt->pre_lo[t] < 0 || bt->pre_hi[t] < bt->pre_lo[t] || bt->pre_hi[t] > bt->seg_lo[t])
            return quipu_error_set(err, QUIPU_ERR_INTERNAL, "packed batch: the attention ranges of token %lld are inconsistent", (long long)t);
    }
    for (int64_t t = T - 1; t >= 0; t--) /* a segment's end: where the next segment starts */
        seg_hi[t] = (int32_t)(t + 1 < T && bt->seg_lo[t + 1] == bt->seg_lo[t] ? seg_hi[t + 1] : t + 1);
    for (int64_t r = 0; r < R; r++) {
        if (bt->rows[r] < 0 || bt->rows[r] >= T)
            return quipu_error_set(err, QUIPU_ERR_INTERNAL, "packed batch: scored row %d outside the %lld tokens", bt->rows[r], (long long)T);
        if (bt->targets[r] < 0 || bt->targets[r] >= c->n_vocab)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "target token id %d outside the vocabulary (%lld)", bt->targets[r], (long long)c->n_vocab);
    }
    memcpy(ix + IX_IDS * T, bt->tokens, (size_t)T * sizeof(int32_t));
    memcpy(ix + IX_POS * T, bt->pos, (size_t)T * sizeof(int32_t));
    memcpy(ix + IX_SEG_LO * T, bt->seg_lo, (size_t)T * sizeof(int32_t));
    memcpy(ix + IX_PRE_LO * T, bt->pre_lo, (size_t)T * sizeof(int32_t));
    memcpy(ix + IX_PRE_HI * T, bt->pre_hi, (size_t)T * sizeof(int32_t));
    memcpy(ix + IX_N_TOKEN_VECTORS * T, bt->rows, (size_t)R * sizeof(int32_t));
    memcpy(ix + IX_N_TOKEN_VECTORS * T + R, bt->targets, (size_t)R * sizeof(int32_t));
    return QUIPU_OK;
}

/* The masked LM's encoder and head (BERT, RoBERTa): embeddings (token + position, type 0 folded
 * into the positions at load) and their LayerNorm; per layer, bidirectional attention within
 * each segment, x = LN(x + attn), x = LN(x + FFN) (post-norm); then the MLM head (dense,
 * activation, LayerNorm) into the [T, D + 1] rows whose last column is 1, so that the log-prob
 * op's dot product with the [V, D + 1] embedding adds the decoder bias. Returns the head's view. */
static quipu_status forward_encoder(quipu_model *m, int64_t T, quipu_batch_layout lay, quipu_view ids, quipu_view *head, quipu_error *err) {
    quipu_backend *b = m->backend;
    const quipu_model_config *c = &m->cfg;
    quipu_fwd *f = m->fwd;
    int64_t D = c->n_embd, HD = c->head_dim, F = c->n_ff, H = c->n_head, V = c->n_vocab;
    quipu_status st;
    quipu_view x = W(f->x, T, D), q = W(f->q, T, D), k = W(f->k, T, D), v = W(f->v, T, D), att = W(f->att, T, D), o = W(f->o, T, D),
               u = W(f->u, T, F);
    quipu_view ws = quipu_view_of(f->ws, QUIPU_E_U8, 1, (int64_t)b->iface->buf_size(f->ws));
    quipu_view table = quipu_view_cols(WM(m, m->tok_embd, V, D + 1), 0, D); /* the embedding, not its bias column */
#define RUN(call)                                                                                                                      \
    do {                                                                                                                               \
        if ((st = (call)) != QUIPU_OK) return st;                                                                                      \
    } while (0)
    quipu_embed_args ea = {.out = x, .table = table, .ids = ids, .scale = 1.0f};
    quipu_embed_args pa = {.out = o, .table = WM(m, m->pos_embd, c->n_ctx, D), .ids = lay.pos, .scale = 1.0f};
    quipu_norm_args en = {.x = x, .y = x, .w = W(m->embd_norm, 1, D), .b = W(m->embd_norm_b, 1, D), .residual = o, .eps = c->norm_eps,
                          .kind = QUIPU_NORM_LAYER};
    RUN(quipu_op_embed(b, &ea, err));
    RUN(quipu_op_embed(b, &pa, err));
    RUN(quipu_op_norm(b, &en, err));
    for (int64_t l = 0; l < c->n_layer; l++) {
        const quipu_layer_weights *L = &m->layers[l];
        RUN(linear(m, x, L->wq, D, D, L->bq, q, 0, ws, err));
        RUN(linear(m, x, L->wk, D, D, L->bk, k, 0, ws, err));
        RUN(linear(m, x, L->wv, D, D, L->bv, v, 0, ws, err));
        quipu_attention_args aa = {.q = q, .k = k, .v = v, .out = att, .lay = lay, .n_heads = H, .n_heads_kv = H, .head_dim = HD,
                                   .scale = c->attn_scale, .causal = 0, .ws = ws};
        RUN(quipu_op_attention(b, &aa, err));
        RUN(linear(m, att, L->wo, D, D, L->bo, o, 0, ws, err));
        quipu_norm_args n1 = {.x = x, .y = x, .w = W(L->attn_norm, 1, D), .b = W(L->attn_norm_b, 1, D), .residual = o, .eps = c->norm_eps,
                              .kind = QUIPU_NORM_LAYER};
        RUN(quipu_op_norm(b, &n1, err));
        quipu_act_args ac = {.gate = u, .kind = c->act};
        quipu_norm_args n2 = {.x = x, .y = x, .w = W(L->ffn_norm, 1, D), .b = W(L->ffn_norm_b, 1, D), .residual = o, .eps = c->norm_eps,
                              .kind = QUIPU_NORM_LAYER};
        RUN(linear(m, x, L->w_up, F, D, L->b_up, u, 0, ws, err));
        RUN(quipu_op_act(b, &ac, err));
        RUN(linear(m, u, L->w_down, D, F, L->b_down, o, 0, ws, err));
        RUN(quipu_op_norm(b, &n2, err));
    }
    quipu_view hm = W(f->mh, T, D + 1);
    quipu_matmul_args hd = {.x = x, .w = WM(m, m->mlm_dense, D, D), .bias = W(m->mlm_dense_b, 1, D), .y = o, .ws = ws};
    quipu_act_args ha = {.gate = o, .kind = c->act};
    quipu_norm_args hn = {.x = o, .y = quipu_view_cols(hm, 0, D), .w = W(m->mlm_norm, 1, D), .b = W(m->mlm_norm_b, 1, D), .eps = c->norm_eps,
                          .kind = QUIPU_NORM_LAYER};
    RUN(quipu_op_matmul(b, &hd, err));
    RUN(quipu_op_act(b, &ha, err));
    RUN(quipu_op_norm(b, &hn, err));
#undef RUN
    *head = hm;
    return QUIPU_OK;
}

/* A sparse layer's feed-forward block (cfg.layer_moe) on its normed input fin [T, D], into o [T, D].
 * The router's GEMM and moe_route choose each token's experts on the device; the choice comes to
 * the host (the layer's one device-to-host copy: the expert GEMMs' row counts are the host's to
 * know), which orders the T K (token, expert) pairs by expert, tokens ascending within one, and
 * sends that plan back. The rows are gathered (the embed op, fin as the table), each expert hit
 * runs its gate, up and down GEMMs over its rows, and moe_combine adds every token's k outputs in
 * ascending expert order (transformers' loop over experts), then the gated shared expert. A
 * token's bits depend on its own row only: its routing, its GEMM rows (matmul is batch invariant
 * whatever the row count) and its order of addition are its own. */
static quipu_status moe_ffn(quipu_model *m, const quipu_layer_weights *L, quipu_view fin, quipu_view o, quipu_view ws, quipu_error *err) {
    quipu_backend *b = m->backend;
    const quipu_model_config *c = &m->cfg;
    quipu_fwd *f = m->fwd;
    int64_t T = fin.rows, D = c->n_embd, E = c->n_expert, K = c->n_expert_used, FE = c->n_ff_exp, FS = c->n_ff_shexp, TK = T * K;
    quipu_status st;
#define RUN(call)                                                                                                                      \
    do {                                                                                                                               \
        if ((st = (call)) != QUIPU_OK) return st;                                                                                      \
    } while (0)
    quipu_view rl = W(f->moe_logits, T, E + 1), ids = quipu_view_of(f->moe_ids, QUIPU_E_I32, T, K), wts = W(f->moe_w, T, K);
    int64_t SR = MOE_ROWS(T, K, E);
    quipu_view plan = quipu_view_of(f->moe_plan, QUIPU_E_I32, 1, SR + TK), slot = ids;
    slot.buf = f->moe_plan;
    slot.off = (size_t)SR * sizeof(int32_t);
    RUN(linear(m, fin, L->moe_router, E, D, NULL, quipu_view_cols(rl, 0, E), 0, ws, err));
    quipu_moe_route_args ra = {.logits = quipu_view_cols(rl, 0, E), .ids = ids, .weights = wts, .norm = c->expert_norm};
    RUN(quipu_op_moe_route(b, &ra, err));
    int32_t *sel = f->host_moe, *src = f->host_moe + TK, *row = f->host_moe + TK + SR;
    int64_t *at = f->host_moe_at, *fill = f->host_moe_at + E + 1, *order = f->host_moe_at + 2 * (E + 1);
    RUN(b->iface->buf_read(b, f->moe_ids, 0, sel, (size_t)TK * sizeof(int32_t), err));
    /* a counting sort: expert e's rows are [at[e], at[e] + n_e), its tokens in ascending order,
     * at[e] a multiple of 4 (the padding rows gather token 0 and are never read back) */
    memset(at, 0, (size_t)(E + 1) * sizeof *at);
    for (int64_t i = 0; i < TK; i++) {
        if (sel[i] < 0 || sel[i] >= E)
            return quipu_error_set(err, QUIPU_ERR_INTERNAL, "moe: token %lld routed to expert %d of %lld", (long long)(i / K), sel[i], (long long)E);
        at[sel[i] + 1]++;
    }
    for (int64_t e = 0; e < E; e++) fill[e] = at[e + 1]; /* counts, for now */
    at[0] = 0;
    for (int64_t e = 0; e < E; e++) at[e + 1] = at[e] + (fill[e] + 3) / 4 * 4;
    int64_t S = at[E];
    for (int64_t r = 0; r < S; r++) src[r] = 0;
    for (int64_t e = 0; e < E; e++) fill[e] = at[e];
    for (int64_t i = 0; i < TK; i++) {
        int64_t r = fill[sel[i]]++;
        src[r] = (int32_t)(i / K);
        row[i] = (int32_t)r;
    }
    /* the GEMMs of the experts with the most rows first: a GEMM library that proves its algorithm
     * on its first call with two rows or more (kernels/gemm_lt.cu) then never sees a one-row call
     * first (insertion sort, stable: ties by expert index) */
    for (int64_t e = 0; e < E; e++) {
        int64_t i = e, n = fill[e] - at[e];
        for (; i > 0 && fill[order[i - 1]] - at[order[i - 1]] < n; i--) order[i] = order[i - 1];
        order[i] = e;
    }
    RUN(b->iface->buf_write(b, f->moe_plan, 0, src, (size_t)S * sizeof(int32_t), err));
    RUN(b->iface->buf_write(b, f->moe_plan, (size_t)SR * sizeof(int32_t), row, (size_t)TK * sizeof(int32_t), err));
    quipu_view xs = W(f->moe_x, S, D), ys = W(f->moe_y, S, D), gs = W(f->g, S, FE), us = W(f->u, S, FE);
    quipu_embed_args ga = {.out = xs, .table = fin, .ids = quipu_view_cols(plan, 0, S), .scale = 1.0f};
    RUN(quipu_op_embed(b, &ga, err));
    for (int64_t k = 0; k < E; k++) {
        int64_t e = order[k], r0 = at[e], n = fill[e] - at[e];
        if (!n) continue;
        RUN(linear(m, quipu_view_rows(xs, r0, n), L->exp_gate[e], FE, D, NULL, quipu_view_rows(gs, r0, n), 0, ws, err));
        RUN(linear(m, quipu_view_rows(xs, r0, n), L->exp_up[e], FE, D, NULL, quipu_view_rows(us, r0, n), 0, ws, err));
    }
    quipu_act_args ea = {.gate = gs, .up = us, .kind = c->act};
    RUN(quipu_op_act(b, &ea, err));
    for (int64_t k = 0; k < E; k++) {
        int64_t e = order[k], r0 = at[e], n = fill[e] - at[e];
        if (n) RUN(linear(m, quipu_view_rows(gs, r0, n), L->exp_down[e], D, FE, NULL, quipu_view_rows(ys, r0, n), 0, ws, err));
    }
    quipu_moe_combine_args ca = {.out = o, .y = ys, .slot = slot, .weights = wts};
    if (L->shexp_up) { /* Qwen2-MoE: the shared expert into o, its gate's logit into column E */
        quipu_view sg = W(f->g, T, FS), su = W(f->u, T, FS);
        RUN(linear(m, fin, L->shexp_gate, FS, D, NULL, sg, 0, ws, err));
        RUN(linear(m, fin, L->shexp_up, FS, D, NULL, su, 0, ws, err));
        quipu_act_args sa = {.gate = sg, .up = su, .kind = c->act};
        RUN(quipu_op_act(b, &sa, err));
        RUN(linear(m, sg, L->shexp_down, D, FS, NULL, o, 0, ws, err));
        RUN(linear(m, fin, L->shexp_router, 1, D, NULL, quipu_view_cols(rl, E, 1), 0, ws, err));
        ca.shared = o;
        ca.shared_gate = quipu_view_cols(rl, E, 1);
    }
    RUN(quipu_op_moe_combine(b, &ca, err));
#undef RUN
    return QUIPU_OK;
}

/* Queues the batch's work on slot s: its index vectors (staged) uploaded, every op, and the
 * read-back of its log-probs into the slot's host memory (on the CPU all of it done on return). */
static quipu_status forward_enqueue(quipu_model *m, const quipu_batch *bt, int s, quipu_error *err) {
    quipu_backend *b = m->backend;
    const quipu_model_config *c = &m->cfg;
    /* widths of this member's share (all of it without tensor parallelism) */
    int64_t T = bt->n_tokens, R = bt->n_rows, D = c->n_embd, HD = c->head_dim, F = m->n_ff_l;
    int64_t H = m->n_head_l, HKV = m->n_head_kv_l, QD = H * HD, KD = HKV * HD, V = c->n_vocab;
    quipu_status st;
    quipu_fwd *f = m->fwd;
    fwd_slot *sl = &f->slot[s];
#define RUN(call)                                                                                                                      \
    do {                                                                                                                               \
        if ((st = (call)) != QUIPU_OK) return st;                                                                                      \
    } while (0)
    RUN(quipu_backend_upload(b, sl->idx, 0, sl->host_idx, IX_LEN(T, R) * sizeof(int32_t), s, err));
    quipu_view ix = quipu_view_of(sl->idx, QUIPU_E_I32, 1, (int64_t)IX_LEN(T, R));
#define IX(k, n) quipu_view_cols(ix, (k) * T, (n))
    quipu_batch_layout lay = {.pos = IX(IX_POS, T), .seg_lo = IX(IX_SEG_LO, T), .seg_hi = IX(IX_SEG_HI, T),
                              .pre_lo = IX(IX_PRE_LO, T), .pre_hi = IX(IX_PRE_HI, T)};
    quipu_view x = W(f->x, T, D), hD = W(f->h, T, D), q = W(f->q, T, QD), k = W(f->k, T, KD), v = W(f->v, T, KD);
    quipu_view att = W(f->att, T, QD), o = W(f->o, T, D), g = W(f->g, T, F), u = W(f->u, T, F);
    quipu_view ws = quipu_view_of(f->ws, QUIPU_E_U8, 1, (int64_t)b->iface->buf_size(f->ws));
    quipu_view none = {0};
    if (c->masked_lm) {
        /* the encoder, then the same log-prob op on the scored (masked) rows of the head's output */
        quipu_view hm;
        RUN(forward_encoder(m, T, lay, IX(IX_IDS, T), &hm, err));
        quipu_view part = quipu_view_of(f->part, QUIPU_E_LP, R, f->n_blocks);
        quipu_logprob_args la = {.h = hm, .lm_head = WM(m, m->lm_head, V, D + 1), .rows = quipu_view_cols(ix, IX_N_TOKEN_VECTORS * T, R),
                                 .targets = quipu_view_cols(ix, IX_N_TOKEN_VECTORS * T + R, R), .part = part, .ws = ws};
        quipu_combine_args ca = {.part = part, .targets = la.targets, .block = b->iface->lp_block,
                                 .logprob = quipu_view_of(f->lp, QUIPU_E_F64, 1, R), .greedy = quipu_view_of(f->greedy, QUIPU_E_U8, 1, R)};
        if (R > 0) {
            RUN(quipu_op_logprob_partial(b, &la, err));
            RUN(quipu_op_logprob_combine(b, &ca, err));
            RUN(quipu_backend_download(b, f->lp, 0, sl->host_lp, (size_t)R * sizeof(double), err));
            RUN(quipu_backend_download(b, f->greedy, 0, sl->host_greedy, (size_t)R, err));
        }
        return QUIPU_OK;
    }

    quipu_embed_args ea = {.out = x, .table = WM(m, m->tok_embd, V, D), .ids = IX(IX_IDS, T), .scale = c->embd_scale};
    RUN(quipu_op_embed(b, &ea, err));
    if (m->pos_embd) {
        quipu_embed_args pa = {.out = o, .table = WM(m, m->pos_embd, c->n_ctx, D), .ids = lay.pos, .scale = 1.0f};
        quipu_add_args aa = {.y = x, .x = o};
        RUN(quipu_op_embed(b, &pa, err));
        RUN(quipu_op_add(b, &aa, err));
    }
    if (m->embd_norm) { /* BLOOM: LayerNorm of the embedding, in place */
        quipu_norm_args en = {.x = x, .y = x, .w = W(m->embd_norm, 1, D), .b = W(m->embd_norm_b, 1, D), .eps = c->norm_eps, .kind = c->norm_kind};
        RUN(quipu_op_norm(b, &en, err));
    }
    /* the residual branch's output waiting to be added to x, fused into the next norm */
    quipu_view pending = none;
    for (int64_t l = 0; l < c->n_layer; l++) {
        const quipu_layer_weights *L = &m->layers[l];
        int sliding = c->layer_sliding[l];
        /* attention block: its norm fused with the add of the previous block's output, or (OLMo 2) no norm */
        quipu_view ain = hD;
        if (L->attn_norm) {
            quipu_norm_args na = {.x = x, .y = hD, .w = W(L->attn_norm, 1, D), .b = W(L->attn_norm_b, 1, D), .residual = pending,
                                  .eps = c->norm_eps, .kind = c->norm_kind};
            RUN(quipu_op_norm(b, &na, err));
        } else {
            quipu_add_args ra = {.y = x, .x = pending};
            if (pending.buf) RUN(quipu_op_add(b, &ra, err));
            ain = x;
        }
        RUN(linear(m, ain, L->wq, QD, D, L->bq, q, 0, ws, err));
        RUN(linear(m, ain, L->wk, KD, D, L->bk, k, 0, ws, err));
        RUN(linear(m, ain, L->wv, KD, D, L->bv, v, 0, ws, err));
        if (L->q_norm) { /* per head (group HD), or over the whole projection (OLMo 2) */
            int64_t gq = c->qk_norm == 1 ? HD : 0;
            quipu_norm_args qn = {.x = q, .y = q, .w = W(L->q_norm, 1, gq ? HD : QD), .group = gq, .eps = c->norm_eps, .kind = QUIPU_NORM_RMS};
            quipu_norm_args kn = {.x = k, .y = k, .w = W(L->k_norm, 1, gq ? HD : KD), .group = gq, .eps = c->norm_eps, .kind = QUIPU_NORM_RMS};
            RUN(quipu_op_norm(b, &qn, err));
            RUN(quipu_op_norm(b, &kn, err));
        }
        if (c->rope_kind != QUIPU_ROPE_NONE) {
            float base = sliding ? c->rope_base_local : c->rope_base;
            float ps = (sliding && c->arch == QUIPU_ARCH_GEMMA3) ? 1.0f : c->rope_pos_scale;
            quipu_rope_args rq = {.x = q, .pos = lay.pos, .freq_factors = W(m->freq_factors, 1, c->n_rot / 2), .n_heads = H, .head_dim = HD,
                                  .n_rot = c->n_rot, .base = base, .pos_scale = ps, .kind = c->rope_kind};
            quipu_rope_args rk = rq;
            rk.x = k;
            rk.n_heads = HKV;
            RUN(quipu_op_rope(b, &rq, err));
            RUN(quipu_op_rope(b, &rk, err));
        }
        quipu_attention_args aa = {.q = q, .k = k, .v = v, .out = att, .lay = lay, .n_heads = H, .n_heads_kv = HKV, .head_dim = HD,
                                   .scale = c->attn_scale, .softcap = c->attn_softcap, .window = sliding ? c->sliding_window : 0,
                                   .alibi = W(m->alibi, 1, H), .causal = 1, .ws = ws};
        RUN(quipu_op_attention(b, &aa, err));
        RUN(linear(m, att, L->wo, D, QD, L->bo, o, 0, ws, err));
        RUN(tp_sum(m, o, err));
        if (L->post_attn_norm) {
            quipu_norm_args pn = {.x = o, .y = o, .w = W(L->post_attn_norm, 1, D), .eps = c->norm_eps, .kind = c->norm_kind};
            RUN(quipu_op_norm(b, &pn, err));
        }
        /* feed-forward block. Sequential: x += o, then its norm (none for OLMo 2). Parallel
         * (GPT-NeoX, Falcon): its norm of the same x the attention saw, its output added to o;
         * with one norm shared (Falcon 7B) the attention's input, still in hD, is the MLP's. */
        quipu_view fin = hD;
        if (c->parallel_residual) {
            quipu_norm_args nf = {.x = x, .y = hD, .w = W(L->ffn_norm, 1, D), .b = W(L->ffn_norm_b, 1, D), .eps = c->norm_eps,
                                  .kind = c->norm_kind};
            if (L->ffn_norm) RUN(quipu_op_norm(b, &nf, err)); /* else hD, the attention norm's output, is untouched since */
        } else if (L->ffn_norm) {
            quipu_norm_args nf = {.x = x, .y = hD, .w = W(L->ffn_norm, 1, D), .b = W(L->ffn_norm_b, 1, D), .residual = o,
                                  .eps = c->norm_eps, .kind = c->norm_kind};
            RUN(quipu_op_norm(b, &nf, err));
        } else {
            quipu_add_args ra = {.y = x, .x = o};
            RUN(quipu_op_add(b, &ra, err));
            fin = x;
        }
        if (c->layer_moe[l]) { /* no MoE architecture has a parallel residual, a post-FFN norm or tensor parallelism */
            RUN(moe_ffn(m, L, fin, o, ws, err));
            pending = o;
            continue;
        }
        RUN(linear(m, fin, L->w_up, F, D, L->b_up, u, 0, ws, err));
        quipu_view ffn_in;
        if (L->w_gate) {
            RUN(linear(m, fin, L->w_gate, F, D, NULL, g, 0, ws, err));
            quipu_act_args ac = {.gate = g, .up = u, .kind = c->act};
            RUN(quipu_op_act(b, &ac, err));
            ffn_in = g;
        } else {
            quipu_act_args ac = {.gate = u, .kind = c->act};
            RUN(quipu_op_act(b, &ac, err));
            ffn_in = u;
        }
        RUN(linear(m, ffn_in, L->w_down, D, F, L->b_down, o, c->parallel_residual, ws, err));
        RUN(tp_sum(m, o, err));
        if (L->post_ffn_norm) {
            quipu_norm_args pn = {.x = o, .y = o, .w = W(L->post_ffn_norm, 1, D), .eps = c->norm_eps, .kind = c->norm_kind};
            RUN(quipu_op_norm(b, &pn, err));
        }
        pending = o;
    }
    quipu_norm_args nfin = {.x = x, .y = hD, .w = W(m->out_norm, 1, D), .b = W(m->out_norm_b, 1, D), .residual = pending,
                            .eps = c->norm_eps, .kind = c->norm_kind};
    RUN(quipu_op_norm(b, &nfin, err));
    if (R > 0) {
        /* this member's ids [v_lo, v_lo + n_vocab_l): rows of the LM head, or of the tied embedding */
        int64_t nb = f->n_blocks, tp = m->tp_size > 1 ? m->tp_size : 1;
        quipu_view head = m->lm_head == m->tok_embd ? quipu_view_rows(WM(m, m->tok_embd, V, D), m->v_lo, m->n_vocab_l)
                                                    : WM(m, m->lm_head, m->n_vocab_l, D);
        quipu_view part = quipu_view_of(f->part, QUIPU_E_LP, R, nb);
        quipu_logprob_args la = {.h = hD, .lm_head = head, .rows = quipu_view_cols(ix, IX_N_TOKEN_VECTORS * T, R),
                                 .targets = quipu_view_cols(ix, IX_N_TOKEN_VECTORS * T + R, R),
                                 .v_lo = m->v_lo, .softcap = c->final_softcap, .part = quipu_view_cols(part, 0, (m->n_vocab_l + b->iface->lp_block - 1) / b->iface->lp_block), .ws = ws};
        quipu_combine_args ca = {.part = part, .targets = la.targets, .block = b->iface->lp_block,
                                 .logprob = quipu_view_of(f->lp, QUIPU_E_F64, 1, R), .greedy = quipu_view_of(f->greedy, QUIPU_E_U8, 1, R)};
        RUN(quipu_op_logprob_partial(b, &la, err));
        if (tp > 1) {
            /* every member's blocks, then member p's at columns [p * nb, (p + 1) * nb): the whole
             * vocabulary in block order, merged exactly as one member would (test_backend_ops) */
            quipu_view got = quipu_view_of(f->tp_part, QUIPU_E_LP, R * tp, nb), whole = quipu_view_of(f->tp_all, QUIPU_E_LP, R, nb * tp);
            quipu_allgather_args ga = {.send = part, .recv = got};
            RUN(quipu_op_allgather(b, &ga, err));
            for (int64_t p = 0; p < tp; p++) {
                quipu_copy_args cp = {.y = quipu_view_cols(whole, p * nb, nb), .x = quipu_view_rows(got, p * R, R)};
                RUN(quipu_op_copy(b, &cp, err));
            }
            ca.part = whole;
        }
        RUN(quipu_op_logprob_combine(b, &ca, err));
        RUN(quipu_backend_download(b, f->lp, 0, sl->host_lp, (size_t)R * sizeof(double), err));
        RUN(quipu_backend_download(b, f->greedy, 0, sl->host_greedy, (size_t)R, err));
    }
#undef IX
#undef RUN
    /* a non-finite log-prob (NaN or Inf in the activations) is returned as it is: the run reports
     * the item and leaves it out of the metrics (run.c), instead of stopping everything */
    return QUIPU_OK;
}

quipu_status quipu_model_forward_begin(quipu_model *m, const quipu_batch *bt, double *logprob, uint8_t *greedy, quipu_error *err) {
    quipu_backend *b = m->backend;
    if (m->fwd && m->fwd->n_pend >= QUIPU_BACKEND_SLOTS)
        return quipu_error_set(err, QUIPU_ERR_INTERNAL, "forward: a batch begun while %d are in flight (end one first)", m->fwd->n_pend);
    /* grows only for a group longer than batch_tokens, after the batches in flight (reserve) */
    quipu_status st = quipu_model_reserve(m, bt->n_tokens, bt->n_rows, err);
    if (st) return st;
    quipu_fwd *f = m->fwd;
    int s = (f->head + f->n_pend) % QUIPU_BACKEND_SLOTS;
    fwd_pending *p = &f->pend[s];
    memset(p, 0, sizeof *p);
    f->n_pend++;
    if (bt->n_tokens <= 0) { /* nothing to run: an end with no results */
        p->finished = 1;
        return QUIPU_OK;
    }
    p->n_rows = bt->n_rows;
    p->logprob = logprob;
    p->greedy = greedy;
    /* from here on a failure is the batch's, reported by its end: the same words, in batch order */
    p->st = stage_batch(m, bt, f->slot[s].host_idx, &p->err);
    if (!p->st) { /* a refused batch queues nothing */
        p->st = forward_enqueue(m, bt, s, &p->err);
        quipu_error e = {0};
        quipu_status fs = quipu_backend_fence(b, s, &e);
        if (!fs) p->fenced = 1;
        else if (!p->st) p->st = fs, p->err = e;
    }
    return QUIPU_OK;
}

quipu_status quipu_model_forward_end(quipu_model *m, quipu_error *err) {
    quipu_fwd *f = m->fwd;
    if (!f || f->n_pend == 0) return quipu_error_set(err, QUIPU_ERR_INTERNAL, "forward: an end without a batch in flight");
    int s = f->head;
    fwd_finish(m->backend, f, s);
    fwd_pending p = f->pend[s];
    memset(&f->pend[s], 0, sizeof f->pend[s]);
    f->head = (s + 1) % QUIPU_BACKEND_SLOTS;
    f->n_pend--;
    return p.st ? quipu_error_set(err, p.st, "%s", p.err.msg) : QUIPU_OK;
}

void quipu_model_forward_cancel(quipu_model *m) {
    quipu_fwd *f = m->fwd;
    if (!f) return;
    fwd_drain(m->backend, f);
    memset(f->pend, 0, sizeof f->pend);
    f->head = f->n_pend = 0;
}

quipu_status quipu_model_forward(quipu_model *m, const quipu_batch *bt, double *logprob, uint8_t *greedy, quipu_error *err) {
    if (quipu_model_forward_pending(m))
        return quipu_error_set(err, QUIPU_ERR_INTERNAL, "forward: a synchronous pass while %d batches are in flight", quipu_model_forward_pending(m));
    quipu_status st = quipu_model_forward_begin(m, bt, logprob, greedy, err);
    return st ? st : quipu_model_forward_end(m, err);
}
