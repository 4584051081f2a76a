/* tok_precompiled.c — the Precompiled normalizer: SentencePiece's precompiled_charsmap (a
 * double-array trie of byte strings over a blob of NUL-terminated replacements), applied the way
 * tokenizers 0.23 does (normalizers/precompiled.rs with the spm_precompiled crate):
 *   - the text is cut into extended grapheme clusters (UAX #29, unicode-segmentation's rules);
 *   - a cluster shorter than 6 bytes is looked up whole: if any prefix of it is a key, the
 *     replacement of the SHORTEST such key stands for the whole cluster (the rest of the cluster
 *     is dropped, e.g. "Ａ" + U+0301 becomes "A");
 *   - otherwise each char is looked up alone and replaced, or kept.
 * Every offset read from the blob is checked: a file whose trie points outside itself gives a
 * one-line error (tokenizers would panic). Lookups touch at most 5 bytes of key, so time is
 * linear in the text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/grapheme_tables.h"
#include "tok/tok_internal.h"

/* ================================================================== loading */

static int b64_val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* The base64 crate's STANDARD engine: canonical padding, no whitespace, zero trailing bits. */
static int b64_decode(const char *s, size_t n, uint8_t **out, size_t *out_n, char *why, size_t why_n) {
    *out = NULL;
    *out_n = 0;
    if (n % 4) {
        snprintf(why, why_n, "its base64 length %zu is not a multiple of 4", n);
        return -1;
    }
    size_t pad = 0;
    if (n >= 1 && s[n - 1] == '=') pad++;
    if (n >= 2 && s[n - 2] == '=') pad++;
    uint8_t *d = malloc(n / 4 * 3 + 1);
    if (!d) {
        snprintf(why, why_n, "out of memory");
        return -1;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int last = i + 4 == n;
        for (int k = 0; k < 4; k++) {
            unsigned char ch = (unsigned char)s[i + k];
            v[k] = (last && k >= 4 - (int)pad) ? 0 : b64_val(ch);
            if (v[k] < 0) {
                snprintf(why, why_n, "byte %zu of its base64 is not a base64 character", i + (size_t)k);
                free(d);
                return -1;
            }
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t keep = last ? 3 - pad : 3;
        if (last && ((pad == 1 && (x & 0xFF)) || (pad == 2 && (x & 0xFFFF)))) {
            snprintf(why, why_n, "its base64 ends in non-zero trailing bits");
            free(d);
            return -1;
        }
        d[w++] = (uint8_t)(x >> 16);
        if (keep > 1) d[w++] = (uint8_t)(x >> 8);
        if (keep > 2) d[w++] = (uint8_t)x;
    }
    *out = d;
    *out_n = w;
    return 0;
}

quipu_status tok_charsmap_load(tok_charsmap **out, const char *path, const char *b64, size_t n, quipu_error *err) {
    *out = NULL;
    char why[160];
    tok_charsmap *m = calloc(1, sizeof *m);
    if (!m) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
    if (b64_decode(b64, n, &m->blob, &m->blob_n, why, sizeof why)) {
        free(m);
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Precompiled precompiled_charsmap: %s", path, why);
    }
    /* [u32 trie size in bytes][trie: size/4 u32 units][replacements, NUL-separated UTF-8] */
    const char *bad = NULL;
    if (m->blob_n < 4) {
        bad = "is shorter than its 4-byte header";
    } else {
        uint32_t trie_bytes = (uint32_t)m->blob[0] | (uint32_t)m->blob[1] << 8 | (uint32_t)m->blob[2] << 16 |
                              (uint32_t)m->blob[3] << 24;
        m->n_units = trie_bytes / 4;
        if (m->n_units > (m->blob_n - 4) / 4) bad = "declares a trie longer than the blob";
        else if (m->n_units == 0) bad = "has an empty trie";
        else {
            m->units = m->blob + 4;
            m->normalized = (const char *)m->blob + 4 + 4 * m->n_units;
            m->normalized_n = m->blob_n - 4 - 4 * m->n_units;
            if (!tok_utf8_valid(m->normalized, m->normalized_n)) bad = "has replacement text that is not UTF-8";
        }
    }
    if (bad) {
        tok_charsmap_free(m);
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: Precompiled precompiled_charsmap %s", path, bad);
    }
    *out = m;
    return QUIPU_OK;
}

void tok_charsmap_free(tok_charsmap *m) {
    if (!m) return;
    free(m->blob);
    free(m);
}

/* ================================================================== lookup */

static uint32_t unit_at(const tok_charsmap *m, size_t i) {
    const uint8_t *p = m->units + 4 * i;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
/* Darts-clone's unit layout, as spm_precompiled reads it (units widened to 64 bits). */
static uint64_t unit_offset(uint64_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint64_t unit_label(uint64_t u) { return u & ((1u << 31) | 0xFF); }
static int unit_has_leaf(uint64_t u) { return (u >> 8) & 1; }
static uint64_t unit_value(uint64_t u) { return u & ((1u << 31) - 1); }

static int cmap_corrupt(tok_ctx *c, const char *what) {
    quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: Precompiled precompiled_charsmap is corrupt: %s", c->t->path, what);
    return -1;
}

/* Common-prefix search of key[0..n) (stopping at a NUL byte); *hit = 1 and the replacement
 * [*rep, *rep + *rep_n) of the first (shortest) key found. Returns -1 on a corrupt trie. The
 * whole key is walked even after a hit, as the reference does, so corruption is reported the
 * same wherever it sits. */
static int cmap_lookup(tok_ctx *c, const tok_charsmap *m, const unsigned char *key, size_t n, int *hit,
                       const char **rep, size_t *rep_n) {
    *hit = 0;
    uint64_t pos = 0, u = unit_at(m, 0);
    int64_t first = -1;
    pos ^= unit_offset(u);
    for (size_t i = 0; i < n && key[i]; i++) {
        pos ^= key[i];
        if (pos >= m->n_units) return cmap_corrupt(c, "a trie node lies outside the trie");
        u = unit_at(m, (size_t)pos);
        if (unit_label(u) != key[i]) break;
        pos ^= unit_offset(u);
        if (unit_has_leaf(u)) {
            if (pos >= m->n_units) return cmap_corrupt(c, "a trie leaf lies outside the trie");
            if (first < 0) first = (int64_t)unit_value(unit_at(m, (size_t)pos));
        }
    }
    if (first < 0) return 0;
    size_t a = (size_t)first, b = a;
    if (a > m->normalized_n) return cmap_corrupt(c, "a replacement offset lies past the replacement text");
    if (a < m->normalized_n && ((unsigned char)m->normalized[a] & 0xC0) == 0x80)
        return cmap_corrupt(c, "a replacement offset falls inside a UTF-8 character");
    while (b < m->normalized_n && m->normalized[b]) b++;
    *hit = 1;
    *rep = m->normalized + a;
    *rep_n = b - a;
    return 0;
}

/* ================================================================== grapheme clusters */

static uint8_t gcb_of(uint32_t cp) {
    if (cp <= 0x7E) return cp >= 0x20 ? QUIPU_GCB_ANY : cp == '\n' ? QUIPU_GCB_LF : cp == '\r' ? QUIPU_GCB_CR
                                                                                                : QUIPU_GCB_CONTROL;
    size_t lo = 0, hi = quipu_gcb_table_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < quipu_gcb_table[mid].lo) hi = mid;
        else if (cp > quipu_gcb_table[mid].hi) lo = mid + 1;
        else return quipu_gcb_table[mid].v;
    }
    return QUIPU_GCB_ANY;
}

/* What the text before a position says about the rules that look back (GB9c, GB11, GB12/13). */
typedef struct gcb_state {
    size_t ris;            /* Regional_Indicator chars just before */
    size_t linkers;        /* InCB=Linker chars in the trailing run of Linker/InCB=Extend chars */
    int base_consonant;    /* the char before that run is InCB=Consonant */
    int pict;              /* 1: ends in ExtPict Extend*, 2: ends in ExtPict Extend* ZWJ */
} gcb_state;

static void gcb_advance(gcb_state *st, uint8_t v) {
    uint8_t k = v & QUIPU_GCB_CLASS_MASK;
    st->ris = k == QUIPU_GCB_RI ? st->ris + 1 : 0;
    if (v & QUIPU_GCB_INCB_LINKER) st->linkers++;
    else if (!(v & QUIPU_GCB_INCB_EXTEND)) {
        st->linkers = 0;
        st->base_consonant = k == QUIPU_GCB_INCB_CONSONANT;
    }
    if (k == QUIPU_GCB_EXT_PICT) st->pict = 1;
    else if (k == QUIPU_GCB_EXTEND) st->pict = st->pict == 1 ? 1 : 0;
    else if (k == QUIPU_GCB_ZWJ) st->pict = st->pict == 1 ? 2 : 0;
    else st->pict = 0;
}

/* Is there a boundary between a char of class a and one of class b, given what precedes? */
static int gcb_break(const gcb_state *st, uint8_t va, uint8_t vb) {
    uint8_t a = va & QUIPU_GCB_CLASS_MASK, b = vb & QUIPU_GCB_CLASS_MASK;
    if (a == QUIPU_GCB_CR && b == QUIPU_GCB_LF) return 0;                                           /* GB3 */
    if (a == QUIPU_GCB_CONTROL || a == QUIPU_GCB_CR || a == QUIPU_GCB_LF) return 1;                  /* GB4 */
    if (b == QUIPU_GCB_CONTROL || b == QUIPU_GCB_CR || b == QUIPU_GCB_LF) return 1;                  /* GB5 */
    if (a == QUIPU_GCB_L && (b == QUIPU_GCB_L || b == QUIPU_GCB_V || b == QUIPU_GCB_LV || b == QUIPU_GCB_LVT))
        return 0;                                                                                   /* GB6 */
    if ((a == QUIPU_GCB_LV || a == QUIPU_GCB_V) && (b == QUIPU_GCB_V || b == QUIPU_GCB_T)) return 0; /* GB7 */
    if ((a == QUIPU_GCB_LVT || a == QUIPU_GCB_T) && b == QUIPU_GCB_T) return 0;                      /* GB8 */
    if (b == QUIPU_GCB_EXTEND || b == QUIPU_GCB_ZWJ) return 0;                                       /* GB9 */
    if (b == QUIPU_GCB_SPACINGMARK) return 0;                                                        /* GB9a */
    if (a == QUIPU_GCB_PREPEND) return 0;                                                            /* GB9b */
    if (b == QUIPU_GCB_INCB_CONSONANT) return !(st->linkers > 0 && st->base_consonant);              /* GB9c */
    if (a == QUIPU_GCB_ZWJ && b == QUIPU_GCB_EXT_PICT) return st->pict != 2;                         /* GB11 */
    if (a == QUIPU_GCB_RI && b == QUIPU_GCB_RI) return st->ris % 2 == 0;                             /* GB12/13 */
    return 1;                                                                                       /* GB999 */
}

/* ================================================================== the normalizer */

static int add_norm_text(tok_ctx *c, tok_buf *out, const char *s, size_t n) {
    if (tok_buf_add(out, s, n)) {
        quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory while tokenizing", c->t->path);
        return -1;
    }
    return 0;
}

/* One cluster s[0..n): whole when short and some prefix is a key, else char by char. */
static int norm_cluster(tok_ctx *c, const tok_charsmap *m, const char *s, size_t n, tok_buf *out) {
    int hit;
    const char *rep;
    size_t rep_n;
    if (n < 6) {
        if (cmap_lookup(c, m, (const unsigned char *)s, n, &hit, &rep, &rep_n)) return -1;
        if (hit) return add_norm_text(c, out, rep, rep_n);
    }
    for (size_t i = 0; i < n;) {
        size_t k = tok_utf8_len((unsigned char)s[i]);
        if (cmap_lookup(c, m, (const unsigned char *)s + i, k, &hit, &rep, &rep_n)) return -1;
        if (add_norm_text(c, out, hit ? rep : s + i, hit ? rep_n : k)) return -1;
        i += k;
    }
    return 0;
}

int tok_precompiled_normalize(tok_ctx *c, const tok_charsmap *m, const char *s, size_t n, tok_buf *out) {
    gcb_state st = {0};
    size_t start = 0;
    uint8_t prev = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = tok_utf8_next(s, n, i, &cp);
        uint8_t v = gcb_of(cp);
        if (i > 0 && gcb_break(&st, prev, v)) {
            if (norm_cluster(c, m, s + start, i - start, out)) return -1;
            start = i;
        }
        gcb_advance(&st, v);
        prev = v;
        i += k;
    }
    if (n > start && norm_cluster(c, m, s + start, n - start, out)) return -1;
    return 0;
}
