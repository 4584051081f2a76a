/* fuzz_safetensors_model.c — a Hugging Face checkpoint folder: the input is config.json, the
 * line "@@SAFETENSORS@@", then model.safetensors; tokenizer.json is a fixed small byte-level
 * BPE written here once. Runs quipu_model_load on the CPU backend (config.json ranges, the
 * safetensors header and tiling, shapes, GPT-2's fused QKV) and `inspect`'s description.
 * Seeds: scripts/make-fuzz-seeds.py safetensors_model (the tiny test models). */
#include "backend.h"
#include "fuzz_util.h"
#include "model.h"

static const char k_tokenizer[] =
    "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null,"
    " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},"
    " \"post_processor\": null, \"decoder\": {\"type\": \"ByteLevel\"},"
    " \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"byte_fallback\": false,"
    " \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"\\u0120\": 4, \"d\": 5, \"e\": 6, \"f\": 7},"
    " \"merges\": [\"a b\"]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static quipu_backend *b;
    static char dir[600];
    quipu_error err = {0};
    if (!b) {
        if (quipu_backend_cpu_init(&b, 1, &err) != QUIPU_OK) abort();
        snprintf(dir, sizeof dir, "%s", fuzz_path("ckpt"));
        mkdir(dir, 0700);
        fuzz_write(fuzz_path("ckpt/tokenizer.json"), (const uint8_t *)k_tokenizer, sizeof k_tokenizer - 1);
    }
    size_t cl, sl;
    const uint8_t *st;
    fuzz_split(data, size, "\n@@SAFETENSORS@@\n", &cl, &st, &sl);
    fuzz_write(fuzz_path("ckpt/config.json"), data, cl);
    fuzz_write(fuzz_path("ckpt/model.safetensors"), st, sl);
    quipu_model *m = NULL;
    if (quipu_model_load(&m, dir, b, &err) == QUIPU_OK) {
        quipu_model_free(m);
        FILE *null = fopen("/dev/null", "w");
        quipu_error e2 = {0};
        (void)quipu_model_describe(dir, null, &e2);
        fclose(null);
    }
    return 0;
}
