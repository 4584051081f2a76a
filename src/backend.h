/* backend.h — the compute interface the model forward pass is written against.
 * A backend is a struct of function pointers (quipu_backend_i) filled with designated
 * initializers; NULL members are unsupported ops. Buffers are opaque backend memory (host memory
 * for the CPU backend, device memory for CUDA/HIP). Arguments travel in *_args structs so a new
 * field does not break every backend. The CPU backend is the reference every GPU kernel is
 * tested against.
 * Shape letters: T tokens in the packed batch, D model width, H/HKV query/key-value heads,
 * HD head dim, F FFN width, V vocabulary, S sequences in the batch. */
#ifndef QUIPU_BACKEND_H
#define QUIPU_BACKEND_H

#include "comm.h"
#include "common.h"

typedef struct quipu_backend quipu_backend;
typedef struct quipu_buf quipu_buf; /* opaque */

typedef enum { QUIPU_NORM_RMS, QUIPU_NORM_LAYER } quipu_norm_kind;
typedef enum { QUIPU_ROPE_NONE, QUIPU_ROPE_NORM /* adjacent pairs */, QUIPU_ROPE_NEOX /* halves */ } quipu_rope_kind;
typedef enum { QUIPU_ACT_SILU, QUIPU_ACT_GELU_TANH, QUIPU_ACT_GELU_ERF } quipu_act_kind;

/* Element types of backend memory. Activations are always F32. Weight matrices are F32 on the
 * CPU and in a GPU's `dtype: f32`; a GPU in `dtype: bf16` (its default) or `f16` keeps them in
 * that half type (quipu_backend_weight_type) and widens them to fp32 as it reads them. */
typedef enum quipu_etype {
    QUIPU_E_F32, QUIPU_E_F16, QUIPU_E_BF16, QUIPU_E_I32, QUIPU_E_F64, QUIPU_E_U8,
    QUIPU_E_LP /* quipu_lp_partial records */
} quipu_etype;
size_t quipu_etype_size(quipu_etype t);
const char *quipu_etype_name(quipu_etype t);

/* A typed 2-D view of backend memory: rows x cols elements of one type, row r starting at byte
 * off + r * ld * size(type). Every op argument is a view, so a slice of a fused projection
 * (the K columns of a [T, QD + 2 KD] QKV output) is passed without a copy. A view whose buf is
 * NULL is absent (an optional bias, no ALiBi). */
typedef struct quipu_view {
    quipu_buf *buf;
    size_t off;        /* bytes */
    quipu_etype type;
    int64_t rows, cols;
    int64_t ld;        /* elements between row starts, >= cols */
} quipu_view;

/* rows x cols, dense, at byte offset 0 */
quipu_view quipu_view_of(quipu_buf *buf, quipu_etype type, int64_t rows, int64_t cols);
/* columns [col0, col0 + n) of v */
quipu_view quipu_view_cols(quipu_view v, int64_t col0, int64_t n);
/* rows [row0, row0 + n) of v */
quipu_view quipu_view_rows(quipu_view v, int64_t row0, int64_t n);
/* v reshaped to rows * (cols / group) rows of group elements; v must be dense (ld == cols) */
quipu_view quipu_view_groups(quipu_view v, int64_t group);

/* out[T, D] = table[ids[t], :] * scale (ids: I32, 1 x T; table F32, or BF16 / F16 on a backend
 * computing in that dtype) */
typedef struct quipu_embed_args {
    quipu_view out, table, ids;
    float scale;
} quipu_embed_args;

/* y += x, elementwise over equal shapes */
typedef struct quipu_add_args {
    quipu_view y, x;
} quipu_add_args;

/* y[T, N] = x[T, K] * w[N, K]^T (+ bias[1, N]) (+ y if accumulate). w is F32, or BF16 / F16 on a
 * backend computing in that dtype (widened to fp32 as read: the sums stay fp32); x, bias, y F32.
 * Results for a row never depend on the other rows (batch invariance). */
typedef struct quipu_matmul_args {
    quipu_view x, w, bias, y;
    int accumulate;
    quipu_view ws;           /* workspace (quipu_backend_i.workspace_bytes) */
} quipu_matmul_args;

/* With a residual: x += residual first (x is written), then y = norm(x) (the pre-norm block's
 * add fused with the next norm). Each row of x is normalized in groups of `group` elements
 * (0: the whole row), so QK-norm per head is one call with group = HD. y may alias x.
 * RMS: x / sqrt(mean(x^2) + eps) * w; LayerNorm: (x - mean) / sqrt(var + eps) * w + b. */
typedef struct quipu_norm_args {
    quipu_view x, y, w, b, residual;
    int64_t group;
    float eps;
    quipu_norm_kind kind;
} quipu_norm_args;

/* In place on x[T, n_heads * HD]: rotates the first n_rot dims of each head by pos[t]
 * (I32, 1 x T) * pos_scale, frequencies base^(-2i/n_rot) / freq_factors[i] (llama3 scaling). */
typedef struct quipu_rope_args {
    quipu_view x, pos, freq_factors;
    int64_t n_heads, head_dim, n_rot;
    float base, pos_scale;
    quipu_rope_kind kind;
} quipu_rope_args;

/* The packed batch's attention layout, I32 vectors of T entries in backend memory, uploaded once
 * per batch: pos (position in its own sequence), seg_lo/seg_hi (the token's own segment
 * [seg_lo, seg_hi)), pre_lo/pre_hi (the shared prompt range it also sees; empty when equal). */
typedef struct quipu_batch_layout {
    quipu_view pos, seg_lo, seg_hi, pre_lo, pre_hi;
} quipu_batch_layout;

/* out[T, H*HD] = softmax(mask(softcap(q k^T * scale) + alibi)) v over packed sequences that may
 * share a prompt (a prefix tree of depth one). Query t sees the keys of its shared prefix
 * [pre_lo, pre_hi) and of its own segment: [seg_lo, t] when causal, [seg_lo, seg_hi) when
 * bidirectional. With a window W only keys with |pos[t] - pos[s]| < W (causal: pos[t] - pos[s]).
 * Keys are visited in that order (prefix, then own segment), so a token's result is the same
 * bits whether its prompt is shared or repeated. softcap > 0: s = softcap * tanh(s / softcap).
 * alibi (F32, 1 x H, optional): s += slope[h] * (pos[s] - pos[t]). q/k/v rows may be strided
 * (slices of one fused QKV GEMM). */
typedef struct quipu_attention_args {
    quipu_view q, k, v, out;  /* [T, H*HD], [T, HKV*HD] x2, [T, H*HD] */
    quipu_batch_layout lay;
    quipu_view alibi;
    int64_t n_heads, n_heads_kv, head_dim;
    float scale, softcap;
    int32_t window;
    int causal;
    quipu_view ws;
} quipu_attention_args;

/* gate = act(gate) * up (gated) or act(gate) (up absent), elementwise */
typedef struct quipu_act_args {
    quipu_view gate, up;
    quipu_act_kind kind;
} quipu_act_args;

/* The log-prob in two steps, so the [rows, V] logits never exist and a vocabulary split across
 * GPUs merges exactly. Step 1 (logprob_partial): lm_head holds the ids [v_lo, v_lo + n), v_lo a
 * multiple of the backend's lp_block; for each scored row r (h row rows[r]) and each block j of
 * lp_block ids of that range, part[r, j] = the block's max logit, its first argmax (a vocabulary
 * id), the sum of exp(logit - max) and the target's logit (0 when the target is elsewhere).
 * Step 2 (logprob_combine): the blocks of a row, in vocabulary order (block j holds the ids
 * [j * block, (j + 1) * block); the ranges of several GPUs are concatenated), merged: the max
 * over blocks, then the sum of sumexp * exp(max_j - max) in block order; logprob = target -
 * (max + log(sum)), greedy = (first argmax == target). softcap > 0 caps logits (Gemma 2). */
typedef struct quipu_lp_partial {
    double max, sumexp, target;
    float amax_v;
    int32_t amax_i;
} quipu_lp_partial;

typedef struct quipu_logprob_args {
    quipu_view h;            /* [T, D] final hidden states (normed) */
    quipu_view lm_head;      /* [n, D]: vocabulary ids v_lo .. v_lo + n - 1 (F32, BF16 or F16 as matmul's w) */
    quipu_view rows, targets; /* I32, 1 x R */
    int64_t v_lo;
    float softcap;
    quipu_view part;         /* LP records, R x n_blocks (n_blocks = ceil(n / lp_block)) */
    quipu_view ws;
} quipu_logprob_args;

typedef struct quipu_combine_args {
    quipu_view part;         /* LP records, R x n_blocks, as logprob_partial wrote them */
    quipu_view targets;      /* I32, 1 x R */
    int64_t block;           /* ids per block (lp_block) */
    quipu_view logprob;      /* F64, 1 x R */
    quipu_view greedy;       /* U8, 1 x R */
} quipu_combine_args;

/* dst = the weights of a GGUF tensor still in its ggml blocks (quant_blocks.h), row by row: src
 * is U8, rows x (the row's bytes), with ld bytes between rows; qtype a quipu_dtype block type
 * (Q4_0 ... Q6_K); dst rows x cols in F32, or BF16 / F16 (rounded to nearest even, as the
 * loader rounds) on a backend that computes in that type. The values are the plain-C
 * dequantizer's (quant.c) bit for bit. */
typedef struct quipu_dequant_args {
    quipu_view src, dst;
    uint32_t qtype;
} quipu_dequant_args;

/* y = x, element for element over equal shapes and types (any strides): regrouping tensor-parallel
 * pieces. */
typedef struct quipu_copy_args {
    quipu_view y, x;
} quipu_copy_args;

/* Tensor parallelism (quipu_backend_set_group): every member of the group sends its rows x cols
 * (dense: ld == cols) and receives all of them, member p's at rows [p * rows, (p + 1) * rows) of
 * recv (dense too). Any element type. The all-reduce of a row-parallel projection is this, then
 * the pieces added in member order (forward.c), so its bits never depend on the batch, the message
 * size or the library's reduction algorithm. */
typedef struct quipu_allgather_args {
    quipu_view send, recv;
} quipu_allgather_args;

/* Mixture-of-experts routing, per token (a row of logits): p = softmax(logits[t, :]) over the
 * E experts (fp32, max subtracted, the sum in double), the k largest p chosen (a tie goes to the
 * lower expert index), their weights p, or p / (the sum of the k chosen, in the order chosen) when
 * norm; written in ascending expert order: ids[t, j] < ids[t, j + 1]. A token's choice never
 * depends on the other rows. logits F32 [T, E] (may be strided: columns of a wider GEMM output);
 * ids I32 [T, k]; weights F32 [T, k]. */
typedef struct quipu_moe_route_args {
    quipu_view logits, ids, weights;
    int norm;
} quipu_moe_route_args;

/* The experts' outputs summed back into their tokens: out[t, :] = sum over j = 0 .. k-1, in that
 * order, of weights[t, j] * y[slot[t, j], :] (each product rounded, then added to a sum that starts
 * at 0: transformers' index_add_ over experts in ascending order), then, when shared is given,
 * + sigmoid(shared_gate[t, 0]) * shared[t, :] (Qwen2-MoE's gated shared expert). y F32 [S, D] (the
 * expert-major rows the expert GEMMs wrote); slot I32 [T, k], each in [0, S); weights F32 [T, k]
 * (as moe_route wrote them); out, shared F32 [T, D] (shared may be out itself: each element is
 * read before it is written); shared_gate F32 [T, 1]. */
typedef struct quipu_moe_combine_args {
    quipu_view out, y, slot, weights, shared, shared_gate;
} quipu_moe_combine_args;

/* What the forward pass will ask of the ops, for the workspace the backend needs (the largest
 * over ops; ops share it, run one at a time). */
typedef struct quipu_ws_dims {
    int64_t max_tokens, max_rows, max_width, dim, n_heads;
} quipu_ws_dims;

typedef struct quipu_backend_i {
    const char *name;
    int64_t lp_block;        /* vocabulary ids per log-prob partial */
    void (*free)(quipu_backend *b);
    /* memory */
    quipu_buf *(*buf_alloc)(quipu_backend *b, size_t n_bytes, quipu_error *err);
    void (*buf_free)(quipu_backend *b, quipu_buf *buf);
    void *(*buf_host_ptr)(quipu_buf *buf); /* NULL if not host-visible */
    size_t (*buf_size)(const quipu_buf *buf);
    quipu_status (*buf_write)(quipu_backend *b, quipu_buf *dst, size_t off_bytes, const void *src, size_t n, quipu_error *err);
    quipu_status (*buf_read)(quipu_backend *b, const quipu_buf *src, size_t off_bytes, void *dst, size_t n, quipu_error *err);
    size_t (*workspace_bytes)(quipu_backend *b, const quipu_ws_dims *d);
    /* ops: arguments are checked by the wrappers below before they reach a backend */
    quipu_status (*embed)(quipu_backend *b, const quipu_embed_args *a, quipu_error *err);
    quipu_status (*add)(quipu_backend *b, const quipu_add_args *a, quipu_error *err);
    quipu_status (*matmul)(quipu_backend *b, const quipu_matmul_args *a, quipu_error *err);
    quipu_status (*norm)(quipu_backend *b, const quipu_norm_args *a, quipu_error *err);
    quipu_status (*rope)(quipu_backend *b, const quipu_rope_args *a, quipu_error *err);
    quipu_status (*attention)(quipu_backend *b, const quipu_attention_args *a, quipu_error *err);
    quipu_status (*act)(quipu_backend *b, const quipu_act_args *a, quipu_error *err);
    quipu_status (*logprob_partial)(quipu_backend *b, const quipu_logprob_args *a, quipu_error *err);
    quipu_status (*logprob_combine)(quipu_backend *b, const quipu_combine_args *a, quipu_error *err);
    quipu_status (*dequant)(quipu_backend *b, const quipu_dequant_args *a, quipu_error *err);
    quipu_status (*copy)(quipu_backend *b, const quipu_copy_args *a, quipu_error *err);
    quipu_status (*allgather)(quipu_backend *b, const quipu_allgather_args *a, quipu_error *err);
    quipu_status (*moe_route)(quipu_backend *b, const quipu_moe_route_args *a, quipu_error *err);
    quipu_status (*moe_combine)(quipu_backend *b, const quipu_moe_combine_args *a, quipu_error *err);
    /* tensor parallelism: connect the devices of the group (NCCL/RCCL on GPUs); NULL where the
     * group's MPI communicator is all the backend needs (the CPU) */
    quipu_status (*set_group)(quipu_backend *b, const quipu_comm_group *g, quipu_error *err);
    /* bytes free on the device (a GPU's free memory), 0 when unknown; NULL on the CPU */
    uint64_t (*mem_free)(quipu_backend *b);
    /* Optional (a GPU): a model's loading starts (bytes > 0, its estimate of the weights this
     * device holds) or ends (0). In between, buf_alloc carves the weights from one arena of that
     * size, in order, while they fit (one allocation per device instead of one per tensor), and
     * gives a buffer its own allocation when they do not; buf_free works on either. NULL: every
     * buffer is its own allocation (the CPU, where the file's weights are read into host memory). */
    quipu_status (*weights_reserve)(quipu_backend *b, uint64_t bytes, quipu_error *err);
    quipu_status (*sync)(quipu_backend *b, quipu_error *err);
    /* Host work beside device work (quipu_model_forward_begin / _end; docs/gpu.md): a batch in
     * flight holds one of QUIPU_BACKEND_SLOTS slots. All optional: NULL where host and backend
     * memory are one (the CPU), and the wrappers below then allocate with malloc, copy at once and
     * wait for nothing. */
    void *(*host_alloc)(quipu_backend *b, size_t n_bytes, quipu_error *err); /* page-locked (pinned) host memory */
    void (*host_free)(quipu_backend *b, void *p);
    /* dst <- src (host, pinned for a true overlap) on a copy stream; the compute stream's next op
     * waits for it (an event), so the upload of the next batch runs under the current one */
    quipu_status (*upload)(quipu_backend *b, quipu_buf *dst, size_t off_bytes, const void *src, size_t n, int slot, quipu_error *err);
    /* dst (host, pinned) <- src, queued on the compute stream behind the ops before it */
    quipu_status (*download)(quipu_backend *b, const quipu_buf *src, size_t off_bytes, void *dst, size_t n, quipu_error *err);
    /* marks the end of a batch's work on the compute stream (with its bad-input flag) ... */
    quipu_status (*fence)(quipu_backend *b, int slot, quipu_error *err);
    /* ... and waits for it: a fault of that work, or a bad token id, is reported here, in the
     * words sync uses */
    quipu_status (*fence_wait)(quipu_backend *b, int slot, quipu_error *err);
} quipu_backend_i;

/* batches a backend can hold in flight at once: the one running and the one queued behind it */
#define QUIPU_BACKEND_SLOTS 2

struct quipu_backend {
    const quipu_backend_i *iface;
    void *ctx;
    int n_threads;
    const char *dtype;       /* what it computes in: "f32", "bf16", "f16" (the registry's string); set by
                              * quipu_backend_init to the backend's default, by quipu_backend_set_dtype */
    const quipu_comm_group *group; /* the tensor-parallel group (not owned), NULL: tp 1 */
};

/* Makes b one member of a tensor-parallel group (g outlives b); tp 1 needs no call. */
quipu_status quipu_backend_set_group(quipu_backend *b, const quipu_comm_group *g, quipu_error *err);

/* The ops as the forward pass calls them (backend.c): each checks its views (types, shapes,
 * bounds inside their buffers) and that the backend has the op, so a missing op or a wrong
 * shape is a clear error, never a NULL call or an out-of-bounds kernel. */
quipu_status quipu_op_embed(quipu_backend *b, const quipu_embed_args *a, quipu_error *err);
quipu_status quipu_op_add(quipu_backend *b, const quipu_add_args *a, quipu_error *err);
quipu_status quipu_op_matmul(quipu_backend *b, const quipu_matmul_args *a, quipu_error *err);
quipu_status quipu_op_norm(quipu_backend *b, const quipu_norm_args *a, quipu_error *err);
quipu_status quipu_op_rope(quipu_backend *b, const quipu_rope_args *a, quipu_error *err);
quipu_status quipu_op_attention(quipu_backend *b, const quipu_attention_args *a, quipu_error *err);
quipu_status quipu_op_act(quipu_backend *b, const quipu_act_args *a, quipu_error *err);
quipu_status quipu_op_logprob_partial(quipu_backend *b, const quipu_logprob_args *a, quipu_error *err);
quipu_status quipu_op_logprob_combine(quipu_backend *b, const quipu_combine_args *a, quipu_error *err);
quipu_status quipu_op_dequant(quipu_backend *b, const quipu_dequant_args *a, quipu_error *err);
quipu_status quipu_op_copy(quipu_backend *b, const quipu_copy_args *a, quipu_error *err);
quipu_status quipu_op_allgather(quipu_backend *b, const quipu_allgather_args *a, quipu_error *err);
quipu_status quipu_op_moe_route(quipu_backend *b, const quipu_moe_route_args *a, quipu_error *err);
quipu_status quipu_op_moe_combine(quipu_backend *b, const quipu_moe_combine_args *a, quipu_error *err);
quipu_status quipu_op_sync(quipu_backend *b, quipu_error *err);

/* The overlap members with their fallbacks (backend.c): host memory from malloc and free, a
 * copy done at once (buf_write / buf_read), no fence, and sync as the wait. A slot is in
 * [0, QUIPU_BACKEND_SLOTS); the caller leaves a slot's host memory alone between its upload or
 * download and its fence_wait. */
void *quipu_backend_host_alloc(quipu_backend *b, size_t n_bytes, quipu_error *err);
void quipu_backend_host_free(quipu_backend *b, void *p);
quipu_status quipu_backend_upload(quipu_backend *b, quipu_buf *dst, size_t off_bytes, const void *src, size_t n, int slot, quipu_error *err);
quipu_status quipu_backend_download(quipu_backend *b, const quipu_buf *src, size_t off_bytes, void *dst, size_t n, quipu_error *err);
quipu_status quipu_backend_fence(quipu_backend *b, int slot, quipu_error *err);
quipu_status quipu_backend_fence_wait(quipu_backend *b, int slot, quipu_error *err);

/* backend.c: the registry. Creates a backend by name ("cpu", "cuda", "hip"); names not built
 * into this quipu give QUIPU_ERR_UNSUPPORTED with a message naming the build option, and a
 * backend lacking an op of the forward pass is refused naming the op. */
quipu_status quipu_backend_init(quipu_backend **out, const char *name, int n_threads, quipu_error *err);
void quipu_backend_free(quipu_backend *b);
/* 1 if this quipu was built with the backend */
int quipu_backend_built(const char *name);
/* "cpu", "cpu, cuda", ...: the backends built in */
const char *quipu_backend_built_list(void);
/* Config-time check of a backend name and dtype ("auto", "f32", "f16", "bf16"): 0, or -1 with
 * the reason in why (not built, or a dtype it would not honour). */
int quipu_backend_check(const char *name, const char *dtype, char *why, size_t why_len);
/* The dtype the backend computes in for a requested dtype ("auto" -> its default); NULL if it
 * cannot honour it. */
const char *quipu_backend_dtype(const char *name, const char *dtype);
/* Sets the dtype a started backend computes in ("auto" -> its default), before a model is loaded
 * onto it: the loader stores the weight matrices in that type. A dtype the backend would not
 * honour is refused with the reason quipu_backend_check gives. */
quipu_status quipu_backend_set_dtype(quipu_backend *b, const char *dtype, quipu_error *err);
/* The element type of weight matrices on b: F32, or BF16 / F16 when b computes in that dtype.
 * Norm weights, biases and RoPE factors stay F32 whatever the dtype. */
quipu_etype quipu_backend_weight_type(const quipu_backend *b);
/* GPUs visible to this process (0 without a GPU backend) */
int quipu_backend_gpu_count(void);

quipu_status quipu_backend_cpu_init(quipu_backend **out, int n_threads, quipu_error *err);

/* Half precision on the host (backend.c), as the loader stores weights: round to nearest, ties
 * to even; NaN stays NaN (quiet, sign kept), infinities stay infinite, a finite value past the
 * type's largest rounds to infinity (f16: |x| >= 65520), f16 subnormals are kept. bf16 is the
 * top half of an fp32, so bf16 -> fp32 is exact and so is f16 -> fp32. */
uint16_t quipu_f32_to_bf16(float f);
float quipu_bf16_to_f32(uint16_t h);
uint16_t quipu_f32_to_f16(float f);
float quipu_f16_to_f32(uint16_t h);
/* dst[i] = src[i] in type t (F32: a copy; BF16, F16: rounded as above), n elements. Returns the
 * number of finite inputs that became infinite (f16 overflow), for the loader's message. */
size_t quipu_convert_f32(quipu_etype t, const float *src, void *dst, size_t n);

#endif
