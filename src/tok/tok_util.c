/* tok_util.c — byte buffers, the open-addressing hash maps, UTF-8 (strict and Python-lossy) and
 * the Unicode lookups (reference tables + utf8proc for normalization). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok/tok_internal.h"
#include "tok/unicode_tables.h"

/* ------------------------------------------------------------------ byte buffer */
int tok_buf_reserve(tok_buf *b, size_t extra) {
    if (b->n + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int tok_buf_add(tok_buf *b, const void *s, size_t n) {
    if (tok_buf_reserve(b, n + 1)) return -1;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

size_t tok_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int tok_buf_add_cp(tok_buf *b, uint32_t cp) {
    char u[4];
    size_t k = tok_utf8_encode(cp, u);
    return tok_buf_add(b, u, k);
}

void tok_buf_free(tok_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ------------------------------------------------------------------ string map */
static uint32_t smap_hash(const char *k, size_t n) {
    /* FNV-1a, then a final mix so that the low bits are usable as an index. */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (uint32_t)h;
}

static int smap_grow(tok_smap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t e = 0; e < m->n; e++) {
        size_t i = m->ents[e].hash & (cap - 1);
        while (slots[i]) i = (i + 1) & (cap - 1);
        slots[i] = (uint32_t)(e + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int64_t tok_smap_put(tok_smap *m, const char *k, size_t n, int32_t v, int overwrite) {
    if (n > UINT32_MAX || m->n >= UINT32_MAX - 1) return -1;
    if ((m->n + 1) * 2 > m->cap && smap_grow(m)) return -1;
    uint32_t h = smap_hash(k, n);
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i]) {
        tok_smap_ent *e = &m->ents[m->slots[i] - 1];
        if (e->hash == h && e->len == n && memcmp(m->keys.p + e->off, k, n) == 0) {
            if (overwrite) e->val = v;
            return (int64_t)(m->slots[i] - 1);
        }
        i = (i + 1) & mask;
    }
    if (m->n == m->ents_cap) {
        size_t cap = m->ents_cap ? m->ents_cap * 2 : 64;
        tok_smap_ent *ents = realloc(m->ents, cap * sizeof *ents);
        if (!ents) return -1;
        m->ents = ents;
        m->ents_cap = cap;
    }
    uint64_t off = m->keys.n;
    if (tok_buf_add(&m->keys, k, n)) return -1;
    m->keys.n++; /* keep the NUL written by tok_buf_add: keys are C strings too */
    m->ents[m->n] = (tok_smap_ent){.off = off, .len = (uint32_t)n, .hash = h, .val = v};
    m->slots[i] = (uint32_t)(m->n + 1);
    return (int64_t)m->n++;
}

int64_t tok_smap_index(const tok_smap *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    uint32_t h = smap_hash(k, n);
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i]) {
        const tok_smap_ent *e = &m->ents[m->slots[i] - 1];
        if (e->hash == h && e->len == n && memcmp(m->keys.p + e->off, k, n) == 0) return (int64_t)(m->slots[i] - 1);
        i = (i + 1) & mask;
    }
    return -1;
}

int tok_smap_get(const tok_smap *m, const char *k, size_t n, int32_t *v) {
    int64_t e = tok_smap_index(m, k, n);
    if (e < 0) return 0;
    if (v) *v = m->ents[e].val;
    return 1;
}

void tok_smap_free(tok_smap *m) {
    free(m->slots);
    free(m->ents);
    tok_buf_free(&m->keys);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ pair map */
int tok_pmap_init(tok_pmap *m, size_t expected) {
    size_t cap = 64;
    while (cap < expected * 2) cap *= 2;
    m->keys = malloc(cap * sizeof *m->keys);
    m->rank = malloc(cap * sizeof *m->rank);
    m->val = malloc(cap * sizeof *m->val);
    if (!m->keys || !m->rank || !m->val) {
        tok_pmap_free(m);
        return -1;
    }
    memset(m->keys, 0xFF, cap * sizeof *m->keys);
    m->cap = cap;
    m->n = 0;
    return 0;
}

static int pmap_grow(tok_pmap *m) {
    tok_pmap nm = {0};
    if (tok_pmap_init(&nm, m->cap)) return -1; /* doubles: init sizes for 2x expected */
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != UINT64_MAX)
            tok_pmap_put(&nm, (uint32_t)(m->keys[i] >> 32), (uint32_t)m->keys[i], m->rank[i], m->val[i]);
    tok_pmap_free(m);
    *m = nm;
    return 0;
}

int tok_pmap_put(tok_pmap *m, uint32_t a, uint32_t b, int32_t rank, int32_t val) {
    if (!m->cap && tok_pmap_init(m, 16)) return -1;
    if ((m->n + 1) * 2 > m->cap && pmap_grow(m)) return -1;
    uint64_t key = ((uint64_t)a << 32) | b;
    size_t mask = m->cap - 1, i = (size_t)tok_pmap_hash(key) & mask;
    while (m->keys[i] != UINT64_MAX && m->keys[i] != key) i = (i + 1) & mask;
    if (m->keys[i] == UINT64_MAX) m->n++;
    m->keys[i] = key;
    m->rank[i] = rank;
    m->val[i] = val;
    return 0;
}

void tok_pmap_free(tok_pmap *m) {
    free(m->keys);
    free(m->rank);
    free(m->val);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ UTF-8 */
/* Length of the well-formed sequence at s[i], or 0 with *sub = length of the maximal ill-formed
 * subpart (Unicode 3.9 "maximal subpart"; Python's decoder replaces each one with U+FFFD). */
static size_t utf8_wellformed(const unsigned char *s, size_t n, size_t i, size_t *sub) {
    unsigned char c = s[i];
    if (c < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) { need = 2; lo = 0xA0; }
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
    else if (c == 0xED) { need = 2; hi = 0x9F; }
    else if (c == 0xF0) { need = 3; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) { need = 3; hi = 0x8F; }
    else { *sub = 1; return 0; }
    for (size_t k = 1; k <= need; k++) {
        unsigned char lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
        if (i + k >= n || s[i + k] < lo_k || s[i + k] > hi_k) {
            *sub = k;
            return 0;
        }
    }
    return need + 1;
}

int tok_utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, sub;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        size_t k = utf8_wellformed(u, n, i, &sub);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

int tok_utf8_lossy(const char *s, size_t n, tok_buf *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, sub, run = 0;
    while (i < n) {
        size_t k = u[i] < 0x80 ? 1 : utf8_wellformed(u, n, i, &sub);
        if (k) { i += k; continue; }
        if (tok_buf_add(out, s + run, i - run) || tok_buf_add(out, "\xEF\xBF\xBD", 3)) return -1;
        i += sub;
        run = i;
    }
    return tok_buf_add(out, s + run, n - run);
}

/* ------------------------------------------------------------------ Unicode classes */
static int in_ranges(const quipu_u_range *r, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo) hi = mid;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int tok_u_rx_L(uint32_t cp) { return in_ranges(quipu_u_rx_L, quipu_u_rx_L_n, cp); }
int tok_u_rx_N(uint32_t cp) { return in_ranges(quipu_u_rx_N, quipu_u_rx_N_n, cp); }
int tok_u_numeric(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return in_ranges(quipu_u_numeric, quipu_u_numeric_n, cp);
}
int tok_u_white(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 9 && cp <= 13);
    return in_ranges(quipu_u_white, quipu_u_white_n, cp);
}
int tok_u_word(uint32_t cp) { return in_ranges(quipu_u_word, quipu_u_word_n, cp); }
int tok_u_punct(uint32_t cp) { return in_ranges(quipu_u_punct, quipu_u_punct_n, cp); }
int tok_u_bert_other(uint32_t cp) { return in_ranges(quipu_u_bert_other, quipu_u_bert_other_n, cp); }
int tok_u_mn(uint32_t cp) { return in_ranges(quipu_u_mn, quipu_u_mn_n, cp); }
int tok_u_mark(uint32_t cp) { return in_ranges(quipu_u_mark, quipu_u_mark_n, cp); }

int tok_u_lower(uint32_t cp, uint32_t out[3]) {
    if (cp < 0x80) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        return 1;
    }
    size_t lo = 0, hi = quipu_u_lower_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (quipu_u_lower[mid].from == cp) { out[0] = quipu_u_lower[mid].to; return 1; }
        if (quipu_u_lower[mid].from < cp) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = 0; i < quipu_u_lower_multi_n; i++)
        if (quipu_u_lower_multi[i].from == cp) {
            for (uint32_t k = 0; k < quipu_u_lower_multi[i].n; k++) out[k] = quipu_u_lower_multi[i].to[k];
            return (int)quipu_u_lower_multi[i].n;
        }
    out[0] = cp;
    return 1;
}

/* Normalization: decompose only the code points the reference decomposes (its tables are older
 * than utf8proc's), order marks canonically, then let utf8proc compose. */
int tok_u_normalize(const char *s, size_t n, int compat, int compose, tok_buf *out) {
    int32_t stackbuf[256], *cps = stackbuf;
    size_t cap = 256, m = 0;
    const quipu_u_range *dec = compat ? quipu_u_nfkd_dec : quipu_u_nfd_dec;
    size_t dec_n = compat ? quipu_u_nfkd_dec_n : quipu_u_nfd_dec_n;
    int rc = -1;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += tok_utf8_next(s, n, i, &cp);
        if (m + 32 > cap) {
            size_t ncap = cap * 2;
            int32_t *p = malloc(ncap * sizeof *p);
            if (!p) goto done;
            memcpy(p, cps, m * sizeof *p);
            if (cps != stackbuf) free(cps);
            cps = p;
            cap = ncap;
        }
        if (cp >= 0x80 && in_ranges(dec, dec_n, cp)) {
            int bc = 0;
            utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)cp, cps + m, 32,
                                                          UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0), &bc);
            if (k < 0 || k > 32) { cps[m++] = (int32_t)cp; continue; }
            m += (size_t)k;
        } else {
            cps[m++] = (int32_t)cp;
        }
    }
    /* canonical ordering: stable insertion sort of each run of non-starters by combining class */
    for (size_t i = 1; i < m; i++) {
        int ci = utf8proc_get_property(cps[i])->combining_class;
        if (!ci) continue;
        size_t j = i;
        int32_t v = cps[i];
        while (j > 0) {
            int cj = utf8proc_get_property(cps[j - 1])->combining_class;
            if (cj <= ci) break;
            cps[j] = cps[j - 1];
            j--;
        }
        cps[j] = v;
    }
    if (compose && m) {
        utf8proc_ssize_t k = utf8proc_normalize_utf32(cps, (utf8proc_ssize_t)m, UTF8PROC_COMPOSE);
        if (k < 0) goto done;
        m = (size_t)k;
    }
    if (tok_buf_reserve(out, m * 4 + 1)) goto done;
    for (size_t i = 0; i < m; i++) out->n += tok_utf8_encode((uint32_t)cps[i], out->p + out->n);
    out->p[out->n] = 0;
    rc = 0;
done:
    if (cps != stackbuf) free(cps);
    return rc;
}

/* ------------------------------------------------------------------ byte-level alphabet */
uint32_t tok_byte_char(uint8_t b) {
    /* printable bytes map to themselves; the 68 others (0x00-0x20, 0x7F-0xA0, 0xAD) become
     * U+0100.. in byte order */
    if (b <= 0x20) return 0x100u + b;
    if (b >= 0x7F && b <= 0xA0) return 0x100u + 33 + (b - 0x7Fu);
    if (b == 0xAD) return 0x100u + 67;
    return b;
}

int tok_char_byte(uint32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF)) return (int)cp;
    if (cp >= 0x100 && cp <= 0x120) return (int)(cp - 0x100);
    if (cp >= 0x121 && cp <= 0x142) return (int)(cp - 0x121 + 0x7F);
    if (cp == 0x143) return 0xAD;
    return -1;
}

/* ------------------------------------------------------------------ small vectors */
int tok_spans_add(tok_spans *s, size_t a, size_t b, int m) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        tok_span *v = realloc(s->v, cap * sizeof *v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (tok_span){a, b, m};
    return 0;
}

int tok_pieces_add(tok_pieces *p, size_t off, size_t len, int32_t id, int orig0) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        tok_piece *v = realloc(p->v, cap * sizeof *v);
        if (!v) return -1;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (tok_piece){off, len, id, orig0};
    return 0;
}

int tok_ctx_push_id(tok_ctx *c, int32_t id) {
    if (c->n_ids == c->cap_ids) {
        size_t cap = c->cap_ids ? c->cap_ids * 2 : 64;
        int32_t *v = realloc(c->ids, cap * sizeof *v);
        if (!v) return -1;
        c->ids = v;
        c->cap_ids = cap;
    }
    c->ids[c->n_ids++] = id;
    return 0;
}
