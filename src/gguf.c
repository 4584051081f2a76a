/* gguf.c — GGUF v2/v3 reader: header, metadata key/values, tensor infos, all bounds-checked
 * against the memory-mapped file before use (the file is untrusted input).
 * Layout: magic | version | n_tensors | n_kv | kv[n_kv] | tensor_info[n_tensors] | pad | data. */
#define _POSIX_C_SOURCE 200809L
#include "gguf.h"

#include <stdlib.h>
#include <string.h>

#include "quant.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_NAME 64         /* ggml GGML_MAX_NAME, NUL included: names are < 64 bytes */
#define GGUF_MAX_KEY 65535       /* docs/gguf.md: keys are at most 65535 bytes */
#define GGUF_MAX_ALIGNMENT (1u << 30)
#define GGUF_MIN_KV_BYTES 14     /* key len (8) + 1-byte key + type (4) + 1-byte value */
#define GGUF_MIN_TENSOR_BYTES 32 /* name len (8) + n_dims (4) + one ne (8) + type (4) + offset (8) */

/* A cursor over the map. `what` names the item being read, for error messages. */
typedef struct reader {
    const char *path;
    const uint8_t *data;
    uint64_t size;
    uint64_t pos;
    char what[200];
    quipu_error *err;
} reader;

static const char *vtype_name(uint32_t t) {
    static const char *names[] = {"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
                                  "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* Size in bytes of a fixed-size value type; 0 for STRING/ARRAY/unknown. */
static uint64_t vtype_size(uint32_t t) {
    switch (t) {
    case QUIPU_GGUF_UINT8: case QUIPU_GGUF_INT8: case QUIPU_GGUF_BOOL: return 1;
    case QUIPU_GGUF_UINT16: case QUIPU_GGUF_INT16: return 2;
    case QUIPU_GGUF_UINT32: case QUIPU_GGUF_INT32: case QUIPU_GGUF_FLOAT32: return 4;
    case QUIPU_GGUF_UINT64: case QUIPU_GGUF_INT64: case QUIPU_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static int vtype_valid(uint32_t t) { return t <= QUIPU_GGUF_FLOAT64; }

static quipu_status need(reader *r, uint64_t n) {
    if (n > r->size - r->pos)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT,
                               "%s: truncated file: %s at offset %llu needs %llu bytes, file size is %llu", r->path,
                               r->what, (unsigned long long)r->pos, (unsigned long long)n,
                               (unsigned long long)r->size);
    return QUIPU_OK;
}

/* Little-endian loads; the host is assumed little-endian like ggml (memcpy keeps UBSan quiet). */
static uint32_t load_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t load_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static quipu_status read_u32(reader *r, uint32_t *v) {
    if (need(r, 4)) return r->err->code;
    *v = load_u32(r->data + r->pos);
    r->pos += 4;
    return QUIPU_OK;
}

static quipu_status read_u64(reader *r, uint64_t *v) {
    if (need(r, 8)) return r->err->code;
    *v = load_u64(r->data + r->pos);
    r->pos += 8;
    return QUIPU_OK;
}

/* A string: uint64 length + bytes, pointing into the map. */
static quipu_status read_str(reader *r, quipu_gguf_str *s) {
    uint64_t len = 0;
    if (read_u64(r, &len)) return r->err->code;
    if (len > r->size - r->pos)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT,
                               "%s: truncated file: %s: string length %llu at offset %llu exceeds the %llu bytes left",
                               r->path, r->what, (unsigned long long)len, (unsigned long long)(r->pos - 8),
                               (unsigned long long)(r->size - r->pos));
    s->ptr = (const char *)(r->data + r->pos);
    s->len = len;
    r->pos += len;
    return QUIPU_OK;
}

/* Scalar value of a fixed-size type at p into kv->v. */
static void decode_scalar(uint32_t type, const uint8_t *p, quipu_gguf_kv *kv) {
    switch (type) {
    case QUIPU_GGUF_UINT8: case QUIPU_GGUF_BOOL: kv->v.u = p[0]; break;
    case QUIPU_GGUF_INT8: kv->v.i = (int8_t)p[0]; break;
    case QUIPU_GGUF_UINT16: kv->v.u = (uint16_t)(p[0] | p[1] << 8); break;
    case QUIPU_GGUF_INT16: kv->v.i = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
    case QUIPU_GGUF_UINT32: kv->v.u = load_u32(p); break;
    case QUIPU_GGUF_INT32: kv->v.i = (int32_t)load_u32(p); break;
    case QUIPU_GGUF_UINT64: kv->v.u = load_u64(p); break;
    case QUIPU_GGUF_INT64: kv->v.i = (int64_t)load_u64(p); break;
    case QUIPU_GGUF_FLOAT32: {
        float f;
        memcpy(&f, p, 4);
        kv->v.f = f;
        break;
    }
    case QUIPU_GGUF_FLOAT64: memcpy(&kv->v.f, p, 8); break;
    default: break;
    }
}

/* Key text for messages: at most 80 bytes of it. */
#define KEYFMT "'%.*s'"
#define KEYARG(s) (int)((s).len > 80 ? 80 : (s).len), (s).ptr

static quipu_status read_array(reader *r, quipu_gguf_kv *kv, quipu_gguf_str key) {
    uint32_t et = 0;
    if (read_u32(r, &et)) return r->err->code;
    if (et == QUIPU_GGUF_ARRAY)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: metadata key " KEYFMT ": nested arrays are not supported",
                               r->path, KEYARG(key));
    if (!vtype_valid(et))
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: metadata key " KEYFMT ": invalid array element type %u",
                               r->path, KEYARG(key), et);
    uint64_t count = 0;
    if (read_u64(r, &count)) return r->err->code;
    /* each element takes at least its fixed size (8 for a string's length): bound count by
     * what is left of the file before allocating or looping */
    uint64_t min_elem = et == QUIPU_GGUF_STRING ? 8 : vtype_size(et);
    if (count > (r->size - r->pos) / min_elem)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT,
                               "%s: truncated file: metadata key " KEYFMT ": array of %llu %s needs at least %llu bytes, "
                               "only %llu left",
                               r->path, KEYARG(key), (unsigned long long)count, vtype_name(et),
                               (unsigned long long)count * min_elem, (unsigned long long)(r->size - r->pos));
    kv->arr_type = (quipu_gguf_vtype)et;
    kv->arr_count = count;
    kv->arr_data = r->data + r->pos;
    if (et == QUIPU_GGUF_STRING) {
        kv->arr_strs = quipu_malloc_array(count, sizeof *kv->arr_strs);
        if (!kv->arr_strs)
            return quipu_error_set(r->err, QUIPU_ERR_NOMEM, "%s: out of memory for %llu strings of key " KEYFMT,
                                   r->path, (unsigned long long)count, KEYARG(key));
        for (uint64_t i = 0; i < count; i++) {
            snprintf(r->what, sizeof r->what, "metadata key '%.*s' string %llu", KEYARG(key), (unsigned long long)i);
            if (read_str(r, &kv->arr_strs[i])) return r->err->code;
        }
        return QUIPU_OK;
    }
    const uint64_t nbytes = count * min_elem; /* no overflow: bounded by the bytes left */
    if (et == QUIPU_GGUF_BOOL) {
        for (uint64_t i = 0; i < count; i++)
            if (r->data[r->pos + i] > 1)
                return quipu_error_set(r->err, QUIPU_ERR_FORMAT,
                                       "%s: metadata key " KEYFMT ": bool array element %llu has value %u (must be 0 or 1)",
                                       r->path, KEYARG(key), (unsigned long long)i, r->data[r->pos + i]);
    }
    r->pos += nbytes;
    return QUIPU_OK;
}

static quipu_status read_kv(reader *r, uint64_t idx, quipu_gguf_kv *kv) {
    quipu_gguf_str key;
    snprintf(r->what, sizeof r->what, "metadata key %llu", (unsigned long long)idx);
    if (read_str(r, &key)) return r->err->code;
    if (key.len == 0)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: metadata key %llu is empty", r->path,
                               (unsigned long long)idx);
    if (key.len > GGUF_MAX_KEY)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: metadata key %llu is %llu bytes long (limit %d)", r->path,
                               (unsigned long long)idx, (unsigned long long)key.len, GGUF_MAX_KEY);
    if (memchr(key.ptr, 0, key.len))
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: metadata key %llu contains a NUL byte", r->path,
                               (unsigned long long)idx);
    kv->key = malloc(key.len + 1);
    if (!kv->key) return quipu_error_set(r->err, QUIPU_ERR_NOMEM, "%s: out of memory", r->path);
    memcpy(kv->key, key.ptr, key.len);
    kv->key[key.len] = '\0';

    uint32_t type = 0;
    snprintf(r->what, sizeof r->what, "metadata key " KEYFMT " type", KEYARG(key));
    if (read_u32(r, &type)) return r->err->code;
    if (!vtype_valid(type))
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: metadata key " KEYFMT ": invalid value type %u", r->path,
                               KEYARG(key), type);
    kv->type = (quipu_gguf_vtype)type;
    snprintf(r->what, sizeof r->what, "metadata key " KEYFMT " value", KEYARG(key));
    if (type == QUIPU_GGUF_STRING) return read_str(r, &kv->v.s);
    if (type == QUIPU_GGUF_ARRAY) return read_array(r, kv, key);
    uint64_t n = vtype_size(type);
    if (need(r, n)) return r->err->code;
    decode_scalar(type, r->data + r->pos, kv);
    if (type == QUIPU_GGUF_BOOL && kv->v.u > 1)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: metadata key " KEYFMT ": bool value %llu (must be 0 or 1)",
                               r->path, KEYARG(key), (unsigned long long)kv->v.u);
    r->pos += n;
    return QUIPU_OK;
}

static int cmp_kv_key(const void *a, const void *b) {
    const quipu_gguf_kv *x = *(const quipu_gguf_kv *const *)a, *y = *(const quipu_gguf_kv *const *)b;
    return strcmp(x->key, y->key);
}

static int cmp_tensor_name(const void *a, const void *b) {
    const quipu_gguf_tensor *x = *(const quipu_gguf_tensor *const *)a, *y = *(const quipu_gguf_tensor *const *)b;
    return strcmp(x->name, y->name);
}

/* Duplicate keys / tensor names: sort pointers, compare neighbours (O(n log n)). */
static quipu_status check_duplicates(quipu_gguf *g, quipu_error *err) {
    uint64_t n = g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors;
    const void **p = quipu_malloc_array(n, sizeof *p);
    if (!p) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_kv; i++) p[i] = &g->kv[i];
    qsort(p, g->n_kv, sizeof *p, cmp_kv_key);
    for (uint64_t i = 1; i < g->n_kv; i++) {
        const quipu_gguf_kv *a = p[i - 1], *b = p[i];
        if (strcmp(a->key, b->key) == 0) {
            free(p);
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: duplicate metadata key '%.80s'", g->path, a->key);
        }
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) p[i] = &g->tensors[i];
    qsort(p, g->n_tensors, sizeof *p, cmp_tensor_name);
    for (uint64_t i = 1; i < g->n_tensors; i++) {
        const quipu_gguf_tensor *a = p[i - 1], *b = p[i];
        if (strcmp(a->name, b->name) == 0) {
            free(p);
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: duplicate tensor name '%s'", g->path, a->name);
        }
    }
    free(p);
    return QUIPU_OK;
}

/* general.alignment: an unsigned integer, a nonzero power of two (gguf.cpp); default 32. */
static quipu_status read_alignment(quipu_gguf *g, quipu_error *err) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const quipu_gguf_kv *kv = quipu_gguf_find(g, "general.alignment");
    if (!kv) return QUIPU_OK;
    uint64_t a;
    switch (kv->type) {
    case QUIPU_GGUF_UINT8: case QUIPU_GGUF_UINT16: case QUIPU_GGUF_UINT32: case QUIPU_GGUF_UINT64: a = kv->v.u; break;
    case QUIPU_GGUF_INT8: case QUIPU_GGUF_INT16: case QUIPU_GGUF_INT32: case QUIPU_GGUF_INT64:
        a = kv->v.i < 0 ? 0 : (uint64_t)kv->v.i;
        break;
    default:
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: general.alignment has type %s, expected UINT32", g->path,
                               vtype_name(kv->type));
    }
    if (a == 0 || (a & (a - 1)) != 0 || a > GGUF_MAX_ALIGNMENT)
        return quipu_error_set(err, QUIPU_ERR_FORMAT,
                               "%s: general.alignment is %llu, must be a nonzero power of two (at most %u)", g->path,
                               (unsigned long long)a, GGUF_MAX_ALIGNMENT);
    g->alignment = (uint32_t)a;
    return QUIPU_OK;
}

static quipu_status read_tensor_info(reader *r, uint64_t idx, quipu_gguf_tensor *t) {
    quipu_gguf_str name;
    snprintf(r->what, sizeof r->what, "tensor info %llu name", (unsigned long long)idx);
    if (read_str(r, &name)) return r->err->code;
    if (name.len >= GGUF_MAX_NAME)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT,
                               "%s: tensor info %llu: name '%.*s...' is %llu bytes long (limit %d)", r->path,
                               (unsigned long long)idx, 40, name.ptr, (unsigned long long)name.len, GGUF_MAX_NAME - 1);
    if (memchr(name.ptr, 0, name.len))
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: tensor info %llu: name contains a NUL byte", r->path,
                               (unsigned long long)idx);
    memcpy(t->name, name.ptr, name.len);
    t->name[name.len] = '\0';

    snprintf(r->what, sizeof r->what, "tensor info %llu ('%s')", (unsigned long long)idx, t->name);
    if (read_u32(r, &t->n_dims)) return r->err->code;
    if (t->n_dims < 1 || t->n_dims > QUIPU_GGUF_MAX_DIMS)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: tensor info %llu ('%s'): n_dims is %u, must be 1..%d",
                               r->path, (unsigned long long)idx, t->name, t->n_dims, QUIPU_GGUF_MAX_DIMS);
    uint64_t nelem = 1;
    for (int d = 0; d < QUIPU_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (read_u64(r, &t->ne[d])) return r->err->code;
        /* ggml holds sizes in int64_t: every ne and the product of the nonzero ones must fit, so
         * that no partial product (rows = ne1*ne2*ne3, in any order) overflows when a zero
         * dimension makes the full product 0 */
        if (t->ne[d] > (uint64_t)INT64_MAX ||
            (t->ne[d] != 0 && (quipu_mul_overflow_u64(nelem, t->ne[d], &nelem) != 0 || nelem > (uint64_t)INT64_MAX)))
            return quipu_error_set(r->err, QUIPU_ERR_FORMAT,
                                   "%s: tensor info %llu ('%s'): shape [%llu, %llu, %llu, %llu] overflows the element count",
                                   r->path, (unsigned long long)idx, t->name, (unsigned long long)t->ne[0],
                                   (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
                                   (unsigned long long)t->ne[3]);
    }
    if (read_u32(r, &t->type)) return r->err->code;
    uint32_t blck, bytes;
    if (!quipu_dtype_ggml_layout(t->type, &blck, &bytes))
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: tensor info %llu ('%s'): unknown tensor type %u", r->path,
                               (unsigned long long)idx, t->name, t->type);
    if (t->ne[0] % blck != 0)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT,
                               "%s: tensor info %llu ('%s'): row length %llu is not a multiple of the %s block size %u",
                               r->path, (unsigned long long)idx, t->name, (unsigned long long)t->ne[0],
                               quipu_dtype_name(t->type), blck);
    /* nbytes = (ne0 / blck) * bytes * ne1 * ne2 * ne3, each step checked */
    uint64_t nb = t->ne[0] / blck;
    int ovf = quipu_mul_overflow_u64(nb, bytes, &nb);
    for (int d = 1; d < QUIPU_GGUF_MAX_DIMS && !ovf; d++) ovf = quipu_mul_overflow_u64(nb, t->ne[d], &nb);
    if (ovf)
        return quipu_error_set(r->err, QUIPU_ERR_FORMAT, "%s: tensor info %llu ('%s'): byte size overflows", r->path,
                               (unsigned long long)idx, t->name);
    t->nbytes = nb;
    if (read_u64(r, &t->offset)) return r->err->code;
    return QUIPU_OK;
}

/* Offsets and sizes, once the data start is known. */
static quipu_status check_tensor_data(quipu_gguf *g, uint64_t idx, quipu_gguf_tensor *t, quipu_error *err) {
    const uint64_t size = g->map.size;
    if (t->offset % g->alignment != 0)
        return quipu_error_set(err, QUIPU_ERR_FORMAT,
                               "%s: tensor info %llu ('%s'): offset %llu is not a multiple of the alignment %u", g->path,
                               (unsigned long long)idx, t->name, (unsigned long long)t->offset, g->alignment);
    const uint64_t room = size - g->data_offset; /* data_offset <= size is checked by the caller */
    if (t->offset > room)
        return quipu_error_set(err, QUIPU_ERR_FORMAT,
                               "%s: truncated file: tensor info %llu ('%s') offset %llu is past end of file "
                               "(data starts at %llu, size %llu)",
                               g->path, (unsigned long long)idx, t->name, (unsigned long long)t->offset,
                               (unsigned long long)g->data_offset, (unsigned long long)size);
    if (t->nbytes > room - t->offset)
        return quipu_error_set(err, QUIPU_ERR_FORMAT,
                               "%s: truncated file: tensor info %llu ('%s') extends past end of file "
                               "(offset %llu + %llu bytes > size %llu)",
                               g->path, (unsigned long long)idx, t->name,
                               (unsigned long long)(g->data_offset + t->offset), (unsigned long long)t->nbytes,
                               (unsigned long long)size);
    t->data = g->map.data + g->data_offset + t->offset;
    return QUIPU_OK;
}

static int cmp_tensor_offset(const void *a, const void *b) {
    const quipu_gguf_tensor *x = *(const quipu_gguf_tensor *const *)a, *y = *(const quipu_gguf_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* ggml lays tensors out one after another: two whose bytes overlap are a corrupt (or crafted)
 * file, where writing one weight would change another. Empty tensors overlap nothing. */
static quipu_status check_overlaps(quipu_gguf *g, quipu_error *err) {
    if (g->n_tensors < 2) return QUIPU_OK;
    const quipu_gguf_tensor **p = quipu_malloc_array(g->n_tensors, sizeof *p);
    if (!p) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_tensors; i++) p[i] = &g->tensors[i];
    qsort(p, g->n_tensors, sizeof *p, cmp_tensor_offset);
    const quipu_gguf_tensor *prev = NULL;
    quipu_status s = QUIPU_OK;
    for (uint64_t i = 0; i < g->n_tensors && !s; i++) {
        const quipu_gguf_tensor *t = p[i];
        if (t->nbytes == 0) continue;
        if (prev && t->offset < prev->offset + prev->nbytes)
            s = quipu_error_set(err, QUIPU_ERR_FORMAT,
                                "%s: tensors '%s' (data bytes %llu..%llu) and '%s' (from byte %llu) overlap", g->path,
                                prev->name, (unsigned long long)prev->offset,
                                (unsigned long long)(prev->offset + prev->nbytes), t->name, (unsigned long long)t->offset);
        prev = t;
    }
    free(p);
    return s;
}

quipu_status quipu_gguf_open(quipu_gguf **out, const char *path, quipu_error *err) {
    *out = NULL;
    quipu_gguf *g = calloc(1, sizeof *g);
    if (!g) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
    g->path = strdup(path);
    if (!g->path) {
        free(g);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
    }
    quipu_error local;
    quipu_error_clear(&local);
    if (!err) err = &local; /* the reader needs somewhere to keep the code */
    if (quipu_mmap_open(&g->map, path, err)) goto fail;

    reader r = {.path = path, .data = g->map.data, .size = g->map.size, .pos = 0, .err = err};
    snprintf(r.what, sizeof r.what, "header");
    if (need(&r, 4)) goto fail;
    if (memcmp(r.data, GGUF_MAGIC, 4) != 0) {
        quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: not a GGUF file (bad magic %02x %02x %02x %02x, expected 'GGUF')",
                        path, r.data[0], r.data[1], r.data[2], r.data[3]);
        goto fail;
    }
    r.pos = 4;
    if (read_u32(&r, &g->version)) goto fail;
    if ((g->version & 0xFFFF) == 0) {
        quipu_error_set(err, QUIPU_ERR_FORMAT,
                        "%s: GGUF version 0x%08x looks byte-swapped: big-endian files are not supported", path,
                        g->version);
        goto fail;
    }
    if (g->version < 2 || g->version > 3) {
        quipu_error_set(err, QUIPU_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (need 2 or 3)", path,
                        g->version);
        goto fail;
    }
    if (read_u64(&r, &g->n_tensors) || read_u64(&r, &g->n_kv)) goto fail;
    /* counts are claims of an untrusted file: each item takes a minimal number of bytes */
    const uint64_t rest = r.size - r.pos;
    if (g->n_kv > rest / GGUF_MIN_KV_BYTES) {
        quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: corrupt header: %llu metadata entries cannot fit in %llu bytes",
                        path, (unsigned long long)g->n_kv, (unsigned long long)rest);
        goto fail;
    }
    if (g->n_tensors > rest / GGUF_MIN_TENSOR_BYTES) {
        quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: corrupt header: %llu tensor infos cannot fit in %llu bytes", path,
                        (unsigned long long)g->n_tensors, (unsigned long long)rest);
        goto fail;
    }
    g->kv = quipu_calloc_array(g->n_kv, sizeof *g->kv);
    g->tensors = quipu_calloc_array(g->n_tensors, sizeof *g->tensors);
    if (!g->kv || !g->tensors) {
        quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (read_kv(&r, i, &g->kv[i])) goto fail;
    if (read_alignment(g, err)) goto fail;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (read_tensor_info(&r, i, &g->tensors[i])) goto fail;
    if (check_duplicates(g, err)) goto fail;

    /* data starts at the next multiple of the alignment (gguf.cpp pads only when n_tensors > 0) */
    g->data_offset = r.pos + (g->alignment - r.pos % g->alignment) % g->alignment;
    if (g->n_tensors > 0 && g->data_offset > r.size) {
        quipu_error_set(err, QUIPU_ERR_FORMAT,
                        "%s: truncated file: tensor data would start at offset %llu, past end of file (size %llu)",
                        path, (unsigned long long)g->data_offset, (unsigned long long)r.size);
        goto fail;
    }
    if (g->data_offset > r.size) g->data_offset = r.size;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (check_tensor_data(g, i, &g->tensors[i], err)) goto fail;
    if (check_overlaps(g, err)) goto fail;
    *out = g;
    return QUIPU_OK;

fail:
    quipu_gguf_free(g);
    return err->code;
}

void quipu_gguf_free(quipu_gguf *g) {
    if (!g) return;
    if (g->kv) {
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].arr_strs);
        }
    }
    free(g->kv);
    free(g->tensors);
    quipu_mmap_close(&g->map);
    free(g->path);
    free(g);
}

int quipu_gguf_is_gguf(const char *path) {
    /* never block on a FIFO, never read a device: anything but a regular file is "not GGUF" and
     * quipu_gguf_open then says what it is */
    if (quipu_check_regular_file(path, NULL) != QUIPU_OK) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4];
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, GGUF_MAGIC, 4) == 0;
}

const quipu_gguf_kv *quipu_gguf_find(const quipu_gguf *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

static int is_unsigned(quipu_gguf_vtype t) {
    return t == QUIPU_GGUF_UINT8 || t == QUIPU_GGUF_UINT16 || t == QUIPU_GGUF_UINT32 || t == QUIPU_GGUF_UINT64;
}
static int is_signed(quipu_gguf_vtype t) {
    return t == QUIPU_GGUF_INT8 || t == QUIPU_GGUF_INT16 || t == QUIPU_GGUF_INT32 || t == QUIPU_GGUF_INT64;
}

int quipu_gguf_get_int(const quipu_gguf *g, const char *key, int64_t *out) {
    const quipu_gguf_kv *kv = quipu_gguf_find(g, key);
    if (!kv) return 0;
    if (is_signed(kv->type)) {
        *out = kv->v.i;
        return 1;
    }
    if (is_unsigned(kv->type) && kv->v.u <= (uint64_t)INT64_MAX) {
        *out = (int64_t)kv->v.u;
        return 1;
    }
    return 0;
}

int quipu_gguf_get_float(const quipu_gguf *g, const char *key, double *out) {
    const quipu_gguf_kv *kv = quipu_gguf_find(g, key);
    if (!kv) return 0;
    if (kv->type == QUIPU_GGUF_FLOAT32 || kv->type == QUIPU_GGUF_FLOAT64) *out = kv->v.f;
    else if (is_signed(kv->type)) *out = (double)kv->v.i;
    else if (is_unsigned(kv->type)) *out = (double)kv->v.u;
    else return 0;
    return 1;
}

int quipu_gguf_get_bool(const quipu_gguf *g, const char *key, int *out) {
    const quipu_gguf_kv *kv = quipu_gguf_find(g, key);
    if (!kv) return 0;
    if (kv->type == QUIPU_GGUF_BOOL || is_unsigned(kv->type)) *out = kv->v.u != 0;
    else if (is_signed(kv->type)) *out = kv->v.i != 0;
    else return 0;
    return 1;
}

quipu_gguf_str quipu_gguf_get_str(const quipu_gguf *g, const char *key) {
    const quipu_gguf_kv *kv = quipu_gguf_find(g, key);
    if (kv && kv->type == QUIPU_GGUF_STRING) return kv->v.s;
    quipu_gguf_str none = {NULL, 0};
    return none;
}

/* Element i of a numeric (or bool) array into a scalar kv, reusing the scalar decoder. */
static int arr_elem(const quipu_gguf_kv *kv, uint64_t i, quipu_gguf_kv *tmp) {
    if (!kv || kv->type != QUIPU_GGUF_ARRAY || i >= kv->arr_count) return 0;
    uint64_t sz = vtype_size(kv->arr_type);
    if (sz == 0) return 0;
    memset(tmp, 0, sizeof *tmp);
    tmp->type = kv->arr_type;
    decode_scalar(kv->arr_type, kv->arr_data + i * sz, tmp);
    return 1;
}

int quipu_gguf_arr_get_float(const quipu_gguf_kv *kv, uint64_t i, double *out) {
    quipu_gguf_kv e;
    if (!arr_elem(kv, i, &e)) return 0;
    if (e.type == QUIPU_GGUF_FLOAT32 || e.type == QUIPU_GGUF_FLOAT64) *out = e.v.f;
    else if (is_signed(e.type)) *out = (double)e.v.i;
    else *out = (double)e.v.u; /* unsigned or bool */
    return 1;
}

int quipu_gguf_arr_get_int(const quipu_gguf_kv *kv, uint64_t i, int64_t *out) {
    quipu_gguf_kv e;
    if (!arr_elem(kv, i, &e)) return 0;
    if (is_signed(e.type)) *out = e.v.i;
    else if ((is_unsigned(e.type) || e.type == QUIPU_GGUF_BOOL) && e.v.u <= (uint64_t)INT64_MAX) *out = (int64_t)e.v.u;
    else return 0;
    return 1;
}

const quipu_gguf_tensor *quipu_gguf_find_tensor(const quipu_gguf *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}
