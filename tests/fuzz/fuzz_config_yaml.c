/* fuzz_config_yaml.c — the experiment config: the input is the YAML file, optionally followed by
 * the line "@@SET@@" and `--set KEY=VALUE` overrides, one a line. Runs quipu_config_load with
 * the built-in benchmark names (every schema check, the overrides' YAML fragments). Seeds:
 * scripts/make-fuzz-seeds.py config_yaml (the YAML files of configs/). */
#include "config.h"
#include "data/loaders.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t yl, ol;
    const uint8_t *ov;
    fuzz_split(data, size, "\n@@SET@@\n", &yl, &ov, &ol);
    const char *p = fuzz_path("run.yaml");
    fuzz_write(p, data, yl);
    char *text = malloc(ol + 1), *lines[16];
    if (!text) return 0;
    memcpy(text, ov, ol);
    text[ol] = '\0';
    int n = 0;
    for (char *s = text; *s && n < 16;) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        if (*s) lines[n++] = s;
        if (!nl) break;
        s = nl + 1;
    }
    quipu_error_list errs;
    quipu_error_list_init(&errs);
    quipu_config *cfg = NULL;
    (void)quipu_config_load(&cfg, p, (const char *const *)lines, n, quipu_benchmark_names(), &errs);
    quipu_config_free(cfg);
    quipu_error_list_free(&errs);
    free(text);
    return 0;
}
