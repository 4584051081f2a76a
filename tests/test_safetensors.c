/* test_safetensors.c — the safetensors reader on files written here: a single file with every
 * readable dtype (and one that is not), a sharded checkpoint with its index, then broken
 * headers, tilings and indexes, each of which must fail with a message naming the file. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant.h"
#include "safetensors.h"
#include "testlib.h"

/* Everything written, removed at the end (files first, then their directories). */
#define MAX_CREATED 128
static char created[MAX_CREATED][512];
static int n_created = 0;
static void note_created(const char *path) {
    for (int i = 0; i < n_created; i++)
        if (strcmp(created[i], path) == 0) return;
    if (n_created < MAX_CREATED) snprintf(created[n_created++], sizeof created[0], "%s", path);
}
static void remove_created(void) {
    for (int i = n_created - 1; i >= 0; i--) remove(created[i]); /* remove() also takes empty dirs */
}

/* A fresh directory for one case: $QUIPU_TEST_TMP/<pid>-st-<name>. */
static const char *case_dir(const char *name) {
    static char bufs[4][512];
    static int k = 0;
    char *d = bufs[k++ & 3];
    const char *base = test_env("QUIPU_TEST_TMP", "/tmp");
    mkdir(base, 0755);
    snprintf(d, 512, "%s/%d-st-%s", base, (int)getpid(), name);
    mkdir(d, 0755);
    note_created(d);
    return d;
}

/* Writes u64 header length + header (space-padded to a multiple of 8 like the Python writer)
 * + data. hdr_len_override != 0 writes that length instead of the real one. */
static void write_st(const char *path, const char *json, const void *data, size_t n, uint64_t hdr_len_override) {
    size_t jl = strlen(json), padded = (jl + 7) / 8 * 8;
    uint64_t hl = hdr_len_override ? hdr_len_override : padded;
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    note_created(path);
    fwrite(&hl, 8, 1, f);
    fwrite(json, 1, jl, f);
    for (size_t i = jl; i < padded; i++) fputc(' ', f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    note_created(path);
    fputs(text, f);
    fclose(f);
}

/* ---- a good single file ---- */

static void test_single(void) {
    const char *dir = case_dir("single");
    const char *path = test_path(dir, "model.safetensors");
    /* a.weight F32[4] | b.weight F16[2,3] | c BF16 scalar | i I64[1] | e F32[0,5] (empty) */
    const char *json =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"b.weight\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[16,28]},"
        "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
        "\"c\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[28,30]},"
        "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[30,38]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[38,38]}}";
    uint8_t data[38];
    const float a[4] = {1.0f, 2.0f, 3.0f, -4.5f};
    const uint16_t b[6] = {0x3c00, 0xc000, 0x3800, 0x0000, 0x7bff, 0x0001};
    const uint16_t c = 0x3fc0; /* bf16 1.5 */
    const int64_t i64 = 7;
    memcpy(data, a, 16);
    memcpy(data + 16, b, 12);
    memcpy(data + 28, &c, 2);
    memcpy(data + 30, &i64, 8);
    write_st(path, json, data, sizeof data, 0);

    for (int via_dir = 0; via_dir < 2; via_dir++) {
        quipu_safetensors *st = NULL;
        quipu_error err;
        quipu_error_clear(&err);
        CHECK_MSG(quipu_safetensors_open(&st, via_dir ? dir : path, &err) == QUIPU_OK, "%s", err.msg);
        if (!st) continue;
        CHECK(st->n_shards == 1 && strcmp(st->shard_paths[0], path) == 0 && strcmp(st->dir, dir) == 0);
        CHECK(st->n_tensors == 5);
        /* sorted by name */
        int sorted = 1;
        for (uint64_t k = 1; k < st->n_tensors; k++) sorted &= strcmp(st->tensors[k - 1].name, st->tensors[k].name) < 0;
        CHECK(sorted);
        const uint8_t *base = st->maps[0].data + 8 + (strlen(json) + 7) / 8 * 8;
        const quipu_st_tensor *t = quipu_safetensors_find(st, "a.weight");
        CHECK(t && t->type == QUIPU_TYPE_F32 && strcmp(t->dtype, "F32") == 0 && t->n_dims == 1 && t->shape[0] == 4 &&
              t->nbytes == 16 && t->data == base && t->shard == 0);
        float y[6];
        if (t) {
            CHECK_MSG(quipu_safetensors_read_f32(st, t, y, 4, &err) == QUIPU_OK, "%s", err.msg);
            CHECK(memcmp(y, a, sizeof a) == 0);
            quipu_error_clear(&err);
            CHECK(quipu_safetensors_read_f32(st, t, y, 3, &err) == QUIPU_ERR_INVALID && strstr(err.msg, path));
            quipu_error_clear(&err);
        }
        t = quipu_safetensors_find(st, "b.weight");
        CHECK(t && t->type == QUIPU_TYPE_F16 && t->n_dims == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
              t->nbytes == 12 && t->data == base + 16 && quipu_st_tensor_numel(t) == 6);
        if (t) {
            CHECK_MSG(quipu_safetensors_read_f32(st, t, y, 6, &err) == QUIPU_OK, "%s", err.msg);
            CHECK(y[0] == 1.0f && y[1] == -2.0f && y[2] == 0.5f && y[3] == 0.0f && y[4] == 65504.0f &&
                  y[5] == 0x1p-24f);
        }
        t = quipu_safetensors_find(st, "c");
        CHECK(t && t->type == QUIPU_TYPE_BF16 && t->n_dims == 0 && quipu_st_tensor_numel(t) == 1 && t->nbytes == 2);
        if (t) CHECK(quipu_safetensors_read_f32(st, t, y, 1, &err) == QUIPU_OK && y[0] == 1.5f);
        t = quipu_safetensors_find(st, "e");
        CHECK(t && t->n_dims == 2 && t->shape[0] == 0 && quipu_st_tensor_numel(t) == 0 && t->nbytes == 0);
        /* a dtype quipu does not read: kept, rejected when read */
        t = quipu_safetensors_find(st, "i");
        CHECK(t && t->type == QUIPU_TYPE_COUNT && strcmp(t->dtype, "I64") == 0 && t->nbytes == 8 && t->data == base + 30);
        if (t) {
            quipu_error_clear(&err);
            CHECK(quipu_safetensors_read_f32(st, t, y, 1, &err) == QUIPU_ERR_UNSUPPORTED);
            CHECK_MSG(strstr(err.msg, path) == err.msg && strstr(err.msg, "I64"), "%s", err.msg);
            printf("  read I64 -> %s\n", err.msg + strlen(path));
        }
        CHECK(quipu_safetensors_find(st, "missing") == NULL);
        CHECK(quipu_safetensors_find(st, "__metadata__") == NULL);
        quipu_safetensors_free(st);
    }
    printf("single file: ok\n");
}

/* ---- a good sharded checkpoint ---- */

static const char *shard1_json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                 "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]}}";
static const char *shard2_json = "{\"__metadata__\":{\"format\":\"pt\"},"
                                 "\"c\":{\"dtype\":\"BF16\",\"shape\":[3,1],\"data_offsets\":[0,6]}}";
#define SHARD1 "model-00001-of-00002.safetensors"
#define SHARD2 "model-00002-of-00002.safetensors"
static const char *good_index = "{\"metadata\":{\"total_size\":18},\"weight_map\":{\"c\":\"" SHARD2
                                "\",\"a\":\"" SHARD1 "\",\"b\":\"" SHARD1 "\"}}";

static void write_shards(const char *dir) {
    const float a[2] = {0.25f, -8.0f};
    const uint16_t b[2] = {0x4000, 0xbc00}; /* 2, -1 */
    uint8_t d1[12];
    memcpy(d1, a, 8);
    memcpy(d1 + 8, b, 4);
    const uint16_t c[3] = {0x4040, 0xc080, 0x0000}; /* 3, -4, 0 */
    write_st(test_path(dir, SHARD1), shard1_json, d1, sizeof d1, 0);
    write_st(test_path(dir, SHARD2), shard2_json, c, sizeof c, 0);
}

static void test_sharded(void) {
    const char *dir = case_dir("sharded");
    write_shards(dir);
    char index[4096];
    snprintf(index, sizeof index, "%s", test_path(dir, "model.safetensors.index.json"));
    write_text(index, good_index);
    for (int via_dir = 0; via_dir < 2; via_dir++) {
        quipu_safetensors *st = NULL;
        quipu_error err;
        quipu_error_clear(&err);
        CHECK_MSG(quipu_safetensors_open(&st, via_dir ? dir : index, &err) == QUIPU_OK, "%s", err.msg);
        if (!st) continue;
        /* shards in order of first mention in weight_map */
        CHECK(st->n_shards == 2 && strstr(st->shard_paths[0], SHARD2) && strstr(st->shard_paths[1], SHARD1));
        CHECK(st->n_tensors == 3);
        const quipu_st_tensor *a = quipu_safetensors_find(st, "a"), *b = quipu_safetensors_find(st, "b"),
                              *c = quipu_safetensors_find(st, "c");
        CHECK(a && b && c);
        if (a && b && c) {
            CHECK(a->shard == 1 && b->shard == 1 && c->shard == 0);
            CHECK(c->n_dims == 2 && c->shape[0] == 3 && c->shape[1] == 1 && c->type == QUIPU_TYPE_BF16);
            CHECK(a->data == st->maps[1].data + 8 + (strlen(shard1_json) + 7) / 8 * 8);
            float y[3];
            CHECK(quipu_safetensors_read_f32(st, a, y, 2, &err) == QUIPU_OK && y[0] == 0.25f && y[1] == -8.0f);
            CHECK(quipu_safetensors_read_f32(st, b, y, 2, &err) == QUIPU_OK && y[0] == 2.0f && y[1] == -1.0f);
            CHECK(quipu_safetensors_read_f32(st, c, y, 3, &err) == QUIPU_OK && y[0] == 3.0f && y[1] == -4.0f &&
                  y[2] == 0.0f);
        }
        quipu_safetensors_free(st);
    }
    printf("sharded checkpoint: ok\n");
}

/* ---- broken inputs ---- */

static void expect_fail(const char *what, const char *open_path, const char *want_path, const char *want) {
    quipu_safetensors *st = (quipu_safetensors *)1;
    quipu_error err;
    quipu_error_clear(&err);
    quipu_status s = quipu_safetensors_open(&st, open_path, &err);
    CHECK_MSG(s != QUIPU_OK && st == NULL, "%s: opened", what);
    CHECK_MSG(err.code == s, "%s: err.code %d vs %d", what, (int)err.code, (int)s);
    CHECK_MSG(strstr(err.msg, want_path) == err.msg, "%s: message does not start with %s: %s", what, want_path,
              err.msg);
    CHECK_MSG(strstr(err.msg, want) != NULL, "%s: message lacks '%s': %s", what, want, err.msg);
    CHECK_MSG(strchr(err.msg, '\n') == NULL, "%s: multi-line message", what);
    printf("  %-24s -> %s\n", what, strstr(err.msg, want_path) == err.msg ? err.msg + strlen(want_path) : err.msg);
    if (s == QUIPU_OK) quipu_safetensors_free(st);
}

/* A single-file case: header json + n data bytes (zeros). */
static void bad_single(const char *what, const char *json, size_t n, uint64_t hdr_len, const char *want) {
    static int case_no = 0;
    char name[64];
    snprintf(name, sizeof name, "bad%02d", ++case_no);
    const char *dir = case_dir(name);
    char path[4096];
    snprintf(path, sizeof path, "%s", test_path(dir, "model.safetensors"));
    uint8_t *data = calloc(n ? n : 1, 1);
    write_st(path, json, data, n, hdr_len);
    free(data);
    expect_fail(what, path, path, want);
}

#define T_F32(name, n, b, e) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[" #n "],\"data_offsets\":[" #b "," #e "]}"

static void test_bad(void) {
    printf("broken inputs:\n");
    /* header length */
    bad_single("header length past end", "{}", 0, 1000, "header length 1000 extends past end of file");
    bad_single("header length > limit", "{}", 0, 100000001ull, "exceeds the limit of 100000000");
    bad_single("header length 2^64-1", "{}", 0, UINT64_MAX, "exceeds the limit");
    {
        const char *dir = case_dir("tiny");
        char path[4096];
        snprintf(path, sizeof path, "%s", test_path(dir, "model.safetensors"));
        write_text(path, "abc");
        expect_fail("3-byte file", path, path, "header length is missing");
    }
    /* JSON */
    bad_single("invalid JSON", "{\"a\": }", 0, 0, "invalid JSON header");
    bad_single("JSON not an object", "[1, 2]", 0, 0, "not an object");
    bad_single("duplicate tensor key", "{" T_F32("a", 2, 0, 8) "," T_F32("a", 2, 8, 16) "}", 16, 0, "duplicate");
    bad_single("entry not an object", "{\"a\": 5}", 0, 0, "tensor 'a': header entry is not a JSON object");
    bad_single("missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, 0, "\"shape\"");
    bad_single("negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, 0,
               "shape[0] is not a non-negative integer");
    bad_single("float dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, 0, "shape[0]");
    bad_single("9 dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, 0,
               "9 dimensions");
    bad_single("shape overflow",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
               0, "overflows");
    bad_single("begin > end", "{" T_F32("a", 1, 4, 0) "}", 4, 0, "0 <= begin <= end");
    bad_single("three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, 0,
               "data_offsets must be");
    bad_single("bad __metadata__", "{\"__metadata__\":{\"x\":1}," T_F32("a", 1, 0, 4) "}", 4, 0, "__metadata__");
    /* dtypes and sizes */
    bad_single("unknown dtype", "{\"a\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0,
               "unknown dtype 'Q9'");
    bad_single("shape/size mismatch", "{" T_F32("a", 3, 0, 8) "}", 8, 0, "shape needs 12 bytes of F32 but data_offsets [0, 8] span 8");
    bad_single("F4 odd count", "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", 1, 0,
               "not a whole number of bytes");
    /* tiling */
    bad_single("data_offsets past end", "{" T_F32("a", 4, 0, 16) "}", 8, 0, "past end of the data buffer");
    bad_single("gap", "{" T_F32("a", 2, 0, 8) "," T_F32("b", 2, 12, 20) "}", 20, 0, "gap: bytes [8, 12)");
    bad_single("gap at start", "{" T_F32("a", 2, 4, 12) "}", 12, 0, "gap: bytes [0, 4)");
    bad_single("overlap", "{" T_F32("a", 2, 0, 8) "," T_F32("b", 2, 4, 12) "}", 12, 0,
               "tensor 'b' data_offsets [4, 12] overlap");
    bad_single("trailing bytes", "{" T_F32("a", 2, 0, 8) "}", 12, 0, "data buffer has 12 bytes but the tensors cover only the first 8");

    /* directories and indexes */
    {
        const char *dir = case_dir("empty");
        expect_fail("no model files", dir, dir, "no model.safetensors or model.safetensors.index.json");
        expect_fail("missing path", test_path(dir, "nothing.safetensors"), dir, "no such file");
    }
    {
        const char *dir = case_dir("missing-shard");
        write_shards(dir);
        char index[4096];
        snprintf(index, sizeof index, "%s", test_path(dir, "model.safetensors.index.json"));
        write_text(index, "{\"weight_map\":{\"a\":\"" SHARD1 "\",\"b\":\"" SHARD1
                          "\",\"c\":\"model-00003-of-00003.safetensors\"}}");
        expect_fail("shard missing", dir, index, "shard 'model-00003-of-00003.safetensors' named in weight_map is missing");
        write_text(index, "{\"weight_map\":{\"a\":\"" SHARD1 "\",\"b\":\"" SHARD2 "\",\"c\":\"" SHARD2 "\"}}");
        expect_fail("index names wrong shard", dir, index, "weight_map puts tensor 'b' in '" SHARD2 "' but it is in " SHARD1);
        write_text(index, "{\"weight_map\":{\"a\":\"" SHARD1 "\",\"x\":\"" SHARD1 "\",\"c\":\"" SHARD2 "\"}}");
        expect_fail("tensor not in shard", dir, index, "tensor 'x' in '" SHARD1 "' but no shard holds it");
        write_text(index, "{\"weight_map\":{\"a\":\"../" SHARD1 "\"}}");
        expect_fail("shard outside dir", dir, index, "not a plain file name");
        write_text(index, "{\"metadata\":{}}");
        expect_fail("no weight_map", dir, index, "missing or empty \"weight_map\"");
        write_text(index, "{\"weight_map\": [}");
        expect_fail("index invalid JSON", dir, index, "invalid JSON");
        write_text(index, "{\"weight_map\":{\"a\":3}}");
        expect_fail("index value not string", dir, index, "weight_map entry 'a' is not a file name");
        /* a broken shard is reported with the shard's own path */
        write_text(index, good_index);
        write_st(test_path(dir, SHARD2), "{\"c\":{\"dtype\":\"BF16\",\"shape\":[3,1],\"data_offsets\":[0,6]}}", "xy", 2, 0);
        expect_fail("broken shard", dir, test_path(dir, SHARD2), "past end of the data buffer");
    }
    {
        /* the same tensor name in two shards */
        const char *dir = case_dir("dup-shards");
        write_shards(dir);
        const float z[2] = {0, 0};
        write_st(test_path(dir, SHARD2), "{" T_F32("a", 2, 0, 8) "}", z, 8, 0);
        char index[4096];
        snprintf(index, sizeof index, "%s", test_path(dir, "model.safetensors.index.json"));
        write_text(index, "{\"weight_map\":{\"a\":\"" SHARD1 "\",\"b\":\"" SHARD1 "\",\"c\":\"" SHARD2 "\"}}");
        expect_fail("name in two shards", dir, dir, "tensor 'a' is also in");
    }
}

int main(void) {
    test_single();
    test_sharded();
    test_bad();
    remove_created();
    return test_finish("test_safetensors");
}
