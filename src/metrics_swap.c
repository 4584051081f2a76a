/* metrics_swap.c — name-swap consistency (docs/metrics.md "Name-swap consistency"): how often a
 * decision changes when only a name changes, among names that stand for the same group. Items
 * carry the keys of the swap sets they belong to (item.h `swap`, written by `quipu expand` for
 * fillers with a `group`); within a set every item is the same sentence or question but for that
 * one name. A pair's decision is which sentence scores higher (or a tie); a multiple-choice
 * item's is the role of the predicted answer (target group, other group, unknown), so that the
 * answer "El Nahuel" and the answer "El Millaray" count as the same decision. Per benchmark ×
 * language × culture × slot: the sets, the comparisons (item pairs within a set), the flips (pairs
 * whose decisions differ), flip_rate = flips / comparisons, the sets where every item agrees, and
 * a percentile bootstrap interval of flip_rate over sets (seeded per row). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_internal.h"
#include "stats.h"

typedef struct swap_ent {
    const char *bench, *lang, *cult; /* the item's */
    const char *key;                 /* one of its keys (into a copy owned by the caller) */
    size_t key_len;
    int decision;
} swap_ent;

static int cmp_str(const char *a, const char *b) { return strcmp(mx_str(a), mx_str(b)); }

/* the slot part of a key: up to its first '/' */
static size_t slot_len(const swap_ent *e) {
    const char *s = memchr(e->key, '/', e->key_len);
    return s ? (size_t)(s - e->key) : e->key_len;
}

static int cmp_row(const swap_ent *x, const swap_ent *y) {
    int c;
    if ((c = cmp_str(x->bench, y->bench)) || (c = cmp_str(x->lang, y->lang)) || (c = cmp_str(x->cult, y->cult))) return c;
    size_t a = slot_len(x), b = slot_len(y);
    if ((c = memcmp(x->key, y->key, a < b ? a : b))) return c;
    return a < b ? -1 : a > b;
}

static int cmp_ent(const void *pa, const void *pb) {
    const swap_ent *x = pa, *y = pb;
    int c = cmp_row(x, y);
    if (c) return c;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    if ((c = memcmp(x->key, y->key, n))) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x->decision - y->decision;
}

static double nscore(const quipu_item_record *r, int i, quipu_score_norm norm) {
    if (norm == QUIPU_NORM_TOKEN) return r->logprob[i] / (double)r->n_tokens[i];
    if (norm == QUIPU_NORM_BYTE) return r->logprob[i] / (double)r->n_bytes[i];
    return r->logprob[i];
}

/* the item's decision, or INT32_MIN when it has none (a non-finite score, or a kind without one) */
int quipu_swap_decision(const quipu_item *it, const quipu_item_record *r, quipu_score_norm norm) {
    for (int c = 0; c < r->n_choices; c++)
        if (!isfinite(r->logprob[c]) || (norm == QUIPU_NORM_TOKEN && r->n_tokens[c] <= 0) || (norm == QUIPU_NORM_BYTE && r->n_bytes[c] <= 0))
            return INT32_MIN;
    if (it->kind == QUIPU_ITEM_PAIR) {
        if (r->n_choices != 2) return INT32_MIN;
        double a = nscore(r, 0, norm), b = nscore(r, 1, norm);
        return a > b ? 1 : a == b ? 0 : -1;
    }
    if (it->kind != QUIPU_ITEM_MC) return INT32_MIN;
    int p = quipu_metrics_predict(r, norm);
    if (p < 0) return INT32_MIN;
    if (p == it->target_choice) return 100;
    if (p == it->other_choice) return 101;
    if (p == it->unknown_choice) return 102;
    return p; /* a choice with no role: its index */
}

/* comparisons and flips of one set whose decisions are sorted: pairs with different decisions */
static void set_counts(const swap_ent *e, size_t n, int64_t *cmp, int64_t *flips) {
    int64_t same = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && e[j].decision == e[i].decision) j++;
        int64_t k = (int64_t)(j - i);
        same += k * (k - 1) / 2;
        i = j;
    }
    *cmp = (int64_t)n * ((int64_t)n - 1) / 2;
    *flips = *cmp - same;
}

void quipu_swap_rows_free(quipu_swap_row *rows, size_t n) {
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].benchmark);
        free(rows[i].language);
        free(rows[i].culture);
        free(rows[i].slot);
    }
    free(rows);
}

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

quipu_status quipu_name_swap(const quipu_item *items, size_t n_items, const quipu_item_record *recs, size_t n_recs,
                             const quipu_metrics_options *mo, quipu_swap_row **out, size_t *n_out, quipu_error *err) {
    *out = NULL;
    *n_out = 0;
    size_t n_ent = 0;
    for (size_t r = 0; r < n_recs; r++) {
        if (recs[r].item_index < 0 || (size_t)recs[r].item_index >= n_items) continue;
        const char *s = items[recs[r].item_index].swap;
        for (; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : s + strlen(s)) n_ent++;
    }
    if (!n_ent) return QUIPU_OK;
    swap_ent *e = malloc(n_ent * sizeof *e);
    if (!e) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory (name-swap sets)");
    size_t k = 0;
    for (size_t r = 0; r < n_recs; r++) {
        if (recs[r].item_index < 0 || (size_t)recs[r].item_index >= n_items) continue;
        const quipu_item *it = &items[recs[r].item_index];
        int d = it->swap ? quipu_swap_decision(it, &recs[r], mo->norm) : INT32_MIN;
        for (const char *s = it->swap; s && *s;) {
            const char *nl = strchr(s, '\n');
            size_t len = nl ? (size_t)(nl - s) : strlen(s);
            if (d != INT32_MIN) e[k++] = (swap_ent){it->benchmark, it->language, it->culture, s, len, d};
            s = nl ? nl + 1 : s + len;
        }
    }
    n_ent = k;
    qsort(e, n_ent, sizeof *e, cmp_ent);
    /* rows: runs of equal (benchmark, language, culture, slot); sets: runs of equal keys */
    size_t n_rows = 0;
    for (size_t i = 0; i < n_ent; i++) n_rows += i == 0 || cmp_row(&e[i - 1], &e[i]) != 0;
    quipu_swap_row *rows = calloc(n_rows ? n_rows : 1, sizeof *rows);
    int64_t *set_cmp = malloc((n_ent ? n_ent : 1) * sizeof *set_cmp), *set_flip = malloc((n_ent ? n_ent : 1) * sizeof *set_flip);
    double *rep = mo->n_boot > 0 ? malloc((size_t)mo->n_boot * sizeof *rep) : NULL;
    quipu_status st = rows && set_cmp && set_flip && (rep || mo->n_boot <= 0) ? QUIPU_OK
                                                                              : quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory (name-swap sets)");
    size_t nr = 0;
    for (size_t i = 0; i < n_ent && !st;) {
        size_t j = i;
        while (j < n_ent && cmp_row(&e[i], &e[j]) == 0) j++;
        /* the sets of row [i, j) */
        size_t ns = 0;
        int64_t items_in = 0;
        for (size_t a = i; a < j;) {
            size_t b = a;
            while (b < j && e[b].key_len == e[a].key_len && !memcmp(e[b].key, e[a].key, e[a].key_len)) b++;
            if (b - a >= 2) { /* a set of one name compares nothing */
                set_counts(e + a, b - a, &set_cmp[ns], &set_flip[ns]);
                ns++;
                items_in += (int64_t)(b - a);
            }
            a = b;
        }
        quipu_swap_row *x = &rows[nr++];
        x->benchmark = dupn(mx_str(e[i].bench), strlen(mx_str(e[i].bench)));
        x->language = dupn(mx_str(e[i].lang), strlen(mx_str(e[i].lang)));
        x->culture = dupn(mx_str(e[i].cult), strlen(mx_str(e[i].cult)));
        x->slot = dupn(e[i].key, slot_len(&e[i]));
        if (!x->benchmark || !x->language || !x->culture || !x->slot) {
            st = quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory (name-swap sets)");
            break;
        }
        x->n_sets = (int64_t)ns;
        x->n_items = items_in;
        for (size_t s = 0; s < ns; s++) {
            x->n_comparisons += set_cmp[s];
            x->n_flips += set_flip[s];
            x->n_consistent += set_flip[s] == 0;
        }
        x->flip_rate = x->n_comparisons ? (double)x->n_flips / (double)x->n_comparisons : NAN;
        x->ci_low = x->ci_high = NAN;
        if (rep && ns >= 2) {
            /* resample the sets; each row its own stream from the seed and the row's tags */
            uint64_t h = quipu_hash64_str(QUIPU_HASH64_INIT, "name_swap");
            h = quipu_hash64_str(quipu_hash64_sep(h), x->benchmark);
            h = quipu_hash64_str(quipu_hash64_sep(h), x->language);
            h = quipu_hash64_str(quipu_hash64_sep(h), x->culture);
            h = quipu_hash64_str(quipu_hash64_sep(h), x->slot);
            quipu_rng rng;
            quipu_rng_seed(&rng, quipu_seed_mix(mo->seed, h));
            for (int bi = 0; bi < mo->n_boot; bi++) {
                int64_t c = 0, f = 0;
                for (size_t s = 0; s < ns; s++) {
                    size_t pick = (size_t)quipu_rng_below(&rng, ns);
                    c += set_cmp[pick];
                    f += set_flip[pick];
                }
                rep[bi] = c ? (double)f / (double)c : NAN;
            }
            mx_interval(rep, (size_t)mo->n_boot, mo->ci_level, &x->ci_low, &x->ci_high);
        }
        i = j;
    }
    free(e);
    free(set_cmp);
    free(set_flip);
    free(rep);
    if (st) {
        quipu_swap_rows_free(rows, nr);
        return st;
    }
    *out = rows;
    *n_out = nr;
    return QUIPU_OK;
}

json_t *quipu_swap_row_to_json(const char *model, const quipu_swap_row *x) {
    json_t *o = json_object();
    if (!o) return NULL;
    if (model) json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "benchmark", json_string(x->benchmark));
    json_object_set_new(o, "language", json_string(x->language));
    json_object_set_new(o, "culture", json_string(x->culture));
    json_object_set_new(o, "slot", json_string(x->slot));
    json_object_set_new(o, "sets", json_integer((json_int_t)x->n_sets));
    json_object_set_new(o, "items", json_integer((json_int_t)x->n_items));
    json_object_set_new(o, "comparisons", json_integer((json_int_t)x->n_comparisons));
    json_object_set_new(o, "flips", json_integer((json_int_t)x->n_flips));
    json_object_set_new(o, "consistent_sets", json_integer((json_int_t)x->n_consistent));
    json_object_set_new(o, "flip_rate", isfinite(x->flip_rate) ? json_real(x->flip_rate) : json_null());
    json_object_set_new(o, "ci_low", isfinite(x->ci_low) ? json_real(x->ci_low) : json_null());
    json_object_set_new(o, "ci_high", isfinite(x->ci_high) ? json_real(x->ci_high) : json_null());
    return o;
}
