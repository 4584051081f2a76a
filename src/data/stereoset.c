/* stereoset.c — StereoSet dev, intrasentence and intersentence, as multiple choice over its three
 * sentences, from the third-party CSV conversions (elidek-themis; canonical dev.json is 4 MiB or
 * more and not staged). Their `choices` is a numpy array repr always ordered [stereotype,
 * anti-stereotype, unrelated], so roles = "sau" and there is no gold label.
 *   intersentence: context = the context sentence, choices = the three continuations.
 *   intrasentence: the sentence up to BLANK is the context and each choice is its fill plus the
 *     rest of the sentence, so log P(choice | context) ranks the three full sentences exactly as
 *     their sentence log-probabilities do (the shared prefix cancels). The conversion kept only
 *     the first word of each fill (multi-word fills are truncated: MANIFEST §11). Two prompts
 *     hold BLANK twice (lines 1160 and 1935): the fill goes to the first, the second stays as
 *     written, as the conversion gives no second fill.
 * group = the target term (SS and LMS are averaged per target term). */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

static quipu_status ss_row(ld_ctx *c, const char *file, const char *stem, const quipu_csv *csv, long row,
                           const int *idx, void *user) {
    int intra = *(const int *)user;
    long line = csv->rec_line;
    const char *prompt = csv->field[idx[0]], *chs = csv->field[idx[1]], *type = csv->field[idx[2]];
    const char *target = csv->field[idx[3]];
    static const char *const types[] = {"gender", "profession", "race", "religion"};
    int t;
    for (t = 0; t < 4; t++)
        if (strcmp(type, types[t]) == 0) break;
    if (t == 4) return ld_bad_row(c, file, line, "bias_type is '%s', expected gender, profession, race or religion", type);
    if (!*prompt) return ld_bad_row(c, file, line, "empty prompt");
    if (!*target) return ld_bad_row(c, file, line, "empty target");
    const char *blank = NULL;
    if (intra) {
        blank = strstr(prompt, "BLANK");
        if (!blank) return ld_bad_row(c, file, line, "intrasentence prompt has no BLANK");
    }
    char why[160] = "";
    char *ch[4];
    int n = 0;
    if (quipu_pylit_strlist(chs, ch, 4, &n, why, sizeof why)) return ld_bad_row(c, file, line, "choices: %s", why);
    quipu_status st = QUIPU_OK;
    if (n != 3) {
        st = ld_bad_row(c, file, line, "choices has %d sentences, expected 3", n);
        goto out;
    }
    for (int i = 0; i < 3; i++)
        if (!*ch[i]) {
            st = ld_bad_row(c, file, line, "choice %d is empty", i);
            goto out;
        }
    quipu_item *it = ld_push(c);
    if (!it) {
        st = QUIPU_ERR_NOMEM;
        goto out;
    }
    int oom = 0;
    if (ld_item_tags(c, it, stem, row, file, line, "en-US", "US", type)) oom = 1;
    it->kind = QUIPU_ITEM_MC;
    it->question = ld_strdup("", &oom);
    it->n_choices = 3;
    if (intra) {
        it->context = ld_strndup(prompt, (size_t)(blank - prompt), &oom);
        const char *rest = blank + 5;
        for (int i = 0; i < 3; i++) {
            size_t a = strlen(ch[i]), b = strlen(rest);
            char *s = malloc(a + b + 1);
            if (!s) {
                oom = 1;
                continue;
            }
            memcpy(s, ch[i], a);
            memcpy(s + a, rest, b + 1);
            it->choices[i] = s;
        }
    } else {
        it->context = ld_strdup(prompt, &oom);
        for (int i = 0; i < 3; i++) it->choices[i] = ld_strdup(ch[i], &oom);
    }
    it->group = ld_strdup(target, &oom);
    if (oom) {
        ld_discard(c);
        st = quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
        goto out;
    }
    it->roles[0] = 's';
    it->roles[1] = 'a';
    it->roles[2] = 'u';
    ld_commit(c);
out:
    for (int i = 0; i < n; i++) free(ch[i]);
    return st;
}

quipu_status ld_stereoset(ld_ctx *c, int intra) {
    static const int one = 1, zero = 0;
    static const char *const cols[] = {"prompt", "choices", "bias_type", "target"};
    char file[4096];
    ld_path(file, sizeof file, c->dir,
            intra ? "stereoset/third_party_elidek-themis/intrasentence_stereo_set.csv"
                  : "stereoset/third_party_elidek-themis/intersentence_stereo_set.csv");
    return ld_read_csv(c, file, NULL, ',', cols, 4, ss_row, (void *)(intra ? &one : &zero));
}
