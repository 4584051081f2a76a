/* tok_unigram.c — the Unigram model, as tokenizers 0.23's Unigram::encode_optimized (the path
 * every non-sampling encode takes):
 *   - forward Viterbi over byte positions at char starts; at each start every vocabulary piece
 *     that prefixes the rest (a byte trie) offers score(piece) + best(start) to best(end);
 *     an offer wins only if end has no path yet or it is strictly greater, so on ties the
 *     earliest start (the longest piece) keeps the end;
 *   - a char that no one-char piece covers also offers unk: min(score) - 10 (K_UNK_PENALTY);
 *   - the best path is read back; consecutive unk pieces are fused into one string, which is then
 *     looked up in the vocabulary (found: that id), else spelled as <0xXX> byte pieces with
 *     byte_fallback (when all 256 exist for its bytes), else unk.
 * Scores are doubles as tokenizers reads them from the file (tok_serde_f64), sums in the same
 * order, so ties break the same way. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define NOMEM(c) (quipu_error_set((c)->err, QUIPU_ERR_NOMEM, "%s: out of memory while tokenizing", \
                                  (c)->t->path), -1)

/* ================================================================== scores as tokenizers reads them */

/* serde_json 1.0 without float_roundtrip turns "D.DDDeX" into significand (u64 of all digits) and
 * a power of ten E, then f = (double)significand, times or divided by the correctly rounded
 * double of 10^|E| (1e308 steps below that); no single rounding, so long scores (17 digits) can
 * land one ulp away from strtod's value. The file's text is the shortest round-trip decimal
 * (written by tokenizers' ryu or Python's repr), which is recovered from d here. */
/* Does a p-digit decimal round-trip to d? The correctly rounded one, or (at a power of two, where
 * the interval is lopsided) the next one up. Gives its digits and power of ten. */
static int try_digits(double d, int p, uint64_t *sig, int *exp10) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.*e", p - 1, d);
    uint64_t s = 0;
    const char *q = buf;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') s = s * 10 + (uint64_t)(*q - '0');
    int e = atoi(q + 1) - (p - 1);
    if (strtod(buf, NULL) != d) {
        snprintf(buf, sizeof buf, "%llue%d", (unsigned long long)(s + 1), e);
        if (strtod(buf, NULL) != d) return 0;
        s++;
    }
    *sig = s;
    *exp10 = e;
    return 1;
}

/* 1: d is read exactly as strtod reads it; 0: *sig, *exp10 are its shortest digits. */
static int shortest_digits(double d, uint64_t *sig, int *exp10) {
    if (try_digits(d, 15, sig, exp10)) {
        /* at most 15 digits (< 2^53, exact as a double) and 10^|E| exact when |E| <= 22: one
         * correctly rounded operation, the same value strtod gives */
        int x = *exp10 + 14;
        if (x - 14 >= -22 && x <= 22) return 1;
        for (int p = 1; p <= 15; p++)
            if (try_digits(d, p, sig, exp10)) return 0;
    }
    for (int p = 16; p <= 17; p++)
        if (try_digits(d, p, sig, exp10)) return 0;
    return 1;
}

static double pow10_of(int k) {
    char buf[16];
    snprintf(buf, sizeof buf, "1e%d", k);
    return strtod(buf, NULL); /* correctly rounded, as Rust's 1eK literals */
}

double tok_serde_f64(double d) {
    if (d == 0 || !isfinite(d)) return d;
    double a = fabs(d);
    uint64_t sig;
    int e;
    if (shortest_digits(a, &sig, &e)) return d;
    double f = (double)sig;
    for (;;) {
        int k = e < 0 ? -e : e;
        if (k <= 308) {
            if (e >= 0) f *= pow10_of(k);
            else f /= pow10_of(k);
            break;
        }
        if (f == 0) break;
        if (e >= 0) return d; /* out of range: cannot come from a finite d */
        f /= 1e308;
        e += 308;
    }
    return d < 0 ? -f : f;
}

/* ================================================================== the piece trie */

typedef struct key_ref {
    const char *p;
    uint32_t len;
    int32_t id;
} key_ref;

static int key_cmp(const void *x, const void *y) {
    const key_ref *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->p, b->p, n);
    if (r) return r;
    return a->len < b->len ? -1 : a->len > b->len;
}

void tok_unigram_free(tok_unigram *u) {
    free(u->scores);
    free(u->term);
    free(u->child_at);
    free(u->edge_label);
    free(u->edge_node);
    memset(u, 0, sizeof *u);
}

/* Builds the trie from the vocabulary map (each distinct piece once, with the id tokenizers'
 * token_to_ids gives it: the last of repeated pieces) and the byte-fallback ids. */
quipu_status tok_unigram_finish(quipu_tokenizer *t, quipu_error *err) {
    tok_unigram *u = &t->uni;
    const tok_smap *m = &t->vocab;
    key_ref *keys = malloc((m->n ? m->n : 1) * sizeof *keys);
    size_t nk = 0, total = 0;
    if (!keys) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    for (size_t i = 0; i < m->n; i++) {
        if (!m->ents[i].len) continue; /* an empty piece never matches (the reference skips it too) */
        keys[nk++] = (key_ref){tok_smap_key(m, i), m->ents[i].len, m->ents[i].val};
        total += m->ents[i].len;
    }
    qsort(keys, nk, sizeof *keys, key_cmp);
    /* nodes in creation (preorder) order; edge e creates node e + 1 */
    size_t cap = total + 1;
    uint32_t *parent = malloc(cap * sizeof *parent);
    uint8_t *label = malloc(cap);
    uint32_t *path = malloc((total ? total : 1) * sizeof *path + sizeof *path);
    u->term = malloc(cap * sizeof *u->term);
    if (!parent || !label || !path || !u->term) goto nomem;
    size_t nn = 1, depth = 0; /* path[0..depth] = nodes of the previous key's prefix */
    u->term[0] = -1;
    path[0] = 0;
    for (size_t k = 0; k < nk; k++) {
        const key_ref *kr = &keys[k];
        size_t same = 0;
        if (k > 0) {
            const key_ref *pr = &keys[k - 1];
            size_t lim = pr->len < kr->len ? pr->len : kr->len;
            while (same < lim && pr->p[same] == kr->p[same]) same++;
            if (same > depth) same = depth;
        }
        depth = same;
        for (size_t j = same; j < kr->len; j++) {
            parent[nn] = path[depth];
            label[nn] = (uint8_t)kr->p[j];
            u->term[nn] = -1;
            path[++depth] = (uint32_t)nn++;
        }
        u->term[path[depth]] = kr->id;
    }
    u->n_nodes = nn;
    /* children grouped by parent, kept in creation order (= label order) */
    u->child_at = calloc(nn + 1, sizeof *u->child_at);
    u->edge_label = malloc(nn);
    u->edge_node = malloc(nn * sizeof *u->edge_node);
    if (!u->child_at || !u->edge_label || !u->edge_node) goto nomem;
    for (size_t i = 1; i < nn; i++) u->child_at[parent[i] + 1]++;
    for (size_t i = 0; i < nn; i++) u->child_at[i + 1] += u->child_at[i];
    uint32_t *fill = path; /* reuse: per-node fill cursor (nn <= total + 1 entries) */
    for (size_t i = 0; i < nn; i++) fill[i] = u->child_at[i];
    for (size_t i = 1; i < nn; i++) {
        uint32_t e = fill[parent[i]]++;
        u->edge_label[e] = label[i];
        u->edge_node[e] = (uint32_t)i;
    }
    free(parent);
    free(label);
    free(path);
    free(keys);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        int32_t id;
        u->byte_ids[b] = tok_smap_get(&t->vocab, name, 6, &id) ? id : -1;
    }
    return QUIPU_OK;
nomem:
    free(parent);
    free(label);
    free(path);
    free(keys);
    return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
}

static int32_t trie_child(const tok_unigram *u, uint32_t node, uint8_t b) {
    uint32_t lo = u->child_at[node], hi = u->child_at[node + 1];
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (u->edge_label[mid] < b) lo = mid + 1;
        else if (u->edge_label[mid] > b) hi = mid;
        else return (int32_t)u->edge_node[mid];
    }
    return -1;
}

/* ================================================================== encoding */

typedef struct uni_node {
    double score;   /* best path score ending here */
    int64_t start;  /* where its last piece starts, -1: no path yet */
    int32_t id;
} uni_node;

static int push_piece(tok_ctx *c, const char *s, size_t a, size_t b, int32_t id, int is_unk) {
    const quipu_tokenizer *t = c->t;
    const tok_unigram *u = &t->uni;
    if (!is_unk) return tok_ctx_push_id(c, id) ? NOMEM(c) : 0;
    int32_t found;
    if (tok_smap_get(&t->vocab, s + a, b - a, &found)) return tok_ctx_push_id(c, found) ? NOMEM(c) : 0;
    if (u->byte_fallback) {
        size_t i = a;
        while (i < b && u->byte_ids[(unsigned char)s[i]] >= 0) i++;
        if (i == b) {
            for (i = a; i < b; i++)
                if (tok_ctx_push_id(c, u->byte_ids[(unsigned char)s[i]])) return NOMEM(c);
            return 0;
        }
    }
    return tok_ctx_push_id(c, u->unk_id) ? NOMEM(c) : 0;
}

int tok_unigram_encode(tok_ctx *c, const char *s, size_t n) {
    const quipu_tokenizer *t = c->t;
    const tok_unigram *u = &t->uni;
    if (n == 0) return 0;
    /* n + 1 lattice ends, then up to n path entries (start offsets) */
    size_t need = (n + 1) * sizeof(uni_node) + n * sizeof(size_t);
    if (c->lat_cap < need) {
        void *p = realloc(c->lat, need);
        if (!p) return NOMEM(c);
        c->lat = p;
        c->lat_cap = need;
    }
    uni_node *best = c->lat;
    size_t *path = (size_t *)(best + n + 1);
    for (size_t i = 0; i <= n; i++) best[i] = (uni_node){0.0, -1, -1};
    double unk_score = u->min_score - 10.0;
    for (size_t start = 0; start < n;) {
        double base = best[start].score;
        size_t mblen = tok_utf8_len((unsigned char)s[start]);
        if (mblen > n - start) mblen = n - start;
        int has_single = 0;
        uint32_t node = 0;
        for (size_t j = start; j < n; j++) {
            int32_t ch = trie_child(u, node, (uint8_t)s[j]);
            if (ch < 0) break;
            node = (uint32_t)ch;
            int32_t id = u->term[node];
            if (id < 0) continue;
            size_t end = j + 1;
            double cand = u->scores[id] + base;
            if (best[end].start < 0 || cand > best[end].score) best[end] = (uni_node){cand, (int64_t)start, id};
            if (end - start == mblen) has_single = 1;
        }
        if (!has_single) {
            uni_node *tn = &best[start + mblen];
            double cand = unk_score + base;
            if (tn->start < 0 || cand > tn->score) {
                if (u->unk_id < 0) {
                    quipu_error_set(c->err, QUIPU_ERR_FORMAT,
                                    "%s: the Unigram model has no unk_id, and '%.*s' is not in its vocabulary",
                                    t->path, (int)mblen, s + start);
                    return -1;
                }
                *tn = (uni_node){cand, (int64_t)start, u->unk_id};
            }
        }
        start += mblen;
    }
    /* read the best path back (ends to starts), then emit forward with unk runs fused */
    size_t np = 0;
    for (size_t end = n; end > 0;) {
        int64_t st = best[end].start;
        if (st < 0 || (size_t)st >= end) {
            quipu_error_set(c->err, QUIPU_ERR_INTERNAL, "%s: Unigram lattice has no path to byte %zu", t->path, end);
            return -1;
        }
        path[np++] = end;
        end = (size_t)st;
    }
    size_t run_start = 0;
    int in_run = 0;
    for (size_t k = np; k-- > 0;) {
        size_t end = path[k], st = (size_t)best[end].start;
        int32_t id = best[end].id;
        int is_unk = u->unk_id >= 0 && id == u->unk_id;
        if (is_unk) {
            if (!in_run) run_start = st;
            in_run = 1;
            continue;
        }
        if (in_run && push_piece(c, s, run_start, st, u->unk_id, 1)) return -1;
        in_run = 0;
        if (push_piece(c, s, st, end, id, 0)) return -1;
    }
    if (in_run && push_piece(c, s, run_start, n, u->unk_id, 1)) return -1;
    return 0;
}
