/* esbbq.c — EsBBQ and CaBBQ (langtech-bsc, the .full.csv files: comma-separated, Python-literal
 * lists in stereotyped_groups and answer_info.ansN). ans2 is always the placeholder "unknown";
 * the harness supplies localised wordings, so choice 2 gets the first of lm-evaluation-harness's
 * ("No hay suficiente información" / "No hi ha prou informació"); a prompt template may offer the
 * others, any of which counts as the unknown answer.
 *
 * Roles follow the upstream scorer (bias_score.py, lm-evaluation-harness esbbq/utils.py): the
 * target is the answer whose group (last element of answer_info.ansN, after its last comma) is in
 * stereotyped_groups; in ambiguous contexts the bias-aligned answer is the target for negative
 * questions and the other answer for non-negative ones; in disambiguated contexts it follows
 * question_type: the gold answer for "pro-stereo" questions, the other group answer for
 * "anti-stereo" ones. So label == biased_choice exactly on the pro-stereo questions. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

typedef struct es_lang {
    const char *lang, *language, *unknown_text;
} es_lang;

static void free_list(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
}

/* group of a parsed [text, group] pair: the last element after its last comma, trimmed */
static void last_group(char **pair, int np, char *out, size_t outlen) {
    const char *g = np > 0 ? pair[np - 1] : "";
    const char *comma = strrchr(g, ',');
    if (comma) g = comma + 1;
    while (*g == ' ') g++;
    snprintf(out, outlen, "%s", g);
    size_t l = strlen(out);
    while (l && out[l - 1] == ' ') out[--l] = '\0';
}

static quipu_status es_row(ld_ctx *c, const char *file, const char *stem, const quipu_csv *csv, long row,
                           const int *idx, void *user) {
    const es_lang *el = user;
    long line = csv->rec_line;
    const char *pol = csv->field[idx[0]], *cond = csv->field[idx[1]], *cat = csv->field[idx[2]];
    const char *sgs = csv->field[idx[3]], *context = csv->field[idx[7]], *question = csv->field[idx[8]];
    const char *ans[3] = {csv->field[idx[9]], csv->field[idx[10]], csv->field[idx[11]]};
    const char *qtype = csv->field[idx[12]], *lab = csv->field[idx[13]];
    int neg;
    if (strcmp(pol, "neg") == 0) neg = 1;
    else if (strcmp(pol, "nonneg") == 0) neg = 0;
    else return ld_bad_row(c, file, line, "question_polarity is '%s', expected neg or nonneg", pol);
    quipu_condition condition;
    if (strcmp(cond, "ambig") == 0) condition = QUIPU_COND_AMBIG;
    else if (strcmp(cond, "disambig") == 0) condition = QUIPU_COND_DISAMBIG;
    else return ld_bad_row(c, file, line, "context_condition is '%s', expected ambig or disambig", cond);
    int pro;
    if (condition == QUIPU_COND_AMBIG) {
        if (strcmp(qtype, "n/a") != 0)
            return ld_bad_row(c, file, line, "question_type is '%s', expected n/a in an ambiguous context", qtype);
        pro = -1;
    } else if (strcmp(qtype, "pro-stereo") == 0) pro = 1;
    else if (strcmp(qtype, "anti-stereo") == 0) pro = 0;
    else return ld_bad_row(c, file, line, "question_type is '%s', expected pro-stereo or anti-stereo", qtype);
    if (!*cat) return ld_bad_row(c, file, line, "empty category");
    if (!*context) return ld_bad_row(c, file, line, "empty context");
    if (!*question) return ld_bad_row(c, file, line, "empty question");
    for (int i = 0; i < 3; i++)
        if (!*ans[i]) return ld_bad_row(c, file, line, "empty ans%d", i);
    int label;
    if (ld_parse_index(lab, &label) || label > 2) return ld_bad_row(c, file, line, "bad label '%s': expected 0, 1 or 2", lab);

    char why[160] = "";
    char *sg[16];
    int nsg = 0;
    if (quipu_pylit_strlist(sgs, sg, 16, &nsg, why, sizeof why))
        return ld_bad_row(c, file, line, "stereotyped_groups: %s", why);
    char *pair[3][4];
    int np[3] = {0, 0, 0};
    char groups[3][256];
    quipu_status st = QUIPU_OK;
    int i;
    for (i = 0; i < 3; i++) {
        why[0] = '\0';
        if (quipu_pylit_strlist(csv->field[idx[4 + i]], pair[i], 4, &np[i], why, sizeof why) || np[i] < 1) {
            if (np[i] == 0 && !why[0]) snprintf(why, sizeof why, "empty list");
            st = ld_bad_row(c, file, line, "answer_info.ans%d: %s", i, why);
            break;
        }
        last_group(pair[i], np[i], groups[i], sizeof groups[i]);
    }
    if (i < 3) {
        for (int k = 0; k < i; k++) free_list(pair[k], np[k]);
        free_list(sg, nsg);
        return st;
    }
    int unknown = -1, n_unknown = 0;
    for (i = 0; i < 3; i++)
        if (strcmp(groups[i], "unknown") == 0) {
            unknown = i;
            n_unknown++;
        }
    int target = -1, other = -1, n_target = 0;
    for (i = 0; i < 3; i++) {
        if (i == unknown) continue;
        int hit = 0;
        for (int k = 0; k < nsg; k++)
            if (strcmp(groups[i], sg[k]) == 0) hit = 1;
        if (hit) {
            target = i;
            n_target++;
        } else {
            other = i;
        }
    }
    char group[1024] = "";
    for (int k = 0; k < nsg; k++) {
        if (k) strncat(group, "; ", sizeof group - strlen(group) - 1);
        strncat(group, sg[k], sizeof group - strlen(group) - 1);
    }
    for (i = 0; i < 3; i++) free_list(pair[i], np[i]);
    free_list(sg, nsg);
    if (n_unknown != 1) return ld_bad_row(c, file, line, "answer_info does not mark exactly one answer 'unknown'");
    if (n_target != 1) target = other = -1;
    if (condition == QUIPU_COND_DISAMBIG && label == unknown)
        return ld_bad_row(c, file, line, "label %d is the unknown answer in a disambiguated context", label);
    int biased = -1;
    if (pro < 0) {
        if (target >= 0) biased = neg ? target : other;
    } else {
        /* the group answer that is not the gold one */
        int not_gold = -1;
        for (i = 0; i < 3; i++)
            if (i != unknown && i != label) not_gold = i;
        biased = pro ? label : not_gold;
    }

    quipu_item *it = ld_push(c);
    if (!it) return QUIPU_ERR_NOMEM;
    int oom = 0;
    if (ld_item_tags(c, it, stem, row, file, line, el->language, "ES", cat)) goto nomem;
    it->kind = QUIPU_ITEM_MC;
    it->context = ld_strdup(context, &oom);
    it->question = ld_strdup(question, &oom);
    it->n_choices = 3;
    for (i = 0; i < 3; i++) {
        const char *text = ans[i];
        if (i == unknown && strcmp(text, "unknown") == 0) text = el->unknown_text;
        it->choices[i] = ld_strdup(text, &oom);
    }
    it->group = ld_strdup(group, &oom);
    if (oom) goto nomem;
    it->label = label;
    it->condition = condition;
    it->polarity = neg ? QUIPU_POL_NEG : QUIPU_POL_NONNEG;
    it->unknown_choice = unknown;
    it->target_choice = target;
    it->other_choice = other;
    it->biased_choice = biased;
    it->biased_mask = biased >= 0 ? 1u << biased : 0;
    ld_commit(c);
    return QUIPU_OK;
nomem:
    ld_discard(c);
    return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
}

static const char *const k_es_cats[] = {"Age", "DisabilityStatus", "Gender", "LGBTQIA", "Nationality",
                                        "PhysicalAppearance", "RaceEthnicity", "Religion", "SES", "SpanishRegion"};

quipu_status ld_esbbq(ld_ctx *c, const char *lang) {
    static const es_lang es = {"es", "es-ES", "No hay suficiente información"};
    static const es_lang ca = {"ca", "ca-ES", "No hi ha prou informació"};
    const es_lang *el = strcmp(lang, "ca") == 0 ? &ca : &es;
    static const char *const cols[] = {"question_polarity", "context_condition", "category", "stereotyped_groups",
                                       "answer_info.ans0", "answer_info.ans1", "answer_info.ans2", "context",
                                       "question", "ans0", "ans1", "ans2", "question_type", "label"};
    for (size_t i = 0; i < sizeof k_es_cats / sizeof k_es_cats[0] && !c->done; i++) {
        if (!ld_want_category(c, k_es_cats[i])) continue;
        char rel[256], file[4096];
        snprintf(rel, sizeof rel, "esbbq-cabbq/data_%s/%s.full.csv", el->lang, k_es_cats[i]);
        ld_path(file, sizeof file, c->dir, rel);
        quipu_status st = ld_read_csv(c, file, k_es_cats[i], ',', cols, 14, es_row, (void *)el);
        if (st) return st;
    }
    return QUIPU_OK;
}
