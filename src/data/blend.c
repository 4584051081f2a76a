/* blend.c — BLEnD (Myung et al. 2024; nlee0212/BLEnD @ 24e7d73) as multiple-choice questions of
 * everyday cultural knowledge: what mitigation must not destroy. BLEnD's own MC files are not
 * staged (4 MiB or more); quipu builds its own from the staged short-answer annotations the way
 * upstream's evaluation/multiple_choice_generation.py built its set (read, not copied): a question
 * asked about one country, the right answer that country's top-voted answer, the wrong ones the
 * top answers of other countries. docs/benchmarks.md "BLEnD" states the rule; in short, for
 * question q asked about country A (16 countries x 500 questions, 4 choices per item):
 *   - A's annotations must be reliable, as upstream's filter asks (per country here, not over all
 *     16 at once): no "not-applicable" vote, at most 2 idk/no-answer/other votes, and a top
 *     answer given by at least 2 annotators. The gold answer is the first listed of A's answers
 *     with the top count (ties: the others are A's answers too, so never distractors);
 *   - candidates: answers of other countries given by at least 2 of their annotators that do not
 *     conflict (the word rule below) with any English form of any of A's answers, in each
 *     country's listed order (most votes first);
 *   - the draw: the other countries in the order of splitmix64(FNV-1a("blend:<A>:<q>" 0x1F
 *     "<country>")), each giving its first candidate that conflicts with no distractor already
 *     drawn, until 3 are drawn. The order depends only on the item, never on what else
 *     is loaded, its order, or the rank count. Fewer than 3: no item (rows_excluded);
 *   - the 4 choices sorted by their bytes (upstream lists A-D alphabetically); label = the gold's
 *     place. Upstream made one item per combination of 3 of a country's distractors and per tied
 *     gold answer, and asked GPT-4 whether two answers mean the same; quipu makes one item per
 *     question x country x question language and uses the word rule only.
 * Word rule: two answers conflict when, lower-cased (ASCII), one holds the other, or they share a
 * word (split at white space and '/'), or two of their words of at least 5 bytes begin with the
 * same 5 bytes (teacher / teaching). In a question asking for a time (HH:MM), a date (MM/DD) or a
 * number ("Arabic numerals") the answers must have that form, and two of them conflict when their
 * values are equal.
 * Every (q, A) that passes makes an item whose question is in A's language (language tag of A,
 * A's prompt) and one whose question is in English (language "en"); the US and UK make one, in
 * English. Choices are the annotators' English answers in both: only the question's language
 * changes, so the two accuracies of a country compare on the same choices. The prompt is BLEnD's
 * evaluation prompt inst-4 (data/prompts/<A>_prompts.csv) in the question's language, filled
 * with the question: the item's context, its question "". */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "data/data_internal.h"
#include "stats.h"

#define BL_N_CHOICES 4
#define BL_MIN_VOTES 2  /* upstream: a top answer and every distractor given by >= 2 annotators */
#define BL_MAX_IDKS 2   /* upstream: sum of the idks counts > 2 drops the question */
#define BL_PREFIX 5     /* words sharing their first 5 bytes count as the same word */
#define BL_MAX_LINE 4096

typedef struct bl_country_def {
    const char *name;     /* BLEnD's file prefix */
    const char *language; /* the local language's tag; NULL: English (US, UK) */
    const char *culture;
} bl_country_def;

/* Byte order of the names, as the files list; the draw does not depend on it. Assam and West
 * Java are ISO 3166-2 regions; Northern Nigeria has no code (BLEnD's Hausa-speaking north). */
static const bl_country_def k_countries[] = {
    {"Algeria", "ar-DZ", "DZ"},      {"Assam", "as-IN", "IN-AS"},   {"Azerbaijan", "az-AZ", "AZ"},
    {"China", "zh-CN", "CN"},        {"Ethiopia", "am-ET", "ET"},   {"Greece", "el-GR", "GR"},
    {"Indonesia", "id-ID", "ID"},    {"Iran", "fa-IR", "IR"},       {"Mexico", "es-MX", "MX"},
    {"North_Korea", "ko-KP", "KP"},  {"Northern_Nigeria", "ha-NG", "NG-North"},
    {"South_Korea", "ko-KR", "KR"},  {"Spain", "es-ES", "ES"},      {"UK", NULL, "GB"},
    {"US", NULL, "US"},              {"West_Java", "su-ID", "ID-JB"},
};
#define BL_N ((int)(sizeof k_countries / sizeof k_countries[0]))

typedef enum bl_format { BL_FMT_NONE = 0, BL_FMT_TIME, BL_FMT_DATE, BL_FMT_NUM } bl_format;

typedef struct bl_form {
    char *text; /* trimmed English form */
    char *low;  /* ASCII lower-cased copy, for the word rule */
} bl_form;

typedef struct bl_ann {
    long count;
    int n_forms;     /* non-empty English forms; forms[0] is the answer's text */
    bl_form *forms;
} bl_ann;

typedef struct bl_q {
    char *qid;
    int bad;                     /* malformed and skipped: no item, no candidate */
    long not_applicable, idks;   /* idks: every idks count summed, as upstream */
    int n_ann;
    bl_ann *ann;
} bl_q;

typedef struct bl_country {
    const bl_country_def *def;
    bl_q *q;
    size_t nq, cap;
    bl_q **sorted;               /* the questions by id (bytes), for lookups */
    char *prompt_en, *prompt_local; /* inst-4, each holding "{q}" once */
} bl_country;

typedef struct bl_state {
    bl_country k[BL_N];
    int a;                       /* the country whose questions are being read */
    quipu_strmap seen;           /* its question ids -> line, for repeats */
} bl_state;

/* ---- small helpers ---- */

static int bl_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'; }

static void bl_trim(const char *s, const char **b, size_t *n) {
    size_t l = strlen(s), i = 0;
    while (i < l && bl_ws(s[i])) i++;
    while (l > i && bl_ws(s[l - 1])) l--;
    *b = s + i;
    *n = l - i;
}

static int bl_digits(const char *s, size_t lo, size_t hi, size_t *n) {
    size_t k = 0;
    while (s[k] >= '0' && s[k] <= '9') k++;
    *n = k;
    return k >= lo && k <= hi;
}

/* The value of an answer in the question's format: 1 and v[0..2) when s has that form. */
static int bl_value(bl_format f, const char *s, double v[2]) {
    size_t a, b;
    switch (f) {
    case BL_FMT_TIME: /* upstream's ^\d\d:\d\d$ */
        if (!bl_digits(s, 2, 2, &a) || s[2] != ':' || !bl_digits(s + 3, 2, 2, &b) || s[5]) return 0;
        v[0] = (s[0] - '0') * 10 + (s[1] - '0');
        v[1] = (s[3] - '0') * 10 + (s[4] - '0');
        return 1;
    case BL_FMT_DATE: /* ^\d{1,2}/\d{1,2}$ */
        if (!bl_digits(s, 1, 2, &a) || s[a] != '/' || !bl_digits(s + a + 1, 1, 2, &b) || s[a + 1 + b]) return 0;
        v[0] = strtod(s, NULL);
        v[1] = strtod(s + a + 1, NULL);
        return 1;
    case BL_FMT_NUM: /* digits, optionally a point and digits */
        if (!bl_digits(s, 1, (size_t)-1, &a)) return 0;
        if (s[a] == '.') {
            if (!bl_digits(s + a + 1, 1, (size_t)-1, &b)) return 0;
            a += 1 + b;
        }
        if (s[a]) return 0;
        v[0] = strtod(s, NULL);
        v[1] = 0;
        return 1;
    default:
        return 0;
    }
}

static int bl_form_ok(bl_format f, const bl_form *x) {
    double v[2];
    return f == BL_FMT_NONE || bl_value(f, x->text, v);
}

static int bl_sep(char ch) { return bl_ws(ch) || ch == '/'; }

/* Do two lower-cased answers share a word, or two words of >= BL_PREFIX bytes their first bytes? */
static int bl_share_word(const char *a, const char *b) {
    for (const char *x = a; *x;) {
        while (*x && bl_sep(*x)) x++;
        size_t lx = 0;
        while (x[lx] && !bl_sep(x[lx])) lx++;
        if (!lx) break;
        for (const char *y = b; *y;) {
            while (*y && bl_sep(*y)) y++;
            size_t ly = 0;
            while (y[ly] && !bl_sep(y[ly])) ly++;
            if (!ly) break;
            if ((lx == ly && !memcmp(x, y, lx)) || (lx >= BL_PREFIX && ly >= BL_PREFIX && !memcmp(x, y, BL_PREFIX)))
                return 1;
            y += ly;
        }
        x += lx;
    }
    return 0;
}

static int bl_conflict(bl_format f, const bl_form *a, const bl_form *b) {
    double va[2], vb[2];
    if (f != BL_FMT_NONE && bl_value(f, a->text, va) && bl_value(f, b->text, vb)) return va[0] == vb[0] && va[1] == vb[1];
    if (strstr(a->low, b->low) || strstr(b->low, a->low)) return 1;
    return bl_share_word(a->low, b->low);
}

static bl_format bl_format_of(const char *en_question) {
    if (strstr(en_question, "HH:MM")) return BL_FMT_TIME;
    if (strstr(en_question, "MM/DD")) return BL_FMT_DATE;
    if (strstr(en_question, "Arabic numerals")) return BL_FMT_NUM;
    return BL_FMT_NONE;
}

static int bl_q_cmp(const void *pa, const void *pb) {
    return strcmp((*(const bl_q *const *)pa)->qid, (*(const bl_q *const *)pb)->qid);
}

static int bl_key_cmp(const void *key, const void *pb) { return strcmp(key, (*(const bl_q *const *)pb)->qid); }

static const bl_q *bl_lookup(const bl_country *k, const char *qid) {
    if (!k->sorted) return NULL;
    bl_q *const *at = bsearch(qid, k->sorted, k->nq, sizeof *k->sorted, bl_key_cmp);
    return at ? *at : NULL;
}

static void bl_free(bl_state *s) {
    if (!s) return;
    for (int i = 0; i < BL_N; i++) {
        bl_country *k = &s->k[i];
        for (size_t j = 0; j < k->nq; j++) {
            for (int a = 0; a < k->q[j].n_ann; a++) {
                for (int f = 0; f < k->q[j].ann[a].n_forms; f++) {
                    free(k->q[j].ann[a].forms[f].text);
                    free(k->q[j].ann[a].forms[f].low);
                }
                free(k->q[j].ann[a].forms);
            }
            free(k->q[j].ann);
            free(k->q[j].qid);
        }
        free(k->q);
        free(k->sorted);
        free(k->prompt_en);
        free(k->prompt_local);
    }
    quipu_strmap_free(&s->seen);
    free(s);
}

/* ---- reading a whole JSON file (load.c's row loops serve CSV and JSON lines only) ---- */

/* The load report's record of a file read: its path and the sha256 of its bytes, as load.c's
 * note_file keeps for the run manifest (that one is private to load.c). */
static void bl_note_file(ld_ctx *c, const char *file, const char *data, size_t len) {
    if (c->rep->files < QUIPU_LOAD_MAX_FILES) {
        size_t k = c->rep->files;
        snprintf(c->rep->file_paths[k], sizeof c->rep->file_paths[0], "%.1023s", file);
        uint8_t d[32];
        quipu_config_sha256(data, len, d);
        for (int i = 0; i < 32; i++) snprintf(c->rep->file_sha256[k] + 2 * i, 3, "%02x", d[i]);
    }
    c->rep->files++;
    if (!c->first_file[0]) snprintf(c->first_file, sizeof c->first_file, "%.1023s", file);
}

/* A missing file: the same one-line hint as the CSV and JSON-lines loops give (where the files
 * come from). */
static quipu_status bl_missing_hint(ld_ctx *c, const char *file, quipu_status st) {
    struct stat sb;
    if (st != QUIPU_ERR_IO || !c->err || strncmp(c->err->msg, file, strlen(file)) != 0) return st;
    if (stat(file, &sb) == 0 || errno != ENOENT) return st;
    size_t l = strlen(c->err->msg);
    if (stat(c->dir, &sb) != 0)
        snprintf(c->err->msg + l, sizeof c->err->msg - l, "; there is no datasets folder '%s'", c->dir);
    else
        snprintf(c->err->msg + l, sizeof c->err->msg - l, "; the datasets folder '%s' does not have %s's files", c->dir, c->bench);
    l = strlen(c->err->msg);
    snprintf(c->err->msg + l, sizeof c->err->msg - l,
             ": fetch them with scripts/fetch-datasets.sh, or set QUIPU_DATASETS (or datasets_dir) to a folder that has them");
    return st;
}

/* The top-level keys of a valid JSON object text, in text order, with their lines: jansson keeps
 * no positions, and a bad entry is reported at its key's line. */
typedef struct bl_key {
    char *key;
    long line;
} bl_key;

static quipu_status bl_scan_keys(const char *s, size_t n, bl_key **out, size_t *nk, quipu_error *err, const char *file) {
    size_t cap = 0, k = 0;
    bl_key *v = NULL;
    long line = 1;
    int depth = 0, expect_key = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\n') line++;
        else if (ch == '"') {
            size_t j = i + 1;
            int esc = 0;
            while (j < n && s[j] != '"') {
                if (s[j] == '\\') {
                    esc = 1;
                    j++;
                }
                j++;
            }
            if (depth == 1 && expect_key) {
                char *key = NULL;
                if (esc) {
                    json_t *js = json_loadb(s + i, j + 1 - i, JSON_DECODE_ANY, NULL);
                    if (js && json_is_string(js)) key = strdup(json_string_value(js));
                    json_decref(js);
                } else {
                    key = strndup(s + i + 1, j - i - 1);
                }
                if (k == cap) {
                    cap = cap ? 2 * cap : 512;
                    bl_key *w = realloc(v, cap * sizeof *v);
                    if (!w) {
                        free(key);
                        key = NULL;
                    } else {
                        v = w;
                    }
                }
                if (!key) {
                    for (size_t t = 0; t < k; t++) free(v[t].key);
                    free(v);
                    return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", file);
                }
                v[k].key = key;
                v[k++].line = line;
            }
            expect_key = 0;
            i = j;
        } else if (ch == '{' || ch == '[') {
            depth++;
            expect_key = ch == '{' && depth == 1;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == ',' && depth == 1) {
            expect_key = 1;
        }
    }
    *out = v;
    *nk = k;
    return QUIPU_OK;
}

/* One annotation entry; a malformed one is a bad row at its key's line (skipped: bad = 1). */
static quipu_status bl_entry(ld_ctx *c, bl_country *k, const char *file, const char *qid, long line, json_t *v) {
    c->rep->rows_read++;
    if (k->nq == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 512;
        bl_q *w = realloc(k->q, cap * sizeof *w);
        if (!w) return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", file);
        k->q = w;
        k->cap = cap;
    }
    bl_q *q = &k->q[k->nq];
    memset(q, 0, sizeof *q);
    q->qid = strdup(qid);
    if (!q->qid) return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", file);
    k->nq++;

    const char *why = NULL;
    int bad_ann = 0;
    json_t *idks = json_is_object(v) ? json_object_get(v, "idks") : NULL;
    json_t *anns = json_is_object(v) ? json_object_get(v, "annotations") : NULL;
    if (!json_is_object(v)) why = "not a JSON object";
    else if (!json_is_object(idks)) why = "no 'idks' object";
    else if (!json_is_array(anns)) why = "no 'annotations' list";
    if (!why) {
        const char *key;
        json_t *x;
        json_object_foreach(idks, key, x) {
            if (!json_is_integer(x) || json_integer_value(x) < 0) {
                why = "'idks' holds a count that is not a non-negative integer";
                break;
            }
            if (json_integer_value(x) > 1000000) {
                why = "'idks' holds a count over 1000000";
                break;
            }
            q->idks += (long)json_integer_value(x);
            if (!strcmp(key, "not-applicable")) q->not_applicable = (long)json_integer_value(x);
        }
    }
    size_t na = why ? 0 : json_array_size(anns);
    if (!why && na > 10000) why = "more than 10000 annotations";
    if (!why && na) {
        q->ann = calloc(na, sizeof *q->ann);
        if (!q->ann) return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", file);
    }
    for (size_t i = 0; !why && i < na; i++) {
        json_t *a = json_array_get(anns, i), *cnt = json_object_get(a, "count"), *en = json_object_get(a, "en_answers");
        bad_ann = (int)i + 1;
        if (!json_is_object(a)) why = "is not a JSON object";
        else if (!json_is_integer(cnt) || json_integer_value(cnt) < 1 || json_integer_value(cnt) > 1000000)
            why = "'count' is not a positive integer";
        else if (!json_is_array(en)) why = "'en_answers' is not a list";
        if (why) break;
        bl_ann *an = &q->ann[q->n_ann++];
        an->count = (long)json_integer_value(cnt);
        size_t ne = json_array_size(en);
        an->forms = ne ? calloc(ne, sizeof *an->forms) : NULL;
        if (ne && !an->forms) return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", file);
        for (size_t e = 0; e < ne; e++) {
            json_t *s = json_array_get(en, e);
            if (!json_is_string(s)) {
                why = "'en_answers' holds something that is not a string";
                break;
            }
            if (json_string_length(s) > QUIPU_MAX_ROW_TEXT) {
                why = "an English answer is longer than the 1048576-byte limit";
                break;
            }
            const char *b;
            size_t l;
            bl_trim(json_string_value(s), &b, &l);
            if (!l) continue;
            if (memchr(b, '\0', l)) {
                why = "an English answer holds a NUL character";
                break;
            }
            bl_form *f = &an->forms[an->n_forms];
            f->text = strndup(b, l);
            f->low = strndup(b, l);
            if (!f->text || !f->low) {
                free(f->text);
                free(f->low);
                return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", file);
            }
            for (char *p = f->low; *p; p++)
                if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
            an->n_forms++;
        }
    }
    if (!why) return QUIPU_OK;
    q->bad = 1;
    if (bad_ann) return ld_bad_row(c, file, line, "question '%.80s': annotation %d: %s", qid, bad_ann, why);
    return ld_bad_row(c, file, line, "question '%.80s': %s", qid, why);
}

static quipu_status bl_read_annotations(ld_ctx *c, bl_country *k) {
    char file[BL_MAX_LINE], rel[256];
    snprintf(rel, sizeof rel, "blend/data/annotations/%s_data.json", k->def->name);
    ld_path(file, sizeof file, c->dir, rel);
    char *buf = NULL;
    size_t len = 0;
    quipu_status st = quipu_read_file_max(file, QUIPU_READ_MAX_DATASET, "dataset file", &buf, &len, c->err);
    if (st) return bl_missing_hint(c, file, st);
    bl_note_file(c, file, buf, len);
    size_t off = len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB && (unsigned char)buf[2] == 0xBF ? 3 : 0;
    json_error_t je;
    json_t *root = json_loadb(buf + off, len - off, JSON_REJECT_DUPLICATES, &je);
    bl_key *keys = NULL;
    size_t nk = 0;
    if (!root) {
        st = quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s:%d: bad JSON: %s (column %d)", file, je.line, je.text, je.column);
    } else if (!json_is_object(root)) {
        st = quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s:1: expected a JSON object keyed by question id", file);
    } else if (!json_object_size(root)) {
        st = quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: no questions", file);
    } else {
        st = bl_scan_keys(buf + off, len - off, &keys, &nk, c->err, file);
        if (!st && nk != json_object_size(root))
            st = quipu_error_set(c->err, QUIPU_ERR_INTERNAL, "%s: found %zu keys, jansson %zu", file, nk,
                                 json_object_size(root));
        for (size_t i = 0; !st && i < nk; i++) st = bl_entry(c, k, file, keys[i].key, keys[i].line, json_object_get(root, keys[i].key));
        /* keys are unique (JSON_REJECT_DUPLICATES): the index needs no tie rule */
        if (!st && !(k->sorted = quipu_malloc_array(k->nq, sizeof *k->sorted)))
            st = quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", file);
        for (size_t i = 0; !st && i < k->nq; i++) k->sorted[i] = &k->q[i];
        if (!st) qsort(k->sorted, k->nq, sizeof *k->sorted, bl_q_cmp);
    }
    for (size_t i = 0; i < nk; i++) free(keys[i].key);
    free(keys);
    json_decref(root);
    free(buf);
    return st;
}

/* ---- the prompts: inst-4, the one BLEnD's evaluation used ---- */

static int bl_count_q(const char *s) {
    int n = 0;
    for (const char *p = strstr(s, "{q}"); p; p = strstr(p + 3, "{q}")) n++;
    return n;
}

static quipu_status bl_prompt_row(ld_ctx *c, const char *file, const char *stem, const quipu_csv *csv, long row,
                                  const int *idx, void *user) {
    (void)stem;
    (void)row;
    bl_country *k = user;
    long line = csv->rec_line;
    const char *id = csv->field[idx[0]];
    const char *b;
    size_t l;
    bl_trim(id, &b, &l);
    if (l != 6 || memcmp(b, "inst-4", 6)) return QUIPU_OK;
    /* the first inst-4 row, as upstream's make_prompt takes (Azerbaijan lists two translations) */
    if (k->prompt_en) return QUIPU_OK;
    const char *en = csv->field[idx[1]], *loc = csv->field[idx[2]];
    if (bl_count_q(en) != 1) return ld_bad_row(c, file, line, "inst-4: the English prompt must hold {q} exactly once");
    if (bl_count_q(loc) != 1) return ld_bad_row(c, file, line, "inst-4: the Translation prompt must hold {q} exactly once");
    k->prompt_en = strdup(en);
    k->prompt_local = strdup(loc);
    if (!k->prompt_en || !k->prompt_local) return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
    return QUIPU_OK;
}

static quipu_status bl_read_prompts(ld_ctx *c, bl_country *k) {
    static const char *const cols[] = {"id", "English", "Translation"};
    char file[BL_MAX_LINE], rel[256];
    snprintf(rel, sizeof rel, "blend/data/prompts/%s_prompts.csv", k->def->name);
    ld_path(file, sizeof file, c->dir, rel);
    quipu_status st = ld_read_csv(c, file, NULL, ',', cols, 3, bl_prompt_row, k);
    if (!st && !k->prompt_en)
        st = quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: no usable 'inst-4' row (the prompt BLEnD's evaluation used)", file);
    return st;
}

/* ---- the draw ---- */

typedef struct bl_order {
    uint64_t key;
    int k;
} bl_order;

static int bl_order_cmp(const void *pa, const void *pb) {
    const bl_order *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return strcmp(k_countries[a->k].name, k_countries[b->k].name);
}

static int bl_choice_cmp(const void *pa, const void *pb) {
    const bl_form *a = *(const bl_form *const *)pa, *b = *(const bl_form *const *)pb;
    return strcmp(a->text, b->text);
}

/* The rule of the file's header for question qid asked about country a: 1 and the choices (sorted)
 * and label when it makes items, 0 when it leaves the question out. */
static int bl_draw(bl_state *s, int a, const bl_q *q, bl_format f, const bl_form *ch[BL_N_CHOICES], int *label) {
    if (q->not_applicable > 0 || q->idks > BL_MAX_IDKS || q->n_ann == 0) return 0;
    long top = 0;
    for (int i = 0; i < q->n_ann; i++)
        if (q->ann[i].count > top) top = q->ann[i].count;
    if (top < BL_MIN_VOTES) return 0;
    const bl_form *gold = NULL;
    for (int i = 0; i < q->n_ann && !gold; i++)
        if (q->ann[i].count == top && q->ann[i].n_forms && bl_form_ok(f, &q->ann[i].forms[0])) gold = &q->ann[i].forms[0];
    if (!gold) return 0;

    uint64_t h0 = quipu_hash64_str(QUIPU_HASH64_INIT, "blend:");
    h0 = quipu_hash64_str(h0, k_countries[a].name);
    h0 = quipu_hash64_str(h0, ":");
    h0 = quipu_hash64_sep(quipu_hash64_str(h0, q->qid));
    bl_order ord[BL_N];
    int no = 0;
    for (int o = 0; o < BL_N; o++) {
        if (o == a) continue;
        uint64_t st = quipu_hash64_str(h0, k_countries[o].name);
        ord[no].key = quipu_splitmix64(&st);
        ord[no++].k = o;
    }
    qsort(ord, (size_t)no, sizeof *ord, bl_order_cmp);

    const bl_form *picked[BL_N_CHOICES - 1];
    int np = 0;
    for (int r = 0; r < no && np < BL_N_CHOICES - 1; r++) {
        const bl_q *oq = bl_lookup(&s->k[ord[r].k], q->qid);
        if (!oq || oq->bad) continue;
        for (int i = 0; i < oq->n_ann; i++) {
            const bl_ann *an = &oq->ann[i];
            if (an->count < BL_MIN_VOTES || !an->n_forms || !bl_form_ok(f, &an->forms[0])) continue;
            const bl_form *e = &an->forms[0];
            int clash = 0;
            for (int m = 0; m < q->n_ann && !clash; m++)
                for (int t = 0; t < q->ann[m].n_forms && !clash; t++) clash = bl_conflict(f, e, &q->ann[m].forms[t]);
            for (int p = 0; p < np && !clash; p++) clash = bl_conflict(f, e, picked[p]);
            if (clash) continue;
            picked[np++] = e;
            break;
        }
    }
    if (np < BL_N_CHOICES - 1) return 0;
    ch[0] = gold;
    for (int p = 0; p < np; p++) ch[1 + p] = picked[p];
    qsort(ch, BL_N_CHOICES, sizeof *ch, bl_choice_cmp);
    for (int i = 0; i < BL_N_CHOICES; i++)
        if (ch[i] == gold) *label = i;
    return 1;
}

/* ---- items ---- */

/* tpl with its one "{q}" replaced by q[0..ql) */
static char *bl_fill(const char *tpl, const char *q, size_t ql) {
    const char *at = strstr(tpl, "{q}");
    size_t pre = (size_t)(at - tpl), post = strlen(at + 3);
    char *out = malloc(pre + ql + post + 1);
    if (!out) return NULL;
    memcpy(out, tpl, pre);
    memcpy(out + pre, q, ql);
    memcpy(out + pre + ql, at + 3, post + 1);
    return out;
}

static quipu_status bl_push(ld_ctx *c, const bl_country *k, const char *qid, const char *file, long line, const char *lang,
                            const char *tpl, const char *question, const char *topic, const bl_form *const ch[BL_N_CHOICES],
                            int label) {
    quipu_item *it = ld_push(c);
    if (!it) return QUIPU_ERR_NOMEM;
    int oom = ld_item_tags(c, it, NULL, 0, file, line, lang, k->def->culture, topic) != 0;
    free(it->id);
    it->id = quipu_asprintf("%s:%s:%s:%s", c->bench, k->def->name, qid, lang);
    const char *b;
    size_t l;
    bl_trim(question, &b, &l);
    it->kind = QUIPU_ITEM_MC;
    it->context = bl_fill(tpl, b, l);
    it->question = ld_strdup("", &oom);
    it->n_choices = BL_N_CHOICES;
    for (int i = 0; i < BL_N_CHOICES; i++) it->choices[i] = ld_strdup(ch[i]->text, &oom);
    it->label = label;
    if (oom || !it->id || !it->context) {
        ld_discard(c);
        return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
    }
    ld_commit(c);
    return QUIPU_OK;
}

static quipu_status bl_question_row(ld_ctx *c, const char *file, const char *stem, const quipu_csv *csv, long row,
                                    const int *idx, void *user) {
    (void)stem;
    (void)row;
    bl_state *s = user;
    bl_country *k = &s->k[s->a];
    long line = csv->rec_line;
    static const char *const names[] = {"ID", "Topic", "Question", "Translation"};
    const char *v[4];
    size_t vl[4];
    for (int i = 0; i < 4; i++) {
        bl_trim(csv->field[idx[i]], &v[i], &vl[i]);
        /* an empty question text only leaves its language's item out (China's New-en-04 has no
         * Chinese text upstream) */
        if (!vl[i] && i < 2) return ld_bad_row(c, file, line, "empty %s", names[i]);
    }
    char *qid = strndup(v[0], vl[0]), *topic = strndup(v[1], vl[1]);
    quipu_status st = QUIPU_OK;
    long first = 0;
    int r = qid && topic ? quipu_strmap_add(&s->seen, qid, line, &first) : -1;
    const bl_q *q = r > 0 ? bl_lookup(k, qid) : NULL;
    if (r < 0) {
        st = quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
    } else if (r == 0) {
        st = ld_bad_row(c, file, line, "question '%.80s' is listed twice (first on line %ld)", qid, first);
    } else if (!q) {
        st = ld_bad_row(c, file, line, "question '%.80s' has no entry in blend/data/annotations/%s_data.json", qid, k->def->name);
    } else if (!q->bad) {
        const bl_form *ch[BL_N_CHOICES];
        int label = -1;
        if (!bl_draw(s, s->a, q, bl_format_of(csv->field[idx[3]]), ch, &label)) {
            c->rep->rows_excluded++;
        } else if (k->def->language) {
            if (!vl[2]) c->rep->rows_excluded++;
            else st = bl_push(c, k, qid, file, line, k->def->language, k->prompt_local, csv->field[idx[2]], topic, ch, label);
            if (!vl[3]) c->rep->rows_excluded++;
            else if (!st && !c->done) st = bl_push(c, k, qid, file, line, "en", k->prompt_en, csv->field[idx[3]], topic, ch, label);
        } else if (!vl[2]) {
            c->rep->rows_excluded++;
        } else {
            /* the US and UK: their own question ("in the US") and prompt are English */
            st = bl_push(c, k, qid, file, line, "en", k->prompt_local, csv->field[idx[2]], topic, ch, label);
        }
    }
    free(qid);
    free(topic);
    return st;
}

quipu_status ld_blend(ld_ctx *c) {
    static const char *const cols[] = {"ID", "Topic", "Question", "Translation"};
    bl_state *s = calloc(1, sizeof *s);
    if (!s) return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "blend: out of memory");
    quipu_status st = QUIPU_OK;
    /* every country's answers first: each question draws its distractors from all of them */
    for (int i = 0; i < BL_N && !st; i++) {
        s->k[i].def = &k_countries[i];
        st = bl_read_annotations(c, &s->k[i]);
    }
    for (int i = 0; i < BL_N && !st; i++) st = bl_read_prompts(c, &s->k[i]);
    for (int i = 0; i < BL_N && !st && !c->done; i++) {
        char file[BL_MAX_LINE], rel[256];
        snprintf(rel, sizeof rel, "blend/data/questions/%s_questions.csv", k_countries[i].name);
        ld_path(file, sizeof file, c->dir, rel);
        s->a = i;
        quipu_strmap_free(&s->seen);
        memset(&s->seen, 0, sizeof s->seen);
        st = ld_read_csv(c, file, NULL, ',', cols, 4, bl_question_row, s);
    }
    bl_free(s);
    return st;
}
