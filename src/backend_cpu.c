/* backend_cpu.c — the plain-C CPU backend: fp32 compute, loops parallel with OpenMP. It is the
 * reference every GPU kernel is checked against, so it favours clarity, and it is batch
 * invariant: a row's result never depends on its neighbours. GEMMs go through gemm_cpu.c,
 * whose summation order is fixed per element (an optimized BLAS sums a row differently at other
 * positions of the same call, which made results depend on the batch); attention, norms and
 * log-softmax are per-row loops. tests/test_batch_invariance.sh checks the property end to end.
 * Shape letters as in backend.h. */
#include "backend.h"
#include "gemm_cpu.h"
#include "quant.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define QUIPU_CPU_VOCAB_CHUNK 4096

struct quipu_buf {
    size_t size;
    void *data;
};


static quipu_buf *cpu_buf_alloc(quipu_backend *b, size_t n_bytes, quipu_error *err) {
    quipu_buf *buf = calloc(1, sizeof *buf);
    if (!buf) goto fail;
    /* 64-byte alignment for vector loads; size rounded up as aligned_alloc requires */
    size_t sz = (n_bytes + 63) & ~(size_t)63;
    buf->data = aligned_alloc(64, sz ? sz : 64);
    if (!buf->data) goto fail;
    buf->size = n_bytes;
    return buf;
fail:
    free(buf);
    quipu_error_set(err, QUIPU_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes", n_bytes);
    return NULL;
}

static void cpu_buf_free(quipu_backend *b, quipu_buf *buf) {
    if (!buf) return;
    free(buf->data);
    free(buf);
}

static void *cpu_buf_host_ptr(quipu_buf *buf) { return buf ? buf->data : NULL; }

static quipu_status cpu_buf_write(quipu_backend *b, quipu_buf *dst, size_t off, const void *src, size_t n, quipu_error *err) {
    if (off > dst->size || n > dst->size - off)
        return quipu_error_set(err, QUIPU_ERR_INTERNAL, "cpu backend: write of %zu bytes at %zu past buffer of %zu", n, off, dst->size);
    memcpy((char *)dst->data + off, src, n);
    return QUIPU_OK;
}

static quipu_status cpu_buf_read(quipu_backend *b, const quipu_buf *src, size_t off, void *dst, size_t n, quipu_error *err) {
    if (off > src->size || n > src->size - off)
        return quipu_error_set(err, QUIPU_ERR_INTERNAL, "cpu backend: read of %zu bytes at %zu past buffer of %zu", n, off, src->size);
    memcpy(dst, (const char *)src->data + off, n);
    return QUIPU_OK;
}

static size_t cpu_buf_size(const quipu_buf *buf) { return buf ? buf->size : 0; }

/* element 0 of a view (NULL when absent); the wrappers of backend.c have checked its bounds */
static void *P(quipu_view v) { return v.buf ? (char *)v.buf->data + v.off : NULL; }
#define F32(v) ((float *)P(v))
#define I32(v) ((int32_t *)P(v))

/* the workspace: per-thread attention scratch, the log-prob's gathered rows and logits block,
 * a matmul's product before accumulation; the ops share it, one at a time */
static size_t cpu_workspace_bytes(quipu_backend *b, const quipu_ws_dims *d) {
    size_t T = (size_t)d->max_tokens, R = (size_t)d->max_rows;
    size_t att = (size_t)b->n_threads * T * (sizeof(float) + sizeof(int32_t));
    size_t lp = R * (size_t)d->dim * sizeof(float) + R * QUIPU_CPU_VOCAB_CHUNK * sizeof(float);
    size_t mm = T * (size_t)d->max_width * sizeof(float);
    size_t m = att > lp ? att : lp;
    return m > mm ? m : mm;
}

static quipu_status need_ws(const quipu_view *ws, size_t n, const char *op, quipu_error *err) {
    size_t have = ws->buf ? ws->buf->size - ws->off : 0;
    if (n <= have) return QUIPU_OK;
    return quipu_error_set(err, QUIPU_ERR_INTERNAL, "cpu backend: %s needs %zu bytes of workspace, has %zu", op, n, have);
}

static quipu_status cpu_embed(quipu_backend *b, const quipu_embed_args *a, quipu_error *err) {
    const int32_t *id = I32(a->ids);
    int64_t T = a->out.rows, D = a->out.cols, V = a->table.rows;
    for (int64_t t = 0; t < T; t++)
        if (id[t] < 0 || id[t] >= V)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "token id %d outside the embedding table (%lld rows)", id[t], (long long)V);
    float *o = F32(a->out);
    const float *tab = F32(a->table);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; t++) {
        const float *row = tab + (int64_t)id[t] * a->table.ld;
        float *ot = o + t * a->out.ld;
        for (int64_t i = 0; i < D; i++) ot[i] = row[i] * a->scale;
    }
    return QUIPU_OK;
}

static quipu_status cpu_add(quipu_backend *b, const quipu_add_args *a, quipu_error *err) {
    float *y = F32(a->y);
    const float *x = F32(a->x);
    int64_t n = a->y.cols;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < a->y.rows; r++)
        for (int64_t i = 0; i < n; i++) y[r * a->y.ld + i] += x[r * a->x.ld + i];
    return QUIPU_OK;
}

/* y[T, N] = x[T, K] w^T (+ bias) (+ y), the GEMM batch invariant (gemm_cpu.h) */
static quipu_status cpu_matmul(quipu_backend *b, const quipu_matmul_args *a, quipu_error *err) {
    const float *x = F32(a->x), *w = F32(a->w), *bias = F32(a->bias);
    float *y = F32(a->y);
    int64_t T = a->x.rows, K = a->x.cols, N = a->w.rows, ldy = a->y.ld;
    if (T <= 0) return QUIPU_OK;
    if (a->accumulate) {
        quipu_status st = need_ws(&a->ws, (size_t)(T * N) * sizeof(float), "matmul", err);
        if (st) return st;
        float *tmp = F32(a->ws);
        quipu_gemm_cpu_ld(tmp, N, x, a->x.ld, w, T, K, N);
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < N; j++) y[t * ldy + j] += tmp[t * N + j] + (bias ? bias[j] : 0.0f);
        return QUIPU_OK;
    }
    quipu_gemm_cpu_ld(y, ldy, x, a->x.ld, w, T, K, N);
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < N; j++) y[t * ldy + j] += bias[j];
    }
    return QUIPU_OK;
}

static quipu_status cpu_norm(quipu_backend *b, const quipu_norm_args *a, quipu_error *err) {
    float *x = F32(a->x), *y = F32(a->y);
    const float *res = F32(a->residual), *w = F32(a->w), *bb = F32(a->b);
    int64_t C = a->x.cols, D = a->group > 0 ? a->group : C, G = C / D;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < a->x.rows; r++) {
        float *xr0 = x + r * a->x.ld;
        float *yr0 = y + r * a->y.ld;
        if (res)
            for (int64_t i = 0; i < C; i++) xr0[i] += res[r * a->residual.ld + i];
        for (int64_t g = 0; g < G; g++) {
            const float *xr = xr0 + g * D;
            float *yr = yr0 + g * D;
            if (a->kind == QUIPU_NORM_RMS) {
                double ss = 0.0;
                for (int64_t i = 0; i < D; i++) ss += (double)xr[i] * xr[i];
                float inv = (float)(1.0 / sqrt(ss / (double)D + (double)a->eps));
                for (int64_t i = 0; i < D; i++) yr[i] = xr[i] * inv * (w ? w[i] : 1.0f);
            } else {
                double mean = 0.0, var = 0.0;
                for (int64_t i = 0; i < D; i++) mean += xr[i];
                mean /= (double)D;
                for (int64_t i = 0; i < D; i++) var += ((double)xr[i] - mean) * ((double)xr[i] - mean);
                var /= (double)D;
                float inv = (float)(1.0 / sqrt(var + (double)a->eps));
                for (int64_t i = 0; i < D; i++) yr[i] = (float)((double)xr[i] - mean) * inv * (w ? w[i] : 1.0f) + (bb ? bb[i] : 0.0f);
            }
        }
    }
    return QUIPU_OK;
}

static quipu_status cpu_rope(quipu_backend *b, const quipu_rope_args *a, quipu_error *err) {
    float *x = F32(a->x);
    const int32_t *pos = I32(a->pos);
    const float *ff = F32(a->freq_factors);
    int64_t HD = a->head_dim, half = a->n_rot / 2;
    if (a->kind == QUIPU_ROPE_NONE) return QUIPU_OK;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < a->x.rows; t++) {
        double p = (double)pos[t] * (double)a->pos_scale;
        for (int64_t i = 0; i < half; i++) {
            /* inv_freq as HF computes it: base^(-2i/n_rot) in fp32 */
            float inv = 1.0f / powf(a->base, (float)(2 * i) / (float)a->n_rot);
            if (ff) inv /= ff[i];
            float ang = (float)(p * (double)inv);
            float cs = cosf(ang), sn = sinf(ang);
            for (int64_t h = 0; h < a->n_heads; h++) {
                float *xh = x + t * a->x.ld + h * HD;
                int64_t i0, i1;
                if (a->kind == QUIPU_ROPE_NORM) {
                    i0 = 2 * i;
                    i1 = 2 * i + 1;
                } else {
                    i0 = i;
                    i1 = i + half;
                }
                float x0 = xh[i0], x1 = xh[i1];
                xh[i0] = x0 * cs - x1 * sn;
                xh[i1] = x1 * cs + x0 * sn;
            }
        }
    }
    return QUIPU_OK;
}

static quipu_status cpu_attention(quipu_backend *b, const quipu_attention_args *a, quipu_error *err) {
    const float *q = F32(a->q), *k = F32(a->k), *v = F32(a->v), *slope = F32(a->alibi);
    float *out = F32(a->out);
    const int32_t *pos = I32(a->lay.pos), *seg_lo = I32(a->lay.seg_lo), *seg_hi = I32(a->lay.seg_hi);
    const int32_t *pre_lo = I32(a->lay.pre_lo), *pre_hi = I32(a->lay.pre_hi);
    int64_t T = a->q.rows, H = a->n_heads, HKV = a->n_heads_kv, HD = a->head_dim, group = H / HKV;
    int64_t ldq = a->q.ld, ldk = a->k.ld, ldv = a->v.ld, ldo = a->out.ld;
    int nth = b->n_threads;
    for (int64_t t = 0; t < T; t++) /* the ranges index the batch: checked before any key is read */
        if (seg_lo[t] < 0 || seg_lo[t] > t || seg_hi[t] <= t || seg_hi[t] > T || pre_lo[t] < 0 || pre_hi[t] < pre_lo[t] || pre_hi[t] > seg_lo[t])
            return quipu_error_set(err, QUIPU_ERR_INTERNAL, "cpu backend: attention ranges of token %lld are outside the batch", (long long)t);
    /* a query sees at most its prefix and its own segment: fewer than T keys */
    quipu_status st = need_ws(&a->ws, (size_t)nth * (size_t)T * (sizeof(float) + sizeof(int32_t)), "attention", err);
    if (st) return st;
    float *sc_all = F32(a->ws);
    int32_t *key_all = (int32_t *)(sc_all + (size_t)nth * (size_t)T);
#pragma omp parallel num_threads(nth)
    {
        float *sc = sc_all + (size_t)omp_get_thread_num() * (size_t)T;
        int32_t *key = key_all + (size_t)omp_get_thread_num() * (size_t)T;
#pragma omp for collapse(2) schedule(dynamic, 16)
        for (int64_t t = 0; t < T; t++) {
            for (int64_t h = 0; h < H; h++) {
                /* the visible keys, in order: shared prefix, then the own segment */
                int64_t nk = 0, hi = a->causal ? t + 1 : seg_hi[t];
                for (int64_t s = pre_lo[t]; s < pre_hi[t]; s++)
                    if (a->window <= 0 || pos[t] - pos[s] < a->window) key[nk++] = (int32_t)s;
                for (int64_t s = seg_lo[t]; s < hi; s++) {
                    int32_t dp = pos[t] - pos[s];
                    if (a->window <= 0 || (dp < 0 ? -dp : dp) < a->window) key[nk++] = (int32_t)s;
                }
                const float *qt = q + t * ldq + h * HD;
                int64_t hk = h / group;
                float mx = -INFINITY;
                for (int64_t j = 0; j < nk; j++) {
                    const float *kj = k + (int64_t)key[j] * ldk + hk * HD;
                    float d = 0.0f;
                    for (int64_t i = 0; i < HD; i++) d += qt[i] * kj[i];
                    d *= a->scale;
                    if (a->softcap > 0.0f) d = a->softcap * tanhf(d / a->softcap);
                    if (slope) d += slope[h] * (float)(pos[key[j]] - pos[t]);
                    sc[j] = d;
                    if (d > mx) mx = d;
                }
                float sum = 0.0f;
                for (int64_t j = 0; j < nk; j++) {
                    float e = expf(sc[j] - mx);
                    sc[j] = e;
                    sum += e;
                }
                float inv = 1.0f / sum;
                float *ot = out + t * ldo + h * HD;
                for (int64_t i = 0; i < HD; i++) ot[i] = 0.0f;
                for (int64_t j = 0; j < nk; j++) {
                    const float *vj = v + (int64_t)key[j] * ldv + hk * HD;
                    float p = sc[j] * inv;
                    for (int64_t i = 0; i < HD; i++) ot[i] += p * vj[i];
                }
            }
        }
    }
    return QUIPU_OK;
}

static inline float act_apply(float x, quipu_act_kind kind) {
    switch (kind) {
    case QUIPU_ACT_SILU: return x / (1.0f + expf(-x));
    case QUIPU_ACT_GELU_TANH: {
        const float c = 0.7978845608028654f; /* sqrt(2/pi) */
        return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
    }
    case QUIPU_ACT_GELU_ERF: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    }
    return x;
}

static quipu_status cpu_act(quipu_backend *b, const quipu_act_args *a, quipu_error *err) {
    float *g = F32(a->gate);
    const float *u = F32(a->up);
    int64_t n = a->gate.cols;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < a->gate.rows; r++)
        for (int64_t i = 0; i < n; i++) {
            float y = act_apply(g[r * a->gate.ld + i], a->kind);
            g[r * a->gate.ld + i] = u ? y * u[r * a->up.ld + i] : y;
        }
    return QUIPU_OK;
}

/* per row and block of QUIPU_CPU_VOCAB_CHUNK ids: the block's logits by one GEMM, then its max,
 * first argmax, sum of exp in double and the target's logit */
static quipu_status cpu_logprob_partial(quipu_backend *b, const quipu_logprob_args *a, quipu_error *err) {
    const float *h = F32(a->h), *wl = F32(a->lm_head);
    const int32_t *rows = I32(a->rows), *tg = I32(a->targets);
    int64_t D = a->h.cols, V = a->lm_head.rows, R = a->rows.cols, nb = a->part.cols;
    const int64_t CH = QUIPU_CPU_VOCAB_CHUNK;
    if (R <= 0) return QUIPU_OK;
    for (int64_t r = 0; r < R; r++)
        if (rows[r] < 0 || rows[r] >= a->h.rows)
            return quipu_error_set(err, QUIPU_ERR_INTERNAL, "cpu backend: scored row %d outside the %lld hidden states", rows[r], (long long)a->h.rows);
    quipu_status st = need_ws(&a->ws, (size_t)(R * D + R * CH) * sizeof(float), "logprob", err);
    if (st) return st;
    float *x = F32(a->ws), *lg = x + R * D;
    quipu_lp_partial *part = P(a->part);
    for (int64_t r = 0; r < R; r++) memcpy(x + r * D, h + (int64_t)rows[r] * a->h.ld, (size_t)D * sizeof(float));
    for (int64_t j = 0; j < nb; j++) {
        int64_t v0 = j * CH, nv = V - v0 < CH ? V - v0 : CH;
        quipu_gemm_cpu(lg, CH, x, wl + v0 * D, R, D, nv);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < R; r++) {
            float *l = lg + r * CH;
            if (a->softcap > 0.0f)
                for (int64_t i = 0; i < nv; i++) l[i] = a->softcap * tanhf(l[i] / a->softcap);
            float cm = -INFINITY;
            int64_t ci = -1;
            for (int64_t i = 0; i < nv; i++)
                if (l[i] > cm) { /* strict: the first maximum wins, as argmax does */
                    cm = l[i];
                    ci = i;
                }
            double s = 0.0;
            for (int64_t i = 0; i < nv; i++) s += exp((double)l[i] - (double)cm);
            int64_t t = (int64_t)tg[r] - a->v_lo - v0;
            quipu_lp_partial *p = &part[r * a->part.ld + j];
            p->max = cm;
            p->sumexp = s;
            p->target = t >= 0 && t < nv ? (double)l[t] : 0.0;
            p->amax_v = cm;
            p->amax_i = (int32_t)(a->v_lo + v0 + ci);
        }
    }
    return QUIPU_OK;
}

static quipu_status cpu_logprob_combine(quipu_backend *b, const quipu_combine_args *a, quipu_error *err) {
    const quipu_lp_partial *part = P(a->part);
    const int32_t *tg = I32(a->targets);
    double *lp = P(a->logprob);
    uint8_t *gr = P(a->greedy);
    int64_t nb = a->part.cols;
    for (int64_t r = 0; r < a->targets.cols; r++) {
        const quipu_lp_partial *p = part + r * a->part.ld;
        int64_t tb = tg[r] / a->block;
        if (tg[r] < 0 || tb >= nb)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "target token id %d outside the vocabulary (%lld)", tg[r], (long long)(nb * a->block));
        double m = -INFINITY, s = 0.0;
        float best = -INFINITY;
        int32_t arg = -1;
        for (int64_t j = 0; j < nb; j++)
            if (p[j].max > m) m = p[j].max;
        for (int64_t j = 0; j < nb; j++) {
            if (p[j].max != -INFINITY) s += p[j].sumexp * exp(p[j].max - m);
            if (p[j].amax_v > best) {
                best = p[j].amax_v;
                arg = p[j].amax_i;
            }
        }
        lp[r] = p[tb].target - (m + log(s));
        gr[r] = (uint8_t)(arg == tg[r]);
    }
    return QUIPU_OK;
}

/* rows of ggml blocks to fp32 rows: the plain-C dequantizer itself (the wrapper let only F32
 * through: this backend computes in f32) */
static quipu_status cpu_dequant(quipu_backend *b, const quipu_dequant_args *a, quipu_error *err) {
    const uint8_t *src = P(a->src);
    float *dst = P(a->dst);
    /* rows on the threads (each row's values are the same whoever computes it); quipu_op_dequant
     * has checked the type and the shapes, so a row can fail only as every row would */
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int64_t r = 0; r < a->dst.rows; r++) {
        quipu_error e = {0};
        bad |= quipu_dequantize(a->qtype, src + r * a->src.ld, dst + r * a->dst.ld, (uint64_t)a->dst.cols, &e) != QUIPU_OK;
    }
    if (!bad) return QUIPU_OK;
    quipu_status st = quipu_dequantize(a->qtype, src, dst, (uint64_t)a->dst.cols, err); /* its message, from the first row */
    return st ? st : quipu_error_set(err, QUIPU_ERR_INTERNAL, "dequant: a row of %s blocks failed", quipu_dtype_name(a->qtype));
}

static quipu_status cpu_copy(quipu_backend *b, const quipu_copy_args *a, quipu_error *err) {
    size_t es = quipu_etype_size(a->x.type), row = (size_t)a->x.cols * es;
    const char *x = P(a->x);
    char *y = P(a->y);
    for (int64_t r = 0; r < a->x.rows; r++) memmove(y + (size_t)r * (size_t)a->y.ld * es, x + (size_t)r * (size_t)a->x.ld * es, row);
    return QUIPU_OK;
}

/* the group's MPI all-gather on the host buffers (comm.c) */
static quipu_status cpu_allgather(quipu_backend *b, const quipu_allgather_args *a, quipu_error *err) {
    size_t n = (size_t)a->send.rows * (size_t)a->send.cols * quipu_etype_size(a->send.type);
    if (!b->group) {
        memmove(P(a->recv), P(a->send), n);
        return QUIPU_OK;
    }
    return quipu_comm_group_allgather(b->group, P(a->send), n, P(a->recv), err);
}

/* top-k routing, one token per iteration (backend.h): the softmax, k passes of a strict maximum
 * (the lower index keeps a tie), the weights renormalized in the order chosen, then the choice
 * written in ascending expert order, which is the order moe_combine adds the experts in */
#define QUIPU_CPU_MAX_EXPERTS 1024
static quipu_status cpu_moe_route(quipu_backend *b, const quipu_moe_route_args *a, quipu_error *err) {
    const float *lg = F32(a->logits);
    int32_t *ids = I32(a->ids);
    float *wt = F32(a->weights);
    int64_t T = a->logits.rows, E = a->logits.cols, K = a->ids.cols;
    if (E > QUIPU_CPU_MAX_EXPERTS)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "cpu backend: moe_route handles at most %d experts (got %lld)", QUIPU_CPU_MAX_EXPERTS,
                               (long long)E);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; t++) {
        const float *l = lg + t * a->logits.ld;
        float p[QUIPU_CPU_MAX_EXPERTS];
        uint8_t taken[QUIPU_CPU_MAX_EXPERTS];
        int32_t sel[QUIPU_CPU_MAX_EXPERTS];
        float mx = -INFINITY;
        for (int64_t e = 0; e < E; e++)
            if (l[e] > mx) mx = l[e];
        double sum = 0.0;
        for (int64_t e = 0; e < E; e++) {
            p[e] = expf(l[e] - mx);
            sum += p[e];
            taken[e] = 0;
        }
        for (int64_t e = 0; e < E; e++) p[e] = (float)((double)p[e] / sum);
        float ksum = 0.0f;
        for (int64_t j = 0; j < K; j++) {
            int64_t best = -1;
            for (int64_t e = 0; e < E; e++)
                if (!taken[e] && (best < 0 || p[e] > p[best])) best = e;
            taken[best] = 1;
            sel[j] = (int32_t)best;
            ksum += p[best];
        }
        for (int64_t j = 1; j < K; j++) /* ascending expert index */
            for (int64_t i = j; i > 0 && sel[i - 1] > sel[i]; i--) {
                int32_t x = sel[i];
                sel[i] = sel[i - 1];
                sel[i - 1] = x;
            }
        for (int64_t j = 0; j < K; j++) {
            ids[t * a->ids.ld + j] = sel[j];
            wt[t * a->weights.ld + j] = a->norm ? p[sel[j]] / ksum : p[sel[j]];
        }
    }
    return QUIPU_OK;
}

/* the chosen experts' rows weighted and added in slot order, then the gated shared expert */
static quipu_status cpu_moe_combine(quipu_backend *b, const quipu_moe_combine_args *a, quipu_error *err) {
    const float *y = F32(a->y), *w = F32(a->weights), *sh = F32(a->shared), *sg = F32(a->shared_gate);
    const int32_t *slot = I32(a->slot);
    float *out = F32(a->out);
    int64_t T = a->out.rows, D = a->out.cols, K = a->slot.cols, S = a->y.rows;
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < K; j++)
            if (slot[t * a->slot.ld + j] < 0 || slot[t * a->slot.ld + j] >= S)
                return quipu_error_set(err, QUIPU_ERR_INTERNAL, "cpu backend: moe_combine: slot %d of token %lld outside the %lld expert rows",
                                       slot[t * a->slot.ld + j], (long long)t, (long long)S);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; t++) {
        const int32_t *st = slot + t * a->slot.ld;
        const float *wt = w + t * a->weights.ld;
        float gate = sh ? 1.0f / (1.0f + expf(-sg[t * a->shared_gate.ld])) : 0.0f;
        float *ot = out + t * a->out.ld;
        for (int64_t d = 0; d < D; d++) {
            float acc = 0.0f;
            for (int64_t j = 0; j < K; j++) {
                float pr = wt[j] * y[(int64_t)st[j] * a->y.ld + d];
                acc += pr;
            }
            if (sh) {
                float sp = gate * sh[t * a->shared.ld + d];
                acc += sp;
            }
            ot[d] = acc;
        }
    }
    return QUIPU_OK;
}

static quipu_status cpu_sync(quipu_backend *b, quipu_error *err) { return QUIPU_OK; }

static void cpu_free(quipu_backend *b) {
    free(b);
}

static const quipu_backend_i cpu_iface = {
    .name = "cpu",
    .lp_block = QUIPU_CPU_VOCAB_CHUNK,
    .free = cpu_free,
    .buf_alloc = cpu_buf_alloc,
    .buf_free = cpu_buf_free,
    .buf_host_ptr = cpu_buf_host_ptr,
    .buf_size = cpu_buf_size,
    .workspace_bytes = cpu_workspace_bytes,
    .buf_write = cpu_buf_write,
    .buf_read = cpu_buf_read,
    .embed = cpu_embed,
    .add = cpu_add,
    .matmul = cpu_matmul,
    .norm = cpu_norm,
    .rope = cpu_rope,
    .attention = cpu_attention,
    .act = cpu_act,
    .logprob_partial = cpu_logprob_partial,
    .logprob_combine = cpu_logprob_combine,
    .dequant = cpu_dequant,
    .copy = cpu_copy,
    .allgather = cpu_allgather,
    .moe_route = cpu_moe_route,
    .moe_combine = cpu_moe_combine,
    .sync = cpu_sync,
};

quipu_status quipu_backend_cpu_init(quipu_backend **out, int n_threads, quipu_error *err) {
    *out = NULL;
    quipu_backend *b = calloc(1, sizeof *b);
    if (!b) return quipu_error_set(err, QUIPU_ERR_NOMEM, "cpu backend: out of memory");
    b->iface = &cpu_iface;
    b->n_threads = n_threads > 0 ? n_threads : omp_get_max_threads();
    omp_set_num_threads(b->n_threads);
    *out = b;
    return QUIPU_OK;
}
