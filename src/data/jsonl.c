/* jsonl.c — the generic JSON-lines formats (DESIGN.md "Benchmarks"; docs/benchmarks.md), so a
 * researcher adds a benchmark without writing C. One object per line; blank lines are ignored;
 * keys not listed here are ignored (free for the researcher's own metadata).
 *   pairs: id, more, less, language, culture          [category, direction, template, swap]
 *   mc:    id, context, question, choices, label, language, culture
 *          [category, context_condition, question_polarity, stereotyped_choice, unknown_choice,
 *           target_choice, other_choice, roles, group, template, swap]
 *   text:  id, text, language, culture                [category, template]
 *          (one neutral sentence: its log-likelihood, docs/metrics.md "Neutral likelihood")
 * `template` (what `quipu expand` writes) breaks the metrics down by template; `swap` lists the
 * item's name-swap sets (docs/metrics.md "Name-swap consistency").
 * id is a string or an integer, unique in the file. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

/* ---- field helpers ---- */

typedef struct jl_state {
    quipu_item_kind kind;
    quipu_strmap ids; /* id -> its line */
} jl_state;

/* Optional index field: absent or null -> *v = -1; an integer in [0, n) -> *v; else error text. */
static const char *opt_index(json_t *o, const char *key, int n, int *v) {
    json_t *x = json_object_get(o, key);
    *v = -1;
    if (!x || json_is_null(x)) return NULL;
    if (!json_is_integer(x)) return "is not an integer";
    json_int_t k = json_integer_value(x);
    if (k == -1) return NULL;
    if (k < 0 || k >= n) return "is out of range";
    *v = (int)k;
    return NULL;
}

#define STR_FIELD(var, key, required, nonempty)                                                        \
    const char *var = NULL;                                                                            \
    do {                                                                                               \
        json_t *x_ = json_object_get(o, key);                                                          \
        if (!x_ || json_is_null(x_)) {                                                                 \
            if (required) return ld_bad_row(c, file, line, "missing field '%s'", key);                 \
        } else if (!json_is_string(x_)) {                                                              \
            return ld_bad_row(c, file, line, "field '%s' is not a string", key);                       \
        } else {                                                                                       \
            var = json_string_value(x_);                                                               \
            if ((nonempty) && !*var) return ld_bad_row(c, file, line, "field '%s' is empty", key);     \
        }                                                                                              \
    } while (0)

static quipu_status jl_row(ld_ctx *c, const char *file, const char *stem, long line, long row, json_t *o,
                           void *user) {
    jl_state *js = user;
    (void)stem;
    (void)row;
    char idbuf[512];
    json_t *jid = json_object_get(o, "id");
    if (!jid || json_is_null(jid)) return ld_bad_row(c, file, line, "missing field 'id'");
    if (json_is_string(jid)) {
        if (!*json_string_value(jid)) return ld_bad_row(c, file, line, "field 'id' is empty");
        snprintf(idbuf, sizeof idbuf, "%s", json_string_value(jid));
    } else if (json_is_integer(jid)) {
        snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(jid));
    } else {
        return ld_bad_row(c, file, line, "field 'id' is not a string or an integer");
    }
    STR_FIELD(language, "language", 1, 1);
    STR_FIELD(culture, "culture", 1, 1);
    STR_FIELD(category, "category", 0, 1);
    STR_FIELD(template_id, "template", 0, 1);
    if (!quipu_bcp47_ok(language)) return ld_bad_row(c, file, line, "language '%s' is not a BCP-47 tag (e.g. es-CL)", language);

    int direction = 0, label = -1, n_choices = 0;
    const char *more = NULL, *less = NULL, *context = NULL, *question = NULL, *group = NULL, *roles = NULL, *text = NULL;
    const char *choice[QUIPU_MAX_CHOICES];
    quipu_condition cond = QUIPU_COND_NONE;
    quipu_polarity pol = QUIPU_POL_NONE;
    int biased = -1, unknown = -1, target = -1, other = -1;
    if (js->kind == QUIPU_ITEM_TEXT) {
        /* the sentence: a non-empty string, its problems pointed at FILE:LINE:COL */
        json_t *x = json_object_get(o, "text");
        long col = ld_row_column(c, "text");
        if (!x || json_is_null(x)) return ld_bad_row_at(c, file, line, col, "missing field 'text' (the sentence to score)");
        if (!json_is_string(x)) return ld_bad_row_at(c, file, line, col, "field 'text' is not a string");
        text = json_string_value(x);
        if (!*text) return ld_bad_row_at(c, file, line, col, "field 'text' is empty");
    } else if (js->kind == QUIPU_ITEM_PAIR) {
        STR_FIELD(m, "more", 1, 1);
        STR_FIELD(l, "less", 1, 1);
        more = m;
        less = l;
        json_t *d = json_object_get(o, "direction");
        if (d && !json_is_null(d)) {
            if (json_is_string(d) && strcmp(json_string_value(d), "stereo") == 0) direction = 1;
            else if (json_is_string(d) && strcmp(json_string_value(d), "antistereo") == 0) direction = -1;
            else if (json_is_integer(d) && json_integer_value(d) >= -1 && json_integer_value(d) <= 1)
                direction = (int)json_integer_value(d);
            else return ld_bad_row(c, file, line, "field 'direction' must be \"stereo\", \"antistereo\", 1, -1 or 0");
        }
    } else {
        STR_FIELD(ctx, "context", 1, 0);
        STR_FIELD(q, "question", 1, 0);
        STR_FIELD(g, "group", 0, 0);
        STR_FIELD(r, "roles", 0, 0);
        STR_FIELD(cc, "context_condition", 0, 0);
        STR_FIELD(qp, "question_polarity", 0, 0);
        context = ctx;
        question = q;
        group = g;
        roles = r;
        json_t *chs = json_object_get(o, "choices");
        if (!chs || json_is_null(chs)) return ld_bad_row(c, file, line, "missing field 'choices'");
        if (!json_is_array(chs)) return ld_bad_row(c, file, line, "field 'choices' is not a list");
        size_t nc = json_array_size(chs);
        if (nc < 2 || nc > QUIPU_MAX_CHOICES)
            return ld_bad_row(c, file, line, "field 'choices' has %zu entries, expected 2 to %d", nc, QUIPU_MAX_CHOICES);
        for (size_t i = 0; i < nc; i++) {
            json_t *x = json_array_get(chs, i);
            if (!json_is_string(x)) return ld_bad_row(c, file, line, "choice %zu is not a string", i);
            if (!*json_string_value(x)) return ld_bad_row(c, file, line, "choice %zu is empty", i);
            choice[i] = json_string_value(x);
        }
        n_choices = (int)nc;
        json_t *jl = json_object_get(o, "label");
        if (!jl) return ld_bad_row(c, file, line, "missing field 'label'");
        if (!json_is_null(jl)) {
            if (!json_is_integer(jl)) return ld_bad_row(c, file, line, "bad label: not an integer");
            json_int_t k = json_integer_value(jl);
            if (k < -1 || k >= n_choices)
                return ld_bad_row(c, file, line, "bad label %lld: expected 0 to %d (or -1 / null for none)", (long long)k,
                                  n_choices - 1);
            label = (int)k;
        }
        if (cc) {
            if (strcmp(cc, "ambig") == 0) cond = QUIPU_COND_AMBIG;
            else if (strcmp(cc, "disambig") == 0) cond = QUIPU_COND_DISAMBIG;
            else return ld_bad_row(c, file, line, "context_condition is '%s', expected ambig or disambig", cc);
        }
        if (qp) {
            if (strcmp(qp, "neg") == 0) pol = QUIPU_POL_NEG;
            else if (strcmp(qp, "nonneg") == 0) pol = QUIPU_POL_NONNEG;
            else return ld_bad_row(c, file, line, "question_polarity is '%s', expected neg or nonneg", qp);
        }
        static const char *const idx_keys[] = {"stereotyped_choice", "unknown_choice", "target_choice", "other_choice"};
        int *idx_out[] = {&biased, &unknown, &target, &other};
        for (int k = 0; k < 4; k++) {
            const char *bad = opt_index(o, idx_keys[k], n_choices, idx_out[k]);
            if (bad) return ld_bad_row(c, file, line, "field '%s' %s", idx_keys[k], bad);
        }
        if (biased < 0 && target >= 0 && other >= 0 && pol != QUIPU_POL_NONE)
            biased = pol == QUIPU_POL_NEG ? target : other;
        if (roles) {
            if ((int)strlen(roles) != n_choices)
                return ld_bad_row(c, file, line, "field 'roles' has %zu letters for %d choices", strlen(roles), n_choices);
            for (const char *p = roles; *p; p++)
                if (*p != 's' && *p != 'a' && *p != 'u')
                    return ld_bad_row(c, file, line, "field 'roles' may hold only s, a, u");
        }
    }
    char *swap = NULL;
    int sw = ld_swap_keys(json_object_get(o, "swap"), &swap);
    if (sw == -2) return ld_bad_row(c, file, line, "field 'swap' must be a list of 1 to 256 non-empty strings (name-swap set keys)");
    if (sw == -1) return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
    long prev = 0;
    int added = quipu_strmap_add(&js->ids, idbuf, line, &prev);
    if (added <= 0) free(swap);
    if (added < 0) return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
    if (added == 0) return ld_bad_row(c, file, line, "id '%s' repeats line %ld", idbuf, prev);

    quipu_item *it = ld_push(c);
    if (!it) {
        free(swap);
        return QUIPU_ERR_NOMEM;
    }
    int oom = 0;
    char full[1024];
    snprintf(full, sizeof full, "%s:%s", c->bench, idbuf);
    if (ld_item_tags(c, it, NULL, 0, file, line, language, culture, category ? category : "")) oom = 1;
    free(it->id);
    it->id = ld_strdup(full, &oom);
    it->kind = js->kind;
    it->template_id = ld_strdup(template_id, &oom);
    it->swap = swap;
    if (js->kind == QUIPU_ITEM_TEXT) {
        it->n_choices = 1;
        it->choices[0] = ld_strdup(text, &oom);
    } else if (js->kind == QUIPU_ITEM_PAIR) {
        it->more = ld_strdup(more, &oom);
        it->less = ld_strdup(less, &oom);
        it->direction = direction;
    } else {
        it->context = ld_strdup(context, &oom);
        it->question = ld_strdup(question, &oom);
        it->n_choices = n_choices;
        for (int i = 0; i < n_choices; i++) it->choices[i] = ld_strdup(choice[i], &oom);
        it->group = ld_strdup(group, &oom);
        it->label = label;
        it->condition = cond;
        it->polarity = pol;
        it->unknown_choice = unknown;
        it->target_choice = target;
        it->other_choice = other;
        it->biased_choice = biased;
        it->biased_mask = biased >= 0 ? 1u << biased : 0;
        if (roles) memcpy(it->roles, roles, (size_t)n_choices);
    }
    if (oom) {
        ld_discard(c);
        return quipu_error_set(c->err, QUIPU_ERR_NOMEM, "%s:%ld: out of memory", file, line);
    }
    ld_commit(c);
    return QUIPU_OK;
}

quipu_status ld_jsonl(ld_ctx *c, const char *path, quipu_item_kind kind) {
    jl_state js;
    memset(&js, 0, sizeof js);
    js.kind = kind;
    quipu_status st = ld_read_jsonl(c, path, NULL, jl_row, &js);
    quipu_strmap_free(&js.ids);
    return st;
}
