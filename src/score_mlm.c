/* score_mlm.c — pseudo-log-likelihood (PLL) scoring on a masked LM (BERT, RoBERTa, XLM-R,
 * CamemBERT); quipu_score_groups sends a masked LM's groups here, so `quipu run`, the journal and
 * the metrics see the same records as for a causal LM.
 *
 * - A pair (CrowS-Pairs and its kin: is_pair, empty context, two sentences): the CrowS-Pairs
 *   paper's metric (Nangia et al. 2020; nyu-mll/crows-pairs metric.py, get_span + mask_unigram).
 *   Each sentence is encoded with the tokenizer's special tokens; the two id sequences are
 *   aligned by difflib.SequenceMatcher(None, a, b) (reproduced below, autojunk included); the
 *   indices of its 'equal' spans form the template, whose first and last entries (CLS and SEP)
 *   are skipped; every other shared position is masked on its own and log_softmax(logits)[id]
 *   at that position is added. n_tokens = the positions masked.
 * - Anything else (multiple choice, `quipu score`): the all-tokens PLL of Salazar et al. (2020)
 *   over the continuation's tokens: context + continuation encoded whole (split at the
 *   context's own token count, as the causal scorer does), the template's special tokens around
 *   it, each continuation token masked in turn with everything else visible.
 *
 * Every masked copy of a sentence is one segment of a packed batch (bidirectional attention
 * inside the segment only) with one scored row, the masked position; batches are filled in
 * order up to batch_tokens, so a copy's numbers never depend on its neighbours. Only the masked
 * rows reach the log-prob op: no full-vocabulary logits for any other token. */
#include "score.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ difflib */

/* b's index as difflib's b2j: b's positions sorted by (id, position); the distinct ids with the
 * range of their positions. With autojunk and len(b) >= 200, an id occurring more than
 * len(b) // 100 + 1 times is "popular": dropped from the index (it still joins a match when the
 * match is extended over it). */
typedef struct b_index {
    int64_t *pos;        /* [nb] positions, grouped by id, ascending within an id */
    int32_t *ids;        /* [n_ids] distinct ids, ascending */
    int64_t *lo, *hi;    /* [n_ids] their ranges in pos; empty for a popular id */
    int64_t n_ids;
} b_index;

typedef struct pos_key {
    int32_t id;
    int64_t pos;
} pos_key;

static int pos_key_cmp(const void *x, const void *y) {
    const pos_key *p = x, *q = y;
    if (p->id != q->id) return p->id < q->id ? -1 : 1;
    return p->pos < q->pos ? -1 : p->pos > q->pos;
}

static int match_cmp(const void *x, const void *y) {
    const quipu_match_block *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->b != q->b) return p->b < q->b ? -1 : 1;
    return p->size < q->size ? -1 : p->size > q->size;
}

/* the positions of id in b (b2j.get(id, [])) */
static void b_lookup(const b_index *x, int32_t id, const int64_t **p, int64_t *n) {
    int64_t lo = 0, hi = x->n_ids;
    *p = NULL;
    *n = 0;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (x->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    if (lo < x->n_ids && x->ids[lo] == id) {
        *p = x->pos + x->lo[lo];
        *n = x->hi[lo] - x->lo[lo];
    }
}

/* find_longest_match's state: j2len of the previous and current row, each entry valid when its
 * stamp is that row's (a fresh dict per row and per call, as difflib's) */
typedef struct lm_state {
    const int32_t *a, *b;
    const b_index *bx;
    int64_t *len0, *len1, *st0, *st1;
    int64_t gen;
} lm_state;

static quipu_match_block find_longest(lm_state *s, int64_t alo, int64_t ahi, int64_t blo, int64_t bhi) {
    int64_t besti = alo, bestj = blo, bestsize = 0;
    int64_t *plen = s->len0, *pst = s->st0, *clen = s->len1, *cst = s->st1;
    int64_t prev = ++s->gen; /* no entry carries this stamp: the first row sees an empty j2len */
    for (int64_t i = alo; i < ahi; i++) {
        int64_t row = ++s->gen;
        const int64_t *js;
        int64_t nj;
        b_lookup(s->bx, s->a[i], &js, &nj);
        for (int64_t q = 0; q < nj; q++) {
            int64_t j = js[q];
            if (j < blo) continue;
            if (j >= bhi) break;
            int64_t k = (j > 0 && pst[j - 1] == prev ? plen[j - 1] : 0) + 1;
            clen[j] = k;
            cst[j] = row;
            if (k > bestsize) {
                besti = i - k + 1;
                bestj = j - k + 1;
                bestsize = k;
            }
        }
        prev = row;
        int64_t *t = plen; plen = clen; clen = t;
        t = pst; pst = cst; cst = t;
    }
    /* extend over equal elements on both sides (no junk: isjunk is None; popular ids join here) */
    while (besti > alo && bestj > blo && s->a[besti - 1] == s->b[bestj - 1]) {
        besti--;
        bestj--;
        bestsize++;
    }
    while (besti + bestsize < ahi && bestj + bestsize < bhi && s->a[besti + bestsize] == s->b[bestj + bestsize]) bestsize++;
    return (quipu_match_block){besti, bestj, bestsize};
}

quipu_status quipu_align_blocks(const int32_t *a, size_t na, const int32_t *b, size_t nb, quipu_match_block **out, size_t *n_out,
                                quipu_error *err) {
    *out = NULL;
    *n_out = 0;
    size_t nb1 = nb ? nb : 1;
    b_index bx = {0};
    pos_key *keys = quipu_malloc_array(nb1, sizeof *keys);
    lm_state s = {.a = a, .b = b, .bx = &bx};
    /* at most min(na, nb) blocks; the work queue holds at most one entry per block + 1 */
    size_t cap = (na < nb ? na : nb) + 2;
    quipu_match_block *blocks = quipu_malloc_array(cap, sizeof *blocks);
    int64_t(*queue)[4] = quipu_malloc_array(cap, sizeof *queue);
    bx.pos = quipu_malloc_array(nb1, sizeof *bx.pos);
    bx.ids = quipu_malloc_array(nb1, sizeof *bx.ids);
    bx.lo = quipu_malloc_array(nb1, sizeof *bx.lo);
    bx.hi = quipu_malloc_array(nb1, sizeof *bx.hi);
    s.len0 = quipu_malloc_array(nb1, sizeof(int64_t));
    s.len1 = quipu_malloc_array(nb1, sizeof(int64_t));
    s.st0 = quipu_calloc_array(nb1, sizeof(int64_t));
    s.st1 = quipu_calloc_array(nb1, sizeof(int64_t));
    quipu_status st = QUIPU_OK;
    if (!keys || !blocks || !queue || !bx.pos || !bx.ids || !bx.lo || !bx.hi || !s.len0 || !s.len1 || !s.st0 || !s.st1) {
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory aligning two sentences");
        goto done;
    }
    for (size_t j = 0; j < nb; j++) keys[j] = (pos_key){b[j], (int64_t)j};
    qsort(keys, nb, sizeof *keys, pos_key_cmp);
    int64_t ntest = (int64_t)(nb / 100) + 1;
    for (size_t j = 0; j < nb; j++) {
        bx.pos[j] = keys[j].pos;
        if (j == 0 || keys[j].id != keys[j - 1].id) {
            bx.ids[bx.n_ids] = keys[j].id;
            bx.lo[bx.n_ids] = (int64_t)j;
            bx.n_ids++;
        }
        bx.hi[bx.n_ids - 1] = (int64_t)j + 1;
    }
    if (nb >= 200) /* autojunk */
        for (int64_t u = 0; u < bx.n_ids; u++)
            if (bx.hi[u] - bx.lo[u] > ntest) bx.hi[u] = bx.lo[u];
    size_t nq = 0, n = 0;
    queue[nq][0] = 0, queue[nq][1] = (int64_t)na, queue[nq][2] = 0, queue[nq][3] = (int64_t)nb, nq++;
    while (nq > 0) {
        nq--;
        int64_t alo = queue[nq][0], ahi = queue[nq][1], blo = queue[nq][2], bhi = queue[nq][3];
        quipu_match_block x = find_longest(&s, alo, ahi, blo, bhi);
        if (x.size == 0) continue;
        blocks[n++] = x;
        if (alo < x.a && blo < x.b) queue[nq][0] = alo, queue[nq][1] = x.a, queue[nq][2] = blo, queue[nq][3] = x.b, nq++;
        if (x.a + x.size < ahi && x.b + x.size < bhi)
            queue[nq][0] = x.a + x.size, queue[nq][1] = ahi, queue[nq][2] = x.b + x.size, queue[nq][3] = bhi, nq++;
    }
    qsort(blocks, n, sizeof *blocks, match_cmp);
    /* adjacent blocks collapsed, then the (len(a), len(b), 0) sentinel, as get_matching_blocks */
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        if (w > 0 && blocks[w - 1].a + blocks[w - 1].size == blocks[r].a && blocks[w - 1].b + blocks[w - 1].size == blocks[r].b)
            blocks[w - 1].size += blocks[r].size;
        else
            blocks[w++] = blocks[r];
    }
    blocks[w++] = (quipu_match_block){(int64_t)na, (int64_t)nb, 0};
    *out = blocks;
    *n_out = w;
    blocks = NULL;
done:
    free(keys);
    free(blocks);
    free(queue);
    free(bx.pos);
    free(bx.ids);
    free(bx.lo);
    free(bx.hi);
    free(s.len0);
    free(s.len1);
    free(s.st0);
    free(s.st1);
    return st;
}

/* ------------------------------------------------------------------ sentences */

/* One sentence to score: its ids with the special tokens, the positions masked in turn. */
typedef struct mlm_sent {
    int32_t *seq;
    int64_t len;
    int64_t *pos;
    int64_t n_pos;
    size_t result;
} mlm_sent;

static void mlm_sent_free(mlm_sent *s) {
    free(s->seq);
    free(s->pos);
}

/* seq = template(wids); *off = where wids sits in it */
static quipu_status wrap(const quipu_model *m, const int32_t *wids, size_t nw, mlm_sent *s, int64_t *off, quipu_error *err) {
    int32_t *seq = NULL;
    size_t n = 0, o = 0;
    if (quipu_tokenizer_add_special(m->tok, wids, nw, &seq, &n, &o, err)) return err->code;
    if (o + nw > n || (nw && memcmp(seq + o, wids, nw * sizeof *wids))) {
        free(seq);
        return quipu_error_set(err, QUIPU_ERR_INTERNAL, "%s: the tokenizer's template does not keep the sentence whole", m->path);
    }
    s->seq = seq;
    s->len = (int64_t)n;
    *off = (int64_t)o;
    return QUIPU_OK;
}

/* Salazar et al.'s PLL of the continuation: its tokens, with the context and the template's
 * special tokens around them, masked in turn */
static quipu_status encode_pll(const quipu_model *m, const char *ctx, size_t cl, const char *cont, size_t kl, mlm_sent *s, quipu_error *err) {
    int32_t *cids = NULL, *wids = NULL;
    size_t nc = 0, nw = 0, cr = cl;
    quipu_status st = QUIPU_OK;
    char *whole = malloc(cl + kl + 1);
    if (!whole) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    memcpy(whole, ctx, cl);
    memcpy(whole + cl, cont, kl);
    /* the context without its trailing whitespace, as the causal scorer splits */
    while (cr > 0 && (ctx[cr - 1] == ' ' || ctx[cr - 1] == '\t' || ctx[cr - 1] == '\n' || ctx[cr - 1] == '\r' || ctx[cr - 1] == '\v' ||
                      ctx[cr - 1] == '\f'))
        cr--;
    if (cr > 0) st = quipu_tokenizer_encode(m->tok, ctx, cr, 0, &cids, &nc, err);
    if (!st) st = quipu_tokenizer_encode(m->tok, whole, cl + kl, 0, &wids, &nw, err);
    free(whole);
    int64_t off = 0;
    if (!st) st = wrap(m, wids, nw, s, &off, err);
    size_t split = nc < nw ? nc : nw;
    if (!st && !(s->pos = quipu_malloc_array(nw - split + 1, sizeof *s->pos))) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    for (size_t k = split; !st && k < nw; k++) s->pos[s->n_pos++] = off + (int64_t)k;
    free(cids);
    free(wids);
    return st;
}

/* The CrowS-Pairs metric's shared tokens of two sentences: s1's and s2's positions masked */
static quipu_status encode_crows(const quipu_model *m, const char *t1, size_t l1, const char *t2, size_t l2, mlm_sent *s1, mlm_sent *s2,
                                 quipu_error *err) {
    int32_t *w1 = NULL, *w2 = NULL;
    size_t n1 = 0, n2 = 0, nblk = 0;
    int64_t off;
    quipu_match_block *blk = NULL;
    quipu_status st = quipu_tokenizer_encode(m->tok, t1, l1, 0, &w1, &n1, err);
    if (!st) st = quipu_tokenizer_encode(m->tok, t2, l2, 0, &w2, &n2, err);
    if (!st) st = wrap(m, w1, n1, s1, &off, err);
    if (!st) st = wrap(m, w2, n2, s2, &off, err);
    if (!st) st = quipu_align_blocks(s1->seq, (size_t)s1->len, s2->seq, (size_t)s2->len, &blk, &nblk, err);
    int64_t shared = 0;
    for (size_t k = 0; !st && k < nblk; k++) shared += blk[k].size;
    if (!st && (!(s1->pos = quipu_malloc_array((size_t)shared + 1, sizeof *s1->pos)) ||
                !(s2->pos = quipu_malloc_array((size_t)shared + 1, sizeof *s2->pos))))
        st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    /* the template: the 'equal' spans' indices in order; metric.py skips its first and last
     * (for i in range(1, N - 1)), the CLS and SEP both sentences share */
    int64_t idx = 0;
    for (size_t k = 0; !st && k < nblk; k++)
        for (int64_t x = 0; x < blk[k].size; x++, idx++)
            if (idx >= 1 && idx < shared - 1) {
                s1->pos[s1->n_pos++] = blk[k].a + x;
                s2->pos[s2->n_pos++] = blk[k].b + x;
            }
    free(blk);
    free(w1);
    free(w2);
    return st;
}

/* ------------------------------------------------------------------ scoring */

typedef struct mlm_batch {
    int32_t *tokens, *pos, *seg_lo, *pre, *rows, *targets;
    int64_t *sent_of_row, *k_of_row;
    double *lp;
    uint8_t *gr;
} mlm_batch;

static void mlm_batch_free(mlm_batch *b) {
    free(b->tokens); free(b->pos); free(b->seg_lo); free(b->pre); free(b->rows); free(b->targets);
    free(b->sent_of_row); free(b->k_of_row); free(b->lp); free(b->gr);
}

/* Ends the oldest batch in flight, packed in b with R rows, and puts its log-probs in the results. */
static quipu_status mlm_end(quipu_model *m, const mlm_batch *b, int64_t R, const mlm_sent *ss, quipu_score_result *res, int *in_flight,
                            quipu_error *err) {
    *in_flight = 0;
    quipu_status st = quipu_model_forward_end(m, err);
    for (int64_t q = 0; q < R && !st; q++) {
        quipu_score_result *rs = &res[ss[b->sent_of_row[q]].result];
        rs->token_logprobs[b->k_of_row[q]] = b->lp[q];
        if (!b->gr[q]) rs->is_greedy = 0;
    }
    return st;
}

quipu_status quipu_score_mlm_groups(quipu_model *m, const quipu_scorer_opts *opts, const quipu_score_group *groups, size_t n,
                                    quipu_score_result *res, quipu_error *err) {
    int64_t budget = opts && opts->batch_tokens > 0 ? opts->batch_tokens : 2048;
    int64_t maxlen = opts && opts->max_length > 0 && opts->max_length < m->cfg.n_ctx ? opts->max_length : m->cfg.n_ctx;
    size_t n_res = 0;
    for (size_t i = 0; i < n; i++) n_res += (size_t)(groups[i].n_cont > 0 ? groups[i].n_cont : 0);
    memset(res, 0, n_res * sizeof *res);
    mlm_sent *ss = quipu_calloc_array(n_res ? n_res : 1, sizeof *ss);
    mlm_batch bbs[2] = {{0}}; /* one packed while the other's batch runs */
    int64_t rows_of[2] = {0};
    int in_flight[2] = {0}, overlap = quipu_score_overlap();
    quipu_status st = QUIPU_OK;
    int64_t processed = 0;
    if (!ss) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    /* encode: one sentence per result */
    size_t r = 0;
    for (size_t i = 0; i < n && !st; i++) {
        const quipu_score_group *g = &groups[i];
        if (g->is_pair && g->n_cont == 2 && g->context_len == 0) {
            st = encode_crows(m, g->continuations[0], g->continuation_lens[0], g->continuations[1], g->continuation_lens[1], &ss[r], &ss[r + 1], err);
            ss[r].result = r;
            ss[r + 1].result = r + 1;
            r += 2;
            continue;
        }
        for (int c = 0; c < g->n_cont && !st; c++, r++) {
            st = encode_pll(m, g->context, g->context_len, g->continuations[c], g->continuation_lens[c], &ss[r], err);
            ss[r].result = r;
        }
    }
    int64_t longest = 1, total = 0, copies = 0;
    for (size_t k = 0; k < n_res && !st; k++) {
        mlm_sent *s = &ss[k];
        if (s->len > maxlen)
            st = quipu_error_set(err, QUIPU_ERR_INVALID, "%s: a sentence of %lld tokens (special tokens included) is longer than the %lld "
                                 "positions a masked LM is scored over (max_length, or the model's max_position_embeddings); a masked "
                                 "LM's input is never truncated", m->path, (long long)s->len, (long long)maxlen);
        if (s->len > longest) longest = s->len;
        total += s->len * s->n_pos;
        copies += s->n_pos;
        /* the result: n_tokens masked; tokens = the unmasked ids in order, then the masked ones */
        quipu_score_result *rs = &res[s->result];
        rs->n_tokens = (int32_t)s->n_pos;
        rs->n_context = (int32_t)(s->len - s->n_pos);
        rs->is_greedy = 1;
        rs->token_logprobs = quipu_calloc_array((size_t)(s->n_pos > 0 ? s->n_pos : 1), sizeof(double));
        rs->tokens = quipu_malloc_array((size_t)(s->len > 0 ? s->len : 1), sizeof(int32_t));
        if (!st && (!rs->token_logprobs || !rs->tokens)) st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        if (st) break;
        int64_t w = 0, q = 0;
        for (int64_t t = 0; t < s->len; t++) {
            if (q < s->n_pos && s->pos[q] == t) q++;
            else rs->tokens[w++] = s->seq[t];
        }
        for (q = 0; q < s->n_pos; q++) rs->tokens[w++] = s->seq[s->pos[q]];
    }
    if (st) goto done;
    {
        int64_t want = total < budget ? total : budget;
        if (want < longest) want = longest;
        /* the most rows (masked copies) a batch will hold, by the packing below: the log-prob
         * workspace grows with the rows, not the tokens */
        int64_t max_rows = 1, bt_T = 0, bt_R = 0;
        for (size_t k = 0; k < n_res; k++)
            for (int64_t q = 0; q < ss[k].n_pos; q++) {
                if (bt_R > 0 && bt_T + ss[k].len > want) bt_T = bt_R = 0;
                bt_T += ss[k].len;
                if (++bt_R > max_rows) max_rows = bt_R;
            }
        if ((st = quipu_model_reserve(m, want, max_rows, err))) goto done;
        size_t tc = (size_t)want, rc = (size_t)max_rows + 1;
        for (int i = 0; i < 2; i++) {
            mlm_batch *b = &bbs[i];
            b->tokens = quipu_malloc_array(tc, sizeof(int32_t));
            b->pos = quipu_malloc_array(tc, sizeof(int32_t));
            b->seg_lo = quipu_malloc_array(tc, sizeof(int32_t));
            b->pre = quipu_malloc_array(tc, sizeof(int32_t));
            b->rows = quipu_malloc_array(rc, sizeof(int32_t));
            b->targets = quipu_malloc_array(rc, sizeof(int32_t));
            b->sent_of_row = quipu_malloc_array(rc, sizeof(int64_t));
            b->k_of_row = quipu_malloc_array(rc, sizeof(int64_t));
            b->lp = quipu_malloc_array(rc, sizeof(double));
            b->gr = quipu_malloc_array(rc, 1);
            if (!b->tokens || !b->pos || !b->seg_lo || !b->pre || !b->rows || !b->targets || !b->sent_of_row || !b->k_of_row || !b->lp || !b->gr) {
                st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory building a batch of %lld tokens", (long long)want);
                goto done;
            }
        }
        /* the masked copies in order, (sentence, position): each its own segment, one scored row.
         * Batch N+1 is packed into the other buffer while batch N runs (begin / pack / end). */
        size_t si = 0;
        int64_t ki = 0;
        for (int cur = 0;; cur = 1 - cur) {
            mlm_batch bb = bbs[cur];
            int64_t T = 0, R = 0;
            while (si < n_res) {
                const mlm_sent *s = &ss[si];
                if (ki >= s->n_pos) {
                    si++;
                    ki = 0;
                    continue;
                }
                if (R > 0 && T + s->len > want) break;
                int64_t lo = T;
                for (int64_t t = 0; t < s->len; t++, T++) {
                    bb.tokens[T] = t == s->pos[ki] ? m->mask_id : s->seq[t];
                    bb.pos[T] = (int32_t)t;
                    bb.seg_lo[T] = (int32_t)lo;
                    bb.pre[T] = (int32_t)lo;
                }
                bb.rows[R] = (int32_t)(lo + s->pos[ki]);
                bb.targets[R] = s->seq[s->pos[ki]];
                bb.sent_of_row[R] = (int64_t)si;
                bb.k_of_row[R] = ki;
                R++;
                ki++;
            }
            if (R > 0) {
                quipu_batch bt = {.n_tokens = T, .tokens = bb.tokens, .pos = bb.pos, .seg_lo = bb.seg_lo, .pre_lo = bb.pre, .pre_hi = bb.pre,
                                  .n_rows = R, .rows = bb.rows, .targets = bb.targets};
                if ((st = quipu_model_forward_begin(m, &bt, bb.lp, bb.gr, err))) goto done;
                in_flight[cur] = 1;
                rows_of[cur] = R;
                processed += T;
            }
            /* the batch before this one ended while this one runs (without overlap, this one too) */
            if (in_flight[1 - cur] && (st = mlm_end(m, &bbs[1 - cur], rows_of[1 - cur], ss, res, &in_flight[1 - cur], err))) goto done;
            if (!overlap && in_flight[cur] && (st = mlm_end(m, &bbs[cur], rows_of[cur], ss, res, &in_flight[cur], err))) goto done;
            if (R == 0) break; /* nothing left to pack, and the last batch ended */
        }
    }
    for (size_t k = 0; k < n_res; k++) {
        double sum = 0.0; /* in position order, whatever the batch */
        for (int32_t j = 0; j < res[k].n_tokens; j++) sum += res[k].token_logprobs[j];
        res[k].logprob = sum;
    }
    if (opts && opts->tokens_processed) *opts->tokens_processed += processed;
done:
    for (size_t k = 0; k < n_res; k++) mlm_sent_free(&ss[k]);
    free(ss);
    if (in_flight[0] || in_flight[1]) quipu_model_forward_cancel(m); /* before their buffers go */
    mlm_batch_free(&bbs[0]);
    mlm_batch_free(&bbs[1]);
    if (st)
        for (size_t k = 0; k < n_res; k++) quipu_score_result_free(&res[k]);
    return st;
}
