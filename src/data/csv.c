/* csv.c — the CSV/TSV reader, Python-literal parsers and UTF-8 check of csv.h. */
#define _POSIX_C_SOURCE 200809L
#include "data/csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static quipu_status csv_init(quipu_csv *c, const char *name, char delim, quipu_error *err) {
    memset(c, 0, sizeof *c);
    c->delim = delim;
    c->line = 1;
    c->name = strdup(name);
    if (!c->name) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", name);
    return QUIPU_OK;
}

static void csv_drop_bom(quipu_csv *c) {
    if (c->len >= 3 && (unsigned char)c->buf[0] == 0xEF && (unsigned char)c->buf[1] == 0xBB &&
        (unsigned char)c->buf[2] == 0xBF)
        c->pos = 3;
}

quipu_status quipu_csv_open(quipu_csv *c, const char *path, char delim, quipu_error *err) {
    quipu_status st = csv_init(c, path, delim, err);
    if (st) return st;
    st = quipu_read_file_max(path, QUIPU_READ_MAX_DATASET, "dataset file", &c->buf, &c->len, err);
    if (st) {
        quipu_csv_close(c);
        return st;
    }
    csv_drop_bom(c);
    return QUIPU_OK;
}

quipu_status quipu_csv_open_mem(quipu_csv *c, const char *name, const char *data, size_t len, char delim,
                                quipu_error *err) {
    quipu_status st = csv_init(c, name, delim, err);
    if (st) return st;
    c->buf = malloc(len + 1);
    if (!c->buf) {
        quipu_csv_close(c);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", name);
    }
    if (len) memcpy(c->buf, data, len);
    c->buf[len] = '\0';
    c->len = len;
    csv_drop_bom(c);
    return QUIPU_OK;
}

void quipu_csv_close(quipu_csv *c) {
    if (!c) return;
    free(c->name);
    free(c->buf);
    free(c->field);
    free(c->flen);
    free(c->scratch);
    memset(c, 0, sizeof *c);
}

/* Appends one byte to the scratch buffer. */
static int put(quipu_csv *c, size_t *n, char ch) {
    if (*n + 1 >= c->cap_s) {
        size_t cap = c->cap_s ? c->cap_s * 2 : 4096;
        char *s = realloc(c->scratch, cap);
        if (!s) return -1;
        c->scratch = s;
        c->cap_s = cap;
    }
    c->scratch[(*n)++] = ch;
    return 0;
}

/* Ends the current field (its bytes start at scratch offset `start`). Offsets are stored in
 * field[] until the record is complete, because scratch may move. */
static int end_field(quipu_csv *c, size_t *n, size_t start) {
    if (c->nf == c->cap_f) {
        size_t cap = c->cap_f ? c->cap_f * 2 : 32;
        char **f = realloc(c->field, cap * sizeof *f);
        if (!f) return -1;
        c->field = f;
        size_t *l = realloc(c->flen, cap * sizeof *l);
        if (!l) return -1;
        c->flen = l;
        c->cap_f = cap;
    }
    c->flen[c->nf] = *n - start;
    c->field[c->nf] = (char *)(uintptr_t)start;
    c->nf++;
    return put(c, n, '\0');
}

quipu_status quipu_csv_next(quipu_csv *c, int *got, quipu_error *err) {
    *got = 0;
    for (;;) {
        if (c->pos >= c->len) return QUIPU_OK;
        /* blank line: skip */
        char ch = c->buf[c->pos];
        if (ch == '\n') {
            c->pos++;
            c->line++;
            continue;
        }
        if (ch == '\r') {
            c->pos++;
            if (c->pos < c->len && c->buf[c->pos] == '\n') c->pos++;
            c->line++;
            continue;
        }
        break;
    }
    c->nf = 0;
    c->rec_line = c->line;
    size_t n = 0, start = 0;
    const char *b = c->buf;
    for (;;) {
        /* at the start of a field */
        start = n;
        if (c->pos < c->len && b[c->pos] == '"') {
            long open_line = c->line;
            c->pos++;
            for (;;) {
                if (c->pos >= c->len) {
                    return quipu_error_set(err, QUIPU_ERR_FORMAT,
                                           "%s:%ld: unterminated quoted field (opened on line %ld)", c->name,
                                           c->rec_line, open_line);
                }
                char ch = b[c->pos++];
                if (ch == '"') {
                    if (c->pos < c->len && b[c->pos] == '"') {
                        c->pos++;
                        if (put(c, &n, '"')) goto nomem;
                        continue;
                    }
                    break;
                }
                if (ch == '\n') c->line++;
                else if (ch == '\r' && !(c->pos < c->len && b[c->pos] == '\n')) c->line++;
                if (put(c, &n, ch)) goto nomem;
            }
        }
        /* unquoted text (or what follows a closing quote) up to the delimiter or the line end */
        while (c->pos < c->len) {
            char ch = b[c->pos];
            if (ch == c->delim || ch == '\n' || ch == '\r') break;
            if (put(c, &n, ch)) goto nomem;
            c->pos++;
        }
        if (end_field(c, &n, start)) goto nomem;
        if (c->pos >= c->len) break;
        char ch = b[c->pos++];
        if (ch == c->delim) continue;
        if (ch == '\r' && c->pos < c->len && b[c->pos] == '\n') c->pos++;
        c->line++;
        break;
    }
    for (size_t i = 0; i < c->nf; i++) c->field[i] = c->scratch + (uintptr_t)c->field[i];
    *got = 1;
    return QUIPU_OK;
nomem:
    return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", c->name, c->rec_line);
}

int quipu_csv_column(const quipu_csv *c, const char *name) {
    for (size_t i = 0; i < c->nf; i++)
        if (strcmp(c->field[i], name) == 0) return (int)i;
    return -1;
}

int quipu_utf8_valid(const char *s, size_t n, size_t *bad) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char b0 = p[i];
        if (b0 < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if ((b0 & 0xE0) == 0xC0) { k = 1; cp = b0 & 0x1F; min = 0x80; }
        else if ((b0 & 0xF0) == 0xE0) { k = 2; cp = b0 & 0x0F; min = 0x800; }
        else if ((b0 & 0xF8) == 0xF0) { k = 3; cp = b0 & 0x07; min = 0x10000; }
        else goto fail;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (p[i + j] & 0xC0) != 0x80) goto fail;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto fail;
        i += k + 1;
    }
    return 1;
fail:
    if (bad) *bad = i;
    return 0;
}

/* ---- Python literals ---- */

typedef struct pyl {
    const char *s;
    size_t i;
    char *why;
    size_t whylen;
} pyl;

static int pyl_fail(pyl *p, const char *what) {
    snprintf(p->why, p->whylen, "%s at offset %zu", what, p->i);
    return -1;
}

static void pyl_ws(pyl *p) {
    while (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r') p->i++;
}

static int put_utf8(char **o, size_t *n, size_t *cap, uint32_t cp) {
    char tmp[4];
    size_t k;
    if (cp < 0x80) { tmp[0] = (char)cp; k = 1; }
    else if (cp < 0x800) { tmp[0] = (char)(0xC0 | (cp >> 6)); tmp[1] = (char)(0x80 | (cp & 0x3F)); k = 2; }
    else if (cp < 0x10000) {
        tmp[0] = (char)(0xE0 | (cp >> 12)); tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        tmp[2] = (char)(0x80 | (cp & 0x3F)); k = 3;
    } else {
        tmp[0] = (char)(0xF0 | (cp >> 18)); tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); tmp[3] = (char)(0x80 | (cp & 0x3F)); k = 4;
    }
    if (*n + k + 1 > *cap) {
        size_t c = *cap * 2 + k + 16;
        char *r = realloc(*o, c);
        if (!r) return -1;
        *o = r;
        *cap = c;
    }
    memcpy(*o + *n, tmp, k);
    *n += k;
    return 0;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* A Python string literal ('...' or "...", optional u prefix) at p->i. */
static int pyl_string(pyl *p, char **out) {
    if (p->s[p->i] == 'u' || p->s[p->i] == 'U') p->i++;
    char q = p->s[p->i];
    if (q != '\'' && q != '"') return pyl_fail(p, "expected a quoted string");
    p->i++;
    size_t cap = 64, n = 0;
    char *o = malloc(cap);
    if (!o) return pyl_fail(p, "out of memory");
    for (;;) {
        char ch = p->s[p->i];
        if (ch == '\0') {
            free(o);
            return pyl_fail(p, "unterminated string");
        }
        p->i++;
        if (ch == q) break;
        uint32_t cp = (unsigned char)ch;
        if (ch == '\\') {
            char e = p->s[p->i];
            if (e == '\0') {
                free(o);
                return pyl_fail(p, "unterminated string");
            }
            p->i++;
            int digits = 0;
            switch (e) {
            case 'n': cp = '\n'; break;
            case 't': cp = '\t'; break;
            case 'r': cp = '\r'; break;
            case '0': cp = 0; break;
            case '\\': case '\'': case '"': cp = (unsigned char)e; break;
            case 'x': digits = 2; break;
            case 'u': digits = 4; break;
            case 'U': digits = 8; break;
            default:
                /* Python keeps unknown escapes as written */
                if (put_utf8(&o, &n, &cap, '\\')) goto nomem;
                cp = (unsigned char)e;
            }
            if (digits) {
                cp = 0;
                for (int k = 0; k < digits; k++) {
                    int h = hexval(p->s[p->i]);
                    if (h < 0) {
                        free(o);
                        return pyl_fail(p, "bad escape");
                    }
                    cp = cp * 16 + (uint32_t)h;
                    p->i++;
                }
                if (cp > 0x10FFFF) {
                    free(o);
                    return pyl_fail(p, "bad escape");
                }
            } else if (cp == 0) {
                free(o);
                return pyl_fail(p, "NUL in string");
            }
            if (put_utf8(&o, &n, &cap, cp)) goto nomem;
            continue;
        }
        /* raw byte (UTF-8 passes through) */
        if (n + 2 > cap) {
            char *r = realloc(o, cap * 2);
            if (!r) goto nomem;
            o = r;
            cap *= 2;
        }
        o[n++] = ch;
    }
    o[n] = '\0';
    *out = o;
    return 0;
nomem:
    free(o);
    return pyl_fail(p, "out of memory");
}

int quipu_pylit_strlist(const char *s, char **out, int max, int *n, char *why, size_t whylen) {
    pyl p = {s, 0, why, whylen};
    *n = 0;
    pyl_ws(&p);
    if (s[p.i] != '[') return pyl_fail(&p, "expected '['");
    p.i++;
    for (;;) {
        pyl_ws(&p);
        if (s[p.i] == ']') {
            p.i++;
            break;
        }
        if (*n >= max) {
            pyl_fail(&p, "too many elements");
            goto fail;
        }
        if (pyl_string(&p, &out[*n])) goto fail;
        (*n)++;
        pyl_ws(&p);
        if (s[p.i] == ',') p.i++;
        else if (s[p.i] != ']' && s[p.i] != '\'' && s[p.i] != '"') {
            pyl_fail(&p, "expected ',' or ']'");
            goto fail;
        }
    }
    pyl_ws(&p);
    if (s[p.i] != '\0') {
        pyl_fail(&p, "text after ']'");
        goto fail;
    }
    return 0;
fail:
    for (int i = 0; i < *n; i++) free(out[i]);
    *n = 0;
    return -1;
}

int quipu_pylit_strdict(const char *s, char **keys, char **vals, int max, int *n, char *why, size_t whylen) {
    pyl p = {s, 0, why, whylen};
    *n = 0;
    pyl_ws(&p);
    if (s[p.i] != '{') return pyl_fail(&p, "expected '{'");
    p.i++;
    for (;;) {
        pyl_ws(&p);
        if (s[p.i] == '}') {
            p.i++;
            break;
        }
        if (*n >= max) {
            pyl_fail(&p, "too many entries");
            goto fail;
        }
        if (pyl_string(&p, &keys[*n])) goto fail;
        pyl_ws(&p);
        if (s[p.i] != ':') {
            free(keys[*n]);
            pyl_fail(&p, "expected ':'");
            goto fail;
        }
        p.i++;
        pyl_ws(&p);
        if (pyl_string(&p, &vals[*n])) {
            free(keys[*n]);
            goto fail;
        }
        (*n)++;
        pyl_ws(&p);
        if (s[p.i] == ',') p.i++;
        else if (s[p.i] != '}') {
            pyl_fail(&p, "expected ',' or '}'");
            goto fail;
        }
    }
    pyl_ws(&p);
    if (s[p.i] != '\0') {
        pyl_fail(&p, "text after '}'");
        goto fail;
    }
    return 0;
fail:
    for (int i = 0; i < *n; i++) {
        free(keys[i]);
        free(vals[i]);
    }
    *n = 0;
    return -1;
}
