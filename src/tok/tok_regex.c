/* tok_regex.c — tokenizers' regexes (Oniguruma syntax and classes) run with PCRE2.
 * Hugging Face compiles Split/Replace/ByteLevel patterns with Oniguruma, whose \s, \d, \w,
 * \p{L}, \p{N} follow a newer Unicode than the local PCRE2 and differ from PCRE2's even on the
 * same version (PCRE2's \s takes U+180E, Oniguruma's does not). So those escapes are rewritten
 * into explicit classes taken from the reference (unicode_tables.c). Matches are iterated the
 * way rust-onig's find_iter does (an empty match right after the previous match is skipped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"
#include "tok/unicode_tables.h"

static int add_ranges(tok_buf *o, const quipu_u_range *r, size_t n) {
    char tmp[48];
    for (size_t i = 0; i < n; i++) {
        int k = r[i].lo == r[i].hi ? snprintf(tmp, sizeof tmp, "\\x{%X}", r[i].lo)
                                   : snprintf(tmp, sizeof tmp, "\\x{%X}-\\x{%X}", r[i].lo, r[i].hi);
        if (tok_buf_add(o, tmp, (size_t)k)) return -1;
    }
    return 0;
}

/* Writes the class for one escape. neg: \S-style. in_class: inside [...] (negation impossible). */
static int emit_class(tok_buf *o, const quipu_u_range *r, size_t n, int neg, int in_class) {
    if (in_class) return add_ranges(o, r, n);
    if (tok_buf_add(o, neg ? "[^" : "[", neg ? 2 : 1)) return -1;
    if (add_ranges(o, r, n)) return -1;
    return tok_buf_add(o, "]", 1);
}

/* Property name of \p{..} / \pX at p (after the 'p'/'P'); returns its length in the pattern. */
static size_t prop_name(const char *p, size_t n, const char **name, size_t *name_n) {
    if (n >= 1 && p[0] != '{') { *name = p; *name_n = 1; return 1; }
    const char *e = memchr(p, '}', n);
    if (!e) { *name = NULL; *name_n = 0; return 0; }
    *name = p + 1;
    *name_n = (size_t)(e - p - 1);
    return (size_t)(e - p + 1);
}

pcre2_code *tok_regex_compile(const char *pat, size_t n, char *why, size_t why_n) {
    tok_buf o = {0};
    int depth = 0; /* class nesting depth */
    pcre2_code *re = NULL;
    for (size_t i = 0; i < n;) {
        char c = pat[i];
        if (c == '\\' && i + 1 < n) {
            char e = pat[i + 1];
            const quipu_u_range *r = NULL;
            size_t rn = 0;
            int neg = 0;
            size_t used = 2;
            switch (e) {
            case 's': case 'S': r = quipu_u_rx_s; rn = quipu_u_rx_s_n; neg = e == 'S'; break;
            case 'd': case 'D': r = quipu_u_rx_d; rn = quipu_u_rx_d_n; neg = e == 'D'; break;
            case 'w': case 'W': r = quipu_u_rx_w; rn = quipu_u_rx_w_n; neg = e == 'W'; break;
            case 'p': case 'P': {
                const char *nm;
                size_t nn;
                size_t k = prop_name(pat + i + 2, n - i - 2, &nm, &nn);
                if (nm && ((nn == 1 && nm[0] == 'L') || (nn == 6 && !memcmp(nm, "Letter", 6)))) {
                    r = quipu_u_rx_L; rn = quipu_u_rx_L_n;
                } else if (nm && ((nn == 1 && nm[0] == 'N') || (nn == 6 && !memcmp(nm, "Number", 6)))) {
                    r = quipu_u_rx_N; rn = quipu_u_rx_N_n;
                }
                neg = e == 'P';
                if (nm && nn && nm[0] == '^') neg = !neg;
                used = 2 + k;
                break;
            }
            default: break;
            }
            if (r && neg && depth) {
                /* [^...\S...] style: keep PCRE2's own escape (its classes differ slightly) */
                r = NULL;
            }
            if (r) {
                if (emit_class(&o, r, rn, neg, depth > 0)) goto nomem;
            } else if (tok_buf_add(&o, pat + i, used)) {
                goto nomem;
            }
            i += used;
            continue;
        }
        if (c == '[') {
            if (depth == 0) {
                depth = 1;
                size_t k = 1;
                if (i + 1 < n && pat[i + 1] == '^') k = 2;
                if (tok_buf_add(&o, pat + i, k)) goto nomem;
                i += k;
                /* a ']' right after '[' or '[^' is a literal in both engines */
                if (i < n && pat[i] == ']') {
                    if (tok_buf_add(&o, "\\]", 2)) goto nomem;
                    i++;
                }
                continue;
            }
            if (i + 1 < n && pat[i + 1] == ':') { /* POSIX bracket [:alpha:] */
                const char *e = strstr(pat + i, ":]");
                size_t k = e ? (size_t)(e - (pat + i)) + 2 : n - i;
                if (tok_buf_add(&o, pat + i, k)) goto nomem;
                i += k;
                continue;
            }
            if (i + 1 < n && pat[i + 1] == '^') {
                snprintf(why, why_n, "negated nested character class at offset %zu is not supported", i);
                goto fail;
            }
            depth++; /* nested class = union: drop the bracket */
            i++;
            continue;
        }
        if (c == ']' && depth > 0) {
            if (depth > 1) { depth--; i++; continue; }
            depth = 0;
            if (tok_buf_add(&o, "]", 1)) goto nomem;
            i++;
            continue;
        }
        if (c == '&' && depth > 0 && i + 1 < n && pat[i + 1] == '&') {
            snprintf(why, why_n, "class intersection '&&' at offset %zu is not supported", i);
            goto fail;
        }
        if (depth > 0 && c == '[') { /* unreachable: handled above */ }
        if (tok_buf_add(&o, &c, 1)) goto nomem;
        i++;
    }
    {
        int ec;
        PCRE2_SIZE eo;
        re = pcre2_compile((PCRE2_SPTR)(o.p ? o.p : ""), o.n, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            snprintf(why, why_n, "regex does not compile: %s", (const char *)msg);
            goto fail;
        }
        /* JIT is an optimisation only; without it PCRE2 interprets. */
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    }
    tok_buf_free(&o);
    return re;
nomem:
    snprintf(why, why_n, "out of memory compiling a regex");
fail:
    tok_buf_free(&o);
    return NULL;
}

/* rust-onig FindMatches + tokenizers' Pattern::find_matches for a regex. */
static int regex_find(tok_ctx *c, pcre2_code *re, const char *s, size_t n, tok_spans *out) {
    out->n = 0;
    if (n == 0) return tok_spans_add(out, 0, 0, 0);
    size_t last_end = 0, prev = 0;
    int have_last = 0;
    size_t last_match_end = 0;
    while (last_end <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, last_end, PCRE2_NO_UTF_CHECK, c->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0 && rc != 0) {
            quipu_error_set(c->err, QUIPU_ERR_INTERNAL, "%s: regex match failed (PCRE2 error %d)",
                            c->t->path, rc);
            return -1;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        size_t ms = ov[0], me = ov[1];
        if (ms == me && have_last && last_match_end == me) {
            if (last_end >= n) break;
            last_end += tok_utf8_len((unsigned char)s[last_end]);
            continue;
        }
        last_end = me;
        last_match_end = me;
        have_last = 1;
        if (prev != ms && tok_spans_add(out, prev, ms, 0)) goto nomem;
        if (tok_spans_add(out, ms, me, 1)) goto nomem;
        prev = me;
    }
    if (prev != n && tok_spans_add(out, prev, n, 0)) goto nomem;
    return 0;
nomem:
    quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", c->t->path);
    return -1;
}

/* Regex::new(regex::escape(s)) with the regex crate: plain leftmost non-overlapping search. */
static int string_find(tok_ctx *c, const char *lit, size_t ln, const char *s, size_t n, tok_spans *out) {
    out->n = 0;
    if (ln == 0) /* tokenizers: an empty pattern matches nothing */
        return tok_spans_add(out, 0, n, 0) ? (quipu_error_set(c->err, QUIPU_ERR_NOMEM, "out of memory"), -1) : 0;
    if (n == 0) return tok_spans_add(out, 0, 0, 0);
    size_t prev = 0, i = 0;
    while (i + ln <= n) {
        const char *f = memchr(s + i, lit[0], n - i - ln + 1);
        if (!f) break;
        i = (size_t)(f - s);
        if (memcmp(s + i, lit, ln) == 0) {
            if (prev != i && tok_spans_add(out, prev, i, 0)) goto nomem;
            if (tok_spans_add(out, i, i + ln, 1)) goto nomem;
            i += ln;
            prev = i;
        } else {
            i++;
        }
    }
    if (prev != n && tok_spans_add(out, prev, n, 0)) goto nomem;
    return 0;
nomem:
    quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s: out of memory", c->t->path);
    return -1;
}

int tok_pattern_find(tok_ctx *c, const tok_pattern *p, const char *s, size_t n, tok_spans *out) {
    if (p->kind == TOK_PAT_REGEX) return regex_find(c, p->re, s, n, out);
    return string_find(c, p->lit, p->lit_n, s, n, out);
}

void tok_pattern_free(tok_pattern *p) {
    free(p->lit);
    if (p->re) pcre2_code_free(p->re);
    memset(p, 0, sizeof *p);
}
