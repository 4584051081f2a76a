/* journal.c — append-only per-rank journals of finished items (see journal.h). */
#define _POSIX_C_SOURCE 200809L
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct quipu_journal {
    char *path;
    FILE *f;
    char *buf;       /* pending lines */
    size_t len, cap;
};

quipu_status quipu_journal_open(quipu_journal **out, const char *dir, const char *config_hash, int rank, quipu_error *err) {
    *out = NULL;
    char d[4096], p[4400];
    snprintf(d, sizeof d, "%s/journal/%s", dir, config_hash);
    if (quipu_mkdir_p(d, err)) return err->code;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* one file per rank and attempt: appends never interleave, any rank count can read all */
    snprintf(p, sizeof p, "%s/rank%04d-%lld%09ld-%ld.jsonl", d, rank, (long long)ts.tv_sec, ts.tv_nsec, (long)getpid());
    quipu_journal *j = calloc(1, sizeof *j);
    if (!j) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    j->path = strdup(p);
    j->f = fopen(p, "wx");
    if (!j->f) {
        quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot create journal: %s", p, strerror(errno));
        free(j->path);
        free(j);
        return err->code;
    }
    *out = j;
    return QUIPU_OK;
}

static int buf_printf(quipu_journal *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static int buf_printf(quipu_journal *j, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if ((size_t)n < j->cap - j->len) {
            j->len += (size_t)n;
            return 0;
        }
        size_t nc = j->cap ? j->cap * 2 : 4096;
        while (nc < j->len + (size_t)n + 1) nc *= 2;
        char *nb = realloc(j->buf, nc);
        if (!nb) return -1;
        j->buf = nb;
        j->cap = nc;
    }
}

quipu_status quipu_journal_add(quipu_journal *j, const char *item_id, const quipu_item_record *rec, quipu_error *err) {
    json_t *id = json_string(item_id);
    char *ids = id ? json_dumps(id, JSON_ENCODE_ANY) : NULL;
    json_decref(id);
    if (!ids) return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: item id is not valid UTF-8", j->path);
    int bad = buf_printf(j, "{\"id\": %s, \"lp\": [", ids);
    free(ids);
    for (int c = 0; c < rec->n_choices && !bad; c++) bad = buf_printf(j, c ? ", %.17g" : "%.17g", rec->logprob[c] + 0.0); /* + 0.0: -0 reads back as +0 */
    bad = bad || buf_printf(j, "], \"nt\": [");
    for (int c = 0; c < rec->n_choices && !bad; c++) bad = buf_printf(j, c ? ", %d" : "%d", rec->n_tokens[c]);
    bad = bad || buf_printf(j, "], \"nb\": [");
    for (int c = 0; c < rec->n_choices && !bad; c++) bad = buf_printf(j, c ? ", %d" : "%d", rec->n_bytes[c]);
    bad = bad || buf_printf(j, "], \"g\": [");
    for (int c = 0; c < rec->n_choices && !bad; c++) bad = buf_printf(j, c ? ", %d" : "%d", rec->is_greedy[c]);
    bad = bad || buf_printf(j, "]}\n");
    if (bad) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory buffering the journal", j->path);
    return QUIPU_OK;
}

quipu_status quipu_journal_sync(quipu_journal *j, quipu_error *err) {
    if (j->len == 0) return QUIPU_OK;
    size_t w = fwrite(j->buf, 1, j->len, j->f);
    int e = errno;
    if (w != j->len || fflush(j->f) != 0) {
        e = errno ? errno : e;
        return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write the journal: %s (finished items before this batch are kept)", j->path,
                               strerror(e));
    }
    if (fsync(fileno(j->f)) != 0)
        return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot sync the journal: %s", j->path, strerror(errno));
    j->len = 0;
    return QUIPU_OK;
}

void quipu_journal_close(quipu_journal *j) {
    if (!j) return;
    if (j->f) fclose(j->f);
    free(j->buf);
    free(j->path);
    free(j);
}

static int parse_entry(const char *line, size_t len, quipu_journal_entry *e) {
    json_error_t je;
    json_t *d = json_loadb(line, len, 0, &je);
    memset(e, 0, sizeof *e);
    if (!json_is_object(d)) {
        json_decref(d);
        return -1;
    }
    json_t *id = json_object_get(d, "id"), *lp = json_object_get(d, "lp"), *nt = json_object_get(d, "nt"),
           *nb = json_object_get(d, "nb"), *g = json_object_get(d, "g");
    size_t n = json_array_size(lp);
    int ok = json_is_string(id) && json_is_array(lp) && n >= 1 && n <= QUIPU_MAX_CHOICES && json_array_size(nt) == n &&
             json_array_size(nb) == n && json_array_size(g) == n;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *a = json_array_get(lp, i), *b = json_array_get(nt, i), *c = json_array_get(nb, i), *k = json_array_get(g, i);
        if (!json_is_number(a) || !json_is_integer(b) || !json_is_integer(c) || !json_is_integer(k)) {
            ok = 0;
            break;
        }
        e->rec.logprob[i] = json_number_value(a);
        e->rec.n_tokens[i] = (int32_t)json_integer_value(b);
        e->rec.n_bytes[i] = (int32_t)json_integer_value(c);
        e->rec.is_greedy[i] = (uint8_t)(json_integer_value(k) != 0);
    }
    if (ok) {
        e->id = strdup(json_string_value(id));
        e->rec.n_choices = (int)n;
        e->rec.item_index = -1;
    }
    json_decref(d);
    return ok && e->id ? 0 : -1;
}

static int cmp_entry(const void *a, const void *b) {
    const quipu_journal_entry *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

quipu_status quipu_journal_read_all(const char *dir, const char *config_hash, quipu_journal_entry **entries, size_t *n,
                                    quipu_error *err) {
    *entries = NULL;
    *n = 0;
    char d[4096];
    snprintf(d, sizeof d, "%s/journal/%s", dir, config_hash);
    DIR *dh = opendir(d);
    if (!dh) {
        if (errno == ENOENT) return QUIPU_OK; /* nothing journaled yet */
        return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot read the journal folder: %s", d, strerror(errno));
    }
    char **names = NULL;
    size_t nn = 0, cn = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        if (l < 7 || strcmp(de->d_name + l - 6, ".jsonl")) continue;
        if (nn == cn) {
            cn = cn ? cn * 2 : 16;
            char **nb = realloc(names, cn * sizeof *names);
            if (!nb) break;
            names = nb;
        }
        names[nn++] = strdup(de->d_name);
    }
    closedir(dh);
    qsort(names, nn, sizeof *names, cmp_name); /* attempts in time order within each rank */
    quipu_journal_entry *v = NULL;
    size_t nv = 0, cv = 0;
    quipu_status st = QUIPU_OK;
    for (size_t f = 0; f < nn && !st; f++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", d, names[f]);
        char *text = NULL;
        size_t len = 0;
        if ((st = quipu_read_file(p, &text, &len, err))) break;
        size_t pos = 0;
        long lineno = 0;
        while (pos < len) {
            char *nl = memchr(text + pos, '\n', len - pos);
            size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
            lineno++;
            int last = !nl || (size_t)(nl - text) + 1 >= len;
            if (!nl) break; /* torn last line: the batch in flight when the run died */
            quipu_journal_entry e;
            if (parse_entry(text + pos, ll, &e) != 0) {
                if (!last) {
                    st = quipu_error_set(err, QUIPU_ERR_FORMAT, "%s:%ld: unreadable journal line (the file was edited or damaged)", p, lineno);
                    break;
                }
            } else {
                if (nv == cv) {
                    cv = cv ? cv * 2 : 1024;
                    quipu_journal_entry *nb = realloc(v, cv * sizeof *v);
                    if (!nb) {
                        free(e.id);
                        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory reading journals");
                        break;
                    }
                    v = nb;
                }
                v[nv++] = e;
            }
            pos += ll + 1;
        }
        free(text);
    }
    for (size_t i = 0; i < nn; i++) free(names[i]);
    free(names);
    if (st) {
        quipu_journal_entries_free(v, nv);
        return st;
    }
    /* sort by id (stable order for callers) and drop duplicates, keeping the first seen */
    if (nv > 1) {
        /* stable: tag with sequence then sort by (id, seq) */
        for (size_t i = 0; i < nv; i++) v[i].rec.item_index = -(int64_t)i - 1;
        qsort(v, nv, sizeof *v, cmp_entry);
        size_t w = 0;
        for (size_t i = 0; i < nv; i++) {
            if (w > 0 && !strcmp(v[w - 1].id, v[i].id)) {
                if (v[i].rec.item_index > v[w - 1].rec.item_index) { /* i was seen earlier */
                    free(v[w - 1].id);
                    v[w - 1] = v[i];
                } else {
                    free(v[i].id);
                }
                continue;
            }
            v[w++] = v[i];
        }
        nv = w;
        for (size_t i = 0; i < nv; i++) v[i].rec.item_index = -1;
    }
    *entries = v;
    *n = nv;
    return QUIPU_OK;
}

void quipu_journal_entries_free(quipu_journal_entry *entries, size_t n) {
    for (size_t i = 0; i < n; i++) free(entries[i].id);
    free(entries);
}
