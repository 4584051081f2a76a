/* seegull.c — SeeGULL (Jha et al. 2023; google-research-datasets/seegull @ 0dc4db9: the global
 * file and the US / Indian states files, English) and SeeGULL Multilingual (Bhutani et al. 2024;
 * @ 589a258: 23 language x region files) as an association benchmark (docs/benchmarks.md
 * "SeeGULL", docs/metrics.md "Association").
 *
 * Per file (one language x region; comparisons never cross files):
 *   - a row (identity, attribute) is a stereotype tuple when at least two thirds of its in-region
 *     raters rated it a stereotype: 3 * stereo >= 2 * (stereo + non-stereo + unsure), which is
 *     "2 of 3" for the 3 raters every multilingual row has (the global file has rows rated by 6,
 *     9 or 12 in-region raters);
 *   - its contrast identities are the other identities of the file rated for the same attribute
 *     and not rated a stereotype for it (each identity string once, the tuple's own identity
 *     never), at most QUIPU_MAX_CHOICES - 2 = 14 of them: when there are more, the 14 with the
 *     smallest FNV-1a hash of (attribute, identity, contrast), kept in file order;
 *   - a stereotype tuple with at least one contrast makes one item per template of the file's
 *     language: choice 0 the identity, 1 the neutral subject, 2.. the contrasts, every choice
 *     scoring the attribute after its own prompt. Tuples without a contrast are rows_excluded.
 * The weight is the tuple's mean offensiveness + 1 (the files' scale: not offensive -1, unsure 0,
 * slightly .. extremely offensive 1 .. 4), 0 when the cell is empty. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/assoc.h"
#include "data/data_internal.h"
#include "stats.h"

#define SG_MAX_CONTRASTS (QUIPU_MAX_CHOICES - 2)

typedef struct sg_file {
    const char *rel;      /* under the datasets folder */
    const char *language; /* BCP-47 */
    const char *culture;  /* the raters' region */
    int layout;           /* 0: multilingual, 1: global, 2: states */
} sg_file;

#define ML "seegull-multilingual/dataset/stereotypes/"
static const sg_file k_ml_files[] = {
    {ML "Arabic (ar) in UAE.csv", "ar-AE", "AE", 0},
    {ML "Bengali (bn) in Bangladesh.csv", "bn-BD", "BD", 0},
    {ML "Bengali (bn) in India.csv", "bn-IN", "IN", 0},
    {ML "Dutch (nl) in Netherlands.csv", "nl-NL", "NL", 0},
    {ML "French (fr) in France.csv", "fr-FR", "FR", 0},
    {ML "German (de) in Germany.csv", "de-DE", "DE", 0},
    {ML "Hindi (hi) in India.csv", "hi-IN", "IN", 0},
    {ML "Indonesian (id) in Indonesia.csv", "id-ID", "ID", 0},
    {ML "Italian (it) in Italy.csv", "it-IT", "IT", 0},
    {ML "Japanese (ja) in Japan.csv", "ja-JP", "JP", 0},
    {ML "Korean (ko) in Korea.csv", "ko-KR", "KR", 0},
    {ML "Malay (ms) in Malaysia.csv", "ms-MY", "MY", 0},
    {ML "Marathi (mr) in India.csv", "mr-IN", "IN", 0},
    {ML "Portuguese (pt) in Brazil.csv", "pt-BR", "BR", 0},
    {ML "Portuguese (pt) in Portugal.csv", "pt-PT", "PT", 0},
    {ML "Spanish (es) in Mexico.csv", "es-MX", "MX", 0},
    {ML "Spanish (es) in Spain.csv", "es-ES", "ES", 0},
    {ML "Swahili (sw) in Kenya.csv", "sw-KE", "KE", 0},
    {ML "Tamil (ta) in India.csv", "ta-IN", "IN", 0},
    {ML "Telugu (te) in India.csv", "te-IN", "IN", 0},
    {ML "Thai (th) in Thailand.csv", "th-TH", "TH", 0},
    {ML "Turkish (tr) in Turkey.csv", "tr-TR", "TR", 0},
    {ML "Vietnamese (vn) in Vietnam.csv", "vi-VN", "VN", 0}, /* the file says "vn"; the language is vi */
};
static const sg_file k_en_files[] = {
    {"seegull/dataset/stereotypes_global_v2.csv", "en", "global", 1},
    {"seegull/dataset/stereotypes_us_states.csv", "en-US", "US", 2},
    {"seegull/dataset/stereotypes_indian_states.csv", "en-IN", "IN", 2},
};

typedef struct sg_row {
    char *identity, *attribute;
    int stereo;        /* a stereotype tuple */
    double weight;
    long row, line;
    int n_con;
    int con[SG_MAX_CONTRASTS]; /* indices of the contrast rows, in file order */
} sg_row;

typedef struct sg_state {
    const sg_file *f;
    sg_row *rows;
    size_t n, cap;
} sg_state;

static int trim_copy(const char *s, char **out) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (!n) return 0;
    int oom = 0;
    *out = ld_strndup(s, n, &oom);
    return oom ? -1 : 1;
}

static quipu_status sg_row_fn(ld_ctx *c, const char *file, const char *stem, const quipu_csv *csv, long row,
                              const int *idx, void *user) {
    (void)stem;
    sg_state *st = user;
    long line = csv->rec_line;
    static const char *const vote_names[3] = {"stereotype", "non-stereotype", "unsure"};
    int votes[3];
    for (int k = 0; k < 3; k++)
        if (ld_parse_index(csv->field[idx[2 + k]], &votes[k]))
            return ld_bad_row(c, file, line, "%s count '%s' is not a non-negative integer", vote_names[k], csv->field[idx[2 + k]]);
    const char *off = csv->field[idx[5]];
    double w = 0.0;
    while (*off == ' ') off++;
    if (*off) {
        char *end = NULL;
        double x = strtod(off, &end);
        while (end && *end == ' ') end++;
        if (!end || *end || !isfinite(x) || x < -1.0 || x > 4.0)
            return ld_bad_row(c, file, line, "offensiveness '%s' is not a number from -1 to 4", off);
        w = x + 1.0;
    }
    char *identity = NULL, *attribute = NULL;
    int a = trim_copy(csv->field[idx[0]], &identity), b = a > 0 ? trim_copy(csv->field[idx[1]], &attribute) : 0;
    if (a < 0 || b < 0) {
        free(identity);
        return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
    }
    if (!a || !b) {
        free(identity);
        return ld_bad_row(c, file, line, "empty %s", !a ? "identity" : "attribute");
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 1024;
        sg_row *r = realloc(st->rows, cap * sizeof *r);
        if (!r) {
            free(identity);
            free(attribute);
            return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
        }
        st->rows = r;
        st->cap = cap;
    }
    sg_row *r = &st->rows[st->n++];
    memset(r, 0, sizeof *r);
    r->identity = identity;
    r->attribute = attribute;
    int total = votes[0] + votes[1] + votes[2];
    r->stereo = total > 0 && 3 * votes[0] >= 2 * total;
    r->weight = w;
    r->row = row;
    r->line = line;
    return QUIPU_OK;
}

static const sg_row *g_sort_rows;
static int cmp_attr_row(const void *pa, const void *pb) {
    const sg_row *a = &g_sort_rows[*(const size_t *)pa], *b = &g_sort_rows[*(const size_t *)pb];
    int c = strcmp(a->attribute, b->attribute);
    return c ? c : (a->row > b->row) - (a->row < b->row);
}

static uint64_t contrast_key(const sg_row *s, const sg_row *o) {
    uint64_t h = quipu_hash64_sep(quipu_hash64_str(QUIPU_HASH64_INIT, s->attribute));
    h = quipu_hash64_sep(quipu_hash64_str(h, s->identity));
    return quipu_hash64_str(h, o->identity);
}

/* Fills every stereotype row's contrasts (see the file comment). */
static int find_contrasts(sg_state *st) {
    size_t n = st->n;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    size_t *cand = malloc((n ? n : 1) * sizeof *cand);
    if (!idx || !cand) {
        free(idx);
        free(cand);
        return -1;
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    g_sort_rows = st->rows;
    qsort(idx, n, sizeof *idx, cmp_attr_row);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !strcmp(st->rows[idx[j]].attribute, st->rows[idx[i]].attribute)) j++;
        for (size_t s = i; s < j; s++) {
            sg_row *r = &st->rows[idx[s]];
            if (!r->stereo) continue;
            size_t nc = 0;
            for (size_t o = i; o < j; o++) {
                const sg_row *x = &st->rows[idx[o]];
                if (x->stereo || !strcmp(x->identity, r->identity)) continue;
                int dup = 0;
                for (size_t k = 0; k < nc && !dup; k++) dup = !strcmp(st->rows[cand[k]].identity, x->identity);
                if (!dup) cand[nc++] = idx[o];
            }
            /* more than the record holds: the smallest keys, then back in file order (cand is in
             * file order already; a selection keeps that order) */
            while (nc > SG_MAX_CONTRASTS) {
                size_t worst = 0;
                for (size_t k = 1; k < nc; k++) {
                    uint64_t a = contrast_key(r, &st->rows[cand[k]]), b = contrast_key(r, &st->rows[cand[worst]]);
                    if (a > b || (a == b && cand[k] > cand[worst])) worst = k;
                }
                memmove(cand + worst, cand + worst + 1, (nc - worst - 1) * sizeof *cand);
                nc--;
            }
            r->n_con = (int)nc;
            for (size_t k = 0; k < nc; k++) r->con[k] = (int)cand[k];
        }
        i = j;
    }
    free(idx);
    free(cand);
    return 0;
}

static quipu_status push_items(ld_ctx *c, const sg_file *f, const char *file, sg_state *st,
                               const quipu_assoc_template *const *tpl, size_t n_tpl) {
    for (size_t i = 0; i < st->n && !c->done; i++) {
        const sg_row *r = &st->rows[i];
        if (!r->stereo) continue;
        if (r->n_con == 0) {
            c->rep->rows_excluded++;
            continue;
        }
        for (size_t t = 0; t < n_tpl && !c->done; t++) {
            quipu_item *it = ld_push(c);
            if (!it) return QUIPU_ERR_NOMEM;
            int oom = 0;
            char stem[160];
            snprintf(stem, sizeof stem, "%s:%s", f->language, tpl[t]->id);
            if (ld_item_tags(c, it, stem, r->row, file, r->line, f->language, f->culture, "")) oom = 1;
            it->kind = QUIPU_ITEM_ASSOC;
            it->n_choices = 2 + r->n_con;
            it->contexts = calloc((size_t)it->n_choices, sizeof *it->contexts);
            if (!it->contexts) oom = 1;
            for (int k = 0; k < it->n_choices && !oom; k++) {
                const char *subject = k == 0 ? r->identity : k == 1 ? NULL : st->rows[r->con[k - 2]].identity;
                it->contexts[k] = quipu_assoc_prompt(k == 1 ? tpl[t]->neutral : tpl[t]->text, subject);
                it->choices[k] = ld_strdup(r->attribute, &oom);
                if (!it->contexts[k]) oom = 1;
            }
            it->group = ld_strdup(r->identity, &oom);
            it->template_id = ld_strdup(tpl[t]->id, &oom);
            it->weight = r->weight;
            if (oom) {
                ld_discard(c);
                return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, r->line);
            }
            ld_commit(c);
        }
    }
    return QUIPU_OK;
}

static void sg_free(sg_state *st) {
    for (size_t i = 0; i < st->n; i++) {
        free(st->rows[i].identity);
        free(st->rows[i].attribute);
    }
    free(st->rows);
    memset(st, 0, sizeof *st);
}

static quipu_status sg_read(ld_ctx *c, const sg_file *f) {
    static const char *const cols[3][6] = {
        {"identity", "attribute", "stereotype", "non_stereotype", "unsure", "mean_offensive_score"},
        {"identity", "attribute", "region_stereo", "region_nonstereo", "region_unsure", "mean offensiveness_score"},
        {"identity", "attribute", "region_stereo", "region_nonstereo", "region_unsure", "offensiveness_score"},
    };
    char file[4096];
    ld_path(file, sizeof file, c->dir, f->rel);
    const quipu_assoc_template *tpl[QUIPU_ASSOC_MAX_TEMPLATES];
    size_t n_tpl = quipu_assoc_templates_for(f->language, c->opts ? c->opts->assoc_templates : NULL,
                                             c->opts ? c->opts->n_assoc_templates : 0, tpl, QUIPU_ASSOC_MAX_TEMPLATES);
    if (n_tpl == 0)
        return quipu_error_set(c->err, QUIPU_ERR_INVALID,
                               "%s: no association template for language '%s': give one in the benchmark's association_templates",
                               file, f->language);
    if (n_tpl > QUIPU_ASSOC_MAX_TEMPLATES)
        return quipu_error_set(c->err, QUIPU_ERR_INVALID, "%s: %zu association templates for language '%s' (at most %d)", file,
                               n_tpl, f->language, QUIPU_ASSOC_MAX_TEMPLATES);
    sg_state st = {.f = f};
    quipu_status s = ld_read_csv(c, file, NULL, ',', cols[f->layout], 6, sg_row_fn, &st);
    if (!s && find_contrasts(&st)) s = quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", file);
    if (!s) s = push_items(c, f, file, &st, tpl, n_tpl);
    sg_free(&st);
    return s;
}

/* Is a file of language `tag` wanted by opts->language (a tag or a prefix by whole subtags)? Files
 * of other languages are not read, as files of unwanted categories are not for other benchmarks. */
static int want_language(const ld_ctx *c, const char *tag) {
    const char *want = c->opts ? c->opts->language : NULL;
    if (!want || !*want) return 1;
    size_t n = strlen(want);
    return strncasecmp(tag, want, n) == 0 && (tag[n] == '\0' || tag[n] == '-');
}

quipu_status ld_seegull(ld_ctx *c, int multilingual) {
    const sg_file *files = multilingual ? k_ml_files : k_en_files;
    size_t n = multilingual ? sizeof k_ml_files / sizeof *k_ml_files : sizeof k_en_files / sizeof *k_en_files;
    for (size_t i = 0; i < n && !c->done; i++) {
        if (!want_language(c, files[i].language)) continue;
        quipu_status st = sg_read(c, &files[i]);
        if (st) return st;
    }
    return QUIPU_OK;
}
