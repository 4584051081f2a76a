/* fuzz_template.c — template benchmark definitions (`quipu expand`, `format: template`): the input
 * is the definition's YAML. Runs quipu_template_expand (every check, the expansion with agreement
 * and name-swap keys) and, when it succeeds, writes the items as JSON lines, which the generic
 * loader of their kind must read back to the same count. Seeds: scripts/make-fuzz-seeds.py
 * template (configs/templates/ and small hand-made definitions). */
#include "data/loaders.h"
#include "fuzz_util.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_path("def.yaml");
    quipu_error_list errs;
    quipu_error_list_init(&errs);
    quipu_template_set *s = NULL;
    if (quipu_template_expand(p, (const char *)data, size, &s, &errs) == QUIPU_OK && s) {
        const char *out = fuzz_path("items.jsonl");
        FILE *f = fopen(out, "w");
        quipu_error e = {0};
        int wrote = f && quipu_template_write_jsonl(s, f, &e) == QUIPU_OK;
        if (f) fclose(f);
        if (wrote) {
            quipu_load_opts o = {.path = out, .label = "t"};
            quipu_item *it = NULL;
            size_t n = 0;
            quipu_load_report rep;
            quipu_status st = quipu_load_jsonl(out, quipu_template_kind(s), &o, &it, &n, &rep, &e);
            /* what the expander writes, its own loader must read back whole */
            if (st != QUIPU_OK || n != quipu_template_count(s)) __builtin_trap();
            quipu_items_free(it, n);
        }
    }
    quipu_template_free(s);
    quipu_error_list_free(&errs);
    return 0;
}
