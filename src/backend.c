/* backend.c — the backend registry: which backends this quipu was built with, what each
 * computes in (dtypes: the first is the default), whether its results are batch invariant, and
 * their start; the host's fp32 -> bf16 / f16 rounding the loader stores weights with. A config
 * naming a backend this build lacks, or a dtype it would not honour, is refused at config time
 * (quipu_backend_check); a backend missing an op the forward pass needs is refused at start
 * with the op's name, never called through a NULL pointer. */
#include "backend.h"
#include "quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef QUIPU_WITH_GPU
quipu_status quipu_backend_gpu_init(quipu_backend **out, quipu_error *err);
int quipu_gpu_device_count(void);
#endif

typedef struct backend_entry {
    const char *name;
    const char *build_option; /* the CMake option that builds it */
    int built;
    const char *dtypes[4];    /* what it computes in; "auto" picks the first. A GPU's bf16 / f16 means
                               * weight matrices in that type, activations and sums in fp32 */
    int batch_invariant;
} backend_entry;

static const backend_entry registry[] = {
    {"cpu", NULL, 1, {"f32"}, 1},
#ifdef QUIPU_WITH_CUDA
    {"cuda", "-DQUIPU_CUDA=ON", 1, {"bf16", "f16", "f32"}, 1},
#else
    {"cuda", "-DQUIPU_CUDA=ON", 0, {"bf16", "f16", "f32"}, 1},
#endif
#ifdef QUIPU_WITH_HIP
    {"hip", "-DQUIPU_HIP=ON", 1, {"bf16", "f16", "f32"}, 1},
#else
    {"hip", "-DQUIPU_HIP=ON", 0, {"bf16", "f16", "f32"}, 1},
#endif
};
enum { N_BACKENDS = sizeof registry / sizeof *registry };

static const backend_entry *find(const char *name) {
    for (int i = 0; i < N_BACKENDS; i++)
        if (!strcmp(registry[i].name, name ? name : "cpu")) return &registry[i];
    return NULL;
}

int quipu_backend_built(const char *name) {
    const backend_entry *e = find(name);
    return e && e->built;
}

const char *quipu_backend_built_list(void) {
    static char buf[64];
    buf[0] = '\0';
    for (int i = 0; i < N_BACKENDS; i++)
        if (registry[i].built) {
            if (buf[0]) strcat(buf, ", ");
            strcat(buf, registry[i].name);
        }
    return buf;
}

const char *quipu_backend_dtype(const char *name, const char *dtype) {
    const backend_entry *e = find(name);
    if (!e) return NULL;
    if (!dtype || !strcmp(dtype, "auto")) return e->dtypes[0];
    for (int i = 0; i < 4 && e->dtypes[i]; i++)
        if (!strcmp(e->dtypes[i], dtype)) return e->dtypes[i];
    return NULL;
}

/* -1: unknown or not built; -2: dtype */
int quipu_backend_check(const char *name, const char *dtype, char *why, size_t why_len) {
    const backend_entry *e = find(name);
    if (!e) {
        snprintf(why, why_len, "unknown backend '%s' (expected cpu, cuda or hip)", name);
        return -1;
    }
    if (!e->built) {
        snprintf(why, why_len,
                 "this quipu was built without the %s backend (built: %s); rebuild with %s on a machine with its toolkit "
                 "(docs/install.md)",
                 e->name, quipu_backend_built_list(), e->build_option);
        return -1;
    }
    if (!quipu_backend_dtype(name, dtype)) {
        char list[64] = "";
        for (int i = 0; i < 4 && e->dtypes[i]; i++) {
            if (i) strcat(list, ", ");
            strcat(list, e->dtypes[i]);
        }
        snprintf(why, why_len, "the %s backend computes in %s only; dtype '%s' would not be honoured (use auto or %s)", e->name, list, dtype,
                 e->dtypes[0]);
        return -2;
    }
    return 0;
}

/* the memory calls the forward pass needs; a missing op is refused when called (quipu_op_*) */
static quipu_status check_ops(quipu_backend *b, quipu_error *err) {
    const quipu_backend_i *i = b->iface;
    struct {
        const char *name;
        int present;
    } ops[] = {{"buf_alloc", !!i->buf_alloc}, {"buf_free", !!i->buf_free},   {"buf_size", !!i->buf_size},
               {"buf_write", !!i->buf_write}, {"buf_read", !!i->buf_read},   {"sync", !!i->sync}};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
        if (!ops[k].present)
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "backend '%s': operation '%s' is unsupported on this backend", i->name,
                                   ops[k].name);
    if (i->lp_block <= 0) return quipu_error_set(err, QUIPU_ERR_INTERNAL, "backend '%s' declares no log-prob block size", i->name);
    return QUIPU_OK;
}

quipu_status quipu_backend_init(quipu_backend **out, const char *name, int n_threads, quipu_error *err) {
    *out = NULL;
    char why[512];
    if (quipu_backend_check(name ? name : "cpu", "auto", why, sizeof why))
        return quipu_error_set(err, find(name) ? QUIPU_ERR_UNSUPPORTED : QUIPU_ERR_INVALID, "%s", why);
    quipu_status st;
    if (!name || !strcmp(name, "cpu")) {
        st = quipu_backend_cpu_init(out, n_threads, err);
    } else {
#ifdef QUIPU_WITH_GPU
        st = quipu_backend_gpu_init(out, err);
#else
        st = quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "backend '%s' is not built into this quipu", name);
#endif
    }
    if (st) return st;
    (*out)->dtype = quipu_backend_dtype(name ? name : "cpu", "auto");
    if ((st = check_ops(*out, err))) {
        quipu_backend_free(*out);
        *out = NULL;
    }
    return st;
}

quipu_status quipu_backend_set_dtype(quipu_backend *b, const char *dtype, quipu_error *err) {
    char why[512];
    if (quipu_backend_check(b->iface->name, dtype ? dtype : "auto", why, sizeof why))
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s", why);
    b->dtype = quipu_backend_dtype(b->iface->name, dtype);
    return QUIPU_OK;
}

quipu_etype quipu_backend_weight_type(const quipu_backend *b) {
    if (b && b->dtype && !strcmp(b->dtype, "bf16")) return QUIPU_E_BF16;
    if (b && b->dtype && !strcmp(b->dtype, "f16")) return QUIPU_E_F16;
    return QUIPU_E_F32;
}

/* 1 if backend b computes in the float type t (a weight of that type is one it can read) */
static int backend_has_type(const quipu_backend *b, quipu_etype t) {
    const backend_entry *e = find(b->iface->name);
    if (!e) return t == QUIPU_E_F32;
    for (int i = 0; i < 4 && e->dtypes[i]; i++)
        if (!strcmp(e->dtypes[i], quipu_etype_name(t))) return 1;
    return 0;
}

int quipu_backend_gpu_count(void) {
#ifdef QUIPU_WITH_GPU
    return quipu_gpu_device_count();
#else
    return 0;
#endif
}

void quipu_backend_free(quipu_backend *b) {
    if (b && b->iface && b->iface->free) b->iface->free(b);
}

/* ---------------------------------------------------------------- types and views */

size_t quipu_etype_size(quipu_etype t) {
    switch (t) {
    case QUIPU_E_F32: return 4;
    case QUIPU_E_F16: return 2;
    case QUIPU_E_BF16: return 2;
    case QUIPU_E_I32: return 4;
    case QUIPU_E_F64: return 8;
    case QUIPU_E_U8: return 1;
    case QUIPU_E_LP: return sizeof(quipu_lp_partial);
    }
    return 0;
}

const char *quipu_etype_name(quipu_etype t) {
    static const char *names[] = {"f32", "f16", "bf16", "i32", "f64", "u8", "lp"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

/* ---------------------------------------------------------------- half precision */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t quipu_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* NaN: quiet, never Inf */
    /* add just under half of the dropped part's unit, plus the kept part's lowest bit: ties go
     * to the even neighbour; a carry moves into the exponent (and past the largest, to Inf) */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float quipu_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t quipu_f32_to_f16(float f) {
    uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000u;
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN */
    if (u >= 0x38800000u) {                                 /* >= 2^-14: a normal f16, or past it */
        uint32_t v = u - (112u << 23);                      /* exponent bias 127 -> 15 */
        v += 0x0fffu + ((v >> 13) & 1u);                    /* round the 23-bit fraction to 10, ties to even */
        v >>= 13;
        return (uint16_t)(sign | (v >= 0x7c00u ? 0x7c00u : v)); /* past 65504 (and Inf): Inf */
    }
    if (u <= 0x33000000u) return (uint16_t)sign; /* <= 2^-25, half the smallest subnormal: ties to 0 */
    /* a subnormal f16: the value in units of 2^-24, rounded to nearest, ties to even */
    uint32_t e = u >> 23, m = (u & 0x7fffffu) | 0x800000u, shift = 126u - e; /* 14 .. 24 */
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) r++; /* r == 0x400 is the smallest normal, correctly */
    return (uint16_t)(sign | r);
}

float quipu_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) { /* zero or subnormal: m * 2^-24, exact in fp32 */
        float v = (float)m * 0x1p-24f;
        return sign ? -v : v;
    }
    if (e == 31) return bits_f32(sign | 0x7f800000u | (m << 13));
    return bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

size_t quipu_convert_f32(quipu_etype t, const float *src, void *dst, size_t n) {
    size_t overflow = 0;
    if (t == QUIPU_E_F32) {
        memcpy(dst, src, n * sizeof(float));
        return 0;
    }
    uint16_t *d = dst;
    for (size_t i = 0; i < n; i++) {
        d[i] = t == QUIPU_E_BF16 ? quipu_f32_to_bf16(src[i]) : quipu_f32_to_f16(src[i]);
        if (isfinite(src[i]) && (d[i] & 0x7fffu) == (t == QUIPU_E_BF16 ? 0x7f80u : 0x7c00u)) overflow++;
    }
    return overflow;
}

quipu_view quipu_view_of(quipu_buf *buf, quipu_etype type, int64_t rows, int64_t cols) {
    quipu_view v = {.buf = buf, .off = 0, .type = type, .rows = rows, .cols = cols, .ld = cols};
    return v;
}

quipu_view quipu_view_cols(quipu_view v, int64_t col0, int64_t n) {
    v.off += (size_t)col0 * quipu_etype_size(v.type);
    v.cols = n;
    return v;
}

quipu_view quipu_view_rows(quipu_view v, int64_t row0, int64_t n) {
    v.off += (size_t)(row0 * v.ld) * quipu_etype_size(v.type);
    v.rows = n;
    return v;
}

quipu_view quipu_view_groups(quipu_view v, int64_t group) {
    if (group > 0 && v.ld == v.cols && v.cols % group == 0) {
        v.rows *= v.cols / group;
        v.cols = v.ld = group;
    } else {
        v.rows = -1; /* rejected by the op's check */
    }
    return v;
}

/* ---------------------------------------------------------------- checked ops */

#define QUIPU_OP_FAIL(...) return quipu_error_set(err, QUIPU_ERR_INTERNAL, __VA_ARGS__)

/* a view the op may read or write: present (unless optional), of the type, inside its buffer */
static quipu_status check_view(quipu_backend *b, const char *op, const char *what, const quipu_view *v, quipu_etype type, int optional,
                               quipu_error *err) {
    if (!v->buf) {
        if (optional) return QUIPU_OK;
        QUIPU_OP_FAIL("backend '%s': %s: %s is missing", b->iface->name, op, what);
    }
    if (v->type != type)
        QUIPU_OP_FAIL("backend '%s': %s: %s is %s, expected %s", b->iface->name, op, what, quipu_etype_name(v->type), quipu_etype_name(type));
    if (v->rows < 0 || v->cols < 0 || v->ld < v->cols)
        QUIPU_OP_FAIL("backend '%s': %s: %s has a bad shape %lld x %lld (ld %lld)", b->iface->name, op, what, (long long)v->rows,
                      (long long)v->cols, (long long)v->ld);
    if (v->rows == 0 || v->cols == 0) return QUIPU_OK;
    size_t es = quipu_etype_size(v->type), cap = b->iface->buf_size(v->buf);
    /* the last element's end: off + ((rows - 1) * ld + cols) * es, without overflow */
    uint64_t n = (uint64_t)(v->rows - 1);
    if (n > (UINT64_MAX - (uint64_t)v->cols) / (uint64_t)(v->ld ? v->ld : 1)) goto out;
    uint64_t elems = n * (uint64_t)v->ld + (uint64_t)v->cols;
    if (elems > (UINT64_MAX - v->off) / es) goto out;
    if (v->off + elems * es <= cap) return QUIPU_OK;
out:
    QUIPU_OP_FAIL("backend '%s': %s: %s (%lld x %lld, ld %lld, at byte %zu) runs past its buffer of %zu bytes", b->iface->name, op, what,
                  (long long)v->rows, (long long)v->cols, (long long)v->ld, v->off, cap);
}

/* a weight the op reads: F32, or BF16 / F16 when the backend computes in that type */
static quipu_status check_weight(quipu_backend *b, const char *op, const char *what, const quipu_view *v, quipu_error *err) {
    if (v->buf && (v->type == QUIPU_E_BF16 || v->type == QUIPU_E_F16)) {
        if (!backend_has_type(b, v->type))
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED,
                                   "backend '%s': %s: %s is %s, but this backend computes in f32 only: its weights must be f32",
                                   b->iface->name, op, what, quipu_etype_name(v->type));
        return check_view(b, op, what, v, v->type, 0, err);
    }
    if (v->buf && v->type != QUIPU_E_F32)
        QUIPU_OP_FAIL("backend '%s': %s: %s is %s, expected f32, bf16 or f16", b->iface->name, op, what, quipu_etype_name(v->type));
    return check_view(b, op, what, v, QUIPU_E_F32, 0, err);
}

#define WEIGHT(what, v)                                                                                                            \
    do {                                                                                                                           \
        quipu_status s_ = check_weight(b, OP, what, &(v), err);                                                                    \
        if (s_) return s_;                                                                                                         \
    } while (0)
#define VIEW(what, v, type, optional)                                                                                              \
    do {                                                                                                                           \
        quipu_status s_ = check_view(b, OP, what, &(v), type, optional, err);                                                      \
        if (s_) return s_;                                                                                                         \
    } while (0)
#define NEED(cond, ...)                                                                                                            \
    do {                                                                                                                           \
        if (!(cond)) QUIPU_OP_FAIL(__VA_ARGS__);                                                                                   \
    } while (0)
#define HAS(fn)                                                                                                                    \
    do {                                                                                                                           \
        if (!b->iface->fn)                                                                                                         \
            return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "backend '%s': operation '%s' is unsupported on this backend",   \
                                   b->iface->name, OP);                                                                            \
    } while (0)

quipu_status quipu_op_embed(quipu_backend *b, const quipu_embed_args *a, quipu_error *err) {
    const char *OP = "embed";
    HAS(embed);
    VIEW("out", a->out, QUIPU_E_F32, 0);
    WEIGHT("table", a->table);
    VIEW("ids", a->ids, QUIPU_E_I32, 0);
    NEED(a->ids.rows == 1 && a->ids.cols == a->out.rows && a->table.cols == a->out.cols, "embed: shapes disagree");
    return b->iface->embed(b, a, err);
}

quipu_status quipu_op_add(quipu_backend *b, const quipu_add_args *a, quipu_error *err) {
    const char *OP = "add";
    HAS(add);
    VIEW("y", a->y, QUIPU_E_F32, 0);
    VIEW("x", a->x, QUIPU_E_F32, 0);
    NEED(a->x.rows == a->y.rows && a->x.cols == a->y.cols, "add: shapes disagree");
    return b->iface->add(b, a, err);
}

quipu_status quipu_op_matmul(quipu_backend *b, const quipu_matmul_args *a, quipu_error *err) {
    const char *OP = "matmul";
    HAS(matmul);
    VIEW("x", a->x, QUIPU_E_F32, 0);
    WEIGHT("w", a->w);
    VIEW("bias", a->bias, QUIPU_E_F32, 1);
    VIEW("y", a->y, QUIPU_E_F32, 0);
    VIEW("ws", a->ws, QUIPU_E_U8, 1);
    NEED(a->x.cols == a->w.cols && a->y.rows == a->x.rows && a->y.cols == a->w.rows && a->w.ld == a->w.cols,
         "matmul: shapes disagree (x %lld x %lld, w %lld x %lld, y %lld x %lld)", (long long)a->x.rows, (long long)a->x.cols,
         (long long)a->w.rows, (long long)a->w.cols, (long long)a->y.rows, (long long)a->y.cols);
    NEED(!a->bias.buf || (a->bias.rows == 1 && a->bias.cols == a->w.rows), "matmul: bias shape");
    return b->iface->matmul(b, a, err);
}

quipu_status quipu_op_norm(quipu_backend *b, const quipu_norm_args *a, quipu_error *err) {
    const char *OP = "norm";
    HAS(norm);
    VIEW("x", a->x, QUIPU_E_F32, 0);
    VIEW("y", a->y, QUIPU_E_F32, 0);
    VIEW("w", a->w, QUIPU_E_F32, 1);
    VIEW("b", a->b, QUIPU_E_F32, 1);
    VIEW("residual", a->residual, QUIPU_E_F32, 1);
    int64_t g = a->group > 0 ? a->group : a->x.cols;
    NEED(g > 0 && a->x.cols % g == 0 && a->y.rows == a->x.rows && a->y.cols == a->x.cols, "norm: shapes disagree");
    NEED((!a->w.buf || a->w.cols == g) && (!a->b.buf || a->b.cols == g), "norm: weight width %lld, group %lld", (long long)a->w.cols, (long long)g);
    NEED(!a->residual.buf || (a->residual.rows == a->x.rows && a->residual.cols == a->x.cols), "norm: residual shape");
    return b->iface->norm(b, a, err);
}

quipu_status quipu_op_rope(quipu_backend *b, const quipu_rope_args *a, quipu_error *err) {
    const char *OP = "rope";
    HAS(rope);
    VIEW("x", a->x, QUIPU_E_F32, 0);
    VIEW("pos", a->pos, QUIPU_E_I32, 0);
    VIEW("freq_factors", a->freq_factors, QUIPU_E_F32, 1);
    NEED(a->x.cols == a->n_heads * a->head_dim && a->pos.cols == a->x.rows && a->n_rot >= 0 && a->n_rot <= a->head_dim && a->n_rot % 2 == 0,
         "rope: shapes disagree");
    NEED(!a->freq_factors.buf || a->freq_factors.cols >= a->n_rot / 2, "rope: too few frequency factors");
    return b->iface->rope(b, a, err);
}

quipu_status quipu_op_attention(quipu_backend *b, const quipu_attention_args *a, quipu_error *err) {
    const char *OP = "attention";
    HAS(attention);
    int64_t T = a->q.rows, H = a->n_heads, HKV = a->n_heads_kv, HD = a->head_dim;
    VIEW("q", a->q, QUIPU_E_F32, 0);
    VIEW("k", a->k, QUIPU_E_F32, 0);
    VIEW("v", a->v, QUIPU_E_F32, 0);
    VIEW("out", a->out, QUIPU_E_F32, 0);
    VIEW("pos", a->lay.pos, QUIPU_E_I32, 0);
    VIEW("seg_lo", a->lay.seg_lo, QUIPU_E_I32, 0);
    VIEW("seg_hi", a->lay.seg_hi, QUIPU_E_I32, 0);
    VIEW("pre_lo", a->lay.pre_lo, QUIPU_E_I32, 0);
    VIEW("pre_hi", a->lay.pre_hi, QUIPU_E_I32, 0);
    VIEW("alibi", a->alibi, QUIPU_E_F32, 1);
    VIEW("ws", a->ws, QUIPU_E_U8, 1);
    NEED(H > 0 && HKV > 0 && H % HKV == 0 && HD > 0, "attention: %lld heads, %lld key-value heads", (long long)H, (long long)HKV);
    NEED(a->q.cols == H * HD && a->k.cols == HKV * HD && a->v.cols == HKV * HD && a->out.cols == H * HD && a->k.rows == T &&
             a->v.rows == T && a->out.rows == T,
         "attention: shapes disagree");
    NEED(a->lay.pos.cols == T && a->lay.seg_lo.cols == T && a->lay.seg_hi.cols == T && a->lay.pre_lo.cols == T && a->lay.pre_hi.cols == T,
         "attention: layout of %lld tokens for %lld", (long long)a->lay.pos.cols, (long long)T);
    NEED(!a->alibi.buf || a->alibi.cols == H, "attention: %lld ALiBi slopes for %lld heads", (long long)a->alibi.cols, (long long)H);
    return b->iface->attention(b, a, err);
}

quipu_status quipu_op_act(quipu_backend *b, const quipu_act_args *a, quipu_error *err) {
    const char *OP = "act";
    HAS(act);
    VIEW("gate", a->gate, QUIPU_E_F32, 0);
    VIEW("up", a->up, QUIPU_E_F32, 1);
    NEED(!a->up.buf || (a->up.rows == a->gate.rows && a->up.cols == a->gate.cols), "act: shapes disagree");
    return b->iface->act(b, a, err);
}

quipu_status quipu_op_logprob_partial(quipu_backend *b, const quipu_logprob_args *a, quipu_error *err) {
    const char *OP = "logprob_partial";
    HAS(logprob_partial);
    int64_t blk = b->iface->lp_block, R = a->rows.cols;
    VIEW("h", a->h, QUIPU_E_F32, 0);
    WEIGHT("lm_head", a->lm_head);
    VIEW("rows", a->rows, QUIPU_E_I32, 0);
    VIEW("targets", a->targets, QUIPU_E_I32, 0);
    VIEW("part", a->part, QUIPU_E_LP, 0);
    VIEW("ws", a->ws, QUIPU_E_U8, 1);
    NEED(a->h.cols == a->lm_head.cols && a->lm_head.ld == a->lm_head.cols && a->targets.cols == R, "logprob: shapes disagree");
    NEED(a->v_lo >= 0 && a->v_lo % blk == 0, "logprob: range start %lld is not a multiple of the block (%lld)", (long long)a->v_lo, (long long)blk);
    NEED(a->part.rows == R && a->part.cols == (a->lm_head.rows + blk - 1) / blk, "logprob: %lld x %lld partials for %lld rows x %lld ids",
         (long long)a->part.rows, (long long)a->part.cols, (long long)R, (long long)a->lm_head.rows);
    return b->iface->logprob_partial(b, a, err);
}

quipu_status quipu_op_logprob_combine(quipu_backend *b, const quipu_combine_args *a, quipu_error *err) {
    const char *OP = "logprob_combine";
    HAS(logprob_combine);
    int64_t R = a->targets.cols;
    VIEW("part", a->part, QUIPU_E_LP, 0);
    VIEW("targets", a->targets, QUIPU_E_I32, 0);
    VIEW("logprob", a->logprob, QUIPU_E_F64, 0);
    VIEW("greedy", a->greedy, QUIPU_E_U8, 0);
    NEED(a->block > 0 && a->part.rows == R && a->logprob.cols == R && a->greedy.cols == R, "logprob_combine: shapes disagree");
    return b->iface->logprob_combine(b, a, err);
}

quipu_status quipu_op_dequant(quipu_backend *b, const quipu_dequant_args *a, quipu_error *err) {
    const char *OP = "dequant";
    HAS(dequant);
    uint32_t bs = quipu_dtype_block_size(a->qtype);
    uint64_t row_bytes = 0;
    const char *tn = quipu_dtype_name(a->qtype) ? quipu_dtype_name(a->qtype) : "an unknown type";
    NEED(bs > 1, "dequant: %s (%u) is not a block type quipu dequantizes", tn, a->qtype);
    NEED(a->dst.cols > 0 && quipu_dtype_row_bytes(a->qtype, (uint64_t)a->dst.cols, &row_bytes) == 0,
         "dequant: %lld columns are not whole blocks of %s (%u elements each)", (long long)a->dst.cols, tn, bs);
    VIEW("src", a->src, QUIPU_E_U8, 0);
    WEIGHT("dst", a->dst);
    NEED(a->src.rows == a->dst.rows && (uint64_t)a->src.cols == row_bytes, "dequant: shapes disagree (src %lld x %lld bytes, dst %lld x %lld)",
         (long long)a->src.rows, (long long)a->src.cols, (long long)a->dst.rows, (long long)a->dst.cols);
    return b->iface->dequant(b, a, err);
}

quipu_status quipu_op_copy(quipu_backend *b, const quipu_copy_args *a, quipu_error *err) {
    const char *OP = "copy";
    HAS(copy);
    VIEW("x", a->x, a->x.type, 0);
    VIEW("y", a->y, a->x.type, 0);
    NEED(a->x.rows == a->y.rows && a->x.cols == a->y.cols, "copy: shapes disagree");
    return b->iface->copy(b, a, err);
}

quipu_status quipu_op_allgather(quipu_backend *b, const quipu_allgather_args *a, quipu_error *err) {
    const char *OP = "allgather";
    HAS(allgather);
    int n = b->group ? b->group->size : 1;
    VIEW("send", a->send, a->send.type, 0);
    VIEW("recv", a->recv, a->send.type, 0);
    NEED(a->send.ld == a->send.cols && a->recv.ld == a->recv.cols && a->recv.cols == a->send.cols && a->recv.rows == a->send.rows * n,
         "allgather: shapes disagree (send %lld x %lld, recv %lld x %lld, %d members; both dense)", (long long)a->send.rows,
         (long long)a->send.cols, (long long)a->recv.rows, (long long)a->recv.cols, n);
    return b->iface->allgather(b, a, err);
}

quipu_status quipu_op_moe_route(quipu_backend *b, const quipu_moe_route_args *a, quipu_error *err) {
    const char *OP = "moe_route";
    HAS(moe_route);
    VIEW("logits", a->logits, QUIPU_E_F32, 0);
    VIEW("ids", a->ids, QUIPU_E_I32, 0);
    VIEW("weights", a->weights, QUIPU_E_F32, 0);
    int64_t T = a->logits.rows, E = a->logits.cols, K = a->ids.cols;
    NEED(E > 0 && K > 0 && K <= E, "moe_route: %lld of %lld experts", (long long)K, (long long)E);
    NEED(a->ids.rows == T && a->weights.rows == T && a->weights.cols == K, "moe_route: shapes disagree (logits %lld x %lld, ids %lld x %lld, weights %lld x %lld)",
         (long long)T, (long long)E, (long long)a->ids.rows, (long long)K, (long long)a->weights.rows, (long long)a->weights.cols);
    return b->iface->moe_route(b, a, err);
}

quipu_status quipu_op_moe_combine(quipu_backend *b, const quipu_moe_combine_args *a, quipu_error *err) {
    const char *OP = "moe_combine";
    HAS(moe_combine);
    VIEW("out", a->out, QUIPU_E_F32, 0);
    VIEW("y", a->y, QUIPU_E_F32, 0);
    VIEW("slot", a->slot, QUIPU_E_I32, 0);
    VIEW("weights", a->weights, QUIPU_E_F32, 0);
    VIEW("shared", a->shared, QUIPU_E_F32, 1);
    VIEW("shared_gate", a->shared_gate, QUIPU_E_F32, 1);
    int64_t T = a->out.rows, D = a->out.cols;
    NEED(a->y.cols == D && a->slot.rows == T && a->weights.rows == T && a->weights.cols == a->slot.cols && a->slot.cols > 0,
         "moe_combine: shapes disagree (out %lld x %lld, y %lld x %lld, slot %lld x %lld, weights %lld x %lld)", (long long)T, (long long)D,
         (long long)a->y.rows, (long long)a->y.cols, (long long)a->slot.rows, (long long)a->slot.cols, (long long)a->weights.rows,
         (long long)a->weights.cols);
    NEED(!a->shared.buf == !a->shared_gate.buf, "moe_combine: a shared expert needs its gate, and a gate its expert");
    NEED(!a->shared.buf || (a->shared.rows == T && a->shared.cols == D && a->shared_gate.rows == T && a->shared_gate.cols == 1),
         "moe_combine: shared expert shapes disagree");
    return b->iface->moe_combine(b, a, err);
}

quipu_status quipu_backend_set_group(quipu_backend *b, const quipu_comm_group *g, quipu_error *err) {
    if (!g || g->size <= 1) return QUIPU_OK;
    if (!b->iface->allgather || !b->iface->copy)
        return quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "backend '%s' cannot run tensor parallelism (no all-gather)", b->iface->name);
    if (b->iface->set_group) {
        quipu_status st = b->iface->set_group(b, g, err);
        if (st) return st;
    }
    b->group = g;
    return QUIPU_OK;
}

quipu_status quipu_op_sync(quipu_backend *b, quipu_error *err) { return b->iface->sync(b, err); }

/* ---------------------------------------------------------------- overlap, with fallbacks */

void *quipu_backend_host_alloc(quipu_backend *b, size_t n_bytes, quipu_error *err) {
    if (b->iface->host_alloc) return b->iface->host_alloc(b, n_bytes, err);
    void *p = malloc(n_bytes ? n_bytes : 1);
    if (!p) quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory (%zu bytes of host memory)", n_bytes);
    return p;
}

void quipu_backend_host_free(quipu_backend *b, void *p) {
    if (!p) return;
    if (b->iface->host_free) b->iface->host_free(b, p);
    else free(p);
}

static quipu_status check_slot(const quipu_backend *b, int slot, quipu_error *err) {
    if (slot >= 0 && slot < QUIPU_BACKEND_SLOTS) return QUIPU_OK;
    return quipu_error_set(err, QUIPU_ERR_INTERNAL, "backend '%s': slot %d outside [0, %d)", b->iface->name, slot, QUIPU_BACKEND_SLOTS);
}

quipu_status quipu_backend_upload(quipu_backend *b, quipu_buf *dst, size_t off_bytes, const void *src, size_t n, int slot, quipu_error *err) {
    quipu_status st = check_slot(b, slot, err);
    if (st) return st;
    if (b->iface->upload) return b->iface->upload(b, dst, off_bytes, src, n, slot, err);
    return b->iface->buf_write(b, dst, off_bytes, src, n, err);
}

quipu_status quipu_backend_download(quipu_backend *b, const quipu_buf *src, size_t off_bytes, void *dst, size_t n, quipu_error *err) {
    if (b->iface->download) return b->iface->download(b, src, off_bytes, dst, n, err);
    return b->iface->buf_read(b, src, off_bytes, dst, n, err);
}

quipu_status quipu_backend_fence(quipu_backend *b, int slot, quipu_error *err) {
    quipu_status st = check_slot(b, slot, err);
    if (st || !b->iface->fence) return st;
    return b->iface->fence(b, slot, err);
}

quipu_status quipu_backend_fence_wait(quipu_backend *b, int slot, quipu_error *err) {
    quipu_status st = check_slot(b, slot, err);
    if (st) return st;
    if (b->iface->fence_wait) return b->iface->fence_wait(b, slot, err);
    return b->iface->sync(b, err);
}
