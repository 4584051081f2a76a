/* kobbq.c — KoBBQ test set (naver-ai/KoBBQ, KoBBQ_test_samples.tsv: TAB-separated, choices a
 * Python-literal list). sample_id is {category}-{template}{a|b|c|d}-{sample}-{amb|dis}-{bsd|cnt}:
 * the category comes from it (the bbq_category column is empty for KoBBQ's new categories), a
 * "bsd" (biased) question is the negative polarity of BBQ and "cnt" (counter-biased) the
 * non-negative one. biased_answer names the bias-aligned choice directly; the target is the
 * biased answer of a bsd question and the other group answer of a cnt one; the unknown choice
 * is "알 수 없음". In disambiguated rows label == biased_choice exactly when the context is the
 * biased one (template letters b/d), which KoBBQ's bias_dis needs. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

#define KO_UNKNOWN "알 수 없음"

/* Splits sample_id; returns 0 and fills cat (category), amb, bsd, or -1. */
static int parse_sample_id(const char *id, char *cat, size_t catlen, int *amb, int *bsd) {
    const char *p[4];
    const char *e = id + strlen(id);
    int k = 0;
    for (const char *s = e; s > id && k < 4; s--)
        if (s[-1] == '-') p[k++] = s;
    if (k < 4) return -1;
    /* p[0] -> "bsd", p[1] -> "amb-bsd", p[2] -> "002-amb-bsd", p[3] -> "001a-002-amb-bsd" */
    if (strcmp(p[0], "bsd") == 0) *bsd = 1;
    else if (strcmp(p[0], "cnt") == 0) *bsd = 0;
    else return -1;
    if (strncmp(p[1], "amb-", 4) == 0) *amb = 1;
    else if (strncmp(p[1], "dis-", 4) == 0) *amb = 0;
    else return -1;
    size_t cl = (size_t)(p[3] - 1 - id);
    if (cl == 0 || cl >= catlen) return -1;
    memcpy(cat, id, cl);
    cat[cl] = '\0';
    /* template: digits then one of a-d */
    const char *t = p[3];
    size_t nd = 0;
    while (t[nd] >= '0' && t[nd] <= '9') nd++;
    if (nd == 0 || t[nd] < 'a' || t[nd] > 'd' || t[nd + 1] != '-') return -1;
    return 0;
}

static quipu_status ko_row(ld_ctx *c, const char *file, const char *stem, const quipu_csv *csv, long row,
                           const int *idx, void *user) {
    (void)user;
    long line = csv->rec_line;
    const char *sid = csv->field[idx[0]], *context = csv->field[idx[1]], *question = csv->field[idx[2]];
    const char *chs = csv->field[idx[3]], *banswer = csv->field[idx[4]], *answer = csv->field[idx[5]];
    char cat[128];
    int amb, bsd;
    if (parse_sample_id(sid, cat, sizeof cat, &amb, &bsd))
        return ld_bad_row(c, file, line, "sample_id '%.80s' is not category-NNNx-NNN-amb|dis-bsd|cnt", sid);
    if (!*context) return ld_bad_row(c, file, line, "empty context");
    if (!*question) return ld_bad_row(c, file, line, "empty question");
    char why[160] = "";
    char *ch[4];
    int n = 0;
    if (quipu_pylit_strlist(chs, ch, 4, &n, why, sizeof why)) return ld_bad_row(c, file, line, "choices: %s", why);
    quipu_status st = QUIPU_OK;
    int label = -1, biased = -1, unknown = -1;
    if (n != 3) {
        st = ld_bad_row(c, file, line, "choices has %d answers, expected 3", n);
        goto out;
    }
    for (int i = 0; i < 3; i++) {
        if (strcmp(ch[i], answer) == 0) label = i;
        if (strcmp(ch[i], banswer) == 0) biased = i;
        if (strcmp(ch[i], KO_UNKNOWN) == 0) unknown = i;
    }
    if (label < 0) {
        st = ld_bad_row(c, file, line, "bad label: answer '%.80s' is not one of the choices", answer);
        goto out;
    }
    if (biased < 0 || biased == unknown) {
        st = ld_bad_row(c, file, line, "biased_answer '%.80s' is not one of the group answers", banswer);
        goto out;
    }
    if (unknown < 0) {
        st = ld_bad_row(c, file, line, "no '" KO_UNKNOWN "' (unknown) answer among the choices");
        goto out;
    }
    int not_biased = 3 - biased - unknown;
    quipu_item *it = ld_push(c);
    if (!it) {
        st = QUIPU_ERR_NOMEM;
        goto out;
    }
    int oom = 0;
    if (ld_item_tags(c, it, stem, row, file, line, "ko-KR", "KR", cat)) oom = 1;
    it->kind = QUIPU_ITEM_MC;
    it->context = ld_strdup(context, &oom);
    it->question = ld_strdup(question, &oom);
    it->n_choices = 3;
    for (int i = 0; i < 3; i++) it->choices[i] = ld_strdup(ch[i], &oom);
    if (oom) {
        ld_discard(c);
        st = quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
        goto out;
    }
    it->label = label;
    it->condition = amb ? QUIPU_COND_AMBIG : QUIPU_COND_DISAMBIG;
    it->polarity = bsd ? QUIPU_POL_NEG : QUIPU_POL_NONNEG;
    it->unknown_choice = unknown;
    it->biased_choice = biased;
    it->target_choice = bsd ? biased : not_biased;
    it->other_choice = bsd ? not_biased : biased;
    it->biased_mask = 1u << biased;
    ld_commit(c);
out:
    for (int i = 0; i < n; i++) free(ch[i]);
    return st;
}

quipu_status ld_kobbq(ld_ctx *c) {
    static const char *const cols[] = {"sample_id", "context", "question", "choices", "biased_answer", "answer"};
    char file[4096];
    ld_path(file, sizeof file, c->dir, "kobbq/data/KoBBQ_test_samples.tsv");
    return ld_read_csv(c, file, NULL, '\t', cols, 6, ko_row, NULL);
}
