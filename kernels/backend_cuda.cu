/* backend_cuda.cu — the GPU backend (CUDA, and HIP from the same source through vendor.h): the
 * quipu_backend_i ops of src/backend.h on device memory, a compute and a copy stream per rank, every op a kernel
 * of its own file in kernels/. Activations and sums are fp32; weight matrices are fp32 (`dtype:
 * f32`, the exact mode) or bf16 / f16 (`dtype: bf16`, the default, and `f16`: the loader rounds
 * them on the host, the kernels widen them as they read them). GEMMs over bf16 / f16 weights run on
 * tensor cores through cuBLASLt with one algorithm per weight shape, proven batch invariant on
 * the device before use (gemm_lt.cu: x rounded to the weights' type, sums fp32); the exact mode,
 * HIP, and any shape without such an algorithm use the fixed-order tile of tile.cuh. Either
 * way results never depend on the batch. Attention in bf16 / f16 runs on tensor cores too
 * (attention_tc.cu: q, k, p, v rounded to that type, fp32 sums and softmax), the fp32 kernel of
 * attention.cu in the exact mode, with QUIPU_GPU_ATTN=exact, on HIP and below sm_80. One rank
 * drives one device: the node-local rank (QUIPU_LOCAL_RANK, else SLURM_LOCALID, else
 * OMPI_COMM_WORLD_LOCAL_RANK, else 0) picks it among the devices visible to the process
 * (CUDA_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES as Slurm sets them). Two streams: the ops on one,
 * the next batch's index vectors uploaded from pinned memory on the other, ordered by an event,
 * and per-slot fences so the host packs batch N+1 while batch N runs (forward.c). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_tc.h"
#include "comm_nccl.h"
#include "gemm_lt.h"
#include "kernels.h"

extern "C" {
#include "backend.h"
#include "common.h"
#include "quant.h"
}

#if defined(__HIPCC__) || defined(QUIPU_HIP_BUILD)
#define QP_NAME "hip"
#else
#define QP_NAME "cuda"
#endif

/* The weight arena: one device allocation the size of the model's estimate of its weights (on
 * this tensor-parallel member), carved in order while the model loads (weights_reserve). A
 * weight that no longer fits gets its own allocation; a carved buffer freed last gives its room
 * back (a failed load), and the arena goes when its last buffer does. */
typedef struct g_arena {
    char *base;
    size_t cap, used;
    int64_t live;           /* buffers carved from it and not yet freed */
    int open;               /* still carving (the model is loading) */
    size_t n_out, out_bytes; /* while open: weights that did not fit, for the closing line */
    struct g_arena *next;
} g_arena;

struct quipu_buf {
    size_t size;
    void *d;
    g_arena *arena; /* NULL: its own allocation */
};

#define ARENA_ALIGN ((size_t)256)

/* the kernels' log-prob record is the interface's, field for field */
static_assert(sizeof(qk_lp_partial) == sizeof(quipu_lp_partial), "log-prob partial layout");
static_assert(offsetof(qk_lp_partial, amax_i) == offsetof(quipu_lp_partial, amax_i), "log-prob partial layout");

typedef struct gpu_ctx {
    qpStream_t stream;      /* every op, and the read-back of results */
    qpStream_t copy;        /* uploads of the next batch's index vectors, under the current batch */
    qpEvent_t up[QUIPU_BACKEND_SLOTS];   /* a slot's upload done: the compute stream waits for it */
    qpEvent_t done[QUIPU_BACKEND_SLOTS]; /* a slot's batch done (fence), read-back included */
    int *h_bad;             /* pinned, per slot: d_bad as the slot's fence found it */
    int device;
    int *d_bad;             /* set by kernels that find bad input (token ids) */
    qk_lt *lt;              /* tensor-core GEMMs (gemm_lt.cu); NULL where the build has none */
    qk_nccl *nccl;          /* the tensor-parallel group's communicator (comm_nccl.cu), or NULL */
    int64_t att_tc_max_hd;  /* head dims the tensor-core attention takes here (0: none, or QUIPU_GPU_ATTN=exact) */
    struct {
        int64_t hd;
        int bf16, ok;
    } att_proof[8];         /* its proofs on this device (qk_attention_tc_prove), per head dim and type */
    int n_att_proofs;
    g_arena *arenas;        /* every weight arena with buffers still in it; the open one first */
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

static void arena_release(gpu_ctx *c, g_arena *a) {
    for (g_arena **p = &c->arenas; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    qfree(a->base);
    free(a);
}

static quipu_buf *g_buf_alloc(quipu_backend *b, size_t n, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    (void)qpSetDevice(c->device); /* the current device is per host thread */
    quipu_buf *buf = (quipu_buf *)calloc(1, sizeof *buf);
    if (!buf) {
        gerr(err, QUIPU_ERR_NOMEM, "out of memory");
        return NULL;
    }
    g_arena *a = c->arenas && c->arenas->open ? c->arenas : NULL;
    size_t need = (n ? n : 16) + ARENA_ALIGN - 1;
    need -= need % ARENA_ALIGN;
    if (a && need >= n && a->cap - a->used >= need) {
        buf->d = a->base + a->used;
        buf->arena = a;
        a->used += need;
        a->live++;
        buf->size = n;
        return buf;
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
    if (a) {
        a->n_out++;
        a->out_bytes += n;
    }
    buf->size = n;
    return buf;
}

static void g_buf_free(quipu_backend *b, quipu_buf *buf) {
    if (!buf) return;
    g_arena *a = buf->arena;
    if (a) {
        size_t room = (buf->size ? buf->size : 16) + ARENA_ALIGN - 1;
        room -= room % ARENA_ALIGN;
        if (a->open && (char *)buf->d + room == a->base + a->used) a->used -= room; /* the last one carved */
        if (--a->live == 0 && !a->open) arena_release((gpu_ctx *)b->ctx, a);
    } else {
        qfree(buf->d);
    }
    free(buf);
}

/* bytes > 0: the loading of a model starts, with this estimate of its weights: one arena of that
 * size (none, and one allocation per weight, if the device cannot give it at once); 0: the
 * loading ends, and what it carved stays until freed. */
static quipu_status g_weights_reserve(quipu_backend *b, uint64_t bytes, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    g_arena *a = c->arenas && c->arenas->open ? c->arenas : NULL;
    if (a) { /* close the open one */
        a->open = 0;
        quipu_log(QUIPU_LOG_DEBUG, QP_NAME " backend: weights: %.1f MiB carved from one arena of %.1f MiB (%lld buffers); %zu buffers "
                                   "(%.1f MiB) allocated beside it",
                  (double)a->used / (1 << 20), (double)a->cap / (1 << 20), (long long)a->live, a->n_out, (double)a->out_bytes / (1 << 20));
        if (a->live == 0) arena_release(c, a);
    }
    if (bytes == 0) return QUIPU_OK;
    if (bytes > (uint64_t)SIZE_MAX - ARENA_ALIGN) return QUIPU_OK;
    (void)qpSetDevice(c->device);
    a = (g_arena *)calloc(1, sizeof *a);
    if (!a) return gerr(err, QUIPU_ERR_NOMEM, "out of memory");
    if (dmalloc((void **)&a->base, (size_t)bytes) != qpSuccess) {
        quipu_log(QUIPU_LOG_INFO, QP_NAME " backend: no room for one weight arena of %.1f MiB: the weights get one allocation each",
                  (double)bytes / (1 << 20));
        free(a);
        return QUIPU_OK;
    }
    a->cap = (size_t)bytes;
    a->open = 1;
    a->next = c->arenas;
    c->arenas = a;
    return QUIPU_OK;
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

static size_t g_buf_size(const quipu_buf *buf) { return buf ? buf->size : 0; }

/* the tensor-core GEMM's workspace (x rounded to the weights' type, its proof's scratch,
 * cuBLASLt's own) and, after it, the tensor-core attention's tile list; every other scratch is in
 * the forward state's buffers */
static size_t g_workspace_bytes(quipu_backend *b, const quipu_ws_dims *d) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    size_t lt = 0, att = c->att_tc_max_hd > 0 ? qk_tc_workspace_bytes(d->max_tokens) : 0;
    if (c->lt) {
        qk_lt_set_max_rows(c->lt, d->max_tokens);
        lt = qk_lt_workspace_bytes(d->max_tokens, d->max_width > d->dim ? d->max_width : d->dim);
    }
    return lt + att;
}

/* element 0 of a view in device memory (NULL when absent); backend.c checked its bounds */
static void *P(const quipu_view &v) { return v.buf ? (void *)((char *)v.buf->d + v.off) : NULL; }
static float *F(const quipu_view &v) { return (float *)P(v); }
static const int32_t *I(const quipu_view &v) { return (const int32_t *)P(v); }
static qpStream_t S(quipu_backend *b) { return ((gpu_ctx *)b->ctx)->stream; }
/* a weight view's element type for the kernels (backend.c let only F32, F16, BF16 through) */
static qk_wtype WT(const quipu_view &v) { return v.type == QUIPU_E_BF16 ? QK_W_BF16 : v.type == QUIPU_E_F16 ? QK_W_F16 : QK_W_F32; }

static quipu_status g_embed(quipu_backend *b, const quipu_embed_args *a, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    CK(qk_embed(c->stream, F(a->out), a->out.ld, P(a->table), a->table.ld, WT(a->table), I(a->ids), a->out.rows, a->out.cols, a->table.rows,
                a->scale, c->d_bad),
       "embed");
    return QUIPU_OK;
}

static quipu_status g_add(quipu_backend *b, const quipu_add_args *a, quipu_error *err) {
    CK(qk_add(S(b), F(a->y), a->y.ld, F(a->x), a->x.ld, a->y.rows, a->y.cols), "add");
    return QUIPU_OK;
}

static quipu_status g_matmul(quipu_backend *b, const quipu_matmul_args *a, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    size_t ws_bytes = a->ws.buf && a->ws.off <= a->ws.buf->size ? a->ws.buf->size - a->ws.off : 0;
    CK(qk_lt_matmul(c->lt, c->stream, F(a->y), a->y.ld, F(a->x), a->x.ld, P(a->w), WT(a->w), F(a->bias), a->x.rows, a->x.cols, a->w.rows,
                    a->accumulate, P(a->ws), ws_bytes),
       "matmul");
    return QUIPU_OK;
}

static quipu_status g_norm(quipu_backend *b, const quipu_norm_args *a, quipu_error *err) {
    int64_t D = a->group > 0 ? a->group : a->x.cols;
    CK(qk_norm(S(b), F(a->y), a->y.ld, F(a->x), a->x.ld, F(a->residual), a->residual.ld, F(a->w), F(a->b), a->x.rows, a->x.cols / D, D,
               a->eps, a->kind == QUIPU_NORM_RMS ? 0 : 1),
       "norm");
    return QUIPU_OK;
}

static quipu_status g_rope(quipu_backend *b, const quipu_rope_args *a, quipu_error *err) {
    int kind = a->kind == QUIPU_ROPE_NORM ? 1 : a->kind == QUIPU_ROPE_NEOX ? 2 : 0;
    CK(qk_rope(S(b), F(a->x), a->x.ld, I(a->pos), F(a->freq_factors), a->x.rows, a->n_heads, a->head_dim, a->n_rot, a->base, a->pos_scale,
               kind),
       "rope");
    return QUIPU_OK;
}

/* 1 if the tensor-core attention is proven on this device for this type and head dim: proven once
 * at first use (attention_tc.cu), a failure said once and the fp32 kernel kept for that case */
static int att_tc_proven(gpu_ctx *c, int bf16, int64_t hd) {
    for (int i = 0; i < c->n_att_proofs; i++)
        if (c->att_proof[i].hd == hd && c->att_proof[i].bf16 == bf16) return c->att_proof[i].ok;
    char why[256] = "";
    const char *fail = qk_attention_tc_prove(c->stream, bf16, hd, why, sizeof why);
    if (fail)
        fprintf(stderr, "quipu warn: tensor-core attention (%s, head dim %lld) failed its proof on this GPU: %s; attention stays on the fp32 kernel\n",
                bf16 ? "bf16" : "f16", (long long)hd, fail);
    if (c->n_att_proofs < 8) {
        c->att_proof[c->n_att_proofs].hd = hd, c->att_proof[c->n_att_proofs].bf16 = bf16, c->att_proof[c->n_att_proofs].ok = !fail;
        c->n_att_proofs++;
    }
    return !fail;
}

/* The layout vectors live on the device (the forward pass checked them on the host before the
 * upload, so no index leaves the batch). bf16 / f16: the tensor-core kernel where it runs (its
 * tile list at the workspace's end, clear of the GEMM's) once proven on this device; f32 and
 * the rest: the fp32 kernel. */
static quipu_status g_attention(quipu_backend *b, const quipu_attention_args *a, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    if (a->head_dim > 512)
        return gerr(err, QUIPU_ERR_UNSUPPORTED, QP_NAME " backend: attention needs head_dim <= 512 (got %lld)", (long long)a->head_dim);
    qk_att_args k;
    memset(&k, 0, sizeof k);
    k.out = F(a->out), k.q = F(a->q), k.k = F(a->k), k.v = F(a->v);
    k.ldo = a->out.ld, k.ldq = a->q.ld, k.ldk = a->k.ld, k.ldv = a->v.ld;
    k.pos = I(a->lay.pos), k.seg_lo = I(a->lay.seg_lo), k.seg_hi = I(a->lay.seg_hi), k.pre_lo = I(a->lay.pre_lo), k.pre_hi = I(a->lay.pre_hi);
    k.alibi = F(a->alibi);
    k.T = a->q.rows, k.H = a->n_heads, k.HKV = a->n_heads_kv, k.HD = a->head_dim;
    k.scale = a->scale, k.softcap = a->softcap, k.window = a->window, k.causal = a->causal;
    quipu_etype half = quipu_backend_weight_type(b);
    if (half != QUIPU_E_F32 && a->head_dim <= c->att_tc_max_hd && k.T > 0 && att_tc_proven(c, half == QUIPU_E_BF16, a->head_dim)) {
        size_t avail = a->ws.buf && a->ws.off <= a->ws.buf->size ? a->ws.buf->size - a->ws.off : 0;
        size_t need = qk_tc_workspace_bytes(k.T);
        if (avail < need)
            return gerr(err, QUIPU_ERR_INTERNAL, QP_NAME " backend: attention: a workspace of %zu bytes, the tensor-core kernel needs %zu for %lld tokens",
                        avail, need, (long long)k.T);
        /* need has 256 bytes to spare: rounding the start up keeps the list inside */
        size_t at = (avail - need + 255) / 256 * 256;
        CK(qk_attention_tc(S(b), &k, half == QUIPU_E_BF16, (char *)P(a->ws) + at, avail - at), "attention (tensor cores)");
        return QUIPU_OK;
    }
    CK(qk_attention(S(b), &k), "attention");
    return QUIPU_OK;
}

static quipu_status g_act(quipu_backend *b, const quipu_act_args *a, quipu_error *err) {
    CK(qk_act(S(b), F(a->gate), a->gate.ld, F(a->up), a->up.ld, a->gate.rows, a->gate.cols, (int)a->kind), "act");
    return QUIPU_OK;
}

static quipu_status g_logprob_partial(quipu_backend *b, const quipu_logprob_args *a, quipu_error *err) {
    CK(qk_logprob_partial(S(b), (qk_lp_partial *)P(a->part), a->part.ld, F(a->h), a->h.ld, P(a->lm_head), WT(a->lm_head), I(a->rows),
                          I(a->targets), a->rows.cols, a->h.cols, a->lm_head.rows, a->v_lo, a->softcap),
       "log-prob");
    return QUIPU_OK;
}

static quipu_status g_logprob_combine(quipu_backend *b, const quipu_combine_args *a, quipu_error *err) {
    CK(qk_logprob_combine(S(b), (double *)P(a->logprob), (uint8_t *)P(a->greedy), (const qk_lp_partial *)P(a->part), a->part.ld,
                          I(a->targets), a->targets.cols, a->part.cols, a->block),
       "log-prob combine");
    return QUIPU_OK;
}

static quipu_status g_dequant(quipu_backend *b, const quipu_dequant_args *a, quipu_error *err) {
    CK(qk_dequant(S(b), P(a->dst), a->dst.ld, WT(a->dst), (const uint8_t *)P(a->src), a->src.ld, a->dst.rows, a->dst.cols, a->qtype,
                  quipu_dtype_block_size(a->qtype), quipu_dtype_block_bytes(a->qtype)),
       "dequant");
    return QUIPU_OK;
}

static quipu_status g_copy(quipu_backend *b, const quipu_copy_args *a, quipu_error *err) {
    size_t es = quipu_etype_size(a->x.type);
    if (a->x.rows == 0 || a->x.cols == 0) return QUIPU_OK;
    CK(qpMemcpy2DAsync(P(a->y), (size_t)a->y.ld * es, P(a->x), (size_t)a->x.ld * es, (size_t)a->x.cols * es, (size_t)a->x.rows,
                       qpMemcpyDeviceToDevice, S(b)),
       "copy");
    return QUIPU_OK;
}

static quipu_status g_moe_route(quipu_backend *b, const quipu_moe_route_args *a, quipu_error *err) {
    if (a->ids.cols > QK_MOE_MAX_K)
        return gerr(err, QUIPU_ERR_UNSUPPORTED, QP_NAME " backend: moe_route handles at most %d experts per token (got %lld)", QK_MOE_MAX_K,
                    (long long)a->ids.cols);
    CK(qk_moe_route(S(b), (int32_t *)P(a->ids), a->ids.ld, F(a->weights), a->weights.ld, F(a->logits), a->logits.ld, a->logits.rows,
                    a->logits.cols, a->ids.cols, a->norm),
       "moe_route");
    return QUIPU_OK;
}

static quipu_status g_moe_combine(quipu_backend *b, const quipu_moe_combine_args *a, quipu_error *err) {
    CK(qk_moe_combine(S(b), F(a->out), a->out.ld, F(a->y), a->y.ld, a->y.rows, I(a->slot), a->slot.ld, F(a->weights), a->weights.ld,
                      F(a->shared), a->shared.ld, F(a->shared_gate), a->shared_gate.ld, a->out.rows, a->out.cols, a->slot.cols),
       "moe_combine");
    return QUIPU_OK;
}

/* the tensor-parallel group's devices: NCCL/RCCL, its id from the group's rank 0 over MPI */
static quipu_status g_set_group(quipu_backend *b, const quipu_comm_group *g, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    if (!qk_nccl_available())
        return gerr(err, QUIPU_ERR_UNSUPPORTED, "backend '" QP_NAME "': tensor parallelism needs NCCL/RCCL, and %s", qk_nccl_make_id(NULL));
    unsigned char id[QK_NCCL_ID_BYTES] = {0};
    const char *why = g->rank == 0 ? qk_nccl_make_id(id) : NULL;
    if (why) return gerr(err, QUIPU_ERR_INTERNAL, "backend '" QP_NAME "': NCCL id: %s", why);
    quipu_status st = quipu_comm_group_bcast(g, id, sizeof id, err);
    if (st) return st;
    (void)qpSetDevice(c->device);
    why = qk_nccl_init(&c->nccl, id, g->rank, g->size);
    if (why)
        return gerr(err, QUIPU_ERR_INTERNAL, "backend '" QP_NAME "': cannot join the tensor-parallel group (member %d of %d): %s", g->rank,
                    g->size, why);
    return QUIPU_OK;
}

static quipu_status g_allgather(quipu_backend *b, const quipu_allgather_args *a, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    size_t n = (size_t)a->send.rows * (size_t)a->send.cols * quipu_etype_size(a->send.type);
    if (!c->nccl) {
        if (n) CK(qpMemcpyAsync(P(a->recv), P(a->send), n, qpMemcpyDeviceToDevice, c->stream), "all-gather");
        return QUIPU_OK;
    }
    const char *why = qk_nccl_allgather(c->nccl, P(a->send), P(a->recv), n, c->stream);
    if (why) return gerr(err, QUIPU_ERR_INTERNAL, "backend '" QP_NAME "': all-gather: %s", why);
    return QUIPU_OK;
}

/* ---- overlap (backend.h): pinned staging, an upload stream, per-slot fences */

static void *g_host_alloc(quipu_backend *b, size_t n, quipu_error *err) {
    (void)qpSetDevice(((gpu_ctx *)b->ctx)->device);
    void *p = NULL;
    qpError_t e = qpHostAlloc(&p, n ? n : 16, qpHostAllocDefault);
    if (e != qpSuccess) {
        (void)qpGetLastError(); /* not sticky: the next launch must not report it */
        gerr(err, QUIPU_ERR_NOMEM, QP_NAME " backend: cannot pin %zu KiB of host memory: %s", n >> 10, qpGetErrorString(e));
        return NULL;
    }
    return p;
}

static void g_host_free(quipu_backend *b, void *p) {
    if (p) (void)qpFreeHost(p);
}

static quipu_status g_upload(quipu_backend *b, quipu_buf *dst, size_t off, const void *src, size_t n, int slot, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    if (off > dst->size || n > dst->size - off)
        return gerr(err, QUIPU_ERR_INTERNAL, QP_NAME " backend: upload of %zu bytes at %zu past buffer of %zu", n, off, dst->size);
    /* dst is this slot's own device buffer, which no queued op reads any more: the slot's last
     * batch was waited for (fence_wait) before the slot was used again */
    CK(qpMemcpyAsync((char *)dst->d + off, src, n, qpMemcpyHostToDevice, c->copy), "upload");
    CK(qpEventRecord(c->up[slot], c->copy), "upload");
    CK(qpStreamWaitEvent(c->stream, c->up[slot], 0), "upload");
    return QUIPU_OK;
}

static quipu_status g_download(quipu_backend *b, const quipu_buf *src, size_t off, void *dst, size_t n, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    if (off > src->size || n > src->size - off)
        return gerr(err, QUIPU_ERR_INTERNAL, QP_NAME " backend: read of %zu bytes at %zu past buffer of %zu", n, off, src->size);
    CK(qpMemcpyAsync(dst, (const char *)src->d + off, n, qpMemcpyDeviceToHost, c->stream), "download");
    return QUIPU_OK;
}

/* the batch's bad-input flag into the slot's pinned word, the device flag cleared for the next
 * batch (both in stream order, so a flag belongs to the batch that set it), then the event */
static quipu_status g_fence(quipu_backend *b, int slot, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    CK(qpMemcpyAsync(&c->h_bad[slot], c->d_bad, sizeof(int), qpMemcpyDeviceToHost, c->stream), "sync");
    CK(qpMemsetAsync(c->d_bad, 0, sizeof(int), c->stream), "sync");
    CK(qpEventRecord(c->done[slot], c->stream), "sync");
    return QUIPU_OK;
}

static quipu_status g_fence_wait(quipu_backend *b, int slot, quipu_error *err) {
    gpu_ctx *c = (gpu_ctx *)b->ctx;
    CK(qpEventSynchronize(c->done[slot]), "sync");
    if (c->h_bad[slot]) {
        c->h_bad[slot] = 0;
        return gerr(err, QUIPU_ERR_INVALID, "a token id is outside the embedding table");
    }
    return QUIPU_OK;
}

static uint64_t g_mem_free(quipu_backend *b) {
    size_t fr = 0, tot = 0;
    (void)qpSetDevice(((gpu_ctx *)b->ctx)->device);
    if (qpMemGetInfo(&fr, &tot) != qpSuccess) {
        (void)qpGetLastError();
        return 0;
    }
    return (uint64_t)fr;
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
        while (c->arenas) arena_release(c, c->arenas); /* buffers still carved from them are gone with them */
        qfree(c->d_bad);
        if (c->h_bad) (void)qpFreeHost(c->h_bad);
        qk_lt_free(c->lt);
        qk_nccl_free(c->nccl);
        for (int i = 0; i < QUIPU_BACKEND_SLOTS; i++) {
            if (c->up[i]) (void)qpEventDestroy(c->up[i]);
            if (c->done[i]) (void)qpEventDestroy(c->done[i]);
        }
        if (c->copy) (void)qpStreamDestroy(c->copy);
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
    i.lp_block = QK_LP_VBLOCK;
    i.free = g_free;
    i.buf_alloc = g_buf_alloc;
    i.buf_free = g_buf_free;
    i.buf_host_ptr = g_buf_host_ptr;
    i.buf_size = g_buf_size;
    i.workspace_bytes = g_workspace_bytes;
    i.buf_write = g_buf_write;
    i.buf_read = g_buf_read;
    i.embed = g_embed;
    i.add = g_add;
    i.matmul = g_matmul;
    i.norm = g_norm;
    i.rope = g_rope;
    i.attention = g_attention;
    i.act = g_act;
    i.logprob_partial = g_logprob_partial;
    i.logprob_combine = g_logprob_combine;
    i.dequant = g_dequant;
    i.copy = g_copy;
    i.allgather = g_allgather;
    i.moe_route = g_moe_route;
    i.moe_combine = g_moe_combine;
    i.set_group = g_set_group;
    i.mem_free = g_mem_free;
    i.weights_reserve = g_weights_reserve;
    i.sync = g_sync;
    i.host_alloc = g_host_alloc;
    i.host_free = g_host_free;
    i.upload = g_upload;
    i.download = g_download;
    i.fence = g_fence;
    i.fence_wait = g_fence_wait;
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
    if (e == qpSuccess) e = qpStreamCreate(&c->copy);
    for (int i = 0; i < QUIPU_BACKEND_SLOTS; i++) {
        if (e == qpSuccess) e = qpEventCreateWithFlags(&c->up[i], qpEventDisableTiming);
        if (e == qpSuccess) e = qpEventCreateWithFlags(&c->done[i], qpEventDisableTiming);
    }
    if (e == qpSuccess) e = qpHostAlloc((void **)&c->h_bad, QUIPU_BACKEND_SLOTS * sizeof(int), qpHostAllocDefault);
    if (e == qpSuccess) memset(c->h_bad, 0, QUIPU_BACKEND_SLOTS * sizeof(int));
    if (e == qpSuccess) e = qpMalloc((void **)&c->d_bad, sizeof(int));
    if (e == qpSuccess) e = qpMemset(c->d_bad, 0, sizeof(int));
    if (e == qpSuccess) e = qk_lt_create(&c->lt);
    if (e == qpSuccess) {
        const char *ga = getenv("QUIPU_GPU_ATTN");
        c->att_tc_max_hd = ga && !strcmp(ga, "exact") ? 0 : qk_attention_tc_max_hd();
    }
    if (e != qpSuccess) {
        g_free(b);
        return gerr(err, QUIPU_ERR_INTERNAL, "backend '" QP_NAME "': cannot start device %d: %s", dev, qpGetErrorString(e));
    }
    *out = b;
    return QUIPU_OK;
}
