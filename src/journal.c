/* journal.c — append-only per-rank journals of finished items (see journal.h). */
#define _POSIX_C_SOURCE 200809L
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
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

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of n bytes, bit by bit: lines are short. */
static uint32_t crc32_bytes(const char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= (unsigned char)p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Every line ends with this member: CK_PREFIX, 8 lower-case hex digits of the CRC-32 of the
 * line's bytes before CK_PREFIX, then CK_END. */
#define CK_PREFIX ", \"ck\": \""
#define CK_END "\"}"
#define CK_SUFFIX_LEN (sizeof CK_PREFIX - 1 + 8 + sizeof CK_END - 1)

quipu_status quipu_journal_add(quipu_journal *j, const char *item_id, const quipu_item_record *rec, quipu_error *err) {
    size_t start = j->len;
    json_t *id = json_string(item_id);
    char *ids = id ? json_dumps(id, JSON_ENCODE_ANY) : NULL;
    json_decref(id);
    if (!ids) return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: item id is not valid UTF-8", j->path);
    int bad = buf_printf(j, "{\"id\": %s, \"lp\": [", ids);
    free(ids);
    for (int c = 0; c < rec->n_choices && !bad; c++) /* + 0.0: -0 reads back as +0; NaN / Inf as null */
        bad = isfinite(rec->logprob[c]) ? buf_printf(j, c ? ", %.17g" : "%.17g", rec->logprob[c] + 0.0) : buf_printf(j, c ? ", null" : "null");
    bad = bad || buf_printf(j, "], \"nt\": [");
    for (int c = 0; c < rec->n_choices && !bad; c++) bad = buf_printf(j, c ? ", %d" : "%d", rec->n_tokens[c]);
    bad = bad || buf_printf(j, "], \"nb\": [");
    for (int c = 0; c < rec->n_choices && !bad; c++) bad = buf_printf(j, c ? ", %d" : "%d", rec->n_bytes[c]);
    bad = bad || buf_printf(j, "], \"g\": [");
    for (int c = 0; c < rec->n_choices && !bad; c++) bad = buf_printf(j, c ? ", %d" : "%d", rec->is_greedy[c]);
    bad = bad || buf_printf(j, "]");
    bad = bad || buf_printf(j, CK_PREFIX "%08x" CK_END "\n", (unsigned)crc32_bytes(j->buf + start, j->len - start));
    if (bad) j->len = start; /* no half line left behind */
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

/* The ranges a journal record's fields must be in (a value outside is damage, not data). */
#define J_MAX_LOGPROB 1e-6      /* a log-probability is <= 0; rounding may leave a hair above */
#define J_MIN_LOGPROB (-1e12)
#define J_MAX_TOKENS (1 << 24)  /* the longest model context quipu accepts */
#define J_MAX_BYTES (1 << 30)
#define J_MAX_ID 4096

/* One line (without its newline) into e; on failure returns -1 and says why. */
static int parse_entry(const char *line, size_t len, quipu_journal_entry *e, const char **why) {
    json_error_t je;
    json_t *d = json_loadb(line, len, 0, &je);
    memset(e, 0, sizeof *e);
    *why = "not a JSON object";
    if (!json_is_object(d)) {
        json_decref(d);
        return -1;
    }
    json_t *id = json_object_get(d, "id"), *lp = json_object_get(d, "lp"), *nt = json_object_get(d, "nt"),
           *nb = json_object_get(d, "nb"), *g = json_object_get(d, "g");
    size_t n = json_array_size(lp);
    int ok = json_is_string(id) && json_string_length(id) > 0 && json_string_length(id) <= J_MAX_ID && json_is_array(lp) && n >= 1 &&
             n <= QUIPU_MAX_CHOICES && json_array_size(nt) == n && json_array_size(nb) == n && json_array_size(g) == n;
    if (!ok) *why = "missing or mis-sized fields";
    for (size_t i = 0; ok && i < n; i++) {
        json_t *a = json_array_get(lp, i), *b = json_array_get(nt, i), *c = json_array_get(nb, i), *k = json_array_get(g, i);
        if (!(json_is_number(a) || json_is_null(a)) || !json_is_integer(b) || !json_is_integer(c) || !json_is_integer(k)) {
            ok = 0;
            *why = "a field of the wrong type";
            break;
        }
        double x = json_is_null(a) ? NAN : json_number_value(a); /* null: the item scored non-finite (left out of the metrics) */
        json_int_t t = json_integer_value(b), y = json_integer_value(c), gr = json_integer_value(k);
        if (!json_is_null(a) && (!isfinite(x) || x > J_MAX_LOGPROB || x < J_MIN_LOGPROB)) *why = "a log-probability out of range", ok = 0;
        else if (t < 0 || t > J_MAX_TOKENS) *why = "a token count out of range", ok = 0;
        else if (y < 0 || y > J_MAX_BYTES) *why = "a byte count out of range", ok = 0;
        else if (gr != 0 && gr != 1) *why = "a greedy flag that is not 0 or 1", ok = 0;
        if (!ok) break;
        e->rec.logprob[i] = x;
        e->rec.n_tokens[i] = (int32_t)t;
        e->rec.n_bytes[i] = (int32_t)y;
        e->rec.is_greedy[i] = (uint8_t)gr;
    }
    if (ok) {
        e->id = strdup(json_string_value(id));
        e->rec.n_choices = (int)n;
        e->rec.item_index = -1;
        if (!e->id) *why = "out of memory";
    }
    json_decref(d);
    return ok && e->id ? 0 : -1;
}

/* 1 if the line ends with a well-formed checksum member (whether or not it matches). */
static int has_checksum(const char *line, size_t len) {
    if (len < CK_SUFFIX_LEN + 1) return 0;
    const char *s = line + len - CK_SUFFIX_LEN;
    if (memcmp(s, CK_PREFIX, sizeof CK_PREFIX - 1) || memcmp(line + len - (sizeof CK_END - 1), CK_END, sizeof CK_END - 1)) return 0;
    for (int i = 0; i < 8; i++) {
        char ch = s[sizeof CK_PREFIX - 1 + i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return 0;
    }
    return 1;
}

static int checksum_ok(const char *line, size_t len) {
    char want[9];
    snprintf(want, sizeof want, "%08x", (unsigned)crc32_bytes(line, len - CK_SUFFIX_LEN));
    return memcmp(line + len - CK_SUFFIX_LEN + sizeof CK_PREFIX - 1, want, 8) == 0;
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
    size_t nv = 0, cv = 0, n_damaged = 0;
    quipu_status st = QUIPU_OK;
    for (size_t f = 0; f < nn && !st; f++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", d, names[f]);
        char *text = NULL;
        size_t len = 0;
        if ((st = quipu_read_file_max(p, QUIPU_READ_MAX_JOURNAL, "journal file", &text, &len, err))) break;
        /* a file written with checksums has them on every line: one without is damaged; files
         * from before checksums (none at all) are read with the field checks only */
        int file_ck = 0;
        for (size_t q = 0; q < len && !file_ck;) {
            char *nl = memchr(text + q, '\n', len - q);
            if (!nl) break;
            file_ck = has_checksum(text + q, (size_t)(nl - (text + q)));
            q = (size_t)(nl - text) + 1;
        }
        size_t pos = 0;
        long lineno = 0;
        while (pos < len) {
            char *nl = memchr(text + pos, '\n', len - pos);
            size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
            lineno++;
            if (!nl) break; /* torn last line: the batch in flight when the run died */
            quipu_journal_entry e;
            const char *why = NULL;
            int ck = has_checksum(text + pos, ll);
            if (ck && !checksum_ok(text + pos, ll)) why = "checksum mismatch";
            else if (!ck && file_ck) why = "no checksum";
            else if (parse_entry(text + pos, ll, &e, &why) == 0) why = NULL;
            else if (!why) why = "unreadable";
            if (why) {
                /* damage is never trusted: the item is not marked done, so it is scored again */
                if (n_damaged++ < 10)
                    quipu_log(QUIPU_LOG_WARN, "%s:%ld: damaged journal line (%s): not trusted, its item will be scored again", p, lineno, why);
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
    if (n_damaged > 10) quipu_log(QUIPU_LOG_WARN, "%s: %zu damaged journal lines in all (their items will be scored again)", d, n_damaged);
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
