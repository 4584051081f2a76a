/* fuzz_data_rows.c — dataset rows through every loader kind: the first input byte picks the
 * loader (generic JSON-lines pairs / mc, or a built-in benchmark whose file the rest of the
 * input becomes: CrowS-Pairs CSV and TSV, BBQ JSON-lines, EsBBQ / SESGO / StereoSet CSV, KoBBQ
 * TSV), with on_bad_row alternating fail / skip. Seeds: scripts/make-fuzz-seeds.py data_rows. */
#include "data/loaders.h"
#include "fuzz_util.h"

typedef struct fz_loader {
    const char *bench; /* NULL: generic */
    const char *rel;   /* file under the datasets folder */
    quipu_item_kind kind;
} fz_loader;

static const fz_loader k_loaders[] = {
    {NULL, "pairs.jsonl", QUIPU_ITEM_PAIR},
    {NULL, "mc.jsonl", QUIPU_ITEM_MC},
    {"crows_pairs_en", "crows-pairs/data/crows_pairs_anonymized.csv", QUIPU_ITEM_PAIR},
    {"crows_pairs_fr", "crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv", QUIPU_ITEM_PAIR},
    {"bbq", "bbq/data/Age.jsonl", QUIPU_ITEM_MC},
    {"esbbq", "esbbq-cabbq/data_es/Age.full.csv", QUIPU_ITEM_MC},
    {"stereoset_intra", "stereoset/third_party_elidek-themis/intrasentence_stereo_set.csv", QUIPU_ITEM_MC},
    {"kobbq", "kobbq/data/KoBBQ_test_samples.tsv", QUIPU_ITEM_MC},
};

static void mkdirs_for(char *path) {
    for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(path, 0700);
        *s = '/';
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int nl = (int)(sizeof k_loaders / sizeof k_loaders[0]);
    const fz_loader *l = &k_loaders[(data[0] & 0x7f) % nl];
    char ds[700], file[1400];
    snprintf(ds, sizeof ds, "%s", fuzz_path("datasets"));
    snprintf(file, sizeof file, "%s/%s", ds, l->rel);
    mkdirs_for(file);
    fuzz_write(file, data + 1, size - 1);
    quipu_load_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.on_bad_row = (data[0] & 0x80) ? QUIPU_BAD_ROW_SKIP : QUIPU_BAD_ROW_FAIL;
    quipu_item *items = NULL;
    size_t n = 0;
    quipu_load_report rep;
    quipu_error err = {0};
    if (l->bench) (void)quipu_load_benchmark(l->bench, ds, &opts, &items, &n, &rep, &err);
    else (void)quipu_load_jsonl(file, l->kind, &opts, &items, &n, &rep, &err);
    quipu_items_free(items, n);
    remove(file);
    return 0;
}
