/* test_tokenizer_unigram.c — the Unigram model and the Precompiled normalizer on hand-made files
 * whose expected ids come from tokenizers 0.23.3 (Tokenizer.from_str(file).encode(text).ids, run
 * when this test was written): Viterbi ties, unk fusion, byte fallback, a missing unk_id; scores
 * read as tokenizers reads them (serde_json without float_roundtrip, one ulp from strtod on some
 * 17-digit scores); a hand-built charsmap and corrupt ones (one-line errors naming the file, at
 * load or at the first lookup that meets the corruption, never a crash). The benchmark sentences
 * are checked against Hugging Face in test_tokenizer_golden. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "tok/tok_internal.h"
#include "tokenizer.h"

static quipu_tokenizer *load(const char *name, const char *json, quipu_error *err) {
    const char *path = test_write_tmp(name, json, strlen(json));
    quipu_tokenizer *t = NULL;
    if (quipu_tokenizer_from_json(&t, path, err) != QUIPU_OK) return NULL;
    return t;
}

static int ids_are(const quipu_tokenizer *t, const char *text, const int32_t *exp, size_t n) {
    int32_t *ids = NULL;
    size_t got = 0;
    quipu_error err = {0};
    quipu_status st = quipu_tokenizer_encode(t, text, strlen(text), 0, &ids, &got, &err);
    int ok = st == QUIPU_OK && got == n && (n == 0 || !memcmp(ids, exp, n * sizeof *exp));
    if (!ok) {
        fprintf(stderr, "  \"%s\": got", text);
        for (size_t i = 0; i < got; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, " (%s)\n", err.msg);
    }
    free(ids);
    return ok;
}

#define EXPECT_IDS(t, text, ...)                                                                   \
    do {                                                                                           \
        static const int32_t e_[] = {__VA_ARGS__};                                                 \
        CHECK_MSG(ids_are(t, text, e_, sizeof e_ / sizeof e_[0]), "ids of \"%s\"", text);          \
    } while (0)

#define UNIGRAM(vocab, extra) "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null, " \
    "\"pre_tokenizer\": null, \"post_processor\": null, \"model\": {\"type\": \"Unigram\", " extra "\"vocab\": " vocab "}}"

static void test_viterbi(void) {
    quipu_error err = {0};
    /* all scores equal: an end keeps the path that reached it first (the earliest start) */
    quipu_tokenizer *t = load("uni_ties.json", UNIGRAM("[[\"<unk>\", 0.0], [\"a\", 0.0], [\"b\", 0.0], [\"ab\", 0.0], "
                                                       "[\"bc\", 0.0], [\"c\", 0.0], [\"abc\", -0.5], [\"x\", 0.0]]",
                                                       "\"unk_id\": 0, \"byte_fallback\": false, "), &err);
    CHECK_MSG(t != NULL, "uni_ties: %s", err.msg);
    if (t) {
        EXPECT_IDS(t, "abc", 1, 4);
        EXPECT_IDS(t, "abcabc", 1, 4, 1, 4);
        EXPECT_IDS(t, "bca", 4, 1);
        EXPECT_IDS(t, "ab", 3);
        EXPECT_IDS(t, "cab", 5, 3);
        EXPECT_IDS(t, "abx", 3, 7);
        EXPECT_IDS(t, "qq", 0);                  /* one fused unk */
        EXPECT_IDS(t, "aqqb", 1, 0, 2);
        EXPECT_IDS(t, "\xC3\xA9\xC3\xA9" "a", 0, 1);
        quipu_tokenizer_info info;
        quipu_tokenizer_get_info(t, &info);
        CHECK(info.kind == QUIPU_TOK_UNIGRAM && info.unk_id == 0 && info.n_vocab == 8);
    }
    quipu_tokenizer_free(t);

    /* byte fallback: a fused unk run that is a piece stays one id, else its bytes if all exist, else unk */
    t = load("uni_bytes.json", UNIGRAM("[[\"<unk>\", -1.0], [\"a\", -1.0], [\"\\u00e9\", -1.0], [\"qq\", -3.0], "
                                       "[\"<0x71>\", -5.0], [\"<0xC3>\", -5.0], [\"<0xA9>\", -5.0]]",
                                       "\"unk_id\": 0, \"byte_fallback\": true, "), &err);
    CHECK_MSG(t != NULL, "uni_bytes: %s", err.msg);
    if (t) {
        EXPECT_IDS(t, "aqqa", 1, 3, 1);
        EXPECT_IDS(t, "aqa", 1, 4, 1);
        EXPECT_IDS(t, "q", 4);
        EXPECT_IDS(t, "zq", 0);
        EXPECT_IDS(t, "a\xC3\xA9z", 1, 2, 0);
        EXPECT_IDS(t, "zz", 0);
        EXPECT_IDS(t, "\xC3\xA9", 2);
    }
    quipu_tokenizer_free(t);

    /* no unk_id: known text encodes, an unknown char is an error (tokenizers: MissingUnkId) */
    t = load("uni_nounk.json", UNIGRAM("[[\"a\", -1.0]]", "\"unk_id\": null, "), &err);
    CHECK_MSG(t != NULL, "uni_nounk: %s", err.msg);
    if (t) {
        EXPECT_IDS(t, "a", 0);
        int32_t *ids = NULL;
        size_t n = 0;
        quipu_error e2 = {0};
        quipu_status st = quipu_tokenizer_encode(t, "ab", 2, 0, &ids, &n, &e2);
        CHECK_MSG(st != QUIPU_OK && strstr(e2.msg, "uni_nounk.json") && strstr(e2.msg, "unk_id") && !strchr(e2.msg, '\n'),
                  "missing unk_id: %s", e2.msg);
        printf("  unknown char without unk_id -> %s\n", e2.msg);
        free(ids);
    }
    quipu_tokenizer_free(t);
}

/* Scores: tokenizers reads "-3.6845309734344482" as (double)36845309734344482 / 1e16, one ulp
 * below strtod's value (pairs taken from a converted file, values from tokenizers' to_str()). */
static void test_scores(void) {
    static const struct { const char *text; double strtod_value, tokenizers_value; } cases[] = {
        {"-3.6845309734344482", -0x1.d79eb60000000p+1, -0x1.d79eb5fffffffp+1},
        {"-3.7399675846099854", -0x1.deb7420000000p+1, -0x1.deb7420000001p+1},
        {"-7.2222466468811035", -0x1.ce394a0000000p+2, -0x1.ce394a0000001p+2},
        {"-7.2779741287231445", -0x1.d1ca540000000p+2, -0x1.d1ca53fffffffp+2},
        {"-0.5", -0.5, -0.5},
        {"-12.25", -12.25, -12.25},
        {"-1e-7", -1e-7, -1e-7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double d = strtod(cases[i].text, NULL);
        CHECK_MSG(d == cases[i].strtod_value, "strtod(%s)", cases[i].text);
        CHECK_MSG(tok_serde_f64(d) == cases[i].tokenizers_value, "score %s: %.17g, tokenizers reads %.17g",
                  cases[i].text, tok_serde_f64(d), cases[i].tokenizers_value);
    }
    printf("  %zu scores read as tokenizers reads them\n", sizeof cases / sizeof cases[0]);
}

/* ------------------------------------------------------------------ Precompiled */
static char *b64(const unsigned char *p, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc(n / 3 * 4 + 8), *w = o;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *w++ = A[x >> 18 & 63];
        *w++ = A[x >> 12 & 63];
        *w++ = i + 1 < n ? A[x >> 6 & 63] : '=';
        *w++ = i + 2 < n ? A[x & 63] : '=';
    }
    *w = 0;
    return o;
}

/* A 256-unit double array with the one key "a" -> "A" (root offset 0; unit 97 labels 'a', has a
 * leaf and points to unit 96, whose value is offset 0 of "A\0"), then the replacement text. */
static size_t charsmap(unsigned char *out, uint32_t trie_bytes, uint32_t u97, uint32_t u96, const char *rep, size_t rep_n) {
    uint32_t units[256] = {0};
    units[97] = u97;
    units[96] = u96;
    out[0] = (unsigned char)trie_bytes;
    out[1] = (unsigned char)(trie_bytes >> 8);
    out[2] = (unsigned char)(trie_bytes >> 16);
    out[3] = (unsigned char)(trie_bytes >> 24);
    for (int i = 0; i < 256; i++)
        for (int k = 0; k < 4; k++) out[4 + 4 * i + k] = (unsigned char)(units[i] >> (8 * k));
    memcpy(out + 4 + 1024, rep, rep_n);
    return 4 + 1024 + rep_n;
}

static const char *precompiled_json(const char *b64s) {
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"%s\"}, \"model\": {\"type\": "
             "\"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0], [\"A\", -1.0], [\"b\", -1.0], [\"Ab\", -1.5]]}}",
             b64s);
    return buf;
}

static void expect_load_error(const char *name, const char *json, const char *needle) {
    quipu_error err = {0};
    quipu_tokenizer *t = load(name, json, &err);
    CHECK_MSG(t == NULL && err.code == QUIPU_ERR_FORMAT, "%s: loaded a corrupt charsmap", name);
    CHECK_MSG(strstr(err.msg, name) && !strchr(err.msg, '\n') && strstr(err.msg, needle), "%s: message '%s'", name, err.msg);
    printf("  %-24s -> %s\n", name, err.msg);
    quipu_tokenizer_free(t);
}

static void expect_encode_error(const char *name, const char *json, const char *text, const char *needle) {
    quipu_error err = {0};
    quipu_tokenizer *t = load(name, json, &err);
    CHECK_MSG(t != NULL, "%s: %s", name, err.msg);
    if (!t) return;
    int32_t *ids = NULL;
    size_t n = 0;
    quipu_status st = quipu_tokenizer_encode(t, text, strlen(text), 0, &ids, &n, &err);
    CHECK_MSG(st == QUIPU_ERR_FORMAT && strstr(err.msg, name) && !strchr(err.msg, '\n') && strstr(err.msg, needle),
              "%s: status %s, message '%s'", name, quipu_status_name(st), err.msg);
    printf("  %-24s -> %s\n", name, err.msg);
    free(ids);
    quipu_tokenizer_free(t);
}

static void test_precompiled(void) {
    unsigned char blob[2048];
    size_t n = charsmap(blob, 1024, 0x61 | 0x100 | 1u << 10, 0x80000000u, "A\0", 2);
    char *s = b64(blob, n);
    quipu_error err = {0};
    quipu_tokenizer *t = load("cm_ok.json", precompiled_json(s), &err);
    CHECK_MSG(t != NULL, "cm_ok: %s", err.msg);
    if (t) {
        EXPECT_IDS(t, "ab", 3);      /* "a" -> "A", then "Ab" */
        EXPECT_IDS(t, "bab", 2, 3);
        EXPECT_IDS(t, "a\xCC\x81", 1); /* a + U+0301 is one cluster: "a" is a prefix key, the mark goes */
    }
    quipu_tokenizer_free(t);
    free(s);

    /* corrupt at load */
    n = charsmap(blob, 1024, 0x61 | 0x100 | 1u << 10, 0x80000000u, "\xFF\0", 2);
    s = b64(blob, n);
    expect_load_error("cm_utf8.json", precompiled_json(s), "UTF-8");
    free(s);
    n = charsmap(blob, 4096, 0, 0, "A\0", 2);
    s = b64(blob, n);
    expect_load_error("cm_trie_size.json", precompiled_json(s), "longer than the blob");
    free(s);
    n = charsmap(blob, 0, 0, 0, "A\0", 2);
    s = b64(blob, n);
    expect_load_error("cm_empty_trie.json", precompiled_json(s), "empty trie");
    free(s);
    expect_load_error("cm_short.json", precompiled_json("AAA="), "header");
    expect_load_error("cm_b64_len.json", precompiled_json("AAAAA"), "multiple of 4");
    expect_load_error("cm_b64_char.json", precompiled_json("AA*AAAAA"), "base64 character");
    expect_load_error("cm_b64_pad.json", precompiled_json("AA=AAAAA"), "base64 character");
    expect_load_error("cm_b64_bits.json", precompiled_json("AAAAAB=="), "trailing bits");
    expect_load_error("cm_empty.json", precompiled_json(""), "header");
    expect_load_error("cm_missing.json",
                      "{\"normalizer\": {\"type\": \"Precompiled\"}, \"model\": {\"type\": \"Unigram\", \"vocab\": "
                      "[[\"a\", 0.0]]}}",
                      "precompiled_charsmap");

    /* corrupt where a lookup meets it: the key "a" leads outside the trie or the text */
    n = charsmap(blob, 1024, 0x61 | 0x100 | 1000u << 10, 0x80000000u, "A\0", 2);
    s = b64(blob, n);
    expect_encode_error("cm_leaf_oob.json", precompiled_json(s), "bab", "outside the trie");
    free(s);
    n = charsmap(blob, 1024, 0x61 | 0x100 | 1u << 10, 0x80000000u | 7, "A\0", 2);
    s = b64(blob, n);
    expect_encode_error("cm_value_oob.json", precompiled_json(s), "a", "past the replacement text");
    free(s);
    n = charsmap(blob, 1024, 0x61 | 0x100 | 1u << 10, 0x80000000u | 1, "\xC3\xA9\0", 3);
    s = b64(blob, n);
    expect_encode_error("cm_value_mid.json", precompiled_json(s), "a", "inside a UTF-8 character");
    free(s);
    /* a trie too short for the root's children: 4 units, key byte 'a' lands at unit 97 */
    unsigned char small[4 + 16 + 2] = {16, 0, 0, 0};
    memcpy(small + 20, "A", 2);
    s = b64(small, sizeof small);
    expect_encode_error("cm_node_oob.json", precompiled_json(s), "a", "outside the trie");
    free(s);
}

static void test_bad_models(void) {
    static const struct { const char *name, *model, *needle; } bad[] = {
        {"uni_unk_range.json", "{\"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": [[\"a\", 0.0]]}", "unk_id 5"},
        {"uni_unk_empty.json", "{\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": []}", "empty"},
        {"uni_empty.json", "{\"type\": \"Unigram\", \"vocab\": []}", "empty"},
        {"uni_unk_neg.json", "{\"type\": \"Unigram\", \"unk_id\": -1, \"vocab\": [[\"a\", 0.0]]}", "unk_id"},
        {"uni_pair1.json", "{\"type\": \"Unigram\", \"vocab\": [[\"a\"]]}", "vocab[0]"},
        {"uni_pair3.json", "{\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0], [\"b\", 0.0, 1]]}", "vocab[1]"},
        {"uni_score.json", "{\"type\": \"Unigram\", \"vocab\": [[\"a\", \"x\"]]}", "vocab[0]"},
        {"uni_novocab.json", "{\"type\": \"Unigram\", \"vocab\": {\"a\": 0}}", "vocab"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[512];
        snprintf(json, sizeof json, "{\"model\": %s}", bad[i].model);
        quipu_error err = {0};
        quipu_tokenizer *t = load(bad[i].name, json, &err);
        CHECK_MSG(t == NULL && strstr(err.msg, bad[i].name) && strstr(err.msg, bad[i].needle) && !strchr(err.msg, '\n'),
                  "%s: '%s'", bad[i].name, err.msg);
        printf("  %-24s -> %s\n", bad[i].name, err.msg);
        quipu_tokenizer_free(t);
    }
    /* an old file without "type": a vocab list is a Unigram, as tokenizers' untagged fallback finds */
    quipu_error err = {0};
    quipu_tokenizer *t = load("uni_untyped.json", "{\"model\": {\"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0], [\"a\", -1.0]]}}", &err);
    CHECK_MSG(t != NULL, "uni_untyped: %s", err.msg);
    if (t) EXPECT_IDS(t, "aba", 1, 0, 1);
    quipu_tokenizer_free(t);
}

int main(void) {
    printf("Unigram:\n");
    test_viterbi();
    test_scores();
    test_bad_models();
    printf("Precompiled:\n");
    test_precompiled();
    return test_finish("test_tokenizer_unigram");
}
