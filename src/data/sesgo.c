/* sesgo.c — SESGO, the paper version (mvrobles/SESGO @ 89b8a0e, Latin-American Spanish), from
 * the CSV conversions of its four prompt workbooks (paper_version_89b8a0e/derived_csv/). The
 * choices are answer_info's ans0..ans2 (a Python dict literal); target and other are the
 * columns of the same names (indices of the historically discriminated group's answer and of the
 * other group's), the unknown answer is the remaining index; the bias-aligned answer is the
 * target in negative questions and the other in non-negative ones. The category comes from the
 * file name (the upstream column is wrong in some files). Xenofobia rows adapted from BBQ
 * (bbq == True) are left out, as the paper does: 4,156 questions, 1,348 ambiguous. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

typedef struct sesgo_file {
    const char *stem, *category;
    int drop_bbq; /* leave out rows with bbq == True */
} sesgo_file;

static int trimmed_eq(const char *a, const char *b) {
    while (*a == ' ') a++;
    while (*b == ' ') b++;
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == ' ') la--;
    while (lb && b[lb - 1] == ' ') lb--;
    return la == lb && memcmp(a, b, la) == 0;
}

static quipu_status sesgo_row(ld_ctx *c, const char *file, const char *stem, const quipu_csv *csv, long row,
                              const int *idx, void *user) {
    const sesgo_file *sf = user;
    long line = csv->rec_line;
    const char *pol = csv->field[idx[0]], *cond = csv->field[idx[1]], *info = csv->field[idx[2]];
    const char *context = csv->field[idx[3]], *question = csv->field[idx[4]], *answer = csv->field[idx[5]];
    const char *tgt = csv->field[idx[6]], *oth = csv->field[idx[7]], *lab = csv->field[idx[8]];
    const char *bbq = csv->field[idx[9]];
    int from_bbq;
    if (strcmp(bbq, "True") == 0) from_bbq = 1;
    else if (strcmp(bbq, "False") == 0) from_bbq = 0;
    else return ld_bad_row(c, file, line, "bbq is '%s', expected True or False", bbq);
    if (sf->drop_bbq && from_bbq) {
        c->rep->rows_excluded++;
        return QUIPU_OK;
    }
    int neg;
    if (strcmp(pol, "neg") == 0) neg = 1;
    else if (strcmp(pol, "nonneg") == 0) neg = 0;
    else return ld_bad_row(c, file, line, "question_polarity is '%s', expected neg or nonneg", pol);
    quipu_condition condition;
    if (strcmp(cond, "ambig") == 0) condition = QUIPU_COND_AMBIG;
    else if (strcmp(cond, "disambig") == 0) condition = QUIPU_COND_DISAMBIG;
    else return ld_bad_row(c, file, line, "context_condition is '%s', expected ambig or disambig", cond);
    if (!*context) return ld_bad_row(c, file, line, "empty context");
    if (!*question) return ld_bad_row(c, file, line, "empty question");
    int label, target, other;
    if (ld_parse_index(lab, &label) || label > 2) return ld_bad_row(c, file, line, "bad label '%s': expected 0, 1 or 2", lab);
    if (ld_parse_index(tgt, &target) || target > 2) return ld_bad_row(c, file, line, "bad target '%s': expected 0, 1 or 2", tgt);
    if (ld_parse_index(oth, &other) || other > 2 || other == target)
        return ld_bad_row(c, file, line, "bad other '%s': expected 0, 1 or 2, not the target", oth);
    char why[160] = "";
    char *keys[8], *vals[8];
    int nkv = 0;
    if (quipu_pylit_strdict(info, keys, vals, 8, &nkv, why, sizeof why))
        return ld_bad_row(c, file, line, "answer_info: %s", why);
    const char *choice[3] = {NULL, NULL, NULL};
    for (int k = 0; k < nkv; k++)
        for (int i = 0; i < 3; i++) {
            char key[8];
            snprintf(key, sizeof key, "ans%d", i);
            if (strcmp(keys[k], key) == 0) choice[i] = vals[k];
        }
    quipu_status st = QUIPU_OK;
    int missing = -1;
    for (int i = 0; i < 3; i++)
        if (!choice[i] || !*choice[i]) missing = i;
    if (nkv != 3 || missing >= 0) {
        st = missing >= 0 ? ld_bad_row(c, file, line, "answer_info has no (or an empty) 'ans%d'", missing)
                          : ld_bad_row(c, file, line, "answer_info has %d entries, expected ans0, ans1, ans2", nkv);
        goto out;
    }
    if (!trimmed_eq(answer, choice[label])) {
        st = ld_bad_row(c, file, line, "answer '%.80s' is not ans%d", answer, label);
        goto out;
    }
    quipu_item *it = ld_push(c);
    if (!it) {
        st = QUIPU_ERR_NOMEM;
        goto out;
    }
    int oom = 0;
    if (ld_item_tags(c, it, sf->stem, row, file, line, "es-419", "LatAm", sf->category)) oom = 1;
    it->kind = QUIPU_ITEM_MC;
    it->context = ld_strdup(context, &oom);
    it->question = ld_strdup(question, &oom);
    it->n_choices = 3;
    for (int i = 0; i < 3; i++) it->choices[i] = ld_strdup(choice[i], &oom);
    if (oom) {
        ld_discard(c);
        st = quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
        goto out;
    }
    it->label = label;
    it->condition = condition;
    it->polarity = neg ? QUIPU_POL_NEG : QUIPU_POL_NONNEG;
    it->unknown_choice = 3 - target - other;
    it->target_choice = target;
    it->other_choice = other;
    it->biased_choice = neg ? target : other;
    it->biased_mask = 1u << it->biased_choice;
    ld_commit(c);
out:
    for (int k = 0; k < nkv; k++) {
        free(keys[k]);
        free(vals[k]);
    }
    (void)stem;
    return st;
}

quipu_status ld_sesgo(ld_ctx *c) {
    static const sesgo_file files[] = {{"racismo", "racism", 0},
                                       {"genero", "gender", 0},
                                       {"clasismo", "classism", 0},
                                       {"xenofobia", "xenophobia", 1}};
    static const char *const cols[] = {"question_polarity", "context_condition", "answer_info", "context", "question",
                                       "answer", "target", "other", "label", "bbq"};
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !c->done; i++) {
        if (!ld_want_category(c, files[i].category)) continue;
        char rel[256], file[4096];
        snprintf(rel, sizeof rel, "sesgo/paper_version_89b8a0e/derived_csv/prompts_%s.csv", files[i].stem);
        ld_path(file, sizeof file, c->dir, rel);
        quipu_status st = ld_read_csv(c, file, files[i].stem, ',', cols, 10, sesgo_row, (void *)&files[i]);
        if (st) return st;
    }
    return QUIPU_OK;
}
