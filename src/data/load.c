/* load.c — the loader entry points: the table of built-in benchmarks, the load context (item
 * array, filters, bad-row policy, report), and the CSV / JSON-lines row loops every loader uses. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "data/data_internal.h"
#include "template.h"

/* ---- the built-ins ---- */

typedef struct bench_def {
    const char *name;
    const char *about;
} bench_def;

static const bench_def k_benches[] = {
    {"crows_pairs_en", "CrowS-Pairs (Nangia et al. 2020), en-US / US, 1,508 pairs"},
    {"crows_pairs_fr", "French CrowS-Pairs (Neveol et al. 2022), fr-FR / FR, 1,677 pairs"},
    {"crows_pairs_en_revised", "French CrowS-Pairs' revised English set, en-US / US, 1,677 pairs"},
    {"bbq", "BBQ (Parrish et al. 2022), the 7 staged categories, en-US / US, 17,628 questions"},
    {"bbq_full", "BBQ, all 11 categories (4 must be fetched), en-US / US, 58,492 questions"},
    {"mbbq_en", "MBBQ (Neplenbroek et al. 2024), English, 10,088 questions"},
    {"mbbq_es", "MBBQ, Spanish, 10,088 questions"},
    {"mbbq_control_en", "MBBQ control set (proper names), English, 10,072 questions"},
    {"mbbq_control_es", "MBBQ control set (proper names), Spanish, 10,072 questions"},
    {"esbbq", "EsBBQ (Ruiz-Fernandez et al. 2025), es-ES / ES, 27,320 questions"},
    {"cabbq", "CaBBQ, ca-ES / ES, 27,344 questions"},
    {"sesgo", "SESGO paper version (Robles et al. 2025), es-419 / LatAm, 4,156 questions"},
    {"stereoset_intra", "StereoSet intrasentence dev (third-party CSV), en-US / US, 2,106 items"},
    {"stereoset_inter", "StereoSet intersentence dev (third-party CSV), en-US / US, 2,123 items"},
    {"kobbq", "KoBBQ test set (Jin et al. 2024), ko-KR / KR, 2,280 questions"},
    {"seegull", "SeeGULL (Jha et al. 2023) association, en / global + en-US / US, 2,189 stereotype tuples per template"},
    {"seegull_multilingual", "SeeGULL Multilingual (Bhutani et al. 2024) association, 23 language x region files, 4,127 tuples per template"},
    {"blend", "BLEnD (Myung et al. 2024): cultural knowledge, not bias; 4-choice questions built from its annotations, 16 countries in their language + en, 10,088 items"},
};
#define N_BENCHES (sizeof k_benches / sizeof k_benches[0])

const char *const *quipu_benchmark_names(void) {
    static const char *names[N_BENCHES + 1];
    if (!names[0])
        for (size_t i = 0; i < N_BENCHES; i++) names[i] = k_benches[i].name;
    return names;
}

const char *quipu_benchmark_describe(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < N_BENCHES; i++)
        if (strcmp(k_benches[i].name, name) == 0) return k_benches[i].about;
    if (strcmp(name, "pairs") == 0) return "generic pairs, JSON lines from a user file";
    if (strcmp(name, "mc") == 0) return "generic multiple choice, JSON lines from a user file";
    if (strcmp(name, "template") == 0) return "a template definition (YAML) expanded to pairs or multiple choice";
    return NULL;
}

/* ---- context helpers ---- */

void ld_path(char *out, size_t outlen, const char *dir, const char *rel) {
    if (!dir || !*dir) snprintf(out, outlen, "%s", rel);
    else snprintf(out, outlen, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
}

/* Does the comma-separated list contain word (no case)? */
static int list_has(const char *list, const char *word) {
    size_t wl = strlen(word);
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        if ((size_t)(t - p) == wl && strncasecmp(p, word, wl) == 0) return 1;
        p = e;
    }
    return 0;
}

int ld_want_category(const ld_ctx *c, const char *cat) {
    const char *s = c->opts ? c->opts->subset : NULL;
    if (!s || !*s) return 1;
    return cat && list_has(s, cat);
}

static int lang_match(const char *tag, const char *want) {
    if (!want || !*want) return 1;
    if (!tag) return 0;
    size_t n = strlen(want);
    return strncasecmp(tag, want, n) == 0 && (tag[n] == '\0' || tag[n] == '-');
}

static quipu_status bad_row_v(ld_ctx *c, const char *file, long line, long col, const char *fmt, va_list ap) {
    char why[256];
    vsnprintf(why, sizeof why, fmt, ap);
    if (c->opts && c->opts->on_bad_row == QUIPU_BAD_ROW_SKIP) {
        c->rep->rows_skipped++;
        if (c->rep->n_reasons < QUIPU_LOAD_MAX_REASONS) {
            char *dst = c->rep->reasons[c->rep->n_reasons];
            if (col > 0) snprintf(dst, sizeof c->rep->reasons[0], "%s:%ld:%ld: %s", file, line, col, why);
            else snprintf(dst, sizeof c->rep->reasons[0], "%s:%ld: %s", file, line, why);
            for (char *p = c->rep->reasons[c->rep->n_reasons]; *p; p++)
                if (*p == '\n' || *p == '\r') *p = ' ';
            c->rep->n_reasons++;
        }
        return QUIPU_OK;
    }
    if (col > 0) return quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s:%ld:%ld: %s", file, line, col, why);
    return quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s:%ld: %s", file, line, why);
}

quipu_status ld_bad_row(ld_ctx *c, const char *file, long line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    quipu_status st = bad_row_v(c, file, line, 0, fmt, ap);
    va_end(ap);
    return st;
}

quipu_status ld_bad_row_at(ld_ctx *c, const char *file, long line, long col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    quipu_status st = bad_row_v(c, file, line, col, fmt, ap);
    va_end(ap);
    return st;
}

long ld_row_column(const ld_ctx *c, const char *key) {
    const char *r = c->row;
    size_t n = c->row_len, kl = strlen(key), first = 0;
    if (!r) return 1;
    while (first < n && (r[first] == ' ' || r[first] == '\t')) first++;
    for (size_t i = 0; i + kl + 2 <= n; i++) {
        if (r[i] != '"' || strncmp(r + i + 1, key, kl) || r[i + kl + 1] != '"') continue;
        size_t j = i + kl + 2;
        while (j < n && (r[j] == ' ' || r[j] == '\t')) j++;
        if (j >= n || r[j] != ':') continue;
        j++;
        while (j < n && (r[j] == ' ' || r[j] == '\t')) j++;
        return (long)j + 1;
    }
    return (long)first + 1;
}

quipu_item *ld_push(ld_ctx *c) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        quipu_item *a = realloc(c->items, cap * sizeof *a);
        if (!a) {
            quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory loading items", c->bench);
            return NULL;
        }
        c->items = a;
        c->cap = cap;
    }
    quipu_item *it = &c->items[c->n++];
    memset(it, 0, sizeof *it);
    it->label = -1;
    it->unknown_choice = it->target_choice = it->other_choice = it->biased_choice = -1;
    return it;
}

void ld_discard(ld_ctx *c) {
    quipu_item_free(&c->items[--c->n]);
}

void ld_commit(ld_ctx *c) {
    quipu_item *it = &c->items[c->n - 1];
    int keep = ld_want_category(c, it->category) && lang_match(it->language, c->opts ? c->opts->language : NULL);
    if (!keep) {
        ld_discard(c);
        c->rep->rows_filtered++;
        return;
    }
    if (c->opts && c->opts->limit && c->n >= c->opts->limit) c->done = 1;
}

char *ld_strdup(const char *s, int *oom) {
    if (!s) return NULL;
    char *r = strdup(s);
    if (!r) *oom = 1;
    return r;
}

char *ld_strndup(const char *s, size_t n, int *oom) {
    char *r = malloc(n + 1);
    if (!r) {
        *oom = 1;
        return NULL;
    }
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

int ld_item_tags(ld_ctx *c, quipu_item *it, const char *stem, long row, const char *file, long line,
                 const char *language, const char *culture, const char *category) {
    char buf[1200];
    int oom = 0;
    if (stem) snprintf(buf, sizeof buf, "%s:%s:%ld", c->bench, stem, row);
    else snprintf(buf, sizeof buf, "%s:%ld", c->bench, row);
    it->id = ld_strdup(buf, &oom);
    snprintf(buf, sizeof buf, "%s:%ld", file, line);
    it->source = ld_strdup(buf, &oom);
    it->benchmark = ld_strdup(c->bench, &oom);
    it->language = ld_strdup(language, &oom);
    it->culture = ld_strdup(culture, &oom);
    it->category = ld_strdup(category, &oom);
    if (oom) quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
    return oom ? -1 : 0;
}

int ld_parse_index(const char *s, int *v) {
    if (!s) return -1;
    while (*s == ' ') s++;
    if (!isdigit((unsigned char)*s)) return -1;
    long x = 0;
    while (isdigit((unsigned char)*s)) {
        x = x * 10 + (*s - '0');
        if (x > 1000000) return -1;
        s++;
    }
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s)) return -1;
        while (*s == '0') s++;
        if (isdigit((unsigned char)*s)) return -1; /* 1.5 is not an index */
    }
    while (*s == ' ') s++;
    if (*s) return -1;
    *v = (int)x;
    return 0;
}

/* ---- row loops ---- */

static const char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* Records a file read (path and the sha256 of the bytes read) in the load report. */
static void note_file(ld_ctx *c, const char *file, const void *data, size_t len) {
    if (c->rep->files < QUIPU_LOAD_MAX_FILES) {
        size_t k = c->rep->files;
        snprintf(c->rep->file_paths[k], sizeof c->rep->file_paths[0], "%s", file);
        uint8_t d[32];
        quipu_config_sha256(data, len, d);
        for (int i = 0; i < 32; i++) snprintf(c->rep->file_sha256[k] + 2 * i, 3, "%02x", d[i]);
    }
    c->rep->files++;
    if (!c->first_file[0]) snprintf(c->first_file, sizeof c->first_file, "%s", file);
}

/* A built-in benchmark's file that is not there: the open error (kept as it is, on one line) also
 * says where the files come from. Generic JSON-lines files (no datasets folder) are the user's own. */
static quipu_status missing_hint(ld_ctx *c, const char *file, quipu_status st) {
    struct stat sb;
    if (st != QUIPU_ERR_IO || !c->dir || !c->err || strncmp(c->err->msg, file, strlen(file)) != 0) return st;
    if (stat(file, &sb) == 0 || errno != ENOENT) return st;
    size_t l = strlen(c->err->msg);
    if (stat(c->dir, &sb) != 0)
        snprintf(c->err->msg + l, sizeof c->err->msg - l, "; there is no datasets folder '%s'", c->dir);
    else
        snprintf(c->err->msg + l, sizeof c->err->msg - l, "; the datasets folder '%s' does not have %s's files", c->dir,
                 c->bench);
    l = strlen(c->err->msg);
    snprintf(c->err->msg + l, sizeof c->err->msg - l,
             ": fetch them with scripts/fetch-datasets.sh, or set QUIPU_DATASETS (or datasets_dir) to a folder that has them");
    return st;
}

quipu_status ld_read_jsonl(ld_ctx *c, const char *file, const char *stem, ld_json_row_fn fn, void *user) {
    char *buf = NULL;
    size_t len = 0;
    quipu_status st = quipu_read_file_max(file, QUIPU_READ_MAX_DATASET, "dataset file", &buf, &len, c->err);
    if (st) return missing_hint(c, file, st);
    note_file(c, file, buf, len);
    size_t pos = 0;
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB && (unsigned char)buf[2] == 0xBF)
        pos = 3;
    long line = 0, row = 0;
    while (pos < len && !c->done) {
        line++;
        size_t e = pos;
        while (e < len && buf[e] != '\n') e++;
        size_t next = e < len ? e + 1 : e;
        size_t end = e;
        if (end > pos && buf[end - 1] == '\r') end--;
        size_t k = pos;
        while (k < end && (buf[k] == ' ' || buf[k] == '\t')) k++;
        if (k == end) {
            pos = next;
            continue;
        }
        row++;
        c->rep->rows_read++;
        size_t bad = 0;
        if (end - pos > QUIPU_MAX_ROW_TEXT) {
            st = ld_bad_row(c, file, line, "row of %zu bytes is longer than the %u-byte limit on a row's text", end - pos,
                            QUIPU_MAX_ROW_TEXT);
        } else if (!quipu_utf8_valid(buf + pos, end - pos, &bad)) {
            st = ld_bad_row(c, file, line, "invalid UTF-8 at byte %zu", bad + 1);
        } else {
            json_error_t jerr;
            json_t *obj = json_loadb(buf + pos, end - pos, 0, &jerr);
            if (!obj) st = ld_bad_row(c, file, line, "bad JSON: %s (column %d)", jerr.text, jerr.column);
            else if (!json_is_object(obj)) st = ld_bad_row(c, file, line, "bad JSON: expected an object");
            else {
                c->row = buf + pos;
                c->row_len = end - pos;
                st = fn(c, file, stem, line, row, obj, user);
                c->row = NULL;
                c->row_len = 0;
            }
            json_decref(obj);
        }
        if (st) break;
        pos = next;
    }
    free(buf);
    if (st) return st;
    if (row == 0) return quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: no data rows", file);
    return QUIPU_OK;
}

quipu_status ld_read_csv(ld_ctx *c, const char *file, const char *stem, char delim, const char *const *cols,
                         int ncols, ld_csv_row_fn fn, void *user) {
    quipu_csv csv;
    quipu_status st = quipu_csv_open(&csv, file, delim, c->err);
    if (st) return missing_hint(c, file, st);
    note_file(c, file, csv.buf, csv.len);
    int got = 0;
    int idx[64];
    size_t hdr_nf = 0;
    long row = 0;
    if (ncols > 64) {
        st = quipu_error_set(c->err, QUIPU_ERR_INTERNAL, "%s: too many columns asked", file);
        goto done;
    }
    st = quipu_csv_next(&csv, &got, c->err);
    if (st) goto done;
    if (!got) {
        st = quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: empty file (no header)", file);
        goto done;
    }
    hdr_nf = csv.nf;
    for (int k = 0; k < ncols; k++) {
        idx[k] = quipu_csv_column(&csv, cols[k]);
        if (idx[k] < 0) {
            st = quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s:%ld: no column '%s' in the header", file,
                                 csv.rec_line, cols[k]);
            goto done;
        }
    }
    while (!c->done) {
        quipu_error rerr = {0};
        st = quipu_csv_next(&csv, &got, &rerr);
        if (st == QUIPU_ERR_FORMAT) {
            /* unterminated quote: the rest of the file is one broken record */
            row++;
            c->rep->rows_read++;
            st = ld_bad_row(c, file, csv.rec_line, "unterminated quoted field (it runs to the end of the file)");
            break;
        }
        if (st) {
            quipu_error_set(c->err, st, "%s", rerr.msg);
            break;
        }
        if (!got) break;
        row++;
        c->rep->rows_read++;
        if (csv.nf != hdr_nf) {
            st = ld_bad_row(c, file, csv.rec_line, "%zu fields, expected %zu as in the header", csv.nf, hdr_nf);
            if (st) break;
            continue;
        }
        size_t bad = 0, f;
        for (f = 0; f < csv.nf; f++)
            if (csv.flen[f] > QUIPU_MAX_ROW_TEXT) break;
        if (f < csv.nf) {
            st = ld_bad_row(c, file, csv.rec_line, "field %zu has %zu bytes, longer than the %u-byte limit on a field's text", f + 1,
                            csv.flen[f], QUIPU_MAX_ROW_TEXT);
            if (st) break;
            continue;
        }
        for (f = 0; f < csv.nf; f++)
            if (!quipu_utf8_valid(csv.field[f], csv.flen[f], &bad)) break;
        if (f < csv.nf) {
            st = ld_bad_row(c, file, csv.rec_line, "invalid UTF-8 in field %zu at byte %zu", f + 1, bad + 1);
            if (st) break;
            continue;
        }
        st = fn(c, file, stem, &csv, row, idx, user);
        if (st) break;
    }
    if (!st && row == 0) st = quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: no data rows", file);
done:
    quipu_csv_close(&csv);
    return st;
}

/* ---- entry points ---- */

static quipu_status load_into(ld_ctx *c, const char *name) {
    if (strcmp(name, "crows_pairs_en") == 0) return ld_crows(c, "en");
    if (strcmp(name, "crows_pairs_fr") == 0) return ld_crows(c, "fr");
    if (strcmp(name, "crows_pairs_en_revised") == 0) return ld_crows(c, "en_revised");
    if (strcmp(name, "bbq") == 0) return ld_bbq(c, 0);
    if (strcmp(name, "bbq_full") == 0) return ld_bbq(c, 1);
    if (strcmp(name, "mbbq_en") == 0) return ld_mbbq(c, "en", 0);
    if (strcmp(name, "mbbq_es") == 0) return ld_mbbq(c, "es", 0);
    if (strcmp(name, "mbbq_control_en") == 0) return ld_mbbq(c, "en", 1);
    if (strcmp(name, "mbbq_control_es") == 0) return ld_mbbq(c, "es", 1);
    if (strcmp(name, "esbbq") == 0) return ld_esbbq(c, "es");
    if (strcmp(name, "cabbq") == 0) return ld_esbbq(c, "ca");
    if (strcmp(name, "sesgo") == 0) return ld_sesgo(c);
    if (strcmp(name, "stereoset_intra") == 0) return ld_stereoset(c, 1);
    if (strcmp(name, "stereoset_inter") == 0) return ld_stereoset(c, 0);
    if (strcmp(name, "kobbq") == 0) return ld_kobbq(c);
    if (strcmp(name, "seegull") == 0) return ld_seegull(c, 0);
    if (strcmp(name, "seegull_multilingual") == 0) return ld_seegull(c, 1);
    if (strcmp(name, "blend") == 0) return ld_blend(c);
    return QUIPU_ERR_UNSUPPORTED;
}

static quipu_status finish(ld_ctx *c, quipu_status st, quipu_item **items, size_t *n) {
    if (!st && c->n == 0) {
        const char *what = c->first_file[0] ? c->first_file : c->bench;
        if (c->rep->rows_skipped)
            st = quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: no items: all %zu rows read were malformed (first: %s)",
                                 what, c->rep->rows_skipped, c->rep->n_reasons ? c->rep->reasons[0] : "?");
        else if (c->rep->rows_filtered)
            st = quipu_error_set(c->err, QUIPU_ERR_INVALID, "%s: no items left after the filters (subset '%s', language '%s')",
                                 what, c->opts && c->opts->subset ? c->opts->subset : "",
                                 c->opts && c->opts->language ? c->opts->language : "");
        else
            st = quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: no items", what);
    }
    if (st) {
        quipu_items_free(c->items, c->n);
        return st;
    }
    quipu_item *shrunk = realloc(c->items, c->n * sizeof *shrunk);
    *items = shrunk ? shrunk : c->items;
    *n = c->n;
    c->rep->items = c->n;
    return QUIPU_OK;
}

static void ctx_init(ld_ctx *c, const char *bench, const char *dir, const quipu_load_opts *opts,
                     quipu_load_report *rep, quipu_error *err) {
    memset(c, 0, sizeof *c);
    c->bench = bench;
    c->dir = dir;
    c->opts = opts;
    c->rep = rep;
    c->err = err;
    memset(rep, 0, sizeof *rep);
}

/* a user file's benchmark label: opts->label, else the file name without its extension */
static void file_label(char *label, size_t size, const char *path, const quipu_load_opts *opts) {
    if (opts && opts->label && *opts->label) {
        snprintf(label, size, "%s", opts->label);
        return;
    }
    snprintf(label, size, "%s", base_name(path));
    char *dot = strrchr(label, '.');
    if (dot && dot != label) *dot = '\0';
}

quipu_status quipu_load_jsonl(const char *path, quipu_item_kind kind, const quipu_load_opts *opts,
                              quipu_item **items, size_t *n, quipu_load_report *rep, quipu_error *err) {
    quipu_load_report local;
    if (!rep) rep = &local;
    *items = NULL;
    *n = 0;
    if (!path || !*path)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: no file given (opts.path)",
                               kind == QUIPU_ITEM_PAIR ? "pairs" : kind == QUIPU_ITEM_TEXT ? "text" : "mc");
    char label[256];
    file_label(label, sizeof label, path, opts);
    ld_ctx c;
    ctx_init(&c, label, NULL, opts, rep, err);
    quipu_status st = ld_jsonl(&c, path, kind);
    return finish(&c, st, items, n);
}

quipu_status quipu_load_template(const char *path, const quipu_load_opts *opts, quipu_item **items, size_t *n,
                                 quipu_load_report *rep, quipu_error *err) {
    quipu_load_report local;
    if (!rep) rep = &local;
    *items = NULL;
    *n = 0;
    if (!path || !*path) return quipu_error_set(err, QUIPU_ERR_INVALID, "template: no definition given (opts.path)");
    char label[256];
    file_label(label, sizeof label, path, opts);
    ld_ctx c;
    ctx_init(&c, label, NULL, opts, rep, err);
    char *buf = NULL;
    size_t len = 0;
    quipu_status st = quipu_read_file_max(path, QUIPU_READ_MAX_CONFIG_JSON, "template definition", &buf, &len, err);
    if (st) return st;
    note_file(&c, path, buf, len);
    quipu_error_list errs;
    quipu_error_list_init(&errs);
    quipu_template_set *set = NULL;
    st = quipu_template_expand(path, buf, len, &set, &errs);
    free(buf);
    if (st) {
        if (errs.n > 1)
            quipu_error_set(err, st, "%s (and %d more problems: 'quipu expand %s' lists them all)", errs.msgs[0], errs.n - 1, path);
        else
            quipu_error_set(err, st, "%s", errs.n ? errs.msgs[0] : "template definition: failed");
        quipu_error_list_free(&errs);
        return finish(&c, st, items, n);
    }
    quipu_error_list_free(&errs);
    st = quipu_template_push_items(set, &c);
    quipu_template_free(set);
    return finish(&c, st, items, n);
}

quipu_status quipu_load_benchmark(const char *name, const char *datasets_dir, const quipu_load_opts *opts,
                                  quipu_item **items, size_t *n, quipu_load_report *rep, quipu_error *err) {
    quipu_load_report local;
    if (!rep) rep = &local;
    *items = NULL;
    *n = 0;
    memset(rep, 0, sizeof *rep);
    if (!name || !*name) return quipu_error_set(err, QUIPU_ERR_INVALID, "no benchmark name given");
    if (strcmp(name, "pairs") == 0)
        return quipu_load_jsonl(opts ? opts->path : NULL, QUIPU_ITEM_PAIR, opts, items, n, rep, err);
    if (strcmp(name, "mc") == 0)
        return quipu_load_jsonl(opts ? opts->path : NULL, QUIPU_ITEM_MC, opts, items, n, rep, err);
    if (strcmp(name, "template") == 0)
        return quipu_load_template(opts ? opts->path : NULL, opts, items, n, rep, err);
    if (!quipu_benchmark_describe(name)) {
        char list[1024] = "";
        for (size_t i = 0; i < N_BENCHES; i++) {
            strncat(list, k_benches[i].name, sizeof list - strlen(list) - 1);
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        strncat(list, "pairs, mc", sizeof list - strlen(list) - 1);
        return quipu_error_set(err, QUIPU_ERR_INVALID, "unknown benchmark '%s' (built-ins: %s)", name, list);
    }
    if (!datasets_dir || !*datasets_dir)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: no datasets folder given", name);
    ld_ctx c;
    ctx_init(&c, name, datasets_dir, opts, rep, err);
    quipu_status st = load_into(&c, name);
    return finish(&c, st, items, n);
}
