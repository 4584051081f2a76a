/* fuzz_gguf_model.c — GGUF model set-up: quipu_model_load on the CPU backend (hyper-parameter
 * ranges, tensor shapes, fused QKV splits, dequantization of every type, the tokenizer against
 * the embedding). Seeds: scripts/make-fuzz-seeds.py gguf_model (complete tiny models). */
#include "backend.h"
#include "fuzz_util.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static quipu_backend *b;
    quipu_error err = {0};
    if (!b && quipu_backend_cpu_init(&b, 1, &err) != QUIPU_OK) abort();
    const char *p = fuzz_path("model.gguf");
    fuzz_write(p, data, size);
    quipu_model *m = NULL;
    if (quipu_model_load(&m, p, b, &err) == QUIPU_OK) quipu_model_free(m);
    return 0;
}
