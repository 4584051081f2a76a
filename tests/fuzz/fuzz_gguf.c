/* fuzz_gguf.c — the GGUF reader: header, metadata, tensor infos (quipu_gguf_open), every getter
 * over what it returns, then `quipu inspect`'s description (architecture, hyper-parameters,
 * tokenizer from the metadata). Seeds: scripts/make-fuzz-seeds.py gguf. */
#include "fuzz_util.h"
#include "gguf.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_path("in.gguf");
    fuzz_write(p, data, size);
    quipu_error err = {0};
    quipu_gguf *g = NULL;
    if (quipu_gguf_open(&g, p, &err) == QUIPU_OK) {
        for (uint64_t i = 0; i < g->n_kv; i++) {
            const quipu_gguf_kv *kv = &g->kv[i];
            int64_t iv;
            double dv;
            int bv;
            (void)quipu_gguf_get_int(g, kv->key, &iv);
            (void)quipu_gguf_get_float(g, kv->key, &dv);
            (void)quipu_gguf_get_bool(g, kv->key, &bv);
            (void)quipu_gguf_get_str(g, kv->key);
            for (uint64_t j = 0; kv->type == QUIPU_GGUF_ARRAY && j < kv->arr_count && j < 64; j++) {
                (void)quipu_gguf_arr_get_int(kv, j, &iv);
                (void)quipu_gguf_arr_get_float(kv, j, &dv);
            }
        }
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const quipu_gguf_tensor *t = &g->tensors[i];
            volatile uint8_t sink = 0;
            if (t->nbytes) sink ^= t->data[0] ^ t->data[t->nbytes - 1]; /* in the map */
            (void)sink;
            if (quipu_gguf_find_tensor(g, t->name) == NULL) abort();
        }
        quipu_gguf_free(g);
        FILE *null = fopen("/dev/null", "w");
        quipu_error e2 = {0};
        (void)quipu_model_describe(p, null, &e2);
        fclose(null);
    }
    return 0;
}
