/* crows.c — CrowS-Pairs (nyu-mll, comma-separated) and French CrowS-Pairs with its revised
 * English twin (the "+210" files: TAB-separated despite .csv, quoted like CSV). One pair per row:
 * more = sent_more, less = sent_less, direction +1 stereo / -1 antistereo, category = bias_type
 * lower-cased (the files mix "race-color" and "Race-color"). */
#include <ctype.h>
#include <string.h>

#include "data/data_internal.h"

typedef struct crows_file {
    const char *rel;
    char delim;
    const char *language, *culture;
} crows_file;

static const char *const k_bias_types[] = {"race-color", "gender", "socioeconomic", "nationality", "religion",
                                           "age", "sexual-orientation", "physical-appearance", "disability",
                                           "autre"};

static quipu_status crows_row(ld_ctx *c, const char *file, const char *stem, const quipu_csv *csv, long row,
                              const int *idx, void *user) {
    const crows_file *cf = user;
    const char *more = csv->field[idx[0]], *less = csv->field[idx[1]];
    const char *dir = csv->field[idx[2]], *type = csv->field[idx[3]];
    long line = csv->rec_line;
    /* One French pair (line 130, index 129) has an empty sent_less; the paper's Table 4 counts it
     * in its 1,677, so it is kept (the scorer sees an empty `less`). */
    if (!*more && !*less) return ld_bad_row(c, file, line, "empty sent_more and sent_less");
    int direction;
    if (strcmp(dir, "stereo") == 0) direction = 1;
    else if (strcmp(dir, "antistereo") == 0) direction = -1;
    else return ld_bad_row(c, file, line, "stereo_antistereo is '%s', expected stereo or antistereo", dir);
    char cat[64];
    size_t tl = strlen(type);
    if (tl == 0) return ld_bad_row(c, file, line, "empty bias_type");
    if (tl >= sizeof cat) return ld_bad_row(c, file, line, "unknown bias_type '%.60s...'", type);
    for (size_t i = 0; i <= tl; i++) cat[i] = (char)tolower((unsigned char)type[i]);
    size_t k, nt = sizeof k_bias_types / sizeof k_bias_types[0];
    for (k = 0; k < nt; k++)
        if (strcmp(cat, k_bias_types[k]) == 0) break;
    if (k == nt) return ld_bad_row(c, file, line, "unknown bias_type '%s'", type);

    quipu_item *it = ld_push(c);
    if (!it) return QUIPU_ERR_NOMEM;
    int oom = 0;
    if (ld_item_tags(c, it, stem, row, file, line, cf->language, cf->culture, cat)) goto nomem;
    it->kind = QUIPU_ITEM_PAIR;
    it->more = ld_strdup(more, &oom);
    it->less = ld_strdup(less, &oom);
    it->direction = direction;
    if (oom) goto nomem;
    ld_commit(c);
    return QUIPU_OK;
nomem:
    ld_discard(c);
    return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
}

quipu_status ld_crows(ld_ctx *c, const char *variant) {
    static const crows_file en = {"crows-pairs/data/crows_pairs_anonymized.csv", ',', "en-US", "US"};
    static const crows_file fr = {"crows-pairs-fr/data/crows_pairs_FR_languagearc_contribution+210.csv", '\t',
                                  "fr-FR", "FR"};
    static const crows_file enr = {"crows-pairs-fr/data/crows_pairs_EN_revised+210.csv", '\t', "en-US", "US"};
    const crows_file *cf = strcmp(variant, "fr") == 0 ? &fr : strcmp(variant, "en") == 0 ? &en : &enr;
    static const char *const cols[] = {"sent_more", "sent_less", "stereo_antistereo", "bias_type"};
    char file[4096];
    ld_path(file, sizeof file, c->dir, cf->rel);
    return ld_read_csv(c, file, NULL, cf->delim, cols, 4, crows_row, (void *)cf);
}
