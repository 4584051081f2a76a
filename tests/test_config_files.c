/* test_config_files.c — every config in configs/ parses and validates against the loaders' own
 * list of benchmarks, with files checked: models where the model cache has them (a missing model
 * only skips that check, saying so), the datasets folder where ../shared/datasets is present.
 * Also keeps config.c's built-in benchmark and metric lists equal to the loaders' and the
 * metrics'. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "data/loaders.h"
#include "metrics_internal.h"
#include "testlib.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int has(const char *const *list, const char *s) {
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

static void check_builtin_list(void) {
    const char *const *loaders = quipu_benchmark_names();
    for (int i = 0; loaders[i]; i++)
        CHECK_MSG(has(quipu_config_builtin_benchmarks, loaders[i]), "loader '%s' is missing from quipu_config_builtin_benchmarks",
                  loaders[i]);
    for (int i = 0; quipu_config_builtin_benchmarks[i]; i++)
        CHECK_MSG(has(loaders, quipu_config_builtin_benchmarks[i]), "quipu_config_builtin_benchmarks names '%s', which no loader has",
                  quipu_config_builtin_benchmarks[i]);
}

static void check_metric_list(void) {
    const char *names[MX_N_METRICS + 1];
    for (int m = 0; m < MX_N_METRICS; m++) names[m] = mx_metrics[m].name;
    names[MX_N_METRICS] = NULL;
    for (int i = 0; names[i]; i++)
        CHECK_MSG(has(quipu_config_builtin_metrics, names[i]), "metric '%s' is missing from quipu_config_builtin_metrics", names[i]);
    for (int i = 0; quipu_config_builtin_metrics[i]; i++)
        CHECK_MSG(has(names, quipu_config_builtin_metrics[i]), "quipu_config_builtin_metrics names '%s', which src/metrics.c lacks",
                  quipu_config_builtin_metrics[i]);
}

int main(void) {
    const char *src = test_env("QUIPU_SOURCE_DIR", ".");
    const char *shared = test_env("QUIPU_SHARED", "../shared");
    const char *datasets = test_path(shared, "datasets");
    int have_datasets = test_file_exists(test_path(datasets, "MANIFEST.md"));
    if (have_datasets)
        setenv("QUIPU_DATASETS", datasets, 1);
    else
        printf("note: %s is absent: datasets_dir is not checked\n", datasets);
    /* the configs name ${QUIPU_MODELS:-~/.cache/quipu/models}; ctest sets QUIPU_MODELS */

    check_builtin_list();
    check_metric_list();

    char dir[4096];
    snprintf(dir, sizeof dir, "%s/configs", src);
    DIR *d = opendir(dir);
    if (!d) return test_skip("cannot open %s", dir);
    char *names[256];
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n < 256) {
        size_t l = strlen(ent->d_name);
        if (l > 5 && !strcmp(ent->d_name + l - 5, ".yaml")) names[n++] = strdup(ent->d_name);
    }
    closedir(d);
    /* configs/repro/: the published numbers as configs (docs/reproduce.md), each with `expected:` */
    char rdir[4200];
    snprintf(rdir, sizeof rdir, "%s/repro", dir);
    int n_repro = 0;
    if ((d = opendir(rdir))) {
        while ((ent = readdir(d)) && n < 256) {
            size_t l = strlen(ent->d_name);
            if (l > 5 && !strcmp(ent->d_name + l - 5, ".yaml")) {
                names[n++] = quipu_asprintf("repro/%s", ent->d_name);
                n_repro++;
            }
        }
        closedir(d);
    }
    CHECK_MSG(n_repro >= 3, "configs/repro holds %d configs, expected the 3 of docs/reproduce.md", n_repro);
    qsort(names, (size_t)n, sizeof *names, cmp_str);

    static const char *const required[] = {"demo.yaml",  "sweep.yaml", "crows_pairs_en.yaml", "crows_pairs_fr.yaml", "bbq.yaml",
                                           "mbbq.yaml",  "esbbq.yaml", "cabbq.yaml",          "sesgo.yaml",          "stereoset.yaml",
                                           "kobbq.yaml", "seegull.yaml", NULL};
    for (int i = 0; required[i]; i++) {
        int found = 0;
        for (int k = 0; k < n; k++) found |= !strcmp(names[k], required[i]);
        CHECK_MSG(found, "configs/%s is missing", required[i]);
    }

    for (int k = 0; k < n; k++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        quipu_config_options o = {.known_benchmarks = quipu_benchmark_names(), .skip_path_checks = 1};
        quipu_config *c = NULL;
        quipu_error_list e;
        quipu_error_list_init(&e);
        quipu_status st = quipu_config_load_opts(&c, path, NULL, 0, &o, &e);
        CHECK_MSG(st == QUIPU_OK, "%s: %s", names[k], quipu_status_name(st));
        quipu_error_list_print(&e, stderr);
        quipu_error_list_free(&e);
        if (!c) continue;

        /* now with the files: models that are in the cache, datasets when staged */
        int models_present = 1;
        for (int i = 0; i < c->n_models; i++)
            if (!test_file_exists(c->models[i].path)) {
                printf("note: %s: model %s is absent (%s): its path check is skipped\n", names[k], c->models[i].name, c->models[i].path);
                models_present = 0;
            }
        if (models_present && have_datasets) {
            quipu_config *c2 = NULL;
            o.skip_path_checks = 0;
            quipu_error_list_init(&e);
            st = quipu_config_load_opts(&c2, path, NULL, 0, &o, &e);
            CHECK_MSG(st == QUIPU_OK, "%s with file checks: %s", names[k], quipu_status_name(st));
            quipu_error_list_print(&e, stderr);
            quipu_error_list_free(&e);
            quipu_config_free(c2);
        }

        /* every config says what it is for and has a stable hash */
        char hex[65];
        CHECK(quipu_config_hash(c, hex, NULL) == QUIPU_OK && strlen(hex) == 64);
        if (!strcmp(names[k], "demo.yaml")) {
            int total = 0;
            for (int i = 0; i < c->n_benchmarks; i++) {
                /* the demo must stay a subset: every benchmark limited, small enough for two cores */
                CHECK_MSG(c->benchmarks[i].limit >= 20 && c->benchmarks[i].limit <= 200, "demo: %s has limit %lld",
                          c->benchmarks[i].name, (long long)c->benchmarks[i].limit);
                total += (int)c->benchmarks[i].limit;
            }
            CHECK(c->n_models == 1 && c->n_benchmarks == 3 && total <= 800);
        }
        if (!strcmp(names[k], "sweep.yaml")) CHECK(c->n_models == 2);
        if (!strncmp(names[k], "repro/", 6)) CHECK_MSG(c->n_expected > 0, "%s: no expected: list of published numbers", names[k]);
        printf("%s: ok (%d model%s, %d benchmark%s, hash %.16s)\n", names[k], c->n_models, c->n_models == 1 ? "" : "s", c->n_benchmarks,
               c->n_benchmarks == 1 ? "" : "s", hex);
        quipu_config_free(c);
    }
    for (int k = 0; k < n; k++) free(names[k]);
    return test_finish("test_config_files");
}
