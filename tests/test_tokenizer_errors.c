/* test_tokenizer_errors.c — bad tokenizer files give one-line errors naming the file, a non-OK
 * status and no tokenizer (run under ASan/UBSan: no crash, no leak); plus tiny well-formed
 * GGUF vocabularies (byte-level BPE and SentencePiece) written here, and encode edge cases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "testlib.h"
#include "tokenizer.h"

/* Expects loading path (tokenizer.json) to fail with code, the message one line with the path
 * and the word `needle` in it. */
static void expect_json_error(const char *name, const char *content, quipu_status code, const char *needle) {
    const char *path = test_write_tmp(name, content, strlen(content));
    quipu_error err = {0};
    quipu_tokenizer *t = (quipu_tokenizer *)&err; /* must be reset to NULL */
    quipu_status st = quipu_tokenizer_from_json(&t, path, &err);
    CHECK_MSG(st == code, "%s: status %s, expected %s (%s)", name, quipu_status_name(st), quipu_status_name(code), err.msg);
    CHECK_MSG(t == NULL, "%s: tokenizer not NULL on error", name);
    CHECK_MSG(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s", name, err.msg);
    CHECK_MSG(strchr(err.msg, '\n') == NULL, "%s: message is not one line: %s", name, err.msg);
    CHECK_MSG(!needle || strstr(err.msg, needle), "%s: message lacks '%s': %s", name, needle, err.msg);
    printf("  %-22s -> %s: %s\n", name, quipu_status_name(st), err.msg);
    quipu_tokenizer_free(t);
}

/* ------------------------------------------------------------------ a small GGUF writer */
typedef struct gbuf {
    unsigned char *p;
    size_t n, cap;
    uint64_t n_kv;
} gbuf;

static void put(gbuf *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void put_u32(gbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(gbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(gbuf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }
static void kv_str(gbuf *b, const char *k, const char *v) { put_str(b, k); put_u32(b, 8); put_str(b, v); b->n_kv++; }
static void kv_u32(gbuf *b, const char *k, uint32_t v) { put_str(b, k); put_u32(b, 4); put_u32(b, v); b->n_kv++; }
static void kv_bool(gbuf *b, const char *k, int v) { unsigned char c = (unsigned char)v; put_str(b, k); put_u32(b, 7); put(b, &c, 1); b->n_kv++; }
static void kv_strs(gbuf *b, const char *k, const char *const *v, size_t n) {
    put_str(b, k);
    put_u32(b, 9);
    put_u32(b, 8);
    put_u64(b, n);
    for (size_t i = 0; i < n; i++) put_str(b, v[i]);
    b->n_kv++;
}
static void kv_i32s(gbuf *b, const char *k, const int32_t *v, size_t n) {
    put_str(b, k);
    put_u32(b, 9);
    put_u32(b, 5);
    put_u64(b, n);
    put(b, v, n * 4);
    b->n_kv++;
}
static void kv_f32s(gbuf *b, const char *k, const float *v, size_t n) {
    put_str(b, k);
    put_u32(b, 9);
    put_u32(b, 6);
    put_u64(b, n);
    put(b, v, n * 4);
    b->n_kv++;
}
/* The file: header, then the kv bytes collected in body. */
static const char *gguf_file(const char *name, gbuf *body) {
    gbuf f = {0};
    put(&f, "GGUF", 4);
    put_u32(&f, 3);
    put_u64(&f, 0);
    put_u64(&f, body->n_kv);
    put(&f, body->p, body->n);
    const char *path = test_write_tmp(name, f.p, f.n);
    free(f.p);
    free(body->p);
    memset(body, 0, sizeof *body);
    return path;
}

static quipu_status load_gguf_tok(const char *path, quipu_tokenizer **t, quipu_error *err) {
    quipu_gguf *g = NULL;
    *t = NULL;
    quipu_status st = quipu_gguf_open(&g, path, err);
    if (st == QUIPU_OK) st = quipu_tokenizer_from_gguf(t, g, err);
    quipu_gguf_free(g);
    return st;
}

static void expect_gguf_error(const char *name, gbuf *body, quipu_status code, const char *needle) {
    const char *path = gguf_file(name, body);
    quipu_error err = {0};
    quipu_tokenizer *t = NULL;
    quipu_status st = load_gguf_tok(path, &t, &err);
    CHECK_MSG(st == code, "%s: status %s, expected %s (%s)", name, quipu_status_name(st), quipu_status_name(code), err.msg);
    CHECK_MSG(t == NULL, "%s: tokenizer not NULL on error", name);
    CHECK_MSG(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s", name, err.msg);
    CHECK_MSG(strchr(err.msg, '\n') == NULL, "%s: message is not one line: %s", name, err.msg);
    CHECK_MSG(!needle || strstr(err.msg, needle), "%s: message lacks '%s': %s", name, needle, err.msg);
    printf("  %-22s -> %s: %s\n", name, quipu_status_name(st), err.msg);
    quipu_tokenizer_free(t);
}

static int ids_are(const quipu_tokenizer *t, const char *text, size_t len, int special, const int32_t *exp, size_t n) {
    int32_t *ids = NULL;
    size_t got = 0;
    quipu_error err = {0};
    quipu_status st = quipu_tokenizer_encode(t, text, len, special, &ids, &got, &err);
    int ok = st == QUIPU_OK && got == n && (n == 0 || !memcmp(ids, exp, n * sizeof *exp));
    if (!ok) {
        fprintf(stderr, "  \"%s\": got", text);
        for (size_t i = 0; i < got; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, " (%s)\n", err.msg);
    }
    free(ids);
    return ok;
}

/* byte-level BPE: a, b, ab, Ġ, Ġa, Ġab */
static void gpt2_body(gbuf *b, const char *pre, const char *const *merges, size_t n_merges) {
    static const char *const toks[] = {"a", "b", "ab", "\xC4\xA0", ("\xC4\xA0" "a"), ("\xC4\xA0" "ab"), "<|endoftext|>"};
    static const int32_t types[] = {1, 1, 1, 1, 1, 1, 3};
    kv_str(b, "general.architecture", "llama");
    kv_str(b, "tokenizer.ggml.model", "gpt2");
    if (pre) kv_str(b, "tokenizer.ggml.pre", pre);
    kv_strs(b, "tokenizer.ggml.tokens", toks, 7);
    kv_i32s(b, "tokenizer.ggml.token_type", types, 7);
    kv_strs(b, "tokenizer.ggml.merges", merges, n_merges);
    kv_u32(b, "tokenizer.ggml.eos_token_id", 6);
}

int main(void) {
    printf("tokenizer.json:\n");
    expect_json_error("missing.json", "", QUIPU_ERR_FORMAT, "JSON");
    {
        quipu_error err = {0};
        quipu_tokenizer *t = NULL;
        quipu_status st = quipu_tokenizer_from_json(&t, "/nonexistent/dir/tokenizer.json", &err);
        CHECK(st == QUIPU_ERR_IO && t == NULL && strstr(err.msg, "/nonexistent/dir/tokenizer.json"));
        printf("  %-22s -> %s: %s\n", "nonexistent", quipu_status_name(st), err.msg);
    }
    expect_json_error("notjson.json", "this is { not json", QUIPU_ERR_FORMAT, "JSON");
    expect_json_error("array.json", "[1, 2, 3]", QUIPU_ERR_FORMAT, NULL);
    expect_json_error("nomodel.json", "{\"added_tokens\": []}", QUIPU_ERR_FORMAT, "model");
    expect_json_error("empty_vocab.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", QUIPU_ERR_FORMAT, "vocab is empty");
    expect_json_error("unknown_model.json", "{\"model\": {\"type\": \"Foo\", \"vocab\": {}}}", QUIPU_ERR_UNSUPPORTED, "Foo");
    expect_json_error("unigram.json", "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0, 2]]}}",
                      QUIPU_ERR_FORMAT, "Unigram vocab[0]");
    expect_json_error("version.json", "{\"version\": \"9.9\", \"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}",
                      QUIPU_ERR_UNSUPPORTED, "9.9");
    expect_json_error("merge_unknown.json",
                      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\", \"a zz\"]}}",
                      QUIPU_ERR_FORMAT, "zz");
    expect_json_error("merge_pair_unknown.json",
                      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [[\"q\", \"b\"]]}}",
                      QUIPU_ERR_FORMAT, "'q'");
    expect_json_error("merge_spaces.json",
                      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b c\"]}}",
                      QUIPU_ERR_FORMAT, "merges[0]");
    expect_json_error("merge_type.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [17]}}",
                      QUIPU_ERR_FORMAT, NULL);
    expect_json_error("vocab_id.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}",
                      QUIPU_ERR_FORMAT, "'a'");
    expect_json_error("normalizer.json",
                      "{\"normalizer\": {\"type\": \"Shout\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      QUIPU_ERR_UNSUPPORTED, "Shout");
    expect_json_error("precompiled.json",
                      "{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"\"}, "
                      "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      QUIPU_ERR_FORMAT, "precompiled_charsmap");
    expect_json_error("pretok.json",
                      "{\"pre_tokenizer\": {\"type\": \"UnicodeScripts\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      QUIPU_ERR_UNSUPPORTED, "UnicodeScripts");
    expect_json_error("badregex.json",
                      "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(ab\"}, \"behavior\": \"Isolated\", "
                      "\"invert\": false}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      QUIPU_ERR_UNSUPPORTED, "regex");
    expect_json_error("behavior.json",
                      "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": \"Sideways\", "
                      "\"invert\": false}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      QUIPU_ERR_FORMAT, "behavior");
    expect_json_error("template.json",
                      "{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<x>\", "
                      "\"type_id\": 0}}], \"special_tokens\": {}}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      QUIPU_ERR_FORMAT, "<x>");

    /* ids are bounded by the entries the file holds (a 60-byte file once asked for a 16 GiB id table) */
    expect_json_error("vocab_huge_id.json", "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"a\":2147483647}}}",
                      QUIPU_ERR_FORMAT, "2147483647");
    expect_json_error("vocab_far_id.json",
                      "{\"added_tokens\": [{\"id\": 3, \"content\": \"<s>\", \"special\": true}], \"model\": {\"type\": "
                      "\"BPE\", \"vocab\": {\"a\": 0, \"b\": 3}, \"merges\": []}}",
                      QUIPU_ERR_FORMAT, "id 3");
    expect_json_error("post_id_range.json",
                      "{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": \"<s> $A\", \"special_tokens\": "
                      "{\"<s>\": {\"id\": \"<s>\", \"ids\": [2000000000], \"tokens\": [\"<s>\"]}}}, \"model\": {\"type\": "
                      "\"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      QUIPU_ERR_FORMAT, "2000000000");
    {
        /* a vocabulary that leaves an id out still loads while its ids stay below the entries present */
        const char *js = "{\"added_tokens\": [{\"id\": 1, \"content\": \"<s>\", \"special\": true}], \"model\": {\"type\": "
                         "\"WordLevel\", \"vocab\": {\"a\": 0, \"b\": 2}}, \"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}}";
        const char *path = test_write_tmp("vocab_hole.json", js, strlen(js));
        quipu_error err = {0};
        quipu_tokenizer *t = NULL;
        CHECK_MSG(quipu_tokenizer_from_json(&t, path, &err) == QUIPU_OK, "%s", err.msg);
        if (t) {
            quipu_tokenizer_info info;
            quipu_tokenizer_get_info(t, &info);
            CHECK(info.n_vocab == 3); /* <s> takes id 2 = the vocab's size, as tokenizers assigns it */
            CHECK(ids_are(t, "b a", 3, 0, (const int32_t[]){2, 0}, 2));
        }
        quipu_tokenizer_free(t);
    }

    /* a small valid tokenizer.json with a NUL token, a byte-fallback and an unk */
    {
        const char *js =
            "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 5, \"content\": \"<s>\", \"single_word\": false, "
            "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}],"
            " \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Whitespace\"},"
            " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": \"<s> $A\", \"pair\": \"<s> $A $B\","
            " \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [5], \"tokens\": [\"<s>\"]}}},"
            " \"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": true, \"byte_fallback\": true,"
            " \"vocab\": {\"<unk>\": 0, \"a\": 1, \"b\": 2, \"ab\": 3, \"\\u0000\": 4, \"<s>\": 5, \"<0x63>\": 6},"
            " \"merges\": [[\"a\", \"b\"]]}}";
        const char *path = test_write_tmp("small.json", js, strlen(js));
        quipu_error err = {0};
        quipu_tokenizer *t = NULL;
        CHECK_MSG(quipu_tokenizer_from_json(&t, path, &err) == QUIPU_OK, "%s", err.msg);
        if (t) {
            CHECK(ids_are(t, "ab", 2, 0, (const int32_t[]){3}, 1));
            CHECK(ids_are(t, "ab", 2, 1, (const int32_t[]){5, 3}, 2));
            CHECK(ids_are(t, "a\0b", 3, 0, (const int32_t[]){1, 4, 2}, 3));
            CHECK(ids_are(t, "abc", 3, 0, (const int32_t[]){3, 6}, 2));    /* c -> <0x63> */
            CHECK(ids_are(t, "abxy", 4, 0, (const int32_t[]){3, 0}, 2));   /* x, y -> one fused <unk> */
            CHECK(ids_are(t, "<s>ab", 5, 0, (const int32_t[]){5, 3}, 2));
            CHECK(ids_are(t, "", 0, 0, NULL, 0));
            CHECK(ids_are(t, "", 0, 1, (const int32_t[]){5}, 1));
            CHECK(ids_are(t, "a\xff" "b", 3, 0, (const int32_t[]){1, 0, 2}, 3)); /* U+FFFD -> unk */
            CHECK(quipu_tokenizer_token_text(t, 3) && !strcmp(quipu_tokenizer_token_text(t, 3), "ab"));
            CHECK(quipu_tokenizer_token_text(t, 99) == NULL);
            CHECK(quipu_tokenizer_token_id(t, "ab", 2) == 3 && quipu_tokenizer_token_id(t, "<s>", 3) == 5);
            CHECK(quipu_tokenizer_token_id(t, "\0", 1) == 4 && quipu_tokenizer_token_id(t, "zz", 2) == -1);
            quipu_tokenizer_info info;
            quipu_tokenizer_get_info(t, &info);
            CHECK(info.n_vocab == 7 && info.add_bos == 1 && info.bos_id == 5 && info.unk_id == 0);
        }
        quipu_tokenizer_free(t);
    }

    printf("GGUF:\n");
    gbuf b = {0};
    static const char *const merges_ok[] = {"a b", "\xC4\xA0 a", ("\xC4\xA0" "a b")};
    gpt2_body(&b, "no-such-pre", merges_ok, 3);
    expect_gguf_error("unknown_pre.gguf", &b, QUIPU_ERR_UNSUPPORTED, "no-such-pre");
    static const char *const merges_bad[] = {"a b", "a zz"};
    gpt2_body(&b, "gpt-2", merges_bad, 2);
    expect_gguf_error("merge_unknown.gguf", &b, QUIPU_ERR_FORMAT, "zz");
    static const char *const merges_3[] = {"a b c"};
    gpt2_body(&b, "gpt-2", merges_3, 1);
    expect_gguf_error("merge_spaces.gguf", &b, QUIPU_ERR_FORMAT, "merges[0]");
    kv_str(&b, "general.architecture", "bert");
    kv_str(&b, "tokenizer.ggml.model", "bert");
    kv_strs(&b, "tokenizer.ggml.tokens", (const char *const[]){"[UNK]"}, 1);
    expect_gguf_error("model_bert.gguf", &b, QUIPU_ERR_UNSUPPORTED, "bert");
    kv_str(&b, "general.architecture", "llama");
    kv_strs(&b, "tokenizer.ggml.tokens", (const char *const[]){"a"}, 1);
    expect_gguf_error("no_model.gguf", &b, QUIPU_ERR_FORMAT, "tokenizer.ggml.model");
    kv_str(&b, "tokenizer.ggml.model", "gpt2");
    kv_i32s(&b, "tokenizer.ggml.tokens", (const int32_t[]){1, 2}, 2);
    expect_gguf_error("tokens_int.gguf", &b, QUIPU_ERR_FORMAT, "tokenizer.ggml.tokens");
    gpt2_body(&b, "gpt-2", merges_ok, 3);
    kv_u32(&b, "tokenizer.ggml.bos_token_id", 99);
    expect_gguf_error("bos_range.gguf", &b, QUIPU_ERR_FORMAT, "bos_token_id");
    kv_str(&b, "tokenizer.ggml.model", "gpt2");
    kv_strs(&b, "tokenizer.ggml.tokens", (const char *const[]){"a", "\xff"}, 2);
    kv_strs(&b, "tokenizer.ggml.merges", (const char *const[]){"a a"}, 1);
    expect_gguf_error("token_utf8.gguf", &b, QUIPU_ERR_FORMAT, "UTF-8");

    /* well-formed byte-level vocabulary */
    gpt2_body(&b, "smollm", merges_ok, 3);
    {
        const char *path = gguf_file("gpt2_ok.gguf", &b);
        quipu_error err = {0};
        quipu_tokenizer *t = NULL;
        CHECK_MSG(load_gguf_tok(path, &t, &err) == QUIPU_OK, "%s", err.msg);
        if (t) {
            CHECK(ids_are(t, "ab ab", 5, 0, (const int32_t[]){2, 3, 2}, 3)); /* "a b" (rank 0) first: Ġ + ab */
            CHECK(ids_are(t, "abc", 3, 0, (const int32_t[]){2}, 1)); /* no unk: unknown bytes are dropped */
            CHECK(ids_are(t, "ab<|endoftext|>", 15, 0, (const int32_t[]){2, 6}, 2));
            CHECK(ids_are(t, "ab", 2, 1, (const int32_t[]){2}, 1)); /* no add_bos key: nothing added */
            quipu_tokenizer_info info;
            quipu_tokenizer_get_info(t, &info);
            CHECK(info.kind == QUIPU_TOK_BPE_BYTELEVEL && !strcmp(info.pre_name, "smollm") && info.eos_id == 6);
        }
        quipu_tokenizer_free(t);
    }
    /* SentencePiece vocabulary without merges: they are rebuilt from the scores */
    {
        static const char *const toks[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", ("\xE2\x96\x81" "a"), "ab",
                                           ("\xE2\x96\x81" "ab"), "<0x63>"};
        static const float scores[] = {0, 0, 0, -1, -2, -3, -4, -5, -6, 0};
        static const int32_t types[] = {2, 3, 3, 1, 1, 1, 1, 1, 1, 6};
        kv_str(&b, "general.architecture", "llama");
        kv_str(&b, "tokenizer.ggml.model", "llama");
        kv_strs(&b, "tokenizer.ggml.tokens", toks, 10);
        kv_f32s(&b, "tokenizer.ggml.scores", scores, 10);
        kv_i32s(&b, "tokenizer.ggml.token_type", types, 10);
        kv_u32(&b, "tokenizer.ggml.bos_token_id", 1);
        kv_u32(&b, "tokenizer.ggml.eos_token_id", 2);
        kv_u32(&b, "tokenizer.ggml.unknown_token_id", 0);
        kv_bool(&b, "tokenizer.ggml.add_eos_token", 1);
        const char *path = gguf_file("spm_ok.gguf", &b);
        quipu_error err = {0};
        quipu_tokenizer *t = NULL;
        CHECK_MSG(load_gguf_tok(path, &t, &err) == QUIPU_OK, "%s", err.msg);
        if (t) {
            CHECK(ids_are(t, "ab", 2, 0, (const int32_t[]){8}, 1));
            CHECK(ids_are(t, "ab", 2, 1, (const int32_t[]){1, 8, 2}, 3)); /* llama: add_bos defaults to true */
            CHECK(ids_are(t, "abc", 3, 0, (const int32_t[]){8, 9}, 2));
            /* control token, then the text after it gets its own prefix (Prepend normalizes each segment, as
             * llama.cpp prefixes the text after a special token) */
            CHECK(ids_are(t, "</s>ab", 6, 0, (const int32_t[]){2, 8}, 2));
            quipu_tokenizer_info info;
            quipu_tokenizer_get_info(t, &info);
            CHECK(info.kind == QUIPU_TOK_SPM && info.add_bos == 1 && info.add_eos == 1 && info.bos_id == 1 &&
                  info.eos_id == 2 && info.unk_id == 0);
        }
        quipu_tokenizer_free(t);
    }
    return test_finish("test_tokenizer_errors");
}
