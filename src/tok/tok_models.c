/* tok_models.c — the models that turn one pre-tokenized piece into ids.
 * BPE is tokenizers' models/bpe (merge_word + Word::merge_all): symbols start as chars (with
 * byte fallback / unk), then a min-heap on (merge rank, position) merges pairs, skipping stale
 * entries; O(n log n) per piece. WordPiece is greedy longest-prefix with "##" continuations.
 * Unigram is in tok_unigram.c. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define NOMEM(c) (quipu_error_set((c)->err, QUIPU_ERR_NOMEM, "%s: out of memory while tokenizing", \
                                  (c)->t->path), -1)

typedef struct bpe_sym {
    int32_t c;     /* token id */
    int32_t prev, next;
    uint32_t len;  /* bytes; 0 = merged away */
} bpe_sym;
typedef struct bpe_merge {
    int32_t rank, pos, new_id;
} bpe_merge;

static int merge_less(const bpe_merge *a, const bpe_merge *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(bpe_merge *h, size_t *n, bpe_merge m) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(&m, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = m;
}

static bpe_merge heap_pop(bpe_merge *h, size_t *n) {
    bpe_merge top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const bpe_merge *best = &last;
        if (l < *n && merge_less(&h[l], best)) { m = l; best = &h[l]; }
        if (r < *n && merge_less(&h[r], best)) { m = r; }
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

static int sym_add(tok_ctx *c, size_t *ns, int32_t id, size_t len) {
    if (*ns == c->sym_cap) {
        size_t cap = c->sym_cap ? c->sym_cap * 2 : 256;
        void *v = realloc(c->sym, cap * sizeof(bpe_sym));
        if (!v) return NOMEM(c);
        c->sym = v;
        c->sym_cap = cap;
    }
    bpe_sym *s = c->sym;
    int32_t k = (int32_t)*ns;
    if (k > 0) s[k - 1].next = k;
    s[k] = (bpe_sym){id, k - 1, -1, (uint32_t)len};
    (*ns)++;
    return 0;
}

static int bpe_unk(tok_ctx *c) {
    quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: the BPE unk_token is not in the vocabulary",
                    c->t->path);
    return -1;
}

static int bpe_encode(tok_ctx *c, const char *s, size_t n) {
    const quipu_tokenizer *t = c->t;
    const tok_bpe *m = &t->bpe;
    int32_t id;
    if (n == 0) return 0;
    if (m->ignore_merges && tok_smap_get(&t->vocab, s, n, &id)) return tok_ctx_push_id(c, id) ? NOMEM(c) : 0;

    size_t ns = 0;
    int32_t unk = -1;
    size_t unk_len = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = tok_utf8_next(s, n, i, &cp);
        int first = i == 0, last = i + k == n;
        const char *key = s + i;
        size_t key_n = k;
        if ((!first && m->prefix) || (last && m->suffix)) {
            tok_buf *b = &c->scratch;
            b->n = 0;
            if ((!first && m->prefix && tok_buf_add(b, m->prefix, m->prefix_n)) || tok_buf_add(b, s + i, k) ||
                (last && m->suffix && tok_buf_add(b, m->suffix, m->suffix_n)))
                return NOMEM(c);
            key = b->p;
            key_n = b->n;
        }
        if (tok_smap_get(&t->vocab, key, key_n, &id)) {
            if (unk >= 0) {
                if (sym_add(c, &ns, unk, unk_len)) return -1;
                unk = -1;
            }
            if (sym_add(c, &ns, id, k)) return -1;
            i += k;
            continue;
        }
        if (m->byte_fallback) {
            int ok = 1;
            for (size_t j = 0; j < key_n; j++)
                if (m->byte_ids[(unsigned char)key[j]] < 0) { ok = 0; break; }
            if (ok) {
                /* as upstream, a pending unk is not flushed here */
                for (size_t j = 0; j < key_n; j++)
                    if (sym_add(c, &ns, m->byte_ids[(unsigned char)key[j]], 1)) return -1;
                i += k;
                continue;
            }
        }
        if (m->unk_id >= 0 || m->unk_missing) {
            if (m->unk_missing) return bpe_unk(c);
            if (unk >= 0 && m->fuse_unk) {
                unk_len += k;
            } else {
                if (unk >= 0 && sym_add(c, &ns, unk, unk_len)) return -1;
                unk = m->unk_id;
                unk_len = k;
            }
        }
        i += k;
    }
    if (unk >= 0 && sym_add(c, &ns, unk, unk_len)) return -1;
    if (ns == 0) return 0;

    bpe_sym *sy = c->sym;
    if (c->heap_cap < 2 * ns + 8) {
        size_t cap = 2 * ns + 8;
        void *h = realloc(c->heap, cap * sizeof(bpe_merge));
        if (!h) return NOMEM(c);
        c->heap = h;
        c->heap_cap = cap;
    }
    bpe_merge *h = c->heap;
    size_t hn = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        int32_t rank, nid;
        if (tok_pmap_get(&m->merges, (uint32_t)sy[i].c, (uint32_t)sy[i + 1].c, &rank, &nid))
            heap_push(h, &hn, (bpe_merge){rank, (int32_t)i, nid});
    }
    while (hn) {
        bpe_merge top = heap_pop(h, &hn);
        bpe_sym *cur = &sy[top.pos];
        if (cur->len == 0 || cur->next == -1) continue;
        int32_t next_pos = cur->next;
        bpe_sym right = sy[next_pos];
        int32_t rank, nid;
        if (!tok_pmap_get(&m->merges, (uint32_t)cur->c, (uint32_t)right.c, &rank, &nid) || nid != top.new_id)
            continue;
        cur->c = top.new_id;
        cur->len += right.len;
        cur->next = right.next;
        sy[next_pos].len = 0;
        if (right.next > -1 && (size_t)right.next < ns) sy[right.next].prev = top.pos;
        /* each merge adds at most two entries and removes one symbol: 2*ns bounds the heap */
        if (hn + 2 > c->heap_cap) {
            size_t cap = c->heap_cap * 2;
            void *nh = realloc(c->heap, cap * sizeof(bpe_merge));
            if (!nh) return NOMEM(c);
            c->heap = nh;
            c->heap_cap = cap;
            h = nh;
        }
        if (cur->prev >= 0 &&
            tok_pmap_get(&m->merges, (uint32_t)sy[cur->prev].c, (uint32_t)cur->c, &rank, &nid))
            heap_push(h, &hn, (bpe_merge){rank, cur->prev, nid});
        if (cur->next >= 0 && (size_t)cur->next < ns &&
            tok_pmap_get(&m->merges, (uint32_t)cur->c, (uint32_t)sy[cur->next].c, &rank, &nid))
            heap_push(h, &hn, (bpe_merge){rank, top.pos, nid});
    }
    for (size_t i = 0; i < ns; i++)
        if (sy[i].len && tok_ctx_push_id(c, sy[i].c)) return NOMEM(c);
    return 0;
}

static int wordpiece_encode(tok_ctx *c, const char *s, size_t n) {
    const quipu_tokenizer *t = c->t;
    const tok_wordpiece *w = &t->wp;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    size_t mark = c->n_ids;
    if (chars <= w->max_chars) {
        size_t start = 0;
        int bad = 0;
        while (start < n) {
            size_t end = n;
            int32_t found = -1;
            while (start < end) {
                int32_t id;
                int ok;
                if (start > 0) {
                    tok_buf *b = &c->scratch;
                    b->n = 0;
                    if (tok_buf_add(b, w->prefix, w->prefix_n) || tok_buf_add(b, s + start, end - start))
                        return NOMEM(c);
                    ok = tok_smap_get(&t->vocab, b->p, b->n, &id);
                } else {
                    ok = tok_smap_get(&t->vocab, s + start, end - start, &id);
                }
                if (ok) { found = id; break; }
                size_t p = end - 1;
                while (p > start && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
                end = p;
            }
            if (found < 0) { bad = 1; break; }
            if (tok_ctx_push_id(c, found)) return NOMEM(c);
            start = end;
        }
        if (!bad) return 0;
    }
    c->n_ids = mark;
    if (w->unk_id < 0) {
        quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: WordPiece needs its unk_token, which is not in the vocabulary",
                        t->path);
        return -1;
    }
    return tok_ctx_push_id(c, w->unk_id) ? NOMEM(c) : 0;
}

static int wordlevel_encode(tok_ctx *c, const char *s, size_t n) {
    int32_t id;
    if (tok_smap_get(&c->t->vocab, s, n, &id)) return tok_ctx_push_id(c, id) ? NOMEM(c) : 0;
    if (c->t->wl_unk_id >= 0) return tok_ctx_push_id(c, c->t->wl_unk_id) ? NOMEM(c) : 0;
    quipu_error_set(c->err, QUIPU_ERR_FORMAT, "%s: WordLevel needs its unk_token, which is not in the vocabulary",
                    c->t->path);
    return -1;
}

int tok_model_encode(tok_ctx *c, const char *s, size_t n) {
    if (c->t->model == TOK_MODEL_WORDPIECE) return wordpiece_encode(c, s, n);
    if (c->t->model == TOK_MODEL_WORDLEVEL) return wordlevel_encode(c, s, n);
    if (c->t->model == TOK_MODEL_UNIGRAM) return tok_unigram_encode(c, s, n);
    return bpe_encode(c, s, n);
}
