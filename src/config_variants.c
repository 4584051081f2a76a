/* config_variants.c — a benchmark entry's `prompt_variants` (docs/config.md): the same
 * multiple-choice items scored under several prompts, each variant a template id of its own, so
 * that every metric is also given per variant with its spread across them (docs/metrics.md "Per
 * template", "Spread across templates"):
 *
 *   prompt_variants:
 *     - {id: paper}                                          # the entry's own prompt
 *     - {id: lm-eval, template: lm-eval}                     # lm-evaluation-harness's task
 *     - {id: qa, prompt: "{context}\nQuestion: {question}\nAnswer:", delimiter: " "}
 *
 * A variant's keys replace the entry's `template`, `prompt` and `delimiter`; what it leaves out is
 * the entry's. Every problem is reported at its node, as the rest of the config. */
#define _POSIX_C_SOURCE 200809L
#include "config_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_variant_keys[] = {"id", "template", "prompt", "delimiter", NULL};

void cfg_prompt_variants_free(quipu_config_benchmark *b) {
    for (int i = 0; i < b->n_variants; i++) {
        free(b->variants[i].id);
        free(b->variants[i].prompt);
        free(b->variants[i].delimiter);
    }
    free(b->variants);
    b->variants = NULL;
    b->n_variants = 0;
}

void cfg_read_prompt_variants(vctx *c, const cnode *m, quipu_config_benchmark *b) {
    loader *L = c->L;
    const cnode *list = cfg_map_get(m, "prompt_variants", NULL);
    char kp[700];
    cfg_kp_join(kp, sizeof kp, c->kp, "prompt_variants");
    if (!list) return;
    if (list->kind != CN_SEQ || list->n < 2) {
        if (list->kind == CN_SEQ) cfg_err_key(L, list, kp, "lists %d variant%s; give at least 2 (one prompt needs no variants)", list->n, list->n == 1 ? "" : "s");
        else cfg_type_err(L, list, kp, "a list of variants ({id, template, prompt, delimiter})");
        return;
    }
    if (b->format == QUIPU_CFG_FORMAT_PAIRS || b->format == QUIPU_CFG_FORMAT_TEXT) {
        cfg_err_key(L, list, kp, "a %s benchmark scores sentences without a prompt; prompt variants apply to multiple choice",
                    quipu_cfg_format_name(b->format));
        return;
    }
    if (list->n > 64) {
        cfg_err_key(L, list, kp, "%d variants; at most 64", list->n);
        return;
    }
    if (!(b->variants = calloc((size_t)list->n, sizeof *b->variants))) {
        L->oom = 1;
        return;
    }
    for (int k = 0; k < list->n; k++) {
        const cnode *t = list->kid[k];
        vctx tc = {.L = L};
        snprintf(tc.kp, sizeof tc.kp, "%.480s.%d", kp, k);
        if (t->kind != CN_MAP) {
            cfg_type_err(L, t, tc.kp, "a mapping {id, template, prompt, delimiter}");
            continue;
        }
        cfg_unknown_keys(L, t, tc.kp, k_variant_keys);
        quipu_prompt_variant v = {.template_mode = b->template_mode};
        const cnode *idn = NULL, *pn = NULL, *tn = NULL;
        char ikp[720];
        int hi = cfg_get_str(&tc, t, "id", 1, &v.id, &idn), e = 0;
        if (hi == 0) cfg_missing(L, t, tc.kp, "id", " (the variant's name in item ids and in the per-template rows)");
        if (hi > 0 && !cfg_valid_name(v.id)) {
            snprintf(ikp, sizeof ikp, "%s.id", tc.kp);
            cfg_err_key(L, idn, ikp, "'%s' may only contain letters, digits, '.', '_' and '-' (it is part of item ids)", v.id);
        }
        for (int j = 0; hi > 0 && j < b->n_variants; j++)
            if (!strcmp(b->variants[j].id, v.id)) {
                snprintf(ikp, sizeof ikp, "%s.id", tc.kp);
                cfg_err_key(L, idn, ikp, "variant '%s' is given twice", v.id);
            }
        if (cfg_get_enum(&tc, t, "template", cfg_template_names, &e) > 0) {
            v.template_mode = (quipu_cfg_template)e;
            tn = cfg_map_get(t, "template", NULL);
            snprintf(ikp, sizeof ikp, "%s.template", tc.kp);
            if (v.template_mode == QUIPU_CFG_TEMPLATE_LM_EVAL && !cfg_has_lm_eval_task(b)) cfg_err_lm_eval(L, tn, ikp, b->name);
        }
        if (cfg_get_str(&tc, t, "prompt", 0, &v.prompt, &pn) > 0) {
            snprintf(ikp, sizeof ikp, "%s.prompt", tc.kp);
            cfg_check_prompt(L, pn, ikp, v.prompt);
        }
        cfg_get_str(&tc, t, "delimiter", 0, &v.delimiter, NULL);
        b->variants[b->n_variants++] = v;
    }
}

json_t *cfg_prompt_variants_json(const quipu_config_benchmark *b) {
    if (!b->n_variants) return NULL;
    json_t *a = json_array();
    for (int i = 0; a && i < b->n_variants; i++) {
        const quipu_prompt_variant *v = &b->variants[i];
        json_t *j = json_object();
        json_object_set_new(j, "id", json_string(v->id ? v->id : ""));
        json_object_set_new(j, "template", json_string(quipu_cfg_template_name(v->template_mode)));
        json_object_set_new(j, "prompt", v->prompt ? json_string(v->prompt) : json_null());
        json_object_set_new(j, "delimiter", v->delimiter ? json_string(v->delimiter) : json_null());
        json_array_append_new(a, j);
    }
    return a;
}
