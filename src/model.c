/* model.c — loading a causal LM (GGUF or Hugging Face checkpoint) into fp32 backend buffers.
 * The loader folds format differences into quipu_model_config (rope kind, norm shifts, fused
 * QKV splits, transposes), so the one forward pass (forward.c) reads as the data flow.
 * Shape letters: T tokens, D width, H/HKV heads, HD head dim, F FFN width, V vocabulary. */
#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "quant.h"
#include "safetensors.h"

const char *quipu_arch_name(quipu_arch a) {
    switch (a) {
    case QUIPU_ARCH_LLAMA: return "llama";
    case QUIPU_ARCH_GEMMA3: return "gemma3";
    case QUIPU_ARCH_GPT2: return "gpt2";
    case QUIPU_ARCH_QWEN3: return "qwen3";
    case QUIPU_ARCH_GEMMA2: return "gemma2";
    case QUIPU_ARCH_OLMO2: return "olmo2";
    case QUIPU_ARCH_GPTNEOX: return "gpt_neox";
    case QUIPU_ARCH_PHI3: return "phi3";
    case QUIPU_ARCH_BERT: return "bert";
    case QUIPU_ARCH_ROBERTA: return "roberta";
    case QUIPU_ARCH_BLOOM: return "bloom";
    case QUIPU_ARCH_FALCON: return "falcon";
    }
    return "?";
}

/* ---------------------------------------------------------------- weight sources */

typedef struct wsrc {
    const char *path;          /* file or directory, for messages */
    quipu_gguf *gguf;
    quipu_safetensors *st;
} wsrc;

typedef struct tref {
    const char *name;
    uint32_t type;
    const uint8_t *data;
    uint64_t nbytes;
    int64_t rows, cols;        /* matrix view: rows = out (torch dim 0), cols = in; 1-D: rows 1 */
    int n_dims;
    int bad_shape;             /* a zero dimension, or rows * cols past QUIPU_MAX_TENSOR_ELEMS */
    char shape[128];           /* the file's shape, for messages */
} tref;

/* The most elements one weight may have (2^40: 4 TiB as fp32), so rows * cols and the byte
 * count stay far inside int64 whatever the order of the products. */
#define QUIPU_MAX_TENSOR_ELEMS (INT64_C(1) << 40)

/* Fills the matrix view from the file's dimensions (dims[0] first as the file lists them;
 * cols_dim is the contiguous one). Every product is checked: a zero dimension makes the weight
 * empty, which no loader wants, and the parsers only bound the full product. */
static void tref_shape(tref *r, const uint64_t *dims, uint32_t n, uint32_t cols_dim) {
    size_t o = 0;
    uint64_t rows = 1, total = 1;
    r->bad_shape = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (o < sizeof r->shape) o += (size_t)snprintf(r->shape + o, sizeof r->shape - o, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
        if (dims[i] == 0 || quipu_mul_overflow_u64(total, dims[i], &total) || total > (uint64_t)QUIPU_MAX_TENSOR_ELEMS) r->bad_shape = 1;
        if (i != cols_dim && !r->bad_shape) rows *= dims[i];
    }
    if (r->bad_shape) {
        r->rows = r->cols = 0;
        return;
    }
    r->cols = n ? (int64_t)dims[cols_dim] : 1;
    r->rows = (int64_t)rows;
}

static int wsrc_find(const wsrc *s, const char *name, tref *r) {
    memset(r, 0, sizeof *r);
    if (s->gguf) {
        const quipu_gguf_tensor *t = quipu_gguf_find_tensor(s->gguf, name);
        if (!t) return 0;
        r->name = t->name;
        r->type = t->type;
        r->data = t->data;
        r->nbytes = t->nbytes;
        r->n_dims = (int)t->n_dims;
        tref_shape(r, t->ne, t->n_dims, 0);
        return 1;
    }
    const quipu_st_tensor *t = quipu_safetensors_find(s->st, name);
    if (!t) return 0;
    r->name = t->name;
    r->type = t->type;
    r->data = t->data;
    r->nbytes = t->nbytes;
    r->n_dims = (int)t->n_dims;
    tref_shape(r, t->shape, t->n_dims, t->n_dims ? t->n_dims - 1 : 0);
    return 1;
}

typedef struct loader loader;
static quipu_status bad_shape_error(const loader *L, const tref *r, quipu_error *err);

/* a tensor-parallel slice of the weight being loaded: its output features (rows of a matrix,
 * elements of a vector) or its input features (columns) [lo, lo + n) */
typedef struct tp_cut {
    int kind; /* 0 none, 1 out, 2 in */
    int64_t lo, n;
} tp_cut;

typedef struct loader {
    quipu_model *m;
    wsrc src;
    tp_cut cut;        /* set by load_w / hf_load for the weight in hand (cut_for) */
    /* what a weight being read from the file holds before the model owns it: freed if the
     * read is cut short by a file that shrank under its map (quipu_guard_sigbus) */
    quipu_buf *inflight;
    float *inflight_host;
    float *tmp;        /* host staging when the backend buffer is not host-visible */
    size_t tmp_cap;
    uint16_t *half;    /* host staging of a matrix rounded to bf16 / f16 */
    size_t half_cap;
} loader;

/* Writes the n fp32 values of src into buf as type et: F32 as they are, BF16 / F16 rounded to
 * nearest even (quipu_convert_f32) in host staging first. A finite value past f16's range is
 * refused, naming the tensor, never stored as Inf. */
static quipu_status upload_as(loader *L, quipu_buf *buf, const float *src, uint64_t n, quipu_etype et, const char *name,
                              quipu_error *err) {
    quipu_backend *b = L->m->backend;
    if (et == QUIPU_E_F32) return b->iface->buf_write(b, buf, 0, src, n * sizeof(float), err);
    if (L->half_cap < n) {
        uint16_t *nh = realloc(L->half, n * sizeof(uint16_t));
        if (!nh) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory loading '%s'", L->src.path, name);
        L->half = nh;
        L->half_cap = n;
    }
    size_t over = quipu_convert_f32(et, src, L->half, n);
    if (over)
        return quipu_error_set(err, QUIPU_ERR_NUMERIC, "%s: tensor '%s' holds %zu value%s past the range of %s (|x| > %s): use dtype %s",
                               L->src.path, name, over, over == 1 ? "" : "s", quipu_etype_name(et),
                               et == QUIPU_E_F16 ? "65504" : "3.39e38", et == QUIPU_E_F16 ? "bf16 or f32" : "f32");
    return b->iface->buf_write(b, buf, 0, L->half, n * sizeof(uint16_t), err);
}

/* Dequantizes tensor r into a new backend buffer of rows*cols elements of type et (F32 for
 * vectors; the model's wtype for matrices), checks every value is finite. transpose: the file
 * holds [cols, rows] (GPT-2 Conv1D) and we want [rows, cols]. */
static quipu_status load_ref_cut(loader *L, const tref *r, int64_t rows, int64_t cols, int transpose, float add, quipu_etype et,
                                 quipu_buf **out, quipu_error *err);

/* the layer's projection matrices: the weights kept in GGUF blocks when the model's are (the
 * embeddings, the LM head, norms and biases are always dequantized at load) */
static int is_layer_matrix(const quipu_model *m, quipu_buf **out) {
    const char *p = (const char *)out, *base = (const char *)m->layers;
    size_t sz = sizeof *m->layers;
    if (!m->layers || p < base || p >= base + sz * (size_t)m->cfg.n_layer) return 0;
    size_t off = (size_t)(p - base) % sz;
#define IS(f) (off == offsetof(quipu_layer_weights, f))
    return IS(wq) || IS(wk) || IS(wv) || IS(wo) || IS(w_gate) || IS(w_up) || IS(w_down);
#undef IS
}

const quipu_qweight *quipu_model_qweight(const quipu_model *m, const quipu_buf *buf) {
    for (size_t i = 0; buf && i < m->n_qw; i++)
        if (m->qw[i].buf == buf) return &m->qw[i];
    return NULL;
}

/* A layer matrix kept as its file's blocks (already checked against the tensor's size by
 * load_ref / load_ref_cut): every value is dequantized once on the host to check it is finite, as
 * the dense load does, then the blocks themselves are uploaded: all of them, or under tensor
 * parallelism this member's slice (cut: its rows, or its columns as whole blocks of each row,
 * blocks_cut_ok), gathered into the loader's staging. */
static quipu_status load_blocks(loader *L, const tref *r, int64_t rows, int64_t cols, tp_cut cut, quipu_buf **out, quipu_error *err) {
    quipu_model *m = L->m;
    quipu_backend *b = m->backend;
    uint64_t row_bytes = 0, n = (uint64_t)rows * (uint64_t)cols;
    int64_t r0 = cut.kind == 1 ? cut.lo : 0, nr = cut.kind == 1 ? cut.n : rows, c0 = cut.kind == 2 ? cut.lo : 0, nc = cut.kind == 2 ? cut.n : cols;
    uint64_t srb = 0, skip = 0;
    if (quipu_dtype_row_bytes(r->type, (uint64_t)cols, &row_bytes) != 0 || quipu_dtype_row_bytes(r->type, (uint64_t)nc, &srb) != 0 ||
        quipu_dtype_row_bytes(r->type, (uint64_t)c0, &skip) != 0 || r0 < 0 || nr < 1 || r0 + nr > rows || c0 + nc > cols)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' rows are not whole blocks", L->src.path, r->name);
    quipu_qweight *nq = realloc(m->qw, (m->n_qw + 1) * sizeof *nq);
    if (!nq) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory loading '%s'", L->src.path, r->name);
    m->qw = nq;
    if (L->tmp_cap < n) {
        float *nt = realloc(L->tmp, n * sizeof(float));
        if (!nt) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory loading '%s'", L->src.path, r->name);
        L->tmp = nt;
        L->tmp_cap = n;
    }
    quipu_status st = quipu_dequantize(r->type, r->data, L->tmp, n, err);
    if (st) return quipu_error_set(err, st, "%s: tensor '%s': cannot dequantize", L->src.path, r->name);
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(L->tmp[i]))
            return quipu_error_set(err, QUIPU_ERR_NUMERIC, "%s: tensor '%s' holds a non-finite value (NaN or Inf) at element %llu", L->src.path,
                                   r->name, (unsigned long long)i);
    const unsigned char *src = (const unsigned char *)r->data + (uint64_t)r0 * row_bytes;
    if (cut.kind == 2) { /* the values are checked: the staging now gathers the slice's blocks (fewer bytes than n floats) */
        unsigned char *g = (unsigned char *)L->tmp;
        for (int64_t i = 0; i < nr; i++) memcpy(g + (uint64_t)i * srb, src + (uint64_t)i * row_bytes + skip, srb);
        src = g;
    }
    quipu_buf *buf = b->iface->buf_alloc(b, srb * (uint64_t)nr, err);
    if (!buf) return err->code;
    L->inflight = buf;
    if ((st = b->iface->buf_write(b, buf, 0, src, srb * (uint64_t)nr, err))) {
        b->iface->buf_free(b, buf), L->inflight = NULL;
        return st;
    }
    L->inflight = NULL;
    m->qw[m->n_qw++] = (quipu_qweight){.buf = buf, .qtype = r->type, .rows = nr, .cols = nc, .row_bytes = srb};
    uint64_t dense = (uint64_t)nr * (uint64_t)nc * quipu_etype_size(m->wtype);
    if (dense > m->qw_scratch) m->qw_scratch = dense;
    m->weight_bytes += srb * (uint64_t)nr;
    *out = buf;
    return QUIPU_OK;
}

/* whether a layer matrix of block type `type` can stay in blocks for this member's slice: rows
 * always; columns (the row-parallel output and down projections) when the slice starts and ends
 * on block boundaries */
static int blocks_cut_ok(tp_cut cut, uint32_t type) {
    int64_t bs = (int64_t)quipu_dtype_block_size(type);
    return bs > 1 && (cut.kind != 2 || (cut.lo % bs == 0 && cut.n % bs == 0));
}

/* QUIPU_DEBUG_ROUND_WEIGHTS=bf16: the weight matrices a GPU in dtype bf16 stores in bf16 are
 * rounded to bf16 (nearest even) and widened back to f32 as they load on the CPU backend, so the
 * CPU computes in fp32 over the GPU's weights: a GPU's bf16 mode on its fixed-order tile GEMM
 * (x kept fp32) should then agree with it as f32 does (scripts/gpu-emulate.sh). Dense loads only;
 * not for tensor-parallel slices. Never for results. */
static int debug_round_bf16(void) {
    const char *e = getenv("QUIPU_DEBUG_ROUND_WEIGHTS");
    return e && !strcmp(e, "bf16");
}

static quipu_status load_ref(loader *L, const tref *r, int64_t rows, int64_t cols, int transpose, float add, quipu_etype et,
                             quipu_buf **out, quipu_error *err) {
    quipu_model *m = L->m;
    quipu_backend *b = m->backend;
    *out = NULL;
    if (L->cut.kind) return load_ref_cut(L, r, rows, cols, transpose, add, et, out, err);
    if (r->bad_shape) return bad_shape_error(L, r, err);
    int64_t frows = transpose ? cols : rows, fcols = transpose ? rows : cols;
    if (r->rows != frows || r->cols != fcols)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]", L->src.path,
                               r->name, (long long)r->rows, (long long)r->cols, (long long)frows, (long long)fcols);
    if (quipu_dtype_block_size(r->type) == 0)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s (%u), which quipu cannot dequantize", L->src.path,
                               r->name, quipu_dtype_name(r->type) ? quipu_dtype_name(r->type) : "unknown", r->type);
    uint64_t n = (uint64_t)rows * (uint64_t)cols, need;
    if (quipu_dtype_row_bytes(r->type, (uint64_t)fcols, &need) != 0 || quipu_mul_overflow_u64(need, (uint64_t)frows, &need) ||
        need > r->nbytes)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' data is smaller than its shape and type require", L->src.path, r->name);
    if (m->blocks && !transpose && add == 0.0f && et == m->wtype && quipu_dtype_block_size(r->type) > 1 && is_layer_matrix(m, out))
        return load_blocks(L, r, rows, cols, (tp_cut){0}, out, err);
    quipu_buf *buf = b->iface->buf_alloc(b, n * quipu_etype_size(et), err);
    if (!buf) return err->code;
    L->inflight = buf;
    /* an fp32 buffer in host memory is dequantized into directly; anything else is staged */
    float *dst = et == QUIPU_E_F32 && b->iface->buf_host_ptr ? b->iface->buf_host_ptr(buf) : NULL;
    float *work = dst;
    if (!work || transpose) {
        if (L->tmp_cap < n) {
            float *nt = realloc(L->tmp, n * sizeof(float));
            if (!nt) {
                b->iface->buf_free(b, buf), L->inflight = NULL;
                return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory loading '%s'", L->src.path, r->name);
            }
            L->tmp = nt;
            L->tmp_cap = n;
        }
        work = L->tmp;
    }
    quipu_status st = quipu_dequantize(r->type, r->data, work, n, err);
    if (st != QUIPU_OK) {
        b->iface->buf_free(b, buf), L->inflight = NULL;
        return quipu_error_set(err, st, "%s: tensor '%s': cannot dequantize", L->src.path, r->name);
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!isfinite(work[i])) {
            b->iface->buf_free(b, buf), L->inflight = NULL;
            return quipu_error_set(err, QUIPU_ERR_NUMERIC, "%s: tensor '%s' holds a non-finite value (NaN or Inf) at element %llu",
                                   L->src.path, r->name, (unsigned long long)i);
        }
        work[i] += add;
    }
    if (rows > 1 && et == QUIPU_E_F32 && debug_round_bf16()) /* a check of the bf16 mode on the CPU (debug_round_bf16) */
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h;
            quipu_convert_f32(QUIPU_E_BF16, &work[i], &h, 1);
            work[i] = quipu_bf16_to_f32(h);
        }
    if (transpose) {
        float *t = dst ? dst : NULL;
        float *scratch = NULL;
        if (!t) {
            scratch = malloc(n * sizeof(float));
            if (!scratch) {
                b->iface->buf_free(b, buf), L->inflight = NULL;
                return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory loading '%s'", L->src.path, r->name);
            }
            t = scratch;
        }
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) t[i * cols + j] = work[j * rows + i];
        if (!dst) st = upload_as(L, buf, t, n, et, r->name, err);
        free(scratch);
    } else if (!dst) {
        st = upload_as(L, buf, work, n, et, r->name, err);
    }
    if (st != QUIPU_OK) {
        b->iface->buf_free(b, buf), L->inflight = NULL;
        return st;
    }
    m->weight_bytes += n * quipu_etype_size(et);
    *out = buf;
    L->inflight = NULL;
    return QUIPU_OK;
}

/* A tensor-parallel member's slice: the whole tensor is dequantized on the host (one tensor at a
 * time), then only the slice is uploaded, so a member's device holds its share only. */
static quipu_status load_ref_cut(loader *L, const tref *r, int64_t rows, int64_t cols, int transpose, float add, quipu_etype et,
                                 quipu_buf **out, quipu_error *err) {
    quipu_model *m = L->m;
    quipu_backend *b = m->backend;
    tp_cut cut = L->cut;
    L->cut.kind = 0;
    if (r->bad_shape) return bad_shape_error(L, r, err);
    int64_t frows = transpose ? cols : rows, fcols = transpose ? rows : cols;
    if (r->rows != frows || r->cols != fcols)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]", L->src.path,
                               r->name, (long long)r->rows, (long long)r->cols, (long long)frows, (long long)fcols);
    uint64_t nf = (uint64_t)rows * (uint64_t)cols, need;
    if (quipu_dtype_block_size(r->type) == 0 || quipu_dtype_row_bytes(r->type, (uint64_t)fcols, &need) != 0 ||
        quipu_mul_overflow_u64(need, (uint64_t)frows, &need) || need > r->nbytes)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': type or size does not fit its shape", L->src.path, r->name);
    if (m->blocks == 1 && !transpose && add == 0.0f && et == m->wtype && rows > 1 && is_layer_matrix(m, out) && blocks_cut_ok(cut, r->type))
        return load_blocks(L, r, rows, cols, cut, out, err);
    /* the whole tensor on the host, as load_ref makes it */
    float *all = malloc((nf ? nf : 1) * sizeof(float)), *tr = NULL;
    if (!all) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory loading '%s'", L->src.path, r->name);
    L->inflight_host = all;
    quipu_status st = quipu_dequantize(r->type, r->data, all, nf, err);
    L->inflight_host = NULL;
    if (st) {
        free(all);
        return quipu_error_set(err, st, "%s: tensor '%s': cannot dequantize", L->src.path, r->name);
    }
    for (uint64_t i = 0; i < nf; i++) {
        if (!isfinite(all[i])) {
            free(all);
            return quipu_error_set(err, QUIPU_ERR_NUMERIC, "%s: tensor '%s' holds a non-finite value (NaN or Inf) at element %llu", L->src.path,
                                   r->name, (unsigned long long)i);
        }
        all[i] += add;
    }
    if (transpose) {
        if (!(tr = malloc((nf ? nf : 1) * sizeof(float)))) {
            free(all);
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory loading '%s'", L->src.path, r->name);
        }
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) tr[i * cols + j] = all[j * rows + i];
        free(all);
        all = tr;
    }
    int vec = rows == 1;
    int64_t out_rows = vec ? 1 : cut.kind == 1 ? cut.n : rows, out_cols = vec || cut.kind == 2 ? cut.n : cols;
    int64_t r0 = !vec && cut.kind == 1 ? cut.lo : 0, c0 = vec || cut.kind == 2 ? cut.lo : 0;
    uint64_t n = (uint64_t)out_rows * (uint64_t)out_cols;
    float *slice = malloc((n ? n : 1) * sizeof(float));
    quipu_buf *buf = slice ? b->iface->buf_alloc(b, n * quipu_etype_size(et), err) : NULL;
    if (!slice || !buf) {
        free(slice);
        free(all);
        return slice ? err->code : quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory loading '%s'", L->src.path, r->name);
    }
    for (int64_t i = 0; i < out_rows; i++) memcpy(slice + i * out_cols, all + (r0 + i) * cols + c0, (size_t)out_cols * sizeof(float));
    free(all);
    st = upload_as(L, buf, slice, n, et, r->name, err);
    free(slice);
    if (st) {
        b->iface->buf_free(b, buf);
        return st;
    }
    m->weight_bytes += n * quipu_etype_size(et);
    *out = buf;
    return QUIPU_OK;
}

/* Which slice of the weight that will land in *out a tensor-parallel member keeps (by where it
 * lands: a field of a layer, or the untied LM head); none for everything else. */
static tp_cut cut_for(const loader *L, quipu_buf **out) {
    const quipu_model *m = L->m;
    tp_cut none = {0};
    if (m->tp_size <= 1) return none;
    int64_t HD = m->cfg.head_dim;
    tp_cut q = {1, m->tp_rank * m->n_head_l * HD, m->n_head_l * HD}, kv = {1, m->kv_lo_l * HD, m->n_head_kv_l * HD};
    tp_cut ff = {1, m->tp_rank * m->n_ff_l, m->n_ff_l};
    if (out == &m->lm_head && !m->cfg.tied_embeddings) return (tp_cut){1, m->v_lo, m->n_vocab_l};
    const char *p = (const char *)out, *base = (const char *)m->layers;
    size_t sz = sizeof *m->layers;
    if (!m->layers || p < base || p >= base + sz * (size_t)m->cfg.n_layer) return none;
    size_t off = (size_t)(p - base) % sz;
#define IS(f) (off == offsetof(quipu_layer_weights, f))
    if (IS(wq) || IS(bq)) return q;
    if (IS(wk) || IS(wv) || IS(bk) || IS(bv)) return kv;
    if (IS(wo)) return (tp_cut){2, q.lo, q.n};
    if (IS(w_gate) || IS(w_up) || IS(b_up)) return ff;
    if (IS(w_down)) return (tp_cut){2, ff.lo, ff.n};
#undef IS
    return none;
}

/* Loads tensor `name` as [rows, cols] (cols = 0: a vector of rows elements). required = 0
 * leaves *out NULL when the tensor is absent. */
static quipu_status load_w(loader *L, const char *name, int64_t rows, int64_t cols, int required, quipu_buf **out, quipu_error *err) {
    tref r;
    *out = NULL;
    if (!wsrc_find(&L->src, name, &r)) {
        if (!required) return QUIPU_OK;
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%s'", L->src.path, name);
    }
    if (r.bad_shape) return bad_shape_error(L, &r, err);
    if (cols == 0) {
        if (r.rows * r.cols != rows)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has %lld elements, expected %lld", L->src.path, name,
                                   (long long)(r.rows * r.cols), (long long)rows);
        r.rows = 1;
        r.cols = rows;
        L->cut = cut_for(L, out);
        return load_ref(L, &r, 1, rows, 0, 0.0f, QUIPU_E_F32, out, err);
    }
    L->cut = cut_for(L, out);
    return load_ref(L, &r, rows, cols, 0, 0.0f, L->m->wtype, out, err);
}

static quipu_status bad_shape_error(const loader *L, const tref *r, quipu_error *err) {
    return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has shape [%s]: a zero-sized weight, or more than 2^40 elements",
                           L->src.path, r->name, r->shape);
}

/* ---------------------------------------------------------------- configuration */

/* Hyper-parameter ranges. A value read from config.json or GGUF metadata outside its range is
 * an error naming the key ("DIR/config.json: 'hidden_size' is 1e+300, expected an integer in
 * [1, 131072]"), so nothing downstream casts, multiplies or allocates from an absurd number
 * (docs/bad-input.md lists them). Absent keys take the defaults below them.
 *
 *   range        config.json keys                                   GGUF keys (ARCH.)              range
 *   HP_EMBD      hidden_size, n_embd, n_embed                       embedding_length               1 .. 131072
 *   HP_LAYERS    num_hidden_layers, n_layer,                        block_count                    1 .. 512
 *                num_ln_in_parallel_attn (then 1 or 2)
 *   HP_HEADS     num_attention_heads, num_key_value_heads, n_head,  attention.head_count(_kv)      1 .. 4096
 *                num_kv_heads
 *   HP_HEAD_DIM  head_dim                                           attention.key_length,          1 .. 8192
 *                                                                   rope.dimension_count
 *   HP_FF        intermediate_size, n_inner, ffn_hidden_size        feed_forward_length            1 .. 2^20
 *   HP_CTX       max_position_embeddings, n_positions,              context_length                 1 .. 2^24
 *                original_max_position_embeddings
 *   HP_WINDOW    sliding_window, max_window_layers,                 attention.sliding_window(_pattern) 0 .. 2^24
 *                sliding_window_pattern
 *   HP_TOKEN     bos_token_id, eos_token_id                         -                              -1 .. 2^31-1
 *   HP_EPS       rms_norm_eps, layer_norm_epsilon, layer_norm_eps   attention.layer_norm_(rms_)epsilon 1e-30 .. 1
 *   HP_THETA     rope_theta, rope_local_base_freq, rotary_emb_base  rope.freq_base(_swa)           1e-3 .. 1e12
 *   HP_FACTOR    rope scaling factor, low/high_freq_factor,         rope.scaling.factor            1e-6 .. 1e6
 *                LongRoPE factor, attention_factor, and each entry of short_factor / long_factor
 *   HP_SCALAR    query_pre_attn_scalar, attn_logit_softcapping,     -                              1e-6 .. 1e9
 *                final_logit_softcapping
 *   HP_FRACTION  partial_rotary_factor, rotary_pct                  -                              1e-6 .. 1
 *   HP_EXPERTS   num_local_experts, num_experts, num_experts_per_tok expert_count, expert_used_count 0 .. 1024
 *                (0 experts: dense; then 1 .. the experts per token), decoder_sparse_step (then >= 1)
 *   vocabulary   rows of the token embedding                                                       1 .. 2^24
 * Derived sizes (4 * n_embd for GPT-2's FFN, heads * head_dim) stay far inside int64 with these. */
enum { HP_EMBD, HP_LAYERS, HP_HEADS, HP_HEAD_DIM, HP_FF, HP_CTX, HP_WINDOW, HP_TOKEN, HP_EPS, HP_THETA, HP_FACTOR, HP_SCALAR, HP_FRACTION,
       HP_EXPERTS };
static const struct {
    double lo, hi;
    int integer;
} hp_range[] = {
    [HP_EMBD] = {1, 131072, 1},          [HP_LAYERS] = {1, QUIPU_MAX_LAYERS, 1}, [HP_HEADS] = {1, 4096, 1},
    [HP_HEAD_DIM] = {1, 8192, 1},        [HP_FF] = {1, 1 << 20, 1},              [HP_CTX] = {1, 1 << 24, 1},
    [HP_WINDOW] = {0, 1 << 24, 1},       [HP_TOKEN] = {-1, 2147483647.0, 1},     [HP_EPS] = {1e-30, 1, 0},
    [HP_THETA] = {1e-3, 1e12, 0},        [HP_FACTOR] = {1e-6, 1e6, 0},           [HP_SCALAR] = {1e-6, 1e9, 0},
    [HP_FRACTION] = {1e-6, 1, 0},        [HP_EXPERTS] = {0, 1024, 1},
};
#define HP_MAX_VOCAB (INT64_C(1) << 24)

/* Where hyper-parameters come from, and the first bad one (sticky, like quipu_error): readers
 * return the default once bad is set, and the caller checks bad after a block of reads. */
typedef struct hp_reader {
    const char *path;   /* the file named in messages */
    const char *prefix; /* GGUF: "ARCH." before every key; config.json: "" */
    quipu_error *err;
    int bad;
} hp_reader;

static void hp_fail(hp_reader *h, const char *key, const char *val, int hp) {
    char lo[40], hi[40];
    quipu_format_shortest(lo, sizeof lo, hp_range[hp].lo);
    quipu_format_shortest(hi, sizeof hi, hp_range[hp].hi);
    quipu_error_set(h->err, QUIPU_ERR_FORMAT, "%s: '%s%s' is %s, expected %s in [%s, %s]", h->path, h->prefix, key, val,
                    hp_range[hp].integer ? "an integer" : "a number", lo, hi);
    h->bad = 1;
}

/* x (from key) checked against its range; 1 if it is in. */
static int hp_check(hp_reader *h, const char *key, double x, int hp) {
    if (isfinite(x) && x >= hp_range[hp].lo && x <= hp_range[hp].hi && (!hp_range[hp].integer || x == floor(x))) return 1;
    char v[40];
    if (isfinite(x) && x == floor(x) && fabs(x) < 1e19) snprintf(v, sizeof v, "%.0f", x);
    else if (isfinite(x)) quipu_format_shortest(v, sizeof v, x);
    else snprintf(v, sizeof v, "%s", isnan(x) ? "NaN" : "infinite");
    hp_fail(h, key, v, hp);
    return 0;
}

static quipu_status finish_config(quipu_model *m, const char *path, quipu_error *err);

static quipu_status finish_config(quipu_model *m, const char *path, quipu_error *err) {
    quipu_model_config *c = &m->cfg;
    if (c->n_embd <= 0 || c->n_layer <= 0 || c->n_head <= 0 || c->n_ff <= 0)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing or non-positive model dimensions (embedding %lld, layers %lld, heads %lld, ffn %lld)",
                               path, (long long)c->n_embd, (long long)c->n_layer, (long long)c->n_head, (long long)c->n_ff);
    if (c->n_layer > QUIPU_MAX_LAYERS)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: %lld layers (quipu handles at most %d)", path, (long long)c->n_layer, QUIPU_MAX_LAYERS);
    if (c->n_head_kv <= 0) c->n_head_kv = c->n_head;
    if (c->n_head % c->n_head_kv != 0)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %lld attention heads is not a multiple of %lld key/value heads", path,
                               (long long)c->n_head, (long long)c->n_head_kv);
    if (c->head_dim <= 0) {
        if (c->n_embd % c->n_head != 0)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: embedding width %lld not divisible by %lld heads", path, (long long)c->n_embd,
                                   (long long)c->n_head);
        c->head_dim = c->n_embd / c->n_head;
    }
    if (c->n_rot <= 0) c->n_rot = c->head_dim;
    if (c->rope_kind != QUIPU_ROPE_NONE && (c->n_rot > c->head_dim || c->n_rot % 2)) /* no rotation (GPT-2, BLOOM): any head dim */
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: rotary dimension %lld invalid for head dim %lld", path, (long long)c->n_rot, (long long)c->head_dim);
    if (c->rope_base <= 0) c->rope_base = 10000.0f;
    if (c->rope_base_local <= 0) c->rope_base_local = c->rope_base;
    if (c->rope_pos_scale <= 0) c->rope_pos_scale = 1.0f;
    if (c->norm_eps <= 0) c->norm_eps = 1e-5f;
    if (c->attn_scale <= 0) c->attn_scale = 1.0f / sqrtf((float)c->head_dim);
    if (c->embd_scale <= 0) c->embd_scale = 1.0f;
    if (c->n_ctx <= 0) c->n_ctx = 2048;
    return QUIPU_OK;
}

/* ARCH.key as an integer in range hp; absent: def. */
static int64_t gguf_int(hp_reader *h, const quipu_gguf *g, const char *key, int64_t def, int hp) {
    char k[160];
    int64_t v;
    if (h->bad) return def;
    snprintf(k, sizeof k, "%s%s", h->prefix, key);
    const quipu_gguf_kv *kv = quipu_gguf_find(g, k);
    if (!kv) return def;
    int ok = quipu_gguf_get_int(g, k, &v);
    /* per-layer arrays (some archs): take the first element */
    if (!ok && kv->type == QUIPU_GGUF_ARRAY && kv->arr_count > 0) ok = quipu_gguf_arr_get_int(kv, 0, &v);
    if (!ok) {
        hp_fail(h, key, "not an integer (or past 2^63)", hp);
        return def;
    }
    return hp_check(h, key, (double)v, hp) ? v : def;
}

static double gguf_float(hp_reader *h, const quipu_gguf *g, const char *key, double def, int hp) {
    char k[160];
    double v;
    if (h->bad) return def;
    snprintf(k, sizeof k, "%s%s", h->prefix, key);
    if (!quipu_gguf_find(g, k)) return def;
    if (!quipu_gguf_get_float(g, k, &v)) {
        hp_fail(h, key, "not a number", hp);
        return def;
    }
    return hp_check(h, key, v, hp) ? v : def;
}

#define GGUF_ARCH_LIST "llama (with or without experts), mistral, qwen2, qwen2moe, qwen3, qwen3moe, gemma3, gpt2, bloom, falcon, olmo2, gptneox, phi3"

/* Experts in a GGUF, as llama.cpp writes them: ARCH.expert_count and expert_used_count; the experts'
 * width expert_feed_forward_length (Mixtral, arch llama: feed_forward_length); Qwen2-MoE's shared
 * expert expert_shared_feed_forward_length (else its tensor's rows). A layer is sparse when it has
 * blk.N.ffn_gate_inp. The top-k weights are renormalized as llama.cpp does per architecture (Qwen2-MoE
 * not, Mixtral and Qwen3-MoE yes) unless expert_weights_norm says. */
static quipu_status config_moe_gguf(quipu_model *m, const quipu_gguf *g, hp_reader *h, quipu_error *err) {
    quipu_model_config *c = &m->cfg;
    const char *an = c->arch_name;
    c->n_expert = gguf_int(h, g, "expert_count", 0, HP_EXPERTS);
    if (h->bad) return err->code;
    int moe_arch = !strcmp(an, "qwen2moe") || !strcmp(an, "qwen3moe");
    if (c->n_expert == 0 && moe_arch)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing key '%s.expert_count'", m->path, an);
    if (c->n_expert == 0) return QUIPU_OK;
    if (strcmp(an, "llama") && !moe_arch)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: experts in a '%s' GGUF are not supported (mixture of experts: llama (Mixtral), qwen2moe, qwen3moe)",
                               m->path, an);
    char k[160];
    snprintf(k, sizeof k, "%sexpert_used_count", h->prefix);
    if (!quipu_gguf_find(g, k)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing key '%s'", m->path, k);
    c->n_expert_used = gguf_int(h, g, "expert_used_count", 0, HP_EXPERTS);
    c->n_ff_exp = gguf_int(h, g, "expert_feed_forward_length", c->n_ff, HP_FF);
    c->n_ff_shexp = gguf_int(h, g, "expert_shared_feed_forward_length", 0, HP_FF);
    c->expert_norm = strcmp(an, "qwen2moe") != 0;
    snprintf(k, sizeof k, "%sexpert_weights_norm", h->prefix);
    if (quipu_gguf_find(g, k) && !quipu_gguf_get_bool(g, k, &c->expert_norm))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: '%s' is not a boolean", m->path, k);
    if (h->bad) return err->code;
    if (c->n_expert_used < 1 || c->n_expert_used > c->n_expert)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: '%sexpert_used_count' is %lld, expected 1 to the %lld experts", m->path, h->prefix,
                               (long long)c->n_expert_used, (long long)c->n_expert);
    for (int64_t l = 0; l < c->n_layer && l < QUIPU_MAX_LAYERS; l++) {
        char n[96];
        snprintf(n, sizeof n, "blk.%lld.ffn_gate_inp.weight", (long long)l);
        c->layer_moe[l] = quipu_gguf_find_tensor(g, n) != NULL;
        snprintf(n, sizeof n, "blk.%lld.ffn_up_shexp.weight", (long long)l);
        const quipu_gguf_tensor *t = quipu_gguf_find_tensor(g, n);
        if (t && c->n_ff_shexp == 0 && t->n_dims == 2 && t->ne[1] >= 1 && t->ne[1] <= (1u << 20)) c->n_ff_shexp = (int64_t)t->ne[1];
    }
    return QUIPU_OK;
}

static quipu_status config_from_gguf(quipu_model *m, const quipu_gguf *g, quipu_error *err) {
    quipu_model_config *c = &m->cfg;
    quipu_gguf_str a = quipu_gguf_get_str(g, "general.architecture");
    if (!a.ptr) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: no general.architecture key", m->path);
    if (a.len >= sizeof c->arch_name) a.len = sizeof c->arch_name - 1;
    memcpy(c->arch_name, a.ptr, a.len);
    c->arch_name[a.len] = '\0';
    strcpy(c->source, "gguf");
    const char *an = c->arch_name;
    if (!strcmp(an, "llama") || !strcmp(an, "mistral")) {
        c->arch = QUIPU_ARCH_LLAMA;
        c->rope_kind = QUIPU_ROPE_NORM; /* Q/K rows permuted by the converter: adjacent pairs */
    } else if (!strcmp(an, "qwen2") || !strcmp(an, "qwen2moe")) {
        c->arch = QUIPU_ARCH_LLAMA;
        c->rope_kind = QUIPU_ROPE_NEOX;
    } else if (!strcmp(an, "gemma3")) {
        c->arch = QUIPU_ARCH_GEMMA3;
        c->rope_kind = QUIPU_ROPE_NEOX;
    } else if (!strcmp(an, "gpt2")) {
        c->arch = QUIPU_ARCH_GPT2;
        c->rope_kind = QUIPU_ROPE_NONE;
    } else if (!strcmp(an, "bloom")) {
        c->arch = QUIPU_ARCH_BLOOM;
        c->rope_kind = QUIPU_ROPE_NONE;
    } else if (!strcmp(an, "falcon")) {
        c->arch = QUIPU_ARCH_FALCON;
        c->rope_kind = QUIPU_ROPE_NEOX; /* the converter leaves Q/K rows in Hugging Face order */
    } else if (!strcmp(an, "qwen3") || !strcmp(an, "qwen3moe")) {
        c->arch = QUIPU_ARCH_QWEN3;
        c->rope_kind = QUIPU_ROPE_NEOX; /* Q/K rows in Hugging Face order */
    } else if (!strcmp(an, "olmo2")) {
        c->arch = QUIPU_ARCH_OLMO2;
        c->rope_kind = QUIPU_ROPE_NEOX;
    } else if (!strcmp(an, "gptneox")) {
        c->arch = QUIPU_ARCH_GPTNEOX;
        c->rope_kind = QUIPU_ROPE_NEOX;
    } else if (!strcmp(an, "phi3")) {
        c->arch = QUIPU_ARCH_PHI3;
        c->rope_kind = QUIPU_ROPE_NEOX;
    } else if (!strcmp(an, "gemma2")) {
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                               "%s: architecture '%s' is read from Hugging Face safetensors checkpoints only, not yet from GGUF: a Gemma 2 GGUF "
                               "carries no query_pre_attn_scalar (llama.cpp infers the attention scale from the model size) and its "
                               "tokenizer needs Gemma's vocabulary (GGUF: " GGUF_ARCH_LIST ")",
                               m->path, an);
    } else {
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: unknown architecture '%s' (supported: " GGUF_ARCH_LIST ")", m->path, an);
    }
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s.", an);
    hp_reader h = {.path = m->path, .prefix = prefix, .err = err};
    static const char *const needed[] = {"embedding_length", "block_count", "feed_forward_length", "attention.head_count", NULL};
    for (int i = 0; needed[i]; i++) {
        char k[160];
        snprintf(k, sizeof k, "%s%s", prefix, needed[i]);
        if (!quipu_gguf_find(g, k)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing key '%s'", m->path, k);
    }
    c->n_embd = gguf_int(&h, g, "embedding_length", 0, HP_EMBD);
    c->n_layer = gguf_int(&h, g, "block_count", 0, HP_LAYERS);
    c->n_ff = gguf_int(&h, g, "feed_forward_length", 0, HP_FF);
    c->n_head = gguf_int(&h, g, "attention.head_count", 0, HP_HEADS);
    c->n_head_kv = gguf_int(&h, g, "attention.head_count_kv", c->n_head, HP_HEADS);
    c->head_dim = gguf_int(&h, g, "attention.key_length", 0, HP_HEAD_DIM);
    c->n_ctx = gguf_int(&h, g, "context_length", 2048, HP_CTX);
    c->n_rot = gguf_int(&h, g, "rope.dimension_count", 0, HP_HEAD_DIM);
    c->rope_base = (float)gguf_float(&h, g, "rope.freq_base", 10000.0, HP_THETA);
    if (h.bad) return err->code;
    const quipu_gguf_tensor *te = quipu_gguf_find_tensor(g, "token_embd.weight");
    if (!te) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor 'token_embd.weight'", m->path);
    if (te->n_dims != 2 || te->ne[1] < 1 || te->ne[1] > (uint64_t)HP_MAX_VOCAB)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor 'token_embd.weight' has %u dimensions and %llu rows, expected 2 and a vocabulary of 1 to %lld",
                               m->path, te->n_dims, (unsigned long long)te->ne[1], (long long)HP_MAX_VOCAB);
    c->n_vocab = (int64_t)te->ne[1];
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", an);
    quipu_gguf_str st = quipu_gguf_get_str(g, key);
    if (st.ptr && !(st.len == 4 && !memcmp(st.ptr, "none", 4))) {
        if (st.len == 6 && !memcmp(st.ptr, "linear", 6)) {
            double f = gguf_float(&h, g, "rope.scaling.factor", 1.0, HP_FACTOR);
            if (f > 0) c->rope_pos_scale = (float)(1.0 / f);
        } else {
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: rope scaling type '%.*s' is not supported", m->path, (int)st.len, st.ptr);
        }
    }
    switch (c->arch) {
    case QUIPU_ARCH_LLAMA:
        c->norm_kind = QUIPU_NORM_RMS;
        c->norm_eps = (float)gguf_float(&h, g, "attention.layer_norm_rms_epsilon", 1e-5, HP_EPS);
        c->act = QUIPU_ACT_SILU;
        break;
    case QUIPU_ARCH_GEMMA3:
        c->norm_kind = QUIPU_NORM_RMS;
        c->norm_eps = (float)gguf_float(&h, g, "attention.layer_norm_rms_epsilon", 1e-6, HP_EPS);
        c->act = QUIPU_ACT_GELU_TANH;
        c->gemma_norms = 1;
        c->qk_norm = 1;
        c->sliding_window = (int32_t)gguf_int(&h, g, "attention.sliding_window", 0, HP_WINDOW);
        /* not stored by the converter: local base 10000 and a 5:1 local:global pattern */
        c->rope_base_local = (float)gguf_float(&h, g, "rope.freq_base_swa", 10000.0, HP_THETA);
        {
            int64_t pat = gguf_int(&h, g, "attention.sliding_window_pattern", 6, HP_WINDOW);
            for (int64_t i = 0; i < c->n_layer && i < QUIPU_MAX_LAYERS; i++)
                c->layer_sliding[i] = (uint8_t)(pat > 0 && (i + 1) % pat != 0);
        }
        if (c->head_dim <= 0 && c->n_head > 0) c->head_dim = c->n_embd / c->n_head;
        c->attn_scale = 1.0f / sqrtf((float)c->head_dim);
        c->embd_scale = sqrtf((float)c->n_embd);
        break;
    case QUIPU_ARCH_GPT2:
        c->norm_kind = QUIPU_NORM_LAYER;
        c->norm_eps = (float)gguf_float(&h, g, "attention.layer_norm_epsilon", 1e-5, HP_EPS);
        c->act = QUIPU_ACT_GELU_TANH;
        break;
    case QUIPU_ARCH_BLOOM:
        /* llama.cpp's converter writes seq_length, or n_embed where the config has none, as the
         * context: ALiBi has no table, so the safetensors path's 2048 (lm-evaluation-harness's
         * max_length) is kept */
        c->norm_kind = QUIPU_NORM_LAYER;
        c->norm_eps = (float)gguf_float(&h, g, "attention.layer_norm_epsilon", 1e-5, HP_EPS);
        c->act = QUIPU_ACT_GELU_TANH;
        c->alibi = c->embd_norm = c->linear_bias = 1;
        c->qkv_layout = QUIPU_QKV_BLOCKS; /* the converter regroups BLOOM's per-head rows */
        c->n_ctx = 2048;
        break;
    case QUIPU_ARCH_FALCON:
        /* llama.cpp's Falcon: attention and MLP in parallel, a second norm (attn_norm_2) in the
         * 40B/180B layout, query_key_value regrouped into all q, then k, then v */
        c->norm_kind = QUIPU_NORM_LAYER;
        c->norm_eps = (float)gguf_float(&h, g, "attention.layer_norm_epsilon", 1e-5, HP_EPS);
        c->act = QUIPU_ACT_GELU_ERF;
        c->qkv_layout = QUIPU_QKV_BLOCKS;
        c->parallel_residual = quipu_gguf_find_tensor(g, "blk.0.attn_norm_2.weight") ? 1 : 2;
        c->linear_bias = quipu_gguf_find_tensor(g, "blk.0.attn_qkv.bias") != NULL;
        break;
    case QUIPU_ARCH_QWEN3:
        c->norm_kind = QUIPU_NORM_RMS;
        c->norm_eps = (float)gguf_float(&h, g, "attention.layer_norm_rms_epsilon", 1e-6, HP_EPS);
        c->act = QUIPU_ACT_SILU;
        c->qk_norm = 1; /* attn_q_norm / attn_k_norm: one head's width */
        break;
    case QUIPU_ARCH_OLMO2:
        c->norm_kind = QUIPU_NORM_RMS;
        c->norm_eps = (float)gguf_float(&h, g, "attention.layer_norm_rms_epsilon", 1e-6, HP_EPS);
        c->act = QUIPU_ACT_SILU;
        c->qk_norm = 2; /* over the whole projection */
        c->post_norms_only = 1; /* post_attention_norm, post_ffw_norm; no attn_norm / ffn_norm */
        break;
    case QUIPU_ARCH_GPTNEOX: {
        /* Pythia: LayerNorms with biases, attn_qkv regrouped by the converter into all q, k, v,
         * rope.dimension_count the rotated share; no activation key: GPT-NeoX's exact GELU, as
         * transformers runs it */
        c->norm_kind = QUIPU_NORM_LAYER;
        c->norm_eps = (float)gguf_float(&h, g, "attention.layer_norm_epsilon", 1e-5, HP_EPS);
        c->act = QUIPU_ACT_GELU_ERF;
        c->qkv_layout = QUIPU_QKV_BLOCKS;
        int par = 1;
        if (quipu_gguf_find(g, "gptneox.use_parallel_residual") && !quipu_gguf_get_bool(g, "gptneox.use_parallel_residual", &par))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: 'gptneox.use_parallel_residual' is not a boolean", m->path);
        c->parallel_residual = par ? 1 : 0;
        break;
    }
    case QUIPU_ARCH_PHI3: {
        /* fused attn_qkv and ffn_up (gate rows, then up rows); every layer windowed when
         * attention.sliding_window is set; LongRoPE as the converter writes it: the factors as
         * tensors rope_factors_short / _long (only the short ones apply within
         * rope.scaling.original_context_length, past which sequences are refused) and the
         * attention factor, which scales cos/sin (attention scale times its square) */
        c->norm_kind = QUIPU_NORM_RMS;
        c->norm_eps = (float)gguf_float(&h, g, "attention.layer_norm_rms_epsilon", 1e-5, HP_EPS);
        c->act = QUIPU_ACT_SILU;
        c->qkv_layout = QUIPU_QKV_BLOCKS;
        c->sliding_window = (int32_t)gguf_int(&h, g, "attention.sliding_window", 0, HP_WINDOW);
        for (int64_t i = 0; i < c->n_layer && i < QUIPU_MAX_LAYERS; i++) c->layer_sliding[i] = (uint8_t)(c->sliding_window > 0);
        int sh = quipu_gguf_find_tensor(g, "rope_factors_short.weight") != NULL, lo = quipu_gguf_find_tensor(g, "rope_factors_long.weight") != NULL;
        if (sh != lo)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%s' (LongRoPE needs both factor tensors)", m->path,
                                   sh ? "rope_factors_long.weight" : "rope_factors_short.weight");
        if (sh) {
            char k[160];
            snprintf(k, sizeof k, "%srope.scaling.original_context_length", prefix);
            if (!quipu_gguf_find(g, k)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing key '%s' (LongRoPE)", m->path, k);
            c->rope_max_pos = gguf_int(&h, g, "rope.scaling.original_context_length", 0, HP_CTX);
            double af = gguf_float(&h, g, "rope.scaling.attn_factor", 1.0, HP_FACTOR);
            /* the converter's sqrt(1 + ln(s) / ln(original)), s = context / original, stored
             * rounded to f32: where the stored value is that number rounded, take it unrounded,
             * as transformers computes it from config.json */
            double s = (double)c->n_ctx / (double)c->rope_max_pos;
            if (!h.bad && c->rope_max_pos > 1 && s > 1.0) {
                double exact = sqrt(1.0 + log(s) / log((double)c->rope_max_pos));
                if ((float)exact == (float)af) af = exact;
            }
            int64_t hd = c->head_dim > 0 ? c->head_dim : (c->n_head > 0 ? c->n_embd / c->n_head : 0);
            int64_t nr = c->n_rot > 0 ? c->n_rot : hd;
            if (!h.bad && af != 1.0 && nr != hd)
                return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: LongRoPE with an attention factor on a partly rotated head is not supported", m->path);
            if (hd > 0) c->attn_scale = (float)(af * af / sqrt((double)hd));
            c->has_freq_factors = 2;
        }
        break;
    }
    default: /* the other families come from safetensors only (refused above) */
        break;
    }
    if (h.bad) return err->code;
    if (config_moe_gguf(m, g, &h, err)) return err->code;
    c->tied_embeddings = quipu_gguf_find_tensor(g, "output.weight") == NULL;
    if (c->arch != QUIPU_ARCH_GEMMA3) {
        /* other archs' local layers use the global base */
        c->rope_base_local = c->rope_base;
    }
    if (h.bad) return err->code;
    return finish_config(m, m->path, err);
}

/* JSON helpers for config.json: a number in range hp (an integral real counts as an integer);
 * absent or null: def; any other type or value is an error naming the key. */
static double js_value(hp_reader *h, json_t *o, const char *k, double def, int hp) {
    json_t *v = json_object_get(o, k);
    if (h->bad || !v || json_is_null(v)) return def;
    if (!json_is_number(v)) {
        hp_fail(h, k, json_is_string(v) ? "a string" : json_is_boolean(v) ? "a boolean" : "not a number", hp);
        return def;
    }
    double x = json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
    return hp_check(h, k, x, hp) ? x : def;
}
static int64_t js_int(hp_reader *h, json_t *o, const char *k, int64_t def, int hp) {
    json_t *v = json_object_get(o, k);
    double x = js_value(h, o, k, (double)def, hp);
    if (h->bad) return def;
    if (json_is_integer(v)) return (int64_t)json_integer_value(v); /* exact past 2^53 */
    return (int64_t)x; /* in range: checked */
}
static double js_num(hp_reader *h, json_t *o, const char *k, double def, int hp) { return js_value(h, o, k, def, hp); }
static const char *js_str(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Rope parameters: transformers 4.x writes rope_theta + rope_scaling; 5.x writes
 * rope_parameters, per layer type for Gemma 3. which: "full_attention" or "sliding_attention". */
static json_t *rope_params(json_t *cfg, const char *which) {
    json_t *rp = json_object_get(cfg, "rope_parameters");
    if (json_is_object(rp)) {
        json_t *sub = json_object_get(rp, which);
        if (json_is_object(sub)) return sub;
        if (json_object_get(rp, "rope_theta") || json_object_get(rp, "rope_type")) return rp;
    }
    return NULL;
}

static quipu_status config_rope_scaling(quipu_model *m, json_t *cfg, json_t *rp, const char *path, float *freq_base, float *pos_scale,
                                        quipu_error *err) {
    hp_reader h = {.path = path, .prefix = "", .err = err};
    json_t *sc = rp ? rp : json_object_get(cfg, "rope_scaling");
    double theta = js_num(&h, cfg, "rope_theta", 0.0, HP_THETA);
    if (rp && json_object_get(rp, "rope_theta")) theta = js_num(&h, rp, "rope_theta", theta, HP_THETA);
    if (h.bad) return err->code;
    if (theta > 0) *freq_base = (float)theta;
    if (!json_is_object(sc)) return QUIPU_OK;
    const char *type = js_str(sc, "rope_type");
    if (!type) type = js_str(sc, "type");
    if (!type || !strcmp(type, "default")) return QUIPU_OK;
    if (!strcmp(type, "linear")) {
        double f = js_num(&h, sc, "factor", 1.0, HP_FACTOR);
        if (h.bad) return err->code;
        *pos_scale = (float)(1.0 / f);
        return QUIPU_OK;
    }
    if (!strcmp(type, "llama3")) {
        m->cfg.has_freq_factors = 1;
        return QUIPU_OK;
    }
    /* Phi-3's config class reads the older names "su" and "yarn" as LongRoPE */
    if (!strcmp(type, "longrope") || !strcmp(type, "su") || (!strcmp(type, "yarn") && m->cfg.arch == QUIPU_ARCH_PHI3)) {
        m->cfg.has_freq_factors = 2;
        return QUIPU_OK;
    }
    return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: rope scaling type '%s' is not supported", path, type);
}

/* The families config.json's model_type names, and what each takes from the Llama path. */
static const struct {
    const char *model_type;
    quipu_arch arch;
} hf_archs[] = {
    {"llama", QUIPU_ARCH_LLAMA},      {"mistral", QUIPU_ARCH_LLAMA}, {"qwen2", QUIPU_ARCH_LLAMA},   {"qwen3", QUIPU_ARCH_QWEN3},
    {"gemma3_text", QUIPU_ARCH_GEMMA3}, {"gemma3", QUIPU_ARCH_GEMMA3}, {"gemma2", QUIPU_ARCH_GEMMA2}, {"olmo2", QUIPU_ARCH_OLMO2},
    {"phi3", QUIPU_ARCH_PHI3},        {"gpt_neox", QUIPU_ARCH_GPTNEOX}, {"gpt2", QUIPU_ARCH_GPT2},     {"bloom", QUIPU_ARCH_BLOOM},
    {"falcon", QUIPU_ARCH_FALCON},    {"bert", QUIPU_ARCH_BERT},        {"roberta", QUIPU_ARCH_ROBERTA}, {"xlm-roberta", QUIPU_ARCH_ROBERTA},
    {"camembert", QUIPU_ARCH_ROBERTA}, {"mixtral", QUIPU_ARCH_LLAMA},    {"qwen2_moe", QUIPU_ARCH_LLAMA}, {"qwen3_moe", QUIPU_ARCH_QWEN3},
};
/* Families a bias sweep meets that quipu refuses, and what each would need. */
static const struct {
    const char *model_type, *needs;
} hf_missing[] = {
    {"RefinedWeb", "the config.json tiiuae's Falcon repositories ship today (model_type 'falcon'; this is the older remote-code one)"},
    {"RefinedWebModel", "the config.json tiiuae's Falcon repositories ship today (model_type 'falcon'; this is the older remote-code one)"},
    {"olmo", "OLMo 1's non-parametric LayerNorm"},
    {"phi", "Phi-1/2's parallel block with partial rotary and a biased LM head"},
    {"albert", "ALBERT's factorized embedding and cross-layer parameter sharing"},
    {"flaubert", "FlauBERT's XLM layout (pre-norm option, language embeddings)"},
    {"distilbert", "DistilBERT's own tensor names and no token types"},
};
#define HF_ARCH_LIST "llama, mistral, qwen2, qwen3, gemma2, gemma3_text, olmo2, phi3, gpt_neox, gpt2, bloom, falcon; mixture of experts: mixtral, qwen2_moe, qwen3_moe; masked LMs: bert, roberta, xlm-roberta, camembert"

/* A soft-capping value: absent takes def, null means none (0). */
static float js_softcap(hp_reader *h, json_t *cfg, const char *k, double def) {
    json_t *v = json_object_get(cfg, k);
    if (v && json_is_null(v)) return 0.0f;
    return (float)js_num(h, cfg, k, def, HP_SCALAR);
}

/* partial_rotary_factor (rope parameters, else top level) or GPT-NeoX's rotary_pct: the rotated
 * share of each head, n_rot = int(head_dim * factor) as transformers computes it. */
static int64_t js_rotary_dims(hp_reader *h, json_t *cfg, json_t *rp, int64_t head_dim, double def) {
    double f = js_num(h, cfg, "rotary_pct", def, HP_FRACTION);
    f = js_num(h, cfg, "partial_rotary_factor", f, HP_FRACTION);
    if (rp) f = js_num(h, rp, "partial_rotary_factor", f, HP_FRACTION);
    return (int64_t)((double)head_dim * f);
}

/* LongRoPE's list `key` of sc: n numbers (half the rotary dimensions), each in HP_FACTOR's range;
 * into f when f is not NULL. 0, or 1 with the error set. */
static int longrope_factors(hp_reader *h, json_t *sc, const char *key, int64_t n, float *f) {
    json_t *a = json_object_get(sc, key);
    if (!json_is_array(a) || (int64_t)json_array_size(a) != n) {
        quipu_error_set(h->err, QUIPU_ERR_FORMAT, "%s: LongRoPE needs '%s', a list of %lld numbers (half the rotary dimensions)", h->path, key,
                        (long long)n);
        return h->bad = 1;
    }
    for (int64_t i = 0; i < n && !h->bad; i++) {
        char k[48];
        json_t *v = json_array_get(a, (size_t)i);
        snprintf(k, sizeof k, "%s[%lld]", key, (long long)i);
        if (!json_is_number(v)) hp_fail(h, k, "not a number", HP_FACTOR);
        else if (hp_check(h, k, json_number_value(v), HP_FACTOR) && f) f[i] = (float)json_number_value(v);
    }
    return h->bad;
}

/* A boolean key: absent or null takes def; anything but true / false is an error naming it. */
static int js_bool(hp_reader *h, json_t *o, const char *k, int def) {
    json_t *v = json_object_get(o, k);
    if (h->bad || !v || json_is_null(v)) return def;
    if (json_is_boolean(v)) return json_is_true(v);
    quipu_error_set(h->err, QUIPU_ERR_FORMAT, "%s: '%s' is %s, expected true or false", h->path, k, json_is_string(v) ? "a string" : "not a boolean");
    h->bad = 1;
    return def;
}

/* The first of keys present (BLOOM and Falcon configs use either name), as js_int */
static int64_t js_int_any(hp_reader *h, json_t *o, const char *const *keys, int64_t def, int hp) {
    for (int i = 0; keys[i]; i++)
        if (json_object_get(o, keys[i]) && !json_is_null(json_object_get(o, keys[i]))) return js_int(h, o, keys[i], def, hp);
    return def;
}

/* BLOOM and Falcon (transformers' BloomConfig / FalconConfig; absent keys take their defaults).
 * What the two share: LayerNorms with biases (layer_norm_epsilon), a fused query_key_value, an
 * FFN of 4 x hidden_size unless Falcon's ffn_hidden_size says otherwise, tied embeddings unless
 * tie_word_embeddings is false, and older key names (n_embed, n_layer, n_head) beside the new. */
static quipu_status config_bloom_falcon(quipu_model *m, json_t *cfg, const char *path, quipu_error *err) {
    quipu_model_config *c = &m->cfg;
    hp_reader h = {.path = path, .prefix = "", .err = err};
    static const char *const k_embd[] = {"hidden_size", "n_embed", NULL}, *const k_layer[] = {"num_hidden_layers", "n_layer", NULL},
                             *const k_head[] = {"num_attention_heads", "n_head", NULL};
    int bloom = c->arch == QUIPU_ARCH_BLOOM;
    c->n_embd = js_int_any(&h, cfg, k_embd, 0, HP_EMBD);
    c->n_layer = js_int_any(&h, cfg, k_layer, 0, HP_LAYERS);
    c->n_head = js_int_any(&h, cfg, k_head, 0, HP_HEADS);
    c->norm_eps = (float)js_num(&h, cfg, "layer_norm_epsilon", 1e-5, HP_EPS);
    c->tied_embeddings = js_bool(&h, cfg, "tie_word_embeddings", 1);
    if (h.bad) return err->code;
    if (c->n_embd <= 0 || c->n_head <= 0 || c->n_layer <= 0)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: needs hidden_size (or n_embed), num_hidden_layers (or n_layer) and num_attention_heads (or n_head)", path);
    if (c->n_embd % c->n_head)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: hidden_size %lld is not a multiple of %lld heads", path, (long long)c->n_embd, (long long)c->n_head);
    c->head_dim = c->n_embd / c->n_head;
    c->norm_kind = QUIPU_NORM_LAYER;
    if (bloom) {
        /* ALiBi needs no position table; 2048 is what BLOOM was trained on and lm-evaluation-
         * harness's max_length for a config without one */
        c->n_ff = 4 * c->n_embd;
        c->n_ctx = 2048;
        c->act = QUIPU_ACT_GELU_TANH;
        c->rope_kind = QUIPU_ROPE_NONE;
        c->alibi = 1;
        c->embd_norm = 1;
        c->linear_bias = 1;
        c->qkv_layout = QUIPU_QKV_PER_HEAD;
        if (js_bool(&h, cfg, "apply_residual_connection_post_layernorm", 0))
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                                   "%s: apply_residual_connection_post_layernorm (the normed input as the residual) is not supported", path);
        return h.bad ? err->code : finish_config(m, path, err);
    }
    /* Falcon */
    int alibi = js_bool(&h, cfg, "alibi", 0), newdec = js_bool(&h, cfg, "new_decoder_architecture", 0);
    int mq = js_bool(&h, cfg, "multi_query", 1), par = js_bool(&h, cfg, "parallel_attn", 1);
    c->linear_bias = js_bool(&h, cfg, "bias", 0);
    int64_t kv = js_int(&h, cfg, "num_kv_heads", c->n_head, HP_HEADS);
    int64_t n_ln = js_int(&h, cfg, "num_ln_in_parallel_attn", newdec ? 2 : 1, HP_LAYERS);
    c->n_ff = js_int(&h, cfg, "ffn_hidden_size", 4 * c->n_embd, HP_FF);
    c->n_ctx = js_int(&h, cfg, "max_position_embeddings", 2048, HP_CTX);
    if (h.bad) return err->code;
    if (alibi)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                               "%s: Falcon with alibi: true (Falcon-RW) is not supported: it needs ALiBi biases rounded to bf16 per position "
                               "and scaled by 1/sqrt(head_dim), where quipu's ALiBi is BLOOM's",
                               path);
    if (n_ln != 1 && n_ln != 2)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: 'num_ln_in_parallel_attn' is %lld, expected 1 or 2", path, (long long)n_ln);
    const char *act = js_str(cfg, "activation");
    if (!act || !strcmp(act, "gelu")) c->act = QUIPU_ACT_GELU_ERF;
    else if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh")) c->act = QUIPU_ACT_GELU_TANH;
    else return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: Falcon activation '%s' is not supported (gelu, gelu_new, gelu_pytorch_tanh)", path, act);
    if (newdec) {
        /* transformers ignores multi_query and parallel_attn here, but builds no layer it can run
         * with parallel_attn false: such a file cannot be checked against it */
        if (!par)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                                   "%s: new_decoder_architecture with parallel_attn false is not supported (transformers cannot run it either)", path);
        c->n_head_kv = kv;
        c->qkv_layout = QUIPU_QKV_PER_GROUP;
        c->parallel_residual = n_ln == 2 ? 1 : 2;
    } else {
        if (par && n_ln == 2)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                                   "%s: num_ln_in_parallel_attn 2 without new_decoder_architecture is not supported (transformers cannot run it either)", path);
        if (mq) {
            c->n_head_kv = 1;
            c->qkv_layout = QUIPU_QKV_BLOCKS;
        } else {
            if (kv != c->n_head)
                return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                                       "%s: num_kv_heads %lld without multi_query or new_decoder_architecture is not supported: the fused "
                                       "layout holds a key and a value per query head",
                                       path, (long long)kv);
            c->n_head_kv = c->n_head;
            c->qkv_layout = QUIPU_QKV_PER_HEAD;
        }
        c->parallel_residual = par ? 2 : 0;
    }
    float pos_scale = 1.0f, base = 10000.0f;
    json_t *rp = rope_params(cfg, "full_attention");
    if (config_rope_scaling(m, cfg, rp, path, &base, &pos_scale, err)) return err->code;
    if (c->has_freq_factors)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: Falcon with llama3 or LongRoPE rope scaling is not supported", path);
    c->rope_base = c->rope_base_local = base;
    c->rope_pos_scale = pos_scale;
    c->rope_kind = QUIPU_ROPE_NEOX;
    return finish_config(m, path, err);
}

/* The mixture-of-experts keys of MixtralConfig, Qwen2MoeConfig and Qwen3MoeConfig (absent keys take
 * the class defaults). Mixtral: every layer sparse, its experts intermediate_size wide, the top-k
 * weights renormalized. Qwen: experts moe_intermediate_size wide, renormalized when
 * norm_topk_prob; layer l sparse unless listed in mlp_only_layers or (l + 1) is not a multiple of
 * decoder_sparse_step (then a dense MLP intermediate_size wide); Qwen2-MoE adds a shared expert. */
static quipu_status config_moe(quipu_model *m, json_t *cfg, const char *mt, const char *path, quipu_error *err) {
    quipu_model_config *c = &m->cfg;
    hp_reader h = {.path = path, .prefix = "", .err = err};
    int mixtral = !strcmp(mt, "mixtral"), q2 = !strcmp(mt, "qwen2_moe");
    int64_t step = 1;
    /* transformers 5 writes Qwen3-MoE's num_experts as num_local_experts (its attribute map) */
    static const char *const k_mix[] = {"num_local_experts", "num_experts", NULL}, *const k_qwen[] = {"num_experts", "num_local_experts", NULL};
    if (mixtral) {
        c->n_expert = js_int_any(&h, cfg, k_mix, 8, HP_EXPERTS);
        c->n_expert_used = js_int(&h, cfg, "num_experts_per_tok", 2, HP_EXPERTS);
        c->n_ff_exp = c->n_ff;
        c->expert_norm = 1;
    } else {
        c->n_expert = js_int_any(&h, cfg, k_qwen, q2 ? 60 : 128, HP_EXPERTS);
        c->n_expert_used = js_int(&h, cfg, "num_experts_per_tok", q2 ? 4 : 8, HP_EXPERTS);
        c->n_ff_exp = js_int(&h, cfg, "moe_intermediate_size", q2 ? 1408 : 768, HP_FF);
        if (q2) c->n_ff_shexp = js_int(&h, cfg, "shared_expert_intermediate_size", 5632, HP_FF);
        c->expert_norm = js_bool(&h, cfg, "norm_topk_prob", 0);
        step = js_int(&h, cfg, "decoder_sparse_step", 1, HP_EXPERTS);
    }
    if (h.bad) return err->code;
    if (c->n_expert == 0) { /* transformers builds every layer dense then */
        c->n_expert_used = c->n_ff_exp = c->n_ff_shexp = 0;
        return QUIPU_OK;
    }
    if (c->n_ff_exp <= 0) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: the experts' width (intermediate_size) is missing", path);
    if (step < 1) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: 'decoder_sparse_step' is 0, expected 1 or more", path);
    if (c->n_expert_used < 1 || c->n_expert_used > c->n_expert)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: 'num_experts_per_tok' is %lld, expected 1 to the %lld experts", path,
                               (long long)c->n_expert_used, (long long)c->n_expert);
    for (int64_t l = 0; l < c->n_layer && l < QUIPU_MAX_LAYERS; l++) c->layer_moe[l] = (uint8_t)((l + 1) % step == 0);
    json_t *only = json_object_get(cfg, "mlp_only_layers");
    if (only && !json_is_null(only)) {
        if (!json_is_array(only)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: 'mlp_only_layers' is not a list of layer numbers", path);
        for (size_t i = 0; i < json_array_size(only); i++) {
            json_t *v = json_array_get(only, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= c->n_layer)
                return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: 'mlp_only_layers' entry %zu is not a layer number below %lld", path, i,
                                       (long long)c->n_layer);
            c->layer_moe[json_integer_value(v)] = 0;
        }
    }
    return QUIPU_OK;
}

static quipu_status config_from_json(quipu_model *m, const char *dir, json_t *cfg, quipu_error *err) {
    quipu_model_config *c = &m->cfg;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    strcpy(c->source, "safetensors");
    json_t *tc = json_object_get(cfg, "text_config");
    const char *mt = js_str(cfg, "model_type");
    if (json_is_object(tc) && mt && !strcmp(mt, "gemma3")) {
        cfg = tc;
        mt = js_str(cfg, "model_type");
    }
    if (!mt) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: no model_type", path);
    snprintf(c->arch_name, sizeof c->arch_name, "%s", mt);
    size_t ai = 0;
    while (ai < sizeof hf_archs / sizeof *hf_archs && strcmp(mt, hf_archs[ai].model_type)) ai++;
    if (ai == sizeof hf_archs / sizeof *hf_archs) {
        for (size_t i = 0; i < sizeof hf_missing / sizeof *hf_missing; i++)
            if (!strcmp(mt, hf_missing[i].model_type))
                return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported yet: it needs %s (supported: " HF_ARCH_LIST ")",
                                       path, mt, hf_missing[i].needs);
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: unknown architecture '%s' (supported: " HF_ARCH_LIST ")", path, mt);
    }
    c->arch = hf_archs[ai].arch;
    c->qkv_layout = c->arch == QUIPU_ARCH_GPT2 || c->arch == QUIPU_ARCH_PHI3 ? QUIPU_QKV_BLOCKS
                    : c->arch == QUIPU_ARCH_GPTNEOX                        ? QUIPU_QKV_PER_HEAD
                                                                           : QUIPU_QKV_SEPARATE;
    int is_gemma = c->arch == QUIPU_ARCH_GEMMA3 || c->arch == QUIPU_ARCH_GEMMA2;
    int is_neox = c->arch == QUIPU_ARCH_GPTNEOX;
    hp_reader h = {.path = path, .prefix = "", .err = err};
    if (c->arch == QUIPU_ARCH_BERT || c->arch == QUIPU_ARCH_ROBERTA) {
        /* the masked LMs: BertConfig / RobertaConfig keys and defaults */
        int rob = c->arch == QUIPU_ARCH_ROBERTA;
        c->masked_lm = 1;
        c->n_embd = js_int(&h, cfg, "hidden_size", 768, HP_EMBD);
        c->n_layer = js_int(&h, cfg, "num_hidden_layers", 12, HP_LAYERS);
        c->n_head = js_int(&h, cfg, "num_attention_heads", 12, HP_HEADS);
        c->n_ff = js_int(&h, cfg, "intermediate_size", 3072, HP_FF);
        int64_t n_pos = js_int(&h, cfg, "max_position_embeddings", 512, HP_CTX);
        int64_t pad = js_int(&h, cfg, "pad_token_id", rob ? 1 : 0, HP_TOKEN);
        c->n_token_types = js_int(&h, cfg, "type_vocab_size", 2, HP_CTX);
        c->norm_eps = (float)js_num(&h, cfg, "layer_norm_eps", 1e-12, HP_EPS);
        if (h.bad) return err->code;
        const char *act = js_str(cfg, "hidden_act");
        if (!act || !strcmp(act, "gelu")) c->act = QUIPU_ACT_GELU_ERF;
        else if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh")) c->act = QUIPU_ACT_GELU_TANH;
        else return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: activation '%s' is not supported", path, act);
        const char *pet = js_str(cfg, "position_embedding_type");
        if (pet && strcmp(pet, "absolute"))
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: position_embedding_type '%s' is not supported (only 'absolute')", path, pet);
        if (json_is_true(json_object_get(cfg, "is_decoder")))
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: a %s with is_decoder true (causal attention) is not a masked LM quipu scores", path, mt);
        /* RoBERTa numbers positions from padding_idx + 1 (create_position_ids_from_input_ids) */
        c->pos_offset = rob ? (pad < 0 ? 0 : pad) + 1 : 0;
        if (c->pos_offset >= n_pos)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: pad_token_id %lld leaves no position of the %lld in max_position_embeddings", path,
                                   (long long)pad, (long long)n_pos);
        c->n_ctx = n_pos - c->pos_offset;
        c->norm_kind = QUIPU_NORM_LAYER;
        c->rope_kind = QUIPU_ROPE_NONE;
        c->n_head_kv = c->n_head;
        c->tied_embeddings = 1;
        return finish_config(m, path, err);
    }
    if (c->arch == QUIPU_ARCH_BLOOM || c->arch == QUIPU_ARCH_FALCON) {
        return config_bloom_falcon(m, cfg, path, err);
    } else if (c->arch == QUIPU_ARCH_GPT2) {
        c->n_embd = js_int(&h, cfg, "n_embd", 0, HP_EMBD);
        c->n_layer = js_int(&h, cfg, "n_layer", 0, HP_LAYERS);
        c->n_head = js_int(&h, cfg, "n_head", 0, HP_HEADS);
        c->n_ff = js_int(&h, cfg, "n_inner", 0, HP_FF);
        if (h.bad) return err->code;
        if (c->n_ff <= 0) c->n_ff = 4 * c->n_embd; /* n_embd <= 2^17: no overflow */
        c->n_ctx = js_int(&h, cfg, "n_positions", 1024, HP_CTX);
        c->norm_eps = (float)js_num(&h, cfg, "layer_norm_epsilon", 1e-5, HP_EPS);
        c->norm_kind = QUIPU_NORM_LAYER;
        const char *act = js_str(cfg, "activation_function");
        if (act && strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh") && strcmp(act, "gelu"))
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: activation '%s' is not supported", path, act);
        c->act = (act && !strcmp(act, "gelu")) ? QUIPU_ACT_GELU_ERF : QUIPU_ACT_GELU_TANH;
        c->rope_kind = QUIPU_ROPE_NONE;
        c->tied_embeddings = 1;
        if (json_is_true(json_object_get(cfg, "scale_attn_by_inverse_layer_idx")) || json_is_true(json_object_get(cfg, "reorder_and_upcast_attn")))
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: GPT-2 attention variants (scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn) are not supported", path);
    } else {
        /* absent keys take the defaults of the transformers config class */
        int64_t hd_def = c->arch == QUIPU_ARCH_GEMMA2 ? 256 : c->arch == QUIPU_ARCH_QWEN3 ? 128 : 0;
        c->n_embd = js_int(&h, cfg, "hidden_size", 0, HP_EMBD);
        c->n_layer = js_int(&h, cfg, "num_hidden_layers", 0, HP_LAYERS);
        c->n_head = js_int(&h, cfg, "num_attention_heads", 0, HP_HEADS);
        c->n_head_kv = is_neox ? c->n_head : js_int(&h, cfg, "num_key_value_heads", c->n_head, HP_HEADS);
        c->head_dim = is_neox ? 0 : js_int(&h, cfg, "head_dim", hd_def, HP_HEAD_DIM);
        c->n_ff = js_int(&h, cfg, "intermediate_size", 0, HP_FF);
        c->n_ctx = js_int(&h, cfg, "max_position_embeddings", 2048, HP_CTX);
        if (is_neox) c->norm_eps = (float)js_num(&h, cfg, "layer_norm_eps", 1e-5, HP_EPS);
        else c->norm_eps = (float)js_num(&h, cfg, "rms_norm_eps", is_gemma || c->arch == QUIPU_ARCH_QWEN3 ? 1e-6 : 1e-5, HP_EPS);
        if (h.bad) return err->code;
        if (c->head_dim <= 0 && c->n_head > 0 && c->n_embd % c->n_head == 0) c->head_dim = c->n_embd / c->n_head;
        c->norm_kind = is_neox ? QUIPU_NORM_LAYER : QUIPU_NORM_RMS;
        c->rope_kind = QUIPU_ROPE_NEOX; /* HF checkpoints: rotate_half */
        c->tied_embeddings = json_is_boolean(json_object_get(cfg, "tie_word_embeddings"))
                                 ? json_is_true(json_object_get(cfg, "tie_word_embeddings"))
                                 : is_gemma;
        const char *act = NULL;
        if (is_gemma) act = js_str(cfg, "hidden_activation"); /* what Gemma's MLP reads; hidden_act is a leftover */
        if (!act) act = js_str(cfg, "hidden_act");
        if (!act) act = js_str(cfg, "hidden_activation");
        if (!act) act = is_gemma ? "gelu_pytorch_tanh" : is_neox ? "gelu" : "silu";
        if (!strcmp(act, "silu")) c->act = QUIPU_ACT_SILU;
        else if (!strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_new")) c->act = QUIPU_ACT_GELU_TANH;
        else if (!strcmp(act, "gelu")) c->act = QUIPU_ACT_GELU_ERF;
        else return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: activation '%s' is not supported", path, act);
        float pos_scale = 1.0f, base = 10000.0f;
        json_t *rp = rope_params(cfg, "full_attention");
        if (is_neox) base = (float)js_num(&h, cfg, "rotary_emb_base", 10000.0, HP_THETA);
        if (config_rope_scaling(m, cfg, rp, path, &base, &pos_scale, err)) return err->code;
        c->rope_base = base;
        c->rope_pos_scale = pos_scale;
        c->rope_base_local = base;
        if ((is_neox || c->arch == QUIPU_ARCH_PHI3) && c->head_dim > 0) {
            /* Pythia: rotary_pct 0.25 when absent; Phi-3: the whole head */
            c->n_rot = js_rotary_dims(&h, cfg, rp, c->head_dim, is_neox ? 0.25 : 1.0);
            if (h.bad) return err->code;
            if (c->n_rot < 2)
                return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: partial rotary factor leaves %lld rotary dimensions of a head of %lld",
                                       path, (long long)c->n_rot, (long long)c->head_dim);
        }
        if (c->arch == QUIPU_ARCH_GEMMA3) {
            float lbase = (float)js_num(&h, cfg, "rope_local_base_freq", 10000.0, HP_THETA), lscale = 1.0f;
            json_t *lrp = rope_params(cfg, "sliding_attention");
            if (lrp && config_rope_scaling(m, cfg, lrp, path, &lbase, &lscale, err)) return err->code;
            if (lscale != 1.0f)
                return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: rope scaling on sliding layers is not supported", path);
            c->rope_base_local = lbase;
            c->qk_norm = 1;
        }
        if (is_gemma) {
            c->gemma_norms = 1;
            /* Gemma 2's class defaults: scalar 256, caps 50 and 30; Gemma 3's: no caps */
            int g2 = c->arch == QUIPU_ARCH_GEMMA2;
            double qs = js_num(&h, cfg, "query_pre_attn_scalar", g2 ? 256.0 : 0.0, HP_SCALAR);
            c->attn_softcap = js_softcap(&h, cfg, "attn_logit_softcapping", g2 ? 50.0 : 0.0);
            c->final_softcap = js_softcap(&h, cfg, "final_logit_softcapping", g2 ? 30.0 : 0.0);
            if (h.bad) return err->code;
            if (qs > 0) c->attn_scale = (float)(1.0 / sqrt(qs));
            c->embd_scale = sqrtf((float)c->n_embd);
        }
        if (c->arch == QUIPU_ARCH_QWEN3) c->qk_norm = 1;
        if (c->arch == QUIPU_ARCH_OLMO2) {
            c->qk_norm = 2;
            c->post_norms_only = 1;
        }
        if (is_neox) {
            json_t *pr = json_object_get(cfg, "use_parallel_residual");
            c->parallel_residual = pr ? json_is_true(pr) : 1;
        }
        if (c->has_freq_factors == 2) {
            /* LongRoPE: the short factors, and cos/sin scaled by the attention factor, which for a
             * fully rotated head is the attention scale times its square */
            json_t *sc = rp ? rp : json_object_get(cfg, "rope_scaling");
            int64_t nr = c->n_rot > 0 ? c->n_rot : c->head_dim;
            int64_t orig = js_int(&h, sc, "original_max_position_embeddings", 0, HP_CTX);
            if (orig == 0) orig = js_int(&h, cfg, "original_max_position_embeddings", 4096, HP_CTX);
            double factor = js_num(&h, sc, "factor", (double)c->n_ctx / (double)orig, HP_FACTOR);
            double af = js_num(&h, sc, "attention_factor", 0.0, HP_FACTOR);
            if (h.bad || longrope_factors(&h, sc, "short_factor", nr / 2, NULL) || longrope_factors(&h, sc, "long_factor", nr / 2, NULL))
                return err->code;
            if (af == 0.0) af = factor <= 1.0 ? 1.0 : sqrt(1.0 + log(factor) / log((double)orig));
            if (af != 1.0 && nr != c->head_dim)
                return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: LongRoPE with an attention factor on a partly rotated head is not supported", path);
            c->attn_scale = (float)(af * af / sqrt((double)c->head_dim));
            c->rope_max_pos = orig;
        }
        /* sliding window: layer_types when the config lists them, else arch rules */
        int64_t w = js_int(&h, cfg, "sliding_window", c->arch == QUIPU_ARCH_GEMMA2 ? 4096 : 0, HP_WINDOW);
        if (h.bad) return err->code;
        json_t *lt = json_object_get(cfg, "layer_types");
        int qwen = !strcmp(mt, "qwen2") || !strcmp(mt, "qwen2_moe") || c->arch == QUIPU_ARCH_QWEN3;
        if (qwen && !json_is_true(json_object_get(cfg, "use_sliding_window"))) w = 0;
        if (c->arch == QUIPU_ARCH_OLMO2 || is_neox) w = 0; /* no windowed attention in these models */
        c->sliding_window = (int32_t)(w > 0 ? w : 0);
        if (c->n_layer > QUIPU_MAX_LAYERS)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: too many layers (%lld)", path, (long long)c->n_layer);
        for (int64_t i = 0; i < c->n_layer; i++) {
            int sliding;
            if (json_is_array(lt) && (size_t)i < json_array_size(lt)) {
                const char *s = json_string_value(json_array_get(lt, (size_t)i));
                sliding = s && !strcmp(s, "sliding_attention");
            } else if (is_gemma) {
                /* Gemma 2 alternates, local first; Gemma 3 has five local layers to a global one */
                int64_t pat = js_int(&h, cfg, "sliding_window_pattern", c->arch == QUIPU_ARCH_GEMMA2 ? 2 : 6, HP_WINDOW);
                sliding = pat > 0 && (i + 1) % pat != 0;
            } else if (qwen) {
                sliding = i >= js_int(&h, cfg, "max_window_layers", c->arch == QUIPU_ARCH_QWEN3 ? 28 : 0, HP_WINDOW);
            } else {
                sliding = 1;
            }
            c->layer_sliding[i] = (uint8_t)(sliding && c->sliding_window > 0);
        }
        if (h.bad) return err->code;
        if (json_is_true(json_object_get(cfg, "mlp_bias")))
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: mlp_bias is not supported", path);
        if (!strcmp(mt, "mixtral") || !strcmp(mt, "qwen2_moe") || !strcmp(mt, "qwen3_moe"))
            if (config_moe(m, cfg, mt, path, err)) return err->code;
    }
    if (h.bad) return err->code;
    if (c->n_ctx <= 0) c->n_ctx = 2048;
    return finish_config(m, path, err);
}

/* ---------------------------------------------------------------- weights */

/* Splits src's rows (elements of type et) into n new buffers of sizes[i] rows. chunk NULL: part
 * i is the next sizes[i] rows. chunk given: the rows come in blocks of chunk[0] + ... + chunk[n-1],
 * part i holding chunk[i] rows of every block, after the earlier parts' (GPT-NeoX's and BLOOM's
 * fused QKV: per head q, k, v, chunks HD, HD, HD; Falcon's new decoder: per KV head its g query
 * heads, k, v, chunks g * HD, HD, HD); every sizes[i] / chunk[i] is then the same block count.
 * Takes src: it is freed whatever happens. */
static quipu_status split_rows(quipu_model *m, quipu_buf *src, int64_t cols, quipu_etype et, int n, const int64_t *sizes,
                               const int64_t *chunk, quipu_buf **dst[], quipu_error *err) {
    quipu_backend *b = m->backend;
    if (m->tp_size > 1) { /* refused before loading (tp_plan); never reached */
        b->iface->buf_free(b, src);
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: tensor parallelism cannot split fused tensors yet", m->path);
    }
    size_t es = quipu_etype_size(et);
    /* device memory: through a host copy */
    char *all = b->iface->buf_host_ptr ? b->iface->buf_host_ptr(src) : NULL, *copy = NULL, *part = NULL;
    int64_t rows = 0, widest = 0, block = 0;
    for (int i = 0; i < n; i++) {
        rows += sizes[i];
        if (sizes[i] > widest) widest = sizes[i];
        if (chunk) block += chunk[i];
    }
    for (int i = 0; chunk && i < n; i++)
        if (chunk[i] <= 0 || sizes[i] % chunk[i] || sizes[i] / chunk[i] != sizes[0] / chunk[0]) {
            b->iface->buf_free(b, src);
            return quipu_error_set(err, QUIPU_ERR_INTERNAL, "%s: a fused tensor's parts do not split into equal blocks", m->path);
        }
    if (!all) {
        size_t total = (size_t)(rows * cols) * es;
        if (!(copy = malloc(total))) {
            b->iface->buf_free(b, src);
            return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory splitting a fused tensor");
        }
        if (b->iface->buf_read(b, src, 0, copy, total, err)) {
            free(copy);
            b->iface->buf_free(b, src);
            return err->code;
        }
        all = copy;
    }
    size_t row_bytes = (size_t)cols * es;
    if (chunk && !(part = malloc((size_t)widest * row_bytes))) {
        free(copy);
        b->iface->buf_free(b, src);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory splitting a fused tensor");
    }
    int64_t off = 0;
    quipu_status st = QUIPU_OK;
    for (int i = 0; i < n && !st; i++) {
        size_t nb = (size_t)sizes[i] * row_bytes;
        const char *from = all + (size_t)off * row_bytes;
        if (chunk) {
            for (int64_t blk = 0; blk < sizes[i] / chunk[i]; blk++)
                memcpy(part + (size_t)(blk * chunk[i]) * row_bytes, all + (size_t)(blk * block + off) * row_bytes, (size_t)chunk[i] * row_bytes);
            from = part;
        }
        *dst[i] = b->iface->buf_alloc(b, nb, err);
        if (!*dst[i] || b->iface->buf_write(b, *dst[i], 0, from, nb, err)) st = err->code ? err->code : QUIPU_ERR_NOMEM;
        off += chunk ? chunk[i] : sizes[i];
    }
    free(part);
    free(copy);
    b->iface->buf_free(b, src);
    if (st) /* nothing half-made is left behind (device memory on a GPU) */
        for (int i = 0; i < n; i++) {
            b->iface->buf_free(b, *dst[i]);
            *dst[i] = NULL;
        }
    return st;
}

/* What one GPU holds for this model in a dtype of es bytes, split over tp (tp_plan's split: query
 * heads and their KV heads, FFN rows, output/down columns, LM head ids; embeddings and norms
 * whole): the weights as the loader stores them (matrices in the dtype, vectors fp32) and the
 * forward state for batches of T tokens. 0 when the model does not split over tp. */
static int gpu_bytes(const quipu_model_config *c, uint64_t es, int tp, int64_t T, uint64_t *weights, uint64_t *state) {
    const int64_t blk = 1024;
    int64_t H = c->n_head, HKV = c->n_head_kv > 0 ? c->n_head_kv : 1, HD = c->head_dim, D = c->n_embd, F = c->n_ff, V = c->n_vocab;
    int64_t grp = H / HKV, Hl = H / tp;
    int fused = c->arch == QUIPU_ARCH_GPT2 || c->arch == QUIPU_ARCH_GPTNEOX || c->arch == QUIPU_ARCH_PHI3 || c->arch == QUIPU_ARCH_OLMO2 ||
                c->arch == QUIPU_ARCH_BLOOM || c->arch == QUIPU_ARCH_FALCON;
    if (H <= 0 || V <= 0 || (tp > 1 && (fused || H % tp || F % tp || !(Hl % grp == 0 || grp % Hl == 0)))) return 0;
    int64_t KVl = tp == 1 ? HKV : Hl >= grp ? Hl / grp : 1, Fl = F / tp;
    int64_t Vl = (V + tp - 1) / tp;
    Vl = tp == 1 ? V : (Vl + blk - 1) / blk * blk;
    int gate = c->arch != QUIPU_ARCH_GPT2 && c->arch != QUIPU_ARCH_GPTNEOX && c->arch != QUIPU_ARCH_BLOOM && c->arch != QUIPU_ARCH_FALCON && !c->masked_lm;
    if (c->n_expert > 0 && tp > 1) return 0; /* refused (tp_plan) */
    uint64_t layer = (uint64_t)(2 * Hl * HD * D + 2 * KVl * HD * D) * es + (uint64_t)(8 * D) * 4;
    uint64_t w = (uint64_t)(V * D) * es + (c->tied_embeddings ? 0 : (uint64_t)(Vl * D) * es);
    int64_t E = c->n_expert, K = c->n_expert_used, FE = c->n_ff_exp, FS = c->n_ff_shexp, moe_state = 0;
    for (int64_t l = 0; l < c->n_layer; l++) /* a sparse layer: the router, the experts, the shared expert and its gate */
        w += layer + (uint64_t)(c->layer_moe[l] ? E * D + 3 * E * FE * D + 3 * FS * D + D : (gate ? 3 : 2) * Fl * D) * es;
    if (E > 0) /* gathered rows and expert outputs [T K, D], gate / up [T K, FE], router logits [T, E + 1], the choice */
        moe_state = T * (2 * K * D + 2 * K * FE + E + 1 + 4 * K);
    if (c->arch == QUIPU_ARCH_GPT2) w += (uint64_t)(c->n_ctx * D) * es;
    if (c->masked_lm) w += (uint64_t)(c->n_ctx * D + V + D * D) * es; /* positions, the decoder bias column, the head's dense */
    int64_t QD = Hl * HD, widest = D > QD ? D : QD;
    *weights = w;
    *state = (uint64_t)T * (uint64_t)(D + widest + 2 * QD + 2 * KVl * HD + D + 2 * Fl) * 4 +
             (uint64_t)T * (uint64_t)((Vl + blk - 1) / blk) * 32 * (uint64_t)(tp > 1 ? 2 * tp + 1 : 1) +
             (tp > 1 ? (uint64_t)T * (uint64_t)D * 4 * (uint64_t)tp : 0) + (uint64_t)moe_state * 4;
    return 1;
}

/* inspect's memory.per_gpu: gpu_bytes for bf16 and f32 and tp 1, 2, 4, 8 (null where the model
 * does not split that way), batches of 2048 tokens (the default batch_tokens) */
static json_t *gpu_memory_plan(const quipu_model_config *c) {
    json_t *all = json_object();
    static const char *const dtypes[] = {"bf16", "f32"};
    for (int d = 0; d < 2; d++) {
        json_t *per = json_object();
        for (int tp = 1; tp <= 8; tp *= 2) {
            char key[8];
            snprintf(key, sizeof key, "tp%d", tp);
            uint64_t w = 0, act = 0;
            if (!gpu_bytes(c, d == 0 ? 2 : 4, tp, 2048, &w, &act)) {
                json_object_set_new(per, key, json_null());
                continue;
            }
            json_t *o = json_object();
            json_object_set_new(o, "weight_bytes", json_integer((json_int_t)w));
            json_object_set_new(o, "state_bytes_2048_tokens", json_integer((json_int_t)act));
            json_object_set_new(o, "total_gib", json_real((double)(w + act) / (double)(1ull << 30)));
            json_object_set_new(per, key, o);
        }
        json_object_set_new(all, dtypes[d], per);
    }
    return all;
}

/* blocks_plan's sums as this member's share (tp_plan): query, output and FFN matrices 1/tp of
 * each, key and value matrices their KV heads' share (replicated when fewer than the members).
 * A row-parallel matrix (output, down) whose member slice does not fall on block boundaries is
 * counted dense, as the loader keeps it (blocks_cut_ok). Sets qw_dense_bytes, qw_block_bytes and
 * the plan's qw_scratch. */
static void blocks_share(quipu_model *m) {
    const quipu_model_config *c = &m->cfg;
    int tp = m->tp_size > 1 ? m->tp_size : 1;
    int64_t HD = c->head_dim, HKV = c->n_head_kv > 0 ? c->n_head_kv : 1;
    m->qw_dense_bytes = m->qw_block_bytes = m->qw_scratch = 0;
    for (int i = 0; i < 7; i++) {
        uint64_t num = 1, den = (uint64_t)tp;
        int64_t in_cut = 0; /* the width of a column slice (output: this member's heads; down: its FFN rows) */
        if (tp == 1) den = 1;
        else if (i == 1 || i == 2) num = (uint64_t)m->n_head_kv_l, den = (uint64_t)HKV;
        else if (i == 3) in_cut = m->n_head_l * HD;
        else if (i == 6) in_cut = m->n_ff_l;
        uint64_t dense = m->qw_kind_dense[i] / den * num, blk = m->qw_kind_block[i] / den * num;
        int ok = m->qw_kind_bsz[i] > 1 && (in_cut == 0 || in_cut % m->qw_kind_bsz[i] == 0);
        m->qw_dense_bytes += dense;
        m->qw_block_bytes += ok ? blk : dense;
        if (ok && m->qw_kind_max[i] / den * num > m->qw_scratch) m->qw_scratch = m->qw_kind_max[i] / den * num;
    }
}

/* The weights about to load, as fit_check planned them: the backend may hold them in one arena
 * (backend.h weights_reserve); weights_end closes it when the loading is over, either way. Not
 * under QUIPU_TEST_MEM_FREE, whose free memory is made up. */
static quipu_status weights_begin(quipu_model *m, uint64_t bytes, quipu_error *err) {
    quipu_backend *b = m->backend;
    const char *t = getenv("QUIPU_TEST_MEM_FREE");
    if (!b->iface->weights_reserve || (t && *t) || bytes == 0) return QUIPU_OK;
    /* the estimate leaves out the small vectors (biases, norms, an expert router's rows): room for
     * 8 of the widest per layer in fp32, so that they land in the arena too */
    const quipu_model_config *c = &m->cfg;
    int64_t widest = c->n_embd, q = c->n_head * c->head_dim + 2 * c->n_head_kv * c->head_dim;
    if (c->n_ff > widest) widest = c->n_ff;
    if (q > widest) widest = q;
    uint64_t slack = (uint64_t)(c->n_layer > 0 ? c->n_layer : 1) * 8u * (uint64_t)(widest > 0 ? widest : 1) * 4u + ((uint64_t)1 << 20);
    m->weights_open = 1;
    return b->iface->weights_reserve(b, bytes + slack, err);
}

static void weights_end(quipu_model *m) {
    quipu_error e = {0};
    if (m->weights_open) (void)m->backend->iface->weights_reserve(m->backend, 0, &e);
    m->weights_open = 0;
}

/* Before any weight is read: will this member's share fit the device? The backend says how much
 * is free (a GPU; QUIPU_TEST_MEM_FREE=BYTES stands in for it in tests); if the share for 2048-token
 * batches does not fit, one line says how much is needed and the smallest tensor_parallel that
 * would fit. */
static quipu_status fit_check(quipu_model *m, quipu_error *err) {
    quipu_backend *b = m->backend;
    const char *t = getenv("QUIPU_TEST_MEM_FREE");
    uint64_t avail = t && *t ? strtoull(t, NULL, 10) : b->iface->mem_free ? b->iface->mem_free(b) : 0;
    uint64_t es = quipu_etype_size(m->wtype), w = 0, st = 0;
    int tp = m->tp_size > 1 ? m->tp_size : 1;
    const double G = (double)(1ull << 30);
    blocks_share(m);
    int can_block = m->qw_block_bytes < m->qw_dense_bytes && m->blocks != 0;
    if (!avail || !gpu_bytes(&m->cfg, es, tp, 2048, &w, &st)) { /* unknown (the CPU: the system's memory, checked by allocation) */
        if (m->blocks < 0) m->blocks = 0;
        m->qw_scratch = 0;
        return QUIPU_OK;
    }
    /* in blocks: the matrices' file bytes in place of their dequantized ones, plus one scratch */
    uint64_t wb = w - m->qw_dense_bytes + m->qw_block_bytes + m->qw_scratch, wb_weights = wb - m->qw_scratch;
    m->qw_scratch = 0; /* the loader sets it to the largest matrix it keeps in blocks */
    if (m->blocks == 1) {
        if (wb + st <= avail) return weights_begin(m, wb_weights, err);
    } else if (w + st <= avail) {
        m->blocks = 0;
        return weights_begin(m, w, err);
    } else if (can_block && wb + st <= avail) {
        m->blocks = 1;
        quipu_log(QUIPU_LOG_INFO, "%s: %.1f GiB dequantized does not fit the %.1f GiB free; the layers' weights stay in their GGUF blocks "
                                  "(%.1f GiB in all) and are dequantized one matrix at a time",
                  m->path, (double)(w + st) / G, (double)avail / G, (double)(wb + st) / G);
        return weights_begin(m, wb_weights, err);
    }
    if (m->blocks == 1) w = wb;
    int better = 0;
    for (int k = tp * 2; k <= 64 && !better; k *= 2) {
        uint64_t w2 = 0, s2 = 0;
        if (gpu_bytes(&m->cfg, es, k, 2048, &w2, &s2) && w2 + s2 <= avail) better = k;
    }
    char hint[240];
    int n = 0;
    if (can_block && m->blocks != 1) n = snprintf(hint, sizeof hint, "in GGUF blocks it would need %.1f GiB; ", (double)(wb + st) / G);
    if (better) snprintf(hint + n, sizeof hint - (size_t)n, "set tensor_parallel %d (the smallest that fits)", better);
    else snprintf(hint + n, sizeof hint - (size_t)n, "no tensor_parallel up to 64 fits: use more memory per GPU%s", es > 2 ? ", or dtype bf16" : "");
    return quipu_error_set(err, QUIPU_ERR_NOMEM,
                           "%s: needs %.1f GiB per GPU in %s at tensor_parallel %d (weights %.1f, state for 2048-token batches %.1f), "
                           "%.1f GiB free: %s",
                           m->path, (double)(w + st) / G, quipu_etype_name(m->wtype), tp, (double)w / G, (double)st / G, (double)avail / G, hint);
}

/* Whether a GGUF's layer matrices stay in their blocks (model.h): QUIPU_GGUF_WEIGHTS=blocks
 * always, =dense never, =auto (the default) when the model does not fit its GPU dequantized but
 * does in blocks (fit_check; the CPU, whose free memory is not asked, stays dense). Sizes those
 * matrices both ways for fit_check, before any weight is read. */
static quipu_status blocks_plan(loader *L, quipu_error *err) {
    quipu_model *m = L->m;
    const char *e = getenv("QUIPU_GGUF_WEIGHTS");
    if (!e || !*e || !strcmp(e, "auto")) m->blocks = -1;
    else if (!strcmp(e, "dense")) m->blocks = 0;
    else if (!strcmp(e, "blocks")) m->blocks = 1;
    else return quipu_error_set(err, QUIPU_ERR_INVALID, "QUIPU_GGUF_WEIGHTS=%s: expected auto, dense or blocks", e);
    if (m->cfg.n_expert > 0) { /* experts load dequantized: auto and dense agree */
        if (m->blocks == 1)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: QUIPU_GGUF_WEIGHTS=blocks is not supported for mixture-of-experts models yet: it "
                                   "needs the expert stacks kept in blocks and dequantized one expert at a time (use dense or auto)", m->path);
        m->blocks = 0;
        return QUIPU_OK;
    }
    static const char *const names[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    uint64_t es = quipu_etype_size(m->wtype);
    for (int64_t l = 0; l < m->cfg.n_layer; l++)
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            char n[96];
            tref r;
            uint64_t rb = 0, dense = 0, blk = 0;
            snprintf(n, sizeof n, "blk.%lld.%s.weight", (long long)l, names[i]);
            if (!wsrc_find(&L->src, n, &r) || r.bad_shape || quipu_dtype_block_size(r.type) <= 1 ||
                quipu_dtype_row_bytes(r.type, (uint64_t)r.cols, &rb) != 0 || quipu_mul_overflow_u64(rb, (uint64_t)r.rows, &blk) ||
                quipu_mul_overflow_u64((uint64_t)r.rows * (uint64_t)r.cols, es, &dense))
                continue; /* dense at load, or refused there with its own message */
            m->qw_kind_dense[i] += dense;
            m->qw_kind_block[i] += blk;
            if (dense > m->qw_kind_max[i]) m->qw_kind_max[i] = dense;
            if ((int64_t)quipu_dtype_block_size(r.type) > m->qw_kind_bsz[i]) m->qw_kind_bsz[i] = (int64_t)quipu_dtype_block_size(r.type);
        }
    return QUIPU_OK;
}

/* This member's share under tensor parallelism (model.h), or everything; the architectures whose
 * layers split cleanly by heads and FFN rows, with one line for the others and for shapes that do
 * not divide. */
static quipu_status tp_plan(quipu_model *m, const quipu_comm_group *g, quipu_error *err) {
    const quipu_model_config *c = &m->cfg;
    int tp = g && g->size > 1 ? g->size : 1, rank = tp > 1 ? g->rank : 0;
    int64_t blk = m->backend->iface->lp_block;
    m->tp_rank = rank;
    m->tp_size = tp;
    m->n_head_l = c->n_head;
    m->n_head_kv_l = c->n_head_kv;
    m->kv_lo_l = 0;
    m->n_ff_l = c->n_ff;
    m->v_lo = 0;
    m->n_vocab_l = c->n_vocab;
    m->n_vocab_pad = c->n_vocab;
    if (tp == 1) return c->n_vocab > 0 ? fit_check(m, err) : QUIPU_OK;
    const char *why = NULL;
    switch (c->arch) {
    case QUIPU_ARCH_GPT2: why = "its attention weights are fused (c_attn)"; break;
    case QUIPU_ARCH_GPTNEOX: why = "its attention weights are fused per head"; break;
    case QUIPU_ARCH_PHI3: why = "its QKV and gate-up weights are fused"; break;
    case QUIPU_ARCH_OLMO2: why = "its QK-norm spans every head"; break;
    case QUIPU_ARCH_BERT:
    case QUIPU_ARCH_ROBERTA: why = "masked LMs run on one device (their embedding carries the decoder bias)"; break;
    case QUIPU_ARCH_BLOOM: why = "its attention weights are fused per head (query_key_value)"; break;
    case QUIPU_ARCH_FALCON: why = "its attention weights are fused (query_key_value)"; break;
    default: break;
    }
    if (!why && c->n_expert > 0) why = "mixture-of-experts layers would need their experts split across the members (by expert or by rows)";
    if (why) return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: tensor parallelism %d: not for %s models yet: %s", m->path, tp, c->arch_name, why);
    int64_t H = c->n_head, HKV = c->n_head_kv, grp = H / HKV, Hl = H / tp;
    if (H % tp)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: tensor parallelism %d: the model's %lld attention heads do not divide by %d", m->path, tp,
                               (long long)H, tp);
    /* each member's query heads read whole KV heads: several of them, or one shared (replicated) */
    if (!(Hl % grp == 0 || grp % Hl == 0))
        return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: tensor parallelism %d: %lld query heads per member do not line up with groups of %lld sharing a KV head",
                               m->path, tp, (long long)Hl, (long long)grp);
    if (c->n_ff % tp)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: tensor parallelism %d: the FFN width %lld does not divide by %d", m->path, tp,
                               (long long)c->n_ff, tp);
    int64_t per = (c->n_vocab + tp - 1) / tp;
    per = (per + blk - 1) / blk * blk; /* whole log-prob blocks per member */
    if (per * (tp - 1) >= c->n_vocab)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: tensor parallelism %d: a vocabulary of %lld ids leaves a member without any", m->path, tp,
                               (long long)c->n_vocab);
    m->n_head_l = Hl;
    m->kv_lo_l = rank * Hl / grp;
    m->n_head_kv_l = Hl >= grp ? Hl / grp : 1;
    m->n_ff_l = c->n_ff / tp;
    m->n_vocab_pad = per;
    m->v_lo = rank * per;
    m->n_vocab_l = c->n_vocab - m->v_lo < per ? c->n_vocab - m->v_lo : per;
    return fit_check(m, err);
}

/* ---------------------------------------------------------------- experts */

/* rows [row0, row0 + rows) of tensor whole (a matrix of whole.cols columns: a stack of experts) as
 * one weight matrix: the slice is read from the file as it is, so a stack is never held twice */
static quipu_status load_rows_of(loader *L, const tref *whole, int64_t row0, int64_t rows, quipu_buf **out, quipu_error *err) {
    uint64_t rb = 0;
    if (whole->bad_shape) return bad_shape_error(L, whole, err);
    if (quipu_dtype_block_size(whole->type) == 0 || quipu_dtype_row_bytes(whole->type, (uint64_t)whole->cols, &rb) != 0 ||
        (uint64_t)(row0 + rows) > whole->nbytes / (rb ? rb : 1) || row0 + rows > whole->rows)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': type or size does not fit its shape", L->src.path, whole->name);
    tref r = *whole;
    r.data += (uint64_t)row0 * rb;
    r.nbytes = (uint64_t)rows * rb;
    r.rows = rows;
    L->cut = (tp_cut){0};
    return load_ref(L, &r, rows, whole->cols, 0, 0.0f, L->m->wtype, out, err);
}

/* the layer's arrays of expert matrices (owned by the layer, freed by quipu_model_free) */
static quipu_status alloc_experts(loader *L, quipu_layer_weights *w, quipu_error *err) {
    size_t E = (size_t)L->m->cfg.n_expert;
    w->exp_gate = calloc(E, sizeof *w->exp_gate);
    w->exp_up = calloc(E, sizeof *w->exp_up);
    w->exp_down = calloc(E, sizeof *w->exp_down);
    if (!w->exp_gate || !w->exp_up || !w->exp_down) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", L->src.path);
    return QUIPU_OK;
}

/* One stack of E matrices of rows x cols each (name holds E * rows rows), split into dst[0 .. E),
 * or with two parts per expert (transformers 5's fused gate_up_proj: per expert, rows gate rows
 * then rows up rows) into dst and dst2. */
static quipu_status load_stack(loader *L, const char *name, int64_t rows, int64_t cols, quipu_buf **dst, quipu_buf **dst2, quipu_error *err) {
    tref r;
    int64_t E = L->m->cfg.n_expert, per = dst2 ? 2 * rows : rows;
    if (!wsrc_find(&L->src, name, &r)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%s'", L->src.path, name);
    if (r.bad_shape) return bad_shape_error(L, &r, err);
    if (r.rows != E * per || r.cols != cols)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected %lld experts of [%lld, %lld]", L->src.path, name,
                               r.shape, (long long)E, (long long)per, (long long)cols);
    for (int64_t e = 0; e < E; e++) {
        if (load_rows_of(L, &r, e * per, rows, &dst[e], err)) return err->code;
        if (dst2 && load_rows_of(L, &r, e * per + rows, rows, &dst2[e], err)) return err->code;
    }
    return QUIPU_OK;
}

/* a GGUF layer's experts (llama.cpp's names): the router ffn_gate_inp [E, D], the stacks
 * ffn_{gate,up}_exps [E, FE, D] and ffn_down_exps [E, D, FE], Qwen2-MoE's shared expert
 * ffn_{gate,up,down}_shexp and its gate ffn_gate_inp_shexp [D] */
static quipu_status load_moe_gguf(loader *L, int64_t l, quipu_layer_weights *w, quipu_error *err) {
    const quipu_model_config *c = &L->m->cfg;
    int64_t D = c->n_embd, E = c->n_expert, FE = c->n_ff_exp, FS = c->n_ff_shexp;
    char n[128];
    snprintf(n, sizeof n, "blk.%lld.ffn_gate_inp.weight", (long long)l);
    if (load_w(L, n, E, D, 1, &w->moe_router, err) || alloc_experts(L, w, err)) return err->code;
    snprintf(n, sizeof n, "blk.%lld.ffn_gate_exps.weight", (long long)l);
    if (load_stack(L, n, FE, D, w->exp_gate, NULL, err)) return err->code;
    snprintf(n, sizeof n, "blk.%lld.ffn_up_exps.weight", (long long)l);
    if (load_stack(L, n, FE, D, w->exp_up, NULL, err)) return err->code;
    snprintf(n, sizeof n, "blk.%lld.ffn_down_exps.weight", (long long)l);
    if (load_stack(L, n, D, FE, w->exp_down, NULL, err)) return err->code;
    snprintf(n, sizeof n, "blk.%lld.ffn_up_shexp.weight", (long long)l);
    tref r;
    if (!wsrc_find(&L->src, n, &r)) return QUIPU_OK;
    if (FS <= 0) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: a shared expert without its width (expert_shared_feed_forward_length)", L->src.path);
    if (load_w(L, n, FS, D, 1, &w->shexp_up, err)) return err->code;
    snprintf(n, sizeof n, "blk.%lld.ffn_gate_shexp.weight", (long long)l);
    if (load_w(L, n, FS, D, 1, &w->shexp_gate, err)) return err->code;
    snprintf(n, sizeof n, "blk.%lld.ffn_down_shexp.weight", (long long)l);
    if (load_w(L, n, D, FS, 1, &w->shexp_down, err)) return err->code;
    snprintf(n, sizeof n, "blk.%lld.ffn_gate_inp_shexp.weight", (long long)l);
    return load_w(L, n, 1, D, 1, &w->shexp_router, err);
}

static quipu_status load_gguf_weights(loader *L, quipu_error *err) {
    quipu_model *m = L->m;
    quipu_model_config *c = &m->cfg;
    int64_t D = c->n_embd, V = c->n_vocab, HD = c->head_dim, F = c->n_ff;
    int64_t QD = c->n_head * HD, KD = c->n_head_kv * HD;
    char n[128];
    if (load_w(L, "token_embd.weight", V, D, 1, &m->tok_embd, err)) return err->code;
    if (c->arch == QUIPU_ARCH_GPT2 && load_w(L, "position_embd.weight", c->n_ctx, D, 1, &m->pos_embd, err)) return err->code;
    if (c->embd_norm) {
        if (load_w(L, "token_embd_norm.weight", D, 0, 1, &m->embd_norm, err)) return err->code;
        if (load_w(L, "token_embd_norm.bias", D, 0, 1, &m->embd_norm_b, err)) return err->code;
    }
    if (load_w(L, "output_norm.weight", D, 0, 1, &m->out_norm, err)) return err->code;
    if (load_w(L, "output_norm.bias", D, 0, 0, &m->out_norm_b, err)) return err->code;
    if (c->tied_embeddings) m->lm_head = m->tok_embd;
    else if (load_w(L, "output.weight", V, D, 1, &m->lm_head, err)) return err->code;
    if (load_w(L, c->has_freq_factors == 2 ? "rope_factors_short.weight" : "rope_freqs.weight", c->n_rot / 2, 0, c->has_freq_factors == 2,
               &m->freq_factors, err))
        return err->code;
    for (int64_t l = 0; l < c->n_layer; l++) {
        quipu_layer_weights *w = &m->layers[l];
#define LW(field, suffix, rows, cols, req)                                                                                             \
    do {                                                                                                                           \
        snprintf(n, sizeof n, "blk.%lld.%s", (long long)l, suffix);                                                                \
        if (load_w(L, n, rows, cols, req, &w->field, err)) return err->code;                                                       \
    } while (0)
        if (!c->post_norms_only) {
            LW(attn_norm, "attn_norm.weight", D, 0, 1);
            LW(attn_norm_b, "attn_norm.bias", D, 0, 0);
        }
        snprintf(n, sizeof n, "blk.%lld.attn_qkv.weight", (long long)l);
        tref r;
        if (wsrc_find(&L->src, n, &r)) {
            /* fused [Q;K;V] rows (GPT-2): split into three buffers */
            quipu_buf *qkv = NULL, *qkv_b = NULL;
            if (r.bad_shape) return bad_shape_error(L, &r, err);
            if (load_ref(L, &r, QD + 2 * KD, D, 0, 0.0f, m->wtype, &qkv, err)) return err->code;
            snprintf(n, sizeof n, "blk.%lld.attn_qkv.bias", (long long)l);
            if (load_w(L, n, QD + 2 * KD, 0, 0, &qkv_b, err)) {
                m->backend->iface->buf_free(m->backend, qkv); /* not yet owned by the model */
                return err->code;
            }
            int64_t sizes[3] = {QD, KD, KD};
            quipu_buf **dw[3] = {&w->wq, &w->wk, &w->wv}, **db[3] = {&w->bq, &w->bk, &w->bv};
            if (split_rows(m, qkv, D, m->wtype, 3, sizes, NULL, dw, err)) {
                m->backend->iface->buf_free(m->backend, qkv_b);
                return err->code;
            }
            if (qkv_b && split_rows(m, qkv_b, 1, QUIPU_E_F32, 3, sizes, NULL, db, err)) return err->code;
        } else {
            LW(wq, "attn_q.weight", QD, D, 1);
            LW(wk, "attn_k.weight", KD, D, 1);
            LW(wv, "attn_v.weight", KD, D, 1);
            LW(bq, "attn_q.bias", QD, 0, 0);
            LW(bk, "attn_k.bias", KD, 0, 0);
            LW(bv, "attn_v.bias", KD, 0, 0);
        }
        LW(wo, "attn_output.weight", D, QD, 1);
        LW(bo, "attn_output.bias", D, 0, 0);
        if (c->post_norms_only) {
            /* OLMo 2: norms after attention and MLP only (below) */
        } else if (c->arch != QUIPU_ARCH_FALCON) {
            LW(ffn_norm, "ffn_norm.weight", D, 0, 1);
            LW(ffn_norm_b, "ffn_norm.bias", D, 0, 0);
        } else if (c->parallel_residual == 1) { /* Falcon 40B/180B: the MLP's own norm */
            LW(ffn_norm, "attn_norm_2.weight", D, 0, 1);
            LW(ffn_norm_b, "attn_norm_2.bias", D, 0, 1);
        }
        if (c->layer_moe[l]) {
            if (load_moe_gguf(L, l, w, err)) return err->code;
        } else {
            if (c->arch == QUIPU_ARCH_PHI3) {
                /* gate and up fused in ffn_up: F gate rows, then F up rows */
                quipu_buf *gu = NULL;
                int64_t sizes[2] = {F, F};
                quipu_buf **dw[2] = {&w->w_gate, &w->w_up};
                snprintf(n, sizeof n, "blk.%lld.ffn_up.weight", (long long)l);
                if (!wsrc_find(&L->src, n, &r)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%s'", L->src.path, n);
                if (r.bad_shape) return bad_shape_error(L, &r, err);
                if (load_ref(L, &r, 2 * F, D, 0, 0.0f, m->wtype, &gu, err)) return err->code;
                if (split_rows(m, gu, D, m->wtype, 2, sizes, NULL, dw, err)) return err->code;
            } else {
                if (c->arch != QUIPU_ARCH_GPT2 && c->arch != QUIPU_ARCH_BLOOM && c->arch != QUIPU_ARCH_FALCON && c->arch != QUIPU_ARCH_GPTNEOX)
                    LW(w_gate, "ffn_gate.weight", F, D, 1);
                LW(w_up, "ffn_up.weight", F, D, 1);
            }
            LW(b_up, "ffn_up.bias", F, 0, 0);
            LW(w_down, "ffn_down.weight", D, F, 1);
            LW(b_down, "ffn_down.bias", D, 0, 0);
        }
        if (c->qk_norm) {
            LW(q_norm, "attn_q_norm.weight", c->qk_norm == 1 ? HD : QD, 0, 1);
            LW(k_norm, "attn_k_norm.weight", c->qk_norm == 1 ? HD : KD, 0, 1);
        }
        if (c->gemma_norms || c->post_norms_only) {
            /* GGUF Gemma norms already hold 1 + w; OLMo 2's are plain */
            LW(post_attn_norm, "post_attention_norm.weight", D, 0, 1);
            LW(post_ffn_norm, "post_ffw_norm.weight", D, 0, 1);
        }
#undef LW
    }
    return QUIPU_OK;
}

/* HF names: tries each prefix in turn ("model.", "", "transformer.", "language_model.model."). */
static int hf_find(loader *L, const char *const *prefixes, const char *name, char *out, size_t outsz) {
    tref r;
    for (int i = 0; prefixes[i]; i++) {
        snprintf(out, outsz, "%s%s", prefixes[i], name);
        if (wsrc_find(&L->src, out, &r)) return 1;
    }
    snprintf(out, outsz, "%s%s", prefixes[0], name);
    return 0;
}

static quipu_status hf_load(loader *L, const char *const *prefixes, const char *name, int64_t rows, int64_t cols, int required,
                            int transpose, float add, quipu_buf **out, quipu_error *err) {
    char full[256];
    *out = NULL;
    if (!hf_find(L, prefixes, name, full, sizeof full)) {
        if (!required) return QUIPU_OK;
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%s'", L->src.path, full);
    }
    tref r;
    wsrc_find(&L->src, full, &r);
    if (r.bad_shape) return bad_shape_error(L, &r, err);
    if (cols == 0) {
        if (r.rows * r.cols != rows)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has %lld elements, expected %lld", L->src.path, full,
                                   (long long)(r.rows * r.cols), (long long)rows);
        r.rows = 1;
        r.cols = rows;
        L->cut = cut_for(L, out);
        return load_ref(L, &r, 1, rows, 0, add, QUIPU_E_F32, out, err);
    }
    L->cut = cut_for(L, out);
    return load_ref(L, &r, rows, cols, transpose, add, L->m->wtype, out, err);
}

/* Loads the fused tensor `name` ([sum of sizes, cols]; cols 0: a vector) and splits its rows into
 * the n buffers *dst[i] (split_rows). required = 0: an absent tensor leaves them NULL. */
static quipu_status hf_load_split(loader *L, const char *const *prefixes, const char *name, int64_t cols, int n, const int64_t *sizes,
                                  const int64_t *chunk, int required, quipu_buf **dst[], quipu_error *err) {
    int64_t rows = 0;
    quipu_buf *fused = NULL;
    for (int i = 0; i < n; i++) rows += sizes[i];
    if (hf_load(L, prefixes, name, rows, cols, required, 0, 0.0f, &fused, err)) return err->code;
    if (!fused) return QUIPU_OK;
    return split_rows(L->m, fused, cols ? cols : 1, cols ? L->m->wtype : QUIPU_E_F32, n, sizes, chunk, dst, err);
}

/* ALiBi slopes as transformers computes them for BLOOM (_get_alibi_slopes): for the largest power
 * of two P <= H, base 2^(-8/P) rounded to fp32 and slopes base^1 .. base^P; past P, every other
 * power of 2^(-4/P) (its 1st, 3rd, 5th ...). Each slope is the rounded base's exact power, rounded
 * once to fp32 (what a correctly rounded powf gives). */
static void alibi_slopes(int64_t H, float *out) {
    int64_t p2 = 1;
    while (p2 * 2 <= H) p2 *= 2;
    float base = (float)pow(2.0, -pow(2.0, -(log2((double)p2) - 3.0)));
    float extra = (float)pow(2.0, -pow(2.0, -(log2((double)(2 * p2)) - 3.0)));
    for (int64_t i = 0; i < p2; i++) out[i] = (float)pow((double)base, (double)(i + 1));
    for (int64_t i = p2; i < H; i++) out[i] = (float)pow((double)extra, (double)(2 * (i - p2) + 1));
}

/* BLOOM and Falcon checkpoints (transformers' names, under "transformer." or at the top level as
 * BloomModel saves them): word_embeddings, h.N.{input_layernorm, self_attention.query_key_value,
 * self_attention.dense, post_attention_layernorm, mlp.dense_h_to_4h, mlp.dense_4h_to_h}, ln_f;
 * BLOOM's word_embeddings_layernorm; Falcon's ln_attn / ln_mlp (two norms in parallel) and
 * biases only with `bias`. The fused query_key_value is split by the layout config.json implies
 * (quipu_qkv_layout). */
static quipu_status load_bloom_falcon_weights(loader *L, quipu_error *err) {
    quipu_model *m = L->m;
    quipu_model_config *c = &m->cfg;
    quipu_backend *b = m->backend;
    int64_t D = c->n_embd, HD = c->head_dim, F = c->n_ff, H = c->n_head, HKV = c->n_head_kv;
    int64_t QD = H * HD, KD = HKV * HD;
    int bloom = c->arch == QUIPU_ARCH_BLOOM, bias = c->linear_bias;
    static const char *const pre[] = {"transformer.", "", NULL};
    char n[160], full[256];
    tref r;
    if (!hf_find(L, pre, "word_embeddings.weight", full, sizeof full) || !wsrc_find(&L->src, full, &r))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor 'transformer.word_embeddings.weight'", L->src.path);
    if (r.bad_shape) return bad_shape_error(L, &r, err);
    if (r.rows > HP_MAX_VOCAB)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has %lld rows, more than the %lld a vocabulary may have", L->src.path, full,
                               (long long)r.rows, (long long)HP_MAX_VOCAB);
    c->n_vocab = r.rows;
    if (tp_plan(m, b->group, err)) return err->code; /* the vocabulary is known now (refuses tp > 1 for these) */
    if (hf_load(L, pre, "word_embeddings.weight", c->n_vocab, D, 1, 0, 0.0f, &m->tok_embd, err)) return err->code;
    if (bloom) {
        if (hf_load(L, pre, "word_embeddings_layernorm.weight", D, 0, 1, 0, 0.0f, &m->embd_norm, err)) return err->code;
        if (hf_load(L, pre, "word_embeddings_layernorm.bias", D, 0, 1, 0, 0.0f, &m->embd_norm_b, err)) return err->code;
    }
    if (hf_load(L, pre, "ln_f.weight", D, 0, 1, 0, 0.0f, &m->out_norm, err)) return err->code;
    if (hf_load(L, pre, "ln_f.bias", D, 0, 1, 0, 0.0f, &m->out_norm_b, err)) return err->code;
    if (c->tied_embeddings) {
        m->lm_head = m->tok_embd;
    } else {
        static const char *const hpre[] = {"", NULL};
        if (hf_load(L, hpre, "lm_head.weight", c->n_vocab, D, 1, 0, 0.0f, &m->lm_head, err)) return err->code;
    }
    /* query_key_value: q rows QD, k and v KD each, in the checkpoint's layout */
    int64_t sizes[3] = {QD, KD, KD}, per_head[3] = {HD, HD, HD}, per_group[3] = {QD / (HKV > 0 ? HKV : 1), HD, HD};
    const int64_t *chunk = c->qkv_layout == QUIPU_QKV_PER_HEAD ? per_head : c->qkv_layout == QUIPU_QKV_PER_GROUP ? per_group : NULL;
    for (int64_t l = 0; l < c->n_layer; l++) {
        quipu_layer_weights *w = &m->layers[l];
#define BW(field, suffix, rows, cols, req)                                                                                             \
    do {                                                                                                                           \
        snprintf(n, sizeof n, "h.%lld.%s", (long long)l, suffix);                                                                  \
        if (hf_load(L, pre, n, rows, cols, req, 0, 0.0f, &w->field, err)) return err->code;                                        \
    } while (0)
#define BSPLIT(suffix, cols, ...)                                                                                                      \
    do {                                                                                                                           \
        quipu_buf **dst_[] = {__VA_ARGS__};                                                                                        \
        snprintf(n, sizeof n, "h.%lld.%s", (long long)l, suffix);                                                                  \
        if (hf_load_split(L, pre, n, cols, 3, sizes, chunk, 1, dst_, err)) return err->code;                                       \
    } while (0)
        if (c->parallel_residual == 1) { /* Falcon's new decoder with two norms */
            BW(attn_norm, "ln_attn.weight", D, 0, 1);
            BW(attn_norm_b, "ln_attn.bias", D, 0, 1);
            BW(ffn_norm, "ln_mlp.weight", D, 0, 1);
            BW(ffn_norm_b, "ln_mlp.bias", D, 0, 1);
        } else {
            BW(attn_norm, "input_layernorm.weight", D, 0, 1);
            BW(attn_norm_b, "input_layernorm.bias", D, 0, 1);
            if (!c->parallel_residual) { /* BLOOM, Falcon with parallel_attn false */
                BW(ffn_norm, "post_attention_layernorm.weight", D, 0, 1);
                BW(ffn_norm_b, "post_attention_layernorm.bias", D, 0, 1);
            }
        }
        BSPLIT("self_attention.query_key_value.weight", D, &w->wq, &w->wk, &w->wv);
        BW(wo, "self_attention.dense.weight", D, QD, 1);
        BW(w_up, "mlp.dense_h_to_4h.weight", F, D, 1);
        BW(w_down, "mlp.dense_4h_to_h.weight", D, F, 1);
        if (bias) {
            BSPLIT("self_attention.query_key_value.bias", 0, &w->bq, &w->bk, &w->bv);
            BW(bo, "self_attention.dense.bias", D, 0, 1);
            BW(b_up, "mlp.dense_h_to_4h.bias", F, 0, 1);
            BW(b_down, "mlp.dense_4h_to_h.bias", D, 0, 1);
        }
#undef BSPLIT
#undef BW
    }
    return QUIPU_OK;
}

/* m->alibi: the slopes of the model's heads, F32 on its backend (any source) */
static quipu_status alibi_upload(quipu_model *m, quipu_error *err) {
    quipu_backend *b = m->backend;
    int64_t H = m->cfg.n_head;
    float *sl = malloc((size_t)H * sizeof *sl);
    if (!sl) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    alibi_slopes(H, sl);
    quipu_status st = (m->alibi = b->iface->buf_alloc(b, (size_t)H * sizeof *sl, err)) ? b->iface->buf_write(b, m->alibi, 0, sl, (size_t)H * sizeof *sl, err)
                                                                                     : (err->code ? err->code : QUIPU_ERR_NOMEM);
    free(sl);
    return st;
}

/* A tensor's values on the host (malloc'd fp32, n elements): the MLM loader assembles the
 * embedding-with-bias matrix and the position table there before one upload. */
static quipu_status host_values(loader *L, const char *name, uint64_t n, float **out, quipu_error *err) {
    tref r;
    *out = NULL;
    if (!wsrc_find(&L->src, name, &r)) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%s'", L->src.path, name);
    if (r.bad_shape) return bad_shape_error(L, &r, err);
    uint64_t need;
    if ((uint64_t)r.rows * (uint64_t)r.cols != n)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected %llu elements", L->src.path, name, r.shape,
                               (unsigned long long)n);
    if (quipu_dtype_block_size(r.type) == 0 || quipu_dtype_row_bytes(r.type, (uint64_t)r.cols, &need) != 0 ||
        quipu_mul_overflow_u64(need, (uint64_t)r.rows, &need) || need > r.nbytes)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s': type or size does not fit its shape", L->src.path, name);
    float *v = malloc((n ? n : 1) * sizeof(float));
    if (!v) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory loading '%s'", L->src.path, name);
    L->inflight_host = v;
    quipu_status st = quipu_dequantize(r.type, r.data, v, n, err);
    L->inflight_host = NULL;
    if (st) {
        free(v);
        return quipu_error_set(err, st, "%s: tensor '%s': cannot dequantize", L->src.path, name);
    }
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            free(v);
            return quipu_error_set(err, QUIPU_ERR_NUMERIC, "%s: tensor '%s' holds a non-finite value (NaN or Inf) at element %llu", L->src.path,
                                   name, (unsigned long long)i);
        }
    *out = v;
    return QUIPU_OK;
}

/* n host values into a new backend buffer of type et */
static quipu_status upload_new(loader *L, const float *v, uint64_t n, quipu_etype et, const char *name, quipu_buf **out, quipu_error *err) {
    quipu_backend *b = L->m->backend;
    *out = b->iface->buf_alloc(b, (size_t)n * quipu_etype_size(et), err);
    if (!*out) return err->code ? err->code : QUIPU_ERR_NOMEM;
    quipu_status st = upload_as(L, *out, v, n, et, name, err);
    if (st) {
        b->iface->buf_free(b, *out);
        *out = NULL;
        return st;
    }
    L->m->weight_bytes += (size_t)n * quipu_etype_size(et);
    return QUIPU_OK;
}

/* The first of name + each suffix present (LayerNorm weights are "weight" or, in older BERT
 * files, "gamma"), into full; 0 if none. */
static int find_any(loader *L, const char *pre, const char *name, const char *const *suffixes, char *full, size_t n) {
    tref r;
    for (int i = 0; suffixes[i]; i++) {
        snprintf(full, n, "%s%s%s", pre, name, suffixes[i]);
        if (wsrc_find(&L->src, full, &r)) return 1;
    }
    snprintf(full, n, "%s%s%s", pre, name, suffixes[0]);
    return 0;
}

/* BERT / RoBERTa masked LMs (BertForMaskedLM, RobertaForMaskedLM and the XLM-R / CamemBERT
 * classes, which are RoBERTa's): the encoder under "bert." / "roberta.", the MLM head under
 * "cls.predictions." / "lm_head.". The decoder is tied to the word embeddings unless the file
 * holds a decoder weight of its own that differs. */
static quipu_status load_mlm_weights(loader *L, quipu_error *err) {
    quipu_model *m = L->m;
    quipu_model_config *c = &m->cfg;
    int rob = c->arch == QUIPU_ARCH_ROBERTA;
    int64_t D = c->n_embd, F = c->n_ff;
    static const char *const bert_pre[] = {"bert.", "", NULL}, *const rob_pre[] = {"roberta.", "", NULL};
    static const char *const ln_w[] = {".weight", ".gamma", NULL}, *const ln_b[] = {".bias", ".beta", NULL};
    const char *const *pre = rob ? rob_pre : bert_pre;
    const char *head = rob ? "lm_head." : "cls.predictions.";
    const char *cls = rob ? "RobertaForMaskedLM" : "BertForMaskedLM";
    char full[256], n[200];
    tref r;
    quipu_status st = QUIPU_OK;
    float *emb = NULL, *bias = NULL, *dec = NULL, *pos = NULL, *typ = NULL, *aug = NULL;
    if (!hf_find(L, pre, "embeddings.word_embeddings.weight", full, sizeof full) || !wsrc_find(&L->src, full, &r))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%sembeddings.word_embeddings.weight'", L->src.path, pre[0]);
    if (r.bad_shape) return bad_shape_error(L, &r, err);
    if (r.rows > HP_MAX_VOCAB)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has %lld rows, more than the %lld a vocabulary may have", L->src.path, full,
                               (long long)r.rows, (long long)HP_MAX_VOCAB);
    c->n_vocab = r.rows;
    const char *epre = full[0] && strncmp(full, "embeddings.", 11) ? pre[0] : "";
    if (tp_plan(m, m->backend->group, err)) return err->code;
    int64_t V = c->n_vocab;
    /* the MLM head first: a checkpoint without it (BertModel, RobertaModel) cannot be scored */
    static const char *const one[] = {"", NULL};
    const char *need[] = {rob ? "dense.weight" : "transform.dense.weight", rob ? "layer_norm" : "transform.LayerNorm"};
    for (int i = 0; i < 2; i++)
        if (!find_any(L, head, need[i], i ? ln_w : one, full, sizeof full))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%s' of the masked-LM head: a %s checkpoint has it (is this the "
                                   "base model without its head?)", L->src.path, full, cls);
    /* the decoder's own bias is what the forward adds (Linear decoder); "bias" is normally the
     * same parameter, tied to it, and some files hold only that one */
    if (!find_any(L, head, "decoder.bias", one, full, sizeof full) && !find_any(L, head, "bias", one, full, sizeof full))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%sbias' of the masked-LM head: a %s checkpoint has it (is this the "
                               "base model without its head?)", L->src.path, head, cls);
    uint64_t VD = (uint64_t)V * (uint64_t)D;
    if ((st = host_values(L, full, (uint64_t)V, &bias, err))) goto done;
    snprintf(n, sizeof n, "%sembeddings.word_embeddings.weight", epre);
    if ((st = host_values(L, n, VD, &emb, err))) goto done;
    /* [V, D + 1]: each row its embedding, then the decoder's bias for that id */
    if (!(aug = malloc((size_t)(VD + (uint64_t)V) * sizeof(float)))) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", L->src.path);
        goto done;
    }
    for (int64_t v = 0; v < V; v++) {
        memcpy(aug + v * (D + 1), emb + v * D, (size_t)D * sizeof(float));
        aug[v * (D + 1) + D] = bias[v];
    }
    if ((st = upload_new(L, aug, VD + (uint64_t)V, m->wtype, n, &m->tok_embd, err))) goto done;
    m->lm_head = m->tok_embd;
    snprintf(full, sizeof full, "%sdecoder.weight", head);
    if (wsrc_find(&L->src, full, &r)) {
        if ((st = host_values(L, full, VD, &dec, err))) goto done;
        if (memcmp(dec, emb, (size_t)VD * sizeof(float))) { /* untied: a head of its own */
            for (int64_t v = 0; v < V; v++) memcpy(aug + v * (D + 1), dec + v * D, (size_t)D * sizeof(float));
            if ((st = upload_new(L, aug, VD + (uint64_t)V, m->wtype, full, &m->lm_head, err))) goto done;
        }
    }
    /* positions from pos_offset on, token type 0 added to each */
    int64_t np = c->n_ctx + c->pos_offset;
    snprintf(n, sizeof n, "%sembeddings.position_embeddings.weight", epre);
    if ((st = host_values(L, n, (uint64_t)np * (uint64_t)D, &pos, err))) goto done;
    snprintf(n, sizeof n, "%sembeddings.token_type_embeddings.weight", epre);
    if (wsrc_find(&L->src, n, &r)) {
        if ((st = host_values(L, n, (uint64_t)c->n_token_types * (uint64_t)D, &typ, err))) goto done;
        for (int64_t p = 0; p < np; p++)
            for (int64_t i = 0; i < D; i++) pos[p * D + i] += typ[i];
    }
    snprintf(n, sizeof n, "%sembeddings.position_embeddings.weight", epre);
    if ((st = upload_new(L, pos + c->pos_offset * D, (uint64_t)c->n_ctx * (uint64_t)D, m->wtype, n, &m->pos_embd, err))) goto done;
#define MW(field, name, rows, cols, sfx)                                                                                           \
    do {                                                                                                                           \
        find_any(L, "", name, sfx, full, sizeof full);                                                                             \
        if ((st = load_w(L, full, rows, cols, 1, &field, err))) goto done;                                                         \
    } while (0)
    static const char *const w_[] = {".weight", NULL}, *const b_[] = {".bias", NULL};
    snprintf(n, sizeof n, "%sembeddings.LayerNorm", epre);
    MW(m->embd_norm, n, D, 0, ln_w);
    MW(m->embd_norm_b, n, D, 0, ln_b);
    snprintf(n, sizeof n, "%s%s", head, rob ? "dense" : "transform.dense");
    MW(m->mlm_dense, n, D, D, w_);
    MW(m->mlm_dense_b, n, D, 0, b_);
    snprintf(n, sizeof n, "%s%s", head, rob ? "layer_norm" : "transform.LayerNorm");
    MW(m->mlm_norm, n, D, 0, ln_w);
    MW(m->mlm_norm_b, n, D, 0, ln_b);
    for (int64_t l = 0; l < c->n_layer && !st; l++) {
        quipu_layer_weights *w = &m->layers[l];
        struct {
            quipu_buf **field;
            const char *name;
            int64_t rows, cols;
            const char *const *sfx;
        } t[] = {{&w->wq, "attention.self.query", D, D, w_},       {&w->bq, "attention.self.query", D, 0, b_},
                 {&w->wk, "attention.self.key", D, D, w_},         {&w->bk, "attention.self.key", D, 0, b_},
                 {&w->wv, "attention.self.value", D, D, w_},       {&w->bv, "attention.self.value", D, 0, b_},
                 {&w->wo, "attention.output.dense", D, D, w_},     {&w->bo, "attention.output.dense", D, 0, b_},
                 {&w->attn_norm, "attention.output.LayerNorm", D, 0, ln_w}, {&w->attn_norm_b, "attention.output.LayerNorm", D, 0, ln_b},
                 {&w->w_up, "intermediate.dense", F, D, w_},       {&w->b_up, "intermediate.dense", F, 0, b_},
                 {&w->w_down, "output.dense", D, F, w_},           {&w->b_down, "output.dense", D, 0, b_},
                 {&w->ffn_norm, "output.LayerNorm", D, 0, ln_w},   {&w->ffn_norm_b, "output.LayerNorm", D, 0, ln_b}};
        for (size_t i = 0; i < sizeof t / sizeof *t && !st; i++) {
            snprintf(n, sizeof n, "%sencoder.layer.%lld.%s", epre, (long long)l, t[i].name);
            MW(*t[i].field, n, t[i].rows, t[i].cols, t[i].sfx);
        }
    }
#undef MW
done:
    free(emb);
    free(bias);
    free(dec);
    free(pos);
    free(typ);
    free(aug);
    return st;
}

/* A checkpoint layer's experts under the hub's names: Mixtral's block_sparse_moe.gate and
 * block_sparse_moe.experts.E.{w1 (gate), w3 (up), w2 (down)}; Qwen's mlp.gate and
 * mlp.experts.E.{gate,up,down}_proj, Qwen2-MoE's mlp.shared_expert.* and mlp.shared_expert_gate.
 * Also transformers 5's in-memory layout, should a file hold it: one stack per layer,
 * experts.gate_up_proj [E, 2 FE, D] and experts.down_proj [E, D, FE]. */
static quipu_status load_moe_hf(loader *L, const char *const *pre, int64_t l, quipu_layer_weights *w, quipu_error *err) {
    const quipu_model_config *c = &L->m->cfg;
    int64_t D = c->n_embd, E = c->n_expert, FE = c->n_ff_exp, FS = c->n_ff_shexp;
    int mixtral = !strcmp(c->arch_name, "mixtral");
    const char *blk = mixtral ? "block_sparse_moe" : "mlp";
    const char *gn = mixtral ? "w1" : "gate_proj", *un = mixtral ? "w3" : "up_proj", *dn = mixtral ? "w2" : "down_proj";
    char n[192], full[256];
    snprintf(n, sizeof n, "layers.%lld.%s.gate.weight", (long long)l, blk);
    if (!hf_find(L, pre, n, full, sizeof full) && mixtral) { /* transformers 5 names the block mlp */
        blk = "mlp";
        snprintf(n, sizeof n, "layers.%lld.%s.gate.weight", (long long)l, blk);
    }
    if (hf_load(L, pre, n, E, D, 1, 0, 0.0f, &w->moe_router, err) || alloc_experts(L, w, err)) return err->code;
    snprintf(n, sizeof n, "layers.%lld.%s.experts.0.%s.weight", (long long)l, blk, gn);
    if (!hf_find(L, pre, n, full, sizeof full)) {
        snprintf(n, sizeof n, "layers.%lld.%s.experts.gate_up_proj", (long long)l, blk);
        if (hf_find(L, pre, n, full, sizeof full)) {
            if (load_stack(L, full, FE, D, w->exp_gate, w->exp_up, err)) return err->code;
            snprintf(n, sizeof n, "layers.%lld.%s.experts.down_proj", (long long)l, blk);
            hf_find(L, pre, n, full, sizeof full);
            if (load_stack(L, full, D, FE, w->exp_down, NULL, err)) return err->code;
            goto shared;
        }
    }
    for (int64_t e = 0; e < E; e++) {
        snprintf(n, sizeof n, "layers.%lld.%s.experts.%lld.%s.weight", (long long)l, blk, (long long)e, gn);
        if (hf_load(L, pre, n, FE, D, 1, 0, 0.0f, &w->exp_gate[e], err)) return err->code;
        snprintf(n, sizeof n, "layers.%lld.%s.experts.%lld.%s.weight", (long long)l, blk, (long long)e, un);
        if (hf_load(L, pre, n, FE, D, 1, 0, 0.0f, &w->exp_up[e], err)) return err->code;
        snprintf(n, sizeof n, "layers.%lld.%s.experts.%lld.%s.weight", (long long)l, blk, (long long)e, dn);
        if (hf_load(L, pre, n, D, FE, 1, 0, 0.0f, &w->exp_down[e], err)) return err->code;
    }
shared:
    if (FS <= 0) return QUIPU_OK;
    snprintf(n, sizeof n, "layers.%lld.mlp.shared_expert.gate_proj.weight", (long long)l);
    if (hf_load(L, pre, n, FS, D, 1, 0, 0.0f, &w->shexp_gate, err)) return err->code;
    snprintf(n, sizeof n, "layers.%lld.mlp.shared_expert.up_proj.weight", (long long)l);
    if (hf_load(L, pre, n, FS, D, 1, 0, 0.0f, &w->shexp_up, err)) return err->code;
    snprintf(n, sizeof n, "layers.%lld.mlp.shared_expert.down_proj.weight", (long long)l);
    if (hf_load(L, pre, n, D, FS, 1, 0, 0.0f, &w->shexp_down, err)) return err->code;
    snprintf(n, sizeof n, "layers.%lld.mlp.shared_expert_gate.weight", (long long)l);
    return hf_load(L, pre, n, 1, D, 1, 0, 0.0f, &w->shexp_router, err);
}

static quipu_status load_hf_weights(loader *L, quipu_error *err) {
    quipu_model *m = L->m;
    if (m->cfg.masked_lm) return load_mlm_weights(L, err);
    quipu_model_config *c = &m->cfg;
    int64_t D = c->n_embd, HD = c->head_dim, F = c->n_ff;
    int64_t QD = c->n_head * HD, KD = c->n_head_kv * HD;
    char n[160];
    if (c->arch == QUIPU_ARCH_BLOOM || c->arch == QUIPU_ARCH_FALCON) return load_bloom_falcon_weights(L, err);
    if (c->arch == QUIPU_ARCH_GPT2) {
        static const char *const pre[] = {"transformer.", "", NULL};
        tref r;
        char full[256];
        if (!hf_find(L, pre, "wte.weight", full, sizeof full) || !wsrc_find(&L->src, full, &r))
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor 'wte.weight'", L->src.path);
        if (r.bad_shape) return bad_shape_error(L, &r, err);
        if (r.rows > HP_MAX_VOCAB)
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has %lld rows, more than the %lld a vocabulary may have", L->src.path, full,
                                   (long long)r.rows, (long long)HP_MAX_VOCAB);
        c->n_vocab = r.rows;
        if (tp_plan(m, m->backend->group, err)) return err->code; /* the vocabulary is known now */
        if (hf_load(L, pre, "wte.weight", c->n_vocab, D, 1, 0, 0.0f, &m->tok_embd, err)) return err->code;
        if (hf_load(L, pre, "wpe.weight", c->n_ctx, D, 1, 0, 0.0f, &m->pos_embd, err)) return err->code;
        if (hf_load(L, pre, "ln_f.weight", D, 0, 1, 0, 0.0f, &m->out_norm, err)) return err->code;
        if (hf_load(L, pre, "ln_f.bias", D, 0, 1, 0, 0.0f, &m->out_norm_b, err)) return err->code;
        m->lm_head = m->tok_embd;
        for (int64_t l = 0; l < c->n_layer; l++) {
            quipu_layer_weights *w = &m->layers[l];
            quipu_buf *qkv, *qkv_b;
#define GW(field, suffix, rows, cols, tr)                                                                                              \
    do {                                                                                                                           \
        snprintf(n, sizeof n, "h.%lld.%s", (long long)l, suffix);                                                                  \
        if (hf_load(L, pre, n, rows, cols, 1, tr, 0.0f, &field, err)) return err->code;                                            \
    } while (0)
            GW(w->attn_norm, "ln_1.weight", D, 0, 0);
            GW(w->attn_norm_b, "ln_1.bias", D, 0, 0);
            GW(qkv, "attn.c_attn.weight", 3 * D, D, 1); /* Conv1D [in, out] */
            snprintf(n, sizeof n, "h.%lld.attn.c_attn.bias", (long long)l);
            if (hf_load(L, pre, n, 3 * D, 0, 1, 0, 0.0f, &qkv_b, err)) {
                m->backend->iface->buf_free(m->backend, qkv); /* not yet owned by the model */
                return err->code;
            }
            int64_t sizes[3] = {D, D, D};
            quipu_buf **dw[3] = {&w->wq, &w->wk, &w->wv}, **db[3] = {&w->bq, &w->bk, &w->bv};
            if (split_rows(m, qkv, D, m->wtype, 3, sizes, NULL, dw, err)) {
                m->backend->iface->buf_free(m->backend, qkv_b);
                return err->code;
            }
            if (split_rows(m, qkv_b, 1, QUIPU_E_F32, 3, sizes, NULL, db, err)) return err->code;
            GW(w->wo, "attn.c_proj.weight", D, D, 1);
            GW(w->bo, "attn.c_proj.bias", D, 0, 0);
            GW(w->ffn_norm, "ln_2.weight", D, 0, 0);
            GW(w->ffn_norm_b, "ln_2.bias", D, 0, 0);
            GW(w->w_up, "mlp.c_fc.weight", F, D, 1);
            GW(w->b_up, "mlp.c_fc.bias", F, 0, 0);
            GW(w->w_down, "mlp.c_proj.weight", D, F, 1);
            GW(w->b_down, "mlp.c_proj.bias", D, 0, 0);
#undef GW
        }
        return QUIPU_OK;
    }
    int neox = c->arch == QUIPU_ARCH_GPTNEOX;
    static const char *const llama_pre[] = {"model.", "", "language_model.model.", "model.language_model.", NULL};
    static const char *const neox_pre[] = {"gpt_neox.", "", NULL};
    const char *const *pre = neox ? neox_pre : llama_pre;
    const char *embd = neox ? "embed_in.weight" : "embed_tokens.weight";
    tref r;
    char full[256];
    if (!hf_find(L, pre, embd, full, sizeof full) || !wsrc_find(&L->src, full, &r))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: missing tensor '%s%s'", L->src.path, pre[0], embd);
    if (r.bad_shape) return bad_shape_error(L, &r, err);
    if (r.rows > HP_MAX_VOCAB)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: tensor '%s' has %lld rows, more than the %lld a vocabulary may have", L->src.path, full,
                               (long long)r.rows, (long long)HP_MAX_VOCAB);
    c->n_vocab = r.rows;
    if (tp_plan(m, m->backend->group, err)) return err->code; /* the vocabulary is known now */
    /* HF Gemma norms compute x * (1 + w): fold the 1 in at load time */
    float nadd = c->gemma_norms ? 1.0f : 0.0f;
    if (hf_load(L, pre, embd, c->n_vocab, D, 1, 0, 0.0f, &m->tok_embd, err)) return err->code;
    if (neox) {
        if (hf_load(L, pre, "final_layer_norm.weight", D, 0, 1, 0, 0.0f, &m->out_norm, err)) return err->code;
        if (hf_load(L, pre, "final_layer_norm.bias", D, 0, 1, 0, 0.0f, &m->out_norm_b, err)) return err->code;
    } else if (hf_load(L, pre, "norm.weight", D, 0, 1, 0, nadd, &m->out_norm, err)) {
        return err->code;
    }
    if (c->tied_embeddings) {
        m->lm_head = m->tok_embd;
    } else {
        static const char *const hpre[] = {"", "language_model.", NULL};
        /* Pythia's checkpoints name the head embed_out */
        const char *head = neox && hf_find(L, hpre, "embed_out.weight", full, sizeof full) ? "embed_out.weight" : "lm_head.weight";
        if (hf_load(L, hpre, head, c->n_vocab, D, 1, 0, 0.0f, &m->lm_head, err)) return err->code;
    }
    for (int64_t l = 0; l < c->n_layer; l++) {
        quipu_layer_weights *w = &m->layers[l];
#define HW(field, suffix, rows, cols, req, add)                                                                                        \
    do {                                                                                                                           \
        snprintf(n, sizeof n, "layers.%lld.%s", (long long)l, suffix);                                                             \
        if (hf_load(L, pre, n, rows, cols, req, 0, add, &w->field, err)) return err->code;                                         \
    } while (0)
#define HSPLIT(suffix, cols, np, sizes, chunk, req, ...)                                                                          \
    do {                                                                                                                           \
        quipu_buf **dst_[] = {__VA_ARGS__};                                                                                        \
        snprintf(n, sizeof n, "layers.%lld.%s", (long long)l, suffix);                                                             \
        if (hf_load_split(L, pre, n, cols, np, sizes, chunk, req, dst_, err)) return err->code;                                    \
    } while (0)
        if (neox) {
            /* query_key_value rows are per head: q, k, v of head 0, then of head 1, ... */
            int64_t qkv[3] = {D, D, D}, per_head[3] = {HD, HD, HD};
            HW(attn_norm, "input_layernorm.weight", D, 0, 1, 0.0f);
            HW(attn_norm_b, "input_layernorm.bias", D, 0, 1, 0.0f);
            HSPLIT("attention.query_key_value.weight", D, 3, qkv, per_head, 1, &w->wq, &w->wk, &w->wv);
            HSPLIT("attention.query_key_value.bias", 0, 3, qkv, per_head, 0, &w->bq, &w->bk, &w->bv);
            HW(wo, "attention.dense.weight", D, D, 1, 0.0f);
            HW(bo, "attention.dense.bias", D, 0, 0, 0.0f);
            HW(ffn_norm, "post_attention_layernorm.weight", D, 0, 1, 0.0f);
            HW(ffn_norm_b, "post_attention_layernorm.bias", D, 0, 1, 0.0f);
            HW(w_up, "mlp.dense_h_to_4h.weight", F, D, 1, 0.0f);
            HW(b_up, "mlp.dense_h_to_4h.bias", F, 0, 0, 0.0f);
            HW(w_down, "mlp.dense_4h_to_h.weight", D, F, 1, 0.0f);
            HW(b_down, "mlp.dense_4h_to_h.bias", D, 0, 0, 0.0f);
            continue;
        }
        if (!c->post_norms_only) HW(attn_norm, "input_layernorm.weight", D, 0, 1, nadd);
        if (c->arch == QUIPU_ARCH_PHI3) {
            int64_t qkv[3] = {QD, KD, KD}, gate_up[2] = {F, F};
            HSPLIT("self_attn.qkv_proj.weight", D, 3, qkv, NULL, 1, &w->wq, &w->wk, &w->wv);
            HSPLIT("mlp.gate_up_proj.weight", D, 2, gate_up, NULL, 1, &w->w_gate, &w->w_up);
        } else {
            HW(wq, "self_attn.q_proj.weight", QD, D, 1, 0.0f);
            HW(wk, "self_attn.k_proj.weight", KD, D, 1, 0.0f);
            HW(wv, "self_attn.v_proj.weight", KD, D, 1, 0.0f);
            HW(bq, "self_attn.q_proj.bias", QD, 0, 0, 0.0f);
            HW(bk, "self_attn.k_proj.bias", KD, 0, 0, 0.0f);
            HW(bv, "self_attn.v_proj.bias", KD, 0, 0, 0.0f);
            if (!c->layer_moe[l]) {
                HW(w_gate, "mlp.gate_proj.weight", F, D, 1, 0.0f);
                HW(w_up, "mlp.up_proj.weight", F, D, 1, 0.0f);
            }
        }
        HW(wo, "self_attn.o_proj.weight", D, QD, 1, 0.0f);
        HW(bo, "self_attn.o_proj.bias", D, 0, 0, 0.0f);
        if (!c->layer_moe[l]) HW(w_down, "mlp.down_proj.weight", D, F, 1, 0.0f);
        else if (load_moe_hf(L, pre, l, w, err)) return err->code;
        if (c->qk_norm) {
            HW(q_norm, "self_attn.q_norm.weight", c->qk_norm == 1 ? HD : QD, 0, 1, nadd);
            HW(k_norm, "self_attn.k_norm.weight", c->qk_norm == 1 ? HD : KD, 0, 1, nadd);
        }
        if (c->gemma_norms) {
            HW(post_attn_norm, "post_attention_layernorm.weight", D, 0, 1, 1.0f);
            HW(ffn_norm, "pre_feedforward_layernorm.weight", D, 0, 1, 1.0f);
            HW(post_ffn_norm, "post_feedforward_layernorm.weight", D, 0, 1, 1.0f);
        } else if (c->post_norms_only) {
            /* OLMo 2's post_attention_layernorm normalizes the attention output, not the MLP input */
            HW(post_attn_norm, "post_attention_layernorm.weight", D, 0, 1, 0.0f);
            HW(post_ffn_norm, "post_feedforward_layernorm.weight", D, 0, 1, 0.0f);
        } else {
            HW(ffn_norm, "post_attention_layernorm.weight", D, 0, 1, 0.0f);
        }
#undef HSPLIT
#undef HW
    }
    return QUIPU_OK;
}

/* llama3 rope scaling factors f_i (inv_freq_eff = inv_freq / f_i), from config.json */
static quipu_status llama3_freq_factors(quipu_model *m, json_t *cfg, quipu_error *err) {
    quipu_model_config *c = &m->cfg;
    json_t *sc = rope_params(cfg, "full_attention");
    if (!sc) sc = json_object_get(cfg, "rope_scaling");
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", m->path);
    hp_reader h = {.path = path, .prefix = "", .err = err};
    double factor = js_num(&h, sc, "factor", 8.0, HP_FACTOR), lo = js_num(&h, sc, "low_freq_factor", 1.0, HP_FACTOR),
           hi = js_num(&h, sc, "high_freq_factor", 4.0, HP_FACTOR);
    double orig = (double)js_int(&h, sc, "original_max_position_embeddings", 8192, HP_CTX);
    if (h.bad) return err->code;
    if (!(hi > lo))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: llama3 rope scaling needs high_freq_factor > low_freq_factor (%g, %g)", path, hi, lo);
    int64_t half = c->n_rot / 2;
    float *f = malloc((size_t)half * sizeof(float));
    if (!f) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    double low_wl = orig / lo, high_wl = orig / hi;
    for (int64_t i = 0; i < half; i++) {
        float inv = 1.0f / powf(c->rope_base, (float)(2 * i) / (float)c->n_rot);
        double wl = 2.0 * 3.14159265358979323846 / inv;
        double new_inv;
        if (wl < high_wl) new_inv = inv;
        else if (wl > low_wl) new_inv = inv / factor;
        else {
            double s = (orig / wl - lo) / (hi - lo);
            new_inv = (1.0 - s) * inv / factor + s * inv;
        }
        f[i] = (float)(inv / new_inv);
    }
    quipu_backend *b = m->backend;
    m->freq_factors = b->iface->buf_alloc(b, (size_t)half * sizeof(float), err);
    quipu_status st = m->freq_factors ? b->iface->buf_write(b, m->freq_factors, 0, f, (size_t)half * sizeof(float), err) : err->code;
    free(f);
    return st;
}

/* LongRoPE: inv_freq_eff = inv_freq / short_factor[i] (transformers: 1 / (factor * base^(2i/n_rot))).
 * The long factors apply only to sequences longer than original_max_position_embeddings, which
 * the forward pass refuses (cfg.rope_max_pos); config_from_json has checked both lists. */
static quipu_status longrope_freq_factors(quipu_model *m, json_t *cfg, quipu_error *err) {
    quipu_model_config *c = &m->cfg;
    json_t *sc = rope_params(cfg, "full_attention");
    if (!sc) sc = json_object_get(cfg, "rope_scaling");
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", m->path);
    hp_reader h = {.path = path, .prefix = "", .err = err};
    int64_t half = c->n_rot / 2;
    float *f = quipu_calloc_array((size_t)half, sizeof(float));
    if (!f) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    if (longrope_factors(&h, sc, "short_factor", half, f)) {
        free(f);
        return err->code;
    }
    quipu_backend *b = m->backend;
    m->freq_factors = b->iface->buf_alloc(b, (size_t)half * sizeof(float), err);
    quipu_status st = m->freq_factors ? b->iface->buf_write(b, m->freq_factors, 0, f, (size_t)half * sizeof(float), err) : err->code;
    free(f);
    return st;
}

/* ---------------------------------------------------------------- load / free */

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* DIR/config.json as a JSON object: a regular file of at most 16 MiB; a missing, unreadable or
 * malformed one is an error naming DIR/config.json (line:column for a syntax error). */
static quipu_status load_config_json(const char *dir, json_t **out, quipu_error *err) {
    char p[4096], *text = NULL;
    size_t len = 0;
    *out = NULL;
    snprintf(p, sizeof p, "%s/config.json", dir);
    struct stat sb;
    if (stat(p, &sb) != 0)
        return quipu_error_set(err, QUIPU_ERR_IO, "%s: missing: a Hugging Face checkpoint folder needs config.json (%s)", p, strerror(errno));
    if (quipu_read_file_max(p, QUIPU_READ_MAX_CONFIG_JSON, "config.json", &text, &len, err)) return err->code;
    json_error_t je;
    json_t *cfg = json_loadb(text, len, 0, &je);
    free(text);
    if (!cfg) return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s:%d:%d: cannot parse config.json: %s", p, je.line, je.column, je.text);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: config.json is not a JSON object", p);
    }
    *out = cfg;
    return QUIPU_OK;
}

quipu_status quipu_tokenizer_load_path(quipu_tokenizer **out, const char *path, quipu_error *err) {
    *out = NULL;
    if (is_dir(path)) {
        char p[4096];
        snprintf(p, sizeof p, "%s/tokenizer.json", path);
        return quipu_tokenizer_from_json(out, p, err);
    }
    if (quipu_gguf_is_gguf(path)) {
        quipu_gguf *g = NULL;
        if (quipu_gguf_open(&g, path, err)) return err->code;
        quipu_status st = quipu_tokenizer_from_gguf(out, g, err);
        quipu_gguf_free(g);
        return st;
    }
    return quipu_tokenizer_from_json(out, path, err);
}

static quipu_status load_weights(void *ctx, quipu_error *err) {
    loader *L = ctx;
    return L->src.gguf ? load_gguf_weights(L, err) : load_hf_weights(L, err);
}

/* A test hook (tests/test_faults.sh): QUIPU_FAULT_TRUNCATE=1 halves the weights file once it is
 * mapped, as another job rewriting it would, so that reading it faults. */
static void fault_truncate(const char *path, int is_dir) {
    const char *f = getenv("QUIPU_FAULT_TRUNCATE");
    if (!f || strcmp(f, "1")) return;
    char p[4200];
    snprintf(p, sizeof p, is_dir ? "%s/model.safetensors" : "%s", path);
    struct stat st;
    if (stat(p, &st) == 0 && truncate(p, st.st_size / 2) != 0) quipu_log(QUIPU_LOG_WARN, "%s: QUIPU_FAULT_TRUNCATE: cannot truncate", p);
}

quipu_status quipu_model_load(quipu_model **out, const char *path, quipu_backend *b, quipu_error *err) {
    *out = NULL;
    quipu_model *m = calloc(1, sizeof *m);
    loader L = {0};
    json_t *cfg = NULL;
    if (!m) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    m->path = strdup(path);
    m->backend = b;
    m->wtype = quipu_backend_weight_type(b);
    L.m = m;
    L.src.path = path;
    if (is_dir(path)) {
        if (load_config_json(path, &cfg, err)) goto fail;
        if (config_from_json(m, path, cfg, err)) goto fail;
        if (quipu_safetensors_open(&L.src.st, path, err)) goto fail;
        if (quipu_tokenizer_load_path(&m->tok, path, err)) goto fail;
        {
            json_t *c = json_object_get(cfg, "text_config");
            if (!json_is_object(c) || json_object_get(cfg, "bos_token_id")) c = cfg;
            /* eos_token_id may be a list (Llama 3): then the tokenizer's own is kept */
            char p[4096];
            snprintf(p, sizeof p, "%s/config.json", path);
            hp_reader h = {.path = p, .prefix = "", .err = err};
            json_t *bos = json_object_get(c, "bos_token_id"), *eos = json_object_get(c, "eos_token_id");
            int64_t bos_id = json_is_array(bos) ? -1 : js_int(&h, c, "bos_token_id", -1, HP_TOKEN);
            int64_t eos_id = json_is_array(eos) ? -1 : js_int(&h, c, "eos_token_id", -1, HP_TOKEN);
            if (h.bad) goto fail;
            quipu_tokenizer_set_default_specials(m->tok, (int32_t)bos_id, (int32_t)eos_id);
        }
    } else {
        if (!quipu_gguf_is_gguf(path)) {
            quipu_gguf *probe = NULL;
            if (quipu_gguf_open(&probe, path, err) == QUIPU_OK) quipu_gguf_free(probe);
            else goto fail;
        }
        if (quipu_gguf_open(&L.src.gguf, path, err)) goto fail;
        if (config_from_gguf(m, L.src.gguf, err)) goto fail;
        if (quipu_tokenizer_from_gguf(&m->tok, L.src.gguf, err)) goto fail;
        m->file_bytes = L.src.gguf->map.size;
    }
    m->layers = quipu_calloc_array((size_t)m->cfg.n_layer, sizeof *m->layers);
    if (!m->layers) {
        quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (L.src.gguf && blocks_plan(&L, err)) goto fail;
    if (m->cfg.n_vocab > 0 && tp_plan(m, b->group, err)) goto fail; /* safetensors: once the embedding gives the vocabulary */
    if (m->blocks < 0) m->blocks = 0;
    fault_truncate(path, L.src.gguf == NULL);
    if (quipu_guard_sigbus(path, load_weights, &L, err)) {
        if (L.inflight) b->iface->buf_free(b, L.inflight);
        free(L.inflight_host);
        goto fail;
    }
    if (m->tp_rank > 0) /* a row-parallel projection's bias is added once, by member 0 */
        for (int64_t l = 0; l < m->cfg.n_layer; l++) {
            b->iface->buf_free(b, m->layers[l].bo);
            b->iface->buf_free(b, m->layers[l].b_down);
            m->layers[l].bo = m->layers[l].b_down = NULL;
        }
    if (m->cfg.alibi && alibi_upload(m, err)) goto fail;
    if (cfg && m->cfg.has_freq_factors == 1 && llama3_freq_factors(m, cfg, err)) goto fail;
    if (cfg && m->cfg.has_freq_factors == 2 && longrope_freq_factors(m, cfg, err)) goto fail;
    if (m->freq_factors && !m->cfg.has_freq_factors) m->cfg.has_freq_factors = 1;
    {
        /* The tokenizer must fit the embedding. For a GGUF the file's own token list is what
         * counts: transformers-style default specials a tokenizer appends (Gemma's <mask>) only
         * appear for literal special text, and the forward pass rejects such ids clearly. */
        quipu_tokenizer_info ti;
        quipu_tokenizer_get_info(m->tok, &ti);
        int64_t n_tok = ti.n_vocab;
        const quipu_gguf_kv *tk = L.src.gguf ? quipu_gguf_find(L.src.gguf, "tokenizer.ggml.tokens") : NULL;
        if (tk && tk->type == QUIPU_GGUF_ARRAY) n_tok = (int64_t)tk->arr_count;
        if (n_tok > m->cfg.n_vocab) {
            quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: the tokenizer has %lld tokens but the model's embedding has only %lld rows (wrong tokenizer for this model?)",
                            path, (long long)n_tok, (long long)m->cfg.n_vocab);
            goto fail;
        }
    }
    if (m->cfg.masked_lm) {
        /* the token PLL scoring masks with: BERT's [MASK], RoBERTa's / XLM-R's / CamemBERT's <mask> */
        static const char *const masks[] = {"[MASK]", "<mask>"};
        m->mask_id = -1;
        for (size_t i = 0; i < 2 && m->mask_id < 0; i++) m->mask_id = quipu_tokenizer_token_id(m->tok, masks[i], strlen(masks[i]));
        if (m->mask_id < 0 || m->mask_id >= m->cfg.n_vocab) {
            quipu_error_set(err, QUIPU_ERR_FORMAT, "%s/tokenizer.json: a masked LM needs a mask token ([MASK] or <mask>), and this tokenizer has none", path);
            goto fail;
        }
    }
    weights_end(m);
    free(L.tmp);
    free(L.half);
    json_decref(cfg);
    /* the weights are copied out: the file map is no longer needed */
    quipu_gguf_free(L.src.gguf);
    quipu_safetensors_free(L.src.st);
    if (m->n_qw) {
        uint64_t kept = 0;
        for (size_t i = 0; i < m->n_qw; i++) kept += m->qw[i].row_bytes * (uint64_t)m->qw[i].rows;
        quipu_log(QUIPU_LOG_DEBUG, "%s: %zu layer matrices kept in their GGUF blocks (%.1f MiB on this %s, dequantized one at a time)", m->path,
                  m->n_qw, (double)kept / (1 << 20), m->tp_size > 1 ? "tensor-parallel member" : "device");
    }
    *out = m;
    return QUIPU_OK;
fail:
    if (m) weights_end(m);
    free(L.tmp);
    free(L.half);
    json_decref(cfg);
    quipu_gguf_free(L.src.gguf);
    quipu_safetensors_free(L.src.st);
    quipu_model_free(m);
    return err->code ? err->code : QUIPU_ERR_INTERNAL;
}

void quipu_model_free(quipu_model *m) {
    if (!m) return;
    quipu_model_release_state(m);
    quipu_backend *b = m->backend;
    if (m->layers) {
        for (int64_t l = 0; l < m->cfg.n_layer; l++) {
            quipu_layer_weights *lw = &m->layers[l];
            quipu_buf ***ex[] = {&lw->exp_gate, &lw->exp_up, &lw->exp_down};
            for (size_t k = 0; k < sizeof ex / sizeof *ex; k++) { /* the expert arrays, then every buffer of the layer */
                for (int64_t e = 0; *ex[k] && e < m->cfg.n_expert; e++) b->iface->buf_free(b, (*ex[k])[e]);
                free(*ex[k]);
                *ex[k] = NULL;
            }
            quipu_buf **f = (quipu_buf **)&m->layers[l];
            size_t nf = sizeof(quipu_layer_weights) / sizeof(quipu_buf *);
            for (size_t i = 0; i < nf; i++) b->iface->buf_free(b, f[i]);
        }
        free(m->layers);
    }
    if (m->lm_head != m->tok_embd) b->iface->buf_free(b, m->lm_head);
    b->iface->buf_free(b, m->tok_embd);
    b->iface->buf_free(b, m->pos_embd);
    quipu_buf *mlm[] = {m->embd_norm, m->embd_norm_b, m->mlm_dense, m->mlm_dense_b, m->mlm_norm, m->mlm_norm_b};
    for (size_t i = 0; i < sizeof mlm / sizeof *mlm; i++) b->iface->buf_free(b, mlm[i]);
    b->iface->buf_free(b, m->out_norm);
    b->iface->buf_free(b, m->out_norm_b);
    b->iface->buf_free(b, m->freq_factors);
    b->iface->buf_free(b, m->alibi);
    free(m->qw);
    quipu_tokenizer_free(m->tok);
    free(m->path);
    free(m);
}

/* ---------------------------------------------------------------- inspect */

quipu_status quipu_model_describe(const char *path, FILE *out, quipu_error *err) {
    quipu_model tmp = {0};
    quipu_gguf *g = NULL;
    quipu_safetensors *st = NULL;
    json_t *cfg = NULL, *doc = json_object(), *types = json_object(), *tokj = json_object();
    quipu_tokenizer *tok = NULL;
    quipu_status rc = QUIPU_OK;
    tmp.path = (char *)path;
    uint64_t n_tensors = 0, n_elems = 0, file_bytes = 0;
    if (is_dir(path)) {
        if ((rc = load_config_json(path, &cfg, err))) goto done;
        if ((rc = config_from_json(&tmp, path, cfg, err))) goto done;
        if ((rc = quipu_safetensors_open(&st, path, err))) goto done;
        for (uint64_t i = 0; i < st->n_tensors; i++) {
            const quipu_st_tensor *t = &st->tensors[i];
            uint64_t ne = 1;
            for (uint32_t d = 0; d < t->n_dims; d++) ne *= t->shape[d];
            n_elems += ne;
            file_bytes += t->nbytes;
            json_t *cnt = json_object_get(types, t->dtype);
            json_object_set_new(types, t->dtype, json_integer(cnt ? json_integer_value(cnt) + 1 : 1));
            if (!strcmp(t->name, "model.embed_tokens.weight") || !strcmp(t->name, "wte.weight") || !strcmp(t->name, "transformer.wte.weight") ||
                !strcmp(t->name, "gpt_neox.embed_in.weight") || !strcmp(t->name, "bert.embeddings.word_embeddings.weight") ||
                !strcmp(t->name, "roberta.embeddings.word_embeddings.weight") || !strcmp(t->name, "embeddings.word_embeddings.weight") ||
                !strcmp(t->name, "transformer.word_embeddings.weight") || !strcmp(t->name, "word_embeddings.weight"))
                tmp.cfg.n_vocab = (int64_t)t->shape[0];
        }
        n_tensors = st->n_tensors;
    } else {
        if ((rc = quipu_gguf_open(&g, path, err))) goto done;
        if ((rc = config_from_gguf(&tmp, g, err))) goto done;
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const quipu_gguf_tensor *t = &g->tensors[i];
            uint64_t ne = 1;
            for (uint32_t d = 0; d < t->n_dims; d++) ne *= t->ne[d];
            n_elems += ne;
            const char *tn = quipu_dtype_name(t->type);
            json_t *cnt = json_object_get(types, tn ? tn : "unknown");
            json_object_set_new(types, tn ? tn : "unknown", json_integer(cnt ? json_integer_value(cnt) + 1 : 1));
        }
        n_tensors = g->n_tensors;
        file_bytes = g->map.size;
    }
    if ((rc = g ? quipu_tokenizer_from_gguf(&tok, g, err) : quipu_tokenizer_load_path(&tok, path, err))) goto done;
    {
        const quipu_model_config *c = &tmp.cfg;
        quipu_tokenizer_info ti;
        quipu_tokenizer_get_info(tok, &ti);
        static const char *kinds[] = {"bpe-bytelevel", "spm", "wordpiece", "unigram"};
        json_object_set_new(tokj, "kind", json_string(kinds[ti.kind]));
        json_object_set_new(tokj, "model", json_string(ti.model_name ? ti.model_name : ""));
        json_object_set_new(tokj, "pre", json_string(ti.pre_name ? ti.pre_name : ""));
        json_object_set_new(tokj, "n_vocab", json_integer(ti.n_vocab));
        int32_t ids[4] = {ti.bos_id, ti.eos_id, ti.unk_id, ti.pad_id};
        const char *names[4] = {"bos", "eos", "unk", "pad"};
        for (int i = 0; i < 4; i++) {
            if (ids[i] < 0) {
                json_object_set_new(tokj, names[i], json_null());
                continue;
            }
            const char *txt = quipu_tokenizer_token_text(tok, ids[i]);
            json_t *sp = json_object();
            json_object_set_new(sp, "id", json_integer(ids[i]));
            json_object_set_new(sp, "text", txt ? json_string(txt) : json_null());
            json_object_set_new(tokj, names[i], sp);
        }
        json_object_set_new(tokj, "add_bos", json_boolean(ti.add_bos));
        json_object_set_new(tokj, "add_eos", json_boolean(ti.add_eos));
        json_object_set_new(doc, "path", json_string(path));
        json_object_set_new(doc, "format", json_string(c->source));
        json_object_set_new(doc, "architecture", json_string(c->arch_name));
        json_object_set_new(doc, "family", json_string(quipu_arch_name(c->arch)));
        /* what quipu scores with it: a causal LM's log-likelihoods, or a masked LM's pseudo-log-likelihood */
        json_object_set_new(doc, "objective", json_string(c->masked_lm ? "masked_lm" : "causal_lm"));
        json_object_set_new(doc, "scoring", json_string(c->masked_lm ? "pseudo-log-likelihood: pairs by the CrowS-Pairs metric (shared tokens "
                                                                       "masked one at a time), other items by the all-tokens PLL"
                                                                     : "log-likelihood of the continuation given the context"));
        json_t *hp = json_object();
        json_object_set_new(hp, "n_vocab", json_integer(c->n_vocab));
        json_object_set_new(hp, "n_embd", json_integer(c->n_embd));
        json_object_set_new(hp, "n_layer", json_integer(c->n_layer));
        json_object_set_new(hp, "n_head", json_integer(c->n_head));
        json_object_set_new(hp, "n_head_kv", json_integer(c->n_head_kv));
        json_object_set_new(hp, "head_dim", json_integer(c->head_dim));
        json_object_set_new(hp, "n_ff", json_integer(c->n_ff));
        json_object_set_new(hp, "n_ctx", json_integer(c->n_ctx));
        json_object_set_new(hp, "norm", json_string(c->norm_kind == QUIPU_NORM_RMS ? "rms" : "layer"));
        json_object_set_new(hp, "norm_eps", json_real(c->norm_eps));
        static const char *ropes[] = {"none", "norm", "neox"};
        json_object_set_new(hp, "rope", json_string(ropes[c->rope_kind]));
        json_object_set_new(hp, "rope_base", json_real(c->rope_base));
        json_object_set_new(hp, "rope_base_local", json_real(c->rope_base_local));
        json_object_set_new(hp, "rope_linear_factor", json_real(1.0 / c->rope_pos_scale));
        json_object_set_new(hp, "n_rot", json_integer(c->n_rot));
        static const char *rscale[] = {"none", "llama3", "longrope"};
        json_object_set_new(hp, "rope_scaling", json_string(rscale[c->has_freq_factors >= 0 && c->has_freq_factors <= 2 ? c->has_freq_factors : 0]));
        static const char *qkn[] = {"none", "per_head", "whole_projection"};
        json_object_set_new(hp, "qk_norm", json_string(qkn[c->qk_norm >= 0 && c->qk_norm <= 2 ? c->qk_norm : 0]));
        json_object_set_new(hp, "norms", json_string(c->post_norms_only ? "post" : c->gemma_norms ? "pre+post" : "pre"));
        json_object_set_new(hp, "parallel_residual", json_boolean(c->parallel_residual));
        json_object_set_new(hp, "parallel_norms", json_integer(c->parallel_residual == 2 ? 1 : c->parallel_residual ? 2 : 0));
        json_object_set_new(hp, "alibi", json_boolean(c->alibi));
        json_object_set_new(hp, "embedding_norm", json_boolean(c->embd_norm));
        static const char *qkvl[] = {"separate", "blocks", "per_head", "per_group"};
        json_object_set_new(hp, "qkv_layout", json_string(qkvl[c->qkv_layout <= QUIPU_QKV_PER_GROUP ? c->qkv_layout : 0]));
        json_object_set_new(hp, "linear_bias", json_boolean(c->linear_bias));
        json_object_set_new(hp, "attn_softcap", json_real(c->attn_softcap));
        json_object_set_new(hp, "final_softcap", json_real(c->final_softcap));
        json_object_set_new(hp, "sliding_window", json_integer(c->sliding_window));
        int n_sliding = 0;
        for (int64_t i = 0; i < c->n_layer; i++) n_sliding += c->layer_sliding[i];
        json_object_set_new(hp, "sliding_layers", json_integer(n_sliding));
        json_object_set_new(hp, "attn_scale", json_real(c->attn_scale));
        json_object_set_new(hp, "embd_scale", json_real(c->embd_scale));
        json_object_set_new(hp, "tied_embeddings", json_boolean(c->tied_embeddings));
        int n_moe = 0;
        for (int64_t i = 0; i < c->n_layer; i++) n_moe += c->layer_moe[i];
        json_object_set_new(hp, "experts", json_integer(c->n_expert));
        json_object_set_new(hp, "experts_per_token", json_integer(c->n_expert_used));
        json_object_set_new(hp, "expert_ff", json_integer(c->n_ff_exp));
        json_object_set_new(hp, "shared_expert_ff", json_integer(c->n_ff_shexp));
        json_object_set_new(hp, "expert_weights_norm", json_boolean(c->expert_norm));
        json_object_set_new(hp, "moe_layers", json_integer(n_moe));
        json_object_set_new(doc, "hyperparameters", hp);
        json_t *tj = json_object();
        json_object_set_new(tj, "count", json_integer((json_int_t)n_tensors));
        json_object_set_new(tj, "elements", json_integer((json_int_t)n_elems));
        json_object_set(tj, "types", types);
        json_object_set_new(doc, "tensors", tj);
        json_object_set(doc, "tokenizer", tokj);
        json_t *mem = json_object();
        json_object_set_new(mem, "file_bytes", json_integer((json_int_t)file_bytes));
        json_object_set_new(mem, "fp32_weight_bytes", json_integer((json_int_t)(n_elems * 4)));
        json_object_set_new(mem, "per_gpu", gpu_memory_plan(c));
        json_object_set_new(doc, "memory", mem);
        json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
    }
done:
    quipu_tokenizer_free(tok);
    quipu_gguf_free(g);
    quipu_safetensors_free(st);
    json_decref(cfg);
    json_decref(doc);
    json_decref(types);
    json_decref(tokj);
    return rc;
}
