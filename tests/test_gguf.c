/* test_gguf.c — the GGUF reader on synthetic files written here (every metadata type, arrays,
 * alignments 32 and 64, tensors of 1..4 dims) and on broken ones (each must fail with a message
 * naming the file), then known facts of the real SmolLM2 and Gemma 3 files when present. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "testlib.h"

/* ---- a small GGUF writer ---- */

typedef struct gbuf {
    uint8_t *p;
    size_t n, cap;
} gbuf;

static void gb_put(gbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void gb_u8(gbuf *b, uint8_t v) { gb_put(b, &v, 1); }
static void gb_u16(gbuf *b, uint16_t v) { gb_put(b, &v, 2); }
static void gb_u32(gbuf *b, uint32_t v) { gb_put(b, &v, 4); }
static void gb_u64(gbuf *b, uint64_t v) { gb_put(b, &v, 8); }
static void gb_f32(gbuf *b, float v) { gb_put(b, &v, 4); }
static void gb_f64(gbuf *b, double v) { gb_put(b, &v, 8); }
static void gb_str(gbuf *b, const char *s) {
    gb_u64(b, strlen(s));
    gb_put(b, s, strlen(s));
}
static void gb_key(gbuf *b, const char *k, uint32_t type) {
    gb_str(b, k);
    gb_u32(b, type);
}
static void gb_arr(gbuf *b, const char *k, uint32_t et, uint64_t n) {
    gb_key(b, k, QUIPU_GGUF_ARRAY);
    gb_u32(b, et);
    gb_u64(b, n);
}
static void patch_u32(gbuf *b, size_t pos, uint32_t v) { memcpy(b->p + pos, &v, 4); }
static void patch_u64(gbuf *b, size_t pos, uint64_t v) { memcpy(b->p + pos, &v, 8); }

typedef struct ttensor {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[5];
    uint32_t type;
} ttensor;

#define MAXT 16
/* Where build() put things, for tests that corrupt one field. */
typedef struct layout {
    size_t pos_version, pos_n_tensors, pos_n_kv;
    size_t pos_ndims[MAXT], pos_type[MAXT], pos_offset[MAXT];
    uint64_t offset[MAXT], nbytes[MAXT];
    size_t data_start;
} layout;

/* Writes the kv section; returns the number of pairs. */
typedef int (*kv_writer)(gbuf *b, const void *arg);

static uint64_t tensor_bytes(const ttensor *t) {
    uint32_t bs = 1, bb = 0;
    if (!quipu_dtype_ggml_layout(t->type, &bs, &bb)) return 0;
    uint64_t n = t->ne[0] / bs * bb;
    for (uint32_t d = 1; d < t->n_dims && d < 4; d++) n *= t->ne[d];
    return n;
}

/* Data bytes of tensor i: a pattern the test can recompute. */
static uint8_t pattern(int i, uint64_t k) { return (uint8_t)(i * 31 + k * 7 + 1); }

/* Header, kv pairs, tensor infos, padding, then each tensor's data at the next aligned offset
 * (no padding after the last tensor, so any cut of the file loses data). */
static void build(gbuf *b, layout *L, uint32_t version, kv_writer kvw, const void *kvarg, const ttensor *ts, int nt,
                  uint32_t align) {
    memset(L, 0, sizeof *L);
    b->n = 0;
    gb_put(b, "GGUF", 4);
    L->pos_version = b->n;
    gb_u32(b, version);
    L->pos_n_tensors = b->n;
    gb_u64(b, (uint64_t)nt);
    L->pos_n_kv = b->n;
    gb_u64(b, 0);
    int nkv = kvw ? kvw(b, kvarg) : 0;
    patch_u64(b, L->pos_n_kv, (uint64_t)nkv);
    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        gb_str(b, ts[i].name);
        L->pos_ndims[i] = b->n;
        gb_u32(b, ts[i].n_dims);
        for (uint32_t d = 0; d < ts[i].n_dims; d++) gb_u64(b, ts[i].ne[d]);
        L->pos_type[i] = b->n;
        gb_u32(b, ts[i].type);
        L->pos_offset[i] = b->n;
        L->offset[i] = off;
        L->nbytes[i] = tensor_bytes(&ts[i]);
        gb_u64(b, off);
        off += L->nbytes[i];
        off += (align - off % align) % align;
    }
    while (b->n % align) gb_u8(b, 0);
    L->data_start = b->n;
    for (int i = 0; i < nt; i++) {
        while (b->n < L->data_start + L->offset[i]) gb_u8(b, 0);
        for (uint64_t k = 0; k < L->nbytes[i]; k++) gb_u8(b, pattern(i, k));
    }
}

/* ---- the full metadata set ---- */

static const float arr_f32[] = {0.5f, -1.25f, 3e-7f};
static const double arr_f64[] = {1e300, -0.0, 2.5};
static const char *arr_str[] = {"a", "", "ccc", "\xc3\xa9t\xc3\xa9"};

static int kv_all(gbuf *b, const void *arg) {
    const uint32_t *align = arg;
    int n = 0;
    gb_key(b, "general.architecture", QUIPU_GGUF_STRING), gb_str(b, "llama"), n++;
    gb_key(b, "t.u8", QUIPU_GGUF_UINT8), gb_u8(b, 200), n++;
    gb_key(b, "t.i8", QUIPU_GGUF_INT8), gb_u8(b, (uint8_t)-100), n++;
    gb_key(b, "t.u16", QUIPU_GGUF_UINT16), gb_u16(b, 60000), n++;
    gb_key(b, "t.i16", QUIPU_GGUF_INT16), gb_u16(b, (uint16_t)-30000), n++;
    gb_key(b, "t.u32", QUIPU_GGUF_UINT32), gb_u32(b, 4000000000u), n++;
    gb_key(b, "t.i32", QUIPU_GGUF_INT32), gb_u32(b, (uint32_t)-2000000000), n++;
    gb_key(b, "t.f32", QUIPU_GGUF_FLOAT32), gb_f32(b, 1e-5f), n++;
    gb_key(b, "t.bool", QUIPU_GGUF_BOOL), gb_u8(b, 1), n++;
    gb_key(b, "t.false", QUIPU_GGUF_BOOL), gb_u8(b, 0), n++;
    gb_key(b, "t.str", QUIPU_GGUF_STRING), gb_str(b, "h\xc3\xa9llo world"), n++;
    gb_key(b, "t.u64", QUIPU_GGUF_UINT64), gb_u64(b, UINT64_MAX), n++;
    gb_key(b, "t.i64", QUIPU_GGUF_INT64), gb_u64(b, (uint64_t)INT64_MIN), n++;
    gb_key(b, "t.f64", QUIPU_GGUF_FLOAT64), gb_f64(b, -2.5e300), n++;
    gb_arr(b, "a.u8", QUIPU_GGUF_UINT8, 3), gb_u8(b, 1), gb_u8(b, 2), gb_u8(b, 255), n++;
    gb_arr(b, "a.i8", QUIPU_GGUF_INT8, 3), gb_u8(b, 0xff), gb_u8(b, 0x80), gb_u8(b, 0x7f), n++;
    gb_arr(b, "a.u16", QUIPU_GGUF_UINT16, 2), gb_u16(b, 65535), gb_u16(b, 7), n++;
    gb_arr(b, "a.i16", QUIPU_GGUF_INT16, 2), gb_u16(b, (uint16_t)-32768), gb_u16(b, 5), n++;
    gb_arr(b, "a.u32", QUIPU_GGUF_UINT32, 2), gb_u32(b, 4294967295u), gb_u32(b, 9), n++;
    gb_arr(b, "a.i32", QUIPU_GGUF_INT32, 3), gb_u32(b, (uint32_t)-1), gb_u32(b, 1), gb_u32(b, 6), n++;
    gb_arr(b, "a.f32", QUIPU_GGUF_FLOAT32, 3);
    for (int i = 0; i < 3; i++) gb_f32(b, arr_f32[i]);
    n++;
    gb_arr(b, "a.bool", QUIPU_GGUF_BOOL, 3), gb_u8(b, 1), gb_u8(b, 0), gb_u8(b, 1), n++;
    gb_arr(b, "a.str", QUIPU_GGUF_STRING, 4);
    for (int i = 0; i < 4; i++) gb_str(b, arr_str[i]);
    n++;
    gb_arr(b, "a.u64", QUIPU_GGUF_UINT64, 2), gb_u64(b, 1ull << 63), gb_u64(b, 42), n++;
    gb_arr(b, "a.i64", QUIPU_GGUF_INT64, 2), gb_u64(b, (uint64_t)-5), gb_u64(b, (uint64_t)INT64_MAX), n++;
    gb_arr(b, "a.f64", QUIPU_GGUF_FLOAT64, 3);
    for (int i = 0; i < 3; i++) gb_f64(b, arr_f64[i]);
    n++;
    gb_arr(b, "a.empty", QUIPU_GGUF_UINT32, 0), n++;
    if (align && *align) gb_key(b, "general.alignment", QUIPU_GGUF_UINT32), gb_u32(b, *align), n++;
    return n;
}

static const ttensor good_tensors[] = {
    {"token_embd.weight", 2, {8, 3}, QUIPU_TYPE_F32},
    {"blk.0.attn_q.weight", 2, {64, 2}, QUIPU_TYPE_Q4_0},
    {"output_norm.weight", 1, {10}, QUIPU_TYPE_F16},
    {"blk.0.ffn_down.weight", 4, {256, 1, 2, 1}, QUIPU_TYPE_Q4_K},
    {"x3", 3, {2, 3, 4}, QUIPU_TYPE_BF16},
    {"q8", 2, {32, 1}, QUIPU_TYPE_Q8_0},
    {"iq4xs", 1, {256}, 23}, /* IQ4_XS: known to ggml, opens, not dequantizable */
};
#define N_GOOD (int)(sizeof good_tensors / sizeof good_tensors[0])

static const char *write_buf(const char *name, const gbuf *b) {
    const char *p = test_write_tmp(name, b->p, b->n);
    CHECK_MSG(p != NULL, "cannot write temp file %s", name);
    return p;
}

static void check_metadata(const quipu_gguf *g) {
    const quipu_gguf_kv *kv;
    int64_t iv;
    double fv;
    int bv;
    quipu_gguf_str s = quipu_gguf_get_str(g, "general.architecture");
    CHECK(s.ptr && s.len == 5 && memcmp(s.ptr, "llama", 5) == 0);
    kv = quipu_gguf_find(g, "t.u8");
    CHECK(kv && kv->type == QUIPU_GGUF_UINT8 && kv->v.u == 200);
    kv = quipu_gguf_find(g, "t.i8");
    CHECK(kv && kv->type == QUIPU_GGUF_INT8 && kv->v.i == -100);
    CHECK(quipu_gguf_get_int(g, "t.u16", &iv) && iv == 60000);
    CHECK(quipu_gguf_get_int(g, "t.i16", &iv) && iv == -30000);
    CHECK(quipu_gguf_get_int(g, "t.u32", &iv) && iv == 4000000000ll);
    CHECK(quipu_gguf_get_int(g, "t.i32", &iv) && iv == -2000000000ll);
    kv = quipu_gguf_find(g, "t.f32");
    CHECK(kv && kv->type == QUIPU_GGUF_FLOAT32 && kv->v.f == (double)1e-5f);
    CHECK(quipu_gguf_get_float(g, "t.f32", &fv) && (float)fv == 1e-5f);
    CHECK(quipu_gguf_get_float(g, "t.u8", &fv) && fv == 200.0); /* integers read as floats */
    CHECK(quipu_gguf_get_bool(g, "t.bool", &bv) && bv == 1);
    CHECK(quipu_gguf_get_bool(g, "t.false", &bv) && bv == 0);
    CHECK(quipu_gguf_get_bool(g, "t.u8", &bv) && bv == 1);
    s = quipu_gguf_get_str(g, "t.str");
    CHECK(s.ptr && s.len == 12 && memcmp(s.ptr, "h\xc3\xa9llo world", 12) == 0);
    kv = quipu_gguf_find(g, "t.u64");
    CHECK(kv && kv->type == QUIPU_GGUF_UINT64 && kv->v.u == UINT64_MAX);
    CHECK(!quipu_gguf_get_int(g, "t.u64", &iv)); /* not representable as int64 */
    CHECK(quipu_gguf_get_int(g, "t.i64", &iv) && iv == INT64_MIN);
    CHECK(quipu_gguf_get_float(g, "t.f64", &fv) && fv == -2.5e300);
    /* type mismatches */
    CHECK(!quipu_gguf_get_int(g, "t.str", &iv));
    CHECK(!quipu_gguf_get_float(g, "t.str", &fv));
    CHECK(!quipu_gguf_get_bool(g, "t.f32", &bv));
    CHECK(quipu_gguf_get_str(g, "t.u8").ptr == NULL);
    CHECK(quipu_gguf_get_str(g, "no.such.key").ptr == NULL);
    CHECK(quipu_gguf_find(g, "no.such.key") == NULL);

    /* arrays */
    kv = quipu_gguf_find(g, "a.u8");
    CHECK(kv && kv->type == QUIPU_GGUF_ARRAY && kv->arr_type == QUIPU_GGUF_UINT8 && kv->arr_count == 3 &&
          kv->arr_strs == NULL);
    CHECK(quipu_gguf_arr_get_int(kv, 2, &iv) && iv == 255);
    CHECK(!quipu_gguf_arr_get_int(kv, 3, &iv)); /* out of range */
    kv = quipu_gguf_find(g, "a.i8");
    CHECK(kv && quipu_gguf_arr_get_int(kv, 0, &iv) && iv == -1 && quipu_gguf_arr_get_int(kv, 1, &iv) && iv == -128 &&
          quipu_gguf_arr_get_int(kv, 2, &iv) && iv == 127);
    kv = quipu_gguf_find(g, "a.u16");
    CHECK(kv && quipu_gguf_arr_get_int(kv, 0, &iv) && iv == 65535 && quipu_gguf_arr_get_int(kv, 1, &iv) && iv == 7);
    kv = quipu_gguf_find(g, "a.i16");
    CHECK(kv && quipu_gguf_arr_get_int(kv, 0, &iv) && iv == -32768 && quipu_gguf_arr_get_int(kv, 1, &iv) && iv == 5);
    kv = quipu_gguf_find(g, "a.u32");
    CHECK(kv && quipu_gguf_arr_get_int(kv, 0, &iv) && iv == 4294967295ll);
    kv = quipu_gguf_find(g, "a.i32");
    CHECK(kv && kv->arr_count == 3 && quipu_gguf_arr_get_int(kv, 0, &iv) && iv == -1 &&
          quipu_gguf_arr_get_float(kv, 2, &fv) && fv == 6.0);
    kv = quipu_gguf_find(g, "a.f32");
    int ok = kv && kv->arr_type == QUIPU_GGUF_FLOAT32 && kv->arr_count == 3;
    for (int i = 0; ok && i < 3; i++) ok = quipu_gguf_arr_get_float(kv, (uint64_t)i, &fv) && (float)fv == arr_f32[i];
    CHECK(ok);
    CHECK(kv && !quipu_gguf_arr_get_int(kv, 0, &iv)); /* floats are not ints */
    kv = quipu_gguf_find(g, "a.bool");
    CHECK(kv && kv->arr_type == QUIPU_GGUF_BOOL && quipu_gguf_arr_get_int(kv, 0, &iv) && iv == 1 &&
          quipu_gguf_arr_get_int(kv, 1, &iv) && iv == 0);
    kv = quipu_gguf_find(g, "a.str");
    ok = kv && kv->arr_type == QUIPU_GGUF_STRING && kv->arr_count == 4 && kv->arr_strs != NULL;
    for (int i = 0; ok && i < 4; i++)
        ok = kv->arr_strs[i].len == strlen(arr_str[i]) && memcmp(kv->arr_strs[i].ptr, arr_str[i], kv->arr_strs[i].len) == 0;
    CHECK(ok);
    CHECK(kv && !quipu_gguf_arr_get_float(kv, 0, &fv)); /* strings are not numbers */
    kv = quipu_gguf_find(g, "a.u64");
    CHECK(kv && !quipu_gguf_arr_get_int(kv, 0, &iv) && quipu_gguf_arr_get_int(kv, 1, &iv) && iv == 42 &&
          quipu_gguf_arr_get_float(kv, 0, &fv) && fv == 9223372036854775808.0);
    kv = quipu_gguf_find(g, "a.i64");
    CHECK(kv && quipu_gguf_arr_get_int(kv, 0, &iv) && iv == -5 && quipu_gguf_arr_get_int(kv, 1, &iv) && iv == INT64_MAX);
    kv = quipu_gguf_find(g, "a.f64");
    ok = kv && kv->arr_count == 3;
    for (int i = 0; ok && i < 3; i++) ok = quipu_gguf_arr_get_float(kv, (uint64_t)i, &fv) && fv == arr_f64[i];
    CHECK(ok);
    CHECK(kv && quipu_gguf_arr_get_float(kv, 1, &fv) && signbit(fv)); /* -0.0 kept */
    kv = quipu_gguf_find(g, "a.empty");
    CHECK(kv && kv->arr_type == QUIPU_GGUF_UINT32 && kv->arr_count == 0 && !quipu_gguf_arr_get_int(kv, 0, &iv));
    CHECK(!quipu_gguf_arr_get_int(quipu_gguf_find(g, "t.u8"), 0, &iv)); /* not an array */
}

static void check_tensors(const quipu_gguf *g, const layout *L, uint32_t align) {
    CHECK(g->alignment == align);
    CHECK(g->data_offset == L->data_start && g->data_offset % align == 0);
    CHECK(g->n_tensors == (uint64_t)N_GOOD);
    for (int i = 0; i < N_GOOD && (uint64_t)i < g->n_tensors; i++) {
        const ttensor *w = &good_tensors[i];
        const quipu_gguf_tensor *t = &g->tensors[i];
        int ok = strcmp(t->name, w->name) == 0 && t->n_dims == w->n_dims && t->type == w->type;
        for (uint32_t d = 0; d < QUIPU_GGUF_MAX_DIMS; d++) ok &= t->ne[d] == (d < w->n_dims ? w->ne[d] : 1);
        ok &= t->offset == L->offset[i] && t->offset % align == 0 && t->nbytes == L->nbytes[i];
        ok &= t->data == g->map.data + g->data_offset + t->offset;
        for (uint64_t k = 0; ok && k < t->nbytes; k++) ok = t->data[k] == pattern(i, k);
        CHECK_MSG(ok, "tensor %d ('%s') read back wrong", i, w->name);
        CHECK(quipu_gguf_find_tensor(g, w->name) == t);
    }
    CHECK(quipu_gguf_find_tensor(g, "nope") == NULL);
    /* a 4-D Q4_K tensor: 2 rows of 256 -> 2 blocks of 144 bytes */
    const quipu_gguf_tensor *t = quipu_gguf_find_tensor(g, "blk.0.ffn_down.weight");
    CHECK(t && t->nbytes == 288);
}

static void test_good(uint32_t version, uint32_t align_key, uint32_t align, int every_byte) {
    gbuf b = {0};
    layout L;
    build(&b, &L, version, kv_all, &align_key, good_tensors, N_GOOD, align);
    char name[64];
    snprintf(name, sizeof name, "good-v%u-a%u.gguf", version, align);
    const char *path = write_buf(name, &b);
    CHECK(quipu_gguf_is_gguf(path));
    quipu_gguf *g = NULL;
    quipu_error err;
    quipu_error_clear(&err);
    quipu_status s = quipu_gguf_open(&g, path, &err);
    CHECK_MSG(s == QUIPU_OK && g, "%s", err.msg);
    if (g) {
        CHECK(g->version == version);
        CHECK(strcmp(g->path, path) == 0);
        CHECK(g->n_kv == (uint64_t)(align_key ? 28 : 27));
        check_metadata(g);
        check_tensors(g, &L, align);
        quipu_gguf_free(g);
    }
    remove(path);
    printf("good file v%u alignment %u (%s): %zu bytes ok\n", version, align, align_key ? "key" : "default", b.n);

    /* a cut anywhere must fail cleanly, naming the file. Every byte of the metadata and tensor
     * infos when `every_byte` (each rewrite costs a few ms of file system time), else a stride;
     * in the data a stride, plus the last 40 bytes. */
    int cut_ok = 0, cuts = 0;
    for (size_t cut = 0; cut < b.n; cut += cut < L.data_start ? (every_byte ? 1 : 5) : (cut + 40 >= b.n ? 1 : 13)) {
        const char *cp = test_write_tmp("cut.gguf", b.p, cut);
        quipu_error_clear(&err);
        g = NULL;
        s = quipu_gguf_open(&g, cp, &err);
        cuts++;
        if (s != QUIPU_OK && g == NULL && strstr(err.msg, cp) && strchr(err.msg, '\n') == NULL)
            cut_ok++;
        else if (cuts - cut_ok <= 3)
            fprintf(stderr, "cut at %zu of %zu: status %d, msg '%s'\n", cut, b.n, (int)s, err.msg);
        quipu_gguf_free(g);
        remove(cp);
    }
    CHECK_MSG(cut_ok == cuts, "%d of %d truncated files failed cleanly", cut_ok, cuts);
    printf("  %d truncated copies all rejected: %s\n", cuts, cut_ok == cuts ? "yes" : "NO");
    free(b.p);
}

/* ---- broken files ---- */

/* Opens a broken file: must fail, with NULL out and a one-line message naming the file and
 * containing `want`. */
static void expect_fail(const char *what, const gbuf *b, quipu_status code, const char *want) {
    char name[96];
    snprintf(name, sizeof name, "bad-%s.gguf", what);
    for (char *c = name; *c; c++)
        if (*c == ' ') *c = '_';
    const char *path = write_buf(name, b);
    quipu_gguf *g = (quipu_gguf *)1;
    quipu_error err;
    quipu_error_clear(&err);
    quipu_status s = quipu_gguf_open(&g, path, &err);
    CHECK_MSG(s != QUIPU_OK && g == NULL, "%s: opened", what);
    CHECK_MSG(err.code == s, "%s: err.code %d vs status %d", what, (int)err.code, (int)s);
    CHECK_MSG(code == QUIPU_OK || s == code, "%s: status %s, want %s (%s)", what, quipu_status_name(s),
              quipu_status_name(code), err.msg);
    CHECK_MSG(strstr(err.msg, path) == err.msg, "%s: message does not start with the path: %s", what, err.msg);
    CHECK_MSG(strstr(err.msg, want) != NULL, "%s: message lacks '%s': %s", what, want, err.msg);
    printf("  %-22s -> %s\n", what, err.msg + strlen(path));
    if (s == QUIPU_OK) quipu_gguf_free(g);
    remove(path);
}

typedef struct kvspec {
    int which;
} kvspec;

/* One broken metadata section per `which`, after a valid first pair. */
static int kv_bad(gbuf *b, const void *arg) {
    int which = ((const kvspec *)arg)->which;
    gb_key(b, "general.architecture", QUIPU_GGUF_STRING), gb_str(b, "llama");
    switch (which) {
    case 0: gb_key(b, "general.architecture", QUIPU_GGUF_STRING), gb_str(b, "gemma3"); return 2; /* duplicate */
    case 1: gb_key(b, "t.bool", QUIPU_GGUF_BOOL), gb_u8(b, 2); return 2;
    case 2: gb_key(b, "t.s", QUIPU_GGUF_STRING), gb_u64(b, 1ull << 62), gb_put(b, "abc", 3); return 2;
    case 3: gb_arr(b, "t.a", QUIPU_GGUF_UINT32, 1ull << 61), gb_u32(b, 1); return 2;
    case 4: gb_arr(b, "t.a", QUIPU_GGUF_ARRAY, 1), gb_u32(b, QUIPU_GGUF_UINT8), gb_u64(b, 0); return 2;
    case 5: gb_key(b, "t.x", 13), gb_u32(b, 0); return 2;
    case 6: gb_key(b, "general.alignment", QUIPU_GGUF_UINT32), gb_u32(b, 48); return 2;
    case 7: gb_key(b, "general.alignment", QUIPU_GGUF_UINT32), gb_u32(b, 0); return 2;
    case 8: gb_arr(b, "t.b", QUIPU_GGUF_BOOL, 3), gb_u8(b, 0), gb_u8(b, 1), gb_u8(b, 7); return 2;
    case 9: gb_arr(b, "t.s", QUIPU_GGUF_STRING, 2), gb_str(b, "ok"), gb_u64(b, 1ull << 40); return 2;
    case 10: gb_u64(b, 1ull << 62), gb_put(b, "key", 3); return 2; /* huge key length */
    case 11: gb_key(b, "general.alignment", QUIPU_GGUF_STRING), gb_str(b, "32"); return 2;
    case 12: gb_arr(b, "t.s", QUIPU_GGUF_STRING, 1ull << 60); return 2;
    }
    return 1;
}

static void test_bad(void) {
    gbuf b = {0};
    layout L;
    const uint32_t a32 = 0;
    printf("broken files:\n");

    /* header */
    build(&b, &L, 3, kv_all, &a32, good_tensors, N_GOOD, 32);
    b.p[0] = 'X';
    expect_fail("bad magic", &b, QUIPU_ERR_FORMAT, "not a GGUF file");
    build(&b, &L, 1, kv_all, &a32, good_tensors, N_GOOD, 32);
    expect_fail("version 1", &b, QUIPU_ERR_UNSUPPORTED, "version 1 is not supported");
    build(&b, &L, 4, kv_all, &a32, good_tensors, N_GOOD, 32);
    expect_fail("version 4", &b, QUIPU_ERR_UNSUPPORTED, "version 4 is not supported");
    build(&b, &L, 0x03000000u, kv_all, &a32, good_tensors, N_GOOD, 32);
    expect_fail("big-endian version", &b, QUIPU_ERR_FORMAT, "big-endian");
    build(&b, &L, 3, kv_all, &a32, good_tensors, N_GOOD, 32);
    patch_u64(&b, L.pos_n_kv, 1ull << 40);
    expect_fail("huge n_kv", &b, QUIPU_ERR_FORMAT, "metadata entries cannot fit");
    build(&b, &L, 3, kv_all, &a32, good_tensors, N_GOOD, 32);
    patch_u64(&b, L.pos_n_tensors, UINT64_MAX);
    expect_fail("huge n_tensors", &b, QUIPU_ERR_FORMAT, "tensor infos cannot fit");
    b.n = 0;
    gb_put(&b, "GGU", 3);
    expect_fail("3-byte file", &b, QUIPU_ERR_FORMAT, "truncated file");

    /* tensor data placement */
    build(&b, &L, 3, kv_all, &a32, good_tensors, N_GOOD, 32);
    patch_u64(&b, L.pos_offset[2], 1ull << 40);
    expect_fail("offset past end", &b, QUIPU_ERR_FORMAT, "tensor info 2 ('output_norm.weight') offset");
    build(&b, &L, 3, kv_all, &a32, good_tensors, N_GOOD, 32);
    patch_u64(&b, L.pos_offset[N_GOOD - 1], L.offset[N_GOOD - 1] + 32);
    expect_fail("data past end", &b, QUIPU_ERR_FORMAT, "tensor info 6 ('iq4xs') extends past end of file");
    build(&b, &L, 3, kv_all, &a32, good_tensors, N_GOOD, 32);
    patch_u64(&b, L.pos_offset[1], L.offset[1] + 8);
    expect_fail("misaligned offset", &b, QUIPU_ERR_FORMAT, "not a multiple of the alignment 32");
    build(&b, &L, 3, kv_all, &a32, good_tensors, N_GOOD, 32);
    patch_u32(&b, L.pos_type[0], 4); /* removed Q4_2 */
    expect_fail("removed type 4", &b, QUIPU_ERR_FORMAT, "unknown tensor type 4");
    build(&b, &L, 3, kv_all, &a32, good_tensors, N_GOOD, 32);
    patch_u32(&b, L.pos_type[3], 99);
    expect_fail("unknown type 99", &b, QUIPU_ERR_FORMAT, "unknown tensor type 99");
    build(&b, &L, 3, kv_all, &a32, good_tensors, N_GOOD, 32);
    b.n -= 1;
    expect_fail("last byte cut", &b, QUIPU_ERR_FORMAT, "extends past end of file");

    /* tensor infos */
    {
        ttensor t[2] = {{"a", 2, {1ull << 32, 1ull << 32}, QUIPU_TYPE_F32}, {"b", 1, {4}, QUIPU_TYPE_F32}};
        build(&b, &L, 3, NULL, NULL, t, 2, 32);
        expect_fail("ne overflow", &b, QUIPU_ERR_FORMAT, "overflows");
        t[0] = (ttensor){"a", 4, {1ull << 62, 1, 1, 4}, QUIPU_TYPE_F32};
        build(&b, &L, 3, NULL, NULL, t, 2, 32);
        expect_fail("ne overflow int64", &b, QUIPU_ERR_FORMAT, "overflows");
        t[0] = (ttensor){"a", 1, {1ull << 63}, QUIPU_TYPE_F32};
        build(&b, &L, 3, NULL, NULL, t, 2, 32);
        expect_fail("negative ne", &b, QUIPU_ERR_FORMAT, "overflows");
        t[0] = (ttensor){"a", 2, {1ull << 61, 2}, QUIPU_TYPE_F32}; /* elements fit, bytes do not */
        build(&b, &L, 3, NULL, NULL, t, 2, 32);
        expect_fail("byte size overflow", &b, QUIPU_ERR_FORMAT, "byte size overflows");
        t[0] = (ttensor){"b", 1, {4}, QUIPU_TYPE_F32};
        build(&b, &L, 3, NULL, NULL, t, 2, 32);
        expect_fail("duplicate tensor", &b, QUIPU_ERR_FORMAT, "duplicate tensor name 'b'");
        t[0] = (ttensor){"a", 5, {4, 1, 1, 1, 1}, QUIPU_TYPE_F32};
        build(&b, &L, 3, NULL, NULL, t, 2, 32);
        expect_fail("n_dims 5", &b, QUIPU_ERR_FORMAT, "n_dims is 5");
        t[0] = (ttensor){"a", 0, {0}, QUIPU_TYPE_F32};
        build(&b, &L, 3, NULL, NULL, t, 2, 32);
        expect_fail("n_dims 0", &b, QUIPU_ERR_FORMAT, "n_dims is 0");
        const char *long_name = "blk.0.a_tensor_name_that_is_far_too_long_for_ggml_to_hold.weight"; /* 64 */
        CHECK(strlen(long_name) == 64);
        t[0] = (ttensor){long_name, 1, {4}, QUIPU_TYPE_F32};
        build(&b, &L, 3, NULL, NULL, t, 2, 32);
        expect_fail("name too long", &b, QUIPU_ERR_FORMAT, "64 bytes long (limit 63)");
        t[0] = (ttensor){"a", 2, {48, 2}, QUIPU_TYPE_Q4_0};
        build(&b, &L, 3, NULL, NULL, t, 2, 32);
        expect_fail("row not whole blocks", &b, QUIPU_ERR_FORMAT, "not a multiple of the Q4_0 block size 32");
        /* a 63-byte name is fine */
        char name63[64];
        memset(name63, 'x', 63);
        name63[63] = '\0';
        t[0] = (ttensor){name63, 1, {4}, QUIPU_TYPE_F32};
        build(&b, &L, 3, NULL, NULL, t, 2, 32);
        const char *path = write_buf("name63.gguf", &b);
        quipu_gguf *g = NULL;
        quipu_error err;
        quipu_error_clear(&err);
        CHECK_MSG(quipu_gguf_open(&g, path, &err) == QUIPU_OK, "%s", err.msg);
        CHECK(g && g->n_kv == 0 && g->alignment == 32 && quipu_gguf_find_tensor(g, t[0].name));
        quipu_gguf_free(g);
        remove(path);
    }

    /* metadata */
    static const struct {
        const char *what;
        quipu_status code;
        const char *want;
    } kvcases[] = {
        {"duplicate key", QUIPU_ERR_FORMAT, "duplicate metadata key 'general.architecture'"},
        {"bool value 2", QUIPU_ERR_FORMAT, "bool value 2"},
        {"huge string length", QUIPU_ERR_FORMAT, "string length 4611686018427387904"},
        {"huge array count", QUIPU_ERR_FORMAT, "array of 2305843009213693952 UINT32"},
        {"nested array", QUIPU_ERR_FORMAT, "nested arrays"},
        {"value type 13", QUIPU_ERR_FORMAT, "invalid value type 13"},
        {"alignment 48", QUIPU_ERR_FORMAT, "general.alignment is 48"},
        {"alignment 0", QUIPU_ERR_FORMAT, "general.alignment is 0"},
        {"bool array value 7", QUIPU_ERR_FORMAT, "element 2 has value 7"},
        {"string in array", QUIPU_ERR_FORMAT, "string 1"},
        {"huge key length", QUIPU_ERR_FORMAT, "metadata key 1"},
        {"alignment string", QUIPU_ERR_FORMAT, "general.alignment has type STRING"},
        {"huge string array", QUIPU_ERR_FORMAT, "array of 1152921504606846976 STRING"},
    };
    const ttensor one[1] = {{"w", 1, {8}, QUIPU_TYPE_F32}};
    for (int i = 0; i < (int)(sizeof kvcases / sizeof kvcases[0]); i++) {
        kvspec k = {i};
        build(&b, &L, 3, kv_bad, &k, one, 1, 32);
        expect_fail(kvcases[i].what, &b, kvcases[i].code, kvcases[i].want);
    }

    /* a missing file and a directory */
    quipu_gguf *g = NULL;
    quipu_error err;
    quipu_error_clear(&err);
    CHECK(quipu_gguf_open(&g, "/nonexistent/x.gguf", &err) == QUIPU_ERR_IO && g == NULL);
    CHECK(strstr(err.msg, "/nonexistent/x.gguf") != NULL);
    CHECK(!quipu_gguf_is_gguf("/nonexistent/x.gguf"));
    free(b.p);
}

/* ---- the real models ---- */

typedef struct model_facts {
    const char *file, *arch;
    int64_t block_count, n_vocab, n_tensors, context_length, embedding_length;
    double rope_base;
    int add_bos;
    int64_t bos, eos;
    const char *tok0, *tok_bos;
    int n_types;
    struct {
        uint32_t type;
        int count;
    } types[6];
} model_facts;

static const model_facts facts[] = {
    {"SmolLM2-135M-Instruct.Q4_1.gguf", "llama", 30, 49152, 272, 8192, 576, 100000.0, 0, 1, 2, "<|endoftext|>",
     "<|im_start|>", 3, {{QUIPU_TYPE_Q4_1, 210}, {QUIPU_TYPE_F32, 61}, {QUIPU_TYPE_Q8_0, 1}}},
    {"gemma-3-270m-q4_k_m.gguf", "gemma3", 18, 262144, 236, 32768, 640, 1000000.0, 1, 2, 1, "<pad>", "<bos>", 5,
     {{QUIPU_TYPE_F32, 109}, {QUIPU_TYPE_Q5_0, 81}, {QUIPU_TYPE_Q4_K, 27}, {QUIPU_TYPE_Q8_0, 10}, {QUIPU_TYPE_Q6_K, 9}}},
};

static int str_eq(quipu_gguf_str s, const char *c) { return s.ptr && s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0; }

static int test_model(const char *dir, const model_facts *f) {
    char path[4096], key[128];
    snprintf(path, sizeof path, "%s/%s", dir, f->file);
    if (!test_file_exists(path)) {
        printf("real model %s absent: skipping its checks (set QUIPU_MODELS)\n", path);
        return 0;
    }
    quipu_gguf *g = NULL;
    quipu_error err;
    quipu_error_clear(&err);
    double t0 = quipu_time_now();
    quipu_status s = quipu_gguf_open(&g, path, &err);
    double dt = quipu_time_now() - t0;
    CHECK_MSG(s == QUIPU_OK, "%s", err.msg);
    if (!g) return 0;
    int64_t iv;
    double fv;
    int bv;
    CHECK(g->version == 3 && g->alignment == 32);
    CHECK(str_eq(quipu_gguf_get_str(g, "general.architecture"), f->arch));
    snprintf(key, sizeof key, "%s.block_count", f->arch);
    CHECK(quipu_gguf_get_int(g, key, &iv) && iv == f->block_count);
    snprintf(key, sizeof key, "%s.context_length", f->arch);
    CHECK(quipu_gguf_get_int(g, key, &iv) && iv == f->context_length);
    snprintf(key, sizeof key, "%s.embedding_length", f->arch);
    CHECK(quipu_gguf_get_int(g, key, &iv) && iv == f->embedding_length);
    snprintf(key, sizeof key, "%s.rope.freq_base", f->arch);
    CHECK(quipu_gguf_get_float(g, key, &fv) && fv == f->rope_base);
    CHECK(quipu_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &bv) && bv == f->add_bos);
    CHECK(quipu_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &iv) && iv == f->bos);
    CHECK(quipu_gguf_get_int(g, "tokenizer.ggml.eos_token_id", &iv) && iv == f->eos);
    const quipu_gguf_kv *tok = quipu_gguf_find(g, "tokenizer.ggml.tokens");
    CHECK(tok && tok->type == QUIPU_GGUF_ARRAY && tok->arr_type == QUIPU_GGUF_STRING &&
          tok->arr_count == (uint64_t)f->n_vocab && tok->arr_strs);
    if (tok && tok->arr_strs && tok->arr_count == (uint64_t)f->n_vocab) {
        CHECK(str_eq(tok->arr_strs[0], f->tok0));
        CHECK(str_eq(tok->arr_strs[f->bos], f->tok_bos));
    }
    const quipu_gguf_kv *tt = quipu_gguf_find(g, "tokenizer.ggml.token_type");
    CHECK(tt && tt->arr_type == QUIPU_GGUF_INT32 && tt->arr_count == (uint64_t)f->n_vocab &&
          quipu_gguf_arr_get_int(tt, (uint64_t)f->bos, &iv) && iv == 3); /* CONTROL */
    CHECK(g->n_tensors == (uint64_t)f->n_tensors);
    for (int k = 0; k < f->n_types; k++) {
        int c = 0;
        for (uint64_t i = 0; i < g->n_tensors; i++) c += g->tensors[i].type == f->types[k].type;
        CHECK_MSG(c == f->types[k].count, "%s: %d %s tensors, want %d", f->file, c, quipu_dtype_name(f->types[k].type),
                  f->types[k].count);
    }
    const quipu_gguf_tensor *te = quipu_gguf_find_tensor(g, "token_embd.weight");
    CHECK(te && te->type == QUIPU_TYPE_Q8_0 && te->n_dims == 2 && te->ne[0] == (uint64_t)f->embedding_length &&
          te->ne[1] == (uint64_t)f->n_vocab);
    CHECK(quipu_gguf_find_tensor(g, "output.weight") == NULL); /* tied embeddings */
    if (strcmp(f->arch, "gemma3") == 0) {
        CHECK(quipu_gguf_get_int(g, "gemma3.attention.sliding_window", &iv) && iv == 512);
        CHECK(quipu_gguf_get_int(g, "gemma3.attention.key_length", &iv) && iv == 256);
        CHECK(quipu_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &bv) && bv == 0);
        const quipu_gguf_kv *sc = quipu_gguf_find(g, "tokenizer.ggml.scores");
        CHECK(sc && sc->arr_type == QUIPU_GGUF_FLOAT32 && sc->arr_count == 262144);
    } else {
        const quipu_gguf_kv *mg = quipu_gguf_find(g, "tokenizer.ggml.merges");
        CHECK(mg && mg->arr_strs && mg->arr_count == 48900 && str_eq(mg->arr_strs[0], "\xc4\xa0 t"));
        CHECK(quipu_gguf_get_int(g, "llama.attention.head_count_kv", &iv) && iv == 3);
    }
    /* every tensor row dequantizes where the type is supported */
    int bad = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        uint64_t rb;
        bad += quipu_dtype_row_bytes(g->tensors[i].type, g->tensors[i].ne[0], &rb) != 0;
    }
    CHECK_MSG(bad == 0, "%s: %d tensors of types quipu cannot dequantize", f->file, bad);
    printf("real model %s: %llu tensors, %llu keys, opened in %.3f s\n", f->file, (unsigned long long)g->n_tensors,
           (unsigned long long)g->n_kv, dt);
    quipu_gguf_free(g);
    return 1;
}

int main(void) {
    test_good(3, 0, 32, 1);  /* default alignment */
    test_good(3, 32, 32, 0); /* explicit 32 */
    test_good(3, 64, 64, 0);
    test_good(2, 64, 64, 0);
    test_bad();

    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_env("QUIPU_MODELS", test_path(test_env("HOME", "/root"), ".cache/quipu/models")));
    int n = 0;
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) n += test_model(dir, &facts[i]);
    if (n == 0) printf("real models: none found under %s; synthetic checks only\n", dir);
    return test_finish("test_gguf");
}
