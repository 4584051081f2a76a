/* backend_cpu.c — the plain-C CPU backend: fp32 compute, loops parallel with OpenMP. It is the
 * reference every GPU kernel is checked against, so it favours clarity, and it is batch
 * invariant: a row's result never depends on its neighbours. GEMMs go through gemm_cpu.c,
 * whose summation order is fixed per element (an optimized BLAS sums a row differently at other
 * positions of the same call, which made results depend on the batch); attention, norms and
 * log-softmax are per-row loops. tests/test_batch_invariance.sh checks the property end to end.
 * Shape letters as in backend.h. */
#include "backend.h"
#include "gemm_cpu.h"

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

static quipu_status cpu_embed(quipu_backend *b, quipu_buf *out, const quipu_buf *table, const quipu_buf *ids,
                              int64_t n_tokens, int64_t dim, float scale, quipu_error *err) {
    float *o = out->data;              /* [T, D] */
    const float *tab = table->data;    /* [V, D] */
    const int32_t *id = ids->data;     /* [T] */
    int64_t n_vocab = (int64_t)(table->size / sizeof(float) / (size_t)dim);
    for (int64_t t = 0; t < n_tokens; t++)
        if (id[t] < 0 || id[t] >= n_vocab)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "token id %d outside the embedding table (%lld rows)", id[t], (long long)n_vocab);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < n_tokens; t++) {
        const float *row = tab + (int64_t)id[t] * dim;
        for (int64_t i = 0; i < dim; i++) o[t * dim + i] = row[i] * scale;
    }
    return QUIPU_OK;
}

static quipu_status cpu_add(quipu_backend *b, quipu_buf *y, const quipu_buf *x, int64_t n, quipu_error *err) {
    float *yy = y->data;
    const float *xx = x->data;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) yy[i] += xx[i];
    return QUIPU_OK;
}

/* y[T, n_out] = x[T, n_in] w^T (+ bias) (+ y), the GEMM batch invariant (gemm_cpu.h) */
static quipu_status cpu_matmul(quipu_backend *b, const quipu_matmul_args *a, quipu_error *err) {
    const float *x = (const float *)a->x->data + a->x_off;
    const float *w = a->w->data;
    const float *bias = a->bias ? a->bias->data : NULL;
    float *y = (float *)a->y->data + a->y_off;
    int64_t T = a->n_tokens, n_out = a->n_out;
    if (T <= 0) return QUIPU_OK;
    if (a->accumulate) {
        float *tmp = malloc((size_t)(T * n_out) * sizeof(float));
        if (!tmp) return quipu_error_set(err, QUIPU_ERR_NOMEM, "cpu backend: out of memory");
        quipu_gemm_cpu(tmp, n_out, x, w, T, a->n_in, n_out);
        for (int64_t i = 0; i < T * n_out; i++) y[i] += tmp[i] + (bias ? bias[i % n_out] : 0.0f);
        free(tmp);
        return QUIPU_OK;
    }
    quipu_gemm_cpu(y, n_out, x, w, T, a->n_in, n_out);
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < n_out; j++) y[t * n_out + j] += bias[j];
    }
    return QUIPU_OK;
}

static quipu_status cpu_norm(quipu_backend *b, const quipu_norm_args *a, quipu_error *err) {
    const float *x = a->x->data;
    float *y = a->y->data;
    const float *w = a->w ? a->w->data : NULL;
    const float *bb = a->b ? a->b->data : NULL;
    int64_t D = a->dim;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < a->n_rows; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
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
            for (int64_t i = 0; i < D; i++)
                yr[i] = (float)((double)xr[i] - mean) * inv * (w ? w[i] : 1.0f) + (bb ? bb[i] : 0.0f);
        }
    }
    return QUIPU_OK;
}

static quipu_status cpu_rope(quipu_backend *b, const quipu_rope_args *a, quipu_error *err) {
    float *x = a->x->data;
    const int32_t *pos = a->pos->data;
    const float *ff = a->freq_factors ? a->freq_factors->data : NULL;
    int64_t HD = a->head_dim, half = a->n_rot / 2;
    if (a->kind == QUIPU_ROPE_NONE) return QUIPU_OK;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < a->n_tokens; t++) {
        double p = (double)pos[t] * (double)a->pos_scale;
        for (int64_t i = 0; i < half; i++) {
            /* inv_freq as HF computes it: base^(-2i/n_rot) in fp32 */
            float inv = 1.0f / powf(a->base, (float)(2 * i) / (float)a->n_rot);
            if (ff) inv /= ff[i];
            float ang = (float)(p * (double)inv);
            float cs = cosf(ang), sn = sinf(ang);
            for (int64_t h = 0; h < a->n_heads; h++) {
                float *xh = x + (t * a->n_heads + h) * HD;
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
    const float *q = a->q->data, *k = a->k->data, *v = a->v->data;
    float *out = a->out->data;
    int64_t T = a->n_tokens, H = a->n_heads, HKV = a->n_heads_kv, HD = a->head_dim, group = H / HKV;
    int64_t max_keys = 1;
    for (int64_t t = 0; t < T; t++) {
        int64_t nk = (int64_t)(a->pre_hi[t] - a->pre_lo[t]) + (t - a->seg_lo[t] + 1);
        if (nk > max_keys) max_keys = nk;
    }
    int failed = 0;
#pragma omp parallel
    {
        float *sc = malloc((size_t)max_keys * sizeof(float));
        int32_t *key = malloc((size_t)max_keys * sizeof(int32_t));
        if (!sc || !key) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for collapse(2) schedule(dynamic, 16)
        for (int64_t t = 0; t < T; t++) {
            for (int64_t h = 0; h < H; h++) {
                if (!sc || !key) continue;
                /* the visible keys, in order: shared prefix, then the own segment up to t */
                int64_t nk = 0;
                for (int64_t s = a->pre_lo[t]; s < a->pre_hi[t]; s++)
                    if (a->window <= 0 || a->pos[t] - a->pos[s] < a->window) key[nk++] = (int32_t)s;
                for (int64_t s = a->seg_lo[t]; s <= t; s++)
                    if (a->window <= 0 || a->pos[t] - a->pos[s] < a->window) key[nk++] = (int32_t)s;
                const float *qt = q + (t * H + h) * HD;
                int64_t hk = h / group;
                float mx = -INFINITY;
                for (int64_t j = 0; j < nk; j++) {
                    const float *kj = k + ((int64_t)key[j] * HKV + hk) * HD;
                    float d = 0.0f;
                    for (int64_t i = 0; i < HD; i++) d += qt[i] * kj[i];
                    d *= a->scale;
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
                float *ot = out + (t * H + h) * HD;
                for (int64_t i = 0; i < HD; i++) ot[i] = 0.0f;
                for (int64_t j = 0; j < nk; j++) {
                    const float *vj = v + ((int64_t)key[j] * HKV + hk) * HD;
                    float p = sc[j] * inv;
                    for (int64_t i = 0; i < HD; i++) ot[i] += p * vj[i];
                }
            }
        }
        free(sc);
        free(key);
    }
    if (failed) return quipu_error_set(err, QUIPU_ERR_NOMEM, "cpu backend: attention scratch allocation failed");
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
    float *g = a->gate->data;
    const float *u = a->up ? a->up->data : NULL;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < a->n; i++) {
        float y = act_apply(g[i], a->kind);
        g[i] = u ? y * u[i] : y;
    }
    return QUIPU_OK;
}

static quipu_status cpu_logprob(quipu_backend *b, const quipu_logprob_args *a, quipu_error *err) {
    const float *h = a->h->data, *wl = a->lm_head->data;
    int64_t D = a->dim, V = a->n_vocab, R = a->n_rows;
    const int64_t CH = QUIPU_CPU_VOCAB_CHUNK;
    if (R <= 0) return QUIPU_OK;
    for (int64_t r = 0; r < R; r++)
        if (a->targets[r] < 0 || a->targets[r] >= V)
            return quipu_error_set(err, QUIPU_ERR_INVALID, "target token id %d outside the vocabulary (%lld)", a->targets[r], (long long)V);
    float *x = calloc((size_t)(R * D), sizeof(float));
    float *lg = malloc((size_t)(R * CH) * sizeof(float));
    double *mx = malloc((size_t)R * sizeof(double)), *sum = calloc((size_t)R, sizeof(double)), *tgt = calloc((size_t)R, sizeof(double));
    float *amax_v = malloc((size_t)R * sizeof(float));
    int64_t *amax_i = malloc((size_t)R * sizeof(int64_t));
    quipu_status st = QUIPU_OK;
    if (!x || !lg || !mx || !sum || !tgt || !amax_v || !amax_i) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "cpu backend: cannot allocate the log-prob scratch for %lld rows", (long long)R);
        goto done;
    }
    for (int64_t r = 0; r < R; r++) {
        memcpy(x + r * D, h + (int64_t)a->rows[r] * D, (size_t)D * sizeof(float));
        mx[r] = -INFINITY;
        amax_v[r] = -INFINITY;
        amax_i[r] = -1;
    }
    /* vocabulary chunks at fixed boundaries; per row an online log-sum-exp in double */
    for (int64_t v0 = 0; v0 < V; v0 += CH) {
        int64_t nv = V - v0 < CH ? V - v0 : CH;
        quipu_gemm_cpu(lg, CH, x, wl + v0 * D, R, D, nv);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < R; r++) {
            const float *l = lg + r * CH;
            float cm = -INFINITY;
            int64_t ci = -1;
            for (int64_t j = 0; j < nv; j++)
                if (l[j] > cm) {
                    cm = l[j];
                    ci = j;
                }
            if (cm > amax_v[r]) { /* strict: the first maximum wins, as argmax does */
                amax_v[r] = cm;
                amax_i[r] = v0 + ci;
            }
            double m_new = (double)cm > mx[r] ? (double)cm : mx[r];
            double s = 0.0;
            for (int64_t j = 0; j < nv; j++) s += exp((double)l[j] - m_new);
            sum[r] = (mx[r] == -INFINITY ? 0.0 : sum[r] * exp(mx[r] - m_new)) + s;
            mx[r] = m_new;
            int32_t t = a->targets[r];
            if (t >= v0 && t < v0 + nv) tgt[r] = l[t - v0];
        }
    }
    for (int64_t r = 0; r < R; r++) {
        a->logprob[r] = tgt[r] - (mx[r] + log(sum[r]));
        a->greedy[r] = (uint8_t)(amax_i[r] == a->targets[r]);
        if (!isfinite(a->logprob[r])) {
            st = quipu_error_set(err, QUIPU_ERR_NUMERIC, "non-finite log-probability (NaN or Inf in activations or weights)");
            break;
        }
    }
done:
    free(x);
    free(lg);
    free(mx);
    free(sum);
    free(tgt);
    free(amax_v);
    free(amax_i);
    return st;
}

static quipu_status cpu_sync(quipu_backend *b, quipu_error *err) { return QUIPU_OK; }

static void cpu_free(quipu_backend *b) {
    free(b);
}

static const quipu_backend_i cpu_iface = {
    .name = "cpu",
    .free = cpu_free,
    .buf_alloc = cpu_buf_alloc,
    .buf_free = cpu_buf_free,
    .buf_host_ptr = cpu_buf_host_ptr,
    .buf_write = cpu_buf_write,
    .buf_read = cpu_buf_read,
    .embed = cpu_embed,
    .add = cpu_add,
    .matmul = cpu_matmul,
    .norm = cpu_norm,
    .rope = cpu_rope,
    .attention = cpu_attention,
    .act = cpu_act,
    .logprob = cpu_logprob,
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
