/* tok_build.c — assembling a tokenizer: id texts, BPE merges, added tokens and their tries,
 * post-processor templates. Used by both loaders (tokenizer.json and GGUF). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

quipu_tokenizer *tok_new(const char *path) {
    quipu_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    const char *p = path ? path : "(tokenizer)";
    size_t n = strlen(p);
    t->path = malloc(n + 1);
    if (!t->path) { free(t); return NULL; }
    memcpy(t->path, p, n + 1);
    t->bos_id = t->eos_id = t->unk_id = t->pad_id = -1;
    t->bpe.unk_id = -1;
    for (int i = 0; i < 256; i++) t->bpe.byte_ids[i] = -1;
    t->wp.unk_id = -1;
    t->wp.max_chars = 100;
    t->wl_unk_id = -1;
    t->trie_raw.empty = t->trie_norm.empty = 1;
    return t;
}

int tok_set_id_text(quipu_tokenizer *t, int32_t id, const char *s, size_t n) {
    if (id < 0) return -1;
    if ((int64_t)id >= t->id_cap) {
        int64_t cap = t->id_cap ? t->id_cap : 1024;
        while (cap <= id) cap *= 2;
        uint64_t *v = realloc(t->id_off, (size_t)cap * sizeof *v);
        if (!v) return -1;
        for (int64_t i = t->id_cap; i < cap; i++) v[i] = UINT64_MAX;
        t->id_off = v;
        t->id_cap = cap;
    }
    if ((int64_t)id >= t->n_ids) t->n_ids = (int64_t)id + 1;
    uint64_t off = t->texts.n;
    if (tok_buf_add(&t->texts, s, n)) return -1;
    t->texts.n++; /* keep the NUL */
    t->id_off[id] = off;
    return 0;
}

int32_t tok_token_to_id(const quipu_tokenizer *t, const char *s, size_t n) {
    int32_t v;
    if (tok_smap_get(&t->added_map, s, n, &v)) return t->added[v].id;
    if (tok_smap_get(&t->vocab, s, n, &v)) return v;
    return -1;
}

/* ------------------------------------------------------------------ BPE */
quipu_status tok_bpe_add_merge(quipu_tokenizer *t, const char *a, size_t an, const char *b, size_t bn,
                               int32_t rank, quipu_error *err) {
    int32_t ia, ib, in;
    if (!tok_smap_get(&t->vocab, a, an, &ia))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: merges[%d] refers to '%.*s', which is not in the vocabulary",
                               t->path, rank, (int)an, a);
    if (!tok_smap_get(&t->vocab, b, bn, &ib))
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: merges[%d] refers to '%.*s', which is not in the vocabulary",
                               t->path, rank, (int)bn, b);
    size_t pn = t->bpe.prefix ? t->bpe.prefix_n : 0;
    if (bn < pn)
        return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: merges[%d]: '%.*s' is shorter than the continuing_subword_prefix",
                               t->path, rank, (int)bn, b);
    char stackbuf[256];
    char *m = an + bn - pn <= sizeof stackbuf ? stackbuf : malloc(an + bn - pn);
    if (!m) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    memcpy(m, a, an);
    memcpy(m + an, b + pn, bn - pn);
    int found = tok_smap_get(&t->vocab, m, an + bn - pn, &in);
    quipu_status st = QUIPU_OK;
    if (!found) {
        /* tokenizers >= 0.2x refuses such a file; the genuine GPT-2 tokenizer.json has one such
         * merge ("ĠCla ude", no "ĠClaude" in the vocab). It can never yield an id, so it is
         * skipped, which is what the ids of older Hugging Face releases show. */
        if (t->bpe.n_skipped_merges++ == 0)
            quipu_log(QUIPU_LOG_WARN, "%s: merges[%d] gives '%.*s', which is not in the vocabulary; merge ignored",
                      t->path, rank, (int)(an + bn - pn), m);
    } else if (tok_pmap_put(&t->bpe.merges, (uint32_t)ia, (uint32_t)ib, rank, in))
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    if (m != stackbuf) free(m);
    return st;
}

quipu_status tok_bpe_finish(quipu_tokenizer *t, quipu_error *err) {
    (void)err;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        int32_t id;
        if (tok_smap_get(&t->vocab, name, 6, &id)) t->bpe.byte_ids[b] = id;
    }
    return QUIPU_OK;
}

quipu_status tok_bytelevel_regex(quipu_tokenizer *t, quipu_error *err) {
    if (t->re_bytelevel) return QUIPU_OK;
    char why[200];
    t->re_bytelevel = tok_regex_compile(GPT2_REGEX, strlen(GPT2_REGEX), why, sizeof why);
    if (!t->re_bytelevel) return quipu_error_set(err, QUIPU_ERR_INTERNAL, "%s: ByteLevel regex: %s", t->path, why);
    return QUIPU_OK;
}

/* ------------------------------------------------------------------ added tokens */
quipu_status tok_add_token(quipu_tokenizer *t, const char *s, size_t n, int single_word, int lstrip,
                           int rstrip, int normalized, int special, quipu_error *err) {
    return tok_add_token_id(t, s, n, -1, single_word, lstrip, rstrip, normalized, special, err);
}

quipu_status tok_add_token_id(quipu_tokenizer *t, const char *s, size_t n, int32_t forced_id, int single_word,
                              int lstrip, int rstrip, int normalized, int special, quipu_error *err) {
    if (n == 0) return QUIPU_OK;
    int32_t idx;
    tok_added tk = {.single_word = (uint8_t)!!single_word, .lstrip = (uint8_t)!!lstrip,
                    .rstrip = (uint8_t)!!rstrip, .normalized = (uint8_t)!!normalized,
                    .special = (uint8_t)!!special};
    if (tok_smap_get(&t->added_map, s, n, &idx)) {
        /* same content again: new properties replace the old ones, the id stays */
        tok_added *a = &t->added[idx];
        a->single_word = tk.single_word;
        a->lstrip = tk.lstrip;
        a->rstrip = tk.rstrip;
        a->normalized = tk.normalized;
        a->special = tk.special;
        return QUIPU_OK;
    }
    int32_t id = forced_id;
    if (id < 0 && !tok_smap_get(&t->vocab, s, n, &id)) {
        /* next free id: after the largest added id if that is past the model's vocab */
        int64_t vsize = (int64_t)t->vocab.n, mx = -1;
        for (size_t i = 0; i < t->n_added; i++)
            if (t->added[i].id > mx) mx = t->added[i].id;
        id = (int32_t)((mx < 0) ? vsize : (mx >= vsize || vsize == 0) ? mx + 1 : vsize);
    }
    if (t->n_added == t->cap_added) {
        size_t cap = t->cap_added ? t->cap_added * 2 : 32;
        tok_added *v = realloc(t->added, cap * sizeof *v);
        if (!v) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
        t->added = v;
        t->cap_added = cap;
    }
    uint64_t off = t->texts.n;
    if (tok_buf_add(&t->texts, s, n)) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    t->texts.n++;
    tk.off = tk.noff = off;
    tk.len = tk.nlen = (uint32_t)n;
    tk.id = id;
    if (tok_smap_put(&t->added_map, s, n, (int32_t)t->n_added, 1) < 0)
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    t->added[t->n_added++] = tk;
    /* the text of an added id is its content (added tokens win over the model in id_to_token) */
    if (tok_set_id_text(t, id, s, n)) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    return QUIPU_OK;
}

static int trie_node(tok_trie *tr) {
    if (tr->n_nodes == tr->cap_nodes) {
        size_t cap = tr->cap_nodes ? tr->cap_nodes * 2 : 256;
        int32_t *v = realloc(tr->term, cap * sizeof *v);
        if (!v) return -1;
        tr->term = v;
        tr->cap_nodes = cap;
    }
    tr->term[tr->n_nodes] = -1;
    return (int)tr->n_nodes++;
}

static int trie_insert(tok_trie *tr, const char *s, size_t n, int32_t value) {
    if (n == 0) return 0;
    int32_t node = tr->root[(unsigned char)s[0]];
    if (node < 0) {
        node = trie_node(tr);
        if (node < 0) return -1;
        tr->root[(unsigned char)s[0]] = node;
    }
    for (size_t i = 1; i < n; i++) {
        int32_t child;
        if (!tok_pmap_get(&tr->edges, (uint32_t)node, (unsigned char)s[i], NULL, &child)) {
            child = trie_node(tr);
            if (child < 0 || tok_pmap_put(&tr->edges, (uint32_t)node, (unsigned char)s[i], 0, child)) return -1;
        }
        node = child;
    }
    if (tr->term[node] < 0) tr->term[node] = value; /* duplicate patterns: the first one stays */
    tr->empty = 0;
    return 0;
}

quipu_status tok_added_finish(quipu_tokenizer *t, quipu_error *err) {
    tok_trie *tries[2] = {&t->trie_raw, &t->trie_norm};
    for (int k = 0; k < 2; k++) {
        tok_pmap_free(&tries[k]->edges);
        free(tries[k]->term);
        memset(tries[k], 0, sizeof *tries[k]);
        for (int b = 0; b < 256; b++) tries[k]->root[b] = -1;
        tries[k]->empty = 1;
    }
    /* normalized forms of the normalized tokens */
    tok_ctx c = {.t = t, .err = err};
    quipu_status st = QUIPU_OK;
    for (size_t i = 0; i < t->n_added && st == QUIPU_OK; i++) {
        tok_added *a = &t->added[i];
        a->noff = a->off;
        a->nlen = a->len;
        if (!a->normalized || !t->n_norms) continue;
        if (!c.md) c.md = pcre2_match_data_create(1, NULL);
        tok_buf out = {0};
        if (!c.md || tok_normalize(&c, t->norms, t->n_norms, t->texts.p + a->off, a->len, &out, NULL)) {
            tok_buf_free(&out);
            st = err && err->code ? err->code : quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
            break;
        }
        uint64_t off = t->texts.n;
        if (tok_buf_add(&t->texts, out.p ? out.p : "", out.n)) {
            tok_buf_free(&out);
            st = quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
            break;
        }
        t->texts.n++;
        a->noff = off;
        a->nlen = (uint32_t)out.n;
        tok_buf_free(&out);
    }
    if (c.md) pcre2_match_data_free(c.md);
    tok_buf_free(&c.scratch);
    tok_buf_free(&c.scratch2);
    free(c.spans.v);
    if (st != QUIPU_OK) return st;
    for (size_t i = 0; i < t->n_added; i++) {
        tok_added *a = &t->added[i];
        int r = a->normalized ? trie_insert(&t->trie_norm, t->texts.p + a->noff, a->nlen, (int32_t)i)
                              : trie_insert(&t->trie_raw, t->texts.p + a->off, a->len, (int32_t)i);
        if (r) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", t->path);
    }
    return QUIPU_OK;
}

/* ------------------------------------------------------------------ post-processors */
tok_post *tok_post_push(quipu_tokenizer *t) {
    tok_post *v = realloc(t->posts, (t->n_posts + 1) * sizeof *v);
    if (!v) return NULL;
    t->posts = v;
    memset(&v[t->n_posts], 0, sizeof *v);
    return &v[t->n_posts++];
}

int tok_post_item(tok_post *p, int is_seq, const int32_t *ids, size_t n) {
    tok_tmpl_item *v = realloc(p->items, (p->n_items + 1) * sizeof *v);
    if (!v) return -1;
    p->items = v;
    tok_tmpl_item *it = &v[p->n_items];
    memset(it, 0, sizeof *it);
    it->is_seq = is_seq;
    if (n) {
        it->ids = malloc(n * sizeof *it->ids);
        if (!it->ids) return -1;
        memcpy(it->ids, ids, n * sizeof *ids);
        it->n_ids = n;
    }
    p->n_items++;
    return 0;
}
