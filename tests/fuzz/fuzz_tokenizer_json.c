/* fuzz_tokenizer_json.c — a tokenizer.json from the internet: the input is the file, then
 * optionally a NUL byte and a text to encode (else a fixed mixed-script text). A file that loads
 * must encode the text, with and without special tokens, to ids inside its vocabulary.
 * Seeds: scripts/make-fuzz-seeds.py tokenizer_json (the shared tokenizers' pipelines over
 * shrunken vocabularies, and small hand-made BPE, WordPiece and Unigram files). */
#include "fuzz_util.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t json_len = nul ? (size_t)(nul - data) : size;
    static const char fixed[] = "Hello wörld 123 ½ — ¿Qué tal? l'été 日本語 \t\n  x";
    const char *text = nul ? (const char *)nul + 1 : fixed;
    size_t text_len = nul ? size - json_len - 1 : sizeof fixed - 1;
    const char *path = fuzz_path("tokenizer.json");
    fuzz_write(path, data, json_len);
    quipu_tokenizer *t = NULL;
    quipu_error err = {0};
    if (quipu_tokenizer_from_json(&t, path, &err) != QUIPU_OK) {
        if (t || !err.msg[0]) abort(); /* a refusal leaves nothing behind and says why */
        return 0;
    }
    quipu_tokenizer_info info;
    quipu_tokenizer_get_info(t, &info);
    if (info.n_vocab <= 0) abort();
    for (int special = 0; special < 2; special++) {
        int32_t *ids = NULL;
        size_t n = 0;
        quipu_error e2 = {0};
        if (quipu_tokenizer_encode(t, text, text_len, special, &ids, &n, &e2) == QUIPU_OK) {
            for (size_t i = 0; i < n; i++)
                if (ids[i] < 0 || ids[i] >= info.n_vocab) abort();
        } else if (!e2.msg[0]) {
            abort();
        }
        free(ids);
    }
    quipu_tokenizer_free(t);
    return 0;
}
