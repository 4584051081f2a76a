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

#include "common.h"

typedef struct quipu_backend quipu_backend;
typedef struct quipu_buf quipu_buf; /* opaque */

typedef enum { QUIPU_NORM_RMS, QUIPU_NORM_LAYER } quipu_norm_kind;
typedef enum { QUIPU_ROPE_NONE, QUIPU_ROPE_NORM /* adjacent pairs */, QUIPU_ROPE_NEOX /* halves */ } quipu_rope_kind;
typedef enum { QUIPU_ACT_SILU, QUIPU_ACT_GELU_TANH, QUIPU_ACT_GELU_ERF } quipu_act_kind;

/* y[T, n_out] = x[T, n_in] * w[n_out, n_in]^T (+ bias[n_out]) (+ y if accumulate).
 * Results for a row never depend on the other rows (batch invariance). */
typedef struct quipu_matmul_args {
    const quipu_buf *x; size_t x_off;   /* offsets in floats */
    const quipu_buf *w;                 /* [n_out, n_in] */
    const quipu_buf *bias;              /* [n_out] or NULL */
    quipu_buf *y; size_t y_off;
    int64_t n_tokens, n_in, n_out;
    int accumulate;
} quipu_matmul_args;

/* y[T, D] = norm(x) * w (+ b); for RMS: x / sqrt(mean(x^2) + eps). n_rows rows of width D
 * (also used per head for QK-norm with D = HD). */
typedef struct quipu_norm_args {
    const quipu_buf *x; quipu_buf *y;
    const quipu_buf *w; const quipu_buf *b; /* b only for LayerNorm, may be NULL */
    int64_t n_rows, dim;
    float eps;
    quipu_norm_kind kind;
} quipu_norm_args;

/* In place on x[T, n_heads, HD]: rotates the first n_rot dims of each head by pos[t]. */
typedef struct quipu_rope_args {
    quipu_buf *x;
    const quipu_buf *pos;        /* int32 [T] */
    const quipu_buf *freq_factors; /* float [n_rot/2] or NULL (llama3 scaling) */
    int64_t n_tokens, n_heads, head_dim, n_rot;
    float base, pos_scale;       /* pos_scale: 1/linear scaling factor */
    quipu_rope_kind kind;
} quipu_rope_args;

/* out[T, H*HD] = softmax(q k^T * scale + mask) v over packed sequences that may share a prompt
 * (a prefix tree of depth one: a prompt segment followed by several continuation segments).
 * Query t sees the keys of the shared prefix [pre_lo[t], pre_hi[t]) and of its own segment
 * [seg_lo[t], t]; with a window W, only keys s with pos[t] - pos[s] < W. Keys are visited in that
 * order (prefix, then own segment), so a token's result is the same bits whether its prompt is
 * shared or repeated. Host arrays of n_tokens entries. */
typedef struct quipu_attention_args {
    const quipu_buf *q; const quipu_buf *k; const quipu_buf *v; /* [T,H,HD], [T,HKV,HD] x2 */
    quipu_buf *out;
    const int32_t *pos;         /* position of each token in its own sequence */
    const int32_t *seg_lo;      /* first token of the query's own segment */
    const int32_t *pre_lo, *pre_hi; /* shared prefix range (empty: pre_lo == pre_hi) */
    int64_t n_tokens, n_heads, n_heads_kv, head_dim;
    float scale;
    int32_t window;
} quipu_attention_args;

/* y[T, F] = act(gate[T, F]) * up[T, F]   (gated) or act(x) in place (up == NULL) */
typedef struct quipu_act_args {
    quipu_buf *gate; const quipu_buf *up;
    int64_t n;
    quipu_act_kind kind;
} quipu_act_args;

/* For each scored row r: logits = h[row_r] * lm_head^T over the whole vocabulary in chunks of
 * chunk_rows with an online log-sum-exp, so the [rows, V] logits never exist:
 * logprob[r] = logit[target_r] - logsumexp(logits); greedy[r] = (argmax == target_r). */
typedef struct quipu_logprob_args {
    const quipu_buf *h;           /* [T, D] final hidden states (normed) */
    const quipu_buf *lm_head;     /* [V, D] */
    const int32_t *rows;          /* host [n_rows]: token row in h */
    const int32_t *targets;       /* host [n_rows]: target id */
    int64_t n_rows, dim, n_vocab;
    double *logprob;              /* host [n_rows] */
    uint8_t *greedy;              /* host [n_rows] */
} quipu_logprob_args;

typedef struct quipu_backend_i {
    const char *name;
    void (*free)(quipu_backend *b);
    /* memory */
    quipu_buf *(*buf_alloc)(quipu_backend *b, size_t n_bytes, quipu_error *err);
    void (*buf_free)(quipu_backend *b, quipu_buf *buf);
    void *(*buf_host_ptr)(quipu_buf *buf); /* NULL if not host-visible */
    quipu_status (*buf_write)(quipu_backend *b, quipu_buf *dst, size_t off_bytes, const void *src, size_t n, quipu_error *err);
    quipu_status (*buf_read)(quipu_backend *b, const quipu_buf *src, size_t off_bytes, void *dst, size_t n, quipu_error *err);
    /* ops */
    quipu_status (*embed)(quipu_backend *b, quipu_buf *out, const quipu_buf *table, const quipu_buf *ids, int64_t n_tokens, int64_t dim, float scale, quipu_error *err);
    quipu_status (*add)(quipu_backend *b, quipu_buf *y, const quipu_buf *x, int64_t n, quipu_error *err); /* y += x */
    quipu_status (*matmul)(quipu_backend *b, const quipu_matmul_args *a, quipu_error *err);
    quipu_status (*norm)(quipu_backend *b, const quipu_norm_args *a, quipu_error *err);
    quipu_status (*rope)(quipu_backend *b, const quipu_rope_args *a, quipu_error *err);
    quipu_status (*attention)(quipu_backend *b, const quipu_attention_args *a, quipu_error *err);
    quipu_status (*act)(quipu_backend *b, const quipu_act_args *a, quipu_error *err);
    quipu_status (*logprob)(quipu_backend *b, const quipu_logprob_args *a, quipu_error *err);
    quipu_status (*sync)(quipu_backend *b, quipu_error *err);
} quipu_backend_i;

struct quipu_backend {
    const quipu_backend_i *iface;
    void *ctx;
    int n_threads;
};

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
/* GPUs visible to this process (0 without a GPU backend) */
int quipu_backend_gpu_count(void);

quipu_status quipu_backend_cpu_init(quipu_backend **out, int n_threads, quipu_error *err);

#endif
