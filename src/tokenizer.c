/* tokenizer.c — text -> token ids, equal to Hugging Face's token for token.
 * Loading is in src/tok/tok_json.c (tokenizer.json) and src/tok/tok_gguf.c (GGUF metadata, built
 * the way transformers builds a tokenizer from a GGUF); the stages are in src/tok/.
 * Encoding follows tokenizers' TokenizerImpl::encode_single_sequence:
 *   1. added tokens with normalized=false are cut out of the raw text,
 *   2. every other segment is normalized, then normalized added tokens are cut out of it,
 *   3. the pre-tokenizers split the segments into pieces,
 *   4. the model (BPE / WordPiece / WordLevel / Unigram) turns each piece into ids,
 *   5. with add_special, the post-processor(s) add BOS/EOS/CLS/SEP.
 * Input bytes that are not UTF-8 are first decoded the way Python's
 * bytes.decode("utf-8", errors="replace") does (each maximal ill-formed subpart -> U+FFFD), since
 * Hugging Face's tokenizers only ever see a Python str. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"
#include "tokenizer.h"

static void tok_free_norms(tok_norm *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        tok_pattern_free(&v[i].pat);
        free(v[i].content);
        tok_charsmap_free(v[i].cmap);
    }
    free(v);
}

void quipu_tokenizer_free(quipu_tokenizer *t) {
    if (!t) return;
    free(t->path);
    tok_smap_free(&t->vocab);
    free(t->id_off);
    tok_buf_free(&t->texts);
    tok_free_norms(t->norms, t->n_norms);
    for (size_t i = 0; i < t->n_pretoks; i++) tok_pattern_free(&t->pretoks[i].pat);
    free(t->pretoks);
    if (t->re_bytelevel) pcre2_code_free(t->re_bytelevel);
    tok_pmap_free(&t->bpe.merges);
    free(t->bpe.prefix);
    free(t->bpe.suffix);
    free(t->wp.prefix);
    tok_unigram_free(&t->uni);
    free(t->added);
    tok_smap_free(&t->added_map);
    tok_trie *tries[2] = {&t->trie_raw, &t->trie_norm};
    for (int k = 0; k < 2; k++) {
        tok_pmap_free(&tries[k]->edges);
        free(tries[k]->term);
    }
    for (size_t i = 0; i < t->n_posts; i++) {
        for (size_t j = 0; j < t->posts[i].n_items; j++) free(t->posts[i].items[j].ids);
        free(t->posts[i].items);
    }
    free(t->posts);
    free(t);
}

quipu_status quipu_tokenizer_from_json(quipu_tokenizer **out, const char *path, quipu_error *err) {
    *out = NULL;
    quipu_tokenizer *t = tok_new(path);
    if (!t) return quipu_error_set(err, QUIPU_ERR_NOMEM, "%s: out of memory", path);
    quipu_status st = tok_load_json(t, path, err);
    if (st != QUIPU_OK) {
        quipu_tokenizer_free(t);
        return st;
    }
    *out = t;
    return QUIPU_OK;
}

quipu_status quipu_tokenizer_from_gguf(quipu_tokenizer **out, const quipu_gguf *g, quipu_error *err) {
    *out = NULL;
    quipu_tokenizer *t = tok_new(g && g->path ? g->path : "(gguf)");
    if (!t) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    quipu_status st = tok_load_gguf(t, g, err);
    if (st != QUIPU_OK) {
        quipu_tokenizer_free(t);
        return st;
    }
    *out = t;
    return QUIPU_OK;
}

const char *quipu_tokenizer_token_text(const quipu_tokenizer *t, int32_t id) {
    if (!t || id < 0 || (int64_t)id >= t->n_ids || t->id_off[id] == UINT64_MAX) return NULL;
    return t->texts.p + t->id_off[id];
}

int32_t quipu_tokenizer_token_id(const quipu_tokenizer *t, const char *text, size_t len) {
    if (!t || (!text && len)) return -1;
    return tok_token_to_id(t, text ? text : "", len);
}

void quipu_tokenizer_get_info(const quipu_tokenizer *t, quipu_tokenizer_info *info) {
    memset(info, 0, sizeof *info);
    info->kind = t->kind;
    info->model_name = t->model_name;
    info->pre_name = t->pre_name;
    info->n_vocab = t->n_ids;
    info->bos_id = t->bos_id;
    info->eos_id = t->eos_id;
    info->unk_id = t->unk_id;
    info->pad_id = t->pad_id;
    info->add_bos = t->add_bos;
    info->add_eos = t->add_eos;
}

static void ctx_free(tok_ctx *c) {
    tok_buf_free(&c->buf);
    free(c->a.v);
    free(c->b.v);
    free(c->spans.v);
    if (c->md) pcre2_match_data_free(c->md);
    free(c->ids);
    free(c->sym);
    free(c->heap);
    free(c->lat);
    tok_buf_free(&c->scratch);
    tok_buf_free(&c->scratch2);
}

#define NOMEM_ST(c) quipu_error_set((c)->err, QUIPU_ERR_NOMEM, "%s: out of memory while tokenizing", (c)->t->path)

static quipu_status encode_pieces(tok_ctx *c) {
    const quipu_tokenizer *t = c->t;
    /* 1. non-normalized added tokens, on the raw text */
    if (!t->trie_raw.empty) {
        c->b.n = 0;
        for (size_t i = 0; i < c->a.n; i++)
            if (tok_added_split(c, &t->trie_raw, &c->a.v[i], &c->b)) return c->err->code;
        tok_pieces x = c->a;
        c->a = c->b;
        c->b = x;
    }
    /* 2. normalize the other segments, then cut out the normalized added tokens */
    c->b.n = 0;
    for (size_t i = 0; i < c->a.n; i++) {
        tok_piece pc = c->a.v[i];
        if (pc.id >= 0) {
            if (tok_pieces_add(&c->b, pc.off, pc.len, pc.id, 0)) return NOMEM_ST(c);
            continue;
        }
        if (t->n_norms) {
            size_t lead = 0, off = c->buf.n;
            if (tok_normalize(c, t->norms, t->n_norms, c->buf.p + pc.off, pc.len, &c->buf, &lead))
                return c->err->code;
            pc = (tok_piece){off, c->buf.n - off, -1, pc.orig0 && lead == 0};
        }
        if (pc.len == 0) continue;
        if (tok_added_split(c, &t->trie_norm, &pc, &c->b)) return c->err->code;
    }
    tok_pieces x = c->a;
    c->a = c->b;
    c->b = x;
    /* 3. pre-tokenizers */
    if (tok_pretokenize(c)) return c->err->code;
    /* 4. model */
    for (size_t i = 0; i < c->a.n; i++) {
        const tok_piece *pc = &c->a.v[i];
        if (pc->id >= 0) {
            if (tok_ctx_push_id(c, pc->id)) return NOMEM_ST(c);
        } else if (tok_model_encode(c, c->buf.p + pc->off, pc->len)) {
            return c->err->code;
        }
    }
    return QUIPU_OK;
}

/* Number of ids the post-processors add to a sequence. */
static size_t post_added(const quipu_tokenizer *t) {
    size_t k = 0;
    for (size_t i = 0; i < t->n_posts; i++)
        for (size_t j = 0; j < t->posts[i].n_items; j++) k += t->posts[i].items[j].n_ids;
    return k;
}

static quipu_status post_process(tok_ctx *c) {
    const quipu_tokenizer *t = c->t;
    for (size_t p = 0; p < t->n_posts; p++) {
        const tok_post *pp = &t->posts[p];
        size_t total = 0;
        for (size_t j = 0; j < pp->n_items; j++) total += pp->items[j].is_seq ? c->n_ids : pp->items[j].n_ids;
        int32_t *v = malloc((total ? total : 1) * sizeof *v);
        if (!v) return NOMEM_ST(c);
        size_t w = 0;
        for (size_t j = 0; j < pp->n_items; j++) {
            const tok_tmpl_item *it = &pp->items[j];
            if (it->is_seq) {
                if (c->n_ids) memcpy(v + w, c->ids, c->n_ids * sizeof *v);
                w += c->n_ids;
            } else {
                memcpy(v + w, it->ids, it->n_ids * sizeof *v);
                w += it->n_ids;
            }
        }
        free(c->ids);
        c->ids = v;
        c->n_ids = w;
        c->cap_ids = total ? total : 1;
    }
    return QUIPU_OK;
}

quipu_status quipu_tokenizer_encode(const quipu_tokenizer *t, const char *text, size_t len,
                                    int add_special, int32_t **ids, size_t *n_ids, quipu_error *err) {
    *ids = NULL;
    *n_ids = 0;
    if (!t || (!text && len)) return quipu_error_set(err, QUIPU_ERR_INVALID, "tokenizer: NULL argument");
    tok_ctx c = {.t = t, .err = err};
    quipu_error local = {0};
    if (!c.err) c.err = &local;
    quipu_status st = QUIPU_OK;
    c.md = pcre2_match_data_create(1, NULL);
    if (!c.md) { st = NOMEM_ST(&c); goto done; }
    if (tok_utf8_valid(text, len) ? tok_buf_add(&c.buf, text, len) : tok_utf8_lossy(text, len, &c.buf)) {
        st = NOMEM_ST(&c);
        goto done;
    }
    if (c.buf.n && tok_pieces_add(&c.a, 0, c.buf.n, -1, 1)) { st = NOMEM_ST(&c); goto done; }
    st = encode_pieces(&c);
    if (st != QUIPU_OK) goto done;
    if (t->trunc_max) {
        size_t room = t->trunc_max, extra = add_special ? post_added(t) : 0;
        room = room > extra ? room - extra : 0;
        if (c.n_ids > room) {
            if (t->trunc_left) memmove(c.ids, c.ids + (c.n_ids - room), room * sizeof *c.ids);
            c.n_ids = room;
        }
    }
    if (add_special && (st = post_process(&c)) != QUIPU_OK) goto done;
    if (!c.ids) {
        c.ids = malloc(sizeof *c.ids);
        if (!c.ids) { st = NOMEM_ST(&c); goto done; }
    }
    *ids = c.ids;
    *n_ids = c.n_ids;
    c.ids = NULL;
done:
    ctx_free(&c);
    return st;
}

quipu_status quipu_tokenizer_add_special(const quipu_tokenizer *t, const int32_t *ids, size_t n, int32_t **out, size_t *n_out, size_t *seq_off,
                                         quipu_error *err) {
    *out = NULL;
    *n_out = 0;
    if (seq_off) {
        /* the special ids each template puts before the sequence, templates applied in order */
        size_t off = 0;
        for (size_t p = 0; t && p < t->n_posts; p++)
            for (size_t j = 0; j < t->posts[p].n_items && !t->posts[p].items[j].is_seq; j++) off += t->posts[p].items[j].n_ids;
        *seq_off = off;
    }
    if (!t || (!ids && n)) return quipu_error_set(err, QUIPU_ERR_INVALID, "tokenizer: NULL argument");
    tok_ctx c = {.t = t, .err = err};
    quipu_error local = {0};
    if (!c.err) c.err = &local;
    quipu_status st = QUIPU_OK;
    if (!(c.ids = malloc((n ? n : 1) * sizeof *c.ids))) {
        st = NOMEM_ST(&c);
        goto done;
    }
    if (n) memcpy(c.ids, ids, n * sizeof *c.ids);
    c.n_ids = n;
    c.cap_ids = n ? n : 1;
    if ((st = post_process(&c)) != QUIPU_OK) goto done;
    *out = c.ids;
    *n_out = c.n_ids;
    c.ids = NULL;
done:
    ctx_free(&c);
    return st;
}

void quipu_tokenizer_set_default_specials(quipu_tokenizer *t, int32_t bos_id, int32_t eos_id) {
    if (!t) return;
    if (t->bos_id < 0 && bos_id >= 0 && (int64_t)bos_id < t->n_ids) t->bos_id = bos_id;
    if (t->eos_id < 0 && eos_id >= 0 && (int64_t)eos_id < t->n_ids) t->eos_id = eos_id;
}
