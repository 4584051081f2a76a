/* tok_pipeline.c — normalizers, pre-tokenizers and added-token splitting, each a port of the
 * matching piece of huggingface/tokenizers (normalizers/, pre_tokenizers/,
 * tokenizer/normalizer.rs NormalizedString::split, tokenizer/added_vocabulary.rs). Strings are
 * handled as UTF-8 bytes; pieces point into the per-call buffer c->buf. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define NOMEM(c) (quipu_error_set((c)->err, QUIPU_ERR_NOMEM, "%s: out of memory while tokenizing", \
                                  (c)->t->path), -1)

/* ================================================================== splitting */

int tok_split_piece(tok_ctx *c, const tok_piece *pc, const tok_spans *sp, tok_split_behavior beh,
                    tok_pieces *out) {
    /* (start, end, remove) after the behaviour's folding; built in c->spans' tail would alias sp,
     * so use a local vector */
    tok_spans acc = {0};
    int prev = 0;
    for (size_t k = 0; k < sp->n; k++) {
        const tok_span *s = &sp->v[k];
        int rc = 0;
        switch (beh) {
        case TOK_SPLIT_ISOLATED: rc = tok_spans_add(&acc, s->start, s->end, 0); break;
        case TOK_SPLIT_REMOVED: rc = tok_spans_add(&acc, s->start, s->end, s->is_match); break;
        case TOK_SPLIT_CONTIGUOUS:
            if (s->is_match == prev && acc.n) acc.v[acc.n - 1].end = s->end;
            else rc = tok_spans_add(&acc, s->start, s->end, 0);
            prev = s->is_match;
            break;
        case TOK_SPLIT_MERGED_PREV:
            if (s->is_match && !prev && acc.n) acc.v[acc.n - 1].end = s->end;
            else rc = tok_spans_add(&acc, s->start, s->end, 0);
            prev = s->is_match;
            break;
        case TOK_SPLIT_MERGED_NEXT: break;
        }
        if (rc) { free(acc.v); return NOMEM(c); }
    }
    if (beh == TOK_SPLIT_MERGED_NEXT) {
        for (size_t k = sp->n; k-- > 0;) {
            const tok_span *s = &sp->v[k];
            if (s->is_match && !prev && acc.n) acc.v[acc.n - 1].start = s->start;
            else if (tok_spans_add(&acc, s->start, s->end, 0)) { free(acc.v); return NOMEM(c); }
            prev = s->is_match;
        }
        for (size_t i = 0, j = acc.n ? acc.n - 1 : 0; i < j; i++, j--) {
            tok_span t = acc.v[i];
            acc.v[i] = acc.v[j];
            acc.v[j] = t;
        }
    }
    for (size_t k = 0; k < acc.n; k++) {
        if (acc.v[k].is_match || acc.v[k].end <= acc.v[k].start) continue; /* removed / empty */
        if (tok_pieces_add(out, pc->off + acc.v[k].start, acc.v[k].end - acc.v[k].start, -1,
                           pc->orig0 && acc.v[k].start == 0)) {
            free(acc.v);
            return NOMEM(c);
        }
    }
    free(acc.v);
    return 0;
}

/* Pattern for a char predicate (tokenizers' impl Pattern for Fn(char) -> bool). */
typedef int (*tok_char_pred)(uint32_t cp, uint32_t arg);
static int pred_spans(tok_ctx *c, const char *s, size_t n, tok_char_pred f, uint32_t arg, tok_spans *out) {
    out->n = 0;
    if (n == 0) return tok_spans_add(out, 0, 0, 0) ? NOMEM(c) : 0;
    size_t last = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = tok_utf8_next(s, n, i, &cp);
        if (f(cp, arg)) {
            if (last < i && tok_spans_add(out, last, i, 0)) return NOMEM(c);
            if (tok_spans_add(out, i, i + k, 1)) return NOMEM(c);
            last = i + k;
        }
        i += k;
    }
    if (n > last && tok_spans_add(out, last, n, 0)) return NOMEM(c);
    return 0;
}

static int p_numeric(uint32_t cp, uint32_t a) { (void)a; return tok_u_numeric(cp); }
static int p_punct(uint32_t cp, uint32_t a) { (void)a; return tok_u_punct(cp); }
static int p_white(uint32_t cp, uint32_t a) { (void)a; return tok_u_white(cp); }
static int p_eq(uint32_t cp, uint32_t a) { return cp == a; }

/* ================================================================== normalizers */

static int is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int nmt_drop(uint32_t c) {
    return (c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F || c == 0x8F || c == 0x9F;
}
static int nmt_space(uint32_t c) {
    return c == 0x9 || c == 0xA || c == 0xC || c == 0xD || c == 0x1680 || (c >= 0x200B && c <= 0x200F) ||
           c == 0x2028 || c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD;
}

/* One normalizer: s -> out (out is reset). */
static int norm_one(tok_ctx *c, const tok_norm *nm, const char *s, size_t n, tok_buf *out, size_t *lead) {
    out->n = 0;
    *lead = 0;
    if (tok_buf_reserve(out, n + 8)) return NOMEM(c);
    out->p[0] = 0;
    switch (nm->kind) {
    case TOK_NORM_NFC: case TOK_NORM_NFD: case TOK_NORM_NFKC: case TOK_NORM_NFKD: {
        int compat = nm->kind == TOK_NORM_NFKC || nm->kind == TOK_NORM_NFKD;
        int compose = nm->kind == TOK_NORM_NFC || nm->kind == TOK_NORM_NFKC;
        /* pure ASCII is invariant under every normalization form */
        size_t i = 0;
        while (i < n && (unsigned char)s[i] < 0x80) i++;
        if (i == n) return tok_buf_add(out, s, n) ? NOMEM(c) : 0;
        return tok_u_normalize(s, n, compat, compose, out) ? NOMEM(c) : 0;
    }
    case TOK_NORM_LOWERCASE:
        for (size_t i = 0; i < n;) {
            uint32_t cp, lo[3];
            i += tok_utf8_next(s, n, i, &cp);
            int k = tok_u_lower(cp, lo);
            for (int j = 0; j < k; j++)
                if (tok_buf_add_cp(out, lo[j])) return NOMEM(c);
        }
        return 0;
    case TOK_NORM_STRIP: {
        size_t a = 0, b = n;
        if (nm->strip_left)
            while (a < n) {
                uint32_t cp;
                size_t k = tok_utf8_next(s, n, a, &cp);
                if (!tok_u_white(cp)) break;
                a += k;
            }
        if (nm->strip_right)
            while (b > a) {
                size_t j = b - 1;
                while (j > a && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
                uint32_t cp;
                tok_utf8_next(s, n, j, &cp);
                if (!tok_u_white(cp)) break;
                b = j;
            }
        *lead = a;
        return tok_buf_add(out, s + a, b - a) ? NOMEM(c) : 0;
    }
    case TOK_NORM_STRIP_ACCENTS: {
        int seen = 0;
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t k = tok_utf8_next(s, n, i, &cp);
            if (!tok_u_mark(cp)) {
                if (tok_buf_add(out, s + i, k)) return NOMEM(c);
                seen = 1;
            } else if (!seen) {
                *lead += k;
            }
            i += k;
        }
        return 0;
    }
    case TOK_NORM_REPLACE: {
        tok_spans sp = {0};
        if (tok_pattern_find(c, &nm->pat, s, n, &sp)) { free(sp.v); return -1; }
        int seen = 0;
        for (size_t k = 0; k < sp.n; k++) {
            const tok_span *x = &sp.v[k];
            int r = x->is_match ? tok_buf_add(out, nm->content, nm->content_n)
                                : tok_buf_add(out, s + x->start, x->end - x->start);
            if (r) { free(sp.v); return NOMEM(c); }
            if (!seen) {
                if (out->n) seen = 1;
                else *lead = x->end;
            }
        }
        free(sp.v);
        return 0;
    }
    case TOK_NORM_PREPEND:
        if (n && tok_buf_add(out, nm->content, nm->content_n)) return NOMEM(c);
        return tok_buf_add(out, s, n) ? NOMEM(c) : 0;
    case TOK_NORM_BERT: {
        /* clean_text, chinese chars, strip accents (NFD then drop Mn), lowercase; in that order */
        tok_buf *cur = &c->scratch2;
        const char *in = s;
        size_t in_n = n;
        int seen = 0;
        if (nm->clean_text) {
            for (size_t i = 0; i < in_n;) {
                uint32_t cp;
                size_t k = tok_utf8_next(in, in_n, i, &cp);
                int ws = cp == '\t' || cp == '\n' || cp == '\r';
                int ctl = !ws && tok_u_bert_other(cp);
                if (cp == 0 || cp == 0xFFFD || ctl) {
                    if (!seen) *lead += k;
                } else if (ws || tok_u_white(cp)) {
                    if (tok_buf_add(out, " ", 1)) return NOMEM(c);
                    seen = 1;
                } else {
                    if (tok_buf_add(out, in + i, k)) return NOMEM(c);
                    seen = 1;
                }
                i += k;
            }
        } else if (tok_buf_add(out, in, in_n)) {
            return NOMEM(c);
        }
        if (nm->handle_chinese) {
            cur->n = 0;
            for (size_t i = 0; i < out->n;) {
                uint32_t cp;
                size_t k = tok_utf8_next(out->p, out->n, i, &cp);
                int r = is_chinese(cp) ? (tok_buf_add(cur, " ", 1) || tok_buf_add(cur, out->p + i, k) ||
                                          tok_buf_add(cur, " ", 1))
                                       : tok_buf_add(cur, out->p + i, k);
                if (r) return NOMEM(c);
                i += k;
            }
            out->n = 0;
            if (tok_buf_add(out, cur->p, cur->n)) return NOMEM(c);
        }
        if (nm->strip_accents) {
            cur->n = 0;
            if (tok_u_normalize(out->p, out->n, 0, 0, cur)) return NOMEM(c);
            out->n = 0;
            for (size_t i = 0; i < cur->n;) {
                uint32_t cp;
                size_t k = tok_utf8_next(cur->p, cur->n, i, &cp);
                if (!tok_u_mn(cp) && tok_buf_add(out, cur->p + i, k)) return NOMEM(c);
                i += k;
            }
        }
        if (nm->lowercase) {
            cur->n = 0;
            for (size_t i = 0; i < out->n;) {
                uint32_t cp, lo[3];
                i += tok_utf8_next(out->p, out->n, i, &cp);
                int k = tok_u_lower(cp, lo);
                for (int j = 0; j < k; j++)
                    if (tok_buf_add_cp(cur, lo[j])) return NOMEM(c);
            }
            out->n = 0;
            if (tok_buf_add(out, cur->p, cur->n)) return NOMEM(c);
        }
        return 0;
    }
    case TOK_NORM_NMT: {
        int seen = 0;
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t k = tok_utf8_next(s, n, i, &cp);
            if (nmt_drop(cp)) {
                if (!seen) *lead += k;
            } else {
                int r = nmt_space(cp) ? tok_buf_add(out, " ", 1) : tok_buf_add(out, s + i, k);
                if (r) return NOMEM(c);
                seen = 1;
            }
            i += k;
        }
        return 0;
    }
    case TOK_NORM_BYTELEVEL:
        for (size_t i = 0; i < n; i++)
            if (tok_buf_add_cp(out, tok_byte_char((uint8_t)s[i]))) return NOMEM(c);
        return 0;
    case TOK_NORM_PRECOMPILED:
        /* chars it removes at the start leave the piece at original offset 0 (tokenizers aligns
         * the first kept char with the first original one), so *lead stays 0 */
        return tok_precompiled_normalize(c, nm->cmap, s, n, out);
    }
    return 0;
}

int tok_normalize(tok_ctx *c, const tok_norm *norms, size_t n_norms, const char *s, size_t n,
                  tok_buf *out, size_t *lead_removed) {
    size_t lead_total = 0;
    if (n_norms == 0) {
        if (lead_removed) *lead_removed = 0;
        return tok_buf_add(out, s, n) ? NOMEM(c) : 0;
    }
    /* chain through two scratch buffers; the input may live in out (c->buf), so copy first */
    tok_buf a = {0}, b = {0};
    if (tok_buf_add(&a, s, n)) return NOMEM(c);
    for (size_t k = 0; k < n_norms; k++) {
        size_t lead = 0;
        if (norm_one(c, &norms[k], a.p, a.n, &b, &lead)) {
            tok_buf_free(&a);
            tok_buf_free(&b);
            return -1;
        }
        lead_total += lead;
        tok_buf t = a;
        a = b;
        b = t;
    }
    int rc = tok_buf_add(out, a.p, a.n) ? NOMEM(c) : 0;
    tok_buf_free(&a);
    tok_buf_free(&b);
    if (lead_removed) *lead_removed = lead_total;
    return rc;
}

/* ================================================================== pre-tokenizers */

/* Whitespace: \w+|[^\w\s]+ (regex crate), the rest removed. */
static int whitespace_spans(tok_ctx *c, const char *s, size_t n, tok_spans *out) {
    out->n = 0;
    if (n == 0) return tok_spans_add(out, 0, 0, 0) ? NOMEM(c) : 0;
    size_t i = 0, prev = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = tok_utf8_next(s, n, i, &cp);
        int cls = tok_u_word(cp) ? 1 : tok_u_white(cp) ? 0 : 2;
        if (!cls) { i += k; continue; }
        size_t j = i + k;
        while (j < n) {
            uint32_t cq;
            size_t kq = tok_utf8_next(s, n, j, &cq);
            int cl2 = tok_u_word(cq) ? 1 : tok_u_white(cq) ? 0 : 2;
            if (cl2 != cls) break;
            j += kq;
        }
        /* inverted pattern: the words are kept (is_match false), the gaps removed */
        if (prev < i && tok_spans_add(out, prev, i, 1)) return NOMEM(c);
        if (tok_spans_add(out, i, j, 0)) return NOMEM(c);
        prev = i = j;
    }
    if (prev < n && tok_spans_add(out, prev, n, 1)) return NOMEM(c);
    return 0;
}

/* Copies s with ' ' -> replacement (Metaspace) into c->buf; returns the new piece. */
static int metaspace_piece(tok_ctx *c, const tok_pretok *p, const tok_piece *pc, tok_piece *np) {
    char rep[4];
    size_t rn = tok_utf8_encode(p->replacement, rep);
    size_t off = c->buf.n;
    const char *s = c->buf.p + pc->off; /* may move: copy via indices */
    size_t n = pc->len, src = pc->off;
    (void)s;
    /* does it start with the replacement after replacing spaces? */
    int starts = 0;
    if (n) {
        if (c->buf.p[src] == ' ') starts = 1;
        else if (n >= rn && memcmp(c->buf.p + src, rep, rn) == 0) starts = 1;
    }
    int prepend = 0;
    if (!starts) {
        if (p->prepend_scheme == TOK_PREPEND_ALWAYS) prepend = 1;
        else if (p->prepend_scheme == TOK_PREPEND_FIRST && pc->orig0) prepend = 1;
    }
    if (tok_buf_reserve(&c->buf, (n + 1) * rn + 1)) return NOMEM(c);
    char *d = c->buf.p + c->buf.n;
    const char *sp = c->buf.p + src;
    size_t w = 0;
    if (prepend) { memcpy(d, rep, rn); w += rn; }
    for (size_t i = 0; i < n; i++) {
        if (sp[i] == ' ') { memcpy(d + w, rep, rn); w += rn; }
        else d[w++] = sp[i];
    }
    c->buf.n += w;
    c->buf.p[c->buf.n] = 0;
    *np = (tok_piece){off, w, -1, pc->orig0};
    return 0;
}

static int bytelevel_map(tok_ctx *c, size_t off, size_t len, int orig0, tok_pieces *out) {
    size_t start = c->buf.n;
    if (tok_buf_reserve(&c->buf, len * 2 + 1)) return NOMEM(c);
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = tok_byte_char((uint8_t)c->buf.p[off + i]);
        c->buf.n += tok_utf8_encode(cp, c->buf.p + c->buf.n);
    }
    c->buf.p[c->buf.n] = 0;
    return tok_pieces_add(out, start, c->buf.n - start, -1, orig0) ? NOMEM(c) : 0;
}

static int pretok_one(tok_ctx *c, const tok_pretok *p, const tok_piece *pc0, tok_pieces *out) {
    tok_piece pc = *pc0;
    tok_spans *sp = &c->spans;
    switch (p->kind) {
    case TOK_PRE_BYTELEVEL: {
        if (p->add_prefix_space && (pc.len == 0 || c->buf.p[pc.off] != ' ')) {
            size_t off = c->buf.n;
            if (tok_buf_reserve(&c->buf, pc.len + 2)) return NOMEM(c);
            c->buf.p[c->buf.n++] = ' ';
            memcpy(c->buf.p + c->buf.n, c->buf.p + pc.off, pc.len);
            c->buf.n += pc.len;
            c->buf.p[c->buf.n] = 0;
            pc.off = off;
            pc.len += 1;
        }
        if (!p->use_regex) return bytelevel_map(c, pc.off, pc.len, pc.orig0, out);
        tok_pieces tmp = {0};
        if (tok_pattern_find(c, &(tok_pattern){.kind = TOK_PAT_REGEX, .re = c->t->re_bytelevel},
                             c->buf.p + pc.off, pc.len, sp) ||
            tok_split_piece(c, &pc, sp, TOK_SPLIT_ISOLATED, &tmp)) {
            free(tmp.v);
            return -1;
        }
        for (size_t k = 0; k < tmp.n; k++)
            if (bytelevel_map(c, tmp.v[k].off, tmp.v[k].len, tmp.v[k].orig0, out)) { free(tmp.v); return -1; }
        free(tmp.v);
        return 0;
    }
    case TOK_PRE_METASPACE: {
        tok_piece np;
        if (metaspace_piece(c, p, &pc, &np)) return -1;
        if (!p->split) return np.len ? (tok_pieces_add(out, np.off, np.len, -1, np.orig0) ? NOMEM(c) : 0) : 0;
        if (pred_spans(c, c->buf.p + np.off, np.len, p_eq, p->replacement, sp)) return -1;
        return tok_split_piece(c, &np, sp, TOK_SPLIT_MERGED_NEXT, out);
    }
    case TOK_PRE_SPLIT:
        if (tok_pattern_find(c, &p->pat, c->buf.p + pc.off, pc.len, sp)) return -1;
        if (p->invert)
            for (size_t k = 0; k < sp->n; k++) sp->v[k].is_match = !sp->v[k].is_match;
        return tok_split_piece(c, &pc, sp, p->behavior, out);
    case TOK_PRE_DIGITS:
        if (pred_spans(c, c->buf.p + pc.off, pc.len, p_numeric, 0, sp)) return -1;
        return tok_split_piece(c, &pc, sp, p->individual ? TOK_SPLIT_ISOLATED : TOK_SPLIT_CONTIGUOUS, out);
    case TOK_PRE_PUNCT:
        if (pred_spans(c, c->buf.p + pc.off, pc.len, p_punct, 0, sp)) return -1;
        return tok_split_piece(c, &pc, sp, p->behavior, out);
    case TOK_PRE_WHITESPACE:
        if (whitespace_spans(c, c->buf.p + pc.off, pc.len, sp)) return -1;
        return tok_split_piece(c, &pc, sp, TOK_SPLIT_REMOVED, out);
    case TOK_PRE_WHITESPACE_SPLIT:
        if (pred_spans(c, c->buf.p + pc.off, pc.len, p_white, 0, sp)) return -1;
        return tok_split_piece(c, &pc, sp, TOK_SPLIT_REMOVED, out);
    case TOK_PRE_CHAR_DELIM:
        if (pred_spans(c, c->buf.p + pc.off, pc.len, p_eq, p->delim, sp)) return -1;
        return tok_split_piece(c, &pc, sp, TOK_SPLIT_REMOVED, out);
    case TOK_PRE_BERT: {
        tok_pieces tmp = {0};
        if (pred_spans(c, c->buf.p + pc.off, pc.len, p_white, 0, sp) ||
            tok_split_piece(c, &pc, sp, TOK_SPLIT_REMOVED, &tmp)) {
            free(tmp.v);
            return -1;
        }
        for (size_t k = 0; k < tmp.n; k++)
            if (pred_spans(c, c->buf.p + tmp.v[k].off, tmp.v[k].len, p_punct, 0, sp) ||
                tok_split_piece(c, &tmp.v[k], sp, TOK_SPLIT_ISOLATED, out)) {
                free(tmp.v);
                return -1;
            }
        free(tmp.v);
        return 0;
    }
    }
    return 0;
}

int tok_pretokenize(tok_ctx *c) {
    const quipu_tokenizer *t = c->t;
    for (size_t k = 0; k < t->n_pretoks; k++) {
        c->b.n = 0;
        for (size_t i = 0; i < c->a.n; i++) {
            tok_piece pc = c->a.v[i];
            if (pc.id >= 0) {
                if (tok_pieces_add(&c->b, pc.off, pc.len, pc.id, pc.orig0)) return NOMEM(c);
                continue;
            }
            if (pretok_one(c, &t->pretoks[k], &pc, &c->b)) return -1;
        }
        tok_pieces x = c->a;
        c->a = c->b;
        c->b = x;
    }
    return 0;
}

/* ================================================================== added tokens */

/* AddedVocabulary::find_matches + split_with_indices for one piece. */
int tok_added_split(tok_ctx *c, const tok_trie *trie, const tok_piece *pc, tok_pieces *out) {
    const quipu_tokenizer *t = c->t;
    size_t n = pc->len, base = pc->off;
    if (trie->empty || n == 0) return tok_pieces_add(out, pc->off, pc->len, -1, pc->orig0) ? NOMEM(c) : 0;
    size_t start_offset = 0, i = 0;
    while (i < n) {
        const char *s = c->buf.p + base;
        int32_t node = trie->root[(unsigned char)s[i]];
        if (node < 0) { i++; continue; }
        int32_t best = -1;
        size_t best_end = 0, j = i + 1;
        for (;;) {
            if (trie->term[node] >= 0) { best = trie->term[node]; best_end = j; }
            if (j >= n) break;
            int32_t child;
            if (!tok_pmap_get(&trie->edges, (uint32_t)node, (unsigned char)s[j], NULL, &child)) break;
            node = child;
            j++;
        }
        if (best < 0) { i++; continue; }
        const tok_added *a = &t->added[best];
        size_t start = i, stop = best_end;
        i = best_end; /* the next match search starts after this one, matched or not */
        if (a->single_word) {
            int start_space = 1, stop_space = 1;
            if (start > 0) { /* \w$ on s[..start] */
                size_t p = start - 1;
                while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
                uint32_t cp;
                tok_utf8_next(s, n, p, &cp);
                start_space = !tok_u_word(cp);
            }
            if (stop < n) {
                uint32_t cp;
                tok_utf8_next(s, n, stop, &cp);
                stop_space = !tok_u_word(cp);
            }
            if (!start_space || !stop_space) continue;
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t p = ns - 1;
                while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
                uint32_t cp;
                tok_utf8_next(s, n, p, &cp);
                if (!tok_u_white(cp)) break;
                ns = p;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (a->rstrip) {
            while (stop < n) {
                uint32_t cp;
                size_t k = tok_utf8_next(s, n, stop, &cp);
                if (!tok_u_white(cp)) break;
                stop += k;
            }
        }
        if (start_offset < start && tok_pieces_add(out, base + start_offset, start - start_offset, -1,
                                                   pc->orig0 && start_offset == 0))
            return NOMEM(c);
        if (stop > start && tok_pieces_add(out, base + start, stop - start, a->id, 0)) return NOMEM(c);
        start_offset = stop;
    }
    if (start_offset < n && tok_pieces_add(out, base + start_offset, n - start_offset, -1,
                                           pc->orig0 && start_offset == 0))
        return NOMEM(c);
    return 0;
}
