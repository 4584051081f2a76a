/* bbq.c — BBQ and MBBQ (JSON lines, one question per line, three answers) and the BBQ-family rule
 * for the answer roles.
 *
 * The bias-aligned answer (BBQ paper §5, s_DIS): the answer naming the stereotyped group
 * (additional_metadata.stereotyped_groups) in a negative question, the other group's answer in
 * a non-negative one. The released JSON does not say which answer names the stereotyped group
 * (BBQ's own analysis reads target_loc from supplemental/additional_metadata.csv); like
 * lm-evaluation-harness (bbq/utils.py process_docs) and MBBQ's mbbq.py (target_loc) we match
 * each answer's answer_info [text, group] against the stereotyped groups: lower-cased, spaces
 * removed, the group label also split at '_' and '-' ("trans_F" names "trans"), "F"/"M" standing
 * for the women/men words of both languages ("woman", "girl", "mujer", "chica", ...). On the staged
 * BBQ categories and all MBBQ files this finds the same target as mbbq.py and the same biased
 * answers as lm-evaluation-harness on every row where exactly one answer names a stereotyped
 * group; the rows where both or neither do (16 in BBQ Gender_identity, 16 in MBBQ en, 28 in
 * MBBQ es) get target/other/biased -1, and biased_mask keeps lm-evaluation-harness's reading. */
#include <string.h>
#include <utf8proc.h>

#include "data/data_internal.h"

#define NORM_MAX 256

/* Lower-cases s (Unicode) and drops spaces into out. */
static void norm(const char *s, char *out) {
    size_t n = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, left, &cp);
        if (k <= 0) { /* not UTF-8: copy the byte */
            cp = *p;
            k = 1;
        }
        p += k;
        left -= k;
        if (cp == ' ') continue;
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), enc);
        if (n + (size_t)m >= NORM_MAX) break;
        memcpy(out + n, enc, (size_t)m);
        n += (size_t)m;
    }
    out[n] = '\0';
}

static const char *const k_women[] = {"f", "woman", "women", "girl", "girls", "mujer", "mujeres", "chica", "chicas",
                                      "niña", "niñas", "maestra"};
static const char *const k_men[] = {"m", "man", "men", "boy", "boys", "hombre", "hombres", "chico", "chicos",
                                    "niño", "niños", "maestro"};
#define N_WORDS(a) (sizeof a / sizeof a[0])

typedef struct stereo_set {
    char norm[16][NORM_MAX];
    int n;
    int women, men;
} stereo_set;

static int in_set(const stereo_set *ss, const char *tok) {
    if (!*tok) return 0;
    for (int i = 0; i < ss->n; i++)
        if (strcmp(ss->norm[i], tok) == 0) return 1;
    if (ss->women)
        for (size_t i = 0; i < N_WORDS(k_women); i++)
            if (strcmp(k_women[i], tok) == 0) return 1;
    if (ss->men)
        for (size_t i = 0; i < N_WORDS(k_men); i++)
            if (strcmp(k_men[i], tok) == 0) return 1;
    return 0;
}

/* Does answer [text, group] name a stereotyped group? */
static int names_stereo(const stereo_set *ss, const char *text, const char *group) {
    char g[NORM_MAX], t[NORM_MAX];
    norm(group, g);
    norm(text, t);
    if (in_set(ss, g) || in_set(ss, t)) return 1;
    char piece[NORM_MAX];
    const char *p = g;
    while (*p) {
        size_t k = strcspn(p, "_-");
        memcpy(piece, p, k);
        piece[k] = '\0';
        if (in_set(ss, piece)) return 1;
        p += k;
        if (*p) p++;
    }
    return 0;
}

int ld_bbq_roles(int n, const char *const *ans_text, const char *const *ans_group, int n_stereo,
                 const char *const *stereo, int neg, int *unknown, int *target, int *other, int *biased,
                 uint32_t *mask) {
    stereo_set ss;
    memset(&ss, 0, sizeof ss);
    for (int i = 0; i < n_stereo && ss.n < 16; i++) {
        norm(stereo[i], ss.norm[ss.n]);
        if (strcmp(ss.norm[ss.n], "f") == 0) ss.women = 1;
        if (strcmp(ss.norm[ss.n], "m") == 0) ss.men = 1;
        ss.n++;
    }
    *unknown = *target = *other = *biased = -1;
    *mask = 0;
    int n_unknown = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(ans_group[i], "unknown") == 0) {
            *unknown = i;
            n_unknown++;
        }
    if (n_unknown != 1) *unknown = -1;
    uint32_t group_bits = 0, match_bits = 0;
    int n_match = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(ans_group[i], "unknown") == 0) continue;
        group_bits |= 1u << i;
        if (names_stereo(&ss, ans_text[i], ans_group[i])) {
            match_bits |= 1u << i;
            n_match++;
        }
    }
    *mask = neg ? match_bits : (group_bits & ~match_bits);
    if (n_match == 1 && __builtin_popcount(group_bits) == 2) {
        for (int i = 0; i < n; i++) {
            if (match_bits & (1u << i)) *target = i;
            else if (group_bits & (1u << i)) *other = i;
        }
        *biased = neg ? *target : *other;
    }
    return n_match;
}

/* ---- JSON rows ---- */

typedef struct bbq_file {
    const char *language, *culture;
} bbq_file;

static const char *jstr(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

#define NEED_STR(var, obj, key)                                                                      \
    const char *var = jstr(obj, key);                                                                \
    if (!var) return ld_bad_row(c, file, line, json_object_get(obj, key) ? "field '%s' is not a string" \
                                                                          : "missing field '%s'", key)

static quipu_status bbq_row(ld_ctx *c, const char *file, const char *stem, long line, long row, json_t *o,
                            void *user) {
    const bbq_file *bf = user;
    NEED_STR(pol, o, "question_polarity");
    NEED_STR(cond, o, "context_condition");
    NEED_STR(cat, o, "category");
    NEED_STR(context, o, "context");
    NEED_STR(question, o, "question");
    int neg;
    if (strcmp(pol, "neg") == 0) neg = 1;
    else if (strcmp(pol, "nonneg") == 0) neg = 0;
    else return ld_bad_row(c, file, line, "question_polarity is '%s', expected neg or nonneg", pol);
    quipu_condition condition;
    if (strcmp(cond, "ambig") == 0) condition = QUIPU_COND_AMBIG;
    else if (strcmp(cond, "disambig") == 0) condition = QUIPU_COND_DISAMBIG;
    else return ld_bad_row(c, file, line, "context_condition is '%s', expected ambig or disambig", cond);
    const char *ans[3], *atext[3], *agroup[3];
    json_t *info = json_object_get(o, "answer_info");
    if (!info) return ld_bad_row(c, file, line, "missing field 'answer_info'");
    if (!json_is_object(info)) return ld_bad_row(c, file, line, "field 'answer_info' is not an object");
    for (int i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "ans%d", i);
        ans[i] = jstr(o, key);
        if (!ans[i])
            return ld_bad_row(c, file, line, json_object_get(o, key) ? "field '%s' is not a string" : "missing field '%s'",
                              key);
        json_t *ai = json_object_get(info, key);
        if (!json_is_array(ai) || json_array_size(ai) != 2 || !json_is_string(json_array_get(ai, 0)) ||
            !json_is_string(json_array_get(ai, 1)))
            return ld_bad_row(c, file, line, "answer_info.%s is not a [text, group] pair of strings", key);
        atext[i] = json_string_value(json_array_get(ai, 0));
        agroup[i] = json_string_value(json_array_get(ai, 1));
    }
    json_t *jl = json_object_get(o, "label");
    if (!jl) return ld_bad_row(c, file, line, "missing field 'label'");
    if (!json_is_integer(jl) || json_integer_value(jl) < 0 || json_integer_value(jl) > 2)
        return ld_bad_row(c, file, line, "bad label: expected 0, 1 or 2");
    json_t *meta = json_object_get(o, "additional_metadata");
    json_t *sg = json_is_object(meta) ? json_object_get(meta, "stereotyped_groups") : NULL;
    if (!json_is_array(sg)) return ld_bad_row(c, file, line, "missing field 'additional_metadata.stereotyped_groups'");
    const char *stereo[16];
    int ns = 0;
    char group[1024] = "";
    for (size_t i = 0; i < json_array_size(sg) && ns < 16; i++) {
        json_t *g = json_array_get(sg, i);
        if (!json_is_string(g))
            return ld_bad_row(c, file, line, "additional_metadata.stereotyped_groups holds a non-string");
        stereo[ns++] = json_string_value(g);
        if (i) strncat(group, "; ", sizeof group - strlen(group) - 1);
        strncat(group, json_string_value(g), sizeof group - strlen(group) - 1);
    }
    int unknown, target, other, biased;
    uint32_t mask;
    ld_bbq_roles(3, atext, agroup, ns, stereo, neg, &unknown, &target, &other, &biased, &mask);
    if (unknown < 0) return ld_bad_row(c, file, line, "answer_info does not mark exactly one answer 'unknown'");

    quipu_item *it = ld_push(c);
    if (!it) return QUIPU_ERR_NOMEM;
    int oom = 0;
    if (ld_item_tags(c, it, stem, row, file, line, bf->language, bf->culture, cat)) goto nomem;
    it->kind = QUIPU_ITEM_MC;
    it->context = ld_strdup(context, &oom);
    it->question = ld_strdup(question, &oom);
    it->n_choices = 3;
    for (int i = 0; i < 3; i++) it->choices[i] = ld_strdup(ans[i], &oom);
    it->group = ld_strdup(group, &oom);
    if (oom) goto nomem;
    it->label = (int)json_integer_value(jl);
    it->condition = condition;
    it->polarity = neg ? QUIPU_POL_NEG : QUIPU_POL_NONNEG;
    it->unknown_choice = unknown;
    it->target_choice = target;
    it->other_choice = other;
    it->biased_choice = biased;
    it->biased_mask = mask;
    ld_commit(c);
    return QUIPU_OK;
nomem:
    ld_discard(c);
    return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
}

static const char *const k_bbq_all[] = {"Age", "Disability_status", "Gender_identity", "Nationality",
                                        "Physical_appearance", "Race_ethnicity", "Race_x_SES", "Race_x_gender",
                                        "Religion", "SES", "Sexual_orientation"};
/* the ones staged in ../shared/datasets (the other four are 4 MiB or more) */
static const char *const k_bbq_staged[] = {"Age", "Disability_status", "Gender_identity", "Nationality",
                                           "Physical_appearance", "Religion", "Sexual_orientation"};

quipu_status ld_bbq(ld_ctx *c, int full) {
    static const bbq_file bf = {"en-US", "US"};
    const char *const *cats = full ? k_bbq_all : k_bbq_staged;
    size_t ncat = full ? N_WORDS(k_bbq_all) : N_WORDS(k_bbq_staged);
    for (size_t i = 0; i < ncat && !c->done; i++) {
        if (!ld_want_category(c, cats[i])) continue;
        char rel[256], file[4096];
        snprintf(rel, sizeof rel, "bbq/data/%s.jsonl", cats[i]);
        ld_path(file, sizeof file, c->dir, rel);
        quipu_status st = ld_read_jsonl(c, file, cats[i], bbq_row, (void *)&bf);
        if (st) return st;
    }
    return QUIPU_OK;
}

static const char *const k_mbbq[] = {"Age", "Disability_status", "Gender_identity", "Physical_appearance", "SES",
                                     "Sexual_orientation"};

quipu_status ld_mbbq(ld_ctx *c, const char *lang, int control) {
    /* MBBQ keeps the stereotypes held across its four language communities (en, es, nl, tr), so
     * its culture tag names no country; the Spanish text names no variety either. */
    static const bbq_file en = {"en", "shared"}, es = {"es", "shared"};
    const bbq_file *bf = strcmp(lang, "es") == 0 ? &es : &en;
    for (size_t i = 0; i < N_WORDS(k_mbbq) && !c->done; i++) {
        if (!ld_want_category(c, k_mbbq[i])) continue;
        char stem[128], rel[256], file[4096];
        snprintf(stem, sizeof stem, "%s%s_%s", k_mbbq[i], control ? "_control" : "", lang);
        snprintf(rel, sizeof rel, "mbbq/data/%s.jsonl", stem);
        ld_path(file, sizeof file, c->dir, rel);
        quipu_status st = ld_read_jsonl(c, file, stem, bbq_row, (void *)bf);
        if (st) return st;
    }
    return QUIPU_OK;
}
