/* test_quant.c — quipu_dequantize against golden values from the gguf Python package
 * (tests/golden/dequant, made by scripts/golden/make_dequant_golden.py): random blocks of every
 * supported type, and rows of the real models' tensors. Equality is bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "testlib.h"

static const char *golden_types[] = {"F32",  "F16",  "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                                     "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};

static uint32_t rd_u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd_u64(const uint8_t *p) { return rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32; }
static uint16_t rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Compares bit patterns; prints the first few mismatches. Returns the mismatch count. */
static uint64_t compare_bits(const char *what, const float *got, const uint8_t *want_le, uint64_t n) {
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t g, w = rd_u32(want_le + 4 * i);
        memcpy(&g, &got[i], 4);
        if (g != w) {
            if (bad < 5) {
                float wf;
                memcpy(&wf, &w, 4);
                fprintf(stderr, "%s: element %llu: got %.9g (0x%08x), want %.9g (0x%08x)\n", what,
                        (unsigned long long)i, got[i], g, wf, w);
            }
            bad++;
        }
    }
    return bad;
}

static void test_golden_type(const char *dir, const char *name) {
    char file[64];
    snprintf(file, sizeof file, "%s.bin", name);
    const char *path = test_path(dir, file);
    quipu_error err;
    quipu_error_clear(&err);
    char *buf = NULL;
    size_t len = 0;
    CHECK_MSG(quipu_read_file(path, &buf, &len, &err) == QUIPU_OK, "%s", err.msg);
    if (!buf) return;
    const uint8_t *p = (const uint8_t *)buf;
    CHECK_MSG(len >= 24 && memcmp(p, "QDQGOLD1", 8) == 0, "%s: bad golden header", path);
    if (len < 24) {
        free(buf);
        return;
    }
    uint32_t type = rd_u32(p + 8), bs = rd_u32(p + 12), bb = rd_u32(p + 16), nb = rd_u32(p + 20);
    CHECK_MSG(quipu_dtype_name(type) && strcmp(quipu_dtype_name(type), name) == 0, "%s: type %u", path, type);
    CHECK_MSG(quipu_dtype_block_size(type) == bs && quipu_dtype_block_bytes(type) == bb,
              "%s: layout (%u, %u) vs quipu (%u, %u)", name, bs, bb, quipu_dtype_block_size(type),
              quipu_dtype_block_bytes(type));
    const uint64_t n = (uint64_t)nb * bs;
    CHECK_MSG(len == 24 + (size_t)nb * bb + n * 4, "%s: size %zu", path, len);
    if (len != 24 + (size_t)nb * bb + n * 4) {
        free(buf);
        return;
    }
    uint64_t rb = 0;
    CHECK(quipu_dtype_row_bytes(type, n, &rb) == 0 && rb == (uint64_t)nb * bb);
    float *y = malloc(n * sizeof *y);
    CHECK_MSG(quipu_dequantize(type, p + 24, y, n, &err) == QUIPU_OK, "%s", err.msg);
    uint64_t bad = compare_bits(name, y, p + 24 + (size_t)nb * bb, n);
    CHECK_MSG(bad == 0, "%s: %llu of %llu values differ from the gguf-py reference", name, (unsigned long long)bad,
              (unsigned long long)n);

    /* block by block gives the same values: blocks are independent */
    if (bs > 1) {
        float *z = malloc(bs * sizeof *z);
        uint64_t bad_blocks = 0;
        for (uint32_t b = 0; b < nb; b++) {
            quipu_dequantize(type, p + 24 + (size_t)b * bb, z, bs, &err);
            if (memcmp(z, y + (size_t)b * bs, bs * sizeof *z) != 0) bad_blocks++;
        }
        CHECK_MSG(bad_blocks == 0, "%s: %llu blocks differ when dequantized one at a time", name,
                  (unsigned long long)bad_blocks);
        free(z);
    }
    printf("golden %-5s %5llu values ok=%d\n", name, (unsigned long long)n, bad == 0);
    free(y);
    free(buf);
}

/* models.bin: rows of real tensors; raw bytes come from the model file. */
static int test_model_rows(const char *dir, const char *models) {
    const char *path = test_path(dir, "models.bin");
    quipu_error err;
    quipu_error_clear(&err);
    char *buf = NULL;
    size_t len = 0;
    if (quipu_read_file(path, &buf, &len, &err) != QUIPU_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return 0;
    }
    const uint8_t *p = (const uint8_t *)buf, *end = p + len;
    CHECK(len >= 12 && memcmp(p, "QDQROWS1", 8) == 0);
    uint32_t n_entries = len >= 12 ? rd_u32(p + 8) : 0;
    p += 12;
    int checked = 0, skipped = 0;
    char last_model[256] = "";
    quipu_gguf *g = NULL;
    for (uint32_t e = 0; e < n_entries; e++) {
        char model[256], tname[128];
        if (end - p < 2) break;
        uint16_t ml = rd_u16(p);
        p += 2;
        if (ml >= sizeof model || end - p < ml + 2) break;
        memcpy(model, p, ml);
        model[ml] = '\0';
        p += ml;
        uint16_t tl = rd_u16(p);
        p += 2;
        if (tl >= sizeof tname || end - p < tl + 20) break;
        memcpy(tname, p, tl);
        tname[tl] = '\0';
        p += tl;
        uint32_t type = rd_u32(p);
        uint64_t row = rd_u64(p + 4), ne0 = rd_u64(p + 12);
        p += 20;
        if ((uint64_t)(end - p) < ne0 * 4) break;
        const uint8_t *want = p;
        p += ne0 * 4;

        if (strcmp(model, last_model) != 0) {
            quipu_gguf_free(g);
            g = NULL;
            snprintf(last_model, sizeof last_model, "%s", model);
            const char *mp = test_path(models, model);
            if (!test_file_exists(mp)) {
                printf("model rows: %s absent: skipping its rows\n", mp);
            } else {
                quipu_error_clear(&err);
                CHECK_MSG(quipu_gguf_open(&g, mp, &err) == QUIPU_OK, "%s", err.msg);
            }
        }
        if (!g) {
            skipped++;
            continue;
        }
        const quipu_gguf_tensor *t = quipu_gguf_find_tensor(g, tname);
        CHECK_MSG(t != NULL, "%s: no tensor '%s'", model, tname);
        if (!t) continue;
        uint64_t rb = 0, nrows = t->ne[1] * t->ne[2] * t->ne[3];
        CHECK_MSG(t->type == type && t->ne[0] == ne0 && row < nrows, "%s %s: type %u ne0 %llu", model, tname, t->type,
                  (unsigned long long)t->ne[0]);
        CHECK(quipu_dtype_row_bytes(type, ne0, &rb) == 0);
        if (t->type != type || t->ne[0] != ne0 || row >= nrows) continue;
        float *y = malloc(ne0 * sizeof *y);
        quipu_error_clear(&err);
        CHECK_MSG(quipu_dequantize(type, t->data + row * rb, y, ne0, &err) == QUIPU_OK, "%s", err.msg);
        char what[300];
        snprintf(what, sizeof what, "%s %s row %llu", model, tname, (unsigned long long)row);
        uint64_t bad = compare_bits(what, y, want, ne0);
        CHECK_MSG(bad == 0, "%s (%s): %llu of %llu values differ", what, quipu_dtype_name(type),
                  (unsigned long long)bad, (unsigned long long)ne0);
        free(y);
        checked++;
    }
    CHECK_MSG(p == end, "%s: trailing or truncated data", path);
    quipu_gguf_free(g);
    free(buf);
    printf("model rows: %d checked, %d skipped (model absent)\n", checked, skipped);
    return checked;
}

static void test_api(void) {
    /* names and layouts */
    CHECK(strcmp(quipu_dtype_name(QUIPU_TYPE_Q4_K), "Q4_K") == 0);
    CHECK(strcmp(quipu_dtype_name(QUIPU_TYPE_BF16), "BF16") == 0);
    CHECK(quipu_dtype_name(4) == NULL);   /* removed Q4_2 */
    CHECK(quipu_dtype_name(999) == NULL);
    CHECK(quipu_dtype_block_size(QUIPU_TYPE_Q6_K) == 256 && quipu_dtype_block_bytes(QUIPU_TYPE_Q6_K) == 210);
    CHECK(quipu_dtype_block_size(QUIPU_TYPE_Q8_K) == 0); /* activation type: not dequantized */
    uint32_t bs = 0, bb = 0;
    CHECK(quipu_dtype_ggml_layout(23, &bs, &bb) == 1 && bs == 256 && bb == 136); /* IQ4_XS */
    CHECK(quipu_dtype_ggml_layout(4, &bs, &bb) == 0);
    uint64_t rb = 0;
    CHECK(quipu_dtype_row_bytes(QUIPU_TYPE_Q4_0, 576, &rb) == 0 && rb == 18 * 18);
    CHECK(quipu_dtype_row_bytes(QUIPU_TYPE_Q4_K, 640, &rb) == -1); /* 640 % 256 != 0 */
    CHECK(quipu_dtype_row_bytes(QUIPU_TYPE_Q8_K, 256, &rb) == -1);

    /* errors */
    uint8_t blk[292] = {0};
    float y[256];
    quipu_error err;
    quipu_error_clear(&err);
    CHECK(quipu_dequantize(QUIPU_TYPE_Q8_K, blk, y, 256, &err) == QUIPU_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "Q8_K") != NULL, "%s", err.msg);
    quipu_error_clear(&err);
    CHECK(quipu_dequantize(77, blk, y, 256, &err) == QUIPU_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "77") != NULL, "%s", err.msg);
    quipu_error_clear(&err);
    CHECK(quipu_dequantize(QUIPU_TYPE_Q4_0, blk, y, 33, &err) == QUIPU_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "33") != NULL, "%s", err.msg);

    /* a hand-made Q8_0 block: d = 0.5 (fp16 0x3800), q = -16..15 -> y = q/2 */
    uint8_t q8[34] = {0x00, 0x38};
    for (int j = 0; j < 32; j++) q8[2 + j] = (uint8_t)(int8_t)(j - 16);
    CHECK(quipu_dequantize(QUIPU_TYPE_Q8_0, q8, y, 32, NULL) == QUIPU_OK);
    int ok = 1;
    for (int j = 0; j < 32; j++) ok &= y[j] == 0.5f * (float)(j - 16);
    CHECK(ok);
    /* a hand-made Q4_1 block: d = 1, m = -8: low nibble j -> element j, high -> j + 16 */
    uint8_t q41[20] = {0x00, 0x3c, 0x00, 0xc8};
    for (int j = 0; j < 16; j++) q41[4 + j] = (uint8_t)(j | (15 - j) << 4);
    CHECK(quipu_dequantize(QUIPU_TYPE_Q4_1, q41, y, 32, NULL) == QUIPU_OK);
    ok = 1;
    for (int j = 0; j < 16; j++) ok &= y[j] == (float)(j - 8) && y[j + 16] == (float)(7 - j);
    CHECK(ok);
}

int main(void) {
    const char *src = test_env("QUIPU_SOURCE_DIR", ".");
    char models[4096], dir[4096];
    snprintf(models, sizeof models, "%s", test_env("QUIPU_MODELS", test_path(test_env("HOME", "/root"), ".cache/quipu/models")));
    snprintf(dir, sizeof dir, "%s/tests/golden/dequant", src);

    test_api();
    for (size_t i = 0; i < sizeof golden_types / sizeof golden_types[0]; i++) test_golden_type(dir, golden_types[i]);
    if (test_model_rows(dir, models) == 0) printf("model rows: none checked (models absent under %s)\n", models);
    return test_finish("test_quant");
}
