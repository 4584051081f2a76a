/* backend_cuda.cu — the GPU backend (CUDA, and HIP from the same source through vendor.h): the
 * quipu_backend_i ops of src/backend.h on device memory, one stream per rank, every op a kernel
 * of its own file in kernels/. This version runs fp32 end to end (the exact mode, `dtype: f32`):
 * its GEMM is the fixed-order tile of tile.cuh, so results never depend on the batch. One rank
 * drives one device: the node-local rank (QUIPU_LOCAL_RANK, else SLURM_LOCALID, else
 * OMPI_COMM_WORLD_LOCAL_RANK, else 0) picks it among the devices visible to the process
 * (CUDA_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES as Slurm sets them). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

extern "C" {
#include "backend.h"
}

#if defined(__HIPCC__) || defined(QUIPU_HIP_BUILD)
#define QP_NAME "hip"
#else
#define QP_NAME "cuda"
#endif

struct quipu_buf {
    size_t size;
    void *d;
};

typedef struct gpu_ctx {
    qpStream_t stream;
    int device;
    int *d_bad;             /* set by kernels that find bad input (token ids) */
    /* per-call uploads of the host arrays the interface passes (attention ranges, scored rows),
     * grown as needed */
    int32_t *d_idx;
    size_t idx_cap;          /* int32 entries */
    qk_lp_partial *d_part;
    size_t part_cap;
    double *d_lp;
    uint8_t *d_greedy;
    size_t lp_cap;
} gpu_ctx;

/* errors through quipu_error_set (common.c): the first cause wins, one line */
#define gerr quipu_error_set

/* cudaMalloc that leaves no sticky "last error" behind when it fails (the next launch's
 * qpGetLastError would report it) */
static qpError_t dmalloc(void **p, size_t n) {
    qpError_t e = qpMalloc(p, n);
    if (e != qpSuccess) {
        *p = NULL;
        (void)qpGetLastError();
    }
    return e;
}

#define CK(call, what)                                                                                                   \
    do {                                                                                                                 \
        qpError_t e_ = (call);                                                                                           \
        if (e_ != qpSuccess) return gerr(err, QUIPU_ERR_INTERNAL, QP_NAME " backend: %s: %s", what, qpGetErrorString(e_)); \
    } while (0)

/* frees and teardown whose failure leaves nothing to do */
static void qfree(void *p) {
    if (p) (void)qpFree(p);
}

static quipu_buf *g_buf_alloc(quipu_backend *b, size_t n, quipu_error *err) {
    (void)qpSetDevice(((gpu_ctx *)b->ctx)->device); /* the current device is per host thread */
    quipu_buf *buf = (quipu_buf *)calloc(1, sizeof *buf);
    if (!buf) {
        gerr(err, QUIPU_ERR_NOMEM, "out of memory");
        return NULL;
    }
    qpError_t e = dmalloc(&buf->d, n ? n : 16);
    if (e != qpSuccess) {
        size_t fr = 0, tot = 0;
        (void)qpMemGetInfo(&fr, &tot);
        gerr(err, QUIPU_ERR_NOMEM, QP_NAME " backend: cannot allocate %zu MiB on the GPU (%zu MiB free of %zu): %s", n >> 20, fr >> 20,
             tot >> 20, qpGetErrorString(e));
        free(buf);
        return NULL;
    }
    buf->size = n;
    return buf;
}

static void g_buf_free(quipu_backend *b, quipu_buf *buf) {
    if (!buf) return;
    qfree(buf->d);
    free(buf);
}

static void *g_buf_host_ptr(quipu_buf *buf) { return NULL; }

static quipu_status g_buf_write(quipu_backend *b, quipu_buf *dst, size_t off, const void *src, size_t n, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    if (off > dst->size || n > dst->size - off)
        return gerr(err, QUIPU_ERR_INTERNAL, QP_NAME " backend: write of %zu bytes at %zu past buffer of %zu", n, off, dst->size);
    CK(qpMemcpyAsync((char *)dst->d + off, src, n, qpMemcpyHostToDevice, c->stream), "upload");
    CK(qpStreamSynchronize(c->stream), "upload");
    return QUIPU_OK;
}

static quipu_status g_buf_read(quipu_backend *b, const quipu_buf *src, size_t off, void *dst, size_t n, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    if (off > src->size || n > src->size - off)
        return gerr(err, QUIPU_ERR_INTERNAL, QP_NAME " backend: read of %zu bytes at %zu past buffer of %zu", n, off, src->size);
    CK(qpMemcpyAsync(dst, (const char *)src->d + off, n, qpMemcpyDeviceToHost, c->stream), "download");
    CK(qpStreamSynchronize(c->stream), "download");
    return QUIPU_OK;
}

static quipu_status reserve_idx(gpu_ctx *c, size_t n, quipu_error *err) {
    if (c->idx_cap >= n) return QUIPU_OK;
    CK(qpStreamSynchronize(c->stream), "sync");
    qfree(c->d_idx);
    c->d_idx = NULL;
    c->idx_cap = 0;
    qpError_t e = dmalloc((void **)&c->d_idx, n * sizeof(int32_t));
    if (e != qpSuccess) return gerr(err, QUIPU_ERR_NOMEM, QP_NAME " backend: index scratch: %s", qpGetErrorString(e));
    c->idx_cap = n;
    return QUIPU_OK;
}

static const float *F(const quipu_buf *b, size_t off = 0) { return b ? (const float *)b->d + off : NULL; }
static float *FW(quipu_buf *b, size_t off = 0) { return b ? (float *)b->d + off : NULL; }

static quipu_status g_embed(quipu_backend *b, quipu_buf *out, const quipu_buf *table, const quipu_buf *ids, int64_t T, int64_t D,
                            float scale, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    int64_t n_vocab = (int64_t)(table->size / sizeof(float) / (size_t)D);
    CK(qk_embed(c->stream, FW(out), F(table), (const int32_t *)ids->d, T, D, n_vocab, scale, c->d_bad), "embed");
    return QUIPU_OK;
}

static quipu_status g_add(quipu_backend *b, quipu_buf *y, const quipu_buf *x, int64_t n, quipu_error *err) {
    CK(qk_add(((gpu_ctx *)b->ctx)->stream, FW(y), F(x), n), "add");
    return QUIPU_OK;
}

static quipu_status g_matmul(quipu_backend *b, const quipu_matmul_args *a, quipu_error *err) {
    CK(qk_matmul_f32(((gpu_ctx *)b->ctx)->stream, FW(a->y, a->y_off), F(a->x, a->x_off), F(a->w), F(a->bias), a->n_tokens, a->n_in,
                     a->n_out, a->accumulate),
       "matmul");
    return QUIPU_OK;
}

static quipu_status g_norm(quipu_backend *b, const quipu_norm_args *a, quipu_error *err) {
    CK(qk_norm(((gpu_ctx *)b->ctx)->stream, FW(a->y), F(a->x), F(a->w), F(a->b), a->n_rows, a->dim, a->eps,
               a->kind == QUIPU_NORM_RMS ? 0 : 1),
       "norm");
    return QUIPU_OK;
}

static quipu_status g_rope(quipu_backend *b, const quipu_rope_args *a, quipu_error *err) {
    int kind = a->kind == QUIPU_ROPE_NORM ? 1 : a->kind == QUIPU_ROPE_NEOX ? 2 : 0;
    CK(qk_rope(((gpu_ctx *)b->ctx)->stream, FW(a->x), (const int32_t *)a->pos->d, F(a->freq_factors), a->n_tokens, a->n_heads,
               a->head_dim, a->n_rot, a->base, a->pos_scale, kind),
       "rope");
    return QUIPU_OK;
}

static quipu_status g_attention(quipu_backend *b, const quipu_attention_args *a, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    size_t T = (size_t)a->n_tokens;
    if (a->head_dim > 512 || a->n_heads_kv <= 0 || a->n_heads % a->n_heads_kv)
        return gerr(err, QUIPU_ERR_UNSUPPORTED,
                    QP_NAME " backend: attention needs head_dim <= 512 and n_heads a multiple of n_heads_kv (got %lld, %lld/%lld)",
                    (long long)a->head_dim, (long long)a->n_heads, (long long)a->n_heads_kv);
    for (size_t t = 0; t < T; t++) /* an index past the batch would be a sticky illegal address on the GPU */
        if (a->seg_lo[t] < 0 || (size_t)a->seg_lo[t] > t || a->pre_lo[t] < 0 || a->pre_hi[t] < a->pre_lo[t] || (size_t)a->pre_hi[t] > T)
            return gerr(err, QUIPU_ERR_INTERNAL, QP_NAME " backend: attention ranges of token %zu outside the batch", t);
    if (reserve_idx(c, 4 * T, err)) return err->code;
    const int32_t *src[4] = {a->pos, a->seg_lo, a->pre_lo, a->pre_hi};
    for (int i = 0; i < 4; i++)
        CK(qpMemcpyAsync(c->d_idx + i * T, src[i], T * sizeof(int32_t), qpMemcpyHostToDevice, c->stream), "attention ranges");
    CK(qk_attention(c->stream, FW(a->out), F(a->q), F(a->k), F(a->v), c->d_idx, c->d_idx + T, c->d_idx + 2 * T, c->d_idx + 3 * T,
                    a->n_tokens, a->n_heads, a->n_heads_kv, a->head_dim, a->scale, a->window),
       "attention");
    /* the host arrays may change once this returns */
    CK(qpStreamSynchronize(c->stream), "attention");
    return QUIPU_OK;
}

static quipu_status g_act(quipu_backend *b, const quipu_act_args *a, quipu_error *err) {
    CK(qk_act(((gpu_ctx *)b->ctx)->stream, FW(a->gate), F(a->up), a->n, (int)a->kind), "act");
    return QUIPU_OK;
}

static quipu_status g_logprob(quipu_backend *b, const quipu_logprob_args *a, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    int64_t R = a->n_rows, V = a->n_vocab;
    if (R <= 0) return QUIPU_OK;
    for (int64_t r = 0; r < R; r++) {
        if (a->targets[r] < 0 || a->targets[r] >= V)
            return gerr(err, QUIPU_ERR_INVALID, "target token id %d outside the vocabulary (%lld)", a->targets[r], (long long)V);
        if (a->rows[r] < 0 || (size_t)(a->rows[r] + 1) * (size_t)a->dim * sizeof(float) > a->h->size)
            return gerr(err, QUIPU_ERR_INTERNAL, "scored row %d outside the hidden states", a->rows[r]);
    }
    int64_t nb = (V + QK_LP_VBLOCK - 1) / QK_LP_VBLOCK;
    if (reserve_idx(c, 2 * (size_t)R, err)) return err->code;
    if (c->part_cap < (size_t)(R * nb)) {
        qfree(c->d_part);
        c->d_part = NULL;
        c->part_cap = 0;
        qpError_t e = dmalloc((void **)&c->d_part, (size_t)(R * nb) * sizeof(qk_lp_partial));
        if (e != qpSuccess) return gerr(err, QUIPU_ERR_NOMEM, QP_NAME " backend: log-prob partials: %s", qpGetErrorString(e));
        c->part_cap = (size_t)(R * nb);
    }
    if (c->lp_cap < (size_t)R) {
        qfree(c->d_lp);
        qfree(c->d_greedy);
        c->d_lp = NULL;
        c->d_greedy = NULL;
        c->lp_cap = 0;
        qpError_t e1 = dmalloc((void **)&c->d_lp, (size_t)R * sizeof(double));
        qpError_t e2 = e1 == qpSuccess ? dmalloc((void **)&c->d_greedy, (size_t)R) : e1;
        if (e2 != qpSuccess) return gerr(err, QUIPU_ERR_NOMEM, QP_NAME " backend: log-prob output: %s", qpGetErrorString(e2));
        c->lp_cap = (size_t)R;
    }
    CK(qpMemcpyAsync(c->d_idx, a->rows, (size_t)R * sizeof(int32_t), qpMemcpyHostToDevice, c->stream), "scored rows");
    CK(qpMemcpyAsync(c->d_idx + R, a->targets, (size_t)R * sizeof(int32_t), qpMemcpyHostToDevice, c->stream), "targets");
    CK(qk_logprob_partial(c->stream, c->d_part, F(a->h), F(a->lm_head), c->d_idx, c->d_idx + R, R, a->dim, V), "log-prob");
    CK(qk_logprob_combine(c->stream, c->d_lp, c->d_greedy, c->d_part, c->d_idx + R, R, nb), "log-prob combine");
    CK(qpMemcpyAsync(a->logprob, c->d_lp, (size_t)R * sizeof(double), qpMemcpyDeviceToHost, c->stream), "log-probs");
    CK(qpMemcpyAsync(a->greedy, c->d_greedy, (size_t)R, qpMemcpyDeviceToHost, c->stream), "greedy flags");
    CK(qpStreamSynchronize(c->stream), "log-prob");
    for (int64_t r = 0; r < R; r++)
        if (!isfinite(a->logprob[r])) return gerr(err, QUIPU_ERR_NUMERIC, "non-finite log-probability (NaN or Inf in activations or weights)");
    return QUIPU_OK;
}

static quipu_status g_sync(quipu_backend *b, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    CK(qpStreamSynchronize(c->stream), "sync");
    int bad = 0;
    CK(qpMemcpy(&bad, c->d_bad, sizeof bad, qpMemcpyDeviceToHost), "sync");
    if (bad) {
        CK(qpMemset(c->d_bad, 0, sizeof bad), "sync"); /* the next batch starts clean */
        return gerr(err, QUIPU_ERR_INVALID, "a token id is outside the embedding table");
    }
    return QUIPU_OK;
}

static void g_free(quipu_backend *b) {
    if (!b) return;
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    if (c) {
        qfree(c->d_bad);
        qfree(c->d_idx);
        qfree(c->d_part);
        qfree(c->d_lp);
        qfree(c->d_greedy);
        if (c->stream) (void)qpStreamDestroy(c->stream);
        free(c);
    }
    free(b);
}

static quipu_backend_i g_iface; /* filled at the first start (plain data, no C++ initializer) */

static void fill_iface(quipu_backend_i *ip) {
    quipu_backend_i &i = *ip;
    memset(&i, 0, sizeof i);
    i.name = QP_NAME;
    i.free = g_free;
    i.buf_alloc = g_buf_alloc;
    i.buf_free = g_buf_free;
    i.buf_host_ptr = g_buf_host_ptr;
    i.buf_write = g_buf_write;
    i.buf_read = g_buf_read;
    i.embed = g_embed;
    i.add = g_add;
    i.matmul = g_matmul;
    i.norm = g_norm;
    i.rope = g_rope;
    i.attention = g_attention;
    i.act = g_act;
    i.logprob = g_logprob;
    i.sync = g_sync;
}

static int local_rank(void) {
    const char *v[] = {"QUIPU_LOCAL_RANK", "SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"};
    for (int i = 0; i < 4; i++) {
        const char *s = getenv(v[i]);
        if (s && *s) return atoi(s);
    }
    return 0;
}

extern "C" int quipu_gpu_device_count(void) {
    int n = 0;
    if (qpGetDeviceCount(&n) != qpSuccess) return 0;
    return n;
}

extern "C" quipu_status quipu_backend_gpu_init(quipu_backend **out, quipu_error *err) {
    *out = NULL;
    int n = quipu_gpu_device_count();
    if (n <= 0) return gerr(err, QUIPU_ERR_UNSUPPORTED, "backend '" QP_NAME "': no GPU is visible to this process");
    int lr = local_rank(), dev = lr;
#if defined(__HIPCC__) || defined(QUIPU_HIP_BUILD)
    const char *vis = getenv("ROCR_VISIBLE_DEVICES");
    if (!vis || !*vis) vis = getenv("HIP_VISIBLE_DEVICES");
#else
    const char *vis = getenv("CUDA_VISIBLE_DEVICES");
#endif
    if (n == 1 && vis && *vis && !strchr(vis, ',')) dev = 0; /* Slurm bound this task to its own GPU */
    else if (lr >= n)
        return gerr(err, QUIPU_ERR_INVALID,
                    "backend '" QP_NAME "': node-local rank %d has no GPU of its own (%d visible): two ranks would share a GPU; "
                    "run one rank per GPU (srun --gpus-per-task=1, or -n no more than the GPUs)",
                    lr, n);
    quipu_backend *b = (quipu_backend *)calloc(1, sizeof *b);
    gpu_ctx *c = (gpu_ctx *)calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return gerr(err, QUIPU_ERR_NOMEM, "out of memory");
    }
    if (!g_iface.name) fill_iface(&g_iface);
    b->iface = &g_iface;
    b->ctx = c;
    b->n_threads = 1;
    c->device = dev;
    qpError_t e = qpSetDevice(dev);
    if (e == qpSuccess) e = qpStreamCreate(&c->stream);
    if (e == qpSuccess) e = qpMalloc((void **)&c->d_bad, sizeof(int));
    if (e == qpSuccess) e = qpMemset(c->d_bad, 0, sizeof(int));
    if (e != qpSuccess) {
        g_free(b);
        return gerr(err, QUIPU_ERR_INTERNAL, "backend '" QP_NAME "': cannot start device %d: %s", dev, qpGetErrorString(e));
    }
    *out = b;
    return QUIPU_OK;
}
